# %% [markdown]
# # IMDB sentiment with an LSTM: the lesson's Embedding -> LSTM(32) -> Dense(1, sigmoid) model.
#
#     python examples/imdb_sentiment.py --download           # first run: fetch Keras' imdb.npz (17.5 MB)
#     python examples/imdb_sentiment.py                      # later runs find it on disk
#     python examples/imdb_sentiment.py --epochs 1 --limit 2000 --maxlen 200
#
# The data are Keras' 50,000 IMDB movie reviews (25,000 to train on, 25,000 to test), labelled
# positive or negative, each a list of word indices (minigrad.data.load_imdb gives exactly the
# arrays of keras.datasets.imdb.load_data). As in the lesson: the 10,000 most frequent words,
# reviews cut or padded to their last --maxlen (500) words, an Embedding of 32 dimensions, an
# LSTM of 32 units, a sigmoid unit for p(positive); RMSprop and binary cross-entropy, 20 % of
# the training reviews held out for validation. Then the test accuracy.
#
# The reviews are not part of minigrad. Without imdb.npz on disk (in $MINIGRAD_DATA, the user
# cache dir, or ~/.keras/datasets) this script says where to put it and exits with status 2;
# --download fetches it (checksummed, written atomically).
#
# Writes to --out (default runs/imdb_sentiment): training.png (loss and accuracy by epoch) and
# metrics.json.

# %%
import numpy as np

import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)

import minigrad as mg
from minigrad import backend, data, losses, nn, plot
from minigrad.nn.progress import ProgressBar

# %% tags=["parameters"]
epochs = 10                  # training epochs
num_words = 10000            # vocabulary size
maxlen = 500                 # words kept per review
download = False             # fetch imdb.npz when it is not on disk
data_dir = None              # look for imdb.npz only in this folder
checksum = None              # SHA-256 the file must have (None: Keras' imdb.npz)
batch_size = 128             # mini-batch size
limit = None                 # use only the first N training examples (quick runs)
seed = 0                     # random seed
device = "cpu"               # cpu, cuda or cuda:N
out = "runs/imdb_sentiment"  # folder for the figures and metrics.json
verbose = 1                  # 0 quiet, 1 progress bars, 2 one line per epoch

# %%
out = common.parameters(globals())

# %% [markdown]
# ## The model
#
# Embedding(10,000 words → 32 numbers) → LSTM(32) → Dense(1, sigmoid): the LSTM reads the
# review word by word and its last state decides p(positive).

# %%
def build_model(num_words: int, maxlen: int, units: int = 32) -> nn.Sequential:
    return nn.Sequential([nn.Input((maxlen,)), nn.Embedding(num_words, 32), nn.LSTM(units),
                          nn.Dense(1, activation="sigmoid")])

# %% [markdown]
# ## The training loop, written out
#
# One epoch: shuffle, and for each batch the forward pass, the binary cross-entropy
# L = −mean(y log p + (1 − y) log(1 − p)), `backward()` and an RMSprop step. `score`
# measures a set without training.

# %%
def run_epoch(model, optimizer, x, y, batch_size, rng, verbose):
    """One pass over (x, y) in shuffled mini-batches; returns (mean loss, accuracy)."""
    order = rng.permutation(len(x))
    n_batches = -(-len(x) // batch_size)
    bar = ProgressBar(n_batches, verbose=verbose)
    total_loss = correct = 0.0
    for b in range(n_batches):
        idx = order[b * batch_size:(b + 1) * batch_size]
        p = model(mg.tensor(x[idx], device=model.device))
        target = mg.tensor(y[idx].reshape(-1, 1).astype(np.float32), device=model.device)
        loss = losses.binary_crossentropy(target, p)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += common.check_finite("training loss", float(loss.item())) * len(idx)
        correct += float(((p.numpy()[:, 0] > 0.5) == (y[idx] == 1)).sum())
        bar.update(b + 1, {"loss": total_loss / ((b + 1) * batch_size)})
    bar.close({"loss": total_loss / len(x), "accuracy": correct / len(x)})
    return total_loss / len(x), correct / len(x)


def score(model, x, y, batch_size=256):
    """(mean binary cross-entropy, accuracy) without training."""
    total_loss = correct = 0.0
    model.eval()
    with mg.no_grad():
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            p = model(mg.tensor(xb, device=model.device))
            target = mg.tensor(yb.reshape(-1, 1).astype(np.float32), device=model.device)
            total_loss += float(losses.binary_crossentropy(target, p).item()) * len(xb)
            correct += float(((p.numpy()[:, 0] > 0.5) == (yb == 1)).sum())
    model.train()
    return total_loss / len(x), correct / len(x)

# %% [markdown]
# ## The figure: loss and accuracy per epoch

# %%
def plot_history(history, path):
    fig = plot.new_figure((8.0, 3.2))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for i, (key, label) in enumerate((("loss", "binary cross-entropy"), ("accuracy", "accuracy"))):
        ax = fig.add_subplot(1, 2, i + 1)
        ax.plot(epochs, history[key], marker="o", label="training")
        ax.plot(epochs, history["val_" + key], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_xticks(epochs)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("IMDB reviews: Embedding -> LSTM(32) -> Dense(1, sigmoid)", fontsize=10)
    plot.save_figure(fig, path)

# %% [markdown]
# ## The reviews
#
# Keras' imdb.npz, found on disk ($MINIGRAD_DATA, the user cache dir or ~/.keras/datasets)
# or fetched with `download = True`; without it the lesson stops and says where to put it.

# %%
try:
    (x_train, y_train), (x_test, y_test) = data.load_imdb(
        num_words=num_words, download=download, data_dir=data_dir,
        checksum=checksum or data.IMDB_SHA256, verbose=bool(verbose))
except data.IMDBNotFoundError as exc:
    common.stop(f"imdb_sentiment: {exc}\nRun again with --download (download = True) to fetch it "
                f"(needs internet).")
except (data.DownloadError, data.DataFileError) as exc:
    common.stop(f"imdb_sentiment: {exc}")

# %% [markdown]
# ## Padding, the validation split, and training
#
# Each review is cut or padded to its last `maxlen` words; the last 20 % of the training
# reviews are held out for validation (Keras' `validation_split=0.2`).

# %%
with common.Timer() as timer:
    x_train = data.pad_sequences(common.limit(x_train, limit), maxlen=maxlen)
    y_train = np.asarray(common.limit(y_train, limit), dtype=np.int64)
    x_test = data.pad_sequences(common.limit(x_test, limit), maxlen=maxlen)
    y_test = np.asarray(common.limit(y_test, limit), dtype=np.int64)
    n_val = max(len(x_train) // 5, 1)             # validation_split=0.2: the last 20 %
    x_fit, y_fit, x_val, y_val = x_train[:-n_val], y_train[:-n_val], x_train[-n_val:], y_train[-n_val:]
    print(f"{len(x_fit):,} training, {len(x_val):,} validation, {len(x_test):,} test reviews "
          f"of {maxlen} words")
    model = build_model(num_words, maxlen)
    if verbose:
        model.summary()
    optimizer = mg.optim.RMSprop(model.parameters(), lr=1e-3)
    rng = backend.generator("cpu")
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for epoch in range(1, epochs + 1):
        loss, acc = run_epoch(model, optimizer, x_fit, y_fit, batch_size, rng, verbose)
        val_loss, val_acc = score(model, x_val, y_val)
        for k, v in (("loss", loss), ("accuracy", acc), ("val_loss", val_loss), ("val_accuracy", val_acc)):
            history[k].append(v)
        print(f"epoch {epoch}: loss {loss:.4f} accuracy {acc:.3f} - validation loss "
              f"{val_loss:.4f} accuracy {val_acc:.3f}")
    test_loss, test_acc = score(model, x_test, y_test)
    print(f"test: loss {test_loss:.4f}, accuracy {test_acc:.3f}")


# %% [markdown]
# ## Loss and accuracy per epoch

# %%
plot_history(history, out / "training.png")
common.show(out / "training.png")
common.write_json(out / "metrics.json", {
    "history": history, "test_loss": test_loss, "test_accuracy": test_acc,
    "train_reviews": len(x_fit), "val_reviews": len(x_val), "test_reviews": len(x_test),
    "num_words": num_words, "maxlen": maxlen, "epochs": epochs,
    "seed": seed, "device": device, "wall_seconds": timer.seconds})
print(f"wrote training.png and metrics.json to {out}")
