"""The lessons' MLP VAE written with the Keras functional API, exactly as the lessons build it.

    python examples/vae_functional.py                  # 30 epochs, batch 100, Adam
    python examples/vae_functional.py --epochs 2 --limit 500 --out /tmp/vaef

The Keras code, with renames only (keras.layers/keras.models -> minigrad.nn, K.* -> mg.*):
an encoder Model(x, [z_mean, z_log_var, z]) with a Lambda sampling layer, a decoder Model,
a VariationalLayer whose call() adds BCE * 784 + KL with add_loss, compile(optimizer="adam",
loss=None) and fit(x_train, shuffle=True, epochs=30, batch_size=100,
validation_data=(x_test, None)). val_loss is then the test negative ELBO per image (one
posterior sample per digit), the number examples/vae_mnist.py reports for the Module version.

Writes to --out (default runs/vae_functional): latent.png (z_mean of the test digits by digit),
manifold.png (a 15x15 grid of decoded codes), loss_curves.png, metrics.json.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from common import limit, parser, setup, write_json

import minigrad as mg  # noqa: E402  (common puts the repo on sys.path)
from minigrad import plot  # noqa: E402
from minigrad.data import load_mnist  # noqa: E402
from minigrad.losses import binary_crossentropy  # noqa: E402
from minigrad.nn import Dense, Input, Lambda, Layer, Model  # noqa: E402

original_dim, intermediate_dim, latent_dim = 784, 512, 2


# --- the lesson's model ------------------------------------------------------------------
def sampling(args):
    """Reparameterisation trick: z = z_mean + sigma * epsilon, epsilon ~ N(0, I)."""
    z_mean, z_log_var = args
    batch = mg.shape(z_mean)[0]
    epsilon = mg.random_normal(shape=(batch, latent_dim), dtype=z_mean.dtype)
    return z_mean + mg.exp(0.5 * z_log_var) * epsilon


class VariationalLayer(Layer):
    """Adds the VAE loss, BCE summed over the pixels + KL, and passes x through."""

    def vae_loss(self, x, x_decoded_mean, z_mean, z_log_var):
        xent_loss = original_dim * binary_crossentropy(x, x_decoded_mean)
        kl_loss = -0.5 * mg.sum(1 + z_log_var - mg.square(z_mean) - mg.exp(z_log_var), axis=-1)
        return mg.mean(xent_loss + kl_loss)

    def call(self, inputs):
        x, x_decoded_mean, z_mean, z_log_var = inputs
        self.add_loss(self.vae_loss(x, x_decoded_mean, z_mean, z_log_var))
        return x_decoded_mean


def build_vae():
    x = Input(shape=(original_dim,), name="encoder_input")
    h = Dense(intermediate_dim, activation="relu")(x)
    z_mean = Dense(latent_dim, name="z_mean")(h)
    z_log_var = Dense(latent_dim, name="z_log_var")(h)
    z = Lambda(sampling, output_shape=(latent_dim,), name="z")([z_mean, z_log_var])
    encoder = Model(x, [z_mean, z_log_var, z], name="encoder")

    latent_inputs = Input(shape=(latent_dim,), name="z_sampling")
    decoded = Dense(intermediate_dim, activation="relu")(latent_inputs)
    decoded = Dense(original_dim, activation="sigmoid")(decoded)
    decoder = Model(latent_inputs, decoded, name="decoder")

    z_mean, z_log_var, z = encoder(x)
    y = VariationalLayer(name="vae_loss")([x, decoder(z), z_mean, z_log_var])
    vae = Model(x, y, name="vae_mlp")
    vae.compile(optimizer="adam", loss=None)
    return vae, encoder, decoder
# -------------------------------------------------------------------------------------------


def main(argv=None):
    args = parser(__doc__.splitlines()[0], epochs=30, out="runs/vae_functional", batch_size=100).parse_args(argv)
    out = setup(args)
    start = time.perf_counter()
    mnist = load_mnist(flatten=True, verbose=args.verbose > 0)
    x_train, x_test, y_test = limit(mnist.x_train, args.limit), mnist.x_test, mnist.y_test
    vae, encoder, decoder = build_vae()
    if args.verbose:
        encoder.summary()
        decoder.summary()
    history = vae.fit(x_train, shuffle=True, epochs=args.epochs, batch_size=args.batch_size,
                      validation_data=(x_test, None), verbose=args.verbose)
    z_mean = encoder.predict(x_test, batch_size=args.batch_size)[0]
    plot.latent_scatter(z_mean, y_test, path=out / "latent.png", title="z_mean of the test digits")
    plot.manifold(lambda z: decoder.predict(np.asarray(z, np.float32)), n=15, path=out / "manifold.png",
                  title="decoded 15x15 grid of codes")
    plot.curves({"train": history.history["loss"], "test": history.history["val_loss"]},
                path=out / "loss_curves.png", ylabel="negative ELBO (nats per image)")
    metrics = {
        "test_nelbo": history.history["val_loss"], "train_loss": history.history["loss"],
        "final_test_nelbo": history.history["val_loss"][-1], "epochs": args.epochs,
        "batch_size": args.batch_size, "seed": args.seed, "n_train": int(len(x_train)),
        "data_source": mnist.source, "wall_time_s": time.perf_counter() - start,
    }
    write_json(out / "metrics.json", metrics)
    print(f"test negative ELBO {metrics['test_nelbo'][0]:.1f} -> {metrics['final_test_nelbo']:.1f} nats after "
          f"{args.epochs} epochs; wall time {metrics['wall_time_s']:.1f} s; figures and metrics.json in {out}")
    return metrics


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
