"""The Keras backend names (K.*) that the lessons use and that are not ops elsewhere.

With these, `from keras import backend as K` code runs with `K.` renamed to `mg.`:
K.square, K.exp, K.sum/mean/max/min(x, axis=-1), K.clip, K.flatten are the ops themselves;
the ones here are about shapes and constants.
"""
from __future__ import annotations

from ..tensor import Tensor
from .movement import concat

__all__ = ["shape", "int_shape", "concatenate", "epsilon"]

EPSILON = 1e-7      # Keras' backend epsilon (K.epsilon())


def shape(x: Tensor) -> tuple:
    """The shape of x as a tuple of ints (None for unknown sizes of a symbolic tensor)."""
    return tuple(x.shape)


def int_shape(x: Tensor) -> tuple:
    """Keras' int_shape: the shape with None kept where a symbolic tensor's size is unknown."""
    return tuple(x.shape)


def concatenate(tensors, axis=-1):
    """Keras' concatenate: mg.concat with Keras' default axis, the last."""
    return concat(tensors, axis=axis)


def epsilon() -> float:
    """The fuzz factor Keras adds to avoid dividing by 0: 1e-7."""
    return EPSILON
