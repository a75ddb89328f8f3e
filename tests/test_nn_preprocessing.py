"""Augmentation layers (RandomTranslation, RandomRotation, RandomZoom, RandomFlip, Rescaling) and
affine_transform: identity at inference, exact rotations/shifts/flips against NumPy, Keras' fill
modes, SciPy's map_coordinates where SciPy is installed, gradients w.r.t. the input for a fixed
transform (cpu, strict), seeding, channels-last, errors that name the layer."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import nn
from minigrad.nn.preprocessing import affine_transform, rotation_transform

from .conftest import to_device

IDENTITY = np.array([1, 0, 0, 0, 1, 0, 0, 0], dtype=np.float64)


def images(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def shift(dx, dy):
    """The transform that moves the content dx pixels right and dy down."""
    return np.array([1, 0, -dx, 0, 1, -dy, 0, 0], dtype=np.float64)


# ---------------------------------------------------------------------- inference: the identity

LAYERS = [lambda: nn.RandomTranslation(0.3, 0.3), lambda: nn.RandomRotation(0.2),
          lambda: nn.RandomZoom(0.3, 0.2), lambda: nn.RandomFlip()]


@pytest.mark.parametrize("make", LAYERS)
def test_identity_at_inference_active_in_training(make, device):
    x = to_device(images((6, 2, 9, 7)), device)
    layer = make()
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    layer.train()
    y = layer(x)                                         # a layer on its own trains, as Keras 3's
    assert y.shape == x.shape and y.device == device
    assert not np.allclose(y.numpy(), x.numpy())


def test_predict_and_evaluate_skip_augmentation_fit_applies_it():
    mg.manual_seed(1)
    x = images((16, 1, 8, 8)).astype(np.float32)
    y = np.arange(16) % 3
    plain = nn.Sequential([nn.Flatten(input_shape=(1, 8, 8)), nn.Dense(3, activation="softmax")])
    augmented = nn.Sequential([nn.RandomRotation(0.1, input_shape=(1, 8, 8)), nn.RandomZoom(0.2),
                               nn.RandomTranslation(0.2, 0.2), nn.RandomFlip("horizontal"), *plain.layers])
    np.testing.assert_array_equal(augmented.predict(x, verbose=0), plain.predict(x, verbose=0))
    augmented.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    plain.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert augmented.evaluate(x, y, verbose=0) == pytest.approx(plain.evaluate(x, y, verbose=0), abs=0)
    history = augmented.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert all(math.isfinite(v) for v in history.history["loss"])
    # the training-mode forward pass differs from the inference one: the augmentation is on in fit
    assert not np.allclose(augmented(x, training=True).numpy(), augmented(x, training=False).numpy())


def test_in_a_functional_model_and_summary():
    inputs = nn.Input((1, 12, 10))
    x = nn.Sequential([nn.RandomFlip("horizontal"), nn.RandomRotation(0.1), nn.RandomZoom(0.2)])(inputs)
    x = nn.Conv2D(4, 3)(x)
    model = nn.Model(inputs, x)
    assert model.output_shape == (4, 10, 8)
    data = images((3, 1, 12, 10)).astype(np.float32)
    assert model.predict(data, verbose=0).shape == (3, 4, 10, 8)


# ---------------------------------------------------------------------- exact cases against NumPy

@pytest.mark.parametrize("make", [lambda: nn.RandomTranslation(0.0, 0.0), lambda: nn.RandomRotation(0.0),
                                  lambda: nn.RandomZoom(0.0), lambda: nn.RandomZoom((0, 0), (0, 0))])
def test_zero_factor_is_the_identity_in_training(make, device):
    x = to_device(images((4, 3, 6, 5)), device)
    np.testing.assert_array_equal(make()(x).numpy(), x.numpy())


@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
@pytest.mark.parametrize("quarter_turns", [1, -1, 2])
def test_quarter_turns_equal_rot90(fill_mode, quarter_turns, device):
    """factor (f, f) with f = k/4 turns every image by k quarter turns: np.rot90 exactly on a
    square image (counter-clockwise for positive factors, as Keras)."""
    x = to_device(images((3, 2, 7, 7)), device)
    f = quarter_turns / 4
    y = nn.RandomRotation((f, f), fill_mode=fill_mode)(x).numpy()
    np.testing.assert_allclose(y, np.rot90(x.numpy(), quarter_turns, axes=(2, 3)), atol=1e-12)


def test_quarter_turn_of_a_non_square_image_on_the_interior(device):
    """A 90-degree turn of a 5x9 image about its centre: the 5x5 middle block equals rot90 of
    the input's 5x5 middle block (the rest comes from outside the input: fill)."""
    x = images((2, 1, 5, 9))
    y = nn.RandomRotation((0.25, 0.25))(to_device(x, device)).numpy()
    np.testing.assert_allclose(y[..., 2:7], np.rot90(x[..., 2:7], 1, axes=(2, 3)), atol=1e-12)


@pytest.mark.parametrize("dy,dx", [(2, 3), (-1, 2), (0, -4), (3, 0)])
def test_integer_shift_equals_roll(dy, dx, device):
    """A translation by whole pixels is np.roll: exactly, everywhere, with fill_mode="wrap"; on
    the pixels that stay inside for the other modes."""
    h, w = 8, 10
    x = images((2, 3, h, w))
    layer = nn.RandomTranslation((dy / h, dy / h), (dx / w, dx / w), fill_mode="wrap")
    rolled = np.roll(x, (dy, dx), axis=(2, 3))
    np.testing.assert_allclose(layer(to_device(x, device)).numpy(), rolled, atol=1e-12)
    inside = (slice(None), slice(None), slice(max(dy, 0), h + min(dy, 0)), slice(max(dx, 0), w + min(dx, 0)))
    for mode in ("reflect", "nearest", "constant"):
        layer = nn.RandomTranslation((dy / h, dy / h), (dx / w, dx / w), fill_mode=mode)
        y = layer(to_device(x, device)).numpy()
        np.testing.assert_allclose(y[inside], rolled[inside], atol=1e-12)


@pytest.mark.parametrize("mode,expected", [
    ("reflect", [4, 3, 2, 1]),      # (d c b a | a b c d)
    ("wrap", [1, 2, 3, 4]),         # (a b c d | a b c d)
    ("nearest", [1, 1, 1, 1]),      # (a a a a | a b c d)
    ("constant", [-7, -7, -7, -7]),  # (k k k k | a b c d)
])
def test_fill_modes_as_keras_documents_them(mode, expected, device):
    """The row (a b c d) = (1 2 3 4) moved 4 pixels right: what comes in from the left is the
    extension Keras' docs draw for each fill mode; 8 pixels right reads the next period."""
    row = np.array([[[[1.0, 2, 3, 4]]]])
    y = affine_transform(to_device(row, device), shift(4, 0), fill_mode=mode, fill_value=-7).numpy()
    np.testing.assert_array_equal(y[0, 0, 0], expected)
    far = affine_transform(to_device(row, device), shift(8, 0), fill_mode=mode, fill_value=-7).numpy()
    period = {"reflect": [1, 2, 3, 4], "wrap": [1, 2, 3, 4], "nearest": [1, 1, 1, 1], "constant": [-7] * 4}
    np.testing.assert_array_equal(far[0, 0, 0], period[mode])


def test_half_pixel_shift_mixes_neighbours_and_fill(device):
    row = np.array([[[[2.0, 4, 6, 8]]]])
    y = affine_transform(to_device(row, device), shift(0.5, 0), fill_mode="constant", fill_value=10).numpy()
    np.testing.assert_allclose(y[0, 0, 0], [6, 3, 5, 7])       # (10+2)/2, (2+4)/2, ...
    y = affine_transform(to_device(row, device), shift(0.5, 0), interpolation="nearest").numpy()
    # reads at -0.5, 0.5, 1.5, 2.5, rounded half to even (NumPy's rule): pixels 0, 0, 2, 2
    np.testing.assert_array_equal(y[0, 0, 0], [2, 2, 6, 6])
    assert y.shape == row.shape


def test_zoom_about_the_centre(device):
    """Zooming out by 2 (factor +1): output pixel x reads the input at c + 2 (x - c), c the centre."""
    x = images((1, 1, 5, 5))
    y = nn.RandomZoom((1.0, 1.0), fill_mode="constant")(to_device(x, device)).numpy()[0, 0]
    src = [-2, 0, 2, 4, 6]
    for i, si in enumerate(src):
        for j, sj in enumerate(src):
            inside = 0 <= si < 5 and 0 <= sj < 5
            assert y[i, j] == pytest.approx(x[0, 0, si, sj] if inside else 0.0, abs=1e-12)
    # width_factor on its own axis: zoom the width only
    y = nn.RandomZoom((0, 0), (1.0, 1.0), fill_mode="constant")(to_device(x, device)).numpy()[0, 0]
    np.testing.assert_allclose(y[:, 2], x[0, 0, :, 2])
    np.testing.assert_allclose(y[:, 1], x[0, 0, :, 0])


@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_flips_are_exact_and_per_image(mode, device):
    x = images((64, 2, 4, 5))
    y = nn.RandomFlip(mode)(to_device(x, device)).numpy()
    options = {"horizontal": [x, x[..., ::-1]], "vertical": [x, x[:, :, ::-1]],
               "horizontal_and_vertical": [x, x[..., ::-1], x[:, :, ::-1], x[:, :, ::-1, ::-1]]}[mode]
    chosen = []
    for i in range(len(x)):
        matches = [k for k, o in enumerate(options) if np.array_equal(y[i], o[i])]
        assert len(matches) == 1, f"image {i} is not one of the allowed flips"
        chosen.append(matches[0])
    assert set(chosen) == set(range(len(options)))         # 64 images: every option occurs


def test_scipy_map_coordinates_agrees():
    """Random affine maps, bilinear and nearest, each fill mode, against SciPy's order-1/0
    map_coordinates with the matching mode (SciPy's 'grid-constant' and 'grid-wrap')."""
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 2, 9, 8))
    angle = rng.uniform(-1, 1, 4)
    t = rotation_transform(angle, 9, 8)
    t[:, [0, 1, 3, 4]] *= rng.uniform(0.7, 1.3, (4, 1))           # a zoom on top
    t[:, [2, 5]] += rng.uniform(-3, 3, (4, 2))                     # and a shift
    modes = {"reflect": "reflect", "wrap": "grid-wrap", "nearest": "nearest", "constant": "grid-constant"}
    rows, cols = np.mgrid[0:9, 0:8].astype(np.float64)
    for ours, theirs in modes.items():
        for interpolation, order in (("bilinear", 1), ("nearest", 0)):
            y = affine_transform(mg.tensor(x), t, interpolation=interpolation, fill_mode=ours,
                                 fill_value=0.5).numpy()
            for n in range(4):
                a0, a1, a2, b0, b1, b2 = t[n, :6]
                coords = np.stack([b0 * cols + b1 * rows + b2, a0 * cols + a1 * rows + a2])
                for c in range(2):
                    ref = ndimage.map_coordinates(x[n, c], coords, order=order, mode=theirs, cval=0.5)
                    if order == 0:        # SciPy rounds halves up, NumPy to even: compare off the ties
                        off_tie = np.all(np.abs(coords % 1 - 0.5) > 1e-9, axis=0)
                        np.testing.assert_allclose(y[n, c][off_tie], ref[off_tie], atol=1e-12)
                    else:
                        np.testing.assert_allclose(y[n, c], ref, atol=1e-12, err_msg=f"{ours} {n} {c}")


def test_channels_last(device):
    x = images((3, 6, 7, 2))
    mg.manual_seed(4)
    last = nn.RandomRotation(0.2, data_format="channels_last")(to_device(x, device)).numpy()
    mg.manual_seed(4)
    first = nn.RandomRotation(0.2)(to_device(x.transpose(0, 3, 1, 2), device)).numpy()
    np.testing.assert_allclose(last, first.transpose(0, 2, 3, 1), atol=1e-12)
    assert nn.RandomFlip(data_format="channels_last").compute_output_shape((6, 7, 2)) == (6, 7, 2)


# ---------------------------------------------------------------------- randomness

@pytest.mark.parametrize("make", LAYERS)
def test_reproducible_under_manual_seed_and_seed_argument(make, device):
    x = to_device(images((8, 1, 6, 6)), device)
    mg.manual_seed(7)
    a = make()(x).numpy()
    mg.manual_seed(7)
    b = make()(x).numpy()
    np.testing.assert_array_equal(a, b)
    c = make()(x).numpy()                           # the stream moves on: another draw
    assert not np.array_equal(a, c)


def test_seed_argument_gives_the_layer_its_own_stream(device):
    x = to_device(images((8, 1, 6, 6)), device)
    a = nn.RandomRotation(0.2, seed=3)(x).numpy()
    mg.manual_seed(123)                             # the global seed does not matter with seed=
    b = nn.RandomRotation(0.2, seed=3)(x).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, nn.RandomRotation(0.2, seed=4)(x).numpy())


def test_each_image_gets_its_own_transform():
    x = np.repeat(images((1, 1, 8, 8)), 6, axis=0)
    y = nn.RandomTranslation(0.3, 0.3, seed=0)(mg.tensor(x)).numpy()
    assert len({y[i].tobytes() for i in range(6)}) == 6


def test_random_amounts_stay_in_the_range():
    """Rotation angles drawn for factor (0.05, 0.1) lie in [18, 36] degrees: recovered from the
    transform of each image."""
    layer = nn.RandomRotation((0.1, 0.05))                 # order does not matter, as Keras
    x = mg.tensor(np.zeros((200, 1, 4, 4)))
    t = layer.random_transform(x)
    angles = np.degrees(np.arctan2(t[:, 3], t[:, 0]))
    assert angles.min() >= 18 - 1e-9 and angles.max() <= 36 + 1e-9 and angles.max() - angles.min() > 15


# ---------------------------------------------------------------------- gradients

@st.composite
def transforms(draw):
    n = draw(st.integers(1, 2))
    angle = np.array(draw(st.lists(st.floats(-math.pi, math.pi), min_size=n, max_size=n)))
    h, w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    t = rotation_transform(angle, h, w)
    t[:, [0, 1, 3, 4]] *= draw(st.floats(0.5, 1.5))
    t[:, [2, 5]] += draw(st.floats(-3, 3))
    mode = draw(st.sampled_from(["reflect", "wrap", "constant", "nearest"]))
    interpolation = draw(st.sampled_from(["bilinear", "nearest"]))
    return n, draw(st.integers(1, 2)), h, w, t, mode, interpolation


@given(case=transforms(), seed=st.integers(0, 2**16))
def test_gradient_wrt_the_input_for_a_fixed_transform(case, seed, device):
    n, c, h, w, t, mode, interpolation = case
    x = mg.tensor(images((n, c, h, w), seed), device=device, requires_grad=True)
    weights = to_device(images((n, c, h, w), seed + 1), device)
    assert mg.gradcheck(lambda x: (affine_transform(x, t, interpolation, mode, fill_value=0.3) * weights).sum(), x)


def test_gradient_through_the_layers_in_training(device):
    """A layer's backward is its own transform's adjoint: a flip sends the gradient back flipped,
    and the sum of a wrap-around integer shift gives every pixel gradient 1."""
    x = mg.tensor(images((5, 1, 4, 6)), device=device, requires_grad=True)
    nn.RandomFlip("horizontal")(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(x.shape))
    x.grad = None
    r = images((5, 1, 4, 6), 3)
    y = nn.RandomTranslation((0.25, 0.25), (0.5, 0.5), fill_mode="wrap")(x)
    (y * to_device(r, device)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.roll(r, (-1, -3), axis=(2, 3)), atol=1e-12)


def test_rescaling(device):
    x = to_device(images((2, 3)), device, requires_grad=True)
    layer = nn.Rescaling(1 / 255, offset=-0.5)
    y = layer(x)
    np.testing.assert_allclose(y.numpy(), x.numpy() / 255 - 0.5)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), y.numpy())
    assert mg.gradcheck(lambda x: (layer(x) ** 2).sum(), x)


# ---------------------------------------------------------------------- errors

@pytest.mark.parametrize("make,words", [
    (lambda: nn.RandomTranslation(1.5, 0.1), ["RandomTranslation", "height_factor", "[-1, 1]"]),
    (lambda: nn.RandomTranslation(0.1, (0.1,)), ["RandomTranslation", "width_factor", "pair"]),
    (lambda: nn.RandomRotation("a lot"), ["RandomRotation", "factor", "number"]),
    (lambda: nn.RandomRotation(float("nan")), ["RandomRotation", "finite"]),
    (lambda: nn.RandomRotation(True), ["RandomRotation", "factor"]),
    (lambda: nn.RandomZoom((-1.2, 0.1)), ["RandomZoom", "height_factor", "[-1, 1]"]),
    (lambda: nn.RandomZoom(0.1, 2), ["RandomZoom", "width_factor"]),
    (lambda: nn.RandomZoom(0.1, fill_mode="mirror"), ["RandomZoom", "fill_mode", "reflect"]),
    (lambda: nn.RandomRotation(0.1, interpolation="bicubic"), ["RandomRotation", "interpolation", "bilinear"]),
    (lambda: nn.RandomFlip("diagonal"), ["RandomFlip", "mode", "horizontal"]),
    (lambda: nn.RandomFlip(seed=1.5), ["RandomFlip", "seed"]),
    (lambda: nn.Rescaling("1/255"), ["Rescaling", "scale"]),
])
def test_bad_arguments_name_the_layer(make, words):
    with pytest.raises(ValueError) as info:
        make()
    for word in words:
        assert word in str(info.value)


def test_bad_inputs():
    with pytest.raises(ValueError, match="RandomRotation.*images"):
        nn.RandomRotation(0.1)(mg.tensor(np.zeros((2, 5))))
    with pytest.raises(ValueError, match=r"affine_transform: transform must have shape \(8,\) or \(N, 8\)"):
        affine_transform(mg.tensor(np.zeros((2, 1, 3, 3))), np.zeros((3, 8)))
    with pytest.raises(ValueError, match="affine_transform: images must be a 4-d NCHW tensor"):
        affine_transform(mg.tensor(np.zeros((3, 3))), IDENTITY)


def test_float32_images_stay_float32(device):
    """Coordinates are computed in the images' precision: float32 in, float32 out, and a quarter
    turn still np.rot90 to float32 rounding."""
    x = images((2, 1, 7, 7)).astype(np.float32)
    y = nn.RandomRotation((0.25, 0.25))(mg.tensor(x, device=device))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), np.rot90(x, 1, axes=(2, 3)), atol=1e-5)
