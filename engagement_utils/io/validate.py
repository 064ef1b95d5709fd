"""Vectorized checks that collect every problem of one table (column, rows, fix).

Text columns may arrive as categoricals built from Arrow dictionaries
(``read_table(..., text_as_codes=True)``): every check then works on the
integer codes and on the few distinct values, never on per-row strings.
"""

from __future__ import annotations

import warnings
from typing import Mapping

import numpy as np
import pandas as pd

from .report import DataValidationError, closest_column, describe_source, row_label

__all__ = ["Checker", "parse_timestamps", "clean_ids", "sorted_categorical", "categorical_dtype", "is_text", "as_utc"]

_OFFSET = r"(?:[+-]\d{2}(?::?\d{2})?|Z|UTC|GMT)\s*$"


def is_text(dtype) -> bool:
    """True for object and string dtypes (not categoricals)."""
    return dtype == object or isinstance(dtype, pd.StringDtype)


def as_utc(value) -> pd.Timestamp:
    """A timestamp in UTC (naive values are read as UTC)."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


class Checker:
    """Collects problems (and warnings) while a loader validates one table."""

    def __init__(self, frame: pd.DataFrame, source, what: str):
        self.frame = frame
        self.what = what
        self.source = describe_source(source)
        self.from_csv = not isinstance(source, pd.DataFrame) and ".csv" in str(source).lower()
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def add(self, message: str) -> None:
        self.problems.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        warnings.warn(f"{self.what} ({self.source}): {message}", UserWarning, stacklevel=4)

    def rows(self, mask) -> str:
        return row_label(np.flatnonzero(np.asarray(mask)), self.from_csv)

    def raise_if_any(self) -> None:
        if self.problems:
            raise DataValidationError(self.problems, f"{self.what} ({self.source})")

    def apply_column_map(self, column_map: Mapping[str, str] | None) -> None:
        if not column_map:
            return
        missing = [old for old in column_map if old not in self.frame.columns]
        for old in missing:
            self.add(f"column_map names column {old!r}, which is not in the input{closest_column(old, self.frame.columns)}")
        self.frame = self.frame.rename(columns={k: v for k, v in column_map.items() if k not in missing})

    def require(self, columns: list[str]) -> bool:
        ok = True
        for col in columns:
            if col not in self.frame.columns:
                ok = False
                self.add(
                    f"required column {col!r} is missing{closest_column(col, self.frame.columns)}; "
                    f"rename it or pass column_map={{'<your column>': {col!r}}}"
                )
        if not ok:
            header = "".join(str(c) for c in self.frame.columns)
            for sep, name in ((";", "';'"), ("\t", "a tab")):
                if sep in header:
                    shown = repr(sep)
                    self.add(f"the header holds {name}: the file is probably separated by {name}, not by commas; "
                             f"pass delimiter={shown} (source option `delimiter: {shown}`)")
        return ok

    def timestamps(self, column: str, fmt: str | None, required: bool = True) -> None:
        if column not in self.frame.columns:
            return
        raw = self.frame[column]
        forms: list[tuple[int, int, int]] = []
        parsed = parse_timestamps(raw, fmt, forms)
        bad = parsed.isna() & raw.notna()
        if bad.any():
            self.add(
                f"column {column!r}: {int(bad.sum())} value(s) could not be read as timestamps, "
                f"first at {self.rows(bad)} (e.g. {raw[bad].iloc[0]!r}); fix them or pass timestamp_format"
            )
        missing = raw.isna()
        if required and missing.any():
            self.add(f"column {column!r}: {int(missing.sum())} missing value(s), first at {self.rows(missing)}")
        if forms and forms[0][0] and forms[0][1]:
            aware, naive, first_naive = forms[0]
            self.warn(
                f"column {column!r} mixes {aware:,} timestamp(s) with a UTC offset and {naive:,} without one "
                f"(first at {row_label(np.array([first_naive]), self.from_csv)}, e.g. {raw.iloc[first_naive]!r}); "
                "those without were read as UTC. If they are local times, export every timestamp with its offset "
                "(or all in UTC), or pass timestamp_format"
            )
        self.frame[column] = parsed

    def ids(self, column: str, strip_categories: bool = False) -> None:
        if column not in self.frame.columns:
            return
        ids = self.frame[column]
        clean = clean_ids(ids, strip_categories=strip_categories)
        missing = ids.isna().to_numpy().copy()
        if is_text(ids.dtype):
            missing |= (clean == "").to_numpy()  # blank after stripping
        elif isinstance(ids.dtype, pd.CategoricalDtype) and is_text(clean.cat.categories.dtype):
            blank = np.flatnonzero(clean.cat.categories == "")
            if len(blank):
                missing |= clean.cat.codes.to_numpy() == blank[0]
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

    def window(self, column: str, start, end) -> np.ndarray | None:
        """Mask of the rows with start <= column < end (None without bounds)."""
        if start is None and end is None:
            return None
        frame = self.frame
        if start is not None and end is not None and as_utc(start) >= as_utc(end):
            self.add(f"the date window is empty: start={start!r} is not before end={end!r} "
                     "(start is included, end excluded); swap them or widen the window")
            return np.zeros(len(frame), dtype=bool)
        keep = np.ones(len(frame), dtype=bool)
        if start is not None:
            keep &= (frame[column] >= as_utc(start)).to_numpy()
        if end is not None:
            keep &= (frame[column] < as_utc(end)).to_numpy()
        if not keep.any():
            span = f"{frame[column].min()} to {frame[column].max()}" if len(frame) else "no rows"
            self.add(f"no rows left after the date window start={start!r}, end={end!r}; the data span {span}")
        return keep


def parse_timestamps(values: pd.Series, fmt: str | None, forms: list | None = None) -> pd.Series:
    """Parse to UTC nanoseconds: naive values are read as UTC, aware values converted.

    When text must be parsed by pandas (Arrow's strict ISO parser refused it), ``forms``
    receives ``(values with an offset, values without, position of the first without)``.

    Examples
    --------
    >>> parse_timestamps(pd.Series(["2024-01-01 10:00+02:00"]), None).tolist()
    [Timestamp('2024-01-01 08:00:00+0000', tz='UTC')]
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        if values.dtype.unit == "ns" and str(values.dtype.tz) == "UTC":
            return values  # already canonical (a Parquet file's UTC nanoseconds): no copy
        return values.dt.tz_convert("UTC").dt.as_unit("ns")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize("UTC").dt.as_unit("ns")
    if isinstance(values.dtype, pd.CategoricalDtype):
        # One parse per distinct value, spread over the rows by the codes.
        codes = values.cat.codes.to_numpy()
        distinct = pd.Series(values.cat.categories.astype("str"))
        parsed = parse_timestamps(distinct, fmt).array.take(codes, allow_fill=True)
        if forms is not None:
            aware_distinct = distinct.str.contains(_OFFSET, regex=True).fillna(False).to_numpy(dtype=bool)
            aware = np.append(aware_distinct, False)[codes]
            naive = (codes >= 0) & ~aware
            forms.append((int(aware.sum()), int(naive.sum()), int(np.argmax(naive)) if naive.any() else 0))
        return pd.Series(parsed, index=values.index, name=values.name)
    if fmt:
        return pd.to_datetime(values, errors="coerce", utc=True, format=fmt).astype("datetime64[ns, UTC]")
    fast = _parse_iso_arrow(values)
    if fast is not None:
        return fast
    if forms is not None:
        text = values.astype("string")
        aware = text.str.contains(_OFFSET, regex=True).fillna(False).to_numpy(dtype=bool)
        naive = text.notna().to_numpy() & ~aware
        forms.append((int(aware.sum()), int(naive.sum()), int(np.argmax(naive)) if naive.any() else 0))
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


def clean_ids(ids: pd.Series, strip_categories: bool = False) -> pd.Series:
    """Ids as a categorical of clean values: 17850.0 becomes 17850, strings are stripped.

    Text ids are stripped once per distinct value and the categories sorted.  A
    categorical of text (a file's dictionary-encoded column) gets the same treatment
    with ``strip_categories=True``; otherwise a categorical only loses unused categories.

    Examples
    --------
    >>> clean_ids(pd.Series([" b", "a", "b "])).tolist()
    ['b', 'a', 'b']
    >>> clean_ids(pd.Series([17850.0, 12346.0])).cat.categories.tolist()
    [12346, 17850]
    """
    if pd.api.types.is_float_dtype(ids.dtype):
        finite = ids.dropna()
        if (finite == np.floor(finite)).all():
            ids = ids.astype("Int64")
    elif is_text(ids.dtype):
        # Strip each distinct id once, not every row (10M rows hold ~1M ids).
        codes, uniques = pd.factorize(ids)
        return _recode(codes, pd.Series(uniques, dtype=object).astype("string").str.strip(), ids)
    if isinstance(ids.dtype, pd.CategoricalDtype):
        if strip_categories and is_text(ids.cat.categories.dtype):
            return _recode(ids.cat.codes.to_numpy(), pd.Series(ids.cat.categories).astype("string").str.strip(), ids)
        return ids if _all_categories_used(ids.array) else ids.cat.remove_unused_categories()
    return ids.astype("category")


def _recode(codes: np.ndarray, values: pd.Series, like: pd.Series) -> pd.Series:
    """Rows' codes into ``values`` (one per old code) re-expressed over the sorted distinct values."""
    if len(values) and _strictly_increasing(values):
        # Already sorted and distinct (the reader sorts Arrow dictionaries): only the codes' type is checked.
        result = pd.Categorical.from_codes(codes, dtype=categorical_dtype(pd.Index(values)))
        if not _all_categories_used(result):
            result = result.remove_unused_categories()
        return pd.Series(result, index=like.index, name=like.name)
    clean = pd.Categorical(values)
    mapped = clean.codes[codes] if len(clean.codes) else np.full(len(codes), -1, dtype=np.int8)
    mapped = np.where(codes >= 0, mapped, -1)
    used = np.zeros(len(clean.categories) + 1, dtype=bool)
    used[mapped] = True
    result = pd.Categorical.from_codes(mapped, dtype=clean.dtype)
    if not used[:-1].all():
        result = result.remove_unused_categories()
    return pd.Series(result, index=like.index, name=like.name)


def _strictly_increasing(values: pd.Series) -> bool:
    """Sorted, distinct and without missing values; checked by Arrow for Arrow-backed text (pandas would
    first make a Python object of every value)."""
    array = values.array
    if isinstance(array, pd.arrays.ArrowStringArray):
        import pyarrow.compute as pc

        data = array._pa_array
        if data.null_count:
            return False
        return len(data) < 2 or bool(pc.all(pc.greater(data[1:], data[:-1])).as_py())
    return bool(values.is_monotonic_increasing and values.is_unique and values.notna().all())


def categorical_dtype(categories: pd.Index) -> pd.CategoricalDtype:
    """A CategoricalDtype over categories known to be distinct (Arrow dictionaries, checked sorted values).

    pandas validates categories by hashing them as Python objects (1M ids: ~0.3 s per call);
    its fast path skips that.  Without the fast path (another pandas), the checked constructor runs.
    """
    fastpath = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    if fastpath is not None:
        try:
            return fastpath(categories, False)
        except TypeError:
            pass
    return pd.CategoricalDtype(categories)


def sorted_categorical(values: pd.Series, categories_dtype: str) -> pd.Series:
    """A text column (plain or categorical) as a categorical over its sorted distinct values.

    Equals ``values.astype(categories_dtype).astype("category")`` without per-row strings.

    Examples
    --------
    >>> sorted_categorical(pd.Series(["b", "a", None], dtype="category"), "string").cat.categories.tolist()
    ['a', 'b']
    """
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype(categories_dtype).astype("category")
    return _recode(values.cat.codes.to_numpy(), pd.Series(values.cat.categories).astype(categories_dtype), values)


def _all_categories_used(values: pd.Categorical) -> bool:
    """True when every category occurs (checked without copying the codes; -1, missing, lands in the spare slot)."""
    used = np.zeros(len(values.categories) + 1, dtype=bool)
    used[values.codes] = True
    return bool(used[:-1].all())


def all_categories_used(values: pd.Categorical) -> bool:
    """Public alias of the unused-category check, for the loaders' final step."""
    return _all_categories_used(values)
