# %% [markdown]
# # 11. The GAN's two losses
#
# A GAN trains two networks against each other (Goodfellow et al. 2014). The discriminator
# $D$ outputs a logit $\ell$, with $D = \sigma(\ell)$ the probability that its input is real;
# the generator $G$ turns noise into samples. The discriminator minimises the binary
# cross-entropy of telling real (label 1) from generated (label 0):
#
# $$L_D = -\log \sigma(\ell_{\text{real}}) - \log\big(1 - \sigma(\ell_{\text{fake}})\big) .$$
#
# The generator wants $D$ to be wrong. Minimising $\log(1 - D(G(z)))$ (the original minimax
# form) *saturates*: early on $D$ easily rejects the fakes, $D(G(z)) \approx 0$, and the
# gradient with respect to the logit, $-\sigma(\ell)$, is almost 0. The *non-saturating*
# loss $-\log D(G(z))$ has the same fixed point but gradient $\sigma(\ell) - 1 \approx -1$
# there: the generator learns most when it is worst. It is the loss the DCGAN lessons use
# (train G with label 1 through the frozen D).
#
# Written with logits, both are softplus terms, $-\log\sigma(\ell) = \mathrm{softplus}(-\ell)$
# and $-\log(1-\sigma(\ell)) = \mathrm{softplus}(\ell)$, stable for any $\ell$, where
# $\log(\sigma(\ell))$ computed directly gives $-\infty$ for $\ell \lesssim -710$ in float64 ($e^{710}$ overflows).

# %%
import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad import losses
from minigrad.testing import check_arrays, check_gradients

logits = mg.tensor(np.linspace(-8, 8, 161), requires_grad=True)
minimax = mg.log(1 - logits.sigmoid())           # the generator minimises this (saturating)
minimax.sum().backward()
g_minimax = logits.grad.numpy().copy()
logits.grad = None
nonsaturating = -mg.log(logits.sigmoid())
nonsaturating.sum().backward()
g_nonsaturating = logits.grad.numpy()
d = 1 / (1 + np.exp(-logits.numpy()))
fig, ax = plt.subplots(figsize=(6.5, 3.5))
ax.plot(d, np.abs(g_minimax), label="minimax: log(1 - D)")
ax.plot(d, np.abs(g_nonsaturating), label="non-saturating: -log D")
ax.set_xlabel("D(G(z)): the discriminator's belief that a fake is real")
ax.set_ylabel("|d loss / d logit|")
ax.axvspan(0, 0.1, color="grey", alpha=0.2, label="early training")
ax.legend()
plt.show()

# %% [markdown]
# ## Exercise 11a: the discriminator's loss, from logits
#
# Write `discriminator_loss(real_logits, fake_logits)`: the batch mean of
# $\mathrm{softplus}(-\ell_{\text{real}})$ plus the batch mean of
# $\mathrm{softplus}(\ell_{\text{fake}})$ (minigrad has `mg.softplus`). The check compares it with
# `minigrad.losses.binary_crossentropy(..., from_logits=True)` for labels 1 and 0, and checks its
# gradients.

# %% tags=["exercise"]
# Exercise 11a: the discriminator's loss
def discriminator_loss(real_logits, fake_logits):
    """mean(-log D(x)) + mean(-log(1 - D(G(z)))), from logits, stable."""
    raise NotImplementedError("Exercise 11a: softplus(-real) and softplus(fake), batch means, added")


# %% tags=["check"]
rng = np.random.default_rng(0)
real = mg.tensor(rng.normal(size=(8, 1)) * 3, requires_grad=True)
fake = mg.tensor(rng.normal(size=(8, 1)) * 3, requires_grad=True)
expected = (losses.binary_crossentropy(mg.ones(8, 1, dtype="float64"), real, from_logits=True)
            + losses.binary_crossentropy(mg.zeros(8, 1, dtype="float64"), fake, from_logits=True))
print(check_arrays(lambda: discriminator_loss(real, fake), expected, what="Exercise 11a: D's loss",
                   against="binary_crossentropy(1, real) + binary_crossentropy(0, fake)"))
check_gradients(discriminator_loss, real, fake, name="Exercise 11a")

# %% [markdown]
# ## Exercise 11b: the generator's non-saturating loss
#
# Write `generator_loss(fake_logits)` = the batch mean of $-\log D(G(z))$ from logits. The
# check adds a test of stability: at a logit of $-1000$ (a fake rejected with certainty) the
# loss must be finite: for logits $-1000$ and $0$ the mean is $(1000 + \log 2)/2$.

# %% tags=["exercise"]
# Exercise 11b: the generator's non-saturating loss
def generator_loss(fake_logits):
    """mean(-log D(G(z))) from logits: the non-saturating generator loss."""
    raise NotImplementedError("Exercise 11b: softplus(-fake), batch mean")


# %% tags=["check"]
print(check_arrays(lambda: generator_loss(mg.tensor([[-1000.0], [0.0]])), (1000.0 + np.log(2)) / 2,
                   what="Exercise 11b: G's loss at logits -1000 and 0", against="(1000 + log 2) / 2"))
check_gradients(generator_loss, fake, name="Exercise 11b")

# %% [markdown]
# `examples/dcgan_mnist.py` trains a DCGAN on digits with exactly these two losses (through
# `binary_crossentropy` with labels 1 and 0). That is the end of the path: from the chain rule
# on three numbers to the losses of a GAN, every gradient checked by finite differences.
