"""Calendar periods: ISO weeks start on Monday, months by calendar, cut in the report timezone."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, strategies as st

from engagement_utils import periods


def ts(*values):
    return pd.Series(pd.to_datetime(list(values), utc=True, format="ISO8601"))


def test_week_starts_monday():
    # 2024-01-07 is a Sunday, 2024-01-08 a Monday
    ords = periods.period_ordinal(ts("2024-01-07 23:59", "2024-01-08 00:00"), "week")
    assert ords[1] == ords[0] + 1
    assert periods.ordinal_to_start(ords, "week")[1] == pd.Timestamp("2024-01-08")


def test_month_ordinals_and_starts():
    ords = periods.period_ordinal(ts("2023-12-31 23:00", "2024-01-01", "2024-02-29"), "month")
    assert list(ords[1:] - ords[0]) == [1, 2]
    assert list(periods.ordinal_to_start(ords, "month")) == [pd.Timestamp("2023-12-01"), pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")]


def test_timezone_moves_events_across_midnight():
    t = ts("2024-01-01 23:30")
    utc_day = periods.period_ordinal(t, "day", "UTC")[0]
    assert periods.period_ordinal(t, "day", "Europe/Berlin")[0] == utc_day + 1
    assert periods.period_ordinal(t, "day", "America/New_York")[0] == utc_day


def test_naive_timestamps_are_utc():
    naive = pd.Series(pd.to_datetime(["2024-01-01 23:30"]))
    assert periods.period_ordinal(naive, "day", "Europe/Berlin")[0] == periods.period_ordinal(ts("2024-01-01 23:30"), "day", "Europe/Berlin")[0]


def test_bad_period_and_timezone():
    with pytest.raises(ValueError, match="must be one of {.day., .week., .month.}"):
        periods.check_period("quarter")
    with pytest.raises(ValueError, match="unknown timezone"):
        periods.to_local(ts("2024-01-01"), "Mars/Olympus")


def test_first_incomplete_ordinal():
    # data ending mid-month: that month is in progress
    assert periods.first_incomplete_ordinal(pd.Timestamp("2011-12-09 12:50", tz="UTC"), "month") == \
        periods.period_ordinal(ts("2011-12-01"), "month")[0]
    # an exclusive end on the boundary: the month before is complete
    assert periods.first_incomplete_ordinal(pd.Timestamp("2012-01-01", tz="UTC"), "month") == \
        periods.period_ordinal(ts("2012-01-01"), "month")[0]
    # an exclusive end inside a month: that month is only partly observed
    assert periods.first_incomplete_ordinal(pd.Timestamp("2012-01-15", tz="UTC"), "month") == \
        periods.period_ordinal(ts("2012-01-01"), "month")[0]


@given(st.datetimes(min_value=pd.Timestamp("1990-01-01").to_pydatetime(), max_value=pd.Timestamp("2060-01-01").to_pydatetime()),
       st.sampled_from(periods.PERIODS), st.sampled_from(["UTC", "Europe/Berlin", "Asia/Kolkata", "America/Los_Angeles"]))
def test_period_start_is_inverse_and_contains_timestamp(moment, period, tz):
    t = pd.Series([pd.Timestamp(moment, tz="UTC")])
    start = periods.period_start(t, period, tz).iloc[0]
    local = periods.to_local(t, tz).iloc[0]
    assert start <= local
    nxt = periods.ordinal_to_start([periods.period_ordinal(t, period, tz)[0] + 1], period)[0]
    assert local < nxt
    if period == "week":
        assert start.day_of_week == 0
    if period == "month":
        assert start.day == 1
