"""Turn someone else's export (a transactions table) into the canonical events frame.

:func:`load_source` is :func:`engagement_utils.io.load_events` with a few
declarative loading options in front of it, so an analyst can bring a shop's,
a warehouse's or an analytics tool's export without writing pandas.  Every
option is plain data (strings, lists, mappings), so the same options work
from Python, as a papermill parameter (a dict ``source_options``) and from a
YAML parameter file::

    source_options:
      column_map: {CustomerID: user_id, InvoiceDate: timestamp, InvoiceNo: order_id}
      event: purchase
      event_rules: {refund: InvoiceNo startswith C}
      revenue: Quantity * UnitPrice
      filters:
        - drop: duplicates
        - drop: InvoiceNo startswith C
        - keep: Quantity > 0
        - keep: UnitPrice > 0
        - drop: CustomerID is missing

Order of work: read the table, derive ``event`` (constant, then
``event_rules``), compute ``revenue``, apply ``filters`` in the order given
(each step's removed rows are counted), clean ``id_columns``, then hand the
frame to :func:`~engagement_utils.io.load_events` with ``column_map``, which
validates it exactly as it validates any event log.

Column names
    Rules and expressions name the input's own columns (as in the file, before
    ``column_map`` renames them) and the derived ``event`` (when the ``event``
    option creates it) and ``revenue``.  ``event_rules`` that refine an
    existing event column write into that column, under its own name.
    Write a name containing spaces or symbols in backticks: ```Customer ID```.

Conditions (``event_rules`` values and ``filters`` entries)
    ``<column> <operator> <value>`` with the operators

    * ``startswith``, ``endswith``, ``contains``: text tests (the value is
      taken as text; a missing value never matches);
    * ``==``, ``!=``: numeric when the value is a number, else text;
    * ``<``, ``<=``, ``>``, ``>=``: numeric (the value must be a number);
    * ``is missing``, ``is not missing`` (no value).

    Quote a text value containing spaces: ``Country == 'United Kingdom'``.
    A comparison with a missing value is false, so ``keep: Quantity > 0``
    also drops rows with no quantity.

Revenue expression
    Column names, numbers, ``+ - * /`` and parentheses, e.g.
    ``Quantity * UnitPrice`` or ``(gross - tax) / 100``.  It is parsed by a
    small grammar here, never passed to ``eval``.  Non-numeric values in a
    named column are an error naming the column.

Refunds and the sign of revenue
    The canonical ``revenue`` is never negative (``load_events`` rejects
    negative values): the sign of a refund lives in its event name.  So on rows
    whose event was set by an ``event_rules`` entry, revenue is stored as its
    absolute value (a cancelled invoice line of ``-2 × 3.50`` becomes
    ``refund`` with revenue ``7.0``).  A negative value on any other row is
    left alone and reported by ``load_events``, because it means a rule is
    missing.

Cleaning log
    The frame's ``attrs["cleaning_log"]`` lists every step with the rows it
    removed (see :func:`cleaning_log`), and each step that removed rows is also
    a sentence in the load report's warnings
    (:func:`engagement_utils.io.load_report`).  ``load_events``' own steps
    (exact duplicates after mapping, the date window) close the log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

import os

from . import io
from .io import DataValidationError, clean_ids, closest_column, describe_source, read_table
from .io.cache import cached_frame
from .validation import check_option

__all__ = ["load_source", "cleaning_log", "parse_condition", "parse_expression", "Condition", "SOURCE_OPTIONS"]

# The keys a ``source_options`` mapping may hold (load_source's keyword options).
SOURCE_OPTIONS = ("column_map", "event", "event_rules", "revenue", "filters", "id_columns", "timestamp_format",
                  "start", "end", "drop_duplicates", "encoding", "delimiter", "cache")

_TEXT_OPS = ("startswith", "endswith", "contains")
_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
_EXPRESSION_HELP = "allowed: column names, numbers, + - * / and parentheses"
_CONDITION_HELP = (
    "write '<column> <operator> <value>' with an operator from "
    f"{list(_TEXT_OPS) + list(_COMPARISONS)}, or '<column> is missing' / '<column> is not missing'"
)
_DUPLICATES = "duplicates"

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<name>`[^`]*`)
      | (?P<text>'[^']*'|"[^"]*")
      | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?![\w.]))
      | (?P<symbol><=|>=|==|!=|<|>|[-+*/()])
      | (?P<word>[^\s`'"<>=!+*/()-]+)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str  # "name", "text", "number", "symbol" or "word"
    text: str  # the value: unquoted name/text, or the literal
    position: int


def _tokenize(source: str, what: str) -> list[_Token]:
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"{what}: expected a non-empty string, got {source!r}")
    tokens, position = [], 0
    stripped = source.rstrip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None or match.end() == position:
            raise ValueError(f"{what} {source!r}: cannot read {stripped[position:].strip()[:20]!r} at position {position}")
        kind = match.lastgroup
        raw = match.group(kind)
        text = raw[1:-1] if kind in ("name", "text") else raw
        tokens.append(_Token(kind, text, match.start(kind)))
        position = match.end()
    return tokens


# --------------------------------------------------------------------------- expressions


class _Parser:
    """Recursive descent over tokens for ``expr := term (+|- term)*``, ``term := factor (*|/ factor)*``."""

    def __init__(self, source: str, what: str):
        self.source, self.what = source, what
        self.tokens = _tokenize(source, what)
        self.index = 0

    def fail(self, message: str) -> ValueError:
        return ValueError(f"{self.what} {self.source!r}: {message}; {_EXPRESSION_HELP}")

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise self.fail("ends too early")
        self.index += 1
        return token

    def expression(self):
        node = self.term()
        while (token := self.peek()) is not None and token.text in ("+", "-") and token.kind == "symbol":
            self.index += 1
            node = (token.text, node, self.term())
        return node

    def term(self):
        node = self.factor()
        while (token := self.peek()) is not None and token.text in ("*", "/") and token.kind == "symbol":
            self.index += 1
            node = (token.text, node, self.factor())
        return node

    def factor(self):
        token = self.take()
        if token.kind == "symbol" and token.text in ("-", "+"):
            operand = self.factor()
            return ("neg", operand) if token.text == "-" else operand
        if token.kind == "symbol" and token.text == "(":
            node = self.expression()
            closing = self.take()
            if closing.text != ")" or closing.kind != "symbol":
                raise self.fail(f"expected ')' at position {closing.position}")
            return node
        if token.kind == "number":
            return ("number", float(token.text))
        if token.kind in ("word", "name"):
            return ("column", token.text)
        raise self.fail(f"unexpected {token.text!r} at position {token.position}")

    def parse(self):
        node = self.expression()
        if (extra := self.peek()) is not None:
            raise self.fail(f"unexpected {extra.text!r} at position {extra.position}")
        return node


def parse_expression(expression: str) -> tuple:
    """Parse an arithmetic expression of columns into a small tree (no ``eval``).

    Parameters
    ----------
    expression : str
        Column names (in backticks if they contain spaces or symbols),
        numbers, ``+ - * /`` and parentheses; usual precedence.

    Returns
    -------
    tuple
        ``("column", name)``, ``("number", value)``, ``("neg", node)`` or
        ``(operator, left, right)``.

    Raises
    ------
    ValueError
        Anything else (``**``, function calls, attribute access, ...), with the
        position of the offending token.

    Examples
    --------
    >>> parse_expression("Quantity * UnitPrice")
    ('*', ('column', 'Quantity'), ('column', 'UnitPrice'))
    >>> parse_expression("(`gross amount` - 1.5) / 2")
    ('/', ('-', ('column', 'gross amount'), ('number', 1.5)), ('number', 2.0))
    """
    return _Parser(expression, "revenue expression").parse()


def _expression_columns(node: tuple) -> list[str]:
    if node[0] == "column":
        return [node[1]]
    if node[0] == "number":
        return []
    return [name for child in node[1:] for name in _expression_columns(child)]


def _evaluate(node: tuple, numbers: Mapping[str, pd.Series]):
    kind = node[0]
    if kind == "column":
        return numbers[node[1]]
    if kind == "number":
        return node[1]
    if kind == "neg":
        return -_evaluate(node[1], numbers)
    left, right = _evaluate(node[1], numbers), _evaluate(node[2], numbers)
    if kind == "+":
        return left + right
    if kind == "-":
        return left - right
    if kind == "*":
        return left * right
    with np.errstate(divide="ignore", invalid="ignore"):
        return left / right


# --------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class Condition:
    """A parsed row condition: ``column``, ``operator`` and ``value`` (None for the missing tests)."""

    column: str
    operator: str
    value: str | float | None

    def __str__(self) -> str:
        column = self.column if _is_bare_word(self.column) else f"`{self.column}`"
        if self.value is None:
            return f"{column} {self.operator}"
        value = self.value
        if isinstance(value, str):
            value = value if _is_bare_word(value) else repr(value)
        elif value.is_integer():
            value = int(value)
        return f"{column} {self.operator} {value}"


def _is_bare_word(text: str) -> bool:
    """True when ``text`` reads back as the same single unquoted word."""
    token = _TOKEN.fullmatch(text)
    return token is not None and token.lastgroup == "word"


def parse_condition(condition: str) -> Condition:
    """Parse ``'<column> <operator> <value>'`` (see the module docstring for the operators).

    Raises
    ------
    ValueError
        Naming the condition and the allowed forms.

    Examples
    --------
    >>> parse_condition("InvoiceNo startswith C")
    Condition(column='InvoiceNo', operator='startswith', value='C')
    >>> parse_condition("Quantity > -1")
    Condition(column='Quantity', operator='>', value=-1.0)
    >>> parse_condition("`Customer ID` is not missing")
    Condition(column='Customer ID', operator='is not missing', value=None)
    """
    tokens = _tokenize(condition, "condition")

    def fail(reason: str) -> ValueError:
        return ValueError(f"condition {condition!r}: {reason}; {_CONDITION_HELP}")

    if tokens[0].kind not in ("word", "name"):
        raise fail(f"expected a column name first, found {tokens[0].text!r}")
    column, rest = tokens[0].text, tokens[1:]
    if not rest:
        raise fail("no operator")
    words = [t.text.lower() for t in rest]
    if words in (["is", "missing"], ["is", "not", "missing"]):
        return Condition(column, " ".join(words), None)
    operator = rest[0].text if rest[0].kind == "symbol" else rest[0].text.lower()
    if operator not in _TEXT_OPS + _COMPARISONS:
        raise fail(f"unknown operator {rest[0].text!r}")
    value_tokens = rest[1:]
    negative = len(value_tokens) == 2 and value_tokens[0].kind == "symbol" and value_tokens[0].text == "-"
    if negative and value_tokens[1].kind == "number":
        value_tokens = value_tokens[1:]
    if len(value_tokens) != 1 or value_tokens[0].kind == "symbol":
        raise fail("expected exactly one value after the operator (quote text containing spaces)")
    value = value_tokens[0]
    if operator in _TEXT_OPS:
        return Condition(column, operator, value.text)
    if value.kind == "number":
        return Condition(column, operator, -float(value.text) if negative else float(value.text))
    if operator not in ("==", "!="):
        raise fail(f"{operator!r} compares numbers, but {value.text!r} is not a number")
    return Condition(column, operator, value.text)


def _numeric(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    raw = frame[column]
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("float64")
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = values.isna() & raw.notna()
    if bad.any():
        raise DataValidationError(
            [f"column {column!r} used in {what} has {int(bad.sum())} non-numeric value(s) (e.g. {raw[bad].iloc[0]!r}); "
             "use a numeric column or clean it first"],
            "source options",
        )
    return values


def _matches(frame: pd.DataFrame, condition: Condition, what: str) -> np.ndarray:
    """Boolean mask of rows meeting ``condition``; missing values never match a test."""
    values = frame[condition.column]
    op, value = condition.operator, condition.value
    if op == "is missing":
        mask = values.isna()
    elif op == "is not missing":
        mask = values.notna()
    elif op in _TEXT_OPS or isinstance(value, str):
        text = values.astype("string")
        if op == "startswith":
            mask = text.str.startswith(value)
        elif op == "endswith":
            mask = text.str.endswith(value)
        elif op == "contains":
            mask = text.str.contains(value, regex=False)
        else:
            mask = text.eq(value) if op == "==" else text.ne(value)
    else:
        numbers = _numeric(frame, condition.column, what)
        compare = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
        # NaN compares false under every operator, including !=: a missing value is not known to differ.
        return compare[op](numbers.to_numpy(), value) & numbers.notna().to_numpy()
    return mask.fillna(False).to_numpy(dtype=bool)


def _check_columns(available: Sequence[str], columns: Sequence[str], what: str) -> None:
    problems = [
        f"{what} names column {name!r}, which is not in the input{closest_column(name, available)}; "
        "rules use the input's own column names (before column_map) and the derived 'event' / 'revenue'"
        for name in dict.fromkeys(columns)
        if name not in available
    ]
    if problems:
        raise DataValidationError(problems, "source options")


# --------------------------------------------------------------------------- steps


def _parse_filters(filters: Sequence[Mapping[str, str]] | None) -> list[tuple[str, Condition | None]]:
    """``[("drop"|"keep", Condition or None for exact duplicates)]``, validated before any data is touched."""
    if filters is None:
        return []
    if isinstance(filters, (str, Mapping)):
        raise ValueError("filters: expected a list of steps such as [{'drop': 'InvoiceNo startswith C'}, {'keep': 'Quantity > 0'}]")
    steps = []
    for number, step in enumerate(filters, start=1):
        if not isinstance(step, Mapping) or len(step) != 1 or next(iter(step)) not in ("drop", "keep"):
            raise ValueError(
                f"filters step {number} ({step!r}): each step is a mapping with one key, 'drop' or 'keep', "
                "and a condition, e.g. {'drop': 'CustomerID is missing'} or {'drop': 'duplicates'}"
            )
        action, text = next(iter(step.items()))
        if action == "drop" and isinstance(text, str) and text.strip().lower() == _DUPLICATES:
            steps.append((action, None))
        else:
            steps.append((action, parse_condition(text)))
    return steps


def _log_row(rule: str, before: int, after: int) -> dict:
    return {"rule": rule, "rows_before": before, "rows_removed": before - after, "rows_after": after}


def _canonical_event_column(frame: pd.DataFrame, column_map: Mapping[str, str]) -> str | None:
    """The input column that becomes ``event`` (mapped or already so named), if any."""
    mapped = [old for old, new in column_map.items() if new == "event" and old in frame.columns]
    if mapped:
        return mapped[0]
    return "event" if "event" in frame.columns and "event" not in column_map else None


def _no_options(*options) -> bool:
    return all(option is None or (not isinstance(option, str) and len(option) == 0) for option in options)


def load_source(
    source,
    *,
    column_map: Mapping[str, str] | None = None,
    event: str | None = None,
    event_rules: Mapping[str, str] | None = None,
    revenue: str | None = None,
    filters: Sequence[Mapping[str, str]] | None = None,
    id_columns: Sequence[str] | None = None,
    timestamp_format: str | None = None,
    start=None,
    end=None,
    drop_duplicates: bool = True,
    encoding: str | None = None,
    delimiter: str | None = None,
    cache: bool = True,
    **unknown,
) -> pd.DataFrame:
    """Load a transactions table (or any event-like export) as the canonical events frame.

    Parameters
    ----------
    source : path or DataFrame
        Anything :func:`~engagement_utils.io.load_events` reads (CSV, gzipped
        CSV, TSV, Parquet, DataFrame).
    column_map : dict, optional
        ``{"input column": "canonical column"}``, applied last, e.g.
        ``{"CustomerID": "user_id", "InvoiceDate": "timestamp", "InvoiceNo": "order_id"}``.
        Unmapped columns are kept under their own names.
    event : str, optional
        Constant event name for every row (e.g. ``"purchase"``) when the
        input has no event column.
    event_rules : dict, optional
        ``{event name: condition}``, e.g. ``{"refund": "InvoiceNo startswith C"}``;
        the first rule a row meets (in the order given) names its event, other
        rows keep ``event`` or the input's event column.  On rows a rule
        names, revenue is stored as its absolute value (the sign is in the
        event name; see the module docstring).
    revenue : str, optional
        Expression of columns giving ``revenue``, e.g. ``"Quantity * UnitPrice"``.
    filters : list of dict, optional
        Steps applied in order after ``event`` and ``revenue`` are derived:
        ``{"drop": condition}`` removes the rows meeting the condition,
        ``{"keep": condition}`` removes the others, ``{"drop": "duplicates"}``
        removes exact duplicate rows (all input columns equal, first kept).
        Each step's removed rows are logged (:func:`cleaning_log`).
    id_columns : list of str, optional
        Other input columns that hold ids (e.g. an order id exported as
        ``536365.0``): whole floats become integers, text is stripped, and the
        column becomes a categorical, as ``user_id`` always does.
    timestamp_format, start, end, drop_duplicates, encoding, delimiter
        Passed to :func:`~engagement_utils.io.load_events` (``encoding`` and ``delimiter``
        also to the reader when other options are given), e.g. ``encoding: latin-1``
        for a spreadsheet's CSV export, ``delimiter: ';'``.
    cache : bool, default True
        Keep the result for a file input in the prepared-events cache, keyed by the file
        and every option (:mod:`engagement_utils.io.cache`).

    Returns
    -------
    DataFrame
        The canonical events frame; ``attrs["load_report"]`` counts the rows
        read from the input and ``attrs["cleaning_log"]`` lists every step.
        With no loading options the result equals ``load_events(source)``.

    Raises
    ------
    ValueError
        An unknown option name (listing the allowed ones, with a did-you-mean), a malformed option (bad expression or condition, a filter step that
        is not ``{"drop"|"keep": condition}``, ``event`` given while the input
        already has an event column).
    DataValidationError
        An option naming a column the input does not have (with the closest
        name), a non-numeric column in an expression or numeric comparison,
        and everything ``load_events`` checks (null ids, bad timestamps,
        negative revenue, ...).

    Examples
    --------
    >>> raw = pd.DataFrame({"InvoiceNo": ["536365", "536365", "C536379", "536380"],
    ...                     "Quantity": [6, 2, -1, 3], "UnitPrice": [2.55, 3.39, 27.5, 1.0],
    ...                     "InvoiceDate": ["2010-12-01 08:26", "2010-12-01 08:26", "2010-12-01 09:41", "2010-12-01 09:45"],
    ...                     "CustomerID": [17850.0, 17850.0, 14527.0, None]})
    >>> ev = load_source(raw, column_map={"CustomerID": "user_id", "InvoiceDate": "timestamp", "InvoiceNo": "order_id"},
    ...                  event="purchase", event_rules={"refund": "InvoiceNo startswith C"},
    ...                  revenue="Quantity * UnitPrice", filters=[{"drop": "CustomerID is missing"}])
    >>> ev[["user_id", "event", "revenue"]].to_dict("list")
    {'user_id': [14527, 17850, 17850], 'event': ['refund', 'purchase', 'purchase'], 'revenue': [27.5, 15.299999999999999, 6.78]}
    >>> cleaning_log(ev)[["rule", "rows_removed"]].to_dict("list")
    {'rule': ['drop CustomerID is missing', 'drop exact duplicate rows (after column_map)'], 'rows_removed': [1, 0]}
    """
    for key in unknown:
        check_option("source_options", key, SOURCE_OPTIONS)
    column_map = dict(column_map or {})
    loader_options = {"timestamp_format": timestamp_format, "start": start, "end": end, "drop_duplicates": drop_duplicates,
                      "encoding": encoding, "delimiter": delimiter}
    if _no_options(event, event_rules, revenue, filters, id_columns):
        events = io.load_events(source, column_map=column_map, cache=cache, **loader_options)
        rows_read = events.attrs["load_report"]["rows_read"]
        events.attrs["cleaning_log"] = _loader_steps(events, [], rows_read, drop_duplicates, start, end)
        return events
    options = {"column_map": column_map, "event": event, "event_rules": event_rules, "revenue": revenue,
               "filters": filters, "id_columns": id_columns, **loader_options}
    if cache and isinstance(source, (str, os.PathLike)) and os.path.isfile(source):
        return cached_frame(source, "load_source", options, lambda: _load_with_options(source, **options))
    return _load_with_options(source, **options)


def _load_with_options(source, *, column_map, event, event_rules, revenue, filters, id_columns, timestamp_format,
                       start, end, drop_duplicates, encoding, delimiter) -> pd.DataFrame:
    """:func:`load_source` when a deriving or filtering option is given (uncached)."""
    loader_options = {"timestamp_format": timestamp_format, "start": start, "end": end, "drop_duplicates": drop_duplicates}

    steps = _parse_filters(filters)
    rules = {name: parse_condition(text) for name, text in (event_rules or {}).items()}
    revenue_tree = None if revenue is None else parse_expression(revenue)
    if event is not None and not isinstance(event, str):
        raise ValueError(f"event: expected one event name (a string) for every row, got {event!r}")

    frame = read_table(source, "events", encoding=encoding, delimiter=delimiter)
    rows_read = len(frame)
    event_column = _canonical_event_column(frame, column_map)
    if event is not None and event_column is not None:
        raise ValueError(
            f"event={event!r} was given but the input already has an event column ({event_column!r}); "
            "drop the event option, or drop that column from column_map"
        )
    if rules and event is None and event_column is None:
        raise ValueError("event_rules need a default for rows no rule matches: give event='<name>' (e.g. 'purchase')")
    # event_rules refine an existing event column in place, under its own name; otherwise 'event' is new.
    derived = ["event"] if event is not None else []
    derived += ["revenue"] if revenue_tree is not None else []
    for name in derived:
        if name in frame.columns or name in column_map.values():
            raise ValueError(
                f"the {name} option would overwrite the input's {name!r} column; rename that column in column_map or drop the option"
            )
    available = list(frame.columns)
    _check_columns(available, [c.column for c in rules.values()], "event_rules")
    _check_columns(available, [] if revenue_tree is None else _expression_columns(revenue_tree), "revenue")
    _check_columns(available + derived, [c.column for _, c in steps if c is not None], "filters")
    _check_columns(available, list(id_columns or []), "id_columns")

    frame = frame.copy(deep=False)
    ruled = np.zeros(len(frame), dtype=bool)
    if event is not None or rules:
        target = event_column or "event"
        names = pd.Series(event, index=frame.index, dtype=object) if event is not None else frame[target].astype(object)
        # The first matching rule wins, so apply them in reverse and let earlier rules overwrite later ones.
        for name, condition in reversed(list(rules.items())):
            matched = _matches(frame, condition, f"event_rules[{name!r}]")
            names = names.mask(matched, name)
            ruled |= matched
        frame[target] = names.astype("string")
    if revenue_tree is not None:
        numbers = {name: _numeric(frame, name, f"revenue {revenue!r}") for name in _expression_columns(revenue_tree)}
        values = pd.Series(_evaluate(revenue_tree, numbers), index=frame.index, dtype="float64")
        frame["revenue"] = values.where(~ruled, values.abs())

    log = []
    for action, condition in steps:
        before = len(frame)
        if condition is None:
            frame = frame.loc[~frame.duplicated(keep="first")]
            rule = "drop exact duplicate rows"
        else:
            matched = _matches(frame, condition, f"filter {action} {condition}")
            frame = frame.loc[~matched if action == "drop" else matched]
            rule = f"{action} {condition}"
        log.append(_log_row(rule, before, len(frame)))
        if before and frame.empty:
            raise DataValidationError(
                [f"filter step {len(log)} ({rule}) removed every remaining row ({before:,}); check its condition"],
                f"events ({describe_source(source)})",
            )
    for column in id_columns or []:
        frame[column] = clean_ids(frame[column])

    events = io.load_events(frame, column_map=column_map, cache=False, **loader_options)
    report = dict(events.attrs["load_report"])
    report["source"] = describe_source(source)
    report["rows_read"] = rows_read
    report["warnings"] = [
        f"{row['rule']}: {row['rows_removed']:,} row(s) removed" for row in log if row["rows_removed"]
    ] + list(report["warnings"])
    events.attrs["load_report"] = report
    events.attrs["cleaning_log"] = _loader_steps(events, log, len(frame), drop_duplicates, start, end)
    return events


def _loader_steps(events: pd.DataFrame, log: list[dict], rows_in: int, drop_duplicates: bool, start, end) -> list[dict]:
    """Append ``load_events``' own steps (duplicates after mapping, date window) to the log."""
    report = events.attrs["load_report"]
    rows = rows_in
    log = list(log)
    if drop_duplicates:
        log.append(_log_row("drop exact duplicate rows (after column_map)", rows, rows - report["duplicates_dropped"]))
        rows -= report["duplicates_dropped"]
    if start is not None or end is not None:
        log.append(_log_row(f"keep {start or '...'} <= timestamp < {end or '...'}", rows, rows - report["rows_outside_window"]))
    return [{"step": number, **row} for number, row in enumerate(log, start=1)]


def cleaning_log(events: pd.DataFrame) -> pd.DataFrame:
    """The cleaning steps :func:`load_source` applied, one row per step.

    Returns
    -------
    DataFrame
        ``step`` (1, 2, ...), ``rule`` (as written, e.g. ``"drop InvoiceNo
        startswith C"``), ``rows_before``, ``rows_removed``, ``rows_after``;
        empty when the frame did not come from :func:`load_source`.

    Examples
    --------
    >>> ev = load_source(pd.DataFrame({"user_id": [1, 1, 2], "timestamp": ["2024-01-01"] * 3, "n": [1, 1, 0]}),
    ...                  event="open", filters=[{"keep": "n > 0"}])
    >>> log = cleaning_log(ev)
    >>> log["rule"].tolist()
    ['keep n > 0', 'drop exact duplicate rows (after column_map)']
    >>> log[["rows_before", "rows_removed", "rows_after"]].values.tolist()
    [[3, 1, 2], [2, 1, 1]]
    """
    columns = ["step", "rule", "rows_before", "rows_removed", "rows_after"]
    return pd.DataFrame(events.attrs.get("cleaning_log", []), columns=columns)
