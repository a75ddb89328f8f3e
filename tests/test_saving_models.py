"""Model files: save_weights / load_weights under the name given, model.save / nn.load_model
(.keras, Keras 2 .h5), configs (get_config, from_config, to_json, clone_model, the registry),
against fixtures written by real Keras 3.15.1 (tests/fixtures/keras/make_fixtures.py), and bad
files (damaged, truncated, foreign), which raise naming the file and change nothing."""
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import serialization
from minigrad.nn.saving import WeightsFileError, keras_h5

from .keras_custom_layers import ScaleLayer

h5py = pytest.importorskip("h5py")

FIXTURES = Path(__file__).parent / "fixtures" / "keras"


# ---------------------------------------------------------------------- models of every layer type

def images_model():
    return nn.Sequential([
        nn.Conv2D(4, 3, padding="same", activation="relu", input_shape=(3, 8, 8)), nn.BatchNormalization(),
        nn.MaxPooling2D(), nn.DepthwiseConv2D(3, padding="same", depth_multiplier=2),
        nn.SeparableConv2D(5, 3, padding="same", activation="tanh"), nn.Conv2DTranspose(3, 3, strides=2, padding="same"),
        nn.ZeroPadding2D(1), nn.UpSampling2D(), nn.LeakyReLU(0.2), nn.Reshape((3, 20, 20)),
        nn.GlobalAveragePooling2D(keepdims=True), nn.Flatten(), nn.Dropout(0.2), nn.Dense(3, activation="softmax")])


def sequence_model():
    return nn.Sequential([
        nn.Input((7,), dtype="int32"), nn.Embedding(12, 4), nn.Conv1D(5, 3, padding="causal", activation="relu"),
        nn.MaxPooling1D(1), nn.AveragePooling1D(1), nn.SimpleRNN(4, return_sequences=True),
        nn.LSTM(3, return_sequences=True), nn.Bidirectional(nn.GRU(2, return_sequences=True)),
        nn.GlobalMaxPooling1D(), nn.Dense(1, activation="sigmoid")])


def graph_model():
    a, b = nn.Input((5,), name="a"), nn.Input((5,), name="b")
    shared = nn.Dense(4, activation="tanh", name="shared")
    inner_in = nn.Input((4,), name="inner_in")
    inner = nn.Model(inner_in, nn.Dense(3, name="inner_dense")(inner_in), name="inner")
    left, right = inner(shared(a)), inner(shared(b))
    merged = nn.Concatenate(name="joined")([nn.Add(name="plus")([left, right]), nn.Subtract(name="minus")([left, right]),
                                           nn.Average()([left, right]), nn.Maximum()([left, right]),
                                           nn.Minimum()([left, right])])
    scaled = ScaleLayer(factor=2.0, name="scaled")(nn.Activation("relu")(merged))
    score = nn.Dense(1, activation="sigmoid", name="score")(scaled)
    value = nn.Dense(2, name="value")(nn.Multiply(name="times")([shared(a), shared(b)]))
    return nn.Model([a, b], [score, value], name="graph")


def augment_model():
    return nn.Sequential([
        nn.Input((3, 6, 6)), nn.Rescaling(1 / 2, offset=0.5), nn.RandomTranslation(0.1, 0.1), nn.RandomZoom(0.1),
        nn.RandomRotation(0.1), nn.RandomFlip("horizontal"), nn.Conv2D(2, 3), nn.GlobalMaxPooling2D(), nn.Dense(2)])


BUILDERS = {"images": (images_model, [(4, 3, 8, 8)]), "sequence": (sequence_model, [(5, 7)]),
            "graph": (graph_model, [(6, 5), (6, 5)]), "augment": (augment_model, [(3, 3, 6, 6)])}


def inputs_for(name, rng):
    shapes = BUILDERS[name][1]
    if name == "sequence":
        return [rng.integers(0, 12, shapes[0]).astype("int32")]
    return [rng.normal(0, 1, s).astype("float32") for s in shapes]


def one(xs):
    return xs if len(xs) > 1 else xs[0]


def as_list(out):
    return out if isinstance(out, list) else [out]


def trained(name, device, optimizer="adam"):
    """A model of BUILDERS[name], compiled and trained two steps (so its optimizer has state)."""
    mg.manual_seed(1)
    model = BUILDERS[name][0]().to(device)
    rng = np.random.default_rng(0)
    xs = inputs_for(name, rng)
    targets = [np.zeros_like(o) for o in as_list(model.predict(one(xs)))]
    model.compile(optimizer=optimizer, loss=["mse"] * len(targets) if len(targets) > 1 else "mse")
    model.fit(one(xs), one(targets), batch_size=len(xs[0]), epochs=2, shuffle=False, verbose=0)
    return model, xs, targets


def assert_same_outputs(a, b, xs, atol=0.0):
    for p, q in zip(as_list(a.predict(one(xs))), as_list(b.predict(one(xs)))):
        np.testing.assert_allclose(p, q, rtol=0, atol=atol)


# ---------------------------------------------------------------------- names: exactly the one given

@pytest.mark.parametrize("name", ["w.weights.h5", "w.h5", "w.keras", "w.npz", "w", "w.ckpt"])
def test_save_weights_writes_exactly_the_name_given_and_load_weights_reads_it(name, tmp_path):
    model, xs, _ = trained("images", "cpu")
    path = model.save_weights(tmp_path / name)
    assert path == str(tmp_path / name)
    assert os.listdir(tmp_path) == [name]                     # nothing else, no temporary file
    mg.manual_seed(9)
    other = images_model()
    assert not np.allclose(other.predict(xs[0]), model.predict(xs[0]))
    other.load_weights(tmp_path / name)
    assert_same_outputs(model, other, xs)


def test_the_file_kind_follows_the_ending(tmp_path):
    model, _, _ = trained("images", "cpu")
    with h5py.File(model.save_weights(tmp_path / "a.weights.h5")) as f:
        assert "layers" in f and "layer_names" not in f.attrs          # Keras 3's layout
    with h5py.File(model.save_weights(tmp_path / "a.h5")) as f:
        assert "layer_names" in f.attrs                                   # Keras 2's
    with zipfile.ZipFile(model.save_weights(tmp_path / "a.keras")) as z:
        assert sorted(z.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
    assert zipfile.is_zipfile(model.save_weights(tmp_path / "plain")) and \
        "__meta__.npy" in zipfile.ZipFile(tmp_path / "plain").namelist()


def test_a_folder_is_refused_and_an_older_npz_name_is_pointed_to(tmp_path):
    model, _, _ = trained("images", "cpu")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        model.save_weights(tmp_path)
    with pytest.raises(IsADirectoryError, match="is a folder"):
        model.save(str(tmp_path) + "/")
    assert os.listdir(tmp_path) == []
    model.save_weights(tmp_path / "old.npz")
    with pytest.raises(FileNotFoundError, match=r"old\.npz exists"):
        model.load_weights(tmp_path / "old")


def test_model_checkpoint_writes_and_reads_keras_names(tmp_path):
    model, xs, targets = trained("images", "cpu")
    best = tmp_path / "best.h5"
    model.fit(xs[0], targets[0], epochs=2, verbose=0, validation_data=(xs[0], targets[0]),
              callbacks=[nn.callbacks.ModelCheckpoint(str(best), save_best_only=True)])
    assert os.listdir(tmp_path) == ["best.h5"]
    other = images_model()
    other.load_weights(best)
    assert_same_outputs(model, other, xs)


# ---------------------------------------------------------------------- round trips, every layer type

@pytest.mark.parametrize("name", list(BUILDERS))
def test_keras_archive_round_trip_keeps_architecture_weights_and_optimizer(name, tmp_path, device):
    model, xs, targets = trained(name, device)
    path = model.save(tmp_path / f"{name}.keras")
    loaded = nn.load_model(path).to(device)
    assert type(loaded) is type(model) and loaded.count_params() == model.count_params()
    assert json.dumps(loaded.get_config()) == json.dumps(model.get_config())
    assert_same_outputs(model, loaded, xs)
    assert loaded.optimizer.iterations == model.optimizer.iterations == 2
    # training goes on exactly where it stopped (same data, same order, same dropout draws)
    for m in (model, loaded):
        mg.manual_seed(5)
        m.fit(one(xs), one(targets), batch_size=len(xs[0]), epochs=2, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("optimizer", [mg.optim.SGD(lr=0.05, momentum=0.9, nesterov=True),
                                       mg.optim.RMSprop(lr=1e-3, momentum=0.5, centered=True),
                                       mg.optim.Adam(amsgrad=True)], ids=["sgd", "rmsprop", "adam-amsgrad"])
def test_every_optimizer_state_travels_in_the_archive(optimizer, tmp_path):
    model, xs, targets = trained("graph", "cpu", optimizer)
    loaded = nn.load_model(model.save(tmp_path / "m.keras"))
    assert type(loaded.optimizer) is type(optimizer)
    for key, value in model.optimizer.state_dict().items():
        np.testing.assert_array_equal(loaded.optimizer.state_dict()[key], value, err_msg=key)
    for m in (model, loaded):
        m.fit(one(xs), one(targets), batch_size=len(xs[0]), epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_legacy_h5_round_trip_and_compile_false(tmp_path):
    model, xs, _ = trained("graph", "cpu")
    loaded = nn.load_model(model.save(tmp_path / "m.h5"))
    assert_same_outputs(model, loaded, xs)
    assert loaded.compiled and type(loaded.optimizer).__name__ == "Adam"
    bare = nn.load_model(model.save(tmp_path / "m.keras"), compile=False)
    assert not getattr(bare, "compiled", False)
    assert_same_outputs(model, bare, xs)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_configs_json_and_clone_make_the_same_architecture_with_fresh_weights(name, device):
    model, xs, _ = trained(name, device)
    again = nn.model_from_json(model.to_json())
    clone = nn.clone_model(model)
    for other in (again, clone):
        assert json.dumps(other.get_config()) == json.dumps(model.get_config())
        assert [w.shape for w in other.get_weights()] == [w.shape for w in model.get_weights()]
        assert other.device == model.device or other is again
    moved = [w for w in clone.get_weights() if w.size > 1]
    assert any(not np.array_equal(a, b) for a, b in zip(moved, [w for w in model.get_weights() if w.size > 1]))
    clone.set_weights(model.get_weights())
    assert_same_outputs(model, clone, xs)


def leaves(model):
    for layer in model.layers:
        if isinstance(layer, nn.Model):
            yield from leaves(layer)
        elif not isinstance(layer, nn.InputLayer):
            yield layer


def test_every_layer_config_round_trips_through_from_config():
    seen = set()
    extra = [nn.GRU(3, reset_after=False, go_backwards=True), nn.GlobalAveragePooling1D(keepdims=True),
             nn.Dense(2, kernel_regularizer=mg.regularizers.l2(0.01), use_bias=False, trainable=False),
             nn.BatchNormalization(axis=1, momentum=0.8, center=False), nn.Softmax(axis=1),
             nn.Convolution2D(2, (3, 3), padding="same", input_shape=(1, 4, 4)),
             nn.Dense(2, kernel_initializer="he_normal", bias_initializer="random_normal")]
    for layers in [list(leaves(build())) for build, _ in BUILDERS.values()] + [extra]:
        for layer in layers:
            config = layer.get_config()
            json.dumps(config)                                   # JSON-able, as a file needs
            again = type(layer).from_config(config)
            assert again.get_config() == config, type(layer).__name__
            seen.add(type(layer).__name__)
    assert set(serialization.BUILTIN_LAYERS) - {"InputLayer"} <= seen


def test_unregistered_custom_layers_lambdas_and_subclassed_models_are_refused_by_name(tmp_path):
    class Unregistered(nn.Layer):
        def call(self, x):
            return x * 2
    x = nn.Input((3,))
    with pytest.raises(ValueError, match="Unregistered.*register_keras_serializable"):
        nn.Model(x, Unregistered()(x)).save(tmp_path / "a.keras")
    with pytest.raises(ValueError, match="Lambda layer 'twice'"):
        nn.Model(x, nn.Lambda(lambda t: t * 2, name="twice")(x)).save(tmp_path / "b.keras")

    class Sub(nn.Model):
        def __init__(self):
            super().__init__()
            self.dense = nn.Dense(2)

        def call(self, inputs):
            return self.dense(inputs)
    sub = Sub()
    sub(np.ones((1, 3), "float32"))
    with pytest.raises(Exception, match="Sub"):
        sub.save(tmp_path / "c.keras")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------- real Keras' files

def keras_data(name):
    data = np.load(FIXTURES / f"model_{name}.npz")
    pick = lambda prefix: [data[k] for k in sorted(data.files) if k.startswith(prefix)]  # noqa: E731
    return pick("x"), pick("y"), pick("t"), pick("after")


@pytest.mark.parametrize("name, ending", [("images", ".keras"), ("graph", ".keras"), ("sequence", ".keras"),
                                          ("graph", ".h5"), ("sequence", ".h5")])
def test_a_keras_model_file_loads_and_predicts_as_keras_did(name, ending, device):
    model = nn.load_model(FIXTURES / f"model_{name}{ending}").to(device)
    xs, ys, _, _ = keras_data(name)
    for out, expected in zip(as_list(model.predict(one(xs))), ys):
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["images", "graph"])
def test_a_keras_archive_continues_training_as_keras_did(name):
    model = nn.load_model(FIXTURES / f"model_{name}.keras")
    assert model.optimizer.iterations == 2
    xs, ys, ts, after = keras_data(name)
    model.fit(one(xs), one(ts), batch_size=len(xs[0]), epochs=1, shuffle=False, verbose=0)
    for out, expected, before in zip(as_list(model.predict(one(xs))), after, ys):
        assert np.abs(expected - before).max() > 1e-3                # the step moved the outputs
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=2e-6)


def test_a_keras_file_with_a_layer_minigrad_lacks_names_the_layer_and_the_file():
    with pytest.raises(ValueError, match=r"LayerNormalization.*") as err:
        nn.load_model(FIXTURES / "unknown_layer.keras")
    assert "unknown_layer.keras" in str(err.value) and "register_keras_serializable" in str(err.value)


def test_load_weights_of_a_keras_file_into_a_channels_last_model(device):
    """Issue 21.10: a Keras user's channels-last model takes Keras' weights as they are."""
    nn.set_image_data_format("channels_last")
    try:
        model = nn.Sequential([
            nn.Input((8, 7, 3)), nn.Conv2D(4, 3, padding="same", activation="relu"), nn.BatchNormalization(),
            nn.MaxPooling2D(), nn.Conv2D(6, 3, strides=2, padding="same"), nn.BatchNormalization(center=False),
            nn.Activation("relu"), nn.Flatten(), nn.Dense(5, activation="tanh"), nn.Dropout(0.5),
            nn.Dense(2, activation="softmax")]).to(device)
    finally:
        nn.set_image_data_format("channels_first")
    data = np.load(FIXTURES / "cnn.npz")
    for ending in (".weights.h5", ".h5"):
        model.load_weights(FIXTURES / f"cnn{ending}")
        np.testing.assert_allclose(model.predict(data["x"]), data["y"], rtol=1e-5, atol=2e-6)


def test_weights_of_a_layer_the_model_lacks_are_refused(tmp_path):
    """A Keras 3 weights file with more layers than the model must not load in part, silently."""
    model, _, _ = trained("images", "cpu")
    path = model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(path, "a") as f:
        f.create_group("layers/dense_7/vars")["0"] = np.zeros((2, 2), "float32")
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"w\.weights\.h5 has weights for layer\(s\) the model lacks.*dense_7"):
        model.load_weights(path)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- damaged and foreign files

def damaged_copies(tmp_path, good: Path):
    data = good.read_bytes()
    yield "truncated", data[: len(data) // 2]
    yield "empty", b""
    yield "garbage", bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8))
    yield "text", b"not a model file\n"


@pytest.mark.parametrize("ending", [".keras", ".weights.h5", ".h5"])
def test_damaged_keras_files_raise_naming_the_file_and_change_nothing(ending, tmp_path):
    model, xs, _ = trained("images", "cpu")
    good = Path(model.save_weights(tmp_path / f"good{ending}"))
    before = [w.copy() for w in model.get_weights()]
    for case, data in damaged_copies(tmp_path, good):
        bad = tmp_path / f"{case}{ending}"
        bad.write_bytes(data)
        for load in (model.load_weights, nn.load_model) if ending != ".weights.h5" else (model.load_weights,):
            with pytest.raises(ValueError) as err:
                load(bad)
            assert str(bad) in str(err.value), (case, load, err.value)
        assert bad.read_bytes() == data                          # nothing written to it
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_an_archive_with_a_damaged_config_or_without_weights_is_refused(tmp_path):
    model, _, _ = trained("graph", "cpu")
    good = model.save(tmp_path / "good.keras")
    with zipfile.ZipFile(good) as z:
        members = {n: z.read(n) for n in z.namelist()}
    cases = {"no_weights": {k: v for k, v in members.items() if k != "model.weights.h5"},
             "bad_json": {**members, "config.json": b"{not json"},
             "not_a_model": {**members, "config.json": b"[1, 2]"}}
    for case, content in cases.items():
        path = tmp_path / f"{case}.keras"
        with zipfile.ZipFile(path, "w") as z:
            for n, v in content.items():
                z.writestr(n, v)
        with pytest.raises(ValueError, match=case):
            nn.load_model(path)


def test_random_bit_flips_in_an_npz_give_the_weights_file_error(tmp_path):
    """Issue 22: every flip either loads the weights unchanged (it hit bytes nothing checks, such as a
    timestamp; the zip's CRCs catch a flip in the data) or raises
    WeightsFileError naming the file, never NotImplementedError (a flipped zip flag) or a
    tokenizer error (a flipped array header). With this seed, 3 + 1 of the 300 flips did."""
    model = nn.Sequential([nn.Dense(3, input_shape=(4,)), nn.Dense(2)])
    model.compile("adam", "mse")
    model.fit(np.ones((4, 4)), np.ones((4, 2)), verbose=0)
    data = bytearray(Path(model.save_weights(tmp_path / "w.npz")).read_bytes())
    rng = np.random.default_rng(1)
    saved = [w.copy() for w in model.get_weights()]
    refused = 0
    for _ in range(300):
        flipped = bytearray(data)
        flipped[int(rng.integers(len(flipped)))] ^= 1 << int(rng.integers(8))
        path = tmp_path / "flipped.npz"
        path.write_bytes(bytes(flipped))
        try:
            model.load_weights(path)
        except WeightsFileError as exc:
            assert str(path) in str(exc)
            refused += 1
        for a, b in zip(saved, model.get_weights()):           # refused: unchanged; loaded: the same
            np.testing.assert_array_equal(a, b)
    assert refused > 200


# ---------------------------------------------------------------------- output structures, inputs

def test_a_one_element_output_list_predicts_an_array_as_in_keras_3():
    i = nn.Input((3,))
    model = nn.Model(inputs=[i], outputs=[nn.Dense(2, name="out")(i)])
    out = model.predict(np.ones((4, 3), "float32"))
    assert isinstance(out, np.ndarray) and out.shape == (4, 2)
    assert model.output_names == ["out"] and len(model.outputs) == 1
    model.compile("sgd", "mse", metrics=["mae"])
    history = model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    assert sorted(history.history) == ["loss", "mae"]               # Keras 3.15: the same two keys
    assert sorted(model.evaluate(np.ones((4, 3)), np.ones((4, 2)), verbose=0, return_dict=True)) == ["loss", "mae"]


def test_a_sub_model_with_list_outputs_keeps_its_structure_when_called():
    """Seed 002's Autoencoder: Model(inputs=[x], outputs=[decoder(z)]) with a list-output decoder."""
    j = nn.Input((2,))
    decoder = nn.Model(inputs=[j], outputs=[nn.Dense(2)(j), nn.Dense(3)(j)])
    z = nn.Input((2,))
    model = nn.Model(inputs=[z], outputs=[decoder(z)])
    out = model.predict(np.ones((4, 2), "float32"))
    assert isinstance(out, list) and [o.shape for o in out] == [(4, 2), (4, 3)]
    model.compile("adam", ["mse", "mse"])
    model.fit(np.ones((4, 2)), [np.zeros((4, 2)), np.zeros((4, 3))], verbose=0)
    nested = nn.Model(z, {"pair": decoder(z)[0], "other": decoder(z)[1]})
    assert sorted(nested.predict(np.ones((1, 2), "float32"))) == ["other", "pair"]


def test_an_input_given_twice_is_refused():
    x, y = nn.Input((3,), name="only"), None
    y = nn.Dense(1)(x)
    with pytest.raises(ValueError, match="'only' appears more than once"):
        nn.Model([x, x], y)


def test_predict_of_a_1d_array_on_an_input_of_shape_1():
    i = nn.Input((1,))
    model = nn.Model(i, nn.Dense(1)(i))
    assert model.predict(np.arange(5.0)).shape == (5, 1)


def test_integer_input_into_dense_and_float64_arrays_predict_float32():
    i = nn.Input((3,), dtype="int32")
    model = nn.Model(i, nn.Dense(2)(i))
    assert model.predict(np.ones((2, 3), "int32")).dtype == np.float32
    assert model(mg.tensor(np.ones((2, 3), "int64"))).dtype == np.float32
    f = nn.Input((3,))
    floats = nn.Model(f, nn.Dense(2)(f))
    assert floats.predict(np.ones((2, 3), "float64")).dtype == np.float32
    e = nn.Input((3,), dtype="int32")
    ids = nn.Model(e, nn.Embedding(5, 2)(e))                         # ids stay ids
    assert ids.predict(np.ones((2, 3), "int32")).shape == (2, 3, 2)


def test_summary_line_length_sets_the_width_and_cuts_long_cells():
    model = graph_model()
    lines = []
    model.summary(print_fn=lines.append, line_length=70)
    assert max(len(line) for line in lines) == 70
    assert any("…" in line for line in lines)
    wide = []
    model.summary(print_fn=wide.append, line_length=200)
    assert max(len(line) for line in wide) == 200 and not any("…" in line for line in wide)
    with pytest.raises(ValueError, match="line_length=5"):
        model.summary(line_length=5)


def test_deeper_nested_outputs_predict_and_train():
    x = nn.Input((3,))
    a, b, c = nn.Dense(1, name="a")(x), nn.Dense(2, name="b")(x), nn.Dense(3, name="c")(x)
    model = nn.Model(x, [a, [b, c]])
    assert [t.shape for t in model(mg.tensor(np.ones((2, 3), "float32")))[1]] == [(2, 2), (2, 3)]
    out = model.predict(np.ones((4, 3), "float32"))
    assert out[0].shape == (4, 1) and [o.shape for o in out[1]] == [(4, 2), (4, 3)]
    model.compile(optimizer="sgd", loss="mse")
    ys = [np.zeros((4, 1), "float32"), [np.zeros((4, 2), "float32"), np.zeros((4, 3), "float32")]]
    history = model.fit(np.ones((4, 3), "float32"), ys, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]
    assert {"a_loss", "b_loss", "c_loss"} <= set(history.history)


def test_keras_configs_read_as_json_and_in_keras_2_form(tmp_path):
    """model_from_json reads Keras 3's JSON (config.json of a .keras file is model.to_json());
    a Keras 2 config (inbound_nodes as [[name, node, index, kwargs]], batch_input_shape,
    class_name "Model"), written here in Keras 2.15's form, builds the same graph."""
    with zipfile.ZipFile(FIXTURES / "model_graph.keras") as z:
        model = nn.model_from_json(z.read("config.json").decode())
    assert [layer.name for layer in model.layers][:2] == ["a", "b"] and model.count_params() == 62
    dense = {"units": 2, "activation": "tanh", "use_bias": True, "dtype": "float32", "trainable": True,
             "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
             "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
             "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
             "bias_constraint": None}
    keras2 = {"class_name": "Model", "config": {
        "name": "old", "layers": [
            {"class_name": "InputLayer", "name": "x", "inbound_nodes": [],
             "config": {"batch_input_shape": [None, 4], "dtype": "float32", "sparse": False, "name": "x"}},
            {"class_name": "Dense", "name": "d1", "config": {**dense, "name": "d1"}, "inbound_nodes": [[["x", 0, 0, {}]]]},
            {"class_name": "Dense", "name": "d2", "config": {**dense, "name": "d2"}, "inbound_nodes": [[["x", 0, 0, {}]]]},
            {"class_name": "Add", "name": "sum", "config": {"name": "sum", "trainable": True, "dtype": "float32"},
             "inbound_nodes": [[["d1", 0, 0, {}], ["d2", 0, 0, {}]]]}],
        "input_layers": [["x", 0, 0]], "output_layers": [["sum", 0, 0]]}, "keras_version": "2.15.0"}
    old = nn.model_from_json(json.dumps(keras2))
    assert [type(layer).__name__ for layer in old.layers] == ["InputLayer", "Dense", "Dense", "Add"]
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    w = old.get_weights()
    expected = np.tanh(x @ w[0] + w[1]) + np.tanh(x @ w[2] + w[3])
    np.testing.assert_allclose(old.predict(x), expected, rtol=1e-5, atol=1e-6)
    with h5py.File(tmp_path / "old.h5", "w") as f:                    # and as a Keras 2 whole-model file
        f.attrs["model_config"] = json.dumps(keras2)
        keras_h5.write_legacy_weights(f.create_group("model_weights"), old)
    np.testing.assert_allclose(nn.load_model(tmp_path / "old.h5").predict(x), expected, rtol=1e-5, atol=1e-6)


def test_get_config_of_a_lambda_or_of_a_custom_layer_with_arguments_but_no_get_config_is_refused():
    with pytest.raises(ValueError, match="Lambda layer 'fn' runs a Python function"):
        nn.Lambda(lambda t: t, name="fn").get_config()

    class Scaled(nn.Layer):
        def __init__(self, factor, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor
    with pytest.raises(NotImplementedError, match=r"takes \['factor'\].*\"factor\": self.factor"):
        Scaled(2.0).get_config()
    assert ScaleLayer(3.0, name="s").get_config()["factor"] == 3.0        # one that writes its own
    assert nn.Flatten(name="f").get_config() == {"name": "f", "trainable": True, "dtype": "float32",
                                                 "data_format": "channels_last"}


def test_a_subclassed_model_saves_npz_and_is_told_so_for_keras_layouts(tmp_path):
    class Sub(nn.Model):
        def __init__(self):
            super().__init__()
            self.dense = nn.Dense(2)

        def call(self, inputs):
            return self.dense(inputs)
    mg.manual_seed(0)
    model, other = Sub(), Sub()
    x = np.ones((1, 3), "float32")
    model(x), other(x)
    with pytest.raises(ValueError, match=r"subclassed Sub.*'.*w\.npz'"):
        model.save_weights(tmp_path / "w.weights.h5")
    assert os.listdir(tmp_path) == []
    other.load_weights(model.save_weights(tmp_path / "w.npz"))
    np.testing.assert_array_equal(other.predict(x), model.predict(x))


def test_model_checkpoint_saves_the_whole_model_as_keras_does(tmp_path):
    mg.manual_seed(0)
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = nn.Sequential([nn.Dense(3, activation="tanh", input_shape=(4,)), nn.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    whole, legacy = tmp_path / "best.keras", tmp_path / "best.h5"
    weights = tmp_path / "best.weights.h5"
    model.fit(x, y, epochs=2, verbose=0, validation_data=(x, y), callbacks=[
        nn.callbacks.ModelCheckpoint(str(whole), save_best_only=True),
        nn.callbacks.ModelCheckpoint(str(legacy)),
        nn.callbacks.ModelCheckpoint(str(weights), save_weights_only=True)])
    for path in (whole, legacy):                  # whole models: architecture and weights
        np.testing.assert_allclose(nn.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0),
                                   rtol=1e-6)
    with pytest.raises(Exception, match="best.weights.h5"):
        nn.load_model(weights)                    # weights only: no architecture to build from
    fresh = nn.clone_model(model)
    fresh.load_weights(weights)
    np.testing.assert_allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
