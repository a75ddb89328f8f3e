"""New tensors from nothing: eye, linspace, arange, full, randint, random_normal, random_uniform.

They have no inputs, so they are leaves, not graph nodes. Random ones draw from the device's
seeded generator (mg.manual_seed); a `seed=` argument draws from a generator of its own on
the host instead, so the result is the same on every device.
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor, arange, full  # noqa: F401 - arange and full live with Tensor

__all__ = ["eye", "linspace", "arange", "full", "randint", "random_normal", "random_uniform"]


def _shape(shape) -> tuple:
    return (int(shape),) if isinstance(shape, int) else tuple(int(n) for n in shape)


def _float_dtype(dtype):
    dtype = backend.np.dtype(dtype) if dtype is not None else backend.default_float_dtype()
    if not backend.is_floating(dtype):
        raise TypeError(f"expected a floating dtype, got {dtype}")
    return dtype


def _on_device(make, device) -> Tensor:
    device = backend.normalize_device(device)
    with backend.device_context(device):
        return Tensor._make(make(backend.xp_for(device), device))


def eye(n: int, m: int | None = None, k: int = 0, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The n x m identity (ones on the k-th diagonal)."""
    dtype = backend.np.dtype(dtype) if dtype is not None else backend.default_float_dtype()
    out = _on_device(lambda xp, d: xp.eye(int(n), None if m is None else int(m), int(k), dtype=dtype), device)
    return out.requires_grad_(requires_grad)


def linspace(start, stop, num: int = 50, endpoint: bool = True, dtype=None, device=None,
             requires_grad=False) -> Tensor:
    """`num` evenly spaced values from start to stop (stop included unless endpoint=False)."""
    if int(num) < 0:
        raise ValueError(f"linspace: num must be >= 0, got {num}")
    dtype = _float_dtype(dtype)
    out = _on_device(lambda xp, d: xp.linspace(float(start), float(stop), int(num), endpoint=endpoint,
                                               dtype=dtype), device)
    return out.requires_grad_(requires_grad)


def randint(low: int, high: int | None = None, size=(), dtype="int64", device=None) -> Tensor:
    """Integers uniform in [low, high) (or [0, low) when high is left out), from the seeded generator."""
    if high is None:
        low, high = 0, low
    if int(high) <= int(low):
        raise ValueError(f"randint: need low < high, got low={low}, high={high}")
    device = backend.normalize_device(device)
    gen = backend.generator(device)
    return _on_device(lambda xp, d: gen.integers(int(low), int(high), size=_shape(size), dtype=dtype), device)


def _draw(shape, dtype, device, seed, draw):
    """draw(generator, shape, dtype) on the device's generator, or on a host one made from `seed`."""
    shape, dtype = _shape(shape), _float_dtype(dtype)
    device = backend.normalize_device(device)
    if seed is None:
        return _on_device(lambda xp, d: draw(backend.generator(d), shape, dtype), device)
    host = draw(backend.np.random.default_rng(int(seed)), shape, dtype)
    return Tensor(host, device=device)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None, device=None) -> Tensor:
    """Keras' K.random_normal: samples of N(mean, stddev^2)."""
    if not stddev >= 0:
        raise ValueError(f"random_normal: stddev must be >= 0, got {stddev}")
    return _draw(shape, dtype, device, seed,
                 lambda gen, s, dt: gen.standard_normal(s, dtype=dt) * dt.type(stddev) + dt.type(mean))


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None, device=None) -> Tensor:
    """Keras' K.random_uniform: samples uniform in [minval, maxval)."""
    if not maxval >= minval:
        raise ValueError(f"random_uniform: need minval <= maxval, got {minval} and {maxval}")
    return _draw(shape, dtype, device, seed,
                 lambda gen, s, dt: gen.random(s, dtype=dt) * dt.type(maxval - minval) + dt.type(minval))
