"""Data health summaries for the data overview report.

Each function takes the events as a frame or an :class:`~engagement_utils.core.EventLog`;
handed an :class:`engagement_utils.engines.IbisEvents` it delegates to the function of the
same name in :mod:`engagement_utils.engines.overview` (same result, scans in the engine).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._arrays import distinct
from .core import MISSING_SEGMENT, EventLog, engine_of
from .display.format import plural
from .inputs import as_log
from .io import load_report
from .periods import ordinal_to_start

__all__ = ["data_summary", "events_per_period", "value_mix", "missing_values", "with_window", "run_settings",
           "breakdown_needs", "with_user_columns", "user_table_checks", "skip_note", "skipped_key_numbers", "plural"]


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
    # Distinct users per period from unique (period, user) pairs: no nunique on a big groupby.
    pairs = distinct(slot * span + log.user_code)
    users = np.bincount(pairs // span, minlength=n)
    return pd.DataFrame({"period": ordinal_to_start(np.arange(lo, lo + n), period), "events": counts, "users": users})


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
    # Distinct users per value from unique (value, user) pairs.
    pairs = np.unique(codes.astype(np.int64) * span + user)
    users_per_value = np.bincount(pairs // span, minlength=len(labels))
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
    known = frame["user_id"].astype(object).isin(set(users["user_id"].astype(object)))
    silent = ~users["user_id"].astype(object).isin(set(frame["user_id"].astype(object)))
    return {"event rows of users missing from the user table": int((~known).sum()),
            "users in the user table without events": int(silent.sum())}


def skip_note(section: str, missing) -> str:
    """The one line that replaces a section whose needs are missing.

    Examples
    --------
    >>> skip_note("By country", ["needs a country column (map one with column_map)"])
    'By country: skipped; needs a country column (map one with column_map).'
    """
    return f"{section}: skipped; " + "; ".join(missing) + "."


def skipped_key_numbers(skipped: pd.DataFrame) -> dict[str, str]:
    """``{"Skipped sections": "..."}`` for the report header, or ``{}`` when nothing was skipped.

    Examples
    --------
    >>> skipped_key_numbers(pd.DataFrame({"section": ["by country", "by country", "users"], "missing": ["a", "b", "c"]}))
    {'Skipped sections': 'by country, users'}
    >>> skipped_key_numbers(pd.DataFrame(columns=["section", "missing"]))
    {}
    """
    sections = list(dict.fromkeys(skipped["section"]))
    return {"Skipped sections": ", ".join(sections)} if sections else {}
