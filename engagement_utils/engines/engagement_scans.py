"""Engagement-overview analyses on an engine source: small tables from the engine, the in-memory Python on them.

Two scans serve the sections of report 02 that read activity and sessions:

* :func:`day_extremes` — per user × event × local day, the first and the last event (in
  ``tz``), with the user's properties from their first event.  Every analysis here that reads
  events only through "did event *e* on day *d*", the user's first and last event and the first
  event of a kind (active days, engagement rate, churn, conversion per period, CPA / CAC,
  message reach, per-user outcomes) gives the same answer on this frame as on all events, so
  the in-memory function runs unchanged on it;
* :func:`session_periods` — per user × calendar period of the session start, the sessions and
  their summed duration (µs): time in app and returning visitors; :func:`session_durations`
  — sessions per distinct duration (the duration histogram).

Days and periods are cut by :func:`.timezones.period_ordinal` (the backend's own UTC -> local
conversion, DST-safe); durations are whole microseconds (``delta(..., unit="microsecond")``,
never ``epoch_seconds()``); sessions are :func:`.ibis_scans.session_expr`'s (a gap strictly
longer than the timeout starts one; ties ordered by :data:`.connect.SEQ_COLUMN`).
"""

from __future__ import annotations

from typing import Sequence

import ibis
import numpy as np
import pandas as pd
from ibis import _

from .. import periods
from . import ibis_scans
from .connect import IbisEvents
from .timezones import period_ordinal, utc_instant

__all__ = ["OTHER_EVENT", "day_extremes_expr", "day_extremes", "check_events", "active_days_distribution",
           "engagement_rate", "churn", "conversion_by_period", "cpa_cac", "interaction_rates", "user_outcomes",
           "session_periods", "session_durations", "visit_tables"]


OTHER_EVENT = "(other)"
"""The name :func:`day_extremes` gives the events an analysis does not name (their days and times still count)."""


def day_extremes_expr(src: IbisEvents, *, properties: Sequence[str] = (), end=None,
                      kept_events: Sequence[str] | None = None):
    """Per user × event × local day (in ``src.tz``) before ``end``: the first and the last event's timestamp.

    One row per distinct timestamp (``user_id, event, timestamp``) and the ``properties`` of the
    user's first event (ties in time: :data:`.connect.SEQ_COLUMN` order), on every row of the user.
    ``kept_events``: the event names an analysis reads; the others become one :data:`OTHER_EVENT`
    (None: every name kept), so at most ``2 × (len(kept_events) + 1)`` rows per user and day come back.
    """
    t = ibis_scans.cut(src, end)
    t = t.mutate(_ts=utc_instant(t.timestamp), _day=period_ordinal(t.timestamp, "day", src.tz, src.backend))
    if kept_events is not None:
        kept = [str(e) for e in kept_events]
        t = t.mutate(event=t.event.isin(kept).ifelse(t.event, OTHER_EVENT) if kept else ibis.literal(OTHER_EVENT))
    g = t.group_by(["user_id", "event", "_day"]).aggregate(first=_._ts.min(), last=_._ts.max())
    rows = g.select("user_id", "event", timestamp=g.first).union(g.select("user_id", "event", timestamp=g.last),
                                                                 distinct=True)
    if properties:
        for name in properties:
            src.check_column(name, "segment")
        first = ibis_scans.members_expr(src, "day", end=end, properties=list(properties)).drop("cohort", "start")
        first = first.rename(p_user="user_id")
        rows = rows.left_join(first, rows.user_id == first.p_user).drop("p_user")
    return rows


def day_extremes(src: IbisEvents, *, properties: Sequence[str] = (), end=None,
                 kept_events: Sequence[str] | None = None) -> pd.DataFrame:
    """:func:`day_extremes_expr`, executed: a canonical events frame (UTC, sorted by user and time).

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "a", "b"], "event": ["open"] * 4,
    ...     "timestamp": pd.to_datetime(["2024-01-01 08:00", "2024-01-01 09:00", "2024-01-01 10:00",
    ...                                  "2024-01-02 08:00"], utc=True)})
    >>> day_extremes(from_frame(ev))["timestamp"].dt.hour.tolist()  # the 09:00 event is not needed
    [8, 10, 8]
    """
    out = ibis_scans.execute(day_extremes_expr(src, properties=properties, end=end, kept_events=kept_events))
    out["timestamp"] = pd.to_datetime(out["timestamp"], utc=True).astype("datetime64[ns, UTC]")
    out["event"] = out["event"].astype(str)
    out = out.sort_values(["user_id", "timestamp", "event"], kind="stable", ignore_index=True)
    return out[["user_id", "timestamp", "event", *properties]]


def check_events(src: IbisEvents, *checks: tuple[str, object]) -> list[str]:
    """The event names of ``checks`` (``(parameter, a name or a list)``, in order), checked as in memory.

    An unknown name is the in-memory error (``EventLog.event_mask``'s words, naming the
    parameter and the events present); returns every listed name (for :func:`day_extremes`).

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> src = from_frame(pd.DataFrame({"user_id": ["a"], "event": ["purchase"],
    ...     "timestamp": pd.to_datetime(["2024-01-01"], utc=True)}))
    >>> check_events(src, ("active_events", None), ("conversion_events", "purchase"))
    ['purchase']
    >>> check_events(src, ("conversion_events", "purchse"))
    Traceback (most recent call last):
    ...
    ValueError: The 'conversion_events' parameter names event(s) ['purchse'] that do not occur in column 'event' — did you mean 'purchase'? Events present: 'purchase'
    """
    from ..core import EventLog
    from ..validation import as_event_list

    present = ibis_scans.execute(src.table.select("event").distinct())["event"].astype(str).to_numpy()
    names_log = EventLog(pd.DataFrame({"user_id": "names", "event": present,
                                       "timestamp": pd.Timestamp("2000-01-01", tz="UTC")}))
    listed = []
    for parameter, value in checks:
        names_log.event_mask(value, parameter)
        listed += list(as_event_list(value, parameter) or [])
    return listed


def _reduced(src: IbisEvents, tz: str | None, users: pd.DataFrame | None = None, columns: Sequence[str] = (),
             end=None, kept_events: Sequence[str] = ()) -> tuple[IbisEvents, pd.DataFrame]:
    """The source in ``tz`` and its :func:`day_extremes` with the user ``columns`` the users table does not supply.

    ``kept_events``: the (checked) names the analysis reads; the other events are folded into one name.
    """
    src = src.with_tz(tz or src.tz)
    wanted = [c for c in dict.fromkeys(c for c in columns if c) if users is None]
    return src, day_extremes(src, properties=wanted, end=end, kept_events=list(kept_events))


def active_days_distribution(src: IbisEvents, period: str = "week", *, tz: str | None = None, active_events=None,
                             include_partial: bool = False, per_period: bool = False) -> pd.DataFrame:
    """:func:`engagement_utils.metrics.active_days_distribution` on the engine's :func:`day_extremes` (same table).

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": "open",
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"], utc=True)})
    >>> active_days_distribution(from_frame(ev), "week", include_partial=True)[["active_days", "users"]].values.tolist()
    [[1.0, 1.0], [2.0, 1.0]]
    """
    from .. import metrics

    src, frame = _reduced(src, tz, kept_events=check_events(src, ("active_events", active_events)))
    return metrics.active_days_distribution(frame, period, tz=src.tz, active_events=active_events,
                                            include_partial=include_partial, per_period=per_period)


def engagement_rate(src: IbisEvents, users: pd.DataFrame | None = None, period: str = "week", *, active_events=None,
                    segment: str | None = None, tz: str | None = None, include_partial: bool = False,
                    alpha: float = 0.05) -> pd.DataFrame:
    """:func:`engagement_utils.metrics.engagement_rate` on the engine's :func:`day_extremes` (same table).

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "b", "a"], "event": ["open", "open", "buy"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-09"], utc=True)})
    >>> engagement_rate(from_frame(ev), include_partial=True)[["users", "active"]].values.tolist()
    [[1.0, 1.0], [2.0, 2.0]]
    """
    from .. import metrics

    src, frame = _reduced(src, tz, users, [segment], kept_events=check_events(src, ("active_events", active_events)))
    return metrics.engagement_rate(frame, users, period, active_events=active_events, segment=segment, tz=src.tz,
                                   include_partial=include_partial, alpha=alpha)


def churn(src: IbisEvents, inactive_days: int = 30, end=None, *, users: pd.DataFrame | None = None,
          segment: str | None = None, period: str | None = "month", tz: str | None = None,
          alpha: float = 0.05) -> pd.DataFrame:
    """:func:`engagement_utils.metrics.churn` on the engine's :func:`day_extremes` before ``end`` (same table).

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "b", "b"], "event": "open",
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-20"], utc=True)})
    >>> churn(from_frame(ev), 30, end="2024-03-01", period=None)[["users", "churned"]].values.tolist()
    [[2.0, 1.0]]
    """
    from .. import metrics

    src, frame = _reduced(src, tz, users, [segment], end=end)  # the last event before end, not of its day
    if frame.empty:  # nothing before end: the in-memory function says so in its words
        src, frame = _reduced(src, tz, users, [segment])
    return metrics.churn(frame, inactive_days, end, users=users, segment=segment, period=period, tz=src.tz,
                         alpha=alpha)


def conversion_by_period(src: IbisEvents, conversion_events="purchase", period: str = "week", *, tz: str | None = None,
                         end=None, include_partial: bool = False, alpha: float = 0.05) -> pd.DataFrame:
    """:func:`engagement_utils.metrics.conversion_by_period` on the engine's :func:`day_extremes` (same table).

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "b"], "event": ["open", "purchase", "open", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-09"], utc=True)})
    >>> conversion_by_period(from_frame(ev), end="2024-01-15")[["active_users", "converted"]].values.tolist()
    [[2.0, 1.0], [1.0, 0.0]]
    """
    from .. import metrics

    src, frame = _reduced(src, tz, kept_events=check_events(src, ("conversion_events", conversion_events)))
    return metrics.conversion_by_period(frame, conversion_events, period, tz=src.tz, end=end,
                                        include_partial=include_partial, alpha=alpha)


def cpa_cac(spend: pd.DataFrame, src: IbisEvents, conversion_events="purchase", *, users: pd.DataFrame | None = None,
            pooled: bool = False, channel_column: str = "acquisition_channel", period: str | None = None,
            tz: str | None = None) -> pd.DataFrame:
    """:func:`engagement_utils.metrics.cpa_cac` on the engine's :func:`day_extremes` (same table).

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> spend = pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "channel": ["ads"], "cost": [10.0]})
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["open", "purchase", "open"], "channel": "ads",
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-01"], utc=True)})
    >>> cpa_cac(spend, from_frame(ev), channel_column="channel")[["new_customers", "conversions", "cac"]].values.tolist()
    [[2.0, 1.0, 5.0]]
    """
    from .. import metrics

    from ..validation import as_event_list

    # no check: the in-memory function counts no conversions for a name that does not occur
    src, frame = _reduced(src, tz, users, [channel_column], kept_events=as_event_list(conversion_events, "conversion_events"))
    return metrics.cpa_cac(spend, frame, conversion_events, users=users, pooled=pooled, channel_column=channel_column,
                           period=period, tz=src.tz)


def interaction_rates(src: IbisEvents, users: pd.DataFrame | None = None, *, segment: str = "platform",
                      interactions: dict[str, tuple[str, str]] | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """:func:`engagement_utils.metrics.interaction_rates` on the engine's :func:`day_extremes` (same table).

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "platform": "ios",
    ...     "event": ["survey_shown", "survey_answered", "survey_shown"],
    ...     "timestamp": pd.to_datetime(["2024-01-01"] * 3, utc=True)})
    >>> r = interaction_rates(from_frame(ev), interactions={"survey": ("survey_shown", "survey_answered")})
    >>> r[["segment", "reached", "responded"]].values.tolist()
    [['ios', 2.0, 1.0]]
    """
    from .. import metrics

    from ..metrics.observational import DEFAULT_INTERACTIONS

    pairs = (DEFAULT_INTERACTIONS if interactions is None else interactions).values()
    listed = check_events(src, *(("interactions", event) for pair in pairs for event in pair))
    _, frame = _reduced(src, None, users, [segment], kept_events=listed)
    return metrics.interaction_rates(frame, users, segment=segment, interactions=interactions, alpha=alpha)


def user_outcomes(src: IbisEvents, users: pd.DataFrame | None = None, *, properties: Sequence[str] = (),
                  retention_days: Sequence[int] = (1, 7, 30), conversion_events="purchase",
                  conversion_days: Sequence[int] = (7, 30), horizon_days: int = 30, tz: str | None = None,
                  end=None) -> pd.DataFrame:
    """:func:`engagement_utils.metrics.user_outcomes` on the engine's :func:`day_extremes` (same table).

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["open", "purchase", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"], utc=True)})
    >>> o = user_outcomes(from_frame(ev), retention_days=(1,), conversion_days=(2,), horizon_days=2, end="2024-01-03")
    >>> o[["engaged_2d", "retained_d1", "converted_2d"]].values.tolist()
    [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    """
    from .. import metrics

    src, frame = _reduced(src, tz, users, list(properties), kept_events=check_events(src, ("conversion_events", conversion_events)))
    return metrics.user_outcomes(frame, users, properties=properties, retention_days=retention_days,
                                 conversion_events=conversion_events, conversion_days=conversion_days,
                                 horizon_days=horizon_days, tz=src.tz, end=end)


def session_periods(src: IbisEvents, period: str = "week", timeout="30min", *, end=None) -> pd.DataFrame:
    """Per user × calendar period of the session start (in ``src.tz``): ``sessions`` and ``time_us`` (summed durations).

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "a"], "event": ["x"] * 3,
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:05", "2024-01-01 12:00"], utc=True)})
    >>> session_periods(from_frame(ev), "week")[["sessions", "time_us"]].values.tolist()
    [[2, 300000000]]
    """
    periods.check_period(period)
    s = ibis_scans.session_expr(src, timeout, end=end)
    s = s.mutate(period=period_ordinal(s.start, period, src.tz, src.backend))
    out = ibis_scans.execute(s.group_by(["user_id", "period"]).aggregate(sessions=_.count(), time_us=_.duration_us.sum()))
    out = out.astype({"period": np.int64, "sessions": np.int64, "time_us": np.int64})
    return out.sort_values(["period", "user_id"], ignore_index=True)


def session_durations(src: IbisEvents, timeout="30min", *, end=None) -> pd.DataFrame:
    """Sessions per distinct duration: ``duration_s, sessions`` (the histogram of :func:`plots.plot_session_durations`).

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["x"] * 3,
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:05", "2024-01-01 12:00"], utc=True)})
    >>> session_durations(from_frame(ev)).values.tolist()
    [[0.0, 1.0], [300.0, 1.0]]
    """
    s = ibis_scans.session_expr(src, timeout, end=end)
    out = ibis_scans.execute(s.group_by("duration_us").aggregate(sessions=_.count()))
    out = out.sort_values("duration_us", ignore_index=True)
    # in seconds as the session table's (end - start).dt.total_seconds(), to the last bit
    seconds = pd.Series(pd.to_timedelta(out["duration_us"].to_numpy(np.int64), unit="us")).dt.total_seconds()
    return pd.DataFrame({"duration_s": seconds.to_numpy(float),
                         "sessions": out["sessions"].to_numpy(np.int64).astype(float)})


def visit_tables(src: IbisEvents, period: str, *, tz: str, end=None, timeout="30min",
                 alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """What :func:`engagement_utils.engagement_report.visits_per_period` reads, from :func:`session_periods`.

    Returns ``(spent, returning, end)``: the tables of :func:`engagement_utils.sessions.time_in_app`
    and :func:`engagement_utils.metrics.returning_visitor_rate` (same columns and values) and the
    data end (``end``, else the last event).

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["x"] * 3,
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 10:00", "2024-01-01 12:00"], utc=True)})
    >>> spent, returning, end = visit_tables(from_frame(ev), "week", tz="UTC")
    >>> spent["sessions"].tolist(), returning["returning_rate"].tolist(), str(end)
    ([3.0], [0.5], '2024-01-02 10:00:00+00:00')
    """
    from ..metrics.people import rate_with_ci

    src = src.with_tz(tz)
    rows = session_periods(src, period, timeout, end=end)
    rows["period_start"] = periods.ordinal_to_start(rows["period"].to_numpy(np.int64), period)
    rows["time_s"] = rows["time_us"].to_numpy(np.int64) / 1e6
    grouped = rows.groupby("period_start", sort=True)
    spent = grouped.agg(active_users=("user_id", "size"), sessions=("sessions", "sum"), total_time_s=("time_s", "sum"),
                        mean_time_per_user_s=("time_s", "mean"), median_time_per_user_s=("time_s", "median"))
    spent = spent.astype(float).reset_index()
    returning = pd.DataFrame({"users": grouped.size().astype(float),
                              "returning": (rows["sessions"] > 1).groupby(rows["period_start"]).sum().astype(float)})
    returning = rate_with_ci(returning.reset_index(), "returning", "users", "returning_rate", alpha)
    data_end = ibis_scans.data_bounds(src, end)[1] if end is None else pd.Timestamp(end)
    return spent, returning, data_end
