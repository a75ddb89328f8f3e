"""Matrix product, batched over leading axes like NumPy's matmul."""
from __future__ import annotations

from ..function import Function, xp_of
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
