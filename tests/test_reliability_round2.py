"""Reliability, round two (issue 22): the newer surface under bad input, faults and threads.
Each test failed on main before the fix it names (or checks a clear error that was missing)."""
import csv
import math
import os

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.training import callbacks as cb
from minigrad.training.files import NAME_MAX, atomic_write, remove_stale_temporaries, temporary_name


class _FakeModel:
    """Just enough of a model for a callback: weights, stop_training, an optimizer's lr."""

    def __init__(self):
        self.stop_training = False
        self.weights = [np.zeros(1)]
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [w.copy() for w in weights]

    def save_weights(self, path):
        self.saved.append(path)


def _run_epochs(callback, values, key="val_loss", model=None):
    model = model or _FakeModel()
    callback.set_model(model)
    callback.on_train_begin({})
    for epoch, value in enumerate(values):
        model.weights = [np.array([float(epoch)])]
        callback.on_epoch_end(epoch, {key: value})
        if model.stop_training:
            break
    callback.on_train_end({})
    return model


# ----------------------------------------------------------------------------- 22.1 NaN first value

def test_early_stopping_never_takes_a_nan_first_value_as_best():
    stop = cb.EarlyStopping(patience=2, restore_best_weights=True)
    model = _run_epochs(stop, [float("nan"), 3.0, 2.0, 1.0])
    assert not model.stop_training                    # 3, 2, 1 each improve: no early stop
    assert stop.best == 1.0 and stop.best_epoch == 3
    assert model.weights[0][0] == 3.0                 # the weights of epoch 3, not the NaN epoch


def test_model_checkpoint_best_only_saves_after_a_nan_first_value():
    ckpt = cb.ModelCheckpoint("ckpt-{epoch}.npz", save_best_only=True)
    model = _run_epochs(ckpt, [float("nan"), 2.0, 5.0, 1.0])
    assert model.saved == ["ckpt-2.npz", "ckpt-4.npz"]


def test_a_nan_is_never_an_improvement_in_max_mode():
    ckpt = cb.ModelCheckpoint("c-{epoch}.npz", monitor="val_accuracy", save_best_only=True)
    model = _run_epochs(ckpt, [0.5, float("nan"), 0.7], key="val_accuracy")
    assert model.saved == ["c-1.npz", "c-3.npz"]


# ----------------------------------------------------------------------------- 22.2 CSVLogger append

def test_csv_logger_append_adds_the_new_keys_of_a_later_fit(tmp_path):
    path = tmp_path / "log.csv"
    logger = cb.CSVLogger(path, append=True)
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 1.0})
    logger = cb.CSVLogger(path, append=True)           # a second fit, now with validation
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.7})
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [["epoch", "loss", "val_loss"], ["0", "1.0", "NA"], ["0", "0.5", "0.7"]]


def test_csv_logger_append_onto_a_binary_file_names_the_file(tmp_path):
    path = tmp_path / "weights.npz"
    path.write_bytes(bytes(range(256)) * 4)
    logger = cb.CSVLogger(path, append=True)
    with pytest.raises(ValueError, match=r"CSVLogger\(append=True\): .*weights.npz.* is not a CSV text file"):
        logger.on_train_begin()
    assert path.read_bytes() == bytes(range(256)) * 4       # left as it was


def test_csv_logger_append_onto_a_foreign_csv_is_refused(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2,3\n")
    with pytest.raises(ValueError, match="is not a log this callback wrote"):
        cb.CSVLogger(path, append=True).on_train_begin()


# ----------------------------------------------------------------------------- 22.3 long file names

def test_a_240_character_file_name_can_be_written_atomically(tmp_path):
    path = tmp_path / ("w" * 236 + ".npz")
    assert len(path.name) == 240
    assert len(os.path.basename(temporary_name(str(path)))) <= NAME_MAX
    atomic_write(path, lambda f: f.write(b"abc"))
    assert path.read_bytes() == b"abc"
    assert os.listdir(tmp_path) == [path.name]           # no temporary left behind


def test_stale_temporaries_of_a_long_name_are_still_found(tmp_path):
    path = str(tmp_path / ("x" * 250))
    tmp = temporary_name(path)
    stale = tmp.rsplit("-", 2)[0] + "-999999999-abcd0123"      # a writer (pid) that is gone
    open(stale, "wb").close()
    assert remove_stale_temporaries(path) == [stale]


# ----------------------------------------------------------------------------- ModelCheckpoint, LR schedules

def test_model_checkpoint_naming_val_loss_without_validation_says_so():
    ckpt = cb.ModelCheckpoint("best-{val_loss:.2f}.npz")
    with pytest.raises(KeyError, match=r"names \{val_loss\}.*available: epoch, loss.*validation_data"):
        _run_epochs(ckpt, [1.0], key="loss")


@pytest.mark.parametrize("path", ["runs/", "{folder}"])
def test_model_checkpoint_refuses_a_folder(tmp_path, path):
    path = str(tmp_path) if path == "{folder}" else str(tmp_path) + "/" + path
    with pytest.raises(ValueError, match="names a folder, not a file"):
        cb.ModelCheckpoint(path)


@pytest.mark.parametrize("bad", [None, "0.1", [0.1]])
def test_learning_rate_scheduler_refuses_a_schedule_returning_a_non_number(bad):
    model = nn.Sequential([nn.Dense(1, input_shape=(2,))])
    model.compile("sgd", "mse")
    x, y = np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32)
    with pytest.raises(ValueError, match=r"LearningRateScheduler: the schedule must return a number.*got "
                                         + ("None" if bad is None else r"\S+") + " of type"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[cb.LearningRateScheduler(lambda epoch: bad)])


def test_tensorboard_refuses_options_it_would_ignore():
    with pytest.raises(TypeError, match=r"TensorBoard: histogram_freq=1 .*not supported"):
        cb.TensorBoard("logs", histogram_freq=1)
    with pytest.raises(TypeError, match=r"write_graph=True"):
        cb.TensorBoard("logs", write_graph=True)
    with pytest.raises(TypeError, match=r"made_up=3"):
        cb.TensorBoard("logs", made_up=3)
    cb.TensorBoard("logs", histogram_freq=0, update_freq="epoch")      # Keras' defaults: what it does


# ----------------------------------------------------------------------------- 22.11 training mode per thread

def test_predict_in_another_thread_leaves_fit_in_training_mode():
    """On main, predict()'s inference mode was module state: a fit() running in another thread
    trained on with dropout off while predict ran. Deterministic: fit's forward pass waits until
    predict is inside its own forward pass, reads its mode there, and only then lets predict end."""
    import threading
    fit_inside, predict_inside, fit_read = threading.Event(), threading.Event(), threading.Event()
    armed = threading.Event()                       # set once the model is built: no waiting before
    modes = {"fit": [], "predict": []}

    class Probe(nn.Module):
        def forward(self, x):
            if not armed.is_set():
                return x
            if threading.current_thread().name == "fit":
                if not fit_inside.is_set():
                    fit_inside.set()
                    assert predict_inside.wait(10)
                    modes["fit"].append(self.training)          # read while predict is running
                    fit_read.set()
            else:
                modes["predict"].append(self.training)
                if not predict_inside.is_set():
                    predict_inside.set()
                    assert fit_read.wait(10)
            return x

    probe = Probe()
    model = nn.Sequential([nn.Dense(2, input_shape=(3,)), probe, nn.Dropout(0.5)])
    model.compile("sgd", "mse")
    x, y = np.ones((4, 3), np.float32), np.ones((4, 2), np.float32)
    model.predict(x, verbose=0)                     # built before the threads start
    armed.set()
    errors = []

    def run_fit():
        try:
            model.fit(x, y, epochs=1, batch_size=4, verbose=0)
        except BaseException as exc:        # noqa: BLE001 - reported below
            errors.append(exc)

    worker = threading.Thread(target=run_fit, name="fit")
    worker.start()
    assert fit_inside.wait(10)
    model.predict(x, verbose=0)
    worker.join(10)
    assert not errors
    assert modes["fit"] == [True] and set(modes["predict"]) == {False}
    assert probe.training is True                 # the modules' own mode (train()/eval()) untouched


def test_training_argument_is_per_call_and_train_eval_are_shared():
    dropout = nn.Dropout(0.5)
    x = mg.ones(2, 1000)
    assert (dropout(x, training=False).numpy() == 1).all()
    assert dropout.training                                       # back to its own mode after the call
    dropout.eval()
    assert not dropout.training and (dropout(x).numpy() == 1).all()
    assert (dropout(x, training=True).numpy() != 1).any()


# ----------------------------------------------------------------------------- 22.7 Lambda outputs

def _lambda_model(fn):
    model = nn.Sequential([nn.Input((3,)), nn.Dense(2), nn.Lambda(fn)])
    model.compile("sgd", "mse")
    return model


def test_lambda_returning_numpy_says_it_cuts_the_graph():
    with pytest.raises(TypeError, match=r"Lambda layer .* returned a ndarray.*cuts the graph.*never train"):
        model = _lambda_model(lambda t: t.numpy() * 2)
        model.fit(np.ones((4, 3), np.float32), np.ones((4, 2), np.float32), verbose=0)


def test_lambda_returning_a_python_float_says_so():
    with pytest.raises(TypeError, match=r"Lambda layer .* returned 2.0 of type float, not a tensor"):
        _lambda_model(lambda t: 2.0)


def test_lambda_returning_a_detached_tensor_warns():
    model = nn.Sequential([nn.Dense(2, input_shape=(3,)), nn.Lambda(lambda t: mg.tensor(t.numpy() * 2))])
    with pytest.warns(UserWarning, match=r"does not depend on its input's gradient.*not trained"):
        model(mg.tensor(np.ones((4, 3), np.float32)))


# ----------------------------------------------------------------------------- 22.9 uint8 images

@pytest.mark.parametrize("make", [lambda: nn.RandomRotation(0.2, seed=1), lambda: nn.RandomZoom(0.2, seed=1),
                                  lambda: nn.RandomTranslation(0.2, 0.2, seed=1)])
def test_uint8_images_through_random_affine_layers_come_out_as_float(make, device):
    """Keras 3.15: RandomRotation(0.2)(uint8 images, training=True) is float32 with values up to
    ~250. main returned all zeros as uint64 (the interpolation weights were cast to uint8)."""
    images = (np.random.default_rng(0).random((2, 3, 8, 8)) * 255).astype("uint8")
    out = make()(mg.tensor(images, device=device), training=True)
    assert out.dtype == np.float32
    assert out.numpy().max() > 200
    as_float = make()(mg.tensor(images.astype("float32"), device=device), training=True)
    np.testing.assert_allclose(out.numpy(), as_float.numpy(), rtol=1e-5)


# ----------------------------------------------------------------------------- unclear errors: the data of fit

def _functional():
    i = nn.Input((2,), name="a")
    model = nn.Model(i, nn.Dense(1, name="out")(i))
    model.compile("sgd", "mse")
    return model, np.ones((4, 2), np.float32), np.ones((4, 1), np.float32)


def test_a_single_output_y_dict_with_a_wrong_key_is_refused():
    """Keras 3.15 fails here with "Invalid dtype: str160"; main trained on it silently."""
    model, x, y = _functional()
    with pytest.raises(ValueError, match=r"fit: y names \['wrong'\], but model .* has the output\(s\) \['out'\]"):
        model.fit(x, {"wrong": y}, verbose=0)
    with pytest.raises(ValueError, match=r"evaluate: y names \['wrong'\]"):
        model.evaluate(x, {"wrong": y}, verbose=0)
    model.fit(x, {"out": y}, verbose=0)


def test_an_x_dict_with_an_unknown_key_is_refused():
    """Keras 3.15 warns and drops the extra input; here a typo in an input name is an error."""
    model, x, y = _functional()
    with pytest.raises(ValueError, match=r"fit: x names \['extra'\], which model .* has no input for.*\['a'\]"):
        model.fit({"a": x, "extra": x}, y, verbose=0)
    with pytest.raises(ValueError, match=r"predict: x names \['b'\]"):
        model.predict({"b": x})


def test_nan_in_sample_weight_is_caught_before_training():
    model, x, y = _functional()
    weights = np.array([1.0, np.nan, 1.0, 1.0])
    kernel = model.layers[-1].kernel.numpy().copy()
    with pytest.raises(ValueError, match=r"fit: sample_weight contains nan at index \(1,\)"):
        model.fit(x, y, sample_weight=weights, verbose=0)
    with pytest.raises(ValueError, match=r"train_on_batch: sample_weight contains nan"):
        model.train_on_batch(x, y, sample_weight=weights)
    assert np.array_equal(model.layers[-1].kernel.numpy(), kernel)


def test_x_as_a_list_of_row_tuples_is_data_not_batches():
    model, _, y = _functional()
    rows = [(1.0, 2.0), (3.0, 4.0), (5.0, 6.0), (7.0, 8.0)]
    history = model.fit(rows, y, epochs=1, batch_size=2, verbose=0)
    assert len(history.history["loss"]) == 1
    assert model.predict(rows).shape == (4, 1)
