"""Models built on minigrad's public API only (minigrad.nn, minigrad.losses, minigrad.optim).

    autoencoder.py   the dense autoencoder (784 -> 512 -> latent -> 512 -> 784)
    vae.py           the MLP and convolutional VAEs, their likelihoods and training step
    linear.py        linear regression, softmax classifier, small_convnet, feature_extractor,
                     unfreeze_last (the transfer-learning lesson)
    dcgan.py         the keras-gan DCGAN (and a Conv2DTranspose generator) with its train step
    classifier.py    the digit classifier that scores generated digits
"""
