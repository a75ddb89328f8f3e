"""Parameter and Module: the building blocks every layer and model is made of.

A Module holds Parameters (tensors an optimizer updates) and other Modules (its
children), simply as attributes:

    class TwoLayers(Module):
        def __init__(self):
            super().__init__()
            self.hidden = Dense(16, activation="relu")
            self.out = Dense(1)
        def forward(self, x):
            return self.out(self.hidden(x))

Nothing is registered by hand: parameters() and the other walks look through the
attributes (and lists of modules) in the order they were set, which is also Keras' weight
order (kernel before bias).

Sizes are inferred Keras-style. A layer creates its parameters in build(input_shape) the
first time it is called (or earlier, when a model knows its input shape), so Dense(10)
never needs to be told how many features come in. Shapes given to and kept by modules
are per sample, without the batch axis: input_shape=(1, 28, 28) for MNIST images (NCHW).
"""
from __future__ import annotations

import contextlib
import re
from collections import defaultdict

from .. import autograd, backend
from ..tensor import Tensor

# ---------------------------------------------------------------------- names

_name_counts: defaultdict = defaultdict(int)


def unique_name(base: str) -> str:
    """'dense', then 'dense_1', 'dense_2', ... (Keras' automatic layer names)."""
    count = _name_counts[base]
    _name_counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


def _snake_case(class_name: str) -> str:
    """'Conv2DTranspose' -> 'conv2d_transpose', 'BatchNormalization' -> 'batch_normalization'."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def format_shape(shape) -> str:
    """A per-sample shape as Keras prints it, with the batch axis as None: (None, 28, 28)."""
    dims = ("None",) + tuple("None" if n is None else str(n) for n in shape)
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


# ---------------------------------------------------------------------- Parameter

class Parameter(Tensor):
    """A tensor owned by a Module: float32 by default, and it requires grad while trainable.

    trainable   True while the optimizer may update it. Freezing the owning layer
                (layer.trainable = False) sets it to False, which also stops gradients being
                computed for it. State that is saved with the weights but never trained,
                like BatchNormalization's moving statistics, is a Parameter made with
                trainable=False: it stays untrainable whatever its layer's setting.
    """

    def __init__(self, data, trainable=True, dtype="float32", device=None):
        super().__init__(data, dtype=dtype, device=device)
        self.learnable = bool(trainable)      # False for state (moving statistics)
        self.trainable = trainable

    @property
    def trainable(self) -> bool:
        return self.requires_grad

    @trainable.setter
    def trainable(self, value) -> None:
        self.requires_grad = bool(value) and self.learnable

    def __repr__(self):
        return "Parameter(" + super().__repr__() + ")"


# ---------------------------------------------------------------------- Module

class Module:
    """Base class of layers and models.

    Module(name=None, input_shape=None, trainable=True)
      name          shown by summary(); default: the class name in snake case, numbered
      input_shape   per-sample shape (no batch axis); lets models build before data flows

    Subclasses write forward(x) and, if they own parameters, build(input_shape) creating
    them from the per-sample input shape and compute_output_shape(input_shape).
    """
    # class-level defaults, so a subclass that forgets super().__init__() still mostly works
    training = True
    built = False
    input_shape = None          # per-sample shape seen at build
    output_shape = None         # per-sample shape of the output
    _trainable = True
    _declared_input_shape = None
    _device = None
    _dtype = None
    _name = None

    def __init__(self, name=None, input_shape=None, trainable=True):
        self._name = name or unique_name(_snake_case(type(self).__name__))   # named when made, as Keras
        self.training = True
        self.built = False
        self._trainable = bool(trainable)
        self._declared_input_shape = None if input_shape is None else _as_shape(input_shape)

    @property
    def name(self) -> str:
        if self._name is None:
            self._name = unique_name(_snake_case(type(self).__name__))
        return self._name

    @name.setter
    def name(self, value) -> None:
        self._name = value

    # ------------------------------------------------------------------ the call
    def __call__(self, x, *args, training=None, **kwargs):
        """forward(x), building first if needed. training=True/False runs the whole tree in
        that mode for this call only (Keras' `model(x, training=False)`)."""
        if not isinstance(x, Tensor):           # NumPy arrays and lists are welcome too
            numeric = backend.np.asarray(x).dtype.kind in "biuf"
            x = Tensor(x, dtype=self.dtype if numeric else None, device=self.device)
        if not self.built:
            for m in self.modules():              # built by data: parameters go where the data is
                m._device = m._device or x.device
            self.build_for(tuple(x.shape[1:]))
        self.check_input(x)
        if training is None:
            return self.forward(x, *args, **kwargs)
        with self._mode(training):
            return self.forward(x, *args, **kwargs)

    @contextlib.contextmanager
    def _mode(self, training: bool):
        """Training (True) or inference (False) mode for the whole tree, restored afterwards."""
        saved = [(m, m.training) for m in self.modules()]
        self.train(training)
        try:
            yield
        finally:
            for m, mode in saved:
                m.training = mode

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} must define forward(x)")

    # ------------------------------------------------------------------ building (size inference)
    def build(self, input_shape) -> None:
        """Create parameters for per-sample `input_shape`. Layers without parameters skip this."""

    def compute_output_shape(self, input_shape) -> tuple:
        """The per-sample output shape for a per-sample input shape.

        Layers state theirs; this fallback runs forward on one zero sample (in eval mode,
        without recording a graph), which works for any module.
        """
        from ..tensor import zeros
        with self._mode(False), autograd.no_grad():
            out = self.forward(zeros((1,) + tuple(input_shape), dtype=self.dtype, device=self.device))
        return tuple(out.shape[1:])

    def build_for(self, input_shape) -> tuple:
        """Build for per-sample `input_shape` (once) and remember the input and output shapes.

        Parameters are made on the module's device: the one given to to(), else the device
        of the data that triggered the build, else mg.get_default_device().
        """
        input_shape = _as_shape(input_shape)
        declared = self._declared_input_shape
        if declared is not None and not _shapes_match(declared, input_shape):
            raise ValueError(self._shape_error(declared, input_shape))
        if not self.built:
            self.built = True                    # before build: the fallback shape probe calls forward
            try:
                self.build(input_shape)
                self._set_own_trainable(self._trainable)   # new parameters follow the layer's freezing
                self.input_shape = input_shape
                self.output_shape = _as_shape(self.compute_output_shape(input_shape))
            except Exception:
                self.built = False
                raise
        return self.output_shape

    def check_input(self, x: Tensor) -> None:
        """Raise a clear error when x cannot be this layer's input (see expected_input_shape)."""
        expected = self.expected_input_shape()
        if expected is not None and not _shapes_match(expected, tuple(x.shape[1:])):
            raise ValueError(self._shape_error(expected, tuple(x.shape[1:])))

    def expected_input_shape(self):
        """Per-sample shape this module accepts, None for any size on an axis (None: anything)."""
        return None

    def _shape_error(self, expected, received) -> str:
        return (f"{type(self).__name__} layer '{self.name}': expected input of shape "
                f"{format_shape(expected)} but received input of shape {format_shape(received)} "
                f"(batch axis first; per-sample shapes are NCHW for images)")

    # ------------------------------------------------------------------ walking the tree
    def children(self):
        """Direct sub-modules, in the order their attributes were set."""
        seen = set()
        for value in vars(self).values():
            items = value if isinstance(value, (list, tuple)) else (value,)
            for item in items:
                if isinstance(item, Module) and id(item) not in seen:
                    seen.add(id(item))
                    yield item

    def modules(self):
        """This module and every module below it, each once, parents first."""
        seen, stack = set(), [self]
        while stack:
            m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield m
            stack.extend(reversed(list(m.children())))

    def own_parameters(self):
        """(attribute name, Parameter) pairs held directly by this module."""
        return [(k, v) for k, v in vars(self).items() if isinstance(v, Parameter)]

    def named_parameters(self, trainable_only=False):
        """(path, Parameter) for every parameter, in Keras' weight order.

        Paths are relative to this module: 'kernel' for a Dense layer's own kernel,
        'dense_1/kernel' for the kernel of a layer inside a model.
        """
        seen = set()
        out = []

        def visit(module, prefix):
            for attr, p in module.own_parameters():
                if id(p) not in seen and (p.trainable or not trainable_only):
                    seen.add(id(p))
                    out.append((prefix + attr, p))
            for child in module.children():
                visit(child, prefix + child.name + "/")

        visit(self, "")
        return out

    def parameters(self, trainable_only=True):
        """The trainable parameters (what an optimizer updates); trainable_only=False: all of them."""
        return [p for _, p in self.named_parameters(trainable_only=trainable_only)]

    @property
    def weights(self):
        """Every parameter, trainable or not, in Keras' order."""
        return self.parameters(trainable_only=False)

    @property
    def trainable_weights(self):
        return self.parameters(trainable_only=True)

    @property
    def non_trainable_weights(self):
        return [p for p in self.weights if not p.trainable]

    def count_params(self) -> int:
        return sum(p.size for p in self.weights)

    def get_weights(self) -> list:
        """Every weight as a NumPy array, in Keras' order (kernel, bias; BN: gamma, beta, moving stats)."""
        from .saving import weight_records
        return [p.numpy() for _, _, p in weight_records(self)]

    def set_weights(self, weights) -> None:
        """Copy arrays (as get_weights returns them) into the weights; shapes must match."""
        from .saving import assign, check_shapes, weight_records
        records = weight_records(self)
        weights = [backend.np.asarray(w) for w in weights]
        check_shapes(records, [w.shape for w in weights], f"set_weights of '{self.name}'",
                     where="in the given list")
        for (_, _, p), w in zip(records, weights):
            assign(p, w)

    def zero_grad(self) -> None:
        for p in self.weights:
            p.grad = None

    # ------------------------------------------------------------------ modes and freezing
    def train(self, mode: bool = True):
        """Training mode (dropout active, batch norm on batch statistics) for the whole tree."""
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self):
        """Inference mode for the whole tree."""
        return self.train(False)

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value) -> None:
        """Freeze (False) or unfreeze (True) this module and everything inside it."""
        for m in self.modules():
            m._set_own_trainable(value)

    def _set_own_trainable(self, value) -> None:
        self._trainable = bool(value)
        for _, p in self.own_parameters():
            p.trainable = value

    # ------------------------------------------------------------------ device and dtype
    @property
    def device(self) -> str:
        for _, p in self.named_parameters():
            return p.device
        return self._device or backend.get_default_device()

    @property
    def dtype(self):
        for _, p in self.named_parameters():
            return p.dtype
        return backend.np.dtype(self._dtype or backend.default_float_dtype())

    def to(self, device=None, dtype=None):
        """Move (and/or cast) every parameter in place; parameters built later follow. Returns self.

        The Parameter objects stay the same, so an optimizer holding them keeps working;
        move a model before training it, as its optimizer's state stays where it was.
        """
        device = None if device is None else backend.normalize_device(device)
        dtype = None if dtype is None else backend.np.dtype(dtype)
        for m in self.modules():
            m._device = device or m._device
            m._dtype = dtype or m._dtype
        for p in self.weights:
            p.data = backend.asarray(p.data, dtype=dtype or p.dtype, device=device or p.device)
            p.device = device or p.device
            p.grad = None
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self, index=0):
        return self.to(f"cuda:{index}")

    def double(self):
        return self.to(dtype="float64")

    def float(self):
        return self.to(dtype="float32")

    # ------------------------------------------------------------------ helpers for build()
    def add_weight(self, shape, initializer="glorot_uniform", trainable=True, fans=None) -> "Parameter":
        """A new Parameter on this module's device and dtype, filled by a Keras initialiser."""
        from . import initializers
        device = backend.normalize_device(self._device)
        dtype = backend.np.dtype(self._dtype or backend.default_float_dtype())
        data = initializers.get(initializer)(tuple(shape), dtype=dtype, device=device, fans=fans)
        return Parameter(data, trainable=trainable, dtype=dtype, device=device)

    def __repr__(self):
        return f"{type(self).__name__}(name='{self.name}')"


# ---------------------------------------------------------------------- shape helpers

def _as_shape(shape) -> tuple:
    if isinstance(shape, int):
        return (shape,)
    return tuple(None if n is None else int(n) for n in shape)


def _shapes_match(expected, received) -> bool:
    """Equal rank and equal sizes wherever `expected` is not None."""
    return len(expected) == len(received) and all(e is None or e == r for e, r in zip(expected, received))


def pair(value, what="value") -> tuple:
    """2 -> (2, 2); (2, 3) -> (2, 3): Keras accepts either for kernel sizes and strides."""
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"{what} must be an int or a pair of ints, got {value}")
    return value
