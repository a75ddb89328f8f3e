"""Image data format: channels-first (NCHW, minigrad's default) or channels-last (NHWC, Keras').

    nn.set_image_data_format("channels_last")     # like keras.config.set_image_data_format
    Conv2D(32, 3, input_shape=(28, 28, 1))        # the lessons' shapes, verbatim

Image layers take `data_format=` ("channels_first" | "channels_last"); left out, they use the
global setting at the time the layer is made (as Keras). Inside, every image op computes in
NCHW: a channels-last layer transposes its input to NCHW and its output back, which costs two
copies per layer, the price of running Keras' layout on minigrad's kernels.
"""
from __future__ import annotations

FORMATS = ("channels_first", "channels_last")
_image_data_format = "channels_first"


def image_data_format() -> str:
    return _image_data_format


def set_image_data_format(data_format: str) -> None:
    """Set the default for image layers made from now on."""
    global _image_data_format
    _image_data_format = normalize(data_format, "set_image_data_format")


def normalize(data_format, where="data_format") -> str:
    """A valid format name; None means the global default."""
    if data_format is None:
        return _image_data_format
    value = str(data_format).lower()
    if value not in FORMATS:
        raise ValueError(f"{where}: data_format must be 'channels_first' or 'channels_last', got {data_format!r}")
    return value


def to_channels_first(shape: tuple) -> tuple:
    """(H, W, C) -> (C, H, W), per sample."""
    return (shape[-1],) + tuple(shape[:-1])


def to_channels_last(shape: tuple) -> tuple:
    """(C, H, W) -> (H, W, C), per sample."""
    return tuple(shape[1:]) + (shape[0],)
