"""The data fit(), evaluate() and predict() take, as batches.

Inputs and targets come as
    one NumPy array (or anything np.asarray takes, or a Tensor)     one input / output
    a list or tuple of arrays                                       several, in order
    a dict {name: array}                                            several, by Input / output name
or, instead of arrays, any iterable of batches: a Python generator, a list of batches, a
Sequence-like object — each batch (x, y), (x, y, sample_weight), (x,) or x alone (the Keras
fit_generator path). For a generator, steps_per_epoch says how many batches make an epoch
(without it, one pass until the generator is exhausted).
"""
from __future__ import annotations

import numpy as np

from ..engine import backend
from ..engine.tensor import Tensor


def host(data):
    """Host NumPy data, keeping the structure: lists/tuples of arrays and dicts stay so."""
    if data is None:
        return None
    if isinstance(data, dict):
        return {k: host(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)) and data and all(
            isinstance(v, (np.ndarray, Tensor)) or backend.is_backend_array(v) for v in data):
        return [host(v) for v in data]
    if isinstance(data, Tensor):
        return data.numpy()
    if backend.is_backend_array(data):
        return backend.to_numpy(data)
    return np.asarray(data)


def leaves(data) -> list:
    if data is None:
        return []
    if isinstance(data, dict):
        return list(data.values())
    if isinstance(data, list):
        return list(data)
    return [data]


def take(data, index):
    """The samples `index` (a slice or an index array) of every array in `data`."""
    if data is None:
        return None
    if isinstance(data, dict):
        return {k: v[index] for k, v in data.items()}
    if isinstance(data, list):
        return [v[index] for v in data]
    return data[index]


def num_samples(what, *structures) -> int:
    """The common number of samples of all arrays given; a clear error if they differ."""
    sizes = {}
    for name, data in zip(("x", "y", "sample_weight"), structures):
        for i, a in enumerate(leaves(data)):
            if np.ndim(a) == 0:
                raise ValueError(f"{what}: {name} holds a 0-d value; every array needs a batch axis")
            sizes[f"{name}[{i}]" if len(leaves(data)) > 1 else name] = len(a)
    if len(set(sizes.values())) > 1:
        raise ValueError(f"{what}: the arrays have different numbers of samples: "
                         + ", ".join(f"{k} has {v}" for k, v in sizes.items()) + "; they must match")
    n = next(iter(sizes.values()), 0)
    if n == 0:
        raise ValueError(f"{what}: no samples (x is empty)")
    return n


def check_finite(what, name, data) -> None:
    """NaN or inf in floating data is an error before training starts, not a ruined model."""
    for i, a in enumerate(leaves(data)):
        if a.dtype.kind in "fc" and not np.isfinite(a).all():
            bad = np.argwhere(~np.isfinite(a))[0]
            label = f"{name}[{i}]" if len(leaves(data)) > 1 else name
            raise ValueError(f"{what}: {label} contains {a[tuple(bad)]} at index {tuple(int(b) for b in bad)}; "
                             "clean or impute the data first (np.nan_to_num, or drop those samples)")


def is_batch_iterable(x) -> bool:
    """Whether x is a source of batches rather than data: a generator/iterator, a list of
    (x, y) tuples, or a Sequence-like object (len + getitem of whole batches) — not an array
    or a list of arrays."""
    if isinstance(x, list) and x and all(isinstance(item, tuple) for item in x):
        return True
    if x is None or isinstance(x, (np.ndarray, Tensor, dict, list, tuple, str, bytes)):
        return False
    if backend.is_backend_array(x):
        return False
    return hasattr(x, "__next__") or hasattr(x, "__iter__") or (hasattr(x, "__getitem__") and hasattr(x, "__len__"))


def split_batch(item):
    """(x, y, sample_weight) of one batch from a generator."""
    if isinstance(item, tuple):
        if len(item) == 1:
            return item[0], None, None
        if len(item) == 2:
            return item[0], item[1], None
        if len(item) == 3:
            return item
        raise ValueError(f"a batch from the generator has {len(item)} entries; expected (x, y) or "
                         "(x, y, sample_weight)")
    return item, None, None


class ArrayBatches:
    """Batches of arrays: each epoch a pass in order or in a fresh shuffled order (the
    seeded CPU generator, so mg.manual_seed makes runs repeatable)."""

    def __init__(self, x, y, sample_weight, batch_size, shuffle, what="fit"):
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.n = num_samples(what, x, y, sample_weight)
        self.batch_size, self.shuffle = batch_size, shuffle
        self.steps = -(-self.n // batch_size)

    def epoch(self):
        order = backend.generator("cpu").permutation(self.n) if self.shuffle else None
        for start in range(0, self.n, self.batch_size):
            index = order[start:start + self.batch_size] if order is not None else \
                slice(start, start + self.batch_size)
            yield take(self.x, index), take(self.y, index), take(self.sample_weight, index)


class IterableBatches:
    """Batches from a generator or another iterable, `steps` of them per epoch.

    A generator is one stream shared by the epochs (as Keras); a re-iterable object (a list
    of batches, a Sequence) starts again each epoch. An epoch that gets no batch is an error.
    """

    def __init__(self, source, steps, what="fit"):
        if steps is not None and (not isinstance(steps, (int, np.integer)) or steps < 1):
            raise ValueError(f"{what}: steps must be a positive integer, got {steps!r}")
        self.source, self.steps, self.what = source, steps, what
        self.one_stream = hasattr(source, "__next__")
        self._iterator = iter(source) if self.one_stream else None
        if steps is None and hasattr(source, "__len__"):
            self.steps = len(source)

    def epoch(self):
        iterator = self._iterator if self.one_stream else iter(self.source)
        count = 0
        while self.steps is None or count < self.steps:
            try:
                item = next(iterator)
            except StopIteration:
                break
            count += 1
            x, y, sw = split_batch(item)
            yield host(x), host(y), host(sw)
        if count == 0:
            raise ValueError(f"{self.what}: the generator gave no batch this epoch (exhausted?); give "
                             "steps_per_epoch so that each epoch takes that many batches from one "
                             "endless generator, or pass a re-iterable sequence of batches")
