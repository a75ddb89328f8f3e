"""Embedding: the gather op and its scatter-add gradient (repeated ids accumulate, second
order), the layer's Keras shapes, masks, errors, and equality with PyTorch's nn.Embedding."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import nn
from minigrad.nn.embedding import mask_of
from minigrad.ops.embedding import embedding_lookup

from .conftest import leaf


@st.composite
def lookups(draw):
    rows, dim = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, dim)), rng.integers(0, rows, shape)


@given(case=lookups())
def test_lookup_values_and_gradients(device, case):
    table, ids = case
    out = embedding_lookup(mg.tensor(table, device=device), mg.tensor(ids, device=device))
    assert out.shape == ids.shape + (table.shape[1],)
    np.testing.assert_array_equal(out.numpy(), table[ids])
    ids_t = mg.tensor(ids, device=device)
    assert mg.gradcheck(lambda t: embedding_lookup(t, ids_t), leaf(table, device))
    assert mg.gradgradcheck(lambda t: embedding_lookup(t, ids_t) ** 2, leaf(table, device))


def test_repeated_ids_accumulate_and_unused_rows_get_zero(device):
    table = leaf(np.arange(12.0).reshape(4, 3), device)
    ids = mg.tensor(np.array([[1, 1, 3], [1, 0, 3]]), device=device)
    g = np.arange(18.0).reshape(2, 3, 3)
    embedding_lookup(table, ids).backward(mg.tensor(g, device=device))
    expected = np.zeros((4, 3))
    for (b, t), v in np.ndenumerate(ids.numpy()):
        expected[v] += g[b, t]
    np.testing.assert_array_equal(table.grad.numpy(), expected)
    assert (table.grad.numpy()[2] == 0).all()


def test_layer_shapes_mask_and_summary(device):
    layer = nn.Embedding(50, 8, mask_zero=True)
    ids = np.array([[4, 9, 0, 0], [1, 0, 0, 0]])
    out = layer(ids)                               # integer arrays stay integers
    assert out.shape == (2, 4, 8) and out.dtype == np.float32
    np.testing.assert_array_equal(mask_of(out).numpy(), ids != 0)
    assert mask_of(nn.Embedding(5, 2)(mg.tensor(ids % 5))) is None
    assert nn.Embedding(3, 2)(np.array([[0]])).shape == (1, 1, 2)
    w = layer.embeddings.numpy()
    assert w.shape == (50, 8) and np.abs(w).max() <= 0.05 and w.std() > 0.01   # Keras' uniform
    model = nn.Sequential([nn.Input((None,)), nn.Embedding(10000, 32), nn.LSTM(16)])
    lines = []
    model.summary(print_fn=lines.append)
    assert "(None, None, 32)" in "\n".join(lines) and "320,000" in "\n".join(lines)
    assert nn.Embedding.accepts_integer_input
    on_device = nn.Embedding(6, 3)
    on_device.to(device)
    assert on_device(mg.tensor(np.array([[5, 1]]), device=device)).device == device


def test_float_and_out_of_range_ids_are_clear_errors():
    layer = nn.Embedding(10, 4)
    with pytest.raises(TypeError, match=r"Embedding layer 'embedding.*ids must be an integer array.*float32"):
        layer(np.array([[1.0, 2.0]], np.float32))
    with pytest.raises(TypeError, match="float64"):
        embedding_lookup(mg.zeros(3, 2), np.array([0.5]))
    with pytest.raises(IndexError, match=r"id 10 is out of range for a vocabulary of 10 rows"):
        layer(np.array([[1, 10]]))
    with pytest.raises(IndexError, match=r"id -1 is out of range"):
        layer(np.array([[-1, 3]]))
    with pytest.raises(ValueError, match="input_dim must be a positive integer"):
        nn.Embedding(0, 3)
    with pytest.raises(RuntimeError, match="ids are on strict but the table is on cpu"):
        embedding_lookup(mg.zeros(3, 2), mg.tensor(np.array([1]), device="strict"))


def test_layer_gradient_through_lstm(device):
    layer = nn.Embedding(7, 3)
    layer.build_for((5,))
    layer.to(device, dtype="float64")
    lstm = nn.LSTM(2)
    ids = mg.tensor(np.array([[1, 2, 2, 6, 1], [0, 0, 3, 1, 1]]), device=device)

    def loss(table):
        saved = layer.embeddings
        layer.embeddings = table
        try:
            return lstm(layer(ids))
        finally:
            layer.embeddings = saved
    lstm.build_for((5, 3))
    lstm.to(device, dtype="float64")
    assert mg.gradcheck(loss, leaf(layer.embeddings.numpy(), device))


def test_equals_pytorch_embedding():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.Embedding(9, 4).double()
    layer = nn.Embedding(9, 4)
    layer.build_for((None,))
    layer.to(dtype="float64")
    layer.set_weights([ref.weight.detach().numpy()])
    ids = np.random.default_rng(0).integers(0, 9, (3, 6))
    v = np.random.default_rng(1).normal(size=(3, 6, 4))
    out_t = ref(torch.tensor(ids))
    (out_t * torch.tensor(v)).sum().backward()
    out = layer(ids)
    (out * mg.tensor(v)).sum().backward()
    np.testing.assert_array_equal(out.numpy(), out_t.detach().numpy())
    np.testing.assert_allclose(layer.embeddings.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-12)
