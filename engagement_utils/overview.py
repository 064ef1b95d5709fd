"""Data health summaries for the data overview report."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .io import load_report
from .periods import ordinal_to_start, period_ordinal

__all__ = ["data_summary", "events_per_period", "value_mix", "missing_values"]


def data_summary(events: pd.DataFrame, tz: str = "UTC") -> pd.DataFrame:
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
    if events.empty:
        raise ValueError("the events frame is empty; check the data path and date window")
    local = events["timestamp"].dt.tz_convert(tz)
    first, last = local.min(), local.max()
    per_user = events.groupby("user_id", observed=True).size()
    rows = [
        ("events", len(events)),
        ("users", int(events["user_id"].nunique())),
        ("event types", int(events["event"].nunique())),
        ("first event", first.strftime("%Y-%m-%d %H:%M %Z")),
        ("last event", last.strftime("%Y-%m-%d %H:%M %Z")),
        ("days covered", int((last.normalize() - first.normalize()).days) + 1),
        ("events per user (median)", float(per_user.median())),
    ]
    report = load_report(events)
    if report is not None:
        rows += [("duplicates dropped", report.duplicates_dropped), ("rows outside date window", report.rows_outside_window)]
    return pd.DataFrame(rows, columns=["metric", "value"])


def events_per_period(events: pd.DataFrame, period: str = "day", tz: str = "UTC") -> pd.DataFrame:
    """Events and distinct active users per calendar period, with empty periods as zeros.

    Returns a frame with ``period`` (local period start), ``events``, ``users``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["x"] * 3,
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-03"], utc=True)})
    >>> events_per_period(ev)[["events", "users"]].values.tolist()
    [[2, 1], [0, 0], [1, 1]]
    """
    ordinal = period_ordinal(events["timestamp"], period, tz)
    lo = int(ordinal.min())
    slot = ordinal - lo
    n = int(slot.max()) + 1
    counts = np.bincount(slot, minlength=n)
    user = pd.factorize(events["user_id"])[0].astype(np.int64)
    # Distinct users per period from unique (period, user) pairs: no nunique on a big groupby.
    pairs = np.unique(slot * (user.max() + 1) + user)
    users = np.bincount(pairs // (user.max() + 1), minlength=n)
    return pd.DataFrame({"period": ordinal_to_start(np.arange(lo, lo + n), period), "events": counts, "users": users})


def value_mix(events: pd.DataFrame, column: str, top: int | None = None) -> pd.DataFrame:
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
    if column not in events.columns:
        raise ValueError(f"no column {column!r} in the events; available: {list(events.columns)}")
    codes, uniques = pd.factorize(events[column])
    labels = np.append(np.asarray(uniques.astype(str), dtype=object), "(missing)")
    codes = np.where(codes < 0, len(labels) - 1, codes)
    events_per_value = np.bincount(codes, minlength=len(labels))
    if top is not None and np.count_nonzero(events_per_value) > top:
        keep = np.argsort(-events_per_value, kind="stable")[:top]
        labels = np.append(labels[keep], "(other)")
        remap = np.full(len(events_per_value), len(keep))
        remap[keep] = np.arange(len(keep))
        codes = remap[codes]
        events_per_value = np.bincount(codes, minlength=len(labels))
    user = pd.factorize(events["user_id"])[0].astype(np.int64)
    n_users = int(user.max()) + 1
    # Distinct users per value from unique (value, user) pairs.
    pairs = np.unique(codes.astype(np.int64) * n_users + user)
    users_per_value = np.bincount(pairs // n_users, minlength=len(labels))
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
    missing = frame.isna().sum()
    return pd.DataFrame({"column": missing.index, "missing": missing.to_numpy().astype(int),
                         "share": (missing / max(len(frame), 1)).to_numpy()})
