"""models/vgg16.py: Keras' VGG16 layer for layer (names, shapes, parameter counts), Keras' file
layout in and out, the caffe preprocessing, where the ImageNet file is looked for, and a tiny
float64 instance's gradients on cpu and strict."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import assert_model_gradients
from models.vgg16 import (WEIGHTS_NOTOP, WEIGHTS_TOP, WEIGHTS_URL, VGG16, find_imagenet_weights,
                          preprocess_input)

from .conftest import float64_model

TINY = dict(widths=(2, 2, 3, 3, 3), input_shape=(3, 32, 32))


def test_keras_layer_names_and_parameter_count():
    base = VGG16(include_top=False)                      # Keras: 14,714,688 parameters, (None, 7, 7, 512)
    assert base.count_params() == 14_714_688
    assert base.output_shape == (512, 7, 7)
    names = [layer.name for layer in base.layers]
    assert names[:3] == ["block1_conv1", "block1_conv2", "block1_pool"] and names[-1] == "block5_pool"
    assert len(names) == 18


def test_top_and_pooling_variants():
    top = VGG16(include_top=True, classes=5, dense_units=7, **TINY)
    assert [layer.name for layer in top.layers[-4:]] == ["flatten", "fc1", "fc2", "predictions"]
    assert top.output_shape == (5,)
    x = np.random.default_rng(0).uniform(0, 255, (2, 3, 32, 32))
    np.testing.assert_allclose(top.predict(preprocess_input(x)).sum(axis=1), 1.0, rtol=1e-5)
    assert VGG16(include_top=False, pooling="avg", **TINY).output_shape == (3,)
    assert VGG16(include_top=False, pooling="max", **TINY).output_shape == (3,)


def test_weights_through_keras_layout(tmp_path):
    """A file in Keras' layout (fc1's rows in (H, W, C) order) gives back the same model."""
    pytest.importorskip("h5py")
    from minigrad.interop import save_keras_weights
    shape = dict(widths=(2, 2, 3, 3, 3), input_shape=(3, 64, 64))    # 2x2 at the top: order matters
    model = VGG16(include_top=True, classes=4, dense_units=6, **shape)
    path = save_keras_weights(model, tmp_path / "vgg.h5")
    copy = VGG16(include_top=True, classes=4, dense_units=6, weights=path, **shape)
    x = preprocess_input(np.random.default_rng(1).uniform(0, 255, (2, 3, 64, 64)))
    np.testing.assert_array_equal(copy.predict(x), model.predict(x))
    import h5py
    with h5py.File(path) as f:
        fc1 = f["fc1"]["fc1/kernel:0"][()]
    fc1_layer = model.layers[-3]
    assert fc1_layer.name == "fc1"
    assert not np.array_equal(fc1, fc1_layer.kernel.numpy())          # rows permuted on the way out
    np.testing.assert_array_equal(np.sort(fc1, axis=0), np.sort(fc1_layer.kernel.numpy(), axis=0))


def test_preprocess_input_is_keras_caffe_mode():
    x = np.zeros((1, 3, 2, 2))
    x[:, 0], x[:, 1], x[:, 2] = 200.0, 100.0, 50.0                 # R, G, B
    out = preprocess_input(x)
    np.testing.assert_allclose(out[0, :, 0, 0], [50 - 103.939, 100 - 116.779, 200 - 123.68], rtol=1e-6)
    assert out.dtype == np.float32
    with pytest.raises(ValueError, match=r"NCHW RGB.*\(1, 2, 2, 3\)"):
        preprocess_input(np.zeros((1, 2, 2, 3)))


def test_imagenet_file_lookup(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "data"))
    with pytest.raises(FileNotFoundError, match=WEIGHTS_NOTOP) as info:
        find_imagenet_weights()
    assert WEIGHTS_URL in str(info.value) and str(tmp_path / "data") in str(info.value)
    with pytest.raises(FileNotFoundError, match=WEIGHTS_TOP):
        VGG16(weights="imagenet", **dict(TINY, input_shape=(3, 224, 224)))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / WEIGHTS_NOTOP).write_bytes(b"")
    assert find_imagenet_weights() == tmp_path / "data" / WEIGHTS_NOTOP


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least 32"):
        VGG16(input_shape=(3, 16, 16))
    with pytest.raises(ValueError, match="pooling"):
        VGG16(include_top=False, pooling="mean", **TINY)


def test_tiny_vgg_gradients(device):
    model = float64_model(VGG16(include_top=True, classes=2, dense_units=2, classifier_activation=None,
                                widths=(1, 1, 1, 1, 1), input_shape=(1, 32, 32)), device, seed=0)
    x = mg.tensor(np.random.default_rng(2).uniform(0.5, 1.5, (1, 1, 32, 32)), device=device)
    # random directions: 1,024 pixels element by element would be 2,048 forward passes
    assert_model_gradients(model, lambda x: (model(x) ** 2).sum(), x, method="random-direction", n_directions=4)
