"""minigrad.nn.models: Keras' keras.models names in one place.

    from minigrad.nn.models import load_model
    model = load_model("m.keras")            # or a Keras 2 whole-model "m.h5"
    copy = clone_model(model)                # same architecture, fresh weights
    again = model_from_json(model.to_json())
"""
from __future__ import annotations

from .model import Model
from .saving import load_model, save_model
from .sequential import Sequential
from .serialization import clone_model, model_from_json, register_keras_serializable

__all__ = ["Model", "Sequential", "load_model", "save_model", "clone_model", "model_from_json",
           "register_keras_serializable"]
