"""Cohort retention: definitions pinned on hand-computed logs (DESIGN §5), demo truth recovery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engagement_utils import io
from engagement_utils import retention as r
from engagement_utils.stats import wilson_ci


def make_events(rows, **extra) -> pd.DataFrame:
    """Canonical events from (user, "YYYY-MM-DD HH:MM" UTC, event) tuples."""
    frame = pd.DataFrame(rows, columns=["user_id", "timestamp", "event"])
    for name, values in extra.items():
        frame[name] = values
    return io.load_events(frame, drop_duplicates=False)


# --------------------------------------------------------------------------- user_retention


@pytest.fixture
def small_log():
    # data end: 2024-01-10 12:00 (day 9 of a, in progress)
    return make_events([
        ("a", "2024-01-01 10:00", "open"),
        ("a", "2024-01-02 23:59", "open"),   # day 1
        ("a", "2024-01-08 00:01", "buy"),    # day 7
        ("b", "2024-01-03 09:00", "open"),
        ("b", "2024-01-05 09:00", "buy"),    # day 2
        ("c", "2024-01-09 20:00", "open"),   # day 1 of c = 2024-01-10: in progress
        ("c", "2024-01-10 12:00", "open"),
    ])


def test_user_retention_flags_and_censoring(small_log):
    out = r.user_retention(small_log, days=(0, 1, 2, 7))
    assert out["user_id"].tolist() == ["a", "b", "c"]
    assert out.columns.tolist() == ["user_id", "anchor", "retained_d0", "retained_d1", "retained_d2", "retained_d7"]
    expected = pd.DataFrame(
        {"retained_d0": [1.0, 1.0, 1.0], "retained_d1": [1.0, 0.0, np.nan],
         "retained_d2": [0.0, 1.0, np.nan], "retained_d7": [1.0, np.nan, np.nan]})
    pd.testing.assert_frame_equal(out[expected.columns], expected)
    assert out["anchor"].iloc[1] == pd.Timestamp("2024-01-03 09:00", tz="UTC")
    definition = r.retention_definition(small_log, "day")
    assert definition.include_partial is False
    assert definition.first_incomplete_period == pd.Timestamp("2024-01-10")
    assert "periods from 2024-01-10 on are incomplete and censored" in definition.text


def test_user_retention_include_partial_keeps_started_period(small_log):
    out = r.user_retention(small_log, days=(1, 2), include_partial=True)
    # c's day 1 (2024-01-10) has started: it now counts; day 2 has not started
    assert out["retained_d1"].tolist()[2] == 1.0
    assert np.isnan(out["retained_d2"].iloc[2])
    assert "counted as observed so far" in r.retention_definition(small_log, "day", include_partial=True).text


def test_user_retention_explicit_end_is_exclusive_and_drops_later_events(small_log):
    out = r.user_retention(small_log, days=(1, 7), end="2024-01-08")
    # a's day-7 event on 2024-01-08 is after the end: day 7 is not observed at all
    assert np.isnan(out["retained_d7"].iloc[0])
    assert out["retained_d1"].tolist()[:2] == [1.0, 0.0]
    # c has no event before the end, so it has no row
    assert out["user_id"].tolist() == ["a", "b"]
    later = r.user_retention(small_log, days=(7,), end="2024-01-09")
    assert later["retained_d7"].iloc[0] == 1.0


def test_user_retention_return_events_and_start_events(small_log):
    buys = r.user_retention(small_log, days=(0, 2, 7), return_events="buy")
    assert buys["retained_d2"].tolist()[:2] == [0.0, 1.0]
    assert buys["retained_d7"].iloc[0] == 1.0
    assert buys["retained_d0"].tolist()[:2] == [0.0, 0.0]
    from_buy = r.user_retention(small_log, days=(0,), start_events="buy")
    assert from_buy["user_id"].tolist() == ["a", "b"]
    assert from_buy["anchor"].iloc[0] == pd.Timestamp("2024-01-08 00:01", tz="UTC")


def test_user_retention_with_anchor_frame_counts_users_without_events(small_log):
    anchor = pd.DataFrame({"user_id": ["b", "a", "zz"],
                           "assigned_at": pd.to_datetime(["2024-01-04 08:00", "2024-01-07 22:00", "2024-01-02 00:00"], utc=True)})
    out = r.user_retention(small_log, days=(1, 3), anchor=anchor)
    assert out["user_id"].tolist() == ["b", "a", "zz"]
    # b anchored 2024-01-04: day 1 = 01-05 (buy) ; a anchored 01-07: day 1 = 01-08 (buy), day 3 = 01-10 censored
    assert out["retained_d1"].tolist() == [1.0, 1.0, 0.0]
    assert out["retained_d3"].iloc[0] == 0.0 and np.isnan(out["retained_d3"].iloc[1])
    series = anchor.set_index("user_id")["assigned_at"]
    pd.testing.assert_frame_equal(r.user_retention(small_log, days=(1, 3), anchor=series), out)


def test_user_retention_weeks_start_monday_and_months():
    ev = make_events([
        ("a", "2024-01-07 12:00", "open"),   # Sunday: week of Mon 2024-01-01
        ("a", "2024-01-08 12:00", "open"),   # Monday: next week
        ("a", "2024-02-29 12:00", "open"),   # month 1 after January
        ("b", "2024-01-08 12:00", "open"),
        ("b", "2024-01-14 12:00", "open"),   # Sunday, same week as the start
        ("z", "2024-06-01 12:00", "open"),   # keeps the earlier periods observed
    ])
    weeks = r.user_retention(ev, days=(1,), period="week")
    assert weeks["retained_w1"].iloc[:2].tolist() == [1.0, 0.0]
    months = r.user_retention(ev, days=(1, 2), period="month")
    assert months["retained_m1"].iloc[:2].tolist() == [1.0, 0.0]
    assert months["retained_m2"].iloc[:2].tolist() == [0.0, 0.0]


def test_user_retention_timezone_moves_events_across_midnight():
    ev = make_events([
        ("a", "2024-01-01 22:30", "open"),   # Berlin: 2024-01-01 23:30
        ("a", "2024-01-01 23:30", "open"),   # Berlin: 2024-01-02 00:30 -> day 1 in Berlin, day 0 in UTC
        ("z", "2024-01-05 12:00", "open"),
    ])
    utc = r.user_retention(ev, days=(1,), tz="UTC")
    berlin = r.user_retention(ev, days=(1,), tz="Europe/Berlin")
    assert utc["retained_d1"].iloc[0] == 0.0
    assert berlin["retained_d1"].iloc[0] == 1.0


def test_user_retention_rolling_24h_windows():
    ev = make_events([
        ("a", "2024-01-01 22:00", "open"),
        ("a", "2024-01-02 21:00", "open"),   # 23 h later: rolling day 0, calendar day 1
        ("a", "2024-01-03 23:00", "open"),   # 49 h later: rolling day 2
        ("z", "2024-01-10 12:00", "open"),
    ])
    rolling = r.user_retention(ev, days=(0, 1, 2), clock="rolling")
    calendar = r.user_retention(ev, days=(0, 1, 2))
    assert rolling[["retained_d0", "retained_d1", "retained_d2"]].iloc[0].tolist() == [1.0, 0.0, 1.0]
    assert calendar[["retained_d0", "retained_d1", "retained_d2"]].iloc[0].tolist() == [1.0, 1.0, 1.0]
    # z started 12 h before the data end: its rolling day 0 is incomplete
    assert np.isnan(rolling["retained_d0"].iloc[1])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"period": "fortnight"}, "The .period. parameter must be one of \\{.day., .week., .month.\\}"),
        ({"clock": "sliding"}, "The 'clock' parameter must be one of {'calendar', 'rolling'}"),
        ({"clock": "rolling", "period": "month"}, "fixed lengths"),
        ({"days": (1, -7)}, "whole numbers"),
        ({"return_events": "purchse"}, "do not occur in column 'event'"),
        ({"anchor": pd.Series(pd.to_datetime(["2024-01-02"], utc=True), index=["nobody"]), "days": (1,)}, "none of the anchor users"),
        ({"anchor": pd.Series(pd.to_datetime(["2024-01-02"], utc=True), index=["a"]), "start_events": "open"}, "not both"),
        ({"end": "2023-01-01"}, "no events before end"),
    ],
)
def test_user_retention_bad_inputs(small_log, kwargs, message):
    with pytest.raises(ValueError, match=message):
        r.user_retention(small_log, **kwargs)


def test_user_retention_does_not_modify_input(small_log):
    before = small_log.copy()
    r.user_retention(small_log, days=(1,), clock="rolling")
    pd.testing.assert_frame_equal(small_log, before)


def test_user_retention_recovers_demo_truth(demo_events, demo_truth):
    out = r.user_retention(demo_events, days=(1, 7, 30))
    persona = out["user_id"].astype(str).map(demo_truth["user_persona"])
    for name, truth in demo_truth["by_persona"].items():
        rows = out[persona == name]
        for k in (1, 7, 30):
            flags = rows[f"retained_d{k}"].dropna()
            lo, hi = wilson_ci(flags.sum(), len(flags), alpha=0.001)
            assert lo <= truth["retention"][k] <= hi, (name, k)


# --------------------------------------------------------------------------- cohorts and matrices


@pytest.fixture
def cohort_log():
    # data end 2024-01-12 (day 2024-01-12 in progress). Cohort 01-01: a, b, d; cohort 01-02: c.
    return make_events([
        ("a", "2024-01-01 08:00", "open"),
        ("a", "2024-01-02 08:00", "open"),   # a: day 1
        ("a", "2024-01-04 08:00", "buy"),    # a: day 3
        ("b", "2024-01-01 09:00", "open"),
        ("b", "2024-01-03 09:00", "open"),   # b: day 2
        ("c", "2024-01-02 10:00", "open"),   # c: single event
        ("d", "2024-01-01 23:00", "open"),   # d: single event
        ("z", "2024-01-12 10:00", "open"),   # z: cohort 01-12, in progress
    ], platform=["ios", "ios", "ios", "web", "web", "web", None, "ios"])


def cells(matrix, cohort):
    return matrix.loc[matrix["cohort"] == pd.Timestamp(cohort)].set_index("period")


def test_matrix_n_period_by_hand(cohort_log):
    m = r.retention_matrix(cohort_log, "day", max_periods=4)
    assert m.columns.tolist() == ["cohort", "period", "cohort_size", "eligible", "retained", "rate", "ci_low", "ci_high"]
    jan1 = cells(m, "2024-01-01")
    assert jan1["cohort_size"].tolist() == [3] * 5
    assert jan1["retained"].tolist() == [3, 1, 1, 1, 0]
    np.testing.assert_allclose(jan1["rate"], [1, 1 / 3, 1 / 3, 1 / 3, 0])
    jan2 = cells(m, "2024-01-02")
    assert jan2["retained"].tolist() == [1, 0, 0, 0, 0]        # a single event: retained only in period 0
    # the in-progress cohort has no observed period at all: NaN, never 0
    z = cells(m, "2024-01-12")
    assert (z["eligible"] == 0).all() and z["rate"].isna().all() and z["ci_low"].isna().all()
    lo, hi = wilson_ci(1, 3)
    assert jan1.loc[1, "ci_low"] == pytest.approx(float(lo)) and jan1.loc[1, "ci_high"] == pytest.approx(float(hi))
    definition = r.retention_definition(cohort_log, "day")
    assert definition.kind == "n_period" and definition.include_partial is False


def test_matrix_unbounded_by_hand(cohort_log):
    m = r.retention_matrix(cohort_log, "day", "unbounded", max_periods=4)
    # active on day k or later: a (days 1, 3), b (day 2), d (never)
    assert cells(m, "2024-01-01")["retained"].tolist() == [3, 2, 2, 1, 0]


def test_matrix_return_event_in_start_period_counts_for_period_zero(cohort_log):
    m = r.retention_matrix(cohort_log, "day", return_events="buy", max_periods=3)
    assert cells(m, "2024-01-01")["retained"].tolist() == [0, 0, 0, 1]
    same_day = make_events([("a", "2024-01-01 08:00", "open"), ("a", "2024-01-01 09:00", "buy"),
                            ("z", "2024-01-05 09:00", "open")])
    m0 = r.retention_matrix(same_day, "day", start_events="open", return_events="buy", max_periods=0)
    assert cells(m0, "2024-01-01")["rate"].tolist() == [1.0]


def test_matrix_censoring_at_the_data_end():
    ev = make_events([("a", "2024-01-01 08:00", "open"), ("b", "2024-01-03 08:00", "open"),
                      ("a", "2024-01-04 20:00", "open")])
    m = r.retention_matrix(ev, "day", max_periods=3)
    # data end 2024-01-04 20:00: day 01-04 is incomplete -> a's day 3 and b's day 1 are censored
    assert cells(m, "2024-01-01")["eligible"].tolist() == [1, 1, 1, 0]
    assert cells(m, "2024-01-03")["eligible"].tolist() == [1, 0, 0, 0]
    partial = r.retention_matrix(ev, "day", max_periods=3, include_partial=True)
    assert cells(partial, "2024-01-01")["retained"].tolist() == [1, 0, 0, 1]
    assert cells(partial, "2024-01-03")["eligible"].tolist() == [1, 1, 0, 0]
    assert "counted as observed so far" in r.retention_definition(ev, "day", include_partial=True).text


def test_matrix_weeks_start_on_monday_and_months():
    ev = make_events([
        ("a", "2024-01-07 12:00", "open"),   # Sunday -> cohort week Mon 2024-01-01
        ("a", "2024-01-08 12:00", "open"),   # Monday -> week 1
        ("b", "2024-01-08 12:00", "open"),   # cohort week 2024-01-08
        ("b", "2024-02-20 12:00", "open"),   # month 1 of b (January cohort)
        ("z", "2024-04-10 12:00", "open"),
    ])
    w = r.retention_matrix(ev, "week", max_periods=1)
    assert sorted(w["cohort"].dt.strftime("%Y-%m-%d").unique()) == ["2024-01-01", "2024-01-08", "2024-04-08"]
    assert cells(w, "2024-01-01")["retained"].tolist() == [1, 1]
    assert cells(w, "2024-01-08")["retained"].tolist() == [1, 0]
    mo = r.retention_matrix(ev, "month", max_periods=2)
    assert cells(mo, "2024-01-01")["retained"].tolist() == [2, 1, 0]


def test_matrix_timezone_moves_cohort_across_midnight(cohort_log):
    # d's first event 2024-01-01 23:00 UTC is 2024-01-02 in Berlin
    utc = r.retention_matrix(cohort_log, "day", max_periods=0)
    berlin = r.retention_matrix(cohort_log, "day", max_periods=0, tz="Europe/Berlin")
    assert cells(utc, "2024-01-01")["cohort_size"].iloc[0] == 3
    assert cells(berlin, "2024-01-01")["cohort_size"].iloc[0] == 2
    assert cells(berlin, "2024-01-02")["cohort_size"].iloc[0] == 2


def test_matrix_filtered_window_keeps_first_events_from_full_history(cohort_log):
    m = r.retention_matrix(cohort_log, "day", start="2024-01-02", max_periods=1)
    # a, b, d were first seen on 01-01: their later activity does not make them new on 01-02
    assert sorted(m["cohort"].dt.strftime("%Y-%m-%d").unique()) == ["2024-01-02", "2024-01-12"]
    assert cells(m, "2024-01-02")["cohort_size"].iloc[0] == 1
    ended = r.retention_matrix(cohort_log, "day", end="2024-01-03", max_periods=2)
    # end is exclusive and becomes the data end: day 01-03 is not observed, and z is gone
    assert cells(ended, "2024-01-01")["eligible"].tolist() == [3, 3, 0]
    assert set(ended["cohort"].dt.day) == {1, 2}


def test_matrix_recurring_cohorts(cohort_log):
    m = r.retention_matrix(cohort_log, "day", cohorts="recurring", max_periods=2)
    # active on 01-02: a and c; a comes back on 01-03? no (01-04: day 2)
    jan2 = cells(m, "2024-01-02")
    assert jan2["cohort_size"].iloc[0] == 2
    assert jan2["retained"].tolist() == [2, 0, 1]
    assert cells(m, "2024-01-01")["cohort_size"].iloc[0] == 3
    assert r.retention_definition(cohort_log, "day", cohorts="recurring").cohorts == "recurring"


def test_matrix_rolling_windows():
    ev = make_events([
        ("a", "2024-01-01 22:00", "open"),
        ("a", "2024-01-02 21:00", "open"),   # +23 h: rolling day 0, calendar day 1
        ("b", "2024-01-01 10:00", "open"),
        ("b", "2024-01-02 11:00", "open"),   # +25 h: rolling day 1
        ("z", "2024-01-05 12:00", "open"),
    ])
    rolling = r.retention_matrix(ev, "day", clock="rolling", max_periods=1)
    calendar = r.retention_matrix(ev, "day", max_periods=1)
    assert cells(rolling, "2024-01-01")["retained"].tolist() == [2, 1]
    assert cells(calendar, "2024-01-01")["retained"].tolist() == [2, 2]


def test_matrix_segments_use_the_start_event_value(cohort_log):
    m = r.retention_matrix(cohort_log, "day", segment="platform", max_periods=1)
    jan1 = m[m["cohort"] == pd.Timestamp("2024-01-01")].set_index(["segment", "period"])
    assert jan1.loc[("ios", 0), "cohort_size"] == 1 and jan1.loc[("ios", 1), "retained"] == 1
    assert jan1.loc[("web", 0), "cohort_size"] == 1
    assert jan1.loc[(r.MISSING_SEGMENT, 0), "cohort_size"] == 1


def test_retention_table_pivots_with_censored_nan(cohort_log):
    m = r.retention_matrix(cohort_log, "day", max_periods=2)
    table = r.retention_table(m)
    assert table.shape == (3, 3)
    assert table.loc[pd.Timestamp("2024-01-01"), 1] == pytest.approx(1 / 3)
    assert np.isnan(table.loc[pd.Timestamp("2024-01-12"), 0])
    assert r.retention_table(m, "cohort_size").iloc[0, 0] == 3
    with pytest.raises(ValueError, match="choose one of"):
        r.retention_table(m, "retention")


def test_bracket_retention_by_hand(cohort_log):
    b = r.bracket_retention(cohort_log, [(1, 1), (2, 3), (1, 9), (8, 30)])
    jan1 = b[b["cohort"] == pd.Timestamp("2024-01-01")]
    assert jan1["bracket"].tolist() == ["1", "2–3", "1–9", "8–30"]
    assert jan1["retained"].tolist() == [1, 2, 2, 0]
    # the whole bracket must be observed: days 8..30 are not, day 9 (01-10) is
    assert jan1["eligible"].tolist() == [3, 3, 3, 0]
    assert np.isnan(jan1["rate"].iloc[3])
    assert r.retention_table(b).columns.tolist() == ["1", "2–3", "1–9", "8–30"]


def test_assign_cohorts(cohort_log):
    c = r.assign_cohorts(cohort_log, "week", properties=["platform"])
    assert c["user_id"].tolist() == ["a", "b", "c", "d", "z"]
    assert c["cohort"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-01"] * 4 + ["2024-01-08"]
    assert c["platform"].tolist()[:2] == ["ios", "web"]
    buyers = r.assign_cohorts(cohort_log, "day", start_events="buy")
    assert buyers["user_id"].tolist() == ["a"] and buyers["first_seen"].iloc[0] == pd.Timestamp("2024-01-04 08:00", tz="UTC")


# --------------------------------------------------------------------------- pooling and comparison


def test_curve_pools_with_weights_and_skips_censored_cohorts():
    m = pd.DataFrame({"cohort": ["w1"] * 3 + ["w2"] * 3, "period": [0, 1, 2] * 2,
                      "eligible": [100, 100, 100, 10, 10, 0], "retained": [100, 50, 40, 10, 1, 0]})
    c = r.retention_curve(m)
    assert c["rate"].tolist() == pytest.approx([1.0, 51 / 110, 0.4])
    assert c["cohorts"].tolist() == [2, 2, 1]
    lo, hi = wilson_ci(51, 110)
    assert c["ci_low"].iloc[1] == pytest.approx(float(lo)) and c["ci_high"].iloc[1] == pytest.approx(float(hi))
    mean = r.retention_curve(m, "mean")
    assert mean["rate"].tolist() == pytest.approx([1.0, (0.5 + 0.1) / 2, 0.4])
    assert np.isnan(mean["ci_low"].iloc[2])   # one cohort: no interval across cohorts
    with pytest.raises(ValueError, match="'weighted', 'mean'"):
        r.retention_curve(m, "median")


def test_compare_matches_statsmodels_and_holm():
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import proportions_ztest

    a = pd.DataFrame({"period": [0, 1, 2, 3], "eligible": [500, 480, 450, 400], "retained": [500, 190, 150, 120]})
    b = pd.DataFrame({"period": [0, 1, 2, 3], "eligible": [520, 500, 470, 0], "retained": [520, 240, 170, 0]})
    c = r.compare_retention(a, b).table
    # 100% vs 100%: no evidence of a difference (p = 1), outside the correction family; censored: no p
    assert c.loc[0, "p_value"] == 1.0 and not c.loc[0, "tested"] and not c.loc[0, "significant"]
    assert np.isnan(c.loc[3, "p_value"]) and not c.loc[3, "tested"]
    expected = [proportions_ztest([b.retained[k], a.retained[k]], [b.eligible[k], a.eligible[k]]) for k in (1, 2)]
    np.testing.assert_allclose(c.loc[1:2, "z"], [e[0] for e in expected])
    np.testing.assert_allclose(c.loc[1:2, "p_value"], [e[1] for e in expected])
    np.testing.assert_allclose(c.loc[1:2, "p_adjusted"], multipletests([e[1] for e in expected], method="holm")[1])
    assert c.loc[1, "difference"] == pytest.approx(240 / 500 - 190 / 480)
    se = np.sqrt(0.48 * 0.52 / 500 + (190 / 480) * (1 - 190 / 480) / 480)
    assert c.loc[1, "diff_ci_low"] == pytest.approx(c.loc[1, "difference"] - 1.959964 * se, rel=1e-6)
    bh = r.compare_retention(a, b, correction="fdr_bh").table
    np.testing.assert_allclose(bh.loc[1:2, "p_adjusted"], multipletests([e[1] for e in expected], method="fdr_bh")[1])


def test_compare_segments_against_baseline(cohort_log):
    curve = r.retention_curve(r.retention_matrix(cohort_log, "day", segment="platform", max_periods=2))
    c = r.compare_retention(curve, baseline="ios").table
    assert set(c["segment"]) == {"web", r.MISSING_SEGMENT} and set(c["baseline"]) == {"ios"}
    with pytest.raises(ValueError, match="'baseline' parameter must be one of"):
        r.compare_retention(curve, baseline="android")
    with pytest.raises(ValueError, match="no 'segment' column"):
        r.compare_retention(r.retention_curve(r.retention_matrix(cohort_log, "day")))


def test_describe_comparison_reports_the_largest_gap():
    a = pd.DataFrame({"period": [1, 2], "eligible": [1000, 1000], "retained": [400, 300]})
    b = pd.DataFrame({"period": [1, 2], "eligible": [1000, 1000], "retained": [300, 290]})
    text = r.compare_retention(a, b, labels=("old", "new"), unit="week").text
    assert text.startswith("new vs old: 1 of 2 tested weeks differ") and "week 1: 30.0% vs 40.0% (-10.0 pp" in text


def test_summary_half_life_and_plateau():
    k = np.arange(0, 31)
    rate = np.where(k == 0, 1.0, 0.2 + 0.4 * np.exp(-(k - 1) / 3))
    curve = pd.DataFrame({"period": k, "eligible": 10_000, "retained": np.round(rate * 10_000).astype(int)})
    s = r.retention_summary(curve).iloc[0]
    # below 50% of 0.6 = 0.3: 0.2 + 0.4 e^{-(k-1)/3} < 0.3  <=>  k > 1 + 3 ln 4 = 5.16
    assert s["below_50pct_period"] == 6
    assert np.isnan(s["below_25pct_period"])              # never below 0.15: it levels off at 0.2
    assert s["plateau_supported"] and s["plateau"] == pytest.approx(0.2, abs=0.002)
    steep = curve.assign(retained=np.round(np.where(k == 0, 1, 0.6 - 0.015 * k) * 10_000).astype(int))
    assert not r.retention_summary(steep)["plateau_supported"].iloc[0]
    assert np.isnan(r.retention_summary(steep)["plateau"].iloc[0])


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"period": "quarter"}, ValueError, "The .period. parameter must be one of \\{.day., .week., .month.\\}"),
        ({"kind": "rolling"}, ValueError, "'n_period', 'unbounded'"),
        ({"cohorts": "returning"}, ValueError, "'first_time', 'recurring'"),
        ({"segment": "plan"}, ValueError, "'segment' parameter names column 'plan', which the events do not have"),
        ({"start": "2025-01-01"}, ValueError, "no events in the window"),
        ({"end": "2023-01-01"}, ValueError, "no events before end"),
        ({"max_periods": -1}, ValueError, "max_periods"),
        ({"clock": "rolling", "cohorts": "recurring"}, ValueError, "first_time"),
        ({"start_events": ["open", "sign_up"]}, ValueError, "'sign_up'"),
    ],
)
def test_matrix_bad_inputs(cohort_log, kwargs, error, message):
    with pytest.raises(error, match=message):
        r.retention_matrix(cohort_log, **{"period": "day", **kwargs})


def test_bad_frames_and_brackets(cohort_log):
    with pytest.raises(ValueError, match=r"no column\(s\) \['timestamp'\]"):
        r.retention_matrix(cohort_log.drop(columns="timestamp"))
    with pytest.raises(ValueError, match="not datetimes"):
        r.retention_matrix(cohort_log.assign(timestamp="2024-01-01"))
    with pytest.raises(ValueError, match="empty"):
        r.retention_matrix(cohort_log.iloc[:0])
    with pytest.raises(ValueError, match="first <= last"):
        r.bracket_retention(cohort_log, [(7, 2)])


def test_matrix_does_not_modify_input(cohort_log):
    before = cohort_log.copy()
    r.retention_matrix(cohort_log, "week", "unbounded", segment="platform")
    r.bracket_retention(cohort_log, segment="platform")
    pd.testing.assert_frame_equal(cohort_log, before)


# --------------------------------------------------------------------------- demo truth


@pytest.fixture(scope="module")
def demo_with_truth_segments(demo_events, demo_users, demo_truth):
    persona = pd.DataFrame({"user_id": list(demo_truth["user_persona"]), "persona": list(demo_truth["user_persona"].values())})
    users = demo_users.merge(io.load_users(persona), on="user_id")
    users["onboarding_flag"] = users["onboarding"].map({True: "with", False: "without"})
    users["n_channels"] = users["n_messaging_channels"].astype(str)
    return io.attach_user_properties(demo_events, users, ["persona", "onboarding_flag", "n_channels"])


@pytest.mark.parametrize("segment, truth_key", [("persona", "by_persona"), ("onboarding_flag", "by_onboarding")])
def test_pooled_curves_recover_true_curves(demo_with_truth_segments, demo_truth, segment, truth_key):
    # 60 (segment, day) checks: at 95% about three would miss by chance, so use 99% intervals
    matrix = r.retention_matrix(demo_with_truth_segments, "day", segment=segment, max_periods=14)
    curve = r.retention_curve(matrix, alpha=0.01)
    for name, truth in demo_truth[truth_key].items():
        c = curve[curve["segment"] == name].set_index("period")
        for k in range(0, 15):
            assert c.loc[k, "ci_low"] - 1e-9 <= truth["retention"][k] <= c.loc[k, "ci_high"] + 1e-9, (name, k)


def test_segments_differ_in_the_generated_direction(demo_with_truth_segments):
    matrix = r.retention_matrix(demo_with_truth_segments, "day", segment="onboarding_flag", max_periods=14)
    comparison = r.compare_retention(r.retention_curve(matrix), baseline="without").table
    assert (comparison.loc[comparison["period"] >= 1, "difference"] > 0).all()
    assert comparison["significant"].sum() >= 10
    channels = r.retention_curve(r.retention_matrix(demo_with_truth_segments, "day", segment="n_channels", max_periods=7))
    day7 = channels[channels["period"] == 7].set_index("segment")["rate"]
    assert day7["3"] > day7["2"] > day7["1"]


# --------------------------------------------------------------------------- charts


def test_plots_draw_what_they_are_given(cohort_log):
    import matplotlib.pyplot as plt

    from engagement_utils import plots

    matrix = r.retention_matrix(cohort_log, "day", max_periods=3)
    ax = plots.plot_retention_heatmap(matrix)
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "2024-01-01  (n=3)"
    assert "33%" in [t.get_text() for t in ax.texts]
    segmented = r.retention_matrix(cohort_log, "day", segment="platform", max_periods=3)
    curve = r.retention_curve(segmented)
    ax = plots.plot_retention_curves(curve)
    assert sorted(line.get_label() for line in ax.get_lines()) == sorted(curve["segment"].unique())
    ax = plots.plot_cohort_sizes(segmented)
    assert sum(p.get_height() for p in ax.patches) == cohort_log["user_id"].nunique()
    ax = plots.plot_retention_difference(r.compare_retention(curve, baseline="ios").table)
    assert "vs ios" in ax.get_title()
    with pytest.raises(ValueError, match="one segment"):
        plots.plot_retention_heatmap(segmented)
    plt.close("all")
