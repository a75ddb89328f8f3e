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


# ----------------------------------------------------------------------------- Keras' call styles

def test_keras_positional_order():
    adam = optim.Adam(0.0002, 0.5)                       # keras-gan's optimizer
    assert (adam.lr, adam.beta_1, adam.beta_2, adam.eps, adam.params) == (2e-4, 0.5, 0.999, 1e-7, [])
    sgd = optim.SGD(0.1, 0.9, True)
    assert (sgd.lr, sgd.momentum, sgd.nesterov) == (0.1, 0.9, True)
    rms = optim.RMSprop(0.01, 0.8, 0.5, 1e-6, True)      # Keras 3: rho, momentum, epsilon, centered
    assert (rms.lr, rms.rho, rms.momentum, rms.eps, rms.centered) == (0.01, 0.8, 0.5, 1e-6, True)
    assert optim.Adam(np.float32(0.5)).lr == 0.5 and optim.SGD(1).lr == 1.0


def test_parameters_first_still_works(device):
    params = make_params(device)
    for opt in (optim.Adam(params, 1e-2), optim.Adam(params, lr=1e-2), optim.Adam(params, learning_rate=1e-2),
                optim.Adam(iter(params), 1e-2, 0.5), optim.Adam({"a": params[0], "b": params[1]}, eps=1e-3)):
        assert opt.lr == 1e-2 or opt.eps == 1e-3
    assert optim.Adam(params[0]).params == [params[0]]
    assert optim.Adam(iter(params), 1e-2, 0.5).beta_1 == 0.5
    assert optim.RMSprop(params, 0.1, 0.7, 0.2).momentum == 0.2


def test_one_setting_given_twice_is_an_error():
    with pytest.raises(TypeError, match="lr.*learning_rate.*give one"):
        optim.Adam(lr=0.1, learning_rate=0.2)
    with pytest.raises(TypeError, match="both by position and by keyword"):
        optim.Adam(0.1, lr=0.2)
    with pytest.raises(TypeError, match="at most 6 settings"):
        optim.Adam(0.1, 0.9, 0.99, 1e-7, False, 0.0, 7)
    with pytest.raises(TypeError, match="parameters must be"):
        optim.SGD("adam")


def test_learning_rates_must_be_finite_and_non_negative():
    for bad in (float("nan"), float("inf"), -1e-3, np.float64("nan")):
        for cls in (optim.SGD, optim.RMSprop, optim.Adam):
            with pytest.raises(ValueError, match=f"{cls.__name__}: the learning rate must be a finite number >= 0"):
                cls(lr=bad)
    opt = optim.Adam(lr=1e-3)
    for bad in (float("nan"), -0.5):
        with pytest.raises(ValueError, match="finite number >= 0"):
            opt.lr = bad
        with pytest.raises(ValueError, match="finite number >= 0"):
            opt.learning_rate = bad
    assert opt.lr == 1e-3
    with pytest.raises(TypeError, match="must be a number"):
        opt.lr = "fast"
    opt.lr = 0                                           # zero is a valid (frozen) rate
    assert opt.lr == 0.0


def test_an_optimizer_over_no_parameters_says_to_build_first():
    dense = mg.nn.Dense(3)                               # not built: no weights yet
    with pytest.raises(ValueError, match=r"empty.*build it first.*input_shape=.*compile\(\)"):
        optim.Adam(dense.parameters())
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([])
    assert optim.Adam().params == []                     # no params at all: compile binds later


# ----------------------------------------------------------------------------- one optimizer, many models

def _two_sets(device):
    rng = np.random.default_rng(11)
    a = [Param(rng.normal(size=s), dtype="float32", device=device, requires_grad=True) for s in [(3, 2), (2,)]]
    b = [Param(rng.normal(size=s), dtype="float32", device=device, requires_grad=True) for s in [(4,), ()]]
    return a, b


def _set_grads(params, k):
    for j, p in enumerate(params):
        p.grad = mg.tensor(np.cos(np.arange(p.size) + 3 * k + j).reshape(p.shape), dtype=p.dtype, device=p.device)


@pytest.mark.parametrize("cls, kwargs", [(optim.Adam, dict(lr=0.01, beta_1=0.5)),
                                         (optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
                                         (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True))],
                         ids=["adam", "rmsprop", "sgd"])
def test_a_shared_optimizer_equals_one_per_parameter_set(device, cls, kwargs):
    a, b = _two_sets(device)
    a2, b2 = [Param(p.numpy(), dtype="float32", device=device, requires_grad=True) for p in a], \
        [Param(p.numpy(), dtype="float32", device=device, requires_grad=True) for p in b]
    shared = cls(**kwargs)
    only_a, only_b = cls(a2, **kwargs), cls(b2, **kwargs)
    for k in range(5):                                   # D, G, G, D, ...: uneven on purpose
        for params, params2, alone in ([(a, a2, only_a)] if k % 3 else [(a, a2, only_a), (b, b2, only_b)]):
            _set_grads(params, k)
            _set_grads(params2, k)
            _set_grads(b if params is a else a, k + 100)  # the other set has stale grads: untouched
            untouched = [p.numpy() for p in (b if params is a else a)]
            shared.step(params)
            alone.step()
            assert all(np.array_equal(u, p.numpy()) for u, p in zip(untouched, b if params is a else a))
    for p, q in zip(a + b, a2 + b2):
        assert np.array_equal(p.numpy(), q.numpy())
    assert shared.iterations == 7 and only_a.iterations == 5 and only_b.iterations == 2


def test_adam_bias_correction_counts_each_parameters_own_steps(device):
    a, b = _two_sets(device)
    opt = optim.Adam(a + b, lr=0.01)
    start = a[0].numpy().astype(np.float64)
    grads = []
    for k in range(6):
        _set_grads(a + b, k)
        if k % 2:
            a[0].grad = None                             # a[0] takes every other step only
        else:
            grads.append(a[0].grad.numpy().astype(np.float64))
        opt.step()
    expected = ref_adam(start, grads, [0.01] * len(grads))   # t = 1, 2, 3 for a[0], not 1, 3, 5
    np.testing.assert_allclose(a[0].numpy(), expected, rtol=2e-5, atol=2e-6)
    assert opt.state_dict()["step.0"] == 3 and opt.state_dict()["step.1"] == 6


def test_binding_other_parameters_keeps_everyones_state(device):
    a, b = _two_sets(device)
    opt = optim.Adam(lr=0.05)
    reference = optim.Adam(lr=0.05)
    a2 = [Param(p.numpy(), dtype="float32", device=device, requires_grad=True) for p in a]
    for k, params in enumerate([a, b, a, a]):
        opt.bind(params)                                 # compile() of model A, then model B, ...
        _set_grads(params, k)
        opt.step()
        if params is a:
            _set_grads(a2, k)
            reference.step(a2)
    for p, q in zip(a, a2):
        assert np.array_equal(p.numpy(), q.numpy())


def test_state_dict_of_some_parameters_only(device, tmp_path):
    a, b = _two_sets(device)
    opt = optim.Adam(a + b, lr=0.05)
    for k in range(3):
        _set_grads(a + b, k)
        opt.step()
    state = opt.state_dict(params=a)
    assert int(state["num_params"]) == 2 and {"momentum.0", "momentum.1", "step.1"} <= set(state)
    assert "momentum.2" not in state
    np.savez(tmp_path / "a.npz", **state)
    copies = [Param(p.numpy(), dtype="float32", device=device, requires_grad=True) for p in a]
    resumed = optim.Adam(copies, lr=0.5)
    with np.load(tmp_path / "a.npz") as saved:
        resumed.load_state_dict(saved)
    assert resumed.lr == 0.05
    _set_grads(a, 9)
    _set_grads(copies, 9)
    opt.step(a)
    resumed.step()
    for p, q in zip(a, copies):
        assert np.array_equal(p.numpy(), q.numpy())
    with pytest.raises(ValueError, match="2 parameter"):
        optim.Adam(b[:1]).load_state_dict(state)
    with pytest.raises(ValueError, match="2 parameter"):
        optim.Adam().check_state_dict(state, params=b[:1])


def test_step_with_params_needs_no_binding_and_a_step_counts_as_a_new_version(device):
    p = Param(np.ones(3), device=device, requires_grad=True)
    opt = optim.SGD(lr=0.5)
    p.grad = mg.ones_like(p)
    before = p.version
    opt.step([p])
    np.testing.assert_allclose(p.numpy(), 0.5)
    assert p.version == before + 1
