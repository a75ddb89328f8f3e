"""Callbacks: code that fit() runs at fixed points of training, as in Keras.

    class ShowReconstructions(Callback):
        def on_epoch_end(self, epoch, logs=None):
            images = self.model.predict(x_test[:8])      # self.model is the model being fit
            ...
    model.fit(x, y, epochs=10, callbacks=[ShowReconstructions(), EarlyStopping(patience=3)])

The hooks, in the order fit() calls them:
    on_train_begin(logs)
      on_epoch_begin(epoch, logs)
        on_train_batch_begin(batch, logs) ... on_train_batch_end(batch, logs)   per batch
        on_test_begin / on_test_batch_* / on_test_end                           validation
      on_epoch_end(epoch, logs)     logs: {"loss": ..., "accuracy": ..., "val_loss": ...}
    on_train_end(logs)
evaluate() and predict() call the on_test_* and on_predict_* hooks. Setting
`self.model.stop_training = True` ends fit() after the current batch.

Every file a callback writes (ModelCheckpoint, CSVLogger) is written atomically: it
appears whole or not at all (minigrad/files.py).
"""
from __future__ import annotations

import csv
import io
import math
import os
import warnings

import numpy as np

from .files import atomic_write
from .progress import ProgressBar


class Callback:
    """Base class: every hook does nothing; `self.model` and `self.params` are set by fit()."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass

    # Keras 2's names for the training-batch hooks
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass


class CallbackList:
    """Calls a hook on every callback in order: callbacks.call("on_epoch_end", epoch, logs)."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks: expected minigrad Callback objects, got {cb!r}")
            cb.set_model(model)
            cb.set_params(params)

    def call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)
            if hook in ("on_train_batch_begin", "on_train_batch_end"):
                getattr(cb, hook.replace("train_", ""))(*args)      # Keras 2's on_batch_*


class History(Callback):
    """What fit() returns: history = {"loss": [...], "accuracy": [...], "val_loss": [...], ...}."""

    def __init__(self):
        super().__init__()
        self.history: dict = {}
        self.epoch: list = []

    def on_train_begin(self, logs=None):
        self.epoch = []                 # a new fit() on the same model starts a new record
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


class ProgbarLogger(Callback):
    """The progress bar of fit(): verbose 1 a bar per epoch, 2 one line per epoch."""

    def __init__(self, verbose=1):
        super().__init__()
        self.verbose = verbose
        self._bar = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose:
            print(f"Epoch {epoch + 1}/{self.params.get('epochs')}")
        self._bar = ProgressBar(self.params.get("steps") or 0, self.verbose)

    def on_train_batch_end(self, batch, logs=None):
        if self._bar is not None:
            self._bar.update(batch + 1, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            self._bar.close(logs or {})
            self._bar = None


# ---------------------------------------------------------------------- monitoring a quantity

class _Monitor(Callback):
    """What EarlyStopping, ModelCheckpoint and ReduceLROnPlateau share: a monitored log entry,
    whether lower or higher is better, and what counts as an improvement."""

    def __init__(self, monitor="val_loss", mode="auto", min_delta=0.0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{type(self).__name__}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        if mode == "auto":             # Keras: accuracies, AUC and the like go up; everything else down
            name = monitor.lower()
            mode = "max" if any(k in name for k in ("acc", "auc", "precision", "recall", "f1")) else "min"
        self.mode = mode
        self.min_delta = abs(float(min_delta))

    def _current(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{type(self).__name__}: the monitored '{self.monitor}' is not in the logs "
                          f"(available: {sorted(logs or {})}); did you mean one of those? "
                          "('val_*' needs validation_data)", stacklevel=3)
        return value

    def _start(self):
        """The "best so far" before any epoch: +inf when lower is better, -inf otherwise (as
        Keras 2), so the first finite value improves on it and a NaN never does."""
        return math.inf if self.mode == "min" else -math.inf

    def _improved(self, value, best) -> bool:
        """Whether `value` beats `best` by min_delta. A NaN beats nothing (every comparison with
        NaN is False), so a NaN epoch is never kept as the best."""
        if best is None:
            best = self._start()
        if self.mode == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta


class EarlyStopping(_Monitor):
    """Stop training when `monitor` stops improving for `patience` epochs.

    EarlyStopping(monitor="val_loss", min_delta=0, patience=0, mode="auto", baseline=None,
                  restore_best_weights=False, start_from_epoch=0, verbose=0)
    restore_best_weights=True puts back the weights of the best epoch when training ends —
    also when it ran all its epochs without stopping early (Keras 2 restored them only on an
    early stop, so a run that never stopped kept its last, possibly worse, weights).
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = self.baseline
        self.best_weights = None
        self.best_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        value = self._current(logs)
        if value is None or epoch < self.start_from_epoch:
            return
        if self._improved(value, self.best):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience and epoch > 0:       # Keras' rule
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.verbose and self.stopped_epoch:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Save the model after every epoch (or only when `monitor` improved).

    ModelCheckpoint(filepath, monitor="val_loss", save_best_only=False, save_weights_only=False,
                    mode="auto", verbose=0)
    filepath may hold {epoch} and log entries: "ckpt-{epoch:02d}-{val_loss:.3f}.keras".
    As in Keras, the whole model is saved (model.save: a .keras archive, or Keras 2's .h5; it
    loads with nn.load_model), or with save_weights_only=True its weights (model.save_weights:
    the file's ending picks the format, .weights.h5, .h5, .keras, else minigrad's .npz). Any
    other ending than .keras/.h5 (minigrad's .npz, which holds weights and optimizer state)
    saves the weights, where Keras would refuse the name. Each save is atomic, so a run killed
    mid-save keeps the previous best file whole.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode)
        if save_freq != "epoch":
            raise ValueError("ModelCheckpoint: only save_freq='epoch' is supported")
        self.save_weights_only = bool(save_weights_only)
        self.filepath = os.fspath(filepath)
        _check_not_folder(self.filepath, "ModelCheckpoint: filepath")
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.best = self._start() if initial_value_threshold is None else float(initial_value_threshold)

    def _path(self, epoch, logs) -> str:
        """The file name for this epoch: filepath with {epoch} and the log entries filled in."""
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as exc:
            hint = " ('val_*' entries exist only when fit() is given validation_data or validation_split)" \
                if str(exc.args[0]).startswith("val_") else ""
            raise KeyError(f"ModelCheckpoint: filepath {self.filepath!r} names {{{exc.args[0]}}}, which is not "
                           f"in this epoch's logs (available: epoch, {', '.join(sorted(logs))}){hint}") from None
        _check_not_folder(path, "ModelCheckpoint: the formatted filepath")
        return path

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self._path(epoch, logs)
        if self.save_best_only:
            value = self._current(logs)
            if value is None or not self._improved(value, self.best):
                return
            if self.verbose:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best} to {value}, saving to {path}")
            self.best = value
        whole_model = not self.save_weights_only and path.endswith((".keras", ".h5")) \
            and not path.endswith(".weights.h5")
        (self.model.save if whole_model else self.model.save_weights)(path)


def _check_not_folder(path: str, what: str) -> None:
    """A file path, not a folder: saving to 'runs/' would write a hidden 'runs/.npz'."""
    if path.endswith(("/", os.sep)) or os.path.isdir(path) or not os.path.basename(path).split(".")[0]:
        raise ValueError(f"{what} {path!r} names a folder, not a file; give a file name inside it, "
                         f"e.g. {os.path.join(path, 'weights-{epoch:02d}.npz')!r}")


class CSVLogger(Callback):
    """Write one CSV row per epoch: epoch, then every log entry (the file is rewritten
    atomically each epoch, so it is always a whole CSV)."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = append

    def on_train_begin(self, logs=None):
        self.rows = []
        self.keys = None
        if self.append and os.path.exists(self.filename):
            self.keys, self.rows = self._read_existing()

    def _read_existing(self):
        """(keys, rows) of the CSV file being appended to, or a clear error if it is not one."""
        try:
            with open(self.filename, newline="", encoding="utf-8") as f:
                existing = list(csv.reader(f, delimiter=self.separator))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ValueError(f"CSVLogger(append=True): {self.filename!r} is not a CSV text file ({exc}); "
                             "append only to a log this callback wrote, or give another filename") from None
        if not existing:
            return None, []
        header, rows = existing[0], existing[1:]
        if not header or header[0] != "epoch" or any(len(row) != len(header) for row in rows):
            raise ValueError(f"CSVLogger(append=True): {self.filename!r} is not a log this callback wrote "
                             f"(its header is {header[:4]}..., rows must have {len(header)} fields); "
                             "give another filename or append=False")
        return header[1:], rows

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        new_keys = sorted(k for k in logs if k not in self.keys)
        if new_keys:                 # e.g. val_loss in a later fit: a new column, "NA" in the old rows
            self.keys = list(self.keys) + new_keys
            self.rows = [row + ["NA"] * len(new_keys) for row in self.rows]
        self.rows.append([str(epoch)] + [repr(float(logs[k])) if k in logs else "NA" for k in self.keys])
        text = io.StringIO()
        writer = csv.writer(text, delimiter=self.separator, lineterminator="\n")
        writer.writerow(["epoch"] + list(self.keys))
        writer.writerows(self.rows)
        data = text.getvalue().encode()
        atomic_write(self.filename, lambda f: f.write(data))


class LambdaCallback(Callback):
    """A callback from functions: LambdaCallback(on_epoch_end=lambda epoch, logs: ...), and
    on_epoch_begin, on_batch_begin, on_batch_end, on_train_begin, on_train_end."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_begin=None, on_batch_end=None,
                 on_train_begin=None, on_train_end=None, **more):
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_batch_begin=on_batch_begin, on_train_batch_end=on_batch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end, **more)
        for hook, fn in hooks.items():
            if fn is not None:
                if not hasattr(Callback, hook):
                    raise TypeError(f"LambdaCallback: unknown hook {hook!r}")
                setattr(self, hook, fn)


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch: schedule(epoch, lr) -> new lr."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        try:
            lr = self.schedule(epoch, float(optimizer.lr))
        except TypeError:
            lr = self.schedule(epoch)
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating, np.integer)):
            raise ValueError(f"LearningRateScheduler: the schedule must return a number (the learning rate), "
                             f"got {lr!r} of type {type(lr).__name__} at epoch {epoch}; return e.g. 0.1, "
                             "not a string or None")
        lr = float(lr)
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(f"LearningRateScheduler: the schedule gave learning rate {lr} at epoch {epoch}; "
                             "it must be a finite number >= 0")
        optimizer.lr = lr
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.lr)


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by `factor` when `monitor` has not improved for `patience`
    epochs (then wait `cooldown` epochs), never below min_lr."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta)
        if not 0 < factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor}")
        self.factor, self.patience, self.verbose = float(factor), int(patience), verbose
        self.cooldown, self.min_lr = int(cooldown), float(min_lr)

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cooldown_left = None, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        value = self._current(logs)
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.lr)
        if value is None:
            return
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if self._improved(value, self.best):
            self.best, self.wait = value, 0
            return
        if self.cooldown_left > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            optimizer = self.model.optimizer
            old = float(optimizer.lr)
            new = max(old * self.factor, self.min_lr)
            if new < old:
                optimizer.lr = new
                if self.verbose:
                    print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
            self.cooldown_left, self.wait = self.cooldown, 0


class TerminateOnNaN(Callback):
    """Stop training, keeping the weights of the last good step, when the loss becomes NaN or
    inf. Without it, fit() raises an error at that point instead (minigrad never trains on
    silently through NaN)."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: invalid loss, terminating training")
            self.model.stop_training = True


class TensorBoard(Callback):
    """Write the epoch logs (and, when asked, image grids) as TensorBoard event files.

    TensorBoard(log_dir="logs", images=None)   images: a function model -> (N, H, W) or
    (N, C, H, W) array in [0, 1], drawn each epoch under "images". Scalars go to
    log_dir/train and log_dir/validation as Keras lays them out. Needs the optional
    `tensorboardX` writer (pip install 'minigrad[tensorboard]').
    """

    def __init__(self, log_dir="logs", images=None, **keras_options):
        super().__init__()
        # Keras' other options (histogram_freq, write_graph, write_images, update_freq, ...) are
        # refused by name rather than accepted and ignored; their defaults (write nothing more,
        # once per epoch) are what this callback does anyway
        keras_defaults = {"histogram_freq": 0, "write_graph": False, "write_images": False,
                          "write_steps_per_second": False, "update_freq": "epoch", "profile_batch": 0,
                          "embeddings_freq": 0, "embeddings_metadata": None}
        unsupported = sorted(k for k, v in keras_options.items() if k not in keras_defaults or v != keras_defaults[k])
        if unsupported:
            raise TypeError(f"TensorBoard: {', '.join(f'{k}={keras_options[k]!r}' for k in unsupported)} "
                            "not supported; this callback writes the epoch logs as scalars (and images= "
                            "grids) once per epoch: leave these options out")
        self.log_dir = os.fspath(log_dir)
        self.images = images
        self._writers = {}

    def _writer(self, which):
        if which not in self._writers:
            try:
                from tensorboardX import SummaryWriter
            except ImportError as exc:
                raise ImportError("TensorBoard callback: the 'tensorboardX' package is needed: "
                                  "pip install 'minigrad[tensorboard]'") from exc
            self._writers[which] = SummaryWriter(os.path.join(self.log_dir, which))
        return self._writers[which]

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            which, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            self._writer(which).add_scalar(f"epoch_{name}", float(value), global_step=epoch)
        if self.images is not None:
            batch = np.asarray(self.images(self.model), dtype=np.float32)
            if batch.ndim == 3:
                batch = batch[:, None]
            batch = np.clip(batch, 0, 1).transpose(0, 2, 3, 1)
            self._writer("train").add_images("images", batch, global_step=epoch, dataformats="NHWC")
        for w in self._writers.values():
            w.flush()

    def on_train_end(self, logs=None):
        for w in self._writers.values():
            w.close()
        self._writers = {}
