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
import warnings

from ..engine import functional as F
from ..training import regularizers
from . import activations
from . import data_format as formats
from . import initializers
from .initializers import conv_fans
from .module import Module, _shapes_match, pair


def kernel_geometry(layer, kernel_size, strides, dilation_rate):
    """(kernel_size, strides, dilation_rate) as (h, w) pairs of positive ints, or an error naming
    the layer and the argument (a stride of 0 would otherwise end in a ZeroDivisionError)."""
    pairs = tuple(pair(v, f"{layer}: {what}") for what, v in
                  (("kernel_size", kernel_size), ("strides", strides), ("dilation_rate", dilation_rate)))
    for what, value in zip(("kernel_size", "strides", "dilation_rate"), pairs):
        if min(value) < 1:
            raise ValueError(f"{layer}: {what} must be positive, got {value}")
    return pairs


class ImageLayer(Module):
    """An image layer in either layout: its methods compute on NCHW (build, compute_output_shape,
    forward, expected_input_shape all speak channels-first); with data_format="channels_last"
    the shapes and tensors it is given are converted on the way in and back on the way out."""

    def __init__(self, name=None, input_shape=None, trainable=True, data_format=None):
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        self.data_format = formats.normalize(data_format, type(self).__name__)

    @property
    def channels_last(self) -> bool:
        return self.data_format == "channels_last"

    def _first(self, shape):
        if len(shape) != 3:
            layout = "(height, width, channels)" if self.channels_last else "(channels, height, width)"
            raise ValueError(f"{type(self).__name__} layer '{self.name}' needs images, per-sample shape "
                             f"{layout} ({self.data_format}); got {tuple(shape)}")
        return formats.to_channels_first(shape) if self.channels_last else tuple(shape)

    def _build(self, input_shape):
        shape = self._first(input_shape)
        if not self.channels_last and shape[2] in (1, 3, 4) and shape[0] > 4 * shape[2] and shape[1] > 4 * shape[2]:
            warnings.warn(f"{type(self).__name__} layer '{self.name}': input of per-sample shape {shape} reads as "
                          f"{shape[0]} channels of {shape[1]}x{shape[2]} pixels (channels_first), but looks "
                          f"like a channels-last image of {shape[2]} channel(s); for Keras' layout pass "
                          "data_format='channels_last' or call nn.set_image_data_format('channels_last')",
                          stacklevel=4)
        self.build(shape)

    def _output_shape(self, input_shape):
        out = self.compute_output_shape(self._first(input_shape))
        return formats.to_channels_last(out) if self.channels_last else out

    def _activate(self, y):
        """self.activation on an NCHW result, as Keras applies it in the layer's own layout: for
        an elementwise one (relu, ...) the layout does not matter; softmax (or a function of the
        user's) sees the channels last under channels_last."""
        if not self.channels_last or activations.is_elementwise(self.activation):
            return self.activation(y)
        return self.activation(y.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)

    def _forward(self, x, *args, **kwargs):
        if not self.channels_last:
            return self.forward(x, *args, **kwargs)
        y = self.forward(x.transpose(0, 3, 1, 2), *args, **kwargs)
        return y.transpose(0, 2, 3, 1)

    def fits_input(self, shape) -> bool:
        expected = self.expected_input_shape()
        return expected is None or (len(shape) == 3 and _shapes_match(expected, self._first(shape)))

    def _shape_error(self, expected, received) -> str:
        if self.channels_last and expected is not None:
            expected = formats.to_channels_last(expected)
        return super()._shape_error(expected, received).replace(
            "NCHW for images", "channels-last" if self.channels_last else "NCHW for images")


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


class _Conv(ImageLayer):
    """What Conv2D and Conv2DTranspose share: arguments, bias, activation, input checks."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 use_bias=True, input_shape=None, dilation_rate=1, name=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", trainable=True,
                 data_format=None, kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None):
        super().__init__(name=name, input_shape=input_shape, trainable=trainable, data_format=data_format)
        layer = type(self).__name__
        if isinstance(filters, bool) or not float(filters).is_integer() or int(filters) < 1:
            raise ValueError(f"{layer}: filters must be a positive integer, got {filters!r}")
        self.filters = int(filters)
        self.kernel_size, self.strides, self.dilation_rate = kernel_geometry(
            layer, kernel_size, strides, dilation_rate)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.padding = _check_padding(padding, layer)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.check(kernel_initializer, layer, "kernel_initializer")
        self.bias_initializer = initializers.check(bias_initializer, layer, "bias_initializer")

    def _check_image_shape(self, input_shape):
        self._first(input_shape)           # rank 3, or a clear error

    def expected_input_shape(self):
        """(C_in, None, None), channels-first (the layer's input_shape is in its own layout)."""
        return None if not self.built else (self._first(self.input_shape)[0], None, None)

    def _add_bias_and_activate(self, y):
        if self.use_bias:
            y = y + self.bias.reshape(1, -1, 1, 1)
        return self._activate(y)


class Conv2D(_Conv):
    """2-D convolution over NCHW images, Keras-style.

    Conv2D(filters, kernel_size, strides=1, padding="valid"|"same", activation=None,
           use_bias=True, input_shape=None, dilation_rate=1)
    """

    def build(self, input_shape):
        self._check_image_shape(input_shape)
        c_in = input_shape[0]
        self.kernel = self.add_weight((self.filters, c_in) + self.kernel_size, self.kernel_initializer,
                                      fans=conv_fans(c_in, self.filters, self.kernel_size),
                                      regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, regularizer=self.bias_regularizer)

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


class Convolution2D(Conv2D):
    """Keras' other name for Conv2D, kept by Keras 3. Keras 1 wrote Convolution2D(64, 3, 3) for a
    3x3 kernel, which Keras 3 reads as kernel 3, strides 3: a different network, run silently. So
    here a third positional argument, and Keras 1's keywords, are refused with the Keras 3 spelling."""

    KERAS1 = {"nb_filter": "filters", "nb_row": "kernel_size=(rows, cols)", "nb_col": "kernel_size=(rows, cols)",
              "border_mode": "padding", "subsample": "strides", "init": "kernel_initializer",
              "dim_ordering": "data_format ('channels_first' / 'channels_last')"}

    def __init__(self, filters=None, kernel_size=None, *more, **kwargs):
        old = sorted(set(kwargs) & set(self.KERAS1))
        if old:
            raise TypeError(f"Convolution2D({old[0]}=...) is Keras 1's spelling: use "
                            f"{self.KERAS1[old[0]]}=... (Keras 3: Conv2D(filters, kernel_size, strides, padding))")
        if more and isinstance(kernel_size, int) and isinstance(more[0], int):
            raise TypeError(f"Convolution2D({filters}, {kernel_size}, {more[0]}, ...) is Keras 1's spelling of a "
                            f"{kernel_size}x{more[0]} kernel; Keras 3 reads the third argument as strides. Write "
                            f"Conv2D({filters}, ({kernel_size}, {more[0]})) (or strides={more[0]} by name)")
        super().__init__(filters, kernel_size, *more, **kwargs)


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
                                      fans=conv_fans(self.filters, c_in, self.kernel_size),
                                      regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, regularizer=self.bias_regularizer)

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


class MaxPooling2D(ImageLayer):
    """The maximum of each pool_size window; strides default to pool_size (Keras).

    padding="same" pads with -inf so that windows at the border take the maximum of the
    pixels they do cover, giving ceil(in / strides) outputs, as Keras.
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", name=None, input_shape=None,
                 data_format=None):
        super().__init__(name=name, input_shape=input_shape, data_format=data_format)
        self.pool_size = pair(pool_size, "MaxPooling2D: pool_size")
        self.strides = self.pool_size if strides is None else pair(strides, "MaxPooling2D: strides")
        self.padding = _check_padding(padding, "MaxPooling2D")

    def compute_output_shape(self, input_shape):
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


class UpSampling2D(ImageLayer):
    """Repeat every pixel size x size times (nearest neighbour): (C, H, W) -> (C, H*sh, W*sw)."""

    def __init__(self, size=2, name=None, input_shape=None, data_format=None, interpolation="nearest"):
        super().__init__(name=name, input_shape=input_shape, data_format=data_format)
        if interpolation != "nearest":
            raise ValueError(f"UpSampling2D: only interpolation='nearest' is supported, got {interpolation!r}")
        self.size = pair(size, "UpSampling2D: size")
        if min(self.size) < 1:
            raise ValueError(f"UpSampling2D: size must be positive, got {self.size}")

    def compute_output_shape(self, input_shape):
        c, h, w = input_shape
        return (c, h * self.size[0], w * self.size[1])

    def forward(self, x):
        return F.upsample(x, self.size)


class ZeroPadding2D(ImageLayer):
    """Add rows and columns of zeros: padding = p, (ph, pw) or ((top, bottom), (left, right))."""

    def __init__(self, padding=1, name=None, input_shape=None, data_format=None):
        super().__init__(name=name, input_shape=input_shape, data_format=data_format)
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
