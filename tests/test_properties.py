"""The engine's robustness properties, one test each (numbered as in the engine issue).

The per-op properties (6, 7, 8, 16 and the two backward forms) run on every op of
test_ops_table.py's table, which also holds each op's gradient checks (property 4); values
at the edges are in the op families' own files (test_elementwise.py, test_reduce.py, ...).
This file pins the properties the whole engine promises.
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
from .test_ops_table import BY_NAME, CASES, _as_list, _first_example

RNG = np.random.default_rng(1234)


def rand(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, size=shape)


# The ops: test_ops_table.py's Cases, the one table of the suite (every Function subclass is run
# by one of them, which that file checks). Each property below runs on every case that has a
# gradient, on inputs drawn by the case's own strategy, with a drawn choice of which inputs
# require grad (so the branches of needs_input_grad run too).
DIFFERENTIABLE = [c.name for c in CASES if not c.query]
PER_OP = settings(max_examples=3)       # ~120 ops x 9 property runs: the file's share of the budget


def _draw(data, name):
    """A case's input arrays, its settings and which inputs require grad: a drawn non-empty
    subset of those the output is differentiable in (masked_fill's mask source is not)."""
    arrays, kw = data.draw(BY_NAME[name].draw, label="inputs")
    xs, out = _run(name, arrays, kw, [True] * len(arrays), "cpu")
    used = [g is not None for g in mg.grad(out, xs, mg.ones(out.shape), allow_unused=True)]
    picks = iter(data.draw(st.lists(st.booleans(), min_size=sum(used), max_size=sum(used)).filter(any),
                           label="requires_grad (of the inputs used)"))
    chosen = [u and next(picks) for u in used]
    return arrays, kw, chosen


def _run(name, arrays, kw, needs, device, dtype=None):
    """The inputs as tensors on `device` and the op's output (several outputs: flattened, joined)."""
    xs = [mg.tensor(a if dtype is None else a.astype(dtype), device=device, requires_grad=n)
          for a, n in zip(arrays, needs)]
    outs = [o for o in _as_list(BY_NAME[name].mg(*xs, **kw)) if o.requires_grad]
    assert outs, f"{name}: no output requires grad"
    out = outs[0] if len(outs) == 1 else mg.concat([o.reshape(-1) for o in outs])
    return xs, out


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


# (4) every op passes gradcheck (and gradgradcheck) on every device: test_ops_table.py's
# test_gradients, on the same table.


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
    xs = [to_device(a, device, requires_grad=True) for a in arrays]
    assert mg.gradcheck(fn, *xs, method="random-direction", n_directions=4)


# (6)
@pytest.mark.parametrize("name", DIFFERENTIABLE)
@given(data=st.data())
@PER_OP
def test_p06_zero_upstream_gives_exact_zeros(name, device, data):
    arrays, kw, needs = _draw(data, name)
    xs, out = _run(name, arrays, kw, needs, device, dtype=np.float32)
    out.backward(mg.zeros(out.shape, dtype=out.dtype, device=device))
    for x in xs:
        if x.requires_grad:
            g = x.grad
            assert g is not None and g.shape == x.shape and g.dtype == np.float32, name
            assert not np.any(g.numpy()), name


# (7)
@pytest.mark.parametrize("name", DIFFERENTIABLE)
@given(data=st.data())
@PER_OP
def test_p07_backward_twice_is_bit_identical(name, device, data):
    arrays, kw, needs = _draw(data, name)
    grads = []
    for _ in range(2):
        xs, out = _run(name, arrays, kw, needs, device)
        out.sum().backward()
        grads.append([x.grad.numpy() for x in xs if x.requires_grad])
    for g1, g2 in zip(*grads):
        assert np.array_equal(g1, g2), name
    xs, out = _run(name, arrays, kw, needs, device)
    out = out.sum()
    out.backward(retain_graph=True)
    first = [x.grad.numpy() for x in xs if x.requires_grad]
    for x in xs:
        x.zero_grad()
    out.backward()
    assert all(np.array_equal(f, x.grad.numpy()) for f, x in zip(first, [x for x in xs if x.requires_grad])), name


# (8)
@pytest.mark.parametrize("name", DIFFERENTIABLE)
@given(data=st.data())
@PER_OP
def test_p08_no_mutation_and_no_shared_gradient_memory(name, data):
    arrays, kw, needs = _draw(data, name)
    xs, out = _run(name, arrays, kw, needs, "cpu")
    before = [x.numpy() for x in xs]
    upstream = mg.tensor(RNG.standard_normal(out.shape), dtype=out.dtype)
    upstream_before = upstream.numpy()
    out.backward(upstream)
    assert all(np.array_equal(b, x.numpy()) for b, x in zip(before, xs)), f"{name} mutated an input"
    assert np.array_equal(upstream_before, upstream.numpy()), f"{name} mutated the upstream gradient"
    grads = [x.grad.data for x in xs if x.requires_grad]
    buffers = grads + [upstream.data] + [x.data for x in xs]
    for i, a in enumerate(grads):
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
@pytest.mark.parametrize("name", DIFFERENTIABLE)
@given(data=st.data())
@PER_OP
def test_p16_float32_stays_float32(name, device, data):
    arrays, kw, needs = _draw(data, name)
    xs, out = _run(name, arrays, kw, needs, device, dtype=np.float32)
    assert out.dtype == np.float32, name
    out.sum().backward()
    assert all(x.grad.dtype == np.float32 for x in xs if x.requires_grad), name


def test_p16_reductions_are_0d(device):
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
# (the same math on raw arrays, used when the backward is not recorded). They must agree. The
# property runs on the cases whose forward records a node that has both forms (elsewhere it
# would compare `backward` with itself).
def _functions_recorded_by(case) -> set:
    recorded, original = set(), Function.apply.__func__

    def recording_apply(cls, *inputs, **settings):
        recorded.add(cls)
        return original(cls, *inputs, **settings)

    arrays, kw = _first_example(case)
    Function.apply = classmethod(recording_apply)
    try:
        case.mg(*[mg.tensor(a, requires_grad=True) for a in arrays], **kw)
    finally:
        Function.apply = classmethod(original)
    return recorded


TWO_FORMS = [name for name in DIFFERENTIABLE
             if any(hasattr(cls, "backward_arrays") for cls in _functions_recorded_by(BY_NAME[name]))]


def test_the_two_forms_property_has_ops_to_run_on():
    assert len(TWO_FORMS) >= 10, TWO_FORMS          # the hot ops: linear, sigmoid, BCE, conv, ...
    assert len(TWO_FORMS) < len(DIFFERENTIABLE)


@pytest.mark.parametrize("name", TWO_FORMS)
@given(data=st.data())
@PER_OP
def test_array_and_tensor_backward_forms_agree(name, device, data):
    arrays, kw, needs = _draw(data, name)
    results = []
    for create_graph in (False, True):
        xs, out = _run(name, arrays, kw, needs, device)
        upstream = mg.tensor(np.random.default_rng(5).standard_normal(out.shape), device=device)
        live = [x for x in xs if x.requires_grad]
        grads = mg.grad(out, live, upstream, create_graph=create_graph, allow_unused=True)
        results.append([None if g is None else g.numpy() for g in grads])
    for array_form, tensor_form in zip(*results):
        if array_form is None or tensor_form is None:
            assert array_form is None and tensor_form is None, name
        else:
            np.testing.assert_allclose(array_form, tensor_form, rtol=1e-12, atol=1e-14, err_msg=name)
