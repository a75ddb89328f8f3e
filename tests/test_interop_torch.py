"""to_torch / from_torch_state_dict: the PyTorch module computes what the minigrad model does
(float64 to 1e-12 over random conv geometries; float32 to float32 precision), for Sequential
and functional models (several inputs and outputs, merges, shared layers, nested models),
training can continue in PyTorch and come back, and bad input names the layer. Skipped
without torch."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.interop import from_torch_state_dict, to_torch
from minigrad.nn import GRU, LSTM, AveragePooling1D, Bidirectional, Embedding, SimpleRNN
from minigrad.nn import (Activation, BatchNormalization, Conv2D, Conv2DTranspose, Dense, Dropout,
                         Flatten, Input, Lambda, LeakyReLU, MaxPooling2D, Model, Module, Reshape, Sequential,
                         UpSampling2D, ZeroPadding2D)
from minigrad.optim import SGD

from . import interop_models

torch = pytest.importorskip("torch")


def perturb_batch_norms(model, rng):
    """Moving statistics away from 0 and 1, so that a missed copy shows."""
    for m in model.modules():
        if isinstance(m, BatchNormalization):
            *affine, mean, var = m.get_weights()
            m.set_weights([*affine, mean + rng.normal(0, 0.3, mean.shape), var * rng.uniform(0.5, 2, var.shape)])


def torch_out(net, x):
    with torch.no_grad():
        return net(torch.from_numpy(np.asarray(x))).numpy()


def every_layer_model():
    return Sequential([
        Conv2D(4, 3, strides=2, padding="same", activation="relu", input_shape=(2, 9, 8), name="conv"),
        BatchNormalization(),
        MaxPooling2D(2, padding="same"),
        Conv2DTranspose(3, 3, strides=2, padding="same", activation="tanh"),
        Conv2DTranspose(2, 2, strides=3),
        ZeroPadding2D(((0, 1), (2, 0))),
        UpSampling2D((2, 1)),
        Dropout(0.3),
        Flatten(),
        Dense(5, activation="softmax"),
        Sequential([Dense(6, activation="softplus"), LeakyReLU(0.1), Reshape((2, 3))], name="head"),
        Dense(3, activation="leaky_relu"),
        Activation("sigmoid"),
    ])


def test_every_supported_layer_matches_in_eval_mode(device):
    rng = np.random.default_rng(0)
    model = every_layer_model().to(device)
    perturb_batch_norms(model, rng)
    model.eval()
    net = to_torch(model)
    assert not net.training
    x = rng.normal(size=(3, 2, 9, 8)).astype("float32")
    np.testing.assert_allclose(torch_out(net, x), model.predict(x), rtol=1e-5, atol=1e-6)
    assert isinstance(net.head, torch.nn.Sequential)          # nesting kept, names kept
    assert isinstance(net.conv_pad, torch.nn.ConstantPad2d)        # TF's uneven "same" zeros


@settings(max_examples=20)
@given(st.data())
def test_conv_geometries_match_in_float64(data):
    kind = data.draw(st.sampled_from([Conv2D, Conv2DTranspose]))
    k = data.draw(st.tuples(st.integers(1, 4), st.integers(1, 4)))
    s = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    d = data.draw(st.sampled_from([(1, 1), (2, 1)])) if kind is Conv2D or s == (1, 1) else (1, 1)
    padding = data.draw(st.sampled_from(["same", "valid"]))
    hw = data.draw(st.tuples(st.integers(5, 9), st.integers(5, 9)))
    c_in, filters = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    layer = kind(filters, k, strides=s, padding=padding, dilation_rate=d, input_shape=(c_in, *hw))
    model = Sequential([layer]).double()
    model.layers[0].bias.data = model.layers[0].bias.data + 0.5      # a visible bias everywhere
    x = np.random.default_rng(1).normal(size=(2, c_in, *hw))
    net = to_torch(model)
    assert next(net.parameters()).dtype == torch.float64
    np.testing.assert_allclose(torch_out(net, x), model.predict(x), rtol=1e-12, atol=1e-12)


def test_batch_norm_training_mode_uses_batch_statistics_on_both_sides():
    rng = np.random.default_rng(2)
    model = Sequential([Dense(4, input_shape=(3,)), BatchNormalization(momentum=0.9)]).double()
    net = to_torch(model)
    assert net.training and abs(net[1].momentum - 0.1) < 1e-12
    x = rng.normal(size=(8, 3))
    expected = model(mg.tensor(x), training=True).numpy()
    np.testing.assert_allclose(net(torch.from_numpy(x)).detach().numpy(), expected, rtol=1e-10, atol=1e-12)
    # the running means move the same way (the running variance differs: torch's is unbiased)
    np.testing.assert_allclose(net[1].running_mean.numpy(),
                               model.layers[1].moving_mean.numpy(), rtol=1e-10, atol=1e-12)


def test_train_in_minigrad_continue_in_pytorch_and_come_back(device):
    """Five SGD steps in minigrad, then the same five steps both in PyTorch and in minigrad:
    the two copies stay together to float32 precision, and the trained weights come back."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(32, 1, 6, 6)).astype("float32")
    y = rng.normal(size=(32, 2)).astype("float32")
    model = Sequential([Conv2D(3, 3, padding="same", activation="relu", input_shape=(1, 6, 6)),
                        MaxPooling2D(), Flatten(), Dense(8, activation="tanh"), Dense(2)]).to(device)
    model.compile(optimizer=SGD(lr=0.05), loss="mse")
    model.fit(x, y, epochs=5, batch_size=32, shuffle=False, verbose=0)

    net = to_torch(model)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    for _ in range(5):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        opt.step()
    model.fit(x, y, epochs=5, batch_size=32, shuffle=False, verbose=0)

    trained_in_torch = torch_out(net, x)
    np.testing.assert_allclose(trained_in_torch, model.predict(x), rtol=1e-4, atol=1e-5)

    fresh = Sequential([Conv2D(3, 3, padding="same", activation="relu", input_shape=(1, 6, 6)),
                        MaxPooling2D(), Flatten(), Dense(8, activation="tanh"), Dense(2)]).to(device)
    assert np.abs(fresh.predict(x) - trained_in_torch).max() > 1e-3
    from_torch_state_dict(fresh, net.state_dict())
    assert fresh.layers[0].kernel.device == device
    np.testing.assert_allclose(fresh.predict(x), trained_in_torch, rtol=1e-5, atol=1e-6)


def test_state_dict_round_trip_with_batch_norm_without_scale_or_center():
    rng = np.random.default_rng(4)
    model = Sequential([Dense(4, input_shape=(3,)), BatchNormalization(center=False),
                        Dense(2, use_bias=False), BatchNormalization(scale=False)])
    perturb_batch_norms(model, rng)
    state = to_torch(model).state_dict()
    copy = Sequential([Dense(4, input_shape=(3,)), BatchNormalization(center=False),
                       Dense(2, use_bias=False), BatchNormalization(scale=False)])
    from_torch_state_dict(copy, state)
    for a, b in zip(model.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- errors

class Doubler(Module):
    def forward(self, x):
        return x * 2


def test_unsupported_layers_and_models_are_named():
    with pytest.raises(ValueError, match="layer 'doubler'.*Doubler.*no PyTorch counterpart"):
        to_torch(Sequential([Dense(2, input_shape=(3,)), Doubler(name="doubler")]))
    with pytest.raises(ValueError, match="activation 'cube'"):
        def cube(x):
            return x * x * x
        to_torch(Sequential([Dense(2, activation=cube, input_shape=(3,))]))
    with pytest.raises(ValueError, match="not a Sequential model"):
        to_torch(Doubler())
    with pytest.raises(RuntimeError, match="not built"):
        to_torch(Sequential([Dense(2)]))


def test_state_dict_that_does_not_fit():
    model = Sequential([Dense(4, input_shape=(3,), name="hidden"), Dense(2, name="out")])
    state = to_torch(model).state_dict()
    before = model.get_weights()
    bad = dict(state, **{"out.weight": torch.zeros(2, 5)})
    with pytest.raises(ValueError, match=r"'out.weight' has shape \(2, 5\).*layer 'out'"):
        from_torch_state_dict(model, bad)
    with pytest.raises(KeyError, match=r"'hidden' of the state_dict has \['weight'\].*'bias', 'weight'"):
        from_torch_state_dict(model, {k: v for k, v in state.items() if k != "hidden.bias"})
    with pytest.raises(ValueError, match="weights for 3 modules.*has 2 layers"):
        from_torch_state_dict(model, dict(state, **{"extra.weight": torch.zeros(1)}))
    for a, b in zip(before, model.get_weights()):            # nothing was copied
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- sequence layers


SEQUENCE_MODELS = {name: interop_models.SEQUENCE_MODELS[name] for name in (
    "lstm", "gru", "simple_rnn", "bidirectional_concat", "bidirectional_ave_mul", "conv1d", "embedding_lstm", "global_2d")}
sequence_input, random_biases = interop_models.sequence_input, interop_models.random_biases


@pytest.mark.parametrize("name", list(SEQUENCE_MODELS))
def test_sequence_layers_match_and_load_back(name, device):
    rng = np.random.default_rng(5)
    model = SEQUENCE_MODELS[name]().to(device)
    random_biases(model, rng)
    x = sequence_input(name, rng)
    net = to_torch(model.eval())
    expected = model.predict(x)
    assert np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(torch_out(net, x), expected, rtol=1e-5, atol=1e-6)
    fresh = SEQUENCE_MODELS[name]().to(device)
    from_torch_state_dict(fresh, net.state_dict())
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_sequence_settings_without_a_counterpart_are_named():
    cases = [
        (Sequential([Embedding(5, 2, mask_zero=True, input_shape=(3,)), LSTM(2)]), "mask_zero=True"),
        (Sequential([LSTM(2, go_backwards=True, input_shape=(3, 2))]), "go_backwards=True"),
        (Sequential([GRU(2, reset_after=False, input_shape=(3, 2))]), "reset_after=False"),
        (Sequential([LSTM(2, activation="relu", input_shape=(3, 2))]), "activations other than tanh"),
        (Sequential([AveragePooling1D(2, padding="same", input_shape=(3, 2))]), "AveragePooling1D"),
    ]
    for model, message in cases:
        with pytest.raises(ValueError, match=message):
            to_torch(model)


# ---------------------------------------------------------------------- functional models


def torch_outputs(net, model, xs):
    """The module's outputs for inputs xs, as a list in the model's output order."""
    with torch.no_grad():
        out = net(*[torch.from_numpy(x) for x in xs])
    return [o.numpy() for o in interop_models.as_list(out, model)]


@pytest.mark.parametrize("name", list(interop_models.MODELS))
def test_functional_models_match_and_load_back(name, device):
    rng = np.random.default_rng(7)
    build = interop_models.MODELS[name]
    model = interop_models.randomize(build().to(device)).eval()
    xs = interop_models.inputs_for(model, rng)
    expected = interop_models.as_list(model.predict(xs if len(xs) > 1 else xs[0]), model)
    net = to_torch(model)
    assert not net.training
    for ours, theirs in zip(torch_outputs(net, model, xs), expected):
        assert np.abs(theirs).max() > 1e-2
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    fresh = build().to(device)
    from_torch_state_dict(fresh, net.state_dict())
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_functional_module_takes_and_returns_what_the_model_does():
    rng = np.random.default_rng(8)
    model = interop_models.randomize(interop_models.residual()).eval()
    image, extra = interop_models.inputs_for(model, rng)
    net = to_torch(model)
    expected = model.predict([image, extra])
    with torch.no_grad():
        by_position = net(torch.from_numpy(image), torch.from_numpy(extra))
        as_list = net([torch.from_numpy(image), torch.from_numpy(extra)])
        by_name = net({"extra": torch.from_numpy(extra), "image": torch.from_numpy(image)})
    for out in (by_position, as_list, by_name):
        assert set(out) == {"classes", "score"}
        for key in out:
            np.testing.assert_allclose(out[key].numpy(), expected[key], rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match=r"takes 2 input\(s\) \['image', 'extra'\], got 3"):
        net(torch.from_numpy(image), torch.from_numpy(extra), torch.from_numpy(extra))
    merges = interop_models.merges()
    outputs = to_torch(merges)(*[torch.from_numpy(x) for x in interop_models.inputs_for(merges, rng)])
    assert isinstance(outputs, list) and len(outputs) == 2


def test_shared_layer_is_one_module_called_twice():
    """The shared Dense and the nested encoder are one module each: a step in PyTorch moves
    their one set of weights by the gradients of both calls, as it does in minigrad."""
    model = interop_models.randomize(interop_models.siamese())
    net = to_torch(model)
    assert isinstance(net.encoder, type(net))                          # the nested model, a GraphModule
    assert [key for key, _ in net.named_children()].count("shared") == 1
    assert sum(1 for module_keys, *_ in net.plan if module_keys[0] == "shared") == 3   # left twice, right
    assert sum(p.numel() for p in net.parameters()) == model.count_params()     # shared ones once
    left, right = (torch.from_numpy(x) for x in interop_models.inputs_for(model, np.random.default_rng(9)))
    net(left, right).sum().backward()
    x_left, x_right = left.numpy(), right.numpy()
    model([mg.tensor(x_left), mg.tensor(x_right)]).sum().backward()
    shared = model.get_layer("shared")
    np.testing.assert_allclose(net.shared.weight.grad.numpy(), shared.kernel.grad.numpy().T, rtol=1e-5, atol=1e-6)


def test_train_functional_in_minigrad_continue_in_pytorch_and_come_back(device):
    """Three SGD steps in minigrad, then three more both in PyTorch and in minigrad: the two
    copies of a two-input residual model stay together to float32 precision."""
    rng = np.random.default_rng(10)
    model = interop_models.residual().to(device)
    xs = interop_models.inputs_for(model, rng, batch=16)
    targets = {"classes": np.eye(3, dtype="float32")[rng.integers(0, 3, 16)],
               "score": rng.normal(size=(16, 2)).astype("float32")}
    model.compile(optimizer=SGD(lr=0.01), loss={"classes": "categorical_crossentropy", "score": "mse"})
    model.fit(xs, targets, epochs=3, batch_size=16, shuffle=False, verbose=0)

    net = to_torch(model)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    x_torch = [torch.from_numpy(x) for x in xs]
    for _ in range(3):
        opt.zero_grad()
        out = net(*x_torch)
        cross_entropy = -(torch.from_numpy(targets["classes"]) * torch.log(out["classes"].clamp(1e-7, 1 - 1e-7))).sum(1).mean()
        loss = cross_entropy + torch.nn.functional.mse_loss(out["score"], torch.from_numpy(targets["score"]))
        loss.backward()
        opt.step()
    model.fit(xs, targets, epochs=3, batch_size=16, shuffle=False, verbose=0)

    # compared in training mode (batch statistics): the moving variances differ slightly, as
    # torch's running variance is the unbiased one (see minigrad/interop/torch.py)
    assert net.training
    expected = model([mg.tensor(x, device=device) for x in xs], training=True)
    with torch.no_grad():
        trained_in_torch = net(*x_torch)
    for key in expected:
        np.testing.assert_allclose(trained_in_torch[key].numpy(), expected[key].numpy(), rtol=1e-4, atol=1e-5)
    fresh = interop_models.residual().to(device)
    assert np.abs(fresh.predict(xs)["score"] - model.predict(xs)["score"]).max() > 1e-2
    from_torch_state_dict(fresh, net.state_dict())
    for a, b, p in zip(fresh.get_weights(), model.get_weights(), fresh.weights):
        if p.trainable:
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_functional_models_that_cannot_be_converted_name_the_reason():
    x = Input((3,))
    with pytest.raises(ValueError, match=r"layer 'double' \(Lambda.*runs a Python function"):
        to_torch(Model(x, Dense(2)(Lambda(lambda t: t * 2, name="double")(x))))
    with pytest.raises(ValueError, match="applies the op 'Mul' to symbolic tensors outside any layer"):
        to_torch(Model(x, Dense(2)(x) * 2))
    with pytest.raises(ValueError, match=r"called with training=True"):
        to_torch(Model(x, Dropout(0.5)(x, training=True)))
    conv = Conv2D(2, 3, padding="same")
    a, b = Input((1, 6, 6)), Input((1, 8, 8))
    with pytest.raises(ValueError, match=r"conv.*on inputs of shape \(None, 1, 8, 8\), not the shape it was built"):
        to_torch(Model([a, b], [conv(a), conv(b)]))
    dense = Dense(3)
    inner = Model(x, dense(x))
    y = Input((3,))
    with pytest.raises(ValueError, match="used in model .* and again in model"):
        to_torch(Model(y, dense(inner(y))))


# ---------------------------------------------------------------------- recurrent layers train the same

@pytest.mark.parametrize("build", [
    lambda: Sequential([LSTM(6, return_sequences=True, input_shape=(5, 3)), LSTM(4), Dense(2)]),
    lambda: Sequential([Bidirectional(SimpleRNN(3), input_shape=(5, 3)), Dense(2)]),
    lambda: Sequential([GRU(4, input_shape=(5, 3)), Dense(2)]),
], ids=["lstm", "bidirectional_simple_rnn", "gru"])
def test_a_converted_recurrent_model_trains_the_same_in_pytorch(build):
    """Issue 20.7: the same trainable parameter count (the LSTM's 316, not 348) and the same
    weights after SGD steps on the same batches."""
    mg.manual_seed(0)
    model = build()
    interop_models.random_biases(model, np.random.default_rng(1))
    net = to_torch(model)
    trainable = [p for p in net.parameters() if p.requires_grad]
    assert sum(p.numel() for p in trainable) == model.count_params()
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(8, 5, 3)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    model.compile(optimizer=SGD(lr=0.1), loss="mse")
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net.train()
    for _ in range(2):
        for i in range(0, 8, 4):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(net(torch.from_numpy(x[i:i + 4])), torch.from_numpy(y[i:i + 4]))
            loss.backward()
            opt.step()
    back = build()
    from_torch_state_dict(back, net.state_dict())
    for a, b in zip(model.get_weights(), back.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    frozen = [name for name, p in net.named_parameters() if not p.requires_grad]
    assert all("bias_hh" in name for name in frozen) and (not frozen) == isinstance(model.layers[0], GRU)
