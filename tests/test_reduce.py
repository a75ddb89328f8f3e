"""Reductions: sum, mean, max, min, var/std, logsumexp, softmax/log_softmax.

Random shapes (0-d and size-1 axes included) with every kind of axis -- None, an int, a
negative int, a tuple (possibly empty) -- and keepdims; forward values against NumPy,
gradients against float64 central differences (mg.gradcheck), second derivatives with
mg.gradgradcheck. max/min draw distinct values on a 1/8 grid, so no two elements are closer
than 0.125 (a tie would be a kink); the tie rule is pinned by example tests.
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad import backend

from .conftest import assert_forward, leaf

SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
SMALL_SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)


# ----------------------------------------------------------------------------- strategies

def smooth_values(shape):
    return hnp.arrays(np.float64, shape, elements=st.floats(-3, 3, allow_nan=False))


def distinct_values(shape):
    """Distinct multiples of 1/8: no ties, and every gap is far wider than eps."""
    return hnp.arrays(np.float64, shape, elements=st.integers(-100, 100).map(lambda k: k / 8),
                      unique=True)


def axes_for(ndim):
    """axis=None, an int (negative too) or a tuple of distinct axes (negative too, maybe empty)."""
    choices = [st.none(), hnp.valid_tuple_axes(ndim)]
    if ndim:
        choices.append(st.integers(-ndim, ndim - 1))
    return st.one_of(*choices)


def reduced_count(shape, axis):
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes]))


def np_logsumexp(a, axis=None, keepdims=False):
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


def np_log_softmax(a, axis):
    shifted = a - np.max(a, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


# name: (minigrad reduction (x, axis, keepdims), NumPy reference, value strategy)
REDUCTIONS = {
    "sum": (lambda x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims), np.sum, smooth_values),
    "mg.sum": (lambda x, axis, keepdims: mg.sum(x, axis=axis, keepdims=keepdims), np.sum,
               smooth_values),
    "mean": (lambda x, axis, keepdims: x.mean(axis=axis, keepdims=keepdims), np.mean, smooth_values),
    "max": (lambda x, axis, keepdims: x.max(axis=axis, keepdims=keepdims), np.max, distinct_values),
    "mg.max": (lambda x, axis, keepdims: mg.max(x, axis=axis, keepdims=keepdims), np.max,
               distinct_values),
    "min": (lambda x, axis, keepdims: x.min(axis=axis, keepdims=keepdims), np.min, distinct_values),
    "mg.min": (lambda x, axis, keepdims: mg.min(x, axis=axis, keepdims=keepdims), np.min,
               distinct_values),
    "logsumexp": (lambda x, axis, keepdims: mg.logsumexp(x, axis=axis, keepdims=keepdims),
                  np_logsumexp, smooth_values),
    "logsumexp-method": (lambda x, axis, keepdims: x.logsumexp(axis=axis, keepdims=keepdims),
                         np_logsumexp, smooth_values),
}


# ----------------------------------------------------------------------------- sum mean max min lse

@pytest.mark.parametrize("name", REDUCTIONS)
@given(data=st.data())
def test_reduction_forward_and_gradient(device, name, data):
    fn, ref, values = REDUCTIONS[name]
    shape = data.draw(SHAPES, label="shape")
    axis = data.draw(axes_for(len(shape)), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    a = data.draw(values(shape), label="x")
    x = leaf(a, device)
    assert_forward(fn(x, axis, keepdims), ref(a, axis=axis, keepdims=keepdims))
    assert mg.gradcheck(lambda t: fn(t, axis, keepdims), x)


@pytest.mark.parametrize("name", REDUCTIONS)
@given(data=st.data())
def test_reduction_second_order(device, name, data):
    fn, _, values = REDUCTIONS[name]
    shape = data.draw(SMALL_SHAPES, label="shape")
    axis = data.draw(axes_for(len(shape)), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    x = leaf(data.draw(values(shape), label="x"), device)
    assert mg.gradgradcheck(lambda t: fn(t, axis, keepdims), x)


# ----------------------------------------------------------------------------- var and std

@pytest.mark.parametrize("name", ["var", "std"])
@given(data=st.data())
def test_var_std_forward_and_gradient(device, name, data):
    shape = data.draw(SHAPES, label="shape")
    axis = data.draw(axes_for(len(shape)), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    count = reduced_count(shape, axis)
    # std = sqrt(var) has an infinite slope where var = 0, i.e. for a single element
    assume(name == "var" or count >= 2)
    ddof = data.draw(st.integers(0, min(1, count - 1)), label="ddof")   # count - ddof >= 1
    a = data.draw(distinct_values(shape), label="x")
    x = leaf(a, device)

    def fn(t):
        return getattr(t, name)(axis=axis, keepdims=keepdims, ddof=ddof)
    assert_forward(fn(x), getattr(np, name)(a, axis=axis, keepdims=keepdims, ddof=ddof))
    assert mg.gradcheck(fn, x)
    assert_forward(getattr(mg, name)(x, axis=axis, keepdims=keepdims, ddof=ddof), fn(x).numpy())


@pytest.mark.parametrize("name", ["var", "std"])
@given(data=st.data())
def test_var_std_second_order(device, name, data):
    shape = data.draw(SMALL_SHAPES, label="shape")
    axis = data.draw(axes_for(len(shape)), label="axis")
    count = reduced_count(shape, axis)
    assume(name == "var" or count >= 2)
    ddof = data.draw(st.integers(0, min(1, count - 1)), label="ddof")
    x = leaf(data.draw(distinct_values(shape), label="x"), device)
    assert mg.gradgradcheck(lambda t: getattr(t, name)(axis=axis, ddof=ddof), x)


def test_var_std_default_is_population(device):
    a = np.array([[1.0, 2.0, 4.0], [0.0, 0.0, 3.0]])
    x = leaf(a, device)
    np.testing.assert_allclose(x.var().numpy(), np.var(a))
    np.testing.assert_allclose(x.std(axis=1).numpy(), np.std(a, axis=1))
    np.testing.assert_allclose(x.std(axis=0, ddof=1).numpy(), np.std(a, axis=0, ddof=1))


def test_var_with_ddof_equal_to_count_is_nan_like_numpy(device):
    x = leaf([2.0], device)
    with np.errstate(all="ignore"):
        out = x.var(ddof=1)
        assert np.isnan(out.numpy())
        assert np.isnan(x.std(ddof=1).numpy())
        assert np.isnan(leaf(np.ones((2, 3)), device).var(axis=0, ddof=2).numpy()).all()


# ----------------------------------------------------------------------------- softmax

@pytest.mark.parametrize("name", ["log_softmax", "softmax"])
@given(data=st.data())
def test_softmax_forward_and_gradient(device, name, data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), label="shape")
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    a = data.draw(smooth_values(shape), label="x")
    x = leaf(a, device)
    fn = getattr(mg, name)
    expected = np_log_softmax(a, axis)
    assert_forward(fn(x, axis=axis), expected if name == "log_softmax" else np.exp(expected))
    assert mg.gradcheck(lambda t: fn(t, axis=axis), x)


@pytest.mark.parametrize("name", ["log_softmax", "softmax"])
@given(data=st.data())
def test_softmax_second_order(device, name, data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), label="shape")
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = leaf(data.draw(smooth_values(shape), label="x"), device)
    fn = getattr(mg, name)
    assert mg.gradgradcheck(lambda t: fn(t, axis=axis), x)


def test_softmax_default_axis_is_last(device):
    a = np.arange(6.0).reshape(2, 3)
    x = leaf(a, device)
    np.testing.assert_allclose(mg.softmax(x).numpy(), np.exp(np_log_softmax(a, -1)), rtol=1e-12)
    np.testing.assert_allclose(mg.log_softmax(x).numpy(), np_log_softmax(a, -1), rtol=1e-12)
    np.testing.assert_allclose(mg.softmax(x).numpy().sum(axis=-1), [1.0, 1.0], rtol=1e-12)


def test_softmax_family_is_stable_for_large_inputs(device):
    a = np.array([[1000.0, 1000.0], [1000.0, 0.0], [-1000.0, 0.0]])
    x = leaf(a, device)
    np.testing.assert_allclose(mg.softmax(x, axis=1).numpy(), [[0.5, 0.5], [1.0, 0.0], [0.0, 1.0]],
                               atol=1e-300)
    np.testing.assert_allclose(mg.log_softmax(x, axis=1).numpy(),
                               [[-np.log(2), -np.log(2)], [0.0, -1000.0], [-1000.0, 0.0]], rtol=1e-12)
    lse = mg.logsumexp(x, axis=1)
    np.testing.assert_allclose(lse.numpy(), [1000 + np.log(2), 1000.0, 0.0], rtol=1e-12)
    (lse.sum() + mg.log_softmax(x, axis=0).sum() + mg.softmax(x, axis=1)[:, 0].sum()).backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_logsumexp_of_minus_infinity_is_minus_infinity(device):
    x = mg.tensor(np.array([[-np.inf, -np.inf], [0.0, -np.inf]]), device=device)
    with np.errstate(divide="ignore"):                       # log(0) = -inf is the answer here
        np.testing.assert_array_equal(mg.logsumexp(x, axis=1).numpy(), [-np.inf, 0.0])


# ----------------------------------------------------------------------------- ties

@pytest.mark.parametrize("op, values, expected", [
    ("max", [1.0, 3.0, 3.0], [0.0, 0.5, 0.5]),
    ("min", [2.0, -1.0, -1.0], [0.0, 0.5, 0.5]),
    ("max", [2.0, 2.0, 2.0, 2.0], [0.25, 0.25, 0.25, 0.25]),
    ("max", [3.0, 1.0, 3.0, 3.0], [1 / 3, 0.0, 1 / 3, 1 / 3]),
])
def test_max_min_ties_split_the_gradient_equally(device, op, values, expected):
    x = leaf(values, device)
    getattr(x, op)().backward()
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("keepdims", [False, True])
def test_max_ties_along_an_axis(device, keepdims):
    x = leaf([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], device)
    out = x.max(axis=1, keepdims=keepdims)
    np.testing.assert_array_equal(out.numpy(), [[3.0], [2.0]] if keepdims else [3.0, 2.0])
    out.backward(mg.tensor(np.array([[2.0], [4.0]] if keepdims else [2.0, 4.0]), device=device))
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 1.0, 1.0], [2.0, 2.0, 0.0]])


def test_min_ties_over_a_tuple_of_axes(device):
    a = np.array([[[0.0, 5.0], [4.0, 1.0]], [[2.0, 0.0], [3.0, 2.0]]])
    x = leaf(a, device)
    out = x.min(axis=(0, -1))                  # over axes 0 and 2: one value per axis-1 index
    np.testing.assert_array_equal(out.numpy(), [0.0, 1.0])
    out.sum().backward()                       # the 0 appears twice in slice 0, the 1 once in slice 1
    np.testing.assert_allclose(x.grad.numpy(), [[[0.5, 0.0], [0.0, 1.0]], [[0.0, 0.5], [0.0, 0.0]]])


# ----------------------------------------------------------------------------- 0-d results, dtypes

ALL_REDUCTIONS = {
    "sum": lambda x: x.sum(), "mean": lambda x: x.mean(), "max": lambda x: x.max(),
    "min": lambda x: x.min(), "var": lambda x: x.var(), "std": lambda x: x.std(),
    "var-ddof1": lambda x: x.var(ddof=1), "logsumexp": lambda x: mg.logsumexp(x),
    "sum-axis-tuple": lambda x: x.sum(axis=(0, 1)), "max-axis-tuple": lambda x: x.max(axis=(1, 0)),
    "mean-axis-neg": lambda x: x.mean(axis=(-1, -2)),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ALL_REDUCTIONS)
def test_full_reduction_is_a_0d_backend_array(device, name, dtype):
    a = np.array([[0.5, -1.25, 2.0], [1.0, 3.5, -0.75]])
    x = leaf(a, device, dtype=dtype)
    out = ALL_REDUCTIONS[name](x)
    assert out.shape == () and out.data.shape == ()
    assert backend.is_backend_array(out.data) and not isinstance(out.data, np.generic)
    assert out.device == x.device
    assert out.dtype == dtype
    out.backward()
    assert x.grad.dtype == dtype and x.grad.shape == (2, 3)
    assert backend.is_backend_array(x.grad.data)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var", "logsumexp"])
def test_reduction_of_a_0d_tensor(device, name):
    x = leaf(1.5, device)
    out = ALL_REDUCTIONS[name](x)
    assert out.shape == () and backend.is_backend_array(out.data)
    expected_value = 0.0 if name == "var" else 1.5
    np.testing.assert_allclose(out.numpy(), expected_value)
    out.backward()
    np.testing.assert_allclose(x.grad.numpy(), 0.0 if name == "var" else 1.0)


@pytest.mark.parametrize("fn", [lambda x: mg.softmax(x, axis=0), lambda x: mg.log_softmax(x, axis=-1),
                                lambda x: x.sum(axis=1, keepdims=True), lambda x: x.var(axis=0)],
                         ids=["softmax", "log_softmax", "sum-keepdims", "var-axis"])
def test_float32_in_float32_out(device, fn):
    x = leaf(np.array([[0.5, -1.25, 2.0], [1.0, 3.5, -0.75]]), device, dtype=np.float32)
    out = fn(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


# ----------------------------------------------------------------------------- zero-size inputs

@pytest.mark.parametrize("shape, axis, out_shape", [((0, 3), 0, (3,)), ((2, 0), 1, (2,)),
                                                    ((0, 3), None, ()), ((0, 3), 1, (0,)),
                                                    ((2, 0, 3), (0, 1), (3,))])
def test_sum_over_an_empty_axis(device, shape, axis, out_shape):
    x = leaf(np.zeros(shape), device)
    out = x.sum(axis=axis)
    assert out.shape == out_shape
    np.testing.assert_array_equal(out.numpy(), np.zeros(out_shape))
    out.backward(mg.tensor(np.ones(out_shape), device=device))
    assert x.grad.shape == shape
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(shape))


def test_mean_over_an_empty_axis_is_nan_like_numpy(device):
    x = leaf(np.zeros((0, 3)), device)
    out = x.mean(axis=0)
    assert out.shape == (3,)
    assert np.isnan(out.numpy()).all()
    out.sum().backward()
    assert x.grad.shape == (0, 3)


def test_max_over_an_empty_axis_is_an_error(device):
    x = leaf(np.zeros((0, 3)), device)
    with pytest.raises(ValueError, match=r"Max.*\(0, 3\)"):
        x.max(axis=0)


# ----------------------------------------------------------------------------- reuse

def test_reduced_tensor_used_twice(device):
    a = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]])
    x = leaf(a, device)
    rows = x.sum(axis=1)
    (rows * rows).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.repeat(2 * a.sum(axis=1, keepdims=True), 3, axis=1))


def test_max_and_min_of_the_same_tensor(device):
    x = leaf([[1.0, 5.0, -2.0]], device)
    (x.max() + 2 * x.min()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 1.0, 2.0]])


def test_softmax_weighted_by_its_own_input(device):
    x = leaf(np.array([[0.3, -1.2, 2.0], [1.0, 0.0, -0.5]]), device)
    assert mg.gradcheck(lambda t: (mg.softmax(t, axis=1) * t).sum(axis=1), x)
    assert mg.gradgradcheck(lambda t: (mg.softmax(t, axis=1) * t).sum(axis=1), x)


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("fn, op", [
    (lambda x: x.sum(axis=2), "sum"), (lambda x: x.sum(axis=-3), "sum"),
    (lambda x: x.max(axis=5), "max"), (lambda x: x.min(axis=(0, 2)), "min"),
    (lambda x: x.mean(axis=2), "reduction"), (lambda x: x.var(axis=-3), "reduction"),
    (lambda x: mg.logsumexp(x, axis=2), ""), (lambda x: mg.log_softmax(x, axis=2), "LogSoftmax"),
    (lambda x: mg.softmax(x, axis=-3), "LogSoftmax"),
], ids=["sum", "sum-neg", "max", "min-tuple", "mean", "var", "logsumexp", "log_softmax", "softmax"])
def test_bad_axis_is_a_clear_error(device, fn, op):
    x = leaf(np.ones((2, 3)), device)
    with pytest.raises(ValueError, match=rf"{op}.*axis.*(out of range|out of bounds)"):
        fn(x)


def test_repeated_axis_is_an_error(device):
    x = leaf(np.ones((2, 3)), device)
    with pytest.raises(ValueError, match="repeated axis"):
        x.sum(axis=(1, -1))
