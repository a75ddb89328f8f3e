"""Scans (cumulative ops) and sorting: cumsum, cumprod, logcumsumexp, sort, argsort, topk.

axis=None flattens first, as NumPy and Keras do. A scan's output element i depends on the
inputs 0..i along the axis, so its backward sums the upstream gradient from i to the end
("a reversed cumsum"). sort and topk are a gather with the indices of argsort, so their
values have gradients (each output's g goes back to the element it came from).
"""
from __future__ import annotations

from .. import backend
from ..function import Function, constant, xp_of
from ..symbolic import recordable
from .elementwise import Query, where
from .indexing import take_along_axis
from .movement import pad
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


def _shift(t, toward_end: bool):
    """t moved one step along its last axis, a zero coming in: toward the end, t'_i = t_{i-1};
    toward the start, t'_i = t_{i+1}."""
    if t.shape[-1] == 0:
        return t
    none = ((0, 0),) * (t.ndim - 1)
    if toward_end:
        return pad(t[..., :-1], none + ((1, 0),))
    return pad(t[..., 1:], none + ((0, 1),))


class LinearScan(Function):
    """h_i = b_i + a_i * h_{i-1} along the last axis, h_{-1} = 0 (reverse=True: from the end,
    h_i = b_i + a_i * h_{i+1}, h_n = 0). One step per element: O(n) time and memory.

    dL/db_j = u_j, where u runs the other way with the coefficients shifted one step:
        u_j = g_j + a_{j+1} u_{j+1}     (reverse: u_j = g_j + a_{j-1} u_{j-1})
    dL/da_j = u_j * h_{j-1}             (reverse: u_j * h_{j+1})
    The backward is this scan again, so derivatives of any order follow.
    """
    def forward(self, a, b, reverse=False):
        xp = xp_of(b)
        self.reverse = reverse
        h = xp.empty(backend.np.broadcast_shapes(a.shape, b.shape), dtype=xp.result_type(a, b))
        a, b = xp.broadcast_to(a, h.shape), xp.broadcast_to(b, h.shape)
        previous = xp.zeros(h.shape[:-1], dtype=h.dtype)
        steps = range(h.shape[-1] - 1, -1, -1) if reverse else range(h.shape[-1])
        for i in steps:
            previous = b[..., i] + a[..., i] * previous
            h[..., i] = previous
        self.h = h
        return h

    def backward(self, g):
        a, _ = self.inputs
        h = self.output(self.h)
        toward_end = self.reverse            # the coefficient of step i is a_{i+1} (a_{i-1} if reversed)
        u = LinearScan.apply(_shift(a, toward_end=toward_end), g, reverse=not self.reverse)
        return u * _shift(h, toward_end=not toward_end), u


def _cumprod_backward(x_last, g_last):
    """dL/dx_j = sum_{i >= j} g_i prod_{k <= i, k != j} x_k = (prod_{k < j} x_k) * S_j with
    S_j = g_j + x_{j+1} S_{j+1}: an exclusive cumprod times a reversed linear scan, O(n) and
    exact at zeros (no division by x)."""
    n = x_last.shape[-1]
    if n == 0:
        return g_last
    none = ((0, 0),) * (x_last.ndim - 1)
    before = Cumprod.apply(pad(x_last[..., :n - 1], none + ((1, 0),), value=1.0), axis=x_last.ndim - 1)
    later = LinearScan.apply(_shift(x_last, toward_end=False), g_last, reverse=True)
    return before * later


class Cumprod(Function):
    """z_i = x_0 * ... * x_i along `axis`.   dL/dx_j = sum_{i >= j} g_i * prod_{k <= i, k != j} x_k

    Not g z / x: that is 0/0 at a zero. The sum is (prod_{k < j} x_k) * S_j, where
    S_j = g_j + x_{j+1} S_{j+1} is a linear scan from the end (LinearScan): O(n) memory, and
    exact at zeros for gradients of any order.
    """
    def forward(self, x, axis):
        self.axis = axis
        return xp_of(x).cumprod(x, axis=axis)

    def backward(self, g):
        x = self.inputs[0]
        x_last, back = _to_last(x, self.axis)                        # (..., n)
        g_last, _ = _to_last(g, self.axis)
        return _cumprod_backward(x_last, g_last).transpose(back)


class Logcumsumexp(Function):
    """z_i = ln(e^x_0 + ... + e^x_i) along `axis`, stable for any x.
    dL/dx_j = sum_{i >= j} g_i e^(x_j - z_i) = e^(x_j - z_j) Q_j,  Q_j = g_j + e^(z_j - z_{j+1}) Q_{j+1}

    Forward runs logaddexp along the axis (one step per element: exact where a shift by a
    global maximum would underflow the early terms). Backward is a linear scan from the end
    (LinearScan, O(n) memory) whose factors are at most 1 (z never decreases, x_j <= z_j), so
    nothing overflows; where z stays at the same infinity the step factor is taken as 1 (its
    term's own weight e^(x_j - z_j) is then NaN, as the sum's was).
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
        x_last, back = _to_last(x, self.axis)
        z_last, _ = _to_last(self.output(self.z), self.axis)
        g_last, _ = _to_last(g, self.axis)
        none = ((0, 0),) * (z_last.ndim - 1)
        same = constant(z_last.data[..., :-1] == z_last.data[..., 1:])
        steps = where(same, 0.0, z_last[..., :-1] - z_last[..., 1:]).exp()     # e^(z_j - z_{j+1}) <= 1
        later = LinearScan.apply(pad(steps, none + ((0, 1),)), g_last, reverse=True)
        return ((x_last - z_last).exp() * later).transpose(back)


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
    if x.ndim == 0:                      # a 0-d tensor scans as one element: axis 0 (or -1) only
        if isinstance(axis, bool) or not isinstance(axis, int) or axis not in (0, -1):
            raise ValueError(f"{op}: axis {axis!r} is out of range for a 0-d tensor (shape ()); "
                             "use axis=0, -1 or None")
        return x, 0
    return x, normalize_axes(axis, x.ndim, op)[0]


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
