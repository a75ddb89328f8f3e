"""Sequential: a stack of layers, each feeding the next, with Keras' model API (see model.py).

    model = Sequential([
        Conv2D(32, 3, activation="relu", input_shape=(1, 28, 28)),
        MaxPooling2D(),
        Flatten(),
        Dense(10, activation="softmax"),
    ])
    model.summary()          # shapes and parameter counts, before any data flows

The model knows its input shape from the first layer's input_shape= (or an Input(...)
first), else from the first batch it sees. add() and pop() really change the stack: the
next summary() and forward pass show the new last layer's output.
"""
from __future__ import annotations

from .layers import InputLayer
from .model import Model
from .module import Module, _shapes_match


class Sequential(Model):
    """Sequential(layers=None, name=None): forward(x) = layers[-1](...layers[0](x))."""

    def __init__(self, layers=None, name=None):
        super().__init__(name=name)
        self._layers = []
        for layer in layers or ():
            self.add(layer)

    @property
    def layers(self) -> list:
        """The layers, in order (a new list: change the model with add() and pop())."""
        return list(self._layers)

    def add(self, layer: Module) -> None:
        """Append a layer; it is built at once when the model's input shape is known."""
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.add: expected a layer (a minigrad.nn.Module), got {layer!r}")
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError("Sequential.add: an Input can only come first")
            self._declared_input_shape = layer._declared_input_shape
        else:
            if not self._layers and self._declared_input_shape is None:
                self._declared_input_shape = layer._declared_input_shape or \
                    (layer.input_shape if layer.built else None)
            self._layers.append(layer)
        self._rebuild()

    def pop(self) -> Module:
        """Remove and return the last layer; the model's output is then the one before it."""
        if not self._layers:
            raise IndexError("Sequential.pop: the model has no layers to pop")
        layer = self._layers.pop()
        self._rebuild()
        return layer

    def _rebuild(self) -> None:
        """Build whatever the known input shape allows and recompute the output shape."""
        shape = self.input_shape if self.built else self._declared_input_shape
        if shape is not None:
            self.built = False
            self.build_for(shape)

    # ------------------------------------------------------------------ Module hooks
    def build(self, input_shape):
        shape = input_shape
        for layer in self._layers:
            if layer.built:
                expected = layer.expected_input_shape()
                if expected is not None and not _shapes_match(expected, shape):
                    raise ValueError(layer._shape_error(expected, shape) +
                                     f" (inside Sequential model '{self.name}')")
                shape = layer.compute_output_shape(shape)
            else:
                shape = layer.build_for(shape)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = layer.output_shape if layer.built and layer.input_shape == shape \
                else layer.compute_output_shape(shape)
        return shape

    def expected_input_shape(self):
        return self._declared_input_shape

    def forward(self, x):
        for layer in self._layers:
            x = layer(x)
        return x

    def _summary_rows(self):
        return self.layers

    def __repr__(self):
        inner = ", ".join(repr(layer) for layer in self._layers)
        return f"Sequential([{inner}], name='{self.name}')"
