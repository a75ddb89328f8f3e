# %% [markdown]
# # Training a convnet on a few hundred images: data augmentation, dropout, and a pretrained base.
#
#     python examples/small_data_convnet.py                 # a few minutes on a laptop CPU
#     python examples/small_data_convnet.py --train-size 250 --epochs 40
#     python examples/small_data_convnet.py --epochs 2 --limit 1500 --out runs/quick
#
# The lesson of Chollet's "Deep Learning with Python" (5.2-5.3 in the first edition, 8.2-8.3 in
# the second: cats vs dogs from 2,000 pictures), on digits. The task: read the digits 5-9 from
# only --train-size labelled examples (500: 100 per digit). Every variant is scored after every
# epoch on the same --val-size held-out training digits 5-9 (1,000), and at the end on the 250
# test digits 5-9, which nothing trains on.
#
# 1. From scratch, a small convnet (the lesson's, written with the functional API):
#        inputs = Input(shape=(1, 28, 28))
#        x = Conv2D(32, 3, activation="relu")(inputs); x = MaxPooling2D(2)(x)
#        x = Conv2D(64, 3, activation="relu")(x);      x = MaxPooling2D(2)(x)
#        x = Flatten()(x); outputs = Dense(5, activation="softmax")(x)
#    With so few examples it overfits: training accuracy reaches 100% while validation stalls.
# 2. + Dropout(0.5) before the classifier.
# 3. + data augmentation: random transformations of every training image, new ones every
#    epoch, so the network never sees the same picture twice. As the lesson, they are layers at
#    the front of the model, active only in training (fit) and the identity in predict/evaluate:
#        data_augmentation = Sequential([RandomRotation(0.04), RandomZoom(0.1),
#                                        RandomTranslation(0.1, 0.1)])   # fill_mode="constant"
#        x = data_augmentation(inputs)
#    (The lesson's RandomFlip("horizontal") suits cats and dogs, not digits: a mirrored 2 is not
#    a 2. augmented.png shows what it would do.)
# 4. + augmentation and dropout together: the lesson's final from-scratch model.
# 5. Feature extraction with a pretrained base. The lesson's base is VGG16 trained on ImageNet;
#    here it is the same convnet trained on the OTHER digits, 0-4 (all of the training set's),
#    as in examples/transfer_learning.py. Its convolutional base, frozen (trainable = False),
#    turns each image into 1,600 features once; a small classifier (Dense 64 relu, Dropout 0.5,
#    Dense 5 softmax) is trained on the features of the same few hundred digits.
# 6. Fine-tuning: base and classifier stacked behind the augmentation layers, the base's last
#    conv layer unfrozen, compiled again with a 10x lower learning rate, trained end to end.
#
# Writes to --out (default runs/small_data_convnet):
#     curves.png      validation accuracy per epoch of every variant; training vs validation
#                     accuracy of the plain and the augmented+dropout net; the final accuracies
#     augmented.png   training digits and what the augmentation layers make of them
#     metrics.json    every history, the best and final validation accuracy and the test
#                     accuracy of each variant, settings, times

# %%
import numpy as np
import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)

import minigrad as mg
from minigrad import plot
from minigrad.data import load_mnist
from minigrad.nn import (Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D, Model, RandomFlip,
                         RandomRotation, RandomTranslation, RandomZoom, Sequential)
from minigrad.optim import Adam

BASE_DIGITS = (0, 1, 2, 3, 4)
NEW_DIGITS = (5, 6, 7, 8, 9)
LOSS = "sparse_categorical_crossentropy"
COLORS = {"scratch": "#9d9d9d", "dropout": "#e45756", "augmentation": "#f58518",
          "augmentation + dropout": "#4c78a8", "feature extraction": "#54a24b", "fine-tuned": "#b279a2"}

# %% tags=["parameters"]
epochs = 30                      # epochs of each from-scratch variant
train_size = 500                 # labelled training digits 5-9 (split evenly between the digits)
val_size = 1000                  # held-out training digits 5-9 scored after every epoch
lr = 1e-3                        # Adam learning rate (from scratch, the head)
base_epochs = 4                  # epochs of the base on digits 0-4
head_epochs = 30                 # epochs of the classifier on the frozen features
finetune_epochs = 15             # epochs of fine-tuning
finetune_lr = 1e-4               # Adam learning rate when fine-tuning
batch_size = 32                  # mini-batch size
limit = None                     # use only the first N training examples (quick runs)
seed = 0                         # random seed
device = "cpu"                   # cpu, cuda or cuda:N
out = "runs/small_data_convnet"  # folder for the figures and metrics.json
verbose = 1                      # 0 quiet, 1 progress bars, 2 one line per epoch

# %%
out = common.parameters(globals())

# %% [markdown]
# ## The pieces: augmentation layers, the conv base, the convnet
#
# Augmentation layers draw a new random rotation, zoom and shift for every image at every
# step of `fit`, and do nothing in `predict` or `evaluate`: the network never sees the same
# digit twice, which is the point with only 500 of them.

# %%
def data_augmentation():
    """Small rotations (+-14 degrees), zooms (+-10%) and shifts (+-10%, about 3 pixels).

    fill_mode="constant" (black) rather than Keras' default "reflect": a digit sits on a black
    background, and reflecting would mirror the strokes that come near the border."""
    fill = dict(fill_mode="constant", fill_value=0.0)
    return Sequential([RandomRotation(0.04, **fill), RandomZoom(0.1, **fill), RandomTranslation(0.1, 0.1, **fill)],
                      name="data_augmentation")


def conv_base():
    """The convolutional base: image -> 1,600 features (64 channels x 5 x 5)."""
    return Sequential([Conv2D(32, 3, activation="relu"), MaxPooling2D(2),
                       Conv2D(64, 3, activation="relu"), MaxPooling2D(2), Flatten()], name="conv_base")


def convnet(n_classes, augmentation=False, dropout=0.0, name=None):
    """The lesson's small convnet, with or without augmentation layers and dropout."""
    inputs = Input(shape=(1, 28, 28))
    x = data_augmentation()(inputs) if augmentation else inputs
    x = conv_base()(x)
    if dropout:
        x = Dropout(dropout)(x)
    outputs = Dense(n_classes, activation="softmax")(x)
    return Model(inputs, outputs, name=name)

# %% [markdown]
# ## Splitting the digits, training, scoring
#
# `split` picks, per digit, the training and the validation examples, disjoint; when the
# digits available (say with `limit`) are too few for both sizes, both shrink in proportion,
# so neither set is ever empty. `summarize` averages the last epochs (up to 5: as many as
# ran) for a steadier figure than the last epoch alone.

# %%
def split(y, digits, train_per_class, val_per_class, rng):
    """(train indices, validation indices): per digit, train_per_class and val_per_class random
    examples, disjoint. When a digit has fewer than both together, the two shrink in proportion
    (each keeps at least one), so a small `limit` never leaves the validation set empty."""
    train, val = [], []
    for d in digits:
        pool = rng.permutation(np.flatnonzero(y == d))
        if len(pool) < 2:
            raise ValueError(f"only {len(pool)} training example(s) of digit {d}: need at least 2 "
                             f"(one to train on, one to validate on): use a larger limit")
        n_train, n_val = train_per_class, val_per_class
        if n_train + n_val > len(pool):
            n_train = min(len(pool) - 1, max(1, round(len(pool) * n_train / (n_train + n_val))))
            n_val = len(pool) - n_train
        train.append(pool[:n_train])
        val.append(pool[n_train:n_train + n_val])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def fit(model, x, y, val, epochs, batch_size, lr, name):
    model.compile(optimizer=Adam(lr=lr), loss=LOSS, metrics=["accuracy"])
    with common.Timer() as t:
        history = model.fit(x, y, epochs=epochs, batch_size=batch_size, validation_data=val, verbose=0)
    for value in history.history["loss"]:
        common.check_finite(f"{name} loss", value)
    return history.history, t.seconds


def test_accuracy(model, x, y):
    """Fraction right on (x, y), in inference mode (no augmentation, no dropout)."""
    return float((model.predict(x, batch_size=250).argmax(axis=1) == y).mean())


def summarize(h, n_last=5):
    """Best validation accuracy, and the mean of the last n_last epochs' (steadier than the last
    one; all of them when fewer ran): "epochs_averaged" says how many."""
    val = h["val_accuracy"]
    n = min(n_last, len(val))
    return {"best_val_accuracy": float(max(val)), "best_epoch": int(np.argmax(val)) + 1,
            "final_val_accuracy": float(np.mean(val[-n:])),
            "final_train_accuracy": float(np.mean(h["accuracy"][-n:])), "epochs_averaged": n}


def last_epochs(result) -> str:
    n = result["epochs_averaged"]
    return "the last epoch" if n == 1 else f"last {n} epochs"

# %% [markdown]
# ## The figures
#
# Left, the validation accuracy of every variant per epoch; middle, training against
# validation accuracy for the plain net and the augmented one with dropout (the gap is the
# overfitting); right, the means over the last epochs. Then a few training digits with the
# augmentation layers applied, and a horizontal flip, the lesson's usual augmentation, which
# turns digits into non-digits.

# %%
def plot_curves(histories, results, path, n_train):
    fig = plot.new_figure((13.5, 4.2))
    ax_val, ax_gap, ax_bar = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.25, 1, 0.9]})
    for name, h in histories.items():
        epochs = np.arange(len(h["val_accuracy"])) + 1
        ax_val.plot(epochs, h["val_accuracy"], color=COLORS[name], lw=1.8, label=name)
    # the first epochs of the from-scratch nets are far below the rest: start the axis at epoch 3's level
    later = [v for h in histories.values() for v in h["val_accuracy"][2:]] or [0.0]
    ax_val.set_ylim(max(0.0, min(later) - 0.01), 1.0)
    ax_val.set_title(f"validation accuracy ({n_train} training digits 5-9)", fontsize=10)
    ax_val.set_xlabel("epoch")
    ax_val.set_ylabel("accuracy on the validation digits")
    ax_val.legend(fontsize=8, loc="lower right")
    for name in ("scratch", "augmentation + dropout"):
        h = histories[name]
        epochs = np.arange(len(h["val_accuracy"])) + 1
        ax_gap.plot(epochs, h["accuracy"], color=COLORS[name], lw=1.4, ls="--", label=f"{name}: training")
        ax_gap.plot(epochs, h["val_accuracy"], color=COLORS[name], lw=1.8, label=f"{name}: validation")
    ax_gap.set_title("overfitting: training vs validation", fontsize=10)
    ax_gap.set_xlabel("epoch")
    ax_gap.legend(fontsize=7.5, loc="lower right")
    names = list(results)
    values = [results[k]["final_val_accuracy"] for k in names]
    bars = ax_bar.barh(range(len(names)), values, color=[COLORS[k] for k in names], height=0.65)
    for bar, value in zip(bars, values):
        ax_bar.text(value + 0.002, bar.get_y() + bar.get_height() / 2, f"{value:.1%}", va="center", fontsize=8.5)
    ax_bar.set_yticks(range(len(names)), names, fontsize=8.5)
    ax_bar.invert_yaxis()
    low = max(0.0, min(values) - 0.06)
    ax_bar.set_xlim(low, min(1.0, max(values) + 0.05))
    ax_bar.set_title(f"validation accuracy, mean of the {last_epochs(results[names[0]])}", fontsize=10)
    from matplotlib.ticker import MaxNLocator      # matplotlib: the examples extra
    for ax in (ax_val, ax_gap):
        common.percent_axis(ax.yaxis)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    common.percent_axis(ax_bar.xaxis)
    for ax in (ax_val, ax_gap, ax_bar):
        ax.spines[["top", "right"]].set_visible(False)
    return plot.save_figure(fig, path)


def plot_augmented(x, path, n=8, n_rows=4, seed=0):
    """Row 0: the digits; rows 1..n_rows: the augmentation layers applied (training mode, a new
    draw per row); last row: RandomFlip("horizontal"), the lesson's flip, wrong for digits."""
    aug = data_augmentation()
    flip = RandomFlip("horizontal", seed=seed)
    rows = [("original", x[:n])]
    rows += [(f"augmented #{i + 1}", aug(x[:n], training=True).numpy()) for i in range(n_rows)]
    flipped = flip(x[:n], training=True).numpy()
    rows.append(("RandomFlip: not for digits", flipped))
    fig = plot.new_figure((n * 0.95 + 1.6, len(rows) * 1.0 + 0.5))
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, (label, imgs) in enumerate(rows):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(imgs[c, 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
        axes[r, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center",
                              color="#cf222e" if r == len(rows) - 1 else "#222222")
    fig.suptitle("data augmentation: RandomRotation(0.04), RandomZoom(0.1), RandomTranslation(0.1, 0.1)",
                 fontsize=10)
    plot.save_figure(fig, path)

# %%
# %% [markdown]
# ## The digits: 500 to train on, 1,000 to validate on
#
# Digits 5–9 of the training set, picked per class; the test digits 5–9 are kept for the
# end. The sizes printed are the ones used.

# %%
rng = np.random.default_rng(seed)

mnist = load_mnist()
print(f"digits: {mnist.source}")
x_all, y_all = common.limit(mnist.x_train, limit), common.limit(mnist.y_train, limit)
offset = NEW_DIGITS[0]
train, val = split(y_all, NEW_DIGITS, train_size // len(NEW_DIGITS), val_size // len(NEW_DIGITS), rng)
x_train, y_train = x_all[train], y_all[train] - offset
x_val, y_val = x_all[val], y_all[val] - offset
test = np.isin(mnist.y_test, NEW_DIGITS)
x_test, y_test = mnist.x_test[test], mnist.y_test[test] - offset
print(f"digits 5-9: {len(train)} to train on, {len(val)} to validate on, {len(y_test)} test digits")
n_classes = len(NEW_DIGITS)
histories, results, times, params = {}, {}, {}, {}

# %% [markdown]
# ## From scratch: plain, + dropout, + augmentation, both
#
# The same initial weights for every variant (`mg.manual_seed(seed)` before each): what
# differs is only the regularisation.

# %%
variants = {"scratch": (False, 0.0), "dropout": (False, 0.5), "augmentation": (True, 0.0),
            "augmentation + dropout": (True, 0.5)}
for name, (augmentation, dropout) in variants.items():
    mg.manual_seed(seed)                 # the same initial weights for every variant
    model = convnet(n_classes, augmentation, dropout, name=name.replace(" + ", "_and_"))
    if name == "augmentation + dropout":
        model.summary()
    histories[name], times[name] = fit(model, x_train, y_train, (x_val, y_val), epochs,
                                       batch_size, lr, name)
    results[name] = summarize(histories[name])
    results[name]["test_accuracy"] = test_accuracy(model, x_test, y_test)
    params[name] = model.count_params()
    print(f"{name:>24}: validation {results[name]['final_val_accuracy']:.1%} ({last_epochs(results[name])}), "
          f"best {results[name]['best_val_accuracy']:.1%} at epoch {results[name]['best_epoch']}, "
          f"training {results[name]['final_train_accuracy']:.1%}  [{times[name]:.0f} s]")

# %% [markdown]
# ## Feature extraction: a base trained on the other digits, frozen
#
# The conv base is first trained on digits 0–4 (plenty of them), then frozen; a small
# classifier learns digits 5–9 from its features, computed once.

# %%
base_idx = np.flatnonzero(np.isin(y_all, BASE_DIGITS))
base_test = np.isin(mnist.y_test, BASE_DIGITS)
mg.manual_seed(seed)
base = conv_base()
pretrain = Sequential([Input(shape=(1, 28, 28)), base, Dropout(0.5), Dense(len(BASE_DIGITS), activation="softmax")],
                      name="base_on_digits_0_4")
print(f"\npretraining the conv base on {len(base_idx):,} digits 0-4 for {base_epochs} epochs")
base_history, times["pretraining"] = fit(pretrain, x_all[base_idx], y_all[base_idx],
                                         (mnist.x_test[base_test], mnist.y_test[base_test]),
                                         base_epochs, batch_size, lr, "pretraining")
base_acc = base_history["val_accuracy"][-1]
print(f"   its accuracy on the {int(base_test.sum())} test digits 0-4: {base_acc:.1%}")
base.trainable = False
with common.Timer() as t:
    f_train, f_val = base.predict(x_train, batch_size=250), base.predict(x_val, batch_size=250)
mg.manual_seed(seed)
head = Sequential([Input(shape=(f_train.shape[1],)), Dense(64, activation="relu"), Dropout(0.5),
                   Dense(n_classes, activation="softmax")], name="classifier")
histories["feature extraction"], seconds = fit(head, f_train, y_train, (f_val, y_val), head_epochs,
                                               batch_size, lr, "feature extraction")
times["feature extraction"] = t.seconds + seconds
results["feature extraction"] = summarize(histories["feature extraction"])
results["feature extraction"]["test_accuracy"] = test_accuracy(head, base.predict(x_test, batch_size=250),
                                                               y_test)
params["feature extraction"] = base.count_params() + head.count_params()

# %% [markdown]
# ## Fine-tuning: unfreeze the base's last conv layer, at a 10× lower learning rate

# %%
inputs = Input(shape=(1, 28, 28))
finetuned = Model(inputs, head(base(data_augmentation()(inputs))), name="finetuned")
base.trainable = True
last_conv = [layer for layer in base.layers if layer.weights][-1]
for layer in base.layers:
    layer.trainable = layer is last_conv
print(f"\nfine-tuning {last_conv.name} and the classifier at lr {finetune_lr:g}, with augmentation")
histories["fine-tuned"], times["fine-tuned"] = fit(finetuned, x_train, y_train, (x_val, y_val),
                                                   finetune_epochs, batch_size, finetune_lr,
                                                   "fine-tuning")
results["fine-tuned"] = summarize(histories["fine-tuned"])
results["fine-tuned"]["test_accuracy"] = test_accuracy(finetuned, x_test, y_test)
params["fine-tuned"] = finetuned.count_params()
for name in ("feature extraction", "fine-tuned"):
    print(f"{name:>24}: validation {results[name]['final_val_accuracy']:.1%} ({last_epochs(results[name])}), "
          f"best {results[name]['best_val_accuracy']:.1%} at epoch {results[name]['best_epoch']}  "
          f"[{times[name]:.0f} s]")
print(f"\ntest accuracy ({len(y_test)} test digits 5-9): " +
      ", ".join(f"{k} {v['test_accuracy']:.1%}" for k, v in results.items()))

# %% [markdown]
# ## The curves, and what augmentation does to a digit

# %%
plot_curves(histories, results, out / "curves.png", len(train))
mg.manual_seed(seed)
plot_augmented(x_train, out / "augmented.png", seed=seed)
figures = ["curves.png", "augmented.png"]
common.show(out / "curves.png", out / "augmented.png")

# %% [markdown]
# ## The numbers

# %%

scratch, best_scratch = results["scratch"], results["augmentation + dropout"]
metrics = {
    "results": results,
    "histories": histories,
    "augmentation_and_dropout_beat_scratch": best_scratch["final_val_accuracy"] > scratch["final_val_accuracy"],
    "overfitting_gap": {k: results[k]["final_train_accuracy"] - results[k]["final_val_accuracy"]
                        for k in variants},
    "base_accuracy_digits_0_4": base_acc, "base_history": base_history,
    "n_train": int(len(train)), "n_val": int(len(val)), "n_test": int(len(y_test)),
    "n_base": int(len(base_idx)),
    "params": params,
    "settings": {"epochs": epochs, "train_size": train_size, "val_size": val_size, "lr": lr,
                 "base_epochs": base_epochs, "head_epochs": head_epochs, "finetune_epochs": finetune_epochs,
                 "finetune_lr": finetune_lr, "batch_size": batch_size, "limit": limit, "seed": seed,
                 "device": device},
    "data_source": mnist.source,
    "stage_seconds": times, "wall_seconds": sum(times.values()),
    "figures": figures,
}
common.write_json(out / "metrics.json", metrics)
print(f"wrote {len(figures)} figures and metrics.json to {out}")
