"""Scans (cumulative ops) and sorting: cumsum, cumprod, logcumsumexp, sort, argsort, topk.

axis=None flattens first, as NumPy and Keras do. A scan's output element i depends on the
inputs 0..i along the axis, so its backward sums the upstream gradient from i to the end
("a reversed cumsum"). sort and topk are a gather with the indices of argsort, so their
values have gradients (each output's g goes back to the element it came from).
"""
from __future__ import annotations

from ..function import Function, constant, xp_of
from ..symbolic import recordable
from .elementwise import Query, where
from .indexing import take_along_axis
from .reduce import normalize_axes

__all__ = ["cumsum", "cumprod", "logcumsumexp", "sort", "argsort", "topk"]


def _reverse(t, axis):
    """t reversed along `axis` (a basic slice: its gradient is reversed back)."""
    return t[(slice(None),) * axis + (slice(None, None, -1),)]


def _to_last(t, axis):
    """t with `axis` moved to the end, and the permutation that moves it back."""
    order = [a for a in range(t.ndim) if a != axis] + [axis]
    back = [0] * t.ndim
    for i, a in enumerate(order):
        back[a] = i
    return t.transpose(order), back


class Cumsum(Function):
    """z_i = x_0 + ... + x_i along `axis`.   dL/dx_j = sum_{i >= j} g_i  (cumsum of g, reversed)"""
    backward_reads_inputs = False

    def forward(self, x, axis):
        self.axis = axis
        return xp_of(x).cumsum(x, axis=axis)

    def backward(self, g):
        return _reverse(Cumsum.apply(_reverse(g, self.axis), axis=self.axis), self.axis)

    def backward_arrays(self, g):
        xp, reverse = xp_of(g), (slice(None),) * self.axis + (slice(None, None, -1),)
        return xp.cumsum(g[reverse], axis=self.axis)[reverse]


class Cumprod(Function):
    """z_i = x_0 * ... * x_i along `axis`.   dL/dx_j = sum_{i >= j} g_i * prod_{k <= i, k != j} x_k

    Not g z / x: that is 0/0 at a zero. The products "without x_j" are cumprods of n rows,
    row j being x with x_j replaced by 1 (n^2 memory for n = the axis length); being
    cumprods again, they are exact at zeros for gradients of any order.
    """
    def forward(self, x, axis):
        self.axis = axis
        return xp_of(x).cumprod(x, axis=axis)

    def backward(self, g):
        x = self.inputs[0]
        xp = xp_of(x.data)
        last, back = _to_last(x, self.axis)                        # (..., n)
        n = last.shape[-1]
        rows = where(constant(xp.eye(n, dtype=bool)), 1.0, last.reshape(last.shape[:-1] + (1, n)))
        without = Cumprod.apply(rows, axis=last.ndim)              # [..., j, i] = prod_{k<=i, k!=j} x_k
        later = constant(xp.triu(xp.ones((n, n), dtype=x.dtype)))  # i >= j
        g_last, _ = _to_last(g, self.axis)
        grad = (without * later * g_last.reshape(g_last.shape[:-1] + (1, n))).sum(axis=-1)
        return grad.transpose(back)


class Logcumsumexp(Function):
    """z_i = ln(e^x_0 + ... + e^x_i) along `axis`, stable for any x.
    dL/dx_j = sum_{i >= j} g_i e^(x_j - z_i)    (x_j <= z_i there, so no exponent is positive)

    Forward runs logaddexp along the axis (one step per element: exact where a shift by a
    global maximum would underflow the early terms); backward builds the n x n weights.
    """
    def forward(self, x, axis):
        xp = xp_of(x)
        self.axis = axis
        z = xp.moveaxis(x.copy(), axis, 0)
        for i in range(1, z.shape[0]):
            z[i] = xp.logaddexp(z[i - 1], z[i])
        self.z = xp.moveaxis(z, 0, axis)
        return self.z

    def backward(self, g):
        x = self.inputs[0]
        xp = xp_of(x.data)
        x_last, back = _to_last(x, self.axis)
        z_last, _ = _to_last(self.output(self.z), self.axis)
        g_last, _ = _to_last(g, self.axis)
        n = x_last.shape[-1]
        exponent = x_last.reshape(x_last.shape + (1,)) - z_last.reshape(z_last.shape[:-1] + (1, n))  # [j, i]
        later = constant(xp.triu(xp.ones((n, n), dtype=bool)))                # i >= j
        weights = where(later, exponent, -float("inf")).exp()
        return (weights * g_last.reshape(g_last.shape[:-1] + (1, n))).sum(axis=-1).transpose(back)


class Argsort(Query):
    """Indices that sort x along `axis` (stable: ties keep their order); no gradient"""
    def forward(self, x, axis=-1, descending=False):
        xp = xp_of(x)
        return xp.argsort(-x if descending else x, axis=axis, kind="stable")


# ----------------------------------------------------------------------------- entry points

def _scan_axis(x, axis, op):
    """(x, axis): axis=None flattens x first; a negative axis counts from the end."""
    if axis is None:
        return x.reshape(-1), 0
    return x, normalize_axes(axis, x.ndim, op)[0] if x.ndim else 0


@recordable
def cumsum(x, axis=None):
    x, axis = _scan_axis(x, axis, "cumsum")
    return Cumsum.apply(x.reshape(1), axis=0).reshape(()) if x.ndim == 0 else Cumsum.apply(x, axis=axis)


@recordable
def cumprod(x, axis=None):
    x, axis = _scan_axis(x, axis, "cumprod")
    return Cumprod.apply(x.reshape(1), axis=0).reshape(()) if x.ndim == 0 else Cumprod.apply(x, axis=axis)


@recordable
def logcumsumexp(x, axis=None):
    x, axis = _scan_axis(x, axis, "logcumsumexp")
    if x.ndim == 0:
        return Logcumsumexp.apply(x.reshape(1), axis=0).reshape(())
    return Logcumsumexp.apply(x, axis=axis)


def argsort(x, axis=-1, descending=False):
    """Indices that sort x along `axis` (stable), largest first if descending."""
    if x.ndim == 0:
        raise ValueError("argsort: a 0-d tensor has no axis to sort along")
    return Argsort.apply(x, axis=normalize_axes(axis, x.ndim, "argsort")[0], descending=bool(descending))


@recordable
def sort(x, axis=-1, descending=False):
    """x sorted along `axis`.   dL/dx: each g goes back to the element that landed there."""
    return take_along_axis(x, argsort(x, axis, descending), axis)


@recordable
def topk(x, k, axis=-1, largest=True):
    """(values, indices) of the k largest (or smallest) entries along `axis`, largest first.

    The values have gradients (like sort's); the indices do not.
    """
    if x.ndim == 0:
        raise ValueError("topk: a 0-d tensor has no axis to select along")
    axis = normalize_axes(axis, x.ndim, "topk")[0]
    if not 0 <= k <= x.shape[axis]:
        raise ValueError(f"topk: k={k} must be between 0 and the axis length {x.shape[axis]} "
                         f"(shape {x.shape}, axis {axis})")
    order = argsort(x, axis, descending=largest)
    indices = order[(slice(None),) * axis + (slice(0, k),)]
    return take_along_axis(x, indices, axis), indices
