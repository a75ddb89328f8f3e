"""Losses: values against plain NumPy, gradients against finite differences, stability.

Every check that takes the `device` fixture runs on the CPU, on the 'strict' stand-in
(which refuses NumPy calls on device data) and on CUDA where there is one.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
import minigrad.losses as L

from .conftest import to_device

EPS = 1e-7
REDUCTIONS = ("mean", "sum", "none")


# ----------------------------------------------------------------------------- NumPy references

def _per_sample_mean(values):
    return values.reshape(values.shape[0], -1).mean(axis=1) if values.ndim > 1 else values


def _reduce(per_sample, reduction):
    return {"mean": per_sample.mean(), "sum": per_sample.sum(), "none": per_sample}[reduction]


def ref_mse(t, p, reduction="mean"):
    return _reduce(_per_sample_mean((t - p) ** 2), reduction)


def ref_bce(t, p, reduction="mean"):
    p = np.clip(p, EPS, 1 - EPS)
    return _reduce(_per_sample_mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))), reduction)


def ref_bce_logits(t, z, reduction="mean"):
    """The naive formula: fine for moderate logits only."""
    p = 1 / (1 + np.exp(-z))
    return _reduce(_per_sample_mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))), reduction)


def ref_log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def ref_cce(t, p, from_logits, reduction="mean"):
    if from_logits:
        logp = ref_log_softmax(p)
    else:
        logp = np.log(np.clip(p / p.sum(axis=-1, keepdims=True), EPS, 1 - EPS))
    return _reduce(-(t * logp).sum(axis=-1), reduction)


def ref_kl(p, q, reduction="mean"):
    q = np.clip(q, EPS, 1)
    terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1) / q), 0.0)
    return _reduce(terms.sum(axis=-1), reduction)


def ref_gaussian_kl(mu, logvar, reduction="mean"):
    return _reduce(-0.5 * (1 + logvar - mu ** 2 - np.exp(logvar)).sum(axis=1), reduction)


# ----------------------------------------------------------------------------- strategies

def floats(low, high):
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


@st.composite
def batch(draw, low=-3.0, high=3.0, min_classes=1, max_classes=4):
    """A (N, D) float64 array, N in 1..3."""
    shape = (draw(st.integers(1, 3)), draw(st.integers(min_classes, max_classes)))
    return draw(hnp.arrays(np.float64, shape, elements=floats(low, high)))


@st.composite
def pair(draw, low_t=0.0, high_t=1.0, low_p=-3.0, high_p=3.0, max_classes=4):
    """(y_true, y_pred) of one shape (N, D)."""
    p = draw(batch(low_p, high_p, max_classes=max_classes))
    t = draw(hnp.arrays(np.float64, p.shape, elements=floats(low_t, high_t)))
    return t, p


def distributions(draw, shape, low=0.05):
    raw = draw(hnp.arrays(np.float64, shape, elements=floats(low, 1.0)))
    raw = raw + (raw.sum(axis=-1, keepdims=True) == 0)      # an all-zero row becomes uniform
    return raw / raw.sum(axis=-1, keepdims=True)


@st.composite
def class_pair(draw, min_classes=2):
    """(one-hot-ish target distribution, logits) of shape (N, C)."""
    z = draw(batch(-4.0, 4.0, min_classes=min_classes))
    return distributions(draw, z.shape, low=0.0) if draw(st.booleans()) else _one_hot(draw, z.shape), z


def _one_hot(draw, shape):
    labels = draw(hnp.arrays(np.int64, shape[:1], elements=st.integers(0, shape[1] - 1)))
    return np.eye(shape[1])[labels]


def _allclose(a, b, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), b, rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------- values vs NumPy

def test_values_match_numpy_reference(device):
    @given(pair(low_p=0.0, high_p=1.0), st.sampled_from(REDUCTIONS))
    def check(tp, reduction):
        t, p = tp
        P = to_device(p, device)
        _allclose(L.mean_squared_error(t, P, reduction=reduction).numpy(), ref_mse(t, p, reduction))
        _allclose(L.mse(t, P, reduction=reduction).numpy(), ref_mse(t, p, reduction))
        _allclose(L.binary_crossentropy(t, P, reduction=reduction).numpy(), ref_bce(t, p, reduction))
        _allclose(L.mean_absolute_error(t, P, reduction=reduction).numpy(),
                  _reduce(_per_sample_mean(np.abs(t - p)), reduction))
    check()


def test_crossentropies_match_numpy_reference(device):
    @given(class_pair(), st.sampled_from(REDUCTIONS), st.data())
    def check(tz, reduction, data):
        t, z = tz
        Z = to_device(z, device)
        _allclose(L.categorical_crossentropy(t, Z, from_logits=True, reduction=reduction).numpy(),
                  ref_cce(t, z, True, reduction))
        probs = distributions(data.draw, z.shape) * data.draw(floats(0.5, 2.0))   # unnormalised is fine
        _allclose(L.categorical_crossentropy(t, to_device(probs, device), reduction=reduction).numpy(),
                  ref_cce(t, probs, False, reduction))
        q = distributions(data.draw, z.shape)
        _allclose(L.kl_divergence(t, to_device(q, device), reduction=reduction).numpy(),
                  ref_kl(t, q, reduction))
    check()


def test_gaussian_kl_matches_numpy_reference(device):
    @given(batch(-3.0, 3.0), st.data(), st.sampled_from(REDUCTIONS))
    def check(mu, data, reduction):
        logvar = data.draw(hnp.arrays(np.float64, mu.shape, elements=floats(-4.0, 4.0)))
        got = L.gaussian_kl(to_device(mu, device), to_device(logvar, device), reduction=reduction)
        _allclose(got.numpy(), ref_gaussian_kl(mu, logvar, reduction))
    check()


def test_values_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 1, (4, 3))
    z = rng.normal(0, 3, (4, 3))
    p = 1 / (1 + np.exp(-z))
    tt, zz, pp = (torch.tensor(a) for a in (t, z, p))
    _allclose(L.mse(t, mg.tensor(z)).numpy(), torch.nn.functional.mse_loss(zz, tt).item())
    _allclose(L.binary_crossentropy(t, mg.tensor(z), from_logits=True).numpy(),
              torch.nn.functional.binary_cross_entropy_with_logits(zz, tt).item())
    _allclose(L.binary_crossentropy(t, mg.tensor(p)).numpy(),
              torch.nn.functional.binary_cross_entropy(pp, tt).item(), rtol=1e-6)
    labels = rng.integers(0, 3, 4)
    _allclose(L.sparse_categorical_crossentropy(labels, mg.tensor(z), from_logits=True).numpy(),
              torch.nn.functional.cross_entropy(zz, torch.tensor(labels)).item())
    q = np.exp(ref_log_softmax(z))
    target = np.exp(ref_log_softmax(rng.normal(size=(4, 3))))
    _allclose(L.kl_divergence(target, mg.tensor(q), reduction="sum").numpy(),
              torch.nn.functional.kl_div(torch.tensor(np.log(q)), torch.tensor(target),
                                         reduction="sum").item(), rtol=1e-6)


# ----------------------------------------------------------------------------- gradients

def test_gradients_pass_gradcheck(device):
    @given(pair(low_p=0.05, high_p=0.95), st.sampled_from(REDUCTIONS))
    def check(tp, reduction):
        t, p = tp
        T, P = to_device(t, device, True), to_device(p, device, True)
        z = to_device(np.log(p / (1 - p)) * 3, device, True)
        assert mg.gradcheck(lambda a, b: L.mse(a, b, reduction=reduction), T, P)
        assert mg.gradcheck(lambda a, b: L.mean_absolute_error(a, b, reduction=reduction), T,
                            to_device(t + np.where(p < 0.5, -0.3, 0.3), device, True))
        assert mg.gradcheck(lambda a, b: L.binary_crossentropy(a, b, reduction=reduction), T, P)
        assert mg.gradcheck(lambda a, b: L.binary_crossentropy(a, b, from_logits=True, reduction=reduction),
                            T, z)
    check()


def test_classification_gradients_pass_gradcheck(device):
    @given(class_pair(), st.sampled_from(REDUCTIONS), st.data())
    def check(tz, reduction, data):
        t, z = tz
        T, Z = to_device(t, device, True), to_device(z, device, True)
        assert mg.gradcheck(lambda a, b: L.categorical_crossentropy(a, b, from_logits=True,
                                                                    reduction=reduction), T, Z)
        probs = to_device(distributions(data.draw, z.shape), device, True)
        assert mg.gradcheck(lambda a, b: L.categorical_crossentropy(a, b, reduction=reduction), T, probs)
        labels = t.argmax(axis=1)
        assert mg.gradcheck(lambda b: L.sparse_categorical_crossentropy(labels, b, from_logits=True,
                                                                        reduction=reduction), Z)
        p = to_device(distributions(data.draw, z.shape), device, True)
        assert mg.gradcheck(lambda a, b: L.kl_divergence(a, b, reduction=reduction), p, probs)
    check()


def test_gaussian_kl_gradients_pass_gradcheck(device):
    @given(batch(-2.0, 2.0), st.data(), st.sampled_from(REDUCTIONS))
    def check(mu, data, reduction):
        logvar = data.draw(hnp.arrays(np.float64, mu.shape, elements=floats(-3.0, 3.0)))
        assert mg.gradcheck(lambda m, lv: L.gaussian_kl(m, lv, reduction=reduction),
                            to_device(mu, device, True), to_device(logvar, device, True))
    check()


def test_fused_bce_nodes_have_second_derivatives(device):
    rng = np.random.default_rng(3)
    t = to_device(rng.uniform(0, 1, (2, 3)), device, True)
    assert mg.gradgradcheck(lambda a, b: L.binary_crossentropy(a, b, from_logits=True), t,
                            to_device(rng.normal(0, 2, (2, 3)), device, True))
    assert mg.gradgradcheck(lambda a, b: L.binary_crossentropy(a, b), t,
                            to_device(rng.uniform(0.1, 0.9, (2, 3)), device, True))


# ----------------------------------------------------------------------------- stability properties

def test_bce_with_logits_equals_naive_formula_where_safe(device):
    @given(pair(low_p=-15.0, high_p=15.0), st.sampled_from(REDUCTIONS))
    def check(tz, reduction):
        t, z = tz
        got = L.binary_crossentropy(t, to_device(z, device), from_logits=True, reduction=reduction)
        _allclose(got.numpy(), ref_bce_logits(t, z, reduction), rtol=1e-9, atol=1e-12)
    check()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bce_with_logits_is_finite_for_huge_logits(device, dtype):
    z = np.array([[-1000.0, -100.0, -1e30, 0.0], [1000.0, 100.0, 1e30, 3.0]])
    t = np.array([[1.0, 0.0, 1.0, 0.5], [0.0, 1.0, 0.0, 1.0]])
    Z = mg.tensor(z, dtype=dtype, device=device, requires_grad=True)
    with np.errstate(all="raise"):
        loss = L.binary_crossentropy(t, Z, from_logits=True, reduction="none")
        loss.sum().backward()
    values, grad = loss.numpy(), Z.grad.numpy()
    assert values.dtype == dtype and grad.dtype == dtype
    assert np.isfinite(values).all() and np.isfinite(grad).all()
    # z = -1000 with target 1 costs 1000/4 per element averaged over 4 columns; z = 1000, t = 0 likewise
    np.testing.assert_allclose(values[0], (1000 + 0 + 1e30 + np.log(2)) / 4, rtol=1e-6)
    # d/dz = (sigmoid(z) - y) / 4
    np.testing.assert_allclose(grad, (np.array([[0, 0, 0, 0.5], [1, 1, 1, 1 / (1 + np.exp(-3))]]) - t) / 4,
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bce_probabilities_exactly_zero_and_one_are_finite(device, dtype):
    p = mg.tensor([[0.0, 1.0, 0.0, 1.0, 0.5]], dtype=dtype, device=device, requires_grad=True)
    t = np.array([[0.0, 1.0, 1.0, 0.0, 1.0]])
    with np.errstate(all="raise"):
        loss = L.binary_crossentropy(t, p)
        loss.backward()
    assert loss.dtype == dtype and p.grad.dtype == dtype
    assert np.isfinite(loss.item()) and np.isfinite(p.grad.numpy()).all()
    # the confidently wrong predictions cost about -log(1e-7) each, like Keras (whose clip
    # bounds are rounded to the input's dtype too: 1 - 1e-7 is 1 - 1.19e-7 in float32)
    low, high = np.array([1e-7, 1 - 1e-7], dtype=dtype).astype(np.float64)
    np.testing.assert_allclose(loss.item(), (-np.log(low) - np.log1p(-high) + np.log(2)) / 5, rtol=1e-5)
    assert loss.item() == pytest.approx((2 * -np.log(1e-7) + np.log(2)) / 5, rel=1e-2)
    for fn in (lambda y, q: L.categorical_crossentropy(y, q), lambda y, q: L.kl_divergence(y, q)):
        q = mg.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=dtype, device=device, requires_grad=True)
        with np.errstate(all="raise"):
            out = fn(np.array([[1.0, 0.0], [0.0, 1.0]]), q)
            out.backward()
        assert np.isfinite(out.item()) and np.isfinite(q.grad.numpy()).all()


def test_kl_divergence_is_nonnegative_and_zero_for_equal_distributions(device):
    @given(st.data())
    def check(data):
        shape = (data.draw(st.integers(1, 3)), data.draw(st.integers(2, 4)))
        p = distributions(data.draw, shape, low=0.0)           # zero target probabilities allowed
        p = np.where(p < 1e-3, 0.0, p)                         # and none below q's clip at 1e-7
        p = p / p.sum(axis=-1, keepdims=True)
        q = distributions(data.draw, shape)
        kl = L.kl_divergence(p, to_device(q, device), reduction="none").numpy()
        assert (kl >= -1e-12).all()
        same = L.kl_divergence(p, to_device(np.where(p > 0, p, 0.5), device), reduction="none").numpy()
        np.testing.assert_allclose(same, 0.0, atol=1e-12)     # 0 log 0 = 0 exactly, no epsilon
    check()


def test_gaussian_kl_is_nonnegative_with_equality_at_the_prior(device):
    @given(batch(-5.0, 5.0), st.data())
    def check(mu, data):
        logvar = data.draw(hnp.arrays(np.float64, mu.shape, elements=floats(-10.0, 10.0)))
        kl = L.gaussian_kl(to_device(mu, device), to_device(logvar, device), reduction="none").numpy()
        assert kl.shape == (mu.shape[0],) and (kl >= 0).all()
    check()
    # near the prior the textbook 1 + v - e^v cancels; this one came out at -5.6e-17
    tiny = L.gaussian_kl(to_device([[0.0]], device), to_device([[-1.68817754e-09]], device), reduction="none")
    assert tiny.numpy()[0] >= 0
    zero = L.gaussian_kl(mg.zeros(4, 3, device=device), mg.zeros(4, 3, device=device), reduction="none")
    assert zero.dtype == np.float32 and (zero.numpy() == 0).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gaussian_kl_is_finite_for_log_variance_in_range(device, dtype):
    logvar = np.linspace(-30, 30, 13).reshape(1, 13)
    mu = mg.tensor(np.full((1, 13), 3.0), dtype=dtype, device=device, requires_grad=True)
    lv = mg.tensor(logvar, dtype=dtype, device=device, requires_grad=True)
    with np.errstate(all="raise"):
        loss = L.gaussian_kl(mu, lv)
        loss.backward()
    assert loss.dtype == dtype
    assert np.isfinite(loss.item()) and np.isfinite(lv.grad.numpy()).all() and np.isfinite(mu.grad.numpy()).all()
    np.testing.assert_allclose(loss.item(), ref_gaussian_kl(np.full((1, 13), 3.0), logvar), rtol=1e-6)


def test_softmax_crossentropy_unchanged_by_shifting_logits(device):
    @given(class_pair(), floats(-50.0, 50.0))
    def check(tz, shift):
        t, z = tz
        base = L.categorical_crossentropy(t, to_device(z, device), from_logits=True, reduction="none")
        moved = L.categorical_crossentropy(t, to_device(z + shift, device), from_logits=True, reduction="none")
        np.testing.assert_allclose(moved.numpy(), base.numpy(), rtol=1e-9, atol=1e-9)
    check()


def test_sparse_crossentropy_equals_crossentropy_with_one_hot(device):
    @given(class_pair(), st.booleans(), st.sampled_from(REDUCTIONS), st.data())
    def check(tz, from_logits, reduction, data):
        _, z = tz
        labels = data.draw(hnp.arrays(np.int64, z.shape[:1], elements=st.integers(0, z.shape[1] - 1)))
        y_pred = z if from_logits else np.exp(ref_log_softmax(z))
        dense = L.categorical_crossentropy(np.eye(z.shape[1])[labels], to_device(y_pred, device),
                                           from_logits=from_logits, reduction=reduction)
        for form in (labels, labels.reshape(-1, 1), labels.astype(np.float64),
                     mg.tensor(labels, device=device)):
            sparse = L.sparse_categorical_crossentropy(form, to_device(y_pred, device),
                                                       from_logits=from_logits, reduction=reduction)
            np.testing.assert_allclose(sparse.numpy(), dense.numpy(), rtol=1e-12, atol=1e-12)
    check()


def test_reductions_are_consistent(device):
    @given(pair(low_p=0.05, high_p=0.95), st.sampled_from(["mse", "bce", "bce_logits", "cce", "kl", "gkl"]))
    def check(tp, which):
        t, p = tp
        fn = {"mse": L.mse, "bce": L.binary_crossentropy,
              "bce_logits": lambda a, b, **k: L.binary_crossentropy(a, b, from_logits=True, **k),
              "cce": L.categorical_crossentropy, "kl": L.kl_divergence, "gkl": L.gaussian_kl}[which]
        P = to_device(p, device)
        per = fn(t, P, reduction="none").numpy()
        assert per.shape == (p.shape[0],)
        np.testing.assert_allclose(fn(t, P).numpy(), per.mean(), rtol=1e-12)
        np.testing.assert_allclose(fn(t, P, reduction="mean").numpy(), per.mean(), rtol=1e-12)
        np.testing.assert_allclose(fn(t, P, reduction="sum").numpy(), per.sum(), rtol=1e-12)
    check()


def test_none_reduction_of_images_gives_one_loss_per_sample(device):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 0.9, (3, 1, 4, 4))
    y = rng.uniform(0, 1, (3, 1, 4, 4))
    per = L.binary_crossentropy(y, to_device(x, device), reduction="none").numpy()
    assert per.shape == (3,)
    _allclose(per, ref_bce(y, x, "none"))
    _allclose(L.binary_crossentropy(y, to_device(x, device), reduction="sum").numpy(), per.sum())


# ----------------------------------------------------------------------------- shapes, dtypes, names

@pytest.mark.parametrize("fn", [L.mse, L.binary_crossentropy, L.categorical_crossentropy, L.kl_divergence,
                                L.mean_absolute_error])
def test_shape_mismatch_is_a_clear_error(device, fn):
    p = mg.full((4, 3), 0.5, device=device)
    for bad in (np.zeros((4, 2)), np.zeros((3, 3)), np.zeros((4,)), np.zeros((4, 3, 1, 1))):
        with pytest.raises(ValueError) as info:
            fn(bad, p)
        message = str(info.value)
        assert fn.__name__ in message and str(bad.shape) in message and "(4, 3)" in message


def test_column_targets_are_reshaped_not_broadcast(device):
    y = np.array([0.0, 1.0, 1.0, 0.0])
    pred = mg.tensor([[0.2], [0.7], [0.9], [0.4]], device=device)
    expected = L.mse(y.reshape(-1, 1), pred).item()
    assert L.mse(y, pred).item() == pytest.approx(expected)           # Keras' rank rule
    assert L.mse(y.reshape(-1, 1), mg.tensor([0.2, 0.7, 0.9, 0.4], device=device)).item() == \
        pytest.approx(expected)
    assert L.mse(y, pred, reduction="none").shape == (4,)
    assert L.binary_crossentropy(y, pred, reduction="none").shape == (4,)
    broadcast_by_mistake = np.mean((y[None, :] - pred.numpy()) ** 2)
    assert expected != pytest.approx(broadcast_by_mistake)


def test_gaussian_kl_shape_mismatch(device):
    with pytest.raises(ValueError, match=r"gaussian_kl.*\(4, 2\).*\(4, 3\)"):
        L.gaussian_kl(mg.zeros(4, 2, device=device), mg.zeros(4, 3, device=device))


def test_sparse_labels_are_checked(device):
    logits = mg.zeros(3, 4, device=device)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        L.sparse_categorical_crossentropy([0, 4, 1], logits, from_logits=True)
    with pytest.raises(ValueError, match="integer"):
        L.sparse_categorical_crossentropy([0.5, 1, 1], logits)
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(3,\)"):
        L.sparse_categorical_crossentropy(np.zeros((3, 4), dtype=int), logits)


def test_bad_reduction_is_an_error():
    with pytest.raises(ValueError, match="reduction"):
        L.mse([1.0], mg.tensor([1.0]), reduction="average")


def test_float32_predictions_give_float32_losses_and_gradients(device):
    rng = np.random.default_rng(1)
    p = mg.tensor(rng.uniform(0.1, 0.9, (4, 3)), dtype="float32", device=device, requires_grad=True)
    t = rng.uniform(0, 1, (4, 3))                    # float64 targets never upcast the loss
    labels = np.array([0, 2, 1, 1])
    for loss in (L.mse(t, p), L.binary_crossentropy(t, p), L.binary_crossentropy(t, p, from_logits=True),
                 L.categorical_crossentropy(t, p), L.categorical_crossentropy(t, p, from_logits=True),
                 L.sparse_categorical_crossentropy(labels, p), L.kl_divergence(t, p),
                 L.gaussian_kl(p, p), L.binary_crossentropy(t, p, label_smoothing=0.1)):
        assert loss.dtype == np.float32 and loss.shape == ()
        p.grad = None
        loss.backward()
        assert p.grad.dtype == np.float32


def test_label_smoothing_follows_keras():
    t = np.array([[1.0, 0.0]])
    p = np.array([[0.8, 0.3]])
    smooth = t * 0.8 + 0.1
    _allclose(L.binary_crossentropy(t, mg.tensor(p), label_smoothing=0.2).numpy(), ref_bce(smooth, p))
    z = np.array([[2.0, -1.0, 0.5]])
    t3 = np.array([[0.0, 1.0, 0.0]])
    _allclose(L.categorical_crossentropy(t3, mg.tensor(z), from_logits=True, label_smoothing=0.3).numpy(),
              ref_cce(t3 * 0.7 + 0.1, z, True))


def test_get_resolves_keras_names_and_callables():
    assert L.get("mse") is L.mean_squared_error
    assert L.get("mean_squared_error") is L.mean_squared_error
    assert L.get("binary_crossentropy") is L.binary_crossentropy
    assert L.get("categorical_crossentropy") is L.categorical_crossentropy
    assert L.get("sparse_categorical_crossentropy") is L.sparse_categorical_crossentropy
    assert L.get("kl_divergence") is L.kl_divergence
    custom = L.BinaryCrossentropy(from_logits=True)
    assert L.get(custom) is custom
    with pytest.raises(ValueError, match="mean_squared_error"):
        L.get("mean_squared_eror")
    with pytest.raises(TypeError):
        L.get(3)


def test_loss_classes_bind_their_settings():
    rng = np.random.default_rng(2)
    t, z = rng.uniform(0, 1, (3, 2)), rng.normal(size=(3, 2))
    bce = L.BinaryCrossentropy(from_logits=True, reduction="sum")
    _allclose(bce(t, mg.tensor(z)).numpy(), ref_bce_logits(t, z, "sum"))
    assert "from_logits=True" in repr(bce)
    labels = np.array([0, 1, 1])
    _allclose(L.SparseCategoricalCrossentropy(from_logits=True)(labels, mg.tensor(z)).numpy(),
              ref_cce(np.eye(2)[labels], z, True))
    _allclose(L.MeanSquaredError()(t, mg.tensor(z)).numpy(), ref_mse(t, z))
