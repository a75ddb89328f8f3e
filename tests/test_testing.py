"""minigrad.testing: the strategies keep their promises, and assert_gradients_match asserts."""
import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import minigrad as mg
from minigrad.function import Function, constant
from minigrad.gradcheck import GradcheckError
from minigrad.testing import (ConvGeometry, arrays, assert_gradients_match, axes, broadcastable_shapes,
                              conv_geometries, conv_output_size, conv_transpose_output_size, elements,
                              reduced_shape, shape_and_axes, shapes, tensors)


def reachable(strategy, condition):
    """Some drawn value satisfies `condition` (a search that stops at the first hit, no shrinking)."""
    return find(strategy, condition, settings=settings(
        max_examples=2000, phases=[Phase.generate], database=None, derandomize=True))


# ----------------------------------------------------------------------------- optional import

def test_minigrad_imports_without_hypothesis_and_testing_says_how_to_get_it():
    code = (
        "import sys\n"
        "sys.modules['hypothesis'] = None\n"          # makes `import hypothesis` fail
        "import minigrad\n"
        "assert 'minigrad.testing' not in sys.modules\n"
        "try:\n"
        "    import minigrad.testing\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    raise SystemExit('minigrad.testing imported without hypothesis')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert "pip install 'minigrad[test]'" in done.stdout


# ----------------------------------------------------------------------------- shapes

@given(shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
def test_shapes_respect_their_bounds(shape):
    assert 1 <= len(shape) <= 3 and all(2 <= n <= 4 for n in shape)


def test_shapes_include_0d():
    assert reachable(shapes(), lambda s: s == ()) == ()
    assert reachable(shapes(), lambda s: len(s) == 4)


@given(st.integers(1, 4).flatmap(lambda k: st.tuples(st.just(k), broadcastable_shapes(k))))
def test_broadcastable_shapes_broadcast_together(k_and_shapes):
    k, shape_tuple = k_and_shapes
    assert isinstance(shape_tuple, tuple) and len(shape_tuple) == k
    result = np.broadcast_shapes(*shape_tuple)
    assert all(len(s) <= 4 and all(1 <= n <= 5 for n in s) for s in shape_tuple)
    assert np.broadcast_to(np.zeros(shape_tuple[0]), result).shape == result


def test_broadcastable_shapes_exercise_unbroadcasting():
    # a 0-d shape next to a bigger one, and a size-1 axis stretched by the other shape
    reachable(broadcastable_shapes(), lambda s: () in s and max(map(len, s)) >= 2)
    reachable(broadcastable_shapes(), lambda s: any(
        n == 1 and np.broadcast_shapes(*s)[i - len(shape)] > 1
        for shape in s for i, n in enumerate(shape)))


# ----------------------------------------------------------------------------- elements

@st.composite
def element_settings(draw):
    low = draw(st.floats(-5, 0))
    high = draw(st.floats(low + 2, low + 6))
    avoid = tuple(draw(st.lists(st.floats(low - 1, high + 1), max_size=3)))
    margin = draw(st.sampled_from([0.0, 0.05, 0.1, 0.3]))
    dtype = draw(st.sampled_from(["float16", "float32", "float64"]))
    return low, high, avoid, margin, dtype


@given(element_settings(), st.data())
def test_elements_keep_the_margin_from_every_kink(setting, data):
    low, high, avoid, margin, dtype = setting
    v = data.draw(elements(low, high, avoid=avoid, margin=margin, dtype=dtype))
    assert low <= v <= high
    assert np.dtype(dtype).type(v) == v                      # exactly representable
    for kink in avoid:
        assert abs(v - kink) >= margin and v != kink


@given(elements(avoid=(0,), margin=0.25))
def test_relu_style_elements(v):
    assert abs(v) >= 0.25 and -3 <= v <= 3


def test_elements_reject_an_empty_domain():
    with pytest.raises(InvalidArgument, match="nothing is left"):
        elements(-1, 1, avoid=(0,), margin=2)
    with pytest.raises(InvalidArgument):
        elements(1, -1)


@given(element_settings(), st.data())
def test_arrays_hold_such_elements(setting, data):
    low, high, avoid, margin, dtype = setting
    a = data.draw(arrays(shapes(max_dims=2, max_side=3), dtype, low, high, avoid=avoid, margin=margin))
    assert a.dtype == np.dtype(dtype)
    a = a.astype(np.float64)          # compare exactly (NumPy would round the bounds to float16)
    assert np.all((a >= low) & (a <= high))
    for kink in avoid:
        assert np.all(np.abs(a - kink) >= margin) and np.all(a != kink)


@given(st.sampled_from(["float32", "float64"]), st.sampled_from([0.01, 0.2, 0.5]),
       st.sampled_from([(), (0,), (-1, 1)]), st.data())
def test_min_gap_keeps_elements_apart_and_off_the_kinks(dtype, gap, avoid, data):
    a = data.draw(arrays(shapes(max_dims=2, max_side=3), dtype, avoid=avoid, margin=0.1, min_gap=gap))
    flat = np.sort(a.astype(np.float64).ravel())
    assert np.all(np.diff(flat) >= gap)
    assert np.all((flat >= -3) & (flat <= 3))
    for kink in avoid:
        assert np.all(np.abs(flat - kink) >= 0.1)


@given(arrays((3, 4), unique=True, margin=0.05))
def test_unique_means_at_least_margin_apart(a):
    assert np.all(np.diff(np.sort(a.ravel())) >= 0.05)


def test_min_gap_that_cannot_fit_says_so():
    @given(arrays(20, low=0, high=1, min_gap=0.1))
    def draw_it(a):
        pass
    with pytest.raises(InvalidArgument, match="min_gap"):
        draw_it()


@given(tensors(shapes(max_dims=2, max_side=3), low=-1.0, high=1.0, unique=True))
def test_max_gradient_with_spread_out_elements(x):
    # no ties: max's gradient is a one-hot and finite differences agree
    assert_gradients_match(lambda t: t.max(), x)


def test_tensors_live_on_the_device_and_require_grad(device):
    @given(tensors((2, 3), device=device), tensors(st.just(()), dtype="float32", device=device,
                                                   requires_grad=False))
    def check(x, y):
        assert x.device == device and y.device == device
        assert x.requires_grad and not y.requires_grad
        assert x.shape == (2, 3) and x.dtype == np.float64 and y.shape == () and y.dtype == np.float32
        assert np.all(np.abs(x.numpy()) <= 3)
    check()


# ----------------------------------------------------------------------------- axes

@given(shape_and_axes(max_dims=4, max_side=3), st.booleans())
def test_axes_are_valid_for_numpy_and_minigrad(shape_axis, keepdims):
    shape, axis = shape_axis
    a = np.arange(float(np.prod(shape))).reshape(shape)
    expected = np.sum(a, axis=axis, keepdims=keepdims)
    assert expected.shape == reduced_shape(shape, axis, keepdims)
    got = mg.tensor(a).sum(axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(got.numpy(), expected)


@given(st.integers(0, 4).flatmap(lambda n: st.tuples(st.just(n), axes(n))))
def test_axes_kinds(n_axis):
    ndim, axis = n_axis
    if isinstance(axis, int):
        assert ndim > 0 and -ndim <= axis < ndim
    elif isinstance(axis, tuple):
        assert len({a % ndim for a in axis}) == len(axis)
    else:
        assert axis is None


def test_axes_include_negative_ints_and_tuples():
    assert reachable(axes(3), lambda a: isinstance(a, int) and a < 0) < 0
    assert len(reachable(axes(3), lambda a: isinstance(a, tuple) and len(a) >= 2)) >= 2
    assert reachable(axes(3, allow_none=False, allow_int=False, min_size=1), lambda a: True) is not None


# ----------------------------------------------------------------------------- conv geometry

def reference_conv2d(x, w, stride, padding, dilation):
    """Direct definition: y[n, o, i, j] = sum_{c, p, q} xpad[n, c, i s + p d, j s + q d] w[o, c, p, q]."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    c_out, _, kh, kw = w.shape
    h_out = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    w_out = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((x.shape[0], c_out, h_out, w_out))
    for i, j, p, q in itertools.product(range(h_out), range(w_out), range(kh), range(kw)):
        patch = xp[:, :, i * sh + p * dh, j * sw + q * dw]            # (N, C_in)
        y[:, :, i, j] += patch @ w[:, :, p, q].T
    return y


def reference_conv_transpose2d(x, w, stride, padding, output_padding, dilation):
    """Direct definition: scatter x[n, c, i, j] w[c, o, p, q] to (i s + p d, j s + q d), then crop."""
    (sh, sw), (ph, pw), (oh, ow), (dh, dw) = stride, padding, output_padding, dilation
    n, _, h, wd = x.shape
    _, c_out, kh, kw = w.shape
    full = np.zeros((n, c_out, (h - 1) * sh + dh * (kh - 1) + 1 + oh, (wd - 1) * sw + dw * (kw - 1) + 1 + ow))
    for i, j, p, q in itertools.product(range(h), range(wd), range(kh), range(kw)):
        full[:, :, i * sh + p * dh, j * sw + q * dw] += x[:, :, i, j] @ w[:, :, p, q]
    return full[:, :, ph:full.shape[2] - ph, pw:full.shape[3] - pw]


def check_geometry_rules(g):
    assert min(g.output_shape) >= 1
    for k, s, p, d, op in zip(g.kernel, g.stride, g.padding, g.dilation, g.output_padding):
        assert 0 <= p < d * (k - 1) + 1
        assert 0 <= op < max(s, d)
        if not g.transposed:
            assert op == 0


@given(conv_geometries(max_dilation=2, max_stride=3, max_padding=2))
def test_conv_geometry_matches_the_formula_and_numpy_reference(g):
    check_geometry_rules(g)
    assert g.input_shape == (g.batch, g.in_channels, g.height, g.width)
    assert g.weight_shape == (g.out_channels, g.in_channels, *g.kernel)
    assert g.output_shape[2:] == tuple(
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, s, p, d in zip((g.height, g.width), g.kernel, g.stride, g.padding, g.dilation))
    rng = np.random.default_rng(0)
    y = reference_conv2d(rng.standard_normal(g.input_shape), rng.standard_normal(g.weight_shape),
                         g.stride, g.padding, g.dilation)
    assert y.shape == g.output_shape


@given(conv_geometries(transpose=True, max_dilation=2, max_stride=3, max_padding=2))
def test_transposed_conv_geometry_matches_the_formula_and_numpy_reference(g):
    check_geometry_rules(g)
    assert g.weight_shape == (g.in_channels, g.out_channels, *g.kernel)
    assert g.output_shape[2:] == tuple(
        (n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, k, s, p, d, op in zip(
            (g.height, g.width), g.kernel, g.stride, g.padding, g.dilation, g.output_padding))
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(g.input_shape), rng.standard_normal(g.weight_shape)
    y = reference_conv_transpose2d(x, w, g.stride, g.padding, g.output_padding, g.dilation)
    assert y.shape == g.output_shape
    # conv_transpose is the adjoint of conv with the same settings: <conv_t(x), z> = <x, conv(z)>
    if all(op < s for op, s in zip(g.output_padding, g.stride)):
        z = rng.standard_normal(g.output_shape)
        cz = reference_conv2d(z, w, g.stride, g.padding, g.dilation)
        assert cz.shape == g.input_shape
        np.testing.assert_allclose(np.sum(y * z), np.sum(x * cz), rtol=1e-10, atol=1e-10)


def test_conv_geometries_reach_the_tricky_cases():
    reachable(conv_geometries(transpose=True, max_dilation=2), lambda g: max(g.output_padding) > 0)
    reachable(conv_geometries(), lambda g: g.output_shape[2:] == (1, 1) and max(g.padding) > 0)
    reachable(conv_geometries(), lambda g: g.kernel[0] != g.kernel[1] and g.stride[0] != g.stride[1])


def test_conv_geometry_refuses_invalid_settings():
    ConvGeometry(1, 1, 1, 3, 3, kernel=(3, 3), padding=(1, 1))
    with pytest.raises(ValueError, match="effective"):
        ConvGeometry(1, 1, 1, 3, 3, kernel=(1, 1), padding=(1, 0))
    with pytest.raises(ValueError, match="output_padding"):
        ConvGeometry(1, 1, 1, 3, 3, kernel=(3, 3), stride=(2, 2), output_padding=(2, 0), transposed=True)
    with pytest.raises(ValueError, match="only for transposed"):
        ConvGeometry(1, 1, 1, 3, 3, kernel=(3, 3), stride=(2, 2), output_padding=(1, 0))
    with pytest.raises(ValueError, match="empty output"):
        ConvGeometry(1, 1, 1, 2, 3, kernel=(3, 3))
    assert conv_output_size(5, 3, stride=2, padding=1) == 3
    assert conv_output_size(5, 3, stride=2, padding=(0, 1)) == 2       # (before, after), as conv2d
    with pytest.raises(ValueError, match="conv_output_size: the kernel covers 3 pixels"):
        conv_output_size(2, 3)                                          # conv2d's own check
    assert conv_transpose_output_size(3, 3, stride=2, padding=1, output_padding=1) == 6


def _conv_ops():
    F = pytest.importorskip("minigrad.functional")
    if not (hasattr(F, "conv2d") and hasattr(F, "conv_transpose2d")):
        pytest.skip("minigrad.functional has no conv2d/conv_transpose2d yet")
    return F


@given(conv_geometries(max_dilation=2), st.data())
def test_minigrad_conv2d_agrees_with_the_reference_on_every_geometry(g, data):
    F = _conv_ops()
    x = data.draw(arrays(g.input_shape))
    w = data.draw(arrays(g.weight_shape))
    y = F.conv2d(mg.tensor(x), mg.tensor(w), **g.kwargs)
    assert y.shape == g.output_shape
    np.testing.assert_allclose(y.numpy(), reference_conv2d(x, w, g.stride, g.padding, g.dilation),
                               rtol=1e-10, atol=1e-10)


@given(conv_geometries(transpose=True, max_dilation=2), st.data())
def test_minigrad_conv_transpose2d_agrees_with_the_reference_on_every_geometry(g, data):
    F = _conv_ops()
    x = data.draw(arrays(g.input_shape))
    w = data.draw(arrays(g.weight_shape))
    y = F.conv_transpose2d(mg.tensor(x), mg.tensor(w), **g.kwargs)
    assert y.shape == g.output_shape
    np.testing.assert_allclose(
        y.numpy(), reference_conv_transpose2d(x, w, g.stride, g.padding, g.output_padding, g.dilation),
        rtol=1e-10, atol=1e-10)


# ----------------------------------------------------------------------------- assert_gradients_match

class WrongSquare(Function):
    """z = x^2 with a planted bug: backward says 3x instead of 2x."""
    def forward(self, x):
        return x * x

    def backward(self, g):
        return g * 3 * self.inputs[0]


class FrozenSquare(Function):
    """z = x^2 whose backward is right in value but built from a constant: 2x is not
    differentiable again, so only second derivatives are wrong."""
    def forward(self, x):
        return x * x

    def backward(self, g):
        x = self.inputs[0].data
        return g * constant(2 * x)


def test_assert_gradients_match_passes_on_a_correct_op(device):
    a = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]])
    assert assert_gradients_match(lambda x: (x * x).sum(), a, device=device)
    x = mg.tensor(a, requires_grad=True, device=device)
    assert assert_gradients_match(lambda x, y: x * y + y.exp(), x, mg.tensor(a[0], requires_grad=True,
                                                                               device=device))


def test_assert_gradients_match_raises_on_a_wrong_backward(device):
    a = np.array([0.5, -1.0, 2.0])
    with pytest.raises(AssertionError) as info:
        assert_gradients_match(WrongSquare.apply, a, device=device)
    assert isinstance(info.value, GradcheckError)
    message = str(info.value)
    assert "WrongSquare.apply" in message
    assert "input 0" in message and "analytic" in message and "numerical" in message
    assert "(3,) float64" in message


def test_assert_gradients_match_second_order(device):
    a = np.array([0.5, -1.0, 2.0])
    assert assert_gradients_match(FrozenSquare.apply, a, device=device)        # first order is right
    with pytest.raises(AssertionError, match="second derivatives"):
        assert_gradients_match(FrozenSquare.apply, a, second_order=True, device=device)
    assert assert_gradients_match(lambda x: x ** 3, a, second_order=True, device=device)


def test_assert_gradients_match_passes_other_arguments_through():
    a = np.array([0.5, 1.0, 2.0])
    assert assert_gradients_match(lambda x, n, idx: (x ** n)[idx], a, 3, np.array([2, 0]))
    assert assert_gradients_match(lambda x: x.sum(), a, method="random-direction")


# ----------------------------------------------------------------------------- the README example
# (kept identical to the README's "Testing your own ops" snippet)

@given(tensors(shapes(max_dims=2, max_side=3)))
def test_tanh_gradients(x):
    assert_gradients_match(mg.tanh, x, second_order=True)


@given(tensors(shapes(max_dims=2, max_side=3), avoid=(0,)))   # keep off relu's kink at 0
def test_relu_gradients(x):
    assert_gradients_match(mg.relu, x)


@given(broadcastable_shapes(2, max_dims=3, max_side=3).flatmap(
    lambda s: st.tuples(arrays(s[0]), arrays(s[1], avoid=(0,)))))
def test_broadcasting_example(ab):
    a, b = ab
    assert_gradients_match(lambda x, y: mg.tanh(x) * y.relu(), a, b)


# ----------------------------------------------------------------------------- check_property, assert_model_gradients

from minigrad import nn  # noqa: E402
from minigrad.testing import NotWrittenYet, assert_model_gradients, check_arrays, check_property  # noqa: E402


def test_check_property_passes_and_reports_the_smallest_failing_example():
    def same_length(shape_pair):
        """the two shapes have the same number of axes"""
        assert len(shape_pair[0]) == len(shape_pair[1]), f"{len(shape_pair[0])} != {len(shape_pair[1])} axes"
    verdict = check_property(same_length, broadcastable_shapes(2, max_dims=2), max_examples=40)
    assert not verdict
    assert verdict.message.startswith("✗ the two shapes have the same number of axes: fails for the "
                                      "smallest example hypothesis found:"), verdict.message
    # shrinking goes down to one shape with no axes and one with a single axis of size 1
    assert "arguments: ((), (1,))" in verdict.message or "arguments: ((1,), ())" in verdict.message
    assert "AssertionError: 0 != 1 axes" in verdict.message or "AssertionError: 1 != 0 axes" in verdict.message
    held = check_property(lambda s: None, shapes(), name="anything", max_examples=7)
    assert held and held.message == "✓ anything: held for 7 drawn examples (hypothesis)."


def unwritten_array():
    raise NotImplementedError("Exercise 3c")


def test_check_property_says_when_the_code_is_not_written_and_shows_arrays():
    def unwritten(a):
        raise NotImplementedError("Exercise 3a")
    verdict = check_property(unwritten, arrays(shapes(max_dims=1)), name="p")
    assert not verdict and "✗ p: the code under test is not written yet (Exercise 3a)." in verdict.message
    assert verdict.unwritten == "Exercise 3a"

    def nested(a):              # a check inside the property: its placeholder is still named
        check_arrays(unwritten_array, a, what="inner").raise_if_failed()
    inner = check_property(nested, arrays(shapes(max_dims=1)), name="q")
    assert not inner and inner.message.startswith("✗ q: the code under test is not written yet (Exercise 3c)."), inner

    def positive(a):
        assert (a > 0).all(), "not all positive"
    arrays_fail = check_property(positive, arrays((2,)), name="positive")
    assert not arrays_fail and "arguments: array of shape (2,):" in arrays_fail.message
    assert arrays_fail.unwritten is None
    with pytest.raises(NotWrittenYet, match="Exercise 3a"):
        verdict.raise_if_failed()


def test_assert_model_gradients_accepts_a_numpy_x_as_assert_gradients_match_does(device):
    model = nn.Dense(2)
    model(mg.tensor(np.zeros((1, 3))))                       # build it
    model.to(device, dtype="float64")
    x = np.random.default_rng(0).normal(size=(4, 3))         # a NumPy array, not a Tensor
    assert assert_model_gradients(model, lambda x: (model(x) ** 2).sum(), x)
    assert assert_model_gradients(model, lambda x: (model(x) ** 2).sum(), x.astype(np.float32))
    with pytest.raises(TypeError, match="assert_model_gradients: x must be a Tensor or a floating NumPy array"):
        assert_model_gradients(model, lambda x: model(x).sum(), [[1.0, 2.0, 3.0]])


def test_assert_model_gradients_with_a_numpy_x_still_catches_a_wrong_gradient():
    model = nn.Dense(2)
    model(mg.tensor(np.zeros((1, 3))))
    model.to("cpu", dtype="float64")

    def cut_loss(x):            # the value depends on x and the weights, the graph does not
        return model(x).sum() * 0 + mg.tensor((model(x) ** 2).sum().item())
    x = np.random.default_rng(1).normal(size=(2, 3))
    with pytest.raises(GradcheckError, match="input 0 \\(shape \\(2, 3\\)"):
        assert_model_gradients(model, cut_loss, x)
