"""The learner's path (examples/learn/): every notebook runs, every exercise is checked twice.

Each notebook is executed in a fresh kernel (nbclient) twice:
  - as committed, with the placeholders: every check cell must say "✗" and name its exercise
    (the placeholder fails with the helpful message, and nothing else in the notebook breaks);
  - with the solutions from examples/learn/solutions/ in place of the exercise cells: every
    check cell must say "✓" and no "✗" may appear anywhere.
Both runs fail on any error, and on a cell that calls plt.show() without producing a figure.
About 2 s per run; needs the test and examples extras (jupytext, nbclient, ipykernel, matplotlib).
"""
import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the learner's notebooks need nbformat (the test extra)")
pytest.importorskip("jupytext", reason="the learner's notebooks need jupytext (the test extra)")
pytest.importorskip("nbclient", reason="executing notebooks needs nbclient (the test extra)")
pytest.importorskip("ipykernel", reason="executing notebooks needs ipykernel (the test extra)")
pytest.importorskip("matplotlib", reason="the notebooks draw figures (the examples extra)")

LEARN = Path(__file__).resolve().parents[1] / "examples" / "learn"
_spec = importlib.util.spec_from_file_location("learn_build_notebooks", LEARN / "build_notebooks.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

SOURCES = build.sources()
NAMES = [s.stem for s in SOURCES]


def test_the_path_has_at_least_eight_notebooks_each_with_an_exercise_and_its_solution():
    assert len(SOURCES) >= 8, NAMES
    for source in SOURCES:
        nb = build.notebook(source)
        exercises = [build.exercise_id(c) for c in nb.cells if build.tagged(c, "exercise")]
        checks = [c for c in nb.cells if build.tagged(c, "check")]
        assert exercises, f"{source.name} has no exercise cell"
        assert len(checks) >= len(exercises), f"{source.name}: an exercise without its check cell"
        assert set(build.solutions_for(source)) == set(exercises), f"solutions/{source.name} does not match"
        assert source.with_suffix(".ipynb").exists(), f"{source.stem}.ipynb is not generated: run build_notebooks.py"


def _run(name, solutions):
    nb = build.execute(build.notebook(LEARN / f"{name}.py", solutions=solutions))
    missing = [i for i, count in build.figures(nb) if count == 0]
    assert not missing, f"{name}: cells {missing} call plt.show() but show no figure"
    assert build.figures(nb), f"{name} draws no figure"
    return nb


@pytest.mark.parametrize("name", NAMES)
def test_with_the_placeholders_every_check_fails_helpfully(name):
    checks = build.check_outputs(_run(name, solutions=False))
    assert checks
    for exercise, text in checks:
        assert text.startswith("✗"), f"{name}, {exercise}: the placeholder's check did not fail:\n{text}"
        assert exercise in text, f"{name}: the failure does not name {exercise}:\n{text}"
        assert "not written yet" in text, f"{name}, {exercise}: the failure does not say what to do:\n{text}"


@pytest.mark.parametrize("name", NAMES)
def test_with_the_solutions_every_check_passes(name):
    nb = _run(name, solutions=True)
    checks = build.check_outputs(nb)
    for exercise, text in checks:
        assert text.startswith("✓") and "✗" not in text, f"{name}, {exercise}: the solution fails:\n{text}"
    for cell in nb.cells:
        text = "".join(out.get("text", "") or out.get("data", {}).get("text/plain", "")
                       for out in cell.get("outputs", []))
        if build.tagged(cell, "shows-a-failure"):       # a planted bug, shown on purpose
            assert "✗" in text, f"{name}: the cell that shows a failing check did not fail:\n{text}"
        else:
            assert "✗" not in text, f"{name}: a cell reports a failure with the solutions:\n{text}"


def test_the_committed_notebooks_are_the_sources_as_built():
    """Every .ipynb holds exactly its .py's cells (regenerate with build_notebooks.py), executed."""
    for source in SOURCES:
        committed = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
        fresh = build.notebook(source)
        assert [c.source for c in committed.cells] == [c.source for c in fresh.cells], (
            f"{source.stem}.ipynb is stale: python examples/learn/build_notebooks.py {source.stem[:2]}")
        assert all(c.get("outputs") or c.cell_type != "code" or not c.source.strip()
                   for c in committed.cells if c.cell_type == "code" and "plt.show()" in c.source), (
            f"{source.stem}.ipynb is not executed")
