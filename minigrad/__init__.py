"""minigrad: a from-scratch, readable deep-learning engine (reverse-mode autograd over NumPy/CuPy).

    import minigrad as mg
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    x.grad            # tensor([2., 4., 6.])

Every op is published here from its family's ``__all__`` (minigrad/ops/__init__.py says how).
"""
from .autograd import detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from .backend import cuda_is_available, get_default_device, manual_seed, set_default_device  # noqa: F401
from .gradcheck import gradcheck, gradgradcheck, numerical_grad  # noqa: F401
from .tensor import (Tensor, arange, full, ones, ones_like, rand, randn, tensor,  # noqa: F401
                     zeros, zeros_like)
from .ops.elementwise import *  # noqa: F401,F403,E402
from .ops.unary import *  # noqa: F401,F403
from .ops.activations import *  # noqa: F401,F403
from .ops.reduce import *  # noqa: F401,F403
from .ops.scan import *  # noqa: F401,F403
from .ops.movement import *  # noqa: F401,F403
from .ops.indexing import *  # noqa: F401,F403
from .ops.linalg import *  # noqa: F401,F403
from .ops.creation import *  # noqa: F401,F403
from .ops.keras import *  # noqa: F401,F403

from . import callbacks, functional, losses, nn, optim, regularizers  # noqa: E402, F401  (after the names they build on)

__version__ = "0.1.0"

from .tensor import from_dlpack  # noqa: E402,F401  (DLPack: zero-copy arrays from NumPy, PyTorch, CuPy)
