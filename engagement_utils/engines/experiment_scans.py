"""03's per-user experiment metrics with the event scans on the engine (issue 15).

:func:`experiment_users` is :func:`engagement_utils.experiments.experiment_users` for an
:class:`~.connect.IbisEvents` source: the same definitions (calendar days in the report
timezone from each user's assignment day, censoring at the data end) and the same frame.
Only the scans run in the engine; what comes back is small:

* per assigned user with events, the counts of the windows (conversions, events, distinct
  active days, purchases, sessions and their summed duration in microseconds) -- one row per user;
* the events with revenue of the assigned users inside the windows, in event order, so that
  numpy adds them in the in-memory order and the sums agree to the last bit;
* the retention flags, from :func:`engagement_utils.retention.user_retention` on the engine
  (anchored at the assignments: the distinct user x day offsets with activity).

The assignments are a small pandas frame: they go into the engine as a memtable
(``ibis.memtable``, on DuckDB and Spark alike) holding each user's row, assignment instant
(microseconds, UTC) and assignment day (the day ordinal cut in ``tz`` in Python).  Days of the
events are the backend's own local dates (:func:`.timezones.period_ordinal`), instants are
compared as timestamps and durations are whole microseconds: never ``epoch_seconds()``
(fractional on DuckDB, whole on Spark).

:func:`retention_by_variant` needs nothing more: it is the per-user retention flags summed by
variant, and those flags come from the engine through ``user_retention``.
"""

from __future__ import annotations

from typing import Sequence

import ibis
import numpy as np
import pandas as pd

from .. import periods
from ..core import as_utc
from . import ibis_scans
from .connect import SEQ_COLUMN, IbisEvents
from .timezones import period_ordinal, utc_instant

__all__ = ["experiment_users", "assignments_table", "window_counts", "window_revenue"]

SESSION_TIMEOUT = "30min"
"""The inactivity gap of the ``sessions`` metrics (as ``sessions.sessionize``'s default in memory)."""


def assignments_table(src: IbisEvents, users: pd.DataFrame, tz: str):
    """The assigned users as an Ibis memtable: ``a_user`` (the events' id type), ``a_row``, ``a_day``, ``a_at``.

    ``a_row`` is the row in ``users`` (assignment order), ``a_day`` the assignment day's ordinal
    in ``tz`` and ``a_at`` the assignment instant (UTC, microseconds).

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": [7], "event": ["open"], "timestamp": pd.to_datetime(["2024-01-01"], utc=True)})
    >>> users = pd.DataFrame({"user_id": ["7"], "assigned_at": pd.to_datetime(["2024-01-01 23:30"], utc=True)})
    >>> a = assignments_table(from_frame(ev), users, "Europe/Berlin").to_pandas()
    >>> a[["a_user", "a_row", "a_day"]].values.tolist()
    [[7, 0, 19724]]
    """
    ids = pd.Series(users["user_id"].to_numpy(dtype=object), dtype=object)
    integer = src.table.schema()["user_id"].is_integer()
    frame = pd.DataFrame({
        "a_user": pd.to_numeric(ids).astype("int64") if integer else ids.astype(str),
        "a_row": np.arange(len(users), dtype=np.int64),
        "a_day": periods.period_ordinal(users["assigned_at"], "day", tz).astype(np.int64),
        "a_at": pd.to_datetime(users["assigned_at"], utc=True).astype("datetime64[us, UTC]").to_numpy(),
    })
    frame["a_at"] = pd.to_datetime(frame["a_at"], utc=True)
    return ibis.memtable(frame)


def _joined(src: IbisEvents, a, end, *, first_day: int, last_day: int):
    """The events before ``end`` of the assigned users, with ``rel_day`` and ``after`` (at or after the assignment).

    Only days ``first_day <= rel_day < last_day`` (relative to the assignment day) are kept.
    """
    t = ibis_scans.cut(src, end)
    columns = dict(e_user=t.user_id, e_ts=utc_instant(t.timestamp), e_day=period_ordinal(t.timestamp, "day", src.tz, src.backend),
                   e_event=t.event.cast("string"))
    if "revenue" in t.columns:
        columns["e_revenue"] = t.revenue.cast("float64")
    if SEQ_COLUMN in t.columns:
        columns["e_seq"] = t[SEQ_COLUMN]
    ev = t.select(**columns)
    j = a.join(ev, a.a_user == ev.e_user)
    j = j.mutate(rel_day=(j.e_day - j.a_day).cast("int64"), after=j.e_ts >= j.a_at)
    return j.filter((j.rel_day >= first_day) & (j.rel_day < last_day))


def _sum_of(flag) -> ibis.Value:
    return flag.cast("int64").sum()


def window_counts(src: IbisEvents, a, groups: Sequence[str], *, conversion_events: Sequence[str], conversion_days: int,
                  window_days: int, pre_period_days: int, end=None) -> pd.DataFrame:
    """Per assigned user with events (``a_row``) the counts of the experiment windows, one row per user.

    Post window: at or after the assignment instant, day < ``window_days`` (conversions: day <
    ``conversion_days``); pre-period: before the instant, day >= -``pre_period_days``.  Columns
    (by metric group): ``conversions``; ``events_post, events_pre, active_days_post, active_days_pre``;
    ``purchases_post, purchases_pre``; ``sessions_post, sessions_pre, duration_us_post, duration_us_pre``
    (sessions by their start, a gap longer than 30 minutes starts one).
    """
    event_groups = [g for g in groups if g in ("conversion", "activity", "revenue")]
    frames = []
    if event_groups:
        j = _joined(src, a, end, first_day=-pre_period_days, last_day=max(conversion_days, window_days))
        post, pre = j.after & (j.rel_day < window_days), ~j.after
        conversion = j.e_event.isin(list(conversion_events))
        aggs = {}
        if "conversion" in groups:
            aggs["conversions"] = _sum_of(j.after & (j.rel_day < conversion_days) & conversion)
        if "activity" in groups:
            aggs.update(events_post=_sum_of(post), events_pre=_sum_of(pre),
                        active_days_post=ibis.ifelse(post, j.rel_day, None).nunique(),
                        active_days_pre=ibis.ifelse(pre, j.rel_day, None).nunique())
        if "revenue" in groups:
            aggs.update(purchases_post=_sum_of(post & conversion), purchases_pre=_sum_of(pre & conversion))
        frames.append(ibis_scans.execute(j.group_by("a_row").aggregate(**aggs)).set_index("a_row"))
    if "sessions" in groups:
        t = src.table
        mine = src.with_table(t.semi_join(a, t.user_id == a.a_user))  # a session never spans two users
        # rebuilt by the gap rule, as the in-memory experiment sessionizes user, time and event only
        s = ibis_scans.session_expr(mine, SESSION_TIMEOUT, end=end, rebuild=True).select("user_id", "start", "duration_us")
        s = s.mutate(s_day=period_ordinal(s.start, "day", src.tz, src.backend))
        sj = a.join(s, a.a_user == s.user_id)
        rel, after = sj.s_day - sj.a_day, sj.start >= sj.a_at
        post, pre = after & (rel < window_days), ~after & (rel >= -pre_period_days)
        per_user = sj.group_by("a_row").aggregate(
            sessions_post=_sum_of(post), sessions_pre=_sum_of(pre),
            duration_us_post=ibis.ifelse(post, sj.duration_us, 0).sum(), duration_us_pre=ibis.ifelse(pre, sj.duration_us, 0).sum())
        frames.append(ibis_scans.execute(per_user).set_index("a_row"))
    if not frames:
        return pd.DataFrame(index=pd.Index([], name="a_row", dtype=np.int64))
    return pd.concat(frames, axis=1).fillna(0)


def window_revenue(src: IbisEvents, a, n: int, *, window_days: int, pre_period_days: int, end=None):
    """Per user (``n`` in assignment order) the revenue in the post window and the pre-period.

    The engine returns the window's events with revenue (not every event) ordered by user, time
    and :data:`~.connect.SEQ_COLUMN`; ``np.bincount`` adds them in that order, as the in-memory
    function adds its events, so the sums are equal to the last bit.  Without a ``revenue``
    column both are 0.
    """
    if "revenue" not in src.table.columns:
        return np.zeros(n), np.zeros(n)
    j = _joined(src, a, end, first_day=-pre_period_days, last_day=window_days)
    j = j.filter(j.e_revenue.notnull() & (j.e_revenue != 0))
    order = [j.a_row, j.e_ts] + ([j.e_seq] if "e_seq" in j.columns else [])
    rows = ibis_scans.execute(j.order_by(order).select("a_row", "after", "e_revenue"))
    row = rows["a_row"].to_numpy(np.int64)
    after = rows["after"].to_numpy(bool)
    revenue = rows["e_revenue"].to_numpy(float)
    return (np.bincount(row[after], weights=revenue[after], minlength=n),
            np.bincount(row[~after], weights=revenue[~after], minlength=n))


def experiment_users(
    assignments: pd.DataFrame,
    events: IbisEvents,
    experiment: str,
    *,
    metrics: Sequence[str] | None = None,
    conversion_events: Sequence[str] = ("purchase",),
    conversion_days: int = 14,
    retention_days: Sequence[int] = (1, 7, 30),
    window_days: int = 14,
    pre_period_days: int = 28,
    tz: str = "UTC",
    end=None,
) -> pd.DataFrame:
    """:func:`engagement_utils.experiments.experiment_users` with the event scans in the engine (the same frame).

    Same parameters, definitions, columns, dtypes, row order and ``attrs["experiment"]`` as the
    in-memory function (the reference); the scans are :func:`window_counts`,
    :func:`window_revenue` and the engine's ``user_retention``.  Equal values, with one
    exception at the last bits: ``time_in_app_min`` is the engine's whole-microsecond sum of
    session durations in minutes, where memory adds each session's minutes (a relative
    difference near 1e-16).  Timestamps are compared at the engine's precision (microseconds).

    Examples
    --------
    An assignment at midnight in Berlin (23:00 UTC): an event at that instant is day 0, one a
    microsecond earlier is the pre-period's (day -1).

    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["app_open", "purchase", "app_open"],
    ...     "timestamp": pd.to_datetime(["2024-03-30 22:59:59.999999", "2024-03-30 23:00:00.0", "2024-04-01 00:00:00.0"], utc=True)})
    >>> asg = pd.DataFrame({"user_id": ["a"], "experiment": "x", "variant": ["control"],
    ...     "assigned_at": pd.to_datetime(["2024-03-30 23:00"], utc=True)})
    >>> u = experiment_users(asg, from_frame(ev), "x", metrics=["conversion", "activity"], tz="Europe/Berlin",
    ...     conversion_days=1, window_days=1, pre_period_days=1)
    >>> u[["converted_1d", "events_1d", "pre_events_1d"]].values.tolist()
    [[1.0, 1.0, 1.0]]
    """
    from ..experiments.metrics import assigned_users, assignment_anchor, experiment_frame, metric_groups
    from ..retention import user_retention

    groups = metric_groups(metrics, conversion_days=conversion_days, window_days=window_days, pre_period_days=pre_period_days)
    users = assigned_users(assignments, experiment)
    n = len(users)
    src = events.with_tz(tz)
    end_ts = None if end is None else as_utc(end, "end")
    last = ibis_scans.data_bounds(src)[1] if end_ts is None else end_ts
    first_incomplete = periods.first_incomplete_ordinal(last, "day", tz)
    flags = None
    if "retention" in groups:
        flags = user_retention(src, days=tuple(retention_days), anchor=assignment_anchor(users), tz=tz, end=end)
    a = assignments_table(src, users, tz)
    options = dict(window_days=window_days, pre_period_days=pre_period_days, end=end_ts)
    counts = window_counts(src, a, groups, conversion_events=conversion_events, conversion_days=conversion_days, **options)
    counts = counts.reindex(np.arange(n), fill_value=0)

    def column(name: str) -> np.ndarray:
        return counts[name].to_numpy(dtype=float)

    windowed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if "activity" in groups:
        windowed["events"] = (column("events_post"), column("events_pre"))
        windowed["active_days"] = (column("active_days_post"), column("active_days_pre"))
    if "revenue" in groups:
        windowed["purchases"] = (column("purchases_post"), column("purchases_pre"))
        windowed["revenue"] = window_revenue(src, a, n, **options)
    if "sessions" in groups:
        windowed["sessions"] = (column("sessions_post"), column("sessions_pre"))
        # whole microseconds -> nanoseconds -> seconds -> minutes: one session reads as in memory
        windowed["time_in_app_min"] = tuple(counts[f"duration_us_{w}"].to_numpy(np.int64) * 1000 / 1e9 / 60
                                            for w in ("post", "pre"))
    return experiment_frame(users, experiment, first_incomplete,
                            conversions=column("conversions") if "conversion" in groups else None, flags=flags,
                            windowed=windowed, conversion_events=conversion_events, conversion_days=conversion_days,
                            window_days=window_days, pre_period_days=pre_period_days, tz=tz)
