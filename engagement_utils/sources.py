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
    Tests such as ``Quantity > 0``, ``InvoiceNo startswith C``,
    ``Country in [EIRE, 'United Kingdom']`` or ``CustomerID is missing``,
    joined with ``and``, ``or``, ``not`` and parentheses; a column in
    backticks on the right compares two columns (``group != `landing_page```),
    while a bare word there is text, as it always was.  The grammar, the
    missing-value rule and the messages are in :mod:`engagement_utils.filters`.

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

import inspect
import os
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import io
from ._grammar import Parser
from .filters import Condition, check_columns, column_words, condition_columns, evaluate, numeric_column, \
    parse_condition, parse_filters
from .io import DataValidationError, clean_ids, describe_source, read_table
from .io.cache import cached_frame
from .validation import check_option

__all__ = ["load_source", "cleaning_log", "parse_condition", "parse_expression", "Condition", "SOURCE_OPTIONS"]

# load_events options load_source passes through unchanged; their defaults are load_events' own.
_LOADER_OPTIONS = ("timestamp_format", "start", "end", "drop_duplicates", "encoding", "delimiter")
_LOADER_DEFAULTS = {name: inspect.signature(io.load_events).parameters[name].default for name in _LOADER_OPTIONS}

# The keys a ``source_options`` mapping may hold (load_source's keyword options).
SOURCE_OPTIONS = ("column_map", "event", "event_rules", "revenue", "filters", "id_columns", *_LOADER_OPTIONS, "cache")

_EXPRESSION_HELP = "allowed: column names, numbers, + - * / and parentheses"


# --------------------------------------------------------------------------- expressions


class _ExpressionParser(Parser):
    """Recursive descent for ``expr := term (+|- term)*``, ``term := factor (*|/ factor)*``."""

    def __init__(self, source: str):
        super().__init__(source, "revenue expression", _EXPRESSION_HELP)

    def expression(self):
        return self.left_associative(self.term, lambda t: t.is_symbol("+", "-"), lambda t, a, b: (t.text, a, b))

    def term(self):
        return self.left_associative(self.factor, lambda t: t.is_symbol("*", "/"), lambda t, a, b: (t.text, a, b))

    def factor(self):
        token = self.take("a column, a number or '('")
        if token.is_symbol("-", "+"):
            with self.nested(token):
                operand = self.factor()
            return ("neg", operand) if token.text == "-" else operand
        if token.is_symbol("("):
            with self.nested(token):
                node = self.expression()
            closing = self.take("')'")
            if not closing.is_symbol(")"):
                raise self.fail(f"expected ')', found {closing.text!r}", closing)
            return node
        if token.kind == "number":
            return ("number", float(token.text))
        if token.kind in ("word", "name"):
            return ("column", token.text)
        raise self.fail(f"unexpected {token.text!r}", token)

    def parse(self):
        node = self.expression()
        if (extra := self.peek()) is not None:
            raise self.fail(f"unexpected {extra.text!r}", extra)
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
    return _ExpressionParser(expression).parse()


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


# --------------------------------------------------------------------------- steps


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
    cache: bool = True,
    **loader_options,
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
        ``{"keep": condition}`` removes the others (conditions as in
        :mod:`engagement_utils.filters`, e.g. ``"Quantity > 0 and not Country in [EIRE]"``),
        ``{"drop": "duplicates"}``
        removes exact duplicate rows (all input columns equal, first kept).
        Each step's removed rows are logged (:func:`cleaning_log`).
    id_columns : list of str, optional
        Other input columns that hold ids (e.g. an order id exported as
        ``536365.0``): whole floats become integers, text is stripped, and the
        column becomes a categorical, as ``user_id`` always does.
    cache : bool, default True
        Keep the result for a file input in the prepared-events cache, keyed by the file
        and every option (:mod:`engagement_utils.io.cache`).
    **loader_options
        ``timestamp_format``, ``start``, ``end``, ``drop_duplicates``, ``encoding``
        and ``delimiter``, with :func:`~engagement_utils.io.load_events`' defaults,
        passed to it (``encoding`` and ``delimiter`` also to the reader when other
        options are given), e.g. ``encoding: latin-1`` for a spreadsheet's CSV
        export, ``delimiter: ';'``.

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
    for key in loader_options:
        check_option("source_options", key, SOURCE_OPTIONS)
    column_map = dict(column_map or {})
    loader_options = {**_LOADER_DEFAULTS, **loader_options}
    if _no_options(event, event_rules, revenue, filters, id_columns):
        events = io.load_events(source, column_map=column_map, cache=cache, **loader_options)
        rows_read = events.attrs["load_report"]["rows_read"]
        events.attrs["cleaning_log"] = _loader_steps(events, [], rows_read, loader_options)
        return events
    options = {"column_map": column_map, "event": event, "event_rules": event_rules, "revenue": revenue,
               "filters": filters, "id_columns": id_columns, **loader_options}
    if cache and isinstance(source, (str, os.PathLike)) and os.path.isfile(source):
        return cached_frame(source, "load_source", options, lambda: _load_with_options(source, **options))
    return _load_with_options(source, **options)


def _load_with_options(source, *, column_map, event, event_rules, revenue, filters, id_columns,
                       **loader_options) -> pd.DataFrame:
    """:func:`load_source` when a deriving or filtering option is given (uncached)."""
    steps = parse_filters(filters)
    rules = {name: parse_condition(text, f"event_rules[{name!r}]") for name, text in (event_rules or {}).items()}
    revenue_tree = None if revenue is None else parse_expression(revenue)
    if event is not None and not isinstance(event, str):
        raise ValueError(f"event: expected one event name (a string) for every row, got {event!r}")

    frame = read_table(source, "events", encoding=loader_options["encoding"], delimiter=loader_options["delimiter"])
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
    check_columns(available, [name for rule in rules.values() for name in condition_columns(rule)], "event_rules")
    check_columns(available, [] if revenue_tree is None else _expression_columns(revenue_tree), "revenue")
    check_columns(available + derived, [name for _, step in steps if step is not None for name in condition_columns(step)],
                  "filters")
    check_columns(available, list(id_columns or []), "id_columns")
    conditions = [(f"event_rules[{name!r}]", rule) for name, rule in rules.items()]
    conditions += [(f"filters step {number} ({action} {step})", step)
                   for number, (action, step) in enumerate(steps, start=1) if step is not None]
    # A bare word on the right is text (so old conditions keep their meaning); say so when it names a column too.
    ambiguous = [f"{what}: {word!r} is read as text, but the input also has a column {word!r}; write `{word}` to "
                 f"compare with that column, or '{word}' to keep the text and silence this warning"
                 for what, node in conditions for word in column_words(node, available + derived)]

    frame = frame.copy(deep=False)
    ruled = np.zeros(len(frame), dtype=bool)
    if event is not None or rules:
        target = event_column or "event"
        names = pd.Series(event, index=frame.index, dtype=object) if event is not None else frame[target].astype(object)
        # The first matching rule wins, so apply them in reverse and let earlier rules overwrite later ones.
        for name, condition in reversed(list(rules.items())):
            matched = evaluate(condition, frame, f"event_rules[{name!r}]")
            names = names.mask(matched, name)
            ruled |= matched
        frame[target] = names.astype("string")
    if revenue_tree is not None:
        numbers = {name: numeric_column(frame, name, f"revenue {revenue!r}") for name in _expression_columns(revenue_tree)}
        values = pd.Series(_evaluate(revenue_tree, numbers), index=frame.index, dtype="float64")
        frame["revenue"] = values.where(~ruled, values.abs())

    log = []
    for action, condition in steps:
        before = len(frame)
        if condition is None:
            frame = frame.loc[~frame.duplicated(keep="first")]
            rule = "drop exact duplicate rows"
        else:
            matched = evaluate(condition, frame, f"filter {action} {condition}")
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

    loader = {key: loader_options[key] for key in ("timestamp_format", "start", "end", "drop_duplicates")}
    events = io.load_events(frame, column_map=column_map, cache=False, **loader)
    report = dict(events.attrs["load_report"])
    report["source"] = describe_source(source)
    report["rows_read"] = rows_read
    report["warnings"] = ambiguous + [
        f"{row['rule']}: {row['rows_removed']:,} row(s) removed" for row in log if row["rows_removed"]
    ] + list(report["warnings"])
    events.attrs["load_report"] = report
    events.attrs["cleaning_log"] = _loader_steps(events, log, len(frame), loader_options)
    return events


def _loader_steps(events: pd.DataFrame, log: list[dict], rows_in: int, loader_options: Mapping) -> list[dict]:
    """Append ``load_events``' own steps (duplicates after mapping, date window) to the log."""
    report = events.attrs["load_report"]
    start, end = loader_options["start"], loader_options["end"]
    rows = rows_in
    log = list(log)
    if loader_options["drop_duplicates"]:
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
