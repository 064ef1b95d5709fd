"""What loading tells the analyst: the error that lists every problem, and the load report."""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

__all__ = ["DataValidationError", "LoadReport", "load_report", "describe_source", "closest_column", "row_label"]

MAX_ROWS_LISTED = 5


class DataValidationError(ValueError):
    """Raised when an input table cannot be used; lists every problem found.

    Attributes
    ----------
    problems : list of str
        One human-readable sentence per problem (column, rows, fix).
    source : str
        What was being loaded (file path or "DataFrame").

    Examples
    --------
    >>> str(DataValidationError(["column 'x' is missing"], "events (a.csv)"))
    "1 problem(s) in events (a.csv):\\n  - column 'x' is missing"
    """

    def __init__(self, problems: list[str], source: str = "input"):
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in {source}:\n{lines}")


@dataclass
class LoadReport:
    """What a loader did to the input: shown by the data overview notebook."""

    source: str
    rows_read: int
    rows_loaded: int = 0
    duplicates_dropped: int = 0
    rows_outside_window: int = 0
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def load_report(frame: pd.DataFrame) -> LoadReport | None:
    """The :class:`LoadReport` a loader attached to ``frame`` (None if absent).

    Examples
    --------
    >>> from engagement_utils.io import load_events
    >>> ev = load_events(pd.DataFrame({"user_id": [1, 1], "timestamp": ["2024-01-01"] * 2, "event": ["open"] * 2}))
    >>> load_report(ev).duplicates_dropped
    1
    """
    report = frame.attrs.get("load_report")
    return LoadReport(**report) if isinstance(report, dict) else None


def describe_source(source) -> str:
    """``"DataFrame"`` or the path as text.

    Examples
    --------
    >>> describe_source(pd.DataFrame()), describe_source("data/events.csv")
    ('DataFrame', 'data/events.csv')
    """
    return "DataFrame" if isinstance(source, pd.DataFrame) else str(source)


def closest_column(name: str, candidates) -> str:
    """A parenthesis naming the closest column, or the columns present.

    Examples
    --------
    >>> closest_column("userid", ["user_id", "event"])
    " (closest existing column: 'user_id')"
    """
    lowered = {str(c).lower(): str(c) for c in candidates}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    if match:
        return f" (closest existing column: {lowered[match[0]]!r})"
    shown = ", ".join(repr(str(c)) for c in list(candidates)[:12])
    return f" (columns present: {shown})"


def row_label(positions: np.ndarray, from_csv: bool) -> str:
    """The first offending rows, as CSV line numbers (header = line 1) or 0-based row positions.

    Examples
    --------
    >>> row_label(np.array([0, 4]), from_csv=True), row_label(np.arange(7), from_csv=False)
    ('CSV line(s) 2, 6', 'row(s) 0, 1, 2, 3, 4 and 2 more')
    """
    shown = positions[:MAX_ROWS_LISTED]
    # CSV line numbers count the header as line 1, so data row i sits on line i + 2.
    if from_csv:
        text = ", ".join(str(int(p) + 2) for p in shown)
        prefix = "CSV line(s)"
    else:
        text = ", ".join(str(int(p)) for p in shown)
        prefix = "row(s)"
    more = f" and {len(positions) - len(shown)} more" if len(positions) > len(shown) else ""
    return f"{prefix} {text}{more}"
