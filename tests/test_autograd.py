"""The backward walk and its API: backward(), mg.grad, no_grad, detach, higher-order gradients."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F

from .conftest import to_device


def test_backward_on_a_non_scalar_needs_grad():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(2,\) needs grad="):
        (x * 2).backward()
    (x * 2).backward(mg.tensor([1.0, 10.0]))
    assert x.grad.tolist() == [2.0, 20.0]


def test_backward_grad_must_match_the_output():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"grad has shape \(3,\) but the output has shape \(2,\)"):
        (x * 2).backward(mg.tensor([1.0, 1.0, 1.0]))


def test_backward_without_grad_tracking_is_an_error():
    x = mg.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        x.sum().backward()
    with mg.no_grad():
        y = mg.tensor([1.0], requires_grad=True) * 2
    assert not y.requires_grad and y._ctx is None


def test_second_backward_needs_retain_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    loss = (x.exp() * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()


def test_leaf_gradients_accumulate_until_zeroed():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]
    x.zero_grad()
    assert x.grad is None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_inputs_that_need_no_grad_get_none():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    c = mg.tensor([3.0, 4.0])
    (x * c).sum().backward()
    assert c.grad is None and x.grad.tolist() == [3.0, 4.0]


def test_detach_cuts_the_graph_and_shares_memory():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d._ctx is None
    assert np.shares_memory(d.data, y.data)
    (x * d).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_requires_grad_only_for_floats():
    with pytest.raises(TypeError, match="only floating-point tensors"):
        mg.tensor([1, 2], requires_grad=True)
    t = mg.tensor([1.0]).requires_grad_()
    assert t.requires_grad


def test_mg_grad_leaves_dot_grad_alone():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    (g,) = mg.grad(y, [x])
    assert g.tolist() == [2.0, 4.0, 6.0] and x.grad is None


def test_mg_grad_of_an_intermediate_and_unused_inputs():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    unused = mg.tensor([5.0], requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    g_h, g_x = mg.grad(y, [h, x], retain_graph=True)
    assert g_h.tolist() == [6.0, 12.0] and g_x.tolist() == [18.0, 36.0]
    with pytest.raises(RuntimeError, match="not used"):
        mg.grad(y, [unused], retain_graph=True)
    assert mg.grad(y, [unused], allow_unused=True) == (None,)


def test_second_derivative_of_a_cubic():
    x = mg.tensor([2.0, -1.0], requires_grad=True)
    (g,) = mg.grad((x ** 3).sum(), [x], create_graph=True)
    assert g.tolist() == [12.0, 3.0]
    (h,) = mg.grad(g.sum(), [x])
    assert h.tolist() == [12.0, -6.0]          # d2/dx2 x^3 = 6x


def test_backward_with_create_graph_makes_grad_differentiable():
    x = mg.tensor([0.3, -0.7], dtype="float64", requires_grad=True)
    y = F.tanh(x).sum()
    y.backward(create_graph=True)
    first = x.grad
    assert first.requires_grad
    x.zero_grad()
    first.sum().backward()
    t = np.tanh([0.3, -0.7])
    np.testing.assert_allclose(x.grad.numpy(), -2 * t * (1 - t * t), rtol=1e-12)


def test_create_graph_false_records_nothing():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x.exp() * x).sum().backward()
    assert x.grad._ctx is None and not x.grad.requires_grad


def test_gradient_penalty_through_a_conv(device):
    """WGAN-GP style: penalise the norm of d critic / d input, then train the critic on it."""
    rng = np.random.default_rng(0)
    x = to_device(rng.standard_normal((2, 1, 5, 5)), device, requires_grad=True)
    w = to_device(rng.standard_normal((3, 1, 3, 3)), device, requires_grad=True)
    v = to_device(rng.standard_normal((3 * 3 * 3, 1)), device, requires_grad=True)

    def penalty(x, w, v):
        with mg.enable_grad():       # gradcheck evaluates us under no_grad too
            if not x.requires_grad:
                x = x.detach().requires_grad_()
            critic = F.leaky_relu(F.conv2d(x, w), 0.2).reshape(2, -1) @ v
            (g,) = mg.grad(critic.sum(), [x], create_graph=True)
        norms = (g * g).sum(axis=(1, 2, 3)).sqrt()
        return ((norms - 1.0) ** 2).mean()

    assert mg.gradcheck(penalty, x, w, v)


def test_hessian_vector_product_matches_the_hessian(device):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 3))
    a_t = to_device(a, device)
    x = to_device(rng.standard_normal(3), device, requires_grad=True)
    u = to_device(rng.standard_normal(3), device)
    f = (F.sigmoid(a_t @ x)).sum()
    (g,) = mg.grad(f, [x], create_graph=True)
    (hv,) = mg.grad((g * u).sum(), [x])
    s = 1 / (1 + np.exp(-(a @ x.numpy())))
    hessian = a.T @ np.diag(s * (1 - s) * (1 - 2 * s)) @ a
    np.testing.assert_allclose(hv.numpy(), hessian @ u.numpy(), rtol=1e-10)


def test_anomaly_mode_is_off_by_default_and_scoped():
    with np.errstate(divide="ignore"):
        assert np.isinf(mg.tensor([0.0]).log().item())       # no error outside the context
        with mg.detect_anomaly():
            with pytest.raises(FloatingPointError, match="Log produced NaN/inf"):
                mg.tensor([0.0]).log()
        assert np.isinf(mg.tensor([0.0]).log().item())


def test_no_grad_is_restored_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with mg.no_grad():
            1 / 0
    assert mg.is_grad_enabled()


def test_setitem_refuses_to_corrupt_a_gradient():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place assignment"):
        x[0] = 5.0
    with mg.no_grad():
        x[0] = 5.0
    assert x.tolist() == [5.0, 2.0]


def test_anomaly_in_backward_names_the_input_whose_gradient_is_not_finite():
    x = mg.tensor([1.0], requires_grad=True)
    y = mg.tensor([0.0], requires_grad=True)
    with np.errstate(all="ignore"), mg.detect_anomaly():
        z = x * y.sqrt()                # finite forward; d/dy sqrt(y) = inf at 0
        with pytest.raises(FloatingPointError, match=r"Sqrt\.backward produced NaN/inf in the gradient "
                                                     r"of its input 0 \(shape \(1,\)\)"):
            z.sum().backward()
        big = mg.tensor([1e200], dtype="float64")
        w = mg.tensor([1e-200], dtype="float64", requires_grad=True)
        z = (big * w) * 1e200           # 1e200, finite; dz/dw = 1e400 = inf
        with pytest.raises(FloatingPointError, match=r"Mul\.backward produced NaN/inf in the gradient "
                                                     r"of its input 1"):
            z.sum().backward()


def test_anomaly_mode_is_per_thread_and_its_global_count_returns_to_zero():
    import threading
    from minigrad import autograd
    from minigrad.engine import mode
    seen = {}

    def other_thread():
        with np.errstate(divide="ignore"):
            seen["log0"] = mg.tensor([0.0]).log().item()      # no anomaly mode in this thread

    with mg.detect_anomaly(), mg.detect_anomaly():            # nested
        assert mode.anomaly_anywhere == 2
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
    assert np.isneginf(seen["log0"])
    with pytest.raises(ZeroDivisionError), mg.detect_anomaly():
        1 / 0
    assert mode.anomaly_anywhere == 0 and not autograd.is_anomaly_enabled()
