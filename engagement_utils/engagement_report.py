"""Tables and sections of the engagement overview report (``notebooks/02_engagement_overview.ipynb``).

The report's numbers come from :mod:`engagement_utils.metrics`,
:mod:`engagement_utils.sessions` and :mod:`engagement_utils.funnels`; this
module shapes them for display and decides which sections the data set
supports (:func:`overview_sections`).  The one-line readings under each chart
live in :mod:`engagement_utils.engagement_narrative` and are re-exported here.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from . import periods
from ._arrays import distinct_per_code
from .core import as_utc, engine_of
from .metrics import returning_visitor_rate
from .sessions import time_in_app
from .display.format import plural
from . import engagement_narrative
# The readings stay reachable as engagement_report.<name>, the names notebook 02 uses.
from .engagement_narrative import (OUTCOME_WORDS, active_days_reading, active_users_reading, busiest_day_text,
                                   cart_reading, churn_reading, comparison_intro, comparison_reading,
                                   conversion_by_period_reading, cost_reading, duration_text, events_text,
                                   funnel_reading, is_loop_path, lifecycle_reading, loops_reading, nps_reading,
                                   paths_reading, reach_reading, seconds_text, segment_paths_reading,
                                   sessions_reading, visits_reading)
from .validation import as_event_list

__all__ = ["key_numbers", "funnel_table", "plural", "run_dataset", "Sections", "breakdown_column", "segment_labels",
           "path_column_of", "overview_sections", "present_interactions", "comparison_strata", "paths_by_segment",
           "latest_complete", "visits_per_period", "session_durations", "BY_SEGMENT", "no_segment_line", "interactions_line",
           *engagement_narrative.__all__]


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


def visits_per_period(sessions: pd.DataFrame, period: str, *, tz: str, end=None, last: int = 6,
                      timeout="30min") -> pd.DataFrame:
    """Time in app and returning visitor rate for the last ``last`` complete periods.

    ``end`` is the data end (a period holding it is incomplete and left out; None: the last
    event).  ``sessions`` is a session table, or an engine source (sessions cut with ``timeout``
    and summed per user × period in the engine, :func:`engines.engagement_scans.visit_tables`).

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
    if engine_of(sessions) == "ibis":  # sessions summed per user × period in the engine
        from .engines.engagement_scans import visit_tables

        spent, returning, end = visit_tables(sessions, period, tz=tz, end=end, timeout=timeout)
    else:
        spent = time_in_app(sessions, period, tz=tz)
        returning = returning_visitor_rate(sessions, period, tz=tz)
        end = sessions["end"].max() if end is None else end
    incomplete = pd.Timestamp(periods.ordinal_to_start([periods.first_incomplete_ordinal(end, period, tz)], period)[0])
    out = spent.merge(returning[["period_start", "returning_rate"]], on="period_start")
    out = out[out["period_start"] < incomplete].tail(last).reset_index(drop=True)
    out["median_minutes_per_user"] = out["median_time_per_user_s"] / 60
    return out[["period_start", "active_users", "sessions", "median_minutes_per_user", "returning_rate"]]


def session_durations(sessions: pd.DataFrame, timeout="30min") -> pd.DataFrame:
    """The session durations :func:`plots.plot_session_durations` draws: ``duration_s`` (and ``sessions``, a count per duration).

    A session table gives its ``duration_s`` column; an engine source gives the sessions per
    distinct duration (cut with ``timeout`` in the engine, :func:`engines.engagement_scans.session_durations`),
    which draw the same histogram.

    Examples
    --------
    >>> session_durations(pd.DataFrame({"duration_s": [0.0, 5.0], "user_id": ["a", "b"]})).columns.tolist()
    ['duration_s']
    """
    if engine_of(sessions) == "ibis":
        from .engines.engagement_scans import session_durations as on_engine

        return on_engine(sessions, timeout)
    return sessions[["duration_s"]]


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


"""How the per-user outcomes of :func:`metrics.user_outcomes` read in a sentence."""


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
    Every section has an engine version (``prof.engine == "ibis"``); a section that does not
    would declare ``requires(engine="memory")`` and be skipped there with one line.
    """
    from .data_profile import requires
    from .metrics import complete_periods

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
        if segment and not _mau_at_a_week_end(log):
            extra["Active users by segment"] = ["needs a week that ends at least 30 days after the data start "
                                                "(the table shows each segment on a week's last day with a complete MAU window)"]
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
        "Active days per week": (),
        "Lifecycle": (),
        "Churn": (),
        "Active users by segment": by,
        "Sessions by segment": by,
        "Session durations": (),
        "Time spent and returning visitors": (),
        "Conversion": requires(roles=["conversion_events"]),
        "Conversion over time": requires(roles=["conversion_events"]),
        **({"Proposed funnel": ()} if proposing else {}),
        "Funnel by segment": by,
        "Cart abandonment": requires(roles=["cart_events", "conversion_events"]) + by,
        "Event paths": (),
        "Paths from checkout by segment": requires(roles=["checkout_events"]) + by,
        "Checkout loops by segment": requires(roles=["checkout_events", "cart_events"]) + by,
        "Screen flow": requires(event_columns=[path_column]) if path_column != "event" else (),
        "Acquisition cost": requires(inputs=["spend", "users"], roles=["conversion_events"]),
        "Survey scores": requires(inputs=["surveys"]),
        "Message reach": by,
        "Messaging channels and onboarding": requires(user_columns=["n_messaging_channels", "onboarding"]),
    }, prof, extra)


def _mau_at_a_week_end(log) -> bool:
    """Whether a Sunday with a complete 30-day MAU window lies inside the data (a row of :func:`latest_complete`)."""
    day = log.ordinal("day")
    first_full = int(day.min()) + 29  # the first day whose trailing 30 days are all observed
    sunday = first_full + (3 - first_full) % 7  # day ordinal 0 is a Thursday: (d + 3) % 7 == 6 on Sundays
    return sunday <= int(day.max())


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


def _text_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Per row, the code of ``values.astype("string").fillna("(missing)")``, and those texts (one per code).

    The texts are made per distinct value, not per row.
    """
    raw, uniques = pd.factorize(values)
    text = pd.Series(uniques).astype("string").to_numpy(dtype=object, na_value="(missing)")
    text = np.r_[text, np.array(["(missing)"], dtype=object)]
    merged, names = pd.factorize(text)  # distinct values with the same text are one group
    return merged[np.where(raw < 0, len(text) - 1, raw)], pd.Index(names, dtype=object)


def paths_by_segment(log, segment: str, from_events, *, length: int = 4, top: int = 5, timeout="30min",
                     min_group_size: int = 10) -> pd.DataFrame:
    """Top paths from ``from_events`` per value of the events column ``segment`` (groups of at least ``min_group_size`` users).

    Returns
    -------
    DataFrame
        ``segment, users, path, steps, sessions, share`` (share of the group's sessions that reach ``from_events``).
    """
    if engine_of(log) == "ibis":  # one engine pass over (segment, user) sessions, the same table
        from .engines.path_scans import paths_by_segment as on_engine

        return on_engine(log, segment, from_events, length=length, top=top, timeout=timeout, min_group_size=min_group_size)
    from .funnels import top_paths

    frame = log.frame
    value_code, names = _text_codes(frame[segment])
    users = pd.Series(distinct_per_code(value_code, log.user_code, len(names), log.n_users), index=names)
    users = users[users > 0]
    parts = []
    for value in sorted(users.index[users >= min_group_size]):  # a handful of segment values
        paths = top_paths(frame.loc[value_code == names.get_loc(value)], from_events, length=length, top=top, timeout=timeout)
        if len(paths):
            parts.append(paths.assign(segment=value, users=int(users[value])))
    columns = ["segment", "users", "path", "steps", "sessions", "share"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


