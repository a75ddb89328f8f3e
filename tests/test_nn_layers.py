"""minigrad.nn layers: gradients (gradcheck, float64, cpu + strict), Keras shapes and semantics."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing import assert_model_gradients
from minigrad.nn import (Activation, BatchNormalization, Conv2D, Conv2DTranspose, Dense, Dropout,
                         Flatten, LeakyReLU, MaxPooling2D, Module, Parameter, Reshape, Sequential,
                         UpSampling2D, ZeroPadding2D)



def rand(shape, device, seed=0, scale=1.0):
    data = np.random.default_rng(seed).standard_normal(shape) * scale
    return mg.tensor(data, dtype="float64", device=device)


def built(layer, device, input_shape):
    """The layer in float64 on `device`, built for per-sample `input_shape`."""
    layer.to(device, dtype="float64")
    layer.build_for(input_shape)
    return layer


def check_gradients(layer, x):
    """gradcheck of a layer (or model) with respect to its input and each trainable parameter."""
    if not layer.built:
        layer.build_for(x.shape[1:])
    assert assert_model_gradients(layer, layer, x, method="central")


# ---------------------------------------------------------------------- gradients of every layer

def test_dense_gradients(device):
    layer = built(Dense(3, activation="tanh"), device, (4,))
    layer.bias.data = layer.bias.data + 0.1            # nonzero bias, so it matters
    check_gradients(layer, rand((2, 4), device))


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "softmax", "linear", "leaky_relu",
                                        "softplus"])
def test_activation_layer_gradients(device, activation):
    x = rand((3, 4), device) + 0.05                      # keep relu's kink away from 0
    check_gradients(Activation(activation), x)


def test_softmax_activation_uses_the_last_axis_as_keras(device):
    """Keras' softmax activation is over axis -1 whatever the rank (issue 21.1); nn.Softmax(axis=1)
    gives the channels of NCHW images."""
    out = Activation("softmax")(rand((2, 3, 2, 2), device))
    np.testing.assert_allclose(out.numpy().sum(axis=-1), 1.0, rtol=1e-6)


def test_leaky_relu_layer(device):
    x = rand((2, 5), device) + 0.05
    check_gradients(LeakyReLU(), x)
    y = LeakyReLU()(x).numpy()
    xs = x.numpy()
    np.testing.assert_allclose(y, np.where(xs > 0, xs, 0.3 * xs))


def test_dropout_gradients_and_modes(device):
    layer = Dropout(0.5)

    def fn(x):
        mg.manual_seed(3)                                   # the same mask on every evaluation
        return layer(x)

    assert mg.gradcheck(fn, rand((4, 6), device).requires_grad_())
    x = mg.ones(200, 50, device=device)
    kept = layer(x).numpy()
    assert set(np.unique(kept)) <= {0.0, 2.0} and 0.3 < (kept > 0).mean() < 0.7
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradients(device, training):
    layer = built(BatchNormalization(), device, (3, 2, 2))
    layer.gamma.data = layer.gamma.data * 1.5
    layer.beta.data = layer.beta.data + 0.2
    layer.train(training)
    check_gradients(layer, rand((4, 3, 2, 2), device))


def test_flatten_reshape_gradients(device):
    x = rand((2, 3, 2, 2), device)
    check_gradients(Flatten(), x)
    check_gradients(Reshape((4, -1)), x)
    assert Reshape((4, -1))(x).shape == (2, 4, 3)
    assert Flatten()(x).shape == (2, 12)


def test_image_layer_gradients(device):
    x = rand((2, 2, 5, 4), device)
    check_gradients(UpSampling2D(2), x)
    check_gradients(ZeroPadding2D(((0, 1), (0, 1))), x)
    check_gradients(MaxPooling2D(2), x)
    check_gradients(MaxPooling2D(2, padding="same"), x)
    check_gradients(MaxPooling2D(3, strides=1), x)


def test_conv_layer_gradients(device):
    check_gradients(built(Conv2D(2, 3, padding="same", strides=2), device, (2, 5, 5)),
                    rand((2, 2, 5, 5), device))
    check_gradients(built(Conv2DTranspose(2, 3, padding="same", strides=2), device, (2, 3, 3)),
                    rand((2, 2, 3, 3), device))


def test_sequential_gradients(device):
    model = Sequential([Conv2D(2, 3, padding="same", activation="tanh"), BatchNormalization(),
                        MaxPooling2D(), Flatten(), Dense(3, activation="softmax")])
    model.to(device, dtype="float64")
    check_gradients(model, rand((3, 1, 4, 4), device))


# ---------------------------------------------------------------------- conv geometries (hypothesis)

conv_geometry = st.fixed_dictionaries({
    "n": st.integers(1, 2), "c_in": st.integers(1, 2), "c_out": st.integers(1, 2),
    "h": st.integers(1, 6), "w": st.integers(1, 6), "k": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "s": st.tuples(st.integers(1, 3), st.integers(1, 3)), "d": st.integers(1, 2),
    "padding": st.sampled_from(["valid", "same"]),
})


@given(g=conv_geometry)
def test_conv2d_geometries(device, g):
    span = [g["d"] * (k - 1) + 1 for k in g["k"]]
    if g["padding"] == "valid" and (span[0] > g["h"] or span[1] > g["w"]):
        with pytest.raises(ValueError, match="does not fit"):
            Conv2D(g["c_out"], g["k"], g["s"], g["padding"], dilation_rate=g["d"]).build_for(
                (g["c_in"], g["h"], g["w"]))
        return
    layer = built(Conv2D(g["c_out"], g["k"], g["s"], g["padding"], dilation_rate=g["d"]),
                  device, (g["c_in"], g["h"], g["w"]))
    x = rand((g["n"], g["c_in"], g["h"], g["w"]), device)
    y = layer(x)
    assert y.shape[1:] == layer.output_shape
    if g["padding"] == "same":
        assert y.shape[2:] == (math.ceil(g["h"] / g["s"][0]), math.ceil(g["w"] / g["s"][1]))
    check_gradients(layer, x)


@given(g=conv_geometry, transpose_padding=st.sampled_from(["valid", "same"]))
def test_conv2d_transpose_geometries(device, g, transpose_padding):
    layer = built(Conv2DTranspose(g["c_out"], g["k"], g["s"], transpose_padding, dilation_rate=g["d"]),
                  device, (g["c_in"], g["h"], g["w"]))
    x = rand((g["n"], g["c_in"], g["h"], g["w"]), device)
    y = layer(x)
    assert y.shape[1:] == layer.output_shape
    if transpose_padding == "same":
        assert y.shape[2:] == (g["h"] * g["s"][0], g["w"] * g["s"][1])
    check_gradients(layer, x)

    # Keras/TF semantics: the transposed convolution is the adjoint (the input gradient) of
    # Conv2D with the same kernel, strides and padding, taken on an input of y's size.
    conv = Conv2D(g["c_in"], g["k"], g["s"], transpose_padding, dilation_rate=g["d"], use_bias=False)
    conv = built(conv, device, (g["c_out"],) + y.shape[2:])
    conv.kernel.data = layer.kernel.data                  # (C_in, filters, kh, kw) both ways round
    assert conv.output_shape[1:] == (g["h"], g["w"])
    z = rand(y.shape, device, seed=2)
    y_nobias = y - layer.bias.reshape(1, -1, 1, 1)
    left = float((y_nobias * z).sum().item())
    right = float((x * conv(z)).sum().item())
    assert left == pytest.approx(right, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("size,k,s,expected_pads", [(6, 3, 2, (0, 1)), (5, 3, 2, (1, 1)),
                                                    (4, 2, 2, (0, 0)), (7, 4, 1, (1, 2))])
def test_same_padding_puts_the_odd_zero_at_the_end_like_tensorflow(size, k, s, expected_pads):
    from minigrad.nn.conv_layers import same_padding
    assert same_padding(size, k, s) == expected_pads
    # and the layer agrees with a convolution written out by hand on TF's padded image
    layer = Conv2D(1, (k, 1), strides=(s, 1), padding="same", use_bias=False)
    x = np.arange(size, dtype=np.float64).reshape(1, 1, size, 1) + 1
    layer = built(layer, "cpu", (1, size, 1))
    kernel = layer.kernel.numpy()[0, 0, :, 0]
    padded = np.concatenate([np.zeros(expected_pads[0]), x.ravel(), np.zeros(expected_pads[1])])
    expected = [padded[i * s:i * s + k] @ kernel for i in range(math.ceil(size / s))]
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy().ravel(), expected)


@pytest.mark.parametrize("padding,output_padding,expected", [
    ("same", None, 8), ("valid", None, 9), ("valid", 1, 10), ("same", 1, 8), ("same", 0, 7)])
def test_conv2d_transpose_output_lengths_match_keras(padding, output_padding, expected):
    # Keras' deconv_output_length for in=4, kernel 3, stride 2
    layer = Conv2DTranspose(1, 3, strides=2, padding=padding, output_padding=output_padding)
    assert layer.build_for((1, 4, 4)) == (1, expected, expected)
    assert layer(mg.zeros(1, 1, 4, 4)).shape == (1, 1, expected, expected)


def test_zero_padding_asymmetric_and_upsampling_shapes():
    x = mg.ones(1, 2, 3, 3)
    y = ZeroPadding2D(((0, 1), (0, 1)))(x)
    assert y.shape == (1, 2, 4, 4)
    assert y.numpy()[0, 0, 3].sum() == 0 and y.numpy()[0, 0, :, 3].sum() == 0
    assert ZeroPadding2D(2)(x).shape == (1, 2, 7, 7)
    assert ZeroPadding2D((1, 2))(x).shape == (1, 2, 5, 7)
    assert UpSampling2D(2)(x).shape == (1, 2, 6, 6)
    assert UpSampling2D((1, 3))(x).shape == (1, 2, 3, 9)
    assert MaxPooling2D(2)(mg.ones(1, 1, 5, 5)).shape == (1, 1, 2, 2)
    assert MaxPooling2D(2, padding="same")(mg.ones(1, 1, 5, 5)).shape == (1, 1, 3, 3)


# ---------------------------------------------------------------------- BatchNormalization semantics

def test_batchnorm_batch_stats_in_training_moving_stats_in_eval(device):
    bn = BatchNormalization(momentum=0.9, epsilon=1e-3)
    x_host = np.random.default_rng(0).standard_normal((8, 3, 2, 2)) * 2 + 5
    x = mg.tensor(x_host, dtype="float32", device=device)
    y = bn(x).numpy()
    mean, var = x_host.mean(axis=(0, 2, 3)), x_host.var(axis=(0, 2, 3))
    expected = (x_host - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-3)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
    # Keras' convention: moving = momentum * moving + (1 - momentum) * batch
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 + 0.1 * var, rtol=1e-5)
    bn.eval()
    moving_mean, moving_var = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    y_eval = bn(x).numpy()
    expected = (x_host - moving_mean[None, :, None, None]) / np.sqrt(moving_var[None, :, None, None] + 1e-3)
    np.testing.assert_allclose(y_eval, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), moving_mean)     # eval never updates


def test_batchnorm_state_is_non_trainable_and_frozen_bn_runs_in_inference_mode():
    bn = BatchNormalization()
    bn.build_for((4,))
    assert [name for name, _ in bn.named_parameters()] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [p.trainable for p in bn.weights] == [True, True, False, False]
    assert len(bn.parameters()) == 2
    np.testing.assert_array_equal(bn.gamma.numpy(), 1)
    np.testing.assert_array_equal(bn.moving_variance.numpy(), 1)
    bn.trainable = True
    assert not bn.moving_mean.trainable                   # unfreezing never makes state trainable
    bn.trainable = False
    x = mg.tensor(np.random.default_rng(0).standard_normal((5, 4)) + 3, dtype="float32")
    y = bn(x)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), 0)
    np.testing.assert_allclose(y.numpy(), x.numpy() / np.sqrt(1 + 1e-3), rtol=1e-6)


# ---------------------------------------------------------------------- Module, Parameter, initialisers

def test_dense_kernel_is_keras_layout_with_glorot_uniform_and_zero_bias():
    layer = Dense(300)
    layer.build_for((200,))
    assert layer.kernel.shape == (200, 300) and layer.kernel.dtype == np.float32
    limit = math.sqrt(6 / 500)
    k = layer.kernel.numpy()
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.95 * limit
    assert abs(k.std() - limit / math.sqrt(3)) < 0.01 * limit
    np.testing.assert_array_equal(layer.bias.numpy(), 0)


def test_conv_kernels_use_keras_fans():
    conv = Conv2D(16, 3)
    conv.build_for((8, 10, 10))
    assert conv.kernel.shape == (16, 8, 3, 3)
    limit = math.sqrt(6 / (8 * 9 + 16 * 9))
    assert limit * 0.95 < np.abs(conv.kernel.numpy()).max() <= limit
    deconv = Conv2DTranspose(4, 5)
    deconv.build_for((6, 3, 3))
    assert deconv.kernel.shape == (6, 4, 5, 5)
    limit = math.sqrt(6 / ((6 + 4) * 25))
    assert limit * 0.95 < np.abs(deconv.kernel.numpy()).max() <= limit


def test_initialisation_is_reproducible_with_manual_seed():
    def weights():
        mg.manual_seed(42)
        image = Sequential([Conv2D(2, 3, input_shape=(1, 4, 4)), Conv2DTranspose(2, 3)])
        return image.get_weights() + Sequential([Dense(5, input_shape=(3,))]).get_weights()
    mg.manual_seed(42)
    first = weights()
    for a, b in zip(first, weights()):
        np.testing.assert_array_equal(a, b)


def test_parameters_live_on_the_default_device_and_to_moves_them():
    previous = mg.get_default_device()
    try:
        mg.set_default_device("strict")
        layer = Dense(2, input_shape=(3,))
        layer.build_for((3,))
        assert layer.kernel.device == "strict" and layer.device == "strict"
    finally:
        mg.set_default_device(previous)
    kernel = layer.kernel
    layer.to("cpu")
    assert layer.kernel is kernel and kernel.device == "cpu" and isinstance(kernel.data, np.ndarray)
    layer.double()
    assert kernel.dtype == np.float64 and isinstance(kernel, Parameter) and kernel.requires_grad


def test_module_walks_attributes_and_freezes_recursively():
    class Net(Module):
        def __init__(self):
            super().__init__()
            self.body = Sequential([Dense(4), BatchNormalization()])
            self.head = Dense(1)

        def forward(self, x):
            return self.head(self.body(x))

    net = Net()
    net(mg.ones(2, 3))
    names = [n for n, _ in net.named_parameters()]
    dense = f"{net.body.name}/{net.body.layers[0].name}"
    assert names[:2] == [f"{dense}/kernel", f"{dense}/bias"]
    assert names[-2:] == [f"{net.head.name}/kernel", f"{net.head.name}/bias"]
    assert len(net.parameters()) == 6 and len(net.parameters(trainable_only=False)) == 8
    net.body.trainable = False
    assert not any(p.trainable for p in net.body.weights)
    assert all(p.trainable and p.requires_grad for p in net.head.weights)
    assert len(net.parameters()) == 2
    net.trainable = True
    assert len(net.parameters()) == 6
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_wrong_input_shape_names_the_layer_and_both_shapes():
    layer = Dense(3, name="head")
    layer(mg.ones(2, 5))
    with pytest.raises(ValueError) as err:
        layer(mg.ones(2, 4))
    assert "head" in str(err.value) and "(None, 5)" in str(err.value) and "(None, 4)" in str(err.value)
    conv = Conv2D(2, 3, name="features", input_shape=(1, 8, 8))
    with pytest.raises(ValueError, match=r"features.*\(None, 1, 8, 8\).*\(None, 3, 8, 8\)"):
        conv(mg.ones(2, 3, 8, 8))
    model = Sequential([Dense(4, input_shape=(6,)), Dense(2)])
    with pytest.raises(ValueError, match=r"\(None, 6\).*\(None, 7\)"):
        model(mg.ones(1, 7))


def test_activation_accepts_names_and_callables():
    x = mg.tensor([[-1.0, 2.0]])
    assert Dense(2, activation=lambda t: t * 0)(x).numpy().tolist() == [[0.0, 0.0]]
    with pytest.raises(ValueError, match="unknown activation"):
        Dense(2, activation="swishy")


def test_training_argument_sets_the_mode_for_one_call():
    model = Sequential([Dropout(0.5, input_shape=(100,))])
    x = mg.ones(4, 100)
    np.testing.assert_array_equal(model(x, training=False).numpy(), 1.0)
    assert (model(x, training=True).numpy() == 0).any()
    assert all(m.training for m in model.modules())        # the model's own mode is untouched
    model.eval()
    assert (model(x, training=True).numpy() == 0).any() and not model.layers[0].training
