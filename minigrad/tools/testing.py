"""Property-based testing tools for your own ops: hypothesis strategies and a gradient assertion.

A backward is only as good as the inputs it was tried on. These strategies draw the inputs
that find bugs -- 0-d tensors, size-1 axes that broadcast, negative axes, odd conv geometries --
while staying away from the points where a finite-difference check is meaningless (the kink
of relu at 0, ties in a max). Drop them into a hypothesis test together with
``assert_gradients_match``:

    import minigrad as mg
    from hypothesis import given
    from minigrad.testing import assert_gradients_match, shapes, tensors

    @given(tensors(shapes(max_dims=2, max_side=3)))
    def test_tanh_gradients(x):
        assert_gradients_match(mg.tanh, x, second_order=True)

    @given(tensors(shapes(max_dims=2, max_side=3), avoid=(0,)))   # keep off relu's kink at 0
    def test_relu_gradients(x):
        assert_gradients_match(mg.relu, x)

Strategies
    shapes                 array shapes (0-d included)
    broadcastable_shapes   tuples of shapes that broadcast together (size-1 axes, fewer axes)
    elements               floats in [low, high], `margin` away from each kink in `avoid`
    arrays, tensors        NumPy arrays / minigrad Tensors of such floats; `unique=` or
                           `min_gap=` keeps elements apart (no ties for max/min/sort)
    axes, shape_and_axes   axis arguments for reductions: None, an int (maybe negative), a tuple
    conv_geometries        consistent conv / transposed-conv settings (ConvGeometry)
Helpers
    assert_gradients_match  gradcheck (and gradgradcheck) as an assertion for tests
    assert_model_gradients  the same for a whole model: d loss / d x and every trainable weight
Checks in plain words (for notebooks and learners; each returns a Verdict: true or false, and
its text says what is wrong -- which input, your value vs the numerical one, a hint)
    check_gradients         a backward (or your own gradient function) vs finite differences
    check_arrays            an array you computed vs the expected one
    check_property          a property over hypothesis-drawn examples; the smallest failing one
    reduced_shape, conv_output_size, conv_transpose_output_size   shape arithmetic for references

Needs hypothesis (``pip install 'minigrad[test]'``); ``import minigrad`` itself does not.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

try:
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis import strategies as st
    from hypothesis.errors import NoSuchExample
    from hypothesis.errors import InvalidArgument
    from hypothesis.extra import numpy as hnp
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "minigrad.testing needs the 'hypothesis' package, which is not installed: "
        "pip install 'minigrad[test]'  (or: pip install hypothesis)") from exc

from .gradcheck import (GradcheckError, NotWrittenYet, Verdict, check_arrays, check_gradients,
                        gradcheck, gradgradcheck)
from ..engine.ops.conv import _conv_out_hw, _conv_transpose_out_hw
from ..engine.tensor import Tensor

__all__ = [
    "shapes", "broadcastable_shapes", "elements", "arrays", "tensors", "axes", "shape_and_axes",
    "reduced_shape", "ConvGeometry", "conv_geometries", "conv_output_size",
    "conv_transpose_output_size", "assert_gradients_match", "assert_model_gradients",
    "Verdict", "NotWrittenYet", "check_gradients", "check_arrays", "check_property",
]


# ----------------------------------------------------------------------------- shapes

def shapes(min_dims=0, max_dims=4, min_side=1, max_side=5):
    """Array shapes: tuples of `min_dims`..`max_dims` sides, each `min_side`..`max_side`.

    0-d shapes ``()`` are included by default; they catch ops that assume at least one axis.

        @given(arrays(shapes(max_dims=2)))
        def test_exp(x): ...
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=5):
    """Tuples of `num_shapes` shapes that broadcast together (NumPy rules).

    The shapes differ in their number of axes and have size-1 axes where the others do not,
    which is what tests the engine's unbroadcasting of gradients. The result shape is
    ``np.broadcast_shapes(*shapes)``.

        @given(broadcastable_shapes(2).flatmap(lambda s: st.tuples(tensors(s[0]), tensors(s[1]))))
        def test_mul(xy):
            assert_gradients_match(lambda x, y: x * y, *xy)
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side).map(lambda b: tuple(b.input_shapes))


# ----------------------------------------------------------------------------- elements

def _step_away(kink, margin, direction):
    """kink + direction * margin, nudged outwards until |x - kink| >= margin holds in floats."""
    x = kink + direction * margin
    while direction * (x - kink) < margin:
        x = float(np.nextafter(x, direction * np.inf))
    return x


def _allowed_intervals(low, high, avoid, margin, dtype):
    """[low, high] minus the open balls of radius `margin` around each kink, as closed
    intervals whose ends are exactly representable in `dtype` (rounded inwards)."""
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise InvalidArgument(f"minigrad.testing: dtype must be a floating dtype, got {dtype}")
    low, high, margin = float(low), float(high), float(margin)
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise InvalidArgument(f"minigrad.testing: need finite low <= high, got low={low}, high={high}")
    if not margin >= 0:
        raise InvalidArgument(f"minigrad.testing: margin must be >= 0, got {margin}")
    intervals = [(low, high)]
    for kink in sorted(float(k) for k in avoid):
        below, above = _step_away(kink, margin, -1), _step_away(kink, margin, +1)
        cut = []
        for a, b in intervals:
            if above < a or below > b:                        # the kink's ball misses [a, b]
                cut.append((a, b))
                continue
            if a <= below:
                cut.append((a, below))
            if above <= b:
                cut.append((above, b))
        intervals = cut
    # round each end inwards to the dtype, so drawn values are exact and stay inside
    rounded = []
    for a, b in intervals:
        lo, hi = dtype.type(a), dtype.type(b)
        if float(lo) < a:
            lo = np.nextafter(lo, dtype.type(np.inf))
        if float(hi) > b:
            hi = np.nextafter(hi, dtype.type(-np.inf))
        if margin == 0:                                       # open at a kink: step off it
            if any(float(lo) == float(k) for k in avoid):
                lo = np.nextafter(lo, dtype.type(np.inf))
            if any(float(hi) == float(k) for k in avoid):
                hi = np.nextafter(hi, dtype.type(-np.inf))
        if lo <= hi:
            rounded.append((float(lo), float(hi)))
    if not rounded:
        raise InvalidArgument(
            f"minigrad.testing: nothing is left of [{low}, {high}] once every value within "
            f"margin={margin} of the kinks {tuple(avoid)} is removed; widen the range or shrink margin")
    return rounded


def _width(dtype) -> int:
    return np.dtype(dtype).itemsize * 8


def elements(low=-3.0, high=3.0, avoid=(), margin=0.1, dtype="float64"):
    """Floats in [low, high] that stay at least `margin` away from every kink in `avoid`.

    Finite differences step over a kink and average two slopes, so a correct backward
    looks wrong there; keep the inputs off the kinks instead:

        relu, abs, leaky_relu   elements(avoid=(0,))
        clip(x, -1, 1)          elements(avoid=(-1, 1))
        log, sqrt, 1/x          elements(low=0.1, high=3)      (per-op bounds)

    Every value is exactly representable in `dtype` (float16/32/64), never NaN or infinite.

        @given(elements(avoid=(0,)))
        def test_relu_at_a_point(v): ...
    """
    width = _width(dtype)
    parts = [st.floats(min_value=a, max_value=b, allow_nan=False, allow_infinity=False,
                       allow_subnormal=False, width=width)
             for a, b in _allowed_intervals(low, high, avoid, margin, dtype)]
    return parts[0] if len(parts) == 1 else st.one_of(*parts)


# ----------------------------------------------------------------------------- arrays, tensors

def _as_shape_strategy(shape):
    if isinstance(shape, st.SearchStrategy):
        return shape
    return st.just((int(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape))


@st.composite
def _spread_arrays(draw, shape, dtype, low, high, avoid, margin, min_gap):
    """Arrays whose elements are pairwise at least `min_gap` apart (and off the kinks).

    Remove the forbidden zones around the kinks and glue what is left into one segment of
    length `total`. Draw n offsets u in [0, total - (n-1) gap], sort them and add k * gap to
    the k-th: the points are now >= gap apart in the glued segment, and mapping them back
    to the real line only widens the distances. The points go to the array positions in
    the order of the (unsorted) draws.
    """
    shape = draw(shape)
    n = math.prod(shape)
    dtype = np.dtype(dtype)
    # slack for rounding to `dtype`: the result keeps margin, gap and bounds exactly
    tol = 4 * float(np.finfo(dtype).eps) * max(1.0, abs(low), abs(high), *(abs(k) for k in avoid))
    intervals = _allowed_intervals(low + tol, high - tol, avoid, margin + tol, np.float64)
    gap = min_gap + 2 * tol
    lengths = np.array([b - a for a, b in intervals])
    room = float(lengths.sum()) - (n - 1) * gap
    if room < 0:
        raise InvalidArgument(
            f"minigrad.testing: {n} elements (shape {shape}) at least min_gap={min_gap} apart do not "
            f"fit in [{low}, {high}] minus the zones around {tuple(avoid)}; widen the range, lower "
            "min_gap/margin or draw smaller shapes")
    u = draw(hnp.arrays(np.float64, n, elements=st.floats(0.0, room, allow_subnormal=False)))
    order = np.argsort(u, kind="stable")
    glued = np.sort(u) + np.arange(n) * gap             # sorted, gaps >= gap, within [0, total]
    ends = np.cumsum(lengths)
    k = np.minimum(np.searchsorted(ends, glued, side="left"), len(intervals) - 1)
    starts = np.array([a for a, _ in intervals])
    stops = np.array([b for _, b in intervals])
    values = np.clip(starts[k] + glued - (ends[k] - lengths[k]), starts[k], stops[k])
    out = np.empty(n, dtype=np.float64)
    out[order] = values
    return out.reshape(shape).astype(dtype)


def arrays(shape, dtype="float64", low=-3.0, high=3.0, avoid=(), margin=0.1, unique=False,
           min_gap=None):
    """NumPy arrays of `shape` (a tuple, an int, or a strategy such as shapes()).

    Elements are drawn like ``elements(low, high, avoid, margin, dtype)``. For ops whose
    gradient breaks at ties (max, min, sort, median) ask for spread-out values:

        min_gap=0.05   every two elements differ by at least 0.05
        unique=True    the same with min_gap=margin (exactly distinct if margin=0)

        @given(arrays(shapes(max_dims=2), low=0.1, high=2.0))   # log's domain
        def test_log(a):
            assert_gradients_match(mg.log, a)
    """
    shape_strategy = _as_shape_strategy(shape)
    if unique and min_gap is None and margin > 0:
        min_gap = margin
    if min_gap is not None:
        if not min_gap > 0:
            raise InvalidArgument(f"minigrad.testing: min_gap must be > 0, got {min_gap}")
        _allowed_intervals(low, high, avoid, margin, dtype)   # validate arguments now
        return _spread_arrays(shape_strategy, dtype, float(low), float(high), tuple(avoid),
                              float(margin), float(min_gap))
    return hnp.arrays(np.dtype(dtype), shape_strategy, unique=bool(unique),
                      elements=elements(low, high, avoid, margin, dtype))


def tensors(shape, dtype="float64", low=-3.0, high=3.0, avoid=(), margin=0.1, unique=False,
            min_gap=None, device=None, requires_grad=True):
    """minigrad Tensors, drawn like arrays(), on `device` and with requires_grad=True.

    float64 is the default because gradient checks need it; pass dtype="float32" to test
    what training uses.

        @given(tensors(shapes(min_dims=1, max_dims=2), unique=True))
        def test_max(x):
            assert_gradients_match(lambda t: t.max(axis=-1), x)
    """
    def make(a):
        return Tensor(a, requires_grad=requires_grad, device=device)
    return arrays(shape, dtype, low, high, avoid, margin, unique, min_gap).map(make)


# ----------------------------------------------------------------------------- axes

def axes(ndim, allow_none=True, allow_int=True, allow_tuple=True, min_size=0, max_size=None):
    """The `axis=` argument of a reduction over an `ndim`-d array.

    None (all axes), an int in [-ndim, ndim) -- negative ones included -- or a tuple of
    distinct axes (possibly empty, possibly negative; never naming an axis twice).
    `min_size`/`max_size` bound the tuples' lengths. For ndim == 0 only None and () occur.

        @given(st.data())
        def test_sum(data):
            x = data.draw(tensors(shapes(max_dims=3)))
            axis = data.draw(axes(x.ndim))
            assert_gradients_match(lambda t: t.sum(axis=axis), x)
    """
    options = []
    if allow_none:
        options.append(st.none())
    if allow_int and ndim > 0:
        options.append(st.integers(-ndim, ndim - 1))
    if allow_tuple and min_size <= ndim:
        options.append(hnp.valid_tuple_axes(ndim, min_size=min_size, max_size=max_size))
    if not options:
        raise InvalidArgument(f"minigrad.testing.axes: no kind of axis is allowed for ndim={ndim}")
    return st.one_of(*options)


def shape_and_axes(min_dims=0, max_dims=4, min_side=1, max_side=5, **axes_kwargs):
    """Pairs (shape, axis) with `axis` valid for `shape` (see shapes() and axes()).

        @given(shape_and_axes(max_dims=3), st.booleans())
        def test_mean(shape_axis, keepdims):
            shape, axis = shape_axis
            ...
    """
    return shapes(min_dims, max_dims, min_side, max_side).flatmap(
        lambda shape: st.tuples(st.just(shape), axes(len(shape), **axes_kwargs)))


def reduced_shape(shape, axis=None, keepdims=False):
    """The shape of ``x.sum(axis=axis, keepdims=keepdims)`` for x of `shape`."""
    ndim = len(shape)
    if axis is None:
        chosen = set(range(ndim))
    else:
        chosen = {a % ndim for a in ((axis,) if isinstance(axis, int) else axis)} if ndim else set()
    if keepdims:
        return tuple(1 if i in chosen else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in chosen)


# ----------------------------------------------------------------------------- conv geometry

def conv_output_size(size, kernel, stride=1, padding=0, dilation=1):
    """Output length of a convolution along one axis:  (size + 2p - d(k-1) - 1) // s + 1.

    The rule conv2d itself uses (ops/conv.py), so a reference built on it cannot drift from
    the op. padding is an int or (before, after). Raises ValueError when the kernel's extent
    d(k-1)+1 is larger than the padded input (the output would be empty).
    """
    pads = tuple(padding) if isinstance(padding, (tuple, list)) else (padding, padding)
    return _conv_out_hw("conv_output_size", (size,), (kernel,), (stride,), (pads,), (dilation,))[0]


def conv_transpose_output_size(size, kernel, stride=1, padding=0, output_padding=0, dilation=1):
    """Output length of a transposed convolution:  (size-1) s - 2p + d(k-1) + output_padding + 1.

    conv_transpose2d's own rule (ops/conv.py); padding is an int or (before, after). Raises
    ValueError for an output_padding not below the stride or dilation, or an empty output.
    """
    pads = tuple(padding) if isinstance(padding, (tuple, list)) else (padding, padding)
    return _conv_transpose_out_hw("conv_transpose_output_size", (size,), (kernel,), (stride,), (pads,),
                                  (output_padding,), (dilation,))[0]


@dataclass(frozen=True)
class ConvGeometry:
    """One consistent set of conv2d (or conv_transpose2d) arguments, NCHW.

    Always valid: every output side is >= 1, padding < the effective kernel d(k-1)+1, and
    (transposed only) output_padding < max(stride, dilation), as PyTorch requires.

        g.input_shape    (batch, in_channels, height, width)
        g.weight_shape   conv: (out_channels, in_channels, kh, kw)
                         transposed: (in_channels, out_channels, kh, kw)
        g.bias_shape     (out_channels,)
        g.output_shape   (batch, out_channels, H_out, W_out)
        g.kwargs         stride/padding/dilation (+ output_padding) to pass to the op:
                         F.conv2d(x, w, b, **g.kwargs)
    """
    batch: int
    in_channels: int
    out_channels: int
    height: int
    width: int
    kernel: tuple = (1, 1)
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    dilation: tuple = (1, 1)
    output_padding: tuple = (0, 0)
    transposed: bool = False

    def __post_init__(self):
        for name in ("batch", "in_channels", "out_channels", "height", "width"):
            if getattr(self, name) < 1:
                raise ValueError(f"ConvGeometry: {name} must be >= 1, got {getattr(self, name)}")
        for k, s, p, d, op in zip(self.kernel, self.stride, self.padding, self.dilation,
                                  self.output_padding):
            if k < 1 or s < 1 or d < 1 or p < 0 or op < 0:
                raise ValueError(f"ConvGeometry: need kernel, stride, dilation >= 1 and padding, "
                                 f"output_padding >= 0: {self}")
            if p > d * (k - 1):
                raise ValueError(f"ConvGeometry: padding {p} is not smaller than the effective "
                                 f"kernel {d * (k - 1) + 1}: {self}")
            if not self.transposed and op:
                raise ValueError(f"ConvGeometry: output_padding is only for transposed conv: {self}")
            if op >= max(s, d):
                raise ValueError(f"ConvGeometry: output_padding {op} must be smaller than stride "
                                 f"{s} or dilation {d}: {self}")
        try:
            out = self.output_shape
        except ValueError as exc:           # conv_output_size: the kernel does not fit
            raise ValueError(f"ConvGeometry: empty output ({exc}): {self}") from None
        if min(out[2:]) < 1:
            raise ValueError(f"ConvGeometry: empty output {out}: {self}")

    @property
    def input_shape(self):
        return (self.batch, self.in_channels, self.height, self.width)

    @property
    def weight_shape(self):
        if self.transposed:
            return (self.in_channels, self.out_channels) + tuple(self.kernel)
        return (self.out_channels, self.in_channels) + tuple(self.kernel)

    @property
    def bias_shape(self):
        return (self.out_channels,)

    @property
    def output_shape(self):
        if self.transposed:
            sides = [conv_transpose_output_size(n, k, s, p, op, d) for n, k, s, p, op, d in zip(
                (self.height, self.width), self.kernel, self.stride, self.padding,
                self.output_padding, self.dilation)]
        else:
            sides = [conv_output_size(n, k, s, p, d) for n, k, s, p, d in zip(
                (self.height, self.width), self.kernel, self.stride, self.padding, self.dilation)]
        return (self.batch, self.out_channels, *sides)

    @property
    def kwargs(self):
        out = dict(stride=tuple(self.stride), padding=tuple(self.padding), dilation=tuple(self.dilation))
        if self.transposed:
            out["output_padding"] = tuple(self.output_padding)
        return out


@st.composite
def _conv_side(draw, transpose, max_size, max_kernel, max_stride, max_padding, max_dilation):
    """(size, kernel, stride, padding, dilation, output_padding) for one spatial axis."""
    d = draw(st.integers(1, max_dilation))
    if transpose:
        k = draw(st.integers(1, max_kernel))
    else:   # the effective kernel d(k-1)+1 must fit in the padded input: keep it <= max_size
        k = draw(st.integers(1, min(max_kernel, (max_size - 1) // d + 1)))
    s = draw(st.integers(1, max_stride))
    effective = d * (k - 1) + 1
    if transpose:
        n = draw(st.integers(1, max_size))
        # output (n-1)s - 2p + effective + op >= 1 holds for every op >= 0 when 2p <= (n-1)s + effective - 1
        p = draw(st.integers(0, min(max_padding, effective - 1, ((n - 1) * s + effective - 1) // 2)))
        op = draw(st.integers(0, max(s, d) - 1))
    else:
        p = draw(st.integers(0, min(max_padding, effective - 1)))
        n = draw(st.integers(max(1, effective - 2 * p), max_size))
        op = 0
    return n, k, s, p, d, op


def conv_geometries(transpose=False, max_batch=2, max_channels=3, max_size=7, max_kernel=3,
                    max_stride=2, max_padding=1, max_dilation=1):
    """Consistent ConvGeometry values for conv2d (or conv_transpose2d with transpose=True).

    Each spatial axis gets its own size, kernel, stride, padding and dilation (non-square
    cases included); the output is never empty. `max_size` bounds the input's sides.

        @given(conv_geometries(), st.data())
        def test_conv2d(g, data):
            x = data.draw(tensors(g.input_shape))
            w = data.draw(tensors(g.weight_shape))
            y = F.conv2d(x, w, **g.kwargs)
            assert y.shape == g.output_shape
            assert_gradients_match(lambda x, w: F.conv2d(x, w, **g.kwargs), x, w,
                                   method="random-direction")
    """
    for name, value, least in (("max_batch", max_batch, 1), ("max_channels", max_channels, 1),
                               ("max_size", max_size, 1), ("max_kernel", max_kernel, 1),
                               ("max_stride", max_stride, 1), ("max_padding", max_padding, 0),
                               ("max_dilation", max_dilation, 1)):
        if value < least:
            raise InvalidArgument(f"conv_geometries: {name} must be >= {least}, got {value}")
    side = _conv_side(bool(transpose), max_size, max_kernel, max_stride, max_padding, max_dilation)

    def build(args):
        batch, c_in, c_out, (h, kh, sh, ph, dh, oh), (w, kw, sw, pw, dw, ow) = args
        return ConvGeometry(batch, c_in, c_out, h, w, kernel=(kh, kw), stride=(sh, sw),
                            padding=(ph, pw), dilation=(dh, dw), output_padding=(oh, ow),
                            transposed=bool(transpose))
    return st.tuples(st.integers(1, max_batch), st.integers(1, max_channels),
                     st.integers(1, max_channels), side, side).map(build)


# ----------------------------------------------------------------------------- assertions

def _describe(fn):
    owner = getattr(fn, "__self__", None)     # SomeOp.apply: name the op, not Function.apply
    if isinstance(owner, type):
        return f"{owner.__name__}.{fn.__name__}"
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def assert_gradients_match(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, method="central",
                           second_order=False, device=None, seed=0):
    """Assert that fn's backward agrees with finite differences (minigrad.gradcheck).

    fn            a function of the inputs returning a tensor or a tuple of tensors
    inputs        Tensors, and NumPy arrays: floating arrays become float64 tensors (on
                  `device`) with requires_grad=True; anything else is passed through as is
    method        "central" (every element) or "random-direction" (cheap, for big inputs)
    second_order  also check second derivatives (mg.gradgradcheck), for ops used in
                  gradient penalties or Hessian-vector products

    Raises AssertionError (minigrad.gradcheck.GradcheckError) with gradcheck's report:
    which input, which element, the analytic and the numerical value.

        @given(arrays(shapes(max_dims=2)))
        def test_tanh(a):
            assert_gradients_match(mg.tanh, a, second_order=True)
    """
    __tracebackhide__ = True   # pytest: show the test's line, not ours
    converted = []
    for x in inputs:
        if isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating):
            x = Tensor(x.astype(np.float64), requires_grad=True, device=device)
        converted.append(x)
    shapes_ = ", ".join(f"{tuple(x.shape)} {x.dtype}" if isinstance(x, Tensor) else type(x).__name__
                        for x in converted)
    try:
        gradcheck(fn, *converted, eps=eps, atol=atol, rtol=rtol, method=method, seed=seed)
    except GradcheckError as exc:
        raise GradcheckError(f"gradients of {_describe(fn)} do not match finite differences, "
                             f"inputs [{shapes_}]:\n{exc}") from None
    if second_order:
        try:
            gradgradcheck(fn, *converted, eps=eps, atol=atol, rtol=rtol, method=method, seed=seed)
        except GradcheckError as exc:
            raise GradcheckError(f"second derivatives (gradgradcheck) of {_describe(fn)} do not match "
                                 f"finite differences, inputs [{shapes_}]:\n{exc}") from None
    return True



def assert_model_gradients(model, loss_fn, x, method="central", n_directions=4, eps=1e-6,
                           atol=1e-5, rtol=1e-3):
    """Assert that a whole model's gradients agree with finite differences.

    loss_fn(x) runs the model and returns a tensor; the check covers x and every trainable
    parameter of `model` (a minigrad.nn.Module; with none, x alone). Use a tiny float64 instance of the model
    (model.to(device, dtype="float64")). During each call of loss_fn, each parameter is
    swapped for the tensor gradcheck perturbs, and put back afterwards.
    """
    __tracebackhide__ = True
    slots = [(m, attr) for m in model.modules() for attr, p in m.own_parameters() if p.trainable]

    def fn(x, *weights):
        saved = [getattr(m, attr) for m, attr in slots]
        for (m, attr), w in zip(slots, weights):
            setattr(m, attr, w)              # a plain tensor stands in for the parameter
        try:
            return loss_fn(x)
        finally:
            for (m, attr), p in zip(slots, saved):
                setattr(m, attr, p)

    weights = [Tensor(getattr(m, attr).data, requires_grad=True) for m, attr in slots]
    if isinstance(x, Tensor):
        x = x.detach().requires_grad_()
    elif isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating):
        # as assert_gradients_match does: a float64 leaf, on the weights' device
        device = weights[0].device if weights else None
        x = Tensor(x.astype(np.float64), requires_grad=True, device=device)
    else:
        raise TypeError(f"assert_model_gradients: x must be a Tensor or a floating NumPy array, got "
                        f"{type(x).__name__}; wrap it with mg.tensor(x, dtype='float64')")
    return gradcheck(fn, x, *weights, method=method,
                     n_directions=n_directions, eps=eps, atol=atol, rtol=rtol)


def check_property(prop, *strategies, name=None, max_examples=50):
    """Run ``prop(*drawn)`` on hypothesis-drawn examples; a Verdict in plain words.

    prop        a function that raises (an assert, a Verdict's raise_if_failed) when the
                property does not hold for its arguments
    strategies  one hypothesis strategy per argument of prop
    name        what the property says, for the message (default: prop's docstring or name)

    When some example fails, hypothesis shrinks it to the smallest one it can find, and the
    text shows that example and the error it raised. The search is derandomised, so a
    notebook shows the same text on every run.

        check_property(lambda s: ..., broadcastable_shapes(2), name="unbroadcast undoes broadcasting")
    """
    name = name or ((prop.__doc__ or "").strip().splitlines() or [_describe(prop)])[0]

    def fails(args):
        try:
            prop(*args)
        except Exception:       # the learner's code: any exception is a failure to report
            return True
        return False

    search = settings(max_examples=max_examples, database=None, derandomize=True, deadline=None,
                      phases=[Phase.generate, Phase.shrink],
                      suppress_health_check=list(HealthCheck))
    try:
        example = find(st.tuples(*strategies), fails, settings=search)
    except NoSuchExample:
        return Verdict(True, f"✓ {name}: held for {max_examples} drawn examples (hypothesis).")
    try:
        prop(*example)
    except NotImplementedError as exc:       # a placeholder, maybe inside a nested check
        reason = getattr(exc, "reason", str(exc))
        detail = f" ({reason})" if reason else ""
        return Verdict(False, f"✗ {name}: the code under test is not written yet{detail}.\n"
                              "  Replace the `raise NotImplementedError` with your code, then run "
                              "this check again.", unwritten=reason)
    except Exception as exc:
        shown = ", ".join(_short_repr(a) for a in example)
        return Verdict(False, f"✗ {name}: fails for the smallest example hypothesis found:\n"
                              f"  arguments: {shown}\n"
                              f"  {type(exc).__name__}: {exc}")
    return Verdict(False, f"✗ {name}: failed on an example that passes when run again "
                          "(does the property depend on randomness or on state?)")


def _short_repr(value, limit=300):
    if isinstance(value, Tensor):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        with np.printoptions(precision=4, threshold=20):
            text = f"array of shape {value.shape}: {np.array2string(value, separator=', ')}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."
