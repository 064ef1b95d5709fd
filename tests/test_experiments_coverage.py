"""Seeded, vectorized simulations: coverage 95 ± 1.5% and A/A false positives 5 ± 1.5% for every interval and test.

Each scenario runs R = 2,000 replicated experiments as arrays of sufficient statistics
(Monte Carlo standard error of a 95% coverage: 0.49 pp; of a 5% rate: 0.49 pp), so the
whole file takes seconds. The larger runs and the table for the report are in
``benchmarks/experiments_simulation.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from engagement_utils.experiments import compare_arms, pooled_theta, simulated_sums, sums_of, zero_inflated_revenue

R = 2000
COVERAGE = (0.935, 0.965)
FPR = (0.035, 0.065)


def arm_sums(rng, n, draw, reps=R):
    return simulated_sums(rng, n, draw, reps)


def revenue(mean_multiplier=1.0):
    """Revenue-like: 80% of users spend nothing, the others an exponential amount (skewness 4.5)."""
    return zero_inflated_revenue(mean_multiplier)


def binary_sums(rng, n, p):
    return {"n": np.full(R, float(n)), "sum_y": rng.binomial(n, p, R).astype(float)}


def covered(r, difference, lift):
    diff_cov = np.mean((r["ci_low"] <= difference) & (difference <= r["ci_high"]))
    lift_cov = np.mean((r["lift_ci_low"] <= lift) & (lift <= r["lift_ci_high"]))
    return diff_cov, lift_cov


BINARY = [  # n_control, n_variant, p_control, p_variant
    (1000, 1000, 0.01, 0.015),   # rare, small
    (200, 200, 0.30, 0.36),      # common, small
    (20000, 20000, 0.05, 0.055),  # large
    (500, 4500, 0.05, 0.06),     # 10/90, control small
    (4500, 500, 0.20, 0.22),     # 10/90, variant small
]


@pytest.mark.parametrize("n_c,n_t,p_c,p_t", BINARY)
def test_rates_coverage_and_aa_false_positives(n_c, n_t, p_c, p_t):
    rng = np.random.default_rng(11)
    r = compare_arms(binary_sums(rng, n_c, p_c), binary_sums(rng, n_t, p_t), "binary")
    diff_cov, lift_cov = covered(r, p_t - p_c, p_t / p_c - 1)
    assert COVERAGE[0] <= diff_cov <= COVERAGE[1], diff_cov
    assert COVERAGE[0] <= lift_cov <= COVERAGE[1], lift_cov
    assert (r["lift_ci_low"] > -1).all()
    # the p-value and the CI of each row come from one method
    assert ((r["p_value"] < 0.05) == ((r["ci_low"] > 0) | (r["ci_high"] < 0))).all()
    assert ((r["lift_p_value"] < 0.05) == ((r["lift_ci_low"] > 0) | (r["lift_ci_high"] < 0))).all()
    aa = compare_arms(binary_sums(rng, n_c, p_c), binary_sums(rng, n_t, p_c), "binary")
    assert FPR[0] <= np.mean(aa["p_value"] < 0.05) <= FPR[1]
    assert FPR[0] <= np.mean(aa["lift_p_value"] < 0.05) <= FPR[1]


REVENUE = [(1000, 1000), (200, 1800), (1800, 200), (1000, 9000)]


@pytest.mark.parametrize("n_c,n_t", REVENUE)
def test_revenue_coverage_and_aa_false_positives_with_unequal_splits(n_c, n_t):
    rng = np.random.default_rng(12)
    mean = 0.2 * 10.0
    reps = 2 * R  # MC standard error 0.34 pp: the skewed cases sit closer to the limits
    r = compare_arms(arm_sums(rng, n_c, revenue(), reps), arm_sums(rng, n_t, revenue(1.1), reps), "mean")
    assert set(r["method"]) <= ({"welch"} if n_c == n_t else {"welch", "welch-skew"})
    diff_cov, lift_cov = covered(r, 0.1 * mean, 0.1)
    assert COVERAGE[0] <= diff_cov <= COVERAGE[1], diff_cov
    assert COVERAGE[0] - 0.01 <= lift_cov <= COVERAGE[1], lift_cov  # log-ratio lift: see the benchmark table
    aa = compare_arms(arm_sums(rng, n_c, revenue(), reps), arm_sums(rng, n_t, revenue(), reps), "mean")
    rejected = aa["p_value"] < 0.05
    assert FPR[0] <= rejected.mean() <= FPR[1]
    # a one-sided guardrail (is the variant worse?) keeps its level when the control is the small arm
    worse = compare_arms(arm_sums(rng, n_c, revenue(), reps), arm_sums(rng, n_t, revenue(), reps), "mean", alternative="less")
    assert np.mean(worse["p_value"] < 0.05) <= FPR[1]


def test_ratio_metric_delta_method_coverage():
    rng = np.random.default_rng(13)
    n, reps = 1000, R
    out = {}
    for name, mult in (("c", 1.0), ("t", 1.05)):
        sessions = rng.poisson(3.0, (reps, n)) + 1.0
        rev = sessions * rng.gamma(2.0, 2.0 * mult, (reps, n)) * (rng.random((reps, n)) < 0.5)
        out[name] = sums_of(rev, d=sessions)
    r = compare_arms(out["c"], out["t"], "ratio")
    true_c = 0.5 * 4.0
    diff_cov, lift_cov = covered(r, true_c * 0.05, 0.05)
    assert COVERAGE[0] <= diff_cov <= COVERAGE[1] and COVERAGE[0] <= lift_cov <= COVERAGE[1]


def test_cuped_coverage_and_aa_false_positives():
    rng = np.random.default_rng(14)
    n = 500
    sums = {}
    for name, effect in (("c", 0.0), ("t", 0.2), ("a", 0.0)):
        x = rng.gamma(2.0, 2.0, (R, n))
        y = 0.8 * x + rng.normal(0, 2, (R, n)) + effect
        sums[name] = sums_of(y, x=x)

    th, xbar = pooled_theta(sums["c"], sums["t"])
    r = compare_arms(sums["c"], sums["t"], "mean", theta=th, x_pool=xbar)
    assert COVERAGE[0] <= np.mean((r["ci_low"] <= 0.2) & (0.2 <= r["ci_high"])) <= COVERAGE[1]
    th, xbar = pooled_theta(sums["c"], sums["a"])
    aa = compare_arms(sums["c"], sums["a"], "mean", theta=th, x_pool=xbar)
    assert FPR[0] <= np.mean(aa["p_value"] < 0.05) <= FPR[1]
