"""Depthwise and depthwise-separable convolution: DepthwiseConv2D, SeparableConv2D (Keras' names).

A Conv2D with C_in inputs, C_out filters and a k x k kernel mixes space and channels at once:
k*k*C_in*C_out weights. A separable convolution splits the two jobs:

    depthwise   each input channel gets its own depth_multiplier (m) k x k filters, which see
                that channel only:               k*k*C_in*m weights     (F.conv2d, groups=C_in)
    pointwise   a 1x1 convolution mixes the C_in*m channels into C_out:  C_in*m*C_out weights

so k*k*C_in*m + C_in*m*C_out (+ C_out biases) instead of k*k*C_in*C_out: for 3x3 kernels and
64 -> 64 channels, 4,672 weights instead of 36,864. It assumes that where a feature is and
which channels combine into it can be learned apart, which often holds for images.

Weights, in minigrad's conv layout (F.conv2d's (C_out, C_in/groups, kh, kw)), with Keras'
names and order:
    depthwise_kernel   (C_in*m, 1, kh, kw)   Keras: (kh, kw, C_in, m); output channel c*m + j is
                                             input channel c's j-th filter, as in Keras
    pointwise_kernel   (filters, C_in*m, 1, 1)   Keras: (1, 1, C_in*m, filters)
    bias               (filters,) for SeparableConv2D, (C_in*m,) for DepthwiseConv2D
Strides, padding and dilation apply to the depthwise step; the pointwise step is a plain 1x1.
Gradients come from F.conv2d's grouped convolution node (ops/conv.py), nothing new here.
"""
from __future__ import annotations

from ..engine import functional as F
from ..training import regularizers
from . import activations
from .conv_layers import ImageLayer, _check_padding, conv_output_length, kernel_geometry, same_padding
from . import initializers
from .initializers import conv_fans

__all__ = ["DepthwiseConv2D", "SeparableConv2D"]


def _positive_int(value, what, layer):
    if isinstance(value, bool) or not float(value).is_integer() or int(value) < 1:
        raise ValueError(f"{layer}: {what} must be a positive integer, got {value!r}")
    return int(value)


class DepthwiseConv2D(ImageLayer):
    """Convolve each input channel with its own depth_multiplier filters; channels never mix.

    DepthwiseConv2D(kernel_size, strides=1, padding="valid"|"same", depth_multiplier=1,
                    data_format=None, dilation_rate=1, activation=None, use_bias=True,
                    depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                    depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None)
    Output channels: C_in * depth_multiplier. Weights: depthwise_kernel (C_in*m, 1, kh, kw), bias.
    """

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, name=None, input_shape=None, trainable=True):
        super().__init__(name=name, input_shape=input_shape, trainable=trainable, data_format=data_format)
        layer = type(self).__name__
        self.kernel_size, self.strides, self.dilation_rate = kernel_geometry(
            layer, kernel_size, strides, dilation_rate)
        self.padding = _check_padding(padding, layer)
        self.depth_multiplier = _positive_int(depth_multiplier, "depth_multiplier", layer)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.check(depthwise_initializer, type(self).__name__,
                                                        "depthwise_initializer")
        self.bias_initializer = initializers.check(bias_initializer, type(self).__name__, "bias_initializer")
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)

    # -- shapes (per sample, channels first)
    def expected_input_shape(self):
        return None if not self.built else (self._first(self.input_shape)[0], None, None)

    def _spatial_output(self, h, w):
        sizes = tuple(conv_output_length(n, k, s, self.padding, d)
                      for n, k, s, d in zip((h, w), self.kernel_size, self.strides, self.dilation_rate))
        if min(sizes) < 1:
            raise ValueError(f"{type(self).__name__} layer '{self.name}': a {self.kernel_size} kernel "
                             f"(dilation {self.dilation_rate}) does not fit an input of {h}x{w} with "
                             f"padding='valid'; use padding='same' or a larger input")
        return sizes

    def _out_channels(self, c_in):
        return c_in * self.depth_multiplier

    def compute_output_shape(self, input_shape):
        c, h, w = self._first_checked(input_shape)
        return (self._out_channels(c),) + self._spatial_output(h, w)

    def _first_checked(self, input_shape):
        """The (channels-first) per-sample shape, after the rank check (a clear error if not 3-d)."""
        self._first(input_shape)
        return tuple(input_shape)

    # -- weights
    def build(self, input_shape):
        c_in = self._first_checked(input_shape)[0]
        m = self.depth_multiplier
        # Keras' fans for its (kh, kw, C_in, m) kernel: fan_in = kh*kw*C_in, fan_out = kh*kw*m
        self.depthwise_kernel = self.add_weight((c_in * m, 1) + self.kernel_size, self.depthwise_initializer,
                                                fans=conv_fans(c_in, m, self.kernel_size),
                                                regularizer=self.depthwise_regularizer, name="depthwise_kernel")
        self._build_rest(c_in)

    def _build_rest(self, c_in):
        if self.use_bias:
            self.bias = self.add_weight((c_in * self.depth_multiplier,), self.bias_initializer,
                                        regularizer=self.bias_regularizer, name="bias")

    # -- the computation (NCHW)
    def _depthwise(self, x):
        if self.padding == "same":
            pads = tuple(same_padding(n, k, s, d) for n, k, s, d in
                         zip(x.shape[2:], self.kernel_size, self.strides, self.dilation_rate))
        else:
            pads = 0
        return F.conv2d(x, self.depthwise_kernel, None, stride=self.strides, padding=pads,
                        dilation=self.dilation_rate, groups=x.shape[1])

    def forward(self, x):
        y = self._depthwise(x)
        if self.use_bias:
            y = y + self.bias.reshape(1, -1, 1, 1)
        return self._activate(y)


class SeparableConv2D(DepthwiseConv2D):
    """A depthwise convolution followed by a 1x1 (pointwise) convolution to `filters` channels.

    SeparableConv2D(filters, kernel_size, strides=1, padding="valid"|"same", data_format=None,
                    dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                    depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                    bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                    bias_regularizer=None, activity_regularizer=None)
    Weights: depthwise_kernel (C_in*m, 1, kh, kw), pointwise_kernel (filters, C_in*m, 1, 1), bias
    (filters,): kh*kw*C_in*m + C_in*m*filters + filters parameters, as Keras counts them.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None, name=None,
                 input_shape=None, trainable=True):
        super().__init__(kernel_size, strides=strides, padding=padding, depth_multiplier=depth_multiplier,
                         data_format=data_format, dilation_rate=dilation_rate, activation=activation,
                         use_bias=use_bias, depthwise_initializer=depthwise_initializer,
                         bias_initializer=bias_initializer, depthwise_regularizer=depthwise_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         name=name, input_shape=input_shape, trainable=trainable)
        self.filters = _positive_int(filters, "filters", "SeparableConv2D")
        self.pointwise_initializer = initializers.check(pointwise_initializer, "SeparableConv2D",
                                                        "pointwise_initializer")
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)

    def _out_channels(self, c_in):
        return self.filters

    def _build_rest(self, c_in):
        mid = c_in * self.depth_multiplier
        self.pointwise_kernel = self.add_weight((self.filters, mid, 1, 1), self.pointwise_initializer,
                                                fans=conv_fans(mid, self.filters, (1, 1)),
                                                regularizer=self.pointwise_regularizer, name="pointwise_kernel")
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer,
                                        regularizer=self.bias_regularizer, name="bias")

    def forward(self, x):
        y = F.conv2d(self._depthwise(x), self.pointwise_kernel)
        if self.use_bias:
            y = y + self.bias.reshape(1, -1, 1, 1)
        return self._activate(y)
