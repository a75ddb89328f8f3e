"""Weights on disk: one .npz file, written atomically, checked against the model on load.

File layout (plain NumPy, readable with np.load):
    weight_000, weight_001, ...   the weights in Keras order (get_weights())
    optimizer_000, ...            the arrays of the optimizer's state_dict(), if any
    __meta__                      JSON: per weight its layer, type, name and shape; the
                                  optimizer state's structure with its arrays as references

Atomic: the file is written under a temporary name in the same directory, flushed to disk,
then renamed over the target with os.replace, which is atomic on POSIX and Windows. A save
that dies half-way leaves the old file untouched (and no temporary file behind).
"""
from __future__ import annotations

import json
import os

import numpy as np

from .. import backend
from ..files import atomic_write
from ..tensor import Tensor

FORMAT = "minigrad-weights-1"


# ---------------------------------------------------------------------- weights of a model

def weight_records(model):
    """[(layer, attribute, Parameter)] for every weight of `model`, in Keras' order."""
    records, seen = [], set()

    def visit(module):
        for attr, p in module.own_parameters():
            if id(p) not in seen:
                seen.add(id(p))
                records.append((module, attr, p))
        for child in module.children():
            visit(child)

    visit(model)
    return records


def describe(layer, attr) -> str:
    return f"layer '{layer.name}' ({type(layer).__name__}), weight '{attr}'"


def check_shapes(records, shapes, source: str, saved_names=None, where="in the file"):
    """Raise naming the first layer whose weights differ from `shapes` (from `source`)."""
    for i, (layer, attr, p) in enumerate(records):
        theirs = f" (saved from {saved_names[i]})" if saved_names and i < len(saved_names) else ""
        if i >= len(shapes):
            raise ValueError(f"{source} has {len(shapes)} weight arrays but the model has {len(records)}: "
                             f"nothing for {describe(layer, attr)} of shape {p.shape} "
                             "(is this the same architecture?)")
        if tuple(shapes[i]) != p.shape:
            raise ValueError(f"{source} does not fit the model: {describe(layer, attr)} has shape "
                             f"{p.shape} in the model but {tuple(shapes[i])} {where}{theirs} "
                             "(is this the same architecture?)")
    if len(shapes) > len(records):
        extra = f": the first extra is {saved_names[len(records)]}" if saved_names else ""
        raise ValueError(f"{source} has {len(shapes)} weight arrays but the model only {len(records)}"
                         f"{extra} (is this the same architecture?)")


def assign(param, array) -> None:
    """Copy host data into a parameter in place (same object, same device and dtype)."""
    param.data = backend.asarray(np.asarray(array), dtype=param.dtype, device=param.device)
    param.grad = None


# ---------------------------------------------------------------------- optimizer state

def pack_state(state, arrays: list):
    """A state_dict as JSON-able data; its arrays are appended to `arrays` and referenced."""
    if isinstance(state, Tensor) or backend.is_backend_array(state) or isinstance(state, np.generic):
        kind = "tensor" if isinstance(state, Tensor) else \
            "scalar" if isinstance(state, np.generic) else \
            "numpy" if isinstance(state, np.ndarray) else "device"
        data = state.data if isinstance(state, Tensor) else state
        arrays.append(np.asarray(data) if kind == "scalar" else backend.to_numpy(data))
        return {"__array__": len(arrays) - 1, "kind": kind}
    if isinstance(state, dict):
        return {"__dict__": [[k, pack_state(v, arrays)] for k, v in state.items()]}
    if isinstance(state, (list, tuple)):
        return {"__list__" if isinstance(state, list) else "__tuple__": [pack_state(v, arrays) for v in state]}
    if state is None or isinstance(state, (bool, int, float, str)):
        return state
    raise TypeError(f"save_weights: cannot store a {type(state).__name__} from the optimizer's state_dict()")


def unpack_state(packed, arrays, device):
    """The inverse of pack_state; device arrays land on `device`."""
    if isinstance(packed, dict):
        if "__array__" in packed:
            host, kind = arrays[packed["__array__"]], packed["kind"]
            if kind == "numpy":
                return host
            if kind == "scalar":
                return host[()]
            data = backend.asarray(host, dtype=host.dtype, device=device)
            return Tensor._make(data) if kind == "tensor" else data
        if "__dict__" in packed:
            return {k: unpack_state(v, arrays, device) for k, v in packed["__dict__"]}
        if "__list__" in packed:
            return [unpack_state(v, arrays, device) for v in packed["__list__"]]
        return tuple(unpack_state(v, arrays, device) for v in packed["__tuple__"])
    return packed


# ---------------------------------------------------------------------- the file

def normalize_path(path) -> str:
    path = os.fspath(path)
    return path if path.endswith(".npz") else path + ".npz"


def atomic_savez(path: str, arrays: dict) -> None:
    """np.savez to `path` atomically (see minigrad/files.py)."""
    atomic_write(path, lambda f: np.savez(f, **arrays))


def save(path, model, optimizer_state=None) -> str:
    path = normalize_path(path)
    records = weight_records(model)
    arrays = {f"weight_{i:03d}": backend.to_numpy(p.data) for i, (_, _, p) in enumerate(records)}
    opt_arrays: list = []
    packed = None if optimizer_state is None else pack_state(optimizer_state, opt_arrays)
    arrays.update({f"optimizer_{i:03d}": a for i, a in enumerate(opt_arrays)})
    meta = {"format": FORMAT,
            "weights": [{"layer": layer.name, "type": type(layer).__name__, "name": attr,
                         "shape": list(p.shape)} for layer, attr, p in records],
            "optimizer": packed}
    arrays["__meta__"] = np.array(json.dumps(meta))
    atomic_savez(path, arrays)
    return path


def load(path):
    """(weights, saved weight descriptions, packed optimizer state or None, optimizer arrays)."""
    path = normalize_path(path)
    with np.load(path, allow_pickle=False) as f:
        if "__meta__" not in f.files:
            raise ValueError(f"load_weights: {path} is not a minigrad weights file (no __meta__ entry)")
        meta = json.loads(str(f["__meta__"]))
        weights = [f[f"weight_{i:03d}"] for i in range(len(meta["weights"]))]
        n_opt = sum(name.startswith("optimizer_") for name in f.files)
        opt_arrays = [f[f"optimizer_{i:03d}"] for i in range(n_opt)]
    names = [f"layer '{w['layer']}' ({w['type']}), weight '{w['name']}'" for w in meta["weights"]]
    return weights, names, meta.get("optimizer"), opt_arrays
