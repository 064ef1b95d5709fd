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
    assert out.attrs["retention"]["include_partial"] is False
    assert out.attrs["retention"]["first_incomplete_period"] == "2024-01-10"


def test_user_retention_include_partial_keeps_started_period(small_log):
    out = r.user_retention(small_log, days=(1, 2), include_partial=True)
    # c's day 1 (2024-01-10) has started: it now counts; day 2 has not started
    assert out["retained_d1"].tolist()[2] == 1.0
    assert np.isnan(out["retained_d2"].iloc[2])
    assert out.attrs["retention"]["include_partial"] is True


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
    rolling = r.user_retention(ev, days=(0, 1, 2), window="rolling")
    calendar = r.user_retention(ev, days=(0, 1, 2))
    assert rolling[["retained_d0", "retained_d1", "retained_d2"]].iloc[0].tolist() == [1.0, 0.0, 1.0]
    assert calendar[["retained_d0", "retained_d1", "retained_d2"]].iloc[0].tolist() == [1.0, 1.0, 1.0]
    # z started 12 h before the data end: its rolling day 0 is incomplete
    assert np.isnan(rolling["retained_d0"].iloc[1])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"period": "fortnight"}, "choose one of day, week, month"),
        ({"window": "sliding"}, "choose one of 'calendar', 'rolling'"),
        ({"window": "rolling", "period": "month"}, "fixed lengths"),
        ({"days": (1, -7)}, "whole numbers"),
        ({"return_events": "purchse"}, "not found in column 'event'"),
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
    r.user_retention(small_log, days=(1,), window="rolling")
    pd.testing.assert_frame_equal(small_log, before)


def test_user_retention_recovers_demo_truth(demo_events, demo_truth):
    out = r.user_retention(demo_events, days=(1, 7, 30))
    persona = out["user_id"].astype(str).map(demo_truth["user_persona"])
    for name, truth in demo_truth["by_persona"].items():
        rows = out[persona == name]
        for k in (1, 7, 30):
            flags = rows[f"retained_d{k}"].dropna()
            lo, hi = wilson_ci(flags.sum(), len(flags), 0.999)
            assert lo <= truth["retention"][k] <= hi, (name, k)
