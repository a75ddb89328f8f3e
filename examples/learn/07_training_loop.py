# %% [markdown]
# # 7. A training loop and an optimizer
#
# Training repeats four steps: run the model on a batch (forward), measure the loss, compute
# every parameter's gradient (backward), and move each parameter a little against its
# gradient (the optimizer's step). Gradients accumulate in `.grad`, so they are cleared
# before each backward.
#
# The data: 200 points with $y = 2 x_1 + 3 x_2 + 1$ plus noise, the linear regression of the
# lessons; the model: one Dense unit, which should find $(w_1, w_2, b) \approx (2, 3, 1)$.

# %%
import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
from minigrad import losses, nn, optim
from minigrad.testing import check_arrays

rng = np.random.default_rng(0)
x_train = rng.uniform(-1, 1, size=(200, 2)).astype("float32")
y_train = (x_train @ np.array([[2.0], [3.0]]) + 1.0 + 0.1 * rng.normal(size=(200, 1))).astype("float32")


def train(optimizer_factory, epochs=15, batch_size=20, seed=0):
    """Mini-batch training of Dense(1) with mean squared error; returns the loss per epoch."""
    mg.manual_seed(seed)
    model = nn.Dense(1)
    model(mg.tensor(x_train[:1]))                            # build the weights
    optimizer = optimizer_factory(model.parameters())
    history = []
    for epoch in range(epochs):
        order = np.random.default_rng(seed + epoch).permutation(len(x_train))
        for start in range(0, len(x_train), batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad()                            # 1. clear last step's gradients
            prediction = model(mg.tensor(x_train[batch]))    # 2. forward
            loss = losses.mse(mg.tensor(y_train[batch]), prediction)   # 3. the loss
            loss.backward()                                  # 4. every parameter's .grad
            optimizer.step()                                 # 5. the update
        with mg.no_grad():
            history.append(losses.mse(mg.tensor(y_train), model(mg.tensor(x_train))).item())
    return history, model


curves = {}
for label, factory in [("SGD lr=0.05", lambda p: optim.SGD(p, lr=0.05)),
                       ("SGD lr=0.05, momentum 0.9", lambda p: optim.SGD(p, lr=0.05, momentum=0.9)),
                       ("Adam lr=0.05", lambda p: optim.Adam(p, lr=0.05))]:
    curves[label], model = train(factory)
print("Adam's fit: w =", model.kernel.numpy().ravel().round(2), " b =", model.bias.numpy().round(2))

fig, ax = plt.subplots(figsize=(6, 3.5))
for label, history in curves.items():
    ax.semilogy(range(1, len(history) + 1), history, label=label)
ax.set_xlabel("epoch")
ax.set_ylabel("training MSE")
ax.legend()
plt.show()

# %% [markdown]
# ## Exercise 7a: SGD with momentum
#
# Plain SGD moves by $-\eta g$. With momentum, a velocity $v$ (starting at 0) accumulates past
# steps, so consistent directions speed up and oscillating ones cancel. Keras' rule, which
# minigrad's `optim.SGD` follows:
#
# $$v \leftarrow \mu v - \eta g, \qquad p \leftarrow p + v .$$
#
# Write it for NumPy arrays: update `params` and `velocities` (lists of arrays) in place. The
# check runs three steps of yours and of `optim.SGD` on the same gradients and compares.

# %% tags=["exercise"]
# Exercise 7a: one step of SGD with momentum
def sgd_momentum_step(params, grads, velocities, lr, momentum):
    """In place: v <- momentum * v - lr * g, then p <- p + v, for each (p, g, v)."""
    raise NotImplementedError("Exercise 7a: update every velocity, then every parameter, in place")


# %% tags=["check"]
rng = np.random.default_rng(2)
START = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
GRADIENTS = [[rng.normal(size=p.shape) for p in START] for _ in range(3)]     # three steps' worth


def yours_after_three_steps(step):
    """The parameters after your step function ran on GRADIENTS, flattened into one array."""
    params, state = [p.copy() for p in START], [np.zeros_like(p) for p in START]
    for grads in GRADIENTS:
        step(params, grads, state)
    return np.concatenate([p.ravel() for p in params])


def minigrads_after_three_steps(make_optimizer):
    """The same for one of minigrad's optimizers: the gradients are put into .grad by hand."""
    tensors = [mg.tensor(p.copy(), requires_grad=True) for p in START]
    optimizer = make_optimizer(tensors)
    for grads in GRADIENTS:
        for t, g in zip(tensors, grads):
            t.grad = mg.tensor(g)
        optimizer.step()
    return np.concatenate([t.numpy().ravel() for t in tensors])


check_arrays(lambda: yours_after_three_steps(lambda p, g, v: sgd_momentum_step(p, g, v, lr=0.1, momentum=0.9)),
             minigrads_after_three_steps(lambda ts: optim.SGD(ts, lr=0.1, momentum=0.9)),
             what="Exercise 7a: the parameters after 3 momentum steps",
             against="optim.SGD(lr=0.1, momentum=0.9)'s")

# %% [markdown]
# ## Exercise 7b: Adam
#
# Adam keeps running means of $g$ and $g^2$ per parameter and divides the step by the root of
# the second, so every parameter moves about $\eta$ per step whatever its gradient's scale.
# Keras' rule, at step $t = 1, 2, \dots$ ($m$, $v$ start at 0):
#
# $$m \leftarrow \beta_1 m + (1 - \beta_1) g, \quad v \leftarrow \beta_2 v + (1 - \beta_2) g^2, \quad
# \eta_t = \eta \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}, \quad p \leftarrow p - \eta_t \frac{m}{\sqrt{v} + \hat\epsilon}.$$
#
# The factor in $\eta_t$ corrects the bias of $m$ and $v$ towards 0 in the first steps.
# `state` is a dict you may fill as you like (it is the same dict at every call).

# %% tags=["exercise"]
# Exercise 7b: one step of Adam
def adam_step(params, grads, state, lr=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """In place, Keras' Adam: update m, v and the step count in `state`, then every parameter."""
    raise NotImplementedError("Exercise 7b: m, v, the bias-corrected learning rate, the update")


# %% tags=["check"]
adam_state = {}
check_arrays(lambda: yours_after_three_steps(lambda p, g, unused: adam_step(p, g, adam_state, lr=0.01)),
             minigrads_after_three_steps(lambda ts: optim.Adam(ts, lr=0.01)),
             what="Exercise 7b: the parameters after 3 Adam steps", against="optim.Adam(lr=0.01)'s")

# %% [markdown]
# minigrad's optimizers (`minigrad/training/optim.py`) are these lines, written once per
# parameter with buffers reused in place, plus state that can be saved. Next: [im2col
# convolution and its adjoint](08_im2col_convolution.ipynb).
