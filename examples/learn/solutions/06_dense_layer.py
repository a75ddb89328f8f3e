# %% [markdown]
# Solutions to [6. A Dense layer](../06_dense_layer.ipynb).

# %% tags=["solution"]
# Exercise 6a: Linear's backward
class Linear(Function):
    """Y = X @ W + b.   dL/dX = G W^T,  dL/dW = X^T G,  dL/db = sum over the batch of G"""

    def forward(self, x, w, b):
        return x @ w + b

    def backward(self, g):
        x, w, b = self.inputs
        return g @ w.T, x.T @ g, g.sum(axis=0)
