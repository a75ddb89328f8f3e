# %% [markdown]
# # 8. Convolution as a matrix product: im2col, and its adjoint col2im
#
# A 2-D convolution slides a small kernel over the image and takes a weighted sum at each
# position. Written as loops it is slow in Python; written as one matrix product it is as fast
# as the BLAS library. The trick, *im2col*: copy every kh×kw patch of the input (over all C
# channels) into one column of a matrix. For an input (N, C, H, W) and no padding, stride 1,
# there are $H_o W_o$ patches with $H_o = H - k_h + 1$, so the columns have shape
# (N, C·kh·kw, Ho·Wo). The weights (F, C, kh, kw) reshaped to (F, C·kh·kw) times the columns
# give (N, F, Ho·Wo): every output of every filter at once.
#
# The backward needs the *adjoint* of im2col. im2col copies each input pixel into every
# column whose patch covers it, so the gradient of a pixel is the **sum** over those copies:
# *col2im* adds each column's entries back to the places they were copied from. (It is the
# same pattern as broadcasting and unbroadcast: copies forward, sums backward.) Then
#
# $$\frac{\partial L}{\partial W} = G\, \mathrm{cols}^\top, \qquad
# \frac{\partial L}{\partial x} = \mathrm{col2im}(W^\top G).$$

# %%
import matplotlib.pyplot as plt
import numpy as np
from hypothesis import strategies as st

import minigrad as mg
import minigrad.functional as F
from minigrad.testing import check_arrays, check_property

# a small synthetic "digit": a ring with a bar, 12 x 12
yy, xx = np.mgrid[0:12, 0:12]
image = ((np.abs(np.hypot(yy - 5.5, xx - 5.5) - 3.8) < 1.0) | ((xx == 8) & (yy > 5))).astype(float)
edges = np.array([[[[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]],        # left-right
                  [[[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]]]])      # top-bottom
response = F.conv2d(mg.tensor(image[None, None]), mg.tensor(edges)).numpy()[0]
fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for ax, data, title in [(axes[0], image, "input (12 x 12)"), (axes[1], response[0], "filter 0: left-right edges"),
                        (axes[2], response[1], "filter 1: top-bottom edges")]:
    ax.imshow(data, cmap="gray" if data is image else "coolwarm")
    ax.set_title(title)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## Exercise 8a: im2col
#
# Write `im2col(x, kh, kw)` for a NumPy array x of shape (N, C, H, W), stride 1, no padding,
# returning (N, C·kh·kw, Ho·Wo). The order matters: the row index must run over (c, i, j) in
# that order, so that it matches `w.reshape(F, C * kh * kw)`, and the column index over
# output positions row by row. A loop over the kh·kw kernel offsets is enough:
# `x[:, :, i:i + Ho, j:j + Wo]` is the input seen by kernel element (i, j) at every position.
# The check multiplies by the reshaped weights and compares with `F.conv2d`.

# %% tags=["exercise"]
# Exercise 8a: im2col
def im2col(x, kh, kw):
    """(N, C, H, W) -> (N, C*kh*kw, Ho*Wo): every kh x kw patch as a column (stride 1, no padding)."""
    raise NotImplementedError("Exercise 8a: copy every patch into a column, rows in (c, i, j) order")


# %% tags=["check"]
rng = np.random.default_rng(0)
x = rng.normal(size=(2, 3, 6, 5))
w = rng.normal(size=(4, 3, 3, 2))


def conv_by_im2col(x, w):
    n, (f, c, kh, kw) = x.shape[0], w.shape
    ho, wo = x.shape[2] - kh + 1, x.shape[3] - kw + 1
    return (w.reshape(f, c * kh * kw) @ im2col(x, kh, kw)).reshape(n, f, ho, wo)


check_arrays(lambda: conv_by_im2col(x, w), F.conv2d(mg.tensor(x), mg.tensor(w)),
             what="Exercise 8a: the convolution through your im2col", against="F.conv2d's output")

# %% [markdown]
# ## Exercise 8b: col2im, the adjoint
#
# Write `col2im(cols, x_shape, kh, kw)`: the same loop as im2col, but *adding* each kernel
# offset's slice of the columns into `x[:, :, i:i + Ho, j:j + Wo]` of a zero array. The check
# is the adjoint property, on shapes drawn by hypothesis: for every x and every cols,
# $\langle \mathrm{im2col}(x), \mathrm{cols} \rangle = \langle x, \mathrm{col2im}(\mathrm{cols}) \rangle$.
# (It needs your im2col too.)

# %% tags=["exercise"]
# Exercise 8b: col2im
def col2im(cols, x_shape, kh, kw):
    """The adjoint of im2col: (N, C*kh*kw, Ho*Wo) -> (N, C, H, W), overlapping patches added up."""
    raise NotImplementedError("Exercise 8b: add every column's entries back where im2col copied them from")


# %% tags=["check"]
sizes = st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
                  st.integers(0, 3), st.integers(0, 3))      # N, C, kh, kw, H - kh, W - kw


def col2im_is_the_adjoint(size):
    """<im2col(x), cols> == <x, col2im(cols)>, and col2im has x's shape"""
    n, c, kh, kw, extra_h, extra_w = size
    shape = (n, c, kh + extra_h, kw + extra_w)
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape)
    cols = rng.normal(size=(n, c * kh * kw, (extra_h + 1) * (extra_w + 1)))
    back = col2im(cols, shape, kh, kw)
    assert back.shape == shape, f"col2im gave shape {back.shape} for x of shape {shape}"
    left, right = np.sum(im2col(x, kh, kw) * cols), np.sum(x * back)
    assert np.isclose(left, right), f"<im2col(x), cols> = {left:.6g} but <x, col2im(cols)> = {right:.6g}"


check_property(col2im_is_the_adjoint, sizes, name="Exercise 8b: col2im is the adjoint of im2col")

# %% [markdown]
# minigrad's conv2d (`minigrad/engine/ops/conv.py`) adds strides, padding, dilation and groups
# to the same two functions, and its backward is the two formulas above. Next: [batch
# normalisation's backward](09_batchnorm_backward.ipynb).
