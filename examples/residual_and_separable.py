"""Residual connections and depthwise-separable convolutions, against a plain convnet, on digits.

    python examples/residual_and_separable.py             # a few minutes on a laptop CPU
    python examples/residual_and_separable.py --epochs 10
    python examples/residual_and_separable.py --epochs 1 --limit 500 --out runs/quick

Two of the modern convnet patterns of Chollet's "Deep Learning with Python" (2nd edition,
9.3), written as the lesson writes them, with the functional API:

Residual connections. A block's input is added back to its output, so the block only has to
learn a correction to the identity, and the gradient has a short path to every layer:
    def residual_block(x, filters, pooling=False):
        residual = x
        x = Conv2D(filters, 3, activation="relu", padding="same")(x)
        x = Conv2D(filters, 3, activation="relu", padding="same")(x)
        if pooling:
            x = MaxPooling2D(2, padding="same")(x)
            residual = Conv2D(filters, 1, strides=2)(residual)     # 1x1 projection: new shape
        elif filters != residual.shape[1]:
            residual = Conv2D(filters, 1)(residual)                # 1x1 projection: new width
        return add([x, residual])
Depthwise-separable convolution (SeparableConv2D): each channel filtered on its own in space
(a depthwise k x k), then the channels mixed by a 1x1: for k = 3 and C -> C channels,
9C + C^2 weights instead of 9C^2 (minigrad/nn/separable.py explains it).

The models, each three blocks of two 3x3 convs (widths --widths, 8-16-32), max pooling after
the first two, then GlobalAveragePooling2D and Dense(10, softmax):
    plain          the blocks without the additions
    residual       the lesson's residual_block, as above (the 1x1 projections add a few
                   parameters: "about the same count" as plain)
    separable      the residual net with SeparableConv2D in the blocks (after a Conv2D stem:
                   a separable conv of a 1-channel image is just a scaled 3x3 filter), at
                   the same widths: a fraction of the parameters
    separable, wider   the same, widened (--wide-widths) to about plain's parameter count
All train the same way (Adam 1e-3, batch 32, --epochs, same seed), on the training digits,
scored after every epoch on the 500 held-out test digits.

Writes to --out (default runs/residual_and_separable):
    curves.png     validation accuracy and training loss per epoch of each model, and the
                   final accuracies with parameter counts and seconds per epoch
    metrics.json   the table (params, best/final validation accuracy, seconds per epoch),
                   every history, settings
and prints the table.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (examples/common.py; also puts the repo on sys.path)

import minigrad as mg  # noqa: E402
from minigrad import plot  # noqa: E402
from minigrad.data import load_mnist  # noqa: E402
from minigrad.nn import (Conv2D, Dense, GlobalAveragePooling2D, Input, MaxPooling2D, Model,  # noqa: E402
                         SeparableConv2D, add)
from minigrad.optim import Adam  # noqa: E402

COLORS = {"plain": "#9d9d9d", "residual": "#4c78a8", "separable": "#f58518", "separable, wider": "#54a24b"}


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
    values = tuple(int(v) for v in text.split(","))
    if len(values) < 1 or min(values) < 1:
        raise ValueError(f"widths must be positive integers separated by commas, got {text!r}")
    return values


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
    ax_params.set_title("validation accuracy (mean of the last 2 epochs)", fontsize=10)
    from matplotlib.ticker import MaxNLocator, PercentFormatter
    ax_acc.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    for ax in (ax_acc, ax_loss):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (ax_acc, ax_loss):
        ax.spines[["top", "right"]].set_visible(False)
    ax_params.spines[["top", "right", "bottom"]].set_visible(False)
    plot.save_figure(fig, path)


def main(argv=None) -> dict:
    p = common.parser(__doc__.splitlines()[0], epochs=10, out="runs/residual_and_separable", batch_size=32)
    p.add_argument("--widths", type=widths_arg, default=(8, 16, 32), help="filters of the three blocks")
    p.add_argument("--wide-widths", type=widths_arg, default=(20, 40, 80),
                   help="filters of the wider separable net (about the plain net's parameter count)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    args = p.parse_args(argv)
    out = common.setup(args)

    mnist = load_mnist()
    print(f"digits: {mnist.source}")
    x_train, y_train = common.limit(mnist.x_train, args.limit), common.limit(mnist.y_train, args.limit)
    val = (mnist.x_test, mnist.y_test)
    print(f"training on {len(x_train):,} digits, validating on {len(mnist.y_test)}")

    specs = {"plain": ("plain", args.widths), "residual": ("residual", args.widths),
             "separable": ("separable", args.widths), "separable, wider": ("separable", args.wide_widths)}
    histories, table = {}, {}
    for name, (kind, widths) in specs.items():
        mg.manual_seed(args.seed)
        model = build(kind, widths, name=name.replace(", ", "_"))
        if name == "residual":
            model.summary()
        model.compile(optimizer=Adam(lr=args.lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        with common.Timer() as t:
            history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                                validation_data=val, verbose=args.verbose)
        h = history.history
        for value in h["loss"]:
            common.check_finite(f"{name} loss", value)
        histories[name] = h
        table[name] = {"params": model.count_params(), "widths": list(widths),
                       "best_val_accuracy": float(max(h["val_accuracy"])),
                       "final_val_accuracy": float(np.mean(h["val_accuracy"][-2:])),
                       "final_train_loss": float(h["loss"][-1]),
                       "seconds_per_epoch": t.seconds / args.epochs}
        row = table[name]
        print(f"{name:>18}: {row['params']:>7,} params, validation {row['final_val_accuracy']:.1%} "
              f"(best {row['best_val_accuracy']:.1%}), {row['seconds_per_epoch']:.1f} s/epoch")

    print(f"\n{'model':<18} {'params':>8} {'val acc':>8} {'best':>7} {'s/epoch':>8}")
    for name, row in table.items():
        print(f"{name:<18} {row['params']:>8,} {row['final_val_accuracy']:>8.1%} {row['best_val_accuracy']:>7.1%} "
              f"{row['seconds_per_epoch']:>8.1f}")
    plot_curves(histories, table, out / "curves.png")
    figures = ["curves.png"]
    metrics = {
        "table": table, "histories": histories,
        "param_ratio_separable_vs_plain": table["separable"]["params"] / table["plain"]["params"],
        "n_train": int(len(x_train)), "n_val": int(len(mnist.y_test)),
        "settings": {"epochs": args.epochs, "widths": list(args.widths), "wide_widths": list(args.wide_widths),
                     "lr": args.lr, "batch_size": args.batch_size, "limit": args.limit, "seed": args.seed,
                     "device": args.device},
        "data_source": mnist.source,
        "wall_seconds": sum(r["seconds_per_epoch"] * args.epochs for r in table.values()),
        "figures": figures,
    }
    common.write_json(out / "metrics.json", metrics)
    print(f"wrote {len(figures)} figure and metrics.json to {out}")
    return metrics


if __name__ == "__main__":
    main()
