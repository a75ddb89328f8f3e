"""Tensor: a backend array plus what reverse-mode autograd needs to know about it.

A tensor made by an op remembers the op's node (``_ctx``, a Function) so that
``backward()`` can walk the graph back to the leaves: tensors the user made with
``requires_grad=True``, whose ``.grad`` receives dL/d(tensor).

The arithmetic operators and methods below only forward to the ops in minigrad/ops/;
the math (and each derivative) lives there.
"""
from __future__ import annotations

from . import backend


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
    """
    __slots__ = ("data", "grad", "requires_grad", "device", "_ctx", "name", "__weakref__")
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
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, requires_grad=False, ctx=None):
        """Wrap a backend array without copying or checks (the ops' fast path)."""
        if isinstance(data, backend.np.generic):   # NumPy turns 0-d results into scalars
            data = backend.np.asarray(data)
        t = object.__new__(cls)
        t.data = data
        t.device = backend.device_of(data)
        t.grad = None
        t.requires_grad = requires_grad
        t._ctx = ctx
        t.name = None
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
        from .autograd import backward
        backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    def zero_grad(self):
        """Forget the accumulated gradient (sets .grad to None)."""
        self.grad = None

    def detach(self):
        """The same data, cut from the graph (shares memory, needs no grad)."""
        return Tensor._make(self.data)

    # ------------------------------------------------------------------ host and devices
    def numpy(self):
        """A NumPy copy on the host (always a copy, also on the CPU)."""
        return backend.to_numpy(self.data)

    def item(self):
        if self.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.reshape(()).item() if self.device == "cpu" else backend.to_numpy(self.data).item()

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

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

    def argmax(self, axis=None):
        """Indices of the maxima (no gradient)."""
        return Tensor._make(backend.xp_of(self.data).argmax(self.data, axis=axis))

    def any(self):
        return Tensor._make(backend.xp_of(self.data).any(self.data))

    def all(self):
        return Tensor._make(backend.xp_of(self.data).all(self.data))

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
        """In-place write; only allowed where no gradient can be affected."""
        from .autograd import is_grad_enabled
        if self.requires_grad and is_grad_enabled():
            raise RuntimeError("in-place assignment to a tensor that requires grad would corrupt "
                               "its gradient; do it under `with mg.no_grad():` or on a detached copy")
        index = movement.index_to_device(index, self)
        if isinstance(value, Tensor):
            value = value.data
        self.data[index] = value


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


# The ops need Tensor, so they are imported after it is defined.
from .ops import elementwise, linalg, movement, reduce  # noqa: E402
