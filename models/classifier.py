"""A small conv net that reads digits, trained with minigrad: the judge of generated samples.

    from models.classifier import load_or_train, score_samples
    model, info = load_or_train(cache_dir="out")          # trains once (~1 min), then loads
    info["test_accuracy"]                                  # on the 500 held-out digits
    score_samples(gan_images, model)                       # {"digits_present": 10, ...}

The network is Keras' "simple MNIST convnet" example (34,826 parameters):
    Conv2D(32, 3, relu) -> MaxPooling2D(2) -> Conv2D(64, 3, relu) -> MaxPooling2D(2)
    -> Flatten -> Dropout(0.5) -> Dense(10, softmax)
trained with Adam(1e-3) on sparse categorical cross-entropy. Pixels are in [-1, 1], the
GAN's tanh range, so generated images need no rescaling before they are scored.

A GAN's samples are scored by how the classifier sees them: how many of the 10 digits
appear among the argmax predictions, how often the rarest one appears (mode collapse shows
up here), and the mean top-class probability (blurry or in-between strokes lower it).
Nothing is downloaded: the digits come from minigrad.data.load_mnist().
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

import minigrad as mg
from minigrad.nn import Conv2D, Dense, Dropout, Flatten, MaxPooling2D, Sequential
from minigrad.optim import Adam

INPUT_SHAPE = (1, 28, 28)
EPOCHS = 12
BATCH_SIZE = 32
LR = 1e-3
ARCHITECTURE = "conv32-pool-conv64-pool-flatten-dropout0.5-dense10-softmax"   # part of the cache key


def build_classifier(input_shape=INPUT_SHAPE, num_classes=10, name="digit_classifier"):
    """Keras' simple MNIST convnet, NCHW, softmax over `num_classes`."""
    return Sequential([
        Conv2D(32, 3, activation="relu", input_shape=tuple(input_shape)),
        MaxPooling2D(2),
        Conv2D(64, 3, activation="relu"),
        MaxPooling2D(2),
        Flatten(),
        Dropout(0.5),
        Dense(num_classes, activation="softmax"),
    ], name=name)


def compile_classifier(model, lr=LR):
    model.compile(optimizer=Adam(lr=lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train_classifier(x_train, y_train, x_test=None, y_test=None, epochs=EPOCHS, batch_size=BATCH_SIZE,
                     lr=LR, verbose=0):
    """A new classifier fitted on (x_train, y_train); returns (model, history)."""
    model = compile_classifier(build_classifier(x_train.shape[1:]), lr)
    validation = (x_test, y_test) if x_test is not None else None
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size,
                        validation_data=validation, verbose=verbose)
    return model, history


def accuracy(model, x, y, batch_size=250) -> float:
    """The fraction of x the model labels as y (inference mode)."""
    pred = model.predict(x, batch_size=batch_size).argmax(axis=1)
    return float((pred == np.asarray(y)).mean())


def _cache_key(x_train, y_train, epochs, batch_size, lr, seed) -> str:
    """Changes whenever anything that shapes the trained weights changes."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x_train, dtype=np.float32).tobytes())
    h.update(np.ascontiguousarray(y_train, dtype=np.int64).tobytes())
    h.update(repr((ARCHITECTURE, epochs, batch_size, lr, seed)).encode())
    return h.hexdigest()[:16]


def load_or_train(x_train, y_train, x_test, y_test, cache_dir, epochs=EPOCHS, batch_size=BATCH_SIZE,
                  lr=LR, seed=0, verbose=0):
    """The classifier for these digits: loaded from `cache_dir` if trained before, else trained
    now (seeded by `seed`) and saved there. The cache file's name carries a hash of the data and
    settings, so a stale file is never used. Training is seeded with mg.manual_seed(seed); reseed
    afterwards if what follows must not depend on whether training happened.

    Returns (model, info) with info = {"test_accuracy", "train_seconds" (0.0 when loaded),
    "cached": bool, "path", "epochs"}; the accuracy is measured on (x_test, y_test) every time.
    """
    import time
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = _cache_key(x_train, y_train, epochs, batch_size, lr, seed)
    path = cache_dir / f"digit_classifier_{key}.npz"
    mg.manual_seed(seed)
    cached = path.is_file()
    seconds = 0.0
    if cached:
        model = compile_classifier(build_classifier(x_train.shape[1:]), lr)
        model.load_weights(path)
    else:
        start = time.perf_counter()
        model, _ = train_classifier(x_train, y_train, epochs=epochs, batch_size=batch_size, lr=lr,
                                    verbose=verbose)
        seconds = time.perf_counter() - start
        model.save_weights(path, include_optimizer=False)
    info = {"test_accuracy": accuracy(model, x_test, y_test), "train_seconds": seconds,
            "cached": cached, "path": str(path), "epochs": epochs}
    if not cached:      # a note beside the weights: what they are and what they scored
        (cache_dir / f"digit_classifier_{key}.json").write_text(json.dumps(
            {k: v for k, v in info.items() if k != "cached"}, indent=2) + "\n")
    return model, info


def score_samples(images, model, batch_size=250, num_classes=10) -> dict:
    """How the classifier sees a set of images (pixels in [-1, 1], (N, 1, 28, 28)).

    digits_present      how many classes are the argmax of at least one image
    rarest_digit_count  how many images the least-predicted class gets (0 if one is missing)
    mean_top_prob       the mean over images of the highest class probability
    counts              images per predicted class, a list of num_classes ints
    Also: "predictions" (argmax per image) and "top_probs" (NumPy arrays, for figures).
    """
    probs = model.predict(np.asarray(images, dtype=np.float32), batch_size=batch_size)
    if not np.all(np.isfinite(probs)):
        raise FloatingPointError("score_samples: the classifier gave NaN or inf probabilities; "
                                 "are the images finite?")
    pred = probs.argmax(axis=1)
    top = probs.max(axis=1)
    counts = np.bincount(pred, minlength=num_classes)
    return {"digits_present": int((counts > 0).sum()), "rarest_digit_count": int(counts.min()),
            "mean_top_prob": float(top.mean()), "counts": [int(c) for c in counts],
            "predictions": pred, "top_probs": top}
