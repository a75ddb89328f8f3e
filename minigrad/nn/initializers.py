"""Keras' initialisers by name, drawn from the device's seeded generator (mg.manual_seed).

    glorot_uniform   U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out))   kernels (default)
    zeros / ones                                                            biases, BN
    glorot_normal, he_normal, he_uniform, lecun_normal, lecun_uniform      variance scaling
    orthogonal       a matrix with orthonormal rows or columns              recurrent kernels
    random_normal (normal), random_uniform (uniform), truncated_normal      Keras' fixed-scale draws

Names are Keras' (snake_case, or the class names "GlorotUniform", "Orthogonal", ...); any
callable(shape, dtype, device, fans) works too. Layers check the names when they are made
(initializers.check), so a typo fails at once, not at the first batch.

fan_in and fan_out are computed as Keras does: for a Dense kernel (in, out) they are in
and out; for a conv kernel they are the channel counts times the kernel's area (its
"receptive field"), so a 3x3 kernel from 8 to 16 channels has fans 72 and 144.

The variance-scaling family (Keras' VarianceScaling) draws with variance scale / n, n being
fan_in, fan_out or their mean: "uniform" in +-sqrt(3 scale / n); "truncated_normal" from a
normal cut at two standard deviations, its stddev divided by 0.87962566103423978 (the stddev
of a unit normal truncated there) so the variance comes out as asked.
"""
from __future__ import annotations

import math

from ..engine import backend

TRUNCATED_STDDEV = 0.87962566103423978      # stddev of N(0, 1) truncated to [-2, 2]


def conv_fans(in_channels: int, out_channels: int, kernel_size) -> tuple:
    """(fan_in, fan_out) of a conv kernel, as Keras computes them."""
    area = kernel_size[0] * kernel_size[1]
    return in_channels * area, out_channels * area


def _fans(shape, fans):
    if fans is not None:
        return fans
    if len(shape) < 1:
        return 1, 1
    return (shape[0], shape[-1]) if len(shape) > 1 else (shape[0], shape[0])


def _uniform01(shape, dtype, device):
    with backend.device_context(device):
        return backend.generator(device).random(shape, dtype=dtype)       # [0, 1)


def _truncated_normal(shape, dtype, device, stddev):
    """N(0, stddev^2) cut to +-2 stddev: values outside are drawn again (Keras' rule)."""
    xp = backend.xp_for(device)
    with backend.device_context(device):
        rng = backend.generator(device)
        z = rng.standard_normal(shape, dtype="float64")
        outside = xp.abs(z) > 2
        while bool(outside.any()):
            z = xp.where(outside, rng.standard_normal(shape, dtype="float64"), z)
            outside = xp.abs(z) > 2
    return (z * stddev).astype(dtype)


def variance_scaling(scale=1.0, mode="fan_in", distribution="truncated_normal"):
    """Keras' VarianceScaling(scale, mode, distribution) as an initialiser function."""
    if mode not in ("fan_in", "fan_out", "fan_avg"):
        raise ValueError(f"variance_scaling: mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
    if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
        raise ValueError(f"variance_scaling: distribution must be 'truncated_normal', 'untruncated_normal' "
                         f"or 'uniform', got {distribution!r}")

    def initialize(shape, dtype, device, fans=None):
        fan_in, fan_out = _fans(shape, fans)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        variance = scale / max(1.0, n)
        if distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return (_uniform01(shape, dtype, device) * 2 - 1) * limit
        if distribution == "untruncated_normal":
            with backend.device_context(device):
                z = backend.generator(device).standard_normal(shape, dtype="float64")
            return (z * math.sqrt(variance)).astype(dtype)
        return _truncated_normal(shape, dtype, device, math.sqrt(variance) / TRUNCATED_STDDEV)

    initialize.__name__ = f"variance_scaling_{mode}_{distribution}"
    return initialize


def glorot_uniform(shape, dtype, device, fans=None):
    """Uniform in [-limit, limit), limit = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _fans(shape, fans)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return (_uniform01(shape, dtype, device) * 2 - 1) * limit


def zeros(shape, dtype, device, fans=None):
    with backend.device_context(device):
        return backend.xp_for(device).zeros(shape, dtype=dtype)


def ones(shape, dtype, device, fans=None):
    with backend.device_context(device):
        return backend.xp_for(device).ones(shape, dtype=dtype)


def random_uniform(shape, dtype, device, fans=None):
    """Keras' RandomUniform(-0.05, 0.05) (also "uniform", Embedding's default)."""
    return _uniform01(shape, dtype, device) * 0.1 - 0.05


def random_normal(shape, dtype, device, fans=None):
    """Keras' RandomNormal(mean=0, stddev=0.05) (also "normal")."""
    with backend.device_context(device):
        z = backend.generator(device).standard_normal(shape, dtype="float64")
    return (z * 0.05).astype(dtype)


def truncated_normal(shape, dtype, device, fans=None):
    """Keras' TruncatedNormal(mean=0, stddev=0.05): N(0, 0.05^2) cut at two stddevs."""
    return _truncated_normal(shape, dtype, device, 0.05)


def orthogonal(shape, dtype, device, fans=None):
    """Keras' Orthogonal (gain 1): the kernel, seen as a (rows, shape[-1]) matrix, has
    orthonormal columns (or rows, when it is wider than tall).

    Q of the QR decomposition of a Gaussian matrix, with each column's sign set by R's diagonal
    so that Q is drawn uniformly (Mezzadri, "How to generate random matrices from the classical
    compact groups", 2007). Computed on the host in float64 once, at build.
    """
    cols = shape[-1] if shape else 1
    rows = math.prod(shape[:-1]) if len(shape) > 1 else 1
    np = backend.np
    host_seed = backend.to_numpy(backend.generator(device).integers(0, 2**31 - 1, size=(1,)))
    gaussian = np.random.default_rng(int(host_seed[0])).standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(gaussian)
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
    if rows < cols:
        q = q.T
    return backend.asarray(q.reshape(shape), dtype=dtype, device=device)


_BY_NAME = {
    "glorot_uniform": glorot_uniform, "zeros": zeros, "ones": ones,
    "glorot_normal": variance_scaling(1.0, "fan_avg", "truncated_normal"),
    "he_normal": variance_scaling(2.0, "fan_in", "truncated_normal"),
    "he_uniform": variance_scaling(2.0, "fan_in", "uniform"),
    "lecun_normal": variance_scaling(1.0, "fan_in", "truncated_normal"),
    "lecun_uniform": variance_scaling(1.0, "fan_in", "uniform"),
    "orthogonal": orthogonal,
    "random_uniform": random_uniform, "uniform": random_uniform,
    "random_normal": random_normal, "normal": random_normal,
    "truncated_normal": truncated_normal,
}
_ALIASES = {name.replace("_", ""): name for name in _BY_NAME}     # "GlorotUniform" -> "glorot_uniform"


def get(initializer):
    """A Keras name ('glorot_uniform', 'he_normal', 'Orthogonal', ...) or a
    callable(shape, dtype, device, fans), as the function that fills a new weight."""
    if callable(initializer):
        return initializer
    key = str(initializer).lower()
    name = key if key in _BY_NAME else _ALIASES.get(key.replace("_", ""))
    if not isinstance(initializer, str) or name is None:
        raise ValueError(f"unknown initializer {initializer!r}; use one of {sorted(_BY_NAME)} "
                         "or a callable(shape, dtype, device, fans)")
    return _BY_NAME[name]


def check(initializer, layer: str, argument: str):
    """The initializer, after checking it can be used (when the layer is made, not at build)."""
    try:
        get(initializer)
    except ValueError as error:
        raise ValueError(f"{layer}: {argument}: {error}") from None
    return initializer
