"""1-D convolution and pooling over sequences (batch, time, channels), and the global poolings.

    Conv1D(filters, kernel_size, strides=1, padding="valid"|"same"|"causal", dilation_rate=1)
      y[b, t, f] = bias[f] + sum_{k, c} kernel[k, c, f] * x_pad[b, t*stride + k*dilation, c]
      kernel (kernel_size, in_channels, filters), as Keras lays it out

A sequence is an image one pixel high: (batch, time, channels) is turned into the NCHW image
(batch, channels, 1, time), convolved or pooled with minigrad's 2-D ops along the width, and
turned back. The gradients come from those ops. Output lengths are Keras':

    valid    out = floor((T - span) / stride) + 1,   span = dilation*(kernel_size-1) + 1
    same     out = ceil(T / stride), the zeros split with the odd one at the end (TF)
    causal   span - 1 zeros before the sequence only, so y_t never sees x after t

GlobalMaxPooling1D / GlobalAveragePooling1D reduce over time; the 2-D ones over height and
width (NCHW by default: data_format="channels_first"; "channels_last" for NHWC).
GlobalAveragePooling1D skips masked steps (a mask from Embedding(mask_zero=True)).
"""
from __future__ import annotations

import math

from ..engine import functional as F
from ..engine.function import constant, xp_of
from . import activations
from . import data_format as formats
from . import initializers
from .conv_layers import same_padding
from .embedding import mask_of
from .module import Module


def _int(value, what, layer, minimum=1):
    """An int, or a 1-tuple of one (Keras accepts both), at least `minimum`."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{layer}: {what} must be an int or a 1-tuple, got {value!r}")
        value = value[0]
    if int(value) != value or int(value) < minimum:
        raise ValueError(f"{layer}: {what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _padding_mode(padding, layer, allowed):
    padding = str(padding).lower()
    if padding not in allowed:
        raise ValueError(f"{layer}: padding must be one of {allowed}, got {padding!r}")
    return padding


def output_length(length, kernel, stride, padding, dilation=1):
    """Keras' output length along time (None stays None: a variable-length sequence)."""
    if length is None:
        return None
    span = dilation * (kernel - 1) + 1
    if padding == "same":
        return -(-length // stride)
    if padding == "causal":
        return (length - 1) // stride + 1
    return (length - span) // stride + 1


def time_padding(length, kernel, stride, padding, dilation=1):
    """(before, after) zeros along time for padding valid / same / causal."""
    if padding == "same":
        return same_padding(length, kernel, stride, dilation)
    if padding == "causal":
        return dilation * (kernel - 1), 0
    return 0, 0


def _as_image(x):
    """(batch, time, channels) -> (batch, channels, 1, time)."""
    return x.transpose(0, 2, 1).reshape(x.shape[0], x.shape[2], 1, x.shape[1])


def _as_sequence(y):
    """(batch, channels, 1, time) -> (batch, time, channels)."""
    return y.reshape(y.shape[0], y.shape[1], y.shape[3]).transpose(0, 2, 1)


def _check_sequence(layer, input_shape):
    if len(input_shape) != 2:
        raise ValueError(f"{type(layer).__name__} layer '{layer.name}' needs sequences of shape "
                         f"(batch, time, channels); got per-sample shape {tuple(input_shape)}")


class Conv1D(Module):
    """1-D convolution along time (see the module docstring for the formula and lengths).

    Conv1D(filters, kernel_size, strides=1, padding="valid"|"same"|"causal", dilation_rate=1,
           activation=None, use_bias=True, input_shape=None)
    kernel (kernel_size, in_channels, filters) Glorot-uniform, bias (filters,) zeros.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1,
                 activation=None, use_bias=True, input_shape=None, name=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", trainable=True):
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        self.filters = _int(filters, "filters", "Conv1D")
        self.kernel_size = _int(kernel_size, "kernel_size", "Conv1D")
        self.strides = _int(strides, "strides", "Conv1D")
        self.dilation_rate = _int(dilation_rate, "dilation_rate", "Conv1D")
        if self.strides > 1 and self.dilation_rate > 1:
            raise ValueError("Conv1D: strides > 1 together with dilation_rate > 1 is not supported "
                             "(Keras refuses it too)")
        self.padding = _padding_mode(padding, "Conv1D", ("valid", "same", "causal"))
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.check(kernel_initializer, "Conv1D", "kernel_initializer")
        self.bias_initializer = initializers.check(bias_initializer, "Conv1D", "bias_initializer")

    def build(self, input_shape):
        _check_sequence(self, input_shape)
        c_in = input_shape[1]
        k = self.kernel_size
        self.kernel = self.add_weight((k, c_in, self.filters), self.kernel_initializer,
                                      fans=(c_in * k, self.filters * k))
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer)

    def compute_output_shape(self, input_shape):
        _check_sequence(self, input_shape)
        length = output_length(input_shape[0], self.kernel_size, self.strides, self.padding,
                               self.dilation_rate)
        if length is not None and length < 1:
            raise ValueError(f"Conv1D layer '{self.name}': a kernel of {self.kernel_size} (dilation "
                             f"{self.dilation_rate}) does not fit a sequence of {input_shape[0]} "
                             f"steps with padding='valid'; use padding='same' or 'causal'")
        return (length, self.filters)

    def expected_input_shape(self):
        return None if not self.built else (None, self.input_shape[1])

    def forward(self, x):
        before, after = time_padding(x.shape[1], self.kernel_size, self.strides, self.padding,
                                     self.dilation_rate)
        k, c_in, filters = self.kernel.shape
        w = self.kernel.transpose(2, 1, 0).reshape(filters, c_in, 1, k)   # (F, C_in, 1, k)
        y = F.conv2d(_as_image(x), w, None, stride=(1, self.strides),
                     padding=((0, 0), (before, after)), dilation=(1, self.dilation_rate))
        y = _as_sequence(y)
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)


class _Pooling1D(Module):
    def __init__(self, pool_size=2, strides=None, padding="valid", name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        layer = type(self).__name__
        self.pool_size = _int(pool_size, "pool_size", layer)
        self.strides = self.pool_size if strides is None else _int(strides, "strides", layer)
        self.padding = _padding_mode(padding, layer, ("valid", "same"))

    def compute_output_shape(self, input_shape):
        _check_sequence(self, input_shape)
        length = output_length(input_shape[0], self.pool_size, self.strides, self.padding)
        if length is not None and length < 1:
            raise ValueError(f"{type(self).__name__} layer '{self.name}': pool_size {self.pool_size} "
                             f"is longer than the sequence ({input_shape[0]} steps)")
        return (length, input_shape[1])

    def _pads(self, x):
        before, after = time_padding(x.shape[1], self.pool_size, self.strides, self.padding)
        return ((0, 0), (before, after))


class MaxPooling1D(_Pooling1D):
    """The maximum of each window of pool_size steps; strides default to pool_size.

    padding="same" pads with -inf, so a window at the border takes the max of what it covers.
    """

    def forward(self, x):
        image = _as_image(x)
        if self.padding == "same":
            image = F.pad2d(image, self._pads(x), value=-math.inf)
        return _as_sequence(F.max_pool2d(image, (1, self.pool_size), (1, self.strides)))


class AveragePooling1D(_Pooling1D):
    """The mean of each window of pool_size steps; strides default to pool_size.

    padding="same": a window at the border averages only the steps it covers (as Keras/TF),
    i.e. the zero-padded window sum divided by the number of real steps in the window.
    """

    def forward(self, x):
        image = _as_image(x)
        window = (1, self.pool_size), (1, self.strides)
        if self.padding == "valid":
            return _as_sequence(F.avg_pool2d(image, *window))
        pads = self._pads(x)
        sums = F.avg_pool2d(F.pad2d(image, pads), *window) * self.pool_size
        xp = _xp(x)
        ones = constant(xp.ones((1, 1, 1, x.shape[1]), dtype=x.dtype))
        counts = F.avg_pool2d(F.pad2d(ones, pads), *window) * self.pool_size
        return _as_sequence(sums / counts)


def _xp(t):
    return xp_of(t.data)


class GlobalMaxPooling1D(Module):
    """(batch, time, channels) -> (batch, channels): the maximum over time."""

    def __init__(self, keepdims=False, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        _check_sequence(self, input_shape)
        return (1, input_shape[1]) if self.keepdims else (input_shape[1],)

    def forward(self, x):
        return x.max(axis=1, keepdims=self.keepdims)


class GlobalAveragePooling1D(Module):
    """(batch, time, channels) -> (batch, channels): the mean over time.

    With a mask (from Embedding(mask_zero=True), or mask=), the mean of the unmasked steps
    only: sum_t m_t x_t / sum_t m_t (a sequence with every step masked gives 0).
    """

    def __init__(self, keepdims=False, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        _check_sequence(self, input_shape)
        return (1, input_shape[1]) if self.keepdims else (input_shape[1],)

    def forward(self, x, mask=None):
        mask = mask if mask is not None else mask_of(x)
        if mask is None:
            return x.mean(axis=1, keepdims=self.keepdims)
        m = mask.data.astype(x.dtype).reshape(x.shape[0], x.shape[1], 1)
        xp = _xp(x)
        count = constant(xp.maximum(m.sum(axis=1, keepdims=True), 1))
        out = (x * constant(m)).sum(axis=1, keepdims=True) / count
        return out if self.keepdims else out.reshape(x.shape[0], x.shape[2])


def _image_axes(data_format, layer):
    """(format, the (height, width) axes of a batch); None: the global format (set_image_data_format)."""
    data_format = formats.normalize(data_format, layer)
    return data_format, ((2, 3) if data_format == "channels_first" else (1, 2))


class _GlobalPooling2D(Module):
    """data_format=None takes the global image format when the layer is made, as every image layer."""

    def __init__(self, data_format=None, keepdims=False, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.data_format, self.axes = _image_axes(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            layout = "(channels, height, width)" if self.data_format == "channels_first" else \
                "(height, width, channels)"
            raise ValueError(f"{type(self).__name__} layer '{self.name}' needs images, per-sample "
                             f"shape {layout} ({self.data_format}); got "
                             f"{tuple(input_shape)}")
        channels = input_shape[0] if self.data_format == "channels_first" else input_shape[2]
        if not self.keepdims:
            return (channels,)
        return (channels, 1, 1) if self.data_format == "channels_first" else (1, 1, channels)


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Images -> (batch, channels): the maximum over height and width."""

    def forward(self, x):
        return x.max(axis=self.axes, keepdims=self.keepdims)


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Images -> (batch, channels): the mean over height and width."""

    def forward(self, x):
        return x.mean(axis=self.axes, keepdims=self.keepdims)
