# %% [markdown]
# # 4. The topological walk
#
# Every op records a node: `t._ctx` is the `Function` that made tensor `t` (None for a leaf,
# a tensor you made yourself), and `node.inputs` are the tensors it was applied to. Following
# `_ctx` and `inputs` from the loss walks the whole graph backwards.
#
# A node may run its backward only once the gradient of its output is *complete*: when every
# node that consumed that output has already passed its share down. An order with that property
# is a *topological order* of the graph (read from the output): each node comes before the
# nodes that made its inputs. A depth-first search gives one: a node is placed after all the
# nodes that use its output have been placed, then the list is read in reverse.
#
# Then the walk itself:
#
#     pending[L's node] = 1                       # dL/dL
#     for node in order:                          # outputs first
#         g = pending.pop(node)                   # complete now
#         for t, g_t in zip(node.inputs, node.backward(g)):
#             g_t = unbroadcast(g_t, t.shape)
#             if t is a leaf: grads[t] += g_t     # (requires_grad leaves only)
#             else:           pending[t._ctx] += g_t

# %%
import matplotlib.pyplot as plt
import numpy as np
from hypothesis import strategies as st

import minigrad as mg
from minigrad.engine.autograd import no_grad
from minigrad.engine.function import unbroadcast
from minigrad.testing import check_gradients, check_property

a = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
b = mg.tensor(np.array([0.5, -1.0]), requires_grad=True)
h = a * b               # a is used twice: here ...
u = h.exp() + a         # ... and here
L = (u * h).sum()
print("L's node:", type(L._ctx).__name__, "  its input's node:", type(L._ctx.inputs[0]._ctx).__name__)

# %% [markdown]
# The graph of `L`, drawn from the same `_ctx` / `inputs` links the walk uses (leaves in
# green, each node at its distance from the loss):

# %%
def graph_edges(root):
    """[(parent label, child label)] and each label's depth below the root, by a plain search."""
    labels, depth, edges, stack = {}, {}, [], [(root._ctx, 0)]
    while stack:
        node, d = stack.pop()
        key = id(node)
        labels.setdefault(key, f"{type(node).__name__}#{len(labels)}")
        depth[labels[key]] = max(depth.get(labels[key], 0), d)
        for t in node.inputs:
            child = t._ctx
            if child is None:
                name = "a" if t is a else "b" if t is b else "const"
                depth[name] = max(depth.get(name, 0), d + 1)
                edges.append((labels[key], name))
            else:
                labels.setdefault(id(child), f"{type(child).__name__}#{len(labels)}")
                edges.append((labels[key], labels[id(child)]))
                stack.append((child, d + 1))
    return sorted(set(edges)), depth


edges, depth = graph_edges(L)
rows = {}
for name, d in sorted(depth.items(), key=lambda kv: kv[1]):
    rows.setdefault(d, []).append(name)
pos = {name: (i - (len(names) - 1) / 2, -d) for d, names in rows.items() for i, name in enumerate(names)}
fig, ax = plt.subplots(figsize=(6, 4))
for parent, child in edges:
    ax.annotate("", xy=pos[parent], xytext=pos[child], arrowprops=dict(arrowstyle="->", color="grey"))
for name, (px, py) in pos.items():
    leaf = name in ("a", "b", "const")
    ax.text(px, py, name, ha="center", va="center",
            bbox=dict(boxstyle="round", fc="palegreen" if leaf else "lightblue"))
ax.set_xlim(-2, 2)
ax.set_ylim(min(p[1] for p in pos.values()) - 0.5, 0.5)
ax.axis("off")
ax.set_title("forward: up the arrows; backward: down them")
plt.show()

# %% [markdown]
# ## Exercise 4a: a topological order
#
# Write `topological_order(root)`: every node reachable from `root._ctx`, each exactly once,
# each before every node that produced one of its inputs. Use an explicit stack rather than
# recursion (a 10,000-op chain would exceed Python's recursion limit): push `(node, False)`;
# when popped with False, mark it visited and push `(node, True)` and then its unvisited input
# nodes; when popped with True, all its inputs' nodes are placed, so append it. Reverse at the end.
#
# The check builds random graphs (hypothesis draws the ops, with reuse of earlier tensors) and
# tests the property.

# %% tags=["exercise"]
# Exercise 4a: a topological order of the graph behind `root`
def topological_order(root):
    """The nodes behind root (root._ctx first), each before the nodes that made its inputs."""
    raise NotImplementedError("Exercise 4a: a depth-first search from root._ctx, reversed")


# %% tags=["check"]
def random_graph(choices):
    """A loss built from a list of (op, i, j) choices over the tensors made so far."""
    made = [mg.tensor(np.array([0.3, -0.7]), requires_grad=True), mg.tensor(np.array([1.1, 0.4]), requires_grad=True)]
    for op, i, j in choices:
        x, y = made[i % len(made)], made[j % len(made)]
        made.append(x * y if op == "mul" else x + y if op == "add" else x.tanh())
    return made[-1].sum()


def is_a_topological_order(choices):
    """every node once, each before the nodes that made its inputs"""
    root = random_graph(choices)
    order = topological_order(root)
    position = {id(n): k for k, n in enumerate(order)}
    assert len(position) == len(order), "a node appears twice"
    assert order and order[0] is root._ctx, "the root's node must come first"
    stack, reachable = [root._ctx], set()
    while stack:
        node = stack.pop()
        if id(node) in reachable:
            continue
        reachable.add(id(node))
        for t in node.inputs:
            if t._ctx is not None:
                assert id(t._ctx) in position, f"{type(t._ctx).__name__} is reachable but not in the order"
                assert position[id(t._ctx)] > position[id(node)], (
                    f"{type(t._ctx).__name__} comes before {type(node).__name__}, which uses its output")
                stack.append(t._ctx)
    assert len(reachable) == len(order), "the order has nodes that are not in the graph"


ops = st.tuples(st.sampled_from(["mul", "add", "tanh"]), st.integers(0, 20), st.integers(0, 20))
check_property(is_a_topological_order, st.lists(ops, min_size=1, max_size=8), max_examples=40)

# %% [markdown]
# ## Exercise 4b: the walk
#
# Write `backward_walk(root)`, returning `{leaf: gradient array}` for every leaf with
# `requires_grad`, from the pseudocode at the top: pending gradients per node (start with
# ones for the root), in your topological order, `node.backward(g)` for the gradients of its
# inputs (a `None` means "no gradient for this input"), `unbroadcast(g_t, t.shape)`, and add
# them up, since a tensor used twice receives two contributions. Run it under `no_grad()`, as
# the engine does, so that the backward's own operations are not recorded. Keys: use `id(t)`,
# as tensors compare elementwise.

# %% tags=["exercise"]
# Exercise 4b: the backward walk
def backward_walk(root):
    """{id(leaf): dL/dleaf as a NumPy array} for the requires_grad leaves behind root."""
    raise NotImplementedError("Exercise 4b: walk the topological order, passing gradients down")


# %% tags=["check"]
def walk_gradients(a_value, b_value):
    a = mg.tensor(a_value, requires_grad=True)
    b = mg.tensor(b_value, requires_grad=True)
    h = a * b
    L = ((h.exp() + a) * h).sum()              # the graph drawn above: a is used twice
    grads = backward_walk(L)
    return grads[id(a)], grads[id(b)]


check_gradients(lambda a, b: ((a * b).exp() + a) * (a * b), a.detach().requires_grad_(),
                b.detach().requires_grad_(), analytic=walk_gradients, name="Exercise 4b")

# %% [markdown]
# minigrad's walk (`minigrad/engine/autograd.py`) is this loop plus bookkeeping: it frees
# each node's saved arrays once it has run, and can record the backward itself
# (`create_graph=True`) for gradients of gradients. Next: [gradcheck and hypothesis
# properties](05_gradcheck_and_properties.ipynb).
