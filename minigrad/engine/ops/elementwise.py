"""Elementwise ops: arithmetic, exp/log/sqrt, piecewise ops and activations.

Each op's docstring gives its derivative. Binary ops broadcast like NumPy; the walk sums
their gradients back to each input's shape (function.unbroadcast), so backward may
return gradients of the output's shape.

Kinks follow one documented rule: the derivative at a kink is the one of the left-hand
piece's convention below (relu'(0) = 0, abs'(0) = 0, clip passes gradient on its bounds,
maximum/minimum split it equally on ties).
"""
from __future__ import annotations

import math

from .. import autograd, backend
from ..function import Function, constant, xp_of
from ..tensor import Tensor, as_operand

__all__ = ["add", "sub", "mul", "div", "pow", "mod", "floordiv", "maximum", "minimum", "logaddexp",
           "exp", "expm1", "log", "sqrt", "rsqrt", "square", "reciprocal", "abs", "sign",
           "floor", "ceil", "round", "trunc", "isnan", "isinf", "isfinite", "clip", "where",
           "relu", "leaky_relu", "sigmoid", "tanh", "softplus"]


class Query(Function):
    """An op whose result carries no gradient: comparisons, isnan, argmax, any/all, one_hot.

    It still goes through Function.apply, so symbolic (functional-API) tensors record it;
    it just never becomes part of the autograd graph, like a comparison in PyTorch.
    """
    @classmethod
    def apply(cls, *inputs, **settings):
        with autograd.no_grad():
            return super().apply(*inputs, **settings)

    def backward(self, g):       # never called: the result is made without a graph
        raise RuntimeError(f"{type(self).__name__} has no gradient")


class Step(Function):
    """A piecewise-constant op (floor, ceil, round, trunc, sign, //): dz/dx = 0 wherever the
    derivative exists, and 0 is also what minigrad (like PyTorch) returns at the jumps."""
    backward_reads_inputs = False

    def backward(self, g):
        zero = constant(xp_of(g.data).zeros_like(g.data))
        return (zero,) * len(self.inputs)


# ----------------------------------------------------------------------------- arithmetic

class Add(Function):
    """z = x + y.   dz/dx = 1,  dz/dy = 1"""
    backward_reads_inputs = False   # backward uses g alone: changing x or y in place later is harmless

    def forward(self, x, y):
        return x + y

    def backward(self, g):
        return g, g

    def backward_arrays(self, g):
        return g, g


class Sub(Function):
    """z = x - y.   dz/dx = 1,  dz/dy = -1"""
    backward_reads_inputs = False

    def forward(self, x, y):
        return x - y

    def backward(self, g):
        return g, -g

    def backward_arrays(self, g):
        return g, -g


class Mul(Function):
    """z = x * y.   dz/dx = y,  dz/dy = x"""
    def forward(self, x, y):
        return x * y

    def backward(self, g):
        x, y = self.inputs
        need_x, need_y = self.needs_input_grad
        return (g * y if need_x else None), (g * x if need_y else None)

    def backward_arrays(self, g):
        x, y = self.inputs
        need_x, need_y = self.needs_input_grad
        return (g * y.data if need_x else None), (g * x.data if need_y else None)


class Div(Function):
    """z = x / y.   dz/dx = 1/y,  dz/dy = -x/y^2"""
    def forward(self, x, y):
        return x / y

    def backward(self, g):
        x, y = self.inputs
        need_x, need_y = self.needs_input_grad
        g_over_y = g / y
        return (g_over_y if need_x else None), (-g_over_y * x / y if need_y else None)


class Neg(Function):
    """z = -x.   dz/dx = -1"""
    backward_reads_inputs = False

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g

    def backward_arrays(self, g):
        return -g


class Pow(Function):
    """z = x ** y.   dz/dx = y * x^(y-1),   dz/dy = z * ln(x)

    The gradient with respect to the exponent uses ln(x) only where x > 0 and is 0
    elsewhere (x**y with x <= 0 is only real for integer y, where it is not differentiable in y);
    in particular 0 ** y for y < 0 (z = inf) has exponent-gradient 0, not inf * 0 = NaN.
    """
    def forward(self, x, y):
        self.z = x ** y
        return self.z

    def backward(self, g):
        x, y = self.inputs
        need_x, need_y = self.needs_input_grad
        g_x = None
        if need_x:   # y x^(y-1), with x = 0, y = 0 read as 1 so that d(x^0)/dx = 0 there, not NaN
            xp = xp_of(x.data)
            safe_x = where((x.data == 0) & (y.data == 0), constant(xp.ones_like(x.data)), x)
            g_x = g * y * safe_x ** (y - 1)
        g_y = None
        if need_y:
            xp = xp_of(x.data)
            positive = x.data > 0
            safe_x = where(positive, x, constant(xp.ones_like(x.data)))
            safe_z = where(positive, self.output(self.z), constant(xp.zeros_like(self.z)))
            g_y = g * safe_z * safe_x.log()
        return g_x, g_y


class Mod(Function):
    """z = x mod y = x - floor(x/y) y, with the sign of y (Python's %, NumPy's remainder).
    dz/dx = 1,  dz/dy = -floor(x/y)   (away from the jumps where x/y is an integer)"""
    def forward(self, x, y):
        return xp_of(x).remainder(x, y)

    def backward(self, g):
        x, y = self.inputs
        need_x, need_y = self.needs_input_grad
        return (g if need_x else None), (-g * FloorDiv.apply(x, y) if need_y else None)


class FloorDiv(Step):
    """z = floor(x / y) (Python's //).   dz/dx = dz/dy = 0: a step function"""
    def forward(self, x, y):
        return xp_of(x).floor_divide(x, y)


class LogAddExp(Function):
    """z = ln(e^x + e^y), computed without overflow (NumPy's logaddexp).
    dz/dx = e^(x-z) = sigmoid(x - y),   dz/dy = sigmoid(y - x)"""
    def forward(self, x, y):
        return xp_of(x).logaddexp(x, y)

    def backward(self, g):
        x, y = self.inputs
        share_x = Sigmoid.apply(x - y)
        return g * share_x, g * (1 - share_x)


# ----------------------------------------------------------------------------- exp, log, ...

class Exp(Function):
    """z = e^x.   dz/dx = e^x = z"""
    backward_reads_inputs = False

    def forward(self, x):
        self.z = xp_of(x).exp(x)
        return self.z

    def backward(self, g):
        return g * self.output(self.z)

    def backward_arrays(self, g):
        return g * self.z


class Expm1(Function):
    """z = e^x - 1, accurate for tiny x where exp(x) - 1 cancels.   dz/dx = e^x = z + 1"""
    backward_reads_inputs = False

    def forward(self, x):
        self.z = xp_of(x).expm1(x)
        return self.z

    def backward(self, g):
        return g * (self.output(self.z) + 1)


class Log(Function):
    """z = ln x.   dz/dx = 1/x"""
    def forward(self, x):
        return xp_of(x).log(x)

    def backward(self, g):
        return g / self.inputs[0]


class Sqrt(Function):
    """z = sqrt(x).   dz/dx = 1 / (2 sqrt(x)) = 1 / (2z)"""
    backward_reads_inputs = False

    def forward(self, x):
        self.z = xp_of(x).sqrt(x)
        return self.z

    def backward(self, g):
        return g / (2 * self.output(self.z))


class Rsqrt(Function):
    """z = 1 / sqrt(x).   dz/dx = -1/2 x^(-3/2) = -z^3 / 2"""
    backward_reads_inputs = False

    def forward(self, x):
        self.z = 1 / xp_of(x).sqrt(x)
        return self.z

    def backward(self, g):
        z = self.output(self.z)
        return g * z * z * z * -0.5


class Square(Function):
    """z = x^2.   dz/dx = 2x"""
    def forward(self, x):
        return x * x

    def backward(self, g):
        return g * 2 * self.inputs[0]


class Reciprocal(Function):
    """z = 1/x.   dz/dx = -1/x^2 = -z^2"""
    backward_reads_inputs = False

    def forward(self, x):
        self.z = 1 / x
        return self.z

    def backward(self, g):
        z = self.output(self.z)
        return -g * z * z


class Abs(Function):
    """z = |x|.   dz/dx = sign(x), taken as 0 at x = 0"""
    def forward(self, x):
        return xp_of(x).abs(x)

    def backward(self, g):
        x = self.inputs[0].data
        return g * constant(xp_of(x).sign(x).astype(g.dtype))


class Cast(Function):
    """z = x converted to `dtype`.   dz/dx = 1 (the gradient is converted back)"""
    backward_reads_inputs = False

    def forward(self, x, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return Cast.apply(g, dtype=self.in_dtype)


# ----------------------------------------------------------------------------- steps and queries

class Sign(Step):
    """z = -1, 0 or 1 by the sign of x.   dz/dx = 0"""
    def forward(self, x):
        return xp_of(x).sign(x)


class Floor(Step):
    """z = the largest integer <= x.   dz/dx = 0"""
    def forward(self, x):
        return xp_of(x).floor(x)


class Ceil(Step):
    """z = the smallest integer >= x.   dz/dx = 0"""
    def forward(self, x):
        return xp_of(x).ceil(x)


class Round(Step):
    """z = x rounded to `decimals` places, halves to even (NumPy's and PyTorch's rule).   dz/dx = 0"""
    def forward(self, x, decimals=0):
        return xp_of(x).round(x, decimals)


class Trunc(Step):
    """z = x with its fraction dropped (towards 0).   dz/dx = 0"""
    def forward(self, x):
        return xp_of(x).trunc(x)


class IsNan(Query):
    """z = (x is NaN), a boolean tensor; no gradient"""
    def forward(self, x):
        return xp_of(x).isnan(x)


class IsInf(Query):
    """z = (x is +inf or -inf), a boolean tensor; no gradient"""
    def forward(self, x):
        return xp_of(x).isinf(x)


class IsFinite(Query):
    """z = (x is neither NaN nor infinite), a boolean tensor; no gradient"""
    def forward(self, x):
        return xp_of(x).isfinite(x)


class Compare(Query):
    """z = x < y, x == y, ... (`name` is the NumPy function: less, equal, ...); no gradient"""
    def forward(self, x, y, name):
        return getattr(xp_of(x), name)(x, y)


# ----------------------------------------------------------------------------- piecewise

class Maximum(Function):
    """z = max(x, y) elementwise.   dz/dx = 1 where x > y, 1/2 where x == y, else 0 (dz/dy mirrors)"""
    def forward(self, x, y):
        return xp_of(x).maximum(x, y)

    def x_wins(self, x, y):
        return x > y

    def backward(self, g):
        x, y = self.inputs[0].data, self.inputs[1].data
        share_x = (self.x_wins(x, y) + 0.5 * (x == y)).astype(g.dtype)
        return g * constant(share_x), g * constant(1 - share_x)


class Minimum(Maximum):
    """z = min(x, y) elementwise.   dz/dx = 1 where x < y, 1/2 where x == y, else 0 (dz/dy mirrors)"""
    def forward(self, x, y):
        return xp_of(x).minimum(x, y)

    def x_wins(self, x, y):
        return x < y


class Clip(Function):
    """z = min(max(x, low), high).   dz/dx = 1 where low <= x <= high, else 0"""
    def forward(self, x, low=None, high=None):
        self.low, self.high = low, high
        return xp_of(x).clip(x, low, high)

    def backward(self, g):
        x = self.inputs[0].data
        inside = xp_of(x).ones(x.shape, dtype=bool)
        if self.low is not None:
            inside &= x >= self.low
        if self.high is not None:
            inside &= x <= self.high
        return g * constant(inside.astype(g.dtype))


class Where(Function):
    """z = x where cond else y (cond carries no gradient).   dz/dx = cond,  dz/dy = 1 - cond"""
    backward_reads_inputs = False

    def forward(self, x, y, cond):
        self.cond = cond
        return xp_of(x).where(cond, x, y)

    def backward(self, g):
        take_x = self.cond.astype(g.dtype)
        return g * constant(take_x), g * constant(1 - take_x)


# ----------------------------------------------------------------------------- activations

class Relu(Function):
    """z = max(x, 0).   dz/dx = 1 where x > 0, else 0 (so relu'(0) = 0)"""
    def forward(self, x):
        return xp_of(x).maximum(x, 0)

    def backward(self, g):
        x = self.inputs[0].data
        return g * constant((x > 0).astype(g.dtype))

    def backward_arrays(self, g):
        return g * (self.inputs[0].data > 0)


class LeakyRelu(Function):
    """z = x where x > 0 else alpha*x.   dz/dx = 1 where x > 0, else alpha"""
    def forward(self, x, alpha=0.01):
        self.alpha = alpha
        return xp_of(x).where(x > 0, x, x * alpha)

    def backward(self, g):
        x = self.inputs[0].data
        slope = xp_of(x).where(x > 0, 1.0, self.alpha).astype(g.dtype)
        return g * constant(slope)


def _exp_floor(dtype) -> float:
    """Largest t such that e^-t is still a normal float of `dtype` (no underflow)."""
    return float(math.floor(-math.log(backend.finfo(dtype).tiny)) - 1)


class Sigmoid(Function):
    """z = 1 / (1 + e^-x).   dz/dx = z (1 - z)

    Stable both ways: with e = e^-|x|, z = 1/(1+e) for x >= 0 and e/(1+e) for x < 0, so
    no exponential overflows; |x| is capped where e^-|x| would underflow, and z is then
    exactly 1 (x large) or exactly 0 (x very negative).
    """
    backward_reads_inputs = False

    def forward(self, x):
        xp = xp_of(x)
        limit = _exp_floor(x.dtype)
        e = xp.exp(-xp.minimum(xp.abs(x), limit))
        z = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
        self.z = xp.where(x < -limit, 0, z).astype(x.dtype, copy=False)
        return self.z

    def backward(self, g):
        z = self.output(self.z)
        return g * z * (1 - z)

    def backward_arrays(self, g):
        z = self.z
        return g * z * (1 - z)


class Tanh(Function):
    """z = tanh x.   dz/dx = 1 - z^2"""
    backward_reads_inputs = False

    def forward(self, x):
        self.z = xp_of(x).tanh(x)
        return self.z

    def backward(self, g):
        z = self.output(self.z)
        return g * (1 - z * z)

    def backward_arrays(self, g):
        z = self.z
        return g * (1 - z * z)


class Softplus(Function):
    """z = ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|).   dz/dx = sigmoid(x)

    The second form never overflows; e^-|x| is set to 0 where it would underflow.
    """
    def forward(self, x):
        xp = xp_of(x)
        limit = _exp_floor(x.dtype)
        e = xp.exp(-xp.minimum(xp.abs(x), limit))
        e = xp.where(xp.abs(x) > limit, 0, e)
        return xp.maximum(x, 0) + xp.log1p(e)

    def backward(self, g):
        return g * Sigmoid.apply(self.inputs[0])


# ----------------------------------------------------------------------------- entry points

def _binary(op, a, b):
    """a op b for tensors or scalars: a scalar becomes a constant of the tensor's dtype and device."""
    if not isinstance(a, Tensor):     # (two tensors, the common case, skip both calls)
        a = as_operand(a, b)
    if not isinstance(b, Tensor):
        b = as_operand(b, a)
    return op.apply(a, b)


def add(a, b):
    return _binary(Add, a, b)


def sub(a, b):
    return _binary(Sub, a, b)


def mul(a, b):
    return _binary(Mul, a, b)


def div(a, b):
    return _binary(Div, a, b)


def pow(a, b):  # noqa: A001 - mirrors Python's name
    return _binary(Pow, a, b)


def mod(a, b):
    """a % b with the sign of b, as Python and NumPy."""
    return _binary(Mod, a, b)


def floordiv(a, b):
    """a // b = floor(a / b); zero gradient."""
    return _binary(FloorDiv, a, b)


def maximum(a, b):
    return _binary(Maximum, a, b)


def minimum(a, b):
    return _binary(Minimum, a, b)


def logaddexp(a, b):
    """ln(e^a + e^b) without overflow."""
    return _binary(LogAddExp, a, b)


def clip(x: Tensor, low=None, high=None):
    """Clip to [low, high] (scalars; either may be None)."""
    if low is None and high is None:
        raise ValueError("clip: give low, high or both")
    if low is not None and high is not None and low > high:
        raise ValueError(f"clip: low={low} is greater than high={high}")
    return Clip.apply(x, low=low, high=high)


def where(cond, x, y):
    """x where cond is true, else y; broadcasting all three. cond carries no gradient."""
    if isinstance(x, Tensor) or not isinstance(y, Tensor):
        x = as_operand(x, y if isinstance(y, Tensor) else None)
        y = as_operand(y, x)
    else:
        y = as_operand(y, None)
        x = as_operand(x, y)
    cond = as_operand(cond, x).data
    if cond.dtype != bool:
        cond = cond != 0
    return Where.apply(x, y, cond=cond)


def compare(name: str, a, b):
    """Elementwise comparison (less, equal, ...): a boolean tensor with no gradient."""
    a, b = as_operand(a, b), as_operand(b, a)
    return Compare.apply(a, b, name=name)


def exp(x):
    return Exp.apply(x)


def expm1(x):
    return Expm1.apply(x)


def log(x):
    return Log.apply(x)


def sqrt(x):
    return Sqrt.apply(x)


def rsqrt(x):
    return Rsqrt.apply(x)


def square(x):
    return Square.apply(x)


def reciprocal(x):
    return Reciprocal.apply(x)


def abs(x):  # noqa: A001 - mirrors numpy's name
    return Abs.apply(x)


def sign(x):
    return Sign.apply(x)


def floor(x):
    return Floor.apply(x)


def ceil(x):
    return Ceil.apply(x)


def round(x, decimals=0):  # noqa: A001 - mirrors numpy's name
    return Round.apply(x, decimals=int(decimals))


def trunc(x):
    return Trunc.apply(x)


def isnan(x):
    return IsNan.apply(x)


def isinf(x):
    return IsInf.apply(x)


def isfinite(x):
    return IsFinite.apply(x)


def relu(x):
    return Relu.apply(x)


def leaky_relu(x, alpha=0.01):
    return LeakyRelu.apply(x, alpha=float(alpha))


def sigmoid(x):
    return Sigmoid.apply(x)


def tanh(x):
    return Tanh.apply(x)


def softplus(x):
    return Softplus.apply(x)
