"""Models as configs, in Keras 3's serialized form: what config.json of a .keras file holds.

    entry = serialize_layer(layer)   # {"module": "keras.layers", "class_name": "Dense",
                                     #  "config": layer.get_config(), "registered_name": None,
                                     #  "build_config": {"input_shape": [None, 784]}}
    layer = deserialize_layer(entry, custom_objects=None)

A Sequential model's config lists its layers (an InputLayer first when the input shape is
known). A functional model's config lists each layer once, with "inbound_nodes": the calls
of that layer in this model, each call's arguments written with the tensors as
{"class_name": "__keras_tensor__", "config": {"keras_history": [layer, node, index]}} (the
node-th call of that layer in this model, its index-th output); "input_layers" and
"output_layers" are the model's inputs and outputs in the same three-number form, in their
structure (one, a list, a dict, nested). Keras 2's configs (inbound_nodes as
[[name, node, index, kwargs], ...]) are read too.

Custom layers: a class decorated with @register_keras_serializable(package="Custom") is
written under registered_name "Custom>ClassName" and found by it when loading (or give it in
custom_objects={"ClassName": cls}); it writes its own get_config (Keras' way) and is made
again by from_config(config), cls(**config) by default.
"""
from __future__ import annotations

import json

from . import graph
from .conv1d import (AveragePooling1D, Conv1D, GlobalAveragePooling1D, GlobalAveragePooling2D,
                     GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D)
from .conv_layers import Conv2D, Conv2DTranspose, Convolution2D, MaxPooling2D, UpSampling2D, ZeroPadding2D
from .embedding import Embedding
from .layers import (Activation, BatchNormalization, Dense, Dropout, Flatten, InputLayer, Lambda, LeakyReLU,
                     Reshape, Softmax)
from .merge import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from .module import Module
from .preprocessing import RandomFlip, RandomRotation, RandomTranslation, RandomZoom, Rescaling
from .recurrent import GRU, LSTM, Bidirectional, SimpleRNN
from .separable import DepthwiseConv2D, SeparableConv2D

# Keras' class names of minigrad's layers (the same names: Keras' module keras.layers)
BUILTIN_LAYERS = {cls.__name__: cls for cls in (
    InputLayer, Dense, Activation, LeakyReLU, Dropout, Flatten, Reshape, BatchNormalization,
    Conv2D, Conv2DTranspose, MaxPooling2D, UpSampling2D, ZeroPadding2D,
    Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate,
    Conv1D, MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D, GlobalAveragePooling1D,
    GlobalMaxPooling2D, GlobalAveragePooling2D, Embedding, SimpleRNN, LSTM, GRU, Bidirectional,
    RandomFlip, RandomRotation, RandomTranslation, RandomZoom, Rescaling, DepthwiseConv2D, SeparableConv2D,
    Softmax, Convolution2D)}
MODEL_NAMES = {"Sequential": "Sequential", "Functional": "Model", "Model": "Model"}   # Keras' -> minigrad's


def _model_classes():
    """(Model, Sequential), found by name: model.py saves through this module, so importing it
    here would make a circle."""
    return Module.minigrad_class("Model"), Module.minigrad_class("Sequential")

_REGISTERED: dict = {}          # "Package>Name" -> class


class UnknownLayerError(ValueError):
    """A config names a layer class minigrad does not have (nor a registered custom one)."""


# ---------------------------------------------------------------------- the registry

def register_keras_serializable(package="Custom", name=None):
    """Keras' decorator: register a custom layer (or model) class under "package>name" so that
    model files that use it load with nn.load_model. name defaults to the class name."""
    def register(cls):
        key = f"{package}>{name or cls.__name__}"
        known = _REGISTERED.get(key)
        if known is not None and known is not cls and known.__qualname__ != cls.__qualname__:
            raise ValueError(f"register_keras_serializable: {key!r} is already registered for "
                             f"{known.__module__}.{known.__qualname__}")
        _REGISTERED[key] = cls
        return cls
    return register


def registered_name(cls):
    """The "package>name" a class is registered under, or None."""
    for key, known in _REGISTERED.items():
        if known is cls:
            return key
    return None


def get_registered_object(key, custom_objects=None):
    return (custom_objects or {}).get(key) or _REGISTERED.get(key)


# ---------------------------------------------------------------------- one layer

def class_name_of(layer) -> str:
    Model, Sequential = _model_classes()
    if type(layer) is Model:
        return "Functional"
    return type(layer).__name__


def serialize_layer(layer) -> dict:
    """Keras 3's serialized layer: module, class_name, config, registered_name, build_config."""
    Model, Sequential = _model_classes()
    cls = type(layer)
    if isinstance(layer, Lambda):
        raise ValueError(f"cannot save Lambda layer '{layer.name}': it runs a Python function, which a "
                         "model file cannot hold safely (Keras itself refuses to load one by default). "
                         "Write it as a custom layer class registered with "
                         "nn.register_keras_serializable, or save the weights only (save_weights)")
    registered = registered_name(cls)
    if registered is None and cls.__name__ not in BUILTIN_LAYERS and cls not in (Model, Sequential):
        raise ValueError(f"cannot save layer '{layer.name}' of class {cls.__name__}: a custom class needs "
                         f"@nn.register_keras_serializable() (and a get_config() that returns its "
                         "constructor arguments) so that a model file can name it")
    if isinstance(layer, Model) and not isinstance(layer, Sequential) and layer._graph is None:
        raise ValueError(f"cannot save model '{layer.name}' ({cls.__name__}): a subclassed model's forward "
                         "is Python code; save it as functional or Sequential, or save_weights only")
    if cls is Model:
        module = "keras.src.models.functional"
    elif cls is Sequential:
        module = "keras"
    elif registered is None:
        module = "keras.layers"
    else:
        module = cls.__module__
    entry = {"module": module, "class_name": class_name_of(layer), "config": layer.get_config(),
             "registered_name": registered}
    if layer.built and not isinstance(layer, InputLayer):
        shape = layer.input_shape
        entry["build_config"] = {"input_shape": graph.with_batch(shape) if not isinstance(shape, list)
                                 else [list(graph.with_batch(s)) for s in shape]}
        if not isinstance(shape, list):
            entry["build_config"]["input_shape"] = list(entry["build_config"]["input_shape"])
    return entry


def layer_class(entry, custom_objects=None, source="the config"):
    """The class a serialized layer names: registered, given in custom_objects, or built in."""
    name, registered = entry.get("class_name"), entry.get("registered_name")
    if registered is None and isinstance(name, str) and ">" in name:     # Keras 2: "Package>Name"
        registered = name
    cls = None
    if registered:
        cls = get_registered_object(registered, custom_objects)
    cls = cls or (custom_objects or {}).get(name) or BUILTIN_LAYERS.get(name) or \
        (Module.minigrad_class(MODEL_NAMES[name]) if name in MODEL_NAMES else None)
    if cls is None:
        layer_name = (entry.get("config") or {}).get("name", "?")
        raise UnknownLayerError(
            f"{source}: layer '{layer_name}' is a {name}{f' (registered as {registered})' if registered else ''}, "
            f"which minigrad does not have. minigrad has {sorted(BUILTIN_LAYERS)}; for a custom layer, "
            "define it and decorate it with @nn.register_keras_serializable(), or pass "
            f"custom_objects={{'{name}': YourClass}}")
    return cls


def deserialize_layer(entry, custom_objects=None, source="the config"):
    """A new layer (or model) from serialize_layer's dict, built when the entry says how."""
    Model, Sequential = _model_classes()
    if isinstance(entry, str):
        entry = {"class_name": entry, "config": {}}
    cls = layer_class(entry, custom_objects, source)
    config = entry.get("config") or {}
    if cls is Sequential or (isinstance(cls, type) and issubclass(cls, Sequential)):
        return sequential_from_config(config, custom_objects, source, cls)
    if cls is Model:
        return functional_from_config(config, custom_objects, source)
    try:
        layer = cls.from_config(config)
    except UnknownLayerError:
        raise
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: layer '{config.get('name', '?')}' ({entry.get('class_name')}) cannot be "
                         f"made from its config: {exc}") from None
    return layer


# ---------------------------------------------------------------------- Sequential

def sequential_config(model) -> dict:
    config = {"name": model.name, "trainable": model.trainable, "dtype": str(model.dtype), "layers": []}
    shape = model.input_shape if model.built else model._declared_input_shape
    if shape is not None:
        config["layers"].append({"module": "keras.layers", "class_name": "InputLayer",
                                 "config": {"batch_shape": [None] + list(shape), "dtype": str(model.dtype)
                                            if not model.accepts_integer_input else "int32",
                                            "sparse": False, "ragged": False, "name": f"{model.name}_input",
                                            "optional": False},
                                 "registered_name": None})
        config["build_input_shape"] = [None] + list(shape)
    config["layers"] += [serialize_layer(layer) for layer in model._layers]
    return config


def sequential_from_config(config, custom_objects=None, source="the config", cls=None):
    cls = cls or Module.minigrad_class("Sequential")
    model = cls(name=config.get("name"), trainable=config.get("trainable", True))
    for entry in config.get("layers", []):
        model.add(deserialize_layer(entry, custom_objects, source))
    shape = config.get("build_input_shape")
    if not model.built and shape is not None and model._layers:
        model.build_for(tuple(shape[1:]))
    return model


# ---------------------------------------------------------------------- functional

def _nodes_in(model):
    """{id(layer): [its nodes in this model, in order]} and each node's index there."""
    of_layer, index = {}, {}
    for t in model._graph.inputs:
        of_layer.setdefault(id(t.node.layer), []).append(t.node)
        index[id(t.node)] = 0
    for node in model._graph.nodes:
        if not isinstance(node, graph.Node):
            raise ValueError(f"cannot save model '{model.name}': it applies the op '{node.name}' to symbolic "
                             "tensors outside any layer (Python code a model file cannot name); write it "
                             "with layers (Add, Multiply, Activation, Reshape, a registered custom layer)")
        nodes = of_layer.setdefault(id(node.layer), [])
        index[id(node)] = len(nodes)
        nodes.append(node)
    return of_layer, index


def _history(tensor, index) -> list:
    node = tensor.node
    return [node.layer.name, index[id(node)], tensor.index if hasattr(tensor, "index") and
            tensor.index is not None else 0]


def _tensor_structure(structure, index):
    """A structure of symbolic tensors with each tensor as Keras' __keras_tensor__ entry."""
    if graph.is_symbolic(structure):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(structure.shape), "dtype": str(structure.dtype),
                           "keras_history": _history(structure, index)}}
    if isinstance(structure, dict):
        return {k: _tensor_structure(v, index) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return [_tensor_structure(v, index) for v in structure]
    return structure


def _ends_structure(structure, index):
    """input_layers / output_layers: each tensor as [layer, node, index], in its structure."""
    if graph.is_symbolic(structure):
        return _history(structure, index)
    if isinstance(structure, dict):
        return {k: _ends_structure(v, index) for k, v in structure.items()}
    return [_ends_structure(v, index) for v in structure]


def functional_config(model) -> dict:
    of_layer, index = _nodes_in(model)
    layers = []
    for layer in model._graph_layers:
        entry = serialize_layer(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = [] if isinstance(layer, InputLayer) else [
            {"args": [_tensor_structure(node.inputs, index)] + [_tensor_structure(a, index) for a in node.args],
             "kwargs": {**_tensor_structure(dict(node.kwargs), index),
                        **({"training": node.training} if node.training is not None else {})}}
            for node in of_layer[id(layer)]]
        layers.append(entry)
    names = [layer.name for layer in model._graph_layers]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"cannot save model '{model.name}': layer names {twice} are used by more than one "
                         "layer; a model file finds layers by name (give them unique names)")
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": _ends_structure(model._input_structure(), index),
            "output_layers": _ends_structure(model._output_structure(), index)}


def _is_history(value) -> bool:
    return isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and \
        all(isinstance(v, int) for v in value[1:])


def functional_from_config(config, custom_objects=None, source="the config"):
    """Make the layers, replay their calls in an order their inputs allow, and return
    Model(inputs, outputs) with the structure the config gives."""
    made, outputs_of, pending = {}, {}, []
    for entry in config.get("layers", []):
        name = entry.get("name") or (entry.get("config") or {}).get("name")
        layer = deserialize_layer(entry, custom_objects, source)
        made[name] = layer
        if isinstance(layer, InputLayer):
            outputs_of[(name, 0)] = [layer.output]
        else:
            pending.append((name, layer, list(entry.get("inbound_nodes") or [])))

    def tensor(history):
        name, node, index = history[:3]
        return outputs_of[(name, node)][index]

    def decode(value):
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            return tensor(value["config"]["keras_history"])
        if isinstance(value, dict):
            return {k: decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    def ready(value) -> bool:
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            name, node = value["config"]["keras_history"][:2]
            return (name, node) in outputs_of
        if isinstance(value, dict):
            return all(ready(v) for v in value.values())
        if isinstance(value, list):
            return all(ready(v) for v in value)
        return True

    def as_keras3(node):
        """A Keras 2 inbound node ([[name, node, index, kwargs], ...]) in Keras 3's form."""
        if isinstance(node, dict):
            return node
        tensors = [{"class_name": "__keras_tensor__", "config": {"keras_history": item[:3]}} for item in node]
        kwargs = node[0][3] if node and len(node[0]) > 3 and isinstance(node[0][3], dict) else {}
        return {"args": [tensors[0] if len(tensors) == 1 else tensors], "kwargs": kwargs}

    pending = [(name, layer, [as_keras3(n) for n in nodes]) for name, layer, nodes in pending]
    calls_made = {name: 0 for name, _, _ in pending}
    while pending:
        progress, still = False, []
        for name, layer, nodes in pending:
            while calls_made[name] < len(nodes) and ready(nodes[calls_made[name]]):
                node = nodes[calls_made[name]]
                args = [decode(a) for a in node.get("args", [])]
                # Keras records mask=None (and training=None) for each call: the defaults here
                kwargs = {k: decode(v) for k, v in (node.get("kwargs") or {}).items() if v is not None}
                out = layer(*args, **kwargs)
                outputs_of[(name, calls_made[name])] = list(out) if isinstance(out, (list, tuple)) else [out]
                calls_made[name] += 1
                progress = True
            if calls_made[name] < len(nodes):
                still.append((name, layer, nodes))
        if not progress:
            raise ValueError(f"{source}: the calls of layer(s) {[n for n, _, _ in still]} need tensors that no "
                             "layer of the config makes (a damaged or incomplete config?)")
        pending = still

    def ends(value):
        if _is_history(value):
            return tensor(value)
        if isinstance(value, dict):
            return {k: ends(v) for k, v in value.items()}
        items = [ends(v) for v in value]
        return items

    try:
        inputs, outputs = ends(config["input_layers"]), ends(config["output_layers"])
    except KeyError as exc:
        raise ValueError(f"{source}: the config's input_layers / output_layers name {exc}, which it does "
                         "not make") from None
    return Module.minigrad_class("Model")(inputs, outputs, name=config.get("name"),
                                          trainable=config.get("trainable", True))


# ---------------------------------------------------------------------- whole models, JSON

def model_config(model) -> dict:
    """The get_config() of a Sequential or functional model."""
    Model, Sequential = _model_classes()
    if isinstance(model, Sequential):
        return sequential_config(model)
    if model._graph is None:
        raise ValueError(f"get_config: model '{model.name}' is subclassed ({type(model).__name__}); its forward "
                         "is Python code, which a config cannot hold. Build it as functional or Sequential, "
                         "or write get_config/from_config for its constructor arguments")
    return functional_config(model)


def model_from_config(config, custom_objects=None, source="the config"):
    """A model from a serialized model (module/class_name/config) or a bare model config."""
    if "class_name" in config and "config" in config:
        return deserialize_layer(config, custom_objects, source)
    if "layers" in config and "input_layers" in config:
        return functional_from_config(config, custom_objects, source)
    return sequential_from_config(config, custom_objects, source)


def to_json(model, **dumps_arguments) -> str:
    """model.to_json(): the serialized model (Keras 3's form) as JSON text."""
    return json.dumps(serialize_layer(model), **dumps_arguments)


def model_from_json(text, custom_objects=None):
    """nn.model_from_json(model.to_json()): the same architecture, fresh weights."""
    try:
        config = json.loads(text)
    except (TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"model_from_json: the text is not JSON ({exc})") from None
    return model_from_config(config, custom_objects, "model_from_json")


def clone_model(model, custom_objects=None):
    """nn.clone_model(model): a new model of the same architecture with fresh weights (the
    layers made again from their configs, so no weight is shared with the original)."""
    clone = deserialize_layer(serialize_layer(model), custom_objects, "clone_model")
    clone.to(model.device)
    return clone
