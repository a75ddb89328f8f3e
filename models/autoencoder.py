"""The dense autoencoder of the lessons: squeeze a digit through a tiny code and back.

    encoder   784 -> Dense 512 relu -> Dense latent_dim            (the code z, no activation)
    decoder   latent_dim -> Dense 512 relu -> Dense 784 -> sigmoid  (pixel intensities in [0, 1])

    ae = Autoencoder(latent_dim=2)
    z = ae.encode(x)                  # (N, 2) codes of flat (N, 784) images
    x_hat = ae.decode(z)              # (N, 784) pixel intensities
    loss = ae.loss(x)                 # BCE summed over the pixels, averaged over the batch
    loss.backward()

It is trained exactly like the VAE (models.vae.Trainer: Adam 1e-3 on ae.loss), and it has the
same reconstruction term, so the two losses are in the same unit (nats per image). What it
lacks is the VAE's KL term: nothing asks the codes to stay near the origin or to fill the
space between digits, which is the lesson's comparison (examples/autoencoder_vs_vae.py).

The decoder's last Dense layer gives logits; decode() applies the sigmoid, and the loss uses
binary cross-entropy from the logits (the same value, computed without ever taking log 0).

Everything here uses minigrad's public API only.
"""
from __future__ import annotations

import math

import minigrad as mg
from minigrad import losses
from minigrad.nn import Dense, Module, Sequential

__all__ = ["Autoencoder", "dense_stack"]


def check_images(x: mg.Tensor, where: str) -> None:
    """The checks every loss on pixels needs: a non-empty batch of values in [0, 1].

    Both likelihoods here predict sigmoid outputs, so data outside [0, 1] (0-255 pixels, NaN)
    would train towards nonsense without a word; stop at the first batch instead.
    """
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"{where}: an empty batch (shape {tuple(x.shape)}); give at least one image")
    low, high = float(x.min()), float(x.max())
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{where}: the batch holds NaN or inf pixels; clean the data first")
    if low < 0 or high > 1:
        raise ValueError(f"{where}: pixels must be in [0, 1], got values in [{low:g}, {high:g}]; "
                         "scale 0-255 images by 1/255 (minigrad.data.load_mnist already does)")


def dense_stack(sizes, input_dim: int, name: str | None = None) -> Sequential:
    """Sequential of relu Dense layers of the given sizes (empty sizes: an identity stack)."""
    if isinstance(sizes, int):
        sizes = (sizes,)
    layers = [Dense(int(units), activation="relu", input_shape=(input_dim,) if i == 0 else None)
              for i, units in enumerate(sizes)]
    return Sequential(layers, name=name)


class Autoencoder(Module):
    """Autoencoder(input_dim=784, hidden=512, latent_dim=2): a deterministic code per image.

    hidden   one width (512) or a tuple of widths for the relu layers on each side; the
             decoder mirrors the encoder.
    Inputs are flat: (N, input_dim) with values in [0, 1] (load_mnist(flatten=True)).
    Built at construction (float32); .double() for gradient checks, .to("cuda") for a GPU.
    """

    loss_names = ("loss",)

    def __init__(self, input_dim: int = 784, hidden=512, latent_dim: int = 2, name: str | None = None):
        super().__init__(name=name)
        hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
        self.input_dim, self.hidden, self.latent_dim = int(input_dim), hidden, int(latent_dim)
        self.encoder = dense_stack(hidden, self.input_dim, name=f"{self.name}_encoder")
        self.encoder.add(Dense(self.latent_dim, input_shape=None if hidden else (self.input_dim,)))
        self.decoder = dense_stack(tuple(reversed(hidden)), self.latent_dim, name=f"{self.name}_decoder")
        self.decoder.add(Dense(self.input_dim, input_shape=None if hidden else (self.latent_dim,)))
        self.built = True
        self.input_shape, self.output_shape = (self.input_dim,), (self.input_dim,)

    def _as_input(self, x) -> mg.Tensor:
        """Host arrays and lists become tensors on the model's device and dtype."""
        if not isinstance(x, mg.Tensor):
            x = mg.tensor(x, dtype=self.dtype, device=self.device)
        return x

    def encode(self, x) -> mg.Tensor:
        """The codes z, (N, latent_dim)."""
        return self.encoder(self._as_input(x))

    def decoder_logits(self, z) -> mg.Tensor:
        """The decoder's output before the sigmoid, (N, input_dim)."""
        return self.decoder(self._as_input(z))

    def decode(self, z) -> mg.Tensor:
        """Pixel intensities in [0, 1], (N, input_dim)."""
        return self.decoder_logits(z).sigmoid()

    def forward(self, x) -> mg.Tensor:
        return self.decode(self.encode(x))

    def reconstruct(self, x) -> mg.Tensor:
        return self.forward(x)

    def reconstruction_loss(self, x, logits) -> mg.Tensor:
        """Binary cross-entropy summed over the pixels, one value per image: (N,)."""
        per_pixel_mean = losses.binary_crossentropy(x, logits, from_logits=True, reduction="none")
        return per_pixel_mean * float(self.input_dim)

    def loss(self, x) -> mg.Tensor:
        """The mean over the batch of the per-image reconstruction loss (nats per image)."""
        x = self._as_input(x)
        check_images(x, f"{type(self).__name__}.loss")
        return self.reconstruction_loss(x, self.decoder_logits(self.encode(x))).mean()

    def summary(self, print_fn=print) -> None:
        self.encoder.summary(print_fn=print_fn)
        self.decoder.summary(print_fn=print_fn)
