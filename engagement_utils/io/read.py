"""Reading input files without touching them: Arrow-native Parquet and CSV, pandas as the fallback.

Parquet is read by Arrow with only the requested columns; CSV by Arrow's multithreaded
reader, which falls back to pandas for anything it cannot type consistently (and then
produces pandas' own messages).  With ``text_as_codes=True`` text columns stay
dictionary-encoded and arrive as pandas categoricals (codes plus one copy of each
distinct value), so no per-row Python string is ever made.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import os
from pathlib import Path
from typing import Sequence

import pandas as pd

from .report import DataValidationError
from .validate import categorical_dtype

__all__ = ["read_table", "sniff_delimiter", "PARQUET_SUFFIXES", "CSV_SUFFIXES", "TSV_SUFFIXES"]

PARQUET_SUFFIXES = (".parquet", ".pq")
TSV_SUFFIXES = (".tsv", ".tsv.gz", ".tab")
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".txt")
# pandas' default missing-value markers, so both CSV readers agree on what is missing.
_NA_VALUES = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
              "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]
_SNIFF_BYTES = 64 * 1024


def read_table(
    source,
    what: str,
    *,
    columns: Sequence[str] | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    text_as_codes: bool = False,
    high_cardinality: Sequence[str] = (),
) -> pd.DataFrame:
    """Read ``source`` (path or DataFrame) without modifying it.

    Parameters
    ----------
    source : path or DataFrame
        CSV / TSV (optionally compressed) or Parquet file; a DataFrame is returned as a shallow copy.
    what : str
        What is being loaded, for messages ("events", "users", ...).
    columns : list of str, optional
        The input's column names to read (others are skipped while reading); None reads all.
    encoding : str, optional
        Text encoding of a CSV file (default UTF-8), e.g. ``"latin-1"`` or ``"cp1252"``.
    delimiter : str, optional
        CSV field separator; by default ``","``, or what the header line shows when it
        holds no comma but ``;``, a tab or ``|`` (a European spreadsheet export).
    text_as_codes : bool, default False
        Return text columns as categoricals built from Arrow dictionaries.
    high_cardinality : list of str, optional
        Text columns with many distinct values (ids): read as plain text and encoded once
        over the whole column, since unifying a dictionary per page costs more.

    Raises
    ------
    DataValidationError
        File missing, unsupported type, unreadable, or not in the given encoding (with the
        byte offset and line of the first bad byte and the encodings to try).

    Examples
    --------
    >>> read_table(pd.DataFrame({"a": [1]}), "events")["a"].tolist()
    [1]
    """
    if isinstance(source, pd.DataFrame):
        frame = source.copy(deep=False)
        if columns is not None:
            frame = frame[[c for c in frame.columns if c in set(columns)]]
        return frame
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"{what}: expected a file path or a pandas DataFrame, got {type(source).__name__}")
    path = Path(source)
    if not path.exists():
        raise DataValidationError([f"file not found: {path} (check the path; relative paths are resolved from {Path.cwd()})"], str(path))
    name = path.name.lower()
    try:
        if name.endswith(PARQUET_SUFFIXES):
            return _read_parquet(path, columns, text_as_codes, set(high_cardinality))
        if name.endswith(TSV_SUFFIXES + CSV_SUFFIXES):
            sep = delimiter or ("\t" if name.endswith(TSV_SUFFIXES) else sniff_delimiter(path, encoding))
            return _read_csv(path, columns, encoding, sep, text_as_codes, set(high_cardinality))
    except DataValidationError:
        raise
    except UnicodeDecodeError as exc:
        raise DataValidationError([_encoding_problem(path, encoding, exc)], str(path)) from exc
    except Exception as exc:  # the reader's own message says what is wrong with the file
        raise DataValidationError([f"could not read {path}: {type(exc).__name__}: {exc}"], str(path)) from exc
    raise DataValidationError(
        [f"unsupported file type {path.suffix!r} for {path}; use .csv, .csv.gz, .tsv or .parquet"], str(path)
    )


def _read_parquet(path: Path, columns, text_as_codes: bool, high_cardinality: set) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    names = schema.names if columns is None else [c for c in schema.names if c in set(columns)]
    text = [f.name for f in schema if f.name in names and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))]
    table = pq.read_table(path, columns=names, read_dictionary=[c for c in text if c not in high_cardinality]
                          if text_as_codes else None)
    return arrow_to_pandas(table, high_cardinality) if text_as_codes else table.to_pandas()


def _read_csv(path: Path, columns, encoding: str | None, sep: str, text_as_codes: bool, high_cardinality: set) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    header = _header(path, encoding, sep)
    include = None if columns is None or header is None else [c for c in header if c in set(columns)]

    def with_pandas() -> pd.DataFrame:
        # Arrow types each column from its first block and is strict about UTF-8, ragged rows
        # and compression; pandas reads what it can and explains what it cannot.
        usecols = None if columns is None else (lambda c: c in set(columns))
        return pd.read_csv(path, sep=sep, low_memory=False, encoding=encoding, usecols=usecols)

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding or "utf8"),
            parse_options=pacsv.ParseOptions(delimiter=sep),
            convert_options=pacsv.ConvertOptions(
                include_columns=include, null_values=_NA_VALUES, strings_can_be_null=True,
                quoted_strings_can_be_null=True, auto_dict_encode=text_as_codes, auto_dict_max_cardinality=2**31 - 1),
        )
    except (pa.ArrowException, ValueError, OSError, UnicodeDecodeError):
        return with_pandas()
    if any(pa.types.is_binary(f.type) or (pa.types.is_dictionary(f.type) and pa.types.is_binary(f.type.value_type))
           for f in table.schema):
        return with_pandas()  # bytes that are not valid in the encoding: pandas raises, read_table explains
    for i, field in enumerate(table.schema):
        # Dates and times stay text, as pandas leaves them: the loaders parse them.
        if pa.types.is_date(field.type) or pa.types.is_time(field.type):
            table = table.set_column(i, field.name, pc.cast(table.column(i), pa.string()))
    return arrow_to_pandas(table, high_cardinality) if text_as_codes else table.to_pandas()


def arrow_to_pandas(table, high_cardinality: set = frozenset(), sort_dictionaries: bool = True) -> pd.DataFrame:
    """An Arrow table as pandas, dictionary columns as categoricals over their sorted values.

    Arrow's own conversion unifies per-chunk dictionaries through pandas objects (10M
    rows, 1M ids: ~5 s); here the dictionaries are unified and sorted in Arrow and the
    rows keep integer codes.
    """
    import pyarrow as pa

    columns = {}
    for name, column in zip(table.column_names, table.columns):
        if name in high_cardinality and pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)  # per-chunk dictionaries (CSV): cheaper to re-encode
        if name in high_cardinality and (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            columns[name] = _as_categorical(*_encode(column), sort_dictionaries)  # one dictionary for every chunk
        else:
            columns[name] = _categorical(column, sort_dictionaries) if pa.types.is_dictionary(column.type) else column.to_pandas()
    frame = pd.concat(columns, axis=1) if columns else pd.DataFrame()
    return frame


def _codes(chunks) -> "np.ndarray":
    """The indices of dictionary chunks as one numpy array (nulls: -1)."""
    import numpy as np
    import pyarrow.compute as pc

    codes = [(pc.fill_null(chunk.indices, -1) if chunk.null_count else chunk.indices).to_numpy() for chunk in chunks]
    if not codes:
        return np.zeros(0, dtype=np.int32)
    return codes[0] if len(codes) == 1 else np.concatenate(codes)


def _encode(column) -> tuple:
    """``(dictionary, codes)`` of a text ChunkedArray by ``pc.dictionary_encode`` (one dictionary; nulls: -1)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(column)
    dictionary = encoded.chunk(0).dictionary if encoded.num_chunks else pa.array([], type=column.type)
    return dictionary, _codes(encoded.chunks)


def _categorical(column, sort: bool = True) -> pd.Series:
    """A dictionary-encoded ChunkedArray as a pandas categorical with sorted categories (nulls: code -1)."""
    import pyarrow as pa

    if column.num_chunks == 0:
        column = pa.chunked_array([pa.array([], type=column.type)])
    def address(chunk):
        return tuple(b.address if b is not None else 0 for b in chunk.dictionary.buffers())

    shared = len({address(chunk) for chunk in column.chunks}) == 1
    unified = column if shared else column.unify_dictionaries()
    return _as_categorical(unified.chunk(0).dictionary, _codes(unified.chunks), sort)


def _as_categorical(dictionary, codes, sort: bool = True) -> pd.Series:
    """Codes into an Arrow dictionary (distinct values; -1: missing) as a categorical, categories sorted."""
    import numpy as np
    import pyarrow as pa

    sorter = _sort_order(dictionary) if sort else np.arange(len(dictionary))
    if not np.array_equal(sorter, np.arange(len(sorter))):
        position = np.empty(len(sorter) + 1, dtype=codes.dtype if codes.dtype.itemsize >= 4 else np.int32)
        position[sorter] = np.arange(len(sorter))
        position[-1] = -1  # code -1 (missing) stays -1
        codes = position[codes]
        dictionary = dictionary.take(pa.array(sorter))
    # An Arrow dictionary holds distinct values: no need for pandas to hash them again.
    return pd.Series(pd.Categorical.from_codes(codes, dtype=categorical_dtype(pd.Index(dictionary.to_pandas()))))


def _sort_order(values) -> "np.ndarray":
    """``pc.array_sort_indices(values)`` of distinct values; for text of at most 8 bytes by one integer sort.

    Arrow orders text by its bytes, a shorter prefix first.  Text without NUL bytes, each
    value zero-padded to 8 bytes and read as a big-endian integer, has exactly that order
    (short ids such as ``"u0012345"`` or ``"17850"``: ~5× faster than comparing strings).

    Examples
    --------
    >>> import pyarrow as pa
    >>> _sort_order(pa.array(["b", "ab", "a", "é", "Z"])).tolist()
    [4, 2, 1, 0, 3]
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = values.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)) or values.null_count or len(values) < 2:
        return pc.array_sort_indices(values).to_numpy()
    width = np.int64 if pa.types.is_large_string(kind) else np.int32
    offsets = np.frombuffer(values.buffers()[1], dtype=width, count=len(values) + 1, offset=values.offset * width().itemsize)
    lengths = np.diff(offsets)
    start, stop = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[start:stop] if stop > start else np.zeros(0, np.uint8)
    if lengths.max() > 8 or bool((data == 0).any()):
        return pc.array_sort_indices(values).to_numpy()
    padded = np.zeros(len(data) + 8, dtype=np.uint8)
    padded[: len(data)] = data
    lanes = np.arange(8)
    at = (offsets[:-1] - start).astype(np.int64)[:, None] + lanes
    keys = np.where(lanes < lengths[:, None], padded[at], 0).astype(np.uint8).view(">u8").ravel()
    return np.argsort(keys, kind="stable")


def _header(path: Path, encoding: str | None, sep: str) -> list[str] | None:
    """The column names on the first line (None when unreadable)."""
    opener = gzip.open if str(path).lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            line = handle.readline(_SNIFF_BYTES).decode(encoding or "utf-8-sig")
        return next(csv.reader([line], delimiter=sep))
    except (OSError, UnicodeDecodeError, StopIteration, csv.Error, LookupError):
        return None


def sniff_delimiter(path: Path, encoding: str | None = None) -> str:
    """``","`` unless the header line holds no comma but ``;``, a tab or ``|`` (checked by csv.Sniffer).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "e.csv"
    >>> _ = p.write_text("user_id;timestamp;event\\nu1;2024-01-01;open\\n")
    >>> sniff_delimiter(p)
    ';'
    """
    opener = gzip.open if str(path).lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            sample = handle.read(_SNIFF_BYTES).decode(encoding or "utf-8", errors="replace")
    except OSError:
        return ","
    lines = sample.splitlines()
    header = lines[0] if lines else ""
    others = {d: header.count(d) for d in (";", "\t", "|")}
    if "," in header or not any(others.values()):
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=";\t|").delimiter
    except csv.Error:
        return max(others, key=others.get)


def _encoding_problem(path: Path, encoding: str | None, exc: UnicodeDecodeError) -> str:
    """Where the first byte that is not valid in ``encoding`` sits (byte offset, line), and the fix."""
    name = encoding or "utf-8"
    offset, line, byte = _first_bad_byte(path, name)
    where = f"byte 0x{byte:02x} at byte offset {offset:,} (line {line})" if offset is not None else str(exc.reason)
    return (f"could not read {path} as {name}: {where} is not valid {name}; the file was probably saved by a "
            "spreadsheet in another encoding: pass encoding='latin-1' or encoding='cp1252' "
            "(source option `encoding: latin-1`)")


def _first_bad_byte(path: Path, encoding: str) -> tuple[int | None, int, int]:
    """Absolute offset, 1-based line and value of the first undecodable byte (decoded in 1 MiB chunks)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    opener = gzip.open if str(path).lower().endswith(".gz") else open
    offset, lines = 0, 1
    with opener(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                # The decoder may hold back a few bytes of the previous chunk; exc.start is within `buffered + chunk`.
                held = len(exc.object) - len(chunk)
                position = offset - held + exc.start
                lines += exc.object[: exc.start].count(b"\n")
                return position, lines, exc.object[exc.start]
            lines += chunk.count(b"\n")
            offset += len(chunk)
    return None, lines, 0
