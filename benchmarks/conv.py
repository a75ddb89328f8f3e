"""Convolutions forward + backward: minigrad, hand-written NumPy (im2col), PyTorch CPU.

One step = y = conv(x, w) + b, then the gradients with respect to x, w and b for a fixed
upstream gradient g (what a layer inside a network does in one train step).

Shapes: the issue's two (conv2d 64->64 ch 14x14 3x3 batch 64 pad 1; conv_transpose2d
128->64 7x7->14x14 k4 s2 pad 1) and every convolution of the keras-gan DCGAN at batch 64,
with its "same" paddings written out as (top, bottom), (left, right) pairs (TF puts the odd
zero at the bottom/right).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ConvSpec:
    kind: str            # "conv" (conv2d) or "convT" (conv_transpose2d)
    n: int
    c_in: int
    c_out: int
    hw: int              # input height = width
    k: int
    stride: int = 1
    pad: tuple = ((0, 0), (0, 0))     # conv: zeros added; convT: rows/columns cropped

    @property
    def out_hw(self):
        (t, b), _ = self.pad
        if self.kind == "conv":
            return (self.hw + t + b - self.k) // self.stride + 1
        return (self.hw - 1) * self.stride - t - b + self.k

    def describe(self):
        op = "conv2d" if self.kind == "conv" else "conv_transpose2d"
        pad = self.pad[0][0] if self.pad[0][0] == self.pad[0][1] == self.pad[1][0] == self.pad[1][1] \
            else self.pad
        return (f"{op} {self.c_in}->{self.c_out} {self.hw}x{self.hw}->{self.out_hw}x{self.out_hw} "
                f"k{self.k} s{self.stride} pad {pad} N={self.n}")


P1 = ((1, 1), (1, 1))
TF_S2 = ((0, 1), (0, 1))            # Keras "same" with stride 2 on an even size, k3
SPECS = {
    "conv2d": ConvSpec("conv", 64, 64, 64, 14, 3, 1, P1),
    "conv_transpose2d": ConvSpec("convT", 64, 128, 64, 7, 4, 2, P1),
    # the DCGAN's convolutions (batch 64): generator g1-g3, discriminator d1-d4
    "dcgan_g1": ConvSpec("conv", 64, 128, 128, 14, 3, 1, P1),
    "dcgan_g2": ConvSpec("conv", 64, 128, 64, 28, 3, 1, P1),
    "dcgan_g3": ConvSpec("conv", 64, 64, 1, 28, 3, 1, P1),
    "dcgan_d1": ConvSpec("conv", 64, 1, 32, 28, 3, 2, TF_S2),
    "dcgan_d2": ConvSpec("conv", 64, 32, 64, 14, 3, 2, TF_S2),
    "dcgan_d3": ConvSpec("conv", 64, 64, 128, 8, 3, 2, TF_S2),
    "dcgan_d4": ConvSpec("conv", 64, 128, 256, 4, 3, 1, P1),
}


def arrays(spec: ConvSpec, seed=0):
    """x, w, b, g as float32 arrays (w laid out as conv2d / conv_transpose2d expect)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((spec.n, spec.c_in, spec.hw, spec.hw), dtype=np.float32)
    w_shape = ((spec.c_out, spec.c_in) if spec.kind == "conv" else (spec.c_in, spec.c_out)) + (spec.k, spec.k)
    w = (rng.standard_normal(w_shape, dtype=np.float32) * 0.05).astype(np.float32)
    b = rng.standard_normal(spec.c_out, dtype=np.float32)
    g = rng.standard_normal((spec.n, spec.c_out, spec.out_hw, spec.out_hw), dtype=np.float32)
    return x, w, b, g


# ----------------------------------------------------------------------------- minigrad

class MinigradConv:
    def __init__(self, spec):
        import minigrad as mg
        import minigrad.functional as F
        self.spec = spec
        x, w, b, g = arrays(spec)
        self.x = mg.tensor(x, requires_grad=True)
        self.w = mg.tensor(w, requires_grad=True)
        self.b = mg.tensor(b, requires_grad=True)
        self.g = mg.tensor(g)
        self.op = F.conv2d if spec.kind == "conv" else F.conv_transpose2d

    def run(self):
        self.x.grad = self.w.grad = self.b.grad = None
        y = self.op(self.x, self.w, self.b, stride=self.spec.stride, padding=self.spec.pad)
        y.backward(self.g)
        return y

    def results(self):
        y = self.run()
        return [y.numpy(), self.x.grad.numpy(), self.w.grad.numpy(), self.b.grad.numpy()]


# ----------------------------------------------------------------------------- hand-written NumPy

def _window_view(src, k, stride, out_hw):
    """(N, C, Hp, Wp) -> view (C, k, k, N, Ho, Wo): view[c,a,b,n,i,j] = src[n, c, i*s + a, j*s + b]."""
    sN, sC, sH, sW = src.strides
    N, C = src.shape[:2]
    return np.lib.stride_tricks.as_strided(
        src, shape=(C, k, k, N, out_hw, out_hw), strides=(sC, sH, sW, sN, sH * stride, sW * stride),
        writeable=False)


class NumpyConv:
    """im2col + one GEMM + col2im by kernel-offset slice-adds; every buffer allocated once."""

    def __init__(self, spec):
        self.spec = s = spec
        self.x, self.w, self.b, self.g = arrays(spec)
        f = np.float32
        N, k = s.n, s.k
        (t, bo), (l, r) = s.pad
        if s.kind == "conv":
            self.Ho = Ho = s.out_hw
            self.xpad = np.zeros((N, s.c_in, s.hw + t + bo, s.hw + l + r), f)
            self.cols = np.empty((s.c_in, k, k, N, Ho, Ho), f)
            self.y2 = np.empty((s.c_out, N, Ho, Ho), f)
            self.g2 = np.empty((s.c_out, N, Ho, Ho), f)
            self.dxpad = np.empty_like(self.xpad)
        else:
            H = s.hw
            full = (H - 1) * s.stride + k
            self.canvas = np.empty((N, s.c_out, full, full), f)
            self.x2 = np.empty((s.c_in, N, H, H), f)
            self.cols = np.empty((s.c_out, k, k, N, H, H), f)
            self.gpad = np.zeros((N, s.c_out, full, full), f)
            self.dx2 = np.empty((s.c_in, N, H, H), f)
        self.y = np.empty((N, s.c_out, s.out_hw, s.out_hw), f)
        self.dx = np.empty_like(self.x)
        self.dw = np.empty_like(self.w)
        self.db = np.empty_like(self.b)

    def _col2im(self, dcols, canvas, out_hw):
        """canvas (N, C, Hc, Wc) = sum over kernel offsets of the strided slices of dcols."""
        s, k = self.spec.stride, self.spec.k
        canvas[...] = 0
        span = s * (out_hw - 1) + 1
        for a in range(k):
            for b in range(k):
                canvas[:, :, a:a + span:s, b:b + span:s] += dcols[:, a, b].transpose(1, 0, 2, 3)

    def run(self):
        s = self.spec
        N, k = s.n, s.k
        (t, bo), (l, r) = s.pad
        if s.kind == "conv":
            Ho, C = self.Ho, s.c_in
            H = s.hw
            self.xpad[:, :, t:t + H, l:l + H] = self.x
            np.copyto(self.cols, _window_view(self.xpad, k, s.stride, Ho))
            cols = self.cols.reshape(C * k * k, -1)
            np.matmul(self.w.reshape(s.c_out, -1), cols, out=self.y2.reshape(s.c_out, -1))
            np.copyto(self.y, self.y2.transpose(1, 0, 2, 3))
            self.y += self.b[:, None, None]
            # backward
            np.copyto(self.g2, self.g.transpose(1, 0, 2, 3))
            g2 = self.g2.reshape(s.c_out, -1)
            np.matmul(g2, cols.T, out=self.dw.reshape(s.c_out, -1))
            np.sum(self.g, axis=(0, 2, 3), out=self.db)
            np.matmul(self.w.reshape(s.c_out, -1).T, g2, out=cols)          # dcols, in place
            self._col2im(self.cols, self.dxpad, Ho)
            np.copyto(self.dx, self.dxpad[:, :, t:t + H, l:l + H])
        else:
            H, Ho = s.hw, s.out_hw
            np.copyto(self.x2, self.x.transpose(1, 0, 2, 3))
            x2 = self.x2.reshape(s.c_in, -1)
            cols = self.cols.reshape(s.c_out * k * k, -1)
            np.matmul(self.w.reshape(s.c_in, -1).T, x2, out=cols)
            self._col2im(self.cols, self.canvas, H)
            np.copyto(self.y, self.canvas[:, :, t:t + Ho, l:l + Ho])
            self.y += self.b[:, None, None]
            # backward: the crop's adjoint pads g back, then im2col with the same geometry
            self.gpad[:, :, t:t + Ho, l:l + Ho] = self.g
            np.copyto(self.cols, _window_view(self.gpad, k, s.stride, H))
            np.matmul(self.w.reshape(s.c_in, -1), cols, out=self.dx2.reshape(s.c_in, -1))
            np.copyto(self.dx, self.dx2.transpose(1, 0, 2, 3))
            np.matmul(x2, cols.T, out=self.dw.reshape(s.c_in, -1))
            np.sum(self.g, axis=(0, 2, 3), out=self.db)
        return self.y

    def results(self):
        self.run()
        return [self.y.copy(), self.dx.copy(), self.dw.copy(), self.db.copy()]


# ----------------------------------------------------------------------------- PyTorch

class TorchConv:
    def __init__(self, spec):
        import torch
        import torch.nn.functional as TF
        self.torch, self.TF, self.spec = torch, TF, spec
        x, w, b, g = arrays(spec)
        self.x = torch.from_numpy(x).requires_grad_(True)
        self.w = torch.from_numpy(w).requires_grad_(True)
        self.b = torch.from_numpy(b).requires_grad_(True)
        self.g = torch.from_numpy(g)
        (t, bo), (l, r) = spec.pad
        self.symmetric = t == bo == l == r
        self.p = t

    def run(self):
        s, TF = self.spec, self.TF
        self.x.grad = self.w.grad = self.b.grad = None
        (t, bo), (l, r) = s.pad
        if s.kind == "conv":
            if self.symmetric:
                y = TF.conv2d(self.x, self.w, self.b, stride=s.stride, padding=self.p)
            else:
                y = TF.conv2d(TF.pad(self.x, (l, r, t, bo)), self.w, self.b, stride=s.stride)
        else:
            assert self.symmetric, "conv_transpose2d: asymmetric crops not needed here"
            y = TF.conv_transpose2d(self.x, self.w, self.b, stride=s.stride, padding=self.p)
        y.backward(self.g)
        return y

    def results(self):
        y = self.run()
        return [y.detach().numpy(), self.x.grad.numpy(), self.w.grad.numpy(), self.b.grad.numpy()]


IMPLEMENTATIONS = {"minigrad": MinigradConv, "numpy": NumpyConv, "torch": TorchConv}


def make(impl, spec_name):
    return IMPLEMENTATIONS[impl](SPECS[spec_name]).run


def check(impls=("minigrad", "torch"), names=None, verbose=True):
    """y, dx, dw, db of every implementation against the hand-written NumPy ones (float32 rounding)."""
    for name in names or SPECS:
        spec = SPECS[name]
        ref = NumpyConv(spec).results()
        for impl in impls:
            try:
                got = IMPLEMENTATIONS[impl](spec).results()
            except ImportError:
                continue
            for what, a, r in zip(("y", "dx", "dw", "db"), got, ref):
                err, scale = float(np.abs(a - r).max()), float(np.abs(r).max())
                assert a.shape == r.shape and err <= 1e-4 * scale + 1e-5, (
                    f"{name} {impl}: {what} differs from the hand-written NumPy by {err:.3g} "
                    f"(max {scale:.3g})")
        if verbose:
            print(f"  check: {name:17s} y, dx, dw, db agree ({', '.join(impls)} vs numpy)")
