"""Tokens and recursive-descent helpers shared by the loading options' small languages (private).

The revenue expression (:func:`engagement_utils.sources.parse_expression`) and
the row conditions (:mod:`engagement_utils.filters`) are read by hand-written
parsers over the tokens made here; user text is never handed to ``eval`` or
``DataFrame.query``.  A syntax error quotes the text with a caret under the
offending position and says what was expected there.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

__all__ = ["Token", "tokenize", "syntax_error", "Parser"]

# A word stops at whitespace, quotes, backticks and the operator symbols.  Inside an
# ``in [...]`` list it also stops at ``[``, ``,`` and ``]``; outside a list those stay word
# characters, so a bare value such as ``a,b`` reads as it always did.
_WORD = r"[^\s`'\"<>=!+*/()-]+"
_LIST_WORD = r"[^\s`'\"<>=!+*/()\[\],-]+"
_COMMON = r"""\s*(?:
        (?P<name>`[^`]*`)
      | (?P<text>'[^']*'|"[^"]*")
      | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?![\w.]))
      | (?P<symbol><=|>=|==|!=|<|>|[-+*/()]{extra})
      | (?P<word>{word})
    )"""
_TOKEN = re.compile(_COMMON.format(extra="", word=_WORD), re.VERBOSE)
_LIST_TOKEN = re.compile(_COMMON.format(extra=r"|[\[\],]", word=_LIST_WORD), re.VERBOSE)
_LIST_OPEN = re.compile(r"\s*\[")
MAX_DEPTH = 100  # nested parentheses / prefix operators; deeper text is refused before Python's recursion limit


@dataclass(frozen=True)
class Token:
    """One token: ``kind`` is "name" (backticks), "text" (quotes), "number", "symbol" or "word"."""

    kind: str
    text: str  # the value: a name or text without its quotes, else the token as written
    position: int  # index of the token's first character in the source

    def is_word(self, *words: str) -> bool:
        """True for an unquoted word equal to one of ``words`` (any case)."""
        return self.kind == "word" and self.text.lower() in words

    def is_symbol(self, *symbols: str) -> bool:
        return self.kind == "symbol" and self.text in symbols


def syntax_error(what: str, source: str, position: int, message: str, help_text: str) -> ValueError:
    """A ``ValueError`` quoting ``source`` with a caret under ``position``.

    Examples
    --------
    >>> print(syntax_error("condition", "q >> 1", 3, "unknown operator '>'", "see the docs"))
    condition 'q >> 1': unknown operator '>' at position 3
        q >> 1
           ^
        see the docs
    """
    # Line breaks (a YAML block scalar) would move the caret off its column: show them as spaces.
    shown = re.sub(r"\s", " ", source)
    return ValueError(f"{what} {source!r}: {message} at position {position}\n    {shown}\n    {' ' * position}^\n    {help_text}")


def tokenize(source: str, what: str, help_text: str) -> list[Token]:
    """Split ``source`` into tokens; ``[``, ``,`` and ``]`` are symbols only in a list after ``in``.

    Raises
    ------
    ValueError
        ``source`` is not a non-empty string, or holds something no token
        reads (an unclosed quote, ``=`` alone, ...), with a caret.

    Examples
    --------
    >>> [(t.kind, t.text) for t in tokenize("`unit price` >= 2.5", "condition", "")]
    [('name', 'unit price'), ('symbol', '>='), ('number', '2.5')]
    >>> [t.text for t in tokenize("tag in [a,b] or tag == a,b", "condition", "")]
    ['tag', 'in', '[', 'a', ',', 'b', ']', 'or', 'tag', '==', 'a,b']
    """
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"{what}: expected a non-empty string, got {source!r}")
    tokens: list[Token] = []
    in_list = False
    stripped = source.rstrip()
    position = 0
    while position < len(stripped):
        opens_list = bool(tokens) and tokens[-1].is_word("in") and _LIST_OPEN.match(stripped, position)
        in_list = in_list or bool(opens_list)
        match = (_LIST_TOKEN if in_list else _TOKEN).match(stripped, position)
        if match is None:
            start = len(stripped) - len(stripped[position:].lstrip())
            unclosed = stripped[start] in "'\"`"
            reason = f"unclosed {stripped[start]}" if unclosed else f"cannot read {stripped[start:start + 20]!r}"
            raise syntax_error(what, source, start, reason, help_text)
        kind = match.lastgroup
        raw = match.group(kind)
        token = Token(kind, raw[1:-1] if kind in ("name", "text") else raw, match.start(kind))
        in_list = in_list and not token.is_symbol("]")
        tokens.append(token)
        position = match.end()
    return tokens


class Parser:
    """Token cursor for a recursive-descent parser; errors carry the source and a caret."""

    def __init__(self, source: str, what: str, help_text: str):
        self.source, self.what, self.help_text = source, what, help_text
        self.tokens = tokenize(source, what, help_text)
        self.index = 0
        self.depth = 0

    def fail(self, message: str, token: Token | None = None) -> ValueError:
        """A syntax error at ``token`` (default: the end of the text)."""
        position = len(self.source.rstrip()) if token is None else token.position
        return syntax_error(self.what, self.source, position, message, self.help_text)

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, expected: str) -> Token:
        """The next token; at the end of the text, an error saying ``expected`` was."""
        token = self.peek()
        if token is None:
            raise self.fail(f"expected {expected}, found the end")
        self.index += 1
        return token

    @contextmanager
    def nested(self, token: Token) -> Iterator[None]:
        """One level deeper (a parenthesis or a prefix operator at ``token``), refused past :data:`MAX_DEPTH`."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH} levels", token)
        yield
        self.depth -= 1

    def left_associative(self, operand: Callable[[], object], is_operator: Callable[[Token], bool],
                         combine: Callable[[Token, object, object], object]):
        """``operand (operator operand)*``, combined from the left: one precedence level."""
        node = operand()
        while (token := self.peek()) is not None and is_operator(token):
            self.index += 1
            node = combine(token, node, operand())
        return node
