"""keras.utils' helpers (issue 21.11): to_categorical, image_dataset_from_directory,
clear_session, and the K.get_value / K.set_value pair."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

try:
    from PIL import Image as PIL          # optional: image_dataset_from_directory needs Pillow
except ImportError:
    PIL = None
needs_pillow = pytest.mark.skipif(PIL is None, reason="image_dataset_from_directory needs Pillow (pip install pillow)")


# ----------------------------------------------------------------------------- to_categorical

def test_to_categorical_as_keras():
    """keras.utils.to_categorical([[1], [0], [2]]) is (3, 3) (the trailing 1 dropped), and a
    (2, 2) label grid gives (2, 2, num_classes)."""
    out = nn.to_categorical(np.array([[1], [0], [2]]))
    assert out.shape == (3, 3) and out.dtype == np.float32
    assert out.tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 1]]
    assert nn.to_categorical([[0, 1], [1, 3]], 5).shape == (2, 2, 5)
    assert nn.to_categorical(np.array([2.0, 0.0]), 3).tolist() == [[0, 0, 1], [1, 0, 0]]


@pytest.mark.parametrize("labels, num_classes, message", [
    ([0, -1], None, r"labels must lie in \[0, 1\), got min -1"),
    ([0, 3], 3, r"labels must lie in \[0, 3\), got min 0, max 3; raise num_classes"),
    ([0.5, 1.0], None, r"not whole numbers \(e.g. \[0.5\]\)"),
    (["a"], None, r"y must hold integer class labels"),
    ([1], 0, r"num_classes must be a positive integer, got 0"),
])
def test_to_categorical_refuses_what_keras_wraps_or_truncates(labels, num_classes, message):
    with pytest.raises((ValueError, TypeError), match=message):
        nn.to_categorical(labels, num_classes)


# ----------------------------------------------------------------------------- image folders

def _folder(tmp_path, counts={"cats": 3, "dogs": 2}, size=(6, 4)):
    """Class subfolders of small PNG/JPEG files; pixel value 10 * class + file number (red)."""
    for label, (name, n) in enumerate(counts.items()):
        (tmp_path / name).mkdir()
        for k in range(n):
            pixels = np.zeros(size[::-1] + (3,), np.uint8)
            pixels[..., 0] = 10 * label + k
            suffix = ".png" if k % 2 == 0 else ".jpg"
            PIL.fromarray(pixels).save(tmp_path / name / f"{name}{k}{suffix}", quality=100)
    (tmp_path / next(iter(counts)) / "notes.txt").write_text("not an image")       # skipped: not an image
    return tmp_path


@needs_pillow
def test_image_dataset_reads_class_folders_into_batches(tmp_path, capsys):
    folder = _folder(tmp_path)
    dataset = nn.image_dataset_from_directory(folder, image_size=(4, 6), batch_size=2, shuffle=False)
    assert "Found 5 files belonging to 2 classes." in capsys.readouterr().out
    assert dataset.class_names == ["cats", "dogs"] and len(dataset) == 3
    batches = list(dataset)
    images = np.concatenate([x for x, _ in batches])
    labels = np.concatenate([y for _, y in batches])
    assert images.shape == (5, 3, 4, 6) and images.dtype == np.float32          # NCHW: the default format
    assert labels.tolist() == [0, 0, 0, 1, 1] and labels.dtype == np.int32
    np.testing.assert_allclose(images[:, 0, 0, 0], [0, 1, 2, 10, 11], atol=1.5)    # JPEG is lossy by a bit


@needs_pillow
def test_image_dataset_validation_split_is_a_partition_of_one_seeded_shuffle(tmp_path):
    folder = _folder(tmp_path, {"a": 6, "b": 4})
    train, val = nn.image_dataset_from_directory(folder, image_size=(4, 6), batch_size=3, seed=7,
                                                 validation_split=0.3, subset="both", verbose=False)
    assert len(train.file_paths) == 7 and len(val.file_paths) == 3
    assert not set(train.file_paths) & set(val.file_paths)
    again = nn.image_dataset_from_directory(folder, image_size=(4, 6), batch_size=3, seed=7,
                                            validation_split=0.3, subset="validation", verbose=False)
    assert again.file_paths == val.file_paths                        # same seed, same split
    first, second = [np.concatenate([y for _, y in train]) for _ in range(2)]
    assert sorted(first.tolist()) == sorted(second.tolist())
    with pytest.raises(ValueError, match="give seed="):
        nn.image_dataset_from_directory(folder, validation_split=0.3, subset="both", verbose=False)


@needs_pillow
def test_image_dataset_label_modes_and_channels_last(tmp_path):
    folder = _folder(tmp_path)
    nn.set_image_data_format("channels_last")
    try:
        data = nn.image_dataset_from_directory(folder, image_size=(8, 8), label_mode="categorical",
                                               color_mode="grayscale", batch_size=5, verbose=False)
    finally:
        nn.set_image_data_format("channels_first")
    x, y = data[0]
    assert x.shape == (5, 8, 8, 1) and y.shape == (5, 2) and y.sum(axis=1).tolist() == [1.0] * 5
    x, y = nn.image_dataset_from_directory(folder, image_size=(8, 8), label_mode="binary", verbose=False)[0]
    assert y.shape == (5, 1) and y.dtype == np.float32


@needs_pillow
def test_image_dataset_trains_a_model(tmp_path):
    folder = _folder(tmp_path)
    data = nn.image_dataset_from_directory(folder, image_size=(4, 4), batch_size=2, seed=1, verbose=False)
    model = nn.Sequential([nn.Rescaling(1 / 255, input_shape=(3, 4, 4)), nn.Flatten(), nn.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(data, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


@needs_pillow
@pytest.mark.parametrize("kwargs, message", [
    ({"label_mode": "sparse"}, "label_mode must be one of"),
    ({"image_size": (4,)}, r"image_size must be \(height, width\)"),
    ({"validation_split": 0.2}, "validation_split and subset go together"),
    ({"labels": [0, 1]}, "only labels='inferred'"),
])
def test_image_dataset_refuses_bad_arguments_by_name(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.image_dataset_from_directory(_folder(tmp_path), verbose=False, **kwargs)


@needs_pillow
def test_image_dataset_names_a_broken_image(tmp_path):
    folder = _folder(tmp_path)
    (folder / "dogs" / "broken.png").write_bytes(b"not a png")
    data = nn.image_dataset_from_directory(folder, image_size=(4, 6), shuffle=False, verbose=False)
    with pytest.raises(ValueError, match=r"cannot read .*broken.png as an image"):
        list(data)


# ----------------------------------------------------------------------------- session and values

def test_clear_session_resets_the_layer_names():
    nn.Dense(2)
    nn.clear_session()
    assert nn.Dense(2).name == "dense" and nn.Dense(2).name == "dense_1"


def test_get_value_and_set_value(device):
    w = mg.tensor(np.ones((2, 2), np.float32), device=device)
    mg.set_value(w, [[1, 2], [3, 4]])
    assert mg.get_value(w).tolist() == [[1.0, 2.0], [3.0, 4.0]] and w.dtype == np.float32
    assert mg.get_value(0.5) == 0.5
    with pytest.raises(ValueError, match=r"set_value: value of shape \(3,\) does not fit the tensor of shape \(2, 2\)"):
        mg.set_value(w, [1, 2, 3])
    with pytest.raises(TypeError, match=r"a number cannot be changed in place.*learning_rate = value"):
        mg.set_value(0.01, 0.1)
