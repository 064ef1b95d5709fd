"""Sufficient-statistics core: equal to per-user computations, cross-checked with statsmodels / scipy, input hygiene."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats import proportion as smp

from engagement_utils.experiments import (
    Summaries,
    analyze_experiment,
    compare,
    compare_arms,
    cuped_adjust,
    infer_kind,
    read_summaries,
    summaries_from_table,
    summarize,
)


@pytest.fixture(scope="module")
def users():
    rng = np.random.default_rng(7)
    n = 4000
    variant = rng.choice(["control", "b", "c"], n, p=[0.5, 0.3, 0.2])
    pre = rng.gamma(2.0, 3.0, n)
    sessions = rng.poisson(3, n) + 1
    return pd.DataFrame({
        "variant": variant,
        "signed_up": (rng.random(n) < 0.2 + 0.03 * (variant == "b")).astype(int),
        "revenue": (rng.random(n) < 0.3) * rng.lognormal(1, 1, n) + 0.4 * pre,
        "pre": pre,
        "sessions": sessions.astype(float),
        "country": rng.choice(["de", "fr", None], n),
    })


def per_user_welch(values_t, values_c):
    r = stats.ttest_ind(values_t, values_c, equal_var=False)
    ci = r.confidence_interval(0.95)
    return r.statistic, r.pvalue, ci.low, ci.high


def test_kind_is_inferred_from_values_never_from_the_name(users):
    assert infer_kind(users["signed_up"]) == "binary"
    assert infer_kind(pd.Series([True, False])) == "binary"
    frame = pd.DataFrame({"converted": [0, 2, 5], "retained_d7": [0.5, 1.0, 0.0], "signed_up": [0, 1, 1],
                          "variant": ["control", "b", "b"]})
    s = summarize(frame, ["converted", "retained_d7", "signed_up"])
    kinds = dict(zip(s.table["metric"], s.table["kind"]))
    assert kinds == {"converted": "mean", "retained_d7": "mean", "signed_up": "binary"}
    declared = summarize(frame, ["signed_up"], declared={"signed_up": "mean"})
    assert set(declared.table["kind"]) == {"mean"}


def test_welch_and_cuped_from_summaries_equal_per_user_scipy(users):
    s = summarize(users, ["revenue"], covariates={"revenue": "pre"})
    plain = compare(s, method="welch", use_cuped=False).set_index("variant")
    adjusted = compare(s, method="welch").set_index("variant")
    control = users[users["variant"] == "control"]
    adj_values, theta = cuped_adjust(users["revenue"].to_numpy(), users["pre"].to_numpy())
    assert adjusted["theta"].iloc[0] == pytest.approx(float(theta), rel=1e-12)
    for v in ("b", "c"):
        t, p, lo, hi = per_user_welch(users.loc[users["variant"] == v, "revenue"], control["revenue"])
        assert plain.loc[v, ["statistic", "p_value", "ci_low", "ci_high"]].tolist() == pytest.approx([t, p, lo, hi], rel=1e-10)
        mask_t, mask_c = (users["variant"] == v).to_numpy(), (users["variant"] == "control").to_numpy()
        t, p, lo, hi = per_user_welch(adj_values[mask_t], adj_values[mask_c])
        assert adjusted.loc[v, ["statistic", "p_value", "ci_low", "ci_high"]].tolist() == pytest.approx([t, p, lo, hi], rel=1e-10)
        assert adjusted.loc[v, "difference"] == pytest.approx(adj_values[mask_t].mean() - adj_values[mask_c].mean(), rel=1e-12)


def test_proportions_from_summaries_equal_statsmodels(users):
    s = summarize(users, ["signed_up"])
    r = compare(s, method="wald").set_index("variant")
    counts = users.groupby("variant")["signed_up"].agg(["sum", "count"])
    for v in ("b", "c"):
        args = (counts.loc[v, "sum"], counts.loc[v, "count"], counts.loc["control", "sum"], counts.loc["control", "count"])
        test = smp.test_proportions_2indep(*args, method="wald")
        assert r.loc[v, "p_value"] == pytest.approx(test.pvalue, rel=1e-12)
        assert [r.loc[v, "ci_low"], r.loc[v, "ci_high"]] == pytest.approx(list(smp.confint_proportions_2indep(*args, method="wald")), rel=1e-12)
        ac = compare(s, method="agresti-caffo").set_index("variant")
        assert [ac.loc[v, "ci_low"], ac.loc[v, "ci_high"]] == pytest.approx(
            list(smp.confint_proportions_2indep(*args, method="agresti-caffo")), rel=1e-12)
        ratio = smp.confint_proportions_2indep(*args, method="log", compare="ratio")
        assert [r.loc[v, "lift_ci_low"] + 1, r.loc[v, "lift_ci_high"] + 1] == pytest.approx(list(ratio), rel=1e-12)
        assert r.loc[v, "lift_p_value"] == pytest.approx(smp.test_proportions_2indep(*args, method="log", compare="ratio").pvalue, rel=1e-9)


def test_summary_file_gives_the_per_user_results_to_1e12(users, tmp_path):
    per_user = summarize(users, ["signed_up", "revenue"], covariates={"revenue": "pre"})
    table = per_user.table.drop(columns=["segment", "kind", "numerator", "denominator", "covariate"])
    table = table.rename(columns={"sum_y": "sum", "sum_y2": "sum_squares"})
    path = tmp_path / "summary.csv"
    table.to_csv(path, index=False, float_format="%.17g")
    from_file = read_summaries(path, declared={"signed_up": "binary", "revenue": "mean"})
    from_file = Summaries(from_file.table.assign(covariate=np.where(from_file.table["metric"] == "revenue", "pre", None)),
                          from_file.assigned, from_file.metrics)
    a = analyze_experiment(users, primary=["signed_up"], secondary=["revenue"], covariates={"revenue": "pre"})
    b = analyze_experiment(from_file, primary=["signed_up"], secondary=["revenue"])
    numeric = ["control_value", "variant_value", "difference", "ci_low", "ci_high", "p_value", "relative_lift",
               "lift_ci_low", "lift_ci_high", "p_value_adjusted", "chance_to_beat"]
    np.testing.assert_allclose(a.table[numeric].to_numpy(float), b.table[numeric].to_numpy(float), rtol=1e-12, atol=1e-15)
    assert a.text[1:] == b.text[1:]


def test_ratio_metric_delta_method_by_hand(users):
    declared = {"revenue_per_session": {"kind": "ratio", "numerator": "revenue", "denominator": "sessions"}}
    s = summarize(users, ["revenue_per_session"], declared=declared)
    r = compare(s).set_index("variant").loc["b"]
    assert r["method"] == "delta"

    def arm(v):
        d = users[users["variant"] == v]
        ratio = d["revenue"].sum() / d["sessions"].sum()
        lin = (d["revenue"] - ratio * d["sessions"]) / d["sessions"].mean()
        return ratio, lin.var(ddof=1) / len(d)

    (r_t, v_t), (r_c, v_c) = arm("b"), arm("control")
    assert r["difference"] == pytest.approx(r_t - r_c, rel=1e-12)
    assert r["std_error"] == pytest.approx(np.sqrt(v_t + v_c), rel=1e-10)
    log_se = np.sqrt(v_t / r_t**2 + v_c / r_c**2)
    assert r["lift_ci_low"] == pytest.approx(np.exp(np.log(r_t / r_c) - 1.959963984540054 * log_se) - 1, rel=1e-10)


def test_segments_add_up_to_the_overall(users):
    s = summarize(users, ["signed_up", "revenue"], segment="country")
    assert set(s.table["segment"]) == {"de", "fr", "(missing)"}
    overall = s.overall().table.set_index(["variant", "metric"])
    direct = summarize(users, ["signed_up", "revenue"]).table.set_index(["variant", "metric"])
    np.testing.assert_allclose(overall[["n", "sum_y", "sum_y2"]].to_numpy(float), direct[["n", "sum_y", "sum_y2"]].to_numpy(float), rtol=1e-12)


def test_nan_variant_labels_are_an_error_naming_the_rows():
    frame = pd.DataFrame({"variant": ["control", np.nan, "b", None], "y": [1, 0, 1, 0]})
    with pytest.raises(ValueError, match=r"2 row\(s\) have no 'variant' label \(rows 1, 3\)"):
        summarize(frame, ["y"])


def test_case_only_variant_duplicates_are_an_error_suggesting_the_fix():
    frame = pd.DataFrame({"variant": ["Control", "control", "b"], "y": [1, 0, 1]})
    with pytest.raises(ValueError, match=r"'Control' and 'control' differ only in case.*str\.strip\(\)\.str\.lower\(\)"):
        summarize(frame, ["y"])


def test_more_successes_than_users_rejected():
    table = pd.DataFrame({"variant": ["control", "b"], "metric": "converted", "n": [100, 100], "sum": [10, 101]})
    with pytest.raises(ValueError, match="more successes than users"):
        summaries_from_table(table)


def test_assigned_users_come_from_the_argument_then_the_users_column_then_n():
    table = pd.DataFrame({"variant": ["control", "b"], "metric": "converted", "n": [100, 90], "sum": [10, 12]})
    assert summaries_from_table(table).assigned.to_dict() == {"b": 90, "control": 100}
    assert summaries_from_table(table.assign(users=[105, 95])).assigned.to_dict() == {"b": 95, "control": 105}
    given = summaries_from_table(table.assign(users=[105, 95]), assigned={"control": 110, "b": 99})
    assert given.assigned.to_dict() == {"b": 99, "control": 110}


def test_summary_yaml_with_mean_and_sd(tmp_path):
    path = tmp_path / "s.yml"
    path.write_text("users: {control: 1000, b: 1010}\nrows:\n"
                    "  - {variant: control, metric: revenue, n: 1000, mean: 3.0, sd: 2.0}\n"
                    "  - {variant: b, metric: revenue, n: 1010, mean: 3.3, sd: 2.5}\n")
    s = read_summaries(path)
    r = compare(s, method="welch").iloc[0]
    ref = stats.ttest_ind_from_stats(3.3, 2.5, 1010, 3.0, 2.0, 1000, equal_var=False)
    assert r["p_value"] == pytest.approx(ref.pvalue, rel=1e-12)
    assert s.assigned.to_dict() == {"b": 1010, "control": 1000}


def test_constant_and_empty_arms_follow_the_shared_convention():
    both_zero = compare_arms({"n": 500, "sum_y": 0.0}, {"n": 500, "sum_y": 0.0}, "binary", method="wald")
    assert float(both_zero["p_value"]) == 1.0 and np.isnan(both_zero["chance_to_beat"])
    empty = compare_arms({"n": 500, "sum_y": 40.0}, {"n": 0, "sum_y": 0.0}, "binary")
    assert np.isnan(empty["p_value"]) and np.isnan(empty["chance_to_beat"]) and np.isnan(empty["difference"])


def test_zero_conversions_in_treatment_give_a_lift_interval_above_minus_100_percent():
    r = compare_arms({"n": 1000, "sum_y": 20.0}, {"n": 1000, "sum_y": 0.0}, "binary")
    assert -1 < float(r["lift_ci_low"]) < float(r["lift_ci_high"]) < 0
    assert float(r["lift_p_value"]) < 0.05


def test_omnibus_matches_scipy_and_probability_best_sums_to_one(users):
    from engagement_utils.experiments import omnibus, probability_best

    s = summarize(users, ["signed_up", "revenue"])
    table = omnibus(s).set_index("metric")
    groups = [users.loc[users["variant"] == v, "revenue"] for v in ("b", "c", "control")]
    assert table.loc["revenue", "p_value"] == pytest.approx(stats.f_oneway(*groups).pvalue, rel=1e-10)
    counts = users.groupby("variant")["signed_up"].agg(["sum", "count"])
    contingency = np.c_[counts["sum"], counts["count"] - counts["sum"]]
    assert table.loc["signed_up", "p_value"] == pytest.approx(stats.chi2_contingency(contingency, correction=False).pvalue, rel=1e-10)
    best = probability_best(s, "signed_up")
    assert best.sum() == pytest.approx(1.0) and best.idxmax() == "b"


def test_all_pairs_and_one_sided_alternatives(users):
    s = summarize(users, ["revenue"])
    pairs = compare(s, pairs="all", method="welch")
    assert len(pairs) == 3 and set(zip(pairs["control"], pairs["variant"])) == {("control", "b"), ("control", "c"), ("b", "c")}
    two = compare(s, method="welch").set_index("variant")
    greater = compare(s, method="welch", alternative="greater").set_index("variant")
    for v in ("b", "c"):
        t = two.loc[v, "statistic"]
        ref = stats.ttest_ind(users.loc[users["variant"] == v, "revenue"], users.loc[users["variant"] == "control", "revenue"],
                              equal_var=False, alternative="greater").pvalue
        assert greater.loc[v, "p_value"] == pytest.approx(ref, rel=1e-10)
        assert np.isinf(greater.loc[v, "ci_high"]) and (greater.loc[v, "p_value"] < 0.5) == (t > 0)


def test_regression_adjustment_with_several_covariates(users):
    from engagement_utils.experiments import regression_adjusted

    frame = users.assign(other=users["pre"] ** 0.5 + np.random.default_rng(1).normal(0, 1, len(users)))
    one, theta1 = regression_adjusted(frame, "revenue", ["pre"])
    cuped_values, theta = cuped_adjust(frame["revenue"].to_numpy(), frame["pre"].to_numpy())
    np.testing.assert_allclose(one.to_numpy(), cuped_values, rtol=1e-10)
    two, theta2 = regression_adjusted(frame, "revenue", ["pre", "other"])
    assert two.var() <= one.var() <= frame["revenue"].var()
    a = compare(summarize(frame.assign(revenue_adj=two), ["revenue_adj"]), method="welch").set_index("variant")
    b = compare(summarize(frame, ["revenue"]), method="welch").set_index("variant")
    assert (a["std_error"] < b["std_error"]).all()

    table = analyze_experiment(frame, primary=["revenue"], covariates={"revenue": ["pre", "other"]}).table
    assert table["cuped"].all() and table["covariate"].iloc[0] == "regression on pre, other"
    by_variant = table.set_index("variant")
    assert by_variant["std_error"].to_numpy() == pytest.approx(a.loc[by_variant.index, "std_error"].to_numpy(), rel=1e-12)
