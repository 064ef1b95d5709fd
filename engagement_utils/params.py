"""Convert and validate notebook parameters in one place.

A notebook's parameters arrive in several shapes: the defaults typed in its
``parameters`` cell, values injected by papermill from ``-p NAME VALUE``
(which guesses types: ``"010"`` becomes ``10``) and values from a YAML file
(dates stay strings).  Every notebook therefore converts its parameters with
:func:`check_parameters` right after the ``parameters`` cell, so a bad value
stops the run at the top with a message that says what to fix, instead of
failing deep inside an analysis.

Example notebook cells::

    # parameters  (cell tagged "parameters")
    events_path = "data/demo/events.parquet"
    start = None
    period = "week"

    # next cell
    from engagement_utils.params import check_parameters
    p = check_parameters(globals(), {
        "events_path": "path",
        "start": "date",
        "period": ("day", "week", "month"),
    })
    events = load_events(p.events_path)

Specs
-----
``"str"``, ``"optional_str"`` (None/"" → None), ``"int"``, ``"float"``,
``"bool"``, ``"dataset"`` (a data-set description: a YAML file path or a mapping, checked by
:func:`engagement_utils.dataset.describe_dataset`; None/"" → None), ``"auto_or_int"`` ("auto" or a whole number ≥ 1), ``"path"`` (must exist; returns an absolute
:class:`pathlib.Path`), ``"optional_path"`` (None/"" → None),
``"date"`` (→ :class:`pandas.Timestamp`; None/"" → None),
``"timedelta"`` (→ :class:`pandas.Timedelta`; None/"" → None), ``"tz"`` (an
IANA zone name such as ``"Europe/Berlin"``), ``"list"`` (list of str; a
comma-separated string is split), ``"dict"`` (a mapping, or a JSON/YAML
string of one), or a tuple/list of allowed values (a choice).
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import types
import zoneinfo
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

__all__ = ["ParameterError", "check_parameters", "notebook_schema", "SPECS"]

_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}


class ParameterError(ValueError):
    """Raised by :func:`check_parameters`; lists every invalid parameter.

    Attributes
    ----------
    problems : list of str
        One sentence per invalid parameter (name, bad value, how to fix it).
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} invalid parameter(s):\n{lines}")


class _Invalid(Exception):
    """One conversion failure; the message is completed with the parameter name."""


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _to_str(value: Any) -> str:
    # papermill's -p turns "2024" into 2024; a str parameter gets its text back.
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise _Invalid("expected text; pass it as a string")


def _to_optional_str(value: Any) -> str | None:
    return None if _is_blank(value) else _to_str(value)


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _Invalid("expected a whole number, not true/false")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip().replace("_", ""))
        except ValueError:
            pass
    raise _Invalid("expected a whole number such as 7")


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _Invalid("expected a number, not true/false")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise _Invalid("expected a number such as 0.05")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _Invalid("expected true or false (also accepted: yes/no, 1/0)")


def _to_path(value: Any) -> Path:
    if _is_blank(value) or not isinstance(value, (str, Path)):
        raise _Invalid("expected a file or folder path as a string")
    path = Path(value).expanduser()
    resolved = path if path.is_absolute() else Path.cwd() / path
    if not resolved.exists():
        raise _Invalid(
            f"{str(resolved)!r} does not exist (relative paths are resolved from "
            f"the working directory {str(Path.cwd())!r}); check the path, or run "
            "`make data` if it is the demo data"
        )
    return resolved


def _to_optional_path(value: Any) -> Path | None:
    return None if _is_blank(value) else _to_path(value)


def _to_date(value: Any) -> pd.Timestamp | None:
    if _is_blank(value):
        return None
    if isinstance(value, bool):
        raise _Invalid("expected a date such as '2024-01-31'")
    if isinstance(value, int):
        # papermill's -p turns 20240131 into an int; read it as the text typed.
        value = str(value)
    if isinstance(value, (str, dt.date, pd.Timestamp)):
        try:
            return pd.Timestamp(value)
        except (ValueError, TypeError):
            pass
    raise _Invalid("expected a date such as '2024-01-31' or '2024-01-31 08:00'")


def _to_timedelta(value: Any) -> pd.Timedelta | None:
    if _is_blank(value):
        return None
    if isinstance(value, (dt.timedelta, pd.Timedelta)):
        return pd.Timedelta(value)
    if isinstance(value, str):
        try:
            # a bare number is ambiguous (pandas would read nanoseconds)
            if not value.strip().replace(".", "", 1).isdigit():
                return pd.Timedelta(value.strip())
        except ValueError:
            pass
    raise _Invalid("expected a duration with a unit such as '30min', '24h' or '7D'")


def _to_tz(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        name = value.strip()
        try:
            zoneinfo.ZoneInfo(name)
            return name
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            close = difflib.get_close_matches(name, sorted(zoneinfo.available_timezones()), n=3)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise _Invalid(f"unknown time zone{hint}; use an IANA name such as 'UTC' or 'Europe/Berlin'")
    raise _Invalid("expected an IANA time zone name such as 'UTC' or 'Europe/Berlin'")


def _to_list(value: Any) -> list[str]:
    if _is_blank(value):
        return []
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, (list, tuple)):
        return [_to_str(item) for item in value]
    raise _Invalid("expected a list or a comma-separated string such as 'signup,purchase'")


def _to_dict(value: Any) -> dict:
    if _is_blank(value):
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            # YAML is a superset of JSON, so one parser reads both forms
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    raise _Invalid('expected a mapping such as {"mobile": "app"} (a dict, or JSON/YAML text)')


def _to_auto_or_int(value: Any) -> str | int:
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        number = _to_int(value)
    except _Invalid:
        raise _Invalid("expected 'auto' or a whole number such as 4") from None
    if number < 1:
        raise _Invalid("expected 'auto' or a whole number such as 4")
    return number


def _to_dataset(value: Any):
    if _is_blank(value):
        return None
    from .dataset import DataSetError, describe_dataset  # loads YAML and checks paths: only when asked

    try:
        return describe_dataset(value)
    except DataSetError as exc:
        raise _Invalid("; ".join(exc.problems)) from None


SPECS: dict[str, Callable[[Any], Any]] = {
    "str": _to_str,
    "optional_str": _to_optional_str,
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "path": _to_path,
    "optional_path": _to_optional_path,
    "date": _to_date,
    "timedelta": _to_timedelta,
    "tz": _to_tz,
    "list": _to_list,
    "dict": _to_dict,
    "auto_or_int": _to_auto_or_int,
    "dataset": _to_dataset,
}
"""Spec name → converter; see the module docstring for what each accepts."""


def _choice(value: Any, choices: tuple | list) -> Any:
    if value in choices:
        return choices[choices.index(value)]
    # "7" from YAML should select the choice 7, and 7 from -p the choice "7"
    for choice in choices:
        if not isinstance(value, bool) and str(choice) == str(value).strip():
            return choice
    raise _Invalid(f"expected one of {', '.join(map(repr, choices))}")


def _show(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_parameters(values: Mapping[str, Any], schema: Mapping[str, Any]) -> types.SimpleNamespace:
    """Convert notebook parameters to their types, reporting all problems at once.

    Parameters
    ----------
    values : mapping
        Parameter values by name, usually ``globals()`` right after the
        ``parameters`` cell; names not in ``schema`` are ignored.
    schema : mapping
        Parameter name → spec: one of ``"str"``, ``"optional_str"``,
        ``"int"``, ``"float"``, ``"bool"``, ``"path"``, ``"optional_path"``,
        ``"date"``, ``"timedelta"``, ``"tz"``, ``"list"``, ``"dict"``, or a
        tuple/list of allowed values.

    Returns
    -------
    types.SimpleNamespace
        One attribute per schema entry holding the converted value.

    Raises
    ------
    ParameterError
        (a ``ValueError``) listing every parameter whose value cannot be
        converted, with the bad value and how to fix it.
    ValueError
        If ``schema`` uses an unknown spec (a bug in the notebook).

    Examples
    --------
    >>> p = check_parameters(
    ...     {"experiment": 10, "period": "week", "start": "2024-01-01", "tz": "UTC"},
    ...     {"experiment": "str", "period": ("day", "week", "month"),
    ...      "start": "date", "tz": "tz"},
    ... )
    >>> p.experiment, p.period, p.start
    ('10', 'week', Timestamp('2024-01-01 00:00:00'))
    >>> check_parameters({"period": "weak"}, {"period": ("day", "week")})
    Traceback (most recent call last):
    ...
    engagement_utils.params.ParameterError: 1 invalid parameter(s):
      - parameter 'period' = 'weak': expected one of 'day', 'week'
    """
    converters: dict[str, Callable[[Any], Any]] = {}
    for name, spec in schema.items():
        if isinstance(spec, (tuple, list)):
            if not spec:
                raise ValueError(f"parameter {name!r}: the list of allowed values is empty")
            converters[name] = lambda value, choices=tuple(spec): _choice(value, choices)
        elif isinstance(spec, str) and spec in SPECS:
            converters[name] = SPECS[spec]
        else:
            raise ValueError(
                f"parameter {name!r}: unknown spec {spec!r}; use one of "
                f"{', '.join(map(repr, SPECS))} or a tuple of allowed values"
            )

    problems: list[str] = []
    converted: dict[str, Any] = {}
    for name, convert in converters.items():
        if name not in values:
            problems.append(f"parameter {name!r} is not defined; add it to the cell tagged 'parameters'")
            continue
        try:
            converted[name] = convert(values[name])
        except _Invalid as exc:
            problems.append(f"parameter {name!r} = {_show(values[name])}: {exc}")
    if problems:
        raise ParameterError(problems)
    return types.SimpleNamespace(**converted)


def notebook_schema(notebook: str) -> dict[str, Any]:
    """The parameter schema of a shipped notebook, declared once in :mod:`engagement_utils.schemas`.

    Examples
    --------
    >>> notebook_schema("00_data_overview")["period"]
    ('day', 'week', 'month')
    """
    from .schemas import SCHEMAS  # the schemas name analysis options; import them only when asked

    if notebook not in SCHEMAS:
        from .validation import check_option

        check_option("notebook", notebook, sorted(SCHEMAS))
    return dict(SCHEMAS[notebook])
