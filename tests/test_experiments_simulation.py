"""Coverage and false-positive rates of the experiment statistics over many simulated tests.

Each check runs R seeded experiments at once (vectorized).  The observed rate
of a nominal 5% / 95% event is a binomial proportion with standard error
sqrt(0.05 * 0.95 / R); with R = 4000 that is 0.0034, and a tolerance of
4 standard errors (0.0138) gives a false alarm probability of about 6e-5 for
a correct method while still catching a method that is off by 2 points.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engagement_utils.experiments import cuped_adjust, proportion_test, welch_test

R = 4000
TOL = 4 * math.sqrt(0.05 * 0.95 / R)


def _rate(mask) -> float:
    return float(np.mean(mask))


def _covers(frame, truth) -> np.ndarray:
    return (frame["ci_low"].to_numpy() <= truth) & (truth <= frame["ci_high"].to_numpy())


@pytest.mark.parametrize("p_c,p_t", [(0.30, 0.30), (0.25, 0.28)])
def test_proportion_ci_coverage_and_aa_false_positives(p_c, p_t):
    rng = np.random.default_rng(11)
    n = 3000
    x_t, x_c = rng.binomial(n, p_t, R), rng.binomial(n, p_c, R)
    r = proportion_test(x_t, n, x_c, n)
    assert abs(_rate(_covers(r, p_t - p_c)) - 0.95) < TOL
    lift = (r["lift_ci_low"].to_numpy() <= p_t / p_c - 1) & (p_t / p_c - 1 <= r["lift_ci_high"].to_numpy())
    assert abs(_rate(lift) - 0.95) < TOL
    if p_t == p_c:
        assert abs(_rate(r["p_value"] < 0.05) - 0.05) < TOL


def _arms(rng, n, effect, rho):
    """Metric y = covariate-driven part + noise (corr(x, y) = rho), treatment adds ``effect``."""
    x = rng.normal(5, 2, (R, 2 * n))
    noise = rng.lognormal(0, 0.5, (R, 2 * n))
    noise = (noise - noise.mean()) / noise.std() * 2
    y = 10 + rho * x + math.sqrt(1 - rho**2) * noise
    y[:, :n] += effect
    return x, y


def _welch(y, n):
    t, c = y[:, :n], y[:, n:]
    return welch_test(t.mean(1), t.var(1, ddof=1), n, c.mean(1), c.var(1, ddof=1), n)


@pytest.mark.parametrize("effect", [0.0, 0.15])
def test_welch_and_cuped_coverage_and_aa_false_positives(effect):
    rng = np.random.default_rng(12)
    n = 400
    x, y = _arms(rng, n, effect, rho=0.7)
    plain = _welch(y, n)
    adjusted_y, _ = cuped_adjust(y, x)
    adjusted = _welch(adjusted_y, n)
    for result in (plain, adjusted):
        assert abs(_rate(_covers(result, effect)) - 0.95) < TOL
        if effect == 0:
            assert abs(_rate(result["p_value"] < 0.05) - 0.05) < TOL
    width_ratio = (adjusted["ci_high"] - adjusted["ci_low"]) / (plain["ci_high"] - plain["ci_low"])
    # x and the noise both have sd 2, so corr(x, y) = 0.7 and CUPED keeps sqrt(1 - 0.7²) of the CI width
    assert float(np.median(width_ratio)) == pytest.approx(math.sqrt(1 - 0.7**2), abs=0.02)


def test_cuped_with_uncorrelated_covariate_keeps_width():
    rng = np.random.default_rng(13)
    n = 400
    x, y = _arms(rng, n, 0.0, rho=0.0)
    plain, adjusted = _welch(y, n), _welch(cuped_adjust(y, x)[0], n)
    ratio = (adjusted["ci_high"] - adjusted["ci_low"]) / (plain["ci_high"] - plain["ci_low"])
    assert float(np.median(ratio)) == pytest.approx(1.0, abs=0.01)
    assert abs(_rate(adjusted["p_value"] < 0.05) - 0.05) < TOL
