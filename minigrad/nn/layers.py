"""Core layers: Dense, BatchNormalization, Dropout, activations and reshaping.

Each layer is a Module: build(input_shape) makes its parameters from the per-sample input
shape, forward(x) is the math (all of it from minigrad.functional, so the gradients come
from the ops' backward rules), compute_output_shape(input_shape) lets summary() print the
shapes before any data flows.
"""
from __future__ import annotations

from .. import functional as F
from . import activations
from .module import Module, _as_shape


class InputLayer(Module):
    """Declares a model's per-sample input shape: Sequential([Input((784,)), Dense(10)]).

    It computes nothing; Sequential takes the shape from it and does not list it as a layer,
    as Keras' Sequential does.
    """

    def __init__(self, shape, name=None):
        super().__init__(name=name, input_shape=shape)

    def forward(self, x):
        return x

    def compute_output_shape(self, input_shape):
        return input_shape


def Input(shape, name=None):  # noqa: N802 - Keras' name
    """keras.Input(shape=...) for Sequential models: the per-sample input shape, NCHW for images."""
    return InputLayer(shape, name=name)


class Dense(Module):
    """y = activation(x @ kernel + bias): every output unit sees every input feature.

    Dense(units, activation=None, use_bias=True, input_shape=None)
      kernel  (in_features, units), Glorot-uniform as Keras     bias  (units,), zeros
    The input size is learned on the first call (or from input_shape=); inputs with more
    axes, (batch, ..., in_features), are transformed along the last one, as in Keras.
    """

    def __init__(self, units, activation=None, use_bias=True, input_shape=None, name=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", trainable=True):
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        if int(units) < 1:
            raise ValueError(f"Dense: units must be a positive integer, got {units}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self._activation_name = activations.name_of(activation)
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer

    def build(self, input_shape):
        if len(input_shape) < 1:
            raise ValueError(f"Dense layer '{self.name}' needs inputs of shape (batch, features), "
                             f"got per-sample shape {input_shape}")
        in_features = input_shape[-1]
        self.kernel = self.add_weight((in_features, self.units), self.kernel_initializer,
                                      fans=(in_features, self.units))
        if self.use_bias:
            self.bias = self.add_weight((self.units,), self.bias_initializer)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def expected_input_shape(self):
        if not self.built:
            return None
        return (None,) * (len(self.input_shape) - 1) + (self.input_shape[-1],)

    def forward(self, x):
        return self.activation(F.linear(x, self.kernel, self.bias if self.use_bias else None))

    def __repr__(self):
        return f"Dense({self.units}, activation='{self._activation_name}', name='{self.name}')"


class Activation(Module):
    """Applies an activation by name ('relu', 'sigmoid', 'tanh', 'softmax', ...) or function."""

    def __init__(self, activation, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.activation = activations.get(activation)

    def forward(self, x):
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        return input_shape


class LeakyReLU(Module):
    """y = x for x > 0, alpha * x otherwise (Keras' default alpha = 0.3)."""

    def __init__(self, alpha=0.3, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.alpha = float(alpha)

    def forward(self, x):
        return F.leaky_relu(x, self.alpha)

    def compute_output_shape(self, input_shape):
        return input_shape


class Dropout(Module):
    """Zeroes each value with probability `rate` while training, scaling the rest by 1/(1-rate).

    In eval mode (and in predict/evaluate) it passes its input through unchanged.
    """

    def __init__(self, rate, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        self.rate = float(rate)

    def forward(self, x):
        return F.dropout(x, self.rate, training=self.training)

    def compute_output_shape(self, input_shape):
        return input_shape


class Flatten(Module):
    """(batch, d1, d2, ...) -> (batch, d1*d2*...)."""

    def forward(self, x):
        return x.reshape(x.shape[0], -1)

    def compute_output_shape(self, input_shape):
        size = 1
        for n in input_shape:
            size *= n
        return (size,)


class Reshape(Module):
    """Reshape each sample to `shape` (the batch axis is kept; one entry may be -1)."""

    def __init__(self, shape, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.target_shape = _as_shape(shape)

    def forward(self, x):
        return x.reshape((x.shape[0],) + self.target_shape)

    def compute_output_shape(self, input_shape):
        size = 1
        for n in input_shape:
            size *= n
        known = 1
        for n in self.target_shape:
            known *= n if n != -1 else 1
        if self.target_shape.count(-1) > 1 or (-1 not in self.target_shape and known != size) or \
                (-1 in self.target_shape and size % known):
            raise ValueError(f"Reshape layer '{self.name}': cannot reshape per-sample shape "
                             f"{input_shape} ({size} values) into {self.target_shape}")
        return tuple(size // known if n == -1 else n for n in self.target_shape)


class BatchNormalization(Module):
    """Normalise each channel with batch statistics while training, moving averages in eval.

    BatchNormalization(momentum=0.99, epsilon=1e-3, center=True, scale=True)
      y = gamma * (x - mean) / sqrt(var + epsilon) + beta, per channel (axis 1: features of
      a Dense output, channels of an NCHW image).
    While training, the moving statistics follow Keras' convention
        moving = momentum * moving + (1 - momentum) * batch
    They are saved with the weights but never trained (non-trainable params in summary()).
    As in Keras (TF2), a frozen layer (trainable = False) runs in inference mode: it uses and
    keeps its moving statistics. Note for GAN code transcribed from older Keras: there, a
    discriminator frozen for the generator step still used batch statistics; models/dcgan.py
    keeps that behaviour by freezing only the weights (see its frozen_weights).
    """

    def __init__(self, momentum=0.99, epsilon=1e-3, center=True, scale=True, name=None,
                 input_shape=None, trainable=True):
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale

    def build(self, input_shape):
        channels = (input_shape[0],)
        if self.scale:
            self.gamma = self.add_weight(channels, "ones")
        if self.center:
            self.beta = self.add_weight(channels, "zeros")
        self.moving_mean = self.add_weight(channels, "zeros", trainable=False)
        self.moving_variance = self.add_weight(channels, "ones", trainable=False)

    def compute_output_shape(self, input_shape):
        return input_shape

    def expected_input_shape(self):
        if not self.built:
            return None
        return (self.input_shape[0],) + (None,) * (len(self.input_shape) - 1)

    def forward(self, x):
        return F.batch_norm(x, self.moving_mean, self.moving_variance,
                            self.gamma if self.scale else None, self.beta if self.center else None,
                            training=self.training and self.trainable,
                            momentum=self.momentum, epsilon=self.epsilon, axis=1)
