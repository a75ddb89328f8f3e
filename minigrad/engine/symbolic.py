"""Symbolic tensors: placeholders that record a computation before any data flows.

They are what Keras' functional API is made of:

    x = nn.Input((784,))                   # a SymbolicTensor of shape (None, 784)
    h = nn.Dense(64, activation="relu")(x)  # layers record a call (nn/graph.py)
    y = mg.exp(h) * 2 + 1                   # ops on symbolic tensors are recorded too
    model = nn.Model(x, y)                  # runs it all, later, on real tensors

A SymbolicTensor knows its shape (None where any size goes, like the batch axis), its dtype
and the node that will compute it. It *is* a Tensor, so every operator and method works on
it; what it holds in .data is only a probe: a small constant array of its dtype with every
unknown size replaced by 2. Probes are how the output shape of an op is found:

  1. the op's forward runs twice on probes, with the unknown sizes set to 2 and then to 4;
     sizes that change with the probe are unknown (None), the others are fixed;
  2. the result is a new SymbolicTensor whose node (an OpNode) remembers the op, its inputs
     (symbolic tensors, or real tensors used as constants) and its settings.

Nothing here computes gradients. When a model runs (nn/graph.py), each recorded node runs
again on real tensors, so the ordinary autograd graph is recorded by the ops as in eager code.

While a model runs, an Evaluation is active: an op that meets a symbolic tensor then uses
that tensor's real value in the current run, computing it on demand. That is what lets a
custom layer use a symbolic tensor it closes over (the Keras 2 VAE's loss layer does).
"""
from __future__ import annotations

import contextlib
import threading

from . import backend
from .tensor import Tensor

PROBE_SIZES = (2, 4)        # stand-ins for an unknown size, in the two shape-finding runs


def is_symbolic(value) -> bool:
    return isinstance(value, Tensor) and value.symbolic


def format_shape(shape) -> str:
    return "(" + ", ".join("None" if n is None else str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def probe_array(shape, dtype, device, which=0):
    """A constant array of `shape` with each None replaced by PROBE_SIZES[which]: 0.5 for
    floats (finite under log, sqrt, 1/x), 0 for integers and booleans (a valid index)."""
    size = PROBE_SIZES[which]
    concrete = tuple(size if n is None else n for n in shape)
    dtype = backend.np.dtype(dtype)
    fill = 0.5 if dtype.kind in "fc" else 0
    return backend.xp_for(device).full(concrete, fill, dtype=dtype)


class SymbolicTensor(Tensor):
    """A tensor of a model being defined: shape (None = any size), dtype, and its maker.

    node    the node that computes it (an OpNode here, a layer call in nn/graph.py, or the
            InputLayer of an Input), and index, which of that node's outputs it is
    """
    __slots__ = ("spec", "node", "index")
    symbolic = True

    def __init__(self, shape, dtype, device=None, node=None, index=0, name=None):
        device = backend.normalize_device(device)
        self.spec = tuple(None if n is None else int(n) for n in shape)
        self.data = probe_array(self.spec, dtype, device)
        self.device = device
        self.grad = None
        self._ctx = None
        self.requires_grad = False
        self._version = [0]
        self.name = name
        self.node = node
        self.index = index

    shape = property(lambda self: self.spec)

    def __repr__(self):
        made_by = f", made by '{self.node.name}'" if getattr(self.node, "name", None) else ""
        label = f" '{self.name}'" if self.name else ""
        return f"<SymbolicTensor{label} shape={format_shape(self.spec)} dtype={self.dtype}{made_by}>"

    # ---------------------------------------------------------------- no value yet
    def _no_value(self, what):
        raise TypeError(f"{what} of a symbolic tensor {self!r}: it has no value until the model runs. "
                        "Build a model, e.g. model = nn.Model(inputs, outputs), and call it on data "
                        "(model(x) or model.predict(x)); inside a model, put such code in a Lambda layer")

    def numpy(self):
        self._no_value("numpy()")

    def item(self):
        self._no_value("item()")

    def tolist(self):
        self._no_value("tolist()")

    def __bool__(self):
        self._no_value("bool()")

    def __len__(self):
        self._no_value("len()")

    def __float__(self):
        self._no_value("float()")

    def __array__(self, *args, **kwargs):
        self._no_value("np.asarray()")

    def backward(self, *args, **kwargs):
        self._no_value("backward()")

    def detach(self):
        self._no_value("detach()")

    def __setitem__(self, index, value):
        raise TypeError(f"in-place assignment into a symbolic tensor {self!r} cannot be recorded; "
                        "build the new value with ops (e.g. mg.where or concatenation) instead")


# ---------------------------------------------------------------------- ops on symbolic tensors

class OpNode:
    """An op applied to symbolic tensors: op.apply(*inputs, **settings), run later."""

    def __init__(self, op, inputs, settings):
        self.op = op
        self.inputs = inputs            # symbolic tensors, and real tensors used as constants
        self.settings = settings
        self.outputs = []
        self.name = op.__name__
        self._constants = {}            # device -> the constant inputs on that device

    def parents(self):
        return [t for t in self.inputs if is_symbolic(t)]

    def run(self, value_of):
        """The real output, with value_of(t) giving the real value of a symbolic input.
        Constants (2 in x * 2) follow the data to its device, once per device."""
        values = [value_of(t) if is_symbolic(t) else None for t in self.inputs]
        device = next(v.device for v in values if v is not None)
        constants = self._constants.get(device)
        if constants is None:
            constants = self._constants[device] = [None if is_symbolic(t) else t.to(device) for t in self.inputs]
        return [self.op.apply(*[v if v is not None else c for v, c in zip(values, constants)], **self.settings)]


def record_op(op, inputs, settings):
    """Function.apply's answer when an input is symbolic (see the module docstring)."""
    if running():                        # a model is running: use the real values
        value_of = current().value_of
        return op.apply(*[value_of(t) if is_symbolic(t) else t for t in inputs], **settings)
    shapes = []
    for which in (0, 1):
        arrays = [probe_array(t.spec, t.dtype, t.device, which) if is_symbolic(t) else t.data for t in inputs]
        try:
            with backend.np.errstate(all="ignore"):
                out = op().forward(*arrays, **settings)
        except (ValueError, IndexError, TypeError) as exc:
            given = ", ".join(format_shape(t.shape) for t in inputs)
            raise ValueError(f"{op.__name__} on symbolic tensors of shapes {given}: {exc} "
                             "(None is the batch axis or another size not known yet)") from None
        shapes.append(tuple(out.shape))
    if len(shapes[0]) != len(shapes[1]):
        raise ValueError(f"{op.__name__}: the rank of its output depends on a size not known yet "
                         f"(input shapes {', '.join(format_shape(t.shape) for t in inputs)}); "
                         "put this computation in a Lambda layer")
    spec = tuple(a if a == b else None for a, b in zip(*shapes))
    node = OpNode(op, list(inputs), settings)
    result = SymbolicTensor(spec, out.dtype, inputs[0].device, node=node)
    node.outputs = [result]
    return result


# ---------------------------------------------------------------------- composite functions

def map_tensors(structure, fn):
    """`structure` (a tensor, or lists/tuples/dicts of them, other values kept) with fn applied
    to every symbolic tensor in it."""
    if is_symbolic(structure):
        return fn(structure)
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_tensors(v, fn) for v in structure)
    if isinstance(structure, dict):
        return {k: map_tensors(v, fn) for k, v in structure.items()}
    return structure


def has_symbolic(structure) -> bool:
    found = []
    map_tensors(structure, found.append)
    return bool(found)


class CallNode:
    """A Python function of tensors called on symbolic ones, as one node: fn(*args, **kwargs)."""

    def __init__(self, fn, args, kwargs):
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.outputs = []
        self.name = getattr(fn, "__name__", "function")

    def parents(self):
        found = []
        map_tensors((self.args, self.kwargs), found.append)
        return found

    def run(self, value_of):
        out = self.fn(*map_tensors(self.args, value_of), **map_tensors(self.kwargs, value_of))
        return list(out) if isinstance(out, (list, tuple)) else [out]


def recordable(fn):
    """Let a function composed of ops take symbolic tensors as one recorded node.

    Ops record themselves; but a composite that reads sizes from shapes (mean divides by a
    count) cannot run on a shape with None in it. Decorated, it is recorded whole: its output
    shape is found by running it on probes, and it runs again, whole, on the real tensors.
    """
    def wrapper(*args, **kwargs):
        if not has_symbolic((args, kwargs)):
            return fn(*args, **kwargs)
        if running():
            value_of = current().value_of
            return fn(*map_tensors(args, value_of), **map_tensors(kwargs, value_of))
        return record_call(fn, args, kwargs)
    wrapper.__name__, wrapper.__qualname__, wrapper.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    wrapper.__wrapped__ = fn
    return wrapper


def record_call(fn, args, kwargs):
    """fn(*args, **kwargs) with symbolic tensors in them, recorded as a CallNode."""
    runs, several = [], False
    for which in (0, 1):
        def as_probe(t):
            return Tensor._make(probe_array(t.spec, t.dtype, t.device, which))
        with backend.np.errstate(all="ignore"):
            out = fn(*map_tensors(args, as_probe), **map_tensors(kwargs, as_probe))
        several = isinstance(out, (list, tuple))
        runs.append(list(out) if several else [out])
    node = CallNode(fn, args, kwargs)
    device = node.parents()[0].device
    for a, b in zip(*runs):
        if a.ndim != b.ndim:
            raise ValueError(f"{node.name}: the rank of its output depends on a size not known yet; "
                             "put this computation in a Lambda layer")
        spec = tuple(m if m == n else None for m, n in zip(a.shape, b.shape))
        node.outputs.append(SymbolicTensor(spec, a.dtype, device, node=node, index=len(node.outputs)))
    return list(node.outputs) if several else node.outputs[0]


# ---------------------------------------------------------------------- evaluations

class _Runs(threading.local):
    """The runs in progress in this thread, innermost last. Per thread: a model defined in one
    thread while another thread runs a model is recorded, not mistaken for part of that run."""

    def __init__(self):
        self.stack = []


_runs = _Runs()


class Evaluation:
    """The real values of symbolic tensors during one run of a model.

    values   {id(symbolic tensor): real Tensor}, filled by the model as it runs its nodes;
    value_of computes a missing one on demand from its node (a tensor a layer closed over).
    """

    def __init__(self, values=None, parent=None):
        self.values = dict(values or {})
        self.parent = parent             # the run this one is nested in (a model inside a model)
        self._keep = []                  # the symbolic tensors keyed by id, kept alive

    def set(self, symbolic, value) -> None:
        self.values[id(symbolic)] = value
        self._keep.append(symbolic)

    def value_of(self, t):
        value = self.values.get(id(t))
        outer = self.parent
        while value is None and outer is not None:
            value, outer = outer.values.get(id(t)), outer.parent
        if value is None:
            node = t.node
            if node is None or not hasattr(node, "run"):
                raise ValueError(f"{t!r} is needed, but it is an input that was not given to this run "
                                 "(is it an Input of another model?)")
            for out, real in zip(node.outputs, node.run(self.value_of)):
                self.set(out, real)
            value = self.values[id(t)]
        return value


class ProbeEvaluation(Evaluation):
    """While finding a layer's output shape by running it on probes: symbolic tensors
    stand for their probes (unknown sizes = 2), as real, constant tensors."""

    def value_of(self, t):
        value = self.values.get(id(t))
        if value is None:
            value = Tensor._make(probe_array(t.spec, t.dtype, t.device))
            self.set(t, value)
        return value


@contextlib.contextmanager
def evaluating(evaluation: Evaluation):
    """Make `evaluation` the current run (in this thread) for the ops inside the block."""
    _runs.stack.append(evaluation)
    try:
        yield evaluation
    finally:
        _runs.stack.pop()


def running() -> bool:
    """True while a model runs in this thread (or a layer is being probed for its output shape)."""
    return bool(_runs.stack)


def current():
    """The innermost run in progress in this thread (None if none)."""
    return _runs.stack[-1] if _runs.stack else None
