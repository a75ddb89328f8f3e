"""Indexing along an axis with a tensor of indices: gather / take_along_axis, scatter_add,
plus one_hot and masked_fill.

They are built on movement.py's GetItem and ScatterAdd, the adjoint pair of "read at an
index" and "add at an index": the gradient of a gather is a scatter-add of g (repeated
indices add up), and the gradient of a scatter-add with respect to the added values is a
gather of g. Each "index along an axis" is turned into a NumPy fancy index: the given
indices on that axis, and arange(n) broadcast along every other axis.
"""
from __future__ import annotations

from .. import backend
from ..function import xp_of
from ..symbolic import recordable
from ..tensor import Tensor
from .elementwise import Query, where
from .movement import GetItem, ScatterAdd, index_to_device
from .reduce import normalize_axes

__all__ = ["gather", "take_along_axis", "scatter_add", "one_hot", "masked_fill"]


def _indices_array(indices, x: Tensor, op: str):
    """Integer indices as an array on x's device, with a clear error for anything else."""
    data = index_to_device(indices, x)
    if not backend.is_backend_array(data) or data.dtype.kind not in "iu":
        kind = getattr(data, "dtype", type(data).__name__)
        raise TypeError(f"{op}: indices must be an integer tensor or array, got {kind}")
    return data


def _along_axis(indices, axis: int):
    """The fancy index that reads `indices` along `axis` and position i along every other axis."""
    xp = xp_of(indices)
    index = []
    for d, n in enumerate(indices.shape):
        if d == axis:
            index.append(indices)
        else:
            shape = [1] * indices.ndim
            shape[d] = n
            index.append(xp.arange(n).reshape(shape))
    return tuple(index)


def _check_along(op, x, indices, axis, negative_wraps=True):
    """The axis as a positive index, after checking the indices' shape and range. Negative
    indices count from the end where negative_wraps (NumPy's take_along_axis); PyTorch's gather
    and scatter_add refuse them, and so do ours, rather than wrap a -1 silently."""
    if x.ndim == 0:
        raise ValueError(f"{op}: a 0-d tensor has no axis to index along")
    axis = normalize_axes(axis, x.ndim, op)[0]
    if indices.ndim != x.ndim or any(i > n for d, (i, n) in enumerate(zip(indices.shape, x.shape))
                                     if d != axis):
        raise ValueError(f"{op}: indices of shape {tuple(indices.shape)} do not fit x of shape {x.shape} "
                         f"along axis {axis}: they need x's number of axes and, off the axis, sizes no "
                         "larger than x's")
    n = x.shape[axis]
    low = -n if negative_wraps else 0
    if indices.size and bool(((indices < low) | (indices >= n)).any()):
        bad = int(indices.min()) if bool((indices < low).any()) else int(indices.max())
        allowed = f"[{low}, {n})" + ("" if negative_wraps else "; negative indices are refused, as in "
                                     "PyTorch (take_along_axis counts them from the end, as NumPy)")
        raise IndexError(f"{op}: index {bad} is out of range for axis {axis} of size {n} (shape {x.shape}): "
                         f"indices must lie in {allowed}")
    return axis


def _take(x: Tensor, indices, axis: int, op: str, negative_wraps: bool):
    indices = _indices_array(indices, x, op)
    axis = _check_along(op, x, indices, axis, negative_wraps)
    return GetItem.apply(x, index=_along_axis(indices, axis))


@recordable   # reads the sizes of x and the indices
def take_along_axis(x: Tensor, indices, axis: int):
    """out[..., i, ...] = x[..., indices[..., i, ...], ...] along `axis` (NumPy's take_along_axis:
    a negative index counts from the end).

    dL/dx = zeros with g added at the gathered positions (repeats add).
    """
    return _take(x, indices, axis, "take_along_axis", negative_wraps=True)


@recordable
def gather(x: Tensor, axis: int, index):
    """PyTorch's gather(input, dim, index): take_along_axis with the arguments in torch's order;
    as in PyTorch, indices must lie in [0, size) (a negative one is an error, not a wrap)."""
    return _take(x, index, axis, "gather", negative_wraps=False)


@recordable
def scatter_add(x: Tensor, axis: int, index, src: Tensor):
    """PyTorch's scatter_add: a copy of x with src[..., i, ...] added at x[..., index[..., i, ...], ...].

    Repeated indices add; as in PyTorch, indices must lie in [0, size) (no negative wrap).
    dL/dx = g,  dL/dsrc = g gathered at the indices.
    """
    index = _indices_array(index, x, "scatter_add")
    axis = _check_along("scatter_add", x, index, axis, negative_wraps=False)
    if src.ndim != index.ndim or any(s < i for s, i in zip(src.shape, index.shape)):
        raise ValueError(f"scatter_add: src of shape {src.shape} must be at least as large as index "
                         f"{tuple(index.shape)} in every axis")
    if src.shape != tuple(index.shape):      # as PyTorch: only src's leading block is used
        src = src[tuple(slice(0, n) for n in index.shape)]
    return x + ScatterAdd.apply(src, index=_along_axis(index, axis), shape=x.shape)


class OneHot(Query):
    """z[..., c] = 1 where c == indices[...] else 0, of `dtype`; no gradient (indices are integers)"""
    def forward(self, indices, num_classes, dtype):
        xp = xp_of(indices)
        return (indices[..., None] == xp.arange(num_classes)).astype(dtype)


def one_hot(indices, num_classes: int, dtype=None):
    """Class indices of shape S -> a (S..., num_classes) float tensor of 0s and 1s."""
    if not isinstance(indices, Tensor):
        indices = Tensor(indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"one_hot: indices must be integers, got {indices.dtype}; "
                        "convert with .astype('int64') if they are whole numbers")
    num_classes = int(num_classes)
    if num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be >= 1, got {num_classes}")
    if not getattr(indices, "symbolic", False) and indices.size:
        low, high = int(indices.data.min()), int(indices.data.max())
        if low < 0 or high >= num_classes:
            raise ValueError(f"one_hot: indices must lie in [0, {num_classes}), got min {low}, max {high}")
    dtype = backend.np.dtype(dtype) if dtype is not None else backend.default_float_dtype()
    return OneHot.apply(indices, num_classes=num_classes, dtype=dtype)


def masked_fill(x: Tensor, mask, value):
    """x with `value` where mask is true (mask broadcasts against x).   dL/dx = g where mask is false"""
    return where(mask, value, x)
