"""Calendar periods in the report timezone.

Every analysis that buckets time (retention cohorts, DAU, lifecycle, ...) goes
through these helpers so that "day", "week" (ISO week, starting Monday) and
"month" mean the same thing everywhere.  Periods are represented as integer
ordinals, which makes "k periods after the cohort" a subtraction:

* day    -> days since 1970-01-01 (local calendar day)
* week   -> weeks since Monday 1969-12-29
* month  -> months since 1970-01

Timestamps in the canonical event frame are tz-aware UTC; they are converted
to the report timezone before flooring, so a 23:30 UTC event can belong to the
next local day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .validation import check_option

PERIODS = ("day", "week", "month")

_NS_PER_DAY = 86_400 * 10**9
# 1970-01-01 was a Thursday: shifting by 3 days makes week ordinals start on Monday.
_WEEK_SHIFT_DAYS = 3


def check_period(period: str) -> str:
    """Return ``period`` if it is one of :data:`PERIODS`, else raise ``ValueError``.

    Examples
    --------
    >>> check_period("week")
    'week'
    >>> check_period("weak")
    Traceback (most recent call last):
    ...
    ValueError: The 'period' parameter must be one of {'day', 'week', 'month'}; got 'weak' — did you mean 'week'?
    """
    return check_option("period", period, PERIODS)


def to_local(timestamps: pd.Series, tz: str = "UTC") -> pd.Series:
    """Convert timestamps to wall-clock time in ``tz`` (tz-naive result).

    Naive input is taken to be UTC, as everywhere in the package.

    Examples
    --------
    >>> ts = pd.Series(pd.to_datetime(["2024-01-01 23:30"], utc=True))
    >>> str(to_local(ts, "Europe/Berlin").iloc[0])
    '2024-01-02 00:30:00'
    """
    ts = pd.Series(timestamps)
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        ts = pd.to_datetime(ts).dt.tz_localize("UTC")
    try:
        return ts.dt.tz_convert(tz).dt.tz_localize(None)
    except Exception as exc:  # pytz / zoneinfo raise different types
        raise ValueError(f"unknown timezone {tz!r}: use an IANA name such as 'UTC' or 'Europe/Berlin'") from exc


def period_ordinal(timestamps: pd.Series, period: str = "day", tz: str = "UTC") -> np.ndarray:
    """Integer ordinal of the calendar period each timestamp falls in.

    Parameters
    ----------
    timestamps : Series of datetime64
        tz-aware (any zone) or naive (read as UTC).
    period : {"day", "week", "month"}
    tz : str
        Report timezone in which calendar periods are cut.

    Returns
    -------
    numpy.ndarray of int64

    Examples
    --------
    >>> ts = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-07", "2024-01-08"], utc=True))
    >>> period_ordinal(ts, "week").tolist()  # Mon, Sun, next Mon
    [2818, 2818, 2819]
    """
    check_period(period)
    local = to_local(timestamps, tz)
    if local.isna().any():
        raise ValueError("timestamps contain missing values; load the events with load_events first")
    # a view, and the week's arithmetic in place: at 10M events each temporary is 80 MB
    days = local.to_numpy(dtype="datetime64[ns]").view(np.int64) // _NS_PER_DAY
    if period == "day":
        return days
    if period == "week":
        days += _WEEK_SHIFT_DAYS
        days //= 7
        return days
    months = local.dt.year.to_numpy(dtype=np.int64) * 12 + local.dt.month.to_numpy(dtype=np.int64) - 1
    return months - 1970 * 12


def ordinal_to_start(ordinals, period: str = "day") -> pd.DatetimeIndex:
    """Start (tz-naive, local) of each period ordinal: the inverse of :func:`period_ordinal`.

    Examples
    --------
    >>> ordinal_to_start([2818], "week")[0]
    Timestamp('2024-01-01 00:00:00')
    """
    check_period(period)
    ords = np.asarray(ordinals, dtype=np.int64)
    if period == "day":
        days = ords
    elif period == "week":
        days = ords * 7 - _WEEK_SHIFT_DAYS
    else:
        years = 1970 + ords // 12
        months = ords % 12 + 1
        return pd.DatetimeIndex(pd.to_datetime(pd.DataFrame({"year": years, "month": months, "day": 1})))
    return pd.DatetimeIndex((days * _NS_PER_DAY).astype("datetime64[ns]"))


def period_start(timestamps: pd.Series, period: str = "day", tz: str = "UTC") -> pd.Series:
    """Local start of the period containing each timestamp (tz-naive Series).

    Examples
    --------
    >>> ts = pd.Series(pd.to_datetime(["2024-02-15 10:00"], utc=True))
    >>> str(period_start(ts, "month").iloc[0].date())
    '2024-02-01'
    """
    ts = pd.Series(timestamps)
    return pd.Series(ordinal_to_start(period_ordinal(ts, period, tz), period), index=ts.index, name=ts.name)


def first_incomplete_ordinal(end: pd.Timestamp, period: str = "day", tz: str = "UTC") -> int:
    """Ordinal of the first period that the data do not cover completely: the one holding ``end``.

    ``end`` is either the last observed timestamp (the period containing it is
    still in progress) or an explicit exclusive end such as ``"2024-04-01"``
    (the period starting there is not observed at all; one that ``end`` falls
    inside is only partly observed).  Either way every period before the one
    holding ``end`` is complete.

    Examples
    --------
    >>> first_incomplete_ordinal(pd.Timestamp("2024-01-31 18:00", tz="UTC"), "month")
    648
    >>> first_incomplete_ordinal(pd.Timestamp("2024-02-01", tz="UTC"), "month")  # January complete
    649
    >>> first_incomplete_ordinal(pd.Timestamp("2024-02-15", tz="UTC"), "month")  # February partial
    649
    """
    end = pd.Timestamp(end)
    if end.tzinfo is None:
        end = end.tz_localize("UTC")
    return int(period_ordinal(pd.Series([end]), period, tz)[0])
