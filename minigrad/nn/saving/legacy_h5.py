"""Keras 2's whole-model .h5 file: nn.load_model("m.h5") and model.save("m.h5").

Layout (Keras 2's save_model, also written by Keras 3 for a name ending in .h5):
    attrs["model_config"]     JSON: {"class_name": "Sequential" | "Functional" | "Model",
                              "config": ...} (Keras 2's inbound_nodes lists are read, and
                              Keras 3's form)
    attrs["training_config"]  JSON, when compiled: optimizer_config, loss, metrics
    model_weights/            the weights in the legacy layout (keras_h5.write_legacy_weights)
The optimizer's state of a Keras 2 file (optimizer_weights/) is not read: a model loaded with
compile=True gets a fresh optimizer of the saved kind and settings.
"""
from __future__ import annotations

import json
import os

from ...training.files import atomic_write
from .. import serialization, walk
from . import keras_archive, keras_h5


def _text(value) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def save_model(model, path) -> str:
    h5py = keras_h5.import_h5py()
    walk.require_built(model, "save")
    entry = serialization.serialize_layer(model)
    model_config = {"class_name": entry["class_name"], "config": entry["config"]}
    compiled = keras_archive.compile_config(model)

    def write(f):
        with h5py.File(f, "w") as h5:
            h5.attrs["model_config"] = json.dumps(model_config)
            h5.attrs["backend"] = "minigrad"
            h5.attrs["keras_version"] = "2.15.0"
            if compiled is not None:
                h5.attrs["training_config"] = json.dumps({"optimizer_config": compiled["optimizer"],
                                                          "loss": compiled["loss"], "metrics": compiled["metrics"],
                                                          "loss_weights": compiled["loss_weights"]})
            keras_h5.write_legacy_weights(h5.create_group("model_weights"), model)
    return atomic_write(os.fspath(path), write)


def load_model(path, custom_objects=None, compile=True):  # noqa: A002 - Keras' name
    h5py = keras_h5.import_h5py()
    path = os.fspath(path)
    with keras_h5.open_weights(h5py, path) as root:
        try:
            if "model_config" not in root.attrs:
                raise keras_h5.KerasFileError(
                    f"load_model: {path} holds weights only (no model_config): build the model in code "
                    "and call model.load_weights on it")
            config = json.loads(_text(root.attrs["model_config"]))
            training = json.loads(_text(root.attrs["training_config"])) if "training_config" in root.attrs \
                else None
        except (OSError, KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, keras_h5.KerasFileError):
                raise
            raise keras_h5.damaged(path, f"its model_config cannot be read ({type(exc).__name__})") from None
    model = serialization.model_from_config(config, custom_objects, source=path)
    plan = keras_h5.read_keras_weights(model, path)
    if compile and training:
        optimizer = training.get("optimizer_config") or "rmsprop"
        model.compile(optimizer=keras_archive.optimizer_from_config(optimizer, path), loss=training.get("loss"),
                      loss_weights=training.get("loss_weights"), metrics=_metric_names(training.get("metrics")))
    for param, array in plan:
        keras_h5.assign(param, array)
    return model


def _metric_names(metrics):
    """Keras 2 writes metrics as names or as serialized metric objects; minigrad takes names."""
    if not metrics:
        return None
    out = []
    for m in metrics:
        if isinstance(m, list):           # Keras 2: one list per output
            out += _metric_names(m) or []
        elif isinstance(m, dict):
            out.append((m.get("config") or {}).get("name") or m.get("class_name"))
        else:
            out.append(m)
    return out
