# %% [markdown]
# # DCGAN on real MNIST digits: keras-gan's model and loop, scored by a digit classifier.
#
#     python examples/dcgan_mnist.py                          # 2,000 iterations of batch 32
#     python examples/dcgan_mnist.py --device cuda
#     python examples/dcgan_mnist.py --generator transpose    # Conv2DTranspose generator
#     python examples/dcgan_mnist.py --iterations 3 --classifier-epochs 1 --limit 300 --out /tmp/dcgan
#
# Each iteration (keras-gan's train()):
#     one random batch of 32 real digits (drawn with replacement, as np.random.randint does)
#     fakes = G(z) in inference mode, z ~ Normal(0, 1)
#     one D update on the real batch (targets 1), one on the fake batch (targets 0)
#     one G update through D, D in training mode with its weights frozen (targets 1)
# Every loss is checked for NaN/inf as it comes, and every weight at each sample interval.
#
# Then a digit classifier trained with minigrad (models/classifier.py, cached in --out or
# --classifier-cache) reads 1,000 new samples: how many of the 10 digits appear, how often
# the rarest one does, and the mean top-class probability.
#
# Writes to --out:
#     samples_XXXXX.png     5x5 samples from fixed z every --sample-interval iterations (and at the end)
#     samples_final.png     100 fresh samples after training
#     samples_by_digit.png  row k: the samples the classifier reads as digit k, the surest first
#     losses.png            D and G loss per iteration (and a moving average), D accuracy
#     metrics.json          the scores, the classifier's test accuracy, the per-iteration losses, timings
#     generator.npz, discriminator.npz   the trained weights (load_weights into models.dcgan's builders)
#
# --epochs is keras-gan's count of passes expressed in iterations: when given, it overrides
# --iterations with epochs * (training digits / batch size), rounded up. keras-gan itself calls
# its iterations "epochs" (dcgan.train(epochs=4000)); here --iterations is the knob.

# %%
import math
import time

import numpy as np

import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)
from common import Timer, check_finite

import minigrad as mg
from minigrad import plot
from minigrad.data import load_mnist
from minigrad.nn.progress import ProgressBar
from models.classifier import load_or_train, score_samples
from models.dcgan import DCGAN

QUALITY_BAR = {"digits_present": 10, "rarest_digit_count": 40, "mean_top_prob": 0.82}

# %% tags=["parameters"]
epochs = None                          # if given, train epochs * (training digits / batch size) iterations instead
iterations = 2000                      # training iterations (keras-gan's loop)
sample_interval = 200                  # save a 5x5 sample grid every N iterations
n_samples = 1000                       # generated samples the classifier scores
generator = "upsampling"               # keras-gan's UpSampling2D+Conv2D generator, or a Conv2DTranspose one (one of: upsampling, transpose)
label_smoothing = 0.0                  # one-sided: D's targets for real digits become 1 - this
label_noise = 0.0                      # probability of flipping each of D's targets
classifier_epochs = 12                 # (models.classifier.EPOCHS) epochs for the digit classifier (trained once, then loaded from the cache)
classifier_cache = None                # folder for the classifier's weights (default: out)
batch_size = 32                        # mini-batch size
limit = None                           # use only the first N training examples (quick runs)
seed = 0                               # random seed
device = "cpu"                         # cpu, cuda or cuda:N
out = "runs/dcgan_mnist"               # folder for the figures and metrics.json
verbose = 1                            # 0 quiet, 1 progress bars, 2 one line per epoch

# %%
out = common.parameters(globals())

# %% [markdown]
# ## Two checks, and the by-digit grid
#
# A GAN that diverges shows it first as NaN or inf in a weight: every weight is checked at
# each sample interval. `by_digit_grid` sorts samples by the digit the classifier reads.

# %%
def check_weights_finite(model, when):
    for name, p in model.named_parameters(trainable_only=False):
        if not np.all(np.isfinite(p.numpy())):
            raise FloatingPointError(f"{model.name}/{name} holds NaN or inf {when}")


def by_digit_grid(images, scores, per_row=10):
    """Rows 0..9: the samples the classifier reads as that digit, surest first; black tiles
    where a digit has fewer than per_row samples. Returns the tiles and each row's count."""
    pred, top = scores["predictions"], scores["top_probs"]
    blank = np.full(images.shape[1:], -1.0, dtype=images.dtype)
    tiles = []
    for digit in range(10):
        idx = np.flatnonzero(pred == digit)
        idx = idx[np.argsort(-top[idx], kind="stable")][:per_row]
        tiles.extend(images[i] for i in idx)
        tiles.extend(blank for _ in range(per_row - len(idx)))
    return np.stack(tiles)

# %%
# %% [markdown]
# ## The digits, scaled to [−1, 1] for the generator's tanh

# %%
start = time.perf_counter()
mnist = load_mnist(scale="-11", verbose=verbose > 0)
x_train, y_train = common.limit(mnist.x_train, limit), common.limit(mnist.y_train, limit)
total_iterations = iterations if epochs is None else max(1, math.ceil(epochs * len(x_train) / batch_size))
print(f"data: {mnist.source}; training on {len(x_train):,} digits for {total_iterations:,} iterations")

# %% [markdown]
# ## The judge: a digit classifier
#
# A minigrad conv net trained on the real digits (once; then loaded from its cache) reads the
# generated samples. Its mean top-class probability on real test digits is the level a
# perfect generator would reach.

# %%
with Timer() as t_clf:
    classifier, clf_info = load_or_train(
        x_train, y_train, mnist.x_test, mnist.y_test, classifier_cache or out,
        epochs=classifier_epochs, seed=seed, verbose=1 if verbose == 1 else 0)
real_scores = score_samples(mnist.x_test, classifier)
print(f"classifier: test accuracy {clf_info['test_accuracy']:.3f} on {len(mnist.x_test)} held-out "
      f"digits ({'loaded from' if clf_info['cached'] else 'trained, saved to'} {clf_info['path']}); "
      f"mean top-class probability on real test digits {real_scores['mean_top_prob']:.3f}")

# %% [markdown]
# ## The GAN and its loop
#
# keras-gan's DCGAN (models/dcgan.py). Each iteration: a random batch of real digits; fakes
# G(z), z ~ N(0, 1); one discriminator update on the real batch (targets 1) and one on the
# fakes (targets 0), minimising BCE; one generator update through the frozen discriminator
# with targets 1, i.e. minimising −log D(G(z)) (the non-saturating loss). A 5×5 grid from the
# same fixed z every `sample_interval` iterations shows the generator learning.

# %%
mg.manual_seed(seed)                       # the same GAN whether the classifier was cached
gan = DCGAN(generator=generator, label_smoothing=label_smoothing,
            label_noise=label_noise, seed=seed)
batch_rng = np.random.default_rng(seed + 1)
z_fixed = np.random.default_rng(seed + 2).standard_normal((25, gan.latent_dim)).astype(np.float32)
history = {"d_loss": [], "g_loss": [], "d_acc": [], "d_loss_real": [], "d_loss_fake": []}
grids = []

def save_grid(it):
    images = gan.generate(z_fixed)
    if not np.all(np.isfinite(images)):
        raise FloatingPointError(f"generated images hold NaN or inf at iteration {it}")
    path = out / f"samples_{it:05d}.png"
    plot.image_grid(images, nrows=5, ncols=5, value_range=(-1, 1), path=path,
                    title=f"iteration {it:,}")
    grids.append(path.name)

bar = ProgressBar(total_iterations, verbose=1 if verbose == 1 else 0)
step_times = []
with Timer() as t_gan:
    for it in range(1, total_iterations + 1):
        t0 = time.perf_counter()
        real = x_train[batch_rng.integers(0, len(x_train), batch_size)]
        logs = gan.train_step(real)
        step_times.append(time.perf_counter() - t0)
        for key in history:
            history[key].append(check_finite(f"{key} at iteration {it}", logs[key]))
        bar.update(it, {k: logs[k] for k in ("d_loss", "d_acc", "g_loss")})
        if it % sample_interval == 0 or it == total_iterations:
            check_weights_finite(gan.generator, f"at iteration {it}")
            check_weights_finite(gan.discriminator, f"at iteration {it}")
            save_grid(it)
            if verbose == 2:
                recent = slice(-sample_interval, None)
                print(f"iteration {it}/{total_iterations}: d_loss {np.mean(history['d_loss'][recent]):.4f} "
                      f"d_acc {np.mean(history['d_acc'][recent]):.3f} "
                      f"g_loss {np.mean(history['g_loss'][recent]):.4f} "
                      f"({np.mean(step_times[recent]) * 1000:.0f} ms/iteration)", flush=True)
    bar.close({k: history[k][-1] for k in ("d_loss", "d_acc", "g_loss")})
common.show(out / grids[0], out / grids[-1])

# %% [markdown]
# ## The losses, the samples, and what the judge reads in them
#
# Neither loss falls to zero: the two networks pull against each other, and a discriminator
# accuracy near 100 % (or a generator loss that climbs without end) is the sign of a GAN that
# stopped learning. Then 100 fresh samples, and the samples sorted by the digit the
# classifier reads: a mode collapse shows as empty rows.

# %%
smooth = max(1, min(50, total_iterations // 10))
plot.curves([{"D loss": history["d_loss"], "G loss": history["g_loss"]}, {"D accuracy": history["d_acc"]}],
            path=out / "losses.png", xlabel="iteration", ylabel=["binary cross-entropy", "accuracy"],
            title=["losses", "discriminator accuracy (real and fake batches)"],
            smooth=smooth if smooth > 1 else None)
gan.generator.save_weights(out / "generator.npz", include_optimizer=False)
gan.discriminator.save_weights(out / "discriminator.npz", include_optimizer=False)
samples = gan.sample(n_samples)
if not np.all(np.isfinite(samples)):
    raise FloatingPointError("generated samples hold NaN or inf")
scores = score_samples(samples, classifier)
plot.image_grid(samples[:100], value_range=(-1, 1), path=out / "samples_final.png",
                title=f"DCGAN samples after {total_iterations:,} iterations")
plot.image_grid(by_digit_grid(samples, scores), nrows=10, ncols=10, value_range=(-1, 1),
                path=out / "samples_by_digit.png",
                title="row k: samples read as digit k, surest first")
common.show(out / "losses.png", out / "samples_final.png", out / "samples_by_digit.png")

# %% [markdown]
# ## The numbers

# %%

tail = slice(-min(100, total_iterations), None)
wall = time.perf_counter() - start
metrics = {
    "digits_present": scores["digits_present"],
    "rarest_digit_count": scores["rarest_digit_count"],
    "mean_top_prob": scores["mean_top_prob"],
    "digit_counts": scores["counts"],
    "n_samples": n_samples,
    "quality_bar": QUALITY_BAR,
    "meets_quality_bar": bool(scores["digits_present"] >= QUALITY_BAR["digits_present"]
                              and scores["rarest_digit_count"] >= QUALITY_BAR["rarest_digit_count"]
                              and scores["mean_top_prob"] >= QUALITY_BAR["mean_top_prob"]),
    "classifier_test_accuracy": clf_info["test_accuracy"],
    "classifier_real_test_mean_top_prob": real_scores["mean_top_prob"],
    "classifier_epochs": clf_info["epochs"],
    "classifier_cached": clf_info["cached"],
    "classifier_train_seconds": clf_info["train_seconds"],
    "iterations": total_iterations,
    "batch_size": batch_size,
    "generator": generator,
    "label_smoothing": label_smoothing,
    "label_noise": label_noise,
    "seed": seed,
    "device": device,
    "n_train": int(len(x_train)),
    "data_source": mnist.source,
    "final_d_loss": float(np.mean(history["d_loss"][tail])),
    "final_g_loss": float(np.mean(history["g_loss"][tail])),
    "final_d_acc": float(np.mean(history["d_acc"][tail])),
    "d_loss": history["d_loss"],
    "g_loss": history["g_loss"],
    "d_acc": history["d_acc"],
    "d_loss_real": history["d_loss_real"],
    "d_loss_fake": history["d_loss_fake"],
    "sample_grids": grids,
    "ms_per_iteration": 1000 * float(np.mean(step_times)),
    "ms_per_iteration_median": 1000 * float(np.median(step_times)),
    "gan_seconds": t_gan.seconds,
    "classifier_seconds": t_clf.seconds,
    "wall_seconds": wall,
}
common.write_json(out / "metrics.json", metrics)
print(f"samples: {scores['digits_present']} digits present, the rarest {scores['rarest_digit_count']} "
      f"times in {n_samples:,}, mean top-class probability {scores['mean_top_prob']:.3f} "
      f"(bar: 10, >= 40, >= 0.82: {'met' if metrics['meets_quality_bar'] else 'NOT met'}); "
      f"counts per digit {scores['counts']}")
print(f"{total_iterations:,} iterations in {t_gan.seconds:.0f} s ({metrics['ms_per_iteration']:.0f} ms each); "
      f"wall time {wall:.0f} s; figures and metrics.json in {out}")
