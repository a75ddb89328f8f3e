"""Models built on minigrad's public API only (minigrad.nn, minigrad.losses, minigrad.optim).

    autoencoder.py   the dense autoencoder (784 -> 512 -> latent -> 512 -> 784)
    vae.py           the MLP and convolutional VAEs, their likelihoods and training step
"""
