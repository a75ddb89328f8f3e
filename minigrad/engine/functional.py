"""minigrad.functional (imported as F): the stateless building blocks of layers.

    import minigrad.functional as F
    h = F.relu(F.linear(x, w, b))
    p = F.softmax(logits, axis=-1)

Activations (every name in ops/activations.py's __all__, plus relu, sigmoid, tanh,
softplus, leaky_relu), softmax/log_softmax/logsumexp, one_hot and the conv/pool ops are
re-exported from minigrad/ops/, where their math lives. What is written here is the
interface of two more: dropout, composed from a mask and a multiply (its gradient comes by
the chain rule), and batch_norm, the checks and the moving statistics around the fused
node of ops/normalization.py (one node forward, its own backward).
"""
from __future__ import annotations

from . import backend
from .autograd import no_grad
from .function import constant
from .ops.conv import avg_pool2d, conv2d, conv_transpose2d, max_pool2d, pad2d, upsample  # noqa: F401
from .ops.activations import *  # noqa: F401,F403 - elu, gelu, silu, ... (ops/activations.py)
from .ops.elementwise import leaky_relu, relu, sigmoid, softplus, tanh  # noqa: F401
from .ops.indexing import one_hot  # noqa: F401
from .ops.linalg import linear as _linear
from .ops.normalization import batch_norm_inference, batch_norm_training
from .ops.reduce import log_softmax, logsumexp, softmax  # noqa: F401
from .tensor import Tensor


def linear(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
    """x @ w + b, with w of shape (in_features, out_features) as in Keras' Dense (one node)."""
    return _linear(x, w, b)


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p).

    The scaling keeps the expected value unchanged, so at inference (training=False) the
    layer is the identity. The mask comes from the device's seeded generator.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    with backend.device_context(x.device):
        keep = backend.generator(x.device).random(x.shape, dtype=x.dtype) >= p
    return x * constant(keep.astype(x.dtype) * (1.0 / (1.0 - p)))


def batch_norm(x: Tensor, moving_mean: Tensor, moving_var: Tensor, gamma: Tensor | None = None,
               beta: Tensor | None = None, training: bool = True, momentum: float = 0.99,
               epsilon: float = 1e-3, axis: int = 1) -> Tensor:
    """Normalise each channel (`axis`) to zero mean and unit variance, then scale and shift.

    y = gamma * (x - mean) / sqrt(var + epsilon) + beta

    training=True uses the batch's statistics (over every axis but `axis`) and updates the
    moving statistics in place with Keras' convention:
        moving = momentum * moving + (1 - momentum) * batch
    training=False uses the moving statistics. Variances are the biased (1/n) ones, as Keras.
    """
    axis = axis % x.ndim
    if moving_mean.device != x.device or moving_var.device != x.device:
        raise RuntimeError(f"batch_norm: input on {x.device} but moving statistics on "
                           f"{moving_mean.device}/{moving_var.device}; move them with .to('{x.device}')")
    if moving_mean.shape != (x.shape[axis],):
        raise ValueError(f"batch_norm: input of shape {x.shape} has {x.shape[axis]} channels on axis "
                         f"{axis}, but the moving statistics have shape {moving_mean.shape}")
    if not training:
        return batch_norm_inference(x, moving_mean, moving_var, gamma, beta, axis, epsilon)
    if x.size == x.shape[axis]:
        raise ValueError(f"batch_norm: training needs more than one value per channel, got input "
                         f"of shape {x.shape}")
    xp = backend.xp_of(x.data)
    with backend.device_context(x.device):          # the fused node takes gamma and beta always
        if gamma is None:
            gamma = constant(xp.ones(x.shape[axis], dtype=x.dtype))
        if beta is None:
            beta = constant(xp.zeros(x.shape[axis], dtype=x.dtype))
    y, mean, var = batch_norm_training(x, gamma, beta, axis, epsilon)
    with no_grad():
        moving_mean.data = (momentum * moving_mean.data + (1 - momentum) * mean).astype(moving_mean.dtype)
        moving_var.data = (momentum * moving_var.data + (1 - momentum) * var).astype(moving_var.dtype)
    return y

