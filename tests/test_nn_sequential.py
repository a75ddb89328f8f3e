"""Sequential and the Keras model API: summary, add/pop, compile/fit/evaluate/predict, freezing,
weights on disk (atomic, checked) and bit-identical resume."""
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.optim as optim
from minigrad.nn import (Activation, BatchNormalization, Conv2D, Conv2DTranspose, Dense, Dropout,
                         Flatten, Input, LeakyReLU, MaxPooling2D, Reshape, Sequential, UpSampling2D,
                         ZeroPadding2D)


def summary_text(model):
    lines = []
    model.summary(print_fn=lines.append)
    return "\n".join(lines)


def totals(text):
    def number(label):
        line = next(l for l in text.splitlines() if l.startswith(label))
        return int(line.split(":")[1].replace(",", ""))
    return number("Total params"), number("Trainable params"), number("Non-trainable params")


# ---------------------------------------------------------------------- summary

def test_two_class_head_on_1000_features_reports_2002_params():
    model = Sequential([Dense(2, activation="softmax", input_shape=(1000,))])
    text = summary_text(model)
    assert "(None, 2)" in text and "(Dense)" in text
    assert "Total params: 2,002" in text
    assert totals(text) == (2002, 2002, 0)


def test_summary_table_like_keras_before_any_data():
    model = Sequential([Dense(4096, activation="relu", input_shape=(784,)), Dense(2)], name="vgg_head")
    text = summary_text(model)
    first, second = model.layers
    assert 'Model: "vgg_head"' in text
    assert f"{first.name} (Dense)" in text and "(None, 4096)" in text and "3,215,360" in text
    assert "Total params: 3,223,554" in text and "Trainable params: 3,223,554" in text
    assert "Non-trainable params: 0" in text


layer_specs = st.lists(st.one_of(
    st.tuples(st.just("dense"), st.integers(1, 40)),
    st.tuples(st.just("bn"), st.just(0)),
    st.tuples(st.just("dropout"), st.just(0)),
    st.tuples(st.just("act"), st.sampled_from(["relu", "tanh", "softmax"])),
), min_size=1, max_size=6)


def make_layer(kind, arg):
    return {"dense": lambda: Dense(arg), "bn": BatchNormalization, "dropout": lambda: Dropout(0.5),
            "act": lambda: Activation(arg)}[kind]()


@given(specs=layer_specs, n_in=st.integers(1, 50), frozen=st.lists(st.booleans(), max_size=6))
def test_summary_total_is_the_sum_of_parameter_sizes(specs, n_in, frozen):
    model = Sequential([Input((n_in,))] + [make_layer(*s) for s in specs])
    for layer, freeze in zip(model.layers, frozen):
        layer.trainable = not freeze
    total, trainable, non_trainable = totals(summary_text(model))
    weights = model.weights
    assert total == sum(p.size for p in weights) == sum(layer.count_params() for layer in model.layers)
    assert trainable == sum(p.size for p in weights if p.trainable)
    assert non_trainable == total - trainable
    # and it agrees with a forward pass
    out = model.predict(np.zeros((2, n_in), dtype=np.float32))
    assert out.shape[1:] == model.output_shape


def test_conv_stack_summary_shapes_and_counts():
    model = Sequential([
        Conv2D(8, 3, padding="same", activation="relu", input_shape=(1, 28, 28)),   # 80
        BatchNormalization(),                                                      # 32 (16 non-tr.)
        LeakyReLU(),
        MaxPooling2D(),
        Conv2DTranspose(4, 3, strides=2, padding="same"),                          # 292
        ZeroPadding2D(((0, 1), (0, 1))),
        UpSampling2D(),
        Flatten(),
        Dropout(0.3),
        Dense(10),                                                                 # 134,570
        Reshape((2, 5)),
    ])
    text = summary_text(model)
    for shape in ["(None, 8, 28, 28)", "(None, 8, 14, 14)", "(None, 4, 28, 28)", "(None, 4, 29, 29)",
                  "(None, 4, 58, 58)", "(None, 13456)", "(None, 10)", "(None, 2, 5)"]:
        assert shape in text
    assert totals(text) == (134_974, 134_958, 16)
    assert model.predict(np.zeros((3, 1, 28, 28), dtype=np.float32)).shape == (3, 2, 5)


def test_pop_really_removes_the_layer_and_add_builds_the_new_one():
    model = Sequential([Dense(16, input_shape=(8,)), Dense(4), Dense(2)])
    assert totals(summary_text(model))[0] == 144 + 68 + 10
    popped = model.pop()
    assert isinstance(popped, Dense) and len(model.layers) == 2
    text = summary_text(model)
    assert totals(text)[0] == 144 + 68 and popped.name not in text
    assert model.output_shape == (4,)
    assert model.predict(np.zeros((5, 8), dtype=np.float32)).shape == (5, 4)
    model.add(Dense(3))
    assert totals(summary_text(model))[0] == 144 + 68 + 15
    assert model.output_shape == (3,)
    assert model(mg.ones(2, 8)).shape == (2, 3)
    model.pop(), model.pop(), model.pop()
    with pytest.raises(IndexError):
        model.pop()


def test_unbuilt_model_builds_on_first_batch():
    model = Sequential([Dense(3), Dense(1)])
    assert "?" in summary_text(model)
    model(mg.ones(4, 7))
    assert totals(summary_text(model))[0] == 24 + 4
    assert model.input_shape == (7,) and model.output_shape == (1,)


# ---------------------------------------------------------------------- training

def test_tiny_mlp_learns_xor():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    model = Sequential([Dense(8, activation="tanh", input_shape=(2,)), Dense(1, activation="sigmoid")])
    model.compile(optimizer=optim.Adam(lr=0.05), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=300, batch_size=4, verbose=0)
    assert history.history["accuracy"][-1] == 1.0 and history.history["loss"][-1] < 0.05
    np.testing.assert_array_equal(model.predict(x) > 0.5, y > 0.5)


def test_tiny_conv_net_memorises_random_labels():
    rng = np.random.default_rng(0)
    x = rng.random((64, 1, 12, 12), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    model = Sequential([Conv2D(8, 3, activation="relu", input_shape=(1, 12, 12)), MaxPooling2D(),
                        Flatten(), Dense(32, activation="relu"), Dense(10, activation="softmax")])
    model.compile(optimizer=optim.Adam(lr=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=40, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0)[1] == 1.0
    assert (model.predict(x).argmax(axis=1) == y).mean() == 1.0


def test_fit_on_every_device_with_history_and_validation(device):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5]) > 0).astype(np.int64)
    model = Sequential([Dense(8, activation="relu", input_shape=(3,)), Dense(2, activation="softmax")])
    model.to(device)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=16, validation_data=(x[:10], y[:10]), verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.epoch == [0, 1, 2] and all(len(v) == 3 for v in history.history.values())
    assert model.history is history
    assert model.weights[0].device == device
    loss, accuracy = model.evaluate(x, y, verbose=0)
    assert np.isfinite(loss) and 0 <= accuracy <= 1
    assert model.predict(x, batch_size=7).shape == (40, 2)


def test_accuracy_kinds():
    from minigrad.nn import metrics
    probs = mg.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    right = [1.0, 1.0, 0.0]                      # one value per sample, as Keras' metric functions
    np.testing.assert_array_equal(metrics.accuracy(mg.tensor([1, 0, 0]), probs), right)   # sparse labels
    np.testing.assert_array_equal(metrics.accuracy(mg.tensor([[0, 1], [1, 0], [1, 0]]), probs), right)  # one-hot
    np.testing.assert_array_equal(metrics.accuracy(mg.tensor([[1], [0], [0]]), probs[:, 1:]), right)  # sigmoid
    np.testing.assert_array_equal(metrics.accuracy(mg.tensor([1, 0, 0]), probs[:, 1]), right)


def test_verbose_output(capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "tqdm.auto", None)     # the built-in text bar
    x, y = np.zeros((10, 2), np.float32), np.zeros((10, 1), np.float32)
    model = Sequential([Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, epochs=2, batch_size=4, verbose=1, validation_data=(x, y))
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "3/3" in out
    assert "loss:" in out and "accuracy:" in out and "val_loss:" in out


def test_shuffling_follows_the_seed():
    x = np.random.default_rng(0).standard_normal((30, 4)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)

    def run():
        mg.manual_seed(7)
        model = Sequential([Dense(3, activation="tanh", input_shape=(4,)), Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        return model.get_weights()

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- freezing

def test_frozen_layers_stay_bit_identical_while_the_head_moves():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 1, 6, 6)).astype(np.float32)
    y = rng.integers(0, 2, 32)
    base = Sequential([Conv2D(4, 3, activation="relu", input_shape=(1, 6, 6)), BatchNormalization(),
                       Flatten(), Dense(8, activation="relu")])
    model = Sequential([base, Dense(2, activation="softmax")])
    base.trainable = False
    before = base.get_weights()
    head_before = model.layers[1].get_weights()
    assert totals(summary_text(model))[1] == 8 * 2 + 2
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for a, b in zip(before, base.get_weights()):                # includes BN's moving statistics
        np.testing.assert_array_equal(a, b)
    assert all(not np.array_equal(a, b) for a, b in zip(head_before, model.layers[1].get_weights()))


def test_trainable_is_fixed_at_compile_like_keras_for_gans():
    discriminator = Sequential([Dense(4, activation="relu", input_shape=(3,)), Dense(1, activation="sigmoid")])
    discriminator.compile(optimizer="sgd", loss="binary_crossentropy")
    discriminator.trainable = False
    generator = Sequential([Dense(3, input_shape=(2,))])
    gan = Sequential([generator, discriminator])
    gan.compile(optimizer="sgd", loss="binary_crossentropy")

    d_before, g_before = discriminator.get_weights(), generator.get_weights()
    gan.train_on_batch(np.ones((4, 2), np.float32), np.ones((4, 1), np.float32))
    assert all(np.array_equal(a, b) for a, b in zip(d_before, discriminator.get_weights()))
    assert not np.array_equal(g_before[0], generator.get_weights()[0])
    discriminator.train_on_batch(np.ones((4, 3), np.float32), np.zeros((4, 1), np.float32))
    assert not np.array_equal(d_before[0], discriminator.get_weights()[0])
    assert discriminator.trainable is False and not discriminator.weights[0].trainable


# ---------------------------------------------------------------------- weights on disk

def small_model():
    return Sequential([Conv2D(2, 3, padding="same", input_shape=(1, 5, 5)), BatchNormalization(),
                       Flatten(), Dense(3, activation="softmax")])


def test_get_set_weights_keras_order():
    model = small_model()
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(2, 1, 3, 3), (2,), (2,), (2,), (2,), (2,), (50, 3), (3,)]
    new = [np.full(s, i, dtype=np.float32) for i, s in enumerate(shapes)]
    model.set_weights(new)
    for a, b in zip(new, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="dense"):
        model.set_weights(new[:-2] + [np.zeros((40, 3)), new[-1]])


def test_save_load_round_trip(tmp_path):
    model = small_model()
    x = np.random.default_rng(0).random((4, 1, 5, 5)).astype(np.float32)
    model(x)
    path = model.save_weights(tmp_path / "model")         # exactly the name given (Keras' rule)
    assert path == str(tmp_path / "model") and os.path.exists(path)
    assert not os.path.exists(tmp_path / "model.npz")
    other = small_model()
    other.load_weights(tmp_path / "model")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x), other.predict(x))


def test_an_interrupted_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    model = small_model()
    path = model.save_weights(tmp_path / "weights.npz")
    good = open(path, "rb").read()

    def dies_half_way(file, **arrays):
        file.write(b"PK\x03\x04 half a zip file")
        raise KeyboardInterrupt("power cut")

    model.set_weights([w + 1 for w in model.get_weights()])
    monkeypatch.setattr(np, "savez", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        model.save_weights(path)
    monkeypatch.undo()
    assert open(path, "rb").read() == good
    assert os.listdir(tmp_path) == ["weights.npz"]           # no temporary file left behind
    small_model().load_weights(path)                         # and it still loads


def test_loading_into_the_wrong_architecture_names_the_layer_and_shapes(tmp_path):
    path = small_model().save_weights(tmp_path / "w.npz")
    wrong = Sequential([Conv2D(2, 3, padding="same", input_shape=(1, 5, 5)), BatchNormalization(),
                        Flatten(), Dense(4, activation="softmax")])
    with pytest.raises(ValueError) as err:
        wrong.load_weights(path)
    message = str(err.value)
    assert wrong.layers[3].name in message and "(50, 4)" in message and "(50, 3)" in message
    shorter = Sequential([Conv2D(2, 3, padding="same", input_shape=(1, 5, 5))])
    with pytest.raises(ValueError, match="8 weight arrays but the model only 2"):
        shorter.load_weights(path)


def make_trainer():
    model = Sequential([Dense(6, activation="tanh", input_shape=(4,)), Dropout(0.2), Dense(3, activation="softmax")])
    model.compile(optimizer=optim.Adam(lr=0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_resume_from_saved_weights_and_optimizer_state_is_bit_identical(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((50, 4)).astype(np.float32)
    y = rng.integers(0, 3, 50)

    mg.manual_seed(11)
    straight = make_trainer()
    straight.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = straight.save_weights(tmp_path / "checkpoint")
    mg.manual_seed(12)                                     # the rest of the run: same shuffles, same dropout
    straight.fit(x, y, epochs=3, batch_size=8, verbose=0)

    mg.manual_seed(99)
    resumed = make_trainer()                               # a fresh model and optimizer
    resumed.load_weights(path)
    mg.manual_seed(12)
    resumed.fit(x, y, epochs=3, batch_size=8, verbose=0)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.optimizer.iterations == straight.optimizer.iterations == 5 * 7


def test_compile_errors_are_clear():
    model = Sequential([Dense(1, input_shape=(2,))])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((2, 2)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="unknown optimizer"):
        model.compile(optimizer="adagrad-ish", loss="mse")
    with pytest.raises(ValueError, match="unknown loss"):
        model.compile(optimizer="sgd", loss="msee")


def test_an_optimizer_given_its_own_parameters_keeps_them():
    model = Sequential([Dense(4, input_shape=(3,)), Dense(1)])
    body, head = model.layers
    model.compile(optimizer=optim.SGD(head.parameters(), lr=0.1), loss="mse")
    before = body.get_weights()
    model.fit(np.ones((8, 3), np.float32), np.zeros((8, 1), np.float32), verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, body.get_weights()))
    assert model.optimizer.params == head.parameters()


def test_input_layer_and_validation_split():
    model = Sequential([Input((3,)), Dense(2, activation="softmax")])
    assert model.input_shape == (3,) and len(model.layers) == 1
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    y = np.eye(2, dtype=np.float32)[np.arange(20) % 2]
    history = model.fit(np.ones((20, 3), np.float32), y, epochs=1, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert model.train_on_batch(np.ones((4, 3)), y[:4])[1] in (0.5,)
    assert isinstance(model.test_on_batch(np.ones((4, 3)), y[:4]), list)
    assert model.predict_on_batch(np.ones((2, 3))).shape == (2, 2)
