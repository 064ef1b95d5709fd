"""Funnels, cart abandonment, paths and screen flow (DESIGN §5).

Funnel
    A user enters at their **first** instance of step 1; the conversion window
    starts there and a repeated step 1 does not restart it.  A later step
    counts when it happens at most ``window`` after that entry (an event
    exactly ``window`` later still counts).  Orderings:

    * ``"sequential"`` (default): the steps happen in order; other events may
      come between them.  Each step is matched to the earliest qualifying
      event after the previous step's match (greedy matching is optimal for
      ordered subsequences, so no user is undercounted).
    * ``"strict"``: the steps are consecutive events of the user (nothing in
      between); any step-1 instance inside the window may start the run.
    * ``"any"``: steps 2..k happen in any order inside the window; step k is
      reached when all of steps 1..k have happened.

    Time to convert at step k = time of the event completing step k − time of
    the entry event.

Steps are given as event names (``"purchase"``), alternatives separated by
``|`` (``"screen_view[screen=product] | add_to_cart"``), a property filter in
brackets (``event[column=value]``, or ``event[column:value]``, which papermill
can parse in a notebook's parameters cell), or a dict ``{"event": ...,
column: value}`` (a list of such specs means alternatives).

Paths and screen flow work inside sessions: the sequence of ``column``
values (event names by default, or screens) of each session.  An exit is the
last item of a session; exit rate = exits / occurrences of the item.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import pandas as pd

from . import periods
from ._docs import fill_doc
from .core import EventLog, engine_of, segment_labels
from .core.engagement_scans import FUNNEL_ORDERINGS, funnel_reach_times
from .inputs import as_log
from .sessions import assign_sessions, parse_duration
from .stats import wilson_ci
from .validation import as_event_list, check_option, closest

__all__ = ["ORDERINGS", "parse_step", "step_events", "funnel", "cart_abandonment", "top_paths", "transitions", "exit_rates",
           "checkout_loops"]

ORDERINGS = FUNNEL_ORDERINGS
ENTRY, EXIT = "(entry)", "(exit)"
_FILTER = re.compile(r"^\s*([^\[\]]+?)\s*(?:\[\s*([^=:\]]+?)\s*[=:]\s*([^\]]*?)\s*\])?\s*$")


def parse_step(step) -> list[dict]:
    """Normalise one funnel step to a list of alternatives ``{"event": name, column: value, ...}``.

    Examples
    --------
    >>> parse_step("screen_view[screen=product] | add_to_cart")
    [{'event': 'screen_view', 'screen': 'product'}, {'event': 'add_to_cart'}]
    >>> parse_step("screen_view[screen:product]")
    [{'event': 'screen_view', 'screen': 'product'}]
    >>> parse_step({"event": "purchase"})
    [{'event': 'purchase'}]
    """
    if isinstance(step, dict):
        if "event" not in step:
            raise ValueError(f"funnel step {step!r} has no 'event' key; write e.g. {{'event': 'purchase'}}")
        return [dict(step)]
    if isinstance(step, (list, tuple)):
        return [alt for part in step for alt in parse_step(part)]
    if not isinstance(step, str) or not step.strip():
        raise ValueError(f"funnel step {step!r} must be an event name, 'event[column=value]', a dict or a list of those")
    alternatives = []
    for part in step.split("|"):
        match = _FILTER.match(part)
        if not match:
            raise ValueError(f"cannot read funnel step {part!r}; write 'event', 'event[column=value]' or 'event[column:value]'")
        name, column, value = match.groups()
        alternatives.append({"event": name, column: value} if column else {"event": name})
    return alternatives


def step_events(step) -> list[str]:
    """The event names of a step's alternatives, e.g. to start paths where a funnel starts.

    Examples
    --------
    >>> step_events("screen_view[screen=product] | add_to_cart")
    ['screen_view', 'add_to_cart']
    """
    return list(dict.fromkeys(alt["event"] for alt in parse_step(step)))


def _step_label(step) -> str:
    if isinstance(step, str):
        return step.strip()
    return " | ".join(
        alt["event"] + "".join(f"[{k}={v}]" for k, v in alt.items() if k != "event") for alt in parse_step(step))


def _equals_text(values: pd.Series, value) -> np.ndarray:
    """Rows whose value reads as ``value``: text comparison, so that parameters given as strings
    match numeric or boolean columns (a categorical compares its categories once, not every row)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        hit = np.asarray(values.cat.categories.astype(str) == str(value))
        codes = values.cat.codes.to_numpy()
        return np.r_[hit, False][np.where(codes < 0, len(hit), codes)]
    return (values.astype(str) == str(value)).to_numpy()


def _step_mask(log: EventLog, step) -> np.ndarray:
    """Boolean mask of the events matching a step; a clear error if none do."""
    mask = np.zeros(len(log), dtype=bool)
    events = log.frame
    for alt in parse_step(step):
        match = log.event_mask(alt["event"], "steps").copy()
        for column, value in alt.items():
            if column == "event":
                continue
            if column not in events.columns:
                raise ValueError(f"funnel step {_step_label(step)!r} filters on column {column!r}, which the events do not have")
            match &= _equals_text(events[column], value)
        mask |= match
    if not mask.any():
        raise ValueError(f"funnel step {_step_label(step)!r} matches no event; check its filters")
    return mask


@fill_doc
def funnel(
    events: "pd.DataFrame | EventLog",
    steps: Sequence,
    window="7D",
    *,
    ordering: str = "sequential",
    segment: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Users reaching each step of a funnel within a conversion window from step 1.

    Parameters
    ----------
    events : DataFrame or EventLog
        Canonical events.
    steps : sequence of step specs
        At least two; see the module docstring for the spec syntax.
    window : str or Timedelta, default "7D"
        Conversion window measured from the user's first step-1 event.
    ordering : {"sequential", "strict", "any"}
    segment : str, optional
        Event column to break down by; a user's segment is its value on the
        entry event (output column ``segment``).
    {alpha_wilson}

    Returns
    -------
    DataFrame
        Per (``segment`` and) step: ``step`` (1-based), ``step_name``, ``users``,
        ``conversion`` = users / users at step 1 with ``ci_low``/``ci_high``,
        ``step_conversion`` = users / users at the previous step with
        ``step_ci_low``/``step_ci_high``, ``drop_off`` (users lost since the
        previous step), ``drop_off_rate`` = 1 − step_conversion, and time to
        convert from the entry: ``median_time_s``, ``p25_time_s``,
        ``p75_time_s``, ``p90_time_s``.

    Examples
    --------
    >>> ev = pd.DataFrame([("a", "open", "2024-01-01 10:00"), ("a", "cart", "2024-01-01 10:01"), ("a", "buy", "2024-01-01 10:03"),
    ...                    ("b", "open", "2024-01-01 11:00"), ("b", "buy", "2024-01-01 11:05")],
    ...                   columns=["user_id", "event", "timestamp"])  # one line per user's path
    >>> ev["timestamp"] = pd.to_datetime(ev["timestamp"], utc=True)
    >>> f = funnel(ev, ["open", "cart", "buy"], window="1h")
    >>> f[["step", "users", "conversion", "median_time_s"]].to_dict("list")
    {'step': [1, 2, 3], 'users': [2, 1, 1], 'conversion': [1.0, 0.5, 0.5], 'median_time_s': [0.0, 60.0, 180.0]}
    """
    if engine_of(events) == "ibis":  # the reach times in the engine, the same table
        from .engines.analyses import funnel as on_engine

        return on_engine(events, steps, window, ordering=ordering, segment=segment, alpha=alpha)
    check_option("ordering", ordering, ORDERINGS)
    if isinstance(steps, str) or len(steps) < 2:
        raise ValueError(f"a funnel needs a list of at least two steps, got {steps!r}")
    window = parse_duration(window, "window")
    log = as_log(events)
    seg = log.segment(segment) if segment is not None else None
    order = log.time_order()
    masks = [log.in_time_order(_step_mask(log, s)) for s in steps]
    entry, elapsed = funnel_reach_times(log.in_time_order(log.user_code), log.in_time_order(log.ns), masks, window.value, ordering)
    n_steps = len(steps)
    long = pd.DataFrame({
        "step": np.tile(np.arange(1, n_steps + 1), len(entry)),
        "elapsed_s": elapsed.ravel() / 1e9,
    })
    keys = ["step"]
    if seg is not None:
        long.insert(0, "segment", np.repeat(seg.labels.to_numpy()[seg.codes[order[entry]]], n_steps))
        keys = ["segment", "step"]
    reached = long.dropna(subset=["elapsed_s"])
    grouped = reached.groupby(keys, sort=True)["elapsed_s"]
    out = grouped.size().rename("users").to_frame()
    for q in (50, 25, 75, 90):
        out[f"p{q}_time_s"] = grouped.quantile(q / 100)
    full = pd.MultiIndex.from_product([sorted(pd.unique(long["segment"])), range(1, n_steps + 1)], names=keys) \
        if seg is not None else pd.Index(range(1, n_steps + 1), name="step")
    out = out.reindex(full)
    out["users"] = out["users"].fillna(0).astype(np.int64)
    out = out.reset_index()
    per_segment = out.groupby("segment", sort=False)["users"] if seg is not None else out["users"]
    start = per_segment.transform("first") if seg is not None else pd.Series(out["users"].iloc[0], index=out.index)
    previous = per_segment.shift(1).fillna(out["users"]).astype(np.int64)
    out.insert(keys.index("step") + 1, "step_name", [_step_label(steps[k - 1]) for k in out["step"]])
    with np.errstate(invalid="ignore", divide="ignore"):
        out["conversion"] = out["users"] / start
        out["ci_low"], out["ci_high"] = wilson_ci(out["users"], start, alpha)
        out["step_conversion"] = out["users"] / previous
        out["step_ci_low"], out["step_ci_high"] = wilson_ci(out["users"], previous, alpha)
    out["drop_off"] = previous - out["users"]
    out["drop_off_rate"] = 1 - out["step_conversion"]
    out = out.rename(columns={"p50_time_s": "median_time_s"})
    return out[keys[:-1] + ["step", "step_name", "users", "conversion", "ci_low", "ci_high", "step_conversion",
                            "step_ci_low", "step_ci_high", "drop_off", "drop_off_rate",
                            "median_time_s", "p25_time_s", "p75_time_s", "p90_time_s"]]


def cart_abandonment(
    events: "pd.DataFrame | EventLog",
    cart_events="add_to_cart",
    checkout_events="purchase",
    window="1D",
    *,
    segment: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Cart abandonment = 1 − purchasers / users who added to cart (purchase within ``window``).

    The window starts at the user's first cart event; a purchase before it
    does not count.  This is the two-step :func:`funnel` ``[cart_events,
    checkout_events]`` read the other way round.

    Parameters
    ----------
    cart_events : str or list of str, default "add_to_cart"
        Events that put something in the cart (any of them enters the funnel).
    checkout_events : str or list of str, default "purchase"
        Events that complete the checkout.

    Returns
    -------
    DataFrame
        (``segment``,) ``carts`` (users who added), ``purchasers``,
        ``abandonment_rate`` with Wilson ``ci_low`` / ``ci_high``.

    Examples
    --------
    >>> ev = pd.DataFrame([("a", "add_to_cart", "2024-01-01 10:00"), ("a", "purchase", "2024-01-01 10:30"),
    ...                    ("b", "add_to_cart", "2024-01-01 11:00"),
    ...                    ("c", "add_to_cart", "2024-01-01 12:00"), ("c", "purchase", "2024-01-03 12:00")],
    ...                   columns=["user_id", "event", "timestamp"])  # c buys after the 1-day window
    >>> ev["timestamp"] = pd.to_datetime(ev["timestamp"], utc=True)
    >>> cart_abandonment(ev, window="1D")[["carts", "purchasers", "abandonment_rate"]].round(4).values.tolist()
    [[3.0, 1.0, 0.6667]]
    """
    steps = [as_event_list(cart_events, "cart_events"), as_event_list(checkout_events, "checkout_events")]
    table = funnel(events, steps, window, segment=segment, alpha=alpha)
    keys = ["segment"] if segment is not None else []
    first, second = (table[table["step"] == k].set_index(keys) if keys else table[table["step"] == k].reset_index(drop=True)
                     for k in (1, 2))
    out = pd.DataFrame({"carts": first["users"].astype(float), "purchasers": second["users"].astype(float)})
    out["abandonment_rate"] = 1 - out["purchasers"] / out["carts"]
    out["ci_low"], out["ci_high"] = wilson_ci(out["carts"] - out["purchasers"], out["carts"], alpha)
    return out.reset_index() if keys else out


def _session_sequences(events, column: str, timeout, collapse_repeats: bool):
    """Session index per row, integer item codes per row and the item labels (missing: "(missing)").

    The codes are the log's cached :meth:`EventLog.segment` codes (no per-row strings); their
    order is not the labels' sort order, which no caller relies on (results are sorted by label).
    """
    log = as_log(events)
    if column not in log.frame.columns:
        log.check_column(column, "column")
    with_ids = assign_sessions(log, timeout=timeout)
    sid = with_ids["session_id"].to_numpy()
    if log.has_column(column):
        item = log.segment(column, "column")
        codes = log.in_time_order(item.codes)
        labels = item.labels
    else:  # a column with no value at all: every item is "(missing)"
        codes, labels = pd.factorize(pd.Series(segment_labels(with_ids[column])), sort=True)
    if collapse_repeats and len(codes):
        keep = np.r_[True, (sid[1:] != sid[:-1]) | (codes[1:] != codes[:-1])]
        sid, codes = sid[keep], codes[keep]
    return sid, codes.astype(np.int64), [str(v) for v in labels]


def _unique_rows(matrix: np.ndarray, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(matrix, axis=0, return_counts=True)`` for small integers in ``[low, high]``, rows in some order.

    Each row is packed into one int64 (its values as digits of base ``high - low + 1``), so the
    distinct rows come from a 1-d ``np.unique`` instead of a sort of row records.
    """
    base = high - low + 1
    width = matrix.shape[1]
    if width == 0 or base ** width >= 2 ** 62:
        return np.unique(matrix, axis=0, return_counts=True)
    weights = base ** np.arange(width - 1, -1, -1, dtype=np.int64)
    keys, counts = np.unique((matrix.astype(np.int64) - low) @ weights, return_counts=True)
    return keys[:, None] // weights[None, :] % base + low, counts


def _rows_with(values: pd.Series, names, parameter: str) -> np.ndarray:
    """Rows whose value (as text) is one of ``names``; a categorical is matched on its categories, not per row."""
    listed = as_event_list(names, parameter)
    if isinstance(values.dtype, pd.CategoricalDtype):
        wanted = np.flatnonzero(values.cat.categories.astype(str).isin(listed))
        return np.isin(values.cat.codes.to_numpy(), wanted)
    return values.astype(str).isin(listed).to_numpy()


def _first_in_session(sid: np.ndarray, mask: np.ndarray) -> np.ndarray:
    idx = np.flatnonzero(mask)
    return idx[np.r_[True, sid[idx][1:] != sid[idx][:-1]]] if len(idx) else idx


def _codes_of(labels: list[str], names, parameter: str, column: str) -> np.ndarray:
    """Item codes of the anchor names; a name that never occurs is an error naming ``parameter``."""
    listed = as_event_list(names, parameter)
    for name in listed:
        if name not in labels:
            hint = closest(name, labels)
            suggestion = f" — did you mean {hint!r}?" if hint is not None else ""
            raise ValueError(f"The {parameter!r} parameter names {name!r}, which never occurs in column {column!r}{suggestion} "
                             f"Values present: {labels[:15]}")
    return np.array([labels.index(name) for name in listed], dtype=np.int64)


anchor_codes = _codes_of  # the same check and message for the engine's paths (engines.path_scans)


def top_paths(
    events: "pd.DataFrame | EventLog",
    from_events=None,
    to_events=None,
    length: int = 4,
    top: int = 20,
    *,
    column: str = "event",
    timeout="30min",
    collapse_repeats: bool = False,
) -> pd.DataFrame:
    """Most frequent sequences of up to ``length`` items inside sessions.

    ``from_events`` / ``to_events`` are an item (event name, or a value of
    ``column``) or a list of items.  With ``from_events``: the ``length``
    items beginning at the session's first of them; with ``to_events`` only:
    the ``length`` items ending at the session's first of them; with both:
    paths from ``from_events`` that reach ``to_events`` within ``length``
    items (cut there); with neither: each session's first ``length`` items.
    A path cut short by the session's end gets ``(exit)`` appended
    (``(entry)`` prepended for paths to ``to_events``).

    Returns
    -------
    DataFrame
        ``path`` (items joined by " → "), ``steps``, ``sessions`` and
        ``share`` (of the sessions that have an anchor), most frequent first.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "b", "c"], "event": ["open", "buy", "open", "buy", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:01", "2024-01-01 10:00",
    ...                                  "2024-01-01 10:05", "2024-01-01 09:00"], utc=True)})
    >>> top_paths(ev, from_events="open", length=2)[["path", "sessions", "share"]].values.tolist()
    [['open → buy', 2, 0.6666666666666666], ['open → (exit)', 1, 0.3333333333333333]]
    """
    if engine_of(events) == "ibis":  # sessions and item tuples counted in the engine, the same table
        from .engines.path_scans import top_paths as on_engine

        return on_engine(events, from_events, to_events, length, top, column=column, timeout=timeout,
                         collapse_repeats=collapse_repeats)
    if length < 1 or top < 1:
        raise ValueError(f"length and top must be at least 1, got length={length}, top={top}")
    sid, codes, labels = _session_sequences(events, column, timeout, collapse_repeats)
    marker = len(labels)
    session_first = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]]) if len(sid) else np.array([], dtype=np.int64)
    session_last = np.r_[session_first[1:], len(sid)] - 1
    # Map each session id (consecutive integers from 0) to its first / last row.
    first_row = np.zeros(sid.max() + 1 if len(sid) else 0, dtype=np.int64)
    last_row = np.zeros_like(first_row)
    first_row[sid[session_first]], last_row[sid[session_first]] = session_first, session_last
    forward = from_events is not None or to_events is None
    if forward:
        anchors = (_first_in_session(sid, np.isin(codes, _codes_of(labels, from_events, "from_events", column)))
                   if from_events is not None else session_first)
        pos = anchors[:, None] + np.arange(length)[None, :]
        limit = last_row[sid[anchors]][:, None]
        beyond = pos > limit
        matrix = np.where(beyond, -1, codes[np.minimum(pos, len(codes) - 1)])
        # The first slot past the session's last event marks the exit.
        matrix[beyond & (pos == limit + 1)] = marker
        if to_events is not None:
            is_end = np.isin(matrix, _codes_of(labels, to_events, "to_events", column))
            after_end = np.cumsum(np.cumsum(is_end, axis=1) > 0, axis=1) > 1
            matrix = np.where(after_end, -1, matrix)
            matrix = matrix[is_end.any(axis=1)]
    else:
        anchors = _first_in_session(sid, np.isin(codes, _codes_of(labels, to_events, "to_events", column)))
        pos = anchors[:, None] - np.arange(length)[::-1][None, :]
        limit = first_row[sid[anchors]][:, None]
        before = pos < limit
        matrix = np.where(before, -1, codes[np.maximum(pos, 0)])
        matrix[before & (pos == limit - 1)] = marker
    n_anchored = len(matrix)
    if n_anchored == 0:
        return pd.DataFrame({"path": pd.Series(dtype=object), "steps": pd.Series(dtype=np.int64),
                             "sessions": pd.Series(dtype=np.int64), "share": pd.Series(dtype=float)})
    rows, counts = _unique_rows(matrix, -1, marker)
    names = np.array(labels + [EXIT if forward else ENTRY], dtype=object)
    paths = [" → ".join(names[r[r >= 0]]) for r in rows]
    out = pd.DataFrame({"path": paths, "steps": (rows >= 0).sum(axis=1) - (rows == marker).sum(axis=1),
                        "sessions": counts, "share": counts / n_anchored})
    return out.sort_values(["sessions", "path"], ascending=[False, True], kind="stable").head(top).reset_index(drop=True)


def transitions(
    events: "pd.DataFrame | EventLog",
    *,
    column: str = "event",
    timeout="30min",
    collapse_repeats: bool = False,
) -> pd.DataFrame:
    """Counts of consecutive item pairs inside sessions, for a screen-flow diagram.

    Each session contributes ``(entry) → first item``, each consecutive pair,
    and ``last item → (exit)``.  ``share`` = transitions of the pair /
    transitions out of ``source``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a"], "event": ["home", "product"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:01"], utc=True)})
    >>> transitions(ev)[["source", "target", "transitions", "share"]].values.tolist()
    [['(entry)', 'home', 1, 1.0], ['home', 'product', 1, 1.0], ['product', '(exit)', 1, 1.0]]
    """
    if engine_of(events) == "ibis":  # pair counts in the engine, the same table
        from .engines.path_scans import transitions as on_engine

        return on_engine(events, column=column, timeout=timeout, collapse_repeats=collapse_repeats)
    sid, codes, labels = _session_sequences(events, column, timeout, collapse_repeats)
    n = len(labels)
    new = np.r_[True, sid[1:] != sid[:-1]] if len(sid) else np.array([], dtype=bool)
    last = np.r_[new[1:], True] if len(sid) else new
    source = np.r_[np.full(int(new.sum()), n), codes[:-1][~new[1:]], codes[last]]
    target = np.r_[codes[new], codes[1:][~new[1:]], np.full(int(last.sum()), n + 1)]
    names = np.array(labels + [ENTRY, EXIT], dtype=object)
    pairs, counts = np.unique(source * (n + 2) + target, return_counts=True)
    out = pd.DataFrame({"source": names[pairs // (n + 2)], "target": names[pairs % (n + 2)], "transitions": counts})
    out["share"] = out["transitions"] / out.groupby("source")["transitions"].transform("sum")
    rank = {ENTRY: -1}
    out = out.assign(_order=out["source"].map(lambda s: rank.get(s, 0)))
    return out.sort_values(["_order", "source", "transitions", "target"], ascending=[True, True, False, True],
                           kind="stable").drop(columns="_order").reset_index(drop=True)


def exit_rates(
    events: "pd.DataFrame | EventLog",
    *,
    column: str = "event",
    timeout="30min",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Exit rate per item: sessions ending on the item / occurrences of the item.

    Returns
    -------
    DataFrame
        ``item, occurrences, exits, exit_rate, ci_low, ci_high`` (Wilson),
        highest exit rate first.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["home", "product", "home"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:01", "2024-01-01 10:00"], utc=True)})
    >>> exit_rates(ev)[["item", "occurrences", "exits", "exit_rate"]].values.tolist()
    [['product', 1, 1, 1.0], ['home', 2, 1, 0.5]]
    """
    if engine_of(events) == "ibis":  # occurrences and exits counted in the engine, the same table
        from .engines.path_scans import exit_rates as on_engine

        return on_engine(events, column=column, timeout=timeout, alpha=alpha)
    sid, codes, labels = _session_sequences(events, column, timeout, collapse_repeats=False)
    last = np.r_[sid[1:] != sid[:-1], True] if len(sid) else np.array([], dtype=bool)
    occurrences = np.bincount(codes, minlength=len(labels))
    exits = np.bincount(codes[last], minlength=len(labels))
    out = pd.DataFrame({"item": labels, "occurrences": occurrences, "exits": exits})
    out["exit_rate"] = out["exits"] / out["occurrences"]
    out["ci_low"], out["ci_high"] = wilson_ci(out["exits"], out["occurrences"], alpha)
    return out.sort_values(["exit_rate", "item"], ascending=[False, True], kind="stable").reset_index(drop=True)


def _seen_in_session(new: np.ndarray, flag: np.ndarray) -> np.ndarray:
    """Per row: has ``flag`` been true at this row or earlier in the same session (``new`` marks session starts)."""
    counts = np.cumsum(flag)
    start = np.maximum.accumulate(np.where(new, np.arange(len(flag)), 0))
    return counts - counts[start] + flag[start] > 0


def checkout_loops(
    events: "pd.DataFrame | EventLog",
    checkout_events,
    cart_events,
    *,
    segment: str | None = None,
    period: str = "month",
    timeout="30min",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Checkout loops: sessions that reach checkout, go back to the cart and return to checkout.

    loop rate = sessions with a checkout event, a later cart event and a later
    checkout event again / sessions with a checkout event, per period of the
    session start (and ``segment``: its value on the session's first event).
    A checkout page that sends users back to the cart shows as a rise of the
    loop rate in one group and period.

    Returns
    -------
    DataFrame
        (``segment``,) ``period_start``, ``checkout_sessions``, ``loop_sessions``, ``loop_rate``,
        ``ci_low``, ``ci_high`` (Wilson, level ``1 - alpha``).

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a"] * 4 + ["b"] * 2,
    ...     "event": ["shipping", "cart", "shipping", "pay", "shipping", "pay"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:01", "2024-01-01 10:02", "2024-01-01 10:03",
    ...                                  "2024-01-02 10:00", "2024-01-02 10:01"], utc=True)})
    >>> checkout_loops(ev, "shipping", "cart")[["checkout_sessions", "loop_sessions", "loop_rate"]].values.tolist()
    [[2.0, 1.0, 0.5]]
    """
    if engine_of(events) == "ibis":  # sessions per (segment,) period counted in the engine, the same table
        from .engines.path_scans import checkout_loops as on_engine

        return on_engine(events, checkout_events, cart_events, segment=segment, period=period, timeout=timeout, alpha=alpha)
    period = periods.check_period(period)
    log = as_log(events)
    frame = assign_sessions(log, timeout=timeout)
    sid = frame["session_id"].to_numpy()
    new = np.r_[True, sid[1:] != sid[:-1]] if len(sid) else np.array([], dtype=bool)
    checkout = _rows_with(frame["event"], checkout_events, "checkout_events")
    cart = _rows_with(frame["event"], cart_events, "cart_events")
    back = cart & _seen_in_session(new, checkout)
    loop = checkout & _seen_in_session(new, back)
    session = np.cumsum(new) - 1
    reached = np.bincount(session, weights=checkout, minlength=int(new.sum())) > 0
    looped = np.bincount(session, weights=loop, minlength=int(new.sum())) > 0
    starts = frame["timestamp"][new]
    table = pd.DataFrame({"ordinal": periods.period_ordinal(starts, period, log.tz), "reached": reached, "looped": looped})
    keys = ["ordinal"]
    if segment:
        log.check_column(segment, "segment")
        table["segment"] = segment_labels(frame[segment].iloc[np.flatnonzero(new)])
        keys = ["segment", "ordinal"]
    table = table[table["reached"]]
    out = table.groupby(keys, sort=True).agg(checkout_sessions=("reached", "size"), loop_sessions=("looped", "sum"))
    return loop_rates(out, period, alpha)


def loop_rates(counts: pd.DataFrame, period: str, alpha: float = 0.05) -> pd.DataFrame:
    """The checkout-loop table from session counts indexed by ([segment,] period ordinal): rate and Wilson CI.

    Examples
    --------
    >>> counts = pd.DataFrame({"ordinal": [2818], "checkout_sessions": [4], "loop_sessions": [1]}).set_index("ordinal")
    >>> loop_rates(counts, "week")[["period_start", "loop_rate"]].values.tolist()
    [[Timestamp('2024-01-01 00:00:00'), 0.25]]
    """
    keys = list(counts.index.names)
    out = counts.reset_index().astype({"checkout_sessions": float, "loop_sessions": float})
    out.insert(len(keys) - 1, "period_start", pd.to_datetime(periods.ordinal_to_start(out["ordinal"].to_numpy(), period)))
    out = out.drop(columns="ordinal")
    out["loop_rate"] = out["loop_sessions"] / out["checkout_sessions"]
    out["ci_low"], out["ci_high"] = wilson_ci(out["loop_sessions"], out["checkout_sessions"], alpha)
    return out
