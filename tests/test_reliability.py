"""Reliability (issue 13): no silent wrong gradients, no silent non-training, errors that point
to the fix. Each test here failed on the engine before the fix it names."""
import argparse
import importlib.util
import operator
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import backend, nn, optim
from minigrad.nn import saving

from .conftest import leaf

REPO = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- 1. in-place changes

STALE = r"changed in place.*[Cc]lone it before changing it.*after backward\(\)"


def test_changing_an_input_after_use_raises_instead_of_a_wrong_gradient(device):
    # the example: the true x.grad is [3, 4]; the old engine gave [100, 4]
    x = leaf([1.0, 2.0], device)
    w = leaf([3.0, 4.0], device)
    w.name = "w"
    loss = (x * w).sum()
    with mg.no_grad():
        w[0] = 100.0
    with pytest.raises(RuntimeError, match=r"Mul\.backward: its input 1 \(a tensor of shape \(2,\), name 'w'\)"):
        loss.backward()
    loss = (x * w).sum()                          # a fresh graph sees the new w: no alarm
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [100.0, 4.0])
    with pytest.raises(RuntimeError, match=STALE):
        loss = (x * w).sum()
        with mg.no_grad():
            w[1] = 0.0
        loss.backward()


def test_an_optimizer_step_between_forward_and_backward_raises(device):
    x = leaf([1.0, 2.0], device)
    w = leaf([3.0, 4.0], device)
    opt = optim.SGD([w], lr=0.1)
    loss = (x * w).sum()
    w.grad = mg.ones_like(w)
    opt.step()                                  # w changes in place; loss's graph read the old w
    with pytest.raises(RuntimeError, match=r"Mul\.backward: its input 1.*version 1, Mul saw 0"):
        loss.backward()


def test_changing_an_ops_saved_output_raises(device):
    x = leaf([0.5, -1.0], device)
    z = x.exp()                                 # Exp's backward reads its output z
    with mg.no_grad():
        z[0] = 5.0
    with pytest.raises(RuntimeError, match=r"Exp\.backward: its output \(a tensor of shape \(2,\)\)"):
        z.sum().backward()


def test_views_share_the_version_counter(device):
    x = leaf([1.0, 2.0], device)
    w = leaf([3.0, 4.0], device)
    loss = (x * w).sum()
    w.detach()[0] = 7.0                          # a detached alias writes w's memory
    assert w.version == 1
    with pytest.raises(RuntimeError, match=STALE):
        loss.backward()

    c = mg.tensor([[1.0, 2.0]], dtype="float64", device=device)
    loss = (x * c.reshape(2)).sum()              # the graph reads c's memory through a view
    c.reshape(2)[1] = 0.0                        # so does this write: c's version moves
    assert c.version == 1
    with pytest.raises(RuntimeError, match=STALE):
        loss.backward()


def test_in_place_changes_that_no_backward_reads_are_fine(device):
    x = leaf([1.0, 2.0], device)
    y = x * 2.0                                  # Mul reads x and 2, not its output
    with mg.no_grad():
        y[0] = 5.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    # after backward, changing a leaf is the ordinary optimizer loop
    w = leaf([3.0, 4.0], device)
    (x * w).sum().backward()
    with mg.no_grad():
        w[0] = 0.0
    np.testing.assert_array_equal(x.grad.numpy(), [2.0 + 3.0, 2.0 + 4.0])


def test_in_place_changes_to_inputs_of_ops_whose_backward_ignores_them_are_fine(device):
    # Add's backward is (g, g): it never reads a or b, so changing them after a + b harms no
    # gradient. Mul's reads both, so the same change after a * b must raise.
    a = leaf([1.0, 2.0], device)
    b = leaf([3.0, 4.0], device)
    total = (a + b).sum()
    with mg.no_grad():
        b[0] = 100.0
    total.backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])
    product = (a * b).sum()
    with mg.no_grad():
        b[0] = 5.0
    with pytest.raises(RuntimeError, match=r"Mul\.backward: its input 1 .*" + STALE):
        product.backward()


@pytest.mark.parametrize("op", [lambda a, b: a - b, lambda a, b: -a + b, lambda a, b: a.exp() + b,
                                lambda a, b: (a.reshape(2, 1).T + b).sum(axis=0),
                                lambda a, b: mg.concat([a, b])[1:3]])
def test_shape_only_and_output_only_backwards_ignore_input_changes(device, op):
    a = leaf([0.5, 1.5], device)
    b = leaf([3.0, 4.0], device)
    y = op(a, b)
    expected = [g.numpy() for g in mg.grad(y.sum(), [a, b], retain_graph=True)]
    with mg.no_grad():
        a[0] = -7.0
        b[1] = 9.0
    y.sum().backward()                            # no false alarm, and the gradients of the old graph
    np.testing.assert_allclose(a.grad.numpy(), expected[0])
    np.testing.assert_allclose(b.grad.numpy(), expected[1])


def test_raw_data_writes_are_the_documented_escape_hatch(device):
    x = leaf([1.0, 2.0], device)
    w = leaf([3.0, 4.0], device)
    loss = (x * w).sum()
    w.data[0] = 100.0                            # not counted: the user takes responsibility
    assert w.version == 0
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [100.0, 4.0])


def test_clone_is_a_differentiable_copy(device):
    x = leaf([1.0, 2.0], device)
    c = x.clone()
    assert c.data is not x.data and c.dtype == x.dtype
    with mg.no_grad():
        c[0] = 9.0
    assert x.numpy()[0] == 1.0
    (x.clone() * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


UNARY = [mg.exp, mg.tanh, mg.sigmoid, mg.sqrt, mg.log, lambda t: t * t, lambda t: 1.0 / t,
         lambda t: t.sum() * t]


@given(st.sampled_from(range(len(UNARY))), st.lists(st.floats(0.5, 2.0), min_size=1, max_size=4),
       st.booleans())
def test_any_change_to_what_backward_reads_is_caught(device, which, values, change_output):
    x = leaf(values, device)
    y = UNARY[which](x)
    target = y if change_output else x
    # exp/tanh/sigmoid/sqrt read only their output z; log, t*t, 1/t and t.sum()*t the input
    reads_target = which in (0, 1, 2, 3) if change_output else which in (4, 5, 6, 7)
    with mg.no_grad():
        target[0] = 3.0
    if reads_target:
        with pytest.raises(RuntimeError, match=STALE):
            y.sum().backward()
    else:
        y.sum().backward()                       # a backward that never reads y: no alarm


# ----------------------------------------------------------------------------- 3. anomaly frames

@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_anomaly_mode_names_user_code_in_a_folder_called_minigrad(tmp_path):
    folder = tmp_path / "minigrad"
    folder.mkdir()
    user_file = folder / "user_code.py"
    user_file.write_text("import minigrad as mg\n\n\ndef make_nan(x):\n    return (x - x).log() * 0.0\n")
    spec = importlib.util.spec_from_file_location("user_code_in_minigrad_folder", user_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = mg.tensor([1.0], requires_grad=True)
    with mg.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        module.make_nan(x)
    assert f'File "{user_file}", line 5, in make_nan' in str(info.value)


def test_minigrad_files_are_told_by_the_package_folder(tmp_path):
    from minigrad import autograd
    assert autograd.is_minigrad_file(autograd.__file__)
    assert autograd.is_minigrad_file(str(Path(mg.__file__).parent / "ops" / "elementwise.py"))
    assert not autograd.is_minigrad_file(str(tmp_path / "minigrad" / "train.py"))
    assert not autograd.is_minigrad_file(str(Path(mg.__file__).parent) + "_extras/x.py")


# ----------------------------------------------------------------------------- 4. NumPy conversion

def test_numpy_conversion_of_a_cpu_tensor_is_its_array():
    t = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = np.asarray(t)
    assert type(a) is np.ndarray and a.dtype == np.float32 and a.shape == (2, 2)
    assert np.shares_memory(a, t.data)           # documented: a view, no copy
    copy = np.array(t, copy=True)
    assert not np.shares_memory(copy, t.data)
    np.testing.assert_array_equal(copy, t.numpy())
    wide = np.asarray(t, dtype=np.float64)
    assert wide.dtype == np.float64 and not np.shares_memory(wide, t.data)
    with pytest.raises(ValueError, match="copy"):
        np.asarray(t, dtype=np.float64, copy=False)
    assert np.asarray(mg.tensor(2.5)).shape == ()


def test_device_tensors_refuse_implicit_conversion():
    t = mg.tensor([1.0, 2.0], device="strict")
    with pytest.raises(TypeError, match=r"strict.*\.numpy\(\)"):
        np.asarray(t)
    with pytest.raises(TypeError, match=r"\.numpy\(\)"):
        np.array([t, t])


def test_python_numbers_from_one_element_tensors(device):
    assert float(mg.tensor(2.5, device=device)) == 2.5
    assert float(mg.tensor([[2.5]], device=device)) == 2.5
    assert int(mg.tensor([3.7], device=device)) == 3
    i = mg.tensor(np.int64(2), device=device)
    assert operator.index(i) == 2 and [10, 20, 30][i] == 30 and list(range(i)) == [0, 1]
    with pytest.raises(ValueError, match="one element"):
        float(mg.tensor([1.0, 2.0], device=device))
    with pytest.raises(TypeError, match="0-d integer"):
        operator.index(mg.tensor(2.0, device=device))


def test_numpy_functions_say_what_to_call_instead():
    t = mg.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=r"numpy\.mean\(\).*t\.mean\(\.\.\.\)"):
        np.mean(t)
    with pytest.raises(TypeError, match=r"numpy\.median\(\).*np\.median\(t\.numpy\(\)"):
        np.median(t)


# ----------------------------------------------------------------------------- 6. NaN in training

def _weights(model):
    return [p.numpy() for p in model.parameters(trainable_only=False)]


def test_vae_trainer_stops_at_a_nan_loss_keeping_the_weights(device):
    from models.vae import MLPVAE, Trainer
    vae = MLPVAE(input_dim=6, hidden=4, latent_dim=2).to(device)
    trainer = Trainer(vae)
    x = np.random.default_rng(0).random((5, 6)).astype(np.float32)
    trainer.step(x)
    kernel = vae.parameters()[0]
    kernel.data[0, 0] = np.nan                   # a poisoned weight (raw write, on purpose)
    before = _weights(vae)
    with pytest.raises(FloatingPointError, match=r"Trainer\.step \(update 2.*loss is nan.*detect_anomaly"):
        trainer.step(x)
    for a, b in zip(before, _weights(vae)):
        np.testing.assert_array_equal(a, b)
    assert trainer.steps == 1


class _SqrtAtZero(nn.Module):
    """loss = sum(sqrt(p) + 1): finite at p = 0, but its gradient 1/(2 sqrt p) is inf there."""

    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(np.array([0.0, 1.0]))
        self.p.name = "p"
        self.built = True

    def loss(self, x):
        return (self.p.sqrt() + 1.0).sum()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_trainer_names_the_parameter_whose_gradient_is_not_finite():
    from models.vae import Trainer
    model = _SqrtAtZero()
    trainer = Trainer(model)
    with pytest.raises(FloatingPointError, match=r"gradient of parameter 'p' \(shape \(2,\)\).*finite \(3\)"):
        trainer.step(None)
    np.testing.assert_array_equal(model.p.numpy(), [0.0, 1.0])


def test_vae_and_autoencoder_reject_bad_batches():
    from models.autoencoder import Autoencoder
    from models.vae import MLPVAE, Trainer
    for model in (MLPVAE(input_dim=6, hidden=4), Autoencoder(input_dim=6, hidden=4)):
        trainer = Trainer(model)
        with pytest.raises(ValueError, match="empty batch"):
            trainer.step(np.zeros((0, 6), np.float32))
        with pytest.raises(ValueError, match=r"\[0, 1\].*\[0, 255\].*1/255"):
            trainer.step(np.linspace(0, 255, 12, dtype=np.float32).reshape(2, 6))
        with pytest.raises(ValueError, match="NaN"):
            trainer.step(np.full((2, 6), np.nan, np.float32))
        with pytest.raises(ValueError, match="no images"):
            trainer.evaluate(np.zeros((0, 6), np.float32))
        assert trainer.steps == 0


def test_dcgan_rejects_an_empty_batch_and_stops_on_a_nan_generator_step():
    from models.dcgan import DCGAN
    gan = DCGAN(latent_dim=4, img_shape=(1, 8, 8), generator_channels=(4, 2),
                discriminator_channels=(2, 2, 2, 2), seed=0)
    with pytest.raises(ValueError, match=r"non-empty batch.*\(0, 1, 8, 8\)"):
        gan.train_step(np.zeros((0, 1, 8, 8), np.float32))
    first = gan.generator.parameters()[0]
    first.data[...] = np.nan
    before = _weights(gan.generator)
    with pytest.raises(FloatingPointError, match=r"DCGAN\.train_generator.*detect_anomaly"):
        gan.train_generator(gan.noise(3))
    for a, b in zip(before, _weights(gan.generator)):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- 7. corrupt weights

def _small_model():
    model = nn.Sequential([nn.Dense(3, input_shape=(4,)), nn.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    return model


def _corrupt_cases(good: bytes):
    return {"truncated": good[: len(good) // 2], "garbage": b"\x93NUMPY not really" * 40,
            "empty": b"", "flipped": good[:200] + bytes(b ^ 0xFF for b in good[200:260]) + good[260:]}


@pytest.mark.parametrize("case", ["truncated", "garbage", "empty", "flipped"])
def test_a_corrupt_weights_file_is_a_clear_error_and_changes_nothing(tmp_path, case):
    source = _small_model()
    source.fit(np.ones((4, 4), np.float32), np.ones((4, 2), np.float32), epochs=1, verbose=0)
    good = Path(source.save_weights(tmp_path / "w.npz")).read_bytes()
    bad = tmp_path / f"{case}.npz"
    bad.write_bytes(_corrupt_cases(good)[case])
    target = _small_model()
    before = target.get_weights()
    with pytest.raises(ValueError) as info:
        target.load_weights(bad)
    message = str(info.value)
    assert str(bad) in message and "not a readable minigrad weights file" in message
    assert "allow_pickle" not in message and "pickle" not in message.replace("Python objects", "")
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_weights_file_with_python_objects_never_suggests_allow_pickle(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, __meta__=np.array('{"format": "minigrad-weights-1", "weights": [{"layer": "d", '
                                     '"type": "Dense", "name": "kernel", "shape": [1]}]}'),
             weight_000=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="Python objects") as info:
        saving.load(path)
    assert "allow_pickle" not in str(info.value)


def test_an_optimizer_state_that_does_not_fit_is_found_before_any_weight_changes(tmp_path):
    source = _small_model()
    source.fit(np.ones((4, 4), np.float32), np.ones((4, 2), np.float32), epochs=1, verbose=0)
    path = source.save_weights(tmp_path / "w.npz")
    target = nn.Sequential([nn.Dense(3, input_shape=(4,)), nn.Dense(2)])
    target.compile(optimizer=optim.SGD(momentum=0.9), loss="mse")   # another optimizer class
    target.fit(np.ones((4, 4), np.float32), np.ones((4, 2), np.float32), epochs=1, verbose=0)
    before = target.get_weights()
    with pytest.raises(ValueError, match=r"optimizer state does not fit.*Adam optimizer, not SGD.*nothing was loaded"):
        saving.read_checked(target, path, target.optimizer)
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)
    records, weights, state = saving.read_checked(target, path)       # without the optimizer: fits
    saving.assign_all(records, weights)
    for a, b in zip(source.get_weights(), target.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert str(state["class"]) == "Adam"


# ----------------------------------------------------------------------------- set_weights copies

def test_set_weights_copies_the_callers_arrays():
    first, second = _small_model(), _small_model()
    shared = first.get_weights()
    kept = [w.copy() for w in shared]
    first.set_weights(shared)
    second.set_weights(shared)
    first.fit(np.ones((4, 4), np.float32), np.zeros((4, 2), np.float32), epochs=2, verbose=0)
    for w, k in zip(shared, kept):               # training did not write into the caller's arrays
        np.testing.assert_array_equal(w, k)
    for w, k in zip(second.get_weights(), kept):  # nor into the other model given the same list
        np.testing.assert_array_equal(w, k)
    assert any(not np.array_equal(a, b) for a, b in zip(first.get_weights(), kept))


# ----------------------------------------------------------------------------- 8. devices

def _dense_run(steps_before, device_after, dtype_after=None):
    mg.manual_seed(3)
    layer = nn.Dense(3, input_shape=(4,))
    layer.build_for((4,))
    opt = optim.Adam(layer.parameters(), lr=0.05)
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    for step in range(4):
        if step == steps_before:
            layer.to(device_after, dtype=dtype_after)
        xt = mg.tensor(x, dtype=layer.kernel.dtype, device=layer.kernel.device)
        opt.zero_grad()
        (layer(xt) ** 2).mean().backward()
        opt.step()
    return [p.numpy() for p in layer.parameters()]


def test_the_optimizer_state_follows_its_parameters_to_another_device():
    straight = _dense_run(0, "cpu")
    moved = _dense_run(2, "strict")              # two steps on the CPU, two on "strict"
    for a, b in zip(straight, moved):
        np.testing.assert_array_equal(a, b)
    wider = _dense_run(2, "cpu", "float64")      # a cast moves the state too (to float64)
    for a, b in zip(straight, wider):
        assert b.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_strict_arrays_have_no_ctypes_like_cupy():
    data = mg.tensor([1.0], device="strict").data
    with pytest.raises(AttributeError, match=r"no \.ctypes.*host"):
        data.ctypes
    assert mg.tensor([1.0]).data.ctypes.data != 0          # the CPU keeps NumPy's


# ----------------------------------------------------------------------------- 10. examples' --out

def test_an_unwritable_out_folder_stops_an_example_before_training(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(REPO / "examples" / "linear_regression.py"),
                           "--out", str(blocker / "run"), "--verbose", "2"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "--out folder" in proc.stderr and str(blocker / "run") in proc.stderr
    assert "Epoch" not in proc.stdout and "Traceback" not in proc.stderr


def test_check_writable_folder_makes_and_probes_the_folder(tmp_path):
    from minigrad.files import check_writable_folder
    target = tmp_path / "new" / "deeper"
    assert check_writable_folder(target) == str(target)
    assert target.is_dir() and list(target.iterdir()) == []       # the probe file is gone
    sys.path.insert(0, str(REPO / "examples"))
    try:
        import common
    finally:
        sys.path.remove(str(REPO / "examples"))
    args = argparse.Namespace(out=str(tmp_path / "a" / "b"), seed=0, device="cpu")
    (tmp_path / "a").write_text("")
    with pytest.raises(SystemExit, match="cannot be written"):
        common.setup(args)
    assert backend.get_default_device() == "cpu"
