"""Optimizers: each update rule against its formula written out in NumPy, over several steps.

The references below transcribe the Keras 3 update rules (keras/src/optimizers/*.py) one
line per formula; the optimizers compute the same numbers with in-place array ops.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad import optim

RNG = np.random.default_rng(7)
SHAPES = [(3, 2), (2,), ()]


class Param(mg.Tensor):
    """A Tensor that can carry a `trainable` flag, as the nn layers' Parameter does."""


def make_params(device, dtype="float64"):
    return [Param(RNG.normal(size=s), dtype=dtype, device=device, requires_grad=True) for s in SHAPES]


def grad_sequence(steps=5):
    return [[RNG.normal(size=s) for s in SHAPES] for _ in range(steps)]


def run(opt, params, grads, lrs=None):
    """Step `opt` through `grads` (a list per step); lrs optionally sets opt.lr before each step."""
    for k, step_grads in enumerate(grads):
        if lrs is not None:
            opt.lr = lrs[k]
        for p, g in zip(params, step_grads):
            p.grad = mg.tensor(g, dtype=p.dtype, device=p.device)
        opt.step()
    return [p.numpy() for p in params]


# ----------------------------------------------------------------------------- NumPy references

def ref_sgd(w, grads, lrs, momentum=0.0, nesterov=False, weight_decay=0.0):
    v = np.zeros_like(w)
    for g, lr in zip(grads, lrs):
        w = w - w * weight_decay * lr
        if momentum:
            v = momentum * v - lr * g
            w = w + (momentum * v - lr * g if nesterov else v)
        else:
            w = w - lr * g
    return w


def ref_rmsprop(w, grads, lrs, rho=0.9, eps=1e-7, momentum=0.0, centered=False, weight_decay=0.0):
    a, m, mean_g = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for g, lr in zip(grads, lrs):
        w = w - w * weight_decay * lr
        a = rho * a + (1 - rho) * g ** 2
        if centered:
            mean_g = rho * mean_g + (1 - rho) * g
            denominator = a - mean_g ** 2 + eps
        else:
            denominator = a + eps
        increment = lr * g / np.sqrt(denominator)
        if momentum:
            m = momentum * m + increment
            w = w - m
        else:
            w = w - increment
    return w


def ref_adam(w, grads, lrs, beta_1=0.9, beta_2=0.999, eps=1e-7, amsgrad=False, weight_decay=0.0):
    m, v, v_hat = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        w = w - w * weight_decay * lr
        alpha = lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        m = m + (g - m) * (1 - beta_1)
        v = v + (g ** 2 - v) * (1 - beta_2)
        if amsgrad:
            v_hat = np.maximum(v_hat, v)
        w = w - m * alpha / (np.sqrt(v_hat if amsgrad else v) + eps)
    return w


CASES = [
    ("sgd", optim.SGD, ref_sgd, dict(lr=0.1)),
    ("sgd-momentum", optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.9)),
    ("sgd-nesterov", optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.8, nesterov=True)),
    ("sgd-weight-decay", optim.SGD, ref_sgd, dict(lr=0.1, momentum=0.5, weight_decay=0.01)),
    ("rmsprop", optim.RMSprop, ref_rmsprop, dict(lr=0.01)),
    ("rmsprop-momentum-centered", optim.RMSprop, ref_rmsprop,
     dict(lr=0.01, rho=0.8, momentum=0.5, centered=True)),
    ("rmsprop-weight-decay", optim.RMSprop, ref_rmsprop, dict(lr=0.01, weight_decay=0.1, eps=1e-3)),
    ("adam", optim.Adam, ref_adam, dict(lr=0.01)),
    ("adam-gan", optim.Adam, ref_adam, dict(lr=2e-4, beta_1=0.5)),
    ("adam-amsgrad", optim.Adam, ref_adam, dict(lr=0.01, amsgrad=True)),
    ("adamw", optim.Adam, ref_adam, dict(lr=0.01, weight_decay=0.004)),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name, cls, ref, kwargs", CASES, ids=IDS)
def test_update_rule_matches_formula(device, name, cls, ref, kwargs):
    params = make_params(device)
    start = [p.numpy() for p in params]
    grads = grad_sequence(5)
    got = run(cls(params, **kwargs), params, grads)
    ref_kwargs = {k: v for k, v in kwargs.items() if k != "lr"}
    for i, (w0, w) in enumerate(zip(start, got)):
        expected = ref(w0, [g[i] for g in grads], [kwargs["lr"]] * len(grads), **ref_kwargs)
        np.testing.assert_allclose(w, expected, rtol=1e-12, atol=1e-14)
        assert not np.array_equal(w, w0)


@pytest.mark.parametrize("name, cls, ref, kwargs", CASES, ids=IDS)
def test_float32_parameters_follow_the_formula_and_stay_float32(device, name, cls, ref, kwargs):
    params = make_params(device, dtype="float32")
    start = [p.numpy().astype(np.float64) for p in params]
    grads = grad_sequence(4)
    opt = cls(params, **kwargs)
    lrs = [np.float64(kwargs["lr"]), kwargs["lr"], np.float64(kwargs["lr"]) / 2, kwargs["lr"]]
    got = run(opt, params, grads, lrs)                   # NumPy float64 learning rates, too
    for p in params:
        assert p.dtype == np.float32 and p.data.dtype == np.float32
    for state in opt.state_dict().values():
        assert state.dtype.kind != "f" or state.ndim == 0 or state.dtype == np.float32
    ref_kwargs = {k: v for k, v in kwargs.items() if k != "lr"}
    for i, (w0, w) in enumerate(zip(start, got)):
        expected = ref(w0, [g[i] for g in grads], [float(lr) for lr in lrs], **ref_kwargs)
        np.testing.assert_allclose(w, expected, rtol=2e-5, atol=2e-6)


def test_float64_gradients_do_not_widen_float32_parameters(device):
    p = Param(np.ones((2, 2)), dtype="float32", device=device, requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = mg.tensor(np.full((2, 2), 0.5), dtype="float64", device=device)
    opt.step()
    assert p.dtype == np.float32
    np.testing.assert_allclose(p.numpy(), 0.9, rtol=1e-6)


@pytest.mark.parametrize("name, cls, ref, kwargs", CASES, ids=IDS)
def test_changing_lr_between_steps_takes_effect(device, name, cls, ref, kwargs):
    params = make_params(device)
    start = [p.numpy() for p in params]
    grads = grad_sequence(4)
    lr = kwargs["lr"]
    lrs = [lr, lr, lr * 10, lr / 10]
    got = run(cls(params, **kwargs), params, grads, lrs)
    ref_kwargs = {k: v for k, v in kwargs.items() if k != "lr"}
    for i, (w0, w) in enumerate(zip(start, got)):
        np.testing.assert_allclose(w, ref(w0, [g[i] for g in grads], lrs, **ref_kwargs), rtol=1e-12, atol=1e-14)
        assert not np.allclose(w, ref(w0, [g[i] for g in grads], [lr] * 4, **ref_kwargs))


def test_keras_documentation_examples():
    # keras.optimizers.SGD / RMSprop / Adam docstrings: var = 1.0 or 10.0, loss = var**2 / 2
    for opt_cls, kwargs, start, after in [(optim.SGD, dict(learning_rate=0.1), 1.0, [0.9]),
                                          (optim.SGD, dict(learning_rate=0.1, momentum=0.9), 1.0, [0.9, 0.72]),
                                          (optim.RMSprop, dict(learning_rate=0.1), 10.0, [9.683772]),
                                          (optim.Adam, dict(learning_rate=0.1), 10.0, [9.9])]:
        var = mg.tensor([start], requires_grad=True)
        opt = opt_cls([var], **kwargs)
        for expected in after:
            opt.zero_grad()
            (var * var / 2).sum().backward()
            opt.step()
            assert var.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name, cls, ref, kwargs", CASES, ids=IDS)
def test_frozen_and_gradless_parameters_are_untouched(device, name, cls, ref, kwargs):
    frozen, no_grad, live = make_params(device, dtype="float32")
    frozen.trainable = False
    before_frozen, before_no_grad = frozen.numpy(), no_grad.numpy()
    opt = cls([frozen, no_grad, live], **kwargs)
    for _ in range(3):
        frozen.grad = mg.ones_like(frozen)
        no_grad.grad = None
        live.grad = mg.ones_like(live)
        opt.step()
    assert np.array_equal(frozen.numpy(), before_frozen)
    assert np.array_equal(no_grad.numpy(), before_no_grad)
    assert not np.array_equal(live.numpy(), before_frozen)
    assert "momentum.0" not in opt.state_dict() and "velocity.1" not in opt.state_dict()
    # unfreezing later trains it, from a fresh state
    frozen.trainable = True
    frozen.grad = mg.ones_like(frozen)
    opt.step()
    assert not np.array_equal(frozen.numpy(), before_frozen)


@pytest.mark.parametrize("name, cls, ref, kwargs", CASES, ids=IDS)
def test_state_dict_round_trip_resumes_bit_identically(device, name, cls, ref, kwargs, tmp_path):
    grads = grad_sequence(6)
    params = make_params(device, dtype="float32")
    start = [p.numpy() for p in params]
    straight = run(cls(params, **kwargs), params, grads)

    first = [Param(w, device=device, requires_grad=True) for w in start]
    opt = cls(first, **kwargs)
    run(opt, first, grads[:3])
    state = opt.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    np.savez(tmp_path / "opt.npz", **state)
    for v in state.values():                      # host copies: editing them changes nothing
        if v.dtype.kind == "f" and v.ndim:
            v[...] = 123.0

    resumed = [Param(p.numpy(), device=device, requires_grad=True) for p in first]
    opt2 = cls(resumed, **{**kwargs, "lr": 0.5})  # the saved lr wins, as every other setting
    with np.load(tmp_path / "opt.npz") as saved:
        opt2.load_state_dict(saved)
    assert opt2.iterations == 3 and opt2.lr == kwargs["lr"]
    got = run(opt2, resumed, grads[3:])
    continued = run(opt, first, grads[3:])
    for a, b, c in zip(straight, got, continued):
        assert np.array_equal(a, b) and np.array_equal(a, c)


def test_load_state_dict_checks_what_it_loads(device):
    params = make_params(device)
    opt = optim.Adam(params)
    run(opt, params, grad_sequence(1))
    state = opt.state_dict()
    with pytest.raises(ValueError, match="Adam.*not SGD|from a Adam"):
        optim.SGD(params).load_state_dict(state)
    with pytest.raises(ValueError, match="3 parameter"):
        optim.Adam(params[:2]).load_state_dict(state)
    other = [Param(RNG.normal(size=(2, 3)), device=device, requires_grad=True)] + params[1:]
    with pytest.raises(ValueError, match=r"momentum\.0.*\(3, 2\).*\(2, 3\)"):
        optim.Adam(other).load_state_dict(state)


def test_zero_grad_clears_gradients(device):
    params = make_params(device)
    opt = optim.SGD(params)
    for p in params:
        (p * p).sum().backward()
        assert p.grad is not None
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_params_can_be_bound_later_and_shared_ones_update_once(device):
    p = Param(np.ones(3), device=device, requires_grad=True)
    opt = optim.SGD(lr=0.1)
    with pytest.raises(RuntimeError, match="bind"):
        opt.step()
    opt.bind([p, p])                                 # a parameter shared by two layers
    p.grad = mg.ones_like(p)
    opt.step()
    np.testing.assert_allclose(p.numpy(), 0.9)
    opt.bind([p])                                    # compile() again: state kept
    assert opt.iterations == 1
    assert optim.get("adam").lr == 1e-3 and isinstance(optim.get("SGD"), optim.SGD)
    assert optim.get(opt, [p]) is opt
    with pytest.raises(ValueError, match="adagrad"):
        optim.get("adagrad")


def test_bad_hyperparameters_are_errors():
    with pytest.raises(ValueError, match="momentum"):
        optim.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="beta_1"):
        optim.Adam(beta_1=1.0)
    with pytest.raises(ValueError, match="rho"):
        optim.RMSprop(rho=-0.1)
    with pytest.raises(ValueError, match="weight_decay"):
        optim.Adam(weight_decay=-1)


def test_keras_argument_names_and_defaults():
    adam = optim.Adam(learning_rate=2e-4, beta_1=0.5, epsilon=1e-8)
    assert (adam.lr, adam.learning_rate, adam.beta_1, adam.beta_2, adam.eps) == (2e-4, 2e-4, 0.5, 0.999, 1e-8)
    rms = optim.RMSprop()
    assert (rms.lr, rms.rho, rms.eps, rms.momentum) == (1e-3, 0.9, 1e-7, 0.0)
    sgd = optim.SGD()
    assert (sgd.lr, sgd.momentum, sgd.nesterov) == (0.01, 0.0, False)
    sgd.learning_rate = 0.5
    assert sgd.lr == 0.5
    assert repr(adam).startswith("Adam(lr=0.0002")
