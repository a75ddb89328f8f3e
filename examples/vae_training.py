"""The VAE lessons' shared pieces: the training loop with a test score after each epoch, and
palette PNG figures (used by vae_mnist.py, vae_scurve.py and autoencoder_vs_vae.py).

Not a lesson itself (it has no parameters cell): the lessons import it, as a notebook does
`import common`.
"""
from __future__ import annotations

import os
import tempfile
import time

import numpy as np

import common  # examples/common.py: check_finite (and puts the repo on sys.path)
import minigrad as mg
from minigrad.data import batches
from minigrad.nn.progress import ProgressBar
from models.vae import Trainer


def to_numpy(t):
    return t.numpy() if isinstance(t, mg.Tensor) else np.asarray(t)


def save_figure(fig, path, dpi: int = 120) -> None:
    """Write a matplotlib figure as a PNG atomically (a reader never sees half a file).

    The image is stored with a 256-colour palette (Pillow, which matplotlib depends on): the
    figures are gray digits and a few flat colours, so this looks the same at a third the size.
    """
    import io

    from PIL import Image
    path = os.fspath(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    buffer.seek(0)
    image = Image.open(buffer).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".fig.", suffix=".png")
    os.close(fd)
    try:
        image.save(tmp, format="PNG", optimize=True)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)          # mkstemp makes 0600; a figure is for everyone
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def fit(trainer: Trainer, x_train, x_test, epochs: int, batch_size: int, verbose: int = 1,
        on_epoch=None, label: str = "") -> dict:
    """Train for `epochs`, scoring x_test after each; returns the per-epoch history.

    history["train_<name>"]  the mean over the epoch's batches of each loss term (as Keras shows)
    history["test_<name>"]   the same terms on x_test after the epoch (no update)
    history["epoch_seconds"] wall time of each epoch (training + scoring)
    on_epoch(epoch, history) is called after each epoch (to save metrics as training goes).
    """
    names = trainer.names
    history = {f"{part}_{name}": [] for part in ("train", "test") for name in names}
    history["epoch_seconds"] = []
    steps = -(-len(x_train) // batch_size)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        if verbose:
            print(f"{label}Epoch {epoch}/{epochs}", flush=True)
        bar = ProgressBar(steps, verbose)
        sums, seen = dict.fromkeys(names, 0.0), 0
        for step, xb in enumerate(batches(x_train, batch_size=batch_size), 1):
            values = trainer.step(xb)
            common.check_finite(f"training loss (epoch {epoch}, batch {step})", values[names[0]])
            seen += len(xb)
            for name in names:
                sums[name] += values[name] * len(xb)
            bar.update(step, {name: sums[name] / seen for name in names})
        train = {name: sums[name] / seen for name in names}
        test = trainer.evaluate(x_test)
        for name in names:
            common.check_finite(f"test {name} (epoch {epoch})", test[name])
            history[f"train_{name}"].append(train[name])
            history[f"test_{name}"].append(test[name])
        history["epoch_seconds"].append(time.perf_counter() - start)
        bar.close({**train, **{f"test_{name}": test[name] for name in names}})
        if on_epoch is not None:
            on_epoch(epoch, history)
    return history
