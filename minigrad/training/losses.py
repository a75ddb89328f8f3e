"""Losses, Keras-style: ``loss(y_true, y_pred)``, targets first.

    import minigrad.losses as losses
    loss = losses.binary_crossentropy(y, logits, from_logits=True)   # a 0-d tensor
    loss.backward()

Every loss takes ``reduction``:
    "mean"   (default; Keras' "sum_over_batch_size") the average of the per-sample losses
    "sum"    the sum of the per-sample losses
    "none"   the per-sample losses themselves, shape (N,)

Axis 0 is the batch. The per-sample loss reduces the other axes the way Keras does for
the 2-D case:
    mean_squared_error, mean_absolute_error, binary_crossentropy
        mean over every non-batch axis (Keras: mean over the last axis). A 1-D input of
        shape (N,) is N samples with one value each.
    categorical_crossentropy, sparse_categorical_crossentropy, kl_divergence
        sum over the class axis (axis=-1), then mean over any other non-batch axes.
    gaussian_kl
        sum over every non-batch (latent) axis.
So "mean" always equals Keras' result; "none" and "sum" equal Keras' for 2-D inputs (Keras
keeps extra axes in "none" where minigrad averages them into one number per sample).

Targets may be Tensors, NumPy arrays or lists; host data moves to y_pred's device and
takes y_pred's dtype (a loss of float32 predictions is float32). Shapes must agree: the
only mismatch accepted is Keras' rank rule, a target of shape (N,) against predictions of
shape (N, 1) (or the reverse), which is reshaped, never broadcast to (N, N). Anything
else is a ValueError naming the loss and both shapes.

Stable forms: binary cross-entropy from logits is one fused node,
max(z, 0) - z*y + log(1 + e^-|z|), finite for any finite logit (and at z = +-inf the exact
limit, 0 or inf, never NaN); the probability forms clip
probabilities to [1e-7, 1 - 1e-7] like Keras (its backend epsilon), so predictions of
exactly 0 or 1 give finite losses and gradients (zero gradient outside the clip range, as
in Keras). Both binary cross-entropies are fused nodes (they are the hot losses of the VAE
and the GAN; they live in minigrad/ops/losses.py); the others are composed from Tensor ops and get their gradients for free.

``get(name)`` resolves Keras loss names ("mse", "binary_crossentropy", ...) for compile().
"""
from __future__ import annotations

import math

from ..engine import backend
from ..engine.function import constant, xp_of
from ..engine.ops.elementwise import expm1, where
from ..engine.ops.losses import EPSILON, BinaryCrossentropyFromProbs, BinaryCrossentropyWithLogits
from ..engine.ops.reduce import log_softmax
from ..engine.tensor import Tensor

_REDUCTIONS = {"mean": "mean", "sum_over_batch_size": "mean", "sum": "sum", "none": "none",
               None: "none"}


# ----------------------------------------------------------------------------- helpers

def _check_reduction(reduction, name):
    try:
        return _REDUCTIONS[reduction]
    except (KeyError, TypeError):
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}") from None


def _as_prediction(y_pred) -> Tensor:
    """y_pred as a floating Tensor (host data becomes a tensor on the default device)."""
    if not isinstance(y_pred, Tensor):
        y_pred = Tensor(y_pred)
    if not backend.is_floating(y_pred.dtype):
        y_pred = y_pred.astype(backend.default_float_dtype())
    return y_pred


def _as_target(y_true, y_pred: Tensor, name, what="y_true", pred_what="y_pred") -> Tensor:
    """y_true as a Tensor of y_pred's dtype, device and shape (Keras' (N,) vs (N, 1) rule)."""
    if not isinstance(y_true, Tensor):
        y_true = Tensor(y_true, dtype=y_pred.dtype, device=y_pred.device)
    elif y_true.dtype != y_pred.dtype:
        y_true = y_true.astype(y_pred.dtype)
    t, p = y_true.shape, y_pred.shape
    if t == p:
        return y_true
    if (len(t) == len(p) + 1 and t[-1] == 1 and t[:-1] == p) or \
            (len(p) == len(t) + 1 and p[-1] == 1 and p[:-1] == t):
        return y_true.reshape(p)                       # Keras' squeeze_or_expand_to_same_rank
    raise ValueError(
        f"{name}: {what} has shape {t} but {pred_what} has shape {p}; they must match "
        f"(the one mismatch accepted is (N,) against (N, 1), as in Keras; anything else would "
        f"broadcast silently). Reshape one of them, e.g. {what}.reshape{p}")


def _reduce(per_element: Tensor, reduction: str) -> Tensor:
    """Per-sample losses = mean over the non-batch axes; then the batch reduction."""
    if per_element.ndim == 0:
        return per_element
    if reduction == "mean":
        return per_element.mean()
    rest = tuple(range(1, per_element.ndim))
    if reduction == "none":
        return per_element.mean(axis=rest) if rest else per_element
    count = math.prod(per_element.shape[1:])
    total = per_element.sum()
    return total if count == 1 else total * (1.0 / count if count else float("nan"))


def _class_axis(y_pred: Tensor, axis: int, name: str) -> int:
    if y_pred.ndim == 0:
        raise ValueError(f"{name}: y_pred must have a class axis, got a 0-d tensor")
    if not -y_pred.ndim <= axis < y_pred.ndim:
        raise ValueError(f"{name}: axis {axis} is out of range for y_pred of shape {y_pred.shape}")
    axis %= y_pred.ndim
    if axis == 0 and y_pred.ndim > 1:
        raise ValueError(f"{name}: axis 0 is the batch axis; the class axis must be another one "
                         f"(y_pred has shape {y_pred.shape})")
    return axis


def _log_probabilities(y_pred: Tensor, from_logits: bool, axis: int) -> Tensor:
    """log of the predicted class probabilities along `axis` (Keras' recipe)."""
    if from_logits:
        return log_softmax(y_pred, axis=axis)
    probs = y_pred / y_pred.sum(axis=axis, keepdims=True)   # Keras renormalises first
    return probs.clip(EPSILON, 1 - EPSILON).log()


# ----------------------------------------------------------------------------- regression

def mean_squared_error(y_true, y_pred, reduction="mean") -> Tensor:
    """mean((y_true - y_pred)^2); per sample: mean over the non-batch axes."""
    reduction = _check_reduction(reduction, "mean_squared_error")
    y_pred = _as_prediction(y_pred)
    diff = y_pred - _as_target(y_true, y_pred, "mean_squared_error")
    return _reduce(diff * diff, reduction)


def mean_absolute_error(y_true, y_pred, reduction="mean") -> Tensor:
    """mean(|y_true - y_pred|); per sample: mean over the non-batch axes (|.|'(0) = 0)."""
    reduction = _check_reduction(reduction, "mean_absolute_error")
    y_pred = _as_prediction(y_pred)
    return _reduce((y_pred - _as_target(y_true, y_pred, "mean_absolute_error")).abs(), reduction)


mse = mean_squared_error
mae = mean_absolute_error


# ----------------------------------------------------------------------------- classification

def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0,
                        reduction="mean") -> Tensor:
    """-(y log p + (1 - y) log(1 - p)); per sample: mean over the non-batch axes.

    from_logits=True   y_pred are logits z (p = sigmoid(z)); the fused stable form, finite
                       for any z. Prefer it: it is also exact where p would round to 0 or 1.
    from_logits=False  y_pred are probabilities, clipped to [1e-7, 1 - 1e-7] as in Keras.
    label_smoothing    targets become y (1 - s) + s/2, as in Keras.
    """
    name = "binary_crossentropy"
    reduction = _check_reduction(reduction, name)
    y_pred = _as_prediction(y_pred)
    y_true = _as_target(y_true, y_pred, name)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    node = BinaryCrossentropyWithLogits if from_logits else BinaryCrossentropyFromProbs
    if y_pred.ndim == 0:         # ufuncs turn 0-d arrays into scalars; the nodes work on arrays
        return node.apply(y_pred.reshape(1), y_true.reshape(1)).reshape(())
    return _reduce(node.apply(y_pred, y_true), reduction)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1,
                             reduction="mean") -> Tensor:
    """-sum_c y_c log p_c over the class axis, y_true one-hot (or any distribution).

    from_logits=True   y_pred are logits; log p = log_softmax(y_pred), stable, and the loss
                       is unchanged by adding a constant to the logits.
    from_logits=False  y_pred are probabilities; Keras divides them by their sum, then clips
                       to [1e-7, 1 - 1e-7].
    label_smoothing    targets become y (1 - s) + s / n_classes, as in Keras.
    Per sample: the sum over the class axis (then the mean over any other non-batch axes).
    """
    name = "categorical_crossentropy"
    reduction = _check_reduction(reduction, name)
    y_pred = _as_prediction(y_pred)
    axis = _class_axis(y_pred, axis, name)
    _refuse_integer_labels(y_true, y_pred, axis, name)
    y_true = _as_target(y_true, y_pred, name)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[axis]
    per = -(y_true * _log_probabilities(y_pred, from_logits, axis)).sum(axis=axis)
    return _reduce(per, reduction)


def _refuse_integer_labels(y_true, y_pred: Tensor, axis: int, name: str) -> None:
    """categorical_crossentropy wants one-hot targets: integer labels (y_pred's shape without
    the class axis) get an error that says what to use instead."""
    t_shape = tuple(y_true.shape) if hasattr(y_true, "shape") else backend.np.shape(y_true)
    without_classes = y_pred.shape[:axis] + y_pred.shape[axis + 1:]
    with_one = y_pred.shape[:axis] + (1,) + y_pred.shape[axis + 1:]
    if t_shape == y_pred.shape or t_shape not in (without_classes, with_one):
        return
    raise ValueError(
        f"{name}: y_true has shape {t_shape}, which looks like integer class labels, but y_pred has "
        f"shape {y_pred.shape} with {y_pred.shape[axis]} classes on axis {axis}; this loss needs "
        f"one-hot targets of y_pred's shape. Use sparse_categorical_crossentropy(labels, y_pred) "
        f"for integer labels, or one-hot them first: mg.one_hot(labels, {y_pred.shape[axis]})")


def _labels_on_device(y_true, y_pred: Tensor, axis: int, name: str):
    """Integer class labels as a backend array on y_pred's device, shaped y_pred minus `axis`."""
    data = y_true.data if isinstance(y_true, Tensor) else backend.asarray(y_true, device=y_pred.device)
    if backend.is_backend_array(data) and backend.device_of(data) != y_pred.device:
        raise RuntimeError(f"{name}: labels on {backend.device_of(data)} but y_pred on {y_pred.device}; "
                           f"move them first, e.g. labels.to('{y_pred.device}')")
    xp = xp_of(data)
    expected = y_pred.shape[:axis] + y_pred.shape[axis + 1:]
    keepdims = y_pred.shape[:axis] + (1,) + y_pred.shape[axis + 1:]
    if tuple(data.shape) == keepdims and keepdims != expected:
        data = data.reshape(expected)                  # (N, 1) labels, as Keras accepts
    if tuple(data.shape) != expected:
        raise ValueError(f"{name}: y_true has shape {tuple(data.shape)} but y_pred has shape {y_pred.shape}; "
                         f"integer labels need shape {expected} (y_pred without its class axis {axis})")
    kind = data.dtype.kind
    if kind == "f":
        if bool((data != xp.floor(data)).any()):
            raise ValueError(f"{name}: y_true must hold integer class labels, got non-integer values")
    elif kind not in "iu":
        raise ValueError(f"{name}: y_true must hold integer class labels, got dtype {data.dtype}")
    n_classes = y_pred.shape[axis]
    if data.size and bool(((data < 0) | (data >= n_classes)).any()):
        raise ValueError(f"{name}: labels must lie in [0, {n_classes}) for y_pred with {n_classes} "
                         f"classes on axis {axis}; got min {int(data.min())}, max {int(data.max())}")
    return data


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1,
                                    reduction="mean") -> Tensor:
    """categorical_crossentropy with integer labels: y_true[i] is the class of sample i.

    Equal to categorical_crossentropy with one-hot targets. y_true has y_pred's shape without
    the class axis ((N,) for (N, C) predictions; (N, 1) is accepted too, as in Keras).
    """
    name = "sparse_categorical_crossentropy"
    reduction = _check_reduction(reduction, name)
    y_pred = _as_prediction(y_pred)
    axis = _class_axis(y_pred, axis, name)
    labels = _labels_on_device(y_true, y_pred, axis, name)
    xp = xp_of(labels)
    n_classes = y_pred.shape[axis]
    classes = xp.arange(n_classes).reshape(tuple(n_classes if a == axis else 1 for a in range(y_pred.ndim)))
    one_hot = constant((xp.expand_dims(labels, axis) == classes).astype(y_pred.dtype))
    per = -(one_hot * _log_probabilities(y_pred, from_logits, axis)).sum(axis=axis)
    return _reduce(per, reduction)


# ----------------------------------------------------------------------------- divergences

def kl_divergence(y_true, y_pred, axis=-1, reduction="mean") -> Tensor:
    """KL(p || q) = sum_c p_c log(p_c / q_c) over the class axis; p = y_true, q = y_pred.

    Terms with p_c = 0 are exactly 0 (0 log 0 = 0), and so is their gradient's log; q is
    clipped to [1e-7, 1] as in Keras. (Keras also clips p to 1e-7, so its zero-target terms
    are 1e-7 log(1e-7 / q) instead of 0.)
    """
    name = "kl_divergence"
    reduction = _check_reduction(reduction, name)
    y_pred = _as_prediction(y_pred)
    axis = _class_axis(y_pred, axis, name)
    p = _as_target(y_true, y_pred, name)
    q = y_pred.clip(EPSILON, 1.0)
    safe_p = where(p > 0, p, 1.0)                      # log(1/q) where p = 0, multiplied by 0
    per = (p * (safe_p / q).log()).sum(axis=axis)
    return _reduce(per, reduction)


def gaussian_kl(z_mean, z_log_var, reduction="mean") -> Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) per sample, the VAE's latent loss.

        -0.5 * sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)     summed over latent dims
      = 0.5 * sum_j (mu_j^2 + (e^v_j - 1 - v_j))                 with v = log sigma^2

    then reduced over the batch ("mean": the average over samples, as in the Keras VAE
    example's ops.mean(ops.sum(kl, axis=1))). >= 0, and 0 exactly at mu = 0, log-variance 0.
    Finite for log-variances in [-30, 30] (e^30 ~ 1e13 is far from float32's limit).
        d/dmu = mu,   d/dlogvar = 0.5 (e^logvar - 1)
    """
    name = "gaussian_kl"
    reduction = _check_reduction(reduction, name)
    if not isinstance(z_mean, Tensor) and isinstance(z_log_var, Tensor):
        z_mean = Tensor(z_mean, dtype=z_log_var.dtype, device=z_log_var.device)
    z_mean = _as_prediction(z_mean)
    if not isinstance(z_log_var, Tensor):
        z_log_var = Tensor(z_log_var, dtype=z_mean.dtype, device=z_mean.device)
    elif z_log_var.dtype != z_mean.dtype:
        z_log_var = z_log_var.astype(z_mean.dtype)
    if z_log_var.shape != z_mean.shape:
        raise ValueError(f"{name}: z_mean has shape {z_mean.shape} but z_log_var has shape "
                         f"{z_log_var.shape}; they must match (batch, latent_dim)")
    # Written as two non-negative terms, e^v - 1 - v by expm1: near v = 0 the textbook
    # 1 + v - e^v cancels to rounding noise and can come out slightly negative.
    terms = z_mean * z_mean + (expm1(z_log_var) - z_log_var)
    per = terms.sum(axis=tuple(range(1, terms.ndim))) if terms.ndim > 1 else terms
    per = per * 0.5
    if reduction == "none" or per.ndim == 0:
        return per
    return per.mean() if reduction == "mean" else per.sum()


# ----------------------------------------------------------------------------- Keras-style classes

class Loss:
    """A loss function with its settings bound: ``BinaryCrossentropy(from_logits=True)(y, z)``.

    The Keras classes, for code that builds the loss once and calls it in a training loop.
    """
    fn = None

    def __init__(self, reduction="mean", **settings):
        _check_reduction(reduction, type(self).__name__)
        self.reduction = reduction
        self.settings = settings

    def __call__(self, y_true, y_pred):
        return type(self).fn(y_true, y_pred, reduction=self.reduction, **self.settings)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in {**self.settings, "reduction": self.reduction}.items())
        return f"{type(self).__name__}({args})"


class MeanSquaredError(Loss):
    fn = staticmethod(mean_squared_error)


class MeanAbsoluteError(Loss):
    fn = staticmethod(mean_absolute_error)


class BinaryCrossentropy(Loss):
    fn = staticmethod(binary_crossentropy)

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="mean"):
        super().__init__(reduction, from_logits=from_logits, label_smoothing=label_smoothing)


class CategoricalCrossentropy(Loss):
    fn = staticmethod(categorical_crossentropy)

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="mean"):
        super().__init__(reduction, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(Loss):
    fn = staticmethod(sparse_categorical_crossentropy)

    def __init__(self, from_logits=False, axis=-1, reduction="mean"):
        super().__init__(reduction, from_logits=from_logits, axis=axis)


class KLDivergence(Loss):
    fn = staticmethod(kl_divergence)


# ----------------------------------------------------------------------------- lookup by name

_BY_NAME = {
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error,
    "MeanSquaredError": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error,
    "MeanAbsoluteError": mean_absolute_error,
    "binary_crossentropy": binary_crossentropy, "BinaryCrossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "CategoricalCrossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "SparseCategoricalCrossentropy": sparse_categorical_crossentropy,
    "kl_divergence": kl_divergence, "kld": kl_divergence,
    "kullback_leibler_divergence": kl_divergence, "KLDivergence": kl_divergence,
}


def get(identifier):
    """A loss function from a Keras name ("mse", "binary_crossentropy", ...) or a callable.

    Callables (functions, Loss instances) are returned unchanged; they are called as
    loss(y_true, y_pred) and must return a 0-d tensor for training.
    """
    if callable(identifier):
        return identifier
    if isinstance(identifier, str):
        fn = _BY_NAME.get(identifier) or _BY_NAME.get(identifier.lower())
        if fn is not None:
            return fn
        known = ", ".join(sorted(k for k in _BY_NAME if k.islower()))
        raise ValueError(f"unknown loss {identifier!r}; known names: {known}, or pass a callable "
                         "loss(y_true, y_pred)")
    raise TypeError(f"a loss must be a name or a callable loss(y_true, y_pred), "
                    f"got {type(identifier).__name__}")
