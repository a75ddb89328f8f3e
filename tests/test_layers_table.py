"""Every exported layer, built, run and gradient-checked: the layers' counterpart of
test_ops_table.py. A class exported by minigrad.nn without its line here fails
test_every_exported_layer_is_in_the_table; add a Layer case (how to make it, a per-sample
input shape) and it is built on cpu and strict in float64, run on a small batch and checked:
d loss/d input and d loss/d every trainable weight against central differences."""
import inspect
from dataclasses import dataclass, field

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.testing import assert_model_gradients


@dataclass
class Layer:
    name: str
    make: object                    # () -> the layer
    shape: tuple                    # per-sample input shape
    inputs: int = 1                 # merge layers take a list of this many inputs
    ids: int = 0                    # > 0: integer ids below this (Embedding): weights checked, not x
    training: bool = False          # run in training mode (reseeded at every call: a fixed draw)
    kwargs: dict = field(default_factory=dict)


def _merge(cls, **kw):
    return [Layer(cls.__name__, lambda: cls(**kw), (3,), inputs=2)]


LAYERS = [
    Layer("Dense", lambda: nn.Dense(3, activation="tanh"), (4,)),
    Layer("Activation", lambda: nn.Activation("softplus"), (4,)),
    Layer("Softmax", lambda: nn.Softmax(axis=1), (3, 2)),
    Layer("LeakyReLU", lambda: nn.LeakyReLU(0.2), (4,)),
    Layer("Dropout", lambda: nn.Dropout(0.5), (6,), training=True),
    Layer("Flatten", lambda: nn.Flatten(), (2, 3, 3)),
    Layer("Reshape", lambda: nn.Reshape((3, 2)), (6,)),
    Layer("BatchNormalization", lambda: nn.BatchNormalization(), (3, 2, 2), training=True),
    Layer("Lambda", lambda: nn.Lambda(lambda t: t * t + 1.0), (4,)),
    Layer("Conv2D", lambda: nn.Conv2D(2, 3, padding="same", activation="tanh"), (2, 4, 4)),
    Layer("Convolution2D", lambda: nn.Convolution2D(2, (3, 3), padding="same"), (2, 4, 4)),
    Layer("Conv2DTranspose", lambda: nn.Conv2DTranspose(2, 3, strides=2), (2, 2, 2)),
    Layer("MaxPooling2D", lambda: nn.MaxPooling2D(2), (1, 4, 4)),
    Layer("UpSampling2D", lambda: nn.UpSampling2D(2), (1, 2, 2)),
    Layer("ZeroPadding2D", lambda: nn.ZeroPadding2D(1), (1, 2, 2)),
    *_merge(nn.Add), *_merge(nn.Subtract), *_merge(nn.Multiply), *_merge(nn.Average),
    *_merge(nn.Maximum), *_merge(nn.Minimum), *_merge(nn.Concatenate),
    Layer("Embedding", lambda: nn.Embedding(5, 3), (4,), ids=5),
    Layer("SimpleRNN", lambda: nn.SimpleRNN(3), (4, 2)),
    Layer("LSTM", lambda: nn.LSTM(3, return_sequences=True), (3, 2)),
    Layer("GRU", lambda: nn.GRU(3), (3, 2)),
    Layer("Bidirectional", lambda: nn.Bidirectional(nn.LSTM(2)), (3, 2)),
    Layer("Conv1D", lambda: nn.Conv1D(2, 3, padding="causal"), (5, 2)),
    Layer("MaxPooling1D", lambda: nn.MaxPooling1D(2), (6, 2)),
    Layer("AveragePooling1D", lambda: nn.AveragePooling1D(2), (6, 2)),
    Layer("GlobalMaxPooling1D", lambda: nn.GlobalMaxPooling1D(), (5, 2)),
    Layer("GlobalAveragePooling1D", lambda: nn.GlobalAveragePooling1D(), (5, 2)),
    Layer("GlobalMaxPooling2D", lambda: nn.GlobalMaxPooling2D(), (2, 3, 3)),
    Layer("GlobalAveragePooling2D", lambda: nn.GlobalAveragePooling2D(), (2, 3, 3)),
    Layer("RandomTranslation", lambda: nn.RandomTranslation(0.2, 0.2), (1, 5, 5), training=True),
    Layer("RandomRotation", lambda: nn.RandomRotation(0.1), (1, 5, 5), training=True),
    Layer("RandomZoom", lambda: nn.RandomZoom(0.2), (1, 5, 5), training=True),
    Layer("RandomFlip", lambda: nn.RandomFlip(), (1, 3, 3), training=True),
    Layer("Rescaling", lambda: nn.Rescaling(1 / 255.0, offset=-0.5), (4,)),
    Layer("DepthwiseConv2D", lambda: nn.DepthwiseConv2D(3, padding="same"), (2, 4, 4)),
    Layer("SeparableConv2D", lambda: nn.SeparableConv2D(2, 3), (2, 4, 4)),
    Layer("Sequential", lambda: nn.Sequential([nn.Dense(3, activation="tanh"), nn.Dense(2)]), (4,)),
]

# exported classes that are not layers to run: the bases a layer or model is written on, and
# the Input placeholder (their own files test them: test_nn_layers, test_nn_functional, ...)
NOT_RUN = {"Module": "the base class", "Layer": "the Keras-style base class",
           "Model": "a container; Sequential and the functional tests run it",
           "InputLayer": "a placeholder for Input(...), no computation"}
BY_NAME = {case.name: case for case in LAYERS}


def test_every_exported_layer_is_in_the_table():
    exported = {name for name in nn.__all__
                if inspect.isclass(getattr(nn, name)) and issubclass(getattr(nn, name), nn.Module)}
    missing = sorted(exported - set(BY_NAME) - set(NOT_RUN))
    assert not missing, f"layers exported by minigrad.nn with no Layer case in tests/test_layers_table.py: {missing}"
    assert set(BY_NAME) <= exported | {"Sequential"}


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_layer_builds_runs_and_its_gradients_match(name, device):
    case = BY_NAME[name]
    mg.manual_seed(0)
    layer = case.make().to(device, dtype="float64")
    rng = np.random.default_rng(1)
    batch = (2,) + case.shape
    if case.ids:
        ids = mg.tensor(rng.integers(0, case.ids, size=batch), device=device)
        x = np.zeros((1,))

        def loss_fn(x):                  # the table's gradient; x plays no part
            return (layer(ids) ** 2).sum() + 0 * x.sum()
    else:
        x = rng.uniform(-1.0, 1.0, size=(case.inputs,) + batch) if case.inputs > 1 else \
            rng.uniform(-1.0, 1.0, size=batch)

        def loss_fn(x):
            if case.training:
                mg.manual_seed(7)        # the same random draw at every call
            inputs = [x[i] for i in range(case.inputs)] if case.inputs > 1 else x
            out = layer(inputs, training=case.training)
            weights = mg.tensor(np.linspace(-1.0, 1.0, out.size).reshape(out.shape), device=device)
            return (out * weights).sum()

    x = mg.tensor(x, device=device, dtype="float64")
    assert np.isfinite(loss_fn(x).item())
    assert layer.built and layer.dtype == np.float64
    assert_model_gradients(layer, loss_fn, x)
