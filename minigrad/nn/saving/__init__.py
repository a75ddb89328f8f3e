"""Models and weights on disk, under exactly the name asked for; the file's ending picks the format.

    model.save_weights("w.weights.h5")    Keras 3's weights layout (keras_model.load_weights reads it)
    model.save_weights("w.h5")            Keras 2's (legacy) weights layout, which Keras 3 reads too
    model.save_weights("w.keras")         the whole model (as model.save)
    model.save_weights("w.npz"), "w"      minigrad's .npz: the weights and the optimizer's state
    model.save("m.keras")                 Keras 3's model archive (a zip: config.json,
                                          model.weights.h5, metadata.json), optimizer state inside
    model.save("m.h5")                    Keras 2's whole-model .h5 (model_config + model_weights)
    nn.load_model("m.keras" | "m.h5")     the model again (compiled, with its optimizer state)
    model.load_weights(path)              reads back each of the files above, by the same rule

Files, in reading order:
    npz.py            minigrad's .npz weights file, checked before anything is assigned
    keras_h5.py       Keras' HDF5 weights layouts, both directions (needs h5py)
    keras_archive.py  the .keras archive: config.json through nn/serialization.py
    legacy_h5.py      Keras 2's whole-model .h5

Layouts: a .keras archive keeps the model's own layout (an NCHW model's config says
data_format="channels_first", which Keras runs as it is). A .weights.h5 or .h5 file has no
config: written from an NCHW model it holds the weights of the model's channels-last Keras
twin (the Dense after a Flatten reordered, as load_keras_weights reads them back); from a
channels-last model, the weights as they are.

Every writer writes atomically (a temporary file renamed over the target): a failed save
leaves the old file as it was. Every reader reads and checks everything first: a file that
is damaged, truncated, of another kind or of another architecture raises an error naming the
file and the problem, and the model is left as it was.
"""
from __future__ import annotations

import os

from .npz import (FORMAT, WeightsFileError, assign, assign_all, check_shapes, describe, load,  # noqa: F401
                  normalize_path, pack_state, read_checked, save, unpack_state, weight_records)
from .. import walk
from . import keras_archive, keras_h5, legacy_h5


def file_kind(path) -> str:
    """'keras' (.keras), 'keras3_weights' (.weights.h5), 'legacy_h5' (.h5) or 'npz' (anything else)."""
    name = os.fspath(path).lower()
    if name.endswith(".keras"):
        return "keras"
    if name.endswith(".weights.h5"):
        return "keras3_weights"
    if name.endswith((".h5", ".hdf5")):
        return "legacy_h5"
    return "npz"


def check_target(path, who) -> str:
    """The path as given, refused when it names a folder (a file would be written inside it)."""
    path = os.fspath(path)
    if path == "" or path.endswith(("/", os.sep)) or os.path.isdir(path):
        raise IsADirectoryError(f"{who}: {path!r} is a folder; give a file name, e.g. "
                                f"{os.path.join(path or '.', 'model.weights.h5')!r}")
    return path


def save_keras_weights_file(model, path) -> str:
    """Write `model`'s weights to a Keras .weights.h5 (Keras 3) or .h5 (Keras 2) file."""
    if not walk.is_model(model):
        raise ValueError(f"save_weights: model '{model.name}' is a subclassed {type(model).__name__}; minigrad "
                         "writes Keras' .h5 / .weights.h5 layouts for Sequential and functional models only "
                         f"(Keras finds the weights by layer). Save it under another ending, e.g. "
                         f"'{_stem(path)}.npz', minigrad's file")
    if file_kind(path) == "keras3_weights":
        return keras_h5.save_keras3_weights(model, path)
    return keras_h5.save_keras_weights(model, path)


def _stem(path) -> str:
    """The path without its Keras ending (.weights.h5, .h5, .hdf5, .keras)."""
    path = os.fspath(path)
    for ending in (".weights.h5", ".h5", ".hdf5", ".keras"):
        if path.lower().endswith(ending):
            return path[:-len(ending)]
    return path


def save_model(model, path, include_optimizer=True) -> str:
    """model.save(path): a .keras archive or a Keras 2 whole-model .h5."""
    path = check_target(path, "save")
    kind = file_kind(path)
    if kind == "keras":
        return keras_archive.save_model(model, path, include_optimizer)
    if kind == "legacy_h5":
        return legacy_h5.save_model(model, path)
    raise ValueError(f"save: {path!r} does not end in .keras (Keras 3's model archive) or .h5 (Keras 2's "
                     "whole-model file); for the weights alone use model.save_weights (.weights.h5, "
                     ".npz)")


def load_model(path, custom_objects=None, compile=True):  # noqa: A002 - Keras' name
    """nn.load_model(path): a model from a .keras archive or a Keras 2 whole-model .h5."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_model: no such file: {path}")
    kind = file_kind(path)
    if kind == "keras" or (kind != "legacy_h5" and keras_archive.looks_like_archive(path)):
        return keras_archive.load_model(path, custom_objects, compile)
    if kind == "legacy_h5":
        return legacy_h5.load_model(path, custom_objects, compile)
    raise ValueError(f"load_model: {path} is neither a .keras archive nor a Keras 2 .h5 model file; a "
                     "minigrad .npz holds weights only: build the model in code and call load_weights")


def load_weights_file(model, path) -> None:
    """model.load_weights for Keras' files (.keras, .weights.h5, .h5): the weights only (a
    .keras archive in NCHW, as minigrad writes one, is read without reordering)."""
    reorder = not (file_kind(path) == "keras" and os.path.isfile(path) and not keras_archive.channels_last(path))
    for param, array in keras_h5.read_keras_weights(model, os.fspath(path), reorder=reorder):
        assign(param, array)
