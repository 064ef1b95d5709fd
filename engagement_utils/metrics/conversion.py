"""Conversion, lifecycle, churn and acquisition cost (DESIGN §5).

* **Conversion rate** = users who did a conversion event / users in the
  group; with ``within_days=W`` only conversions on calendar days 0..W-1
  counted from the user's first day (install day = day 0), and users not yet
  observed for W full days are left out.
* **Lifecycle** per period: new (first-ever activity, over all history),
  returning (active this and the previous period), resurrecting (active now,
  not in the previous period, but before), dormant (active in the previous
  period, not in this one).
* **Churned**: no activity in the ``inactive_days`` days before the data ``end``.
* **CPA** = spend / conversions (users converting for the first time);
  **CAC** = spend / new customers (users whose first-ever activity falls in
  the spend's period), by acquisition channel.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .. import periods
from .._docs import fill_doc
from ..core import EventLog, activity_keys, engine_of
from ..core.scans import unpack_keys
from ..inputs import as_log, segment_column
from ..validation import as_event_list, check_option, check_positive_int
from .people import rate_with_ci, user_frame

__all__ = ["LIFECYCLE_STATUSES", "conversion_flags", "conversion_rate", "rate_table", "conversion_by_period", "lifecycle", "churn", "cpa_cac"]

LIFECYCLE_STATUSES = ("new", "returning", "resurrecting", "dormant")


def conversion_flags(log: EventLog, people: pd.DataFrame, conversion_events="purchase",
                     within_days: int | None = None, end=None) -> np.ndarray:
    """Per row of ``people`` (:func:`~engagement_utils.metrics.people.user_frame`): converted 0/1.

    With ``within_days=W`` a conversion counts on the user's calendar days
    0..W-1 (in the log's timezone) and users whose day W-1 is not fully observed
    before the data end are NaN.

    Examples
    --------
    >>> from engagement_utils.metrics.people import user_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["open", "purchase", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-01"], utc=True)})
    >>> log = EventLog(ev)
    >>> conversion_flags(log, user_frame(log), within_days=2, end="2024-01-05").tolist()
    [0.0, 0.0]
    """
    mask = log.event_mask(conversion_events, "conversion_events")
    code = people["code"].to_numpy()
    events_of = code >= 0
    if within_days is None:
        converted = np.bincount(log.user_code[mask], minlength=log.n_users) > 0
        return np.where(events_of, converted[np.maximum(code, 0)], False).astype(float)
    days = check_positive_int(within_days, "within_days")
    install = np.asarray(periods.period_ordinal(people["first_seen"], "day", log.tz), dtype=np.int64)
    install_of_code = np.full(log.n_users, np.iinfo(np.int64).max // 2)
    install_of_code[code[events_of]] = install[events_of]
    conv_code = log.user_code[mask]
    on_time = log.ordinal("day")[mask] < install_of_code[conv_code] + days
    converted = np.bincount(conv_code[on_time], minlength=log.n_users) > 0
    flags = np.where(events_of, converted[np.maximum(code, 0)], False).astype(float)
    limit = periods.first_incomplete_ordinal(log.data_end(end)[0], "day", log.tz)
    return np.where(install + days <= limit, flags, np.nan)


def conversion_rate(
    events: "pd.DataFrame | EventLog",
    conversion_events="purchase",
    *,
    users: pd.DataFrame | None = None,
    segment: str | None = None,
    within_days: int | None = None,
    tz: str | None = None,
    end=None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Conversion rate = users who did a conversion event / users in the group.

    Parameters
    ----------
    conversion_events : str or list of str
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
        (``segment``,) ``users``, ``converted``, ``conversion_rate``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "c"], "event": ["open", "purchase", "open", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-05"], utc=True)})
    >>> conversion_rate(ev)[["users", "converted", "conversion_rate"]].round(4).values.tolist()
    [[3.0, 1.0, 0.3333]]
    >>> conversion_rate(ev, within_days=1, end="2024-01-06")[["users", "converted"]].values.tolist()
    [[3.0, 0.0]]
    """
    if engine_of(events) == "ibis":  # who converted, from the engine
        from ..engines.analyses import conversion_rate as on_engine

        return on_engine(events, conversion_events, users=users, segment=segment, within_days=within_days, tz=tz, end=end,
                         alpha=alpha)
    log = as_log(events, tz)
    people = user_frame(log, users, [segment] if segment else [])
    people["converted"] = conversion_flags(log, people, conversion_events, within_days, end)
    return rate_table(people, segment, alpha)


def rate_table(people: pd.DataFrame, segment: str | None, alpha: float = 0.05) -> pd.DataFrame:
    """The table of :func:`conversion_rate` from one row per user: ``converted`` (1, 0; NaN: left out) [and ``segment``].

    Examples
    --------
    >>> rate_table(pd.DataFrame({"converted": [1.0, 0.0, np.nan]}), None)[["users", "converted"]].values.tolist()
    [[2.0, 1.0]]
    """
    people = people[people["converted"].notna()].copy()
    people["segment"] = segment_column(people, segment, what="users") if segment else "all"
    grouped = people.groupby("segment", sort=True)["converted"]
    out = pd.DataFrame({"users": grouped.size().astype(float), "converted": grouped.sum()}).reset_index()
    out = rate_with_ci(out, "converted", "users", "conversion_rate", alpha)
    return out if segment else out.drop(columns="segment")


def conversion_by_period(
    events: "pd.DataFrame | EventLog",
    conversion_events="purchase",
    period: str = "week",
    *,
    tz: str | None = None,
    end=None,
    include_partial: bool = False,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Conversion rate per period = users with a conversion event in the period / users active in it.

    A drop in this rate while activity holds up is what a broken checkout
    looks like.  The period holding the data end is incomplete and left out
    unless ``include_partial``.

    Returns
    -------
    DataFrame
        ``period_start`` (naive, report timezone), ``active_users``, ``converted``,
        ``conversion_rate``, ``ci_low``, ``ci_high`` (Wilson, level ``1 - alpha``).

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "b"], "event": ["open", "purchase", "open", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-09"], utc=True)})
    >>> conversion_by_period(ev, period="week", end="2024-01-15")[["active_users", "converted", "conversion_rate"]].values.tolist()
    [[2.0, 1.0, 0.5], [1.0, 0.0, 0.0]]
    """
    period = periods.check_period(period)
    if engine_of(events) == "ibis":  # per user × event × day extremes from the engine
        from ..engines.engagement_scans import conversion_by_period as on_engine

        return on_engine(events, conversion_events, period, tz=tz, end=end, include_partial=include_partial, alpha=alpha)
    log = as_log(events, tz)
    active = unpack_keys(activity_keys(log, period))[1]
    converted = unpack_keys(activity_keys(log, period, log.event_mask(conversion_events, "conversion_events")))[1]
    ordinals, n_active = np.unique(active, return_counts=True)
    n_converted = np.zeros(len(ordinals))
    found, counts = np.unique(converted, return_counts=True)
    n_converted[np.searchsorted(ordinals, found)] = counts
    out = pd.DataFrame({"period_start": pd.to_datetime(periods.ordinal_to_start(ordinals, period)),
                        "active_users": n_active.astype(float), "converted": n_converted})
    if not include_partial:
        out = out[ordinals < periods.first_incomplete_ordinal(log.data_end(end)[0], period, log.tz)]
    return rate_with_ci(out.reset_index(drop=True), "converted", "active_users", "conversion_rate", alpha)


def lifecycle(events: "pd.DataFrame | EventLog", period: str = "week", *, tz: str | None = None,
              active_events=None) -> pd.DataFrame:
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
    check_option("period", period, periods.PERIODS)
    if engine_of(events) == "ibis":  # the user × period keys from the engine
        from ..engines.analyses import lifecycle as on_engine

        return on_engine(events, period, tz=tz, active_events=active_events)
    log = as_log(events, tz)
    user, ordinal = unpack_keys(activity_keys(log, period, log.event_mask(active_events, "active_events")))
    lo, hi = int(ordinal.min()), int(ordinal.max())
    rel, n_periods = ordinal - lo, hi - lo + 1
    same_prev = np.r_[False, user[1:] == user[:-1]]
    prev = np.r_[-10, rel[:-1]]
    same_next = np.r_[user[1:] == user[:-1], False]
    nxt = np.r_[rel[1:], -10]
    status = np.where(~same_prev, 0, np.where(prev == rel - 1, 1, 2))
    count = np.bincount(status * n_periods + rel, minlength=4 * n_periods).reshape(4, n_periods)
    dormant_at = rel[~(same_next & (nxt == rel + 1))] + 1
    count[3] += np.bincount(dormant_at[dormant_at < n_periods], minlength=n_periods)
    starts = periods.ordinal_to_start(np.arange(lo, hi + 1), period)
    incomplete = periods.first_incomplete_ordinal(log.data_end()[0], period, log.tz)
    return pd.DataFrame({
        "period_start": np.tile(starts, 4),
        "status": pd.Categorical(np.repeat(LIFECYCLE_STATUSES, n_periods), categories=LIFECYCLE_STATUSES),
        "users": count.ravel(),
        "complete": np.tile(np.arange(lo, hi + 1) < incomplete, 4),
    }).sort_values(["period_start", "status"], kind="stable", ignore_index=True)


@fill_doc
def churn(
    events: "pd.DataFrame | EventLog",
    inactive_days: int = 30,
    end=None,
    *,
    users: pd.DataFrame | None = None,
    segment: str | None = None,
    period: str | None = "month",
    tz: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Churned share: users with no activity in the ``inactive_days`` days before the data ``end``.

    Only users whose first event is before ``end − inactive_days`` are judged
    (newer users cannot have been inactive that long).  Events at or after an
    explicit ``end`` are ignored.

    Parameters
    ----------
    end : str or Timestamp, optional
        Data end (naive = UTC); default: the last event, which is observed.
    period : {"day", "week", "month"} or None, default "month"
        Break down by cohort, the period of the user's first event; None for all users together.
    {alpha_wilson}

    Returns
    -------
    DataFrame
        (``cohort``,) (``segment``,) ``users``, ``churned`` and ``churn_rate`` = churned / users
        with its Wilson ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "b", "b"], "event": "open",
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-20"], utc=True)})
    >>> churn(ev, 30, end="2024-03-01", period=None)[["users", "churned", "churn_rate"]].values.tolist()
    [[2.0, 1.0, 0.5]]
    """
    days = check_positive_int(inactive_days, "inactive_days")
    if period is not None:
        check_option("period", period, periods.PERIODS)
    if engine_of(events) == "ibis":  # per user × event × day extremes from the engine
        from ..engines.engagement_scans import churn as on_engine

        return on_engine(events, days, end, users=users, segment=segment, period=period, tz=tz, alpha=alpha)
    log = as_log(events, tz)
    end_ts, end_ns = log.data_end(end)
    seen = log.ns < end_ns
    if not seen.any():
        raise ValueError(f"no events before end={end_ts}; choose a later date")
    people = user_frame(log, users, [segment] if segment else [], mask=seen)
    people = people[people["first_seen"].notna()].reset_index(drop=True)
    rows = log.time_order()
    rows = rows[seen[rows]]
    codes = log.user_code[rows]
    last_rows = rows[np.r_[codes[1:] != codes[:-1], True]]
    last_ns = np.full(log.n_users, np.iinfo(np.int64).min)
    last_ns[log.user_code[last_rows]] = log.ns[last_rows]
    cutoff = end_ts - pd.Timedelta(days=days)
    people = people[people["first_seen"] < cutoff].reset_index(drop=True)
    if people.empty:
        raise ValueError(f"no user started before {cutoff} (end − inactive_days); lower inactive_days or choose a later end")
    code = people["code"].to_numpy()
    people["churned"] = np.where(code >= 0, last_ns[np.maximum(code, 0)] < cutoff.value, True).astype(float)
    keys = []
    if period is not None:
        people["cohort"] = periods.period_start(people["first_seen"], period, log.tz).to_numpy()
        keys.append("cohort")
    if segment:
        people["segment"] = segment_column(people, segment, what="users")
        keys.append("segment")
    grouped = people.groupby(keys, sort=True)["churned"] if keys else people.assign(_all=0).groupby("_all")["churned"]
    out = pd.DataFrame({"users": grouped.size().astype(float), "churned": grouped.sum()})
    out = rate_with_ci(out.reset_index(), "churned", "users", "churn_rate", alpha)
    return out.drop(columns="_all") if not keys else out


def cpa_cac(
    spend: pd.DataFrame,
    events: "pd.DataFrame | EventLog",
    conversion_events="purchase",
    *,
    users: pd.DataFrame | None = None,
    pooled: bool = False,
    channel_column: str = "acquisition_channel",
    period: str | None = None,
    tz: str | None = None,
) -> pd.DataFrame:
    """Cost per acquisition and customer acquisition cost per paid channel (and period).

    CAC = spend / new customers, where a new customer is a user whose
    first-ever event falls in the period; CPA = spend / conversions, where a
    conversion is a user's first-ever conversion event.  Users are
    attributed to the channel in ``channel_column`` of ``users`` (or of the
    events, value on the first event), matched against ``spend["channel"]``.
    Channels without spend (organic, referral) are not listed.  A zero
    denominator gives NaN and a warning naming the rows.

    Parameters
    ----------
    pooled : bool, default False
        One row per spend channel, or (True) all paid channels pooled.
    period : {"day", "week", "month"}, optional
        Also break down by calendar period (spend by its date, users by their event time).

    Returns
    -------
    DataFrame
        (``channel``,) (``period_start``,) ``spend``, ``new_customers``, ``conversions``, ``cac``, ``cpa``.

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
    if period is not None:
        check_option("period", period, periods.PERIODS)
    for col in ("date", "channel", "cost"):
        if col not in spend.columns:
            raise ValueError(f"spend has no column {col!r}; load it with io.load_spend (columns date, channel, cost)")
    if engine_of(events) == "ibis":  # per user × event × day extremes from the engine
        from ..engines.engagement_scans import cpa_cac as on_engine

        return on_engine(spend, events, conversion_events, users=users, pooled=pooled, channel_column=channel_column,
                         period=period, tz=tz)
    log = as_log(events, tz)
    people = user_frame(log, users, [channel_column])
    people = people[people["first_seen"].notna()].reset_index(drop=True)
    people["channel"] = people[channel_column].astype(object)
    # No conversions at all is a valid outcome here (CPA NaN with a warning), not a data error.
    mask = log.frame["event"].isin(as_event_list(conversion_events, "conversion_events")).to_numpy()
    first_conversion = np.full(log.n_users, np.iinfo(np.int64).min)
    rows = log.first_rows(mask)
    first_conversion[log.user_code[rows]] = log.ns[rows]
    code = people["code"].to_numpy()
    converted_ns = np.where(code >= 0, first_conversion[np.maximum(code, 0)], np.iinfo(np.int64).min)
    people["first_conversion"] = pd.to_datetime(converted_ns, utc=True)  # int64 min is NaT: never converted
    paid = set(spend["channel"].astype(object))
    people = people[people["channel"].isin(paid)]
    cost = spend.assign(channel=spend["channel"].astype(object))
    if pooled:
        people, cost = people.assign(channel="total"), cost.assign(channel="total")
    keys = ["channel"]
    if period is not None:
        cost = cost.assign(period_start=periods.period_start(pd.to_datetime(cost["date"]).dt.tz_localize("UTC"), period, "UTC").to_numpy())
        keys = keys + ["period_start"]
    totals = cost.groupby(keys, sort=True)["cost"].sum().rename("spend").to_frame()

    def count(column: str) -> pd.Series:
        who = people[people[column].notna()]
        if period is not None:
            who = who.assign(period_start=periods.period_start(who[column], period, log.tz).to_numpy())
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
    return out.drop(columns="channel") if pooled and period is not None else out
