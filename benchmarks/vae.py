"""The MLP VAE train step, three ways: minigrad, hand-written NumPy, PyTorch CPU.

The model is the Keras VAE example's MLP (784-512-2), with the loss as models/vae.py writes
it (Bernoulli likelihood from the decoder's logits):

    h  = relu(x @ W1 + b1)                          784 -> 512
    mu = h @ Wm + bm,   lv = h @ Wv + bv            512 -> 2, 2
    z  = mu + exp(lv / 2) * eps                     eps ~ N(0, 1), drawn every step
    h2 = relu(z @ W3 + b3)                          2 -> 512
    a  = h2 @ W4 + b4                               512 -> 784, the logits of p(x|z)
    L  = mean_n [ sum_pixels BCE_logits(x, a) + KL(mu, lv) ]
    BCE_logits = max(a, 0) - a x + log(1 + e^-|a|),   KL = -1/2 sum_j (1 + lv - mu^2 - e^lv)

then one Adam step (lr 1e-3, Keras' betas, eps 1e-7) on all ten parameters. The loss is read
back as a Python float every step, as a training loop that logs it does.

Each implementation is a class with the same interface: set_weights(list of arrays in the
order of WEIGHT_SHAPES), step(x) -> loss (one train step, noise drawn inside),
loss_and_grads(x, eps) -> (loss, grads) for the gradient check.
"""
from __future__ import annotations

import numpy as np

D_IN, D_H, D_Z = 784, 512, 2
BATCH = 100
LR, BETA_1, BETA_2, EPS = 1e-3, 0.9, 0.999, 1e-7

# (in, out) kernels as Keras lays them out, biases after their kernels
WEIGHT_SHAPES = [(D_IN, D_H), (D_H,), (D_H, D_Z), (D_Z,), (D_H, D_Z), (D_Z,),
                 (D_Z, D_H), (D_H,), (D_H, D_IN), (D_IN,)]
WEIGHT_NAMES = ["W1", "b1", "Wm", "bm", "Wv", "bv", "W3", "b3", "W4", "b4"]


def initial_weights(seed=0):
    """Glorot-uniform kernels and zero biases, float32 (the same start for every side)."""
    rng = np.random.default_rng(seed)
    out = []
    for shape in WEIGHT_SHAPES:
        if len(shape) == 2:
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))
            out.append(rng.uniform(-limit, limit, shape).astype(np.float32))
        else:
            out.append(np.zeros(shape, np.float32))
    return out


def data(n=BATCH, seed=1):
    """An MNIST-like batch: pixels in [0, 1], most of them exactly 0 (as MNIST's are)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, D_IN), dtype=np.float32)
    x[x < 0.8] = 0
    return (x - 0.8) / 0.2 * (x > 0)


# ----------------------------------------------------------------------------- minigrad

class MinigradVAE:
    """What a learner writes with minigrad: Dense layers, the fused losses, Adam."""

    def __init__(self):
        import minigrad as mg
        from minigrad import losses, nn, optim
        self.mg, self.losses = mg, losses
        mg.manual_seed(0)
        self.enc = nn.Dense(D_H, activation="relu", input_shape=(D_IN,))
        self.mu = nn.Dense(D_Z, input_shape=(D_H,))
        self.lv = nn.Dense(D_Z, input_shape=(D_H,))
        self.dec = nn.Dense(D_H, activation="relu", input_shape=(D_Z,))
        self.out = nn.Dense(D_IN, input_shape=(D_H,))                      # logits
        self.layers = [self.enc, self.mu, self.lv, self.dec, self.out]
        for layer in self.layers:
            layer.build_for(layer._declared_input_shape)
        self.params = [p for layer in self.layers for p in (layer.kernel, layer.bias)]
        self.opt = optim.Adam(self.params, lr=LR, beta_1=BETA_1, beta_2=BETA_2, eps=EPS)

    def set_weights(self, weights):
        for p, w in zip(self.params, weights):
            p.data[...] = w

    def _loss(self, x, eps):
        h = self.enc(x)
        mu, lv = self.mu(h), self.lv(h)
        z = mu + (lv * 0.5).exp() * eps
        logits = self.out(self.dec(z))
        # as models/vae.py: per-image sums (the per-image mean over pixels times 784), batch mean
        reconstruction = self.losses.binary_crossentropy(x, logits, from_logits=True,
                                                         reduction="none") * float(D_IN)
        kl = self.losses.gaussian_kl(mu, lv, reduction="none")
        return (reconstruction + kl).mean()

    def step(self, x):
        mg = self.mg
        x = mg.tensor(x)
        eps = mg.randn(x.shape[0], D_Z)
        self.opt.zero_grad()
        loss = self._loss(x, eps)
        loss.backward()
        self.opt.step()
        return loss.item()

    def loss_and_grads(self, x, eps):
        mg = self.mg
        self.opt.zero_grad()
        loss = self._loss(mg.tensor(x), mg.tensor(eps))
        loss.backward()
        return loss.item(), [p.grad.numpy() for p in self.params]


class FunctionalVAE(MinigradVAE):
    """The same layers wired as a Keras functional model: Model([x, eps], [mu, lv, logits]).

    The sampling z = mu + exp(lv / 2) * eps is recorded on symbolic tensors (eps is the
    model's second input), so each step replays the recorded graph: what this measures against
    MinigradVAE is the functional graph's own cost (issue 9: within 5 %).
    """

    def __init__(self):
        super().__init__()
        from minigrad import nn
        x, eps = nn.Input((D_IN,), name="x"), nn.Input((D_Z,), name="eps")
        h = self.enc(x)
        mu, lv = self.mu(h), self.lv(h)
        z = mu + (lv * 0.5).exp() * eps
        self.model = nn.Model([x, eps], [mu, lv, self.out(self.dec(z))], name="vae")

    def _loss(self, x, eps):
        mu, lv, logits = self.model([x, eps])
        reconstruction = self.losses.binary_crossentropy(x, logits, from_logits=True,
                                                         reduction="none") * float(D_IN)
        kl = self.losses.gaussian_kl(mu, lv, reduction="none")
        return (reconstruction + kl).mean()


# ----------------------------------------------------------------------------- hand-written NumPy

class NumpyVAE:
    """The ceiling: every gradient by hand, every buffer allocated once, out= writes.

    All parameters live in one flat float32 vector (and all gradients in another), so the
    Adam update is a handful of vectorised passes over ~808k numbers instead of a Python loop
    over ten arrays. Wm and Wv are one (512, 4) matrix: one GEMM for both heads.
    """

    def __init__(self, batch=BATCH, seed=0):
        self.rng = np.random.default_rng(seed)
        sizes = [int(np.prod(s)) for s in WEIGHT_SHAPES]
        n = sum(sizes)
        self.flat = np.zeros(n, np.float32)
        self.gflat = np.zeros(n, np.float32)
        self.m = np.zeros(n, np.float32)
        self.v = np.zeros(n, np.float32)
        self.s = np.empty(n, np.float32)
        self.t = 0
        # views: W1 b1 | Wmv bmv (heads packed) | W3 b3 | W4 b4
        layout = [("W1", (D_IN, D_H)), ("b1", (D_H,)), ("Wmv", (D_H, 2 * D_Z)), ("bmv", (2 * D_Z,)),
                  ("W3", (D_Z, D_H)), ("b3", (D_H,)), ("W4", (D_H, D_IN)), ("b4", (D_IN,))]
        offset = 0
        for name, shape in layout:
            size = int(np.prod(shape))
            setattr(self, name, self.flat[offset:offset + size].reshape(shape))
            setattr(self, "d" + name, self.gflat[offset:offset + size].reshape(shape))
            offset += size
        self._alloc(batch)

    def _alloc(self, B):
        f = np.float32
        self.B = B
        self.h = np.empty((B, D_H), f)
        self.mlv = np.empty((B, 2 * D_Z), f)
        self.std = np.empty((B, D_Z), f)
        self.eps = np.empty((B, D_Z), f)
        self.z = np.empty((B, D_Z), f)
        self.h2 = np.empty((B, D_H), f)
        self.a = np.empty((B, D_IN), f)            # logits, then dL/dlogits
        self.p = np.empty((B, D_IN), f)
        self.t1 = np.empty((B, D_IN), f)
        self.t2 = np.empty((B, D_IN), f)
        self.mask = np.empty((B, D_IN), bool)
        self.dh2 = np.empty((B, D_H), f)
        self.dh = np.empty((B, D_H), f)
        self.dz = np.empty((B, D_Z), f)
        self.dmlv = np.empty((B, 2 * D_Z), f)
        self.k = np.empty((B, D_Z), f)
        self.relu_mask = np.empty((B, D_H), bool)

    def set_weights(self, weights):
        W1, b1, Wm, bm, Wv, bv, W3, b3, W4, b4 = weights
        self.W1[...] = W1
        self.b1[...] = b1
        self.Wmv[:, :D_Z] = Wm
        self.Wmv[:, D_Z:] = Wv
        self.bmv[:D_Z] = bm
        self.bmv[D_Z:] = bv
        self.W3[...] = W3
        self.b3[...] = b3
        self.W4[...] = W4
        self.b4[...] = b4

    def forward_backward(self, x, eps=None):
        """Loss (float) and gradients into self.gflat."""
        if x.shape[0] != self.B:
            self._alloc(x.shape[0])
        B, inv_b = self.B, np.float32(1.0 / self.B)
        h, mlv, std, z, h2, a, p, t1, t2 = (self.h, self.mlv, self.std, self.z, self.h2, self.a,
                                           self.p, self.t1, self.t2)
        if eps is None:
            self.rng.standard_normal(out=self.eps, dtype=np.float32)
        else:
            self.eps[...] = eps
        # ---- forward
        np.matmul(x, self.W1, out=h)
        h += self.b1
        np.maximum(h, 0, out=h)
        np.matmul(h, self.Wmv, out=mlv)
        mlv += self.bmv
        mu, lv = mlv[:, :D_Z], mlv[:, D_Z:]
        np.multiply(lv, 0.5, out=std)
        np.exp(std, out=std)                           # sigma = e^(lv/2)
        np.multiply(std, self.eps, out=z)
        z += mu
        np.matmul(z, self.W3, out=h2)
        h2 += self.b3
        np.maximum(h2, 0, out=h2)
        np.matmul(h2, self.W4, out=a)
        a += self.b4
        # BCE from logits: max(a, 0) - a x + log(1 + e^-|a|);  p = sigmoid(a) reuses e = e^-|a|
        np.abs(a, out=t1)
        np.negative(t1, out=t1)
        np.exp(t1, out=t1)                             # e
        np.log1p(t1, out=t2)
        bce = float(t2.sum(dtype=np.float64))
        np.maximum(a, 0, out=t2)
        bce += float(t2.sum(dtype=np.float64)) - float(np.vdot(a, x))
        np.add(t1, 1, out=t2)                          # 1 + e
        np.greater_equal(a, 0, out=self.mask)
        np.copyto(t1, 1, where=self.mask)              # numerator: 1 (a >= 0) or e
        np.divide(t1, t2, out=p)                       # sigmoid(a), stable both ways
        # KL = -1/2 sum (1 + lv - mu^2 - e^lv); e^lv = sigma^2
        k = self.k
        np.multiply(std, std, out=k)                   # e^lv
        kl_sum = float(k.sum(dtype=np.float64)) + float((mu * mu).sum(dtype=np.float64)) \
            - float(lv.sum(dtype=np.float64)) - B * D_Z
        loss = (bce + 0.5 * kl_sum) / B
        # ---- backward
        # dL/da = (sigmoid(a) - x) / B
        np.subtract(p, x, out=a)
        a *= inv_b
        np.matmul(h2.T, a, out=self.dW4)
        np.sum(a, axis=0, out=self.db4)
        np.matmul(a, self.W4.T, out=self.dh2)
        np.greater(h2, 0, out=self.relu_mask)
        self.dh2 *= self.relu_mask
        np.matmul(z.T, self.dh2, out=self.dW3)
        np.sum(self.dh2, axis=0, out=self.db3)
        np.matmul(self.dh2, self.W3.T, out=self.dz)
        dmu, dlv = self.dmlv[:, :D_Z], self.dmlv[:, D_Z:]
        # d/dmu = dz + mu / B;   d/dlv = dz * sigma * eps / 2 + (e^lv - 1) / (2B)
        np.multiply(mu, inv_b, out=dmu)
        dmu += self.dz
        np.multiply(self.dz, std, out=dlv)
        dlv *= self.eps
        k -= 1
        k *= inv_b
        dlv += k
        dlv *= 0.5
        np.matmul(h.T, self.dmlv, out=self.dWmv)
        np.sum(self.dmlv, axis=0, out=self.dbmv)
        np.matmul(self.dmlv, self.Wmv.T, out=self.dh)
        np.greater(h, 0, out=self.relu_mask)
        self.dh *= self.relu_mask
        np.matmul(x.T, self.dh, out=self.dW1)
        np.sum(self.dh, axis=0, out=self.db1)
        return loss

    def adam(self):
        """Keras' Adam on the flat vectors: 8 passes, no temporaries."""
        self.t += 1
        t = self.t
        lr_t = LR * np.sqrt(1 - BETA_2 ** t) / (1 - BETA_1 ** t)
        g, m, v, s = self.gflat, self.m, self.v, self.s
        np.subtract(g, m, out=s)
        s *= 1 - BETA_1
        m += s                                         # m += (1 - b1)(g - m)
        np.multiply(g, g, out=s)
        s -= v
        s *= 1 - BETA_2
        v += s                                         # v += (1 - b2)(g^2 - v)
        np.sqrt(v, out=s)
        s += EPS
        np.divide(m, s, out=s)
        s *= lr_t
        self.flat -= s

    def step(self, x):
        loss = self.forward_backward(x)
        self.adam()
        return loss

    def loss_and_grads(self, x, eps):
        loss = self.forward_backward(x, eps)
        grads = [self.dW1.copy(), self.db1.copy(),
                 self.dWmv[:, :D_Z].copy(), self.dbmv[:D_Z].copy(),
                 self.dWmv[:, D_Z:].copy(), self.dbmv[D_Z:].copy(),
                 self.dW3.copy(), self.db3.copy(), self.dW4.copy(), self.db4.copy()]
        return loss, grads


# ----------------------------------------------------------------------------- PyTorch

class TorchVAE:
    """The same model and loss in eager PyTorch (its fused BCE-with-logits)."""

    def __init__(self):
        import torch
        self.torch = torch
        torch.manual_seed(0)
        lin = torch.nn.Linear
        self.enc, self.mu, self.lv = lin(D_IN, D_H), lin(D_H, D_Z), lin(D_H, D_Z)
        self.dec, self.out = lin(D_Z, D_H), lin(D_H, D_IN)
        self.layers = [self.enc, self.mu, self.lv, self.dec, self.out]
        self.params = [p for layer in self.layers for p in (layer.weight, layer.bias)]
        self.opt = torch.optim.Adam(self.params, lr=LR, betas=(BETA_1, BETA_2), eps=EPS)

    def set_weights(self, weights):
        torch = self.torch
        with torch.no_grad():
            for layer, (w, b) in zip(self.layers, zip(weights[::2], weights[1::2])):
                layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
                layer.bias.copy_(torch.from_numpy(b))

    def _loss(self, x, eps):
        torch = self.torch
        h = torch.relu(self.enc(x))
        mu, lv = self.mu(h), self.lv(h)
        z = mu + torch.exp(0.5 * lv) * eps
        logits = self.out(torch.relu(self.dec(z)))
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * (1 + lv - mu * mu - lv.exp()).sum()
        return (bce + kl) / x.shape[0]

    def step(self, x):
        torch = self.torch
        x = torch.from_numpy(x)
        eps = torch.randn(x.shape[0], D_Z)
        self.opt.zero_grad(set_to_none=True)
        loss = self._loss(x, eps)
        loss.backward()
        self.opt.step()
        return loss.item()

    def loss_and_grads(self, x, eps):
        torch = self.torch
        self.opt.zero_grad(set_to_none=True)
        loss = self._loss(torch.from_numpy(x), torch.from_numpy(eps))
        loss.backward()
        grads = []
        for layer in self.layers:
            grads += [layer.weight.grad.numpy().T.copy(), layer.bias.grad.numpy().copy()]
        return loss.item(), grads


IMPLEMENTATIONS = {"minigrad": MinigradVAE, "functional": FunctionalVAE, "numpy": NumpyVAE,
                   "torch": TorchVAE}


def make(impl):
    """A VAE of `impl` with the shared initial weights and a `step()` on a fixed batch."""
    model = IMPLEMENTATIONS[impl]()
    model.set_weights(initial_weights())
    x = data()
    return lambda: model.step(x)


# ----------------------------------------------------------------------------- the gradient check

def check(impls=("minigrad", "functional", "numpy", "torch"), verbose=True):
    """Loss and all ten gradients of every implementation against the hand-written NumPy one.

    Same weights, same batch, same noise. Gradients must agree to float32 rounding:
    |a - b| <= 1e-4 * max|b| + 1e-6 per parameter (the sums behind them run over up to 78,400
    float32 terms in different orders), and the losses to 1e-5 relative. Raises AssertionError
    on a mismatch; returns the worst relative error per implementation.
    """
    weights = initial_weights()
    x = data()
    eps = np.random.default_rng(2).standard_normal((BATCH, D_Z)).astype(np.float32)
    ref = NumpyVAE()
    ref.set_weights(weights)
    ref_loss, ref_grads = ref.loss_and_grads(x, eps)
    worst = {}
    for impl in impls:
        if impl == "numpy":
            continue
        try:
            model = IMPLEMENTATIONS[impl]()
        except ImportError:
            if verbose:
                print(f"  check: {impl} not importable, skipped")
            continue
        model.set_weights(weights)
        loss, grads = model.loss_and_grads(x, eps)
        assert abs(loss - ref_loss) <= 1e-5 * abs(ref_loss), f"{impl}: loss {loss} vs numpy {ref_loss}"
        rel = 0.0
        for name, g, r in zip(WEIGHT_NAMES, grads, ref_grads):
            assert g.shape == r.shape and g.dtype == np.float32, f"{impl}: {name} {g.shape} {g.dtype}"
            scale = float(np.abs(r).max())
            err = float(np.abs(g - r).max())
            assert err <= 1e-4 * scale + 1e-6, (
                f"{impl}: gradient of {name} differs from the hand-written one by {err:.3g} "
                f"(max |grad| {scale:.3g})")
            rel = max(rel, err / (scale or 1.0))
        worst[impl] = rel
        if verbose:
            print(f"  check: {impl:8s} loss {loss:.6f} (numpy {ref_loss:.6f}); 10 gradients agree, "
                  f"worst |diff| / max|grad| = {rel:.2e}")
    return worst
