"""Show results in notebooks and reports safely and readably.

Everything shown through these helpers is HTML-escaped (event names and
properties come from user data and may contain markup): tables, notes,
bullet lists and paragraphs all go through one rendering path, so no
notebook needs IPython's ``Markdown``/``HTML`` for data text.  Tables never
show raw user ids, hide groups smaller than ``min_group_size`` by
themselves, and format numbers through :mod:`engagement_utils.display.format`.
Key numbers shown with :func:`show_key_numbers` are also attached to the
output's metadata, so the report runner can list them in
``reports/index.html`` and at the top of each report.

Example notebook cell::

    from engagement_utils.display import show_bullets, show_key_numbers, show_table
    show_key_numbers({"Events": f"{len(events):,}", "Users": f"{n_users:,}"})
    show_table(by_channel, caption="Users by channel")      # groups under 10 users hidden
    show_bullets(analysis.verdict[1:])                        # escaped, one bullet per sentence
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping

import pandas as pd
from IPython.display import HTML, display

from . import format as _format_module
from . import privacy as _privacy_module
from .format import *  # noqa: F401,F403  (the formatting layer is part of this package's API)
from .format import format_value
from .privacy import *  # noqa: F401,F403
from .tables import table_html

__all__ = [
    "KEY_NUMBERS_METADATA",
    "SKIPPED_SECTIONS",
    "KEY_NUMBERS_TITLE_METADATA",
    "bullets_html",
    "key_numbers_html",
    "note_html",
    "paragraphs_html",
    "show_bullets",
    "show_key_numbers",
    "show_note",
    "show_paragraphs",
    "show_table",
    "table_html",
    *_format_module.__all__,
    *_privacy_module.__all__,
]

KEY_NUMBERS_METADATA = "engagement_key_numbers"
"""Output metadata key under which :func:`show_key_numbers` stores its numbers."""
KEY_NUMBERS_TITLE_METADATA = "engagement_key_numbers_title"
"""Output metadata key holding the title of a key-numbers block."""
SKIPPED_SECTIONS = "Skipped sections"
"""Key-number label of the skipped sections: shown as one compact line under the figures, not as a figure."""

_NOTE_STYLES = {
    "info": "background:#eef4fb;border-left:4px solid #3b78c2;",
    "warning": "background:#fdf6e3;border-left:4px solid #d08a00;",
}


def key_numbers_html(numbers: Mapping[str, object], title: str = "Key numbers") -> str:
    """Render key numbers as an escaped HTML block (used by notebooks and reports).

    Parameters
    ----------
    numbers : mapping
        Label → value; strings are shown as given, numbers are formatted by
        :func:`~engagement_utils.display.format.format_value`.
    title : str
        Heading of the block.

    Returns
    -------
    str
        An HTML fragment with inline styles (no scripts, no external resources).

    The entry labelled :data:`SKIPPED_SECTIONS` is not a figure: it reads as
    one compact line ("Skipped sections: A (needs ...); B (needs ...)") under them.

    Examples
    --------
    >>> "1,234" in key_numbers_html({"Users": 1234})
    True
    >>> "engagement-skipped" in key_numbers_html({"Users": 1, "Skipped sections": "Funnel (needs funnel steps)"})
    True
    """
    figures = {label: value for label, value in numbers.items() if str(label) != SKIPPED_SECTIONS}
    items = "".join(
        '<div style="display:inline-block;margin:0 1.5em 0.6em 0;vertical-align:top;max-width:100%;'
        'overflow-wrap:anywhere">'
        f'<div style="font-size:1.5em;font-weight:600">{html.escape(format_value(value))}</div>'
        f'<div style="color:#555">{html.escape(str(label))}</div></div>'
        for label, value in figures.items()
    )
    skipped = next((value for label, value in numbers.items() if str(label) == SKIPPED_SECTIONS), None)
    if skipped is not None:
        items += ('<div class="engagement-skipped" style="color:#555;font-size:0.9em;overflow-wrap:anywhere">'
                  f'<span style="font-weight:600">{html.escape(SKIPPED_SECTIONS)}:</span> '
                  f'<span class="engagement-skipped-list">{html.escape(format_value(skipped))}</span></div>')
    return (
        '<section class="engagement-key-numbers" '
        'style="border:1px solid #ddd;border-radius:6px;padding:0.6em 1em;margin:0.5em 0">'
        f'<div style="font-weight:600;margin-bottom:0.4em">{html.escape(title)}</div>'
        f"{items}</section>"
    )


def show_key_numbers(numbers: Mapping[str, object], title: str = "Key numbers") -> None:
    """Display the headline numbers of an analysis and tag them for the report index.

    Parameters
    ----------
    numbers : mapping
        Label → value, e.g. ``{"Events": "123,456", "Day-7 retention": "21.4%"}``.
        Format values as they should read (``format_percent``, ``format_pp``,
        ...); numbers are formatted by ``format_value``.  Never put user ids here.
    title : str
        Heading of the block.

    Examples
    --------
    Usage in a notebook cell (it displays HTML, so it is not a doctest)::

        show_key_numbers({"Events": "123,456", "Users": 5_321})
    """
    shown = {str(label): format_value(value) for label, value in numbers.items()}
    display(
        HTML(key_numbers_html(shown, title)),
        metadata={KEY_NUMBERS_METADATA: shown, KEY_NUMBERS_TITLE_METADATA: title},
    )


def show_table(
    df: pd.DataFrame | pd.Series,
    caption: str | None = None,
    max_rows: int = 50,
    float_format: str | Callable[[float], str] | None = None,
    **options,
) -> None:
    """Display a table: escaped, formatted for people, small groups hidden.

    Parameters and options are those of :func:`table_html` (``min_group_size``,
    ``count_column``, ``currency``, ``labels``, ``ci_level``, ``transpose``,
    ``max_columns``).

    Examples
    --------
    Usage in a notebook cell (it displays HTML, so it is not a doctest)::

        show_table(pd.DataFrame({"event": ["<b>login</b>"], "users": [12]}))
    """
    display(HTML(table_html(df, caption=caption, max_rows=max_rows, float_format=float_format, **options)))


_BACKTICKED = re.compile(r"`([^`]+)`")


def _inline_code(escaped: str) -> str:
    # Notes name parameters and columns in backticks; after escaping, the span can only be text.
    return _BACKTICKED.sub(r"<code>\1</code>", escaped)


def note_html(text: str, kind: str = "info") -> str:
    """The escaped HTML of :func:`show_note`; text in backticks reads as code (a parameter, a column).

    Examples
    --------
    >>> "&lt;b&gt;" in note_html("<b>")
    True
    >>> "set <code>segment</code>" in note_html("set `segment`"), "<code>&lt;b&gt;</code>" in note_html("`<b>`")
    (True, True)
    """
    if kind not in _NOTE_STYLES:
        raise ValueError(f"kind must be one of {', '.join(map(repr, _NOTE_STYLES))}, got {kind!r}")
    label = "Note" if kind == "info" else "Warning"
    return (
        f'<div class="engagement-note engagement-note-{kind}" '
        f'style="{_NOTE_STYLES[kind]}padding:0.5em 0.8em;margin:0.5em 0;overflow-wrap:anywhere">'
        f"<strong>{label}:</strong> {_inline_code(html.escape(str(text)))}</div>"
    )


def show_note(text: str, kind: str = "info") -> None:
    """Display a short escaped note (e.g. what a censored value means).

    Parameters
    ----------
    text : str
        Plain text (not HTML, not Markdown; it is escaped).
    kind : {"info", "warning"}
        Styling of the note.

    Raises
    ------
    ValueError
        If ``kind`` is not one of the allowed values.

    Examples
    --------
    Usage in a notebook cell (it displays HTML, so it is not a doctest)::

        show_note("Cohorts younger than 7 days have no day-7 value.")
    """
    display(HTML(note_html(text, kind)))


def _sentences(sentences: str | Iterable[object]) -> list[str]:
    items = [sentences] if isinstance(sentences, str) else list(sentences)
    return [str(s) for s in items if str(s).strip()]


def bullets_html(sentences: str | Iterable[object], title: str | None = None) -> str:
    """The escaped HTML of :func:`show_bullets`.

    Examples
    --------
    >>> bullets_html(["<img src=x onerror=alert(1)> won", "B"])
    '<ul class="engagement-bullets" style="margin:0.4em 0;overflow-wrap:anywhere"><li>&lt;img src=x onerror=alert(1)&gt; won</li><li>B</li></ul>'
    """
    items = "".join(f"<li>{html.escape(s)}</li>" for s in _sentences(sentences))
    heading = f'<div style="font-weight:600;margin:0.5em 0 0.2em">{html.escape(title)}</div>' if title else ""
    return f'{heading}<ul class="engagement-bullets" style="margin:0.4em 0;overflow-wrap:anywhere">{items}</ul>'


def show_bullets(sentences: str | Iterable[object], title: str | None = None) -> None:
    """Display sentences as a bullet list, escaped (variant and event names may hold markup).

    Use this instead of ``display(Markdown("\\n".join(f"- {s}" ...)))``: Markdown
    renders HTML and links in the data, this never does.

    Parameters
    ----------
    sentences : str or iterable
        One bullet per item (a single string is one bullet); empty items are skipped.
    title : str, optional
        A bold line above the list.

    Examples
    --------
    Usage in a notebook cell (it displays HTML, so it is not a doctest)::

        show_bullets(analysis.verdict[1:])
    """
    display(HTML(bullets_html(sentences, title)))


def paragraphs_html(paragraphs: str | Iterable[object]) -> str:
    """The escaped HTML of :func:`show_paragraphs`.

    Examples
    --------
    >>> paragraphs_html(["a < b", "c"])
    '<div class="engagement-text" style="overflow-wrap:anywhere"><p>a &lt; b</p><p>c</p></div>'
    """
    body = "".join(f"<p>{html.escape(p)}</p>" for p in _sentences(paragraphs))
    return f'<div class="engagement-text" style="overflow-wrap:anywhere">{body}</div>'


def show_paragraphs(paragraphs: str | Iterable[object]) -> None:
    """Display text from data as escaped paragraphs (one per item), instead of ``print`` or Markdown.

    Examples
    --------
    Usage in a notebook cell (it displays HTML, so it is not a doctest)::

        show_paragraphs([f"Largest persona: {name} ({share:.0%})."])
    """
    display(HTML(paragraphs_html(paragraphs)))
