"""The registry: every workload, the implementations it is measured with, and how to build one.

A workload's factory(impl) returns a zero-argument callable: one timed call. `per_call` turns
the seconds of one call into the reported unit (ms per step, or µs per node).
Implementations named "X+malloc" and "X+nommap" are X run in a process whose glibc malloc
is tuned through the environment (see VARIANT_ENV), to measure what the allocator costs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# glibc malloc tuning for the variants. By default glibc serves blocks above its mmap threshold
# (128 KiB, rising adaptively up to 32 MiB) with mmap and returns them with munmap, so the next
# array of that size is page-faulted and zeroed again; freed heap above the trim threshold is
# returned too. Setting either variable also switches the adaptive threshold off.
#   +malloc   the settings: mmap threshold at its maximum (32 MiB, HEAP_MAX/2 on 64-bit),
#             trim threshold 1 GiB. Arrays above 32 MiB (im2col matrices) are still mmapped.
#   +nommap   no mmap at all (M_MMAP_MAX = 0) and trim threshold 1 GiB: every freed block stays
#             in the heap for reuse, whatever its size.
VARIANT_ENV = {
    "malloc": {"MALLOC_MMAP_THRESHOLD_": str(32 * 1024 * 1024),
               "MALLOC_TRIM_THRESHOLD_": str(1024 * 1024 * 1024)},
    "nommap": {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1024 * 1024 * 1024)},
}
MALLOC_VARS = sorted({k for env in VARIANT_ENV.values() for k in env})


@dataclass
class Workload:
    name: str
    title: str
    impls: tuple
    factory: object                  # factory(impl) -> callable
    unit: str = "ms"
    per_call: float = 1e3            # seconds of one call -> unit
    goal: str = ""                   # the goal, as text
    quick: bool = True               # part of --quick
    round_s: float = 0.4             # seconds of calls per implementation per round
    min_calls: int = 3
    extra: dict = field(default_factory=dict)


def _vae(impl):
    from . import vae
    return vae.make(impl)


def _conv(name):
    def factory(impl):
        from . import conv
        return conv.make(impl, name)
    return factory


def _dcgan(batch):
    def factory(impl):
        from . import dcgan
        return dcgan.make(impl, batch)
    return factory


def _fit(impl):
    from . import small
    return small.make_fit(impl)


def _chain(impl):
    from . import small
    return small.make_chain(impl)


def _sgemm(impl):
    from . import small
    return small.make_sgemm(impl)


GOAL_LAYERS = ("dcgan_g1", "dcgan_g2", "dcgan_d4")     # the DCGAN layers issue 23 sets a goal for


def _registry():
    from .conv import SPECS
    from .small import CHAIN
    items = [
        Workload("vae", "MLP VAE train step (784-512-2, batch 100, Adam)",
                 ("minigrad", "functional", "numpy", "torch", "minigrad+malloc", "numpy+malloc", "torch+malloc",
                  "minigrad+nommap", "numpy+nommap", "torch+nommap"),
                 _vae, goal="minigrad <= 1.05 x numpy", round_s=0.3,
                 min_calls=10),
    ]
    for name in ("conv2d", "conv_transpose2d"):
        items.append(Workload(name, SPECS[name].describe() + ", fwd+bwd", ("minigrad", "numpy", "torch"),
                              _conv(name), goal="minigrad <= 1.15 x torch"))
    for name in [n for n in SPECS if n.startswith("dcgan_")]:
        items.append(Workload(name, SPECS[name].describe() + ", fwd+bwd", ("minigrad", "numpy", "torch"),
                              _conv(name), goal="minigrad <= 1.15 x torch" if name in GOAL_LAYERS else
                              "(DCGAN's conv shapes; no goal of their own)",
                              quick=name in ("dcgan_g2", "dcgan_d2")))
    for batch in (32, 64):
        impls = ("minigrad", "torch") + (("minigrad+malloc", "torch+malloc", "minigrad+nommap",
                                          "torch+nommap") if batch == 64 else ())
        items.append(Workload(f"dcgan_step{batch}", f"keras-gan DCGAN train step, batch {batch}",
                              impls, _dcgan(batch), goal="minigrad <= 1.15 x torch (stretch <= 1.0)",
                              round_s=1.0, min_calls=2, quick=batch == 64))
    items.append(Workload("fit_epoch", "Sequential.fit, 1 epoch: 4500x784 -> 128 relu -> 10 softmax, "
                          "batch 32, Adam", ("minigrad", "torch"), _fit, unit="s", per_call=1.0,
                          goal="(no goal; reported)", round_s=1.0, min_calls=1))
    items.append(Workload("op_overhead", f"per-op overhead: chain of {CHAIN} ops on 1-element tensors, "
                          "fwd+bwd, per node", ("minigrad", "torch"), _chain, unit="µs/node",
                          per_call=1e6 / CHAIN, goal="minigrad <= 4 µs per node", round_s=0.3,
                          min_calls=5))
    items.append(Workload("sgemm", "float32 GEMM 2048x2048x2048 (the peak that '% of sgemm peak' divides by)",
                          ("numpy", "torch"), _sgemm, goal="(yardstick)", round_s=0.3, min_calls=3))
    return {w.name: w for w in items}


WORKLOADS = _registry()


def base_impl(impl: str) -> str:
    return impl.split("+")[0]


def variant(impl: str):
    """'minigrad+nommap' -> 'nommap'; None for a plain implementation."""
    return impl.split("+", 1)[1] if "+" in impl else None
