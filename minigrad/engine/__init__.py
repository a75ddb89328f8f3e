"""The engine: tensors, the autograd graph and its walk, devices, and the ops.

    backend.py     devices ("cpu", "cuda[:N]", "strict"), the array module of an array (xp_of)
    strict.py      the "strict" stand-in device: NumPy behind a CuPy-like wall
    tensor.py      Tensor and the creation helpers
    function.py    Function: the graph node (forward above backward), unbroadcast
    autograd.py    the backward walk, mg.grad, no_grad, detect_anomaly
    tape.py        GradientTape: TensorFlow's spelling of mg.grad, for Keras lessons
    symbolic.py    symbolic tensors for the functional API (ops on them are recorded)
    ops/           one file per op family (ops/__init__.py: the registry)
    functional.py  F: activations, softmax, conv, pooling, dropout, batch norm, built from ops/

Nothing here imports from the rest of minigrad.
"""
