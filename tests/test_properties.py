"""The engine's robustness properties, one test each (numbered as in the engine issue).

Op-by-op hypothesis checks live in test_elementwise.py, test_reduce.py, test_movement.py,
test_linalg.py and test_conv.py; this file pins the properties the whole engine promises.
"""
import os
import sys
import tracemalloc
import weakref

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import minigrad.functional as F
from minigrad import losses
from minigrad import backend
from minigrad.function import Function, xp_of

from .conftest import to_device

RNG = np.random.default_rng(1234)


def rand(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, size=shape)


def positive(*shape):
    return RNG.uniform(0.5, 2.0, size=shape)


# Every op of the engine, as (name, function, input arrays). Inputs stay away from kinks.
def _away_from_zero(*shape):
    x = rand(*shape)
    return np.where(np.abs(x) < 0.2, 0.5, x)


OPS = [
    ("add", lambda a, b: a + b, [rand(2, 3), rand(3)]),
    ("sub", lambda a, b: a - b, [rand(2, 1), rand(2, 3)]),
    ("mul", lambda a, b: a * b, [rand(2, 3), rand(1, 3)]),
    ("div", lambda a, b: a / b, [rand(2, 3), positive(3)]),
    ("neg", lambda a: -a, [rand(2, 3)]),
    ("pow", lambda a, b: a ** b, [positive(2, 3), rand(2, 3)]),
    ("pow_scalar", lambda a: a ** 3, [rand(2, 3)]),
    ("exp", lambda a: a.exp(), [rand(2, 3)]),
    ("expm1", lambda a: mg.expm1(a), [rand(2, 3)]),
    ("log", lambda a: a.log(), [positive(2, 3)]),
    ("sqrt", lambda a: a.sqrt(), [positive(2, 3)]),
    ("abs", lambda a: a.abs(), [_away_from_zero(2, 3)]),
    ("maximum", lambda a, b: mg.maximum(a, b), [rand(2, 3), rand(2, 3) + 5]),
    ("minimum", lambda a, b: mg.minimum(a, b), [rand(2, 3), rand(2, 3) + 5]),
    ("clip", lambda a: a.clip(-0.5, 0.5), [_away_from_zero(2, 3)]),
    ("where", lambda a, b: mg.where(a.detach() > 0, a, b), [rand(2, 3), rand(2, 3)]),
    ("relu", lambda a: F.relu(a), [_away_from_zero(2, 3)]),
    ("leaky_relu", lambda a: F.leaky_relu(a, 0.2), [_away_from_zero(2, 3)]),
    ("sigmoid", lambda a: F.sigmoid(a), [rand(2, 3)]),
    ("tanh", lambda a: F.tanh(a), [rand(2, 3)]),
    ("softplus", lambda a: F.softplus(a), [rand(2, 3)]),
    ("sum", lambda a: a.sum(axis=1), [rand(2, 3)]),
    ("mean", lambda a: a.mean(axis=0, keepdims=True), [rand(2, 3)]),
    ("max", lambda a: a.max(axis=1), [rand(2, 3)]),
    ("min", lambda a: a.min(), [rand(2, 3)]),
    ("var", lambda a: a.var(axis=1), [rand(2, 3)]),
    ("std", lambda a: a.std(), [rand(2, 3)]),
    ("logsumexp", lambda a: a.logsumexp(axis=0), [rand(2, 3)]),
    ("softmax", lambda a: F.softmax(a, axis=0), [rand(2, 3)]),
    ("log_softmax", lambda a: F.log_softmax(a), [rand(2, 3)]),
    ("reshape", lambda a: a.reshape(3, 2), [rand(2, 3)]),
    ("transpose", lambda a: a.transpose(1, 2, 0), [rand(2, 3, 2)]),
    ("flatten", lambda a: a.flatten(1), [rand(2, 3, 2)]),
    ("getitem", lambda a: a[[0, 0, 1], 1:], [rand(2, 3)]),
    ("broadcast_to", lambda a: a.broadcast_to((2, 2, 3)), [rand(1, 3)]),
    ("concat", lambda a, b: mg.concat([a, b], axis=1), [rand(2, 3), rand(2, 1)]),
    ("stack", lambda a, b: mg.stack([a, b], axis=1), [rand(2, 3), rand(2, 3)]),
    ("pad", lambda a: mg.pad(a, ((1, 0), (0, 2))), [rand(2, 3)]),
    ("matmul", lambda a, b: a @ b, [rand(2, 2, 3), rand(3, 4)]),
    ("matvec", lambda a, b: a @ b, [rand(2, 3), rand(3)]),
    ("linear", lambda x, w, b: F.linear(x, w, b), [rand(3, 4), rand(4, 2), rand(2)]),
    ("bce_logits", lambda z, t: losses.binary_crossentropy(t, z, from_logits=True),
     [rand(3, 2), RNG.uniform(0.1, 0.9, size=(3, 2))]),
    ("bce_probs", lambda p, t: losses.binary_crossentropy(t, p),
     [RNG.uniform(0.1, 0.9, size=(3, 2)), RNG.uniform(0.1, 0.9, size=(3, 2))]),
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), [rand(1, 2, 5, 5), rand(3, 2, 3, 3), rand(3)]),
    ("conv_transpose2d", lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
     [rand(1, 2, 3, 3), rand(2, 3, 3, 3)]),
    ("max_pool2d", lambda x: F.max_pool2d(x, 2), [rand(1, 2, 4, 4)]),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 2), [rand(1, 2, 4, 4)]),
    ("upsample", lambda x: F.upsample(x, 2), [rand(1, 2, 2, 3)]),
    ("pad2d", lambda x: F.pad2d(x, ((0, 1), (2, 0))), [rand(1, 1, 2, 3)]),
    ("dropout", lambda x: F.dropout(x, 0.0), [rand(2, 3)]),
    ("batch_norm", lambda x, g, b: F.batch_norm(x, mg.zeros(3, dtype=x.dtype, device=x.device),
                                                mg.ones(3, dtype=x.dtype, device=x.device), g, b, training=True),
     [rand(4, 3), positive(3), rand(3)]),
]


def _inputs(arrays, device):
    return [to_device(a, device, requires_grad=True) for a in arrays]


# (1)
def test_p01_reused_tensor_accumulates_exactly():
    a = mg.tensor(1.0, requires_grad=True)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad.item() == 4.0


# (2)
def test_p02_long_chain_needs_no_recursion():
    assert sys.getrecursionlimit() <= 10_000
    x = mg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


# (3)
@given(st.sampled_from([((3,), (2, 3)), ((1, 3), (2, 1)), ((), (2, 2)), ((2, 1, 4), (3, 1)), ((1,), ())]))
def test_p03_broadcast_gradients_have_the_input_shape(shapes):
    a = mg.tensor(np.ones(shapes[0]), requires_grad=True)
    b = mg.tensor(np.ones(shapes[1]), requires_grad=True)
    (a * b + a).sum().backward()
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    assert a.grad.data.size == 0 or np.all(a.grad.numpy() == a.grad.numpy().flat[0])


# (4)
@pytest.mark.parametrize("name,fn,arrays", OPS, ids=[o[0] for o in OPS])
def test_p04_every_op_passes_gradcheck(name, fn, arrays, device):
    assert mg.gradcheck(fn, *_inputs(arrays, device))


# (5)
@pytest.mark.parametrize("name", ["conv2d", "conv_transpose2d", "composite_loss"])
def test_p05_random_direction_check(name, device):
    if name == "conv2d":
        fn, arrays = (lambda x, w: F.conv2d(x, w, stride=1, padding=1)), [rand(2, 3, 6, 6), rand(4, 3, 3, 3)]
    elif name == "conv_transpose2d":
        fn, arrays = (lambda x, w: F.conv_transpose2d(x, w, stride=2)), [rand(2, 3, 4, 4), rand(3, 2, 3, 3)]
    else:
        def fn(x, w, t):
            h = F.tanh(x @ w)
            return (F.log_softmax(h, axis=1) * t).sum() * -1 + (h * h).mean()
        arrays = [rand(5, 4), rand(4, 3), np.eye(3)[[0, 1, 2, 1, 0]]]
    assert mg.gradcheck(fn, *_inputs(arrays, device), method="random-direction", n_directions=4)


# (6)
def test_p06_zero_upstream_gives_exact_zeros(device):
    for name, fn, arrays in OPS:
        xs = _inputs(arrays, device)
        for x in xs:
            x.data = x.data.astype(np.float32)
        out = fn(*xs)
        out.backward(mg.zeros(out.shape, dtype=out.dtype, device=device))
        for x in xs:
            g = x.grad
            assert g is not None and g.shape == x.shape and g.dtype == np.float32, name
            assert not np.any(g.numpy()), name


# (7)
def test_p07_backward_twice_is_bit_identical(device):
    for name, fn, arrays in OPS:
        grads = []
        for _ in range(2):
            xs = _inputs(arrays, device)
            fn(*xs).sum().backward()
            grads.append([x.grad.numpy() for x in xs])
        for g1, g2 in zip(*grads):
            assert np.array_equal(g1, g2), name
        xs = _inputs(arrays, device)
        out = fn(*xs).sum()
        out.backward(retain_graph=True)
        first = [x.grad.numpy() for x in xs]
        for x in xs:
            x.zero_grad()
        out.backward()
        assert all(np.array_equal(f, x.grad.numpy()) for f, x in zip(first, xs)), name


# (8)
def test_p08_no_mutation_and_no_shared_gradient_memory():
    for name, fn, arrays in OPS:
        xs = _inputs(arrays, "cpu")
        before = [x.numpy() for x in xs]
        out = fn(*xs)
        upstream = mg.tensor(RNG.standard_normal(out.shape), dtype=out.dtype)
        upstream_before = upstream.numpy()
        out.backward(upstream)
        assert all(np.array_equal(b, x.numpy()) for b, x in zip(before, xs)), f"{name} mutated an input"
        assert np.array_equal(upstream_before, upstream.numpy()), f"{name} mutated the upstream gradient"
        buffers = [x.grad.data for x in xs] + [upstream.data] + [x.data for x in xs]
        for i, a in enumerate(buffers[:len(xs)]):
            for j, b in enumerate(buffers):
                if i != j and a.size and b.size:
                    assert not np.shares_memory(a, b), f"{name}: gradient {i} shares memory with buffer {j}"


# (9)
def test_p09_non_contiguous_inputs_match_contiguous(device):
    base = rand(6, 4)
    strided = [base.T, base[:, ::2], base[::-1]]
    for view in strided:
        assert not view.flags.c_contiguous or view.strides[0] < 0
        for fn in [lambda a: F.sigmoid(a) * a, lambda a: a @ a.T, lambda a: F.softmax(a, axis=0),
                   lambda a: a.sum(axis=1), lambda a: a[1:, :].max(axis=0)]:
            results = []
            for array in (view, np.ascontiguousarray(view)):
                x = mg.tensor(array, device=device, requires_grad=True)
                y = fn(x)
                y.sum().backward()
                results.append((y.numpy(), x.grad.numpy()))
            np.testing.assert_array_equal(results[0][0], results[1][0])
            np.testing.assert_array_equal(results[0][1], results[1][1])


# (10)
def test_p10_graph_is_freed_and_memory_stays_flat():
    x = mg.tensor(rand(4, 5), requires_grad=True)
    w = mg.tensor(rand(5, 3), requires_grad=True)
    hidden = F.tanh(x @ w)
    alive = weakref.ref(hidden)
    loss = (hidden * hidden).sum()
    del hidden
    assert alive() is not None        # the graph keeps the intermediate until backward
    loss.backward()
    assert alive() is None            # ...and lets it go right after, without gc

    def step():
        h = F.relu(x @ w)
        loss = F.log_softmax(h, axis=1).mean() * -1
        loss.backward()
        with mg.no_grad():
            w.data -= 0.01 * w.grad.data
        w.zero_grad()
        x.zero_grad()

    # Python's free lists (which tracemalloc counts as live) and NumPy's small caches fill up
    # over the first few hundred steps (about 150 kB, then flat), so memory is measured after
    # a warm-up, and without gc.collect(), which would empty the free lists again.
    tracemalloc.start()
    for _ in range(1000):
        step()
    start = tracemalloc.get_traced_memory()[0]
    for _ in range(1000):
        step()
    end = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert end - start < 16 * 1024, f"memory grew by {end - start} bytes over 1,000 steps"


# (11)
@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_p11_softmax_extremes_are_finite(fn, axis, device):
    x_np = np.array([[709.0, -709.0, 0.0], [-709.0, -709.0, 709.0], [709.0, 709.0, 709.0]])
    x = mg.tensor(x_np, device=device, requires_grad=True)
    out = fn(x, axis=axis)
    values = out.numpy()
    assert np.isfinite(values).all()
    probs = values if fn is F.softmax else np.exp(values)
    np.testing.assert_allclose(probs.sum(axis=axis), 1.0, rtol=1e-12)
    (out * mg.tensor(RNG.standard_normal(out.shape), device=device)).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


# (12)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_p12_sigmoid_softplus_at_1000(dtype, device):
    with np.errstate(all="raise"):
        x = mg.tensor(np.array([-1000.0, -100.0, -1.0, 0.0, 1.0, 100.0, 1000.0]), dtype=dtype, device=device,
                      requires_grad=True)
        s = F.sigmoid(x)
        p = F.softplus(x)
        (s + p).sum().backward()
        values = s.numpy()
        assert values[0] == 0.0 and values[-1] == 1.0
        assert np.isfinite(values).all() and np.isfinite(p.numpy()).all()
        assert np.isfinite(x.grad.numpy()).all()
        assert p.numpy()[-1] == 1000.0 and p.numpy()[0] == 0.0


# (13)
def test_p13_anomaly_mode_names_the_op():
    x = mg.tensor([1.0, -1.0], requires_grad=True)
    with pytest.raises(FloatingPointError, match=r"Sqrt produced NaN/inf in forward \(from finite inputs\)"):
        with mg.detect_anomaly(), np.errstate(invalid="ignore"):
            y = x * 2.0
            (y.sqrt()).sum()
    # a NaN made in backward: d sqrt(x)/dx = inf at 0
    z = mg.tensor([0.0, 1.0], requires_grad=True)
    with pytest.raises(FloatingPointError, match=r"Sqrt.backward produced NaN/inf"):
        with mg.detect_anomaly(), np.errstate(divide="ignore"):
            z.sqrt().sum().backward()
    # the error says where the op was made
    try:
        with mg.detect_anomaly(), np.errstate(divide="ignore"):
            mg.tensor([0.0]).log()
    except FloatingPointError as err:
        assert "test_properties.py" in str(err) and ".log()" in str(err)
    else:
        pytest.fail("log(0) passed anomaly mode")


# (14)
def test_p14_kinks_are_pinned():
    x = mg.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    F.relu(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0]
    x.zero_grad()
    x.abs().sum().backward()
    assert x.grad.tolist() == [-1.0, 0.0, 1.0]
    x.zero_grad()
    t = mg.tensor([1.0, 3.0, 3.0], requires_grad=True)
    t.max().backward()
    assert t.grad.tolist() == [0.0, 0.5, 0.5]


# (15)
def test_p15_strict_stand_in_catches_a_planted_numpy_call():
    class PlantedExp(Function):
        """z = e^x, written with np. instead of xp: works on the CPU only."""
        def forward(self, x):
            return np.exp(x)

        def backward(self, g):
            return g * self.inputs[0].exp()

    class CorrectExp(PlantedExp):
        def forward(self, x):
            return xp_of(x).exp(x)

    cpu = mg.tensor([1.0, 2.0])
    strict = mg.tensor([1.0, 2.0], device="strict")
    np.testing.assert_allclose(PlantedExp.apply(cpu).numpy(), np.exp([1.0, 2.0]), rtol=1e-6)
    with pytest.raises(TypeError, match="strict"):
        PlantedExp.apply(strict)
    np.testing.assert_allclose(CorrectExp.apply(strict).numpy(), np.exp([1.0, 2.0]), rtol=1e-6)
    # the other ways NumPy-only code leaks: asarray on device data, host arrays mixed in
    with pytest.raises(TypeError):
        np.asarray(strict.data)
    with pytest.raises(TypeError):
        strict.data + np.ones(2)
    with pytest.raises(TypeError):
        np.add.at(strict.data, [0], 1.0)


# (16)
def test_p16_float32_stays_float32_and_reductions_are_0d(device):
    for name, fn, arrays in OPS:
        xs = [mg.tensor(a.astype(np.float32), device=device, requires_grad=True) for a in arrays]
        out = fn(*xs)
        assert out.dtype == np.float32, name
        out.sum().backward()
        assert all(x.grad.dtype == np.float32 for x in xs), name
    x = mg.tensor(rand(2, 3), device=device)
    for reduction in (x.sum(), x.mean(), x.max(), x.min(), x.var(), x.logsumexp()):
        assert reduction.data.shape == () and backend.is_backend_array(reduction.data)


# (17)
@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(3, 6), st.integers(1, 3),
       st.integers(1, 2), st.integers(0, 1))
def test_p17_conv_adjoint(n, c_in, c_out, size, k, stride, padding):
    if size + 2 * padding < k:
        return
    x = mg.tensor(RNG.standard_normal((n, c_in, size, size)))
    w = mg.tensor(RNG.standard_normal((c_out, c_in, k, k)))
    y_shape = F.conv2d(x, w, stride=stride, padding=padding).shape
    y = mg.tensor(RNG.standard_normal(y_shape))
    out_pad = (size + 2 * padding - k) % stride
    lhs = float((F.conv2d(x, w, stride=stride, padding=padding) * y).sum().item())
    rhs = float((x * F.conv_transpose2d(y, w, stride=stride, padding=padding, output_padding=out_pad)).sum().item())
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


# (18)
def test_p18_devices_and_promotion():
    cpu = mg.tensor([1.0, 2.0])
    strict = mg.tensor([1.0, 2.0], device="strict")
    with pytest.raises(RuntimeError, match=r"Add: tensors on different devices \(cpu and strict\)"):
        cpu + strict
    with pytest.raises(RuntimeError, match="MatMul: tensors on different devices"):
        cpu.reshape(1, 2) @ strict.reshape(2, 1)
    f32 = mg.tensor([1.0, 2.0], dtype="float32")
    f64 = mg.tensor([1.0, 2.0], dtype="float64")
    assert (f32 * f64).dtype == np.result_type(np.float32, np.float64)
    for scalar in (2, 2.5, np.float64(2.5), np.int64(3), np.float32(1.5), True):
        assert (f32 * scalar).dtype == np.float32
        assert (scalar - f32).dtype == np.float32
        assert (f32 ** scalar).dtype == np.float32
    assert (mg.tensor([1, 2]) * 2.5).dtype == np.float64      # int tensors promote as NumPy does


# (19)
def test_p19_hypothesis_profiles_are_registered():
    for name in ("ci", "dev", "thorough"):
        assert settings.get_profile(name).max_examples > 0
    assert settings.get_profile("dev").max_examples < settings.get_profile("ci").max_examples \
        < settings.get_profile("thorough").max_examples
    chosen = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    assert settings.default.max_examples == settings.get_profile(chosen).max_examples


# Hot ops have two backward forms: `backward` (Tensor ops, recordable) and `backward_arrays`
# (the same math on raw arrays, used when the backward is not recorded). They must agree.
@pytest.mark.parametrize("name,fn,arrays", OPS, ids=[o[0] for o in OPS])
def test_array_and_tensor_backward_forms_agree(name, fn, arrays, device):
    results = []
    for create_graph in (False, True):
        xs = _inputs(arrays, device)
        out = fn(*xs)
        upstream = mg.tensor(np.random.default_rng(5).standard_normal(out.shape), device=device)
        grads = mg.grad(out, xs, upstream, create_graph=create_graph, allow_unused=True)
        results.append([None if g is None else g.numpy() for g in grads])
    for array_form, tensor_form in zip(*results):
        if array_form is None or tensor_form is None:
            assert array_form is None and tensor_form is None, name
        else:
            np.testing.assert_allclose(array_form, tensor_form, rtol=1e-12, atol=1e-14, err_msg=name)
