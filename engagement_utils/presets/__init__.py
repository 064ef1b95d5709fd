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

Flattening and its measured speed: :mod:`engagement_utils.presets.flatten`.
"""

from __future__ import annotations

import os

import pandas as pd

from .. import sources
from ..io import DataValidationError
from ..validation import check_option
from .flatten import flatten_key_values, flatten_properties, name_columns, property_name, read_export
from .vendors import PRESETS, Preset

__all__ = ["PRESETS", "Preset", "load_export", "read_export", "flatten_properties", "flatten_key_values",
           "property_name", "name_columns"]


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
    where = "DataFrame" if isinstance(source, pd.DataFrame) else os.fspath(source)
    frame = read_export(source, csv_as_text=PRESETS[preset].csv_as_text)
    try:
        prepared, preset_options = PRESETS[preset].prepare(frame)
        events = sources.load_source(prepared, **_merge_options(preset_options, options))
    except DataValidationError as exc:  # name the file and the preset, not the prepared frame
        raise DataValidationError(exc.problems, f"events ({where}, preset {preset!r})") from exc
    events.attrs["load_report"] = {**events.attrs["load_report"], "source": f"{where} (preset {preset!r})"}
    return events
