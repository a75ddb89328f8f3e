"""Training as Keras users train (nn/training.py, minigrad/callbacks.py, regularizers.py,
nn/metrics.py, nn/data_format.py): callbacks, regularizers, metrics, generators, sample and
class weights, argument checks, NaN stops, a shared optimizer, channels-last layers."""
import math
import os
import signal
import struct
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import callbacks, nn, regularizers
from minigrad.nn import (BatchNormalization, Conv2D, Conv2DTranspose, Dense, Flatten, Input, MaxPooling2D,
                         Model, Sequential, UpSampling2D, ZeroPadding2D)
from minigrad.nn import metrics

from .conftest import leaf


def _regression(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype(np.float32)


def _model(lr=0.05, **dense):
    model = Sequential([Dense(1, input_shape=(3,), **dense)])
    model.compile(mg.optim.SGD(lr), "mse")
    return model


# ---------------------------------------------------------------------- callbacks

class Scripted(callbacks.Callback):
    """Replaces the monitored value by a scripted sequence, to test monitors exactly."""

    def __init__(self, values, key="val_loss"):
        super().__init__()
        self.values, self.key = list(values), key

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


def test_callback_hooks_run_in_keras_order():
    calls = []

    class Recorder(callbacks.Callback):
        def on_train_begin(self, logs=None): calls.append("train_begin")
        def on_epoch_begin(self, epoch, logs=None): calls.append(f"epoch_begin {epoch}")
        def on_train_batch_end(self, batch, logs=None): calls.append(f"batch_end {batch} {sorted(logs)}")
        def on_test_begin(self, logs=None): calls.append("test_begin")
        def on_epoch_end(self, epoch, logs=None): calls.append(f"epoch_end {epoch} {sorted(logs)}")
        def on_train_end(self, logs=None): calls.append("train_end")

    x, y = _regression(8)
    recorder = Recorder()
    _model().fit(x, y, epochs=2, batch_size=4, validation_data=(x, y), callbacks=[recorder], verbose=0)
    assert calls[0] == "train_begin" and calls[-1] == "train_end"
    assert calls[1:6] == ["epoch_begin 0", "batch_end 0 ['loss']", "batch_end 1 ['loss']", "test_begin",
                          "epoch_end 0 ['loss', 'val_loss']"]
    assert recorder.model is not None and recorder.params["epochs"] == 2


def test_early_stopping_stops_at_the_right_epoch_and_restores_the_best_weights():
    x, y = _regression()
    model = _model()
    seen = []
    remember = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(model.get_weights()))
    script = Scripted([5.0, 3.0, 4.0, 3.5, 3.2, 1.0, 0.5])       # best at epoch 1, then 3 worse
    stop = callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    history = model.fit(x, y, epochs=7, callbacks=[script, remember, stop], validation_data=(x, y), verbose=0)
    assert history.epoch == [0, 1, 2, 3, 4] and stop.stopped_epoch == 4 and stop.best_epoch == 1
    for a, b in zip(model.get_weights(), seen[1]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_restores_even_without_stopping_and_honours_min_delta():
    x, y = _regression()
    model = _model()
    seen = []
    remember = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(model.get_weights()))
    stop = callbacks.EarlyStopping(patience=5, min_delta=0.5, restore_best_weights=True)
    model.fit(x, y, epochs=4, callbacks=[Scripted([3.0, 2.8, 2.6, 1.0]), remember, stop],
              validation_data=(x, y), verbose=0)
    assert stop.stopped_epoch == 0 and stop.best_epoch == 3       # 2.8, 2.6: less than min_delta better
    for a, b in zip(model.get_weights(), seen[3]):
        np.testing.assert_array_equal(a, b)
    acc = callbacks.EarlyStopping(monitor="val_accuracy")
    assert acc.mode == "max"


def test_model_checkpoint_keeps_the_best_file(tmp_path):
    x, y = _regression()
    model = _model()
    path = tmp_path / "best.npz"
    saved = []
    model.fit(x, y, epochs=4, verbose=0, validation_data=(x, y),
              callbacks=[Scripted([3.0, 1.0, 2.0, 4.0]),
                         callbacks.LambdaCallback(on_epoch_end=lambda e, logs: saved.append(model.get_weights())),
                         callbacks.ModelCheckpoint(path, save_best_only=True)])
    fresh = _model()
    fresh.load_weights(path)
    for a, b in zip(fresh.get_weights(), saved[1]):
        np.testing.assert_array_equal(a, b)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "e{epoch:02d}.npz"),
                                                                              monitor="loss")])
    assert sorted(os.listdir(tmp_path)) == ["best.npz", "e01.npz", "e02.npz"]


CHECKPOINT_SCRIPT = """
import sys, numpy as np, minigrad as mg
from minigrad import nn, callbacks
model = nn.Sequential([nn.Dense(2000, input_shape=(2000,))])
model.compile("sgd", "mse")
x = np.zeros((4, 2000), np.float32)
class Slow(callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        print("epoch", epoch, flush=True)
model.fit(x, x, epochs=1000, verbose=0, callbacks=[callbacks.ModelCheckpoint(sys.argv[1], monitor="loss"), Slow()])
"""


def test_model_checkpoint_file_stays_whole_when_killed_mid_save(tmp_path):
    path = tmp_path / "ckpt.npz"
    proc = subprocess.Popen([sys.executable, "-c", CHECKPOINT_SCRIPT, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(3):
            proc.stdout.readline()
        proc.send_signal(signal.SIGKILL)               # mid-training, likely mid-save
        proc.wait(timeout=30)
    finally:
        proc.kill()
    model = nn.Sequential([nn.Dense(2000, input_shape=(2000,))])
    model.load_weights(path)                           # whole: loads without error
    assert model.get_weights()[0].shape == (2000, 2000)


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    x, y = _regression()
    path = tmp_path / "log.csv"
    history = _model().fit(x, y, epochs=3, verbose=0, validation_data=(x, y), callbacks=[callbacks.CSVLogger(path)])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss,val_loss" and len(lines) == 4
    assert float(lines[3].split(",")[1]) == pytest.approx(history.history["loss"][2])


def test_learning_rate_scheduler_and_reduce_on_plateau():
    x, y = _regression()
    model = _model(lr=0.1)
    history = model.fit(x, y, epochs=3, verbose=0,
                        callbacks=[callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])
    model = _model(lr=0.1)
    plateau = callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, min_lr=0.02)
    model.fit(x, y, epochs=6, verbose=0, validation_data=(x, y),
              callbacks=[Scripted([1.0, 1.0, 1.0, 1.0, 1.0, 1.0]), plateau])
    assert model.optimizer.lr == pytest.approx(0.025)      # halved at epochs 2 and 4: 0.1 -> 0.05 -> 0.025


def test_stop_training_is_honoured_after_the_batch():
    x, y = _regression(40)
    model = _model()

    class StopAt(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.stop_training = True

    history = model.fit(x, y, epochs=5, batch_size=4, callbacks=[StopAt()], verbose=0)
    assert history.epoch == [0]


def test_nan_loss_raises_naming_epoch_and_batch_and_keeps_the_weights():
    x, y = _regression()
    model = _model(lr=1e30)
    with pytest.raises(FloatingPointError, match=r"epoch 1, batch 2.*detect_anomaly"):
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    model = _model(lr=1e30)
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[callbacks.TerminateOnNaN()])
    assert len(history.epoch) == 1 and all(np.isfinite(w).all() for w in model.get_weights())


def test_nan_in_the_data_is_refused_before_training():
    x, y = _regression()
    x[3, 1] = np.nan
    model = _model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"x contains nan at index \(3, 1\)"):
        model.fit(x, y, verbose=0)
    np.testing.assert_array_equal(before[0], model.get_weights()[0])


def _event_records(path):
    from tensorboardX.proto import event_pb2
    data = path.read_bytes()
    offset, events = 0, []
    while offset < len(data):
        (length,) = struct.unpack("<Q", data[offset:offset + 8])
        events.append(event_pb2.Event.FromString(data[offset + 12:offset + 12 + length]))
        offset += 12 + length + 4
    return events


def test_tensorboard_writes_scalars_and_images(tmp_path):
    pytest.importorskip("tensorboardX")
    x, y = _regression()
    board = callbacks.TensorBoard(tmp_path, images=lambda model: np.random.default_rng(0).random((2, 4, 4)))
    history = _model().fit(x, y, epochs=2, verbose=0, validation_data=(x, y), callbacks=[board])
    scalars, images = {}, 0
    for folder in ("train", "validation"):
        for name in os.listdir(tmp_path / folder):
            for event in _event_records(tmp_path / folder / name):
                for value in event.summary.value:
                    if value.HasField("image"):
                        images += 1
                    else:
                        scalars.setdefault(f"{folder}/{value.tag}", []).append(value.simple_value)
    assert scalars["train/epoch_loss"] == pytest.approx(history.history["loss"])
    assert scalars["validation/epoch_loss"] == pytest.approx(history.history["val_loss"])
    assert images >= 2


# ---------------------------------------------------------------------- regularizers

def test_l2_penalty_gradient_is_two_lambda_w(device):
    w = leaf(np.random.default_rng(0).normal(size=(3, 4)), device)
    penalty = regularizers.l2(0.01)(w)
    penalty.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * 0.01 * w.numpy(), rtol=1e-12)
    assert penalty.item() == pytest.approx(0.01 * (w.numpy() ** 2).sum())


@settings(max_examples=10, deadline=None)
@given(st.floats(0.0, 0.1), st.floats(0.0, 0.1), st.integers(1, 3), st.integers(1, 3))
def test_l1_l2_penalty_passes_gradcheck(l1, l2, rows, cols):
    rng = np.random.default_rng(rows * 7 + cols)
    w = mg.tensor(rng.uniform(0.2, 1.0, (rows, cols)) * rng.choice([-1, 1], (rows, cols)), requires_grad=True)
    assert mg.gradcheck(regularizers.L1L2(l1, l2), w)


def test_kernel_regularizer_joins_the_loss_and_model_losses():
    x, y = _regression()
    model = Sequential([Dense(4, input_shape=(3,), kernel_regularizer="l2", bias_regularizer=regularizers.l1(0.1),
                              activity_regularizer=regularizers.l2(1e-3)), Dense(1)])
    model.compile("sgd", "mse")
    model(mg.tensor(x))
    kernel, bias = model.layers[0].kernel.numpy(), model.layers[0].bias.numpy()
    values = sorted(t.item() for t in model.losses)
    activity = 1e-3 * ((x @ kernel + bias) ** 2).sum() / len(x)      # divided by the batch size (Keras 3)
    expected = sorted([0.01 * (kernel ** 2).sum(), 0.1 * np.abs(bias).sum(), activity])
    np.testing.assert_allclose(values, expected, rtol=1e-5)
    plain = model.evaluate(x, y, batch_size=40, verbose=0)     # one batch: the activity term as computed
    mse = float(((model.predict(x) - y) ** 2).mean())
    assert plain == pytest.approx(mse + sum(values), rel=1e-4)
    conv = Conv2D(2, 3, kernel_regularizer=regularizers.l1_l2(0.01, 0.01), input_shape=(1, 5, 5))
    Sequential([conv])
    assert len(conv.losses) == 1
    with pytest.raises(ValueError, match="unknown regularizer"):
        Dense(2, kernel_regularizer="l3")


# ---------------------------------------------------------------------- metrics

def test_metric_names_are_kept_as_given():
    x, y = _regression()
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(3,))])
    model.compile("adam", "binary_crossentropy", metrics=["acc", "mae", metrics.binary_accuracy, metrics.AUC()])
    history = model.fit(x, (y > 0).astype(np.float32), epochs=1, validation_data=(x, (y > 0).astype(np.float32)),
                        verbose=0)
    assert set(history.history) == {"loss", "acc", "mae", "binary_accuracy", "auc",
                                    "val_loss", "val_acc", "val_mae", "val_binary_accuracy", "val_auc"}
    assert history.history["acc"] == pytest.approx(history.history["binary_accuracy"])


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 60))
def test_metrics_against_numpy_formulas(seed, n):
    rng = np.random.default_rng(seed)
    probs = rng.random((n, 4))
    probs /= probs.sum(axis=1, keepdims=True)
    labels = rng.integers(0, 4, n)
    y_bin, p_bin = rng.integers(0, 2, (n, 1)).astype(float), rng.random((n, 1))
    np.testing.assert_allclose(metrics.categorical_accuracy(labels, probs), probs.argmax(1) == labels)
    np.testing.assert_allclose(metrics.categorical_accuracy(np.eye(4)[labels], probs), probs.argmax(1) == labels)
    top2 = np.argsort(-probs, axis=1)[:, :2]
    np.testing.assert_allclose(metrics.top_k_categorical_accuracy(labels, probs, k=2), (top2 == labels[:, None]).any(1))
    np.testing.assert_allclose(metrics.binary_accuracy(y_bin, p_bin), ((p_bin > 0.5) == (y_bin > 0.5)).ravel())
    target = rng.normal(size=(n, 3))
    pred = rng.normal(size=(n, 3))
    np.testing.assert_allclose(metrics.mae(target, pred), np.abs(pred - target).mean(1))
    np.testing.assert_allclose(metrics.mse(target, pred), ((pred - target) ** 2).mean(1))
    # stateful metrics over two batches equal the formula on everything at once
    precision, recall, auc = metrics.Precision(), metrics.Recall(), metrics.AUC(num_thresholds=1000)
    cut = n // 2
    for m in (precision, recall, auc):
        m.update_state(y_bin[:cut], p_bin[:cut])
        m.update_state(y_bin[cut:], p_bin[cut:])
    predicted, truth = p_bin.ravel() > 0.5, y_bin.ravel() > 0.5
    tp = (predicted & truth).sum()
    assert precision.result() == pytest.approx(tp / predicted.sum() if predicted.sum() else 0.0)
    assert recall.result() == pytest.approx(tp / truth.sum() if truth.sum() else 0.0)
    # AUC: the trapezoid over (fpr, tpr) at the thresholds, computed here in plain NumPy
    thresholds = np.array([-1e-7] + [(i + 1) / 999 for i in range(998)] + [1 + 1e-7])
    above = p_bin.ravel()[None, :] > thresholds[:, None]
    tpr = (above & truth).sum(1) / max(truth.sum(), 1)
    fpr = (above & ~truth).sum(1) / max((~truth).sum(), 1)
    assert auc.result() == pytest.approx(float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2)), abs=1e-9)


def test_regression_metrics_refuse_mismatched_shapes():
    """(N,) against (N, 1) is one value per sample either way; (N,) labels against (N, 10)
    probabilities is a mistake that Keras turns into a meaningless number: here an error."""
    t = np.arange(5.0)
    np.testing.assert_allclose(metrics.mae(t, t[:, None] + 1), np.ones(5))
    np.testing.assert_allclose(metrics.mse(t[:, None], t - 2), np.full(5, 4.0))
    probs = np.full((5, 10), 0.1)
    with pytest.raises(ValueError, match=r"metric 'mean_absolute_error'.*\(5,\).*\(5, 10\).*accuracy"):
        metrics.mae(t, probs)
    with pytest.raises(ValueError, match="metric 'mean_squared_error'"):
        metrics.mse(t, probs)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 30))
def test_crossentropy_metrics_equal_the_losses(seed, n):
    """The metric names Keras accepts for the cross-entropies: per-sample values whose mean is
    minigrad's loss of the same name (from probabilities)."""
    from minigrad import losses
    rng = np.random.default_rng(seed)
    probs = rng.random((n, 5)) + 0.05
    probs /= probs.sum(axis=1, keepdims=True)
    labels = rng.integers(0, 5, n)
    y_bin, p_bin = rng.integers(0, 2, (n, 3)).astype(float), rng.uniform(0.01, 0.99, (n, 3))
    cases = [("sparse_categorical_crossentropy", labels, probs, -np.log(probs[np.arange(n), labels])),
             ("categorical_crossentropy", np.eye(5)[labels], probs, -np.log(probs[np.arange(n), labels])),
             ("binary_crossentropy", y_bin, p_bin,
              -(y_bin * np.log(p_bin) + (1 - y_bin) * np.log(1 - p_bin)).mean(axis=1))]
    for name, t, p, expected in cases:
        np.testing.assert_allclose(getattr(metrics, name)(t, p), expected, rtol=1e-6)
        loss = getattr(losses, name)(mg.tensor(t), mg.tensor(p)).item()
        assert expected.mean() == pytest.approx(loss, rel=1e-5)
        m = metrics.get(name)
        m.update_state(t, p)
        assert m.result() == pytest.approx(expected.mean(), rel=1e-6) and m.name == name


def test_unknown_metric_is_named():
    with pytest.raises(ValueError, match="unknown metric 'f7'"):
        metrics.get("f7")


# ---------------------------------------------------------------------- data: generators, weights, checks

def test_fit_from_a_generator_with_steps_per_epoch():
    x, y = _regression(64)

    def batches():
        while True:
            for i in range(0, 64, 16):
                yield x[i:i + 16], y[i:i + 16]

    model = _model()
    history = model.fit(batches(), steps_per_epoch=4, epochs=3, validation_data=batches(), validation_steps=2,
                        verbose=0)
    assert len(history.history["loss"]) == 3 and history.history["loss"][-1] < history.history["loss"][0]
    assert model.evaluate(batches(), steps=2, verbose=0) == pytest.approx(history.history["val_loss"][-1], rel=0.5)
    assert model.predict(((xb,) for xb, _ in batches()), steps=2).shape == (32, 1)
    finite = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]     # re-iterable: a pass per epoch
    assert model.fit(finite, epochs=2, verbose=0).history["loss"]
    one_pass = iter(finite)
    with pytest.raises(ValueError, match="no batch this epoch.*steps_per_epoch"):
        model.fit(one_pass, epochs=2, verbose=0)


def test_sample_weight_and_class_weight_weight_the_loss():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3)).astype(np.float32)
    y = np.array([0, 1, 1, 0, 1, 0])
    model = Sequential([Dense(2, activation="softmax", input_shape=(3,))])
    model.compile("sgd", "sparse_categorical_crossentropy")
    p = model.predict(x)
    per_sample = -np.log(p[np.arange(6), y])
    sw = rng.uniform(0.5, 2, 6)
    assert model.evaluate(x, y, sample_weight=sw, verbose=0) == pytest.approx((per_sample * sw).mean(), rel=1e-5)
    weights = {0: 0.25, 1: 3.0}
    loss = model.train_on_batch(x, y, class_weight=weights)
    assert loss == pytest.approx((per_sample * np.array([weights[c] for c in y])).mean(), rel=1e-5)
    with pytest.raises(ValueError, match=r"class_weight has no weight for class\(es\) \[1\]"):
        model.fit(x, y, class_weight={0: 1.0}, verbose=0)


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": -1}, "batch_size must be a positive integer"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"batch_size": 2.5}, "batch_size must be a positive integer"),
    ({"validation_split": 1.0}, r"validation_split must be a fraction in \[0, 1\)"),
    ({"validation_split": -0.5}, r"validation_split must be a fraction in \[0, 1\)"),
    ({"validation_split": 0.99}, "leaves 0 to train on and 40 to validate"),
    ({"epochs": -1}, "epochs must be an integer >= 0"),
])
def test_fit_arguments_are_checked_up_front(kwargs, message):
    x, y = _regression()
    with pytest.raises(ValueError, match=message):
        _model().fit(x, y, verbose=0, **kwargs)


def test_mismatched_lengths_and_empty_data():
    x, y = _regression()
    with pytest.raises(ValueError, match="x has 40, y has 39"):
        _model().fit(x, y[:-1], verbose=0)
    with pytest.raises(ValueError, match="no samples"):
        _model().fit(x[:0], y[:0], verbose=0)


def test_fit_warns_once_when_trainable_changed_since_compile():
    x, y = _regression()
    model = _model()
    model.layers[0].trainable = False
    with pytest.warns(UserWarning, match="takes effect at the next compile"):
        model.fit(x, y, epochs=1, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, y, epochs=1, verbose=0)          # once per compile


def test_integer_inputs_stay_integers_for_layers_that_take_ids():
    class Ids(nn.Module):
        accepts_integer_input = True

        def forward(self, x):
            assert x.dtype.kind == "i"
            return mg.ones(x.shape[0], 1) * x.sum(axis=1, keepdims=True).astype("float32")

    model = Sequential([Ids(), Dense(1)])
    model.compile("sgd", "mse")
    model.fit(np.arange(12).reshape(6, 2), np.ones((6, 1)), epochs=1, verbose=0)
    assert model.predict(np.arange(4).reshape(2, 2)).shape == (2, 1)


# ---------------------------------------------------------------------- one optimizer, two models

def _tiny_gan():
    mg.manual_seed(0)
    d = Sequential([Dense(4, activation="relu", input_shape=(2,)), Dense(1, activation="sigmoid")])
    g = Sequential([Dense(2, input_shape=(3,))])
    return d, g


def test_shared_optimizer_trains_each_model_exactly_on_its_own_parameters():
    d, g = _tiny_gan()
    optimizer = mg.optim.Adam(0.01, 0.5)
    d.compile(loss="binary_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    z = Input((3,))
    d.trainable = False
    combined = Model(z, d(g(z)))
    combined.compile(loss="binary_crossentropy", optimizer=optimizer)
    rng = np.random.default_rng(0)
    real, noise = rng.normal(size=(8, 2)), rng.normal(size=(8, 3))
    ones, zeros = np.ones((8, 1)), np.zeros((8, 1))
    for step in range(3):
        g_before, d_before = g.get_weights(), d.get_weights()
        d_loss = d.train_on_batch(real, ones)
        assert len(d_loss) == 2                                           # [loss, accuracy]
        for a, b in zip(g_before, g.get_weights()):
            np.testing.assert_array_equal(a, b)                           # D's step leaves G alone
        assert any((a != b).any() for a, b in zip(d_before, d.get_weights()))
        d_mid = d.get_weights()
        combined.train_on_batch(noise, ones)
        for a, b in zip(d_mid, d.get_weights()):
            np.testing.assert_array_equal(a, b)                           # G's step leaves D alone
        assert any((a != b).any() for a, b in zip(g_before, g.get_weights()))
    # the same as two separate optimizers
    d2, g2 = _tiny_gan()
    d2.compile(loss="binary_crossentropy", optimizer=mg.optim.Adam(0.01, 0.5))
    z2 = Input((3,))
    d2.trainable = False
    combined2 = Model(z2, d2(g2(z2)))
    combined2.compile(loss="binary_crossentropy", optimizer=mg.optim.Adam(0.01, 0.5))
    for step in range(3):
        d2.train_on_batch(real, ones)
        combined2.train_on_batch(noise, ones)
    for a, b in zip(g.get_weights() + d.get_weights(), g2.get_weights() + d2.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_keras_positional_optimizer_arguments():
    opt = mg.optim.Adam(0.0002, 0.5)
    assert opt.lr == pytest.approx(0.0002) and opt.beta_1 == 0.5
    with pytest.raises(ValueError):
        mg.optim.Adam(Sequential([Dense(2)]).parameters())


# ---------------------------------------------------------------------- channels-last, Keras 3 names

def _layer_pairs():
    return [
        lambda f: Conv2D(3, 3, strides=2, padding="same", data_format=f),
        lambda f: Conv2DTranspose(2, 3, strides=2, padding="same", data_format=f),
        lambda f: MaxPooling2D(2, data_format=f),
        lambda f: UpSampling2D(2, data_format=f),
        lambda f: ZeroPadding2D(((0, 1), (1, 0)), data_format=f),
    ]


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 4), st.integers(1, 3), st.integers(4, 6), st.integers(0, 10_000))
def test_channels_last_matches_channels_first(which, channels, size, seed):
    make = _layer_pairs()[which]
    first, last = make("channels_first"), make("channels_last")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, channels, size, size + 1))
    out_first = first(mg.tensor(x, requires_grad=False))
    last.build_for((size, size + 1, channels))
    for p, q in zip(first.weights, last.weights):
        q.data = p.data.copy()
    xf = mg.tensor(x, requires_grad=True)
    xl = mg.tensor(x.transpose(0, 2, 3, 1).copy(), requires_grad=True)
    out_first, out_last = first(xf), last(xl)
    np.testing.assert_allclose(out_last.numpy(), out_first.numpy().transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-6)
    weights = rng.normal(size=out_first.shape)
    (out_first * mg.tensor(weights)).sum().backward()
    (out_last * mg.tensor(weights.transpose(0, 2, 3, 1))).sum().backward()
    np.testing.assert_allclose(xl.grad.numpy(), xf.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-6)
    for p, q in zip(first.weights, last.weights):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert last.compute_output_shape if True else None


def test_global_channels_last_runs_the_lessons_shapes():
    nn.set_image_data_format("channels_last")
    try:
        model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(28, 28, 1)), MaxPooling2D(),
                            BatchNormalization(), Flatten(), Dense(10, activation="softmax")])
        assert model.layers[0].output_shape == (26, 26, 4) and model.layers[2].input_shape == (13, 13, 4)
        assert model.layers[2].gamma.shape == (4,)
        out = model.predict(np.zeros((2, 28, 28, 1), np.float32))
        assert out.shape == (2, 10)
    finally:
        nn.set_image_data_format("channels_first")
    assert nn.image_data_format() == "channels_first"
    with pytest.raises(ValueError, match="channels_first' or 'channels_last"):
        nn.set_image_data_format("nhwc")


def test_layout_mixups_are_pointed_out():
    with pytest.warns(UserWarning, match="looks like a channels-last image"), \
            pytest.raises(ValueError, match="does not fit an input of 28x1"):
        Sequential([Conv2D(4, 3, input_shape=(28, 28, 1))])
    with pytest.warns(UserWarning, match="Reshape\\(\\(7, 7, 128\\)\\) looks like a channels-last image"):
        nn.Reshape((7, 7, 128))


def test_keras_3_argument_names():
    assert nn.LeakyReLU(negative_slope=0.1).alpha == 0.1 and nn.LeakyReLU(alpha=0.2).alpha == 0.2
    assert Sequential([Dense(2, input_dim=5)]).input_shape == (5,)
    bn = BatchNormalization(axis=-1)
    Sequential([bn], name="bn").build_for((3, 4))
    assert bn.gamma.shape == (4,)
    with pytest.raises(TypeError, match="momentum=0.8"):
        BatchNormalization(0.8)
    with pytest.raises(ValueError, match="units must be a positive integer"):
        Dense(2.5)
    with pytest.raises(ValueError, match="strides must be positive"):
        Conv2D(2, 3, strides=0)
    assert math.isfinite(_model().evaluate(*_regression(), verbose=0))


# ---------------------------------------------------------------------- a frozen batch norm in a GAN's loop

@pytest.fixture
def frozen_mode():
    """Restore the frozen-batch-norm rule after the test."""
    from minigrad.nn import layers
    before = layers.frozen_batch_norm_mode()
    yield layers.set_frozen_batch_norm_mode
    layers.set_frozen_batch_norm_mode(before)


def _gan_pair():
    """keras-gan's wiring in miniature: D compiled, frozen, then the combined model compiled
    with the same optimizer. G's output has mean 5, D's batch norm starts at mean 0."""
    mg.manual_seed(0)
    D = nn.Sequential([Dense(4, input_shape=(3,)), BatchNormalization(momentum=0.8), Dense(1, activation="sigmoid")])
    opt = mg.optim.Adam(0.001, 0.5)
    D.compile(loss="binary_crossentropy", optimizer=opt)
    G = nn.Sequential([Dense(3, input_shape=(2,))])
    D.trainable = False
    z = Input((2,))
    combined = nn.Model(z, D(G(z)))
    combined.compile(loss="binary_crossentropy", optimizer=opt)
    return D, G, combined


def _alternate(D, combined, steps=3):
    rng = np.random.default_rng(0)
    for _ in range(steps):
        D.train_on_batch(rng.normal(5, 2, (8, 3)), np.ones((8, 1)))
        combined.train_on_batch(rng.normal(size=(8, 2)), np.ones((8, 1)))


def test_frozen_batch_norm_in_a_gan_loop_warns_once_by_default(frozen_mode):
    D, G, combined = _gan_pair()
    bn = D.layers[1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _alternate(D, combined)
    messages = [str(w.message) for w in caught if "set_frozen_batch_norm_mode" in str(w.message)]
    assert len(messages) == 1 and f"'{bn.name}'" in messages[0] and "Keras 2" in messages[0]
    # the rule itself (TF2 / Keras 3): in the combined step the layer uses its moving statistics
    mean = bn.moving_mean.numpy().copy()
    combined.train_on_batch(np.zeros((8, 2)), np.ones((8, 1)))
    np.testing.assert_array_equal(bn.moving_mean.numpy(), mean)


def test_frozen_batch_norm_mode_batch_is_keras_2s_rule(frozen_mode):
    frozen_mode("batch")
    D, G, combined = _gan_pair()
    bn = D.layers[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # the loop is what this rule is for: no warning
        _alternate(D, combined)
    # D's own step still trains the layer's moving statistics (D was compiled unfrozen) ...
    before = bn.moving_mean.numpy().copy()
    D.train_on_batch(np.full((8, 3), 5.0) + np.arange(8)[:, None], np.ones((8, 1)))
    assert not np.allclose(bn.moving_mean.numpy(), before)
    # ... while in the combined step it normalises with the batch's statistics and keeps them
    kept_mean, kept_var = bn.moving_mean.numpy().copy(), bn.moving_variance.numpy().copy()
    z = np.random.default_rng(1).normal(size=(8, 2)).astype(np.float32)
    h = D.layers[0](G(mg.tensor(z))).numpy().astype(np.float64)     # what the batch norm sees
    gamma, beta = bn.gamma.numpy(), bn.beta.numpy()

    def bce_after(mean, var):
        a = (h - mean) / np.sqrt(var + bn.epsilon) * gamma + beta
        p = 1 / (1 + np.exp(-(a @ D.layers[2].kernel.numpy() + D.layers[2].bias.numpy())))
        return float(-np.log(p).mean())
    with_batch = bce_after(h.mean(axis=0), h.var(axis=0))
    with_moving = bce_after(kept_mean, kept_var)
    loss = combined.train_on_batch(z, np.ones((8, 1)))
    assert loss == pytest.approx(with_batch, rel=1e-5) and abs(with_batch - with_moving) > 1e-2
    np.testing.assert_array_equal(bn.moving_mean.numpy(), kept_mean)
    np.testing.assert_array_equal(bn.moving_variance.numpy(), kept_var)


def test_fine_tuning_a_frozen_base_does_not_warn(frozen_mode):
    mg.manual_seed(0)
    base = nn.Sequential([Dense(4, input_shape=(3,)), BatchNormalization()])
    base.compile(loss="mse", optimizer="adam")
    x = np.random.default_rng(0).normal(size=(32, 3))
    base.fit(x, np.zeros((32, 4)), epochs=2, batch_size=8, verbose=0)
    base.trainable = False
    inp = Input((3,))
    model = nn.Model(inp, Dense(1)(base(inp)))
    model.compile(loss="mse", optimizer="adam")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, np.zeros((32, 1)), epochs=2, batch_size=8, verbose=0)


def test_set_frozen_batch_norm_mode_checks(frozen_mode):
    with pytest.raises(ValueError, match="'inference'.*'batch'.*got 'train'"):
        frozen_mode("train")
