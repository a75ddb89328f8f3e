# %% [markdown]
# # Residual connections and depthwise-separable convolutions, against a plain convnet, on digits.
#
#     python examples/residual_and_separable.py             # a few minutes on a laptop CPU
#     python examples/residual_and_separable.py --epochs 10
#     python examples/residual_and_separable.py --epochs 1 --limit 500 --out runs/quick
#
# Two of the modern convnet patterns of Chollet's "Deep Learning with Python" (2nd edition,
# 9.3), written as the lesson writes them, with the functional API:
#
# Residual connections. A block's input is added back to its output, so the block only has to
# learn a correction to the identity, and the gradient has a short path to every layer:
#     def residual_block(x, filters, pooling=False):
#         residual = x
#         x = Conv2D(filters, 3, activation="relu", padding="same")(x)
#         x = Conv2D(filters, 3, activation="relu", padding="same")(x)
#         if pooling:
#             x = MaxPooling2D(2, padding="same")(x)
#             residual = Conv2D(filters, 1, strides=2)(residual)     # 1x1 projection: new shape
#         elif filters != residual.shape[1]:
#             residual = Conv2D(filters, 1)(residual)                # 1x1 projection: new width
#         return add([x, residual])
# Depthwise-separable convolution (SeparableConv2D): each channel filtered on its own in space
# (a depthwise k x k), then the channels mixed by a 1x1: for k = 3 and C -> C channels,
# 9C + C^2 weights instead of 9C^2 (minigrad/nn/separable.py explains it).
#
# The models, each three blocks of two 3x3 convs (widths --widths, 8-16-32), max pooling after
# the first two, then GlobalAveragePooling2D and Dense(10, softmax):
#     plain          the blocks without the additions
#     residual       the lesson's residual_block, as above (the 1x1 projections add a few
#                    parameters: "about the same count" as plain)
#     separable      the residual net with SeparableConv2D in the blocks (after a Conv2D stem:
#                    a separable conv of a 1-channel image is just a scaled 3x3 filter), at
#                    the same widths: a fraction of the parameters
#     separable, wider   the same, widened (--wide-widths) to about plain's parameter count
# All train the same way (Adam 1e-3, batch 32, --epochs, same seed), on the training digits,
# scored after every epoch on the 500 held-out test digits.
#
# Writes to --out (default runs/residual_and_separable):
#     curves.png     validation accuracy and training loss per epoch of each model, and the
#                    final accuracies with parameter counts and seconds per epoch
#     metrics.json   the table (params, best/final validation accuracy, seconds per epoch),
#                    every history, settings
# and prints the table.

# %%
import numpy as np
import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)

import minigrad as mg
from minigrad import plot
from minigrad.data import load_mnist
from minigrad.nn import (Conv2D, Dense, GlobalAveragePooling2D, Input, MaxPooling2D, Model,
                         SeparableConv2D, add)
from minigrad.optim import Adam

COLORS = {"plain": "#9d9d9d", "residual": "#4c78a8", "separable": "#f58518", "separable, wider": "#54a24b"}

# %% tags=["parameters"]
epochs = 10                          # training epochs
widths = "8,16,32"                   # filters of the three blocks
wide_widths = "20,40,80"             # filters of the wider separable net (about the plain net's parameter count)
lr = 1e-3                            # Adam learning rate
batch_size = 32                      # mini-batch size
limit = None                         # use only the first N training examples (quick runs)
seed = 0                             # random seed
device = "cpu"                       # cpu, cuda or cuda:N
out = "runs/residual_and_separable"  # folder for the figures and metrics.json
verbose = 1                          # 0 quiet, 1 progress bars, 2 one line per epoch

# %%
out = common.parameters(globals())

# %% [markdown]
# ## A residual block, and the same block without its shortcut
#
# y = F(x) + x: the block learns a correction F to its input, and the gradient reaches the
# earlier layers through the identity path as well as through F. Where F changes the shape
# (more filters, or pooling), the shortcut is a 1×1 convolution (with stride 2 when pooling)
# so that the two can be added.

# %%
def residual_block(x, filters, pooling=False, conv=Conv2D):
    """The lesson's block: two 3x3 convs, optional pooling, the input added back (projected by
    a 1x1 convolution where its shape differs)."""
    residual = x
    x = conv(filters, 3, activation="relu", padding="same")(x)
    x = conv(filters, 3, activation="relu", padding="same")(x)
    if pooling:
        x = MaxPooling2D(2, padding="same")(x)
        residual = Conv2D(filters, 1, strides=2)(residual)
    elif filters != residual.shape[1]:
        residual = Conv2D(filters, 1)(residual)
    return add([x, residual])


def plain_block(x, filters, pooling=False, conv=Conv2D):
    """The same block without the shortcut."""
    x = conv(filters, 3, activation="relu", padding="same")(x)
    x = conv(filters, 3, activation="relu", padding="same")(x)
    return MaxPooling2D(2, padding="same")(x) if pooling else x


def build(kind, widths, name):
    inputs = Input(shape=(1, 28, 28))
    x = inputs
    block, conv = (plain_block, Conv2D) if kind == "plain" else (residual_block, Conv2D)
    if kind.startswith("separable"):
        conv = SeparableConv2D
        x = Conv2D(widths[0], 3, activation="relu", padding="same")(x)      # the stem
    for i, filters in enumerate(widths):
        x = block(x, filters, pooling=i < len(widths) - 1, conv=conv)
    x = GlobalAveragePooling2D()(x)
    outputs = Dense(10, activation="softmax")(x)
    return Model(inputs, outputs, name=name)



def widths_arg(text):
    """'8,16,32' -> (8, 16, 32): the filters of the three blocks."""
    try:
        values = tuple(int(v) for v in str(text).split(","))
    except ValueError:
        values = ()
    if len(values) < 1 or min(values) < 1:
        raise ValueError(f"widths must be positive integers separated by commas, such as '8,16,32'; got {text!r}")
    return values

# %% [markdown]
# ## The figure
#
# Validation accuracy and training loss per epoch for the four nets, and each net's
# accuracy beside its parameter count and time per epoch.

# %%
def plot_curves(histories, table, path):
    fig = plot.new_figure((14.5, 4.0))
    ax_acc, ax_loss, ax_params = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1.3]})
    for name, h in histories.items():
        epochs = np.arange(len(h["loss"])) + 1
        ax_acc.plot(epochs, h["val_accuracy"], color=COLORS[name], lw=1.8, marker="o", ms=3, label=name)
        ax_loss.plot(epochs, h["loss"], color=COLORS[name], lw=1.8, label=name)
    ax_acc.set_title("validation accuracy (500 held-out digits)", fontsize=10)
    ax_acc.set_xlabel("epoch")
    ax_acc.legend(fontsize=8, loc="lower right")
    ax_loss.set_title("training loss", fontsize=10)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_yscale("log")
    names = list(table)
    values = [table[k]["final_val_accuracy"] for k in names]
    bars = ax_params.barh(range(len(names)), values, color=[COLORS[k] for k in names], height=0.6)
    for bar, name in zip(bars, names):
        row = table[name]
        ax_params.text(bar.get_width() + 0.003, bar.get_y() + bar.get_height() / 2,
                       f"{row['final_val_accuracy']:.1%}  ({row['params']:,} params, "
                       f"{row['seconds_per_epoch']:.0f} s/epoch)", va="center", fontsize=8)
    ax_params.set_yticks(range(len(names)), names, fontsize=9)
    ax_params.invert_yaxis()
    low = max(0.0, min(values) - 0.1)
    ax_params.set_xlim(low, low + (max(values) - low) * 1.9)     # room for the labels
    ax_params.set_xticks([])                                       # the values are written on the bars
    averaged = table[names[0]]["epochs_averaged"]
    ax_params.set_title("validation accuracy (" + ("the last epoch" if averaged == 1 else
                        f"mean of the last {averaged} epochs") + ")", fontsize=10)
    from matplotlib.ticker import MaxNLocator      # matplotlib: the examples extra
    common.percent_axis(ax_acc.yaxis)
    for ax in (ax_acc, ax_loss):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (ax_acc, ax_loss):
        ax.spines[["top", "right"]].set_visible(False)
    ax_params.spines[["top", "right", "bottom"]].set_visible(False)
    return plot.save_figure(fig, path)


# %% [markdown]
# ## Four nets, trained alike
#
# plain, residual and separable at the same widths, and the separable one widened to about
# the plain net's parameter count; the same seed before each.

# %%
mnist = load_mnist()
print(f"digits: {mnist.source}")
x_train, y_train = common.limit(mnist.x_train, limit), common.limit(mnist.y_train, limit)
val = (mnist.x_test, mnist.y_test)
print(f"training on {len(x_train):,} digits, validating on {len(mnist.y_test)}")

block_widths, wide_block_widths = widths_arg(widths), widths_arg(wide_widths)
specs = {"plain": ("plain", block_widths), "residual": ("residual", block_widths),
         "separable": ("separable", block_widths), "separable, wider": ("separable", wide_block_widths)}
histories, table = {}, {}
for name, (kind, filters) in specs.items():
    mg.manual_seed(seed)
    model = build(kind, filters, name=name.replace(", ", "_"))
    if name == "residual":
        model.summary()
    model.compile(optimizer=Adam(lr=lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with common.Timer() as t:
        history = model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size,
                            validation_data=val, verbose=verbose)
    h = history.history
    for value in h["loss"]:
        common.check_finite(f"{name} loss", value)
    histories[name] = h
    averaged = min(2, len(h["val_accuracy"]))          # the mean of the last 2 epochs (1 if 1 ran)
    table[name] = {"params": model.count_params(), "widths": list(filters),
                   "best_val_accuracy": float(max(h["val_accuracy"])),
                   "final_val_accuracy": float(np.mean(h["val_accuracy"][-averaged:])),
                   "epochs_averaged": averaged,
                   "final_train_loss": float(h["loss"][-1]),
                   "seconds_per_epoch": t.seconds / epochs}
    row = table[name]
    print(f"{name:>18}: {row['params']:>7,} params, validation {row['final_val_accuracy']:.1%} "
          f"(best {row['best_val_accuracy']:.1%}), {row['seconds_per_epoch']:.1f} s/epoch")

print(f"\n{'model':<18} {'params':>8} {'val acc':>8} {'best':>7} {'s/epoch':>8}")
for name, row in table.items():
    print(f"{name:<18} {row['params']:>8,} {row['final_val_accuracy']:>8.1%} {row['best_val_accuracy']:>7.1%} "
          f"{row['seconds_per_epoch']:>8.1f}")

# %% [markdown]
# ## What to look at
#
# The residual net reaches the lowest training loss (the shortcuts make it easier to
# optimise); separable convolutions need a fraction of the parameters for a few points of
# accuracy, and are not faster on a CPU at these sizes.

# %%
plot_curves(histories, table, out / "curves.png")
figures = ["curves.png"]
common.show(out / "curves.png")

# %%
metrics = {
    "table": table, "histories": histories,
    "param_ratio_separable_vs_plain": table["separable"]["params"] / table["plain"]["params"],
    "n_train": int(len(x_train)), "n_val": int(len(mnist.y_test)),
    "settings": {"epochs": epochs, "widths": list(block_widths), "wide_widths": list(wide_block_widths),
                 "lr": lr, "batch_size": batch_size, "limit": limit, "seed": seed,
                 "device": device},
    "data_source": mnist.source,
    "wall_seconds": sum(r["seconds_per_epoch"] * epochs for r in table.values()),
    "figures": figures,
}
common.write_json(out / "metrics.json", metrics)
print(f"wrote {len(figures)} figure and metrics.json to {out}")
