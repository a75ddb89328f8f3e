"""Model: a Module with Keras' training API (compile, fit, evaluate, predict, summary, saving).

    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=5, batch_size=32, validation_data=(x_val, y_val))
    model.evaluate(x_test, y_test)
    probabilities = model.predict(x_test)

One training step, all fit() does per batch, is the loop a learner would write by hand:

    pred = model(x_batch)                    # forward, recording the graph
    loss = loss_fn(y_batch, pred)            # Keras order: targets first
    loss.backward()                          # dloss/dparameter into every .grad
    optimizer.step()                         # update the trainable parameters

Data comes as NumPy arrays (or anything np.asarray takes); each batch moves to the
model's device as it is used. Sequential (sequential.py) is the usual Model; subclass Model
and write forward() for anything else.
"""
from __future__ import annotations

import contextlib

import numpy as np

from .. import autograd, backend
from ..tensor import Tensor
from . import metrics as metrics_module
from . import saving
from .module import Module, format_shape
from .progress import ProgressBar


class History:
    """What fit() returns: history = {"loss": [...], "accuracy": [...], "val_loss": [...], ...}."""

    def __init__(self):
        self.history: dict = {}
        self.epoch: list = []
        self.params: dict = {}

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


def _get_optimizer(optimizer):
    from .. import optim
    if isinstance(optimizer, str):
        return optim.get(optimizer)
    if not hasattr(optimizer, "step") or not hasattr(optimizer, "bind"):
        raise TypeError(f"compile: optimizer must be 'sgd', 'rmsprop', 'adam' or an optimizer "
                        f"instance such as minigrad.optim.Adam(lr=1e-3), got {optimizer!r}")
    return optimizer


def _host(data):
    if data is None:
        return None
    return data.numpy() if isinstance(data, Tensor) else np.asarray(data)


class _Totals:
    """Sample-weighted sums of the loss and metrics over an epoch (Keras' running averages)."""

    def __init__(self, metric_fns):
        self.metric_fns = metric_fns
        self.sums = {"loss": 0.0}
        self.counts = {"loss": 0}

    def add(self, loss: float, y_true: Tensor, y_pred: Tensor) -> None:
        n = y_pred.shape[0] if y_pred.ndim else 1
        self.sums["loss"] += loss * n
        self.counts["loss"] += n
        for name, fn in self.metric_fns:
            total, count = fn(y_true, y_pred)
            self.sums[name] = self.sums.get(name, 0.0) + total
            self.counts[name] = self.counts.get(name, 0) + count

    def values(self) -> dict:
        return {k: self.sums[k] / max(self.counts[k], 1) for k in self.sums}


class Model(Module):
    """A Module that can be compiled and trained with fit(); see the module docstring."""

    optimizer = None
    loss = None
    _metric_fns = ()
    _compiled_flags = None
    _optimizer_bound = False
    _pending_optimizer_state = None
    _bound_optimizer = None
    _user_params = False

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose the optimizer ('sgd', 'rmsprop', 'adam' or an instance), loss and metrics.

        As in Keras, which weights train is fixed here: freezing (layer.trainable = False)
        takes effect for fit()/train_on_batch() of models compiled after it. So a GAN's
        discriminator, compiled while trainable and then frozen inside the combined model,
        still trains in its own train_on_batch().
        """
        from .. import losses
        if loss is None:
            raise ValueError("compile: a loss is needed, e.g. loss='mse' or "
                             "loss='sparse_categorical_crossentropy', or a function loss(y_true, y_pred)")
        optimizer = _get_optimizer(optimizer)
        # An optimizer made with its own parameters, e.g. Adam(model.layers[-1].parameters()),
        # keeps them; otherwise it gets the model's trainable parameters at the first step.
        self._user_params = bool(getattr(optimizer, "params", None)) and optimizer is not self._bound_optimizer
        self.optimizer = optimizer
        self.loss = losses.get(loss)
        self._metric_fns = [metrics_module.get(m, loss) for m in (metrics or [])]
        self._compiled_flags = [(m, m._trainable) for m in self.modules()]
        self._optimizer_bound = False

    @property
    def metrics_names(self) -> list:
        return ["loss"] + [name for name, _ in self._metric_fns]

    def _require_compiled(self, what):
        if self.optimizer is None:
            raise RuntimeError(f"{what}: compile the model first, e.g. "
                               "model.compile(optimizer='adam', loss='mse')")

    @contextlib.contextmanager
    def _as_compiled(self):
        """Trainable flags as they were at compile(), restored afterwards."""
        saved = [(m, m._trainable) for m in self.modules()]
        for m, flag in self._compiled_flags or ():
            m._set_own_trainable(flag)
        try:
            yield
        finally:
            for m, flag in saved:
                m._set_own_trainable(flag)

    def _bind_optimizer(self) -> None:
        """Give the optimizer the trainable parameters, once the model is built."""
        if self._optimizer_bound:
            return
        opt = self.optimizer
        if not self._user_params:
            opt.bind(self.parameters())          # the same parameters again: the state is kept
            self._bound_optimizer = opt
        if self._pending_optimizer_state is not None:
            opt.load_state_dict(self._pending_optimizer_state)
            self._pending_optimizer_state = None
        self._optimizer_bound = True

    # ------------------------------------------------------------------ batches
    def _to_tensor(self, array, target=False) -> Tensor:
        """A host batch as a tensor on the model's device; numbers become the model's float
        type, except integer targets (class labels), which stay integers."""
        array = np.asarray(array)
        cast = array.dtype.kind == "f" or array.dtype.kind == "b" or (not target and array.dtype.kind in "iu")
        return Tensor(array, dtype=self.dtype if cast else None, device=self.device)

    def _train_step(self, x, y):
        """One optimizer step on one batch: (loss as a float, y tensor, predictions)."""
        x_t = self._to_tensor(x)
        with self._as_compiled():
            if not self.built:
                self.build_for(tuple(x_t.shape[1:]))
            self._bind_optimizer()
            y_t = self._to_tensor(y, target=True)
            self.zero_grad()
            pred = self(x_t)
            loss = self.loss(y_t, pred)
            if loss.ndim:
                loss = loss.mean()
            loss.backward()
            self.optimizer.step()
        return loss.item(), y_t, pred.detach()

    def _test_step(self, x, y):
        x_t, y_t = self._to_tensor(x), self._to_tensor(y, target=True)
        with autograd.no_grad():
            pred = self(x_t)
            loss = self.loss(y_t, pred)
        return (loss.mean() if loss.ndim else loss).item(), y_t, pred

    def train_on_batch(self, x, y):
        """One training step on one batch; returns the loss (or [loss, *metrics])."""
        self._require_compiled("train_on_batch")
        with self._mode(True):
            loss, y_t, pred = self._train_step(_host(x), _host(y))
        return self._result(loss, y_t, pred)

    def test_on_batch(self, x, y):
        self._require_compiled("test_on_batch")
        with self._mode(False):
            loss, y_t, pred = self._test_step(_host(x), _host(y))
        return self._result(loss, y_t, pred)

    def predict_on_batch(self, x):
        with self._mode(False), autograd.no_grad():
            return self(self._to_tensor(_host(x))).numpy()

    def _result(self, loss, y_t, pred):
        totals = _Totals(self._metric_fns)
        totals.add(loss, y_t, pred)
        values = list(totals.values().values())
        return values[0] if len(values) == 1 else values

    # ------------------------------------------------------------------ fit / evaluate / predict
    def fit(self, x, y, epochs=1, batch_size=32, validation_data=None, shuffle=True, verbose=1,
            validation_split=0.0, initial_epoch=0):
        """Train for `epochs` passes over (x, y); returns a History.

        shuffle         reorder the samples every epoch with the seeded CPU generator
                        (mg.manual_seed makes runs repeatable)
        validation_data (x_val, y_val), scored after every epoch as val_loss, val_<metric>
        validation_split the fraction of (x, y), taken from the end before shuffling, to use
                        as validation data instead
        verbose         0 silent, 1 a progress bar per epoch, 2 one line per epoch
        """
        self._require_compiled("fit")
        if y is None:
            raise ValueError("fit: targets y are needed (for an autoencoder, fit(x, x))")
        x, y = _host(x), _host(y)
        n = _check_lengths("fit", x, y)
        if validation_split:
            cut = int(n * (1 - validation_split))
            x, y, validation_data = x[:cut], y[:cut], (x[cut:], y[cut:])
            n = cut
        if validation_data is not None:
            x_val, y_val = (_host(a) for a in validation_data[:2])
        history = History()
        history.params = {"epochs": epochs, "steps": -(-n // batch_size), "verbose": verbose}
        with self._mode(True):
            for epoch in range(initial_epoch, epochs):
                if verbose:
                    print(f"Epoch {epoch + 1}/{epochs}")
                order = backend.generator("cpu").permutation(n) if shuffle else None
                bar = ProgressBar(-(-n // batch_size), verbose)
                totals = _Totals(self._metric_fns)
                for step, start in enumerate(range(0, n, batch_size), 1):
                    index = order[start:start + batch_size] if shuffle else slice(start, start + batch_size)
                    loss, y_t, pred = self._train_step(x[index], y[index])
                    totals.add(loss, y_t, pred)
                    bar.update(step, totals.values())
                logs = totals.values()
                if validation_data is not None:
                    with self._mode(False):
                        scores = self._score(x_val, y_val, batch_size)
                    logs.update({"val_" + k: v for k, v in scores.items()})
                bar.close(logs)
                for key, value in logs.items():
                    history.history.setdefault(key, []).append(value)
                history.epoch.append(epoch)
        self.history = history
        return history

    def _score(self, x, y, batch_size, bar=None) -> dict:
        totals = _Totals(self._metric_fns)
        n = _check_lengths("evaluate", x, y)
        for step, start in enumerate(range(0, n, batch_size), 1):
            loss, y_t, pred = self._test_step(x[start:start + batch_size], y[start:start + batch_size])
            totals.add(loss, y_t, pred)
            if bar is not None:
                bar.update(step, totals.values())
        return totals.values()

    def evaluate(self, x, y, batch_size=32, verbose=1):
        """The loss (and metrics) over (x, y) in inference mode: loss, or [loss, *metrics]."""
        self._require_compiled("evaluate")
        x, y = _host(x), _host(y)
        bar = ProgressBar(-(-len(x) // batch_size), verbose)
        with self._mode(False):
            values = self._score(x, y, batch_size, bar)
        bar.close(values)
        values = list(values.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=32, verbose=0):
        """The model's outputs for x, batch by batch in inference mode, as one NumPy array."""
        x = _host(x)
        outputs = []
        bar = ProgressBar(-(-len(x) // batch_size), verbose)
        with self._mode(False), autograd.no_grad():
            for step, start in enumerate(range(0, len(x), batch_size), 1):
                outputs.append(self(self._to_tensor(x[start:start + batch_size])).numpy())
                bar.update(step, {})
        bar.close({})
        return np.concatenate(outputs) if outputs else np.zeros((0,))

    # ------------------------------------------------------------------ summary
    def _summary_rows(self):
        return list(self.children())

    def summary(self, print_fn=None):
        """Print Keras' table: each layer's name (type), output shape and parameter count."""
        print_fn = print_fn or print
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for layer in self._summary_rows():
            shape = format_shape(layer.output_shape) if layer.built and layer.output_shape is not None \
                else "?"
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            rows.append((f"{layer.name} ({type(layer).__name__})", shape, params))
        widths = [max(28, *(len(r[0]) for r in rows)) + 2, max(24, *(len(r[1]) for r in rows)) + 2,
                  max(10, *(len(r[2]) for r in rows))]
        total_width = sum(widths) + 1

        def line(row):
            return (" " + "".join(cell.ljust(w) for cell, w in zip(row, widths))).rstrip()

        weights = self.weights
        trainable = sum(p.size for p in weights if p.trainable)
        total = sum(p.size for p in weights)
        print_fn(f'Model: "{self.name}"')
        print_fn("_" * total_width)
        print_fn(line(rows[0]))
        print_fn("=" * total_width)
        for i, row in enumerate(rows[1:]):
            print_fn(line(row))
            if i < len(rows) - 2:
                print_fn("")
        print_fn("=" * total_width)
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {total - trainable:,}")
        print_fn("_" * total_width)

    # ------------------------------------------------------------------ saving
    def save_weights(self, filepath, include_optimizer=True) -> str:
        """Write the weights (and the optimizer's state) to an .npz file, atomically.

        With the optimizer state, a model rebuilt, compiled and loaded from this file
        continues training exactly where this one stopped. Returns the path written.
        """
        state = None
        if include_optimizer and self.optimizer is not None and self._optimizer_bound:
            state = self.optimizer.state_dict()
        return saving.save(filepath, self, state)

    def load_weights(self, filepath) -> None:
        """Load weights saved by save_weights; the architecture must match (checked, layer by layer).

        A saved optimizer state is loaded too when the model is compiled (now, or later:
        it is kept until the optimizer gets its parameters).
        """
        records = saving.weight_records(self)
        if not records and not self.built:
            raise RuntimeError(f"load_weights: model '{self.name}' has no weights yet; build it first "
                               "(give the first layer input_shape=..., or call it on a batch)")
        weights, names, packed, opt_arrays = saving.load(filepath)
        saving.check_shapes(records, [w.shape for w in weights], f"load_weights: {saving.normalize_path(filepath)}",
                            names)
        for (_, _, p), array in zip(records, weights):
            saving.assign(p, array)
        if packed is not None:
            state = saving.unpack_state(packed, opt_arrays, self.device)
            if self.optimizer is not None and self._optimizer_bound:
                self.optimizer.load_state_dict(state)
            else:
                self._pending_optimizer_state = state


def _check_lengths(what, x, y) -> int:
    n = len(x)
    if y is not None and len(y) != n:
        raise ValueError(f"{what}: x has {n} samples but y has {len(y)}; they must match")
    if n == 0:
        raise ValueError(f"{what}: no samples")
    return n
