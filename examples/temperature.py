# %% [markdown]
# # Softmax temperature: reweighting a distribution to make sampling bolder or more conservative.
#
#     python examples/temperature.py
#     python examples/temperature.py --temperatures 0.1,1,10 --samples 5000
#
# A text generator picks the next word by sampling from the probabilities its softmax gives.
# Dividing the logits by a temperature T before the softmax reweights that distribution:
#
#     p_T(i) = exp(log p(i) / T) / sum_j exp(log p(j) / T)  =  p(i)^(1/T) / sum_j p(j)^(1/T)
#
# T = 1 gives p back; T < 1 sharpens it (T -> 0: always the most likely word, entropy 0);
# T > 1 flattens it (T -> infinity: every word equally likely, entropy log K). Here the
# reweighting is minigrad's own softmax, F.softmax(mg.log(p) / T), and --samples draws from
# each p_T (with the generator seeded by --seed) to show what sampling would do.
#
# Writes to --out (default runs/temperature):
#     temperature.png     the distribution at each temperature (entropy in each panel's title)
#     entropy.png         entropy and top probability against temperature (log scale)
#     samples.png         how often each word is drawn in --samples draws at each temperature
#     metrics.json        per temperature: probabilities, entropy, top probability, sample counts
# (--epochs, --batch-size and --limit are accepted for a uniform command line; nothing trains.)

# %%
import math

import numpy as np
import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)

import minigrad as mg
from minigrad import plot
import minigrad.functional as F
from minigrad import backend

# "The cat sat on the ..." and a model's guesses for the next word (they sum to 1).
WORDS = ["mat", "sofa", "floor", "bed", "roof", "chair", "table", "moon", "keyboard", "piano"]
PROBS = [0.40, 0.18, 0.12, 0.09, 0.07, 0.05, 0.04, 0.025, 0.015, 0.01]

# %% tags=["parameters"]
epochs = 0                      # accepted for a uniform command line; nothing trains
temperatures = "0.2,0.5,1,2,5"  # comma-separated temperatures to show
samples = 2000                  # draws from each reweighted distribution
batch_size = 32                 # mini-batch size
limit = None                    # draw at most this many samples (quick runs)
seed = 0                        # random seed
device = "cpu"                  # cpu, cuda or cuda:N
out = "runs/temperature"        # folder for the figures and metrics.json
verbose = 1                     # 0 quiet, 1 progress bars, 2 one line per epoch

# %%
out = common.parameters(globals())

# %% [markdown]
# ## Reweighting with minigrad's softmax
#
# p_T = softmax(log p / T): the logits are log p, so T = 1 gives p back.

# %%
def reweight(p, temperature):
    """softmax(log p / T) with minigrad: the distribution at temperature T (T > 0)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    logits = mg.log(mg.tensor(p, dtype="float64"))
    return F.softmax(logits / temperature, axis=-1).numpy()


def entropy(p) -> float:
    """-sum p log p in nats (0 log 0 = 0)."""
    q = np.asarray(p, dtype=np.float64)
    q = q[q > 0]
    return float(-(q * np.log(q)).sum())

# %% [markdown]
# ## The figures
#
# Bars of p_T per temperature; the entropy of p_T over a fine grid of T; and how often each
# word is drawn when sampling from p_T.

# %%
def plot_bars(dists, path):
    """One bar chart per temperature, side by side on a shared y axis, entropy in the titles."""
    import matplotlib
    k = len(dists)
    fig = plot.new_figure((min(2.3 * k + 0.6, 16.0), 3.0))
    axes = fig.subplots(1, k, sharey=True, squeeze=False)[0]
    palette = matplotlib.colormaps["plasma"]
    x = np.arange(len(WORDS))
    for i, (ax, (label, q)) in enumerate(zip(axes, dists.items())):
        ax.bar(x, q, width=0.8, color=palette(0.1 + 0.75 * i / max(k - 1, 1)))
        ax.set_title(f"{label}\nentropy {entropy(q):.2f} nats", fontsize=9)
        ax.set_xticks(x, WORDS, rotation=90, fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(True, axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_ylabel("probability")
    axes[0].set_ylim(0, 1.0)
    fig.suptitle("'The cat sat on the ...': softmax(log p / T); low T sharpens, high T flattens",
                 fontsize=10)
    plot.save_figure(fig, path)


def plot_entropy(p, temperatures, path):
    """Entropy and top probability of p_T over a fine grid of T, the chosen T marked."""
    grid = np.geomspace(0.05, 20, 200)
    ent = [entropy(reweight(p, t)) for t in grid]
    top = [reweight(p, t).max() for t in grid]
    fig = plot.new_figure((7.0, 3.2))
    ax = fig.add_subplot(1, 2, 1)
    ax.semilogx(grid, ent, color="#4c78a8")
    ax.axhline(math.log(len(p)), color="#999999", linestyle="--", linewidth=0.8)
    ax.text(grid[0], math.log(len(p)) * 0.97, f"uniform: log {len(p)} = {math.log(len(p)):.2f}",
            va="top", fontsize=8, color="#666666")
    ax.scatter(temperatures, [entropy(reweight(p, t)) for t in temperatures], color="#e45756", zorder=3, s=18)
    ax.set_xlabel("temperature T")
    ax.set_ylabel("entropy (nats)")
    ax.set_title("entropy of p_T", fontsize=10)
    ax = fig.add_subplot(1, 2, 2)
    ax.semilogx(grid, top, color="#54a24b")
    ax.axhline(1 / len(p), color="#999999", linestyle="--", linewidth=0.8)
    ax.scatter(temperatures, [reweight(p, t).max() for t in temperatures], color="#e45756", zorder=3, s=18)
    ax.set_xlabel("temperature T")
    ax.set_ylabel(f"p_T('{WORDS[int(np.argmax(p))]}')")
    ax.set_title("probability of the likeliest word", fontsize=10)
    for a in fig.axes:
        a.spines[["top", "right"]].set_visible(False)
    plot.save_figure(fig, path)


def plot_samples(counts, n_samples, path):
    """A heat map: rows temperatures, columns words, cells the share of the draws."""
    labels = list(counts)
    share = np.array([counts[k] for k in labels], dtype=np.float64) / n_samples
    fig = plot.new_figure((7.6, 0.45 * len(labels) + 1.6))
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i in range(share.shape[0]):
        for j in range(share.shape[1]):
            ax.text(j, i, f"{share[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if share[i, j] > 0.55 else "#333333")
    ax.set_xticks(range(len(WORDS)), WORDS, rotation=30, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.tick_params(length=0)
    fig.colorbar(image, ax=ax, shrink=0.9, label="share of draws")
    ax.set_title(f"'The cat sat on the ...': {n_samples:,} draws at each temperature", fontsize=10)
    plot.save_figure(fig, path)

# %%
# %% [markdown]
# ## Each temperature: the distribution, its entropy, and draws from it
#
# The entropy H = −Σ p log p measures how spread the choice is: 0 nats when one word is
# certain, log 10 = 2.30 when all ten are equally likely.

# %%
temperature_list = [float(t) for t in temperatures.split(",")]
n_samples = samples if limit is None else min(samples, limit)
rng = backend.generator("cpu")                  # seeded by --seed through mg.manual_seed

with common.Timer() as timer:
    base = np.asarray(PROBS, dtype=np.float64)
    print("'The cat sat on the ...'  next-word probabilities at each temperature")
    print("  T      " + " ".join(f"{w[:7]:>7}" for w in WORDS) + "   entropy")
    table, dists, counts = {}, {}, {}
    for t in temperature_list:
        q = reweight(base, t)
        for v in q:
            common.check_finite(f"p at T={t}", float(v))
        draws = rng.choice(len(q), size=n_samples, p=q / q.sum())
        c = np.bincount(draws, minlength=len(q))
        label = f"T = {t:g}"
        dists[label], counts[label] = q, c
        table[f"{t:g}"] = {
            "temperature": t, "probabilities": dict(zip(WORDS, q.tolist())),
            "entropy": entropy(q), "top_probability": float(q.max()),
            "sample_counts": dict(zip(WORDS, c.tolist())),
            "sample_entropy": entropy(c / c.sum()),
        }
        print(f"  {t:<6g} " + " ".join(f"{v:7.3f}" for v in q) + f"   {entropy(q):.3f}")
    print(f"  (uniform: entropy log {len(base)} = {math.log(len(base)):.3f})")


# %% [markdown]
# ## What to look at
#
# Low T piles the probability on "mat" (sampling becomes repetitive); high T flattens the
# bars towards uniform (sampling becomes random); the entropy rises monotonically with T.

# %%
plot_bars(dists, out / "temperature.png")
plot_entropy(base, temperature_list, out / "entropy.png")
plot_samples(counts, n_samples, out / "samples.png")
common.show(out / "temperature.png", out / "entropy.png", out / "samples.png")

# %%
entropies = [table[k]["entropy"] for k in table]
metrics = {
    "words": WORDS, "original": dict(zip(WORDS, PROBS)),
    "temperatures": temperature_list,
    "entropy": dict(zip(table, entropies)),
    "entropy_uniform": math.log(len(base)),
    "entropy_increases_with_temperature": bool(np.all(np.diff(entropies) > 0)) if
    temperature_list == sorted(temperature_list) else None,
    "per_temperature": table,
    "samples": n_samples, "seed": seed, "wall_seconds": timer.seconds,
}
common.write_json(out / "metrics.json", metrics)
print(f"wrote temperature.png, entropy.png, samples.png and metrics.json to {out}")
