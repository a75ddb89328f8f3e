"""The DCGAN step on 2 threads against 1, and its peak memory: `python -m benchmarks.dcgan_scaling`.

    python -m benchmarks.dcgan_scaling threads [--batch 32] [--rounds 5]
        wall time of the keras-gan step (benchmarks/dcgan.py) with 1 and 2 BLAS / torch
        threads, minigrad and PyTorch, four long-lived processes (run.py's Worker) taking
        turns. Speed-up = median over rounds of wall(1 thread) / wall(2 threads).
        Process CPU time is printed beside it: on 2 threads it counts both cores, so
        cpu / wall says how much of the step ran on the second core.
    python -m benchmarks.dcgan_scaling rss [--batch 32] [--steps 3] [--tree DIR ...]
        peak resident set size (VmHWM) of a fresh process that builds the DCGAN and runs
        --steps steps, for this checkout's minigrad and for each --tree (another checkout,
        e.g. `git worktree` or `git archive` of an older commit), and PyTorch; interleaved,
        3 repeats, median. minigrad runs with keep_freed_memory() as the examples do.

A machine shared with other jobs makes 2-thread wall times worth little: the figures are
printed with the load average before and after, and the report should say it.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

if __package__ in (None, ""):                   # python benchmarks/dcgan_scaling.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.run import ROOT, WORKLOADS, Worker, child_env, loadavg  # noqa: E402

# Runs inside the checkout under test (cwd and PYTHONPATH = that tree): only its own
# minigrad and models/dcgan.py, so an older tree needs nothing from this file.
RSS_CHILD = r"""
import json, sys
import numpy as np

def vmhwm_mb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) / 1024 for l in f if l.startswith("VmHWM:"))

impl, batch, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
real = np.random.default_rng(3).uniform(-1, 1, (batch, 1, 28, 28)).astype(np.float32)
if impl == "minigrad":
    import minigrad as mg
    mg.backend.keep_freed_memory()
    from models.dcgan import DCGAN
    mg.manual_seed(0)
    imports = vmhwm_mb()
    gan = DCGAN(seed=0)
    step = lambda: gan.train_step(real)
else:
    import torch
    torch.set_num_threads(1)
    from benchmarks.dcgan import TorchDCGAN
    imports = vmhwm_mb()
    step = TorchDCGAN(batch).step
for _ in range(steps):
    step()
print(json.dumps({"peak_mb": vmhwm_mb(), "imports_mb": imports}))
"""


def threads(batch, rounds):
    """Four long-lived workers (minigrad, torch) x (1, 2 threads) take turns, order rotating."""
    workload = WORKLOADS[f"dcgan_step{batch}"]
    sides = [(impl, n) for impl in ("minigrad", "torch") for n in (1, 2)]
    load_before = loadavg()
    workers = {side: Worker(workload.name, side[0], side[1]) for side in sides}
    values = {(side, clock): [] for side in sides for clock in ("wall", "cpu")}
    try:
        for r in range(rounds):
            for side in sides[r % len(sides):] + sides[:r % len(sides)]:
                times = workers[side].run(workload.round_s, workload.min_calls)
                for clock in ("wall", "cpu"):
                    values[side, clock].append(statistics.median(times[clock]) * 1e3)
            print(f"round {r + 1}/{rounds}", file=sys.stderr)
    finally:
        for w in workers.values():
            w.close()
    load_after = loadavg()
    print(f"## DCGAN step, batch {batch}: 2 threads vs 1, wall clock (load average {load_before:.1f} -> "
          f"{load_after:.1f} on {os.cpu_count()} cores; {rounds} interleaved rounds)")
    print()
    print("| side | 1 thread, wall | 2 threads, wall | speed-up [min–max] | 2 threads: cpu / wall |")
    print("|---|---|---|---|---|")
    for impl in ("minigrad", "torch"):
        one, two = values[(impl, 1), "wall"], values[(impl, 2), "wall"]
        speedups = [a / b for a, b in zip(one, two)]
        busy = [c / w for c, w in zip(values[(impl, 2), "cpu"], two)]
        print(f"| {impl} | {statistics.median(one):.0f} ms | {statistics.median(two):.0f} ms | "
              f"{statistics.median(speedups):.2f}× [{min(speedups):.2f}–{max(speedups):.2f}] | "
              f"{statistics.median(busy):.2f} |")
    return values


def rss(batch, steps, trees, repeats=3):
    sides = [("minigrad", ROOT)] + [("minigrad", os.path.abspath(t)) for t in trees] + [("torch", ROOT)]
    peaks = {side: [] for side in sides}
    for _ in range(repeats):
        for impl, tree in sides:
            env = child_env(impl, 1)
            env["PYTHONPATH"] = tree
            out = subprocess.run([sys.executable, "-c", RSS_CHILD, impl, str(batch), str(steps)],
                                 cwd=tree, env=env, capture_output=True, text=True, check=True)
            peaks[impl, tree].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"## Peak RSS of {steps} DCGAN steps (batch {batch}) in a fresh process, median of {repeats}")
    print()
    print("| side | tree | after imports | peak |")
    print("|---|---|---|---|")
    for (impl, tree), runs in peaks.items():
        print(f"| {impl} | {tree} | {statistics.median(r['imports_mb'] for r in runs):.0f} MB | "
              f"{statistics.median(r['peak_mb'] for r in runs):.0f} MB |")
    return peaks


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.dcgan_scaling", description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("threads", "rss"))
    p.add_argument("--batch", type=int, default=32, choices=(32, 64))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--tree", action="append", default=[], help="another checkout to measure (rss)")
    args = p.parse_args(argv)
    if args.what == "threads":
        threads(args.batch, args.rounds)
    else:
        rss(args.batch, args.steps, args.tree)
    return 0


if __name__ == "__main__":
    sys.exit(main())
