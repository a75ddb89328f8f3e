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
