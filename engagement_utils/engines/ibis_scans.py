"""The heavy scans as Ibis expressions: small pandas tables back, the statistics stay in Python.

Each ``*_expr`` function builds an Ibis expression on an :class:`~.connect.IbisEvents`
source (so its SQL can be compiled for any dialect, see ``tests/snapshots``);
the function of the same name without ``_expr`` executes it and returns pandas.

* :func:`activity_keys` — distinct user × calendar period keys in the report timezone;
* :func:`members` — first start event per user (or per user × period);
* :func:`retention_counts` — cohort × offset counts (n-period) / last-offset histograms (unbounded);
* :func:`session_stats` — sessions (gap > timeout starts one), summarised per segment;
* :func:`funnel_reach` — per entering user and step, microseconds from the entry (sequential);
* :func:`arm_statistics` — per arm (× segment) n, Σy, Σy² of a per-user metric table;
* :func:`user_features` — recency, active days, events, sessions, revenue per user.

Time differences are whole microseconds (``delta(..., unit="microsecond")``) and session
gaps are compared as ``ts > previous + interval``: ``epoch_seconds()`` is fractional on
DuckDB and whole on Spark, so it is never used.  Events with equal timestamps are ordered
by :data:`~.connect.SEQ_COLUMN` when the table has it.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import ibis
import numpy as np
import pandas as pd
from ibis import _

from ..core import MISSING_SEGMENT, as_utc
from ..validation import as_event_list, closest
from .connect import SEQ_COLUMN, IbisEvents
from .timezones import period_ordinal, utc_instant

__all__ = [
    "execute", "interval", "event_predicate", "cut", "segment_value", "activity_keys_expr", "activity_keys", "active_spans_expr", "members_expr", "members", "data_bounds",
    "retention_counts_expr", "retention_counts", "bracket_counts_expr", "bracket_counts", "return_offsets_expr", "session_expr", "session_stats", "funnel_reach_expr", "funnel_reach", "arm_statistics",
    "user_features_expr", "user_features",
]

ROLLING_US = {"day": 86_400 * 10**6, "week": 7 * 86_400 * 10**6}


def execute(expr) -> pd.DataFrame:
    """Run an Ibis expression on its backend and return pandas (the only place results leave the engine)."""
    return expr.to_pandas()


def interval(duration) -> "ibis.Value":
    """An exact Ibis interval: whole seconds when possible (ClickHouse has no sub-second intervals), else µs."""
    ns = pd.Timedelta(duration).value
    return ibis.interval(seconds=ns // 10**9) if ns % 10**9 == 0 else ibis.interval(microseconds=ns // 1000)


def _order(t) -> list:
    return [t.timestamp, t[SEQ_COLUMN]] if SEQ_COLUMN in t.columns else [t.timestamp]


def event_predicate(src: IbisEvents, names, parameter: str):
    """Boolean expression "event is one of ``names``" (None: every event); unknown names are an error."""
    listed = as_event_list(names, parameter)
    if listed is None:
        return None
    if src.connection is None:  # an unbound table (SQL compiled for a warehouse): nothing to check against
        return src.table.event.isin(listed)
    present = set(src.table.select("event").distinct().to_pandas()["event"].astype(str))
    unknown = [n for n in listed if n not in present]
    if unknown:
        hint = closest(unknown[0], present)
        suggestion = f" — did you mean {hint!r}?" if hint is not None else ""
        raise ValueError(
            f"The {parameter!r} parameter names event(s) {unknown} that do not occur in column 'event'{suggestion} "
            f"Events present: {', '.join(map(repr, sorted(present)[:20]))}"
        )
    return src.table.event.isin(listed)


def cut(src: IbisEvents, end=None, start=None):
    """The events table restricted to ``[start, end)`` (UTC; naive values read as UTC)."""
    t = src.table
    if end is not None:
        t = t.filter(utc_instant(t.timestamp) < ibis.literal(as_utc(end, "end").to_pydatetime()))
    if start is not None:
        t = t.filter(utc_instant(t.timestamp) >= ibis.literal(as_utc(start, "start").to_pydatetime()))
    return t


def segment_value(t, segment: str | None):
    """The breakdown column as text, missing values labelled "(missing)" (as ``core.segment_labels``)."""
    if segment is None:
        return None
    return t[segment].cast("string").fill_null(MISSING_SEGMENT)


def activity_keys_expr(src: IbisEvents, period: str, *, active_events=None, segment: str | None = None, end=None):
    """Distinct ``user_id, period`` (and ``segment``) of the (active) events before ``end``."""
    t = cut(src, end)
    predicate = event_predicate(src, active_events, "active_events")
    if predicate is not None:
        t = t.filter(t.event.isin(as_event_list(active_events, "active_events")))
    columns = {"user_id": t.user_id, "period": period_ordinal(t.timestamp, period, src.tz, src.backend)}
    if segment is not None:
        src.check_column(segment)
        columns["segment"] = segment_value(t, segment)
    return t.select(**columns).distinct()


def activity_keys(src: IbisEvents, period: str, **options) -> pd.DataFrame:
    """:func:`activity_keys_expr`, executed: one row per user × period (× segment) with activity.

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "a"], "event": ["x"] * 3,
    ...     "timestamp": pd.to_datetime(["2024-01-01 08:00", "2024-01-01 12:00", "2024-01-03 09:00"], utc=True)})
    >>> sorted(activity_keys(from_frame(ev), "day")["period"].tolist())
    [19723, 19725]
    """
    return execute(activity_keys_expr(src, period, **options))


def active_spans_expr(src: IbisEvents, *, first_day: int, n_days: int, longest: int = 30, active_events=None,
                      segment: str | None = None, end=None):
    """Active-user spans for trailing windows up to ``longest`` days: users per (segment,) day and gap.

    A user active on local day d counts on days d .. min(next active day, d + width) - 1 of a
    ``width``-day trailing window; ``gap`` = min(next active day - d, ``longest`` + 1) (no next day:
    ``longest`` + 1), so one small table (days × gaps) serves DAU, WAU and MAU.
    Columns ``[segment,] day`` (relative to ``first_day``), ``gap``, ``users``.
    """
    keys = activity_keys_expr(src, "day", active_events=active_events, segment=segment, end=end)
    unit = ["segment", "user_id"] if segment is not None else ["user_id"]
    keys = keys.mutate(day=keys.period - first_day)
    nxt = keys.day.lead().over(ibis.window(group_by=unit, order_by=keys.day))
    keys = keys.mutate(gap=ibis.least(ibis.coalesce(nxt - keys.day, longest + 1), longest + 1))
    group = (["segment"] if segment is not None else []) + ["day", "gap"]
    return keys.group_by(group).aggregate(users=_.count())


def members_expr(src: IbisEvents, period: str, *, start_events=None, cohorts: str = "first_time",
                 segment: str | None = None, end=None, properties: Sequence[str] = ()):
    """First start event per user (``cohorts="first_time"``) or per user × period (``"recurring"``).

    Columns ``user_id, cohort`` (period ordinal), ``start`` (UTC timestamp), [``segment``], properties.
    Ties in time are broken by :data:`SEQ_COLUMN` when present.
    """
    t = cut(src, end)
    predicate = event_predicate(src, start_events, "start_events")
    if predicate is not None:
        t = t.filter(t.event.isin(as_event_list(start_events, "start_events")))
    t = t.mutate(cohort=period_ordinal(t.timestamp, period, src.tz, src.backend))
    if segment is None and not properties:
        # nothing to read off the first row: a grouped minimum, no window sort
        first = t.group_by(["user_id"] if cohorts == "first_time" else ["user_id", "cohort"]).aggregate(
            start=utc_instant(t.timestamp).min())
        return first.select("user_id", cohort=period_ordinal(first.start, period, src.tz, src.backend), start=first.start)
    keys = [t.user_id] if cohorts == "first_time" else [t.user_id, t.cohort]
    t = t.mutate(_rank=ibis.row_number().over(ibis.window(group_by=keys, order_by=_order(t))))
    t = t.filter(t._rank == 0)
    columns = {"user_id": t.user_id, "cohort": t.cohort, "start": utc_instant(t.timestamp)}
    if segment is not None:
        src.check_column(segment)
        columns["segment"] = segment_value(t, segment)
    for name in properties:
        src.check_column(name, "properties")
        columns[name] = t[name]
    return t.select(**columns)


def members(src: IbisEvents, period: str, **options) -> pd.DataFrame:
    """:func:`members_expr`, executed."""
    return execute(members_expr(src, period, **options))


def data_bounds(src: IbisEvents, end=None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last event timestamp (UTC) before ``end``."""
    t = cut(src, end)
    ts = utc_instant(t.timestamp)
    row = t.aggregate(first=ts.min(), last=ts.max()).to_pandas().iloc[0]
    if pd.isna(row["last"]):
        raise ValueError(f"no events before end={end!r}")
    return as_utc(row["first"], "first"), as_utc(row["last"], "last")


def retention_counts(src: IbisEvents, period: str, **options) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`retention_counts_expr`, executed: ``(groups, counts)``.

    On the calendar clock the member counts follow from ``counts`` when every member is counted
    there exactly once at a known offset, so only one query runs: with ``kind="unbounded"`` every
    member has one row (its last offset); with ``kind="n_period"`` and any event a return
    (``return_events`` None) every member is active in its own cohort period, offset 0.

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["x"] * 3,
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02"], utc=True)})
    >>> options = dict(kind="n_period", cohorts="first_time", clock="calendar", start_events=None, return_events=None,
    ...                segment=None, end=None, end_us=0, include_partial=False)
    >>> groups, counts = retention_counts(from_frame(ev), "day", **options)
    >>> groups.sort_values("cohort")["members"].tolist(), counts.sort_values(["cohort", "offset"])["members"].tolist()
    ([1, 1], [1, 1, 1])
    """
    groups, counts = retention_counts_expr(src, period, **options)
    if options["clock"] != "calendar" or (options["kind"] == "n_period" and options["return_events"] is not None):
        return execute(groups), execute(counts)
    counts = execute(counts)
    keys = [c for c in counts.columns if c not in ("offset", "members")]
    members = counts[counts["offset"] == 0] if options["kind"] == "n_period" else counts
    groups = members.groupby(keys, sort=False, dropna=False)["members"].sum().reset_index()
    return groups.astype({"members": np.int64}), counts


def _retention_inputs(src: IbisEvents, period: str, *, cohorts: str, clock: str, start_events, return_events,
                      segment: str | None, end, end_us: int, include_partial: bool):
    """Members, their groups and what a return is, shared by the retention and bracket counts.

    Returns ``(member, groups, keys, returns)``: calendar clock -- ``returns`` holds the distinct
    ``a_user, period`` of return events; rolling clock -- the members joined with their return
    events at window ``offset >= 0`` (and ``member`` carries ``last_eligible``).
    """
    keys = ["cohort"] + (["segment"] if segment is not None else [])
    # every event starts and returns (calendar clock): a user's cohort is its first active period (the
    # period ordinal grows with time), so the keys are scanned once and the members read off them
    from_keys = clock != "rolling" and cohorts == "first_time" and start_events is None and return_events is None \
        and segment is None
    member = None if from_keys else members_expr(src, period, start_events=start_events, cohorts=cohorts,
                                                 segment=segment, end=end)
    t = cut(src, end)
    if event_predicate(src, return_events, "return_events") is not None:
        t = t.filter(t.event.isin(as_event_list(return_events, "return_events")))
    if clock == "rolling":
        length = ROLLING_US[period]
        end_lit = ibis.literal(pd.Timestamp(end_us * 1000, tz="UTC").to_pydatetime())
        span = end_lit.delta(member.start, unit="microsecond")
        last = ((span - 1) // length) if include_partial else (span // length - 1)
        member = member.mutate(last_eligible=last.cast("int64"))
        groups = member.group_by(keys + ["last_eligible"]).aggregate(members=_.count(), first_start=_.start.min())
        ret = t.select(r_user=t.user_id, r_ts=utc_instant(t.timestamp))
        joined = member.join(ret, member.user_id == ret.r_user)
        offset = (joined.r_ts.delta(joined.start, unit="microsecond") // length).cast("int64")
        # floor division: returns before the start fall into negative windows and never count
        return member, groups, keys, joined.mutate(offset=offset).filter(_.offset >= 0)
    active = t.select(a_user=t.user_id, period=period_ordinal(t.timestamp, period, src.tz, src.backend)).distinct()
    if from_keys:
        member = active.group_by(user_id=active.a_user).aggregate(cohort=active.period.min())
    return member, member.group_by(keys).aggregate(members=_.count()), keys, active


def _calendar_offsets(member, active):
    """Members joined with their active periods at or after the cohort: ``offset`` = periods after it."""
    joined = member.join(active, (member.user_id == active.a_user) & (active.period >= member.cohort))
    return joined.mutate(offset=joined.period - joined.cohort)


def retention_counts_expr(src: IbisEvents, period: str, *, kind: str, cohorts: str, clock: str, start_events,
                          return_events, segment: str | None, end, end_us: int, include_partial: bool):
    """The two small tables retention is computed from (Ibis expressions).

    ``groups``: members per ``cohort`` (× ``segment``) (× ``last_eligible`` with ``clock="rolling"``,
    the last whole window observed before the data end).

    ``counts``: for ``kind="n_period"`` the members active at each ``offset``
    (calendar: periods after the cohort; rolling: 24 h windows after the start, at most
    ``last_eligible``); for ``kind="unbounded"`` the members per ``offset`` = their last
    return offset (negative: none at or after the start).
    """
    member, groups, keys, returns = _retention_inputs(
        src, period, cohorts=cohorts, clock=clock, start_events=start_events, return_events=return_events,
        segment=segment, end=end, end_us=end_us, include_partial=include_partial)
    if clock == "rolling":
        joined = returns
        if kind == "n_period":
            active = joined.filter(_.offset <= _.last_eligible).select(*(["user_id"] + keys + ["offset"])).distinct()
            counts = active.group_by(keys + ["offset"]).aggregate(members=_.count())
        else:
            last_off = joined.group_by(["user_id"] + keys + ["last_eligible"]).aggregate(offset=_.offset.max())
            counts = (member.left_join(last_off, "user_id").select(
                *keys, "last_eligible", offset=ibis.coalesce(last_off.offset, -1))
                .group_by(keys + ["last_eligible", "offset"]).aggregate(members=_.count()))
        return groups, counts
    active = returns
    if kind == "n_period":
        counts = _calendar_offsets(member, active).group_by(keys + ["offset"]).aggregate(members=_.count())
    else:
        last = active.group_by("a_user").aggregate(last_period=_.period.max())
        joined = member.left_join(last, member.user_id == last.a_user)
        offset = ibis.greatest(ibis.coalesce(joined.last_period - joined.cohort, -1), -1)
        counts = joined.mutate(offset=offset).group_by(keys + ["offset"]).aggregate(members=_.count())
    return groups, counts


def bracket_counts_expr(src: IbisEvents, period: str, brackets, *, cohorts: str, clock: str, start_events,
                        return_events, segment: str | None, end, end_us: int, include_partial: bool):
    """The small tables bracket retention is computed from: ``groups`` as :func:`retention_counts_expr`, and

    ``counts``: per group (× ``last_eligible``, rolling) and ``bracket`` (position in ``brackets``)
    the members with a return in at least one of the bracket's periods ``first..last``.
    """
    member, groups, keys, returns = _retention_inputs(
        src, period, cohorts=cohorts, clock=clock, start_events=start_events, return_events=return_events,
        segment=segment, end=end, end_us=end_us, include_partial=include_partial)
    offsets = returns if clock == "rolling" else _calendar_offsets(member, returns)
    group = keys + (["last_eligible"] if clock == "rolling" else [])
    parts = []
    for j, (first, last) in enumerate(brackets):
        inside = offsets.filter((_.offset >= int(first)) & (_.offset <= int(last)))
        hit = inside.select(*(["user_id"] + group)).distinct()  # user_id + cohort: one row per member
        parts.append(hit.group_by(group).aggregate(members=_.count()).mutate(bracket=ibis.literal(j)))
    return groups, ibis.union(*parts)


def return_offsets_expr(src: IbisEvents, period: str, offsets, *, anchors=None, clock: str = "calendar",
                        start_events=None, return_events=None, end=None):
    """Per-user retention inputs: ``members`` (``user_id, cohort, start``) and the distinct ``user_id, offset``
    at which each member has a return event, for the wanted ``offsets`` only.

    ``anchors`` (an Ibis table ``user_id, cohort, start``) replaces the first start events
    (an A/B assignment); calendar offsets are periods after the cohort, rolling offsets
    24 h (7 × 24 h) windows after the start (returns before the start never count).
    """
    member = anchors if anchors is not None else members_expr(src, period, start_events=start_events, end=end)
    t = cut(src, end)
    if event_predicate(src, return_events, "return_events") is not None:
        t = t.filter(t.event.isin(as_event_list(return_events, "return_events")))
    wanted = [int(k) for k in offsets]
    if clock == "rolling":
        ret = t.select(r_user=t.user_id, r_ts=utc_instant(t.timestamp))
        j = member.join(ret, member.user_id == ret.r_user)
        offset = (j.r_ts.delta(j.start, unit="microsecond") // ROLLING_US[period]).cast("int64")
    else:
        ret = t.select(r_user=t.user_id, period=period_ordinal(t.timestamp, period, src.tz, src.backend)).distinct()
        j = member.join(ret, member.user_id == ret.r_user)
        offset = (j.period - j.cohort).cast("int64")
    hits = j.select(user_id=j.user_id, offset=offset).filter(_.offset.isin(wanted)).distinct()
    return member, hits


def bracket_counts(src: IbisEvents, period: str, brackets, **options) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`bracket_counts_expr`, executed: ``(groups, counts)``."""
    groups, counts = bracket_counts_expr(src, period, brackets, **options)
    return execute(groups), execute(counts)


def session_expr(src: IbisEvents, timeout, *, end=None, keep: Sequence[str] = (),
                 view_events: Iterable[str] = ("screen_view", "page_view", "app_open"),
                 conversion_events: Iterable[str] = ("purchase",), engaged_min_seconds: float = 10.0,
                 engaged_min_views: int = 2, rebuild: bool = False):
    """One row per session (a gap strictly longer than ``timeout`` starts one, DESIGN §5).

    Events that carry a ``session_id`` keep those sessions (a new one where it changes, missing
    values one label) unless ``rebuild=True``, as :func:`engagement_utils.sessions.assign_sessions`.
    Columns ``user_id, session, start, end, duration_us, n_events, n_views, converted, bounce, engaged``,
    ``revenue`` when the events carry it, and the ``keep`` columns from each session's first event.
    """
    t = cut(src, end)
    window = ibis.window(group_by=t.user_id, order_by=_order(t))
    rows = ibis.window(group_by=t.user_id, order_by=_order(t), preceding=None, following=0)
    ts = utc_instant(t.timestamp)
    prev = ts.lag().over(window)
    if "session_id" in t.columns and not rebuild:
        new = prev.isnull() | ~t.session_id.identical_to(t.session_id.lag().over(window))
    else:
        new = prev.isnull() | (ts > prev + interval(timeout))
    t = t.mutate(_ts=ts, _new=new.cast("int64"))
    t = t.mutate(session=t._new.sum().over(rows))
    aggs = dict(
        start=t._ts.min(), end=t._ts.max(), n_events=t.count(),
        n_views=t.event.isin(list(view_events)).cast("int64").sum(),
        converted=t.event.isin(list(conversion_events)).cast("int64").max() > 0,
    )
    if "revenue" in t.columns:
        aggs["revenue"] = t.revenue.fill_null(0).sum()
    for name in keep:
        src.check_column(name, "keep")
        aggs[name] = ibis.ifelse(t._new == 1, t[name].cast("string"), None).max()
    s = t.group_by(["user_id", "session"]).aggregate(**aggs)
    s = s.mutate(duration_us=s.end.delta(s.start, unit="microsecond"))
    return s.mutate(bounce=s.n_events == 1,
                    engaged=(s.duration_us >= int(engaged_min_seconds * 10**6)) | (s.n_views >= engaged_min_views) | s.converted)


def session_stats(src: IbisEvents, timeout="30min", *, segment: str | None = None, end=None, **options) -> pd.DataFrame:
    """Per segment: ``sessions, users, sum_duration_s, median_duration_s, bounced, engaged, median_sessions_per_user``."""
    s = session_expr(src, timeout, end=end, keep=[segment] if segment else (), **options)
    keys = []
    if segment is not None:
        s = s.mutate(segment=s[segment].fill_null(MISSING_SEGMENT))
        keys = ["segment"]
    grouped = s.group_by(keys) if keys else s
    stats = grouped.aggregate(sessions=_.count(), users=_.user_id.nunique(), sum_duration_us=_.duration_us.sum(),
                              median_duration_us=_.duration_us.quantile(0.5), bounced=_.bounce.cast("int64").sum(),
                              engaged=_.engaged.cast("int64").sum())
    per_user = s.group_by(keys + ["user_id"]).aggregate(n=_.count())
    per_user = (per_user.group_by(keys) if keys else per_user).aggregate(median_sessions_per_user=_.n.quantile(0.5))
    out = execute(stats)
    medians = execute(per_user)
    out = out.merge(medians, on=keys) if keys else pd.concat([out, medians], axis=1)
    return out.sort_values(keys).reset_index(drop=True) if keys else out


def _step_predicate(t, step, funnel_module):
    predicate = None
    for alt in funnel_module.parse_step(step):
        match = t.event == alt["event"]
        for column, value in alt.items():
            if column != "event":
                if column not in t.columns:
                    raise ValueError(f"funnel step {step!r} filters on column {column!r}, which the events table does not have")
                match &= t[column].cast("string") == str(value)
        predicate = match if predicate is None else predicate | match
    return predicate


def funnel_reach_expr(src: IbisEvents, steps: Sequence, window, *, ordering: str = "sequential",
                      segment: str | None = None, end=None):
    """Per entering user the microseconds from the entry to each reached step (orderings of ``funnels.funnel``).

    The entry is the user's first step-1 event (in time, then :data:`SEQ_COLUMN` order); a step
    counts at most ``window`` after the entry.

    * ``"sequential"``: step k is the earliest step-k event after the step k-1 match (later in
      time, or equal in time and later in :data:`SEQ_COLUMN`);
    * ``"strict"``: a run of consecutive events (row k after a step-1 row inside the window
      matches step k, rows numbered per user in time order); step k's time is that row's in the
      first run reaching k;
    * ``"any"``: step k is reached when steps 1..k all happened in ``[entry, entry + window]``;
      its time is the latest of their first times.

    Columns ``user_id, step, elapsed_us`` [, ``segment``], one row per reached step.
    """
    from .. import funnels
    from ..validation import check_option

    check_option("ordering", ordering, funnels.ORDERINGS)
    t = cut(src, end)
    has_seq = SEQ_COLUMN in t.columns
    seq = t[SEQ_COLUMN] if has_seq else ibis.literal(0)
    t = t.mutate(_ts=utc_instant(t.timestamp), _seq=seq)
    first = t.filter(_step_predicate(t, steps[0], funnels))
    first = first.mutate(_rank=ibis.row_number().over(ibis.window(group_by=first.user_id, order_by=[first._ts, first._seq])))
    first = first.filter(first._rank == 0)
    columns = dict(user_id=first.user_id, t1=first._ts, prev_ts=first._ts, prev_seq=first._seq)
    if segment is not None:
        src.check_column(segment)
        columns["segment"] = segment_value(first, segment)
    frontier = first.select(**columns)
    extra = ["segment"] if segment is not None else []
    parts = [frontier.select("user_id", *extra, step=ibis.literal(1), elapsed_us=ibis.literal(0).cast("int64"))]
    if ordering != "sequential":
        return ibis.union(*parts, *_unordered_reach(t, frontier, steps, window, ordering, extra, funnels))
    for k in range(1, len(steps)):
        cand = t.filter(_step_predicate(t, steps[k], funnels)).select(c_user=_.user_id, c_ts=_._ts, c_seq=_._seq)
        after = (cand.c_ts > frontier.prev_ts) | ((cand.c_ts == frontier.prev_ts) & (cand.c_seq > frontier.prev_seq)) \
            if has_seq else cand.c_ts > frontier.prev_ts
        j = frontier.join(cand, (frontier.user_id == cand.c_user) & after
                          & (cand.c_ts <= frontier.t1 + interval(window)))
        j = j.mutate(_rank=ibis.row_number().over(ibis.window(group_by=j.user_id, order_by=[j.c_ts, j.c_seq])))
        j = j.filter(j._rank == 0)
        frontier = j.select("user_id", "t1", *extra, prev_ts=j.c_ts, prev_seq=j.c_seq)
        parts.append(frontier.select("user_id", *extra, step=ibis.literal(k + 1),
                                     elapsed_us=frontier.prev_ts.delta(frontier.t1, unit="microsecond")))
    return ibis.union(*parts)


def _unordered_reach(t, entry, steps: Sequence, window, ordering: str, extra: list, funnels) -> list:
    """Strict and any-order funnels: one aggregate per entering user, then one row per reached step (k >= 2)."""
    deadline = entry.t1 + interval(window)
    n = len(steps)
    flags = {f"_m{k}": _step_predicate(t, steps[k], funnels) for k in range(n)}
    t = t.mutate(**flags)
    e = entry.select(e_user=entry.user_id, e_t1=entry.t1, e_deadline=deadline, *extra)
    if ordering == "strict":
        w = ibis.window(group_by=t.user_id, order_by=[t._ts, t._seq])
        ahead = {}
        for k in range(1, n):  # row k after each row, within the user (beyond the last row: null)
            ahead[f"_n{k}"] = t[f"_m{k}"].lead(k).over(w)
            ahead[f"_t{k}"] = t._ts.lead(k).over(w)
        rows = t.mutate(**ahead)
        j = rows.join(e, (rows.user_id == e.e_user) & rows._m0 & (rows._ts <= e.e_deadline))
        aggs, alive = {}, None
        for k in range(1, n):
            ok = ibis.coalesce(j[f"_n{k}"], False) & (j[f"_t{k}"] <= j.e_deadline)
            alive = ok if alive is None else alive & ok
            aggs[f"r{k}"] = ibis.ifelse(alive, j[f"_t{k}"], None).min()  # the first run reaching k
        reached = j.group_by(["e_user", "e_t1", *extra]).aggregate(**aggs)
    else:
        j = t.join(e, (t.user_id == e.e_user) & (t._ts >= e.e_t1) & (t._ts <= e.e_deadline))
        firsts = j.group_by(["e_user", "e_t1", *extra]).aggregate(
            **{f"f{k}": ibis.ifelse(j[f"_m{k}"], j._ts, None).min() for k in range(1, n)})
        latest = {}
        for k in range(1, n):  # step k: all of steps 1..k happened; the latest of their first times
            done = [firsts[f"f{i}"] for i in range(1, k + 1)]
            missing = ibis.or_(*[d.isnull() for d in done])
            latest[f"r{k}"] = ibis.ifelse(missing, None, ibis.greatest(*done) if k > 1 else done[0])
        reached = firsts.mutate(**latest)
    parts = []
    for k in range(1, n):
        hit = reached.filter(reached[f"r{k}"].notnull())
        parts.append(hit.select(user_id=hit.e_user, *extra, step=ibis.literal(k + 1),
                                elapsed_us=hit[f"r{k}"].delta(hit.e_t1, unit="microsecond")))
    return parts


def funnel_reach(src: IbisEvents, steps: Sequence, window="7D", **options) -> pd.DataFrame:
    """:func:`funnel_reach_expr`, executed (sorted by user and step)."""
    if isinstance(steps, str) or len(steps) < 2:
        raise ValueError(f"a funnel needs a list of at least two steps, got {steps!r}")
    out = execute(funnel_reach_expr(src, steps, window, **options))
    return out.sort_values(["user_id", "step"]).reset_index(drop=True)


def arm_statistics(table, metrics: Sequence[str], *, variant: str = "variant", segment: str | None = None) -> pd.DataFrame:
    """Per arm (× segment) and metric: ``n`` (non-missing values), ``sum``, ``sum_sq`` of a per-user metric table.

    ``table`` is an Ibis table (a per-user metric table built in the engine) or a pandas frame
    (run through a DuckDB memtable).  Means and variances follow in Python:
    ``mean = sum / n``, ``var = (sum_sq - n mean²) / (n - 1)``.

    Examples
    --------
    >>> users = pd.DataFrame({"variant": ["a", "a", "b"], "converted": [1.0, 0.0, 1.0]})
    >>> arm_statistics(users, ["converted"]).values.tolist()
    [['a', 'converted', 2, 1.0, 1.0], ['b', 'converted', 1, 1.0, 1.0]]
    """
    if isinstance(table, pd.DataFrame):
        table = ibis.memtable(table)
    keys = [variant] + ([segment] if segment is not None else [])
    missing = [c for c in list(metrics) + keys if c not in table.columns]
    if missing:
        raise ValueError(f"the metric table has no column(s) {missing}; columns present: {list(table.columns)}")
    aggs = {}
    for m in metrics:
        y = table[m].cast("float64")
        aggs[f"{m}__n"] = y.count()
        aggs[f"{m}__sum"] = y.sum()
        aggs[f"{m}__sum_sq"] = (y * y).sum()
    wide = table.group_by(keys).aggregate(**aggs).to_pandas()
    long = []
    for m in metrics:
        part = wide[keys].copy()
        part["metric"] = m
        part["n"] = wide[f"{m}__n"].astype(np.int64)
        part["sum"] = wide[f"{m}__sum"].astype(float).fillna(0.0)
        part["sum_sq"] = wide[f"{m}__sum_sq"].astype(float).fillna(0.0)
        long.append(part)
    out = pd.concat(long, ignore_index=True)
    if segment is not None:
        out = out.rename(columns={segment: "segment"})
        keys = [variant, "segment"]
    return out.sort_values(keys + ["metric"], kind="stable")[keys + ["metric", "n", "sum", "sum_sq"]].reset_index(drop=True)


def user_features_expr(src: IbisEvents, *, end, timeout="30min", conversion_events: Iterable[str] = ("purchase",)):
    """Per user before ``end``: ``recency_days, tenure_days, active_days, events, sessions, revenue, converted``."""
    t = cut(src, end)
    end_lit = ibis.literal(as_utc(end, "end").to_pydatetime())
    day_us = 86_400 * 10**6
    ts = utc_instant(t.timestamp)
    t = t.mutate(_day=period_ordinal(t.timestamp, "day", src.tz, src.backend))
    aggs = dict(last=ts.max(), first=ts.min(), active_days=t._day.nunique(), events=t.count(),
                converted=t.event.isin(list(conversion_events)).cast("int64").max())
    if "revenue" in t.columns:
        aggs["revenue"] = t.revenue.fill_null(0).sum()
    per_user = t.group_by("user_id").aggregate(**aggs)
    sessions = session_expr(src, timeout, end=end).group_by("user_id").aggregate(sessions=_.count())
    out = per_user.join(sessions, "user_id")
    return out.select(
        "user_id",
        recency_days=(end_lit.delta(out.last, unit="microsecond") // day_us).cast("int64"),
        tenure_days=(end_lit.delta(out.first, unit="microsecond") // day_us).cast("int64"),
        active_days=out.active_days.cast("int64"), events=out.events.cast("int64"), sessions=out.sessions.cast("int64"),
        **({"revenue": out.revenue.cast("float64")} if "revenue" in out.columns else {}),
        converted=out.converted == 1,
    )


def user_features(src: IbisEvents, *, end, **options) -> pd.DataFrame:
    """:func:`user_features_expr`, executed (sorted by user)."""
    return execute(user_features_expr(src, end=end, **options)).sort_values("user_id").reset_index(drop=True)
