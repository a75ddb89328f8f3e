"""The backward walk, gradient mode (no_grad) and anomaly mode.

backward(L) visits the graph's nodes (Functions) once each, in reverse topological order,
so a node runs only after every gradient flowing into its output has been added up:

    pending[L's node] = dL/dL = 1
    for node in reverse topological order:
        g = pending.pop(node)                      # dL/d(node's output), complete now
        for input, g_in in zip(node.inputs, node.backward(g)):
            g_in = unbroadcast(g_in, input.shape)  # the one place broadcasting is undone
            if input is a leaf: input.grad += g_in
            else:              pending[input's node] += g_in

The order comes from an explicit stack, not recursion, so a 10,000-op chain works at
Python's default recursion limit. After the walk each node lets go of its inputs and saved
arrays (unless retain_graph=True), which frees the intermediate tensors.
"""
from __future__ import annotations

import contextlib
import os
import threading
import traceback

from . import backend
# A cycle: tensor.py and function.py import this module too. minigrad/__init__ imports this
# one first; tensor.py imports it back only at its end, after Tensor is defined, and loads
# function.py through the ops, so both names exist by the time these lines finish.
from .tensor import Tensor
from .function import check_versions, unbroadcast  # noqa: I001 (after tensor: see above)


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


# ----------------------------------------------------------------------------- the walk

def _topological_order(roots):
    """Nodes reachable from `roots`, each after all nodes that consume its output."""
    order, visited = [], set()
    stack = [(node, False) for node in roots if node is not None]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        if node.inputs is None:
            raise RuntimeError(
                f"backward through the graph a second time: {type(node).__name__}'s saved values "
                "were freed by the first backward. Pass retain_graph=True to the first call.")
        for t in node.inputs:
            if t._ctx is not None and t._ctx not in visited:
                stack.append((t._ctx, False))
    order.reverse()                      # outputs first
    return order


def _seed_grad(tensor, grad):
    if grad is None:
        if tensor.size != 1:
            raise RuntimeError(
                f"backward() on a tensor of shape {tensor.shape} needs grad=: the gradient is only "
                "implied (1.0) for a single-element output. Reduce it first (e.g. loss.mean()) "
                "or pass grad= with the output's shape.")
        xp = backend.xp_of(tensor.data)
        return Tensor._make(xp.ones(tensor.data.shape, dtype=tensor.dtype))
    grad = grad if isinstance(grad, Tensor) else Tensor(grad, dtype=tensor.dtype, device=tensor.device)
    if grad.shape != tensor.shape:
        raise ValueError(f"backward(): grad has shape {grad.shape} but the output has shape {tensor.shape}")
    if grad.device != tensor.device:
        raise ValueError(f"backward(): grad is on {grad.device} but the output is on {tensor.device}")
    return grad


def _run(outputs, grads, retain_graph, create_graph, capture=None):
    """The walk. Leaves get .grad unless `capture` (a dict tensor->None) asks for results.

    What flows between the nodes: with create_graph=True, Tensors, so that the backward itself
    is recorded. Otherwise raw backend arrays: nothing is recorded then, and not wrapping every
    gradient in a Tensor makes the walk about a third cheaper on small ops. A gradient becomes a
    Tensor again where it leaves the walk (a leaf's .grad, mg.grad's results).
    """
    pending = {}                # node -> dL/d(node's output)
    handed_out = set()          # buffers already given as a gradient: copy before reusing
    for out, g in zip(outputs, grads):
        handed_out.add(backend.buffer_key(g.data))
        if out._ctx is None:    # the output is itself a leaf
            _deliver(out, g, capture, handed_out)
            continue
        g = g if create_graph else g.data
        pending[out._ctx] = pending[out._ctx] + g if out._ctx in pending else g
    captured_nodes = {t._ctx: t for t in capture if t._ctx is not None} if capture else {}
    anomaly = is_anomaly_enabled()
    wrap = _as_is if create_graph else Tensor._make

    with (enable_grad() if create_graph else no_grad()):
        _state.in_backward = True
        try:
            for node in _topological_order([o._ctx for o in outputs]):
                g = pending.pop(node, None)
                if g is None:
                    continue               # nothing flowed here (e.g. only into unused branches)
                if captured_nodes and node in captured_nodes:
                    _deliver(captured_nodes[node], wrap(g), capture, handed_out)
                check_versions(node)       # raises if what backward reads was changed in place
                grads = node.backward(g) if create_graph else _array_grads(node, g)
                if type(grads) is not tuple:
                    grads = (grads,)
                for t, g_in in zip(node.inputs, grads):
                    if g_in is None or not t.requires_grad:
                        continue
                    if g_in.shape != t.data.shape:
                        g_in = _unbroadcast(g_in, t.data.shape, node, create_graph)
                    # mixed precision: grads keep the input's dtype (`is not` first: the usual
                    # case, the same dtype object, is then told without comparing dtypes)
                    if g_in.dtype is not t.data.dtype and g_in.dtype != t.data.dtype:
                        g_in = g_in.astype(t.data.dtype)
                    if anomaly:
                        check_backward(node, t, wrap(g_in))
                    ctx = t._ctx
                    if ctx is None:
                        _deliver(t, wrap(g_in), capture, handed_out)
                    elif ctx in pending:
                        pending[ctx] = pending[ctx] + g_in
                    else:
                        pending[ctx] = g_in
                if not retain_graph:
                    node.release()
        finally:
            _state.in_backward = False


def _as_is(g):
    return g


def _array_grads(node, g):
    """A node's backward on arrays: its array form if it has one (no Tensor made at all),
    else its Tensor backward, run unrecorded, with the results unwrapped."""
    array_form = getattr(node, "backward_arrays", None)
    if array_form is not None:
        return array_form(g)
    grads = node.backward(Tensor._make(g))
    if type(grads) is not tuple:
        return None if grads is None else grads.data
    return tuple([None if t is None else t.data for t in grads])


def _unbroadcast(g, shape, node, create_graph):
    """function.unbroadcast (the one place broadcasting is undone) for either kind of gradient."""
    if create_graph:
        return unbroadcast(g, shape, node)
    return unbroadcast(Tensor._make(g), shape, node).data


def _deliver(leaf, g, capture, handed_out):
    """Add `g` into a leaf's gradient (or into `capture` for mg.grad)."""
    key = backend.buffer_key(g.data)
    if capture is not None:
        if leaf in capture:
            capture[leaf] = g if capture[leaf] is None else capture[leaf] + g
        return
    if not leaf.requires_grad:
        return
    if leaf.grad is None:
        # Own every stored gradient: e.g. Add passes the same g to both inputs, and Sum's
        # backward is a broadcast view; a .grad must be a fresh, writable, contiguous array.
        if key in handed_out or not g.data.flags.c_contiguous:
            g = Tensor._make(g.data.copy()) if g._ctx is None else g * 1   # g * 1 stays in the graph
        leaf.grad = g
    else:
        leaf.grad = leaf.grad + g       # accumulate; never in place, so no alias is written
    handed_out.add(backend.buffer_key(leaf.grad.data))


def backward(tensor, grad=None, retain_graph=False, create_graph=False) -> None:
    """Accumulate d(tensor)/d(leaf) into .grad of every leaf that requires grad.

    grad          dL/d(tensor); may be left out for a single-element tensor (then 1)
    retain_graph  keep the graph so backward can run through it again
    create_graph  record the backward pass itself, so the gradients can be differentiated
                  (gradient penalties, Hessian-vector products); implies retain_graph
    """
    if not tensor.requires_grad:
        raise RuntimeError("backward() on a tensor that does not require grad: no leaf it depends "
                           "on has requires_grad=True (or it was computed under no_grad)")
    _run([tensor], [_seed_grad(tensor, grad)], retain_graph or create_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None,
         allow_unused=False):
    """d(outputs)/d(inputs) as a tuple of tensors, without touching any .grad.

    With create_graph=True the results are themselves differentiable (grad of grad).
    An input the outputs do not depend on is an error unless allow_unused=True (then None).
    """
    single_input = isinstance(inputs, Tensor)
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if single_input else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs)
    for t in outputs:
        if not t.requires_grad:
            raise RuntimeError("mg.grad(): an output does not require grad")
    seeds = [_seed_grad(o, g) for o, g in zip(outputs, grad_outputs)]
    capture = {t: None for t in inputs}
    retain = create_graph if retain_graph is None else retain_graph
    _run(outputs, seeds, retain, create_graph, capture=capture)
    results = []
    for i, t in enumerate(inputs):
        g = capture[t]
        if g is None and not allow_unused:
            raise RuntimeError(f"mg.grad(): input {i} (shape {t.shape}) is not used to compute the "
                               "outputs; pass allow_unused=True to get None for it")
        results.append(g)
    return results[0] if single_input else tuple(results)
