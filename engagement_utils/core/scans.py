"""Aggregations that scale with the number of events: the seam for another engine.

Each function takes an :class:`~engagement_utils.core.EventLog` and returns a
small result (distinct keys, first rows, per-group sums) from which the
analyses compute everything else.  An engine other than numpy replaces these
functions and nothing above them.  Session summaries, funnel reach times and
per-arm sufficient statistics join them as their analyses move onto the core.
"""

from __future__ import annotations

import numpy as np

from .._arrays import distinct, is_sorted_by

__all__ = ["KEY_SPAN", "ENGINES", "engine_of", "event_source", "pack_keys", "unpack_keys", "activity_keys", "first_per_key"]

ENGINES = ("memory", "ibis")


def engine_of(events) -> str:
    """Which engine runs the scans of ``events``: ``"ibis"`` for an engine source, else ``"memory"``.

    The one dispatch point between engines.  A frame or an :class:`~engagement_utils.core.EventLog`
    is scanned here with numpy (``"memory"``, the reference); an
    :class:`engagement_utils.engines.IbisEvents` (DuckDB on Parquet, Spark, a warehouse table)
    declares ``engine = "ibis"`` and an analysis handed one delegates to the function of the
    same name in :mod:`engagement_utils.engines.analyses`, which runs the scans as Ibis
    expressions and finishes with the same Python.

    Examples
    --------
    >>> import pandas as pd
    >>> engine_of(pd.DataFrame())
    'memory'
    """
    engine = getattr(events, "engine", "memory")
    return engine if engine in ENGINES else "memory"


def event_source(events, tz: str = "UTC"):
    """What a notebook hands its analyses: an :class:`~engagement_utils.core.EventLog` in ``tz``, or the engine source.

    A frame (or a log) becomes an ``EventLog`` in ``tz`` (the same object when it already is
    one); an :class:`engagement_utils.engines.IbisEvents` stays in its engine, set to ``tz``.
    The analyses that dispatch through :func:`engine_of` take either, so one notebook cell
    serves both engines: ``log = event_source(ds.events, tz=tz)``.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"user_id": ["a"], "event": ["x"], "timestamp": pd.to_datetime(["2024-01-01"], utc=True)})
    >>> log = event_source(ev, tz="Europe/Berlin")
    >>> type(log).__name__, log.tz, event_source(log, tz="Europe/Berlin") is log
    ('EventLog', 'Europe/Berlin', True)
    """
    if engine_of(events) == "ibis":
        return events.with_tz(tz)
    from .eventlog import EventLog

    return EventLog.of(events, tz)


KEY_SPAN = np.int64(2**32)
"""User code and a period / offset are packed into one int64 key: ``code * KEY_SPAN + offset + 2**31``."""
_KEY_SHIFT = np.int64(2**31)


def pack_keys(code: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """One sortable int64 key per (user code, period or offset) pair (offsets may be negative).

    Examples
    --------
    >>> k = pack_keys(np.array([0, 0, 1]), np.array([-1, 5, 0]))
    >>> bool(np.all(np.diff(k) > 0))
    True
    """
    keys = np.asarray(code, dtype=np.int64) * KEY_SPAN  # a new array: the rest is added in place (one 8-byte column, not three)
    keys += offset
    keys += _KEY_SHIFT
    return keys


def unpack_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of :func:`pack_keys`: ``(code, offset)``."""
    keys = np.asarray(keys, dtype=np.int64)
    return keys // KEY_SPAN, keys % KEY_SPAN - _KEY_SHIFT


def activity_keys(log, period: str, mask: np.ndarray | None = None) -> np.ndarray:
    """Distinct, sorted (user, period) activity keys of the (masked) events (:func:`pack_keys`).

    The scan behind retention, active users and lifecycle: one key per user and
    calendar period in which the user did at least one masked event.

    Examples
    --------
    >>> import pandas as pd
    >>> from engagement_utils.core import EventLog
    >>> log = EventLog(pd.DataFrame({"user_id": ["a", "a", "a"], "event": ["x"] * 3,
    ...     "timestamp": pd.to_datetime(["2024-01-01 08:00", "2024-01-01 12:00", "2024-01-03 09:00"], utc=True)}))
    >>> unpack_keys(activity_keys(log, "day"))[1].tolist()
    [19723, 19725]
    """
    code, ordinal = log.user_code, log.ordinal(period)
    if mask is not None and not mask.all():
        code, ordinal = code[mask], ordinal[mask]
    return distinct(pack_keys(code, ordinal))


def first_per_key(key: np.ndarray, ns: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Positions (into ``rows``, or 0..n-1) of the earliest event per distinct key.

    ``key`` and ``ns`` hold one value per candidate row; ties in time keep the
    first row, so the result never depends on a sort's stability.
    """
    rows = np.arange(len(key)) if rows is None else rows
    order = None if is_sorted_by(key, ns) else np.lexsort((ns, key))
    ordered = key if order is None else key[order]
    first = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(ordered) else np.zeros(0, np.int64)
    return rows[first if order is None else order[first]]
