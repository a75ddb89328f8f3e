"""minigrad.sampling: the softmax-temperature reweighting and sampling used by text generation."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.sampling import reweight, reweight_logits, sample


@given(p=st.lists(st.floats(0.01, 1.0), min_size=2, max_size=8),
       t=st.floats(0.05, 20.0))
def test_reweight_is_p_to_the_one_over_t(p, t):
    p = np.asarray(p)
    q = reweight(p, t)
    expected = p ** (1 / t) / (p ** (1 / t)).sum()
    np.testing.assert_allclose(q, expected, rtol=1e-9)
    np.testing.assert_allclose(reweight(p, 1.0), p / p.sum(), rtol=1e-12)
    np.testing.assert_allclose(reweight_logits(np.log(p), t), q, rtol=1e-9)


def test_temperature_limits_and_zeros():
    p = np.array([0.5, 0.3, 0.2, 0.0])
    assert reweight(p, 1e-3).argmax() == 0 and reweight(p, 1e-3)[0] > 0.999
    np.testing.assert_allclose(reweight(p, 1e4)[:3], 1 / 3, rtol=1e-3)
    assert (reweight(p, 5.0)[3] == 0) and (reweight(np.stack([p, p]), 0.5).shape == (2, 4))
    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="temperature must be a positive"):
            reweight(p, bad)
    with pytest.raises(ValueError, match="non-negative and not all zero"):
        reweight(np.zeros(3), 1.0)


def test_sample_follows_the_reweighted_distribution():
    p = np.array([0.6, 0.3, 0.1])
    rng = np.random.default_rng(0)
    for t in (0.5, 1.0, 2.0):
        draws = [sample(p, t, rng) for _ in range(4000)]
        share = np.bincount(draws, minlength=3) / 4000
        np.testing.assert_allclose(share, reweight(p, t), atol=0.03)
    mg.manual_seed(3)
    a = [sample(p, 1.0) for _ in range(20)]
    mg.manual_seed(3)
    assert a == [sample(p, 1.0) for _ in range(20)]            # seeded by mg.manual_seed
    assert sample(np.stack([p, p[::-1]]), 0.01).tolist() == [0, 2]
