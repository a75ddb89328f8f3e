"""What the converters share: the layers of a model in order, and the numbers they need.

A converter (to PyTorch, to ONNX, from Keras files) reads a built minigrad model as a list of
layer calls. For a Sequential model that is its layers in order, with nested Sequential
models either kept (PyTorch mirrors the nesting) or expanded (ONNX, Keras' legacy files).
Each layer knows, once built, its per-sample input and output shapes; from those and its
arguments come the explicit paddings that "same" means for that input size.
"""
from __future__ import annotations

from ..nn import Sequential, activations
from ..nn.conv_layers import Conv2D, Conv2DTranspose, MaxPooling2D, same_padding


class UnsupportedLayer(ValueError):
    """A layer that a converter has no rule for (the message names it and what is supported)."""


def require_built(model, who: str) -> None:
    """A clear error unless `model` is a built Sequential model."""
    sequence(model, who)
    if not getattr(model, "built", False):
        raise RuntimeError(f"{who}: model '{model.name}' is not built yet; give its first layer "
                           "input_shape=... (or call it once on a batch) so that every layer "
                           "knows its shapes")


def sequence(model, who: str) -> list:
    """The layers of a Sequential model, in order (nested Sequential models kept as they are)."""
    if not isinstance(model, Sequential):
        raise UnsupportedLayer(
            f"{who}: '{model.name}' is a {type(model).__name__}, not a Sequential model. Convert "
            "its Sequential parts instead (for a VAE: vae.decoder, vae.encoder), or write the "
            "model as a Sequential")
    for layer in model.layers:
        data_format = getattr(layer, "data_format", None)
        if data_format not in (None, "channels_first"):
            raise UnsupportedLayer(f"{who}: {describe(layer)} is {data_format}; the converters read "
                                   "minigrad's NCHW (channels_first) layers only")
    return model.layers


def leaves(model, who: str) -> list:
    """The layers of a Sequential model with nested Sequential models expanded, in call order."""
    out = []
    for layer in sequence(model, who):
        out.extend(leaves(layer, who) if isinstance(layer, Sequential) else [layer])
    return out


def describe(layer) -> str:
    return f"layer '{layer.name}' ({type(layer).__name__}, input {_fmt(layer.input_shape)})"


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
    """The axis (with the batch axis counted) minigrad's softmax activation normalises over."""
    return 1 if len(per_sample_shape) == 3 else len(per_sample_shape)


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
    from ..nn import Embedding, recurrent
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
    import numpy as np
    blocks = np.split(array, gates, axis=axis)
    return np.concatenate([blocks[i] for i in order], axis=axis)


def recurrent_arrays(cell):
    """(W, R, b_in, b_rec) of a SimpleRNN/LSTM/GRU in Keras' gate order, as host arrays laid out
    (gates*units, inputs) for W and (gates*units, units) for R (the kernels transposed), with
    zeros for a bias the layer does not have. An LSTM's or a reset_after=False GRU's single
    bias is b_in (b_rec zeros); a reset_after GRU's two rows are b_in and b_rec."""
    import numpy as np
    from ..nn import recurrent
    W, R = cell.kernel.numpy().T, cell.recurrent_kernel.numpy().T
    zeros = np.zeros(W.shape[0], dtype=W.dtype)
    if not cell.use_bias:
        return W, R, zeros, zeros
    bias = cell.bias.numpy()
    if isinstance(cell, recurrent.GRU) and cell.reset_after:
        return W, R, bias[0], bias[1]
    return W, R, bias, zeros
