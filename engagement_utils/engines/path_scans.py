"""Paths, screen flow, checkout loops and the proposed funnel with the event scans on an engine.

Each public function mirrors the in-memory function of the same name
(:func:`engagement_utils.funnels.top_paths`, :func:`~engagement_utils.funnels.transitions`,
:func:`~engagement_utils.funnels.exit_rates`, :func:`~engagement_utils.funnels.checkout_loops`,
:func:`engagement_utils.engagement_report.paths_by_segment`,
:func:`engagement_utils.data_profile.propose_funnel`) and returns the same frame.  The engine
numbers sessions with window functions (a gap strictly longer than ``timeout`` starts one,
or a change of a given ``session_id``, as :func:`engagement_utils.sessions.assign_sessions`),
reads the ``length`` items from each anchor with ``lead`` / ``lag`` over the session (one
column per step, so no string aggregation and no order to trust), and returns counts per
distinct item tuple, pair or session group.  Python then numbers the items as the in-memory
code does (sorted labels) and finishes with the same numpy: equal rows, equal ties, equal order.

Events with equal timestamps keep their :data:`~.connect.SEQ_COLUMN` order; time comparisons
are interval arithmetic on UTC instants (never ``epoch_seconds``).
"""

from __future__ import annotations

from typing import Sequence

import ibis
import numpy as np
import pandas as pd
from ibis import _

from .. import periods
from ..funnels import anchor_codes, loop_rates
from ..stats import wilson_ci
from ..validation import as_event_list
from .connect import SEQ_COLUMN, IbisEvents
from .ibis_scans import execute, interval, segment_value
from .timezones import period_ordinal, utc_instant

__all__ = ["session_rows", "path_counts", "top_paths", "transitions", "exit_rates", "checkout_loops", "paths_by_segment",
           "propose_funnel"]

ENTRY, EXIT = "(entry)", "(exit)"
_EMPTY_PATHS = {"path": object, "steps": np.int64, "sessions": np.int64, "share": float}


def _order(t) -> list:
    return [t._ts, t[SEQ_COLUMN]] if SEQ_COLUMN in t.columns else [t._ts]


def session_rows(t, timeout, *, partition: Sequence[str] = ()):
    """The rows of ``t`` with ``_ts`` (UTC instant), ``_session`` (per user, from 0) and ``_rn`` (row in the session, from 0).

    A session starts at a user's first row (per ``partition`` value too), after a gap strictly
    longer than ``timeout``, or, when the events carry ``session_id``, where it changes
    (as the in-memory :func:`engagement_utils.sessions.assign_sessions`).

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a"] * 3, "event": ["x"] * 3,
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:30", "2024-01-01 11:01"], utc=True)})
    >>> rows = session_rows(from_frame(ev).table, "30min")
    >>> rows.order_by(rows.event_seq).to_pandas()["_session"].tolist()  # 30 min gap: same session; 31 min: new one
    [0, 0, 1]
    """
    t = t.mutate(_ts=utc_instant(t.timestamp))
    user = [*partition, "user_id"]
    w = ibis.window(group_by=user, order_by=_order(t))
    first = ibis.row_number().over(w) == 0
    if "session_id" in t.columns:  # the data's own sessions (missing values are one label, as pd.factorize's -1)
        new = first | ~t.session_id.identical_to(t.session_id.lag().over(w))
    else:
        new = first | (t._ts > t._ts.lag().over(w) + interval(timeout))
    t = t.mutate(_new=new.cast("int64"))
    t = t.mutate(_session=t._new.sum().over(ibis.window(group_by=user, order_by=_order(t), preceding=None, following=0)) - 1)
    return t.mutate(_rn=ibis.row_number().over(_session_window(t, partition)))


def _session_window(t, partition: Sequence[str] = ()):
    return ibis.window(group_by=[*partition, "user_id", "_session"], order_by=_order(t))


def _so_far(t, partition: Sequence[str] = ()):
    """The session's rows up to and including the current one."""
    return ibis.window(group_by=[*partition, "user_id", "_session"], order_by=_order(t), preceding=None, following=0)


def _item_table(src: IbisEvents, column: str, table=None):
    """The events with ``_item``: ``column`` as text, missing values "(missing)" (as ``core.segment_labels``)."""
    t = src.table if table is None else table
    if column not in t.columns:
        src.check_column(column, "column")
    return t.mutate(_item=segment_value(t, column))


def _items(t, timeout, collapse_repeats: bool, *, partition: Sequence[str] = ()):
    """Session rows of :func:`_item_table`'s events; consecutive repeats of an item collapsed on request."""
    rows = session_rows(t, timeout, partition=partition)
    if collapse_repeats:
        # the previous item as a column first: a window inside a filter is not valid SQL on Spark
        rows = rows.mutate(_previous=rows._item.lag().over(_session_window(rows, partition)))
        rows = rows.filter((rows._rn == 0) | (rows._item != rows._previous)).drop("_previous")
        rows = rows.mutate(_rn=ibis.row_number().over(_session_window(rows, partition)))
    return rows


def _labels(t, keys: Sequence[str] = ()) -> pd.DataFrame:
    """The distinct items (per ``keys``): what the in-memory code numbers in sorted order (no session scan)."""
    return execute(t.select(*keys, "_item").distinct())


def path_counts(rows, from_events=None, to_events=None, length: int = 4, *, keys: Sequence[str] = ()):
    """Sessions per distinct tuple of ``length`` items read from each session's anchor (an Ibis expression).

    Forward (``from_events``, or no anchor: the session start): ``_s0`` is the anchor and ``_s{k}``
    the item ``k`` rows later (null past the session's end); backward (``to_events`` only):
    ``_s{length-1}`` is the anchor and ``_s{k}`` the item ``length-1-k`` rows earlier.
    Columns ``keys``, ``_s0 .. _s{length-1}``, ``sessions``.

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["open", "buy", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:01", "2024-01-01 10:00"], utc=True)})
    >>> rows = session_rows(_item_table(from_frame(ev), "event"), "30min")
    >>> path_counts(rows, "open", length=2).order_by("_s1").to_pandas().values.tolist()  # nan: past the session end
    [['open', 'buy', 1], ['open', nan, 1]]
    """
    w = _session_window(rows, keys)
    forward = from_events is not None or to_events is None
    anchor_names = from_events if forward else to_events
    if anchor_names is None:
        steps = {f"_s{k}": rows._item.lead(k).over(w) if k else rows._item for k in range(length)}
        anchored = rows.mutate(**steps).filter(_._rn == 0)
    else:
        hit = rows._item.isin(as_event_list(anchor_names, "from_events" if forward else "to_events"))
        seen = hit.cast("int64").sum().over(_so_far(rows, keys))
        if forward:
            steps = {f"_s{k}": rows._item.lead(k).over(w) if k else rows._item for k in range(length)}
        else:
            steps = {f"_s{k}": rows._item.lag(length - 1 - k).over(w) if k < length - 1 else rows._item for k in range(length)}
        anchored = rows.mutate(_hit=hit, _seen=seen, **steps).filter(_._hit & (_._seen == 1))
    group = [*keys, *(f"_s{k}" for k in range(length))]
    return anchored.group_by(group).aggregate(sessions=_.count())


def _paths_table(counts: pd.DataFrame, labels: list[str], length: int, top: int, *, forward: bool,
                 to_codes: np.ndarray | None) -> pd.DataFrame:
    """``funnels.top_paths``' table from the engine's item tuples: the in-memory code matrix, weighted."""
    marker = len(labels)
    index = pd.Index(labels)
    steps = [f"_s{k}" for k in range(length)]
    if len(counts):
        codes = np.column_stack([index.get_indexer(counts[s].to_numpy(dtype=object)) for s in steps]).astype(np.int64)
    else:
        codes = np.zeros((0, length), dtype=np.int64)
    absent = np.column_stack([counts[s].isna().to_numpy() for s in steps]) if len(counts) else codes < -1
    weight = counts["sessions"].to_numpy(np.int64) if len(counts) else np.zeros(0, np.int64)
    matrix = np.where(absent, -1, codes)
    if forward:  # the first slot past the session's last event marks the exit
        edge = absent & (np.cumsum(absent, axis=1) == 1)
    else:  # the slot just before the session's first event marks the entry
        edge = absent & (np.cumsum(absent[:, ::-1], axis=1)[:, ::-1] == 1)
    matrix[edge] = marker
    if to_codes is not None:
        is_end = np.isin(matrix, to_codes)
        after_end = np.cumsum(np.cumsum(is_end, axis=1) > 0, axis=1) > 1
        matrix = np.where(after_end, -1, matrix)
        keep = is_end.any(axis=1)
        matrix, weight = matrix[keep], weight[keep]
    n_anchored = int(weight.sum())
    if n_anchored == 0:
        return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in _EMPTY_PATHS.items()})
    rows, inverse = np.unique(matrix, axis=0, return_inverse=True)
    sessions = np.bincount(inverse.ravel(), weights=weight, minlength=len(rows)).astype(np.int64)
    names = np.array(labels + [EXIT if forward else ENTRY], dtype=object)
    paths = [" → ".join(names[r[r >= 0]]) for r in rows]  # one per distinct path: a small table
    out = pd.DataFrame({"path": paths, "steps": (rows >= 0).sum(axis=1) - (rows == marker).sum(axis=1),
                        "sessions": sessions, "share": sessions / n_anchored})
    return out.sort_values(["sessions", "path"], ascending=[False, True], kind="stable").head(top).reset_index(drop=True)


def _check_lengths(length: int, top: int) -> None:
    if length < 1 or top < 1:
        raise ValueError(f"length and top must be at least 1, got length={length}, top={top}")


def _anchor_codes(labels: list[str], from_events, to_events, column: str):
    """Validate the anchors as the in-memory code does (from, then to) and return the end codes (or None)."""
    if from_events is not None:
        anchor_codes(labels, from_events, "from_events", column)
    return anchor_codes(labels, to_events, "to_events", column) if to_events is not None else None


def top_paths(src: IbisEvents, from_events=None, to_events=None, length: int = 4, top: int = 20, *, column: str = "event",
              timeout="30min", collapse_repeats: bool = False) -> pd.DataFrame:
    """:func:`engagement_utils.funnels.top_paths` with the sessions and item tuples counted in the engine.

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "b", "c"], "event": ["open", "buy", "open", "buy", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:01", "2024-01-01 10:00",
    ...                                  "2024-01-01 10:05", "2024-01-01 09:00"], utc=True)})
    >>> top_paths(from_frame(ev), from_events="open", length=2)[["path", "sessions", "share"]].values.tolist()
    [['open → buy', 2, 0.6666666666666666], ['open → (exit)', 1, 0.3333333333333333]]
    """
    _check_lengths(length, top)
    t = _item_table(src, column)
    labels = sorted(_labels(t)["_item"].astype(str))
    rows = _items(t, timeout, collapse_repeats)
    to_codes = _anchor_codes(labels, from_events, to_events, column)
    forward = from_events is not None or to_events is None
    counts = execute(path_counts(rows, from_events, to_events, length))
    return _paths_table(counts, labels, length, top, forward=forward, to_codes=to_codes if forward else None)


def paths_by_segment(src: IbisEvents, segment: str, from_events, *, length: int = 4, top: int = 5, timeout="30min",
                     min_group_size: int = 10) -> pd.DataFrame:
    """:func:`engagement_utils.engagement_report.paths_by_segment` in one engine pass over (segment, user) sessions.

    As in memory, each segment value's events are sessionized on their own (a user who switches
    value starts a session there).

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["checkout", "buy", "checkout"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:01", "2024-01-01 10:00"], utc=True),
    ...     "platform": ["ios", "ios", "web"]})
    >>> paths_by_segment(from_frame(ev), "platform", "checkout", min_group_size=1)[["segment", "path", "share"]].values.tolist()
    [['ios', 'checkout → buy → (exit)', 1.0], ['web', 'checkout → (exit)', 1.0]]
    """
    src.check_column(segment, "segment")
    t = src.table.mutate(_segment=segment_value(src.table, segment))
    users = execute(t.group_by("_segment").aggregate(users=_.user_id.nunique()))
    users = users.set_index(users["_segment"].astype(str))["users"]
    columns = ["segment", "users", "path", "steps", "sessions", "share"]
    kept = sorted(users.index[users >= min_group_size])
    if not kept:
        return pd.DataFrame(columns=columns)
    t = _item_table(src, "event", t.filter(t._segment.isin(kept)))
    present = _labels(t, ["_segment"])
    rows = _items(t, timeout, False, partition=["_segment"])
    counts = execute(path_counts(rows, from_events, None, length, keys=["_segment"]))
    parts = []
    for value in kept:  # a handful of segment values
        labels = sorted(present.loc[present["_segment"] == value, "_item"].astype(str))
        _anchor_codes(labels, from_events, None, "event")
        paths = _paths_table(counts[counts["_segment"] == value], labels, length, top, forward=True, to_codes=None)
        if len(paths):
            parts.append(paths.assign(segment=value, users=int(users[value])))
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def transitions(src: IbisEvents, *, column: str = "event", timeout="30min", collapse_repeats: bool = False) -> pd.DataFrame:
    """:func:`engagement_utils.funnels.transitions` from the engine's pair counts (entry: null source, exit: null target).

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a"], "event": ["home", "product"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:01"], utc=True)})
    >>> transitions(from_frame(ev))[["source", "target", "transitions", "share"]].values.tolist()
    [['(entry)', 'home', 1, 1.0], ['home', 'product', 1, 1.0], ['product', '(exit)', 1, 1.0]]
    """
    rows = _items(_item_table(src, column), timeout, collapse_repeats)
    rows = rows.mutate(_next=rows._item.lead().over(_session_window(rows)))
    null = ibis.null().cast("string")
    pairs = ibis.union(rows.select(source=rows._item, target=rows._next),
                       rows.filter(rows._rn == 0).select(source=null, target=rows._item), distinct=False)
    counts = execute(pairs.group_by(["source", "target"]).aggregate(transitions=_.count()))
    labels = sorted(set(counts["source"].dropna().astype(str)) | set(counts["target"].dropna().astype(str)))
    n = len(labels)
    index = pd.Index(labels)
    source = np.where(counts["source"].isna(), n, index.get_indexer(counts["source"].to_numpy(dtype=object)))
    target = np.where(counts["target"].isna(), n + 1, index.get_indexer(counts["target"].to_numpy(dtype=object)))
    code = source.astype(np.int64) * (n + 2) + target
    order = np.argsort(code, kind="stable")
    names = np.array(labels + [ENTRY, EXIT], dtype=object)
    out = pd.DataFrame({"source": names[code[order] // (n + 2)], "target": names[code[order] % (n + 2)],
                        "transitions": counts["transitions"].to_numpy(np.int64)[order]})
    out["share"] = out["transitions"] / out.groupby("source")["transitions"].transform("sum")
    rank = {ENTRY: -1}
    out = out.assign(_order=out["source"].map(lambda s: rank.get(s, 0)))
    return out.sort_values(["_order", "source", "transitions", "target"], ascending=[True, True, False, True],
                           kind="stable").drop(columns="_order").reset_index(drop=True)


def exit_rates(src: IbisEvents, *, column: str = "event", timeout="30min", alpha: float = 0.05) -> pd.DataFrame:
    """:func:`engagement_utils.funnels.exit_rates` from occurrences and session-final rows counted in the engine.

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["home", "product", "home"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:01", "2024-01-01 10:00"], utc=True)})
    >>> exit_rates(from_frame(ev))[["item", "occurrences", "exits", "exit_rate"]].values.tolist()
    [['product', 1, 1, 1.0], ['home', 2, 1, 0.5]]
    """
    rows = _items(_item_table(src, column), timeout, False)
    last = rows._item.lead().over(_session_window(rows)).isnull()
    counts = execute(rows.mutate(_last=last.cast("int64")).group_by("_item").aggregate(
        occurrences=_.count(), exits=_._last.sum()))
    counts = counts.set_index(counts["_item"].astype(str)).sort_index()
    out = pd.DataFrame({"item": counts.index.tolist(), "occurrences": counts["occurrences"].to_numpy(np.int64),
                        "exits": counts["exits"].to_numpy(np.int64)})
    out["exit_rate"] = out["exits"] / out["occurrences"]
    out["ci_low"], out["ci_high"] = wilson_ci(out["exits"], out["occurrences"], alpha)
    return out.sort_values(["exit_rate", "item"], ascending=[False, True], kind="stable").reset_index(drop=True)


def checkout_loops(src: IbisEvents, checkout_events, cart_events, *, segment: str | None = None, period: str = "month",
                   timeout="30min", alpha: float = 0.05) -> pd.DataFrame:
    """:func:`engagement_utils.funnels.checkout_loops` from sessions per (segment,) period counted in the engine.

    Per session row, "checkout seen so far" and "cart after a checkout seen so far" are running
    maxima over the session (rows up to and including the current one, as the in-memory code).

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a"] * 4 + ["b"] * 2,
    ...     "event": ["shipping", "cart", "shipping", "pay", "shipping", "pay"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:01", "2024-01-01 10:02", "2024-01-01 10:03",
    ...                                  "2024-01-02 10:00", "2024-01-02 10:01"], utc=True)})
    >>> checkout_loops(from_frame(ev), "shipping", "cart")[["checkout_sessions", "loop_sessions", "loop_rate"]].values.tolist()
    [[2.0, 1.0, 0.5]]
    """
    from .overview import typed_labels

    period = periods.check_period(period)
    t = src.table
    if segment:
        src.check_column(segment, "segment")
        t = t.mutate(_segment=segment_value(t, segment))
    rows = session_rows(t, timeout)
    name = rows.event.cast("string")
    rows = rows.mutate(_checkout=name.isin(as_event_list(checkout_events, "checkout_events")).cast("int64"),
                       _cart=name.isin(as_event_list(cart_events, "cart_events")).cast("int64"))
    rows = rows.mutate(_back=rows._cart * rows._checkout.max().over(_so_far(rows)))
    rows = rows.mutate(_loop=rows._checkout * rows._back.max().over(_so_far(rows)))
    aggs = dict(start=rows._ts.min(), reached=rows._checkout.max(), looped=rows._loop.max())
    if segment:
        aggs["segment"] = ibis.ifelse(rows._rn == 0, rows._segment, None).max()
    sessions = rows.group_by(["user_id", "_session"]).aggregate(**aggs).filter(_.reached == 1)
    keys = ["segment", "ordinal"] if segment else ["ordinal"]
    sessions = sessions.mutate(ordinal=period_ordinal(sessions.start, period, src.tz, src.backend))
    counts = execute(sessions.group_by(keys).aggregate(checkout_sessions=_.count(), loop_sessions=_.looped.sum()))
    if segment:
        counts["segment"] = typed_labels(src, segment, counts["segment"].astype(object)).to_numpy(dtype=object)
        if not len(counts) and src.table.schema()[segment].is_string():  # as pandas types the in-memory text labels
            counts["segment"] = counts["segment"].astype("str")
    counts = counts.astype({"ordinal": np.int64, "checkout_sessions": np.int64, "loop_sessions": np.int64})
    return loop_rates(counts.groupby(keys, sort=True)[["checkout_sessions", "loop_sessions"]].sum(), period, alpha)


def _after(t, reached):
    """Events of the users in ``reached`` later than their reached event (later in time, or tied and later in order)."""
    j = t.join(reached, t.user_id == reached.r_user)
    later = j._ts > j.r_ts
    if SEQ_COLUMN in t.columns:
        later = later | ((j._ts == j.r_ts) & (j[SEQ_COLUMN] > j.r_seq))
    return j.filter(later)


def _first_per_user(t):
    """Each user's earliest row of ``t`` (time, then :data:`SEQ_COLUMN`) as ``r_user, r_ts, r_seq``."""
    t = t.mutate(_first=ibis.row_number().over(ibis.window(group_by="user_id", order_by=_order(t))))
    t = t.filter(t._first == 0)
    seq = t[SEQ_COLUMN] if SEQ_COLUMN in t.columns else ibis.literal(0)
    return t.select(r_user=t.user_id, r_ts=t._ts, r_seq=seq)


def propose_funnel(src: IbisEvents, max_steps: int = 4, *, from_events=None, to_events=None):
    """:func:`engagement_utils.data_profile.propose_funnel` with the greedy step counts in the engine.

    Per step one grouped count comes back (users per candidate event reached after the
    previous step's match); the choice, its tie rule (more users, then the candidate with
    more users overall, then the name) and the table are the in-memory code's.

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": list("aaabbbccdd"),
    ...                    "event": ["home", "view", "buy", "home", "view", "view", "home", "buy", "home", "view"],
    ...                    "timestamp": pd.to_datetime([1, 2, 3, 1, 2, 3, 1, 2, 1, 2], unit="D", utc=True)})
    >>> f = propose_funnel(from_frame(ev), max_steps=3)
    >>> f.steps, f.table["users"].tolist()
    (['home', 'view', 'buy'], [4, 3, 1])
    """
    from ..data_profile import MAX_CANDIDATES, ProposedFunnel
    from ..validation import check_positive_int

    max_steps = check_positive_int(max_steps, "max_steps", minimum=2)
    t = src.table.mutate(_ts=utc_instant(src.table.timestamp), event=src.table.event.cast("string"))
    per_event = execute(t.group_by("event").aggregate(users=_.user_id.nunique()))
    per_event = per_event.set_index(per_event["event"].astype(str)).sort_index()
    names = pd.Index(per_event.index)
    users_per_event = per_event["users"].to_numpy(np.int64)
    wanted = [name for group in (from_events, to_events) for name in (as_event_list(group, "events") or [])]
    candidates = list(np.argsort(-users_per_event, kind="stable")[:MAX_CANDIDATES])
    candidates += [names.get_loc(w) for w in wanted if w in names and names.get_loc(w) not in candidates]
    local = {names[c]: i for i, c in enumerate(candidates)}  # event name -> candidate number (its tie rank)
    firsts = t.mutate(_first=ibis.row_number().over(ibis.window(group_by="user_id", order_by=_order(t))))
    t = t.filter(t.event.isin(list(local)))  # every user's first event counts, candidates only are steps
    first_counts = execute(firsts.filter(firsts._first == 0).group_by("event").aggregate(users=_.count()))
    starts = dict(zip(first_counts["event"].astype(str).map(local), first_counts["users"].astype(int)))
    allowed = [local[w] for w in (as_event_list(from_events, "from_events") or []) if w in names]
    options = allowed or list(range(len(candidates)))
    start = max(options, key=lambda c: (starts.get(c, 0), -c))
    event_of = {i: names[c] for i, c in enumerate(candidates)}
    reached = _first_per_user(t.filter(t.event == event_of[start]))
    steps, sizes = [start], [int(reached.count().to_pandas())]
    final = [local[w] for w in (as_event_list(to_events, "to_events") or []) if w in names]
    while len(steps) < max_steps and sizes[-1] > 0:
        last_step = final and len(steps) == max_steps - 1
        options = [c for c in (final if last_step else range(len(candidates))) if c not in steps and (last_step or c not in final)]
        if not options:
            break
        later = _after(t.filter(t.event.isin([event_of[c] for c in options])), reached)
        reach = execute(later.group_by("event").aggregate(users=_.user_id.nunique()))
        counts = dict(zip(reach["event"].astype(str).map(local), reach["users"].astype(int)))
        choice = max(options, key=lambda c: (counts.get(c, 0), -c))
        if counts.get(choice, 0) == 0:
            break
        steps.append(choice)
        sizes.append(counts[choice])
        chosen = later.filter(later.event == event_of[choice]).drop("r_user", "r_ts", "r_seq")
        reached = _first_per_user(chosen)
    labels = [event_of[c] for c in steps]
    table = pd.DataFrame({"step": np.arange(1, len(steps) + 1), "event": labels, "users": sizes})
    table["share"] = table["users"] / table["users"].iloc[0] if len(table) and table["users"].iloc[0] else np.nan
    return ProposedFunnel(steps=labels if len(labels) > 1 else [], table=table)
