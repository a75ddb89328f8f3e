"""Core layers: Dense, BatchNormalization, Dropout, activations and reshaping.

Each layer is a Module: build(input_shape) makes its parameters from the per-sample input
shape, forward(x) is the math (all of it from minigrad.functional, so the gradients come
from the ops' backward rules), compute_output_shape(input_shape) lets summary() print the
shapes before any data flows.
"""
from __future__ import annotations

import math
import warnings

from ..engine import autograd, backend
from ..engine.tensor import Tensor
from ..training import regularizers
from ..engine import functional as F
from ..engine.ops.movement import resolve_shape
from . import activations, graph, initializers
from .data_format import image_data_format
from .module import Module, _as_shape


class InputLayer(Module):
    """The layer behind nn.Input: it computes nothing and stands for a model's input.

    InputLayer(shape, name=None, dtype=None)   (input_shape= is accepted too, Keras 2's name)
    Its `output` is the symbolic tensor Input(...) returns. Sequential takes the input shape
    from it and does not list it as a layer, as Keras' Sequential does.
    """

    def __init__(self, shape=None, name=None, dtype=None, input_shape=None, batch_size=None):
        _refuse_batch_size(batch_size, "InputLayer")
        shape = input_shape if shape is None else shape
        if shape is None:
            raise TypeError("InputLayer: give the per-sample shape, e.g. Input((784,)) or Input((1, 28, 28))")
        super().__init__(name=name, input_shape=shape)
        if any(n is not None and int(n) < 0 for n in self._declared_input_shape):
            raise ValueError(f"Input: sizes must be >= 0 (or None), got {shape}")
        self.input_dtype = backend.np.dtype(dtype or backend.default_float_dtype())
        self.accepts_integer_input = self.input_dtype.kind in "iub"
        self.built, self.input_shape = True, self._declared_input_shape
        self.output_shape = self.input_shape
        graph.make_input(self, self.input_shape, self.input_dtype)

    def forward(self, x):
        return x

    def compute_output_shape(self, input_shape):
        return input_shape


def Input(shape=None, name=None, dtype=None, batch_size=None, tensor=None):  # noqa: N802 - Keras' name
    """keras.Input: a symbolic tensor of shape (None,) + shape, the start of a functional model.

        x = Input((784,)); y = Dense(10)(x); model = Model(x, y)
    Per-sample shapes are NCHW for images (or channels-last after set_image_data_format).
    dtype: float32 by default; an integer dtype keeps integer ids integers (Embedding inputs).
    It also works as the first entry of Sequential([...]).
    """
    if tensor is not None:
        raise TypeError("Input(tensor=...) is not supported: build the model from Input(shape) instead")
    _refuse_batch_size(batch_size, "Input")
    return InputLayer(shape, name=name, dtype=dtype).output


def _refuse_batch_size(batch_size, where):
    """Keras' batch_size= fixes the batch axis of a model; minigrad's batch axis is always free
    (fit/predict's batch_size choose it per call), so the argument is refused, not ignored."""
    if batch_size is not None:
        raise TypeError(f"{where}(batch_size={batch_size!r}) is not supported: minigrad models take any "
                        "batch size (the batch axis stays None); leave it out and pass batch_size= to "
                        "fit/evaluate/predict")


class Lambda(Module):
    """Wrap a function of tensors as a layer: Lambda(fn, output_shape=None, arguments=None).

    fn(inputs, **arguments) runs on real tensors when the model runs; inside it, any mg.* /
    F.* op works (e.g. the VAE's sampling: z_mean + mg.exp(z_log_var / 2) * eps). Its output
    shape is found by running fn on small probe batches, unless output_shape (per sample,
    without the batch axis, or a function of the input shape) is given. Lambdas hold no
    weights: a variable created inside fn is not trained.
    """

    def __init__(self, function, output_shape=None, arguments=None, name=None, mask=None):
        super().__init__(name=name)
        if not callable(function):
            raise TypeError(f"Lambda: expected a function, got {function!r}")
        if mask is not None:
            raise TypeError("Lambda(mask=...) is not supported")
        self.function = function
        self.arguments = dict(arguments or {})
        self._given_output_shape = output_shape

    def forward(self, inputs):
        out = self.function(inputs, **self.arguments)
        for value in (out if isinstance(out, (list, tuple)) else (out,)):
            self._check_output(value, inputs)
        return out

    def _check_output(self, value, inputs):
        """A tensor out, or a clear error: a NumPy array or a number would cut the graph (the
        layers before would never train) or fail later in the shape probe."""
        where = f"Lambda layer '{self.name}' ({getattr(self.function, '__name__', 'function')})"
        if isinstance(value, Tensor):
            given = inputs if isinstance(inputs, (list, tuple)) else [inputs]
            if autograd.is_grad_enabled() and not value.requires_grad and \
                    any(isinstance(t, Tensor) and t.requires_grad for t in given):
                warnings.warn(f"{where}: its output does not depend on its input's gradient (was it "
                              "made from .numpy() or .detach()?), so the layers before it are not trained "
                              "through it; compute it with mg.* / F.* ops on the input tensor", stacklevel=4)
            return
        if isinstance(value, backend.np.ndarray) or backend.is_backend_array(value):
            raise TypeError(f"{where} returned a {type(value).__name__}, not a minigrad Tensor: an array (from "
                            ".numpy()?) cuts the graph, so the layers before it would never train; compute it "
                            "with mg.* / F.* ops on the input tensor, e.g. lambda t: t * 2")
        raise TypeError(f"{where} returned {value!r} of type {type(value).__name__}, not a tensor; it must return "
                        "a tensor with the batch axis first (e.g. lambda t: t.sum(axis=1, keepdims=True), or "
                        "mg.ones_like(t[:, :1]) * 2.0 for a constant per sample)")

    def symbolic_output_specs(self, full_shapes, dtypes):
        given = self._given_output_shape
        if given is None:
            return graph.probe_output_specs(self, full_shapes, dtypes)
        if callable(given):
            given = given(full_shapes)
            given = given[1:] if len(given) and given[0] is None else given      # Keras passes full shapes
        shapes = [_as_shape(g) for g in given] if isinstance(given, list) else [_as_shape(given)]
        return [((None,) + s, self.dtype) for s in shapes], isinstance(given, list)

    def compute_output_shape(self, input_shape):
        return graph.per_sample(self.symbolic_output_specs(graph.with_batch(input_shape),
                                                           [self.dtype] * (len(input_shape) if isinstance(input_shape, list) else 1)))


class Dense(Module):
    """y = activation(x @ kernel + bias): every output unit sees every input feature.

    Dense(units, activation=None, use_bias=True, input_shape=None, input_dim=None,
          kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None)
      kernel  (in_features, units), Glorot-uniform as Keras     bias  (units,), zeros
    The input size is learned on the first call (or from input_shape= / input_dim=); inputs
    with more axes, (batch, ..., in_features), are transformed along the last one, as in Keras.
    Regularizers ("l2", regularizers.l1(1e-4), ...) add their penalty to the training loss.
    """
    supports_masking = True        # keeps the time axis: the input's mask goes on (Keras)

    def __init__(self, units, activation=None, use_bias=True, input_shape=None, name=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", trainable=True,
                 input_dim=None, kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None):
        if input_dim is not None:
            if input_shape is not None:
                raise TypeError("Dense: give input_shape= or input_dim=, not both")
            input_shape = (int(input_dim),)
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        if isinstance(units, bool) or not float(units).is_integer() or int(units) < 1:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.activation = activations.get(activation)
        self._activation_name = activations.name_of(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.check(kernel_initializer, "Dense", "kernel_initializer")
        self.bias_initializer = initializers.check(bias_initializer, "Dense", "bias_initializer")

    def build(self, input_shape):
        if len(input_shape) < 1:
            raise ValueError(f"Dense layer '{self.name}' needs inputs of shape (batch, features), "
                             f"got per-sample shape {input_shape}")
        in_features = input_shape[-1]
        self.kernel = self.add_weight((in_features, self.units), self.kernel_initializer,
                                      fans=(in_features, self.units), regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight((self.units,), self.bias_initializer, regularizer=self.bias_regularizer)

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
    supports_masking = True        # keeps the time axis: the input's mask goes on (Keras)

    def __init__(self, activation, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.activation = activations.get(activation)

    def forward(self, x):
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        return input_shape


class Softmax(Module):
    """softmax over `axis` (Keras' Softmax layer; default the last axis, as the "softmax"
    activation): y = e^x / sum(e^x) along that axis.   Softmax(axis=1) for NCHW class maps."""
    supports_masking = True        # keeps the time axis: the input's mask goes on (Keras)

    def __init__(self, axis=-1, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        if isinstance(axis, bool) or not isinstance(axis, int) or axis == 0:
            raise ValueError(f"Softmax: axis must be a non-zero int (axis 0 is the batch), got {axis!r}")
        self.axis = axis

    def forward(self, x):
        if not -x.ndim < self.axis < x.ndim:
            raise ValueError(f"Softmax layer '{self.name}': axis {self.axis} is not a feature axis of an "
                             f"input of shape {x.shape} (axis 0 is the batch)")
        return F.softmax(x, axis=self.axis)

    def compute_output_shape(self, input_shape):
        return input_shape


class LeakyReLU(Module):
    """y = x for x > 0, negative_slope * x otherwise (Keras' default 0.3).

    LeakyReLU(negative_slope=0.3) is Keras 3's spelling; LeakyReLU(alpha=0.2), Keras 2's,
    is accepted too (positionally as well).
    """
    supports_masking = True        # keeps the time axis: the input's mask goes on (Keras)

    def __init__(self, negative_slope=0.3, name=None, input_shape=None, alpha=None):
        super().__init__(name=name, input_shape=input_shape)
        self.alpha = float(negative_slope if alpha is None else alpha)

    negative_slope = property(lambda self: self.alpha)

    def forward(self, x):
        return F.leaky_relu(x, self.alpha)

    def compute_output_shape(self, input_shape):
        return input_shape


class Dropout(Module):
    """Zeroes each value with probability `rate` while training, scaling the rest by 1/(1-rate).

    In eval mode (and in predict/evaluate) it passes its input through unchanged.
    """
    supports_masking = True        # keeps the time axis: the input's mask goes on (Keras)

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
        return (math.prod(input_shape),)


class Reshape(Module):
    """Reshape each sample to `shape` (the batch axis is kept; one entry may be -1)."""

    def __init__(self, shape, name=None, input_shape=None, target_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.target_shape = _as_shape(shape if target_shape is None else target_shape)
        t = self.target_shape
        # (7, 7, 128) reads as 7 channels of 7x128 here; (1, 1, 2) is no evidence either way
        if len(t) == 3 and t[0] == t[1] > 1 and t[2] != t[0] and image_data_format() == "channels_first":
            warnings.warn(f"Reshape({t}) looks like a channels-last image (height, width, channels), "
                          f"but images are channels-first here (minigrad's default): the next image layer "
                          f"will read {t[0]} channels of {t[1]}x{t[2]}. For Keras' channels-last code call "
                          f"minigrad.nn.set_image_data_format('channels_last') first; for channels-first "
                          f"write Reshape({(t[2], t[0], t[1])})", stacklevel=2)

    def forward(self, x):
        return x.reshape((x.shape[0],) + self.target_shape)

    def compute_output_shape(self, input_shape):
        return resolve_shape(self.target_shape, math.prod(input_shape), input_shape,
                             op=f"Reshape layer '{self.name}' (per-sample shapes)")


# What a frozen BatchNormalization (trainable = False) does while its model trains.
#   "inference"  (default) TF2 / Keras 3: it normalises with its moving statistics, and keeps
#                them. Right for fine-tuning a frozen base (the batch's statistics would shift
#                under the new head's small batches).
#   "batch"      Keras 2 (TF1), for which GAN code such as keras-gan was written: it
#                normalises with the batch's statistics and leaves its moving statistics as
#                they are. Right when another model trains the layer in alternation (a GAN's
#                discriminator, frozen in the combined model), see BatchNormalization.
_frozen_batch_norm_mode = "inference"
FROZEN_BATCH_NORM_MODES = ("inference", "batch")


def frozen_batch_norm_mode() -> str:
    return _frozen_batch_norm_mode


def set_frozen_batch_norm_mode(mode: str) -> None:
    """Choose what a frozen BatchNormalization does in training: "inference" or "batch"."""
    global _frozen_batch_norm_mode
    if mode not in FROZEN_BATCH_NORM_MODES:
        raise ValueError(f"set_frozen_batch_norm_mode: mode must be 'inference' (TF2 / Keras 3) or 'batch' "
                         f"(Keras 2), got {mode!r}")
    _frozen_batch_norm_mode = mode


class BatchNormalization(Module):
    """Normalise each channel with batch statistics while training, moving averages in eval.

    BatchNormalization(momentum=0.99, epsilon=1e-3, center=True, scale=True)
      y = gamma * (x - mean) / sqrt(var + epsilon) + beta, per channel (axis 1: features of
      a Dense output, channels of an NCHW image).
    While training, the moving statistics follow Keras' convention
        moving = momentum * moving + (1 - momentum) * batch
    They are saved with the weights but never trained (non-trainable params in summary()).
    As in Keras (TF2 and Keras 3), a frozen layer (trainable = False) runs in inference mode:
    it uses and keeps its moving statistics. GAN code written for Keras 2 (keras-gan) relies
    on the older rule, where a discriminator frozen in the combined model still normalised
    with the batch's statistics: nn.set_frozen_batch_norm_mode("batch") gives that rule back,
    and training warns when it sees the pattern (a layer frozen in the model being trained
    whose moving statistics another model keeps changing between its steps).
    """
    supports_masking = True        # keeps the time axis: the input's mask goes on (Keras)

    def __init__(self, axis=None, momentum=0.99, epsilon=1e-3, center=True, scale=True, name=None,
                 input_shape=None, trainable=True):
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        if isinstance(axis, float):          # BatchNormalization(0.8): Keras 2 GAN code means momentum
            raise TypeError(f"BatchNormalization: the first argument is axis (as in Keras); for a "
                            f"momentum of {axis} write BatchNormalization(momentum={axis})")
        self.axis = axis                     # None: the channel axis of the image data format
        self._data_format = image_data_format()   # the global format when the layer is made, as Keras
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale

    def _channel_axis(self, ndim) -> int:
        """The normalised axis of a (batch, ...) input of `ndim` axes, as a positive index."""
        axis = self.axis
        if axis is None:
            axis = 1 if ndim <= 2 or self._data_format == "channels_first" else -1
        if not -ndim < axis < ndim or axis == 0 or axis == -ndim:
            raise ValueError(f"BatchNormalization layer '{self.name}': axis {self.axis} is not a feature "
                             f"axis of a {ndim}-d input (axis 0 is the batch)")
        return axis % ndim

    def build(self, input_shape):
        channels = (input_shape[self._channel_axis(len(input_shape) + 1) - 1],)
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
        expected = [None] * len(self.input_shape)
        axis = self._channel_axis(len(self.input_shape) + 1) - 1
        expected[axis] = self.input_shape[axis]
        return tuple(expected)

    def forward(self, x):
        moving_mean, moving_variance = self.moving_mean, self.moving_variance
        training = self.training and self.trainable
        if self.training and not self.trainable and _frozen_batch_norm_mode == "batch":
            # Keras 2's frozen layer: the batch's statistics; the update batch_norm makes goes
            # to detached stand-ins, so the layer's own moving statistics stay as they are
            moving_mean, moving_variance, training = moving_mean.detach(), moving_variance.detach(), True
        return F.batch_norm(x, moving_mean, moving_variance,
                            self.gamma if self.scale else None, self.beta if self.center else None,
                            training=training, momentum=self.momentum, epsilon=self.epsilon,
                            axis=self._channel_axis(x.ndim))
