"""Image augmentation layers, Keras 3's names: RandomTranslation, RandomRotation, RandomZoom,
RandomFlip, and Rescaling.

    data_augmentation = Sequential([RandomFlip("horizontal"), RandomRotation(0.1), RandomZoom(0.2)])
    model = Sequential([data_augmentation, Conv2D(32, 3, activation="relu"), ...])

The random layers change every image of a batch differently, and only while training: fit()
runs the model in training mode, predict() and evaluate() in inference mode, where these
layers return their input unchanged (so do `layer(x, training=False)` and `model.eval()`).
A layer called on its own is in training mode, as in Keras 3, so `data_augmentation(images)`
shows what the network will be trained on.

How a geometric augmentation works. Each output pixel (row y, column x) reads the input at a
point (x_in, y_in) given by an affine map of (x, y), one per image (Keras' 8-number transform
[a0, a1, a2, b0, b1, b2, c0, c1], see affine_transform below). Pixel centres sit at integer
coordinates, and the point generally falls between four pixels, so the output is their
bilinear mix:

    out = (1-dy)(1-dx) in[y0, x0] + (1-dy) dx in[y0, x0+1] + dy (1-dx) in[y0+1, x0] + dy dx in[y0+1, x0+1]
    y0 = floor(y_in), dy = y_in - y0 (x alike)

Neighbours outside the image are read according to fill_mode (Keras' four):
    reflect   (d c b a | a b c d | d c b a)   reflect about the edge of the last pixel (default)
    wrap      (a b c d | a b c d | a b c d)
    nearest   (a a a a | a b c d | d d d d)
    constant  (k k k k | a b c d | k k k k)   k = fill_value
Each neighbour's index is mapped on its own (as Keras' NumPy and JAX backends do), so a
half-pixel shift in "constant" mode mixes the edge pixel with fill_value.

The output is linear in the input (weights that depend only on the random transform), so the
gradient with respect to the input flows: it is the same weights, scattered back onto the
pixels read (take_along_axis' backward). No gradient flows to the random transform itself.

The transforms (each random number drawn per image, uniformly in [lower, upper]):
    RandomTranslation  dy = u * H, dx = u * W pixels; out(x, y) = in(x - dx, y - dy)
                       (positive: down / right)
    RandomRotation     angle = u * 2 pi about the centre ((W-1)/2, (H-1)/2); positive is
                       counter-clockwise, so a quarter turn of a square image is np.rot90
    RandomZoom         z = 1 + u about the centre; z > 1 reads a larger area: zooms out
    RandomFlip         mirror left-right and/or top-bottom, each with probability 1/2
A number f means [-|f|, |f|]; a pair (lower, upper) the interval between them. Factors are
fractions in [-1, 1] (of the height/width; of a full turn for the rotation).

Randomness: the device's seeded generator (mg.manual_seed), or the layer's own stream when it
is given seed= (Keras' meaning of the argument).
"""
from __future__ import annotations

import math
import numbers

from ..engine import backend
from ..engine.function import constant
from ..engine.ops.elementwise import where
from ..engine.ops.indexing import take_along_axis
from ..engine.tensor import Tensor
from .conv_layers import ImageLayer
from .module import Module

__all__ = ["RandomTranslation", "RandomRotation", "RandomZoom", "RandomFlip", "Rescaling",
           "affine_transform"]

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")


# ---------------------------------------------------------------------- sampling

def _fix_index(i, n, fill_mode, xp):
    """Integer positions i (any, possibly outside [0, n)) -> (positions inside, valid mask or None).

    Only "constant" needs the mask: outside the image it reads fill_value instead of a pixel.
    """
    if fill_mode == "constant":
        return xp.clip(i, 0, n - 1), (i >= 0) & (i < n)
    if fill_mode == "nearest":
        return xp.clip(i, 0, n - 1), None
    if fill_mode == "wrap":
        return i % n, None
    m = i % (2 * n)                                   # reflect: period 2n, mirrored second half
    return xp.where(m >= n, 2 * n - 1 - m, m), None


def affine_transform(images: Tensor, transform, interpolation="bilinear", fill_mode="constant",
                     fill_value=0.0) -> Tensor:
    """Resample NCHW images through an affine (or projective) map, one per image.

    transform: (N, 8) or (8,) numbers [a0, a1, a2, b0, b1, b2, c0, c1] (Keras' and TF's
    convention), mapping each OUTPUT pixel (x = column, y = row) to the INPUT point it reads:
        k = c0 x + c1 y + 1,   x_in = (a0 x + a1 y + a2) / k,   y_in = (b0 x + b1 y + b2) / k
    [1, 0, 0, 0, 1, 0, 0, 0] is the identity; [1, 0, -3, 0, 1, 0, 0, 0] shifts right by 3.

    out = sum over the (up to) four neighbours of weight * pixel: linear in `images`, so
    d out / d images is those weights (scattered back by take_along_axis' backward).
    Integer images (uint8) are resampled, and returned, in the default float type.
    """
    op = "affine_transform"
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"{op}: interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    if fill_mode not in FILL_MODES:
        raise ValueError(f"{op}: fill_mode must be one of {FILL_MODES}, got {fill_mode!r}")
    if not isinstance(images, Tensor) or images.ndim != 4:
        raise ValueError(f"{op}: images must be a 4-d NCHW tensor, got shape {getattr(images, 'shape', None)}")
    if not backend.is_floating(images.dtype):     # integer pixels are interpolated as floats
        images = images.astype(backend.default_float_dtype())
    n, c, h, w = images.shape
    xp = backend.xp_of(images.data)
    t = transform.data if isinstance(transform, Tensor) else transform
    # coordinates in the images' precision (float32 while training: half the memory traffic)
    ctype = images.dtype if backend.is_floating(images.dtype) else backend.np.dtype("float64")
    t = xp.asarray(t, dtype=ctype)
    if t.shape == (8,):
        t = xp.broadcast_to(t, (n, 8))
    if t.shape != (n, 8):
        raise ValueError(f"{op}: transform must have shape (8,) or (N, 8) = ({n}, 8) for images of shape "
                         f"{images.shape}, got {tuple(t.shape)}")
    a0, a1, a2, b0, b1, b2, c0, c1 = (t[:, i].reshape(n, 1, 1) for i in range(8))
    rows = xp.arange(h, dtype=ctype).reshape(1, h, 1)
    cols = xp.arange(w, dtype=ctype).reshape(1, 1, w)
    k = c0 * cols + c1 * rows + 1.0
    x_in = (a0 * cols + a1 * rows + a2) / k                     # (N, H, W): where each output pixel reads
    y_in = (b0 * cols + b1 * rows + b2) / k

    if interpolation == "nearest":
        ones = xp.ones(x_in.shape, dtype=ctype)
        corners = [(xp.round(y_in), xp.round(x_in), ones)]
    else:
        y0, x0 = xp.floor(y_in), xp.floor(x_in)
        dy, dx = y_in - y0, x_in - x0
        corners = [(y0, x0, (1 - dy) * (1 - dx)), (y0, x0 + 1, (1 - dy) * dx),
                   (y0 + 1, x0, dy * (1 - dx)), (y0 + 1, x0 + 1, dy * dx)]
    flat, weights = [], []
    for yy, xx, weight in corners:
        iy, valid_y = _fix_index(yy.astype("int32"), h, fill_mode, xp)
        ix, valid_x = _fix_index(xx.astype("int32"), w, fill_mode, xp)
        if valid_y is not None:
            weight = weight * (valid_y & valid_x)               # out of the image: no pixel read
        flat.append(iy * w + ix)
        weights.append(weight)
    m = len(corners)
    index = xp.stack(flat, axis=1).reshape(n, 1, m * h * w)     # (N, 1, m*H*W), the same for every channel
    index = xp.ascontiguousarray(xp.broadcast_to(index, (n, c, m * h * w)))
    weight = xp.stack(weights, axis=1).reshape(n, 1, m, h, w)
    picked = take_along_axis(images.reshape(n, c, h * w), index, axis=2).reshape(n, c, m, h, w)
    out = (picked * constant(weight.astype(images.dtype))).sum(axis=2)
    if fill_mode == "constant" and fill_value != 0:
        outside = 1.0 - weight.sum(axis=2)                      # the weight that fell off the image
        out = out + constant((fill_value * outside).astype(images.dtype))
    return out


# ---------------------------------------------------------------------- argument checks

def _number(value, what, layer):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{layer}: {what} must be a finite number, got {value!r}")
    return float(value)


def _factor_range(factor, what, layer, low=-1.0, high=1.0):
    """Keras' factor argument: f -> (-|f|, |f|); (a, b) -> (min, max); each in [low, high]."""
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise ValueError(f"{layer}: {what} must be a number or a pair (lower, upper), got {factor!r}")
        lower, upper = sorted(_number(f, what, layer) for f in factor)
    else:
        f = abs(_number(factor, what, layer))
        lower, upper = -f, f
    if lower < low or upper > high:
        raise ValueError(f"{layer}: {what} must lie in [{low:g}, {high:g}] (a fraction), got {factor!r}; "
                         f"e.g. {what}=0.1 for up to 10%")
    return lower, upper


def _choice(value, options, what, layer):
    if value not in options:
        raise ValueError(f"{layer}: {what} must be one of {options}, got {value!r}")
    return value


# ---------------------------------------------------------------------- the layers

class _RandomImageLayer(ImageLayer):
    """What the random layers share: inference-mode identity, per-image random numbers, shapes."""

    def __init__(self, seed=None, name=None, input_shape=None, data_format=None):
        super().__init__(name=name, input_shape=input_shape, data_format=data_format)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"{type(self).__name__}: seed must be an int or None, got {seed!r}")
        self.seed = seed
        # seed=None: the device's generator (mg.manual_seed); an int: the layer's own stream
        self._rng = None if seed is None else backend.np.random.default_rng(int(seed))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _forward(self, x, *args, **kwargs):
        if isinstance(x, Tensor) and not backend.is_floating(x.dtype):
            # uint8 images come out as the layer's float type, as Keras' (interpolating in
            # integers would round every weight to 0)
            x = x.astype(self.dtype)
        if not self.training:               # inference: the image as it is (no layout round trip)
            return x
        return super()._forward(x, *args, **kwargs)

    def _uniform(self, lower, upper, n, like: Tensor):
        """n numbers uniform in [lower, upper), float64, on like's device."""
        xp = backend.xp_of(like.data)
        if self._rng is not None:
            u = xp.asarray(self._rng.random(n))
        else:
            with backend.device_context(like.device):
                u = backend.generator(like.device).random((n,), dtype="float64")
        return lower + (upper - lower) * u


class _AffineLayer(_RandomImageLayer):
    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, **kwargs):
        super().__init__(seed=seed, **kwargs)
        layer = type(self).__name__
        self.fill_mode = _choice(fill_mode, FILL_MODES, "fill_mode", layer)
        self.interpolation = _choice(interpolation, INTERPOLATIONS, "interpolation", layer)
        self.fill_value = _number(fill_value, "fill_value", layer)

    def forward(self, x):
        return affine_transform(x, self.random_transform(x), self.interpolation, self.fill_mode,
                                self.fill_value)


class RandomTranslation(_AffineLayer):
    """Shift each image by a random fraction of its height and width (while training).

    RandomTranslation(height_factor, width_factor, fill_mode="reflect", interpolation="bilinear",
                      seed=None, fill_value=0.0, data_format=None)
    height_factor=0.1: up to 10% of the height up or down (positive: down); (-0.2, 0.3): from
    20% up to 30% down. width_factor alike (positive: right). Shifts need not be whole pixels.
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear",
                 seed=None, fill_value=0.0, data_format=None, name=None, input_shape=None):
        super().__init__(fill_mode, interpolation, seed, fill_value, name=name, input_shape=input_shape,
                         data_format=data_format)
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_range = _factor_range(height_factor, "height_factor", "RandomTranslation")
        self.width_range = _factor_range(width_factor, "width_factor", "RandomTranslation")

    def random_transform(self, x):
        n, _, h, w = x.shape
        dy = self._uniform(*self.height_range, n, x) * h
        dx = self._uniform(*self.width_range, n, x) * w
        xp = backend.xp_of(dy)
        one, zero = xp.ones(n), xp.zeros(n)
        return xp.stack([one, zero, -dx, zero, one, -dy, zero, zero], axis=1)


class RandomRotation(_AffineLayer):
    """Rotate each image by a random angle about its centre (while training).

    RandomRotation(factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                   data_format=None)
    factor is a fraction of a full turn: 0.1 rotates by up to +-36 degrees; (-0.05, 0.1) from 18
    degrees clockwise to 36 counter-clockwise. Positive angles turn counter-clockwise.
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, name=None, input_shape=None):
        super().__init__(fill_mode, interpolation, seed, fill_value, name=name, input_shape=input_shape,
                         data_format=data_format)
        self.factor = factor
        self.range = _factor_range(factor, "factor", "RandomRotation")

    def random_transform(self, x):
        n, _, h, w = x.shape
        angle = self._uniform(*self.range, n, x) * (2 * math.pi)
        return rotation_transform(angle, h, w)


def rotation_transform(angle, height, width):
    """The (N, 8) transforms that rotate by `angle` (radians, counter-clockwise, an array) about
    the image centre: the output pixel (x, y) reads the input at centre + R(angle) (p - centre)."""
    xp = backend.xp_of(angle)
    cos, sin = xp.cos(angle), xp.sin(angle)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    zero = xp.zeros(angle.shape)
    return xp.stack([cos, -sin, cx - cos * cx + sin * cy,
                     sin, cos, cy - sin * cx - cos * cy, zero, zero], axis=1)


class RandomZoom(_AffineLayer):
    """Zoom each image in or out by a random factor about its centre (while training).

    RandomZoom(height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear",
               seed=None, fill_value=0.0, data_format=None)
    height_factor=0.2: zoom by 1 + u, u in [-0.2, 0.2]; positive u zooms OUT (the image shrinks
    and the border is filled), negative zooms in. width_factor=None keeps the aspect ratio
    (the same factor both ways); otherwise the width gets its own random factor.
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear",
                 seed=None, fill_value=0.0, data_format=None, name=None, input_shape=None):
        super().__init__(fill_mode, interpolation, seed, fill_value, name=name, input_shape=input_shape,
                         data_format=data_format)
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_range = _factor_range(height_factor, "height_factor", "RandomZoom")
        self.width_range = None if width_factor is None else \
            _factor_range(width_factor, "width_factor", "RandomZoom")

    def random_transform(self, x):
        n, _, h, w = x.shape
        zy = 1.0 + self._uniform(*self.height_range, n, x)
        zx = zy if self.width_range is None else 1.0 + self._uniform(*self.width_range, n, x)
        xp = backend.xp_of(zy)
        zero = xp.zeros(n)
        # x_in = cx + zx (x - cx): about the centre, so the centre pixel stays where it is
        return xp.stack([zx, zero, (w - 1) / 2.0 * (1 - zx),
                         zero, zy, (h - 1) / 2.0 * (1 - zy), zero, zero], axis=1)


class RandomFlip(_RandomImageLayer):
    """Mirror each image with probability 1/2 (while training): exact, no interpolation.

    RandomFlip(mode="horizontal_and_vertical", seed=None, data_format=None)
    mode "horizontal" flips left-right, "vertical" top-bottom, "horizontal_and_vertical" each
    independently (so a quarter of the images are turned by 180 degrees).
    """
    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, name=None,
                 input_shape=None):
        super().__init__(seed=seed, name=name, input_shape=input_shape, data_format=data_format)
        self.mode = _choice(mode, self.MODES, "mode", "RandomFlip")

    def forward(self, x):
        n = x.shape[0]
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            flip = (self._uniform(0.0, 1.0, n, x) < 0.5).reshape(n, 1, 1, 1)
            x = where(flip, x[:, :, :, ::-1], x)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            flip = (self._uniform(0.0, 1.0, n, x) < 0.5).reshape(n, 1, 1, 1)
            x = where(flip, x[:, :, ::-1, :], x)
        return x


class Rescaling(Module):
    """x * scale + offset, in training and inference alike (e.g. Rescaling(1/255) for bytes).

    Rescaling(scale, offset=0.0); works on any shape. d out / d x = scale.
    """

    def __init__(self, scale, offset=0.0, name=None, input_shape=None):
        super().__init__(name=name, input_shape=input_shape)
        self.scale = _number(scale, "scale", "Rescaling")
        self.offset = _number(offset, "offset", "Rescaling")

    def forward(self, x):
        return x * self.scale + self.offset

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)
