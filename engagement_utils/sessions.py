"""Sessions: splitting each user's events into visits (DESIGN §5).

A session is a user's run of events in time order; a gap longer than the
timeout (30 minutes by default) starts a new one.  A gap exactly equal to the
timeout does not split.  An optional ``max_duration`` cuts endless sessions
into consecutive pieces of at most that length, measured from the session's
first event.

Derived per session: ``start``, ``end``, ``duration_s`` (last event − first
event, so a one-event session lasts 0 s), ``n_events``, ``n_views`` (screen or
page views), ``n_screens`` (distinct screens), ``bounce`` (one event, or one
view with ``bounce_on="views"``), ``converted`` (any conversion event),
``engaged`` (GA4 rule: at least 10 s, or at least 2 views, or a conversion)
and ``revenue`` when the events carry it.

Summaries of a session table: :func:`session_summary` (sessions per user,
mean / median duration, bounce and engaged-session rates with Wilson CIs,
optionally per segment) and :func:`time_in_app` (time in app per user per
calendar period).
"""

from __future__ import annotations

from typing import Iterable, NamedTuple

import numpy as np
import pandas as pd

from . import periods
from .core import EventLog, engine_of
from .inputs import as_log, segment_column
from .core.engagement_scans import distinct_per_session, session_starts, session_sums
from .stats import wilson_ci
from .validation import as_event_list, check_option

__all__ = ["VIEW_EVENTS", "CONVERSION_EVENTS", "BOUNCE_RULES", "assign_sessions", "session_table", "sessionize",
           "Sessionized", "parse_duration", "session_summary", "time_in_app"]

VIEW_EVENTS = ("screen_view", "page_view", "app_open")
CONVERSION_EVENTS = ("purchase",)
BOUNCE_RULES = ("events", "views")


def parse_duration(value, name: str = "timeout") -> pd.Timedelta:
    """Parse ``"30min"``, ``"24h"``, ``1800`` (seconds) or a Timedelta; raise ValueError otherwise.

    Examples
    --------
    >>> parse_duration("30min")
    Timedelta('0 days 00:30:00')
    """
    try:
        delta = pd.Timedelta(value, unit="s") if isinstance(value, (int, float)) and not isinstance(value, bool) else pd.Timedelta(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}={value!r} is not a duration; use e.g. '30min', '2h', '7D' or a number of seconds") from exc
    if pd.isna(delta) or delta <= pd.Timedelta(0):
        raise ValueError(f"{name}={value!r} must be a positive duration, e.g. '30min'")
    return delta


def assign_sessions(events: "pd.DataFrame | EventLog", timeout="30min", max_duration=None,
                    rebuild: bool = False) -> pd.DataFrame:
    """Return a copy of ``events`` sorted by user and time with an integer ``session_id``.

    Parameters
    ----------
    events : DataFrame or EventLog
        Canonical events (``user_id``, ``timestamp``, ``event``, ...).
    timeout : str or Timedelta, default "30min"
        A gap strictly longer than this starts a new session.
    max_duration : str or Timedelta, optional
        Split sessions into pieces of at most this length (e.g. ``"24h"``),
        measured from the session's first event.
    rebuild : bool, default False
        If the events already have a ``session_id`` it is kept (renumbered to
        integers per user and session) unless ``rebuild=True``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a"] * 3, "event": ["x"] * 3,
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:30", "2024-01-01 11:01"], utc=True)})
    >>> assign_sessions(ev)["session_id"].tolist()   # 30 min gap: same session; 31 min: new one
    [0, 0, 1]
    """
    timeout = parse_duration(timeout, "timeout")
    limit = parse_duration(max_duration, "max_duration").value if max_duration is not None else None
    log = as_log(events)
    out = (log.frame.copy(deep=False) if log.time_ordered else log.frame.take(log.time_order())).reset_index(drop=True)
    given = None
    if "session_id" in out.columns and not rebuild:
        given = pd.factorize(out["session_id"])[0]
    code, ns = log.in_time_order(log.user_code), log.in_time_order(log.ns)
    starts = session_starts(code, ns, timeout.value, limit, given)
    session_id = np.cumsum(starts, dtype=np.int64)
    session_id -= 1  # in place: a 10M log's temporary is 80 MB
    out["session_id"] = session_id
    return out


def session_table(
    events: pd.DataFrame,
    *,
    view_events: Iterable[str] = VIEW_EVENTS,
    conversion_events: Iterable[str] = CONVERSION_EVENTS,
    bounce_on: str = "events",
    engaged_min_seconds: float = 10.0,
    engaged_min_views: int = 2,
    keep: Iterable[str] = (),
) -> pd.DataFrame:
    """One row per session from events that carry a ``session_id`` (see :func:`assign_sessions`).

    Parameters
    ----------
    view_events : str or iterable of str
        Events that count as a screen/page view.
    conversion_events : str or iterable of str
        Events that make a session converted (and engaged).
    bounce_on : {"events", "views"}
        A bounce is a session with one event (default) or with at most one view.
    engaged_min_seconds, engaged_min_views : GA4 engaged-session thresholds.
    keep : iterable of str
        Further event columns to carry into the table, taken from each
        session's first event (e.g. a user property used as a segment).

    Returns
    -------
    DataFrame
        ``session_id, user_id, start, end, duration_s, n_events, n_views,
        n_screens, bounce, converted, engaged`` (+ ``revenue``, ``platform``
        when present), ordered by ``session_id``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["app_open", "purchase", "app_open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00:00", "2024-01-01 10:00:05", "2024-01-01 12:00:00"], utc=True)})
    >>> t = session_table(assign_sessions(ev))
    >>> t[["n_events", "duration_s", "bounce", "converted", "engaged"]].values.tolist()
    [[2, 5.0, False, True, True], [1, 0.0, True, False, False]]
    """
    check_option("bounce_on", bounce_on, BOUNCE_RULES)
    if "session_id" not in events.columns:
        raise ValueError("events have no 'session_id' column; call assign_sessions (or sessionize) first")
    sid = pd.factorize(events["session_id"])[0] if not pd.api.types.is_integer_dtype(events["session_id"]) else events["session_id"].to_numpy()
    if len(sid) and np.any(np.diff(sid) < 0):
        raise ValueError("events must be ordered by session (as assign_sessions returns them)")
    if len(sid) == 0:
        return pd.DataFrame(columns=["session_id", "user_id", "start", "end", "duration_s", "n_events", "n_views",
                                     "n_screens", "bounce", "converted", "engaged"])
    first = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
    last = np.r_[first[1:], len(sid)] - 1
    ts = events["timestamp"]
    start = ts.iloc[first].reset_index(drop=True)
    end = ts.iloc[last].reset_index(drop=True)
    n_events = last - first + 1
    event = events["event"].astype("category") if not isinstance(events["event"].dtype, pd.CategoricalDtype) else events["event"]
    is_view = event.isin(as_event_list(view_events, "view_events")).to_numpy()
    no_conversions = isinstance(conversion_events, (list, tuple)) and len(conversion_events) == 0  # none set
    is_conversion = (np.zeros(len(event), dtype=bool) if no_conversions
                     else event.isin(as_event_list(conversion_events, "conversion_events")).to_numpy())
    n_views = session_sums(first, is_view, np.int64)  # summed as int64 without an 8-byte copy per event
    converted = session_sums(first, is_conversion, np.int64) > 0
    duration_s = (end - start).dt.total_seconds().to_numpy()
    if "screen" in events.columns:
        screen = events["screen"]
        codes = screen.cat.codes.to_numpy() if isinstance(screen.dtype, pd.CategoricalDtype) else pd.factorize(screen)[0]
        n_screens = distinct_per_session(codes, first, n_events)
    else:
        n_screens = n_views
    bounce = n_events == 1 if bounce_on == "events" else n_views <= 1
    user = events["user_id"]
    # copy=False: every column is a new array, so the table needs no second, consolidated copy of them
    table = pd.DataFrame({
        "session_id": events["session_id"].iloc[first].to_numpy(),
        # a categorical keeps its dtype (no per-row objects); other ids become a plain array
        "user_id": user.iloc[first].reset_index(drop=True) if isinstance(user.dtype, pd.CategoricalDtype) else user.iloc[first].to_numpy(),
        "start": start, "end": end, "duration_s": duration_s,
        "n_events": n_events, "n_views": n_views, "n_screens": n_screens,
        "bounce": bounce, "converted": converted,
        "engaged": (duration_s >= engaged_min_seconds) | (n_views >= engaged_min_views) | converted,
    }, copy=False)
    if "revenue" in events.columns:
        table["revenue"] = _revenue_per_session(events["revenue"].to_numpy(dtype=float), first)
    keep = list(keep)
    missing = [c for c in keep if c not in events.columns]
    if missing:
        raise ValueError(f"keep names column(s) {missing} that the events do not have; available: {list(events.columns)}")
    for col in dict.fromkeys((["platform"] if "platform" in events.columns else []) + keep):
        table[col] = events[col].iloc[first].reset_index(drop=True)
    return table


def _revenue_per_session(revenue: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Revenue summed per session (missing values count 0), from the rows that have any.

    Revenue sits on a few events: summing only those rows, in row order as ``np.add.reduceat``
    would, gives the same sums without a float copy of every event.
    """
    rows = np.flatnonzero(revenue > 0)  # NaN and 0 add nothing
    session = np.searchsorted(first, rows, side="right") - 1
    return np.bincount(session, weights=revenue[rows], minlength=len(first))


class Sessionized(NamedTuple):
    """Result of :func:`sessionize`: the events with ``session_id`` and the session table."""

    events: pd.DataFrame
    sessions: pd.DataFrame


def sessionize(events: "pd.DataFrame | EventLog", timeout="30min", *, max_duration=None, rebuild: bool = False,
               **table_options) -> Sessionized:
    """Split events into sessions and summarise each session.

    Equivalent to ``assign_sessions`` followed by ``session_table``;
    ``table_options`` go to :func:`session_table`.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": [1, 1], "event": ["app_open", "app_open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 11:00"], utc=True)})
    >>> len(sessionize(ev).sessions)
    2
    """
    with_ids = assign_sessions(events, timeout=timeout, max_duration=max_duration, rebuild=rebuild)
    return Sessionized(with_ids, session_table(with_ids, **table_options))


def _segmented(sessions: pd.DataFrame, segment: str | None) -> tuple[pd.DataFrame, list[str]]:
    """The session table with a ``segment`` column (labels from the shared helper) and the grouping keys."""
    if segment is None:
        return sessions, []
    return sessions.assign(segment=segment_column(sessions, segment, "segment", "session table")), ["segment"]


def session_summary(sessions: pd.DataFrame, segment: str | None = None, *, alpha: float = 0.05, timeout="30min",
                    conversion_events=None) -> pd.DataFrame:
    """Headline session statistics, overall or per segment.

    Parameters
    ----------
    sessions : DataFrame
        A session table (:func:`session_table` / :func:`sessionize`).
    segment : str, optional
        Column of the session table to break down by (e.g. ``"platform"``;
        carry user properties with ``session_table(..., keep=[...])``).
    alpha : float, default 0.05
        The Wilson intervals have level ``1 - alpha``.
    timeout, conversion_events
        Only for an engine source (an :class:`engagement_utils.engines.IbisEvents` instead of a
        session table): the sessions are cut and summarised in the engine with this timeout,
        conversion events count as engaged (:func:`engagement_utils.engines.analyses.session_summary`).

    Returns
    -------
    DataFrame
        One row (per ``segment``): ``sessions, users, sessions_per_user``
        (sessions / users), ``median_sessions_per_user``,
        ``mean_duration_s, median_duration_s``, ``bounce_rate`` (bounced
        sessions / sessions) and ``engaged_rate`` (engaged sessions /
        sessions), each with ``*_ci_low`` / ``*_ci_high`` Wilson bounds.
        The intervals treat sessions as independent; a user's sessions are
        correlated, so read them as a lower bound on the uncertainty.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["app_open", "screen_view", "app_open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00:00", "2024-01-01 10:00:20", "2024-01-01 12:00:00"], utc=True)})
    >>> s = session_summary(sessionize(ev).sessions)
    >>> s[["sessions", "users", "mean_duration_s", "bounce_rate", "engaged_rate"]].values.tolist()
    [[2.0, 2.0, 10.0, 0.5, 0.5]]
    """
    if engine_of(sessions) == "ibis":  # sessions cut and summarised in the engine
        from .engines.analyses import session_summary as on_engine

        options = ({} if conversion_events is None else
                   {"conversion_events": [conversion_events] if isinstance(conversion_events, str) else list(conversion_events)})
        return on_engine(sessions, timeout, segment=segment, alpha=alpha, **options)
    frame, keys = _segmented(sessions, segment)
    frame = frame.assign(_all="all") if not keys else frame
    keys = keys or ["_all"]
    grouped = frame.groupby(keys, observed=True, sort=True)
    per_user = frame.groupby(keys + ["user_id"], observed=True, sort=True).size().rename("n").reset_index()
    out = pd.DataFrame({
        "sessions": grouped.size(),
        "users": grouped["user_id"].nunique(),
        "mean_duration_s": grouped["duration_s"].mean(),
        "median_duration_s": grouped["duration_s"].median(),
        "bounced": grouped["bounce"].sum(),
        "engaged": grouped["engaged"].sum(),
    })
    out["sessions_per_user"] = out["sessions"] / out["users"]
    out["median_sessions_per_user"] = per_user.groupby(keys, observed=True, sort=True)["n"].median()
    for name, count in (("bounce", "bounced"), ("engaged", "engaged")):
        out[f"{name}_rate"] = out[count] / out["sessions"]
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = wilson_ci(out[count], out["sessions"], alpha)
    columns = ["sessions", "users", "sessions_per_user", "median_sessions_per_user", "mean_duration_s",
               "median_duration_s", "bounce_rate", "bounce_ci_low", "bounce_ci_high",
               "engaged_rate", "engaged_ci_low", "engaged_ci_high"]
    out = out[columns].astype(float).reset_index()
    return out.drop(columns="_all") if "_all" in out.columns else out


def time_in_app(
    sessions: pd.DataFrame,
    period: str = "week",
    *,
    tz: str = "UTC",
    segment: str | None = None,
    per_user: bool = False,
) -> pd.DataFrame:
    """Time spent in the app per user per calendar period.

    A session counts in the period in which it starts; a user's time in the
    period is the sum of their session durations (last − first event of
    each session, so one-event sessions add 0 s).

    Parameters
    ----------
    sessions : DataFrame
        A session table.
    period : {"day", "week", "month"}
        Calendar period in ``tz``.
    segment : str, optional
        Session-table column to break down by (output column ``segment``).
    per_user : bool, default False
        Return the per-user rows (``user_id, period_start, sessions, time_s``)
        instead of the per-period summary.

    Returns
    -------
    DataFrame
        Per (``segment`` and) period: ``period_start, active_users, sessions,
        total_time_s, mean_time_per_user_s, median_time_per_user_s``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "a", "b"], "event": ["x"] * 4,
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:05", "2024-01-01 12:00",
    ...                                  "2024-01-02 09:00"], utc=True)})
    >>> t = time_in_app(sessionize(ev).sessions, "week")
    >>> t[["active_users", "sessions", "total_time_s", "median_time_per_user_s"]].values.tolist()
    [[2.0, 3.0, 300.0, 150.0]]
    """
    periods.check_period(period)
    frame, keys = _segmented(sessions, segment)
    frame = frame[["user_id", "start", "duration_s"] + keys].copy(deep=False)
    frame["period_start"] = periods.period_start(frame["start"], period, tz).to_numpy()
    user_rows = (frame.groupby(keys + ["period_start", "user_id"], observed=True, sort=True)
                 .agg(sessions=("duration_s", "size"), time_s=("duration_s", "sum")).reset_index())
    if per_user:
        return user_rows
    grouped = user_rows.groupby(keys + ["period_start"], observed=True, sort=True)
    out = grouped.agg(active_users=("user_id", "size"), sessions=("sessions", "sum"), total_time_s=("time_s", "sum"),
                      mean_time_per_user_s=("time_s", "mean"), median_time_per_user_s=("time_s", "median"))
    return out.astype(float).reset_index()
