"""Convolution and pooling on NCHW images: conv2d, conv_transpose2d, max/avg pool, upsample, pad2d.

A convolution is a matrix product in disguise (im2col):

    y[n, o, i, j] = sum_{c, a, b} w[o, c, a, b] * x_pad[n, c, i*sh + a*dh, j*sw + b*dw]

Copy every kh x kw patch of the (padded) input into one column of a matrix, "cols", of
shape (C_in*kh*kw, Ho*Wo*N); then Y = W @ cols with W = w as a (C_out, C_in*kh*kw) matrix:
ONE big GEMM does all the arithmetic. The copy itself is a strided *view* of the input
(as_strided: the patches overlap in memory, nothing is copied until the reshape).

Running it backwards, cols = W^T @ Y, and "col2im" adds every column back onto the patch
it came from (overlapping patches add up): that is conv_transpose2d, which is also exactly
conv2d's gradient with respect to its input. col2im loops over the kh*kw kernel offsets,
each one a strided slice-add of a whole image, never over pixels.

Three fused nodes, each bilinear in its two inputs, so each backward is made of the other
two and gradients of any order work:

    Conv2d(x, w)            y  = conv(x, w)
    ConvTranspose2d(y, w)   x  = conv^T(y, w)       (the adjoint of x -> conv(x, w))
    Conv2dFilterGrad(x, g)  dw = dL/dw of conv(x, w) when g = dL/dy

Inside them images are kept "batch-last", (C, H, W, N): the columns of cols then run over
(row, column, sample), so the GEMM result is an image again, and each slice-add of col2im
moves runs of N adjacent numbers instead of single strided ones (2-3x faster on a CPU).

Pooling: Unfold2d copies the windows out as a (kh, kw, N, C, Ho, Wo) array; max/avg pooling
are a max/mean over its two leading axes, whose backward (Tensor.max: ties share equally)
lands on the windows, and Fold2d (col2im again) adds those back onto the image.
"""
from __future__ import annotations

import operator

from ..function import Function, xp_of
from ..tensor import Tensor
from . import movement


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


def _batch_last(x, padding):
    """(N, C, H, W) image -> zero-padded (C, H+pt+pb, W+pl+pr, N) copy (pad and transpose in one go)."""
    xp = xp_of(x)
    N, C, H, W = x.shape
    (pt, pb), (pl, pr) = padding
    out = xp.zeros((C, H + pt + pb, W + pl + pr, N), dtype=x.dtype)
    out[:, pt:pt + H, pl:pl + W, :] = x.transpose(1, 2, 3, 0)
    return out


def _from_batch_last(image):
    """(C, H, W, N) -> a contiguous (N, C, H, W) array."""
    return xp_of(image).ascontiguousarray(image.transpose(3, 0, 1, 2))


def _to_matrix(y):
    """(N, C, H, W) image -> (C, H*W*N) matrix, columns ordered (row, column, sample) like cols'."""
    N, C, H, W = y.shape
    return y.transpose(1, 2, 3, 0).reshape(C, H * W * N)     # explicit sizes: N may be 0


def _im2col(x_bl, kernel, out_hw, stride, dilation):
    """Batch-last padded image (C, Hp, Wp, N) -> cols (C*kh*kw, Ho*Wo*N), one patch per column."""
    C, N = x_bl.shape[0], x_bl.shape[3]
    view = _windows(x_bl, kernel, out_hw, stride, dilation, h_axis=1)    # (kh, kw, C, Ho, Wo, N)
    return view.transpose(2, 0, 1, 3, 4, 5).reshape(C * kernel[0] * kernel[1], out_hw[0] * out_hw[1] * N)


def _cols_to_image(cols, kernel, out_hw, canvas_hw, stride, dilation):
    """cols (C*kh*kw, Ho*Wo*N) -> batch-last image (C, Hc, Wc, N): _im2col's adjoint."""
    (kh, kw), (Ho, Wo) = kernel, out_hw
    C, N = cols.shape[0] // (kh * kw), cols.shape[1] // (Ho * Wo)
    windows = cols.reshape(C, kh, kw, Ho, Wo, N).transpose(1, 2, 0, 3, 4, 5)   # (kh, kw, C, Ho, Wo, N)
    return _col2im(windows, (C,) + tuple(canvas_hw) + (N,), stride, dilation, h_axis=1)


# ----------------------------------------------------------------------------- convolution

def _conv2d(x, w, stride, padding, dilation, out_hw):
    """The arrays of conv2d: Y = W @ cols(x), back to NCHW."""
    C_out, _, kh, kw = w.shape
    Ho, Wo = out_hw
    cols = _im2col(_batch_last(x, padding), (kh, kw), out_hw, stride, dilation)
    y = w.reshape(C_out, -1) @ cols                                         # (C_out, Ho*Wo*N)
    return _from_batch_last(y.reshape(C_out, Ho, Wo, x.shape[0]))


class Conv2d(Function):
    """y = conv2d(x, w), no bias:  y[n,o,i,j] = sum_{c,a,b} w[o,c,a,b] * x_pad[n, c, i*sh + a*dh, j*sw + b*dw]

    As matrices Y = W @ cols(x). y is bilinear (linear in x and in w):
        dL/dx = conv_transpose2d(g, w)       (the adjoint of x -> conv2d(x, w))
        dL/dw = Conv2dFilterGrad(x, g)       (= G @ cols(x)^T)
    out_hw is the output size; normally the largest that fits, smaller when this node is
    the gradient of a conv_transpose2d whose output_padding left rows unread.
    """
    def forward(self, x, w, stride, padding, dilation, out_hw):
        self.geometry = dict(stride=stride, padding=padding, dilation=dilation)
        return _conv2d(x, w, stride, padding, dilation, out_hw)

    def backward(self, g):
        x, w = self.inputs
        need_x, need_w = self.needs_input_grad
        g_x = ConvTranspose2d.apply(g, w, out_hw=x.shape[2:], **self.geometry) if need_x else None
        g_w = Conv2dFilterGrad.apply(x, g, kernel=w.shape[2:], **self.geometry) if need_w else None
        return g_x, g_w


class ConvTranspose2d(Function):
    """x = conv_transpose2d(y, w): the adjoint of conv2d(., w) for the same geometry.

    w is laid out as for that conv2d, (C_y, C_x, kh, kw). As matrices cols = W^T @ Y, then
    col2im adds every column onto its patch and the padding is cropped off (out_hw = the
    size of x). Since <conv_transpose2d(y, w), G> = <y, conv2d(G, w)> for every G:
        dL/dy = conv2d(g, w)
        dL/dw = Conv2dFilterGrad(g, y)
    """
    def forward(self, y, w, stride, padding, dilation, out_hw):
        self.geometry = dict(stride=stride, padding=padding, dilation=dilation)
        C_y, C_x, kh, kw = w.shape
        N, _, Ho, Wo = y.shape
        (pt, pb), (pl, pr) = padding
        H, W = out_hw
        if stride == (1, 1) and dilation == (1, 1) and max(pt, pb) < kh and max(pl, pr) < kw:
            # With stride 1 the adjoint is itself a convolution: of y padded with k-1-p zeros,
            # by the kernel flipped in space with its channel axes swapped. Its im2col has
            # C_y*kh*kw rows and the GEMM's output is the image, instead of a (C_x*kh*kw)-row
            # matrix added back by col2im: much less memory traffic, above all for few C_y.
            w_flipped = xp_of(w).ascontiguousarray(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
            full = ((kh - 1 - pt, kh - 1 - pb), (kw - 1 - pl, kw - 1 - pr))
            return _conv2d(y, w_flipped, (1, 1), full, (1, 1), out_hw)
        cols = w.reshape(C_y, -1).T @ _to_matrix(y)                        # (C_x*kh*kw, Ho*Wo*N)
        canvas = _cols_to_image(cols, (kh, kw), (Ho, Wo), (H + pt + pb, W + pl + pr),
                                stride, dilation)
        return _from_batch_last(canvas[:, pt:pt + H, pl:pl + W, :])

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
        C_y, C_x, kh, kw = w.shape
        geo = self.geometry
        Ho, Wo = y.shape[2:]
        cols = _im2col(_batch_last(g, geo["padding"]), (kh, kw), (Ho, Wo), geo["stride"], geo["dilation"])
        g_y = _from_batch_last((w.reshape(C_y, -1) @ cols).reshape(C_y, Ho, Wo, y.shape[0])) \
            if need_y else None
        g_w = (_to_matrix(y) @ cols.T).reshape(w.shape) if need_w else None
        return g_y, g_w


class Conv2dFilterGrad(Function):
    """dw = Conv2dFilterGrad(x, g): dL/dw of y = conv2d(x, w) when g = dL/dy.

    dw[o,c,a,b] = sum_{n,i,j} g[n,o,i,j] * x_pad[n, c, i*sh + a*dh, j*sw + b*dw];  as matrices G @ cols(x)^T.
    It is bilinear, with <dw, V> = <conv2d(x, V), g> for every V, so for V = dL/d(dw):
        dL/dx = conv_transpose2d(g, V)
        dL/dg = conv2d(x, V)
    """
    def forward(self, x, g, stride, padding, dilation, kernel):
        self.geometry = dict(stride=stride, padding=padding, dilation=dilation)
        C_out, C_in = g.shape[1], x.shape[1]
        cols = _im2col(_batch_last(x, padding), kernel, g.shape[2:], stride, dilation)
        return (_to_matrix(g) @ cols.T).reshape((C_out, C_in) + tuple(kernel))

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


def _add_bias(y, b, op):
    if b is None:
        return y
    if not isinstance(b, Tensor) or b.shape != (y.shape[1],):
        raise ValueError(f"{op}: bias must be a Tensor of shape ({y.shape[1]},) (one per output "
                         f"channel), got {getattr(b, 'shape', type(b).__name__)}")
    return y + b.reshape(1, -1, 1, 1)


# ----------------------------------------------------------------------------- entry points

def conv2d(x, w, b=None, stride=1, padding=0, dilation=1):
    """2-D convolution (cross-correlation, like every DL library) of NCHW images.

    x (N, C_in, H, W), w (C_out, C_in, kh, kw), b (C_out,) or None.
    stride, dilation: int or (sh, sw). padding: int, (ph, pw) or ((top, bottom), (left, right)).
    Output (N, C_out, Ho, Wo) with Ho = (H + top + bottom - dh*(kh-1) - 1) // sh + 1.
    """
    op = "conv2d"
    _check_images(op, x=x, w=w)
    stride, dilation = _pair(stride, "stride", op, 1), _pair(dilation, "dilation", op, 1)
    padding = _padding(padding, op)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"{op}: x has {x.shape[1]} channels (shape {x.shape}) but w expects "
                         f"{w.shape[1]} (shape {w.shape}, laid out (C_out, C_in, kh, kw)); make "
                         f"w's second axis match x's channel axis")
    out_hw = _conv_out_hw(op, x.shape[2:], w.shape[2:], stride, padding, dilation)
    y = Conv2d.apply(x, w, stride=stride, padding=padding, dilation=dilation, out_hw=out_hw)
    return _add_bias(y, b, op)


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, dilation=1):
    """Transposed convolution ("deconvolution"): the adjoint of conv2d with respect to its input.

    x (N, C_in, H, W), w (C_in, C_out, kh, kw), b (C_out,) or None. Output height (width alike)
        H_out = (H - 1)*sh - top - bottom + dh*(kh-1) + output_padding + 1     (PyTorch's rule)
    padding crops the result (top rows, bottom rows, ...); output_padding adds rows at the
    bottom/right that no input reaches, to pick among the sizes a strided conv2d maps to H.
    """
    op = "conv_transpose2d"
    _check_images(op, x=x, w=w)
    stride, dilation = _pair(stride, "stride", op, 1), _pair(dilation, "dilation", op, 1)
    padding = _padding(padding, op)
    output_padding = _pair(output_padding, "output_padding", op, 0)
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"{op}: x has {x.shape[1]} channels (shape {x.shape}) but w expects "
                         f"{w.shape[0]} (shape {w.shape}, laid out (C_in, C_out, kh, kw)); make "
                         f"w's first axis match x's channel axis")
    out_hw = []
    for n, k, s, (before, after), d, extra in zip(x.shape[2:], w.shape[2:], stride, padding,
                                                  dilation, output_padding):
        if extra >= max(s, d):
            raise ValueError(f"{op}: output_padding {output_padding} must be smaller than the stride "
                             f"{stride} or the dilation {dilation} in each dimension")
        size = (n - 1) * s - before - after + d * (k - 1) + extra + 1
        if n < 1 or size < 1:
            raise ValueError(f"{op}: the output would be {size} pixels (input {x.shape}, kernel "
                             f"{w.shape[2:]}, stride {stride}, padding {padding}); use less padding")
        out_hw.append(size)
    y = ConvTranspose2d.apply(x, w, stride=stride, padding=padding, dilation=dilation,
                              out_hw=tuple(out_hw))
    return _add_bias(y, b, op)


def _pool_args(op, x, kernel_size, stride):
    _check_images(op, x=x)
    kernel = _pair(kernel_size, "kernel_size", op, 1)
    stride = kernel if stride is None else _pair(stride, "stride", op, 1)
    if kernel[0] > x.shape[2] or kernel[1] > x.shape[3]:
        raise ValueError(f"{op}: the window {kernel} is larger than the input image {x.shape[2:]} "
                         f"(x shape {x.shape}); use a smaller kernel_size or pad the input")
    return kernel, stride


def max_pool2d(x, kernel_size, stride=None):
    """Max over each kh x kw window (stride defaults to the window: non-overlapping tiles).

    Gradient: g goes to the window's maximum; tied maxima share it equally (Tensor.max).
    """
    kernel, stride = _pool_args("max_pool2d", x, kernel_size, stride)
    return Unfold2d.apply(x, kernel=kernel, stride=stride).max(axis=(0, 1))


def avg_pool2d(x, kernel_size, stride=None):
    """Mean over each kh x kw window.   dL/dx: every pixel of a window gets g / (kh*kw)."""
    kernel, stride = _pool_args("avg_pool2d", x, kernel_size, stride)
    return Unfold2d.apply(x, kernel=kernel, stride=stride).mean(axis=(0, 1))


def upsample(x, scale=2):
    """Nearest-neighbour upsampling: every pixel becomes an sh x sw block.

    Built from reshape -> broadcast_to -> reshape, so the gradient (each block's g summed
    back into its pixel) comes by composition.
    """
    _check_images("upsample", x=x)
    sh, sw = _pair(scale, "scale", "upsample", 1)
    N, C, H, W = x.shape
    blocks = x.reshape(N, C, H, 1, W, 1).broadcast_to((N, C, H, sh, W, sw))
    return blocks.reshape(N, C, H * sh, W * sw)


def pad2d(x, pad, value=0.0):
    """Pad the two image axes with `value`: pad = int, (ph, pw) or ((top, bottom), (left, right)).

    The gradient crops the padding off again (movement.pad).
    """
    _check_images("pad2d", x=x)
    (top, bottom), (left, right) = _padding(pad, "pad2d", name="pad")
    return movement.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), value=value)
