"""Export presets: a vendor's export turned into the canonical events frame by one option.

``preset: amplitude`` (in a data-set description's ``events`` options, see
:mod:`engagement_utils.dataset`) or ``load_export(path, "amplitude")`` reads
the export, maps the vendor's columns to the canonical ones (DESIGN §4),
flattens nested properties into columns and hands the result to
:func:`engagement_utils.sources.load_source`, which validates it as any event
log (so every check, the cleaning log and the load report apply).

============  =====================================================================
preset        what it maps
============  =====================================================================
ga4           GA4 BigQuery export rows: ``event_name``; ``event_timestamp`` (µs, UTC);
              ``user_id``, else ``user_pseudo_id``; ``event_params`` (a list of
              ``{key, value: {string_value, int_value, float_value, double_value}}``,
              or its JSON) → ``prop_<key>``; ``user_properties`` → ``user_prop_<key>``;
              ``ga_session_id`` → ``session_id``; ``platform``; ``geo.country`` →
              ``country``; ``traffic_source.medium`` → ``channel``;
              ``ecommerce.purchase_revenue`` (else ``event_value_in_usd``) → ``revenue``
amplitude     Amplitude export: ``event_type``; ``user_id``, else ``device_id``;
              ``event_time`` (UTC); ``event_properties`` → ``prop_*``;
              ``user_properties`` → ``user_prop_*``; ``platform``, ``country``,
              ``session_id`` (-1 = none), ``revenue`` kept
mixpanel      Mixpanel export: ``event``; ``properties.distinct_id`` (else
              ``$device_id``); ``properties.time`` (s; ms when the values are > 1e11); other
              properties (flattened ``properties.*`` columns or one nested
              ``properties`` column) → ``prop_*``; ``$os`` → ``platform``,
              ``mp_country_code`` → ``country``, ``$current_url`` → ``screen``
segment       Segment ``track`` calls (other ``type`` rows are dropped, logged):
              ``userId``, else ``anonymousId``; ``event``; ``timestamp`` (ISO 8601);
              ``properties`` → ``prop_*`` (``revenue`` → ``revenue``); ``context`` →
              ``context_*`` (``os.name`` → ``platform``, ``location.country`` →
              ``country``, ``page.path`` → ``screen``)
posthog       PostHog events: ``distinct_id``; ``event``; ``timestamp``; ``properties``
              → ``prop_*`` (``$os`` → ``platform``, ``$geoip_country_code`` →
              ``country``, ``$session_id`` → ``session_id``, ``$pathname`` / ``$screen_name``
              → ``screen``)
transactions  invoice lines (UCI Online Retail I or II names, or snake_case): one
              ``purchase`` per line, revenue = quantity × price, cancelled invoices
              (number starting with ``C``) as ``refund`` with positive revenue,
              lines without a customer dropped (logged)
============  =====================================================================

User ids fall back per row: the known user id where present, else the
device / anonymous id.  Property names are lower-cased with every run of
other characters made ``_`` (``$current_url`` → ``prop_current_url``,
``Plan Type`` → ``prop_plan_type``); list values become JSON text.  Further
loading options (``filters``, ``event_rules``, ``column_map``, ...) apply after
the preset and name the prepared columns: canonical names and ``prop_*`` for
the analytics presets, the file's own names for ``transactions``.

JSON text columns are joined into one buffer by Arrow kernels and parsed by
pyarrow's JSON reader (no Python loop per row); when that fails (a key
changing type between rows) ``json.loads`` per row with
:func:`pandas.json_normalize` takes over.  Measured on 200,000 rows with five
properties (one nested) on the shared 2-core development machine: the pyarrow
path ~250k rows/s, the ``json.loads`` fallback ~29k rows/s (``json.loads``
alone ~55k rows/s there); GA4 ``event_params`` as JSON text (three keys)
~100k rows/s; dicts already parsed (JSON lines files) ~240k rows/s.
"""

from __future__ import annotations

import io as _bytes_io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from . import sources
from .io import DataValidationError
from .validation import check_option, closest

__all__ = ["PRESETS", "Preset", "load_export", "read_export", "flatten_properties", "flatten_key_values", "property_name"]


# --------------------------------------------------------------------------- reading and flattening


def read_export(source, *, csv_as_text: bool = True) -> pd.DataFrame:
    """Read an export as it is: JSON lines (``.jsonl``, ``.ndjson``, ``.json``, gzipped too), CSV or Parquet.

    With ``csv_as_text`` CSV columns are read as text, so ids such as GA4's
    ``1234567.89`` survive; the presets convert the columns they use.  A DataFrame is copied shallowly.

    Examples
    --------
    >>> read_export(pd.DataFrame({"a": [1]})).shape
    (1, 1)
    """
    if isinstance(source, pd.DataFrame):
        return source.copy(deep=False)
    path = Path(source)
    if not path.is_file():
        raise DataValidationError([f"file not found: {path}"], str(path))
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return pd.read_json(path, lines=True, dtype=False)
    if name.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    if name.endswith((".csv", ".tsv", ".txt")):
        sep = "\t" if name.endswith(".tsv") else ","
        if not csv_as_text:
            return pd.read_csv(path, sep=sep, low_memory=False)
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""])
    raise DataValidationError([f"unsupported file type for {path}; use .jsonl, .json, .csv or .parquet"], str(path))


def property_name(key: str, prefix: str = "prop_") -> str:
    """Column name of a nested property: lower case, other characters as ``_``.

    Examples
    --------
    >>> property_name("$current_url"), property_name("Plan Type"), property_name("geo.country", "")
    ('prop_current_url', 'prop_plan_type', 'geo_country')
    """
    return prefix + (re.sub(r"[^0-9a-z]+", "_", str(key).lower()).strip("_") or "value")


def _arrow_to_frame(table: pa.Table, index: pd.Index) -> pd.DataFrame:
    while any(pa.types.is_struct(t) for t in table.schema.types):
        table = table.flatten()
    columns = {}
    for name, column in zip(table.column_names, table.columns):
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            # Lists (e.g. items) are not breakdowns: keep them as JSON text, one Python call per value.
            columns[name] = [None if v is None else json.dumps(v, default=str) for v in column.to_pylist()]
        else:
            columns[name] = column.to_pandas()
    return pd.DataFrame(columns, index=index)


def _parse_json_objects(values: pd.Series, before: str = "", after: str = "") -> pa.Table | None:
    """JSON text objects (missing or blank = ``{}``) read by pyarrow's JSON reader in one call.

    The texts are joined into one newline-delimited buffer by Arrow kernels (no Python
    loop); ``before`` / ``after`` wrap each text (e.g. ``{"p":`` and ``}``).  Returns None
    when pyarrow refuses (a key changing type between rows), so the caller falls back.
    """
    try:
        text = pa.array(values, from_pandas=True).cast(pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    def const(value: str) -> pa.Scalar:
        return pa.scalar(value, pa.large_string())

    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(text), ""), True)
    text = pc.if_else(blank, const(before + ("[]" if before else "{}") + after),
                      pc.binary_join_element_wise(const(before), pc.replace_substring(text, "\n", " "), const(after), const("")))
    lines = pc.binary_join_element_wise(text, const(""), const("\n"))
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    data = lines.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0])) if len(lines) else pa.py_buffer(b"")
    try:
        table = pa_json.read_json(pa.BufferReader(data), read_options=pa_json.ReadOptions(block_size=1 << 20))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    return table if table.num_rows == len(values) else None


def flatten_properties(values: pd.Series) -> pd.DataFrame:
    """Nested properties (dicts or JSON text) as one column per key path (``"a.b"``), same index.

    Parameters
    ----------
    values : Series
        One object per row: a dict, a JSON object as text, or missing.

    Returns
    -------
    DataFrame
        Columns named by the raw key path (nested keys joined by ``.``);
        missing where a row lacks the key.  Rename with :func:`property_name`.

    Examples
    --------
    >>> flatten_properties(pd.Series(['{"plan": "pro", "device": {"os": "iOS"}}', None, '{"plan": "free"}'])).to_dict("list")
    {'plan': ['pro', nan, 'free'], 'device.os': ['iOS', nan, nan]}
    >>> flatten_properties(pd.Series([{"n": 1}, {"n": "x"}]))["n"].tolist()   # mixed types: the pandas path
    [1, 'x']
    """
    table = None
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        table = _parse_json_objects(values)
    else:
        objects = values.where(values.notna(), None)
        try:
            array = pa.array(objects.tolist())
            table = pa.Table.from_struct_array(array) if pa.types.is_struct(array.type) else None
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            table = None
    if table is not None:
        return _arrow_to_frame(table, values.index)
    records = [json.loads(v) if isinstance(v, str) and v.strip() else (v if isinstance(v, dict) else {}) for v in values]
    flat = pd.json_normalize(records, sep=".")
    flat.index = values.index
    return flat


def _key_value_rows(values: pd.Series) -> pd.DataFrame:
    """Long frame ``row, key, string_value, int_value, ...`` of key/value record lists."""
    positions = np.arange(len(values))
    lists = None
    try:
        if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
            table = _parse_json_objects(values, '{"p":', "}")
            lists = None if table is None or "p" not in table.column_names else table.column("p").combine_chunks()
        else:
            lists = pa.array(values.where(values.notna(), None).tolist())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        lists = None
    if lists is not None and pa.types.is_list(lists.type) and pa.types.is_struct(lists.type.value_type):
        flat = pc.list_flatten(lists)
        long = _arrow_to_frame(pa.Table.from_struct_array(flat), pd.RangeIndex(len(flat)))
        long["row"] = positions[pc.list_parent_indices(lists).to_numpy()] if len(flat) else positions[:0]
    elif lists is not None and pa.types.is_null(lists.type.value_type if pa.types.is_list(lists.type) else lists.type):
        long = pd.DataFrame({"row": positions[:0], "key": pd.Series([], dtype=object)})
    else:
        parsed = pd.Series([json.loads(v) if isinstance(v, str) else (v if isinstance(v, list) else []) for v in values])
        exploded = parsed.explode().dropna()
        long = pd.json_normalize(exploded.tolist(), sep=".")
        long["row"] = exploded.index.to_numpy()
    return long.rename(columns=lambda c: c.removeprefix("value."))


def _to_float(values: pd.Series) -> pd.Series:
    """Numbers, or numbers written as text (BigQuery writes INT64 as JSON text), as float64."""
    try:
        return pd.Series(pa.array(values, from_pandas=True).cast(pa.float64()).to_numpy(zero_copy_only=False), index=values.index)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return pd.to_numeric(values, errors="coerce").astype("float64")


def flatten_key_values(values: pd.Series) -> pd.DataFrame:
    """GA4-style key/value records (``[{key, value: {string_value, int_value, ...}}]``) as one column per key.

    A key whose values are all numbers becomes a numeric column, else text.

    Examples
    --------
    >>> params = pd.Series(['[{"key": "page_title", "value": {"string_value": "Home"}}, {"key": "ga_session_id", "value": {"int_value": "17"}}]',
    ...                     '[{"key": "value", "value": {"double_value": 9.5}}]'])
    >>> flatten_key_values(params).to_dict("list")
    {'ga_session_id': [17.0, nan], 'page_title': ['Home', nan], 'value': [nan, 9.5]}
    """
    long = _key_value_rows(values)
    if long.empty or "key" not in long.columns:
        return pd.DataFrame(index=values.index)
    number = pd.Series(np.nan, index=long.index)
    for name in ("int_value", "double_value", "float_value"):
        if name in long.columns:
            number = number.fillna(_to_float(long[name]))
    text = long["string_value"] if "string_value" in long.columns else pd.Series(np.nan, index=long.index, dtype=object)
    long = long.assign(number=number, text=text).dropna(subset=["key"]).drop_duplicates(["row", "key"], keep="first")
    columns = {}
    for key, rows in long.groupby("key", sort=True).groups.items():  # one pass per distinct key, not per row
        part = long.loc[rows]
        positions = part["row"].to_numpy()
        if part["text"].notna().any():
            shown = part["text"].astype(object).where(part["text"].notna(), part["number"].map(lambda x: f"{x:g}", na_action="ignore"))
            column = np.full(len(values), np.nan, dtype=object)
            column[positions] = shown.to_numpy(dtype=object)
        else:
            column = np.full(len(values), np.nan)
            column[positions] = part["number"].to_numpy(dtype=float)
        columns[key] = column
    wide = pd.DataFrame(columns, index=values.index)
    return wide.sort_index(axis=1)


# --------------------------------------------------------------------------- presets


@dataclass(frozen=True)
class Preset:
    """One export format: ``prepare(frame) -> (prepared frame, load_source options)``."""

    name: str
    title: str
    prepare: Callable[[pd.DataFrame], tuple[pd.DataFrame, dict]]
    expects: str  # the columns the export has, for error messages
    csv_as_text: bool = True  # read CSV columns as text (ids such as 1234.5678 survive)


def _missing_column(preset: str, wanted: list[str], frame: pd.DataFrame) -> DataValidationError:
    spec = PRESETS[preset]
    hint = next((closest(w, frame.columns) for w in wanted if closest(w, frame.columns) is not None), None)
    near = f" (closest column: {hint!r})" if hint is not None else f" (columns present: {', '.join(map(repr, list(frame.columns)[:12]))})"
    return DataValidationError(
        [f"preset {preset!r}: the export has no {' or '.join(repr(w) for w in wanted)} column{near}; "
         f"{spec.title} exports have {spec.expects}"],
        f"events (preset {preset!r})",
    )


def _pick(frame: pd.DataFrame, preset: str, *names: str, required: bool = True) -> str | None:
    found = next((n for n in names if n in frame.columns), None)
    if found is None and required:
        raise _missing_column(preset, list(names), frame)
    return found


def _blank_to_na(values: pd.Series) -> pd.Series:
    values = values.astype(object)
    return values.where(values.notna() & values.astype(str).str.strip().ne(""))


def _coalesce_ids(frame: pd.DataFrame, preset: str, primary: str, *fallbacks: str) -> pd.Series:
    """User ids: ``primary`` where present, else the ``primary`` id seen with the same fallback id, else the fallback.

    So a device that logs in on day 2 is one user from day 1 on (the device's
    rows before login take the user id seen on it), and a device that never
    logs in is its own user.
    """
    present = [n for n in (primary, *fallbacks) if n in frame.columns]
    if not present:
        raise _missing_column(preset, [primary, *fallbacks], frame)
    ids = _blank_to_na(frame[primary]) if primary in frame.columns else pd.Series(np.nan, index=frame.index, dtype=object)
    for name in fallbacks:
        if name not in frame.columns:
            continue
        device = _blank_to_na(frame[name])
        known = pd.DataFrame({"device": device, "user": ids}).dropna().drop_duplicates("device")
        ids = ids.fillna(device.map(known.set_index("device")["user"])).fillna(device)
    return ids.astype("string")


def _properties(frame: pd.DataFrame, column: str | None, prefix: str, rename: dict[str, str] | None = None) -> pd.DataFrame:
    """Flattened properties of ``column`` named ``prefix + key``; keys in ``rename`` get canonical names."""
    if column is None or column not in frame.columns:
        return pd.DataFrame(index=frame.index)
    flat = flatten_properties(frame[column])
    return _named(flat, prefix, rename)


def _named(flat: pd.DataFrame, prefix: str, rename: dict[str, str] | None = None) -> pd.DataFrame:
    rename = rename or {}
    names = [rename.get(key, property_name(key, prefix)) for key in flat.columns]
    seen: dict[str, int] = {}
    unique = []
    for name in names:  # a handful of keys, not rows
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return flat.set_axis(unique, axis=1)


def _assemble(base: dict[str, pd.Series], *parts: pd.DataFrame, keep: pd.DataFrame | None = None) -> pd.DataFrame:
    """Canonical columns first, then other top-level columns, then flattened properties (first wins)."""
    columns = dict(base)
    for part in ([keep] if keep is not None else []) + list(parts):
        for name in part.columns:
            if name not in columns and part[name].notna().any():
                columns[name] = part[name]
    return pd.DataFrame(columns)


def _timestamps(values: pd.Series, unit: str | None = None) -> pd.Series:
    if unit is None:
        parsed = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
    else:
        parsed = pd.to_datetime(pd.to_numeric(values, errors="coerce"), unit=unit, utc=True, errors="coerce")
    return parsed.astype("datetime64[ns, UTC]")


def _other_columns(frame: pd.DataFrame, used: set[str]) -> pd.DataFrame:
    """The export's other top-level columns, renamed; nested values flattened (``traits.plan`` → ``traits_plan``)."""
    parts = []
    for name in (c for c in frame.columns if c not in used):
        column = frame[name]
        nested = column.dtype == object and column.map(lambda v: isinstance(v, (dict, list))).any()
        if nested:
            parts.append(_named(flatten_properties(column.where(column.map(lambda v: isinstance(v, dict)))), property_name(name, "") + "_"))
        else:
            parts.append(column.rename(property_name(name, "")).to_frame())
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=frame.index)


def _ga4(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    event = _pick(frame, "ga4", "event_name")
    ts = _pick(frame, "ga4", "event_timestamp")
    nested = [c for c in ("device", "geo", "traffic_source", "ecommerce", "app_info", "privacy_info") if c in frame.columns]
    struct = pd.concat([_named(flatten_properties(frame[c]), f"{c}_") for c in nested], axis=1) if nested else pd.DataFrame(index=frame.index)
    top = pd.concat([_other_columns(frame, set(nested) | {"event_params", "user_properties", "items"}), struct], axis=1)
    params = _named(flatten_key_values(frame["event_params"]), "prop_") if "event_params" in frame.columns else pd.DataFrame(index=frame.index)
    user_props = _named(flatten_key_values(frame["user_properties"]), "user_prop_") if "user_properties" in frame.columns else pd.DataFrame(index=frame.index)
    users = _coalesce_ids(frame, "ga4", "user_id", "user_pseudo_id")
    base = {"user_id": users, "timestamp": _timestamps(frame[ts], "us"), "event": frame[event].astype("string")}
    if "prop_ga_session_id" in params.columns:
        session = params.pop("prop_ga_session_id")
        base["session_id"] = (users + ":" + session.map(lambda x: f"{x:.0f}", na_action="ignore").astype("string")).where(session.notna())
    if "platform" in top.columns:
        base["platform"] = top.pop("platform").str.lower()
    for target, source in (("country", "geo_country"), ("channel", "traffic_source_medium")):
        if source in top.columns:
            base[target] = top.pop(source)
    for source in ("prop_firebase_screen", "prop_page_title"):
        if source in params.columns:
            base["screen"] = params.pop(source)
            break
    for source in ("ecommerce_purchase_revenue", "event_value_in_usd"):
        if source in top.columns:
            base["revenue"] = pd.to_numeric(top.pop(source), errors="coerce")
            break
    top = top.drop(columns=[c for c in ("user_id", "user_pseudo_id", event, ts) if c in top.columns])
    return _assemble(base, params, user_props, keep=top), {}


def _amplitude(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    event = _pick(frame, "amplitude", "event_type")
    ts = _pick(frame, "amplitude", "event_time")
    users = _coalesce_ids(frame, "amplitude", "user_id", "device_id")
    base = {"user_id": users, "timestamp": _timestamps(frame[ts]), "event": frame[event].astype("string")}
    if "session_id" in frame.columns:
        session = pd.to_numeric(frame["session_id"], errors="coerce")
        base["session_id"] = (users + ":" + session.map(lambda x: f"{x:.0f}", na_action="ignore").astype("string")).where(session.gt(0))
    if "revenue" in frame.columns:
        base["revenue"] = pd.to_numeric(frame["revenue"], errors="coerce")
    keep = _other_columns(frame, {"event_properties", "user_properties", "user_id", "session_id", "revenue", event, ts})
    return _assemble(base, _properties(frame, "event_properties", "prop_"),
                     _properties(frame, "user_properties", "user_prop_"), keep=keep), {}


_MIXPANEL_CANONICAL = {"distinct_id": "user_id", "time": "timestamp", "$os": "platform",
                       "mp_country_code": "country", "$current_url": "screen"}


def _mixpanel(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    event = _pick(frame, "mixpanel", "event")
    if "properties" in frame.columns:
        props = flatten_properties(frame["properties"])
    else:
        props = frame[[c for c in frame.columns if c.startswith("properties.")]]
        props = props.set_axis([c.removeprefix("properties.") for c in props.columns], axis=1)
    props = props.assign(**{"$event": frame[event]})
    if "distinct_id" not in props.columns and "$device_id" not in props.columns:
        raise _missing_column("mixpanel", ["properties.distinct_id", "properties.$device_id"], frame)
    if "time" not in props.columns:
        raise _missing_column("mixpanel", ["properties.time"], frame)
    seconds = pd.to_numeric(props["time"], errors="coerce")
    base = {"user_id": _coalesce_ids(props, "mixpanel", "distinct_id", "$device_id"),
            "timestamp": _timestamps(props["time"], "ms" if seconds.median() > 1e11 else "s"),
            "event": frame[event].astype("string")}
    for key in ("$os", "mp_country_code", "$current_url"):
        if key in props.columns:
            base[_MIXPANEL_CANONICAL[key]] = props[key]
    rest = props.drop(columns=[c for c in ["$event", "distinct_id", "time", *_MIXPANEL_CANONICAL] if c in props.columns])
    return _assemble(base, _named(rest, "prop_")), {}


def _segment(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    event = _pick(frame, "segment", "event")
    ts = _pick(frame, "segment", "timestamp", "originalTimestamp")
    base = {"user_id": _coalesce_ids(frame, "segment", "userId", "user_id", "anonymousId", "anonymous_id"),
            "timestamp": _timestamps(frame[ts]), "event": frame[event].astype("string")}
    context = _properties(frame, "context", "context_")
    props = _properties(frame, "properties", "prop_", {"revenue": "revenue"})
    for target, source in (("platform", "context_os_name"), ("country", "context_location_country"), ("screen", "context_page_path")):
        if source in context.columns:
            base[target] = context.pop(source)
    if "revenue" in props.columns:
        base["revenue"] = pd.to_numeric(props.pop("revenue"), errors="coerce")
    keep = _other_columns(frame, {"context", "properties", "userId", "user_id", "anonymousId", "anonymous_id", event, ts})
    options = {"filters": [{"keep": "type == track"}]} if "type" in keep.columns else {}
    return _assemble(base, props, context, keep=keep), options


_POSTHOG_CANONICAL = {"$os": "platform", "$geoip_country_code": "country", "$session_id": "session_id",
                      "$pathname": "screen", "$screen_name": "screen"}


def _posthog(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    event = _pick(frame, "posthog", "event")
    ts = _pick(frame, "posthog", "timestamp")
    base = {"user_id": _coalesce_ids(frame, "posthog", "distinct_id"), "timestamp": _timestamps(frame[ts]),
            "event": frame[event].astype("string")}
    props = flatten_properties(frame["properties"]) if "properties" in frame.columns else pd.DataFrame(index=frame.index)
    for key, target in _POSTHOG_CANONICAL.items():
        if key in props.columns and target not in base:
            base[target] = props.pop(key)
    keep = _other_columns(frame, {"properties", "distinct_id", event, ts})
    return _assemble(base, _named(props, "prop_"), keep=keep), {}


_TRANSACTION_COLUMNS = {
    "user_id": ("CustomerID", "Customer ID", "customer_id", "CustomerId", "customer"),
    "timestamp": ("InvoiceDate", "invoice_date", "order_date", "OrderDate", "timestamp", "date"),
    "order_id": ("InvoiceNo", "Invoice", "invoice", "invoice_no", "order_id", "OrderID"),
    "quantity": ("Quantity", "quantity", "qty"),
    "price": ("UnitPrice", "Price", "unit_price", "price"),
}


def _quoted(name: str) -> str:
    return f"`{name}`"


def _transactions(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    found = {role: _pick(frame, "transactions", *names) for role, names in _TRANSACTION_COLUMNS.items()}
    column_map = {found["user_id"]: "user_id", found["timestamp"]: "timestamp", found["order_id"]: "order_id"}
    country = _pick(frame, "transactions", "Country", "country", required=False)
    if country is not None and country != "country":
        column_map[country] = "country"
    options = {
        "column_map": column_map,
        "event": "purchase",
        "event_rules": {"refund": f"{_quoted(found['order_id'])} startswith C"},
        "revenue": f"{_quoted(found['quantity'])} * {_quoted(found['price'])}",
        "filters": [{"drop": f"{_quoted(found['user_id'])} is missing"}],
        "id_columns": [found["order_id"]],
    }
    return frame, options


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset("ga4", "GA4 BigQuery", _ga4, "event_name, event_timestamp (µs), user_pseudo_id / user_id, event_params"),
        Preset("amplitude", "Amplitude", _amplitude, "event_type, user_id / device_id, event_time, event_properties"),
        Preset("mixpanel", "Mixpanel", _mixpanel, "event, properties.distinct_id, properties.time (s), other properties.*"),
        Preset("segment", "Segment track", _segment, "userId / anonymousId, event, timestamp, properties, context"),
        Preset("posthog", "PostHog", _posthog, "distinct_id, event, timestamp, properties"),
        Preset("transactions", "Transactions (invoice lines)", _transactions,
               "a customer id, an invoice date, an invoice number, a quantity and a unit price (e.g. CustomerID, InvoiceDate, InvoiceNo, Quantity, UnitPrice)",
               csv_as_text=False),
    )
}
"""Preset name → :class:`Preset`."""


def _merge_options(preset: dict, user: dict) -> dict:
    merged = {**preset, **user}
    merged["column_map"] = {**preset.get("column_map", {}), **user.get("column_map", {})}
    merged["filters"] = list(preset.get("filters", [])) + list(user.get("filters") or [])
    merged["id_columns"] = list(dict.fromkeys(list(preset.get("id_columns", [])) + list(user.get("id_columns") or [])))
    if "event_rules" in preset or "event_rules" in user:
        merged["event_rules"] = {**(user.get("event_rules") or {}), **preset.get("event_rules", {})}
    return {k: v for k, v in merged.items() if v not in ({}, [])}


def load_export(source, preset: str, **options) -> pd.DataFrame:
    """Load a vendor export with a preset, as the canonical events frame.

    Parameters
    ----------
    source : path or DataFrame
        The export (JSON lines, CSV or Parquet; see :func:`read_export`).
    preset : str
        One of :data:`PRESETS` (``ga4``, ``amplitude``, ``mixpanel``,
        ``segment``, ``posthog``, ``transactions``).
    **options
        Further :func:`~engagement_utils.sources.load_source` options, applied
        after the preset's own (``filters`` are appended, ``column_map`` and
        ``event_rules`` merged).

    Returns
    -------
    DataFrame
        The canonical events frame; its load report names the file and the preset.

    Raises
    ------
    ValueError
        An unknown preset (shared option format, closest name).
    DataValidationError
        A column the preset needs is missing (naming the column and the
        preset), or anything :func:`~engagement_utils.io.load_events` rejects.

    Examples
    --------
    >>> raw = pd.DataFrame({"event_type": ["open", "buy"], "user_id": ["u1", None], "device_id": ["d1", "d2"],
    ...                     "event_time": ["2024-01-01 10:00:00.000000", "2024-01-01 11:00:00.000000"],
    ...                     "event_properties": ['{"plan": "pro"}', '{}']})
    >>> ev = load_export(raw, "amplitude")
    >>> ev["user_id"].tolist(), ev["event"].tolist(), ev["prop_plan"].tolist()
    (['d2', 'u1'], ['buy', 'open'], [nan, 'pro'])
    >>> load_export(raw, "amplitud")
    Traceback (most recent call last):
    ...
    ValueError: The 'preset' parameter must be one of {'ga4', 'amplitude', 'mixpanel', 'segment', 'posthog', 'transactions'}; got 'amplitud' — did you mean 'amplitude'?
    """
    check_option("preset", preset, tuple(PRESETS))
    frame = read_export(source, csv_as_text=PRESETS[preset].csv_as_text)
    prepared, preset_options = PRESETS[preset].prepare(frame)
    events = sources.load_source(prepared, **_merge_options(preset_options, options))
    where = "DataFrame" if isinstance(source, pd.DataFrame) else os.fspath(source)
    events.attrs["load_report"] = {**events.attrs["load_report"], "source": f"{where} (preset {preset!r})"}
    return events
