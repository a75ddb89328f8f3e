"""models/dcgan.py and models/classifier.py: keras-gan's sizes, whole-model gradient checks on
tiny float64 copies of the architecture, the frozen discriminator in the generator step, and
the scores of the digit classifier.

The gradient checks hand every trainable weight to mg.gradcheck as an input (the model's own
weights are swapped for gradcheck's tensors during each call), so the check covers the
backward of the whole model: input and every weight. Dropout runs with a fixed mask (the
seed is reset before each forward pass), so the function being checked is deterministic.
"""
import contextlib

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.nn import (Activation, BatchNormalization, Conv2D, Conv2DTranspose, Dense, Dropout,
                         LeakyReLU)
from models.classifier import build_classifier, load_or_train, score_samples
from models.dcgan import (DCGAN, KERAS_GAN_DISCRIMINATOR_PARAMS, KERAS_GAN_GENERATOR_PARAMS,
                          build_discriminator, build_generator, build_transpose_generator,
                          frozen_weights)

# ---------------------------------------------------------------------- helpers


def trainable_slots(model):
    """(module, attribute) of every trainable weight, in a fixed order."""
    return [(m, name) for m in model.modules() for name, p in m.own_parameters() if p.trainable]


@contextlib.contextmanager
def weights_replaced(slots, tensors):
    """The model computes with `tensors` in place of its weights, then gets its own back."""
    saved = [getattr(m, name) for m, name in slots]
    for (m, name), t in zip(slots, tensors):
        setattr(m, name, t)
    try:
        yield
    finally:
        for (m, name), p in zip(slots, saved):
            setattr(m, name, p)


def weight_inputs(slots):
    """Copies of the weights as float64 leaves for gradcheck."""
    return [mg.tensor(getattr(m, name).numpy(), dtype="float64", requires_grad=True) for m, name in slots]


def kink_distance(model, x, seed=None):
    """How close any input of a relu / LeakyReLU comes to the kink at 0, running `model` on x
    layer by layer in training mode (with the dropout masks fn draws after mg.manual_seed(seed)).

    Finite differences straddling a kink measure the mean of the two one-sided slopes, so a
    gradient check there fails however right backward is; such examples are discarded, as
    minigrad's own op tests do with testing.elements(avoid=...)."""
    if seed is not None:
        mg.manual_seed(seed)
    distance = np.inf
    x = x if isinstance(x, mg.Tensor) else mg.tensor(x)
    with mg.no_grad():
        for layer in model.layers:
            if isinstance(layer, Dense) and layer.activation is not None and \
                    getattr(layer.activation, "__name__", "") == "relu":
                pre = x.numpy() @ layer.kernel.numpy() + layer.bias.numpy()
                distance = min(distance, np.abs(pre).min())
            if isinstance(layer, LeakyReLU) or (isinstance(layer, Activation) and
                                                getattr(layer.activation, "__name__", "") == "relu"):
                distance = min(distance, np.abs(x.numpy()).min())
            x = layer(x, training=True)
    return distance, x


KINK_MARGIN = 1e-4


def check(fn, *inputs):
    """Central differences for the (small) first input, random directions for the weights."""
    first, weights = inputs[0], inputs[1:]
    mg.gradcheck(lambda x: fn(x, *weights), first, method="central")
    for i in range(len(weights)):
        def along_weight(w, i=i):
            return fn(first, *weights[:i], w, *weights[i + 1:])
        mg.gradcheck(along_weight, weights[i], method="random-direction", n_directions=3, seed=i)


@st.composite
def tiny_gans(draw):
    """A tiny float64 DCGAN of keras-gan's architecture, and a batch size and seed."""
    side = draw(st.sampled_from([4, 8]))
    config = dict(
        latent_dim=draw(st.integers(1, 4)),
        img_shape=(draw(st.integers(1, 2)), side, draw(st.sampled_from([4, 8]))),
        generator=draw(st.sampled_from(["upsampling", "transpose"])),
        generator_channels=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        discriminator_channels=tuple(draw(st.integers(1, 3)) for _ in range(4)),
    )
    return config, draw(st.integers(2, 3)), draw(st.integers(0, 2**16))


def tiny_gan(config, seed):
    """Built, then every weight moved off its initial value: with zero biases, a generator's
    dead-relu regions come out exactly 0, and the discriminator's first conv maps them to
    exactly 0 as well, the kink of its LeakyReLU, where finite differences cannot agree
    with either one-sided derivative. Trained weights are never that special."""
    mg.manual_seed(seed)
    gan = DCGAN(**config, seed=seed, dtype="float64")
    rng = np.random.default_rng(seed + 1)
    for p in gan.generator.parameters() + gan.discriminator.parameters():
        p.data = p.data + rng.normal(0.0, 0.1, p.shape)
    return gan


# ---------------------------------------------------------------------- keras-gan's sizes

def conv_params(c_in, c_out, k=3):
    return c_out * c_in * k * k + c_out


def test_default_sizes_match_keras_gan_summary():
    # From the layer list: trainable weights, and batch norm's 2 moving statistics per channel.
    generator_trainable = ((100 * 128 * 7 * 7 + 128 * 7 * 7) + conv_params(128, 128) + 2 * 128
                           + conv_params(128, 64) + 2 * 64 + conv_params(64, 1))
    generator_moving = 2 * (128 + 64)
    discriminator_trainable = (conv_params(1, 32) + conv_params(32, 64) + 2 * 64 + conv_params(64, 128)
                               + 2 * 128 + conv_params(128, 256) + 2 * 256 + (256 * 4 * 4 + 1))
    discriminator_moving = 2 * (64 + 128 + 256)
    assert (generator_trainable + generator_moving, generator_trainable, generator_moving) \
        == KERAS_GAN_GENERATOR_PARAMS == (856_193, 855_809, 384)
    assert (discriminator_trainable + discriminator_moving, discriminator_trainable, discriminator_moving) \
        == KERAS_GAN_DISCRIMINATOR_PARAMS == (393_729, 392_833, 896)

    for model, expected in ((build_generator(), KERAS_GAN_GENERATOR_PARAMS),
                            (build_discriminator(), KERAS_GAN_DISCRIMINATOR_PARAMS)):
        weights = model.weights
        counted = (sum(p.size for p in weights), sum(p.size for p in weights if p.trainable),
                   sum(p.size for p in weights if not p.trainable))
        assert counted == expected
        lines = []
        model.summary(print_fn=lines.append)
        text = "\n".join(lines)
        assert f"Total params: {expected[0]:,}" in text
        assert f"Trainable params: {expected[1]:,}" in text
        assert f"Non-trainable params: {expected[2]:,}" in text


def test_default_layer_list_and_shapes():
    g, d = build_generator(), build_discriminator()
    assert g.output_shape == (1, 28, 28) and d.output_shape == (1,)
    assert [type(layer).__name__ for layer in g.layers] == [
        "Dense", "Reshape", "UpSampling2D", "Conv2D", "BatchNormalization", "Activation",
        "UpSampling2D", "Conv2D", "BatchNormalization", "Activation", "Conv2D", "Activation"]
    assert [type(layer).__name__ for layer in d.layers] == [
        "Conv2D", "LeakyReLU", "Dropout", "Conv2D", "ZeroPadding2D", "BatchNormalization", "LeakyReLU",
        "Dropout", "Conv2D", "BatchNormalization", "LeakyReLU", "Dropout", "Conv2D",
        "BatchNormalization", "LeakyReLU", "Dropout", "Flatten", "Dense"]
    assert [layer.output_shape for layer in d.layers[:5]] == [
        (32, 14, 14), (32, 14, 14), (32, 14, 14), (64, 7, 7), (64, 8, 8)]
    assert all(bn.momentum == 0.8 and bn.epsilon == 1e-3
               for m in (g, d) for bn in m.layers if isinstance(bn, BatchNormalization))
    assert all(layer.rate == 0.25 for layer in d.layers if isinstance(layer, Dropout))
    assert {layer.alpha for layer in d.layers if type(layer).__name__ == "LeakyReLU"} == {0.2}
    assert [layer.strides for layer in d.layers if isinstance(layer, Conv2D)] == [(2, 2), (2, 2), (2, 2), (1, 1)]
    t = build_transpose_generator()
    assert t.output_shape == (1, 28, 28)
    assert sum(isinstance(layer, Conv2DTranspose) for layer in t.layers) == 2


def test_optimizers_are_keras_gan_adam():
    gan = DCGAN(latent_dim=2, img_shape=(1, 4, 4), generator_channels=(1, 1),
                discriminator_channels=(1, 1, 1, 1))
    for opt in (gan.g_optimizer, gan.discriminator.optimizer):
        assert (opt.lr, opt.beta_1, opt.beta_2, opt.eps) == (2e-4, 0.5, 0.999, 1e-7)


# ---------------------------------------------------------------------- gradient checks

@given(tiny_gans())
def test_generator_gradients(case):
    config, n, seed = case
    gan = tiny_gan(config, seed)
    slots = trainable_slots(gan.generator)
    z = mg.tensor(np.random.default_rng(seed).standard_normal((n, gan.latent_dim)), requires_grad=True)
    assume(kink_distance(gan.generator, z)[0] > KINK_MARGIN)

    def fn(z, *weights):
        with weights_replaced(slots, weights):
            return gan.generator(z, training=True)
    check(fn, z, *weight_inputs(slots))


@given(tiny_gans())
def test_discriminator_gradients(case):
    config, n, seed = case
    gan = tiny_gan(config, seed)
    slots = trainable_slots(gan.discriminator)
    x = mg.tensor(np.random.default_rng(seed).uniform(-1, 1, (n,) + gan.img_shape), requires_grad=True)
    assume(kink_distance(gan.discriminator, x, seed)[0] > KINK_MARGIN)

    def fn(x, *weights):
        mg.manual_seed(seed)                       # the same dropout mask in every evaluation
        with weights_replaced(slots, weights):
            return gan.discriminator(x, training=True)
    check(fn, x, *weight_inputs(slots))


@given(tiny_gans())
def test_generator_through_frozen_discriminator_gradients(case):
    config, n, seed = case
    gan = tiny_gan(config, seed)
    slots = trainable_slots(gan.generator)
    z = mg.tensor(np.random.default_rng(seed).standard_normal((n, gan.latent_dim)), requires_grad=True)
    mg.manual_seed(seed)
    g_distance, fake = kink_distance(gan.generator, z)
    assume(min(g_distance, kink_distance(gan.discriminator, fake)[0]) > KINK_MARGIN)

    def fn(z, *weights):
        mg.manual_seed(seed)
        with weights_replaced(slots, weights), frozen_weights(gan.discriminator):
            return gan.generator_loss(z)
    check(fn, z, *weight_inputs(slots))
    # and backward leaves the frozen discriminator's weights without gradients
    gan.discriminator.zero_grad()
    with frozen_weights(gan.discriminator):
        gan.generator_loss(z).backward()
    assert all(p.grad is None for p in gan.discriminator.weights)
    assert all(p.grad is not None for p in gan.generator.parameters())


# ---------------------------------------------------------------------- the training step

def small_gan(**kwargs):
    mg.manual_seed(0)
    return DCGAN(latent_dim=3, img_shape=(1, 8, 8), generator_channels=(4, 3),
                 discriminator_channels=(2, 3, 4, 5), seed=0, **kwargs)


def real_batch(n, shape=(1, 8, 8), seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n,) + shape).astype(np.float32)


def test_generator_step_leaves_the_discriminator_bit_identical():
    gan = small_gan()
    gan.train_step(real_batch(4))                   # optimizer state and moving statistics exist
    d_before = [w.copy() for w in gan.discriminator.get_weights()]
    d_state = {k: np.array(v, copy=True) for k, v in gan.discriminator.optimizer.state_dict().items()}
    g_before = [w.copy() for w in gan.generator.get_weights()]
    g_loss = gan.train_generator(gan.noise(4))
    assert np.isfinite(g_loss)
    d_after = gan.discriminator.get_weights()
    assert len(d_after) == len(d_before) == 22      # 4 conv + 1 dense (kernel, bias), 3 BN x 4
    for before, after in zip(d_before, d_after):
        assert before.tobytes() == after.tobytes()
    assert all(np.array_equal(v, gan.discriminator.optimizer.state_dict()[k]) for k, v in d_state.items())
    assert all(p.trainable for p in gan.discriminator.parameters())      # unfrozen again
    changed = [not np.array_equal(b, a) for b, a in zip(g_before, gan.generator.get_weights())]
    assert all(changed)                            # every G weight moved, moving statistics too


def test_frozen_discriminator_still_computes_in_training_mode():
    # Freezing the weights must not change what D computes: batch statistics and dropout
    # stay on (unlike layer.trainable = False, which puts batch norm in inference mode).
    gan = small_gan()
    x = mg.tensor(real_batch(6))
    mg.manual_seed(1)
    free = gan.discriminator(x, training=True).numpy()
    with frozen_weights(gan.discriminator):
        assert all(m.training for m in gan.discriminator.modules()) and gan.discriminator.trainable
        mg.manual_seed(1)
        frozen = gan.discriminator(x, training=True).numpy()
    assert np.array_equal(free, frozen)
    mg.manual_seed(1)
    assert not np.allclose(gan.discriminator(x, training=False).numpy(), free)
    gan.discriminator.trainable = False            # the Keras-2 freeze: BN on moving statistics
    mg.manual_seed(1)
    assert not np.allclose(gan.discriminator(x, training=True).numpy(), free)
    gan.discriminator.trainable = True


@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.1, "label_noise": 0.2},
                                     {"generator": "transpose"}])
def test_train_step_on_a_tiny_batch(options):
    gan = small_gan(**options)
    d_before = [w.copy() for w in gan.discriminator.get_weights()]
    g_before = [w.copy() for w in gan.generator.get_weights()]
    for step in range(3):
        logs = gan.train_step(real_batch(4, seed=step))
        assert set(logs) == {"d_loss", "d_acc", "g_loss", "d_loss_real", "d_loss_fake",
                             "d_acc_real", "d_acc_fake"}
        assert all(np.isfinite(v) for v in logs.values())
        assert 0 <= logs["d_acc"] <= 1 and logs["d_loss"] > 0 and logs["g_loss"] > 0
        assert logs["d_loss"] == pytest.approx(0.5 * (logs["d_loss_real"] + logs["d_loss_fake"]))
    assert gan.discriminator.optimizer.iterations == 6     # two D updates per iteration
    assert gan.g_optimizer.iterations == 3
    assert all(not np.array_equal(b, a) for b, a in zip(d_before, gan.discriminator.get_weights()))
    assert all(not np.array_equal(b, a) for b, a in zip(g_before, gan.generator.get_weights()))
    images = gan.sample(5)
    assert images.shape == (5, 1, 8, 8) and np.all(np.abs(images) <= 1)


def test_targets_with_smoothing_and_noise():
    gan = small_gan(label_smoothing=0.1)
    assert np.all(gan._targets(8, real=True) == np.float32(0.9))
    assert np.all(gan._targets(8, real=False) == 0)
    noisy = small_gan(label_noise=0.3)
    real = noisy._targets(2000, real=True)
    assert set(np.unique(real)) == {0.0, 1.0} and 0.25 < (real == 0).mean() < 0.35
    with pytest.raises(ValueError, match="label_smoothing"):
        small_gan(label_smoothing=0.6)
    with pytest.raises(ValueError, match="generator"):
        small_gan(generator="dense")


def test_fakes_come_from_the_generator_in_inference_mode():
    gan = small_gan()
    gan.train_step(real_batch(4))
    z = gan.noise(4)
    with mg.no_grad():
        train_mode = gan.generator(z, training=True).numpy()
        eval_mode = gan.generator(z, training=False).numpy()
    assert np.array_equal(gan.generate(z), eval_mode) and not np.allclose(eval_mode, train_mode)


# ---------------------------------------------------------------------- the digit classifier

class FixedModel:
    def __init__(self, probs):
        self.probs = np.asarray(probs, dtype=np.float32)

    def predict(self, x, batch_size=32):
        assert len(x) == len(self.probs)
        return self.probs


def test_score_samples_counts_digits_and_confidence():
    probs = np.full((6, 10), 0.01, dtype=np.float32)
    for i, (digit, p) in enumerate([(3, 0.91), (3, 0.55), (7, 0.91), (0, 0.91), (3, 0.91), (7, 0.91)]):
        probs[i, digit] = p
    scores = score_samples(np.zeros((6, 1, 28, 28)), FixedModel(probs))
    assert scores["digits_present"] == 3 and scores["rarest_digit_count"] == 0
    assert scores["counts"] == [1, 0, 0, 3, 0, 0, 0, 2, 0, 0]
    assert scores["mean_top_prob"] == pytest.approx((0.91 * 5 + 0.55) / 6)
    uniform = score_samples(np.zeros((20, 1, 28, 28)), FixedModel(np.eye(10)[np.arange(20) % 10]))
    assert uniform["digits_present"] == 10 and uniform["rarest_digit_count"] == 2
    with pytest.raises(FloatingPointError):
        score_samples(np.zeros((1, 1, 28, 28)), FixedModel(np.full((1, 10), np.nan)))


def test_classifier_trains_once_then_loads_from_the_cache(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (40, 1, 28, 28)).astype(np.float32)
    y = np.arange(40) % 10
    first, info = load_or_train(x, y, x[:10], y[:10], tmp_path, epochs=1, batch_size=20)
    assert not info["cached"] and info["train_seconds"] > 0 and 0 <= info["test_accuracy"] <= 1
    again, info2 = load_or_train(x, y, x[:10], y[:10], tmp_path, epochs=1, batch_size=20)
    assert info2["cached"] and info2["path"] == info["path"]
    assert info2["test_accuracy"] == info["test_accuracy"]
    assert all(np.array_equal(a, b) for a, b in zip(first.get_weights(), again.get_weights()))
    _, info3 = load_or_train(x, y, x[:10], y[:10], tmp_path, epochs=2, batch_size=20)
    assert not info3["cached"] and info3["path"] != info["path"]      # other settings, other file


def test_classifier_architecture():
    model = build_classifier()
    assert model.output_shape == (10,)
    assert model.count_params() == 34_826                    # Keras' simple MNIST convnet
    assert isinstance(model.layers[-1], Dense)


def test_train_step_on_each_device(device):
    # "strict" is the CuPy-like stand-in: it catches NumPy-only code on the CPU
    mg.manual_seed(0)
    gan = DCGAN(latent_dim=3, img_shape=(1, 8, 8), generator_channels=(4, 3),
                discriminator_channels=(2, 3, 4, 5), seed=0, device=device)
    assert gan.generator.device == gan.discriminator.device == mg.tensor([0.0], device=device).device
    d_before = [w.copy() for w in gan.discriminator.get_weights()]
    logs = gan.train_step(real_batch(4))
    assert all(np.isfinite(v) for v in logs.values())
    with frozen_weights(gan.discriminator):
        pass                                       # restores moving statistics on the device
    assert gan.discriminator.device == gan.generator.device
    assert all(not np.array_equal(b, a) for b, a in zip(d_before, gan.discriminator.get_weights()))
    assert gan.sample(3).shape == (3, 1, 8, 8)
