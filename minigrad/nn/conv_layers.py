"""Image layers (NCHW): Conv2D, Conv2DTranspose, MaxPooling2D, UpSampling2D, ZeroPadding2D.

Sizes follow Keras, so a model transcribed from Keras has the same shapes:

    Conv2D, padding="valid"   out = floor((in - k_eff) / stride) + 1     k_eff = dilation*(k-1) + 1
    Conv2D, padding="same"    out = ceil(in / stride); the zeros needed, max((out-1)*stride +
                              k_eff - in, 0), are split with the odd one at the bottom/right (TF)
    Conv2DTranspose "same"    out = in * stride
    Conv2DTranspose "valid"   out = in * stride + max(k_eff - stride, 0)
    with output_padding=p     out = (in-1)*stride + k_eff - 2*pad + p,  pad = k_eff // 2 ("same") or 0

Kernels are laid out as minigrad.functional expects: Conv2D (filters, C_in, kh, kw),
Conv2DTranspose (C_in, filters, kh, kw); initialised Glorot-uniform with Keras' fans.
"""
from __future__ import annotations

import math

from .. import functional as F
from . import activations
from .initializers import conv_fans
from .module import Module, pair


def _check_padding(padding, layer):
    padding = str(padding).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"{layer}: padding must be 'valid' or 'same', got {padding!r}")
    return padding


def same_padding(size, kernel, stride, dilation=1) -> tuple:
    """(before, after) zeros for Keras/TF "same" along one axis: output ceil(size / stride)."""
    span = dilation * (kernel - 1) + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def conv_output_length(size, kernel, stride, padding, dilation=1) -> int:
    span = dilation * (kernel - 1) + 1
    if padding == "same":
        return -(-size // stride)
    return (size - span) // stride + 1


def deconv_output_length(size, kernel, stride, padding, output_padding=None, dilation=1) -> int:
    """Keras' output length of a transposed convolution along one axis."""
    span = dilation * (kernel - 1) + 1
    if output_padding is None:
        return size * stride if padding == "same" else size * stride + max(span - stride, 0)
    pad = span // 2 if padding == "same" else 0
    return (size - 1) * stride + span - 2 * pad + output_padding


class _Conv(Module):
    """What Conv2D and Conv2DTranspose share: arguments, bias, activation, input checks."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 use_bias=True, input_shape=None, dilation_rate=1, name=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", trainable=True):
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        layer = type(self).__name__
        if int(filters) < 1:
            raise ValueError(f"{layer}: filters must be a positive integer, got {filters}")
        self.filters = int(filters)
        self.kernel_size = pair(kernel_size, f"{layer}: kernel_size")
        self.strides = pair(strides, f"{layer}: strides")
        self.dilation_rate = pair(dilation_rate, f"{layer}: dilation_rate")
        self.padding = _check_padding(padding, layer)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer

    def _check_image_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{type(self).__name__} layer '{self.name}' needs NCHW images, per-sample "
                             f"shape (channels, height, width); got {tuple(input_shape)}")

    def expected_input_shape(self):
        return None if not self.built else (self.input_shape[0], None, None)

    def _add_bias_and_activate(self, y):
        if self.use_bias:
            y = y + self.bias.reshape(1, -1, 1, 1)
        return self.activation(y)


class Conv2D(_Conv):
    """2-D convolution over NCHW images, Keras-style.

    Conv2D(filters, kernel_size, strides=1, padding="valid"|"same", activation=None,
           use_bias=True, input_shape=None, dilation_rate=1)
    """

    def build(self, input_shape):
        self._check_image_shape(input_shape)
        c_in = input_shape[0]
        self.kernel = self.add_weight((self.filters, c_in) + self.kernel_size, self.kernel_initializer,
                                      fans=conv_fans(c_in, self.filters, self.kernel_size))
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer)

    def compute_output_shape(self, input_shape):
        self._check_image_shape(input_shape)
        c, h, w = input_shape
        sizes = [conv_output_length(n, k, s, self.padding, d)
                 for n, k, s, d in zip((h, w), self.kernel_size, self.strides, self.dilation_rate)]
        if min(sizes) < 1:
            raise ValueError(f"Conv2D layer '{self.name}': a {self.kernel_size} kernel (dilation "
                             f"{self.dilation_rate}) does not fit an input of {h}x{w} with "
                             f"padding='valid'; use padding='same' or a larger input")
        return (self.filters,) + tuple(sizes)

    def forward(self, x):
        if self.padding == "same":
            pads = tuple(same_padding(n, k, s, d) for n, k, s, d in
                         zip(x.shape[2:], self.kernel_size, self.strides, self.dilation_rate))
        else:
            pads = 0
        y = F.conv2d(x, self.kernel, None, stride=self.strides, padding=pads, dilation=self.dilation_rate)
        return self._add_bias_and_activate(y)


class Conv2DTranspose(_Conv):
    """Transposed convolution ("deconvolution"), which grows images: "same" gives in * strides.

    Conv2DTranspose(filters, kernel_size, strides=1, padding="valid"|"same", output_padding=None,
                    activation=None, use_bias=True, input_shape=None, dilation_rate=1)
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, **kwargs)
        if output_padding is not None:
            output_padding = pair(output_padding, "Conv2DTranspose: output_padding")
            if any(p >= s for p, s in zip(output_padding, self.strides)):
                raise ValueError(f"Conv2DTranspose: output_padding {output_padding} must be smaller "
                                 f"than strides {self.strides}")
        self.output_padding = output_padding

    def build(self, input_shape):
        self._check_image_shape(input_shape)
        c_in = input_shape[0]
        self.kernel = self.add_weight((c_in, self.filters) + self.kernel_size, self.kernel_initializer,
                                      fans=conv_fans(self.filters, c_in, self.kernel_size))
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer)

    def _lengths(self, in_hw):
        extra = self.output_padding or (None, None)
        return tuple(deconv_output_length(n, k, s, self.padding, p, d) for n, k, s, p, d in
                     zip(in_hw, self.kernel_size, self.strides, extra, self.dilation_rate))

    def compute_output_shape(self, input_shape):
        self._check_image_shape(input_shape)
        return (self.filters,) + self._lengths(input_shape[1:])

    def forward(self, x):
        # The full transposed convolution covers (in-1)*stride + k_eff pixels per axis. Keras'
        # output is a window of it: "same" crops the excess evenly (the odd one at the end, as
        # TF); where the output is longer (kernel smaller than the stride), zeros are appended.
        pads, extra = [], []
        for n, k, s, d, length in zip(x.shape[2:], self.kernel_size, self.strides, self.dilation_rate,
                                      self._lengths(x.shape[2:])):
            full = (n - 1) * s + d * (k - 1) + 1
            before = max(full - length, 0) // 2 if self.padding == "same" else 0
            after = full - before - length
            pads.append((before, max(after, 0)))
            extra.append(max(-after, 0))
        y = F.conv_transpose2d(x, self.kernel, None, stride=self.strides, padding=tuple(pads),
                               output_padding=tuple(extra), dilation=self.dilation_rate)
        return self._add_bias_and_activate(y)


class MaxPooling2D(Module):
    """The maximum of each pool_size window; strides default to pool_size (Keras).

    padding="same" pads with -inf so that windows at the border take the maximum of the
    pixels they do cover, giving ceil(in / strides) outputs, as Keras.
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.pool_size = pair(pool_size, "MaxPooling2D: pool_size")
        self.strides = self.pool_size if strides is None else pair(strides, "MaxPooling2D: strides")
        self.padding = _check_padding(padding, "MaxPooling2D")

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"MaxPooling2D layer '{self.name}' needs NCHW images, got per-sample "
                             f"shape {tuple(input_shape)}")
        c, h, w = input_shape
        sizes = tuple(conv_output_length(n, k, s, self.padding)
                      for n, k, s in zip((h, w), self.pool_size, self.strides))
        if min(sizes) < 1:
            raise ValueError(f"MaxPooling2D layer '{self.name}': pool {self.pool_size} is larger than "
                             f"the {h}x{w} input")
        return (c,) + sizes

    def forward(self, x):
        if self.padding == "same":
            pads = tuple(same_padding(n, k, s) for n, k, s in zip(x.shape[2:], self.pool_size, self.strides))
            x = F.pad2d(x, pads, value=-math.inf)
        return F.max_pool2d(x, self.pool_size, self.strides)


class UpSampling2D(Module):
    """Repeat every pixel size x size times (nearest neighbour): (C, H, W) -> (C, H*sh, W*sw)."""

    def __init__(self, size=2, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.size = pair(size, "UpSampling2D: size")

    def compute_output_shape(self, input_shape):
        c, h, w = input_shape
        return (c, h * self.size[0], w * self.size[1])

    def forward(self, x):
        return F.upsample(x, self.size)


class ZeroPadding2D(Module):
    """Add rows and columns of zeros: padding = p, (ph, pw) or ((top, bottom), (left, right))."""

    def __init__(self, padding=1, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        if isinstance(padding, int):
            padding = ((padding, padding), (padding, padding))
        padding = tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)
        if len(padding) != 2 or any(len(p) != 2 or min(p) < 0 for p in padding):
            raise ValueError(f"ZeroPadding2D: padding must be an int, (ph, pw) or "
                             f"((top, bottom), (left, right)) of non-negative ints, got {padding}")
        self.padding = padding

    def compute_output_shape(self, input_shape):
        c, h, w = input_shape
        (top, bottom), (left, right) = self.padding
        return (c, h + top + bottom, w + left + right)

    def forward(self, x):
        return F.pad2d(x, self.padding)
