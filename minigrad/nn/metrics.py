"""Metrics for compile(metrics=[...]): what fit() and evaluate() report besides the loss.

Two kinds, as in Keras 3:
  functions   metric(y_true, y_pred) -> one value per sample (binary_accuracy, mae, ...);
              over an epoch they are averaged over samples (weighted by sample_weight)
  stateful    Metric objects that accumulate counts over the batches and compute the
              result from them (Precision, Recall, AUC: an average of per-batch precisions
              would be wrong)

A metric is logged under the name the user gave: metrics=["acc"] logs "acc" and "val_acc",
metrics=["accuracy"] logs "accuracy", a function its __name__, a Metric object its .name.

"accuracy" / "acc" picks its kind from the loss and the predictions, as Keras does:
    binary        a binary cross-entropy loss, or one output per sample: y_pred > 0.5
                  compared with y_true > 0.5
    categorical   several outputs per sample: argmax(y_pred) against argmax(y_true) for
                  one-hot targets, or against y_true itself for integer labels
"""
from __future__ import annotations

import numpy as np

from ..engine import backend
from ..engine.tensor import Tensor
from ..training import losses


def _arrays(y_true, y_pred):
    """Host NumPy arrays of the targets and predictions (metrics are bookkeeping, not graph)."""
    as_np = (lambda t: t.numpy() if isinstance(t, Tensor) else
             backend.to_numpy(t) if backend.is_backend_array(t) else np.asarray(t))
    return as_np(y_true), as_np(y_pred)


# ---------------------------------------------------------------------- per-sample functions

def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Per sample: the fraction of its outputs where (y_pred > threshold) == (y_true > 0.5)."""
    t, p = _arrays(y_true, y_pred)
    t = t.reshape(p.shape)
    hits = (p > threshold) == (t > 0.5)
    return hits.reshape(len(hits), -1).mean(axis=1) if hits.ndim else hits.astype(float).reshape(1)


def _labels(t, p):
    """Integer class labels from one-hot (or soft) targets or from labels themselves."""
    if t.shape == p.shape:
        return t.argmax(axis=-1)
    return t.reshape(p.shape[:-1]).astype(np.int64)


def categorical_accuracy(y_true, y_pred):
    """Per sample: 1 where argmax(y_pred) is the target class (one-hot or integer labels)."""
    t, p = _arrays(y_true, y_pred)
    return (p.argmax(axis=-1) == _labels(t, p)).astype(float).reshape(len(p), -1).mean(axis=1)


def sparse_categorical_accuracy(y_true, y_pred):
    """categorical_accuracy for integer labels (N,) or (N, 1)."""
    return categorical_accuracy(y_true, y_pred)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Per sample: 1 where the target class is among the k highest predictions."""
    t, p = _arrays(y_true, y_pred)
    labels = _labels(t, p)
    top = np.argsort(-p, axis=-1, kind="stable")[..., :k]
    return (top == labels[..., None]).any(axis=-1).astype(float).reshape(len(p), -1).mean(axis=1)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    return top_k_categorical_accuracy(y_true, y_pred, k)


def _same_shape(t, p, name):
    """Targets as the predictions' shape: (N,) against (N, 1) is fine; anything else is an error.

    Keras broadcasts (N,) targets against (N, 10) predictions and reports a number that means
    nothing (integer labels against class probabilities); here that is an error."""
    if t.size == p.size:
        return t.reshape(p.shape)
    raise ValueError(f"metric '{name}': targets of shape {t.shape} do not match predictions of shape "
                     f"{p.shape}; it compares value by value (regression). For integer class labels "
                     "against class probabilities use metrics=['accuracy'] (or one-hot targets)")


def _as_loss(name, y_true, y_pred, **options):
    """For a Tensor y_pred: the per-sample values as a differentiable Tensor, from
    minigrad.losses (reduction="none"), so keras.metrics.binary_crossentropy & co. work
    inside a loss as Keras' do. None for arrays (the bookkeeping path below)."""
    if not isinstance(y_pred, Tensor):
        return None
    return getattr(losses, name)(y_true, y_pred, reduction="none", **options)


def mean_absolute_error(y_true, y_pred):
    """Per sample: mean |y_pred - y_true| over its outputs (a Tensor, differentiable, when
    y_pred is a Tensor; NumPy otherwise)."""
    as_loss = _as_loss("mean_absolute_error", y_true, y_pred)
    if as_loss is not None:
        return as_loss
    t, p = _arrays(y_true, y_pred)
    t = _same_shape(t, p, "mean_absolute_error")
    return np.abs(p - t).reshape(len(p), -1).mean(axis=1)


def mean_squared_error(y_true, y_pred):
    """Per sample: mean (y_pred - y_true)^2 over its outputs."""
    as_loss = _as_loss("mean_squared_error", y_true, y_pred)      # a Tensor in: differentiable, as Keras'
    if as_loss is not None:
        return as_loss
    t, p = _arrays(y_true, y_pred)
    t = _same_shape(t, p, "mean_squared_error")
    return ((p - t) ** 2).reshape(len(p), -1).mean(axis=1)


_EPSILON = 1e-7      # Keras clips probabilities to [eps, 1 - eps] before taking logs


def binary_crossentropy(y_true, y_pred):
    """Per sample: mean over its outputs of -(t log p + (1 - t) log(1 - p)), p clipped to
    [1e-7, 1 - 1e-7] as Keras does (probabilities in, not logits)."""
    as_loss = _as_loss("binary_crossentropy", y_true, y_pred)      # a Tensor in: differentiable, as Keras'
    if as_loss is not None:
        return as_loss
    t, p = _arrays(y_true, y_pred)
    t = _same_shape(t, p, "binary_crossentropy")
    p = np.clip(p, _EPSILON, 1 - _EPSILON)
    values = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    return values.reshape(len(p), -1).mean(axis=1)


def categorical_crossentropy(y_true, y_pred):
    """Per sample: -sum_k t_k log p_k over the last axis, one-hot (or soft) targets; p is
    normalised to sum 1 and clipped, as Keras does."""
    as_loss = _as_loss("categorical_crossentropy", y_true, y_pred)      # a Tensor in: differentiable, as Keras'
    if as_loss is not None:
        return as_loss
    t, p = _arrays(y_true, y_pred)
    t = _same_shape(t, p, "categorical_crossentropy")
    p = np.clip(p / p.sum(axis=-1, keepdims=True), _EPSILON, 1 - _EPSILON)
    return (-(t * np.log(p)).sum(axis=-1)).reshape(len(p), -1).mean(axis=1)


def sparse_categorical_crossentropy(y_true, y_pred):
    """Per sample: -log p[label] for integer labels (N,) or (N, 1)."""
    as_loss = _as_loss("sparse_categorical_crossentropy", y_true, y_pred)      # a Tensor in: differentiable, as Keras'
    if as_loss is not None:
        return as_loss
    t, p = _arrays(y_true, y_pred)
    labels = t.reshape(p.shape[:-1]).astype(np.int64)
    p = np.clip(p / p.sum(axis=-1, keepdims=True), _EPSILON, 1 - _EPSILON)
    picked = np.take_along_axis(p, labels[..., None], axis=-1)[..., 0]
    return (-np.log(picked)).reshape(len(p), -1).mean(axis=1)


mae = mean_absolute_error
mse = mean_squared_error


def accuracy(y_true, y_pred):
    """Binary for one output per sample, categorical (one-hot or integer labels) otherwise."""
    _, p = _arrays(y_true, y_pred)
    if p.ndim == 1 or p.shape[-1] == 1:
        return binary_accuracy(y_true, y_pred)
    return categorical_accuracy(y_true, y_pred)


# ---------------------------------------------------------------------- Metric objects

class Metric:
    """Accumulates over batches: reset_state(), update_state(y_true, y_pred, sample_weight),
    result() -> float."""

    def __init__(self, name=None):
        self.name = name or _snake(type(self).__name__)
        self.reset_state()

    def reset_state(self):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        raise NotImplementedError

    def result(self) -> float:
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(name='{self.name}')"


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


class Mean(Metric):
    """The (weighted) mean of the values it is given."""

    def reset_state(self):
        self.total, self.count = 0.0, 0.0

    def update_state(self, values, sample_weight=None):
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        weights = np.ones_like(values) if sample_weight is None else \
            np.broadcast_to(np.asarray(sample_weight, dtype=np.float64).reshape(-1), values.shape)
        self.total += float((values * weights).sum())
        self.count += float(weights.sum())

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


class MeanMetricWrapper(Mean):
    """A per-sample metric function, averaged over samples: MeanMetricWrapper(fn, name)."""

    def __init__(self, fn, name=None, **fn_kwargs):
        self.fn, self.fn_kwargs = fn, fn_kwargs
        super().__init__(name=name or getattr(fn, "__name__", "metric"))

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self.fn(y_true, y_pred, **self.fn_kwargs)
        if isinstance(values, Tensor):
            values = values.numpy()
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 0:           # a user function giving a batch mean: weight it by the batch
            pred = _arrays(y_true, y_pred)[1]
            values = np.full(len(pred) if pred.ndim else 1, float(values))
        super().update_state(values, sample_weight)


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name="binary_accuracy", threshold=0.5):
        super().__init__(binary_accuracy, name, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="categorical_accuracy"):
        super().__init__(categorical_accuracy, name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="sparse_categorical_accuracy"):
        super().__init__(sparse_categorical_accuracy, name)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k=5, name="top_k_categorical_accuracy"):
        super().__init__(top_k_categorical_accuracy, name, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy"):
        super().__init__(sparse_top_k_categorical_accuracy, name, k=k)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_error"):
        super().__init__(mean_absolute_error, name)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_error"):
        super().__init__(mean_squared_error, name)


class _ConfusionCounts(Metric):
    """True/false positives and negatives of y_pred > threshold, for every threshold,
    summed over the batches (with sample weights). Targets are 0/1 (> 0.5 counts as 1)."""

    def __init__(self, thresholds, name=None):
        self.thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1)
        super().__init__(name)

    def reset_state(self):
        n = len(self.thresholds)
        self.tp, self.fp, self.tn, self.fn = (np.zeros(n) for _ in range(4))

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _arrays(y_true, y_pred)
        per_sample = p.reshape(len(p) if p.ndim else 1, -1)          # (samples, outputs)
        w = np.ones(per_sample.shape) if sample_weight is None else \
            np.broadcast_to(np.asarray(sample_weight, np.float64).reshape(-1, 1), per_sample.shape)
        t = t.reshape(-1) > 0.5
        p, w = per_sample.reshape(-1).astype(np.float64), w.reshape(-1)
        predicted = p[None, :] > self.thresholds[:, None]          # (thresholds, values)
        self.tp += (predicted & t) @ w
        self.fp += (predicted & ~t) @ w
        self.fn += (~predicted & t) @ w
        self.tn += (~predicted & ~t) @ w


def _ratio(a, b):
    return float(a / b) if b else 0.0


class Precision(_ConfusionCounts):
    """tp / (tp + fp) over everything seen since reset_state(), at `thresholds` (default 0.5)."""

    def __init__(self, thresholds=None, name="precision"):
        super().__init__(0.5 if thresholds is None else thresholds, name)

    def result(self) -> float:
        return _ratio(self.tp[0], self.tp[0] + self.fp[0])


class Recall(_ConfusionCounts):
    """tp / (tp + fn) over everything seen since reset_state(), at `thresholds` (default 0.5)."""

    def __init__(self, thresholds=None, name="recall"):
        super().__init__(0.5 if thresholds is None else thresholds, name)

    def result(self) -> float:
        return _ratio(self.tp[0], self.tp[0] + self.fn[0])


class AUC(_ConfusionCounts):
    """Area under the ROC (or precision-recall) curve, from counts at num_thresholds
    thresholds spread evenly over [0, 1] (Keras' construction: the end points sit just
    outside, so every score falls between two thresholds), integrated with the trapezoidal
    rule. With enough thresholds it approaches the exact area."""

    def __init__(self, num_thresholds=200, curve="ROC", name="auc"):
        if num_thresholds < 2:
            raise ValueError(f"AUC: num_thresholds must be > 1, got {num_thresholds}")
        if curve not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', got {curve!r}")
        self.curve = curve
        inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        eps = 1e-7
        super().__init__([0.0 - eps] + inner + [1.0 + eps], name)

    def result(self) -> float:
        tp, fp, tn, fn = self.tp, self.fp, self.tn, self.fn
        recall = np.divide(tp, tp + fn, out=np.zeros_like(tp), where=(tp + fn) > 0)
        if self.curve == "ROC":
            x = np.divide(fp, fp + tn, out=np.zeros_like(fp), where=(fp + tn) > 0)
            y = recall
        else:
            x = recall
            y = np.divide(tp, tp + fp, out=np.ones_like(tp), where=(tp + fp) > 0)
        return float(np.sum((x[:-1] - x[1:]) * (y[:-1] + y[1:]) / 2))


# ---------------------------------------------------------------------- by name

_FUNCTIONS = {
    "binary_accuracy": binary_accuracy, "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "top_k_categorical_accuracy": top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy": sparse_top_k_categorical_accuracy,
    "mae": mean_absolute_error, "mean_absolute_error": mean_absolute_error,
    "mse": mean_squared_error, "mean_squared_error": mean_squared_error,
    "binary_crossentropy": binary_crossentropy, "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
}
_CLASSES = {"precision": Precision, "recall": Recall, "auc": AUC}


def get(metric, loss=None) -> Metric:
    """A fresh Metric for a name ('accuracy', 'acc', 'mae', 'auc', ...), a function
    metric(y_true, y_pred) -> per-sample values, or a Metric object (used as it is)."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, type) and issubclass(metric, Metric):
        return metric()
    if callable(metric):
        return MeanMetricWrapper(metric, getattr(metric, "__name__", type(metric).__name__))
    if not isinstance(metric, str):
        raise TypeError(f"metrics: expected a name, a function or a Metric, got {metric!r}")
    key = metric.lower()
    if key in ("accuracy", "acc"):
        loss_name = loss if isinstance(loss, str) else getattr(loss, "__name__", type(loss).__name__)
        kind = binary_accuracy if "binary" in str(loss_name).lower() else accuracy
        return MeanMetricWrapper(kind, metric)
    if key in _FUNCTIONS:
        return MeanMetricWrapper(_FUNCTIONS[key], metric)
    if key in _CLASSES:
        return _CLASSES[key](name=metric)
    raise ValueError(f"unknown metric {metric!r}; use one of {sorted(['accuracy', 'acc', *_FUNCTIONS, *_CLASSES])}, "
                     "a function metric(y_true, y_pred) or a minigrad.nn.metrics.Metric")
