"""Activation functions by Keras name, for `activation=` and the Activation layer.

    get("relu") -> F.relu        get(None) / get("linear") -> identity        get(fn) -> fn

The names are relu, sigmoid, tanh, softmax, softplus, leaky_relu and every name in
minigrad/ops/activations.py's __all__ (an activation added there is found here too).

softmax normalises over the last axis, whatever the rank, as Keras' does (the Softmax layer
takes axis= to choose another). Image layers apply their activation in their own layout, so
Conv2D(activation="softmax") normalises over the channels under channels_last (the last axis
Keras sees) and over the width under channels_first, as in Keras; for per-pixel class
scores on NCHW images use Softmax(axis=1).
"""
from __future__ import annotations

from ..engine import functional as F
from ..engine.ops import activations as _ops_activations


def linear(x):
    return x


def softmax(x):
    """Keras' softmax activation: over the last axis."""
    return F.softmax(x, axis=-1)


def leaky_relu(x):
    """Keras' `activation="leaky_relu"` uses a negative slope of 0.2."""
    return F.leaky_relu(x, 0.2)


_BY_NAME = {
    "linear": linear,
    "relu": F.relu,
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "softmax": softmax,
    "softplus": F.softplus,
    "leaky_relu": leaky_relu,
    # every activation of ops/activations.py under its Keras name (elu, selu, gelu, silu,
    # swish, mish, softsign, hard_sigmoid, hard_silu, relu6, log_sigmoid, exponential, ...)
    **{name: getattr(_ops_activations, name) for name in _ops_activations.__all__},
}


_ACROSS_AXES = (softmax, F.softmax, F.log_softmax, _ops_activations.softmin)   # mix values along an axis


def is_elementwise(activation) -> bool:
    """Whether the activation acts on each value alone (relu, tanh, ...), so the layout of the
    tensor it is given does not matter; False for softmax and for unknown functions."""
    return any(activation is fn for fn in _BY_NAME.values()) and \
        not any(activation is fn for fn in _ACROSS_AXES)


def get(activation):
    """The function for a Keras activation name, a callable itself, or identity for None."""
    if activation is None:
        return linear
    if callable(activation):
        return activation
    try:
        return _BY_NAME[str(activation).lower()]
    except KeyError:
        raise ValueError(f"unknown activation {activation!r}; use one of {sorted(_BY_NAME)} "
                         "or pass a function") from None


def name_of(activation) -> str:
    """A readable name for an activation (for repr)."""
    if activation is None or isinstance(activation, str):
        return activation or "linear"
    return getattr(activation, "__name__", type(activation).__name__)
