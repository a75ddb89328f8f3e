"""Per-call state is per thread: two models trained in two threads give the numbers they give
one after the other, and defining a model in one thread while another runs one is safe."""
import sys
import threading

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, regularizers


@pytest.fixture
def fast_switching():
    """Switch threads every microsecond, so interleavings that break shared state show at once."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _model(seed):
    mg.manual_seed(seed)
    x = nn.Input((4,))
    h = nn.Dense(8, activation="tanh", activity_regularizer=regularizers.l2(1e-2))(x)   # add_loss per call
    y = nn.Dense(1)(h)
    model = nn.Model(x, y)
    model.compile(optimizer="adam", loss="mse")
    return model


def _data(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    return x, (x.sum(axis=1, keepdims=True) > 0).astype(np.float32)


def _train(model, seed, out):
    x, y = _data(seed)
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    out[seed] = (history.history["loss"], model.get_weights())


def test_two_models_in_two_threads_train_as_one_after_the_other(fast_switching):
    alone = {}
    for seed in (1, 2):
        _train(_model(seed), seed, alone)
    models = {seed: _model(seed) for seed in (1, 2)}
    together = {}
    threads = [threading.Thread(target=_train, args=(models[s], s, together)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in (1, 2):
        assert together[seed][0] == alone[seed][0]
        for a, b in zip(together[seed][1], alone[seed][1]):
            np.testing.assert_array_equal(a, b)


def test_defining_a_model_while_another_thread_runs_one(fast_switching):
    running = _model(3)
    x, _ = _data(3)
    stop, errors = threading.Event(), []

    def predict_forever():
        try:
            while not stop.is_set():
                running.predict(x, verbose=0)
        except Exception as exc:          # noqa: BLE001 - any failure is the test's failure
            errors.append(exc)

    worker = threading.Thread(target=predict_forever)
    worker.start()
    try:
        for _ in range(20):
            inputs = nn.Input((4,))
            outputs = nn.Dense(2)(mg.exp(inputs) * 2.0)
            model = nn.Model(inputs, outputs)
            assert model.output_shape == (2,)
    finally:
        stop.set()
        worker.join()
    assert errors == []
