# %% [markdown]
# # 10. The reparameterisation trick
#
# A variational autoencoder's encoder outputs, for each input, a Gaussian over codes: a mean
# $\mu$ and a log-variance $\log\sigma^2$. Training needs the gradient of an *expectation*
# over a sample $z \sim \mathcal N(\mu, \sigma^2)$, and sampling is not a differentiable
# operation. The trick (Kingma & Welling 2014): draw the randomness first, from a fixed
# distribution, and make $z$ a differentiable function of it:
#
# $$\varepsilon \sim \mathcal N(0, 1), \qquad z = \mu + \sigma \varepsilon = \mu + e^{\frac12 \log\sigma^2} \varepsilon .$$
#
# Now $\partial z / \partial \mu = 1$ and $\partial z / \partial \log\sigma^2 = \tfrac12 \sigma \varepsilon$:
# ordinary backprop through a sample. The alternative, the *score-function* estimator
# $f(z)\, \partial_\mu \log p(z)$, needs no derivative of $f$ but is far noisier. The figure
# estimates $\partial_\mu \mathbb E[z^2] = 2\mu$ both ways from single samples.

# %%
import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
from minigrad import losses
from minigrad.testing import check_arrays, check_gradients

mu, sigma = 1.5, 1.0
eps = np.random.default_rng(0).standard_normal(5000)
z = mu + sigma * eps
reparameterised = 2 * z                          # d(z^2)/dmu through z = mu + sigma eps
score_function = z ** 2 * (z - mu) / sigma ** 2  # f(z) * d log N(z; mu, sigma) / dmu
fig, ax = plt.subplots(figsize=(6.5, 3.5))
bins = np.linspace(-15, 25, 120)
ax.hist(score_function, bins=bins, alpha=0.6, label=f"score function: std {score_function.std():.1f}")
ax.hist(reparameterised, bins=bins, alpha=0.6, label=f"reparameterised: std {reparameterised.std():.1f}")
ax.axvline(2 * mu, color="black", ls="--", label="true gradient 2μ = 3")
ax.set_xlabel("one-sample estimate of d E[z²] / dμ")
ax.legend()
plt.show()
print(f"means: score function {score_function.mean():.2f}, reparameterised {reparameterised.mean():.2f} (true 3)")

# %% [markdown]
# ## Exercise 10a: sample through the trick
#
# Write `reparameterise(z_mean, z_log_var, epsilon)` with Tensor operations (`mg.exp`), so that
# gradients flow to `z_mean` and `z_log_var`. The check compares values and gradients.

# %% tags=["exercise"]
# Exercise 10a: the reparameterised sample
def reparameterise(z_mean, z_log_var, epsilon):
    """z = z_mean + exp(z_log_var / 2) * epsilon, differentiable in z_mean and z_log_var."""
    raise NotImplementedError("Exercise 10a: z = mean + sigma * epsilon, with sigma from the log-variance")


# %% tags=["check"]
rng = np.random.default_rng(1)
z_mean = mg.tensor(rng.normal(size=(4, 2)), requires_grad=True)
z_log_var = mg.tensor(rng.normal(size=(4, 2)), requires_grad=True)
fixed_eps = mg.tensor(rng.standard_normal((4, 2)))
print(check_arrays(lambda: reparameterise(z_mean, z_log_var, fixed_eps),
                   z_mean.numpy() + np.exp(z_log_var.numpy() / 2) * fixed_eps.numpy(),
                   what="Exercise 10a: z", against="mean + exp(log_var / 2) * eps"))
check_gradients(lambda m, v: reparameterise(m, v, fixed_eps), z_mean, z_log_var, name="Exercise 10a")

# %% [markdown]
# ## Exercise 10b: the KL term
#
# The VAE's loss also pulls each code's Gaussian towards the prior $\mathcal N(0, I)$ with
#
# $$\mathrm{KL}\big(\mathcal N(\mu, \sigma^2) \,\|\, \mathcal N(0, 1)\big) = -\tfrac12 \left(1 + \log\sigma^2 - \mu^2 - \sigma^2\right),$$
#
# summed over the latent dimensions of each sample. Write it, returning the batch mean (as
# `minigrad.losses.gaussian_kl` does); the check compares with it and checks the gradients.

# %% tags=["exercise"]
# Exercise 10b: the KL divergence to N(0, I)
def gaussian_kl(z_mean, z_log_var):
    """Batch mean of KL(N(mean, exp(log_var)) || N(0, I)), summed over the latent axis (-1)."""
    raise NotImplementedError("Exercise 10b: -1/2 (1 + log_var - mean^2 - exp(log_var)), summed, averaged")


# %% tags=["check"]
print(check_arrays(lambda: gaussian_kl(z_mean, z_log_var), losses.gaussian_kl(z_mean, z_log_var),
                   what="Exercise 10b: the KL", against="minigrad.losses.gaussian_kl"))
check_gradients(gaussian_kl, z_mean, z_log_var, name="Exercise 10b")

# %% [markdown]
# `examples/vae_mnist.py` trains the VAE built from these two pieces on real digits.
# Next: [the GAN's two losses](11_gan_losses.ipynb).
