# %% [markdown]
# # 6. A Dense layer
#
# A Dense (fully connected) layer maps a batch $X$ of shape (N, D) to $Y = X W + b$, with
# $W$ of shape (D, U) and $b$ of shape (U,): every output unit sees every input feature. With
# $G = \partial L / \partial Y$ (shape (N, U)), the chain rule through the matrix product gives
#
# $$\frac{\partial L}{\partial X} = G W^\top \;(N, D), \qquad
# \frac{\partial L}{\partial W} = X^\top G \;(D, U), \qquad
# \frac{\partial L}{\partial b} = \sum_n G_{n\cdot} \;(U,).$$
#
# A way to remember them: each is the only product of $G$ with the other factor that has the
# right shape. The bias is broadcast over the batch, so its gradient sums over the batch (the
# unbroadcast of notebook 3).

# %%
import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
from minigrad import nn
from minigrad.engine.function import Function
from minigrad.testing import check_gradients

layer = nn.Dense(3, activation="tanh")
x = mg.tensor(np.random.default_rng(0).normal(size=(5, 4)), dtype="float32")
y = layer(x)                                   # the layer learns its input size (4) on first call
print("kernel", layer.kernel.shape, " bias", layer.bias.shape, " output", y.shape)
(y ** 2).sum().backward()
print("dL/dkernel has the kernel's shape:", layer.kernel.grad.shape)

# %% [markdown]
# What a Dense layer does to its inputs: each output unit is a weighted sum of the inputs, then
# the activation. Below, a Dense(2 → 3, tanh) layer with random weights maps a grid of 2-D
# points; each panel colours the plane by one unit's output. Each unit cuts the plane along a
# line (where $x \cdot w_u + b_u = 0$) and saturates away from it.

# %%
mg.manual_seed(0)
unit_layer = nn.Dense(3, activation="tanh")
grid = np.stack(np.meshgrid(np.linspace(-3, 3, 121), np.linspace(-3, 3, 121)), axis=-1).reshape(-1, 2)
out = unit_layer(mg.tensor(grid, dtype="float32")).numpy()
fig, axes = plt.subplots(1, 3, figsize=(9.5, 3))
for u, ax in enumerate(axes):
    ax.imshow(out[:, u].reshape(121, 121), origin="lower", extent=(-3, 3, -3, 3), cmap="coolwarm",
              vmin=-1, vmax=1)
    ax.set_title(f"unit {u}")
plt.show()

# %% [markdown]
# ## Exercise 6a: the Dense node's backward
#
# `Linear` computes $X W + b$ in one node (minigrad's Dense uses such a fused node). Write its
# backward from the three formulas above. Tensors have `.T` (transpose), `@` (matrix product)
# and `.sum(axis=...)`.

# %% tags=["exercise"]
# Exercise 6a: Linear's backward
class Linear(Function):
    """Y = X @ W + b.   dL/dX = G W^T,  dL/dW = X^T G,  dL/db = sum over the batch of G"""

    def forward(self, x, w, b):
        return x @ w + b

    def backward(self, g):
        x, w, b = self.inputs
        raise NotImplementedError("Exercise 6a: return (dL/dX, dL/dW, dL/db)")


# %% tags=["check"]
rng = np.random.default_rng(1)
X = mg.tensor(rng.normal(size=(5, 4)), requires_grad=True)
W = mg.tensor(rng.normal(size=(4, 3)), requires_grad=True)
b = mg.tensor(rng.normal(size=(3,)), requires_grad=True)
check_gradients(Linear, X, W, b, name="Exercise 6a (Linear)")

# %% [markdown]
# (If you return `g` itself for the bias, the check still passes: the engine sums a gradient
# of the broadcast shape down to the input's shape, as notebook 3 showed. Summing it yourself
# says what the math is.) Next: [a training loop and an optimizer](07_training_loop.ipynb).
