"""Option checks shared by every module, with one message format.

The format follows scikit-learn's ``validate_params``: the parameter, what it
must be, what it got, and the closest allowed value::

    The 'period' parameter must be one of {'day', 'week', 'month'}; got 'weak' — did you mean 'week'?
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["check_option", "check_alpha", "check_fraction", "check_positive_int", "closest", "as_event_list"]


def closest(value: Any, allowed: Iterable[Any]) -> Any | None:
    """The allowed value nearest to ``value`` as text (None when nothing is close).

    Examples
    --------
    >>> closest("weak", ["day", "week", "month"])
    'week'
    >>> closest("zzz", ["day", "week"]) is None
    True
    """
    options = list(allowed)
    by_text = {str(option): option for option in options}
    match = difflib.get_close_matches(str(value), list(by_text), n=1, cutoff=0.6)
    return by_text[match[0]] if match else None


def _allowed_text(allowed: Sequence[Any]) -> str:
    return "{" + ", ".join(repr(a) for a in allowed) + "}"


def check_option(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``; else raise ``ValueError`` in the shared format.

    Examples
    --------
    >>> check_option("period", "week", ("day", "week", "month"))
    'week'
    >>> check_option("period", "weak", ("day", "week", "month"))
    Traceback (most recent call last):
    ...
    ValueError: The 'period' parameter must be one of {'day', 'week', 'month'}; got 'weak' — did you mean 'week'?
    """
    try:
        if value in allowed:
            return value
    except TypeError:  # unhashable value against a set
        pass
    hint = closest(value, allowed)
    suggestion = f" — did you mean {hint!r}?" if hint is not None else ""
    raise ValueError(f"The {name!r} parameter must be one of {_allowed_text(allowed)}; got {value!r}{suggestion}")


def check_alpha(alpha: Any, name: str = "alpha") -> float:
    """A significance level strictly between 0 and 1 (an interval's level is ``1 - alpha``).

    Examples
    --------
    >>> check_alpha(0.05)
    0.05
    >>> check_alpha(95)
    Traceback (most recent call last):
    ...
    ValueError: The 'alpha' parameter must be a number strictly between 0 and 1 (the interval level is 1 - alpha, e.g. 0.05 for 95%); got 95
    """
    return check_fraction(alpha, name, "(the interval level is 1 - alpha, e.g. 0.05 for 95%)")


def check_fraction(value: Any, name: str, hint: str = "") -> float:
    """A number strictly between 0 and 1."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1
    if not ok:
        extra = f" {hint}" if hint else ""
        raise ValueError(f"The {name!r} parameter must be a number strictly between 0 and 1{extra}; got {value!r}")
    return float(value)


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """A whole number of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (isinstance(value, float) and value.is_integer()):
        raise ValueError(f"The {name!r} parameter must be a whole number >= {minimum}; got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"The {name!r} parameter must be a whole number >= {minimum}; got {value!r}")
    return int(value)


def as_event_list(names: str | Iterable[str] | None, name: str) -> list[str] | None:
    """Normalize an event-list parameter: a name or a list of names (None stays None).

    Examples
    --------
    >>> as_event_list("purchase", "conversion_events")
    ['purchase']
    >>> as_event_list(None, "start_events") is None
    True
    """
    if names is None:
        return None
    listed = [names] if isinstance(names, str) else list(names)
    if not listed or not all(isinstance(n, str) and n for n in listed):
        raise ValueError(f"The {name!r} parameter must be an event name or a list of event names; got {names!r}")
    return listed
