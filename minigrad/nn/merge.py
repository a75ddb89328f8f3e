"""Merge layers: one output from several inputs, for multi-input models and residual links.

    x = add([x, shortcut])                       # a residual connection (ResNet)
    h = concatenate([a, b], axis=-1)             # side by side along the features
    Concatenate(axis=-1), Add, Subtract, Multiply, Average, Maximum, Minimum

Each is a layer called on a list of tensors (the function forms make and call one). All but
Concatenate take inputs of one shape (Keras also broadcasts size-1 axes: so do these, by the
ops' ordinary broadcasting). The gradients are the ops': d(a+b) = (g, g), d(a*b) = (g*b, g*a),
d max(a, b) goes to the larger input.
"""
from __future__ import annotations

from ..engine.ops import elementwise
from ..engine.ops.movement import concat
from .module import Module


class _Merge(Module):
    """Several same-shape inputs -> one output of that shape (broadcasting size-1 axes)."""

    minimum_inputs = 2

    def _check(self, shapes):
        if not isinstance(shapes, list) or len(shapes) < self.minimum_inputs:
            raise ValueError(f"{type(self).__name__} layer '{self.name}' needs a list of at least "
                             f"{self.minimum_inputs} tensors, got {shapes if not isinstance(shapes, list) else len(shapes)}")

    def build(self, input_shape):
        self._check(input_shape)

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        ranks = {len(s) for s in input_shape}
        if len(ranks) > 1:
            raise ValueError(f"{type(self).__name__} layer '{self.name}': inputs of different ranks "
                             f"{[_show(s) for s in input_shape]}")
        out = []
        for sizes in zip(*input_shape):
            known = {n for n in sizes if n not in (None, 1)}
            if len(known) > 1:
                raise ValueError(f"{type(self).__name__} layer '{self.name}': inputs of shapes "
                                 f"{[_show(s) for s in input_shape]} cannot be merged (every input needs "
                                 "the same shape, or size 1 on an axis)")
            out.append(known.pop() if known else (None if None in sizes else 1))
        return tuple(out)

    def forward(self, inputs):
        self._check([tuple(t.shape) for t in inputs] if isinstance(inputs, list) else inputs)
        out = inputs[0]
        for x in inputs[1:]:
            out = self.combine(out, x)
        return self.finish(out, len(inputs))

    def finish(self, out, n):
        return out


def _show(shape):
    return "(None, " + ", ".join("None" if n is None else str(n) for n in shape) + ")"


class Add(_Merge):
    """y = x1 + x2 + ..."""

    def combine(self, a, b):
        return a + b


class Subtract(_Merge):
    """y = x1 - x2 (exactly two inputs)."""

    def _check(self, shapes):
        if not isinstance(shapes, list) or len(shapes) != 2:
            raise ValueError(f"Subtract layer '{self.name}' needs a list of exactly 2 tensors")

    def combine(self, a, b):
        return a - b


class Multiply(_Merge):
    """y = x1 * x2 * ... (elementwise)."""

    def combine(self, a, b):
        return a * b


class Average(_Merge):
    """y = (x1 + x2 + ... + xn) / n."""

    def combine(self, a, b):
        return a + b

    def finish(self, out, n):
        return out / n


class Maximum(_Merge):
    """y = max(x1, x2, ...) elementwise; the gradient goes to the larger input."""

    def combine(self, a, b):
        return elementwise.maximum(a, b)


class Minimum(_Merge):
    """y = min(x1, x2, ...) elementwise."""

    def combine(self, a, b):
        return elementwise.minimum(a, b)


class Concatenate(Module):
    """Join the inputs along `axis` (default -1, the features; axis 0, the batch, is refused)."""

    def __init__(self, axis=-1, name=None):
        super().__init__(name=name)
        self.axis = int(axis)

    def _per_sample_axis(self, rank):
        axis = self.axis if self.axis >= 0 else self.axis + rank + 1        # rank: per-sample rank
        if not 1 <= axis <= rank:
            raise ValueError(f"Concatenate layer '{self.name}': axis {self.axis} is not a feature axis of "
                             f"inputs with {rank + 1} axes (axis 0 is the batch)")
        return axis - 1

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ValueError(f"Concatenate layer '{self.name}' needs a list of at least 2 tensors")
        rank = len(input_shape[0])
        axis = self._per_sample_axis(rank)
        for s in input_shape:
            if len(s) != rank or any(a != b and None not in (a, b) for i, (a, b) in enumerate(zip(s, input_shape[0]))
                                     if i != axis):
                raise ValueError(f"Concatenate layer '{self.name}': inputs of shapes "
                                 f"{[_show(s) for s in input_shape]} must match on every axis but {self.axis}")
        sizes = [s[axis] for s in input_shape]
        out = list(input_shape[0])
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def forward(self, inputs):
        rank = inputs[0].ndim - 1
        return concat(list(inputs), axis=self._per_sample_axis(rank) + 1)


def concatenate(inputs, axis=-1, name=None):
    """concatenate([a, b], axis=-1): Concatenate(axis)([a, b])."""
    return Concatenate(axis=axis, name=name)(inputs)


def add(inputs, name=None):
    """add([a, b, ...]) = Add()([a, b, ...])."""
    return Add(name=name)(inputs)


def subtract(inputs, name=None):
    return Subtract(name=name)(inputs)


def multiply(inputs, name=None):
    return Multiply(name=name)(inputs)


def average(inputs, name=None):
    return Average(name=name)(inputs)


def maximum(inputs, name=None):
    return Maximum(name=name)(inputs)


def minimum(inputs, name=None):
    return Minimum(name=name)(inputs)
