"""Keras' default initialisers, drawn from the device's seeded generator (mg.manual_seed).

    glorot_uniform   U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out))   kernels
    zeros / ones                                                            biases, BN

fan_in and fan_out are computed as Keras does: for a Dense kernel (in, out) they are in
and out; for a conv kernel they are the channel counts times the kernel's area (its
"receptive field"), so a 3x3 kernel from 8 to 16 channels has fans 72 and 144.
"""
from __future__ import annotations

import math

from ..engine import backend


def conv_fans(in_channels: int, out_channels: int, kernel_size) -> tuple:
    """(fan_in, fan_out) of a conv kernel, as Keras computes them."""
    area = kernel_size[0] * kernel_size[1]
    return in_channels * area, out_channels * area


def glorot_uniform(shape, dtype, device, fans=None):
    """Uniform in [-limit, limit), limit = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = fans if fans is not None else (shape[0], shape[-1])
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    with backend.device_context(device):
        u = backend.generator(device).random(shape, dtype=dtype)      # [0, 1)
    return (u * 2 - 1) * limit


def zeros(shape, dtype, device, fans=None):
    with backend.device_context(device):
        return backend.xp_for(device).zeros(shape, dtype=dtype)


def ones(shape, dtype, device, fans=None):
    with backend.device_context(device):
        return backend.xp_for(device).ones(shape, dtype=dtype)


_BY_NAME = {"glorot_uniform": glorot_uniform, "zeros": zeros, "ones": ones}


def get(initializer):
    """A name ('glorot_uniform', 'zeros', 'ones') or a callable(shape, dtype, device, fans)."""
    if callable(initializer):
        return initializer
    try:
        return _BY_NAME[initializer]
    except KeyError:
        raise ValueError(f"unknown initializer {initializer!r}; use one of {sorted(_BY_NAME)} "
                         "or a callable(shape, dtype, device, fans)") from None
