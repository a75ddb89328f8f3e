# %% [markdown]
# # Train in minigrad, continue in PyTorch on two processes, come back
#
# A model is not locked in: `to_torch(model)` gives a `torch.nn.Module` with the same weights
# that computes the same function, and `from_torch_state_dict(model, state_dict)` brings
# trained weights back. This lesson trains a small LSTM classifier in minigrad, converts it,
# continues training it with PyTorch's `DistributedDataParallel` (DDP) on 2 CPU processes
# talking over gloo, converts it back and keeps going in minigrad, and draws the loss curve
# across the three stretches: it continues without a jump.
#
# Why it continues exactly: the converted module has the same trainable parameters as the
# minigrad model (an LSTM's second PyTorch bias is kept at zero and frozen), both sides use
# SGD with the same learning rate, and DDP averages the two processes' gradients, so each
# process taking half of every batch makes the same step as one process taking all of it.
#
# Needs PyTorch (`pip install torch`); without it the lesson says so and stops. The processes
# are forked (Linux and macOS with the fork start method): the lesson runs as a script.

# %%
import os
import tempfile

import numpy as np

import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)
import minigrad as mg
from minigrad import nn
from minigrad.interop import from_torch_state_dict, to_torch   # import torch only when called

# %% tags=["parameters"]
epochs = 6              # epochs in each stretch: minigrad, then PyTorch DDP, then minigrad again
lr = 0.3                # SGD learning rate (the same on both sides)
batch_size = 32         # global batch size (each of the processes takes its share of every batch)
processes = 2           # DistributedDataParallel processes (gloo, CPU)
n_train = 512           # synthetic sequences to make
limit = None            # use only the first N of them (quick runs)
seed = 0                # random seed
device = "cpu"          # minigrad's device (PyTorch runs on the CPU)
out = "runs/continue_in_pytorch"  # folder for the figure and metrics.json
verbose = 1             # 0 quiet, 1 a line per stretch

# %%
out = common.parameters(globals())
try:
    import torch  # optional: the lesson's second part needs it
    import torch.multiprocessing as torch_mp
except ImportError as missing:
    print(f"continue_in_pytorch: skipped: PyTorch is not installed ({missing}); pip install torch to run "
          "this lesson")
    raise SystemExit(0)

# %% [markdown]
# ## The data and the model
#
# Sequences of 12 steps of 3 noisy features; the label says whether the first feature's sum
# over the sequence is positive, which an LSTM learns in a few epochs.

# %%
rng = np.random.default_rng(seed)
x = common.limit(rng.normal(size=(n_train, 12, 3)).astype("float32"), limit)
y = (x[:, :, 0].sum(axis=1) > 0).astype("float32")[:, None]
mg.manual_seed(seed)
model = nn.Sequential([nn.LSTM(8, input_shape=(12, 3)), nn.Dense(1, activation="sigmoid")], name="sequence_classifier")
model.compile(optimizer=mg.optim.SGD(lr=lr), loss="binary_crossentropy")


def full_loss(model):
    """The loss over all of x (inference mode): the number the curve shows after each epoch."""
    return float(model.evaluate(x, y, batch_size=len(x), verbose=0))


# %% [markdown]
# ## Stretch 1: minigrad
#
# Batches in order (shuffle=False), so that the three stretches see the same batches.

# %%
curve = {"minigrad": [full_loss(model)]}
for _ in range(epochs):
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    curve["minigrad"].append(full_loss(model))
if verbose:
    print("minigrad:", " ".join(f"{v:.4f}" for v in curve["minigrad"]))

# %% [markdown]
# ## The yardstick: what minigrad alone would have done next
#
# A copy of the model (nn.clone_model, the weights set from the original) trains the next
# epochs in minigrad; PyTorch's curve should lie on it.

# %%
reference = nn.clone_model(model)
reference.set_weights(model.get_weights())
reference.compile(optimizer=mg.optim.SGD(lr=lr), loss="binary_crossentropy")
curve_reference = [full_loss(reference)]
for _ in range(epochs):
    reference.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    curve_reference.append(full_loss(reference))

# %% [markdown]
# ## Stretch 2: PyTorch, DistributedDataParallel on two processes
#
# Each process loads the model file minigrad wrote, converts it with `to_torch`, wraps it in
# DDP and trains on its share of every batch (rows rank, rank + processes, ...). Rank 0
# records the full-data loss after each epoch and writes the trained state_dict.

# %%
def ddp_worker(rank, world, folder, epochs, lr, batch_size):
    import torch.distributed as dist               # optional (torch): imported where used
    from torch.nn.parallel import DistributedDataParallel
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world)
    try:
        net = DistributedDataParallel(to_torch(nn.load_model(os.path.join(folder, "start.keras"), compile=False)))
        optimizer = torch.optim.SGD(net.parameters(), lr=lr)
        loss_fn = torch.nn.BCELoss()
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        losses = []
        for _ in range(epochs):
            net.train()
            for start in range(0, len(xt), batch_size):
                xb, yb = xt[start:start + batch_size], yt[start:start + batch_size]
                mine = slice(rank, None, world)            # this process's share of the batch
                optimizer.zero_grad()
                # BCELoss averages over this share; DDP averages the shares' gradients: the mean
                # over the whole batch when the shares are equal (batch_size divisible by world)
                loss_fn(net(xb[mine]), yb[mine]).backward()
                optimizer.step()
            net.eval()
            with torch.no_grad():
                losses.append(float(loss_fn(net(xt), yt)))
        if rank == 0:
            torch.save(net.module.state_dict(), os.path.join(folder, "trained.pt"))
            np.save(os.path.join(folder, "losses.npy"), np.array(losses))
    finally:
        dist.destroy_process_group()


if batch_size % processes:
    common.stop(f"batch_size {batch_size} must be divisible by processes {processes} (equal shares)")
with tempfile.TemporaryDirectory() as folder, common.Timer() as torch_timer:
    model.save(os.path.join(folder, "start.keras"))
    torch_mp.start_processes(ddp_worker, args=(processes, folder, epochs, lr, batch_size), nprocs=processes,
                             start_method="fork")
    curve["pytorch"] = [curve["minigrad"][-1]] + list(np.load(os.path.join(folder, "losses.npy")))
    state = torch.load(os.path.join(folder, "trained.pt"))
gap = float(np.abs(np.array(curve["pytorch"]) - np.array(curve_reference)).max())
if verbose:
    print(f"pytorch ({processes} processes):", " ".join(f"{v:.4f}" for v in curve["pytorch"]))
    print("minigrad alone would have:", " ".join(f"{v:.4f}" for v in curve_reference), f"(largest gap {gap:.1e})")

# %% [markdown]
# ## Stretch 3: back in minigrad
#
# `from_torch_state_dict` copies the trained weights into the minigrad model (checked shape
# by shape first); its loss is PyTorch's last one, and training goes on from there.

# %%
from_torch_state_dict(model, state)
back_loss = full_loss(model)
curve["minigrad_again"] = [back_loss]
for _ in range(epochs):
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    curve["minigrad_again"].append(full_loss(model))
if verbose:
    print("minigrad again:", " ".join(f"{v:.4f}" for v in curve["minigrad_again"]))

# %% [markdown]
# ## The curve
#
# Epochs 0..3E along the x axis: minigrad, PyTorch DDP, minigrad again, each stretch starting
# where the last one ended.

# %%
import matplotlib  # noqa: E402  (the examples extra)
matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import matplotlib.pyplot as plt  # noqa: E402

figure, ax = plt.subplots(figsize=(6, 3.5))
for i, (name, values) in enumerate(curve.items()):
    ax.plot(range(i * epochs, i * epochs + len(values)), values, marker="o", markersize=3, label=name)
ax.plot(range(epochs, 2 * epochs + 1), curve_reference, color="#888888", linestyle=":", label="minigrad alone")
ax.set(xlabel="epoch", ylabel="binary cross-entropy (all sequences)", title="one model, three trainers")
ax.legend()
figure.tight_layout()
figure.savefig(out / "loss_curve.png", dpi=120)
common.show(out / "loss_curve.png")

metrics = {"epochs_per_stretch": epochs, "lr": lr, "batch_size": batch_size, "processes": processes,
           "n_train": len(x), "seed": seed, "loss_curve": curve,
           "jump_into_pytorch": curve["pytorch"][1] - curve["minigrad"][-1],
           "jump_back": back_loss - curve["pytorch"][-1], "pytorch_seconds": torch_timer.seconds,
           "minigrad_alone": curve_reference, "pytorch_vs_minigrad_alone": gap,
           "trainable_params": model.count_params(), "figures": ["loss_curve.png"]}
common.write_json(out / "metrics.json", metrics)
print(f"loss {curve['minigrad'][0]:.4f} -> {curve['minigrad'][-1]:.4f} (minigrad) -> {curve['pytorch'][-1]:.4f} "
      f"(PyTorch DDP) -> {curve['minigrad_again'][-1]:.4f} (minigrad again); back-conversion changed the loss by "
      f"{abs(back_loss - curve['pytorch'][-1]):.2e}")
