"""Variational autoencoders: the MLP VAE and the convolutional VAE of the lessons.

An encoder maps an image x to a Gaussian over latent codes, q(z|x) = N(z_mean, exp(z_log_var));
a decoder maps a code z back to an image distribution p(x|z). Training minimises the negative
ELBO, per image

    -ELBO(x) = E_q[-log p(x|z)]  +  KL(q(z|x) || N(0, I))
               reconstruction       the price of the code (gaussian_kl)

with the expectation estimated by one sample z = z_mean + exp(0.5 * z_log_var) * eps,
eps ~ N(0, I) (the reparameterisation trick: the randomness sits in eps, so the gradient
flows through z_mean and z_log_var). Both terms are sums over pixels / latent dimensions, so
the loss is in nats per image; `loss()` returns (total, reconstruction, kl), each averaged
over the batch, with total = reconstruction + beta * kl.

    vae = MLPVAE(latent_dim=2)                       # 784 -> 512 -> (z_mean, z_log_var)
    trainer = Trainer(vae)                           # Adam(lr=1e-3) on vae.loss
    for xb in batches(x_train, batch_size=100):
        trainer.step(xb)                             # {"loss": ..., "reconstruction": ..., "kl": ...}
    z_mean, z_log_var = vae.encode(x_test)
    digits = vae.sample(16)                          # decode codes drawn from the prior

Likelihoods, p(x|z), chosen by name:
    "bernoulli"  each pixel is a coin with probability decode(z) (a sigmoid):
                 -log p(x|z) = sum over pixels of BCE(x, decode(z)). For MNIST in [0, 1] this
                 is the lessons' loss (and the benchmark's negative ELBO). It is computed from
                 the decoder's logits (same value, no log 0).
    "gaussian"   each pixel ~ N(decode(z), sigma^2) with a fixed sigma (`sigma`, default 0.1):
                 -log p(x|z) = sum (x - decode(z))^2 / (2 sigma^2) + (D/2) log(2 pi sigma^2),
                 i.e. D * MSE / (2 sigma^2) plus a constant. The constant does not change the
                 gradients; it is included so the value is a true negative log-likelihood
                 (it is negative for small sigma: densities can exceed 1). sigma sets how much
                 a squared error costs against the KL term: sigma^2 = 0.5 is "sum of squared
                 errors + KL".
beta weighs the KL term (beta-VAE): 1 is the ELBO, 0 removes the KL term from the training
loss (an autoencoder with noisy codes); loss() still reports the KL value.

The decoder's last layer gives logits; decode() applies the sigmoid (so outputs are in
[0, 1] for both likelihoods). Everything here uses minigrad's public API only.
"""
from __future__ import annotations

import math

import minigrad as mg
from minigrad import losses
from minigrad.nn import Conv2D, Conv2DTranspose, Dense, Flatten, Module, Reshape, Sequential
from minigrad.optim import Adam, check_finite_step

from .autoencoder import check_images, dense_stack

__all__ = ["VAE", "MLPVAE", "ConvVAE", "Trainer", "LIKELIHOODS"]

LIKELIHOODS = ("bernoulli", "gaussian")


class VAE(Module):
    """What the MLP and convolutional VAEs share: reparameterisation, likelihood, loss, sampling.

    A subclass sets, in __init__:
        self.encoder              Sequential: image -> features
        self.z_mean_head, self.z_log_var_head    Dense(latent_dim) each, on the features
        self.decoder              Sequential: code -> logits of the image's shape
        self.image_shape          per-sample shape of x (e.g. (784,) or (1, 28, 28))
    """

    loss_names = ("loss", "reconstruction", "kl")

    def __init__(self, latent_dim: int, likelihood: str = "bernoulli", beta: float = 1.0,
                 sigma: float = 0.1, name: str | None = None):
        super().__init__(name=name)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if not beta >= 0:
            raise ValueError(f"beta (the KL weight) must be >= 0, got {beta}")
        if not sigma > 0:
            raise ValueError(f"sigma (the Gaussian likelihood's std) must be > 0, got {sigma}")
        self.latent_dim = int(latent_dim)
        self.likelihood = likelihood
        self.beta = float(beta)
        self.sigma = float(sigma)

    def _finish_build(self):
        self.built = True
        self.input_shape = self.output_shape = tuple(self.image_shape)

    def _as_input(self, x) -> mg.Tensor:
        """Host arrays and lists become tensors on the model's device and dtype."""
        if not isinstance(x, mg.Tensor):
            x = mg.tensor(x, dtype=self.dtype, device=self.device)
        return x

    @property
    def n_pixels(self) -> int:
        return math.prod(self.image_shape)

    # ------------------------------------------------------------------ the three stages
    def encode(self, x):
        """(z_mean, z_log_var), each (N, latent_dim): the Gaussian q(z|x)."""
        h = self.encoder(self._as_input(x))
        return self.z_mean_head(h), self.z_log_var_head(h)

    def reparameterize(self, z_mean, z_log_var, eps=None) -> mg.Tensor:
        """z = z_mean + exp(0.5 * z_log_var) * eps, eps ~ N(0, I) from the seeded generator.

        Pass eps (a tensor or array of z_mean's shape) to fix the noise, e.g. for gradient checks.
        """
        if eps is None:
            eps = mg.randn(*z_mean.shape, dtype=z_mean.dtype, device=z_mean.device)
        elif not isinstance(eps, mg.Tensor):
            eps = mg.tensor(eps, dtype=z_mean.dtype, device=z_mean.device)
        if tuple(eps.shape) != tuple(z_mean.shape):
            raise ValueError(f"reparameterize: eps has shape {tuple(eps.shape)} but z_mean has shape "
                             f"{tuple(z_mean.shape)}; they must match (batch, latent_dim)")
        return z_mean + (z_log_var * 0.5).exp() * eps

    def decoder_logits(self, z) -> mg.Tensor:
        """The decoder's output before the sigmoid, (N, *image_shape)."""
        return self.decoder(self._as_input(z))

    def decode(self, z) -> mg.Tensor:
        """The mean image of p(x|z), pixels in [0, 1], (N, *image_shape)."""
        return self.decoder_logits(z).sigmoid()

    def forward(self, x, eps=None):
        """(x_hat, z_mean, z_log_var, z) for a batch x; x_hat decodes a sampled z."""
        z_mean, z_log_var = self.encode(x)
        z = self.reparameterize(z_mean, z_log_var, eps)
        return self.decode(z), z_mean, z_log_var, z

    def reconstruct(self, x) -> mg.Tensor:
        """Decode each image's mean code (no sampling): the figure of the lessons."""
        return self.decode(self.encode(x)[0])

    def sample(self, n: int) -> mg.Tensor:
        """n new images: codes drawn from the prior N(0, I) (seeded generator), decoded."""
        z = mg.randn(int(n), self.latent_dim, dtype=self.dtype, device=self.device)
        return self.decode(z)

    # ------------------------------------------------------------------ the loss
    def reconstruction_loss(self, x, logits) -> mg.Tensor:
        """-log p(x|z), one value per image (N,), in nats: a sum over the pixels."""
        d = float(self.n_pixels)
        if self.likelihood == "bernoulli":
            return losses.binary_crossentropy(x, logits, from_logits=True, reduction="none") * d
        mean_sq = losses.mean_squared_error(x, logits.sigmoid(), reduction="none")
        constant = 0.5 * d * math.log(2.0 * math.pi * self.sigma ** 2)
        return mean_sq * (d / (2.0 * self.sigma ** 2)) + constant

    def loss(self, x, eps=None, per_image: bool = False):
        """(total, reconstruction, kl): batch means of the per-image terms, in nats per image.

        total = reconstruction + beta * kl. With beta = 1 and the Bernoulli likelihood, total is
        the negative ELBO (one-sample estimate). per_image=True returns the (N,) tensors instead.
        """
        x = self._as_input(x)
        check_images(x, f"{type(self).__name__}.loss")
        z_mean, z_log_var = self.encode(x)
        z = self.reparameterize(z_mean, z_log_var, eps)
        recon = self.reconstruction_loss(x, self.decoder_logits(z))
        kl = losses.gaussian_kl(z_mean, z_log_var, reduction="none")
        total = recon + kl * self.beta if self.beta else recon
        if per_image:
            return total, recon, kl
        return total.mean(), recon.mean(), kl.mean()

    def summary(self, print_fn=print) -> None:
        """The encoder, the two heads and the decoder, Keras-style."""
        self.encoder.summary(print_fn=print_fn)
        for head in (self.z_mean_head, self.z_log_var_head):
            n = head.count_params()
            print_fn(f"{head.name}: Dense({head.units}) on the encoder's output, {n:,} params")
        self.decoder.summary(print_fn=print_fn)
        print_fn(f"VAE total params: {self.count_params():,}  (likelihood={self.likelihood}, "
                 f"beta={self.beta:g}, latent_dim={self.latent_dim})")


class MLPVAE(VAE):
    """MLPVAE(input_dim=784, hidden=512, latent_dim=2, likelihood="bernoulli", beta=1.0, sigma=0.1)

        encoder   input_dim -> Dense hidden relu -> Dense latent (z_mean), Dense latent (z_log_var)
        decoder   latent -> Dense hidden relu -> Dense input_dim -> sigmoid
    hidden may be a tuple of widths (the decoder mirrors it). Inputs are flat (N, input_dim).
    """

    def __init__(self, input_dim: int = 784, hidden=512, latent_dim: int = 2,
                 likelihood: str = "bernoulli", beta: float = 1.0, sigma: float = 0.1,
                 name: str | None = None):
        super().__init__(latent_dim, likelihood, beta, sigma, name=name)
        hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
        if not hidden:
            raise ValueError("MLPVAE needs at least one hidden layer (hidden=512 or a tuple of widths)")
        self.input_dim, self.hidden = int(input_dim), hidden
        self.image_shape = (self.input_dim,)
        self.encoder = dense_stack(hidden, self.input_dim, name=f"{self.name}_encoder")
        self.z_mean_head = Dense(self.latent_dim, input_shape=(hidden[-1],), name=f"{self.name}_z_mean")
        self.z_log_var_head = Dense(self.latent_dim, input_shape=(hidden[-1],),
                                    name=f"{self.name}_z_log_var")
        self.z_mean_head.build_for((hidden[-1],))
        self.z_log_var_head.build_for((hidden[-1],))
        self.decoder = dense_stack(tuple(reversed(hidden)), self.latent_dim, name=f"{self.name}_decoder")
        self.decoder.add(Dense(self.input_dim))
        self._finish_build()


class ConvVAE(VAE):
    """The convolutional VAE of the Keras lesson (Chollet, Deep Learning with Python, 8.4).

        encoder   Conv2D f0 3x3 same relu -> Conv2D f1 3x3 same relu stride 2 -> Conv2D f2 3x3 same
                  relu -> Conv2D f3 3x3 same relu -> Flatten -> Dense dense relu
                  -> Dense latent (z_mean), Dense latent (z_log_var)
        decoder   latent -> Dense (f3 * H/2 * W/2) relu -> Reshape (f3, H/2, W/2)
                  -> Conv2DTranspose f0 3x3 same stride 2 relu -> Conv2D C 3x3 same -> sigmoid
    with filters = (f0, f1, f2, f3) = (32, 64, 64, 64) and dense = 32 by default, on NCHW images
    of input_shape = (1, 28, 28); H and W must be even. Small filters / dense / input_shape make
    the tiny instances of the gradient checks.
    """

    def __init__(self, input_shape=(1, 28, 28), latent_dim: int = 2, filters=(32, 64, 64, 64),
                 dense: int = 32, likelihood: str = "bernoulli", beta: float = 1.0, sigma: float = 0.1,
                 name: str | None = None):
        super().__init__(latent_dim, likelihood, beta, sigma, name=name)
        c, h, w = (int(n) for n in input_shape)
        if h % 2 or w % 2:
            raise ValueError(f"ConvVAE: image height and width must be even (stride-2 down and up), "
                             f"got {h}x{w}")
        f0, f1, f2, f3 = (int(f) for f in filters)
        self.image_shape = (c, h, w)
        self.filters, self.dense = (f0, f1, f2, f3), int(dense)
        self.encoder = Sequential([
            Conv2D(f0, 3, padding="same", activation="relu", input_shape=(c, h, w)),
            Conv2D(f1, 3, padding="same", activation="relu", strides=2),
            Conv2D(f2, 3, padding="same", activation="relu"),
            Conv2D(f3, 3, padding="same", activation="relu"),
            Flatten(),
            Dense(self.dense, activation="relu"),
        ], name=f"{self.name}_encoder")
        self.z_mean_head = Dense(self.latent_dim, name=f"{self.name}_z_mean")
        self.z_log_var_head = Dense(self.latent_dim, name=f"{self.name}_z_log_var")
        self.z_mean_head.build_for((self.dense,))
        self.z_log_var_head.build_for((self.dense,))
        self.decoder = Sequential([
            Dense(f3 * (h // 2) * (w // 2), activation="relu", input_shape=(self.latent_dim,)),
            Reshape((f3, h // 2, w // 2)),
            Conv2DTranspose(f0, 3, padding="same", activation="relu", strides=2),
            Conv2D(c, 3, padding="same"),
        ], name=f"{self.name}_decoder")
        self._finish_build()


class Trainer:
    """The training step the examples and tests share: Adam (lr 1e-3) on model.loss.

        trainer = Trainer(model)              # any model with loss(x) -> tensor or tuple of tensors
        values = trainer.step(x_batch)        # {"loss": ..., "reconstruction": ..., "kl": ...} floats
        scores = trainer.evaluate(x_test)     # the same names, means over every image, no update

    The first loss term is the one minimised; the others are reported. Names come from
    model.loss_names (("loss",) for the autoencoder).

    A step whose loss or any gradient is NaN/inf stops with FloatingPointError before the
    update, naming the step and the first non-finite quantity: the weights stay those of the
    last good step. `steps` counts the updates made.
    """

    def __init__(self, model, lr: float = 1e-3, optimizer=None):
        self.model = model
        self.optimizer = optimizer if optimizer is not None else Adam(model.parameters(), lr=lr)
        self.names = tuple(getattr(model, "loss_names", ("loss",)))
        self.steps = 0

    def _terms(self, out):
        return out if isinstance(out, (tuple, list)) else (out,)

    def step(self, x) -> dict:
        """One update on batch x; returns the batch's loss terms as floats."""
        self.model.train()
        self.optimizer.zero_grad()
        terms = self._terms(self.model.loss(x))
        terms[0].backward()
        check_finite_step(f"Trainer.step (update {self.steps + 1}, loss term '{self.names[0]}')",
                          terms[0], self.optimizer.params)
        self.optimizer.step()
        self.steps += 1
        return {name: float(t.item()) for name, t in zip(self.names, terms)}

    def evaluate(self, x, batch_size: int = 500) -> dict:
        """Loss terms averaged over every image of x (one posterior sample each), no update."""
        n = len(x)
        if n == 0:
            raise ValueError("Trainer.evaluate: no images to score (x is empty)")
        self.model.eval()
        totals = dict.fromkeys(self.names, 0.0)
        with mg.no_grad():
            for start in range(0, n, batch_size):
                xb = x[start:start + batch_size]
                for name, t in zip(self.names, self._terms(self.model.loss(xb))):
                    totals[name] += float(t.item()) * len(xb)
        self.model.train()
        return {name: total / n for name, total in totals.items()}
