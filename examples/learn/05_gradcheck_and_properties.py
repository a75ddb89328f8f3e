# %% [markdown]
# # 5. Checking gradients: finite differences and hypothesis properties
#
# A backward can be wrong in ways no error message reveals: a missing factor, a transposed
# matrix, a sign. The independent witness is the definition of the derivative. The *central*
# difference
#
# $$\frac{f(x + \epsilon) - f(x - \epsilon)}{2 \epsilon} = f'(x) + \frac{\epsilon^2}{6} f'''(x) + \dots$$
#
# has an error that shrinks like $\epsilon^2$ (the one-sided $(f(x+\epsilon) - f(x))/\epsilon$
# only like $\epsilon$). But each evaluation of $f$ is rounded, with a relative error about
# $10^{-16}$ in float64, and dividing by $\epsilon$ magnifies it: the rounding part grows like
# $10^{-16} / \epsilon$. The figure measures both on $f = \sin$ at $x = 1$.

# %%
import matplotlib.pyplot as plt
import numpy as np
from hypothesis import strategies as st

import minigrad as mg
from minigrad.engine.function import Function
from minigrad.testing import check_arrays, check_gradients, check_property, shapes, tensors

epsilons = np.logspace(-14, -1, 60)
exact = np.cos(1.0)
one_sided = np.abs((np.sin(1 + epsilons) - np.sin(1.0)) / epsilons - exact)
central = np.abs((np.sin(1 + epsilons) - np.sin(1 - epsilons)) / (2 * epsilons) - exact)
float32 = np.abs((np.sin(np.float32(1) + epsilons.astype(np.float32)) - np.sin(np.float32(1) - epsilons.astype(np.float32)))
                 / (2 * epsilons.astype(np.float32)) - exact)
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.loglog(epsilons, one_sided, label="one-sided, float64")
ax.loglog(epsilons, central, label="central, float64")
ax.loglog(epsilons, float32, label="central, float32")
ax.axvline(1e-6, color="grey", ls=":", label="minigrad's eps = 1e-6")
ax.set_xlabel("eps")
ax.set_ylabel("|error| of the estimated derivative")
ax.legend()
plt.show()
best = epsilons[np.argmin(central)]
print(f"central, float64: best eps ~ {best:.0e}, error there {central.min():.1e}; "
      f"float32's best error is only {np.nanmin(float32[float32 > 0]):.1e}")

# %% [markdown]
# So gradient checks run in **float64** with $\epsilon \approx 10^{-6}$, where the central
# difference is good to about $10^{-10}$; in float32 no $\epsilon$ gets below $10^{-4}$ or so.
# `mg.gradcheck` and `check_gradients` perturb every element of every input this way.
#
# Finite differences fail where the function is not smooth: at relu's kink at 0 the two sides
# average two slopes. And one good input proves little: a bug may appear only for a 0-d
# tensor, a size-1 axis or a tie in a max. *Property-based testing* (the hypothesis library)
# draws many inputs from a description (a *strategy*) and, when one fails, shrinks it to the
# smallest failing example. `minigrad.testing` has strategies made for gradients:
# `tensors(shapes(...), avoid=(0,))` keeps off kinks, `unique=True` keeps elements apart.
# `check_property(prop, strategy)` runs `prop` on drawn examples and reports the smallest
# failing one in words: the check cells below use it.

# %% [markdown]
# ## Exercise 5a: the central difference
#
# Write `central_difference(f, x, eps)`: the gradient of a scalar function `f` of a NumPy
# array `x`, element by element: bump one element up by `eps`, then down, and take the
# difference quotient. Do not change `x` itself (work on a copy).

# %% tags=["exercise"]
# Exercise 5a: the central difference
def central_difference(f, x, eps=1e-6):
    """df/dx for a scalar function f of the array x, by central differences, element by element."""
    raise NotImplementedError("Exercise 5a: (f(x + eps e_j) - f(x - eps e_j)) / (2 eps) for each element j")


# %% tags=["check"]
def matches_the_derivative_of_a_cubic(x):
    """central_difference of sum(x**3) is 3 x**2, and x is unchanged"""
    before = x.copy()
    check_arrays(lambda: central_difference(lambda a: float(np.sum(a ** 3)), x), 3 * x ** 2,
                 what="central_difference", against="3 x^2", atol=1e-6).raise_if_failed()
    assert np.array_equal(x, before), "central_difference changed its input x"


check_property(matches_the_derivative_of_a_cubic,
               tensors(shapes(min_dims=1, max_dims=2, max_side=3)).map(lambda t: t.numpy()))

# %% [markdown]
# ## Exercise 5b: the backward of a max, and the strategy that tests it
#
# `MaxLast` takes the maximum over the last axis. Its gradient goes entirely to the
# position of the maximum: $\partial z_i / \partial x_{ij} = 1$ if $x_{ij}$ is the row's
# maximum, else 0. (At a tie the derivative does not exist, which is why the check draws
# inputs whose elements are at least 0.1 apart: `tensors(..., unique=True)`.) Write the
# backward: `g` has the reduced shape, so give it back its last axis (`g.reshape(...)` with a 1
# there) and multiply by the mask `x == max` (as a float Tensor).

# %% tags=["exercise"]
# Exercise 5b: MaxLast's backward
class MaxLast(Function):
    """z_i = max_j x_ij.   dz_i/dx_ij = 1 where x_ij is the maximum of its row, else 0"""

    def forward(self, x):
        self.z = x.max(axis=-1)
        return self.z

    def backward(self, g):
        x, = self.inputs
        is_max = mg.tensor((x.numpy() == self.z[..., None]).astype(x.numpy().dtype))
        raise NotImplementedError("Exercise 5b: spread g back over the last axis, onto the maxima")


# %% tags=["check"]
check_property(lambda x: check_gradients(MaxLast, x, name="MaxLast").raise_if_failed(),
               tensors(shapes(min_dims=1, max_dims=2, max_side=4), unique=True),
               name="Exercise 5b: MaxLast's gradient matches finite differences")

# %% [markdown]
# Try the check with `unique=False` once your backward passes: hypothesis soon finds two
# equal elements, where finite differences split the gradient between them and your backward
# does not. Next: [a Dense layer](06_dense_layer.ipynb).
