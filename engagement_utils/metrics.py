"""Engagement KPIs (DESIGN §5): active users, stickiness, engagement, conversion, lifecycle, churn, CPA/CAC, surveys.

Definitions (calendar periods in the report timezone ``tz``):

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
* **Conversion rate** = users who did the conversion event / users in the
  group; with ``within_days=W`` only conversions on calendar days 0..W-1
  counted from the user's first day (install day = day 0), and users not yet
  observed for W full days are left out.
* **Lifecycle** per period: new (first-ever activity, over all history),
  returning (active this and the previous period), resurrecting (active now,
  not in the previous period, but before), dormant (active in the previous
  period, not in this one).
* **Churned**: no activity in the ``inactive_days`` days before ``as_of``.
* **CPA** = spend / conversions (users converting for the first time);
  **CAC** = spend / new customers (users whose first-ever activity falls in
  the spend's period), by acquisition channel.
* **NPS** = % promoters (9–10) − % detractors (0–6), in points;
  **CSAT** = share of 4–5 answers; **CES** = mean score.

Proportions come with Wilson intervals (:func:`engagement_utils.stats.wilson_ci`).
Group comparisons (:func:`compare_groups`) are observational.
"""

from __future__ import annotations

import warnings
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from . import periods
from ._arrays import distinct
from .retention import user_retention
from .sessions import _time_order
from .stats import wilson_ci

__all__ = [
    "OBSERVATIONAL_CAVEAT",
    "active_users",
    "active_days_distribution",
    "engagement_rate",
    "returning_visitor_rate",
    "conversion_rate",
    "lifecycle",
    "churn",
    "cpa_cac",
    "survey_scores",
    "user_outcomes",
    "compare_groups",
    "interaction_rates",
]

FREQS = ("D", "W", "M")
LIFECYCLE_STATUSES = ("new", "returning", "resurrecting", "dormant")
DEFAULT_INTERACTIONS = {
    "in_app_message": ("in_app_message_shown", "in_app_message_clicked"),
    "survey": ("survey_shown", "survey_answered"),
}
OBSERVATIONAL_CAVEAT = (
    "These groups were not randomised: users who get more messaging channels or onboarding differ in other ways "
    "(platform, acquisition channel, motivation). Differences are associations, not effects; the stratified "
    "columns show how much of each gap remains within platform × acquisition channel, and only an experiment "
    "measures the causal effect."
)


# --------------------------------------------------------------------------- helpers


def _user_codes(events: pd.DataFrame) -> tuple[np.ndarray, pd.Index]:
    user = events["user_id"]
    if isinstance(user.dtype, pd.CategoricalDtype):
        return user.cat.codes.to_numpy().astype(np.int64), pd.Index(user.cat.categories)
    codes, uniques = pd.factorize(user, sort=True)
    return codes.astype(np.int64), pd.Index(uniques)


def _event_filter(events: pd.DataFrame, active_events) -> np.ndarray:
    """Rows that count as activity: all, or the given event names (which must occur)."""
    if active_events is None:
        return np.ones(len(events), dtype=bool)
    names = [active_events] if isinstance(active_events, str) else list(active_events)
    mask = events["event"].isin(names).to_numpy()
    if not mask.any():
        raise ValueError(f"none of active_events={names} occur in the events; events present include "
                         f"{sorted(map(str, pd.unique(events['event'])))[:15]}")
    return mask


def _check_column(frame: pd.DataFrame, column: str, what: str, name: str = "segment") -> None:
    if column not in frame.columns:
        raise ValueError(f"{name}={column!r} is not a column of the {what}; available: {list(frame.columns)}")
    if frame[column].notna().sum() == 0:
        raise ValueError(f"{name} column {column!r} has no values in the {what}; choose another column or fill it")


def _labels(values: pd.Series) -> np.ndarray:
    return values.astype(object).where(values.notna(), "(missing)").to_numpy()


def _user_frame(events: pd.DataFrame, users: pd.DataFrame | None = None, columns: Sequence[str] = ()) -> pd.DataFrame:
    """One row per user: ``user_id``, ``first_seen`` (first event over all history) and ``columns``.

    With a users table, every user in it gets a row (``first_seen`` NaT if the
    user has no events) and properties come from it; otherwise a property is
    its value on the user's first event.
    """
    codes, categories = _user_codes(events)
    order = _time_order(events)
    first_rows = order[np.r_[True, codes[order][1:] != codes[order][:-1]]] if len(order) else order
    seen = pd.DataFrame({"user_id": categories.take(codes[first_rows]),
                         "first_seen": events["timestamp"].iloc[first_rows].reset_index(drop=True)})
    if users is None:
        for col in columns:
            _check_column(events, col, "events")
            seen[col] = events[col].iloc[first_rows].to_numpy()
        return seen
    for col in columns:
        _check_column(users, col, "users table")
    table = users[["user_id", *columns]].copy(deep=False)
    table["user_id"] = table["user_id"].astype(object)
    seen["user_id"] = seen["user_id"].astype(object)
    out = table.merge(seen, on="user_id", how="left")
    if "signup_at" in users.columns:
        signup = pd.to_datetime(users["signup_at"], utc=True).to_numpy()
        out["first_seen"] = out["first_seen"].fillna(pd.Series(signup, index=out.index))
    return out


def _day_bounds(events: pd.DataFrame, tz: str) -> tuple[int, int]:
    days = periods.period_ordinal(pd.Series([events["timestamp"].min(), events["timestamp"].max()]), "day", tz)
    return int(days[0]), int(days[1])


def _with_ci(frame: pd.DataFrame, successes: str, trials: str, rate: str, confidence: float) -> pd.DataFrame:
    with np.errstate(invalid="ignore", divide="ignore"):
        frame[rate] = frame[successes] / frame[trials]
    frame["ci_low"], frame["ci_high"] = wilson_ci(frame[successes], frame[trials], 1 - confidence)
    return frame


# --------------------------------------------------------------------------- active users


def active_users(
    events: pd.DataFrame,
    freq: str = "D",
    *,
    tz: str = "UTC",
    active_events=None,
    segment: str | None = None,
    include_partial: bool = False,
) -> pd.DataFrame:
    """DAU, WAU, MAU on trailing windows and stickiness (DAU / MAU), optionally per segment.

    Parameters
    ----------
    events : DataFrame
        Canonical events.
    freq : {"D", "W", "M"}
        Rows for every day, or only for the last day of each ISO week / month
        (the trailing windows are still 7 and 30 days).
    tz : str
        Timezone of the calendar days.
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
        (segment,) ``date`` (local day), ``dau``, ``wau``, ``mau``, ``stickiness``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "b", "a"], "event": "open",
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-03"], utc=True)})
    >>> active_users(ev, include_partial=True)[["dau", "wau", "mau"]].values.tolist()
    [[2.0, 2.0, 2.0], [0.0, 2.0, 2.0], [1.0, 2.0, 2.0]]
    """
    if freq not in FREQS:
        raise ValueError(f"freq={freq!r} is not supported; choose one of {', '.join(FREQS)}")
    first_day, last_day = _day_bounds(events, tz)
    mask = _event_filter(events, active_events)
    codes, _ = _user_codes(events)
    day = periods.period_ordinal(events["timestamp"], "day", tz)
    if segment is not None:
        _check_column(events, segment, "events")
        seg_codes, seg_labels = pd.factorize(pd.Series(_labels(events[segment])), sort=True)
    else:
        seg_codes, seg_labels = np.zeros(len(events), dtype=np.int64), pd.Index(["all"])
    n_days, n_seg = last_day - first_day + 1, len(seg_labels)
    # Unique (segment, user, day) triples, sorted so that a unit's days are consecutive.
    unit = seg_codes[mask].astype(np.int64) * (codes.max() + 1) + codes[mask]
    key = distinct(unit * n_days + (day[mask] - first_day))
    unit, d = key // n_days, key % n_days
    seg = unit // (codes.max() + 1)
    next_day = np.r_[np.where(unit[1:] == unit[:-1], d[1:], np.iinfo(np.int64).max), np.iinfo(np.int64).max]
    counts = {}
    for name, width in (("dau", 1), ("wau", 7), ("mau", 30)):
        # A unit active on d counts on days d .. min(next active day, d + width) - 1:
        # adding these intervals counts each unit once per day, i.e. distinct users.
        stop = np.minimum(np.minimum(next_day, d + width), n_days)
        diff = np.zeros((n_seg, n_days + 1), dtype=np.int64)
        np.add.at(diff, (seg, d), 1)
        np.add.at(diff, (seg, stop), -1)
        counts[name] = np.cumsum(diff, axis=1)[:, :n_days].astype(float)
        if not include_partial:
            counts[name][:, : width - 1] = np.nan
    dates = periods.ordinal_to_start(np.arange(first_day, last_day + 1), "day")
    out = pd.DataFrame({"date": np.tile(dates, n_seg), **{k: v.ravel() for k, v in counts.items()}})
    out["stickiness"] = out["dau"] / out["mau"]
    if segment is not None:
        out.insert(0, segment, np.repeat(np.asarray(seg_labels, dtype=object), n_days))
    if freq != "D":
        next_date = out["date"] + pd.Timedelta(days=1)
        last_of_period = next_date.dt.day_of_week.eq(0) if freq == "W" else next_date.dt.day.eq(1)
        out = out[last_of_period.to_numpy()].reset_index(drop=True)
    return out


def active_days_distribution(
    events: pd.DataFrame,
    period: str = "week",
    *,
    tz: str = "UTC",
    active_events=None,
    include_partial: bool = False,
    by_period: bool = False,
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
    if period == "day":
        raise ValueError("period='day' has one day per period; choose one of week, month")
    periods.check_period(period)
    mask = _event_filter(events, active_events)
    codes, _ = _user_codes(events)
    ts = events["timestamp"][mask]
    frame = pd.DataFrame({"user": codes[mask], "day": periods.period_ordinal(ts, "day", tz),
                          "period": periods.period_ordinal(ts, period, tz)}).drop_duplicates()
    if not include_partial:
        first_day, last_day = _day_bounds(events, tz)
        first_full = int(periods.period_ordinal(pd.Series(periods.ordinal_to_start([first_day - 1], "day")).dt.tz_localize("UTC"), period, "UTC")[0]) + 1
        last_full = periods.first_incomplete_ordinal(events["timestamp"].max(), period, tz) - 1
        frame = frame[(frame["period"] >= first_full) & (frame["period"] <= last_full)]
        if frame.empty:
            raise ValueError(f"the data cover no complete {period}; pass include_partial=True or load a longer range")
    per_user = frame.groupby(["period", "user"]).size().rename("active_days").reset_index()
    keys = ["period", "active_days"] if by_period else ["active_days"]
    out = per_user.groupby(keys).size().rename("users").astype(float).reset_index()
    totals = out.groupby("period")["users"].transform("sum") if by_period else out["users"].sum()
    out["share"] = out["users"] / totals
    at_least = out.iloc[::-1].groupby("period")["share"].cumsum() if by_period else out["share"][::-1].cumsum()
    out["share_at_least"] = at_least.sort_index()
    out["active_days"] = out["active_days"].astype(float)
    if by_period:
        out.insert(0, "period_start", periods.ordinal_to_start(out.pop("period").to_numpy(), period))
    return out


def engagement_rate(
    events: pd.DataFrame,
    users: pd.DataFrame | None = None,
    period: str = "week",
    *,
    active_events=None,
    segment: str | None = None,
    tz: str = "UTC",
    include_partial: bool = False,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Engagement rate per period = active users / users of the group who had arrived by the period's end.

    A user arrives at their first event (over all loaded history) or, with a
    users table that has ``signup_at``, at sign-up when they have no events.
    The period in progress at the last event is left out unless
    ``include_partial``.

    Returns
    -------
    DataFrame
        (segment,) ``period_start``, ``users``, ``active``, ``engagement_rate``,
        ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "b", "a"], "event": ["open", "open", "buy"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-09"], utc=True)})
    >>> engagement_rate(ev, period="week", include_partial=True)[["users", "active", "engagement_rate"]].values.tolist()
    [[1.0, 1.0, 1.0], [2.0, 2.0, 1.0]]
    """
    periods.check_period(period)
    mask = _event_filter(events, active_events)
    people = _user_frame(events, users, [segment] if segment else [])
    people = people[people["first_seen"].notna()]
    people["arrival"] = periods.period_ordinal(people["first_seen"], period, tz)
    people["group"] = _labels(people[segment]) if segment else "all"
    last = periods.first_incomplete_ordinal(events["timestamp"].max(), period, tz) - (0 if include_partial else 1)
    codes, categories = _user_codes(events)
    active = pd.DataFrame({"user_id": categories.take(codes[mask]).astype(object),
                           "period": periods.period_ordinal(events["timestamp"][mask], period, tz)}).drop_duplicates()
    active = active.merge(people[["user_id", "group"]].assign(user_id=lambda f: f["user_id"].astype(object)), on="user_id")
    active = active[active["period"] <= last]
    arrivals = people.groupby(["group", "arrival"]).size().rename("new").reset_index()
    grid = pd.MultiIndex.from_product([sorted(people["group"].unique()), range(int(people["arrival"].min()), last + 1)],
                                      names=["group", "period"])
    out = pd.DataFrame(index=grid)
    out["users"] = (arrivals.set_index(["group", "arrival"])["new"].rename_axis(["group", "period"])
                    .reindex(grid, fill_value=0).groupby(level="group").cumsum().astype(float))
    out["active"] = active.groupby(["group", "period"]).size().reindex(grid, fill_value=0).astype(float)
    out = _with_ci(out.reset_index(), "active", "users", "engagement_rate", confidence)
    out.insert(1, "period_start", periods.ordinal_to_start(out.pop("period").to_numpy(), period))
    out = out.rename(columns={"group": segment}) if segment else out.drop(columns="group")
    return out[["period_start", "users", "active", "engagement_rate", "ci_low", "ci_high"] if not segment else
               [segment, "period_start", "users", "active", "engagement_rate", "ci_low", "ci_high"]]


def returning_visitor_rate(
    sessions: pd.DataFrame,
    period: str = "week",
    *,
    tz: str = "UTC",
    segment: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Returning visitor rate = users with more than one session in the period / users with a session.

    ``sessions`` is a session table (:func:`engagement_utils.sessions.sessionize`);
    a session belongs to the period in which it starts.

    Examples
    --------
    >>> s = pd.DataFrame({"user_id": ["a", "a", "b"],
    ...     "start": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 10:00", "2024-01-01 11:00"], utc=True)})
    >>> returning_visitor_rate(s)[["users", "returning", "returning_rate"]].values.tolist()
    [[2.0, 1.0, 0.5]]
    """
    periods.check_period(period)
    keys = []
    if segment is not None:
        _check_column(sessions, segment, "session table")
        keys = [segment]
    frame = sessions[["user_id", *keys]].copy(deep=False)
    frame["period_start"] = periods.period_start(sessions["start"], period, tz).to_numpy()
    per_user = frame.groupby(keys + ["period_start", "user_id"], observed=True).size()
    grouped = (per_user > 1).groupby(level=keys + ["period_start"], observed=True)
    out = pd.DataFrame({"users": grouped.size().astype(float), "returning": grouped.sum().astype(float)}).reset_index()
    return _with_ci(out, "returning", "users", "returning_rate", confidence)


def _conversion_flags(events, people, conversion_event, within_days, tz, end):
    """Per user in ``people``: converted (0/1, NaN when not observed long enough)."""
    mask = _event_filter(events, conversion_event)
    codes, categories = _user_codes(events)
    conv = pd.DataFrame({"user_id": categories.take(codes[mask]).astype(object),
                         "day": periods.period_ordinal(events["timestamp"][mask], "day", tz)})
    ids = people["user_id"].astype(object)
    if within_days is None:
        return ids.isin(set(conv["user_id"])).astype(float).to_numpy()
    if int(within_days) < 1:
        raise ValueError(f"within_days={within_days!r} must be a whole number of days >= 1")
    install = pd.Series(periods.period_ordinal(people["first_seen"], "day", tz), index=ids.to_numpy())
    conv = conv[conv["day"] < conv["user_id"].map(install) + int(within_days)]
    limit = periods.first_incomplete_ordinal(events["timestamp"].max() if end is None else end, "day", tz)
    converted = ids.isin(set(conv["user_id"])).astype(float).to_numpy()
    return np.where(install.to_numpy() + int(within_days) <= limit, converted, np.nan)


def conversion_rate(
    events: pd.DataFrame,
    conversion_event="purchase",
    *,
    users: pd.DataFrame | None = None,
    segment: str | None = None,
    within_days: int | None = None,
    tz: str = "UTC",
    end=None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Conversion rate = users who did the conversion event / users in the group.

    Parameters
    ----------
    conversion_event : str or list of str
    users : DataFrame, optional
        The group's users (users without events count as not converted);
        default: every user in the events.
    segment : str, optional
        Column of ``users`` (or of the events: value on the first event).
    within_days : int, optional
        Count only conversions on calendar days 0..W-1 from the user's first
        day (install day = day 0); users whose day W-1 is not fully observed
        before the data end are left out.
    end : str or Timestamp, optional
        Exclusive data end for ``within_days`` (default: the day of the last
        event is treated as still in progress).

    Returns
    -------
    DataFrame
        (segment,) ``users``, ``converted``, ``conversion_rate``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "c"], "event": ["open", "purchase", "open", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-05"], utc=True)})
    >>> conversion_rate(ev)[["users", "converted", "conversion_rate"]].round(4).values.tolist()
    [[3.0, 1.0, 0.3333]]
    >>> conversion_rate(ev, within_days=1, end="2024-01-06")[["users", "converted"]].values.tolist()
    [[3.0, 0.0]]
    """
    people = _user_frame(events, users, [segment] if segment else [])
    people["converted"] = _conversion_flags(events, people, conversion_event, within_days, tz, end)
    people = people[people["converted"].notna()]
    people["group"] = _labels(people[segment]) if segment else "all"
    grouped = people.groupby("group", sort=True)["converted"]
    out = pd.DataFrame({"users": grouped.size().astype(float), "converted": grouped.sum()}).reset_index()
    out = _with_ci(out, "converted", "users", "conversion_rate", confidence)
    return out.rename(columns={"group": segment}) if segment else out.drop(columns="group")


# --------------------------------------------------------------------------- lifecycle and churn


def lifecycle(events: pd.DataFrame, period: str = "week", *, tz: str = "UTC", active_events=None) -> pd.DataFrame:
    """Users per period by lifecycle status: new, returning, resurrecting, dormant.

    "New" uses each user's first activity over all loaded events.  Dormant
    users are counted in the period after their last active one (as positive
    numbers; charts draw them below zero).  ``complete`` is False for the
    period in progress at the last event.

    Returns
    -------
    DataFrame
        ``period_start``, ``status``, ``users``, ``complete``; every status for
        every period from the first to the last active period.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "a", "b"], "event": "open",
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-22", "2024-01-08"], utc=True)})
    >>> t = lifecycle(ev, "week").pivot(index="period_start", columns="status", values="users")
    >>> t[["new", "returning", "resurrecting", "dormant"]].values.tolist()
    [[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 2], [0, 0, 1, 0]]
    """
    periods.check_period(period)
    mask = _event_filter(events, active_events)
    codes, _ = _user_codes(events)
    p = periods.period_ordinal(events["timestamp"][mask], period, tz)
    n_per = int(p.max() - p.min() + 2)
    key = distinct(codes[mask] * n_per + (p - p.min()))
    user, rel = key // n_per, key % n_per
    same_prev = np.r_[False, user[1:] == user[:-1]]
    prev = np.r_[-10, rel[:-1]]
    same_next = np.r_[user[1:] == user[:-1], False]
    nxt = np.r_[rel[1:], -10]
    n_periods = int(p.max() - p.min() + 1)
    status = np.where(~same_prev, 0, np.where(prev == rel - 1, 1, 2))
    count = np.zeros((4, n_periods), dtype=np.int64)
    np.add.at(count, (status, rel), 1)
    dormant_at = rel[~(same_next & (nxt == rel + 1))] + 1
    np.add.at(count[3], dormant_at[dormant_at < n_periods], 1)
    starts = periods.ordinal_to_start(np.arange(p.min(), p.max() + 1), period)
    incomplete = periods.first_incomplete_ordinal(events["timestamp"].max(), period, tz)
    return pd.DataFrame({
        "period_start": np.tile(starts, 4),
        "status": pd.Categorical(np.repeat(LIFECYCLE_STATUSES, n_periods), categories=LIFECYCLE_STATUSES),
        "users": count.ravel(),
        "complete": np.tile(np.arange(p.min(), p.max() + 1) < incomplete, 4),
    }).sort_values(["period_start", "status"], kind="stable", ignore_index=True)


def churn(
    events: pd.DataFrame,
    inactive_days: int = 30,
    as_of=None,
    *,
    users: pd.DataFrame | None = None,
    segment: str | None = None,
    cohort_period: str | None = "month",
    tz: str = "UTC",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Churned share: users with no activity in the ``inactive_days`` days before ``as_of``.

    Only users whose first event is before ``as_of − inactive_days`` are
    judged (newer users cannot have been inactive that long).  Events at or
    after ``as_of`` are ignored.

    Parameters
    ----------
    as_of : str or Timestamp, optional
        Reference time (naive = UTC); default: the last event's timestamp.
    cohort_period : {"day", "week", "month"} or None
        Break down by the period of the user's first event; None for all users together.

    Returns
    -------
    DataFrame
        (``cohort``,) (segment,) ``users``, ``churned``, ``churn_rate``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "b", "b"], "event": "open",
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-20"], utc=True)})
    >>> churn(ev, 30, as_of="2024-03-01", cohort_period=None)[["users", "churned", "churn_rate"]].values.tolist()
    [[2.0, 1.0, 0.5]]
    """
    if int(inactive_days) < 1:
        raise ValueError(f"inactive_days={inactive_days!r} must be a whole number of days >= 1")
    as_of = events["timestamp"].max() if as_of is None else pd.Timestamp(as_of)
    as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of
    seen = events[events["timestamp"] < as_of]
    if seen.empty:
        raise ValueError(f"no events before as_of={as_of}; choose a later date")
    people = _user_frame(seen, users, [segment] if segment else [])
    people = people[people["first_seen"].notna()]
    codes, categories = _user_codes(seen)
    last_ns = np.full(len(categories), np.iinfo(np.int64).min)
    np.maximum.at(last_ns, codes, seen["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64))
    last_seen = pd.Series(pd.to_datetime(last_ns, utc=True), index=categories.astype(object))
    cutoff = as_of - pd.Timedelta(days=int(inactive_days))
    people = people[people["first_seen"] < cutoff]
    if people.empty:
        raise ValueError(f"no user started before {cutoff} (as_of − inactive_days); lower inactive_days or choose a later as_of")
    people["churned"] = (people["user_id"].astype(object).map(last_seen) < cutoff).astype(float)
    keys = []
    if cohort_period is not None:
        people["cohort"] = periods.period_start(people["first_seen"], cohort_period, tz).to_numpy()
        keys.append("cohort")
    if segment:
        people[segment] = _labels(people[segment])
        keys.append(segment)
    grouped = people.groupby(keys, sort=True)["churned"] if keys else people.assign(_all=0).groupby("_all")["churned"]
    out = pd.DataFrame({"users": grouped.size().astype(float), "churned": grouped.sum()})
    out = _with_ci(out.reset_index(), "churned", "users", "churn_rate", confidence)
    return out.drop(columns="_all") if not keys else out


# --------------------------------------------------------------------------- marketing


def cpa_cac(
    spend: pd.DataFrame,
    events: pd.DataFrame,
    conversion_event="purchase",
    *,
    users: pd.DataFrame | None = None,
    by: str = "channel",
    channel_column: str = "acquisition_channel",
    period: str | None = None,
    tz: str = "UTC",
) -> pd.DataFrame:
    """Cost per acquisition and customer acquisition cost per paid channel (and period).

    CAC = spend / new customers, where a new customer is a user whose
    first-ever event falls in the period; CPA = spend / conversions, where a
    conversion is a user's first-ever ``conversion_event``.  Users are
    attributed to the channel in ``channel_column`` of ``users`` (or of the
    events, value on the first event), matched against ``spend["channel"]``.
    Channels without spend (organic, referral) are not listed.  A zero
    denominator gives NaN and a warning naming the rows.

    Parameters
    ----------
    by : {"channel", "total"}
        One row per spend channel, or all paid channels pooled.
    period : {"day", "week", "month"}, optional
        Also break down by calendar period (spend by its date, users by their event time).

    Returns
    -------
    DataFrame
        (channel,) (period_start,) ``spend``, ``new_customers``, ``conversions``, ``cac``, ``cpa``.

    Examples
    --------
    >>> spend = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-01"]), "channel": ["ads", "tv"], "cost": [10.0, 5.0]})
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["open", "purchase", "open"], "channel": ["ads", "ads", "ads"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-01"], utc=True)})
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     cpa_cac(spend, ev, channel_column="channel")[["channel", "new_customers", "conversions", "cac", "cpa"]].values.tolist()
    [['ads', 2.0, 1.0, 5.0, 10.0], ['tv', 0.0, 0.0, nan, nan]]
    """
    if by not in ("channel", "total"):
        raise ValueError(f"by={by!r} is not supported; choose one of channel, total")
    if period is not None:
        periods.check_period(period)
    for col in ("date", "channel", "cost"):
        if col not in spend.columns:
            raise ValueError(f"spend has no column {col!r}; load it with io.load_spend (columns date, channel, cost)")
    people = _user_frame(events, users, [channel_column])
    people = people[people["first_seen"].notna()]
    people["channel"] = people[channel_column].astype(object)
    # No conversions at all is a valid outcome here (CPA NaN with a warning), not a data error.
    names = [conversion_event] if isinstance(conversion_event, str) else list(conversion_event)
    first_conv = _user_frame(events[events["event"].isin(names).to_numpy()])
    people = people.merge(first_conv.rename(columns={"first_seen": "first_conversion"}).assign(
        user_id=lambda f: f["user_id"].astype(object)), on="user_id", how="left")
    paid = set(spend["channel"].astype(object))
    people = people[people["channel"].isin(paid)]
    cost = spend.assign(channel=spend["channel"].astype(object))
    keys = ["channel"] if by == "channel" else []
    if by == "total":
        people = people.assign(channel="total")
        cost = cost.assign(channel="total")
        keys = ["channel"]
    if period is not None:
        cost = cost.assign(period_start=periods.period_start(pd.to_datetime(cost["date"]).dt.tz_localize("UTC"), period, "UTC").to_numpy())
        keys = keys + ["period_start"]
    totals = cost.groupby(keys, sort=True)["cost"].sum().rename("spend").to_frame()

    def count(column: str) -> pd.Series:
        who = people[people[column].notna()]
        if period is not None:
            who = who.assign(period_start=periods.period_start(who[column], period, tz).to_numpy())
        return who.groupby(keys, sort=True).size()

    totals["new_customers"] = count("first_seen").reindex(totals.index, fill_value=0).astype(float)
    totals["conversions"] = count("first_conversion").reindex(totals.index, fill_value=0).astype(float)
    for name, denominator in (("cac", "new_customers"), ("cpa", "conversions")):
        zero = totals[denominator] == 0
        if zero.any():
            where = ", ".join(map(str, totals.index[zero][:5]))
            warnings.warn(f"{name.upper()} undefined (no {denominator.replace('_', ' ')}) for {where}; reported as NaN",
                          RuntimeWarning, stacklevel=2)
        totals[name] = totals["spend"] / totals[denominator].where(~zero)
    out = totals.reset_index()
    return out.drop(columns="channel") if by == "total" and period is not None else out


def survey_scores(
    surveys: pd.DataFrame,
    *,
    segment: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """NPS (with a normal-approximation CI), CSAT (Wilson CI) and CES (t CI) per survey kind.

    NPS = 100 × (p_promoters − p_detractors), promoters 9–10, detractors 0–6;
    its standard error is 100 × sqrt((p_p + p_d − (p_p − p_d)²) / n).
    CSAT = share of answers 4–5 on 1–5.  CES = mean score on 1–7.

    Returns
    -------
    DataFrame
        (segment,) ``kind``, ``responses``, ``score``, ``ci_low``, ``ci_high``,
        ``promoters``, ``passives``, ``detractors`` (shares; NaN for CSAT/CES).

    Examples
    --------
    >>> s = pd.DataFrame({"kind": "nps", "score": [10, 9, 8, 3]})
    >>> survey_scores(s)[["kind", "responses", "score", "promoters", "detractors"]].values.tolist()
    [['nps', 4.0, 25.0, 0.5, 0.25]]
    """
    for col in ("kind", "score"):
        if col not in surveys.columns:
            raise ValueError(f"surveys have no column {col!r}; load them with io.load_surveys")
    keys = []
    frame = surveys.assign(kind=surveys["kind"].astype(str).str.lower())
    if segment:
        _check_column(surveys, segment, "surveys")
        frame[segment] = _labels(surveys[segment])
        keys = [segment]
    score = frame["score"].astype(float)
    frame = frame.assign(
        promoter=(score >= 9).astype(float), detractor=(score <= 6).astype(float),
        passive=((score > 6) & (score < 9)).astype(float), satisfied=(score >= 4).astype(float), value=score)
    grouped = frame.groupby(keys + ["kind"], sort=True)
    out = grouped.agg(responses=("value", "size"), mean=("value", "mean"), sd=("value", "std"),
                      promoters=("promoter", "mean"), passives=("passive", "mean"), detractors=("detractor", "mean"),
                      satisfied=("satisfied", "sum")).reset_index()
    out["responses"] = out["responses"].astype(float)
    z = sps.norm.ppf(0.5 + confidence / 2)
    n = out["responses"]
    is_nps, is_csat = out["kind"].eq("nps"), out["kind"].eq("csat")
    nps = 100 * (out["promoters"] - out["detractors"])
    nps_se = 100 * np.sqrt((out["promoters"] + out["detractors"] - (out["promoters"] - out["detractors"]) ** 2) / n)
    csat_lo, csat_hi = wilson_ci(out["satisfied"], n, 1 - confidence)
    t = sps.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1))
    mean_se = out["sd"] / np.sqrt(n)
    out["score"] = np.select([is_nps, is_csat], [nps, out["satisfied"] / n], out["mean"])
    out["ci_low"] = np.select([is_nps, is_csat], [np.maximum(nps - z * nps_se, -100), csat_lo], out["mean"] - t * mean_se)
    out["ci_high"] = np.select([is_nps, is_csat], [np.minimum(nps + z * nps_se, 100), csat_hi], out["mean"] + t * mean_se)
    for col in ("promoters", "passives", "detractors"):
        out[col] = out[col].where(is_nps)
    return out[keys + ["kind", "responses", "score", "ci_low", "ci_high", "promoters", "passives", "detractors"]]


# --------------------------------------------------------------------------- group comparisons


def user_outcomes(
    events: pd.DataFrame,
    users: pd.DataFrame | None = None,
    *,
    properties: Sequence[str] = (),
    retention_days: Sequence[int] = (1, 7, 30),
    conversion_event="purchase",
    conversion_days: Sequence[int] = (7, 30),
    horizon_days: int = 30,
    tz: str = "UTC",
    end=None,
) -> pd.DataFrame:
    """Per-user engagement outcomes measured from each user's first day, for group comparisons.

    Every outcome is measured over the same span after install, so groups
    that joined at different times compare fairly; outcomes not yet fully
    observed are NaN.

    * ``engaged_{h}d``: active on at least one of days 1..h-1 after the
      install day (the engagement rate of the user's first h days);
    * ``stickiness_{h}d``: active days among days 0..h-1 / h — the group mean
      equals the cohort's average DAU / MAU over its first h days;
    * ``retained_d{k}``: :func:`engagement_utils.retention.user_retention`;
    * ``converted_{w}d``: ``conversion_event`` on calendar days 0..w-1.

    Returns
    -------
    DataFrame
        ``user_id``, the ``properties``, and the outcome columns.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["open", "purchase", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"], utc=True)})
    >>> o = user_outcomes(ev, retention_days=(1,), conversion_days=(2,), horizon_days=2, end="2024-01-03")
    >>> o[["engaged_2d", "stickiness_2d", "retained_d1", "converted_2d"]].values.tolist()
    [[1.0, 1.0, 1.0, 1.0], [0.0, 0.5, 0.0, 0.0]]
    """
    if int(horizon_days) < 2:
        raise ValueError(f"horizon_days={horizon_days!r} must be at least 2")
    people = _user_frame(events, users, list(properties))
    people = people[people["first_seen"].notna()].reset_index(drop=True)
    ids = people["user_id"].astype(object)
    install = periods.period_ordinal(people["first_seen"], "day", tz)
    codes, categories = _user_codes(events)
    position = pd.Index(ids).get_indexer(categories.astype(object))[codes]
    day = periods.period_ordinal(events["timestamp"], "day", tz) - install[np.maximum(position, 0)]
    inside = (position >= 0) & (day >= 0) & (day < horizon_days)
    active_days = np.bincount(distinct(position[inside] * horizon_days + day[inside]) // horizon_days,
                              minlength=len(people)).astype(float)
    limit = periods.first_incomplete_ordinal(events["timestamp"].max() if end is None else end, "day", tz)
    observed = install + horizon_days <= limit
    h = int(horizon_days)
    people[f"engaged_{h}d"] = np.where(observed, (active_days > 1).astype(float), np.nan)
    people[f"stickiness_{h}d"] = np.where(observed, active_days / h, np.nan)
    retention = user_retention(events, days=tuple(retention_days), tz=tz, end=end)
    retention = retention.assign(user_id=retention["user_id"].astype(object)).set_index("user_id")
    for col in [c for c in retention.columns if c.startswith("retained_")]:
        people[col] = ids.map(retention[col]).to_numpy()
    for w in conversion_days:
        people[f"converted_{int(w)}d"] = _conversion_flags(events, people, conversion_event, int(w), tz, end)
    return people.drop(columns="first_seen")


def _mean_ci(frame: pd.DataFrame, keys: list[str], metric: str) -> pd.DataFrame:
    grouped = frame.groupby(keys, sort=True, observed=True)[metric]
    return pd.DataFrame({"users": grouped.count().astype(float), "value": grouped.mean(),
                         "var": grouped.var(ddof=1), "successes": grouped.sum()})


def compare_groups(
    outcomes: pd.DataFrame,
    group: str,
    metrics: Sequence[str] | None = None,
    *,
    strata: Iterable[str] = (),
    reference=None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Compare user groups on per-user outcomes, raw and stratified (observational).

    For each metric and group: mean with a CI (Wilson for 0/1 outcomes,
    Student t otherwise), the difference to the ``reference`` group with a
    normal CI, and a **stratified** difference: the within-stratum
    differences (strata = combinations of ``strata`` columns, e.g. platform ×
    acquisition channel) averaged with weights proportional to the stratum's
    users in the two groups, with variance Σ w² (s²_g/n_g + s²_ref/n_ref).
    Strata lacking either group (or with fewer than 2 users in one) are
    skipped.  A gap that shrinks after stratifying was partly confounding;
    what survives may still be confounded by unmeasured factors
    (:data:`OBSERVATIONAL_CAVEAT`).

    Parameters
    ----------
    outcomes : DataFrame
        One row per user (e.g. :func:`user_outcomes`) with ``group``, the
        metric columns and the strata columns.
    metrics : list of str, optional
        Default: every float column except ``group`` and ``strata``.
    reference : optional
        Reference group value; default the first group in sorted order.

    Returns
    -------
    DataFrame
        ``metric``, ``group``, ``users``, ``value``, ``ci_low``, ``ci_high``,
        ``difference``, ``diff_ci_low``, ``diff_ci_high``, ``adjusted_difference``,
        ``adj_ci_low``, ``adj_ci_high``, ``strata_share`` (share of the two
        groups' users in the strata used).  ``attrs["caveat"]`` holds the caveat.

    Examples
    --------
    >>> o = pd.DataFrame({"g": ["x", "x", "y", "y"], "s": ["p", "q", "p", "q"], "m": [0.0, 1.0, 1.0, 1.0]})
    >>> compare_groups(o, "g", ["m"])[["group", "users", "value", "difference"]].values.tolist()
    [['x', 2.0, 0.5, 0.0], ['y', 2.0, 1.0, 0.5]]
    """
    strata = list(strata)
    _check_column(outcomes, group, "outcomes", "group")
    for col in strata:
        _check_column(outcomes, col, "outcomes", "strata")
    if metrics is None:
        metrics = [c for c in outcomes.columns if c not in [group, *strata] and pd.api.types.is_float_dtype(outcomes[c])]
    missing = [m for m in metrics if m not in outcomes.columns]
    if missing:
        raise ValueError(f"metric column(s) {missing} not in the outcomes; available: {list(outcomes.columns)}")
    frame = outcomes.assign(_group=_labels(outcomes[group]))
    groups = sorted(pd.unique(frame["_group"]), key=str)
    reference = groups[0] if reference is None else reference
    if reference not in groups:
        raise ValueError(f"reference={reference!r} is not a value of {group!r}; values: {groups}")
    frame["_stratum"] = frame[strata].astype(str).agg("|".join, axis=1) if strata else "all"
    z = sps.norm.ppf(0.5 + confidence / 2)
    rows = []
    for metric in metrics:
        values = frame[metric].astype(float)
        binary = bool(values.dropna().isin([0.0, 1.0]).all())
        overall = _mean_ci(frame.assign(_v=values), ["_group"], "_v")
        if binary:
            lo, hi = wilson_ci(overall["successes"], overall["users"], 1 - confidence)
        else:
            t = sps.t.ppf(0.5 + confidence / 2, np.maximum(overall["users"] - 1, 1))
            half = t * np.sqrt(overall["var"] / overall["users"])
            lo, hi = overall["value"] - half, overall["value"] + half
        overall["ci_low"], overall["ci_high"] = lo, hi
        ref = overall.loc[reference]
        diff = overall["value"] - ref["value"]
        se = np.sqrt(overall["var"] / overall["users"] + ref["var"] / ref["users"])
        by_stratum = _mean_ci(frame.assign(_v=values), ["_stratum", "_group"], "_v")
        ref_s = by_stratum.xs(reference, level="_group")
        for g in groups:
            mine = by_stratum.xs(g, level="_group") if g in by_stratum.index.get_level_values("_group") else by_stratum.iloc[:0]
            both = mine.merge(ref_s, left_index=True, right_index=True, suffixes=("_g", "_r"))
            both = both[(both["users_g"] >= 2) & (both["users_r"] >= 2)]
            weight = (both["users_g"] + both["users_r"]) / (both["users_g"] + both["users_r"]).sum()
            adjusted = float((weight * (both["value_g"] - both["value_r"])).sum()) if len(both) else np.nan
            adj_se = float(np.sqrt((weight**2 * (both["var_g"] / both["users_g"] + both["var_r"] / both["users_r"])).sum())) if len(both) else np.nan
            pair_users = overall.loc[g, "users"] + (ref["users"] if g != reference else 0)
            used = (both["users_g"].sum() + (both["users_r"].sum() if g != reference else 0)) / pair_users
            rows.append({"metric": metric, "group": g, "users": overall.loc[g, "users"], "value": overall.loc[g, "value"],
                         "ci_low": overall.loc[g, "ci_low"], "ci_high": overall.loc[g, "ci_high"],
                         "difference": diff[g], "diff_ci_low": diff[g] - z * se[g], "diff_ci_high": diff[g] + z * se[g],
                         "adjusted_difference": adjusted, "adj_ci_low": adjusted - z * adj_se,
                         "adj_ci_high": adjusted + z * adj_se, "strata_share": used})
    out = pd.DataFrame(rows)
    is_ref = out["group"] == reference
    out.loc[is_ref, ["difference", "diff_ci_low", "diff_ci_high", "adjusted_difference", "adj_ci_low", "adj_ci_high"]] = 0.0
    out.attrs["caveat"] = OBSERVATIONAL_CAVEAT
    out.attrs["reference"] = reference
    return out


def interaction_rates(
    events: pd.DataFrame,
    users: pd.DataFrame | None = None,
    *,
    by: str = "platform",
    interactions: dict[str, tuple[str, str]] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Reach and response rates of in-app messages / surveys, per ``by`` group.

    reach rate = users shown the item / users of the group;
    response rate = users who responded / users shown it.

    Parameters
    ----------
    interactions : dict, optional
        ``name -> (shown_event, response_event)``; default in-app messages
        (shown / clicked) and surveys (shown / answered).

    Returns
    -------
    DataFrame
        ``by``, ``interaction``, ``users``, ``reached``, ``reach_rate``,
        ``reach_ci_low``, ``reach_ci_high``, ``responded``, ``response_rate``,
        ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "platform": "ios",
    ...     "event": ["survey_shown", "survey_answered", "survey_shown"],
    ...     "timestamp": pd.to_datetime(["2024-01-01"] * 3, utc=True)})
    >>> r = interaction_rates(ev, interactions={"survey": ("survey_shown", "survey_answered")})
    >>> r[["platform", "reached", "responded", "response_rate"]].values.tolist()
    [['ios', 2.0, 1.0, 0.5]]
    """
    interactions = DEFAULT_INTERACTIONS if interactions is None else interactions
    people = _user_frame(events, users, [by])
    people["group"] = _labels(people[by])
    ids = people["user_id"].astype(object)
    codes, categories = _user_codes(events)
    frames = []
    for name, (shown, response) in interactions.items():
        did = {}
        for label, event in (("reached", shown), ("responded", response)):
            if not (events["event"] == event).any():
                raise ValueError(f"interaction {name!r}: event {event!r} never occurs in the events")
            did[label] = ids.isin(set(categories.take(codes[(events["event"] == event).to_numpy()]).astype(object))).astype(float)
        stats = pd.DataFrame({"group": people["group"], **did}).groupby("group", sort=True)
        part = pd.DataFrame({"users": stats.size().astype(float), "reached": stats["reached"].sum(),
                             "responded": stats["responded"].sum()}).reset_index()
        part = _with_ci(part, "reached", "users", "reach_rate", confidence).rename(
            columns={"ci_low": "reach_ci_low", "ci_high": "reach_ci_high"})
        part = _with_ci(part, "responded", "reached", "response_rate", confidence)
        frames.append(part.assign(interaction=name))
    out = pd.concat(frames, ignore_index=True).rename(columns={"group": by})
    return out[[by, "interaction", "users", "reached", "reach_rate", "reach_ci_low", "reach_ci_high",
                "responded", "response_rate", "ci_low", "ci_high"]]
