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
import threading
import weakref
from collections import defaultdict

from ..engine import backend, symbolic
from ..engine.tensor import Tensor
from ..training import regularizers
from . import config as config_module
from . import graph, initializers
from .weights import assign, check_shapes, weight_records

# ---------------------------------------------------------------------- names

_name_counts: defaultdict = defaultdict(int)


class _Calls(threading.local):
    depth = 0               # how deep in nested module calls this thread is (0: the outermost)
    modes = {}              # {id(module): True/False}: the training mode of this thread's calls
                            # (model(x, training=...), fit, predict), over the modules' own mode


_calls = _Calls()


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


# ---------------------------------------------------------------------- masks beside tensors

_MASKS: dict = {}           # id(tensor) -> (weak reference to the tensor, mask tensor)


def attach_mask(t: Tensor, mask) -> Tensor:
    """Remember `mask` (a boolean (batch, time) tensor, or None) as the mask of tensor t
    (Embedding(mask_zero=True) makes one; see nn/embedding.py)."""
    if mask is None:
        return t
    key = id(t)
    _MASKS[key] = (weakref.ref(t, lambda _, key=key: _MASKS.pop(key, None)), mask)
    return t


def mask_of(t) -> Tensor | None:
    """The mask attached to tensor t by a masking layer, or None."""
    entry = _MASKS.get(id(t))
    if entry is None or entry[0]() is not t:
        return None
    return entry[1]


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
    _training = True            # the module's own mode: train() / eval()
    built = False
    input_shape = None          # per-sample shape seen at build
    output_shape = None         # per-sample shape of the output
    _trainable = True
    _declared_input_shape = None
    _device = None
    _dtype = None
    _name = None
    _call_losses = ()           # tensors add_loss()-ed in the last forward pass
    _symbolic_losses = ()       # symbolic tensors add_loss()-ed to a functional model
    _regularized = ()           # (Parameter, regularizer) pairs, from add_weight(regularizer=...)
    _building = False           # True while build_for runs build()
    _inbound_nodes = ()         # the recorded calls on symbolic tensors (nn/graph.py)
    activity_regularizer = None
    accepts_integer_input = False   # True for layers fed integer ids (Embedding): kept as ints
    supports_masking = False        # True: the input's mask (mask_of) is handed on to the output

    _minigrad_classes = {}      # minigrad's own Module classes by name (see minigrad_class)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("minigrad.nn."):
            Module._minigrad_classes[cls.__name__] = cls

    @staticmethod
    def minigrad_class(name):
        """minigrad's layer or model class called `name` ("Model", "Sequential", "Dense", ...).
        The code that saves and loads models finds Model and Sequential here rather than by
        importing model.py, which itself saves through that code."""
        return Module._minigrad_classes[name]

    def __init__(self, name=None, input_shape=None, trainable=True):
        self._name = name or unique_name(_snake_case(type(self).__name__))   # named when made, as Keras
        self._training = True
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
    def __call__(self, inputs, *args, training=None, **kwargs):
        """forward(inputs), building first if needed. training=True/False runs the whole tree
        in that mode for this call only (Keras' `model(x, training=False)`).

        inputs is a tensor (or anything np.asarray takes), or a list of them for layers that
        take several (merge layers). Called on symbolic tensors (from Input), the call is
        recorded instead of run: see nn/graph.py (the functional API).
        """
        if symbolic.has_symbolic((inputs, args, kwargs)):
            if symbolic.running():              # inside a running model: use the real values
                value_of = symbolic.current().value_of
                inputs, args, kwargs = symbolic.map_tensors((inputs, args, kwargs), value_of)
            else:
                return graph.call_symbolic(self, inputs, args, kwargs, training)
        inputs = self._as_input_tensors(inputs)
        first = inputs[0] if isinstance(inputs, list) else \
            next(iter(inputs.values())) if isinstance(inputs, dict) else inputs
        if not self.built:
            for m in self.modules():              # built by data: parameters go where the data is
                m._device = m._device or first.device
            self.build_for(graph.per_sample_shapes(inputs))
        if isinstance(inputs, Tensor):
            self.check_input(inputs)
        if _calls.depth == 0:                    # an outermost call: forget the last call's add_loss
            for m in self.modules():
                m._call_losses = []
        _calls.depth += 1
        try:
            if training is None:
                out = self._forward(inputs, *args, **kwargs)
            else:
                with self._mode(training):
                    out = self._forward(inputs, *args, **kwargs)
        finally:
            _calls.depth -= 1
        if self.activity_regularizer is not None and isinstance(out, Tensor):
            self.add_loss(_per_sample_penalty(self.activity_regularizer, out))
        if self.supports_masking and isinstance(inputs, Tensor) and isinstance(out, Tensor) \
                and mask_of(out) is None:      # Dropout's new tensor keeps Embedding's mask (Keras)
            attach_mask(out, mask_of(inputs))
        return out

    def _as_input_tensors(self, inputs):
        """Tensors for forward: a list or tuple of tensors/arrays is several inputs (merge
        layers, multi-input models); anything else one input. NumPy data becomes the module's
        float type on its device (integers too, except for layers that take integer ids)."""
        if isinstance(inputs, (list, tuple)) and inputs and all(
                isinstance(v, (Tensor, backend.np.ndarray)) or backend.is_backend_array(v) for v in inputs):
            return [self._as_input_tensors(v) for v in inputs]
        if isinstance(inputs, Tensor):
            return inputs
        host = backend.np.asarray(inputs)
        keep = host.dtype.kind in "iub" and self.accepts_integer_input
        numeric = host.dtype.kind in "biuf" and not keep
        return Tensor(inputs, dtype=self.dtype if numeric else None, device=self.device)

    # ------------------------------------------------------------------ losses (add_loss, regularizers)
    def add_loss(self, loss) -> None:
        """Add a scalar (or per-sample) tensor to the training loss of the model this layer is
        in, as Keras' add_loss: call it from forward()/call(); fit() adds what the last forward
        pass added, plus the weight regularizers' penalties (see `losses`)."""
        if graph.probing():                      # a shape probe is not a real forward pass
            return
        if isinstance(loss, Tensor) and loss.symbolic and not symbolic.running():
            self._symbolic_losses = list(self._symbolic_losses) + [loss]     # a functional model's
            return
        if not isinstance(loss, Tensor):
            loss = Tensor(loss, dtype=self.dtype, device=self.device)
        self._call_losses = list(self._call_losses) + [loss]

    @property
    def losses(self) -> list:
        """The losses added in the last forward pass (add_loss, activity regularizers) and the
        current penalties of every regularized weight, for this module and all inside it."""
        out = []
        for m in self.modules():
            out.extend(m._call_losses)
            for p, regularizer in m._regularized:
                if p.trainable:
                    out.append(regularizer(p))
        return out

    @property
    def training(self) -> bool:
        """True in training mode (dropout active, batch norm on batch statistics).

        The mode a call runs in belongs to the thread making it: model(x, training=False),
        fit (training) and predict/evaluate (inference) set it for their own thread only, so
        predict() in one thread never switches off dropout in a fit() running in another.
        Outside such a call, it is the module's own mode, set by train() / eval() (shared by
        every thread, like the weights)."""
        modes = _calls.modes
        if modes:
            mode = modes.get(id(self))
            if mode is not None:
                return mode
        return self._training

    @training.setter
    def training(self, value) -> None:
        self._training = bool(value)

    @contextlib.contextmanager
    def _mode(self, training: bool):
        """Training (True) or inference (False) mode for the whole tree, for the calls this
        thread makes inside the block (other threads keep theirs); restored afterwards."""
        before = _calls.modes
        _calls.modes = {**before, **{id(m): bool(training) for m in self.modules()}}
        try:
            yield
        finally:
            _calls.modes = before

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} must define forward(x)")

    # ------------------------------------------------------------------ building (size inference)
    def build(self, input_shape) -> None:
        """Create parameters for per-sample `input_shape`. Layers without parameters skip this."""

    def compute_output_shape(self, input_shape) -> tuple:
        """The per-sample output shape for a per-sample input shape.

        Layers state theirs; this fallback runs forward on small probe batches (in eval mode,
        without recording a graph), which works for any module (see graph.probe_output_specs).
        """
        return graph.per_sample(graph.probe_output_specs(self, graph.with_batch(input_shape)))

    # hooks of build_for (a Keras-style Layer speaks shapes with the batch axis instead)
    def _build(self, input_shape):
        self.build(input_shape)

    def _output_shape(self, input_shape):
        return self.compute_output_shape(input_shape)

    def _forward(self, inputs, *args, **kwargs):
        return self.forward(inputs, *args, **kwargs)

    def fits_input(self, shape) -> bool:
        """Whether a per-sample input shape suits this (built) layer (see expected_input_shape)."""
        expected = self.expected_input_shape()
        return expected is None or _shapes_match(expected, shape)

    def build_for(self, input_shape) -> tuple:
        """Build for per-sample `input_shape` (once) and remember the input and output shapes.

        Parameters are made on the module's device: the one given to to(), else the device
        of the data that triggered the build, else mg.get_default_device().
        """
        input_shape = _as_shape(input_shape)
        declared = self._declared_input_shape
        if declared is not None and not isinstance(input_shape, list) and not _shapes_match(declared, input_shape):
            raise ValueError(self._shape_error(declared, input_shape))
        if not self.built:
            self.built = True                    # before build: the fallback shape probe calls forward
            self._building = True                # add_weight is allowed until the build is over
            try:
                self._build(input_shape)
                self._set_own_trainable(self._trainable)   # new parameters follow the layer's freezing
                self.input_shape = input_shape
                self.output_shape = _as_shape(self._output_shape(input_shape))
            except Exception:
                self.built = False
                raise
            finally:
                self._building = False
        return self.output_shape

    def check_input(self, x: Tensor) -> None:
        """Raise a clear error when x cannot be this layer's input (see expected_input_shape)."""
        if not self.fits_input(tuple(x.shape[1:])):
            raise ValueError(self._shape_error(self.expected_input_shape(), tuple(x.shape[1:])))

    def expected_input_shape(self):
        """Per-sample shape this module accepts, None for any size on an axis (None: anything)."""
        return None

    def _shape_error(self, expected, received) -> str:
        return (f"{type(self).__name__} layer '{self.name}': expected input of shape "
                f"{format_shape(expected)} but received input of shape {format_shape(received)} "
                f"(batch axis first; per-sample shapes are NCHW for images)")

    # ------------------------------------------------------------------ walking the tree
    def children(self):
        """Direct sub-modules, in the order their attributes were set. Modules inside lists,
        tuples and dicts (nested too, dict entries in insertion order) count, as in Keras;
        a private attribute ('_layers') is read one list deep only, so bookkeeping such as
        [(module, flag), ...] is not taken for sub-modules."""
        seen = {id(self)}
        for name, value in vars(self).items():
            if name.startswith("_"):
                items = value if isinstance(value, (list, tuple)) else (value,)
                found = (item for item in items if isinstance(item, Module))
            else:
                found = _held(value, Module)
            for item in found:
                if id(item) not in seen:
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
        """(attribute name, Parameter) pairs held directly by this module (add_weight's too,
        kept or not as an attribute), each once."""
        own = [(k, v) for k, v in vars(self).items() if isinstance(v, Parameter)]
        for k, value in vars(self).items():          # Parameters kept in lists / dicts: 'k/0', 'k/a'
            if isinstance(value, (list, tuple, dict)) and not k.startswith("_"):
                own += _held_with_paths(value, Parameter, k)
        known = {id(v) for _, v in own}
        own += [(k, v) for k, v in getattr(self, "_tracked_weights", ()) if id(v) not in known]
        return own

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
        return [p.numpy() for _, _, p in weight_records(self)]

    def set_weights(self, weights) -> None:
        """Copy arrays (as get_weights returns them) into the weights; shapes must match."""
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
        """Training mode (dropout active, batch norm on batch statistics) for the whole tree:
        the modules' own mode, seen by every thread outside fit/predict/model(x, training=)."""
        for m in self.modules():
            m._training = bool(mode)
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
    def add_weight(self, shape=None, initializer="glorot_uniform", trainable=True, fans=None,
                   regularizer=None, name=None, dtype=None, **keras_options) -> "Parameter":
        """A new Parameter on this module's device and dtype, filled by a Keras initialiser.

        regularizer  a penalty on the weight (minigrad.regularizers: "l2", l2(1e-4), a function)
                     that joins the training loss through `losses`
        name, dtype  as Keras' add_weight; Keras-only options (constraint=...) are refused
        """
        if keras_options:
            raise TypeError(f"add_weight of layer '{self.name}': unsupported options {sorted(keras_options)}")
        if self.built and not self._building:
            # a weight made in call() would be a new, untrained one on every call (Keras refuses too)
            raise RuntimeError(f"add_weight of layer '{self.name}': the layer is already built, so a new "
                               "weight now would be made afresh on every call and never trained; create "
                               "weights in __init__() or build(input_shape)")
        if shape is None:
            raise TypeError(f"add_weight of layer '{self.name}': a shape is needed, e.g. shape=(in, units)")
        device = backend.normalize_device(self._device)
        dtype = backend.np.dtype(dtype or self._dtype or backend.default_float_dtype())
        data = initializers.get(initializer)(tuple(int(n) for n in shape), dtype=dtype, device=device, fans=fans)
        p = Parameter(data, trainable=trainable, dtype=dtype, device=device)
        p.name = name
        regularizer = regularizers.get(regularizer)
        if regularizer is not None:
            self._regularized = list(self._regularized) + [(p, regularizer)]
        tracked = list(getattr(self, "_tracked_weights", ()))
        self._tracked_weights = tracked + [(name or f"weight_{len(tracked)}", p)]
        return p

    # ------------------------------------------------------------------ config (saving the architecture)
    def get_config(self) -> dict:
        """The constructor arguments, under Keras' config keys (see nn/config.py)."""
        return config_module.get_config(self)

    @classmethod
    def from_config(cls, config):
        """A new module made from get_config()'s dict: same settings, fresh weights."""
        return config_module.from_config(cls, config)

    # ------------------------------------------------------------------ the graph (functional API)
    def _node_attribute(self, what, index=None):
        nodes = self._inbound_nodes
        if not nodes:
            raise AttributeError(f"layer '{self.name}' has no {what} yet: it was never called on a symbolic "
                                 "tensor (call it on nn.Input(...) or put it in a model with a known input shape)")
        if index is None:
            if len(nodes) > 1:
                raise AttributeError(f"layer '{self.name}' was called {len(nodes)} times, so its {what} is "
                                     f"ambiguous; use get_{what}_at(i) for call number i")
            index = 0
        node = nodes[index]
        values = node.input_tensors if what == "input" else node.outputs
        return values[0] if len(values) == 1 else list(values)

    @property
    def input(self):
        """The symbolic tensor(s) this layer was called on (Keras' layer.input)."""
        return self._node_attribute("input")

    @property
    def output(self):
        """The symbolic tensor(s) this layer made (Keras' layer.output), e.g. to build
        Model(model.input, [layer.output for layer in model.layers[:4]])."""
        return self._node_attribute("output")

    def get_input_at(self, index):
        return self._node_attribute("input", index)

    def get_output_at(self, index):
        return self._node_attribute("output", index)

    def __repr__(self):
        return f"{type(self).__name__}(name='{self.name}')"


def _per_sample_penalty(regularizer, out: Tensor) -> Tensor:
    """An activity regularizer's penalty of a batch's output divided by the batch size (Keras 3),
    0 for an empty batch; a 0-d output is not divided."""
    penalty = regularizer(out)
    if out.ndim == 0:
        return penalty
    return penalty / out.shape[0] if out.shape[0] else penalty * 0.0


# ---------------------------------------------------------------------- tracking containers

def _held(value, kind):
    """The `kind` objects in value: value itself, or inside (nested) lists, tuples and dicts."""
    if isinstance(value, kind):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _held(item, kind)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _held(item, kind)


def _held_with_paths(value, kind, path):
    """(path, object) for the `kind` objects inside a container: 'heads/a', 'blocks/0/1'."""
    if isinstance(value, kind):
        return [(path, value)]
    if isinstance(value, (list, tuple)):
        items = enumerate(value)
    elif isinstance(value, dict):
        items = value.items()
    else:
        return []
    return [found for key, item in items for found in _held_with_paths(item, kind, f"{path}/{key}")]


# ---------------------------------------------------------------------- shape helpers

def _as_shape(shape):
    """A per-sample shape as a tuple (an int n means (n,)); a list of shapes, for layers with
    several inputs, as a list of tuples."""
    if isinstance(shape, int):
        return (shape,)
    shape = list(shape)
    if shape and all(isinstance(n, (list, tuple)) for n in shape):
        return [_as_shape(s) for s in shape]
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
