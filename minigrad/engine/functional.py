"""minigrad.functional (imported as F): the stateless building blocks of layers.

    import minigrad.functional as F
    h = F.relu(F.linear(x, w, b))
    p = F.softmax(logits, axis=-1)

F is built from the families' lists, as mg.* is (ops/__init__.py): every name in the
__all__ of ops/activations.py, ops/conv.py (conv2d, conv_transpose2d, max/avg pooling,
upsample, pad2d), ops/normalization.py (batch_norm) and ops/embedding.py (embedding), plus
relu, sigmoid, tanh, softplus, leaky_relu, softmax/log_softmax/logsumexp and one_hot from
their families. What is written here is the interface of two more: linear (Keras' Dense
layout around the fused node of ops/linalg.py) and dropout, composed from a mask and a
multiply (its gradient comes by the chain rule).
"""
from __future__ import annotations

from . import backend
from .function import constant
from .ops.activations import *  # noqa: F401,F403 - elu, gelu, silu, ... (ops/activations.py)
from .ops.conv import *  # noqa: F401,F403 - conv2d, conv_transpose2d, pooling, upsample, pad2d
from .ops.elementwise import leaky_relu, relu, sigmoid, softplus, tanh  # noqa: F401
from .ops.embedding import *  # noqa: F401,F403 - embedding
from .ops.indexing import one_hot  # noqa: F401
from .ops.linalg import linear as _linear
from .ops.normalization import *  # noqa: F401,F403 - batch_norm
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
