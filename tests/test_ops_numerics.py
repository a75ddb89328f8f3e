"""Example tests for the ops' edges: the numerics of issue 13 (item 9, and item 10's message),
zeros in prod/cumprod, kinks, shapes and errors of the new ops. Gradients over random
inputs are in test_ops_table.py; these pin the values where random draws do not go."""
import math
import tracemalloc

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad import losses

from .conftest import leaf


# ----------------------------------------------------------------------------- issue 13, item 9

def test_zero_base_negative_exponent_has_zero_exponent_gradient(device):
    """d(x^y)/dy = z ln x is taken as 0 where x <= 0; at x = 0, y < 0 z is inf, and inf * 0 was NaN."""
    x = leaf([0.0, 0.0, 2.0], device)
    y = leaf([-1.0, -2.5, -1.0], device)
    with np.errstate(divide="ignore"):
        z = x ** y
    z.sum().backward()
    assert y.grad.numpy().tolist() == [0.0, 0.0, pytest.approx(0.5 * math.log(2.0))]
    assert not np.isnan(y.grad.numpy()).any()


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_of_an_empty_axis_is_empty(fn, device):
    x = leaf(np.zeros((3, 0)), device)
    out = fn(x, axis=-1)
    assert out.shape == (3, 0)
    out.sum().backward()
    assert x.grad.shape == (3, 0)
    empty_batch = fn(leaf(np.zeros((0, 4)), device), axis=-1)
    assert empty_batch.shape == (0, 4)


def test_logsumexp_of_an_empty_axis_is_minus_inf(device):
    x = leaf(np.zeros((2, 0)), device)
    with np.errstate(divide="ignore"):
        out = x.logsumexp(axis=1)
        kept = mg.logsumexp(x, axis=1, keepdims=True)
    assert out.numpy().tolist() == [-np.inf, -np.inf]
    assert kept.shape == (2, 1)


def test_var_with_ddof_equal_to_count_is_inf_as_numpy(device):
    data = np.array([1.0, 2.0, 4.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.var(data, ddof=3)
        got = mg.tensor(data, device=device).var(ddof=3).item()
        same = mg.tensor(np.ones(3), device=device).var(ddof=3).item()
    assert expected == np.inf and got == np.inf
    assert np.isnan(same) and np.isnan(np.var(np.ones(3), ddof=3))   # 0/0 in both


@pytest.mark.parametrize("target, expected", [(1.0, 0.0), (0.0, np.inf), (0.5, np.inf)])
def test_bce_from_logits_at_plus_infinity_is_the_limit_not_nan(target, expected, device):
    z = leaf([np.inf], device)
    y = mg.tensor(np.array([target]), device=device)
    loss = losses.binary_crossentropy(y, z, from_logits=True)
    assert loss.item() == expected
    loss.backward()
    assert z.grad.numpy().tolist() == [1.0 - target]       # sigmoid(inf) - y


def test_bce_from_logits_at_minus_infinity(device):
    z = leaf([-np.inf, -np.inf], device)
    y = mg.tensor(np.array([0.0, 1.0]), device=device)
    per = losses.binary_crossentropy(y, z, from_logits=True, reduction="none")
    assert per.numpy().tolist() == [0.0, np.inf]


# ----------------------------------------------------------------------------- issue 13, item 10

def test_categorical_crossentropy_with_integer_labels_points_to_the_sparse_loss(device):
    logits = mg.tensor(np.zeros((4, 3)), device=device)
    for labels in ([0, 2, 1, 1], np.array([[0], [2], [1], [1]])):
        with pytest.raises(ValueError, match="sparse_categorical_crossentropy") as info:
            losses.categorical_crossentropy(labels, logits, from_logits=True)
        assert "one_hot" in str(info.value) and "reshape" not in str(info.value)
    # the suggested fix works and equals the sparse loss
    one_hot = mg.one_hot(mg.tensor([0, 2, 1, 1], device=device), 3, dtype="float64")
    a = losses.categorical_crossentropy(one_hot, logits, from_logits=True).item()
    b = losses.sparse_categorical_crossentropy([0, 2, 1, 1], logits, from_logits=True).item()
    assert a == pytest.approx(b) == pytest.approx(math.log(3))


# ----------------------------------------------------------------------------- zeros in products

@pytest.mark.parametrize("values, grad", [
    ([2.0, 3.0, 4.0], [12.0, 8.0, 6.0]),
    ([2.0, 0.0, 4.0], [0.0, 8.0, 0.0]),          # one zero: only it gets the others' product
    ([0.0, 3.0, 0.0], [0.0, 0.0, 0.0]),          # two zeros: all 0
])
def test_prod_gradient_at_zeros(values, grad, device):
    x = leaf(values, device)
    mg.prod(x).backward()
    assert x.grad.numpy().tolist() == grad
    x2 = leaf(values, device)                    # the recorded (create_graph) form agrees
    g, = mg.grad(mg.prod(x2), [x2], create_graph=True)
    assert g.numpy().tolist() == grad


def test_prod_second_derivative_at_a_zero(device):
    """d^2(x0 x1 x2)/dx0 dx1 = x2, also where x0 = 0 (the leave-one-out backward is exact)."""
    x = leaf([0.0, 3.0, 5.0], device)
    g, = mg.grad(mg.prod(x), [x], create_graph=True)       # (15, 0, 0)
    h, = mg.grad(g[1], [x])                                  # d(x0 x2)/dx = (x2, 0, x0)
    assert h.numpy().tolist() == [5.0, 0.0, 0.0]
    assert mg.gradgradcheck(lambda t: mg.prod(t, axis=0), leaf([[0.0, 2.0], [0.0, 0.0], [1.5, -1.0]], device))


def test_cumprod_gradient_at_zeros(device):
    x = leaf([2.0, 0.0, 3.0], device)           # z = (2, 0, 0)
    mg.cumprod(x).sum().backward()               # dz/dx0 = (1, 0, 0), dz1/dx1 = 2, dz2/dx1 = 6
    assert x.grad.numpy().tolist() == [1.0, 8.0, 0.0]
    assert mg.gradgradcheck(lambda t: mg.cumprod(t, axis=1), leaf([[0.0, 2.0, 0.5], [1.0, 0.0, 0.0]], device))


# ----------------------------------------------------------------------------- kinks and steps

def test_step_ops_have_zero_gradient_also_at_their_jumps(device):
    x = leaf([-1.0, -0.5, 0.0, 0.5, 2.0], device)
    total = mg.floor(x) + mg.ceil(x) + mg.round(x) + mg.trunc(x) + mg.sign(x) + x // 0.5
    total.sum().backward()
    assert x.grad.numpy().tolist() == [0.0] * 5


def test_round_halves_to_even(device):
    out = mg.round(mg.tensor(np.array([0.5, 1.5, 2.5, -0.5]), device=device))
    assert out.numpy().tolist() == [0.0, 2.0, 2.0, -0.0]


def test_relu6_hard_sigmoid_kinks(device):
    x = leaf([0.0, 6.0, 3.0], device)
    F.relu6(x).sum().backward()
    assert x.grad.numpy().tolist() == [0.0, 0.0, 1.0]
    y = leaf([-3.0, 3.0, 0.0], device)
    F.hard_sigmoid(y).sum().backward()
    assert y.grad.numpy().tolist() == [0.0, 0.0, pytest.approx(1 / 6)]


def test_mod_follows_the_sign_of_the_divisor(device):
    a = mg.tensor(np.array([5.0, -5.0, 5.0, -5.0]), device=device)
    b = mg.tensor(np.array([3.0, 3.0, -3.0, -3.0]), device=device)
    assert (a % b).numpy().tolist() == [2.0, 1.0, -1.0, -2.0]
    assert (a // b).numpy().tolist() == [1.0, -2.0, -2.0, 1.0]
    assert (7.0 % mg.tensor(np.array([4.0]), device=device)).numpy().tolist() == [3.0]


# ----------------------------------------------------------------------------- stability

def test_activations_are_finite_at_extremes(device):
    x = leaf([-1000.0, -50.0, 0.0, 50.0, 1000.0], device)
    # overflow and invalid (NaN) raise; underflow to 0 (e^-1000000 inside erf) is the right answer
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        outs = [F.elu(x), F.selu(x), F.gelu(x), F.gelu(x, approximate=True), F.silu(x), F.mish(x),
                F.softsign(x), F.hard_silu(x), F.log_sigmoid(x), mg.logaddexp(x, x), mg.erf(x)]
        sum(o.sum() for o in outs).backward()
    for o in outs:
        assert np.isfinite(o.numpy()).all()
    assert np.isfinite(x.grad.numpy()).all()
    assert F.log_sigmoid(x).numpy()[0] == -1000.0 and F.log_sigmoid(x).numpy()[-1] == 0.0


def test_logcumsumexp_keeps_tiny_early_terms(device):
    """A shift by the global maximum would underflow e^(-1000 - 0) to 0 and give -inf."""
    x = leaf([-1000.0, 0.0, -1000.0], device)
    out = mg.logcumsumexp(x)
    np.testing.assert_allclose(out.numpy(), [-1000.0, 0.0, 0.0], atol=1e-12)
    out.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_erf_matches_math_erf(device):
    values = np.concatenate([np.linspace(-6, 6, 241), [2.999999, 3.0, 3.000001, 1e-8, -1e-8]])
    got = mg.erf(mg.tensor(values, device=device)).numpy()
    np.testing.assert_allclose(got, [math.erf(v) for v in values], rtol=1e-14, atol=1e-15)
    assert mg.erf(mg.tensor(np.array([np.inf, -np.inf]), device=device)).numpy().tolist() == [1.0, -1.0]


# ----------------------------------------------------------------------------- shapes and errors

def test_sort_topk_values_and_gradients(device):
    x = leaf([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]], device)
    values, indices = mg.topk(x, 2)
    assert values.numpy().tolist() == [[3.0, 2.0], [5.0, 4.0]]
    assert indices.numpy().tolist() == [[0, 2], [1, 2]] and not indices.requires_grad
    values.sum().backward()
    assert x.grad.numpy().tolist() == [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]
    assert mg.sort(x, axis=0).numpy().tolist() == [[0.0, 1.0, 2.0], [3.0, 5.0, 4.0]]
    with pytest.raises(ValueError, match="topk: k=4"):
        mg.topk(x, 4)


def test_split_chunk_shapes(device):
    x = mg.tensor(np.arange(10.0), device=device)
    assert [p.shape for p in mg.split(x, [2, 5])] == [(2,), (3,), (5,)]
    assert [p.shape for p in mg.chunk(x, 3)] == [(4,), (4,), (2,)]
    with pytest.raises(ValueError, match="does not split into 3 equal parts"):
        mg.split(x, 3)


def test_gather_scatter_add_repeated_indices(device):
    x = leaf([[1.0, 2.0], [3.0, 4.0]], device)
    idx = mg.tensor(np.array([[0, 0], [1, 0]]), device=device)
    out = mg.gather(x, 1, idx)
    assert out.numpy().tolist() == [[1.0, 1.0], [4.0, 3.0]]
    out.sum().backward()
    assert x.grad.numpy().tolist() == [[2.0, 0.0], [1.0, 1.0]]     # repeats add
    base = mg.zeros(3, dtype="float64", device=device)
    src = leaf([1.0, 2.0, 5.0], device)
    added = mg.scatter_add(base, 0, mg.tensor(np.array([2, 2, 0]), device=device), src)
    assert added.numpy().tolist() == [5.0, 0.0, 3.0]
    with pytest.raises(IndexError, match="out of range"):
        mg.take_along_axis(x, mg.tensor(np.array([[2]]), device=device), 1)
    with pytest.raises(TypeError, match="integer"):
        mg.take_along_axis(x, x, 1)


def test_one_hot_checks_its_indices(device):
    out = mg.one_hot(mg.tensor(np.array([2, 0]), device=device), 3)
    assert out.numpy().tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]] and out.dtype == np.float32
    with pytest.raises(ValueError, match=r"lie in \[0, 3\)"):
        mg.one_hot(mg.tensor(np.array([3]), device=device), 3)
    with pytest.raises(TypeError, match="integers"):
        mg.one_hot(mg.tensor(np.array([1.0]), device=device), 3)


def test_einsum_errors_are_clear():
    a = mg.tensor(np.ones((2, 2)))
    with pytest.raises(ValueError, match="repeated within one operand"):
        mg.einsum("ii->i", a)
    with pytest.raises(ValueError, match="ellipsis"):
        mg.einsum("...i->i", a)
    with pytest.raises(ValueError, match="names 3 axes"):
        mg.einsum("ijk->i", a)


def test_diagonal_tril_triu_match_numpy(device):
    data = np.arange(24.0).reshape(2, 3, 4)
    x = mg.tensor(data, device=device)
    for offset in (-2, 0, 1, 3):
        np.testing.assert_array_equal(mg.diagonal(x, offset, 1, 2).numpy(), np.diagonal(data, offset, 1, 2))
    np.testing.assert_array_equal(mg.tril(x, 1).numpy(), np.tril(data, 1))
    np.testing.assert_array_equal(mg.triu(x, -1).numpy(), np.triu(data, -1))
    np.testing.assert_array_equal(mg.repeat(x, 2, axis=-1).numpy(), np.repeat(data, 2, axis=-1))
    np.testing.assert_array_equal(mg.tile(x, 2).numpy(), np.tile(data, 2))
    np.testing.assert_array_equal(mg.roll(x, -1).numpy(), np.roll(data, -1))
    np.testing.assert_array_equal(mg.flip(x).numpy(), np.flip(data))


def test_creation_ops(device):
    assert mg.eye(2, 3, k=1, device=device).numpy().tolist() == [[0, 1, 0], [0, 0, 1]]
    np.testing.assert_allclose(mg.linspace(0, 1, 5, device=device).numpy(), np.linspace(0, 1, 5), rtol=1e-6)
    assert mg.arange(3, device=device).numpy().tolist() == [0, 1, 2]
    assert mg.full((2,), 7.0, device=device).numpy().tolist() == [7.0, 7.0]
    r = mg.randint(3, 6, size=(200,), device=device).numpy()
    assert r.min() >= 3 and r.max() <= 5 and set(r.tolist()) == {3, 4, 5}
    mg.manual_seed(1)
    a = mg.randint(100, size=5, device=device).numpy()
    mg.manual_seed(1)
    assert mg.randint(100, size=5, device=device).numpy().tolist() == a.tolist()


def test_keras_backend_names(device):
    x = mg.tensor(np.arange(6.0).reshape(2, 3), device=device)
    assert mg.shape(x) == (2, 3) and mg.int_shape(x) == (2, 3)
    assert mg.epsilon() == 1e-7
    assert mg.square(x).numpy().tolist() == (np.arange(6.0) ** 2).reshape(2, 3).tolist()
    assert mg.concatenate([x, x]).shape == (2, 6)
    assert mg.mean(x, axis=-1).numpy().tolist() == [1.0, 4.0]
    assert mg.sum(x, axis=-2).numpy().tolist() == [3.0, 5.0, 7.0]
    assert mg.max(x, axis=-1).numpy().tolist() == [2.0, 5.0] and mg.min(x, axis=-1).numpy().tolist() == [0.0, 3.0]
    assert mg.flatten(x).shape == (6,) and mg.clip(x, 1.0, 2.0).numpy().max() == 2.0
    n = mg.random_normal((4000,), mean=2.0, stddev=0.5, device=device).numpy()
    assert abs(n.mean() - 2.0) < 0.05 and abs(n.std() - 0.5) < 0.05 and n.dtype == np.float32
    u = mg.random_uniform((4000,), minval=-1.0, maxval=3.0, dtype="float64", device=device).numpy()
    assert -1.0 <= u.min() and u.max() < 3.0 and u.dtype == np.float64
    same = [mg.random_normal((3,), seed=7, device=device).numpy().tolist() for _ in range(2)]
    assert same[0] == same[1]
    assert mg.random_normal((3,), seed=7, device="cpu").numpy().tolist() == same[0]


# ----------------------------------------------------------------------------- issue 22: scans, flip, gather

def test_linear_scan_gradients_of_first_and_second_order(device):
    from minigrad.engine.ops.scan import LinearScan
    rng = np.random.default_rng(3)
    for reverse in (False, True):
        a, b = leaf(rng.normal(size=(2, 5)), device), leaf(rng.normal(size=(2, 5)), device)
        assert mg.gradcheck(lambda s, t: LinearScan.apply(s, t, reverse=reverse), a, b)
        assert mg.gradgradcheck(lambda s, t: LinearScan.apply(s, t, reverse=reverse), a, b)
    h = LinearScan.apply(mg.tensor(np.array([2.0, 3.0, 0.5])), mg.tensor(np.array([1.0, 1.0, 4.0])))
    assert h.numpy().tolist() == [1.0, 4.0, 6.0]          # 1; 1 + 3*1; 4 + 0.5*4


@pytest.mark.parametrize("op", [mg.cumprod, mg.logcumsumexp])
def test_scan_backward_memory_is_linear_in_the_length(op):
    """The old backwards built n x n weights: 352 MB at n = 3,000 (float64). Now O(n)."""
    x = mg.tensor(np.random.default_rng(0).uniform(0.5, 1.5, size=3000), requires_grad=True)
    tracemalloc.start()
    try:
        op(x).sum().backward()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3_000_000, f"{op.__name__} backward peaked at {peak / 1e6:.1f} MB for n = 3000"
    assert np.isfinite(x.grad.numpy()).all()


def test_logcumsumexp_gradient_with_infinities(device):
    """Checked against torch.logcumsumexp (float64): NaN where the weight e^(x_j - z_j) is inf-inf."""
    cases = {(-np.inf, -np.inf, 0.0): [np.nan, np.nan, 1.0], (0.0, np.inf, 1.0): [1.0, np.nan, 0.0],
             (5.0, -np.inf, 3.0): [2.880797077977882, 0.0, 0.11920292202211755]}
    for values, expected in cases.items():
        x = leaf(np.array(values), device)
        mg.logcumsumexp(x).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_cumprod_gradient_of_second_order_on_a_long_axis_with_zeros(device):
    values = np.array([[1.5, 0.0, 2.0, -1.0, 0.0, 0.5], [0.3, 1.2, -0.7, 2.0, 1.0, 0.0]])
    assert mg.gradgradcheck(lambda t: mg.cumprod(t, axis=1), leaf(values, device))
    assert mg.gradgradcheck(lambda t: mg.logcumsumexp(t, axis=1), leaf(values, device))


@pytest.mark.parametrize("op", [mg.cumsum, mg.cumprod, mg.logcumsumexp])
def test_scans_of_a_0d_tensor_take_axis_0_or_minus_1_only(op):
    x = mg.tensor(np.array(2.0))
    assert op(x, axis=0).shape == () and op(x, axis=-1).shape == ()
    assert op(x).shape == (1,)                # axis=None flattens first, as NumPy
    with pytest.raises(ValueError, match=rf"{op.__name__}: axis 1 is out of range for a 0-d tensor"):
        op(x, axis=1)


def test_flip_refuses_a_repeated_axis():
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    with pytest.raises(ValueError, match=r"flip: axis \(0, 0\) repeats an axis"):
        mg.flip(x, (0, 0))
    with pytest.raises(ValueError, match="repeats an axis"):
        mg.flip(x, (1, -1))
    assert mg.flip(x, (0, 1)).numpy().tolist() == [[5.0, 4.0, 3.0], [2.0, 1.0, 0.0]]


def test_gather_and_scatter_add_refuse_negative_indices_as_torch():
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    minus_one = np.array([[0, -1], [1, 2]])
    with pytest.raises(IndexError, match=r"gather: index -1 is out of range.*negative indices are refused"):
        mg.gather(x, 1, minus_one)
    with pytest.raises(IndexError, match=r"scatter_add: index -1 is out of range"):
        mg.scatter_add(x, 1, minus_one, mg.ones(2, 2))
    # NumPy's take_along_axis counts from the end, as NumPy does
    assert mg.take_along_axis(x, minus_one, 1).numpy().tolist() == [[0.0, 2.0], [4.0, 5.0]]
