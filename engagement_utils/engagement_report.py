"""Tables and readings of the engagement overview report (``notebooks/02_engagement_overview.ipynb``).

The report's numbers come from :mod:`engagement_utils.metrics`,
:mod:`engagement_utils.sessions` and :mod:`engagement_utils.funnels`; this
module shapes them for display.  Table functions return frames; each
``*_reading`` function turns those results into the one-line reading shown
under a chart (plain text: ``display.show_note`` escapes it).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from . import periods
from .metrics import returning_visitor_rate
from .sessions import time_in_app
from .validation import as_event_list

__all__ = ["duration_text", "events_text", "key_numbers", "latest_complete", "visits_per_period",
           "active_users_reading", "active_days_reading", "sessions_reading", "visits_reading", "lifecycle_reading",
           "churn_reading", "funnel_reading", "cart_reading", "paths_reading", "cost_reading", "nps_reading",
           "reach_reading", "comparison_reading"]


def duration_text(window) -> str:
    """A duration as words: ``"7 days"``, ``"1 day"``, ``"30 min"``, ``"2 h"``.

    Examples
    --------
    >>> duration_text("7D"), duration_text(pd.Timedelta("1D")), duration_text("30min"), duration_text("36h")
    ('7 days', '1 day', '30 min', '36 h')
    """
    td = pd.Timedelta(window)
    seconds = td.total_seconds()
    for unit, size, plural in (("day", 86400, "days"), ("h", 3600, "h"), ("min", 60, "min"), ("s", 1, "s")):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit if count == 1 else plural}"
    return str(td)


def events_text(events) -> str:
    """An event list as text: ``"purchase"``, ``"purchase or refund"``.

    Examples
    --------
    >>> events_text(["purchase", "subscribe"])
    'purchase or subscribe'
    """
    return " or ".join(as_event_list(events, "events"))


def latest_complete(active: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`metrics.active_users` on the last date with a complete MAU window (``date`` dropped).

    Examples
    --------
    >>> a = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-02"]), "dau": [1.0, 2.0], "mau": [np.nan, 3.0]})
    >>> latest_complete(a).values.tolist()
    [[2.0, 3.0]]
    """
    complete = active.dropna(subset=["mau"])
    return complete[complete["date"] == complete["date"].max()].drop(columns="date").reset_index(drop=True)


def visits_per_period(sessions: pd.DataFrame, period: str, *, tz: str, end, last: int = 6) -> pd.DataFrame:
    """Time in app and returning visitor rate for the last ``last`` complete periods.

    ``end`` is the data end (a period holding it is incomplete and left out).

    Returns
    -------
    DataFrame
        ``period_start, active_users, sessions, median_minutes_per_user, returning_rate``.

    Examples
    --------
    >>> s = pd.DataFrame({"user_id": ["a", "a", "b"], "duration_s": [60.0, 120.0, 30.0],
    ...     "start": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 10:00", "2024-01-08 11:00"], utc=True)})
    >>> visits_per_period(s, "week", tz="UTC", end=pd.Timestamp("2024-01-08 12:00", tz="UTC")).values.tolist()
    [[Timestamp('2024-01-01 00:00:00'), 1.0, 2.0, 3.0, 1.0]]
    """
    incomplete = pd.Timestamp(periods.ordinal_to_start([periods.first_incomplete_ordinal(end, period, tz)], period)[0])
    spent = time_in_app(sessions, period, tz=tz)
    returning = returning_visitor_rate(sessions, period, tz=tz)
    out = spent.merge(returning[["period_start", "returning_rate"]], on="period_start")
    out = out[out["period_start"] < incomplete].tail(last).reset_index(drop=True)
    out["median_minutes_per_user"] = out["median_time_per_user_s"] / 60
    return out[["period_start", "active_users", "sessions", "median_minutes_per_user", "returning_rate"]]


def key_numbers(active: pd.DataFrame, session_stats: pd.DataFrame, funnel: pd.DataFrame, conversion: pd.DataFrame,
                conversion_events) -> dict[str, str]:
    """The report's key numbers, formatted: active users, sessions, funnel and conversion.

    Examples
    --------
    >>> a = pd.DataFrame({"date": pd.to_datetime(["2024-01-30"]), "dau": [5.0], "wau": [9.0], "mau": [20.0], "stickiness": [0.25]})
    >>> s = pd.DataFrame({"sessions_per_user": [2.0], "median_duration_s": [90.0], "bounce_rate": [0.1]})
    >>> k = key_numbers(a, s, pd.DataFrame({"conversion": [1.0, 0.2]}), pd.DataFrame({"conversion_rate": [0.3]}), "purchase")
    >>> k["Stickiness DAU/MAU"], k["Median session"], k["Users who did purchase"]
    ('25.0%', '1.5 min', '30.0%')
    """
    latest = active.dropna(subset=["mau"]).iloc[-1]
    stats = session_stats.iloc[0]
    return {
        "DAU (last day)": f"{latest['dau']:,.0f}",
        "WAU": f"{latest['wau']:,.0f}",
        "MAU": f"{latest['mau']:,.0f}",
        "Stickiness DAU/MAU": f"{latest['stickiness']:.1%}",
        "Sessions per user": f"{stats['sessions_per_user']:.1f}",
        "Median session": f"{stats['median_duration_s'] / 60:.1f} min",
        "Bounce rate": f"{stats['bounce_rate']:.1%}",
        "Funnel conversion": f"{funnel['conversion'].iloc[-1]:.1%}",
        f"Users who did {events_text(conversion_events)}": f"{conversion['conversion_rate'].iloc[0]:.1%}",
    }


def active_users_reading(active: pd.DataFrame) -> str:
    """Reading of the DAU / WAU / MAU chart: the last day, MAU growth, stickiness."""
    complete = active.dropna(subset=["mau"])
    first, latest = complete.iloc[0], complete.iloc[-1]
    change = latest["mau"] / first["mau"] - 1
    return (f"On {latest['date']:%Y-%m-%d}, {latest['dau']:,.0f} users were active that day and {latest['mau']:,.0f} "
            f"in the last 30 days (MAU {change:+.0%} since {first['date']:%Y-%m-%d}); stickiness is "
            f"{latest['stickiness']:.1%}, i.e. a monthly user is active on about {30 * latest['stickiness']:.0f} of 30 days.")


def active_days_reading(days: pd.DataFrame, period: str = "week") -> str:
    """Reading of the active-days distribution: one day only, three days or more."""
    three = days.loc[days["active_days"] == 3, "share_at_least"]
    at_least_3 = three.iloc[0] if len(three) else 0.0
    return (f"Of users active in a complete {period}, {days['share'].iloc[0]:.0%} were active on one day only and "
            f"{at_least_3:.0%} on three days or more.")


def sessions_reading(session_stats: pd.DataFrame) -> str:
    """Reading of the session summary (one row, :func:`sessions.session_summary` without a segment)."""
    s = session_stats.iloc[0]
    return (f"{s['sessions']:,.0f} sessions from {s['users']:,.0f} users: {s['sessions_per_user']:.1f} per user, "
            f"median {s['median_duration_s']:.0f} s (mean {s['mean_duration_s']:.0f} s); "
            f"{s['bounce_rate']:.1%} bounce and {s['engaged_rate']:.1%} are engaged sessions.")


def visits_reading(visits: pd.DataFrame, period: str) -> str:
    """Reading of :func:`visits_per_period`: the last complete period."""
    last = visits.iloc[-1]
    return (f"In the last complete {period}, the median active user spent {last['median_minutes_per_user']:.1f} minutes "
            f"in the app and {last['returning_rate']:.0%} of active users came back for more than one session.")


def lifecycle_reading(life: pd.DataFrame, period: str) -> str:
    """Reading of the lifecycle chart: the last complete period and users gained per user lost."""
    complete = life[life["complete"]]
    last = complete[complete["period_start"] == complete["period_start"].max()].set_index("status")["users"]
    quick_ratio = (last["new"] + last["resurrecting"]) / max(last["dormant"], 1)
    return (f"In the last complete {period}: {last['new']:,} new, {last['returning']:,} returning, "
            f"{last['resurrecting']:,} resurrecting and {last['dormant']:,} gone dormant — "
            f"{quick_ratio:.2f} users gained per user lost.")


def churn_reading(engagement: pd.DataFrame, churned: pd.DataFrame, period: str) -> str:
    """Reading of the engagement rate (last complete period) and the churned share."""
    return (f"Engagement rate in the last complete {period}: {engagement['engagement_rate'].iloc[-1]:.1%} of the users "
            f"who had arrived were active; overall {churned['churned'].sum() / churned['users'].sum():.1%} of users "
            f"old enough to judge have churned.")


def funnel_reading(funnel: pd.DataFrame, window) -> str:
    """Reading of the funnel chart: conversion to the last step and the largest loss."""
    worst = funnel.iloc[1:].sort_values("drop_off_rate", ascending=False).iloc[0]
    return (f"{funnel['conversion'].iloc[-1]:.1%} of the {funnel['users'].iloc[0]:,} users who entered reached the last "
            f"step within {duration_text(window)}; the largest loss is before step {int(worst['step'])} "
            f"({worst['drop_off_rate']:.0%} of the previous step drop off).")


def cart_reading(carts: pd.DataFrame, window) -> str:
    """Reading of :func:`funnels.cart_abandonment` by segment: the segment abandoning most."""
    worst = carts.sort_values("abandonment_rate").iloc[-1]
    return (f"Cart abandonment is highest on {worst['segment']} ({worst['abandonment_rate']:.0%} of users who added to "
            f"cart did not buy within {duration_text(window)}).")


def paths_reading(paths: pd.DataFrame, exits: pd.DataFrame) -> str:
    """Reading of the top paths and exit rates."""
    top_exit = exits.iloc[0]
    return (f"The most common path is '{paths['path'].iloc[0]}' ({paths['share'].iloc[0]:.0%} of sessions); "
            f"'{top_exit['item']}' has the highest exit rate ({top_exit['exit_rate']:.0%} of its views end the session).")


def cost_reading(cost: pd.DataFrame, conversion_events) -> str:
    """Reading of :func:`metrics.cpa_cac`: the cheapest channel."""
    cheapest = cost.sort_values("cac").iloc[0]
    return (f"{cheapest['channel']} acquires users most cheaply at {cheapest['cac']:.2f} per new user and "
            f"{cheapest['cpa']:.2f} per first {events_text(conversion_events)}.")


def nps_reading(scores: pd.DataFrame, alpha: float = 0.05) -> str | None:
    """Reading of :func:`metrics.survey_scores`: the NPS with its interval (None without NPS answers)."""
    nps = scores[scores["kind"] == "nps"]
    if nps.empty:
        return None
    row = nps.iloc[0]
    return (f"NPS is {row['score']:.0f} ({1 - alpha:.0%} CI {row['ci_low']:.0f} to {row['ci_high']:.0f}) "
            f"from {row['responses']:,.0f} answers.")


def reach_reading(reach: pd.DataFrame) -> str:
    """Reading of :func:`metrics.interaction_rates`: the lowest reach."""
    low = reach.sort_values("reach_rate").iloc[0]
    return (f"Lowest reach: {low['interaction'].replace('_', ' ')} on {low['segment']} ({low['reach_rate']:.0%} of users "
            f"shown one, {low['response_rate']:.0%} of them responded).")


def comparison_reading(comparison, metric: str, strata: Sequence[str]) -> str:
    """Reading of a :class:`metrics.GroupComparison`: ``metric`` of the last group vs the reference, raw and stratified."""
    table = comparison.table
    rows = table[(table["metric"] == metric) & (table["segment"] != comparison.reference)]
    row = rows.iloc[-1]
    return (f"{metric} of {comparison.segment} = {row['segment']} vs {comparison.reference}: {row['difference']:+.1%} "
            f"points raw and {row['adjusted_difference']:+.1%} within the same {' × '.join(strata)} — "
            f"the rest of the raw gap is who those users are.")
