"""Per-user experiment metrics (pinned on a tiny log), truth recovery on the demo data, verdict and plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from engagement_utils import plots  # noqa: E402
from engagement_utils.experiments import (  # noqa: E402
    analyze_experiment,
    cumulative_by_day,
    experiment_users,
    retention_by_variant,
    srm_check,
)

EXPERIMENT = "checkout_redesign"


def _ts(values):
    return pd.to_datetime(values, utc=True)


@pytest.fixture(scope="module")
def tiny():
    """User a assigned 2024-01-10 12:00 (control), b 2024-01-10 08:00 (b), c never active; data end 2024-02-20."""
    rows = [
        ("a", "2024-01-01 10:00", "purchase", 5.0),     # pre-period purchase (day -9)
        ("a", "2024-01-10 11:00", "purchase", 7.0),     # same day, before assignment: pre-period
        ("a", "2024-01-10 12:00", "app_open", None),    # assignment moment: counts as after
        ("a", "2024-01-17 09:00", "app_open", None),    # day 7
        ("a", "2024-01-23 23:59", "purchase", 20.0),    # day 13: last day of the 14-day window
        ("b", "2024-01-10 08:00", "app_open", None),
        ("b", "2024-01-24 00:00", "purchase", 9.0),     # day 14: outside the window
        ("z", "2024-02-20 10:00", "app_open", None),    # another user, sets the data end
    ]
    ev = pd.DataFrame(rows, columns=["user_id", "timestamp", "event", "revenue"]).assign(timestamp=lambda d: _ts(d["timestamp"]))
    asg = pd.DataFrame({"user_id": ["a", "b", "c"], "experiment": "x", "variant": ["control", "b", "b"],
                        "assigned_at": _ts(["2024-01-10 12:00", "2024-01-10 08:00", "2024-01-11 08:00"])})
    return asg, ev


def test_metric_definitions_on_a_tiny_log(tiny):
    asg, ev = tiny
    u = experiment_users(asg, ev, "x", retention_days=(1, 7)).set_index("user_id")
    assert u["converted_14d"].tolist() == [1.0, 0.0, 0.0]
    assert u["retained_d7"].tolist() == [1.0, 0.0, 0.0]
    assert u["retained_d1"].tolist() == [0.0, 0.0, 0.0]
    assert u["events_14d"].tolist() == [3.0, 1.0, 0.0]
    assert u["purchases_14d"].tolist() == [1.0, 0.0, 0.0]
    assert u["revenue_14d"].tolist() == [20.0, 0.0, 0.0]
    assert u["active_days_14d"].tolist() == [3.0, 1.0, 0.0]
    assert u["pre_purchases_28d"].tolist() == [2.0, 0.0, 0.0]
    assert u["pre_revenue_28d"].tolist() == [12.0, 0.0, 0.0]
    assert u["sessions_14d"].tolist() == [3.0, 1.0, 0.0]
    assert u["pre_sessions_28d"].tolist() == [2.0, 0.0, 0.0]
    assert list(u["variant"]) == ["control", "b", "b"]


def test_conversion_window_is_configurable_and_censored(tiny):
    asg, ev = tiny
    wide = experiment_users(asg, ev, "x", metrics=["conversion"], conversion_days=15).set_index("user_id")
    assert wide["converted_15d"].tolist() == [1.0, 1.0, 0.0]
    # with the data ending on 2024-01-20 the 14-day window (to 2024-01-23) is not complete: NaN, not 0
    cut = experiment_users(asg, ev, "x", metrics=["conversion", "activity"], end="2024-01-20")
    assert cut["converted_14d"].isna().all() and cut["events_14d"].isna().all()
    assert cut["pre_events_28d"].tolist() == [2.0, 0.0, 0.0]


def test_bad_inputs_name_the_fix(tiny):
    asg, ev = tiny
    with pytest.raises(ValueError, match="experiments present: x"):
        experiment_users(asg, ev, "nope")
    with pytest.raises(ValueError, match="assigned_at"):
        experiment_users(asg.drop(columns="assigned_at"), ev, "x")
    with pytest.raises(ValueError, match=r"^The 'metrics' parameter must be one of \{'conversion', 'retention', .*\}; got 'clicks'$"):
        experiment_users(asg, ev, "x", metrics=["clicks"])
    with pytest.raises(ValueError, match=r"got 'sesions' — did you mean 'sessions'\?$"):
        experiment_users(asg, ev, "x", metrics=["conversion", "sesions"])


def test_cumulative_by_day_ends_at_the_overall_mean(tiny):
    asg, ev = tiny
    u = experiment_users(asg, ev, "x", metrics=["activity"])
    cum = cumulative_by_day(u, "events_14d")
    last = cum.groupby("variant").tail(1).set_index("variant")["value"]
    assert last.to_dict() == u.groupby("variant")["events_14d"].mean().to_dict()


# --------------------------------------------------------------------------- demo data


@pytest.fixture(scope="module")
def demo_users(demo_assignments, demo_events):
    return experiment_users(demo_assignments, demo_events, EXPERIMENT)


@pytest.fixture(scope="module")
def demo_analysis(demo_users):
    return analyze_experiment(demo_users, secondary=["revenue_14d"], guardrails={"sessions_14d": 0.05})


def test_demo_arms_match_truth(demo_users, demo_truth):
    expected = demo_truth["experiment"]["expected"]
    counts = demo_users["variant"].value_counts()
    assert counts["control"] == expected["control"]["users"] and counts["treatment"] == expected["treatment"]["users"]


@pytest.mark.parametrize("use_cuped", [True, False])
def test_true_differences_lie_inside_reported_cis(demo_users, demo_truth, use_cuped):
    truth = demo_truth["experiment"]["expected"]["difference"]
    results = analyze_experiment(demo_users, primary=list(truth), use_cuped=use_cuped).results.set_index("metric")
    for metric, diff in truth.items():
        assert results.loc[metric, "ci_low"] <= diff <= results.loc[metric, "ci_high"], metric
    for arm, value_column in (("control", "control_value"), ("treatment", "variant_value")):
        for metric in truth:
            observed = results.loc[metric, value_column]
            n = results.loc[metric, "n_control" if arm == "control" else "n_variant"]
            expected = demo_truth["experiment"]["expected"][arm][metric]
            assert abs(observed - expected) < 4 * np.sqrt(expected * (1 - expected) / n)


def test_demo_srm_passes_and_a_broken_split_fails(demo_users, demo_analysis):
    assert not demo_analysis.srm.flagged and demo_analysis.verdict[0].startswith("Sample ratio check passed")
    drop = (demo_users["variant"] == "treatment") & (np.arange(len(demo_users)) % 5 == 0)
    broken = demo_users.loc[~drop]
    assert srm_check(broken["variant"].value_counts()).flagged
    verdict = analyze_experiment(broken, primary=["converted_14d"]).verdict
    assert verdict[0].startswith("Sample ratio mismatch") and "unreliable" in verdict[-1]


def test_verdict_numbers_come_from_the_results(demo_analysis):
    row = demo_analysis.results.set_index("metric").loc["converted_14d"]
    sentence = demo_analysis.verdict[1]
    assert f"from {row['control_value']:.1%} to {row['variant_value']:.1%}" in sentence
    assert f"95% CI +{row['ci_low'] * 100:.1f} to +{row['ci_high'] * 100:.1f} pp" in sentence
    assert sentence.startswith("Treatment raised 14-day conversion")
    assert any(s.startswith("Guardrail sessions per user (14 days) held") for s in demo_analysis.verdict)
    assert sum(s.startswith("Power:") for s in demo_analysis.verdict) == 2


def test_results_are_tidy_and_corrected(demo_analysis):
    r = demo_analysis.results
    assert list(r["metric"]) == ["converted_14d", "retained_d7", "revenue_14d", "sessions_14d"]
    family = r[r["role"] != "guardrail"]
    assert (family["p_value_adjusted"] >= family["p_value"]).all()
    assert r.loc[r["role"] == "guardrail", "p_value_adjusted"].isna().all()
    assert (demo_analysis.cuped["variance_reduction"] >= 0).all()
    assert set(demo_analysis.cuped["metric"]) == set(r["metric"])


def test_retention_by_variant_agrees_with_user_metrics(demo_assignments, demo_events, demo_users):
    curve = retention_by_variant(demo_assignments, demo_events, EXPERIMENT, days=(0, 7)).set_index(["variant", "day"])
    assert (curve.xs(0, level="day")["rate"] == 1.0).all()
    by_user = demo_users.groupby("variant")["retained_d7"].mean()
    assert curve.xs(7, level="day")["rate"].to_dict() == pytest.approx(by_user.to_dict())


def test_plots_draw_what_they_are_given(demo_analysis, demo_users, demo_assignments, demo_events):
    ax = plots.plot_lift_forest(demo_analysis.results)
    assert len(ax.get_yticklabels()) == len(demo_analysis.results)
    fig = plots.plot_posteriors(demo_analysis.posterior)
    assert len(fig.axes) == demo_analysis.results["metric"].nunique()
    ax = plots.plot_cumulative_metric(cumulative_by_day(demo_users, "converted_14d"), "14-day conversion")
    assert len(ax.get_lines()) == 2
    ax = plots.plot_retention_by_variant(retention_by_variant(demo_assignments, demo_events, EXPERIMENT, days=range(8)))
    assert [len(line.get_xdata()) for line in ax.get_lines()] == [8, 8]
    plt.close("all")


def test_cumulative_difference_plot_draws_each_variant_with_its_fixed_horizon_ci():
    cumulative = pd.DataFrame({"date": ["2024-01-01", "2024-01-02"] * 2, "variant": ["b", "b", "c", "c"],
                               "difference": [0.01, 0.02, -0.01, 0.0], "ci_low": -0.05, "ci_high": 0.05,
                               "fixed_ci_low": -0.03, "fixed_ci_high": 0.03})
    ax = plots.plot_cumulative_difference(cumulative, "conversion", percent=False)
    labelled = [(line.get_label(), list(line.get_ydata())) for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert labelled == [("b − control", [0.01, 0.02]), ("fixed-horizon CI (end only)", [-0.03, -0.03]),
                        ("c − control", [-0.01, 0.0]), ("fixed-horizon CI (end only)", [-0.03, -0.03])]
    assert (ax.get_ylabel(), ax.get_title()) == ("difference in conversion", "Cumulative difference in conversion")
    plt.close("all")
