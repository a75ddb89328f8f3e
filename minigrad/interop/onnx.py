"""ONNX out: export_onnx(model, path, input_shape) writes a Sequential or functional model as ONNX.

    from minigrad.interop import export_onnx
    export_onnx(gan.generator, "generator.onnx", input_shape=(100,))
    # then, anywhere ONNX Runtime runs:
    #   session = onnxruntime.InferenceSession("generator.onnx")
    #   images = session.run(None, {"input": z.astype("float32")})[0]

A model's one input is called "input" (shape (batch, *input_shape), the batch size left
free) and its one output "output". A functional model's several inputs are named after their
Input layers (e.g. "image", "extra"), its several outputs by model.output_names, in the
model's order. The graph is
the model's layer calls in topological order, nested models written out inline, a layer
called twice written twice on one set of weights. A Lambda layer, or an op applied to
symbolic tensors outside any layer, holds Python code that is not translated: it raises
naming it (write it with layers).

It computes the model in inference mode: Dropout is left out and BatchNormalization uses
its moving statistics. Layer by layer (opset 17):
    Dense              MatMul with the kernel (in, out), then Add of the bias
    Conv2D             Conv with explicit pads [top, left, bottom, right] ("same" as TF's)
    Conv2DTranspose    ConvTranspose; Keras' window of the full result as pads that crop and
                       output_padding that extends (kernel layout (in, out, kh, kw) as ONNX)
    BatchNormalization BatchNormalization(scale, bias, mean, var, epsilon)
    MaxPooling2D       MaxPool (its pads are never the maximum, like minigrad's -inf)
    UpSampling2D       Resize, nearest, asymmetric coordinates, floor: each pixel repeated
    ZeroPadding2D      Pad;  Flatten  Flatten(axis=1);  Reshape  Reshape to (-1, *shape)
    activations        Relu, Sigmoid, Tanh, Softplus, LeakyRelu, Softmax(axis)
    Embedding          Gather (the input is then int64 token ids)
    Conv1D, MaxPooling1D, AveragePooling1D   Conv / MaxPool / AveragePool between Transposes
    global poolings    ReduceMax / ReduceMean
    SimpleRNN, LSTM, GRU, Bidirectional      RNN / LSTM / GRU (gates reordered), merged as Keras
    Add, Subtract, Multiply, Average, Maximum, Minimum   Sum, Sub, Mul, Mean, Max, Min
    Concatenate        Concat(axis)
The paddings are those of input_shape (TF's "same" zeros depend on the image size), so the
exported graph is exact for images of that size.

The graph is built with onnx.helper and checked with onnx.checker before it is written
(atomically). onnx is an optional dependency, imported only here (pip install onnx; running
the file needs onnxruntime).
"""
from __future__ import annotations

import numpy as np

from ..training.files import atomic_write
from ..nn import (Activation, Add, Average, AveragePooling1D, BatchNormalization, Concatenate,
                  Maximum, Minimum, Multiply, Subtract, Bidirectional, Conv1D, Conv2D,
                  Conv2DTranspose, Dense, Dropout, Embedding, Flatten, GlobalAveragePooling1D,
                  GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D, LeakyReLU, MaxPooling1D,
                  MaxPooling2D, Reshape, UpSampling2D, ZeroPadding2D, recurrent)
from ..nn.conv1d import time_padding
from ..nn import walk

WHO = "export_onnx"
OPSET = 17
IR_VERSION = 8          # the IR version of opset 17, so older runtimes read the file too


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("minigrad.interop.export_onnx needs the onnx package: pip install onnx "
                          "(and onnxruntime to run the exported file)") from None
    return onnx


class _GraphBuilder:
    """Collects nodes and weights (initializers), handing out fresh tensor names."""

    def __init__(self, onnx, dtype):
        self.onnx, self.dtype = onnx, np.dtype(dtype)
        self.nodes, self.initializers = [], []
        self.used = set()           # tensor names taken (the graph's inputs and outputs first)
        self.owner = None           # the layer being written: its weights are written once
        self._weights = {}

    def reserve(self, names):
        """The graph's inputs and outputs keep these names: no other tensor gets them."""
        self.used.update(names)

    def output(self, x, name):
        """The graph's output `name` (reserved): an Identity of tensor x."""
        self.nodes.append(self.onnx.helper.make_node("Identity", [x], [name], name=name))

    def fresh(self, name):
        """`name`, or name_1, name_2, ... if a layer of the same name came before."""
        base, n = name, 1
        while name in self.used:
            name, n = f"{base}_{n}", n + 1
        self.used.add(name)
        return name

    def weight(self, name, array, dtype=None):
        """A constant tensor (a weight, a shape) in the graph; returns its name. A layer called
        twice (shared) gets its weights once: the second call finds them by layer and name."""
        key = (id(self.owner), name)
        if key in self._weights:
            return self._weights[key]
        array = np.ascontiguousarray(np.asarray(array, dtype=dtype or self.dtype))
        self._weights[key] = name = self.fresh(name)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op, inputs, name, **attributes):
        """Append one node; its output tensor is called `name` (made unique), which is returned."""
        return self.node_with_outputs(op, inputs, name, 1, **attributes)[0]

    def node_with_outputs(self, op, inputs, name, n_outputs, **attributes):
        """A node with several outputs (LSTM: Y, Y_h, Y_c): name, name_1, ... are returned."""
        names = [self.fresh(name)]
        names += [self.fresh(f"{names[0]}_{i}") for i in range(1, n_outputs)]
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), names, name=names[0], **attributes))
        return names


def export_onnx(model, path, input_shape=None, opset=OPSET):
    """Write the Sequential or functional `model` to `path` as ONNX; returns the path.

    input_shape   the per-sample input shape, NCHW for images: (1, 28, 28), (100,); a list
                  of them for a model of several inputs. It may be left out for a built
                  model (its input shape is used; a functional model is always built); for a
                  built model with a different shape it is an error, as the weights fix the
                  shapes. An unbuilt Sequential model is built for it.
    """
    onnx = _import_onnx()
    _build_for(model, input_shape)
    graph = _GraphBuilder(onnx, model.dtype)
    input_keys, steps, output_keys = walk.flat_calls(model, WHO)
    input_names, output_names = _io_names(model, len(input_keys), len(output_keys))
    graph.reserve(input_names + output_names)
    names = dict(zip(input_keys, input_names))                # tensor key -> its name in the graph
    for step in steps:
        graph.owner = step.layer
        if len(step.outputs) != 1:
            raise walk.UnsupportedLayer(f"{WHO}: {walk.describe(step.layer)} has {len(step.outputs)} "
                                        "outputs; only layers of one output are exported")
        x = [names[k] for k in step.inputs] if step.several_in else names[step.inputs[0]]
        names[step.outputs[0]] = _emit(step.layer, x, graph)
    for key, name in zip(output_keys, output_names):         # the graph's outputs get their names
        graph.output(names[key], name)
    elem = onnx.helper.np_dtype_to_tensor_dtype(graph.dtype)
    token_ids = {k for step in steps if step.layer.accepts_integer_input for k in step.inputs}
    if walk.is_functional(model):
        token_ids |= {k for k, t in zip(input_keys, model.inputs) if t.dtype.kind in "iub"}
    shapes_in = model.input_shape if isinstance(model.input_shape, list) else [model.input_shape]
    shapes_out = model.output_shape if isinstance(model.output_shape, list) else [model.output_shape]
    inputs = [onnx.helper.make_tensor_value_info(name, onnx.TensorProto.INT64 if key in token_ids else elem,
                                                 ["batch", *shape])
              for key, name, shape in zip(input_keys, input_names, shapes_in)]
    outputs = [onnx.helper.make_tensor_value_info(name, elem, ["batch", *shape])
               for name, shape in zip(output_names, shapes_out)]
    proto = onnx.helper.make_model(
        onnx.helper.make_graph(graph.nodes, model.name, inputs, outputs, graph.initializers),
        opset_imports=[onnx.helper.make_opsetid("", opset)], producer_name="minigrad")
    proto.ir_version = IR_VERSION
    onnx.checker.check_model(proto, full_check=True)
    return atomic_write(path, lambda f: f.write(proto.SerializeToString()))


def _io_names(model, n_in, n_out):
    """"input" / "output" for one; the model's own input and output names for several."""
    def unique(names):
        out = []
        for name in names:
            base, n = str(name), 1
            while name in out:
                name, n = f"{base}_{n}", n + 1
            out.append(name)
        return out
    functional = walk.is_functional(model)
    inputs = ["input"] if n_in == 1 else unique(model._input_keys if functional else [])
    outputs = ["output"] if n_out == 1 else unique(model.output_names)
    if set(inputs) & set(outputs):                            # an input and an output of one name
        outputs = [f"{name}_output" for name in outputs]
    return inputs, outputs


def _build_for(model, input_shape):
    if input_shape is None:
        walk.require_built(model, WHO)
        return
    several = isinstance(input_shape, list) and len(input_shape) > 0 and \
        all(isinstance(s, (list, tuple)) for s in input_shape)
    given = [tuple(int(n) for n in s) for s in input_shape] if several else tuple(int(n) for n in input_shape)
    if walk.is_functional(model):
        own = model.input_shape

        def fits(a, b):
            return len(a) == len(b) and all(m is None or m == n for m, n in zip(a, b))
        ok = isinstance(own, list) == several and (
            all(fits(a, b) for a, b in zip(own, given)) and len(own) == len(given) if several else fits(own, given))
        if not ok:
            raise ValueError(f"{WHO}: functional model '{model.name}' takes per-sample input(s) {own}, "
                             f"not input_shape={input_shape}; leave input_shape out (the model's own "
                             "shapes are used)")
        return
    if several:
        raise ValueError(f"{WHO}: Sequential model '{model.name}' has one input; give one shape, "
                         f"not {input_shape}")
    if model.built and tuple(model.input_shape) != given:
        raise ValueError(f"{WHO}: model '{model.name}' is built for per-sample input "
                         f"{tuple(model.input_shape)}, not input_shape={given}; export it "
                         "with its own input shape (or leave input_shape out)")
    model.build_for(given)


def _activation(layer, x, graph):
    name = walk.activation_name(layer, WHO)
    out = f"{layer.name}_{name}"
    if name == "linear":
        return x
    if name == "leaky_relu":
        return graph.node("LeakyRelu", [x], out, alpha=0.2)       # Keras' activation="leaky_relu"
    if name == "softmax":
        return graph.node("Softmax", [x], out, axis=walk.softmax_axis(layer.output_shape))
    op = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus"}[name]
    return graph.node(op, [x], out)


def _onnx_pads(pads):
    """((top, bottom), (left, right)) -> ONNX's [top, left, bottom, right]."""
    (top, bottom), (left, right) = pads
    return [int(top), int(left), int(bottom), int(right)]


_MERGES = {Add: "Sum", Multiply: "Mul", Average: "Mean", Maximum: "Max", Minimum: "Min"}


def _emit_merge(layer, xs, graph):
    """The merge layers: ONNX's variadic Sum/Mean/Max/Min broadcast as minigrad's merges do;
    Mul and Sub take two inputs, so a product of several is a chain."""
    name = layer.name
    if isinstance(layer, Concatenate):
        return graph.node("Concat", xs, name, axis=layer._per_sample_axis(len(layer.input_shape[0])) + 1)
    if isinstance(layer, Subtract):
        return graph.node("Sub", xs, name)
    op = _MERGES[type(layer)]
    if op != "Mul":
        return graph.node(op, xs, name)
    out = xs[0]
    for i, x in enumerate(xs[1:]):
        out = graph.node("Mul", [out, x], name if i == len(xs) - 2 else f"{name}_{i}")
    return out


def _emit(layer, x, graph):
    """Append the nodes computing `layer` on tensor `x` (a list of names for a merge); returns
    the name of the result."""
    name = layer.name
    if isinstance(layer, (Concatenate, Subtract, *_MERGES)):
        return _emit_merge(layer, x, graph)
    if isinstance(layer, Dense):
        y = graph.node("MatMul", [x, graph.weight(f"{name}.kernel", layer.kernel.numpy())], f"{name}_matmul")
        if layer.use_bias:
            y = graph.node("Add", [y, graph.weight(f"{name}.bias", layer.bias.numpy())], f"{name}_add")
        return _activation(layer, y, graph)
    if isinstance(layer, (Conv2D, Conv2DTranspose)):
        inputs = [x, graph.weight(f"{name}.kernel", layer.kernel.numpy())]
        if layer.use_bias:
            inputs.append(graph.weight(f"{name}.bias", layer.bias.numpy()))
        common = dict(kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
                      dilations=list(layer.dilation_rate))
        if isinstance(layer, Conv2D):
            y = graph.node("Conv", inputs, f"{name}_conv", pads=_onnx_pads(walk.conv_pads(layer)), **common)
        else:
            crops, extra = walk.deconv_crops(layer)
            y = graph.node("ConvTranspose", inputs, f"{name}_deconv", pads=_onnx_pads(crops),
                           output_padding=list(extra), **common)
        return _activation(layer, y, graph)
    if isinstance(layer, BatchNormalization):
        channels = layer.input_shape[0]
        gamma = layer.gamma.numpy() if layer.scale else np.ones(channels)
        beta = layer.beta.numpy() if layer.center else np.zeros(channels)
        stats = [graph.weight(f"{name}.gamma", gamma), graph.weight(f"{name}.beta", beta),
                 graph.weight(f"{name}.moving_mean", layer.moving_mean.numpy()),
                 graph.weight(f"{name}.moving_variance", layer.moving_variance.numpy())]
        return graph.node("BatchNormalization", [x, *stats], name, epsilon=layer.epsilon)
    if isinstance(layer, Activation):
        return _activation(layer, x, graph)
    if isinstance(layer, LeakyReLU):
        return graph.node("LeakyRelu", [x], name, alpha=layer.alpha)
    if isinstance(layer, Dropout):
        return x                                                   # inference: the identity
    if isinstance(layer, Flatten):
        return graph.node("Flatten", [x], name, axis=1)
    if isinstance(layer, Reshape):
        shape = graph.weight(f"{name}.shape", [-1, *layer.output_shape], dtype=np.int64)
        return graph.node("Reshape", [x, shape], name)
    if isinstance(layer, MaxPooling2D):
        return graph.node("MaxPool", [x], name, kernel_shape=list(layer.pool_size),
                          strides=list(layer.strides), pads=_onnx_pads(walk.pool_pads(layer)))
    if isinstance(layer, UpSampling2D):
        scales = graph.weight(f"{name}.scales", [1, 1, *layer.size], dtype=np.float32)
        return graph.node("Resize", [x, "", scales], name, mode="nearest",
                          coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    if isinstance(layer, ZeroPadding2D):
        (top, bottom), (left, right) = layer.padding
        pads = graph.weight(f"{name}.pads", [0, 0, top, left, 0, 0, bottom, right], dtype=np.int64)
        return graph.node("Pad", [x, pads], name, mode="constant")
    return _emit_sequence_layer(layer, x, graph)


# ---------------------------------------------------------------------- sequences (batch, time, ...)

def _channels_first(x, graph, name):
    """(batch, time, channels) <-> (batch, channels, time): ONNX's 1-D Conv/pools want the latter."""
    return graph.node("Transpose", [x], name, perm=[0, 2, 1])


# Keras' gate order -> ONNX's: LSTM i, f, c, o -> i, o, f, c; GRU z, r, h is ONNX's own order
_ONNX_GATES = {recurrent.LSTM: ("LSTM", [0, 3, 1, 2]), recurrent.GRU: ("GRU", [0, 1, 2]),
               recurrent.SimpleRNN: ("RNN", [0])}


def _emit_recurrent(layer, x, graph):
    """ONNX LSTM / GRU / RNN (both directions for Bidirectional) on (batch, time, features)."""
    name = layer.name
    cells = [layer.forward_layer, layer.backward_layer] if isinstance(layer, Bidirectional) else [layer]
    op, order = _ONNX_GATES[type(cells[0])]
    gates, units = cells[0].gates, cells[0].units
    Ws, Rs, Bs = [], [], []
    for cell in cells:
        W, R, b_in, b_rec = walk.recurrent_arrays(cell)
        Ws.append(walk.gate_blocks(W, order, gates))
        Rs.append(walk.gate_blocks(R, order, gates))
        Bs.append(np.concatenate([walk.gate_blocks(b_in, order, gates), walk.gate_blocks(b_rec, order, gates)]))
    attributes = dict(hidden_size=units, direction="bidirectional" if len(cells) == 2 else "forward")
    if op == "GRU":
        attributes["linear_before_reset"] = int(cells[0].reset_after)
    time_major = graph.node("Transpose", [x], f"{name}_time_major", perm=[1, 0, 2])
    inputs = [time_major, graph.weight(f"{name}.W", np.stack(Ws)), graph.weight(f"{name}.R", np.stack(Rs)),
              graph.weight(f"{name}.B", np.stack(Bs))]
    y, y_h = graph.node_with_outputs(op, inputs, f"{name}_{op.lower()}", 2, **attributes)[:2]
    directions = len(cells)
    if layer.return_sequences:        # Y (time, directions, batch, units) -> (batch, time, directions, units)
        out, axis = graph.node("Transpose", [y], f"{name}_sequence", perm=[2, 0, 1, 3]), 2
    else:                             # Y_h (directions, batch, units) -> (batch, directions, units)
        out, axis = graph.node("Transpose", [y_h], f"{name}_last", perm=[1, 0, 2]), 1
    merge = getattr(layer, "merge_mode", "concat")
    if merge == "concat":             # [forward, backward] side by side, as Keras' concat
        shape = graph.weight(f"{name}.shape", [0] * axis + [directions * units], dtype=np.int64)
        return graph.node("Reshape", [out, shape], name)
    reduce = {"sum": "ReduceSum", "ave": "ReduceMean", "mul": "ReduceProd"}[merge]
    if reduce == "ReduceSum":         # opset 13+: ReduceSum takes its axes as an input
        return graph.node(reduce, [out, graph.weight(f"{name}.axes", [axis], dtype=np.int64)], name, keepdims=0)
    return graph.node(reduce, [out], name, axes=[axis], keepdims=0)


def _emit_sequence_layer(layer, x, graph):
    name = layer.name
    walk.check_sequence_layer(layer, WHO)
    if isinstance(layer, Embedding):
        return graph.node("Gather", [graph.weight(f"{name}.embeddings", layer.embeddings.numpy()), x],
                          name, axis=0)
    if isinstance(layer, (recurrent._Recurrent, Bidirectional)):
        return _emit_recurrent(layer, x, graph)
    if isinstance(layer, Conv1D):
        before, after = time_padding(layer.input_shape[0], layer.kernel_size, layer.strides,
                                     layer.padding, layer.dilation_rate)
        inputs = [_channels_first(x, graph, f"{name}_ncw"),
                  graph.weight(f"{name}.kernel", layer.kernel.numpy().transpose(2, 1, 0))]   # (F, C_in, k)
        if layer.use_bias:
            inputs.append(graph.weight(f"{name}.bias", layer.bias.numpy()))
        y = graph.node("Conv", inputs, f"{name}_conv", kernel_shape=[layer.kernel_size],
                       strides=[layer.strides], dilations=[layer.dilation_rate], pads=[before, after])
        return _activation(layer, _channels_first(y, graph, f"{name}_nwc"), graph)
    if isinstance(layer, (MaxPooling1D, AveragePooling1D)):
        before, after = time_padding(layer.input_shape[0], layer.pool_size, layer.strides, layer.padding)
        common = dict(kernel_shape=[layer.pool_size], strides=[layer.strides], pads=[before, after])
        if isinstance(layer, AveragePooling1D):
            op, common["count_include_pad"] = "AveragePool", 0        # Keras averages real steps only
        else:
            op = "MaxPool"
        y = graph.node(op, [_channels_first(x, graph, f"{name}_ncw")], f"{name}_pool", **common)
        return _channels_first(y, graph, name)
    if isinstance(layer, (GlobalMaxPooling1D, GlobalAveragePooling1D, GlobalMaxPooling2D,
                          GlobalAveragePooling2D)):
        axes = [1] if isinstance(layer, (GlobalMaxPooling1D, GlobalAveragePooling1D)) else list(layer.axes)
        op = "ReduceMax" if isinstance(layer, (GlobalMaxPooling1D, GlobalMaxPooling2D)) else "ReduceMean"
        return graph.node(op, [x], name, axes=axes, keepdims=int(layer.keepdims))
    raise walk.UnsupportedLayer(
        f"{WHO}: {walk.describe(layer)} has no ONNX rule here; supported: Dense, Conv2D, "
        "Conv2DTranspose, BatchNormalization, MaxPooling2D, UpSampling2D, ZeroPadding2D, "
        "Activation, LeakyReLU, Dropout, Flatten, Reshape, Embedding, Conv1D, MaxPooling1D, "
        "AveragePooling1D, the global poolings, SimpleRNN, LSTM, GRU, Bidirectional, the merge layers "
        "(Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate) and nested Sequential and "
        "functional models")
