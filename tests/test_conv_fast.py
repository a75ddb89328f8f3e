"""The convolution fast path (Winograd F(2x2, 3x3), ops/winograd.py) beside its definition (im2col).

Tolerance, float32: both paths are compared with the exact (float64) convolution, normwise:
    max |path - exact| <= 8 * eps32 * max conv(|x|, |w|)     (filter gradient: max dw(|x|, |g|))
conv(|x|, |w|) bounds every partial sum of every output, so this says each path rounds like a
short sum of the same products. Elementwise relative bounds do not hold for Winograd: an
output whose window is all zeros can come out as a rounding residue of its tile neighbours
(measured on 200 drawn float32 geometries with up to 70 channels: worst Winograd 1.9 eps,
worst im2col 1.9 eps on this scale). In float64 the fast path is checked with gradcheck and
gradgradcheck, on cpu and strict, through the public conv2d / conv_transpose2d.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.engine.ops import conv, winograd
from minigrad.engine.ops.conv import conv2d, conv_transpose2d

from .conftest import to_device

EPS32 = float(np.finfo(np.float32).eps)
TOLERANCE = 8 * EPS32


@pytest.fixture(autouse=True)
def few_channels_take_the_fast_path(monkeypatch):
    """The public ops take Winograd from 16 channels on each side; these tests' small
    geometries (1-8 channels, fast gradchecks) take it too."""
    monkeypatch.setattr(winograd, "MIN_CHANNELS", 1)


@st.composite
def winograd_geometries(draw, max_channels=5, max_size=9):
    """3x3 stride-1 convolutions: any padding per side (0-3), odd and even sizes, 1x1 outputs."""
    pads = tuple(tuple(draw(st.integers(0, 3)) for _ in range(2)) for _ in range(2))
    H = draw(st.integers(max(1, 3 - sum(pads[0])), max_size))
    W = draw(st.integers(max(1, 3 - sum(pads[1])), max_size))
    return dict(N=draw(st.integers(1, 3)), C=draw(st.integers(1, max_channels)),
                C_out=draw(st.integers(1, max_channels)), H=H, W=W, padding=pads,
                chunk_bytes=draw(st.sampled_from([1, winograd.CHUNK_BYTES])))   # 1: a sample per chunk


def _arrays(g, seed, dtype):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(g["N"], g["C"], g["H"], g["W"])).astype(dtype)
    w = rng.normal(size=(g["C_out"], g["C"], 3, 3)).astype(dtype)
    out_hw = conv._conv_out_hw("test", x.shape[2:], (3, 3), (1, 1), g["padding"], (1, 1))
    grad = rng.normal(size=(g["N"], g["C_out"]) + out_hw).astype(dtype)
    return x, w, grad, out_hw


def _plain(x, w, padding, out_hw):
    return conv._conv2d_im2col(x, w, (1, 1), padding, (1, 1), out_hw, 1)


def _plain_filter_grad(x, g, padding):
    cols = conv._im2col(x, (3, 3), g.shape[2:], (1, 1), padding, (1, 1), False)
    return conv._filter_grad(cols, g, (g.shape[1], x.shape[1], 3, 3), 1, False)


def _within(path, exact, scale):
    worst = np.abs(path - exact).max() / max(scale.max(), np.finfo(np.float64).tiny)
    assert worst <= TOLERANCE, f"error {worst / EPS32:.2f} eps32 of max conv(|x|, |w|), allowed 8"


@settings(max_examples=40)
@given(winograd_geometries(max_channels=8), st.integers(0, 2**16))
def test_winograd_equals_the_im2col_definition_in_float32(monkeypatch, g, seed):
    monkeypatch.setattr(winograd, "CHUNK_BYTES", g["chunk_bytes"])
    x, w, grad, out_hw = _arrays(g, seed, np.float32)
    x64, w64, grad64 = (a.astype(np.float64) for a in (x, w, grad))
    pad = g["padding"]
    exact, scale = _plain(x64, w64, pad, out_hw), _plain(np.abs(x64), np.abs(w64), pad, out_hw)
    fast = winograd.conv2d(x, w, pad, out_hw)
    assert fast.dtype == np.float32 and fast.shape == exact.shape
    _within(fast, exact, scale)
    _within(_plain(x, w, pad, out_hw), exact, scale)
    exact_w = _plain_filter_grad(x64, grad64, pad)
    scale_w = _plain_filter_grad(np.abs(x64), np.abs(grad64), pad)
    fast_w = winograd.filter_grad(x, grad, pad)
    assert fast_w.dtype == np.float32 and fast_w.shape == w.shape
    _within(fast_w, exact_w, scale_w)
    _within(_plain_filter_grad(x, grad, pad), exact_w, scale_w)


@settings(max_examples=25)
@given(winograd_geometries(), st.integers(0, 2**16))
def test_winograd_equals_the_definition_in_float64_on_each_device(device, g, seed):
    """The same through the public ops, fast path on and off, forward and both gradients."""
    x, w, grad, _ = _arrays(g, seed, np.float64)

    def run(fast):
        conv.FAST_PATHS = fast
        try:
            xt, wt = to_device(x, device, True), to_device(w, device, True)
            y = conv2d(xt, wt, padding=g["padding"])
            y.backward(to_device(grad, device))
            return y.numpy(), xt.grad.numpy(), wt.grad.numpy()
        finally:
            conv.FAST_PATHS = True

    for fast, plain in zip(run(True), run(False)):
        np.testing.assert_allclose(fast, plain, rtol=1e-10, atol=1e-10 * np.abs(plain).max())


def test_the_fast_path_is_the_one_taken(monkeypatch):
    """conv2d, its input gradient (a stride-1 conv by the flipped kernel) and its filter gradient
    all go through winograd.py for a 3x3 stride-1 float conv, and not otherwise."""
    calls = []
    for name in ("conv2d", "filter_grad"):
        real = getattr(winograd, name)
        monkeypatch.setattr(winograd, name, lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a))
    x, w = mg.randn(2, 3, 6, 6, requires_grad=True), mg.randn(4, 3, 3, 3, requires_grad=True)
    conv2d(x, w, padding=1).sum().backward()
    assert sorted(calls) == ["conv2d", "conv2d", "filter_grad"]
    calls.clear()
    monkeypatch.setattr(winograd, "MIN_CHANNELS", 16)                      # the default
    conv2d(mg.randn(1, 16, 4, 4, requires_grad=True), mg.randn(16, 16, 3, 3), padding=1).sum().backward()
    assert sorted(calls) == ["conv2d", "conv2d"]                            # y and dx (w needs no grad)
    calls.clear()
    conv2d(mg.randn(1, 64, 4, 4), mg.randn(1, 64, 3, 3), padding=1)          # 64 -> 1 channel: im2col
    monkeypatch.setattr(winograd, "MIN_CHANNELS", 1)
    conv2d(x, w, stride=2, padding=1).sum().backward()                      # stride 2: im2col
    conv2d(x, mg.randn(4, 3, 5, 5), padding=2)                              # 5x5: im2col
    conv2d(mg.tensor(np.ones((1, 1, 4, 4), np.int64)), mg.tensor(np.ones((1, 1, 3, 3), np.int64)))
    conv2d(x, mg.randn(3, 1, 3, 3), padding=1, groups=3)                    # grouped: im2col
    assert calls == []


@pytest.mark.parametrize("case", ["conv2d", "conv_transpose2d"])
@settings(max_examples=6)
@given(winograd_geometries(max_channels=3, max_size=6), st.integers(0, 2**16))
def test_fast_path_gradients_match_finite_differences(device, case, g, seed):
    x, w, _, _ = _arrays(g, seed, np.float64)
    xt, wt = to_device(x, device, True), to_device(w, device, True)
    if case == "conv2d":
        fn = lambda x, w: conv2d(x, w, padding=g["padding"])
    else:                               # stride 1: the forward itself is a Winograd conv
        pad = tuple(min(p, 1) for p in g["padding"][0]), tuple(min(p, 1) for p in g["padding"][1])
        wt = to_device(np.swapaxes(w, 0, 1), device, True)                  # (C_in = C, C_out, 3, 3)
        fn = lambda x, w: conv_transpose2d(x, w, padding=pad)
    assert mg.gradcheck(fn, xt, wt)
    assert mg.gradgradcheck(fn, xt, wt)


def test_edges_one_pixel_outputs_wide_padding_and_odd_sizes(device):
    rng = np.random.default_rng(7)
    for x_shape, padding in [((1, 2, 3, 3), 0), ((2, 1, 1, 1), 3), ((1, 3, 5, 2), ((0, 3), (2, 1))),
                             ((3, 2, 7, 8), 1)]:
        x, w = rng.normal(size=x_shape), rng.normal(size=(2, x_shape[1], 3, 3))
        pads = conv._padding(padding, "test")
        out_hw = conv._conv_out_hw("test", x_shape[2:], (3, 3), (1, 1), pads, (1, 1))
        y = conv2d(to_device(x, device), to_device(w, device), padding=padding)
        np.testing.assert_allclose(y.numpy(), _plain(x, w, pads, out_hw), rtol=1e-12, atol=1e-12)
