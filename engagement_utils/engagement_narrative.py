"""Readings of the engagement overview report: the one-line texts under its charts and tables.

Each function turns results of :mod:`engagement_utils.metrics`, :mod:`engagement_utils.sessions`
and :mod:`engagement_utils.funnels` (as shaped by :mod:`engagement_utils.engagement_report`) into
plain text generated from the data (``display.show_note`` escapes it); nothing here computes a
metric.  The notebook reaches them as ``engagement_report.<name>``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from . import periods
from .display.format import plural
from .validation import as_event_list

__all__ = ["duration_text", "seconds_text", "events_text", "busiest_day_text", "active_users_reading", "active_days_reading",
           "sessions_reading", "visits_reading", "lifecycle_reading", "churn_reading", "funnel_reading", "cart_reading",
           "paths_reading", "cost_reading", "nps_reading", "reach_reading", "OUTCOME_WORDS", "comparison_reading",
           "comparison_intro", "conversion_by_period_reading", "is_loop_path", "segment_paths_reading", "loops_reading"]


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


def seconds_text(seconds: float) -> str:
    """A duration in seconds as people read it: ``"45 s"``, ``"14.5 min"``, ``"2.3 h"``.

    Examples
    --------
    >>> seconds_text(45), seconds_text(869), seconds_text(8280), seconds_text(float("nan"))
    ('45 s', '14.5 min', '2.3 h', '–')
    """
    if seconds != seconds:
        return "–"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.1f} min"
    return f"{seconds / 3600:,.1f} h"


def events_text(events) -> str:
    """An event list as text: ``"purchase"``, ``"purchase or refund"``.

    Examples
    --------
    >>> events_text(["purchase", "subscribe"])
    'purchase or subscribe'
    """
    return " or ".join(as_event_list(events, "events"))


def busiest_day_text(active: pd.DataFrame) -> str:
    """The day with most active users, as a multiple of the median day (a spike reads "3.1× the median day").

    Examples
    --------
    >>> a = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=8), "dau": [10.0, 11, 35, 9, 10, 12, 11, 10]})
    >>> busiest_day_text(a)
    'The busiest day was 2024-01-03 with 35 active users, 3.3× the median day (10.5).'
    >>> busiest_day_text(a.assign(dau=[10.0, 11, 12, 9, 10, 12, 11, 10]))
    'No day stands out: the busiest, 2024-01-03, had 12 active users (median day 10.5).'
    """
    from .overview import MIN_PERIODS, STANDS_OUT, times_text

    if len(active) < MIN_PERIODS or not (active["dau"] > 0).any():
        return ""
    top = active.loc[active["dau"].idxmax()]
    median = active["dau"].median()
    times = times_text(top["dau"], median)
    typical = f"{median:,.1f}" if median % 1 else f"{median:,.0f}"
    if median == 0:
        return (f"The busiest day was {top['date']:%Y-%m-%d} with {plural(int(top['dau']), 'active user')}; "
                f"on most days no user was active.")
    if times and top["dau"] >= STANDS_OUT * median:
        return (f"The busiest day was {top['date']:%Y-%m-%d} with {plural(int(top['dau']), 'active user')}, "
                f"{times} the median day ({typical}).")
    return (f"No day stands out: the busiest, {top['date']:%Y-%m-%d}, had {plural(int(top['dau']), 'active user')} "
            f"(median day {typical}).")


def active_users_reading(active: pd.DataFrame) -> str:
    """Reading of the DAU / WAU / MAU chart: the last day, MAU growth, stickiness, the busiest day against the median."""
    complete = active.dropna(subset=["mau"])
    busiest = busiest_day_text(active)
    if complete.empty:
        last = active.iloc[-1]
        verb = "was" if int(last["dau"]) == 1 else "were"
        return (f"The data cover fewer than 30 days, so MAU and stickiness (DAU / MAU) are not defined yet; on "
                f"{last['date']:%Y-%m-%d}, {plural(int(last['dau']), 'user')} {verb} active that day. {busiest}").strip()
    first, latest = complete.iloc[0], complete.iloc[-1]
    change = latest["mau"] / first["mau"] - 1
    verb = "was" if int(latest["dau"]) == 1 else "were"
    return (f"On {latest['date']:%Y-%m-%d}, {plural(int(latest['dau']), 'user')} {verb} active that day and {latest['mau']:,.0f} "
            f"in the last 30 days (MAU {change:+.0%} since {first['date']:%Y-%m-%d}); stickiness is "
            f"{latest['stickiness']:.1%}, i.e. a monthly user is active on about {30 * latest['stickiness']:.0f} of 30 days. "
            f"{busiest}").strip()


def active_days_reading(days: pd.DataFrame, period: str = "week") -> str:
    """Reading of the active-days distribution: one day only, three days or more."""
    three = days.loc[days["active_days"] == 3, "share_at_least"]
    at_least_3 = three.iloc[0] if len(three) else 0.0
    return (f"Of users active in a complete {period}, {days['share'].iloc[0]:.0%} were active on one day only and "
            f"{at_least_3:.0%} on three days or more.")


def sessions_reading(session_stats: pd.DataFrame) -> str:
    """Reading of the session summary (one row, :func:`sessions.session_summary` without a segment)."""
    s = session_stats.iloc[0]
    return (f"{plural(s['sessions'], 'session')} from {plural(s['users'], 'user')}: {s['sessions_per_user']:.1f} per user, "
            f"median {seconds_text(s['median_duration_s'])} (mean {seconds_text(s['mean_duration_s'])}); "
            f"{s['bounce_rate']:.1%} bounce and {s['engaged_rate']:.1%} are engaged sessions.")


def visits_reading(visits: pd.DataFrame, period: str) -> str:
    """Reading of :func:`visits_per_period`: the last complete period."""
    if visits.empty:
        return f"The data cover no complete {period} yet, so time spent and returning visitors per {period} are not shown."
    last = visits.iloc[-1]
    return (f"In the last complete {period}, the median active user spent {last['median_minutes_per_user']:.1f} minutes "
            f"in the app and {last['returning_rate']:.0%} of active users came back for more than one session.")


def lifecycle_reading(life: pd.DataFrame, period: str) -> str:
    """Reading of the lifecycle chart: the last complete period and users gained per user lost."""
    complete = life[life["complete"]]
    if complete.empty:
        return f"The data cover no complete {period} yet, so the lifecycle of users per {period} is not shown."
    last = complete[complete["period_start"] == complete["period_start"].max()].set_index("status")["users"]
    gained = last["new"] + last["resurrecting"]
    counts = (f"In the last complete {period}: {last['new']:,} new, {last['returning']:,} returning, "
              f"{last['resurrecting']:,} resurrecting and {last['dormant']:,} gone dormant")
    if last["dormant"] == 0:
        return counts + (" — no user gained or lost." if gained == 0 else f" — {plural(gained, 'user')} gained, none lost.")
    return counts + f" — {gained / last['dormant']:.2f} users gained per user lost."


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
    if carts.empty:
        return "No group is large enough to compare cart abandonment."
    worst = carts.sort_values("abandonment_rate").iloc[-1]
    return (f"Cart abandonment is highest on {worst['segment']} ({worst['abandonment_rate']:.0%} of users who added to "
            f"cart did not buy within {duration_text(window)}).")


def paths_reading(paths: pd.DataFrame, exits: pd.DataFrame) -> str:
    """Reading of the top paths and exit rates."""
    top_exit = exits.iloc[0]
    return (f"The most common path is '{paths['path'].iloc[0]}' ({paths['share'].iloc[0]:.0%} of sessions); "
            f"'{top_exit['item']}' has the highest exit rate ({top_exit['exit_rate']:.0%} of its views end the session).")


def cost_reading(cost: pd.DataFrame, conversion_events, currency: str | None = None) -> str:
    """Reading of :func:`metrics.cpa_cac`: the cheapest channel (amounts in ``currency`` when the data set sets one)."""
    from .display.format import format_money

    cheapest = cost.sort_values("cac").iloc[0]
    return (f"{cheapest['channel']} acquires users most cheaply at {format_money(cheapest['cac'], currency)} per new user and "
            f"{format_money(cheapest['cpa'], currency)} per first {events_text(conversion_events)}.")


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
    if reach.empty:
        return "No group is large enough to compare reach."
    low = reach.sort_values("reach_rate").iloc[0]
    return (f"Lowest reach: {low['interaction'].replace('_', ' ')} on {low['segment']} ({low['reach_rate']:.0%} of users "
            f"shown one, {low['response_rate']:.0%} of them responded).")


OUTCOME_WORDS = {"engaged_30d": "Engagement in the first 30 days", "stickiness_30d": "Stickiness over the first 30 days",
                 "retained_d1": "Day-1 retention", "retained_d7": "Day-7 retention", "retained_d30": "Day-30 retention",
                 "converted_7d": "Conversion within 7 days"}


def comparison_reading(comparison, metric: str, strata: Sequence[str]) -> str:
    """Reading of a :class:`metrics.GroupComparison`: ``metric`` of the last group vs the reference, raw and stratified.

    Differences of shares read in percentage points; metric and column names read as words.

    Examples
    --------
    >>> from engagement_utils import metrics
    >>> c = metrics.compare_groups(pd.DataFrame({"g": [0, 0, 1, 1], "platform": "ios", "retained_d7": [0.0, 1.0, 1.0, 1.0]}),
    ...                            "g", ["retained_d7"], strata=["platform"], reference=0)
    >>> comparison_reading(c, "retained_d7", ["platform"])
    'Day-7 retention of g = 1 vs 0: +50.0 pp raw and +50.0 pp within the same platform — the rest of the raw gap is who those users are.'
    """
    from .display.format import format_pp

    table = comparison.table
    rows = table[(table["metric"] == metric) & (table["segment"] != comparison.reference)]
    row = rows.iloc[-1]
    what = OUTCOME_WORDS.get(metric, metric.replace("_", " "))
    group = str(comparison.segment).replace("_", " ")
    head = f"{what} of {group} = {row['segment']} vs {comparison.reference}: {format_pp(row['difference'])} raw"
    if not strata:
        return head + " (no columns to stratify by: part of the gap may be who those users are)."
    return (f"{head} and {format_pp(row['adjusted_difference'])} within the same "
            f"{' × '.join(s.replace('_', ' ') for s in strata)} — the rest of the raw gap is who those users are.")


def comparison_intro(strata: Sequence[str]) -> str:
    """The sentence introducing the messaging / onboarding comparison, from the strata used."""
    how = (f"raw and stratified by {' × '.join(s.replace('_', ' ') for s in strata)}" if strata
           else "raw only (the data have no platform or acquisition channel to stratify by)")
    return ("Users reached by more messaging channels, and users who got onboarding messages, compared on outcomes "
            f"measured from each user's first day. Differences are shown {how}.")


def conversion_by_period_reading(table: pd.DataFrame, period: str, conversion_events) -> str:
    """Reading of :func:`metrics.conversion_by_period`: the median and the largest dip below it.

    The dip is the run of consecutive periods below the median rate that loses
    the most conversions (active users × the gap to the median, summed).

    Examples
    --------
    >>> t = pd.DataFrame({"period_start": pd.date_range("2024-01-01", periods=5, freq="W-MON"),
    ...                   "active_users": [100.0] * 5, "conversion_rate": [0.2, 0.2, 0.05, 0.06, 0.2]})
    >>> conversion_by_period_reading(t, "week", "purchase")  # doctest: +NORMALIZE_WHITESPACE
    'Median share of active users who did purchase: 20.0% per week. Largest dip: the weeks of 2024-01-15 to
     2024-01-22, 5.5% of 200 active users, about 29 conversions fewer than at the median rate.'
    """
    rated = table[table["active_users"] > 0].reset_index(drop=True)
    if rated.empty:
        return f"No complete {period} with active users yet, so conversion per {period} is not read."
    median = rated["conversion_rate"].median()
    text = f"Median share of active users who did {events_text(conversion_events)}: {median:.1%} per {period}."
    below = (rated["conversion_rate"] < median).to_numpy()
    if not below.any():
        return text
    run = np.cumsum(np.r_[True, below[1:] != below[:-1]])
    lost = (median - rated["conversion_rate"]) * rated["active_users"]
    by_run = lost[below].groupby(run[below]).sum()
    dip = rated[run == by_run.idxmax()]
    first, last = dip["period_start"].iloc[0], dip["period_start"].iloc[-1]
    users = dip["active_users"].sum()
    rate = (dip["conversion_rate"] * dip["active_users"]).sum() / users
    when = (f"the {period} of {first:%Y-%m-%d}" if len(dip) == 1
            else f"the {period}s of {first:%Y-%m-%d} to {last:%Y-%m-%d}")
    return (f"{text} Largest dip: {when}, {rate:.1%} of {plural(users, 'active user')}, about "
            f"{plural(round(by_run.max()), 'conversion')} fewer than at the median rate.")


def is_loop_path(path: str, anchors) -> bool:
    """True when a path leaves the ``anchors`` (e.g. checkout events) for another event and comes back to one.

    Examples
    --------
    >>> is_loop_path("shipping → cart → shipping → (exit)", ["shipping", "payment"])
    True
    >>> is_loop_path("payment → shipping → (exit)", ["shipping", "payment"]), is_loop_path("shipping → cart", ["shipping"])
    (False, False)
    """
    anchors = set(as_event_list(anchors, "anchors"))
    left = False
    for step in str(path).split(" → ")[1:]:
        if step in anchors and left:
            return True
        if step not in anchors and step != "(exit)":
            left = True
    return False


def segment_paths_reading(paths: pd.DataFrame, segment: str, from_events=None) -> str:
    """Reading of :func:`paths_by_segment`: each group's most common path from the anchor, and the looping paths.

    With ``from_events`` (the anchor events), the groups whose top paths leave the
    anchors and come back (a loop, e.g. checkout → cart → checkout) are named with
    their most common looping path and the share of their sessions on looping paths.

    Examples
    --------
    >>> t = pd.DataFrame({"segment": ["a", "b", "b"], "path": ["x → (exit)", "x → (exit)", "x → c → x → (exit)"],
    ...                   "share": [0.5, 0.3, 0.1]})
    >>> segment_paths_reading(t, "platform", ["x"])  # doctest: +NORMALIZE_WHITESPACE
    "Most common path per platform: a: 'x → (exit)' (50% of its sessions); b: 'x → (exit)' (30% of its sessions).
     Paths that leave x and come back: b: 'x → c → x → (exit)' (10% of its sessions on such paths)."
    """
    if paths.empty:
        return f"No {segment.replace('_', ' ')} group is large enough to show paths."
    first = paths.drop_duplicates("segment")
    text = "Most common path per " + segment.replace("_", " ") + ": " + "; ".join(
        f"{row.segment}: '{row.path}' ({row.share:.0%} of its sessions)" for row in first.itertuples()) + "."
    if from_events is None:
        return text
    loops = paths[[is_loop_path(path, from_events) for path in paths["path"]]]
    anchors = events_text(from_events)
    if loops.empty:
        return text + f" None of these paths leaves {anchors} and comes back."
    share = loops.groupby("segment", sort=False)["share"].sum().sort_values(ascending=False, kind="stable")
    top = loops.drop_duplicates("segment").set_index("segment")["path"]
    return text + f" Paths that leave {anchors} and come back: " + "; ".join(
        f"{group}: '{top[group]}' ({share[group]:.0%} of its sessions on such paths)" for group in share.index) + "."


def loops_reading(loops: pd.DataFrame, checkout_events, cart_events, min_sessions: int = 10) -> str:
    """Reading of :func:`funnels.checkout_loops`: the group and period looping most, against the rest."""
    shown = loops[loops["checkout_sessions"] >= min_sessions]
    if shown.empty:
        return f"No group and period has at least {plural(min_sessions, 'checkout session')}, so no loop rate is read."
    if not (shown["loop_sessions"] > 0).any():
        return (f"No checkout session goes back from {events_text(checkout_events)} to {events_text(cart_events)} "
                f"and returns to {events_text(checkout_events)}.")
    top = shown.loc[shown["loop_rate"].idxmax()]
    rest = shown.drop(index=top.name)
    typical = f" (median of the other groups and periods: {rest['loop_rate'].median():.0%})" if len(rest) else ""
    group = f"{top['segment']} in " if "segment" in shown.columns else ""
    text = (f"Checkout loops (reaching {events_text(checkout_events)}, back to {events_text(cart_events)}, and "
            f"{events_text(checkout_events)} again) are most frequent for {group}the period from "
            f"{top['period_start']:%Y-%m-%d}: {top['loop_rate']:.0%} of "
            f"{plural(top['checkout_sessions'], 'checkout session')}{typical}.")
    if len(rest) and "segment" in shown.columns:
        leader = shown.loc[shown.groupby("period_start")["loop_rate"].transform("max") == shown["loop_rate"]]
        others = shown.groupby("period_start")["segment"].transform("size") > 1
        periods = sorted(shown["period_start"].unique())
        led = {p for p, g in zip(leader["period_start"], leader["segment"]) if g == top["segment"]}
        contested = set(shown.loc[others.to_numpy(), "period_start"])
        at = periods.index(top["period_start"])
        lo, hi = at, at
        while lo > 0 and periods[lo - 1] in led and periods[lo - 1] in contested:
            lo -= 1
        while hi < len(periods) - 1 and periods[hi + 1] in led and periods[hi + 1] in contested:
            hi += 1
        if hi > lo:
            text += (f" In each period from {pd.Timestamp(periods[lo]):%Y-%m-%d} to {pd.Timestamp(periods[hi]):%Y-%m-%d}, "
                     f"{top['segment']} loops more than every other group.")
    return text
