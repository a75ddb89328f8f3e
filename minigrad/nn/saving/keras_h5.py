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

from ...training.files import atomic_write
from .. import recurrent, walk
from ..conv_layers import Conv2D, Conv2DTranspose, ImageLayer
from ..graph import InputNode
from ..layers import Activation, BatchNormalization, Dense, Dropout, Flatten, LeakyReLU, Reshape
from ..merge import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from ..module import Module
from .npz import assign, weight_records

WHO = "load_keras_weights"


def import_h5py():
    try:
        import h5py  # optional: only Keras' .h5 / .keras files need it
    except ImportError:
        raise ImportError("Keras' .h5, .weights.h5 and .keras files need h5py: pip install h5py "
                          "(minigrad's 'keras' extra: pip install minigrad[keras])") from None
    return h5py


class KerasFileError(ValueError):
    """A Keras file that cannot be read: truncated, damaged, or not a Keras weights file."""


def damaged(path, why) -> KerasFileError:
    return KerasFileError(f"{WHO}: {path} is not a readable Keras file: {why}. Was it copied only in "
                          "part, or is it another kind of file? Nothing was loaded")


def load_keras_weights(model, path) -> None:
    """Copy the weights in the Keras file `path` into the built Sequential or functional `model`,
    in place (every weight checked first: a file that does not fit changes nothing)."""
    path = os.fspath(path)
    plan = read_keras_weights(model, path)
    for param, array in plan:
        assign(param, array)


def read_keras_weights(model, path, archive_member="model.weights.h5", reorder=True):
    """[(parameter, array)] for every weight of `model` from the Keras file `path`, all read
    and checked; nothing is changed (load_keras_weights then assigns them).

    reorder=False: the file holds the weights in the model's own layout (a .keras archive
    whose config has the model's data_format), so only kernels change layout."""
    h5py = import_h5py()
    walk.require_built(model, WHO)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{WHO}: no such file: {path}")
    with open_weights(h5py, path, archive_member) as root:
        try:
            if "layer_names" in root.attrs or "model_weights" in root:
                matched = _match_legacy(model, root["model_weights"] if "model_weights" in root else root)
            elif "layers" in root:
                matched = _match_keras3(model, root, path)
            else:
                raise KerasFileError(f"{WHO}: {path} is neither a Keras 3 .weights.h5 file (no 'layers' "
                                     "group) nor a Keras 2 weights file (no 'layer_names' attribute)")
        except (OSError, KeyError, TypeError) as exc:     # h5py's errors for a damaged inner part
            raise damaged(path, f"{type(exc).__name__} while reading it ({exc})") from None
    return _convert(model, matched, path, reorder)


class open_weights:
    """The root group of a Keras weights file, read from disk or from inside a .keras zip
    archive (its model.weights.h5), as a context manager; a file h5py cannot open raises
    KerasFileError naming it."""

    def __init__(self, h5py, path, archive_member="model.weights.h5"):
        self.h5py, self.path, self.member = h5py, path, archive_member
        self.others = []

    def __enter__(self):
        path = self.path
        try:
            if zipfile.is_zipfile(path):            # a .keras archive: its weights are model.weights.h5
                archive = zipfile.ZipFile(path)
                self.others.append(archive)
                if self.member not in archive.namelist():
                    raise KerasFileError(f"{WHO}: {path} is a zip archive without {self.member} inside "
                                         "(is it a .keras file?)")
                inner = archive.open(self.member)
                self.others.append(inner)
                self.h5 = self.h5py.File(inner, "r")
            else:
                self.h5 = self.h5py.File(path, "r")
        except KerasFileError:
            self.__exit__()
            raise
        except (OSError, zipfile.BadZipFile, EOFError, KeyError, ValueError) as exc:
            self.__exit__()
            raise damaged(path, f"h5py cannot open it as HDF5 ({type(exc).__name__}: {exc})") from None
        return self.h5

    def __exit__(self, *exc_info):
        if getattr(self, "h5", None) is not None:
            self.h5.close()
        for other in reversed(self.others):
            other.close()
        self.others = []


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
        return list(walk.sequence(model, WHO, any_format=True))
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
    return "Functional" if type(layer) is Module.minigrad_class("Model") else type(layer).__name__


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
    if isinstance(layer, recurrent.Bidirectional):
        return [f"{path}/forward_layer/cell/vars", f"{path}/backward_layer/cell/vars"]
    if isinstance(layer, recurrent._Recurrent):
        return [f"{path}/cell/vars"]
    return [f"{path}/vars"]


def _match_keras3(model, root, path="the file"):
    """[(layer, [(keras name, array)])] for every layer that has weights; a layer of the file
    with weights that no layer of the model takes raises (a silent partial load would hide it)."""
    matched, used = [], set()
    for where, layer in _keras3_paths(model):
        used.add(where)
        if not weight_records(layer):
            continue
        arrays = []
        for group in _keras3_groups(layer, where):
            if group not in root:
                parent = group.split("/vars")[0].rsplit("/", 1)[0]
                present = sorted(root[parent].keys()) if parent in root else []
                raise ValueError(f"{WHO}: {path}: no Keras weights at '{group}' for {walk.describe(layer)}; "
                                 f"the file has {present} there (is the Keras model the same "
                                 "layers in the same order?)")
            vars_ = root[group]
            arrays += [(f"{group}/{i}", vars_[str(i)][()]) for i in range(len(vars_))]
        matched.append((layer, arrays))
    extra = [name for name in _weighted_groups(root["layers"], "layers") if not any(
        name == u or name.startswith(u + "/") for u in used)]
    if extra:
        raise ValueError(f"{WHO}: {path} has weights for layer(s) the model lacks: {extra[:5]} "
                         "(is the Keras model the same layers in the same order?); nothing was loaded")
    return matched


def _weighted_groups(group, prefix) -> list:
    """The paths under `group` (named from `prefix`) of every group whose vars/ hold arrays."""
    found = []

    def visit(name, item):
        if name.endswith("vars") and hasattr(item, "keys") and len(item):
            found.append(f"{prefix}/{name[:-len('/vars')]}" if "/" in name else prefix)
    group.visititems(visit)
    return sorted(found)


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


def keras_layout(model) -> bool:
    """True when the model's image layers are channels-last, Keras' own layout: then a Flatten
    or Reshape sees the (H, W, C) order Keras sees, and only kernels change layout. A model
    mixing both layouts is refused (no single rule would convert it)."""
    formats = {layer.data_format for layer in _leaves_any_format(model) if isinstance(layer, ImageLayer)}
    if len(formats) > 1:
        raise walk.UnsupportedLayer(f"{WHO}: model '{model.name}' has channels-first and channels-last image "
                                    "layers; convert a model in one layout")
    return formats == {"channels_last"}


def _leaves_any_format(model) -> list:
    layers = list(walk.sequence(model, WHO, any_format=True)) if walk.is_sequential(model) else \
        [layer for layer in model._graph_layers]
    out = []
    for layer in layers:
        out += _leaves_any_format(layer) if walk.is_model(layer) else [layer]
    return out


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
    if keras_layout(model):
        return {}
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
    if (attr == "kernel" and isinstance(owner, (Conv2D, Conv2DTranspose))) or attr == "pointwise_kernel":
        return tuple(shape[i] for i in (2, 3, 1, 0))
    if attr == "depthwise_kernel":               # (C_in * m, 1, kh, kw) -> (kh, kw, C_in, m)
        return tuple(shape[2:]) + (shape[0] // owner.depth_multiplier, owner.depth_multiplier)
    return tuple(shape)


def _to_minigrad(owner, attr, array, order):
    """A Keras array in minigrad's layout (see the module docstring)."""
    rows, columns = order
    if (attr == "kernel" and isinstance(owner, (Conv2D, Conv2DTranspose))) or attr == "pointwise_kernel":
        return array.transpose(3, 2, 0, 1)
    if attr == "depthwise_kernel":               # Keras' output channel c*m + j is minigrad's too
        kh, kw, c, m = array.shape
        return array.reshape(kh, kw, c * m).transpose(2, 0, 1)[:, None]
    if isinstance(owner, Dense):
        if attr == "kernel" and rows is not None:
            array = array[rows]
        return array if columns is None else array[..., columns]
    if isinstance(owner, BatchNormalization) and rows is not None:
        return array[rows]
    return array


def _convert(model, matched, path, reorder=True):
    """[(parameter, array)] for every weight, all checked before anything is copied."""
    orders = _flat_image_orders(model) if reorder else {}
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
    if (attr == "kernel" and isinstance(owner, (Conv2D, Conv2DTranspose))) or attr == "pointwise_kernel":
        return array.transpose(2, 3, 1, 0)
    if attr == "depthwise_kernel":
        m = owner.depth_multiplier
        return array[:, 0].transpose(1, 2, 0).reshape(array.shape[2], array.shape[3], -1, m)
    if isinstance(owner, Dense):
        if attr == "kernel" and rows is not None:
            array = array[rows]
        return array if columns is None else array[..., columns]
    if isinstance(owner, BatchNormalization) and rows is not None:
        return array[rows]
    return array


def write_legacy_weights(h5, model) -> None:
    """Write `model`'s weights into the open h5py group `h5` in the Keras 2 layout: attribute
    layer_names, one group per layer in Keras' order with its weight_names (a nested model is
    one group, its trainable weights first, as Keras lists them)."""
    orders = _flat_image_orders(model)
    layers = keras_layer_order(model)

    def records_of(layer):
        if not walk.is_model(layer):
            return weight_records(layer)
        records = [r for leaf in keras_leaves(layer) for r in weight_records(leaf)]
        # Keras lists a nested model's trainable weights first
        return [r for r in records if r[2].learnable] + [r for r in records if not r[2].learnable]

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


def save_keras_weights(model, path) -> str:
    """Write the built Sequential or functional `model`'s weights as a Keras 2 (legacy) .h5
    file; returns the path.

    The Keras model that reads it is the equivalent one (channels-last where minigrad is NCHW).
    """
    h5py = import_h5py()
    walk.require_built(model, "save_keras_weights")

    def write(f):
        with h5py.File(f, "w") as h5:
            write_legacy_weights(h5, model)
    return atomic_write(os.fspath(path), write)


# ---------------------------------------------------------------------- minigrad -> Keras 3

def _split_by_group(layer, arrays):
    """[(vars group suffix, [arrays])]: a Bidirectional's arrays go half to each direction."""
    groups = _keras3_groups(layer, "")
    if len(groups) == 1:
        return [(groups[0], arrays)]
    half = len(arrays) // 2
    return [(groups[0], arrays[:half]), (groups[1], arrays[half:])]


def write_keras3_layers(h5, model, prefix="layers", reorder=True) -> None:
    """Write every layer of `model` under `prefix` of the open h5py group `h5`, as Keras 3's
    save_weights does: a group per layer (vars/0, 1, ... in Keras' layout; an empty vars/ for
    a layer without weights), a nested model's layers under its own layers/.

    reorder=True (a weights file for the channels-last Keras twin of an NCHW model) permutes
    the Dense weights around a Flatten or Reshape; a .keras archive keeps the model's layout."""
    orders = _flat_image_orders(model) if reorder else {}
    counts = {}
    for layer in keras_layer_order(model):
        base = _keras_snake_case(_keras_class_name(layer))
        counts[base] = counts.get(base, -1) + 1
        where = f"{prefix}/{base}" + (f"_{counts[base]}" if counts[base] else "")
        h5.require_group(f"{where}/vars").attrs["name"] = layer.name
        if walk.is_model(layer):
            write_keras3_layers(h5, layer, f"{where}/layers", reorder)
            continue
        arrays = [_to_keras(owner, attr, param.numpy(), orders.get(id(owner), (None, None)))
                  for owner, attr, param in weight_records(layer)]
        for group, part in _split_by_group(layer, arrays):
            vars_ = h5.require_group(f"{where}{group}")
            for i, array in enumerate(part):
                vars_[str(i)] = array


def save_keras3_weights(model, path) -> str:
    """Write the built Sequential or functional `model`'s weights as a Keras 3 .weights.h5 file
    (what keras_model.save_weights writes and keras_model.load_weights reads); returns the path."""
    h5py = import_h5py()
    walk.require_built(model, "save_weights")

    def write(f):
        with h5py.File(f, "w") as h5:
            write_keras3_layers(h5, model)
            h5.require_group("vars").attrs["name"] = model.name
    return atomic_write(os.fspath(path), write)


# ---------------------------------------------------------------------- arrays shaped like a weight

def weight_layouts(model, reorder=True) -> dict:
    """{id(parameter): (owner, attribute, order)}: how to turn an array shaped like that weight
    (an optimizer's slot of it) into Keras' layout and back (to_keras_layout, to_minigrad_layout)."""
    orders = _flat_image_orders(model) if reorder else {}
    return {id(p): (owner, attr, orders.get(id(owner), (None, None)))
            for leaf in keras_leaves(model) for owner, attr, p in weight_records(leaf)}


def to_keras_layout(layouts, param, array):
    owner, attr, order = layouts[id(param)]
    return _to_keras(owner, attr, array, order)


def to_minigrad_layout(layouts, param, array, source):
    owner, attr, order = layouts[id(param)]
    expected = _keras_shape(owner, attr, param.shape)
    if tuple(array.shape) != expected:
        raise damaged(source, f"an optimizer variable of {walk.describe(owner)}'s '{attr}' has shape "
                      f"{tuple(array.shape)}, not Keras' {expected}")
    return _to_minigrad(owner, attr, np.asarray(array), order)
