# %% [markdown]
# # 2. A Tensor op: forward and backward
#
# In minigrad an op is one class, a `Function`, with two methods. `forward` gets the inputs'
# raw arrays and returns the output array. `backward` gets $g = \partial L / \partial z$, the
# gradient of the final loss with respect to this op's output, and returns one gradient per
# input, $\partial L / \partial x_i = g \cdot \partial z / \partial x_i$ (elementwise for
# elementwise ops). It never needs to know what $L$ is: the engine hands it $g$.
#
# Inside `backward`, `self.inputs` holds the input Tensors, and the gradients are written with
# Tensor operations (so they can be differentiated again, for gradients of gradients).
# Here is a complete op, the square $z = x^2$ with $\partial z/\partial x = 2x$:

# %%
import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
from minigrad.engine.function import Function
from minigrad.testing import check_gradients


class Square(Function):
    """z = x^2.   dz/dx = 2x"""

    def forward(self, x):
        return x * x

    def backward(self, g):
        x, = self.inputs
        return g * 2.0 * x


x = mg.tensor(np.linspace(-2, 2, 9), requires_grad=True)
z = Square.apply(x)
z.sum().backward()                     # L = sum(z), so g = 1 everywhere and x.grad = 2x
print("z      ", z.numpy())
print("x.grad ", x.grad.numpy())

# %% [markdown]
# How do we know a backward is right? Compare it with the slope measured numerically,
# $(L(x + \epsilon) - L(x - \epsilon)) / 2\epsilon$, for every element: that is
# `check_gradients`. It also says in plain words what is wrong. Here is a broken Square that
# forgot the 2:

# %% tags=["shows-a-failure"]
class BrokenSquare(Square):
    def backward(self, g):
        x, = self.inputs
        return g * x                       # the 2 is missing


x64 = mg.tensor(np.array([[0.5, -1.2, 2.0], [1.5, 0.3, -0.7]]), requires_grad=True)
print(check_gradients(Square, x64))
print(check_gradients(BrokenSquare, x64))

# %% [markdown]
# The figure shows the output of `Square.apply` and the gradient its backward produces,
# against the slope of the output measured between neighbouring points: the backward's
# curve lies on the measured one.

# %%
grid = mg.tensor(np.linspace(-2, 2, 81), requires_grad=True)
out = Square.apply(grid)
out.sum().backward()
xs = grid.numpy()
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(xs, out.numpy(), label="forward: z = x²")
ax.plot(xs, grid.grad.numpy(), label="backward: dz/dx")
ax.plot(xs[1:-1], (out.numpy()[2:] - out.numpy()[:-2]) / (xs[2:] - xs[:-2]), ":", lw=3,
        label="measured slope")
ax.set_xlabel("x")
ax.legend()
plt.show()

# %% [markdown]
# ## Exercise 2a: the product
#
# $z = x y$ (elementwise). Its local derivatives are $\partial z/\partial x = y$ and
# $\partial z/\partial y = x$. Return both gradients, in the order of the inputs.

# %% tags=["exercise"]
# Exercise 2a: Mul's backward
class Mul(Function):
    """z = x * y.   dz/dx = y,  dz/dy = x"""

    def forward(self, x, y):
        return x * y

    def backward(self, g):
        x, y = self.inputs
        raise NotImplementedError("Exercise 2a: return (dL/dx, dL/dy) for z = x * y")


# %% tags=["check"]
rng = np.random.default_rng(0)
a = mg.tensor(rng.normal(size=(2, 3)), requires_grad=True)
c = mg.tensor(rng.normal(size=(2, 3)), requires_grad=True)
check_gradients(Mul, a, c, name="Exercise 2a (Mul)")

# %% [markdown]
# ## Exercise 2b: the exponential, reusing forward's work
#
# $z = e^x$ has $\partial z/\partial x = e^x = z$: the backward can reuse the output instead
# of computing the exponential again. Forward keeps it as `self.z`; in backward,
# `self.output(self.z)` turns it into a Tensor that is marked as this node's output (so a
# second derivative still flows through it; see docs/adding_ops.md).

# %% tags=["exercise"]
# Exercise 2b: Exp's backward
class Exp(Function):
    """z = exp(x).   dz/dx = exp(x) = z"""

    def forward(self, x):
        self.z = np.exp(x)
        return self.z

    def backward(self, g):
        z = self.output(self.z)
        raise NotImplementedError("Exercise 2b: return dL/dx for z = exp(x), using z")


# %% tags=["check"]
check_gradients(Exp, mg.tensor(rng.normal(size=(4,)), requires_grad=True), name="Exercise 2b (Exp)")

# %% [markdown]
# (minigrad's own ops never call `np.` directly: they ask the array for its module,
# `xp = xp_of(x)`, so that the same code runs on a GPU with CuPy. Here NumPy is fine.)
# Next: [broadcasting and unbroadcast](03_broadcasting.ipynb).
