"""Experiment statistics: cross-checks against scipy / statsmodels, definitions and edge cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize, proportions_ztest

from engagement_utils import io
from engagement_utils.experiments import (
    adjust_pvalues,
    analyze_experiment,
    bayesian_compare,
    bootstrap_ci,
    compare_means,
    compare_proportions,
    cuped,
    cuped_adjust,
    days_to_run,
    minimum_detectable_effect,
    noninferiority,
    proportion_test,
    sample_size_per_arm,
    srm_check,
    statistical_power,
    welch_test,
)

TOL = 1e-9
COUNTS = [(120, 1000, 100, 1000), (37, 410, 52, 395), (900, 3000, 880, 3100), (5, 60, 1, 58)]


def _users(values_t, values_c, metric="y", names=("treatment", "control")):
    return pd.DataFrame({"variant": [names[0]] * len(values_t) + [names[1]] * len(values_c),
                         metric: np.r_[values_t, values_c].astype(float)})


# --------------------------------------------------------------------------- cross-checks


@pytest.mark.parametrize("x_t,n_t,x_c,n_c", COUNTS)
def test_z_test_and_intervals_match_statsmodels(x_t, n_t, x_c, n_c):
    r = proportion_test(x_t, n_t, x_c, n_c).iloc[0]
    z, p = proportions_ztest([x_t, x_c], [n_t, n_c])
    assert r["statistic"] == pytest.approx(z, abs=TOL)
    assert r["p_value"] == pytest.approx(p, abs=TOL)
    wald = confint_proportions_2indep(x_t, n_t, x_c, n_c, method="wald", compare="diff")
    assert (r["ci_low"], r["ci_high"]) == pytest.approx(wald, abs=TOL)
    newcomb = proportion_test(x_t, n_t, x_c, n_c, method="newcomb").iloc[0]
    expected = confint_proportions_2indep(x_t, n_t, x_c, n_c, method="newcomb", compare="diff")
    assert (newcomb["ci_low"], newcomb["ci_high"]) == pytest.approx(expected, abs=TOL)


def test_relative_lift_delta_method_by_hand():
    r = proportion_test(120, 1000, 100, 1000).iloc[0]
    var_t, var_c = 0.12 * 0.88 / 1000, 0.1 * 0.9 / 1000
    se = math.sqrt(var_t / 0.1**2 + 0.12**2 * var_c / 0.1**4)
    z = stats.norm.ppf(0.975)
    assert r["relative_lift"] == pytest.approx(0.2, abs=TOL)
    assert (r["lift_ci_low"], r["lift_ci_high"]) == pytest.approx((0.2 - z * se, 0.2 + z * se), abs=TOL)


def test_welch_matches_scipy_on_raw_samples():
    rng = np.random.default_rng(5)
    a, b = rng.lognormal(1, 1, 300), rng.lognormal(1.1, 0.8, 250)
    res = stats.ttest_ind(a, b, equal_var=False)
    ci = res.confidence_interval(0.95)
    r = compare_means(_users(a, b), "y").iloc[0]
    assert r["statistic"] == pytest.approx(res.statistic, abs=TOL)
    assert r["p_value"] == pytest.approx(res.pvalue, abs=TOL)
    assert r["df"] == pytest.approx(res.df, abs=TOL)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((ci.low, ci.high), abs=TOL)
    assert r["p_value_mann_whitney"] == pytest.approx(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue, abs=TOL)


def test_small_counts_keep_one_method_per_row_and_report_fisher_apart():
    from statsmodels.stats import proportion as smp

    r = compare_proportions(_users([1, 1, 1, 0, 0], [0, 0, 0, 0, 1], "converted"), "converted").iloc[0]
    assert r["method"] == "agresti-caffo"
    assert r["p_value_fisher"] == pytest.approx(stats.fisher_exact([[3, 2], [1, 4]]).pvalue, abs=TOL)
    assert (r["p_value"] < 0.05) == (r["ci_low"] > 0 or r["ci_high"] < 0)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx(smp.confint_proportions_2indep(3, 5, 1, 5, method="agresti-caffo"), abs=TOL)
    big = compare_proportions(_users(np.arange(400) < 120, np.arange(400) < 100, "converted"), "converted").iloc[0]
    assert big["method"] == "wald"
    assert big["p_value_fisher"] == pytest.approx(stats.fisher_exact([[120, 280], [100, 300]]).pvalue, abs=TOL)
    assert big["p_value"] == pytest.approx(smp.test_proportions_2indep(120, 400, 100, 400, method="wald").pvalue, abs=TOL)


@pytest.mark.parametrize("method", ["wald", "agresti-caffo"])
@pytest.mark.parametrize("x_t,n_t,x_c,n_c", [(3, 5, 1, 5), (120, 400, 100, 400)])
def test_a_chosen_method_is_the_statsmodels_interval_of_that_name(method, x_t, n_t, x_c, n_c):
    from statsmodels.stats import proportion as smp

    users = _users(np.arange(n_t) < x_t, np.arange(n_c) < x_c, "converted")
    r = compare_proportions(users, "converted", method=method).iloc[0]
    assert r["method"] == method and r["kind"] == "binary"
    expected = smp.confint_proportions_2indep(x_t, n_t, x_c, n_c, method=method, compare="diff")
    assert (r["ci_low"], r["ci_high"]) == pytest.approx(expected, abs=TOL)


def test_mean_comparisons_are_of_kind_mean():
    r = compare_means(_users([1.0, 2, 3], [2.0, 2, 4]), "y").iloc[0]
    assert (r["kind"], r["method"]) == ("mean", "welch")
    assert bayesian_compare(_users([1.0, 2, 3], [2.0, 2, 4]), "y", kind="mean").summary["kind"].tolist() == ["mean"]


def test_options_have_one_name_each_and_the_shared_message():
    from engagement_utils.experiments import sample_size_allocated

    users = _users([1, 1, 0, 0], [0, 1, 0, 0], "converted")
    with pytest.raises(ValueError, match=r"^The 'method' parameter must be one of \{'auto', 'wald', 'agresti-caffo'\}; got 'newcombe'$"):
        compare_proportions(users, "converted", method="newcombe")
    with pytest.raises(ValueError, match=r"^The 'method' parameter must be one of \{'wald', 'newcomb'\}; got 'newcombe' — did you mean 'newcomb'\?$"):
        proportion_test(3, 5, 1, 5, method="newcombe")
    with pytest.raises(ValueError, match=r"^The 'kind' parameter must be one of \{'binary', 'mean'\}; got 'continuous'$"):
        bayesian_compare(users, "converted", kind="continuous")
    with pytest.raises(ValueError, match=r"^The 'statistic' parameter must be one of \{'mean', 'median', 'ratio'\}; got 'medain' — did you mean 'median'\?$"):
        bootstrap_ci(users, "converted", statistic="medain")
    plans = [lambda kind: statistical_power(800, 20.0, 1.0, kind=kind, sd=10.0),
             lambda kind: sample_size_per_arm(20.0, 1.0, kind=kind, sd=10.0),
             lambda kind: minimum_detectable_effect(800, 20.0, kind=kind, sd=10.0),
             lambda kind: sample_size_allocated(20.0, 1.0, kind=kind, sd=10.0)]
    for plan in plans:
        plan("mean")  # the glossary's name plans; the older one is refused
        with pytest.raises(ValueError, match=r"^The 'kind' parameter must be one of \{'binary', 'mean'\}; got 'continuous'$"):
            plan("continuous")
    with pytest.raises(ValueError, match=r"^The 'alternative' parameter must be one of .*; got 'two_sided' — did you mean 'two-sided'\?$"):
        sample_size_allocated(20.0, 1.0, kind="mean", sd=10.0, alternative="two_sided")
    alpha_message = r"^The 'alpha' parameter must be a number strictly between 0 and 1 .*; got 95$"
    for call in (lambda: proportion_test(3, 5, 1, 5, alpha=95), lambda: welch_test(1.0, 1.0, 10, 0.0, 1.0, 10, alpha=95),
                 lambda: noninferiority(proportion_test(3, 5, 1, 5), 0.1, alpha=95), lambda: sample_size_per_arm(0.1, 0.02, alpha=95)):
        with pytest.raises(ValueError, match=alpha_message):
            call()


@pytest.mark.parametrize("counts,expected", [
    ({"control": 5000, "treatment": 5200}, None),
    ({"a": 300, "b": 310, "c": 250}, None),
    ({"control": 900, "treatment": 2000}, {"control": 1, "treatment": 2}),
])
def test_srm_matches_scipy_chisquare(counts, expected):
    r = srm_check(counts, expected_split=expected)
    observed = np.array(list(counts.values()), dtype=float)
    share = np.ones(len(counts)) if expected is None else np.array([expected[k] for k in counts], dtype=float)
    ref = stats.chisquare(observed, observed.sum() * share / share.sum())
    assert r.statistic == pytest.approx(ref.statistic, abs=TOL)
    assert r.p_value == pytest.approx(ref.pvalue, abs=TOL)
    assert r.dof == len(counts) - 1
    assert r.flagged == (ref.pvalue < 0.001)


def test_srm_flags_broken_split():
    assert srm_check({"control": 1000, "treatment": 1200}).flagged
    assert not srm_check({"control": 1000, "treatment": 1050}).flagged
    # the glossary's names, as analyze_experiment(srm_threshold=, srm_warning=): p = 0.0089 here
    r = srm_check({"control": 5000, "treatment": 5265})
    assert (r.srm_threshold, r.srm_warning, r.flagged, r.warning) == (0.001, 0.01, False, True)
    r = srm_check({"control": 5000, "treatment": 5265}, srm_threshold=0.01, srm_warning=0.05)
    assert (r.srm_threshold, r.srm_warning, r.flagged, r.warning) == (0.01, 0.05, True, False)


@pytest.mark.parametrize("method,sm", [("holm", "holm"), ("fdr_bh", "fdr_bh"), ("bonferroni", "bonferroni")])
def test_corrections_match_statsmodels(method, sm):
    p = np.array([0.001, 0.04, 0.03, 0.2, 0.012, 0.04, 0.9])
    assert adjust_pvalues(p, method) == pytest.approx(multipletests(p, method=sm)[1], abs=TOL)
    with_nan = np.r_[p[:3], np.nan, p[3:]]
    out = adjust_pvalues(with_nan, method)
    assert np.isnan(out[3])
    assert np.delete(out, 3) == pytest.approx(multipletests(p, method=sm)[1], abs=TOL)


@pytest.mark.parametrize("baseline,mde,n", [(0.10, 0.02, 3000), (0.30, -0.03, 1500), (0.02, 0.005, 20000)])
def test_binary_power_matches_statsmodels(baseline, mde, n):
    h = abs(proportion_effectsize(baseline + mde, baseline))
    assert statistical_power(n, baseline, mde) == pytest.approx(NormalIndPower().power(h, n, 0.05), abs=TOL)
    size = sample_size_per_arm(baseline, mde)
    assert size == math.ceil(NormalIndPower().solve_power(h, None, 0.05, 0.8))
    assert statistical_power(size, baseline, mde) >= 0.8 > statistical_power(size - 1, baseline, mde)
    mde_found = minimum_detectable_effect(n, baseline)
    h_sm = NormalIndPower().solve_power(None, n, 0.05, 0.8)
    # statsmodels' own root finder stops near 1e-5 relative; the exact check is its power function at our MDE
    assert mde_found == pytest.approx(math.sin(math.asin(math.sqrt(baseline)) + h_sm / 2) ** 2 - baseline, rel=1e-4)
    h_found = proportion_effectsize(baseline + mde_found, baseline)
    assert NormalIndPower().power(h_found, n, 0.05) == pytest.approx(0.8, abs=TOL)


def test_mean_power_and_variants_match_statsmodels():
    d = 1.0 / 10.0
    assert statistical_power(800, 20.0, 1.0, kind="mean", sd=10.0) == pytest.approx(TTestIndPower().power(d, 800, 0.05), abs=TOL)
    assert sample_size_per_arm(20.0, 1.0, kind="mean", sd=10.0) == math.ceil(TTestIndPower().solve_power(d, None, 0.05, 0.8))
    # three variants: alpha is split over the two comparisons with the control
    h = proportion_effectsize(0.12, 0.10)
    assert sample_size_per_arm(0.10, 0.02, n_variants=3) == math.ceil(NormalIndPower().solve_power(h, None, 0.025, 0.8))
    assert sample_size_per_arm(0.10, 0.20, relative=True) == sample_size_per_arm(0.10, 0.02)
    assert days_to_run(1000, 100) == 20 and days_to_run(1000, 100, n_variants=3, traffic_share=0.5) == 60


def test_cuped_theta_is_the_ols_slope_and_reduces_variance_by_r_squared():
    rng = np.random.default_rng(2)
    x = rng.normal(10, 3, 5000)
    y = 2 + 0.8 * x + rng.normal(0, 2, 5000)
    adjusted, theta = cuped_adjust(y, x)
    assert float(theta) == pytest.approx(np.polyfit(x, y, 1)[0], abs=TOL)
    assert adjusted.mean() == pytest.approx(y.mean(), abs=TOL)
    assert 1 - adjusted.var() / y.var() == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, abs=TOL)
    data = pd.DataFrame({"variant": np.where(np.arange(5000) % 2, "treatment", "control"), "y": y, "pre": x})
    side = cuped(data, "y", "pre").iloc[0]
    assert side["variance_reduction"] == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, abs=TOL)
    assert side["ci_width_ratio"] < 0.8


def test_bootstrap_mean_agrees_with_welch_and_is_seeded():
    rng = np.random.default_rng(3)
    data = _users(rng.normal(10.5, 3, 800), rng.normal(10, 3, 800))
    boot = bootstrap_ci(data, "y", statistic="mean", n_boot=4000, random_state=1).iloc[0]
    welch = compare_means(data, "y").iloc[0]
    width = welch["ci_high"] - welch["ci_low"]
    assert abs(boot["ci_low"] - welch["ci_low"]) < 0.05 * width
    assert abs(boot["ci_high"] - welch["ci_high"]) < 0.05 * width
    again = bootstrap_ci(data, "y", statistic="mean", n_boot=4000, random_state=1).iloc[0]
    assert boot["ci_low"] == again["ci_low"]


def test_bootstrap_ratio_point_estimate_by_hand():
    data = pd.DataFrame({"variant": ["control", "control", "b", "b"], "revenue": [10.0, 0.0, 30.0, 6.0],
                         "sessions": [2.0, 3.0, 4.0, 2.0]})
    r = bootstrap_ci(data, "revenue", statistic="ratio", denominator="sessions", n_boot=200).iloc[0]
    assert (r["control_value"], r["variant_value"]) == pytest.approx((2.0, 6.0))
    assert r["relative_lift"] == pytest.approx(2.0)


def _exact_beta_beats(a_t, b_t, a_c, b_c):
    """Evan Miller's closed form of P(p_t > p_c) for Beta posteriors."""
    i = np.arange(a_t)
    log_terms = special.betaln(a_c + i, b_c + b_t) - np.log(b_t + i) - special.betaln(1 + i, b_t) - special.betaln(a_c, b_c)
    return float(np.exp(log_terms).sum())


def test_bayesian_chance_to_beat_matches_closed_forms():
    data = _users(np.arange(1000) < 130, np.arange(1000) < 100, "converted")
    s = bayesian_compare(data, "converted", n_draws=200_000).summary.iloc[0]
    exact = _exact_beta_beats(1 + 130, 1 + 870, 1 + 100, 1 + 900)
    assert s["chance_to_beat"] == pytest.approx(exact, abs=4 * math.sqrt(exact * (1 - exact) / 200_000))
    rng = np.random.default_rng(4)
    a, b = rng.normal(10.3, 3, 500), rng.normal(10, 3, 500)
    c = bayesian_compare(_users(a, b), "y", kind="mean", n_draws=200_000).summary.iloc[0]
    se = math.sqrt(a.var(ddof=1) / 500 + b.var(ddof=1) / 500)
    diff = a.mean() - b.mean()
    closed = stats.norm.cdf(diff / se)
    assert c["chance_to_beat"] == pytest.approx(closed, abs=4 * math.sqrt(closed * (1 - closed) / 200_000))
    loss = se * stats.norm.pdf(diff / se) - diff * stats.norm.cdf(-diff / se)
    assert c["expected_loss"] == pytest.approx(loss, rel=0.05)
    stronger_prior = bayesian_compare(data, "converted", prior_alpha=50, prior_beta=50).summary.iloc[0]
    assert stronger_prior["chance_to_beat"] != s["chance_to_beat"]


def test_noninferiority_bound_and_p_value_agree():
    r = proportion_test([480, 500, 520], [1000] * 3, [500] * 3, [1000] * 3)
    out = noninferiority(r, 0.05)
    z = stats.norm.ppf(0.95)
    assert out["ni_bound"].to_numpy() == pytest.approx(r["difference"] - z * r["std_error"], abs=TOL)
    assert out["guardrail_passed"].tolist() == (out["ni_p_value"] < 0.05).tolist()
    assert out["guardrail_passed"].tolist() == [False, False, True]
    lower_better = noninferiority(r, 0.05, higher_is_better=False)
    assert lower_better["guardrail_passed"].tolist() == [True, False, False]


def test_winsorize_caps_at_pooled_quantile():
    values = np.r_[np.ones(99), 1000.0]
    data = _users(values, np.ones(100))
    r = compare_means(data, "y", winsorize=0.99).iloc[0]
    cap = np.quantile(np.r_[values, np.ones(100)], 0.99)
    assert r["winsorized_at"] == pytest.approx(cap)
    assert r["variant_value"] == pytest.approx((99 + min(1000, cap)) / 100)


# --------------------------------------------------------------------------- edge cases (warnings are errors)


@pytest.mark.filterwarnings("error")
def test_zero_conversions_in_both_arms_is_well_defined():
    data = _users(np.zeros(50), np.zeros(60), "converted")
    r = compare_proportions(data, "converted").iloc[0]
    # no variation in either arm: the shared convention (statistic 0, p = 1), no relative lift
    assert r["difference"] == 0 and r["p_value"] == 1.0 and r["statistic"] == 0
    assert np.isnan(r["relative_lift"]) and np.isnan(r["lift_ci_low"])
    assert proportion_test(0, 100, 0, 100)["p_value"].iloc[0] == 1.0


@pytest.mark.filterwarnings("error")
def test_zero_conversions_in_one_arm():
    data = _users(np.arange(200) < 10, np.zeros(200), "converted")
    r = compare_proportions(data, "converted").iloc[0]
    assert r["p_value"] < 0.05 and r["ci_low"] > 0
    # the log-ratio lift with 0.5 added to each arm's successes: finite, its interval above -100%
    assert np.isfinite(r["relative_lift"]) and r["lift_ci_low"] > -1
    a = analyze_experiment(data.rename(columns={"converted": "converted_14d"}), primary=["converted_14d"], use_cuped=False)
    assert "raised 14-day conversion from 0.0% to 5.0%" in a.verdict[1]


@pytest.mark.filterwarnings("error")
def test_identical_variants_give_no_difference():
    values = np.r_[np.zeros(30), np.ones(20)]
    r = compare_proportions(_users(values, values, "c"), "c").iloc[0]
    assert r["difference"] == 0 and r["p_value"] == pytest.approx(1.0)
    m = compare_means(_users(values * 3, values * 3), "y").iloc[0]
    assert m["difference"] == 0 and m["p_value"] == 1.0 and m["p_value_mann_whitney"] == 1.0
    constant = compare_means(_users(np.full(5, 2.0), np.full(5, 2.0)), "y").iloc[0]
    assert constant["p_value"] == 1.0 and constant["ci_low"] == constant["ci_high"] == 0


@pytest.mark.filterwarnings("error")
def test_tiny_arms_give_nan_not_warnings():
    r = compare_means(_users([1.0], [1.0, 2.0, 3.0]), "y").iloc[0]
    assert np.isnan(r["p_value"]) and np.isnan(r["ci_low"])
    assert r["n_variant"] == 1


@pytest.mark.filterwarnings("error")
def test_single_variant_and_missing_control_are_clear_errors():
    single = pd.DataFrame({"variant": ["control"] * 4, "y": [1.0, 0, 1, 0]})
    with pytest.raises(ValueError, match="only one variant"):
        compare_proportions(single, "y")
    with pytest.raises(ValueError, match="only one variant"):
        analyze_experiment(single.rename(columns={"y": "converted_14d"}), primary=["converted_14d"])
    with pytest.raises(ValueError, match="at least two variants"):
        srm_check({"control": 10})
    data = _users([1.0, 0.0], [0.0, 1.0], "y", names=("b", "a"))
    with pytest.raises(ValueError, match=r"control variant 'control' is not in column 'variant'; variants present: a, b"):
        compare_means(data, "y")
    with pytest.raises(ValueError, match="The 'correction' parameter must be one of .*got 'bh'"):
        adjust_pvalues([0.1], "bh")


def test_users_in_several_variants_are_rejected_by_loading():
    raw = pd.DataFrame({"user_id": ["u1", "u1", "u2"], "experiment": "x", "variant": ["control", "b", "b"]})
    with pytest.raises(io.DataValidationError, match="more than one variant"):
        io.load_assignments(raw)


def test_non_binary_values_are_rejected_for_proportions():
    with pytest.raises(ValueError, match="0/1"):
        compare_proportions(_users([2.0, 0.0], [1.0, 0.0]), "y")


@pytest.mark.parametrize("allocation", [0.5, 0.2, 0.1])
def test_unequal_allocation_sample_size_matches_statsmodels(allocation):
    from engagement_utils.experiments import sample_size_allocated

    r = sample_size_allocated(20.0, 1.0, kind="mean", sd=10.0, allocation=allocation)
    ratio = allocation / (1 - allocation)
    n_control = NormalIndPower().solve_power(effect_size=0.1, alpha=0.05, power=0.8, ratio=ratio)
    assert r["n_control"] == math.ceil(n_control - 1e-9)
    reduced = sample_size_allocated(20.0, 1.0, kind="mean", sd=10.0, allocation=allocation, variance_reduction=0.36)
    assert reduced["n_control"] == math.ceil(0.64 * n_control - 1e-9)


def test_segments_get_their_own_corrected_rows_and_the_prior_shrinks():
    rng = np.random.default_rng(9)
    n = 4000
    users = pd.DataFrame({"variant": rng.choice(["control", "treatment"], n), "platform": rng.choice(["ios", "android"], n),
                          "converted": (rng.random(n) < 0.2).astype(int)})
    a = analyze_experiment(users, primary=["converted"], segment="platform", use_cuped=False)
    seg = a.segments
    assert set(seg["segment"]) == {"ios", "android"} and (seg["p_value_adjusted"] >= seg["p_value"]).all()
    flat = a.table.iloc[0]
    shrunk = analyze_experiment(users, primary=["converted"], use_cuped=False, prior_sd=0.01).table.iloc[0]
    assert abs(shrunk["chance_to_beat"] - 0.5) < abs(flat["chance_to_beat"] - 0.5)
