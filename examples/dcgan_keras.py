"""keras-gan's DCGAN, its Keras code transcribed with renames only, trained on real MNIST digits.

    python examples/dcgan_keras.py                    # 2,000 iterations of batch 32
    python examples/dcgan_keras.py --iterations 3 --limit 300 --classifier-epochs 1 --out /tmp/dk

The class below is keras-gan's dcgan.py as its author wrote it for Keras: Sequential G and D,
channels-last images (28, 28, 1), ONE Adam(0.0002, 0.5) passed to both compile() calls,
`discriminator.trainable = False` before the combined model Model(z, D(G(z))) is compiled,
and train_on_batch on both. The renames: keras.layers / keras.models -> minigrad.nn,
keras.optimizers -> minigrad.optim, and nn.set_image_data_format("channels_last") for the
(28, 28, 1) shapes. examples/dcgan_mnist.py trains the same networks through models/dcgan.py.

What carries over from Keras, and where minigrad is explicit:
  * freezing takes effect at compile(): D trains in its own train_on_batch, not in combined's;
  * the shared Adam keeps separate moment estimates and step counts per parameter, and each
    model's step updates exactly that model's trainable parameters;
  * a frozen BatchNormalization: keras-gan was written for Keras 2, where D, frozen inside the
    combined model, still normalised each batch with its own statistics. TF2 and Keras 3 run a
    frozen batch norm in inference mode (D's moving statistics, which D's own steps learn from
    all-real and all-fake batches). minigrad's default is the TF2 / Keras 3 rule, and its
    training loop warns when it sees this pattern; this script asks for Keras 2's rule with
    nn.set_frozen_batch_norm_mode("batch") (--frozen-batch-norm batch, the default here), as
    models/dcgan.py does. Measured (seed 0, 2,000 iterations): Keras 2's rule 10 digits, the
    rarest 71 times in 1,000, mean top-class probability 0.846 (the bar is met); the TF2 rule
    3 digits, the rarest 0, 0.765 (it collapses).
  * real Keras 3 would not run this code at all: it refuses the shared optimizer ("This
    optimizer can only be called for the variables it was originally built with") and, with
    `trainable` read at every step instead of at compile(), trains nothing in D's own step.

Then the digit classifier of examples/dcgan_mnist.py reads 1,000 samples (the same quality bar:
10 digits present, the rarest at least 40 times, mean top-class probability >= 0.82).
"""
from __future__ import annotations

import sys
import time

import numpy as np

from common import Timer, limit, parser, setup, write_json

import minigrad as mg  # noqa: E402  (common puts the repo on sys.path)
from minigrad import nn, plot  # noqa: E402
from minigrad.data import load_mnist  # noqa: E402
from minigrad.nn import (Activation, BatchNormalization, Conv2D, Dense, Dropout, Flatten, Input,  # noqa: E402
                         LeakyReLU, Model, Reshape, Sequential, UpSampling2D, ZeroPadding2D)
from minigrad.nn.layers import FROZEN_BATCH_NORM_MODES  # noqa: E402
from minigrad.nn.progress import ProgressBar  # noqa: E402
from minigrad.optim import Adam  # noqa: E402
from models.classifier import EPOCHS as CLASSIFIER_EPOCHS  # noqa: E402
from models.classifier import load_or_train, score_samples  # noqa: E402

QUALITY_BAR = {"digits_present": 10, "rarest_digit_count": 40, "mean_top_prob": 0.82}


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
# --- end of keras-gan's code ------------------------------------------------------------------


def parse_args(argv=None):
    p = parser(__doc__.splitlines()[0], epochs=None, out="runs/dcgan_keras", batch_size=32)
    p.add_argument("--iterations", type=int, default=2000, help="keras-gan's 'epochs' (one batch each)")
    p.add_argument("--n-samples", type=int, default=1000, help="generated samples the classifier scores")
    p.add_argument("--classifier-epochs", type=int, default=CLASSIFIER_EPOCHS)
    p.add_argument("--classifier-cache", default=None, help="folder of a trained classifier to reuse")
    p.add_argument("--frozen-batch-norm", choices=FROZEN_BATCH_NORM_MODES, default="batch",
                   help="what D's frozen batch norm does in the combined model: 'batch' (Keras 2, "
                        "keras-gan's) or 'inference' (TF2 / Keras 3, minigrad's default)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    out = setup(args)
    start = time.perf_counter()
    mnist = load_mnist(scale="-11", verbose=args.verbose > 0)
    x_train, y_train = limit(mnist.x_train, args.limit), limit(mnist.y_train, args.limit)
    # the judge is a channels-first minigrad model: made before the switch below
    classifier, clf_info = load_or_train(x_train, y_train, mnist.x_test, mnist.y_test,
                                         args.classifier_cache or out, epochs=args.classifier_epochs,
                                         seed=args.seed, verbose=0)
    print(f"data: {mnist.source}; classifier test accuracy {clf_info['test_accuracy']:.3f}")

    nn.set_image_data_format("channels_last")
    previous_rule = nn.frozen_batch_norm_mode()
    nn.set_frozen_batch_norm_mode(args.frozen_batch_norm)
    try:
        mg.manual_seed(args.seed)
        np.random.seed(args.seed)                     # keras-gan draws batches and noise from np.random
        gan = DCGAN()
        X_train = x_train.transpose(0, 2, 3, 1)      # keras-gan: X / 127.5 - 1, expand_dims(axis=3)
        history = {"d_loss": [], "d_acc": [], "g_loss": []}
        bar = ProgressBar(args.iterations, verbose=1 if args.verbose == 1 else 0)

        def log(it, d_loss, g_loss):
            history["d_loss"].append(float(d_loss[0]))
            history["d_acc"].append(float(d_loss[1]))
            history["g_loss"].append(float(g_loss))
            bar.update(it + 1, {"d_loss": d_loss[0], "d_acc": d_loss[1], "g_loss": g_loss})

        with Timer() as t_gan:
            gan.train(X_train, epochs=args.iterations, batch_size=args.batch_size, log=log)
        bar.close({})
        noise = np.random.default_rng(args.seed + 3).standard_normal((args.n_samples, gan.latent_dim))
        samples = gan.generator.predict(noise.astype(np.float32), batch_size=250)
    finally:
        nn.set_image_data_format("channels_first")
        nn.set_frozen_batch_norm_mode(previous_rule)
    samples = samples.transpose(0, 3, 1, 2)           # NCHW for the classifier and the figures
    if not np.all(np.isfinite(samples)):
        raise FloatingPointError("generated samples hold NaN or inf")
    scores = score_samples(samples, classifier)
    plot.image_grid(samples[:100], value_range=(-1, 1), path=out / "samples_final.png",
                    title=f"keras-gan's DCGAN in minigrad, {args.iterations:,} iterations")
    smooth = max(1, min(50, args.iterations // 10))
    plot.curves([{"D loss": history["d_loss"], "G loss": history["g_loss"]}, {"D accuracy": history["d_acc"]}],
                path=out / "losses.png", xlabel="iteration", ylabel=["binary cross-entropy", "accuracy"],
                title=["losses", "discriminator accuracy"], smooth=smooth if smooth > 1 else None)
    meets = bool(scores["digits_present"] >= QUALITY_BAR["digits_present"]
                 and scores["rarest_digit_count"] >= QUALITY_BAR["rarest_digit_count"]
                 and scores["mean_top_prob"] >= QUALITY_BAR["mean_top_prob"])
    metrics = {
        "digits_present": scores["digits_present"], "rarest_digit_count": scores["rarest_digit_count"],
        "mean_top_prob": scores["mean_top_prob"], "digit_counts": scores["counts"],
        "quality_bar": QUALITY_BAR, "meets_quality_bar": meets, "iterations": args.iterations,
        "batch_size": args.batch_size, "seed": args.seed, "n_train": int(len(x_train)),
        "frozen_batch_norm": args.frozen_batch_norm,
        "data_source": mnist.source, "classifier_test_accuracy": clf_info["test_accuracy"],
        "final_d_loss": float(np.mean(history["d_loss"][-100:])),
        "final_g_loss": float(np.mean(history["g_loss"][-100:])),
        "final_d_acc": float(np.mean(history["d_acc"][-100:])),
        "ms_per_iteration": 1000 * t_gan.seconds / max(args.iterations, 1),
        "gan_seconds": t_gan.seconds, "wall_seconds": time.perf_counter() - start,
        "d_loss": history["d_loss"], "g_loss": history["g_loss"], "d_acc": history["d_acc"],
    }
    write_json(out / "metrics.json", metrics)
    print(f"samples: {scores['digits_present']} digits present, the rarest {scores['rarest_digit_count']} times "
          f"in {args.n_samples:,}, mean top-class probability {scores['mean_top_prob']:.3f} "
          f"(bar: 10, >= 40, >= 0.82: {'met' if meets else 'NOT met'}); {metrics['ms_per_iteration']:.0f} ms "
          f"per iteration; figures and metrics.json in {out}")
    return metrics


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
