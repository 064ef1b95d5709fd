"""Per-user features: recency, frequency, monetary value and behaviour, from the event-log core."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from .. import periods
from ..core import EventLog, as_utc
from .._arrays import is_sorted_by, order_by
from ..core.engagement_scans import session_starts
from ..core.scans import activity_keys, pack_keys, unpack_keys
from ..sessions import CONVERSION_EVENTS, VIEW_EVENTS, parse_duration, sessionize
from ..validation import as_event_list, check_option

__all__ = ["SESSION_FEATURES", "SESSION_MODES", "UserFeatures", "user_features", "omitted_features", "feature_table", "as_log",
           "conversion_mask", "order_columns"]

DAY = pd.Timedelta(days=1)
SESSION_FEATURES = ("sessions", "mean_session_s", "events_per_session", "bounce_rate")
SESSION_MODES = ("auto", True, False)


@dataclass(frozen=True)
class UserFeatures:
    """Result of :func:`user_features`: the per-user table and what it stands for.

    Attributes
    ----------
    table : DataFrame
        One row per user (index ``user_id``, sorted), one column per feature.
    end : Timestamp
        The data end (exclusive, UTC) that recency and tenure are measured to.
    window : Timedelta or None
        Length of the feature window ending at ``end`` (None: all history).
    omitted : dict
        Features left out, each with the reason (e.g. no ``revenue`` column).
    conversion_events : tuple of str
        Events counted as orders / conversions.
    """

    table: pd.DataFrame
    end: pd.Timestamp
    window: pd.Timedelta | None = None
    omitted: dict[str, str] = field(default_factory=dict)
    conversion_events: tuple[str, ...] = CONVERSION_EVENTS

    def __len__(self) -> int:
        return len(self.table)

    @property
    def columns(self) -> pd.Index:
        return self.table.columns


def as_log(events: "pd.DataFrame | EventLog", tz: str | None = None) -> EventLog:
    """``events`` as an :class:`EventLog`: a log keeps its own timezone unless ``tz`` names another.

    A frame is read in ``tz`` (UTC when None).
    """
    if isinstance(events, EventLog) and tz is None:
        return events
    return EventLog.of(events, tz or "UTC")


def conversion_mask(log: EventLog, conversion_events: str | Iterable[str] | None) -> tuple[tuple[str, ...], np.ndarray]:
    """The conversion events and the rows holding one.

    Events named explicitly must occur in the data (a typo is an error naming
    ``conversion_events``); the default (None: ``sessions.CONVERSION_EVENTS``,
    i.e. ``purchase``) may be absent, and then nobody converted.  An empty
    list means the data set has no conversion events: ``()`` and no row.
    """
    if isinstance(conversion_events, (list, tuple)) and len(conversion_events) == 0:
        return (), np.zeros(len(log), dtype=bool)
    if conversion_events is not None:
        listed = tuple(as_event_list(conversion_events, "conversion_events"))
        return listed, log.event_mask(listed, "conversion_events")
    present = [e for e in CONVERSION_EVENTS if e in _present_events(log.frame)]
    mask = log.event_mask(present, "conversion_events") if present else np.zeros(len(log), dtype=bool)
    return tuple(CONVERSION_EVENTS), mask


def feature_table(features: "UserFeatures | pd.DataFrame") -> pd.DataFrame:
    """The per-user frame of a :class:`UserFeatures` (a frame is returned as is)."""
    if isinstance(features, UserFeatures):
        return features.table
    if isinstance(features, pd.DataFrame):
        return features
    raise TypeError(f"features must be the result of user_features or a DataFrame, got {type(features).__name__}")


def omitted_features(features: "UserFeatures | pd.DataFrame") -> dict[str, str]:
    """Features :func:`user_features` left out, with the reason (empty for a plain frame).

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": [1], "event": ["purchase"], "timestamp": pd.to_datetime(["2024-01-01"], utc=True)})
    >>> sorted(omitted_features(user_features(ev)))
    ['aov', 'bounce_rate', 'channels_reached', 'events_per_session', 'main_platform', 'mean_session_s', 'revenue', 'sessions']
    """
    return dict(features.omitted) if isinstance(features, UserFeatures) else {}


def _present_events(frame: pd.DataFrame) -> set[str]:
    event = frame["event"]
    values = event.cat.categories if isinstance(event.dtype, pd.CategoricalDtype) else event.unique()
    return {str(v) for v in values}


def _per_user_distinct(code: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per user code, the number of distinct non-negative ``values`` (integer codes)."""
    ok = values >= 0
    if not ok.any():
        return np.zeros(n, dtype=np.int64)
    keys = pd.unique(pack_keys(code[ok], values[ok]))
    return np.bincount(unpack_keys(keys)[0], minlength=n)


_MAIN_VALUE_PASSES = 16  # categories counted one pass each; more are counted from (user, value) keys


def _main_value(values: pd.Series, codes: np.ndarray, n: int) -> pd.Categorical:
    """Most frequent non-missing category per user (first category on ties), "unknown" if none."""
    cat = values.astype("category") if not isinstance(values.dtype, pd.CategoricalDtype) else values
    vcodes = cat.cat.codes.to_numpy()
    k = len(cat.cat.categories)
    width = max(k, 1)
    if width <= _MAIN_VALUE_PASSES:
        # one pass per category (a platform has a handful): no per-event key array (80 MB at 10M events)
        counts = np.zeros((n, width), dtype=np.int64)
        for j in range(k):
            counts[:, j] = np.bincount(codes[vcodes == j], minlength=n)
    else:
        ok = vcodes >= 0
        key = np.multiply(codes[ok], width, dtype=np.int64)
        key += vcodes[ok]
        counts = np.bincount(key, minlength=n * width).reshape(n, width)
        del key
    labels = cat.cat.categories.astype(str).tolist() + ["unknown"]
    names = list(dict.fromkeys(labels))  # a category literally named "unknown" is merged
    best = np.where(counts.sum(axis=1) > 0, counts.argmax(axis=1), k)
    return pd.Categorical.from_codes(np.array([names.index(label) for label in labels])[best], categories=names)


def _session_columns(log: EventLog, rows: np.ndarray | slice, timeout, n: int) -> dict[str, np.ndarray]:
    """The session features of the events at ``rows``, one value per user code.

    The sessions of :func:`~engagement_utils.sessions.sessionize` (same boundaries, durations, event
    counts and one-event bounces, summed per user in session order) from the log's arrays: no copy
    of the events and no session table, which set the peak memory of ``user_features``.
    """
    frame = log.frame
    code, ns = log.user_code[rows], log.ns[rows]
    if len(code) == 0:  # sessionize says what is wrong with an empty window
        columns = [c for c in ("user_id", "timestamp", "event", "session_id") if c in frame.columns]
        sessionize(frame[columns].iloc[rows], timeout=timeout)
    order = None if is_sorted_by(code, ns) else order_by(code, ns)
    if order is not None:
        code, ns = code[order], ns[order]
    given = None
    if "session_id" in frame.columns:  # kept, as sessionize keeps it (renumbered per user and session)
        labels = frame["session_id"].iloc[rows]
        given = pd.factorize(labels if order is None else labels.iloc[order])[0]
    first = np.flatnonzero(session_starts(code, ns, parse_duration(timeout, "timeout").value, None, given))
    last = np.r_[first[1:], len(code)] - 1
    scodes = code[first]
    n_events = last - first + 1
    # Durations exactly as session_table computes them: the frame's timestamps (its unit), end - start.
    def frame_position(i: np.ndarray) -> np.ndarray:  # of the i-th ordered event (no position array per event)
        j = i if order is None else order[i]
        return j if isinstance(rows, slice) else rows[j]

    ts = frame["timestamp"].array
    duration_s = np.asarray((ts.take(frame_position(last)) - ts.take(frame_position(first))).total_seconds(), dtype=float)
    del code, ns, given, last, order
    n_sessions = np.bincount(scodes, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "sessions": n_sessions,
            "mean_session_s": np.bincount(scodes, weights=duration_s, minlength=n) / n_sessions,
            "events_per_session": np.bincount(scodes, weights=n_events, minlength=n) / n_sessions,
            "bounce_rate": np.bincount(scodes, weights=(n_events == 1).astype(float), minlength=n) / n_sessions,
        }


def order_columns(out: pd.DataFrame, orders: np.ndarray, revenue: np.ndarray | None, conversion: tuple,
                  omitted: dict[str, str]) -> pd.DataFrame:
    """``out`` with ``orders``, ``revenue``, ``aov`` and ``converted`` (None revenue: no revenue column; no
    ``conversion`` events: no order columns), the reasons added to ``omitted``; shared by both engines.

    Examples
    --------
    >>> order_columns(pd.DataFrame(index=["a", "b"]), np.array([2, 0]), np.array([10.0, 0.0]), ("purchase",), {})["aov"].tolist()
    [5.0, nan]
    """
    out["orders"] = orders
    if revenue is not None:
        out["revenue"] = revenue
        with np.errstate(invalid="ignore", divide="ignore"):
            # arrays, not out["revenue"]: numpy asking a Series for its array attributes makes pandas
            # build a hash table of the user index (1M ids: 1M Python strings)
            out["aov"] = np.where(orders > 0, np.asarray(revenue, dtype=float) / np.maximum(orders, 1), np.nan)
    else:
        omitted.update(dict.fromkeys(("revenue", "aov"), "the events have no 'revenue' column"))
    out["converted"] = orders > 0
    if not conversion:
        out = out.drop(columns=[c for c in ("orders", "aov", "converted") if c in out.columns])
        omitted.update(dict.fromkeys(("orders", "converted"), "no conversion events are set (conversion_events)"))
    return out


def user_features(
    events: "pd.DataFrame | EventLog",
    *,
    end=None,
    window=None,
    tz: str | None = None,
    conversion_events: str | Iterable[str] | None = None,
    order_column: str = "order_id",
    session_features="auto",
    timeout="30min",
    count_events: Mapping[str, str | Iterable[str]] | None = None,
) -> UserFeatures:
    """One row per user describing recency, frequency, monetary value and behaviour.

    Users are everyone with an event before ``end``.  Recency and tenure look
    at all history before ``end``; every other feature counts only the
    events inside the window ``[end - window, end)`` (all history when
    ``window`` is None), so a user inactive in the window has zero activity.

    Columns of ``table``
    --------------------
    recency_days, tenure_days
        Whole days from the user's last / first event to ``end``: ``floor((end - last) / 1 day)``.
    active_days, events
        Distinct calendar days (in ``tz``) with an event; number of events.
    active_day_share
        ``active_days`` / calendar days the user could have been active in the
        window (from the later of first event and window start to ``end``).
    sessions, mean_session_s, events_per_session, bounce_rate
        From :func:`engagement_utils.sessions.sessionize` (duration = last −
        first event; bounce = one-event session).  Only for logs with browsing
        events (see ``session_features``); otherwise left out and reported.
    orders
        Distinct ``order_column`` values among conversion events when the
        column exists (a conversion without an order id counts as one order),
        else the number of conversion events.
    revenue, aov
        Sum of ``revenue`` (0 for users who bought nothing) and revenue per
        order (NaN with no orders: undefined, not zero).  Left out without a ``revenue`` column.
    converted
        Any conversion event in the window.
    channels_reached
        Distinct ``channel`` values in the window (only when events have ``channel``).
    main_platform
        Most frequent ``platform`` (ties: first in category order); ``"unknown"`` when none.
    <custom>
        One count per entry of ``count_events`` (left out, with the reason, when
        none of its events occur in the data).

    Parameters
    ----------
    events : DataFrame, EventLog or engine source
        Canonical events (``user_id``, ``timestamp``, ``event``; optional
        ``revenue``, ``platform``, ``channel``, ``session_id``, ``order_column``).  An
        :class:`engagement_utils.engines.IbisEvents` computes the table in the engine
        (:func:`engagement_utils.engines.analyses.user_features`; sessions by ``timeout`` there).
    end : str or Timestamp, optional
        The data end (exclusive; naive values are UTC).  Default: the last
        event + 1 day, the usual RFM convention, so the most recent user has recency 0.
    window : str or Timedelta, optional
        Length of the feature window ending at ``end`` (e.g. ``"90D"``).
    tz : str, optional
        Timezone in which calendar days are counted (default: the log's, UTC for a frame).
    conversion_events : str or list of str, optional
        Events that are orders / conversions; each one named must occur in the
        data.  Default: ``("purchase",)``, and nobody converted when the log has none;
        an empty list (a data set without conversion events): no orders, conversion or basket features.
    order_column : str
        Column identifying an order (e.g. an invoice number) when one order spans several rows.
    session_features : {"auto", True, False}
        "auto" computes them when the events can be sessionized: the log has a
        ``session_id`` column or browsing events (any event that is neither a
        conversion nor carries revenue); a transactions log gets none.
    timeout : str or Timedelta
        Session timeout passed to ``sessionize``.
    count_events : mapping, optional
        Custom features: ``{"searches": "search", "cart_adds": ["add_to_cart"]}``.

    Returns
    -------
    UserFeatures
        ``table`` (indexed by ``user_id``), ``end``, ``window``, ``omitted``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "a", "b"],
    ...     "event": ["app_open", "purchase", "app_open", "app_open"],
    ...     "revenue": [None, 20.0, None, None],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:05",
    ...                                  "2024-01-03 09:00", "2024-01-02 12:00"], utc=True)})
    >>> f = user_features(ev, end="2024-01-04")
    >>> f.table[["recency_days", "tenure_days", "active_days", "sessions", "orders", "revenue"]].to_dict("index")
    {'a': {'recency_days': 0, 'tenure_days': 2, 'active_days': 2, 'sessions': 2, 'orders': 1, 'revenue': 20.0}, 'b': {'recency_days': 1, 'tenure_days': 1, 'active_days': 1, 'sessions': 1, 'orders': 0, 'revenue': 0.0}}
    """
    from ..core import engine_of

    if engine_of(events) == "ibis":  # the per-user aggregates in the engine: the same table
        from ..engines.analyses import user_features as on_engine

        return on_engine(events, end=end, window=window, tz=tz, conversion_events=conversion_events, order_column=order_column,
                         session_features=session_features, timeout=timeout, count_events=count_events)
    log = as_log(events, tz)
    tz = log.tz
    check_option("session_features", session_features, SESSION_MODES)
    conversion, conversion_rows = conversion_mask(log, conversion_events)
    frame, ns, code, n = log.frame, log.ns, log.user_code, log.n_users
    end_ts = pd.Timestamp(int(ns.max()), tz="UTC") + DAY if end is None else as_utc(end, "end")
    end_ns = end_ts.value
    before = ns < end_ns
    if not before.any():
        raise ValueError(f"no events before end={end_ts}; the events start at {pd.Timestamp(int(ns.min()), tz='UTC')}")
    window_td = None if window is None else parse_duration(window, "window")
    start_ns = np.iinfo(np.int64).min if window_td is None else end_ns - window_td.value
    in_window = before & (ns >= start_ns) if window_td is not None else before
    everything = bool(in_window.all())
    rows = slice(None) if everything else np.flatnonzero(in_window)  # a slice keeps the arrays views
    wcode = code[rows]

    # First and last event before end, per user (users without one are dropped below).
    bcode, bns = (code, ns) if everything else (code[before], ns[before])
    seen = np.bincount(bcode, minlength=n) > 0
    first_ns = np.full(n, end_ns, dtype=np.int64)
    last_ns = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first_ns, bcode, bns)
    np.maximum.at(last_ns, bcode, bns)
    last_ns[~seen] = end_ns
    del bcode, bns

    omitted: dict[str, str] = {}
    present = _present_events(frame)
    # Browsing: any event that is neither a conversion nor carries revenue (a clickstream, not a transactions log).
    browsing = ~conversion_rows[rows]
    if "revenue" in frame.columns:
        browsing &= np.isnan(frame["revenue"].to_numpy(dtype=float)[rows])
    has_views = bool(present & set(VIEW_EVENTS)) or "session_id" in frame.columns or bool(browsing.any())
    del browsing
    session_columns = {}
    if session_features is True or (session_features == "auto" and has_views):
        # before the day ordinals below exist (80 MB at 10M events): the session arrays set the peak
        session_columns = _session_columns(log, rows, timeout, n)
    else:
        reason = ("turned off (session_features=False)" if session_features is False else
                  "the events have no browsing events (only conversions and events with revenue) or session_id: "
                  "sessions of a purchase-only log would only restate orders")
        omitted.update(dict.fromkeys(SESSION_FEATURES, reason))

    main_platform = None
    if "platform" in frame.columns:  # also before the day ordinals exist
        platform, pcode = (frame["platform"], code) if everything else (frame["platform"].iloc[np.flatnonzero(before)], code[before])
        main_platform = _main_value(platform, pcode, n)
        del platform, pcode

    out = pd.DataFrame(index=pd.Index(log.users, name="user_id"))
    out["recency_days"] = (end_ns - last_ns) // DAY.value
    out["tenure_days"] = (end_ns - first_ns) // DAY.value
    out["active_days"] = np.bincount(unpack_keys(activity_keys(log, "day", in_window))[0], minlength=n)
    out["events"] = np.bincount(wcode, minlength=n)
    # Days the user could have been active: from their first day (or the window start) to end's day.
    last_day = periods.period_ordinal(pd.Series([end_ts - pd.Timedelta(1, "ns")]), "day", tz)[0]
    eligible_from = pd.Series(np.maximum(first_ns, start_ns).view("M8[ns]")).dt.tz_localize("UTC")
    out["active_day_share"] = out["active_days"] / (last_day - periods.period_ordinal(eligible_from, "day", tz) + 1)

    for name, values in session_columns.items():
        out[name] = values

    is_order = conversion_rows[rows]
    if order_column in frame.columns:
        order_code = pd.factorize(frame[order_column].to_numpy()[rows][is_order])[0]
        # A conversion without an order id is an order of its own.
        orders = _per_user_distinct(wcode[is_order], order_code, n) + np.bincount(wcode[is_order][order_code < 0], minlength=n)
    else:
        orders = np.bincount(wcode[is_order], minlength=n)
    revenue = None
    if "revenue" in frame.columns:
        # summed from the rows that carry revenue (NaN and 0 add nothing), in row order: the same
        # sums as adding every row, without a float copy of every event
        amount = frame["revenue"].to_numpy(dtype=float)[rows]
        paid = np.flatnonzero(amount > 0)
        revenue = np.bincount(wcode[paid], weights=amount[paid], minlength=n)
        del amount, paid
    out = order_columns(out, orders, revenue, conversion, omitted)
    if "channel" in frame.columns:
        out["channels_reached"] = _per_user_distinct(wcode, pd.factorize(frame["channel"])[0][rows], n)
    else:
        omitted["channels_reached"] = "the events have no 'channel' column"
    if main_platform is not None:
        out["main_platform"] = main_platform
    else:
        omitted["main_platform"] = "the events have no 'platform' column"
    for name, names in (count_events or {}).items():
        if name in out.columns:
            raise ValueError(f"count_events name {name!r} clashes with a built-in feature; choose another name")
        listed = as_event_list(names, f"count_events[{name!r}]")
        if not set(listed) & present:
            omitted[name] = f"no {', '.join(map(repr, listed))} event in the data"
            continue
        mask = log.event_mask([e for e in listed if e in present], "count_events")[rows]
        out[name] = np.bincount(wcode[mask], minlength=n)
    table = out.loc[seen] if not seen.all() else out
    return UserFeatures(table=table, end=end_ts, window=window_td, omitted=omitted, conversion_events=conversion)
