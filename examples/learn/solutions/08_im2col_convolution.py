# %% [markdown]
# Solutions to [8. im2col](../08_im2col_convolution.ipynb).

# %% tags=["solution"]
# Exercise 8a: im2col
def im2col(x, kh, kw):
    """(N, C, H, W) -> (N, C*kh*kw, Ho*Wo): every kh x kw patch as a column (stride 1, no padding)."""
    n, c, h, w = x.shape
    ho, wo = h - kh + 1, w - kw + 1
    cols = np.empty((n, c, kh, kw, ho, wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i:i + ho, j:j + wo]
    return cols.reshape(n, c * kh * kw, ho * wo)


# %% tags=["solution"]
# Exercise 8b: col2im
def col2im(cols, x_shape, kh, kw):
    """The adjoint of im2col: (N, C*kh*kw, Ho*Wo) -> (N, C, H, W), overlapping patches added up."""
    n, c, h, w = x_shape
    ho, wo = h - kh + 1, w - kw + 1
    cols = cols.reshape(n, c, kh, kw, ho, wo)
    x = np.zeros(x_shape, dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            x[:, :, i:i + ho, j:j + wo] += cols[:, :, i, j]
    return x
