"""Reductions: sum, max, min (each a node), and mean, var, std, logsumexp built from them.

Every reduction takes axis=None (all axes), an int or a tuple, and keepdims. The gradient
of a reduction is the upstream gradient spread back over the reduced axes, which is why
each backward first restores the reduced axes as size-1 axes ("kept shape") and then
broadcasts.
"""
from __future__ import annotations

import builtins   # any/all/sum/max/min below are the ops; builtins.any is Python's

from ..function import Function, constant, xp_of
from ..symbolic import recordable
from .elementwise import Query, where

__all__ = ["sum", "mean", "max", "min", "prod", "var", "std", "logsumexp", "softmax", "log_softmax",
           "argmax", "argmin", "any", "all"]


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
    backward_reads_inputs = False

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
    reduce_name = "max"

    def forward(self, x, axis=None, keepdims=False):
        self.axes = normalize_axes(axis, x.ndim, self.reduce_name)
        self.keepdims = keepdims
        if builtins.any(x.shape[a] == 0 for a in self.axes):
            raise ValueError(f"{self.reduce_name}: cannot reduce over an empty axis (shape {x.shape}, "
                             f"axis {axis}); an empty set has no {self.reduce_name}imum")
        self.z_kept = getattr(xp_of(x), self.reduce_name)(x, axis=self.axes, keepdims=True)
        return self.z_kept if keepdims else self.z_kept.reshape(
            [n for i, n in enumerate(x.shape) if i not in self.axes])

    def backward(self, g):
        return _spread_to_extremes(self, g)


class Min(Max):
    """z = min of x over `axis`.   dz/dx_i = 1/k if x_i is one of the k tied minima, else 0"""
    reduce_name = "min"


class Prod(Function):
    """z = product of x over `axis`.   dz/dx_i = product of all the other x_j

    Not z / x_i: that is 0/0 where x_i = 0. The product of the others is what the zeros
    need: with one zero, only that entry gets a gradient (the product of the non-zeros);
    with two or more, every gradient is 0.
      backward (recorded, any order): "leave one out" -- for each i, the reduced entries
          with x_i replaced by 1, multiplied by Prod again: exact at zeros for every order,
          with n^2 memory for n reduced entries.
      backward_arrays (the usual case): from the product of the non-zeros and their count, O(n).
    """
    def forward(self, x, axis=None, keepdims=False):
        self.axes = normalize_axes(axis, x.ndim, "prod")
        self.in_shape, self.keepdims = x.shape, keepdims
        return xp_of(x).prod(x, axis=self.axes, keepdims=keepdims)

    def _kept(self, g):
        return g if self.keepdims else g.reshape(kept_shape(self.in_shape, self.axes))

    def backward(self, g):
        x = self.inputs[0]
        kept = [a for a in range(x.ndim) if a not in self.axes]
        n = 1
        for a in self.axes:
            n *= x.shape[a]
        rows = x.transpose(kept + list(self.axes)).reshape(-1, 1, n)      # (m, 1, n)
        xp = xp_of(x.data)
        others = Prod.apply(where(constant(xp.eye(n, dtype=bool)), 1.0, rows), axis=-1)   # (m, n)
        permuted_shape = tuple(x.shape[a] for a in kept + list(self.axes))
        inverse = [0] * x.ndim
        for i, a in enumerate(kept + list(self.axes)):
            inverse[a] = i
        others = others.reshape(permuted_shape).transpose(inverse)
        return self._kept(g) * others

    def backward_arrays(self, g):
        x = self.inputs[0].data
        xp = xp_of(x)
        is_zero = x == 0
        zeros = is_zero.sum(axis=self.axes, keepdims=True)
        nonzero_product = xp.prod(xp.where(is_zero, 1, x), axis=self.axes, keepdims=True)
        safe_x = xp.where(is_zero, 1, x)
        others = xp.where(zeros == 0, nonzero_product / safe_x,
                          xp.where((zeros == 1) & is_zero, nonzero_product, 0))
        if not self.keepdims:
            g = g.reshape(kept_shape(self.in_shape, self.axes))
        return (g * others).astype(x.dtype, copy=False)


class ArgMax(Query):
    """Index of the (first) maximum over `axis` (None: of the flattened tensor); no gradient"""
    def forward(self, x, axis=None, keepdims=False):
        out = xp_of(x).argmax(x, axis=axis)
        return xp_of(x).expand_dims(out, axis) if keepdims and axis is not None else out


class ArgMin(Query):
    """Index of the (first) minimum over `axis` (None: of the flattened tensor); no gradient"""
    def forward(self, x, axis=None, keepdims=False):
        out = xp_of(x).argmin(x, axis=axis)
        return xp_of(x).expand_dims(out, axis) if keepdims and axis is not None else out


class Any(Query):
    """True where any element over `axis` is non-zero; no gradient"""
    def forward(self, x, axis=None, keepdims=False):
        return xp_of(x).any(x, axis=normalize_axes(axis, x.ndim, "any"), keepdims=keepdims)


class All(Query):
    """True where every element over `axis` is non-zero; no gradient"""
    def forward(self, x, axis=None, keepdims=False):
        return xp_of(x).all(x, axis=normalize_axes(axis, x.ndim, "all"), keepdims=keepdims)


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
    backward_reads_inputs = False

    def forward(self, x, axis=-1):
        xp = xp_of(x)
        self.axis = axis
        if x.size == 0:             # nothing to normalise (an empty axis or batch): empty, as PyTorch
            self.z = x.copy()
            return self.z
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


@recordable
def mean(x, axis=None, keepdims=False):
    """Average over `axis` = sum / count (the gradient is g / count, spread)."""
    count = _count(x, axis)
    total = x.sum(axis=axis, keepdims=keepdims)
    return total * (1.0 / count if count else float("nan"))   # empty: NaN, as NumPy


@recordable
def var(x, axis=None, keepdims=False, ddof=0):
    """Variance = sum((x - mean)^2) / (count - ddof).

    With count - ddof <= 0 the division is by zero, as in NumPy: inf where the squares sum
    to more than 0, NaN where they sum to 0.
    """
    centered = x - mean(x, axis=axis, keepdims=True)
    dof = _count(x, axis) - ddof
    return (centered * centered).sum(axis=axis, keepdims=keepdims) * (1.0 / dof if dof > 0 else float("inf"))


@recordable
def std(x, axis=None, keepdims=False, ddof=0):
    """Standard deviation = sqrt(var). Its gradient is infinite where var = 0."""
    return var(x, axis=axis, keepdims=keepdims, ddof=ddof).sqrt()


@recordable
def logsumexp(x, axis=None, keepdims=False):
    """log(sum(e^x)) = m + log(sum(e^(x - m))) with m = max(x): stable for any x.

    m is treated as a constant (detached); the result does not depend on it, and neither
    does the gradient, which is softmax(x). Over an empty axis the sum is 0: -inf, as PyTorch.
    """
    xp = xp_of(x.data)
    axes = normalize_axes(axis, x.ndim, "logsumexp")
    if builtins.any(x.shape[a] == 0 for a in axes):
        m = constant(xp.zeros(kept_shape(x.shape, axes), dtype=x.dtype))
    else:
        m = x.detach().max(axis=axis, keepdims=True)
        m = constant(xp.where(xp.isfinite(m.data), m.data, 0))
    out = (x - m).exp().sum(axis=axis, keepdims=True).log() + m
    if keepdims:
        return out
    return out.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))


def sum(x, axis=None, keepdims=False):  # noqa: A001 - mirrors numpy's name
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return Max.apply(x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    return Min.apply(x, axis=axis, keepdims=keepdims)


def prod(x, axis=None, keepdims=False):
    return Prod.apply(x, axis=axis, keepdims=keepdims)


def argmax(x, axis=None, keepdims=False):
    return ArgMax.apply(x, axis=axis, keepdims=keepdims)


def argmin(x, axis=None, keepdims=False):
    return ArgMin.apply(x, axis=axis, keepdims=keepdims)


def any(x, axis=None, keepdims=False):  # noqa: A001
    return Any.apply(x, axis=axis, keepdims=keepdims)


def all(x, axis=None, keepdims=False):  # noqa: A001
    return All.apply(x, axis=axis, keepdims=keepdims)


def log_softmax(x, axis=-1):
    return LogSoftmax.apply(x, axis=axis)


def softmax(x, axis=-1):
    """e^x / sum(e^x) = exp(log_softmax(x)): stable, and the gradient comes by composition."""
    return LogSoftmax.apply(x, axis=axis).exp()
