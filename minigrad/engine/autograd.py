"""The backward walk: backward(), mg.grad (gradient and anomaly modes: mode.py).

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

from . import backend
from .function import check_versions, unbroadcast
# The modes live in mode.py (Function.apply reads them for every op); the public names stay here.
from .mode import (_state, check_backward, detect_anomaly, enable_grad, is_anomaly_enabled,  # noqa: F401
                   is_grad_enabled, is_minigrad_file, no_grad, set_grad_enabled)
from .tensor import Tensor




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
