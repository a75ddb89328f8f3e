"""DepthwiseConv2D and SeparableConv2D: values against a per-channel loop of conv2d and against
PyTorch's grouped nn.Conv2d (skipped without torch), Keras' parameter counts and weight names,
gradients of input and weights against finite differences (cpu, strict), "same" padding,
strides, dilation, channels-last, regularizers, freezing, errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.functional as F
from minigrad import nn
from minigrad.testing import assert_model_gradients

from .conftest import float64_model, to_device


def images(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def per_channel_loop(x, layer):
    """The depthwise step written the slow way: input channel c convolved (plain conv2d, one
    input channel) with its m filters, the outputs stacked in Keras' order c*m + j."""
    m = layer.depth_multiplier
    k = layer.depthwise_kernel.numpy()
    pads = "same" if layer.padding == "same" else 0
    outs = []
    for c in range(x.shape[1]):
        channel = mg.tensor(x[:, c:c + 1])
        kernel = mg.tensor(k[c * m:(c + 1) * m])                 # (m, 1, kh, kw)
        if pads == "same":
            from minigrad.nn.conv_layers import same_padding
            p = tuple(same_padding(n, kk, s, d) for n, kk, s, d in
                      zip(x.shape[2:], layer.kernel_size, layer.strides, layer.dilation_rate))
        else:
            p = 0
        outs.append(F.conv2d(channel, kernel, stride=layer.strides, padding=p,
                             dilation=layer.dilation_rate).numpy())
    return np.concatenate(outs, axis=1)


@st.composite
def cases(draw):
    return dict(c=draw(st.integers(1, 3)), m=draw(st.integers(1, 2)), k=draw(st.sampled_from([1, 2, 3])),
                stride=draw(st.integers(1, 2)), dilation=draw(st.integers(1, 2)),
                padding=draw(st.sampled_from(["valid", "same"])), filters=draw(st.integers(1, 3)),
                size=draw(st.integers(5, 7)))


@given(case=cases())
def test_depthwise_equals_a_per_channel_loop_and_separable_adds_a_1x1(case):
    x = images((2, case["c"], case["size"], case["size"] - 1))
    dw = nn.DepthwiseConv2D(case["k"], strides=case["stride"], padding=case["padding"], depth_multiplier=case["m"],
                            dilation_rate=case["dilation"], bias_initializer="ones").double()
    y = dw(mg.tensor(x)).numpy()
    np.testing.assert_allclose(y, per_channel_loop(x, dw) + 1.0, rtol=1e-12, atol=1e-12)
    assert y.shape[1:] == dw.compute_output_shape(x.shape[1:])
    sep = nn.SeparableConv2D(case["filters"], case["k"], strides=case["stride"], padding=case["padding"],
                             depth_multiplier=case["m"], dilation_rate=case["dilation"]).double()
    out = sep(mg.tensor(x)).numpy()
    mid = per_channel_loop(x, sep)
    expected = np.einsum("fc,nchw->nfhw", sep.pointwise_kernel.numpy()[:, :, 0, 0], mid) \
        + sep.bias.numpy().reshape(1, -1, 1, 1)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_against_pytorch_grouped_conv(padding):
    torch = pytest.importorskip("torch")
    x = images((2, 4, 9, 8))
    sep = nn.SeparableConv2D(5, 3, strides=2, padding=padding, depth_multiplier=2, activation="relu").double()
    ours = sep(mg.tensor(x)).numpy()
    pads = 0 if padding == "valid" else None
    xt = torch.tensor(x)
    if pads is None:                        # TF's "same" for stride 2, 9x8: pad (0,1) rows (0,1) cols
        from minigrad.nn.conv_layers import same_padding
        (top, bottom), (left, right) = (same_padding(9, 3, 2), same_padding(8, 3, 2))
        xt = torch.nn.functional.pad(xt, (left, right, top, bottom))
    depthwise = torch.nn.Conv2d(4, 8, 3, stride=2, groups=4, bias=False).double()
    pointwise = torch.nn.Conv2d(8, 5, 1).double()
    with torch.no_grad():
        depthwise.weight.copy_(torch.tensor(sep.depthwise_kernel.numpy()))
        pointwise.weight.copy_(torch.tensor(sep.pointwise_kernel.numpy()))
        pointwise.bias.copy_(torch.tensor(sep.bias.numpy()))
        theirs = torch.relu(pointwise(depthwise(xt))).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_parameter_counts_and_weight_names_follow_keras():
    """Keras: SeparableConv2D k*k*C*m + C*m*filters + filters; DepthwiseConv2D k*k*C*m + C*m."""
    model = nn.Sequential([
        nn.SeparableConv2D(32, 3, depth_multiplier=2, input_shape=(16, 12, 12)),     # 288+1024+32
        nn.DepthwiseConv2D((3, 5), depth_multiplier=3, use_bias=False),             # 15*32*3
        nn.SeparableConv2D(8, 1, use_bias=False),                                   # 96 + 96*8
    ])
    counts = [layer.count_params() for layer in model.layers]
    assert counts == [3 * 3 * 16 * 2 + 16 * 2 * 32 + 32, 3 * 5 * 32 * 3, 96 + 96 * 8]
    assert model.count_params() == sum(counts)
    assert [name for name, _ in model.layers[0].named_parameters()] == ["depthwise_kernel", "pointwise_kernel",
                                                                        "bias"]
    assert [name for name, _ in model.layers[1].named_parameters()] == ["depthwise_kernel"]
    assert model.layers[0].depthwise_kernel.shape == (32, 1, 3, 3)
    assert model.layers[0].pointwise_kernel.shape == (32, 32, 1, 1)
    assert model.output_shape == (8, 8, 6)
    # a separable conv is much smaller than the Conv2D it stands in for
    assert nn.Conv2D(32, 3, input_shape=(16, 12, 12)).build_for((16, 12, 12)) == (32, 10, 10)


def test_glorot_fans_as_keras():
    """Keras' depthwise kernel (kh, kw, C, m) has fan_in kh*kw*C and fan_out kh*kw*m: the
    uniform limit sqrt(6 / (fan_in + fan_out)) bounds every initial weight."""
    layer = nn.DepthwiseConv2D(3, depth_multiplier=4)
    layer.build_for((50, 8, 8))
    limit = np.sqrt(6 / (9 * 50 + 9 * 4))
    w = layer.depthwise_kernel.numpy()
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit


@pytest.mark.parametrize("layer_fn,input_shape", [
    (lambda: nn.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="tanh"), (2, 5, 4)),
    (lambda: nn.SeparableConv2D(3, 2, strides=2, depth_multiplier=2), (2, 5, 5)),
    (lambda: nn.SeparableConv2D(2, 3, dilation_rate=2, padding="same", activation="sigmoid"), (3, 5, 6)),
])
def test_gradients_of_input_and_weights(layer_fn, input_shape, device):
    model = float64_model(nn.Sequential([layer_fn()]), device, seed=1, input_shape=input_shape)
    x = to_device(images((2,) + input_shape, 2), device, requires_grad=True)
    r = to_device(images((2,) + model.output_shape, 3), device)
    assert assert_model_gradients(model, lambda x: (model(x) * r).sum(), x)


def test_channels_last_equals_channels_first(device):
    x = images((2, 7, 6, 3))
    first = nn.SeparableConv2D(4, 3, padding="same", depth_multiplier=2).double().to(device)
    last = nn.SeparableConv2D(4, 3, padding="same", depth_multiplier=2, data_format="channels_last")
    last.double().to(device)
    y_first = first(to_device(x.transpose(0, 3, 1, 2), device))
    last.build_for((7, 6, 3))
    last.set_weights(first.get_weights())
    y_last = last(to_device(x, device))
    assert last.output_shape == (7, 6, 4)
    np.testing.assert_allclose(y_last.numpy(), y_first.numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-12)


def test_regularizers_and_freezing():
    layer = nn.SeparableConv2D(3, 3, depthwise_regularizer=nn.regularizers.l2(0.1),
                               pointwise_regularizer=nn.regularizers.l1(0.01), bias_regularizer="l2")
    layer.build_for((2, 6, 6))
    dw, pw, b = (p.numpy() for p in layer.weights)
    expected = [0.1 * (dw ** 2).sum(), 0.01 * np.abs(pw).sum(), 0.01 * (b ** 2).sum()]
    np.testing.assert_allclose([float(t.item()) for t in layer.losses], expected, rtol=1e-6)
    layer.trainable = False
    assert layer.trainable_weights == [] and layer.losses == []
    depthwise = nn.DepthwiseConv2D(3, depthwise_regularizer="l2", activity_regularizer="l1")
    y = depthwise(mg.tensor(images((1, 2, 5, 5)), dtype="float32"))
    activity, penalty = depthwise.losses                       # this call's add_loss first, then the weights'
    assert activity.item() == pytest.approx(0.01 * np.abs(y.numpy()).sum(), rel=1e-5)
    assert penalty.item() == pytest.approx(0.01 * (depthwise.depthwise_kernel.numpy() ** 2).sum(), rel=1e-5)


def test_trains_in_a_model():
    mg.manual_seed(0)
    y = np.arange(32) % 2
    x = (images((32, 1, 8, 8)) + 1.5 * y.reshape(-1, 1, 1, 1)).astype(np.float32)   # class 1 is brighter
    model = nn.Sequential([nn.SeparableConv2D(4, 3, activation="relu", input_shape=(1, 8, 8)),
                           nn.DepthwiseConv2D(3, depth_multiplier=2, activation="relu"),
                           nn.Flatten(), nn.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=15, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]     # seed 0: 0.68 -> 0.43


@pytest.mark.parametrize("make,words", [
    (lambda: nn.DepthwiseConv2D(3, depth_multiplier=0), ["DepthwiseConv2D", "depth_multiplier", "positive"]),
    (lambda: nn.DepthwiseConv2D(3, padding="full"), ["DepthwiseConv2D", "padding", "'valid' or 'same'"]),
    (lambda: nn.SeparableConv2D(0, 3), ["SeparableConv2D", "filters"]),
    (lambda: nn.SeparableConv2D(4, (3, 3, 3)), ["SeparableConv2D", "kernel_size"]),
    (lambda: nn.SeparableConv2D(4, 3, strides=0), ["SeparableConv2D", "strides", "positive"]),
])
def test_bad_arguments(make, words):
    with pytest.raises(ValueError) as info:
        make()
    for word in words:
        assert word in str(info.value)


def test_bad_inputs():
    layer = nn.SeparableConv2D(4, 5, name="sep")
    with pytest.raises(ValueError, match="SeparableConv2D layer 'sep'.*does not fit an input of 3x3"):
        layer(mg.tensor(np.zeros((1, 2, 3, 3))))
    with pytest.raises(ValueError, match="SeparableConv2D layer 'sep' needs images"):
        layer(mg.tensor(np.zeros((1, 9))))
    layer(mg.tensor(np.zeros((1, 2, 6, 6))))
    with pytest.raises(ValueError, match=r"expected input of shape \(None, 2, None, None\)"):
        layer(mg.tensor(np.zeros((1, 3, 6, 6))))
