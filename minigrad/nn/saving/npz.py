"""minigrad's own weights file: one .npz, written atomically, checked against the model on load.

File layout (plain NumPy, readable with np.load):
    weight_000, weight_001, ...   the weights in Keras order (get_weights())
    optimizer_000, ...            the arrays of the optimizer's state_dict(), if any
    __meta__                      JSON: per weight its layer, type, name and shape; the
                                  optimizer state's structure with its arrays as references

Atomic: the file is written under a temporary name in the same directory, flushed to disk,
then renamed over the target with os.replace, which is atomic on POSIX and Windows. A save
that dies half-way leaves the old file untouched (see minigrad/files.py for the temporary
files a killed save leaves and how the next save removes them).

Loading checks before it changes anything: a truncated or damaged file, a file of another
architecture or an optimizer state that does not fit raise an error naming the file and
what is wrong, with every weight of the model as it was (read_checked, then assign_all).
"""
from __future__ import annotations

import json
import os
import tokenize
import zipfile
import zlib

import numpy as np

from ...engine import backend
from ...training.files import atomic_write
from ...engine.tensor import Tensor

from ..weights import assign, assign_all, check_shapes, describe, weight_records  # noqa: F401

FORMAT = "minigrad-weights-1"


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
    """The path as given: a weights file is always written and read under the name asked for."""
    return os.fspath(path)


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


class WeightsFileError(ValueError):
    """A weights file that cannot be read: truncated, damaged, or not a minigrad weights file."""


# What NumPy and zipfile raise for a damaged .npz: a truncated zip, a bad CRC, a cut-off
# member, bytes that are not an .npz at all (np.load then takes them for a pickle), and a
# flipped bit in an array's header, which NumPy parses as a Python literal (a tokenizer or
# syntax error, NotImplementedError for a zip flag it does not know, an absurd size).
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, TypeError,
            json.JSONDecodeError, UnicodeDecodeError, NotImplementedError, SyntaxError,
            tokenize.TokenError, OverflowError, MemoryError)


def _damaged(path, why) -> WeightsFileError:
    return WeightsFileError(f"load_weights: {path} is not a readable minigrad weights file: {why}. "
                            "Was the save interrupted, or the file copied only in part? Save the "
                            "weights again (model.save_weights) or use another copy")


def load(path):
    """(weights, saved weight descriptions, packed optimizer state or None, optimizer arrays).

    Raises FileNotFoundError for a missing file and WeightsFileError, naming the file and
    what is wrong, for one that is not a whole minigrad weights file.
    """
    path = normalize_path(path)
    if not os.path.isfile(path):
        older = f" ({path}.npz exists: older minigrad versions added '.npz' to the name; pass that name)" \
            if os.path.isfile(path + ".npz") else ""
        raise FileNotFoundError(f"load_weights: no such file: {path}{older}")
    if not zipfile.is_zipfile(path):
        raise _damaged(path, "it is not an .npz (zip) archive (truncated, or another kind of file)")
    try:
        with np.load(path, allow_pickle=False) as f:
            if "__meta__" not in f.files:
                raise _damaged(path, "it has no __meta__ entry (an .npz written by something else?)")
            meta = json.loads(str(f["__meta__"]))
            if not isinstance(meta, dict) or not isinstance(meta.get("weights"), list):
                raise _damaged(path, "its __meta__ entry is not minigrad's")
            weights = [f[f"weight_{i:03d}"] for i in range(len(meta["weights"]))]
            n_opt = sum(name.startswith("optimizer_") for name in f.files)
            opt_arrays = [f[f"optimizer_{i:03d}"] for i in range(n_opt)]
        names = [f"layer '{w['layer']}' ({w['type']}), weight '{w['name']}'" for w in meta["weights"]]
    except WeightsFileError:
        raise
    except _DAMAGED as exc:
        what = "a member is missing" if isinstance(exc, KeyError) else \
            "it holds Python objects, not plain arrays" if "pickle" in str(exc) else \
            f"{type(exc).__name__} while reading it"
        raise _damaged(path, what) from None
    for name, w in zip(names, weights):
        if w.dtype.kind not in "fiub":
            raise _damaged(path, f"{name} holds {w.dtype} data, not numbers")
    return weights, names, meta.get("optimizer"), opt_arrays


def read_checked(model, path, optimizer=None, params=None):
    """Read a weights file and check all of it against `model`, changing nothing.

    optimizer: the model's optimizer when it already has its parameters (`params`, default its
    bound ones); the saved optimizer state must then fit it too. Returns (records, weights,
    optimizer state or None); then assign_all(records, weights) and load the state.
    """
    records = weight_records(model)
    weights, names, packed, opt_arrays = load(path)
    check_shapes(records, [w.shape for w in weights], f"load_weights: {normalize_path(path)}", names)
    state = None
    if packed is not None:
        try:
            state = unpack_state(packed, opt_arrays, model.device)
        except (KeyError, IndexError, TypeError, ValueError):
            raise _damaged(normalize_path(path), "its optimizer state is incomplete") from None
        if optimizer is not None and hasattr(optimizer, "check_state_dict"):
            try:
                optimizer.check_state_dict(state, params)
            except (KeyError, ValueError) as exc:
                raise ValueError(f"load_weights: {normalize_path(path)}: the saved optimizer state does not "
                                 f"fit this model's optimizer ({exc}); nothing was loaded. Load without it "
                                 f"by recompiling with a fresh optimizer after loading, or save again") from None
    return records, weights, state
