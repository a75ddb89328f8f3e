"""PyTorch out and back in: to_torch(model) and from_torch_state_dict(model, state_dict).

    from minigrad.interop import to_torch, from_torch_state_dict
    net = to_torch(model)                  # a torch.nn.Module with the weights copied
    ...train net with PyTorch...
    from_torch_state_dict(model, net.state_dict())     # and back into the minigrad model

A Sequential model becomes a torch.nn.Sequential (nested Sequential models nested, names
kept). A functional model, Model(inputs, outputs), becomes a GraphModule: its layers as
submodules, and a forward that replays the model's layer calls in topological order on the
values they name. So a merge reads several values, a shared layer is one module called
twice (one set of weights, as in minigrad), a nested model is a submodule, and the module
takes and returns what the model does: net(x) or net(a, b) (also net([a, b]) or net({"a":
a, ...}) by input name); a tensor, a list or a dict by output name. A Lambda layer, or an op
applied to symbolic tensors outside any layer, holds Python code that is not translated: it
raises naming it (write it with layers).

Both layouts are NCHW, so most weights copy as they are. The differences, layer by layer:
    Dense               torch.nn.Linear keeps weight (out, in): the transpose of the kernel
    Conv2D              Conv2d, weight (out, in, kh, kw) as minigrad; "same" is written out as
                        explicit zeros (a ZeroPad2d first when they are uneven, as TF's are)
    Conv2DTranspose     ConvTranspose2d, weight (in, out, kh, kw) as minigrad; Keras' window of
                        the full result is padding= plus, when uneven, a cropping ZeroPad2d
    BatchNormalization  BatchNorm1d/2d with torch's momentum = 1 - Keras' momentum, eps = epsilon
    MaxPooling2D "same" a ConstantPad2d of -inf before MaxPool2d
    activation=...      a separate activation module after the layer (named <layer>_<activation>)
    Embedding, Conv1D (between two transposes: torch's is channels-first), MaxPooling1D,
    AveragePooling1D (valid), the global poolings, SimpleRNN/LSTM/GRU (gates reordered; the
    LSTM's and SimpleRNN's one bias is torch's bias_ih, torch's bias_hh stays zero and frozen,
    so the trainable parameters and their updates are the same on both sides), Bidirectional; UpSampling2D, ZeroPadding2D, Flatten, Reshape, Dropout, LeakyReLU, Activation
    Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate: small modules of their op
The paddings are those of the input size the model was built for; a model built for
(1, 28, 28) gives a module that is exact for 28x28 images.

One difference remains in training: torch.nn.BatchNorm updates its running variance with the
unbiased batch variance (n/(n-1) times Keras'), so moving statistics drift slightly apart if
BatchNorm layers train on both sides. Outputs in training mode (batch statistics) agree.

torch is an optional dependency, imported only here (pip install torch).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..nn import (Activation, Add, AveragePooling1D, Average, BatchNormalization, Bidirectional,
                  Concatenate, Conv1D, Conv2D, Conv2DTranspose, Dense, Dropout, Embedding, Flatten,
                  GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                  LeakyReLU, Maximum, MaxPooling1D, MaxPooling2D, Minimum, Multiply, Reshape, Sequential,
                  Subtract, UpSampling2D, ZeroPadding2D, recurrent)
from ..nn.conv1d import time_padding
from ..nn.saving import assign
from ..nn import walk

WHO_OUT, WHO_IN = "to_torch", "from_torch_state_dict"


def _import_torch():
    try:
        import torch
    except ImportError:
        raise ImportError("minigrad.interop.to_torch needs PyTorch: pip install torch "
                          "(it is optional; nothing else in minigrad uses it)") from None
    return torch


# ---------------------------------------------------------------------- minigrad -> torch

def to_torch(model):
    """A torch.nn.Module computing what the built Sequential or functional `model` computes.

    Sequential -> torch.nn.Sequential, functional -> GraphModule (see the module docstring);
    the weights are copied and keep the model's dtype. The module starts in the mode the
    model is in (training or eval). Raises, naming the layer, for a layer with no PyTorch
    counterpart.
    """
    torch = _import_torch()
    walk.require_built(model, WHO_OUT)
    dtype = getattr(torch, np.dtype(model.dtype).name)     # made in that dtype, then filled
    return _convert_model(model, torch, dtype, {}).train(model.training)


def _convert_model(model, torch, dtype, converted):
    """`converted` maps id(layer) -> the model it was converted in: one layer, one module."""
    if isinstance(model, Sequential):
        return _convert_sequential(model, torch, dtype, converted)
    return _convert_functional(model, torch, dtype, converted)


def _convert_once(layer, model, torch, dtype, converted):
    """[(suffix, module)] of a layer (a nested model: one module), refusing a second conversion
    of the same layer: its weights would no longer be shared."""
    if id(layer) in converted:
        raise walk.UnsupportedLayer(
            f"{WHO_OUT}: {walk.describe(layer)} is used in model '{model.name}' and again in model "
            f"'{converted[id(layer)]}' (or twice in a Sequential); PyTorch would get two copies that "
            "train apart. Share layers within one functional model only")
    converted[id(layer)] = model.name
    if walk.is_model(layer):
        return [("", _convert_model(layer, torch, dtype, converted))]
    return _convert_layer(layer, torch, dtype)


def _convert_sequential(model, torch, dtype, converted):
    modules = OrderedDict()
    used = set()
    for layer in walk.sequence(model, WHO_OUT):
        key = _module_key(layer.name, used)
        for suffix, module in _convert_once(layer, model, torch, dtype, converted):
            modules[key + suffix] = module
    return torch.nn.Sequential(modules)


def _module_key(name, used, reserved=()):
    """The layer's name made a valid, unique torch attribute name (name_1, ... if taken)."""
    key = name.replace(".", "_").replace("/", "_") or "layer"
    base, n = key, 1
    while key in used or key in reserved:
        key, n = f"{base}_{n}", n + 1
    used.add(key)
    return key


def _convert_functional(model, torch, dtype, converted):
    """A GraphModule: each layer converted once, then the calls in order, on named values."""
    GraphModule = _helpers(torch)["GraphModule"]
    inputs, steps, outputs = walk.calls(model, WHO_OUT)
    used, names = set(), {}
    reserved = set(dir(GraphModule))
    for key, t in zip(inputs, model.inputs):
        names[key] = _module_key(t.node.name, used, reserved)
    modules, keys_of, calls_made, plan = OrderedDict(), {}, {}, []
    for step in steps:
        layer = step.layer
        if id(layer) not in keys_of:
            key = _module_key(layer.name, used, reserved)
            parts = _convert_once(layer, model, torch, dtype, converted)
            keys_of[id(layer)] = [key + suffix for suffix, _ in parts]
            modules.update((key + suffix, module) for suffix, module in parts)
        n = calls_made[id(layer)] = calls_made.get(id(layer), -1) + 1
        call = keys_of[id(layer)][0] + (f"_call{n}" if n else "")
        for i, key in enumerate(step.outputs):                   # "dense", "dense_call1", "model[1]"
            names[key] = call + (f"[{i}]" if len(step.outputs) > 1 else "")
        plan.append((keys_of[id(layer)], [names[k] for k in step.inputs], step.several_in,
                     [names[k] for k in step.outputs]))
    return GraphModule(modules, [names[k] for k in inputs], model._input_keys, plan,
                       [names[k] for k in outputs], model._output_keys, model._output_kind)


def _activation(layer, shape, torch):
    """[(suffix, module)] for a layer's activation (nothing for 'linear')."""
    name = walk.activation_name(layer, WHO_OUT)
    nn = torch.nn
    module = {"linear": None, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
              "softplus": nn.Softplus}.get(name)
    if name == "leaky_relu":
        return [("_leaky_relu", nn.LeakyReLU(0.2))]      # Keras' activation="leaky_relu" slope
    if name == "softmax":
        return [("_softmax", nn.Softmax(dim=walk.softmax_axis(shape)))]
    return [] if module is None else [("_" + name, module())]


def _pad_module(pads, torch, value=0.0):
    """ZeroPad2d/ConstantPad2d for ((top, bottom), (left, right)); negative values crop."""
    (top, bottom), (left, right) = pads
    return torch.nn.ConstantPad2d((left, right, top, bottom), value)


def _copy(param, array):
    """Copy a NumPy array into a torch parameter or buffer in place."""
    import torch
    with torch.no_grad():
        param.copy_(torch.from_numpy(np.ascontiguousarray(array)))


def _convert_layer(layer, torch, dtype):
    """[(suffix, torch module)] for one minigrad layer, its weights copied in."""
    nn = torch.nn
    kw = {"dtype": dtype}
    shape_in, shape_out = layer.input_shape, layer.output_shape
    if isinstance(layer, Dense):
        linear = nn.Linear(shape_in[-1], layer.units, bias=layer.use_bias, **kw)
        _copy(linear.weight, layer.kernel.numpy().T)
        if layer.use_bias:
            _copy(linear.bias, layer.bias.numpy())
        return [("", linear)] + _activation(layer, shape_out, torch)
    if isinstance(layer, Conv2D):
        (top, bottom), (left, right) = walk.conv_pads(layer)
        even = top == bottom and left == right
        conv = nn.Conv2d(shape_in[0], layer.filters, layer.kernel_size, stride=layer.strides,
                         padding=(top, left) if even else 0, dilation=layer.dilation_rate,
                         bias=layer.use_bias, **kw)
        _copy(conv.weight, layer.kernel.numpy())
        if layer.use_bias:
            _copy(conv.bias, layer.bias.numpy())
        pad = [] if even else [("_pad", _pad_module(((top, bottom), (left, right)), torch))]
        return pad + [("", conv)] + _activation(layer, shape_out, torch)
    if isinstance(layer, Conv2DTranspose):
        crops, extra = walk.deconv_crops(layer)
        common = tuple(min(c) for c in crops)                   # cropped on both sides: padding=
        deconv = nn.ConvTranspose2d(shape_in[0], layer.filters, layer.kernel_size, stride=layer.strides,
                                    padding=common, output_padding=extra,
                                    dilation=layer.dilation_rate, bias=layer.use_bias, **kw)
        _copy(deconv.weight, layer.kernel.numpy())
        if layer.use_bias:
            _copy(deconv.bias, layer.bias.numpy())
        rest = tuple((-(b - c), -(a - c)) for (b, a), c in zip(crops, common))
        crop = [("_crop", _pad_module(rest, torch))] if any(any(r) for r in rest) else []
        return [("", deconv)] + crop + _activation(layer, shape_out, torch)
    if isinstance(layer, BatchNormalization):
        kind = nn.BatchNorm2d if len(shape_in) == 3 else nn.BatchNorm1d
        bn = kind(shape_in[0], eps=layer.epsilon, momentum=1.0 - layer.momentum, **kw)
        _copy(bn.running_mean, layer.moving_mean.numpy())
        _copy(bn.running_var, layer.moving_variance.numpy())
        if layer.scale:
            _copy(bn.weight, layer.gamma.numpy())
        else:
            bn.weight.requires_grad_(False)                     # stays 1, as minigrad's missing gamma
        if layer.center:
            _copy(bn.bias, layer.beta.numpy())
        else:
            bn.bias.requires_grad_(False)
        return [("", bn)]
    if isinstance(layer, Activation):
        return _activation(layer, shape_out, torch) or [("", nn.Identity())]
    if isinstance(layer, LeakyReLU):
        return [("", nn.LeakyReLU(layer.alpha))]
    if isinstance(layer, Dropout):
        return [("", nn.Dropout(layer.rate))]
    if isinstance(layer, Flatten):
        return [("", nn.Flatten())]
    if isinstance(layer, Reshape):
        flat = [("_flatten", nn.Flatten())] if len(shape_in) > 1 else []
        return flat + [("", nn.Unflatten(1, tuple(shape_out)))]
    if isinstance(layer, MaxPooling2D):
        pads = walk.pool_pads(layer)
        pad = [("_pad", _pad_module(pads, torch, float("-inf")))] if any(any(p) for p in pads) else []
        return pad + [("", nn.MaxPool2d(layer.pool_size, stride=layer.strides))]
    if isinstance(layer, UpSampling2D):
        return [("", nn.Upsample(scale_factor=tuple(float(s) for s in layer.size), mode="nearest"))]
    if isinstance(layer, ZeroPadding2D):
        return [("", _pad_module(layer.padding, torch))]
    if isinstance(layer, tuple(_MERGES)):
        return [("", _helpers(torch)["Merge"](_MERGES[type(layer)]))]
    if isinstance(layer, Concatenate):
        return [("", _helpers(torch)["Concat"](layer._per_sample_axis(len(shape_in[0])) + 1))]
    return _convert_sequence_layer(layer, torch, dtype)


_MERGES = {Add: "add", Subtract: "subtract", Multiply: "multiply", Average: "average", Maximum: "maximum",
           Minimum: "minimum"}


# ---------------------------------------------------------------------- sequences (batch, time, ...)

_HELPERS = {}


def _helpers(torch):
    """The few modules torch.nn has no layer for, made once torch is imported."""
    if _HELPERS:
        return _HELPERS

    class Transpose(torch.nn.Module):
        """Swap two axes: minigrad's sequences are (batch, time, channels), torch's Conv1d wants
        (batch, channels, time)."""
        def __init__(self, a, b):
            super().__init__()
            self.a, self.b = a, b

        def forward(self, x):
            return x.transpose(self.a, self.b)

    class Reduce(torch.nn.Module):
        """The global poolings: mean or max over `axes`."""
        def __init__(self, how, axes, keepdims):
            super().__init__()
            self.how, self.axes, self.keepdims = how, tuple(axes), keepdims

        def forward(self, x):
            if self.how == "mean":
                return x.mean(dim=self.axes, keepdim=self.keepdims)
            return x.amax(dim=self.axes, keepdim=self.keepdims)

    class Recurrent(torch.nn.Module):
        """nn.LSTM / nn.GRU / nn.RNN (batch_first) as a layer: the whole output sequence, or
        the last state of each direction (merged as Keras' Bidirectional merge_mode says)."""
        def __init__(self, rnn, return_sequences, merge_mode):
            super().__init__()
            self.rnn, self.return_sequences, self.merge_mode = rnn, return_sequences, merge_mode

        def forward(self, x):
            out, state = self.rnn(x)
            h = state[0] if isinstance(state, tuple) else state          # LSTM: (h, c)
            if self.return_sequences:
                parts = out.chunk(2, dim=-1) if self.rnn.bidirectional else (out,)
            else:
                parts = tuple(h[-2:]) if self.rnn.bidirectional else (h[-1],)
            if len(parts) == 1 or self.merge_mode == "concat":
                return torch.cat(parts, dim=-1)
            forward_part, backward_part = parts
            return {"sum": forward_part + backward_part, "ave": (forward_part + backward_part) / 2,
                    "mul": forward_part * backward_part}[self.merge_mode]

    class Merge(torch.nn.Module):
        """The merge layers: one op folded over the inputs (broadcasting size-1 axes, as minigrad)."""
        def __init__(self, how):
            super().__init__()
            self.how = how

        def forward(self, xs):
            if self.how == "subtract":
                return xs[0] - xs[1]
            fold = {"add": torch.add, "average": torch.add, "multiply": torch.mul,
                    "maximum": torch.maximum, "minimum": torch.minimum}[self.how]
            out = xs[0]
            for x in xs[1:]:
                out = fold(out, x)
            return out / len(xs) if self.how == "average" else out

        def extra_repr(self):
            return self.how

    class Concat(torch.nn.Module):
        """Concatenate: torch.cat along `dim` (batch axis counted)."""
        def __init__(self, dim):
            super().__init__()
            self.dim = dim

        def forward(self, xs):
            return torch.cat(list(xs), dim=self.dim)

        def extra_repr(self):
            return f"dim={self.dim}"

    class GraphModule(torch.nn.Module):
        """A functional model: its layers as submodules, and its layer calls replayed in order.

        plan: one (module keys, input names, takes a list?, output names) per layer call; the
        module keys are the layer's parts (a Conv2D's padding, the conv, its activation), run
        one after the other. forward(*inputs) keeps every value by name, as the minigrad
        model's graph does, and returns the outputs in the model's structure.
        """
        def __init__(self, modules, input_names, input_keys, plan, output_names, output_keys, output_kind):
            super().__init__()
            for key, module in modules.items():
                self.add_module(key, module)
            self.input_names, self.input_keys, self.plan = input_names, list(input_keys), plan
            self.output_names, self.output_keys, self.output_kind = output_names, output_keys, output_kind

        def forward(self, *inputs):
            if len(inputs) == 1 and len(self.input_names) > 1:        # net([a, b]) or net({"a": a, ...})
                given = inputs[0]
                inputs = [given[k] for k in self.input_keys] if isinstance(given, dict) else list(given)
            if len(inputs) != len(self.input_names):
                raise TypeError(f"this module takes {len(self.input_names)} input(s) {self.input_keys}, "
                                f"got {len(inputs)}")
            values = dict(zip(self.input_names, inputs))
            for module_keys, input_names, takes_list, output_names in self.plan:
                x = [values[n] for n in input_names] if takes_list else values[input_names[0]]
                for key in module_keys:
                    x = self._modules[key](x)
                if len(output_names) == 1:
                    x = [x]
                values.update(zip(output_names, x.values() if isinstance(x, dict) else x))
            outputs = [values[n] for n in self.output_names]
            if self.output_kind == "dict":
                return dict(zip(self.output_keys, outputs))
            return outputs if self.output_kind == "list" else outputs[0]

    _HELPERS.update(Transpose=Transpose, Reduce=Reduce, Recurrent=Recurrent, Merge=Merge, Concat=Concat,
                    GraphModule=GraphModule)
    return _HELPERS


# Keras' gate blocks -> torch's: LSTM i, f, c, o is torch's i, f, g, o; GRU z, r, h -> r, z, n
_TORCH_GATES = {recurrent.LSTM: ("LSTM", [0, 1, 2, 3]), recurrent.GRU: ("GRU", [1, 0, 2]),
                recurrent.SimpleRNN: ("RNN", [0])}


def _convert_recurrent(layer, torch, dtype):
    cells = [layer.forward_layer, layer.backward_layer] if isinstance(layer, Bidirectional) else [layer]
    first = cells[0]
    kind, order = _TORCH_GATES[type(first)]
    rnn = getattr(torch.nn, kind)(layer.input_shape[-1], first.units, batch_first=True,
                                  bias=first.use_bias, bidirectional=len(cells) == 2, dtype=dtype)
    for cell, suffix in zip(cells, ("_l0", "_l0_reverse")):
        W, R, b_in, b_rec = walk.recurrent_arrays(cell)
        _copy(getattr(rnn, "weight_ih" + suffix), walk.gate_blocks(W, order, cell.gates))
        _copy(getattr(rnn, "weight_hh" + suffix), walk.gate_blocks(R, order, cell.gates))
        if cell.use_bias:
            _copy(getattr(rnn, "bias_ih" + suffix), walk.gate_blocks(b_in, order, cell.gates))
            _copy(getattr(rnn, "bias_hh" + suffix), walk.gate_blocks(b_rec, order, cell.gates))
            if not isinstance(cell, recurrent.GRU):
                # minigrad's LSTM and SimpleRNN have one bias, torch's two that add up: the second
                # stays zero and frozen, so both sides train the same parameters the same way
                getattr(rnn, "bias_hh" + suffix).requires_grad_(False)
    merge = getattr(layer, "merge_mode", "concat")
    return [("", _helpers(torch)["Recurrent"](rnn, layer.return_sequences, merge))]


def _convert_sequence_layer(layer, torch, dtype):
    nn, helpers = torch.nn, _helpers(torch)
    walk.check_sequence_layer(layer, WHO_OUT)
    if isinstance(layer, Embedding):
        embedding = nn.Embedding(layer.input_dim, layer.output_dim, dtype=dtype)
        _copy(embedding.weight, layer.embeddings.numpy())
        return [("", embedding)]
    if isinstance(layer, (recurrent._Recurrent, Bidirectional)):
        return _convert_recurrent(layer, torch, dtype)
    channels_first = [("_ncw", helpers["Transpose"](1, 2))]
    channels_last = [("_nwc", helpers["Transpose"](1, 2))]
    if isinstance(layer, Conv1D):
        before, after = time_padding(layer.input_shape[0], layer.kernel_size, layer.strides,
                                     layer.padding, layer.dilation_rate)
        conv = nn.Conv1d(layer.input_shape[1], layer.filters, layer.kernel_size, stride=layer.strides,
                         dilation=layer.dilation_rate, bias=layer.use_bias, dtype=dtype)
        _copy(conv.weight, layer.kernel.numpy().transpose(2, 1, 0))          # (F, C_in, k)
        if layer.use_bias:
            _copy(conv.bias, layer.bias.numpy())
        pad = [("_pad", nn.ConstantPad1d((before, after), 0.0))] if before or after else []
        return channels_first + pad + [("", conv)] + channels_last + _activation(layer, layer.output_shape, torch)
    if isinstance(layer, MaxPooling1D):
        before, after = time_padding(layer.input_shape[0], layer.pool_size, layer.strides, layer.padding)
        pad = [("_pad", nn.ConstantPad1d((before, after), float("-inf")))] if before or after else []
        return channels_first + pad + [("", nn.MaxPool1d(layer.pool_size, layer.strides))] + channels_last
    if isinstance(layer, AveragePooling1D) and layer.padding == "valid":
        return channels_first + [("", nn.AvgPool1d(layer.pool_size, layer.strides))] + channels_last
    if isinstance(layer, (GlobalMaxPooling1D, GlobalAveragePooling1D, GlobalMaxPooling2D,
                          GlobalAveragePooling2D)):
        axes = [1] if isinstance(layer, (GlobalMaxPooling1D, GlobalAveragePooling1D)) else list(layer.axes)
        how = "max" if isinstance(layer, (GlobalMaxPooling1D, GlobalMaxPooling2D)) else "mean"
        return [("", helpers["Reduce"](how, axes, layer.keepdims))]
    raise walk.UnsupportedLayer(
        f"{WHO_OUT}: {walk.describe(layer)} has no PyTorch counterpart here; supported: Dense, "
        "Conv2D, Conv2DTranspose, BatchNormalization, MaxPooling2D, UpSampling2D, ZeroPadding2D, "
        "Activation, LeakyReLU, Dropout, Flatten, Reshape, Embedding, Conv1D, MaxPooling1D, "
        "AveragePooling1D (valid), the global poolings, SimpleRNN, LSTM, GRU, Bidirectional, the merge "
        "layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate) and nested "
        "Sequential and functional models")


# ---------------------------------------------------------------------- torch -> minigrad

def _from_torch(layer):
    """[(state_dict entry, parameter, array from the entries -> minigrad layout)] of a layer."""
    if isinstance(layer, Dense):
        out = [("weight", layer.kernel, lambda e: e["weight"].T)]
    elif isinstance(layer, (Conv2D, Conv2DTranspose)):
        out = [("weight", layer.kernel, lambda e: e["weight"])]
    elif isinstance(layer, Conv1D):
        out = [("weight", layer.kernel, lambda e: e["weight"].transpose(2, 1, 0))]
    elif isinstance(layer, Embedding):
        return [("weight", layer.embeddings, lambda e: e["weight"])]
    elif isinstance(layer, BatchNormalization):
        # torch always has weight and bias; without scale/center they are the fixed 1 and 0
        return [("weight", layer.gamma if layer.scale else None, lambda e: e["weight"]),
                ("bias", layer.beta if layer.center else None, lambda e: e["bias"]),
                ("running_mean", layer.moving_mean, lambda e: e["running_mean"]),
                ("running_var", layer.moving_variance, lambda e: e["running_var"])]
    elif isinstance(layer, (recurrent._Recurrent, Bidirectional)):
        return _recurrent_from_torch(layer)
    else:
        return []
    if layer.use_bias:
        out.append(("bias", layer.bias, lambda e: e["bias"]))
    return out


def _recurrent_from_torch(layer):
    cells = [layer.forward_layer, layer.backward_layer] if isinstance(layer, Bidirectional) else [layer]
    out = []
    for cell, sfx in zip(cells, ("_l0", "_l0_reverse")):
        _, order = _TORCH_GATES[type(cell)]
        inverse = list(np.argsort(order))                                 # torch's blocks -> Keras'

        def keras(a, inverse=inverse, gates=cell.gates):
            return walk.gate_blocks(a, inverse, gates)

        out += [("weight_ih" + sfx, cell.kernel, lambda e, k=keras, s=sfx: k(e["weight_ih" + s]).T),
                ("weight_hh" + sfx, cell.recurrent_kernel, lambda e, k=keras, s=sfx: k(e["weight_hh" + s]).T)]
        if not cell.use_bias:
            continue
        if isinstance(cell, recurrent.GRU):                                # (2, 3*units): input, recurrent
            def bias(e, k=keras, s=sfx):
                return np.stack([k(e["bias_ih" + s]), k(e["bias_hh" + s])])
        else:                                                              # one bias: torch's two add up
            def bias(e, k=keras, s=sfx):
                return k(e["bias_ih" + s] + e["bias_hh" + s])
        out += [("bias_ih" + sfx, cell.bias, bias), ("bias_hh" + sfx, None, None)]
    return out


def _modules_of(state):
    """{module prefix: {entry: array}} of a state_dict, in its order ('dense.weight' -> 'dense')."""
    modules: dict = {}
    for key, value in state.items():
        prefix, _, entry = key.rpartition(".")
        if entry != "num_batches_tracked":                 # a counter torch keeps; nothing to load
            modules.setdefault(prefix, {})[entry] = value
    return modules


def from_torch_state_dict(model, state_dict) -> None:
    """Load a state_dict of the module to_torch made back into `model`, in place.

    The state_dict's modules are matched with the model's layers with weights in the order
    to_torch makes them (a functional model's in the order its graph first calls them, a
    shared layer once), as Keras' legacy files are matched, so a state_dict from to_torch of one model loads into a fresh copy of the
    same architecture whatever its layer names. Every weight is checked before any is
    copied: a missing or extra entry, or a shape that differs, raises naming the layer.
    """
    walk.require_built(model, WHO_IN)
    state = {k: v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
             for k, v in state_dict.items()}
    modules = list(_modules_of(state).items())
    layers = [layer for layer in walk.weighted_layers(model, WHO_IN) if _from_torch(layer)]
    if len(modules) != len(layers):
        raise ValueError(f"{WHO_IN}: the state_dict has weights for {len(modules)} modules "
                         f"({[m for m, _ in modules][:6]}...) but model '{model.name}' has "
                         f"{len(layers)} layers with weights (is it from to_torch of this architecture?)")
    plan = []
    for (prefix, entries), layer in zip(modules, layers):
        wanted = _from_torch(layer)
        if set(entries) != {entry for entry, _, _ in wanted}:
            raise KeyError(f"{WHO_IN}: module '{prefix}' of the state_dict has {sorted(entries)} but "
                           f"{walk.describe(layer)} needs {sorted(entry for entry, _, _ in wanted)}")
        for entry, param, to_minigrad in wanted:
            if param is None:                              # fixed in minigrad, or read with another entry
                continue
            array = to_minigrad(entries)
            if tuple(array.shape) != tuple(param.shape):
                raise ValueError(f"{WHO_IN}: '{prefix}.{entry}' has shape {tuple(entries[entry].shape)}, "
                                 f"which does not fit {walk.describe(layer)}, a weight of shape "
                                 f"{param.shape}")
            plan.append((param, array))
    for param, array in plan:
        assign(param, array)
