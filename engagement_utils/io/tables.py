"""Loaders of the smaller canonical tables: assignments, spend, users, surveys (DESIGN §4)."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .events import finish
from .read import read_table
from .report import MAX_ROWS_LISTED, LoadReport, describe_source
from .validate import Checker

__all__ = ["load_assignments", "load_spend", "load_users", "load_surveys", "attach_user_properties", "SURVEY_SCALES"]

SURVEY_SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def _read_with_ids(source, what: str, column_map: Mapping[str, str] | None) -> tuple[pd.DataFrame, bool]:
    """The table with text as categoricals over Arrow dictionaries (ids encoded once over the whole column),
    and whether the ``user_id`` column arrived so encoded (its categories are then stripped as the events' are).

    A 1M-row user table: pandas' factorize of the ids and of each text column was most of loading it.
    """
    column_map = dict(column_map or {})
    ids = [old for old, new in column_map.items() if new == "user_id"] + ([] if "user_id" in column_map.values() else ["user_id"])
    frame = read_table(source, what, text_as_codes=True, high_cardinality=ids)
    encoded = not isinstance(source, pd.DataFrame) and any(
        c in frame.columns and isinstance(frame[c].dtype, pd.CategoricalDtype) for c in ids)
    return frame, encoded


def _categorize_text(frame: pd.DataFrame, skip: set[str]) -> None:
    for col in frame.columns:
        if col in skip:
            continue
        dtype = frame[col].dtype
        if dtype == object or isinstance(dtype, pd.StringDtype):
            frame[col] = frame[col].astype("category")


def load_assignments(
    source,
    *,
    column_map: Mapping[str, str] | None = None,
    timestamp_format: str | None = None,
) -> pd.DataFrame:
    """Load A/B test assignments: ``user_id``, ``experiment``, ``variant``, optional ``assigned_at``.

    A user listed in two variants of the same experiment is an error (the
    experiment's randomisation is broken or the export joined two tables).
    Exact duplicate rows are dropped and reported.

    Examples
    --------
    >>> a = load_assignments(pd.DataFrame({"user_id": [1, 2], "experiment": "x", "variant": ["control", "b"]}))
    >>> a["variant"].tolist()
    ['control', 'b']
    """
    frame, encoded = _read_with_ids(source, "assignments", column_map)
    check = Checker(frame, source, "assignments")
    check.apply_column_map(column_map)
    check.require(["user_id", "experiment", "variant"])
    check.ids("user_id", strip_categories=encoded)
    check.timestamps("assigned_at", timestamp_format)
    for col in ("experiment", "variant"):
        if col in check.frame.columns and check.frame[col].isna().any():
            missing = check.frame[col].isna()
            check.add(f"column {col!r}: {int(missing.sum())} missing value(s), first at {check.rows(missing)}")
    check.raise_if_any()

    report = LoadReport(source=describe_source(source), rows_read=len(frame))
    assignments = check.frame.drop_duplicates()
    report.duplicates_dropped = len(check.frame) - len(assignments)
    per_user = assignments.groupby(["experiment", "user_id"], observed=True)["variant"].nunique()
    conflicted = per_user[per_user > 1]
    if len(conflicted):
        examples = ", ".join(f"{u!r} in {e!r}" for e, u in conflicted.index[:MAX_ROWS_LISTED])
        check.add(
            f"{len(conflicted)} user(s) are assigned to more than one variant of the same experiment "
            f"(e.g. {examples}); keep each user's first assignment or exclude them"
        )
    repeated = assignments.duplicated(["experiment", "user_id"])
    if repeated.any() and not len(conflicted):
        report.warnings.append(f"{int(repeated.sum())} repeated assignment row(s) with the same variant kept once")
        assignments = assignments.loc[~repeated]
    check.raise_if_any()
    for col in ("experiment", "variant"):
        assignments[col] = assignments[col].astype("string").astype("category")
    return finish(assignments, ["experiment", "user_id"], report)


def load_spend(source, *, column_map: Mapping[str, str] | None = None, timestamp_format: str | None = None) -> pd.DataFrame:
    """Load marketing spend: ``date``, ``channel``, ``cost`` (non-negative).

    ``date`` is returned as a tz-naive calendar date (datetime64, midnight).

    Examples
    --------
    >>> load_spend(pd.DataFrame({"date": ["2024-01-01"], "channel": ["ads"], "cost": [10]}))["cost"].tolist()
    [10.0]
    """
    frame = read_table(source, "spend")
    check = Checker(frame, source, "spend")
    check.apply_column_map(column_map)
    check.require(["date", "channel", "cost"])
    check.timestamps("date", timestamp_format)
    check.numbers("cost", required=True, non_negative=True, fix="spend cannot be negative; correct or drop those rows")
    check.raise_if_any()
    spend = check.frame
    spend["date"] = spend["date"].dt.tz_localize(None).dt.normalize()
    spend["channel"] = spend["channel"].astype("string").astype("category")
    return finish(spend, ["date", "channel"], LoadReport(source=describe_source(source), rows_read=len(frame)))


def load_users(source, *, column_map: Mapping[str, str] | None = None, timestamp_format: str | None = None) -> pd.DataFrame:
    """Load a user table: ``user_id``, optional ``signup_at`` and any properties.

    Each user must appear once.  Text properties become categoricals.

    Examples
    --------
    >>> u = load_users(pd.DataFrame({"user_id": ["a", "b"], "platform": ["ios", "web"]}))
    >>> str(u["platform"].dtype)
    'category'
    """
    frame, encoded = _read_with_ids(source, "users", column_map)
    check = Checker(frame, source, "users")
    check.apply_column_map(column_map)
    check.require(["user_id"])
    check.ids("user_id", strip_categories=encoded)
    check.timestamps("signup_at", timestamp_format)
    if "user_id" in check.frame.columns:
        repeated = check.frame["user_id"].duplicated() & check.frame["user_id"].notna()
        if repeated.any():
            check.add(f"column 'user_id': {int(repeated.sum())} user(s) listed more than once, first at {check.rows(repeated)}; keep one row per user")
    check.raise_if_any()
    users = check.frame
    _categorize_text(users, skip={"user_id", "signup_at"})
    return finish(users, ["user_id"], LoadReport(source=describe_source(source), rows_read=len(frame)))


def load_surveys(source, *, column_map: Mapping[str, str] | None = None, timestamp_format: str | None = None) -> pd.DataFrame:
    """Load survey answers: ``user_id``, ``timestamp``, ``score``, ``kind`` (nps / csat / ces).

    Scores must lie on the kind's scale: NPS 0–10, CSAT 1–5, CES 1–7.

    Examples
    --------
    >>> s = load_surveys(pd.DataFrame({"user_id": [1], "timestamp": ["2024-01-01"], "score": [9], "kind": ["NPS"]}))
    >>> s["kind"].tolist()
    ['nps']
    """
    frame = read_table(source, "surveys")
    check = Checker(frame, source, "surveys")
    check.apply_column_map(column_map)
    check.require(["user_id", "timestamp", "score", "kind"])
    check.ids("user_id")
    check.timestamps("timestamp", timestamp_format)
    check.numbers("score", required=True, non_negative=False, fix="")
    if {"kind", "score"} <= set(check.frame.columns):
        kind = check.frame["kind"].astype("string").str.strip().str.lower()
        unknown = ~kind.isin(list(SURVEY_SCALES))
        if unknown.any():
            check.add(
                f"column 'kind': {int(unknown.sum())} value(s) not in {sorted(SURVEY_SCALES)}, "
                f"first at {check.rows(unknown)} (e.g. {check.frame['kind'][unknown].iloc[0]!r})"
            )
        score = check.frame["score"]
        lo = kind.map({k: v[0] for k, v in SURVEY_SCALES.items()}).astype("float64")
        hi = kind.map({k: v[1] for k, v in SURVEY_SCALES.items()}).astype("float64")
        off_scale = ((score < lo) | (score > hi)).fillna(False)
        if off_scale.any():
            check.add(f"column 'score': {int(off_scale.sum())} score(s) outside the scale of their kind, first at {check.rows(off_scale)}")
        check.frame["kind"] = kind.astype("category")
    check.raise_if_any()
    return finish(check.frame, ["user_id", "timestamp"], LoadReport(source=describe_source(source), rows_read=len(frame)))


def attach_user_properties(events: pd.DataFrame, users: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """Return ``events`` with user-level properties from ``users`` added as columns.

    Use it to break analyses down by a property that lives in the user table
    (acquisition channel, onboarding flag, ...).  Users missing from the user
    table get missing values.  ``events`` is not modified.

    Examples
    --------
    >>> from engagement_utils.io import load_events
    >>> ev = load_events(pd.DataFrame({"user_id": ["a", "b"], "timestamp": ["2024-01-01"] * 2, "event": ["x", "x"]}))
    >>> us = load_users(pd.DataFrame({"user_id": ["a"], "plan": ["pro"]}))
    >>> attach_user_properties(ev, us, ["plan"])["plan"].tolist()
    ['pro', nan]
    """
    columns = [c for c in users.columns if c != "user_id"] if columns is None else list(columns)
    missing = [c for c in columns if c not in users.columns]
    if missing:
        raise ValueError(f"user table has no column(s) {missing}; available: {[c for c in users.columns if c != 'user_id']}")
    clash = [c for c in columns if c in events.columns]
    if clash:
        raise ValueError(f"events already have column(s) {clash}; drop them or choose other columns")
    # Look ids up once per category, not once per event row.
    categories = events["user_id"].cat.categories.astype(object)
    position_of_category = pd.Index(users["user_id"].astype(object)).get_indexer(categories)
    codes = events["user_id"].cat.codes.to_numpy()
    positions = np.where(codes >= 0, position_of_category[codes], -1)
    unmatched = positions < 0
    out = events.copy(deep=False)
    for col in columns:
        taken = users[col].take(np.maximum(positions, 0)).reset_index(drop=True)
        out[col] = taken.mask(unmatched) if unmatched.any() else taken
    return out
