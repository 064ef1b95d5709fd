"""Loading and validating the canonical input tables (DESIGN §4).

Every loader accepts a path (CSV, gzipped CSV, TSV or Parquet) or an
in-memory DataFrame, an optional ``column_map`` from the user's column names
to the canonical ones, and returns a new, validated frame.  Input files and
DataFrames are never modified.

All problems found in one pass are collected and raised together as one
:class:`DataValidationError`, so an analyst fixes an export once rather than
once per error.

Canonical events frame
----------------------
``user_id`` (category), ``timestamp`` (datetime64[ns, UTC]), ``event``
(category), plus any optional column (``session_id``, ``platform``,
``channel``, ``country``, ``screen``: category; ``revenue``: float64; other
text properties: category).  Rows are sorted by ``user_id`` then
``timestamp`` with a fresh RangeIndex.  A summary of what loading did (rows
read, duplicates dropped, rows outside the date window, warnings) is kept in
``frame.attrs["load_report"]``; see :func:`load_report`.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from ._arrays import order_by

__all__ = [
    "DataValidationError",
    "LoadReport",
    "load_events",
    "load_assignments",
    "load_spend",
    "load_users",
    "load_surveys",
    "load_report",
    "attach_user_properties",
]

Source = "str | os.PathLike | pd.DataFrame"

SURVEY_SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
_MAX_ROWS_LISTED = 5


class DataValidationError(ValueError):
    """Raised when an input table cannot be used; lists every problem found.

    Attributes
    ----------
    problems : list of str
        One human-readable sentence per problem (column, rows, fix).
    source : str
        What was being loaded (file path or "DataFrame").
    """

    def __init__(self, problems: list[str], source: str = "input"):
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in {source}:\n{lines}")


@dataclass
class LoadReport:
    """What a loader did to the input: shown by the data overview notebook."""

    source: str
    rows_read: int
    rows_loaded: int = 0
    duplicates_dropped: int = 0
    rows_outside_window: int = 0
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def load_report(frame: pd.DataFrame) -> LoadReport | None:
    """The :class:`LoadReport` a loader attached to ``frame`` (None if absent).

    Examples
    --------
    >>> ev = load_events(pd.DataFrame({"user_id": [1, 1], "timestamp": ["2024-01-01"] * 2, "event": ["open"] * 2}))
    >>> load_report(ev).duplicates_dropped
    1
    """
    report = frame.attrs.get("load_report")
    return LoadReport(**report) if isinstance(report, dict) else None


# --------------------------------------------------------------------------- reading


def _describe(source) -> str:
    return "DataFrame" if isinstance(source, pd.DataFrame) else str(source)


def _read_table(source, what: str) -> pd.DataFrame:
    """Read ``source`` without touching it; raise DataValidationError if it cannot be read."""
    if isinstance(source, pd.DataFrame):
        return source.copy(deep=False)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"{what}: expected a file path or a pandas DataFrame, got {type(source).__name__}")
    path = Path(source)
    if not path.exists():
        raise DataValidationError([f"file not found: {path} (check the path; relative paths are resolved from {Path.cwd()})"], str(path))
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
        if name.endswith((".tsv", ".tsv.gz", ".tab")):
            return pd.read_csv(path, sep="\t", low_memory=False)
        if name.endswith((".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".txt")):
            return pd.read_csv(path, low_memory=False)
    except Exception as exc:  # the reader's own message says what is wrong with the file
        raise DataValidationError([f"could not read {path}: {type(exc).__name__}: {exc}"], str(path)) from exc
    raise DataValidationError(
        [f"unsupported file type {path.suffix!r} for {path}; use .csv, .csv.gz, .tsv or .parquet"], str(path)
    )


def _row_label(positions: np.ndarray, from_csv: bool) -> str:
    shown = positions[:_MAX_ROWS_LISTED]
    # CSV line numbers count the header as line 1, so data row i sits on line i + 2.
    if from_csv:
        text = ", ".join(str(int(p) + 2) for p in shown)
        prefix = "CSV line(s)"
    else:
        text = ", ".join(str(int(p)) for p in shown)
        prefix = "row(s)"
    more = f" and {len(positions) - len(shown)} more" if len(positions) > len(shown) else ""
    return f"{prefix} {text}{more}"


class _Checker:
    """Collects problems while a loader validates one table."""

    def __init__(self, frame: pd.DataFrame, source, what: str):
        self.frame = frame
        self.what = what
        self.source = _describe(source)
        self.from_csv = not isinstance(source, pd.DataFrame) and ".csv" in str(source).lower()
        self.problems: list[str] = []

    def add(self, message: str) -> None:
        self.problems.append(message)

    def rows(self, mask) -> str:
        return _row_label(np.flatnonzero(np.asarray(mask)), self.from_csv)

    def raise_if_any(self) -> None:
        if self.problems:
            raise DataValidationError(self.problems, f"{self.what} ({self.source})")

    def apply_column_map(self, column_map: Mapping[str, str] | None) -> None:
        if not column_map:
            return
        missing = [old for old in column_map if old not in self.frame.columns]
        for old in missing:
            self.add(f"column_map names column {old!r}, which is not in the input{_closest(old, self.frame.columns)}")
        self.frame = self.frame.rename(columns={k: v for k, v in column_map.items() if k not in missing})

    def require(self, columns: list[str]) -> bool:
        ok = True
        for col in columns:
            if col not in self.frame.columns:
                ok = False
                self.add(
                    f"required column {col!r} is missing{_closest(col, self.frame.columns)}; "
                    f"rename it or pass column_map={{'<your column>': {col!r}}}"
                )
        return ok

    def timestamps(self, column: str, fmt: str | None, required: bool = True) -> None:
        if column not in self.frame.columns:
            return
        raw = self.frame[column]
        parsed = _parse_timestamps(raw, fmt)
        bad = parsed.isna() & raw.notna()
        if bad.any():
            self.add(
                f"column {column!r}: {int(bad.sum())} value(s) could not be read as timestamps, "
                f"first at {self.rows(bad)} (e.g. {raw[bad].iloc[0]!r}); fix them or pass timestamp_format"
            )
        missing = raw.isna()
        if required and missing.any():
            self.add(f"column {column!r}: {int(missing.sum())} missing value(s), first at {self.rows(missing)}")
        self.frame[column] = parsed

    def ids(self, column: str) -> None:
        if column not in self.frame.columns:
            return
        ids = self.frame[column]
        clean = _clean_ids(ids)
        missing = ids.isna()
        if ids.dtype == object or isinstance(ids.dtype, pd.StringDtype):
            missing |= (clean == "").to_numpy()  # blank after stripping
        if missing.any():
            self.add(f"column {column!r}: {int(missing.sum())} null id(s), first at {self.rows(missing)}; drop or fill those rows")
        self.frame[column] = clean

    def numbers(self, column: str, *, required: bool, non_negative: bool, fix: str) -> None:
        if column not in self.frame.columns:
            return
        raw = self.frame[column]
        values = pd.to_numeric(raw, errors="coerce").astype("float64")
        bad = values.isna() & raw.notna()
        if bad.any():
            self.add(f"column {column!r}: {int(bad.sum())} non-numeric value(s), first at {self.rows(bad)} (e.g. {raw[bad].iloc[0]!r})")
        if required and raw.isna().any():
            self.add(f"column {column!r}: {int(raw.isna().sum())} missing value(s), first at {self.rows(raw.isna())}")
        if non_negative:
            negative = values < 0
            if negative.any():
                self.add(f"column {column!r}: {int(negative.sum())} negative value(s), first at {self.rows(negative)}; {fix}")
        self.frame[column] = values


def _closest(name: str, candidates) -> str:
    lowered = {str(c).lower(): str(c) for c in candidates}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    if match:
        return f" (closest existing column: {lowered[match[0]]!r})"
    shown = ", ".join(repr(str(c)) for c in list(candidates)[:12])
    return f" (columns present: {shown})"


def _parse_timestamps(values: pd.Series, fmt: str | None) -> pd.Series:
    """Parse to UTC: naive values are read as UTC, aware values converted."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize("UTC")
    if fmt:
        return pd.to_datetime(values, errors="coerce", utc=True, format=fmt).astype("datetime64[ns, UTC]")
    fast = _parse_iso_arrow(values)
    if fast is not None:
        return fast
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
    retry = parsed.isna() & values.notna()
    if retry.any():
        # Non-ISO strings (e.g. "12/1/2010 8:26"): infer their format element by element.
        parsed[retry] = pd.to_datetime(values[retry], errors="coerce", utc=True, format="mixed")
    return parsed.astype("datetime64[ns, UTC]")


def _parse_iso_arrow(values: pd.Series) -> pd.Series | None:
    """Arrow-backed ISO 8601 strings parsed by Arrow, or None to let pandas parse them.

    pandas would first turn every string into a Python object (10M rows: ~1 GB, 7 s).
    Arrow's strict parser accepts only ISO 8601, all with a UTC offset or all without
    (read as UTC, as pandas does); anything else, nulls aside, falls back to pandas.
    """
    if not isinstance(values.array, pd.arrays.ArrowStringArray):
        return None
    import pyarrow as pa

    strings = values.array._pa_array
    for target in (pa.timestamp("ns", tz="UTC"), pa.timestamp("ns")):
        try:
            parsed = strings.cast(target).to_pandas()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        parsed.index = values.index
        parsed.name = values.name
        return parsed.dt.tz_localize("UTC") if target.tz is None else parsed.astype("datetime64[ns, UTC]")
    return None


def _clean_ids(ids: pd.Series) -> pd.Series:
    """Ids as a categorical of clean values: 17850.0 becomes 17850, strings are stripped."""
    if pd.api.types.is_float_dtype(ids.dtype):
        finite = ids.dropna()
        if (finite == np.floor(finite)).all():
            ids = ids.astype("Int64")
    elif ids.dtype == object or isinstance(ids.dtype, pd.StringDtype):
        # Strip each distinct id once, not every row (10M rows hold ~1M ids).
        codes, uniques = pd.factorize(ids)
        clean = pd.Categorical(pd.Series(uniques, dtype=object).astype("string").str.strip())
        codes = np.where(codes >= 0, clean.codes[codes], -1)
        return pd.Series(pd.Categorical.from_codes(codes, dtype=clean.dtype), index=ids.index, name=ids.name)
    if isinstance(ids.dtype, pd.CategoricalDtype):
        return ids.cat.remove_unused_categories()
    return ids.astype("category")


def _categorize_text(frame: pd.DataFrame, skip: set[str]) -> None:
    for col in frame.columns:
        if col in skip:
            continue
        dtype = frame[col].dtype
        if dtype == object or isinstance(dtype, pd.StringDtype):
            frame[col] = frame[col].astype("category")


def _window(frame: pd.DataFrame, column: str, start, end, checker: _Checker) -> np.ndarray | None:
    """Mask of the rows with start <= column < end (None without bounds)."""
    if start is None and end is None:
        return None
    keep = np.ones(len(frame), dtype=bool)
    if start is not None:
        keep &= (frame[column] >= _as_utc(start)).to_numpy()
    if end is not None:
        keep &= (frame[column] < _as_utc(end)).to_numpy()
    if not keep.any():
        span = f"{frame[column].min()} to {frame[column].max()}" if len(frame) else "no rows"
        checker.add(f"no rows left after the date window start={start!r}, end={end!r}; the data span {span}")
    return keep


def _as_utc(value) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _all_categories_used(values: pd.Categorical) -> bool:
    """True when every category occurs (checked without copying the codes; -1, missing, lands in the spare slot)."""
    used = np.zeros(len(values.categories) + 1, dtype=bool)
    used[values.codes] = True
    return bool(used[:-1].all())


def _finish(frame: pd.DataFrame, sort_by: list[str], report: LoadReport, order: np.ndarray | None = None) -> pd.DataFrame:
    """Rows stably sorted by ``sort_by``, or taken at ``order`` (positions already in that order).

    With ``order`` the loader's own working ``frame`` is consumed column by column, so
    the sorted copy never coexists with the whole unsorted frame (peak memory).
    """
    if order is None:
        frame = frame.sort_values(sort_by, kind="stable").reset_index(drop=True)
    else:
        attrs = dict(frame.attrs)
        frame = pd.DataFrame({col: frame.pop(col).array.take(order) for col in list(frame.columns)}, copy=False)
        frame.attrs.update(attrs)
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.CategoricalDtype) and not _all_categories_used(frame[col].array):
            frame[col] = frame[col].cat.remove_unused_categories()
    report.rows_loaded = len(frame)
    frame.attrs["load_report"] = report.as_dict()
    return frame


# --------------------------------------------------------------------------- loaders


def load_events(
    source,
    *,
    column_map: Mapping[str, str] | None = None,
    start=None,
    end=None,
    timestamp_format: str | None = None,
    drop_duplicates: bool = True,
) -> pd.DataFrame:
    """Load and validate an event log.

    Parameters
    ----------
    source : path or DataFrame
        CSV / TSV (optionally gzipped) or Parquet file, or a DataFrame.
    column_map : dict, optional
        ``{"your column": "canonical column"}``, e.g. ``{"uid": "user_id"}``.
    start, end : str or Timestamp, optional
        Keep events with ``start <= timestamp < end`` (naive values are UTC).
        Retention looks up first events over all loaded history, so load the
        full history and restrict cohorts in the analysis when you can.
    timestamp_format : str, optional
        ``strftime`` format of the timestamp column when it is ambiguous
        (e.g. ``"%d/%m/%Y %H:%M"``).
    drop_duplicates : bool, default True
        Drop exact duplicate rows (all columns equal); the count is reported.

    Returns
    -------
    DataFrame
        The canonical events frame (see module docstring).

    Raises
    ------
    DataValidationError
        Listing every problem: missing columns (with the closest name),
        unparseable timestamps, null ids or events, negative or non-numeric
        revenue, an empty date window, an unreadable file.

    Examples
    --------
    >>> raw = pd.DataFrame({"uid": ["a", "a", "b"],
    ...                     "timestamp": ["2024-01-01 10:00", "2024-01-02 09:00", "2024-01-01 12:00"],
    ...                     "event": ["app_open", "purchase", "app_open"]})
    >>> ev = load_events(raw, column_map={"uid": "user_id"})
    >>> ev.dtypes["timestamp"]
    datetime64[ns, UTC]
    >>> ev["user_id"].tolist()
    ['a', 'a', 'b']
    """
    frame = _read_table(source, "events")
    check = _Checker(frame, source, "events")
    check.apply_column_map(column_map)
    check.require(["user_id", "timestamp", "event"])
    check.ids("user_id")
    check.timestamps("timestamp", timestamp_format)
    if "event" in check.frame.columns:
        missing = check.frame["event"].isna()
        if missing.any():
            check.add(f"column 'event': {int(missing.sum())} missing event name(s), first at {check.rows(missing)}")
        check.frame["event"] = check.frame["event"].astype("string").astype("category")
    check.numbers("revenue", required=False, non_negative=True,
                  fix="record refunds as a separate event (e.g. 'refund') with positive revenue")
    check.raise_if_any()

    report = LoadReport(source=_describe(source), rows_read=len(frame))
    events = check.frame
    del frame  # the working frame is consumed by _finish
    _categorize_text(events, skip={"user_id", "timestamp", "revenue"})
    # One stable (user, time) order serves the duplicate search and the final sort: exact
    # duplicates share user and timestamp, so only rows in runs of equal (user, time) keys
    # are compared on every column, in original order within the run (keep="first").
    user = events["user_id"].array.codes
    ts = events["timestamp"].array.asi8
    order = order_by(user, ts)
    if drop_duplicates:
        # Compare users only where the timestamp repeats: few rows, little memory.
        sorted_ts = ts[order]
        same = np.zeros(len(order), dtype=bool)  # row has the previous row's (user, time)
        same[1:] = sorted_ts[1:] == sorted_ts[:-1]
        del sorted_ts
        tie = np.flatnonzero(same)
        same[tie] = user[order[tie]] == user[order[tie - 1]]
        in_run = same.copy()
        in_run[:-1] |= same[1:]
        duplicated = np.zeros(len(order), dtype=bool)
        duplicated[in_run] = events.take(order[in_run]).duplicated(keep="first").to_numpy()
        report.duplicates_dropped = int(duplicated.sum())
        if report.duplicates_dropped:
            report.warnings.append(f"{report.duplicates_dropped} exact duplicate event row(s) dropped")
            order = order[~duplicated]
        del same, tie, in_run, duplicated
    inside = _window(events, "timestamp", start, end, check)
    if inside is not None:
        inside = inside[order]
        report.rows_outside_window = int((~inside).sum())
        order = order[inside]
    check.raise_if_any()
    return _finish(events, ["user_id", "timestamp"], report, order=order)


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
    frame = _read_table(source, "assignments")
    check = _Checker(frame, source, "assignments")
    check.apply_column_map(column_map)
    check.require(["user_id", "experiment", "variant"])
    check.ids("user_id")
    check.timestamps("assigned_at", timestamp_format)
    for col in ("experiment", "variant"):
        if col in check.frame.columns and check.frame[col].isna().any():
            missing = check.frame[col].isna()
            check.add(f"column {col!r}: {int(missing.sum())} missing value(s), first at {check.rows(missing)}")
    check.raise_if_any()

    report = LoadReport(source=_describe(source), rows_read=len(frame))
    assignments = check.frame.drop_duplicates()
    report.duplicates_dropped = len(check.frame) - len(assignments)
    per_user = assignments.groupby(["experiment", "user_id"], observed=True)["variant"].nunique()
    conflicted = per_user[per_user > 1]
    if len(conflicted):
        examples = ", ".join(f"{u!r} in {e!r}" for e, u in conflicted.index[:_MAX_ROWS_LISTED])
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
    return _finish(assignments, ["experiment", "user_id"], report)


def load_spend(source, *, column_map: Mapping[str, str] | None = None, timestamp_format: str | None = None) -> pd.DataFrame:
    """Load marketing spend: ``date``, ``channel``, ``cost`` (non-negative).

    ``date`` is returned as a tz-naive calendar date (datetime64, midnight).

    Examples
    --------
    >>> load_spend(pd.DataFrame({"date": ["2024-01-01"], "channel": ["ads"], "cost": [10]}))["cost"].tolist()
    [10.0]
    """
    frame = _read_table(source, "spend")
    check = _Checker(frame, source, "spend")
    check.apply_column_map(column_map)
    check.require(["date", "channel", "cost"])
    check.timestamps("date", timestamp_format)
    check.numbers("cost", required=True, non_negative=True, fix="spend cannot be negative; correct or drop those rows")
    check.raise_if_any()
    spend = check.frame
    spend["date"] = spend["date"].dt.tz_localize(None).dt.normalize()
    spend["channel"] = spend["channel"].astype("string").astype("category")
    return _finish(spend, ["date", "channel"], LoadReport(source=_describe(source), rows_read=len(frame)))


def load_users(source, *, column_map: Mapping[str, str] | None = None, timestamp_format: str | None = None) -> pd.DataFrame:
    """Load a user table: ``user_id``, optional ``signup_at`` and any properties.

    Each user must appear once.  Text properties become categoricals.

    Examples
    --------
    >>> u = load_users(pd.DataFrame({"user_id": ["a", "b"], "platform": ["ios", "web"]}))
    >>> str(u["platform"].dtype)
    'category'
    """
    frame = _read_table(source, "users")
    check = _Checker(frame, source, "users")
    check.apply_column_map(column_map)
    check.require(["user_id"])
    check.ids("user_id")
    check.timestamps("signup_at", timestamp_format)
    if "user_id" in check.frame.columns:
        repeated = check.frame["user_id"].duplicated() & check.frame["user_id"].notna()
        if repeated.any():
            check.add(f"column 'user_id': {int(repeated.sum())} user(s) listed more than once, first at {check.rows(repeated)}; keep one row per user")
    check.raise_if_any()
    users = check.frame
    _categorize_text(users, skip={"user_id", "signup_at"})
    return _finish(users, ["user_id"], LoadReport(source=_describe(source), rows_read=len(frame)))


def load_surveys(source, *, column_map: Mapping[str, str] | None = None, timestamp_format: str | None = None) -> pd.DataFrame:
    """Load survey answers: ``user_id``, ``timestamp``, ``score``, ``kind`` (nps / csat / ces).

    Scores must lie on the kind's scale: NPS 0–10, CSAT 1–5, CES 1–7.

    Examples
    --------
    >>> s = load_surveys(pd.DataFrame({"user_id": [1], "timestamp": ["2024-01-01"], "score": [9], "kind": ["NPS"]}))
    >>> s["kind"].tolist()
    ['nps']
    """
    frame = _read_table(source, "surveys")
    check = _Checker(frame, source, "surveys")
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
    return _finish(check.frame, ["user_id", "timestamp"], LoadReport(source=_describe(source), rows_read=len(frame)))


def attach_user_properties(events: pd.DataFrame, users: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """Return ``events`` with user-level properties from ``users`` added as columns.

    Use it to break analyses down by a property that lives in the user table
    (acquisition channel, onboarding flag, ...).  Users missing from the user
    table get missing values.  ``events`` is not modified.

    Examples
    --------
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
