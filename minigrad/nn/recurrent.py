"""Recurrent layers: SimpleRNN, LSTM, GRU and the Bidirectional wrapper (Keras 3 layouts).

Sequences are (batch, time, features). A recurrent layer runs one cell step per time step,
carrying a state from step to step:

    h_0 = 0 (or initial_state)
    for t in 0 .. T-1:   h_t = cell(x_t, h_{t-1})          (LSTM also carries a cell state c)

Every step is written with ordinary ops (linear, matmul, slicing, sigmoid, tanh, *, +), so
the autograd graph is the unrolled loop and its backward is backpropagation through time:
the gradient of h_t flows into step t's ops, from them into h_{t-1}, and so on back to
h_0. One node has a backward of its own, LSTMCell (the LSTM's gates and state update fused,
with the default activations), whose backward is written in Tensor ops; everything else is
composed, so gradients of gradients work throughout.

Weights follow Keras 3, with k gate blocks side by side along the last axis:
    kernel            (input_dim, k*units)    glorot_uniform
    recurrent_kernel  (units, k*units)        orthogonal
    bias              (k*units,)              zeros (LSTM: ones for the forget gate)
                      GRU with reset_after=True: (2, 3*units), input and recurrent biases
    SimpleRNN k = 1;  LSTM k = 4, gates i, f, c, o;  GRU k = 3, gates z, r, h.

Options shared by all three (Keras names and defaults):
    return_sequences  output every step's h, (batch, time, units), instead of the last one
    return_state      also return the final state(s): [output, h] or, for LSTM, [output, h, c]
    go_backwards      read the sequence from its end; the sequence output stays in that
                      reversed order, as in Keras
    dropout           dropout of the inputs x_t, recurrent_dropout of h_{t-1} where it enters
                      the recurrent product; one mask per sequence (the same at every step),
                      training only (Gal & Ghahramani, 2016, as Keras)
    initial_state     layer(x, initial_state=[h0]) or [h0, c0] for LSTM
    masking           a mask (batch, time) from Embedding(mask_zero=True), or mask=: at a
                      masked step the state is carried over unchanged, and the output is the
                      previous output (Keras' default; zero_output_for_mask=True gives zeros)
"""
from __future__ import annotations

from ..engine import backend
from ..engine import functional as F
from ..engine.function import Function, constant
from ..engine.ops.movement import concat, stack
from ..engine.tensor import Tensor, zeros
from . import activations
from .embedding import attach_mask, mask_of
from .initializers import orthogonal
from .module import Module, _as_shape


# ---------------------------------------------------------------------- initialisers

def _forget_bias_ones(units):
    """LSTM bias with unit_forget_bias: zeros, except ones for the forget gate (block 2 of 4)."""
    def init(shape, dtype, device, fans=None):
        with backend.device_context(device):
            b = backend.xp_for(device).zeros(shape, dtype=dtype)
            b[units:2 * units] = 1
        return b
    return init


def _dropout_mask(shape, rate, like: Tensor) -> Tensor:
    """A fixed inverted-dropout mask: 0 with probability rate, else 1/(1 - rate)."""
    with backend.device_context(like.device):
        keep = backend.generator(like.device).random(shape, dtype=like.dtype) >= rate
    return constant(keep.astype(like.dtype) * (1.0 / (1.0 - rate)))


def _blocks(z: Tensor, k: int):
    """Split (batch, k*units) into k tensors (batch, units): the gate pre-activations."""
    units = z.shape[-1] // k
    return [z[:, i * units:(i + 1) * units] for i in range(k)]


class LSTMCell(Function):
    """The LSTM's gates and state update as one node: (z, c_prev) -> [h, c] side by side.

        i, f, o = sigmoid(z_i, z_f, z_o),  g = tanh(z_c)       (z = x_t W + h_{t-1} U + b)
        c = f * c_prev + i * g,            h = o * tanh(c)
    The same math as LSTM's composed step, in 1 node instead of 12 (the walk's per-node
    cost was most of the LSTM's time at batch 64, units 128). With gh, gc = dL/dh, dL/dc
    and dc = gc + gh * o * (1 - tanh(c)^2), the total gradient reaching c:
        dL/dz_i = dc * g * i (1 - i)          dL/dz_f = dc * c_prev * f (1 - f)
        dL/dz_c = dc * i * (1 - g^2)          dL/dz_o = gh * tanh(c) * o (1 - o)
        dL/dc_prev = dc * f
    sigmoid(x) is computed as (1 + tanh(x/2)) / 2: the same function, and no exp to overflow.
    backward writes the formula with Tensor ops from the inputs (so gradients of gradients
    work); backward_arrays is the same formula on the saved gates, used when not recorded.
    """

    def forward(self, z, c_prev):
        xp = backend.xp_of(z)
        units = c_prev.shape[-1]
        gates = xp.tanh(z * 0.5) * 0.5 + 0.5                      # i, f, -, o as sigmoids
        g = xp.tanh(z[:, 2 * units:3 * units])
        i, f, o = gates[:, :units], gates[:, units:2 * units], gates[:, 3 * units:]
        c = f * c_prev + i * g
        tanh_c = xp.tanh(c)
        self.saved = (i, f, g, o, tanh_c)
        return xp.concatenate([o * tanh_c, c], axis=1)

    def backward(self, grad):
        z, c_prev = self.inputs
        z_i, z_f, z_c, z_o = _blocks(z, 4)
        i, f, g, o = F.sigmoid(z_i), F.sigmoid(z_f), F.tanh(z_c), F.sigmoid(z_o)
        tanh_c = F.tanh(f * c_prev + i * g)
        units = c_prev.shape[-1]
        gh, gc = grad[:, :units], grad[:, units:]
        dc = gc + gh * o * (1 - tanh_c * tanh_c)
        dz = concat([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                     dc * i * (1 - g * g), gh * tanh_c * o * (1 - o)], axis=1)
        return dz, dc * f

    def backward_arrays(self, grad):
        xp = backend.xp_of(grad)
        i, f, g, o, tanh_c = self.saved
        units = i.shape[-1]
        c_prev = self.inputs[1].data
        gh, gc = grad[:, :units], grad[:, units:]
        dc = gc + gh * o * (1 - tanh_c * tanh_c)
        dz = xp.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                             dc * i * (1 - g * g), gh * tanh_c * o * (1 - o)], axis=1)
        return dz, dc * f


# ---------------------------------------------------------------------- the loop

class _Recurrent(Module):
    """What SimpleRNN, LSTM and GRU share: arguments, weights, the loop over time.

    Subclasses set `gates` (k) and `state_count`, and write step(x_t, states, weights) -> new
    states, with the output being the first state (h).
    """
    gates = 1
    state_count = 1
    state_names = ("h",)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False,
                 zero_output_for_mask=False, input_shape=None, name=None, trainable=True):
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        layer = type(self).__name__
        if int(units) != units or int(units) < 1:
            raise ValueError(f"{layer}: units must be a positive integer, got {units!r}")
        for what, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0 <= rate < 1:
                raise ValueError(f"{layer}: {what} must be in [0, 1), got {rate}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = orthogonal if recurrent_initializer == "orthogonal" \
            else recurrent_initializer
        self.bias_initializer = bias_initializer
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self._config = dict(units=units, activation=activation,
                            recurrent_activation=recurrent_activation, use_bias=use_bias,
                            kernel_initializer=kernel_initializer,
                            recurrent_initializer=recurrent_initializer,
                            bias_initializer=bias_initializer, dropout=dropout,
                            recurrent_dropout=recurrent_dropout, return_sequences=return_sequences,
                            return_state=return_state, go_backwards=go_backwards,
                            zero_output_for_mask=zero_output_for_mask, trainable=trainable)

    def clone(self, **changes):
        """A new, unbuilt layer of the same kind and settings (Bidirectional makes two)."""
        return type(self)(**{**self._config, **changes})

    # ------------------------------------------------------------------ shapes and weights
    def _check_sequence_shape(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} layer '{self.name}' needs sequences of shape "
                             f"(batch, time, features) with a known number of features; got "
                             f"per-sample shape {tuple(input_shape)}")

    def bias_shape(self):
        return (self.gates * self.units,)

    def bias_init(self):
        return self.bias_initializer

    def build(self, input_shape):
        self._check_sequence_shape(input_shape)
        n_in, k_units = input_shape[-1], self.gates * self.units
        self.kernel = self.add_weight((n_in, k_units), self.kernel_initializer, fans=(n_in, k_units))
        self.recurrent_kernel = self.add_weight((self.units, k_units), self.recurrent_initializer,
                                                fans=(self.units, k_units))
        if self.use_bias:
            self.bias = self.add_weight(self.bias_shape(), self.bias_init())

    def compute_output_shape(self, input_shape):
        self._check_sequence_shape(input_shape)
        time = input_shape[0]
        out = (time, self.units) if self.return_sequences else (self.units,)
        if self.return_state:
            return [out] + [(self.units,)] * self.state_count
        return out

    def build_for(self, input_shape):
        if not self.return_state:
            return super().build_for(input_shape)
        if not self.built:               # Module.build_for keeps one output shape, not a list:
            self.return_state = False    # build as a one-output layer, then record the list
            try:
                super().build_for(input_shape)
            finally:
                self.return_state = True
            self.output_shape = self.compute_output_shape(_as_shape(input_shape))
        return self.output_shape

    def expected_input_shape(self):
        return None if not self.built else (None, self.input_shape[-1])

    # ------------------------------------------------------------------ the loop over time
    def _initial_states(self, x, initial_state):
        batch = x.shape[0]
        if initial_state is None:
            return [zeros(batch, self.units, dtype=x.dtype, device=x.device)
                    for _ in range(self.state_count)]
        states = [initial_state] if isinstance(initial_state, Tensor) else list(initial_state)
        if len(states) != self.state_count:
            raise ValueError(f"{type(self).__name__} layer '{self.name}': initial_state needs "
                             f"{self.state_count} tensor(s) {list(self.state_names)}, got {len(states)}")
        states = [s if isinstance(s, Tensor) else Tensor(s, dtype=x.dtype, device=x.device)
                  for s in states]
        for name, s in zip(self.state_names, states):
            if s.shape != (batch, self.units):
                raise ValueError(f"{type(self).__name__} layer '{self.name}': initial state {name} "
                                 f"has shape {s.shape}, expected (batch, units) = {(batch, self.units)}")
        return states

    def _time_mask(self, x, mask):
        """The mask as float (time, batch, 1), or None; checks its shape."""
        if mask is None:
            return None
        mask = mask if isinstance(mask, Tensor) else Tensor(backend.np.asarray(mask), device=x.device)
        if mask.shape != x.shape[:2]:
            raise ValueError(f"{type(self).__name__} layer '{self.name}': mask of shape {mask.shape} "
                             f"does not match the (batch, time) = {x.shape[:2]} of its input")
        m = mask.data.astype(x.dtype).T.reshape(x.shape[1], x.shape[0], 1)
        return constant(m)

    def forward(self, x, initial_state=None, mask=None):
        if x.ndim != 3:
            raise ValueError(f"{type(self).__name__} layer '{self.name}' needs input of shape "
                             f"(batch, time, features), got {x.shape}")
        batch, time = x.shape[0], x.shape[1]
        if time == 0:
            raise ValueError(f"{type(self).__name__} layer '{self.name}': the sequence is empty "
                             f"(input shape {x.shape}); it needs at least one time step")
        in_mask = mask if mask is not None else mask_of(x)
        step_mask = self._time_mask(x, in_mask)
        states = self._initial_states(x, initial_state)
        training = self.training
        x_drop = _dropout_mask((batch, x.shape[2]), self.dropout, x) \
            if training and self.dropout > 0 else None
        h_drop = _dropout_mask((batch, self.units), self.recurrent_dropout, x) \
            if training and self.recurrent_dropout > 0 else None
        weights = self.step_weights()

        x_by_time = x.transpose(1, 0, 2)                      # (time, batch, features)
        kernel, input_bias = self.input_weights(weights)
        steps = range(time - 1, -1, -1) if self.go_backwards else range(time)
        outputs = []
        for t in steps:
            # x_t W + b per step. (One product for all steps before the loop was measured
            # 1.5x slower on LSTM(128) over 50 steps, fwd + bwd: each step's slice of it sends
            # back a zero-padded gradient the size of the whole sequence, and the walk adds
            # 50 of them up.)
            x_t = x_by_time[t]
            if x_drop is not None:
                x_t = x_t * x_drop
            new = self.step(F.linear(x_t, kernel, input_bias), states, weights, h_drop)
            if step_mask is None:
                out = new[0]
            else:                                             # masked: keep the old state
                m = step_mask[t]
                new = [m * n + (1 - m) * s for n, s in zip(new, states)]
                out = new[0] * m if self.zero_output_for_mask else new[0]
            states = new
            outputs.append(out)

        output = stack(outputs, axis=1) if self.return_sequences else outputs[-1]
        if self.return_sequences:
            attach_mask(output, in_mask)
        return [output] + states if self.return_state else output

    def step_weights(self):
        """Weights in the form step() uses them, prepared once per sequence."""
        return self.kernel, self.recurrent_kernel, (self.bias if self.use_bias else None)

    def input_weights(self, weights):
        """(kernel, bias) of the input projection x_t W + b that step() receives as xw_t."""
        W, _, b = weights
        return W, b

    def __repr__(self):
        return f"{type(self).__name__}({self.units}, name='{self.name}')"


# ---------------------------------------------------------------------- the three cells

class SimpleRNN(_Recurrent):
    """The plain recurrent layer (Elman network):

        h_t = tanh(x_t W + h_{t-1} U + b)

    SimpleRNN(units, activation="tanh", use_bias=True, dropout=0., recurrent_dropout=0.,
              return_sequences=False, return_state=False, go_backwards=False)
    W = kernel (input_dim, units), U = recurrent_kernel (units, units), b = bias (units,).
    """
    gates, state_count, state_names = 1, 1, ("h",)

    def step(self, xw_t, states, weights, h_drop=None):
        """xw_t = x_t W + b (input_weights), computed by the loop."""
        U = weights[1]
        h = states[0]
        h_in = h if h_drop is None else h * h_drop
        return [self.activation(xw_t + h_in @ U)]


class LSTM(_Recurrent):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997; forget gate: Gers et al., 2000).

        z_t = x_t W + h_{t-1} U + b                  split into four blocks, in Keras' order:
        i = sigmoid(z_i)        input gate:  how much of the candidate to write
        f = sigmoid(z_f)        forget gate: how much of the old cell state to keep
        g = tanh(z_c)           the candidate cell state
        o = sigmoid(z_o)        output gate: how much of the cell to show
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)

    LSTM(units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
         unit_forget_bias=True, dropout=0., recurrent_dropout=0., return_sequences=False,
         return_state=False, go_backwards=False)
    kernel (input_dim, 4*units), recurrent_kernel (units, 4*units), bias (4*units,); the
    forget gate's bias starts at 1 (unit_forget_bias, Jozefowicz et al., 2015).
    The state is [h, c]; return_state gives [output, h, c].
    """
    gates, state_count, state_names = 4, 2, ("h", "c")

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        self._config["unit_forget_bias"] = unit_forget_bias

    def bias_init(self):
        if self.unit_forget_bias and self.bias_initializer == "zeros":
            return _forget_bias_ones(self.units)
        return self.bias_initializer

    def step(self, xw_t, states, weights, h_drop=None):
        """xw_t = x_t W + b (input_weights), computed by the loop."""
        U = weights[1]
        h, c = states
        h_in = h if h_drop is None else h * h_drop
        z = xw_t + h_in @ U
        if self.activation is F.tanh and self.recurrent_activation is F.sigmoid:
            h_and_c = LSTMCell.apply(z, c)                # Keras' default activations: one node
            return [h_and_c[:, :self.units], h_and_c[:, self.units:]]
        z_i, z_f, z_c, z_o = _blocks(z, 4)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        g = self.activation(z_c)
        o = self.recurrent_activation(z_o)
        c = f * c + i * g
        h = o * self.activation(c)
        return [h, c]


class GRU(_Recurrent):
    """Gated recurrent unit (Cho et al., 2014), Keras 3's default form (reset_after=True):

        x_z, x_r, x_h = split(x_t W + b_in)            (three blocks, order z, r, h)
        u_z, u_r, u_h = split(h_{t-1} U + b_rec)
        z = sigmoid(x_z + u_z)          update gate: how much of the old state to keep
        r = sigmoid(x_r + u_r)          reset gate: how much of the old state the candidate sees
        g = tanh(x_h + r * u_h)         the candidate state
        h_t = z * h_{t-1} + (1 - z) * g

    With reset_after=False (the original paper's form, older Keras) the reset gate is applied
    before the product: g = tanh(x_h + (r * h_{t-1}) U_h), and the bias is one (3*units,).
    This is also the form of PyTorch's nn.GRU (reset_after=True), up to the gate order.

    GRU(units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
        reset_after=True, dropout=0., recurrent_dropout=0., return_sequences=False,
        return_state=False, go_backwards=False)
    kernel (input_dim, 3*units), recurrent_kernel (units, 3*units), bias (2, 3*units).
    """
    gates, state_count, state_names = 3, 1, ("h",)

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)
        self._config["reset_after"] = reset_after

    def bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def step_weights(self):
        W, U, b = self.kernel, self.recurrent_kernel, (self.bias if self.use_bias else None)
        u = self.units
        if self.reset_after:
            b_in, b_rec = (None, None) if b is None else (b[0], b[1])
            return W, U, b_in, b_rec
        return W, U[:, :2 * u], U[:, 2 * u:], b

    def input_weights(self, weights):
        W, b = weights[0], weights[2 if self.reset_after else 3]
        return W, b

    def step(self, xw_t, states, weights, h_drop=None):
        """xw_t = x_t W + b_in (input_weights), computed by the loop."""
        h = states[0]
        h_in = h if h_drop is None else h * h_drop
        x_z, x_r, x_h = _blocks(xw_t, 3)
        if self.reset_after:
            _, U, _, b_rec = weights
            u_z, u_r, u_h = _blocks(F.linear(h_in, U, b_rec), 3)
            z = self.recurrent_activation(x_z + u_z)
            r = self.recurrent_activation(x_r + u_r)
            g = self.activation(x_h + r * u_h)
        else:
            _, U_zr, U_h, _ = weights
            u_z, u_r = _blocks(h_in @ U_zr, 2)
            z = self.recurrent_activation(x_z + u_z)
            r = self.recurrent_activation(x_r + u_r)
            g = self.activation(x_h + (r * h_in) @ U_h)
        return [z * h + (1 - z) * g]


# ---------------------------------------------------------------------- Bidirectional

_MERGE_MODES = ("concat", "sum", "ave", "mul", None)


class Bidirectional(Module):
    """Runs a recurrent layer forwards and a copy of it backwards over the sequence, and merges.

    Bidirectional(layer, merge_mode="concat"|"sum"|"ave"|"mul"|None, backward_layer=None)
      forward_layer   a fresh copy of `layer`, reading t = 0 .. T-1
      backward_layer  a fresh copy with go_backwards flipped, reading t = T-1 .. 0; with
                      return_sequences its outputs are put back in time order before merging
    concat joins the two along the features (2*units), sum/ave/mul combine them elementwise,
    None returns [forward_output, backward_output]. With return_state the result is
    [merged, *forward_states, *backward_states], and initial_state= takes the forward
    layer's states followed by the backward layer's.
    Masked steps give zero outputs in both directions here, so that the reversed backward
    sequence lines up with the forward one.
    """

    def __init__(self, layer, merge_mode="concat", backward_layer=None, name=None, input_shape=None):
        if not isinstance(layer, _Recurrent):
            raise TypeError(f"Bidirectional: expected a SimpleRNN, LSTM or GRU layer, got {layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {_MERGE_MODES}, got {merge_mode!r}")
        super().__init__(name=name, input_shape=input_shape)
        zero = layer.return_sequences
        self.forward_layer = layer.clone(name=f"forward_{layer.name}", zero_output_for_mask=zero)
        if backward_layer is None:
            backward_layer = layer.clone(name=f"backward_{layer.name}",
                                         go_backwards=not layer.go_backwards, zero_output_for_mask=zero)
        elif not isinstance(backward_layer, _Recurrent):
            raise TypeError(f"Bidirectional: backward_layer must be a SimpleRNN, LSTM or GRU layer, "
                            f"got {backward_layer!r}")
        elif backward_layer.go_backwards == layer.go_backwards:
            # Keras refuses this too: both halves would read the sequence in the same order,
            # and the "backward" output would be a forward pass merely reversed in time.
            raise ValueError(f"Bidirectional: backward_layer has go_backwards={backward_layer.go_backwards}, "
                             f"the same as the forward layer; the backward layer must read the sequence "
                             f"the other way: give it go_backwards={not layer.go_backwards}")
        elif backward_layer.return_sequences != layer.return_sequences or \
                backward_layer.return_state != layer.return_state:
            raise ValueError("Bidirectional: backward_layer needs the same return_sequences and "
                             "return_state as the forward layer")
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state

    def build(self, input_shape):
        self.forward_layer.build_for(input_shape)
        self.backward_layer.build_for(input_shape)

    def _merged_shape(self, f, b):
        if self.merge_mode == "concat":
            return f[:-1] + (f[-1] + b[-1],)
        if self.merge_mode is None:
            return [f, b]
        return f

    def compute_output_shape(self, input_shape):
        f = self.forward_layer.compute_output_shape(input_shape)
        b = self.backward_layer.compute_output_shape(input_shape)
        if not self.return_state:
            return self._merged_shape(f, b)
        merged = self._merged_shape(f[0], b[0])
        merged = merged if isinstance(merged, list) else [merged]
        return merged + f[1:] + b[1:]

    def build_for(self, input_shape):
        # as _Recurrent.build_for: a list of output shapes does not fit Module.build_for
        if self.built:
            return self.output_shape
        if not (self.return_state or self.merge_mode is None):
            return super().build_for(input_shape)
        input_shape = _as_shape(input_shape)
        self.built = True
        try:
            self.build(input_shape)
            self._set_own_trainable(self._trainable)
            self.input_shape = input_shape
            self.output_shape = self.compute_output_shape(input_shape)
        except Exception:
            self.built = False
            raise
        return self.output_shape

    def expected_input_shape(self):
        return None if not self.built else (None, self.input_shape[-1])

    def _merge(self, f, b):
        if self.merge_mode == "concat":
            return concat([f, b], axis=-1)
        if self.merge_mode == "sum":
            return f + b
        if self.merge_mode == "ave":
            return (f + b) * 0.5
        if self.merge_mode == "mul":
            return f * b
        return [f, b]

    def forward(self, x, initial_state=None, mask=None):
        f_init = b_init = None
        if initial_state is not None:
            states = list(initial_state)
            n = self.forward_layer.state_count
            if len(states) != 2 * n:
                raise ValueError(f"Bidirectional layer '{self.name}': initial_state needs {2 * n} "
                                 f"tensors (forward states, then backward states), got {len(states)}")
            f_init, b_init = states[:n], states[n:]
        if mask is None:
            mask = mask_of(x)
        f = self.forward_layer(x, initial_state=f_init, mask=mask)
        b = self.backward_layer(x, initial_state=b_init, mask=mask)
        f_states = b_states = []
        if self.return_state:
            f, f_states = f[0], f[1:]
            b, b_states = b[0], b[1:]
        if self.return_sequences:
            b = b[:, ::-1]                                   # back into time order
        merged = self._merge(f, b)
        if self.return_sequences and not isinstance(merged, list):
            attach_mask(merged, mask)
        if not self.return_state:
            return merged
        return (merged if isinstance(merged, list) else [merged]) + f_states + b_states

    def __repr__(self):
        return f"Bidirectional({self.forward_layer!r}, merge_mode={self.merge_mode!r}, name='{self.name}')"
