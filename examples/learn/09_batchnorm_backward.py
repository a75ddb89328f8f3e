# %% [markdown]
# # 9. Batch normalisation and its backward
#
# Batch normalisation standardises each feature over the batch, then rescales it with learned
# $\gamma$, $\beta$ (Ioffe & Szegedy 2015). For a batch $x$ of shape (N, D), per feature:
#
# $$\mu = \tfrac1N \sum_n x_n, \quad \sigma^2 = \tfrac1N \sum_n (x_n - \mu)^2, \quad
# \hat x_n = \frac{x_n - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad y_n = \gamma \hat x_n + \beta .$$
#
# The backward is the interesting part: every $\hat x_n$ depends on *every* $x_m$ of the
# batch, through $\mu$ and $\sigma$. With $g_n = \partial L / \partial y_n$ and
# $s = 1/\sqrt{\sigma^2 + \epsilon}$, the chain rule through $\mu$ and $\sigma^2$ (one
# feature; sums over the batch) simplifies to
#
# $$\frac{\partial L}{\partial \beta} = \sum_n g_n, \qquad
# \frac{\partial L}{\partial \gamma} = \sum_n g_n \hat x_n, \qquad
# \frac{\partial L}{\partial x_n} = \frac{\gamma s}{N} \Big( N g_n - \sum_m g_m - \hat x_n \sum_m g_m \hat x_m \Big).$$
#
# The two subtracted terms remove from $g$ its mean and its component along $\hat x$: moving
# all of a feature's inputs together, or scaling them, does not change $\hat x$ at all, so
# the gradient can have no part along those directions.

# %%
import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad.engine.function import Function, constant
from minigrad.testing import check_arrays, check_gradients

rng = np.random.default_rng(0)
pre = rng.normal(loc=[3.0, -1.0, 0.0], scale=[4.0, 0.3, 1.0], size=(256, 3))    # 3 features, different scales
moving_mean, moving_var = mg.zeros(3, dtype="float64"), mg.ones(3, dtype="float64")
post = F.batch_norm(mg.tensor(pre), moving_mean, moving_var, training=True, epsilon=1e-3).numpy()
fig, axes = plt.subplots(1, 2, figsize=(9, 3), sharey=True)
for d in range(3):
    axes[0].hist(pre[:, d], bins=40, alpha=0.6, label=f"feature {d}")
    axes[1].hist(post[:, d], bins=40, alpha=0.6, label=f"feature {d}")
axes[0].set_title("before: each feature its own mean and scale")
axes[1].set_title("after batch norm: mean 0, variance 1")
axes[0].legend()
plt.show()
print("after: means", post.mean(0).round(6) + 0.0, " variances", post.var(0).round(4),
      "(below 1 for feature 1: its variance, 0.09, is small next to the epsilon 1e-3 added to it)")

# %% [markdown]
# ## Exercise 9a: BatchNorm's backward
#
# `BatchNorm` below computes the forward and keeps $\hat x$ and $s$. Write the backward from
# the three formulas, with Tensor operations: `g`, `gamma` are Tensors; `xhat` and `s` are
# wrapped with `constant(...)` for you (they are saved arrays); `.sum(axis=0)` sums over the batch.

# %% tags=["exercise"]
# Exercise 9a: BatchNorm's backward
class BatchNorm(Function):
    """y = gamma * xhat + beta, xhat = (x - mean) * s, s = 1/sqrt(var + eps), over axis 0.
    dL/dbeta = sum g, dL/dgamma = sum g xhat, dL/dx = gamma s / N (N g - sum g - xhat sum g xhat)"""

    def forward(self, x, gamma, beta, eps=1e-3):
        mean = x.mean(axis=0)
        self.s = 1.0 / np.sqrt(x.var(axis=0) + eps)
        self.xhat = (x - mean) * self.s
        return gamma * self.xhat + beta

    def backward(self, g):
        x, gamma, beta = self.inputs
        xhat, s, n = constant(self.xhat), constant(self.s), x.shape[0]
        raise NotImplementedError("Exercise 9a: return (dL/dx, dL/dgamma, dL/dbeta)")


# %% tags=["check"]
x = mg.tensor(rng.normal(size=(6, 3)) * 2 + 1, requires_grad=True)
gamma = mg.tensor(rng.normal(size=(3,)), requires_grad=True)
beta = mg.tensor(rng.normal(size=(3,)), requires_grad=True)
check_gradients(BatchNorm, x, gamma, beta, name="Exercise 9a (BatchNorm)")

# %% [markdown]
# The forward is given, but compare it with minigrad's fused node once (a check that needs
# no exercise):

# %%
check_arrays(BatchNorm.apply(x, gamma, beta), F.batch_norm(x, mg.zeros(3, dtype="float64"), mg.ones(3, dtype="float64"),
                                                             gamma, beta, training=True, epsilon=1e-3),
             what="BatchNorm's forward", against="F.batch_norm's")

# %% [markdown]
# minigrad's batch norm (`minigrad/engine/ops/normalization.py`) is this node for NCHW and any
# axis, plus the moving statistics used at inference. Next: [the reparameterisation
# trick](10_reparameterisation.ipynb).
