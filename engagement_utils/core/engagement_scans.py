"""Engagement scans: the session and funnel aggregations that grow with the number of events.

Like :mod:`engagement_utils.core.scans`, each function reads an
:class:`~engagement_utils.core.EventLog` (or arrays in its time order) and
returns a small result — session boundaries and per-session reductions, or
funnel reach times per entering user and step — from which
:mod:`engagement_utils.sessions` and :mod:`engagement_utils.funnels` compute
everything else.  Another engine replaces these functions and nothing above them.

Session rule (DESIGN §5): rows in user, then time order; a new session starts
at a user's first event and wherever the gap to the previous event is
**strictly longer** than the timeout (a gap exactly equal to it does not
split; equal timestamps never split).  With ``max_duration`` a session is cut
into pieces ``[start + k·max, start + (k+1)·max)`` measured from the
session's first event, so every piece lasts less than ``max_duration``.
All comparisons are on integer nanoseconds.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .._arrays import distinct

__all__ = ["FUNNEL_ORDERINGS", "session_starts", "session_sums", "distinct_per_session", "funnel_reach_times"]

FUNNEL_ORDERINGS = ("sequential", "strict", "any")
_NEVER = np.iinfo(np.int64).max


def session_starts(code: np.ndarray, ns: np.ndarray, timeout_ns: int, max_ns: int | None = None,
                   given: np.ndarray | None = None) -> np.ndarray:
    """Per row (in user, then time order), True where a session starts.

    Parameters
    ----------
    code, ns : ndarray of int64
        User code and UTC nanoseconds of each row, rows ordered by user, then time.
    timeout_ns : int
        A gap strictly longer than this starts a session.
    max_ns : int, optional
        Cut sessions into pieces of at most this length from the session's first event.
    given : ndarray, optional
        Integer session labels already in the data (used instead of the gap rule).

    Examples
    --------
    >>> minute = 60 * 10**9
    >>> session_starts(np.array([0, 0, 0, 1]), np.array([0, 30, 61, 0]) * minute, 30 * minute).tolist()
    [True, False, True, True]
    """
    code, ns = np.asarray(code), np.asarray(ns)
    if len(code) == 0:
        return np.zeros(0, dtype=bool)
    starts = np.r_[True, code[1:] != code[:-1]]
    if given is not None:
        starts |= np.r_[True, given[1:] != given[:-1]]
    else:
        starts |= np.r_[True, np.diff(ns) > timeout_ns]
    if max_ns is not None:
        first_ns = ns[np.flatnonzero(starts)][np.cumsum(starts) - 1]
        piece = (ns - first_ns) // max_ns
        starts |= np.r_[True, piece[1:] != piece[:-1]]
    return starts


def session_sums(first: np.ndarray, values: np.ndarray, dtype=None) -> np.ndarray:
    """Sum of ``values`` over each session (sessions are the runs of rows starting at ``first``), in ``dtype``.

    Examples
    --------
    >>> session_sums(np.array([0, 2]), np.array([True, True, False, True]), np.int64).tolist()
    [2, 1]
    """
    dtype = np.asarray(values).dtype if dtype is None else dtype
    return np.add.reduceat(values, first, dtype=dtype) if len(first) else np.zeros(0, dtype=dtype)


def distinct_per_session(codes: np.ndarray, first: np.ndarray, n_events: np.ndarray) -> np.ndarray:
    """Distinct non-negative ``codes`` per session (negative codes are missing values).

    Examples
    --------
    >>> distinct_per_session(np.array([0, 1, 0, -1, 2]), np.array([0, 3]), np.array([3, 2])).tolist()
    [2, 1]
    """
    if len(first) == 0:
        return np.zeros(0, dtype=np.int64)
    if codes.max(initial=-1) < 63:
        # one bit per value: OR the bits over each session and count them
        bits = np.left_shift(np.int64(1), np.maximum(codes, 0))
        bits[codes < 0] = 0
        return np.bitwise_count(np.bitwise_or.reduceat(bits, first)).astype(np.int64)
    codes = codes.astype(np.int64)
    owner = np.repeat(np.arange(len(first)), n_events)
    span = codes.max() + 1
    pairs = distinct(owner[codes >= 0] * span + codes[codes >= 0])
    return np.bincount(pairs // span, minlength=len(first))


def _first_per_user(rows: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The first of ``rows`` (ascending) per user code."""
    if len(rows) == 0:
        return rows
    u = codes[rows]
    return rows[np.r_[True, u[1:] != u[:-1]]]


def funnel_reach_times(code: np.ndarray, ns: np.ndarray, masks: Sequence[np.ndarray], window_ns: int,
                       ordering: str = "sequential") -> tuple[np.ndarray, np.ndarray]:
    """Per entering user: the entry row and the nanoseconds from entry to each step (NaN if not reached).

    Rows are in user, then time order; ``masks[k]`` marks the rows matching step k.
    A user enters at their first step-1 row; step k counts when it happens at
    most ``window_ns`` after the entry (see :mod:`engagement_utils.funnels`
    for the orderings).

    Returns
    -------
    entry : ndarray of int64
        Row (in the given order) of each entering user's entry event, by user code.
    elapsed : ndarray of float, shape (entering users, steps)
        Nanoseconds from the entry to the event completing each step; column 0 is 0.

    Examples
    --------
    >>> code, ns = np.array([0, 0, 1]), np.array([0, 5, 0])
    >>> entry, elapsed = funnel_reach_times(code, ns, [np.array([1, 0, 1], bool), np.array([0, 1, 0], bool)], 10)
    >>> entry.tolist(), elapsed.tolist()
    ([0, 2], [[0.0, 5.0], [0.0, nan]])
    """
    n_rows = len(code)
    n_codes = int(code.max()) + 1 if n_rows else 0
    idx1 = np.flatnonzero(masks[0])
    entry = _first_per_user(idx1, code)
    entered = code[entry]
    deadline = np.full(n_codes, np.iinfo(np.int64).min)
    deadline[entered] = ns[entry] + window_ns
    t1 = np.zeros(n_codes, dtype=np.int64)
    t1[entered] = ns[entry]
    elapsed = np.full((len(entered), len(masks)), np.nan)
    elapsed[:, 0] = 0.0
    slot = np.full(n_codes, -1)
    slot[entered] = np.arange(len(entered))

    if ordering == "sequential":
        current = np.full(n_codes, _NEVER)
        current[entered] = entry
        for k in range(1, len(masks)):
            idx = np.flatnonzero(masks[k])
            u = code[idx]
            firsts = _first_per_user(idx[(idx > current[u]) & (ns[idx] <= deadline[u])], code)
            current = np.full(n_codes, _NEVER)
            current[code[firsts]] = firsts
            elapsed[slot[code[firsts]], k] = ns[firsts] - t1[code[firsts]]
    elif ordering == "strict":
        starts = idx1[ns[idx1] <= deadline[code[idx1]]]
        alive = np.ones(len(starts), dtype=bool)
        for k in range(1, len(masks)):
            pos = np.minimum(starts + k, n_rows - 1)
            alive &= (starts + k < n_rows) & masks[k][pos] & (code[pos] == code[starts]) & (ns[pos] <= deadline[code[starts]])
            firsts = _first_per_user(starts[alive], code)
            elapsed[slot[code[firsts]], k] = ns[firsts + k] - t1[code[firsts]]
    else:
        so_far = elapsed[:, 0].copy()
        for k in range(1, len(masks)):
            idx = np.flatnonzero(masks[k])
            u = code[idx]
            firsts = _first_per_user(idx[(slot[u] >= 0) & (ns[idx] >= t1[u]) & (ns[idx] <= deadline[u])], code)
            step_time = np.full(len(entered), np.nan)
            step_time[slot[code[firsts]]] = ns[firsts] - t1[code[firsts]]
            # np.maximum propagates NaN: a user who misses any step stops there.
            so_far = np.maximum(so_far, step_time)
            elapsed[:, k] = so_far
    return entry, elapsed
