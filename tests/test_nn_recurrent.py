"""SimpleRNN, LSTM, GRU, Bidirectional: shapes and parameter counts as Keras, backprop through
time checked against finite differences (inputs, weights, initial states; second order for
LSTM and GRU), values and gradients equal to PyTorch's nn.RNN / nn.LSTM / nn.GRU, masking,
dropout and go_backwards semantics, and a memory task that a bag of words cannot solve."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import nn
from minigrad.nn.module import Module, Parameter
from minigrad.testing import assert_model_gradients

from .conftest import float64_model

LAYERS = {"SimpleRNN": nn.SimpleRNN, "LSTM": nn.LSTM, "GRU": nn.GRU}


def make(kind, units, **options):
    if kind == "GRU_v1":
        return nn.GRU(units, reset_after=False, **options)
    return LAYERS[kind](units, **options)


class WithInitialState(Module):
    """A recurrent layer whose initial states are parameters, so gradcheck covers them too."""

    def __init__(self, layer, states, device, mask=None):
        super().__init__()
        self.layer = layer
        self.n_states = len(states)
        for i, s in enumerate(states):
            setattr(self, f"state{i}", Parameter(s, dtype="float64", device=device))
        self.mask = mask

    def forward(self, x):
        states = [getattr(self, f"state{i}") for i in range(self.n_states)] or None
        return self.layer(x, initial_state=states, mask=self.mask)


# ----------------------------------------------------------------------------- shapes and counts

@pytest.mark.parametrize("kind, expected", [("LSTM", 4 * 32 * (16 + 32 + 1)),
                                            ("GRU", 3 * 32 * (16 + 32 + 2)),
                                            ("GRU_v1", 3 * 32 * (16 + 32 + 1)),
                                            ("SimpleRNN", 32 * (16 + 32 + 1))])
def test_parameter_counts_match_keras(kind, expected):
    model = nn.Sequential([nn.Input((None, 16)), make(kind, 32)])
    assert model.count_params() == expected
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert f"{expected:,}" in text and "(None, 32)" in text


def test_weight_layouts_and_keras_initialisation():
    lstm = nn.LSTM(3)
    lstm.build_for((None, 5))
    assert lstm.kernel.shape == (5, 12) and lstm.recurrent_kernel.shape == (3, 12)
    np.testing.assert_array_equal(lstm.bias.numpy(), [0] * 3 + [1] * 3 + [0] * 6)  # unit_forget_bias
    u = lstm.recurrent_kernel.numpy().astype(np.float64)
    np.testing.assert_allclose(u @ u.T, np.eye(3), atol=1e-6)                    # orthogonal rows
    gru = nn.GRU(4)
    gru.build_for((7, 2))
    assert gru.bias.shape == (2, 12) and gru.kernel.shape == (2, 12)
    assert [w.shape for w in gru.get_weights()] == [(2, 12), (4, 12), (2, 12)]
    assert nn.LSTM(3, unit_forget_bias=False).build_for((2, 5)) == (3,)


def test_stacked_sequences_and_variable_length():
    model = nn.Sequential([nn.Input((None, 6)), nn.LSTM(8, return_sequences=True),
                           nn.GRU(5, return_sequences=True), nn.SimpleRNN(4), nn.Dense(2)])
    lines = []
    model.summary(print_fn=lines.append)
    assert "(None, None, 8)" in "\n".join(lines)
    for length in (1, 3, 9):           # one model, any sequence length
        x = mg.randn(2, length, 6)
        assert model(x).shape == (2, 2)


def test_return_state_and_initial_state():
    x = mg.randn(3, 4, 2)
    out, h, c = nn.LSTM(5, return_state=True)(x)
    assert out.shape == h.shape == c.shape == (3, 5)
    np.testing.assert_array_equal(out.numpy(), h.numpy())
    seq, h = nn.GRU(5, return_sequences=True, return_state=True)(x)
    assert seq.shape == (3, 4, 5)
    np.testing.assert_array_equal(seq.numpy()[:, -1], h.numpy())
    layer = nn.LSTM(5)
    layer(x)
    h0, c0 = mg.randn(3, 5), mg.randn(3, 5)
    assert not np.allclose(layer(x, initial_state=[h0, c0]).numpy(), layer(x).numpy())
    assert layer.compute_output_shape((None, 2)) == (5,)
    assert nn.LSTM(5, return_state=True).compute_output_shape((None, 2)) == [(5,), (5,), (5,)]


def test_bad_input_is_a_clear_error():
    layer = nn.LSTM(4)
    with pytest.raises(ValueError, match=r"LSTM layer 'lstm.*\(batch, time, features\)"):
        layer(mg.randn(3, 5))
    layer(mg.randn(2, 3, 5))
    with pytest.raises(ValueError, match="expected input of shape"):
        layer(mg.randn(2, 3, 6))
    with pytest.raises(ValueError, match=r"initial_state needs 2 tensor\(s\) \['h', 'c'\], got 1"):
        layer(mg.randn(2, 3, 5), initial_state=[mg.zeros(2, 4)])
    with pytest.raises(ValueError, match=r"initial state c has shape \(2, 3\), expected"):
        layer(mg.randn(2, 3, 5), initial_state=[mg.zeros(2, 4), mg.zeros(2, 3)])
    with pytest.raises(ValueError, match="at least one time step"):
        layer(mg.randn(2, 0, 5))
    with pytest.raises(ValueError, match="mask of shape"):
        layer(mg.randn(2, 3, 5), mask=mg.tensor(np.ones((2, 4), bool)))
    with pytest.raises(ValueError, match="units must be a positive integer"):
        nn.GRU(2.5)
    with pytest.raises(ValueError, match=r"recurrent_dropout must be in \[0, 1\)"):
        nn.SimpleRNN(3, recurrent_dropout=1.0)
    with pytest.raises(ValueError, match="merge_mode"):
        nn.Bidirectional(nn.LSTM(2), merge_mode="max")
    with pytest.raises(TypeError, match="SimpleRNN, LSTM or GRU"):
        nn.Bidirectional(nn.Dense(2))


# ----------------------------------------------------------------------------- gradient checks

@st.composite
def rnn_cases(draw, kinds=("SimpleRNN", "LSTM", "GRU", "GRU_v1")):
    return dict(kind=draw(st.sampled_from(kinds)), batch=draw(st.integers(1, 3)),
                time=draw(st.integers(1, 4)), features=draw(st.integers(1, 3)),
                units=draw(st.integers(1, 3)), return_sequences=draw(st.booleans()),
                go_backwards=draw(st.booleans()), with_state=draw(st.booleans()),
                masked=draw(st.booleans()), dropout=draw(st.sampled_from([0.0, 0.4])),
                recurrent_dropout=draw(st.sampled_from([0.0, 0.3])),
                seed=draw(st.integers(0, 2**16)))


def _tiny_model(case, device):
    layer = make(case["kind"], case["units"], return_sequences=case["return_sequences"],
                 go_backwards=case["go_backwards"], dropout=case["dropout"],
                 recurrent_dropout=case["recurrent_dropout"], return_state=case["with_state"])
    rng = np.random.default_rng(case["seed"])
    b, t, f, u = case["batch"], case["time"], case["features"], case["units"]
    x = mg.tensor(rng.normal(0, 1, (b, t, f)), dtype="float64", device=device)
    n_states = 2 if case["kind"] == "LSTM" else 1
    states = [rng.normal(0, 0.5, (b, u)) for _ in range(n_states)] if case["with_state"] else []
    mask = None
    if case["masked"]:
        m = rng.random((b, t)) < 0.6
        mask = mg.tensor(m, device=device)
    wrapper = WithInitialState(layer, states, device, mask)
    layer.build_for((t, f))
    float64_model(wrapper, device, case["seed"])
    return wrapper, x


@given(case=rnn_cases())
def test_layer_gradients_match_finite_differences(device, case):
    model, x = _tiny_model(case, device)
    model.train()                      # dropout active: each evaluation draws the same masks

    def loss(inp):
        mg.manual_seed(case["seed"])
        return model.forward(inp)
    assert_model_gradients(model, loss, x)


@settings(max_examples=6)
@given(case=rnn_cases(kinds=("LSTM", "GRU")))
def test_second_order_gradients(device, case):
    case = dict(case, dropout=0.0, recurrent_dropout=0.0, batch=min(case["batch"], 2),
                time=min(case["time"], 3))
    model, x = _tiny_model(case, device)
    weights = [p for p in model.parameters()]

    slots = [(m, a) for m in model.modules() for a, p in m.own_parameters() if p.trainable]

    def fn(inp, *ws):
        saved = [getattr(m, a) for m, a in slots]
        for (m, a), w in zip(slots, ws):
            setattr(m, a, w)
        try:
            return model.forward(inp)
        finally:
            for (m, a), p in zip(slots, saved):
                setattr(m, a, p)
    leaves = [mg.tensor(w.data, requires_grad=True) for w in weights]
    assert mg.gradgradcheck(fn, x.detach().requires_grad_(), *leaves)


def test_gradients_reach_the_first_step_of_a_long_sequence():
    layer = nn.LSTM(3)
    x = mg.randn(2, 30, 2, requires_grad=True)
    layer(x).sum().backward()
    g = np.abs(x.grad.numpy())
    assert g[:, 0].sum() > 0 and np.isfinite(g).all()


# ----------------------------------------------------------------------------- semantics

def _float64_layer(layer, shape, device="cpu", seed=0):
    layer.build_for(shape)
    return float64_model(layer, device, seed)


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_go_backwards_reads_the_reversed_sequence(kind):
    fwd = _float64_layer(make(kind, 3, return_sequences=True), (5, 2))
    bwd = make(kind, 3, return_sequences=True, go_backwards=True)
    _float64_layer(bwd, (5, 2))
    bwd.set_weights(fwd.get_weights())
    x = np.random.default_rng(1).normal(size=(2, 5, 2))
    np.testing.assert_allclose(bwd(mg.tensor(x)).numpy(), fwd(mg.tensor(x[:, ::-1].copy())).numpy(),
                               rtol=1e-12)


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_masked_steps_keep_the_state_and_repeat_the_output(kind):
    layer = _float64_layer(make(kind, 3, return_sequences=True, return_state=True), (6, 2))
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 6, 2))
    mask = np.array([[1, 1, 0, 1, 0, 0], [1, 1, 1, 1, 1, 1]], bool)
    seq, *states = layer(mg.tensor(x), mask=mg.tensor(mask))
    seq = seq.numpy()
    # sample 0 equals running on its unmasked steps only
    kept = x[0:1, mask[0]]
    seq_kept, *states_kept = layer(mg.tensor(kept))
    np.testing.assert_allclose(seq[0, [0, 1, 3]], seq_kept.numpy()[0], rtol=1e-12)
    for s, s_kept in zip(states, states_kept):
        np.testing.assert_allclose(s.numpy()[0], s_kept.numpy()[0], rtol=1e-12)
    np.testing.assert_array_equal(seq[0, 2], seq[0, 1])         # the previous output (Keras)
    np.testing.assert_array_equal(seq[0, 5], seq[0, 3])
    np.testing.assert_allclose(seq[1], layer(mg.tensor(x[1:2]))[0].numpy()[0], rtol=1e-12)
    zeros = make(kind, 3, return_sequences=True, zero_output_for_mask=True)
    _float64_layer(zeros, (6, 2))
    zeros.set_weights(layer.get_weights())
    out = zeros(mg.tensor(x), mask=mg.tensor(mask)).numpy()
    np.testing.assert_array_equal(out[0, [2, 4, 5]], 0)
    np.testing.assert_allclose(out[0, [0, 1, 3]], seq[0, [0, 1, 3]], rtol=1e-12)


def test_mask_from_embedding_reaches_the_lstm():
    emb = nn.Embedding(10, 4, mask_zero=True)
    lstm = nn.LSTM(3)
    ids = np.array([[3, 5, 0, 0], [2, 0, 0, 0]])
    out = lstm(emb(mg.tensor(ids)))
    short = lstm(emb(mg.tensor(ids[:, :1])))
    long_ = lstm(emb(mg.tensor(ids[:, :2])))
    np.testing.assert_allclose(out.numpy()[1], short.numpy()[1], rtol=1e-6)   # padding ignored
    np.testing.assert_allclose(out.numpy()[0], long_.numpy()[0], rtol=1e-6)


def test_dropout_masks_are_fixed_across_time_and_training_only():
    # With a zero recurrent kernel, h_t = tanh(d * x_t W + b): a constant input gives a
    # constant output sequence exactly when the dropout mask d is the same at every step.
    layer = nn.SimpleRNN(6, dropout=0.5, return_sequences=True)
    layer.build_for((5, 8))
    with mg.no_grad():
        layer.recurrent_kernel.data = layer.recurrent_kernel.data * 0
    x = mg.tensor(np.ones((4, 5, 8), np.float32))
    out = layer(x).numpy()
    np.testing.assert_allclose(out, np.repeat(out[:, :1], 5, axis=1), rtol=1e-6)
    layer.eval()
    plain = layer(x).numpy()
    assert not np.allclose(out, plain)                     # training dropped some inputs
    np.testing.assert_array_equal(plain, layer(x).numpy())  # eval is deterministic
    layer.train()
    assert not np.allclose(layer(x).numpy(), out)           # a new mask per sequence batch
    rec = nn.LSTM(4, recurrent_dropout=0.5)
    x = mg.randn(3, 4, 2)
    assert not np.allclose(rec(x).numpy(), rec(x, training=False).numpy())


@pytest.mark.parametrize("mode", ["concat", "sum", "ave", "mul", None])
def test_bidirectional_merges_forward_and_reversed_backward(mode):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4, 3))
    bi = nn.Bidirectional(nn.GRU(2, return_sequences=True), merge_mode=mode)
    bi.build_for((4, 3))
    bi.to(dtype="float64")
    assert bi.count_params() == 2 * 3 * 2 * (3 + 2 + 2)
    out = bi(mg.tensor(x))
    f = bi.forward_layer(mg.tensor(x)).numpy()
    b = bi.backward_layer(mg.tensor(x)).numpy()[:, ::-1]
    expected = {"concat": np.concatenate([f, b], -1), "sum": f + b, "ave": (f + b) / 2,
                "mul": f * b, None: None}[mode]
    if mode is None:
        np.testing.assert_allclose(out[0].numpy(), f, rtol=1e-12)
        np.testing.assert_allclose(out[1].numpy(), b, rtol=1e-12)
    else:
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
        assert bi.compute_output_shape((4, 3)) == ((4, 4) if mode == "concat" else (4, 2))


def test_bidirectional_summary_states_and_gradients(device):
    model = nn.Sequential([nn.Input((None, 16)), nn.Bidirectional(nn.LSTM(32))])
    assert model.count_params() == 2 * 6272
    assert model.output_shape == (64,)
    bi = nn.Bidirectional(nn.LSTM(2, return_state=True))
    bi.build_for((3, 2))
    out = bi(mg.randn(2, 3, 2))
    assert [t.shape for t in out] == [(2, 4)] + [(2, 2)] * 4
    tiny = nn.Bidirectional(nn.SimpleRNN(2, return_sequences=True), merge_mode="mul")
    float64_model(tiny, device, 0, input_shape=(3, 2))
    x = mg.tensor(np.random.default_rng(4).normal(size=(2, 3, 2)), device=device)
    assert_model_gradients(tiny, tiny, x)


# ----------------------------------------------------------------------------- PyTorch

def _torch_pair(kind, n_in, units, seed):
    torch = pytest.importorskip("torch")
    torch.manual_seed(seed)
    cls = {"SimpleRNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[kind]
    ref = cls(n_in, units, batch_first=True).double()
    layer = make(kind, units, return_sequences=True, return_state=True)
    layer.build_for((None, n_in))
    layer.to(dtype="float64")
    w_ih, w_hh = ref.weight_ih_l0.detach().numpy(), ref.weight_hh_l0.detach().numpy()
    b_ih, b_hh = ref.bias_ih_l0.detach().numpy(), ref.bias_hh_l0.detach().numpy()
    if kind == "GRU":                 # PyTorch's gate order r, z, n; Keras' z, r, h
        perm = _gru_order(units)
        layer.set_weights([w_ih[perm].T, w_hh[perm].T, np.stack([b_ih[perm], b_hh[perm]])])
    else:                             # SimpleRNN; LSTM's i, f, g, o is Keras' i, f, c, o
        layer.set_weights([w_ih.T, w_hh.T, b_ih + b_hh])
    return torch, ref, layer


def _gru_order(units):
    u = np.arange(units)
    return np.concatenate([u + units, u, u + 2 * units])    # Keras block k <- PyTorch row block


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch, time, n_in, units", [(3, 5, 4, 6), (1, 1, 2, 3), (2, 7, 1, 2)])
def test_outputs_and_gradients_equal_pytorch(kind, batch, time, n_in, units):
    torch, ref, layer = _torch_pair(kind, n_in, units, seed=time)
    rng = np.random.default_rng(batch + time)
    x = rng.normal(size=(batch, time, n_in))
    n_states = 2 if kind == "LSTM" else 1
    states = [rng.normal(0, 0.5, (batch, units)) for _ in range(n_states)]
    v_seq, v_h = rng.normal(size=(batch, time, units)), rng.normal(size=(batch, units))

    xt = torch.tensor(x, requires_grad=True)
    st_t = [torch.tensor(s[None], requires_grad=True) for s in states]
    seq_t, h_t = ref(xt, tuple(st_t) if kind == "LSTM" else st_t[0])
    h_t = h_t[0] if kind == "LSTM" else h_t
    ((seq_t * torch.tensor(v_seq)).sum() + (h_t[0] * torch.tensor(v_h)).sum()).backward()

    xm = mg.tensor(x, requires_grad=True)
    st_m = [mg.tensor(s, requires_grad=True) for s in states]
    seq_m, h_m, *_ = layer(xm, initial_state=st_m)
    ((seq_m * mg.tensor(v_seq)).sum() + (h_m * mg.tensor(v_h)).sum()).backward()

    np.testing.assert_allclose(seq_m.numpy(), seq_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h_m.numpy(), h_t.detach().numpy()[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for s_m, s_t in zip(st_m, st_t):
        np.testing.assert_allclose(s_m.grad.numpy(), s_t.grad.numpy()[0], rtol=1e-9, atol=1e-12)
    g_ih, g_hh = ref.weight_ih_l0.grad.numpy(), ref.weight_hh_l0.grad.numpy()
    gb_ih, gb_hh = ref.bias_ih_l0.grad.numpy(), ref.bias_hh_l0.grad.numpy()
    if kind == "GRU":
        perm = _gru_order(units)
        g_ih, g_hh, gb = g_ih[perm], g_hh[perm], np.stack([gb_ih[perm], gb_hh[perm]])
    else:
        gb = gb_ih                      # b_ih and b_hh enter the same sum: equal gradients
        np.testing.assert_allclose(gb_ih, gb_hh, rtol=1e-12)
    np.testing.assert_allclose(layer.kernel.grad.numpy(), g_ih.T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(layer.recurrent_kernel.grad.numpy(), g_hh.T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.numpy(), gb, rtol=1e-9, atol=1e-12)


def test_bidirectional_equals_pytorch_bidirectional_lstm():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True).double()
    bi = nn.Bidirectional(nn.LSTM(4, return_sequences=True))
    bi.build_for((None, 3))
    bi.to(dtype="float64")
    p = {k: v.detach().numpy() for k, v in ref.named_parameters()}
    bi.forward_layer.set_weights([p["weight_ih_l0"].T, p["weight_hh_l0"].T,
                                  p["bias_ih_l0"] + p["bias_hh_l0"]])
    bi.backward_layer.set_weights([p["weight_ih_l0_reverse"].T, p["weight_hh_l0_reverse"].T,
                                   p["bias_ih_l0_reverse"] + p["bias_hh_l0_reverse"]])
    x = np.random.default_rng(0).normal(size=(2, 5, 3))
    np.testing.assert_allclose(bi(mg.tensor(x)).numpy(), ref(torch.tensor(x))[0].detach().numpy(),
                               rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- learning

def _recall_data(n, length, symbols, rng):
    """Every sequence holds each symbol equally often (a bag of words is the same for all);
    the target is the first symbol."""
    base = np.repeat(np.arange(1, symbols + 1), length // symbols)
    x = np.stack([rng.permutation(base) for _ in range(n)])
    return x, x[:, 0] - 1


def _train(model, x, y, steps, batch, lr, rng):
    assert model.parameters(), "build the model before making its optimizer"
    opt = mg.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        idx = rng.integers(0, len(x), batch)
        logits = model(mg.tensor(x[idx]))
        loss = mg.losses.sparse_categorical_crossentropy(mg.tensor(y[idx]), logits, from_logits=True)
        opt.zero_grad()
        loss.backward()
        opt.step()


def _accuracy(model, x, y):
    with mg.no_grad():
        return float((model(mg.tensor(x)).numpy().argmax(-1) == y).mean())


def test_lstm_recalls_the_first_symbol_where_a_bag_of_words_cannot():
    rng = np.random.default_rng(0)
    x, y = _recall_data(2000, 20, 4, rng)
    x_test, y_test = _recall_data(400, 20, 4, rng)
    lstm = nn.Sequential([nn.Input((None,)), nn.Embedding(5, 8), nn.LSTM(16), nn.Dense(4)])
    _train(lstm, x, y, steps=300, batch=32, lr=0.01, rng=rng)
    bag = nn.Sequential([nn.Input((None,)), nn.Embedding(5, 8), nn.GlobalAveragePooling1D(), nn.Dense(16, "relu"),
                         nn.Dense(4)])
    _train(bag, x, y, steps=300, batch=32, lr=0.01, rng=rng)
    lstm_acc, bag_acc = _accuracy(lstm, x_test, y_test), _accuracy(bag, x_test, y_test)
    assert lstm_acc >= 0.95, f"LSTM test accuracy {lstm_acc:.3f}"
    assert bag_acc < 0.4, f"bag of words test accuracy {bag_acc:.3f} (chance is 0.25)"


# ----------------------------------------------------------------------------- Keras 3 (optional)

@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_masked_outputs_and_states_equal_keras(kind, go_backwards):
    """Keras 3 itself (any installed backend; skipped without Keras) with the same weights,
    a mask and return_sequences/return_state: the masking semantics are Keras'."""
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(0).normal(size=(2, 6, 3)).astype(np.float32)
    mask = np.array([[1, 1, 0, 1, 0, 0], [1, 1, 1, 1, 1, 1]], bool)
    options = dict(return_sequences=True, return_state=True, go_backwards=go_backwards)
    ref = getattr(keras.layers, kind)(4, **options)
    ref.build((None, 6, 3))
    ours = LAYERS[kind](4, **options)
    ours.build_for((6, 3))
    ours.set_weights(ref.get_weights())
    expected = [keras.ops.convert_to_numpy(t) for t in ref(x, mask=mask)]
    got = ours(mg.tensor(x), mask=mg.tensor(mask))
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-5, atol=1e-6)


def test_functional_model_stacks_layers_carries_masks_and_fits_integer_ids():
    ids = nn.Input((None,), dtype="int64")
    h = nn.Embedding(20, 4, mask_zero=True)(ids)
    h = nn.LSTM(5, return_sequences=True)(h)
    out = nn.Dense(1, activation="sigmoid")(nn.Bidirectional(nn.GRU(3))(h))
    model = nn.Model(ids, out)
    assert model.count_params() == 20 * 4 + 4 * 5 * (4 + 5 + 1) + 2 * 3 * 3 * (5 + 3 + 2) + 7
    x = np.array([[3, 7, 1, 0, 0], [4, 0, 0, 0, 0]])
    full = model(mg.tensor(x)).numpy()
    np.testing.assert_allclose(full[1], model(mg.tensor(x[1:, :1])).numpy()[0], rtol=1e-6)  # padding ignored
    model.compile("adam", "binary_crossentropy")
    history = model.fit(np.tile(x, (8, 1)), np.tile([[1.0], [0.0]], (8, 1)), epochs=2, batch_size=4,
                        verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


def test_bidirectional_refuses_a_backward_layer_that_reads_forwards():
    # issue 22.4: Keras refuses a backward_layer whose go_backwards equals the forward layer's
    with pytest.raises(ValueError, match=r"go_backwards=True"):
        nn.Bidirectional(nn.LSTM(3), backward_layer=nn.LSTM(3))
    with pytest.raises(ValueError, match=r"go_backwards=False"):
        nn.Bidirectional(nn.LSTM(3, go_backwards=True), backward_layer=nn.LSTM(3, go_backwards=True))
    with pytest.raises(TypeError, match="backward_layer must be"):
        nn.Bidirectional(nn.LSTM(3), backward_layer=nn.Dense(3))
    bi = nn.Bidirectional(nn.LSTM(3), backward_layer=nn.LSTM(3, go_backwards=True))
    x = mg.randn(2, 4, 5)
    out = bi(x)
    b = bi.backward_layer(x).numpy()
    np.testing.assert_allclose(out.numpy()[:, 3:], b, rtol=1e-6)


def _composed_lstm_cell(z, c_prev):
    """The LSTM step's gates as separate ops (the definition LSTMCell fuses)."""
    import minigrad.functional as F
    u = c_prev.shape[-1]
    i, f, o = F.sigmoid(z[:, :u]), F.sigmoid(z[:, u:2 * u]), F.sigmoid(z[:, 3 * u:])
    c = f * c_prev + i * F.tanh(z[:, 2 * u:3 * u])
    return mg.concat([o * F.tanh(c), c], axis=1)


@settings(max_examples=10)
@given(st.integers(1, 4), st.integers(1, 5), st.integers(0, 2**16))
def test_fused_lstm_cell_equals_the_composed_gates(device, batch, units, seed):
    from minigrad.nn.recurrent import LSTMCell
    rng = np.random.default_rng(seed)
    z64, c64 = rng.normal(scale=3, size=(batch, 4 * units)), rng.normal(size=(batch, units))
    for dtype, tol in (("float64", 1e-12), ("float32", 4e-7)):    # float32: a few roundings
        z, c = (mg.tensor(a.astype(dtype), device=device) for a in (z64, c64))
        np.testing.assert_allclose(LSTMCell.apply(z, c).numpy(), _composed_lstm_cell(z, c).numpy(),
                                   rtol=tol, atol=tol)
    z, c = mg.tensor(z64, device=device, requires_grad=True), mg.tensor(c64, device=device, requires_grad=True)
    assert mg.gradcheck(LSTMCell.apply, z, c)
    assert mg.gradgradcheck(LSTMCell.apply, z, c)
    # backward_arrays (the walk's fast path) and backward (recorded) give the same gradients
    g = mg.tensor(rng.normal(size=(batch, 2 * units)), device=device)
    fast = mg.grad(LSTMCell.apply(z, c), [z, c], g)
    recorded = mg.grad(LSTMCell.apply(z, c), [z, c], g, create_graph=True)
    for a, b in zip(fast, recorded):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-14)


def test_lstm_takes_the_fused_cell_only_with_keras_default_activations(monkeypatch):
    from minigrad.nn import recurrent
    calls = []
    real = recurrent.LSTMCell.apply
    monkeypatch.setattr(recurrent.LSTMCell, "apply", lambda *a: calls.append(1) or real(*a))
    x = mg.randn(2, 3, 4)
    nn.LSTM(5)(x)
    assert len(calls) == 3                                  # once per time step
    calls.clear()
    nn.LSTM(5, activation="relu")(x)
    nn.LSTM(5, recurrent_activation="hard_sigmoid")(x)
    assert calls == []
