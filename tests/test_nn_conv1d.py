"""Conv1D, MaxPooling1D, AveragePooling1D and the global poolings: Keras' output lengths,
gradients against finite differences on cpu and strict, values against a direct NumPy sum
and PyTorch's nn.Conv1d, border windows of "same" pooling, masks."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import nn
from minigrad.testing import assert_model_gradients

from .conftest import float64_model


def conv1d_reference(x, kernel, bias, stride, padding, dilation):
    """y[b, t, f] = bias[f] + sum_{k, c} kernel[k, c, f] x_pad[b, t*stride + k*dilation, c]."""
    k = kernel.shape[0]
    span = dilation * (k - 1) + 1
    length = x.shape[1]
    if padding == "same":
        out = -(-length // stride)
        total = max((out - 1) * stride + span - length, 0)
        before, after = total // 2, total - total // 2
    elif padding == "causal":
        before, after = span - 1, 0
    else:
        before = after = 0
    xp = np.pad(x, ((0, 0), (before, after), (0, 0)))
    n_out = (xp.shape[1] - span) // stride + 1
    y = np.zeros((x.shape[0], n_out, kernel.shape[2]))
    for t in range(n_out):
        for j in range(k):
            y[:, t] += xp[:, t * stride + j * dilation] @ kernel[j]
    return y + bias


@st.composite
def conv_cases(draw):
    padding = draw(st.sampled_from(["valid", "same", "causal"]))
    kernel = draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 2))
    stride = 1 if dilation > 1 else draw(st.integers(1, 3))
    span = dilation * (kernel - 1) + 1
    length = draw(st.integers(span if padding == "valid" else 1, 7))
    return dict(padding=padding, kernel=kernel, dilation=dilation, stride=stride, length=length,
                batch=draw(st.integers(1, 2)), c_in=draw(st.integers(1, 3)),
                filters=draw(st.integers(1, 3)), seed=draw(st.integers(0, 2**16)))


@given(case=conv_cases())
def test_conv1d_values_lengths_and_gradients(device, case):
    layer = nn.Conv1D(case["filters"], case["kernel"], strides=case["stride"], padding=case["padding"],
                      dilation_rate=case["dilation"])
    float64_model(layer, device, case["seed"], input_shape=(case["length"], case["c_in"]))
    rng = np.random.default_rng(case["seed"])
    x = rng.normal(size=(case["batch"], case["length"], case["c_in"]))
    out = layer(mg.tensor(x, device=device))
    expected = conv1d_reference(x, layer.kernel.numpy(), layer.bias.numpy(), case["stride"],
                                case["padding"], case["dilation"])
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert out.shape[1:] == layer.compute_output_shape((case["length"], case["c_in"]))
    assert_model_gradients(layer, layer, mg.tensor(x, device=device))


def test_causal_output_never_sees_the_future():
    layer = nn.Conv1D(2, 3, padding="causal", dilation_rate=2)
    x = np.random.default_rng(0).normal(size=(1, 9, 2)).astype(np.float32)
    base = layer(x).numpy()
    later = x.copy()
    later[:, 5:] += 1.0
    changed = layer(later).numpy()
    np.testing.assert_array_equal(changed[:, :5], base[:, :5])
    assert not np.allclose(changed[:, 5:], base[:, 5:])


def test_conv1d_keras_layout_summary_and_errors():
    model = nn.Sequential([nn.Input((None, 8)), nn.Conv1D(16, 5, activation="relu"),
                           nn.MaxPooling1D(2), nn.GlobalAveragePooling1D()])
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "(None, None, 16)" in text and "656" in text        # 5*8*16 + 16
    assert model.layers[0].kernel.shape == (5, 8, 16)
    with pytest.raises(ValueError, match="padding must be one of"):
        nn.Conv1D(2, 3, padding="full")
    with pytest.raises(ValueError, match="does not fit a sequence of 2 steps"):
        nn.Sequential([nn.Input((2, 3)), nn.Conv1D(2, 3)])
    with pytest.raises(ValueError, match=r"\(batch, time, channels\)"):
        nn.Conv1D(2, 3).build_for((1, 8, 8))
    with pytest.raises(ValueError, match="strides > 1 together with dilation_rate > 1"):
        nn.Conv1D(2, 3, strides=2, dilation_rate=2)


def test_conv1d_equals_pytorch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.Conv1d(3, 4, 3, stride=2, dilation=1, padding=0).double()
    layer = nn.Conv1D(4, 3, strides=2)
    layer.build_for((None, 3))
    layer.to(dtype="float64")
    layer.set_weights([ref.weight.detach().numpy().transpose(2, 1, 0), ref.bias.detach().numpy()])
    x = np.random.default_rng(0).normal(size=(2, 9, 3))
    xt = torch.tensor(x.transpose(0, 2, 1).copy(), requires_grad=True)   # PyTorch: (N, C, L)
    out_t = ref(xt)
    v = np.random.default_rng(1).normal(size=out_t.shape)
    (out_t * torch.tensor(v)).sum().backward()
    xm = mg.tensor(x, requires_grad=True)
    out = layer(xm)
    (out * mg.tensor(v.transpose(0, 2, 1))).sum().backward()
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy().transpose(0, 2, 1), rtol=1e-10)
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy().transpose(0, 2, 1), rtol=1e-10)
    np.testing.assert_allclose(layer.kernel.grad.numpy(), ref.weight.grad.numpy().transpose(2, 1, 0),
                               rtol=1e-10)
    np.testing.assert_allclose(layer.bias.grad.numpy(), ref.bias.grad.numpy(), rtol=1e-10)


@st.composite
def pool_cases(draw):
    pool = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["valid", "same"]))
    length = draw(st.integers(pool if padding == "valid" else 1, 7))
    return dict(pool=pool, stride=stride, padding=padding, length=length,
                batch=draw(st.integers(1, 2)), channels=draw(st.integers(1, 3)),
                seed=draw(st.integers(0, 2**16)))


def pool_reference(x, pool, stride, padding, reduce):
    length = x.shape[1]
    if padding == "same":
        out = -(-length // stride)
        total = max((out - 1) * stride + pool - length, 0)
        before = total // 2
    else:
        out, before = (length - pool) // stride + 1, 0
    rows = []
    for t in range(out):
        start = t * stride - before
        window = x[:, max(start, 0):min(start + pool, length)]   # only the real steps
        rows.append(reduce(window, axis=1))
    return np.stack(rows, axis=1)


@pytest.mark.parametrize("kind", ["max", "average"])
@given(case=pool_cases())
def test_pooling_1d_values_and_gradients(device, kind, case):
    cls, reduce = (nn.MaxPooling1D, np.max) if kind == "max" else (nn.AveragePooling1D, np.mean)
    layer = cls(case["pool"], strides=case["stride"], padding=case["padding"])
    rng = np.random.default_rng(case["seed"])
    # distinct values, far apart: no ties for max pooling's finite differences to straddle
    n = case["batch"] * case["length"] * case["channels"]
    x = (rng.permutation(n) * 0.1).reshape(case["batch"], case["length"], case["channels"])
    out = layer(mg.tensor(x, device=device))
    np.testing.assert_allclose(out.numpy(), pool_reference(x, case["pool"], case["stride"],
                                                           case["padding"], reduce), rtol=1e-12)
    assert out.shape[1:] == layer.compute_output_shape((case["length"], case["channels"]))
    assert mg.gradcheck(layer, mg.tensor(x, device=device, requires_grad=True))


def test_global_poolings(device):
    rng = np.random.default_rng(0)
    seq = rng.normal(size=(2, 5, 3))
    x = mg.tensor(seq, device=device, requires_grad=True)
    np.testing.assert_allclose(nn.GlobalMaxPooling1D()(x).numpy(), seq.max(1))
    np.testing.assert_allclose(nn.GlobalAveragePooling1D()(x).numpy(), seq.mean(1))
    assert nn.GlobalAveragePooling1D(keepdims=True)(x).shape == (2, 1, 3)
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], bool)
    masked = nn.GlobalAveragePooling1D()(x, mask=mg.tensor(mask, device=device)).numpy()
    np.testing.assert_allclose(masked, [seq[0, :2].mean(0), seq[1].mean(0)])
    assert mg.gradcheck(lambda t: nn.GlobalAveragePooling1D()(t, mask=mg.tensor(mask, device=device)), x)
    images = rng.normal(size=(2, 3, 4, 5))
    xi = mg.tensor(images, device=device, requires_grad=True)
    np.testing.assert_allclose(nn.GlobalAveragePooling2D()(xi).numpy(), images.mean((2, 3)))
    np.testing.assert_allclose(nn.GlobalMaxPooling2D()(xi).numpy(), images.max((2, 3)))
    last = nn.GlobalAveragePooling2D(data_format="channels_last")
    np.testing.assert_allclose(last(xi).numpy(), images.mean((1, 2)))
    assert last.compute_output_shape((4, 5, 3)) == (3,)
    assert nn.GlobalMaxPooling2D(keepdims=True).compute_output_shape((3, 4, 5)) == (3, 1, 1)
    assert mg.gradcheck(nn.GlobalAveragePooling2D(), xi)
    with pytest.raises(ValueError, match="data_format"):
        nn.GlobalMaxPooling2D(data_format="NCHW")
    model = nn.Sequential([nn.Input((3, 8, 8)), nn.Conv2D(4, 3), nn.GlobalMaxPooling2D(), nn.Dense(2)])
    assert model.output_shape == (2,)
