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
from .core import as_utc, engine_of
from .metrics import returning_visitor_rate
from .sessions import time_in_app
from .display.format import plural
from .validation import as_event_list

__all__ = ["duration_text", "seconds_text", "events_text", "key_numbers", "funnel_table", "plural", "run_dataset", "Sections",
           "breakdown_column", "segment_labels", "path_column_of", "overview_sections", "present_interactions", "comparison_strata",
           "comparison_intro", "conversion_by_period_reading", "paths_by_segment", "segment_paths_reading", "is_loop_path",
           "loops_reading", "latest_complete", "visits_per_period", "BY_SEGMENT", "no_segment_line", "interactions_line",
           "active_users_reading", "busiest_day_text", "active_days_reading", "sessions_reading", "visits_reading", "lifecycle_reading",
           "churn_reading", "funnel_reading", "cart_reading", "paths_reading", "cost_reading", "nps_reading",
           "reach_reading", "comparison_reading", "OUTCOME_WORDS"]


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


def key_numbers(active: pd.DataFrame, session_stats: pd.DataFrame, funnel: pd.DataFrame | None,
                conversion: pd.DataFrame | None, conversion_events) -> dict[str, str]:
    """The report's key numbers, formatted: active users, sessions, funnel and conversion.

    ``funnel`` / ``conversion`` are None when the data set has no funnel or
    conversion events; their numbers are then left out (the skipped sections
    are listed by :meth:`Sections.key_number`).

    Examples
    --------
    >>> a = pd.DataFrame({"date": pd.to_datetime(["2024-01-30"]), "dau": [5.0], "wau": [9.0], "mau": [20.0], "stickiness": [0.25]})
    >>> s = pd.DataFrame({"sessions_per_user": [2.0], "median_duration_s": [90.0], "bounce_rate": [0.1]})
    >>> k = key_numbers(a, s, pd.DataFrame({"conversion": [1.0, 0.2]}), pd.DataFrame({"conversion_rate": [0.3]}), "purchase")
    >>> k["Stickiness DAU/MAU"], k["Median session"], k["Users who did purchase"]
    ('25.0%', '1.5 min', '30.0%')
    >>> "Funnel conversion" in key_numbers(a, s, None, None, None)
    False
    """
    complete = active.dropna(subset=["mau"])
    stats = session_stats.iloc[0]
    out = {}
    if len(complete):
        latest = complete.iloc[-1]
        out.update({"DAU (last day)": f"{latest['dau']:,.0f}", "WAU": f"{latest['wau']:,.0f}",
                    "MAU": f"{latest['mau']:,.0f}", "Stickiness DAU/MAU": f"{latest['stickiness']:.1%}"})
    out.update({
        "Sessions per user": f"{stats['sessions_per_user']:.1f}",
        "Median session": f"{stats['median_duration_s'] / 60:.1f} min",
        "Bounce rate": f"{stats['bounce_rate']:.1%}",
    })
    if funnel is not None and len(funnel):
        out["Funnel conversion"] = f"{funnel['conversion'].iloc[-1]:.1%}"
    if conversion is not None and len(conversion):
        out[f"Users who did {events_text(conversion_events)}"] = f"{conversion['conversion_rate'].iloc[0]:.1%}"
    return out


def funnel_table(seg_funnel: pd.DataFrame) -> pd.DataFrame:
    """A funnel by segment for display: ``entered`` (users at step 1 of the segment, for suppression) and hours to each step."""
    entered = seg_funnel.groupby("segment", observed=True)["users"].transform("first")
    out = seg_funnel.assign(entered=entered, median_hours_to_step=seg_funnel["median_time_s"] / 3600)
    return out[["segment", "entered", "step", "step_name", "users", "conversion", "ci_low", "ci_high", "median_hours_to_step"]]


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
"""How the per-user outcomes of :func:`metrics.user_outcomes` read in a sentence."""


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


# --- one data set per run (issue 12): roles, sections and their needs --------------------------------

def run_dataset(description, *, start=None, end=None, tz: str | None = None, **roles):
    """The run's data set: loaded once, roles overridden by the notebook's own role parameters, events cut to ``[start, end)``.

    Blank role parameters (None, "", []) keep the data set's roles; a blank
    ``tz`` / ``end`` keeps the data set's.  Inputs the description does not
    name stay ``None`` (never a demo file).

    Returns
    -------
    DataSet
        With ``tz`` and ``end`` resolved (``end`` None: the last event).

    Examples
    --------
    >>> ds = run_dataset({"events": "data/external/ecom/ecom.csv.gz", "conversion_events": "purchase"},
    ...                  cart_events=["add_to_cart"], start="2024-03-01")
    >>> ds.roles.conversion_events, ds.roles.cart_events, ds.users is None, str(ds.events["timestamp"].min().date())
    (['purchase'], ['add_to_cart'], True, '2024-03-01')
    """
    import dataclasses
    import zoneinfo

    from .dataset import load_dataset

    ds = load_dataset(description).with_roles(**roles)
    zone = tz.strip() if isinstance(tz, str) and tz.strip() else ds.tz
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"The 'tz' parameter must be an IANA time zone name such as 'UTC' or 'Europe/Berlin'; got {zone!r}") from None
    bound = ds.end if end is None or (isinstance(end, str) and not end.strip()) else end
    events = ds.events
    start = None if start is None else as_utc(start, "start")
    bound = None if bound is None else as_utc(bound, "end")
    if engine_of(events) == "ibis":  # the window is cut in the engine
        if start is not None or bound is not None:
            from .engines.ibis_scans import cut

            events = events.with_table(cut(events, bound, start))
        return dataclasses.replace(ds, events=events, tz=zone, end=bound)
    keep = np.ones(len(events), dtype=bool)
    if start is not None:
        keep &= (events["timestamp"] >= start).to_numpy()
    if bound is not None:
        keep &= (events["timestamp"] < bound).to_numpy()
    if not keep.all():
        events = events.loc[keep].reset_index(drop=True)
    return dataclasses.replace(ds, events=events, tz=zone, end=bound)


class Sections:
    """Which report sections the data allow: needs per section, checked against a data profile.

    ``ok(name)`` is True when nothing is missing; otherwise it displays one
    line (``show_note``) naming the section, what is missing and which
    parameter or column supplies it, and returns False.  ``extra`` adds
    sentences a data profile cannot tell (e.g. "no user bought anything").  ``skipped`` lists
    the skipped sections for the key numbers.

    Examples
    --------
    >>> from engagement_utils.data_profile import profile, requires
    >>> ev = pd.DataFrame({"user_id": pd.Categorical(["a"]), "event": pd.Categorical(["open"]),
    ...                    "timestamp": pd.to_datetime(["2024-01-01"], utc=True)})
    >>> s = Sections({"Funnel": requires(roles=["funnel_steps"]), "Activity": ()}, profile(ev))
    >>> s.missing("Activity"), s.skipped
    ([], ['Funnel'])
    """

    def __init__(self, needs: dict, prof, extra: dict | None = None):
        from .data_profile import missing_for

        self.needs = dict(needs)
        self.profile = prof
        self._missing = {name: missing_for(need, prof) + list((extra or {}).get(name, ()))
                         for name, need in self.needs.items()}

    def missing(self, name: str) -> list[str]:
        """What section ``name`` lacks (one sentence each; empty when it can be shown)."""
        return self._missing[name]

    def note(self, name: str) -> str | None:
        """The line shown instead of section ``name`` (None when nothing is missing)."""
        lacking = self._missing[name]
        return f"{name} skipped: " + "; ".join(lacking) + "." if lacking else None

    def ok(self, name: str) -> bool:
        """True when section ``name`` can be shown; else display its note and return False."""
        note = self.note(name)
        if note is None:
            return True
        from .display import show_note

        show_note(note, kind="warning")
        return False

    @property
    def skipped(self) -> list[str]:
        """Names of the sections whose needs are missing, in declaration order."""
        return [name for name, lacking in self._missing.items() if lacking]

    def key_number(self) -> dict[str, str]:
        """``{"Skipped sections": "A (needs x); B (needs y)"}`` (``"none"`` when every section is shown).

        The header shows it as one compact line, not as a figure (:data:`display.SKIPPED_SECTIONS`).
        """
        from .overview import skipped_list

        return {"Skipped sections": skipped_list({name: self._missing[name] for name in self.skipped}) or "none"}


def segment_labels(segment: str | None) -> dict[str, str]:
    """Table labels naming the breakdown: the ``segment`` column reads as the column it holds.

    Examples
    --------
    >>> segment_labels("acquisition_channel"), segment_labels(None)
    ({'segment': 'Acquisition channel'}, {})
    """
    from .display.format import column_label

    return {"segment": column_label(segment)} if segment else {}


def breakdown_column(segment: str | None, prof) -> str | None:
    """The events column a breakdown uses: ``segment`` as named, or the profile's column for an optional name.

    ``"channel"`` finds ``acquisition_channel`` when the events call it so.

    Examples
    --------
    >>> from engagement_utils.data_profile import profile
    >>> ev = pd.DataFrame({"user_id": pd.Categorical(["a"]), "event": pd.Categorical(["open"]),
    ...                    "timestamp": pd.to_datetime(["2024-01-01"], utc=True), "acquisition_channel": ["ads"]})
    >>> breakdown_column("channel", profile(ev)), breakdown_column("platform", profile(ev))
    ('acquisition_channel', 'platform')
    """
    if not segment:
        return None
    return prof.columns.get(segment) or segment


def path_column_of(path_column: str | None, prof) -> str:
    """The column paths follow: ``path_column`` when set, else ``screen`` when the events have it, else ``event``."""
    if path_column:
        return path_column
    return prof.columns.get("screen") or "event"


def overview_sections(prof, *, segment: str | None, path_column: str, strata: Sequence[str],
                      interactions: Sequence[str], log=None, period: str = "week", churn_days: int = 30,
                      proposing: bool = False) -> Sections:
    """The sections of report 02 and what each needs (:func:`data_profile.requires`).

    With the event ``log``, the active-days distribution also needs one complete week, and
    the lifecycle one complete ``period``, and churn more than ``churn_days`` of history.
    ``proposing``: the data set sets no funnel steps, so a funnel is proposed from the events.
    On an engine (``prof.engine == "ibis"``) the sections without an engine version need the
    events in memory (``requires(engine="memory")``) and are skipped with one line each.
    """
    from .data_profile import requires
    from .metrics import complete_periods

    memory = requires(engine="memory")
    if log is not None and engine_of(log) == "ibis":
        log = _bounds_log(log)  # the checks below read only the data span

    by = requires(event_columns=[segment]) if segment else ()
    extra: dict[str, list[str]] = {}
    if not segment:
        for name in BY_SEGMENT:
            extra[name] = [no_segment_line(prof)]
    if log is not None:
        first, last = complete_periods(log, "week")
        if first > last:
            extra["Active days per week"] = ["needs a complete week (Monday to Sunday) inside the data"]
        first, last = complete_periods(log, period)
        if first > last:
            extra["Lifecycle"] = [f"needs a complete {period} inside the data (a shorter `period` parameter may fit)"]
        history_days = (log.data_end()[1] - int(log.ns.min())) / 86_400e9
        if history_days <= churn_days:
            covered = plural(round(history_days), "day") if history_days >= 1 else "less than a day"
            extra["Churn"] = [f"needs more than {plural(churn_days, 'day')} of history (the data cover "
                              f"{covered}; a smaller `churn_days` parameter may fit)"]
    if not interactions:
        extra.setdefault("Message reach", []).insert(0, interactions_line(prof))
    return Sections({
        "Active days per week": memory,
        "Lifecycle": (),
        "Churn": memory,
        "Active users by segment": by,
        "Sessions by segment": by,
        "Session durations": memory,
        "Time spent and returning visitors": memory,
        "Conversion": requires(roles=["conversion_events"]),
        "Conversion over time": requires(roles=["conversion_events"]) + memory,
        **({"Proposed funnel": memory} if proposing else {}),
        "Funnel by segment": by,
        "Cart abandonment": requires(roles=["cart_events", "conversion_events"]) + by + memory,
        "Event paths": memory,
        "Paths from checkout by segment": requires(roles=["checkout_events"]) + by + memory,
        "Checkout loops by segment": requires(roles=["checkout_events", "cart_events"]) + by + memory,
        "Screen flow": (requires(event_columns=[path_column]) if path_column != "event" else ()) + memory,
        "Acquisition cost": requires(inputs=["spend", "users"], roles=["conversion_events"]) + memory,
        "Survey scores": requires(inputs=["surveys"]),
        "Message reach": by + memory,
        "Messaging channels and onboarding": requires(user_columns=["n_messaging_channels", "onboarding"]) + memory,
    }, prof, extra)


def _bounds_log(src):
    """An :class:`EventLog` of an engine source's first and last event: what the span checks of 02 read."""
    from .core import EventLog
    from .engines.ibis_scans import data_bounds

    first, last = data_bounds(src)
    return EventLog(pd.DataFrame({"user_id": ["(bounds)", "(bounds)"], "event": ["(bounds)", "(bounds)"],
                                  "timestamp": pd.to_datetime([first, last], utc=True)}), tz=src.tz)


BY_SEGMENT = ("Active users by segment", "Sessions by segment", "Funnel by segment", "Cart abandonment",
              "Paths from checkout by segment", "Checkout loops by segment", "Message reach")
"""Sections of report 02 that are broken down by the ``segment`` column."""


def no_segment_line(prof) -> str:
    """Why a breakdown is skipped when the ``segment`` parameter is blank, naming columns this data set has.

    Examples
    --------
    >>> from engagement_utils.data_profile import profile
    >>> ev = pd.DataFrame({"user_id": pd.Categorical(["a"]), "event": pd.Categorical(["open"]),
    ...                    "timestamp": pd.to_datetime(["2024-01-01"], utc=True), "country": ["DE"]})
    >>> no_segment_line(profile(ev))
    'needs a breakdown column: the `segment` parameter is blank (set it to an events column, e.g. country)'
    """
    usable = [prof.columns[key] for key in ("platform", "channel", "country") if prof.columns.get(key)]
    hint = (f"set it to an events column, e.g. {', '.join(usable)}" if usable
            else "the events have no platform, channel or country column to name")
    return f"needs a breakdown column: the `segment` parameter is blank ({hint})"


def interactions_line(prof) -> str:
    """Why message reach is skipped when no message or survey events occur, in this data set's terms.

    Examples
    --------
    >>> from engagement_utils.data_profile import profile
    >>> ev = pd.DataFrame({"user_id": pd.Categorical(["a", "a"]), "event": pd.Categorical(["open", "buy"]),
    ...                    "timestamp": pd.to_datetime(["2024-01-01"] * 2, utc=True)})
    >>> interactions_line(profile(ev))
    'needs events of in-app messages or surveys shown to users (a shown and a response event); none of the 2 event types of this data set is one'
    """
    n = len(prof.event_names)
    return ("needs events of in-app messages or surveys shown to users (a shown and a response event); "
            f"none of the {plural(n, 'event type')} of this data set is one" if n != 1 else
            "needs events of in-app messages or surveys shown to users (a shown and a response event); "
            "the one event type of this data set is not one")


def present_interactions(prof) -> dict[str, tuple[str, str]]:
    """The message / survey interactions (:data:`metrics.DEFAULT_INTERACTIONS`) whose shown event occurs."""
    from .metrics.observational import DEFAULT_INTERACTIONS

    names = set(prof.event_names)
    return {k: v for k, v in DEFAULT_INTERACTIONS.items() if v[0] in names}


def comparison_strata(prof, candidates: Sequence[str] = ("platform", "acquisition_channel")) -> list[str]:
    """The stratification columns the users table (or the events) has, among ``candidates``."""
    have = set(prof.user_columns) | set(c for c in prof.columns.values() if c) | set(prof.properties)
    return [c for c in candidates if c in have]


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


def paths_by_segment(log, segment: str, from_events, *, length: int = 4, top: int = 5, timeout="30min",
                     min_group_size: int = 10) -> pd.DataFrame:
    """Top paths from ``from_events`` per value of the events column ``segment`` (groups of at least ``min_group_size`` users).

    Returns
    -------
    DataFrame
        ``segment, users, path, steps, sessions, share`` (share of the group's sessions that reach ``from_events``).
    """
    from .funnels import top_paths

    frame = log.frame
    values = frame[segment].astype("string").fillna("(missing)")
    users = frame.groupby(values.to_numpy(), observed=True)["user_id"].nunique()
    parts = []
    for value in sorted(users.index[users >= min_group_size]):  # a handful of segment values
        paths = top_paths(frame.loc[(values == value).to_numpy()], from_events, length=length, top=top, timeout=timeout)
        if len(paths):
            parts.append(paths.assign(segment=value, users=int(users[value])))
    columns = ["segment", "users", "path", "steps", "sessions", "share"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


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
