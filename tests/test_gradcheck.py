"""gradcheck / gradgradcheck: pass on correct ops, and name the culprit on planted bugs."""
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.function import Function, constant, xp_of
from minigrad.gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_grad


def t(array, device, requires_grad=True):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad, device=device)


A = np.array([[0.5, -1.2, 2.0], [1.5, 0.3, -0.7]])
B = np.array([[-0.4, 0.9, 1.1], [0.2, -1.6, 0.8]])


# ----------------------------------------------------------------------------- planted bugs

class OffByOneElement(Function):
    """z = x^2 whose backward is right except at element (1, 2), where it adds 5 g."""
    def forward(self, x):
        return x * x

    def backward(self, g):
        x = self.inputs[0]
        mask = xp_of(x.data).zeros(x.shape)
        mask[1, 2] = 5.0
        return g * 2 * x + g * constant(mask)


class WrongSecondInput(Function):
    """z = x * y whose dz/dy is wrong (x + 1 instead of x); dz/dx is right."""
    def forward(self, x, y):
        return x * y

    def backward(self, g):
        x, y = self.inputs
        return g * y, g * (x + 1)


class FrozenSquare(Function):
    """z = x^2 with backward g * 2x computed from a constant: right first derivative, but the
    gradient does not depend on x in the graph, so its own derivative (the second) is wrong."""
    def forward(self, x):
        return x * x

    def backward(self, g):
        return g * constant(2 * self.inputs[0].data)


class ExpFromRawOutput(Function):
    """z = e^x whose backward multiplies by the raw saved z: right first derivative, but z is
    a constant there, so the second derivative misses dz/dx (Function.output()'s contract)."""
    def forward(self, x):
        self.z = xp_of(x).exp(x)
        return self.z

    def backward(self, g):
        return g * constant(self.z)


class ExpFromOutput(ExpFromRawOutput):
    """The same op done right: the saved z through self.output(), differentiable again."""
    def backward(self, g):
        return g * self.output(self.z)


# ----------------------------------------------------------------------------- correct ops pass

@pytest.mark.parametrize("fn, n_inputs", [
    (lambda x: x * x, 1),
    (lambda x, y: x * y + x / (y * y + 1), 2),
    (lambda x, y: x @ y.T, 2),
    (lambda x: x.sum(axis=1), 1),
    (lambda x: mg.tanh(x).mean(axis=0, keepdims=True), 1),
    (lambda x, y: (x + y[0]).exp(), 2),                     # broadcasting: y[0] is (3,)
])
def test_gradcheck_passes_on_correct_ops(device, fn, n_inputs):
    inputs = [t(A, device), t(B, device)][:n_inputs]
    assert gradcheck(fn, *inputs) is True
    assert gradcheck(fn, *inputs, method="random-direction") is True


def test_gradcheck_error_is_an_assertion_error():
    assert issubclass(GradcheckError, AssertionError)


# ----------------------------------------------------------------------------- the report

def test_planted_bug_is_reported_with_input_element_and_values(device):
    with pytest.raises(GradcheckError) as info:
        gradcheck(OffByOneElement.apply, t(A, device))
    message = str(info.value)
    assert "input 0" in message and "(shape (2, 3), float64)" in message
    assert "1 of 6 element(s)" in message
    assert "element (1, 2)" in message
    found = re.search(r"analytic (\S+), numerical (\S+),", message)
    assert found, message
    analytic, numerical = float(found.group(1)), float(found.group(2))
    # the planted bug adds 5 g at that element and g is a random projection weight:
    # analytic = g (2x + 5), numerical = g 2x, with x = A[1, 2]
    g = numerical / (2 * A[1, 2])
    assert analytic == pytest.approx(g * (2 * A[1, 2] + 5), rel=1e-6)


def test_the_wrong_input_is_named(device):
    with pytest.raises(GradcheckError) as info:
        gradcheck(WrongSecondInput.apply, t(A, device), t(B, device))
    message = str(info.value)
    assert "input 1" in message and "input 0" not in message


def test_random_direction_catches_the_same_bugs(device):
    with pytest.raises(GradcheckError, match="input 0.*random unit direction"):
        gradcheck(OffByOneElement.apply, t(A, device), method="random-direction")
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(WrongSecondInput.apply, t(A, device), t(B, device), method="random-direction")


def test_raise_exception_false_returns_false(device):
    assert gradcheck(OffByOneElement.apply, t(A, device), raise_exception=False) is False


def test_float32_inputs_warn(device):
    x = mg.tensor(A.astype(np.float32), requires_grad=True, device=device)
    with pytest.warns(UserWarning, match="float64"):
        gradcheck(lambda x: x * 2.0, x, eps=1e-2, atol=1e-2, rtol=1e-2)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="method"):
        gradcheck(lambda x: x, t(A, "cpu"), method="forward")
    with pytest.raises(ValueError, match="no floating-point tensor"):
        gradcheck(lambda n: mg.tensor([1.0]) * n, 3)


def test_numerical_grad_matches_the_derivative(device):
    x = t(A, device)
    v = np.ones(A.shape)

    def loss(ys):
        return float(np.sum(ys[0].numpy() * v))
    np.testing.assert_allclose(numerical_grad(lambda x: x * x * x, [x], 0, loss), 3 * A ** 2, rtol=1e-7)


# ----------------------------------------------------------------------------- second order

@pytest.mark.parametrize("fn", [lambda x: x ** 3, mg.sigmoid, mg.tanh, lambda x: (x * x).sum(axis=0)],
                         ids=["cube", "sigmoid", "tanh", "sum_of_squares"])
def test_gradgradcheck_passes_on_smooth_ops(device, fn):
    assert gradgradcheck(fn, t(A, device)) is True


def test_gradgradcheck_catches_a_backward_built_from_constants(device):
    x = t(A, device)
    assert gradcheck(FrozenSquare.apply, x) is True            # first derivative: right
    with pytest.raises(GradcheckError, match="input 0"):
        gradgradcheck(FrozenSquare.apply, x)                   # second derivative: 0 instead of 2


def test_a_saved_output_must_go_through_output_for_second_derivatives(device):
    x = t(A, device)
    assert gradcheck(ExpFromRawOutput.apply, x) is True
    with pytest.raises(GradcheckError, match="input 0"):
        gradgradcheck(ExpFromRawOutput.apply, x)
    assert gradgradcheck(ExpFromOutput.apply, x) is True


def test_gradgradcheck_of_two_inputs(device):
    assert gradgradcheck(lambda x, y: (x * y).tanh(), t(A, device), t(B, device)) is True


# ----------------------------------------------------------------------------- inputs and outputs

def test_multiple_outputs(device):
    x, y = t(A, device), t(B, device)
    assert gradcheck(lambda x, y: (x * y, x.exp(), y.sum()), x, y) is True
    assert gradgradcheck(lambda x, y: (x * y, x.exp()), x, y) is True
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(lambda x, y: (x * y, OffByOneElement.apply(x)), x, y)


def test_integer_outputs_are_ignored(device):
    assert gradcheck(lambda x: (x.sum(), x.argmax()), t(A, device)) is True


def test_inputs_that_do_not_require_grad_are_skipped(device):
    x, y = t(A, device), t(B, device, requires_grad=False)
    assert gradcheck(WrongSecondInput.apply, x, y) is True     # the wrong dz/dy is never asked for
    assert y.grad is None and x.grad is None                   # and no .grad is touched


def test_non_tensor_arguments_pass_through(device):
    x = t(A, device)
    assert gradcheck(lambda x, n, axis: (x ** n).sum(axis=axis), x, 3, 1) is True


def test_without_any_requires_grad_every_floating_input_is_checked(device):
    x, y = t(A, device, requires_grad=False), t(B, device, requires_grad=False)
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(WrongSecondInput.apply, x, y)


def test_an_unused_input_gets_zero_gradient(device):
    x, y = t(A, device), t(B, device)
    assert gradcheck(lambda x, y: x * 2.0, x, y) is True
    assert gradgradcheck(lambda x, y: x * x, x, y) is True


def test_an_unused_input_that_matters_numerically_is_caught(device):
    # the output reads y's values through .detach(), so backward says 0 but y does matter
    x, y = t(A, device), t(B, device)
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(lambda x, y: x * y.detach(), x, y)


def test_output_that_depends_on_no_input(device):
    x = t(A, device)
    assert gradcheck(lambda x: mg.tensor(B, device=device) * 1.0, x) is True


# ----------------------------------------------------------------------------- former gaps

@pytest.mark.parametrize("method", ["central", "random-direction"])
def test_a_nan_finite_difference_is_not_a_pass(method):
    # log at 1e-7 with eps=1e-6 steps to log(-9e-7) = NaN: nothing was verified there
    x = mg.tensor(np.array([1e-7, 1.0]), requires_grad=True)
    with np.errstate(invalid="ignore"), pytest.raises(GradcheckError):
        gradcheck(mg.log, x, method=method)


def test_gradgradcheck_without_floating_inputs_is_refused():
    with pytest.raises(ValueError, match="no floating-point tensor"):
        gradgradcheck(lambda n: mg.tensor(np.ones(2)) * n, 3)


@pytest.mark.parametrize("fn", [lambda x: -x, lambda x: x * 2.0, lambda x: x.sum(), lambda x: x[0]],
                         ids=["neg", "scale", "sum", "index"])
def test_gradgradcheck_passes_on_linear_ops(fn):
    assert gradgradcheck(fn, t(A, "cpu")) is True


# ----------------------------------------------------------------------------- check_gradients, in plain words

from minigrad.gradcheck import Verdict, check_arrays, check_gradients  # noqa: E402


class LearnerMul(Function):
    """z = x*y, with the backward chosen per test through `mistake`."""
    mistake = None

    def forward(self, x, y):
        return x * y

    def backward(self, g):
        x, y = self.inputs
        if self.mistake == "unwritten":
            raise NotImplementedError("Exercise: dL/dx and dL/dy")
        if self.mistake == "swapped":
            return g * x, g * y
        if self.mistake == "sign":
            return g * y, -(g * x)
        if self.mistake == "zeros":
            return g * y, None
        if self.mistake == "crash":
            return g * y, g @ x
        return g * y, g * x


def mul_with(mistake):
    return type(f"Mul_{mistake}", (LearnerMul,), {"mistake": mistake})


def test_check_gradients_passes_a_right_backward_and_names_the_inputs(device):
    verdict = check_gradients(mul_with(None), t(A, device), t(B, device))
    assert isinstance(verdict, Verdict) and verdict
    assert verdict.message.startswith("✓ Mul_None: the gradients of x (2, 3), y (2, 3) match"), verdict
    assert verdict.raise_if_failed() is verdict


@pytest.mark.parametrize("mistake, words", [
    ("unwritten", ["the backward is not written yet (Exercise: dL/dx and dL/dy)",
                   "Replace the `raise NotImplementedError`"]),
    ("swapped", ["the gradient of `x` (input 0, shape (2, 3)) is wrong",
                 "is the right gradient for `y`: are the returned gradients in the wrong order"]),
    ("sign", ["the gradient of `y` (input 1, shape (2, 3)) is wrong", "the sign flipped"]),
    ("zeros", ["the gradient of `y`", "every element of your gradient is 0"]),
    ("crash", ["the backward raised ValueError"]),
])
def test_check_gradients_says_what_is_wrong(mistake, words, device):
    verdict = check_gradients(mul_with(mistake), t(A, device), t(B, device))
    assert not verdict
    for phrase in words:
        assert phrase in verdict.message, verdict.message
    if mistake == "sign":          # only the wrong input is reported
        assert "`x`" not in verdict.message
    with pytest.raises(AssertionError, match="✗ Mul_"):
        verdict.raise_if_failed()


def test_check_gradients_reports_the_worst_element_with_both_values():
    verdict = check_gradients(OffByOneElement, t(A, "cpu"))
    assert not verdict
    # x^2 at A[1, 2] = -0.7: 2x = -1.4 numerically; the planted backward adds 5 g there
    match = re.search(r"at element \(1, 2\): your backward gives (\S+), finite differences give (\S+) ",
                      verdict.message)
    assert match, verdict.message
    yours, numerical = float(match.group(1)), float(match.group(2).rstrip(","))
    v = np.random.default_rng(0).standard_normal((2, 3))[1, 2]     # the check's upstream gradient
    assert numerical == pytest.approx(-1.4 * v, rel=1e-5)
    assert yours == pytest.approx((-1.4 + 5.0) * v, rel=1e-5)
    assert "1 of 6 element(s) are off" in verdict.message


def test_check_gradients_with_a_hand_written_gradient_and_a_constant_factor():
    x = t([0.5, -1.0, 2.0], "cpu")
    assert check_gradients(lambda a: (a * a).sum(), x, analytic=lambda a: 2 * a)
    half = check_gradients(lambda a: (a * a).sum(), x, analytic=lambda a: a, name="square")
    assert not half and "your gradient is 0.5 times the right one" in half.message
    assert "your gradient function gives" in half.message
    scalar = mg.tensor(0.3, dtype="float64", requires_grad=True)   # 0-d inputs arrive as floats
    assert check_gradients(lambda a: a.exp(), scalar, analytic=lambda a: float(np.exp(a)))
    wrong_count = check_gradients(lambda a, b: (a * b).sum(), x, x, analytic=lambda a, b: b)
    assert not wrong_count and "returned 1 value(s), one per input is needed (2: a, b)" in wrong_count.message


def test_check_gradients_reports_a_forward_that_raises_and_a_wrong_shape():
    def forward_fails(x):
        raise NotImplementedError("Exercise 0")
    verdict = check_gradients(forward_fails, t(A, "cpu"))
    assert not verdict and "the forward is not written yet (Exercise 0)" in verdict.message
    shape = check_gradients(lambda a: a.sum(), t(A, "cpu"), analytic=lambda a: np.ones(3))
    assert not shape and "has shape (3,); it must have the input's shape" in shape.message
    with pytest.raises(ValueError, match="no floating-point tensor"):
        check_gradients(lambda a: a, 3)


def test_check_arrays_in_plain_words():
    assert check_arrays([1.0, 2.0], np.array([1.0, 2.0]), what="cols")
    shape = check_arrays(np.ones(3), np.ones((3, 1)), what="cols", against="F.conv2d's")
    assert not shape and shape.message == "✗ cols has shape (3,), F.conv2d's have shape (3, 1)."
    value = check_arrays([1.0, 2.5, 3.0], [1.0, 2.0, 3.0], what="cols")
    assert not value and "at element (1,) yours is 2.5, expected 2; 1 of 3 element(s) are off" in value.message
    assert not check_arrays([np.nan], [1.0])
    assert not check_arrays(object(), [1.0])
    assert check_arrays(lambda: np.arange(3.0), [0.0, 1.0, 2.0])

    def unwritten():
        raise NotImplementedError("Exercise 7a")
    later = check_arrays(unwritten, [1.0], what="the step")
    assert not later and later.message.startswith("✗ the step: the code is not written yet (Exercise 7a).")
    broken = check_arrays(lambda: 1 / 0, [1.0], what="the step")
    assert not broken and "the code raised ZeroDivisionError" in broken.message
