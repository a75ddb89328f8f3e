# %% [markdown]
# # Transfer learning: what a conv net learned on digits 0-4 helps read digits 5-9 from few labels.
#
#     python examples/transfer_learning.py                         # about a minute on a laptop CPU
#     python examples/transfer_learning.py --labels-per-class 5    # even fewer labels
#     python examples/transfer_learning.py --epochs 1 --limit 1000 --out runs/quick
#
# The lesson, step by step (models/linear.py has the three models):
#
# 1. Train a small conv net on the training digits 0-4 only (Adam 1e-3, --epochs).
# 2. Freeze it and pop its head (its last Dense layer): what is left, conv -> pool -> conv ->
#    pool -> flatten, turns an image into 800 features.
#        extractor = feature_extractor(net)            # net.trainable = False; net.pop()
# 3. Digits 5-9 with only --labels-per-class labelled examples each (20: 100 labels in all):
#    fit a softmax linear model on the extractor's features, and the same linear model on the
#    784 raw pixels, with the same labels and the same training (Adam 1e-2, --head-epochs).
#    The features win: the edges and strokes the net learned on 0-4 are useful for 5-9 too.
# 4. Fine-tune: stack the extractor and the trained linear head, unfreeze the last
#    --unfreeze layers with weights (the head and the last conv layer), compile again with a
#    much lower learning rate (Adam 1e-4, 100x below the head's) and train on the same labels.
#    With 20 labels per class this changes little: the head already fits its 100 digits, so
#    almost no gradient is left to adapt the convolutions with.
# All accuracies are measured on the 250 held-out test digits 5-9 (never trained on), and,
# for a steadier estimate, on the training digits 5-9 left unlabelled.
#
# Writes to --out (default runs/transfer_learning):
#     base_training.png    loss and accuracy of the conv net on digits 0-4, per epoch
#     accuracies.png       raw pixels vs frozen features vs fine-tuned, on the test digits 5-9
#     confusion.png        the confusion matrix of the linear model on frozen features
#     confident_right.png  its most confident right answers (with the probability)
#     confident_wrong.png  its most confident mistakes (true and predicted digit)
#     uncertain.png        the test digits it is least sure about
#     metrics.json         every accuracy above, the settings, wall times

# %%
import numpy as np
import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)

from minigrad import plot
from minigrad.data import load_mnist
from minigrad.nn import Sequential
from minigrad.optim import Adam
from models.linear import feature_extractor, small_convnet, softmax_classifier, unfreeze_last

BASE_DIGITS = (0, 1, 2, 3, 4)
NEW_DIGITS = (5, 6, 7, 8, 9)

# %% tags=["parameters"]
epochs = 5                      # training epochs
labels_per_class = 20           # labelled training examples of each digit 5-9
head_epochs = 100               # epochs of the linear models
head_lr = 1e-2                  # Adam learning rate of the linear models
finetune_epochs = 20            # epochs of fine-tuning
finetune_lr = 1e-4              # Adam learning rate when fine-tuning
unfreeze = 2                    # layers with weights to unfreeze when fine-tuning, counted from the top
batch_size = 32                 # mini-batch size
limit = None                    # use only the first N training examples (quick runs)
seed = 0                        # random seed
device = "cpu"                  # cpu, cuda or cuda:N
out = "runs/transfer_learning"  # folder for the figures and metrics.json
verbose = 1                     # 0 quiet, 1 progress bars, 2 one line per epoch

# %%
out = common.parameters(globals())

# %% [markdown]
# ## The pieces
#
# Picking k labelled digits per class (the rest stays unlabelled), the accuracy of a model,
# a softmax linear model trained on given inputs, and the figures.

# %%
def pick_labelled(y, digits, per_class, rng):
    """Indices of `per_class` random examples of each digit (fewer if fewer exist), and the rest."""
    chosen = []
    for d in digits:
        pool = np.flatnonzero(y == d)
        chosen.append(rng.choice(pool, size=min(per_class, len(pool)), replace=False))
    chosen = np.sort(np.concatenate(chosen))
    rest = np.setdiff1d(np.flatnonzero(np.isin(y, digits)), chosen)
    return chosen, rest


def accuracy(model, x, y, batch_size=250):
    """Fraction right, and the predicted probabilities (inference mode)."""
    probs = model.predict(x, batch_size=batch_size)
    return float((probs.argmax(axis=1) == y).mean()), probs


def train_linear(x, y, n_classes, epochs, lr, batch_size, name):
    """The softmax linear model of the lesson, fitted on (x, y); x is (N, features)."""
    model = softmax_classifier(n_classes, input_dim=x.shape[1], name=name)
    model.compile(optimizer=Adam(lr=lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
    common.check_finite(f"{name} loss", history.history["loss"][-1])
    return model, history


def plot_accuracies(results, n_labels, path):
    fig = plot.new_figure((5.6, 3.4))
    ax = fig.add_subplot()
    names = list(results)
    colors = ["#9d9d9d", "#4c78a8", "#54a24b"][:len(names)]
    bars = ax.bar(range(len(names)), [results[k] for k in names], color=colors, width=0.6)
    for bar, name in zip(bars, names):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.01, f"{results[name]:.1%}",
                ha="center", va="bottom", fontsize=9)
    ax.set_xticks(range(len(names)), names, fontsize=9)
    low = max(0.0, min(results.values()) - 0.15)
    ax.set_ylim(low, 1.02)
    ax.set_ylabel("accuracy on the test digits 5-9")
    ax.set_title(f"digits 5-9 from {n_labels} labels: a linear model on ...", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    plot.save_figure(fig, path)


def example_grids(x, y, probs, out, n=10, offset=5):
    """The most confident right, most confident wrong and most uncertain test digits."""
    pred = probs.argmax(axis=1)
    top = probs.max(axis=1)
    right = np.flatnonzero(pred == y)
    wrong = np.flatnonzero(pred != y)
    green, red = "#1a7f37", "#cf222e"
    paths = {}

    def grid(idx, name, title, label_fn):
        if len(idx) == 0:
            return
        labels = [label_fn(i) for i in idx]
        colors = [green if pred[i] == y[i] else red for i in idx]
        plot.image_grid(x[idx], nrows=1 if len(idx) <= 10 else None, ncols=min(len(idx), 10),
                        labels=labels, label_colors=colors, value_range=(0, 1), title=title,
                        path=out / name)
        paths[name] = str(out / name)

    by_conf = right[np.argsort(-top[right], kind="stable")][:n]
    grid(by_conf, "confident_right.png", "most confident right answers (digit, probability)",
         lambda i: f"{pred[i] + offset} ({top[i]:.2f})")
    by_conf = wrong[np.argsort(-top[wrong], kind="stable")][:n]
    grid(by_conf, "confident_wrong.png", "most confident mistakes (true->predicted, probability)",
         lambda i: f"{y[i] + offset}->{pred[i] + offset} ({top[i]:.2f})")
    unsure = np.argsort(top, kind="stable")[:n]
    grid(unsure, "uncertain.png", "least sure (true->predicted, top probability)",
         lambda i: f"{y[i] + offset}->{pred[i] + offset} ({top[i]:.2f})")
    return paths

# %%
rng = np.random.default_rng(seed)
times = {}

mnist = load_mnist()
print(f"digits: {mnist.source}")
x_train, y_train = common.limit(mnist.x_train, limit), common.limit(mnist.y_train, limit)
x_test, y_test = mnist.x_test, mnist.y_test
offset = NEW_DIGITS[0]

# %% [markdown]
# ## 1. The base network, trained on digits 0–4 only
#
# A small conv net (models/linear.py's `small_convnet`): conv → pool → conv → pool →
# flatten → Dense(5). It never sees a 5, 6, 7, 8 or 9.

# %%
base = np.isin(y_train, BASE_DIGITS)
base_test = np.isin(y_test, BASE_DIGITS)
net = small_convnet(n_classes=len(BASE_DIGITS))
net.compile(optimizer=Adam(lr=1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
net.summary()
print(f"\n1. training the conv net on {int(base.sum()):,} digits 0-4 for {epochs} epochs")
with common.Timer() as t:
    history = net.fit(x_train[base], y_train[base], epochs=epochs, batch_size=batch_size,
                      validation_data=(x_test[base_test], y_test[base_test]), verbose=1)
times["base_training"] = t.seconds
for value in history.history["loss"]:
    common.check_finite("base loss", value)
base_acc, _ = accuracy(net, x_test[base_test], y_test[base_test])
print(f"   accuracy on the {int(base_test.sum())} test digits 0-4: {base_acc:.1%}")
h = history.history
plot.curves([{"loss": h["loss"], "val_loss": h["val_loss"]},
             {"accuracy": h["accuracy"], "val_accuracy": h["val_accuracy"]}],
            ylabel=["cross-entropy", "accuracy"], path=out / "base_training.png",
            title="the conv net on digits 0-4 (val: the held-out test digits 0-4)")
common.show(out / "base_training.png")

# %% [markdown]
# ## 2. Freeze it and pop its head
#
# `net.trainable = False; net.pop()`: what is left turns an image into 800 features, and
# no training step will change it.

# %%
extractor = feature_extractor(net)
print(f"\n2. frozen, head popped: images -> {extractor.output_shape[0]} features")
extractor.summary()

# %% [markdown]
# ## 3. Digits 5–9 from few labels: frozen features vs raw pixels
#
# The same softmax linear model, the same labels, the same training, on two inputs: the
# extractor's 800 features, or the 784 raw pixels. If the strokes and edges the net learned
# on 0–4 are useful for 5–9, the features win.

# %%
labelled, unlabelled = pick_labelled(y_train, NEW_DIGITS, labels_per_class, rng)
new_test = np.isin(y_test, NEW_DIGITS)
x_lab, y_lab = x_train[labelled], y_train[labelled] - offset
x_unl, y_unl = x_train[unlabelled], y_train[unlabelled] - offset
x_new, y_new = x_test[new_test], y_test[new_test] - offset
print(f"\n3. digits 5-9: {len(labelled)} labelled training digits "
      f"({labels_per_class} per class); test on {len(y_new)} held-out digits")
with common.Timer() as t:
    f_lab = extractor.predict(x_lab, batch_size=250)
    f_new = extractor.predict(x_new, batch_size=250)
    f_unl = extractor.predict(x_unl, batch_size=250) if len(x_unl) else None
    head, _ = train_linear(f_lab, y_lab, len(NEW_DIGITS), head_epochs, head_lr,
                           batch_size, "linear_on_features")
    raw, _ = train_linear(x_lab.reshape(len(x_lab), -1), y_lab, len(NEW_DIGITS), head_epochs,
                          head_lr, batch_size, "linear_on_pixels")
times["linear_models"] = t.seconds
acc_features, probs_features = accuracy(head, f_new, y_new)
acc_raw, _ = accuracy(raw, x_new.reshape(len(x_new), -1), y_new)
pool = {}
if f_unl is not None:
    pool["features"] = accuracy(head, f_unl, y_unl)[0]
    pool["raw_pixels"] = accuracy(raw, x_unl.reshape(len(x_unl), -1), y_unl)[0]
print(f"   linear model on raw pixels:      {acc_raw:.1%}")
print(f"   linear model on frozen features: {acc_features:.1%}")

# %% [markdown]
# ## 4. Fine-tuning: unfreeze the top layers, at a much lower learning rate
#
# The extractor and the trained head stacked, the last `unfreeze` layers with weights made
# trainable again, compiled anew (a change of `trainable` takes effect at compile) with a
# learning rate 100× below the head's, so the pretrained filters move only a little.

# %%
finetuned = Sequential([*extractor.layers, *head.layers], name="finetuned")
unfrozen = unfreeze_last(finetuned, unfreeze)
finetuned.compile(optimizer=Adam(lr=finetune_lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
print(f"\n4. fine-tuning {', '.join(layer.name for layer in unfrozen)} at lr {finetune_lr:g} "
      f"for {finetune_epochs} epochs on the same {len(labelled)} labels")
finetuned.summary()
with common.Timer() as t:
    ft_history = finetuned.fit(x_lab, y_lab, epochs=finetune_epochs, batch_size=batch_size,
                               validation_data=(x_new, y_new), verbose=1)
times["finetuning"] = t.seconds
for value in ft_history.history["loss"]:
    common.check_finite("fine-tuning loss", value)
acc_finetuned, _ = accuracy(finetuned, x_new, y_new)
if f_unl is not None:
    pool["finetuned"] = accuracy(finetuned, x_unl, y_unl)[0]
print(f"   fine-tuned:                      {acc_finetuned:.1%}")

# %% [markdown]
# ## What the linear model on frozen features gets right and wrong
#
# The three accuracies side by side; the confusion matrix (rows true, columns predicted);
# its most confident right answers, its most confident mistakes, and the digits it is least
# sure about.

# %%
results = {"raw pixels": acc_raw, "frozen features": acc_features, "fine-tuned": acc_finetuned}
plot_accuracies(results, len(labelled), out / "accuracies.png")
plot.confusion_matrix(y_new, probs_features.argmax(axis=1), classes=[str(d) for d in NEW_DIGITS],
                      path=out / "confusion.png",
                      title=f"linear model on frozen features: {acc_features:.1%} of {len(y_new)}")
figures = ["base_training.png", "accuracies.png", "confusion.png"]
grids = example_grids(x_new, y_new, probs_features, out, offset=offset)     # {file name: path}
figures += list(grids)
common.show(out / "accuracies.png", out / "confusion.png", *grids.values())

# %% [markdown]
# ## The numbers

# %%

metrics = {
    "accuracy_base_digits_0_4": base_acc,
    "accuracy_raw_pixels": acc_raw,
    "accuracy_features": acc_features,
    "accuracy_finetuned": acc_finetuned,
    "features_beat_raw_pixels": acc_features > acc_raw,
    "accuracy_unlabelled_train_5_9": pool,
    "n_labelled": int(len(labelled)), "n_test_5_9": int(len(y_new)), "n_unlabelled_5_9": int(len(y_unl)),
    "base_history": history.history, "finetune_history": ft_history.history,
    "settings": {"epochs": epochs, "labels_per_class": labels_per_class, "head_epochs": head_epochs,
                 "head_lr": head_lr, "finetune_epochs": finetune_epochs, "finetune_lr": finetune_lr,
                 "unfreeze": unfreeze, "batch_size": batch_size, "limit": limit, "seed": seed,
                 "device": device},
    "data_source": mnist.source,
    "stage_seconds": times, "wall_seconds": sum(times.values()),
    "figures": figures,
}
common.write_json(out / "metrics.json", metrics)
print(f"\nraw pixels {acc_raw:.1%} < frozen features {acc_features:.1%}"
      if acc_features > acc_raw else
      f"\nnote: raw pixels {acc_raw:.1%} >= frozen features {acc_features:.1%} at these settings")
print(f"wrote {len(figures)} figures and metrics.json to {out}")
