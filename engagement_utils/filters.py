"""Row conditions of the loading options: a small, safe language for ``filters`` and ``event_rules``.

A condition is read by a hand-written tokenizer and recursive-descent parser
into a tiny tree (:class:`Condition` leaves under :class:`Not`, :class:`And`
and :class:`Or`) and evaluated with vectorized pandas / numpy operations,
one boolean mask per leaf; the text is never passed to ``eval`` or
``DataFrame.query``.

Grammar (keywords in any case; ``not`` binds tighter than ``and``, ``and``
tighter than ``or``)::

    condition  := disjunct ("or" disjunct)*
    disjunct   := negation ("and" negation)*
    negation   := "not" negation | "(" condition ")" | test
    test       := column "is" ["not"] "missing"
                | column ["not"] "in" "[" value ("," value)* "]"
                | column ("startswith" | "endswith" | "contains") value
                | column ("==" | "!=") (value | `column`)
                | column ("<" | "<=" | ">" | ">=") (number | `column`)
    column     := word | `any name`
    value      := number | -number | 'text' | "text" | word

Words and columns
    Left of the operator, a bare word is a column name.  Right of it, a bare
    word is **text**, exactly as before this language had column references:
    ``group != landing_page`` compares ``group`` with the text
    ``"landing_page"``.  A name in backticks is always a column, so
    ``group != `landing_page``` compares the two columns; quotes always make
    text (``'landing page'``).  The meaning of a condition therefore never
    depends on which columns an input happens to have; when the bare-word
    value of ``==`` or ``!=`` is also a column's name, loading says so in the
    load report's warnings (:func:`column_words`).

Missing values
    A test on a missing value is false (``!=`` and ``not in`` included: a
    missing value is not known to differ), and ``not`` turns false into
    true, so ``keep: X`` and ``drop: not X`` always remove the same rows.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from ._grammar import Parser, Token, tokenize
from .io import DataValidationError
from .validation import closest

__all__ = ["Column", "Condition", "Not", "And", "Or", "parse_condition", "parse_filters", "evaluate",
           "condition_columns", "column_words", "check_columns", "numeric_column"]

TEXT_OPS = ("startswith", "endswith", "contains")
EQUALITY = ("==", "!=")
ORDERING = ("<", "<=", ">", ">=")
_DUPLICATES = "duplicates"
_KEYWORDS = ("and", "or", "not", "in", "is", "missing")
_HELP = (
    "a condition is one or more tests '<column> <operator> <value>' (operators: "
    f"{' '.join(TEXT_OPS + EQUALITY + ORDERING)}, [not] in [v1, v2], is [not] missing) joined with and / or / not "
    "and parentheses; quote text containing spaces ('United Kingdom'); write a column to compare with in backticks (`other`)"
)


@dataclass(frozen=True)
class Column:
    """A column reference on the right of a comparison (written in backticks)."""

    name: str

    def __str__(self) -> str:
        return f"`{self.name}`"


def _render_value(value) -> str:
    if isinstance(value, str):
        return value if _reads_as_word(value) else repr(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _reads_as_word(text: str) -> bool:
    """True when ``text`` reads back as the same single unquoted, non-keyword word (in or out of a list)."""
    try:
        tokens = tokenize(f"x in [{text}]", "value", "")
    except ValueError:
        return False
    return len(tokens) == 5 and tokens[3].kind == "word" and tokens[3].text == text and not tokens[3].is_word(*_KEYWORDS)


@dataclass(frozen=True)
class Condition:
    """One test: ``column``, ``operator`` and ``value``.

    ``value`` is a float or text, a :class:`Column`, a tuple of values (``in``,
    ``not in``) or None (``is missing``, ``is not missing``).  ``bare_words``
    holds the value of ``==`` / ``!=`` when written as a bare word, where a
    column could have been meant (not part of equality).
    """

    column: str
    operator: str
    value: str | float | Column | tuple | None
    bare_words: tuple = field(default=(), compare=False, repr=False)

    def __str__(self) -> str:
        column = self.column if _reads_as_word(self.column) else f"`{self.column}`"
        if self.value is None:
            return f"{column} {self.operator}"
        if isinstance(self.value, tuple):
            return f"{column} {self.operator} [{', '.join(_render_value(v) for v in self.value)}]"
        return f"{column} {self.operator} {_render_value(self.value)}"


@dataclass(frozen=True)
class Not:
    """Rows where ``operand`` is false."""

    operand: "Node"

    def __str__(self) -> str:
        return f"not {_wrapped(self.operand, (And, Or))}"


@dataclass(frozen=True)
class And:
    """Rows meeting every operand."""

    operands: tuple

    def __str__(self) -> str:
        return " and ".join(_wrapped(operand, (Or,)) for operand in self.operands)


@dataclass(frozen=True)
class Or:
    """Rows meeting at least one operand."""

    operands: tuple

    def __str__(self) -> str:
        return " or ".join(str(operand) for operand in self.operands)


Node = Condition | Not | And | Or


def _wrapped(node: Node, looser: tuple) -> str:
    """``node`` as text, in parentheses when it binds more loosely than its parent."""
    return f"({node})" if isinstance(node, looser) else str(node)


def _joined(kind: type, left: Node, right: Node) -> Node:
    """``left kind right`` with same-kind operands flattened, so a long chain is one flat node."""
    parts = [part for side in (left, right) for part in (side.operands if isinstance(side, kind) else (side,))]
    return kind(tuple(parts))


class _ConditionParser(Parser):
    def __init__(self, source: str, what: str):
        super().__init__(source, what, _HELP)

    def parse(self) -> Node:
        node = self.disjunction()
        if (extra := self.peek()) is not None:
            reason = "found ')' with no '(' open" if extra.is_symbol(")") else f"expected 'and', 'or' or the end, found {extra.text!r}"
            raise self.fail(reason, extra)
        return node

    def disjunction(self) -> Node:
        return self.left_associative(self.conjunction, lambda t: t.is_word("or"), lambda _, a, b: _joined(Or, a, b))

    def conjunction(self) -> Node:
        return self.left_associative(self.negation, lambda t: t.is_word("and"), lambda _, a, b: _joined(And, a, b))

    def negation(self) -> Node:
        token = self.peek()
        if token is not None and token.is_word("not"):
            self.index += 1
            with self.nested(token):
                return Not(self.negation())
        if token is not None and token.is_symbol("("):
            self.index += 1
            with self.nested(token):
                node = self.disjunction()
            closing = self.peek()
            if closing is None or not closing.is_symbol(")"):
                found = "the end" if closing is None else repr(closing.text)
                raise self.fail(f"expected 'and', 'or' or ')' to close the '(' at position {token.position}, found {found}", closing)
            self.index += 1
            return node
        return self.test()

    def test(self) -> Condition:
        token = self.take("a condition (a column name first)")
        if token.kind not in ("word", "name") or token.is_word("and", "or"):
            raise self.fail(f"expected a column name first, found {token.text!r}", token)
        column = token.text
        op = self.take(f"an operator after the column {column!r} (no operator)")
        if op.is_word("is"):
            negated = self.peek() is not None and self.peek().is_word("not")
            self.index += negated
            self.expect_word("missing", "'missing' after 'is'" + ("" if negated else " or 'is not'"))
            condition = Condition(column, "is not missing" if negated else "is missing", None)
        elif op.is_word("in") or (op.is_word("not") and self.peek() is not None and self.peek().is_word("in")):
            self.index += op.is_word("not")
            condition = Condition(column, "not in" if op.is_word("not") else "in", self.value_list())
        elif op.is_word(*TEXT_OPS) or op.is_symbol(*EQUALITY, *ORDERING):
            name = op.text.lower()
            value, bare = self.value(name)
            condition = Condition(column, name, value, bare)
        else:
            raise self.fail(f"unknown operator {op.text!r}", op)
        after = self.peek()
        if after is not None and not (after.is_word("and", "or") or after.is_symbol(")")):
            raise self.fail(f"expected exactly one value after the operator, then 'and', 'or', ')' or the end; "
                            f"found {after.text!r}", after)
        return condition

    def expect_word(self, word: str, expected: str) -> None:
        token = self.take(expected)
        if not token.is_word(word):
            raise self.fail(f"expected {expected}, found {token.text!r}", token)

    def value(self, op: str) -> tuple[object, tuple]:
        """The value after the operator ``op`` and the bare words that could have meant a column."""
        token = self.take(f"a value after {op!r}")
        sign = ""
        if token.is_symbol("-"):
            sign, token = "-", self.take("a number after '-'")
            if token.kind != "number":
                raise self.fail(f"expected a number after '-', found {token.text!r}", token)
        if token.kind == "symbol":
            raise self.fail(f"expected a value after {op!r}, found {token.text!r}", token)
        if token.kind == "name":
            if op in TEXT_OPS:
                raise self.fail(f"{op!r} takes a text value, not a column", token)
            return Column(token.text), ()
        if op in TEXT_OPS:  # text tests take no column, so a bare word there cannot have meant one
            return sign + token.text, ()
        if token.kind == "number":
            return float(sign + token.text), ()
        if op in ORDERING:
            raise self.fail(f"{op!r} compares numbers, but {token.text!r} is not a number "
                            "(write a column in backticks to compare with it)", token)
        return token.text, (token.text,) if token.kind == "word" else ()

    def value_list(self) -> tuple:
        opening = self.take("'[' after 'in'")
        if not opening.is_symbol("["):
            raise self.fail(f"expected '[' after 'in' (a list such as [a, 'b c', 3]), found {opening.text!r}", opening)
        values = []
        while True:
            token = self.peek()
            if token is not None and token.kind == "name":
                raise self.fail("a list holds values, not columns", token)
            # A list holds no columns, so its bare words are not kept as possible column references.
            values.append(self.value("in")[0])
            separator = self.take("',' or ']' to close the list")
            if separator.is_symbol("]"):
                break
            if not separator.is_symbol(","):
                raise self.fail(f"expected ',' or ']' in the list, found {separator.text!r}", separator)
        if len({isinstance(v, float) for v in values}) > 1:
            raise self.fail("a list holds either numbers or text, not both (quote a number to compare it as text)", opening)
        return tuple(values)


def parse_condition(condition: str, what: str = "condition") -> Node:
    """Parse a row condition (see the module docstring for the grammar).

    Parameters
    ----------
    condition : str
        E.g. ``"Quantity > 0 and not (Country in [EIRE, 'United Kingdom'] or CustomerID is missing)"``.
    what : str, default "condition"
        Where the text comes from, for messages (e.g. ``"filters step 2 (keep)"``).

    Returns
    -------
    Condition, Not, And or Or
        A single test is a :class:`Condition`.

    Raises
    ------
    ValueError
        A syntax error, quoting the text with a caret at the position and
        saying what was expected there.

    Examples
    --------
    >>> parse_condition("InvoiceNo startswith C")
    Condition(column='InvoiceNo', operator='startswith', value='C')
    >>> parse_condition("Quantity > -1")
    Condition(column='Quantity', operator='>', value=-1.0)
    >>> parse_condition("`Customer ID` is not missing")
    Condition(column='Customer ID', operator='is not missing', value=None)
    >>> print(parse_condition("a > 1 or not b == x and c != `d`"))
    a > 1 or not b == x and c != `d`
    >>> parse_condition("(a > 1 or b > 1) and c in [x, 'y z']").operands[1]
    Condition(column='c', operator='in', value=('x', 'y z'))
    """
    return _ConditionParser(condition, what).parse()


def _leaves(node: Node) -> Iterator[Condition]:
    if isinstance(node, Condition):
        yield node
    elif isinstance(node, Not):
        yield from _leaves(node.operand)
    else:
        for operand in node.operands:
            yield from _leaves(operand)


def condition_columns(node: Node) -> list[str]:
    """The columns a condition reads, left sides and backticked right sides, in order.

    Examples
    --------
    >>> condition_columns(parse_condition("a == `b` or (c > 1 and a is missing)"))
    ['a', 'b', 'c', 'a']
    """
    return [name for leaf in _leaves(node)
            for name in (leaf.column, *([leaf.value.name] if isinstance(leaf.value, Column) else []))]


def column_words(node: Node, columns: Sequence[str]) -> list[str]:
    """Bare words read as text that are also names of ``columns`` (likely meant as column references).

    Examples
    --------
    >>> column_words(parse_condition("group != landing_page and page != `landing_page`"), ["group", "landing_page"])
    ['landing_page']
    """
    present = set(map(str, columns))
    return list(dict.fromkeys(word for leaf in _leaves(node) for word in leaf.bare_words if word in present))


def check_columns(available: Sequence[str], columns: Sequence[str], what: str) -> None:
    """Raise one ``DataValidationError`` naming every column of ``columns`` missing from ``available``.

    Each sentence names the column, suggests the closest existing one and lists those present.

    Examples
    --------
    >>> check_columns(["Quantity", "Country"], ["Quantty"], "filters")
    Traceback (most recent call last):
    ...
    engagement_utils.io.report.DataValidationError: 1 problem(s) in source options:
      - filters names column 'Quantty', which is not in the input (closest existing column: 'Quantity'; columns present: 'Quantity', 'Country'); rules use the input's own column names (before column_map) and the derived 'event' / 'revenue'
    """
    shown = ", ".join(repr(str(c)) for c in list(available)[:20]) + (", ..." if len(available) > 20 else "")
    problems = []
    for name in dict.fromkeys(columns):
        if name in available:
            continue
        hint = closest(name, [str(c) for c in available])
        near = "" if hint is None else f"closest existing column: {hint!r}; "
        problems.append(f"{what} names column {name!r}, which is not in the input ({near}columns present: {shown}); "
                        "rules use the input's own column names (before column_map) and the derived 'event' / 'revenue'")
    if problems:
        raise DataValidationError(problems, "source options")


def parse_filters(filters: Sequence[Mapping[str, str]] | None) -> list[tuple[str, Node | None]]:
    """``[("drop" | "keep", condition, or None for exact duplicates)]``, checked before any data is read.

    Examples
    --------
    >>> [(action, str(node)) for action, node in parse_filters([{"drop": "duplicates"}, {"keep": "q > 0 or r > 0"}])]
    [('drop', 'None'), ('keep', 'q > 0 or r > 0')]
    """
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
            steps.append((action, parse_condition(text, f"filters step {number} ({action})")))
    return steps


# --------------------------------------------------------------------------- evaluation


def _kind(values: pd.Series) -> str:
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "true/false values"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "dates"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numbers"
    return "text"


def numeric_column(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    """``frame[column]`` as float64: a numeric column, or text holding only numbers.

    Raises
    ------
    DataValidationError
        Naming the column: dates, or text that is not a number.

    Examples
    --------
    >>> numeric_column(pd.DataFrame({"q": ["1", None, "2.5"]}), "q", "revenue").tolist()
    [1.0, nan, 2.5]
    """
    raw = frame[column]
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        raise DataValidationError(
            [f"column {column!r} used in {what} holds dates ({raw.dtype}), not numbers; compare it with text "
             "(== / !=) or compare two date columns"],
            "source options",
        )
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


_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _both_columns(frame: pd.DataFrame, condition: Condition, what: str) -> np.ndarray:
    """``column op `other```, row by row; a row missing either value never matches."""
    names = (condition.column, condition.value.name)
    left, right = (frame[name] for name in names)
    kinds = (_kind(left), _kind(right))
    problem = None
    if kinds[0] != kinds[1]:
        problem = (f"column {names[0]!r} holds {kinds[0]} ({left.dtype}) but column {names[1]!r} holds {kinds[1]} "
                   f"({right.dtype}); compare columns of the same kind, or each with a value")
    elif condition.operator in ORDERING and kinds[0] not in ("numbers", "dates"):
        problem = (f"{condition.operator!r} orders numbers or dates, but columns {names[0]!r} and {names[1]!r} "
                   f"hold {kinds[0]} ({left.dtype}, {right.dtype}); use == or !=")
    elif kinds[0] == "dates" and (getattr(left.dtype, "tz", None) is None) != (getattr(right.dtype, "tz", None) is None):
        problem = (f"column {names[0]!r} ({left.dtype}) and column {names[1]!r} ({right.dtype}) mix dates with and "
                   "without a timezone; give both the same")
    if problem is not None:
        raise DataValidationError([f"{what}: {problem}"], "source options")
    known = (left.notna() & right.notna()).to_numpy()
    if kinds[0] == "text":
        left, right = left.astype("string"), right.astype("string")
    # Series (not bare arrays) compare pandas text and timezone-aware dates; missing rows are masked after.
    matched = _COMPARE[condition.operator](left, right)
    return matched.fillna(False).to_numpy(dtype=bool) & known


def _test(frame: pd.DataFrame, condition: Condition, what: str) -> np.ndarray:
    """Boolean mask of the rows meeting one test; a missing value never meets a test."""
    values = frame[condition.column]
    op, value = condition.operator, condition.value
    if op == "is missing":
        return values.isna().to_numpy(dtype=bool)
    if op == "is not missing":
        return values.notna().to_numpy(dtype=bool)
    if isinstance(value, Column):
        return _both_columns(frame, condition, what)
    numeric = isinstance(value, float) or (isinstance(value, tuple) and isinstance(value[0], float))
    if op in TEXT_OPS or not numeric:
        text = values.astype("string")
        if op == "startswith":
            mask = text.str.startswith(value)
        elif op == "endswith":
            mask = text.str.endswith(value)
        elif op == "contains":
            mask = text.str.contains(value, regex=False)
        elif op in ("in", "not in"):
            mask = text.isin(value) if op == "in" else ~text.isin(value)
            mask = mask & text.notna()
        else:
            mask = text.eq(value) if op == "==" else text.ne(value)
        return mask.fillna(False).to_numpy(dtype=bool)
    numbers = numeric_column(frame, condition.column, what)
    known = numbers.notna().to_numpy()
    # NaN compares false under every operator, including != and not in: a missing value is not known to differ.
    if op in ("in", "not in"):
        inside = np.isin(numbers.to_numpy(), np.asarray(value, dtype="float64"))
        return (inside if op == "in" else ~inside) & known
    return _COMPARE[op](numbers.to_numpy(), value) & known


def evaluate(node: Node, frame: pd.DataFrame, what: str) -> np.ndarray:
    """Boolean mask (one entry per row of ``frame``) of the rows meeting ``node``.

    Parameters
    ----------
    node : Condition, Not, And or Or
        From :func:`parse_condition`; its columns must be in ``frame``
        (:func:`check_columns`).
    frame : DataFrame
        Not modified.
    what : str
        Where the condition comes from, for messages.

    Raises
    ------
    DataValidationError
        A column whose values do not fit the test, naming the column and its
        type (text compared with a number, two columns of different kinds).

    Examples
    --------
    >>> frame = pd.DataFrame({"a": [1, 2, None], "b": [1, 3, 3], "c": ["x", "y", "x"]})
    >>> evaluate(parse_condition("a == `b` or c == y"), frame, "filter").tolist()
    [True, True, False]
    >>> evaluate(parse_condition("not a < 2"), frame, "filter").tolist()
    [False, True, True]
    """
    if isinstance(node, Condition):
        return _test(frame, node, what)
    if isinstance(node, Not):
        return ~evaluate(node.operand, frame, what)
    combine = np.logical_and if isinstance(node, And) else np.logical_or
    return combine.reduce([evaluate(operand, frame, what) for operand in node.operands])
