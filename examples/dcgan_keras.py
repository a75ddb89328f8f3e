# %% [markdown]
# # keras-gan's DCGAN, its Keras code transcribed with renames only, trained on real MNIST digits.
#
#     python examples/dcgan_keras.py                    # 2,000 iterations of batch 32
#     python examples/dcgan_keras.py --iterations 3 --limit 300 --classifier-epochs 1 --out /tmp/dk
#
# The class below is keras-gan's dcgan.py as its author wrote it for Keras: Sequential G and D,
# channels-last images (28, 28, 1), ONE Adam(0.0002, 0.5) passed to both compile() calls,
# `discriminator.trainable = False` before the combined model Model(z, D(G(z))) is compiled,
# and train_on_batch on both. The renames: keras.layers / keras.models -> minigrad.nn,
# keras.optimizers -> minigrad.optim, and nn.set_image_data_format("channels_last") for the
# (28, 28, 1) shapes. examples/dcgan_mnist.py trains the same networks through models/dcgan.py.
#
# What carries over from Keras, and where minigrad is explicit:
#   * freezing takes effect at compile(): D trains in its own train_on_batch, not in combined's;
#   * the shared Adam keeps separate moment estimates and step counts per parameter, and each
#     model's step updates exactly that model's trainable parameters;
#   * a frozen BatchNormalization: keras-gan was written for Keras 2, where D, frozen inside the
#     combined model, still normalised each batch with its own statistics. TF2 and Keras 3 run a
#     frozen batch norm in inference mode (D's moving statistics, which D's own steps learn from
#     all-real and all-fake batches). minigrad's default is the TF2 / Keras 3 rule, and its
#     training loop warns when it sees this pattern; this script asks for Keras 2's rule with
#     nn.set_frozen_batch_norm_mode("batch") (--frozen-batch-norm batch, the default here), as
#     models/dcgan.py does. Measured (seed 0, 2,000 iterations): Keras 2's rule 10 digits, the
#     rarest 71 times in 1,000, mean top-class probability 0.846 (the bar is met); the TF2 rule
#     3 digits, the rarest 0, 0.765 (it collapses).
#   * real Keras 3 would not run this code at all: it refuses the shared optimizer ("This
#     optimizer can only be called for the variables it was originally built with") and, with
#     `trainable` read at every step instead of at compile(), trains nothing in D's own step.
#
# Then the digit classifier of examples/dcgan_mnist.py reads 1,000 samples (the same quality bar:
# 10 digits present, the rarest at least 40 times, mean top-class probability >= 0.82).

# %%
import math
import time

import numpy as np

import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)
from common import Timer

import minigrad as mg
from minigrad import nn, plot
from minigrad.data import load_mnist
from minigrad.nn import (Activation, BatchNormalization, Conv2D, Dense, Dropout, Flatten, Input,
                         LeakyReLU, Model, Reshape, Sequential, UpSampling2D, ZeroPadding2D)
from minigrad.nn.progress import ProgressBar
from minigrad.optim import Adam
from models.classifier import load_or_train, score_samples

QUALITY_BAR = {"digits_present": 10, "rarest_digit_count": 40, "mean_top_prob": 0.82}

# %% tags=["parameters"]
epochs = None                          # if given, train epochs * (training digits / batch size) iterations instead
iterations = 2000                      # keras-gan's 'epochs' (one batch each)
n_samples = 1000                       # generated samples the classifier scores
classifier_epochs = 12                 # (models.classifier.EPOCHS) epochs for the digit classifier (trained once, then loaded from the cache)
classifier_cache = None                # folder of a trained classifier to reuse
frozen_batch_norm = "batch"            # D's frozen batch norm in the combined model, Keras 2's rule (keras-gan's) or TF2/Keras 3's (minigrad's default); one of: batch, inference
batch_size = 32                        # mini-batch size
limit = None                           # use only the first N training examples (quick runs)
seed = 0                               # random seed
device = "cpu"                         # cpu, cuda or cuda:N
out = "runs/dcgan_keras"               # folder for the figures and metrics.json
verbose = 1                            # 0 quiet, 1 progress bars, 2 one line per epoch

# %%
out = common.parameters(globals())

# %% [markdown]
# ## keras-gan's dcgan.py, as its author wrote it
#
# Renames only (minigrad's Keras-style names for Keras'): one shared `Adam(0.0002, 0.5)`,
# `discriminator.trainable = False` before the combined model is compiled,
# `combined = Model(z, D(G(z)))`, and `train_on_batch` for each update. Its `train` is the
# usual GAN step: D on a real batch (targets 1) and a fake one (targets 0), then G through the
# frozen D with targets 1.

# %%
# --- keras-gan's dcgan.py, renames only (the data loading and printing are the example's) ---
class DCGAN():
    def __init__(self):
        # Input shape
        self.img_rows = 28
        self.img_cols = 28
        self.channels = 1
        self.img_shape = (self.img_rows, self.img_cols, self.channels)
        self.latent_dim = 100

        optimizer = Adam(0.0002, 0.5)

        # Build and compile the discriminator
        self.discriminator = self.build_discriminator()
        self.discriminator.compile(loss='binary_crossentropy',
                                   optimizer=optimizer,
                                   metrics=['accuracy'])

        # Build the generator
        self.generator = self.build_generator()

        # The generator takes noise as input and generates imgs
        z = Input(shape=(self.latent_dim,))
        img = self.generator(z)

        # For the combined model we will only train the generator
        self.discriminator.trainable = False

        # The discriminator takes generated images as input and determines validity
        valid = self.discriminator(img)

        # The combined model  (stacked generator and discriminator)
        # Trains the generator to fool the discriminator
        self.combined = Model(z, valid)
        self.combined.compile(loss='binary_crossentropy', optimizer=optimizer)

    def build_generator(self):

        model = Sequential()

        model.add(Dense(128 * 7 * 7, activation="relu", input_dim=self.latent_dim))
        model.add(Reshape((7, 7, 128)))
        model.add(UpSampling2D())
        model.add(Conv2D(128, kernel_size=3, padding="same"))
        model.add(BatchNormalization(momentum=0.8))
        model.add(Activation("relu"))
        model.add(UpSampling2D())
        model.add(Conv2D(64, kernel_size=3, padding="same"))
        model.add(BatchNormalization(momentum=0.8))
        model.add(Activation("relu"))
        model.add(Conv2D(self.channels, kernel_size=3, padding="same"))
        model.add(Activation("tanh"))

        model.summary()

        noise = Input(shape=(self.latent_dim,))
        img = model(noise)

        return Model(noise, img)

    def build_discriminator(self):

        model = Sequential()

        model.add(Conv2D(32, kernel_size=3, strides=2, input_shape=self.img_shape, padding="same"))
        model.add(LeakyReLU(alpha=0.2))
        model.add(Dropout(0.25))
        model.add(Conv2D(64, kernel_size=3, strides=2, padding="same"))
        model.add(ZeroPadding2D(padding=((0, 1), (0, 1))))
        model.add(BatchNormalization(momentum=0.8))
        model.add(LeakyReLU(alpha=0.2))
        model.add(Dropout(0.25))
        model.add(Conv2D(128, kernel_size=3, strides=2, padding="same"))
        model.add(BatchNormalization(momentum=0.8))
        model.add(LeakyReLU(alpha=0.2))
        model.add(Dropout(0.25))
        model.add(Conv2D(256, kernel_size=3, strides=1, padding="same"))
        model.add(BatchNormalization(momentum=0.8))
        model.add(LeakyReLU(alpha=0.2))
        model.add(Dropout(0.25))
        model.add(Flatten())
        model.add(Dense(1, activation='sigmoid'))

        model.summary()

        img = Input(shape=self.img_shape)
        validity = model(img)

        return Model(img, validity)

    def train(self, X_train, epochs, batch_size=128, log=None):
        # Adversarial ground truths
        valid = np.ones((batch_size, 1))
        fake = np.zeros((batch_size, 1))

        for epoch in range(epochs):

            # ---------------------
            #  Train Discriminator
            # ---------------------

            # Select a random half of images
            idx = np.random.randint(0, X_train.shape[0], batch_size)
            imgs = X_train[idx]

            # Sample noise and generate a batch of new images
            noise = np.random.normal(0, 1, (batch_size, self.latent_dim))
            gen_imgs = self.generator.predict(noise)

            # Train the discriminator (real classified as ones and generated as zeros)
            d_loss_real = self.discriminator.train_on_batch(imgs, valid)
            d_loss_fake = self.discriminator.train_on_batch(gen_imgs, fake)
            d_loss = 0.5 * np.add(d_loss_real, d_loss_fake)

            # ---------------------
            #  Train Generator
            # ---------------------

            # Train the generator (wants discriminator to mistake images as real)
            g_loss = self.combined.train_on_batch(noise, valid)

            if log is not None:
                log(epoch, d_loss, g_loss)

# %%
# %% [markdown]
# ## The digits, and the judge
#
# The same digit classifier as dcgan_mnist.py reads the samples (made before the switch to
# channels-last below: it is a channels-first minigrad model).

# %%
start = time.perf_counter()
mnist = load_mnist(scale="-11", verbose=verbose > 0)
x_train, y_train = common.limit(mnist.x_train, limit), common.limit(mnist.y_train, limit)
total_iterations = iterations if epochs is None else max(1, math.ceil(epochs * len(x_train) / batch_size))
print(f"training on {len(x_train):,} digits for {total_iterations:,} iterations")
# the judge is a channels-first minigrad model: made before the switch below
classifier, clf_info = load_or_train(x_train, y_train, mnist.x_test, mnist.y_test,
                                     classifier_cache or out, epochs=classifier_epochs,
                                     seed=seed, verbose=0)
print(f"data: {mnist.source}; classifier test accuracy {clf_info['test_accuracy']:.3f}")

# %% [markdown]
# ## Training, channels-last as Keras
#
# `frozen_batch_norm` picks what D's frozen batch norm does inside the combined model:
# "batch" normalises with the batch's statistics (Keras 2, which keras-gan was written for),
# "inference" with the moving averages (TF2 / Keras 3). With the latter this loop collapses.

# %%
nn.set_image_data_format("channels_last")
previous_rule = nn.frozen_batch_norm_mode()
nn.set_frozen_batch_norm_mode(frozen_batch_norm)
try:
    mg.manual_seed(seed)
    np.random.seed(seed)                     # keras-gan draws batches and noise from np.random
    gan = DCGAN()
    X_train = x_train.transpose(0, 2, 3, 1)      # keras-gan: X / 127.5 - 1, expand_dims(axis=3)
    history = {"d_loss": [], "d_acc": [], "g_loss": []}
    bar = ProgressBar(total_iterations, verbose=1 if verbose == 1 else 0)

    def log(it, d_loss, g_loss):
        history["d_loss"].append(float(d_loss[0]))
        history["d_acc"].append(float(d_loss[1]))
        history["g_loss"].append(float(g_loss))
        bar.update(it + 1, {"d_loss": d_loss[0], "d_acc": d_loss[1], "g_loss": g_loss})

    with Timer() as t_gan:
        gan.train(X_train, epochs=total_iterations, batch_size=batch_size, log=log)
    bar.close({})
    noise = np.random.default_rng(seed + 3).standard_normal((n_samples, gan.latent_dim))
    samples = gan.generator.predict(noise.astype(np.float32), batch_size=250)
finally:
    nn.set_image_data_format("channels_first")
    nn.set_frozen_batch_norm_mode(previous_rule)
samples = samples.transpose(0, 3, 1, 2)           # NCHW for the classifier and the figures
if not np.all(np.isfinite(samples)):
    raise FloatingPointError("generated samples hold NaN or inf")
scores = score_samples(samples, classifier)

# %% [markdown]
# ## The samples and the losses

# %%
plot.image_grid(samples[:100], value_range=(-1, 1), path=out / "samples_final.png",
                title=f"keras-gan's DCGAN in minigrad, {total_iterations:,} iterations")
smooth = max(1, min(50, total_iterations // 10))
plot.curves([{"D loss": history["d_loss"], "G loss": history["g_loss"]}, {"D accuracy": history["d_acc"]}],
            path=out / "losses.png", xlabel="iteration", ylabel=["binary cross-entropy", "accuracy"],
            title=["losses", "discriminator accuracy"], smooth=smooth if smooth > 1 else None)
common.show(out / "samples_final.png", out / "losses.png")

# %% [markdown]
# ## The numbers

# %%
meets = bool(scores["digits_present"] >= QUALITY_BAR["digits_present"]
             and scores["rarest_digit_count"] >= QUALITY_BAR["rarest_digit_count"]
             and scores["mean_top_prob"] >= QUALITY_BAR["mean_top_prob"])
metrics = {
    "digits_present": scores["digits_present"], "rarest_digit_count": scores["rarest_digit_count"],
    "mean_top_prob": scores["mean_top_prob"], "digit_counts": scores["counts"],
    "quality_bar": QUALITY_BAR, "meets_quality_bar": meets, "iterations": total_iterations,
    "batch_size": batch_size, "seed": seed, "n_train": int(len(x_train)),
    "frozen_batch_norm": frozen_batch_norm,
    "data_source": mnist.source, "classifier_test_accuracy": clf_info["test_accuracy"],
    "final_d_loss": float(np.mean(history["d_loss"][-100:])),
    "final_g_loss": float(np.mean(history["g_loss"][-100:])),
    "final_d_acc": float(np.mean(history["d_acc"][-100:])),
    "ms_per_iteration": 1000 * t_gan.seconds / max(total_iterations, 1),
    "gan_seconds": t_gan.seconds, "wall_seconds": time.perf_counter() - start,
    "d_loss": history["d_loss"], "g_loss": history["g_loss"], "d_acc": history["d_acc"],
}
common.write_json(out / "metrics.json", metrics)
print(f"samples: {scores['digits_present']} digits present, the rarest {scores['rarest_digit_count']} times "
      f"in {n_samples:,}, mean top-class probability {scores['mean_top_prob']:.3f} "
      f"(bar: 10, >= 40, >= 0.82: {'met' if meets else 'NOT met'}); {metrics['ms_per_iteration']:.0f} ms "
      f"per iteration; figures and metrics.json in {out}")
