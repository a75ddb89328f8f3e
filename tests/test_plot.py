"""minigrad.plot: every figure is written as a real image, atomically, from Tensors or arrays."""
import os
import subprocess
import sys
import types

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib.image  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad import plot  # noqa: E402


# ----------------------------------------------------------------------------- helpers

def check_png(fig, path):
    """The file exists, is a loadable PNG, and has the figure's pixel size."""
    assert os.path.getsize(path) > 1000
    pixels = matplotlib.image.imread(path)
    w, h = fig.get_size_inches() * fig.dpi
    assert abs(pixels.shape[0] - h) <= 2 and abs(pixels.shape[1] - w) <= 2
    assert pixels.std() > 0.01                      # not a blank page
    return pixels


def leftovers(folder):
    """Anything in `folder` besides finished images: temp files of a non-atomic write."""
    return [f for f in os.listdir(folder) if not f.endswith((".png", ".svg"))]


def digits(n=12, seed=0):
    """Fake 'digits': blobs in [0, 1], NCHW."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    out = np.zeros((n, 1, 28, 28), np.float32)
    for i in range(n):
        cy, cx = rng.integers(8, 20, size=2)
        out[i, 0] = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 30.0)
    return out


def small_loss():
    x = mg.tensor(np.random.default_rng(0).normal(size=(4, 3)))
    x.name = "x"
    w = mg.tensor(np.random.default_rng(1).normal(size=(3, 1)), requires_grad=True)
    w.name = "w"
    loss = (x @ w).sigmoid().sum()
    loss.name = "loss"
    return loss


def all_text(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


# ----------------------------------------------------------------------------- import, errors

def test_import_minigrad_does_not_import_matplotlib():
    code = ("import sys, minigrad, minigrad.plot; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported eagerly'")
    subprocess.run([sys.executable, "-c", code], check=True,
                   cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)     # "import matplotlib" now fails
    with pytest.raises(ImportError, match=r"minigrad\[examples\]"):
        plot.curves({"loss": [1.0, 0.5]})


def test_backend_is_left_alone(tmp_path):
    import matplotlib
    before = matplotlib.get_backend()
    plot.curves({"loss": [1.0, 0.5]}, path=tmp_path / "c.png")
    assert matplotlib.get_backend() == before


# ----------------------------------------------------------------------------- image_grid

@pytest.mark.parametrize("layout", ["nchw", "nhw", "flat"])
def test_image_grid_shapes(tmp_path, layout):
    x = digits(10)
    x = {"nchw": x, "nhw": x[:, 0], "flat": x.reshape(10, 784)}[layout]
    path = tmp_path / "grid.png"
    fig = plot.image_grid(x, path=path, title="digits")
    check_png(fig, path)
    assert leftovers(tmp_path) == []


def test_image_grid_tensor_labels_and_grid_shape(tmp_path):
    x = mg.tensor(digits(6))
    fig = plot.image_grid(x, nrows=2, labels=[f"digit {i}" for i in range(6)],
                          label_colors=["green"] * 5 + ["red"], path=tmp_path / "g.png")
    check_png(fig, tmp_path / "g.png")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == [f"digit {i}" for i in range(6)]
    assert len(fig.axes) == 6                                  # 2 x 3


def test_image_grid_value_range_maps_gan_outputs():
    x = np.linspace(-1, 1, 4 * 28 * 28).reshape(4, 1, 28, 28)
    for value_range in [(-1, 1), None]:                        # given, or guessed from the data
        fig = plot.image_grid(x, value_range=value_range)
        shown = fig.axes[0].images[0].get_array()
        assert np.nanmin(shown) == pytest.approx(0.0) and np.nanmax(shown) == pytest.approx(1.0)
    fig = plot.image_grid(x, value_range=(0, 1))               # wrong range: clipped, not rescaled
    assert np.nanmean(fig.axes[0].images[0].get_array() == 0.0) > 0.4


def test_image_grid_rgb():
    fig = plot.image_grid(np.random.default_rng(0).random((4, 3, 8, 8)))
    assert fig.axes[0].images[0].get_array().shape[-1] == 3


@pytest.mark.parametrize("bad, match", [
    (np.zeros((3, 5, 28, 28)), "1 or 3 channels"),
    (np.zeros((3, 28, 28, 1)), "channels-last"),
    (np.zeros((3, 783)), "not a square"),
    (np.zeros(784), "got shape"),
    (np.zeros((0, 28, 28)), "nothing to draw"),
    (np.array([["a"]]), "numbers"),
])
def test_image_grid_bad_shapes(bad, match):
    with pytest.raises(ValueError, match=match):
        plot.image_grid(bad)


def test_image_grid_bad_arguments():
    x = digits(6)
    with pytest.raises(ValueError, match="holds 4 images"):
        plot.image_grid(x, nrows=2, ncols=2)
    with pytest.raises(ValueError, match="labels"):
        plot.image_grid(x, labels=["a"])
    with pytest.raises(ValueError, match="value_range"):
        plot.image_grid(x, value_range=(1, 0))


# ----------------------------------------------------------------------------- latent_scatter

def test_latent_scatter_digits(tmp_path):
    rng = np.random.default_rng(0)
    y = np.arange(300) % 10
    z = rng.normal(size=(300, 2)) + y[:, None]
    path = tmp_path / "latent.png"
    fig = plot.latent_scatter(mg.tensor(z), mg.tensor(y), path=path)
    check_png(fig, path)
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [str(d) for d in range(10)]
    assert legend.get_title().get_text() == "digit"
    # one-hot labels and class names work too
    fig = plot.latent_scatter(z, np.eye(10)[y], class_names=[f"d{i}" for i in range(10)])
    assert fig.axes[0].get_legend().get_texts()[3].get_text() == "d3"


def test_latent_scatter_continuous_labels_get_a_colorbar(tmp_path):
    z = np.random.default_rng(0).normal(size=(200, 2))
    fig = plot.latent_scatter(z, z[:, 0] * 0.37, legend_title="t", path=tmp_path / "s.png")
    assert len(fig.axes) == 2                                   # the axes and its colorbar
    check_png(fig, tmp_path / "s.png")


def test_latent_scatter_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plot.latent_scatter(np.zeros((10, 3)), np.zeros(10))
    with pytest.raises(ValueError, match="expected 10 labels"):
        plot.latent_scatter(np.zeros((10, 2)), np.zeros(9))


# ----------------------------------------------------------------------------- manifold

def test_inverse_normal_cdf_matches_scipy():
    norm = pytest.importorskip("scipy.stats").norm
    p = np.concatenate([np.linspace(1e-9, 0.03, 50), np.linspace(0.01, 0.99, 99),
                        1 - np.linspace(1e-9, 0.03, 50)])
    np.testing.assert_allclose(plot._acklam_ppf(p), norm.ppf(p), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError):
        plot._acklam_ppf([0.0, 0.5])


def test_manifold(tmp_path):
    seen = []

    def decode(z):                         # bright where z[0] is large: checks the grid order
        seen.append(z)
        return mg.tensor(np.repeat(1 / (1 + np.exp(-z[:, :1])), 8 * 8, axis=1).reshape(-1, 1, 8, 8))

    path = tmp_path / "manifold.png"
    fig = plot.manifold(decode, n=5, digit_size=8, path=path)
    check_png(fig, path)
    z = seen[0]
    assert z.shape == (25, 2) and z.dtype == np.float32
    expected = np.sort(plot._acklam_ppf(np.linspace(0.05, 0.95, 5)))
    np.testing.assert_allclose(np.unique(z[:, 0]), expected, rtol=1e-5)
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (40, 40)
    assert image[0, 0] < image[0, -1]               # z[0] grows to the right
    assert z[0, 1] > z[-1, 1]                       # z[1] falls from the top row down


def test_manifold_bad_input():
    with pytest.raises(ValueError, match="expected 4 images of 28x28"):
        plot.manifold(lambda z: np.zeros((4, 10)), n=2)
    with pytest.raises(ValueError, match="0 < low < high < 1"):
        plot.manifold(lambda z: np.zeros((4, 784)), n=2, grid_range=(0.0, 1.0))
    with pytest.raises(TypeError):
        plot.manifold(np.zeros(3))


# ----------------------------------------------------------------------------- curves

def test_curves_one_axes(tmp_path):
    path = tmp_path / "loss.png"
    history = {"loss": [3.0, 2.0, 1.5], "val_loss": np.array([3.2, 2.4, 2.0]),
               "kl": [mg.tensor(0.1), mg.tensor(0.4), mg.tensor(0.5)]}
    fig = plot.curves(history, path=path, title="VAE", logy=True)
    check_png(fig, path)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"loss", "val_loss", "kl"}
    assert lines["val_loss"].get_color() == lines["loss"].get_color()   # paired, dashed
    assert lines["val_loss"].get_linestyle() == "--"
    assert list(lines["loss"].get_xdata()) == [1, 2, 3]
    assert ax.get_yscale() == "log" and ax.get_title() == "VAE"


def test_curves_panels_and_history_object(tmp_path):
    history = types.SimpleNamespace(history={"loss": [1.0, 0.5], "accuracy": [0.5, 0.9]})
    path = tmp_path / "panels.png"
    fig = plot.curves([{"recon": [200, 180, 170]}, {"kl": [2, 4, 5]}, history], path=path,
                      title=["reconstruction", "KL", "keras"], ylabel=["nats", "nats", ""])
    check_png(fig, path)
    assert [ax.get_title() for ax in fig.axes] == ["reconstruction", "KL", "keras"]


def test_curves_smoothing():
    noisy = list(np.random.default_rng(0).normal(size=500))
    fig = plot.curves({"d_loss": noisy}, smooth=20, xlabel="iteration")
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert "d_loss (mean of 20)" in labels


def test_curves_bad_input():
    with pytest.raises(ValueError, match="non-empty dict"):
        plot.curves({})
    with pytest.raises(ValueError, match="sequence of numbers"):
        plot.curves({"loss": ["a", "b"]})
    with pytest.raises(ValueError, match="2 titles for 3 panels"):
        plot.curves([{"a": [1]}, {"b": [1]}, {"c": [1]}], title=["x", "y"])


# ----------------------------------------------------------------------------- confusion matrix

def test_confusion_matrix(tmp_path):
    y_true = np.array([0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0, 2])
    path = tmp_path / "cm.png"
    fig = plot.confusion_matrix(mg.tensor(y_true), y_pred, classes=["zero", "one", "two"], path=path)
    check_png(fig, path)
    counts = fig.axes[0].images[0].get_array()
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 2, 0], [1, 0, 2]])
    assert "71.4%" in fig.axes[0].get_title()
    assert "2" in all_text(fig)
    fig = plot.confusion_matrix(y_true, np.eye(3)[y_pred], normalize=True)   # one-hot predictions
    rows = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)
    assert "0.67" in all_text(fig)


def test_confusion_matrix_bad_input():
    with pytest.raises(ValueError, match="3 true labels but 2 predictions"):
        plot.confusion_matrix([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="class indices"):
        plot.confusion_matrix([0, -1], [0, 1])
    with pytest.raises(ValueError, match="only 2 class names"):
        plot.confusion_matrix([0, 2], [0, 1], classes=["a", "b"])


# ----------------------------------------------------------------------------- distribution bars

def test_distribution_bars(tmp_path):
    logits = np.log(np.array([0.5, 0.2, 0.1, 0.1, 0.05, 0.05]))

    def reweight(t):
        p = np.exp(logits / t)
        return p / p.sum()

    path = tmp_path / "temperature.png"
    fig = plot.distribution_bars({f"T = {t}": reweight(t) for t in (0.2, 1.0, 2.0)},
                                 categories=list("abcdef"), path=path, title="temperature")
    check_png(fig, path)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("T = 0.2") and "entropy" in titles[0]
    fig = plot.distribution_bars({"p": mg.tensor(reweight(1.0))})        # a Tensor is fine
    assert len(fig.axes[0].patches) == 6


def test_distribution_bars_bad_input():
    with pytest.raises(ValueError, match="different lengths"):
        plot.distribution_bars({"a": [0.5, 0.5], "b": [1.0, 0.0, 0.0]})
    with pytest.raises(ValueError, match="1-D"):
        plot.distribution_bars({"a": np.ones((2, 2))})
    with pytest.raises(ValueError, match="non-negative"):
        plot.distribution_bars({"a": [-0.5, 1.5]})


# ----------------------------------------------------------------------------- atomic writes

def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "out" / "loss.png"            # a missing folder is created
    plot.curves({"loss": [1.0, 0.5]}, path=path)
    before = path.read_bytes()
    from matplotlib.figure import Figure

    def broken(self, *args, **kwargs):
        args[0].write(b"half a png")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        plot.curves({"loss": [2.0, 1.0]}, path=path)
    assert path.read_bytes() == before                  # the old figure is intact
    assert os.listdir(path.parent) == ["loss.png"]      # and no temp file is left


def test_other_formats_follow_the_suffix(tmp_path):
    path = tmp_path / "loss.svg"
    plot.curves({"loss": [1.0, 0.5]}, path=path)
    assert path.read_text().lstrip().startswith("<?xml")


# ----------------------------------------------------------------------------- draw_graph

def test_draw_graph_matplotlib(tmp_path):
    loss = small_loss()
    path = tmp_path / "graph.png"
    fig = plot.draw_graph(loss, path=path, engine="matplotlib")
    check_png(fig, path)
    texts = all_text(fig)
    for label in ("MatMul", "Sigmoid", "Sum", "x", "w", "requires grad"):
        assert any(label in t for t in texts), label
    assert any(t.startswith("loss = ") for t in texts)
    assert leftovers(tmp_path) == []
    loss.backward()                                             # the graph still works after
    assert loss._ctx.inputs is None and "w" in texts


def test_draw_graph_auto_falls_back_without_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(plot, "_graphviz_available", lambda: False)
    fig = plot.draw_graph(small_loss(), path=tmp_path / "g.png")
    assert hasattr(fig, "savefig")
    check_png(fig, tmp_path / "g.png")


def test_graph_structure():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    x.name = "x"
    y = x * x                                            # x used twice by one op
    h = y + 3.0
    h.name = "h"
    out = (h * y).sum()
    nodes, edges = plot._graph_of(out)
    kinds = sorted(n["kind"] for n in nodes.values())
    assert kinds == ["grad_leaf", "leaf", "op", "op", "op", "op", "output"]
    heads = {n["head"] for n in nodes.values()}
    assert {"x", "3", "Mul", "Add", "Sum"} <= heads
    assert 2 in edges.values()                           # the x -> Mul edge counts twice
    assert any("h" in line for n in nodes.values() for line in n["detail"])
    # a leaf alone is a one-node graph
    assert len(plot._graph_of(x)[0]) == 1


def test_graph_walk_is_iterative():
    x = mg.tensor(np.ones(2), requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        nodes, edges = plot._graph_of(y.sum())
    finally:
        sys.setrecursionlimit(limit)
    assert len(nodes) == 3000 + 1 + 1 + 1 + 3000        # muls, sum, output, x, constants


def test_draw_graph_errors():
    loss = small_loss()
    loss.backward()
    with pytest.raises(ValueError, match="retain_graph=True"):
        plot.draw_graph(loss, engine="matplotlib")
    with pytest.raises(TypeError, match="Tensor"):
        plot.draw_graph(np.zeros(3))
    with pytest.raises(ValueError, match="engine"):
        plot.draw_graph(small_loss(), engine="dot")


class FakeDigraph:
    """Stands in for graphviz.Digraph: records what draw_graph asks for."""
    def __init__(self, name, format):
        self.format, self.nodes, self.edges = format, {}, []

    def attr(self, *args, **kwargs):
        pass

    def node(self, name, label, **kwargs):
        self.nodes[name] = label

    def edge(self, u, v, **kwargs):
        self.edges.append((u, v))

    def pipe(self, format):
        return b"\x89PNG fake " + format.encode()


def test_draw_graph_graphviz_path(tmp_path, monkeypatch):
    fake = types.ModuleType("graphviz")
    fake.Digraph = FakeDigraph
    fake.ExecutableNotFound = RuntimeError
    monkeypatch.setitem(sys.modules, "graphviz", fake)
    monkeypatch.setattr(plot, "_graphviz_available", lambda: True)
    path = tmp_path / "graph.png"
    dot = plot.draw_graph(small_loss(), path=path)
    assert isinstance(dot, FakeDigraph)
    labels = " ".join(dot.nodes.values())
    assert "<b>MatMul</b>" in labels and "<b>Sigmoid</b>" in labels
    assert len(dot.nodes) == 6 and len(dot.edges) == 5   # x, w, MatMul, Sigmoid, Sum, output
    assert path.read_bytes() == b"\x89PNG fake png"
    assert leftovers(tmp_path) == []


def test_draw_graph_real_graphviz(tmp_path):
    pytest.importorskip("graphviz")
    import shutil
    if shutil.which("dot") is None:
        pytest.skip("the Graphviz 'dot' program is not installed")
    path = tmp_path / "graph.png"
    plot.draw_graph(small_loss(), path=path, engine="graphviz")
    assert matplotlib.image.imread(path).shape[0] > 100


# ----------------------------------------------------------------------------- draw_model

def two_branch_model():
    """Input -> Dense -> (Dense, Dense) -> x + y op -> a shared Dense called twice -> add,
    plus a frozen nested Sequential on one branch: every kind of box draw_model draws."""
    from minigrad import nn
    x = nn.Input((6,), name="image")
    h = nn.Dense(4, activation="relu", name="hidden")(x)
    a, b = nn.Dense(2, name="a")(h), nn.Dense(2, name="b")(h)
    shared = nn.Dense(3, name="shared")
    summed = nn.add([shared(a + b), shared(b)], name="merge")
    head = nn.Sequential([nn.Dense(5, input_shape=(2,))], name="head")
    head.trainable = False
    return nn.Model(x, [summed, head(a)], name="two_branch")


def test_model_graph_structure():
    nodes, edges = plot._model_graph_of(two_branch_model())
    by_head = {n["head"]: n for n in nodes.values()}
    assert by_head["image (InputLayer)"]["kind"] == "input"
    assert by_head["hidden (Dense)"]["kind"] == "layer"
    assert by_head["head (Sequential)"]["kind"] == "frozen"
    assert by_head["Add"]["kind"] == "op"                       # a + b on symbolic tensors
    assert [n["kind"] for n in nodes.values()].count("output") == 2
    shared = by_head["shared (Dense)"]
    assert "shared: called 2\u00d7" in shared["detail"] and "9 params" in shared["detail"]
    assert "in  (None, 6)" in by_head["hidden (Dense)"]["detail"]
    assert "out (None, 4)" in by_head["hidden (Dense)"]["detail"]
    key = {n["head"]: k for k, n in nodes.items()}
    assert edges[(key["shared (Dense)"], key["merge (Add)"])] == 2      # both calls feed the merge
    assert (key["b (Dense)"], key["shared (Dense)"]) in edges and (key["b (Dense)"], key["Add"]) in edges
    # one box per layer: 8 layers and ops + 2 outputs, and one arrow per (caller, callee) pair
    assert len(nodes) == 10 and len(edges) == 11


def test_draw_model_matplotlib(tmp_path):
    path = tmp_path / "model.png"
    fig = plot.draw_model(two_branch_model(), path=path, engine="matplotlib")
    check_png(fig, path)
    texts = all_text(fig)
    for label in ("hidden (Dense)", "merge (Add)", "head (Sequential)", "shared: called 2\u00d7"):
        assert any(label in t for t in texts), label
    assert any("two_branch" in t for t in texts)
    assert leftovers(tmp_path) == []


def test_draw_model_sequential_and_errors():
    from minigrad import nn
    seq = nn.Sequential([nn.Dense(3, input_shape=(4,), name="d1"), nn.Dense(1, name="d2")])
    nodes, edges = plot._model_graph_of(seq, show_shapes=False)
    assert [n["head"] for n in nodes.values()][1:] == ["d1 (Dense)", "d2 (Dense)", "output"]
    assert len(edges) == 3 and [n["detail"] for n in nodes.values()] == [[], ["15 params"], ["4 params"], []]
    with pytest.raises(ValueError, match="no input yet"):
        plot.draw_model(nn.Sequential([nn.Dense(3)]))

    class Custom(nn.Module):
        def forward(self, x):
            return x
    with pytest.raises(TypeError, match="draw_graph"):
        plot.draw_model(Custom())
    with pytest.raises(ValueError, match="engine"):
        plot.draw_model(seq, engine="dot")


def test_draw_model_graphviz_path(tmp_path, monkeypatch):
    fake = types.ModuleType("graphviz")
    fake.Digraph = FakeDigraph
    fake.ExecutableNotFound = RuntimeError
    monkeypatch.setitem(sys.modules, "graphviz", fake)
    monkeypatch.setattr(plot, "_graphviz_available", lambda: True)
    dot = plot.draw_model(two_branch_model(), path=tmp_path / "m.svg")
    labels = " ".join(dot.nodes.values())
    assert "<b>shared (Dense)</b>" in labels and len(dot.nodes) == 10 and len(dot.edges) == 11
    assert (tmp_path / "m.svg").read_bytes() == b"\x89PNG fake svg"
