"""Is an array backward worth writing? One op's forward + backward, with and without it.

    OPENBLAS_NUM_THREADS=1 python -m benchmarks.backward_arrays [--repeats 21]

A Function's `backward` is written with Tensor ops: each one makes a Tensor and goes through
Function.apply (a few microseconds of Python each), even under no_grad. `backward_arrays`
is the same derivative on raw arrays, which the walk uses when the backward is not being
recorded. Here each op runs forward + backward on fixed inputs, once as it is and once with
its backward_arrays hidden (the walk then falls back to `backward`); the two variants are
interleaved, repeat after repeat, and the median time per step is printed.
docs/adding_ops.md quotes these figures.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad import losses
from minigrad.ops import elementwise, linalg
from minigrad.ops import losses as loss_ops


def _linear(batch, n_in, n_out):
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((batch, n_in)), dtype="float32", requires_grad=True)
    w = mg.tensor(rng.standard_normal((n_in, n_out)) * 0.05, dtype="float32", requires_grad=True)
    b = mg.tensor(np.zeros(n_out), dtype="float32", requires_grad=True)
    g = mg.tensor(rng.standard_normal((batch, n_out)), dtype="float32")
    return (lambda: F.linear(x, w, b)), g, [x, w, b]


def _sigmoid(batch, n):
    rng = np.random.default_rng(1)
    x = mg.tensor(rng.standard_normal((batch, n)), dtype="float32", requires_grad=True)
    g = mg.tensor(rng.standard_normal((batch, n)), dtype="float32")
    return (lambda: F.sigmoid(x)), g, [x]


def _bce_logits(batch, n):
    rng = np.random.default_rng(2)
    z = mg.tensor(rng.standard_normal((batch, n)), dtype="float32", requires_grad=True)
    y = mg.tensor(rng.uniform(0, 1, (batch, n)), dtype="float32")
    forward = lambda: losses.binary_crossentropy(y, z, from_logits=True, reduction="none")  # noqa: E731
    return forward, mg.ones(batch, dtype="float32"), [z]      # Keras' BCE: the mean over the last axis


# (label, the Function whose backward_arrays is switched, a builder of (forward, upstream, leaves))
WORKLOADS = [
    ("Linear  x(32, 64) @ w(64, 64) + b", linalg.Linear, lambda: _linear(32, 64, 64)),
    ("Linear  x(128, 784) @ w(784, 256) + b", linalg.Linear, lambda: _linear(128, 784, 256)),
    ("Sigmoid (32, 64)", elementwise.Sigmoid, lambda: _sigmoid(32, 64)),
    ("Sigmoid (128, 784)", elementwise.Sigmoid, lambda: _sigmoid(128, 784)),
    ("BCE from logits (128, 784)", loss_ops.BinaryCrossentropyWithLogits, lambda: _bce_logits(128, 784)),
]


def time_steps(forward, upstream, leaves, n):
    """Seconds per forward + backward, over n steps."""
    start = time.perf_counter()
    for _ in range(n):
        forward().backward(upstream)
        for t in leaves:
            t.grad = None
    return (time.perf_counter() - start) / n


def measure(function, build, repeats, target_s=0.05):
    forward, upstream, leaves = build()
    array_form = function.__dict__["backward_arrays"]
    per_step = time_steps(forward, upstream, leaves, 3)                # warm up, and size the blocks
    n = max(3, int(target_s / per_step))
    times = {"with": [], "without": []}
    try:
        for r in range(repeats):
            order = ("with", "without") if r % 2 == 0 else ("without", "with")
            for variant in order:
                function.backward_arrays = array_form if variant == "with" else None
                times[variant].append(time_steps(forward, upstream, leaves, n))
    finally:
        function.backward_arrays = array_form
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args(argv)
    print(f"{'op (float32)':40s} {'with':>10s} {'without':>10s} {'saved':>9s}")
    for label, function, build in WORKLOADS:
        t = measure(function, build, args.repeats)
        saved = t["without"] - t["with"]
        print(f"{label:40s} {t['with'] * 1e6:8.1f}us {t['without'] * 1e6:8.1f}us "
              f"{saved * 1e6:6.1f}us ({saved / t['without']:4.0%})")


if __name__ == "__main__":
    main()
