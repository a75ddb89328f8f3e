"""models/linear.py: whole-model gradient checks, freezing and popping, the regression lesson's bar.

Gradient checks run on tiny float64 models (hypothesis draws the sizes, inputs and seeds),
with respect to the input and every parameter at once: a plain tensor stands in for each
Parameter while gradcheck perturbs it.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import losses
from minigrad.data import linear_regression_data
from minigrad.nn import Dense, Sequential
from minigrad.optim import SGD, Adam
from minigrad.testing import assert_model_gradients
from models.linear import (
    feature_extractor,
    linear_regression,
    small_convnet,
    softmax_classifier,
    unfreeze_last,
)

from .conftest import float64_model

REPO = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------- helpers

def check_model_gradients(model, loss_fn, x, method="central"):
    """gradcheck of loss_fn(x) with respect to x and every trainable parameter of the model."""
    assert assert_model_gradients(model, loss_fn, x, method=method)




def load_example(name):
    """An example script as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", REPO / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------- model construction

def test_linear_regression_is_one_dense_unit():
    model = linear_regression()
    assert len(model.layers) == 1 and isinstance(model.layers[0], Dense)
    assert model.output_shape == (1,)
    kernel, bias = model.get_weights()
    assert kernel.shape == (2, 1) and bias.shape == (1,)
    lines = []
    model.summary(print_fn=lines.append)
    assert "Total params: 3" in "\n".join(lines)


def test_softmax_classifier_outputs_probabilities():
    model = softmax_classifier(4, input_dim=6)
    assert model.output_shape == (4,) and model.count_params() == 6 * 4 + 4
    p = model.predict(np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32))
    assert p.shape == (5, 4)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    lazy = softmax_classifier(3)                       # input size learned on the first batch
    assert lazy.predict(np.zeros((2, 7), np.float32)).shape == (2, 3)


def test_small_convnet_shapes():
    net = small_convnet(n_classes=5)
    assert net.output_shape == (5,)
    assert net.layers[-2].output_shape == (800,)      # what the extractor will give


# ---------------------------------------------------------------------- whole-model gradient checks

@given(n_features=st.integers(1, 5), batch=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_linear_regression_gradients(device, n_features, batch, seed):
    mg.manual_seed(seed)
    model = float64_model(linear_regression(n_features), device, seed, (n_features,))
    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.standard_normal((batch, n_features)), dtype="float64", device=device)
    y = mg.tensor(rng.standard_normal((batch, 1)), dtype="float64", device=device)
    check_model_gradients(model, lambda x: losses.mse(y, model(x)), x)


@given(n_classes=st.integers(2, 5), input_dim=st.integers(1, 6), batch=st.integers(1, 5),
       seed=st.integers(0, 2**16))
def test_softmax_classifier_gradients(device, n_classes, input_dim, batch, seed):
    mg.manual_seed(seed)
    model = float64_model(softmax_classifier(n_classes, input_dim), device, seed, (input_dim,))
    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.standard_normal((batch, input_dim)), dtype="float64", device=device)
    labels = rng.integers(0, n_classes, size=batch)
    check_model_gradients(model, lambda x: losses.sparse_categorical_crossentropy(labels, model(x)), x)


@settings(max_examples=6, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_classes=st.integers(2, 4), batch=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_frozen_extractor_with_head_gradients(device, n_classes, batch, seed):
    """The transfer model: gradients reach the input through the frozen convs and the head's weights;
    the frozen weights are not among the checked inputs (they need no gradient)."""
    mg.manual_seed(seed)
    net = small_convnet(3, input_shape=(1, 10, 10), filters=(2, 3))
    net.build_for((1, 10, 10))
    extractor = feature_extractor(net)
    model = Sequential([*extractor.layers, Dense(n_classes, activation="softmax")])
    float64_model(model, device, seed, (1, 10, 10))
    assert len(model.parameters()) == 2                      # the head's kernel and bias only
    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.uniform(0.05, 0.95, (batch, 1, 10, 10)), dtype="float64", device=device)
    labels = rng.integers(0, n_classes, size=batch)
    check_model_gradients(model, lambda x: losses.sparse_categorical_crossentropy(
        labels, model(x, training=False)), x)


# ---------------------------------------------------------------------- freezing and popping

def _digits(rng, n, shape=(1, 12, 12), classes=3):
    y = rng.integers(0, classes, size=n)
    x = rng.uniform(0, 1, size=(n, *shape)).astype(np.float32)
    for c in range(classes):                               # a learnable signal per class
        x[y == c, :, c * 3:c * 3 + 3, :] += 1.0
    return x, y


def test_feature_extractor_freezes_and_pops():
    mg.manual_seed(0)
    rng = np.random.default_rng(0)
    net = small_convnet(3, input_shape=(1, 12, 12), filters=(4, 4))
    net.compile(optimizer=Adam(lr=1e-2), loss="sparse_categorical_crossentropy")
    x, y = _digits(rng, 64)
    net.fit(x, y, epochs=1, batch_size=16, verbose=0)
    n_layers = len(net.layers)

    extractor = feature_extractor(net)
    assert extractor is net and len(extractor.layers) == n_layers - 1
    assert extractor.output_shape == (4,)                    # flatten of (4, 1, 1)
    assert not extractor.trainable and extractor.parameters() == []
    assert all(not p.trainable for p in extractor.weights)
    lines = []
    extractor.summary(print_fn=lines.append)
    assert "Trainable params: 0" in "\n".join(lines)

    # a new head on the frozen base: only the head moves
    base_before = [w.copy() for w in extractor.get_weights()]
    head = Dense(3, activation="softmax")
    model = Sequential([*extractor.layers, head])
    model.compile(optimizer=Adam(lr=1e-2), loss="sparse_categorical_crossentropy")
    model.build_for((1, 12, 12))
    head_before = [w.copy() for w in head.get_weights()]
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    for before, after in zip(base_before, extractor.get_weights()):
        np.testing.assert_array_equal(before, after)         # bit-identical
    assert any(not np.array_equal(b, a) for b, a in zip(head_before, head.get_weights()))

    # fine-tuning: unfreeze the top layer with weights, compile again: it moves, the rest stays
    unfrozen = unfreeze_last(model, 2)
    assert unfrozen[-1] is head and len(unfrozen) == 2
    first_conv = model.layers[0]
    assert unfrozen[0] is not first_conv
    conv_before = [w.copy() for w in first_conv.get_weights()]
    top_conv_before = [w.copy() for w in unfrozen[0].get_weights()]
    model.compile(optimizer=Adam(lr=1e-3), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    for before, after in zip(conv_before, first_conv.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert any(not np.array_equal(b, a) for b, a in zip(top_conv_before, unfrozen[0].get_weights()))


def test_feature_extractor_features_are_the_layer_before_the_head():
    mg.manual_seed(1)
    net = small_convnet(5, input_shape=(1, 12, 12), filters=(2, 3))
    net.build_for((1, 12, 12))
    x = np.random.default_rng(1).uniform(0, 1, (4, 1, 12, 12)).astype(np.float32)
    head = net.layers[-1]
    probs = net.predict(x)
    features = feature_extractor(net).predict(x)
    # the popped head applied to the features gives the full model's output back
    np.testing.assert_allclose(head(mg.tensor(features)).numpy(), probs, rtol=1e-5, atol=1e-6)


def test_feature_extractor_rejects_bad_requests():
    with pytest.raises(ValueError, match="cannot pop"):
        feature_extractor(linear_regression(), n_pop=1)       # nothing would be left
    with pytest.raises(ValueError, match="cannot pop"):
        feature_extractor(small_convnet(3), n_pop=-1)
    with pytest.raises(TypeError, match="Sequential"):
        feature_extractor(Dense(3))


# ---------------------------------------------------------------------- the lesson's quality bar

@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_linear_regression_lesson_quality_bar(seed):
    """The lesson's settings: 30 points, Dense(1), SGD(lr=0.1), batch 1, 5 epochs:
    mse < 0.05 and w1, w2, b within 0.3 of (2, 3, 1)."""
    mg.manual_seed(seed)
    x, y = linear_regression_data(30, seed=seed, noise=0.1)
    model = linear_regression()
    model.compile(optimizer=SGD(lr=0.1), loss="mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=5, batch_size=1, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    w, b = model.get_weights()
    learned = np.array([w[0, 0], w[1, 0], b[0]])
    assert after < 0.05 < before, (before, after)
    assert np.abs(learned - [2.0, 3.0, 1.0]).max() < 0.3, learned
