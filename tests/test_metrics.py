"""Engagement KPIs: definitions on hand-computed logs, cross-checks, demo truth recovery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from engagement_utils import metrics as m
from engagement_utils.sessions import sessionize


def log(rows, **extra):
    frame = pd.DataFrame(rows, columns=["user_id", "timestamp", "event"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    return frame.assign(**extra)


def daily(user_days, start="2024-01-01"):
    """A log with one 'open' per (user, day offset)."""
    origin = pd.Timestamp(start)
    return log([(u, str(origin + pd.Timedelta(days=d)), "open") for u, d in user_days])


# --------------------------------------------------------------------------- active users


def test_trailing_windows_at_series_start():
    ev = daily([("a", 0), ("b", 0), ("a", 6), ("c", 7), ("a", 35)])
    au = m.active_users(ev).set_index(ev["timestamp"].min().tz_localize(None).normalize() + pd.to_timedelta(np.arange(36), "D"))
    # Windows reaching before the first day are partial: NaN by default.
    assert au["wau"].iloc[:6].isna().all() and au["mau"].iloc[:29].isna().all()
    assert au["wau"].iloc[6] == 2            # days 0-6: a, b
    assert au["wau"].iloc[7] == 2            # days 1-7: a (day 6), c
    assert au["wau"].iloc[13] == 1           # days 7-13: c
    assert au["mau"].iloc[29] == 3           # days 0-29
    assert au["mau"].iloc[35] == 2           # days 6-35: a, c
    assert au["dau"].iloc[35] == 1 and au["stickiness"].iloc[35] == 0.5
    partial = m.active_users(ev, include_partial=True)
    assert partial["wau"].iloc[0] == 2 and partial["mau"].iloc[3] == 2


def test_active_users_matches_brute_force_on_random_log():
    rng = np.random.default_rng(11)
    pairs = {(f"u{u}", int(d)) for u, d in zip(rng.integers(0, 40, 600), rng.integers(0, 70, 600))}
    ev = daily(sorted(pairs))
    au = m.active_users(ev, include_partial=True)
    for day in (0, 5, 29, 40, 69):
        in_window = lambda width: len({u for u, d in pairs if day - width < d <= day})  # noqa: E731
        assert au.loc[day, ["dau", "wau", "mau"]].tolist() == [in_window(1), in_window(7), in_window(30)]


def test_active_users_period_segment_and_errors():
    ev = daily([("a", d) for d in range(14)]).assign(platform="ios")
    weekly = m.active_users(ev, "week", segment="platform", include_partial=True)
    assert weekly["date"].dt.day_of_week.eq(6).all() and len(weekly) == 2
    assert weekly["segment"].tolist() == ["ios", "ios"]
    with pytest.raises(ValueError, match=r"The 'period' parameter must be one of \{'day', 'week', 'month'\}; got 'weak' — did you mean 'week'\?"):
        m.active_users(ev, "weak")
    with pytest.raises(ValueError, match="'active_events' parameter names event"):
        m.active_users(ev, active_events=["purchase"])


def test_an_event_log_gives_the_same_answers_as_a_frame():
    from engagement_utils.core import EventLog

    ev = daily([("a", 0), ("b", 1), ("a", 8), ("c", 9)]).assign(platform=["ios", "web", None, "web"])
    log = EventLog(ev, tz="Europe/Berlin")
    pd.testing.assert_frame_equal(m.active_users(log, segment="platform"),
                                  m.active_users(ev, tz="Europe/Berlin", segment="platform"))
    pd.testing.assert_frame_equal(m.lifecycle(log), m.lifecycle(ev, tz="Europe/Berlin"))
    # the log's own timezone is used unless another one is asked for
    assert m.active_users(log, segment="platform")["segment"].unique().tolist() == ["ios", "web", "(missing)"]  # the missing label last


def test_active_days_distribution():
    # Week of Mon 2024-01-01: a active 3 days, b 1 day; the next week is incomplete (data end).
    ev = daily([("a", 0), ("a", 1), ("a", 4), ("b", 2), ("a", 7)])
    dist = m.active_days_distribution(ev, "week")
    assert dist[["active_days", "users", "share", "share_at_least"]].values.tolist() == [[1, 1, 0.5, 1.0], [3, 1, 0.5, 0.5]]


# --------------------------------------------------------------------------- rates


def test_engagement_rate_counts_arrived_users():
    ev = daily([("a", 0), ("b", 7), ("a", 8), ("c", 14), ("c", 21)])
    er = m.engagement_rate(ev, period="week")
    assert er[["users", "active", "engagement_rate"]].values.tolist() == [[1, 1, 1.0], [2, 2, 1.0], [3, 1, 1 / 3]]
    lo, hi = proportion_confint(1, 3, method="wilson")
    assert er[["ci_low", "ci_high"]].iloc[-1].tolist() == pytest.approx([lo, hi])


def test_returning_visitor_rate():
    ev = log([("a", "2024-01-01 10:00", "x"), ("a", "2024-01-01 12:00", "x"), ("b", "2024-01-02 10:00", "x"),
              ("b", "2024-01-02 10:10", "x"), ("c", "2024-01-08 10:00", "x")])
    r = m.returning_visitor_rate(sessionize(ev).sessions, "week")
    assert r[["users", "returning", "returning_rate"]].values.tolist() == [[2, 1, 0.5], [1, 0, 0.0]]


def test_conversion_rate_within_calendar_days_and_censoring():
    ev = log([("a", "2024-01-01 23:00", "open"), ("a", "2024-01-02 01:00", "purchase"),
              ("b", "2024-01-01 10:00", "open"), ("b", "2024-01-03 10:00", "purchase"),
              ("c", "2024-01-04 10:00", "open"), ("c", "2024-01-04 11:00", "purchase")], segment=["x", "x", "y", "y", "y", "y"])
    assert m.conversion_rate(ev)["conversion_rate"].item() == 1.0
    # Day 0 only: a bought on day 1, b on day 2; c started on the last (incomplete) day and is left out.
    one = m.conversion_rate(ev, within_days=1)
    assert one[["users", "converted"]].values.tolist() == [[2, 0]]
    two = m.conversion_rate(ev.rename(columns={"segment": "plan"}), within_days=2, end="2024-01-05", segment="plan")
    # b bought on day 2 (outside days 0-1); c's day 1 is after the end: censored.
    assert two[["segment", "users", "converted"]].values.tolist() == [["x", 1, 1], ["y", 1, 0]]
    assert m.conversion_rate(ev, ["purchase", "open"])["converted"].item() == 3


# --------------------------------------------------------------------------- lifecycle and churn


def test_lifecycle_over_four_periods():
    # Weeks 0..3.  a: 0, 1, 3   b: 1   c: 0, 2
    ev = daily([("a", 0), ("a", 7), ("a", 21), ("b", 8), ("c", 1), ("c", 15)])
    table = m.lifecycle(ev, "week").pivot(index="period_start", columns="status", values="users")
    assert table["new"].tolist() == [2, 1, 0, 0]
    assert table["returning"].tolist() == [0, 1, 0, 0]
    assert table["resurrecting"].tolist() == [0, 0, 1, 1]
    assert table["dormant"].tolist() == [0, 1, 2, 1]   # c after w0; a, b after w1; c after w2


def test_churn_hand_computed():
    ev = daily([("a", 0), ("a", 50), ("b", 0), ("c", 45), ("d", 59)])
    out = m.churn(ev, 30, end="2024-03-01", period=None)   # cutoff 2024-01-31
    # a: active day 50 -> kept; b: last day 0 -> churned; c, d started after the cutoff: not judged.
    assert out[["users", "churned"]].values.tolist() == [[2, 1]]
    with pytest.raises(ValueError, match="no user started before"):
        m.churn(ev, 90, end="2024-03-01")


# --------------------------------------------------------------------------- marketing and surveys


def test_cpa_with_zero_conversions_is_nan_with_a_warning():
    spend = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-02"]), "channel": ["ads", "ads"], "cost": [6.0, 4.0]})
    ev = log([("a", "2024-01-01 10:00", "open"), ("b", "2024-01-02 10:00", "open")], channel="ads")
    with pytest.warns(RuntimeWarning, match="CPA undefined"):
        out = m.cpa_cac(spend, ev, channel_column="channel")
    assert out["cac"].item() == 5.0 and np.isnan(out["cpa"].item())
    with pytest.warns(RuntimeWarning):
        monthly = m.cpa_cac(spend, ev, channel_column="channel", period="month")
    assert monthly[["spend", "new_customers"]].values.tolist() == [[10.0, 2.0]]


def test_nps_on_a_known_distribution():
    scores = [10] * 50 + [9] * 10 + [8] * 20 + [5] * 20     # 60% promoters, 20% detractors
    out = m.survey_scores(pd.DataFrame({"kind": "nps", "score": scores})).iloc[0]
    assert out["score"] == pytest.approx(40.0)
    se = 100 * np.sqrt((0.6 + 0.2 - 0.4**2) / 100)
    assert [out["ci_low"], out["ci_high"]] == pytest.approx([40 - 1.959964 * se, 40 + 1.959964 * se], rel=1e-5)
    csat = m.survey_scores(pd.DataFrame({"kind": "csat", "score": [5, 4, 3, 1]})).iloc[0]
    assert csat["score"] == 0.5
    assert [csat["ci_low"], csat["ci_high"]] == pytest.approx(list(proportion_confint(2, 4, method="wilson")))


def test_compare_groups_stratified_removes_confounding():
    # Within each stratum the groups are equal; the raw gap is pure composition.
    rows = ([("x", "p", 1.0)] * 8 + [("x", "p", 0.0)] * 2 + [("x", "q", 0.0)] * 40 + [("x", "q", 1.0)] * 10
            + [("y", "p", 1.0)] * 40 + [("y", "p", 0.0)] * 10 + [("y", "q", 0.0)] * 8 + [("y", "q", 1.0)] * 2)
    o = pd.DataFrame(rows, columns=["g", "s", "metric"])
    result = m.compare_groups(o, "g", ["metric"], strata=["s"])
    out = result.table.set_index("segment")
    assert out.loc["y", "difference"] == pytest.approx(42 / 60 - 18 / 60)
    assert out.loc["y", "adjusted_difference"] == pytest.approx(0.0, abs=1e-12)
    assert out.loc["x", ["ci_low", "ci_high"]].tolist() == pytest.approx(list(proportion_confint(18, 60, method="wilson")))
    assert result.reference == "x" and not result.table.attrs
    # the caveat names the columns in play, and no demo concept that is not one of them
    assert "not randomised to the g groups" in result.text and "within the same s" in result.text
    assert "messaging" not in result.text and "platform" not in result.text
    assert "no strata" in m.compare_groups(o, "g", ["metric"]).text
    with pytest.raises(ValueError, match="The 'reference' parameter must be one of"):
        m.compare_groups(o, "g", ["metric"], reference="z")


def _slow_compare(o, group, metric, strata, reference):
    """Reference implementation with pandas groupbys (the pre-vectorization code path)."""
    rows = {}
    for g, part in o.groupby(group):
        v, ref = part[metric].dropna(), o.loc[o[group] == reference, metric].dropna()
        adjusted, weights = 0.0, 0.0
        pairs = []
        for key, cell in o.groupby(strata):
            mine = cell.loc[cell[group] == g, metric].dropna()
            theirs = cell.loc[cell[group] == reference, metric].dropna()
            if len(mine) >= 2 and len(theirs) >= 2:
                pairs.append((len(mine) + len(theirs), mine.mean() - theirs.mean()))
        total = sum(n for n, _ in pairs)
        adjusted = sum(n / total * d for n, d in pairs) if pairs else np.nan
        rows[g] = (len(v), v.mean(), v.mean() - ref.mean(), adjusted)
    return rows


def test_compare_groups_matches_a_groupby_reference_on_random_outcomes():
    rng = np.random.default_rng(5)
    n = 3000
    o = pd.DataFrame({"g": rng.choice([0, 1, 2, 3], n), "a": rng.choice(["p", "q", "r"], n), "b": rng.choice([True, False], n),
                      "m": np.where(rng.random(n) < 0.1, np.nan, rng.gamma(2.0, 1.0, n))})
    table = m.compare_groups(o, "g", ["m"], strata=["a", "b"], reference=1).table.set_index("segment")
    for g, (users, value, diff, adjusted) in _slow_compare(o, "g", "m", ["a", "b"], 1).items():
        row = table.loc[g]
        assert row["users"] == users
        assert row[["value", "difference", "adjusted_difference"]].tolist() == pytest.approx(
            [value, 0.0 if g == 1 else diff, 0.0 if g == 1 else adjusted])


# --------------------------------------------------------------------------- demo truth


@pytest.fixture(scope="module")
def demo_outcomes(demo_events, demo_users, demo_truth):
    end = pd.Timestamp(demo_truth["start"], tz="UTC") + pd.Timedelta(days=demo_truth["days"])
    return m.user_outcomes(demo_events, demo_users, end=end,
                           properties=["platform", "acquisition_channel", "onboarding", "n_messaging_channels"])


@pytest.mark.parametrize("group, reference, other", [("onboarding", False, True), ("n_messaging_channels", 1, 3)])
def test_demo_channel_and_onboarding_effects_have_the_built_in_sign(demo_outcomes, group, reference, other):
    out = m.compare_groups(demo_outcomes, group, ["stickiness_30d", "retained_d7", "retained_d30"],
                           strata=["platform", "acquisition_channel"], reference=reference).table
    row = out[out["segment"] == other].set_index("metric")
    assert (row["difference"] > 0).all()
    assert row.loc["retained_d7", "diff_ci_low"] > 0
    assert (row["adjusted_difference"] > 0).all()


def test_demo_platform_confounding_shrinks_channel_gap(demo_outcomes):
    # Web has no push and lower activity, so part of the 3-vs-0 channel gap is platform.
    out = m.compare_groups(demo_outcomes, "n_messaging_channels", ["stickiness_30d"], strata=["platform"], reference=0).table
    three = out[out["segment"] == 3].iloc[0]
    assert 0 < three["adjusted_difference"] < three["difference"]


def test_demo_conversion_matches_truth(demo_events, demo_users, demo_truth):
    end = pd.Timestamp(demo_truth["start"], tz="UTC") + pd.Timedelta(days=demo_truth["days"])
    for w in ("7", "30"):
        overall = m.conversion_rate(demo_events, within_days=int(w), end=end).iloc[0]
        assert overall["ci_low"] <= demo_truth["overall"]["purchase_within_days"][w] <= overall["ci_high"]
    by = m.conversion_rate(demo_events, users=demo_users, segment="onboarding", within_days=7, end=end).set_index("segment")
    for flag, name in ((True, "with"), (False, "without")):
        assert by.loc[flag, "ci_low"] <= demo_truth["by_onboarding"][name]["purchase_within_days"]["7"] <= by.loc[flag, "ci_high"]


def test_demo_cac_recovers_true_cac(demo_events, demo_users, demo_truth, demo_dir):
    from engagement_utils.io import load_spend

    out = m.cpa_cac(load_spend(demo_dir / "spend.csv"), demo_events, users=demo_users).set_index("channel")
    for channel, cac in demo_truth["true_cac"].items():
        assert out.loc[channel, "cac"] == pytest.approx(cac, rel=0.05)
    assert set(out.index) == set(demo_truth["true_cac"])


def test_demo_interaction_rates(demo_events, demo_users):
    out = m.interaction_rates(demo_events, demo_users).set_index(["segment", "interaction"])
    # Web users are reachable in-app less often (30% vs 50%) by construction.
    assert out.loc[("web", "in_app_message"), "reach_rate"] < out.loc[("ios", "in_app_message"), "reach_rate"]
    assert ((out["response_rate"] > 0) & (out["response_rate"] < 1)).all()


def test_demo_nps_is_in_range(demo_dir):
    from engagement_utils.io import load_surveys

    out = m.survey_scores(load_surveys(demo_dir / "surveys.csv")).iloc[0]
    assert out["kind"] == "nps" and -100 < out["ci_low"] < out["score"] < out["ci_high"] < 100
    assert out[["promoters", "passives", "detractors"]].sum() == pytest.approx(1.0)


def test_conversion_by_period_is_converted_over_active_users_per_period():
    ev = pd.DataFrame({"user_id": ["a", "a", "b", "c", "c"], "event": ["open", "purchase", "open", "open", "purchase"],
                       "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-08", "2024-01-20"], utc=True)})
    out = m.conversion_by_period(ev, "purchase", "week", end="2024-01-15")
    assert out["active_users"].tolist() == [2.0, 1.0] and out["converted"].tolist() == [1.0, 0.0]
