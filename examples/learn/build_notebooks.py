"""Build the learner's path: each examples/learn/NN_name.py (jupytext percent cells) becomes NN_name.ipynb.

    python examples/learn/build_notebooks.py              # every notebook, executed, as committed
    python examples/learn/build_notebooks.py 02 05        # some of them (by number or name)
    python examples/learn/build_notebooks.py --solutions  # run them with the solutions (nothing written)

The .py file is the one source; the .ipynb is generated from it and never edited by hand.
Cells are marked with jupytext cell tags:

    # %% tags=["exercise"]     the piece the learner writes; its first line names it,
                               "# Exercise 2a: ...", and its placeholder raises NotImplementedError
    # %% tags=["check"]        runs minigrad.testing's check on that piece and ends with the
                               Verdict, which the notebook shows: "✓ ..." or "✗ what is wrong"
    # %% tags=["shows-a-failure"]  a planted bug whose check is meant to fail (a demonstration)

The solutions are kept apart, in solutions/NN_name.py: one cell per exercise, starting with the
same "# Exercise 2a" line. `--solutions` (and tests/test_learn.py) puts each solution in
place of its exercise cell.

The committed notebooks are executed with the placeholders, as a learner first meets them:
every check cell shows what it says before the exercise is done, and nothing outside the
check cells uses an exercise, so the figures are all there. Needs the `test` and `examples`
extras (jupytext, nbclient, ipykernel; matplotlib).
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import jupytext            # the test extra: jupytext, nbclient, nbformat, ipykernel
import nbformat
from nbclient import NotebookClient

from minigrad.training.files import atomic_write

HERE = Path(__file__).resolve().parent
EXERCISE_LINE = re.compile(r"#\s*(Exercise\s+\w+)")


def sources():
    """The learner's notebooks in order: NN_name.py beside this file."""
    return sorted(HERE.glob("[0-9][0-9]_*.py"))


def exercise_id(cell) -> str | None:
    match = EXERCISE_LINE.match(cell.source.lstrip())
    return match.group(1) if match else None


def tagged(cell, tag) -> bool:
    return tag in cell.get("metadata", {}).get("tags", [])


def solutions_for(source: Path) -> dict:
    """{"Exercise 2a": cell source} from solutions/NN_name.py."""
    path = HERE / "solutions" / source.name
    if not path.exists():
        raise FileNotFoundError(f"no solutions file {path} for {source.name}")
    found = {}
    for cell in jupytext.read(path).cells:
        key = exercise_id(cell)
        if cell.cell_type == "code" and key:
            found[key] = cell.source
    return found


def notebook(source: Path, solutions: bool = False):
    """The notebook of one source file; with solutions=True each exercise cell holds its solution."""
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    exercises = [c for c in nb.cells if c.cell_type == "code" and tagged(c, "exercise")]
    for cell in exercises:
        if exercise_id(cell) is None:
            raise ValueError(f"{source.name}: an exercise cell must start with '# Exercise <id>: ...':\n"
                             f"{cell.source[:200]}")
    if solutions:
        answers = solutions_for(source)
        missing = [exercise_id(c) for c in exercises if exercise_id(c) not in answers]
        if missing:
            raise ValueError(f"{source.name}: no solution for {', '.join(missing)} in solutions/{source.name}")
        for cell in exercises:
            cell.source = answers[exercise_id(cell)]
    return nb


def execute(nb, timeout=300):
    """Run every cell in a fresh kernel, in examples/learn/ (nbclient); returns the notebook."""
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(HERE)}}).execute()
    return nb


def check_outputs(nb):
    """[(exercise cell's id or None, the check cell's text)] for each check cell, in order."""
    found, last_exercise = [], None
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if tagged(cell, "exercise"):
            last_exercise = exercise_id(cell)
        if tagged(cell, "check"):
            texts = []
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream":
                    texts.append(out.get("text", ""))
                elif "data" in out and "text/plain" in out["data"]:
                    texts.append(out["data"]["text/plain"])
            found.append((last_exercise, "".join(texts)))
    return found


def figures(nb) -> list:
    """[(cell index, number of PNG outputs)] for every code cell that calls plt.show()."""
    return [(i, sum("image/png" in out.get("data", {}) for out in cell.get("outputs", [])))
            for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and "plt.show()" in cell.source]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="numbers or names (default: all)")
    parser.add_argument("--solutions", action="store_true", help="run with the solutions; write nothing")
    args = parser.parse_args(argv)
    chosen = [s for s in sources() if not args.names or any(s.stem.startswith(n) for n in args.names)]
    for source in chosen:
        start = time.perf_counter()
        nb = execute(notebook(source, solutions=args.solutions))
        marks = [text.strip()[:1] for _, text in check_outputs(nb)]
        if args.solutions:
            print(f"{source.stem}: checks {' '.join(marks)} ({time.perf_counter() - start:.1f} s)")
            continue
        target = source.with_suffix(".ipynb")
        atomic_write(target, lambda f: f.write(nbformat.writes(nb) + "\n"), binary=False)
        print(f"{target.relative_to(HERE.parent.parent)}: checks {' '.join(marks)} "
              f"({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
