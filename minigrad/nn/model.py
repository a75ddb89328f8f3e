"""Model: a Module with Keras' training API, built three ways.

    functional    x = Input((784,)); y = Dense(10)(Dense(64, activation="relu")(x))
                  model = Model(x, y)                      (graph.py: the layer calls, in order)
    Sequential    Sequential([Dense(64, activation="relu"), Dense(10)])     (sequential.py)
    subclassing   class MyModel(Model): def forward(self, x) (or Keras' call(self, inputs)) ...

Every kind compiles and trains the same way (trainer.py: Model is Trainer + Module, and
fit() calls the model's own train_step, which a subclass may override):

    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=5, batch_size=32, validation_data=(x_val, y_val))
    model.evaluate(x_test, y_test)
    probabilities = model.predict(x_test)

A functional model is a layer too: call it on a tensor, nest it in another model (the
VAE's decoder(encoder(x)[2])), or put it in a Sequential.
"""
from __future__ import annotations

import os

import numpy as np

from ..engine.tensor import Tensor
from ..training.callbacks import History  # noqa: F401  (re-exported: nn.History, as before)
from . import graph, saving, serialization
from .module import Module, format_shape, unique_name
from .trainer import Trainer


def _output_name(tensor) -> str:
    """Keras names an output after the layer (or op) that made it."""
    node = tensor.node
    return node.layer.name if hasattr(node, "layer") else node.name.lower()


def _unique(names) -> list:
    seen, out = {}, []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}_{count}")
    return out


class LayerList(list):
    """model.layers: a list to read. Changing it would not change the model (Keras' old
    `model.layers.pop()` gotcha), so it refuses, pointing to what does."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("model.layers is a read-only view: changing it would not change the model. "
                        "Use model.pop() / model.add(layer) on a Sequential, or build a new model, e.g. "
                        "Model(model.input, model.layers[-2].output)")

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse


class Model(Trainer, Module):
    """A Module that can be compiled and trained with fit(); see the module docstring.

    Model(inputs, outputs, name=None)   a functional model: inputs and outputs are symbolic
                                        tensors (one, a list or a dict of them)
    Model()                             the base of a subclassed model (write forward or call)
    """

    _graph = None

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        if kwargs:
            raise TypeError(f"Model: unexpected arguments {sorted(kwargs)}")
        functional = inputs is not None or outputs is not None
        super().__init__(name=name or (unique_name("functional") if functional else None), trainable=trainable)
        if functional:
            self._init_graph(inputs, outputs)

    # ------------------------------------------------------------------ the functional graph
    def _init_graph(self, inputs, outputs):
        if inputs is None or outputs is None:
            raise TypeError("Model(inputs, outputs): give both, e.g. Model(x, y) with x = Input((784,))")
        self._inputs_struct, self._outputs_struct = inputs, outputs
        flat_in, in_keys, self._input_kind = graph.flatten_structure(inputs)
        once = set()
        for t in flat_in:
            if id(t) in once:
                raise ValueError(f"Model '{self.name}': the input {getattr(t.node, 'name', t)!r} appears more than "
                                 "once in inputs; an input may appear only once (as in Keras). To feed one "
                                 "array to two branches, use the input tensor twice inside the model")
            once.add(id(t))
        # Keras' rule: outputs=[o] (one element) gives o itself; deeper structures are kept
        given = graph.unpack_singleton(outputs)
        flat_out, out_keys, self._output_kind = graph.flatten_structure(given)
        self._output_template = graph.flatten_nested(given)[1]
        self._graph = graph.Graph(flat_in, flat_out, self.name)
        self._graph_layers = self._graph.layers()          # children(): weights in layer order
        self._input_keys = in_keys or [t.node.name for t in flat_in]
        self._output_keys = out_keys
        self.output_names = out_keys or _unique([_output_name(t) for t in flat_out])
        shapes = [tuple(t.shape[1:]) for t in flat_in]
        self.input_shape = shapes[0] if self._input_kind == "single" else shapes
        outs = [tuple(t.shape[1:]) for t in flat_out]
        self.output_shape = outs[0] if self._output_kind == "single" else outs
        self._declared_input_shape = self.input_shape if self._input_kind == "single" else None
        self._integer_inputs = {id(t): self._takes_integers(t) for t in flat_in}
        self.built = True

    def _takes_integers(self, symbolic_input) -> bool:
        """True when integer data for this Input stays integer: a layer reading it takes
        integer ids (Embedding), or it is an integer Input that no weighted layer reads
        (Keras casts what goes into a Dense or a convolution to its float type)."""
        readers = [node.layer for node in self._graph.nodes
                   if hasattr(node, "layer") and any(u is symbolic_input for u in node.input_tensors)]
        if any(layer.accepts_integer_input for layer in readers):
            return True
        integer = symbolic_input.dtype.kind in "iub"
        return integer and not any(next(iter(layer.own_parameters()), None) is not None for layer in readers)

    @property
    def inputs(self) -> list:
        """The model's input tensors (symbolic), as a list."""
        if self._graph is None:
            raise AttributeError(f"model '{self.name}' has no symbolic inputs (it is not functional, "
                                 "or not built with a known input shape)")
        return list(self._graph.inputs)

    @property
    def outputs(self) -> list:
        if self._graph is None:
            raise AttributeError(f"model '{self.name}' has no symbolic outputs (it is not functional, "
                                 "or not built with a known input shape)")
        return list(self._graph.outputs)

    @property
    def input(self):
        """The input tensor (or the list of them), as Keras' model.input."""
        tensors = self.inputs
        return tensors[0] if len(tensors) == 1 else tensors

    @property
    def output(self):
        tensors = self.outputs
        return tensors[0] if len(tensors) == 1 else tensors

    @property
    def layers(self) -> list:
        """The layers, in the order they run (a functional model lists its Input layers first)."""
        if self._graph is not None:
            return LayerList(self._graph_layers)
        return LayerList(self.children())

    def get_layer(self, name=None, index=None):
        """The layer called `name`, or at position `index` of model.layers."""
        layers = self.layers
        if index is not None:
            if name is not None:
                raise ValueError("get_layer: give name or index, not both")
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} is out of range: model '{self.name}' has "
                                 f"{len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"get_layer: no layer named {name!r} in model '{self.name}'; its layers are "
                         f"{[layer.name for layer in layers]}")

    def add_loss(self, loss) -> None:
        """Add a loss; on a functional model it may be symbolic (computed from the model's
        tensors at every step, as the Keras VAE's vae.add_loss(vae_loss))."""
        if isinstance(loss, Tensor) and loss.symbolic and self._graph is not None and not graph.probing():
            self._graph.sort([loss])                 # raises now if it needs inputs the model lacks
        super().add_loss(loss)

    def forward(self, inputs, *args, **kwargs):
        if self._graph is None:
            call = getattr(type(self), "call", None)
            if call is None:
                raise NotImplementedError(f"{type(self).__name__} must define forward(x) (or Keras' call(inputs)), "
                                          "or be built as Model(inputs, outputs)")
            return self.call(inputs, *args, **kwargs)
        if args or kwargs:
            raise TypeError(f"model '{self.name}': unexpected arguments {list(kwargs) or args}")
        outs, losses = self._graph.run(self._flat_inputs(inputs), self._symbolic_losses)
        for loss in losses:
            self.add_loss(loss)
        return graph.pack_nested(outs, self._output_template)

    def _input_structure(self):
        """The inputs as given to Model(...) (a tensor, or a list or dict of them)."""
        return self._inputs_struct

    def _output_structure(self):
        return self._outputs_struct

    def _flat_inputs(self, inputs) -> list:
        n = len(self._graph.inputs)
        if isinstance(inputs, dict):
            missing = [k for k in self._input_keys if k not in inputs]
            if missing:
                raise ValueError(f"model '{self.name}': no value for input(s) {missing}; it takes "
                                 f"{self._input_keys}")
            return [inputs[k] for k in self._input_keys]
        values = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(values) != n:
            raise ValueError(f"model '{self.name}' takes {n} input(s) {self._input_keys}, got {len(values)}")
        return values

    def _as_input_tensors(self, inputs):
        if self._graph is None or len(self._graph.inputs) == 1 and not isinstance(inputs, (dict, list, tuple)):
            if self._graph is None:
                return super()._as_input_tensors(inputs)
            return self._input_tensor(inputs, self._graph.inputs[0])
        if isinstance(inputs, dict):
            order = dict(zip(self._input_keys, self._graph.inputs))
            return {k: self._input_tensor(v, order.get(k)) for k, v in inputs.items()}
        values = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        return [self._input_tensor(v, t) for v, t in zip(values, self._graph.inputs)]

    def _input_tensor(self, value, symbolic_input):
        """Data for one Input. NumPy data and integer tensors are fed as Keras feeds them:
        integers stay integers only for a layer of integer ids (Embedding), anything else
        becomes the model's float type (an int32 Input into Dense predicts float32, a float64
        array into a float32 model too). A float Tensor is taken as it is, dtype included
        (minigrad's choice, unlike Keras: float64 tensors run float64 gradient checks through
        a model). A batch of rank one less than the Input, whose last size is 1, gets that
        axis (x of shape (n,) for an Input of shape (1,)), as in Keras."""
        expected = None if symbolic_input is None else len(symbolic_input.shape)
        integer_input = symbolic_input is not None and self._integer_inputs.get(id(symbolic_input), False)
        if isinstance(value, Tensor):
            if expected is not None and value.ndim == expected - 1 and symbolic_input.shape[-1] == 1:
                value = value.reshape(tuple(value.shape) + (1,))
            if value.dtype.kind in "iub" and not integer_input:
                value = value.astype(self.dtype)
            return value
        host = np.asarray(value)
        if expected is not None and host.ndim == expected - 1 and symbolic_input.shape[-1] == 1:
            host = host[..., None]
        keep = host.dtype.kind in "iub" and integer_input
        return Tensor(host, dtype=None if keep else self.dtype, device=self.device)

    # ------------------------------------------------------------------ what the trainer asks
    def _known_output_names(self):
        return self.output_names if self._graph is not None else None

    @property
    def output_names(self) -> list:
        return self.__dict__.get("output_names", ["output"])

    @output_names.setter
    def output_names(self, names) -> None:
        self.__dict__["output_names"] = list(names)

    # ------------------------------------------------------------------ summary
    def _summary_rows(self):
        """(name (type), output shape, params[, connected to]) per layer."""
        if self._graph is None:
            return [_row(layer) for layer in self.children()]
        nodes_of = {}
        for node in [t.node for t in self._graph.inputs] + self._graph.nodes:
            nodes_of.setdefault(id(getattr(node, "layer", node)), []).append(node)
        rows = []
        for key, nodes in nodes_of.items():
            node = nodes[0]
            layer = getattr(node, "layer", None)
            shapes = [format_shape(t.shape[1:]) for t in node.outputs]
            shape = shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"
            if layer is None:
                label, params = f"{node.name.lower()} ({node.name})", "0"
            else:
                label = f"{layer.name} ({type(layer).__name__})"
                params = f"{layer.count_params():,}"
            links = [f"{_node_label(t)}" for n in nodes for t in n.parents()] if not isinstance(
                node, graph.InputNode) else []
            rows.append((label, shape, params, ", ".join(links) or "-"))
        return rows

    def summary(self, print_fn=None, line_length=None):
        """Print Keras' table: each layer's name (type), output shape and parameter count (and,
        for a functional model, what it is connected to), then the totals (shared layers once).

        line_length: the table's width in characters, as in Keras: the columns share it in
        their usual proportions, and a cell too long for its column is cut, ending in "…"."""
        print_fn = print_fn or print
        body = self._summary_rows()
        header = ("Layer (type)", "Output Shape", "Param #", "Connected to")[:len(body[0]) if body else 3]
        rows = [header] + body
        widths = [max(28, *(len(r[0]) for r in rows)) + 2, max(24, *(len(r[1]) for r in rows)) + 2,
                  max(10, *(len(r[2]) for r in rows)) + (2 if len(header) == 4 else 0)]
        if len(header) == 4:
            widths.append(max(16, *(len(r[3]) for r in rows)))
        if line_length is not None:
            widths = _fit_widths(widths, line_length, len(header))
        total_width = sum(widths) + 1

        def cut(cell, width):
            room = width - 1 if line_length is not None else width      # a space between columns
            return cell if len(cell) <= room else cell[:max(room - 1, 0)] + "…"

        def line(row):
            return (" " + "".join(cut(cell, w).ljust(w) for cell, w in zip(row, widths))).rstrip()

        weights = self.weights
        trainable = sum(p.size for p in weights if p.trainable)
        total = sum(p.size for p in weights)
        print_fn(f'Model: "{self.name}"')
        print_fn("_" * total_width)
        print_fn(line(rows[0]))
        print_fn("=" * total_width)
        for i, row in enumerate(rows[1:]):
            print_fn(line(row))
            if i < len(rows) - 2:
                print_fn("")
        print_fn("=" * total_width)
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {total - trainable:,}")
        print_fn("_" * total_width)

    # ------------------------------------------------------------------ saving
    def save_weights(self, filepath, include_optimizer=True, overwrite=True) -> str:
        """Write the weights to exactly `filepath`, atomically; its ending picks the format:

            .weights.h5    Keras 3's layout (keras_model.load_weights reads it)
            .h5            Keras 2's (legacy) layout
            .keras         the whole model, as model.save
            anything else  minigrad's .npz, with the optimizer's state: a model rebuilt,
                           compiled and loaded from it continues training exactly
        Returns the path written (the one given).
        """
        path = saving.check_target(filepath, "save_weights")
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"save_weights: {path} exists and overwrite=False")
        kind = saving.file_kind(path)
        if kind == "keras":
            return self.save(path, include_optimizer=include_optimizer)
        if kind in ("keras3_weights", "legacy_h5"):
            return saving.save_keras_weights_file(self, path)
        state = None
        if include_optimizer and self.optimizer is not None and self._parameters_to_train is not None:
            state = self._optimizer_state()
        return saving.save(path, self, state)

    def load_weights(self, filepath) -> None:
        """Load weights that save_weights wrote (or Keras wrote), from exactly `filepath`; the
        architecture must match (checked, layer by layer, before anything changes).

        .keras, .weights.h5 and .h5 are Keras' files (the weights; needs h5py). Anything else
        is minigrad's .npz; a saved optimizer state is loaded too when the model is compiled
        (now, or later: it is kept until the optimizer gets its parameters).
        """
        path = os.fspath(filepath)
        if saving.file_kind(path) != "npz":
            return saving.load_weights_file(self, path)
        if not saving.weight_records(self) and not self.built:
            raise RuntimeError(f"load_weights: model '{self.name}' has no weights yet; build it first "
                               "(give the first layer input_shape=..., or call it on a batch)")
        bound = self.optimizer is not None and self._parameters_to_train is not None
        params = None if self._optimizer_has_own_params else self._parameters_to_train
        # everything is read and checked first: a failed load leaves the model as it was
        records, weights, state = saving.read_checked(self, path, self.optimizer if bound else None, params)
        saving.assign_all(records, weights)
        if state is not None:
            if bound:
                self._load_optimizer_state(state)
            else:
                self._pending_optimizer_state = state

    def save(self, filepath, overwrite=True, include_optimizer=True) -> str:
        """model.save("m.keras"): the whole model in Keras 3's archive (architecture, weights,
        compile settings and the optimizer's state), which nn.load_model and Keras 3's
        keras.models.load_model read; "m.h5" writes Keras 2's whole-model file."""
        path = saving.check_target(filepath, "save")
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"save: {path} exists and overwrite=False")
        return saving.save_model(self, path, include_optimizer)

    # ------------------------------------------------------------------ configs
    def get_config(self) -> dict:
        """A Sequential or functional model's architecture, under Keras' keys (its layers'
        configs and, for a functional model, how they are called); see nn/serialization.py.
        A subclassed model writes its own (Keras' way), or has only name and trainable."""
        if self._graph is None and not isinstance(self, Module.minigrad_class("Sequential")):
            return super().get_config()
        return serialization.model_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The model a get_config() describes, with fresh weights."""
        sequential = Module.minigrad_class("Sequential")
        if cls is Model or issubclass(cls, sequential):
            if issubclass(cls, sequential):
                return serialization.sequential_from_config(config, custom_objects, cls=cls)
            return serialization.model_from_config(config, custom_objects)
        return super().from_config(config)

    def to_json(self, **kwargs) -> str:
        """The architecture as JSON (Keras 3's serialized form); nn.model_from_json reads it."""
        return serialization.to_json(self, **kwargs)


def _fit_widths(widths, line_length, columns) -> list:
    """Column widths summing to line_length - 1 in the proportions of `widths` (Keras' line_length)."""
    if line_length < 4 * columns:
        raise ValueError(f"summary: line_length={line_length} leaves no room for {columns} columns; "
                         f"give at least {4 * columns}")
    room = line_length - 1
    scaled = [max(4, w * room // sum(widths)) for w in widths]
    scaled[-1] += room - sum(scaled)
    return scaled


def _row(layer):
    shape = layer.output_shape if layer.built else None
    if shape is None:
        shape_text = "?"
    elif isinstance(shape, list):
        shape_text = "[" + ", ".join(format_shape(s) for s in shape) + "]"
    else:
        shape_text = format_shape(shape)
    params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
    return (f"{layer.name} ({type(layer).__name__})", shape_text, params)


def _node_label(tensor) -> str:
    """Keras' "layer[node][tensor]" for the tensor a layer was called on."""
    node = tensor.node
    owner = getattr(node, "layer", None)
    index = owner._inbound_nodes.index(node) if owner is not None and node in owner._inbound_nodes else 0
    name = owner.name if owner is not None else node.name.lower()
    return f"{name}[{index}][{tensor.index}]"
