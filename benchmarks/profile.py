"""Profile one workload's minigrad implementation: where does a step spend its time?

    python -m benchmarks.profile vae                  cProfile, top 25 by own time
    python -m benchmarks.profile dcgan_step64 --calls 3 --top 40
    python -m benchmarks.profile vae --faults         page faults and system time per call

Like run.py it uses one BLAS thread unless OPENBLAS_NUM_THREADS / --threads says otherwise
(set before NumPy loads), and like the benchmark workers it calls keep_freed_memory() for
minigrad, so it profiles the step the table times. For a sampling profile with native frames: py-spy record --native -o out.svg
-- python -m benchmarks.profile vae --calls 300 --no-profile.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import sys
import time


def _set_threads(argv):
    """--threads N (default 1) into the BLAS variables, before anything imports NumPy."""
    threads = "1"
    if "--threads" in argv:
        threads = argv[argv.index("--threads") + 1]
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, threads)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    _set_threads(argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("workload")
    parser.add_argument("--impl", default="minigrad")
    parser.add_argument("--calls", type=int, default=None, help="calls to profile (default: ~3 s worth)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumtime)")
    parser.add_argument("--faults", action="store_true", help="report minor page faults and sys time")
    parser.add_argument("--no-profile", action="store_true", help="just run (for py-spy)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    args = parser.parse_args(argv)
    if args.impl.startswith("torch"):
        import torch
        torch.set_num_threads(args.threads)
    if args.impl.startswith("minigrad"):
        import minigrad
        minigrad.backend.keep_freed_memory()     # as the benchmark workers (and the examples) do

    from .workloads import WORKLOADS
    call = WORKLOADS[args.workload].factory(args.impl)
    for _ in range(2):
        call()
    t0 = time.process_time()
    call()
    one = max(time.process_time() - t0, 1e-6)
    calls = args.calls or max(1, int(3.0 / one))
    from .worker import _blas_info
    print(f"{args.workload} [{args.impl}], {calls} calls, BLAS: "
          + "; ".join(f"{lib.get('library')} kernel {lib.get('kernel')} threads {lib.get('threads')}"
                      for lib in _blas_info()))
    if args.faults or args.no_profile:
        r0, c0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
        for _ in range(calls):
            call()
        r1, c1 = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
        print(f"per call: CPU {(c1 - c0) / calls * 1e3:.2f} ms (system {(r1.ru_stime - r0.ru_stime) / calls * 1e3:.2f} ms), "
              f"minor page faults {(r1.ru_minflt - r0.ru_minflt) / calls:.0f}")
        return 0
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        call()
    profiler.disable()
    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
