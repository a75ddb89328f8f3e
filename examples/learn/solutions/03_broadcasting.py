# %% [markdown]
# Solutions to [3. Broadcasting](../03_broadcasting.ipynb).

# %% tags=["solution"]
# Exercise 3a: unbroadcast
def unbroadcast(grad, shape):
    """Sum grad (a NumPy array of the broadcast shape) down to `shape`."""
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra)))          # the leading axes broadcasting added
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched, keepdims=True)     # the size-1 axes it stretched


# %% tags=["solution"]
# Exercise 3b: the gradients of a broadcasting product
def mul_gradients(g, x, y):
    """(dL/dx, dL/dy) for z = x * y, of x's and y's shapes; g = dL/dz has the broadcast shape."""
    return unbroadcast(g * y, np.shape(x)), unbroadcast(g * x, np.shape(y))
