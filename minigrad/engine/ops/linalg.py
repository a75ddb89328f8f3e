"""Matrix products: matmul (batched over leading axes like NumPy's), the fused Linear node
of a Dense layer, and einsum."""
from __future__ import annotations

from ..function import Function, xp_of
from ..tensor import Tensor, as_operand
from .movement import swap_last_axes

__all__ = ["matmul", "einsum"]


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
    MatMul + Add and the Transpose / Sum / Reshape nodes of their backward; backward_arrays
    is the same math on the arrays.
    """
    def forward(self, x, w, b=None):
        z = xp_of(x).matmul(x, w)
        if b is not None:
            z += b                      # z is new: add the bias in place
        return z

    def backward(self, g):
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        g2 = g.reshape(-1, g.shape[-1])
        g_x = g @ w.T if need[0] else None
        g_w = x.reshape(-1, x.shape[-1]).T @ g2 if need[1] else None
        if len(need) == 2:
            return g_x, g_w
        return g_x, g_w, (g2.sum(axis=0) if need[2] else None)

    def backward_arrays(self, g):
        x, w = self.inputs[0].data, self.inputs[1].data
        need = self.needs_input_grad
        g2 = g.reshape(-1, g.shape[-1])
        g_x = g @ w.T if need[0] else None
        g_w = x.reshape(-1, x.shape[-1]).T @ g2 if need[1] else None
        if len(need) == 2:
            return g_x, g_w
        return g_x, g_w, (g2.sum(axis=0) if need[2] else None)


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


# ----------------------------------------------------------------------------- einsum

class Einsum(Function):
    """z = einsum(spec, x_1, ..., x_n), e.g. "ij,jk->ik" (a matmul).

    z is linear in each operand, so dL/dx_k is the einsum of g with all the OTHER operands,
    written to x_k's letters: for "ij,jk->ik", dL/dx_1 = einsum("ik,jk->ij", g, x_2). A letter
    of x_k that appears nowhere else was summed over x_k alone: its gradient is the same
    for every value of it, so it is left out of that einsum and broadcast back.
    """
    def forward(self, *operands, inputs, output):
        self.letters, self.output_letters = inputs, output
        return xp_of(operands[0]).einsum(",".join(inputs) + "->" + output, *operands)

    def backward(self, g):
        grads = []
        for k, (x, need) in enumerate(zip(self.inputs, self.needs_input_grad)):
            if not need:
                grads.append(None)
                continue
            others = [t for i, t in enumerate(self.inputs) if i != k]
            other_letters = [s for i, s in enumerate(self.letters) if i != k]
            seen = set(self.output_letters).union(*other_letters)
            target = "".join(c for c in self.letters[k] if c in seen)
            grad = Einsum.apply(g, *others, inputs=[self.output_letters] + other_letters, output=target)
            if target != self.letters[k]:          # letters summed over x_k alone: broadcast back
                grad = grad.reshape(tuple(n if c in seen else 1 for c, n in zip(self.letters[k], x.shape)))
                grad = grad.broadcast_to(x.shape)
            grads.append(grad)
        return tuple(grads)


def _parse_einsum(spec: str, operands) -> tuple:
    """("ij,jk->ik", ops) -> (["ij", "jk"], "ik"), with the implicit output of NumPy's rule
    (the letters that appear once, sorted) and clear errors for what is not supported."""
    spec = spec.replace(" ", "")
    if "." in spec:
        raise ValueError(f"einsum: ellipsis ('...') is not supported in {spec!r}; write every axis "
                         "with its own letter")
    inputs, arrow, output = spec.partition("->")
    letters = inputs.split(",")
    if len(letters) != len(operands):
        raise ValueError(f"einsum: {spec!r} names {len(letters)} operands but {len(operands)} were given")
    for s, t in zip(letters, operands):
        if not s.isalpha() and s:
            raise ValueError(f"einsum: subscripts must be letters, got {s!r} in {spec!r}")
        if len(s) != t.ndim:
            raise ValueError(f"einsum: {s!r} names {len(s)} axes but the operand has shape {t.shape}")
        if len(set(s)) != len(s):
            raise ValueError(f"einsum: a letter repeated within one operand ({s!r}, a diagonal) is not "
                             "supported; take mg.diagonal first")
    if not arrow:
        counts = {}
        for c in "".join(letters):
            counts[c] = counts.get(c, 0) + 1
        output = "".join(sorted(c for c, n in counts.items() if n == 1))
    if len(set(output)) != len(output) or any(c not in "".join(letters) for c in output):
        raise ValueError(f"einsum: the output {output!r} of {spec!r} must use distinct letters of the inputs")
    return letters, output


def einsum(spec: str, *operands) -> Tensor:
    """Einstein summation, e.g. einsum("bij,bjk->bik", a, b); gradients flow to every operand."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: needs at least one operand")
    first = next((t for t in operands if isinstance(t, Tensor)), None)
    operands = tuple(as_operand(t, first) for t in operands)
    letters, output = _parse_einsum(spec, operands)
    return Einsum.apply(*operands, inputs=letters, output=output)
