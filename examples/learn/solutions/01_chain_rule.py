# %% [markdown]
# Solutions to [1. The chain rule](../01_chain_rule.ipynb). Each cell replaces the exercise
# cell that starts with the same "# Exercise" line.

# %% tags=["solution"]
# Exercise 1a: the chain rule by hand for L = tanh(w * x + b) ** 2
def grads_by_hand(x, w, b):
    """Return (dL/dx, dL/dw, dL/db) for L = tanh(w*x + b)**2, as floats."""
    t = math.tanh(w * x + b)
    dL_dz = 2 * t * (1 - t * t)          # dL/dt = 2t, dt/dz = 1 - t^2
    return dL_dz * w, dL_dz * x, dL_dz
