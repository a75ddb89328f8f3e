"""The helpers of keras.utils the lessons reach for: to_categorical, image_dataset_from_directory,
and clear_session (keras.backend's, which resets the automatic layer names).

    y = to_categorical(labels, 10)                           # (n,) ints -> (n, 10) one-hot rows
    train, val = image_dataset_from_directory("cats_vs_dogs/train", image_size=(150, 150),
                                              validation_split=0.2, subset="both", seed=1)
    model.fit(train, validation_data=val, epochs=5)

image_dataset_from_directory reads a folder of class subfolders (class_a/*.png, class_b/*.jpg)
and gives batches of (images, labels) as NumPy arrays, read from disk batch by batch; it needs
the optional Pillow package (pip install pillow) to decode and resize images.
"""
from __future__ import annotations

import os

import numpy as np

from . import data_format as formats
from . import module

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")      # Keras' ALLOWLIST_FORMATS
COLOR_CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}
PIL_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}


def clear_session() -> None:
    """Forget the automatic layer names, so the next Dense is 'dense' again (keras.backend's
    clear_session). Models already made keep their names and weights."""
    module._name_counts.clear()


def to_categorical(y, num_classes=None, dtype="float32"):
    """Integer class labels -> one-hot rows, as keras.utils.to_categorical.

    y of shape S (a trailing axis of size 1 is dropped, as Keras does) gives S + (num_classes,);
    num_classes defaults to max(y) + 1. Labels must be whole numbers in [0, num_classes): Keras
    wraps a -1 to the last class and truncates 1.5 to 1, silently; both are errors here.
    dtype float32 (Keras 3 returns float64; minigrad models train in float32).
    """
    labels = np.asarray(y)
    if labels.dtype.kind not in "biuf":
        raise TypeError(f"to_categorical: y must hold integer class labels, got dtype {labels.dtype}")
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
            raise ValueError("to_categorical: y holds values that are not whole numbers (e.g. "
                             f"{labels[labels != np.round(labels)].reshape(-1)[:1].tolist()}); class labels "
                             "are integers 0, 1, ...")
    labels = labels.astype(np.int64)
    shape = labels.shape[:-1] if labels.ndim > 1 and labels.shape[-1] == 1 else labels.shape
    flat = labels.reshape(-1)
    if num_classes is None:
        num_classes = int(flat.max()) + 1 if flat.size else 0
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"to_categorical: num_classes must be a positive integer, got {num_classes!r}")
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must lie in [0, {num_classes}), got min {int(flat.min())}, "
                         f"max {int(flat.max())}" + ("; raise num_classes" if flat.max() >= num_classes else ""))
    out = np.zeros((flat.size, int(num_classes)), dtype=dtype)
    out[np.arange(flat.size), flat] = 1
    return out.reshape(tuple(shape) + (int(num_classes),))


# ---------------------------------------------------------------------- image folders

def _pillow():
    try:
        from PIL import Image        # optional third-party package: Pillow
    except ImportError as exc:
        raise ImportError("image_dataset_from_directory needs the Pillow package to read images: "
                          "pip install pillow") from exc
    return Image


def _index_directory(directory, class_names, follow_links):
    """(file paths, integer labels, class names): every image under each class subfolder, the
    classes in alphanumeric order (Keras' rule) and each class's files in sorted order."""
    folders = sorted(d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d)))
    if class_names is None:
        class_names = folders
    else:
        class_names = list(class_names)
        missing = sorted(set(class_names) - set(folders))
        if missing or sorted(class_names) != sorted(set(class_names)):
            raise ValueError(f"image_dataset_from_directory: class_names {class_names} must name each subfolder "
                             f"of {directory!r} once; its subfolders are {folders}")
    paths, labels = [], []
    for label, name in enumerate(class_names):
        found = []
        for root, _, files in os.walk(os.path.join(directory, name), followlinks=follow_links):
            found += [os.path.join(root, f) for f in files if f.lower().endswith(IMAGE_EXTENSIONS)]
        found.sort()
        paths += found
        labels += [label] * len(found)
    return paths, np.array(labels, dtype=np.int64), class_names


class ImageDataset:
    """Batches (images, labels) of image files, read and resized when the batch is asked for.

    len(dataset) is the number of batches; iterating gives them in order, or, with shuffle, in
    a new order each pass (drawn from `seed`, so two runs with one seed see the same batches).
    images: float32 in [0, 255], (batch, channels, height, width) under channels_first,
    (batch, height, width, channels) under channels_last; labels as label_mode says.
    """

    def __init__(self, paths, labels, class_names, label_mode, color_mode, batch_size, image_size,
                 shuffle, seed, interpolation, data_format):
        self.file_paths, self._labels, self.class_names = list(paths), labels, list(class_names)
        self.label_mode, self.color_mode = label_mode, color_mode
        self.batch_size, self.image_size = batch_size, image_size
        self.shuffle, self.seed, self.interpolation = shuffle, seed, interpolation
        self.data_format = data_format
        self._passes = 0

    def __len__(self):
        return -(-len(self.file_paths) // self.batch_size)

    def _labels_for(self, index):
        labels = self._labels[index]
        if self.label_mode == "int":
            return labels.astype(np.int32)
        if self.label_mode == "binary":
            return labels.astype(np.float32).reshape(-1, 1)
        return to_categorical(labels, len(self.class_names))

    def _read(self, path):
        image_module = _pillow()
        resample = {"nearest": image_module.Resampling.NEAREST, "bilinear": image_module.Resampling.BILINEAR,
                    "bicubic": image_module.Resampling.BICUBIC}[self.interpolation]
        try:
            with image_module.open(path) as image:
                image = image.convert(PIL_MODES[self.color_mode])
                height, width = self.image_size
                if image.size != (width, height):
                    image = image.resize((width, height), resample)
                pixels = np.asarray(image, dtype=np.float32)
        except OSError as exc:
            raise ValueError(f"image_dataset_from_directory: cannot read {path} as an image ({exc}); remove "
                             "it or replace it with a good file") from None
        pixels = pixels.reshape(pixels.shape[:2] + (-1,))                   # (H, W, C), also grayscale
        return pixels if self.data_format == "channels_last" else pixels.transpose(2, 0, 1)

    def batch(self, index):
        """The images and labels of these file indices."""
        images = np.stack([self._read(self.file_paths[i]) for i in index])
        if self.label_mode is None:
            return images
        return images, self._labels_for(np.asarray(index))

    def __getitem__(self, i):
        """Batch i in file order (the order of one unshuffled pass)."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"batch {i} of an ImageDataset of {len(self)} batches")
        i %= len(self)
        return self.batch(range(i * self.batch_size, min((i + 1) * self.batch_size, len(self.file_paths))))

    def __iter__(self):
        order = np.arange(len(self.file_paths))
        if self.shuffle:
            seed = None if self.seed is None else (self.seed, self._passes)
            np.random.default_rng(seed).shuffle(order)
        self._passes += 1
        for start in range(0, len(order), self.batch_size):
            yield self.batch(order[start:start + self.batch_size])

    def __repr__(self):
        return (f"ImageDataset({len(self.file_paths)} files, {len(self.class_names)} classes, "
                f"{len(self)} batches of {self.batch_size})")


def _check_choice(value, options, what):
    if value not in options:
        raise ValueError(f"image_dataset_from_directory: {what} must be one of {list(options)}, got {value!r}")


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                 color_mode="rgb", batch_size=32, image_size=(256, 256), shuffle=True,
                                 seed=None, validation_split=None, subset=None, interpolation="bilinear",
                                 follow_links=False, data_format=None, verbose=True):
    """keras.utils.image_dataset_from_directory: class subfolders of images -> batches.

        directory/
            cats/  cat001.jpg, ...
            dogs/  dog001.png, ...
    gives batches (images, labels), labels 0 for 'cats', 1 for 'dogs' (alphanumeric order; or
    class_names= to choose it), each image converted to color_mode and resized to image_size.

    label_mode   "int" (int32 labels), "categorical" (one-hot float32), "binary" (float32 (n, 1);
                 two classes), None (images only)
    validation_split, subset   hold out the last fraction of the (shuffled) files: subset=
                 "training", "validation" or "both" (a pair); with shuffle, give seed= so both
                 subsets come from the same shuffle (Keras requires it too)
    As Keras, the files are shuffled once (with seed) before the split, and each pass over a
    shuffled dataset visits its batches in a new order. Keras' tf.data pipeline cannot be
    matched draw for draw: the files in each batch differ from Keras' for the same seed.
    Needs Pillow (pip install pillow); resizing is Pillow's (not TensorFlow's) interpolation.
    """
    if labels != "inferred":
        raise ValueError("image_dataset_from_directory: only labels='inferred' (the subfolder names) is "
                         f"supported, got {labels!r}; arrange the files in one subfolder per class")
    _check_choice(label_mode, ("int", "categorical", "binary", None), "label_mode")
    _check_choice(color_mode, tuple(COLOR_CHANNELS), "color_mode")
    _check_choice(interpolation, ("nearest", "bilinear", "bicubic"), "interpolation")
    _check_choice(subset, ("training", "validation", "both", None), "subset")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"image_dataset_from_directory: batch_size must be a positive integer, got {batch_size!r}")
    image_size = tuple(image_size)
    if len(image_size) != 2 or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1
                                   for n in image_size):
        raise ValueError(f"image_dataset_from_directory: image_size must be (height, width), got {image_size}")
    if (validation_split is None) != (subset is None):
        raise ValueError("image_dataset_from_directory: validation_split and subset go together: give both "
                         f"(e.g. validation_split=0.2, subset='both') or neither; got {validation_split!r} and "
                         f"{subset!r}")
    if validation_split is not None and not 0 < validation_split < 1:
        raise ValueError(f"image_dataset_from_directory: validation_split must be in (0, 1), got {validation_split!r}")
    if validation_split is not None and shuffle and seed is None:
        raise ValueError("image_dataset_from_directory: with validation_split and shuffle=True, give seed= so "
                         "that the training and validation subsets come from one shuffle (they would overlap)")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"image_dataset_from_directory: {directory!r} is not a folder")
    data_format = formats.normalize(data_format, "image_dataset_from_directory")
    _pillow()                                           # a clear error now, not at the first batch

    paths, label_array, class_names = _index_directory(os.fspath(directory), class_names, follow_links)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f"image_dataset_from_directory: label_mode='binary' needs exactly 2 classes, found "
                         f"{len(class_names)}: {class_names}; use 'int' or 'categorical'")
    if verbose:
        print(f"Found {len(paths)} files belonging to {len(class_names)} classes.")
    if not paths:
        raise ValueError(f"image_dataset_from_directory: no images ({', '.join(IMAGE_EXTENSIONS)}) in the "
                         f"class subfolders of {directory!r}")
    if shuffle:
        order = np.random.default_rng(seed).permutation(len(paths))
        paths, label_array = [paths[i] for i in order], label_array[order]

    def dataset(index, shuffled):
        return ImageDataset([paths[i] for i in index], label_array[index], class_names, label_mode, color_mode,
                            int(batch_size), image_size, shuffled, seed, interpolation, data_format)

    everything = np.arange(len(paths))
    if validation_split is None:
        return dataset(everything, shuffle)
    n_validation = int(validation_split * len(paths))
    if n_validation == 0 or n_validation == len(paths):
        raise ValueError(f"image_dataset_from_directory: validation_split={validation_split} of {len(paths)} files "
                         f"leaves {len(paths) - n_validation} for training and {n_validation} for validation; "
                         "both need at least one")
    training = dataset(everything[:-n_validation], shuffle)
    validation = dataset(everything[-n_validation:], False)
    if verbose and subset in ("training", "both"):
        print(f"Using {len(training.file_paths)} files for training.")
    if verbose and subset in ("validation", "both"):
        print(f"Using {len(validation.file_paths)} files for validation.")
    return {"training": training, "validation": validation, "both": (training, validation)}[subset]
