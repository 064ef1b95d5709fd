"""Array helpers shared by the analyses' hot paths (private).

Canonical event frames are sorted by user, then time (see ``io.load_events``),
so keys built as ``user code × span + period`` are already non-decreasing.
These helpers check that in one linear pass and then skip the O(n log n)
sort that ``np.unique`` / ``np.lexsort`` would do; on any other input they
fall back to the sort, so results never depend on the input order.
"""

from __future__ import annotations

import numpy as np


def is_sorted_by(primary: np.ndarray, secondary: np.ndarray) -> bool:
    """True when the rows are ordered by ``primary``, then ``secondary``.

    Examples
    --------
    >>> is_sorted_by(np.array([0, 0, 1]), np.array([5, 7, 1])), is_sorted_by(np.array([0, 0]), np.array([2, 1]))
    (True, False)
    """
    if len(primary) < 2:
        return True
    head = _HEAD + 1
    if len(primary) > 2 * head and not is_sorted_by(primary[:head], secondary[:head]):
        return False  # an unsorted log (e.g. time-ordered) shows it in its first rows: no pass over all of them
    # in blocks overlapping by one row: the differences of a whole 10M log are 160 MB of temporaries
    for start in range(0, len(primary) - 1, _BLOCK):
        stop = min(start + _BLOCK + 1, len(primary))
        step = np.diff(primary[start:stop])
        if not np.all((step > 0) | ((step == 0) & (np.diff(secondary[start:stop]) >= 0))):
            return False
    return True


_HEAD = 1 << 16  # rows checked first by the order tests
_BLOCK = 1 << 20  # rows per block of the full order test


def distinct(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` for a 1-d array, in one pass when it is already non-decreasing.

    Examples
    --------
    >>> distinct(np.array([1, 1, 4, 9, 9])).tolist(), distinct(np.array([3, 1, 3])).tolist()
    ([1, 4, 9], [1, 3])
    """
    values = np.asarray(values)
    if len(values) > 1:
        step = values[1:] != values[:-1]
        if bool(np.all(values[1:] >= values[:-1])):
            return values[np.r_[True, step]]
        # Runs of equal values (a user's events of one day and segment) are dropped before the
        # sort or hash: the same distinct values from a much shorter array.
        values = values[np.r_[True, step]]
    return np.unique(values)


def distinct_per_code(value_code: np.ndarray, user_code: np.ndarray, n_values: int, n_users: int) -> np.ndarray:
    """Number of distinct users among the rows of each value code (``groupby(value).user.nunique()``).

    A bitmap of (value, user) pairs when it is small (at most 128 MiB), else the distinct pairs.

    Examples
    --------
    >>> distinct_per_code(np.array([0, 0, 1, 0]), np.array([0, 0, 0, 1]), 3, 2).tolist()
    [2, 1, 0]
    """
    value_code, user_code = np.asarray(value_code, dtype=np.int64), np.asarray(user_code, dtype=np.int64)
    if n_values * n_users <= 2 ** 27:
        seen = np.zeros(n_values * n_users, dtype=bool)
        seen[value_code * n_users + user_code] = True
        return seen.reshape(n_values, n_users).sum(axis=1)
    pairs = distinct(user_code * n_values + value_code)  # user-major: canonical rows come in runs of a user
    return np.bincount(pairs % n_values, minlength=n_values)


def order_by(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """``np.lexsort((secondary, primary))``: the identity when the rows are already in that order.

    Examples
    --------
    >>> order_by(np.array([1, 0, 0]), np.array([0, 9, 3])).tolist()
    [2, 1, 0]
    """
    if is_sorted_by(primary, secondary):
        return np.arange(len(primary))
    n = len(primary)
    if (len(secondary) < 2 or bool(np.all(secondary[1:] >= secondary[:-1]))) and primary.min() >= 0:
        # Rows already in ``secondary`` order (a log written in time order): a stable sort by
        # ``primary`` alone is enough.
        groups = int(primary.max()) + 1
        if groups <= 4 * n + 1024:
            order = group_order(primary, groups)
            if order is not None:
                return order
        if groups * n < 2**62:
            # Sorting the unique keys primary * n + position (numpy's SIMD sort) is several
            # times faster than lexsort and gives the same stable order.
            keys = primary.astype(np.int64) * n + np.arange(n)
            keys.sort()
            return keys % n
    return np.lexsort((secondary, primary))


def group_order(codes: np.ndarray, groups: int) -> np.ndarray | None:
    """Positions of ``codes`` (integers in ``[0, groups)``) stably sorted: a counting sort, O(n + groups).

    The same order as ``np.argsort(codes, kind="stable")``; at 10M rows of 1M user codes
    about 4× faster than sorting (pandas' own counting sort, which its groupby uses).
    None when this pandas does not have it (the caller then sorts).

    Examples
    --------
    >>> group_order(np.array([2, 0, 2, 1, 0]), 3).tolist()
    [1, 4, 3, 0, 2]
    """
    try:
        from pandas._libs.algos import groupsort_indexer
    except ImportError:  # pragma: no cover - private pandas API
        return None
    try:
        order, _ = groupsort_indexer(np.asarray(codes, dtype=np.intp), groups)
    except (TypeError, ValueError):  # pragma: no cover - another signature
        return None
    return order


def dense_codes(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` for non-negative integer keys.

    When the keys span a small range (cohort × segment numbers) a histogram
    replaces the sort.

    Examples
    --------
    >>> uniques, inverse = dense_codes(np.array([7, 2, 7, 0]))
    >>> uniques.tolist(), inverse.tolist()
    ([0, 2, 7], [2, 1, 2, 0])
    """
    keys = np.asarray(keys)
    if len(keys) == 0 or keys.max() >= 4 * len(keys) + 1024:
        uniques, inverse = np.unique(keys, return_inverse=True)
        return uniques, inverse.ravel()
    present = np.bincount(keys) > 0
    return np.flatnonzero(present), (np.cumsum(present) - 1)[keys]
