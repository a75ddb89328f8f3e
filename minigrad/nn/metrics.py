"""Metrics for compile(metrics=[...]): each returns (sum over the batch, count) so that
epochs average exactly over samples whatever the batch sizes.

"accuracy" picks its kind as Keras does:
    binary        one sigmoid output per sample (or a binary cross-entropy loss):
                  the prediction is y_pred > 0.5, compared with y_true > 0.5
    categorical   several outputs per sample: the class is argmax(y_pred) and the target is
                  argmax(y_true) for one-hot targets, or y_true itself for integer labels
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor


def binary_accuracy(y_true: Tensor, y_pred: Tensor):
    pred = y_pred.data > 0.5
    true = y_true.data.reshape(pred.shape) > 0.5
    return float((pred == true).sum()), pred.size


def categorical_accuracy(y_true: Tensor, y_pred: Tensor):
    xp = backend.xp_of(y_pred.data)
    pred = xp.argmax(y_pred.data, axis=-1)
    true = y_true.data
    if true.shape == y_pred.shape:                      # one-hot (or soft) targets
        true = xp.argmax(true, axis=-1)
    else:                                               # integer labels, (N,) or (N, 1)
        true = true.reshape(pred.shape)
    return float((pred == true).sum()), pred.size


def accuracy(y_true: Tensor, y_pred: Tensor):
    """Binary for one output per sample, categorical (one-hot or integer labels) otherwise."""
    if y_pred.ndim == 1 or y_pred.shape[-1] == 1:
        return binary_accuracy(y_true, y_pred)
    return categorical_accuracy(y_true, y_pred)


def get(metric, loss=None):
    """(name, function) for a metric name or a callable metric(y_true, y_pred) -> number or tensor."""
    if callable(metric):
        name = getattr(metric, "__name__", type(metric).__name__)
        return name, _averaged(metric)
    if metric in ("accuracy", "acc"):
        loss_name = loss if isinstance(loss, str) else getattr(loss, "__name__", type(loss).__name__)
        kind = binary_accuracy if "binary" in loss_name.lower() else accuracy
        return "accuracy", kind
    if metric in ("binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy"):
        return metric, binary_accuracy if metric == "binary_accuracy" else categorical_accuracy
    raise ValueError(f"unknown metric {metric!r}; use 'accuracy' or a function metric(y_true, y_pred)")


def _averaged(fn):
    """A user metric giving a batch mean, as a (sum, count) metric."""
    def metric(y_true, y_pred):
        value = fn(y_true, y_pred)
        value = value.item() if isinstance(value, Tensor) else float(value)
        n = y_pred.shape[0] if y_pred.ndim else 1
        return value * n, n
    metric.__name__ = getattr(fn, "__name__", "metric")
    return metric
