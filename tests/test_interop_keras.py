"""load_keras_weights against files written by real Keras (tests/fixtures/keras, made by its
make_fixtures.py): the minigrad equivalent of each Keras model, Sequential or functional,
loaded from the Keras 3 .weights.h5, the legacy Keras 2 .h5 and a .keras archive, computes
what Keras computed for the same inputs."""
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minigrad import nn
from minigrad.interop import load_keras_weights, save_keras_weights
from minigrad.interop.keras_h5 import keras_layer_order
from minigrad.nn import (GRU, LSTM, Activation, BatchNormalization, Bidirectional, Conv1D, Conv2D,
                         Conv2DTranspose, Dense, Dropout, Embedding, Flatten, LeakyReLU, MaxPooling2D,
                         Reshape, Sequential, UpSampling2D)

h5py = pytest.importorskip("h5py")

FIXTURES = Path(__file__).parent / "fixtures" / "keras"
FORMATS = [".weights.h5", ".h5"]


def mlp():
    return Sequential([Dense(5, activation="relu", input_shape=(6,)), Dense(3, activation="softmax")])


def cnn(dense_units=5):
    return Sequential([
        Conv2D(4, 3, padding="same", activation="relu", input_shape=(3, 8, 7)),
        BatchNormalization(),
        MaxPooling2D(),
        Conv2D(6, 3, strides=2, padding="same"),
        BatchNormalization(center=False),
        Activation("relu"),
        Flatten(),
        Dense(dense_units, activation="tanh"),
        Dropout(0.5),
        Dense(2, activation="softmax"),
    ])


def generator():
    return Sequential([
        Dense(2 * 2 * 8, activation="relu", input_shape=(4,)),
        Reshape((8, 2, 2)),
        Conv2DTranspose(6, 3, strides=2, padding="same", activation="relu"),
        BatchNormalization(momentum=0.8),
        Conv2DTranspose(5, 4, strides=2, padding="same"),
        LeakyReLU(0.2),
        Conv2DTranspose(3, 3, strides=1, padding="valid"),
        Conv2DTranspose(2, 2, strides=3, padding="valid"),
        UpSampling2D(),
        Conv2D(1, 3, padding="same", activation="tanh"),
    ])


def nested():
    inner = Sequential([Dense(4, activation="relu"), Dense(4)])
    return Sequential([Dense(4, activation="sigmoid", input_shape=(3,)), inner, Dense(2)])


def recurrent():
    return Sequential([LSTM(4, return_sequences=True, input_shape=(5, 3)), GRU(3), Dense(2)])


def sequence():
    return Sequential([Embedding(10, 4, input_shape=(6,)), Conv1D(5, 3, padding="causal", activation="relu"),
                       Bidirectional(LSTM(3, return_sequences=True)), Bidirectional(GRU(2), merge_mode="sum"),
                       Dense(2)])


MODELS = {"mlp": mlp, "cnn": cnn, "generator": generator, "nested": nested, "recurrent": recurrent,
          "sequence": sequence}


# The functional fixtures, transcribed from make_fixtures.py with renames only (NCHW shapes);
# the layer names are Keras', so that Keras' layer order can be compared by name.

def residual(classes=3):
    image, extra = nn.Input((3, 8, 8), name="image"), nn.Input((5,), name="extra")
    g = nn.Dense(6, activation="relu", name="extra_dense")(extra)
    seed = nn.Dense(4 * 4 * 3, name="seed")(extra)
    up = nn.UpSampling2D(name="up")(nn.Reshape((3, 4, 4), name="to_image")(seed))
    x = nn.Add(name="with_seed")([image, up])
    x = nn.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(x)
    y = nn.Conv2D(4, 3, padding="same", name="conv_b")(x)
    y = nn.BatchNormalization(name="bn")(y)
    x = nn.Add(name="residual")([y, x])
    x = nn.MaxPooling2D(name="pool")(x)
    f = nn.Flatten(name="flatten")(x)
    h = nn.Concatenate(name="concat")([g, f])
    probabilities = nn.Dense(classes, activation="softmax", name="classes")(h)
    score = nn.Dense(2, name="score")(g)
    return nn.Model([image, extra], [probabilities, score], name="residual")


def siamese():
    a, b = nn.Input((4,), name="left"), nn.Input((4,), name="right")
    shared = nn.Dense(3, activation="tanh", name="shared")
    inner_in = nn.Input((3,), name="inner_in")
    inner = nn.Model(inner_in, nn.Dense(2, name="inner_out")(
        nn.Dense(5, activation="relu", name="inner_hidden")(inner_in)), name="encoder")
    d = nn.Subtract(name="difference")([inner(shared(a)), inner(shared(b))])
    squared = nn.Lambda(lambda t: t * t, name="square")(d)
    out = nn.Dense(1, activation="sigmoid", name="same")(nn.Concatenate(name="both")([squared, shared(a)]))
    return nn.Model([a, b], out, name="siamese")


FUNCTIONAL = {"residual": residual, "siamese": siamese}


def functional_case(name):
    """([inputs in minigrad's layout], [Keras' outputs], Keras' layer names in Keras' order)."""
    data = np.load(FIXTURES / f"{name}.npz")
    xs = [data[k] for k in sorted(data.files) if k.startswith("x")]
    ys = [data[k] for k in sorted(data.files) if k.startswith("y")]
    return [x.transpose(0, 3, 1, 2) if x.ndim == 4 else x for x in xs], ys, list(data["layers"])


def keras_case(name):
    """(x in minigrad's layout, Keras' output in minigrad's layout)."""
    data = np.load(FIXTURES / f"{name}.npz")
    x, y = data["x"], data["y"]
    def to_nchw(a):
        return a.transpose(0, 3, 1, 2) if a.ndim == 4 else a
    return to_nchw(x), to_nchw(y)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(MODELS))
def test_outputs_match_keras(name, fmt, device):
    model = MODELS[name]().to(device)
    load_keras_weights(model, FIXTURES / f"{name}{fmt}")
    x, y = keras_case(name)
    out = model.predict(x)
    assert out.shape == y.shape
    np.testing.assert_allclose(out, y, rtol=1e-5, atol=2e-6)


def test_fresh_model_does_not_match_keras_so_the_comparison_can_fail():
    x, y = keras_case("cnn")
    assert np.abs(cnn().predict(x) - y).max() > 1e-2


def test_kernels_land_in_minigrad_layouts():
    model = generator()
    load_keras_weights(model, FIXTURES / "generator.weights.h5")
    with h5py.File(FIXTURES / "generator.weights.h5") as f:
        conv_t = f["layers/conv2d_transpose/vars/0"][()]             # Keras (kh, kw, out, in)
        conv = f["layers/conv2d/vars/0"][()]                         # Keras (kh, kw, in, out)
        dense = f["layers/dense/vars/0"][()]                         # columns in (H, W, C) order
    deconv_layer, conv_layer, dense_layer = model.layers[2], model.layers[-1], model.layers[0]
    np.testing.assert_array_equal(deconv_layer.kernel.numpy()[7, 1, 2, 0], conv_t[2, 0, 1, 7])
    np.testing.assert_array_equal(conv_layer.kernel.numpy()[0, 1, 2, 0], conv[2, 0, 1, 0])
    # minigrad column (c, h, w) = (5, 1, 0) is Keras column (h, w, c) = (1, 0, 5)
    np.testing.assert_array_equal(dense_layer.kernel.numpy()[:, 5 * 4 + 1 * 2 + 0],
                                  dense[:, (1 * 2 + 0) * 8 + 5])


def test_batch_norm_moving_statistics_are_loaded():
    model = cnn()
    load_keras_weights(model, FIXTURES / "cnn.h5")
    with h5py.File(FIXTURES / "cnn.weights.h5") as f:
        moving_variance = f["layers/batch_normalization/vars/3"][()]
    np.testing.assert_array_equal(model.layers[1].moving_variance.numpy(), moving_variance)
    assert not np.allclose(moving_variance, 1.0)


def test_keras_archive_and_whole_model_h5_layouts(tmp_path):
    x, y = keras_case("mlp")
    archive = tmp_path / "mlp.keras"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(FIXTURES / "mlp.weights.h5", "model.weights.h5")
        z.writestr("config.json", "{}")
    whole = tmp_path / "mlp_model.h5"
    with h5py.File(FIXTURES / "mlp.h5") as src, h5py.File(whole, "w") as dst:
        group = dst.create_group("model_weights")
        for key, value in src.attrs.items():
            group.attrs[key] = value
        for key in src:
            src.copy(key, group)
    for path in (archive, whole):
        model = mlp()
        load_keras_weights(model, path)
        np.testing.assert_allclose(model.predict(x), y, rtol=1e-5, atol=1e-6)


def test_keras2_weight_names_without_layer_paths(tmp_path):
    """Keras 2 files (e.g. the ImageNet ones) name weights 'block1_conv1_W_1:0'."""
    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(3, 3, 2, 4)).astype("float32"), rng.normal(size=4).astype("float32")
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"input_1", b"block1_conv1"]
        f.create_group("input_1").attrs["weight_names"] = []
        g = f.create_group("block1_conv1")
        g.attrs["weight_names"] = [b"block1_conv1_W_1:0", b"block1_conv1_b_1:0"]
        g["block1_conv1_W_1:0"], g["block1_conv1_b_1:0"] = kernel, bias
    model = Sequential([Conv2D(4, 3, input_shape=(2, 5, 5))])
    load_keras_weights(model, path)
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), kernel.transpose(3, 2, 0, 1))
    np.testing.assert_array_equal(model.layers[0].bias.numpy(), bias)


# ---------------------------------------------------------------------- functional models

# make_fixtures.py saves one model whole, as a .keras archive
@pytest.mark.parametrize("name, fmt", [(n, f) for n in FUNCTIONAL for f in FORMATS] + [("residual", ".keras")])
def test_functional_outputs_match_keras(name, fmt, device):
    path = FIXTURES / f"{name}{fmt}"
    model = FUNCTIONAL[name]().to(device)
    load_keras_weights(model, path)
    xs, ys, _ = functional_case(name)
    outs = model.predict(xs)
    outs = outs if isinstance(outs, list) else [outs]
    assert len(outs) == len(ys)
    for out, y in zip(outs, ys):
        assert out.shape == y.shape
        np.testing.assert_allclose(out, y, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("name", list(FUNCTIONAL))
def test_keras_layer_order_is_keras_own(name):
    """Keras matches weights by position in model.layers, which is neither the order the layers
    were made in nor the order they run in (the residual model's second input, and the Dense
    of it that runs first, come late): the order computed here is the one Keras wrote."""
    model = FUNCTIONAL[name]()
    keras_order = functional_case(name)[2]
    assert [layer.name for layer in keras_layer_order(model)] == keras_order
    if name == "residual":                          # so the test can tell the two orders apart
        assert [layer.name for layer in model.layers] != keras_order


@settings(max_examples=30)
@given(st.data())
def test_keras_layer_order_on_random_graphs_equals_keras_itself(data):
    """Random graphs of Dense layers (some shared, called again deeper), Add and Concatenate
    merges and several inputs and outputs, built in Keras 3 itself and in minigrad with the same
    names (skipped without Keras): keras_layer_order is Keras' model.layers, name for name."""
    keras = pytest.importorskip("keras")
    n_inputs = data.draw(st.integers(1, 3))
    plan = []                                          # (kind, layer index or None, input indices)
    n_tensors, dense_made = n_inputs, 0
    for _ in range(data.draw(st.integers(1, 7))):
        kind = data.draw(st.sampled_from(["dense", "shared", "add", "concat"] if dense_made else ["dense", "add"]))
        if kind in ("add", "concat") and n_tensors >= 2:
            picks = data.draw(st.lists(st.integers(0, n_tensors - 1), min_size=2, max_size=3, unique=True))
            plan.append((kind, None, picks))
        else:
            kind = "shared" if kind == "shared" else "dense"
            layer = data.draw(st.integers(0, dense_made - 1)) if kind == "shared" else dense_made
            dense_made += kind == "dense"
            plan.append(("dense", layer, [data.draw(st.integers(0, n_tensors - 1))]))
        n_tensors += 1
    outputs = sorted(set([n_tensors - 1] + data.draw(st.lists(st.integers(n_inputs, n_tensors - 1), max_size=2))))

    def build(lib, Model, Input):
        tensors = [Input((4,), name=f"in{i}") for i in range(n_inputs)]
        dense = [lib.Dense(4, name=f"d{i}") for i in range(dense_made)]
        for step, (kind, layer, picks) in enumerate(plan):
            ins = [tensors[i] for i in picks]
            if kind == "dense":
                tensors.append(dense[layer](ins[0]))
            elif kind == "add":
                tensors.append(lib.Add(name=f"add{step}")(ins))
            else:                                      # concatenated, then back to 4 features
                tensors.append(lib.Dense(4, name=f"back{step}")(lib.Concatenate(name=f"cat{step}")(ins)))
        return Model(tensors[:n_inputs], [tensors[i] for i in outputs])

    theirs = build(keras.layers, keras.Model, keras.Input)
    ours = build(nn, nn.Model, nn.Input)
    assert [layer.name for layer in keras_layer_order(ours)] == [layer.name for layer in theirs.layers]


def test_fresh_functional_model_does_not_match_keras():
    xs, ys, _ = functional_case("residual")
    assert np.abs(residual().predict(xs)[0] - ys[0]).max() > 1e-2


def test_load_weights_reads_a_keras_file_into_a_functional_model():
    model = siamese()
    model.load_weights(FIXTURES / "siamese.weights.h5")
    xs, ys, _ = functional_case("siamese")
    np.testing.assert_allclose(model.predict(xs), ys[0], rtol=1e-5, atol=2e-6)


def test_functional_model_that_does_not_fit_names_the_layer():
    for fmt in FORMATS:
        model = residual(classes=4)
        with pytest.raises(ValueError, match=r"layer 'classes'.*\(70, 4\)") as info:
            load_keras_weights(model, FIXTURES / f"residual{fmt}")
        assert "(70, 3)" in str(info.value)


def test_merge_of_flat_features_in_different_orders_is_refused():
    """Keras flattens (H, W, C), minigrad (C, H, W): adding a flattened image to a plain vector
    has no weight permutation that makes the two models agree."""
    image, vector = nn.Input((2, 2, 2)), nn.Input((8,))
    model = nn.Model([image, vector], nn.Dense(1)(nn.Add(name="mixed")([nn.Flatten()(image), vector])))
    with pytest.raises(ValueError, match=r"layer 'mixed' \(Add.*no weight permutation"):
        save_keras_weights(model, FIXTURES / "never_written.h5")
    assert not (FIXTURES / "never_written.h5").exists()


def legacy_arrays(path):
    with h5py.File(path) as f:
        return [f[layer][name][()] for layer in f.attrs["layer_names"] for name in f[layer].attrs["weight_names"]]


@pytest.mark.parametrize("name", list(MODELS) + list(FUNCTIONAL))
def test_saved_keras_file_has_keras_layouts(name, tmp_path):
    """Loaded from Keras' file and written back, every array equals Keras' own, bit for bit
    (real Keras 3.15.1 loads these files into the fixture models and reproduces their outputs
    exactly: checked with make_fixtures.py --check, not here, as Keras is no test dependency)."""
    build = {**MODELS, **FUNCTIONAL}[name]
    model = build()
    load_keras_weights(model, FIXTURES / f"{name}.h5")
    written = save_keras_weights(model, tmp_path / f"{name}.h5")
    ours, theirs = legacy_arrays(written), legacy_arrays(FIXTURES / f"{name}.h5")
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
    copy = build()
    load_keras_weights(copy, written)
    for a, b in zip(model.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- errors name the layer

def test_wrong_size_names_the_first_layer_that_does_not_fit():
    for fmt in FORMATS:
        model = cnn(dense_units=7)
        before = model.layers[0].kernel.numpy().copy()
        with pytest.raises(ValueError, match=r"dense.*Dense.*\(24, 7\)") as info:
            load_keras_weights(model, FIXTURES / f"cnn{fmt}")
        assert "(24, 5)" in str(info.value)
        np.testing.assert_array_equal(model.layers[0].kernel.numpy(), before)   # nothing copied


def test_missing_and_extra_layers():
    short = Sequential([Dense(5, activation="relu", input_shape=(6,))])
    with pytest.raises(ValueError, match="left over is 'dense_1"):
        load_keras_weights(short, FIXTURES / "mlp.h5")
    longer = Sequential([Dense(5, input_shape=(6,)), Dense(3), Dense(2)])
    with pytest.raises(ValueError, match="nothing left for layer"):
        load_keras_weights(longer, FIXTURES / "mlp.h5")
    with pytest.raises(ValueError, match=r"no Keras weights at 'layers/dense_2/vars'.*\['dense', 'dense_1'\]"):
        load_keras_weights(longer, FIXTURES / "mlp.weights.h5")


def test_bias_setting_that_differs_is_reported():
    model = Sequential([Dense(5, use_bias=False, input_shape=(6,)), Dense(3)])
    with pytest.raises(ValueError, match="has 1 weights .*Keras layer has 2"):
        load_keras_weights(model, FIXTURES / "mlp.weights.h5")


def test_unbuilt_model_and_non_keras_file(tmp_path):
    with pytest.raises(RuntimeError, match="not built"):
        load_keras_weights(Sequential([Dense(5), Dense(3)]), FIXTURES / "mlp.h5")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["data"] = np.zeros(3)
    with pytest.raises(ValueError, match="neither a Keras 3"):
        load_keras_weights(mlp(), other)


def test_fixture_script_is_committed_beside_the_files():
    script = FIXTURES / "make_fixtures.py"
    assert script.is_file() and "save_weights" in script.read_text()
    assert sum(p.stat().st_size for p in FIXTURES.iterdir()) < 1_000_000
