"""No silent divergence from Keras (issue 21): each test failed on main before its fix.

Where a number comes from real Keras, it was measured with Keras 3.15.1 (torch backend) in a
scratch virtualenv, never a dependency of minigrad; the snippet is in the test's docstring.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.engine import functional as F


@pytest.fixture
def channels_last():
    nn.set_image_data_format("channels_last")
    try:
        yield
    finally:
        nn.set_image_data_format("channels_first")


def _images(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# ----------------------------------------------------------------------------- 21.1 softmax axis

def test_dense_softmax_on_a_4d_input_normalises_the_units(device):
    """keras.layers.Dense(6, activation="softmax") on a (2, 3, 4, 5) input: sums to 1 over the
    6 units (axis -1). main summed to 1 over axis 1 instead."""
    out = nn.Dense(6, activation="softmax")(mg.tensor(_images((2, 3, 4, 5)), device=device))
    np.testing.assert_allclose(out.numpy().sum(axis=-1), 1.0, rtol=1e-5)


def test_activation_softmax_is_the_last_axis_under_channels_last(channels_last, device):
    x = _images((2, 4, 4, 3))
    out = nn.Activation("softmax")(mg.tensor(x, device=device)).numpy()
    expected = np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_softmax_layer_takes_an_axis(device):
    x = _images((2, 3, 4, 4))
    out = nn.Softmax(axis=1)(mg.tensor(x, device=device)).numpy()
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    assert nn.Softmax()(mg.tensor(x, device=device)).numpy().sum(axis=-1) == pytest.approx(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="axis 0 is the batch"):
        nn.Softmax(axis=0)
    with pytest.raises(ValueError, match=r"Softmax layer .* axis 5 is not a feature axis"):
        nn.Softmax(axis=5)(mg.tensor(x, device=device))


def test_softmax_layer_gradient(device):
    x = mg.tensor(np.random.default_rng(1).normal(size=(2, 3, 2)), requires_grad=True, device=device)
    assert mg.gradcheck(lambda t: nn.Softmax(axis=1)(t), x)


def test_conv_softmax_activation_runs_in_the_layer_layout(channels_last, device):
    """Conv2D(4, 1, activation="softmax") under channels_last: each pixel's 4 channels sum to 1
    (Keras applies the activation on the NHWC output)."""
    out = nn.Conv2D(4, 1, activation="softmax")(mg.tensor(_images((2, 5, 5, 3)), device=device)).numpy()
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-5)


# ----------------------------------------------------------------------------- 21.2 data_format everywhere

def _pair_of_layers(make):
    """The same layer in both layouts, with the same weights."""
    first = make("channels_first")
    last = make("channels_last")
    return first, last


IMAGE_LAYERS = {
    "Conv2D": lambda f: nn.Conv2D(4, 3, padding="same", activation="relu", data_format=f),
    "Conv2DTranspose": lambda f: nn.Conv2DTranspose(2, 3, strides=2, padding="same", data_format=f),
    "MaxPooling2D": lambda f: nn.MaxPooling2D(2, padding="same", data_format=f),
    "UpSampling2D": lambda f: nn.UpSampling2D((2, 3), data_format=f),
    "ZeroPadding2D": lambda f: nn.ZeroPadding2D(((1, 0), (2, 1)), data_format=f),
    "DepthwiseConv2D": lambda f: nn.DepthwiseConv2D(3, depth_multiplier=2, data_format=f),
    "SeparableConv2D": lambda f: nn.SeparableConv2D(5, 3, activation="tanh", data_format=f),
    "GlobalAveragePooling2D": lambda f: nn.GlobalAveragePooling2D(data_format=f),
    "GlobalMaxPooling2D": lambda f: nn.GlobalMaxPooling2D(data_format=f, keepdims=True),
    "RandomFlip": lambda f: nn.RandomFlip(seed=3, data_format=f),
    "RandomRotation": lambda f: nn.RandomRotation(0.2, seed=3, data_format=f),
    "RandomZoom": lambda f: nn.RandomZoom(0.3, seed=3, data_format=f),
    "RandomTranslation": lambda f: nn.RandomTranslation(0.2, 0.2, seed=3, data_format=f),
}


@pytest.mark.parametrize("name", sorted(IMAGE_LAYERS))
def test_every_image_layer_agrees_in_both_formats(name, device):
    """channels_last(x.transpose(NHWC)) == channels_first(x).transpose(NHWC), same weights."""
    first, last = _pair_of_layers(IMAGE_LAYERS[name])
    x = _images((2, 3, 6, 7))
    y_first = first(mg.tensor(x, device=device))
    last.to(device).build_for((6, 7, 3))
    for source, target in zip(first.weights, last.weights, strict=True):
        target.data = source.data.copy()
    y_last = last(mg.tensor(x.transpose(0, 2, 3, 1), device=device))
    expected = y_first.numpy()
    if expected.ndim == 4:
        expected = expected.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(y_last.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert last.output_shape == tuple(y_last.shape[1:])


def test_global_pooling_follows_set_image_data_format(channels_last, device):
    x = mg.tensor(_images((2, 5, 5, 3)), device=device)
    assert nn.GlobalAveragePooling2D()(x).shape == (2, 3)
    assert nn.GlobalMaxPooling2D()(x).shape == (2, 3)
    model = nn.Sequential([nn.Input((5, 5, 3)), nn.GlobalAveragePooling2D(), nn.Dense(2)])
    assert model.count_params() == 3 * 2 + 2            # Keras' total: the 3 channels feed the Dense


def test_batch_norm_takes_the_format_of_when_it_was_made(device):
    nn.set_image_data_format("channels_last")
    try:
        bn = nn.BatchNormalization()
    finally:
        nn.set_image_data_format("channels_first")
    bn(mg.tensor(_images((2, 4, 4, 3)), device=device))
    assert bn.gamma.shape == (3,)


def test_reshape_does_not_warn_on_a_one_by_one_target(recwarn):
    nn.Reshape((1, 1, 2))
    nn.Reshape((2, 4, 4))
    assert not [w for w in recwarn if "channels-last" in str(w.message)]
    with pytest.warns(UserWarning, match="looks like a channels-last image"):
        nn.Reshape((7, 7, 128))


# ----------------------------------------------------------------------------- 21.3 sub-layers in containers

class _Heads(nn.Model):
    def __init__(self):
        super().__init__()
        self.body = nn.Dense(4)
        self.heads = {"b": nn.Dense(2), "a": [nn.Dense(1), (nn.Dense(3),)]}

    def call(self, x):
        h = self.body(x)
        return self.heads["b"](h) + self.heads["a"][0](h) + self.heads["a"][1][0](h)[:, :2]


def test_sub_layers_in_dicts_and_nested_lists_are_tracked(device):
    """Keras 3.15: the same model has 46 parameters, in the order body, hb, ha0, ha1 (attribute
    order, dict insertion order, nesting followed). main counted 16 (the body alone)."""
    model = _Heads()
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    model(mg.tensor(x, device=device))
    assert model.count_params() == 46
    assert [p.shape for p in model.weights] == [(3, 4), (4,), (4, 2), (2,), (4, 1), (1,), (4, 3), (3,)]
    head = model.heads["a"][1][0]
    assert head in list(model.modules())
    model.eval()
    assert not head.training
    model.train()
    before = model.heads["b"].kernel.numpy().copy()
    model.compile("sgd", "mse")
    model.fit(x, x[:, :2], epochs=1, verbose=0)
    assert not np.array_equal(model.heads["b"].kernel.numpy(), before)       # fit trains the dict's head


def test_parameters_in_a_list_are_tracked():
    class Scales(nn.Module):
        def __init__(self):
            super().__init__()
            self.scales = [nn.Parameter(np.ones(2)), {"c": nn.Parameter(np.ones(3))}]

        def forward(self, x):
            return x

    assert [name for name, _ in Scales().named_parameters()] == ["scales/0", "scales/1/c"]


# ----------------------------------------------------------------------------- 21.8 initializers

@pytest.mark.parametrize("layer", [
    lambda init: nn.Dense(2, kernel_initializer=init),
    lambda init: nn.Conv2D(2, 3, kernel_initializer=init),
    lambda init: nn.Conv1D(2, 3, bias_initializer=init),
    lambda init: nn.Embedding(5, 2, embeddings_initializer=init),
    lambda init: nn.SeparableConv2D(2, 3, pointwise_initializer=init),
])
def test_unknown_initializer_fails_when_the_layer_is_made(layer):
    with pytest.raises(ValueError, match=r"_initializer: unknown initializer 'glorot_uniformm'"):
        layer("glorot_uniformm")


def test_dense_orthogonal_kernel(device):
    """Dense(kernel_initializer="orthogonal") failed at build on main ("unknown initializer")."""
    dense = nn.Dense(6, kernel_initializer="orthogonal")
    dense(mg.tensor(np.ones((1, 10), np.float32), device=device))
    k = dense.kernel.numpy().astype("float64")
    np.testing.assert_allclose(k.T @ k, np.eye(6), atol=1e-5)          # orthonormal columns
    wide = nn.Dense(10, kernel_initializer="Orthogonal")                # Keras' class name works too
    wide(mg.tensor(np.ones((1, 4), np.float32), device=device))
    k = wide.kernel.numpy().astype("float64")
    np.testing.assert_allclose(k @ k.T, np.eye(4), atol=1e-5)


@pytest.mark.parametrize("name, std", [("he_normal", np.sqrt(2 / 400)), ("he_uniform", np.sqrt(2 / 400)),
                                       ("lecun_normal", np.sqrt(1 / 400)), ("glorot_normal", np.sqrt(2 / 600)),
                                       ("random_normal", 0.05), ("truncated_normal", 0.05 * 0.87962566103423978)])
def test_variance_scaling_initializers_have_keras_spread(name, std):
    """Keras' VarianceScaling: he_normal is a normal cut at 2 stddevs with variance 2 / fan_in."""
    mg.manual_seed(0)
    dense = nn.Dense(200, kernel_initializer=name)
    dense(mg.tensor(np.ones((1, 400), np.float32)))
    k = dense.kernel.numpy()
    assert abs(k.std() / std - 1) < 0.02 and abs(k.mean()) < 0.1 * std
    if "normal" in name and name != "random_normal":
        bound = 2 * std / 0.87962566103423978          # the cut is at 2 stddevs of the untruncated normal
        assert np.abs(k).max() <= bound * (1 + 1e-6)


# ----------------------------------------------------------------------------- 22.5 masks through Dropout

def test_the_mask_goes_through_dropout_in_training(device):
    """Embedding(mask_zero) -> Dropout -> LSTM: padding (id 0) must not be trained on. On main the
    mask was lost in training (Dropout makes a new tensor), so the padding row got a gradient."""
    mg.manual_seed(0)
    model = nn.Sequential([nn.Embedding(6, 4, mask_zero=True), nn.Dropout(0.5), nn.LSTM(3)])
    ids = mg.tensor(np.array([[3, 1, 0, 0], [2, 5, 4, 0]]), device=device)
    out = model(ids, training=True)
    out.sum().backward()
    table_grad = model.layers[0].embeddings.grad.numpy()
    assert np.all(table_grad[0] == 0) and np.any(table_grad[3] != 0)
    dropped = model.layers[1](model.layers[0](ids), training=True)
    assert nn.embedding.mask_of(dropped) is not None


# ----------------------------------------------------------------------------- 22.6 add_weight after build

def test_add_weight_in_call_is_refused_as_keras():
    """Keras 3.15: "You cannot add new elements of state (variables or sub-layers) to a layer that is
    already built". main made a new, never-trained weight on every call."""
    class MakesWeightsInCall(nn.Layer):
        def call(self, x):
            return x * self.add_weight(shape=(2,), initializer="ones")

    with pytest.raises(RuntimeError, match=r"add_weight of layer 'makes_weights_in_call.*already built.*build\(input_shape\)"):
        MakesWeightsInCall()(np.ones((1, 2), np.float32))

    class MakesWeightsInBuild(nn.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.w

    layer = MakesWeightsInBuild()
    layer(np.ones((1, 2), np.float32))
    layer(np.ones((1, 2), np.float32))
    assert len(layer.weights) == 1


# ----------------------------------------------------------------------------- 21.6 accepted and ignored

def test_input_batch_size_is_refused_by_name():
    with pytest.raises(TypeError, match=r"Input\(batch_size=8\) is not supported.*fit/evaluate/predict"):
        nn.Input((3,), batch_size=8)
    with pytest.raises(TypeError, match=r"InputLayer\(batch_size=8\)"):
        nn.InputLayer((3,), batch_size=8)
    assert nn.Input((3,), batch_size=None).shape == (None, 3)


# ----------------------------------------------------------------------------- 21.9 metric functions in a loss

def test_metric_functions_are_differentiable_on_tensors_and_match_keras(device):
    """Keras 3.15 (keras.metrics.*) on t = [[1, 0, 1], [0, 0, 1]], p = [[.9, .2, .6], [.3, .1, .8]]:
    binary_crossentropy [0.27977657, 0.22839300], categorical_crossentropy (one-hot [1], [2],
    p normalised) [2.14006616, 0.40546511], mean_squared_error [0.07, 0.04666667].
    On main these were NumPy-only: used in a loss, backward failed on a numpy.float32."""
    t = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    p = np.array([[0.9, 0.2, 0.6], [0.3, 0.1, 0.8]])
    onehot = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    cases = [(nn.metrics.binary_crossentropy, t, p, [0.27977657318115234, 0.22839300334453583]),
             (nn.metrics.categorical_crossentropy, onehot, p / p.sum(1, keepdims=True),
              [2.1400661634962708, 0.4054651081081643]),
             (nn.metrics.mean_squared_error, t, p, [0.07, 0.046666666865348816])]
    for fn, y_true, y_pred, keras_values in cases:
        x = mg.tensor(y_pred, requires_grad=True, device=device)
        values = fn(y_true, x)
        np.testing.assert_allclose(values.numpy(), keras_values, rtol=1e-6)
        np.testing.assert_allclose(fn(y_true, y_pred), keras_values, rtol=1e-6)     # the NumPy path agrees
        assert mg.gradcheck(lambda v: fn(y_true, v), x)


def test_a_metric_function_as_a_compiled_loss_trains(device):
    model = nn.Sequential([nn.Dense(1, activation="sigmoid", input_shape=(2,))]).to(device)
    model.compile("sgd", loss=lambda t, p: nn.metrics.binary_crossentropy(t, p).mean())
    x = np.array([[0.0, 1.0], [1.0, 0.0]] * 4, np.float32)
    y = np.array([[1.0], [0.0]] * 4, np.float32)
    history = model.fit(x, y, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


# ----------------------------------------------------------------------------- 21.11 Keras 1/2 spellings

def _compiled():
    model = nn.Sequential([nn.Dense(1, input_shape=(2,))])
    model.compile("sgd", "mse")
    return model, np.ones((4, 2), np.float32), np.ones((4, 1), np.float32)


@pytest.mark.parametrize("old, new", [("nb_epoch", "epochs="), ("samples_per_epoch", "steps_per_epoch="),
                                      ("nb_val_samples", "validation_steps=")])
def test_fit_refuses_keras2_arguments_naming_keras3s(old, new):
    """Keras 3.15: fit(nb_epoch=2) is "got an unexpected keyword argument 'nb_epoch'"; here the
    error also names the Keras 3 spelling."""
    model, x, y = _compiled()
    with pytest.raises(TypeError, match=rf"fit\({old}=...\) is Keras 1/2's spelling.*use {new}"):
        model.fit(x, y, verbose=0, **{old: 2})
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['epoch'\]"):
        model.fit(x, y, epoch=2)


@pytest.mark.parametrize("method, fix", [("fit_generator", r"model.fit\(generator, steps_per_epoch"),
                                         ("predict_classes", r"np.argmax\(model.predict\(x\), axis=-1\)"),
                                         ("predict_generator", r"model.predict\(generator"),
                                         ("evaluate_generator", r"model.evaluate\(generator")])
def test_keras2_methods_say_what_keras3_writes(method, fix):
    """Keras 3.15: 'Sequential' object has no attribute 'fit_generator' / 'predict_classes'."""
    model, x, y = _compiled()
    assert not hasattr(model, method)
    with pytest.raises(AttributeError, match=rf"{method}\(\) is Keras 1/2's, removed in Keras 3: {fix}"):
        getattr(model, method)


def test_convolution2d_with_keras1_kernel_arguments_is_refused():
    """Keras 3.15 runs keras.layers.Convolution2D(64, 3, 3) as kernel 3, strides 3: Keras 1 meant
    a 3x3 kernel. Refused here, naming Conv2D(64, (3, 3))."""
    with pytest.raises(TypeError, match=r"Convolution2D\(64, 3, 3, ...\) is Keras 1's spelling of a 3x3 kernel.*"
                                        r"Conv2D\(64, \(3, 3\)\)"):
        nn.Convolution2D(64, 3, 3)
    with pytest.raises(TypeError, match=r"Convolution2D\(border_mode=...\) is Keras 1's spelling: use padding="):
        nn.Convolution2D(64, 3, border_mode="same")
    layer = nn.Convolution2D(8, (3, 3), strides=2, padding="same")        # Keras 3's spelling works
    assert layer(mg.tensor(_images((1, 2, 6, 6)))).shape == (1, 8, 3, 3)


def test_fit_initial_epoch_must_be_a_whole_number():
    model, x, y = _compiled()
    with pytest.raises(ValueError, match=r"fit: initial_epoch must be an integer between 0 and epochs \(3\), got 1.5"):
        model.fit(x, y, epochs=3, initial_epoch=1.5, verbose=0)


# ----------------------------------------------------------------------------- regularizers

def test_activity_regularizer_is_divided_by_the_batch_size_as_keras3(device):
    """Keras 3.15: Dense(4, kernel_initializer="ones", activity_regularizer=l2(1e-3)) on ones((5, 3))
    has losses [0.036] (1e-3 * 5 * 4 * 3^2 / 5); main summed over the batch (0.18)."""
    dense = nn.Dense(4, kernel_initializer="ones", activity_regularizer=nn.regularizers.l2(1e-3))
    dense(mg.tensor(np.ones((5, 3), np.float32), device=device))
    assert [t.item() for t in dense.losses] == [pytest.approx(0.036, rel=1e-6)]
    dense(mg.tensor(np.ones((0, 3), np.float32), device=device))
    assert [t.item() for t in dense.losses] == [0.0]                  # an empty batch adds 0
