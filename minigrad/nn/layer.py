"""Layer: the base class for custom layers written the Keras way.

    class Scale(Layer):
        def build(self, input_shape):                  # Keras' full shape: (None, features)
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
        def call(self, inputs, training=None):
            return inputs * self.w
        def compute_output_shape(self, input_shape):   # optional; found by probing otherwise
            return input_shape

minigrad's own layers are Modules: they speak per-sample shapes (no batch axis) and write
forward(x). A Layer is a Module that speaks Keras instead: build() and
compute_output_shape() get shapes with the batch axis (None) first, and the math goes in
call(inputs, training=None). So Keras code that reads input_shape[1] or returns
(input_shape[0], units) transcribes unchanged; the conversion to per-sample shapes happens
here, once. add_weight(), add_loss() and `losses` are Module's (module.py).
"""
from __future__ import annotations

import inspect

from . import graph
from .module import Module


class Layer(Module):
    """Layer(name=None, trainable=True, dtype=None, input_shape=None): subclass it and write
    call(inputs, training=None) (and build / compute_output_shape where needed)."""

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None, input_dim=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected arguments {sorted(kwargs)} for Layer.__init__")
        if input_dim is not None:
            input_shape = (int(input_dim),)
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        if dtype is not None:
            self._dtype = dtype

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define call(inputs)")

    def forward(self, inputs, *args, **kwargs):
        """forward = call, with training= passed when call takes it (Keras' convention)."""
        if _takes_training(type(self).call) and "training" not in kwargs:
            kwargs["training"] = self.training
        return self.call(inputs, *args, **kwargs)

    # Keras speaks full shapes: convert here, once
    def _build(self, input_shape):
        self.build(graph.with_batch(input_shape))

    def build(self, input_shape):
        """Create weights for the full input shape (batch axis first, None)."""

    def _output_shape(self, input_shape):
        if type(self).compute_output_shape is Layer.compute_output_shape:
            return graph.per_sample(graph.probe_output_specs(self, graph.with_batch(input_shape)))
        out = self.compute_output_shape(graph.with_batch(input_shape))
        if isinstance(out, list):
            return [tuple(s)[1:] for s in out]
        return tuple(out)[1:]

    def compute_output_shape(self, input_shape):
        """The full output shape (batch axis first) for the full input shape."""
        return graph.with_batch(graph.per_sample(graph.probe_output_specs(self, input_shape)))


_training_cache: dict = {}


def _takes_training(call) -> bool:
    if call not in _training_cache:
        try:
            _training_cache[call] = "training" in inspect.signature(call).parameters
        except (TypeError, ValueError):
            _training_cache[call] = False
    return _training_cache[call]
