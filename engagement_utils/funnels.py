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

import difflib
import re
from typing import Sequence

import numpy as np
import pandas as pd

from .sessions import _time_order, assign_sessions, parse_duration
from .stats import wilson_ci

__all__ = ["ORDERINGS", "parse_step", "funnel", "cart_abandonment", "top_paths", "transitions", "exit_rates"]

ORDERINGS = ("sequential", "strict", "any")
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


def _step_label(step) -> str:
    if isinstance(step, str):
        return step.strip()
    return " | ".join(
        alt["event"] + "".join(f"[{k}={v}]" for k, v in alt.items() if k != "event") for alt in parse_step(step))


def _step_mask(events: pd.DataFrame, step) -> np.ndarray:
    """Boolean mask of the events matching a step; a clear error if none do."""
    mask = np.zeros(len(events), dtype=bool)
    for alt in parse_step(step):
        match = (events["event"] == alt["event"]).to_numpy().copy()
        for column, value in alt.items():
            if column == "event":
                continue
            if column not in events.columns:
                raise ValueError(f"funnel step {_step_label(step)!r} filters on column {column!r}, which the events do not have")
            # Compare as text so that parameters given as strings match numeric or boolean columns.
            match &= (events[column].astype(str) == str(value)).to_numpy()
        mask |= match
    if not mask.any():
        names = [str(e) for e in pd.unique(events["event"])]
        close = difflib.get_close_matches(str(parse_step(step)[0]["event"]), names, n=3)
        hint = f"closest event names: {close}" if close else f"events present: {sorted(names)[:15]}"
        raise ValueError(f"funnel step {_step_label(step)!r} never occurs in the events; {hint}")
    return mask


def _ordered(events: pd.DataFrame) -> pd.DataFrame:
    order = _time_order(events)
    return events.take(order).reset_index(drop=True) if not np.array_equal(order, np.arange(len(events))) else events


def _reach_times(events: pd.DataFrame, steps: Sequence, window: pd.Timedelta, ordering: str):
    """Per entering user: position of the entry event and elapsed ns to each step (NaN if not reached)."""
    user = events["user_id"]
    codes = user.cat.codes.to_numpy() if isinstance(user.dtype, pd.CategoricalDtype) else pd.factorize(user, sort=True)[0]
    codes = codes.astype(np.int64)
    ts = events["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    masks = [_step_mask(events, s) for s in steps]
    n_codes = int(codes.max()) + 1 if len(codes) else 0

    idx1 = np.flatnonzero(masks[0])
    first = np.r_[True, codes[idx1][1:] != codes[idx1][:-1]]
    entry_pos = idx1[first]
    entered = codes[entry_pos]
    deadline = np.full(n_codes, np.iinfo(np.int64).min)
    deadline[entered] = ts[entry_pos] + window.value
    t1 = np.zeros(n_codes, dtype=np.int64)
    t1[entered] = ts[entry_pos]
    elapsed = np.full((len(entered), len(steps)), np.nan)
    elapsed[:, 0] = 0.0
    slot = np.full(n_codes, -1)
    slot[entered] = np.arange(len(entered))

    if ordering == "sequential":
        current = np.full(n_codes, np.iinfo(np.int64).max)
        current[entered] = entry_pos
        for k in range(1, len(steps)):
            idx = np.flatnonzero(masks[k])
            u = codes[idx]
            idx = idx[(idx > current[u]) & (ts[idx] <= deadline[u])]
            u = codes[idx]
            firsts = idx[np.r_[True, u[1:] != u[:-1]]] if len(idx) else idx
            current = np.full(n_codes, np.iinfo(np.int64).max)
            current[codes[firsts]] = firsts
            elapsed[slot[codes[firsts]], k] = ts[firsts] - t1[codes[firsts]]
    elif ordering == "strict":
        starts = idx1[ts[idx1] <= deadline[codes[idx1]]]
        alive = np.ones(len(starts), dtype=bool)
        for k in range(1, len(steps)):
            pos = np.minimum(starts + k, len(codes) - 1)
            alive &= (starts + k < len(codes)) & masks[k][pos] & (codes[pos] == codes[starts]) & (ts[pos] <= deadline[codes[starts]])
            done = starts[alive]
            u = codes[done]
            firsts = done[np.r_[True, u[1:] != u[:-1]]] if len(done) else done
            elapsed[slot[codes[firsts]], k] = ts[firsts + k] - t1[codes[firsts]]
    else:
        so_far = elapsed[:, 0].copy()
        for k in range(1, len(steps)):
            idx = np.flatnonzero(masks[k])
            u = codes[idx]
            idx = idx[(slot[u] >= 0) & (ts[idx] >= t1[u]) & (ts[idx] <= deadline[u])]
            u = codes[idx]
            firsts = idx[np.r_[True, u[1:] != u[:-1]]] if len(idx) else idx
            step_time = np.full(len(entered), np.nan)
            step_time[slot[codes[firsts]]] = ts[firsts] - t1[codes[firsts]]
            # np.maximum propagates NaN: a user who misses any step stops there.
            so_far = np.maximum(so_far, step_time)
            elapsed[:, k] = so_far
    return entry_pos, elapsed


def _segment_labels(values: pd.Series, segment: str) -> np.ndarray:
    if values.notna().sum() == 0:
        raise ValueError(f"segment column {segment!r} has no values for the users in the funnel; choose another segment")
    return values.astype(object).where(values.notna(), "(missing)").to_numpy()


def funnel(
    events: pd.DataFrame,
    steps: Sequence,
    window="7D",
    *,
    ordering: str = "sequential",
    segment: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Users reaching each step of a funnel within a conversion window from step 1.

    Parameters
    ----------
    events : DataFrame
        Canonical events.
    steps : sequence of step specs
        At least two; see the module docstring for the spec syntax.
    window : str or Timedelta, default "7D"
        Conversion window measured from the user's first step-1 event.
    ordering : {"sequential", "strict", "any"}
    segment : str, optional
        Event column to break down by; a user's segment is its value on the
        entry event.
    confidence : float
        Level of the Wilson intervals.

    Returns
    -------
    DataFrame
        Per (segment and) step: ``step`` (1-based), ``step_name``, ``users``,
        ``conversion`` = users / users at step 1 with ``ci_low``/``ci_high``,
        ``step_conversion`` = users / users at the previous step with
        ``step_ci_low``/``step_ci_high``, ``drop_off`` (users lost since the
        previous step), ``drop_off_rate`` = 1 − step_conversion, and time to
        convert from the entry: ``median_time_s``, ``p25_time_s``,
        ``p75_time_s``, ``p90_time_s``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "a", "b", "b"],
    ...     "event": ["open", "cart", "buy", "open", "buy"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:01", "2024-01-01 10:03",
    ...                                  "2024-01-01 11:00", "2024-01-01 11:05"], utc=True)})
    >>> f = funnel(ev, ["open", "cart", "buy"], window="1h")
    >>> f[["step", "users", "conversion", "median_time_s"]].to_dict("list")
    {'step': [1, 2, 3], 'users': [2, 1, 1], 'conversion': [1.0, 0.5, 0.5], 'median_time_s': [0.0, 60.0, 180.0]}
    """
    if ordering not in ORDERINGS:
        raise ValueError(f"ordering={ordering!r} is not supported; choose one of {', '.join(ORDERINGS)}")
    if isinstance(steps, str) or len(steps) < 2:
        raise ValueError(f"a funnel needs a list of at least two steps, got {steps!r}")
    window = parse_duration(window, "window")
    if segment is not None and segment not in events.columns:
        raise ValueError(f"segment={segment!r} is not a column of the events; available: {list(events.columns)}")
    ordered = _ordered(events)
    entry_pos, elapsed = _reach_times(ordered, steps, window, ordering)
    n_steps = len(steps)
    long = pd.DataFrame({
        "step": np.tile(np.arange(1, n_steps + 1), len(entry_pos)),
        "elapsed_s": elapsed.ravel() / 1e9,
    })
    keys = ["step"]
    if segment is not None:
        long.insert(0, segment, np.repeat(_segment_labels(ordered[segment].iloc[entry_pos], segment), n_steps))
        keys = [segment, "step"]
    reached = long.dropna(subset=["elapsed_s"])
    grouped = reached.groupby(keys, sort=True)["elapsed_s"]
    out = grouped.size().rename("users").to_frame()
    for q in (50, 25, 75, 90):
        out[f"p{q}_time_s"] = grouped.quantile(q / 100)
    full = pd.MultiIndex.from_product([sorted(pd.unique(long[segment])), range(1, n_steps + 1)], names=keys) \
        if segment is not None else pd.Index(range(1, n_steps + 1), name="step")
    out = out.reindex(full)
    out["users"] = out["users"].fillna(0).astype(np.int64)
    out = out.reset_index()
    by = out.groupby(segment, sort=False)["users"] if segment is not None else out["users"]
    start = by.transform("first") if segment is not None else pd.Series(out["users"].iloc[0], index=out.index)
    previous = (by.shift(1) if segment is not None else out["users"].shift(1)).fillna(out["users"]).astype(np.int64)
    out.insert(keys.index("step") + 1, "step_name", [_step_label(steps[k - 1]) for k in out["step"]])
    with np.errstate(invalid="ignore", divide="ignore"):
        out["conversion"] = out["users"] / start
        out["ci_low"], out["ci_high"] = wilson_ci(out["users"], start, 1 - confidence)
        out["step_conversion"] = out["users"] / previous
        out["step_ci_low"], out["step_ci_high"] = wilson_ci(out["users"], previous, 1 - confidence)
    out["drop_off"] = previous - out["users"]
    out["drop_off_rate"] = 1 - out["step_conversion"]
    out = out.rename(columns={"p50_time_s": "median_time_s"})
    return out[keys[:-1] + ["step", "step_name", "users", "conversion", "ci_low", "ci_high", "step_conversion",
                            "step_ci_low", "step_ci_high", "drop_off", "drop_off_rate",
                            "median_time_s", "p25_time_s", "p75_time_s", "p90_time_s"]]


def cart_abandonment(
    events: pd.DataFrame,
    add_event: str = "add_to_cart",
    purchase_event: str = "purchase",
    window="1D",
    *,
    segment: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Cart abandonment = 1 − purchasers / users who added to cart (purchase within ``window``).

    The window starts at the user's first add-to-cart; a purchase before it
    does not count.  This is the two-step :func:`funnel` ``[add_event,
    purchase_event]`` read the other way round.

    Returns
    -------
    DataFrame
        (segment,) ``carts`` (users who added), ``purchasers``,
        ``abandonment_rate`` with Wilson ``ci_low`` / ``ci_high``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "c", "c"],
    ...     "event": ["add_to_cart", "purchase", "add_to_cart", "add_to_cart", "purchase"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:30", "2024-01-01 11:00",
    ...                                  "2024-01-01 12:00", "2024-01-03 12:00"], utc=True)})
    >>> cart_abandonment(ev, window="1D")[["carts", "purchasers", "abandonment_rate"]].round(4).values.tolist()
    [[3.0, 1.0, 0.6667]]
    """
    steps = funnel(events, [add_event, purchase_event], window, segment=segment, confidence=confidence)
    keys = [segment] if segment is not None else []
    carts = steps[steps["step"] == 1].set_index(keys)["users"] if keys else steps.loc[steps["step"] == 1, "users"].reset_index(drop=True)
    bought = steps[steps["step"] == 2].set_index(keys)["users"] if keys else steps.loc[steps["step"] == 2, "users"].reset_index(drop=True)
    out = pd.DataFrame({"carts": carts.astype(float), "purchasers": bought.astype(float)})
    out["abandonment_rate"] = 1 - out["purchasers"] / out["carts"]
    out["ci_low"], out["ci_high"] = wilson_ci(out["carts"] - out["purchasers"], out["carts"], 1 - confidence)
    return out.reset_index() if keys else out


def _session_sequences(events: pd.DataFrame, column: str, timeout, collapse_repeats: bool):
    """Session index per row, integer item codes per row and the item labels."""
    if column not in events.columns:
        raise ValueError(f"column={column!r} is not in the events; available: {list(events.columns)}")
    with_ids = assign_sessions(events, timeout=timeout)
    sid = with_ids["session_id"].to_numpy()
    values = with_ids[column].astype(object).where(with_ids[column].notna(), "(none)")
    codes, labels = pd.factorize(values, sort=True)
    if collapse_repeats and len(codes):
        keep = np.r_[True, (sid[1:] != sid[:-1]) | (codes[1:] != codes[:-1])]
        sid, codes = sid[keep], codes[keep]
    return sid, codes.astype(np.int64), [str(v) for v in labels]


def _first_in_session(sid: np.ndarray, mask: np.ndarray) -> np.ndarray:
    idx = np.flatnonzero(mask)
    return idx[np.r_[True, sid[idx][1:] != sid[idx][:-1]]] if len(idx) else idx


def _code_of(labels: list[str], name: str, column: str) -> int:
    if name not in labels:
        close = difflib.get_close_matches(name, labels, n=3)
        raise ValueError(f"{name!r} never occurs in column {column!r}; closest values: {close or labels[:15]}")
    return labels.index(name)


def top_paths(
    events: pd.DataFrame,
    start: str | None = None,
    end: str | None = None,
    length: int = 4,
    top: int = 20,
    *,
    column: str = "event",
    timeout="30min",
    collapse_repeats: bool = False,
) -> pd.DataFrame:
    """Most frequent sequences of up to ``length`` items inside sessions.

    With ``start``: the ``length`` items beginning at the session's first
    ``start``; with ``end`` only: the ``length`` items ending at the
    session's first ``end``; with both: paths from ``start`` that reach
    ``end`` within ``length`` items (cut there); with neither: each session's
    first ``length`` items.  A path cut short by the session's end gets
    ``(exit)`` appended (``(entry)`` prepended for paths to ``end``).

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
    >>> top_paths(ev, start="open", length=2)[["path", "sessions", "share"]].values.tolist()
    [['open → buy', 2, 0.6666666666666666], ['open → (exit)', 1, 0.3333333333333333]]
    """
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
    if start is not None or end is None:
        anchors = _first_in_session(sid, codes == _code_of(labels, start, column)) if start is not None else session_first
        pos = anchors[:, None] + np.arange(length)[None, :]
        limit = last_row[sid[anchors]][:, None]
        beyond = pos > limit
        matrix = np.where(beyond, -1, codes[np.minimum(pos, len(codes) - 1)])
        # The first slot past the session's last event marks the exit.
        matrix[beyond & (pos == limit + 1)] = marker
        if end is not None:
            is_end = matrix == _code_of(labels, end, column)
            after_end = np.cumsum(np.cumsum(is_end, axis=1) > 0, axis=1) > 1
            matrix = np.where(after_end, -1, matrix)
            matrix = matrix[is_end.any(axis=1)]
    else:
        anchors = _first_in_session(sid, codes == _code_of(labels, end, column))
        pos = anchors[:, None] - np.arange(length)[::-1][None, :]
        limit = first_row[sid[anchors]][:, None]
        before = pos < limit
        matrix = np.where(before, -1, codes[np.maximum(pos, 0)])
        matrix[before & (pos == limit - 1)] = marker
    n_anchored = len(matrix)
    if n_anchored == 0:
        return pd.DataFrame({"path": pd.Series(dtype=object), "steps": pd.Series(dtype=np.int64),
                             "sessions": pd.Series(dtype=np.int64), "share": pd.Series(dtype=float)})
    rows, counts = np.unique(matrix, axis=0, return_counts=True)
    names = np.array(labels + [EXIT if (start is not None or end is None) else ENTRY], dtype=object)
    paths = [" → ".join(names[r[r >= 0]]) for r in rows]
    out = pd.DataFrame({"path": paths, "steps": (rows >= 0).sum(axis=1) - (rows == marker).sum(axis=1),
                        "sessions": counts, "share": counts / n_anchored})
    return out.sort_values(["sessions", "path"], ascending=[False, True], kind="stable").head(top).reset_index(drop=True)


def transitions(
    events: pd.DataFrame,
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
    events: pd.DataFrame,
    *,
    column: str = "event",
    timeout="30min",
    confidence: float = 0.95,
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
    sid, codes, labels = _session_sequences(events, column, timeout, collapse_repeats=False)
    last = np.r_[sid[1:] != sid[:-1], True] if len(sid) else np.array([], dtype=bool)
    occurrences = np.bincount(codes, minlength=len(labels))
    exits = np.bincount(codes[last], minlength=len(labels))
    out = pd.DataFrame({"item": labels, "occurrences": occurrences, "exits": exits})
    out["exit_rate"] = out["exits"] / out["occurrences"]
    out["ci_low"], out["ci_high"] = wilson_ci(out["exits"], out["occurrences"], 1 - confidence)
    return out.sort_values(["exit_rate", "item"], ascending=[False, True], kind="stable").reset_index(drop=True)
