"""Cohorts and retention measures (DESIGN §5): per-user flags, cohort matrices, brackets.

Definitions
-----------
* period 0 is the cohort period; period *k* is the calendar period *k* after it
  (``clock="rolling"``: the *k*-th 24-hour (or 7 × 24-hour) window after the
  user's start, hours ``[24k, 24k + 24)``).
* **censoring**: a period that the data do not cover completely (at or after
  :func:`engagement_utils.periods.first_incomplete_ordinal` of the data end) has
  no value: flags are NaN, matrix cells have ``eligible == 0`` and a NaN rate.
  ``include_partial=True`` keeps periods that have started before the data end.
  :func:`retention_definition` says which was used.

Every function takes the events as a frame or an :class:`~engagement_utils.core.EventLog`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .. import periods
from .._docs import fill_doc
from ..core import EventLog, engine_of
from ..validation import check_alpha, check_option
from .log import (
    KINDS, PERIOD_SUFFIX, Lookup, Members, RetentionDefinition, build_cohorts, check_clock, check_offsets,
    count_retained, max_offset, members_from_events, prepare_log, tidy_counts,
)

__all__ = ["default_brackets", "user_retention", "assign_cohorts", "retention_matrix", "retention_table", "bracket_retention",
           "retention_definition", "check_brackets", "anchor_series"]



def anchor_series(anchor) -> pd.Series:
    """Anchor timestamps (UTC) indexed by user id, from a Series or a frame with ``user_id``.

    Examples
    --------
    >>> anchor_series(pd.DataFrame({"user_id": ["a"], "assigned_at": ["2024-01-01 10:00"]})).tolist()
    [Timestamp('2024-01-01 10:00:00+0000', tz='UTC')]
    """
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
    clock: str = "calendar",
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
    clock : {"calendar", "rolling"}
        "rolling": period k is ``[anchor + k·24h, anchor + (k+1)·24h)`` (7·24h for weeks).

    Returns
    -------
    DataFrame
        ``user_id``, ``anchor`` (UTC timestamp), one float column per k.
        :func:`retention_definition` describes what was censored.

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
    even day 0 is censored.  An engine source (:class:`engagement_utils.engines.IbisEvents`)
    runs the scans in its engine with the same result.
    """
    if engine_of(events) == "ibis":
        from ..engines import analyses

        return analyses.user_retention(events, days, anchor=anchor, period=period, tz=tz, start_events=start_events,
                                       return_events=return_events, end=end, include_partial=include_partial, clock=clock)
    ks = check_offsets(days, "days")
    check_clock(clock, period)
    if anchor is not None and start_events is not None:
        raise ValueError("pass either anchor (explicit start times) or start_events (first start event), not both")
    log = prepare_log(events, period, tz, start_events, return_events, end)
    if anchor is None:
        members = members_from_events(log, "first_time")
        user_ids = log.users.take(members.code)
    else:
        anchors = anchor_series(anchor)
        user_ids = anchors.index
        code = log.users.astype(object).get_indexer(user_ids.astype(object))
        if (code < 0).all():
            raise ValueError(
                "none of the anchor users occur in events['user_id']; check that both use the same ids and types "
                f"(anchor e.g. {user_ids[0]!r}, events e.g. {log.users[0]!r})"
            )
        members = Members(code=code.astype(np.int64), cohort=periods.period_ordinal(anchors, period, tz),
                           start_ns=anchors.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").astype(np.int64), row=np.full(len(code), -1))
    lookup = Lookup(log, members, "n_period", clock, include_partial)
    out = pd.DataFrame({"user_id": np.asarray(user_ids), "anchor": pd.to_datetime(members.start_ns, utc=True)})
    for k in ks:
        retained, eligible = lookup(int(k))
        out[f"retained_{PERIOD_SUFFIX[period]}{k}"] = np.where(eligible, retained.astype(float), np.nan)
    return out




def assign_cohorts(
    events: pd.DataFrame,
    period: str = "week",
    *,
    start_events=None,
    tz: str = "UTC",
    properties: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per user: the cohort (period of the first start event over all history).

    Parameters
    ----------
    events : DataFrame
        Canonical events.
    period : {"day", "week", "month"}
    start_events : str or list of str, optional
        What starts a user's life: any event (default), or e.g. ``"signup"``.  Users who
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
    event_log = EventLog.of(events, tz)
    for name in properties:
        event_log.check_column(name, "properties")
    log = prepare_log(event_log, period, tz, start_events, None, None)
    members = members_from_events(log, "first_time")
    out = pd.DataFrame({
        "user_id": np.asarray(log.users.take(members.code)),
        "cohort": periods.ordinal_to_start(members.cohort, period),
        "first_seen": pd.to_datetime(members.start_ns, utc=True),
    })
    for name in properties:
        out[name] = events[name].iloc[log.frame_rows(members.row)].to_numpy()
    return out


@fill_doc
def retention_matrix(
    events: pd.DataFrame, period: str = "week", kind: str = "n_period", *,
    cohorts: str = "first_time", start_events=None, return_events=None, segment: str | None = None,
    max_periods: int | None = None, start=None, end=None, tz: str = "UTC",
    clock: str = "calendar", include_partial: bool = False, alpha: float = 0.05,
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
    events : DataFrame, EventLog or engines.IbisEvents
        Canonical events, full history if possible (first events are looked up
        over all of it).  An :class:`engagement_utils.engines.IbisEvents` runs the
        scans on its engine (DuckDB, Spark, a warehouse) with the same result.
    period : {"day", "week", "month"}
        Calendar periods in ``tz`` (weeks start on Monday).
    kind : {"n_period", "unbounded"}
    {cohort_definition}
    max_periods : int, optional
        Largest k (default: the longest observable).
    {cohort_options}
    {alpha_wilson}

    Returns
    -------
    DataFrame
        ``cohort`` (local period start), [``segment``], ``period`` (k),
        ``cohort_size``, ``eligible``, ``retained``, ``rate``, ``ci_low``,
        ``ci_high``; sorted by cohort, segment, period.  :func:`retention_definition`
        describes the definition used (kind, cohorts, clock, censoring, data end).

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
    if engine_of(events) == "ibis":
        from ..engines import analyses

        return analyses.retention_matrix(events, period, kind, cohorts=cohorts, start_events=start_events,
                                         return_events=return_events, segment=segment, max_periods=max_periods,
                                         start=start, end=end, tz=tz, clock=clock, include_partial=include_partial,
                                         alpha=alpha)
    check_option("kind", kind, KINDS)
    check_alpha(alpha)
    c = build_cohorts(events, period=period, tz=tz, cohorts=cohorts, start_events=start_events,
                      return_events=return_events, segment=segment, start=start, end=end, clock=clock)
    if max_periods is None:
        max_periods = max_offset(c, clock, include_partial)
    if isinstance(max_periods, bool) or not isinstance(max_periods, (int, np.integer)) or max_periods < 0:
        raise ValueError(f"max_periods={max_periods!r}: give a whole number of periods >= 0, or None for all observed")
    ks = np.arange(int(max_periods) + 1)
    lookup = Lookup(c.log, c.members, kind, clock, include_partial)
    retained, eligible = count_retained(lookup, c, len(ks))
    return tidy_counts(c, {"period": ks}, retained, eligible, alpha)


def retention_definition(
    events, period: str = "week", kind: str = "n_period", *,
    cohorts: str = "first_time", start_events=None, return_events=None, segment: str | None = None,
    end=None, tz: str = "UTC", clock: str = "calendar", include_partial: bool = False, alpha: float = 0.05,
    **_ignored,
) -> RetentionDefinition:
    """What :func:`retention_matrix` with the same options counts: data end, censoring, clock.

    An engine source reads the data end from the engine (one aggregate).
    Takes the same options as :func:`retention_matrix` (options that do not
    change the definition, such as ``max_periods`` or ``start``, are accepted
    and ignored, so one options mapping serves both calls).

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "b"], "event": "open",
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-09 08:00"], utc=True)})
    >>> d = retention_definition(ev, "week")
    >>> str(d.first_incomplete_period.date()), d.include_partial
    ('2024-01-08', False)
    """
    if engine_of(events) == "ibis":
        from ..engines import analyses

        return analyses.retention_definition(events, period, kind, cohorts=cohorts, start_events=start_events,
                                             return_events=return_events, segment=segment, end=end, tz=tz, clock=clock,
                                             include_partial=include_partial, alpha=alpha)
    check_option("kind", kind, KINDS)
    check_alpha(alpha)
    check_clock(clock, period, cohorts)
    log = prepare_log(events, period, tz, start_events, return_events, end)
    return RetentionDefinition.of(log, kind=kind, cohorts=cohorts, clock=clock, include_partial=include_partial,
                                  segment=segment, alpha=alpha)


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


@fill_doc
def bracket_retention(
    events: pd.DataFrame, brackets: Sequence[tuple[int, int]] = ((1, 1), (2, 7), (8, 30)), period: str = "day", *,
    cohorts: str = "first_time", start_events=None, return_events=None, segment: str | None = None,
    start=None, end=None, tz: str = "UTC", clock: str = "calendar", include_partial: bool = False, alpha: float = 0.05,
) -> pd.DataFrame:
    """Share of each cohort active at least once inside each bracket of periods.

    A bracket ``(first, last)`` covers periods ``first..last`` after the cohort
    period; a cohort is eligible for it once its last period is observed.

    Parameters
    ----------
    events : DataFrame, EventLog or engines.IbisEvents
        Canonical events, full history if possible (an engine source runs the scans in its engine).
    brackets : sequence of (int, int)
        ``(first, last)`` period numbers of each bracket, both included.
    period : {"day", "week", "month"}
        Calendar periods in ``tz`` (weeks start on Monday).
    {cohort_definition}
    {cohort_options}
    {alpha_wilson}

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
    if engine_of(events) == "ibis":
        from ..engines import analyses

        return analyses.bracket_retention(events, brackets, period, cohorts=cohorts, start_events=start_events,
                                          return_events=return_events, segment=segment, start=start, end=end, tz=tz,
                                          clock=clock, include_partial=include_partial, alpha=alpha)
    bounds = check_brackets(brackets)
    c = build_cohorts(events, period=period, tz=tz, cohorts=cohorts, start_events=start_events,
                 return_events=return_events, segment=segment, start=start, end=end, clock=clock)
    lookup = Lookup(c.log, c.members, "n_period", clock, include_partial)
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
    return tidy_counts(c, {"bracket": labels, "first": bounds[:, 0], "last": bounds[:, 1]}, retained, eligible, alpha)



def check_brackets(brackets) -> np.ndarray:
    """``brackets`` as an ``(n, 2)`` integer array of ``(first, last)`` with ``0 <= first <= last``, or a clear error.

    Examples
    --------
    >>> check_brackets([(1, 1), (2, 7)]).tolist()
    [[1, 1], [2, 7]]
    """
    bounds = np.asarray(brackets)
    if bounds.ndim != 2 or bounds.shape[1] != 2 or not np.issubdtype(bounds.dtype, np.integer) or (bounds < 0).any() or (
        bounds[:, 0] > bounds[:, 1]
    ).any():
        raise ValueError(f"brackets={brackets!r}: give (first, last) pairs of periods with 0 <= first <= last, e.g. [(1, 1), (2, 7)]")
    return bounds


def default_brackets(period: str) -> list[tuple[int, int]]:
    """Usual bracket ranges per period: days 1, 2–7, 8–30; weeks 1, 2–4, 5–12; months 1, 2–3, 4–6.

    Examples
    --------
    >>> default_brackets("week")
    [(1, 1), (2, 4), (5, 12)]
    """
    periods.check_period(period)
    return {"day": [(1, 1), (2, 7), (8, 30)], "week": [(1, 1), (2, 4), (5, 12)], "month": [(1, 1), (2, 3), (4, 6)]}[period]
