"""The ops: one module per family, each op a Function with forward above backward.

    elementwise.py  arithmetic, exp/log/sqrt, rounding, comparisons, relu/sigmoid/tanh/softplus
    unary.py        sin cos tan and inverses, sinh cosh arcsinh arctanh, erf, exp2 log2 log10 log1p
    activations.py  elu selu gelu silu mish softsign hard_sigmoid hard_silu relu6 log_sigmoid ...
    reduce.py       sum mean max min prod var std logsumexp softmax argmax argmin any all
    scan.py         cumsum cumprod logcumsumexp sort argsort topk
    movement.py     reshape transpose broadcast_to getitem concat stack pad split chunk repeat
                    tile roll flip tril triu diagonal, device moves
    indexing.py     gather / take_along_axis, scatter_add, one_hot, masked_fill
    linalg.py       matmul, the fused Linear node, einsum
    conv.py         conv2d, conv_transpose2d, pooling, upsample, pad2d
    winograd.py     Winograd F(2x2, 3x3): conv.py's fast path for 3x3 stride-1 convolutions
    normalization.py  batch_norm: one fused node in training, an affine map at inference
    embedding.py    embedding: the gather of rows by ids and its scatter-add adjoint
    losses.py       the fused binary cross-entropy nodes (minigrad.losses is the interface)
    creation.py     eye linspace arange full randint random_normal random_uniform
    keras.py        Keras backend names: shape int_shape concatenate epsilon

One place to add an op (the recipe: docs/adding_ops.md). Write its Function class and its
entry point in the family's module and add the entry point's name to that module's
``__all__``. That line is what publishes it:
    mg.<name>        minigrad/__init__.py imports every family's __all__ (``import *``)
    F.<name>         for the names in the __all__ of activations, conv, normalization and
                     embedding (functional.py imports those lists); the activation name
                     "<name>" for those in activations.__all__ (nn/activations.py reads it)
    Tensor.<name>    for the names also listed in TENSOR_METHODS below
The gradient tests find it too: tests/test_ops_table.py fails for any Function subclass
that no entry of its table runs, until the op gets its line there.
"""
from ..tensor import Tensor
from . import (activations, conv, creation, elementwise, embedding, indexing, keras, linalg,  # noqa: F401
               losses, movement, normalization, reduce, scan, unary)

# every ops module; each one's __all__ is what it publishes (losses.__all__ is empty: its fused
# nodes are used through minigrad.losses)
FAMILIES = [elementwise, unary, activations, reduce, scan, movement, indexing, linalg, creation, keras,
            conv, normalization, embedding, losses]
# modules that only serve a family (they publish nothing of their own)
HELPERS = {"winograd": "the fast path of conv.py's 3x3 convolutions"}


def _mod(self, other):
    return elementwise.mod(self, other)


def _rmod(self, other):
    return elementwise.mod(other, self)


def _floordiv(self, other):
    return elementwise.floordiv(self, other)


def _rfloordiv(self, other):
    return elementwise.floordiv(other, self)


# Tensor methods made from the ops: x.sin() is mg.sin(x). Methods tensor.py defines itself
# (exp, sum, reshape, ...) are left as they are.
TENSOR_METHODS = {
    "__mod__": _mod, "__rmod__": _rmod, "__floordiv__": _floordiv, "__rfloordiv__": _rfloordiv,
    **{name: getattr(unary, name) for name in unary.__all__},
    **{name: getattr(elementwise, name) for name in (
        "expm1", "rsqrt", "square", "reciprocal", "sign", "floor", "ceil", "round", "trunc",
        "isnan", "isinf", "isfinite", "softplus", "logaddexp", "maximum", "minimum")},
    **{name: getattr(reduce, name) for name in ("prod", "argmin", "softmax", "log_softmax")},
    **{name: getattr(scan, name) for name in scan.__all__},
    **{name: getattr(movement, name) for name in (
        "split", "chunk", "repeat", "tile", "roll", "flip", "tril", "triu", "diagonal", "moveaxis")},
    "take_along_axis": indexing.take_along_axis, "gather": indexing.gather,
    "scatter_add": indexing.scatter_add, "masked_fill": indexing.masked_fill,
}

for _name, _function in TENSOR_METHODS.items():
    if _name not in vars(Tensor):
        setattr(Tensor, _name, _function)
