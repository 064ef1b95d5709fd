"""Privacy rules of every table shown: no raw user ids, no small groups."""

from __future__ import annotations

import pandas as pd

__all__ = [
    "COUNT_COLUMNS",
    "MIN_GROUP_SIZE",
    "USER_ID_COLUMNS",
    "check_no_user_ids",
    "count_column_of",
    "small_group_mask",
    "suppress_small_groups",
]

USER_ID_COLUMNS = ("user_id",)
"""Column / index names treated as raw user identifiers."""
COUNT_COLUMNS = ("users", "n_users", "n")
"""Columns :func:`~engagement_utils.display.show_table` reads as the group size, in this order."""
MIN_GROUP_SIZE = 10
"""Default small-group threshold (``min_group_size``): smaller groups are not shown."""


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


def count_column_of(frame: pd.DataFrame, count_column: str | None = None) -> str | None:
    """The column holding each row's group size: ``count_column``, else the first of :data:`COUNT_COLUMNS`.

    Examples
    --------
    >>> count_column_of(pd.DataFrame({"segment": ["a"], "n_users": [3]}))
    'n_users'
    """
    if count_column is not None:
        if count_column not in frame.columns:
            raise ValueError(f"count_column {count_column!r} is not a column; columns: {list(frame.columns)}")
        return count_column
    return next((c for c in COUNT_COLUMNS if c in frame.columns and pd.api.types.is_numeric_dtype(frame[c])), None)


def small_group_mask(frame: pd.DataFrame, count_column: str | None, min_group_size: int,
                     flag_column: str = "suppressed") -> pd.Series:
    """Rows to hide: group size below ``min_group_size``, or already flagged by :func:`suppress_small_groups`."""
    if min_group_size < 0:
        raise ValueError(f"min_group_size must be 0 or more, got {min_group_size}")
    hidden = pd.Series(False, index=frame.index)
    if flag_column in frame.columns and frame[flag_column].dtype == bool:
        hidden |= frame[flag_column]
    if count_column is not None and min_group_size:
        hidden |= (frame[count_column] < min_group_size).fillna(False).astype(bool)
    return hidden


def suppress_small_groups(
    frame: pd.DataFrame,
    count_column: str,
    min_group_size: int = MIN_GROUP_SIZE,
    columns: list[str] | None = None,
    flag_column: str = "suppressed",
) -> pd.DataFrame:
    """Mask the numbers of groups smaller than ``min_group_size`` before showing them.

    :func:`~engagement_utils.display.show_table` does this by itself for
    frames with a user-count column; use this to mask other columns, or to
    keep the masked rows in a frame.

    Parameters
    ----------
    frame : DataFrame
        One row per group with a count of users (or sessions) per row.
    count_column : str
        The column holding the group size.
    min_group_size : int
        Rows with ``count_column < min_group_size`` are masked; 0 disables.
    columns : list of str, optional
        Columns to mask; default: every numeric column, the count included
        (a tiny count alone can identify people).
    flag_column : str
        Name of the added boolean column that marks masked rows (never shown
        by ``show_table``, which hides the flagged rows).

    Returns
    -------
    DataFrame
        A copy; masked values are NaN.

    Raises
    ------
    ValueError
        If a column is missing or ``min_group_size`` is negative.

    Examples
    --------
    >>> t = pd.DataFrame({"channel": ["ads", "seo"], "users": [120, 4], "rate": [0.3, 0.5]})
    >>> suppress_small_groups(t, "users")
      channel  users  rate  suppressed
    0     ads  120.0   0.3       False
    1     seo    NaN   NaN        True
    """
    if min_group_size < 0:
        raise ValueError(f"min_group_size must be 0 or more, got {min_group_size}")
    missing = [c for c in [count_column, *(columns or [])] if c not in frame.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not in the frame; available: {list(frame.columns)}")
    if columns is None:
        columns = list(frame.select_dtypes("number").columns)
    small = frame[count_column] < min_group_size
    out = frame.copy()
    out[columns] = out[columns].mask(small)
    out[flag_column] = small.to_numpy()
    return out
