"""Gradient checking: compare backward's gradients with finite differences.

For outputs y = fn(*inputs) and a fixed random upstream gradient v, the scalar
L = sum(y * v) has dL/dx = (what backward computes with grad=v). Its numerical estimate is
the central difference

    dL/dx_j  ~  (L(x + eps e_j) - L(x - eps e_j)) / (2 eps)

whose error shrinks like eps^2; in float64 with eps = 1e-6 it is good to ~1e-8 for smooth
functions. "random-direction" checks the directional derivative along a few random unit
vectors u instead: <dL/dx, u> against (L(x + eps u) - L(x - eps u)) / (2 eps), which costs two
evaluations per direction instead of two per element, so it scales to conv-sized inputs.
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np

from ..engine import autograd, backend
from ..engine.tensor import Tensor, zeros_like


class GradcheckError(AssertionError):
    """Raised by gradcheck with a report of the mismatch."""


def _outputs(result):
    items = result if isinstance(result, (tuple, list)) else (result,)
    return [t for t in items if isinstance(t, Tensor) and backend.is_floating(t.dtype)]


def _checked_inputs(inputs):
    """Indices of the inputs to check: floating tensors with requires_grad (else all floating)."""
    floating = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and backend.is_floating(x.dtype)]
    wanted = [i for i in floating if inputs[i].requires_grad]
    return wanted or floating


def _projection(outputs, rng):
    """L = sum_k <y_k, v_k> on the host, in float64, with the v_k fixed."""
    vs = [rng.standard_normal(y.shape) for y in outputs]

    def loss(ys):
        return float(sum(np.sum(backend.to_numpy(y.data).astype(np.float64) * v) for y, v in zip(ys, vs)))
    return vs, loss


def _analytic(fn, inputs, checked, vs):
    """dL/dx for each checked input, by minigrad's backward."""
    leaves = list(inputs)
    for i in checked:
        leaves[i] = Tensor._make(inputs[i].data.copy()).requires_grad_(True)
    with autograd.enable_grad():
        outputs = _outputs(fn(*leaves))
    live = [(y, v) for y, v in zip(outputs, vs) if y.requires_grad]
    if not live:
        return [np.zeros(inputs[i].shape) for i in checked]
    seeds = [Tensor(v, dtype=y.dtype, device=y.device) for y, v in live]
    grads = autograd.grad([y for y, _ in live], [leaves[i] for i in checked], seeds, allow_unused=True)
    return [np.zeros(inputs[i].shape) if g is None else backend.to_numpy(g.data).astype(np.float64)
            for i, g in zip(checked, grads)]


def _loss_at(fn, inputs, i, new_data, loss):
    perturbed = list(inputs)
    perturbed[i] = Tensor._make(new_data)
    with autograd.no_grad():
        return loss(_outputs(fn(*perturbed)))


def numerical_grad(fn, inputs, i, loss, eps=1e-6):
    """Central-difference dL/d(inputs[i]), element by element, as a float64 host array."""
    x = inputs[i].data
    xp = backend.xp_of(x)
    base = backend.to_numpy(x)
    grad = np.zeros(base.shape, dtype=np.float64)
    for j in np.ndindex(base.shape):
        bumped = base.copy()
        bumped[j] += eps
        up = _loss_at(fn, inputs, i, xp.asarray(bumped) if xp is not np else bumped, loss)
        bumped[j] -= 2 * eps
        down = _loss_at(fn, inputs, i, xp.asarray(bumped) if xp is not np else bumped, loss)
        grad[j] = (up - down) / (2 * eps)
    return grad


def _report(i, x, analytic, numerical, atol, rtol):
    error = np.abs(analytic - numerical)
    allowed = atol + rtol * np.abs(numerical)
    bad = ~(error <= allowed)          # a NaN on either side is a failure, not a pass
    if not bad.any():
        return None
    worst = np.unravel_index(np.nanargmax(np.where(np.isfinite(error), error, np.inf)), error.shape) \
        if error.size else ()
    return (f"input {i} (shape {x.shape}, {x.dtype}): {int(bad.sum())} of {error.size} element(s) "
            f"out of tolerance (atol={atol:g}, rtol={rtol:g}).\n"
            f"  largest error at element {tuple(int(k) for k in worst)}: analytic {float(analytic[worst])!r}, "
            f"numerical {float(numerical[worst])!r}, |error| {error[worst]:.3g} > allowed {allowed[worst]:.3g}")


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, method="central", n_directions=3,
              seed=0, raise_exception=True):
    """Check fn's backward against finite differences; True, or raise GradcheckError with a report.

    fn        a function of the inputs returning a tensor (or a tuple of tensors)
    inputs    tensors (float64 for a meaningful check; float32 warns) and any other arguments
    method    "central" (every element) or "random-direction" (n_directions random unit vectors)
    """
    if method not in ("central", "random-direction"):
        raise ValueError(f"gradcheck: method must be 'central' or 'random-direction', not {method!r}")
    checked = _checked_inputs(inputs)
    if not checked:
        raise ValueError("gradcheck: no floating-point tensor among the inputs")
    for i in checked:
        if inputs[i].dtype != np.float64:
            warnings.warn(f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need float64 "
                          "to be reliable (use .double())", stacklevel=2)
    rng = np.random.default_rng(seed)
    with autograd.no_grad():
        vs, loss = _projection(_outputs(fn(*inputs)), rng)
    analytic = _analytic(fn, inputs, checked, vs)

    problems = []
    for i, g in zip(checked, analytic):
        x = inputs[i]
        if method == "central":
            numerical = numerical_grad(fn, inputs, i, loss, eps)
            problem = _report(i, x, g, numerical, atol, rtol)
        else:
            problem = _check_directions(fn, inputs, i, g, loss, eps, atol, rtol, n_directions, rng)
        if problem:
            problems.append(problem)
    if problems:
        if not raise_exception:
            return False
        raise GradcheckError("gradcheck failed: backward disagrees with finite differences for\n"
                             + "\n".join(problems))
    return True


def _check_directions(fn, inputs, i, analytic, loss, eps, atol, rtol, n_directions, rng):
    x = inputs[i].data
    xp = backend.xp_of(x)
    base = backend.to_numpy(x).astype(np.float64)
    worst = None
    for _ in range(n_directions):
        u = rng.standard_normal(base.shape)
        u /= max(np.linalg.norm(u), 1e-300)
        up = _loss_at(fn, inputs, i, xp.asarray((base + eps * u).astype(x.dtype)), loss)
        down = _loss_at(fn, inputs, i, xp.asarray((base - eps * u).astype(x.dtype)), loss)
        numerical = (up - down) / (2 * eps)
        predicted = float(np.sum(analytic * u))
        error = abs(predicted - numerical)
        if not error <= atol + rtol * abs(numerical):      # NaN fails too
            if worst is None or not error <= worst[0]:
                worst = (error, predicted, numerical)
    if worst is None:
        return None
    return (f"input {i} (shape {inputs[i].shape}, {inputs[i].dtype}): along a random unit direction u, "
            f"<analytic grad, u> = {worst[1]!r} but the finite difference is {worst[2]!r} "
            f"(|error| {worst[0]:.3g}, atol={atol:g}, rtol={rtol:g})")


def gradgradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, method="central", seed=0):
    """Check second derivatives: gradcheck of x, v -> d<fn(x), v>/dx computed with create_graph=True."""
    checked = _checked_inputs(inputs)
    if not checked:
        raise ValueError("gradgradcheck: no floating-point tensor among the inputs")
    rng = np.random.default_rng(seed + 1)
    with autograd.no_grad():
        outputs = _outputs(fn(*inputs))
    vs = [Tensor(rng.standard_normal(y.shape), dtype=y.dtype, device=y.device).requires_grad_(True)
          for y in outputs]
    n = len(inputs)

    def first_derivative(*args):
        xs, seeds = list(args[:n]), args[n:]
        for i in checked:
            if not xs[i].requires_grad:
                xs[i] = Tensor._make(xs[i].data).requires_grad_(True)
        with autograd.enable_grad():      # also when gradcheck evaluates us under no_grad
            ys = _outputs(fn(*xs))
            live = [(y, v) for y, v in zip(ys, seeds) if y.requires_grad]
            if not live:
                return ()
            grads = autograd.grad([y for y, _ in live], [xs[i] for i in checked], [v for _, v in live],
                                  create_graph=True, allow_unused=True)
        return tuple(zeros_like(xs[i]) if g is None else g for i, g in zip(checked, grads))

    leaves = [Tensor._make(x.data).requires_grad_(True) if i in checked else x for i, x in enumerate(inputs)]
    return gradcheck(first_derivative, *leaves, *vs, eps=eps, atol=atol, rtol=rtol, method=method, seed=seed)


# ----------------------------------------------------------------------------- plain-words checks
# gradcheck's report is for engineers: input index, tolerance, numbers. A learner writing their
# first backward needs more: which argument (by name), whether the forward or the backward
# broke, what the numbers suggest (all zeros, a flipped sign, a constant factor, the gradients
# of two inputs swapped). check_gradients and check_arrays answer in those words and return a
# Verdict, which a notebook shows as its text and a test can assert on.

class NotWrittenYet(AssertionError, NotImplementedError):
    """A check failed because the code under test raised NotImplementedError (a placeholder).

    Both an AssertionError (a failed check) and a NotImplementedError, so that a check run
    inside another (check_property) still reports "not written yet"; `reason` is the
    placeholder's own message.
    """

    def __init__(self, message, reason=""):
        super().__init__(message)
        self.reason = reason


class Verdict:
    """The outcome of a check: ``bool(v)`` is whether it passed, ``str(v)`` says why in plain words.

    A notebook cell that ends with a check shows the text (``repr``); ``v.raise_if_failed()``
    turns a failure into an AssertionError carrying the same text, for tests (NotWrittenYet,
    also an AssertionError, when the code under test is a placeholder: `unwritten` holds the
    placeholder's message then, else None).
    """

    def __init__(self, passed: bool, message: str, unwritten=None):
        self.passed = bool(passed)
        self.message = message
        self.unwritten = unwritten

    def __bool__(self):
        return self.passed

    def __str__(self):
        return self.message

    __repr__ = __str__

    def raise_if_failed(self):
        if self.unwritten is not None:
            raise NotWrittenYet(self.message, self.unwritten)
        if not self.passed:
            raise AssertionError(self.message)
        return self


def _display_name(fn):
    if isinstance(fn, type):
        return fn.__name__
    owner = getattr(fn, "__self__", None)           # SomeOp.apply
    if isinstance(owner, type):
        return owner.__name__
    return getattr(fn, "__name__", None) or type(fn).__name__


def _argument_names(fn, count):
    """The names of fn's positional parameters (forward's for a Function), or x0, x1, ..."""
    target = fn
    if isinstance(fn, type):
        target = fn.forward
    elif isinstance(getattr(fn, "__self__", None), type):
        target = fn.__self__.forward
    try:
        params = [p.name for p in inspect.signature(target).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    if params and params[0] == "self":
        params = params[1:]
    return [params[i] if i < len(params) else f"x{i}" for i in range(count)]


def _not_written(exc):
    return isinstance(exc, NotImplementedError)


def _raised(stage, name, exc) -> Verdict:
    """The failed Verdict for code under test that raised `exc` in `stage`."""
    if _not_written(exc):
        reason = getattr(exc, "reason", str(exc))       # a nested check's NotWrittenYet
        detail = f" ({reason})" if reason else ""
        return Verdict(False, f"✗ {name}: the {stage} is not written yet{detail}.\n"
                              f"  Replace the `raise NotImplementedError` in the {stage} with your "
                              "code, then run this check again.", unwritten=reason)
    return Verdict(False, f"✗ {name}: the {stage} raised {type(exc).__name__}: {exc}\n"
                          f"  The check could not compare anything: fix the {stage} so that it runs, "
                          "then run this check again.")


def _hint(analytic, numerical, other_numericals, names, index_of):
    """One sentence about what the numbers suggest, or '' when nothing stands out."""
    scale = max(float(np.max(np.abs(numerical), initial=0.0)), 1e-12)
    if np.all(analytic == 0) and np.any(np.abs(numerical) > 1e-8):
        return ("every element of your gradient is 0: does the backward return a term for this "
                "input (and not None or zeros)?")
    if not np.all(np.isfinite(analytic)):
        return "your gradient has NaN or inf elements: a division by zero or a log of 0?"
    if np.allclose(analytic, -numerical, atol=1e-6 * scale, rtol=1e-4):
        return "your gradient is the right one with the sign flipped."
    mask = np.abs(numerical) > 1e-6 * scale
    if mask.any():
        ratios = analytic[mask] / numerical[mask]
        if np.allclose(ratios, ratios.flat[0], rtol=1e-4) and not np.isclose(ratios.flat[0], 1.0):
            return (f"your gradient is {float(ratios.flat[0]):.6g} times the right one everywhere: "
                    "a constant factor is missing or extra (a 2 from a square, a 1/N from a mean?).")
    for j, other in other_numericals.items():
        if other.shape == analytic.shape and np.allclose(analytic, other, atol=1e-6 * scale, rtol=1e-4):
            return (f"your gradient for `{names[index_of]}` is the right gradient for `{names[j]}`: "
                    "are the returned gradients in the wrong order, or the inputs mixed up?")
    return ""


def check_gradients(fn, *inputs, analytic=None, name=None, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Check a backward against finite differences and say, in plain words, what is wrong.

    fn        a Function subclass (its .apply is called), or a function of the inputs
              returning a tensor (or a tuple of tensors)
    inputs    Tensors (float64 for a meaningful check) and any other arguments
    analytic  optional: your own gradient function instead of minigrad's backward. It gets
              the inputs' values (NumPy arrays, or floats for 0-d inputs) and returns dL/dx for
              each checked input, where L = fn(*inputs).sum() (the output must be a scalar or
              you compute the gradient of the sum)
    name      what to call fn in the message (default: its name)

    Returns a Verdict: true when every gradient matches. Otherwise its text names the stage
    that failed (forward, backward, not written yet), the input by its parameter name, the
    element with the largest error, your value and the numerical one, and a hint when the
    numbers suggest one (all zeros, the sign flipped, a constant factor, two inputs swapped).
    """
    call = fn.apply if isinstance(fn, type) else fn
    name = name or _display_name(fn)
    names = _argument_names(fn, len(inputs))
    checked = _checked_inputs(inputs)
    if not checked:
        raise ValueError(f"check_gradients({name}): no floating-point tensor among the inputs "
                         f"({', '.join(type(x).__name__ for x in inputs)}); pass mg.tensor(..., "
                         "dtype='float64', requires_grad=True) values")
    rng = np.random.default_rng(seed)
    try:
        with autograd.no_grad():
            outputs = _outputs(call(*inputs))
    except Exception as exc:        # the learner's forward: report it, whatever it raised
        return _raised("forward", name, exc)
    if not outputs:
        return Verdict(False, f"✗ {name}: the forward returned no floating-point tensor "
                              "(did it return an array instead of the result of .apply?)")
    if analytic is None:
        vs, loss = _projection(outputs, rng)
        try:
            grads = _analytic(call, inputs, checked, vs)
        except Exception as exc:
            return _raised("backward", name, exc)
        stage = "backward"
    else:
        vs = [np.ones(y.shape) for y in outputs]

        def loss(ys):
            return float(sum(np.sum(backend.to_numpy(y.data).astype(np.float64)) for y in ys))
        values = [backend.to_numpy(inputs[i].data).astype(np.float64) for i in checked]
        values = [float(v) if v.ndim == 0 else v for v in values]
        try:
            result = analytic(*values)
        except Exception as exc:
            return _raised("gradient function", name, exc)
        result = result if isinstance(result, (tuple, list)) else (result,)
        if len(result) != len(checked):
            return Verdict(False, f"✗ {name}: your gradient function returned {len(result)} "
                                  f"value(s), one per input is needed ({len(checked)}: "
                                  f"{', '.join(names[i] for i in checked)})")
        grads = [np.asarray(backend.to_numpy(g.data) if isinstance(g, Tensor) else g, dtype=np.float64)
                 for g in result]
        stage = "gradient function"
    numericals = {i: numerical_grad(call, inputs, i, loss, eps) for i in checked}

    lines, worst_ok = [], 0.0
    for i, g in zip(checked, grads):
        numerical = numericals[i]
        label = f"`{names[i]}` (input {i}, shape {tuple(numerical.shape)})"
        if g.shape != numerical.shape:
            lines.append(f"✗ {name}: the gradient of {label} has shape {tuple(g.shape)}; it must have "
                         "the input's shape (sum over the axes that broadcasting added?)")
            continue
        error = np.abs(g - numerical)
        allowed = atol + rtol * np.abs(numerical)
        bad = ~(error <= allowed)
        if not bad.any():
            worst_ok = max(worst_ok, float(np.max(error, initial=0.0)))
            continue
        worst = np.unravel_index(np.argmax(np.where(np.isfinite(error), error, np.inf)), error.shape)
        where = f"at element {tuple(int(k) for k in worst)}" if g.ndim else "its value"
        text = (f"✗ {name}: the gradient of {label} is wrong.\n"
                f"  {where}: your {stage} gives {float(g[worst]):.6g}, finite differences give "
                f"{float(numerical[worst]):.6g} (difference {float(error[worst]):.3g}, allowed "
                f"{float(allowed[worst]):.3g}); {int(bad.sum())} of {bad.size} element(s) are off.")
        hint = _hint(g, numerical, {j: n for j, n in numericals.items() if j != i}, names, i)
        if hint:
            text += f"\n  Hint: {hint}"
        lines.append(text)
    if lines:
        return Verdict(False, "\n".join(lines))
    listed = ", ".join(f"{names[i]} {tuple(numericals[i].shape)}" for i in checked)
    return Verdict(True, f"✓ {name}: the gradients of {listed} match finite differences "
                         f"(largest difference {worst_ok:.2g}).")


def check_arrays(yours, expected, what="your result", against="the expected values", atol=1e-6,
                 rtol=1e-5):
    """Compare an array you computed with the expected one; a Verdict in plain words.

    Says whether the shapes differ, where the largest difference is (your value and the
    expected one) and how many elements are off. `yours` may be a function of no arguments
    (a lambda around your code): an error it raises, NotImplementedError included, is then
    reported in words instead of stopping the notebook.

        check_arrays(lambda: my_im2col(x), reference, what="im2col(x)", against="F.conv2d's columns")
    """
    if callable(yours) and not isinstance(yours, (Tensor, np.ndarray)):
        try:
            yours = yours()
        except Exception as exc:       # the learner's code: report whatever it raised
            return _raised("code", what, exc)
    try:
        mine = np.asarray(backend.to_numpy(yours.data) if isinstance(yours, Tensor) else yours,
                          dtype=np.float64)
    except (TypeError, ValueError) as exc:
        return Verdict(False, f"✗ {what} is not an array of numbers ({type(yours).__name__}: {exc})")
    ref = np.asarray(backend.to_numpy(expected.data) if isinstance(expected, Tensor) else expected,
                     dtype=np.float64)
    if mine.shape != ref.shape:
        return Verdict(False, f"✗ {what} has shape {mine.shape}, {against} have shape {ref.shape}.")
    error = np.abs(mine - ref)
    bad = ~(error <= atol + rtol * np.abs(ref))
    if bad.any():
        worst = np.unravel_index(np.argmax(np.where(np.isfinite(error), error, np.inf)), error.shape)
        where = f"at element {tuple(int(k) for k in worst)}" if mine.ndim else "the value"
        return Verdict(False, f"✗ {what} differs from {against}: {where} yours is "
                              f"{float(mine[worst]):.6g}, expected {float(ref[worst]):.6g}; "
                              f"{int(bad.sum())} of {bad.size} element(s) are off.")
    return Verdict(True, f"✓ {what} matches {against} (shape {mine.shape}, largest difference "
                         f"{float(np.max(error, initial=0.0)):.2g}).")
