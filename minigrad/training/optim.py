"""Optimizers: SGD (momentum, Nesterov), RMSprop and Adam, with Keras' update rules.

    opt = Adam(model.parameters(), lr=1e-3)
    for x, y in batches:
        opt.zero_grad()
        loss = losses.mse(y, model(x))
        loss.backward()
        opt.step()

Each class docstring writes out its update rule; the formulas, the defaults and where
epsilon goes are Keras 3's, so numbers from a Keras lesson carry over.

Two ways to call the constructors, told apart by the type of the first argument:
    Adam(model.parameters(), lr=1e-3)   parameters first (an iterable of tensors, a Tensor,
    Adam(params, 1e-3)                  or a dict of them), then the settings
    Adam(0.0002, 0.5)                   Keras' order: learning_rate, beta_1, ... (a number first)
After the parameters, the positional order is Keras 3's in both styles:
    SGD(learning_rate, momentum, nesterov), RMSprop(learning_rate, rho, momentum, epsilon,
    centered), Adam(learning_rate, beta_1, beta_2, epsilon, amsgrad).
`params` may be left out when the optimizer is handed to compile(), which binds the
model's trainable parameters.

State per parameter. The optimizer keeps each parameter's state (moments, Adam's step count)
keyed by the parameter object itself, so one instance can serve several models: keras-gan
compiles one Adam(0.0002, 0.5) into the discriminator and into the combined model, and each
model's fit/train_on_batch calls step(that_models_parameters), which updates exactly those.
Binding other parameters later keeps everyone's state. Adam's bias correction uses each
parameter's own step count t (as PyTorch does), not one count per optimizer (Keras 2's
`iterations`): with a shared counter, a parameter updated every other step would be
bias-corrected as if it had taken twice as many steps, i.e. as if its moments were warmed
up when they are not. `iterations` still counts step() calls, Keras' name.

On every step() a parameter p is skipped, bit for bit untouched, when p.grad is None or
p.trainable is False (a frozen layer). Updates run under no_grad and write p.data in place
with the array module's out= ops, on buffers the optimizer owns (its state and one scratch
array per parameter), so a step allocates nothing and float32 parameters stay float32.
Because the update is in place, arrays that share p.data's memory (p.detach()) see it too,
and each update counts as a new version of p: a graph that used p before the step raises
in backward instead of computing a gradient from the new values. After model.to(device) (or
a cast) a parameter's state follows it at its next step.

Common settings:
    lr            the learning rate (`learning_rate=` is accepted too, Keras' name): set
                  opt.lr between epochs; it must be a finite number >= 0
    weight_decay  decoupled weight decay, as Keras' `weight_decay`: before each update
                  p <- p - lr * weight_decay * p  (applied as p *= 1 - lr * weight_decay),
                  independent of the gradient (AdamW-style), 0 = off.
state_dict() / load_state_dict() save and restore the step counts, the hyperparameters and
every state array (host NumPy copies, ready for np.savez), for a bit-identical resume.
"""
from __future__ import annotations

import math

from ..engine import backend
from ..engine.autograd import no_grad
from ..engine.tensor import Tensor

np = backend.np   # host arrays for state_dict only; updates use the parameters' own xp


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def _check_lr(owner: str, value) -> float:
    """A learning rate as a float; NaN, inf and negative rates are errors."""
    try:
        lr = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: the learning rate must be a number, got {value!r}") from None
    if not math.isfinite(lr) or lr < 0:
        raise ValueError(f"{owner}: the learning rate must be a finite number >= 0, got {value!r}")
    return lr


class Optimizer:
    """Base class: the bound parameters, each parameter's state, the step count.

    A subclass names its per-parameter state arrays in `_slot_names()`, computes per-step
    constants in `_coefficients(lr, t)` (t: that parameter's step, 1, 2, ...) and updates one
    parameter in `_update(...)`.
    """
    hyperparameters = ("lr", "weight_decay")

    def __init__(self, params=None, lr=0.01, weight_decay=0.0):
        self.lr = lr
        self.weight_decay = float(weight_decay or 0.0)
        if self.weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: weight_decay must be >= 0, got {weight_decay}")
        self.iterations = 0          # step() calls (Keras' name)
        self.params = []             # the bound parameters: what step() updates by default
        self._state = {}             # parameter -> {slot name: array, "scratch": array, "step": t}
        self._bound = False
        self.params_given = False    # True when the user chose the parameters (here or in bind)
        if params is not None:
            self.bind(params)
            if not self.params:
                raise ValueError(
                    f"{type(self).__name__}: the parameters given are empty, so nothing would train. "
                    "A layer or model creates its weights when it is built: build it first (call it "
                    "on a batch, or give its first layer input_shape=), or leave the parameters out "
                    "and hand the optimizer to model.compile(), which binds them when training starts")

    @staticmethod
    def _arguments(cls_name, args, names, given, aliases):
        """Sort out the two call styles into (params, settings).

        args     the positional arguments: [params,] then settings in `names` order
        given    the keyword arguments, None where not given
        aliases  {alias: name} (learning_rate -> lr, epsilon -> eps)
        """
        params = None
        if args and not _is_number(args[0]):
            params, args = args[0], args[1:]
        if len(args) > len(names):
            raise TypeError(f"{cls_name}: at most {len(names)} settings by position ({', '.join(names)}), "
                            f"got {len(args)}")
        settings = dict(given)
        for alias, name in aliases.items():
            value = settings.pop(alias)
            if value is not None:
                if settings[name] is not None and settings[name] != value:
                    raise TypeError(f"{cls_name}: {name}={settings[name]!r} and {alias}={value!r} given; "
                                    f"they are the same setting, give one")
                settings[name] = value
        for name, value in zip(names, args):
            if settings[name] is not None:
                raise TypeError(f"{cls_name}: {name} given both by position and by keyword")
            settings[name] = value
        return params, settings

    @property
    def lr(self) -> float:
        """The learning rate; setting it checks it (finite, >= 0)."""
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = _check_lr(type(self).__name__, value)

    learning_rate = property(lambda self: self.lr, lambda self, value: setattr(self, "lr", value),
                             doc="Keras' name for lr.")

    # ------------------------------------------------------------------ parameters
    def _unique(self, params) -> list:
        """`params` (a Tensor, an iterable or a dict of them) as a list without repeats, checked."""
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, dict):
            params = params.values()
        elif _is_number(params) or isinstance(params, str):
            raise TypeError(f"{type(self).__name__}: parameters must be tensors, got {params!r}")
        unique, seen = [], set()
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameters must be Tensors, got {type(p).__name__}")
            if not backend.is_floating(p.dtype):
                raise TypeError(f"{type(self).__name__}: parameter of dtype {p.dtype} cannot be optimized; "
                                "parameters must be floating point")
            if id(p) not in seen:                 # a shared parameter is updated once
                seen.add(id(p))
                unique.append(p)
        return unique

    def bind(self, params, given=True):
        """Make `params` (an iterable of tensors) the ones step() updates by default. Returns self.

        The state of every parameter stays: binding the same parameters again (compile()
        called twice) or other ones (a second model sharing this optimizer) loses nothing.
        given=False is a model's compile() binding its own parameters: another model's
        compile() may then bind its own instead (the user's choice, given=True, stays).
        """
        self.params = self._unique(params)
        self._bound = True
        self.params_given = bool(given) and bool(self.params)
        return self

    def zero_grad(self):
        """Forget every bound parameter's gradient (sets .grad to None)."""
        for p in self.params:
            p.grad = None

    # ------------------------------------------------------------------ the step
    def step(self, params=None):
        """Update every parameter of `params` (default: the bound ones) that has a gradient and
        is trainable; the others are left bit for bit as they are. A gradient with a NaN or inf
        in it raises NonFiniteGradient before any parameter changes."""
        if params is None:
            if not self._bound:
                raise RuntimeError(f"{type(self).__name__}.step(): no parameters; pass them to the "
                                   "constructor, to step(params) or call bind(params) (compile() "
                                   "does this for a model)")
            params = self.params
        else:
            params = self._unique(params)
        check_finite_gradients(type(self).__name__ + ".step", params)
        lr = self._lr
        decay = 1.0 - lr * self.weight_decay if self.weight_decay else None
        with no_grad():
            for i, p in enumerate(params):
                grad = p.grad
                if grad is None or not getattr(p, "trainable", True):
                    continue
                w, g = p.data, grad.data
                if g.shape != w.shape:
                    name = f" '{p.name}'" if p.name else ""
                    raise ValueError(f"{type(self).__name__}: parameter {i}{name} has shape {tuple(w.shape)} "
                                     f"but its gradient has shape {tuple(g.shape)}")
                state = self._state_of(p)
                state["step"] += 1
                if decay is not None:
                    w *= decay
                self._update(w, g, state, self._coefficients(lr, state["step"]))
                p._bump_version()           # an in-place write: graphs that read the old p are stale
        self.iterations += 1

    def apply(self, grads, params=None):
        """Keras 3's optimizer.apply(grads, trainable_variables): step with these gradients
        (a list, one per parameter; None leaves that parameter as it is)."""
        params = self.params if params is None else list(params)
        grads = list(grads)
        if len(grads) != len(params):
            raise ValueError(f"{type(self).__name__}.apply: {len(grads)} gradients for {len(params)} parameters")
        for p, g in zip(params, grads):
            p.grad = g
        self.step(params)

    def apply_gradients(self, grads_and_vars):
        """Keras' apply_gradients(zip(grads, variables))."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [p for _, p in pairs])

    def _state_of(self, p) -> dict:
        """p's state, made on its first update and moved when p changed device or dtype."""
        state = self._state.get(p)
        if state is None or state["scratch"].shape != p.data.shape:
            state = self._state[p] = self._new_state(p)
        elif backend.device_of(state["scratch"]) != p.device or state["scratch"].dtype != p.dtype:
            state = self._state[p] = self._new_state(      # model.to(device): follow the parameter
                p, {name: backend.to_numpy(state[name]) for name in self._slot_names()}, state["step"])
        return state

    def _slot_names(self) -> tuple:
        return ()

    def _coefficients(self, lr: float, t: int):
        return lr

    def _update(self, w, g, state, c):
        raise NotImplementedError

    def _new_state(self, p, slots=None, step=0):
        """State arrays of p's shape, dtype and device: zeros, or the host arrays in `slots`."""
        xp = backend.xp_for(p.device)
        with backend.device_context(p.device):
            state = {name: xp.zeros(p.shape, dtype=p.dtype) for name in self._slot_names()}
            state["scratch"] = xp.empty(p.shape, dtype=p.dtype)
        if slots:
            for name, host in slots.items():
                state[name] = backend.asarray(np.array(host, dtype=p.dtype, copy=True),
                                              dtype=p.dtype, device=p.device)
        state["step"] = int(step)
        return state

    # ------------------------------------------------------------------ saving and resuming
    def state_dict(self, params=None) -> dict:
        """Everything a bit-identical resume needs, as host NumPy arrays (np.savez-ready).

        params: whose state to save (default: the bound parameters), e.g. one model's
        parameters when several models share this optimizer; i below is the position in it.
        Keys: "class", "iterations", "num_params", one per hyperparameter, and, for each
        parameter i updated so far, "step.<i>" and "<slot>.<i>" for each state array.
        """
        params = self.params if params is None else self._unique(params)
        out = {"class": np.array(type(self).__name__), "iterations": np.array(self.iterations, dtype=np.int64),
               "num_params": np.array(len(params), dtype=np.int64)}
        for name in self.hyperparameters:
            out[name] = np.array(getattr(self, name))
        for i, p in enumerate(params):
            state = self._state.get(p)
            if state is not None:
                out[f"step.{i}"] = np.array(state["step"], dtype=np.int64)
                for name in self._slot_names():
                    out[f"{name}.{i}"] = backend.to_numpy(state[name])
        return out

    def check_state_dict(self, state, params=None) -> None:
        """Raise, naming what does not fit, if `state` cannot be loaded onto `params`; changes nothing."""
        self._read_state_dict(state, params)

    def load_state_dict(self, state, params=None) -> None:
        """Restore a state_dict() (a dict or an np.load() result) onto `params` (default: the
        bound ones), on their devices. Everything is checked before anything changes."""
        hyper, iterations, per_param = self._read_state_dict(state, params)
        for name, value in hyper.items():
            setattr(self, name, value)
        self.iterations = iterations
        for p, (found, step) in per_param.items():
            if found is None:
                self._state.pop(p, None)
            else:
                self._state[p] = self._new_state(p, found, step)

    def _read_state_dict(self, state, params):
        """(hyperparameters, iterations, {param: (host slots or None, step)}), all checked."""
        params = self.params if params is None else self._unique(params)
        me = type(self).__name__
        for key in ("class", "iterations", "num_params"):
            if key not in state:
                raise ValueError(f"load_state_dict: the state has no '{key}' entry; it is not a "
                                 f"minigrad optimizer state_dict()")
        kind = str(np.asarray(state["class"]))
        if kind != me:
            raise ValueError(f"load_state_dict: the state is from a {kind} optimizer, not {me}")
        n = int(np.asarray(state["num_params"]))
        if n != len(params):
            raise ValueError(f"load_state_dict: the state is for {n} parameter(s) but this {me} "
                             f"has {len(params)}; bind the same parameters first")
        hyper = {}
        for name in self.hyperparameters:
            if name in state:
                value = np.asarray(state[name])
                hyper[name] = bool(value) if value.dtype == bool else value.item()
        if "lr" in hyper:
            _check_lr(f"load_state_dict ({me})", hyper["lr"])
        iterations = int(np.asarray(state["iterations"]))
        slots = self._slot_names()
        per_param = {}
        for i, p in enumerate(params):
            found = {name: np.asarray(state[f"{name}.{i}"]) for name in slots if f"{name}.{i}" in state}
            if not found and f"step.{i}" not in state:
                per_param[p] = (None, 0)
                continue
            if len(found) != len(slots):
                missing = sorted(set(slots) - set(found))
                raise ValueError(f"load_state_dict: parameter {i} lacks state {missing}")
            for name, host in found.items():
                if tuple(host.shape) != p.shape:
                    raise ValueError(f"load_state_dict: state '{name}.{i}' has shape {tuple(host.shape)} but "
                                     f"parameter {i} has shape {p.shape}")
            # files from before per-parameter steps: every parameter had taken `iterations` steps
            step = int(np.asarray(state[f"step.{i}"])) if f"step.{i}" in state else iterations
            per_param[p] = (found, step)
        return hyper, iterations, per_param

    def __repr__(self):
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.hyperparameters)
        return f"{type(self).__name__}({settings})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum. Keras' rule:

        momentum = 0:   p <- p - lr * g
        momentum > 0:   v <- momentum * v - lr * g
                        p <- p + v                          (nesterov=False)
                        p <- p + momentum * v - lr * g      (nesterov=True, with the new v)
    v starts at 0. SGD([params,] learning_rate=0.01, momentum=0.0, nesterov=False,
    weight_decay=0.0), Keras' defaults and positional order.
    """
    hyperparameters = ("lr", "momentum", "nesterov", "weight_decay")

    def __init__(self, *args, lr=None, momentum=None, nesterov=None, weight_decay=None, learning_rate=None):
        params, s = self._arguments("SGD", args, ("lr", "momentum", "nesterov", "weight_decay"),
                                    dict(lr=lr, momentum=momentum, nesterov=nesterov,
                                         weight_decay=weight_decay, learning_rate=learning_rate),
                                    {"learning_rate": "lr"})
        momentum = 0.0 if s["momentum"] is None else s["momentum"]
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be in [0, 1], got {momentum}")
        self.momentum = float(momentum)
        self.nesterov = bool(s["nesterov"])
        super().__init__(params, 0.01 if s["lr"] is None else s["lr"], s["weight_decay"])

    def _slot_names(self):
        return ("momentum",) if self.momentum else ()

    def _update(self, w, g, state, lr):
        xp = backend.xp_of(w)
        step = state["scratch"]
        xp.multiply(g, lr, out=step)                   # lr * g
        if not self.momentum:
            w -= step
            return
        v = state["momentum"]
        v *= self.momentum
        v -= step                                      # v = momentum * v - lr * g
        if self.nesterov:
            w -= step
            xp.multiply(v, self.momentum, out=step)
            w += step                                  # p + momentum * v - lr * g
        else:
            w += v


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root-mean-square. Keras' rule:

        a <- rho * a + (1 - rho) * g^2
        increment = lr * g / sqrt(a + eps)                 (eps inside the root, as Keras)
        p <- p - increment                                 (momentum = 0)
        m <- momentum * m + increment;  p <- p - m         (momentum > 0)
    centered=True also tracks mean_g <- rho * mean_g + (1 - rho) * g and uses
    sqrt(a - mean_g^2 + eps). a, m, mean_g start at 0. RMSprop([params,] learning_rate=1e-3,
    rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, weight_decay=0.0), Keras' defaults
    and positional order (`eps=` is accepted for epsilon).
    """
    hyperparameters = ("lr", "rho", "momentum", "eps", "centered", "weight_decay")

    def __init__(self, *args, lr=None, rho=None, momentum=None, eps=None, centered=None, weight_decay=None,
                 learning_rate=None, epsilon=None):
        params, s = self._arguments("RMSprop", args, ("lr", "rho", "momentum", "eps", "centered", "weight_decay"),
                                    dict(lr=lr, rho=rho, momentum=momentum, eps=eps, centered=centered,
                                         weight_decay=weight_decay, learning_rate=learning_rate,
                                         epsilon=epsilon),
                                    {"learning_rate": "lr", "epsilon": "eps"})
        rho = 0.9 if s["rho"] is None else s["rho"]
        momentum = 0.0 if s["momentum"] is None else s["momentum"]
        if not 0 <= rho < 1:
            raise ValueError(f"RMSprop: rho must be in [0, 1), got {rho}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"RMSprop: momentum must be in [0, 1], got {momentum}")
        self.rho = float(rho)
        self.eps = float(1e-7 if s["eps"] is None else s["eps"])
        self.momentum = float(momentum)
        self.centered = bool(s["centered"])
        super().__init__(params, 1e-3 if s["lr"] is None else s["lr"], s["weight_decay"])

    def _slot_names(self):
        return (("velocity",) + (("momentum",) if self.momentum else ())
                + (("average_gradient",) if self.centered else ()))

    def _update(self, w, g, state, lr):
        xp = backend.xp_of(w)
        a, s = state["velocity"], state["scratch"]
        a *= self.rho
        xp.multiply(g, g, out=s)
        s *= 1 - self.rho
        a += s                                         # a = rho a + (1 - rho) g^2
        if self.centered:
            mean_g = state["average_gradient"]
            mean_g *= self.rho
            xp.multiply(g, 1 - self.rho, out=s)
            mean_g += s
            xp.multiply(mean_g, mean_g, out=s)
            xp.subtract(a, s, out=s)
            s += self.eps                              # a - mean_g^2 + eps
        else:
            xp.add(a, self.eps, out=s)                 # a + eps
        xp.sqrt(s, out=s)
        xp.divide(g, s, out=s)
        s *= lr                                        # increment = lr g / sqrt(...)
        if self.momentum:
            m = state["momentum"]
            m *= self.momentum
            m += s
            w -= m
        else:
            w -= s


class Adam(Optimizer):
    """Adam: per-parameter steps from running moments of g and g^2. Keras' rule, at step t = 1, 2, ...:

        m <- m + (1 - beta_1) * (g - m)                    (= beta_1 m + (1 - beta_1) g)
        v <- v + (1 - beta_2) * (g^2 - v)
        lr_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)    (bias correction folded into lr)
        p <- p - lr_t * m / (sqrt(v) + eps)                (eps outside the root, "epsilon hat")
    amsgrad=True divides by sqrt(v_max) with v_max <- max(v_max, v). m, v start at 0; t counts
    this parameter's updates (see the module docstring). Adam([params,] learning_rate=1e-3,
    beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=0.0), Keras' defaults
    and positional order (`eps=` is accepted for epsilon). With weight_decay > 0 this is AdamW.
    """
    hyperparameters = ("lr", "beta_1", "beta_2", "eps", "amsgrad", "weight_decay")

    def __init__(self, *args, lr=None, beta_1=None, beta_2=None, eps=None, amsgrad=None, weight_decay=None,
                 learning_rate=None, epsilon=None):
        params, s = self._arguments("Adam", args, ("lr", "beta_1", "beta_2", "eps", "amsgrad", "weight_decay"),
                                    dict(lr=lr, beta_1=beta_1, beta_2=beta_2, eps=eps, amsgrad=amsgrad,
                                         weight_decay=weight_decay, learning_rate=learning_rate,
                                         epsilon=epsilon),
                                    {"learning_rate": "lr", "epsilon": "eps"})
        beta_1 = 0.9 if s["beta_1"] is None else s["beta_1"]
        beta_2 = 0.999 if s["beta_2"] is None else s["beta_2"]
        for name, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0 <= beta < 1:
                raise ValueError(f"Adam: {name} must be in [0, 1), got {beta}")
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.eps = float(1e-7 if s["eps"] is None else s["eps"])
        self.amsgrad = bool(s["amsgrad"])
        super().__init__(params, 1e-3 if s["lr"] is None else s["lr"], s["weight_decay"])

    def _slot_names(self):
        return ("momentum", "velocity") + (("velocity_hat",) if self.amsgrad else ())

    def _coefficients(self, lr, t):
        return lr * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)

    def _update(self, w, g, state, lr_t):
        xp = backend.xp_of(w)
        m, v, s = state["momentum"], state["velocity"], state["scratch"]
        xp.subtract(g, m, out=s)
        s *= 1 - self.beta_1
        m += s
        xp.multiply(g, g, out=s)
        s -= v
        s *= 1 - self.beta_2
        v += s
        if self.amsgrad:
            v = xp.maximum(state["velocity_hat"], v, out=state["velocity_hat"])
        xp.sqrt(v, out=s)
        s += self.eps
        xp.divide(m, s, out=s)
        s *= lr_t
        w -= s


_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def get(identifier, params=None) -> Optimizer:
    """An optimizer from a Keras name ("sgd", "rmsprop", "adam"; Keras defaults) or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier if params is None else identifier.bind(params)
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        opt = _BY_NAME[identifier.lower()]()
        return opt if params is None else opt.bind(params)
    raise ValueError(f"unknown optimizer {identifier!r}; use 'sgd', 'rmsprop', 'adam' or an Optimizer "
                     "instance such as minigrad.optim.Adam(learning_rate=2e-4, beta_1=0.5)")


# ---------------------------------------------------------------------- the guard of every step

HINT = ("Run the step under `with mg.detect_anomaly():` to find the op that made it; common causes: "
        "NaN/inf in the data, a learning rate too large, inputs not scaled as the model expects "
        "(e.g. 0-255 pixels where [0, 1] is expected).")


class NonFiniteGradient(FloatingPointError):
    """A gradient holds NaN or inf; `parameter` is the tensor, `parameter_label` how the
    message names it (a trainer replaces it with the parameter's path in its model)."""

    def __init__(self, message, parameter, parameter_label):
        super().__init__(message)
        self.parameter, self.parameter_label = parameter, parameter_label


def check_finite_gradients(where: str, params, loss=None) -> None:
    """Raise NonFiniteGradient if any parameter's gradient holds NaN or inf.

    Every optimizer step runs it first, so a non-finite gradient never reaches a weight: the
    weights stay those of the last good step. Elements are tested one by one (isfinite of
    each, then all): a sum of finite float32 values may overflow to inf, an element may not.
    """
    for i, p in enumerate(params):
        if p.grad is None:
            continue
        g = p.grad.data
        if not bool(backend.xp_of(g).isfinite(g).all()):
            label = f"'{p.name}'" if getattr(p, "name", None) else f"{i}"
            although = "" if loss is None else f" although the loss is finite ({loss:.6g})"
            raise NonFiniteGradient(
                f"{where}: the gradient of parameter {label} (shape {tuple(p.shape)}) has NaN or inf "
                f"values{although}; the weights are those of the last good step. {HINT}", p, label)


def check_finite_step(where: str, loss, params) -> None:
    """Raise FloatingPointError if the loss or a parameter's gradient holds NaN or inf.

    For hand-written loops: call it between backward() and optimizer.step() to name the step
    (`where`, e.g. "Trainer.step, batch 12") and to stop on a NaN loss, whose gradients may
    still be finite. The gradients are checked by the optimizer's step too.
    """
    value = float(loss.item() if isinstance(loss, Tensor) and loss.size == 1 else loss)
    if not math.isfinite(value):
        raise FloatingPointError(f"{where}: the loss is {value}; the weights are those of the last "
                                 f"good step. {HINT}")
    check_finite_gradients(where, params, value)
