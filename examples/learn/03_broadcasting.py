# %% [markdown]
# # 3. Broadcasting, and undoing it in the backward pass
#
# NumPy (and minigrad) let `x + y` combine a column `x` of shape (3, 1) with a row `y` of
# shape (4,): both are *broadcast* to (3, 4). The rule, from the last axis backwards: two
# sides are compatible when they are equal or one of them is 1; a missing axis counts as 1.
# Broadcasting copies: every element of `y` is used in 3 places of the result.
#
# An input used in several places receives the sum of the gradients of all those places
# (the chain rule adds up the paths). So the gradient of a broadcast input is the upstream
# gradient **summed over the axes that broadcasting added or stretched**. That sum is
# called *unbroadcast*; in minigrad it happens in one place, the backward walk, so no op has to
# think about it.

# %%
import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
from minigrad.testing import broadcastable_shapes, check_gradients, check_property

x = mg.tensor(np.array([[1.0], [2.0], [3.0]]), requires_grad=True)       # (3, 1)
y = mg.tensor(np.array([10.0, 20.0, 30.0, 40.0]), requires_grad=True)    # (4,)
s = x + y                                                                 # (3, 4)
s.sum().backward()
print("x + y =\n", s.numpy())
print("x.grad", x.grad.numpy().ravel(), "  (each x is used 4 times)")
print("y.grad", y.grad.numpy(), "  (each y is used 3 times)")

# %% [markdown]
# The picture: the column and the row, stretched (faded) to the result's shape. The gradient of
# `x` sums each row of the upstream gradient, the gradient of `y` each column.

# %%
fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for ax, data, title in [(axes[0], np.broadcast_to(x.numpy(), (3, 4)), "x (3, 1) broadcast"),
                        (axes[1], np.broadcast_to(y.numpy(), (3, 4)), "y (4,) broadcast"),
                        (axes[2], s.numpy(), "x + y (3, 4)")]:
    ax.imshow(data, cmap="viridis")
    for (i, j), v in np.ndenumerate(data):
        ax.text(j, i, f"{v:g}", ha="center", va="center", color="white", fontsize=8)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
axes[0].add_patch(plt.Rectangle((-0.5, -0.5), 1, 3, fill=False, color="red", lw=2))
axes[1].add_patch(plt.Rectangle((-0.5, -0.5), 4, 1, fill=False, color="red", lw=2))
plt.show()

# %% [markdown]
# ## Exercise 3a: unbroadcast
#
# Write `unbroadcast(grad, shape)`: sum the NumPy array `grad` (of the broadcast shape) down to
# `shape`. Two steps: sum away the leading axes that `shape` does not have, then sum (with
# `keepdims=True`) every axis where `shape` has a 1 and `grad` does not.
#
# The check is a *property*, tried by hypothesis on many pairs of shapes that broadcast
# together: unbroadcast is the adjoint of broadcasting, so for any `a` of `shape` and any `g`
# of the broadcast shape, $\langle \mathrm{unbroadcast}(g), a \rangle = \langle g,
# \mathrm{broadcast}(a) \rangle$, and the result has exactly `shape`.

# %% tags=["exercise"]
# Exercise 3a: unbroadcast
def unbroadcast(grad, shape):
    """Sum grad (a NumPy array of the broadcast shape) down to `shape`."""
    raise NotImplementedError("Exercise 3a: sum grad over the axes that broadcasting added or stretched")


# %% tags=["check"]
def adjoint_of_broadcasting(shapes):
    """unbroadcast(g, shape) has `shape` and is the adjoint of broadcasting"""
    shape, other = shapes
    full = np.broadcast_shapes(shape, other)
    rng = np.random.default_rng(0)
    a, g = rng.normal(size=shape), rng.normal(size=full)
    result = np.asarray(unbroadcast(g, shape))
    assert result.shape == shape, f"unbroadcast(g of shape {full}, {shape}) has shape {result.shape}"
    left, right = np.sum(result * a), np.sum(g * np.broadcast_to(a, full))
    assert np.isclose(left, right), f"<unbroadcast(g), a> = {left:.6g} but <g, broadcast(a)> = {right:.6g}"


check_property(adjoint_of_broadcasting, broadcastable_shapes(2, max_dims=3, max_side=3))

# %% [markdown]
# ## Exercise 3b: a broadcasting product's gradients
#
# For $z = x y$ with broadcasting, the gradients *before* unbroadcasting are $g y$ and $g x$, of
# the broadcast shape. Write `mul_gradients(g, x, y)` returning them already summed down to the
# shapes of `x` and `y` (with your `unbroadcast`). The check compares them with finite
# differences of $L = \sum x y$ (so $g$ is all ones).

# %% tags=["exercise"]
# Exercise 3b: the gradients of a broadcasting product
def mul_gradients(g, x, y):
    """(dL/dx, dL/dy) for z = x * y, of x's and y's shapes; g = dL/dz has the broadcast shape."""
    raise NotImplementedError("Exercise 3b: g * y and g * x, each unbroadcast to its input's shape")


# %% tags=["check"]
rng = np.random.default_rng(1)
col = mg.tensor(rng.normal(size=(3, 1)), requires_grad=True)
row = mg.tensor(rng.normal(size=(2, 1, 4)), requires_grad=True)
check_gradients(lambda x, y: x * y, col, row, name="Exercise 3b",
                analytic=lambda x, y: mul_gradients(np.ones(np.broadcast_shapes(x.shape, y.shape)), x, y))

# %% [markdown]
# Next: [the topological walk](04_topological_walk.ipynb), the loop that calls every backward in
# the right order.
