# %% [markdown]
# Solutions to [9. Batch normalisation](../09_batchnorm_backward.ipynb).

# %% tags=["solution"]
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
        sum_g, sum_g_xhat = g.sum(axis=0), (g * xhat).sum(axis=0)
        dx = gamma * s / n * (g * n - sum_g - xhat * sum_g_xhat)
        return dx, sum_g_xhat, sum_g
