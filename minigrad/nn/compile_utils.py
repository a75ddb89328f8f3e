"""What compile() turns its arguments into: a loss and metrics per output.

    model.compile(optimizer="adam", loss={"age": "mse", "income": "binary_crossentropy"},
                  loss_weights={"age": 0.5}, metrics={"income": ["accuracy"]})

Once the model's output names are known (at compile() for a functional model, at its first
batch for the others), a CompiledLoss and a CompiledMetrics are made from the arguments:

    CompiledLoss     y_true, y_pred (one per output) -> the weighted sum of the per-output
                     losses; with several outputs it tracks each output's loss as a metric
                     named '<output>_loss' (as Keras logs them: age_loss, income_loss)
    CompiledMetrics  one Metric object per (output, metric), updated batch by batch and
                     reported under Keras' names ('accuracy', or 'income_accuracy')
Both are stateful objects the Trainer lists in model.metrics, so fit() resets them at the
start of every epoch and reads them at its end, as Keras 3 does.
"""
from __future__ import annotations

import copy
import inspect

import numpy as np

from ..engine.tensor import Tensor
from ..training import losses as losses_module
from . import metrics as metrics_module


class CompiledLoss:
    """The compiled loss of each output, its weight, and the trackers of per-output losses."""

    def __init__(self, loss, loss_weights, output_names):
        self.output_names = list(output_names)
        self.losses = [None if fn is None else losses_module.get(fn)
                       for fn in per_output(loss, self.output_names, "loss")]
        self.weights = [1.0 if w is None else float(w)
                        for w in per_output(loss_weights, self.output_names, "loss_weights", default=1.0)]
        self.takes_reduction = [fn is not None and takes_reduction(fn) for fn in self.losses]
        several = len(self.output_names) > 1
        self.metrics = [metrics_module.Mean(name=f"{name}_loss") if several and fn is not None else None
                        for name, fn in zip(self.output_names, self.losses)]

    def __call__(self, ys, preds, sample_weight, model):
        """The weighted sum of the per-output losses (None when no output has a loss)."""
        total = None
        weights = None if sample_weight is None else Tensor(
            np.asarray(sample_weight, dtype=np.float64).reshape(-1), dtype=model.dtype, device=model.device)
        for i, (fn, weight) in enumerate(zip(self.losses, self.weights)):
            if fn is None:
                continue
            if ys[i] is None:
                raise ValueError(f"compile() gave output '{self.output_names[i]}' a loss, but no targets came "
                                 "for it (fit(x, None)); give y, or compile it with loss=None and use add_loss")
            value = self._one_output(i, fn, ys[i], preds[i], weights)
            if self.metrics[i] is not None:
                self.metrics[i].update_state([value.item()], sample_weight=[len(preds[i])])
            total = value * weight if total is None else total + value * weight
        return total

    def _one_output(self, i, fn, y, p, weights):
        if weights is None:
            value = fn(y, p)
            return value.mean() if value.ndim else value
        per_sample = fn(y, p, reduction="none") if self.takes_reduction[i] else fn(y, p)
        if per_sample.ndim == 0:
            raise ValueError(f"sample_weight / class_weight need per-sample losses, but the loss of output "
                             f"'{self.output_names[i]}' returned one number; let it take reduction='none' "
                             "or return a value per sample")
        per_sample = per_sample.reshape(per_sample.shape[0], -1).mean(axis=1)
        return (per_sample * weights).mean()          # Keras: weighted sum over the batch size


class CompiledMetrics(metrics_module.Metric):
    """Every compiled metric of every output; result() is {log name: value} in compile order."""

    def __init__(self, metrics, output_names, losses):
        self.output_names = list(output_names)
        several = len(self.output_names) > 1
        self.entries = []                             # (output index, log name, Metric)
        for i, specs in enumerate(metrics_per_output(metrics, self.output_names)):
            for spec in specs:
                metric = metrics_module.get(spec, losses[i])
                if isinstance(spec, metrics_module.Metric) and several:
                    metric = copy.deepcopy(metric)    # one state per output
                name = f"{self.output_names[i]}_{metric.name}" if several else metric.name
                self.entries.append((i, name, metric))
        super().__init__(name="compile_metrics")

    def names(self) -> list:
        return [name for _, name, _ in self.entries]

    def reset_state(self):
        for _, _, metric in self.entries:
            metric.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None):
        """y_true, y_pred: one per output (lists), or a tensor each for a single output."""
        ys = y_true if isinstance(y_true, list) else [y_true]
        preds = y_pred if isinstance(y_pred, list) else [y_pred]
        for i, _, metric in self.entries:
            if ys[i] is not None:
                metric.update_state(ys[i], preds[i], sample_weight)

    def result(self) -> dict:
        return {name: metric.result() for _, name, metric in self.entries}


# ---------------------------------------------------------------------- reading compile()'s arguments

def per_output(spec, names, what, default=None):
    """A value per output from one value (used for every output), a list or a dict by name."""
    n = len(names)
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - set(names))
        if unknown:
            raise ValueError(f"compile: {what} names {unknown}, but the model's outputs are {names}")
        return [spec.get(name, None if what == "loss" else default) for name in names]
    if isinstance(spec, (list, tuple)):
        if len(spec) != n:
            raise ValueError(f"compile: {what} has {len(spec)} entries but the model has {n} output(s) {names}")
        return list(spec)
    return [spec if spec is not None else (None if what == "loss" else default)] * n


def metrics_per_output(metrics, names):
    if metrics is None:
        return [[] for _ in names]
    if isinstance(metrics, dict):
        unknown = sorted(set(metrics) - set(names))
        if unknown:
            raise ValueError(f"compile: metrics name {unknown}, but the model's outputs are {names}")
        return [as_list(metrics.get(name)) for name in names]
    if isinstance(metrics, (list, tuple)) and metrics and all(isinstance(m, (list, tuple)) for m in metrics):
        if len(metrics) != len(names):
            raise ValueError(f"compile: metrics has {len(metrics)} lists but the model has {len(names)} outputs")
        return [list(m) for m in metrics]
    return [as_list(metrics) for _ in names]          # a flat list: every output (Keras 2)


def as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def takes_reduction(fn) -> bool:
    try:
        return "reduction" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
