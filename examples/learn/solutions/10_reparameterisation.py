# %% [markdown]
# Solutions to [10. The reparameterisation trick](../10_reparameterisation.ipynb).

# %% tags=["solution"]
# Exercise 10a: the reparameterised sample
def reparameterise(z_mean, z_log_var, epsilon):
    """z = z_mean + exp(z_log_var / 2) * epsilon, differentiable in z_mean and z_log_var."""
    return z_mean + mg.exp(z_log_var / 2) * epsilon


# %% tags=["solution"]
# Exercise 10b: the KL divergence to N(0, I)
def gaussian_kl(z_mean, z_log_var):
    """Batch mean of KL(N(mean, exp(log_var)) || N(0, I)), summed over the latent axis (-1)."""
    per_sample = -0.5 * (1 + z_log_var - z_mean ** 2 - mg.exp(z_log_var)).sum(axis=-1)
    return per_sample.mean()
