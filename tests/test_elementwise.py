"""Elementwise ops: forward values against NumPy, gradients against float64 central differences.

Every op gets
  * a hypothesis test over random shapes (0-d, size-1 axes and, for binary ops, broadcasting)
    that checks the forward value against the NumPy expression and runs mg.gradcheck;
  * a hypothesis second-order check (mg.gradgradcheck) on smaller shapes;
  * a fixed test on the edge shapes (0-d, (1,), broadcasting against 0-d) so those are covered
    whatever hypothesis draws.
Ops with kinks (relu, abs, leaky_relu, clip, maximum/minimum) get inputs kept MARGIN away from
the kink in the random tests, and the value at the kink is pinned by separate example tests.
"""
import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad import backend

from .conftest import assert_forward, leaf

MARGIN = 0.05          # distance from kinks and ties; finite differences use eps = 1e-6


# ----------------------------------------------------------------------------- domains

def _floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


class Interval:
    """Floats in [lo, hi], kept `margin` away from each kink.

    sample() (for the fixed edge-shape tests) puts `typical` at the first element, so even a
    0-d sample lies where the op has a non-zero slope (e.g. inside clip's range)."""

    def __init__(self, lo, hi, kinks=(), typical=0.7, margin=MARGIN):
        edges = [lo] + [e for k in sorted(kinks) for e in (k - margin, k + margin)] + [hi]
        self.pieces = [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]
        self.typical = typical

    def strategy(self):
        return st.one_of(*[_floats(a, b) for a, b in self.pieces])

    def sample(self, rng, shape):
        which = rng.integers(len(self.pieces), size=shape)
        lows = np.array([a for a, _ in self.pieces])[which]
        highs = np.array([b for _, b in self.pieces])[which]
        out = np.array(rng.uniform(lows, highs), dtype=np.float64)
        if out.size:
            out.flat[0] = self.typical
        return out


class Grid:
    """Multiples of 1/4 in [lo, hi], shifted by `offset`: two grids with offsets 0 and 1/8 never
    come closer than 1/8, which keeps maximum/minimum away from ties."""

    def __init__(self, lo, hi, offset=0.0):
        self.k_lo, self.k_hi, self.offset = int(lo * 4), int(hi * 4), offset

    def strategy(self):
        return st.integers(self.k_lo, self.k_hi).map(lambda k: k / 4 + self.offset)

    def sample(self, rng, shape):
        out = np.array(rng.integers(self.k_lo, self.k_hi + 1, size=shape) / 4 + self.offset,
                       dtype=np.float64)
        if out.size:
            out.flat[0] = 0.75 + self.offset          # not a tie, and not the grid's end
        return out


ANY = Interval(-3, 3)
AWAY_FROM_0 = Interval(-3, 3, kinks=(0,))
POSITIVE = Interval(0.1, 4)
DENOMINATOR = Interval(-3, 3, kinks=(0,), margin=0.5)          # |b| >= 0.5

SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
SMALL_SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)
PAIRS = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4)
SMALL_PAIRS = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)

# Shape pairs that must always be covered: 0-d, size-1 axes, broadcasting both ways.
EDGE_SHAPES = [(), (1,), (1, 1), (3, 1), (2, 1, 3)]
EDGE_PAIRS = [((), ()), ((), (2, 3)), ((3,), ()), ((1,), (3,)), ((2, 1), (1, 3)),
              ((3,), (2, 3)), ((2, 1, 3), (4, 1))]


# ----------------------------------------------------------------------------- op tables

def _leaky_ref(a, alpha=0.2):
    return np.where(a > 0, a, alpha * a)


# name: (minigrad function, NumPy reference, input domain)
UNARY = {
    "neg": (lambda x: -x, np.negative, ANY),
    "exp": (mg.exp, np.exp, ANY),
    "expm1": (mg.expm1, np.expm1, ANY),
    "log": (mg.log, np.log, POSITIVE),
    "sqrt": (mg.sqrt, np.sqrt, POSITIVE),
    "abs": (mg.abs, np.abs, AWAY_FROM_0),
    "relu": (mg.relu, lambda a: np.maximum(a, 0), AWAY_FROM_0),
    "leaky_relu": (lambda x: mg.leaky_relu(x, 0.2), _leaky_ref, AWAY_FROM_0),
    "sigmoid": (mg.sigmoid, lambda a: 1 / (1 + np.exp(-a)), Interval(-6, 6)),
    "tanh": (mg.tanh, np.tanh, ANY),
    "softplus": (mg.softplus, lambda a: np.log1p(np.exp(a)), Interval(-6, 6)),
    "clip": (lambda x: mg.clip(x, -1.0, 1.0), lambda a: np.clip(a, -1, 1),
             Interval(-3, 3, (-1, 1), typical=0.3)),
    "clip_low": (lambda x: x.clip(low=-0.5), lambda a: np.maximum(a, -0.5),
                 Interval(-3, 3, (-0.5,), typical=0.3)),
    "clip_high": (lambda x: x.clip(high=0.5), lambda a: np.minimum(a, 0.5),
                  Interval(-3, 3, (0.5,), typical=0.3)),
    "square_pow": (lambda x: x ** 2, np.square, ANY),
}

# name: (minigrad function, NumPy reference, domain of a, domain of b)
BINARY = {
    "add": (lambda a, b: a + b, np.add, ANY, ANY),
    "sub": (lambda a, b: a - b, np.subtract, ANY, ANY),
    "mul": (lambda a, b: a * b, np.multiply, ANY, ANY),
    "div": (lambda a, b: a / b, np.divide, ANY, DENOMINATOR),
    "pow": (lambda a, b: a ** b, np.power, Interval(0.2, 3), Interval(-2, 2)),
    "maximum": (mg.maximum, np.maximum, Grid(-3, 3), Grid(-3, 3, offset=0.125)),
    "minimum": (mg.minimum, np.minimum, Grid(-3, 3), Grid(-3, 3, offset=0.125)),
}


def _draw(data, shape, domain):
    return data.draw(hnp.arrays(np.float64, shape, elements=domain.strategy()))


# ----------------------------------------------------------------------------- unary ops

@pytest.mark.parametrize("name", UNARY)
@given(data=st.data())
def test_unary_forward_and_gradient(device, name, data):
    fn, ref, domain = UNARY[name]
    shape = data.draw(SHAPES, label="shape")
    a = _draw(data, shape, domain)
    x = leaf(a, device)
    assert_forward(fn(x), ref(a))
    assert mg.gradcheck(fn, x)


@pytest.mark.parametrize("name", UNARY)
@given(data=st.data())
def test_unary_second_order(device, name, data):
    fn, _, domain = UNARY[name]
    shape = data.draw(SMALL_SHAPES, label="shape")
    a = _draw(data, shape, domain)
    assert mg.gradgradcheck(fn, leaf(a, device))


@pytest.mark.parametrize("shape", EDGE_SHAPES, ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary_edge_shapes(device, name, shape):
    fn, ref, domain = UNARY[name]
    a = domain.sample(np.random.default_rng(0), shape)
    x = leaf(a, device)
    assert_forward(fn(x), ref(a))
    assert mg.gradcheck(fn, x)


@pytest.mark.parametrize("shape", EDGE_SHAPES, ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary_edge_shapes_second_order(device, name, shape):
    fn, _, domain = UNARY[name]
    assert mg.gradgradcheck(fn, leaf(domain.sample(np.random.default_rng(0), shape), device))


def test_method_forms_match_functions(device):
    a = POSITIVE.sample(np.random.default_rng(1), (2, 3))
    x = leaf(a, device)
    pairs = [(x.exp(), mg.exp(x)), (x.log(), mg.log(x)), (x.sqrt(), mg.sqrt(x)),
             (x.abs(), mg.abs(x)), (abs(x), mg.abs(x)), (x.relu(), mg.relu(x)),
             (x.sigmoid(), mg.sigmoid(x)), (x.tanh(), mg.tanh(x)),
             (x.clip(0.5, 1.5), mg.clip(x, 0.5, 1.5))]
    for method, function in pairs:
        np.testing.assert_array_equal(method.numpy(), function.numpy())


# ----------------------------------------------------------------------------- binary ops

@pytest.mark.parametrize("name", BINARY)
@given(data=st.data())
def test_binary_forward_and_gradient(device, name, data):
    fn, ref, dom_a, dom_b = BINARY[name]
    (shape_a, shape_b), _ = data.draw(PAIRS, label="shapes")
    a, b = _draw(data, shape_a, dom_a), _draw(data, shape_b, dom_b)
    x, y = leaf(a, device), leaf(b, device)
    assert_forward(fn(x, y), ref(a, b))
    assert mg.gradcheck(fn, x, y)


@pytest.mark.parametrize("name", BINARY)
@given(data=st.data())
def test_binary_second_order(device, name, data):
    fn, _, dom_a, dom_b = BINARY[name]
    (shape_a, shape_b), _ = data.draw(SMALL_PAIRS, label="shapes")
    x, y = leaf(_draw(data, shape_a, dom_a), device), leaf(_draw(data, shape_b, dom_b), device)
    assert mg.gradgradcheck(fn, x, y)


@pytest.mark.parametrize("shapes", EDGE_PAIRS, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_edge_shapes(device, name, shapes):
    fn, ref, dom_a, dom_b = BINARY[name]
    rng = np.random.default_rng(0)
    a, b = dom_a.sample(rng, shapes[0]), dom_b.sample(rng, shapes[1])
    x, y = leaf(a, device), leaf(b, device)
    out = fn(x, y)
    assert_forward(out, ref(a, b))
    assert mg.gradcheck(fn, x, y)
    # the gradients have the inputs' shapes (broadcasting undone)
    out.backward(mg.tensor(np.ones(out.shape), device=device))
    assert x.grad.shape == shapes[0] and y.grad.shape == shapes[1]


@pytest.mark.parametrize("shapes", EDGE_PAIRS, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_edge_shapes_second_order(device, name, shapes):
    fn, _, dom_a, dom_b = BINARY[name]
    rng = np.random.default_rng(0)
    x, y = leaf(dom_a.sample(rng, shapes[0]), device), leaf(dom_b.sample(rng, shapes[1]), device)
    assert mg.gradgradcheck(fn, x, y)


def test_binary_gradient_only_for_inputs_that_need_it(device):
    x = leaf([1.0, 2.0], device)
    c = mg.tensor(np.array([3.0, 4.0]), device=device)          # a constant
    (x * c).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    assert c.grad is None


# ----------------------------------------------------------------------------- pow

INT_EXPONENTS = [-2, -1, 0, 1, 2, 3]
FRACTIONAL_EXPONENTS = [0.5, -0.5, 1.5, 2.5, 1 / 3]


@given(data=st.data())
def test_pow_scalar_exponent(device, data):
    """Integer exponents on bases of either sign, fractional ones on positive bases."""
    p = data.draw(st.sampled_from(INT_EXPONENTS + FRACTIONAL_EXPONENTS), label="exponent")
    domain = Interval(-3, 3, kinks=(0,)) if isinstance(p, int) else Interval(0.2, 3)
    a = _draw(data, data.draw(SHAPES, label="shape"), domain)
    x = leaf(a, device)
    assert_forward(x ** p, np.power(a, float(p)))
    assert mg.gradcheck(lambda t: t ** p, x)
    assert mg.gradgradcheck(lambda t: t ** p, x)


@given(data=st.data())
def test_pow_scalar_base(device, data):
    """base ** tensor (__rpow__): d/dx b^x = b^x ln b."""
    base = data.draw(st.sampled_from([0.5, 2, 2.5, float(np.e)]), label="base")
    a = _draw(data, data.draw(SHAPES, label="shape"), Interval(-2, 2))
    x = leaf(a, device)
    assert_forward(base ** x, np.power(float(base), a))
    assert mg.gradcheck(lambda t: base ** t, x)
    assert mg.gradgradcheck(lambda t: base ** t, x)


def test_pow_integer_exponent_values(device):
    x = leaf([-2.0, 3.0], device)
    (x ** 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [12.0, 27.0])        # 3 x^2


def test_pow_numpy_scalar_exponent_keeps_dtype(device):
    x = leaf([1.0, 2.0], device, dtype=np.float32)
    y = x ** np.float64(2.0)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), [1.0, 4.0])


def test_pow_exponent_gradient_is_zero_for_nonpositive_base(device):
    """Documented in Pow: d(x^y)/dy uses ln x only where x > 0 and is 0 elsewhere."""
    x = leaf([-2.0, 0.0, 2.0], device)
    y = leaf([2.0, 2.0, 2.0], device)
    (x ** y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [0.0, 0.0, 4.0 * np.log(2.0)])
    np.testing.assert_allclose(x.grad.numpy(), [-4.0, 0.0, 4.0])


def test_pow_zero_exponent_at_zero_base(device):
    x = leaf([0.0, 2.0], device)
    y = x ** 0
    np.testing.assert_array_equal(y.numpy(), [1.0, 1.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


# ----------------------------------------------------------------------------- scalar operands

SCALAR_MIXES = {
    "x+2": (lambda x: x + 2, lambda a: a + 2),
    "2+x": (lambda x: 2 + x, lambda a: 2 + a),
    "x-1.5": (lambda x: x - 1.5, lambda a: a - 1.5),
    "1.5-x": (lambda x: 1.5 - x, lambda a: 1.5 - a),
    "3*x": (lambda x: 3 * x, lambda a: 3 * a),
    "x*0.5": (lambda x: x * 0.5, lambda a: a * 0.5),
    "x/4": (lambda x: x / 4, lambda a: a / 4),
    "2/x": (lambda x: 2.0 / x, lambda a: 2.0 / a),
    "max(x,0.5)": (lambda x: mg.maximum(x, 0.5), lambda a: np.maximum(a, 0.5)),
    "min(1,x)": (lambda x: mg.minimum(1.0, x), lambda a: np.minimum(1.0, a)),
}


@pytest.mark.parametrize("name", SCALAR_MIXES)
def test_scalar_operands(device, name):
    fn, ref = SCALAR_MIXES[name]
    a = Interval(0.2, 3, kinks=(0.5, 1.0)).sample(np.random.default_rng(2), (2, 3))
    x = leaf(a, device)
    assert_forward(fn(x), ref(a))
    assert mg.gradcheck(fn, x)
    # a Python scalar never widens float32
    x32 = leaf(a, device, dtype=np.float32)
    assert fn(x32).dtype == np.float32


# ----------------------------------------------------------------------------- where

TRIPLES = hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3)


@given(data=st.data())
def test_where(device, data):
    (shape_c, shape_a, shape_b), _ = data.draw(TRIPLES, label="shapes")
    cond = data.draw(hnp.arrays(np.bool_, shape_c), label="cond")
    a, b = _draw(data, shape_a, ANY), _draw(data, shape_b, ANY)
    c = mg.tensor(cond, device=device)
    x, y = leaf(a, device), leaf(b, device)

    def fn(p, q):
        return mg.where(c, p, q)
    assert_forward(fn(x, y), np.where(cond, a, b))
    assert mg.gradcheck(fn, x, y)


@given(data=st.data())
def test_where_second_order(device, data):
    (shape_c, shape_a, shape_b), _ = data.draw(TRIPLES, label="shapes")
    c = mg.tensor(data.draw(hnp.arrays(np.bool_, shape_c), label="cond"), device=device)
    x, y = leaf(_draw(data, shape_a, ANY), device), leaf(_draw(data, shape_b, ANY), device)
    assert mg.gradgradcheck(lambda p, q: mg.where(c, p, q), x, y)


def test_where_gradient_values_and_scalars(device):
    c = mg.tensor(np.array([True, False, True]), device=device)
    x = leaf([1.0, 2.0, 3.0], device)
    y = leaf([10.0, 20.0, 30.0], device)
    mg.where(c, x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(y.grad.numpy(), [0.0, 1.0, 0.0])
    x.grad = None
    out = mg.where(x > 1.5, x, 0.0)                      # a comparison as condition, scalar branch
    np.testing.assert_array_equal(out.numpy(), [0.0, 2.0, 3.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0])
    x.grad = None
    out = mg.where(x > 1.5, -1.0, x)                     # scalar first branch
    np.testing.assert_array_equal(out.numpy(), [1.0, -1.0, -1.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 0.0])


# ----------------------------------------------------------------------------- comparisons

COMPARISONS = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
               "eq": operator.eq, "ne": operator.ne}
VALUES_WITH_TIES = Grid(-1, 1)        # few distinct values, so == and the <= / < split are hit


@pytest.mark.parametrize("name", COMPARISONS)
@given(data=st.data())
def test_comparisons(device, name, data):
    op = COMPARISONS[name]
    (shape_a, shape_b), _ = data.draw(PAIRS, label="shapes")
    a, b = _draw(data, shape_a, VALUES_WITH_TIES), _draw(data, shape_b, VALUES_WITH_TIES)
    x, y = leaf(a, device), leaf(b, device)
    out = op(x, y)
    assert out.dtype == np.bool_
    assert out.requires_grad is False and out.is_leaf
    assert backend.is_backend_array(out.data) and out.device == x.device
    np.testing.assert_array_equal(out.numpy(), op(a, b))
    # against a scalar, on either side
    np.testing.assert_array_equal(op(x, 0.25).numpy(), op(a, 0.25))
    np.testing.assert_array_equal(op(0.25, x).numpy(), op(0.25, a))


def test_comparison_cuts_the_graph(device):
    x = leaf([1.0, -2.0], device)
    mask = x > 0
    assert not mask.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        mask.backward()


# ----------------------------------------------------------------------------- kinks and ties

def test_relu_at_zero(device):
    x = leaf([-1.0, 0.0, 2.0], device)
    mg.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])    # relu'(0) = 0


def test_abs_at_zero(device):
    x = leaf([-1.5, 0.0, 2.0], device)
    mg.abs(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-1.0, 0.0, 1.0])   # abs'(0) = 0


@pytest.mark.parametrize("alpha", [0.01, 0.2])
def test_leaky_relu_at_zero(device, alpha):
    x = leaf([-1.0, 0.0, 2.0], device)
    out = mg.leaky_relu(x, alpha)
    np.testing.assert_allclose(out.numpy(), [-alpha, 0.0, 2.0])
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [alpha, alpha, 1.0])   # leaky_relu'(0) = alpha


def test_leaky_relu_default_alpha(device):
    x = leaf([-1.0, 3.0], device)
    np.testing.assert_allclose(mg.leaky_relu(x).numpy(), [-0.01, 3.0])


@pytest.mark.parametrize("op, share_x", [(mg.maximum, [1.0, 0.5, 0.0]), (mg.minimum, [0.0, 0.5, 1.0])])
def test_maximum_minimum_ties_split_equally(device, op, share_x):
    x = leaf([3.0, 2.0, 1.0], device)
    y = leaf([2.0, 2.0, 2.0], device)
    op(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), share_x)
    np.testing.assert_array_equal(y.grad.numpy(), 1 - np.array(share_x))


@pytest.mark.parametrize("op", [mg.maximum, mg.minimum])
def test_maximum_minimum_of_a_tensor_with_itself(device, op):
    x = leaf([-1.0, 0.0, 2.0], device)
    out = op(x, x)
    np.testing.assert_array_equal(out.numpy(), [-1.0, 0.0, 2.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0])    # 0.5 + 0.5


def test_clip_passes_gradient_at_its_bounds(device):
    """Documented in Clip: dz/dx = 1 where low <= x <= high (bounds included), else 0."""
    x = leaf([-2.0, -1.0, 0.0, 1.0, 2.0], device)
    out = mg.clip(x, -1.0, 1.0)
    np.testing.assert_array_equal(out.numpy(), [-1.0, -1.0, 0.0, 1.0, 1.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0, 1.0, 0.0])


def test_clip_arguments_are_checked(device):
    x = leaf([1.0], device)
    with pytest.raises(ValueError, match="clip: give low, high or both"):
        mg.clip(x)
    with pytest.raises(ValueError, match="low=2.0 is greater than high=1.0"):
        mg.clip(x, 2.0, 1.0)


def test_softplus_of_0d_tensor_on_cpu():
    x = leaf(0.5, "cpu")
    out = mg.softplus(x)
    np.testing.assert_allclose(out.numpy(), np.log1p(np.exp(0.5)), rtol=1e-12)
    out.backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 / (1 + np.exp(-0.5)), rtol=1e-12)


# ----------------------------------------------------------------------------- stability

def test_sigmoid_softplus_are_stable_at_extremes(device):
    a = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    x = leaf(a, device)
    s = mg.sigmoid(x)
    np.testing.assert_allclose(s.numpy(), [0.0, 1 / (1 + np.exp(50.0)), 0.5, 1.0, 1.0], rtol=1e-12)
    p = mg.softplus(x)
    np.testing.assert_allclose(p.numpy(), [0.0, np.log1p(np.exp(-50.0)), np.log(2.0), 50.0, 1000.0],
                               rtol=1e-12)
    (s.sum() + p.sum()).backward()
    assert np.isfinite(x.grad.numpy()).all()


# ----------------------------------------------------------------------------- dtypes

ALL_OPS = {**{f"unary-{k}": (v[0], 1) for k, v in UNARY.items()},
           **{f"binary-{k}": (v[0], 2) for k, v in BINARY.items()},
           "where": (lambda a, b: mg.where(a > b, a, b), 2)}


@pytest.mark.parametrize("name", ALL_OPS)
def test_float32_in_float32_out(device, name):
    fn, arity = ALL_OPS[name]
    rng = np.random.default_rng(3)
    arrays = [Interval(0.2, 2, kinks=(0.5, 1.0)).sample(rng, (2, 3)) for _ in range(arity)]
    xs = [leaf(a, device, dtype=np.float32) for a in arrays]
    out = fn(*xs)
    assert out.dtype == np.float32
    out.sum().backward()
    for x in xs:
        assert x.grad.dtype == np.float32 and x.grad.shape == x.shape


def test_mixed_precision_gradients_keep_each_input_dtype(device):
    x = leaf([1.0, 2.0], device, dtype=np.float32)
    y = leaf([3.0, 4.0], device)
    out = x * y
    assert out.dtype == np.float64                  # as NumPy promotes
    out.sum().backward()
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


def test_float64_stays_float64(device):
    x = leaf([1.0, 2.0], device)
    for out in (x * 2.0, x + 1, mg.sigmoid(x), mg.exp(x), x ** 2):
        assert out.dtype == np.float64


# ----------------------------------------------------------------------------- zero-size, reuse

def test_zero_size_broadcasting(device):
    x = leaf(np.zeros((0, 3)), device)
    y = leaf([1.0, 2.0, 3.0], device)
    out = x * y + y
    assert out.shape == (0, 3)
    out.sum().backward()
    assert x.grad.shape == (0, 3)
    np.testing.assert_array_equal(y.grad.numpy(), [0.0, 0.0, 0.0])


REUSE = {
    "x*x": (lambda x: x * x, lambda a: 2 * a),
    "x+x": (lambda x: x + x, lambda a: np.full_like(a, 2.0)),
    "x-x": (lambda x: x - x, lambda a: np.zeros_like(a)),
    "x/x": (lambda x: x / x, lambda a: np.zeros_like(a)),
    "x**x": (lambda x: x ** x, lambda a: a ** a * (np.log(a) + 1)),
    "where(c,x,x)": (lambda x: mg.where(x > 1.0, x, x), lambda a: np.ones_like(a)),
}


@pytest.mark.parametrize("name", REUSE)
def test_tensor_used_twice_in_one_op(device, name):
    fn, expected_grad = REUSE[name]
    a = np.array([0.5, 1.5, 2.5])
    x = leaf(a, device)
    fn(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), expected_grad(a), rtol=1e-12, atol=1e-15)
    assert mg.gradcheck(fn, leaf(a, device))


def test_gradients_accumulate_across_backward_calls(device):
    x = leaf([1.0, 2.0], device)
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0 + 2.0, 3.0 + 4.0])


# ----------------------------------------------------------------------------- errors

def test_broadcast_mismatch_names_op_and_shapes(device):
    x = leaf(np.ones((2, 3)), device)
    y = leaf(np.ones(4), device)
    with pytest.raises(ValueError, match=r"Add.*\(2, 3\).*\(4,\)"):
        x + y
    with pytest.raises(ValueError, match=r"Mul.*\(2, 3\).*\(4,\)"):
        x * y
    with pytest.raises(ValueError, match=r"Maximum.*\(2, 3\).*\(4,\)"):
        mg.maximum(x, y)


def test_only_float_tensors_require_grad(device):
    with pytest.raises(TypeError, match="floating-point"):
        mg.tensor(np.array([1, 2]), device=device, requires_grad=True)
