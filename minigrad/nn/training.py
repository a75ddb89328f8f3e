"""What compile() sets up and fit() / evaluate() / predict() run, for every kind of Model.

One training step, all fit() does per batch, is the loop a learner would write by hand:

    pred = model(x_batch)                            # forward, recording the graph
    loss = loss_fn(y_batch, pred) + sum(model.losses)  # compiled loss + add_loss + regularizers
    loss.backward()                                  # dloss/dparameter into every .grad
    optimizer.step(params)                           # update the model's trainable parameters

Around it: several inputs and outputs (lists or dicts, by Input and output names), a loss
and metrics per output (logged as Keras names them: loss, age_loss, val_income_accuracy),
sample and class weights, callbacks, and checks so that nothing goes wrong silently:
bad arguments are refused up front, an epoch without a batch is an error, and a NaN or inf
in the loss or a gradient stops training before the update, naming where it happened.
"""
from __future__ import annotations

import copy
import inspect
import math
import warnings

import numpy as np

from ..engine import autograd, backend
from ..training import callbacks as callbacks_module
from ..training import losses as losses_module
from ..engine.tensor import Tensor
from . import data_adapter as data
from . import metrics as metrics_module


# ---------------------------------------------------------------------- compile

class Plan:
    """The compiled losses and metrics, per output, made once the output names are known."""

    def __init__(self, loss, loss_weights, metrics, output_names):
        self.output_names = list(output_names)
        n = len(self.output_names)
        self.losses = _per_output(loss, self.output_names, "loss")
        self.losses = [None if fn is None else losses_module.get(fn) for fn in self.losses]
        weights = _per_output(loss_weights, self.output_names, "loss_weights", default=1.0)
        self.weights = [1.0 if w is None else float(w) for w in weights]
        per_output_metrics = _metrics_per_output(metrics, self.output_names)
        self.metrics = []          # (output index, log name, Metric)
        for i, specs in enumerate(per_output_metrics):
            for spec in specs:
                metric = metrics_module.get(spec, self.losses[i])
                if isinstance(spec, metrics_module.Metric) and n > 1:
                    metric = copy.deepcopy(metric)
                name = metric.name if n == 1 else f"{self.output_names[i]}_{metric.name}"
                self.metrics.append((i, name, metric))
        self.takes_reduction = [fn is not None and _takes_reduction(fn) for fn in self.losses]

    def names(self) -> list:
        """The log names, in Keras' order: loss, per-output losses, metrics."""
        extra = [f"{name}_loss" for name, fn in zip(self.output_names, self.losses) if fn is not None] \
            if len(self.output_names) > 1 else []
        return ["loss"] + extra + [name for _, name, _ in self.metrics]

    def fresh_metrics(self):
        out = [(i, name, copy.deepcopy(m)) for i, name, m in self.metrics]
        for _, _, m in out:
            m.reset_state()
        return out


def _per_output(spec, names, what, default=None):
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


def _metrics_per_output(metrics, names):
    if metrics is None:
        return [[] for _ in names]
    if isinstance(metrics, dict):
        unknown = sorted(set(metrics) - set(names))
        if unknown:
            raise ValueError(f"compile: metrics name {unknown}, but the model's outputs are {names}")
        return [_as_list(metrics.get(name)) for name in names]
    if isinstance(metrics, (list, tuple)) and metrics and all(isinstance(m, (list, tuple)) for m in metrics):
        if len(metrics) != len(names):
            raise ValueError(f"compile: metrics has {len(metrics)} lists but the model has {len(names)} outputs")
        return [list(m) for m in metrics]
    return [_as_list(metrics) for _ in names]         # a flat list: every output (Keras 2)


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _takes_reduction(fn) -> bool:
    try:
        return "reduction" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------- tensors of a batch

def as_targets(model, y, n_outputs) -> list:
    """Host targets as a list, one per output (a dict is read by output name)."""
    if y is None:
        return [None] * n_outputs
    names = model.output_names
    if isinstance(y, dict):
        missing = [name for name in names if name not in y]
        if missing and len(y) == len(names) and n_outputs == 1:
            return list(y.values())
        unknown = sorted(set(y) - set(names))
        if unknown:
            raise ValueError(f"targets name {unknown}, but the model's outputs are {names}")
        return [y.get(name) for name in names]
    if isinstance(y, list):
        if n_outputs == 1 and len(y) == 1:
            return y
        if len(y) != n_outputs:
            raise ValueError(f"{len(y)} target arrays for {n_outputs} output(s) {names}")
        return y
    if n_outputs != 1:
        raise ValueError(f"the model has {n_outputs} outputs {names}: give y as a list or a dict of arrays")
    return [y]


def target_tensor(model, array):
    """A host target array as a tensor on the model's device: floats in the model's dtype,
    integer class labels kept integer."""
    if array is None:
        return None
    array = np.asarray(array)
    cast = array.dtype.kind in "fb"
    return Tensor(array, dtype=model.dtype if cast else None, device=model.device)


def flat_outputs(pred) -> list:
    if isinstance(pred, dict):
        return list(pred.values())
    if isinstance(pred, (list, tuple)):
        return list(pred)
    return [pred]


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


# ---------------------------------------------------------------------- the loss of a batch

def batch_losses(model, plan, ys, preds, sample_weight):
    """(total loss tensor, {log name: float} of the per-output losses)."""
    total, parts = None, {}
    sw = None if sample_weight is None else Tensor(np.asarray(sample_weight, dtype=np.float64).reshape(-1),
                                                   dtype=model.dtype, device=model.device)
    for i, (fn, weight) in enumerate(zip(plan.losses, plan.weights)):
        if fn is None:
            continue
        y, p = ys[i], preds[i]
        if y is None:
            raise ValueError(f"compile() gave output '{plan.output_names[i]}' a loss, but no targets came "
                             "for it (fit(x, None)); give y, or compile it with loss=None and use add_loss")
        if sw is None:
            value = fn(y, p)
            value = value.mean() if value.ndim else value
        else:
            per_sample = fn(y, p, reduction="none") if plan.takes_reduction[i] else fn(y, p)
            if per_sample.ndim == 0:
                raise ValueError(f"sample_weight / class_weight need per-sample losses, but the loss of output "
                                 f"'{plan.output_names[i]}' returned one number; let it take reduction='none' "
                                 "or return a value per sample")
            per_sample = per_sample.reshape(per_sample.shape[0], -1).mean(axis=1)
            value = (per_sample * sw).mean()          # Keras: weighted sum over the batch size
        if len(plan.output_names) > 1:
            parts[f"{plan.output_names[i]}_loss"] = value
        total = value * weight if total is None else total + value * weight
    for extra in model.losses:                        # add_loss terms and weight penalties
        extra = extra.mean() if extra.ndim else extra
        total = extra if total is None else total + extra
    if total is None:
        raise ValueError(f"model '{model.name}' has no loss: compile it with loss=..., or add one in the "
                         "model with add_loss(...) (then compile(loss=None) is right)")
    return total, parts


def check_gradients(model, params, where):
    """Raise, before the update, if a gradient is NaN or inf (naming the parameter)."""
    for p in params:
        g = p.grad
        if g is not None and not bool(backend.xp_of(g.data).isfinite(g.data.sum())):
            name = model.parameter_name(p)
            raise FloatingPointError(
                f"{where}: the gradient of parameter '{name}' {tuple(p.shape)} has NaN or inf values; the "
                "weights are those of the last good step. Run the step under `with mg.detect_anomaly():` "
                "to find the op that made it, and check the learning rate and the input scaling")


def watch_frozen_batch_norms(model):
    """Warn once when a batch norm frozen in `model` is trained by another model in between.

    That is a GAN's loop (the discriminator trains on its own, then runs frozen inside the
    combined model), where TF2/Keras 3's rule (a frozen batch norm uses its moving statistics)
    differs from Keras 2's (the batch's statistics), which GAN code like keras-gan relies on.
    A batch norm's update replaces its moving-mean array, so a new array object since this
    model's last step means another model trained the layer. Fine-tuning a frozen base never
    trips it: nothing else trains the base meanwhile.
    """
    from .layers import BatchNormalization, frozen_batch_norm_mode
    if model.__dict__.get("_warned_frozen_bn") or frozen_batch_norm_mode() != "inference":
        return
    # the frozen batch norms are fixed between compile() and the next one (the flags of
    # compile() are in force here): find them once per compile, not at every step
    key = model._compiled_flags                    # a new list at every compile()
    watched = model.__dict__.get("_frozen_bn_watch")
    if watched is None or watched[0] is not key:
        frozen = [m for m in model.modules() if isinstance(m, BatchNormalization) and not m.trainable]
        watched = model._frozen_bn_watch = (key, frozen, {})
    _, frozen, seen = watched
    for m in frozen:
        if m.built:
            last = seen.get(id(m))
            seen[id(m)] = m.moving_mean.data
            if last is not None and last is not m.moving_mean.data:
                model._warned_frozen_bn = True
                warnings.warn(
                    f"BatchNormalization '{m.name}' is frozen in model '{model.name}', but another model "
                    f"trains it between '{model.name}''s steps (a GAN's alternating loop?). Frozen, it "
                    "normalises with its moving statistics here (the TF2 / Keras 3 rule); Keras 2, for "
                    "which GAN code such as keras-gan was written, used the batch's statistics: call "
                    "nn.set_frozen_batch_norm_mode('batch') for that rule", stacklevel=4)
                return


def train_step(model, x, y, sample_weight, where):
    """One optimizer step: ({log name: float}, target tensors, prediction tensors)."""
    x_t = model._as_input_tensors(x)
    with model._as_compiled():
        if not model.built:
            from .graph import per_sample_shapes
            model.build_for(per_sample_shapes(x_t))
        watch_frozen_batch_norms(model)
        params = model._params_to_train()
        for p in model.weights:
            p.grad = None
        pred = model(x_t)
        preds = flat_outputs(pred)
        plan = model._plan_for(len(preds))
        ys = [target_tensor(model, a) for a in as_targets(model, y, len(preds))]
        total, parts = batch_losses(model, plan, ys, preds, sample_weight)
        loss = total.item()
        if not math.isfinite(loss):
            if model._terminate_on_nan:
                return {"loss": loss}, ys, preds
            raise FloatingPointError(
                f"{where}: the loss is {loss}; the weights are those of the last good step. Run the step "
                "under `with mg.detect_anomaly():` to find the op that made it, and check the data, the "
                "learning rate and the input scaling (e.g. pixels in 0..255 into a sigmoid/BCE model)")
        total.backward()
        check_gradients(model, params, where)
        model._optimizer_step(params)
    logs = {"loss": loss}
    logs.update({k: v.item() for k, v in parts.items()})
    return logs, ys, [p.detach() for p in preds]


def test_step(model, x, y, sample_weight):
    x_t = model._as_input_tensors(x)
    with autograd.no_grad():
        preds = flat_outputs(model(x_t))
        plan = model._plan_for(len(preds))
        ys = [target_tensor(model, a) for a in as_targets(model, y, len(preds))]
        total, parts = batch_losses(model, plan, ys, preds, sample_weight)
    logs = {"loss": total.item()}
    logs.update({k: v.item() for k, v in parts.items()})
    return logs, ys, preds


class Running:
    """Epoch averages of the step logs (weighted by batch size) and the metrics' states."""

    def __init__(self, metrics):
        self.metrics = metrics
        self.sums, self.count = {}, 0

    def add(self, logs, ys, preds, sample_weight, n):
        for k, v in logs.items():
            self.sums[k] = self.sums.get(k, 0.0) + v * n
        self.count += n
        for i, _, metric in self.metrics:
            if ys[i] is not None:
                metric.update_state(ys[i], preds[i], sample_weight)

    def values(self) -> dict:
        out = {k: v / max(self.count, 1) for k, v in self.sums.items()}
        out.update({name: metric.result() for _, name, metric in self.metrics})
        return out


def _batch_size_of(x) -> int:
    first = data.leaves(x)[0]
    return len(first) if np.ndim(first) else 1


# ---------------------------------------------------------------------- argument checks

def check_positive_int(what, name, value, allow_none=False):
    if value is None and allow_none:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what}: {name} must be a positive integer, got {value!r}")
    return int(value)


def make_source(what, x, y, sample_weight, batch_size, shuffle, steps, class_weight=None):
    """ArrayBatches for arrays, IterableBatches for a generator or other batch iterable."""
    if data.is_batch_iterable(x):
        if y is not None:
            raise ValueError(f"{what}: y must be None when x is a generator or sequence of batches "
                             "(the batches carry their targets)")
        if class_weight is not None:
            raise ValueError(f"{what}: class_weight with a generator: put the weights in its batches as "
                             "(x, y, sample_weight)")
        return data.IterableBatches(x, steps, what)
    if x is None:
        raise ValueError(f"{what}: x is needed")
    x, y, sample_weight = data.host(x), data.host(y), data.host(sample_weight)
    data.check_finite(what, "x", x)
    data.check_finite(what, "y", y)
    if class_weight is not None:
        targets = data.leaves(y)
        if len(targets) != 1:
            raise ValueError(f"{what}: class_weight needs exactly one target array (one output); "
                             "for several outputs use sample_weight")
        weights = class_weights_to_samples(class_weight, targets[0])
        sample_weight = weights if sample_weight is None else weights * np.asarray(sample_weight).reshape(-1)
    source = data.ArrayBatches(x, y, sample_weight, batch_size, shuffle, what)
    if steps is not None:
        source.steps = min(source.steps, check_positive_int(what, "steps", steps))
    return source


# ---------------------------------------------------------------------- fit / evaluate / predict

def fit(model, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
        validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
        sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
        validation_batch_size=None, validation_freq=1):
    model._require_compiled("fit")
    batch_size = check_positive_int("fit", "batch_size", 32 if batch_size is None else batch_size)
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be an integer >= 0, got {epochs!r}")
    if not 0 <= initial_epoch <= max(epochs, 0):
        raise ValueError(f"fit: initial_epoch must be between 0 and epochs ({epochs}), got {initial_epoch}")
    if not isinstance(validation_split, (int, float)) or not 0 <= validation_split < 1:
        raise ValueError(f"fit: validation_split must be a fraction in [0, 1), got {validation_split!r}")
    validation_freq = check_positive_int("fit", "validation_freq", validation_freq)
    verbose = 1 if verbose == "auto" else int(verbose)
    model._warn_if_trainable_changed()

    if validation_split:
        if data.is_batch_iterable(x):
            raise ValueError("fit: validation_split needs arrays; with a generator give validation_data")
        x, y, sample_weight = data.host(x), data.host(y), data.host(sample_weight)
        n = data.num_samples("fit", x, y, sample_weight)
        cut = int(n * (1 - validation_split))
        if cut == 0 or cut == n:
            raise ValueError(f"fit: validation_split={validation_split} of {n} samples leaves "
                             f"{cut} to train on and {n - cut} to validate; both must be at least 1")
        validation_data = (data.take(x, slice(cut, None)), data.take(y, slice(cut, None)),
                           data.take(sample_weight, slice(cut, None)))
        x, y, sample_weight = data.take(x, slice(0, cut)), data.take(y, slice(0, cut)), \
            data.take(sample_weight, slice(0, cut))
    train = make_source("fit", x, y, sample_weight, batch_size, shuffle, steps_per_epoch, class_weight)
    val = None
    if validation_data is not None:
        if data.is_batch_iterable(validation_data):
            val = data.IterableBatches(validation_data, validation_steps, "fit (validation)")
        else:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("fit: validation_data must be (x_val, y_val), (x_val, y_val, sample_weight) "
                                 "or (x_val, None) for a model trained by add_loss alone")
            vx, vy, vsw = (list(validation_data) + [None])[:3]
            val = make_source("fit (validation)", vx, vy, vsw,
                              check_positive_int("fit", "validation_batch_size", validation_batch_size or batch_size),
                              False, validation_steps)

    history = callbacks_module.History()
    extra = [] if callbacks is None else list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
    standard = [history] + ([callbacks_module.ProgbarLogger(verbose)] if verbose else [])
    hooks = callbacks_module.CallbackList(extra + standard, model,
                                          {"epochs": epochs, "steps": train.steps, "verbose": verbose})
    model._terminate_on_nan = any(isinstance(cb, callbacks_module.TerminateOnNaN) for cb in extra)
    model.stop_training = False
    model.history = history
    hooks.call("on_train_begin", {})
    logs = {}
    with model._mode(True):
        for epoch in range(initial_epoch, epochs):
            hooks.call("on_epoch_begin", epoch, {})
            running = None
            for step, (xb, yb, swb) in enumerate(train.epoch()):
                hooks.call("on_train_batch_begin", step, {})
                step_logs, ys, preds = train_step(model, xb, yb, swb, f"fit, epoch {epoch + 1}, batch {step + 1}")
                if running is None:
                    running = Running(model._plan_for(len(preds)).fresh_metrics())
                running.add(step_logs, ys, preds, swb, _batch_size_of(xb))
                hooks.call("on_train_batch_end", step, running.values())
                if model.stop_training:
                    break
            if running is None:
                raise ValueError(f"fit: epoch {epoch + 1} had no batch to train on")
            logs = running.values()
            if val is not None and (epoch + 1) % validation_freq == 0 and not \
                    (model.stop_training and not math.isfinite(logs.get("loss", 0.0))):
                with model._mode(False):
                    scores = run_evaluation(model, val, hooks)
                logs.update({"val_" + k: v for k, v in scores.items()})
            hooks.call("on_epoch_end", epoch, logs)
            if model.stop_training:
                break
    hooks.call("on_train_end", logs)
    return history


def run_evaluation(model, source, hooks=None) -> dict:
    running = None
    if hooks is not None:
        hooks.call("on_test_begin", {})
    for step, (xb, yb, swb) in enumerate(source.epoch()):
        if hooks is not None:
            hooks.call("on_test_batch_begin", step, {})
        step_logs, ys, preds = test_step(model, xb, yb, swb)
        if running is None:
            running = Running(model._plan_for(len(preds)).fresh_metrics())
        running.add(step_logs, ys, preds, swb, _batch_size_of(xb))
        if hooks is not None:
            hooks.call("on_test_batch_end", step, running.values())
    values = running.values()
    if hooks is not None:
        hooks.call("on_test_end", values)
    return values


def evaluate(model, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
             callbacks=None, return_dict=False):
    from ..training.progress import ProgressBar
    model._require_compiled("evaluate")
    batch_size = check_positive_int("evaluate", "batch_size", 32 if batch_size is None else batch_size)
    verbose = 1 if verbose == "auto" else int(verbose)
    source = make_source("evaluate", x, y, sample_weight, batch_size, False, steps)
    hooks = callbacks_module.CallbackList(list(callbacks or []), model, {"steps": source.steps, "verbose": verbose})
    bar = ProgressBar(source.steps or 0, verbose)

    class _Bar(callbacks_module.Callback):
        def on_test_batch_end(self, batch, logs=None):
            bar.update(batch + 1, logs or {})

    hooks.callbacks.append(_Bar())
    with model._mode(False):
        values = run_evaluation(model, source, hooks)
    bar.close(values)
    if return_dict:
        return values
    ordered = [values[k] for k in model.metrics_names if k in values]
    return ordered[0] if len(ordered) == 1 else ordered


def predict(model, x, batch_size=None, verbose=0, steps=None, callbacks=None):
    from ..training.progress import ProgressBar
    batch_size = check_positive_int("predict", "batch_size", 32 if batch_size is None else batch_size)
    if data.is_batch_iterable(x):
        source = data.IterableBatches(x, steps, "predict")
    else:
        x = data.host(x)
        source = data.ArrayBatches(x, None, None, batch_size, False, "predict")
        if steps is not None:
            source.steps = min(source.steps, check_positive_int("predict", "steps", steps))
    hooks = callbacks_module.CallbackList(list(callbacks or []), model, {"steps": source.steps, "verbose": verbose})
    bar = ProgressBar(source.steps or 0, verbose)
    outputs, structure = [], None
    hooks.call("on_predict_begin", {})
    with model._mode(False), autograd.no_grad():
        for step, (xb, _, _) in enumerate(source.epoch()):
            if step >= (source.steps or math.inf):
                break
            hooks.call("on_predict_batch_begin", step, {})
            pred = model(model._as_input_tensors(xb))
            structure = pred
            outputs.append([t.numpy() for t in flat_outputs(pred)])
            hooks.call("on_predict_batch_end", step, {})
            bar.update(step + 1, {})
    bar.close({})
    hooks.call("on_predict_end", {})
    if not outputs:
        raise ValueError("predict: no batch to predict (x is empty)")
    columns = [np.concatenate(parts) for parts in zip(*outputs)]
    if isinstance(structure, dict):
        return dict(zip(structure.keys(), columns))
    if isinstance(structure, (list, tuple)):
        return columns
    return columns[0]


def on_batch(model, kind, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
    """train_on_batch / test_on_batch: one step on one batch, its loss and metrics."""
    what = f"{kind}_on_batch"
    model._require_compiled(what)
    x, y, sample_weight = data.host(x), data.host(y), data.host(sample_weight)
    data.num_samples(what, x, y, sample_weight)
    if class_weight is not None:
        weights = class_weights_to_samples(class_weight, data.leaves(y)[0])
        sample_weight = weights if sample_weight is None else weights * np.asarray(sample_weight).reshape(-1)
    model._terminate_on_nan = False
    if kind == "train":
        with model._mode(True):
            logs, ys, preds = train_step(model, x, y, sample_weight, what)
    else:
        with model._mode(False):
            logs, ys, preds = test_step(model, x, y, sample_weight)
    running = Running(model._plan_for(len(preds)).fresh_metrics())
    running.add(logs, ys, preds, sample_weight, _batch_size_of(x))
    values = running.values()
    if return_dict:
        return values
    ordered = [values[k] for k in model.metrics_names if k in values]
    return ordered[0] if len(ordered) == 1 else ordered


def warn_trainable_changed(model, changed):
    names = ", ".join(f"'{m.name}'" for m in changed[:5]) + (" ..." if len(changed) > 5 else "")
    warnings.warn(f"fit: the trainable setting of {names} changed since model '{model.name}' was compiled; "
                  "as in Keras, it takes effect at the next compile() (call model.compile(...) again to "
                  "train with the new setting)", stacklevel=4)
