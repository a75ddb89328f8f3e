# %% [markdown]
# # Character-level text generation with an LSTM, trained on CPython's own documentation.
#
#     python examples/text_generation.py                       # the default run (a few minutes, CPU)
#     python examples/text_generation.py --epochs 1 --limit 2000 --out runs/quick
#
# The lesson's language model: cut the text into windows of --maxlen characters, each labelled
# with the character that follows it; an LSTM reads a window and a Dense layer scores every
# character of the vocabulary as the next one; categorical cross-entropy, RMSprop (lr 0.01).
# After each epoch it writes text, starting from a seed window of the validation text, by
# repeatedly predicting the next character and sampling it at temperatures 0.2, 0.5, 1.0 and
# 1.2 (minigrad.sampling: softmax(log p / T), the temperature lesson's reweighting).
#
# The text needs no download: CPython ships its documentation topics (pydoc_data.topics, the
# text behind help('assert') and friends), ~465,000 characters of English prose with some code,
# lowercased as in the lesson. The last 10 % is held out for validation.
#
# Input: the lesson one-hot encodes the window; here an Embedding layer (vocabulary x 32) does the
# same job with a lookup instead of multiplying one-hot rows into the LSTM's kernel.
#
# How good is it? Validation bits per character (cross-entropy in bits, on the next character of
# --val-windows windows of the held-out text), against two baselines computed on the same split:
#     unigram   p(next) = character frequency in the training text (add-one smoothed)
#     bigram    p(next | previous character), add-one smoothed
# An LSTM that has learned more than character pairs beats the bigram.
#
# Writes to --out (default runs/text_generation):
#     bits_per_char.png   training (by batch) and validation (by epoch) bits per character, with
#                         the baselines
#     samples.txt         the generated text after each epoch, at each temperature
#     metrics.json        baselines, per-epoch bits, samples, sizes, wall time

# %%
import math
import time

import numpy as np

import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)

import minigrad as mg
from minigrad import backend, losses, nn, plot
from minigrad.files import atomic_write
from minigrad.nn.progress import ProgressBar
from minigrad.sampling import sample

TEMPERATURES = (0.2, 0.5, 1.0, 1.2)
LN2 = math.log(2.0)

# %% tags=["parameters"]
epochs = 3                    # training epochs
maxlen = 40                   # window length (characters)
step = 5                      # characters between window starts
units = 128                   # LSTM units
embed = 32                    # embedding size
lr = 0.01                     # RMSprop learning rate
val_windows = 4000            # validation windows (evenly spaced over the held-out text)
sample_length = 300           # characters generated per temperature after each epoch
batch_size = 128              # mini-batch size
limit = None                  # use only the first N training examples (quick runs)
seed = 0                      # random seed
device = "cpu"                # cpu, cuda or cuda:N
out = "runs/text_generation"  # folder for the figures and metrics.json
verbose = 1                   # 0 quiet, 1 progress bars, 2 one line per epoch

# %%
out = common.parameters(globals())

# %% [markdown]
# ## The text and the windows
#
# CPython's own `pydoc_data.topics` (the help texts, lower-cased): shipped with Python, no
# download. Each training example is a window of `maxlen` characters and the character that
# follows it; the last 10 % of the text is held out for validation.

# %%
def load_text() -> str:
    """CPython's documentation topics, joined in a fixed order and lowercased."""
    from pydoc_data.topics import topics
    return "\n\n".join(topics[k] for k in sorted(topics)).lower()


def encode(text: str, chars: list) -> np.ndarray:
    index = {c: i for i, c in enumerate(chars)}
    return np.array([index[c] for c in text], dtype=np.int64)


def windows(ids: np.ndarray, maxlen: int, starts: np.ndarray):
    """x[k] = ids[s_k : s_k + maxlen], y[k] = ids[s_k + maxlen] for each start s_k."""
    x = ids[starts[:, None] + np.arange(maxlen)]
    return x, ids[starts + maxlen]


def baseline_bits(train_ids, x_val, y_val, vocab):
    """Bits per character of the unigram and bigram models (add-one smoothing) on y_val."""
    counts = np.bincount(train_ids, minlength=vocab).astype(np.float64)
    unigram = (counts + 1) / (counts.sum() + vocab)
    pairs = np.zeros((vocab, vocab))
    np.add.at(pairs, (train_ids[:-1], train_ids[1:]), 1)
    bigram = (pairs + 1) / (pairs.sum(axis=1, keepdims=True) + vocab)
    return {"unigram": float(-np.log2(unigram[y_val]).mean()),
            "bigram": float(-np.log2(bigram[x_val[:, -1], y_val]).mean())}

# %% [markdown]
# ## The model, its loss, and how to sample from it
#
# Embedding → LSTM(units) → Dense(vocab) logits. The loss is the cross-entropy of the next
# character, in bits: −log₂ p(next char) averaged over the windows (a model that knows nothing
# pays log₂ vocab; the bigram baseline, p(c | previous c) counted on the training text, is the
# number to beat). `generate` samples one character at a time from softmax(logits / T).

# %%
def build_model(vocab: int, maxlen: int, units: int, embed: int) -> nn.Sequential:
    """Embedding -> LSTM(units) -> Dense(vocab): the logits of the next character."""
    return nn.Sequential([nn.Input((maxlen,)), nn.Embedding(vocab, embed), nn.LSTM(units),
                          nn.Dense(vocab)])


def step_loss(model, xb, yb, vocab):
    """Categorical cross-entropy of the next character (one-hot targets, from the logits)."""
    logits = model(mg.tensor(xb, device=model.device))
    target = mg.tensor(np.eye(vocab, dtype=np.float32)[yb], device=model.device)
    return losses.categorical_crossentropy(target, logits, from_logits=True)


def bits_per_char(model, x, y, vocab, batch_size=512) -> float:
    """Mean cross-entropy in bits of the model's next-character prediction."""
    total = 0.0
    model.eval()
    with mg.no_grad():
        for start in range(0, len(x), batch_size):
            loss = step_loss(model, x[start:start + batch_size], y[start:start + batch_size], vocab)
            total += float(loss.item()) * len(x[start:start + batch_size])
    model.train()
    return total / len(x) / LN2


def generate(model, seed_ids, chars, length, temperatures, rng):
    """Extend the seed window by `length` characters at each temperature (one batch row each)."""
    rows = np.repeat(seed_ids[None], len(temperatures), axis=0)
    out = [[] for _ in temperatures]
    model.eval()
    with mg.no_grad():
        for _ in range(length):
            logits = model(mg.tensor(rows, device=model.device)).numpy().astype(np.float64)
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            nxt = [sample(p[k] / p[k].sum(), t, rng) for k, t in enumerate(temperatures)]
            for k, c in enumerate(nxt):
                out[k].append(chars[c])
            rows = np.concatenate([rows[:, 1:], np.array(nxt)[:, None]], axis=1)
    model.train()
    return {f"{t:g}": "".join(s) for t, s in zip(temperatures, out)}

# %% [markdown]
# ## The figure, and the samples file

# %%
def plot_bits(history, baselines, path):
    """Training bits per character batch by batch (smoothed), validation at each epoch's end."""
    fig = plot.new_figure((6.4, 4.0))
    ax = fig.add_subplot()
    batch = np.asarray(history["batch_bits"])
    per_epoch = len(batch) / max(len(history["val_bits"]) - 1, 1)
    window = max(1, min(50, len(batch) // 10))
    smooth = np.convolve(batch, np.ones(window) / window, mode="valid")
    ax.plot((np.arange(len(smooth)) + window) / per_epoch, smooth, color="#4c78a8",
            label=f"LSTM, training (mean of {window} batches)")
    epochs = np.arange(len(history["val_bits"]))
    ax.plot(epochs, history["val_bits"], marker="o", color="#e45756", label="LSTM, validation")
    for name, style in (("unigram", ":"), ("bigram", "--")):
        ax.axhline(baselines[name], color="#666666", linestyle=style, linewidth=1,
                   label=f"{name} baseline ({baselines[name]:.2f})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("bits per character")
    ax.set_xticks(epochs)
    ax.set_title("Character LSTM on CPython's documentation topics", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, loc="upper right")
    plot.save_figure(fig, path)


def write_samples(path, seed_text, per_epoch):
    lines = [f"seed: {seed_text!r}", ""]
    for epoch, texts in enumerate(per_epoch, start=1):
        lines.append(f"===== after epoch {epoch} =====")
        for t, s in texts.items():
            lines += [f"--- temperature {t}", seed_text + s, ""]
    atomic_write(path, lambda f: f.write("\n".join(lines) + "\n"), binary=False)

# %%
started = time.perf_counter()
text = load_text()
chars = sorted(set(text))
ids = encode(text, chars)
split = int(len(ids) * 0.9)
train_ids, val_ids = ids[:split], ids[split:]
starts = np.arange(0, len(train_ids) - maxlen, step)
x_train, y_train = windows(train_ids, maxlen, common.limit(starts, limit))
val_starts = np.linspace(0, len(val_ids) - maxlen - 1,
                         min(val_windows, len(val_ids) - maxlen)).astype(np.int64)
x_val, y_val = windows(val_ids, maxlen, val_starts)
vocab = len(chars)
baselines = baseline_bits(train_ids, x_val, y_val, vocab)
print(f"text: {len(text):,} characters, vocabulary {vocab}; {len(x_train):,} training windows "
      f"of {maxlen}, {len(x_val):,} validation windows")
print(f"baselines on the validation windows: unigram {baselines['unigram']:.3f}, "
      f"bigram {baselines['bigram']:.3f} bits/char")

# %% [markdown]
# ## Training, and samples after every epoch
#
# A hand-written loop (forward, loss, backward, RMSprop step), scoring the validation windows
# after each epoch and sampling `sample_length` characters at each temperature from the same
# seed text: low T repeats the likeliest words, high T invents spellings.

# %%
model = build_model(vocab, maxlen, units, embed)
if verbose:
    model.summary()
optimizer = mg.optim.RMSprop(model.parameters(), lr=lr)
rng = backend.generator("cpu")                        # seeded by --seed
seed_start = int(rng.integers(0, len(val_ids) - maxlen))
seed_ids = val_ids[seed_start:seed_start + maxlen]
seed_text = "".join(chars[i] for i in seed_ids)
history = {"train_bits": [], "val_bits": [bits_per_char(model, x_val, y_val, vocab)],
           "batch_bits": []}          # val_bits[0]: before training (about log2(vocab))
samples = []
for epoch in range(1, epochs + 1):
    order = rng.permutation(len(x_train))
    n_batches = -(-len(order) // batch_size)
    bar = ProgressBar(n_batches, verbose=verbose)
    total = 0.0
    for b in range(n_batches):
        idx = order[b * batch_size:(b + 1) * batch_size]
        loss = step_loss(model, x_train[idx], y_train[idx], vocab)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        bits = common.check_finite("training loss", float(loss.item())) / LN2
        history["batch_bits"].append(bits)
        total += bits * len(idx)
        bar.update(b + 1, {"bits/char": bits})
    history["train_bits"].append(total / len(order))
    history["val_bits"].append(bits_per_char(model, x_val, y_val, vocab))
    bar.close({"bits/char": history["train_bits"][-1], "val bits/char": history["val_bits"][-1]})
    samples.append(generate(model, seed_ids, chars, sample_length, TEMPERATURES, rng))
    print(f"epoch {epoch}: training {history['train_bits'][-1]:.3f}, validation "
          f"{history['val_bits'][-1]:.3f} bits/char (bigram {baselines['bigram']:.3f})")
    for t, s in samples[-1].items():
        print(f"  T={t}: {seed_text + s[:100]!r}")
    write_samples(out / "samples.txt", seed_text, samples)
wall_seconds = time.perf_counter() - started

# %% [markdown]
# ## Bits per character: training, validation, and the baselines

# %%
plot_bits(history, baselines, out / "bits_per_char.png")
common.show(out / "bits_per_char.png")

# %%
metrics = {
    "characters": len(text), "vocabulary": vocab, "maxlen": maxlen, "step": step,
    "units": units, "train_windows": len(x_train), "val_windows": len(x_val),
    "baseline_bits_per_char": baselines,
    "train_bits_per_char": history["train_bits"], "val_bits_per_char": history["val_bits"][1:],
    "val_bits_per_char_before_training": history["val_bits"][0],
    "final_val_bits_per_char": history["val_bits"][-1],
    "beats_bigram": history["val_bits"][-1] < baselines["bigram"],
    "seed_text": seed_text, "samples_last_epoch": samples[-1], "temperatures": list(TEMPERATURES),
    "epochs": epochs, "seed": seed, "device": device,
    "wall_seconds": wall_seconds,
}
common.write_json(out / "metrics.json", metrics)
print(f"wrote bits_per_char.png, samples.txt and metrics.json to {out} ({wall_seconds:.0f} s)")
