"""Embedding lookup: rows of a table picked by integer ids (a gather), and its adjoint.

    out[b, t, :] = table[ids[b, t], :]

The gradient of a gather is a scatter-add: every position that read row v sends its
gradient back to row v, and rows read several times (an id repeated in the batch) add up
the gradients of all their readers. The scatter-add's own gradient is the gather again,
with the same ids, so lookups have gradients of any order.
"""
from __future__ import annotations

from .. import backend
from ..function import Function, xp_of
from ..tensor import Tensor

__all__ = ["embedding"]


class Gather(Function):
    """z = table[ids]: table (V, D), ids integers of any shape S -> z of shape S + (D,).

        dL/dtable[v] = sum of g[p] over every position p with ids[p] == v
    (zero for rows nobody read). ids are a setting, not a tensor: they have no gradient.
    """
    backward_reads_inputs = False

    def forward(self, table, ids):
        self.ids, self.rows = ids, table.shape[0]
        return table[ids]

    def backward(self, g):
        return ScatterRows.apply(g, ids=self.ids, rows=self.rows)


class ScatterRows(Function):
    """z = zeros(rows, D) with z[ids[p]] += g[p] for every position p (repeats add).

        dL/dg[p] = (dL/dz)[ids[p]]      -- a gather: Gather's backward's backward
    """
    backward_reads_inputs = False

    def forward(self, g, ids, rows):
        self.ids = ids
        xp = xp_of(g)
        out = xp.zeros((rows,) + g.shape[ids.ndim:], dtype=g.dtype)
        backend.scatter_add(out, ids, g)
        return out

    def backward(self, gg):
        return Gather.apply(gg, ids=self.ids)


def embedding_lookup(table: Tensor, ids, op: str = "embedding") -> Tensor:
    """table[ids] with ids checked: integers, on the table's device, each in [0, V).

    ids may be a Tensor or anything array-like (lists, NumPy arrays); float ids are refused
    rather than truncated, since 2.7 -> 2 would be a silent wrong lookup.
    """
    if isinstance(ids, Tensor):
        if ids.device != table.device:
            raise RuntimeError(f"{op}: ids are on {ids.device} but the table is on {table.device}; "
                               f"move them with ids.to('{table.device}')")
        data = ids.data
    else:
        host = backend.np.asarray(ids)
        if host.dtype.kind not in "biuf":
            raise TypeError(f"{op}: ids must be integers, got {host.dtype}")
        data = host if host.dtype.kind == "f" else backend.asarray(host, device=table.device)
    if data.dtype.kind not in "iu":
        raise TypeError(f"{op}: ids must be an integer array (token indices), got dtype {data.dtype} "
                        f"of shape {tuple(data.shape)}; convert them with .astype('int64') only if "
                        "they really are whole numbers")
    rows = table.shape[0]
    if data.size:
        low, high = int(data.min()), int(data.max())
        if low < 0 or high >= rows:
            bad = low if low < 0 else high
            raise IndexError(f"{op}: id {bad} is out of range for a vocabulary of {rows} rows "
                             f"(valid ids are 0..{rows - 1}); raise input_dim to at least "
                             f"{max(high + 1, rows)} or clip the ids")
    return Gather.apply(table, ids=data)


def embedding(ids, table: Tensor) -> Tensor:
    """The rows of `table` (num_embeddings, dim) picked by integer `ids`: shape ids.shape + (dim,).
    PyTorch's argument order (F.embedding(input, weight)); the gradient flows to the table."""
    return embedding_lookup(table, ids)
