"""Show results in notebooks and reports safely.

Everything shown through these helpers is HTML-escaped (event names and
properties come from user data and may contain markup), tables never show
raw user ids, and :func:`suppress_small_groups` masks groups too small to
report.  Key numbers shown with :func:`show_key_numbers` are also attached
to the output's metadata, so the report runner can list them in
``reports/index.html`` and at the top of each report.

Example notebook cell::

    from engagement_utils.display import show_key_numbers, show_table
    show_key_numbers({"Events": f"{len(events):,}", "Users": f"{n_users:,}"})
    show_table(suppress_small_groups(by_channel, "users"), caption="Users by channel")
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from numbers import Integral, Real

import pandas as pd
from IPython.display import HTML, display

__all__ = [
    "KEY_NUMBERS_METADATA",
    "KEY_NUMBERS_TITLE_METADATA",
    "key_numbers_html",
    "show_key_numbers",
    "show_table",
    "table_html",
    "show_note",
    "suppress_small_groups",
    "check_no_user_ids",
]

KEY_NUMBERS_METADATA = "engagement_key_numbers"
"""Output metadata key under which :func:`show_key_numbers` stores its numbers."""
KEY_NUMBERS_TITLE_METADATA = "engagement_key_numbers_title"
"""Output metadata key holding the title of a key-numbers block."""

USER_ID_COLUMNS = ("user_id",)
"""Column / index names treated as raw user identifiers."""

_NOTE_STYLES = {
    "info": "background:#eef4fb;border-left:4px solid #3b78c2;",
    "warning": "background:#fdf6e3;border-left:4px solid #d08a00;",
}


def _format_value(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Integral):
        return f"{int(value):,}"
    if isinstance(value, Real):
        return _format_float(float(value))
    return str(value)


def _format_float(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    # thousands separators for big numbers, 4 significant digits for small ones
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def key_numbers_html(numbers: Mapping[str, object], title: str = "Key numbers") -> str:
    """Render key numbers as an escaped HTML block (used by notebooks and reports).

    Parameters
    ----------
    numbers : mapping
        Label → value; strings are shown as given, numbers get thousands
        separators.
    title : str
        Heading of the block.

    Returns
    -------
    str
        An HTML fragment with inline styles (no scripts, no external resources).

    Examples
    --------
    >>> "1,234" in key_numbers_html({"Users": 1234})
    True
    """
    items = "".join(
        '<div style="display:inline-block;margin:0 1.5em 0.6em 0;vertical-align:top">'
        f'<div style="font-size:1.5em;font-weight:600">{html.escape(_format_value(value))}</div>'
        f'<div style="color:#555">{html.escape(str(label))}</div></div>'
        for label, value in numbers.items()
    )
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
        Format values as they should read; numbers are given thousands
        separators.  Never put user ids here.
    title : str
        Heading of the block.

    Examples
    --------
    Usage in a notebook cell (it displays HTML, so it is not a doctest)::

        show_key_numbers({"Events": "123,456", "Users": 5_321})
    """
    shown = {str(label): _format_value(value) for label, value in numbers.items()}
    display(
        HTML(key_numbers_html(shown, title)),
        metadata={KEY_NUMBERS_METADATA: shown, KEY_NUMBERS_TITLE_METADATA: title},
    )


def check_no_user_ids(frame: pd.DataFrame | pd.Series) -> None:
    """Raise if a frame about to be shown contains raw user ids.

    Parameters
    ----------
    frame : DataFrame or Series
        The table to check (columns and index level names are inspected).

    Raises
    ------
    ValueError
        Naming the offending column; aggregate first (e.g. count users).

    Examples
    --------
    >>> check_no_user_ids(pd.DataFrame({"channel": ["ads"], "users": [12]}))
    >>> check_no_user_ids(pd.DataFrame({"user_id": ["u1"]}))
    Traceback (most recent call last):
    ...
    ValueError: the table contains raw user ids (column 'user_id'); reports must not show them -- aggregate first, e.g. count users per group
    """
    names = list(frame.index.names)
    names += [frame.name] if isinstance(frame, pd.Series) else list(frame.columns)
    for name in names:
        if isinstance(name, str) and name.lower() in USER_ID_COLUMNS:
            raise ValueError(
                f"the table contains raw user ids (column {name!r}); reports must not "
                "show them -- aggregate first, e.g. count users per group"
            )


def _float_formatter(float_format: str | Callable[[float], str] | None) -> Callable[[float], str]:
    if float_format is None:
        return _format_float
    if callable(float_format):
        return float_format
    spec = float_format
    try:
        format(1.5, spec)
    except ValueError:
        raise ValueError(
            f"float_format {spec!r} is not a format spec; use e.g. '.1%', ',.2f' or a function"
        ) from None
    return lambda value: format(value, spec)


def show_table(
    df: pd.DataFrame | pd.Series,
    caption: str | None = None,
    max_rows: int = 50,
    float_format: str | Callable[[float], str] | None = None,
) -> None:
    """Display a table with escaped text, no row-number index and a row limit.

    Parameters
    ----------
    df : DataFrame or Series
        The table.  A meaningful (named) index is shown as columns; a plain
        0..n-1 index is dropped.
    caption : str, optional
        Text shown above the table.
    max_rows : int
        Show at most this many rows and say how many were left out.
    float_format : str or callable, optional
        Format spec for floats such as ``".1%"`` or ``",.2f"``, or a function;
        default: thousands separators for big numbers, 4 significant digits
        otherwise.

    Raises
    ------
    ValueError
        If the table has a ``user_id`` column (see :func:`check_no_user_ids`)
        or ``max_rows`` < 1.

    Examples
    --------
    Usage in a notebook cell (it displays HTML, so it is not a doctest)::

        show_table(pd.DataFrame({"event": ["<b>login</b>"], "users": [12]}))
    """
    display(HTML(table_html(df, caption=caption, max_rows=max_rows, float_format=float_format)))


def table_html(
    df: pd.DataFrame | pd.Series,
    caption: str | None = None,
    max_rows: int = 50,
    float_format: str | Callable[[float], str] | None = None,
) -> str:
    """Return the escaped HTML that :func:`show_table` displays.

    Parameters
    ----------
    df, caption, max_rows, float_format
        As for :func:`show_table`.

    Returns
    -------
    str
        An HTML fragment.

    Examples
    --------
    >>> "&lt;b&gt;" in table_html(pd.DataFrame({"event": ["<b>"]}))
    True
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    check_no_user_ids(df)
    frame = df.to_frame() if isinstance(df, pd.Series) else df
    has_plain_index = all(name is None for name in frame.index.names) and isinstance(
        frame.index, pd.RangeIndex
    )
    frame = frame.reset_index(drop=has_plain_index)
    shown = frame.head(max_rows)
    table = shown.to_html(
        index=False,
        escape=True,
        border=0,
        na_rep="–",
        float_format=_float_formatter(float_format),
        classes="engagement-table",
    )
    parts = []
    if caption:
        parts.append(f'<div style="font-weight:600;margin:0.5em 0 0.3em">{html.escape(caption)}</div>')
    parts.append(table)
    if len(frame) > max_rows:
        parts.append(
            f'<div style="color:#555;font-size:0.9em">Showing {max_rows:,} of {len(frame):,} rows.</div>'
        )
    return "".join(parts)


def show_note(text: str, kind: str = "info") -> None:
    """Display a short escaped note (e.g. what a censored value means).

    Parameters
    ----------
    text : str
        Plain text (not HTML; it is escaped).
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
    if kind not in _NOTE_STYLES:
        raise ValueError(f"kind must be one of {', '.join(map(repr, _NOTE_STYLES))}, got {kind!r}")
    label = "Note" if kind == "info" else "Warning"
    display(
        HTML(
            f'<div class="engagement-note engagement-note-{kind}" '
            f'style="{_NOTE_STYLES[kind]}padding:0.5em 0.8em;margin:0.5em 0">'
            f"<strong>{label}:</strong> {html.escape(text)}</div>"
        )
    )


def suppress_small_groups(
    frame: pd.DataFrame,
    count_column: str,
    threshold: int = 10,
    columns: list[str] | None = None,
    flag_column: str = "suppressed",
) -> pd.DataFrame:
    """Mask the numbers of groups smaller than a threshold before showing them.

    Parameters
    ----------
    frame : DataFrame
        One row per group with a count of users (or sessions) per row.
    count_column : str
        The column holding the group size.
    threshold : int
        Rows with ``count_column < threshold`` are masked; 0 disables.
    columns : list of str, optional
        Columns to mask; default: every numeric column, the count included
        (a tiny count alone can identify people).
    flag_column : str
        Name of the added boolean column that marks masked rows.

    Returns
    -------
    DataFrame
        A copy; masked values are NaN (shown as "–" by :func:`show_table`).

    Raises
    ------
    ValueError
        If a column is missing or ``threshold`` is negative.

    Examples
    --------
    >>> t = pd.DataFrame({"channel": ["ads", "seo"], "users": [120, 4], "rate": [0.3, 0.5]})
    >>> suppress_small_groups(t, "users")
      channel  users  rate  suppressed
    0     ads  120.0   0.3       False
    1     seo    NaN   NaN        True
    """
    if threshold < 0:
        raise ValueError(f"threshold must be 0 or more, got {threshold}")
    missing = [c for c in [count_column, *(columns or [])] if c not in frame.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not in the frame; available: {list(frame.columns)}")
    if columns is None:
        columns = list(frame.select_dtypes("number").columns)
    small = frame[count_column] < threshold
    out = frame.copy()
    out[columns] = out[columns].mask(small)
    out[flag_column] = small.to_numpy()
    return out
