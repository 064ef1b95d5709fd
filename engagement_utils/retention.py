"""Cohort retention (DESIGN §5): per-user flags, cohort matrices, pooled curves, comparisons.

Every function here is built on the same two primitives:

* a **log** of the events reduced to integer user codes, UTC nanoseconds and
  calendar-period ordinals (:mod:`engagement_utils.periods`), cut at the data's end;
* a set of **members** (one per user for first-time cohorts or an external
  anchor such as an A/B assignment; one per user × start period for recurring
  cohorts), each with a cohort period and a start timestamp.

"Was member *m* active *k* periods after its start?" is then one binary search
of the deduplicated user × period activity keys per period *k*, vectorized
over all members; unbounded ("on or after") retention compares *k* with each
user's last active period, so it is never obtained by adding per-period rates.

Definitions
-----------
* period 0 is the cohort period; period *k* is the calendar period *k* after it
  (``window="rolling"``: the *k*-th 24-hour (or 7 × 24-hour) window after the
  user's start, hours ``[24k, 24k + 24)``).
* **censoring**: a period that the data do not cover completely (at or after
  :func:`engagement_utils.periods.first_incomplete_ordinal` of the data end) has
  no value: flags are NaN, matrix cells have ``eligible == 0`` and a NaN rate.
  ``include_partial=True`` keeps periods that have started before the data end.
  Which one was used is stored in ``frame.attrs["retention"]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from . import periods
from .stats import wilson_ci

__all__ = [
    "KINDS",
    "COHORT_TYPES",
    "WINDOWS",
    "MISSING_SEGMENT",
    "user_retention",
    "assign_cohorts",
    "retention_matrix",
    "retention_table",
    "bracket_retention",
    "retention_curve",
    "compare_retention",
    "retention_summary",
    "describe_comparison",
]

KINDS = ("n_period", "unbounded")
COHORT_TYPES = ("first_time", "recurring")
WINDOWS = ("calendar", "rolling")
MISSING_SEGMENT = "(missing)"
"""Segment label of users whose segment value is missing."""

_SUFFIX = {"day": "d", "week": "w", "month": "m"}
_ROLLING_NS = {"day": 86_400 * 10**9, "week": 7 * 86_400 * 10**9}
# user code and period/offset packed in one int64 key: offsets are shifted to be non-negative.
_KEY_SPAN = np.int64(2**32)
_KEY_SHIFT = np.int64(2**31)


# --------------------------------------------------------------------------- validation


def _choice(name: str, value, allowed: Sequence) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not supported; choose one of {', '.join(map(repr, allowed))}")


def _check_events(events: pd.DataFrame, extra: Iterable[str] = ()) -> None:
    if not isinstance(events, pd.DataFrame):
        raise TypeError(f"events must be a pandas DataFrame (load it with io.load_events), got {type(events).__name__}")
    for col in ("user_id", "timestamp", "event", *extra):
        if col not in events.columns:
            hint = (
                "; attach user-level properties with io.attach_user_properties(events, users, [...])"
                if col not in ("user_id", "timestamp", "event") else "; load the log with io.load_events (column_map renames yours)"
            )
            raise ValueError(f"events have no column {col!r}{hint}. Columns present: {list(events.columns)}")
    if not pd.api.types.is_datetime64_any_dtype(events["timestamp"]):
        raise ValueError(
            f"column 'timestamp' holds {events['timestamp'].dtype}, not datetimes; load the events with io.load_events"
        )
    if events.empty:
        raise ValueError("events are empty: there is nothing to measure retention on")


def _event_mask(events: pd.DataFrame, names, what: str) -> np.ndarray:
    """Rows whose event is one of ``names`` (all rows when None); unknown names are an error."""
    if names is None:
        return np.ones(len(events), dtype=bool)
    names = [names] if isinstance(names, str) else list(names)
    present = set(events["event"].astype(str).unique())
    unknown = [n for n in names if n not in present]
    if unknown or not names:
        shown = ", ".join(map(repr, sorted(present)[:20]))
        raise ValueError(f"{what}={names!r}: {unknown or 'no'} event name(s) not found in column 'event'; events present: {shown}")
    return events["event"].isin(names).to_numpy()


def _as_utc(value, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}={value!r} is not a date; use e.g. '2024-04-01'") from exc
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _utc_ns(timestamps: pd.Series) -> np.ndarray:
    ts = pd.Series(timestamps)
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts.to_numpy(dtype="datetime64[ns]").astype(np.int64)


def _ordinal_of(ts: pd.Timestamp, period: str, tz: str) -> int:
    return int(periods.period_ordinal(pd.Series([ts]), period, tz)[0])


# --------------------------------------------------------------------------- primitives


@dataclass(frozen=True)
class _Log:
    """Events reduced to what retention needs, cut at the data end."""

    users: pd.Index  # user id of each code
    code: np.ndarray  # per event: user code
    ns: np.ndarray  # per event: UTC nanoseconds
    ordinal: np.ndarray  # per event: calendar period ordinal in tz
    is_start: np.ndarray
    is_return: np.ndarray
    rows: np.ndarray  # positions of the kept events in the input frame
    period: str
    tz: str
    end: pd.Timestamp  # data end: explicit (exclusive) or the last event timestamp
    end_ns: int  # exclusive end in UTC nanoseconds
    first_incomplete: int  # first calendar period not fully observed
    last_observed: int  # calendar period holding the last observed instant


def _prepare(events: pd.DataFrame, period: str, tz: str, start_events, return_events, end) -> _Log:
    periods.check_period(period)
    _check_events(events)
    is_start = _event_mask(events, start_events, "start_events")
    is_return = _event_mask(events, return_events, "return_events")
    user = events["user_id"]
    if isinstance(user.dtype, pd.CategoricalDtype):
        code = user.cat.codes.to_numpy().astype(np.int64)
        users = pd.Index(user.cat.categories)
    else:
        code, uniques = pd.factorize(user, sort=True)
        users = pd.Index(uniques)
    if (code < 0).any():
        raise ValueError(f"column 'user_id' has {int((code < 0).sum())} missing id(s); drop or fill those rows")
    ns = _utc_ns(events["timestamp"])
    keep = np.ones(len(events), dtype=bool)
    if end is None:
        data_end = pd.Timestamp(int(ns.max()), tz="UTC")
        end_ns = int(ns.max()) + 1
        last_instant = data_end
    else:
        data_end = _as_utc(end, "end")
        end_ns = int(data_end.value)
        keep = ns < end_ns
        if not keep.any():
            raise ValueError(f"no events before end={end!r}; the data start at {pd.Timestamp(int(ns.min()), tz='UTC')}")
        last_instant = data_end - pd.Timedelta(1, "ns")
    rows = np.flatnonzero(keep)
    ordinal = periods.period_ordinal(events["timestamp"].iloc[rows] if end is not None else events["timestamp"], period, tz)
    return _Log(
        users=users, code=code[rows], ns=ns[rows], ordinal=np.asarray(ordinal, dtype=np.int64),
        is_start=is_start[rows], is_return=is_return[rows], rows=rows, period=period, tz=tz,
        end=data_end, end_ns=end_ns,
        # the period holding the last event is still in progress; an explicit end is exclusive,
        # so in both cases the first incomplete period is the one holding `data_end`
        first_incomplete=periods.first_incomplete_ordinal(data_end, period, tz),
        last_observed=_ordinal_of(last_instant, period, tz),
    )


@dataclass(frozen=True)
class _Members:
    """Who is retained from when: one row per user (first-time, anchor) or user × start period."""

    code: np.ndarray  # user code (-1: an anchored user without events)
    cohort: np.ndarray  # cohort period ordinal
    start_ns: np.ndarray  # start timestamp (UTC ns)
    row: np.ndarray  # position in the log of the start event (-1 for external anchors)


def _first_per_key(log: _Log, mask: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Log positions of the earliest masked event per distinct key."""
    rows = np.flatnonzero(mask)
    order = np.lexsort((log.ns[rows], key[rows]))
    ordered = key[rows][order]
    first = np.r_[True, ordered[1:] != ordered[:-1]] if len(ordered) else np.zeros(0, bool)
    return rows[order[first]]


def _members_from_events(log: _Log, cohorts: str) -> _Members:
    key = log.code if cohorts == "first_time" else _pack(log.code, log.ordinal)
    pick = _first_per_key(log, log.is_start, key)
    return _Members(code=log.code[pick], cohort=log.ordinal[pick], start_ns=log.ns[pick], row=pick)


def _pack(code: np.ndarray, offset: np.ndarray) -> np.ndarray:
    return np.asarray(code, dtype=np.int64) * _KEY_SPAN + (np.asarray(offset, dtype=np.int64) + _KEY_SHIFT)


class _Lookup:
    """Retention flags of all members at period offset ``k``: ``lookup(k) -> (retained, eligible)``.

    Activity is deduplicated to distinct (user, period) keys once; each ``k`` costs
    one binary search over all members.
    """

    def __init__(self, log: _Log, members: _Members, kind: str, window: str, include_partial: bool):
        self.members, self.kind, self.window, self.include_partial = members, kind, window, include_partial
        self.end_ns = log.end_ns
        ret = log.is_return
        code = log.code[ret]
        has_code = members.code >= 0
        if window == "calendar":
            x = log.ordinal[ret]
            self.base = members.cohort
            self.horizon = log.last_observed + 1 if include_partial else log.first_incomplete
        else:
            self.length = _ROLLING_NS[log.period]
            start_of_user = np.zeros(len(log.users), dtype=np.int64)
            start_of_user[members.code[has_code]] = members.start_ns[has_code]
            # floor division: returns before the start fall into negative windows and never count
            x = (log.ns[ret] - start_of_user[code]) // self.length
            keep = np.isin(code, members.code[has_code])
            code, x = code[keep], x[keep]
            self.base = np.zeros(len(members.code), dtype=np.int64)
        self.has_code = has_code
        if kind == "n_period":
            self.keys = np.unique(_pack(code, x))
        else:
            last = np.full(len(log.users), np.iinfo(np.int64).min, dtype=np.int64)
            np.maximum.at(last, code, x)
            self.last = np.where(has_code, last[np.maximum(members.code, 0)], np.iinfo(np.int64).min)

    def eligible(self, k: int) -> np.ndarray:
        if self.window == "calendar":
            return self.members.cohort + k < self.horizon
        window_start = self.members.start_ns + k * self.length
        if self.include_partial:
            return window_start < self.end_ns
        return window_start + self.length <= self.end_ns

    def __call__(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        target = self.base + k
        if self.kind == "n_period":
            query = _pack(self.members.code, target)
            pos = np.minimum(np.searchsorted(self.keys, query), len(self.keys) - 1)
            active = (self.keys[pos] == query) & self.has_code if len(self.keys) else np.zeros(len(query), bool)
        else:
            active = self.last >= target
        eligible = self.eligible(k)
        return active & eligible, eligible


def _check_window(window: str, period: str, cohorts: str = "first_time") -> None:
    _choice("window", window, WINDOWS)
    if window == "rolling":
        if period not in _ROLLING_NS:
            raise ValueError(f"window='rolling' needs period 'day' or 'week' (fixed lengths), got period={period!r}")
        if cohorts != "first_time":
            raise ValueError("window='rolling' measures from each user's first start; use cohorts='first_time' or window='calendar'")


def _attrs(log: _Log, **extra) -> dict:
    return {
        "period": log.period, "tz": log.tz, "data_end": str(log.end),
        "first_incomplete_period": str(periods.ordinal_to_start([log.first_incomplete], log.period)[0].date()),
        **extra,
    }


# --------------------------------------------------------------------------- per user


def _anchor_series(anchor) -> pd.Series:
    """Anchor timestamps (UTC) indexed by user id, from a Series or a frame with ``user_id``."""
    if isinstance(anchor, pd.DataFrame):
        if "user_id" not in anchor.columns:
            raise ValueError(f"anchor frame needs a 'user_id' column; columns present: {list(anchor.columns)}")
        others = [c for c in anchor.columns if c != "user_id"]
        column = "anchor" if "anchor" in others else others[0] if len(others) == 1 else None
        if column is None:
            raise ValueError(
                f"anchor frame has several candidate timestamp columns {others}; keep only 'user_id' and one of them "
                "(e.g. assignments[['user_id', 'assigned_at']])"
            )
        anchor = pd.Series(anchor[column].to_numpy(), index=pd.Index(anchor["user_id"]), name=column)
    if not isinstance(anchor, pd.Series):
        raise TypeError(f"anchor must be a Series (user_id -> timestamp) or a DataFrame, got {type(anchor).__name__}")
    ts = pd.to_datetime(anchor, utc=True, errors="coerce")
    if ts.isna().any():
        raise ValueError(f"anchor has {int(ts.isna().sum())} missing or unparseable timestamp(s); drop those users or fill them")
    if anchor.index.has_duplicates:
        raise ValueError("anchor lists some users more than once; keep one anchor timestamp per user")
    return ts


def user_retention(
    events: pd.DataFrame,
    days: Sequence[int] = (1, 7, 30),
    *,
    anchor: pd.Series | pd.DataFrame | None = None,
    period: str = "day",
    tz: str = "UTC",
    start_events=None,
    return_events=None,
    end=None,
    include_partial: bool = False,
    window: str = "calendar",
) -> pd.DataFrame:
    """Per-user retention flags k periods after an anchor (first start event or e.g. A/B assignment).

    ``retained_d{k}`` (``_w{k}`` / ``_m{k}`` for weeks / months) is 1.0 when the
    user has a return event in calendar period ``anchor period + k`` (in ``tz``),
    0.0 when not, and NaN when that period is not fully observed at the data end
    (period ≥ ``periods.first_incomplete_ordinal(end)``), unless
    ``include_partial`` keeps periods that have started.

    Parameters
    ----------
    events : DataFrame
        Canonical events (``user_id``, ``timestamp``, ``event``).
    days : sequence of int
        Period offsets k ≥ 0 to flag (k = 0: a return in the anchor's own period).
    anchor : Series or DataFrame, optional
        ``user_id -> timestamp`` (a Series indexed by user id, or a frame with
        ``user_id`` and one timestamp column, e.g. ``assignments[["user_id", "assigned_at"]]``).
        Every anchored user gets a row, including users without events (0.0).
        Default: each user's first start event over all history.
    period : {"day", "week", "month"}
    tz : str
        Timezone in which calendar periods are cut.
    start_events : str or list of str, optional
        Events that define the default anchor (default: any event).  Not
        allowed together with ``anchor``.
    return_events : str or list of str, optional
        Events that count as a return (default: any event).
    end : str or Timestamp, optional
        Data end (exclusive, naive = UTC); events at or after it are ignored.
        Default: the last event's timestamp, whose period is still in progress.
    include_partial : bool, default False
        Keep periods that started before the data end instead of censoring them.
    window : {"calendar", "rolling"}
        "rolling": period k is ``[anchor + k·24h, anchor + (k+1)·24h)`` (7·24h for weeks).

    Returns
    -------
    DataFrame
        ``user_id``, ``anchor`` (UTC timestamp), one float column per k.
        ``attrs["retention"]`` records period, tz, window, data end and whether
        partial periods were included.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "c"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 09:00", "2024-01-01 12:00",
    ...                                  "2024-01-03 08:00"], utc=True),
    ...     "event": "app_open"})
    >>> user_retention(ev, days=(0, 1))[["user_id", "retained_d0", "retained_d1"]]
      user_id  retained_d0  retained_d1
    0       a          1.0          1.0
    1       b          1.0          0.0
    2       c          NaN          NaN

    User c started on the last day of the data, which is still in progress, so
    even day 0 is censored.
    """
    ks = _check_offsets(days, "days")
    _check_window(window, period)
    if anchor is not None and start_events is not None:
        raise ValueError("pass either anchor (explicit start times) or start_events (first start event), not both")
    log = _prepare(events, period, tz, start_events, return_events, end)
    if anchor is None:
        members = _members_from_events(log, "first_time")
        user_ids = log.users.take(members.code)
    else:
        anchors = _anchor_series(anchor)
        user_ids = anchors.index
        code = log.users.astype(object).get_indexer(user_ids.astype(object))
        if (code < 0).all():
            raise ValueError(
                "none of the anchor users occur in events['user_id']; check that both use the same ids and types "
                f"(anchor e.g. {user_ids[0]!r}, events e.g. {log.users[0]!r})"
            )
        members = _Members(code=code.astype(np.int64), cohort=periods.period_ordinal(anchors, period, tz),
                           start_ns=_utc_ns(anchors), row=np.full(len(code), -1))
    lookup = _Lookup(log, members, "n_period", window, include_partial)
    out = pd.DataFrame({"user_id": np.asarray(user_ids), "anchor": pd.to_datetime(members.start_ns, utc=True)})
    for k in ks:
        retained, eligible = lookup(int(k))
        out[f"retained_{_SUFFIX[period]}{k}"] = np.where(eligible, retained.astype(float), np.nan)
    out.attrs["retention"] = _attrs(log, window=window, include_partial=include_partial)
    return out


def _check_offsets(values, name: str) -> np.ndarray:
    ks = np.atleast_1d(np.asarray(values))
    if ks.size == 0 or not np.issubdtype(ks.dtype, np.integer) or (ks < 0).any():
        raise ValueError(f"{name}={values!r}: give whole numbers of periods ≥ 0, e.g. (1, 7, 30)")
    return ks.astype(np.int64)
