"""The visualisation lessons: examples/what_convnets_see.py (activations, filters' preferred
inputs, Grad-CAM and saliency) and examples/latent_sweep.py (latent sizes 2/10/100, the 2-D
code's problems).

Each script runs end to end on tiny settings, and each picture is checked for what it must show,
from the measurements the script writes to metrics.json. The pieces the measurements rest on
(Grad-CAM's weights, the batching tricks, ink masks, hulls, gap search, the snapshot callback)
are checked on cases whose answer is known independently.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg

from .example_runner import (assert_finite_numbers, assert_pngs, load_definitions, load_metrics, needs_matplotlib,
                             run_example)

REPO = Path(__file__).resolve().parent.parent
needs_scipy = pytest.mark.skipif(importlib.util.find_spec("scipy") is None,
                                 reason="scipy is not installed (it comes with mlxtend: pip install mlxtend)")


@pytest.fixture(scope="module")
def wcs():
    return load_definitions("what_convnets_see")


@pytest.fixture(scope="module")
def sweep():
    return load_definitions("latent_sweep")


@pytest.fixture
def on(device):
    """Runs the test with `device` as the default device (as --device does), then restores it."""
    before = mg.get_default_device()
    mg.set_default_device(device)
    yield device
    mg.set_default_device(before)


# ============================================================== what_convnets_see: the pieces

def small_digits(n, seed=0):
    """n blurry strokes on black, (n, 1, 28, 28): enough structure for an untrained net."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 1, 28, 28), np.float32)
    for i in range(n):
        r = rng.integers(6, 22)
        x[i, 0, r - 1:r + 2, 5:23] = 1.0
        c = rng.integers(6, 22)
        x[i, 0, 5:23, c - 1:c + 2] = 0.8
    return x


def test_gradcam_weights_are_the_spatial_mean_of_the_class_gradient(wcs, on):
    """After the last conv, Flatten -> Dense is linear: d y_c / d A[k, i, j] = W[(k, i, j), c],
    so Grad-CAM = relu(sum_k mean_ij(W[k, :, :, c]) A_k), computable from the weights alone."""
    from minigrad.nn import Conv2D, Dense, Flatten, Model, Sequential
    mg.manual_seed(3)
    net = Sequential([Conv2D(4, 3, padding="same", activation="relu", input_shape=(1, 28, 28), name="conv3"),
                      Flatten(), Dense(10, name="logits")])
    x = small_digits(3)
    grad_model = Model(net.input, [net.get_layer("conv3").output, net.get_layer("logits").output])
    cam, saliency, pred = wcs.gradcam_and_saliency(grad_model, x)

    a = grad_model.predict(x)[0]                                       # (3, 4, 28, 28)
    logits = net.predict(x)
    kernel = net.get_layer("logits").kernel.numpy().reshape(4, 28, 28, 10)   # NCHW flatten order
    for i in range(len(x)):
        c = logits[i].argmax()
        assert pred[i] == c
        w = kernel[..., c].mean(axis=(1, 2))
        expected = np.maximum((w[:, None, None] * a[i]).sum(axis=0), 0)
        np.testing.assert_allclose(cam[i], expected, rtol=1e-4, atol=1e-6)
    assert saliency.shape == (3, 28, 28) and (saliency >= 0).all() and saliency.max() > 0


def test_gradcam_and_saliency_of_a_batch_equal_one_digit_at_a_time(wcs, on):
    """The summed-score trick: image i's score depends on image i alone, so one backward pass
    gives every image's own gradients."""
    from minigrad.nn import Model
    mg.manual_seed(1)
    net = wcs.build_convnet()
    grad_model = Model(net.input, [net.get_layer("conv3").output, net.get_layer("logits").output])
    x = small_digits(4, seed=2)
    cam, sal, pred = wcs.gradcam_and_saliency(grad_model, x)
    for i in range(len(x)):
        c1, s1, p1 = wcs.gradcam_and_saliency(grad_model, x[i:i + 1])
        assert p1[0] == pred[i]
        np.testing.assert_allclose(c1[0], cam[i], rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(s1[0], sal[i], rtol=1e-4, atol=1e-7)


def test_gradient_ascent_climbs_each_filter_of_an_untrained_layer(wcs, on):
    """Image i climbs filter i: every filter that is alive at the start ends higher."""
    from minigrad.nn import Model
    mg.manual_seed(0)
    net = wcs.build_convnet()
    layer_model = Model(net.input, net.get_layer("conv2").output)
    images, curve = wcs.gradient_ascent(layer_model, 8, steps=5, step=0.02, start=0.13,
                                        rng=np.random.default_rng(0))
    assert images.shape == (8, 1, 28, 28) and curve.shape == (6, 8)
    alive = curve[0] > 0
    assert alive.sum() >= 4
    assert (curve[-1][alive] > curve[0][alive] * 1.2).all()
    shown = wcs.deprocess(images)
    assert shown.min() >= 0 and shown.max() <= 1


@needs_scipy
def test_mass_on_ink_of_known_maps(wcs):
    x = np.zeros((2, 1, 28, 28), np.float32)
    x[:, 0, 10:18, 13:15] = 1.0                       # a vertical bar
    masks = wcs.ink_masks(x)
    # the bar 8x2 dilated by 2 on each side is 12x6
    assert masks[0].sum() == 12 * 6 and masks[0, 8:20, 11:17].all()
    area = masks.mean(axis=(1, 2))
    uniform = np.ones((2, 28, 28))
    np.testing.assert_allclose(wcs.mass_on_ink(uniform, masks), area)          # blind map: the area share
    np.testing.assert_allclose(wcs.mass_on_ink(masks.astype(float), masks), 1.0)
    assert np.isnan(wcs.mass_on_ink(np.zeros((2, 28, 28)), masks)).all()       # an empty map has no share


@needs_scipy
def test_upsample_keeps_a_constant_and_the_peak_position(wcs):
    maps = np.zeros((1, 7, 7))
    maps[0, 1, 5] = 1.0
    up = wcs.upsample(maps)
    assert up.shape == (1, 28, 28)
    r, c = np.unravel_index(up[0].argmax(), (28, 28))
    assert 4 <= r <= 7 and 20 <= c <= 23                # cell (1, 5) covers rows 4-7, columns 20-23
    np.testing.assert_allclose(wcs.upsample(np.full((1, 7, 7), 0.3)), 0.3, rtol=1e-6)


# =============================================================== what_convnets_see: end to end

@needs_matplotlib
@needs_scipy
def test_what_convnets_see_end_to_end(tmp_path, mnist_available):
    out = tmp_path / "wcs"
    stdout = run_example("what_convnets_see.py", out, "--epochs", 1, "--limit", 1500, "--test-limit", 200,
                         "--ascent-steps", 10, "--verbose", 0)
    assert_pngs(out, ["activations.png", "sparsity.png", "filters.png", "ascent.png", "gradcam.png"])
    m = load_metrics(out)
    assert assert_finite_numbers(m) > 50
    assert "Grad-CAM" in stdout and "saliency" in stdout

    # (a) Model(model.input, [l.output for l in model.layers[:5]]) == the layers run by hand
    act = m["activations"]
    assert act["layers"] == ["conv1", "pool1", "conv2", "pool2", "conv3"]
    assert act["max_abs_diff_vs_layer_by_layer"] <= 1e-6
    assert all(0 <= v <= 1 for v in act["zero_activation_fraction"].values())

    # Bars below are set from tiny runs with seeds 0, 1 and 2 (lowest seen: median gain x1.6,
    # Grad-CAM 48% on ink vs 39% area, saliency majority on ink for 85% of digits).
    # (b) gradient ascent raised the mean activation of every live filter, the median by 30%+
    for name, s in m["gradient_ascent"]["layers"].items():
        live = s["n_filters"] - s["n_dead"]
        assert live >= s["n_filters"] // 2, f"{name}: {s['n_dead']} of {s['n_filters']} filters dead"
        assert s["fraction_increased"] == 1.0 and s["min_increase"] > 0, name
        assert s["median_gain"] > 1.3, f"{name}: median gain only {s['median_gain']:.2f}"

    # (c) Grad-CAM's and the saliency map's mass sits on the digit more than a blind map's would
    cam, sal = m["gradcam"], m["saliency"]
    assert cam["mean_mass_on_ink"] > cam["mean_ink_area"] + 0.03
    assert cam["fraction_above_area"] > 0.5
    assert sal["mean_mass_on_ink"] > 0.6 and sal["mean_mass_on_ink"] > sal["mean_ink_area"] + 0.2
    assert sal["fraction_majority_on_ink"] > 0.75


# ==================================================================== latent_sweep: the pieces

@needs_scipy
def test_central_hull_of_a_known_square(sweep):
    g = np.stack(np.meshgrid(np.linspace(0, 2, 11), np.linspace(0, 3, 11)), -1).reshape(-1, 2)
    area, vertices = sweep.central_hull(g, keep=1.0)
    assert area == pytest.approx(6.0)
    assert len(vertices) == 4
    far = np.vstack([g, [[100.0, 100.0]]])                     # one outlier: left out of the central 90%
    assert sweep.central_hull(far, keep=0.9)[0] < 6.0 + 1e-9


@needs_scipy
def test_gap_points_find_the_hole_between_two_clusters(sweep):
    rng = np.random.default_rng(0)
    z = np.vstack([rng.normal((-5, 0), 0.5, (300, 2)), rng.normal((5, 0), 0.5, (300, 2))])
    gaps, dist, box, nn_median = sweep.gap_points(z, n=3, grid=30)
    assert (np.abs(gaps[:, 0]) < 3.5).all()                     # between the clusters, not inside them
    assert (dist > 1.5).all() and nn_median < 0.2
    assert (np.diff(dist) <= 0).all()                           # farthest first


def test_per_pixel_errors_match_minigrad_losses(sweep):
    rng = np.random.default_rng(0)
    x = (rng.random((5, 784)) > 0.7).astype(np.float32)
    p = rng.uniform(0.05, 0.95, (5, 784)).astype(np.float32)
    bce, mse = sweep.per_pixel_errors(p, x)
    expected_bce = mg.losses.binary_crossentropy(mg.tensor(x), mg.tensor(p)).item()
    expected_mse = mg.losses.mean_squared_error(mg.tensor(x), mg.tensor(p)).item()
    assert bce == pytest.approx(expected_bce, rel=1e-4) and mse == pytest.approx(expected_mse, rel=1e-5)


def test_grey_share_of_known_images(sweep):
    crisp = np.zeros((1, 784))
    crisp[0, :100] = 1.0
    blurred = np.full((1, 784), 0.5)
    assert sweep.grey_share(crisp)[0] == 0.0 and sweep.grey_share(blurred)[0] == 1.0


@needs_matplotlib
def test_reconstruction_snapshots_record_every_epoch(tmp_path, sweep):
    mg.manual_seed(0)
    rng = np.random.default_rng(0)
    x = (rng.random((60, 784)) > 0.8).astype(np.float32)
    autoencoder, encoder, decoder = sweep.build_autoencoder(3, lr=1e-3)
    snaps = sweep.ReconstructionSnapshots(x[:4], tmp_path / "snap.png", "test")
    autoencoder.fit(x, x, epochs=3, batch_size=20, verbose=0, callbacks=[snaps])
    assert snaps.epochs == [1, 2, 3] and len(snaps.frames) == 3
    np.testing.assert_allclose(snaps.frames[-1], autoencoder.predict(x[:4]), rtol=1e-6)
    np.testing.assert_allclose(autoencoder.predict(x[:4]), decoder.predict(encoder.predict(x[:4])), rtol=1e-5)
    assert snaps.mse[-1] < snaps.mse[0]
    assert_pngs(tmp_path, ["snap.png"])


# ===================================================================== latent_sweep: end to end

@needs_matplotlib
@needs_scipy
def test_latent_sweep_end_to_end(tmp_path, mnist_available):
    out = tmp_path / "sweep"
    stdout = run_example("latent_sweep.py", out, "--epochs", 3, "--limit", 1000, "--verbose", 0)
    assert_pngs(out, ["snapshots_latent2.png", "snapshots_latent10.png", "snapshots_latent100.png",
                      "latent2.png", "reconstructions.png", "error_vs_size.png"])
    m = load_metrics(out)
    assert assert_finite_numbers(m) > 50
    sizes = m["sizes"]
    assert [s["latent_dim"] for s in sizes] == [2, 10, 100]
    assert all(len(s["snapshot_mse"]) == 3 and len(s["val_loss"]) == 3 for s in sizes)
    # the lesson: reconstruction error falls as the code widens, on both measures
    assert m["error_falls_with_size"] and "falls with every step" in stdout
    bce = [s["test_bce"] for s in sizes]
    assert bce[0] > bce[2] + 0.01
    # the 2-D code is nowhere near N(0, I): few codes where a standard normal draw lands
    p = m["latent2"]
    assert p["fraction_within_radius_2"] < 0.5 * p["prior_fraction_within_radius_2"]
    assert len(p["hull_area"]) == 10 and p["hull_area_ratio_max_min"] >= 1.0
    assert sum(p["hull_area_share"].values()) == pytest.approx(1.0)
    assert len(p["gap_points"]) == 16
