"""The engine's modes, per thread: gradient mode (no_grad) and anomaly mode.

    with mg.no_grad():          # ops record no graph: inference, optimizer updates
        ...
    with mg.detect_anomaly():   # every op checks its results; a NaN names the op and your line
        ...

Function.apply reads these switches for every op, and the backward walk (autograd.py) sets
in_backward while it runs; both import this module, which imports nothing of the engine
but the backend.
"""
from __future__ import annotations

import contextlib
import os
import threading
import traceback

from . import backend


class _State(threading.local):
    """Per-thread switches; class attributes are the defaults every new thread starts with."""
    grad_enabled = True
    anomaly = False
    in_backward = False      # while the walk runs backwards (anomaly mode checks results there)


_state = _State()


def is_grad_enabled() -> bool:
    return _state.grad_enabled


def set_grad_enabled(enabled: bool) -> None:
    _state.grad_enabled = bool(enabled)


@contextlib.contextmanager
def no_grad():
    """Inside this block ops record no graph (inference, optimizer updates)."""
    previous = is_grad_enabled()
    _state.grad_enabled = False
    try:
        yield
    finally:
        _state.grad_enabled = previous


@contextlib.contextmanager
def enable_grad():
    previous = is_grad_enabled()
    _state.grad_enabled = True
    try:
        yield
    finally:
        _state.grad_enabled = previous


# ----------------------------------------------------------------------------- anomaly mode

def is_anomaly_enabled() -> bool:
    return _state.anomaly


@contextlib.contextmanager
def detect_anomaly():
    """Raise FloatingPointError at the first op whose forward or backward makes a NaN or inf.

    The error names the op and shows where in your code it was created. Every op then checks
    its results, which synchronises with the GPU: use it to debug, not to train.
    """
    global anomaly_anywhere
    previous = is_anomaly_enabled()
    with _anomaly_lock:
        anomaly_anywhere += 1
    _state.anomaly = True
    try:
        yield
    finally:
        _state.anomaly = previous
        with _anomaly_lock:
            anomaly_anywhere -= 1


# How many detect_anomaly() blocks are open, in all threads together. Every op asks whether
# anomaly mode is on; reading this plain global first lets the usual answer (no) skip the
# per-thread lookup, which costs several times more. The per-thread switch stays the truth.
anomaly_anywhere = 0
_anomaly_lock = threading.Lock()


# minigrad's own files are those under the package's folder; a user's folder that happens to
# be called "minigrad" (a clone of this repository, a project of that name) is not.
PACKAGE_DIR = os.path.normcase(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep  # minigrad/


def is_minigrad_file(filename: str) -> bool:
    return os.path.normcase(os.path.abspath(filename)).startswith(PACKAGE_DIR)


def creation_site() -> str:
    """The user's line that created a node (the innermost frame outside the minigrad package)."""
    frames = [f for f in traceback.extract_stack()[:-2] if not is_minigrad_file(f.filename)]
    if not frames:
        return "<unknown>"
    f = frames[-1]
    return f'File "{f.filename}", line {f.lineno}, in {f.name}\n    {f.line}'


def _all_finite(array) -> bool:
    xp = backend.xp_of(array)
    if not backend.is_floating(array.dtype):
        return True
    return bool(xp.isfinite(array).all())


def check_forward(node, inputs, out_data) -> None:
    """Anomaly mode: the output of `node` must be finite."""
    if _all_finite(out_data):
        return
    already = [i for i, t in enumerate(inputs) if not _all_finite(t.data)]
    cause = (f"its input(s) {already} already held NaN/inf" if already
             else "from finite inputs")
    raise FloatingPointError(
        f"anomaly: {type(node).__name__} produced NaN/inf in forward ({cause}); input shapes "
        f"{[t.shape for t in inputs]}. The op was created at\n  {node.created_at}")


def check_backward(node, target, grad) -> None:
    """Anomaly mode: the gradient that `node` hands to its input `target` must be finite."""
    if grad is not None and not _all_finite(grad.data):
        # (found here, not counted in the walk's loop, which runs for every node; an input
        # used twice, x * x, is named by its first place: it is the same tensor)
        index = next(i for i, t in enumerate(node.inputs) if t is target)
        raise FloatingPointError(
            f"anomaly: {type(node).__name__}.backward produced NaN/inf in the gradient of its "
            f"input {index} (shape {grad.shape}). The op was created at\n  {node.created_at}")
