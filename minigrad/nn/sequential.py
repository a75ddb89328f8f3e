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

from ..engine import symbolic
from . import graph
from .layers import InputLayer
from .model import LayerList, Model, _row
from .module import Module


from ..engine.tensor import Tensor  # noqa: E402


class Sequential(Model):
    """Sequential(layers=None, name=None): forward(x) = layers[-1](...layers[0](x))."""

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        self._layers = []
        self._input_layer = None
        for layer in layers or ():
            self.add(layer)

    @property
    def layers(self) -> list:
        """The layers, in order (read-only: change the model with add() and pop())."""
        self._ensure_traced()
        return LayerList(self._layers)

    @property
    def accepts_integer_input(self) -> bool:
        """Integer inputs stay integers when the first layer takes ids (Embedding)."""
        return bool(self._layers) and self._layers[0].accepts_integer_input

    def add(self, layer: Module) -> None:
        """Append a layer; it is built at once when the model's input shape is known."""
        if isinstance(layer, Tensor) and layer.symbolic and isinstance(layer.node, graph.InputNode):
            layer = layer.node.layer                # Sequential([Input((784,)), ...]), Keras 3's style
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.add: expected a layer (a minigrad.nn.Module), got {layer!r}")
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError("Sequential.add: an Input can only come first")
            self._declared_input_shape = layer._declared_input_shape
            self._input_layer = layer
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

    def _trace(self) -> None:
        """Record the stack as a graph on symbolic tensors, so that model.input, model.output
        and each layer.output exist (Model(model.input, model.layers[2].output) works, as in
        Keras). The eager forward below does not use it."""
        for layer in self._layers:                  # forget the calls of an earlier trace
            layer._inbound_nodes = [n for n in layer._inbound_nodes if getattr(n, "traced_by", None) is not self]
        if self._input_layer is None or self._input_layer.input_shape != self.input_shape:
            self._input_layer = InputLayer(self.input_shape, name=f"{self.name}_input")
        x = inputs = self._input_layer.output
        for layer in self._layers:
            x = layer(x)
            layer._inbound_nodes[-1].traced_by = self
        self._traced = graph.Graph([inputs], [x] if not isinstance(x, list) else x, self.name)

    @property
    def inputs(self) -> list:
        self._ensure_traced()
        if getattr(self, "_traced", None) is None:
            raise AttributeError(f"Sequential model '{self.name}' has no input yet: give the first layer "
                                 "input_shape=..., start with Input(shape), or call the model on data")
        return list(self._traced.inputs)

    @property
    def outputs(self) -> list:
        self.inputs                                  # the same error when not built
        return list(self._traced.outputs)

    def build_for(self, input_shape):
        shape = super().build_for(input_shape)
        self._traced = None
        self._ensure_traced()
        return shape

    def _ensure_traced(self):
        """Trace once built (not while a model is running or being probed: then at the next
        look at layers/inputs/outputs)."""
        if getattr(self, "_traced", None) is None and self.built and self._layers \
                and not isinstance(self.input_shape, list) and not symbolic.running():
            self._trace()

    # ------------------------------------------------------------------ Module hooks
    def build(self, input_shape):
        shape = input_shape
        for layer in self._layers:
            if layer.built:
                if not layer.fits_input(shape):
                    raise ValueError(layer._shape_error(layer.expected_input_shape(), shape) +
                                     f" (inside Sequential model '{self.name}')")
                shape = layer._output_shape(shape)
            else:
                shape = layer.build_for(shape)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = layer.output_shape if layer.built and layer.input_shape == shape \
                else layer._output_shape(shape)
        return shape

    def expected_input_shape(self):
        return self._declared_input_shape

    def forward(self, x):
        for layer in self._layers:
            x = layer(x)
        return x

    @property
    def output_names(self) -> list:
        return [self._layers[-1].name] if self._layers else ["output"]

    def _summary_rows(self):
        return [_row(layer) for layer in self._layers]

    def __repr__(self):
        inner = ", ".join(repr(layer) for layer in self._layers)
        return f"Sequential([{inner}], name='{self.name}')"
