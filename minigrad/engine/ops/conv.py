"""Convolution and pooling on NCHW images: conv2d, conv_transpose2d, max/avg pool, upsample, pad2d.

A convolution is a matrix product in disguise (im2col):

    y[n, o, i, j] = sum_{c, a, b} w[o, c, a, b] * x_pad[n, c, i*sh + a*dh, j*sw + b*dw]

Copy every kh x kw patch of the (padded) input into one column of a matrix, "cols", of
shape (C_in*kh*kw, N*Ho*Wo); then Y = W @ cols with W = w as a (C_out, C_in*kh*kw) matrix:
ONE big GEMM does all the arithmetic, for the whole batch. The copy itself is a strided
*view* of the padded image (as_strided: the patches overlap in memory, nothing is copied
until the reshape); its columns run over (sample, row, column), so the copy reads the
NCHW image in runs along its rows, and the GEMM's result (C_out, N, Ho, Wo) needs only one
cheap swap of its two leading axes to be an NCHW image again. For small images (a few
pixels wide) those runs are too short, and the columns run over (row, column, sample)
instead, "batch-last": see _batch_last. Both orders give the same numbers; tests force each.

Running it backwards, cols = W^T @ Y, and "col2im" adds every column back onto the patch
it came from (overlapping patches add up): that is conv_transpose2d, which is also exactly
conv2d's gradient with respect to its input. col2im loops over the kh*kw kernel offsets,
each one a strided slice-add of a whole image, never over pixels.

Grouped convolution (groups=G) splits the input channels and the filters into G groups;
group k's filters see only group k's channels. cols' rows are ordered (channel, a, b), so
group k's rows are one contiguous block, and the G products are one batched matmul:
(G, C_out/G, K/G) @ (G, K/G, N*Ho*Wo). groups = C_in is a depthwise convolution.

Three fused nodes, each bilinear in its two inputs, so each backward is made of the other
two and gradients of any order work:

    Conv2d(x, w)            y  = conv(x, w)
    ConvTranspose2d(y, w)   x  = conv^T(y, w)       (the adjoint of x -> conv(x, w))
    Conv2dFilterGrad(x, g)  dw = dL/dw of conv(x, w) when g = dL/dy

The im2col products are the definition. A 3x3, stride-1, undilated, ungrouped float
convolution with 16 or more channels on each side (the DCGAN's 64- to 256-channel layers,
and the input gradient of each, which is a stride-1 3x3 conv by the flipped kernel) takes a
fast path beside it: Winograd F(2x2, 3x3) in winograd.py, derived there, 2.25x fewer
multiplications, the batch in cache-sized chunks.
Its filter gradient is the Winograd adjoint. Same numbers up to float32 rounding;
tests/test_conv_fast.py holds the two paths side by side; FAST_PATHS = False runs the
definitions alone.

Pooling: Unfold2d copies the windows out as a (kh, kw, N, C, Ho, Wo) array; max/avg pooling
are a max/sum over its two leading axes, whose backward (Tensor.max: ties share equally)
lands on the windows, and Fold2d (col2im again) adds those back onto the image. Padding
(-inf for max, zeros for the average) and ceil_mode follow PyTorch.
Upsampling has its own pair of nodes: nearest-neighbour copies forward, and backward the
sum of each block, taken as sh*sw strided slice-adds (much faster than a generic reduction
over two tiny axes).
"""
from __future__ import annotations

import math
import operator

from ..function import Function, constant, xp_of
from ..tensor import Tensor
from . import movement, winograd

__all__ = ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "upsample", "pad2d"]


# ----------------------------------------------------------------------------- array helpers

def _windows(x, kernel, out_hw, stride, dilation, h_axis):
    """A view of every kh x kw window of x, kernel offsets first:

        view[a, b, ..., i, j, ...] = x[..., i*sh + a*dh, j*sw + b*dw, ...]

    where axes h_axis, h_axis+1 of x are its rows and columns, which become (Ho, Wo).
    Nothing is copied: neighbouring windows share memory, which only the strides express.
    """
    xp = xp_of(x)
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    shape, strides = list(x.shape), list(x.strides)
    step_h, step_w = strides[h_axis], strides[h_axis + 1]
    shape[h_axis:h_axis + 2] = out_hw
    strides[h_axis:h_axis + 2] = [step_h * sh, step_w * sw]
    return xp.lib.stride_tricks.as_strided(
        x, shape=(kh, kw) + tuple(shape), strides=(step_h * dh, step_w * dw) + tuple(strides))


def _col2im(cols, canvas_shape, stride, dilation, h_axis):
    """The adjoint of _windows: add every window back where it was read (overlaps add up).

    cols has _windows' layout (kh, kw, ..., Ho, Wo, ...). Offset (a, b) of all windows lands
    on rows a*dh + i*sh and columns b*dw + j*sw, so one strided slice-add per kernel offset
    covers every window at once: a loop over kh*kw offsets, never over pixels.
    """
    xp = xp_of(cols)
    kh, kw = cols.shape[:2]
    Ho, Wo = cols.shape[2 + h_axis:4 + h_axis]
    (sh, sw), (dh, dw) = stride, dilation
    canvas = xp.zeros(canvas_shape, dtype=cols.dtype)
    lead = (slice(None),) * h_axis
    for a in range(kh):
        for b in range(kw):
            rows = slice(a * dh, a * dh + sh * (Ho - 1) + 1, sh)
            columns = slice(b * dw, b * dw + sw * (Wo - 1) + 1, sw)
            canvas[lead + (rows, columns)] += cols[a, b]
    return canvas


def _batch_last(n, out_w):
    """Which column order cols uses for a batch of n images whose output rows are out_w wide.

    Copying patches moves runs of adjacent numbers. In NCHW the runs are image rows, which
    is right for wide images; for small ones (the discriminator's 7x7 and 4x4) runs of 4-7
    numbers make the copies 3-6x slower, and "batch-last" order (C, H, W, N), whose runs are
    the n samples of one pixel, wins, at the price of two transposing copies. Measured on
    the DCGAN's shapes (batch 32/64): NCHW from 28 pixels wide, batch-last up to 14.
    """
    return out_w < min(n, 16)


def _pad(x, padding, batch_last=False):
    """A zero-padded copy of an NCHW image, as (N, C, H', W') or batch-last (C, H', W', N).

    x itself when there is nothing to pad or transpose.
    """
    (pt, pb), (pl, pr) = padding
    N, C, H, W = x.shape
    if batch_last:
        out = xp_of(x).zeros((C, H + pt + pb, W + pl + pr, N), dtype=x.dtype)
        out[:, pt:pt + H, pl:pl + W, :] = x.transpose(1, 2, 3, 0)
        return out
    if pt == pb == pl == pr == 0:
        return x
    out = xp_of(x).zeros((N, C, H + pt + pb, W + pl + pr), dtype=x.dtype)
    out[:, :, pt:pt + H, pl:pl + W] = x
    return out


def _im2col(x, kernel, out_hw, stride, padding, dilation, batch_last):
    """NCHW image -> cols (C*kh*kw, N*Ho*Wo): the patch under each output pixel as a column.

    Rows are ordered (channel, a, b); columns (sample, row, column), or (row, column, sample)
    when batch_last.
    """
    N, C = x.shape[:2]
    rows, columns = C * kernel[0] * kernel[1], N * out_hw[0] * out_hw[1]
    if batch_last:
        view = _windows(_pad(x, padding, True), kernel, out_hw, stride, dilation, h_axis=1)
        return view.transpose(2, 0, 1, 3, 4, 5).reshape(rows, columns)   # from (kh, kw, C, Ho, Wo, N)
    view = _windows(_pad(x, padding), kernel, out_hw, stride, dilation, h_axis=2)
    return view.transpose(3, 0, 1, 2, 4, 5).reshape(rows, columns)       # from (kh, kw, N, C, Ho, Wo)


def _to_matrix(y, batch_last):
    """(N, C, H, W) image -> (C, N*H*W) matrix, its columns in cols' order."""
    N, C, H, W = y.shape
    return y.transpose((1, 2, 3, 0) if batch_last else (1, 0, 2, 3)).reshape(C, N * H * W)


def _to_image(matrix, N, hw, batch_last):
    """(C, N*H*W) matrix, columns in cols' order -> a contiguous (N, C, H, W) image."""
    C, (H, W) = matrix.shape[0], hw
    if batch_last:
        image = matrix.reshape(C, H, W, N).transpose(3, 0, 1, 2)
    else:
        image = matrix.reshape(C, N, H, W).transpose(1, 0, 2, 3)
    return xp_of(matrix).ascontiguousarray(image)


def _by_group(matrix, groups):
    """(R, ...) -> (groups, R/groups, rest): the rows of each group as one matrix."""
    return matrix.reshape(groups, matrix.shape[0] // groups, -1)


def _weight_matrix(w, groups):
    """w (C_out, C_in/groups, kh, kw) -> (groups, C_out/groups, C_in/groups*kh*kw)."""
    return w.reshape(groups, w.shape[0] // groups, -1)


# The fast paths (winograd.py) compute the same numbers as the im2col definitions here, up to
# float32 rounding (tests/test_conv_fast.py); False runs the definitions alone.
FAST_PATHS = True


def _conv2d(x, w, stride, padding, dilation, out_hw, groups):
    """The arrays of conv2d: Winograd F(2x2, 3x3) where it applies, else the definition."""
    if FAST_PATHS and winograd.applies(w.shape[2:], stride, dilation, groups, x.dtype, w.shape[:2]):
        return winograd.conv2d(x, w, padding, out_hw)
    return _conv2d_im2col(x, w, stride, padding, dilation, out_hw, groups)


def _conv2d_im2col(x, w, stride, padding, dilation, out_hw, groups):
    """The definition, as arrays: Y = W @ cols(x), one product per group, back to NCHW."""
    N, C_out = x.shape[0], w.shape[0]
    batch_last = _batch_last(N, out_hw[1])
    cols = _im2col(x, w.shape[2:], out_hw, stride, padding, dilation, batch_last)
    y = _weight_matrix(w, groups) @ _by_group(cols, groups)                 # (G, C_out/G, N*Ho*Wo)
    return _to_image(y.reshape(C_out, -1), N, out_hw, batch_last)


def _conv2d_filter_grad(x, g, kernel, stride, padding, dilation, groups):
    """The arrays of Conv2dFilterGrad: Winograd where it applies, else G @ cols(x)^T."""
    if FAST_PATHS and winograd.applies(kernel, stride, dilation, groups, x.dtype, (x.shape[1], g.shape[1])):
        return winograd.filter_grad(x, g, padding)
    batch_last = _batch_last(x.shape[0], g.shape[3])
    cols = _im2col(x, kernel, g.shape[2:], stride, padding, dilation, batch_last)
    return _filter_grad(cols, g, (g.shape[1], x.shape[1] // groups) + tuple(kernel), groups, batch_last)


def _filter_grad(cols, g, weight_shape, groups, batch_last):
    """dw = G @ cols^T per group, with cols = im2col of conv2d's input and g = dL/dy."""
    g_mat = _by_group(_to_matrix(g, batch_last), groups)                    # (G, C_out/G, N*Ho*Wo)
    return (g_mat @ _by_group(cols, groups).swapaxes(1, 2)).reshape(weight_shape)


def _flipped_kernel(w, groups):
    """w (C_y, C_x/G, kh, kw) -> (C_x, C_y/G, kh, kw): channel axes swapped within each group,
    flipped in space. The conv2d by it is the adjoint (transpose) of the stride-1 conv2d by w."""
    C_y, C_xg, kh, kw = w.shape
    swapped = w.reshape(groups, C_y // groups, C_xg, kh, kw).transpose(0, 2, 1, 3, 4)
    return xp_of(w).ascontiguousarray(swapped[:, :, :, ::-1, ::-1]).reshape(
        groups * C_xg, C_y // groups, kh, kw)


# ----------------------------------------------------------------------------- convolution

class Conv2d(Function):
    """y = conv2d(x, w), no bias:  y[n,o,i,j] = sum_{c,a,b} w[o,c,a,b] * x_pad[n, c, i*sh + a*dh, j*sw + b*dw]

    (c running over o's group of channels.) As matrices Y = W @ cols(x). y is bilinear
    (linear in x and in w):
        dL/dx = conv_transpose2d(g, w)       (the adjoint of x -> conv2d(x, w))
        dL/dw = Conv2dFilterGrad(x, g)       (= G @ cols(x)^T)
    out_hw is the output size; normally the largest that fits, smaller when this node is
    the gradient of a conv_transpose2d whose output_padding left rows unread.
    """
    def forward(self, x, w, stride, padding, dilation, out_hw, groups=1):
        self.geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        return _conv2d(x, w, stride, padding, dilation, out_hw, groups)

    def backward(self, g):
        x, w = self.inputs
        need_x, need_w = self.needs_input_grad
        g_x = ConvTranspose2d.apply(g, w, out_hw=x.shape[2:], **self.geometry) if need_x else None
        g_w = Conv2dFilterGrad.apply(x, g, kernel=w.shape[2:], **self.geometry) if need_w else None
        return g_x, g_w


class ConvTranspose2d(Function):
    """x = conv_transpose2d(y, w): the adjoint of conv2d(., w) for the same geometry.

    w is laid out as for that conv2d, (C_y, C_x/groups, kh, kw). As matrices cols = W^T @ Y
    (per group), then col2im adds every column onto its patch and the padding is cropped
    off (out_hw = the size of x). Since <conv_transpose2d(y, w), G> = <y, conv2d(G, w)>:
        dL/dy = conv2d(g, w)
        dL/dw = Conv2dFilterGrad(g, y)
    """
    def forward(self, y, w, stride, padding, dilation, out_hw, groups=1):
        self.geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        C_y, C_xg, kh, kw = w.shape
        N, _, Ho, Wo = y.shape
        (pt, pb), (pl, pr) = padding
        H, W = out_hw
        if stride == (1, 1) and dilation == (1, 1) and max(pt, pb) < kh and max(pl, pr) < kw:
            # With stride 1 the adjoint is itself a convolution: of y padded with k-1-p zeros,
            # by the kernel flipped in space with its channel axes swapped. Its im2col has
            # C_y*kh*kw rows and the GEMM's output is the image, instead of a (C_x*kh*kw)-row
            # matrix added back by col2im: much less memory traffic, above all for few C_y.
            full = ((kh - 1 - pt, kh - 1 - pb), (kw - 1 - pl, kw - 1 - pr))
            return _conv2d(y, _flipped_kernel(w, groups), (1, 1), full, (1, 1), out_hw, groups)
        C_x, batch_last = C_xg * groups, _batch_last(N, Wo)
        w_t = _weight_matrix(w, groups).swapaxes(1, 2)                        # (G, C_x/G*kh*kw, C_y/G)
        cols = (w_t @ _by_group(_to_matrix(y, batch_last), groups)).reshape(C_x * kh * kw, -1)
        canvas_hw = (H + pt + pb, W + pl + pr)
        if batch_last:                      # cols' columns (Ho, Wo, N): canvas (C_x, H', W', N)
            windows = cols.reshape(C_x, kh, kw, Ho, Wo, N).transpose(1, 2, 0, 3, 4, 5)
            canvas = _col2im(windows, (C_x,) + canvas_hw + (N,), stride, dilation, h_axis=1)
            image = canvas[:, pt:pt + H, pl:pl + W, :].transpose(3, 0, 1, 2)
        else:                               # cols' columns (N, Ho, Wo): canvas (C_x, N, H', W')
            windows = cols.reshape(C_x, kh, kw, N, Ho, Wo).transpose(1, 2, 0, 3, 4, 5)
            canvas = _col2im(windows, (C_x, N) + canvas_hw, stride, dilation, h_axis=2)
            image = canvas[:, :, pt:pt + H, pl:pl + W].transpose(1, 0, 2, 3)
        return xp_of(y).ascontiguousarray(image)

    def backward(self, g):
        y, w = self.inputs
        need_y, need_w = self.needs_input_grad
        g_y = Conv2d.apply(g, w, out_hw=y.shape[2:], **self.geometry) if need_y else None
        g_w = Conv2dFilterGrad.apply(g, y, kernel=w.shape[2:], **self.geometry) if need_w else None
        return g_y, g_w

    def backward_arrays(self, g):
        """The same two products on arrays, sharing one im2col of g (used when not recorded)."""
        y, w = self.inputs[0].data, self.inputs[1].data
        need_y, need_w = self.needs_input_grad
        geo = self.geometry
        groups, Ho_Wo, N = geo["groups"], y.shape[2:], y.shape[0]
        if FAST_PATHS and winograd.applies(w.shape[2:], geo["stride"], geo["dilation"], groups, g.dtype,
                                             w.shape[:2]):
            g_y = winograd.conv2d(g, w, geo["padding"], Ho_Wo) if need_y else None
            g_w = winograd.filter_grad(g, y, geo["padding"]) if need_w else None
            return g_y, g_w
        batch_last = _batch_last(N, Ho_Wo[1])
        cols = _im2col(g, w.shape[2:], Ho_Wo, geo["stride"], geo["padding"], geo["dilation"], batch_last)
        g_y = _to_image((_weight_matrix(w, groups) @ _by_group(cols, groups)).reshape(w.shape[0], -1),
                        N, Ho_Wo, batch_last) if need_y else None
        g_w = _filter_grad(cols, y, w.shape, groups, batch_last) if need_w else None
        return g_y, g_w


class Conv2dFilterGrad(Function):
    """dw = Conv2dFilterGrad(x, g): dL/dw of y = conv2d(x, w) when g = dL/dy.

    dw[o,c,a,b] = sum_{n,i,j} g[n,o,i,j] * x_pad[n, c, i*sh + a*dh, j*sw + b*dw];  as matrices G @ cols(x)^T.
    It is bilinear, with <dw, V> = <conv2d(x, V), g> for every V, so for V = dL/d(dw):
        dL/dx = conv_transpose2d(g, V)
        dL/dg = conv2d(x, V)
    """
    def forward(self, x, g, stride, padding, dilation, kernel, groups=1):
        self.geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        return _conv2d_filter_grad(x, g, kernel, stride, padding, dilation, groups)

    def backward(self, v):
        x, g = self.inputs
        need_x, need_g = self.needs_input_grad
        g_x = ConvTranspose2d.apply(g, v, out_hw=x.shape[2:], **self.geometry) if need_x else None
        g_g = Conv2d.apply(x, v, out_hw=g.shape[2:], **self.geometry) if need_g else None
        return g_x, g_g


# ----------------------------------------------------------------------------- windows (pooling)

class Unfold2d(Function):
    """z = the kh x kw windows of x, kernel offsets first:  z[a, b, n, c, i, j] = x[n, c, i*sh + a, j*sw + b]

    z has shape (kh, kw, N, C, Ho, Wo) and is a contiguous copy: pooling then reduces over
    the two leading axes, which is ~30x faster in NumPy than reducing a strided view over
    two tiny trailing axes. Each pixel of x is read by every window covering it, so
        dL/dx = the window gradients added back onto the image = Fold2d(g)
    """
    backward_reads_inputs = False

    def forward(self, x, kernel, stride):
        self.kernel, self.stride, self.in_shape = kernel, stride, x.shape
        out_hw = tuple((n - k) // s + 1 for n, k, s in zip(x.shape[2:], kernel, stride))
        return xp_of(x).ascontiguousarray(_windows(x, kernel, out_hw, stride, (1, 1), h_axis=2))

    def backward(self, g):
        return Fold2d.apply(g, shape=self.in_shape, stride=self.stride)


class Fold2d(Function):
    """x = windows (kh, kw, N, C, Ho, Wo) added back onto an image of `shape`; overlaps add.

    The adjoint of Unfold2d, and linear, so dL/dwindows = Unfold2d(g).
    """
    backward_reads_inputs = False

    def forward(self, windows, shape, stride):
        self.kernel, self.stride = windows.shape[:2], stride
        return _col2im(windows, shape, stride, (1, 1), h_axis=2)

    def backward(self, g):
        return Unfold2d.apply(g, kernel=self.kernel, stride=self.stride)


# ----------------------------------------------------------------------------- argument checks

def _pair(value, name, op, minimum):
    """An int or a pair of ints -> (h, w), each at least `minimum`."""
    try:
        pair = (operator.index(value),) * 2 if not isinstance(value, (tuple, list)) else \
            tuple(operator.index(v) for v in value)
    except TypeError:
        pair = ()
    if len(pair) != 2:
        raise ValueError(f"{op}: {name} must be an int or a pair of ints (h, w), got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return pair


def _padding(value, op, name="padding"):
    """int p, (ph, pw) or ((top, bottom), (left, right)) -> ((top, bottom), (left, right))."""
    try:
        if not isinstance(value, (tuple, list)):
            value = (value, value)
        if len(value) != 2:
            raise TypeError
        pads = tuple((operator.index(v),) * 2 if not isinstance(v, (tuple, list)) else
                     tuple(operator.index(e) for e in v) for v in value)
        if any(len(p) != 2 for p in pads):
            raise TypeError
    except TypeError:
        raise ValueError(f"{op}: {name} must be an int, (ph, pw) or ((top, bottom), (left, right)), "
                         f"got {value!r}") from None
    if min(min(p) for p in pads) < 0:
        raise ValueError(f"{op}: {name} cannot be negative, got {value!r}")
    return pads


def _check_images(op, **tensors):
    for name, t in tensors.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        if t.ndim != 4:
            layout = "(N, C, H, W)" if name == "x" else "(C_out, C_in, kh, kw)" if op == "conv2d" \
                else "(C_in, C_out, kh, kw)"
            raise ValueError(f"{op}: {name} must be 4-D {layout}, got shape {t.shape}"
                             + ("; add a batch axis with x.reshape(1, *x.shape)" if name == "x" and
                                t.ndim == 3 else ""))


def _conv_out_hw(op, in_hw, kernel, stride, padding, dilation):
    """Output size of a convolution: (H + pt + pb - d*(k-1) - 1) // s + 1 per axis."""
    out = []
    for n, k, s, (before, after), d in zip(in_hw, kernel, stride, padding, dilation):
        span = d * (k - 1) + 1                       # the kernel's extent on the input
        if span > n + before + after:
            raise ValueError(f"{op}: the kernel covers {span} pixels (kernel {tuple(kernel)}, dilation "
                             f"{tuple(dilation)}) but the padded input has only {n + before + after} "
                             f"(input {tuple(in_hw)}, padding {padding}); use a smaller kernel or more "
                             "padding")
        out.append((n + before + after - span) // s + 1)
    return tuple(out)


def _conv_transpose_out_hw(op, in_hw, kernel, stride, padding, output_padding, dilation):
    """Output size of a transposed convolution, per axis (PyTorch's rule):
    (H - 1)*s - top - bottom + d*(k-1) + output_padding + 1."""
    out = []
    for n, k, s, (before, after), d, extra in zip(in_hw, kernel, stride, padding, dilation, output_padding):
        if extra >= max(s, d):
            raise ValueError(f"{op}: output_padding {tuple(output_padding)} must be smaller than the stride "
                             f"{tuple(stride)} or the dilation {tuple(dilation)} in each dimension")
        size = (n - 1) * s - before - after + d * (k - 1) + extra + 1
        if n < 1 or size < 1:
            raise ValueError(f"{op}: the output would be {size} pixels (input {tuple(in_hw)}, kernel "
                             f"{tuple(kernel)}, stride {tuple(stride)}, padding {padding}); use less padding")
        out.append(size)
    return tuple(out)


def _add_bias(y, b, op):
    if b is None:
        return y
    if not isinstance(b, Tensor) or b.shape != (y.shape[1],):
        raise ValueError(f"{op}: bias must be a Tensor of shape ({y.shape[1]},) (one per output "
                         f"channel), got {getattr(b, 'shape', type(b).__name__)}")
    return y + b.reshape(1, -1, 1, 1)


# ----------------------------------------------------------------------------- entry points

def _groups(op, groups, channels):
    """Check groups against the channel counts {"x": C_in, "the output": C_out}."""
    try:
        groups = operator.index(groups)
    except TypeError:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}") from None
    if groups < 1:
        raise ValueError(f"{op}: groups must be >= 1, got {groups}")
    for what, n in channels.items():
        if n % groups:
            raise ValueError(f"{op}: {what} has {n} channels, which groups={groups} does not divide; "
                             "each group needs the same number of channels")
    return groups


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, like every DL library) of NCHW images.

    x (N, C_in, H, W), w (C_out, C_in/groups, kh, kw), b (C_out,) or None.
    stride, dilation: int or (sh, sw). padding: int, (ph, pw) or ((top, bottom), (left, right)).
    groups: the channels are split into `groups` groups, and filters [k*C_out/groups, (k+1)*C_out/groups)
    see only input channels [k*C_in/groups, (k+1)*C_in/groups); groups = C_in is depthwise.
    Output (N, C_out, Ho, Wo) with Ho = (H + top + bottom - dh*(kh-1) - 1) // sh + 1.
    """
    op = "conv2d"
    _check_images(op, x=x, w=w)
    stride, dilation = _pair(stride, "stride", op, 1), _pair(dilation, "dilation", op, 1)
    padding = _padding(padding, op)
    groups = _groups(op, groups, {"x": x.shape[1], "w (C_out)": w.shape[0]})
    if x.shape[1] != w.shape[1] * groups:
        per_group = f" / groups={groups} = {x.shape[1] // groups}" if groups > 1 else ""
        raise ValueError(f"{op}: x has {x.shape[1]} channels (shape {x.shape}) but w expects "
                         f"{w.shape[1]}{' per group' if groups > 1 else ''} (shape {w.shape}, laid out (C_out, C_in/groups, kh, kw)); "
                         f"make w's second axis C_in{per_group}")
    out_hw = _conv_out_hw(op, x.shape[2:], w.shape[2:], stride, padding, dilation)
    y = Conv2d.apply(x, w, stride=stride, padding=padding, dilation=dilation, out_hw=out_hw,
                     groups=groups)
    return _add_bias(y, b, op)


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """Transposed convolution ("deconvolution"): the adjoint of conv2d with respect to its input.

    x (N, C_in, H, W), w (C_in, C_out/groups, kh, kw), b (C_out,) or None. Output height (width alike)
        H_out = (H - 1)*sh - top - bottom + dh*(kh-1) + output_padding + 1     (PyTorch's rule)
    padding crops the result (top rows, bottom rows, ...); output_padding adds rows at the
    bottom/right that no input reaches, to pick among the sizes a strided conv2d maps to H.
    groups as in conv2d (PyTorch's layout: C_out = w.shape[1] * groups).
    """
    op = "conv_transpose2d"
    _check_images(op, x=x, w=w)
    stride, dilation = _pair(stride, "stride", op, 1), _pair(dilation, "dilation", op, 1)
    padding = _padding(padding, op)
    output_padding = _pair(output_padding, "output_padding", op, 0)
    groups = _groups(op, groups, {"x": x.shape[1]})
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"{op}: x has {x.shape[1]} channels (shape {x.shape}) but w expects "
                         f"{w.shape[0]} (shape {w.shape}, laid out (C_in, C_out/groups, kh, kw)); make "
                         f"w's first axis match x's channel axis")
    out_hw = _conv_transpose_out_hw(op, x.shape[2:], w.shape[2:], stride, padding, output_padding, dilation)
    y = ConvTranspose2d.apply(x, w, stride=stride, padding=padding, dilation=dilation,
                              out_hw=tuple(out_hw), groups=groups)
    return _add_bias(y, b, op)


def _pool_geometry(op, x, kernel_size, stride, padding, ceil_mode):
    """Kernel, stride, the padding to add ((top, bottom), (left, right)) and the output size.

    PyTorch's rule per axis: out = floor_or_ceil((n + 2p - k) / s) + 1, where with ceil_mode
    a last window that would start in the bottom/right padding is dropped. The windows that
    ceil_mode lets hang over the padded edge get extra bottom/right padding here; it never
    wins a max, and the average leaves it out of the count.
    """
    _check_images(op, x=x)
    kernel = _pair(kernel_size, "kernel_size", op, 1)
    stride = kernel if stride is None else _pair(stride, "stride", op, 1)
    pad = _pair(padding, "padding", op, 0)
    pads, out_hw = [], []
    for n, k, s, p in zip(x.shape[2:], kernel, stride, pad):
        if 2 * p > k:
            raise ValueError(f"{op}: padding {pad} must be at most half the window {kernel} "
                             "(PyTorch's rule: every window must overlap the image)")
        if k > n + 2 * p:
            raise ValueError(f"{op}: the window {kernel} is larger than the input image {x.shape[2:]} "
                             f"with padding {pad} (x shape {x.shape}); use a smaller kernel_size or pad the input")
        out = (n + 2 * p - k + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (out - 1) * s >= n + p:
            out -= 1
        pads.append((p, max(p, (out - 1) * s + k - n - p)))
        out_hw.append(out)
    return kernel, stride, tuple(pads), tuple(out_hw)


def _padded(x, pads, value):
    if all(p == 0 for side in pads for p in side):
        return x
    return movement.pad(x, ((0, 0), (0, 0)) + pads, value=value)


def max_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    """Max over each kh x kw window (stride defaults to the window: non-overlapping tiles).

    padding (int or (ph, pw), at most half the window) pads with -inf (an integer image: its
    dtype's minimum), which never wins;
    ceil_mode=True keeps a last partial window at the bottom/right (PyTorch's semantics).
    Gradient: g goes to the window's maximum; tied maxima share it equally (Tensor.max).
    """
    kernel, stride, pads, _ = _pool_geometry("max_pool2d", x, kernel_size, stride, padding, ceil_mode)
    return Unfold2d.apply(_padded(x, pads, _lowest(x)), kernel=kernel, stride=stride).max(axis=(0, 1))


def _lowest(x):
    """The padding that never wins a max: -inf for floats, the dtype's minimum for integers
    (an integer array cannot hold -inf), False for booleans."""
    xp = xp_of(x.data)
    if xp.issubdtype(x.dtype, xp.integer):
        return int(xp.iinfo(x.dtype).min)
    if x.dtype == xp.bool_:
        return False
    return -math.inf


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over each kh x kw window.   dL/dx: every pixel of a window gets g / (its count).

    padding pads with zeros, counted in the mean when count_include_pad (PyTorch's default);
    with ceil_mode the part of a last window beyond the padded image is never counted.
    """
    op = "avg_pool2d"
    kernel, stride, pads, out_hw = _pool_geometry(op, x, kernel_size, stride, padding, ceil_mode)
    sums = Unfold2d.apply(_padded(x, pads, 0.0), kernel=kernel, stride=stride).sum(axis=(0, 1))
    if pads == ((0, 0), (0, 0)):
        return sums * (1.0 / (kernel[0] * kernel[1]))
    counts = []                       # per axis: how many of each window's rows (columns) count
    for n, k, s, (p, _), out in zip(x.shape[2:], kernel, stride, pads, out_hw):
        starts = [i * s - p for i in range(out)]                 # in image coordinates
        if count_include_pad:
            counts.append([min(a + k, n + p) - a for a in starts])
        else:
            counts.append([min(a + k, n) - max(a, 0) for a in starts])
    xp = xp_of(x.data)
    divisor = xp.asarray([[1.0 / (r * c) for c in counts[1]] for r in counts[0]], dtype=x.dtype)
    return sums * constant(divisor)


class Upsample(Function):
    """z = nearest-neighbour upsampling of x by (sh, sw):  z[n, c, i, j] = x[n, c, i // sh, j // sw]

    Every pixel of x is copied into an sh x sw block, so
        dL/dx = the sum of g over each block = BlockSum(g)
    """
    backward_reads_inputs = False

    def forward(self, x, scale):
        self.scale = scale
        (sh, sw), (N, C, H, W) = scale, x.shape
        blocks = xp_of(x).broadcast_to(x.reshape(N, C, H, 1, W, 1), (N, C, H, sh, W, sw))
        return blocks.reshape(N, C, H * sh, W * sw)

    def backward(self, g):
        return BlockSum.apply(g, scale=self.scale)

    def backward_arrays(self, g):
        return _block_sum(g, self.scale)


def _block_sum(g, scale):
    """Sum each sh x sw block of g: sh*sw strided slices added up (one pass over g each)."""
    sh, sw = scale
    total = g[:, :, 0::sh, 0::sw].copy()
    for a in range(sh):
        for b in range(sw):
            if a or b:
                total += g[:, :, a::sh, b::sw]
    return total


class BlockSum(Function):
    """z[n, c, i, j] = sum of x's sh x sw block (i, j): the adjoint of Upsample.

    Linear, so dL/dx = Upsample(g) (every pixel of a block gets its block's gradient).
    """
    backward_reads_inputs = False

    def forward(self, x, scale):
        self.scale = scale
        return _block_sum(x, scale)

    def backward(self, g):
        return Upsample.apply(g, scale=self.scale)


def upsample(x, scale=2):
    """Nearest-neighbour upsampling: every pixel becomes an sh x sw block (UpSampling2D)."""
    _check_images("upsample", x=x)
    return Upsample.apply(x, scale=_pair(scale, "scale", "upsample", 1))


def pad2d(x, pad, value=0.0):
    """Pad the two image axes with `value`: pad = int, (ph, pw) or ((top, bottom), (left, right)).

    The gradient crops the padding off again (movement.pad).
    """
    _check_images("pad2d", x=x)
    (top, bottom), (left, right) = _padding(pad, "pad2d", name="pad")
    return movement.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), value=value)
