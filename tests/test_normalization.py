"""Batch normalisation: the fused node (minigrad/ops/normalization.py) behind F.batch_norm.

Checked: values and batch statistics against the textbook formula in float64 NumPy, the
moving averages (Keras' momentum convention), first- and second-order gradients of x, gamma
and beta against central differences over random shapes and axes, the array backward
against the Tensor backward, inference mode, float32, and PyTorch's batch_norm when installed.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import minigrad.functional as F

from .conftest import leaf, to_device

fewer_examples = settings(max_examples=max(3, settings().max_examples // 3))
seeds = st.integers(0, 2**32 - 1)


@st.composite
def bn_cases(draw):
    """(shape, axis): 2-D (N, C) or 4-D images, the channel axis first-after-batch or last."""
    if draw(st.booleans()):
        shape = (draw(st.integers(2, 4)), draw(st.integers(1, 3)))
    else:
        shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3)),
                 draw(st.integers(2, 3)))
    return shape, draw(st.sampled_from([1, -1]))


def reference(x, gamma, beta, axis, epsilon):
    """y, batch mean, batch variance by the textbook formula (float64 NumPy)."""
    axes = tuple(a for a in range(x.ndim) if a != axis % x.ndim)
    shape = [1] * x.ndim
    shape[axis] = -1
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + epsilon) * gamma.reshape(shape) + beta.reshape(shape)
    return y, mean.reshape(-1), var.reshape(-1)


def _inputs(seed, shape, axis):
    rng = np.random.default_rng(seed)
    c = shape[axis]
    return (rng.standard_normal(shape) * 2 + 1, rng.uniform(0.5, 2, c), rng.standard_normal(c),
            rng.standard_normal(c), rng.uniform(0.5, 2, c))


@given(bn_cases(), seeds)
def test_training_values_and_moving_statistics(device, case, seed):
    shape, axis = case
    x, gamma, beta, mm, mv = _inputs(seed, shape, axis)
    moving_mean, moving_var = to_device(mm, device), to_device(mv, device)
    y = F.batch_norm(to_device(x, device), moving_mean, moving_var, to_device(gamma, device),
                     to_device(beta, device), training=True, momentum=0.8, epsilon=1e-3, axis=axis)
    expected, mean, var = reference(x, gamma, beta, axis, 1e-3)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(moving_mean.numpy(), 0.8 * mm + 0.2 * mean, rtol=1e-12)
    np.testing.assert_allclose(moving_var.numpy(), 0.8 * mv + 0.2 * var, rtol=1e-12)


@given(bn_cases(), seeds)
def test_inference_uses_the_moving_statistics(device, case, seed):
    shape, axis = case
    x, gamma, beta, mm, mv = _inputs(seed, shape, axis)
    y = F.batch_norm(to_device(x, device), to_device(mm, device), to_device(mv, device),
                     to_device(gamma, device), to_device(beta, device), training=False, axis=axis)
    bshape = [1] * x.ndim
    bshape[axis] = -1
    expected = (x - mm.reshape(bshape)) / np.sqrt(mv.reshape(bshape) + 1e-3) * gamma.reshape(bshape) \
        + beta.reshape(bshape)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)


@given(bn_cases(), st.booleans(), seeds)
def test_gradients(device, case, training, seed):
    shape, axis = case
    x, gamma, beta, mm, mv = _inputs(seed, shape, axis)
    stats = lambda: (to_device(mm, device), to_device(mv, device))       # fresh: training updates them
    assert mg.gradcheck(lambda x, g, b: F.batch_norm(x, *stats(), g, b, training=training, axis=axis),
                        leaf(x, device), leaf(gamma, device), leaf(beta, device))


@fewer_examples
@given(bn_cases(), seeds)
def test_second_order(device, case, seed):
    shape, axis = case
    x, gamma, beta, mm, mv = _inputs(seed, shape, axis)
    stats = lambda: (to_device(mm, device), to_device(mv, device))
    assert mg.gradgradcheck(lambda x, g, b: F.batch_norm(x, *stats(), g, b, axis=axis),
                            leaf(x, device), leaf(gamma, device), leaf(beta, device))


@given(bn_cases(), seeds)
def test_array_backward_matches_tensor_backward(device, case, seed):
    """backward_arrays (plain backward) and backward (create_graph=True) give the same gradients."""
    shape, axis = case
    x, gamma, beta, mm, mv = _inputs(seed, shape, axis)
    g = np.random.default_rng(seed + 1).standard_normal(shape)
    results = []
    for create_graph in (False, True):
        xs, gs, bs = leaf(x, device), leaf(gamma, device), leaf(beta, device)
        y = F.batch_norm(xs, to_device(mm, device), to_device(mv, device), gs, bs, axis=axis)
        results.append(mg.grad(y, [xs, gs, bs], grad_outputs=to_device(g, device), create_graph=create_graph))
    for plain, recorded in zip(*results):
        np.testing.assert_allclose(plain.numpy(), recorded.numpy(), rtol=1e-10, atol=1e-12)


def test_without_gamma_and_beta(device):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3, 2, 2))
    y = F.batch_norm(leaf(x, device), to_device(np.zeros(3), device), to_device(np.ones(3), device))
    expected, _, _ = reference(x, np.ones(3), np.zeros(3), 1, 1e-3)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)
    xs = leaf(x, device)
    assert mg.gradcheck(lambda x: F.batch_norm(x, to_device(np.zeros(3), device),
                                               to_device(np.ones(3), device)), xs)


def test_float32_stays_float32(device):
    x = mg.randn(4, 3, 2, 2, device=device, requires_grad=True)
    gamma = mg.ones(3, device=device, requires_grad=True)
    beta = mg.zeros(3, device=device, requires_grad=True)
    mm, mv = mg.zeros(3, device=device), mg.ones(3, device=device)
    y = F.batch_norm(x, mm, mv, gamma, beta)
    assert y.dtype == np.float32 and mm.dtype == np.float32 and mv.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == gamma.grad.dtype == beta.grad.dtype == np.float32


def test_one_value_per_channel_is_a_clear_error():
    with pytest.raises(ValueError, match=r"batch_norm: training needs more than one value per channel"):
        F.batch_norm(mg.zeros(1, 3), mg.zeros(3), mg.ones(3))


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 5, 2)])
def test_matches_pytorch(shape):
    torch = pytest.importorskip("torch")
    x, gamma, beta, mm, mv = _inputs(11, shape, 1)
    xs, gs, bs = (mg.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    moving_mean, moving_var = mg.tensor(mm), mg.tensor(mv)
    running_mean, running_var = torch.tensor(mm), torch.tensor(mv)
    y = F.batch_norm(xs, moving_mean, moving_var, gs, bs, momentum=0.9, epsilon=1e-3)
    yt = torch.nn.functional.batch_norm(xt, running_mean, running_var, gt, bt, training=True,
                                        momentum=0.1, eps=1e-3)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(12).standard_normal(shape)
    y.backward(mg.tensor(g))
    yt.backward(torch.tensor(g))
    for ours, theirs in ((xs, xt), (gs, gt), (bs, bt)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(moving_mean.numpy(), running_mean.numpy(), rtol=1e-12)
    n = x.size // x.shape[1]        # PyTorch's running variance is the unbiased one; Keras' the biased
    biased = 0.9 * mv + 0.1 * (running_var.numpy() - 0.9 * mv) / 0.1 * (n - 1) / n
    np.testing.assert_allclose(moving_var.numpy(), biased, rtol=1e-10)
