"""Retention invariants on random logs (hypothesis) and a slow, obviously-correct reference implementation."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement_utils import io
from engagement_utils import retention as r

ORIGIN = pd.Timestamp("2024-01-01", tz="UTC")
MINUTES = 75 * 24 * 60  # logs span up to 75 days

logs = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, MINUTES), st.sampled_from(["open", "buy"])),
    min_size=1, max_size=60,
)


def to_events(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user", "minute", "event"])
    return io.load_events(pd.DataFrame({
        "user_id": "u" + frame["user"].astype(str),
        "timestamp": ORIGIN + pd.to_timedelta(frame["minute"], unit="min"),
        "event": frame["event"],
    }), drop_duplicates=False)


def reference_matrix(events: pd.DataFrame, period: str, kind: str, tz: str, return_events=None) -> dict:
    """(cohort start date, k) -> (cohort_size, eligible, retained), by plain loops over users."""

    def period_index(ts: pd.Timestamp) -> int:
        day = ts.tz_convert(tz).date()
        if period == "day":
            return day.toordinal()
        if period == "week":
            return ((day - dt.timedelta(days=day.weekday())).toordinal() - 1) // 7  # ordinal 1 is a Monday
        return day.year * 12 + day.month - 1

    def start_of(index: int) -> pd.Timestamp:
        if period == "day":
            return pd.Timestamp(dt.date.fromordinal(index))
        if period == "week":
            return pd.Timestamp(dt.date.fromordinal(index * 7 + 1))
        return pd.Timestamp(year=index // 12, month=index % 12 + 1, day=1)

    rows = list(events[["user_id", "timestamp", "event"]].itertuples(index=False))
    first_incomplete = period_index(max(row.timestamp for row in rows))  # the last event's period is in progress
    cohort, active = {}, {}
    for user, ts, event in rows:
        p = period_index(ts)
        cohort[user] = min(cohort.get(user, p), p)
        if return_events is None or event in return_events:
            active.setdefault(user, set()).add(p)
    cells = {}
    for user, c in cohort.items():
        seen = active.get(user, set())
        for k in range(first_incomplete - c):  # observed offsets only
            target = c + k
            key = (start_of(c), k)
            size, eligible, retained = cells.get(key, (0, 0, 0))
            observed = target < first_incomplete
            hit = target in seen if kind == "n_period" else any(p >= target for p in seen)
            cells[key] = (size + 1, eligible + observed, retained + (observed and hit))
    return cells


@settings(max_examples=60, deadline=None)
@given(rows=logs, period=st.sampled_from(["day", "week", "month"]), kind=st.sampled_from(r.KINDS),
       tz=st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"]), buys_only=st.booleans())
def test_matrix_matches_slow_reference(rows, period, kind, tz, buys_only):
    events = to_events(rows)
    return_events = ["buy"] if buys_only and (events["event"] == "buy").any() else None
    expected = reference_matrix(events, period, kind, tz, return_events)
    matrix = r.retention_matrix(events, period, kind, tz=tz, return_events=return_events)
    got = {(row.cohort, row.period): (row.cohort_size, row.eligible, row.retained) for row in matrix.itertuples()}
    # the reference lists offsets up to the data end for each cohort; the matrix lists them for all
    # cohorts up to the earliest cohort's horizon, where later cohorts are fully censored
    assert {key: value for key, value in got.items() if key in expected} == expected
    assert all(value[1] == 0 for key, value in got.items() if key not in expected)


@settings(max_examples=60, deadline=None)
@given(rows=logs, period=st.sampled_from(["day", "week"]), include_partial=st.booleans(),
       clock=st.sampled_from(r.CLOCKS))
def test_matrix_invariants(rows, period, include_partial, clock):
    events = to_events(rows)
    kwargs = dict(include_partial=include_partial, clock=clock, max_periods=12)
    n = r.retention_matrix(events, period, "n_period", **kwargs)
    u = r.retention_matrix(events, period, "unbounded", **kwargs)
    pd.testing.assert_frame_equal(n[["cohort", "period", "cohort_size", "eligible"]],
                                  u[["cohort", "period", "cohort_size", "eligible"]])
    # unbounded >= n-period in every cell; retained <= eligible <= cohort size
    assert (u["retained"] >= n["retained"]).all()
    for m in (n, u):
        assert ((m["retained"] <= m["eligible"]) & (m["eligible"] <= m["cohort_size"])).all()
        zero = m[(m["period"] == 0) & (m["eligible"] > 0)]
        assert (zero["rate"] == 1.0).all()  # period 0 is 100% with the default start/return events
        assert m.loc[m["eligible"] == 0, "rate"].isna().all()
    # unbounded is non-increasing in k within a cohort, over cells where the whole cohort is observed
    # (with rolling windows eligibility is per user, so partly observed cells mix different users)
    observed = u[u["eligible"] == u["cohort_size"]]
    assert (observed.groupby("cohort")["rate"].diff().dropna() <= 1e-12).all()
    # pooled curves stay between the smallest and largest cohort rate of each period
    curve = r.retention_curve(n).set_index("period")
    bounds = n[n["eligible"] > 0].groupby("period")["rate"].agg(["min", "max"])
    assert ((curve.loc[bounds.index, "rate"] >= bounds["min"] - 1e-12) & (curve.loc[bounds.index, "rate"] <= bounds["max"] + 1e-12)).all()


@settings(max_examples=40, deadline=None)
@given(rows=logs)
def test_user_flags_agree_with_matrix(rows):
    events = to_events(rows)
    flags = r.user_retention(events, days=range(0, 10))
    matrix = r.retention_matrix(events, "day", max_periods=9)
    flags["cohort"] = flags["anchor"].dt.tz_localize(None).dt.normalize()
    long = flags.melt(id_vars=["user_id", "cohort"], value_vars=[f"retained_d{k}" for k in range(10)], value_name="flag")
    long["period"] = long["variable"].str[len("retained_d"):].astype(int)
    summed = long.groupby(["cohort", "period"])["flag"].agg(["sum", "count"]).reset_index()
    merged = matrix.merge(summed, on=["cohort", "period"])
    assert len(merged) == len(matrix)
    assert (merged["retained"] == merged["sum"]).all() and (merged["eligible"] == merged["count"]).all()


@settings(max_examples=40, deadline=None)
@given(rows=logs, clock=st.sampled_from(r.CLOCKS))
def test_brackets_agree_with_n_period_cells(rows, clock):
    events = to_events(rows)
    brackets = r.bracket_retention(events, [(1, 1), (2, 4), (0, 6)], clock=clock)
    n = r.retention_matrix(events, "day", clock=clock, max_periods=6).set_index(["cohort", "period"])
    single = brackets[brackets["bracket"] == "1"].set_index("cohort")
    pd.testing.assert_series_equal(single["retained"], n.xs(1, level="period")["retained"], check_names=False)
    pd.testing.assert_series_equal(single["eligible"], n.xs(1, level="period")["eligible"], check_names=False)
    wide = brackets[(brackets["bracket"] == "2–4") & (brackets["eligible"] > 0)].set_index("cohort")
    cells = n.loc[n.index.get_level_values("period").isin([2, 3, 4])].reset_index()
    per_cohort = cells[cells["cohort"].isin(wide.index)].groupby("cohort")["retained"].agg(["max", "sum"])
    # active at least once in days 2-4: at least the best single day, at most the sum of the days
    assert (wide["retained"] >= per_cohort["max"]).all() and (wide["retained"] <= per_cohort["sum"]).all()
    everything = brackets[(brackets["bracket"] == "0–6") & (brackets["eligible"] > 0)]
    assert (everything["rate"] == 1.0).all()
