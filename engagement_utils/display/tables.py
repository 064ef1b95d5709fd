"""Tables for people: escaped HTML, formatted columns, intervals in one cell, small groups hidden."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from .format import (
    MISSING,
    column_label,
    format_ci,
    format_count,
    format_money,
    format_number,
    format_p_value,
    format_percent,
    is_missing,
)
from .privacy import MIN_GROUP_SIZE, check_no_user_ids, count_column_of, small_group_mask

__all__ = ["INTERNAL_COLUMNS", "SOFT_WRAP", "column_kind", "format_frame", "soft_wrap", "table_html"]

SOFT_WRAP = 30
"""Longest run of characters without a break opportunity in a table cell."""
INTERNAL_COLUMNS = ("suppressed",)
"""Columns that are bookkeeping, never shown (also any name starting with ``_``)."""

_P_VALUES = {"p", "p_value", "pvalue", "p_adjusted", "p_value_adjusted", "p_holm", "p_bh"}
_LIFTS = {"relative_lift", "lift", "mde_relative", "lift_ci_low", "lift_ci_high"}
_PERCENTS = {"rate", "share", "conversion", "retention", "chance_to_beat", "stickiness", "bounce_rate",
             "rate_base", "drop_off_rate", "step_conversion", "variance_reduction", "plateau", "expected_loss_share"}
_PERCENT_SUFFIXES = ("_rate", "_share", "_conversion", "_retention")
_COUNT_NAMES = {"n", "users", "events", "sessions", "eligible", "retained", "orders", "cohort_size", "rows",
                "occurrences", "exits", "carts", "purchasers", "conversions", "days", "k", "active_days", "dau", "wau", "mau",
                "churned", "converted", "reached", "responded", "entered", "buyers", "missing"}
_COUNT_SUFFIXES = ("_users", "_events", "_sessions", "_customers", "_count", "_orders", "_size", "_rows")
_MONEY_WORDS = ("revenue", "cost", "spend", "cac", "cpa", "arpu", "ltv", "aov", "monetary", "price")
_ROW_RATE_CUES = ("control_value", "variant_value", "rate", "rate_base", "baseline", "value")
_ROW_DEPENDENT = {"control_value", "variant_value", "value", "baseline", "difference", "cuped_difference",
                  "observed_difference", "mde"}
_CI_PAIRS = (
    ("diff_ci_low", "diff_ci_high", ("difference",)),
    ("lift_ci_low", "lift_ci_high", ("relative_lift",)),
    ("cuped_ci_low", "cuped_ci_high", ("cuped_difference",)),
    ("step_ci_low", "step_ci_high", ("step_conversion",)),
    ("ci_low", "ci_high", ("difference", "rate", "conversion", "value", "share", "mean", "estimate")),
)
_BOUND_SUFFIXES = ("ci_low", "ci_high")
_ESTIMATE_SUFFIXES = ("", "_rate", "_share", "_value", "_per_user", "_mean")


def _bound_pairs(frame: pd.DataFrame, folded: Mapping[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Interval bounds no named pair claims, each folded into its estimate by a column-kind rule.

    ``X_ci_low`` / ``X_ci_high`` belong to ``X`` (or ``X_rate``, ``X_share``,
    ``X_value``, ``X_per_user``, ``X_mean``); bare ``ci_low`` / ``ci_high`` belong to the nearest rate
    (percent column) left of them.  A rate's bounds are rates: they read as
    ``67.5% (95% CI 61.8% to 72.7%)``, never as ``0.618`` beside ``67.5%``.
    """
    taken = set(folded) | {c for pair in folded.values() for c in pair}
    columns = [str(c) for c in frame.columns]
    out: dict[str, tuple[str, str]] = {}
    for low in columns:
        if not low.endswith("ci_low") or low in taken:
            continue
        prefix = low[: -len("ci_low")]
        high = prefix + "ci_high"
        if high not in columns or high in taken:
            continue
        target = None
        if prefix:
            stem = prefix.rstrip("_")
            target = next((stem + s for s in _ESTIMATE_SUFFIXES
                           if stem + s in columns and stem + s not in taken and stem + s not in out), None)
        else:
            before = columns[: columns.index(low)]
            target = next((c for c in reversed(before) if c not in taken and c not in out
                           and column_kind(c, frame[c]) == "percent"), None)
        if target is not None and pd.api.types.is_numeric_dtype(frame[target]):
            out[target] = (low, high)
            taken |= {target, low, high}
    return out


def _exact_decimals(values: pd.Series, most: int = 2) -> int | None:
    """The fewest decimals (1 to ``most``) that show every finite value exactly, else None.

    A column of medians such as 3.5, 20 and 126 then reads 3.5, 20.0, 126.0
    instead of 3.50, 20.00, 126.
    """
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    finite = numbers[np.isfinite(numbers)]
    if not len(finite):
        return None
    for decimals in range(1, most + 1):
        if np.allclose(np.round(finite, decimals), finite, rtol=0, atol=1e-9):
            return decimals
    return None


def _whole(values: pd.Series) -> bool:
    """True when every finite value of a numeric column is a whole number (medians of counts: 3, not 3.00)."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    finite = numbers[np.isfinite(numbers)]
    return len(finite) > 0 and bool(np.all(finite == np.round(finite)))


def column_kind(name: object, values: pd.Series) -> str:
    """How a column is formatted: ``p_value``, ``lift``, ``index``, ``percent``, ``count``, ``money``, ``bool``, ``number`` or ``text``.

    Decided by the column's name first (a ``users`` column is a count even
    when it is float after suppression), then its dtype.

    Examples
    --------
    >>> column_kind("p_value_adjusted", pd.Series([0.01])), column_kind("new_customers", pd.Series([1211.0]))
    ('p_value', 'count')
    >>> column_kind("cuped_p_value", pd.Series([2.5e-05]))
    'p_value'
    """
    key = str(name).lower()
    if values.dtype == bool:
        return "bool"
    numeric = pd.api.types.is_numeric_dtype(values)
    if not numeric:
        return "text"
    if key in _P_VALUES or key.startswith("p_value") or key.endswith(("_p_value", "_p")):
        return "p_value"
    if key in _LIFTS:
        return "lift"
    if key == "index" or key.endswith("_index"):
        return "index"
    if key in _PERCENTS or key.endswith(_PERCENT_SUFFIXES) or key.startswith(("share_", "rate_")):
        return "percent"
    if key in _COUNT_NAMES or key.endswith(_COUNT_SUFFIXES) or key.startswith("n_") or pd.api.types.is_integer_dtype(values):
        return "count"
    if any(word in key for word in _MONEY_WORDS):
        return "money"
    return "number"


def _rate_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose values are rates (A/B binary metrics, retention): differences read in pp."""
    if "kind" in frame.columns:
        return (frame["kind"].astype(str) == "binary").to_numpy()
    cues = [c for c in _ROW_RATE_CUES if c in frame.columns and pd.api.types.is_numeric_dtype(frame[c])]
    if not cues:
        return np.zeros(len(frame), dtype=bool)
    block = frame[cues].to_numpy(dtype=float)
    inside = np.isnan(block) | ((block >= 0) & (block <= 1))
    return inside.all(axis=1) & ~np.isnan(block).all(axis=1)


def _cell_formatter(kind: str, currency: str | None, float_format: Callable[[float], str] | None):
    if kind == "p_value":
        return format_p_value
    if kind == "lift":
        return lambda v: format_percent(v, signed=True)
    if kind == "percent":
        return format_percent
    if kind == "count":
        return format_count
    if kind == "money":
        return lambda v: format_money(v, currency)
    if kind == "bool":
        return lambda v: MISSING if is_missing(v) else ("yes" if v else "no")
    if kind == "index":
        return lambda v: MISSING if is_missing(v) else f"{float(v):,.2f}"  # a ratio to 1: 0.81, 0.92, 1.04
    if kind == "number":
        return (lambda v: MISSING if is_missing(v) else float_format(v)) if float_format else format_number
    return lambda v: MISSING if is_missing(v) else str(v)


def _float_formatter(float_format: str | Callable[[float], str] | None) -> Callable[[float], str] | None:
    if float_format is None or callable(float_format):
        return float_format
    spec = float_format
    try:
        format(1.5, spec)
    except ValueError:
        raise ValueError(
            f"float_format {spec!r} is not a format spec; use e.g. '.1%', ',.2f' or a function"
        ) from None
    return lambda value: format(value, spec)


def format_frame(
    frame: pd.DataFrame,
    *,
    currency: str | None = None,
    float_format: str | Callable[[float], str] | None = None,
    ci_level: float = 0.95,
) -> pd.DataFrame:
    """Every cell as the text a reader sees; interval bounds folded into their estimate's cell.

    ``difference`` with ``ci_low``/``ci_high`` becomes one column reading
    ``+6.7 pp (95% CI +3.6 to +9.9)`` on rows of rates (a ``kind`` of
    "binary", or rate-valued ``control_value``/``rate`` columns), and a plain
    signed difference elsewhere.  Columns are formatted by
    :func:`column_kind`; ``float_format`` applies to plain measurements only.

    Examples
    --------
    >>> t = pd.DataFrame({"rate": [0.653], "ci_low": [0.601], "ci_high": [0.702], "p_value": [2.5e-05]})
    >>> format_frame(t).iloc[0].tolist()
    ['65.3% (95% CI 60.1% to 70.2%)', '< 0.001']
    """
    number_format = _float_formatter(float_format)
    rate_rows = _rate_rows(frame)
    out = pd.DataFrame(index=frame.index)
    folded: dict[str, tuple[str, str]] = {}
    for low, high, estimates in _CI_PAIRS:
        target = next((c for c in estimates if c in frame.columns and c not in folded), None)
        if low in frame.columns and high in frame.columns and target is not None:
            folded[target] = (low, high)
    folded.update(_bound_pairs(frame, folded))
    bounds = {c for pair in folded.values() for c in pair}
    for name in frame.columns:
        if name in bounds:
            continue
        values = frame[name]
        kind = column_kind(name, values)
        if kind in ("number", "money") and name in _ROW_DEPENDENT:
            signed = name in ("difference", "cuped_difference", "observed_difference")
            ci_kind_rate = "pp" if signed else "percent"
            ci_kind_other = "signed" if signed else ("money" if kind == "money" else "number")
            low, high = folded.get(name, (None, None))
            cells = []
            for i, value in enumerate(values.to_numpy()):
                lo = frame[low].iloc[i] if low else None
                hi = frame[high].iloc[i] if high else None
                ci_kind = ci_kind_rate if rate_rows[i] else ci_kind_other
                if ci_kind in ("number", "signed", "money") and number_format and not signed and kind == "number":
                    cells.append(MISSING if is_missing(value) else number_format(value))
                else:
                    cells.append(format_ci(value, lo, hi, kind=ci_kind, level=ci_level, currency=currency))
            out[name] = cells
            continue
        if name in folded:
            low, high = folded[name]
            ci_kind = {"percent": "percent", "lift": "lift", "money": "money"}.get(kind, "number")
            out[name] = [format_ci(v, lo, hi, kind=ci_kind, level=ci_level, currency=currency)
                         for v, lo, hi in zip(values, frame[low], frame[high])]
            continue
        if kind == "number" and number_format is None and _whole(values):
            kind = "count"  # a column of whole numbers reads 3, 20, 1,204: no "3.00" beside "20.00"
        elif kind == "number" and number_format is None and (decimals := _exact_decimals(values)) is not None:
            out[name] = [MISSING if is_missing(v) else f"{float(v):,.{decimals}f}" for v in values.to_numpy()]
            continue
        formatter = _cell_formatter(kind, currency, number_format)
        out[name] = [formatter(v) for v in values.to_numpy()]
    return out


def _split_columns(columns: list, keys: list, max_columns: int | None) -> list[list]:
    if not max_columns or len(columns) <= max_columns:
        return [columns]
    rest = [c for c in columns if c not in keys]
    width = max(1, max_columns - len(keys))
    return [keys + rest[i:i + width] for i in range(0, len(rest), width)]


_LONG_TOKEN = re.compile(r"\S{%d,}" % SOFT_WRAP)


def soft_wrap(text: str) -> str:
    """Text with invisible break opportunities inside very long words, so one cannot widen a table.

    Examples
    --------
    >>> soft_wrap("a" * 50).count("\u200b"), soft_wrap("short words stay")
    (1, 'short words stay')
    """
    return _LONG_TOKEN.sub(lambda m: "\u200b".join(m.group(0)[i:i + SOFT_WRAP]
                                                  for i in range(0, len(m.group(0)), SOFT_WRAP)), text)


_KEEP_TOGETHER = (("< ", "<\u00a0"), (" pp", "\u00a0pp"), ("% CI ", "%\u00a0CI "), (" to ", "\u00a0to\u00a0"))


def _number_cell(text: str) -> str:
    """A formatted number wraps only between its parts ("+6.7 pp" / "(95% CI" / "+3.6 to +9.9)")."""
    for old, new in _KEEP_TOGETHER:
        text = text.replace(old, new)
    return text


def _html_table(cells: pd.DataFrame, numeric: set, labels: Mapping[str, str] | None, relabel: bool = True) -> str:
    def cls(column) -> str:
        return "num" if column in numeric else "text"

    head = "".join(
        f'<th class="{cls(c)}">{html.escape(column_label(c, labels) if relabel else str(c))}</th>' for c in cells.columns
    )
    body = "".join(
        "<tr>" + "".join(f'<td class="{cls(c)}">{html.escape(_number_cell(str(v)) if c in numeric else soft_wrap(str(v)))}</td>' for c, v in zip(cells.columns, row)) + "</tr>"
        for row in cells.itertuples(index=False, name=None)
    )
    return (f'<div class="engagement-table-wrap"><table class="engagement-table">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _nothing_shown(n_hidden: int, min_group_size: int) -> str:
    """Why a table has no rows to show.

    Examples
    --------
    >>> _nothing_shown(3, 10), _nothing_shown(0, 10)
    ('All 3 groups have fewer than 10 users and are not shown (privacy).', 'No rows to show.')
    """
    if n_hidden > 1:
        return f"All {n_hidden:,} groups have fewer than {min_group_size:,} users and are not shown (privacy)."
    if n_hidden == 1:
        return f"The one group has fewer than {min_group_size:,} users and is not shown (privacy)."
    return "No rows to show."


def table_html(
    df: pd.DataFrame | pd.Series,
    caption: str | None = None,
    max_rows: int = 50,
    float_format: str | Callable[[float], str] | None = None,
    *,
    min_group_size: int = MIN_GROUP_SIZE,
    count_column: str | None = None,
    currency: str | None = None,
    labels: Mapping[str, str] | None = None,
    ci_level: float = 0.95,
    transpose: bool = False,
    max_columns: int | None = None,
) -> str:
    """The escaped, formatted HTML that :func:`~engagement_utils.display.show_table` displays.

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
        Format spec (``".1%"``, ``",.2f"``) or function for plain measurement
        columns; p-values, rates, counts and money are always formatted by
        :mod:`engagement_utils.display.format`.
    min_group_size : int
        Rows whose group size (``count_column``, else a ``users``,
        ``n_users`` or ``n`` column) is below this are hidden -- counts and
        rates alike -- and the table says how many; 0 shows every row.
        Rows flagged by :func:`suppress_small_groups` are hidden too.
    count_column : str, optional
        The group-size column, when it has another name.
    currency : str, optional
        Currency of money columns (``revenue``, ``cost``, ``cac``, ...), e.g.
        ``"EUR"`` (shown as €) or ``"CHF"``; default: amounts without a currency.
    labels : mapping, optional
        Column name → header, on top of the built-in labels.
    ci_level : float
        Level written in intervals (``1 - alpha``).
    transpose : bool
        Show columns as rows (for a wide table of a few rows).
    max_columns : int, optional
        Split a wide table into several of at most this many columns, each
        repeating the leading text columns.

    Returns
    -------
    str
        An HTML fragment.

    Raises
    ------
    ValueError
        If the table has a ``user_id`` column (see :func:`check_no_user_ids`)
        or ``max_rows`` < 1.

    Examples
    --------
    >>> "&lt;b&gt;" in table_html(pd.DataFrame({"event": ["<b>"]}))
    True
    >>> "1 group with fewer than 10 users is not shown" in table_html(pd.DataFrame({"users": [3, 50]}))
    True
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    check_no_user_ids(df)
    frame = df.to_frame() if isinstance(df, pd.Series) else df
    has_plain_index = all(name is None for name in frame.index.names) and isinstance(frame.index, pd.RangeIndex)
    frame = frame.reset_index(drop=has_plain_index)
    size_column = count_column_of(frame, count_column)
    hidden = small_group_mask(frame, size_column, min_group_size)
    frame = frame.loc[~hidden.to_numpy()]
    frame = frame[[c for c in frame.columns if c not in INTERNAL_COLUMNS and not str(c).startswith("_")]]
    shown = frame.head(max_rows)
    cells = format_frame(shown, currency=currency, float_format=float_format, ci_level=ci_level)
    numeric = {c for c in shown.columns if column_kind(c, shown[c]) not in ("text",)} & set(cells.columns)
    if transpose:
        first = cells.columns[0]
        flipped = cells.set_index(first).T
        flipped.index = [column_label(c, labels) for c in flipped.index]
        cells = flipped.reset_index().rename(columns={"index": column_label(first, labels)})
        cells.columns = [str(c) for c in cells.columns]
        numeric = set(cells.columns[1:])
    keys = [c for c in cells.columns[:2] if c not in numeric]
    tables = "".join(
        _html_table(cells[group], numeric, labels, relabel=not transpose)
        for group in _split_columns(list(cells.columns), keys, max_columns)
    )

    parts = []
    if caption:
        parts.append(f'<div style="font-weight:600;margin:0.5em 0 0.3em">{html.escape(caption)}</div>')
    notes = []
    n_hidden = int(hidden.sum())
    if frame.empty:  # a header row over nothing reads as a broken report: say why instead
        notes.append(_nothing_shown(n_hidden, min_group_size))
    else:
        parts.append(tables)
    if len(frame) > max_rows:
        notes.append(f"Showing {max_rows:,} of {len(frame):,} rows.")
    if n_hidden and not frame.empty:
        groups = "group" if n_hidden == 1 else "groups"
        verb = "is" if n_hidden == 1 else "are"
        notes.append(f"{n_hidden:,} {groups} with fewer than {min_group_size:,} users {verb} not shown (privacy).")
    if notes:
        parts.append(f'<div style="color:#555;font-size:0.9em">{html.escape(" ".join(notes))}</div>')
    return "".join(parts)
