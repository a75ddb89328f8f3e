"""Activation functions beyond relu/sigmoid/tanh, under their Keras names.

The smooth ones whose composition would be long (elu, gelu, silu, mish, log_sigmoid) are
one node each; the rest are a line of existing ops, so their gradients come by the chain
rule. Every docstring gives the derivative. Kinks follow elementwise.py's rule: at a kink
the derivative is the left-hand piece's (relu6'(0) = 0, hard_sigmoid'(-3) = 0).

Keras' formulas are used where libraries differ: hard_sigmoid is Keras 3's relu6(x + 3) / 6
(Keras 2 used 0.2 x + 0.5), gelu defaults to the exact erf form (approximate=False).
"""
from __future__ import annotations

import math

from ..function import Function, constant, xp_of
from .elementwise import Sigmoid, Softplus, Tanh, exp, where
from .reduce import softmax
from .unary import TWO_OVER_SQRT_PI, Erf, erf_array

__all__ = ["elu", "selu", "gelu", "silu", "swish", "mish", "softsign", "hard_sigmoid", "hard_silu",
           "hard_swish", "relu6", "log_sigmoid", "exponential", "softmin"]

SELU_ALPHA = 1.6732632423543772848170429916717      # Klambauer et al. 2017, "Self-Normalizing
SELU_SCALE = 1.0507009873554804934193349852946      # Neural Networks", eq. 14
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_CUBIC = 0.044715                               # Hendrycks & Gimpel 2016, the tanh form


class Elu(Function):
    """z = x where x > 0, else alpha (e^x - 1).   dz/dx = 1 where x > 0, else alpha e^x = z + alpha"""
    def forward(self, x, alpha=1.0):
        self.alpha = alpha
        xp = xp_of(x)
        return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))   # min: no overflow for x > 0

    def backward(self, g):
        x = self.inputs[0]
        below = exp(x.clip(high=0.0))          # e^x of the x <= 0 piece; clipped: no overflow for x > 0
        return g * where(x.detach() > 0, 1.0, self.alpha * below)


class Gelu(Function):
    """Gaussian error linear unit, z = x Phi(x) with Phi the standard normal CDF.

    exact (approximate=False):  Phi(x) = (1 + erf(x / sqrt 2)) / 2
        dz/dx = Phi(x) + x phi(x),   phi(x) = e^(-x^2/2) / sqrt(2 pi)
    approximate=True:  z = x (1 + tanh(u)) / 2,  u = sqrt(2/pi) (x + 0.044715 x^3)
        dz/dx = (1 + t) / 2 + x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2,   t = tanh(u)
    """
    def forward(self, x, approximate=False):
        self.approximate = approximate
        xp = xp_of(x)
        if approximate:
            return 0.5 * x * (1 + xp.tanh(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x)))
        return (0.5 * x * (1 + erf_array(x / math.sqrt(2.0)))).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        if self.approximate:
            t = Tanh.apply(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x))
            du = SQRT_2_OVER_PI * (1 + 3 * GELU_CUBIC * x * x)
            return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)
        cdf = 0.5 * (1 + Erf.apply(x * (1 / math.sqrt(2.0))))
        pdf = (x * x * -0.5).exp() * (TWO_OVER_SQRT_PI / (2 * math.sqrt(2.0)))   # 1/sqrt(2 pi)
        return g * (cdf + x * pdf)


class Silu(Function):
    """z = x sigmoid(x) (silu = swish).   dz/dx = s + x s (1 - s),  s = sigmoid(x)"""
    def forward(self, x):
        return x * Sigmoid().forward(x)

    def backward(self, g):
        x = self.inputs[0]
        s = Sigmoid.apply(x)
        return g * (s + x * s * (1 - s))


class Mish(Function):
    """z = x tanh(softplus(x)) (Misra 2019).   dz/dx = t + x (1 - t^2) sigmoid(x),  t = tanh(softplus(x))"""
    def forward(self, x):
        return x * xp_of(x).tanh(Softplus().forward(x))

    def backward(self, g):
        x = self.inputs[0]
        t = Tanh.apply(Softplus.apply(x))
        return g * (t + x * (1 - t * t) * Sigmoid.apply(x))


class Relu6(Function):
    """z = min(max(x, 0), 6).   dz/dx = 1 for 0 < x < 6, else 0 (0 at both kinks, as PyTorch)"""
    def forward(self, x):
        return xp_of(x).clip(x, 0, 6)

    def backward(self, g):
        x = self.inputs[0].data
        return g * constant(((x > 0) & (x < 6)).astype(g.dtype))


class LogSigmoid(Function):
    """z = ln sigmoid(x) = -softplus(-x), finite for any x.   dz/dx = 1 - sigmoid(x) = sigmoid(-x)"""
    def forward(self, x):
        return -Softplus().forward(-x)

    def backward(self, g):
        return g * Sigmoid.apply(-self.inputs[0])


# ----------------------------------------------------------------------------- entry points

def elu(x, alpha=1.0):
    return Elu.apply(x, alpha=float(alpha))


def selu(x):
    """z = scale * elu(x, alpha) with Klambauer et al.'s constants.   dz/dx = scale * elu'(x)"""
    return elu(x, SELU_ALPHA) * SELU_SCALE


def gelu(x, approximate=False):
    return Gelu.apply(x, approximate=bool(approximate))


def silu(x):
    return Silu.apply(x)


swish = silu


def mish(x):
    return Mish.apply(x)


def softsign(x):
    """z = x / (1 + |x|).   dz/dx = 1 / (1 + |x|)^2"""
    return x / (x.abs() + 1)


def relu6(x):
    return Relu6.apply(x)


def hard_sigmoid(x):
    """Keras 3: z = relu6(x + 3) / 6.   dz/dx = 1/6 for -3 < x < 3, else 0"""
    return relu6(x + 3.0) * (1.0 / 6.0)


def hard_silu(x):
    """z = x * hard_sigmoid(x) (hard_swish).   dz/dx = 0 for x <= -3, (2x + 3)/6 inside, 1 for x >= 3"""
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def log_sigmoid(x):
    return LogSigmoid.apply(x)


def exponential(x):
    """Keras' name for e^x.   dz/dx = e^x"""
    return exp(x)


def softmin(x, axis=-1):
    """softmax(-x): the weights favour the smallest entries.   dz/dx = -softmax'(-x)"""
    return softmax(-x, axis=axis)

