# %% [markdown]
# Solutions to [2. A Tensor op](../02_tensor_op.ipynb).

# %% tags=["solution"]
# Exercise 2a: Mul's backward
class Mul(Function):
    """z = x * y.   dz/dx = y,  dz/dy = x"""

    def forward(self, x, y):
        return x * y

    def backward(self, g):
        x, y = self.inputs
        return g * y, g * x


# %% tags=["solution"]
# Exercise 2b: Exp's backward
class Exp(Function):
    """z = exp(x).   dz/dx = exp(x) = z"""

    def forward(self, x):
        self.z = np.exp(x)
        return self.z

    def backward(self, g):
        z = self.output(self.z)
        return g * z
