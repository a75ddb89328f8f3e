# %% [markdown]
# # The lessons' MLP VAE written with the Keras functional API, exactly as the lessons build it.
#
#     python examples/vae_functional.py                  # 30 epochs, batch 100, Adam
#     python examples/vae_functional.py --epochs 2 --limit 500 --out /tmp/vaef
#
# The Keras code, with renames only (keras.layers/keras.models -> minigrad.nn, K.* -> mg.*):
# an encoder Model(x, [z_mean, z_log_var, z]) with a Lambda sampling layer, a decoder Model,
# a VariationalLayer whose call() adds BCE * 784 + KL with add_loss, compile(optimizer="adam",
# loss=None) and fit(x_train, shuffle=True, epochs=30, batch_size=100,
# validation_data=(x_test, None)). val_loss is then the test negative ELBO per image (one
# posterior sample per digit), the number examples/vae_mnist.py reports for the Module version.
#
# Writes to --out (default runs/vae_functional): latent.png (z_mean of the test digits by digit),
# manifold.png (a 15x15 grid of decoded codes), loss_curves.png, metrics.json.

# %%
import time

import numpy as np

import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)

import minigrad as mg
from minigrad import plot
from minigrad.data import load_mnist
from minigrad.losses import binary_crossentropy
from minigrad.nn import Dense, Input, Lambda, Layer, Model

original_dim, intermediate_dim, latent_dim = 784, 512, 2

# %% tags=["parameters"]
epochs = 30                  # training epochs
batch_size = 100             # mini-batch size
limit = None                 # use only the first N training examples (quick runs)
seed = 0                     # random seed
device = "cpu"               # cpu, cuda or cuda:N
out = "runs/vae_functional"  # folder for the figures and metrics.json
verbose = 1                  # 0 quiet, 1 progress bars, 2 one line per epoch

# %%
out = common.parameters(globals())

# %% [markdown]
# ## The sampling layer: the reparameterisation trick
#
# z = z_mean + σ·ε with σ = exp(½·z_log_var) and ε ~ N(0, I): the randomness is in ε, so z is
# a differentiable function of z_mean and z_log_var and the gradient reaches the encoder.

# %%
def sampling(args):
    """Reparameterisation trick: z = z_mean + sigma * epsilon, epsilon ~ N(0, I)."""
    z_mean, z_log_var = args
    batch = mg.shape(z_mean)[0]
    epsilon = mg.random_normal(shape=(batch, latent_dim), dtype=z_mean.dtype)
    return z_mean + mg.exp(0.5 * z_log_var) * epsilon

# %% [markdown]
# ## The loss as a layer
#
# The Keras lesson adds the VAE's loss from inside a layer with `add_loss`: per image,
# 784·BCE(x, x̂) (the mean BCE times the pixels = the sum over pixels) plus
# KL = −½ Σ (1 + log σ² − μ² − σ²). The layer passes x̂ through; `compile(loss=None)` then
# trains on the added loss alone.

# %%
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

# %% [markdown]
# ## Encoder, decoder, VAE: three functional models
#
# `Model(inputs, outputs)` over symbolic `Input`s, as the lesson writes it: the encoder returns
# `[z_mean, z_log_var, z]`, the decoder maps a code to 784 pixels, and the VAE chains them
# into the loss layer.

# %%
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

# %%
start = time.perf_counter()
mnist = load_mnist(flatten=True, verbose=verbose > 0)
x_train, x_test, y_test = common.limit(mnist.x_train, limit), mnist.x_test, mnist.y_test
vae, encoder, decoder = build_vae()
if verbose:
    encoder.summary()
    decoder.summary()

# %% [markdown]
# ## Training: `fit(x)` with no targets
#
# The loss lives in the model, so `fit` gets the images alone, and
# `validation_data=(x_test, None)` scores the test digits after each epoch.

# %%
history = vae.fit(x_train, shuffle=True, epochs=epochs, batch_size=batch_size,
                  validation_data=(x_test, None), verbose=verbose)

# %% [markdown]
# ## The codes of the test digits, and the decoder over a grid of codes
#
# As in vae_mnist.py: the digits settle into areas of a round cloud around the origin, and
# a 15×15 grid of codes decodes to digits that morph into one another.

# %%
z_mean = encoder.predict(x_test, batch_size=batch_size)[0]
plot.latent_scatter(z_mean, y_test, path=out / "latent.png", title="z_mean of the test digits")
plot.manifold(lambda z: decoder.predict(np.asarray(z, np.float32)), n=15, path=out / "manifold.png",
              title="decoded 15x15 grid of codes")
common.show(out / "latent.png", out / "manifold.png")

# %% [markdown]
# ## The loss curves

# %%
plot.curves({"train": history.history["loss"], "test": history.history["val_loss"]},
            path=out / "loss_curves.png", ylabel="negative ELBO (nats per image)")
common.show(out / "loss_curves.png")

# %%
metrics = {
    "test_nelbo": history.history["val_loss"], "train_loss": history.history["loss"],
    "final_test_nelbo": history.history["val_loss"][-1], "epochs": epochs,
    "batch_size": batch_size, "seed": seed, "n_train": int(len(x_train)),
    "data_source": mnist.source, "wall_time_s": time.perf_counter() - start,
}
common.write_json(out / "metrics.json", metrics)
print(f"test negative ELBO {metrics['test_nelbo'][0]:.1f} -> {metrics['final_test_nelbo']:.1f} nats after "
      f"{epochs} epochs; wall time {metrics['wall_time_s']:.1f} s; figures and metrics.json in {out}")
