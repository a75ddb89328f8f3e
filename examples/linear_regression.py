# %% [markdown]
# # Linear regression: one Dense unit learns y = 2·x1 + 3·x2 + 1 from 30 points
#
# The first lesson. A single `Dense(1)` unit computes ŷ = w1·x1 + w2·x2 + b; we show it
# 30 noisy points of the plane y = 2·x1 + 3·x2 + 1 and let plain SGD move (w1, w2, b)
# towards (2, 3, 1). The model and its training, line by line as in Keras:
#
#     model = Sequential([Dense(1, input_shape=(2,))])       # models.linear.linear_regression()
#     model.compile(optimizer=SGD(lr=0.1), loss="mse")
#     model.fit(x, y, epochs=5, batch_size=1)                # 30 points: 150 updates
#     w, b = model.get_weights()                             # w ~ [[2], [3]], b ~ [1]
#
# As a script: `python examples/linear_regression.py --epochs 20 --noise 0.3 --out runs/noisy`
# (`--help` lists every parameter). It writes to `out` (default runs/linear_regression):
# fit.png (the points and the learned plane; predicted vs true y), training.png (the loss
# per epoch and w1, w2, b converging) and metrics.json.

# %%
import time

import numpy as np

import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)
from minigrad import plot
from minigrad.data import linear_regression_data
from minigrad.optim import SGD
from models.linear import linear_regression

TRUE_W = (2.0, 3.0)
TRUE_B = 1.0
LOSS_BAR = 0.05         # the lesson's bar: mse after 5 epochs below this ...
WEIGHT_BAR = 0.3        # ... and every learned number within this of (2, 3, 1)

# %% [markdown]
# The parameters: change them here and re-run the notebook (on the command line each is an
# option, `--x-range 0,1`).

# %% tags=["parameters"]
epochs = 5              # passes over the points
lr = 0.1                # SGD learning rate
batch_size = 1          # points per update: 1 is "stochastic" gradient descent
points = 30             # number of data points
noise = 0.1             # std of the Gaussian noise on y
x_range = "-1,1"        # inputs are uniform in [lo, hi)^2; 'lo,hi'
limit = None            # use at most this many points (quick runs)
seed = 0                # random seed
device = "cpu"          # cpu, cuda or cuda:N
out = "runs/linear_regression"   # folder for the figures and metrics.json
verbose = 1             # 0 quiet, 1 progress bars, 2 one line per epoch

# %%
out = common.parameters(globals())

# %% [markdown]
# ## The data
#
# x is uniform in [-1, 1)², and y = 2·x1 + 3·x2 + 1 plus Gaussian noise of std `noise`.
# The inputs are centred on purpose: with x in [0, 1) the bias and the weights pull against
# each other (the features x1, x2 and the constant 1 are strongly correlated), and 150 plain
# SGD steps often leave them 0.3–0.8 away from (2, 3, 1). Try `x_range = "0,1"`.

# %%
started = time.perf_counter()
low, high = (float(v) for v in x_range.split(","))
n = points if limit is None else min(points, limit)
x, y = linear_regression_data(n, seed=seed, noise=noise, low=low, high=high)
print(f"{n} points; the first three: x = {np.round(x[:3].astype(float), 2).tolist()}, "
      f"y = {np.round(y[:3, 0].astype(float), 2).tolist()}")

# %% [markdown]
# ## The model: one unit, three numbers
#
# `Dense(1)` holds a kernel w of shape (2, 1) and a bias b of shape (1,): 3 parameters.
# The loss is the mean squared error L = mean((ŷ − y)²), and SGD takes, for each point,
# the step w ← w − lr·∂L/∂w with ∂L/∂w = 2(ŷ − y)·x and ∂L/∂b = 2(ŷ − y).

# %%
model = linear_regression()
model.compile(optimizer=SGD(lr=lr), loss="mse")
model.summary()


def weights():
    """(w1, w2, b) as plain floats."""
    w, b = model.get_weights()
    return [float(w[0, 0]), float(w[1, 0]), float(b[0])]


# %% [markdown]
# ## Training, one epoch at a time
#
# `fit` is called for one epoch at a time so that we can look in between: after each epoch
# we measure the loss on all points and record (w1, w2, b).

# %%
full_loss = [common.check_finite("loss", model.evaluate(x, y, verbose=0))]   # before training
params = [weights()]
epoch_loss = []
print(f"loss before training: {full_loss[0]:.4f}")
for epoch in range(epochs):
    history = model.fit(x, y, epochs=epoch + 1, initial_epoch=epoch, batch_size=batch_size,
                        verbose=verbose)
    epoch_loss.append(common.check_finite("loss", history.history["loss"][-1]))
    full_loss.append(common.check_finite("loss", model.evaluate(x, y, verbose=0)))
    params.append(weights())
wall_seconds = time.perf_counter() - started

w1, w2, b = params[-1]
error = max(abs(w1 - TRUE_W[0]), abs(w2 - TRUE_W[1]), abs(b - TRUE_B))
print(f"loss after {epochs} epochs: {full_loss[-1]:.4f}")
print(f"           {'learned':>8} {'true':>6}")
for name, learned, true in (("w1", w1, TRUE_W[0]), ("w2", w2, TRUE_W[1]), ("b", b, TRUE_B)):
    print(f"  {name:<8} {learned:8.4f} {true:6.1f}")
passed = full_loss[-1] < LOSS_BAR and error < WEIGHT_BAR
print(f"quality bar (loss < {LOSS_BAR}, every weight within {WEIGHT_BAR}): "
      f"{'met' if passed else 'NOT met'} (largest error {error:.3f})")

# %% [markdown]
# ## The fit
#
# Left, the 30 points (red), the learned plane, and each point's residual as a thin grey line.
# Right, predicted against true y: a perfect model puts every point on the dashed diagonal;
# what is left is the noise.

# %%
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


plot_fit(x, y, (w1, w2), b, out / "fit.png")
common.show(out / "fit.png")

# %% [markdown]
# ## The training
#
# Left, the loss per epoch on a log scale: it falls by orders of magnitude in the first
# epoch and then levels off at the noise (std 0.1 gives an mse near 0.01). Right, the three
# numbers after each epoch, the true values dashed.

# %%
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


plot_training(epoch_loss, full_loss, params, out / "training.png")
common.show(out / "training.png")

# %% [markdown]
# ## The numbers
#
# metrics.json keeps the run's results (its keys stay stable: the README's lessons table is
# made from them).

# %%
metrics = {
    "loss_before": full_loss[0], "loss_after": full_loss[-1],
    "loss_per_epoch": full_loss[1:], "train_loss_per_epoch": epoch_loss,
    "learned": {"w1": w1, "w2": w2, "b": b},
    "weights_per_epoch": [dict(zip(("w1", "w2", "b"), v)) for v in params],   # epoch 0: initial
    "true": {"w1": TRUE_W[0], "w2": TRUE_W[1], "b": TRUE_B},
    "max_weight_error": error, "quality_bar_met": passed,
    "settings": {"points": n, "epochs": epochs, "lr": lr, "batch_size": batch_size,
                 "noise": noise, "x_range": [low, high], "seed": seed, "device": device},
    "wall_seconds": wall_seconds,
}
common.write_json(out / "metrics.json", metrics)
print(f"wrote {out / 'fit.png'}, {out / 'training.png'}, {out / 'metrics.json'}")
