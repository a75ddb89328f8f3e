"""Linear regression, the first lesson: one Dense unit learns y = 2*x1 + 3*x2 + 1 from 30 points.

    python examples/linear_regression.py                  # 5 epochs, SGD(lr=0.1), batch 1
    python examples/linear_regression.py --epochs 20 --noise 0.3 --out runs/noisy

The lesson's model and training, line by line as in Keras:

    model = Sequential([Dense(1, input_shape=(2,))])       # models.linear.linear_regression()
    model.compile(optimizer=SGD(lr=0.1), loss="mse")
    model.fit(x, y, epochs=5, batch_size=1)                # 30 points: 150 updates
    w, b = model.get_weights()                             # w ~ [[2], [3]], b ~ [1]

The 30 points: x uniform in [-1, 1)^2 and y = 2*x1 + 3*x2 + 1 plus Gaussian noise of std
0.1 (--noise). The inputs are centred on purpose: with x in [0, 1) the bias and the weights
pull against each other (the features x1, x2 and the constant 1 are strongly correlated), and
150 plain SGD steps often leave them 0.3-0.8 away from (2, 3, 1): try --x-range 0,1.

Writes to --out (default runs/linear_regression):
    fit.png        the 30 points and the learned plane; predicted vs true y
    training.png   the loss per epoch (log scale) and w1, w2, b converging to 2, 3, 1
    metrics.json   loss before/after, learned and true weights, max weight error, wall time
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (examples/common.py; also puts the repo on sys.path)

from minigrad import plot  # noqa: E402
from minigrad.data import linear_regression_data  # noqa: E402
from minigrad.optim import SGD  # noqa: E402
from models.linear import linear_regression  # noqa: E402

TRUE_W = (2.0, 3.0)
TRUE_B = 1.0
LOSS_BAR = 0.05         # the lesson's bar: mse after 5 epochs below this ...
WEIGHT_BAR = 0.3        # ... and every learned number within this of (2, 3, 1)








def plot_fit(x, y, w, b, path):
    """Left: the points and the learned plane in 3-D. Right: predicted vs true y."""
    fig = plot.new_figure((9.0, 4.0))
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    lo, hi = float(x.min()), float(x.max())
    g1, g2 = np.meshgrid(np.linspace(lo, hi, 12), np.linspace(lo, hi, 12))
    ax.plot_surface(g1, g2, w[0] * g1 + w[1] * g2 + b, alpha=0.35, color="#4c78a8", linewidth=0)
    pred = x @ np.asarray(w) + b
    for xi, yi, pi in zip(x, y[:, 0], pred):               # residuals as thin vertical lines
        ax.plot([xi[0]] * 2, [xi[1]] * 2, [yi, pi], color="#999999", linewidth=0.7)
    ax.scatter(x[:, 0], x[:, 1], y[:, 0], color="#e45756", s=14, depthshade=False)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_zlabel("y")
    ax.view_init(elev=18, azim=-60)
    ax.set_title(f"learned plane: y = {w[0]:.2f} x1 + {w[1]:.2f} x2 + {b:.2f}", fontsize=10)

    ax = fig.add_subplot(1, 2, 2)
    span = [float(min(y.min(), pred.min())) - 0.3, float(max(y.max(), pred.max())) + 0.3]
    ax.plot(span, span, color="#999999", linewidth=1, linestyle="--", label="perfect fit")
    ax.scatter(y[:, 0], pred, color="#e45756", s=16, label="the 30 points")
    ax.set_xlabel("true y")
    ax.set_ylabel("predicted y")
    ax.set_aspect("equal")
    ax.legend(frameon=False, loc="upper left")
    ax.set_title("predicted vs true", fontsize=10)
    plot.save_figure(fig, path)


def plot_training(epoch_loss, full_loss, params, path):
    """Left: loss per epoch (log). Right: w1, w2, b after each epoch, true values dashed."""
    fig = plot.new_figure((9.0, 3.4))
    ax = fig.add_subplot(1, 2, 1)
    epochs = np.arange(len(full_loss))
    ax.semilogy(epochs, full_loss, "o-", color="#4c78a8", label="mse on all points, after the epoch")
    ax.semilogy(epochs[1:], epoch_loss, "s--", color="#f58518", markersize=4,
                label="mse averaged over the epoch's steps")
    ax.axhline(LOSS_BAR, color="#999999", linewidth=0.8, linestyle=":")
    ax.text(epochs[-1], LOSS_BAR * 1.1, f"bar {LOSS_BAR}", ha="right", va="bottom", fontsize=8, color="#666666")
    ax.set_xlabel("epoch (0 = before training)")
    ax.set_ylabel("mean squared error")
    ax.legend(frameon=False, fontsize=8)
    ax.set_title("loss", fontsize=10)

    ax = fig.add_subplot(1, 2, 2)
    params = np.asarray(params)
    for i, (name, true, color) in enumerate(zip(("w1", "w2", "b"), (*TRUE_W, TRUE_B),
                                                ("#4c78a8", "#e45756", "#54a24b"))):
        ax.plot(epochs, params[:, i], "o-", color=color, label=f"{name} (true {true:g})")
        ax.axhline(true, color=color, linewidth=0.8, linestyle="--")
    ax.set_xlabel("epoch")
    ax.set_ylabel("value")
    ax.legend(frameon=False, fontsize=8)
    ax.set_title("weights and bias", fontsize=10)
    plot.save_figure(fig, path)


def main(argv=None) -> dict:
    p = common.parser(__doc__.splitlines()[0], epochs=5, out="runs/linear_regression", batch_size=1)
    p.add_argument("--lr", type=float, default=0.1, help="SGD learning rate")
    p.add_argument("--points", type=int, default=30, help="number of data points")
    p.add_argument("--noise", type=float, default=0.1, help="std of the Gaussian noise on y")
    p.add_argument("--x-range", default="-1,1", help="inputs are uniform in [lo, hi)^2; 'lo,hi'")
    args = p.parse_args(argv)
    out = common.setup(args)
    x_range = tuple(float(v) for v in args.x_range.split(","))
    n = args.points if args.limit is None else min(args.points, args.limit)

    with common.Timer() as timer:
        x, y = linear_regression_data(n, seed=args.seed, noise=args.noise, low=x_range[0], high=x_range[1])
        model = linear_regression()
        model.compile(optimizer=SGD(lr=args.lr), loss="mse")
        model.summary()

        def weights():
            w, b = model.get_weights()
            return [float(w[0, 0]), float(w[1, 0]), float(b[0])]

        full_loss = [common.check_finite("loss", model.evaluate(x, y, verbose=0))]
        params = [weights()]
        epoch_loss = []
        print(f"loss before training: {full_loss[0]:.4f}")
        for epoch in range(args.epochs):          # fit() one epoch at a time, to look in between
            history = model.fit(x, y, epochs=epoch + 1, initial_epoch=epoch, batch_size=args.batch_size,
                                verbose=1)
            epoch_loss.append(common.check_finite("loss", history.history["loss"][-1]))
            full_loss.append(common.check_finite("loss", model.evaluate(x, y, verbose=0)))
            params.append(weights())

    w1, w2, b = params[-1]
    error = max(abs(w1 - TRUE_W[0]), abs(w2 - TRUE_W[1]), abs(b - TRUE_B))
    print(f"loss after {args.epochs} epochs: {full_loss[-1]:.4f}")
    print(f"           {'learned':>8} {'true':>6}")
    for name, learned, true in (("w1", w1, TRUE_W[0]), ("w2", w2, TRUE_W[1]), ("b", b, TRUE_B)):
        print(f"  {name:<8} {learned:8.4f} {true:6.1f}")
    passed = full_loss[-1] < LOSS_BAR and error < WEIGHT_BAR
    print(f"quality bar (loss < {LOSS_BAR}, every weight within {WEIGHT_BAR}): "
          f"{'met' if passed else 'NOT met'} (largest error {error:.3f})")

    plot_fit(x, y, (w1, w2), b, out / "fit.png")
    plot_training(epoch_loss, full_loss, params, out / "training.png")
    metrics = {
        "loss_before": full_loss[0], "loss_after": full_loss[-1],
        "loss_per_epoch": full_loss[1:], "train_loss_per_epoch": epoch_loss,
        "learned": {"w1": w1, "w2": w2, "b": b},
        "weights_per_epoch": [dict(zip(("w1", "w2", "b"), v)) for v in params],   # epoch 0: initial
        "true": {"w1": TRUE_W[0], "w2": TRUE_W[1], "b": TRUE_B},
        "max_weight_error": error, "quality_bar_met": passed,
        "settings": {"points": n, "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
                     "noise": args.noise, "x_range": list(x_range), "seed": args.seed,
                     "device": args.device},
        "wall_seconds": timer.seconds,
    }
    common.write_json(out / "metrics.json", metrics)
    print(f"wrote {out / 'fit.png'}, {out / 'training.png'}, {out / 'metrics.json'}")
    return metrics


if __name__ == "__main__":
    main()
