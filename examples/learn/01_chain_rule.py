# %% [markdown]
# # 1. The chain rule on a scalar graph, by hand
#
# Backpropagation is the chain rule applied to a graph of small operations, in the order that
# lets every intermediate derivative be computed once. Before any engine, do it by hand.
#
# Take one neuron with a squared error:
#
# $$z = w x + b, \qquad p = \sigma(z) = \frac{1}{1 + e^{-z}}, \qquad L = (p - y)^2 .$$
#
# Each line is a node of a graph; each node knows only its own local derivative:
#
# $$\frac{\partial L}{\partial p} = 2 (p - y), \qquad \frac{\partial p}{\partial z} = p (1 - p),
# \qquad \frac{\partial z}{\partial w} = x, \quad \frac{\partial z}{\partial b} = 1, \quad
# \frac{\partial z}{\partial x} = w .$$
#
# The chain rule multiplies them along the path from $L$ back to each input:
# $\partial L / \partial w = 2 (p - y) \cdot p (1 - p) \cdot x$.
# Going *backwards* (from $L$ to the inputs) shares the common prefix $2(p-y)\,p(1-p)$ among all
# three inputs: that sharing is the whole trick of reverse mode.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
from minigrad.testing import check_gradients

x, w, b, y = 1.5, -0.8, 0.3, 1.0

# forward pass, keeping every intermediate value
z = w * x + b
p = 1 / (1 + math.exp(-z))
L = (p - y) ** 2

# backward pass: one local derivative per node, multiplied from the output back
dL_dp = 2 * (p - y)
dL_dz = dL_dp * p * (1 - p)          # the shared prefix
dL_dw, dL_db, dL_dx = dL_dz * x, dL_dz * 1.0, dL_dz * w
print(f"L = {L:.6f}   dL/dw = {dL_dw:.6f}   dL/db = {dL_db:.6f}   dL/dx = {dL_dx:.6f}")

# %% [markdown]
# The same graph in minigrad: every operation on a `Tensor` records a node, and `backward()`
# walks the graph from `L` to the leaves, applying exactly the local rules above.

# %%
tx, tw, tb = (mg.tensor(v, dtype="float64", requires_grad=True) for v in (x, w, b))
tL = ((tw * tx + tb).sigmoid() - y) ** 2
tL.backward()
print(f"minigrad:  dL/dw = {tw.grad.item():.6f}   dL/db = {tb.grad.item():.6f}   dL/dx = {tx.grad.item():.6f}")

# %% [markdown]
# A derivative is a slope. The figure shows $L$ as a function of $w$ (the other inputs fixed)
# and the tangent line whose slope is the $\partial L / \partial w$ computed by hand: it touches
# the curve at the current $w$.

# %%
ws = np.linspace(-4, 4, 200)
losses = (1 / (1 + np.exp(-(ws * x + b))) - y) ** 2
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(ws, losses, label="L(w)")
ax.plot(ws, L + dL_dw * (ws - w), "--", label=f"tangent, slope dL/dw = {dL_dw:.3f}")
ax.plot([w], [L], "o", color="black")
ax.set_ylim(-0.1, 1.1)
ax.set_xlabel("w")
ax.set_ylabel("L")
ax.legend()
plt.show()

# %% [markdown]
# ## Exercise 1a
#
# For $L = \tanh(w x + b)^2$ write $\partial L / \partial x$, $\partial L / \partial w$ and
# $\partial L / \partial b$ by hand. Name the intermediate values ($z = wx + b$, $t = \tanh z$),
# write each local derivative ($\tanh' z = 1 - t^2$), then multiply backwards from $L$.
# The check cell compares your three numbers with central finite differences of $L$ and says
# which one is off.

# %% tags=["exercise"]
# Exercise 1a: the chain rule by hand for L = tanh(w * x + b) ** 2
def grads_by_hand(x, w, b):
    """Return (dL/dx, dL/dw, dL/db) for L = tanh(w*x + b)**2, as floats."""
    raise NotImplementedError("Exercise 1a: write dL/dx, dL/dw and dL/db of L = tanh(w*x + b)**2")


# %% tags=["check"]
inputs = [mg.tensor(v, dtype="float64", requires_grad=True) for v in (0.7, -1.3, 0.4)]
check_gradients(lambda x, w, b: (w * x + b).tanh() ** 2, *inputs, analytic=grads_by_hand,
                name="Exercise 1a")

# %% [markdown]
# When the check fails it names the input (`x`, `w` or `b`), your number and the numerical
# one, and a hint when the numbers suggest one: a flipped sign, a factor of 2 (the square's),
# or two gradients swapped. Next: [a Tensor op with forward and backward](02_tensor_op.ipynb).
