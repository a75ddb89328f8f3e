"""Figures for the lessons: image grids, latent spaces, curves, confusion matrices, graphs.

Every function takes NumPy arrays or minigrad Tensors (on any device), returns a matplotlib
``Figure`` and, given ``path=``, also writes it there (PNG, or the format named by the path's
suffix: .svg, .pdf, ...). Writes are atomic: the file is written next to its final name and
moved into place, so a reader never sees half an image, even if training is interrupted.

    from minigrad import plot
    plot.image_grid(x_test[:25], path="out/digits.png", title="test digits")
    plot.latent_scatter(z_mean, y_test, path="out/latent.png")
    plot.manifold(lambda z: vae.decode(z), n=15, path="out/manifold.png")
    plot.curves({"loss": h["loss"], "val_loss": h["val_loss"]}, path="out/loss.png")
    plot.confusion_matrix(y_true, y_pred, path="out/confusion.png")
    plot.draw_graph(loss, path="out/graph.png")

matplotlib is imported on first use, so ``import minigrad`` (and ``import minigrad.plot``)
needs NumPy alone; install the plotting extra with ``pip install 'minigrad[examples]'``.

The figures are built without pyplot, on their own Agg (non-GUI) canvas: nothing changes the
backend you chose, nothing opens a window, figures made every epoch of a training loop are
freed like any other object, and it all works on a headless machine. To look at one
interactively, save it, or in Jupyter ``import matplotlib.pyplot`` once and return the
figure from a cell.
"""
from __future__ import annotations

import functools
import html
import importlib.util
import math
import os
import shutil
import warnings
from collections import deque

import numpy as np

from ..engine import backend
from ..engine.tensor import Tensor
from ..nn.graph import InputNode
from ..nn.layers import InputLayer
from ..nn.model import Model
from ..nn.module import Module, format_shape
from ..nn.sequential import Sequential
from ..training.files import atomic_write

__all__ = ["image_grid", "latent_scatter", "manifold", "curves", "confusion_matrix",
           "distribution_bars", "draw_graph", "draw_model", "DPI"]

DPI = 120                                   # saved figures: crisp, and small enough for a README
_INSTALL_HINT = "pip install 'minigrad[examples]'"

# One look for every figure (applied with rc_context, so the user's rcParams are left alone).
_STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "figure.titlesize": 11,
    "figure.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#444444",
    "axes.grid": False,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "image.interpolation": "nearest",
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
}


# ============================================================================ plumbing

def _matplotlib():
    """matplotlib, imported on first use, with the install command when it is missing."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            f"minigrad.plot needs matplotlib, which is not installed. Install the extra: "
            f"{_INSTALL_HINT}  (or: pip install matplotlib)") from exc
    return matplotlib


def _styled(fn):
    """Run a plotting function with matplotlib imported and minigrad's style in effect."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        mpl = _matplotlib()
        with mpl.rc_context(_STYLE):
            return fn(*args, **kwargs)
    return wrapper


def _figure(figsize, layout="constrained"):
    """A pyplot-free Figure on an Agg canvas (no GUI, no global figure list)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize, dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _host(x, what: str) -> np.ndarray:
    """A NumPy array from a Tensor (any device), a backend array or array-like data."""
    if isinstance(x, Tensor):
        return x.numpy()
    if backend.is_backend_array(x):
        return backend.to_numpy(x)
    try:
        return np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{what}: cannot make an array of {type(x).__name__} ({exc})") from None


def _numeric(a: np.ndarray, what: str) -> np.ndarray:
    if a.dtype == bool:
        return a.astype(np.float64)
    if not np.issubdtype(a.dtype, np.number):
        raise ValueError(f"{what} must be numbers, got an array of dtype {a.dtype}")
    return a


def _scalar(v) -> float:
    """A float from a Python number, NumPy scalar or one-element Tensor."""
    if isinstance(v, Tensor):
        return float(v.item())
    return float(np.asarray(v).reshape(()))


def _format_of(path, format=None) -> str:
    if format:
        return format.lower().lstrip(".")
    suffix = os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
    return suffix or "png"


def _save(fig, path, format=None):
    if path is not None:
        fmt = _format_of(path, format)
        atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=DPI))
    return fig


def new_figure(figsize=(6.4, 4.8), layout="constrained"):
    """A blank Figure for your own drawing (no pyplot, no window), in minigrad's size and DPI."""
    _matplotlib()
    return _figure(figsize, layout)


def save_figure(fig, path, format=None):
    """Save a Figure atomically: a reader never sees half a file. Returns the figure."""
    return _save(fig, path, format)


def _check_range(value_range, what="value_range"):
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a pair (low, high) such as (0, 1) or (-1, 1), "
                         f"got {value_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{what} needs finite low < high, got {value_range!r}")
    return lo, hi


def _auto_range(a: np.ndarray):
    """(0, 1) or (-1, 1) when the pixels fit (VAE / GAN outputs), else the data's own range."""
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if lo >= 0.0 and hi <= 1.0:
        return 0.0, 1.0
    if lo >= -1.0 and hi <= 1.0:
        return -1.0, 1.0
    if lo >= 0.0 and hi <= 255.0 and np.allclose(finite, np.round(finite)):
        return 0.0, 255.0
    return (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)


# ============================================================================ images

def _as_images(a: np.ndarray, what="images") -> np.ndarray:
    """(N, H, W) for gray or (N, H, W, 3) for colour, from NCHW, (N, H, W) or (N, H*W)."""
    a = _numeric(a, what)
    if a.ndim == 4:
        n, c, h, w = a.shape
        if c == 1:
            a = a[:, 0]
        elif c == 3:
            a = a.transpose(0, 2, 3, 1)
        else:
            hint = (" (channels-last? use x.transpose(0, 3, 1, 2))" if a.shape[-1] in (1, 3) else "")
            raise ValueError(f"{what}: expected NCHW with 1 or 3 channels, got shape {a.shape}{hint}")
    elif a.ndim == 3:
        pass
    elif a.ndim == 2:
        n, d = a.shape
        side = math.isqrt(d)
        if side * side != d:
            raise ValueError(
                f"{what}: shape {a.shape} reads as {n} flat images of {d} pixels, which is not a "
                "square; reshape them to (N, H, W) or (N, 1, H, W) first")
        a = a.reshape(n, side, side)
    else:
        raise ValueError(f"{what}: expected (N, 1, H, W), (N, 3, H, W), (N, H, W) or (N, H*W), "
                         f"got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0 or a.shape[2] == 0:
        raise ValueError(f"{what}: nothing to draw (shape {a.shape})")
    return a.astype(np.float64, copy=False)


def _grid_shape(n: int, nrows, ncols):
    if nrows is not None and (int(nrows) != nrows or nrows < 1):
        raise ValueError(f"nrows must be a positive integer, got {nrows!r}")
    if ncols is not None and (int(ncols) != ncols or ncols < 1):
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    if nrows is None and ncols is None:
        ncols = math.ceil(math.sqrt(n))
    if ncols is None:
        ncols = math.ceil(n / nrows)
    if nrows is None:
        nrows = math.ceil(n / ncols)
    nrows, ncols = int(nrows), int(ncols)
    if nrows * ncols < n:
        raise ValueError(f"a {nrows}x{ncols} grid holds {nrows * ncols} images, but {n} were given; "
                         f"pass fewer images (e.g. images[:{nrows * ncols}]) or a bigger grid")
    return nrows, ncols


@_styled
def image_grid(images, nrows=None, ncols=None, path=None, title=None, labels=None, cmap="gray",
               value_range=None, label_colors=None):
    """A grid of images (digits, reconstructions, GAN samples).

    images       (N, 1, H, W) or (N, 3, H, W) NCHW, (N, H, W), or (N, H*W) flat square images
    nrows/ncols  grid shape; default: as square as possible
    labels       N small titles, one per image (e.g. "3", "true 7 / pred 1 (0.98)")
    label_colors N matplotlib colours for those titles (e.g. green right / red wrong)
    value_range  the pixel range that maps to black..white: (0, 1) for sigmoid outputs,
                 (-1, 1) for tanh (GAN) outputs; default: guessed from the data
    """
    imgs = _as_images(_host(images, "image_grid: images"), "image_grid: images")
    n, h, w = imgs.shape[:3]
    color = imgs.ndim == 4
    nrows, ncols = _grid_shape(n, nrows, ncols)
    lo, hi = _check_range(value_range) if value_range is not None else _auto_range(imgs)
    imgs = np.clip((imgs - lo) / (hi - lo), 0.0, 1.0)
    if labels is not None:
        labels = list(_host(labels, "labels")) if not isinstance(labels, (list, tuple)) else list(labels)
        if len(labels) != n:
            raise ValueError(f"image_grid: {len(labels)} labels for {n} images")
    if label_colors is not None and len(label_colors) != n:
        raise ValueError(f"image_grid: {len(label_colors)} label_colors for {n} images")

    import matplotlib
    cm = matplotlib.colormaps.get_cmap(cmap).with_extremes(bad="white") if not color else None
    title_h = 0.45 if title else 0.0
    if labels is None:
        # One mosaic image: fast for big grids, crisp, with thin white gutters between tiles.
        gap = max(1, round(min(h, w) / 14))
        big_h, big_w = nrows * h + (nrows - 1) * gap, ncols * w + (ncols - 1) * gap
        mosaic = np.full((big_h, big_w, 3) if color else (big_h, big_w), np.nan)
        for i in range(n):
            r, c = divmod(i, ncols)
            mosaic[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = imgs[i]
        if color:
            mosaic = np.nan_to_num(mosaic, nan=1.0)
        width = min(max(ncols * 0.9, 2.5), 10.0)
        height = width * big_h / big_w + title_h + 0.1
        fig = _figure((width, height))
        fig.get_layout_engine().set(w_pad=0.02, h_pad=0.02)
        ax = fig.add_subplot()
        ax.imshow(mosaic, cmap=cm, vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_axis_off()
    else:
        fig = _figure((min(ncols * 1.15, 14.0), min(nrows * 1.3, 18.0) + title_h))
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for i, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if i >= n:
                continue
            ax.imshow(imgs[i], cmap=cm, vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_title(str(labels[i]), fontsize=8, pad=3,
                         color=label_colors[i] if label_colors is not None else "#222222")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


# ============================================================================ latent spaces

def _class_labels(labels, n, what):
    """(N,) labels from (N,) values or (N, classes) one-hot / probabilities; n=None: any N."""
    y = _numeric(_host(labels, what), what)
    if n is None:
        n = y.shape[0] if y.ndim >= 1 else -1
    if y.ndim == 2 and y.shape[0] == n and y.shape[1] > 1:      # one-hot or probabilities
        y = y.argmax(axis=1)
    y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{what}: expected {n} labels (shape ({n},), or ({n}, classes) one-hot), "
                         f"got shape {y.shape}")
    return y


@_styled
def latent_scatter(z, labels=None, path=None, title=None, class_names=None, legend_title=None):
    """2-D latent codes as a scatter, coloured by class (digits: tab10, legend 0-9).

    z        (N, 2) codes, e.g. the encoder's z_mean
    labels   (N,) integer classes -> a colour per class and a legend; float values (e.g. the
             position along the S-curve) -> a continuous colormap with a colorbar
    """
    z = _numeric(_host(z, "latent_scatter: z"), "latent_scatter: z")
    if z.ndim != 2 or z.shape[1] != 2 or z.shape[0] == 0:
        raise ValueError(
            f"latent_scatter draws 2-D codes, shape (N, 2); got shape {z.shape}. For a wider "
            "latent space pick two dimensions (z[:, :2]) or project first (e.g. PCA).")
    n = z.shape[0]
    y = _class_labels(labels, n, "latent_scatter: labels") if labels is not None else None
    order = np.random.default_rng(0).permutation(n)    # no class painted over all the others
    size = float(np.clip(12000.0 / n, 2.0, 30.0))
    alpha = 0.8 if n < 2000 else 0.6

    fig = _figure((6.6, 5.2))
    ax = fig.add_subplot()
    import matplotlib
    from matplotlib.lines import Line2D
    integer = y is not None and np.all(np.isfinite(y)) and np.allclose(y, np.round(y))
    classes = np.unique(y.astype(np.int64)) if integer else None
    if y is None:
        ax.scatter(z[:, 0], z[:, 1], s=size, alpha=alpha, color="#1f77b4", linewidths=0)
    elif integer and len(classes) <= 20:
        yi = y.astype(np.int64)
        palette = matplotlib.colormaps["tab10" if classes.max() < 10 and classes.min() >= 0 else "tab20"]
        # a digit keeps its colour in every figure: colour by the label's value, not its rank
        index = {c: (c if palette.N == 10 else i) % palette.N for i, c in enumerate(classes)}
        colors = np.array([palette(index[c]) for c in yi])
        ax.scatter(z[order, 0], z[order, 1], s=size, c=colors[order], alpha=alpha, linewidths=0)
        def name(c):
            return str(class_names[c]) if class_names is not None and 0 <= c < len(class_names) else str(c)
        handles = [Line2D([], [], marker="o", linestyle="", markersize=6, color=palette(index[c]),
                          label=name(c)) for c in classes]
        default_title = "digit" if classes.min() >= 0 and classes.max() < 10 else "class"
        ax.legend(handles=handles, title=legend_title or default_title, loc="center left",
                  bbox_to_anchor=(1.01, 0.5), borderaxespad=0.0, handletextpad=0.3)
    else:
        points = ax.scatter(z[order, 0], z[order, 1], s=size, c=y[order], cmap="viridis",
                            alpha=alpha, linewidths=0)
        fig.colorbar(points, ax=ax, label=legend_title or "label", shrink=0.85)
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(True)
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_title(title or f"latent space ({n:,} codes)")
    return _save(fig, path)


# ---------------------------------------------------------------- the Gaussian inverse CDF

# Peter J. Acklam's rational approximation of the standard normal inverse CDF ("An algorithm
# for computing the inverse normal cumulative distribution function", 2003): relative error
# below 1.15e-9 over (0, 1), refined by one Halley step on the exact CDF (math.erfc) to full
# double precision. Used only where SciPy is not installed.
_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
      1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
      6.680131188771972e+01, -1.328068155288572e+01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
      -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
      3.754408661907416e+00)
_P_LOW = 0.02425


def _polyval(coeffs, x):
    result = np.zeros_like(x)
    for c in coeffs:
        result = result * x + c
    return result


def _acklam_ppf(p) -> np.ndarray:
    """Inverse of the standard normal CDF for p in (0, 1), pure NumPy (Acklam's algorithm)."""
    p = np.asarray(p, dtype=np.float64)
    if np.any((p <= 0.0) | (p >= 1.0) | ~np.isfinite(p)):
        raise ValueError("the normal inverse CDF needs probabilities strictly between 0 and 1")
    # Work on the lower half, q = min(p, 1 - p) (1 - p is exact for p >= 0.5), and mirror:
    # the tail probabilities keep their precision.
    upper = p > 0.5
    q = np.where(upper, 1.0 - p, p)
    x = np.empty_like(q)
    tail = q < _P_LOW
    t = np.sqrt(-2.0 * np.log(q[tail]))
    x[tail] = _polyval(_C, t) / (_polyval(_D, t) * t + 1.0)
    t = q[~tail] - 0.5
    r = t * t
    x[~tail] = _polyval(_A, r) * t / (_polyval(_B, r) * r + 1.0)
    # one step of Halley's method on the exact CDF brings it to full double precision
    erfc = np.vectorize(math.erfc, otypes=[np.float64])
    e = 0.5 * erfc(-x / math.sqrt(2.0)) - q
    u = e * math.sqrt(2.0 * math.pi) * np.exp(x * x / 2.0)
    x = x - u / (1.0 + x * u / 2.0)
    return np.where(upper, -x, x)


def _norm_ppf(p) -> np.ndarray:
    """scipy.stats.norm.ppf when SciPy is installed, else Acklam's approximation."""
    try:
        from scipy.stats import norm
    except ImportError:
        return _acklam_ppf(p)
    return np.asarray(norm.ppf(np.asarray(p, dtype=np.float64)), dtype=np.float64)


@_styled
def manifold(decode_fn, n=15, digit_size=28, path=None, grid_range=(0.05, 0.95), title=None,
             cmap="gray", value_range=None):
    """The decoder's view of a 2-D latent space: an n x n grid of decoded latent points.

    The grid is evenly spaced in probability and mapped through the Gaussian inverse CDF, so
    it covers the N(0, 1) prior the way the prior spreads its mass (as in the Keras VAE
    example). decode_fn(z) gets a float32 NumPy array of shape (n*n, 2) (rows top to
    bottom: z[1] falling; columns left to right: z[0] rising) and returns n*n images of
    digit_size x digit_size pixels in any layout (NCHW, flat, Tensor or array).
    """
    if not callable(decode_fn):
        raise TypeError(f"manifold: decode_fn must be callable (z -> images), got {type(decode_fn).__name__}")
    if int(n) != n or n < 1:
        raise ValueError(f"manifold: n must be a positive integer, got {n!r}")
    if int(digit_size) != digit_size or digit_size < 1:
        raise ValueError(f"manifold: digit_size must be a positive integer, got {digit_size!r}")
    n, digit_size = int(n), int(digit_size)
    lo, hi = _check_range(grid_range, "grid_range")
    if not (0.0 < lo < hi < 1.0):
        raise ValueError(f"manifold: grid_range holds probabilities, 0 < low < high < 1; got {grid_range!r}")
    grid_x = _norm_ppf(np.linspace(lo, hi, n))
    grid_y = _norm_ppf(np.linspace(lo, hi, n))[::-1]
    zz = np.stack(np.meshgrid(grid_x, grid_y), axis=-1).reshape(n * n, 2).astype(np.float32)

    out = _numeric(_host(decode_fn(zz), "manifold: decode_fn(z)"), "manifold: decode_fn(z)")
    expected = n * n * digit_size * digit_size
    if out.size != expected:
        raise ValueError(
            f"manifold: decode_fn returned shape {out.shape} ({out.size} values) for {n * n} latent "
            f"points; expected {n * n} images of {digit_size}x{digit_size} ({expected} values). "
            "Set digit_size to the decoder's image size.")
    digits = out.reshape(n, n, digit_size, digit_size).astype(np.float64)
    vlo, vhi = _check_range(value_range) if value_range is not None else _auto_range(digits)
    figure = digits.transpose(0, 2, 1, 3).reshape(n * digit_size, n * digit_size)

    fig = _figure((7.0, 7.3 if title is not False else 7.0))
    ax = fig.add_subplot()
    ax.imshow(figure, cmap=cmap, vmin=vlo, vmax=vhi, interpolation="nearest")
    centers = np.arange(n) * digit_size + (digit_size - 1) / 2.0
    step = max(1, math.ceil(n / 15))
    def tick(v):
        return f"{round(float(v), 1) + 0.0:.1f}"      # + 0.0: no "-0.0"
    ax.set_xticks(centers[::step], [tick(v) for v in grid_x[::step]])
    ax.set_yticks(centers[::step], [tick(v) for v in grid_y[::step]])
    ax.tick_params(length=2, labelsize=7)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_title(title or f"decoded latent grid: {n}x{n} Gaussian quantiles {lo:g}..{hi:g}")
    return _save(fig, path)


# ============================================================================ curves

def _history_dict(h, what):
    if hasattr(h, "history") and isinstance(h.history, dict):      # a Keras-style History
        h = h.history
    if not isinstance(h, dict) or not h:
        raise ValueError(f"{what}: expected a non-empty dict of name -> list of numbers "
                         f"(or a History), got {type(h).__name__}")
    result = {}
    for name, values in h.items():
        try:
            ys = np.array([_scalar(v) for v in values], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{what}: curve {name!r} must be a sequence of numbers, "
                             f"got {type(values).__name__}") from None
        result[str(name)] = ys
    if all(len(v) == 0 for v in result.values()):
        raise ValueError(f"{what}: every curve is empty")
    return result


def _moving_average(y, window):
    if window is None or window <= 1 or len(y) < window:
        return None
    kernel = np.ones(int(window)) / int(window)
    valid = np.convolve(np.nan_to_num(y), kernel, mode="valid")
    return np.arange(window, len(y) + 1), valid


def _draw_curves(ax, hist, ylabel, xlabel, logy, smooth, title):
    from matplotlib.ticker import MaxNLocator
    colors = {}
    cycle = iter(["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                  "#7f7f7f", "#bcbd22", "#17becf"] * 4)
    for name, ys in hist.items():
        if len(ys) == 0:
            continue
        base = None
        for prefix in ("val_", "test_", "valid_"):
            if name.startswith(prefix) and name[len(prefix):] in hist:
                base = name[len(prefix):]
        # a validation curve takes its training curve's colour, dashed
        color = colors.get(base) if base in colors else next(cycle)
        colors[name] = color
        style = "--" if base is not None or name.startswith(("val", "test")) else "-"
        x = np.arange(1, len(ys) + 1)
        marker = "o" if len(ys) <= 30 else None
        sm = _moving_average(ys, smooth)
        if sm is None:
            ax.plot(x, ys, style, color=color, marker=marker, markersize=3, linewidth=1.6, label=name)
        else:
            ax.plot(x, ys, style, color=color, linewidth=0.8, alpha=0.25)
            ax.plot(*sm, style, color=color, linewidth=1.6, label=f"{name} (mean of {int(smooth)})")
    if logy:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()


@_styled
def curves(history, path=None, title=None, ylabel="loss", xlabel="epoch", logy=False, smooth=None):
    """Named curves on one axes (train / test, reconstruction / KL), x counted from 1.

    history  {name: [values...]} or a History (its .history is used); a list of those draws
             side-by-side panels, and then title and ylabel may be lists (one per panel) or one
             string (title becomes the figure's title)
    "val_loss" / "test_loss" take the colour of "loss", dashed. smooth=k adds a k-step moving
    average over a faint raw curve (for noisy per-iteration GAN losses).
    """
    panels = history if isinstance(history, (list, tuple)) else [history]
    if not panels:
        raise ValueError("curves: expected a dict of curves or a list of them, got an empty list")
    panels = [_history_dict(h, f"curves: panel {i}" if len(panels) > 1 else "curves")
              for i, h in enumerate(panels)]
    k = len(panels)

    def per_panel(value, name):
        if isinstance(value, (list, tuple)):
            if len(value) != k:
                raise ValueError(f"curves: {len(value)} {name}s for {k} panels")
            return list(value)
        return [value] * k

    ylabels, xlabels = per_panel(ylabel, "ylabel"), per_panel(xlabel, "xlabel")
    logys = per_panel(logy, "logy")
    if isinstance(title, (list, tuple)):
        titles, suptitle = per_panel(title, "title"), None
    else:
        titles, suptitle = ([title] if k == 1 else [None] * k), (title if k > 1 else None)

    fig = _figure((min(6.4 if k == 1 else 4.6 * k, 18.0), 4.0))
    axes = fig.subplots(1, k, squeeze=False)[0]
    for ax, hist, yl, xl, lg, t in zip(axes, panels, ylabels, xlabels, logys, titles):
        _draw_curves(ax, hist, yl, xl, lg, smooth, t)
    if suptitle:
        fig.suptitle(suptitle)
    return _save(fig, path)


# ============================================================================ classification

@_styled
def confusion_matrix(y_true, y_pred, classes=None, path=None, title=None, normalize=False):
    """An annotated heat map: rows are the true classes, columns the predictions.

    y_true, y_pred  (N,) integer labels, or (N, classes) one-hot / probabilities (argmax)
    classes         names for the classes (default 0..K-1)
    normalize       True: each row as fractions of that true class (its recall on the diagonal)
    """
    t = _class_labels(y_true, None, "confusion_matrix: y_true")
    p = _class_labels(y_pred, None, "confusion_matrix: y_pred")
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"confusion_matrix: {t.shape[0]} true labels but {p.shape[0]} predictions")
    if t.shape[0] == 0:
        raise ValueError("confusion_matrix: no labels given")
    for name, y in (("y_true", t), ("y_pred", p)):
        if not (np.all(np.isfinite(y)) and np.allclose(y, np.round(y)) and y.min() >= 0):
            raise ValueError(f"confusion_matrix: {name} must hold class indices 0, 1, 2, ...")
    t, p = t.astype(np.int64), p.astype(np.int64)
    k = int(max(t.max(), p.max())) + 1
    if classes is not None:
        classes = [str(c) for c in classes]
        if len(classes) < k:
            raise ValueError(f"confusion_matrix: labels go up to {k - 1} but only {len(classes)} "
                             "class names were given")
        k = len(classes)
    else:
        classes = [str(i) for i in range(k)]
    counts = np.bincount(t * k + p, minlength=k * k).reshape(k, k)
    accuracy = float(np.trace(counts)) / counts.sum()
    if normalize:
        rows = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    else:
        values = counts

    side = float(np.clip(0.55 * k + 2.2, 4.0, 14.0))
    fig = _figure((side + 0.9, side))
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalize else max(values.max(), 1))
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the true class" if normalize else "count")
    if k <= 25:
        threshold = (1.0 if normalize else values.max()) * 0.55
        size = 8 if k <= 12 else 6
        for i in range(k):
            for j in range(k):
                v = values[i, j]
                text = (f"{v:.2f}" if v else "0") if normalize else f"{int(v)}"
                ax.text(j, i, text, ha="center", va="center", fontsize=size,
                        color="white" if v > threshold else "#333333" if v else "#b0b0b0")
    ax.set_xticks(range(k), classes, rotation=45 if max(len(c) for c in classes) > 3 else 0)
    ax.set_yticks(range(k), classes)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    n = int(counts.sum())
    ax.set_title(title or f"confusion matrix: accuracy {accuracy:.1%} of {n:,}")
    return _save(fig, path)


@_styled
def distribution_bars(probs_by_label, path=None, title=None, categories=None, ylabel="probability"):
    """One bar chart per distribution, side by side on a shared y axis.

    For the softmax-temperature lesson: {"T=0.2": p_cold, "T=1": p, "T=2": p_hot}, each a 1-D
    distribution over the same categories. Each panel shows the entropy (nats) of its
    distribution: low temperature sharpens it, high temperature flattens it.
    """
    if not isinstance(probs_by_label, dict) or not probs_by_label:
        raise ValueError("distribution_bars: expected a non-empty dict of label -> 1-D array of "
                         f"probabilities, got {type(probs_by_label).__name__}")
    dists = {}
    for label, probs in probs_by_label.items():
        p = _numeric(_host(probs, f"distribution {label!r}"), f"distribution {label!r}")
        p = p.astype(np.float64)
        if p.ndim != 1 or p.size == 0:
            raise ValueError(f"distribution_bars: {label!r} must be a 1-D array, got shape {p.shape}")
        if not np.all(np.isfinite(p)) or p.min() < 0:
            raise ValueError(f"distribution_bars: {label!r} must be finite and non-negative")
        dists[str(label)] = p
    sizes = {p.size for p in dists.values()}
    if len(sizes) != 1:
        raise ValueError(f"distribution_bars: the distributions have different lengths "
                         f"{ {k: v.size for k, v in dists.items()} }")
    m = sizes.pop()
    if categories is not None:
        categories = [str(c) for c in categories]
        if len(categories) != m:
            raise ValueError(f"distribution_bars: {len(categories)} categories for distributions of length {m}")

    import matplotlib
    k = len(dists)
    ncols = min(k, 4)
    nrows = math.ceil(k / ncols)
    panel_w = float(np.clip(0.22 * m + 1.2, 2.6, 6.0))
    fig = _figure((min(panel_w * ncols, 18.0), 2.9 * nrows + (0.4 if title else 0.0)))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    palette = matplotlib.colormaps["plasma"]
    ymax = max(p.max() for p in dists.values())
    x = np.arange(m)
    for idx, ax in enumerate(axes.flat):
        if idx >= k:
            ax.set_visible(False)
            continue
        label, p = list(dists.items())[idx]
        ax.bar(x, p, width=0.8, color=palette(0.15 + 0.7 * idx / max(k - 1, 1)))
        total = p.sum()
        subtitle = ""
        if total > 0 and abs(total - 1.0) < 1e-3:
            q = p[p > 0]
            subtitle = f"\nentropy {float(-(q * np.log(q)).sum()):.2f} nats"
        ax.set_title(label + subtitle)
        ax.set_ylim(0, ymax * 1.08 if ymax > 0 else 1.0)
        ax.grid(True, axis="y")
        step = max(1, math.ceil(m / 20))
        ax.set_xticks(x[::step], (categories or [str(i) for i in range(m)])[::step],
                      rotation=90 if categories and max(len(c) for c in categories) > 2 else 0)
        if idx % ncols == 0:
            ax.set_ylabel(ylabel)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


# ============================================================================ the autograd graph

_KINDS = {  # kind: (face colour, edge colour, legend text, rounded box)
    "grad_leaf": ("#dbeafe", "#2563eb", "leaf, requires grad", False),
    "leaf": ("#f3f4f6", "#9ca3af", "leaf, no grad (data, constant)", False),
    "op": ("#fef3c7", "#d97706", "op (Function node)", True),
    "output": ("#dcfce7", "#16a34a", "output", False),
}


def _shape_text(t) -> str:
    shape = "scalar" if t.shape == () else str(t.shape)
    dtype = str(t.dtype)
    return shape if dtype == "float32" else f"{shape} {dtype}"


def _value_text(t) -> str | None:
    if t.size != 1:
        return None
    try:
        return f"{float(t.item()):.4g}"
    except Exception:
        return None


def _graph_of(tensor, show_shapes=True):
    """The graph behind `tensor` as (nodes, edges): walked breadth-first, iteratively.

    nodes: key -> {"kind", "head", "detail"} in discovery order (output first, then inputs in
    order); edges: {(src_key, dst_key): count}, src feeding dst (count > 1: used twice).
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw_graph needs a minigrad Tensor, got {type(tensor).__name__}")
    nodes, edges = {}, {}

    def leaf(t, kind=None):
        key = ("t", id(t))
        if key not in nodes:
            value = _value_text(t)
            head = t.name or (value if value is not None else "tensor")
            if t.name and value is not None:
                head = f"{t.name} = {value}"
            detail = [_shape_text(t)] if show_shapes else []
            if kind is None:
                kind = "grad_leaf" if t.requires_grad else "leaf"
            if kind == "grad_leaf":
                detail.append("requires grad")
            nodes[key] = {"kind": kind, "head": head, "detail": detail}
        return key

    def op(node, out):
        key = ("f", id(node))
        if key not in nodes:
            detail = []
            if show_shapes:
                detail.append(("\u2192 " + out.name + " " if out.name else "\u2192 ") + _shape_text(out))
            elif out.name:
                detail.append("\u2192 " + out.name)
            nodes[key] = {"kind": "op", "head": type(node).__name__, "detail": detail}
        return key

    def edge(src, dst):
        edges[(src, dst)] = edges.get((src, dst), 0) + 1

    if tensor._ctx is None:
        leaf(tensor)
        return nodes, edges
    out_key = ("out", id(tensor))
    value = _value_text(tensor)
    head = tensor.name or "output"
    nodes[out_key] = {"kind": "output", "head": f"{head} = {value}" if value is not None else head,
                      "detail": [_shape_text(tensor)] if show_shapes else []}
    root = tensor._ctx
    edge(op(root, tensor), out_key)
    queue, seen = deque([root]), {id(root)}
    while queue:
        node = queue.popleft()
        if node.inputs is None:
            raise ValueError(
                f"draw_graph: the graph behind this tensor was freed by backward() (at its "
                f"{type(node).__name__} node). Draw it before calling backward(), or call "
                "backward(retain_graph=True).")
        dst = ("f", id(node))
        for t in node.inputs:
            if t._ctx is None:
                edge(leaf(t), dst)
            else:
                edge(op(t._ctx, t), dst)
                if id(t._ctx) not in seen:
                    seen.add(id(t._ctx))
                    queue.append(t._ctx)
    return nodes, edges


def _isotonic(y):
    """Pool-adjacent-violators: the non-decreasing sequence closest to y (least squares)."""
    blocks = []   # [mean, weight, count]
    for v in y:
        blocks.append([float(v), 1.0, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    out = []
    for m, _, c in blocks:
        out.extend([m] * c)
    return out


def _layered_layout(keys, edges, sizes, hgap=0.3, vgap=0.42):
    """A small Sugiyama-style layout, all in inches: the output at the bottom, leaves on top.

    1. layer = longest path down to the output (so every edge points down);
    2. edges that skip layers get invisible "dummy" points, one per layer crossed;
    3. order inside layers by barycenter sweeps, keeping the order with fewest crossings;
    4. x: each node pulled toward its neighbours' mean, then under its inputs' mean, boxes kept
       apart and in order (isotonic regression).
    Returns ({key: (x, y)}, {edge: [points from source to target]}).
    """
    consumers = {k: [] for k in keys}
    inputs = {k: [] for k in keys}
    for u, v in edges:
        consumers[u].append(v)
        inputs[v].append(u)
    layer, remaining = {}, {k: len(consumers[k]) for k in keys}
    ready = [k for k in keys if remaining[k] == 0]
    while ready:
        v = ready.pop()
        layer[v] = max((layer[c] + 1 for c in consumers[v]), default=0)
        for u in inputs[v]:
            remaining[u] -= 1
            if remaining[u] == 0:
                ready.append(u)

    rank = {k: i for i, k in enumerate(keys)}
    up, down = {k: [] for k in keys}, {k: [] for k in keys}    # neighbours one layer above/below
    chains = {}
    for u, v in edges:
        chain = [u]
        for lay in range(layer[u] - 1, layer[v], -1):
            d = ("dummy", u, v, lay)
            layer[d], rank[d], up[d], down[d] = lay, rank[u] + 0.5, [], []
            sizes[d] = (0.02, 0.0)
            chain.append(d)
        chain.append(v)
        for a, b in zip(chain, chain[1:]):
            down[a].append(b)
            up[b].append(a)
        chains[(u, v)] = chain
    top = max(layer.values())
    order = {lay: sorted((k for k in layer if layer[k] == lay), key=rank.get) for lay in range(top + 1)}

    def crossings(o):
        total = 0
        for lay in range(top, 0, -1):
            pa = {k: i for i, k in enumerate(o[lay])}
            pb = {k: i for i, k in enumerate(o[lay - 1])}
            es = [(pa[u], pb[v]) for u in o[lay] for v in down[u]]
            total += sum(1 for i, (a1, b1) in enumerate(es) for a2, b2 in es[i + 1:]
                         if (a1 - a2) * (b1 - b2) < 0)
        return total

    def sweep(o, layers, neighbours, adjacent):
        o = dict(o)
        for lay in layers:
            pos = {k: i for i, k in enumerate(o[adjacent(lay)])}
            current = {k: i for i, k in enumerate(o[lay])}
            o[lay] = sorted(o[lay], key=lambda k: (
                sum(pos[n] for n in neighbours[k]) / len(neighbours[k]) if neighbours[k] else current[k],
                current[k]))
        return o

    best, best_count = order, crossings(order)
    for _ in range(6):
        if best_count == 0:
            break
        order = sweep(order, range(top - 1, -1, -1), up, lambda lay: lay + 1)
        order = sweep(order, range(1, top + 1), down, lambda lay: lay - 1)
        count = crossings(order)
        if count < best_count:
            best, best_count = order, count
    order = best

    def separations(row):
        return [0.0] + [(sizes[a][0] + sizes[b][0]) / 2 + (hgap if a[0] != "dummy" or b[0] != "dummy" else 0.08)
                        for a, b in zip(row, row[1:])]

    x = {}
    for lay, row in order.items():
        offsets = np.cumsum(separations(row))
        for k, o in zip(row, offsets - offsets[-1] / 2):
            x[k] = float(o)
    def place(lay, neighbours_of):
        row = order[lay]
        desired = []
        for k in row:
            nb = neighbours_of(k)
            desired.append(sum(x[n] for n in nb) / len(nb) if nb else x[k])
        offsets = np.cumsum(separations(row))
        fitted = _isotonic([d - o for d, o in zip(desired, offsets)])
        for k, f, o in zip(row, fitted, offsets):
            x[k] = f + float(o)

    for it in range(12):              # balance: toward the mean of all neighbours
        for lay in (range(top, -1, -1) if it % 2 == 0 else range(top + 1)):
            place(lay, lambda k: up[k] + down[k])
    for lay in range(top - 1, -1, -1):  # then each op under its inputs: chains come out straight
        place(lay, lambda k: up[k])

    heights = {lay: max(sizes[k][1] for k in row) for lay, row in order.items()}
    y, level = {}, 0.0
    for lay in range(top + 1):
        if lay > 0:
            level += heights[lay - 1] / 2 + vgap + heights[lay] / 2
        for k in order[lay]:
            y[k] = level
    pos = {k: (x[k], y[k]) for k in layer}
    paths = {e: [pos[k] for k in chain] for e, chain in chains.items()}
    return pos, paths


def _draw_graph_matplotlib(nodes, edges, title, kinds_table=_KINDS, what="draw_graph"):
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
    from matplotlib.path import Path

    n_visible = len(nodes)
    if n_visible > 300:
        raise ValueError(
            f"{what}: {n_visible} nodes are too many for the matplotlib drawing; install "
            "Graphviz (pip install graphviz, plus the 'dot' program) or draw a smaller part "
            "of the model")
    if n_visible > 80:
        warnings.warn(f"{what}: {n_visible} nodes will be hard to read in the matplotlib "
                      "drawing; Graphviz lays out big graphs better", stacklevel=3)

    fig = _figure((4.0, 4.0), layout=None)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    renderer = fig.canvas.get_renderer()
    padx, pady, inner = 0.11, 0.07, 0.03
    texts, sizes = {}, {}
    for key, node in nodes.items():
        head = ax.text(0, 0, node["head"], ha="center", va="center", fontsize=9,
                       fontweight="bold", color="#111111", zorder=4)
        detail = (ax.text(0, 0, "\n".join(node["detail"]), ha="center", va="center", fontsize=7.5,
                          color="#444444", linespacing=1.2, zorder=4) if node["detail"] else None)
        hb = head.get_window_extent(renderer)
        db = detail.get_window_extent(renderer) if detail is not None else None
        w = max(hb.width, db.width if db is not None else 0) / DPI + 2 * padx
        h = hb.height / DPI + (db.height / DPI + inner if db is not None else 0) + 2 * pady
        texts[key] = (head, detail, hb.height / DPI, db.height / DPI if db is not None else 0)
        sizes[key] = (max(w, 0.6), h)

    pos, paths = _layered_layout(list(nodes), list(edges), sizes)
    real = list(nodes)
    xmin = min(pos[k][0] - sizes[k][0] / 2 for k in real)
    xmax = max(pos[k][0] + sizes[k][0] / 2 for k in real)
    ymin = min(pos[k][1] - sizes[k][1] / 2 for k in real)
    ymax = max(pos[k][1] + sizes[k][1] / 2 for k in real)
    for pts in paths.values():
        for px, _ in pts:
            xmin, xmax = min(xmin, px), max(xmax, px)
    margin, legend_h, title_h = 0.25, 0.45, (0.45 if title else 0.0)
    kinds = [k for k in kinds_table if any(n["kind"] == k for n in nodes.values())]
    width = max(xmax - xmin + 2 * margin, 1.9 * len(kinds) + 0.4, 3.0)
    height = ymax - ymin + 2 * margin + legend_h + title_h
    fig.set_size_inches(width, height)
    cx = (xmin + xmax) / 2
    ax.set_xlim(cx - width / 2, cx + width / 2)
    ax.set_ylim(ymin - margin - legend_h, ymax + margin + title_h)

    for key, node in nodes.items():
        x, y = pos[key]
        w, h = sizes[key]
        face, edge, _, rounded = kinds_table[node["kind"]]
        style = "round,pad=0,rounding_size=0.12" if rounded else "square,pad=0"
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=style, facecolor=face,
                                    edgecolor=edge, linewidth=0.9 if node["kind"] in ("leaf", "frozen") else 1.2,
                                    zorder=3))
        head, detail, hh, dh = texts[key]
        top = y + h / 2 - pady
        head.set_position((x, top - hh / 2))
        if detail is not None:
            detail.set_position((x, top - hh - inner - dh / 2))

    # spread the ends of the edges that leave (or enter) one box along its bottom (or top)
    def spread(groups):
        ends = {}
        for key, items in groups.items():
            w = sizes[key][0]
            items.sort(key=lambda item: item[1])
            step = min(0.22, (w - 0.2) / max(len(items), 1))
            for i, (e, _) in enumerate(items):
                ends[e] = pos[key][0] + (i - (len(items) - 1) / 2) * step
        return ends

    outgoing, incoming = {}, {}
    for e, pts in paths.items():
        outgoing.setdefault(e[0], []).append((e, pts[1][0]))
        incoming.setdefault(e[1], []).append((e, pts[-2][0]))
    out_x, in_x = spread(outgoing), spread(incoming)
    for e, pts in paths.items():
        u, v = e
        start = (out_x[e], pos[u][1] - sizes[u][1] / 2)
        end = (in_x[e], pos[v][1] + sizes[v][1] / 2)
        points = [start] + pts[1:-1] + [end]
        verts, codes = [points[0]], [Path.MOVETO]
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            dy = (y0 - y1) / 2
            verts += [(x0, y0 - dy), (x1, y1 + dy), (x1, y1)]
            codes += [Path.CURVE4] * 3
        ax.add_patch(FancyArrowPatch(path=Path(verts, codes), arrowstyle="-|>,head_length=5,head_width=2.6",
                                     mutation_scale=1, color="#555555", linewidth=1.0,
                                     shrinkA=0, shrinkB=0, zorder=2))
        if edges[e] > 1:
            ax.text(end[0] + 0.06, end[1] + 0.12, f"x{edges[e]}", fontsize=7.5, color="#555555",
                    ha="left", va="center", zorder=4)

    handles = [Patch(facecolor=kinds_table[k][0], edgecolor=kinds_table[k][1], label=kinds_table[k][2])
               for k in kinds]
    handles.append(Line2D([], [], color="#555555", marker=">", markersize=4, linewidth=1,
                          label="flows into"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=len(handles),
              frameon=False, fontsize=7.5, handlelength=1.4, columnspacing=1.0,
              borderaxespad=0.15)
    if title:
        ax.text(cx, ymax + margin + title_h / 2, title, ha="center", va="center", fontsize=11,
                fontweight="bold")
    return fig


def _graphviz_available() -> bool:
    return importlib.util.find_spec("graphviz") is not None and shutil.which("dot") is not None


def _draw_graph_graphviz(nodes, edges, title, fmt, kinds_table=_KINDS, name="autograd"):
    import graphviz
    dot = graphviz.Digraph(name, format=fmt)
    dot.attr(rankdir="TB", nodesep="0.25", ranksep="0.35", fontname="Helvetica", dpi=str(DPI))
    if title:
        dot.attr(label=title, labelloc="t", fontsize="14")
    dot.attr("node", shape="box", style="filled", fontname="Helvetica", fontsize="11",
             margin="0.12,0.05")
    dot.attr("edge", color="#555555", arrowsize="0.7", fontname="Helvetica", fontcolor="#555555")
    names = {key: f"n{i}" for i, key in enumerate(nodes)}
    for key, node in nodes.items():
        face, edge, _, rounded = kinds_table[node["kind"]]
        label = f"<b>{html.escape(node['head'])}</b>"
        for line in node["detail"]:
            label += f'<br/><font point-size="9" color="#444444">{html.escape(line)}</font>'
        dot.node(names[key], label=f"<{label}>", fillcolor=face, color=edge,
                 style="filled,rounded" if rounded else "filled")
    for (u, v), count in edges.items():
        dot.edge(names[u], names[v], label=f"x{count}" if count > 1 else None, fontsize="9")
    return dot


def draw_graph(tensor, path=None, format=None, show_shapes=True, engine="auto", title=None):
    """Draw the autograd graph behind `tensor`, before backward() frees it.

    Leaves are boxes with their name (set t.name = "w"), value if scalar, shape, and whether
    they require grad; ops are rounded boxes named by their Function class (MatMul, Sigmoid,
    ...), with the shape (and name) of what they produce; arrows go input -> op -> output.

    engine  "auto": Graphviz when the graphviz package and the `dot` program are both
            installed, else matplotlib; "graphviz" or "matplotlib" to choose
    format  the file format (png, svg, pdf, ...); default: the path's suffix, else png
    Returns the graphviz.Digraph (Graphviz; notebooks display it) or the matplotlib Figure.
    """
    if engine not in ("auto", "graphviz", "matplotlib"):
        raise ValueError(f"draw_graph: engine must be 'auto', 'graphviz' or 'matplotlib', got {engine!r}")
    nodes, edges = _graph_of(tensor, show_shapes=show_shapes)
    fmt = _format_of(path, format) if path is not None else (format or "png")
    if title is None:
        title = "autograd graph" + (f" of {tensor.name}" if getattr(tensor, "name", None) else "")
    return _render(nodes, edges, title, path, fmt, engine, _KINDS, "draw_graph", "autograd")


def _render(nodes, edges, title, path, fmt, engine, kinds_table, what, name):
    """Lay out and draw a graph of boxes (nodes) and arrows (edges) with Graphviz or matplotlib."""
    use_graphviz = engine == "graphviz" or (engine == "auto" and _graphviz_available())
    if use_graphviz:
        try:
            import graphviz
        except ImportError as exc:
            raise ImportError(f"{what}(engine='graphviz') needs the graphviz package and the "
                              "Graphviz 'dot' program: pip install graphviz, and apt/brew/conda "
                              "install graphviz") from exc
        dot = _draw_graph_graphviz(nodes, edges, title, fmt, kinds_table, name)
        if path is None:
            return dot
        try:
            data = dot.pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            if engine == "graphviz":
                raise
            # the package is there but `dot` is not: fall through to matplotlib
        else:
            atomic_write(path, lambda f: f.write(data))
            return dot
    mpl = _matplotlib()
    with mpl.rc_context(_STYLE):
        fig = _draw_graph_matplotlib(nodes, edges, title, kinds_table, what)
        return _save(fig, path, fmt)


# ============================================================================ the layer graph

_MODEL_KINDS = {  # kind: (face colour, edge colour, legend text, rounded box)
    "input": ("#dbeafe", "#2563eb", "input", False),
    "layer": ("#fef3c7", "#d97706", "layer", True),
    "model": ("#ede9fe", "#7c3aed", "nested model", True),
    "frozen": ("#f3f4f6", "#9ca3af", "frozen (trainable=False)", True),
    "op": ("#ffedd5", "#ea580c", "op on tensors (mg.* / F.*)", False),
    "output": ("#dcfce7", "#16a34a", "model output", False),
}


def _layer_graph(model):
    """The graph of layer calls behind a functional or Sequential model (minigrad.nn.graph.Graph)."""
    if isinstance(model, Sequential):
        try:
            model.inputs                          # traces the stack once it is built
        except AttributeError as exc:
            raise ValueError(f"draw_model: {exc}") from None
        return model._traced
    if isinstance(model, Model) and model._graph is not None:
        return model._graph
    raise TypeError(
        f"draw_model draws the layer graph of a functional Model or a Sequential; got "
        f"{type(model).__name__}, which has no recorded graph (a subclassed model runs plain "
        "Python). Draw what it computes instead: plot.draw_graph(model(x)).")


def _model_graph_of(model, show_shapes=True, show_layer_names=True):
    """(nodes, edges) in draw_graph's format: one box per layer (a shared layer once, with an
    arrow from each of its callers), one per recorded op, one per model output."""
    graph = _layer_graph(model)
    nodes, edges, key_of_node = {}, {}, {}

    def layer_kind(layer):
        if isinstance(layer, InputLayer):
            return "input"
        if not layer.trainable and layer.weights:
            return "frozen"
        return "model" if any(isinstance(c, Module) for c in layer.children()) else "layer"

    def shapes(tensors):
        texts = [format_shape(t.shape[1:]) for t in tensors]      # "(None, 784)": None is the batch
        return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"

    for node in [t.node for t in graph.inputs] + graph.nodes:
        layer = getattr(node, "layer", None)
        key = ("layer", id(layer)) if layer is not None else ("op", id(node))
        key_of_node[id(node)] = key
        if key in nodes:
            nodes[key]["calls"] += 1
            continue
        if layer is None:                          # an op recorded on symbolic tensors
            head, kind = node.name, "op"
        else:
            kind = layer_kind(layer)
            head = f"{layer.name} ({type(layer).__name__})" if show_layer_names else type(layer).__name__
        detail = []
        if show_shapes:
            if not isinstance(node, InputNode):
                detail.append("in  " + shapes(node.parents()))
            detail.append("out " + shapes(node.outputs))
        if layer is not None and kind != "input":
            n_params = layer.count_params()
            if n_params:
                detail.append(f"{n_params:,} params")
        nodes[key] = {"kind": kind, "head": head, "detail": detail, "calls": 1}
    for node in graph.nodes:
        for parent in node.parents():
            src, dst = key_of_node[id(parent.node)], key_of_node[id(node)]
            edges[(src, dst)] = edges.get((src, dst), 0) + 1
    names = getattr(model, "output_names", None) or []
    for i, t in enumerate(graph.outputs):
        key = ("output", i)
        label = names[i] if len(names) == len(graph.outputs) and len(graph.outputs) > 1 else "output"
        nodes[key] = {"kind": "output", "head": label,
                      "detail": [shapes([t])] if show_shapes else []}
        edges[(key_of_node[id(t.node)], key)] = 1
    for node in nodes.values():                  # a shared layer says how often it runs
        calls = node.pop("calls", 1)
        if calls > 1:
            node["detail"].append(f"shared: called {calls}\u00d7")
    return nodes, edges


def draw_model(model, path=None, format=None, show_shapes=True, show_layer_names=True,
               engine="auto", title=None):
    """Draw a model's layer graph, as Keras' plot_model does: one box per layer.

    Works for functional Models (several inputs and outputs, merges, shared layers, nested
    models) and for built Sequential models. Each box shows the layer's name and type, with
    show_shapes the shapes it takes and gives ("None" is the batch axis) and its parameter
    count; a shared layer is drawn once with an arrow from each of its callers; ops applied
    to symbolic tensors (x + y, mg.exp(t)) get their own boxes; frozen layers are grey.
    For the autograd graph of one computation (ops, not layers), see draw_graph.

    engine, format, path: as for draw_graph. Returns the graphviz.Digraph or the Figure.
    """
    if engine not in ("auto", "graphviz", "matplotlib"):
        raise ValueError(f"draw_model: engine must be 'auto', 'graphviz' or 'matplotlib', got {engine!r}")
    nodes, edges = _model_graph_of(model, show_shapes=show_shapes, show_layer_names=show_layer_names)
    fmt = _format_of(path, format) if path is not None else (format or "png")
    if title is None:
        title = f"model '{model.name}'"
    return _render(nodes, edges, title, path, fmt, engine, _MODEL_KINDS, "draw_model", "model")
