"""Convolution, transposed convolution, pooling, upsampling and padding (minigrad/ops/conv.py).

What is checked, and how:
  * forward values against naive loop references written here in plain NumPy (and against
    PyTorch when it is installed);
  * gradients of every input (x, w, b) against float64 central differences (mg.gradcheck) over
    random geometries: stride, asymmetric padding, dilation, output_padding;
  * second derivatives (mg.gradgradcheck) of conv2d, conv_transpose2d, the pools, upsample, pad2d;
  * the adjoint identity <conv2d(x, w), y> = <x, conv_transpose2d(y, w)>, and that conv2d's
    input gradient IS conv_transpose2d (bit for bit: one code path);
  * dtypes (float32 stays float32), non-contiguous inputs, max-pool ties, clear errors.
Geometries stay tiny (N <= 2, C <= 3, H, W <= 7, k <= 3): central differences cost two
forward passes per input element.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.ops.conv import (avg_pool2d, conv2d, conv_transpose2d, max_pool2d, pad2d,
                               upsample)

from .conftest import to_device

# second-order checks cost a first-order backward per finite difference: a third of the examples
fewer_examples = settings(max_examples=max(3, settings().max_examples // 3))


# ----------------------------------------------------------------------------- geometries

@st.composite
def padding_arg(draw, pads):
    """The same padding ((top, bottom), (left, right)) in one of the accepted spellings."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right and draw(st.booleans()):
        return top
    if top == bottom and left == right and draw(st.booleans()):
        return (top, left)
    return pads


@st.composite
def conv_geometries(draw, max_hw=7, max_channels=3):
    """Arguments for conv2d: shapes of x and w, stride, padding (maybe asymmetric), dilation."""
    n, c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, max_channels)), \
        draw(st.integers(1, max_channels))
    sides = []
    for _ in range(2):
        k, s, d = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
        before, after = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        span = d * (k - 1) + 1                  # the kernel's extent; must fit the padded input
        size = draw(st.integers(max(1, span - before - after), max(max_hw, span)))
        sides.append((size, k, s, (before, after), d))
    (h, kh, sh, pad_h, dh), (w, kw, sw, pad_w, dw) = sides
    return dict(x_shape=(n, c_in, h, w), w_shape=(c_out, c_in, kh, kw), stride=(sh, sw),
                padding=draw(padding_arg((pad_h, pad_w))), dilation=(dh, dw))


@st.composite
def conv_transpose_geometries(draw, max_in=4, max_channels=3):
    """Arguments for conv_transpose2d, with output_padding < max(stride, dilation)."""
    n, c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, max_channels)), \
        draw(st.integers(1, max_channels))
    sides = []
    for _ in range(2):
        size, k = draw(st.integers(1, max_in)), draw(st.integers(1, 3))
        s, d = draw(st.integers(1, 3)), draw(st.integers(1, 2))
        extra = draw(st.integers(0, max(s, d) - 1))
        room = (size - 1) * s + d * (k - 1) + extra   # padding beyond this leaves no output
        before = draw(st.integers(0, min(2, room)))
        after = draw(st.integers(0, min(2, room - before)))
        sides.append((size, k, s, (before, after), d, extra))
    (h, kh, sh, pad_h, dh, oh), (w, kw, sw, pad_w, dw, ow) = sides
    return dict(x_shape=(n, c_in, h, w), w_shape=(c_in, c_out, kh, kw), stride=(sh, sw),
                padding=draw(padding_arg((pad_h, pad_w))), dilation=(dh, dw),
                output_padding=(oh, ow))


@st.composite
def pool_geometries(draw, max_hw=7):
    """(x shape, kernel, stride or None) with the window inside the image."""
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, max_hw)), draw(st.integers(1, max_hw))
    kernel = (draw(st.integers(1, min(3, h))), draw(st.integers(1, min(3, w))))
    stride = draw(st.none() | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    return (n, c, h, w), kernel, stride


seeds = st.integers(0, 2**32 - 1)


def _normal(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


def _settings(geometry, *names):
    return {k: geometry[k] for k in names}


def _pads(padding):
    """Any accepted padding spelling -> ((top, bottom), (left, right))."""
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    return tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)


# ----------------------------------------------------------------------------- naive references

def naive_conv2d(x, w, stride, padding, dilation):
    """y[n,o,i,j] = sum_{c,a,b} w[o,c,a,b] * x_pad[n, c, i*sh + a*dh, j*sw + b*dw], by loops."""
    (pt, pb), (pl, pr) = _pads(padding)
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    (sh, sw), (dh, dw) = stride, dilation
    n, c_in, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    ho, wo = (h - dh * (kh - 1) - 1) // sh + 1, (wd - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, c_out, ho, wo))
    for i in range(ho):
        for j in range(wo):
            for a in range(kh):
                for b in range(kw):
                    pixel = x[:, :, i * sh + a * dh, j * sw + b * dw]          # (n, c_in)
                    y[:, :, i, j] += pixel @ w[:, :, a, b].T
    return y


def naive_conv_transpose2d(x, w, stride, padding, output_padding, dilation):
    """Every input pixel scatters w * x onto the output; padding crops the result, by loops."""
    (pt, pb), (pl, pr) = _pads(padding)
    (sh, sw), (dh, dw), (oh, ow) = stride, dilation, output_padding
    n, c_in, h, wd = x.shape
    _, c_out, kh, kw = w.shape
    full = np.zeros((n, c_out, (h - 1) * sh + dh * (kh - 1) + 1 + oh,
                     (wd - 1) * sw + dw * (kw - 1) + 1 + ow))
    for i in range(h):
        for j in range(wd):
            for a in range(kh):
                for b in range(kw):
                    full[:, :, i * sh + a * dh, j * sw + b * dw] += x[:, :, i, j] @ w[:, :, a, b]
    return full[:, :, pt:full.shape[2] - pb, pl:full.shape[3] - pr]


def naive_pool(x, kernel, stride, reduce):
    (kh, kw), (sh, sw) = kernel, stride or kernel
    n, c, h, w = x.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    y = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            y[:, :, i, j] = reduce(x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw], axis=(2, 3))
    return y


def distinct_values(seed, shape):
    """Values at least 1/size apart, so no max-pool window has a (near) tie."""
    size = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(size).reshape(shape) / size


# ----------------------------------------------------------------------------- forward values

@given(conv_geometries(), seeds)
def test_conv2d_matches_naive_loops(device, g, seed):
    x, w, b = _normal(seed, g["x_shape"], g["w_shape"], g["w_shape"][:1])
    kw = _settings(g, "stride", "padding", "dilation")
    y = conv2d(to_device(x, device), to_device(w, device), to_device(b, device), **kw)
    expected = naive_conv2d(x, w, **kw) + b[:, None, None]
    assert y.device == device
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)


@given(conv_transpose_geometries(), seeds)
def test_conv_transpose2d_matches_naive_loops(device, g, seed):
    x, w, b = _normal(seed, g["x_shape"], g["w_shape"], g["w_shape"][1:2])
    kw = _settings(g, "stride", "padding", "output_padding", "dilation")
    y = conv_transpose2d(to_device(x, device), to_device(w, device), to_device(b, device), **kw)
    expected = naive_conv_transpose2d(x, w, **kw) + b[:, None, None]
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)


@given(pool_geometries(), seeds)
def test_pools_match_naive_loops(device, geometry, seed):
    shape, kernel, stride = geometry
    x = _normal(seed, shape)[0]
    t = to_device(x, device)
    np.testing.assert_allclose(max_pool2d(t, kernel, stride).numpy(),
                               naive_pool(x, kernel, stride, np.max), rtol=1e-12)
    np.testing.assert_allclose(avg_pool2d(t, kernel, stride).numpy(),
                               naive_pool(x, kernel, stride, np.mean), rtol=1e-12)


def test_upsample_and_pad2d_values(device):
    x = np.arange(12.0).reshape(1, 2, 2, 3)
    t = to_device(x, device)
    np.testing.assert_array_equal(upsample(t).numpy(), x.repeat(2, axis=2).repeat(2, axis=3))
    np.testing.assert_array_equal(upsample(t, (1, 3)).numpy(), x.repeat(3, axis=3))
    np.testing.assert_array_equal(pad2d(t, 1).numpy(), np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))))
    np.testing.assert_array_equal(pad2d(t, ((0, 2), (1, 0)), value=-1.0).numpy(),
                                  np.pad(x, ((0, 0), (0, 0), (0, 2), (1, 0)), constant_values=-1.0))


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    kw = dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2))
    np.testing.assert_allclose(conv2d(mg.tensor(x), mg.tensor(w), mg.tensor(b), **kw).numpy(),
                               tf.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), **kw).numpy(),
                               rtol=1e-10, atol=1e-12)
    wt = rng.standard_normal((3, 4, 3, 3))
    kw = dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), dilation=(1, 2))
    np.testing.assert_allclose(conv_transpose2d(mg.tensor(x), mg.tensor(wt), **kw).numpy(),
                               tf.conv_transpose2d(torch.tensor(x), torch.tensor(wt), **kw).numpy(),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(max_pool2d(mg.tensor(x), 3, 2).numpy(),
                               tf.max_pool2d(torch.tensor(x), 3, 2).numpy())
    np.testing.assert_allclose(avg_pool2d(mg.tensor(x), (2, 3)).numpy(),
                               tf.avg_pool2d(torch.tensor(x), (2, 3)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(upsample(mg.tensor(x), (2, 3)).numpy(),
                               tf.interpolate(torch.tensor(x), scale_factor=(2, 3), mode="nearest").numpy())


# ----------------------------------------------------------------------------- first-order gradients

@given(conv_geometries(), seeds)
def test_conv2d_gradients(device, g, seed):
    x, w, b = (to_device(a, device, requires_grad=True)
               for a in _normal(seed, g["x_shape"], g["w_shape"], g["w_shape"][:1]))
    kw = _settings(g, "stride", "padding", "dilation")
    assert mg.gradcheck(lambda x, w, b: conv2d(x, w, b, **kw), x, w, b)


@given(conv_transpose_geometries(), seeds)
def test_conv_transpose2d_gradients(device, g, seed):
    x, w, b = (to_device(a, device, requires_grad=True)
               for a in _normal(seed, g["x_shape"], g["w_shape"], g["w_shape"][1:2]))
    kw = _settings(g, "stride", "padding", "output_padding", "dilation")
    assert mg.gradcheck(lambda x, w, b: conv_transpose2d(x, w, b, **kw), x, w, b)


@given(pool_geometries(), seeds)
def test_max_pool2d_gradients(device, geometry, seed):
    shape, kernel, stride = geometry
    x = to_device(distinct_values(seed, shape), device, requires_grad=True)
    assert mg.gradcheck(lambda x: max_pool2d(x, kernel, stride), x)


@given(pool_geometries(), seeds)
def test_avg_pool2d_gradients(device, geometry, seed):
    shape, kernel, stride = geometry
    x = to_device(_normal(seed, shape)[0], device, requires_grad=True)
    assert mg.gradcheck(lambda x: avg_pool2d(x, kernel, stride), x)


@given(st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 4), st.integers(1, 4)),
       st.integers(1, 3) | st.tuples(st.integers(1, 3), st.integers(1, 3)), seeds)
def test_upsample_gradients(device, shape, scale, seed):
    x = to_device(_normal(seed, shape)[0], device, requires_grad=True)
    assert mg.gradcheck(lambda x: upsample(x, scale), x)


@given(st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 4), st.integers(1, 4)),
       st.tuples(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                 st.tuples(st.integers(0, 2), st.integers(0, 2))).flatmap(padding_arg), seeds)
def test_pad2d_gradients(device, shape, pad, seed):
    x = to_device(_normal(seed, shape)[0], device, requires_grad=True)
    assert mg.gradcheck(lambda x: pad2d(x, pad, value=0.5), x)


@pytest.mark.parametrize("case", [
    dict(stride=2, padding=1, dilation=1),
    dict(stride=(1, 2), padding=((0, 2), (1, 1)), dilation=(2, 1)),
])
def test_conv_random_direction_on_larger_inputs(device, case):
    """A moderately sized layer: cheap directional checks instead of one per element."""
    rng = np.random.default_rng(1)
    x, w, b = (to_device(a, device, requires_grad=True) for a in
               (rng.standard_normal((3, 4, 12, 11)), rng.standard_normal((5, 4, 3, 3)),
                rng.standard_normal(5)))
    assert mg.gradcheck(lambda x, w, b: conv2d(x, w, b, **case), x, w, b,
                        method="random-direction", n_directions=5)
    y = to_device(rng.standard_normal((3, 5, 6, 5)), device, requires_grad=True)
    wt = to_device(rng.standard_normal((5, 4, 3, 3)), device, requires_grad=True)
    bt = to_device(rng.standard_normal(4), device, requires_grad=True)
    assert mg.gradcheck(lambda y, w, b: conv_transpose2d(y, w, b, output_padding=1, **case),
                        y, wt, bt, method="random-direction", n_directions=5)


# ----------------------------------------------------------------------------- second order

@fewer_examples
@given(conv_geometries(max_hw=5, max_channels=2), seeds)
def test_conv2d_second_order(device, g, seed):
    x, w, b = (to_device(a, device, requires_grad=True)
               for a in _normal(seed, g["x_shape"], g["w_shape"], g["w_shape"][:1]))
    kw = _settings(g, "stride", "padding", "dilation")
    assert mg.gradgradcheck(lambda x, w, b: conv2d(x, w, b, **kw), x, w, b)


@fewer_examples
@given(conv_transpose_geometries(max_in=3, max_channels=2), seeds)
def test_conv_transpose2d_second_order(device, g, seed):
    x, w = (to_device(a, device, requires_grad=True)
            for a in _normal(seed, g["x_shape"], g["w_shape"]))
    kw = _settings(g, "stride", "padding", "output_padding", "dilation")
    assert mg.gradgradcheck(lambda x, w: conv_transpose2d(x, w, **kw), x, w)


def test_second_order_on_larger_inputs(device):
    """The filter-gradient node's own backward, on a layer big enough to overlap windows a lot."""
    rng = np.random.default_rng(2)
    x = to_device(rng.standard_normal((2, 3, 8, 7)), device, requires_grad=True)
    w = to_device(rng.standard_normal((4, 3, 3, 3)), device, requires_grad=True)
    assert mg.gradgradcheck(lambda x, w: conv2d(x, w, stride=2, padding=((1, 0), (2, 1))), x, w,
                            method="random-direction")
    y = to_device(rng.standard_normal((2, 4, 4, 3)), device, requires_grad=True)
    assert mg.gradgradcheck(lambda y, w: conv_transpose2d(y, w, stride=2, output_padding=1), y, w,
                            method="random-direction")


@fewer_examples
@given(pool_geometries(max_hw=5), seeds)
def test_pools_second_order(device, geometry, seed):
    """Pools are piecewise linear: the checks see d(grad)/dv, and d(grad)/dx = 0 off ties."""
    shape, kernel, stride = geometry
    x = to_device(distinct_values(seed, shape), device, requires_grad=True)
    assert mg.gradgradcheck(lambda x: max_pool2d(x, kernel, stride), x)
    assert mg.gradgradcheck(lambda x: avg_pool2d(x, kernel, stride), x)
    assert mg.gradgradcheck(lambda x: upsample(x, (2, 1)), x)
    assert mg.gradgradcheck(lambda x: pad2d(x, ((1, 0), (0, 2))), x)


# ----------------------------------------------------------------------------- structure

def _back_to_input(g):
    """The output_padding that makes conv_transpose2d return to conv2d's input size.

    A strided conv2d maps several input sizes to one output size (the rows left over by the
    last stride are never read); output_padding picks which one to go back to.
    """
    (pt, pb), (pl, pr) = _pads(g["padding"])
    return tuple((n + before + after - d * (k - 1) - 1) % s for n, before, after, k, s, d in zip(
        g["x_shape"][2:], (pt, pl), (pb, pr), g["w_shape"][2:], g["stride"], g["dilation"]))


@given(conv_geometries(), seeds)
def test_conv_transpose2d_is_the_adjoint_of_conv2d(device, g, seed):
    """<conv2d(x, w), y> = <x, conv_transpose2d(y, w)> for every x, y (same geometry)."""
    kw = _settings(g, "stride", "padding", "dilation")
    x, w = _normal(seed, g["x_shape"], g["w_shape"])
    out = conv2d(to_device(x, device), to_device(w, device), **kw)
    y = _normal(seed + 1, out.shape)[0]
    back = conv_transpose2d(to_device(y, device), to_device(w, device), output_padding=_back_to_input(g),
                            **kw)
    assert back.shape == x.shape
    left, right = np.sum(out.numpy() * y), np.sum(x * back.numpy())
    assert abs(left - right) <= 1e-12 * (np.abs(out.numpy() * y).sum() + 1.0)


@given(conv_geometries(), seeds)
def test_conv2d_input_gradient_is_conv_transpose2d(device, g, seed):
    """Same code path, so the same floating-point operations: equal bit for bit."""
    kw = _settings(g, "stride", "padding", "dilation")
    x, w = _normal(seed, g["x_shape"], g["w_shape"])
    xt = to_device(x, device, requires_grad=True)
    wt = to_device(w, device)
    y = conv2d(xt, wt, **kw)
    grad = to_device(_normal(seed + 1, y.shape)[0], device)
    y.backward(grad)
    direct = conv_transpose2d(grad, wt, output_padding=_back_to_input(g), **kw)
    np.testing.assert_array_equal(xt.grad.numpy(), direct.numpy())


# ----------------------------------------------------------------------------- dtypes and layouts

@pytest.mark.parametrize("op", [
    lambda x, w: conv2d(x, w, stride=2, padding=1),
    lambda x, w: conv_transpose2d(x, w.transpose(1, 0, 2, 3), stride=2, padding=1, output_padding=1),
    lambda x, w: max_pool2d(x, 2) * w.sum(),
    lambda x, w: avg_pool2d(x, 3, 1) * w.sum(),
    lambda x, w: upsample(x) * w.sum(),
    lambda x, w: pad2d(x, 1) * w.sum(),
], ids=["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "upsample", "pad2d"])
def test_float32_stays_float32(device, op):
    x = mg.randn(2, 3, 6, 6, device=device, requires_grad=True)
    w = mg.randn(3, 3, 3, 3, device=device, requires_grad=True)
    y = op(x, w)
    assert y.dtype == np.float32
    y.backward(mg.ones_like(y))
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


@pytest.mark.parametrize("op", [
    lambda x, w: conv2d(x, w, stride=(2, 1), padding=((1, 0), (0, 2)), dilation=(1, 2)),
    lambda x, w: conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
    lambda x, w: max_pool2d(x, 3, 2) * w.sum(),
    lambda x, w: avg_pool2d(x, 2) * w.sum(),
], ids=["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d"])
def test_non_contiguous_inputs(device, op):
    """Transposed and strided views give the same values and gradients as contiguous copies."""
    rng = np.random.default_rng(3)
    x_base = to_device(rng.standard_normal((7, 13, 3, 2)), device)        # (W, 2H+1, C, N)
    w_base = to_device(rng.standard_normal((3, 3, 3, 3)), device)
    x_view = x_base.transpose(3, 2, 1, 0)[:, :, ::2, :]                   # (N, C, H, W), strided
    w_view = w_base.transpose(1, 0, 3, 2)
    assert not x_view.data.flags.c_contiguous and not w_view.data.flags.c_contiguous
    results = []
    for x, w in [(x_view, w_view), (to_device(x_view.numpy(), device), to_device(w_view.numpy(), device))]:
        x, w = x.detach().requires_grad_(), w.detach().requires_grad_()
        y = op(x, w)
        y.backward(to_device(np.cos(np.arange(y.size)).reshape(y.shape), device))
        results.append((y.numpy(), x.grad.numpy(), w.grad.numpy()))
    for view_result, copy_result in zip(*results):
        np.testing.assert_allclose(view_result, copy_result, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- max-pool ties

def test_max_pool2d_ties_share_the_gradient(device):
    x = to_device(np.array([[[[1.0, 1.0, 0.0, 2.0],
                              [1.0, 0.0, 2.0, 2.0]]]]), device, requires_grad=True)
    y = max_pool2d(x, 2)
    np.testing.assert_array_equal(y.numpy(), [[[[1.0, 2.0]]]])
    y.backward(to_device(np.array([[[[6.0, 3.0]]]]), device))
    np.testing.assert_array_equal(x.grad.numpy(), [[[[2.0, 2.0, 0.0, 1.0],
                                                      [2.0, 0.0, 1.0, 1.0]]]])


def test_overlapping_max_pool_windows_add_their_gradients(device):
    x = to_device(np.array([[[[0.0, 5.0, 0.0],
                              [0.0, 0.0, 0.0],
                              [0.0, 0.0, 0.0]]]]), device, requires_grad=True)
    y = max_pool2d(x, 2, stride=1)       # the 5 wins both top windows; 4 zeros tie in each bottom one
    y.backward(mg.ones_like(y))
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0.0, 2.0, 0.0],
                                                      [0.25, 0.5, 0.25],
                                                      [0.25, 0.5, 0.25]]]])


# ----------------------------------------------------------------------------- errors

def test_channel_mismatch_names_the_op_and_both_shapes():
    x, w = mg.zeros(1, 3, 5, 5), mg.zeros(4, 2, 3, 3)
    with pytest.raises(ValueError, match=r"conv2d: x has 3 channels \(shape \(1, 3, 5, 5\)\)"
                                         r".*\(4, 2, 3, 3\)"):
        conv2d(x, w)
    with pytest.raises(ValueError, match=r"conv_transpose2d: x has 3 channels.*\(4, 2, 3, 3\)"):
        conv_transpose2d(x, w)


@pytest.mark.parametrize("call, message", [
    (lambda: conv2d(mg.zeros(3, 5, 5), mg.zeros(2, 3, 3, 3)), r"conv2d: x must be 4-D .*reshape\(1"),
    (lambda: conv2d(mg.zeros(1, 3, 5, 5), mg.zeros(3, 3, 3)), r"conv2d: w must be 4-D"),
    (lambda: conv2d(mg.zeros(1, 1, 2, 2), mg.zeros(1, 1, 3, 3)), r"conv2d: the kernel covers 3 pixels"),
    (lambda: conv2d(mg.zeros(1, 1, 4, 4), mg.zeros(1, 1, 3, 3), dilation=2), r"conv2d: the kernel covers 5"),
    (lambda: conv2d(mg.zeros(1, 1, 4, 4), mg.zeros(1, 1, 3, 3), padding=-1), r"conv2d: padding cannot be"),
    (lambda: conv2d(mg.zeros(1, 1, 4, 4), mg.zeros(1, 1, 3, 3), stride=0), r"conv2d: stride must be >= 1"),
    (lambda: conv2d(mg.zeros(1, 1, 4, 4), mg.zeros(2, 1, 3, 3), mg.zeros(3)), r"conv2d: bias must .*\(2,\)"),
    (lambda: conv_transpose2d(mg.zeros(1, 1, 4, 4), mg.zeros(1, 1, 3, 3), stride=2, output_padding=2),
     r"conv_transpose2d: output_padding \(2, 2\) must be smaller"),
    (lambda: conv_transpose2d(mg.zeros(1, 1, 1, 1), mg.zeros(1, 1, 1, 1), padding=1),
     r"conv_transpose2d: the output would be -1 pixels"),
    (lambda: max_pool2d(mg.zeros(1, 1, 2, 2), 3), r"max_pool2d: the window \(3, 3\) is larger"),
    (lambda: avg_pool2d(mg.zeros(1, 1, 4, 4), (2, 2, 2)), r"avg_pool2d: kernel_size must be an int or"),
    (lambda: upsample(mg.zeros(1, 1, 2, 2), 0), r"upsample: scale must be >= 1"),
    (lambda: pad2d(mg.zeros(1, 1, 2, 2), (1, 2, 3)), r"pad2d: pad must be an int"),
])
def test_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ----------------------------------------------------------------------------- grouped convolution

@st.composite
def grouped_geometries(draw, transpose=False, max_hw=5):
    """conv2d (or conv_transpose2d) arguments with groups > 1 dividing both channel counts."""
    groups = draw(st.integers(2, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    n, k, s = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    pad = draw(st.integers(0, 1))
    h = draw(st.integers(max(1, k - 2 * pad), max_hw))
    w = draw(st.integers(max(1, k - 2 * pad), max_hw))
    if transpose:
        h, w = min(h, 3), min(w, 3)
        pad = min(pad, ((min(h, w) - 1) * s + k - 1) // 2)    # leaves at least one output pixel
        return dict(x_shape=(n, c_in, h, w), w_shape=(c_in, c_out // groups, k, k),
                    stride=s, padding=pad, groups=groups)
    return dict(x_shape=(n, c_in, h, w), w_shape=(c_out, c_in // groups, k, k), stride=s,
                padding=pad, groups=groups)


def naive_grouped(naive, x, w, groups, transpose=False, **kw):
    """A grouped convolution as `groups` separate ones on slices of the channels, concatenated."""
    xs = np.split(x, groups, axis=1)
    ws = np.split(w, groups, axis=0)
    return np.concatenate([naive(xg, wg, **kw) for xg, wg in zip(xs, ws)], axis=1)


@given(grouped_geometries(), seeds)
def test_grouped_conv2d_matches_separate_convolutions(device, g, seed):
    x, w = _normal(seed, g["x_shape"], g["w_shape"])
    y = conv2d(to_device(x, device), to_device(w, device), stride=g["stride"], padding=g["padding"],
               groups=g["groups"])
    expected = naive_grouped(naive_conv2d, x, w, g["groups"], stride=(g["stride"],) * 2,
                             padding=g["padding"], dilation=(1, 1))
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)


@given(grouped_geometries(transpose=True), seeds)
def test_grouped_conv_transpose2d_matches_separate_ones(device, g, seed):
    x, w = _normal(seed, g["x_shape"], g["w_shape"])
    y = conv_transpose2d(to_device(x, device), to_device(w, device), stride=g["stride"],
                         padding=g["padding"], groups=g["groups"])
    expected = naive_grouped(naive_conv_transpose2d, x, w, g["groups"], stride=(g["stride"],) * 2,
                             padding=g["padding"], output_padding=(0, 0), dilation=(1, 1))
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)


@given(grouped_geometries(), seeds)
def test_grouped_conv2d_gradients(device, g, seed):
    x, w, b = (to_device(a, device, requires_grad=True)
               for a in _normal(seed, g["x_shape"], g["w_shape"], g["w_shape"][:1]))
    kw = dict(stride=g["stride"], padding=g["padding"], groups=g["groups"])
    assert mg.gradcheck(lambda x, w, b: conv2d(x, w, b, **kw), x, w, b)


@given(grouped_geometries(transpose=True), seeds)
def test_grouped_conv_transpose2d_gradients(device, g, seed):
    x, w = (to_device(a, device, requires_grad=True) for a in _normal(seed, g["x_shape"], g["w_shape"]))
    kw = dict(stride=g["stride"], padding=g["padding"], groups=g["groups"])
    assert mg.gradcheck(lambda x, w: conv_transpose2d(x, w, **kw), x, w)


@fewer_examples
@given(grouped_geometries(max_hw=4), seeds)
def test_grouped_conv2d_second_order(device, g, seed):
    x, w = (to_device(a, device, requires_grad=True) for a in _normal(seed, g["x_shape"], g["w_shape"]))
    kw = dict(stride=g["stride"], padding=g["padding"], groups=g["groups"])
    assert mg.gradgradcheck(lambda x, w: conv2d(x, w, **kw), x, w)


@fewer_examples
@given(grouped_geometries(transpose=True), seeds)
def test_grouped_conv_transpose2d_second_order(device, g, seed):
    x, w = (to_device(a, device, requires_grad=True) for a in _normal(seed, g["x_shape"], g["w_shape"]))
    kw = dict(stride=g["stride"], padding=g["padding"], groups=g["groups"])
    assert mg.gradgradcheck(lambda x, w: conv_transpose2d(x, w, **kw), x, w)


def test_depthwise_conv2d_is_one_filter_per_channel(device):
    """groups = C_in: channel c is convolved with its own filter w[c, 0] and nothing else."""
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((3, 1, 3, 3))
    y = conv2d(to_device(x, device), to_device(w, device), padding=1, groups=3).numpy()
    for c in range(3):
        alone = naive_conv2d(x[:, c:c + 1], w[c:c + 1], stride=(1, 1), padding=1, dilation=(1, 1))
        np.testing.assert_allclose(y[:, c:c + 1], alone, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", [
    dict(x=(2, 4, 7, 6), w=(6, 2, 3, 3), stride=1, padding=1, dilation=1, groups=2),
    dict(x=(3, 6, 8, 8), w=(6, 1, 3, 3), stride=2, padding=(1, 0), dilation=1, groups=6),
    dict(x=(2, 6, 9, 7), w=(3, 2, 2, 3), stride=(1, 2), padding=2, dilation=(2, 1), groups=3),
])
def test_grouped_matches_pytorch_values_and_gradients(case):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal(case["x"]), rng.standard_normal(case["w"]), rng.standard_normal(case["w"][0])
    kw = {k: case[k] for k in ("stride", "padding", "dilation", "groups")}
    xs, ws, bs = (mg.tensor(a, requires_grad=True) for a in (x, w, b))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y, yt = conv2d(xs, ws, bs, **kw), tf.conv2d(xt, wt, bt, **kw)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(y.shape)
    y.backward(mg.tensor(g))
    yt.backward(torch.tensor(g))
    for ours, theirs in ((xs, xt), (ws, wt), (bs, bt)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
    # the transposed convolution with the same weights: w is (C_in, C_out/groups, kh, kw) there
    y_in = rng.standard_normal((case["x"][0], case["w"][0]) + tuple(y.shape[2:]))
    ys, yts = mg.tensor(y_in, requires_grad=True), torch.tensor(y_in, requires_grad=True)
    wt2 = torch.tensor(w, requires_grad=True)
    ws2 = mg.tensor(w, requires_grad=True)
    out = conv_transpose2d(ys, ws2, **kw)
    out_t = tf.conv_transpose2d(yts, wt2, **kw)
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    g2 = rng.standard_normal(out.shape)
    out.backward(mg.tensor(g2))
    out_t.backward(torch.tensor(g2))
    np.testing.assert_allclose(ys.grad.numpy(), yts.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ws2.grad.numpy(), wt2.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("call, message", [
    (lambda: conv2d(mg.zeros(1, 4, 5, 5), mg.zeros(4, 2, 3, 3), groups=3), r"conv2d: x has 4 channels, which groups=3"),
    (lambda: conv2d(mg.zeros(1, 4, 5, 5), mg.zeros(3, 2, 3, 3), groups=2), r"conv2d: w \(C_out\) has 3 channels"),
    (lambda: conv2d(mg.zeros(1, 4, 5, 5), mg.zeros(4, 4, 3, 3), groups=2), r"conv2d: x has 4 channels .* w expects 4 per group.*C_in / groups=2 = 2"),
    (lambda: conv2d(mg.zeros(1, 4, 5, 5), mg.zeros(4, 4, 3, 3), groups=0), r"conv2d: groups must be >= 1"),
    (lambda: conv_transpose2d(mg.zeros(1, 3, 5, 5), mg.zeros(3, 1, 3, 3), groups=2), r"conv_transpose2d: x has 3 channels, which groups=2"),
])
def test_grouped_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ----------------------------------------------------------------------------- both column orders

@pytest.mark.parametrize("batch_last", [False, True], ids=["nchw-columns", "batch-last-columns"])
@fewer_examples
@given(conv_geometries(), seeds)
def test_both_column_orders_give_the_same_convolutions(monkeypatch, device, batch_last, g, seed):
    """The layout switch (_batch_last) picks a column order by image size; force each one."""
    from minigrad.ops import conv as conv_module
    monkeypatch.setattr(conv_module, "_batch_last", lambda n, out_w: batch_last)
    x, w = _normal(seed, g["x_shape"], g["w_shape"])
    kw = _settings(g, "stride", "padding", "dilation")
    y = conv2d(to_device(x, device), to_device(w, device), **kw)
    np.testing.assert_allclose(y.numpy(), naive_conv2d(x, w, **kw), rtol=1e-10, atol=1e-12)
    xt, wt = to_device(x, device, requires_grad=True), to_device(w, device, requires_grad=True)
    assert mg.gradcheck(lambda x, w: conv2d(x, w, **kw), xt, wt)
    # the adjoint, with conv2d's w read as conv_transpose2d's (C_in, C_out, kh, kw)
    z = _normal(seed + 1, y.shape)[0]
    kw_t = dict(kw, output_padding=_back_to_input(g))
    back = conv_transpose2d(to_device(z, device), to_device(w, device), **kw_t)
    np.testing.assert_allclose(back.numpy(), naive_conv_transpose2d(z, w, **kw_t), rtol=1e-10, atol=1e-12)
    zt = to_device(z, device, requires_grad=True)
    assert mg.gradcheck(lambda z, w: conv_transpose2d(z, w, **kw_t), zt, wt)


def test_column_order_rule():
    from minigrad.ops.conv import _batch_last
    assert _batch_last(64, 14) and _batch_last(32, 7) and _batch_last(64, 4)
    assert not _batch_last(32, 28) and not _batch_last(64, 28) and not _batch_last(1, 4)


# ----------------------------------------------------------------------------- pooling options

@st.composite
def padded_pool_geometries(draw, max_hw=6):
    """(x shape, kernel, stride, padding, ceil_mode) within PyTorch's rules (padding <= k/2)."""
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    h = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), max_hw))
    w = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), max_hw))
    stride = draw(st.none() | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    return (n, c, h, w), kernel, stride, padding, draw(st.booleans())


def naive_pool_pytorch(x, kernel, stride, padding, ceil_mode, reduce, count_include_pad=True):
    """PyTorch's pooling, by loops over output pixels (its documented output-size rule)."""
    stride = kernel if stride is None else stride
    N, C, H, W = x.shape
    sizes = []
    for n, k, s, p in zip((H, W), kernel, stride, padding):
        out = -(-(n + 2 * p - k) // s) + 1 if ceil_mode else (n + 2 * p - k) // s + 1
        if ceil_mode and (out - 1) * s >= n + p:
            out -= 1
        sizes.append(out)
    y = np.zeros((N, C) + tuple(sizes))
    for i in range(sizes[0]):
        for j in range(sizes[1]):
            r0, c0 = i * stride[0] - padding[0], j * stride[1] - padding[1]
            r1, c1 = min(r0 + kernel[0], H + padding[0]), min(c0 + kernel[1], W + padding[1])
            window = x[:, :, max(r0, 0):min(r1, H), max(c0, 0):min(c1, W)]
            if reduce == "max":
                y[:, :, i, j] = window.max(axis=(2, 3))
            else:
                count = (r1 - r0) * (c1 - c0) if count_include_pad else window.shape[2] * window.shape[3]
                y[:, :, i, j] = window.sum(axis=(2, 3)) / count
    return y


@given(padded_pool_geometries(), st.booleans(), seeds)
def test_padded_pools_match_pytorch_semantics(device, geometry, include_pad, seed):
    shape, kernel, stride, padding, ceil_mode = geometry
    x = _normal(seed, shape)[0]
    t = to_device(x, device)
    np.testing.assert_allclose(max_pool2d(t, kernel, stride, padding, ceil_mode).numpy(),
                               naive_pool_pytorch(x, kernel, stride, padding, ceil_mode, "max"), rtol=1e-12)
    np.testing.assert_allclose(
        avg_pool2d(t, kernel, stride, padding, ceil_mode, count_include_pad=include_pad).numpy(),
        naive_pool_pytorch(x, kernel, stride, padding, ceil_mode, "avg", include_pad), rtol=1e-12)


@given(padded_pool_geometries(), st.booleans(), seeds)
def test_padded_pool_gradients(device, geometry, include_pad, seed):
    shape, kernel, stride, padding, ceil_mode = geometry
    x = to_device(distinct_values(seed, shape), device, requires_grad=True)
    assert mg.gradcheck(lambda x: max_pool2d(x, kernel, stride, padding, ceil_mode), x)
    assert mg.gradcheck(lambda x: avg_pool2d(x, kernel, stride, padding, ceil_mode, include_pad), x)


@fewer_examples
@given(padded_pool_geometries(max_hw=4), seeds)
def test_padded_pools_second_order(device, geometry, seed):
    shape, kernel, stride, padding, ceil_mode = geometry
    x = to_device(distinct_values(seed, shape), device, requires_grad=True)
    assert mg.gradgradcheck(lambda x: max_pool2d(x, kernel, stride, padding, ceil_mode), x)
    assert mg.gradgradcheck(lambda x: avg_pool2d(x, kernel, stride, padding, ceil_mode, False), x)


def test_padded_pools_match_pytorch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 9, 8))
    for kernel, stride, padding, ceil_mode in [(3, 2, 1, True), (3, 2, 1, False), ((2, 3), (2, 2), (1, 0), True),
                                               (2, 3, 0, True), (3, 3, 1, True)]:
        for include_pad in (True, False):
            xs, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
            ys = avg_pool2d(xs, kernel, stride, padding, ceil_mode, include_pad)
            yt = tf.avg_pool2d(xt, kernel, stride, padding, ceil_mode, include_pad)
            np.testing.assert_allclose(ys.numpy(), yt.detach().numpy(), rtol=1e-12)
            g = rng.standard_normal(ys.shape)
            ys.backward(mg.tensor(g))
            yt.backward(torch.tensor(g))
            np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
        xs, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ys, yt = max_pool2d(xs, kernel, stride, padding, ceil_mode), tf.max_pool2d(xt, kernel, stride, padding,
                                                                                  ceil_mode=ceil_mode)
        np.testing.assert_allclose(ys.numpy(), yt.detach().numpy())
        g = rng.standard_normal(ys.shape)
        ys.backward(mg.tensor(g))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def test_pool_padding_errors():
    with pytest.raises(ValueError, match=r"max_pool2d: padding \(2, 2\) must be at most half the window"):
        max_pool2d(mg.zeros(1, 1, 5, 5), 3, padding=2)
    with pytest.raises(ValueError, match=r"avg_pool2d: padding must be >= 0"):
        avg_pool2d(mg.zeros(1, 1, 5, 5), 3, padding=-1)


# ----------------------------------------------------------------------------- upsample's own nodes

def test_upsample_backward_is_the_block_sum(device):
    x = to_device(np.zeros((1, 1, 2, 3)), device, requires_grad=True)
    y = upsample(x, (2, 3))
    g = np.arange(36.0).reshape(1, 1, 4, 9)
    y.backward(to_device(g, device))
    expected = g.reshape(1, 1, 2, 2, 3, 3).sum(axis=(3, 5))
    np.testing.assert_array_equal(x.grad.numpy(), expected)


@pytest.mark.parametrize("dtype", ["int32", "uint8", "int64", "bool"])
def test_padded_max_pool_of_integer_images(device, dtype):
    # issue 22.12: the padding was -inf, which an integer array cannot hold (OverflowError);
    # it is the dtype's minimum now, and the result equals pooling the same image as floats
    image = (np.arange(2 * 3 * 5 * 5) * 7 % 11 - 5).reshape(2, 3, 5, 5).astype(dtype)
    as_int = max_pool2d(mg.tensor(image, device=device), 2, padding=1)
    as_float = max_pool2d(mg.tensor(image.astype(np.float64), device=device), 2, padding=1)
    assert as_int.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(as_int.numpy(), as_float.numpy().astype(dtype))
