"""Layer configs: a layer's constructor arguments as a dict, under Keras' config keys.

    config = layer.get_config()          # {"name": "dense", "trainable": True, "units": 10, ...}
    same = type(layer).from_config(config)   # a new layer, same settings, fresh weights

What each built-in layer puts in its config is written here, in one place, beside the Keras
keys it maps to (so a config written by Keras loads here, and the other way round). A custom
layer writes its own get_config (Keras' way: super().get_config() plus its arguments), and
from_config calls the class with the config as keyword arguments.
"""
from __future__ import annotations


def base_config(layer) -> dict:
    """What every layer's config holds: its name and whether it trains."""
    return {"name": layer.name, "trainable": layer.trainable}


def get_config(layer) -> dict:
    return base_config(layer)


def from_config(cls, config):
    """A new layer of class `cls` made from a config (a dict of constructor arguments)."""
    if not isinstance(config, dict):
        raise TypeError(f"{cls.__name__}.from_config: a config is a dict of constructor arguments, got "
                        f"{type(config).__name__}")
    return cls(**config)
