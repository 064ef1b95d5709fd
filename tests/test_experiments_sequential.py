"""Always-valid inference: 14 daily looks, stop at the first p < 0.05.

R = 2,000 seeded replicates as arrays of cumulative sums (Monte Carlo standard error of a
5% rate: 0.49 pp). Fixed-horizon tests read daily reject a true null far more than 5% of
the time; the confidence sequence keeps it below 5%.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engagement_utils.experiments import analyze_experiment, compare_arms, cumulative_comparison, sequential_interval

R, DAYS = 2000, 14


def daily_binary(rng, per_day, p):
    x = rng.binomial(per_day, p, (R, DAYS)).astype(float).cumsum(axis=1)
    return {"n": np.broadcast_to(per_day * np.arange(1, DAYS + 1.0), (R, DAYS)), "sum_y": x}


def daily_revenue(rng, per_day, scale=10.0):
    y = (rng.random((R, DAYS, per_day)) < 0.2) * rng.exponential(scale, (R, DAYS, per_day))
    cum = lambda a: a.sum(axis=2).cumsum(axis=1)  # noqa: E731
    return {"n": np.broadcast_to(per_day * np.arange(1, DAYS + 1.0), (R, DAYS)), "sum_y": cum(y), "sum_y2": cum(y * y),
            "sum_y3": cum(y ** 3)}


def stopped_early(r, alpha=0.05):
    return float(np.mean((r["p_value"] < alpha).any(axis=1)))


@pytest.mark.parametrize("kind", ["binary", "mean"])
def test_peeking_daily_inflates_fixed_horizon_but_not_the_sequential_test(kind):
    rng = np.random.default_rng(21)
    make = (lambda: daily_binary(rng, 150, 0.10)) if kind == "binary" else (lambda: daily_revenue(rng, 100))
    c, t = make(), make()
    planned = 2 * DAYS * (150 if kind == "binary" else 100)
    fixed = compare_arms(c, t, kind)
    sequential = compare_arms(c, t, kind, method="sequential", planned_n=planned)
    assert stopped_early(fixed) > 0.15                      # ~20%: the problem
    assert stopped_early(sequential) <= 0.05                 # always valid (MC error 0.49 pp)
    # the sequence covers the true difference (0) at every look at once
    assert np.mean(((sequential["ci_low"] <= 0) & (sequential["ci_high"] >= 0)).all(axis=1)) >= 0.95
    assert ((sequential["p_value"] < 0.05) == ((sequential["ci_low"] > 0) | (sequential["ci_high"] < 0))).all()


def test_sequential_interval_is_wider_than_fixed_and_p_matches_the_sequence():
    est, se = np.linspace(-0.06, 0.06, 241), np.full(241, 0.01)
    r = sequential_interval(est, se, 10_000, 10_000)
    assert ((r["ci_high"] - r["ci_low"]) > 2 * 1.96 * se).all()
    assert ((r["p_value"] < 0.05) == ((r["ci_low"] > 0) | (r["ci_high"] < 0))).all()
    assert (np.diff(r["p_value"][est >= 0]) <= 0).all()
    one_sided = sequential_interval(est, se, 10_000, 10_000, alternative="greater")
    assert ((one_sided["p_value"] < 0.05) == (one_sided["ci_low"] > 0)).all()


def test_cumulative_comparison_and_sequential_analysis():
    rng = np.random.default_rng(3)
    n = 6000
    users = pd.DataFrame({"variant": rng.choice(["control", "treatment"], n), "converted": (rng.random(n) < 0.2).astype(int),
                          "assigned_at": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 14, n), "D")})
    c = cumulative_comparison(users, "converted", planned_n=n)
    assert len(c) == 14 and c["users"].is_monotonic_increasing
    last = c.iloc[-1]
    a = analyze_experiment(users, primary=["converted"], sequential=True, planned_n=n, use_cuped=False)
    row = a.table.iloc[0]
    assert row["method"] == "sequential"
    assert [row["ci_low"], row["ci_high"], row["p_value"]] == pytest.approx([last["ci_low"], last["ci_high"], last["p_value"]])
    with pytest.raises(ValueError, match="planned_n"):
        analyze_experiment(users, primary=["converted"], sequential=True)


def test_fixed_horizon_analysis_of_a_running_test_says_so():
    rng = np.random.default_rng(4)
    users = pd.DataFrame({"variant": rng.choice(["control", "treatment"], 2000), "converted": (rng.random(2000) < 0.2).astype(int)})
    text = analyze_experiment(users, primary=["converted"], planned_n=10_000).text
    assert "valid only at the planned end" in text[1] and "2,000 of 10,000" in text[1]
    done = analyze_experiment(users, primary=["converted"], planned_n=2000).text
    assert not any("planned end" in s for s in done)
