"""The sequence lessons end to end, as a user runs them, on tiny settings.

text_generation.py trains a small character LSTM on CPython's documentation topics (shipped
with Python: no download) and must beat the unigram baseline on the held-out text after three
short epochs; imdb_sentiment.py, without the IMDB file on disk, must exit cleanly saying where
to put it.
"""
import math
import subprocess
import sys

import pytest

from .example_runner import EXAMPLES, REPO, assert_finite_numbers, assert_pngs, load_metrics, \
    needs_matplotlib, run_example


@needs_matplotlib
def test_text_generation_example(tmp_path):
    out = tmp_path / "text"
    stdout = run_example("text_generation.py", out, "--epochs", 3, "--limit", 4000, "--val-windows", 500,
                         "--sample-length", 30, "--units", 32, "--maxlen", 12, "--batch-size", 64,
                         "--verbose", 0)
    assert_pngs(out, ["bits_per_char.png"])
    m = load_metrics(out)
    assert assert_finite_numbers(m) > 10
    assert m["train_windows"] == 4000 and m["val_windows"] == 500 and m["vocabulary"] > 40
    base = m["baseline_bits_per_char"]
    assert base["bigram"] < base["unigram"] < 6.3            # log2(77) = 6.27 would be uniform
    val = m["val_bits_per_char"]
    assert abs(m["val_bits_per_char_before_training"] - math.log2(m["vocabulary"])) < 0.3
    assert len(val) == 3 and val[2] < val[0]
    assert val[2] < base["unigram"], f"validation {val[2]:.3f} bits/char vs unigram {base['unigram']:.3f}"
    assert set(m["samples_last_epoch"]) == {"0.2", "0.5", "1", "1.2"}
    assert all(len(s) == 30 for s in m["samples_last_epoch"].values())
    samples = (out / "samples.txt").read_text()
    assert samples.count("--- temperature") == 12 and "===== after epoch 3 =====" in samples
    assert "epoch 3:" in stdout and "bigram" in stdout


def test_imdb_example_without_data_says_what_to_do(tmp_path):
    env = {"MINIGRAD_DATA": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, str(EXAMPLES / "imdb_sentiment.py"), "--out", str(tmp_path / "o")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    message = proc.stdout + proc.stderr
    assert "imdb.npz" in message and "--download" in message and str(tmp_path / "data") in message
    assert "Traceback" not in message


@needs_matplotlib
def test_imdb_example_trains_on_a_local_file(tmp_path):
    """With a small imdb.npz in Keras' format (the checksum vouched for on the command line), the
    example trains: positive reviews use words 4..23, negative ones 24..43, so two epochs separate them."""
    import hashlib

    import numpy as np
    rng = np.random.default_rng(0)
    arrays = {}
    for part, n in (("train", 200), ("test", 60)):
        labels = rng.integers(0, 2, n)
        reviews = np.empty(n, dtype=object)
        reviews[:] = [(rng.integers(1, 21, rng.integers(5, 15)) + 20 * (1 - y)).tolist() for y in labels]
        arrays["x_" + part], arrays["y_" + part] = reviews, labels
    folder = tmp_path / "data"
    folder.mkdir()
    np.savez(folder / "imdb.npz", **arrays)
    sha = hashlib.sha256((folder / "imdb.npz").read_bytes()).hexdigest()
    out = tmp_path / "imdb"
    stdout = run_example("imdb_sentiment.py", out, "--data-dir", folder, "--checksum", sha,
                         "--epochs", 3, "--num-words", 50, "--maxlen", 16, "--batch-size", 16,
                         "--verbose", 0)
    assert_pngs(out, ["training.png"])
    m = load_metrics(out)
    assert assert_finite_numbers(m) > 10
    assert m["train_reviews"] == 160 and m["val_reviews"] == 40 and m["test_reviews"] == 60
    assert m["test_accuracy"] > 0.8, stdout
