"""The fused loss nodes: binary cross-entropy from logits and from probabilities.

They are the hot losses of the VAE and the GAN, so each is one node instead of the nine or
so of its composition, and each has a backward_arrays: the derivative on the saved arrays,
with in-place ops, used whenever the backward is not itself recorded. ``backward`` is the
same derivative with Tensor ops, the form create_graph=True records. minigrad.losses adds
the Keras interface (targets, shapes, reductions) on top.
"""
from __future__ import annotations

from ..function import Function, xp_of
from .elementwise import Sigmoid, _exp_floor

__all__ = []        # no public names: use minigrad.losses.binary_crossentropy

EPSILON = 1e-7      # Keras' backend epsilon: the clip margin of the probability form


class BinaryCrossentropyWithLogits(Function):
    """Elementwise l = -(y log sigmoid(z) + (1-y) log(1 - sigmoid(z))), from logits z.

    Written as l = max(z, 0) (1 - y) + max(-z, 0) y + log(1 + e^-|z|)  (= max(z, 0) - z y + ...):
    the exponent is never positive, so nothing overflows for any z, and e^-|z| is set to 0
    where it would underflow. A term whose weight is exactly 0 is 0 even at z = +-inf, so an
    infinite logit gives the exact limit (0 for the right hard label, inf for the wrong one),
    never inf - inf = NaN.
        dl/dz = sigmoid(z) - y,     dl/dy = -z
    sigmoid(z) = (1 if z >= 0 else e^-|z|) / (1 + e^-|z|) reuses forward's e^-|z|.
    """
    def forward(self, z, y):
        xp = xp_of(z)
        limit = _exp_floor(z.dtype)
        e = xp.abs(z)
        beyond = e > limit
        xp.minimum(e, limit, out=e)
        xp.negative(e, out=e)
        xp.exp(e, out=e)                               # e = e^-|z|, in (0, 1]
        e[beyond] = 0                                  # exactly 0 where it would underflow
        self.e = e
        out = xp.log1p(e)
        positive = xp.maximum(z, 0)
        out += xp.where(y == 1, 0, positive * (1 - y))  # max(z, 0) (1 - y), 0 when y = 1
        negative = xp.maximum(-z, 0)
        out += xp.where(y == 0, 0, negative * y)        # max(-z, 0) y, 0 when y = 0
        return out

    def backward(self, g):
        z, y = self.inputs
        need_z, need_y = self.needs_input_grad
        return (g * (Sigmoid.apply(z) - y) if need_z else None), (g * -z if need_y else None)

    def backward_arrays(self, g):
        z, y = self.inputs[0].data, self.inputs[1].data
        need_z, need_y = self.needs_input_grad
        g_z = g_y = None
        if need_z:
            xp = xp_of(self.e)
            s = xp.maximum(self.e, z >= 0)             # 1 where z >= 0, else e^-|z|
            s /= 1 + self.e                            # sigmoid(z)
            s -= y
            s *= g
            g_z = s
        if need_y:
            g_y = g * -z
        return g_z, g_y


class BinaryCrossentropyFromProbs(Function):
    """Elementwise l = -(y log p' + (1-y) log(1 - p')) with p' = clip(p, eps, 1 - eps).

        dl/dp = (p' - y) / (p' (1 - p'))  where eps <= p <= 1 - eps, else 0 (the clip)
        dl/dy = log(1 - p') - log p'
    One node instead of nine: the reconstruction loss of a sigmoid-output VAE.
    """
    def forward(self, p, y, eps=EPSILON):
        xp = xp_of(p)
        self.eps = eps
        self.pc = pc = xp.clip(p, eps, 1 - eps)
        log_q = xp.negative(pc)
        xp.log1p(log_q, out=log_q)                     # log(1 - p')
        out = xp.log(pc)
        out -= log_q
        out *= y
        out += log_q                                   # y log p' + (1 - y) log(1 - p')
        xp.negative(out, out=out)
        return out

    def backward(self, g):
        p, y = self.inputs
        need_p, need_y = self.needs_input_grad
        pc = p.clip(self.eps, 1 - self.eps)            # through clip: its mask, its 2nd derivative
        g_p = g * (pc - y) / (pc * (1 - pc)) if need_p else None
        return g_p, (g * ((1 - pc).log() - pc.log()) if need_y else None)

    def backward_arrays(self, g):
        p, y = self.inputs[0].data, self.inputs[1].data
        need_p, need_y = self.needs_input_grad
        xp, pc = xp_of(self.pc), self.pc
        g_p = g_y = None
        if need_p:
            denominator = 1 - pc
            denominator *= pc
            d = pc - y
            d /= denominator
            d *= p == pc                               # 0 where the clip was active
            d *= g
            g_p = d
        if need_y:
            d = xp.log1p(-pc)
            d -= xp.log(pc)
            d *= g
            g_y = d
        return g_p, g_y
