# %% [markdown]
# Solutions to [7. A training loop and an optimizer](../07_training_loop.ipynb).

# %% tags=["solution"]
# Exercise 7a: one step of SGD with momentum
def sgd_momentum_step(params, grads, velocities, lr, momentum):
    """In place: v <- momentum * v - lr * g, then p <- p + v, for each (p, g, v)."""
    for p, g, v in zip(params, grads, velocities):
        v *= momentum
        v -= lr * g
        p += v


# %% tags=["solution"]
# Exercise 7b: one step of Adam
def adam_step(params, grads, state, lr=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """In place, Keras' Adam: update m, v and the step count in `state`, then every parameter."""
    if not state:
        state.update(t=0, m=[np.zeros_like(p) for p in params], v=[np.zeros_like(p) for p in params])
    state["t"] += 1
    t = state["t"]
    lr_t = lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    for p, g, m, v in zip(params, grads, state["m"], state["v"]):
        m += (1 - beta_1) * (g - m)
        v += (1 - beta_2) * (g * g - v)
        p -= lr_t * m / (np.sqrt(v) + epsilon)
