"""Function: one node of the graph, one op. The base class every op derives from.

An op is a class with two methods, forward directly above backward:

    class Mul(Function):
        '''z = x*y.   dz/dx = y,  dz/dy = x'''
        def forward(self, x, y):      # raw backend arrays in, array out
            return x * y
        def backward(self, g):        # g = dL/dz, a Tensor
            x, y = self.inputs        # the input Tensors
            return g * y, g * x       # dL/dx, dL/dy

Backward rules are written with Tensor operations. Normally the walk runs them under
no_grad, so they cost what the array math costs; with create_graph=True they are recorded
like any forward pass, which makes every gradient differentiable again (grad of grad).

A few hot ops also define ``backward_arrays(g)``: the same derivative written on raw
arrays. The walk uses it when the backward is not being recorded (the common case), which
skips creating a node per backward operation; ``backward`` stays the reference, and the one
create_graph=True runs. A test checks that both agree (tests/test_properties.py, gradcheck).

Tensors are the positional arguments of ``apply``; settings (axis, stride, ...) are
keywords, passed on to ``forward``. Broadcasting is undone centrally: backward may return
a gradient of the broadcast (output) shape and the walk sums it down with ``unbroadcast``.
"""
from __future__ import annotations

from . import backend, mode, symbolic
from .tensor import Tensor


class Function:
    inputs = None              # the input Tensors, while the graph is alive
    needs_input_grad = ()      # which inputs want a gradient (ops may skip the others)
    created_at = None          # where the op was created (anomaly mode only)
    backward_reads_inputs = True   # False for ops whose backward never reads its inputs (Add):
                                   # changing those inputs in place then harms no gradient
    input_versions = None      # the inputs' version counts when the node was made (a list)
    output_version = None      # (output array, its version counter, the count then)

    @classmethod
    def apply(cls, *inputs: Tensor, **settings) -> Tensor:
        """Run forward on the inputs' arrays and, if any input needs a gradient, record the node."""
        # This runs for every op, so it is written for speed: one plain loop over the inputs
        # gathers everything (a list comprehension costs a function call in Python 3.11, which
        # is more than the loop body for the one or two inputs an op usually has).
        device = inputs[0].device
        arrays, needs, versions = [], [], []
        for t in inputs:
            if t.device != device:
                raise RuntimeError(
                    f"{cls.__name__}: tensors on different devices ({device} and {t.device}); "
                    f"move them first, e.g. x.to('{device}')")
            if t.symbolic:      # a model being defined (functional API): record, don't compute
                return symbolic.record_op(cls, inputs, settings)
            arrays.append(t.data)
            needs.append(t.requires_grad)
            versions.append(t._version[0])
        node = cls()
        try:
            out = node.forward(*arrays, **settings)
        except ValueError as exc:     # NumPy's shape errors, with the op's name added
            shapes = ", ".join(str(t.shape) for t in inputs)
            raise ValueError(f"{cls.__name__}: {exc} (input shapes {shapes})") from None
        # A view of an input (reshape, transpose, x[1:]) shares that input's version counter,
        # so writing through either one is seen by every node that saved the other.
        version = None if getattr(out, "base", None) is None else _viewed_version(out, inputs)
        state = mode._state
        if True in needs and state.grad_enabled:
            result = Tensor._make(out, True, node, version)
            # Whether forward kept its output for backward (Exp's z) is asked only in backward,
            # and only if the output was changed in place: asking here, through node.__dict__,
            # would cost every op more than the rest of this block. (Keeping `out` here holds no
            # memory: the node lives only as long as its output tensor does.)
            node.output_version = (out, result._version, result._version[0])
            if cls.backward_reads_inputs:       # the versions check_versions compares in backward
                node.input_versions = versions
            node.inputs = inputs
            node.needs_input_grad = needs       # (lists, read only: a tuple() copy would cost more)
        else:
            result = Tensor._make(out, version=version)
        if mode.anomaly_anywhere and state.anomaly and not state.in_backward:
            node.created_at = mode.creation_site()
            mode.check_forward(node, inputs, out)
        return result

    def forward(self, *arrays, **settings):
        raise NotImplementedError

    def backward(self, g: Tensor):
        raise NotImplementedError

    # ---------------------------------------------------------------- helpers for backward
    def output(self, array) -> Tensor:
        """A value saved in forward (usually the output z) as a Tensor for backward, one that
        is differentiable under create_graph=True.

        When the backward is being recorded (create_graph=True) the tensor is marked as
        made by this node, so differentiating the gradient flows back through it: e.g. Exp's
        backward g * z then also carries d(z)/dx = z into a second derivative. A backward that
        used the raw saved array instead (g * constant(self.z)) gives the right first
        derivative, so it passes gradcheck, but treats z as a constant in the second one, so
        gradgradcheck fails: always wrap saved forward values with output().
        """
        recording = mode.is_grad_enabled()
        return Tensor._make(array, recording, self if recording else None)

    def release(self) -> None:
        """Drop the inputs and everything saved: the graph behind this node can be freed."""
        self.__dict__.clear()      # inputs, needs_input_grad, ... fall back to the class defaults


def _viewed_version(out, inputs):
    """The version counter of the input whose memory `out` views (None if it views none)."""
    key = backend.buffer_key(out)
    for t in inputs:
        if backend.buffer_key(t.data) == key:
            return t._version
    return None


def check_versions(node) -> None:
    """Raise if a tensor this node's backward reads was changed in place since the node was made.

    Backward would silently use the new values, so the gradient would be wrong. The output
    counts only if forward saved it (an attribute of the node that is the output array).
    """
    seen = node.input_versions
    if seen is not None and seen != [t._version[0] for t in node.inputs]:
        _stale_input(node)
    out, counter, count = node.output_version
    if counter[0] != count and any(value is out for key, value in vars(node).items()
                                   if key != "output_version"):
        _stale_output(node)


_FIX = ("Clone it before changing it (t.clone(), or change a copy), or make the in-place change "
        "(t[...] = v, an optimizer step) after backward().")


def _stale_input(node):
    name = type(node).__name__
    for i, (t, seen) in enumerate(zip(node.inputs, node.input_versions)):
        if t._version[0] != seen:
            label = f", name '{t.name}'" if t.name else ""
            raise RuntimeError(
                f"{name}.backward: its input {i} (a tensor of shape {t.shape}{label}) was changed "
                f"in place after {name} used it (version {t._version[0]}, {name} saw {seen}), so the "
                f"gradient would be computed from the new values. {_FIX}{_where(node)}")


def _stale_output(node):
    name = type(node).__name__
    out, counter, seen = node.output_version
    raise RuntimeError(
        f"{name}.backward: its output (a tensor of shape {out.shape}), which its backward reads, "
        f"was changed in place after {name} made it (version {counter[0]}, {name} saw {seen}), "
        f"so the gradient would be computed from the new values. {_FIX}{_where(node)}")


def _where(node) -> str:
    return f" The op was created at\n  {node.created_at}" if node.created_at else \
        " (mg.detect_anomaly() shows where the op was created)"


def constant(array) -> Tensor:
    """A raw array as a Tensor that carries no gradient (masks, counts)."""
    return Tensor._make(array)


def unbroadcast(grad: Tensor, shape: tuple, node=None) -> Tensor:
    """Sum a gradient down to `shape`: the adjoint of broadcasting `shape` up to grad.shape.

    Broadcasting copies an input along new leading axes and along axes of size 1, so its
    gradient is the sum over those axes.
    """
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    if extra < 0 or any(n != 1 and grad.shape[extra + i] != n for i, n in enumerate(shape)):
        where = type(node).__name__ if node is not None else "backward"
        raise RuntimeError(f"{where} returned a gradient of shape {grad.shape} for an input of "
                           f"shape {shape} (a bug in that op's backward)")
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape) if grad.shape != tuple(shape) else grad


# Re-exported for ops, as the same function (not a wrapper: ops call it on every forward).
xp_of = backend.xp_of
