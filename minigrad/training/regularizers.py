"""Weight regularizers: penalties on a layer's weights that join the training loss.

    Dense(64, activation="relu", kernel_regularizer=regularizers.l2(0.001))

    L1(l1)          penalty = l1 * sum(|w|)              d/dw = l1 * sign(w)
    L2(l2)          penalty = l2 * sum(w^2)              d/dw = 2 * l2 * w
    L1L2(l1, l2)    both

These are Keras' definitions (no factor 1/2 on L2; Keras 3's defaults l1 = l2 = 0.01 for
L1 and L2, l1 = l2 = 0 for L1L2). The penalties are ordinary ops on the weights, so their
gradients come from autograd like any other term of the loss; fit() adds every regularized
weight's penalty (listed in model.losses) to the loss at each step.

`kernel_regularizer=` / `bias_regularizer=` take a regularizer, a name ("l1", "l2", "l1_l2"),
or any function of a weight tensor returning a scalar tensor. `activity_regularizer=`
penalises the layer's output instead, once per forward pass: the penalty of the whole batch's
output divided by the batch size, as Keras 3 does (keras/src/layers/layer.py, 3.15: "Normalize
by batch size to ensure consistent regularization strength across batch sizes"), so its weight
in the loss does not grow with the batch. An empty batch adds 0 (Keras' divide_no_nan).
"""
from __future__ import annotations

import math


class Regularizer:
    """Base class: a callable weight -> scalar penalty tensor."""

    def __call__(self, x):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}


def _factor(value, name) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"regularizer: {name} must be a finite number >= 0, got {value}")
    return value


class L1L2(Regularizer):
    """penalty = l1 * sum(|w|) + l2 * sum(w^2)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "l1")
        self.l2 = _factor(l2, "l2")

    def __call__(self, x):
        penalty = None
        if self.l1:
            penalty = self.l1 * x.abs().sum()
        if self.l2:
            term = self.l2 * (x * x).sum()
            penalty = term if penalty is None else penalty + term
        if penalty is None:                       # both zero: a zero that still has x's device
            penalty = (x * 0.0).sum()
        return penalty

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in self.get_config().items())})"


class L1(L1L2):
    """penalty = l1 * sum(|w|)."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(L1L2):
    """penalty = l2 * sum(w^2); its gradient, 2 * l2 * w, is what weight decay subtracts."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self) -> dict:
        return {"l2": self.l2}


def l1(l1=0.01):  # noqa: E741 - Keras' name
    return L1(l1)


def l2(l2=0.01):
    return L2(l2)


def l1_l2(l1=0.01, l2=0.01):  # noqa: E741
    """Keras' function form: both factors default to 0.01 (the class L1L2 defaults to 0)."""
    return L1L2(l1=l1, l2=l2)


_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(0.01, 0.01), "l1l2": lambda: L1L2(0.01, 0.01)}


def get(regularizer):
    """A regularizer from a name, an instance or a function; None stays None."""
    if regularizer is None or callable(regularizer):
        return regularizer
    if isinstance(regularizer, str) and regularizer.lower() in _BY_NAME:
        return _BY_NAME[regularizer.lower()]()
    raise ValueError(f"unknown regularizer {regularizer!r}: use 'l1', 'l2', 'l1_l2', "
                     "minigrad.regularizers.l2(0.001), or a function of the weight tensor")
