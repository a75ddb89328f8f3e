"""examples/cats_vs_dogs.py end to end on its stand-in (no ImageNet file, no photos): the VGG16
conv base goes through Keras' file layout and back, feature extraction and fine-tuning run,
and fine-tuning moves block5 and the head but nothing in the frozen blocks 1-4."""
import importlib.util

import pytest

from .example_runner import assert_finite_numbers, assert_pngs, load_metrics, needs_matplotlib, run_example

needs_h5py = pytest.mark.skipif(importlib.util.find_spec("h5py") is None,
                                reason="h5py is not installed (pip install h5py)")


@needs_h5py
@needs_matplotlib
def test_cats_vs_dogs_stand_in(tmp_path):
    out = tmp_path / "cvd"
    stdout = run_example("cats_vs_dogs.py", out, "--stand-in", "--stand-in-images", 48, "--epochs", 2,
                         "--fine-tune-epochs", 1, "--batch-size", 16, "--verbose", 0)
    assert_pngs(out, ["curves.png", "examples.png"])
    m = load_metrics(out)
    assert assert_finite_numbers(m) > 20
    assert m["weights_from"] == "stand-in" and m["images_from"] == "stand-in"
    assert (out / "standin_vgg16_notop.h5").is_file()          # the weights went through the file
    assert m["n_train"] == 32 and m["n_validation"] == 16
    assert m["feature_shape"] == [8, 1, 1] and m["n_features"] == 8
    assert len(m["feature_extraction"]["val_accuracy"]) == 2 and len(m["fine_tuning"]["loss"]) == 1
    assert m["fine_tuned_layers"] == ["block5_conv1", "block5_conv2", "block5_conv3"]
    moved = m["fine_tuning_weight_change"]
    assert all(moved[f"block{b}_conv{i}"] == 0.0 for b in (1, 2, 3, 4) for i in (1, 2, 3) if f"block{b}_conv{i}" in moved)
    assert len(moved) == 15
    assert all(moved[name] > 0 for name in ("block5_conv1", "block5_conv3", "head_dense", "head_output"))
    assert "validation accuracy" in stdout


needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                 reason="torch is not installed (pip install torch)")


@needs_torch
@needs_matplotlib
def test_continue_in_pytorch_with_ddp_and_come_back(tmp_path):
    """Issue 20.7: trained in minigrad, continued with DistributedDataParallel on 2 gloo processes,
    brought back: PyTorch's curve is the one minigrad alone would have drawn, and coming back
    changes nothing."""
    out = tmp_path / "cip"
    stdout = run_example("continue_in_pytorch.py", out, "--epochs", 2, "--limit", 64, "--batch-size", 16,
                         "--verbose", 0, timeout=300)
    assert_pngs(out, ["loss_curve.png"])
    m = load_metrics(out)
    assert_finite_numbers(m)
    curve = m["loss_curve"]
    assert [len(curve[k]) for k in ("minigrad", "pytorch", "minigrad_again")] == [3, 3, 3]
    assert curve["pytorch"][0] == curve["minigrad"][-1] and curve["minigrad_again"][0] == pytest.approx(
        curve["pytorch"][-1], abs=1e-6)
    assert m["pytorch_vs_minigrad_alone"] < 1e-5
    assert curve["pytorch"][-1] != curve["pytorch"][0]                # PyTorch did train it
    assert m["processes"] == 2 and "PyTorch DDP" in stdout


@needs_matplotlib
def test_continue_in_pytorch_without_torch_says_so(tmp_path, monkeypatch):
    hidden = tmp_path / "no_torch"
    hidden.mkdir()
    (hidden / "torch.py").write_text("raise ImportError(\"No module named 'torch' (hidden by the test)\")\n")
    monkeypatch.setenv("PYTHONPATH", str(hidden))
    stdout = run_example("continue_in_pytorch.py", tmp_path / "out", "--epochs", 1, "--verbose", 0)
    assert "skipped: PyTorch is not installed" in stdout and "pip install torch" in stdout
