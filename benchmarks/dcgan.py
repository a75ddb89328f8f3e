"""The keras-gan DCGAN train step: minigrad (models/dcgan.py) and the same step in PyTorch CPU.

One step, keras-gan's loop (see models/dcgan.py for the architecture):
    fake = G(z) in inference mode, no graph (keras-gan: generator.predict)
    D update on the real batch (label 1), then D update on the fake batch (label 0),
        each: forward, BCE on probabilities, backward, Adam(2e-4, 0.5), loss and accuracy read
    G update through D with the same z (label 1): D in training mode (dropout, batch
        statistics) but its weights frozen and its moving statistics restored afterwards
Batch sizes 32 (keras-gan's) and 64. Real images are uniform noise in [-1, 1] (the cost does
not depend on the pixels).
"""
from __future__ import annotations

import numpy as np

LATENT = 100


def real_batch(n, seed=3):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 1, 28, 28)).astype(np.float32)


class MinigradDCGAN:
    def __init__(self, batch):
        import minigrad as mg
        from models.dcgan import DCGAN
        mg.manual_seed(0)
        self.gan = DCGAN(seed=0)
        self.real = real_batch(batch)

    def step(self):
        return self.gan.train_step(self.real)["g_loss"]


class TorchDCGAN:
    def __init__(self, batch):
        import torch
        from torch import nn
        self.torch = torch
        torch.manual_seed(0)
        bn = lambda c: nn.BatchNorm2d(c, eps=1e-3, momentum=0.2)    # Keras BN(momentum=0.8)
        same_s2 = lambda: nn.ZeroPad2d((0, 1, 0, 1))                  # TF "same", stride 2, even size
        self.G = nn.Sequential(
            nn.Linear(LATENT, 128 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (128, 7, 7)),
            nn.Upsample(scale_factor=2), nn.Conv2d(128, 128, 3, padding=1), bn(128), nn.ReLU(),
            nn.Upsample(scale_factor=2), nn.Conv2d(128, 64, 3, padding=1), bn(64), nn.ReLU(),
            nn.Conv2d(64, 1, 3, padding=1), nn.Tanh())
        self.D = nn.Sequential(
            same_s2(), nn.Conv2d(1, 32, 3, stride=2), nn.LeakyReLU(0.2), nn.Dropout(0.25),
            same_s2(), nn.Conv2d(32, 64, 3, stride=2), nn.ZeroPad2d((0, 1, 0, 1)), bn(64),
            nn.LeakyReLU(0.2), nn.Dropout(0.25),
            same_s2(), nn.Conv2d(64, 128, 3, stride=2), bn(128), nn.LeakyReLU(0.2), nn.Dropout(0.25),
            nn.Conv2d(128, 256, 3, padding=1), bn(256), nn.LeakyReLU(0.2), nn.Dropout(0.25),
            nn.Flatten(), nn.Linear(256 * 4 * 4, 1), nn.Sigmoid())
        adam = lambda m: torch.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-7)
        self.opt_d, self.opt_g = adam(self.D), adam(self.G)
        self.rng = np.random.default_rng(0)
        self.real = torch.from_numpy(real_batch(batch))
        self.ones, self.zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
        self.bce = torch.nn.functional.binary_cross_entropy

    def step(self):
        torch = self.torch
        n = self.real.shape[0]
        z = torch.from_numpy(self.rng.standard_normal((n, LATENT)).astype(np.float32))
        self.G.eval()
        with torch.no_grad():
            fake = self.G(z)
        self.D.train()
        for images, target in ((self.real, self.ones), (fake, self.zeros)):
            self.opt_d.zero_grad(set_to_none=True)
            p = self.D(images)
            loss = self.bce(p, target)
            loss.backward()
            self.opt_d.step()
            loss.item(), ((p > 0.5).float() == target).float().mean().item()
        # G through the frozen D (D's BN moving statistics restored, as minigrad's frozen_weights)
        self.G.train()
        buffers = [b.clone() for b in self.D.buffers()]
        for p in self.D.parameters():
            p.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        loss = self.bce(self.D(self.G(z)), self.ones)
        loss.backward()
        self.opt_g.step()
        for p in self.D.parameters():
            p.requires_grad_(True)
        with torch.no_grad():
            for b, saved in zip(self.D.buffers(), buffers):
                b.copy_(saved)
        return loss.item()


IMPLEMENTATIONS = {"minigrad": MinigradDCGAN, "torch": TorchDCGAN}


def make(impl, batch):
    return IMPLEMENTATIONS[impl](batch).step


# ----------------------------------------------------------------------------- arithmetic of one step

def _layers(batch):
    """(GEMM flops of one pass, name) of every weight layer: 2*N*C_out*C_in*k*k*Ho*Wo for a conv."""
    conv = lambda c_in, c_out, out_hw: 2 * batch * c_out * c_in * 9 * out_hw * out_hw
    generator = [2 * batch * LATENT * 128 * 7 * 7, conv(128, 128, 14), conv(128, 64, 28), conv(64, 1, 28)]
    discriminator = [conv(1, 32, 14), conv(32, 64, 7), conv(64, 128, 4), conv(128, 256, 4),
                     2 * batch * 256 * 4 * 4]
    return generator, discriminator


def step_flops(batch):
    """Multiply-add flops (x2) of the GEMMs of one keras-gan step, counted as both sides run them.

    Each pass of a layer (forward, input gradient dx, weight gradient dw) is one GEMM of the
    same size. G.predict: G forward. Each D update: D forward, dw everywhere, dx everywhere
    but the first layer (the images need no gradient). G update: G and D forward, dx through
    every D layer (frozen: no dw) and every G layer but the first (z needs none), dw in G.
    """
    g, d = _layers(batch)
    predict = sum(g)
    d_update = sum(d) + sum(d) + sum(d[1:])
    g_update = sum(g) + sum(d) + sum(d) + sum(g[1:]) + sum(g)
    return predict + 2 * d_update + g_update
