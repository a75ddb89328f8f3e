"""THE table of ops: one line per op drives its gradient, second-order and PyTorch checks.

Each Case names the op, how to draw its inputs (hypothesis), the minigrad call and, where
PyTorch has the op, the torch call. From the table:
  * test_gradients          gradcheck and (second_order) gradgradcheck on every device
  * test_matches_torch      values and gradients against PyTorch on the same inputs (CPU,
                            float64, skipped without torch); queries compare values only
  * test_every_function_is_in_the_table
                            every Function subclass of minigrad must be run by some case
                            (forward, backward or the recorded backward): a new op without
                            its line here fails this test.

Adding an op: add its Case below (docs/adding_ops.md). Inputs stay away from kinks and ties
(minigrad.testing's avoid= and min_gap=), where finite differences are meaningless; the
values at kinks are pinned by example tests in the op family's own test file.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import minigrad.functional as F
from minigrad import losses
from minigrad.function import Function
from minigrad.nn.recurrent import LSTMCell
from minigrad.ops.embedding import embedding_lookup
from minigrad.testing import arrays, assert_gradients_match, broadcastable_shapes, shapes

try:
    import torch
    import torch.nn.functional as TF
except ImportError:          # the torch comparison skips; everything else runs
    torch = TF = None

SMALL = shapes(max_dims=3, max_side=3)            # 0-d included
AT_LEAST_1D = shapes(min_dims=1, max_dims=3, max_side=3)
MATRICES = shapes(min_dims=2, max_dims=3, max_side=3)


@dataclass
class Case:
    """One op. draw: a hypothesis strategy of (input arrays, keyword settings).

    mg(*tensors, **settings) -> tensor (or a list/tuple of tensors); torch alike, or None.
    query: the result carries no gradient (compare values only, check it records nothing).
    """
    name: str
    draw: st.SearchStrategy
    mg: Callable
    torch: Optional[Callable] = None
    second_order: bool = True
    query: bool = False
    gradcheck: bool = True            # False only with a reason (see cast)
    torch_grad_rtol: float = 1e-9     # larger only with a reason (see hard_sigmoid)


# ----------------------------------------------------------------------------- input strategies

def one(shape=SMALL, **kw):
    """A single array input."""
    return arrays(shape, **kw).map(lambda a: ([a], {}))


def two(kw1=None, kw2=None, same_shape=False):
    """Two arrays whose shapes broadcast together (or share one shape)."""
    kw1, kw2 = kw1 or {}, kw2 or {}

    @st.composite
    def draw(d):
        if same_shape:
            s = d(SMALL)
            s1 = s2 = s
        else:
            s1, s2 = d(broadcastable_shapes(2, max_dims=3, max_side=3))
        return [d(arrays(s1, **kw1)), d(arrays(s2, **kw2))], {}
    return draw()


def with_axis(shape=AT_LEAST_1D, allow_none=False, keepdims=False, **kw):
    """One array and an axis (maybe negative, maybe None) valid for it."""
    @st.composite
    def draw(d):
        a = d(arrays(shape, **kw))
        options = st.integers(-a.ndim, a.ndim - 1) if a.ndim else st.just(None)
        axis = d(st.one_of(options, st.none()) if allow_none else options)
        settings = {"axis": axis}
        if keepdims:
            settings["keepdims"] = d(st.booleans())
        return [a], settings
    return draw()


def fixed(*arrays_, **settings_):
    return st.just(([np.asarray(a, dtype=np.float64) for a in arrays_], settings_))


def with_zeros(shape=AT_LEAST_1D):
    """Arrays where some entries are exactly 0 (prod and cumprod must be right there)."""
    @st.composite
    def draw(d):
        a = d(arrays(shape, low=-2.0, high=2.0))
        mask = d(arrays(a.shape, low=0.0, high=1.0)) < 0.3
        a = np.where(mask, 0.0, a)
        axis = d(st.integers(-a.ndim, a.ndim - 1))
        return [a], {"axis": axis}
    return draw()


def indices_along(shape=AT_LEAST_1D, smaller=False):
    """x and integer indices along a drawn axis (take_along_axis, gather)."""
    @st.composite
    def draw(d):
        a = d(arrays(shape))
        axis = d(st.integers(0, a.ndim - 1))
        ishape = list(a.shape)
        if smaller:
            ishape = [d(st.integers(1, n)) if i != axis else n for i, n in enumerate(ishape)]
        ishape[axis] = d(st.integers(1, 4))
        idx = np.array(d(st.lists(st.integers(0, a.shape[axis] - 1), min_size=int(np.prod(ishape)),
                                  max_size=int(np.prod(ishape))))).reshape(ishape)
        return [a], {"axis": axis, "indices": idx}
    return draw()


@st.composite
def quotients(d):
    """(a, b) with a / b at least 0.1 away from every integer: off the jumps of % and //."""
    b = d(arrays(SMALL, low=-1.3, high=1.3, avoid=(0,), margin=0.7))
    q = d(arrays(b.shape, low=-2.9, high=2.9, avoid=(-2, -1, 0, 1, 2), margin=0.1))
    return [q * b, b], {}


def keep_dims_like_torch(reduce):
    """torch's reduction with minigrad's axis=None/keepdims meaning (all axes, kept as size 1)."""
    def call(a, axis, keepdims=False):
        if axis is None:
            out = reduce(a)
            return out.reshape((1,) * a.ndim) if keepdims else out
        return reduce(a, axis, keepdims)
    return call


POSITIVE = dict(low=0.2, high=3.0)
UNIT = dict(low=-0.9, high=0.9)                       # arcsin, arccos, arctanh
DISTINCT = dict(min_gap=0.05)                         # no ties: max, min, sort, argmax


def _torch_indices(settings):
    return torch.as_tensor(settings["indices"])


# ----------------------------------------------------------------------------- the table

CASES = [
    # arithmetic (broadcasting binary ops)
    Case("add", two(), lambda a, b: a + b, lambda a, b: a + b),
    Case("sub", two(), lambda a, b: a - b, lambda a, b: a - b),
    Case("mul", two(), lambda a, b: a * b, lambda a, b: a * b),
    Case("div", two(kw2=POSITIVE), lambda a, b: a / b, lambda a, b: a / b),
    Case("neg", one(), lambda a: -a, lambda a: -a),
    Case("pow", two(kw1=POSITIVE), lambda a, b: a ** b, lambda a, b: a ** b),
    Case("mod", quotients(), lambda a, b: a % b, torch.remainder if torch else None),
    # PyTorch has no derivative for floor_divide: compare values, and the gradients with 0
    Case("floordiv", quotients(), lambda a, b: a // b,
         (lambda a, b: torch.floor_divide(a.detach(), b.detach())) if torch else None),
    Case("logaddexp", two(), mg.logaddexp, torch.logaddexp if torch else None),
    Case("maximum", two(same_shape=True, kw1=DISTINCT), lambda a, b: mg.maximum(a, b + 0.025),
         lambda a, b: torch.maximum(a, b + 0.025)),
    Case("minimum", two(same_shape=True, kw1=DISTINCT), lambda a, b: mg.minimum(a, b + 0.025),
         lambda a, b: torch.minimum(a, b + 0.025)),
    # exp, log, powers
    Case("exp", one(), mg.exp, torch.exp if torch else None),
    Case("expm1", one(), mg.expm1, torch.expm1 if torch else None),
    Case("log", one(**POSITIVE), mg.log, torch.log if torch else None),
    Case("sqrt", one(**POSITIVE), mg.sqrt, torch.sqrt if torch else None),
    Case("rsqrt", one(**POSITIVE), mg.rsqrt, torch.rsqrt if torch else None),
    Case("square", one(), mg.square, torch.square if torch else None),
    Case("reciprocal", one(**POSITIVE), mg.reciprocal, torch.reciprocal if torch else None),
    Case("abs", one(avoid=(0,)), mg.abs, torch.abs if torch else None),
    Case("exp2", one(), mg.exp2, torch.exp2 if torch else None),
    Case("log2", one(**POSITIVE), mg.log2, torch.log2 if torch else None),
    Case("log10", one(**POSITIVE), mg.log10, torch.log10 if torch else None),
    Case("log1p", one(low=-0.8, high=3.0), mg.log1p, torch.log1p if torch else None),
    # float32 output: finite differences at eps=1e-6 are noise there, so no gradcheck; its
    # gradient (cast back to the input's dtype) is compared with PyTorch's, and pinned in
    # test_elementwise.py's mixed-precision test
    Case("cast", one(), lambda a: a.astype("float32"), lambda a: a.float(), gradcheck=False),
    # trigonometric, hyperbolic, erf
    Case("sin", one(), mg.sin, torch.sin if torch else None),
    Case("cos", one(), mg.cos, torch.cos if torch else None),
    Case("tan", one(low=-1.2, high=1.2), mg.tan, torch.tan if torch else None),
    Case("arcsin", one(**UNIT), mg.arcsin, torch.asin if torch else None),
    Case("arccos", one(**UNIT), mg.arccos, torch.acos if torch else None),
    Case("arctan", one(), mg.arctan, torch.atan if torch else None),
    Case("sinh", one(), mg.sinh, torch.sinh if torch else None),
    Case("cosh", one(), mg.cosh, torch.cosh if torch else None),
    Case("arcsinh", one(), mg.arcsinh, torch.asinh if torch else None),
    Case("arctanh", one(**UNIT), mg.arctanh, torch.atanh if torch else None),
    Case("erf", one(low=-4, high=4), mg.erf, torch.erf if torch else None),
    # steps: zero gradient (drawn away from their jumps at the integers / 0)
    Case("sign", one(avoid=(0,)), mg.sign, torch.sign if torch else None),
    Case("floor", one(avoid=(-3, -2, -1, 0, 1, 2, 3)), mg.floor, torch.floor if torch else None),
    Case("ceil", one(avoid=(-3, -2, -1, 0, 1, 2, 3)), mg.ceil, torch.ceil if torch else None),
    Case("round", one(avoid=(-2.5, -1.5, -0.5, 0.5, 1.5, 2.5)), mg.round, torch.round if torch else None),
    Case("trunc", one(avoid=(-3, -2, -1, 0, 1, 2, 3)), mg.trunc, torch.trunc if torch else None),
    # queries: no gradient
    Case("isnan", one(), mg.isnan, torch.isnan if torch else None, query=True),
    Case("isinf", one(), mg.isinf, torch.isinf if torch else None, query=True),
    Case("isfinite", one(), mg.isfinite, torch.isfinite if torch else None, query=True),
    Case("less", two(), lambda a, b: a < b, lambda a, b: a < b, query=True),
    Case("equal", two(), lambda a, b: a == b.detach(), lambda a, b: a == b, query=True),
    # piecewise and activations of elementwise.py
    Case("clip", one(avoid=(-0.5, 0.5)), lambda a: a.clip(-0.5, 0.5), lambda a: a.clamp(-0.5, 0.5)),
    Case("where", two(same_shape=True, kw1=dict(avoid=(0,))), lambda a, b: mg.where(a.detach() > 0, a, b),
         lambda a, b: torch.where(a.detach() > 0, a, b)),
    Case("relu", one(avoid=(0,)), F.relu, torch.relu if torch else None),
    Case("leaky_relu", one(avoid=(0,)), lambda a: F.leaky_relu(a, 0.2), lambda a: TF.leaky_relu(a, 0.2)),
    Case("sigmoid", one(), F.sigmoid, torch.sigmoid if torch else None),
    Case("tanh", one(), F.tanh, torch.tanh if torch else None),
    Case("softplus", one(), F.softplus, (lambda a: TF.softplus(a)) if torch else None),
    # activations of ops/activations.py (Keras names)
    Case("elu", one(avoid=(0,)), F.elu, (lambda a: TF.elu(a)) if torch else None),
    Case("elu_alpha", one(avoid=(0,)), lambda a: F.elu(a, 0.5), (lambda a: TF.elu(a, 0.5)) if torch else None),
    Case("selu", one(avoid=(0,)), F.selu, (lambda a: TF.selu(a)) if torch else None),
    Case("gelu", one(), F.gelu, (lambda a: TF.gelu(a)) if torch else None),
    Case("gelu_tanh", one(), lambda a: F.gelu(a, approximate=True),
         (lambda a: TF.gelu(a, approximate="tanh")) if torch else None),
    Case("silu", one(), F.silu, (lambda a: TF.silu(a)) if torch else None),
    Case("swish", one(), F.swish, (lambda a: TF.silu(a)) if torch else None),
    Case("mish", one(), F.mish, (lambda a: TF.mish(a)) if torch else None),
    Case("softsign", one(avoid=(0,)), F.softsign, (lambda a: TF.softsign(a)) if torch else None),
    # PyTorch's hardsigmoid backward multiplies by 1/6 rounded to float32 even for float64
    # (0.1666666716337204, checked by hand): 3e-8 relative, hence its tolerance
    Case("hard_sigmoid", one(low=-4, high=4, avoid=(-3, 3)), F.hard_sigmoid,
         (lambda a: TF.hardsigmoid(a)) if torch else None, torch_grad_rtol=1e-7),
    Case("hard_silu", one(low=-4, high=4, avoid=(-3, 3)), F.hard_silu,
         (lambda a: TF.hardswish(a)) if torch else None),
    Case("relu6", one(low=-2, high=8, avoid=(0, 6)), F.relu6, (lambda a: TF.relu6(a)) if torch else None),
    Case("log_sigmoid", one(), F.log_sigmoid, (lambda a: TF.logsigmoid(a)) if torch else None),
    Case("exponential", one(), F.exponential, torch.exp if torch else None),
    Case("softmin", with_axis(), lambda a, axis: F.softmin(a, axis=axis),
         (lambda a, axis: TF.softmin(a, dim=axis)) if torch else None),
    # reductions
    Case("sum", with_axis(SMALL, allow_none=True, keepdims=True), mg.sum,
         keep_dims_like_torch(lambda a, *ak: a.sum(*ak[:1], keepdim=ak[1]) if ak else a.sum())),
    Case("mean", with_axis(allow_none=True, keepdims=True), mg.mean,
         keep_dims_like_torch(lambda a, *ak: a.mean(*ak[:1], keepdim=ak[1]) if ak else a.mean())),
    Case("max", with_axis(allow_none=True, keepdims=True, **DISTINCT), mg.max,
         keep_dims_like_torch(lambda a, *ak: a.amax(*ak[:1], keepdim=ak[1]) if ak else a.max())),
    Case("min", with_axis(allow_none=True, keepdims=True, **DISTINCT), mg.min,
         keep_dims_like_torch(lambda a, *ak: a.amin(*ak[:1], keepdim=ak[1]) if ak else a.min())),
    Case("prod", with_axis(allow_none=True, keepdims=True), mg.prod,
         keep_dims_like_torch(lambda a, *ak: a.prod(*ak[:1], keepdim=ak[1]) if ak else a.prod())),
    Case("prod_with_zeros", with_zeros(), mg.prod, (lambda a, axis: a.prod(axis)) if torch else None),
    Case("var", with_axis(), lambda a, axis: a.var(axis=axis),
         (lambda a, axis: a.var(axis, unbiased=False)) if torch else None),
    Case("std", with_axis(shapes(min_dims=1, max_dims=3, min_side=2, max_side=3), min_gap=0.1),
         lambda a, axis: a.std(axis=axis), (lambda a, axis: a.std(axis, unbiased=False)) if torch else None),
    Case("logsumexp", with_axis(), lambda a, axis: a.logsumexp(axis=axis),
         (lambda a, axis: a.logsumexp(axis)) if torch else None),
    Case("softmax", with_axis(), lambda a, axis: F.softmax(a, axis=axis),
         (lambda a, axis: a.softmax(axis)) if torch else None),
    Case("log_softmax", with_axis(), lambda a, axis: F.log_softmax(a, axis=axis),
         (lambda a, axis: a.log_softmax(axis)) if torch else None),
    Case("argmax", with_axis(**DISTINCT), mg.argmax, (lambda a, axis: a.argmax(axis)) if torch else None, query=True),
    Case("argmin", with_axis(**DISTINCT), mg.argmin, (lambda a, axis: a.argmin(axis)) if torch else None, query=True),
    Case("any", with_axis(), lambda a, axis: mg.any(a > 1.0, axis=axis),
         (lambda a, axis: (a > 1.0).any(axis)) if torch else None, query=True),
    Case("all", with_axis(), lambda a, axis: mg.all(a > -1.0, axis=axis),
         (lambda a, axis: (a > -1.0).all(axis)) if torch else None, query=True),
    # scans and sorting
    Case("cumsum", with_axis(), mg.cumsum, (lambda a, axis: a.cumsum(axis)) if torch else None),
    Case("cumprod", with_axis(), mg.cumprod, (lambda a, axis: a.cumprod(axis)) if torch else None),
    Case("cumprod_with_zeros", with_zeros(), mg.cumprod, (lambda a, axis: a.cumprod(axis)) if torch else None),
    Case("logcumsumexp", with_axis(), mg.logcumsumexp, (lambda a, axis: a.logcumsumexp(axis)) if torch else None),
    Case("sort", with_axis(**DISTINCT), mg.sort, (lambda a, axis: a.sort(dim=axis, stable=True).values) if torch else None),
    Case("sort_descending", with_axis(**DISTINCT), lambda a, axis: mg.sort(a, axis, descending=True),
         (lambda a, axis: a.sort(axis, descending=True).values) if torch else None),
    Case("argsort", with_axis(**DISTINCT), mg.argsort, (lambda a, axis: a.argsort(dim=axis, stable=True)) if torch else None,
         query=True),
    Case("topk", with_axis(**DISTINCT), lambda a, axis: mg.topk(a, 1, axis)[0],
         (lambda a, axis: a.topk(1, axis).values) if torch else None),
    Case("topk_smallest", with_axis(**DISTINCT), lambda a, axis: mg.topk(a, 1, axis, largest=False)[0],
         (lambda a, axis: a.topk(1, axis, largest=False).values) if torch else None),
    # movement
    Case("reshape", one(st.just((2, 3))), lambda a: a.reshape(3, -1), lambda a: a.reshape(3, -1)),
    Case("transpose", one(st.just((2, 3, 2))), lambda a: a.transpose(1, 2, 0), lambda a: a.permute(1, 2, 0)),
    Case("moveaxis", one(st.just((2, 3, 2))), lambda a: mg.moveaxis(a, 0, -1), lambda a: a.movedim(0, -1)),
    Case("broadcast_to", one(st.just((1, 3))), lambda a: a.broadcast_to((2, 2, 3)), lambda a: a.expand(2, 2, 3)),
    Case("getitem", one(st.just((2, 3))), lambda a: a[[0, 0, 1], 1:], lambda a: a[[0, 0, 1], 1:]),
    Case("concat", st.just(([np.random.default_rng(11).uniform(-2, 2, s) for s in [(2, 3), (2, 1)]], {})),
         lambda a, b: mg.concat([a, b], axis=1), lambda a, b: torch.cat([a, b], 1)),
    Case("stack", two(same_shape=True), lambda a, b: mg.stack([a, b], axis=-1), lambda a, b: torch.stack([a, b], -1)),
    Case("pad", one(st.just((2, 3))), lambda a: mg.pad(a, ((1, 0), (0, 2))), lambda a: TF.pad(a, (0, 2, 1, 0))),
    Case("split", one(st.just((4, 3))), lambda a: mg.split(a, [1, 3], axis=0),
         lambda a: list(torch.tensor_split(a, [1, 3], 0))),
    Case("split_even", one(st.just((2, 4))), lambda a: mg.split(a, 2, axis=1),
         lambda a: list(torch.tensor_split(a, 2, 1))),
    Case("chunk", one(st.just((5, 2))), lambda a: mg.chunk(a, 2, axis=0), lambda a: list(torch.chunk(a, 2, 0))),
    Case("repeat", one(st.just((2, 3))), lambda a: mg.repeat(a, 2, axis=1),
         lambda a: torch.repeat_interleave(a, 2, 1)),
    Case("repeat_list", one(st.just((3,))), lambda a: mg.repeat(a, [2, 0, 1]),
         lambda a: torch.repeat_interleave(a, torch.tensor([2, 0, 1]))),
    Case("tile", one(st.just((2, 3))), lambda a: mg.tile(a, (2, 1, 2)), lambda a: torch.tile(a, (2, 1, 2))),
    Case("roll", one(st.just((3, 4))), lambda a: mg.roll(a, (1, -5), (0, 1)), lambda a: torch.roll(a, (1, -5), (0, 1))),
    Case("roll_flat", one(st.just((2, 3))), lambda a: mg.roll(a, 2), lambda a: torch.roll(a, 2)),
    Case("flip", one(st.just((2, 3, 2))), lambda a: mg.flip(a, (0, 2)), lambda a: torch.flip(a, (0, 2))),
    Case("tril", one(MATRICES), lambda a: mg.tril(a, -1), lambda a: torch.tril(a, -1)),
    Case("triu", one(MATRICES), lambda a: mg.triu(a, 1), lambda a: torch.triu(a, 1)),
    Case("diagonal", one(st.just((3, 2, 4))), lambda a: mg.diagonal(a, 1, 0, 2),
         lambda a: torch.diagonal(a, 1, 0, 2)),
    Case("to_device", one(st.just((2, 3))), lambda a: a.to("strict" if a.device == "cpu" else "cpu").to(a.device),
         lambda a: a * 1),
    # indexing
    Case("take_along_axis", indices_along(), mg.take_along_axis,
         (lambda a, axis, indices: torch.take_along_dim(a, torch.as_tensor(indices), axis)) if torch else None),
    Case("gather", indices_along(smaller=True), lambda a, axis, indices: mg.gather(a, axis, indices),
         (lambda a, axis, indices: torch.gather(a, axis, torch.as_tensor(indices))) if torch else None),
    Case("masked_fill", two(same_shape=True, kw2=dict(avoid=(0,))), lambda a, b: mg.masked_fill(a, b.detach() > 0, 2.0),
         lambda a, b: a.masked_fill(b.detach() > 0, 2.0)),
    Case("one_hot", fixed([0.5]), lambda a: mg.one_hot(mg.tensor([[0, 2], [1, 1]], device=a.device), 3),
         (lambda a: TF.one_hot(torch.tensor([[0, 2], [1, 1]]), 3)) if torch else None, query=True),
    # products
    Case("matmul", fixed(np.random.default_rng(0).uniform(-2, 2, (2, 2, 3)),
                         np.random.default_rng(1).uniform(-2, 2, (3, 4))),
         lambda a, b: a @ b, lambda a, b: a @ b),
    Case("matvec", fixed(np.random.default_rng(2).uniform(-2, 2, (2, 3)),
                         np.random.default_rng(3).uniform(-2, 2, (3,))), lambda a, b: a @ b, lambda a, b: a @ b),
    Case("linear", st.just(([np.random.default_rng(4).uniform(-2, 2, s) for s in [(3, 4), (4, 2), (2,)]], {})),
         F.linear, lambda x, w, b: x @ w + b),
    Case("einsum", st.just(([np.random.default_rng(5).uniform(-2, 2, s) for s in [(2, 3, 4), (4, 3), (2,)]], {})),
         lambda a, b, c: mg.einsum("bij,jk,b->ik", a, b, c), lambda a, b, c: torch.einsum("bij,jk,b->ik", a, b, c)),
    Case("einsum_sum_out", st.just(([np.random.default_rng(6).uniform(-2, 2, s) for s in [(2, 3), (3,)]], {})),
         lambda a, b: mg.einsum("ij,j", a, b), lambda a, b: torch.einsum("ij,j", a, b)),
    Case("einsum_alone", st.just(([np.random.default_rng(7).uniform(-2, 2, s) for s in [(2, 3), (4,)]], {})),
         lambda a, b: mg.einsum("ij,k->k", a, b), lambda a, b: torch.einsum("ij,k->k", a, b)),
    # fused losses
    Case("bce_logits", two(same_shape=True, kw2=dict(low=0.1, high=0.9)),
         lambda z, t: losses.binary_crossentropy(t, z, from_logits=True),
         lambda z, t: TF.binary_cross_entropy_with_logits(z, t)),
    Case("bce_probs", two(same_shape=True, kw1=dict(low=0.1, high=0.9), kw2=dict(low=0.1, high=0.9)),
         lambda p, t: losses.binary_crossentropy(t, p), lambda p, t: TF.binary_cross_entropy(p, t)),
    # conv and pooling (ops/conv.py)
    Case("conv2d", st.just(([np.random.default_rng(8).uniform(-1, 1, s) for s in [(1, 2, 4, 4), (2, 2, 3, 3), (2,)]], {})),
         lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
         lambda x, w, b: TF.conv2d(x, w, b, stride=2, padding=1)),
    Case("conv_transpose2d", st.just(([np.random.default_rng(9).uniform(-1, 1, s) for s in [(1, 2, 2, 2), (2, 1, 3, 3)]], {})),
         lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
         lambda x, w: TF.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)),
    Case("conv_transpose2d_stride1", st.just(([np.random.default_rng(10).uniform(-1, 1, s) for s in [(1, 1, 2, 3), (1, 2, 2, 2)]], {})),
         lambda x, w: F.conv_transpose2d(x, w), lambda x, w: TF.conv_transpose2d(x, w)),
    Case("max_pool2d", one(st.just((1, 1, 4, 4)), **DISTINCT), lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2)),
    Case("avg_pool2d", one(st.just((1, 1, 4, 4))), lambda x: F.avg_pool2d(x, 2), lambda x: TF.avg_pool2d(x, 2)),
    Case("upsample", one(st.just((1, 2, 2, 3))), lambda x: F.upsample(x, 2),
         (lambda x: TF.interpolate(x, scale_factor=2, mode="nearest")) if torch else None),
]


CASES += [
    Case("scatter_add", st.just(([np.random.default_rng(12).uniform(-2, 2, s) for s in [(3, 2), (2, 2)]],
                                 {"index": np.array([[0, 2], [0, 0]])})),
         lambda x, src, index: mg.scatter_add(x, 0, index, src),
         (lambda x, src, index: torch.scatter_add(x, 0, torch.as_tensor(index), src)) if torch else None),
    Case("batch_norm", st.just(([np.random.default_rng(14).uniform(-2, 2, (4, 3)),
                                 np.random.default_rng(15).uniform(0.5, 2, (3,)),
                                 np.random.default_rng(16).uniform(-2, 2, (3,))], {})),
         lambda x, g, b: F.batch_norm(x, mg.zeros(3, dtype=x.dtype, device=x.device),
                                      mg.ones(3, dtype=x.dtype, device=x.device), g, b, training=True)),
    Case("lstm_cell", fixed(np.random.default_rng(15).uniform(-2, 2, (3, 8)),
                            np.random.default_rng(16).uniform(-2, 2, (3, 2))),
         lambda z, c: LSTMCell.apply(z, c),
         (lambda z, c: torch.cat([torch.sigmoid(z[:, 6:]) * torch.tanh(torch.sigmoid(z[:, 2:4]) * c
                                                                      + torch.sigmoid(z[:, :2]) * torch.tanh(z[:, 4:6])),
                                  torch.sigmoid(z[:, 2:4]) * c + torch.sigmoid(z[:, :2]) * torch.tanh(z[:, 4:6])], 1))
         if torch else None),
    Case("embedding", st.just(([np.random.default_rng(13).uniform(-2, 2, (4, 3))], {})),
         lambda t: embedding_lookup(t, [[0, 3], [3, 1]]),
         (lambda t: TF.embedding(torch.tensor([[0, 3], [3, 1]]), t)) if torch else None),
]
BY_NAME = {c.name: c for c in CASES}
assert len(BY_NAME) == len(CASES), "two cases share a name"


# ----------------------------------------------------------------------------- the tests

def _on(arrays_, device):
    return [mg.tensor(a, device=device, requires_grad=True) for a in arrays_]


@pytest.mark.parametrize("name", [c.name for c in CASES if not c.query and c.gradcheck])
@given(data=st.data())
@settings(max_examples=8)       # ~120 ops x 2 devices, each with gradgradcheck: the suite's budget
def test_gradients(name, device, data):
    case = BY_NAME[name]
    arrays_, kw = data.draw(case.draw)
    xs = _on(arrays_, device)
    assert_gradients_match(lambda *t: case.mg(*t, **kw), *xs, second_order=case.second_order)


@pytest.mark.parametrize("name", [c.name for c in CASES if c.query])
@given(data=st.data())
@settings(max_examples=5)
def test_queries_record_no_graph(name, device, data):
    case = BY_NAME[name]
    arrays_, kw = data.draw(case.draw)
    out = case.mg(*_on(arrays_, device), **kw)
    assert not out.requires_grad and out._ctx is None
    assert out.dtype.kind in "biu" or name == "one_hot"


def _as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


@pytest.mark.parametrize("name", [c.name for c in CASES if c.torch is not None])
@given(data=st.data())
@settings(max_examples=8)
def test_matches_torch(name, data):
    if torch is None:
        pytest.skip("PyTorch is not installed (it is an optional oracle)")
    case = BY_NAME[name]
    arrays_, kw = data.draw(case.draw)
    xs = _on(arrays_, "cpu")
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays_]
    outs, t_outs = _as_list(case.mg(*xs, **kw)), _as_list(case.torch(*ts, **kw))
    assert len(outs) == len(t_outs), name
    for o, t in zip(outs, t_outs):
        assert o.shape == tuple(t.shape), f"{name}: shape {o.shape} vs torch {tuple(t.shape)}"
        np.testing.assert_allclose(o.numpy().astype(np.float64), t.detach().numpy().astype(np.float64),
                                   rtol=1e-10, atol=1e-12, err_msg=name)
    if case.query:
        return
    rng = np.random.default_rng(0)
    ups = [rng.standard_normal(o.shape) for o in outs]
    live = [(o, u) for o, u in zip(outs, ups) if o.requires_grad]
    grads = mg.grad([o for o, _ in live], xs, [mg.tensor(u, dtype=o.dtype) for o, u in live], allow_unused=True)
    t_live = [(t, u) for t, u in zip(t_outs, ups) if t.requires_grad]
    t_grads = [None] * len(ts) if not t_live else torch.autograd.grad(
        [t for t, _ in t_live], ts, [torch.tensor(u, dtype=t.dtype) for t, u in t_live], allow_unused=True)
    for i, (g, tg) in enumerate(zip(grads, t_grads)):
        g = np.zeros(xs[i].shape) if g is None else g.numpy()
        tg = np.zeros(xs[i].shape) if tg is None else tg.numpy()
        np.testing.assert_allclose(g, tg, rtol=case.torch_grad_rtol, atol=1e-11,
                                   err_msg=f"{name}: gradient of input {i}")


def _all_functions():
    """Every concrete Function subclass defined in the minigrad package."""
    import minigrad
    for info in pkgutil.walk_packages(minigrad.__path__, "minigrad."):
        try:
            importlib.import_module(info.name)
        except ImportError:      # optional dependencies (interop, plots)
            pass
    found, stack = set(), [Function]
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if sub.__module__.startswith("minigrad.") and sub.forward is not Function.forward:
                found.add(sub)
    return found


def test_every_function_is_in_the_table(monkeypatch):
    """A Function subclass that no case runs has no gradient test: add its Case."""
    ran = set()
    original = Function.apply.__func__

    def recording_apply(cls, *inputs, **settings):
        ran.add(cls)
        return original(cls, *inputs, **settings)
    monkeypatch.setattr(Function, "apply", classmethod(recording_apply))
    for case in CASES:
        arrays_, kw = _first_example(case)
        xs = _on(arrays_, "cpu")
        outs = [o for o in _as_list(case.mg(*xs, **kw)) if o.requires_grad]
        if outs:
            ups = [mg.ones(o.shape, dtype=o.dtype) for o in outs]
            grads = mg.grad(outs, xs, ups, create_graph=True, allow_unused=True)
            live = [g for g in grads if g is not None and g.requires_grad]
            if live:
                mg.grad([g.sum() for g in live], xs, allow_unused=True)   # the recorded backward's nodes
    missing = sorted(f"{f.__module__}.{f.__name__}" for f in _all_functions() - ran)
    assert not missing, f"Function subclasses with no case in tests/test_ops_table.py: {missing}"


def _first_example(case):
    """One deterministic draw of a case's inputs (hypothesis' simplest example)."""
    found = []

    @given(case.draw)
    @settings(max_examples=1, database=None, derandomize=True)
    def take(example):
        found.append(example)
    take()
    return found[0]


def test_table_checks_can_fail():
    """The machinery catches a wrong backward: a planted one fails gradcheck through the table's path."""
    class WrongSin(Function):
        def forward(self, x):
            return mg.backend.xp_of(x).sin(x)

        def backward(self, g):
            return g * mg.sin(self.inputs[0])      # should be cos

    with pytest.raises(AssertionError):
        assert_gradients_match(WrongSin.apply, mg.tensor(np.array([0.3, 1.1]), requires_grad=True))
