"""The shared option check (VOCABULARY.md: one message format for every bad option)."""

from __future__ import annotations

import difflib
from typing import Collection

__all__ = ["check_option"]


def check_option(name: str, value, allowed: Collection) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed``, with a did-you-mean.

    Examples
    --------
    >>> check_option("period", "week", ("day", "week", "month"))
    >>> check_option("period", "weak", ("day", "week", "month"))
    Traceback (most recent call last):
    ...
    ValueError: The 'period' parameter must be one of {'day', 'week', 'month'}; got 'weak' — did you mean 'week'?
    """
    allowed = list(allowed)
    if value in allowed:
        return
    shown = "{" + ", ".join(repr(a) for a in allowed) + "}"
    close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1, cutoff=0.6)
    hint = f" — did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"The {name!r} parameter must be one of {shown}; got {value!r}{hint}")
