"""The functional API's graph: layer calls on symbolic tensors, and the model that runs them.

    inputs = nn.Input((784,))                        # a symbolic tensor, shape (None, 784)
    h = nn.Dense(64, activation="relu")(inputs)       # records a Node: (layer, its inputs)
    outputs = nn.Dense(10, activation="softmax")(h)
    model = nn.Model(inputs, outputs)                 # a Graph of those nodes, in order

A functional model is a list of layer calls in topological order. Running it on real
tensors runs each recorded call again, on real values, in that order; the autograd graph
is then recorded by the ops inside the layers exactly as in eager code, so nothing here
knows about gradients. Ops applied to symbolic tensors (x * 2, mg.exp(x)) are nodes too
(minigrad/symbolic.py records them).

Shapes: a symbolic tensor's shape has None for the batch axis (and any size not known yet);
layers keep speaking per-sample shapes (without the batch axis) as everywhere in minigrad.nn.
"""
from __future__ import annotations

import threading

from ..engine import autograd, backend
from ..engine.symbolic import (Evaluation, ProbeEvaluation, SymbolicTensor, current, evaluating,
                               is_symbolic, map_tensors, probe_array)
from ..engine.symbolic import format_shape as format_full_shape
from ..engine.tensor import Tensor

# ---------------------------------------------------------------------- shapes


def per_sample_shapes(inputs):
    """The per-sample shape of a tensor (its shape without the batch axis), or a list of them."""
    if isinstance(inputs, (list, tuple)):
        return [per_sample_shapes(t) for t in inputs]
    return tuple(inputs.shape[1:])


def with_batch(shape):
    """(None,) + a per-sample shape (or a list of them): the full shape Keras layers speak."""
    if isinstance(shape, list):
        return [with_batch(s) for s in shape]
    return (None,) + tuple(shape)


def per_sample(specs):
    """[(full shape, dtype), ...] from probe_output_specs as per-sample shape(s)."""
    shapes = [tuple(spec[1:]) for spec, _ in specs[0]]
    return shapes if specs[1] else shapes[0]


class _Probes(threading.local):
    depth = 0                   # > 0 while a layer runs on probes in this thread


_probes = _Probes()


def probing() -> bool:
    """True while a layer runs on probe data to find its output shape (add_loss ignores it),
    in this thread."""
    return _probes.depth > 0


def probe_output_specs(layer, full_shapes, dtypes=None):
    """Run layer.forward on two probe batches (sizes 2 and 4 for every None) and compare:
    ([(full output shape, dtype), ...], several outputs?). Eval mode, no graph recorded."""
    several_in = isinstance(full_shapes, list)
    shapes = full_shapes if several_in else [full_shapes]
    dtypes = dtypes or [backend.np.dtype("int64") if layer.accepts_integer_input else layer.dtype] * len(shapes)
    runs = []
    _probes.depth += 1
    try:
        with layer._mode(False), autograd.no_grad(), evaluating(ProbeEvaluation()):
            for which in (0, 1):
                probes = [Tensor._make(probe_array(s, d, layer.device, which)) for s, d in zip(shapes, dtypes)]
                out = layer.forward(probes if several_in else probes[0])
                several_out = isinstance(out, (list, tuple))
                runs.append(list(out) if several_out else [out])
    finally:
        _probes.depth -= 1
    specs = [(tuple(m if m == n else None for m, n in zip(a.shape, b.shape)), a.dtype) for a, b in zip(*runs)]
    return specs, several_out


# ---------------------------------------------------------------------- nodes

class InputNode:
    """The node of an Input tensor: nothing to compute, its value is given to the model."""

    def __init__(self, layer):
        self.layer = layer
        self.name = layer.name
        self.input_tensors = []
        self.outputs = []

    def parents(self):
        return []


class Node:
    """One call of a layer on symbolic tensors: layer(inputs, *args, **kwargs)."""

    def __init__(self, layer, inputs, args, kwargs, training):
        self.layer = layer
        self.name = layer.name
        self.inputs, self.args, self.kwargs, self.training = inputs, args, kwargs, training
        self.input_tensors = self._symbolic_in(inputs)
        self.outputs = []

    @staticmethod
    def _symbolic_in(structure):
        found = []
        map_tensors(structure, found.append)
        return found

    def parents(self):
        return self._symbolic_in((self.inputs, self.args, self.kwargs))

    def run(self, value_of):
        """Call the layer on the real values; its outputs as a list."""
        inputs, args, kwargs = map_tensors((self.inputs, self.args, self.kwargs), value_of)
        out = self.layer(inputs, *args, training=self.training, **kwargs)
        return list(out) if isinstance(out, (list, tuple)) else [out]


def make_input(layer, shape, dtype):
    """The symbolic tensor an InputLayer stands for: shape (None,) + shape."""
    node = InputNode(layer)
    tensor = SymbolicTensor((None,) + tuple(shape), dtype, layer.device, node=node, name=layer.name)
    node.outputs = [tensor]
    layer._inbound_nodes = [node]
    return tensor


def call_symbolic(layer, inputs, args, kwargs, training):
    """layer(inputs) on symbolic tensors: build the layer if needed, find its output shape,
    record the call as a Node, and return new symbolic tensors for its outputs."""
    items = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    real = [type(t).__name__ for t in items if not is_symbolic(t)]
    if real:
        raise TypeError(f"layer '{layer.name}' ({type(layer).__name__}) was called on a mix of symbolic "
                        f"tensors (from Input) and real data ({', '.join(real)}): while defining a model, "
                        "every input of a layer comes from Input(...) or another layer; turn a constant "
                        "into part of a layer (e.g. a Lambda), or call the layer on real data only")
    shapes = per_sample_shapes(list(items)) if isinstance(inputs, (list, tuple)) else per_sample_shapes(inputs)
    if not layer.built:
        for m in layer.modules():
            m._device = m._device or items[0].device
        layer.build_for(shapes)
    elif not isinstance(shapes, list) and not layer.fits_input(shapes):
        made_by = items[0].node.name if items[0].node is not None else "an Input"
        raise ValueError(layer._shape_error(layer.expected_input_shape(), shapes) + f" (from '{made_by}')")
    specs = _output_specs(layer, shapes, items)
    node = Node(layer, inputs, args, kwargs, training)
    for index, (spec, dtype) in enumerate(specs[0]):
        node.outputs.append(SymbolicTensor(spec, dtype, items[0].device, node=node, index=index))
    layer._inbound_nodes = list(layer._inbound_nodes) + [node]
    return list(node.outputs) if specs[1] else node.outputs[0]


def _fits(expected, shape) -> bool:
    return len(expected) == len(shape) and all(e is None or s is None or e == s for e, s in zip(expected, shape))


def _output_specs(layer, shapes, items):
    """([(full output shape, dtype)], several?) for a layer called on inputs of `shapes`."""
    own = getattr(layer, "symbolic_output_specs", None)
    if own is not None:                       # layers that may change the batch axis (Lambda)
        return own(with_batch(shapes), [t.dtype for t in items])
    if shapes == layer.input_shape and layer.output_shape is not None:
        out = layer.output_shape
    else:
        out = layer._output_shape(shapes)
    several = isinstance(out, list)
    dtype = layer.dtype
    return [(with_batch(s), dtype) for s in (out if several else [out])], several


# ---------------------------------------------------------------------- the graph of a model

class Graph:
    """The nodes between a model's inputs and its outputs (and symbolic losses), in order.

    inputs, outputs   flat lists of symbolic tensors
    nodes             every node to run, each after the nodes it depends on
    """

    def __init__(self, inputs, outputs, model_name="model"):
        self.inputs, self.outputs = list(inputs), list(outputs)
        for t in self.inputs:
            if not is_symbolic(t) or not isinstance(t.node, InputNode):
                raise TypeError(f"Model '{model_name}': inputs must be tensors made by nn.Input(...), "
                                f"got {t!r}")
        for t in self.outputs:
            if not is_symbolic(t):
                raise TypeError(f"Model '{model_name}': outputs must be symbolic tensors (made by calling "
                                f"layers on nn.Input(...)), got {type(t).__name__}")
        self.model_name = model_name
        self.nodes = self.sort(self.outputs)

    def sort(self, targets):
        """The nodes that `targets` depend on, dependencies first (depth-first, no recursion).
        Raises if a target needs an Input that is not among the model's inputs, or on a cycle."""
        given = {id(t) for t in self.inputs}
        order, done, active = [], set(), set()
        stack = [(t.node, t, False) for t in reversed(targets)]
        while stack:
            node, wanted, expanded = stack.pop()
            if id(node) in done:
                continue
            if expanded:
                active.discard(id(node))
                done.add(id(node))
                if not isinstance(node, InputNode):
                    order.append(node)
                continue
            if isinstance(node, InputNode):
                if id(wanted) not in given:
                    raise ValueError(self._disconnected(wanted))
                done.add(id(node))
                continue
            if id(node) in active:
                raise ValueError(f"Model '{self.model_name}': the graph has a cycle through '{node.name}'")
            active.add(id(node))
            stack.append((node, wanted, True))
            for parent in reversed(node.parents()):
                if id(parent.node) not in done:
                    if id(parent.node) in active:
                        raise ValueError(f"Model '{self.model_name}': the graph has a cycle through "
                                         f"'{parent.node.name}' and '{node.name}'")
                    stack.append((parent.node, parent, False))
        return order

    def _disconnected(self, tensor) -> str:
        names = ", ".join(f"'{t.node.name}'" for t in self.inputs) or "none"
        return (f"Model '{self.model_name}': graph disconnected: an output depends on Input "
                f"'{tensor.node.name}' {format_full_shape(tensor.shape)}, which is not among the model's "
                f"inputs ({names}); add it to Model(inputs=[...]) or build the output from these inputs")

    def layers(self) -> list:
        """Each layer once (Input layers first), in the order the model runs them."""
        seen, out = set(), []
        for layer in [t.node.layer for t in self.inputs] + [n.layer for n in self.nodes if hasattr(n, "layer")]:
            if id(layer) not in seen:
                seen.add(id(layer))
                out.append(layer)
        return out

    def run(self, values, extra=()):
        """The outputs (and the `extra` symbolic tensors, e.g. losses) for real input values."""
        if len(values) != len(self.inputs):
            raise ValueError(f"Model '{self.model_name}' takes {len(self.inputs)} input(s) "
                             f"({', '.join(repr(t.node.name) for t in self.inputs)}) but got {len(values)}")
        evaluation = Evaluation(parent=current())
        for t, value in zip(self.inputs, values):
            if not _fits(t.shape[1:], value.shape[1:]) or value.ndim != len(t.shape):
                raise ValueError(f"Model '{self.model_name}': input '{t.node.name}' expects shape "
                                 f"{format_full_shape(t.shape)} but got {tuple(value.shape)} "
                                 "(batch axis first; images are NCHW unless channels_last is chosen)")
            evaluation.set(t, value)
        with evaluating(evaluation):
            for node in self.nodes:
                if id(node.outputs[0]) in evaluation.values:   # already computed on demand
                    continue
                for out, real in zip(node.outputs, node.run(evaluation.value_of)):
                    evaluation.set(out, real)
            return [evaluation.value_of(t) for t in self.outputs], [evaluation.value_of(t) for t in extra]


def flatten_structure(structure):
    """(flat list of tensors, names or None, kind) of a tensor, a list/tuple or a dict of them
    (nested structures are flattened in order; pack_nested rebuilds them)."""
    if isinstance(structure, dict):
        return flatten_nested(structure)[0], list(structure.keys()), "dict"
    if isinstance(structure, (list, tuple)):
        return flatten_nested(structure)[0], None, "list"
    return [structure], None, "single"


def flatten_nested(structure):
    """(flat list of the leaves, a template): the template is the structure with each leaf
    replaced by its position in the flat list (lists, tuples and dicts, nested as deep as they go)."""
    flat = []

    def visit(item):
        if isinstance(item, dict):
            return {k: visit(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return type(item)(visit(v) for v in item)
        flat.append(item)
        return len(flat) - 1
    return flat, visit(structure)


def pack_nested(values, template):
    """The inverse of flatten_nested: `values` put back in the template's structure."""
    if isinstance(template, dict):
        return {k: pack_nested(values, v) for k, v in template.items()}
    if isinstance(template, (list, tuple)):
        return type(template)(pack_nested(values, v) for v in template)
    return values[template]


def unpack_singleton(structure):
    """Keras' rule for a model's outputs: a list or tuple of one element is that element."""
    if isinstance(structure, (list, tuple)) and len(structure) == 1:
        return structure[0]
    return structure


def pack_structure(values, names, kind):
    """The inverse of flatten_structure, for real values (flat structures)."""
    if kind == "dict":
        return dict(zip(names, values))
    if kind == "list":
        return list(values)
    return values[0]
