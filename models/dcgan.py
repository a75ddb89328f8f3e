"""DCGAN on MNIST, transcribed layer by layer from keras-gan's dcgan.py (NCHW instead of NHWC).

    from models.dcgan import DCGAN
    gan = DCGAN()                                   # keras-gan's exact sizes
    for it in range(2000):
        real = x_train[rng.integers(0, len(x_train), 32)]
        logs = gan.train_step(real)                 # {"d_loss", "d_acc", "g_loss", ...}
    images = gan.sample(25)                         # (25, 1, 28, 28), tanh pixels in [-1, 1]

Generator (latent 100 -> 1x28x28), keras-gan's list:
    Dense(128*7*7, relu) -> Reshape(128, 7, 7) -> UpSampling2D -> Conv2D(128, 3, same)
    -> BatchNormalization(momentum=0.8) -> relu -> UpSampling2D -> Conv2D(64, 3, same)
    -> BatchNormalization(momentum=0.8) -> relu -> Conv2D(1, 3, same) -> tanh
    Total params: 856,193 (trainable 855,809, non-trainable 384: the moving statistics)
Discriminator (1x28x28 -> probability that the image is real):
    Conv2D(32, 3, strides 2, same) -> LeakyReLU(0.2) -> Dropout(0.25)
    -> Conv2D(64, 3, strides 2, same) -> ZeroPadding2D(((0, 1), (0, 1))) -> BN(0.8) -> LeakyReLU(0.2) -> Dropout(0.25)
    -> Conv2D(128, 3, strides 2, same) -> BN(0.8) -> LeakyReLU(0.2) -> Dropout(0.25)
    -> Conv2D(256, 3, strides 1, same) -> BN(0.8) -> LeakyReLU(0.2) -> Dropout(0.25)
    -> Flatten -> Dense(1, sigmoid)
    Total params: 393,729 (trainable 392,833, non-trainable 896)
Both trained with Adam(lr=0.0002, beta_1=0.5) on binary cross-entropy; z ~ Normal(0, 1).

One training step (keras-gan's loop, see train_step):
    1. fakes = G(z) in inference mode (keras-gan: generator.predict(noise)), so G's batch
       norm uses its moving statistics here;
    2. one D update on the real batch (label 1), then one on the fake batch (label 0):
       two Adam steps, each batch normalised with its own statistics;
    3. one G update through D, with the same z and label 1 ("fool D"). D stays in training
       mode (dropout on, batch statistics) but its weights are frozen: no gradient is computed
       for them, the optimizer only holds G's weights, and D's moving statistics are left as
       they were (Keras does not run a frozen model's updates). Only G changes.

The sizes are parameters (latent_dim, img_shape, channels), so tests can gradient-check a
tiny float64 copy of exactly this architecture; the defaults are keras-gan's.
Everything here uses minigrad's public API only.
"""
from __future__ import annotations

import contextlib

import numpy as np

import minigrad as mg
from minigrad import losses
from minigrad.nn import (Activation, BatchNormalization, Conv2D, Conv2DTranspose, Dense, Dropout,
                         Flatten, LeakyReLU, Reshape, Sequential, UpSampling2D, ZeroPadding2D)
from minigrad.optim import Adam, check_finite_step

LATENT_DIM = 100
IMG_SHAPE = (1, 28, 28)
GENERATOR_CHANNELS = (128, 64)
DISCRIMINATOR_CHANNELS = (32, 64, 128, 256)

# keras-gan's model.summary() totals for the default sizes: (total, trainable, non-trainable)
KERAS_GAN_GENERATOR_PARAMS = (856_193, 855_809, 384)
KERAS_GAN_DISCRIMINATOR_PARAMS = (393_729, 392_833, 896)


def _check_image_shape(img_shape):
    c, h, w = img_shape
    if h % 4 or w % 4:
        raise ValueError(f"the generator doubles its size twice, so the image height and width must "
                         f"be multiples of 4; got img_shape={tuple(img_shape)}")
    return int(c), int(h), int(w)


def build_generator(latent_dim=LATENT_DIM, img_shape=IMG_SHAPE, channels=GENERATOR_CHANNELS,
                    momentum=0.8, name="generator"):
    """keras-gan's generator: Dense -> reshape -> (UpSampling2D, Conv2D, BN, relu) x 2 -> Conv2D, tanh."""
    c, h, w = _check_image_shape(img_shape)
    c1, c2 = channels
    return Sequential([
        Dense(c1 * (h // 4) * (w // 4), activation="relu", input_shape=(latent_dim,)),
        Reshape((c1, h // 4, w // 4)),
        UpSampling2D(),
        Conv2D(c1, 3, padding="same"),
        BatchNormalization(momentum=momentum),
        Activation("relu"),
        UpSampling2D(),
        Conv2D(c2, 3, padding="same"),
        BatchNormalization(momentum=momentum),
        Activation("relu"),
        Conv2D(c, 3, padding="same"),
        Activation("tanh"),
    ], name=name)


def build_transpose_generator(latent_dim=LATENT_DIM, img_shape=IMG_SHAPE, channels=GENERATOR_CHANNELS,
                              momentum=0.8, kernel_size=4, name="generator_transpose"):
    """The same generator with each (UpSampling2D, Conv2D) pair replaced by one learned
    upsampling, Conv2DTranspose(strides=2, padding="same"). kernel_size 4 (divisible by the
    stride) makes every output pixel receive the same number of kernel taps, which avoids
    the checkerboard pattern a 3x3 kernel with stride 2 tends to print on the samples."""
    c, h, w = _check_image_shape(img_shape)
    c1, c2 = channels
    return Sequential([
        Dense(c1 * (h // 4) * (w // 4), activation="relu", input_shape=(latent_dim,)),
        Reshape((c1, h // 4, w // 4)),
        Conv2DTranspose(c1, kernel_size, strides=2, padding="same"),
        BatchNormalization(momentum=momentum),
        Activation("relu"),
        Conv2DTranspose(c2, kernel_size, strides=2, padding="same"),
        BatchNormalization(momentum=momentum),
        Activation("relu"),
        Conv2D(c, 3, padding="same"),
        Activation("tanh"),
    ], name=name)


def build_discriminator(img_shape=IMG_SHAPE, channels=DISCRIMINATOR_CHANNELS, momentum=0.8,
                        dropout=0.25, alpha=0.2, name="discriminator"):
    """keras-gan's discriminator (see the module docstring); outputs P(real), shape (N, 1)."""
    c1, c2, c3, c4 = channels
    return Sequential([
        Conv2D(c1, 3, strides=2, padding="same", input_shape=tuple(img_shape)),
        LeakyReLU(alpha),
        Dropout(dropout),
        Conv2D(c2, 3, strides=2, padding="same"),
        ZeroPadding2D(((0, 1), (0, 1))),
        BatchNormalization(momentum=momentum),
        LeakyReLU(alpha),
        Dropout(dropout),
        Conv2D(c3, 3, strides=2, padding="same"),
        BatchNormalization(momentum=momentum),
        LeakyReLU(alpha),
        Dropout(dropout),
        Conv2D(c4, 3, strides=1, padding="same"),
        BatchNormalization(momentum=momentum),
        LeakyReLU(alpha),
        Dropout(dropout),
        Flatten(),
        Dense(1, activation="sigmoid"),
    ], name=name)


def _batch_norms(model):
    return [m for m in model.modules() if isinstance(m, BatchNormalization)]


@contextlib.contextmanager
def frozen_weights(model):
    """Freeze `model`'s weights, but leave it in whatever mode it runs in.

    Inside the block no gradient is computed for the model's weights (so no optimizer can
    move them) and its batch-norm moving statistics are put back afterwards, bit for bit:
    the model still computes (dropout, batch statistics) and passes gradients through to its
    input, which is how a GAN trains its generator through the discriminator.

    Note it freezes the Parameters, not the layers: a layer frozen with
    `layer.trainable = False` is a Keras-2 inference-mode layer (batch norm on moving
    statistics), which is not keras-gan's discriminator during the generator step.
    """
    params = [p for p in model.weights if p.trainable]
    moving = _moving_statistics(model)
    for p in params:
        p.trainable = False
    try:
        yield model
    finally:
        for p in params:
            p.trainable = True
        _restore(moving)


def _moving_statistics(model):
    """Copies of the batch-norm moving statistics, which every training-mode forward updates."""
    return [(p, p.data.copy()) for bn in _batch_norms(model) if bn.built
            for p in (bn.moving_mean, bn.moving_variance)]


def _restore(copies):
    for p, data in copies:
        p.data = data


class DCGAN:
    """Generator, discriminator, their optimizers and keras-gan's training step.

    DCGAN(latent_dim=100, img_shape=(1, 28, 28), generator="upsampling" | "transpose",
          generator_channels=(128, 64), discriminator_channels=(32, 64, 128, 256),
          momentum=0.8, dropout=0.25, lr=2e-4, beta_1=0.5,
          label_smoothing=0.0, label_noise=0.0, seed=None, device=None, dtype=None)

    label_smoothing  one-sided: D's targets for real images are 1 - label_smoothing
    label_noise      probability of flipping each of D's targets (real <-> fake)
                     (both off by default, as in keras-gan)
    seed             seeds this object's NumPy generator (latent vectors, label noise);
                     weights and dropout masks come from mg.manual_seed as everywhere
    device, dtype    where the models live ("cpu", "cuda") and their float type
                     ("float64" for gradient checks)

    D is compiled with Keras' API (train_on_batch, loss and accuracy); G has its own Adam,
    g_optimizer, holding G's weights only. One difference from keras-gan, on purpose: there
    one Adam instance is compiled into both D and the combined model, and in Keras 2 that
    shares its step counter t (not its moments), so t advances 3 per iteration and the
    bias correction sqrt(1 - beta_2^t) lets G take up to ~1.6x larger steps early on (1.2x at
    iteration 1,000). Here each optimizer counts its own steps, as Adam intends and as a
    PyTorch port of keras-gan does.
    """

    def __init__(self, latent_dim=LATENT_DIM, img_shape=IMG_SHAPE, generator="upsampling",
                 generator_channels=GENERATOR_CHANNELS, discriminator_channels=DISCRIMINATOR_CHANNELS,
                 momentum=0.8, dropout=0.25, lr=2e-4, beta_1=0.5, label_smoothing=0.0,
                 label_noise=0.0, seed=None, device=None, dtype=None):
        if generator not in ("upsampling", "transpose"):
            raise ValueError(f"DCGAN: generator must be 'upsampling' or 'transpose', got {generator!r}")
        if not 0 <= label_smoothing < 0.5 or not 0 <= label_noise < 0.5:
            raise ValueError("DCGAN: label_smoothing and label_noise must be in [0, 0.5), got "
                             f"{label_smoothing} and {label_noise}")
        self.latent_dim = int(latent_dim)
        self.img_shape = tuple(img_shape)
        self.label_smoothing = float(label_smoothing)
        self.label_noise = float(label_noise)
        self.rng = np.random.default_rng(seed)
        build = build_generator if generator == "upsampling" else build_transpose_generator
        self.generator = build(self.latent_dim, self.img_shape, generator_channels, momentum)
        self.discriminator = build_discriminator(self.img_shape, discriminator_channels, momentum, dropout)
        if device is not None or dtype is not None:
            self.generator.to(device=device, dtype=dtype)
            self.discriminator.to(device=device, dtype=dtype)
        # D trains with Keras' API; G's step is written out (see train_step).
        self.discriminator.compile(optimizer=Adam(lr=lr, beta_1=beta_1), loss="binary_crossentropy",
                                   metrics=["accuracy"])
        self.g_optimizer = Adam(self.generator.parameters(), lr=lr, beta_1=beta_1)

    # ------------------------------------------------------------------ sampling
    def noise(self, n):
        """n latent vectors z ~ Normal(0, 1), as a float32 host array (n, latent_dim)."""
        return self.rng.standard_normal((n, self.latent_dim)).astype(np.float32)

    def generate(self, z, batch_size=256):
        """G(z) in inference mode (moving batch-norm statistics), as a NumPy array."""
        return self.generator.predict(z, batch_size=batch_size)

    def sample(self, n, batch_size=256):
        """n new images from random z, tanh pixels in [-1, 1], shape (n, *img_shape)."""
        return self.generate(self.noise(n), batch_size)

    # ------------------------------------------------------------------ training
    def _targets(self, n, real: bool):
        """D's targets: 1 for real, 0 for fake, with the optional smoothing and flips."""
        y = np.full((n, 1), 1.0 - self.label_smoothing if real else 0.0, dtype=np.float32)
        if self.label_noise:
            flip = self.rng.random((n, 1)) < self.label_noise
            y[flip] = (0.0 if real else 1.0 - self.label_smoothing)
        return y

    def generator_loss(self, z):
        """BCE of D(G(z)) against "real": G and D both in training mode (graph recorded).

        Call it inside `frozen_weights(self.discriminator)` to train G alone; gradients flow
        through D to G's weights.
        """
        fake = self.generator(z, training=True)
        validity = self.discriminator(fake, training=True)
        ones = mg.ones(validity.shape[0], 1, dtype=validity.dtype, device=validity.device)
        return losses.binary_crossentropy(ones, validity)

    def train_generator(self, z):
        """One Adam step of G through the frozen discriminator; returns G's loss."""
        z = mg.tensor(np.asarray(z), dtype=self.generator.dtype, device=self.generator.device)
        moving = _moving_statistics(self.generator)
        with frozen_weights(self.discriminator):
            self.g_optimizer.zero_grad()
            loss = self.generator_loss(z)
            loss.backward()
            try:     # before the update: a NaN/inf step would ruin G, so stop with G as it was
                check_finite_step("DCGAN.train_generator (G's loss)", loss, self.g_optimizer.params)
            except FloatingPointError:
                _restore(moving)         # the forward pass moved G's batch-norm statistics too
                raise
            self.g_optimizer.step()
        return loss.item()

    def train_discriminator(self, real, fake):
        """keras-gan's two D updates: on the real batch, then on the fake batch.

        Returns (loss_real, acc_real, loss_fake, acc_fake); accuracy against the hard labels
        is what Keras' metric reports (with label noise, against the noisy ones)."""
        loss_real, acc_real = self.discriminator.train_on_batch(real, self._targets(len(real), True))
        loss_fake, acc_fake = self.discriminator.train_on_batch(fake, self._targets(len(fake), False))
        return loss_real, acc_real, loss_fake, acc_fake

    def train_step(self, real, z=None):
        """One iteration of keras-gan's loop on a batch of real images (N, C, H, W).

        z: the latent batch (N, latent_dim); drawn from Normal(0, 1) when None. As in
        keras-gan, the same z makes D's fake batch and trains G.
        Returns {"d_loss", "d_acc", "g_loss", "d_loss_real", "d_loss_fake", "d_acc_real",
        "d_acc_fake"}; d_loss and d_acc are the means over the real and the fake batch.
        """
        real = np.asarray(real)
        if real.ndim != 1 + len(self.img_shape) or len(real) == 0:
            raise ValueError(f"DCGAN.train_step: real must be a non-empty batch of images (N, "
                             f"{', '.join(map(str, self.img_shape))}), got shape {real.shape}")
        z = self.noise(len(real)) if z is None else np.asarray(z, dtype=np.float32)
        fake = self.generate(z, batch_size=len(z))                  # G in inference mode
        loss_real, acc_real, loss_fake, acc_fake = self.train_discriminator(real, fake)
        g_loss = self.train_generator(z)
        return {"d_loss": 0.5 * (loss_real + loss_fake), "d_acc": 0.5 * (acc_real + acc_fake),
                "g_loss": g_loss, "d_loss_real": loss_real, "d_loss_fake": loss_fake,
                "d_acc_real": acc_real, "d_acc_fake": acc_fake}
