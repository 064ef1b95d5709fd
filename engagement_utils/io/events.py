"""``load_events``: the canonical events frame from a file or a DataFrame (DESIGN §4)."""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .._arrays import order_by
from .cache import cached_frame
from .read import read_table
from .report import LoadReport, describe_source
from .validate import Checker, all_categories_used, sorted_categorical

__all__ = ["load_events", "finish", "REQUIRED_EVENT_COLUMNS"]

REQUIRED_EVENT_COLUMNS = ("user_id", "timestamp", "event")


def load_events(
    source,
    *,
    column_map: Mapping[str, str] | None = None,
    start=None,
    end=None,
    timestamp_format: str | None = None,
    drop_duplicates: bool = True,
    columns: Sequence[str] | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    cache: bool = True,
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
        Drop exact duplicate rows (all loaded columns equal); the count is reported.
    columns : list of str, optional
        Canonical names of the optional columns to keep (e.g. ``["revenue", "platform"]``);
        ``user_id``, ``timestamp`` and ``event`` are always loaded.  Other columns are
        not even read from a Parquet or CSV file.  None (default) keeps every column.
        Duplicates are then judged on the loaded columns.
    encoding : str, optional
        Text encoding of a CSV file (default UTF-8), e.g. ``"latin-1"``, ``"cp1252"``.
    delimiter : str, optional
        CSV field separator; by default ``","`` or, when the header line has no comma,
        the ``;``, tab or ``|`` it holds.
    cache : bool, default True
        Keep the prepared frame of a file input in the prepared-events cache
        (:mod:`engagement_utils.io.cache`) and reload it from there while neither the
        file nor any option changed.  DataFrame inputs are never cached.

    Returns
    -------
    DataFrame
        The canonical events frame: ``user_id`` (category), ``timestamp``
        (datetime64[ns, UTC]), ``event`` (category), optional columns; rows sorted by
        ``user_id`` then ``timestamp``; ``attrs["load_report"]`` says what loading did.

    Raises
    ------
    DataValidationError
        Listing every problem: missing columns (with the closest name, and the
        delimiter when the header holds ``;`` or a tab), unparseable timestamps,
        null ids or events, negative or non-numeric revenue, a reversed or empty
        date window, an unreadable file or a wrong encoding.

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
    options = {"column_map": dict(column_map or {}), "start": start, "end": end, "timestamp_format": timestamp_format,
               "drop_duplicates": drop_duplicates, "columns": None if columns is None else list(columns),
               "encoding": encoding, "delimiter": delimiter}
    if cache and isinstance(source, (str, os.PathLike)) and os.path.isfile(source):
        return cached_frame(source, "load_events", options, lambda: _load_events(source, **options))
    return _load_events(source, **options)


def _wanted_columns(column_map: Mapping[str, str], columns: Sequence[str] | None) -> list[str] | None:
    """The input's column names to read for the canonical ``columns`` (None: all)."""
    if columns is None:
        return None
    canonical = set(REQUIRED_EVENT_COLUMNS) | set(columns)
    renamed = {new for new in column_map.values()}
    return sorted({c for c in canonical if c not in renamed} | set(column_map))


def _load_events(source, *, column_map, start, end, timestamp_format, drop_duplicates, columns, encoding, delimiter):
    ids = [old for old, new in column_map.items() if new in ("user_id", "session_id")] + \
        [c for c in ("user_id", "session_id") if c not in column_map.values()]
    frame = read_table(source, "events", columns=_wanted_columns(column_map, columns), encoding=encoding,
                       delimiter=delimiter, text_as_codes=True, high_cardinality=ids)
    # Columns the reader dictionary-encoded (a file's text columns): their categories get
    # the same cleaning and order a text column gets.
    encoded = set() if isinstance(source, pd.DataFrame) else {
        c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)}
    check = Checker(frame, source, "events")
    check.apply_column_map(column_map)
    encoded = {column_map.get(c, c) for c in encoded}
    if columns is not None:
        keep = set(REQUIRED_EVENT_COLUMNS) | set(columns)
        check.frame = check.frame[[c for c in check.frame.columns if c in keep]]
    check.require(list(REQUIRED_EVENT_COLUMNS))
    check.ids("user_id", strip_categories="user_id" in encoded)
    check.timestamps("timestamp", timestamp_format)
    if "event" in check.frame.columns:
        missing = check.frame["event"].isna()
        if missing.any():
            check.add(f"column 'event': {int(missing.sum())} missing event name(s), first at {check.rows(missing)}")
        check.frame["event"] = sorted_categorical(check.frame["event"], "string")
    check.numbers("revenue", required=False, non_negative=True,
                  fix="record refunds as a separate event (e.g. 'refund') with positive revenue")
    check.raise_if_any()

    report = LoadReport(source=describe_source(source), rows_read=len(frame), warnings=list(check.warnings))
    events = check.frame
    del frame  # the working frame is consumed by finish
    clean = {"user_id", "event"}  # categoricals whose every category occurs (validation made them so)
    for col in events.columns:
        if col in ("user_id", "timestamp", "event", "revenue"):
            continue
        values = events[col]
        if col in encoded and isinstance(values.dtype, pd.CategoricalDtype):
            events[col] = sorted_categorical(values, str(values.cat.categories.dtype))
            clean.add(col)
        elif values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            events[col] = values.astype("category")
            clean.add(col)
    # One stable (user, time) order serves the duplicate search and the final sort: exact
    # duplicates share user and timestamp, so only rows in runs of equal (user, time) keys
    # are compared on every column, in original order within the run (keep="first").
    user = events["user_id"].array.codes
    ts = events["timestamp"].array.asi8
    order = order_by(user, ts)
    if drop_duplicates:
        duplicated = _duplicated_in_order(events, user, ts, order)
        report.duplicates_dropped = int(duplicated.sum())
        if report.duplicates_dropped:
            report.warnings.append(f"{report.duplicates_dropped} exact duplicate event row(s) dropped")
            order = order[~duplicated]
    del user, ts  # views of two columns: they would keep the unsorted columns alive while finish sorts
    inside = check.window("timestamp", start, end)
    if inside is not None:
        inside = inside[order]
        report.rows_outside_window = int((~inside).sum())
        order = order[inside]
    check.raise_if_any()
    # Dropping exact duplicates keeps one row of each, so only the date window can leave a category unused.
    return finish(events, ["user_id", "timestamp"], report, order=order, all_used=clean if inside is None else ())


def _duplicated_in_order(events: pd.DataFrame, user: np.ndarray, ts: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Mask over ``order``: the row repeats an earlier row of its (user, time) run on every column."""
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
    return duplicated


def finish(frame: pd.DataFrame, sort_by: list[str], report: LoadReport, order: np.ndarray | None = None,
           all_used=()) -> pd.DataFrame:
    """Rows stably sorted by ``sort_by``, or taken at ``order`` (positions already in that order).

    With ``order`` the loader's own working ``frame`` is consumed column by column, so
    the sorted copy never coexists with the whole unsorted frame (peak memory); when
    ``order`` keeps every row in place, no column is copied.  Categorical columns lose
    unused categories, except those in ``all_used`` (known to have none).
    """
    if order is None:
        frame = frame.sort_values(sort_by, kind="stable").reset_index(drop=True)
    else:
        attrs = dict(frame.attrs)
        head = order[: 1 << 16]
        identity = len(order) == len(frame) and bool(np.array_equal(head, np.arange(len(head)))) \
            and bool(np.all(np.diff(order) == 1))
        columns = list(frame.columns)
        if identity:
            frame = pd.DataFrame({col: frame.pop(col).array for col in columns}, copy=False)
        else:
            frame = pd.DataFrame({col: frame.pop(col).array.take(order) for col in columns}, copy=False)
        frame.attrs.update(attrs)
    for col in frame.columns:
        if col not in all_used and isinstance(frame[col].dtype, pd.CategoricalDtype) \
                and not all_categories_used(frame[col].array):
            frame[col] = frame[col].cat.remove_unused_categories()
    report.rows_loaded = len(frame)
    frame.attrs["load_report"] = report.as_dict()
    return frame
