"""Keras weights in: load_keras_weights(model, path) reads a weights file written by real Keras.

    from minigrad.interop import load_keras_weights
    model = Sequential([Conv2D(32, 3, activation="relu", input_shape=(3, 64, 64)), ...])
    load_keras_weights(model, "cnn.weights.h5")      # Keras 3: model.save_weights(...)
    load_keras_weights(model, "cnn.h5")              # Keras 2 (legacy) .h5, e.g. the ImageNet files
    load_keras_weights(model, "cnn.keras")           # Keras 3's saved model (a zip): its weights
    save_keras_weights(model, "for_keras.h5")        # and out: keras_model.load_weights("for_keras.h5")

The model is the minigrad equivalent of the Keras one, Sequential or functional: the same
layers called in the same way, NCHW where Keras is channels-last. Keras finds a layer's
weights by its position in model.layers, so that is how they are matched here:
    Sequential            its layers in order
    functional            Keras' order, which is not the order the layers were made or
                          called in: layers sorted by depth (the longest path to an output,
                          deepest first), ties by the order a depth-first walk from the
                          outputs meets them (keras.src.ops.function.map_graph, reproduced by
                          keras_layer_order below); a shared layer once, a nested model as one
                          layer ("functional" or "sequential" in the file, its layers inside)
Three file layouts are read (h5py needed):
    Keras 3 .weights.h5   layers/<name>/vars/0, 1, ...; <name> is the layer's class in snake
                          case, numbered per class within each model ("dense", "dense_1", ...;
                          a nested model's layers under layers/functional/layers/...), as Keras
                          3 itself finds them, so Keras' automatic layer names do not matter
    .keras archive        Keras 3's saved model, a zip: its model.weights.h5 is read as above
    Keras 2 .h5 weights   attribute layer_names; per layer a group with weight_names (also the
                          model_weights group of a whole-model .h5). The weights are taken in
                          order, layer by layer, as Keras' load_weights(by_name=False) does
Layouts converted on the way in:
    Conv2D kernel            Keras (kh, kw, in, out)  -> minigrad (out, in, kh, kw)
    Conv2DTranspose kernel   Keras (kh, kw, out, in)  -> minigrad (in, out, kh, kw)
    Dense after Flatten      Keras flattens (H, W, C) images, minigrad (C, H, W): the kernel's
                             rows are permuted (and per-feature vectors, like a BatchNorm's,
                             between the Flatten and the Dense; through Concatenate of flat
                             features, each part by its own image)
    Dense before Reshape     a Dense whose output is reshaped to an image (a generator's first
                             layer) has its columns and bias permuted the other way
    BatchNormalization       gamma, beta, moving_mean, moving_variance, as they are
    Conv1D, Embedding, SimpleRNN, LSTM, GRU (gates i, f, c, o and z, r, h), Bidirectional:
                             the same layout in both, copied as they are
Every weight is checked before any is copied; a file that does not fit raises naming the
first minigrad layer that does not fit and the Keras weight it was matched with. Lambda
layers and ops on symbolic tensors hold no weights and are no obstacle. Not converted: a
Reshape or Permute of an image itself (Keras reshapes HWC data), which no weight
permutation can express, and an elementwise merge of flat features in different orders
(refused, naming the merge).

save_keras_weights writes the other way: the legacy Keras 2 layout, Keras' layouts restored,
one group per layer in Keras' order (a nested model is one group, its trainable weights
first, as Keras lists them), which Keras 2 and 3 read with model.load_weights("x.h5").
"""
from __future__ import annotations

import os
import re
import zipfile

import numpy as np

from ..training.files import atomic_write
from ..nn import (Activation, Add, Average, BatchNormalization, Concatenate, Conv2D, Conv2DTranspose, Dense,
                  Dropout, Flatten, LeakyReLU, Maximum, Minimum, Model, Module, Multiply, Reshape,
                  Subtract)
from ..nn.graph import InputNode
from ..nn.saving import assign, weight_records
from . import walk

WHO = "load_keras_weights"


def _import_h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("load_keras_weights needs h5py to read Keras' .h5 files: pip install h5py "
                          "(an optional dependency of minigrad)") from None
    return h5py


def load_keras_weights(model, path) -> None:
    """Copy the weights in the Keras file `path` into the built Sequential or functional `model`,
    in place (every weight checked first: a file that does not fit changes nothing)."""
    h5py = _import_h5py()
    walk.require_built(model, WHO)
    path = os.fspath(path)
    source = _open(h5py, path)
    try:
        root = source.h5
        if "layer_names" in root.attrs or "model_weights" in root:
            matched = _match_legacy(model, root["model_weights"] if "model_weights" in root else root)
        elif "layers" in root:
            matched = _match_keras3(model, root)
        else:
            raise ValueError(f"{WHO}: {path} is neither a Keras 3 .weights.h5 file (no 'layers' group) "
                             "nor a Keras 2 weights file (no 'layer_names' attribute)")
    finally:
        source.close()
    plan = _convert(model, matched, path)
    for param, array in plan:
        assign(param, array)


class _Source:
    """An open h5py file, read from disk or from inside a .keras zip archive."""

    def __init__(self, h5, *others):
        self.h5, self.others = h5, others

    def close(self):
        self.h5.close()
        for other in self.others:
            other.close()


def _open(h5py, path) -> _Source:
    if zipfile.is_zipfile(path):                 # a .keras archive: its weights are model.weights.h5
        archive = zipfile.ZipFile(path)
        if "model.weights.h5" not in archive.namelist():
            raise ValueError(f"{WHO}: {path} is a zip archive without model.weights.h5 inside "
                             "(is it a .keras file?)")
        inner = archive.open("model.weights.h5")
        return _Source(h5py.File(inner, "r"), inner, archive)
    return _Source(h5py.File(path, "r"))


def _text(value) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


# ---------------------------------------------------------------------- Keras 3 .weights.h5

def _keras_snake_case(class_name: str) -> str:
    """Keras' naming.to_snake_case: 'Conv2DTranspose' -> 'conv2d_transpose'."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def keras_layer_order(model) -> list:
    """The layers of a Sequential or functional model in the order of Keras' model.layers
    (a functional model's Input layers among them, where Keras puts them).

    For a functional model this is keras.src.ops.function.map_graph's order: a depth-first
    walk from the outputs (first output first, each call's inputs in order) numbers the
    layers as it first meets them and lists the calls inputs-first; then each call's depth is
    the longest path from it to an output (a layer called several times takes its deepest
    call's), and the layers are sorted deepest first, ties by their number.
    """
    walk.require_built(model, WHO)
    if not walk.is_functional(model):
        return list(walk.sequence(model, WHO))
    graph = model._graph

    def operation(node):                           # an op on symbolic tensors is its own operation
        return getattr(node, "layer", node)

    def parents(node):
        return [] if isinstance(node, InputNode) else [t.node for t in node.parents()]

    number, finished, inputs_first = {}, set(), []

    def visit(node):
        if id(node) in finished:
            return
        number.setdefault(id(operation(node)), len(number))
        for parent in parents(node):
            visit(parent)
        finished.add(id(node))
        inputs_first.append(node)

    for t in graph.outputs:
        visit(t.node)
    in_graph = {id(node) for node in inputs_first}
    node_depth, depth, operations = {}, {}, {}
    for node in reversed(inputs_first):
        op = operation(node)
        d = max(node_depth.setdefault(id(node), 0), depth.get(id(op), 0))
        depth[id(op)] = node_depth[id(node)] = d
        operations[id(op)] = op
        for parent in parents(node):
            if id(parent) in in_graph:
                node_depth[id(parent)] = max(d + 1, node_depth.get(id(parent), 0))
    for t in graph.inputs:                         # an Input no output needs: first at depth 0
        op = t.node.layer
        if id(op) not in operations:
            operations[id(op)], depth[id(op)], number[id(op)] = op, 0, -1
    order = sorted(operations, key=lambda k: (-depth[k], number[k]))
    return [operations[k] for k in order if isinstance(operations[k], Module)]


def keras_leaves(model) -> list:
    """keras_layer_order with nested models expanded, each in its own Keras order."""
    out = []
    for layer in keras_layer_order(model):
        out.extend(keras_leaves(layer) if walk.is_model(layer) else [layer])
    return out


def _keras_class_name(layer) -> str:
    """The class Keras saves a layer under: Model(inputs, outputs) is Keras' Functional."""
    return "Functional" if type(layer) is Model else type(layer).__name__


def _keras3_paths(model, prefix="layers"):
    """(path in the file, layer) for every layer, named as Keras 3 names them when saving."""
    counts, out = {}, []
    for layer in keras_layer_order(model):
        base = _keras_snake_case(_keras_class_name(layer))
        counts[base] = counts.get(base, -1) + 1
        path = f"{prefix}/{base}" + (f"_{counts[base]}" if counts[base] else "")
        if walk.is_model(layer):
            out.extend(_keras3_paths(layer, path + "/layers"))
        else:
            out.append((path, layer))
    return out


def _keras3_groups(layer, path):
    """Where a layer's variables are: vars/ of the layer, of its cell, or of both directions."""
    from ..nn import recurrent
    if isinstance(layer, recurrent.Bidirectional):
        return [f"{path}/forward_layer/cell/vars", f"{path}/backward_layer/cell/vars"]
    if isinstance(layer, recurrent._Recurrent):
        return [f"{path}/cell/vars"]
    return [f"{path}/vars"]


def _match_keras3(model, root):
    """[(layer, [(keras name, array)])] for every layer that has weights."""
    matched = []
    for path, layer in _keras3_paths(model):
        if not weight_records(layer):
            continue
        arrays = []
        for group in _keras3_groups(layer, path):
            if group not in root:
                parent = group.split("/vars")[0].rsplit("/", 1)[0]
                present = sorted(root[parent].keys()) if parent in root else []
                raise ValueError(f"{WHO}: no Keras weights at '{group}' for {walk.describe(layer)}; "
                                 f"the file has {present} there (is the Keras model the same "
                                 "layers in the same order?)")
            vars_ = root[group]
            arrays += [(f"{group}/{i}", vars_[str(i)][()]) for i in range(len(vars_))]
        matched.append((layer, arrays))
    return matched


# ---------------------------------------------------------------------- Keras 2 .h5

def _legacy_arrays(root):
    """[(weight name, array)] of every layer, in layer order.

    Within a layer's group (a nested model is one group), Keras 2 lists a nested model's
    trainable weights before its non-trainable ones; grouping the names by the layer they
    belong to (the part before the last '/') puts each layer's weights back together.
    """
    out = []
    for layer_name in (_text(n) for n in root.attrs["layer_names"]):
        group = root[layer_name]
        names = [_text(n) for n in group.attrs.get("weight_names", [])]
        by_layer: dict = {}
        for name in names:
            by_layer.setdefault(name.rsplit("/", 1)[0] if "/" in name else layer_name, []).append(name)
        for names_of_one in by_layer.values():
            out += [(f"{layer_name}/{n}", group[n][()]) for n in names_of_one]
    return out


def _match_legacy(model, root):
    arrays = _legacy_arrays(root)
    matched, used = [], 0
    for layer in keras_leaves(model):
        n = len(weight_records(layer))
        if not n:
            continue
        if used + n > len(arrays):
            raise ValueError(f"{WHO}: the file has {len(arrays)} weight arrays, too few for the model: "
                             f"nothing left for {walk.describe(layer)} (is the Keras model the same "
                             "layers in the same order?)")
        matched.append((layer, arrays[used:used + n]))
        used += n
    if used < len(arrays):
        raise ValueError(f"{WHO}: the file has {len(arrays)} weight arrays but the model takes only "
                         f"{used}; the first left over is '{arrays[used][0]}' (is the Keras model the "
                         "same layers in the same order?)")
    return matched


# ---------------------------------------------------------------------- layouts

def _hwc_order(image_shape):
    """Where each of minigrad's flattened (C, H, W) features is in Keras' flattened (H, W, C):
    minigrad feature i is Keras feature order[i]."""
    c, h, w = image_shape
    return np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).ravel()


_ORDER_KEEPING = (Activation, LeakyReLU, Dropout, BatchNormalization)   # per-feature, order kept
_ELEMENTWISE = (Add, Subtract, Multiply, Average, Maximum, Minimum)


def _flat_image_orders(model):
    """{id(layer): (rows, columns)}: for a Dense (or a BatchNorm on flat features), the Keras
    position of each of its input features (rows) or output features (columns), or None
    where the orders agree.

    Each flat tensor between the layers carries such an order (None: the same as Keras').
    A Flatten of an image gives Keras' (H, W, C) order; activations, dropout and batch norm
    keep it; Concatenate joins the orders of its parts; a Dense reads it (its kernel's rows
    are permuted) and writes its own. A Dense writes the (H, W, C) order of an image when its
    features, through the same layers, are reshaped into that image (its columns permuted):
    found first, walking back from each Reshape.
    """
    _, steps, _ = walk.flat_calls(model, WHO, strict=False)
    wanted = {}                                    # tensor key -> the order a Reshape needs there
    for step in reversed(steps):
        layer, (out, *_) = step.layer, step.outputs
        if isinstance(layer, Reshape) and len(layer.input_shape) == 1 and len(layer.output_shape) == 3:
            wanted[step.inputs[0]] = _hwc_order(layer.output_shape)
        elif isinstance(layer, _ORDER_KEEPING) and out in wanted:
            wanted[step.inputs[0]] = wanted[out]
    order, orders = {}, {}                         # tensor key -> order; layer -> (rows, columns)
    for step in steps:
        layer, ins, out = step.layer, [order.get(k) for k in step.inputs], step.outputs[0]
        if isinstance(layer, Flatten) and len(layer.input_shape) == 3:
            order[out] = _hwc_order(layer.input_shape)
        elif isinstance(layer, Dense):
            orders.setdefault(id(layer), (ins[0], wanted.get(out)))
            order[out] = orders[id(layer)][1]
        elif isinstance(layer, _ORDER_KEEPING) and ins[0] is not None and len(layer.input_shape) == 1:
            orders.setdefault(id(layer), (ins[0], None))
            order[out] = ins[0]
        elif isinstance(layer, Concatenate) and any(o is not None for o in ins) \
                and len(layer.input_shape[0]) == 1:
            sizes = [s[0] for s in layer.input_shape]
            offsets = np.cumsum([0] + sizes[:-1])
            parts = [np.arange(n) if o is None else o for o, n in zip(ins, sizes)]
            order[out] = np.concatenate([part + offset for part, offset in zip(parts, offsets)])
        elif isinstance(layer, _ELEMENTWISE) and any(o is not None for o in ins):
            if any(o is None or not np.array_equal(o, ins[0]) for o in ins):
                raise walk.UnsupportedLayer(
                    f"{WHO}: {walk.describe(layer)} merges flat features that are in Keras' (H, W, C) "
                    "order on one side and not on another, which no weight permutation can express")
            order[out] = ins[0]
    return orders


def _keras_shape(owner, attr, shape):
    """The shape Keras stores a minigrad weight of `shape` in."""
    if attr == "kernel" and isinstance(owner, (Conv2D, Conv2DTranspose)):
        return tuple(shape[i] for i in (2, 3, 1, 0))
    return tuple(shape)


def _to_minigrad(owner, attr, array, order):
    """A Keras array in minigrad's layout (see the module docstring)."""
    rows, columns = order
    if attr == "kernel" and isinstance(owner, (Conv2D, Conv2DTranspose)):
        return array.transpose(3, 2, 0, 1)
    if isinstance(owner, Dense):
        if attr == "kernel" and rows is not None:
            array = array[rows]
        return array if columns is None else array[..., columns]
    if isinstance(owner, BatchNormalization) and rows is not None:
        return array[rows]
    return array


def _convert(model, matched, path):
    """[(parameter, array)] for every weight, all checked before anything is copied."""
    orders = _flat_image_orders(model)
    plan = []
    for layer, arrays in matched:
        records = weight_records(layer)
        if len(arrays) != len(records):
            names = [name for name, _ in arrays]
            raise ValueError(f"{WHO}: {path}: {walk.describe(layer)} has {len(records)} weights "
                             f"({', '.join(a for _, a, _ in records)}) but the Keras layer has "
                             f"{len(arrays)}: {names} (use_bias, center or scale set differently?)")
        for (owner, attr, param), (name, array) in zip(records, arrays):
            expected = _keras_shape(owner, attr, param.shape)
            if tuple(array.shape) != expected:
                raise ValueError(f"{WHO}: {path}: Keras weight '{name}' has shape {tuple(array.shape)}, "
                                 f"which does not fit {walk.describe(layer)}: its '{attr}' needs "
                                 f"{expected} in Keras' layout (minigrad {param.shape})")
            plan.append((param, _to_minigrad(owner, attr, np.asarray(array), orders.get(id(owner),
                                                                                   (None, None)))))
    return plan


# ---------------------------------------------------------------------- minigrad -> Keras

def _to_keras(owner, attr, array, order):
    """A minigrad array in Keras' layout: _to_minigrad undone (each order inverted)."""
    rows, columns = (None if o is None else np.argsort(o) for o in order)
    if attr == "kernel" and isinstance(owner, (Conv2D, Conv2DTranspose)):
        return array.transpose(2, 3, 1, 0)
    if isinstance(owner, Dense):
        if attr == "kernel" and rows is not None:
            array = array[rows]
        return array if columns is None else array[..., columns]
    if isinstance(owner, BatchNormalization) and rows is not None:
        return array[rows]
    return array


def save_keras_weights(model, path) -> str:
    """Write the built Sequential or functional `model`'s weights as a Keras 2 (legacy) .h5
    file; returns the path.

    The Keras model that reads it is the equivalent one (channels-last where minigrad is NCHW).
    """
    h5py = _import_h5py()
    walk.require_built(model, "save_keras_weights")
    orders = _flat_image_orders(model)
    layers = keras_layer_order(model)

    def records_of(layer):
        if not walk.is_model(layer):
            return weight_records(layer)
        records = [r for leaf in keras_leaves(layer) for r in weight_records(leaf)]
        # Keras lists a nested model's trainable weights first
        return [r for r in records if r[2].learnable] + [r for r in records if not r[2].learnable]

    def write(f):
        with h5py.File(f, "w") as h5:
            h5.attrs["layer_names"] = [layer.name.encode("utf8") for layer in layers]
            h5.attrs["backend"] = b"minigrad"
            h5.attrs["keras_version"] = b"2.15.0"    # the layout version; "1" would mean Keras 1 kernels
            for layer in layers:
                group = h5.create_group(layer.name)
                names = []
                for owner, attr, param in records_of(layer):
                    name = f"{owner.name}/{attr}:0"
                    group[name] = _to_keras(owner, attr, param.numpy(), orders.get(id(owner), (None, None)))
                    names.append(name.encode("utf8"))
                group.attrs["weight_names"] = names
    return atomic_write(os.fspath(path), write)
