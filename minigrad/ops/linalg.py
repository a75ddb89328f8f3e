"""Matrix product, batched over leading axes like NumPy's matmul."""
from __future__ import annotations

from .. import autograd
from ..function import Function, constant, xp_of
from ..tensor import Tensor, as_operand
from .movement import swap_last_axes


class MatMul(Function):
    """z = x @ y for x (..., n, k), y (..., k, m).   dL/dx = g @ y^T,   dL/dy = x^T @ g

    Leading (batch) axes broadcast; the walk sums the gradients back over them.
    """
    def forward(self, x, y):
        return xp_of(x).matmul(x, y)

    def backward(self, g):
        x, y = self.inputs
        need_x, need_y = self.needs_input_grad
        g_x = g @ swap_last_axes(y) if need_x else None
        g_y = swap_last_axes(x) @ g if need_y else None
        return g_x, g_y

    def backward_arrays(self, g):
        x, y = self.inputs[0].data, self.inputs[1].data
        need_x, need_y = self.needs_input_grad
        xp = xp_of(g)
        return (xp.matmul(g, xp.swapaxes(y, -1, -2)) if need_x else None,
                xp.matmul(xp.swapaxes(x, -1, -2), g) if need_y else None)


class Linear(Function):
    """z = x @ w + b for x (..., n), w (n, m), b (m,) or absent: a Dense layer in one node.

        dL/dx = g @ w^T,   dL/dw = x^T @ g,   dL/db = g summed over every axis but the last
    (leading axes of x flattened into rows for dL/dw and dL/db). One node instead of
    MatMul + Add and the Transpose / Sum / Reshape nodes of their backward. As the loss
    nodes, backward works on the arrays unless it is being recorded (create_graph=True).
    """
    def forward(self, x, w, b=None):
        z = xp_of(x).matmul(x, w)
        if b is not None:
            z += b                      # z is new: add the bias in place
        return z

    def backward(self, g):
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        has_b = len(need) > 2
        if autograd.is_grad_enabled():                 # create_graph: differentiable form
            g2 = g.reshape(-1, g.shape[-1])
            g_x = g @ w.T if need[0] else None
            g_w = x.reshape(-1, x.shape[-1]).T @ g2 if need[1] else None
            g_b = g2.sum(axis=0) if has_b and need[2] else None
            return (g_x, g_w, g_b) if has_b else (g_x, g_w)
        gd, xd, wd = g.data, x.data, w.data
        g2 = gd.reshape(-1, gd.shape[-1])
        g_x = constant(gd @ wd.T) if need[0] else None
        g_w = constant(xd.reshape(-1, xd.shape[-1]).T @ g2) if need[1] else None
        g_b = constant(g2.sum(axis=0)) if has_b and need[2] else None
        return (g_x, g_w, g_b) if has_b else (g_x, g_w)


def linear(x, w, b=None) -> Tensor:
    """x @ w + b as one node (w 2-D, b 1-D or None); other shapes fall back to matmul + add."""
    if x.ndim >= 2 and w.ndim == 2 and x.shape[-1] == w.shape[0] and (b is None or b.shape == (w.shape[1],)):
        return Linear.apply(x, w) if b is None else Linear.apply(x, w, b)
    out = matmul(x, w)
    return out if b is None else out + b


def matmul(a, b) -> Tensor:
    """a @ b. A 1-D operand is a row (left) or column (right) vector, dropped from the result."""
    a, b = as_operand(a, b), as_operand(b, a)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: needs tensors with at least one axis, got shapes {a.shape} and "
                         f"{b.shape}; use * for scalar products")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align: the last axis of the "
                         f"first ({k_a}) must equal the {'only' if b.ndim == 1 else 'second-to-last'} "
                         f"axis of the second ({k_b})")
    a_vector, b_vector = a.ndim == 1, b.ndim == 1
    if a_vector:
        a = a.reshape(1, k_a)
    if b_vector:
        b = b.reshape(k_b, 1)
    out = MatMul.apply(a, b)
    if a_vector and b_vector:
        return out.reshape(())
    if a_vector:
        return out.reshape(out.shape[:-2] + out.shape[-1:])
    if b_vector:
        return out.reshape(out.shape[:-1])
    return out
