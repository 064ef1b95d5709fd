"""Users of an engagement measure: one row per user with first activity and properties.

Shared by the metric modules: :func:`user_frame` (who the users are, when
they arrived, their breakdown properties) and :func:`rate_with_ci` (a rate
column with its Wilson interval).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..core import EventLog
from ..inputs import check_column
from ..stats import wilson_ci

__all__ = ["user_frame", "rate_with_ci"]


def user_frame(log: EventLog, users: pd.DataFrame | None = None, columns: Sequence[str] = (),
               mask: np.ndarray | None = None) -> pd.DataFrame:
    """One row per user: ``user_id``, ``code`` (the log's user code, -1 without events), ``first_seen`` and ``columns``.

    ``first_seen`` is the user's first (masked) event over all loaded history.
    With a users table every user in it gets a row (``first_seen`` is the
    ``signup_at`` of users without events, else NaT) and properties come from
    it; otherwise a property is its value on the user's first event.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["b", "a", "a"], "event": "x", "platform": ["web", "ios", "web"],
    ...     "timestamp": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-01"], utc=True)})
    >>> user_frame(EventLog(ev), columns=["platform"])[["user_id", "code", "platform"]].values.tolist()
    [['a', 0, 'web'], ['b', 1, 'web']]
    """
    first = log.first_rows(mask)
    code = log.user_code[first]
    seen = pd.DataFrame({"user_id": log.users.take(code).astype(object), "code": code,
                         "first_seen": log.frame["timestamp"].iloc[first].reset_index(drop=True)})
    if users is None:
        for col in columns:
            log.check_column(col, "segment")
            seen[col] = log.frame[col].iloc[first].to_numpy()
        return seen
    for col in columns:
        check_column(users, col, "segment", "users table")
    table = users[["user_id", *columns]].copy(deep=False)
    table["user_id"] = table["user_id"].astype(object)
    out = table.merge(seen, on="user_id", how="left")
    out["code"] = out["code"].fillna(-1).astype(np.int64)
    if "signup_at" in users.columns:
        # .array, not .to_numpy(): aware timestamps would become one Timestamp object per user
        signup = pd.to_datetime(users["signup_at"], utc=True).array
        out["first_seen"] = out["first_seen"].fillna(pd.Series(signup, index=out.index))
    return out


def rate_with_ci(frame: pd.DataFrame, successes: str, trials: str, rate: str, alpha: float) -> pd.DataFrame:
    """Add ``rate`` = successes / trials and its Wilson ``ci_low`` / ``ci_high`` (level ``1 - alpha``) to ``frame``.

    Examples
    --------
    >>> rate_with_ci(pd.DataFrame({"x": [1], "n": [4]}), "x", "n", "rate", 0.05)["rate"].tolist()
    [0.25]
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        frame[rate] = frame[successes] / frame[trials]
    frame["ci_low"], frame["ci_high"] = wilson_ci(frame[successes], frame[trials], alpha)
    return frame
