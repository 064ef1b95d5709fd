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
"""

from __future__ import annotations

from typing import Iterable, NamedTuple

import numpy as np
import pandas as pd

__all__ = ["assign_sessions", "session_table", "sessionize", "Sessionized", "parse_duration"]

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


def _time_order(events: pd.DataFrame) -> np.ndarray:
    """Row order by user, then time: the identity when the frame is already canonical."""
    codes = pd.factorize(events["user_id"], sort=True)[0] if not isinstance(events["user_id"].dtype, pd.CategoricalDtype) else events["user_id"].cat.codes.to_numpy()
    ts = events["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    sorted_already = len(codes) < 2 or bool(np.all((np.diff(codes) > 0) | ((np.diff(codes) == 0) & (np.diff(ts) >= 0))))
    return np.arange(len(events)) if sorted_already else np.lexsort((ts, codes))


def assign_sessions(events: pd.DataFrame, timeout="30min", max_duration=None, rebuild: bool = False) -> pd.DataFrame:
    """Return a copy of ``events`` sorted by user and time with an integer ``session_id``.

    Parameters
    ----------
    events : DataFrame
        Canonical events (``user_id``, ``timestamp``, ``event``, ...).
    timeout : str or Timedelta, default "30min"
        A gap strictly longer than this starts a new session.
    max_duration : str or Timedelta, optional
        Split sessions into pieces of at most this length (e.g. ``"24h"``).
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
    order = _time_order(events)
    out = events.take(order) if not np.array_equal(order, np.arange(len(events))) else events.copy(deep=False)
    out = out.reset_index(drop=True)
    if len(out) == 0:
        out["session_id"] = np.array([], dtype=np.int64)
        return out
    user = pd.factorize(out["user_id"])[0]
    ts = out["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    new_user = np.r_[True, user[1:] != user[:-1]]
    if "session_id" in out.columns and not rebuild:
        given = pd.factorize(out["session_id"])[0]
        starts = new_user | np.r_[True, given[1:] != given[:-1]]
    else:
        starts = new_user | np.r_[True, np.diff(ts) > timeout.value]
    if max_duration is not None:
        limit = parse_duration(max_duration, "max_duration").value
        first_ts = ts[np.flatnonzero(starts)][np.cumsum(starts) - 1]
        piece = (ts - first_ts) // limit
        starts = starts | np.r_[True, piece[1:] != piece[:-1]]
    out["session_id"] = np.cumsum(starts) - 1
    return out


def session_table(
    events: pd.DataFrame,
    *,
    view_events: Iterable[str] = VIEW_EVENTS,
    conversion_events: Iterable[str] = CONVERSION_EVENTS,
    bounce_on: str = "events",
    engaged_min_seconds: float = 10.0,
    engaged_min_views: int = 2,
) -> pd.DataFrame:
    """One row per session from events that carry a ``session_id`` (see :func:`assign_sessions`).

    Parameters
    ----------
    view_events : iterable of str
        Events that count as a screen/page view.
    conversion_events : iterable of str
        Events that make a session converted (and engaged).
    bounce_on : {"events", "views"}
        A bounce is a session with one event (default) or with at most one view.
    engaged_min_seconds, engaged_min_views : GA4 engaged-session thresholds.

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
    if bounce_on not in BOUNCE_RULES:
        raise ValueError(f"bounce_on={bounce_on!r} is not supported; choose one of {', '.join(BOUNCE_RULES)}")
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
    is_view = event.isin(list(view_events)).to_numpy()
    is_conversion = event.isin(list(conversion_events)).to_numpy()
    n_views = np.add.reduceat(is_view.astype(np.int64), first)
    converted = np.add.reduceat(is_conversion.astype(np.int64), first) > 0
    duration_s = (end - start).dt.total_seconds().to_numpy()
    if "screen" in events.columns:
        screen = pd.factorize(events["screen"])[0].astype(np.int64)
        owner = np.repeat(np.arange(len(first)), n_events)
        pairs = np.unique(owner[screen >= 0] * (screen.max() + 1) + screen[screen >= 0])
        n_screens = np.bincount(pairs // (screen.max() + 1), minlength=len(first))
    else:
        n_screens = n_views
    bounce = n_events == 1 if bounce_on == "events" else n_views <= 1
    table = pd.DataFrame({
        "session_id": events["session_id"].iloc[first].to_numpy(),
        "user_id": events["user_id"].iloc[first].to_numpy(),
        "start": start, "end": end, "duration_s": duration_s,
        "n_events": n_events, "n_views": n_views, "n_screens": n_screens,
        "bounce": bounce, "converted": converted,
        "engaged": (duration_s >= engaged_min_seconds) | (n_views >= engaged_min_views) | converted,
    })
    if isinstance(events["user_id"].dtype, pd.CategoricalDtype):
        table["user_id"] = pd.Categorical(table["user_id"], categories=events["user_id"].cat.categories)
    if "revenue" in events.columns:
        table["revenue"] = np.add.reduceat(np.nan_to_num(events["revenue"].to_numpy(dtype=float)), first)
    if "platform" in events.columns:
        table["platform"] = events["platform"].iloc[first].to_numpy()
    return table


class Sessionized(NamedTuple):
    """Result of :func:`sessionize`: the events with ``session_id`` and the session table."""

    events: pd.DataFrame
    sessions: pd.DataFrame


def sessionize(events: pd.DataFrame, timeout="30min", *, max_duration=None, rebuild: bool = False, **table_options) -> Sessionized:
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
