"""The engine: tensors, the autograd graph and its walk, devices, and the ops.

    backend.py     devices ("cpu", "cuda[:N]", "strict"), the array module of an array (xp_of)
    strict.py      the "strict" stand-in device: NumPy behind a CuPy-like wall
    tensor.py      Tensor and the creation helpers
    function.py    Function: the graph node (forward above backward), unbroadcast
    mode.py        gradient mode (no_grad) and anomaly mode, per thread
    autograd.py    the backward walk, mg.grad
    tape.py        GradientTape: TensorFlow's spelling of mg.grad, for Keras lessons
    symbolic.py    symbolic tensors for the functional API (ops on them are recorded)
    ops/           one file per op family (ops/__init__.py: the registry)
    functional.py  F: activations, softmax, conv, pooling, dropout, batch norm, built from ops/

Nothing here imports from the rest of minigrad.
"""
# Tensor first: tensor.py's last lines import the ops and the walk, which are written on Tensor
# (the engine's one cycle, on purpose), so whichever engine module is asked for, all are whole.
from . import tensor  # noqa: E402,F401
