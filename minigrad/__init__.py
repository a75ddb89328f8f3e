"""minigrad: a from-scratch, readable deep-learning engine (reverse-mode autograd over NumPy/CuPy).

    import minigrad as mg
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    x.grad            # tensor([2., 4., 6.])
"""
from .autograd import detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from .backend import cuda_is_available, get_default_device, manual_seed, set_default_device  # noqa: F401
from .gradcheck import gradcheck, gradgradcheck, numerical_grad  # noqa: F401
from .ops.elementwise import (abs, clip, exp, expm1, leaky_relu, log, maximum, minimum, relu,  # noqa: F401
                              sigmoid, softplus, sqrt, tanh, where)
from .ops.linalg import matmul  # noqa: F401
from .ops.movement import broadcast_to, concat, flatten, pad, reshape, stack, transpose  # noqa: F401
from .ops.reduce import log_softmax, logsumexp, mean, softmax, std, var  # noqa: F401
from .tensor import (Tensor, arange, full, ones, ones_like, rand, randn, tensor,  # noqa: F401
                     zeros, zeros_like)

from . import functional, losses, nn, optim  # noqa: E402, F401  (after the names they build on)

__version__ = "0.1.0"


def sum(x, axis=None, keepdims=False):  # noqa: A001 - mirrors numpy's name
    return x.sum(axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return x.max(axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    return x.min(axis=axis, keepdims=keepdims)
