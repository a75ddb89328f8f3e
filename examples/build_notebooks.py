"""Build the lessons' notebooks: each examples/X.py (jupytext percent cells) becomes X.ipynb, executed.

    python examples/build_notebooks.py                      # every lesson
    python examples/build_notebooks.py linear_regression    # some of them, by name
    python examples/build_notebooks.py --list               # the lessons and how each is run

The .py file is the lesson's one source (the convention is in examples/common.py's docstring);
the .ipynb is generated from it and never edited by hand. Each notebook is executed in a fresh
kernel in examples/ (nbclient) on its default parameters, or, for a lesson whose default run
takes over 5 minutes, on the shorter run in SHORTER, which the notebook's first cell then
names. The run's metrics.json, plus "seconds" (wall time of the whole notebook), "command",
"load" (the 1-minute load average at the start) and "date", goes to docs/metrics/X.json.

Needs the `test` and `examples` extras (jupytext, nbclient, nbformat, ipykernel; matplotlib).
"""
from __future__ import annotations

import argparse
import ast
import datetime
import json
import os
import sys
import time
from pathlib import Path

import jupytext            # the test extra: jupytext, nbclient, nbformat, ipykernel
import nbformat
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parent
REPO = EXAMPLES.parent
METRICS = REPO / "docs" / "metrics"
PARAMETERS_TAG = "parameters"

sys.path.insert(0, str(EXAMPLES))
import common  # noqa: E402  (examples/common.py: atomic writes, the parameters cell's reader)

# Lessons whose default run is over 5 minutes are executed on these shorter settings (the
# notebook's first cell says so, and `python examples/X.py` still runs the full default).
SHORTER: dict[str, dict] = {
    "dcgan_mnist": {"iterations": 200, "sample_interval": 50},
    "dcgan_keras": {"iterations": 100},
}


# Lessons that cannot be executed where the notebooks are built: committed with their cells
# and no outputs, and a first cell that says why (the tests still run them on stand-in data).
NOT_EXECUTED: dict[str, str] = {
    "imdb_sentiment": "the reviews, Keras' imdb.npz (17.5 MB), are not shipped with any package, and "
                      "no build downloads anything; tests/test_notebooks.py runs it on a small stand-in file",
}


# The lessons' matrices are small: an OpenBLAS thread pool only contends for the cores (on a
# busy machine many times slower than one thread), as the README says for the scripts. An
# explicit setting in the environment wins.
ONE_BLAS_THREAD = {var: os.environ.get(var, "1") for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                            "MKL_NUM_THREADS")}


def lessons() -> list[Path]:
    """Every lesson source: an examples/*.py with a parameters cell."""
    return sorted(p for p in EXAMPLES.glob("*.py")
                  if common.PARAMETERS_CELL in p.read_text(encoding="utf-8").splitlines())


def defaults(source: Path) -> dict:
    """The parameters cell's values, {name: value} (each must be a Python literal)."""
    lines = source.read_text(encoding="utf-8").splitlines()
    start = lines.index(common.PARAMETERS_CELL) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("# %%")), len(lines))
    values = {}
    for node in ast.parse("\n".join(lines[start:end])).body:
        try:
            values[node.targets[0].id] = ast.literal_eval(node.value)
        except ValueError:
            raise ValueError(f"{source.name}: the parameter {node.targets[0].id} must be a literal "
                             f"(a number, string, list, True/False or None)") from None
    return values


def notebook(source: Path, parameters: dict | None = None):
    """The notebook of one lesson; `parameters` are injected in a cell right after the
    parameters cell (papermill's way), tagged "injected-parameters"."""
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.pop("jupytext", None)          # the notebook is not paired: X.py is the source
    if parameters:
        declared = defaults(source)
        unknown = sorted(set(parameters) - set(declared))
        if unknown:
            raise ValueError(f"{source.name} has no parameters {unknown}; it has {sorted(declared)}")
        where = next(i for i, c in enumerate(nb.cells)
                     if PARAMETERS_TAG in c.get("metadata", {}).get("tags", []))
        text = "# Injected parameters\n" + "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
        nb.cells.insert(where + 1, nbformat.v4.new_code_cell(text, metadata={"tags": ["injected-parameters"]}))
    return nb


def execute(nb, timeout=1800, env=None):
    """Run every cell in a fresh kernel with examples/ as the working folder; returns the notebook.
    env: variables added to the kernel's environment (the tests pin BLAS to one thread)."""
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(EXAMPLES)}}).execute(env={**os.environ, **(env or {})})
    return nb


def figure_cells(nb) -> list[tuple[int, int]]:
    """[(cell index, number of PNG outputs)] for every code cell that calls common.show(...)."""
    return [(i, sum("image/png" in out.get("data", {}) for out in cell.get("outputs", [])))
            for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and "common.show(" in cell.source]


def name_the_shorter_run(nb, name: str, parameters: dict) -> None:
    """Append to the first cell which settings this executed copy ran with."""
    settings = ", ".join(f"`{k} = {v!r}`" for k, v in parameters.items())
    nb.cells[0].source += (
        f"\n\n*This notebook was executed on a shorter run than the default ({settings}, "
        f"injected after the parameters cell): the full default run takes over 5 minutes. "
        f"`python examples/{name}.py` runs the default.*")


def name_the_missing_run(nb, why: str) -> None:
    """Append to the first cell why this notebook is committed without outputs."""
    nb.cells[0].source += (f"\n\n*This notebook is committed without outputs: {why}. With the file "
                           f"on disk (or `download = True`), run it top to bottom.*")


def build(source: Path) -> dict:
    """Execute one lesson's notebook, write X.ipynb and docs/metrics/X.json; returns the metrics."""
    name = source.stem
    if name in NOT_EXECUTED:
        nb = notebook(source)
        name_the_missing_run(nb, NOT_EXECUTED[name])
        text = nbformat.writes(nb) + "\n"
        common.atomic_write(source.with_suffix(".ipynb"), lambda f: f.write(text), binary=False)
        return {"seconds": None, "load": None, "note": f"not executed: {NOT_EXECUTED[name]}"}
    shorter = SHORTER.get(name, {})
    nb = notebook(source, shorter)
    if shorter:
        name_the_shorter_run(nb, name, shorter)
    load = os.getloadavg()[0]
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    start = time.perf_counter()
    execute(nb, env=ONE_BLAS_THREAD)
    seconds = time.perf_counter() - start
    missing = [i for i, n in figure_cells(nb) if n == 0]
    if missing:
        raise RuntimeError(f"{name}: cells {missing} call common.show() but show no figure")
    out = EXAMPLES / defaults(source)["out"]
    metrics = json.loads((out / "metrics.json").read_text())
    taken = sorted({"seconds", "command", "load", "date"} & set(metrics))
    if taken:
        raise ValueError(f"{name}'s metrics.json already has {taken}: the build adds those keys")
    command = "notebook" + (" with " + ", ".join(f"{k}={v!r}" for k, v in shorter.items()) if shorter else "")
    metrics.update(seconds=round(seconds, 1), command=command, load=round(load, 2), date=date)
    text = nbformat.writes(nb) + "\n"
    common.atomic_write(source.with_suffix(".ipynb"), lambda f: f.write(text), binary=False)
    METRICS.mkdir(parents=True, exist_ok=True)
    common.write_json(METRICS / f"{name}.json", metrics)
    return metrics


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="lesson names (default: all)")
    p.add_argument("--list", action="store_true", help="list the lessons and their runs; build nothing")
    args = p.parse_args(argv)
    known = {s.stem: s for s in lessons()}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        p.error(f"no lesson {unknown}; the lessons: {', '.join(known)}")
    chosen = [known[n] for n in args.names] if args.names else list(known.values())
    for source in chosen:
        if args.list:
            print(f"{source.stem}: {SHORTER.get(source.stem) or 'default run'}")
            continue
        metrics = build(source)
        if "note" in metrics:
            print(f"{source.with_suffix('.ipynb').relative_to(REPO)}: {metrics['note']}")
            continue
        print(f"{source.with_suffix('.ipynb').relative_to(REPO)}: {metrics['seconds']} s "
              f"(load {metrics['load']}), docs/metrics/{source.stem}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
