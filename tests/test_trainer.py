"""Model = Trainer + Module: fit/evaluate/predict call the model's own steps, which a subclass
overrides as in Keras 3's "customizing what happens in fit"."""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import callbacks, nn, optim
from minigrad.nn import metrics


def _data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32) + 0.3).astype(np.float32)
    return x, y


def _dense_model():
    mg.manual_seed(0)
    return nn.Sequential([nn.Dense(1, input_shape=(3,))])


def test_fit_calls_an_overridden_train_step_once_per_batch():
    calls = []

    class Counting(nn.Model):
        def __init__(self):
            super().__init__()
            self.dense = nn.Dense(1)

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            calls.append(data)
            return super().train_step(data)

    x, y = _data(32)
    model = Counting()
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert len(calls) == 8
    xb, yb = calls[0]
    assert isinstance(xb, mg.Tensor) and isinstance(yb, mg.Tensor) and xb.shape == (8, 3)
    assert len(history.history["loss"]) == 2 and history.history["loss"][1] < history.history["loss"][0]


def test_the_default_train_step_is_the_loop_written_by_hand():
    x, y = _data(16)
    auto, hand = _dense_model(), _dense_model()
    auto.compile(optimizer=optim.SGD(0.1), loss="mse")
    auto.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    opt = optim.SGD(hand.parameters(), lr=0.1)
    loss = mg.losses.mse(mg.tensor(y), hand(mg.tensor(x)))
    loss.backward()
    opt.step()
    for a, b in zip(auto.get_weights(), hand.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_keras_custom_train_step_runs_with_renames_only():
    # Keras 3's guide "Customizing what happens in fit()" (torch backend), renamed:
    # keras -> minigrad.nn, self.zero_grad(), loss.backward(), optimizer.apply(grads, weights)
    class CustomModel(nn.Model):
        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]
            gradients = [v.grad for v in trainable_weights]
            with mg.no_grad():
                self.optimizer.apply(gradients, trainable_weights)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    mg.manual_seed(0)
    inputs = nn.Input(shape=(3,))
    outputs = nn.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x, y = _data(64)
    history = model.fit(x, y, epochs=3, verbose=0)
    assert set(history.history) == {"loss", "mae"}
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_metric_trackers_held_as_attributes_are_reset_each_epoch():
    class Tracked(nn.Model):
        def __init__(self):
            super().__init__()
            self.dense = nn.Dense(1)
            self.seen = metrics.Mean(name="seen")

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            x, y = data
            logs = super().train_step(data)
            self.seen.update_state([1.0], sample_weight=[len(x)])
            return {**logs, "seen": self.seen.count}

    model = Tracked()
    model.compile(optimizer="sgd", loss="mse")
    x, y = _data(32)
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert history.history["seen"] == [32.0, 32.0]            # counted afresh in every epoch
    assert model.seen in model.metrics


def test_gan_style_model_with_its_own_compile_and_two_optimizers():
    class GAN(nn.Model):
        def __init__(self):
            super().__init__()
            self.discriminator = nn.Sequential([nn.Dense(1, activation="sigmoid", input_shape=(2,))])
            self.generator = nn.Sequential([nn.Dense(2, input_shape=(2,))])
            self.d_loss_tracker = metrics.Mean(name="d_loss")
            self.g_loss_tracker = metrics.Mean(name="g_loss")

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

        @property
        def metrics(self):
            return [self.d_loss_tracker, self.g_loss_tracker]

        def train_step(self, real):
            n = real.shape[0]
            fake = self.generator(mg.randn(n, 2))
            images = mg.concat([fake.detach(), real], axis=0)
            labels = mg.tensor(np.concatenate([np.ones((n, 1)), np.zeros((n, 1))]).astype(np.float32))
            self.zero_grad()
            d_loss = self.loss_fn(labels, self.discriminator(images))
            d_loss.backward()
            self.d_optimizer.apply([p.grad for p in self.discriminator.trainable_weights],
                                   self.discriminator.trainable_weights)
            self.zero_grad()
            g_loss = self.loss_fn(mg.zeros(n, 1), self.discriminator(self.generator(mg.randn(n, 2))))
            g_loss.backward()
            self.g_optimizer.apply([p.grad for p in self.generator.trainable_weights],
                                   self.generator.trainable_weights)
            self.d_loss_tracker.update_state(d_loss.item())
            self.g_loss_tracker.update_state(g_loss.item())
            return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    mg.manual_seed(0)
    gan = GAN()
    d_before = gan.discriminator.get_weights()
    gan.compile(optim.Adam(1e-3), optim.Adam(1e-3), mg.losses.binary_crossentropy)
    real = np.random.default_rng(0).normal(3.0, 0.5, size=(64, 2)).astype(np.float32)
    history = gan.fit(real, batch_size=16, epochs=2, verbose=0,
                      callbacks=[callbacks.LambdaCallback(on_epoch_end=lambda e, logs: None)])
    assert set(history.history) == {"d_loss", "g_loss"} and len(history.history["d_loss"]) == 2
    assert all(math.isfinite(v) for v in history.history["g_loss"])
    assert not np.allclose(d_before[0], gan.discriminator.get_weights()[0])


def test_overridden_test_step_and_predict_step_are_called():
    class Doubling(nn.Sequential):
        def predict_step(self, data):
            return self(data, training=False) * 2

        def test_step(self, data):
            x, y = data
            return {"loss": mg.losses.mse(y, self(x, training=False)), "extra": 7.0}

    mg.manual_seed(0)
    model = Doubling([nn.Dense(1, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    x, y = _data(8)
    plain = model(mg.tensor(x)).numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), 2 * plain, rtol=1e-6)
    scores = model.evaluate(x, y, verbose=0, return_dict=True)
    assert scores["extra"] == 7.0
    np.testing.assert_allclose(scores["loss"], float(np.mean((y - plain) ** 2)), rtol=1e-5)


def test_an_overridden_compute_loss_is_what_fit_trains_on():
    class L1(nn.Sequential):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return (y_pred - y).abs().mean()

    mg.manual_seed(0)
    model = L1([nn.Dense(1, input_shape=(3,))])
    model.compile(optimizer=optim.SGD(0.05), loss="mse")
    x, y = _data(32)
    before = float(np.abs(model.predict(x, verbose=0) - y).mean())
    history = model.fit(x, y, epochs=5, verbose=0)
    assert history.history["loss"][0] == pytest.approx(before, rel=0.2)      # logged: the L1 loss
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_large_finite_gradients_are_not_taken_for_nan(dtype):
    # 100 elements of 1e37 (float32) or 1e3 (float16) sum past the largest finite value
    big = 1e37 if dtype == "float32" else 1e3
    p = nn.Parameter(np.zeros(100), dtype=dtype)
    p.grad = mg.tensor(np.full(100, big), dtype=dtype)
    opt = optim.SGD([p], lr=0.0)
    opt.step()                                    # finite elements: no error
    p.grad = mg.tensor(np.r_[np.full(99, 1.0), np.inf], dtype=dtype)
    with pytest.raises(optim.NonFiniteGradient, match=r"gradient of parameter 0 \(shape \(100,\)\)"):
        opt.step()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_fit_names_the_parameter_path_when_a_gradient_is_not_finite():
    class SqrtAtZero(nn.Layer):                  # d sqrt(w)/dw at w = 0 is inf: 0 * inf = NaN
        def build(self, input_shape):
            self.w = self.add_weight(shape=(1,), initializer="zeros", name="w")

        def call(self, x):
            return x + mg.sqrt(self.w) * 0.0

    mg.manual_seed(0)
    model = nn.Sequential([nn.Dense(1, input_shape=(3,)), SqrtAtZero(name="root")])
    model.compile(optimizer="sgd", loss="mse")
    x, y = _data(8)
    before = model.get_weights()
    with pytest.raises(FloatingPointError, match=r"fit, epoch 1, batch 1: .*parameter 'root/w' \(shape \(1,\)\)"):
        model.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)     # stopped before the update


def test_gradient_tape_gives_mg_grad():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    unused = mg.tensor([3.0], requires_grad=True)
    with mg.GradientTape() as tape:
        loss = (w * w).sum()
    gw, gu = tape.gradient(loss, [w, unused])
    np.testing.assert_allclose(gw.numpy(), [2.0, 4.0])
    assert gu is None and w.grad is None
    with pytest.raises(RuntimeError, match="persistent=True"):
        tape.gradient(loss, [w])
