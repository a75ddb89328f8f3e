# %% [markdown]
# Solutions to [11. The GAN's two losses](../11_gan_losses.ipynb).

# %% tags=["solution"]
# Exercise 11a: the discriminator's loss
def discriminator_loss(real_logits, fake_logits):
    """mean(-log D(x)) + mean(-log(1 - D(G(z)))), from logits, stable."""
    return mg.softplus(-real_logits).mean() + mg.softplus(fake_logits).mean()


# %% tags=["solution"]
# Exercise 11b: the generator's non-saturating loss
def generator_loss(fake_logits):
    """mean(-log D(G(z))) from logits: the non-saturating generator loss."""
    return mg.softplus(-fake_logits).mean()
