"""Optimizers: SGD (momentum, Nesterov), RMSprop and Adam, with Keras' update rules.

    opt = Adam(model.parameters(), lr=1e-3)
    for x, y in batches:
        opt.zero_grad()
        loss = losses.mse(y, model(x))
        loss.backward()
        opt.step()

Each class docstring writes out its update rule; the formulas, the defaults and where
epsilon goes are Keras 3's, so numbers from a Keras lesson carry over. `params` may be left
out when the optimizer is handed to Sequential.compile(), which calls `bind()` with the
model's trainable parameters.

On every step() a parameter p is skipped, bit for bit untouched, when p.grad is None or
p.trainable is False (a frozen layer). Updates run under no_grad and write p.data in place
with the array module's out= ops, on buffers the optimizer owns (its state and one scratch
array per parameter), so a step allocates nothing and float32 parameters stay float32.
Because the update is in place, arrays that share p.data's memory (p.detach()) see it too.

Common settings:
    lr            the learning rate, a plain attribute: set opt.lr between epochs
                  (`learning_rate=` is accepted too, Keras' name)
    weight_decay  decoupled weight decay, as Keras' `weight_decay`: before each update
                  p <- p - lr * weight_decay * p  (applied as p *= 1 - lr * weight_decay),
                  independent of the gradient (AdamW-style), 0 = off.
state_dict() / load_state_dict() save and restore the step count, the hyperparameters and
every state array (host NumPy copies, ready for np.savez), for a bit-identical resume.
"""
from __future__ import annotations

import math

from . import backend
from .autograd import no_grad
from .tensor import Tensor

np = backend.np   # host arrays for state_dict only; updates use the parameters' own xp


class Optimizer:
    """Base class: holds the parameters, their state arrays, the step count.

    A subclass names its per-parameter state arrays in `_slot_names()`, computes per-step
    constants in `_coefficients(lr, t)` and updates one parameter in `_update(...)`.
    """
    hyperparameters = ("lr", "weight_decay")

    def __init__(self, params=None, lr=0.01, weight_decay=0.0, learning_rate=None):
        self.lr = lr if learning_rate is None else learning_rate
        self.weight_decay = float(weight_decay or 0.0)
        if self.weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: weight_decay must be >= 0, got {weight_decay}")
        self.iterations = 0          # steps taken (Keras' name); Adam's t is iterations + 1
        self.params = []
        self._state = []             # per parameter: {slot name: array, "scratch": array} or None
        self._bound = False
        if params is not None:
            self.bind(params)

    learning_rate = property(lambda self: self.lr, lambda self, value: setattr(self, "lr", value),
                             doc="Keras' name for lr.")

    # ------------------------------------------------------------------ parameters
    def bind(self, params):
        """Optimize `params` (an iterable of tensors). Returns self.

        Binding the same parameters again (compile() called twice) keeps the state; binding
        different ones starts afresh (new state, step count 0).
        """
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, dict):
            params = params.values()
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
        if self._bound and [id(p) for p in unique] == [id(p) for p in self.params]:
            return self
        self.params = unique
        self._state = [None] * len(unique)
        self.iterations = 0
        self._bound = True
        return self

    def zero_grad(self):
        """Forget every parameter's gradient (sets .grad to None)."""
        for p in self.params:
            p.grad = None

    # ------------------------------------------------------------------ the step
    def step(self):
        """Apply one update to every parameter that has a gradient and is trainable."""
        if not self._bound:
            raise RuntimeError(f"{type(self).__name__}.step(): no parameters; pass them to the "
                               "constructor or call bind(params) (compile() does this for a model)")
        lr = float(self.lr)
        coefficients = self._coefficients(lr, self.iterations + 1)
        decay = 1.0 - lr * self.weight_decay if self.weight_decay else None
        with no_grad():
            for i, p in enumerate(self.params):
                grad = p.grad
                if grad is None or not getattr(p, "trainable", True):
                    continue
                w, g = p.data, grad.data
                if g.shape != w.shape:
                    raise ValueError(f"{type(self).__name__}: parameter {i} has shape {tuple(w.shape)} but "
                                     f"its gradient has shape {tuple(g.shape)}")
                state = self._state[i]
                if state is None or state["scratch"].shape != w.shape:
                    state = self._state[i] = self._new_state(p)
                if decay is not None:
                    w *= decay
                self._update(w, g, state, coefficients)
        self.iterations += 1

    def _slot_names(self) -> tuple:
        return ()

    def _coefficients(self, lr: float, t: int):
        return lr

    def _update(self, w, g, state, c):
        raise NotImplementedError

    def _new_state(self, p, slots=None):
        """Zeroed state arrays (and a scratch buffer) of p's shape, dtype and device."""
        xp = backend.xp_for(p.device)
        with backend.device_context(p.device):
            state = {name: xp.zeros(p.shape, dtype=p.dtype) for name in self._slot_names()}
            state["scratch"] = xp.empty(p.shape, dtype=p.dtype)
        if slots:
            for name, host in slots.items():
                state[name] = backend.asarray(np.array(host, dtype=p.dtype, copy=True),
                                              dtype=p.dtype, device=p.device)
        return state

    # ------------------------------------------------------------------ saving and resuming
    def state_dict(self) -> dict:
        """Everything a bit-identical resume needs, as host NumPy arrays (np.savez-ready).

        Keys: "class", "iterations", "num_params", one per hyperparameter, and
        "<slot>.<i>" for each state array of parameter i (only parameters updated so far).
        """
        out = {"class": np.array(type(self).__name__), "iterations": np.array(self.iterations, dtype=np.int64),
               "num_params": np.array(len(self.params), dtype=np.int64)}
        for name in self.hyperparameters:
            out[name] = np.array(getattr(self, name))
        for i, state in enumerate(self._state):
            if state is not None:
                for name in self._slot_names():
                    out[f"{name}.{i}"] = backend.to_numpy(state[name])
        return out

    def load_state_dict(self, state) -> None:
        """Restore a state_dict() (a dict or an np.load() result) onto the bound parameters' devices."""
        kind = str(np.asarray(state["class"]))
        if kind != type(self).__name__:
            raise ValueError(f"load_state_dict: the state is from a {kind} optimizer, not {type(self).__name__}")
        n = int(np.asarray(state["num_params"]))
        if n != len(self.params):
            raise ValueError(f"load_state_dict: the state is for {n} parameter(s) but this {type(self).__name__} "
                             f"has {len(self.params)}; bind the same parameters first")
        for name in self.hyperparameters:
            if name in state:
                value = np.asarray(state[name])
                setattr(self, name, bool(value) if value.dtype == bool else value.item())
        slots = self._slot_names()
        new_state = []
        for i, p in enumerate(self.params):
            found = {name: np.asarray(state[f"{name}.{i}"]) for name in slots if f"{name}.{i}" in state}
            if not found:
                new_state.append(None)
                continue
            if len(found) != len(slots):
                missing = sorted(set(slots) - set(found))
                raise ValueError(f"load_state_dict: parameter {i} lacks state {missing}")
            for name, host in found.items():
                if tuple(host.shape) != p.shape:
                    raise ValueError(f"load_state_dict: state '{name}.{i}' has shape {tuple(host.shape)} but "
                                     f"parameter {i} has shape {p.shape}")
            new_state.append(self._new_state(p, found))
        self.iterations = int(np.asarray(state["iterations"]))
        self._state = new_state

    def __repr__(self):
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.hyperparameters)
        return f"{type(self).__name__}({settings})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum. Keras' rule:

        momentum = 0:   p <- p - lr * g
        momentum > 0:   v <- momentum * v - lr * g
                        p <- p + v                          (nesterov=False)
                        p <- p + momentum * v - lr * g      (nesterov=True, with the new v)
    v starts at 0. Defaults as Keras: lr=0.01, momentum=0.
    """
    hyperparameters = ("lr", "momentum", "nesterov", "weight_decay")

    def __init__(self, params=None, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0,
                 learning_rate=None):
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be in [0, 1], got {momentum}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        super().__init__(params, lr, weight_decay, learning_rate)

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
    sqrt(a - mean_g^2 + eps). a, m, mean_g start at 0. Defaults as Keras: lr=1e-3, rho=0.9,
    momentum=0, eps=1e-7 (`epsilon=` is accepted too).
    """
    hyperparameters = ("lr", "rho", "momentum", "eps", "centered", "weight_decay")

    def __init__(self, params=None, lr=1e-3, rho=0.9, eps=1e-7, momentum=0.0, centered=False,
                 weight_decay=0.0, learning_rate=None, epsilon=None):
        if not 0 <= rho < 1:
            raise ValueError(f"RMSprop: rho must be in [0, 1), got {rho}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"RMSprop: momentum must be in [0, 1], got {momentum}")
        self.rho = float(rho)
        self.eps = float(eps if epsilon is None else epsilon)
        self.momentum = float(momentum)
        self.centered = bool(centered)
        super().__init__(params, lr, weight_decay, learning_rate)

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
    every step() (Keras' iterations + 1). Defaults as Keras: lr=1e-3, beta_1=0.9, beta_2=0.999,
    eps=1e-7 (`epsilon=` is accepted too). With weight_decay > 0 this is AdamW.
    """
    hyperparameters = ("lr", "beta_1", "beta_2", "eps", "amsgrad", "weight_decay")

    def __init__(self, params=None, lr=1e-3, beta_1=0.9, beta_2=0.999, eps=1e-7, amsgrad=False,
                 weight_decay=0.0, learning_rate=None, epsilon=None):
        for name, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0 <= beta < 1:
                raise ValueError(f"Adam: {name} must be in [0, 1), got {beta}")
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.eps = float(eps if epsilon is None else epsilon)
        self.amsgrad = bool(amsgrad)
        super().__init__(params, lr, weight_decay, learning_rate)

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
        return _BY_NAME[identifier.lower()](params)
    raise ValueError(f"unknown optimizer {identifier!r}; use 'sgd', 'rmsprop', 'adam' or an Optimizer "
                     "instance such as minigrad.optim.Adam(lr=2e-4, beta_1=0.5)")
