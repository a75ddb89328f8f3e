"""Trainer: compile(), fit(), evaluate(), predict() — the half of Model that trains it.

Model is Trainer + Module (Keras 3's `Model(Trainer, Layer)`). The loops are the trainer's;
what happens to one batch is a method of the model, which a subclass may override (Keras'
"customizing what happens in fit"):

    train_step(data)     one optimizer step; the loop a learner writes by hand:
                             y_pred = self(x, training=True)                        # forward
                             loss = self.compute_loss(x, y, y_pred, sample_weight)  # + add_loss
                             loss.backward()                                        # gradients
                             self.optimizer.step(self.parameters_to_train())        # update
    test_step(data)      the loss and metrics of one batch, no update
    predict_step(data)   the model's outputs for one batch
    compute_loss(x, y, y_pred, sample_weight)   the compiled loss + model.losses
    compute_metrics(x, y, y_pred, sample_weight) -> logs   updates the compiled metrics

`data` is the batch as fit() was given it: x alone, (x, y) or (x, y, sample_weight), with
arrays made tensors on the model's device (unpack_x_y_sample_weight splits it). The steps
return logs, {name: value}, read from the stateful metrics in `model.metrics`, which the
loops reset at the start of each epoch (and of each evaluate()): the logs after the last
batch are the epoch's averages. A GAN or a VAE with its own train_step is trained by fit()
with callbacks like any other model (examples/vae_train_step.py).

Nothing goes wrong silently: arguments are checked before the first batch, an epoch without
a batch is an error, and a NaN or inf loss (compute_loss) or gradient (the optimizer's
step) stops training before the update, naming the epoch, the batch and the parameter.
"""
from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np

from ..engine import autograd
from ..engine.tensor import Tensor
from ..training import callbacks as callbacks_module
from ..training import losses as losses_module
from ..training import optim
from ..training.progress import ProgressBar
from . import data_adapter as data
from . import metrics as metrics_module
from .compile_utils import CompiledLoss, CompiledMetrics, as_list
from .data_adapter import unpack_x_y_sample_weight
from .layers import BatchNormalization, frozen_batch_norm_mode


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The batch as train_step receives it (Keras' packing): x alone when it has no targets."""
    if y is None and sample_weight is None:
        return x if not isinstance(x, tuple) else (x,)
    return (x, y) if sample_weight is None else (x, y, sample_weight)


# Keras 1/2 spellings: Keras 3 refuses them too; here the error names the Keras 3 spelling, so
# a ported script is fixed in one step and never runs with another meaning.
KERAS2_ARGUMENTS = {
    "nb_epoch": "epochs=",
    "samples_per_epoch": "steps_per_epoch= (it counts batches, not samples: samples // batch_size)",
    "nb_val_samples": "validation_steps= (batches, not samples)",
    "show_accuracy": "metrics=['accuracy'] in compile()",
    "nb_worker": "nothing: leave it out (minigrad reads batches in the calling thread)",
    "pickle_safe": "nothing: leave it out",
}


def _refuse_keras2(where: str, given: dict) -> None:
    for name in given:
        if name in KERAS2_ARGUMENTS:
            raise TypeError(f"{where}({name}=...) is Keras 1/2's spelling, removed in Keras 3: use "
                            f"{KERAS2_ARGUMENTS[name]}")
    if given:
        raise TypeError(f"{where}() got unexpected keyword arguments {sorted(given)}")


def _removed_in_keras3(old: str, fix: str):
    """A Keras 1/2 method name: reading it raises an AttributeError that says what to write
    instead (so hasattr() is False, as for a Keras 3 model)."""
    def refuse(self):
        raise AttributeError(f"{type(self).__name__}.{old}() is Keras 1/2's, removed in Keras 3: {fix}")
    return property(refuse, doc=f"Removed in Keras 3: {fix}")


class Trainer:
    """compile / fit / evaluate / predict and the per-batch steps; see the module docstring."""

    fit_generator = _removed_in_keras3("fit_generator", "model.fit(generator, steps_per_epoch=...) takes "
                                       "generators (steps_per_epoch counts batches; samples_per_epoch counted samples)")
    evaluate_generator = _removed_in_keras3("evaluate_generator", "model.evaluate(generator, steps=...)")
    predict_generator = _removed_in_keras3("predict_generator", "model.predict(generator, steps=...)")
    predict_classes = _removed_in_keras3("predict_classes", "np.argmax(model.predict(x), axis=-1) for softmax "
                                         "outputs, (model.predict(x) > 0.5).astype('int32') for a sigmoid output")
    predict_proba = _removed_in_keras3("predict_proba", "model.predict(x) (it gives the probabilities)")

    optimizer = None
    loss = None
    compiled = False
    stop_training = False
    history = None
    _compile_arguments = None       # (loss, loss_weights, metrics) as given to compile()
    _compiled_loss = None           # CompiledLoss, once the output names are known
    _compiled_metrics = None        # CompiledMetrics, likewise
    _loss_tracker = None            # Mean of the batches' losses, logged as "loss"
    _compiled_trainable = None      # [(module, trainable flag)] at compile()
    _parameters_to_train = None
    _optimizer_has_own_params = False
    _pending_optimizer_state = None
    _warned_trainable = False
    _frozen_batch_norms = None      # (compile flags, frozen BN layers, {id: last moving mean})
    _warned_frozen_batch_norm = False

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=None, jit_compile=None, steps_per_execution=None,
                **unknown):
        """Choose the optimizer ('sgd', 'rmsprop', 'adam' or an instance), the loss(es) and metrics.

        loss       a name, a function loss(y_true, y_pred), a list (one per output) or a dict by
                   output name; None for a model whose loss comes from add_loss alone (or from
                   its own train_step)
        loss_weights, metrics   likewise per output (a flat metrics list applies to every output)
        As in Keras, which weights train is fixed here: freezing (layer.trainable = False)
        takes effect for fit()/train_on_batch() of models compiled after it. So a GAN's
        discriminator, compiled while trainable and then frozen inside the combined model,
        still trains in its own train_on_batch(). One optimizer may serve several models: each
        model's step updates exactly its own trainable parameters.
        run_eagerly / jit_compile are accepted and ignored: minigrad always runs eagerly.
        """
        if unknown:
            raise TypeError(f"compile: unexpected arguments {sorted(unknown)}")
        if weighted_metrics is not None:
            raise TypeError("compile(weighted_metrics=...) is not supported; metrics use sample_weight already")
        if steps_per_execution not in (None, 1, "auto"):
            raise TypeError("compile(steps_per_execution=...) is not supported")
        if not isinstance(optimizer, (str, optim.Optimizer)):
            raise TypeError(f"compile: optimizer must be 'sgd', 'rmsprop', 'adam' or an optimizer "
                            f"instance such as minigrad.optim.Adam(1e-3), got {optimizer!r}")
        optimizer = optim.get(optimizer)
        # An optimizer made with its own parameters, e.g. Adam(model.layers[-1].parameters()),
        # keeps them; otherwise it updates the model's trainable parameters.
        self._optimizer_has_own_params = optimizer.params_given
        self.optimizer = optimizer
        self._compile_arguments = (loss, loss_weights, metrics)
        self.loss = None if isinstance(loss, (list, tuple, dict)) or loss is None else losses_module.get(loss)
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._compiled_loss = self._compiled_metrics = None
        self.compiled = True
        self._compiled_trainable = [(m, m._trainable) for m in self.modules()]
        self._parameters_to_train = None
        self._warned_trainable = False
        names = self._known_output_names()
        if names is not None:
            self._compile_for(names)             # check the loss/metric names now

    def _known_output_names(self):
        """The output names, if known before any data flows (a functional model's); else None."""
        return None

    def _check_data_names(self, what, x=None, y=None) -> None:
        """Dict data must name the model's inputs and outputs: an unknown key is a typo that
        would otherwise be dropped (x) or fed to the wrong output (y), silently."""
        input_names = getattr(self, "_input_keys", None)
        if isinstance(x, dict) and input_names:
            unknown = sorted(set(x) - set(input_names))
            if unknown:
                raise ValueError(f"{what}: x names {unknown}, which model '{self.name}' has no input for; its "
                                 f"inputs are {list(input_names)} (the names of its Input layers)")
        output_names = self._known_output_names()
        if isinstance(y, dict) and output_names:
            unknown = sorted(set(y) - set(output_names))
            if unknown:
                raise ValueError(f"{what}: y names {unknown}, but model '{self.name}' has the output(s) "
                                 f"{list(output_names)}; key the targets by those names (or give y as an array)")

    def _compile_for(self, output_names) -> None:
        """Make the compiled loss and metrics for these outputs (once, or when their number changes)."""
        if self._compiled_loss is None or self._compiled_loss.output_names != list(output_names):
            loss, loss_weights, metrics = self._compile_arguments
            self._compiled_loss = CompiledLoss(loss, loss_weights, output_names)
            self._compiled_metrics = CompiledMetrics(metrics, output_names, self._compiled_loss.losses)

    def _output_names_for(self, n_outputs) -> list:
        names = self.output_names
        if len(names) == n_outputs:
            return names
        return [f"output_{i + 1}" for i in range(n_outputs)] if n_outputs > 1 else ["output"]

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"{what}: compile the model first, e.g. "
                               "model.compile(optimizer='adam', loss='mse')")

    # ------------------------------------------------------------------ the steps (override these)
    def train_step(self, data):
        """One optimizer step on one batch; returns the logs (see the module docstring)."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=True)                            # forward, recording the graph
        loss = self.compute_loss(x, y, y_pred, sample_weight)      # compiled loss + add_loss + penalties
        loss.backward()                                            # dloss/dparameter into every .grad
        self.optimizer.step(self.parameters_to_train())            # update what compile() chose to train
        self._loss_tracker.update_state([loss.item()], sample_weight=[batch_size_of(x)])
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def test_step(self, data):
        """The loss and metrics of one batch in inference mode; returns the logs."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
        self._loss_tracker.update_state([loss.item()], sample_weight=[batch_size_of(x)])
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data):
        """The model's outputs for one batch (the inputs alone; targets, if any, are ignored)."""
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of (y, y_pred), weighted per output and per sample, plus model.losses
        (add_loss terms and weight penalties). In training, a NaN or inf loss raises
        FloatingPointError before any gradient is computed."""
        preds = flat_outputs(y_pred)
        self._compile_for(self._output_names_for(len(preds)))
        ys = [self._target_tensor(t) for t in targets_per_output(y, self._compiled_loss.output_names)]
        total = self._compiled_loss(ys, preds, sample_weight, self)
        for extra in self.losses:
            extra = extra.mean() if extra.ndim else extra
            total = extra if total is None else total + extra
        if total is None:
            raise ValueError(f"model '{self.name}' has no loss: compile it with loss=..., or add one in the "
                             "model with add_loss(...) (then compile(loss=None) is right)")
        if training and not math.isfinite(total.item()):
            raise FloatingPointError(
                f"the loss is {total.item()}; the weights are those of the last good step. Run the step "
                "under `with mg.detect_anomaly():` to find the op that made it, and check the data, the "
                "learning rate and the input scaling (e.g. pixels in 0..255 into a sigmoid/BCE model)")
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        """Update the compiled metrics with this batch; returns every metric's result so far."""
        preds = flat_outputs(y_pred)
        self._compile_for(self._output_names_for(len(preds)))
        ys = [self._target_tensor(t) for t in targets_per_output(y, self._compiled_metrics.output_names)]
        self._compiled_metrics.update_state(ys, [p.detach() for p in preds], sample_weight)
        return self.get_metrics_result()

    @property
    def metrics(self) -> list:
        """The stateful metrics fit() resets each epoch: the loss, each output's loss, the
        compiled metrics, and any Metric the model holds as an attribute (a custom train_step's
        trackers, e.g. self.d_loss_tracker = metrics.Mean(name="d_loss"))."""
        out = [] if self._loss_tracker is None else [self._loss_tracker]
        if self._compiled_loss is not None:
            out += [m for m in self._compiled_loss.metrics if m is not None]
            out.append(self._compiled_metrics)
        out += [v for v in vars(self).values() if isinstance(v, metrics_module.Metric) and v not in out]
        return out

    def reset_metrics(self) -> None:
        for metric in self.metrics:
            metric.reset_state()

    def get_metrics_result(self) -> dict:
        """{name: value} of every metric in self.metrics (a container's results flattened)."""
        logs = {}
        for metric in self.metrics:
            result = metric.result()
            if isinstance(result, dict):
                logs.update(result)
            else:
                logs[metric.name] = result
        return logs

    @property
    def metrics_names(self) -> list:
        if self._compiled_loss is None:
            if self._compile_arguments is None:
                return ["loss"]
            return ["loss"] + [metrics_module.get(m).name for m in as_list(self._compile_arguments[2])]
        return list(self.get_metrics_result())

    # ------------------------------------------------------------------ what a step trains
    def parameters_to_train(self) -> list:
        """The parameters this model's steps update: those trainable at compile() (or the
        optimizer's own, if it was made with them), found once the model is built."""
        if self._parameters_to_train is None:
            if self._optimizer_has_own_params:
                self._parameters_to_train = list(self.optimizer.params)
            else:
                self._parameters_to_train = self.parameters()
                self.optimizer.bind(self._parameters_to_train, given=False)
            if self._pending_optimizer_state is not None:
                self._load_optimizer_state(self._pending_optimizer_state)
                self._pending_optimizer_state = None
        return self._parameters_to_train

    def _optimizer_state(self):
        """The optimizer's state for this model's parameters (an optimizer may serve several)."""
        if self._optimizer_has_own_params:
            return self.optimizer.state_dict()
        return self.optimizer.state_dict(params=self._parameters_to_train)

    def _load_optimizer_state(self, state):
        if self._optimizer_has_own_params:
            self.optimizer.load_state_dict(state)
        else:
            self.optimizer.load_state_dict(state, params=self._parameters_to_train)

    @contextlib.contextmanager
    def _as_compiled(self):
        """Trainable flags as they were at compile(), restored afterwards."""
        saved = [(m, m._trainable) for m in self.modules()]
        for m, flag in self._compiled_trainable or ():
            m._set_own_trainable(flag)
        try:
            yield
        finally:
            for m, flag in saved:
                m._set_own_trainable(flag)

    def parameter_name(self, p) -> str:
        for path, q in self.named_parameters():
            if q is p:
                return path
        return "?"

    # ------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1, **keras2):
        """Train for `epochs` passes over (x, y); returns a History (also model.history).

        x, y            arrays, lists or dicts of arrays (several inputs/outputs), or x a
                        generator of (x, y[, sample_weight]) batches with steps_per_epoch
        y=None          for a model whose loss is all add_loss (fit(x) / fit(x, None))
        shuffle         reorder the samples every epoch with the seeded CPU generator
        validation_data (x_val, y_val[, sample_weight]) or (x_val, None), scored after every
                        epoch as val_loss, val_<metric>; validation_split takes that fraction
                        from the end of (x, y) before shuffling instead
        class_weight    {class: weight}; sample_weight one weight per sample
        callbacks       minigrad.callbacks objects (EarlyStopping, ModelCheckpoint, ...)
        verbose         0 silent, 1 a progress bar per epoch, 2 one line per epoch
        """
        _refuse_keras2("fit", keras2)
        self._require_compiled("fit")
        batch_size = data.check_positive_int("fit", "batch_size", 32 if batch_size is None else batch_size)
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit: epochs must be an integer >= 0, got {epochs!r}")
        if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, (int, np.integer)) \
                or not 0 <= initial_epoch <= max(epochs, 0):
            raise ValueError(f"fit: initial_epoch must be an integer between 0 and epochs ({epochs}), got "
                             f"{initial_epoch!r} (the number of epochs already run, e.g. 5 to go on from epoch 6)")
        if not isinstance(validation_split, (int, float)) or not 0 <= validation_split < 1:
            raise ValueError(f"fit: validation_split must be a fraction in [0, 1), got {validation_split!r}")
        validation_freq = data.check_positive_int("fit", "validation_freq", validation_freq)
        verbose = 1 if verbose == "auto" else int(verbose)
        self._warn_if_trainable_changed()
        self._check_data_names("fit", x, y)
        if isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3):
            self._check_data_names("fit (validation_data)", validation_data[0], validation_data[1])
        y = flat_targets(y)
        if validation_split:
            x, y, sample_weight, validation_data = data.split_validation(x, y, sample_weight, validation_split)
        train = data.make_source("fit", x, y, sample_weight, batch_size, shuffle, steps_per_epoch, class_weight)
        val = None if validation_data is None else data.validation_source(
            validation_data, validation_steps,
            data.check_positive_int("fit", "validation_batch_size", validation_batch_size or batch_size))

        history = callbacks_module.History()
        extra = [] if callbacks is None else list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
        standard = [history] + ([callbacks_module.ProgbarLogger(verbose)] if verbose else [])
        hooks = callbacks_module.CallbackList(extra + standard, self,
                                              {"epochs": epochs, "steps": train.steps, "verbose": verbose})
        terminate_on_nan = any(isinstance(cb, callbacks_module.TerminateOnNaN) for cb in extra)
        self.stop_training = False
        self.history = history
        hooks.call("on_train_begin", {})
        logs = {}
        with self._mode(True):
            for epoch in range(initial_epoch, epochs):
                self.reset_metrics()
                hooks.call("on_epoch_begin", epoch, {})
                logs = None
                for step, (xb, yb, swb) in enumerate(train.epoch()):
                    hooks.call("on_train_batch_begin", step, {})
                    logs = self._train_batch(xb, yb, swb, f"fit, epoch {epoch + 1}, batch {step + 1}",
                                             terminate_on_nan)
                    hooks.call("on_train_batch_end", step, logs)
                    if self.stop_training:
                        break
                if logs is None:
                    raise ValueError(f"fit: epoch {epoch + 1} had no batch to train on")
                if val is not None and (epoch + 1) % validation_freq == 0 and not \
                        (self.stop_training and not math.isfinite(logs.get("loss", 0.0))):
                    with self._mode(False):
                        scores = self._evaluate_source(val, hooks)
                    logs.update({"val_" + k: v for k, v in scores.items()})
                hooks.call("on_epoch_end", epoch, logs)
                if self.stop_training:
                    break
        hooks.call("on_train_end", logs)
        return history

    def _train_batch(self, x, y, sample_weight, where, terminate_on_nan=False) -> dict:
        """Run train_step on one host batch, with compile()'s trainable flags; its logs as floats.
        A NaN/inf loss or gradient raises, naming `where` (or, with TerminateOnNaN, logs NaN)."""
        batch = pack_x_y_sample_weight(self._as_input_tensors(x), self._target_tensors(y), sample_weight)
        with self._as_compiled():
            self._watch_frozen_batch_norms()
            for p in self.weights:
                p.grad = None
            try:
                logs = self.train_step(batch)
            except FloatingPointError as error:
                if not terminate_on_nan:
                    raise FloatingPointError(f"{where}: {self._name_parameter(error)}") from None
                if self._loss_tracker is not None:
                    self._loss_tracker.update_state([math.nan], sample_weight=[batch_size_of(x)])
                logs = self.get_metrics_result()
        return as_floats(logs)

    def _name_parameter(self, error) -> str:
        """The optimizer's message, with the parameter's path in the model ('dense_1/kernel')."""
        p = getattr(error, "parameter", None)
        if p is None:
            return str(error)
        return str(error).replace(error.parameter_label, f"'{self.parameter_name(p)}'", 1)

    # ------------------------------------------------------------------ evaluate / predict
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """The loss (and metrics) over (x, y) in inference mode: loss, [loss, *metrics] or a dict."""
        self._require_compiled("evaluate")
        batch_size = data.check_positive_int("evaluate", "batch_size", 32 if batch_size is None else batch_size)
        verbose = 1 if verbose == "auto" else int(verbose)
        self._check_data_names("evaluate", x, y)
        source = data.make_source("evaluate", x, flat_targets(y), sample_weight, batch_size, False, steps)
        hooks = callbacks_module.CallbackList(list(callbacks or []), self, {"steps": source.steps, "verbose": verbose})
        bar = ProgressBar(source.steps or 0, verbose)
        hooks.callbacks.append(callbacks_module.LambdaCallback(
            on_test_batch_end=lambda batch, logs: bar.update(batch + 1, logs or {})))
        with self._mode(False):
            values = self._evaluate_source(source, hooks)
        bar.close(values)
        return values if return_dict else self._in_metrics_order(values)

    def _evaluate_source(self, source, hooks) -> dict:
        """test_step over every batch of `source`, metrics reset first: the averaged logs."""
        self.reset_metrics()
        hooks.call("on_test_begin", {})
        logs = {}
        for step, (xb, yb, swb) in enumerate(source.epoch()):
            hooks.call("on_test_batch_begin", step, {})
            batch = pack_x_y_sample_weight(self._as_input_tensors(xb), self._target_tensors(yb), swb)
            with autograd.no_grad():
                logs = as_floats(self.test_step(batch))
            hooks.call("on_test_batch_end", step, logs)
        hooks.call("on_test_end", logs)
        return logs

    def _in_metrics_order(self, values):
        """evaluate()'s list: metrics_names' order, then any other logs; one value alone."""
        names = [k for k in self.metrics_names if k in values] + [k for k in values if k not in self.metrics_names]
        ordered = [values[k] for k in names]
        return ordered[0] if len(ordered) == 1 else ordered

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """The model's outputs for x, batch by batch in inference mode, as NumPy arrays
        (a list or dict of them for several outputs)."""
        batch_size = data.check_positive_int("predict", "batch_size", 32 if batch_size is None else batch_size)
        self._check_data_names("predict", x)
        source = data.predict_source(x, batch_size, steps)
        hooks = callbacks_module.CallbackList(list(callbacks or []), self, {"steps": source.steps, "verbose": verbose})
        bar = ProgressBar(source.steps or 0, verbose)
        outputs, structure = [], None
        hooks.call("on_predict_begin", {})
        with self._mode(False), autograd.no_grad():
            for step, (xb, _, _) in enumerate(source.epoch()):
                if step >= (source.steps or math.inf):
                    break
                hooks.call("on_predict_batch_begin", step, {})
                structure = self.predict_step(self._as_input_tensors(xb))
                outputs.append([t.numpy() for t in flat_outputs(structure)])
                hooks.call("on_predict_batch_end", step, {})
                bar.update(step + 1, {})
        bar.close({})
        hooks.call("on_predict_end", {})
        if not outputs:
            raise ValueError("predict: no batch to predict (x is empty)")
        return same_structure(structure, [np.concatenate(parts) for parts in zip(*outputs)])

    # ------------------------------------------------------------------ one batch
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on one batch; returns its loss (or [loss, *metrics])."""
        x, y, sample_weight = self._one_batch("train_on_batch", x, y, sample_weight, class_weight)
        self.reset_metrics()
        with self._mode(True):
            logs = self._train_batch(x, y, sample_weight, "train_on_batch")
        return logs if return_dict else self._in_metrics_order(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) of one batch in inference mode."""
        x, y, sample_weight = self._one_batch("test_on_batch", x, y, sample_weight, None)
        self.reset_metrics()
        batch = pack_x_y_sample_weight(self._as_input_tensors(x), self._target_tensors(y), sample_weight)
        with self._mode(False), autograd.no_grad():
            logs = as_floats(self.test_step(batch))
        return logs if return_dict else self._in_metrics_order(logs)

    def predict_on_batch(self, x):
        """The model's outputs for one batch, as NumPy arrays."""
        with self._mode(False), autograd.no_grad():
            structure = self.predict_step(self._as_input_tensors(data.host(x)))
        return same_structure(structure, [t.numpy() for t in flat_outputs(structure)])

    def _one_batch(self, what, x, y, sample_weight, class_weight):
        self._require_compiled(what)
        self._check_data_names(what, x, y)
        x, y, sample_weight = data.host(x), data.host(flat_targets(y)), data.host(sample_weight)
        data.num_samples(what, x, y, sample_weight)
        data.check_finite(what, "sample_weight", sample_weight)
        if class_weight is not None:
            weights = data.class_weights_to_samples(class_weight, data.leaves(y)[0])
            sample_weight = weights if sample_weight is None else weights * np.asarray(sample_weight).reshape(-1)
        return x, y, sample_weight

    # ------------------------------------------------------------------ tensors of a batch
    def _target_tensor(self, array):
        """A target as a tensor on the model's device: floats in the model's dtype, integer
        class labels kept integer."""
        if array is None or isinstance(array, Tensor):
            return array
        array = np.asarray(array)
        return Tensor(array, dtype=self.dtype if array.dtype.kind in "fb" else None, device=self.device)

    def _target_tensors(self, y):
        if isinstance(y, dict):
            return {k: self._target_tensor(v) for k, v in y.items()}
        if isinstance(y, (list, tuple)):
            return [self._target_tensor(v) for v in y]
        return self._target_tensor(y)

    # ------------------------------------------------------------------ warnings
    def _warn_if_trainable_changed(self):
        if self._warned_trainable or not self._compiled_trainable:
            return
        changed = [m for m, flag in self._compiled_trainable if m._trainable != flag]
        if changed:
            self._warned_trainable = True
            names = ", ".join(f"'{m.name}'" for m in changed[:5]) + (" ..." if len(changed) > 5 else "")
            warnings.warn(f"fit: the trainable setting of {names} changed since model '{self.name}' was "
                          "compiled; as in Keras, it takes effect at the next compile() (call "
                          "model.compile(...) again to train with the new setting)", stacklevel=3)

    def _watch_frozen_batch_norms(self):
        """Warn once when a batch norm frozen in this model is trained by another model in between.

        That is a GAN's loop (the discriminator trains on its own, then runs frozen inside the
        combined model), where TF2/Keras 3's rule (a frozen batch norm uses its moving
        statistics) differs from Keras 2's (the batch's statistics), which GAN code like
        keras-gan relies on. A batch norm's update replaces its moving-mean array, so a new
        array object since this model's last step means another model trained the layer.
        Fine-tuning a frozen base never trips it: nothing else trains the base meanwhile.
        """
        if self._warned_frozen_batch_norm or frozen_batch_norm_mode() != "inference":
            return
        # the frozen batch norms are fixed between compile() and the next one: find them once
        # per compile (a new list of flags at every compile()), not at every step
        watched = self._frozen_batch_norms
        if watched is None or watched[0] is not self._compiled_trainable:
            frozen = [m for m in self.modules() if isinstance(m, BatchNormalization) and not m.trainable]
            watched = self._frozen_batch_norms = (self._compiled_trainable, frozen, {})
        _, frozen, seen = watched
        for m in frozen:
            if m.built:
                last = seen.get(id(m))
                seen[id(m)] = m.moving_mean.data
                if last is not None and last is not m.moving_mean.data:
                    self._warned_frozen_batch_norm = True
                    warnings.warn(
                        f"BatchNormalization '{m.name}' is frozen in model '{self.name}', but another model "
                        f"trains it between '{self.name}''s steps (a GAN's alternating loop?). Frozen, it "
                        "normalises with its moving statistics here (the TF2 / Keras 3 rule); Keras 2, for "
                        "which GAN code such as keras-gan was written, used the batch's statistics: call "
                        "nn.set_frozen_batch_norm_mode('batch') for that rule", stacklevel=5)
                    return


# ---------------------------------------------------------------------- structures of a batch

def flat_outputs(pred) -> list:
    """The output tensors in order, from a tensor or nested lists/tuples/dicts of them."""
    if isinstance(pred, dict):
        return [t for v in pred.values() for t in flat_outputs(v)]
    if isinstance(pred, (list, tuple)):
        return [t for v in pred for t in flat_outputs(v)]
    return [pred]


def flat_targets(y):
    """Nested lists of target arrays (for nested outputs, [y_a, [y_b, y_c]]) as one flat list,
    in the outputs' order; anything else as it is."""
    if isinstance(y, (list, tuple)) and any(isinstance(v, (list, tuple, dict)) for v in y):
        return flat_outputs(y)
    return y


def same_structure(structure, values):
    """`values` (one per output, in flat_outputs' order) in the structure of the model's
    output: nested lists/tuples/dicts as the model made them, or one array."""
    remaining = iter(values)

    def rebuild(part):
        if isinstance(part, dict):
            return {k: rebuild(v) for k, v in part.items()}
        if isinstance(part, (list, tuple)):
            return [rebuild(v) for v in part]
        return next(remaining)

    return rebuild(structure)


def targets_per_output(y, names) -> list:
    """Targets as a list, one per output (a dict is read by output name)."""
    n = len(names)
    if y is None:
        return [None] * n
    if isinstance(y, dict):
        missing = [name for name in names if name not in y]
        if missing and len(y) == n == 1:
            return list(y.values())
        unknown = sorted(set(y) - set(names))
        if unknown:
            raise ValueError(f"targets name {unknown}, but the model's outputs are {names}")
        return [y.get(name) for name in names]
    if isinstance(y, (list, tuple)):
        if n == 1 and len(y) == 1:
            return list(y)
        if len(y) != n and any(isinstance(v, (list, tuple, dict)) for v in y):
            y = flat_outputs(y)                  # nested targets for nested outputs
        if len(y) != n:
            raise ValueError(f"{len(y)} target arrays for {n} output(s) {names}")
        return list(y)
    if n != 1:
        raise ValueError(f"the model has {n} outputs {names}: give y as a list or a dict of arrays")
    return [y]


def batch_size_of(x) -> int:
    """The number of samples in a batch (of its first input)."""
    first = data.leaves(x)[0]
    shape = first.shape if hasattr(first, "shape") else np.shape(first)
    return shape[0] if len(shape) else 1


def as_floats(logs) -> dict:
    """A step's logs as plain floats, nested dicts flattened (Keras' pythonify_logs)."""
    out = {}
    for key, value in logs.items():
        if isinstance(value, dict):
            out.update(as_floats(value))
        else:
            out[key] = float(value.item() if isinstance(value, Tensor) else value)
    return out
