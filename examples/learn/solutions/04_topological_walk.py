# %% [markdown]
# Solutions to [4. The topological walk](../04_topological_walk.ipynb).

# %% tags=["solution"]
# Exercise 4a: a topological order of the graph behind `root`
def topological_order(root):
    """The nodes behind root (root._ctx first), each before the nodes that made its inputs."""
    order, visited = [], set()
    stack = [(root._ctx, False)]
    while stack:
        node, inputs_placed = stack.pop()
        if inputs_placed:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for t in node.inputs:
            if t._ctx is not None and id(t._ctx) not in visited:
                stack.append((t._ctx, False))
    order.reverse()
    return order


# %% tags=["solution"]
# Exercise 4b: the backward walk
def backward_walk(root):
    """{id(leaf): dL/dleaf as a NumPy array} for the requires_grad leaves behind root."""
    pending = {id(root._ctx): mg.ones(*root.shape, dtype=root.dtype)}
    grads = {}
    with no_grad():
        for node in topological_order(root):
            g = pending.pop(id(node))
            result = node.backward(g)
            result = result if isinstance(result, (tuple, list)) else (result,)
            for t, g_t in zip(node.inputs, result):
                if g_t is None or not t.requires_grad:
                    continue
                g_t = unbroadcast(g_t, t.shape)
                if t._ctx is None:
                    grads[id(t)] = grads[id(t)] + g_t.numpy() if id(t) in grads else g_t.numpy()
                else:
                    key = id(t._ctx)
                    pending[key] = pending[key] + g_t if key in pending else g_t
    return grads
