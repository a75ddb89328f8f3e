"""Devices and array modules: the one place that knows about NumPy and CuPy.

Every tensor holds a backend array. Ops never import numpy or cupy; they ask the data
for its array module with ``xp = xp_of(array)`` and write ``xp.exp(x)``, so the same op
runs on the CPU (NumPy), on a CUDA GPU (CuPy), and on the "strict" stand-in that tests
use to catch NumPy-only code without a GPU (see minigrad/strict.py).

Devices are named by strings:
    "cpu"              NumPy
    "cuda", "cuda:N"   CuPy on GPU N (needs the cuda12 or cuda13 extra and a GPU)
    "strict"           NumPy behind a wrapper that refuses implicit host conversion,
                       the way CuPy does; for tests
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import platform

import numpy as np

from . import strict   # the strict stand-in device; it imports nothing from minigrad


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to reuse freed memory instead of returning it to the system.

    Opt-in, for a training script (the examples and benchmarks call it): it changes how the
    whole process allocates, so importing minigrad never does it. Returns True if applied.

    By default glibc hands every block larger than 32 MiB (and, until it adapts, smaller
    ones) to mmap and gives it back with munmap when freed; the next array of that size then
    costs a page fault per 4 KiB (or per 2 MiB huge page) while the kernel zeroes it again.
    An engine that makes new arrays every step (the im2col matrices of a convolution are
    hundreds of MB) pays that every step. With mmap off and a high trim threshold the heap
    keeps freed blocks for the next step: the peak grows a little (fragmentation) and freed
    memory is not returned to the system until the process ends (DCGAN, batch 64: 541 MB
    held instead of 136 MB, for a step 1.4x faster). MINIGRAD_MALLOC=default makes this a
    no-op; so does any MALLOC_* variable you set yourself, or a libc other than glibc.
    """
    if os.environ.get("MINIGRAD_MALLOC", "") == "default" or \
            any(k.startswith("MALLOC_") for k in os.environ):
        return False
    try:
        if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
            return False
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError, ImportError):
        return False
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 1 << 30))


_cupy = None          # the cupy module once imported
_cupy_error = None    # why importing cupy failed, to explain it later


def _import_cupy():
    """Import CuPy on first use, remembering the failure so errors can explain it."""
    global _cupy, _cupy_error
    if _cupy is None and _cupy_error is None:
        try:
            import cupy
            cupy.cuda.runtime.getDeviceCount()   # raises when no driver / no GPU
            _cupy = cupy
        except Exception as exc:  # ImportError, CUDARuntimeError, ...
            _cupy_error = exc
    return _cupy


def cuda_is_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    cp = _import_cupy()
    return cp is not None and cp.cuda.runtime.getDeviceCount() > 0


def _require_cupy(device: str):
    cp = _import_cupy()
    if cp is None:
        raise RuntimeError(
            f"device {device!r} needs CuPy and a CUDA GPU, but CuPy is not usable here "
            f"({type(_cupy_error).__name__}: {_cupy_error}). Install the extra that matches "
            "your CUDA toolkit: pip install 'minigrad[cuda12]' or 'minigrad[cuda13]', "
            "or use device='cpu'.")
    return cp


# ----------------------------------------------------------------------------- devices

def normalize_device(device) -> str:
    """'cpu' | 'cuda' | 'cuda:N' | 'strict' -> canonical name ('cuda' becomes 'cuda:0')."""
    if device is None:
        return get_default_device()
    name = str(device).strip().lower()
    if name in ("cpu", "strict"):
        return name
    if name == "cuda":
        return "cuda:0"
    if name.startswith("cuda:") and name[5:].isdigit():
        return name
    raise ValueError(f"unknown device {device!r}: use 'cpu', 'cuda', 'cuda:N' or 'strict'")


_default_device = None


def get_default_device() -> str:
    """The device new tensors go to: set_default_device(), else $MINIGRAD_DEVICE, else 'cpu'."""
    global _default_device
    if _default_device is None:
        _default_device = normalize_device(os.environ.get("MINIGRAD_DEVICE", "cpu") or "cpu")
    return _default_device


def set_default_device(device) -> None:
    """Make new tensors (and models' parameters) live on `device` by default."""
    global _default_device
    name = normalize_device(device)
    check_device_usable(name)
    _default_device = name


def check_device_usable(device: str) -> None:
    """Raise a clear error if `device` cannot be used on this machine."""
    if device.startswith("cuda"):
        cp = _require_cupy(device)
        index = int(device.split(":")[1])
        count = cp.cuda.runtime.getDeviceCount()
        if index >= count:
            raise RuntimeError(f"device {device!r} does not exist: this machine has {count} GPU(s)")


def xp_for(device: str):
    """The array module for a device name."""
    if device == "cpu":
        return np
    if device == "strict":
        return strict.xp
    return _require_cupy(device)


def xp_of(array):
    """The array module (numpy, cupy, or the strict stand-in) that owns `array`."""
    if isinstance(array, np.ndarray):
        return np
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy
    if isinstance(array, strict.StrictArray):
        return strict.xp
    return np


def device_of(array) -> str:
    """The device name of a backend array."""
    if isinstance(array, np.ndarray):
        return "cpu"
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return f"cuda:{array.device.id}"
    if isinstance(array, strict.StrictArray):
        return "strict"
    raise TypeError(f"not a backend array: {type(array).__name__}")


def device_context(device: str):
    """Context that makes `device` current (matters only for multi-GPU CuPy)."""
    if device.startswith("cuda"):
        return _require_cupy(device).cuda.Device(int(device.split(":")[1]))
    return contextlib.nullcontext()


# ----------------------------------------------------------------------------- moving data

def to_numpy(array) -> np.ndarray:
    """A host NumPy copy of any backend array (never a view of device memory)."""
    if isinstance(array, np.ndarray):
        return array.copy()
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return array.get()
    if isinstance(array, strict.StrictArray):
        return strict.unwrap(array).copy()
    return np.array(array)


def asarray(data, dtype=None, device: str = "cpu"):
    """Put host data (NumPy arrays, lists, scalars) or another backend's array on `device`."""
    if is_backend_array(data) and not isinstance(data, np.ndarray):
        if device_of(data) == device:  # already there: at most a cast
            return data if dtype is None or data.dtype == dtype else data.astype(dtype)
        data = to_numpy(data)          # another device: go through the host
    if device == "cpu":
        return np.asarray(data, dtype=dtype)
    if device == "strict":
        return strict.wrap(np.array(data, dtype=dtype))
    cp = _require_cupy(device)
    with device_context(device):
        return cp.asarray(data, dtype=dtype)


def is_backend_array(obj) -> bool:
    if isinstance(obj, np.ndarray):
        return True
    if _cupy is not None and isinstance(obj, _cupy.ndarray):
        return True
    return isinstance(obj, strict.StrictArray)


def from_dlpack(obj):
    """The backend array that views the memory of a DLPack producer (no copy).

    CPU memory becomes a NumPy array, CUDA memory a CuPy array on the same GPU. DLPack's
    device types: 1 = CPU, 2 = CUDA (3 = pinned host memory, viewed as CPU memory).
    """
    if not hasattr(obj, "__dlpack_device__"):
        raise TypeError(f"from_dlpack: a {type(obj).__name__} is not a DLPack producer (it has no "
                        "__dlpack_device__); pass a NumPy array, torch tensor, CuPy array, ...")
    kind = int(obj.__dlpack_device__()[0])
    if kind in (1, 3):
        return np.from_dlpack(obj)
    if kind == 2:
        return _require_cupy("cuda").from_dlpack(obj)
    raise ValueError(f"from_dlpack: data on DLPack device type {kind} is not supported "
                     "(minigrad takes CPU and CUDA memory)")


def buffer_key(array):
    """An identity for the memory an array views, to tell whether two arrays may alias."""
    if isinstance(array, strict.StrictArray):
        array = strict.unwrap(array)
    while getattr(array, "base", None) is not None:
        array = array.base
    return id(array)


# ----------------------------------------------------------------------------- dtypes

def result_dtype_with_scalar(dtype, value):
    """dtype of `array(dtype) op value` when value is a Python or NumPy scalar.

    Scalars are "weak": they never widen a float32 tensor (NumPy 2 already does this for
    Python scalars; NumPy scalars like np.float64(2) would upcast, so we treat them as
    Python numbers). An int tensor times a float scalar becomes float64, as in NumPy.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return np.dtype(dtype)
    if isinstance(value, float) and not np.issubdtype(dtype, np.inexact):
        return np.result_type(dtype, value)      # int tensor, float scalar: as NumPy (float64)
    if isinstance(value, complex):
        raise TypeError("minigrad tensors do not support complex numbers")
    return np.dtype(dtype)


def default_float_dtype():
    return np.dtype(np.float32)


def is_floating(dtype) -> bool:
    return np.issubdtype(dtype, np.floating)


def finfo(dtype):
    return np.finfo(dtype)


# ----------------------------------------------------------------------------- scatter-add

def scatter_add(target, index, values):
    """target[index] += values, adding repeated indices once each (NumPy's add.at)."""
    if isinstance(target, np.ndarray):
        np.add.at(target, index, values)
    elif _cupy is not None and isinstance(target, _cupy.ndarray):
        import cupyx
        cupyx.scatter_add(target, index, values)
    else:
        strict.scatter_add(target, index, values)
    return target


# ----------------------------------------------------------------------------- randomness

_seed = None
_generators: dict = {}


def manual_seed(seed: int) -> None:
    """Seed the random generator of every device (CPU, each GPU, strict)."""
    global _seed
    _seed = int(seed)
    _generators.clear()


def generator(device: str):
    """The one seeded random generator of `device` (created on first use)."""
    gen = _generators.get(device)
    if gen is None:
        # Each device gets its own stream, derived from the seed and the device name,
        # so a CPU run and a GPU run with the same seed are each reproducible.
        seq = np.random.SeedSequence(_seed, spawn_key=(sum(map(ord, device)),)) if _seed is not None \
            else np.random.SeedSequence()
        if device == "cpu":
            gen = np.random.default_rng(seq)
        elif device == "strict":
            gen = strict.Generator(np.random.default_rng(seq))
        else:
            cp = _require_cupy(device)
            with device_context(device):
                gen = cp.random.default_rng(int(seq.generate_state(1)[0]))
        _generators[device] = gen
    return gen
