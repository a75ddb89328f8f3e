"""The functional API (nn/graph.py, nn/model.py): Input, layer calls on symbolic tensors,
Model(inputs, outputs), nesting, shared layers, Lambda, merge layers, custom Keras-style
layers with add_weight/add_loss, and the lessons' model code transcribed with renames only."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import nn
from minigrad.losses import binary_crossentropy
from minigrad.nn import (Add, Concatenate, Dense, Input, Lambda, Layer, Model, Sequential, add,
                         concatenate)
from minigrad.testing import assert_model_gradients

from .conftest import float64_model


def _copy_weights(src, dst):
    dst.set_weights(src.get_weights())


# ---------------------------------------------------------------------- symbolic tensors

def test_input_is_symbolic_with_batch_none():
    x = Input((784,), name="pixels")
    assert x.shape == (None, 784) and x.dtype == np.float32 and x.symbolic
    h = Dense(32)(x)
    assert h.shape == (None, 32)
    y = mg.exp(h / 2) * 3 + 1                 # ops on symbolic tensors are recorded, not run
    assert y.shape == (None, 32) and y.symbolic
    assert (h[:, :4]).shape == (None, 4)
    assert mg.sum(h, axis=-1).shape == (None,)
    with pytest.raises(TypeError, match="no value until the model runs"):
        h.numpy()


def test_ops_on_symbolic_tensors_run_with_the_model(device):
    x = Input((3,))
    y = mg.exp(x) * 2 - x[:, :1]
    model = Model(x, y)
    data = np.random.default_rng(0).normal(size=(5, 3))
    out = model(mg.tensor(data, device=device)).numpy()
    np.testing.assert_allclose(out, np.exp(data) * 2 - data[:, :1], rtol=1e-6)


def test_unknown_sizes_beyond_the_batch():
    x = Input((None, 4))                      # variable-length sequences
    y = Dense(2)(x)
    assert y.shape == (None, None, 2)
    z = mg.reshape(x, (-1, 8)) if hasattr(mg, "reshape") else x.reshape(-1, 8)
    assert z.shape == (None, 8)


# ---------------------------------------------------------------------- functional == Sequential

def test_functional_matches_sequential_outputs_and_gradients(device):
    mg.manual_seed(1)
    seq = Sequential([Dense(5, activation="tanh", input_shape=(4,)), Dense(3), Dense(1, activation="sigmoid")])
    x = Input((4,))
    y = Dense(1, activation="sigmoid")(Dense(3)(Dense(5, activation="tanh")(x)))
    fun = Model(x, y)
    _copy_weights(seq, fun)
    seq.to(device, dtype="float64")
    fun.to(device, dtype="float64")
    data = mg.tensor(np.random.default_rng(2).normal(size=(6, 4)), device=device)
    out_s, out_f = seq(data), fun(data)
    np.testing.assert_array_equal(out_s.numpy(), out_f.numpy())
    out_s.sum().backward()
    out_f.sum().backward()
    for p, q in zip(seq.weights, fun.weights):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_functional_model_from_sequential_intermediate_outputs_uses_trained_weights():
    seq = Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(6, activation="relu"),
                      Dense(2, activation="softmax")])
    seq.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    seq.fit(x, (x[:, 0] > 0).astype(int), epochs=2, verbose=0)
    probe = Model(seq.input, [layer.output for layer in seq.layers[:2]])
    first, second = probe.predict(x[:5])
    h1 = np.maximum(x[:5] @ seq.layers[0].kernel.numpy() + seq.layers[0].bias.numpy(), 0)
    h2 = np.maximum(h1 @ seq.layers[1].kernel.numpy() + seq.layers[1].bias.numpy(), 0)
    np.testing.assert_allclose(first, h1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(second, h2, rtol=1e-5, atol=1e-6)
    assert probe.get_layer(seq.layers[1].name) is seq.layers[1]
    assert probe.get_layer(index=0).name.endswith("input")


def test_get_layer_and_layers_list():
    x = Input((3,), name="x_in")
    h = Dense(4, name="conv2")(x)
    model = Model(x, Dense(1, name="out")(h))
    assert [layer.name for layer in model.layers] == ["x_in", "conv2", "out"]
    assert model.get_layer("conv2").units == 4
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        model.get_layer("nope")
    with pytest.raises(TypeError, match="read-only"):
        model.layers.pop()
    seq = Sequential([Dense(2, input_shape=(3,)), Dense(1)])
    with pytest.raises(TypeError, match="model.pop"):
        seq.layers.pop()
    assert len(seq.layers) == 2
    seq.pop()
    assert len(seq.layers) == 1 and seq.output_shape == (2,)


# ---------------------------------------------------------------------- nesting and sharing

def test_nested_models_and_model_in_sequential(device):
    z = Input((2,))
    decoder = Model(z, Dense(3, activation="sigmoid")(Dense(4, activation="relu")(z)), name="decoder")
    x = Input((5,))
    code = Dense(2)(x)
    ae = Model(x, decoder(code))
    stacked = Sequential([Dense(2, input_shape=(5,)), decoder])
    assert ae.count_params() == 5 * 2 + 2 + decoder.count_params()
    assert stacked.output_shape == (3,)
    data = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    ae.to(device)
    h = data @ ae.layers[1].kernel.numpy() + ae.layers[1].bias.numpy()
    np.testing.assert_allclose(ae.predict(data), decoder.predict(h), rtol=1e-5, atol=1e-6)


def test_shared_layer_shares_weights_and_is_counted_once():
    shared = Dense(4, name="shared")
    a, b = Input((3,)), Input((3,))
    merged = concatenate([shared(a), shared(b)])
    model = Model([a, b], Dense(1)(merged))
    assert model.count_params() == (3 * 4 + 4) + (8 + 1)      # the shared Dense once: 25
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Total params: 25" in text and "Connected to" in text
    with pytest.raises(AttributeError, match="called 2 times"):
        shared.output
    assert shared.get_output_at(1).shape == (None, 4)


def test_two_input_two_output_model_gradients(device):
    mg.manual_seed(3)
    shared = Dense(3, activation="tanh")
    a, b = Input((2,)), Input((2,))
    ha, hb = shared(a), shared(b)
    out1 = Dense(1, name="age")(add([ha, hb]))
    out2 = Dense(2, name="income")(concatenate([ha, hb]))
    model = float64_model(Model([a, b], [out1, out2]), device, seed=4)
    x = mg.tensor(np.random.default_rng(5).normal(size=(3, 4)), device=device)

    def loss_fn(x):
        y1, y2 = model([x[:, :2], x[:, 2:]])
        return (y1 * y1).sum() + (y2 * mg.tanh(y2)).sum()

    assert_model_gradients(model, loss_fn, x)


def test_multi_output_fit_names_losses_and_metrics_as_keras():
    a, b = Input((3,), name="a"), Input((2,), name="b")
    h = Dense(8, activation="relu")(concatenate([a, b]))
    age = Dense(1, name="age")(h)
    income = Dense(3, activation="softmax", name="income")(h)
    model = Model([a, b], [age, income])
    model.compile("adam", loss={"age": "mse", "income": "sparse_categorical_crossentropy"},
                  loss_weights={"age": 0.5, "income": 1.0}, metrics={"income": ["accuracy"], "age": ["mae"]})
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(40, 3)).astype(np.float32), rng.normal(size=(40, 2)).astype(np.float32)
    y_age, y_income = rng.normal(size=(40, 1)).astype(np.float32), rng.integers(0, 3, 40)
    history = model.fit({"a": xa, "b": xb}, {"age": y_age, "income": y_income}, epochs=2, batch_size=8,
                        validation_data=([xa, xb], [y_age, y_income]), verbose=0)
    keys = set(history.history)
    assert {"loss", "age_loss", "income_loss", "age_mae", "income_accuracy", "val_loss", "val_age_loss",
            "val_income_accuracy"} <= keys
    # the total is the weighted sum of the per-output losses (no add_loss here)
    scores = model.evaluate([xa, xb], [y_age, y_income], verbose=0, return_dict=True)
    assert scores["loss"] == pytest.approx(0.5 * scores["age_loss"] + scores["income_loss"], rel=1e-5)
    pred_age, pred_income = model.predict([xa, xb])
    assert pred_age.shape == (40, 1) and pred_income.shape == (40, 3)
    assert model.train_on_batch([xa[:8], xb[:8]], [y_age[:8], y_income[:8]]) is not None


def test_dict_outputs_are_named_by_their_keys():
    x = Input((2,))
    model = Model(x, {"first": Dense(1)(x), "second": Dense(1)(x)})
    model.compile("sgd", loss="mse")
    history = model.fit(np.ones((4, 2)), {"first": np.zeros((4, 1)), "second": np.ones((4, 1))},
                        epochs=1, verbose=0)
    assert {"first_loss", "second_loss"} <= set(history.history)
    out = model.predict(np.ones((3, 2)))
    assert set(out) == {"first", "second"}


# ---------------------------------------------------------------------- merge layers and Lambda

@pytest.mark.parametrize("layer, fn", [
    (nn.Add, lambda a, b: a + b), (nn.Subtract, lambda a, b: a - b), (nn.Multiply, lambda a, b: a * b),
    (nn.Average, lambda a, b: (a + b) / 2), (nn.Maximum, np.maximum), (nn.Minimum, np.minimum)])
def test_merge_layers(layer, fn, device):
    a, b = Input((3,)), Input((3,))
    model = Model([a, b], layer()([a, b]))
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    out = model([mg.tensor(xa, device=device), mg.tensor(xb, device=device)]).numpy()
    np.testing.assert_allclose(out, fn(xa, xb), rtol=1e-12)


def test_merge_shape_errors_name_the_layer():
    with pytest.raises(ValueError, match="cannot be merged"):
        Add()([Input((3,)), Input((4,))])
    with pytest.raises(ValueError, match="must match on every axis"):
        Concatenate(axis=-1)([Input((3, 2)), Input((4, 2))])
    assert Concatenate(axis=1)([Input((3, 2)), Input((4, 2))]).shape == (None, 7, 2)


def test_lambda_probes_its_output_shape_and_runs_on_real_tensors(device):
    x = Input((6,))
    halves = Lambda(lambda t: [t[:, :3], t[:, 3:] * 2])(x)
    total = Lambda(lambda t: mg.sum(t, axis=-1, keepdims=True))(x)
    fixed = Lambda(lambda t: t * 0 + 1, output_shape=(6,))(x)
    assert [h.shape for h in halves] == [(None, 3), (None, 3)]
    assert total.shape == (None, 1) and fixed.shape == (None, 6)
    model = Model(x, halves + [total])
    data = np.arange(12.0).reshape(2, 6)
    first, second, s = model(mg.tensor(data, device=device))
    np.testing.assert_array_equal(second.numpy(), data[:, 3:] * 2)
    np.testing.assert_array_equal(s.numpy(), data.sum(axis=1, keepdims=True))


# ---------------------------------------------------------------------- custom Keras-style layers

class ScaledDense(Layer):
    """A custom layer the Keras way: full shapes in build/compute_output_shape, call()."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        assert input_shape[0] is None                    # Keras' full shape
        self.kernel = self.add_weight(shape=(input_shape[1], self.units), initializer="glorot_uniform",
                                      trainable=True, name="kernel")
        self.scale = self.add_weight(shape=(self.units,), initializer="ones", name="scale")

    def call(self, inputs, training=None):
        self.add_loss(1e-3 * mg.sum(self.kernel * self.kernel))
        return (inputs @ self.kernel) * self.scale

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)


def test_custom_layer_build_call_add_weight_add_loss(device):
    x = Input((4,))
    layer = ScaledDense(3)
    y = layer(x)
    assert y.shape == (None, 3) and len(layer.weights) == 2
    model = Model(x, Dense(1)(y))
    model.compile("sgd", "mse")
    data = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    model.fit(data, np.zeros((8, 1), np.float32), epochs=1, verbose=0)
    assert len(model.losses) == 1
    expected = 1e-3 * float((layer.kernel.numpy() ** 2).sum())
    model(mg.tensor(data))
    assert model.losses[0].item() == pytest.approx(expected, rel=1e-5)


def test_custom_layer_without_compute_output_shape_is_probed():
    class Double(Layer):
        def call(self, inputs):
            return mg.concat([inputs, inputs], axis=-1)

    assert Double()(Input((3,))).shape == (None, 6)


# ---------------------------------------------------------------------- the lessons' VAEs

def _keras_vae(latent_dim=2, original_dim=12, hidden=8):
    """The Keras VAE example, transcribed with renames only (K.* -> mg.*)."""
    def sampling(args):
        z_mean, z_log_var = args
        epsilon = mg.randn(z_mean.shape[0], latent_dim, dtype=z_mean.dtype, device=z_mean.device)
        return z_mean + mg.exp(0.5 * z_log_var) * epsilon

    inputs = Input(shape=(original_dim,), name="encoder_input")
    x = Dense(hidden, activation="relu")(inputs)
    z_mean = Dense(latent_dim, name="z_mean")(x)
    z_log_var = Dense(latent_dim, name="z_log_var")(x)
    z = Lambda(sampling, output_shape=(latent_dim,), name="z")([z_mean, z_log_var])
    encoder = Model(inputs, [z_mean, z_log_var, z], name="encoder")
    latent_inputs = Input(shape=(latent_dim,), name="z_sampling")
    x = Dense(hidden, activation="relu")(latent_inputs)
    outputs = Dense(original_dim, activation="sigmoid")(x)
    decoder = Model(latent_inputs, outputs, name="decoder")
    outputs = decoder(encoder(inputs)[2])
    vae = Model(inputs, outputs, name="vae_mlp")
    reconstruction_loss = binary_crossentropy(inputs, outputs)
    reconstruction_loss *= original_dim
    kl_loss = 1 + z_log_var - z_mean * z_mean - mg.exp(z_log_var)
    kl_loss = mg.sum(kl_loss, axis=-1)
    kl_loss *= -0.5
    vae_loss = mg.mean(reconstruction_loss + kl_loss)
    vae.add_loss(vae_loss)
    return vae, encoder, decoder


def test_keras_vae_trains_with_add_loss_and_no_targets():
    vae, encoder, decoder = _keras_vae()
    vae.compile(optimizer="adam")
    x = (np.random.default_rng(0).random((64, 12)) > 0.5).astype(np.float32)
    history = vae.fit(x, epochs=3, batch_size=16, validation_data=(x[:16], None), verbose=0)
    assert set(history.history) == {"loss", "val_loss"}
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert encoder.predict(x[:5])[0].shape == (5, 2) and decoder.predict(np.zeros((3, 2))).shape == (3, 12)
    vae.fit(x, None, epochs=1, verbose=0)
    plain = Sequential([Dense(1, input_shape=(2,))])
    plain.compile("sgd")                      # no loss and no add_loss: an error, not a 0.0
    with pytest.raises(ValueError, match="no loss"):
        plain.fit(np.ones((2, 2)), epochs=1, verbose=0)


def test_keras_vae_gradients_with_add_loss(device):
    mg.manual_seed(0)
    vae, encoder, _ = _keras_vae(latent_dim=2, original_dim=3, hidden=3)
    float64_model(vae, device, seed=1)
    z_layer = encoder.get_layer("z")
    z_layer.function = lambda args: args[0] + mg.exp(0.5 * args[1]) * 0.3     # fixed eps: deterministic
    x = mg.tensor(np.random.default_rng(2).uniform(0.1, 0.9, size=(2, 3)), device=device)

    def loss_fn(x):
        vae(x)
        return sum(vae.losses)

    assert_model_gradients(vae, loss_fn, x)


def test_keras2_loss_layer_closing_over_symbolic_tensors():
    """The Keras 2 blog VAE: a custom layer whose call() uses z_mean and z_log_var from the
    enclosing scope (symbolic tensors); while the model runs they take their real values."""
    original_dim, latent_dim = 10, 2
    x = Input(shape=(original_dim,))
    h = Dense(6, activation="relu")(x)
    z_mean, z_log_var = Dense(latent_dim)(h), Dense(latent_dim)(h)
    z = Lambda(lambda a: a[0] + mg.exp(a[1] / 2) * 0.0)([z_mean, z_log_var])     # eps = 0: deterministic
    x_decoded_mean = Dense(original_dim, activation="sigmoid")(Dense(6, activation="relu")(z))

    class CustomVariationalLayer(Layer):
        def vae_loss(self, x, x_decoded_mean):
            xent_loss = original_dim * binary_crossentropy(x, x_decoded_mean)
            kl_loss = -0.5 * mg.sum(1 + z_log_var - z_mean * z_mean - mg.exp(z_log_var), axis=-1)
            return mg.mean(xent_loss + kl_loss)

        def call(self, inputs):
            self.add_loss(self.vae_loss(inputs[0], inputs[1]))
            return inputs[0]

    y = CustomVariationalLayer()([x, x_decoded_mean])
    vae = Model(x, y)
    vae.compile(optimizer=mg.optim.RMSprop(0.01), loss=None)
    prototypes = np.random.default_rng(0).random((2, original_dim)) > 0.5
    data = prototypes[np.arange(48) % 2].astype(np.float32)
    # the loss the layer adds is computed from the real z_mean / z_log_var of this run
    mean, log_var, decoded = Model(x, [z_mean, z_log_var, x_decoded_mean]).predict(data)
    p = np.clip(decoded, 1e-7, 1 - 1e-7)
    xent = -(data * np.log(p) + (1 - data) * np.log(1 - p)).mean(axis=1) * original_dim
    kl = -0.5 * (1 + log_var - mean ** 2 - np.exp(log_var)).sum(axis=1)
    vae(mg.tensor(data))
    assert vae.losses[0].item() == pytest.approx(float((xent + kl).mean()), rel=1e-4)
    history = vae.fit(data, shuffle=True, epochs=15, batch_size=16, validation_data=(data, None), verbose=0)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]


# ---------------------------------------------------------------------- errors for people

def test_disconnected_graph_names_the_missing_input():
    a, b = Input((2,), name="a"), Input((2,), name="b")
    y = add([Dense(2)(a), b])
    with pytest.raises(ValueError, match="disconnected.*'b'"):
        Model(a, y)


def test_mixing_symbolic_and_real_inputs_is_an_error():
    with pytest.raises(TypeError, match="mix of symbolic"):
        Add()([Input((2,)), mg.ones(1, 2)])


def test_shape_mismatch_between_connected_layers_names_both():
    dense = Dense(3)
    dense(Input((4,)))
    with pytest.raises(ValueError, match="dense.*expected input of shape \\(None, 4\\).*\\(None, 5\\)"):
        dense(Dense(5, name="five")(Input((2,))))


def test_wrong_input_shape_when_running():
    x = Input((3,))
    model = Model(x, Dense(1)(x))
    with pytest.raises(ValueError, match="expects shape \\(None, 3\\)"):
        model.predict(np.ones((2, 4)))


def test_inputs_must_come_from_input():
    h = Dense(2)(Input((3,)))
    with pytest.raises(TypeError, match="made by nn.Input"):
        Model(h, Dense(1)(h))


# ---------------------------------------------------------------------- freezing, saving

def test_freezing_inside_a_functional_model():
    x = Input((3,))
    base = Dense(4, name="base")
    model = Model(x, Dense(1)(base(x)))
    base.trainable = False
    model.compile("sgd", "mse")
    before = base.get_weights()
    model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=2, verbose=0)
    for a, b in zip(before, base.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.count_params() == 21 and len(model.trainable_weights) == 2


@st.composite
def random_dags(draw):
    """A random graph of Dense layers with merges, shared layers and a nested model."""
    rng_width = st.integers(1, 4)
    n_inputs = draw(st.integers(1, 2))
    inputs = [Input((draw(rng_width),)) for _ in range(n_inputs)]
    tensors = list(inputs)
    shared = Dense(draw(rng_width))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["dense", "shared", "concat", "add", "nested"]))
        a = draw(st.sampled_from(tensors))
        if kind == "dense":
            tensors.append(Dense(draw(rng_width))(a))
        elif kind == "shared" and (not shared.built or shared.input_shape == a.shape[1:]):
            tensors.append(shared(a))
        elif kind == "concat":
            tensors.append(concatenate([a, draw(st.sampled_from(tensors))]))
        elif kind == "add":
            tensors.append(add([a, Dense(a.shape[-1])(draw(st.sampled_from(tensors)))]))
        elif kind == "nested":
            inner_in = Input(a.shape[1:])
            tensors.append(Model(inner_in, Dense(2)(inner_in))(a))
    outputs = [tensors[-1]] + ([tensors[-2]] if len(tensors) > n_inputs + 1 else [])
    return Model(inputs, outputs), inputs


@settings(max_examples=15, deadline=None)
@given(random_dags(), st.integers(1, 3))
def test_random_dags_shapes_counts_and_save_load(tmp_path_factory, dag, batch):
    model, inputs = dag
    rng = np.random.default_rng(batch)
    data = [rng.normal(size=(batch,) + t.shape[1:]).astype(np.float32) for t in inputs]
    outs = model.predict(data)
    outs = outs if isinstance(outs, list) else [outs]
    for out, t in zip(outs, model.outputs):
        assert out.shape == (batch,) + t.shape[1:]
    lines = []
    model.summary(print_fn=lines.append)
    assert f"Total params: {sum(p.size for p in model.weights):,}" in "\n".join(lines)
    assert len({id(p) for p in model.weights}) == len(model.weights)
    path = model.save_weights(tmp_path_factory.mktemp("w") / "dag.npz")
    saved = model.get_weights()
    for p in model.weights:
        p.data = p.data * 0
    model.load_weights(path)
    for a, b in zip(saved, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    again = model.predict(data)
    for a, b in zip(outs, again if isinstance(again, list) else [again]):
        np.testing.assert_array_equal(a, b)
