"""DLPack with the converters: a batch goes from minigrad into the to_torch module and the
result comes back, without a copy either way (the same memory addresses), and the numbers
are minigrad's own. The tensor-level DLPack tests are in test_backend.py."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.interop import to_torch
from minigrad.nn import Conv2D, Dense, Flatten, Sequential
from minigrad.tensor import from_dlpack

torch = pytest.importorskip("torch")


def address(tensor):
    return tensor.data.__array_interface__["data"][0]


def test_batch_through_the_torch_module_and_back_without_copies():
    model = Sequential([Conv2D(3, 3, padding="same", activation="relu", input_shape=(1, 5, 5)),
                        Flatten(), Dense(2)])
    net = to_torch(model.eval())
    batch = mg.tensor(np.random.default_rng(0).normal(size=(4, 1, 5, 5)).astype("float32"))
    into_torch = torch.from_dlpack(batch)
    assert into_torch.data_ptr() == address(batch)               # torch reads minigrad's memory
    with torch.no_grad():
        out = net(into_torch)
    back = from_dlpack(out)
    assert address(back) == out.data_ptr()                       # minigrad reads torch's memory
    np.testing.assert_allclose(back.numpy(), model(batch).numpy(), rtol=1e-5, atol=1e-6)
    out.mul_(0.0)                                                # a write on one side shows on the other
    assert not back.numpy().any()
    batch.data[0, 0, 0, 0] = 42.0
    assert into_torch[0, 0, 0, 0].item() == 42.0
