"""minigrad.interop: the way in and out — Keras weights in, PyTorch and ONNX out.

    from minigrad.interop import load_keras_weights, to_torch, from_torch_state_dict, export_onnx
    load_keras_weights(model, "cnn.weights.h5")     # Keras 3 .weights.h5, .keras, legacy Keras 2 .h5
    save_keras_weights(model, "for_keras.h5")       # Keras 2 layout, for keras_model.load_weights
    net = to_torch(model)                           # a torch.nn.Module, weights copied
    from_torch_state_dict(model, net.state_dict())  # and back
    export_onnx(model, "model.onnx", input_shape=(1, 28, 28))

Each works on Sequential models and on functional ones, Model(inputs, outputs): several
inputs and outputs, merges, shared layers, nested models. A functional model is its layer
calls in topological order (walk.py reads them), so that is what the converters replay: to
PyTorch as a module whose forward runs the calls in order, to ONNX as the calls written out,
from Keras in the order Keras lists the layers. Python code inside a model (a Lambda layer,
an op applied to symbolic tensors) has no counterpart: to_torch and export_onnx refuse it,
naming it; reading Keras weights passes it by (it has no weights).

Files: torch.py (needs torch), onnx.py (needs onnx; onnxruntime to run the result). Keras'
files are the models' business and live in minigrad/nn/saving/ (keras_h5.py, which needs h5py;
re-exported here), what the converters share in minigrad/nn/walk.py; keras_h5.py and walk.py
here keep their old import paths. Each optional package is imported only when its function is
called, so `import minigrad.interop` needs NumPy alone. Nothing in the engine or in nn imports
this package.
"""
from __future__ import annotations

from ..nn.saving.keras_h5 import load_keras_weights, save_keras_weights
from .onnx import export_onnx
from .torch import from_torch_state_dict, to_torch

__all__ = ["load_keras_weights", "save_keras_weights", "to_torch", "from_torch_state_dict", "export_onnx"]
