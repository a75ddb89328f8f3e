"""Devices, host copies, the seeded generators and the strict stand-in."""
import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend, strict


def test_device_names_are_normalised():
    assert backend.normalize_device("CPU") == "cpu"
    assert backend.normalize_device("cuda") == "cuda:0"
    assert backend.normalize_device("cuda:2") == "cuda:2"
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        backend.normalize_device("tpu")


@pytest.mark.skipif(backend.cuda_is_available(), reason="this machine has a GPU")
def test_asking_for_cuda_without_a_gpu_says_which_extra_to_install():
    with pytest.raises(RuntimeError, match=r"minigrad\[cuda12\]' or 'minigrad\[cuda13\]"):
        mg.tensor([1.0], device="cuda")
    with pytest.raises(RuntimeError, match="CuPy"):
        mg.set_default_device("cuda")


def test_minigrad_device_environment_variable():
    code = "import minigrad as mg; print(mg.get_default_device(), mg.zeros(2).device)"
    env = dict(os.environ, MINIGRAD_DEVICE="strict")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["strict", "strict"]


def test_import_needs_numpy_alone():
    code = ("import sys, minigrad; bad = [m for m in ('cupy', 'hypothesis', 'matplotlib', 'tqdm', "
            "'scipy', 'torch') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_set_default_device():
    try:
        mg.set_default_device("strict")
        assert mg.randn(2).device == "strict"
        assert mg.tensor([1.0]).device == "strict"
    finally:
        mg.set_default_device("cpu")
    assert mg.ones(1).device == "cpu"


def test_numpy_is_always_a_host_copy(device):
    x = mg.tensor([1.0, 2.0], device=device)
    host = x.numpy()
    assert type(host) is np.ndarray
    host[0] = 99.0
    assert x.tolist() == [1.0, 2.0]


def test_tensor_never_aliases_the_callers_array():
    a = np.array([1.0, 2.0])
    t = mg.tensor(a)
    a[0] = 5.0
    assert t.tolist() == [1.0, 2.0]


def test_to_moves_data_and_gradients(device):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(device)
    assert y.device == device
    (y * y).sum().backward()
    assert x.grad.device == "cpu" and x.grad.tolist() == [2.0, 4.0]
    assert x.to("cpu") is x


def test_default_dtypes():
    assert mg.tensor([1.0, 2.0]).dtype == np.float32
    assert mg.tensor(np.array([1.0])).dtype == np.float64      # arrays keep their dtype
    assert mg.tensor([1, 2]).dtype == np.int64
    assert mg.zeros(2).dtype == np.float32 and mg.randn(2).dtype == np.float32


def test_manual_seed_makes_every_device_reproducible(device):
    mg.manual_seed(42)
    a = mg.randn(3, device=device).numpy(), mg.rand(2, device=device).numpy()
    mg.manual_seed(42)
    b = mg.randn(3, device=device).numpy(), mg.rand(2, device=device).numpy()
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    mg.manual_seed(43)
    assert not np.array_equal(a[0], mg.randn(3, device=device).numpy())


def test_dropout_uses_the_seeded_generator(device):
    x = mg.ones(1000, device=device)
    mg.manual_seed(7)
    first = mg.functional.dropout(x, 0.5).numpy()
    mg.manual_seed(7)
    second = mg.functional.dropout(x, 0.5).numpy()
    assert np.array_equal(first, second)
    assert set(np.unique(first)) <= {0.0, 2.0}
    assert 400 < (first == 0).sum() < 600
    assert mg.functional.dropout(x, 0.5, training=False) is x


def test_strict_arrays_behave_like_cupy_at_the_boundary():
    a = strict.wrap(np.arange(4.0))
    with pytest.raises(TypeError):
        np.asarray(a)
    with pytest.raises(TypeError):
        a + np.ones(4)                      # a host array mixed in
    with pytest.raises(TypeError, match="numpy.sum"):
        np.sum(a)                           # a NumPy function on device data
    with pytest.raises(TypeError, match="numpy.exp"):
        np.exp(a)
    assert isinstance(a.sum(), strict.StrictArray) and a.sum().shape == ()   # 0-d, not a scalar
    assert float(np.float32(2) * a[1]) == 2.0                                  # scalars are fine
    assert type(a.get()) is np.ndarray


def test_scatter_add_accumulates_repeats(device):
    xp = backend.xp_for(device)
    target = xp.zeros(3)
    backend.scatter_add(target, backend.asarray(np.array([0, 0, 2]), device=device),
                        backend.asarray(np.array([1.0, 2.0, 5.0]), device=device))
    assert backend.to_numpy(target).tolist() == [3.0, 0.0, 5.0]


# ----------------------------------------------------------------------------- DLPack

def test_dlpack_shares_memory_with_numpy_both_ways():
    from minigrad.tensor import from_dlpack
    t = mg.tensor([1.0, 2.0, 3.0])
    a = np.from_dlpack(t)                        # NumPy views the tensor's memory
    a[0] = 10.0
    assert t.numpy()[0] == 10.0 and np.shares_memory(a, t.data)
    assert t.__dlpack_device__() == (1, 0)       # kDLCPU, device 0
    host = np.arange(6, dtype=np.float64).reshape(2, 3)
    u = from_dlpack(host)                        # and the way in: no copy either
    host[1, 2] = -1.0
    assert u.numpy()[1, 2] == -1.0 and u.shape == (2, 3) and u.dtype == np.float64
    assert u.device == "cpu" and not u.requires_grad and u.is_leaf
    u2 = u * 2.0                                 # an ordinary tensor from here on
    assert u2.numpy()[1, 2] == -2.0


def test_dlpack_shares_memory_with_torch():
    torch = pytest.importorskip("torch")
    from minigrad.tensor import from_dlpack
    t = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    pt = torch.from_dlpack(t)
    pt[0, 1] = 20.0
    assert t.numpy()[0, 1] == 20.0 and pt.dtype == torch.float32
    back = from_dlpack(torch.arange(4, dtype=torch.float32))
    w = mg.tensor(np.ones(4, np.float32), requires_grad=True)
    (back * w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 1.0, 2.0, 3.0])
    source = torch.zeros(3)
    shared = from_dlpack(source)
    source[2] = 7.0
    assert shared.numpy()[2] == 7.0


def test_dlpack_is_refused_on_the_strict_device_and_for_non_producers():
    from minigrad.tensor import from_dlpack
    t = mg.tensor([1.0], device="strict")
    with pytest.raises(TypeError, match=r"strict.*t\.numpy\(\)"):
        np.from_dlpack(t)
    with pytest.raises(TypeError, match="not a DLPack producer"):
        from_dlpack([1.0, 2.0])
