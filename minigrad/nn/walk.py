"""What the converters share: the layer calls of a model in order, and the numbers they need.

A converter (to PyTorch, to ONNX, from Keras files) reads a built minigrad model as a list of
layer calls in topological order, each naming the tensors it reads and writes:

    Sequential    its layers in order, each reading the tensor the previous one wrote
    functional    Model(inputs, outputs): the recorded calls of its graph (nn/graph.py), so a
                  merge reads several tensors, a shared layer appears once per call, and a
                  nested model is one call (PyTorch mirrors it as a submodule) or, expanded,
                  the calls inside it (ONNX, Keras' weight permutations)

Python code has no counterpart in another framework: a Lambda layer, or an op applied to
symbolic tensors outside any layer (x * 2 on an Input), raises naming it. Each layer knows,
once built, its per-sample input and output shapes; from those and its arguments come the
explicit paddings that "same" means for that input size, so a layer called on inputs of
another shape than it was built for is refused too.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import activations, recurrent
from .conv_layers import Conv2D, Conv2DTranspose, MaxPooling2D, same_padding
from .embedding import Embedding
from .graph import Node
from .layers import Lambda
from .module import Module
from .weights import weight_records


class UnsupportedLayer(ValueError):
    """A layer that a converter has no rule for (the message names it and what is supported)."""


# Model and Sequential are looked up by name (Module.minigrad_class), not imported: model.py
# saves through code that uses this module.
def is_sequential(model) -> bool:
    return isinstance(model, Module.minigrad_class("Sequential"))


def is_functional(model) -> bool:
    """True for a model built as Model(inputs, outputs) (not Sequential, not subclassed)."""
    return isinstance(model, Module.minigrad_class("Model")) and not is_sequential(model) \
        and model._graph is not None


def is_model(layer) -> bool:
    """A model the converters can look inside: Sequential or functional."""
    return is_sequential(layer) or is_functional(layer)


def require_built(model, who: str) -> None:
    """A clear error unless `model` is a built Sequential or functional model."""
    if not is_model(model):
        raise UnsupportedLayer(
            f"{who}: '{model.name}' is a {type(model).__name__}, not a Sequential model nor a functional "
            "Model(inputs, outputs). Convert its Sequential or functional parts instead (for a VAE: "
            "vae.decoder, vae.encoder), or write the model in one of those two forms")
    if not getattr(model, "built", False):
        raise RuntimeError(f"{who}: model '{model.name}' is not built yet; give its first layer "
                           "input_shape=... (or call it once on a batch) so that every layer "
                           "knows its shapes")


@dataclass
class Call:
    """One layer call: layer(inputs) -> outputs, the tensors named by keys.

    several_in is True when the layer takes a list (merges, a model of several inputs)."""
    layer: object
    inputs: list
    several_in: bool
    outputs: list


def calls(model, who: str, strict=True, any_format=False):
    """(input keys, [Call], output keys) of a built Sequential or functional model, in order.

    Keys are hashable names of the tensors between the layers; nested models stay one call.
    strict=False (for reading weights, where Python code does no harm) lets Lambda layers,
    ops on symbolic tensors (their node stands in for the layer) and any call through.
    any_format=True lets channels-last layers through (Keras files: both sides read HWC there).
    """
    require_built(model, who)
    if is_sequential(model):
        layers = sequence(model, who, any_format)
        steps = [Call(layer, [i], False, [i + 1]) for i, layer in enumerate(layers)]
        return [0], steps, [len(layers)]
    graph = model._graph
    steps = [_functional_call(model, node, who) if strict else
             Call(getattr(node, "layer", node), [id(t) for t in node.parents()],
                  isinstance(getattr(node, "inputs", None), (list, tuple)), [id(t) for t in node.outputs])
             for node in graph.nodes]
    return [id(t) for t in graph.inputs], steps, [id(t) for t in graph.outputs]


def _functional_call(model, node, who) -> Call:
    if not isinstance(node, Node):
        raise UnsupportedLayer(
            f"{who}: model '{model.name}' applies the op '{node.name}' to symbolic tensors outside any "
            "layer, which is Python code with no counterpart here; write it with layers instead "
            "(Add, Subtract, Multiply, Activation, Reshape, ...)")
    layer = node.layer
    if isinstance(layer, Lambda):
        raise UnsupportedLayer(
            f"{who}: {describe(layer)} in model '{model.name}' runs a Python function, which cannot be "
            "translated; replace it with layers (merges, Activation, Reshape, ...), or convert the "
            "parts of the model before and after it")
    if node.args or node.kwargs or node.training is not None:
        given = [repr(a) for a in node.args] + [f"{k}=..." for k in node.kwargs] + \
            ([f"training={node.training}"] if node.training is not None else [])
        raise UnsupportedLayer(f"{who}: {describe(layer)} is called with {', '.join(given)} in model "
                               f"'{model.name}'; only plain calls layer(inputs) are converted")
    several = isinstance(node.inputs, (list, tuple))
    if isinstance(node.inputs, dict) or (several and any(not hasattr(t, "node") for t in node.inputs)):
        raise UnsupportedLayer(f"{who}: {describe(layer)} is called on a nested structure in model "
                               f"'{model.name}'; only a tensor or a flat list of tensors is converted")
    shapes = [tuple(t.shape[1:]) for t in node.input_tensors]
    built_for = layer.input_shape if isinstance(layer.input_shape, list) else [layer.input_shape]
    if [tuple(s) for s in built_for] != shapes:
        raise UnsupportedLayer(f"{who}: {describe(layer)} is called in model '{model.name}' on inputs of "
                               f"shape {', '.join(_fmt(s) for s in shapes)}, not the shape it was built "
                               "for; the converters write each layer for one input shape (use two layers)")
    _check_format(layer, who)
    return Call(layer, [id(t) for t in node.input_tensors], several, [id(t) for t in node.outputs])


def flat_calls(model, who: str, strict=True, input_keys=None, scope=(), any_format=False):
    """(input keys, [Call], output keys) with every nested model expanded into its own calls.

    A nested model's tensors get keys in their own scope (a model called twice is expanded
    twice); its inputs are the tensors it is called on, its outputs those of the call.
    """
    own_in, steps, own_out = calls(model, who, strict, any_format)
    keys = dict(zip(own_in, input_keys)) if input_keys is not None else {}

    def key(k):
        return keys.get(k, scope + (k,))

    out = []
    for i, step in enumerate(steps):
        ins = [key(k) for k in step.inputs]
        if is_model(step.layer):
            _, inner, inner_out = flat_calls(step.layer, who, strict, ins, scope + (i,), any_format)
            out += inner
            keys.update(zip(step.outputs, inner_out))
        else:
            out.append(Call(step.layer, ins, step.several_in, [key(k) for k in step.outputs]))
    return [key(k) for k in own_in], out, [key(k) for k in own_out]


def sequence(model, who: str, any_format=False) -> list:
    """The layers of a Sequential model, in order (nested models kept as they are)."""
    if not is_sequential(model):
        require_built(model, who)
        raise UnsupportedLayer(f"{who}: '{model.name}' is not a Sequential model")
    if not any_format:
        for layer in model.layers:
            _check_format(layer, who)
    return model.layers


def _check_format(layer, who):
    data_format = getattr(layer, "data_format", None)
    if data_format not in (None, "channels_first"):
        raise UnsupportedLayer(f"{who}: {describe(layer)} is {data_format}; the converters read "
                               "minigrad's NCHW (channels_first) layers only")


def weighted_layers(model, who: str) -> list:
    """Every layer with weights once, nested models expanded, in the order minigrad runs them
    (PyTorch's modules are made in this order, so a state_dict lists its weights in it)."""
    out, seen = [], set()
    for step in calls(model, who)[1]:
        layer = step.layer
        found = weighted_layers(layer, who) if is_model(layer) else [layer] if weight_records(layer) else []
        for one in found:
            if id(one) not in seen:
                seen.add(id(one))
                out.append(one)
    return out


def describe(layer) -> str:
    shape = layer.input_shape
    shown = ", ".join(_fmt(s) for s in shape) if isinstance(shape, list) else _fmt(shape)
    return f"layer '{layer.name}' ({type(layer).__name__}, input {shown})"


def _fmt(shape) -> str:
    return "(None, " + ", ".join(str(n) for n in shape) + ")" if shape is not None else "unknown"


# ---------------------------------------------------------------------- activations by name

# The activation functions a converter can name, found by identity (activation=... and the
# Activation layer store the function itself).
KNOWN_ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax", "softplus", "leaky_relu")


def activation_name(layer, who: str) -> str:
    """'relu', 'linear', ... for a layer's activation function, or an UnsupportedLayer error."""
    fn = layer.activation
    for name in KNOWN_ACTIVATIONS:
        if fn is activations.get(name):
            return name
    raise UnsupportedLayer(f"{who}: {describe(layer)} uses the activation "
                           f"{activations.name_of(fn)!r}, which has no counterpart; use one of "
                           f"{list(KNOWN_ACTIVATIONS)}")


def softmax_axis(per_sample_shape) -> int:
    """The axis (with the batch axis counted) minigrad's softmax activation normalises over:
    the last, as Keras' (an NCHW image layer's too, as Keras' channels_first layers)."""
    return len(per_sample_shape)


# ---------------------------------------------------------------------- explicit paddings

def conv_pads(layer: Conv2D):
    """((top, bottom), (left, right)) zeros Conv2D adds for its built input size."""
    if layer.padding != "same":
        return ((0, 0), (0, 0))
    return tuple(same_padding(n, k, s, d) for n, k, s, d in
                 zip(layer.input_shape[1:], layer.kernel_size, layer.strides, layer.dilation_rate))


def pool_pads(layer: MaxPooling2D):
    """((top, bottom), (left, right)) of -inf MaxPooling2D adds for its built input size."""
    if layer.padding != "same":
        return ((0, 0), (0, 0))
    return tuple(same_padding(n, k, s) for n, k, s in
                 zip(layer.input_shape[1:], layer.pool_size, layer.strides))


def deconv_crops(layer: Conv2DTranspose):
    """(((top, bottom), (left, right)) cropped, (extra_h, extra_w) appended) for its input size.

    The full transposed convolution covers (n-1)*stride + k_eff pixels per axis; Keras' output
    is a window of it (the same arithmetic as Conv2DTranspose.forward).
    """
    crops, extra = [], []
    for n, k, s, d, length in zip(layer.input_shape[1:], layer.kernel_size, layer.strides,
                                  layer.dilation_rate, layer.output_shape[1:]):
        full = (n - 1) * s + d * (k - 1) + 1
        before = max(full - length, 0) // 2 if layer.padding == "same" else 0
        after = full - before - length
        crops.append((before, max(after, 0)))
        extra.append(max(-after, 0))
    return tuple(crops), tuple(extra)


# ---------------------------------------------------------------------- sequence layers

def check_sequence_layer(layer, who: str) -> None:
    """Sequence settings the converters do not carry over raise here, naming the layer."""
    if isinstance(layer, Embedding) and layer.mask_zero:
        raise UnsupportedLayer(f"{who}: {describe(layer)} has mask_zero=True; the mask it passes to the "
                               "next layers has no counterpart here (export models without masking)")
    cells = [layer.forward_layer, layer.backward_layer] if isinstance(layer, recurrent.Bidirectional) \
        else [layer] if isinstance(layer, recurrent._Recurrent) else []
    for cell in cells:
        problems = []
        if cell.activation is not activations.get("tanh") or \
                cell.recurrent_activation is not activations.get("sigmoid"):
            problems.append("activations other than tanh / sigmoid")
        if cell.return_state:
            problems.append("return_state=True")
        if cell.go_backwards and not isinstance(layer, recurrent.Bidirectional):
            problems.append("go_backwards=True")
        if isinstance(cell, recurrent.GRU) and not cell.reset_after and who == "to_torch":
            problems.append("reset_after=False (PyTorch's GRU is the reset_after=True form)")
        if problems:
            raise UnsupportedLayer(f"{who}: {describe(layer)} uses {', '.join(problems)}, which has no "
                                   "counterpart here")
    if isinstance(layer, recurrent.Bidirectional) and layer.merge_mode is None:
        raise UnsupportedLayer(f"{who}: {describe(layer)} has merge_mode=None (two outputs); use "
                               "'concat', 'sum', 'ave' or 'mul'")


def gate_blocks(array, order, gates, axis=0):
    """Reorder the `gates` equal blocks of `array` along `axis` into `order` (a list of indices)."""
    blocks = np.split(array, gates, axis=axis)
    return np.concatenate([blocks[i] for i in order], axis=axis)


def recurrent_arrays(cell):
    """(W, R, b_in, b_rec) of a SimpleRNN/LSTM/GRU in Keras' gate order, as host arrays laid out
    (gates*units, inputs) for W and (gates*units, units) for R (the kernels transposed), with
    zeros for a bias the layer does not have. An LSTM's or a reset_after=False GRU's single
    bias is b_in (b_rec zeros); a reset_after GRU's two rows are b_in and b_rec."""
    W, R = cell.kernel.numpy().T, cell.recurrent_kernel.numpy().T
    zeros = np.zeros(W.shape[0], dtype=W.dtype)
    if not cell.use_bias:
        return W, R, zeros, zeros
    bias = cell.bias.numpy()
    if isinstance(cell, recurrent.GRU) and cell.reset_after:
        return W, R, bias[0], bias[1]
    return W, R, bias, zeros
