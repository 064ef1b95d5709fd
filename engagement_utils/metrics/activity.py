"""Activity measures (DESIGN §5): DAU / WAU / MAU, stickiness, active-days distribution,
engagement rate and returning visitor rate.

* **DAU / WAU / MAU** on day d: distinct active users on d / in the trailing
  7 / 30 days ending on d.  Windows that reach before the first day of data
  are partial and are NaN unless ``include_partial=True``.
  **Stickiness** = DAU / MAU.
* **Active-days distribution**: users active in a complete week / month by
  their exact number of active days, and the cumulative "at least N days".
* **Engagement rate** (period) = active users in the period / users of the
  group who had arrived (first event, or ``signup_at``) by the period's end.
* **Returning visitor rate** = users with more than one session in the period /
  users with a session in the period.

Calendar periods are cut in the log's timezone (``tz``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import periods
from .._arrays import distinct
from ..core import EventLog, activity_keys, engine_of
from ..core.scans import unpack_keys
from ..inputs import as_log, segment_column
from ..validation import check_option
from .people import rate_with_ci, user_frame

__all__ = [
    "complete_periods", "active_users", "active_days_distribution", "engagement_rate", "returning_visitor_rate"]

WINDOWS = (("dau", 1), ("wau", 7), ("mau", 30))


def active_users(
    events: "pd.DataFrame | EventLog", period: str = "day", *,
    tz: str | None = None, active_events=None, segment: str | None = None, include_partial: bool = False,
) -> pd.DataFrame:
    """DAU, WAU, MAU on trailing windows and stickiness (DAU / MAU), optionally per segment.

    Parameters
    ----------
    events : DataFrame or EventLog
        Canonical events.
    period : {"day", "week", "month"}
        Rows for every day, or only for the last day of each ISO week / month
        (the trailing windows are still 7 and 30 days).
    tz : str, optional
        Timezone of the calendar days (default: the log's own, UTC for a frame).
    active_events : str or list of str, optional
        Events that count as activity (default: any event).
    segment : str, optional
        Event column; a user active in two segments counts in both.
    include_partial : bool, default False
        Report WAU / MAU (and stickiness) for days whose trailing window starts
        before the first day of data; by default those are NaN.

    Returns
    -------
    DataFrame
        (``segment``,) ``date`` (local day), ``dau``, ``wau``, ``mau``, ``stickiness``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "b", "a"], "event": "open",
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-03"], utc=True)})
    >>> active_users(ev, include_partial=True)[["dau", "wau", "mau"]].values.tolist()
    [[2.0, 2.0, 2.0], [0.0, 2.0, 2.0], [1.0, 2.0, 2.0]]
    """
    check_option("period", period, periods.PERIODS)
    if engine_of(events) == "ibis":  # trailing-window spans in the engine
        from ..engines.analyses import active_users as on_engine

        return on_engine(events, period, tz=tz, active_events=active_events, segment=segment, include_partial=include_partial)
    log = as_log(events, tz)
    day = log.ordinal("day")
    first_day, last_day = int(day.min()), int(day.max())
    mask = log.event_mask(active_events, "active_events")
    seg = log.segment(segment) if segment is not None else None
    seg_labels = seg.labels if seg is not None else pd.Index(["all"])
    n_days, n_seg, n_users = last_day - first_day + 1, len(seg_labels), max(log.n_users, 1)
    # Unique (segment, user, day) triples, sorted so that a unit's days are consecutive;
    # built in place in one int64 array (each temporary of a 10M log is 80 MB).
    key = log.user_code[mask].astype(np.int64)
    if seg is not None:
        key += seg.codes[mask].astype(np.int64) * n_users
    key *= n_days
    key += day[mask]
    key -= first_day
    key = distinct(key)
    unit, d = key // n_days, key % n_days
    seg_of = unit // n_users
    next_day = np.r_[np.where(unit[1:] == unit[:-1], d[1:], np.iinfo(np.int64).max), np.iinfo(np.int64).max]
    counts = {}
    for name, width in WINDOWS:
        # A unit active on d counts on days d .. min(next active day, d + width) - 1:
        # adding these intervals counts each unit once per day, i.e. distinct users.
        stop = np.minimum(np.minimum(next_day, d + width), n_days)
        flat = np.bincount(seg_of * (n_days + 1) + d, minlength=n_seg * (n_days + 1)) \
            - np.bincount(seg_of * (n_days + 1) + stop, minlength=n_seg * (n_days + 1))
        counts[name] = np.cumsum(flat.reshape(n_seg, n_days + 1), axis=1)[:, :n_days].astype(float)
        if not include_partial:
            counts[name][:, : width - 1] = np.nan
    dates = periods.ordinal_to_start(np.arange(first_day, last_day + 1), "day")
    out = pd.DataFrame({"date": np.tile(dates, n_seg), **{k: v.ravel() for k, v in counts.items()}})
    out["stickiness"] = out["dau"] / out["mau"]
    if segment is not None:
        out.insert(0, "segment", np.repeat(np.asarray(seg_labels, dtype=object), n_days))
    if period != "day":
        next_date = out["date"] + pd.Timedelta(days=1)
        last_of_period = next_date.dt.day_of_week.eq(0) if period == "week" else next_date.dt.day.eq(1)
        out = out[last_of_period.to_numpy()].reset_index(drop=True)
    return out


def _period_of_days(days: np.ndarray, period: str) -> np.ndarray:
    """The calendar period (ordinal) of each local day ordinal."""
    return np.asarray(periods.period_ordinal(pd.Series(periods.ordinal_to_start(days, "day")).dt.tz_localize("UTC"), period, "UTC"))


def complete_periods(events, period: str, tz: str | None = None) -> tuple[int, int]:
    """Ordinals of the first and last calendar periods the data cover completely (first > last: none).

    A period is complete when the data start before it and its end is observed
    (:func:`engagement_utils.periods.first_incomplete_ordinal` of the data end).

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a"], "event": "open",
    ...     "timestamp": pd.to_datetime(["2024-01-03 08:00", "2024-01-20 08:00"], utc=True)})
    >>> first, last = complete_periods(ev, "week")
    >>> [str(d.date()) for d in periods.ordinal_to_start([first, last], "week")]
    ['2024-01-08', '2024-01-08']
    >>> first, last = complete_periods(ev.iloc[:1], "week"); first > last
    True
    """
    log = as_log(events, tz)
    first_day = int(log.ordinal("day").min())
    first_full = int(_period_of_days(np.array([first_day - 1]), period)[0]) + 1
    last_full = periods.first_incomplete_ordinal(log.data_end()[0], period, log.tz) - 1
    return first_full, last_full


def active_days_distribution(
    events: "pd.DataFrame | EventLog",
    period: str = "week",
    *,
    tz: str | None = None,
    active_events=None,
    include_partial: bool = False,
    per_period: bool = False,
) -> pd.DataFrame:
    """Users active in a period by their exact number of active days (and "at least N days").

    Only complete periods are used: a period starting before the first day of
    data or still in progress at the last event is left out unless
    ``include_partial=True``.

    Returns
    -------
    DataFrame
        (``period_start``,) ``active_days``, ``users`` (user-periods pooled
        over periods), ``share`` and ``share_at_least``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": "open",
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"], utc=True)})
    >>> active_days_distribution(ev, "week", include_partial=True)[["active_days", "users", "share_at_least"]].values.tolist()
    [[1.0, 1.0, 1.0], [2.0, 1.0, 0.5]]
    """
    check_option("period", period, ("week", "month"))
    if engine_of(events) == "ibis":  # per user × event × day extremes from the engine
        from ..engines.engagement_scans import active_days_distribution as on_engine

        return on_engine(events, period, tz=tz, active_events=active_events, include_partial=include_partial,
                         per_period=per_period)
    log = as_log(events, tz)
    mask = log.event_mask(active_events, "active_events")
    code, day = unpack_keys(activity_keys(log, "day", mask))
    first_day = int(log.ordinal("day").min())
    # the period of each calendar day from the day before the data to the last one
    calendar = np.arange(first_day - 1, int(day.max()) + 1)
    period_of_day = _period_of_days(calendar, period)
    frame = pd.DataFrame({"user": code, "period": np.asarray(period_of_day)[day - calendar[0]]})
    if not include_partial:
        first_full, last_full = complete_periods(log, period)
        frame = frame[(frame["period"] >= first_full) & (frame["period"] <= last_full)]
        if frame.empty:
            raise ValueError(f"the data cover no complete {period}; pass include_partial=True or load a longer range")
    user_days = frame.groupby(["period", "user"]).size().rename("active_days").reset_index()
    keys = ["period", "active_days"] if per_period else ["active_days"]
    out = user_days.groupby(keys).size().rename("users").astype(float).reset_index()
    totals = out.groupby("period")["users"].transform("sum") if per_period else out["users"].sum()
    out["share"] = out["users"] / totals
    at_least = out.iloc[::-1].groupby("period")["share"].cumsum() if per_period else out["share"][::-1].cumsum()
    out["share_at_least"] = at_least.sort_index()
    out["active_days"] = out["active_days"].astype(float)
    if per_period:
        out.insert(0, "period_start", periods.ordinal_to_start(out.pop("period").to_numpy(), period))
    return out


def engagement_rate(
    events: "pd.DataFrame | EventLog",
    users: pd.DataFrame | None = None,
    period: str = "week",
    *,
    active_events=None,
    segment: str | None = None,
    tz: str | None = None,
    include_partial: bool = False,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Engagement rate per period = active users / users of the group who had arrived by the period's end.

    A user arrives at their first event (over all loaded history) or, with a
    users table that has ``signup_at``, at sign-up when they have no events.
    The period in progress at the last event is left out unless
    ``include_partial``.

    Returns
    -------
    DataFrame
        (``segment``,) ``period_start``, ``users``, ``active``, ``engagement_rate``,
        ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "b", "a"], "event": ["open", "open", "buy"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-09"], utc=True)})
    >>> engagement_rate(ev, period="week", include_partial=True)[["users", "active", "engagement_rate"]].values.tolist()
    [[1.0, 1.0, 1.0], [2.0, 2.0, 1.0]]
    """
    check_option("period", period, periods.PERIODS)
    if engine_of(events) == "ibis":  # per user × event × day extremes from the engine
        from ..engines.engagement_scans import engagement_rate as on_engine

        return on_engine(events, users, period, active_events=active_events, segment=segment, tz=tz,
                         include_partial=include_partial, alpha=alpha)
    log = as_log(events, tz)
    mask = log.event_mask(active_events, "active_events")
    people = user_frame(log, users, [segment] if segment else [])
    people = people[people["first_seen"].notna()].reset_index(drop=True)
    arrival = np.asarray(periods.period_ordinal(people["first_seen"], period, log.tz), dtype=np.int64)
    group, labels = pd.factorize(pd.Series(segment_column(people, segment, what="users") if segment else ["all"] * len(people)),
                                 sort=True)
    last = periods.first_incomplete_ordinal(log.data_end()[0], period, log.tz) - (0 if include_partial else 1)
    lo = int(arrival.min())
    n_periods = max(last - lo + 1, 0)
    # Active (user, period) pairs, mapped to the people rows (users outside a users table drop out).
    code, ordinal = unpack_keys(activity_keys(log, period, mask))
    row_of_code = np.full(log.n_users, -1)
    has_events = people["code"].to_numpy() >= 0
    row_of_code[people["code"].to_numpy()[has_events]] = np.flatnonzero(has_events)
    row = row_of_code[code]
    keep = (row >= 0) & (ordinal <= last) & (ordinal >= lo)
    n_groups = len(labels)
    size = n_groups * max(n_periods, 1)
    active = np.bincount(group[row[keep]] * n_periods + (ordinal[keep] - lo), minlength=size)[: n_groups * n_periods]
    inside = arrival <= last
    arrived = np.bincount(group[inside] * n_periods + (arrival[inside] - lo), minlength=size)[: n_groups * n_periods]
    arrived = np.cumsum(arrived.reshape(n_groups, n_periods), axis=1).ravel()
    out = pd.DataFrame({"segment": np.repeat(np.asarray(labels, dtype=object), n_periods),
                        "period_start": np.tile(periods.ordinal_to_start(np.arange(lo, lo + n_periods), period), n_groups),
                        "users": arrived.astype(float), "active": active.astype(float)})
    out = rate_with_ci(out, "active", "users", "engagement_rate", alpha)
    return out if segment else out.drop(columns="segment")


def returning_visitor_rate(
    sessions: pd.DataFrame,
    period: str = "week",
    *,
    tz: str = "UTC",
    segment: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Returning visitor rate = users with more than one session in the period / users with a session.

    ``sessions`` is a session table (:func:`engagement_utils.sessions.sessionize`);
    a session belongs to the period in which it starts.

    Returns
    -------
    DataFrame
        (``segment``,) ``period_start``, ``users``, ``returning``, ``returning_rate``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> s = pd.DataFrame({"user_id": ["a", "a", "b"],
    ...     "start": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 10:00", "2024-01-01 11:00"], utc=True)})
    >>> returning_visitor_rate(s)[["users", "returning", "returning_rate"]].values.tolist()
    [[2.0, 1.0, 0.5]]
    """
    check_option("period", period, periods.PERIODS)
    keys = ["segment"] if segment is not None else []
    frame = sessions[["user_id"]].copy(deep=False)
    if segment is not None:
        frame["segment"] = segment_column(sessions, segment, what="session table")
    frame["period_start"] = periods.period_start(sessions["start"], period, tz).to_numpy()
    per_user = frame.groupby(keys + ["period_start", "user_id"], observed=True).size()
    grouped = (per_user > 1).groupby(level=keys + ["period_start"], observed=True)
    out = pd.DataFrame({"users": grouped.size().astype(float), "returning": grouped.sum().astype(float)}).reset_index()
    return rate_with_ci(out, "returning", "users", "returning_rate", alpha)
