"""The export presets: one ``prepare`` function per vendor format (see :mod:`engagement_utils.presets`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ..io import DataValidationError
from ..validation import closest
from .flatten import flatten_key_values, flatten_properties, name_columns, property_name

__all__ = ["Preset", "PRESETS"]


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
    return name_columns(flat, prefix, rename)


def _assemble(base: dict[str, pd.Series], *parts: pd.DataFrame, keep: pd.DataFrame | None = None) -> pd.DataFrame:
    """Canonical columns first, then other top-level columns, then flattened properties (first wins)."""
    columns = dict(base)
    for part in ([keep] if keep is not None else []) + list(parts):
        for name in part.columns:
            if name not in columns and part[name].notna().any():
                columns[name] = part[name]
    return pd.DataFrame(columns)


def _timestamps(values: pd.Series, unit: str | None = None) -> pd.Series:
    """Epoch numbers in ``unit`` as UTC datetimes; text is left to ``load_events`` (which names bad values)."""
    if unit is None:
        return values
    numbers = pd.to_numeric(values, errors="coerce")
    parsed = pd.to_datetime(numbers, unit=unit, utc=True, errors="coerce").astype("datetime64[ns, UTC]")
    return parsed.astype(object).where(numbers.notna(), values) if numbers.isna().any() else parsed


def _other_columns(frame: pd.DataFrame, used: set[str]) -> pd.DataFrame:
    """The export's other top-level columns, renamed; nested values flattened (``traits.plan`` → ``traits_plan``)."""
    parts = []
    for name in (c for c in frame.columns if c not in used):
        column = frame[name]
        nested = pd.api.types.infer_dtype(column, skipna=True) == "mixed" and column.map(lambda v: isinstance(v, (dict, list))).any()
        if nested:
            parts.append(name_columns(flatten_properties(column.where(column.map(lambda v: isinstance(v, dict)))), property_name(name, "") + "_"))
        else:
            parts.append(column.rename(property_name(name, "")).to_frame())
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=frame.index)


def _session_ids(users: pd.Series, session: pd.Series) -> pd.Series:
    """``user:session`` text (sessions are numbered per device or user), missing where the session is."""
    number = pd.array(pd.to_numeric(session, errors="coerce").round(), dtype="Int64").astype("string")
    return (users + ":" + pd.Series(number, index=users.index)).where(session.notna())


def _ga4(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    event = _pick(frame, "ga4", "event_name")
    ts = _pick(frame, "ga4", "event_timestamp")
    nested = [c for c in ("device", "geo", "traffic_source", "ecommerce", "app_info", "privacy_info") if c in frame.columns]
    struct = pd.concat([name_columns(flatten_properties(frame[c]), f"{c}_") for c in nested], axis=1) if nested else pd.DataFrame(index=frame.index)
    top = pd.concat([_other_columns(frame, set(nested) | {"event_params", "user_properties", "items"}), struct], axis=1)
    params = name_columns(flatten_key_values(frame["event_params"]), "prop_") if "event_params" in frame.columns else pd.DataFrame(index=frame.index)
    user_props = name_columns(flatten_key_values(frame["user_properties"]), "user_prop_") if "user_properties" in frame.columns else pd.DataFrame(index=frame.index)
    users = _coalesce_ids(frame, "ga4", "user_id", "user_pseudo_id")
    base = {"user_id": users, "timestamp": _timestamps(frame[ts], "us"), "event": frame[event].astype("string")}
    if "prop_ga_session_id" in params.columns:
        session = params.pop("prop_ga_session_id")
        base["session_id"] = _session_ids(users, session)
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
        base["session_id"] = _session_ids(users, session.where(session.gt(0)))
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
    return _assemble(base, name_columns(rest, "prop_")), {}


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
    return _assemble(base, name_columns(props, "prop_"), keep=keep), {}


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
