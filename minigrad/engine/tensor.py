"""Tensor: a backend array plus what reverse-mode autograd needs to know about it.

A tensor made by an op remembers the op's node (``_ctx``, a Function) so that
``backward()`` can walk the graph back to the leaves: tensors the user made with
``requires_grad=True``, whose ``.grad`` receives dL/d(tensor).

The arithmetic operators and methods below only forward to the ops in minigrad/ops/;
the math (and each derivative) lives there.

Version counter: every tensor carries ``_version``, a one-element list shared with the
tensors that view the same memory (``detach()``, and the outputs of ops whose result is a
view of an input: reshape, transpose, basic slicing). Each in-place write through the
Tensor API (``t[i] = v``) and each optimizer update adds one to it. A node of the graph
notes the versions of the tensors its backward reads (its inputs and its output) when it
is created; if one has changed by the time backward runs, the gradient would be computed
from the new values, silently wrong, so backward raises instead (as PyTorch does).
Writing into ``t.data`` directly is the escape hatch: a raw array write, not counted.
"""
from __future__ import annotations

from . import backend, mode

_ndarray = backend.np.ndarray


def _pick_dtype(data, dtype):
    """float32 for Python floats and lists, the array's own dtype for arrays."""
    if dtype is not None:
        return backend.np.dtype(dtype)
    if backend.is_backend_array(data) or isinstance(data, backend.np.generic):
        return data.dtype
    host = backend.np.asarray(data)
    if host.dtype == backend.np.float64:       # plain Python floats: minigrad's default float
        return backend.default_float_dtype()
    return host.dtype


class Tensor:
    """An n-dimensional array that records the ops applied to it, for gradients.

    Tensor(data, requires_grad=False, dtype=None, device=None)
      data     nested lists, Python or NumPy scalars, NumPy arrays, backend arrays, Tensors
      dtype    default: the array's dtype; float32 for Python floats
      device   "cpu", "cuda", "cuda:N" or "strict"; default: mg.get_default_device()

    .data is the backend array itself. Writing into it (t.data[0] = 1) is a raw write that
    autograd does not see: the escape hatch for code that knows no graph uses t. Write
    through the tensor (t[0] = 1, under no_grad for a leaf that requires grad) to have the
    change counted, so that a backward that would read the old values raises.
    """
    __slots__ = ("data", "grad", "requires_grad", "device", "_ctx", "name", "_version", "__weakref__")
    symbolic = False            # True for the placeholders of the functional API (symbolic.py)

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        if isinstance(data, Tensor):
            data = data.data
        if device is None and backend.is_backend_array(data):
            device = backend.device_of(data)
        device = backend.normalize_device(device)
        dtype = _pick_dtype(data, dtype)
        array = backend.asarray(data, dtype=dtype, device=device)
        if backend.is_backend_array(data) and array is data:
            array = array.copy()               # a new tensor never aliases the caller's array
        self.data = array
        self.device = device
        self.grad = None
        self._ctx = None
        self.name = None
        self._version = [0]
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, requires_grad=False, ctx=None, version=None):
        """Wrap a backend array without copying or checks (the ops' fast path).

        version: the counter to share (a tensor viewing another's memory); default a new one.
        """
        t = object.__new__(cls)
        if type(data) is _ndarray:      # the common case, first: every op's result goes through here
            t.device = "cpu"
        else:
            if isinstance(data, backend.np.generic):   # NumPy turns 0-d results into scalars
                data = backend.np.asarray(data)
            t.device = backend.device_of(data)
        t.data = data
        t.grad = None
        t.requires_grad = requires_grad
        t._ctx = ctx
        t.name = None
        t._version = [0] if version is None else version
        return t

    # ------------------------------------------------------------------ properties
    shape = property(lambda self: self.data.shape)          # NumPy and CuPy shapes are tuples
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: int(self.data.size))
    is_leaf = property(lambda self: self._ctx is None)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        body = repr(backend.to_numpy(self.data)).replace("array(", "tensor(", 1)
        extras = []
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self._ctx is not None:
            extras.append(f"grad_fn={type(self._ctx).__name__}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if extras:
            body = body[:-1] + ", " + ", ".join(extras) + ")"
        return body

    __hash__ = object.__hash__                 # == is elementwise, identity hashes
    __array_ufunc__ = None                     # np.float64(2) * t and array + t defer to Tensor

    def __bool__(self):
        if self.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                             "use .any() or .all()")
        return bool(self.item())

    # ------------------------------------------------------------------ autograd
    def requires_grad_(self, requires_grad=True):
        """Mark a leaf as needing dL/d(self) in .grad (in place; returns self)."""
        if requires_grad and not backend.is_floating(self.dtype):
            raise TypeError(f"only floating-point tensors can require gradients, got {self.dtype}; "
                            "convert with .astype('float32') first")
        if self._ctx is not None and not requires_grad:
            raise RuntimeError("requires_grad_(False) on a tensor made by an op: use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def backward(self, grad=None, retain_graph=False, create_graph=False):
        """Accumulate dself/dleaf into every leaf's .grad (see minigrad.autograd.backward)."""
        autograd.backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    def zero_grad(self):
        """Forget the accumulated gradient (sets .grad to None)."""
        self.grad = None

    def detach(self):
        """The same data, cut from the graph (shares memory and the version counter, needs no grad)."""
        return Tensor._make(self.data, version=self._version)

    def clone(self):
        """A copy of the data that stays in the graph (gradients flow back to self).

        It is a cast to self's own dtype, which always copies. Clone a tensor before changing
        it in place when the original is still needed by a backward.
        """
        return elementwise.Cast.apply(self, dtype=self.dtype)

    @property
    def version(self) -> int:
        """How many in-place writes through the Tensor API this tensor's memory has had."""
        return self._version[0]

    def _bump_version(self) -> None:
        """Count one in-place write (``t[i] = v``, an optimizer update)."""
        self._version[0] += 1

    # ------------------------------------------------------------------ host and devices
    def numpy(self):
        """A NumPy copy on the host (always a copy, also on the CPU)."""
        return backend.to_numpy(self.data)

    def item(self):
        """The one element as a Python number (float(t) and int(t) do the same)."""
        if self.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.reshape(()).item() if self.device == "cpu" else backend.to_numpy(self.data).item()

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        """An integer 0-d tensor as an index (range(n), list[i])."""
        if self.ndim != 0 or self.dtype.kind not in "iu":
            raise TypeError(f"only a 0-d integer tensor can be used as an index, got shape "
                            f"{self.shape} and dtype {self.dtype}")
        return int(self.item())

    # NumPy interop. np.asarray(t) on the CPU is the tensor's own array, a view that shares its
    # memory (no copy), as np.asarray(array) is; writing into it is a raw write, like .data.
    # Device tensors (cuda, strict) refuse implicit conversion like CuPy: call .numpy().
    def __array__(self, dtype=None, copy=None):
        if self.device != "cpu":
            raise TypeError(f"cannot convert a tensor on {self.device!r} to a NumPy array implicitly "
                            "(np.asarray / np.array); call t.numpy() for a host copy")
        array = self.data
        if dtype is not None and backend.np.dtype(dtype) != array.dtype:
            if copy is False:
                raise ValueError(f"np.asarray(tensor, dtype={dtype}, copy=False): converting "
                                 f"{array.dtype} to {dtype} needs a copy")
            return array.astype(dtype)
        return array.copy() if copy else array

    def __array_function__(self, func, types, args, kwargs):
        """np.mean(t) & co. do not work on tensors: say what to call instead."""
        name = func.__name__
        instead = f"t.{name}(...)" if hasattr(Tensor, name) else f"np.{name}(t.numpy(), ...)"
        raise TypeError(f"numpy.{name}() does not take minigrad tensors (it would drop the graph "
                        f"and, on a GPU, need a host copy): call {instead} instead")

    # DLPack: zero-copy exchange with NumPy, PyTorch, JAX, CuPy (np.from_dlpack(t),
    # torch.from_dlpack(t)); the receiver shares this tensor's memory. mg.from_dlpack is the way in.
    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        self._check_dlpack()
        kwargs = {k: v for k, v in (("stream", stream), ("max_version", max_version),
                                    ("dl_device", dl_device), ("copy", copy)) if v is not None}
        return self.data.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        self._check_dlpack()
        return self.data.__dlpack_device__()

    def _check_dlpack(self):
        if self.symbolic:
            raise TypeError(f"DLPack export of a symbolic tensor {self!r}: it has no data until the model runs")
        if self.device == "strict":
            raise TypeError("DLPack export of 'strict' device data is refused: the strict device stands "
                            "for GPU memory, which a host library cannot view; use t.numpy() for a "
                            "host copy, or exchange cpu (or cuda) tensors")

    def to(self, device=None, dtype=None):
        """Move to `device` and/or cast to `dtype`; differentiable, returns self if nothing changes."""
        out = self
        if device is not None and backend.normalize_device(device) != self.device:
            out = movement.ToDevice.apply(out, device=backend.normalize_device(device))
        if dtype is not None and backend.np.dtype(dtype) != out.dtype:
            out = elementwise.Cast.apply(out, dtype=backend.np.dtype(dtype))
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self, index=0):
        return self.to(f"cuda:{index}")

    def astype(self, dtype):
        return self.to(dtype=dtype)

    def float(self):
        return self.to(dtype="float32")

    def double(self):
        return self.to(dtype="float64")

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other):
        return elementwise.add(self, other)

    def __radd__(self, other):
        return elementwise.add(other, self)

    def __sub__(self, other):
        return elementwise.sub(self, other)

    def __rsub__(self, other):
        return elementwise.sub(other, self)

    def __mul__(self, other):
        return elementwise.mul(self, other)

    def __rmul__(self, other):
        return elementwise.mul(other, self)

    def __truediv__(self, other):
        return elementwise.div(self, other)

    def __rtruediv__(self, other):
        return elementwise.div(other, self)

    def __pow__(self, other):
        return elementwise.pow(self, other)

    def __rpow__(self, other):
        return elementwise.pow(other, self)

    def __matmul__(self, other):
        return linalg.matmul(self, other)

    def __rmatmul__(self, other):
        return linalg.matmul(other, self)

    def __neg__(self):
        return elementwise.Neg.apply(self)

    def __abs__(self):
        return elementwise.Abs.apply(self)

    # comparisons give boolean tensors and carry no gradient
    def __lt__(self, other):
        return elementwise.compare("less", self, other)

    def __le__(self, other):
        return elementwise.compare("less_equal", self, other)

    def __gt__(self, other):
        return elementwise.compare("greater", self, other)

    def __ge__(self, other):
        return elementwise.compare("greater_equal", self, other)

    def __eq__(self, other):
        return elementwise.compare("equal", self, other)

    def __ne__(self, other):
        return elementwise.compare("not_equal", self, other)

    # ------------------------------------------------------------------ math methods
    def exp(self):
        return elementwise.Exp.apply(self)

    def log(self):
        return elementwise.Log.apply(self)

    def sqrt(self):
        return elementwise.Sqrt.apply(self)

    def abs(self):
        return elementwise.Abs.apply(self)

    def relu(self):
        return elementwise.Relu.apply(self)

    def sigmoid(self):
        return elementwise.Sigmoid.apply(self)

    def tanh(self):
        return elementwise.Tanh.apply(self)

    def clip(self, low=None, high=None):
        return elementwise.clip(self, low, high)

    def sum(self, axis=None, keepdims=False):
        return reduce.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return reduce.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return reduce.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return reduce.Min.apply(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, keepdims=False, ddof=0):
        return reduce.var(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def std(self, axis=None, keepdims=False, ddof=0):
        return reduce.std(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def logsumexp(self, axis=None, keepdims=False):
        return reduce.logsumexp(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False):
        """Indices of the maxima (no gradient)."""
        return reduce.argmax(self, axis, keepdims)

    def any(self, axis=None, keepdims=False):
        return reduce.any(self, axis, keepdims)

    def all(self, axis=None, keepdims=False):
        return reduce.all(self, axis, keepdims)

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape):
        return movement.reshape(self, *shape)

    def transpose(self, *axes):
        return movement.transpose(self, *axes)

    def permute(self, *axes):
        return movement.transpose(self, *axes)

    @property
    def T(self):
        return movement.transpose(self)

    def flatten(self, start_axis=0, end_axis=-1):
        return movement.flatten(self, start_axis, end_axis)

    def broadcast_to(self, shape):
        return movement.broadcast_to(self, shape)

    def __getitem__(self, index):
        return movement.getitem(self, index)

    def __setitem__(self, index, value):
        """In-place write; only allowed where no gradient can be affected.

        It counts as a new version of the tensor: a graph that already used the old values
        raises in backward instead of computing a wrong gradient.
        """
        if self.requires_grad and mode.is_grad_enabled():
            raise RuntimeError("in-place assignment to a tensor that requires grad would corrupt "
                               "its gradient; do it under `with mg.no_grad():` or on a detached copy")
        index = movement.index_to_device(index, self)
        if isinstance(value, Tensor):
            value = value.data
        self.data[index] = value
        self._version[0] += 1


def as_operand(value, like=None) -> Tensor:
    """`value` as a Tensor to combine with `like` in a binary op.

    Python and NumPy scalars become constants of like's dtype and device, so a scalar never
    widens a float32 tensor (2.0 * x stays float32); arrays and lists must already live on,
    or be host data for, like's device.
    """
    if isinstance(value, Tensor):
        return value
    if not isinstance(like, Tensor):
        return Tensor(value)
    if type(value) is float and like.data.dtype.kind == "f":    # the common case, quickly
        if type(like.data) is _ndarray:                          # (on the cpu: straight to NumPy)
            return Tensor._make(backend.np.asarray(value, like.data.dtype))
        return Tensor._make(backend.asarray(value, dtype=like.data.dtype, device=like.device))
    if isinstance(value, (bool, int, float)) or isinstance(value, backend.np.generic):
        dtype = backend.result_dtype_with_scalar(like.dtype, value)
        value = value.item() if isinstance(value, backend.np.generic) else value
        return Tensor._make(backend.asarray(value, dtype=dtype, device=like.device))
    if backend.is_backend_array(value):
        if backend.device_of(value) != like.device:
            raise RuntimeError(f"an array on {backend.device_of(value)} combined with a tensor on "
                               f"{like.device}; move it first (mg.tensor(array, device='{like.device}'))")
        return Tensor._make(value)
    if isinstance(value, (list, tuple)):
        return Tensor(value, dtype=None, device=like.device)
    raise TypeError(f"cannot combine a {type(value).__name__} with a Tensor")


# ---------------------------------------------------------------------- creation helpers

def tensor(data, requires_grad=False, dtype=None, device=None) -> Tensor:
    """A new leaf tensor (copies `data`)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _filled(fill, shape, dtype, device, requires_grad):
    device = backend.normalize_device(device)
    xp = backend.xp_for(device)
    with backend.device_context(device):
        data = xp.full(_shape(shape), fill, dtype=dtype or backend.default_float_dtype())
    return Tensor._make(data).requires_grad_(requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(0, shape, dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(1, shape, dtype, device, requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(fill_value, (shape,) if isinstance(shape, int) else tuple(shape), dtype, device,
                   requires_grad)


def zeros_like(t: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return zeros(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def ones_like(t: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return ones(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples from the device's seeded generator (mg.manual_seed)."""
    device = backend.normalize_device(device)
    with backend.device_context(device):
        data = backend.generator(device).standard_normal(_shape(shape),
                                                         dtype=dtype or backend.default_float_dtype())
    return Tensor._make(data).requires_grad_(requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1) from the device's seeded generator."""
    device = backend.normalize_device(device)
    with backend.device_context(device):
        data = backend.generator(device).random(_shape(shape), dtype=dtype or backend.default_float_dtype())
    return Tensor._make(data).requires_grad_(requires_grad)


def arange(*args, dtype=None, device=None) -> Tensor:
    device = backend.normalize_device(device)
    with backend.device_context(device):
        return Tensor._make(backend.xp_for(device).arange(*args, dtype=dtype))


def from_dlpack(x) -> Tensor:
    """A tensor sharing the memory of `x`, any DLPack producer (a NumPy array, a torch tensor,
    a CuPy array, ...): no copy. CPU data gives a cpu tensor, CUDA data a cuda one. The new
    tensor is a leaf that needs no grad; writes through either side are seen by both."""
    return Tensor._make(backend.from_dlpack(x))


# The one cycle of the engine, on purpose: Tensor's operators and methods call the ops and
# the backward walk, which are written on Tensor. So they are imported here, after Tensor is
# defined (engine/ops/__init__.py attaches the other ops' methods the same way: TENSOR_METHODS).
from . import autograd  # noqa: E402
from .ops import elementwise, linalg, movement, reduce  # noqa: E402
