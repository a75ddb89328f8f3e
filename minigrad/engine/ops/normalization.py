"""Batch normalisation as one fused node (training mode), and its inference form.

Per channel c (the `axis`), over the n values of that channel in the batch (every other axis):

    mean = sum(x) / n,   var = sum((x - mean)^2) / n          (biased, as Keras and PyTorch)
    xhat = (x - mean) * rstd,   rstd = 1 / sqrt(var + epsilon)
    y    = gamma * xhat + beta

Composed from elementwise ops and reductions this is a dozen nodes and as many full-size
temporaries; fused, the forward makes xhat once and keeps it for the backward:

    dL/dbeta  = sum(g)
    dL/dgamma = sum(g * xhat)
    dL/dx     = gamma * rstd * (g - sum(g)/n - xhat * sum(g * xhat)/n)

(the last line because mean and var depend on every x of the channel: d xhat_i/d x_j =
rstd * (delta_ij - 1/n - xhat_i * xhat_j / n); see Ioffe & Szegedy 2015, section 3).
`backward` writes that with Tensor ops, recomputing xhat from x, so with create_graph=True
the gradient is itself differentiable; `backward_arrays` is the same formula on arrays,
reusing the saved xhat (the common, unrecorded case).

At inference the statistics are constants, so batch norm is a per-channel affine map,
y = x * scale + shift with scale = gamma * rstd and shift = beta - mean * scale: two
full-size ops, composed, whose gradients come from the chain rule.
"""
from __future__ import annotations

from .. import autograd, backend
from ..function import Function, constant, xp_of
from ..tensor import Tensor

__all__ = ["batch_norm"]


def _layout(ndim, axis):
    """The axes to reduce over and the shape that broadcasts a per-channel vector."""
    reduce_axes = tuple(a for a in range(ndim) if a != axis)
    return reduce_axes, tuple(-1 if a == axis else 1 for a in range(ndim))


class BatchNorm(Function):
    """y = gamma * (x - mean) / sqrt(var + epsilon) + beta, batch statistics over all axes but `axis`.

    Derivatives (module docstring):  dL/dx = gamma*rstd*(g - mean(g) - xhat*mean(g*xhat)),
    dL/dgamma = sum(g*xhat), dL/dbeta = sum(g).
    `batch_stats` is a dict the forward fills with the batch's mean and (biased) variance as
    per-channel arrays, for the caller's moving averages.
    """
    def forward(self, x, gamma, beta, axis, epsilon, batch_stats):
        xp = xp_of(x)
        self.axis, self.epsilon = axis, epsilon
        reduce_axes, shape = _layout(x.ndim, axis)
        mean = x.mean(axis=reduce_axes, keepdims=True)
        xhat = x - mean
        var = (xhat * xhat).mean(axis=reduce_axes, keepdims=True)
        rstd = 1.0 / xp.sqrt(var + epsilon)
        xhat *= rstd                                    # in place: x - mean is not needed again
        self.xhat, self.rstd = xhat, rstd
        batch_stats["mean"], batch_stats["var"] = mean.reshape(-1), var.reshape(-1)
        y = xhat * gamma.reshape(shape)
        y += beta.reshape(shape)
        return y

    def backward(self, g):
        """The reference: the same formula in Tensor ops, xhat recomputed from x (differentiable)."""
        x, gamma, _ = self.inputs
        need_x, need_gamma, need_beta = self.needs_input_grad
        reduce_axes, shape = _layout(x.ndim, self.axis)
        mean = x.mean(axis=reduce_axes, keepdims=True)
        centered = x - mean
        rstd = ((centered * centered).mean(axis=reduce_axes, keepdims=True) + self.epsilon) ** -0.5
        xhat = centered * rstd
        g_beta = g.sum(axis=reduce_axes, keepdims=True)
        g_gamma = (g * xhat).sum(axis=reduce_axes, keepdims=True)
        g_x = None
        if need_x:
            n = x.size // x.shape[self.axis]
            g_x = (g - g_beta * (1.0 / n) - xhat * (g_gamma * (1.0 / n))) * (gamma.reshape(shape) * rstd)
        return (g_x, g_gamma.reshape(-1) if need_gamma else None,
                g_beta.reshape(-1) if need_beta else None)

    def backward_arrays(self, g):
        gamma = self.inputs[1].data
        need_x, need_gamma, need_beta = self.needs_input_grad
        reduce_axes, shape = _layout(g.ndim, self.axis)
        xhat = self.xhat
        g_beta = g.sum(axis=reduce_axes, keepdims=True)
        g_gamma = (g * xhat).sum(axis=reduce_axes, keepdims=True)
        g_x = None
        if need_x:
            n = g.size // g.shape[self.axis]
            g_x = g - g_beta * (1.0 / n)
            g_x -= xhat * (g_gamma * (1.0 / n))
            g_x *= gamma.reshape(shape) * self.rstd
        return (g_x, g_gamma.reshape(-1) if need_gamma else None,
                g_beta.reshape(-1) if need_beta else None)


def batch_norm_training(x, gamma, beta, axis, epsilon):
    """(y, batch mean, batch variance): the fused training-mode node; the statistics are arrays."""
    stats = {}
    y = BatchNorm.apply(x, gamma, beta, axis=axis, epsilon=epsilon, batch_stats=stats)
    return y, stats["mean"], stats["var"]


def batch_norm_inference(x, mean, var, gamma, beta, axis, epsilon):
    """y = x * scale + shift, scale = gamma / sqrt(var + epsilon), shift = beta - mean * scale.

    mean and var are per-channel Tensors that carry no gradient (the moving statistics);
    gamma and beta may require one. Composed, so its gradients come from the chain rule.
    """
    _, shape = _layout(x.ndim, axis)
    scale = (var + epsilon) ** -0.5
    if gamma is not None:
        scale = scale * gamma
    shift = -mean * scale
    if beta is not None:
        shift = shift + beta
    return x * scale.reshape(shape) + shift.reshape(shape)


# ---------------------------------------------------------------------- the entry point

def batch_norm(x: Tensor, moving_mean: Tensor, moving_var: Tensor, gamma: Tensor | None = None,
               beta: Tensor | None = None, training: bool = True, momentum: float = 0.99,
               epsilon: float = 1e-3, axis: int = 1) -> Tensor:
    """Normalise each channel (`axis`) to zero mean and unit variance, then scale and shift.

    y = gamma * (x - mean) / sqrt(var + epsilon) + beta

    training=True uses the batch's statistics (over every axis but `axis`) and updates the
    moving statistics in place with Keras' convention:
        moving = momentum * moving + (1 - momentum) * batch
    training=False uses the moving statistics. Variances are the biased (1/n) ones, as Keras.
    """
    axis = axis % x.ndim
    if moving_mean.device != x.device or moving_var.device != x.device:
        raise RuntimeError(f"batch_norm: input on {x.device} but moving statistics on "
                           f"{moving_mean.device}/{moving_var.device}; move them with .to('{x.device}')")
    if moving_mean.shape != (x.shape[axis],):
        raise ValueError(f"batch_norm: input of shape {x.shape} has {x.shape[axis]} channels on axis "
                         f"{axis}, but the moving statistics have shape {moving_mean.shape}")
    if not training:
        return batch_norm_inference(x, moving_mean, moving_var, gamma, beta, axis, epsilon)
    if x.size == x.shape[axis]:
        raise ValueError(f"batch_norm: training needs more than one value per channel, got input "
                         f"of shape {x.shape}")
    xp = backend.xp_of(x.data)
    with backend.device_context(x.device):          # the fused node takes gamma and beta always
        if gamma is None:
            gamma = constant(xp.ones(x.shape[axis], dtype=x.dtype))
        if beta is None:
            beta = constant(xp.zeros(x.shape[axis], dtype=x.dtype))
    y, mean, var = batch_norm_training(x, gamma, beta, axis, epsilon)
    with autograd.no_grad():
        moving_mean.data = (momentum * moving_mean.data + (1 - momentum) * mean).astype(moving_mean.dtype)
        moving_var.data = (momentum * moving_var.data + (1 - momentum) * var).astype(moving_var.dtype)
    return y

