"""What every example shares: its command line, seeding and device, and writing results.

Each example takes
    --device cpu|cuda   where to train (cuda needs minigrad[cuda12] or [cuda13] and a GPU)
    --epochs N          how long to train
    --seed N            makes the run reproducible (mg.manual_seed)
    --out DIR           where the PNG figures and metrics.json go
    --limit N           use only the first N training examples (quick smoke runs, CI)
    --verbose 0|1|2     quiet, progress bars, or one line per epoch
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
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
