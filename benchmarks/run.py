"""minigrad's benchmarks, side by side: `python -m benchmarks` (or `python benchmarks/run.py`).

Every workload runs in its own process per implementation (minigrad, hand-written NumPy,
PyTorch CPU when importable). The processes stay alive and take turns: in each round every
implementation runs for ~0.3-1 s in a rotating order, so a burst of load from elsewhere on the
machine hits all of them alike. A round's value is the median time of its calls; the table
shows the median over rounds, the spread of the round values ((max - min) / median), and each
ratio as the median of the per-round ratios.

    python -m benchmarks                   all workloads, 7 rounds (about 5 minutes)
    python -m benchmarks --quick           a smoke run: fewer workloads, 3 short rounds
    python -m benchmarks --only vae,conv2d names (or prefixes: --only dcgan)
    python -m benchmarks --check           only the gradient checks of the references
    python -m benchmarks --threads 2       BLAS / torch threads (default 1, see BENCHMARKS.md)
    python -m benchmarks --json out.json   also save every round's numbers

Before timing anything, the hand-written NumPy VAE is checked against minigrad's (and
PyTorch's) gradients; the convolution references with --check.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

if __package__ in (None, ""):                   # python benchmarks/run.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "benchmarks"

from benchmarks.workloads import MALLOC_VARS, VARIANT_ENV, WORKLOADS, base_impl, variant  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def torch_available() -> bool:
    try:
        import importlib.util
        return importlib.util.find_spec("torch") is not None
    except Exception:
        return False


def child_env(impl: str, threads: int) -> dict:
    env = dict(os.environ)
    for name in THREAD_VARS:
        env[name] = str(threads)
    env["BENCH_THREADS"] = str(threads)
    for name in MALLOC_VARS:
        env.pop(name, None)
    if variant(impl):
        env.update(VARIANT_ENV[variant(impl)])
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


class Worker:
    def __init__(self, workload: str, impl: str, threads: int):
        self.impl = impl
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.worker", workload, impl, str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
            env=child_env(impl, threads))
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {workload}/{impl} died during setup (see its error above)")
        self.info = json.loads(line)

    def run(self, seconds: float, min_calls: int) -> dict:
        """{"wall": [...], "cpu": [...]}: seconds per call."""
        self.proc.stdin.write(json.dumps({"run": seconds, "min_calls": min_calls}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.impl} died")
        return json.loads(line)

    def close(self):
        try:
            self.proc.stdin.write(json.dumps({"quit": True}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass
        self.proc.wait(timeout=60)


def measure(workload, impls, rounds, threads, scale_s, log):
    """Round values (in the workload's unit) per clock and implementation:
    {"wall": {impl: [v_round1, ...]}, "cpu": {...}}."""
    workers = {}
    try:
        for impl in impls:
            workers[impl] = Worker(workload.name, impl, threads)
        values = {clock: {impl: [] for impl in impls} for clock in ("wall", "cpu")}
        calls = {impl: 0 for impl in impls}
        for r in range(rounds):
            order = impls[r % len(impls):] + impls[:r % len(impls)]
            for impl in order:
                times = workers[impl].run(workload.round_s * scale_s, workload.min_calls)
                for clock in ("wall", "cpu"):
                    values[clock][impl].append(statistics.median(times[clock]) * workload.per_call)
                calls[impl] += len(times["wall"])
            log(".")
        info = {impl: dict(w.info, calls=calls[impl]) for impl, w in workers.items()}
        return values, info
    finally:
        for w in workers.values():
            w.close()


def summarize(values: dict) -> dict:
    out = {}
    for impl, vs in values.items():
        med = statistics.median(vs)
        out[impl] = {"median": med, "spread": (max(vs) - min(vs)) / med if med else 0.0, "rounds": vs}
    return out


def ratio(values: dict, a: str, b: str):
    """Median and range of the per-round ratios a / b, or None."""
    if a not in values or b not in values:
        return None
    rs = [x / y for x, y in zip(values[a], values[b])]
    return {"median": statistics.median(rs), "min": min(rs), "max": max(rs)}


def fmt_value(v, unit):
    if unit == "s":
        return f"{v:.2f} s"
    if unit.startswith("µs"):
        return f"{v:.2f} µs"
    return f"{v:.1f} ms" if v >= 10 else f"{v:.2f} ms"


def fmt_ratio(r):
    return "—" if r is None else f"{r['median']:.2f}× [{r['min']:.2f}–{r['max']:.2f}]"


# ----------------------------------------------------------------------------- peak RSS

def rss(steps, repeats, threads, log):
    """Peak RSS of STEPS VAE steps, each implementation in a fresh process, interleaved."""
    impls = ["minigrad", "numpy", "minigrad+nommap", "numpy+nommap"]
    results = {impl: [] for impl in impls}
    for _ in range(repeats):
        for impl in impls:
            out = subprocess.run([sys.executable, "-m", "benchmarks.worker", "--rss", base_impl(impl),
                                  str(steps)], capture_output=True, text=True, cwd=ROOT,
                                 env=child_env(impl, threads), check=True)
            results[impl].append(json.loads(out.stdout.strip().splitlines()[-1]))
        log(".")
    return {impl: {"peak_mb": statistics.median(r["peak_mb"] for r in rs),
                   "imports_mb": statistics.median(r["imports_mb"] for r in rs)}
            for impl, rs in results.items()}


# ----------------------------------------------------------------------------- environment

def machine_info(threads):
    info = {"date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "python": platform.python_version(), "platform": platform.platform(),
            "cores": os.cpu_count(), "threads": threads}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor() or "?"
    import numpy as np
    info["numpy"] = np.__version__
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:
        info["blas"] = "?"
    try:
        info["glibc"] = " ".join(platform.libc_ver())
    except Exception:
        pass
    if torch_available():
        out = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"],
                             capture_output=True, text=True)
        info["torch"] = out.stdout.strip() or "?"
    return info


def loadavg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


# ----------------------------------------------------------------------------- tables

def table(results, markdown=True):
    head = ["workload", "minigrad", "hand-written NumPy", "PyTorch CPU", "minigrad / NumPy",
            "minigrad / torch", "goal"]
    rows = []
    for name, res in results.items():
        w = WORKLOADS[name]
        s = res["summary"]
        cell = lambda impl: (f"{fmt_value(s[impl]['median'], w.unit)} ±{s[impl]['spread'] * 50:.0f}%"
                             if impl in s else "—")
        rows.append([f"{name}: {w.title}", cell("minigrad"), cell("numpy"), cell("torch"),
                     fmt_ratio(res["ratios"].get("minigrad/numpy")),
                     fmt_ratio(res["ratios"].get("minigrad/torch")), res.get("verdict", "")])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(wd) for c, wd in zip(r, widths)) for r in [head] + rows)


def other_table(results):
    lines = ["| workload | minigrad / NumPy | minigrad / torch |", "|---|---|---|"]
    for name, res in results.items():
        r = res["other_clock"]["ratios"]
        lines.append(f"| {name} | {fmt_ratio(r.get('minigrad/numpy'))} | {fmt_ratio(r.get('minigrad/torch'))} |")
    return "\n".join(lines)


# The goals of issue 23, one line each: (workload, what is compared, the ratio or value, limit).
# verdict() and goals_table() read them, so the table's goal column and BENCHMARKS.md's
# "## Goals" table (pasted from goals_table's output) say the same thing.
GOALS = [
    ("conv2d", "minigrad / torch", "minigrad/torch", 1.15),
    ("conv_transpose2d", "minigrad / torch", "minigrad/torch", 1.15),
    ("dcgan_g1", "minigrad / torch", "minigrad/torch", 1.15),
    ("dcgan_g2", "minigrad / torch", "minigrad/torch", 1.15),
    ("dcgan_d4", "minigrad / torch", "minigrad/torch", 1.15),
    ("dcgan_step32", "minigrad / torch", "minigrad/torch", 1.15),
    ("dcgan_step64", "minigrad / torch", "minigrad/torch", 1.15),
    ("vae", "minigrad / hand-written NumPy", "minigrad/numpy", 1.05),
    ("vae", "functional Model / the same layers called directly", "functional/minigrad", 1.05),
    ("op_overhead", "minigrad µs per recorded op", "value", 4.0),
]


def _measured(res, key):
    if key == "value":
        return res["summary"]["minigrad"]["median"]
    r = res["ratios"].get(key)
    return r["median"] if r else None


def verdict(name, res):
    """The issue's goals for this workload: "met" / "missed" (all of them), "" when it has none."""
    verdicts = []
    for workload, _, key, limit in GOALS:
        value = _measured(res, key) if workload == name else None
        if value is not None:
            verdicts.append("met" if value <= limit else "missed")
    return "" if not verdicts else "missed" if "missed" in verdicts else "met"


def goals_table(results):
    """workload | goal | measured | verdict, one row per goal of GOALS that this run measured."""
    lines = ["| workload | goal | measured | verdict |", "|---|---|---|---|"]
    for workload, what, key, limit in GOALS:
        res = results.get(workload)
        value = _measured(res, key) if res else None
        if value is None:
            continue
        if key == "value":
            measured = fmt_value(value, WORKLOADS[workload].unit)
            goal = f"{what} <= {limit:g}"
        else:
            measured = fmt_ratio(res["ratios"][key])
            goal = f"{what} <= {limit:.2f}×"
        lines.append(f"| {workload} | {goal} | {measured} | {'met' if value <= limit else 'missed'} |")
    return "\n".join(lines)


def blas_table(results):
    """Which BLAS library, kernel and thread count each side ran (threadpoolctl, torch config)."""
    seen = {}
    for res in results.values():
        for impl, info in res["info"].items():
            for lib in info.get("blas") or []:
                key = (base_impl(impl), lib.get("library"), lib.get("kernel"), lib.get("threads"))
                seen.setdefault(key, lib)
    lines = ["| side | library | kernel | threads |", "|---|---|---|---|"]
    for impl, library, kernel, threads in sorted(seen, key=lambda k: tuple(map(str, k))):
        lines.append(f"| {impl} | {library} | {kernel} | {threads} |")
    return "\n".join(lines)


def peak_lines(results):
    """The DCGAN steps' GEMM arithmetic as a share of the measured sgemm rate, each side its own."""
    from .dcgan import step_flops
    from .small import SGEMM_FLOPS
    if "sgemm" not in results:
        return []
    sgemm = results["sgemm"]["summary"]
    peak = {impl: SGEMM_FLOPS / (s["median"] / 1e3) for impl, s in sgemm.items()}   # flop/s
    peak["minigrad"] = peak.get("numpy")                                           # same OpenBLAS
    lines = ["sgemm peak (2048^3, float32): " + ", ".join(
        f"{impl} {p / 1e9:.0f} GFLOP/s" for impl, p in peak.items() if impl != "minigrad" and p)]
    for name, res in results.items():
        if not name.startswith("dcgan_step"):
            continue
        flops = step_flops(int(name[len("dcgan_step"):]))
        parts = []
        for impl in ("minigrad", "torch"):
            s = res["summary"].get(impl)
            if s and peak.get(impl):
                parts.append(f"{impl} {flops / (s['median'] / 1e3) / peak[impl] * 100:.0f} %")
        lines.append(f"{name}: {flops / 1e9:.1f} GFLOP of GEMMs per step; of the sgemm peak: " + ", ".join(parts))
    return lines


def malloc_table(name, res):
    """The allocator variants of one workload against the defaults (same run)."""
    s, v, w = res["summary"], res["values"], WORKLOADS[name]
    tags = [t for t in VARIANT_ENV if any(i.endswith("+" + t) for i in s)]
    head = ["implementation", "default glibc malloc"] + \
        [f"+{t}: {' '.join(f'{k}={x}' for k, x in VARIANT_ENV[t].items())}" for t in tags]
    lines = [f"**{name}** ({w.title})", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for impl in ("minigrad", "numpy", "torch"):
        if impl not in s:
            continue
        cells = [impl, fmt_value(s[impl]["median"], w.unit)]
        for t in tags:
            key = f"{impl}+{t}"
            cells.append(f"{fmt_value(s[key]['median'], w.unit)} ({fmt_ratio(ratio(v, key, impl))} of default)"
                         if key in s else "—")
        lines.append("| " + " | ".join(cells) + " |")
    for other in ("numpy", "torch"):
        if other in s:
            cells = [f"minigrad / {other}", fmt_ratio(ratio(v, "minigrad", other))]
            cells += [fmt_ratio(ratio(v, f"minigrad+{t}", f"{other}+{t}")) for t in tags]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rss_table(r, steps):
    lines = [f"| peak RSS, {steps} VAE steps, fresh process | after imports | peak | peak − imports |",
             "|---|---|---|---|"]
    for impl, x in r.items():
        lines.append(f"| {impl} | {x['imports_mb']:.1f} MB | {x['peak_mb']:.1f} MB | "
                     f"{x['peak_mb'] - x['imports_mb']:.1f} MB |")
    for tag in ("", "+nommap"):
        a, b = r.get("minigrad" + tag), r.get("numpy" + tag)
        if a and b:
            lines.append(f"| minigrad{tag} / numpy{tag} | | {a['peak_mb'] / b['peak_mb']:.2f}× | "
                         f"{(a['peak_mb'] - a['imports_mb']) / max(b['peak_mb'] - b['imports_mb'], 1e-9):.2f}× |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main

def select(only, quick):
    if not only:
        return [n for n, w in WORKLOADS.items() if w.quick or not quick]
    chosen = []
    for token in only.split(","):
        token = token.strip()
        matches = [n for n in WORKLOADS if n == token] or [n for n in WORKLOADS if n.startswith(token)]
        if not matches and token != "rss":
            raise SystemExit(f"--only: no workload named {token!r}; known: {', '.join(WORKLOADS)}, rss")
        chosen += [m for m in matches if m not in chosen]
    return chosen


def run_checks(full, log=print):
    from . import vae
    log("gradient check: hand-written NumPy VAE vs minigrad" + (" and PyTorch" if torch_available() else ""))
    vae.check(impls=("minigrad", "torch") if torch_available() else ("minigrad",))
    if full:
        from . import conv
        log("gradient check: hand-written NumPy convolutions vs minigrad" +
            (" and PyTorch" if torch_available() else ""))
        conv.check(impls=("minigrad", "torch") if torch_available() else ("minigrad",))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer workloads, 3 short rounds")
    parser.add_argument("--only", help="comma-separated workload names or prefixes (and 'rss')")
    parser.add_argument("--rounds", type=int, help="rounds per workload (default 7, quick 3)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads (default 1)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--no-malloc", action="store_true", help="leave out the allocator variants (+malloc, +nommap)")
    parser.add_argument("--rss-steps", type=int, default=200)
    parser.add_argument("--clock", choices=("cpu", "wall"),
                        help="what the table shows: process CPU time (default with --threads 1: "
                             "robust on a shared machine) or elapsed wall time (default otherwise); "
                             "--json keeps both")
    parser.add_argument("--check", action="store_true", help="run the gradient checks only")
    parser.add_argument("--json", help="write every number to this file")
    parser.add_argument("--check-vae", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    log = lambda s: print(s, end="", flush=True) if s == "." else print(s, flush=True)
    if args.check or args.check_vae:
        run_checks(full=args.check)
        return 0
    with_torch = torch_available() and not args.no_torch
    clock = args.clock or ("cpu" if args.threads == 1 else "wall")
    other = "wall" if clock == "cpu" else "cpu"
    rounds = args.rounds or (3 if args.quick else 7)
    scale_s = 0.5 if args.quick else 1.0
    names = select(args.only, args.quick)
    do_rss = (not args.only or "rss" in args.only.split(",")) and not args.quick or \
        (args.only and "rss" in args.only.split(","))

    command = "python -m benchmarks " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    info = machine_info(args.threads)
    info["blas_env"] = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    forced = {k: v for k, v in info["blas_env"].items() if v is not None}
    if forced:
        log(f"WARNING: {forced} is set: OpenBLAS may run an older kernel than this CPU's. Publish "
            "figures taken with: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks ...")
    log(f"{command.strip()}\n{info['date']} · {info['cpu']} · {info['cores']} cores · threads {args.threads} · "
        f"python {info['python']} · numpy {info['numpy']} ({info['blas']}) · torch {info.get('torch', 'absent')}")
    # in a child process, so that this one stays small (its size at fork() would count
    # towards the children's getrusage figures) and never imports torch itself
    subprocess.run([sys.executable, "-m", "benchmarks", "--check-vae"], cwd=ROOT, check=True,
                   env=child_env("numpy", args.threads))

    load_before = loadavg()
    started = time.time()
    results = {}
    for name in names:
        w = WORKLOADS[name]
        impls = [i for i in w.impls if (with_torch or base_impl(i) != "torch")
                 and not (args.no_malloc and variant(i))]
        if args.quick:
            impls = [i for i in impls if not variant(i)]
        log(f"{name}: {', '.join(impls)} ")
        both, winfo = measure(w, impls, rounds, args.threads, scale_s, log)
        values = both[clock]
        res = {"values": values, "summary": summarize(values), "info": winfo, "clock": clock,
               "other_clock": {"clock": other, "summary": summarize(both[other]),
                               "ratios": {k: ratio(both[other], "minigrad", b) for k, b in
                                          (("minigrad/numpy", "numpy"), ("minigrad/torch", "torch"))}},
               "ratios": {k: ratio(values, "minigrad", b) for k, b in
                          (("minigrad/numpy", "numpy"), ("minigrad/torch", "torch"))}}
        if "functional" in values:                  # the same model as a functional graph (vae)
            res["ratios"]["functional/minigrad"] = ratio(values, "functional", "minigrad")
        res["verdict"] = verdict(name, res)
        results[name] = res
        s = res["summary"]
        log("  " + "  ".join(f"{i} {fmt_value(s[i]['median'], w.unit)} (±{s[i]['spread'] * 50:.0f}%)"
                             for i in impls))
    rss_result = None
    if do_rss:
        log(f"rss: {args.rss_steps} VAE steps per fresh process ")
        rss_result = rss(args.rss_steps, 1 if args.quick else 3, args.threads, log)
        log("")
    load_after = loadavg()
    elapsed = time.time() - started

    print()
    print(f"## Results ({info['date']}, {elapsed / 60:.1f} min, load average {load_before:.1f} -> "
          f"{load_after:.1f} on {info['cores']} cores; threads = {args.threads}; clock = {clock})")
    print()
    print(f"{'Process CPU time' if clock == 'cpu' else 'Wall time'} per call: median over rounds (± half "
          "the spread of the round values); ratios: median of the per-round ratios [min–max].")
    print()
    if results:
        print(table(results))
        print()
        print("## Goals")
        print()
        print(goals_table(results))
        print()
        print(f"The same runs on the {other} clock (ratios):")
        print()
        print(other_table(results))
        print()
        for name, res in results.items():
            if res["ratios"].get("functional/minigrad"):
                print(f"{name}: the functional Model / the same layers called directly: "
                      f"{fmt_ratio(res['ratios']['functional/minigrad'])} (goal <= 1.05)")
                print()
    for name, res in results.items():
        if any(variant(i) for i in res["summary"]):
            print(malloc_table(name, res))
            print()
    if rss_result:
        print(rss_table(rss_result, args.rss_steps))
        print()
    if results:
        print("BLAS each side ran (threadpoolctl; torch's own build configuration), with "
              + ", ".join(f"{k}={'unset' if v is None else v}" for k, v in info["blas_env"].items()) + ":")
        print()
        print(blas_table(results))
        print()
        for line in peak_lines(results):
            print(line)
        print()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": command, "machine": info, "load": [load_before, load_after], "clock": clock,
                       "elapsed_s": elapsed, "results": results, "rss": rss_result}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
