# %% [markdown]
# # Autoencoder vs VAE: the two 2-D latent spaces of MNIST digits, side by side.
#
#     python examples/autoencoder_vs_vae.py             # both models, 30 epochs each, batch 100
#     python examples/autoencoder_vs_vae.py --epochs 5 --limit 1000 --out runs/quick
#
# The two models have the same layers (784 -> 512 relu -> 2 -> 512 relu -> 784 sigmoid) and the
# same reconstruction loss (binary cross-entropy summed over the pixels), trained alike (Adam
# 1e-3). The VAE's encoder also outputs a variance, its code is sampled, and its loss adds
# KL(q(z|x) || N(0, I)). The lesson's observations, which this script measures rather than asserts:
#
#   * the autoencoder's latent space is irregular and unbounded: nothing fixes its scale or
#     centre, and digits sit in clusters with empty space between them;
#   * the VAE's latent space is compact around the origin (the KL term pulls every code towards
#     N(0, I)) and continuous: points between the clusters still decode to digit-like images.
#
# Measured on the test digits: each axis's mean, std and range of the codes; the fraction of
# cells of a 10x10 grid over the codes' central region (1st to 99th percentile per axis) that
# hold no code ("gaps"); and, for a 15x15 grid of codes over the same region, how far each
# decoded image is from its nearest real test digit (root-mean-square pixel difference; small =
# looks like some real digit), counting the decoded images further from every real digit than 95%
# of real test digits are from their nearest neighbour.
#
# What the default run showed (seed 0, 30 epochs each, ~30 s): the autoencoder's codes have mean
# (-6.3, +7.7) and std (10.0, 9.7) per axis, ranging over z[0] -42..9 and z[1] -8..38; the VAE's
# have mean (-0.25, -0.21) and std (1.29, 1.32), inside -4.1..3.6 -- 7.6x narrower and centred.
# Empty cells: 28% vs 22%. On the decoded grids the average distance to the nearest real digit is
# about the same (RMS 0.156 autoencoder, 0.167 VAE), but 7 of the autoencoder's 225 grid images
# are unlike any digit (the speckled corner around its empty bottom right), against 0 of the VAE's.
#
# Writes to --out (default runs/autoencoder_vs_vae): ae_vs_vae.png (the two latent scatters,
# and each decoder over a grid spanning its codes) and metrics.json.

# %%
import time

import numpy as np

import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)
import minigrad as mg
from minigrad.data import load_mnist
from models.autoencoder import Autoencoder
from models.vae import MLPVAE, Trainer
from vae_training import fit, save_figure

GRID = 15          # decoded grid: GRID x GRID codes
CELLS = 10         # occupancy grid for the "gaps" measure (~5 test codes per cell if spread evenly)

# %% tags=["parameters"]
epochs = 30                      # training epochs
test_limit = None                # use only the first N test digits
batch_size = 100                 # mini-batch size
limit = None                     # use only the first N training examples (quick runs)
seed = 0                         # random seed
device = "cpu"                   # cpu, cuda or cuda:N
out = "runs/autoencoder_vs_vae"  # folder for the figures and metrics.json
verbose = 1                      # 0 quiet, 1 progress bars, 2 one line per epoch

# %%
out = common.parameters(globals())

# %% [markdown]
# ## The measures
#
# Both models are read the same way: the *deterministic* code of each test digit (the
# autoencoder's z, the VAE's z_mean), the box its codes fill (1st–99th percentile per axis),
# how much of that box is empty, and how far the images decoded from a grid over the box are
# from every real digit (RMS pixel difference to the nearest test digit).

# %%
def codes_of(model, x) -> np.ndarray:
    """The deterministic code of each image: the autoencoder's z, the VAE's z_mean."""
    with mg.no_grad():
        out = [model.encode(x[i:i + 500]) for i in range(0, len(x), 500)]
    return np.concatenate([(o[0] if isinstance(o, tuple) else o).numpy() for o in out])


def decode(model, z) -> np.ndarray:
    with mg.no_grad():
        return model.decode(z.astype(np.float32)).numpy().reshape(len(z), 28, 28)


def central_box(z, lo=1.0, hi=99.0):
    """Per axis, the 1st and 99th percentiles of the codes: the region they occupy."""
    return np.percentile(z, lo, axis=0), np.percentile(z, hi, axis=0)


def grid_codes(box, n=GRID) -> np.ndarray:
    """n x n codes evenly spread over the box, rows top (high z[1]) to bottom, as plot.manifold."""
    (x0, y0), (x1, y1) = box
    gx, gy = np.linspace(x0, x1, n), np.linspace(y1, y0, n)
    return np.stack(np.meshgrid(gx, gy), axis=-1).reshape(n * n, 2)


def empty_fraction(z, box, cells=CELLS) -> float:
    """The fraction of a cells x cells grid over the box that holds no code."""
    (x0, y0), (x1, y1) = box
    inside = (z[:, 0] >= x0) & (z[:, 0] <= x1) & (z[:, 1] >= y0) & (z[:, 1] <= y1)
    counts, _, _ = np.histogram2d(z[inside, 0], z[inside, 1], bins=cells, range=[[x0, x1], [y0, y1]])
    return float((counts == 0).mean())


def nearest_digit_rms(images, reference) -> np.ndarray:
    """For each image, the RMS pixel difference to its nearest reference image."""
    a = images.reshape(len(images), -1).astype(np.float64)
    b = reference.reshape(len(reference), -1).astype(np.float64)
    d2 = (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :]
    return np.sqrt(np.maximum(d2.min(axis=1), 0) / a.shape[1])


def real_digit_spacing(x_test, q=95.0) -> float:
    """The q-th percentile over test digits of the RMS distance to the nearest *other* test digit."""
    a = x_test.reshape(len(x_test), -1).astype(np.float64)
    sq = (a * a).sum(1)
    d2 = sq[:, None] - 2 * a @ a.T + sq[None, :]
    np.fill_diagonal(d2, np.inf)
    return float(np.percentile(np.sqrt(np.maximum(d2.min(axis=1), 0) / a.shape[1]), q))


def describe(name, z, box, decoded, x_test, spacing) -> dict:
    rms = nearest_digit_rms(decoded, x_test)
    return {
        "model": name,
        "mean": z.mean(axis=0).tolist(), "std": z.std(axis=0).tolist(),
        "min": z.min(axis=0).tolist(), "max": z.max(axis=0).tolist(),
        "central_box": [box[0].tolist(), box[1].tolist()],
        "mean_radius": float(np.linalg.norm(z - z.mean(axis=0), axis=1).mean()),
        "empty_cell_fraction": empty_fraction(z, box),
        "grid_nearest_digit_rms": {"mean": float(rms.mean()), "median": float(np.median(rms)),
                                   "max": float(rms.max())},
        # decoded grid images further from every real digit than 95% of real digits are from
        # their nearest neighbour: images unlike any digit
        "grid_far_from_digits": int((rms > spacing).sum()),
        "grid_size": int(len(rms)),
    }

# %% [markdown]
# ## The figure
#
# Top: the codes of the test digits, coloured by digit, the dashed box the region they fill.
# Bottom: a grid of codes over that box, decoded. Look at the scales of the axes first, then
# at the gaps: where the autoencoder left empty space its decoder was never trained, and the
# grid shows smudges that are no digit.

# %%
def figure(results, path, n_test) -> None:
    """2 x 2: latent scatters (top), decoded grids over each model's central box (bottom)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(10.5, 10.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2)
    palette = matplotlib.colormaps["tab10"]
    for col, r in enumerate(results):
        ax = axes[0, col]
        z, y = r["z"], r["y"]
        order = np.random.default_rng(0).permutation(len(z))
        ax.scatter(z[order, 0], z[order, 1], s=9, c=[palette(int(c)) for c in y[order]], alpha=0.8,
                   linewidths=0)
        (x0, y0), (x1, y1) = r["box"]
        ax.add_patch(matplotlib.patches.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False,
                                                  linestyle="--", linewidth=0.8, edgecolor="#555555"))
        ax.axhline(0, color="#bbbbbb", linewidth=0.6, zorder=0)
        ax.axvline(0, color="#bbbbbb", linewidth=0.6, zorder=0)
        m = r["metrics"]
        ax.set_title(f"{r['title']}: codes of {n_test} test digits\n"
                     f"std per axis ({m['std'][0]:.2f}, {m['std'][1]:.2f}), "
                     f"mean ({m['mean'][0]:.2f}, {m['mean'][1]:.2f}); "
                     f"empty cells {100 * m['empty_cell_fraction']:.0f}%", fontsize=9)
        ax.set_xlabel("z[0]")
        ax.set_ylabel("z[1]")
        ax.set_aspect("equal", adjustable="datalim")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if col == 1:
            handles = [Line2D([], [], marker="o", linestyle="", markersize=5, color=palette(c), label=str(c))
                       for c in range(10)]
            ax.legend(handles=handles, title="digit", loc="center left", bbox_to_anchor=(1.01, 0.5),
                      frameon=False)

        ax = axes[1, col]
        tiles = r["decoded"].reshape(GRID, GRID, 28, 28).transpose(0, 2, 1, 3).reshape(GRID * 28, GRID * 28)
        (x0, y0), (x1, y1) = r["box"]
        ax.imshow(tiles, cmap="gray", vmin=0, vmax=1, extent=(x0, x1, y0, y1), aspect="auto",
                  interpolation="nearest")
        ax.set_xlabel("z[0]")
        ax.set_ylabel("z[1]")
        rms = m["grid_nearest_digit_rms"]
        ax.set_title(f"{r['title']}: decoded {GRID}x{GRID} grid over the dashed box\n"
                     f"RMS to nearest real digit: mean {rms['mean']:.3f}, max {rms['max']:.3f}; "
                     f"{m['grid_far_from_digits']}/{m['grid_size']} unlike any digit", fontsize=9)
    fig.suptitle("autoencoder vs VAE: the same layers, 2-D codes; the VAE adds the KL term",
                 fontsize=11, fontweight="bold")
    save_figure(fig, path, dpi=100)

# %% [markdown]
# ## The data, and the two models trained alike
#
# The same layers (784 → 512 → 2 → 512 → 784), the same Adam, epochs and batches; the only
# difference is the VAE's KL term, KL(q(z|x) || N(0, I)), and its sampled code.

# %%
started = time.perf_counter()
mnist = load_mnist(flatten=True)
x_train = common.limit(mnist.x_train, limit)
x_test, y_test = common.limit(mnist.x_test, test_limit), common.limit(mnist.y_test, test_limit)
print(f"data: {mnist.source}\ntraining on {len(x_train):,} digits, {len(x_test):,} test digits")

metrics = {"epochs": epochs, "batch_size": batch_size, "seed": seed,
           "device": device, "data_source": mnist.source,
           "n_train": len(x_train), "n_test": len(x_test), "models": {}}
spacing = real_digit_spacing(x_test)
metrics["real_digit_spacing_rms_p95"] = spacing
results = []
for key, title, model in (("autoencoder", "autoencoder", Autoencoder(latent_dim=2)),
                          ("vae", "VAE", MLPVAE(latent_dim=2))):
    model.to(device)
    with common.Timer() as timer:
        history = fit(Trainer(model), x_train, x_test, epochs, batch_size, verbose,
                      label=f"[{title}] ")
    model.eval()
    z = codes_of(model, x_test)
    box = central_box(z)
    decoded = decode(model, grid_codes(box))
    m = describe(title, z, box, decoded, x_test, spacing)
    m.update({"train_seconds": timer.seconds,
              "test_reconstruction": history["test_reconstruction" if key == "vae" else "test_loss"]})
    if key == "vae":
        m["test_nelbo"] = history["test_loss"]
        m["test_kl"] = history["test_kl"]
    for name, value in m.items():
        if isinstance(value, float):
            common.check_finite(f"{key} {name}", value)
    metrics["models"][key] = m
    results.append({"title": title, "z": z, "y": y_test, "box": box, "decoded": decoded, "metrics": m})


# %% [markdown]
# ## Side by side

# %%
figure(results, out / "ae_vs_vae.png", len(x_test))
common.show(out / "ae_vs_vae.png")
metrics["figures"] = ["ae_vs_vae.png"]


# %% [markdown]
# ## What the run shows, in numbers
#
# The same conclusions the figure suggests, measured (and written to metrics.json).

# %%
ae, vae = metrics["models"]["autoencoder"], metrics["models"]["vae"]
lines = ["What this run shows (test digits; codes = the autoencoder's z, the VAE's z_mean):"]
for m in (ae, vae):
    lines.append(f"  {m['model']:>11}: mean ({m['mean'][0]:+.2f}, {m['mean'][1]:+.2f}), std per axis "
                 f"({m['std'][0]:.2f}, {m['std'][1]:.2f}), range z[0] {m['min'][0]:.1f}..{m['max'][0]:.1f}, "
                 f"z[1] {m['min'][1]:.1f}..{m['max'][1]:.1f}; empty grid cells "
                 f"{100 * m['empty_cell_fraction']:.0f}%; decoded grid, RMS to nearest digit "
                 f"{m['grid_nearest_digit_rms']['mean']:.3f} (max {m['grid_nearest_digit_rms']['max']:.3f})")
scale = max(ae["std"]) / max(max(vae["std"]), 1e-12)
near_prior = all(abs(v) < 0.5 for v in vae["mean"]) and all(0.5 < v < 2.0 for v in vae["std"])
lines.append(f"  The autoencoder's codes spread {scale:.1f}x wider (largest per-axis std) than the VAE's; "
             + ("the VAE's sit close to the N(0, I) prior (mean within 0.5 of the origin, std per axis "
                "between 0.5 and 2)." if near_prior else
                "the VAE's are not (yet) close to the N(0, I) prior (mean within 0.5 of the origin, "
                "std per axis between 0.5 and 2)."))
gaps = "more" if ae["empty_cell_fraction"] > vae["empty_cell_fraction"] else "no more"
lines.append(f"  The autoencoder leaves {gaps} empty space inside its own region than the VAE "
             f"({100 * ae['empty_cell_fraction']:.0f}% vs {100 * vae['empty_cell_fraction']:.0f}% of cells).")
closer = "closer to" if vae["grid_nearest_digit_rms"]["mean"] < ae["grid_nearest_digit_rms"]["mean"] \
    else "no closer to"
lines.append(f"  Decoding a grid over each region, the VAE's images are {closer} real digits on average "
             f"({vae['grid_nearest_digit_rms']['mean']:.3f} vs {ae['grid_nearest_digit_rms']['mean']:.3f}).")
lines.append(f"  Decoded grid images further from every real digit than 95% of real digits are from their "
             f"nearest neighbour (RMS {spacing:.3f}): autoencoder {ae['grid_far_from_digits']} of "
             f"{ae['grid_size']}, VAE {vae['grid_far_from_digits']} of {vae['grid_size']}.")
summary = "\n".join(lines)
print("\n" + summary)
metrics["observations"] = lines[1:]
metrics["wall_time_s"] = time.perf_counter() - started
common.write_json(out / "metrics.json", metrics)
print(f"wall time {metrics['wall_time_s']:.1f} s; figure and metrics.json in {out}")
