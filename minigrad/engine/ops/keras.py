"""The Keras backend names (K.*) that the lessons use and that are not ops elsewhere.

With these, `from keras import backend as K` code runs with `K.` renamed to `mg.`:
K.square, K.exp, K.sum/mean/max/min(x, axis=-1), K.clip, K.flatten are the ops themselves;
the ones here are about shapes, constants and reading/writing a tensor's value.
"""
from __future__ import annotations

import numbers

from .. import autograd, backend
from ..tensor import Tensor
from .movement import concat

__all__ = ["shape", "int_shape", "concatenate", "epsilon", "get_value", "set_value"]

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


def get_value(x):
    """K.get_value: a tensor's value as a NumPy array (a plain number is returned as it is,
    e.g. an optimizer's learning rate, which is a float here)."""
    if isinstance(x, Tensor):
        return x.numpy()
    if isinstance(x, numbers.Number) or backend.is_backend_array(x) or isinstance(x, backend.np.ndarray):
        return backend.to_numpy(x) if backend.is_backend_array(x) else x
    raise TypeError(f"get_value: expected a tensor (or a number), got {type(x).__name__}")


def set_value(x, value) -> None:
    """K.set_value: write `value` into tensor x in place (same shape; cast to x's dtype; no
    gradient is recorded). A Python number, such as optimizer.lr, cannot be changed in place:
    assign the attribute instead (optimizer.learning_rate = 0.01)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"set_value: x must be a tensor to write into, got {x!r} ({type(x).__name__}); a "
                        "number cannot be changed in place: for a learning rate write "
                        "model.optimizer.learning_rate = value")
    host = backend.np.asarray(value.numpy() if isinstance(value, Tensor) else value)
    if host.shape != tuple(x.shape):
        raise ValueError(f"set_value: value of shape {host.shape} does not fit the tensor of shape {x.shape}")
    with autograd.no_grad():
        x[...] = backend.asarray(host, dtype=x.dtype, device=x.device)
