"""The primitives every retention measure is built on.

* a :class:`RetentionLog`: the event log (:class:`~engagement_utils.core.EventLog`)
  cut at the data end, with start / return masks and the period bounds that
  decide censoring;
* :class:`Members`: who is retained from when — one member per user for
  first-time cohorts or an external anchor (an A/B assignment), one per
  user × start period for recurring cohorts;
* :class:`Lookup`: "was member *m* active *k* periods after its start, and is
  *k* observed?", vectorized over all members.  Activity is the distinct
  user × period keys of :func:`engagement_utils.core.activity_keys`; unbounded
  ("on or after") retention compares *k* with each user's last active period,
  so it is never obtained by adding per-period rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import periods
from .._arrays import dense_codes, distinct
from ..core import EventLog, as_utc, first_per_key
from ..core.scans import KEY_SPAN, pack_keys
from ..stats import wilson_ci
from ..validation import check_option

__all__ = [
    "KINDS", "COHORT_TYPES", "CLOCKS", "PERIOD_SUFFIX", "RetentionLog", "prepare_log", "Members",
    "members_from_events", "Lookup", "check_clock", "Cohorts", "build_cohorts", "max_offset", "count_retained",
    "tidy_counts", "add_rate", "check_offsets", "RetentionDefinition",
]

KINDS = ("n_period", "unbounded")
COHORT_TYPES = ("first_time", "recurring")
CLOCKS = ("calendar", "rolling")
PERIOD_SUFFIX = {"day": "d", "week": "w", "month": "m"}
"""Suffix of per-user flag columns: ``retained_d7``, ``retained_w2``, ``retained_m1``."""
ROLLING_NS = {"day": 86_400 * 10**9, "week": 7 * 86_400 * 10**9}


def _rows(mask: np.ndarray) -> np.ndarray | slice:
    """Index selecting ``mask``: a slice (views, no copies of the event arrays) when it selects every row."""
    return slice(None) if mask.all() else mask


def _ordinal_of(ts: pd.Timestamp, period: str, tz: str) -> int:
    return int(periods.period_ordinal(pd.Series([ts]), period, tz)[0])


@dataclass(frozen=True)
class RetentionLog:
    """Events reduced to what retention needs, cut at the data end."""

    users: pd.Index  # user id of each code
    code: np.ndarray  # per kept event: user code
    ns: np.ndarray  # per kept event: UTC nanoseconds
    ordinal: np.ndarray  # per kept event: calendar period ordinal in tz
    is_start: np.ndarray
    is_return: np.ndarray
    rows: np.ndarray | None  # positions of the kept events in the event frame (None: every event is kept)
    period: str
    tz: str
    end: pd.Timestamp  # data end: explicit (exclusive) or the last event timestamp
    end_ns: int  # exclusive end in UTC nanoseconds
    first_incomplete: int  # first calendar period not fully observed
    last_observed: int  # calendar period holding the last observed instant

    def frame_rows(self, positions: np.ndarray) -> np.ndarray:
        """Positions in the event frame of the kept events at ``positions``."""
        return positions if self.rows is None else self.rows[positions]


def prepare_log(events, period: str, tz: str, start_events, return_events, end) -> RetentionLog:
    """Cut the events (a frame or an :class:`EventLog`) at ``end`` and mark start and return events."""
    periods.check_period(period)
    log = EventLog.of(events, tz)
    is_start = log.event_mask(start_events, "start_events")
    is_return = log.event_mask(return_events, "return_events")
    data_end, end_ns = log.data_end(end)
    keep = log.ns < end_ns
    if not keep.any():
        raise ValueError(f"no events before end={end!r}; the data start at {pd.Timestamp(int(log.ns.min()), tz='UTC')}")
    # an explicit end is exclusive; without one the last event is the last observed instant
    last_instant = data_end - pd.Timedelta(1, "ns") if end is not None else data_end
    sel = _rows(keep)
    return RetentionLog(
        users=log.users, code=log.user_code[sel], ns=log.ns[sel], ordinal=log.ordinal(period)[sel],
        is_start=is_start[sel], is_return=is_return[sel], rows=None if isinstance(sel, slice) else np.flatnonzero(keep),
        period=period, tz=tz,
        end=data_end, end_ns=end_ns,
        # the period holding the last event is still in progress; an explicit end is exclusive,
        # so in both cases the first incomplete period is the one holding `data_end`
        first_incomplete=periods.first_incomplete_ordinal(data_end, period, tz),
        last_observed=_ordinal_of(last_instant, period, tz),
    )


@dataclass(frozen=True)
class Members:
    """Who is retained from when: one row per user (first-time, anchor) or user × start period."""

    code: np.ndarray  # user code (-1: an anchored user without events)
    cohort: np.ndarray  # cohort period ordinal
    start_ns: np.ndarray  # start timestamp (UTC ns)
    row: np.ndarray  # position in the log of the start event (-1 for external anchors)

    def subset(self, keep: np.ndarray) -> "Members":
        return Members(self.code[keep], self.cohort[keep], self.start_ns[keep], self.row[keep])


def members_from_events(log: RetentionLog, cohorts: str) -> Members:
    """First start event per user (first-time) or per user × period (recurring)."""
    key = log.code if cohorts == "first_time" else pack_keys(log.code, log.ordinal)
    rows = np.flatnonzero(log.is_start)
    if len(rows) == len(key):
        pick = first_per_key(key, log.ns, rows)
    else:
        pick = first_per_key(key[rows], log.ns[rows], rows)
    return Members(code=log.code[pick], cohort=log.ordinal[pick], start_ns=log.ns[pick], row=pick)


class Lookup:
    """Retention flags of all members at period offset ``k``: ``lookup(k) -> (retained, eligible)``.

    Activity is deduplicated to distinct (user, period) keys once; each ``k`` costs
    one binary search over all members.
    """

    def __init__(self, log: RetentionLog, members: Members, kind: str, clock: str, include_partial: bool):
        self.members, self.kind, self.clock, self.include_partial = members, kind, clock, include_partial
        self.end_ns = log.end_ns
        ret = _rows(log.is_return)
        code = log.code[ret]
        has_code = members.code >= 0
        if clock == "calendar":
            x = log.ordinal[ret]
            self.base = members.cohort
            self.horizon = log.last_observed + 1 if include_partial else log.first_incomplete
        else:
            self.length = ROLLING_NS[log.period]
            start_of_user = np.zeros(len(log.users), dtype=np.int64)
            start_of_user[members.code[has_code]] = members.start_ns[has_code]
            # floor division: returns before the start fall into negative windows and never count
            x = (log.ns[ret] - start_of_user[code]) // self.length
            keep = np.isin(code, members.code[has_code])
            code, x = code[keep], x[keep]
            self.base = np.zeros(len(members.code), dtype=np.int64)
        self.has_code = has_code
        if kind == "n_period":
            self.keys = distinct(pack_keys(code, x))
        else:
            last = np.full(len(log.users), np.iinfo(np.int64).min, dtype=np.int64)
            np.maximum.at(last, code, x)
            self.last = np.where(has_code, last[np.maximum(members.code, 0)], np.iinfo(np.int64).min)

    def last_eligible(self) -> np.ndarray:
        """Per member, the largest k that :meth:`eligible` accepts (negative: none)."""
        if self.clock == "calendar":
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
        if self.clock == "calendar":
            return self.members.cohort + k < self.horizon
        window_start = self.members.start_ns + k * self.length
        if self.include_partial:
            return window_start < self.end_ns
        return window_start + self.length <= self.end_ns

    def __call__(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        target = self.base + k
        if self.kind == "n_period":
            query = pack_keys(self.members.code, target)
            pos = np.minimum(np.searchsorted(self.keys, query), len(self.keys) - 1)
            active = (self.keys[pos] == query) & self.has_code if len(self.keys) else np.zeros(len(query), bool)
        else:
            active = self.last >= target
        eligible = self.eligible(k)
        return active & eligible, eligible


def check_clock(clock: str, period: str, cohorts: str = "first_time") -> None:
    """``clock`` is "calendar", or "rolling" with a fixed-length period and first-time cohorts."""
    check_option("clock", clock, CLOCKS)
    if clock == "rolling":
        if period not in ROLLING_NS:
            raise ValueError(f"clock='rolling' needs period 'day' or 'week' (fixed lengths), got period={period!r}")
        if cohorts != "first_time":
            raise ValueError("clock='rolling' measures from each user's first start; use cohorts='first_time' or clock='calendar'")


def check_offsets(values, name: str) -> np.ndarray:
    """Whole numbers of periods >= 0."""
    ks = np.atleast_1d(np.asarray(values))
    if ks.size == 0 or not np.issubdtype(ks.dtype, np.integer) or (ks < 0).any():
        raise ValueError(f"The {name!r} parameter must be whole numbers of periods >= 0, e.g. (1, 7, 30); got {values!r}")
    return ks.astype(np.int64)


@dataclass(frozen=True)
class Cohorts:
    """Members of the reported cohorts with their cohort × segment group."""

    log: RetentionLog
    members: Members
    group: np.ndarray  # per member group code (cohort × segment)
    group_cohort: np.ndarray  # per group cohort ordinal
    group_segment: np.ndarray | None  # per group segment label
    size: np.ndarray  # per group members


def build_cohorts(events, *, period, tz, cohorts, start_events, return_events, segment, start, end, clock) -> Cohorts:
    """Members of the cohorts starting in ``[start, end)``, grouped by cohort × segment.

    A member's segment is the value on its start event (missing values: ``"(missing)"``).
    """
    check_option("cohorts", cohorts, COHORT_TYPES)
    check_clock(clock, period, cohorts)
    event_log = EventLog.of(events, tz)
    seg = event_log.segment(segment) if segment is not None else None
    log = prepare_log(event_log, period, tz, start_events, return_events, end)
    members = members_from_events(log, cohorts)
    keep = np.ones(len(members.code), dtype=bool)
    if start is not None:
        start_ts = as_utc(start, "start")
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
    members = members.subset(keep)
    if seg is None:
        seg_code, seg_names = np.zeros(len(members.code), np.int64), None
    else:
        seg_code = seg.codes[log.frame_rows(members.row)]
        used, seg_code = dense_codes(seg_code)
        seg_names = np.asarray(seg.labels, dtype=object)[used]
    n_seg = 1 if seg_names is None else len(seg_names)
    first = members.cohort.min()
    groups, group = dense_codes((members.cohort - first) * n_seg + seg_code)
    return Cohorts(
        log=log, members=members, group=group.ravel(),
        group_cohort=groups // n_seg + first,
        group_segment=None if seg_names is None else seg_names[groups % n_seg],
        size=np.bincount(group.ravel(), minlength=len(groups)),
    )


def max_offset(c: Cohorts, clock: str, include_partial: bool) -> int:
    """Longest offset any member can be observed at."""
    log = c.log
    if clock == "calendar":
        horizon = log.last_observed + 1 if include_partial else log.first_incomplete
        return max(int(horizon - 1 - c.members.cohort.min()), 0)
    length = ROLLING_NS[log.period]
    span = log.end_ns - int(c.members.start_ns.min())
    return max(int(span // length) - (0 if include_partial else 1), 0)


def _at_least(group: np.ndarray, last: np.ndarray, n_groups: int, n_ks: int) -> np.ndarray:
    """Members per group (rows) with ``last >= k`` for k = 0 .. n_ks - 1 (columns): a histogram, summed from the right."""
    keep = last >= 0
    hist = np.bincount(group[keep] * n_ks + np.minimum(last[keep], n_ks - 1), minlength=n_groups * n_ks)
    return np.cumsum(hist.reshape(n_groups, n_ks)[:, ::-1], axis=1)[:, ::-1]


def count_retained(lookup: Lookup, c: Cohorts, n_ks: int) -> tuple[np.ndarray, np.ndarray]:
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
        key_code = lookup.keys // KEY_SPAN
        member = member_of[key_code]
        has = member >= 0
        member = member[has]
        offset = lookup.keys[has] - pack_keys(key_code[has], lookup.base[member])
        hit = (offset >= 0) & (offset < n_ks) & (offset <= lookup.last_eligible()[member])
        retained = np.bincount(c.group[member[hit]] * n_ks + offset[hit], minlength=n_groups * n_ks)
        return retained.reshape(n_groups, n_ks), eligible
    retained = np.zeros((n_groups, n_ks), dtype=np.int64)
    for k in range(n_ks):
        retained[:, k] = np.bincount(c.group, weights=lookup(k)[0], minlength=n_groups)
    return retained, eligible


def tidy_counts(c: Cohorts, columns: dict, retained: np.ndarray, eligible: np.ndarray, alpha: float) -> pd.DataFrame:
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
    add_rate(out, alpha)
    return out


def add_rate(frame: pd.DataFrame, alpha: float) -> None:
    """Add ``rate = retained / eligible`` (NaN when nobody is eligible) and its Wilson interval, in place."""
    eligible = frame["eligible"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["rate"] = np.where(eligible > 0, frame["retained"] / eligible, np.nan)
    frame["ci_low"], frame["ci_high"] = wilson_ci(frame["retained"], eligible, alpha)


@dataclass(frozen=True)
class RetentionDefinition:
    """What a retention measure counted: the facts a reader needs next to the numbers.

    Returned by :func:`engagement_utils.retention.retention_definition`; its
    :attr:`text` is the methods sentence of the cohort report.
    """

    period: str
    tz: str
    kind: str
    cohorts: str
    clock: str
    include_partial: bool
    segment: str | None
    data_end: pd.Timestamp
    first_incomplete_period: pd.Timestamp  # local start of the first period not fully observed
    alpha: float

    @classmethod
    def of(cls, log: RetentionLog, *, kind: str, cohorts: str, clock: str, include_partial: bool,
           segment: str | None, alpha: float) -> "RetentionDefinition":
        return cls(
            period=log.period, tz=log.tz, kind=kind, cohorts=cohorts, clock=clock, include_partial=include_partial,
            segment=segment, data_end=log.end,
            first_incomplete_period=periods.ordinal_to_start([log.first_incomplete], log.period)[0], alpha=alpha,
        )

    @property
    def text(self) -> str:
        from .narrative import definition_text

        return definition_text(self)
