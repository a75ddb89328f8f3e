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
