"""Two small workloads: one epoch of Sequential.fit, and the per-op overhead of the graph.

fit: 4,500 x 784 -> Dense(128, relu) -> Dense(10, softmax), sparse categorical cross-entropy
(Keras' probability form: renormalise, clip to [1e-7, 1 - 1e-7], log), Adam, batch 32,
shuffled, the loss and accuracy read every batch. minigrad runs Sequential.fit(verbose=0);
PyTorch runs the same loop written out.

op overhead: forward + backward of a chain of N elementwise ops on 1-element float32 tensors,
cycling through y*c (tensor), y+0.5 (Python scalar) and tanh(y); the time divided by N is
the cost of one recorded node, which is all Python (the arrays are tiny).
"""
from __future__ import annotations

import numpy as np

FIT_N, FIT_IN, FIT_H, FIT_OUT, FIT_BATCH = 4500, 784, 128, 10, 32
CHAIN = 600          # nodes per chain (a multiple of 3)


def fit_data(seed=4):
    rng = np.random.default_rng(seed)
    x = rng.random((FIT_N, FIT_IN), dtype=np.float32)
    y = rng.integers(0, FIT_OUT, FIT_N)
    return x, y


class MinigradFit:
    def __init__(self):
        import minigrad as mg
        from minigrad.nn import Dense, Sequential
        mg.manual_seed(0)
        self.model = Sequential([Dense(FIT_H, activation="relu", input_shape=(FIT_IN,)),
                                 Dense(FIT_OUT, activation="softmax")])
        self.model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        self.x, self.y = fit_data()

    def step(self):
        return self.model.fit(self.x, self.y, epochs=1, batch_size=FIT_BATCH, verbose=0).history["loss"][-1]


class TorchFit:
    def __init__(self):
        import torch
        self.torch = torch
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(torch.nn.Linear(FIT_IN, FIT_H), torch.nn.ReLU(),
                                         torch.nn.Linear(FIT_H, FIT_OUT), torch.nn.Softmax(dim=1))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3, eps=1e-7)
        x, y = fit_data()
        self.x, self.y = x, y
        self.rng = np.random.default_rng(0)

    def step(self):
        torch = self.torch
        order = self.rng.permutation(FIT_N)
        total = correct = 0.0
        for start in range(0, FIT_N, FIT_BATCH):
            index = order[start:start + FIT_BATCH]
            xb, yb = torch.from_numpy(self.x[index]), torch.from_numpy(self.y[index])
            self.opt.zero_grad(set_to_none=True)
            p = self.model(xb)
            p = (p / p.sum(dim=1, keepdim=True)).clamp(1e-7, 1 - 1e-7)
            loss = -p.log().gather(1, yb[:, None]).mean()
            loss.backward()
            self.opt.step()
            total += loss.item() * len(index)
            correct += (p.argmax(dim=1) == yb).sum().item()
        return total / FIT_N


def minigrad_chain():
    import minigrad as mg
    x = mg.tensor([1.0], requires_grad=True)
    c = mg.tensor([0.999])

    def run():
        x.grad = None
        y = x
        for _ in range(CHAIN // 3):
            y = (y * c + 0.5).tanh()
        y.backward()
        return x.grad
    return run


def torch_chain():
    import torch
    x = torch.tensor([1.0], requires_grad=True)
    c = torch.tensor([0.999])

    def run():
        x.grad = None
        y = x
        for _ in range(CHAIN // 3):
            y = (y * c + 0.5).tanh()
        y.backward()
        return x.grad
    return run


def make_fit(impl):
    return {"minigrad": MinigradFit, "torch": TorchFit}[impl]().step


def make_chain(impl):
    return {"minigrad": minigrad_chain, "torch": torch_chain}[impl]()


# ----------------------------------------------------------------------------- sgemm peak

SGEMM = 2048         # one float32 (SGEMM x SGEMM) @ (SGEMM x SGEMM) product per call
SGEMM_FLOPS = 2 * SGEMM ** 3


def make_sgemm(impl):
    """The machine's measured single-precision GEMM rate: the yardstick for '% of peak'."""
    rng = np.random.default_rng(5)
    a, b = (rng.standard_normal((SGEMM, SGEMM), dtype=np.float32) for _ in range(2))
    if impl == "torch":
        import torch
        a, b = torch.from_numpy(a), torch.from_numpy(b)
        return lambda: torch.mm(a, b)
    out = np.empty_like(a)
    return lambda: np.matmul(a, b, out=out)
