"""Every lesson runs as a script with `--epochs 1 --limit 300` (issue 24.5), and the example
defects found that way stay fixed: house_prices' smoothed curve with few epochs, small_data's
empty validation set under --limit, its percent ticks (82.5 % read "82%"), "last 5 epochs"
printed when fewer ran, and the split sizes printed being the ones used.

The scripts run as a user runs them (subprocess, tests/example_runner.py). IMDB's reviews are
a download: that lesson runs on a small imdb.npz made here.
"""
import re

import numpy as np
import pytest

from .example_runner import EXAMPLES, load_definitions, load_metrics, needs_matplotlib, run_example
from .test_notebooks import LESSONS, NO_MNIST, fake_imdb, skip_without_its_package

SLOW = {"dcgan_keras", "dcgan_mnist", "overfitting"}


def lesson_cases():
    for name in sorted(LESSONS):
        yield pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else [], id=name)


@needs_matplotlib
@pytest.mark.parametrize("name", list(lesson_cases()))
def test_every_lesson_runs_with_one_epoch_on_300_examples(name, tmp_path, request):
    skip_without_its_package(name)
    if name not in NO_MNIST:
        request.getfixturevalue("mnist_available")
    extra = []
    if name == "imdb_sentiment":
        folder, sha = fake_imdb(tmp_path / "imdb")
        extra = ["--data-dir", folder, "--checksum", sha, "--maxlen", 50]
    out = tmp_path / "out"
    run_example(f"{name}.py", out, "--epochs", 1, "--limit", 300, "--verbose", 0, *extra, timeout=900)
    assert load_metrics(out), f"{name}: empty metrics.json"
    assert any(p.suffix == ".png" for p in out.iterdir()), f"{name} wrote no figure"


def test_lessons_are_all_listed():
    """The parametrised test above covers every lesson in examples/ (a new one joins it)."""
    scripts = {p.stem for p in EXAMPLES.glob("*.py")} - {"common", "build_notebooks", "vae_training"}
    assert scripts == set(LESSONS), f"scripts outside the lesson convention: {sorted(scripts - set(LESSONS))}"


# ------------------------------------------------------------------------- house_prices

@needs_matplotlib
def test_house_prices_plots_the_smoothed_curve_of_a_short_run(tmp_path, mnist_available):
    """--epochs 1 crashed in plot_kfold: the smoothed curve skipped no epoch (too few) but was
    drawn against the epochs after the first 10 (x of length 0, y of length 1)."""
    out = tmp_path / "hp"
    stdout = run_example("house_prices.py", out, "--epochs", 3, "--folds", 2, "--repeats", 1, "--verbose", 0)
    m = load_metrics(out)
    assert m["smoothing"]["skip_first"] == 0 and len(m["smoothed_val_mae"]) == 3
    assert re.search(r"^404 training / 102 test homes", stdout, re.M), stdout[:500]
    stdout = run_example("house_prices.py", tmp_path / "hp2", "--epochs", 1, "--limit", 120, "--folds", 2,
                         "--repeats", 1, "--verbose", 0)
    assert re.search(r"^120 training / 102 test homes", stdout, re.M), "the sizes printed are the ones used"


# -------------------------------------------------------------------- small_data_convnet

def test_percent_labels_keep_the_decimals_a_tick_needs():
    """matplotlib's PercentFormatter(decimals=0) rounds half to even: 82.5 -> "82%", 87.5 -> "88%"."""
    common = load_definitions("common")
    assert [common.percent_label(v) for v in (0.825, 0.85, 0.875, 0.9, 1.0)] == \
        ["82.5%", "85%", "87.5%", "90%", "100%"]
    assert common.percent_label(0.1 + 0.2) == "30%"           # no float noise in a label


@needs_matplotlib
def test_small_data_curves_label_every_tick_exactly():
    sd = load_definitions("small_data_convnet")
    names = ["scratch", "dropout", "augmentation", "augmentation + dropout", "feature extraction", "fine-tuned"]
    rng = np.random.default_rng(0)
    histories = {n: {"val_accuracy": list(0.8 + 0.1 * rng.random(3)), "accuracy": list(0.9 + 0.1 * rng.random(3))}
                 for n in names}
    results = {n: sd.summarize(h) for n, h in histories.items()}
    fig = sd.plot_curves(histories, results, None, 500)
    fig.canvas.draw()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if not isinstance(axis.get_major_formatter(), type(fig.axes[2].xaxis.get_major_formatter())):
                continue
            for loc, label in zip(axis.get_majorticklocs(), axis.get_ticklabels()):
                text = label.get_text()
                if text.endswith("%"):
                    assert float(text[:-1]) == pytest.approx(100 * loc, abs=1e-6), (text, loc)
    assert "mean of the last 3 epochs" in fig.axes[2].get_title()       # 3 ran, not "5"


def test_small_data_summary_says_how_many_epochs_it_averaged():
    sd = load_definitions("small_data_convnet")
    h = {"val_accuracy": [0.5, 0.7, 0.9], "accuracy": [0.6, 0.8, 1.0]}
    r = sd.summarize(h)
    assert r["epochs_averaged"] == 3 and r["final_val_accuracy"] == pytest.approx(0.7)
    assert sd.last_epochs(r) == "last 3 epochs"
    assert sd.last_epochs(sd.summarize({"val_accuracy": [0.5], "accuracy": [0.6]})) == "the last epoch"
    assert sd.summarize({"val_accuracy": list(np.linspace(0, 1, 8)), "accuracy": [0.0] * 8})["epochs_averaged"] == 5


def test_small_data_split_never_leaves_the_validation_set_empty():
    sd = load_definitions("small_data_convnet")
    y = np.repeat(np.arange(10), 30)                              # 30 of each digit, as --limit 300
    train, val = sd.split(y, (5, 6, 7, 8, 9), 100, 200, np.random.default_rng(0))
    assert len(train) and len(val) and not set(train) & set(val)
    for d in (5, 6, 7, 8, 9):
        n_train, n_val = (y[train] == d).sum(), (y[val] == d).sum()
        assert n_train + n_val == 30 and n_train == 10 and n_val == 20    # in proportion 100:200
    train, val = sd.split(np.repeat(np.arange(10), 500), (5, 6), 100, 200, np.random.default_rng(0))
    assert len(train) == 200 and len(val) == 400                  # enough digits: the sizes asked
    with pytest.raises(ValueError, match="only 1 training example.*digit 6"):
        sd.split(np.array([5, 5, 6]), (5, 6), 1, 1, np.random.default_rng(0))


@needs_matplotlib
def test_small_data_with_limit_300_trains_and_validates_on_what_it_prints(tmp_path, mnist_available):
    """--limit 300 left no validation digit (all of them went to training) and the run stopped."""
    out = tmp_path / "sd"
    stdout = run_example("small_data_convnet.py", out, "--epochs", 3, "--limit", 300, "--base-epochs", 1,
                         "--head-epochs", 1, "--finetune-epochs", 1, "--verbose", 0)
    m = load_metrics(out)
    assert m["n_train"] > 0 and m["n_val"] > 0
    assert f"{m['n_train']} to train on, {m['n_val']} to validate on" in stdout
    assert "last 5 epochs" not in stdout and "(last 3 epochs)" in stdout
    assert "(the last epoch)" in stdout                            # feature extraction: 1 head epoch
