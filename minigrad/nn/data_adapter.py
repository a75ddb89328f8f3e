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

import numbers

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
        a = np.asarray(a)
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
        # a list of (x, y) batches, unless every tuple is a row of numbers: [(1, 2), (3, 4)] is data
        return not all(isinstance(v, numbers.Number) for item in x for v in item)
    if x is None or isinstance(x, (np.ndarray, Tensor, dict, list, tuple, str, bytes)):
        return False
    if backend.is_backend_array(x):
        return False
    return hasattr(x, "__next__") or hasattr(x, "__iter__") or (hasattr(x, "__getitem__") and hasattr(x, "__len__"))


def unpack_x_y_sample_weight(batch):
    """(x, y, sample_weight) of a batch given as x, (x,), (x, y) or (x, y, sample_weight):
    a generator's batches, and the `data` a train_step receives (Keras' name)."""
    if isinstance(batch, tuple):
        if len(batch) == 1:
            return batch[0], None, None
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch
        raise ValueError(f"a batch has {len(batch)} entries; expected x, (x, y) or (x, y, sample_weight)")
    return batch, None, None


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
            x, y, sw = unpack_x_y_sample_weight(item)
            yield host(x), host(y), host(sw)
        if count == 0:
            raise ValueError(f"{self.what}: the generator gave no batch this epoch (exhausted?); give "
                             "steps_per_epoch so that each epoch takes that many batches from one "
                             "endless generator, or pass a re-iterable sequence of batches")


# ---------------------------------------------------------------------- the sources of fit/evaluate/predict

def check_positive_int(what, name, value, allow_none=False):
    if value is None and allow_none:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what}: {name} must be a positive integer, got {value!r}")
    return int(value)


def class_weights_to_samples(class_weight, y) -> np.ndarray:
    """Per-sample weights from {class: weight}: labels, one-hot rows or a 0/1 output."""
    y = np.asarray(y)
    if y.ndim >= 2 and y.shape[-1] > 1:
        labels = y.argmax(axis=-1)
    else:
        labels = y.reshape(len(y))
        labels = np.rint(labels).astype(np.int64) if labels.dtype.kind == "f" else labels.astype(np.int64)
    unknown = sorted(set(np.unique(labels).tolist()) - set(int(k) for k in class_weight))
    if unknown:
        raise ValueError(f"class_weight has no weight for class(es) {unknown} found in y")
    table = {int(k): float(v) for k, v in class_weight.items()}
    return np.array([table[int(c)] for c in labels.reshape(-1)], dtype=np.float64)


def make_source(what, x, y, sample_weight, batch_size, shuffle, steps, class_weight=None):
    """ArrayBatches for arrays, IterableBatches for a generator or other batch iterable."""
    if is_batch_iterable(x):
        if y is not None:
            raise ValueError(f"{what}: y must be None when x is a generator or sequence of batches "
                             "(the batches carry their targets)")
        if class_weight is not None:
            raise ValueError(f"{what}: class_weight with a generator: put the weights in its batches as "
                             "(x, y, sample_weight)")
        return IterableBatches(x, steps, what)
    if x is None:
        raise ValueError(f"{what}: x is needed")
    x, y, sample_weight = host(x), host(y), host(sample_weight)
    check_finite(what, "x", x)
    check_finite(what, "y", y)
    check_finite(what, "sample_weight", sample_weight)
    if class_weight is not None:
        targets = leaves(y)
        if len(targets) != 1:
            raise ValueError(f"{what}: class_weight needs exactly one target array (one output); "
                             "for several outputs use sample_weight")
        weights = class_weights_to_samples(class_weight, targets[0])
        sample_weight = weights if sample_weight is None else weights * np.asarray(sample_weight).reshape(-1)
    source = ArrayBatches(x, y, sample_weight, batch_size, shuffle, what)
    if steps is not None:
        source.steps = min(source.steps, check_positive_int(what, "steps", steps))
    return source


def split_validation(x, y, sample_weight, fraction):
    """fit(validation_split=...): (x, y, sample_weight) for training and the validation_data
    taken from the end of the arrays, before any shuffling (Keras' rule)."""
    if is_batch_iterable(x):
        raise ValueError("fit: validation_split needs arrays; with a generator give validation_data")
    x, y, sample_weight = host(x), host(y), host(sample_weight)
    n = num_samples("fit", x, y, sample_weight)
    cut = int(n * (1 - fraction))
    if cut == 0 or cut == n:
        raise ValueError(f"fit: validation_split={fraction} of {n} samples leaves "
                         f"{cut} to train on and {n - cut} to validate; both must be at least 1")
    head, tail = slice(0, cut), slice(cut, None)
    validation = (take(x, tail), take(y, tail), take(sample_weight, tail))
    return take(x, head), take(y, head), take(sample_weight, head), validation


def validation_source(validation_data, steps, batch_size):
    """The batches of fit(validation_data=...): a batch iterable, or (x, y[, sample_weight])."""
    if is_batch_iterable(validation_data):
        return IterableBatches(validation_data, steps, "fit (validation)")
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError("fit: validation_data must be (x_val, y_val), (x_val, y_val, sample_weight) "
                         "or (x_val, None) for a model trained by add_loss alone")
    vx, vy, vsw = (list(validation_data) + [None])[:3]
    return make_source("fit (validation)", vx, vy, vsw, batch_size, False, steps)


def predict_source(x, batch_size, steps):
    """The batches of predict(): x's own batches if it is a generator, else x in order."""
    if is_batch_iterable(x):
        return IterableBatches(x, steps, "predict")
    source = ArrayBatches(host(x), None, None, batch_size, False, "predict")
    if steps is not None:
        source.steps = min(source.steps, check_positive_int("predict", "steps", steps))
    return source
