# %% [markdown]
# # Cats vs dogs with a pretrained VGG16: feature extraction, then fine-tuning (Chollet, Deep
# Learning with Python, 5.3), on Keras' ImageNet weights read into minigrad.
#
#     python examples/cats_vs_dogs.py --data ~/data/cats_and_dogs_small      # the lesson
#     python examples/cats_vs_dogs.py                  # no files: the tiny stand-in (seconds)
#
# What it needs, and where (nothing is downloaded):
#     the weights  vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 (58.9 MB) from
#                  https://storage.googleapis.com/tensorflow/keras-applications/vgg16/ , in
#                  ~/.keras/models/ (where Keras keeps it) or $MINIGRAD_DATA, or --weights PATH
#     the images   the lesson's folders, --data DIR (default $MINIGRAD_DATA/cats_and_dogs_small):
#                      DIR/train/cats/*.jpg  DIR/train/dogs/*.jpg        (1,000 each in the lesson)
#                      DIR/validation/cats/  DIR/validation/dogs/        (500 each)
#                  read with Pillow (it comes with matplotlib) and resized to --image-size (150)
# Without either, it says so and runs on a stand-in instead: a small VGG-like net of the same
# layer structure (widths 4..8) with random weights, written in Keras' file layout and read back
# through the same loader, and a few hundred generated 32x32 "cats" (horizontal stripes) and
# "dogs" (vertical stripes). The stand-in shows the recipe running, not ImageNet's features.
#
# The recipe, as the lesson:
# 1. Feature extraction. conv_base = VGG16(weights="imagenet", include_top=False), frozen; its
#    features of every image (N, 512, 4, 4 for 150x150) are computed once, flattened, and a
#    small classifier is trained on them: Dense 256 relu -> Dropout 0.5 -> Dense 1 sigmoid,
#    RMSprop(lr=2e-5), binary cross-entropy, --epochs (30), batch 20.
# 2. Fine-tuning. The base and that trained classifier stacked (base -> Flatten -> classifier),
#    block5 unfrozen (block5_conv1 and above; blocks 1-4 stay frozen, their features are the
#    most generic), compiled again with RMSprop(lr=1e-5) and trained end to end,
#    --fine-tune-epochs (the lesson: 100, with data augmentation; none here).
#
# Writes to --out (default runs/cats_vs_dogs): curves.png (accuracy of both stages, train and
# validation), examples.png (validation images with the fine-tuned P(dog)) and metrics.json
# (accuracies per epoch, where weights and images came from, how far fine-tuning moved each
# layer's weights — zero for the frozen blocks 1-4 —, sizes, wall times). With random stand-in
# weights the features carry little (13 random relu convolutions), and with the lesson's small
# learning rates a few epochs stay near chance; with the ImageNet features the book reports
# about 90% validation accuracy from feature extraction and about 97% after fine-tuning (with
# data augmentation) — figures from the book, not measured here.

# %%
import os
from pathlib import Path

import numpy as np
import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)

from minigrad.interop import save_keras_weights
from minigrad.nn import Dense, Dropout, Flatten, Sequential
from minigrad.optim import RMSprop
from models.vgg16 import VGG16, find_imagenet_weights, preprocess_input

CLASSES = ("cats", "dogs")
STANDIN_WIDTHS = (4, 4, 8, 8, 8)
STANDIN_SIZE = 32

# %% tags=["parameters"]
epochs = 30                # training epochs
fine_tune_epochs = 10      # end-to-end epochs with block5 unfrozen (the lesson: 100)
data = None                # the cats_and_dogs_small folder
weights = None             # path of Keras' VGG16 notop .h5 file
image_size = 150           # images are resized to this
stand_in = False           # use the stand-in even if the files exist
stand_in_images = 240      # how many stand-in images (2/3 train, 1/3 validation)
batch_size = 20            # mini-batch size
limit = None               # use only the first N training examples (quick runs)
seed = 0                   # random seed
device = "cpu"             # cpu, cuda or cuda:N
out = "runs/cats_vs_dogs"  # folder for the figures and metrics.json
verbose = 1                # 0 quiet, 1 progress bars, 2 one line per epoch

# %%
out = common.parameters(globals())

# %% [markdown]
# ## The images: the lesson's folders, or a stand-in
#
# `load_folder` reads DIR/cats and DIR/dogs (Pillow) and resizes them; `standin_images` makes
# striped "cats" and "dogs" when the folders are not there; `find_data` says which it is.

# %%
def load_folder(folder: Path, size: int, limit=None):
    """(images NCHW RGB 0..255 float32, labels 0 cat / 1 dog) from folder/cats and folder/dogs."""
    from PIL import Image
    images, labels = [], []
    for label, name in enumerate(CLASSES):
        files = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        for path in files[:limit]:
            with Image.open(path) as im:
                rgb = np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.float32)
            images.append(rgb.transpose(2, 0, 1))
            labels.append(label)
    return np.stack(images), np.asarray(labels, dtype=np.float32)


def standin_images(n, size, rng):
    """n images: label 0 horizontal stripes, 1 vertical, random period, phase, colours, noise."""
    labels = rng.integers(0, 2, n)
    rows = np.arange(size, dtype=np.float32)
    images = np.empty((n, 3, size, size), dtype=np.float32)
    for i, label in enumerate(labels):
        period, phase = rng.uniform(4, 10), rng.uniform(0, 2 * np.pi)
        wave = 0.5 + 0.5 * np.sin(2 * np.pi * rows / period + phase)
        pattern = wave[:, None] if label == 0 else wave[None, :]
        colour = rng.uniform(0.3, 1.0, (3, 1, 1))
        noise = rng.normal(0, 0.15, (3, size, size))
        images[i] = np.clip(colour * pattern + noise, 0, 1) * 255
    return images, labels.astype(np.float32)


def find_data():
    """The lesson's folder, or None (with the reason printed) when it is not there."""
    folder = Path(data) if data else \
        Path(os.environ.get("MINIGRAD_DATA", Path.home() / ".minigrad")) / "cats_and_dogs_small"
    needed = [folder / split / name for split in ("train", "validation") for name in CLASSES]
    missing = [str(p) for p in needed if not p.is_dir()]
    if missing:
        print(f"images: {missing[0]} not found; put the lesson's cats_and_dogs_small folders there "
              "(or pass --data DIR). Using generated stand-in images.")
        return None
    return folder

# %% [markdown]
# ## The conv base, the classifier, and what to unfreeze
#
# `VGG16(include_top=False, weights=...)` reads Keras' .h5 file into minigrad's layers (or, for
# the stand-in, a random VGG-like net written in the same layout and read back the same way).

# %%
def conv_base_for(image_size, out: Path):
    """(VGG16 conv base with loaded weights, where the weights came from)."""
    if not stand_in:
        try:
            path = Path(weights) if weights else find_imagenet_weights(include_top=False)
            if not path.is_file():
                raise FileNotFoundError(f"--weights {path} does not exist")
            base = VGG16(include_top=False, weights=path, input_shape=(3, image_size, image_size))
            return base, str(path)
        except (FileNotFoundError, ImportError) as exc:
            print(f"weights: {exc}\nUsing a small random VGG-like stand-in instead.")
    # The stand-in goes through the same loader: random weights written in Keras' layout first.
    random_base = VGG16(include_top=False, input_shape=(3, image_size, image_size), widths=STANDIN_WIDTHS)
    path = save_keras_weights(random_base, out / "standin_vgg16_notop.h5")
    base = VGG16(include_top=False, weights=path, input_shape=(3, image_size, image_size), widths=STANDIN_WIDTHS)
    return base, "stand-in"


def classifier(n_features, dropout=0.5):
    return Sequential([Dense(256, activation="relu", input_shape=(n_features,), name="head_dense"),
                       Dropout(dropout), Dense(1, activation="sigmoid", name="head_output")],
                      name="classifier")


def unfreeze_from(base, first_trainable="block5_conv1"):
    """Keras' set_trainable loop of the lesson: freeze every layer before `first_trainable`."""
    trainable = False
    for layer in base.layers:
        trainable = trainable or layer.name == first_trainable
        layer.trainable = trainable

# %%
# %% [markdown]
# ## Loading

# %%
rng = np.random.default_rng(seed)

folder = None if stand_in else find_data()
with common.Timer() as t_base:
    if folder is None:
        size = STANDIN_SIZE
        x, y = standin_images(stand_in_images if limit is None else min(stand_in_images, limit), size, rng)
        cut = 2 * len(x) // 3
        (x_train, y_train), (x_val, y_val) = (x[:cut], y[:cut]), (x[cut:], y[cut:])
        images_from = "stand-in"
    else:
        size = image_size
        x_train, y_train = load_folder(folder / "train", size, limit)
        x_val, y_val = load_folder(folder / "validation", size, limit)
        images_from = str(folder)
    base, weights_from = conv_base_for(size, out)
print(f"conv base: VGG16 from {weights_from}, output {base.output_shape}; images from {images_from}: "
      f"{len(x_train)} train, {len(x_val)} validation, {size}x{size}")

# %% [markdown]
# ## 1. Feature extraction
#
# The frozen base runs once over every image; a small classifier (Dense 256 relu →
# Dropout 0.5 → Dense 1 sigmoid) is trained on the flattened features with RMSprop(2e-5).

# %%
base.trainable = False
x_train, x_val = preprocess_input(x_train), preprocess_input(x_val)
with common.Timer() as t_features:
    f_train = base.predict(x_train, batch_size=batch_size).reshape(len(x_train), -1)
    f_val = base.predict(x_val, batch_size=batch_size).reshape(len(x_val), -1)
head = classifier(f_train.shape[1])
head.compile(optimizer=RMSprop(lr=2e-5), loss="binary_crossentropy", metrics=["accuracy"])
with common.Timer() as t_head:
    extraction = head.fit(f_train, y_train[:, None], epochs=epochs, batch_size=batch_size,
                          validation_data=(f_val, y_val[:, None]), verbose=verbose)
common.check_finite("feature-extraction loss", extraction.history["loss"][-1])

# %% [markdown]
# ## 2. Fine-tuning
#
# base → Flatten → the trained classifier, block5 unfrozen (blocks 1–4, the most generic
# features, stay frozen), compiled again with a lower rate, RMSprop(1e-5). The weight change
# per layer proves which layers moved: zero for blocks 1–4.

# %%
model = Sequential([base, Flatten(name="flatten"), head], name="vgg16_cats_vs_dogs")
base.trainable = True
unfreeze_from(base, "block5_conv1")
model.compile(optimizer=RMSprop(lr=1e-5), loss="binary_crossentropy", metrics=["accuracy"])
before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in base.layers + head.layers}
with common.Timer() as t_fine:
    fine = model.fit(x_train, y_train[:, None], epochs=fine_tune_epochs, batch_size=batch_size,
                     validation_data=(x_val, y_val[:, None]), verbose=verbose)
common.check_finite("fine-tuning loss", fine.history["loss"][-1])
p_dog = model.predict(x_val, batch_size=batch_size)[:, 0]
trainable = [layer.name for layer in base.layers if layer.trainable and layer.weights]
# how far fine-tuning moved each layer's weights: blocks 1-4 must not move at all
moved = {name: max((float(np.abs(a - b).max()) for a, b in zip(old, layer.get_weights())), default=0.0)
         for layer in base.layers + head.layers for name, old in [(layer.name, before[layer.name])]
         if old}

metrics = {
    "weights_from": weights_from, "images_from": images_from, "image_size": size,
    "n_train": len(x_train), "n_validation": len(x_val),
    "feature_shape": list(base.output_shape), "n_features": int(f_train.shape[1]),
    "feature_extraction": extraction.history, "fine_tuning": fine.history,
    "val_accuracy_features": extraction.history["val_accuracy"][-1],
    "val_accuracy_fine_tuned": fine.history["val_accuracy"][-1],
    "fine_tuned_layers": trainable, "fine_tuning_weight_change": moved,
    "settings": {"epochs": epochs, "fine_tune_epochs": fine_tune_epochs,
                 "batch_size": batch_size, "seed": seed, "head_lr": 2e-5, "fine_tune_lr": 1e-5},
    "stage_seconds": {"load": t_base.seconds, "features": t_features.seconds, "head": t_head.seconds,
                "fine_tuning": t_fine.seconds},
}
common.write_json(out / "metrics.json", metrics)

# %% [markdown]
# ## The curves, and validation images with the fine-tuned P(dog)

# %%
try:
    from minigrad import plot      # matplotlib: the examples extra
    plot.curves([{"train": extraction.history["accuracy"], "validation": extraction.history["val_accuracy"]},
                 {"train": fine.history["accuracy"], "validation": fine.history["val_accuracy"]}],
                path=out / "curves.png", title=["feature extraction", "fine-tuning (block5)"],
                ylabel="accuracy")
    shown = min(16, len(x_val))
    plot.image_grid(x_val[:shown, ::-1] + np.array([123.68, 116.779, 103.939], dtype=np.float32).reshape(1, 3, 1, 1),
                    path=out / "examples.png", value_range=(0, 255),
                    labels=[f"{CLASSES[int(y_val[i])][:-1]}: P(dog) {p_dog[i]:.2f}" for i in range(shown)])
    common.show(out / "curves.png", out / "examples.png")
except ImportError as exc:
    print(f"figures skipped ({exc}); pip install matplotlib")
print(f"validation accuracy: features {metrics['val_accuracy_features']:.3f}, "
      f"fine-tuned {metrics['val_accuracy_fine_tuned']:.3f} (weights: {weights_from}; images: {images_from})")
