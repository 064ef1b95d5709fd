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
from ._arrays import dense_codes, distinct, is_sorted_by
from .stats import wilson_ci

__all__ = [
    "KINDS",
    "COHORT_TYPES",
    "WINDOWS",
    "MISSING_SEGMENT",
    "CURVE_METHODS",
    "CORRECTIONS",
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


def _rows(mask: np.ndarray) -> np.ndarray | slice:
    """Index selecting ``mask``: a slice (views, no copies of the event arrays) when it selects every row."""
    return slice(None) if mask.all() else mask


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
    sel = _rows(keep)
    return _Log(
        users=users, code=code[sel], ns=ns[sel], ordinal=np.asarray(ordinal, dtype=np.int64),
        is_start=is_start[sel], is_return=is_return[sel], rows=rows, period=period, tz=tz,
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
    key, ns = (key, log.ns) if len(rows) == len(key) else (key[rows], log.ns[rows])
    order = None if is_sorted_by(key, ns) else np.lexsort((ns, key))
    ordered = key if order is None else key[order]
    first = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(ordered) else np.zeros(0, np.int64)
    return rows[first if order is None else order[first]]


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
        ret = _rows(log.is_return)
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
            self.keys = distinct(_pack(code, x))
        else:
            last = np.full(len(log.users), np.iinfo(np.int64).min, dtype=np.int64)
            np.maximum.at(last, code, x)
            self.last = np.where(has_code, last[np.maximum(members.code, 0)], np.iinfo(np.int64).min)

    def last_eligible(self) -> np.ndarray:
        """Per member, the largest k that :meth:`eligible` accepts (negative: none)."""
        if self.window == "calendar":
            return self.horizon - 1 - self.members.cohort
        span = self.end_ns - self.members.start_ns
        return (span - 1) // self.length if self.include_partial else span // self.length - 1

    def last_retained(self) -> np.ndarray | None:
        """Per member, the largest k at which it is active and eligible (negative: never).

        One value per member describes every k only for unbounded retention
        (active at k = last return offset >= k); n-period activity has gaps.
        """
        if self.kind != "unbounded":
            return None
        # clamp first: members without any return have last = int64 min, which would overflow
        return np.minimum(np.maximum(self.last, self.base - 1) - self.base, self.last_eligible())

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


# --------------------------------------------------------------------------- cohorts


def assign_cohorts(
    events: pd.DataFrame,
    period: str = "week",
    by: str | Sequence[str] = "first_event",
    *,
    tz: str = "UTC",
    properties: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per user: the cohort (period of the first start event over all history).

    Parameters
    ----------
    events : DataFrame
        Canonical events.
    period : {"day", "week", "month"}
    by : "first_event" or event name(s)
        What starts a user's life: any event, or e.g. ``"signup"``.  Users who
        never did it get no row.
    tz : str
        Timezone in which calendar periods are cut.
    properties : sequence of str
        Event columns to copy from the user's first start event (``platform``,
        ``channel``, a property attached with ``io.attach_user_properties``...).

    Returns
    -------
    DataFrame
        ``user_id``, ``cohort`` (local start of the cohort period), ``first_seen``
        (UTC timestamp of the first start event), then the requested properties.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["open", "open", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-07 10:00", "2024-01-08 10:00", "2024-01-08 11:00"], utc=True),
    ...     "platform": ["ios", "web", "web"]})
    >>> assign_cohorts(ev, "week", properties=["platform"])
      user_id     cohort                first_seen platform
    0       a 2024-01-01 2024-01-07 10:00:00+00:00      ios
    1       b 2024-01-08 2024-01-08 11:00:00+00:00      web
    """
    _check_events(events, properties)
    start_events = None if by == "first_event" else by
    log = _prepare(events, period, tz, start_events, None, None)
    members = _members_from_events(log, "first_time")
    out = pd.DataFrame({
        "user_id": np.asarray(log.users.take(members.code)),
        "cohort": periods.ordinal_to_start(members.cohort, period),
        "first_seen": pd.to_datetime(members.start_ns, utc=True),
    })
    for name in properties:
        out[name] = events[name].iloc[log.rows[members.row]].to_numpy()
    return out


def _segment_labels(events: pd.DataFrame, segment: str | None, log: _Log, members: _Members) -> np.ndarray | None:
    """Each member's segment: the value on its start event, as text (missing -> MISSING_SEGMENT)."""
    if segment is None:
        return None
    values = pd.Series(events[segment].iloc[log.rows[members.row]].to_numpy())
    return values.astype("string").fillna(MISSING_SEGMENT).to_numpy(dtype=object)


@dataclass(frozen=True)
class _Cohorts:
    log: _Log
    members: _Members
    group: np.ndarray  # per member group code (cohort × segment)
    group_cohort: np.ndarray  # per group cohort ordinal
    group_segment: np.ndarray | None  # per group segment label
    size: np.ndarray  # per group members


def _cohorts(events, *, period, tz, cohorts, start_events, return_events, segment, start, end, window) -> _Cohorts:
    """Members of the cohorts starting in ``[start, end)``, with their cohort × segment group."""
    _choice("cohorts", cohorts, COHORT_TYPES)
    _check_window(window, period, cohorts)
    _check_events(events, [segment] if segment is not None else [])
    log = _prepare(events, period, tz, start_events, return_events, end)
    members = _members_from_events(log, cohorts)
    keep = np.ones(len(members.code), dtype=bool)
    if start is not None:
        start_ts = _as_utc(start, "start")
        if not (log.ns >= start_ts.value).any():
            raise ValueError(
                f"no events in the window start={start!r}, end={end!r}; the data span "
                f"{pd.Timestamp(int(log.ns.min()), tz='UTC')} to {pd.Timestamp(int(log.ns.max()), tz='UTC')}"
            )
        keep = members.cohort >= _ordinal_of(start_ts, period, tz)
    if not keep.any():
        raise ValueError(
            f"no {cohorts.replace('_', '-')} cohort starts in the window start={start!r}, end={end!r}: users seen "
            "earlier belong to earlier cohorts (first events are looked up over all history)"
        )
    members = _Members(*(field[keep] for field in (members.code, members.cohort, members.start_ns, members.row)))
    labels = _segment_labels(events, segment, log, members)
    seg_code, seg_names = pd.factorize(labels, sort=True) if labels is not None else (np.zeros(len(members.code), np.int64), None)
    n_seg = 1 if seg_names is None else len(seg_names)
    first = members.cohort.min()
    groups, group = dense_codes((members.cohort - first) * n_seg + seg_code)
    return _Cohorts(
        log=log, members=members, group=group.ravel(),
        group_cohort=groups // n_seg + first,
        group_segment=None if seg_names is None else np.asarray(seg_names, dtype=object)[groups % n_seg],
        size=np.bincount(group.ravel(), minlength=len(groups)),
    )


def _max_offset(c: _Cohorts, window: str, include_partial: bool) -> int:
    """Longest offset any member can be observed at."""
    log = c.log
    if window == "calendar":
        horizon = log.last_observed + 1 if include_partial else log.first_incomplete
        return max(int(horizon - 1 - c.members.cohort.min()), 0)
    length = _ROLLING_NS[log.period]
    span = log.end_ns - int(c.members.start_ns.min())
    return max(int(span // length) - (0 if include_partial else 1), 0)


def _at_least(group: np.ndarray, last: np.ndarray, n_groups: int, n_ks: int) -> np.ndarray:
    """Members per group (rows) with ``last >= k`` for k = 0 .. n_ks - 1 (columns): a histogram, summed from the right."""
    keep = last >= 0
    hist = np.bincount(group[keep] * n_ks + np.minimum(last[keep], n_ks - 1), minlength=n_groups * n_ks)
    return np.cumsum(hist.reshape(n_groups, n_ks)[:, ::-1], axis=1)[:, ::-1]


def _counts(lookup: _Lookup, c: _Cohorts, n_ks: int) -> tuple[np.ndarray, np.ndarray]:
    """Retained and eligible members per group (rows) and offset k = 0 .. n_ks - 1 (columns).

    Eligibility (and unbounded activity) is a threshold in k per member, so
    both are histograms of each member's last k.  N-period activity of
    first-time cohorts (one member per user) is one pass over the distinct
    user × period keys; recurring cohorts (several members per user) test
    every member at every k.
    """
    n_groups = len(c.size)
    eligible = _at_least(c.group, lookup.last_eligible(), n_groups, n_ks)
    last = lookup.last_retained()
    if last is not None:
        return _at_least(c.group, last, n_groups, n_ks), eligible
    members = lookup.members
    if (members.code >= 0).all() and np.bincount(members.code).max(initial=0) <= 1:
        member_of = np.full(len(c.log.users), -1, dtype=np.int64)
        member_of[members.code] = np.arange(len(members.code))
        key_code = lookup.keys // _KEY_SPAN
        member = member_of[key_code]
        has = member >= 0
        member = member[has]
        offset = lookup.keys[has] - _pack(key_code[has], lookup.base[member])
        hit = (offset >= 0) & (offset < n_ks) & (offset <= lookup.last_eligible()[member])
        retained = np.bincount(c.group[member[hit]] * n_ks + offset[hit], minlength=n_groups * n_ks)
        return retained.reshape(n_groups, n_ks), eligible
    retained = np.zeros((n_groups, n_ks), dtype=np.int64)
    for k in range(n_ks):
        retained[:, k] = np.bincount(c.group, weights=lookup(k)[0], minlength=n_groups)
    return retained, eligible


def _tidy(c: _Cohorts, columns: dict, retained: np.ndarray, eligible: np.ndarray, confidence: float) -> pd.DataFrame:
    """Long frame: one row per group × column of the count arrays, with rate and Wilson CI."""
    n_groups, n_cols = retained.shape
    frame = {"cohort": periods.ordinal_to_start(np.repeat(c.group_cohort, n_cols), c.log.period)}
    if c.group_segment is not None:
        frame["segment"] = np.repeat(c.group_segment, n_cols)
    frame.update({name: np.tile(np.asarray(values), n_groups) for name, values in columns.items()})
    frame["cohort_size"] = np.repeat(c.size, n_cols)
    frame["eligible"] = eligible.ravel()
    frame["retained"] = retained.ravel()
    out = pd.DataFrame(frame)
    _add_rate(out, confidence)
    return out


def _add_rate(frame: pd.DataFrame, confidence: float) -> None:
    eligible = frame["eligible"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["rate"] = np.where(eligible > 0, frame["retained"] / eligible, np.nan)
    frame["ci_low"], frame["ci_high"] = wilson_ci(frame["retained"], eligible, 1 - confidence)


def retention_matrix(
    events: pd.DataFrame,
    period: str = "week",
    kind: str = "n_period",
    *,
    cohorts: str = "first_time",
    start_events=None,
    return_events=None,
    segment: str | None = None,
    max_periods: int | None = None,
    start=None,
    end=None,
    tz: str = "UTC",
    window: str = "calendar",
    include_partial: bool = False,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Cohort × period retention as a tidy long frame (DESIGN §5).

    * ``kind="n_period"``: share of the cohort with a return event in period k
      after the cohort period.
    * ``kind="unbounded"``: share with a return event in period k **or any later
      period observed** (each user's last return is compared with k; rates are
      never added up).

    Rates are ``retained / eligible`` with a Wilson interval; a cohort that was
    not observed for k full periods has ``eligible == 0`` and NaN rate (censored,
    never 0).

    Parameters
    ----------
    events : DataFrame
        Canonical events, full history if possible (first events are looked up
        over all of it).
    period : {"day", "week", "month"}
        Calendar periods in ``tz`` (weeks start on Monday).
    kind : {"n_period", "unbounded"}
    cohorts : {"first_time", "recurring"}
        First-time: a user's cohort is the period of their first start event.
        Recurring: a user belongs to every period in which they did the start event.
    start_events, return_events : str or list of str, optional
        What starts a cohort and what counts as a return (default: any event).
        A return in the start period counts for period 0.
    segment : str, optional
        Event column to break cohorts down by (value on the member's start event;
        missing values become ``"(missing)"``).  Attach user-table properties with
        ``io.attach_user_properties`` first.
    max_periods : int, optional
        Largest k (default: the longest observable).
    start, end : str or Timestamp, optional
        Report cohorts whose period starts in ``[start, end)``; events at or after
        ``end`` are ignored (``end`` is then the data end), events before ``start``
        still decide who is new.
    tz : str
    window : {"calendar", "rolling"}
        "rolling": period k is the window ``[start + k·24h, start + (k+1)·24h)``
        after each user's first start (7·24h for weeks); first-time cohorts only.
    include_partial : bool, default False
        Count periods still in progress at the data end instead of censoring them.
    confidence : float, default 0.95

    Returns
    -------
    DataFrame
        ``cohort`` (local period start), [``segment``], ``period`` (k),
        ``cohort_size``, ``eligible``, ``retained``, ``rate``, ``ci_low``,
        ``ci_high``; sorted by cohort, segment, period.  ``attrs["retention"]``
        records the definition used (kind, cohorts, window, include_partial, data end...).

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "b", "c"], "event": "open",
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-01", "2024-01-02", "2024-01-05"], utc=True)})
    >>> m = retention_matrix(ev, "day", max_periods=2)
    >>> m.loc[m["cohort"] == "2024-01-01", ["period", "eligible", "retained", "rate"]]
       period  eligible  retained  rate
    0       0         2         2   1.0
    1       1         2         1   0.5
    2       2         2         1   0.5
    >>> retention_matrix(ev, "day", "unbounded", max_periods=2)["rate"].tolist()[:3]  # b counts at 1 (day 1 ≥ 1)
    [1.0, 1.0, 0.5]
    """
    _choice("kind", kind, KINDS)
    c = _cohorts(events, period=period, tz=tz, cohorts=cohorts, start_events=start_events,
                 return_events=return_events, segment=segment, start=start, end=end, window=window)
    if max_periods is None:
        max_periods = _max_offset(c, window, include_partial)
    if isinstance(max_periods, bool) or not isinstance(max_periods, (int, np.integer)) or max_periods < 0:
        raise ValueError(f"max_periods={max_periods!r}: give a whole number of periods >= 0, or None for all observed")
    ks = np.arange(int(max_periods) + 1)
    lookup = _Lookup(c.log, c.members, kind, window, include_partial)
    retained, eligible = _counts(lookup, c, len(ks))
    out = _tidy(c, {"period": ks}, retained, eligible, confidence)
    out.attrs["retention"] = _attrs(c.log, kind=kind, cohorts=cohorts, window=window, include_partial=include_partial,
                                    segment=segment, confidence=confidence)
    return out


def retention_table(matrix: pd.DataFrame, values: str = "rate") -> pd.DataFrame:
    """Pivot a tidy retention frame to the familiar cohort × period table.

    Rows are cohorts (and segments), columns the periods (or brackets); censored
    cells stay NaN.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": "open",
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"], utc=True)})
    >>> retention_table(retention_matrix(ev, "day", max_periods=1))
    period        0    1
    cohort              
    2024-01-01  1.0  1.0
    2024-01-03  NaN  NaN
    """
    if values not in matrix.columns:
        raise ValueError(f"values={values!r} is not a column of the retention frame; choose one of {list(matrix.columns)}")
    index = [c for c in ("cohort", "segment") if c in matrix.columns]
    column = "period" if "period" in matrix.columns else "bracket"
    table = matrix.pivot(index=index, columns=column, values=values)
    if column == "bracket":
        table = table[pd.unique(matrix["bracket"])]
    return table


def bracket_retention(
    events: pd.DataFrame,
    brackets: Sequence[tuple[int, int]] = ((1, 1), (2, 7), (8, 30)),
    period: str = "day",
    *,
    cohorts: str = "first_time",
    start_events=None,
    return_events=None,
    segment: str | None = None,
    start=None,
    end=None,
    tz: str = "UTC",
    window: str = "calendar",
    include_partial: bool = False,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Share of each cohort active at least once inside each bracket of periods.

    A bracket ``(first, last)`` covers periods ``first..last`` after the cohort
    period; a cohort is eligible for it once its last period is observed.
    Parameters as in :func:`retention_matrix`.

    Returns
    -------
    DataFrame
        ``cohort``, [``segment``], ``bracket`` (label such as ``"2–7"``), ``first``,
        ``last``, ``cohort_size``, ``eligible``, ``retained``, ``rate``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "z"], "event": "open",
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-01", "2024-01-12"], utc=True)})
    >>> b = bracket_retention(ev, [(1, 1), (2, 7)])
    >>> b.loc[b["cohort"] == "2024-01-01", ["bracket", "eligible", "retained", "rate"]]
      bracket  eligible  retained  rate
    0       1         2         0   0.0
    1     2–7         2         1   0.5
    """
    bounds = np.asarray(brackets)
    if bounds.ndim != 2 or bounds.shape[1] != 2 or not np.issubdtype(bounds.dtype, np.integer) or (bounds < 0).any() or (
        bounds[:, 0] > bounds[:, 1]
    ).any():
        raise ValueError(f"brackets={brackets!r}: give (first, last) pairs of periods with 0 <= first <= last, e.g. [(1, 1), (2, 7)]")
    c = _cohorts(events, period=period, tz=tz, cohorts=cohorts, start_events=start_events,
                 return_events=return_events, segment=segment, start=start, end=end, window=window)
    lookup = _Lookup(c.log, c.members, "n_period", window, include_partial)
    retained = np.zeros((len(c.size), len(bounds)), dtype=np.int64)
    eligible = np.zeros_like(retained)
    for j, (first, last) in enumerate(bounds):
        active = np.zeros(len(c.members.code), dtype=bool)
        for k in range(first, last + 1):
            active |= lookup(int(k))[0]
        observed = lookup.eligible(int(last))
        retained[:, j] = np.bincount(c.group, weights=active & observed, minlength=len(c.size))
        eligible[:, j] = np.bincount(c.group, weights=observed, minlength=len(c.size))
    labels = [str(a) if a == b else f"{a}–{b}" for a, b in bounds]
    out = _tidy(c, {"bracket": labels, "first": bounds[:, 0], "last": bounds[:, 1]}, retained, eligible, confidence)
    out.attrs["retention"] = _attrs(c.log, kind="bracket", cohorts=cohorts, window=window,
                                    include_partial=include_partial, segment=segment, confidence=confidence)
    return out


# --------------------------------------------------------------------------- pooled curves


CURVE_METHODS = ("weighted", "mean")
CORRECTIONS = ("holm", "fdr_bh", "bonferroni", "none")


def _keys(frame: pd.DataFrame) -> list[str]:
    """Columns that identify a curve point: segment and period (or bracket)."""
    point = ["period"] if "period" in frame.columns else ["bracket", "first", "last"]
    missing = [c for c in ("eligible", "retained", *point) if c not in frame.columns]
    if missing:
        raise ValueError(f"expected a frame from retention_matrix / bracket_retention / retention_curve; missing {missing}")
    return (["segment"] if "segment" in frame.columns else []) + point


def retention_curve(matrix: pd.DataFrame, method: str = "weighted", confidence: float = 0.95) -> pd.DataFrame:
    """Pool cohorts into one retention curve per segment.

    ``method="weighted"`` (default): ``rate_k = Σ retained_k / Σ eligible_k``
    over the cohorts observed at k, with a Wilson interval; censored cohorts
    are left out of both sums.  ``method="mean"``: the simple mean of the
    observed cohorts' rates, with a t interval across cohorts (NaN with fewer
    than two cohorts); it weights a small cohort like a large one.

    Parameters
    ----------
    matrix : DataFrame
        Output of :func:`retention_matrix` (any kind) or :func:`bracket_retention`.
    method : {"weighted", "mean"}
    confidence : float, default 0.95

    Returns
    -------
    DataFrame
        [``segment``], ``period`` (or ``bracket``, ``first``, ``last``),
        ``cohorts`` (observed cohorts), ``eligible``, ``retained``, ``rate``,
        ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> m = pd.DataFrame({"cohort": ["w1", "w1", "w2", "w2"], "period": [0, 1, 0, 1],
    ...                   "eligible": [10, 10, 30, 0], "retained": [10, 4, 30, 0]})
    >>> retention_curve(m)[["period", "cohorts", "eligible", "retained", "rate"]]
       period  cohorts  eligible  retained  rate
    0       0        2        40        40   1.0
    1       1        1        10         4   0.4
    """
    _choice("method", method, CURVE_METHODS)
    keys = _keys(matrix)
    observed = matrix["eligible"] > 0
    grouped = matrix.assign(
        cohorts=observed.astype(int),
        cohort_rate=(matrix["retained"] / matrix["eligible"].where(observed)),
    ).groupby(keys, sort=False, observed=True)
    curve = grouped.agg(cohorts=("cohorts", "sum"), eligible=("eligible", "sum"), retained=("retained", "sum")).reset_index()
    curve = curve.sort_values([k for k in keys if k != "bracket"], kind="stable", ignore_index=True)
    if method == "weighted":
        _add_rate(curve, confidence)
        return curve
    stats = grouped["cohort_rate"].agg(["mean", "std", "count"]).reset_index()
    curve = curve.merge(stats, on=keys, how="left")
    half = sps.t.ppf(0.5 + confidence / 2, np.maximum(curve["count"] - 1, 1)) * curve["std"] / np.sqrt(curve["count"])
    half = half.where(curve["count"] >= 2)
    curve["rate"] = curve["mean"]
    curve["ci_low"], curve["ci_high"] = (curve["rate"] - half).clip(0, 1), (curve["rate"] + half).clip(0, 1)
    return curve.drop(columns=["mean", "std", "count"])


def _z_test(x_a, n_a, x_b, n_b, confidence: float) -> dict:
    """Difference b − a with a Wald CI, and the pooled two-proportion z test (vectorized)."""
    x_a, n_a, x_b, n_b = (np.asarray(v, dtype=float) for v in (x_a, n_a, x_b, n_b))
    with np.errstate(invalid="ignore", divide="ignore"):
        p_a, p_b = x_a / n_a, x_b / n_b
        pooled = (x_a + x_b) / (n_a + n_b)
        se0 = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
        z = np.where(se0 > 0, (p_b - p_a) / se0, np.nan)
        se = np.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    crit = sps.norm.ppf(0.5 + confidence / 2)
    diff = p_b - p_a
    return {"difference": diff, "diff_ci_low": diff - crit * se, "diff_ci_high": diff + crit * se,
            "z": z, "p_value": 2 * sps.norm.sf(np.abs(z))}


def compare_retention(
    curve_a: pd.DataFrame,
    curve_b: pd.DataFrame | None = None,
    *,
    baseline: str | None = None,
    correction: str = "holm",
    alpha: float = 0.05,
    confidence: float = 0.95,
    labels: tuple[str, str] = ("a", "b"),
) -> pd.DataFrame:
    """Per-period difference of two retention curves, with CI, z test and a multiple-testing correction.

    Two modes:

    * ``compare_retention(curve_a, curve_b)``: curve b minus curve a (named by ``labels``);
    * ``compare_retention(curve, baseline="web")``: each segment of a segmented
      curve minus the baseline segment (default: the largest segment).

    Per period: difference of pooled rates with a Wald interval
    ``d ± z·sqrt(p_a(1−p_a)/n_a + p_b(1−p_b)/n_b)`` and the two-proportion z test
    with pooled variance (as ``statsmodels.stats.proportion.proportions_ztest``).
    p-values are adjusted across all tested rows (periods × segments) with
    ``statsmodels.stats.multitest.multipletests`` (Holm by default; Holm holds
    under any dependence between periods).  Rows where a test is undefined
    (a rate of exactly 0 or 1 in both, e.g. period 0, or a censored period) get
    NaN p-values and are not counted in the correction.  The test assumes each
    user counts once per period (first-time cohorts).

    Parameters
    ----------
    curve_a, curve_b : DataFrame
        Outputs of :func:`retention_curve` (weighted).
    baseline : str, optional
        Segment compared against (segment mode).
    correction : {"holm", "fdr_bh", "bonferroni", "none"}
    alpha : float, default 0.05
        Level at which ``significant`` is set (on adjusted p-values).
    confidence : float, default 0.95
    labels : (str, str)
        Names of curve a and b in two-curve mode.

    Returns
    -------
    DataFrame
        ``segment``, ``baseline``, the period key, ``eligible_base``, ``rate_base``,
        ``eligible``, ``rate``, ``difference``, ``diff_ci_low``, ``diff_ci_high``, ``z``,
        ``p_value``, ``p_adjusted``, ``significant``; ``attrs["comparison"]`` holds
        correction, alpha and confidence.

    Examples
    --------
    >>> a = pd.DataFrame({"period": [1, 2], "eligible": [1000, 1000], "retained": [400, 300]})
    >>> b = pd.DataFrame({"period": [1, 2], "eligible": [1000, 1000], "retained": [460, 310]})
    >>> c = compare_retention(a, b, labels=("control", "treatment"))
    >>> c[["segment", "period", "difference", "significant"]]
         segment  period  difference  significant
    0  treatment       1        0.06         True
    1  treatment       2        0.01        False
    """
    _choice("correction", correction, CORRECTIONS)
    if curve_b is not None:
        keys_a, keys_b = _keys(curve_a), _keys(curve_b)
        if "segment" in keys_a or "segment" in keys_b:
            raise ValueError("two-curve mode compares unsegmented curves; for segments pass one curve and baseline=")
        frame = pd.concat([curve_a.assign(segment=labels[0]), curve_b.assign(segment=labels[1])], ignore_index=True)
        baseline = labels[0]
    else:
        if "segment" not in curve_a.columns:
            raise ValueError("curve has no 'segment' column: pass two curves, or build the curve with segment=...")
        frame = curve_a
        sizes = frame.groupby("segment", sort=True)["eligible"].max()
        baseline = sizes.idxmax() if baseline is None else baseline
        if baseline not in sizes.index:
            raise ValueError(f"baseline={baseline!r} is not a segment; segments: {list(sizes.index)}")
    point = [k for k in _keys(frame) if k != "segment"]
    base = frame.loc[frame["segment"] == baseline, [*point, "eligible", "retained"]]
    others = frame.loc[frame["segment"] != baseline, ["segment", *point, "eligible", "retained"]]
    merged = others.merge(base, on=point, suffixes=("", "_base"), how="inner")
    merged.insert(1, "baseline", baseline)
    tests = _z_test(merged["retained_base"], merged["eligible_base"], merged["retained"], merged["eligible"], confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        merged["rate_base"] = merged["retained_base"] / merged["eligible_base"]
        merged["rate"] = merged["retained"] / merged["eligible"]
    for name, values in tests.items():
        merged[name] = values
    tested = merged["p_value"].notna().to_numpy()
    adjusted = np.full(len(merged), np.nan)
    if tested.any():
        adjusted[tested] = (merged["p_value"].to_numpy()[tested] if correction == "none"
                            else multipletests(merged["p_value"].to_numpy()[tested], alpha=alpha, method=correction)[1])
    merged["p_adjusted"] = adjusted
    merged["significant"] = merged["p_adjusted"] < alpha
    columns = ["segment", "baseline", *point, "eligible_base", "rate_base", "eligible", "rate", *tests, "p_adjusted", "significant"]
    out = merged[columns].reset_index(drop=True)
    out.attrs["comparison"] = {"correction": correction, "alpha": alpha, "confidence": confidence}
    return out


def describe_comparison(comparison: pd.DataFrame, unit: str = "period") -> str:
    """One plain-language sentence summarising :func:`compare_retention`.

    Examples
    --------
    >>> a = pd.DataFrame({"period": [1, 2], "eligible": [1000, 1000], "retained": [400, 300]})
    >>> b = pd.DataFrame({"period": [1, 2], "eligible": [1000, 1000], "retained": [460, 310]})
    >>> describe_comparison(compare_retention(a, b, labels=("control", "treatment")), unit="day")
    'treatment vs control: 1 of 2 tested days differ after holm correction (alpha 0.05); largest gap at day 1: 46.0% vs 40.0% (+6.0 pp, 95% CI +1.7 to +10.3 pp).'
    """
    info = comparison.attrs.get("comparison", {"correction": "holm", "alpha": 0.05, "confidence": 0.95})
    tested = comparison[comparison["p_value"].notna()]
    if tested.empty:
        return "No period could be tested (too few observed users, or rates of exactly 0% or 100%)."
    key = "period" if "period" in tested.columns else "bracket"
    sentences = []
    for segment, rows in tested.groupby("segment", sort=False):
        top = rows.loc[rows["difference"].abs().idxmax()]
        sentences.append(
            f"{segment} vs {top['baseline']}: {int(rows['significant'].sum())} of {len(rows)} tested {unit}s differ "
            f"after {info['correction']} correction (alpha {info['alpha']:g}); largest gap at {unit} {top[key]}: "
            f"{top['rate']:.1%} vs {top['rate_base']:.1%} ({100 * top['difference']:+.1f} pp, "
            f"{info['confidence']:.0%} CI {100 * top['diff_ci_low']:+.1f} to {100 * top['diff_ci_high']:+.1f} pp)."
        )
    return " ".join(sentences)


def retention_summary(
    curve: pd.DataFrame,
    thresholds: Sequence[float] = (0.5, 0.25),
    *,
    tail_periods: int = 5,
    tolerance: float = 0.02,
    min_eligible: int = 30,
) -> pd.DataFrame:
    """Half-life style milestones and the long-run plateau of pooled curves (one row per segment).

    * ``below_{t}pct_period``: the first period k ≥ 1 whose rate is below ``t``
      × the period-1 rate (NaN if it never falls that low within the observed periods).
    * ``plateau``: the pooled rate ``Σ retained / Σ eligible`` over the last
      ``tail_periods`` periods with at least ``min_eligible`` users, reported only
      when a weighted least-squares line through them changes by at most
      ``tolerance`` (absolute) across the tail, i.e. the curve has flattened;
      otherwise NaN and ``plateau_supported`` is False.

    Examples
    --------
    >>> c = pd.DataFrame({"period": range(9), "eligible": 100,
    ...                   "retained": [100, 60, 40, 28, 20, 20, 21, 20, 20]})
    >>> retention_summary(c).iloc[0].to_dict()
    {'rate_1': 0.6, 'below_50pct_period': 3, 'below_25pct_period': nan, 'plateau': 0.202, 'plateau_supported': True, 'observed_periods': 8}
    """
    if "period" not in curve.columns:
        raise ValueError("retention_summary needs a curve with a 'period' column (from retention_curve)")
    if not 0 < tolerance < 1 or tail_periods < 2:
        raise ValueError("tolerance must be in (0, 1) and tail_periods >= 2")
    frame = curve if "segment" in curve.columns else curve.assign(segment="all")
    rows = []
    for segment, c in frame.groupby("segment", sort=True):
        c = c[(c["eligible"] >= min_eligible)].sort_values("period")
        rate = c["retained"] / c["eligible"]
        later = c["period"] >= 1
        rate_1 = float(rate[c["period"] == 1].iloc[0]) if (c["period"] == 1).any() else np.nan
        row = {"segment": segment, "rate_1": rate_1}
        for t in thresholds:
            below = c.loc[later & (rate < t * rate_1), "period"]
            row[f"below_{round(100 * t)}pct_period"] = int(below.iloc[0]) if len(below) else np.nan
        tail = c[later].tail(tail_periods)
        flat = False
        if len(tail) == tail_periods:
            slope = np.polyfit(tail["period"], tail["retained"] / tail["eligible"], 1, w=np.sqrt(tail["eligible"]))[0]
            flat = abs(slope) * (tail["period"].iloc[-1] - tail["period"].iloc[0]) <= tolerance
        row["plateau"] = float(tail["retained"].sum() / tail["eligible"].sum()) if flat else np.nan
        row["plateau_supported"] = bool(flat)
        row["observed_periods"] = int(c["period"].max()) if len(c) else 0
        rows.append(row)
    out = pd.DataFrame(rows)
    return out.drop(columns="segment") if "segment" not in curve.columns else out
