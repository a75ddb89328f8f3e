"""Movement ops: they move, copy or select elements without arithmetic.

Each backward routes the gradient back to where the elements came from: reshape undoes
the reshape, transpose applies the inverse permutation, indexing scatters (adding where
an index repeats), concat and stack slice the gradient apart, pad crops it.
"""
from __future__ import annotations

from .. import backend
from ..function import Function, constant, unbroadcast, xp_of
from ..symbolic import recordable
from ..tensor import Tensor

__all__ = ["reshape", "transpose", "flatten", "broadcast_to", "concat", "stack", "pad", "split", "chunk",
           "repeat", "tile", "roll", "flip", "tril", "triu", "diagonal", "moveaxis"]


class Reshape(Function):
    """z = x with a new shape (same elements, same order).   dL/dx = reshape(g, x.shape)"""
    backward_reads_inputs = False

    def forward(self, x, shape):
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return g.reshape(self.in_shape)

    def backward_arrays(self, g):
        return g.reshape(self.in_shape)


class Transpose(Function):
    """z = x with its axes permuted.   dL/dx = g permuted back (inverse permutation)"""
    backward_reads_inputs = False

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
    backward_reads_inputs = False

    def forward(self, x, shape):
        self.in_shape = x.shape
        return xp_of(x).broadcast_to(x, shape)

    def backward(self, g):
        return unbroadcast(g, self.in_shape, self)


class GetItem(Function):
    """z = x[index].   dL/dx = zeros like x with g added at index (repeats add up)"""
    backward_reads_inputs = False

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
    backward_reads_inputs = False

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
    backward_reads_inputs = False

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
    backward_reads_inputs = False

    def forward(self, x, pad_width, value=0.0):
        self.crop = tuple(slice(before, before + n) for (before, _), n in zip(pad_width, x.shape))
        return xp_of(x).pad(x, pad_width, mode="constant", constant_values=value)

    def backward(self, g):
        return g[self.crop]


class ToDevice(Function):
    """z = x copied to another device.   dL/dx = g copied back"""
    backward_reads_inputs = False

    def forward(self, x, device):
        self.source = backend.device_of(x)
        with backend.device_context(device):
            return backend.asarray(x, device=device)

    def backward(self, g):
        return ToDevice.apply(g, device=self.source)


# ----------------------------------------------------------------------------- entry points

def resolve_shape(shape, size: int, from_shape, op: str = "reshape") -> tuple:
    """`shape` with its one -1 (if any) filled in so that it holds `size` elements.

    The one check of a reshape target, shared by reshape and the Reshape layer.
    """
    shape = tuple(int(n) for n in shape)
    known = 1
    for n in shape:
        known *= n if n != -1 else 1
    if shape.count(-1) > 1 or any(n < -1 for n in shape) or (-1 not in shape and known != size) or \
            (-1 in shape and (known == 0 or size % known)):
        raise ValueError(f"{op}: cannot reshape a tensor of shape {tuple(from_shape)} ({size} elements) "
                         f"into {shape}")
    return tuple(size // known if n == -1 else n for n in shape)


def reshape(x: Tensor, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if getattr(x, "symbolic", False):           # sizes may be None: the op itself finds the shape
        return Reshape.apply(x, shape=tuple(int(n) for n in shape))
    shape = resolve_shape(shape, x.size, x.shape)
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


@recordable   # multiplies sizes, which may be None on a symbolic tensor
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
    if getattr(x, "symbolic", False):          # sizes may be None: the op checks on the probes
        return BroadcastTo.apply(x, shape=shape)
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


def moveaxis(x: Tensor, source: int, destination: int):
    """x with axis `source` moved to position `destination` (a transpose)."""
    order = [a for a in range(x.ndim) if a != source % x.ndim]
    order.insert(destination % x.ndim, source % x.ndim)
    return transpose(x, tuple(order))


def _axis(x: Tensor, axis: int, op: str) -> int:
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for a tensor of shape {x.shape}")
    return axis % x.ndim


def _slice_on(axis: int, index) -> tuple:
    """An index that applies `index` (a slice or an index array) to `axis` and keeps the others."""
    return (slice(None),) * axis + (index,)


@recordable
def split(x: Tensor, indices_or_sections, axis=0):
    """NumPy's split: an int n cuts `axis` into n equal parts; a list gives the cut points.
    Each part is a slice, so its gradient goes back to where it came from."""
    axis = _axis(x, axis, "split")
    n = x.shape[axis]
    if isinstance(indices_or_sections, int):
        parts = indices_or_sections
        if parts < 1 or n % parts:
            raise ValueError(f"split: axis {axis} of length {n} (shape {x.shape}) does not split into "
                             f"{parts} equal parts; pass a list of cut points, or use chunk")
        cuts = [n // parts * i for i in range(1, parts)]
    else:
        cuts = [int(c) for c in indices_or_sections]
    bounds = [0] + cuts + [n]
    return [x[_slice_on(axis, slice(a, b))] for a, b in zip(bounds[:-1], bounds[1:])]


@recordable
def chunk(x: Tensor, chunks: int, axis=0):
    """PyTorch's chunk: parts of ceil(n / chunks) along `axis`, the last one maybe smaller."""
    axis = _axis(x, axis, "chunk")
    if chunks < 1:
        raise ValueError(f"chunk: chunks must be >= 1, got {chunks}")
    n = x.shape[axis]
    size = max(1, -(-n // chunks))
    return [x[_slice_on(axis, slice(a, a + size))] for a in range(0, n, size)] or [x]


@recordable
def repeat(x: Tensor, repeats, axis=None):
    """NumPy's repeat: each element `repeats` times along `axis` (None: of the flattened tensor).
    A gather of the elements, so dL/dx sums the gradients of the copies."""
    if axis is None:
        x, axis = x.reshape(-1), 0
    axis = _axis(x, axis, "repeat")
    xp = xp_of(x.data)
    index = xp.repeat(xp.arange(x.shape[axis]), xp.asarray(repeats))
    return GetItem.apply(x, index=_slice_on(axis, index))


@recordable
def tile(x: Tensor, reps):
    """NumPy's tile: x repeated reps[i] times along axis i (missing leading reps count as 1).
    Built from reshape and broadcast_to, so dL/dx sums the gradient of every copy."""
    reps = (int(reps),) if isinstance(reps, int) else tuple(int(r) for r in reps)
    ndim = max(len(reps), x.ndim)
    reps = (1,) * (ndim - len(reps)) + reps
    shape = (1,) * (ndim - x.ndim) + x.shape
    interleaved = [n for pair in zip((1,) * ndim, shape) for n in pair]      # (1, n0, 1, n1, ...)
    grown = [n for pair in zip(reps, shape) for n in pair]                   # (r0, n0, r1, n1, ...)
    out = x.reshape(interleaved).broadcast_to(tuple(grown))
    return out.reshape(tuple(r * n for r, n in zip(reps, shape)))


@recordable
def roll(x: Tensor, shift, axis=None):
    """NumPy's roll: elements shifted by `shift` along `axis`, wrapping round (None: flattened).
    A gather, so the gradient is rolled back."""
    if axis is None:
        return roll(x.reshape(-1), shift, 0).reshape(x.shape)
    shifts = (shift,) if isinstance(shift, int) else tuple(shift)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if len(shifts) != len(axes):
        raise ValueError(f"roll: {len(shifts)} shifts for {len(axes)} axes")
    xp = xp_of(x.data)
    for s, a in zip(shifts, axes):
        a = _axis(x, a, "roll")
        n = x.shape[a]
        if n:
            x = GetItem.apply(x, index=_slice_on(a, (xp.arange(n) - s) % n))
    return x


@recordable
def flip(x: Tensor, axis=None):
    """x reversed along `axis` (int, tuple, or None: every axis). The gradient is flipped back."""
    axes = range(x.ndim) if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
    axes = [_axis(x, a, "flip") for a in axes]
    if len(set(axes)) != len(axes):        # flipping twice would undo it: refused, as NumPy does
        raise ValueError(f"flip: axis {axis} repeats an axis (of a tensor of shape {x.shape}); "
                         "name each axis once")
    index = [slice(None)] * x.ndim
    for a in axes:
        index[a] = slice(None, None, -1)
    return x[tuple(index)]


def _triangle(x: Tensor, k: int, op: str, lower: bool):
    if x.ndim < 2:
        raise ValueError(f"{op}: needs a tensor with at least 2 axes (the matrix), got shape {x.shape}")
    xp = xp_of(x.data)
    n, m = x.shape[-2:]
    keep = xp.tri(n, m, k, dtype=bool) if lower else ~xp.tri(n, m, k - 1, dtype=bool)
    return x * constant(keep.astype(x.dtype))


@recordable
def tril(x: Tensor, k=0):
    """The lower triangle of the last two axes (j <= i + k), zeros above.   dL/dx = g on the triangle"""
    return _triangle(x, int(k), "tril", lower=True)


@recordable
def triu(x: Tensor, k=0):
    """The upper triangle of the last two axes (j >= i + k), zeros below.   dL/dx = g on the triangle"""
    return _triangle(x, int(k), "triu", lower=False)


@recordable
def diagonal(x: Tensor, offset=0, axis1=0, axis2=1):
    """NumPy's diagonal: x[..., i, i + offset] over axes axis1, axis2, as a new last axis.
    A gather, so dL/dx is g written back onto the diagonal."""
    if x.ndim < 2:
        raise ValueError(f"diagonal: needs a tensor with at least 2 axes, got shape {x.shape}")
    a1, a2 = _axis(x, axis1, "diagonal"), _axis(x, axis2, "diagonal")
    if a1 == a2:
        raise ValueError(f"diagonal: axis1 and axis2 must differ, got {axis1} and {axis2}")
    rest = [a for a in range(x.ndim) if a not in (a1, a2)]
    moved = transpose(x, tuple(rest + [a1, a2]))
    n, m = moved.shape[-2:]
    xp = xp_of(x.data)
    length = max(0, min(n, m - offset) if offset >= 0 else min(n + offset, m))
    rows = xp.arange(length) + (0 if offset >= 0 else -offset)
    cols = rows + offset
    return GetItem.apply(moved, index=(Ellipsis, rows, cols))
