"""Layer configs: a layer's constructor arguments as a dict, under Keras' config keys.

    config = layer.get_config()          # {"name": "dense", "trainable": True, "units": 10, ...}
    same = type(layer).from_config(config)   # a new layer, same settings, fresh weights

What each built-in layer puts in its config is written here, in one place, beside the Keras
keys it maps to (so a config written by Keras loads here, and the other way round):

    LAYER_KEYS        per class, the keys that are both a constructor argument and an
                      attribute of the same name (units, filters, kernel_size, ...)
    KERAS_DEFAULTS    per class, keys Keras writes for options minigrad does not have,
                      with the one value minigrad's behaviour equals (kernel_constraint:
                      None, groups: 1, ...); reading another value raises, naming it
    _SPECIAL          per class, a writer and a reader for what does not map one to one
                      (LeakyReLU's alpha, Reshape's target_shape, the recurrent cells, ...)

Values are what Keras writes too: activations by name, initializers and regularizers as
Keras' {"class_name": ..., "config": ...} dicts (read back from those or from plain names),
tuples as lists. A custom layer writes its own get_config (Keras' way: super().get_config()
plus its arguments), and from_config calls the class with the config as keyword arguments.
"""
from __future__ import annotations

import importlib
import inspect

import numpy as np

from ..training import regularizers
from . import activations

# ---------------------------------------------------------------------- the keys, per class

_CONV = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "activation",
         "use_bias", "kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer",
         "activity_regularizer")
_RECURRENT = ("units", "activation", "use_bias", "kernel_initializer", "recurrent_initializer",
              "bias_initializer", "dropout", "recurrent_dropout", "return_sequences", "return_state",
              "go_backwards", "zero_output_for_mask")
_AFFINE = ("fill_mode", "interpolation", "seed", "fill_value", "data_format")

LAYER_KEYS = {
    "Dense": ("units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
              "kernel_regularizer", "bias_regularizer", "activity_regularizer"),
    "Activation": ("activation",),
    "Softmax": ("axis",),
    "Dropout": ("rate",),
    "Flatten": (),
    "BatchNormalization": ("axis", "momentum", "epsilon", "center", "scale"),
    "Conv2D": _CONV,
    "Conv2DTranspose": _CONV + ("output_padding",),
    "MaxPooling2D": ("pool_size", "strides", "padding", "data_format"),
    "UpSampling2D": ("size", "data_format"),
    "ZeroPadding2D": ("padding", "data_format"),
    "Add": (), "Subtract": (), "Multiply": (), "Average": (), "Maximum": (), "Minimum": (),
    "Concatenate": ("axis",),
    "Conv1D": ("filters", "kernel_size", "strides", "padding", "dilation_rate", "activation", "use_bias",
               "kernel_initializer", "bias_initializer"),
    "MaxPooling1D": ("pool_size", "strides", "padding"),
    "AveragePooling1D": ("pool_size", "strides", "padding"),
    "GlobalMaxPooling1D": ("keepdims",),
    "GlobalAveragePooling1D": ("keepdims",),
    "GlobalMaxPooling2D": ("data_format", "keepdims"),
    "GlobalAveragePooling2D": ("data_format", "keepdims"),
    "Embedding": ("input_dim", "output_dim", "mask_zero", "embeddings_initializer"),
    "SimpleRNN": _RECURRENT,
    "LSTM": _RECURRENT + ("recurrent_activation", "unit_forget_bias"),
    "GRU": _RECURRENT + ("recurrent_activation", "reset_after"),
    "Bidirectional": ("merge_mode",),
    "Rescaling": ("scale", "offset"),
    "RandomFlip": ("mode", "seed", "data_format"),
    "RandomRotation": ("factor",) + _AFFINE,
    "RandomTranslation": _AFFINE,
    "RandomZoom": _AFFINE,
    "DepthwiseConv2D": ("kernel_size", "strides", "padding", "depth_multiplier", "data_format",
                        "dilation_rate", "activation", "use_bias", "depthwise_initializer",
                        "bias_initializer", "depthwise_regularizer", "bias_regularizer",
                        "activity_regularizer"),
    "SeparableConv2D": ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
                        "depth_multiplier", "activation", "use_bias", "depthwise_initializer",
                        "pointwise_initializer", "bias_initializer", "depthwise_regularizer",
                        "pointwise_regularizer", "bias_regularizer", "activity_regularizer"),
}

_NO_CONSTRAINTS = {"kernel_constraint": None, "bias_constraint": None}
KERAS_DEFAULTS = {
    "Dense": {**_NO_CONSTRAINTS, "lora_rank": None, "lora_alpha": None, "quantization_config": None},
    "Dropout": {"noise_shape": None, "seed": None},
    "Flatten": {"data_format": "channels_last"},       # minigrad flattens in the stored order
    "BatchNormalization": {"beta_initializer": "zeros", "gamma_initializer": "ones",
                           "moving_mean_initializer": "zeros", "moving_variance_initializer": "ones",
                           "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
                           "gamma_constraint": None, "synchronized": False, "renorm": False,
                           "renorm_clipping": None, "renorm_momentum": 0.99},
    "Conv2D": {**_NO_CONSTRAINTS, "groups": 1, "lora_rank": None, "lora_alpha": None},
    "Conv2DTranspose": dict(_NO_CONSTRAINTS),
    "UpSampling2D": {"interpolation": "nearest"},
    "Conv1D": {**_NO_CONSTRAINTS, "groups": 1, "data_format": "channels_last", "kernel_regularizer": None,
               "bias_regularizer": None, "activity_regularizer": None, "lora_rank": None, "lora_alpha": None},
    "MaxPooling1D": {"data_format": "channels_last"},
    "AveragePooling1D": {"data_format": "channels_last"},
    "GlobalMaxPooling1D": {"data_format": "channels_last"},
    "GlobalAveragePooling1D": {"data_format": "channels_last"},
    "Embedding": {"embeddings_regularizer": None, "embeddings_constraint": None, "activity_regularizer": None,
                  "lora_rank": None, "lora_alpha": None, "quantization_config": None, "input_length": None,
                  "weights": None, "sparse": False, "embeddings_quantizer": None},
    "SimpleRNN": {"kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
                  "activity_regularizer": None, "kernel_constraint": None, "recurrent_constraint": None,
                  "bias_constraint": None, "seed": None, "stateful": False, "unroll": False,
                  "use_cudnn": "auto", "time_major": False},
    "DepthwiseConv2D": {"depthwise_constraint": None, "bias_constraint": None},
    "SeparableConv2D": {"depthwise_constraint": None, "pointwise_constraint": None, "bias_constraint": None},
    "Rescaling": {},
}
KERAS_DEFAULTS["LSTM"] = KERAS_DEFAULTS["GRU"] = KERAS_DEFAULTS["SimpleRNN"]
# Keys other Keras versions write (read here, never written: Keras 3.15 refuses some of them)
_READ_ONLY = ("lora_rank", "lora_alpha", "input_length", "weights", "sparse", "embeddings_quantizer",
              "time_major", "use_cudnn", "quantization_config")
_WRITTEN = {("Dense", "quantization_config"), ("Embedding", "quantization_config")}
# Keras writes its own default for these; any value means the same to minigrad (it has no
# dtype policies beyond the layer's float type, and seeds its random layers per run).
_IGNORED = ("dtype", "seed", "value_range", "use_cudnn", "input_length", "renorm_momentum")


# ---------------------------------------------------------------------- values

_INITIALIZER_CLASSES = {"GlorotUniform": "glorot_uniform", "Zeros": "zeros", "Ones": "ones",
                        "Orthogonal": "orthogonal", "GlorotNormal": "glorot_normal",
                        "HeNormal": "he_normal", "HeUniform": "he_uniform", "LecunNormal": "lecun_normal",
                        "LecunUniform": "lecun_uniform", "RandomNormal": "random_normal",
                        "RandomUniform": "random_uniform", "TruncatedNormal": "truncated_normal"}
_INITIALIZER_DEFAULTS = {"gain": 1.0, "input_axes": None, "output_axes": None}    # Keras' defaults


_REGULARIZER_CLASSES = {"L1": regularizers.L1, "L2": regularizers.L2, "L1L2": regularizers.L1L2}


def keras_value(key, value):
    """A layer attribute as Keras writes it in a config."""
    if key.endswith("activation"):
        return activation_name(value)
    if key.endswith("_initializer"):
        return initializer_config(value)
    if key.endswith("_regularizer"):
        return regularizer_config(value)
    if isinstance(value, tuple):
        return [keras_value(key, v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def activation_name(fn) -> str:
    """The Keras name of an activation function (an error for a function Keras cannot name)."""
    if fn is None or isinstance(fn, str):
        return fn or "linear"
    for name, known in activations._BY_NAME.items():
        if fn is known:
            return name
    raise ValueError(f"get_config: the activation {activations.name_of(fn)!r} is a Python function with no "
                     "name in Keras' list; use a named one (activation='relu'), or a custom layer that "
                     "applies it and is registered with nn.register_keras_serializable")


def initializer_config(init):
    """Keras' serialized initializer for a name ('glorot_uniform') or a minigrad initializer."""
    name = init if isinstance(init, str) else getattr(init, "__name__", None)
    if name == "uniform":                       # Embedding's table: Keras' "uniform", U(-0.05, 0.05)
        return {"module": "keras.initializers", "class_name": "RandomUniform",
                "config": {"seed": None, "minval": -0.05, "maxval": 0.05}, "registered_name": None}
    for class_name, known in _INITIALIZER_CLASSES.items():
        if name == known:
            return {"module": "keras.initializers", "class_name": class_name, "config": {"seed": None}
                    if class_name not in ("Zeros", "Ones") else {}, "registered_name": None}
    raise ValueError(f"get_config: the initializer {init!r} cannot be written into a config; use one of "
                     f"{sorted(_INITIALIZER_CLASSES.values())}")


def regularizer_config(regularizer):
    if regularizer is None:
        return None
    config = getattr(regularizer, "get_config", None)
    if config is None:
        raise ValueError(f"get_config: the regularizer {regularizer!r} is a Python function; use "
                         "minigrad.regularizers.l1 / l2 / l1_l2, which Keras can read")
    return {"module": "keras.regularizers", "class_name": type(regularizer).__name__,
            "config": {k: float(v) for k, v in config().items()}, "registered_name": None}


def minigrad_value(key, value, where):
    """A Keras config value as the minigrad constructor takes it."""
    if isinstance(value, dict) and "class_name" in value:
        inner = value.get("config") or {}
        if key.endswith("_initializer"):
            name = _INITIALIZER_CLASSES.get(value["class_name"])
            extra = {k: v for k, v in inner.items() if v is not None and k != "seed"
                     and not (k in _INITIALIZER_DEFAULTS and v == _INITIALIZER_DEFAULTS[k])}
            if value["class_name"] == "RandomUniform" and extra == {"minval": -0.05, "maxval": 0.05}:
                return "uniform"
            if name is None or extra:
                raise ValueError(f"{where}: the initializer {value['class_name']}{extra or ''} is not one "
                                 f"minigrad has (it has {sorted(_INITIALIZER_CLASSES)})")
            return name
        if key.endswith("_regularizer"):
            cls = _REGULARIZER_CLASSES.get(value["class_name"])
            if cls is None:
                raise ValueError(f"{where}: the regularizer {value['class_name']} is not one minigrad has "
                                 f"(it has {sorted(_REGULARIZER_CLASSES)})")
            return cls(**inner)
    if key.endswith("_initializer") and isinstance(value, str):
        return {"GlorotUniform": "glorot_uniform"}.get(value, value)
    if isinstance(value, list) and key not in ("factor", "height_factor", "width_factor", "value_range"):
        return tuple(minigrad_value(key, v, where) for v in value)
    return value


# ---------------------------------------------------------------------- what does not map one to one

def _leaky_relu(layer):
    return {"negative_slope": layer.alpha}


def _reshape(layer):
    return {"target_shape": list(layer.target_shape)}


def _input_layer(layer):
    return {"batch_shape": [None] + list(layer._declared_input_shape), "dtype": str(layer.input_dtype),
            "sparse": False, "ragged": False, "optional": False}


def _read_input_layer(config, where):
    shape = config.pop("batch_shape", None) or config.pop("batch_input_shape", None)
    if shape is None:
        raise ValueError(f"{where}: an InputLayer config needs 'batch_shape' (Keras 3) or "
                         "'batch_input_shape' (Keras 2)")
    for key in ("sparse", "ragged", "optional"):
        if config.pop(key, False):
            raise ValueError(f"{where}: InputLayer({key}=True) is not supported by minigrad")
    config.pop("input_tensor", None)
    dtype = config.pop("dtype", None)
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name")
    return {**config, "shape": tuple(shape[1:]), "dtype": dtype}


def _embedding(layer):
    return {"embeddings_initializer": initializer_config(layer.embeddings_initializer)}


def _zero_padding(layer):
    return {"padding": [list(p) for p in layer.padding]}


def _conv1d(layer):
    return {"kernel_size": [layer.kernel_size], "strides": [layer.strides],
            "dilation_rate": [layer.dilation_rate]}


def _pool1d(layer):
    return {"pool_size": [layer.pool_size], "strides": [layer.strides]}


def _batch_norm(layer):
    # the axis Keras needs is the one minigrad resolved for the input it was built on
    axis = layer.axis
    if axis is None and layer.built:
        axis = layer._channel_axis(len(layer.input_shape) + 1)
    return {"axis": -1 if axis is None else axis}


def _translation(layer):
    return {"height_factor": list(layer.height_range), "width_factor": list(layer.width_range)}


def _zoom(layer):
    return {"height_factor": list(layer.height_range),
            "width_factor": None if layer.width_range is None else list(layer.width_range)}


def _rotation(layer):
    return {"factor": list(layer.factor) if isinstance(layer.factor, (list, tuple)) else layer.factor}


def _recurrent(layer):
    return {"recurrent_initializer": initializer_config(getattr(layer, "_config", {}).get(
        "recurrent_initializer", "orthogonal"))}


def _bidirectional(layer):
    def nested(inner, prefix=""):
        config = get_config(inner)
        if prefix and config["name"].startswith(prefix):     # Bidirectional adds it again (as Keras)
            config["name"] = config["name"][len(prefix):]
        return {"module": "keras.layers", "class_name": type(inner).__name__, "config": config,
                "registered_name": None}
    return {"layer": nested(layer.forward_layer, "forward_"), "backward_layer": nested(layer.backward_layer)}


def _lambda(layer):
    raise AssertionError("get_config refuses Lambda before it gets here")


_SPECIAL = {"Lambda": _lambda, "Bidirectional": _bidirectional, "LeakyReLU": _leaky_relu, "Reshape": _reshape, "InputLayer": _input_layer,
            "Embedding": _embedding, "ZeroPadding2D": _zero_padding, "Conv1D": _conv1d,
            "MaxPooling1D": _pool1d, "AveragePooling1D": _pool1d, "BatchNormalization": _batch_norm,
            "RandomTranslation": _translation, "RandomZoom": _zoom, "RandomRotation": _rotation,
            "SimpleRNN": _recurrent, "LSTM": _recurrent, "GRU": _recurrent}


def _read_leaky_relu(config, where):
    if "alpha" in config:                       # Keras 2's name
        config["negative_slope"] = config.pop("alpha")
    return config


def _read_reshape(config, where):
    config["shape"] = tuple(config.pop("target_shape"))
    return config


def _read_pool1d(config, where):
    for key in ("pool_size", "strides", "kernel_size", "dilation_rate"):
        if isinstance(config.get(key), (list, tuple)):
            if len(config[key]) != 1:
                raise ValueError(f"{where}: {key} {config[key]} has more than one entry for a 1-D layer")
            config[key] = config[key][0]
    return config


def _read_batch_norm(config, where):
    axis = config.get("axis")
    if isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            raise ValueError(f"{where}: BatchNormalization over several axes {axis} is not supported")
        config["axis"] = axis[0]
    return config


def _read_zoom_translation(config, where):
    for key in ("height_factor", "width_factor"):
        if isinstance(config.get(key), list):
            config[key] = tuple(config[key])
    return config


def _read_bidirectional(config, where, cls):
    # the recurrent layers live beside Bidirectional (nn/recurrent.py): find them there by name
    beside = importlib.import_module(cls.__module__)
    for key in ("layer", "backward_layer"):
        nested = config.get(key)
        if isinstance(nested, dict) and "class_name" in nested:
            inner = getattr(beside, nested["class_name"], None)
            if inner is None:
                raise ValueError(f"{where}: {key} is a {nested['class_name']}; minigrad's Bidirectional wraps "
                                 "SimpleRNN, LSTM or GRU")
            config[key] = from_config(inner, nested.get("config") or {})
    return config


_READERS = {"LeakyReLU": _read_leaky_relu, "Reshape": _read_reshape, "InputLayer": _read_input_layer,
            "Conv1D": _read_pool1d, "MaxPooling1D": _read_pool1d, "AveragePooling1D": _read_pool1d,
            "BatchNormalization": _read_batch_norm, "RandomTranslation": _read_zoom_translation,
            "RandomZoom": _read_zoom_translation, "RandomRotation": _read_zoom_translation}


# ---------------------------------------------------------------------- get_config / from_config

def builtin_class(cls) -> str | None:
    """The name of the first minigrad built-in layer class in cls's MRO (None: a layer that is
    only a custom one, such as a subclass of nn.Layer)."""
    for klass in cls.__mro__:
        if klass.__module__.startswith("minigrad.nn.") and (
                klass.__name__ in LAYER_KEYS or klass.__name__ in _SPECIAL):
            return klass.__name__
    return None


_BASE_ARGUMENTS = {"self", "name", "trainable", "dtype", "input_shape", "input_dim"}


def _check_custom_layer(layer) -> None:
    """Keras' rule: a custom layer whose constructor takes arguments of its own writes its own
    get_config; the base one would leave them out and the layer could not be made again."""
    cls = type(layer)
    base = next((k for k in cls.__mro__ if k.__name__ == "Module" and k.__module__ == "minigrad.nn.module"), None)
    if base is None or cls.get_config is not base.get_config:
        return                                   # it writes its own (and calls this one for the base keys)
    own = [p.name for p in inspect.signature(cls.__init__).parameters.values()
           if p.name not in _BASE_ARGUMENTS and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if own:
        raise NotImplementedError(f"{cls.__name__} (layer '{layer.name}') takes {own} in __init__, so it must "
                                  "write get_config() returning them, as in Keras: "
                                  "return {**super().get_config(), " + ", ".join(f'"{n}": self.{n}' for n in own)
                                  + "}")


def base_config(layer) -> dict:
    """What every layer's config holds: its name, whether it trains and its float type."""
    return {"name": layer.name, "trainable": layer.trainable, "dtype": str(layer.dtype)}


def get_config(layer) -> dict:
    """The layer's config under Keras' keys (see the module docstring)."""
    kind = builtin_class(type(layer))
    config = base_config(layer)
    if kind == "Lambda":
        raise ValueError(f"get_config: Lambda layer '{layer.name}' runs a Python function, which a config "
                         "cannot hold; write it as a custom layer class (with its own get_config)")
    if kind is None:
        _check_custom_layer(layer)
        return config
    if kind == "InputLayer":
        return {"name": layer.name, **_input_layer(layer)}
    for key in LAYER_KEYS.get(kind, ()):
        config[key] = keras_value(key, getattr(layer, key))
    config.update(_SPECIAL[kind](layer) if kind in _SPECIAL else {})
    for key, value in KERAS_DEFAULTS.get(kind, {}).items():
        if key not in _READ_ONLY or (kind, key) in _WRITTEN:
            config.setdefault(key, value)
    if kind == "Dense" and config.get("activity_regularizer", "") is None:
        del config["activity_regularizer"]          # Keras 3.15 does not write it for Dense
    if kind == "SimpleRNN":
        config.pop("seed", None)
    return config


def from_config(cls, config):
    """A new layer of class `cls` made from a config (a dict of constructor arguments, Keras'
    keys for the built-in layers)."""
    if not isinstance(config, dict):
        raise TypeError(f"{cls.__name__}.from_config: a config is a dict of constructor arguments, got "
                        f"{type(config).__name__}")
    arguments = constructor_arguments(cls, config)
    if builtin_class(cls) is None:
        return cls(**arguments)
    # not every built-in layer takes trainable= (Keras' base Layer does): set it afterwards
    trainable = arguments.pop("trainable", True)
    layer = cls(**arguments)
    if not trainable:
        layer.trainable = False
    return layer


def constructor_arguments(cls, config) -> dict:
    """The keyword arguments of cls(...) for a config written by minigrad or by Keras."""
    kind = builtin_class(cls)
    if kind is None:                              # a custom layer: its own keys, Keras' dtype as a name
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = (config["dtype"].get("config") or {}).get("name")
        return config
    where = f"{cls.__name__}.from_config ({config.get('name', 'unnamed')})"
    config = dict(config)
    if kind == "InputLayer":
        return _read_input_layer(config, where)
    dtype = config.pop("dtype", None)
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name")
    if dtype not in (None, "float32", "float64"):
        raise ValueError(f"{where}: dtype {dtype!r} (a mixed-precision policy?) is not supported; "
                         "minigrad layers compute in the model's float type")
    for key, default in KERAS_DEFAULTS.get(kind, {}).items():
        if key not in config or key in LAYER_KEYS.get(kind, ()):
            continue
        value = config.pop(key)
        if key.endswith("_initializer") and isinstance(value, dict):
            value = minigrad_value(key, value, where)
        if key in _IGNORED or value == default or (value is None and default is None):
            continue
        raise ValueError(f"{where}: Keras' {key}={value!r} has no counterpart in minigrad (only "
                         f"{default!r}); remove it from the model to load it here")
    for key in _IGNORED:
        if key in config and key not in LAYER_KEYS.get(kind, ()):
            config.pop(key)
    if "batch_input_shape" in config:             # Keras 2: the first layer's input shape
        shape = config.pop("batch_input_shape")
        config["input_shape"] = None if shape is None else tuple(shape[1:])
    if kind == "Bidirectional":
        config = _read_bidirectional(config, where, cls)
    elif kind in _READERS:
        config = _READERS[kind](config, where)
    return {key: value if key in ("layer", "backward_layer") else minigrad_value(key, value, where)
            for key, value in config.items()}
