"""The "strict" device: NumPy behind a wrapper that behaves like CuPy at the host boundary.

CI has no GPU, yet code that only works on NumPy must still fail there. CuPy arrays refuse
to become NumPy arrays implicitly (``np.asarray(gpu_array)`` raises TypeError) and CuPy
functions reject NumPy arrays as arguments. A StrictArray does the same, and goes one step
further: calling any ``np.*`` function or ufunc on it raises, so a stray ``np.exp(x)`` or
``np.add.at(x, ...)`` inside an op is caught, where with CuPy it would either fail on a GPU
only or silently copy to the host.

Only the backend-agnostic path works on strict data:
    xp = xp_of(array)        # returns `xp` below, a NumPy look-alike
    xp.exp(array), array + 1, array.reshape(...), array[idx], xp.asarray(host_data)
Reductions return 0-d arrays, never NumPy scalars, as CuPy's do.
"""
from __future__ import annotations

import types

import numpy as np

_HOST_INPUT_OK = {"asarray", "array", "asanyarray"}   # CuPy copies host data in these
_HOST_ONLY_ATTRIBUTES = {"ctypes"}                     # NumPy's raw host pointer


def _refuse(what: str):
    raise TypeError(
        f"{what} on 'strict' device data: this is NumPy-only code that would fail on a GPU. "
        "Get the array module from the data (xp = minigrad.backend.xp_of(array)) and call xp.*; "
        "move data to the host only with Tensor.numpy() or backend.to_numpy().")


class StrictArray:
    """A NumPy array that refuses to mix with NumPy, the way a CuPy array does."""
    __slots__ = ("_a",)

    def __init__(self, array: np.ndarray):
        self._a = array

    # --- the host boundary: all refused, as CuPy refuses them
    def __array__(self, dtype=None, copy=None):
        _refuse("implicit conversion to a NumPy array (__array__)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """np.exp(strict) is refused; np.float32(2) * strict (an operator with a NumPy scalar,
        which CuPy accepts) is computed."""
        scalar_operator = (method == "__call__" and ufunc.nin == 2 and not kwargs and any(
            isinstance(i, (np.generic, int, float, bool)) for i in inputs))
        if not scalar_operator:
            _refuse(f"numpy.{ufunc.__name__}{'' if method == '__call__' else '.' + method}()")
        return wrap(ufunc(*[unwrap(i) for i in inputs]))

    def __array_function__(self, func, types_, args, kwargs):
        _refuse(f"numpy.{func.__name__}()")

    def get(self):
        """Explicit host copy (CuPy's .get())."""
        return self._a.copy()

    # --- plain attributes
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: StrictArray(self._a.T))

    @property
    def base(self):
        return None if self._a.base is None else StrictArray(self._a.base)

    def __getattr__(self, name):            # methods: reshape, sum, astype, copy, ...
        if name.startswith("__"):           # no __array_interface__ & co: no back door to NumPy
            raise AttributeError(name)
        if name in _HOST_ONLY_ATTRIBUTES:   # a host pointer: CuPy arrays have no such attribute
            raise AttributeError(
                f"'strict' device arrays have no .{name}: it exposes host memory, which a GPU array "
                "(CuPy) does not have; move the data to the host first (Tensor.numpy() or "
                "backend.to_numpy())")
        attr = getattr(self._a, name)
        if callable(attr):
            return _wrap_function(attr, f"ndarray.{name}")
        return wrap(attr)

    # --- indexing
    def __getitem__(self, index):
        return wrap(self._a[_unwrap_index(index)])

    def __setitem__(self, index, value):
        self._a[_unwrap_index(index)] = _unwrap_arg(value, "__setitem__")

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (wrap(row) for row in self._a)

    # --- Python scalars out (CuPy allows these: they synchronise and copy one number)
    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __index__(self):
        return self._a.__index__()

    def __repr__(self):
        return "strict." + repr(self._a)

    __hash__ = None


def _binary(ufunc):
    def op(self, other):
        return wrap(ufunc(self._a, _unwrap_arg(other, ufunc.__name__)))
    return op


def _reflected(ufunc):
    def op(self, other):
        return wrap(ufunc(_unwrap_arg(other, ufunc.__name__), self._a))
    return op


def _inplace(ufunc):
    def op(self, other):
        ufunc(self._a, _unwrap_arg(other, ufunc.__name__), out=self._a)
        return self
    return op


for _name, _ufunc in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                      ("truediv", np.true_divide), ("floordiv", np.floor_divide),
                      ("mod", np.remainder), ("pow", np.power), ("matmul", np.matmul),
                      ("and", np.bitwise_and),
                      ("or", np.bitwise_or), ("xor", np.bitwise_xor)]:
    setattr(StrictArray, f"__{_name}__", _binary(_ufunc))
    setattr(StrictArray, f"__r{_name}__", _reflected(_ufunc))
    setattr(StrictArray, f"__i{_name}__", _inplace(_ufunc))
for _name, _ufunc in [("lt", np.less), ("le", np.less_equal), ("gt", np.greater),
                      ("ge", np.greater_equal), ("eq", np.equal), ("ne", np.not_equal)]:
    setattr(StrictArray, f"__{_name}__", _binary(_ufunc))
StrictArray.__neg__ = lambda self: StrictArray(-self._a)
StrictArray.__pos__ = lambda self: StrictArray(+self._a)
StrictArray.__abs__ = lambda self: StrictArray(abs(self._a))
StrictArray.__invert__ = lambda self: StrictArray(~self._a)


# ----------------------------------------------------------------------------- wrapping

def wrap(value):
    """NumPy arrays and scalars -> StrictArray (0-d for scalars); containers recursively."""
    if isinstance(value, np.ndarray):
        return StrictArray(value)
    if isinstance(value, np.generic):
        return StrictArray(np.asarray(value))
    if isinstance(value, tuple):
        return tuple(wrap(v) for v in value)
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value


def unwrap(value):
    return value._a if isinstance(value, StrictArray) else value


def _unwrap_arg(value, where: str, host_ok: bool = False):
    if isinstance(value, StrictArray):
        return value._a
    if isinstance(value, np.ndarray) and not host_ok:
        raise TypeError(f"{where}: Unsupported type {type(value)} (a host NumPy array mixed with "
                        "'strict' device data; CuPy refuses this too — move it with xp.asarray)")
    if isinstance(value, (tuple, list)):
        return type(value)(_unwrap_arg(v, where, host_ok) for v in value)
    return value


def _unwrap_index(index):
    if isinstance(index, tuple):
        return tuple(_unwrap_arg(i, "indexing") for i in index)
    return _unwrap_arg(index, "indexing")


def _wrap_function(fn, name: str):
    host_ok = name.rsplit(".", 1)[-1] in _HOST_INPUT_OK

    def call(*args, **kwargs):
        args = tuple(_unwrap_arg(a, name, host_ok) for a in args)
        kwargs = {k: _unwrap_arg(v, name, host_ok) for k, v in kwargs.items()}
        return wrap(fn(*args, **kwargs))
    call.__name__ = name
    return call


class _Namespace:
    """`xp` for strict data: NumPy's functions, taking and returning StrictArrays."""

    def __init__(self, module, prefix: str):
        self._module = module
        self._prefix = prefix

    def __getattr__(self, name):
        attr = getattr(self._module, name)
        if isinstance(attr, types.ModuleType):
            value = _Namespace(attr, f"{self._prefix}.{name}")
        elif isinstance(attr, type) or not callable(attr):
            value = attr                 # dtypes, finfo, constants like inf and newaxis
        else:
            value = _wrap_function(attr, f"{self._prefix}.{name}")
        setattr(self, name, value)      # cache
        return value

    def __repr__(self):
        return "<strict array module (NumPy behind a CuPy-like host boundary)>"


xp = _Namespace(np, "xp")


class Generator:
    """A NumPy Generator whose draws land on the strict device."""

    def __init__(self, generator: np.random.Generator):
        self._gen = generator

    def __getattr__(self, name):
        return _wrap_function(getattr(self._gen, name), f"Generator.{name}")


def scatter_add(target: StrictArray, index, values) -> None:
    np.add.at(unwrap(target), _unwrap_index(index), _unwrap_arg(values, "scatter_add"))
