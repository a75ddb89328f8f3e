"""export_onnx: the file passes onnx.checker and ONNX Runtime computes what minigrad computes
(inference mode), for every supported layer, random conv geometries, the VAE decoders and the
DCGAN generators, the sequence layers (Embedding, Conv1D, 1-D and global poolings,
SimpleRNN, LSTM, GRU, Bidirectional) and functional models (several named inputs and outputs,
merges, shared layers, nested models). Skipped without onnx / onnxruntime."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.interop import export_onnx
from minigrad.nn import (LSTM, Embedding)
from minigrad.nn import (Activation, BatchNormalization, Conv2D, Conv2DTranspose, Dense, Dropout,
                         Flatten, Input, Lambda, LeakyReLU, MaxPooling2D, Model, Module, Reshape, Sequential,
                         UpSampling2D, ZeroPadding2D)
from models.dcgan import build_generator, build_transpose_generator
from models.vae import ConvVAE, MLPVAE

from . import interop_models

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def run_onnx(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": np.asarray(x, dtype=np.float32)})[0]


def perturb_batch_norms(model, rng):
    """Moving statistics away from 0 and 1, so that a missed copy shows."""
    for m in model.modules():
        if isinstance(m, BatchNormalization):
            *affine, mean, var = m.get_weights()
            m.set_weights([*affine, mean + rng.normal(0, 0.3, mean.shape), var * rng.uniform(0.5, 2, var.shape)])


def assert_exports(model, path, x, input_shape=None, atol=2e-6):
    written = export_onnx(model, path, input_shape)
    onnx.checker.check_model(onnx.load(written), full_check=True)
    expected = model.predict(x)
    out = run_onnx(written, x)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=atol)
    return out


def test_every_supported_layer(tmp_path, device):
    rng = np.random.default_rng(0)
    model = Sequential([
        Conv2D(4, 3, strides=2, padding="same", activation="relu", input_shape=(2, 9, 8)),
        BatchNormalization(),
        MaxPooling2D(2, padding="same"),
        Conv2DTranspose(3, 3, strides=2, padding="same", activation="tanh"),
        Conv2DTranspose(2, 2, strides=3),
        ZeroPadding2D(((0, 1), (2, 0))),
        UpSampling2D((2, 3)),
        Dropout(0.3),
        Flatten(),
        Dense(5, activation="softmax"),
        Sequential([Dense(6, activation="softplus"), LeakyReLU(0.1), Reshape((2, 3))]),
        Dense(3, activation="leaky_relu"),
        Activation("sigmoid"),
    ]).to(device)
    perturb_batch_norms(model, rng)
    x = rng.normal(size=(3, 2, 9, 8)).astype("float32")
    assert_exports(model, tmp_path / "every.onnx", x)
    assert [p.name for p in tmp_path.iterdir()] == ["every.onnx"]          # no temporary left
    np.testing.assert_allclose(run_onnx(tmp_path / "every.onnx", x[:1]), model.predict(x[:1]),
                               rtol=1e-5, atol=2e-6)                       # the batch size is free


@settings(max_examples=15)
@given(st.data())
def test_conv_geometries(tmp_path_factory, data):
    kind = data.draw(st.sampled_from([Conv2D, Conv2DTranspose]))
    k = data.draw(st.tuples(st.integers(1, 4), st.integers(1, 4)))
    s = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    d = data.draw(st.sampled_from([(1, 1), (2, 1)])) if kind is Conv2D or s == (1, 1) else (1, 1)
    padding = data.draw(st.sampled_from(["same", "valid"]))
    hw = data.draw(st.tuples(st.integers(5, 9), st.integers(5, 9)))
    c_in, filters = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    model = Sequential([kind(filters, k, strides=s, padding=padding, dilation_rate=d, input_shape=(c_in, *hw))])
    model.layers[0].set_weights([model.layers[0].kernel.numpy(), np.full(filters, 0.5)])
    x = np.random.default_rng(1).normal(size=(2, c_in, *hw)).astype("float32")
    assert_exports(model, tmp_path_factory.mktemp("conv") / "conv.onnx", x)


def test_vae_decoders(tmp_path):
    rng = np.random.default_rng(2)
    z = rng.normal(size=(4, 2)).astype("float32")
    conv_vae = ConvVAE(input_shape=(1, 8, 8), latent_dim=2, filters=(2, 3, 3, 4), dense=5)
    out = assert_exports(conv_vae.decoder, tmp_path / "conv_decoder.onnx", z, input_shape=(2,))
    assert out.shape == (4, 1, 8, 8)
    mlp_vae = MLPVAE(input_dim=12, hidden=(6,), latent_dim=2)
    assert_exports(mlp_vae.decoder, tmp_path / "mlp_decoder.onnx", z, input_shape=(2,))


@pytest.mark.parametrize("build", [build_generator, build_transpose_generator])
def test_dcgan_generators(tmp_path, build):
    rng = np.random.default_rng(3)
    generator = build(latent_dim=6, img_shape=(1, 8, 8), channels=(4, 3))
    perturb_batch_norms(generator, rng)
    z = rng.normal(size=(5, 6)).astype("float32")
    out = assert_exports(generator, tmp_path / "generator.onnx", z)
    assert out.shape == (5, 1, 8, 8) and np.abs(out).max() <= 1.0          # tanh pixels


def test_float64_models_export_in_float64(tmp_path):
    model = Sequential([Dense(3, activation="tanh", input_shape=(4,))]).double()
    export_onnx(model, tmp_path / "f64.onnx")
    graph = onnx.load(tmp_path / "f64.onnx").graph
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


# ---------------------------------------------------------------------- errors

class Doubler(Module):
    def forward(self, x):
        return x * 2


def test_errors_name_the_layer_and_the_fix(tmp_path):
    with pytest.raises(ValueError, match="layer 'doubler'.*no ONNX rule"):
        export_onnx(Sequential([Dense(2, input_shape=(3,)), Doubler(name="doubler")]), tmp_path / "a.onnx")
    with pytest.raises(ValueError, match=r"built for per-sample input \(3,\), not input_shape=\(4,\)"):
        export_onnx(Sequential([Dense(2, input_shape=(3,))]), tmp_path / "b.onnx", input_shape=(4,))
    with pytest.raises(RuntimeError, match="not built"):
        export_onnx(Sequential([Dense(2)]), tmp_path / "c.onnx")
    with pytest.raises(ValueError, match="not a Sequential model.*vae.decoder"):
        export_onnx(MLPVAE(input_dim=4, hidden=3), tmp_path / "d.onnx", input_shape=(4,))
    assert not list(tmp_path.iterdir())


def test_unbuilt_model_is_built_for_input_shape(tmp_path):
    model = Sequential([Dense(3), Dense(1, activation="sigmoid")])
    x = np.random.default_rng(4).normal(size=(2, 5)).astype("float32")
    export_onnx(model, tmp_path / "m.onnx", input_shape=(5,))
    assert model.built
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", x), model.predict(x), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------- sequence layers


SEQUENCE_MODELS = {name: interop_models.SEQUENCE_MODELS[name] for name in (
    "lstm", "gru_reset_before", "simple_rnn", "bidirectional_concat_sum", "bidirectional_rnn_ave_mul_no_bias", "conv1d_same_average", "embedding_gru", "global_2d")}
sequence_input, random_biases = interop_models.sequence_input, interop_models.random_biases


@pytest.mark.parametrize("name", list(SEQUENCE_MODELS))
def test_sequence_layers(name, tmp_path, device):
    rng = np.random.default_rng(6)
    model = SEQUENCE_MODELS[name]().to(device)
    random_biases(model, rng)
    x = sequence_input(name, rng)
    path = export_onnx(model, tmp_path / f"{name}.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = model.predict(x)
    assert np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(session.run(None, {"input": x})[0], expected, rtol=1e-5, atol=1e-6)


def test_sequence_settings_without_a_counterpart_are_named(tmp_path):
    with pytest.raises(ValueError, match="mask_zero=True"):
        export_onnx(Sequential([Embedding(5, 2, mask_zero=True, input_shape=(3,)), LSTM(2)]), tmp_path / "a.onnx")
    with pytest.raises(ValueError, match="return_state=True"):
        export_onnx(Sequential([LSTM(2, return_state=True, input_shape=(3, 2))]), tmp_path / "b.onnx")


# ---------------------------------------------------------------------- functional models


@pytest.mark.parametrize("name", list(interop_models.MODELS))
def test_functional_models(name, tmp_path, device):
    rng = np.random.default_rng(11)
    model = interop_models.randomize(interop_models.MODELS[name]().to(device))
    xs = interop_models.inputs_for(model, rng)
    path = export_onnx(model, tmp_path / f"{name}.onnx")
    onnx.checker.check_model(onnx.load(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    outs = session.run(None, dict(zip(names, xs)))
    expected = interop_models.as_list(model.predict(xs if len(xs) > 1 else xs[0]), model)
    assert len(outs) == len(expected)
    for ours, theirs in zip(outs, expected):
        assert np.abs(theirs).max() > 1e-2
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=2e-6)


def test_inputs_and_outputs_are_named_as_the_model_names_them(tmp_path):
    model = interop_models.residual()
    graph = onnx.load(export_onnx(model, tmp_path / "residual.onnx")).graph
    assert [i.name for i in graph.input] == ["image", "extra"]
    assert [o.name for o in graph.output] == ["classes", "score"]
    shapes = [[d.dim_value or d.dim_param for d in i.type.tensor_type.shape.dim] for i in graph.input]
    assert shapes == [["batch", 2, 6, 6], ["batch", 5]]
    tokens = onnx.load(export_onnx(interop_models.tokens(), tmp_path / "tokens.onnx")).graph
    assert [i.type.tensor_type.elem_type for i in tokens.input] == [onnx.TensorProto.INT64, onnx.TensorProto.FLOAT]
    features = Input((3,), name="features")         # layers named "input" and "output" get other names
    single = Model(features, Dense(2, name="output")(Dense(4, name="input")(features)))
    graph = onnx.load(export_onnx(single, tmp_path / "single.onnx")).graph
    assert [i.name for i in graph.input] == ["input"] and [o.name for o in graph.output] == ["output"]
    x = np.random.default_rng(12).normal(size=(2, 3)).astype("float32")
    np.testing.assert_allclose(run_onnx(tmp_path / "single.onnx", x), single.predict(x), rtol=1e-5, atol=1e-6)


def test_shared_layer_weights_are_written_once(tmp_path):
    model = interop_models.siamese()
    graph = onnx.load(export_onnx(model, tmp_path / "siamese.onnx")).graph
    stored = sum(int(np.prod(w.dims)) for w in graph.initializer)
    assert stored == model.count_params()             # the shared Dense and the encoder once each
    assert sum(1 for n in graph.node if n.op_type == "MatMul") == 3 + 2 * 2 + 1    # but run per call


def test_functional_input_shape_is_checked(tmp_path):
    model = interop_models.residual()
    export_onnx(model, tmp_path / "a.onnx", input_shape=[(2, 6, 6), (5,)])
    with pytest.raises(ValueError, match=r"takes per-sample input\(s\) \[\(2, 6, 6\), \(5,\)\]"):
        export_onnx(model, tmp_path / "b.onnx", input_shape=[(2, 8, 8), (5,)])
    with pytest.raises(ValueError, match="takes per-sample input"):
        export_onnx(model, tmp_path / "c.onnx", input_shape=(2, 6, 6))
    with pytest.raises(ValueError, match="has one input"):
        export_onnx(Sequential([Dense(2, input_shape=(3,))]), tmp_path / "d.onnx", input_shape=[(3,), (3,)])
    assert [p.name for p in tmp_path.iterdir()] == ["a.onnx"]


def test_functional_models_that_cannot_be_exported_name_the_reason(tmp_path):
    x = Input((3,))
    with pytest.raises(ValueError, match=r"layer 'halve' \(Lambda.*runs a Python function"):
        export_onnx(Model(x, Lambda(lambda t: t / 2, name="halve")(x)), tmp_path / "a.onnx")
    with pytest.raises(ValueError, match="applies the op 'Exp' to symbolic tensors outside any layer"):
        export_onnx(Model(x, mg.exp(Dense(2)(x))), tmp_path / "b.onnx")
    assert not list(tmp_path.iterdir())
