# %% [markdown]
# # Overfitting and its cures: network size, weight regularization, dropout, early stopping.
#
#     python examples/overfitting.py                        # 1,000 training digits, 30 epochs (~2.5 min)
#     python examples/overfitting.py --epochs 4 --limit 200 --val-size 200 --out /tmp/overfit
#
# The Keras book's study of overfitting (F. Chollet, "Deep Learning with Python", "overfitting
# and underfitting" / "regularizing your model"), transcribed with renames only. The lesson
# trains on IMDB reviews; here it runs on real handwritten digits (the 5,000 MNIST digits of
# minigrad.data.load_mnist()), as two tasks: binary (is the digit odd?) with a sigmoid output
# and binary cross-entropy, and 10-class with a softmax and sparse categorical cross-entropy.
# Only the first 1,000 training digits are trained on (the next 1,000 validate, the 500 test
# digits are scored at the end): with so few examples a network memorises them within a few
# epochs, which is the point of the lesson.
#
# The lesson's networks, each trained with compile("rmsprop", ...) for the same epochs:
#   original   Dense(16, relu) - Dense(16, relu) - output
#   smaller    Dense(4, relu)  - Dense(4, relu)  - output     (less capacity)
#   bigger     Dense(512, relu) - Dense(512, relu) - output   (more capacity)
#   L2         the original with kernel_regularizer=regularizers.l2(0.002) on both hidden layers
#   L1         the same with regularizers.l1(0.001)
#   dropout    the original with Dropout(0.5) after each hidden layer
#
# What to look for (each figure shows the validation loss per epoch, training loss dashed):
# the training loss of every network keeps falling, while the validation loss falls, reaches a
# minimum, and then stalls or climbs as the network starts to fit the noise of its 1,000
# digits. The bigger network reaches its minimum within a handful of epochs and has memorised
# its training digits (training loss near 0) soon after; the smaller one reaches its minimum
# latest and learns least. Where digits differ from the lesson's IMDB reviews, the script says
# so rather than hiding it: the bigger network, although it overfits soonest, still has the
# lowest validation loss of all at its best epoch; the L2 and L1 penalties move the minimum
# later and flatten the climb after it, but hardly lower it; and Dropout(0.5) on layers of only
# 16 units throws away so much that this network underfits (a higher loss throughout). The
# measured epochs and losses are in metrics.json and the summary printed at the end.
#
# "Validation loss" here is the cross-entropy alone. Keras' val_loss also adds the weight
# penalties (model.losses) of the L1 and L2 networks, which would make them look worse than
# they predict; metrics.json keeps both.
#
# Then the cure that always applies: stop at the right epoch. For the original and the bigger
# network, the script compares the test score trained to the end with two ways to stop at the
# epoch of minimum validation loss: EarlyStopping(monitor="val_loss", patience=5,
# restore_best_weights=True), which stops once val_loss has not improved for 5 epochs and puts
# back the weights of the best one; and training a fresh network for the best epoch on the
# training + validation digits (what the lesson does before its final evaluation; that network
# also sees twice the data, which helps it too). What the default run shows: stopping at the
# best epoch lowers the test loss wherever the network had overfitted, but it does not reliably
# raise the test accuracy: past the best epoch the network mostly grows more confident, and
# the loss punishes its confident mistakes long before their number changes. And the best
# epoch found on 1,000 digits is not always the best for 2,000 (an epoch then holds twice the
# updates): retraining the bigger 10-class network for its 6 epochs scored worse than
# EarlyStopping's restored weights.
#
# The default epochs (30) and batch size (32) differ from the lesson's 20 epochs of batch 512
# on 15,000 reviews: with 1,000 digits, batches of 32 give about as many updates per epoch.
#
# Writes to --out (default runs/overfitting): capacity.png (original vs smaller vs bigger),
# regularization.png (original vs L2, L1, dropout), early_stopping.png (test scores of the three
# ways to stop, for the original and the bigger network), metrics.json.

# %%
import time

import numpy as np

import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)

import minigrad as mg
from minigrad import callbacks, losses, nn, plot, regularizers
from minigrad.data import load_mnist

COLORS = {"original": "#4c78a8", "smaller": "#54a24b", "bigger": "#e45756", "L2": "#f58518",
          "L1": "#b279a2", "dropout": "#72b7b2"}

# %% tags=["parameters"]
epochs = 30               # training epochs
train_size = 1000         # training digits (limit caps it)
val_size = 1000           # validation digits
patience = 5              # EarlyStopping's patience
batch_size = 32           # mini-batch size
limit = None              # use only the first N training examples (quick runs)
seed = 0                  # random seed
device = "cpu"            # cpu, cuda or cuda:N
out = "runs/overfitting"  # folder for the figures and metrics.json
verbose = 1               # 0 quiet, 1 progress bars, 2 one line per epoch

# %%
out = common.parameters(globals())

# %% [markdown]
# ## The lesson's networks
#
# Two tasks on the same digits (odd/even with a sigmoid output, and the 10 classes with a
# softmax), and six networks for each: the original 16-16, a smaller 4-4, a bigger 512-512,
# and the original with an L2 penalty (0.002·Σw²), an L1 penalty (0.001·Σ|w|), or
# Dropout(0.5). The curves compare the cross-entropy alone (`*_only`), without the weight
# penalties that the training loss adds.

# %%
def binary_crossentropy_only(y_true, y_pred):
    """The data term of the loss, per sample, without the weight penalties."""
    return losses.binary_crossentropy(y_true, y_pred, reduction="none")


def sparse_categorical_crossentropy_only(y_true, y_pred):
    """The data term of the loss, per sample, without the weight penalties."""
    return losses.sparse_categorical_crossentropy(y_true, y_pred, reduction="none")


TASKS = {   # name -> (output layer, loss, the cross-entropy metric)
    "binary": (lambda: nn.Dense(1, activation="sigmoid"), "binary_crossentropy", binary_crossentropy_only),
    "10-class": (lambda: nn.Dense(10, activation="softmax"), "sparse_categorical_crossentropy",
                 sparse_categorical_crossentropy_only),
}


STOPPED = ("original", "bigger")   # the networks whose training is stopped at their best epoch


VARIANTS = {   # name -> (hidden units, kernel_regularizer factory, dropout rate)
    "original": (16, None, 0.0),
    "smaller": (4, None, 0.0),
    "bigger": (512, None, 0.0),
    "L2": (16, lambda: regularizers.l2(0.002), 0.0),
    "L1": (16, lambda: regularizers.l1(0.001), 0.0),
    "dropout": (16, None, 0.5),
}


def build_model(task, variant):
    output, loss, crossentropy = TASKS[task]
    units, regularizer, rate = VARIANTS[variant]
    layers = []
    for i in range(2):
        kwargs = {"input_shape": (784,)} if i == 0 else {}
        layers.append(nn.Dense(units, activation="relu",
                               kernel_regularizer=regularizer() if regularizer else None, **kwargs))
        if rate:
            layers.append(nn.Dropout(rate))
    model = nn.Sequential(layers + [output()])
    model.compile(optimizer="rmsprop", loss=loss, metrics=["accuracy", crossentropy])
    return model

# %% [markdown]
# ## Digits, training, and stopping at the best epoch
#
# `digits` splits the first training digits into the training and validation parts (the
# test digits are kept apart); `run_task` trains each network for `epochs` and records its
# curves; `stop_at_best` compares three ways to end: trained to the end,
# `EarlyStopping(restore_best_weights=True)`, and retrained from scratch on train + validation
# for the best epoch.

# %%
def digits():
    """(train, validation, test) pairs of flattened digits; the targets of both tasks."""
    mnist = load_mnist(flatten=True, verbose=verbose > 0)
    n_train = train_size if limit is None else min(train_size, limit)
    if n_train + val_size > len(mnist.x_train):
        raise SystemExit(f"overfitting.py: train_size {n_train} + val_size {val_size} is more than "
                         f"the {len(mnist.x_train)} training digits available")
    parts = {"train": slice(0, n_train), "val": slice(n_train, n_train + val_size)}
    split = {k: (mnist.x_train[s], mnist.y_train[s]) for k, s in parts.items()}
    split["test"] = (mnist.x_test, mnist.y_test)
    targets = {"binary": lambda y: (y % 2).astype(np.float32), "10-class": lambda y: y}
    return mnist.source, {task: {k: (x, f(y)) for k, (x, y) in split.items()} for task, f in targets.items()}


def curve_summary(history, crossentropy_key):
    """The numbers the lesson reads off each curve."""
    val = np.array(history["val_" + crossentropy_key])
    return {"val_crossentropy": val, "train_crossentropy": history[crossentropy_key],
            "val_loss_keras": history["val_loss"], "val_accuracy": history["val_accuracy"],
            "train_loss_keras": history["loss"],
            "best_epoch": int(np.argmin(val)) + 1, "min_val_crossentropy": float(val.min()),
            "best_val_accuracy": float(np.max(history["val_accuracy"])),
            "epoch_of_best_val_accuracy": int(np.argmax(history["val_accuracy"])) + 1}


def test_scores(model, data, key, batch_size):
    scores = model.evaluate(*data["test"], batch_size=batch_size, verbose=0, return_dict=True)
    return {"test_crossentropy": scores[key], "test_accuracy": scores["accuracy"], "test_loss_keras": scores["loss"]}


def run_task(task, data):
    key = TASKS[task][2].__name__
    fit = dict(batch_size=batch_size, verbose=0 if verbose < 2 else 2)
    results = {}
    for variant in VARIANTS:
        mg.manual_seed(seed)
        model = build_model(task, variant)
        t0 = time.perf_counter()
        history = model.fit(*data["train"], epochs=epochs, validation_data=data["val"], **fit)
        results[variant] = {**curve_summary(history.history, key), **test_scores(model, data, key, batch_size),
                            "seconds": time.perf_counter() - t0}
        if verbose:
            r = results[variant]
            print(f"  {task:8s} {variant:8s} lowest validation loss {r['min_val_crossentropy']:.3f} at epoch "
                  f"{r['best_epoch']:2d}, best validation accuracy {r['best_val_accuracy']:.1%}; "
                  f"{r['seconds']:.1f} s")

    # --- stopping at the best epoch, two ways, for the original and the bigger network
    stopping = {variant: stop_at_best(task, variant, data, results[variant], fit, key) for variant in STOPPED}
    return {"variants": results, "stopping": stopping}


def stop_at_best(task, variant, data, result, fit, key):
    """The variant's test score trained to the end (from `result`), with EarlyStopping
    restoring its best weights, and retrained from scratch to its best epoch on train + val."""
    mg.manual_seed(seed)
    model = build_model(task, variant)
    stopper = callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    history = model.fit(*data["train"], epochs=epochs, validation_data=data["val"], callbacks=[stopper], **fit)
    val_loss = np.array(history.history["val_loss"])
    # the restored weights score the best epoch's val_loss again: proof that they were put back
    after_restore = model.evaluate(*data["val"], batch_size=batch_size, verbose=0, return_dict=True)["loss"]
    early = {"epochs_run": len(val_loss), "restored_epoch": stopper.best_epoch + 1,
             "val_loss": val_loss, "argmin_val_loss_epoch": int(np.argmin(val_loss)) + 1,
             "val_loss_after_restore": after_restore, **test_scores(model, data, key, batch_size)}

    best = result["best_epoch"]
    (x_tr, y_tr), (x_val, y_val) = data["train"], data["val"]
    mg.manual_seed(seed)
    model = build_model(task, variant)
    model.fit(np.concatenate([x_tr, x_val]), np.concatenate([y_tr, y_val]), epochs=best, **fit)
    retrained = {"epochs": best, "n_train": len(x_tr) + len(x_val), **test_scores(model, data, key, batch_size)}
    end = {"epochs": epochs, "test_crossentropy": result["test_crossentropy"],
           "test_accuracy": result["test_accuracy"]}
    return {"trained to the end": end, "EarlyStopping (restored)": early, "retrained to the best epoch": retrained}

# %% [markdown]
# ## The figures
#
# Validation loss per epoch: by network size, then with the penalties and dropout; and the
# three ways to stop.

# %%
def plot_comparison(results, names, path, title):
    fig = plot.new_figure((10.5, 4.0))
    axes = fig.subplots(1, len(results))
    for ax, (task, r) in zip(axes, results.items()):
        top = 0.0
        for name in names:
            v = r["variants"][name]
            epochs = np.arange(1, len(v["val_crossentropy"]) + 1)
            color = COLORS[name]
            ax.plot(epochs, v["val_crossentropy"], color=color, lw=1.8,
                    label=f"{name}: best epoch {v['best_epoch']}, val acc {v['best_val_accuracy']:.1%}")
            ax.plot(epochs, v["train_crossentropy"], color=color, lw=0.9, ls="--", alpha=0.7)
            ax.plot(v["best_epoch"], v["min_val_crossentropy"], "o", color=color, ms=5)
            top = max(top, np.max(v["val_crossentropy"]))
        ax.set_ylim(0, min(top * 1.05, 3 * max(r["variants"][n]["min_val_crossentropy"] for n in names)))
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy (validation solid, training dashed)")
        ax.set_title(f"{task} ({r['n']['train']:,} training digits)", fontsize=10)
        ax.legend(fontsize=7.5, frameon=False, loc="upper right")
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(title, fontsize=11)
    plot.save_figure(fig, path)


def plot_stopping(results, path):
    fig = plot.new_figure((10.5, 4.0))
    axes = fig.subplots(1, len(results))
    ways = {"trained to the end": ("trained to the end", "#9d9d9d"),
            "EarlyStopping (restored)": ("EarlyStopping, best weights restored", "#4c78a8"),
            "retrained to the best epoch": ("retrained to the best epoch on train + val", "#54a24b")}
    width = 0.26
    for ax, (task, r) in zip(axes, results.items()):
        top = 0.0
        for g, variant in enumerate(r["stopping"]):
            for j, (way, (label, color)) in enumerate(ways.items()):
                w = r["stopping"][variant][way]
                x = g + (j - 1) * width
                ax.bar(x, w["test_crossentropy"], width * 0.92, color=color, label=label if g == 0 else None)
                epochs = w.get("restored_epoch", w.get("epochs"))
                ax.text(x, w["test_crossentropy"], f"{w['test_crossentropy']:.3f}\n{w['test_accuracy']:.1%}\n{epochs} ep",
                        ha="center", va="bottom", fontsize=7)
                top = max(top, w["test_crossentropy"])
        ax.set_xticks(range(len(r["stopping"])), [f"{v} network" for v in r["stopping"]], fontsize=9)
        ax.set_ylim(0, top * 1.45)
        ax.set_ylabel("test cross-entropy (lower is better)")
        ax.set_title(f"{task}: test loss, accuracy and epochs trained", fontsize=10)
        ax.legend(fontsize=7.5, frameon=False, loc="upper left")
        ax.spines[["top", "right"]].set_visible(False)
    plot.save_figure(fig, path)

# %%
# %% [markdown]
# ## Training every network on both tasks
#
# The same seed before each network: the same initial weights for each size, and the same
# order of batches.

# %%
start = time.perf_counter()
source, data = digits()
results = {}
for task in TASKS:
    results[task] = run_task(task, data[task])
    results[task]["n"] = {k: len(v[0]) for k, v in data[task].items()}
    print(f"{task}: {results[task]['n']['train']} train / {results[task]['n']['val']} validation / "
          f"{results[task]['n']['test']} test digits")

# %% [markdown]
# ## Capacity: the bigger network overfits sooner
#
# Its validation loss reaches its lowest after a few epochs and then climbs while the
# training loss keeps falling; the smaller one is slower and ends higher.

# %%
plot_comparison(results, ["original", "smaller", "bigger"], out / "capacity.png",
                "network size: validation loss per epoch")
common.show(out / "capacity.png")

# %% [markdown]
# ## Weight penalties and dropout

# %%
plot_comparison(results, ["original", "L2", "L1", "dropout"], out / "regularization.png",
                "weight penalties and dropout on the original network")
common.show(out / "regularization.png")

# %% [markdown]
# ## Stopping at the best epoch

# %%
plot_stopping(results, out / "early_stopping.png")
common.show(out / "early_stopping.png")

# %% [markdown]
# ## The numbers

# %%
metrics = {"tasks": results, "epochs": epochs, "batch_size": batch_size, "seed": seed,
           "patience": patience, "limit": limit, "data_source": source,
           "wall_time_s": time.perf_counter() - start}
common.write_json(out / "metrics.json", metrics)

for task, r in results.items():
    n = r["n"]
    print(f"{task} ({n['train']} train / {n['val']} validation / {n['test']} test digits):")
    print(f"  {'network':9s} {'best epoch':>10s} {'min val loss':>12s} {'best val acc':>12s} {'test acc (end)':>14s}")
    for name, v in r["variants"].items():
        print(f"  {name:9s} {v['best_epoch']:10d} {v['min_val_crossentropy']:12.3f} {v['best_val_accuracy']:12.1%} "
              f"{v['test_accuracy']:14.1%}")
    for variant, stops in r["stopping"].items():
        print(f"  {variant}: test loss / accuracy " + "; ".join(
            f"{way} ({w.get('restored_epoch', w.get('epochs'))} epochs) {w['test_crossentropy']:.3f} / "
            f"{w['test_accuracy']:.1%}" for way, w in stops.items()))
print(f"wall time {metrics['wall_time_s']:.1f} s; figures and metrics.json in {out}")
