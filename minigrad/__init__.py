"""minigrad: a from-scratch, readable deep-learning engine (reverse-mode autograd over NumPy/CuPy).

    import minigrad as mg
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    x.grad            # tensor([2., 4., 6.])

The package is four layers, each folder importing only from the ones above it:

    engine/     tensors, the graph node (Function), the backward walk, devices, the ops
    training/   what trains a model: losses, optimizers, regularizers, callbacks, atomic files
    nn/         Keras-style layers and models (Module, Layer, Dense, ..., Model and its trainer)
    interop/    the way out: PyTorch, ONNX
and beside them tools/: the lessons' data, plots and sampling, gradcheck and the hypothesis
strategies for testing ops (they may import from every layer; nothing imports them but this file).

Every op is published here from its family's ``__all__`` (minigrad/engine/ops/__init__.py says how).
"""
import importlib
import importlib.abc
import importlib.util
import sys

from .engine.autograd import detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from .engine.tape import GradientTape  # noqa: F401
from .engine.backend import cuda_is_available, get_default_device, manual_seed, set_default_device  # noqa: F401
from .engine.tensor import (Tensor, arange, from_dlpack, full, ones, ones_like, rand, randn,  # noqa: F401
                            tensor, zeros, zeros_like)
from .engine.ops.elementwise import *  # noqa: F401,F403,E402
from .engine.ops.unary import *  # noqa: F401,F403
from .engine.ops.activations import *  # noqa: F401,F403
from .engine.ops.reduce import *  # noqa: F401,F403
from .engine.ops.scan import *  # noqa: F401,F403
from .engine.ops.movement import *  # noqa: F401,F403
from .engine.ops.indexing import *  # noqa: F401,F403
from .engine.ops.linalg import *  # noqa: F401,F403
from .engine.ops.creation import *  # noqa: F401,F403
from .engine.ops.keras import *  # noqa: F401,F403
from .engine.ops.conv import *  # noqa: F401,F403
from .engine.ops.normalization import *  # noqa: F401,F403
from .engine.ops.embedding import *  # noqa: F401,F403

from . import engine, nn, tools, training  # noqa: E402,F401  (after the names they build on)
from .engine import autograd, backend, function, functional, ops, strict, symbolic  # noqa: E402,F401
from .tools import data, plot, sampling  # noqa: E402,F401
from .tools.gradcheck import gradcheck, gradgradcheck, numerical_grad  # noqa: E402,F401
from .training import callbacks, files, losses, optim, progress, regularizers  # noqa: E402,F401

__version__ = "0.1.0"

# The import paths that predate the folders, kept for users' code: `minigrad.optim` is
# minigrad/training/optim.py, `minigrad.ops.conv` is minigrad/engine/ops/conv.py, and so on.
# An old name is the same module object as the new one (not a copy), so classes and module
# state are shared whichever path imported them. `minigrad.tensor` and `minigrad.gradcheck`
# are modules under their old paths and functions as attributes (mg.tensor(), mg.gradcheck()).
MOVED = {
    "minigrad.autograd": "minigrad.engine.autograd", "minigrad.backend": "minigrad.engine.backend",
    "minigrad.function": "minigrad.engine.function", "minigrad.functional": "minigrad.engine.functional",
    "minigrad.ops": "minigrad.engine.ops", "minigrad.strict": "minigrad.engine.strict",
    "minigrad.symbolic": "minigrad.engine.symbolic", "minigrad.tensor": "minigrad.engine.tensor",
    "minigrad.callbacks": "minigrad.training.callbacks", "minigrad.files": "minigrad.training.files",
    "minigrad.losses": "minigrad.training.losses", "minigrad.optim": "minigrad.training.optim",
    "minigrad.regularizers": "minigrad.training.regularizers",
    "minigrad.nn.progress": "minigrad.training.progress",
    "minigrad.data": "minigrad.tools.data", "minigrad.gradcheck": "minigrad.tools.gradcheck",
    "minigrad.plot": "minigrad.tools.plot", "minigrad.sampling": "minigrad.tools.sampling",
    "minigrad.testing": "minigrad.tools.testing",   # needs hypothesis: imported on first use
}


def moved_name(name):
    """The module's name today, for a name under an old path (None if it did not move)."""
    for old, new in MOVED.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old):]
    return None


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds `minigrad.optim` & co. at their new paths: the loaded module is the new one."""

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if moved_name(name) else None

    def create_module(self, spec):
        return importlib.import_module(moved_name(spec.name))

    def exec_module(self, module):
        pass                                   # already executed under its new name


sys.meta_path.insert(0, _MovedModules())
for _name in list(sys.modules):               # the moved modules already imported above
    if moved_name(_name) is None and _name.startswith("minigrad."):
        for _old, _new in MOVED.items():
            if _name == _new or _name.startswith(_new + "."):
                sys.modules.setdefault(_old + _name[len(_new):], sys.modules[_name])
