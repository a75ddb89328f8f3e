"""Sampling the next token from a model's prediction, with a softmax temperature.

A language model gives a distribution p over the next character (or word). Dividing its
logits by a temperature T before the softmax reweights it:

    p_T(i) = exp(log p(i) / T) / sum_j exp(log p(j) / T)  =  p(i)^(1/T) / sum_j p(j)^(1/T)

T = 1 gives p back; T < 1 sharpens it (T -> 0: always the likeliest token); T > 1 flattens it
(T -> infinity: every token equally likely). examples/temperature.py shows the effect on one
distribution; examples/text_generation.py samples an LSTM's text at several temperatures.

    from minigrad.sampling import reweight, sample
    q = reweight(p, 0.5)                    # a sharper distribution, same shape as p
    i = sample(p, temperature=0.5)          # one index drawn from q (seeded by mg.manual_seed)

These work on host arrays (a model's predict() output) in float64, with minigrad's own
softmax. Tokens of probability 0 keep probability 0 at every temperature.
"""
from __future__ import annotations

from ..engine import backend
from ..engine.ops.elementwise import log
from ..engine.ops.reduce import softmax
from ..engine.tensor import Tensor


def _check_temperature(temperature) -> float:
    temperature = float(temperature)
    if not temperature > 0 or temperature == float("inf"):
        raise ValueError(f"temperature must be a positive finite number, got {temperature}")
    return temperature


def reweight_logits(logits, temperature):
    """softmax(logits / T) over the last axis, as a float64 NumPy array."""
    temperature = _check_temperature(temperature)
    z = Tensor(backend.np.asarray(logits, dtype="float64"), device="cpu")
    return softmax(z / temperature, axis=-1).numpy()


def reweight(probabilities, temperature):
    """The distribution p_T = softmax(log p / T) over the last axis (p need not be normalised)."""
    np = backend.np
    p = np.asarray(probabilities, dtype=np.float64)
    if p.size == 0 or (p < 0).any() or not np.isfinite(p).all() or (p.sum(axis=-1) <= 0).any():
        raise ValueError("reweight: probabilities must be finite, non-negative and not all zero "
                         f"along the last axis (got shape {p.shape})")
    with np.errstate(divide="ignore"):             # log 0 = -inf: the token stays impossible
        logits = log(Tensor(p, device="cpu")).numpy()
    return reweight_logits(logits, temperature)


def sample(probabilities, temperature=1.0, rng=None):
    """An index drawn from reweight(p, T) (p 1-D), or one per row for a 2-D p.

    rng: a NumPy Generator; by default the CPU generator that mg.manual_seed seeds.
    """
    q = reweight(probabilities, temperature)
    rng = backend.generator("cpu") if rng is None else rng
    if q.ndim == 1:
        return int(rng.choice(q.shape[0], p=q / q.sum()))
    return backend.np.array([rng.choice(q.shape[-1], p=row / row.sum()) for row in q.reshape(-1, q.shape[-1])]
                            ).reshape(q.shape[:-1])
