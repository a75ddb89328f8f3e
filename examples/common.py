"""What every lesson shares: its parameters and command line, seeding and device, figures
shown inline, and writing results.

One source per lesson, two ways to run it
-----------------------------------------
examples/X.py is the lesson's only source, in jupytext's "percent" format:

    # %% [markdown]                 prose: what this step does and why, the formula,
    # # Linear regression           what to look at in the figure
    # %%                            code a learner can change and re-run
    # %% tags=["parameters"]        the defaults, one per line:  name = value   # help
    # %%
    common.parameters(globals())    the one helper call: seed, device, output folder

It runs two ways, with the same cells:
  * as a script, `python examples/X.py --epochs 3 --out runs/x`: the file is plain Python (the
    cell markers are comments). common.parameters() reads the parameters cell of the file
    itself, makes the command line from it (`lr = 0.1   # SGD learning rate` becomes
    `--lr 0.1`, with that help; `batch_size` becomes `--batch-size`; True/False become
    `--name/--no-name`; "one of: a, b" in the comment gives the choices), and replaces those
    variables by the values given on the command line. Figures are saved as PNG files.
  * as a notebook, examples/X.ipynb: in a kernel the parameters cell rules (change it and
    re-run), and a test or papermill may inject a cell after it. Every figure is saved as
    in the script and also shown inline (common.show).

examples/X.ipynb is generated from X.py and committed executed, from the default run
(a lesson over 5 minutes is executed on a shorter run that its first cell names):
`python examples/build_notebooks.py [names]` rebuilds them and writes the run's metrics to
docs/metrics/X.json; never edit a .ipynb by hand. The lesson's metrics.json keeps stable,
descriptive keys: the README's lessons table is generated from docs/metrics/.

The parameters every lesson has:
    device = "cpu"      where to train: cpu, cuda or cuda:N (cuda needs minigrad[cuda12]/[cuda13])
    epochs              how long to train
    seed = 0            makes the run reproducible (mg.manual_seed)
    out                 the folder for the PNG figures and metrics.json
    limit = None        use only the first N training examples (quick smoke runs, CI)
    verbose = 1         0 quiet, 1 progress bars, 2 one line per epoch
"""
from __future__ import annotations

import argparse
import ast
import io
import json
import math
import os
import sys
import time
import tokenize
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:          # so `import models` works when run as a script
    sys.path.insert(0, str(REPO))

import minigrad as mg  # noqa: E402
from minigrad.files import atomic_write, check_writable_folder  # noqa: E402


def positive_int(text: str) -> int:
    """argparse type: an int of at least 1, with the usage error argparse prints."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parser(description: str, epochs, out: str, batch_size: int = 32,
           epochs_help: str = "training epochs") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--epochs", type=positive_int, default=epochs, help=epochs_help)
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--out", default=out, help="folder for figures and metrics.json")
    p.add_argument("--batch-size", type=positive_int, default=batch_size, help="mini-batch size")
    p.add_argument("--limit", type=positive_int, default=None,
                   help="use only the first N training examples (for quick runs)")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                   help="0 quiet, 1 progress bars, 2 one line per epoch")
    return p


PARAMETERS_CELL = '# %% tags=["parameters"]'

# the parameters every lesson shares: their command-line type, help and choices
SHARED = {
    "device": (str, "cpu, cuda or cuda:N", None),
    "epochs": (positive_int, "training epochs", None),
    "seed": (int, "random seed", None),
    "out": (str, "folder for figures and metrics.json", None),
    "batch_size": (positive_int, "mini-batch size", None),
    "limit": (positive_int, "use only the first N training examples (for quick runs)", None),
    "test_limit": (positive_int, "use only the first N test examples (for quick runs)", None),
    "verbose": (int, "0 quiet, 1 progress bars, 2 one line per epoch", (0, 1, 2)),
}

_inline = False        # set by parameters() in a notebook kernel: show() displays figures there


def parameters(namespace: dict, argv=None) -> Path:
    """The one call after a lesson's parameters cell: returns the output folder.

    namespace is the lesson's globals(). Run as a script (the namespace has __file__), the
    command line is made from the parameters cell of the file and its values replace the
    cell's; in a notebook kernel (no __file__) the cell's values are used as they are. Then,
    in both: the output folder is checked for writing (at once, not after the training),
    the seed is set and the default device picked.
    """
    global _inline
    script = namespace.get("__file__")
    if script is not None:
        title, declared = read_parameters_cell(Path(script))
        p = argparse.ArgumentParser(prog=Path(script).name, description=title,
                                    formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        for name, help_text in declared:
            if name not in namespace:
                raise NameError(f"{Path(script).name}: the parameters cell declares {name!r} "
                                f"but the namespace given to common.parameters() has no such name")
            add_option(p, name, namespace[name], help_text)
        namespace.update(vars(p.parse_args(argv)))
    else:
        _inline = True
    missing = [name for name in ("out", "seed", "device") if name not in namespace]
    if missing:
        raise NameError(f"common.parameters(): the parameters cell must define {missing}")
    try:
        check_writable_folder(namespace["out"], "--out folder" if script is not None else "out folder")
    except PermissionError as exc:
        if script is None:
            raise
        sys.exit(f"{Path(script).name}: error: {exc}")
    mg.manual_seed(namespace["seed"])
    mg.set_default_device(namespace["device"])
    mg.backend.keep_freed_memory()       # reuse freed memory: no page faults for each new array
    return Path(namespace["out"])


def read_parameters_cell(path: Path):
    """(title, [(name, help), ...]) of a lesson file: its first markdown heading, and the
    `name = value   # help` lines of the cell tagged "parameters" (one name per line)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    title = next((line.lstrip("# ").strip() for line in lines if line.startswith("# # ")), path.stem)
    try:
        start = lines.index(PARAMETERS_CELL) + 1
    except ValueError:
        raise ValueError(f"{path.name} has no parameters cell (a line {PARAMETERS_CELL})") from None
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("# %%")), len(lines))
    cell = "\n".join(lines[start:end]) + "\n"
    comments = {tok.start[0]: tok.string.lstrip("#").strip()
                for tok in tokenize.generate_tokens(io.StringIO(cell).readline)
                if tok.type == tokenize.COMMENT}
    declared = []
    for node in ast.parse(cell).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            raise ValueError(f"{path.name}, parameters cell line {node.lineno}: one `name = value` "
                             f"per line, nothing else (the command line is made from them)")
        declared.append((node.targets[0].id, comments.get(node.lineno, "")))
    return title, declared


def add_option(p: argparse.ArgumentParser, name: str, default, help_text: str) -> None:
    """--name-with-dashes for one parameter; its type follows the default value."""
    flag = "--" + name.replace("_", "-")
    if name in SHARED:
        kind, shared_help, choices = SHARED[name]
        p.add_argument(flag, type=kind, default=default, choices=choices, help=help_text or shared_help)
        return
    choices = None
    if "one of:" in help_text:          # "generator = 'upsampling'   # one of: upsampling, transpose"
        choices = [c.strip(" .;") for c in help_text.split("one of:", 1)[1].split(",")]
    if isinstance(default, bool):
        p.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_text)
    elif isinstance(default, (list, tuple)):
        p.add_argument(flag, nargs="+", type=_type_of(default[0]), default=default, help=help_text)
    else:
        p.add_argument(flag, type=_type_of(default), default=default, choices=choices, help=help_text)


def _type_of(default):
    if isinstance(default, int):
        return positive_int if default >= 1 else int
    return float if isinstance(default, float) else str


def stop(message: str, status: int = 2):
    """End a lesson that cannot go on (its data is missing, say) with a message saying why.
    As a script: the message on stderr and the exit status. In a notebook: an error with the
    message (SystemExit would only say "2")."""
    if _inline:
        raise RuntimeError(message)
    print(message, file=sys.stderr)
    sys.exit(status)


def show(*paths) -> None:
    """Show saved figures inline in a notebook; on the command line the PNG files are the result."""
    if not _inline:
        return
    from IPython.display import Image, display    # IPython: present wherever a kernel runs this
    for path in paths:
        display(Image(filename=os.fspath(path)))


def percent_label(fraction, position=None) -> str:
    """A tick label for a fraction as a percentage with the decimals it needs: 0.825 -> "82.5%",
    0.9 -> "90%". (matplotlib's PercentFormatter(decimals=0) rounds 82.5 to "82%" and 87.5 to
    "88%", half to even, so two ticks 5 points apart read 6 points apart.)"""
    return f"{round(100 * float(fraction), 6):g}%"


def percent_axis(axis) -> None:
    """Label an axis's ticks (ax.xaxis or ax.yaxis) with percent_label."""
    from matplotlib.ticker import FuncFormatter     # matplotlib: the examples extra, as every figure
    axis.set_major_formatter(FuncFormatter(percent_label))


def setup(args) -> Path:
    """Seed, pick the device, make the output folder; returns the folder.

    The folder is checked for writing first, so an unwritable --out stops the example at
    once (exit status 1, a one-line message) instead of after the training.
    """
    try:
        check_writable_folder(args.out, "--out folder")
    except PermissionError as exc:
        sys.exit(f"{Path(sys.argv[0]).name}: error: {exc}")
    mg.manual_seed(args.seed)
    mg.set_default_device(args.device)
    mg.backend.keep_freed_memory()       # reuse freed memory: no page faults for each new array
    return Path(args.out)


def limit(array, n):
    """The first n items of an array (all of them when n is None)."""
    return array if n is None else array[:n]


def write_json(path, data) -> None:
    """Write JSON atomically; NaN or inf anywhere is an error, never a silent 'NaN' in the file."""
    text = json.dumps(data, indent=2, allow_nan=False, default=_to_builtin)
    atomic_write(path, lambda f: f.write(text + "\n"), binary=False)


def _to_builtin(value):
    """NumPy scalars and arrays in metrics become plain numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def check_finite(name: str, value: float) -> float:
    """Stop training loudly at the first NaN/inf loss instead of writing garbage."""
    if not math.isfinite(value):
        raise FloatingPointError(f"{name} became {value}; rerun with mg.detect_anomaly() to find the op")
    return value


class Timer:
    """with Timer() as t: ...; t.seconds"""
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
