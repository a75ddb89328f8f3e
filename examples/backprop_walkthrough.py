# %% [markdown]
# # Backprop with nothing hidden: the chain rule by hand, then checked against minigrad.
#
#     python examples/backprop_walkthrough.py
#     python examples/backprop_walkthrough.py --epochs 200 --out runs/backprop
#
# Four steps, each printing what it computes:
#
# 1. Scalars. One neuron, L = (sigmoid(w*x + b) - y)^2. Every local derivative is printed
#    (dL/da, da/dz, dz/dw, dz/db, dz/dx); their products are dL/dw, dL/db, dL/dx, compared
#    with what minigrad's backward() leaves in w.grad, b.grad, x.grad.
# 2. A tensor layer. Dense + sigmoid on a batch, L = mean((sigmoid(X @ W + b) - Y)^2). The
#    same chain rule in matrix form, written in NumPy (dZ = dA * A * (1 - A), dW = X^T dZ,
#    db = sum of dZ over the batch, dX = dZ W^T), against minigrad. Then --epochs steps of
#    gradient descent run twice in lock-step, once on the hand-written gradients and once on
#    minigrad's: the two loss curves lie on top of each other.
# 3. gradcheck. mg.gradcheck compares backward with central finite differences in float64;
#    it passes for the layer, and fails, with a report naming the element, for a sigmoid
#    whose backward forgets the (1 - z) factor.
# 4. The graph. minigrad.plot.draw_graph draws the graph behind the layer's loss: leaves
#    (data, weights), op nodes (MatMul, Add, Sigmoid, ...), the output. Graphviz draws it
#    when the graphviz package and its `dot` program are installed, matplotlib otherwise.
#
# Writes to --out (default runs/backprop_walkthrough):
#     graph.png         the autograd graph of the layer's loss
#     scalar_graph.png  the graph of the one-neuron loss, every value on its node
#     descent.png       loss per step, hand-written gradients vs minigrad's; their difference
#     metrics.json      every gradient and its difference from minigrad, gradcheck results

# %%
import math
import time

import numpy as np
import common  # examples/common.py: parameters, figures, metrics (and puts the repo on sys.path)

import minigrad as mg
from minigrad import plot
from minigrad.backend import xp_of
from minigrad.function import Function
from minigrad.gradcheck import GradcheckError

# %% tags=["parameters"]
epochs = 100                       # gradient-descent steps of step 2
lr = 2.0                           # learning rate of the gradient-descent demo
batch_size = 32                    # mini-batch size
limit = None                       # use only the first N training examples (quick runs)
seed = 0                           # random seed
device = "cpu"                     # cpu, cuda or cuda:N
out = "runs/backprop_walkthrough"  # folder for the figures and metrics.json
verbose = 1                        # 0 quiet, 1 progress bars, 2 one line per epoch

# %%
out = common.parameters(globals())

# %% [markdown]
# ## 1. Scalars: one neuron, by hand
#
# L = (a − y)² with a = sigmoid(z), z = w·x + b. The chain rule multiplies the local
# derivatives along the path from L back to each input:
#
#     dL/da = 2(a − y),   da/dz = a(1 − a),   dz/dw = x,   dz/db = 1,   dz/dx = w
#     dL/dw = dL/da · da/dz · x,   and so on.
#
# `scalar_chain_rule` prints each one and compares the products with what `backward()`
# leaves in `w.grad`, `b.grad`, `x.grad`; it also draws the graph with every value on its node.

# %%
def named(t, name):
    t.name = name
    return t


def scalar_chain_rule(out, x_value=1.5, w_value=-0.8, b_value=0.4, y_value=1.0) -> dict:
    print("1. The chain rule on scalars:  z = w*x + b,  a = sigmoid(z),  L = (a - y)^2")
    x = named(mg.tensor(x_value, requires_grad=True, dtype="float64"), "x")
    w = named(mg.tensor(w_value, requires_grad=True, dtype="float64"), "w")
    b = named(mg.tensor(b_value, requires_grad=True, dtype="float64"), "b")
    y = named(mg.tensor(y_value, dtype="float64"), "y")
    z = named(w * x + b, "z")
    a = named(z.sigmoid(), "a")
    loss = named((a - y) ** 2, "L")
    plot.draw_graph(loss, path=out / "scalar_graph.png", title="L = (sigmoid(w*x + b) - y)^2")

    zv, av, lv = z.item(), a.item(), loss.item()
    print(f"   forward:  z = {w_value}*{x_value} + {b_value} = {zv:.6f}   a = sigmoid(z) = {av:.6f}"
          f"   L = (a - {y_value})^2 = {lv:.6f}")
    local = {
        "dL/da = 2 (a - y)": 2 * (av - y_value),
        "da/dz = a (1 - a)": av * (1 - av),
        "dz/dw = x": x_value,
        "dz/db = 1": 1.0,
        "dz/dx = w": w_value,
    }
    print("   local derivatives (each op knows only its own):")
    for name, value in local.items():
        print(f"     {name:<20} = {value: .6f}")
    dl_da, da_dz = local["dL/da = 2 (a - y)"], local["da/dz = a (1 - a)"]
    by_hand = {"w": dl_da * da_dz * x_value, "b": dl_da * da_dz * 1.0, "x": dl_da * da_dz * w_value}

    loss.backward()                                  # minigrad walks the same chain, backwards
    engine = {"w": w.grad.item(), "b": b.grad.item(), "x": x.grad.item()}
    print("   products (the chain rule) vs minigrad's backward():")
    for name, last in (("w", "dz/dw"), ("b", "dz/db"), ("x", "dz/dx")):
        print(f"     dL/d{name} = dL/da * da/dz * {last} = {by_hand[name]: .6f}   "
              f"{name}.grad = {engine[name]: .6f}   |diff| = {abs(by_hand[name] - engine[name]):.1e}")
    diff = max(abs(by_hand[k] - engine[k]) for k in by_hand)
    return {"forward": {"z": zv, "a": av, "L": lv}, "local_derivatives": local,
            "by_hand": by_hand, "minigrad": engine, "max_abs_diff": diff}

started = time.perf_counter()
scalar = scalar_chain_rule(out)
common.show(out / "scalar_graph.png")

# %% [markdown]
# ## 2. A tensor layer: the same chain rule in matrix form
#
# Dense + sigmoid on a batch, L = mean((sigmoid(X @ W + b) − Y)²). In NumPy, by hand:
# dA = 2(A − Y)/N, dZ = dA · A · (1 − A), dW = Xᵀ dZ, db = Σ over the batch of dZ,
# dX = dZ Wᵀ, each compared with minigrad's.

# %%
def layer_forward(x, w, b, y):
    """L = mean((sigmoid(x @ w + b) - y)^2) with minigrad tensors."""
    a = (x @ w + b).sigmoid()
    return ((a - y) ** 2).mean()


def layer_by_hand(X, W, b, Y):
    """The same loss and its gradients in plain NumPy: the chain rule in matrix form."""
    Z = X @ W + b                       # (N, out)
    A = 1 / (1 + np.exp(-Z))            # sigmoid
    L = np.mean((A - Y) ** 2)
    dA = 2 * (A - Y) / A.size           # d mean(e^2) / dA
    dZ = dA * A * (1 - A)               # through the sigmoid, element by element
    dW = X.T @ dZ                       # Z = X W: each weight sums its inputs' contributions
    db = dZ.sum(axis=0)                 # b is broadcast over the batch: its gradient sums
    dX = dZ @ W.T
    return L, {"W": dW, "b": db, "X": dX}


def tensor_layer(rng, n=8, n_in=4, n_out=3) -> tuple[dict, tuple]:
    print(f"\n2. A tensor layer: A = sigmoid(X @ W + b), L = mean((A - Y)^2), X {n}x{n_in}, W {n_in}x{n_out}")
    X = rng.standard_normal((n, n_in))
    W = rng.standard_normal((n_in, n_out)) * 0.5
    b = np.zeros(n_out)
    Y = (rng.random((n, n_out)) > 0.5).astype(np.float64)
    L, hand = layer_by_hand(X, W, b, Y)

    x = mg.tensor(X, requires_grad=True, dtype="float64")
    w = mg.tensor(W, requires_grad=True, dtype="float64")
    bt = mg.tensor(b, requires_grad=True, dtype="float64")
    loss = layer_forward(x, w, bt, mg.tensor(Y, dtype="float64"))
    loss.backward()
    engine = {"W": w.grad.numpy(), "b": bt.grad.numpy(), "X": x.grad.numpy()}
    print(f"   loss: NumPy {L:.10f}   minigrad {loss.item():.10f}")
    diffs = {}
    for k in ("W", "b", "X"):
        diffs[k] = float(np.abs(hand[k] - engine[k]).max())
        print(f"   d L/d{k} {str(hand[k].shape):<8} max |NumPy - minigrad| = {diffs[k]:.1e}")
    print("   dL/dW by hand:\n" + "\n".join("     " + " ".join(f"{v: .5f}" for v in row) for row in hand["W"]))
    return ({"loss_numpy": L, "loss_minigrad": loss.item(), "max_abs_diff": diffs,
             "dW_by_hand": hand["W"], "dW_minigrad": engine["W"]}, (X, W, b, Y))

layer, (X, W, b, Y) = tensor_layer(np.random.default_rng(seed))

# %% [markdown]
# Then `epochs` steps of gradient descent, twice in lock-step: once on the hand-written
# gradients, once on minigrad's. The two loss curves lie on top of each other; the right
# panel shows how far apart they are (rounding, ~1e-16).

# %%
def descent(X, W, b, Y, steps, lr, out) -> dict:
    """Gradient descent twice in lock-step: NumPy gradients vs minigrad's, on the same start."""
    print(f"\n   gradient descent, {steps} steps at lr {lr}: hand-written gradients vs minigrad")
    Wh, bh = W.copy(), b.copy()
    w = mg.tensor(W, requires_grad=True, dtype="float64")
    bt = mg.tensor(b, requires_grad=True, dtype="float64")
    x, y = mg.tensor(X, dtype="float64"), mg.tensor(Y, dtype="float64")
    hand_loss, engine_loss, gap = [], [], []
    for _ in range(steps):
        L, g = layer_by_hand(X, Wh, bh, Y)
        Wh -= lr * g["W"]
        bh -= lr * g["b"]
        w.grad = bt.grad = None
        loss = layer_forward(x, w, bt, y)
        loss.backward()
        with mg.no_grad():
            w.data -= lr * w.grad.data
            bt.data -= lr * bt.grad.data
        hand_loss.append(common.check_finite("loss", float(L)))
        engine_loss.append(common.check_finite("loss", loss.item()))
        gap.append(max(float(np.abs(Wh - w.numpy()).max()), float(np.abs(bh - bt.numpy()).max())))
    if steps:
        print(f"   loss {hand_loss[0]:.4f} -> {hand_loss[-1]:.4f} (NumPy), {engine_loss[0]:.4f} -> "
              f"{engine_loss[-1]:.4f} (minigrad); largest weight difference {max(gap):.1e}")
        fig = plot.new_figure((8.0, 3.0))
        ax = fig.add_subplot(1, 2, 1)
        steps_axis = np.arange(1, steps + 1)
        ax.plot(steps_axis, hand_loss, color="#4c78a8", linewidth=3, alpha=0.5, label="hand-written (NumPy)")
        ax.plot(steps_axis, engine_loss, "--", color="#e45756", linewidth=1.2, label="minigrad backward()")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend(frameon=False)
        ax.set_title("the same descent, two ways", fontsize=10)
        ax = fig.add_subplot(1, 2, 2)
        ax.semilogy(steps_axis, np.maximum(gap, 1e-18), color="#54a24b")
        ax.set_xlabel("step")
        ax.set_ylabel("max |W_numpy - W_minigrad|")
        ax.set_title("how far apart the weights drift (float64)", fontsize=10)
        for a in fig.axes:
            a.spines[["top", "right"]].set_visible(False)
        plot.save_figure(fig, out / "descent.png")
    return {"steps": steps, "lr": lr, "loss_numpy": hand_loss, "loss_minigrad": engine_loss,
            "max_weight_gap": max(gap) if gap else 0.0}

run = descent(X, W, b, Y, epochs, lr, out)
if epochs:
    common.show(out / "descent.png")

# %% [markdown]
# ## 3. gradcheck: the numbers check the backward
#
# `mg.gradcheck` compares backward with central finite differences in float64,
# (f(x + ε) − f(x − ε)) / 2ε for each element. It passes for the layer, and fails, with a
# report naming the element, for a sigmoid whose backward forgets the (1 − z) factor.

# %%
class ForgetfulSigmoid(Function):
    """z = sigmoid(x), with a WRONG backward: g * z, missing the (1 - z) factor."""

    def forward(self, x):
        xp = xp_of(x)                      # NumPy or CuPy, whichever holds x
        self.z = 1 / (1 + xp.exp(-x))
        return self.z

    def backward(self, g):
        return g * self.output(self.z)


def checks(X, W, b, Y) -> dict:
    print("\n3. gradcheck: backward vs central finite differences (float64)")
    x, w, bt, y = (mg.tensor(a, dtype="float64", requires_grad=r) for a, r in
                   ((X, True), (W, True), (b, True), (Y, False)))
    ok = mg.gradcheck(lambda x, w, bt: layer_forward(x, w, bt, y), x, w, bt)
    print(f"   the layer's loss, gradients for X, W and b: {'passed' if ok else 'FAILED'}")

    def bad_loss(x, w, bt):
        a = ForgetfulSigmoid.apply(x @ w + bt)
        return ((a - y) ** 2).mean()
    try:
        mg.gradcheck(bad_loss, x, w, bt)
        caught, report = False, ""
    except GradcheckError as exc:
        caught, report = True, str(exc)
    print("   a sigmoid whose backward forgets (1 - z): "
          + ("caught:" if caught else "NOT caught"))
    for line in report.splitlines()[:4]:
        print("     " + line)
    return {"layer_passes": bool(ok), "wrong_backward_caught": caught,
            "wrong_backward_report": report.splitlines()[:6]}

# %%
gradchecks = checks(X, W, b, Y)

# %% [markdown]
# ## 4. The graph behind the layer's loss
#
# Leaves (data, weights), op nodes (MatMul, Add, Sigmoid, ...), the output: the graph that
# `backward()` walks in reverse topological order. It is drawn before `backward()` frees it;
# Graphviz draws it when the graphviz package and its `dot` program are installed,
# matplotlib otherwise.

# %%
print("\n4. The graph behind the layer's loss (drawn before backward() frees it)")
x = named(mg.tensor(X, dtype="float64"), "X")
w = named(mg.tensor(W, requires_grad=True, dtype="float64"), "W")
bt = named(mg.tensor(b, requires_grad=True, dtype="float64"), "b")
y = named(mg.tensor(Y, dtype="float64"), "Y")
z = named(x @ w + bt, "Z")
a = named(z.sigmoid(), "A")
loss = named(((a - y) ** 2).mean(), "L")
drawn = plot.draw_graph(loss, path=out / "graph.png", title="L = mean((sigmoid(X @ W + b) - Y)^2)")
engine = "graphviz" if type(drawn).__module__.startswith("graphviz") else "matplotlib"
print(f"   drawn with {engine}: {out / 'graph.png'}")
common.show(out / "graph.png")

# %% [markdown]
# ## The numbers

# %%
figures = ["scalar_graph.png", "graph.png"] + (["descent.png"] if epochs else [])
metrics = {
    "scalar": scalar, "layer": layer, "descent": run, "gradcheck": gradchecks,
    "graph_engine": engine, "figures": figures,
    "all_match": bool(scalar["max_abs_diff"] < 1e-12 and max(layer["max_abs_diff"].values()) < 1e-12
                      and gradchecks["layer_passes"] and gradchecks["wrong_backward_caught"]),
    "seed": seed, "wall_seconds": time.perf_counter() - started,
}
assert math.isfinite(scalar["max_abs_diff"])
common.write_json(out / "metrics.json", metrics)
print(f"\nevery hand-written gradient matches minigrad: {metrics['all_match']}")
print(f"wrote {', '.join(figures)} and metrics.json to {out}")
