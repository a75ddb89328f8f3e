"""One benchmark process: builds one workload for one implementation, then times it on request.

    python -m benchmarks.worker WORKLOAD IMPL THREADS

The parent (run.py) talks to it over stdin/stdout, one JSON line each way:
    <- {"ready": true, "setup_s": ..., "blas_threads": ..., "torch_threads": ...}
    -> {"run": SECONDS, "min_calls": K}     <- {"wall": [s per call, ...], "cpu": [s per call, ...]}
"wall" is elapsed time, "cpu" the process's CPU time (all its threads, user + system), which
other jobs on a busy machine disturb much less (run.py --clock).
    -> {"quit": true}
Thread counts are fixed by the parent through the environment (OPENBLAS_NUM_THREADS, ...)
before NumPy loads; PyTorch gets torch.set_num_threads(THREADS).

    python -m benchmarks.worker --rss IMPL STEPS

runs STEPS VAE steps in this fresh process and prints the peak resident set size
(VmHWM: the process's peak RSS, as getrusage's ru_maxrss), with the size after the imports alone for reference.
"""
from __future__ import annotations

import gc
import json
import os
import re
import resource
import sys
import time


def _blas_info():
    """What BLAS this process runs, for the report: library, kernel (architecture), threads.

    threadpoolctl sees the BLAS libraries that are loaded as shared objects (NumPy's OpenBLAS);
    PyTorch's CPU wheel links MKL/oneDNN statically, so for it the build configuration and the
    CPU capability it dispatches to are read from torch itself.
    """
    out = []
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        out.append({"library": "?", "note": "pip install threadpoolctl to see the BLAS kernel"})
    else:
        for lib in threadpool_info():
            if lib.get("user_api") == "blas":
                out.append({"library": f"{lib.get('internal_api')} {lib.get('version')}",
                            "kernel": lib.get("architecture", "?"), "threads": lib.get("num_threads")})
    torch = sys.modules.get("torch")
    if torch is not None:
        config = torch.__config__.show()
        found = re.search(r"BLAS_INFO=([^,\s]+)", config)
        blas = found.group(1) if found else "?"
        kernel = next((line.split(":", 1)[1].strip() for line in config.splitlines()
                       if "CPU capability" in line), "?")
        out.append({"library": f"torch {blas} (+ oneDNN for conv)", "kernel": kernel,
                    "threads": torch.get_num_threads()})
    return out


def _blas_threads():
    return [lib.get("threads") for lib in _blas_info()]


def _maxrss_mb():
    """Peak resident set size of this process, in MB.

    VmHWM from /proc (the high-water mark of this process's own memory map) where there is
    one: getrusage's ru_maxrss also counts the parent's size at fork() time on Linux, which
    would hide a small process behind a big parent. Elsewhere, ru_maxrss.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0                      # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0      # Linux: KiB


def rss_run(impl, steps):
    import numpy as np  # noqa: F401
    if impl == "minigrad":
        import minigrad
        minigrad.backend.keep_freed_memory()     # as a training script (the examples) does
    elif impl == "torch":
        import torch
        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    after_imports = _maxrss_mb()
    from . import vae
    step = vae.make(impl)
    for _ in range(steps):
        step()
    print(json.dumps({"impl": impl, "steps": steps, "peak_mb": _maxrss_mb(), "imports_mb": after_imports}))


def serve(workload_name, impl, threads):
    from .workloads import WORKLOADS, base_impl
    started = time.perf_counter()
    torch_threads = None
    if base_impl(impl) == "minigrad":
        import minigrad
        minigrad.backend.keep_freed_memory()     # as a training script (the examples) does
    if base_impl(impl) == "torch":
        import torch
        torch.set_num_threads(threads)
        torch_threads = torch.get_num_threads()
    workload = WORKLOADS[workload_name]
    call = workload.factory(base_impl(impl))
    for _ in range(2):                      # warm-up: first-call allocations, lazy imports
        call()
    out = sys.stdout
    out.write(json.dumps({"ready": True, "setup_s": time.perf_counter() - started,
                          "blas_threads": _blas_threads(), "torch_threads": torch_threads,
                          "blas": _blas_info(),
                          "pid": os.getpid()}) + "\n")
    out.flush()
    wall, cpu = time.perf_counter, time.process_time
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("quit"):
            break
        budget, min_calls = request["run"], request.get("min_calls", 1)
        gc.collect()
        walls, cpus = [], []
        begin = wall()
        while len(walls) < min_calls or wall() - begin < budget:
            t0, c0 = wall(), cpu()
            call()
            c1, t1 = cpu(), wall()
            walls.append(t1 - t0)
            cpus.append(c1 - c0)
        out.write(json.dumps({"wall": walls, "cpu": cpus}) + "\n")
        out.flush()


if __name__ == "__main__":
    if sys.argv[1] == "--rss":
        rss_run(sys.argv[2], int(sys.argv[3]))
    else:
        serve(sys.argv[1], sys.argv[2], int(sys.argv[3]))
