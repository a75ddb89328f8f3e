# %% [markdown]
# # The VAE once more: a Model subclass with its own train_step, trained by fit
#
# vae_mnist.py trains the variational autoencoder with a loop of its own (models/vae.py's
# Trainer). Keras 3 writes the same model the other way round: the model *is* a
# `keras.Model` subclass whose `train_step(data)` does one update, and the ordinary
# `fit()` calls it, batch after batch, with progress bars, validation and callbacks for free.
# This lesson is Keras' tutorial "Variational AutoEncoder" (François Chollet, keras.io,
# examples/generative/vae) with the renames minigrad needs and nothing else:
#
#     keras.layers.Layer, keras.Model, keras.metrics.Mean     ->  nn.Layer, nn.Model, nn.metrics.Mean
#     ops.exp, ops.square, ops.mean, ops.sum                  ->  mg.exp, t * t, .mean(), .sum(axis)
#     keras.random.normal                                     ->  mg.randn
#     tf.GradientTape / tape.gradient                         ->  mg.GradientTape / tape.gradient
#
# The loss is the tutorial's: the binary cross-entropy summed over the pixels plus
# KL(q(z|x) || N(0, I)) = -1/2 sum (1 + log var - mean^2 - var), per image, averaged over the
# batch: the negative ELBO in nats. Two changes of setting, to compare with vae_mnist.py:
# the architecture is vae_mnist's MLP by default (`conv = True` gives the tutorial's
# convolutional encoder and decoder), and a `test_step` scores the test digits after every
# epoch (fit's validation_data), so that `val_total_loss` is vae_mnist's `test_nelbo`.
#
# Measured (seed 0, 30 epochs, batch 100, Adam 1e-3, the 5k subset, OPENBLAS_NUM_THREADS=1, a
# 2-core CPU at load ~3), one run right after the other: the test negative ELBO after epoch 30
# is 168.04 nats here and 168.48 in vae_mnist.py (epoch 1: 218.9 and 221.9), 0.44 apart; the
# training took 19.0 s here and 16.6 s there (fit's per-batch bookkeeping, and the tutorial's
# cross-entropy on probabilities where vae_mnist uses the fused form on logits).
# tests/test_examples_train_step.py runs a tiny version of both.

# %%
import time

import numpy as np

import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)
import minigrad as mg
from minigrad import nn, plot
from minigrad.data import load_mnist
from vae_training import save_figure

# %% tags=["parameters"]
epochs = 30             # training epochs
conv = False            # the tutorial's convolutional encoder and decoder instead of vae_mnist's MLP
latent_dim = 2          # size of the latent space
lr = 1e-3               # Adam learning rate
batch_size = 100        # mini-batch size
test_limit = None       # score only the first N test digits (quick runs)
limit = None            # use only the first N training examples (quick runs)
seed = 0                # random seed
device = "cpu"          # cpu, cuda or cuda:N
out = "runs/vae_train_step"  # folder for the figures and metrics.json
verbose = 1             # 0 quiet, 1 progress bars, 2 one line per epoch

# %%
out = common.parameters(globals())

# %% [markdown]
# ## The digits
#
# Pixels in [0, 1], flat vectors of 784 for the MLP, (1, 28, 28) images (NCHW) for the
# convolutional model.

# %%
started = time.perf_counter()
mnist = load_mnist(flatten=not conv)
x_train = common.limit(mnist.x_train, limit)
x_test = common.limit(mnist.x_test, test_limit)
print(f"data: {mnist.source}; training on {len(x_train):,} digits, scoring {len(x_test):,}")

# %% [markdown]
# ## Sampling: the reparameterisation trick as a layer
#
# z = z_mean + exp(z_log_var / 2) * epsilon with epsilon ~ N(0, I): the randomness sits in
# epsilon, so the gradient reaches z_mean and z_log_var.

# %%
class Sampling(nn.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch, dim = z_mean.shape
        epsilon = mg.randn(batch, dim, dtype=z_mean.dtype, device=z_mean.device)
        return z_mean + mg.exp(0.5 * z_log_var) * epsilon


# %% [markdown]
# ## The encoder and the decoder, functional models
#
# The MLP is vae_mnist.py's (784 -> 512 relu -> 2 + 2; 2 -> 512 relu -> 784 sigmoid); the
# convolutional pair is the tutorial's (two stride-2 convolutions down, three transposed up).

# %%
if conv:
    encoder_inputs = nn.Input(shape=(1, 28, 28))
    x = nn.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = nn.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = nn.Flatten()(x)
    x = nn.Dense(16, activation="relu")(x)
else:
    encoder_inputs = nn.Input(shape=(784,))
    x = nn.Dense(512, activation="relu")(encoder_inputs)
z_mean = nn.Dense(latent_dim, name="z_mean")(x)
z_log_var = nn.Dense(latent_dim, name="z_log_var")(x)
z = Sampling()([z_mean, z_log_var])
encoder = nn.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")

latent_inputs = nn.Input(shape=(latent_dim,))
if conv:
    x = nn.Dense(64 * 7 * 7, activation="relu")(latent_inputs)
    x = nn.Reshape((64, 7, 7))(x)
    x = nn.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = nn.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    decoder_outputs = nn.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
else:
    x = nn.Dense(512, activation="relu")(latent_inputs)
    decoder_outputs = nn.Dense(784, activation="sigmoid")(x)
decoder = nn.Model(latent_inputs, decoder_outputs, name="decoder")
if verbose:
    encoder.summary()
    decoder.summary()


# %% [markdown]
# ## The model: train_step is one update
#
# `fit()` calls `train_step(data)` with each batch (here the images alone: there are no
# targets) and shows what it returns. The three `Mean` trackers average the losses over the
# epoch; listing them in `metrics` lets fit reset them at the start of every epoch.
# `test_step` is the same computation without the update, for the test digits.

# %%
def vae_losses(vae, data, training):
    z_mean, z_log_var, z = vae.encoder(data, training=training)
    reconstruction = vae.decoder(z, training=training)
    pixel_axes = tuple(range(1, data.ndim))              # the tutorial's axis=(1, 2), for any image shape
    reconstruction_loss = _bce(data, reconstruction).sum(axis=pixel_axes).mean()
    kl_loss = -0.5 * (1 + z_log_var - z_mean * z_mean - mg.exp(z_log_var))
    kl_loss = kl_loss.sum(axis=1).mean()
    return reconstruction_loss + kl_loss, reconstruction_loss, kl_loss


def _bce(target, probability, eps=1e-7):
    """Keras' binary_crossentropy per pixel: probabilities clipped to [eps, 1 - eps]."""
    p = mg.clip(probability, eps, 1 - eps)
    return -(target * mg.log(p) + (1 - target) * mg.log(1 - p))


class VAE(nn.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = nn.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = nn.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = nn.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def train_step(self, data):
        with mg.GradientTape() as tape:
            total_loss, reconstruction_loss, kl_loss = vae_losses(self, data, training=True)
        weights = self.trainable_weights          # once: each look walks the model's layers
        grads = tape.gradient(total_loss, weights)
        self.optimizer.apply_gradients(zip(grads, weights))
        return self._track(total_loss, reconstruction_loss, kl_loss)

    def test_step(self, data):
        return self._track(*vae_losses(self, data, training=False))

    def _track(self, total_loss, reconstruction_loss, kl_loss):
        self.total_loss_tracker.update_state(total_loss.item())
        self.reconstruction_loss_tracker.update_state(reconstruction_loss.item())
        self.kl_loss_tracker.update_state(kl_loss.item())
        return {"loss": self.total_loss_tracker.result(),
                "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                "kl_loss": self.kl_loss_tracker.result()}


# %% [markdown]
# ## Train with fit and callbacks
#
# The ordinary Keras calls: compile with an optimizer (no loss: train_step computes it), fit
# with the test digits as validation data (x_test, None): no targets; a LambdaCallback writes metrics.json after every
# epoch, ModelCheckpoint keeps the weights of the best epoch.

# %%
vae = VAE(encoder, decoder, name="vae")
vae.to(device)
vae.compile(optimizer=mg.optim.Adam(learning_rate=lr))
metrics = {"model": "conv" if conv else "mlp", "latent_dim": latent_dim, "epochs": epochs, "batch_size": batch_size,
           "lr": lr, "seed": seed, "device": device, "data_source": mnist.source, "n_train": len(x_train),
           "n_test": len(x_test),
           "loss": "negative ELBO in nats per image = binary cross-entropy summed over the pixels + "
                   "KL(q(z|x) || N(0, I)), one posterior sample per image"}


def save_metrics(epoch, logs):
    for key, name in (("train_nelbo", "loss"), ("test_nelbo", "val_loss"), ("test_reconstruction",
                      "val_reconstruction_loss"), ("test_kl", "val_kl_loss")):
        metrics.setdefault(key, []).append(logs[name])
    metrics["epochs_done"] = epoch + 1
    common.write_json(out / "metrics.json", metrics)


with common.Timer() as timer:
    history = vae.fit(x_train, epochs=epochs, batch_size=batch_size, validation_data=(x_test, None), verbose=verbose,
                      callbacks=[nn.callbacks.LambdaCallback(on_epoch_end=save_metrics),
                                 nn.callbacks.ModelCheckpoint(str(out / "vae_best.npz"), monitor="val_loss",
                                                              save_best_only=True)])
nelbo = history.history["val_loss"]
print("test negative ELBO (nats per image) by epoch: " + ", ".join(f"{v:.1f}" for v in nelbo))

# %% [markdown]
# ## The loss curves and the latent space
#
# The same pictures as vae_mnist.py: the negative ELBO falls, its KL part rises as the code
# starts to carry information; the test digits' z_mean form a round cloud, by class.

# %%
figure = plot.curves([{"train": history.history["loss"], "test": nelbo},
                      {"train": history.history["kl_loss"], "test": history.history["val_kl_loss"]}],
                     title=["negative ELBO", "KL(q(z|x) || N(0, I))"], ylabel="nats per image")
save_figure(figure, out / "loss_curves.png")
common.show(out / "loss_curves.png")
z_means = np.concatenate([encoder.predict(x_test[i:i + 500], batch_size=500)[0] for i in range(0, len(x_test), 500)])
save_figure(plot.latent_scatter(z_means[:, :2], common.limit(mnist.y_test, test_limit),
                                title=f"z_mean of {len(x_test)} test digits (train_step VAE)"), out / "latent.png")
common.show(out / "latent.png")

# %% [markdown]
# ## The numbers

# %%
metrics.update({"final_test_nelbo": nelbo[-1], "best_test_nelbo": min(nelbo), "train_seconds": timer.seconds,
                "wall_time_s": time.perf_counter() - started, "figures": ["loss_curves.png", "latent.png"]})
common.write_json(out / "metrics.json", metrics)
print(f"final test negative ELBO {nelbo[-1]:.2f} nats (first {nelbo[0]:.2f}); training {timer.seconds:.1f} s; "
      f"figures and metrics.json in {out}")
