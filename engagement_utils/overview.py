"""Data health summaries for the data overview report.

Each function takes the events as a frame or an :class:`~engagement_utils.core.EventLog`;
handed an :class:`engagement_utils.engines.IbisEvents` it delegates to the function of the
same name in :mod:`engagement_utils.engines.overview` (same result, scans in the engine).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._arrays import distinct, distinct_per_code
from .core import MISSING_SEGMENT, EventLog, engine_of
from .display.format import plural
from .inputs import as_log
from .io import load_report
from .periods import ordinal_to_start

__all__ = ["data_summary", "events_per_period", "value_mix", "missing_values", "with_window", "run_settings",
           "breakdown_needs", "with_user_columns", "user_table_checks", "activity_reading", "times_text", "dates_text",
           "skip_note", "skip_reason", "skipped_list", "skipped_key_numbers", "plural"]


def _engine():
    from .engines import overview as engine_overview

    return engine_overview


def data_summary(events: "pd.DataFrame | EventLog", tz: str | None = None) -> pd.DataFrame:
    """Headline facts about an events frame as a tidy ``metric, value`` table.

    Rows: events, users, event types, first and last event (in ``tz``), days
    covered, events per user (median), duplicates dropped and rows outside the
    date window (from the loader's report, when present).

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["x", "y", "x"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-02"], utc=True)})
    >>> data_summary(ev).set_index("metric").loc[["events", "users", "days covered"], "value"].tolist()
    [3, 2, 3]
    """
    if engine_of(events) == "ibis":
        return _engine().data_summary(events, tz)
    if isinstance(events, pd.DataFrame) and events.empty:
        raise ValueError("the events frame is empty; check the data path and date window")
    log = as_log(events, tz)
    events = log.frame
    first, last = (pd.Timestamp(ns, tz="UTC").tz_convert(log.tz) for ns in (log.ns.min(), log.ns.max()))
    per_user = np.bincount(log.user_code, minlength=log.n_users)
    rows = [
        ("events", len(log)),
        ("users", int(np.count_nonzero(per_user))),
        ("event types", int(events["event"].nunique())),
        ("first event", first.strftime("%Y-%m-%d %H:%M %Z")),
        ("last event", last.strftime("%Y-%m-%d %H:%M %Z")),
        ("days covered", int((last.normalize() - first.normalize()).days) + 1),
        ("events per user (median)", float(np.median(per_user[per_user > 0]))),
    ]
    report = load_report(events)
    if report is not None:
        rows += [("duplicates dropped", report.duplicates_dropped), ("rows outside date window", report.rows_outside_window)]
    return pd.DataFrame(rows, columns=["metric", "value"])


def events_per_period(events: "pd.DataFrame | EventLog", period: str = "day", tz: str | None = None) -> pd.DataFrame:
    """Events and distinct active users per calendar period, with empty periods as zeros.

    Returns a frame with ``period`` (local period start), ``events``, ``users``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["x"] * 3,
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-03"], utc=True)})
    >>> events_per_period(ev)[["events", "users"]].values.tolist()
    [[2, 1], [0, 0], [1, 1]]
    """
    if engine_of(events) == "ibis":
        return _engine().events_per_period(events, period, tz)
    log = as_log(events, tz)
    ordinal = log.ordinal(period)
    lo = int(ordinal.min())
    slot = ordinal - lo
    n = int(slot.max()) + 1
    counts = np.bincount(slot, minlength=n)
    span = max(log.n_users, 1)
    # Distinct users per period from unique (user, period) pairs, user-major: in canonical order
    # (user, then time) the keys are already sorted, so no sort or hash of 10M keys.
    pairs = distinct(log.user_code * n + slot)
    users = np.bincount(pairs % n, minlength=n)
    return pd.DataFrame({"period": ordinal_to_start(np.arange(lo, lo + n), period), "events": counts, "users": users})


STANDS_OUT = 1.5
"""A period "stands out" in a reading when it is at least this multiple of the median period."""
MIN_PERIODS = 7
"""Fewest periods for a busiest-period reading: with fewer there is no typical period to compare with."""


def times_text(value: float, typical: float) -> str:
    """``value`` as a multiple of ``typical``: ``"2.3×"``, ``"12×"`` (None-safe: ``""`` when ``typical`` is 0).

    Examples
    --------
    >>> times_text(429, 189), times_text(50, 4), times_text(3, 0)
    ('2.3×', '12×', '')
    """
    if not typical or not np.isfinite(typical):
        return ""
    ratio = value / typical
    return f"{ratio:.0f}×" if ratio >= 10 else f"{ratio:.1f}×"


def dates_text(dates, fmt: str = "%Y-%m-%d", limit: int = 5) -> str:
    """Dates as a list for a sentence: ``"2024-01-05"``, ``"2024-01-05, 2024-01-09 and 3 more"``.

    Examples
    --------
    >>> dates_text(pd.to_datetime(["2024-01-05"])), dates_text(pd.date_range("2024-01-01", periods=7), limit=2)
    ('2024-01-05', '2024-01-01, 2024-01-02 and 5 more')
    """
    shown = [f"{pd.Timestamp(d):{fmt}}" for d in list(dates)[:limit]]
    more = len(dates) - len(shown)
    if more:
        return ", ".join(shown) + f" and {more} more"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def activity_reading(per_period: pd.DataFrame, period: str = "day") -> str:
    """Reading of the activity chart (:func:`events_per_period`): averages, the busiest period against the median, gaps.

    The busiest period is named with its multiple of the median period (a spike
    reads "3.1× the median day"); periods without events are named by date.

    Examples
    --------
    >>> t = pd.DataFrame({"period": pd.date_range("2024-01-01", periods=7), "events": [10, 0, 12, 40, 10, 9, 11],
    ...                   "users": [2, 0, 3, 9, 2, 2, 2]})
    >>> activity_reading(t)  # doctest: +NORMALIZE_WHITESPACE
    '13 events and 3 active users per day on average. The busiest day was 2024-01-04 with 40 events, 4.0× the median
     day (10), and 9 active users (median 2). 1 day without any event (2024-01-02): check the tracking for that date.'
    """
    if per_period.empty:
        return f"No {period} has events."
    text = (f"{per_period['events'].mean():,.0f} events and {per_period['users'].mean():,.0f} active users per "
            f"{period} on average.")
    busiest = per_period.loc[per_period["events"].idxmax()]
    median_events, median_users = per_period["events"].median(), per_period["users"].median()
    times = times_text(busiest["events"], median_events)
    if median_events == 0:
        text += (f" The busiest {period} was {busiest['period']:%Y-%m-%d} with "
                 f"{plural(int(busiest['events']), 'event')}; most {period}s have none.")
    elif len(per_period) < MIN_PERIODS:
        text += (f" The busiest {period} was {busiest['period']:%Y-%m-%d} with "
                 f"{plural(int(busiest['events']), 'event')}.")
    elif times and busiest["events"] >= STANDS_OUT * median_events:
        text += (f" The busiest {period} was {busiest['period']:%Y-%m-%d} with {plural(int(busiest['events']), 'event')}, "
                 f"{times} the median {period} ({median_events:,.0f}), and "
                 f"{plural(int(busiest['users']), 'active user')} (median {median_users:,.0f}).")
        most = per_period.loc[per_period["users"].idxmax()]
        if most["period"] != busiest["period"] and most["users"] > busiest["users"]:
            times = times_text(most["users"], median_users)
            text += (f" Most active users: {most['period']:%Y-%m-%d} with {most['users']:,.0f}"
                     + (f", {times} the median." if times else "."))
    else:
        text += (f" No {period} stands out: the busiest, {busiest['period']:%Y-%m-%d}, had "
                 f"{plural(int(busiest['events']), 'event')} (median {period} {median_events:,.0f}).")
    empty = per_period.loc[per_period["events"] == 0, "period"]
    if len(empty):
        which = "that date" if len(empty) == 1 else "those dates"
        text += (f" {plural(len(empty), period)} without any event ({dates_text(empty)}): check the tracking for "
                 f"{which}.")
    else:
        text += f" No {period} is without events."
    return text


def value_mix(events: "pd.DataFrame | EventLog", column: str, top: int | None = None) -> pd.DataFrame:
    """Counts and shares of events and users for each value of ``column``.

    Missing values are shown as ``"(missing)"``; with ``top`` the rarest values
    are folded into ``"(other)"``.  Columns: ``value, events, event_share,
    users, user_share`` (a user can have several values, so user shares need
    not sum to 1), sorted by events descending with ``"(other)"`` last.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["open", "buy", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01"] * 3, utc=True)})
    >>> value_mix(ev, "event")[["value", "events", "users"]].values.tolist()
    [['open', 2, 2], ['buy', 1, 1]]
    """
    if engine_of(events) == "ibis":
        return _engine().value_mix(events, column, top)
    log = as_log(events)
    events = log.frame
    if column not in events.columns:
        log.check_column(column, "column")
    codes, uniques = pd.factorize(events[column])
    labels = np.append(np.asarray(uniques.astype(str), dtype=object), MISSING_SEGMENT)
    codes = np.where(codes < 0, len(labels) - 1, codes)
    events_per_value = np.bincount(codes, minlength=len(labels))
    if top is not None and np.count_nonzero(events_per_value) > top:
        keep = np.argsort(-events_per_value, kind="stable")[:top]
        labels = np.append(labels[keep], "(other)")
        remap = np.full(len(events_per_value), len(keep))
        remap[keep] = np.arange(len(keep))
        codes = remap[codes]
        events_per_value = np.bincount(codes, minlength=len(labels))
    user, span = log.user_code, max(log.n_users, 1)
    n_users = int(np.count_nonzero(np.bincount(user, minlength=span)))
    users_per_value = distinct_per_code(codes, user, len(labels), span)
    mix = pd.DataFrame({"value": labels, "events": events_per_value, "event_share": events_per_value / len(events),
                        "users": users_per_value, "user_share": users_per_value / n_users})
    mix = mix[mix["events"] > 0].assign(folded=lambda m: m["value"] == "(other)")
    return mix.sort_values(["folded", "events", "value"], ascending=[True, False, True], ignore_index=True).drop(columns="folded")


def missing_values(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing values per column: ``column, missing, share``, every column listed.

    Examples
    --------
    >>> missing_values(pd.DataFrame({"a": [1, None], "b": [1, 2]})).values.tolist()
    [['a', 1, 0.5], ['b', 0, 0.0]]
    """
    if engine_of(frame) == "ibis":
        return _engine().missing_values(frame)
    missing = frame.isna().sum()
    return pd.DataFrame({"column": missing.index, "missing": missing.to_numpy().astype(int),
                         "share": (missing / max(len(frame), 1)).to_numpy()})


# ---------------------------------------------------------------- one data set per run (issue 12)


def with_window(description, *, start=None, end=None):
    """A data-set description whose events keep only ``start <= timestamp < end`` (None: the description's own).

    The loader then counts the rows left out (``io.load_report(...).rows_outside_window``).
    ``end`` defaults to the description's data end.

    Examples
    --------
    >>> d = with_window({"events": "data/external/ecom/ecom.csv.gz", "end": "2024-03-01"}, start="2024-02-01")
    >>> d.inputs["events"].options["start"], d.inputs["events"].options["end"]
    (Timestamp('2024-02-01 00:00:00'), Timestamp('2024-03-01 00:00:00+0000', tz='UTC'))
    """
    from dataclasses import replace

    from .dataset import DataSetDescription, describe_dataset

    if not isinstance(description, DataSetDescription):
        description = describe_dataset(description)
    if "events" not in description.inputs:  # load_dataset then says what is missing and which report reads the rest
        return description
    spec = description.inputs["events"]
    window = {"start": start, "end": end if end is not None else description.end}
    options = {**spec.options, **{k: pd.Timestamp(v) for k, v in window.items() if v is not None}}
    return replace(description, inputs={**description.inputs, "events": replace(spec, options=options)})


def run_settings(dataset, *, tz: str | None = None, end=None) -> tuple[str, "pd.Timestamp | None"]:
    """The report timezone and data end of a run: a notebook's own ``tz`` / ``end`` when given, else the data set's.

    Examples
    --------
    >>> from engagement_utils.dataset import load_dataset
    >>> ds = load_dataset({"events": "data/external/ecom/ecom.csv.gz", "tz": "Europe/Berlin"})
    >>> run_settings(ds), run_settings(ds, tz="UTC", end="2024-03-01")[0]
    (('Europe/Berlin', None), 'UTC')
    """
    from .params import check_parameters

    if tz is not None and str(tz).strip():
        tz = check_parameters({"tz": tz}, {"tz": "tz"}).tz
    else:
        tz = dataset.tz
    end = dataset.end if end is None else pd.Timestamp(end)
    return tz, end


def breakdown_needs(prof, event_columns=(), user_columns=()) -> dict:
    """What a breakdown by each named column needs: ``{column: needs}`` (blank names are left out).

    An events column needs the events to have it; a users-table column needs
    the users table to have it, unless the events already carry that column
    (an export with ``acquisition_channel`` on every event needs no users table).

    Examples
    --------
    >>> from engagement_utils.data_profile import profile, missing_for
    >>> ev = pd.DataFrame({"user_id": pd.Categorical(["a"]), "event": pd.Categorical(["open"]),
    ...                    "timestamp": pd.to_datetime(["2024-01-01"], utc=True), "platform": ["ios"]})
    >>> needs = breakdown_needs(profile(ev), ["platform", ""], ["onboarding"])
    >>> {column: missing_for(n, profile(ev)) for column, n in needs.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'platform': [], 'onboarding': ["needs a users table with the column 'onboarding' (add it, or map it with the users' column_map)"]}
    """
    from .data_profile import requires

    on_events = {c for c in prof.columns.values() if c} | set(prof.properties)
    needs = {c: requires(event_columns=[c]) for c in event_columns if c}
    for column in user_columns:
        if column and column not in needs:
            needs[column] = () if column in on_events else requires(user_columns=[column])
    return needs


def with_user_columns(dataset, columns) -> pd.DataFrame:
    """The events with the users-table ``columns`` the events do not already have attached (a copy when any is).

    Examples
    --------
    >>> from engagement_utils.dataset import load_dataset
    >>> ds = load_dataset({"events": "data/external/ecom/ecom.csv.gz"})
    >>> with_user_columns(ds, ["platform"]) is ds.events
    True
    """
    from .io import attach_user_properties

    wanted = [c for c in columns if c not in dataset.events.columns]
    if not wanted or dataset.users is None:
        return dataset.events
    wanted = [c for c in wanted if c in dataset.users.columns]
    if engine_of(dataset.events) == "ibis":
        return _engine().with_user_columns(dataset.events, dataset.users, wanted)  # a join in the engine
    return attach_user_properties(dataset.events, dataset.users, wanted)


def user_table_checks(events, users: pd.DataFrame) -> dict[str, int]:
    """Event rows of users missing from the users table, and users-table users without events.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "b", "b"], "event": ["x"] * 3, "timestamp": pd.to_datetime(["2024-01-01"] * 3, utc=True)})
    >>> user_table_checks(ev, pd.DataFrame({"user_id": ["a", "c"]}))
    {'event rows of users missing from the user table': 2, 'users in the user table without events': 1}
    """
    if engine_of(events) == "ibis":
        return _engine().user_table_checks(events, users)
    frame = events.frame if isinstance(events, EventLog) else events
    listed = set(users["user_id"].astype(object))
    ids = frame["user_id"]
    codes = ids.cat.codes.to_numpy() if isinstance(ids.dtype, pd.CategoricalDtype) else None
    if codes is not None and len(codes) and codes.min() >= 0:
        # per distinct id, not per row: the ids' categories, weighted by their rows
        rows = np.bincount(codes, minlength=len(ids.cat.categories))
        present = ids.cat.categories[rows > 0].astype(object)
        unknown = int(rows[~ids.cat.categories.astype(object).isin(listed)].sum())
    else:
        present = ids.astype(object)
        unknown = int((~present.isin(listed)).sum())
    silent = ~users["user_id"].astype(object).isin(set(present))
    return {"event rows of users missing from the user table": unknown,
            "users in the user table without events": int(silent.sum())}


def skip_note(section: str, missing) -> str:
    """The one line that replaces a section whose needs are missing.

    Examples
    --------
    >>> skip_note("By country", ["needs a country column (map one with column_map)"])
    'By country: skipped; needs a country column (map one with column_map).'
    """
    return f"{section}: skipped; " + "; ".join(missing) + "."


def skip_reason(missing) -> str:
    """The short form of a section's missing needs, for the header line: the clause before each hint, joined.

    Examples
    --------
    >>> skip_reason(["needs a spend table (add `spend: {path: ...}` ...)", "needs a users table (add ...)"])
    'needs a spend table and a users table'
    >>> skip_reason(["needs conversion events (set ...): 'buy' does not occur in the events"])
    'needs conversion events'
    >>> skip_reason(["needs a users table with the column 'a' (add it)", "needs a users table with the column 'b' (add)"])
    "needs a users table with the columns 'a' and 'b'"
    """
    parts: list[str] = []
    for line in missing:
        text = str(line).split(" (", 1)[0].split(": ", 1)[0].strip().rstrip(".;")
        if parts and text.startswith("needs "):
            text = text[len("needs "):]
        if not text or text in parts:
            continue
        head, _, column = text.rpartition(" the column ")
        previous = parts[-1].rpartition(" the column") if parts else ("", "", "")
        if head and previous[1] and previous[0].removeprefix("needs ") == head.removeprefix("needs "):
            # "a users table with the column 'a'" + "... 'b'" -> "a users table with the columns 'a' and 'b'"
            names = previous[2].removeprefix("s ").strip()
            parts[-1] = f"{previous[0]} the columns {names.replace(' and ', ', ')} and {column}"
            continue
        parts.append(text)
    if len(parts) <= 2:
        return " and ".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def skipped_list(missing_by_section) -> str:
    """``"A (needs x); B (needs y and z)"`` from section → missing sentences (sections with none left out).

    Examples
    --------
    >>> skipped_list({"Funnel": ["needs funnel steps (set ...)"], "Paths": [], "Survey": ["needs a surveys table"]})
    'Funnel (needs funnel steps); Survey (needs a surveys table)'
    """
    return "; ".join(f"{section} ({skip_reason(missing)})" if skip_reason(missing) else str(section)
                     for section, missing in missing_by_section.items() if missing)


def skipped_key_numbers(skipped: pd.DataFrame) -> dict[str, str]:
    """``{"Skipped sections": "..."}`` for the report header (each section with why), or ``{}`` when nothing was skipped.

    The header shows it as one compact line (:data:`engagement_utils.display.SKIPPED_SECTIONS`), not as a figure.

    Examples
    --------
    >>> skipped_key_numbers(pd.DataFrame({"section": ["by country", "by country", "users"],
    ...                                   "missing": ["needs a country column (map ...)", "needs x", "needs a users table"]}))
    {'Skipped sections': 'by country (needs a country column and x); users (needs a users table)'}
    >>> skipped_key_numbers(pd.DataFrame(columns=["section", "missing"]))
    {}
    """
    by_section: dict[str, list[str]] = {}
    for section, line in zip(skipped["section"], skipped["missing"]):
        by_section.setdefault(str(section), []).append(str(line))
    return {"Skipped sections": skipped_list(by_section)} if by_section else {}
