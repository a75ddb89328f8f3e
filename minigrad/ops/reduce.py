"""Reductions: sum, max, min (each a node), and mean, var, std, logsumexp built from them.

Every reduction takes axis=None (all axes), an int or a tuple, and keepdims. The gradient
of a reduction is the upstream gradient spread back over the reduced axes, which is why
each backward first restores the reduced axes as size-1 axes ("kept shape") and then
broadcasts.
"""
from __future__ import annotations

from ..function import Function, constant, xp_of


def normalize_axes(axis, ndim: int, op: str = "reduction") -> tuple:
    """axis=None|int|tuple -> sorted tuple of non-negative axes, with a clear error if invalid."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim and not (ndim == 0 and a in (0, -1)):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimension(s)")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out)) if ndim else ()


def kept_shape(shape: tuple, axes: tuple) -> tuple:
    """`shape` with the reduced axes set to 1 (the keepdims=True result shape)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """z = sum of x over `axis`.   dz/dx_i = 1, so dL/dx = g spread over the summed axes"""
    def forward(self, x, axis=None, keepdims=False):
        self.axes = normalize_axes(axis, x.ndim, "sum")
        self.in_shape, self.keepdims = x.shape, keepdims
        return xp_of(x).sum(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        if not self.keepdims:
            g = g.reshape(kept_shape(self.in_shape, self.axes))
        return g.broadcast_to(self.in_shape)

    def backward_arrays(self, g):
        if not self.keepdims:
            g = g.reshape(kept_shape(self.in_shape, self.axes))
        return xp_of(g).broadcast_to(g, self.in_shape)


class Max(Function):
    """z = max of x over `axis`.   dz/dx_i = 1/k if x_i is one of the k tied maxima, else 0

    Ties share the gradient equally, so the result does not depend on element order.
    """
    def forward(self, x, axis=None, keepdims=False):
        self.axes = normalize_axes(axis, x.ndim, "max")
        self.keepdims = keepdims
        self.z_kept = xp_of(x).max(x, axis=self.axes, keepdims=True)
        return self.z_kept if keepdims else self.z_kept.reshape(
            [n for i, n in enumerate(x.shape) if i not in self.axes])

    def backward(self, g):
        return _spread_to_extremes(self, g)


class Min(Function):
    """z = min of x over `axis`.   dz/dx_i = 1/k if x_i is one of the k tied minima, else 0"""
    def forward(self, x, axis=None, keepdims=False):
        self.axes = normalize_axes(axis, x.ndim, "min")
        self.keepdims = keepdims
        self.z_kept = xp_of(x).min(x, axis=self.axes, keepdims=True)
        return self.z_kept if keepdims else self.z_kept.reshape(
            [n for i, n in enumerate(x.shape) if i not in self.axes])

    def backward(self, g):
        return _spread_to_extremes(self, g)


def _spread_to_extremes(node, g):
    """Gradient of max/min: g shared equally among the elements equal to the extreme."""
    x = node.inputs[0].data
    share = (x == node.z_kept).astype(g.dtype)
    share /= share.sum(axis=node.axes, keepdims=True)
    if not node.keepdims:
        g = g.reshape(node.z_kept.shape)
    return g * constant(share)


class LogSoftmax(Function):
    """z = x - logsumexp(x) along `axis`.   dL/dx = g - softmax(x) * sum(g),  softmax(x) = e^z

    Shifting by the maximum first keeps every exponent <= 0, so nothing overflows.
    """
    def forward(self, x, axis=-1):
        xp = xp_of(x)
        self.axis = axis
        shifted = x - xp.max(x, axis=axis, keepdims=True)
        self.z = shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))
        return self.z

    def backward(self, g):
        z = self.output(self.z)
        return g - z.exp() * g.sum(axis=self.axis, keepdims=True)


# ----------------------------------------------------------------------------- composites

def _count(x, axis) -> int:
    n = 1
    for a in normalize_axes(axis, x.ndim):
        n *= x.shape[a]
    return n


def mean(x, axis=None, keepdims=False):
    """Average over `axis` = sum / count (the gradient is g / count, spread)."""
    count = _count(x, axis)
    total = x.sum(axis=axis, keepdims=keepdims)
    return total * (1.0 / count if count else float("nan"))   # empty: NaN, as NumPy


def var(x, axis=None, keepdims=False, ddof=0):
    """Variance = sum((x - mean)^2) / (count - ddof)."""
    centered = x - mean(x, axis=axis, keepdims=True)
    dof = _count(x, axis) - ddof
    return (centered * centered).sum(axis=axis, keepdims=keepdims) * (1.0 / dof if dof > 0 else float("nan"))


def std(x, axis=None, keepdims=False, ddof=0):
    """Standard deviation = sqrt(var). Its gradient is infinite where var = 0."""
    return var(x, axis=axis, keepdims=keepdims, ddof=ddof).sqrt()


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(e^x)) = m + log(sum(e^(x - m))) with m = max(x): stable for any x.

    m is treated as a constant (detached); the result does not depend on it, and neither
    does the gradient, which is softmax(x).
    """
    xp = xp_of(x.data)
    m = x.detach().max(axis=axis, keepdims=True)
    m = constant(xp.where(xp.isfinite(m.data), m.data, 0))
    out = (x - m).exp().sum(axis=axis, keepdims=True).log() + m
    if keepdims:
        return out
    axes = normalize_axes(axis, x.ndim)
    return out.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))


def log_softmax(x, axis=-1):
    return LogSoftmax.apply(x, axis=axis)


def softmax(x, axis=-1):
    """e^x / sum(e^x) = exp(log_softmax(x)): stable, and the gradient comes by composition."""
    return LogSoftmax.apply(x, axis=axis).exp()
