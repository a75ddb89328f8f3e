"""More elementwise functions of one tensor: trigonometric, hyperbolic, erf, logs and powers of 2.

Each op's docstring gives its derivative; the backward writes it with Tensor ops, so every
one of them can be differentiated again (create_graph=True). Inputs outside an op's domain
give NaN as in NumPy (arcsin(2)), and so do their gradients.
"""
from __future__ import annotations

import math

from ..function import Function, xp_of

__all__ = ["sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arctanh",
           "erf", "exp2", "log2", "log10", "log1p"]


# ----------------------------------------------------------------------------- trigonometric

class Sin(Function):
    """z = sin x.   dz/dx = cos x"""
    def forward(self, x):
        return xp_of(x).sin(x)

    def backward(self, g):
        return g * Cos.apply(self.inputs[0])


class Cos(Function):
    """z = cos x.   dz/dx = -sin x"""
    def forward(self, x):
        return xp_of(x).cos(x)

    def backward(self, g):
        return -g * Sin.apply(self.inputs[0])


class Tan(Function):
    """z = tan x.   dz/dx = 1 / cos^2 x = 1 + z^2"""
    backward_reads_inputs = False

    def forward(self, x):
        self.z = xp_of(x).tan(x)
        return self.z

    def backward(self, g):
        z = self.output(self.z)
        return g * (1 + z * z)


class Arcsin(Function):
    """z = arcsin x, for -1 <= x <= 1.   dz/dx = 1 / sqrt(1 - x^2)"""
    def forward(self, x):
        return xp_of(x).arcsin(x)

    def backward(self, g):
        x = self.inputs[0]
        return g / (1 - x * x).sqrt()


class Arccos(Function):
    """z = arccos x, for -1 <= x <= 1.   dz/dx = -1 / sqrt(1 - x^2)"""
    def forward(self, x):
        return xp_of(x).arccos(x)

    def backward(self, g):
        x = self.inputs[0]
        return -g / (1 - x * x).sqrt()


class Arctan(Function):
    """z = arctan x.   dz/dx = 1 / (1 + x^2)"""
    def forward(self, x):
        return xp_of(x).arctan(x)

    def backward(self, g):
        x = self.inputs[0]
        return g / (1 + x * x)


# ----------------------------------------------------------------------------- hyperbolic

class Sinh(Function):
    """z = sinh x = (e^x - e^-x) / 2.   dz/dx = cosh x"""
    def forward(self, x):
        return xp_of(x).sinh(x)

    def backward(self, g):
        return g * Cosh.apply(self.inputs[0])


class Cosh(Function):
    """z = cosh x = (e^x + e^-x) / 2.   dz/dx = sinh x"""
    def forward(self, x):
        return xp_of(x).cosh(x)

    def backward(self, g):
        return g * Sinh.apply(self.inputs[0])


class Arcsinh(Function):
    """z = arcsinh x = ln(x + sqrt(x^2 + 1)).   dz/dx = 1 / sqrt(x^2 + 1)"""
    def forward(self, x):
        return xp_of(x).arcsinh(x)

    def backward(self, g):
        x = self.inputs[0]
        return g / (x * x + 1).sqrt()


class Arctanh(Function):
    """z = arctanh x = ln((1 + x) / (1 - x)) / 2, for -1 < x < 1.   dz/dx = 1 / (1 - x^2)"""
    def forward(self, x):
        return xp_of(x).arctanh(x)

    def backward(self, g):
        x = self.inputs[0]
        return g / (1 - x * x)


# ----------------------------------------------------------------------------- erf

TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def erf_array(x):
    """erf of an array with xp only (NumPy has no erf, and minigrad needs no SciPy).

    |x| <= 3: the series erf(x) = 2/sqrt(pi) e^(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1))
              (Abramowitz & Stegun 7.1.6): every term is positive, so nothing cancels; its
              terms shrink once n > x^2, and 60 of them reach float64 precision at |x| = 3.
    |x| > 3:  erf(x) = 1 - erfc(x), with erfc from Laplace's continued fraction
              erfc(x) = e^(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
              (A&S 7.1.14), evaluated bottom-up from 40 levels; erfc(3) ~ 2e-5, so 1 - erfc
              loses nothing. Both are float64-accurate (checked against math.erf in the tests).
    """
    xp = xp_of(x)
    a = xp.abs(x)
    small = xp.minimum(a, 3.0)                  # each formula only sees the inputs it is for
    large = xp.maximum(a, 3.0)
    term = small.copy()
    total = small.copy()
    for n in range(1, 60):
        term = term * (2 * small * small) / (2 * n + 1)
        total = total + term
    series = TWO_OVER_SQRT_PI * xp.exp(-small * small) * total
    fraction = large
    for k in range(40, 0, -1):
        fraction = large + (k / 2) / fraction
    tail = 1 - xp.exp(-large * large) / math.sqrt(math.pi) / fraction
    return xp.sign(x) * xp.where(a <= 3.0, series, tail)


class Erf(Function):
    """z = erf x = 2/sqrt(pi) * integral_0^x e^(-t^2) dt.   dz/dx = 2/sqrt(pi) e^(-x^2)"""
    def forward(self, x):
        return erf_array(x).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        return g * TWO_OVER_SQRT_PI * (-(x * x)).exp()


# ----------------------------------------------------------------------------- powers and logs

LN2, LN10 = math.log(2.0), math.log(10.0)


class Exp2(Function):
    """z = 2^x.   dz/dx = 2^x ln 2 = z ln 2"""
    backward_reads_inputs = False

    def forward(self, x):
        self.z = xp_of(x).exp2(x)
        return self.z

    def backward(self, g):
        return g * self.output(self.z) * LN2


class Log2(Function):
    """z = log2 x.   dz/dx = 1 / (x ln 2)"""
    def forward(self, x):
        return xp_of(x).log2(x)

    def backward(self, g):
        return g / (self.inputs[0] * LN2)


class Log10(Function):
    """z = log10 x.   dz/dx = 1 / (x ln 10)"""
    def forward(self, x):
        return xp_of(x).log10(x)

    def backward(self, g):
        return g / (self.inputs[0] * LN10)


class Log1p(Function):
    """z = ln(1 + x), accurate for tiny x where log(1 + x) rounds 1 + x.   dz/dx = 1 / (1 + x)"""
    def forward(self, x):
        return xp_of(x).log1p(x)

    def backward(self, g):
        return g / (1 + self.inputs[0])


# ----------------------------------------------------------------------------- entry points

def sin(x):
    return Sin.apply(x)


def cos(x):
    return Cos.apply(x)


def tan(x):
    return Tan.apply(x)


def arcsin(x):
    return Arcsin.apply(x)


def arccos(x):
    return Arccos.apply(x)


def arctan(x):
    return Arctan.apply(x)


def sinh(x):
    return Sinh.apply(x)


def cosh(x):
    return Cosh.apply(x)


def arcsinh(x):
    return Arcsinh.apply(x)


def arctanh(x):
    return Arctanh.apply(x)


def erf(x):
    return Erf.apply(x)


def exp2(x):
    return Exp2.apply(x)


def log2(x):
    return Log2.apply(x)


def log10(x):
    return Log10.apply(x)


def log1p(x):
    return Log1p.apply(x)
