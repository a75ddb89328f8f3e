"""LSTM speed, minigrad against PyTorch CPU, side by side in one process.

    OPENBLAS_NUM_THREADS=1 python -m benchmarks.lstm            # 7 rounds (about a minute)
    OPENBLAS_NUM_THREADS=1 python -m benchmarks.lstm --rounds 3 --threads 1

Two workloads:
    lstm_fwd_bwd    LSTM(128) over a batch of 64 sequences of 50 steps with 64 features:
                    forward, then backward from the sum of the last output
    char_lm_step    one training step of examples/text_generation.py's model: Embedding(77, 32)
                    -> LSTM(128) -> Dense(77) on 128 windows of 40 characters, categorical
                    cross-entropy from the logits, RMSprop
Both sides build the same model with the same sizes (PyTorch's nn.LSTM on its default CPU
path). The rounds interleave the implementations (the order rotates), so a burst of load on
the machine hits both alike; a round's value is the median of its calls, the table shows the
median over rounds and the median of the per-round ratios. The BLAS library and thread counts
that each side ran with are printed (threadpoolctl, when installed, for NumPy's BLAS).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

if __package__ in (None, ""):                   # python benchmarks/lstm.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed (pip install threadpoolctl to see NumPy's BLAS)"
    rows = [f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} threads)"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return ", ".join(rows) or "no BLAS found by threadpoolctl"


# ----------------------------------------------------------------------------- minigrad

def minigrad_workloads(np):
    import minigrad as mg
    from minigrad import losses, nn

    mg.manual_seed(0)
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((64, 50, 64)).astype(np.float32))
    lstm = nn.LSTM(128)
    lstm.build_for((50, 64))

    def lstm_fwd_bwd():
        lstm.zero_grad()
        lstm(x).sum().backward()

    model = nn.Sequential([nn.Input((40,)), nn.Embedding(77, 32), nn.LSTM(128), nn.Dense(77)])
    optimizer = mg.optim.RMSprop(model.parameters(), lr=0.01)
    ids = mg.tensor(rng.integers(0, 77, (128, 40)))
    target = mg.tensor(np.eye(77, dtype=np.float32)[rng.integers(0, 77, 128)])

    def char_lm_step():
        loss = losses.categorical_crossentropy(target, model(ids), from_logits=True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return {"lstm_fwd_bwd": lstm_fwd_bwd, "char_lm_step": char_lm_step}


# ----------------------------------------------------------------------------- PyTorch

def torch_workloads(np, threads):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((64, 50, 64)).astype(np.float32))
    lstm = torch.nn.LSTM(64, 128, batch_first=True)

    def lstm_fwd_bwd():
        lstm.zero_grad()
        lstm(x)[0][:, -1].sum().backward()

    emb, rnn, dense = torch.nn.Embedding(77, 32), torch.nn.LSTM(32, 128, batch_first=True), \
        torch.nn.Linear(128, 77)
    params = list(emb.parameters()) + list(rnn.parameters()) + list(dense.parameters())
    optimizer = torch.optim.RMSprop(params, lr=0.01, alpha=0.9, eps=1e-7)   # Keras' rho, epsilon
    ids = torch.tensor(rng.integers(0, 77, (128, 40)))
    labels = torch.tensor(rng.integers(0, 77, 128))

    def char_lm_step():
        logits = dense(rnn(emb(ids))[0][:, -1])
        loss = torch.nn.functional.cross_entropy(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    info = f"PyTorch {torch.__version__}, {torch.get_num_threads()} intra-op thread(s)"
    return {"lstm_fwd_bwd": lstm_fwd_bwd, "char_lm_step": char_lm_step}, info


# ----------------------------------------------------------------------------- timing

def time_calls(fn, seconds):
    """Median process CPU seconds per call over ~`seconds` (wall) of calls (at least 3).

    CPU time, not wall time: on a machine shared with other jobs a call's wall time grows
    with the load, its CPU time much less (BENCHMARKS.md, "How it measures")."""
    times = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < seconds:
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--seconds", type=float, default=1.0, help="time per workload per round")
    p.add_argument("--threads", type=int, default=1, help="PyTorch intra-op threads")
    p.add_argument("--keep-freed-memory", action="store_true",
                   help="minigrad's opt-in malloc tuning (as the examples use); affects both sides")
    args = p.parse_args(argv)
    import numpy as np
    import minigrad as mg
    if args.keep_freed_memory:
        mg.backend.keep_freed_memory()
    impls = {"minigrad": minigrad_workloads(np)}
    torch_info = "PyTorch not installed: minigrad only"
    try:
        impls["pytorch"], torch_info = torch_workloads(np, args.threads)
    except ImportError:
        pass
    print(f"NumPy {np.__version__}: {_blas_info()} "
          f"(OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')})")
    print(torch_info)
    names = list(impls["minigrad"])
    for impl in impls.values():                  # warm up: first calls build and allocate
        for fn in impl.values():
            fn()
    rounds = {(i, w): [] for i in impls for w in names}
    order = list(impls)
    for r in range(args.rounds):
        for w in names:
            for impl in order[r % len(order):] + order[:r % len(order)]:
                rounds[impl, w].append(time_calls(impls[impl][w], args.seconds))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    print()
    print(f"{'workload':<16}{'minigrad ms':>13}{'pytorch ms':>12}{'ratio':>8}   spread (minigrad, pytorch)")
    for w in names:
        ours = rounds["minigrad", w]
        line = f"{w:<16}{statistics.median(ours) * 1e3:>13.1f}"
        if "pytorch" in impls:
            theirs = rounds["pytorch", w]
            ratio = statistics.median(a / b for a, b in zip(ours, theirs))
            spread = [(max(v) - min(v)) / statistics.median(v) for v in (ours, theirs)]
            line += (f"{statistics.median(theirs) * 1e3:>12.1f}{ratio:>7.2f}x   "
                     f"{spread[0]:.0%}, {spread[1]:.0%}")
        print(line)
    print(f"\n{args.rounds} interleaved rounds of ~{args.seconds:g} s per workload and side; "
          "process CPU time; ratio = median over rounds of minigrad / PyTorch (goal: <= 1.5x)")


if __name__ == "__main__":
    main()
