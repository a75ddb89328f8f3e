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
