"""Inputs of the engagement analyses: the event log in a timezone, breakdown columns of derived tables.

:func:`as_log` turns the ``events`` argument (a frame or an
:class:`~engagement_utils.core.EventLog`) into a log; ``tz=None`` keeps a
log's own timezone, so a notebook's ``log = EventLog(events, tz=p.tz)`` is
used as built.  Event logs check and label their breakdown columns through
:meth:`EventLog.segment`; tables that are not event logs (session tables,
per-user outcomes, users) use :func:`check_column` / :func:`segment_column`,
with the same message format and missing-value label
(:data:`engagement_utils.core.MISSING_SEGMENT`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .core import EventLog, segment_labels
from .validation import closest

__all__ = ["as_log", "check_column", "segment_column"]


def as_log(events: "pd.DataFrame | EventLog", tz: str | None = None) -> EventLog:
    """``events`` as an :class:`EventLog`: in ``tz``, or in the log's own timezone (UTC for a frame) when None.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a"], "event": ["x"], "timestamp": pd.to_datetime(["2024-01-01"], utc=True)})
    >>> log = EventLog(ev, tz="Europe/Berlin")
    >>> as_log(log) is log, as_log(ev).tz, as_log(log, "UTC").tz
    (True, 'UTC', 'UTC')
    """
    if tz is None:
        tz = events.tz if isinstance(events, EventLog) else "UTC"
    return EventLog.of(events, tz)


def check_column(frame: pd.DataFrame, column: str, parameter: str = "segment", what: str = "table") -> None:
    """Raise a ``ValueError`` naming ``parameter`` unless ``frame`` has ``column`` with at least one value.

    Examples
    --------
    >>> check_column(pd.DataFrame({"platform": ["ios"]}), "platfrom", what="session table")
    Traceback (most recent call last):
    ...
    ValueError: The 'segment' parameter names column 'platfrom', which the session table does not have — did you mean 'platform'? Columns present: ['platform']
    """
    if column not in frame.columns:
        hint = closest(column, [str(c) for c in frame.columns])
        suggestion = f" — did you mean {hint!r}?" if hint is not None else ""
        raise ValueError(f"The {parameter!r} parameter names column {column!r}, which the {what} does not have{suggestion} "
                         f"Columns present: {list(frame.columns)}")
    if not frame[column].notna().any():
        raise ValueError(f"The {parameter!r} column {column!r} has no values in the {what}; choose another column or fill it")


def segment_column(frame: pd.DataFrame, column: str, parameter: str = "segment", what: str = "table") -> np.ndarray:
    """The checked column's values as segment labels (missing values labelled ``"(missing)"``).

    Examples
    --------
    >>> segment_column(pd.DataFrame({"platform": ["ios", None]}), "platform").tolist()
    ['ios', '(missing)']
    """
    check_column(frame, column, parameter, what)
    return segment_labels(frame[column])
