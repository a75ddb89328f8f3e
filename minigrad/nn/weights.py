"""A module's weights as records, and copying arrays into them: what get_weights/set_weights
and every weights file (nn/saving/) share.

    weight_records(model)   [(layer, attribute, Parameter)], each weight once, in Keras' order
    check_shapes(...)       a clear error naming the first weight whose shape does not fit
    assign(p, array)        p takes a copy of the array (same Parameter, its device and dtype)
"""
from __future__ import annotations

import numpy as np

from ..engine import backend


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
    """Give a parameter a copy of `array` (same Parameter object, its device and dtype).

    Always a copy: the caller's array is never the parameter's storage, so training does not
    write into it and two models given the same arrays (set_weights) do not share weights.
    Counts as an in-place change of the parameter (its version), like an optimizer step.
    """
    source = array if backend.is_backend_array(array) else np.asarray(array)
    data = backend.asarray(source, dtype=param.dtype, device=param.device)
    if backend.buffer_key(data) == backend.buffer_key(source):
        data = data.copy()
    param.data = data
    param.grad = None
    param._bump_version()


def assign_all(records, weights) -> None:
    """assign() each weight to its record's parameter (after read_checked found them fitting)."""
    for (_, _, p), array in zip(records, weights):
        assign(p, array)
