"""Movement ops: they move, copy or select elements without arithmetic.

Each backward routes the gradient back to where the elements came from: reshape undoes
the reshape, transpose applies the inverse permutation, indexing scatters (adding where
an index repeats), concat and stack slice the gradient apart, pad crops it.
"""
from __future__ import annotations

from .. import backend
from ..function import Function, unbroadcast, xp_of
from ..tensor import Tensor


class Reshape(Function):
    """z = x with a new shape (same elements, same order).   dL/dx = reshape(g, x.shape)"""
    def forward(self, x, shape):
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return g.reshape(self.in_shape)

    def backward_arrays(self, g):
        return g.reshape(self.in_shape)


class Transpose(Function):
    """z = x with its axes permuted.   dL/dx = g permuted back (inverse permutation)"""
    def forward(self, x, axes):
        self.axes = axes
        return xp_of(x).transpose(x, axes)

    def backward(self, g):
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return Transpose.apply(g, axes=tuple(inverse))

    def backward_arrays(self, g):
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return g.transpose(inverse)


class BroadcastTo(Function):
    """z = x repeated along broadcast axes.   dL/dx = g summed over those axes"""
    def forward(self, x, shape):
        self.in_shape = x.shape
        return xp_of(x).broadcast_to(x, shape)

    def backward(self, g):
        return unbroadcast(g, self.in_shape, self)


class GetItem(Function):
    """z = x[index].   dL/dx = zeros like x with g added at index (repeats add up)"""
    def forward(self, x, index):
        self.index, self.in_shape = index, x.shape
        return x[index]

    def backward(self, g):
        return ScatterAdd.apply(g, index=self.index, shape=self.in_shape)


class ScatterAdd(Function):
    """z = zeros(shape) with z[index] += g (repeated indices add).   dL/dg = (dL/dz)[index]

    This is getitem's backward; its own backward is getitem, so indexing has gradients of
    any order.
    """
    def forward(self, g, index, shape):
        self.index = index
        xp = xp_of(g)
        out = xp.zeros(shape, dtype=g.dtype)
        if _is_basic(index):
            out[index] = g                  # no index repeats: a plain write is exact
        else:
            backend.scatter_add(out, index, g)
        return out

    def backward(self, gg):
        return GetItem.apply(gg, index=self.index)


class Concat(Function):
    """z = the inputs joined along `axis`.   dL/dx_k = the slice of g that x_k filled"""
    def forward(self, *xs, axis=0):
        self.axis = axis
        self.sizes = [x.shape[axis] for x in xs]
        return xp_of(xs[0]).concatenate(xs, axis=axis)

    def backward(self, g):
        grads, start = [], 0
        lead = (slice(None),) * (self.axis % g.ndim)
        for n in self.sizes:
            grads.append(g[lead + (slice(start, start + n),)])
            start += n
        return tuple(grads)


class Stack(Function):
    """z = the inputs stacked along a new `axis`.   dL/dx_k = g[..., k, ...] at that axis"""
    def forward(self, *xs, axis=0):
        self.axis = axis
        return xp_of(xs[0]).stack(xs, axis=axis)

    def backward(self, g):
        lead = (slice(None),) * (self.axis % g.ndim)
        return tuple(g[lead + (k,)] for k in range(len(self.inputs)))


class Pad(Function):
    """z = x with `value` added around it (pad_width = ((before, after), ...) per axis).
    dL/dx = g with the padding cropped off"""
    def forward(self, x, pad_width, value=0.0):
        self.crop = tuple(slice(before, before + n) for (before, _), n in zip(pad_width, x.shape))
        return xp_of(x).pad(x, pad_width, mode="constant", constant_values=value)

    def backward(self, g):
        return g[self.crop]


class ToDevice(Function):
    """z = x copied to another device.   dL/dx = g copied back"""
    def forward(self, x, device):
        self.source = backend.device_of(x)
        with backend.device_context(device):
            return backend.asarray(x, device=device)

    def backward(self, g):
        return ToDevice.apply(g, device=self.source)


# ----------------------------------------------------------------------------- entry points

def reshape(x: Tensor, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(int(n) for n in shape)
    known = 1
    for n in shape:
        known *= n if n != -1 else 1
    if shape.count(-1) > 1 or (-1 not in shape and known != x.size) or \
            (-1 in shape and (known == 0 or x.size % known)):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                         f"into {shape}")
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape=shape)


def transpose(x: Tensor, *axes):
    """Permute axes; with no axes, reverse them (x.T)."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    if not axes:
        axes = tuple(reversed(range(x.ndim)))
    if len(axes) != x.ndim:
        raise ValueError(f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of {x.shape}")
    for a in axes:
        if not -x.ndim <= a < x.ndim:
            raise ValueError(f"transpose: axis {a} is out of range for a tensor of shape {x.shape}")
    axes = tuple(a % x.ndim for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of {x.shape}")
    return Transpose.apply(x, axes=axes)


def swap_last_axes(x: Tensor):
    """x with its last two axes exchanged (a batch of matrix transposes)."""
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return Transpose.apply(x, axes=tuple(axes))


def flatten(x: Tensor, start_axis=0, end_axis=-1):
    """Merge axes start_axis..end_axis into one."""
    if x.ndim == 0:
        return x.reshape(1)
    for a in (start_axis, end_axis):
        if not -x.ndim <= a < x.ndim:
            raise ValueError(f"flatten: axis {a} is out of range for a tensor of shape {x.shape}")
    start, end = start_axis % x.ndim, end_axis % x.ndim
    if start > end:
        raise ValueError(f"flatten: start_axis {start_axis} comes after end_axis {end_axis}")
    merged = 1
    for n in x.shape[start:end + 1]:
        merged *= n
    return x.reshape(x.shape[:start] + (merged,) + x.shape[end + 1:])


def broadcast_to(x: Tensor, shape):
    shape = tuple(shape)
    if shape == x.shape:
        return x
    try:
        grows_into = backend.np.broadcast_shapes(x.shape, shape) == shape
    except ValueError:
        grows_into = False
    if not grows_into:
        raise ValueError(f"broadcast_to: a tensor of shape {x.shape} cannot be broadcast to {shape}")
    return BroadcastTo.apply(x, shape=shape)


def _is_basic(index) -> bool:
    """True when an index only uses ints, slices, None and Ellipsis (so it cannot repeat)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, slice, type(None), type(Ellipsis))) or
               (backend.is_backend_array(i) and i.dtype == bool) for i in items)


def index_to_device(index, x: Tensor):
    """Tensors, lists and NumPy arrays inside an index become arrays on x's device."""
    def convert(i):
        if isinstance(i, Tensor):
            if i.device != x.device:
                raise RuntimeError(f"indexing a tensor on {x.device} with an index on {i.device}")
            return i.data
        if isinstance(i, (list, backend.np.ndarray)):
            host = backend.np.asarray(i)
            if host.size == 0 and host.dtype.kind == "f":   # [] is an empty integer index
                host = host.astype(backend.np.intp)
            return backend.asarray(host, device=x.device)
        if isinstance(i, backend.np.integer):
            return int(i)
        return i
    return tuple(convert(i) for i in index) if isinstance(index, tuple) else convert(index)


def getitem(x: Tensor, index):
    return GetItem.apply(x, index=index_to_device(index, x))


def concat(tensors, axis=0):
    """Join tensors along an existing axis (all other sizes must match)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concat: needs at least one tensor")
    first = tensors[0]
    if first.ndim == 0:
        raise ValueError("concat: 0-d tensors have no axis to join along; use mg.stack")
    if not -first.ndim <= axis < first.ndim:
        raise ValueError(f"concat: axis {axis} is out of range for {first.ndim}-d tensors")
    for t in tensors[1:]:
        if t.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, first.shape))
                                       if i != axis % first.ndim):
            raise ValueError(f"concat along axis {axis}: shapes {[u.shape for u in tensors]} differ "
                             "off that axis")
    return Concat.apply(*tensors, axis=axis % first.ndim)


def stack(tensors, axis=0):
    """Join same-shape tensors along a new axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    if len({t.shape for t in tensors}) != 1:
        raise ValueError(f"stack: all tensors need one shape, got {[t.shape for t in tensors]}")
    ndim = tensors[0].ndim + 1
    if not -ndim <= axis < ndim:
        raise ValueError(f"stack: axis {axis} is out of range for stacking {ndim - 1}-d tensors")
    return Stack.apply(*tensors, axis=axis % (tensors[0].ndim + 1))


def pad(x: Tensor, pad_width, value=0.0):
    """Constant padding: pad_width is ((before, after), ...) per axis, or one int for all sides."""
    if isinstance(pad_width, int):
        pad_width = ((pad_width, pad_width),) * x.ndim
    pad_width = tuple((int(b), int(a)) for b, a in pad_width)
    if len(pad_width) != x.ndim or any(b < 0 or a < 0 for b, a in pad_width):
        raise ValueError(f"pad: need one non-negative (before, after) pair per axis of {x.shape}, "
                         f"got {pad_width}")
    return Pad.apply(x, pad_width=pad_width, value=value)
