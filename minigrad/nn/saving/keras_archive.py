"""Keras 3's .keras model archive: model.save("m.keras") and nn.load_model("m.keras").

The archive is a zip of three members, as Keras 3 writes it:
    config.json         the model serialized (nn/serialization.py), with "compile_config": the
                        optimizer (Keras' class name and config), the loss and metrics names
    model.weights.h5    the weights in Keras 3's layout (keras_h5.write_keras3_layers) and, when
                        compiled, "optimizer/vars": iterations, learning rate, then the slots of
                        each trainable weight in Keras' order (Adam: momentum and velocity of each
                        weight in turn; RMSprop: every velocity, then every momentum, ...)
    metadata.json       the Keras format version it follows and the date

Layouts are Keras': a minigrad model in NCHW is written with data_format="channels_first" in its
image layers' configs, which Keras runs as they are (Flatten is written channels_last: minigrad
flattens in the stored order), so a model loaded on either side predicts the same for the same x.
"""
from __future__ import annotations

import datetime
import io
import json
import os
import zipfile

import numpy as np

from ...engine import backend
from ...training import losses as losses_module
from ...training import optim
from ...training.files import atomic_write
from .. import serialization, walk
from . import keras_h5

FORMAT_VERSION = "3.15.1"       # the Keras version whose archive layout this follows
MEMBERS = ("config.json", "model.weights.h5", "metadata.json")

# Keras' optimizer variables after iterations and learning_rate: groups of slot names, each
# group's slots interleaved per weight (keras.src.optimizers.*.build)
KERAS_SLOT_GROUPS = {"Adam": (("momentum", "velocity"), ("velocity_hat",)),
                     "SGD": (("momentum",),),
                     "RMSprop": (("velocity",), ("momentum",), ("average_gradient",))}
_OPTIMIZER_KEYS = {"Adam": {"beta_1": "beta_1", "beta_2": "beta_2", "epsilon": "eps", "amsgrad": "amsgrad"},
                   "SGD": {"momentum": "momentum", "nesterov": "nesterov"},
                   "RMSprop": {"rho": "rho", "momentum": "momentum", "epsilon": "eps", "centered": "centered"}}


def channels_last(path) -> bool:
    """True when the archive's image layers are channels-last (Keras' default): its weights are
    then reordered for an NCHW minigrad model (load_weights); False for an archive in NCHW."""
    formats = set()

    def visit(item):
        if isinstance(item, dict):
            config = item.get("config")
            if item.get("class_name") != "Flatten" and isinstance(config, dict) and "data_format" in config:
                formats.add(config["data_format"])
            for value in item.values():
                visit(value)
        elif isinstance(item, list):
            for value in item:
                visit(value)
    visit(read_config(path))
    return "channels_first" not in formats


def looks_like_archive(path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "config.json" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


# ---------------------------------------------------------------------- compile config

def _loss_name(loss):
    if loss is None or isinstance(loss, str):
        return loss
    if isinstance(loss, (list, tuple)):
        return [_loss_name(v) for v in loss]
    if isinstance(loss, dict):
        return {k: _loss_name(v) for k, v in loss.items()}
    name = getattr(loss, "__name__", None)
    if name and getattr(losses_module, name, None) is loss:
        return name
    raise ValueError(f"the loss {loss!r} is a Python function a model file cannot name")


def optimizer_config(optimizer) -> dict:
    kind = type(optimizer).__name__
    if kind not in _OPTIMIZER_KEYS:
        raise ValueError(f"a {kind} optimizer has no Keras counterpart to write")
    config = {"name": kind.lower(), "learning_rate": float(optimizer.lr),
              "weight_decay": optimizer.weight_decay or None}
    config.update({k: getattr(optimizer, attr) for k, attr in _OPTIMIZER_KEYS[kind].items()})
    return {"module": "keras.optimizers", "class_name": kind, "config": config, "registered_name": None}


def optimizer_from_config(entry, source):
    kind = entry.get("class_name") if isinstance(entry, dict) else entry
    if isinstance(kind, str) and kind.lower() in ("adam", "sgd", "rmsprop") and not isinstance(entry, dict):
        return optim.get(kind)
    config = dict(entry.get("config") or {})
    cls = {"Adam": optim.Adam, "SGD": optim.SGD, "RMSprop": optim.RMSprop}.get(kind)
    if cls is None:
        raise ValueError(f"{source}: the optimizer {kind} is not one minigrad has (Adam, SGD, RMSprop); "
                         "load with compile=False and compile again")
    lr = config.get("learning_rate", None)
    if isinstance(lr, dict):
        raise ValueError(f"{source}: the optimizer's learning rate is a schedule ({lr.get('class_name')}), which "
                         "minigrad does not read; load with compile=False and compile again")
    unsupported = {k: v for k, v in config.items() if k in ("clipnorm", "global_clipnorm", "clipvalue",
                                                             "loss_scale_factor", "gradient_accumulation_steps")
                   and v is not None}
    if config.get("use_ema"):
        unsupported["use_ema"] = True
    if unsupported:
        raise ValueError(f"{source}: optimizer settings {unsupported} have no counterpart in minigrad; load with "
                         "compile=False and compile again")
    arguments = {attr: config[k] for k, attr in _OPTIMIZER_KEYS[kind].items() if k in config}
    if lr is not None:
        arguments["lr"] = float(lr)
    if config.get("weight_decay"):
        arguments["weight_decay"] = config["weight_decay"]
    return cls(**arguments)


def compile_config(model):
    """Keras' compile_config of a compiled model, or None when it is not compiled."""
    if not getattr(model, "compiled", False) or model.optimizer is None:
        return None
    loss, loss_weights, metrics = model._compile_arguments
    return {"optimizer": optimizer_config(model.optimizer), "loss": _loss_name(loss),
            "loss_weights": loss_weights, "metrics": [m if isinstance(m, str) else getattr(m, "name", str(m))
                                                      for m in metrics or []] or None,
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


# ---------------------------------------------------------------------- optimizer variables

def trainable_in_keras_order(model) -> list:
    """The parameters the optimizer updates, in the order of Keras' model.trainable_variables."""
    to_train = {id(p) for p in model.parameters_to_train()}
    out, seen = [], set()
    for layer in keras_h5.keras_leaves(model):
        for _, _, p in keras_h5.weight_records(layer):
            if id(p) in to_train and id(p) not in seen and p.trainable:
                seen.add(id(p))
                out.append(p)
    return out


def write_optimizer(h5, model) -> None:
    optimizer = model.optimizer
    kind = type(optimizer).__name__
    params = trainable_in_keras_order(model)
    slots = optimizer._slot_names()
    layouts = keras_h5.weight_layouts(model, reorder=False)
    values = [np.array(optimizer.iterations, dtype=np.int64), np.array(optimizer.lr, dtype=np.float32)]
    steps = []
    for group in KERAS_SLOT_GROUPS[kind]:
        names = [name for name in group if name in slots]
        for p in params:
            state = optimizer._state.get(p)
            for name in names:
                host = np.zeros(p.shape, p.dtype) if state is None else backend.to_numpy(state[name])
                values.append(keras_h5.to_keras_layout(layouts, p, host))
    for p in params:
        state = optimizer._state.get(p)
        steps.append(0 if state is None else int(state["step"]))
    group = h5.require_group("optimizer/vars")
    group.attrs["name"] = kind.lower()
    group.attrs["minigrad_steps"] = np.array(steps, dtype=np.int64)   # per weight (Keras has one count)
    for i, value in enumerate(values):
        group[str(i)] = value


def read_optimizer_state(root, model, source):
    """A minigrad state_dict for model.optimizer from the archive's optimizer/vars, or None."""
    if "optimizer" not in root or "vars" not in root["optimizer"]:
        return None
    group = root["optimizer/vars"]
    optimizer = model.optimizer
    kind = type(optimizer).__name__
    params = trainable_in_keras_order(model)
    slots = optimizer._slot_names()
    expected = 2 + len(params) * len(slots)
    if len(group) == 0:                       # compiled but never trained: nothing to restore
        return None
    if len(group) != expected:
        raise keras_h5.damaged(source, f"its optimizer has {len(group)} variables where a {kind} of this model's "
                               f"{len(params)} trainable weights has {expected}")
    values = [group[str(i)][()] for i in range(len(group))]
    iterations = int(values[0])
    steps = list(group.attrs.get("minigrad_steps", [iterations] * len(params)))
    state = {"class": np.array(kind), "iterations": np.array(iterations, dtype=np.int64),
             "num_params": np.array(len(optimizer.params), dtype=np.int64)}
    position = {id(p): i for i, p in enumerate(optimizer.params)}
    layouts = keras_h5.weight_layouts(model, reorder=False)
    at = 2
    for group_names in KERAS_SLOT_GROUPS[kind]:
        names = [name for name in group_names if name in slots]
        for p in params:
            for name in names:
                state[f"{name}.{position[id(p)]}"] = keras_h5.to_minigrad_layout(layouts, p, values[at], source)
                at += 1
    for p, step in zip(params, steps):
        state[f"step.{position[id(p)]}"] = np.array(int(step), dtype=np.int64)
    return state


# ---------------------------------------------------------------------- save

def save_model(model, path, include_optimizer=True) -> str:
    h5py = keras_h5.import_h5py()
    walk.require_built(model, "save")
    entry = serialization.serialize_layer(model)
    compiled = compile_config(model) if include_optimizer else None
    if compiled is not None:
        entry["compile_config"] = compiled
    with_optimizer = compiled is not None and model._parameters_to_train is not None
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        keras_h5.write_keras3_layers(h5, model, reorder=False)
        h5.require_group("vars").attrs["name"] = model.name
        if with_optimizer:
            write_optimizer(h5, model)
    metadata = {"keras_version": FORMAT_VERSION, "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "saved_by": "minigrad"}

    def write(f):
        with zipfile.ZipFile(f, "w") as archive:
            archive.writestr("metadata.json", json.dumps(metadata))
            archive.writestr("config.json", json.dumps(entry))
            archive.writestr("model.weights.h5", buffer.getvalue())
    return atomic_write(os.fspath(path), write)


# ---------------------------------------------------------------------- load

def read_config(path) -> dict:
    """config.json of the archive, or a KerasFileError naming the file and what is wrong."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            missing = [m for m in ("config.json", "model.weights.h5") if m not in names]
            if missing:
                raise keras_h5.damaged(path, f"the archive lacks {missing}")
            return json.loads(archive.read("config.json"))
    except keras_h5.KerasFileError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise keras_h5.damaged(path, f"it is not a whole zip archive ({exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:       # JSON errors are ValueErrors
        raise keras_h5.damaged(path, f"its config.json is not JSON ({exc})") from None


def load_model(path, custom_objects=None, compile=True):  # noqa: A002 - Keras' name
    path = os.fspath(path)
    h5py = keras_h5.import_h5py()
    config = read_config(path)
    if not isinstance(config, dict):
        raise keras_h5.damaged(path, "its config.json is not a serialized model")
    model = serialization.model_from_config(config, custom_objects, source=path)
    plan = keras_h5.read_keras_weights(model, path, reorder=False)
    state = None
    if compile and config.get("compile_config"):
        compiled = config["compile_config"]
        model.compile(optimizer=optimizer_from_config(compiled.get("optimizer") or "rmsprop", path),
                      loss=compiled.get("loss"), loss_weights=compiled.get("loss_weights"),
                      metrics=compiled.get("metrics"))
        with keras_h5.open_weights(h5py, path) as root:
            try:
                state = read_optimizer_state(root, model, path)
            except (OSError, KeyError, TypeError) as exc:
                raise keras_h5.damaged(path, f"{type(exc).__name__} while reading its optimizer") from None
    for param, array in plan:
        keras_h5.assign(param, array)
    if state is not None:
        model.optimizer.load_state_dict(state)
    return model
