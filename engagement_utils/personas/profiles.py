"""The numbers of a persona profile: size, share, medians, means and standardized differences."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from .features import UserFeatures, feature_table

__all__ = ["SOME", "HIGH", "numeric_columns", "aligned_labels", "feature_zscores", "persona_profiles", "persona_traits"]

SOME, HIGH = 0.3, 0.8
"""Standardized differences (in SD) that count as a trait (``SOME``) and as a strong one (``HIGH``)."""


def numeric_columns(table: pd.DataFrame, columns: Iterable[str] | None = None) -> list[str]:
    """``columns`` (checked to exist) or every numeric / boolean column of ``table``."""
    if columns is not None:
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise ValueError(f"feature(s) {missing} are not columns of the features; available: {list(table.columns)}")
        return list(columns)
    return [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c]) or pd.api.types.is_bool_dtype(table[c])]


def aligned_labels(table: pd.DataFrame, labels: pd.Series) -> np.ndarray:
    """The persona of every row of ``table`` (an error when a user has none)."""
    aligned = pd.Series(labels).reindex(table.index)
    if aligned.isna().any():
        raise ValueError(f"{int(aligned.isna().sum())} user(s) in the features have no persona label; "
                         "pass the labels of segment_users(features)")
    return aligned.to_numpy()


def feature_zscores(features: UserFeatures | pd.DataFrame, labels: pd.Series,
                    columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Standardized difference of each persona from everyone else, per feature.

    ``d = (mean_in − mean_out) / sd_all`` on the feature scale used for
    clustering (``log1p`` for skewed non-negative features), so one heavy user
    does not make a persona look different.  Missing values (e.g. ``aov`` of
    non-buyers) are left out of that feature's means; constant features get 0.

    Returns
    -------
    DataFrame: persona × feature.

    Examples
    --------
    >>> f = pd.DataFrame({"events": [1, 2, 10, 11]}, index=pd.Index(list("abcd"), name="user_id"))
    >>> feature_zscores(f, pd.Series([1, 1, 0, 0], index=f.index)).round(2)["events"].tolist()
    [1.99, -1.99]
    """
    table = feature_table(features)
    cols = numeric_columns(table, columns)
    lab = aligned_labels(table, labels)
    X = table[cols].astype(float)
    skewed = (X.min() >= 0) & (X.skew().fillna(0) > 1)
    X.loc[:, skewed] = np.log1p(X.loc[:, skewed])
    sd = X.std(ddof=0).replace(0, np.nan)
    sums = X.groupby(lab).sum(min_count=1)
    counts = X.notna().groupby(lab).sum()
    mean_in = sums / counts
    mean_out = (X.sum() - sums) / (X.notna().sum() - counts)
    out = ((mean_in - mean_out) / sd).fillna(0.0)
    out.index.name = "persona"
    return out


def persona_traits(zscores: pd.Series, top: int = 3) -> list[tuple[str, float]]:
    """The ``top`` features of largest absolute standardized difference (at least :data:`SOME` SD)."""
    strongest = zscores.abs().sort_values(ascending=False, kind="stable")
    return [(f, float(zscores[f])) for f in strongest.index[:top] if strongest[f] >= SOME]


def persona_profiles(features: UserFeatures | pd.DataFrame, labels: pd.Series,
                     columns: Iterable[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per persona: ``(sizes, medians, means)`` of the profiled features.

    ``sizes`` has ``users`` and ``share`` per persona (in persona order);
    ``medians`` and ``means`` are persona × feature.

    Examples
    --------
    >>> f = pd.DataFrame({"events": [1, 2, 10, 11]}, index=pd.Index(list("abcd"), name="user_id"))
    >>> persona_profiles(f, pd.Series([1, 1, 0, 0], index=f.index))[0]["users"].tolist()
    [2, 2]
    """
    table = feature_table(features)
    cols = numeric_columns(table, columns)
    lab = aligned_labels(table, labels)
    numeric = table[cols].astype(float)
    medians = numeric.groupby(lab).median()
    means = numeric.groupby(lab).mean()
    users = pd.Series(lab).value_counts().reindex(medians.index)
    sizes = pd.DataFrame({"users": users.to_numpy(), "share": users.to_numpy() / len(lab)},
                         index=pd.Index(medians.index, name="persona"))
    return sizes, medians, means
