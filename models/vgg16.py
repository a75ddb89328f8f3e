"""VGG16 (Simonyan & Zisserman, 2015), as Keras' applications.VGG16, NCHW, with Keras' ImageNet weights.

    from models.vgg16 import VGG16, preprocess_input
    conv_base = VGG16(weights="imagenet", include_top=False, input_shape=(3, 150, 150))
    features = conv_base.predict(preprocess_input(images))     # (N, 512, 4, 4)

The layers, with Keras' names (so the weight files line up layer by layer):
    block1  Conv2D 64 x2      block2  Conv2D 128 x2      block3  Conv2D 256 x3
    block4  Conv2D 512 x3     block5  Conv2D 512 x3
    every conv 3x3, padding "same", relu; each block ends in MaxPooling2D 2x2 (blockN_pool)
    include_top: Flatten -> Dense 4096 relu (fc1) -> Dense 4096 relu (fc2) -> Dense classes (predictions)
    include_top=False, pooling="avg"|"max": a global pooling instead, giving (N, 512)

The weights are Keras' own files (we never download anything):
    vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5   include_top=False  (58.9 MB)
    vgg16_weights_tf_dim_ordering_tf_kernels.h5         include_top=True   (553 MB)
from https://storage.googleapis.com/tensorflow/keras-applications/vgg16/ . weights="imagenet"
looks for them where Keras keeps them, ~/.keras/models/, then in $MINIGRAD_DATA; or pass the
file's path as weights=. Reading them needs h5py; minigrad.interop converts the channels-last
kernels (and fc1's rows, which Keras flattens as (H, W, C)) to minigrad's layout.

The images the weights expect are preprocess_input's: Keras' "caffe" mode, RGB turned into
BGR and each channel's ImageNet mean subtracted, pixels in 0..255 (no scaling).

`widths` and `dense_units` make a small VGG-like stand-in for tests and for the example
without the file (see examples/cats_vs_dogs.py). Everything here uses minigrad's public API.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from minigrad.nn import (Conv2D, Dense, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D,
                         MaxPooling2D, Sequential)

__all__ = ["VGG16", "preprocess_input", "find_imagenet_weights", "WEIGHTS_TOP", "WEIGHTS_NOTOP", "WEIGHTS_URL"]

WEIGHTS_TOP = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
WEIGHTS_NOTOP = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
CONVS_PER_BLOCK = (2, 2, 3, 3, 3)
WIDTHS = (64, 128, 256, 512, 512)
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)      # Keras' "caffe" preprocessing


def VGG16(include_top=True, weights=None, input_shape=None, pooling=None, classes=1000,  # noqa: N802
          classifier_activation="softmax", widths=WIDTHS, dense_units=4096, name="vgg16"):
    """The VGG16 Sequential model (see the module docstring).

    weights       None (random, Keras' initialisers), "imagenet" (Keras' file, found by
                  find_imagenet_weights) or the path of a Keras weights file
    input_shape   per-sample NCHW shape; default (3, 224, 224). Images at least 32x32 (five
                  halvings); with include_top and ImageNet weights it must be (3, 224, 224)
    pooling       None, "avg" or "max" (only without the top)
    """
    input_shape = (3, 224, 224) if input_shape is None else tuple(int(n) for n in input_shape)
    if len(input_shape) != 3 or min(input_shape[1:]) < 32:
        raise ValueError(f"VGG16: input_shape must be NCHW (channels, height, width) with height and "
                         f"width at least 32, got {input_shape}")
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"VGG16: pooling must be None, 'avg' or 'max', got {pooling!r}")
    if len(widths) != 5:
        raise ValueError(f"VGG16: widths needs one width per block (5), got {widths}")
    layers = []
    for block, (convs, width) in enumerate(zip(CONVS_PER_BLOCK, widths), 1):
        for i in range(1, convs + 1):
            first = not layers
            layers.append(Conv2D(width, 3, padding="same", activation="relu", name=f"block{block}_conv{i}",
                                 input_shape=input_shape if first else None))
        layers.append(MaxPooling2D(2, strides=2, name=f"block{block}_pool"))
    if include_top:
        layers += [Flatten(name="flatten"),
                   Dense(dense_units, activation="relu", name="fc1"),
                   Dense(dense_units, activation="relu", name="fc2"),
                   Dense(classes, activation=classifier_activation, name="predictions")]
    elif pooling == "avg":
        layers.append(GlobalAveragePooling2D(name="global_average_pooling2d"))
    elif pooling == "max":
        layers.append(GlobalMaxPooling2D(name="global_max_pooling2d"))
    model = Sequential(layers, name=name)
    if weights is not None:
        from minigrad.interop import load_keras_weights
        path = find_imagenet_weights(include_top) if weights == "imagenet" else weights
        load_keras_weights(model, path)
    return model


def find_imagenet_weights(include_top=False) -> Path:
    """The path of Keras' VGG16 ImageNet file, from ~/.keras/models or $MINIGRAD_DATA."""
    filename = WEIGHTS_TOP if include_top else WEIGHTS_NOTOP
    folders = [Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"]
    if os.environ.get("MINIGRAD_DATA"):
        folders.append(Path(os.environ["MINIGRAD_DATA"]))
    for folder in folders:
        if (folder / filename).is_file():
            return folder / filename
    raise FileNotFoundError(
        f"VGG16(weights='imagenet'): {filename} is not in {', '.join(str(f) for f in folders)}. "
        f"Download it from {WEIGHTS_URL}{filename} (Keras keeps it in ~/.keras/models after "
        "keras.applications.VGG16(weights='imagenet')), put it in one of those folders, or pass "
        "its path as weights=")


def preprocess_input(images) -> np.ndarray:
    """Keras' VGG16 preprocessing for NCHW RGB images in 0..255: BGR, minus the ImageNet means."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"preprocess_input: expected NCHW RGB images (N, 3, H, W), got shape {x.shape}")
    x = x[:, ::-1]                                      # RGB -> BGR
    return np.ascontiguousarray(x - np.asarray(IMAGENET_BGR_MEAN, dtype=np.float32).reshape(1, 3, 1, 1))
