"""The event-log core: canonical events and the arrays every analysis derives from them.

An :class:`EventLog` is built once from a canonical events frame (see
``io.load_events``) and shared by every analysis of a notebook.  It owns the
derived arrays that each analysis used to rebuild for itself — integer user
codes, UTC nanoseconds, calendar-period ordinals per period in the report
timezone, event masks and segment labels — computing each on first use and
keeping it.  Analysis functions accept either a frame or an ``EventLog``
(:meth:`EventLog.of`), so notebooks that pass frames keep working.

The few aggregations whose cost grows with the number of events are
functions of an ``EventLog`` in :mod:`engagement_utils.core.scans`; they are
the one seam where another engine can take over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from .. import periods
from .._arrays import dense_codes, order_by
from ..validation import as_event_list, closest

__all__ = ["EventLog", "Segment", "MISSING_SEGMENT", "REQUIRED_COLUMNS", "segment_labels", "sorted_labels", "as_utc"]

MISSING_SEGMENT = "(missing)"
"""Label of a missing segment value, in every breakdown of every analysis."""

REQUIRED_COLUMNS = ("user_id", "timestamp", "event")


def segment_labels(values: pd.Series | np.ndarray) -> np.ndarray:
    """Segment labels as objects, missing values labelled :data:`MISSING_SEGMENT`.

    Values keep their type (``True``, ``3``, ``"ios"``), so a breakdown can be
    selected by the value it was made from.

    Examples
    --------
    >>> segment_labels(pd.Series(["ios", None, "web"])).tolist()
    ['ios', '(missing)', 'web']
    >>> segment_labels(pd.Series([2, 0])).tolist()
    [2, 0]
    """
    values = pd.Series(values)
    return values.astype(object).where(values.notna(), MISSING_SEGMENT).to_numpy()


def _label_key(label) -> tuple:
    """Sort key of segment labels: numbers numerically, then text, the missing label last."""
    if isinstance(label, str) and label == MISSING_SEGMENT:
        return (2, 0, "")
    if isinstance(label, (bool, np.bool_, int, float, np.integer, np.floating)):
        return (0, float(label), "")
    return (1, 0, str(label))


def sorted_labels(labels) -> list:
    """Distinct segment labels in report order (numbers numerically, then text, ``"(missing)"`` last).

    Examples
    --------
    >>> sorted_labels(["web", MISSING_SEGMENT, 10, 2, "ios"])
    [2, 10, 'ios', 'web', '(missing)']
    """
    return sorted(dict.fromkeys(labels), key=_label_key)


def as_utc(value, name: str = "end") -> pd.Timestamp:
    """A date or timestamp parameter as a UTC timestamp (naive values are read as UTC).

    Examples
    --------
    >>> as_utc("2024-04-01")
    Timestamp('2024-04-01 00:00:00+0000', tz='UTC')
    """
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The {name!r} parameter must be a date or timestamp such as '2024-04-01'; got {value!r}") from exc
    if ts is pd.NaT:
        raise ValueError(f"The {name!r} parameter must be a date or timestamp such as '2024-04-01'; got {value!r}")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _utc_ns(timestamps: pd.Series) -> np.ndarray:
    ts = pd.Series(timestamps)
    if isinstance(ts.dtype, pd.DatetimeTZDtype) and ts.dtype.unit == "ns":
        # Aware timestamps are stored as UTC nanoseconds: a read-only view, not three copies.
        ns = ts.array.asi8.view()
        ns.flags.writeable = False
        return ns
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts.to_numpy(dtype="datetime64[ns]").astype(np.int64)


@dataclass(frozen=True)
class Segment:
    """A breakdown column as integer codes per event and its sorted labels."""

    column: str
    codes: np.ndarray  # per event, index into labels
    labels: pd.Index  # labels in report order (sorted_labels), MISSING_SEGMENT last when present


class EventLog:
    """Canonical events plus their derived arrays, computed once and shared.

    Parameters
    ----------
    events : DataFrame
        Canonical events: ``user_id``, ``timestamp``, ``event`` and optional
        properties (``io.load_events`` produces them). Never modified.
    tz : str, default "UTC"
        Report timezone in which calendar periods are cut.

    Attributes
    ----------
    frame : DataFrame
        The events, as given.
    users : Index
        User id of each user code (sorted for categorical ids, as ``io.load_events`` makes them).
    user_code : ndarray of int64
        Per event, the user's code (position in ``users``).
    ns : ndarray of int64
        Per event, the timestamp in UTC nanoseconds.

    Examples
    --------
    >>> events = pd.DataFrame({"user_id": ["b", "a", "a"], "event": ["open", "open", "buy"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 23:30", "2024-01-01 10:00", "2024-01-02 09:00"], utc=True)})
    >>> log = EventLog(events, tz="Europe/Berlin")
    >>> log.users.tolist(), log.user_code.tolist()
    (['a', 'b'], [1, 0, 0])
    >>> log.ordinal("day").tolist()  # 23:30 UTC is already Jan 2 in Berlin
    [19724, 19723, 19724]
    >>> log.event_mask("buy", "conversion_events").tolist()
    [False, False, True]
    """

    def __init__(self, events: pd.DataFrame, *, tz: str = "UTC"):
        self._check_frame(events)
        self.frame = events
        self.tz = tz
        user = events["user_id"]
        if isinstance(user.dtype, pd.CategoricalDtype):
            code = user.cat.codes.to_numpy().astype(np.int64)
            users = pd.Index(user.cat.categories)
        else:
            code, uniques = pd.factorize(user, sort=True)
            users = pd.Index(uniques)
        if (code < 0).any():
            raise ValueError(f"column 'user_id' has {int((code < 0).sum())} missing id(s); drop or fill those rows")
        self.user_code = np.asarray(code, dtype=np.int64)
        self.users = users
        self.ns = _utc_ns(events["timestamp"])
        self._ordinals: dict[str, np.ndarray] = {}
        self._segments: dict[str, Segment] = {}
        self._order: np.ndarray | None = None
        self._identity: bool | None = None  # whether time_order() is the identity

    @classmethod
    def of(cls, events: "pd.DataFrame | EventLog", tz: str = "UTC") -> "EventLog":
        """``events`` as an ``EventLog`` in ``tz``: the same object when it already is one in that zone.

        A log built for another timezone shares its frame but not its period ordinals.
        """
        if isinstance(events, EventLog):
            if events.tz == tz:
                return events
            other = object.__new__(cls)
            other.__dict__.update(events.__dict__)
            other.tz, other._ordinals = tz, {}
            return other
        return cls(events, tz=tz)

    @staticmethod
    def _check_frame(events) -> None:
        if getattr(events, "engine", None) == "ibis":
            raise TypeError(
                "this analysis runs in memory only: it was handed events on an engine (events.engine: ibis in the "
                "data-set description). Notebooks 00 and 01 run on the engine; for the others use engine: memory, "
                "or call the functions of engagement_utils.engines.analyses"
            )
        if not isinstance(events, pd.DataFrame):
            raise TypeError(f"events must be a pandas DataFrame (load it with io.load_events), got {type(events).__name__}")
        missing = [c for c in REQUIRED_COLUMNS if c not in events.columns]
        if missing:
            raise ValueError(
                f"events have no column(s) {missing}; load the log with io.load_events "
                f"(its column_map renames yours). Columns present: {list(events.columns)}"
            )
        if not pd.api.types.is_datetime64_any_dtype(events["timestamp"]):
            raise ValueError(f"column 'timestamp' holds {events['timestamp'].dtype}, not datetimes; load the events with io.load_events")
        if events.empty:
            raise ValueError("events are empty: there is nothing to measure")

    # ------------------------------------------------------------------ sizes and bounds

    def __len__(self) -> int:
        return len(self.ns)

    @property
    def n_users(self) -> int:
        """Number of user codes (users with at least one event)."""
        return len(self.users)

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def has_column(self, column: str) -> bool:
        """True when the events carry ``column`` with at least one value."""
        return column in self.frame.columns and bool(self.frame[column].notna().any())

    # ------------------------------------------------------------------ derived arrays

    def ordinal(self, period: str) -> np.ndarray:
        """Per event, the calendar-period ordinal (day / Monday-week / month) in the log's timezone."""
        periods.check_period(period)
        if period not in self._ordinals:
            self._ordinals[period] = np.asarray(periods.period_ordinal(self.frame["timestamp"], period, self.tz), dtype=np.int64)
        return self._ordinals[period]

    def time_order(self) -> np.ndarray:
        """Row positions ordered by user, then time (the identity on canonical frames)."""
        if self._order is None:
            self._order = order_by(self.user_code, self.ns)
        return self._order

    @property
    def time_ordered(self) -> bool:
        """Whether the rows are already in user, then time order (a canonical frame)."""
        if self._identity is None:
            order = self.time_order()
            self._identity = bool(np.array_equal(order, np.arange(len(order))))
        return self._identity

    def in_time_order(self, values: np.ndarray) -> np.ndarray:
        """Per-event ``values`` in :meth:`time_order`: the array itself (no copy) when the frame is canonical."""
        return values if self.time_ordered else values[self.time_order()]

    def event_mask(self, names: str | Iterable[str] | None, parameter: str) -> np.ndarray:
        """Rows whose event is one of ``names`` (every row when None).

        An event name that does not occur is an error naming ``parameter`` and the events present.
        """
        listed = as_event_list(names, parameter)
        if listed is None:
            return np.ones(len(self), dtype=bool)
        event = self.frame["event"]
        present = set(event.cat.categories if isinstance(event.dtype, pd.CategoricalDtype) else event.unique())
        present = {str(p) for p in present}
        unknown = [n for n in listed if n not in present]
        if unknown:
            hint = closest(unknown[0], present)
            shown = ", ".join(map(repr, sorted(present)[:20]))
            suggestion = f" — did you mean {hint!r}?" if hint is not None else ""
            raise ValueError(
                f"The {parameter!r} parameter names event(s) {unknown} that do not occur in column 'event'{suggestion} "
                f"Events present: {shown}"
            )
        if isinstance(event.dtype, pd.CategoricalDtype):
            # The matching categories' codes compared with the rows' codes (-1, missing, matches none).
            wanted = np.flatnonzero(event.cat.categories.astype(str).isin(listed))
            codes = event.cat.codes.to_numpy()
            if len(wanted) == 0:
                return np.zeros(len(codes), dtype=bool)
            if len(wanted) <= 8:
                mask = codes == wanted[0]
                for code in wanted[1:]:
                    mask |= codes == code
                return mask
            return np.isin(codes, wanted)
        return event.isin(listed).to_numpy()

    def check_column(self, column: str, parameter: str = "segment") -> None:
        """Raise a ``ValueError`` naming ``parameter`` unless ``column`` exists and has values."""
        if column not in self.frame.columns:
            hint = closest(column, self.frame.columns)
            suggestion = f" — did you mean {hint!r}?" if hint is not None else ""
            raise ValueError(
                f"The {parameter!r} parameter names column {column!r}, which the events do not have{suggestion} "
                f"Columns present: {list(self.frame.columns)}"
            )
        if not self.frame[column].notna().any():
            raise ValueError(f"The {parameter!r} column {column!r} has no values in the events; choose another column or fill it")

    def segment(self, column: str, parameter: str = "segment") -> Segment:
        """The breakdown column ``column`` as codes and sorted labels (missing values: :data:`MISSING_SEGMENT`)."""
        if column not in self._segments:
            self.check_column(column, parameter)
            values = self.frame[column]
            if isinstance(values.dtype, pd.CategoricalDtype):
                # label the categories, not the rows: one string per distinct value
                raw = values.cat.codes.to_numpy().astype(np.int64)
                names = np.r_[segment_labels(values.cat.categories), [MISSING_SEGMENT]]
                raw = np.where(raw < 0, len(names) - 1, raw)
                used, raw = dense_codes(raw)
                names = names[used]
            else:
                raw, names = pd.factorize(pd.Series(segment_labels(values)))
                names = np.asarray(names, dtype=object)
            order = np.asarray(sorted(range(len(names)), key=lambda i: _label_key(names[i])), dtype=np.int64)
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            codes, labels = rank[np.asarray(raw).ravel()], names[order]
            self._segments[column] = Segment(column, np.asarray(codes, dtype=np.int64), pd.Index(labels, name="segment"))
        return self._segments[column]

    def first_rows(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Row position of each user's earliest (masked) event, in user-code order."""
        order = self.time_order()
        if mask is not None:
            order = order[mask[order]]
        codes = self.user_code[order]
        return order[np.r_[True, codes[1:] != codes[:-1]]] if len(order) else order

    # ------------------------------------------------------------------ the data end

    def data_end(self, end=None) -> tuple[pd.Timestamp, int]:
        """The data end and its exclusive bound in UTC ns: ``end`` when given, else the last event.

        With no explicit end the last event is observed, so the exclusive bound is one
        nanosecond after it.
        """
        if end is None:
            last = int(self.ns.max())
            return pd.Timestamp(last, tz="UTC"), last + 1
        ts = as_utc(end, "end")
        return ts, int(ts.value)
