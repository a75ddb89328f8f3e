"""Functional models the interop tests convert (to PyTorch, to ONNX): each exercises a part of
the graph a converter must replay, and each has random weights far from zero everywhere
(biases and batch-norm statistics included), so that a weight not copied shows."""
import numpy as np

import minigrad as mg
from minigrad import nn
from minigrad.nn import (GRU, LSTM, AveragePooling1D, Bidirectional, Conv1D, Conv2D, Embedding,
                         GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                         MaxPooling1D, Sequential, SimpleRNN)


def residual():
    """Two inputs, two outputs (a dict): a residual Add, BatchNorm, pooling, a Dense of the
    second input reshaped into an image, Concatenate of flat features."""
    image, extra = nn.Input((2, 6, 6), name="image"), nn.Input((5,), name="extra")
    seed = nn.Reshape((2, 3, 3))(nn.Dense(18, name="seed")(extra))
    x = nn.Add()([image, nn.UpSampling2D()(seed)])
    x = nn.Conv2D(3, 3, padding="same", activation="relu", name="conv_a")(x)
    y = nn.BatchNormalization()(nn.Conv2D(3, 3, padding="same", name="conv_b")(x))
    x = nn.MaxPooling2D()(nn.Add(name="residual")([y, x]))
    h = nn.Concatenate()([nn.Dense(4, activation="relu")(extra), nn.Flatten()(x)])
    classes = nn.Dense(3, activation="softmax", name="classes")(h)
    score = nn.Dense(2, name="score")(h)
    return nn.Model([image, extra], {"classes": classes, "score": score}, name="residual")


def siamese():
    """A shared Dense called on two inputs and a nested functional model called twice (one set
    of weights each), Subtract, Concatenate along the features."""
    left, right = nn.Input((4,), name="left"), nn.Input((4,), name="right")
    shared = nn.Dense(3, activation="tanh", name="shared")
    inner_in = nn.Input((3,))
    encoder = nn.Model(inner_in, nn.Dense(2)(nn.Dense(5, activation="relu")(inner_in)), name="encoder")
    difference = nn.Subtract()([encoder(shared(left)), encoder(shared(right))])
    out = nn.Dense(1, activation="sigmoid", name="same")(nn.Concatenate()([difference, shared(left)]))
    return nn.Model([left, right], out, name="siamese")


def merges():
    """Every merge layer, Concatenate on the channel axis of images, a Sequential inside the
    functional model and a list of outputs."""
    a, b = nn.Input((2, 4, 4), name="a"), nn.Input((2, 4, 4), name="b")
    c = nn.Conv2D(2, 1, name="mix")(b)
    stack = [nn.Add()([a, b, c]), nn.Subtract()([a, c]), nn.Multiply()([a, b, c]),
             nn.Average()([a, c]), nn.Maximum()([a, b, c]), nn.Minimum()([b, c])]
    x = nn.Concatenate(axis=1)(stack)                         # (12, 4, 4)
    head = nn.Sequential([nn.Conv2D(3, 3, strides=2, padding="same", activation="tanh"), nn.Flatten(),
                          nn.Dense(4)], name="head")
    return nn.Model([a, b], [head(x), nn.GlobalAveragePooling2D()(x)], name="merges")


def in_sequential():
    """A functional block as a layer of a Sequential model."""
    x = nn.Input((6,))
    block = nn.Model(x, nn.Add()([x, nn.Dense(6, activation="relu")(x)]), name="block")
    return nn.Sequential([nn.Dense(6, input_shape=(4,)), block, nn.Dense(2)], name="outer")


def tokens():
    """Integer token ids in, through an Embedding, next to a float input."""
    ids, extra = nn.Input((5,), dtype="int64", name="ids"), nn.Input((3,), name="extra")
    h = nn.LSTM(4)(nn.Embedding(10, 3)(ids))
    return nn.Model([ids, extra], nn.Dense(2)(nn.Concatenate()([h, extra])), name="tokens")


MODELS = {"residual": residual, "siamese": siamese, "merges": merges, "in_sequential": in_sequential,
          "tokens": tokens}


def randomize(model, seed=0):
    """Every weight drawn afresh (biases and moving statistics away from 0 and 1 too)."""
    rng = np.random.default_rng(seed)
    weights = []
    for w in model.get_weights():
        if w.ndim == 1:
            weights.append(rng.uniform(0.5, 1.5, w.shape))     # biases, gamma/beta, moving mean/variance
        else:
            weights.append(rng.normal(0, 0.5, w.shape))
    model.set_weights(weights)
    return model


def inputs_for(model, rng, batch=3):
    """A batch for each input of the model, in order: token ids for integer inputs."""
    out = []
    for t in model.inputs:
        shape = (batch,) + tuple(t.shape[1:])
        out.append(rng.integers(0, 10, shape).astype("int64") if t.dtype.kind in "iu"
                   else rng.normal(size=shape).astype("float32"))
    return out


def as_list(outputs, model):
    """The outputs of predict (an array, a list or a dict) as a list in the model's order."""
    if isinstance(outputs, dict):
        return [outputs[name] for name in model.output_names]
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


# ---------------------------------------------------------------------- sequence models
# Each converter test picks the ones it supports (PyTorch's GRU is the reset_after=True form only).

SEQUENCE_MODELS = {
    "lstm": lambda: Sequential([LSTM(5, return_sequences=True, input_shape=(7, 4)), LSTM(3)]),
    "gru": lambda: Sequential([GRU(5, return_sequences=True, input_shape=(7, 4)), GRU(3, use_bias=False)]),
    "gru_reset_before": lambda: Sequential([GRU(5, return_sequences=True, input_shape=(7, 4)),
                                            GRU(3, reset_after=False)]),
    "simple_rnn": lambda: Sequential([SimpleRNN(5, return_sequences=True, input_shape=(7, 4)),
                                      GlobalAveragePooling1D()]),
    "bidirectional_concat": lambda: Sequential([Bidirectional(LSTM(3, return_sequences=True), input_shape=(7, 4)),
                                                Bidirectional(GRU(2))]),
    "bidirectional_concat_sum": lambda: Sequential([
        Bidirectional(LSTM(3, return_sequences=True), input_shape=(7, 4)),
        Bidirectional(GRU(2), merge_mode="sum")]),
    "bidirectional_ave_mul": lambda: Sequential([
        Bidirectional(GRU(3, return_sequences=True), merge_mode="ave", input_shape=(7, 4)),
        Bidirectional(LSTM(2), merge_mode="mul")]),
    "bidirectional_rnn_ave_mul_no_bias": lambda: Sequential([
        Bidirectional(SimpleRNN(3, return_sequences=True), merge_mode="ave", input_shape=(7, 4)),
        Bidirectional(LSTM(2, use_bias=False), merge_mode="mul")]),
    "conv1d": lambda: Sequential([Conv1D(5, 3, padding="causal", dilation_rate=2, activation="tanh", input_shape=(7, 4)),
                                  MaxPooling1D(2, padding="same"), Conv1D(4, 2, strides=2, padding="same"),
                                  AveragePooling1D(2, strides=1), GlobalMaxPooling1D()]),
    "conv1d_same_average": lambda: Sequential([
        Conv1D(5, 3, padding="causal", dilation_rate=2, activation="tanh", input_shape=(7, 4)),
        MaxPooling1D(2, padding="same"), Conv1D(4, 2, strides=2, padding="same"),
        AveragePooling1D(2, strides=1, padding="same"), GlobalMaxPooling1D()]),
    "embedding_lstm": lambda: Sequential([Embedding(10, 4, input_shape=(6,)), LSTM(3)]),
    "embedding_gru": lambda: Sequential([Embedding(10, 4, input_shape=(6,)), GRU(3)]),
    "global_2d": lambda: Sequential([Conv2D(4, 3, input_shape=(3, 5, 5)), GlobalMaxPooling2D(keepdims=True),
                                     GlobalAveragePooling2D()]),
}


def sequence_input(name, rng):
    if name.startswith("embedding"):
        return rng.integers(0, 10, (3, 6)).astype("int64")
    if name == "global_2d":
        return rng.normal(size=(2, 3, 5, 5)).astype("float32")
    return rng.normal(size=(3, 7, 4)).astype("float32")


def random_biases(model, rng):
    """Biases away from zero (the recurrent layers start with zeros but train them)."""
    for layer in model.modules():
        if getattr(layer, "use_bias", False) and isinstance(getattr(layer, "bias", None), mg.nn.Parameter):
            weights = layer.get_weights()
            weights[-1] = rng.normal(0, 0.5, weights[-1].shape)
            layer.set_weights(weights)
