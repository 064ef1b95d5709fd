"""Pooled retention curves and their milestones (half-life, plateau)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..validation import check_alpha, check_option
from .log import add_rate

__all__ = ["CURVE_METHODS", "curve_keys", "retention_curve", "retention_summary"]

CURVE_METHODS = ("weighted", "mean")


def curve_keys(frame: pd.DataFrame) -> list[str]:
    """Columns that identify a curve point: segment and period (or bracket)."""
    point = ["period"] if "period" in frame.columns else ["bracket", "first", "last"]
    missing = [c for c in ("eligible", "retained", *point) if c not in frame.columns]
    if missing:
        raise ValueError(f"expected a frame from retention_matrix / bracket_retention / retention_curve; missing {missing}")
    return (["segment"] if "segment" in frame.columns else []) + point


def retention_curve(matrix: pd.DataFrame, method: str = "weighted", alpha: float = 0.05) -> pd.DataFrame:
    """Pool cohorts into one retention curve per segment.

    ``method="weighted"`` (default): ``rate_k = Σ retained_k / Σ eligible_k``
    over the cohorts observed at k, with a Wilson interval; censored cohorts
    are left out of both sums.  ``method="mean"``: the simple mean of the
    observed cohorts' rates, with a t interval across cohorts (NaN with fewer
    than two cohorts); it weights a small cohort like a large one.

    Parameters
    ----------
    matrix : DataFrame
        Output of :func:`retention_matrix` (any kind) or :func:`bracket_retention`.
    method : {"weighted", "mean"}
    alpha : float, default 0.05
        The intervals have level ``1 - alpha``.

    Returns
    -------
    DataFrame
        [``segment``], ``period`` (or ``bracket``, ``first``, ``last``),
        ``cohorts`` (observed cohorts), ``eligible``, ``retained``, ``rate``,
        ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> m = pd.DataFrame({"cohort": ["w1", "w1", "w2", "w2"], "period": [0, 1, 0, 1],
    ...                   "eligible": [10, 10, 30, 0], "retained": [10, 4, 30, 0]})
    >>> retention_curve(m)[["period", "cohorts", "eligible", "retained", "rate"]]
       period  cohorts  eligible  retained  rate
    0       0        2        40        40   1.0
    1       1        1        10         4   0.4
    """
    check_option("method", method, CURVE_METHODS)
    check_alpha(alpha)
    keys = curve_keys(matrix)
    observed = matrix["eligible"] > 0
    grouped = matrix.assign(
        cohorts=observed.astype(int),
        cohort_rate=(matrix["retained"] / matrix["eligible"].where(observed)),
    ).groupby(keys, sort=False, observed=True)
    curve = grouped.agg(cohorts=("cohorts", "sum"), eligible=("eligible", "sum"), retained=("retained", "sum")).reset_index()
    curve = curve.sort_values([k for k in keys if k != "bracket"], kind="stable", ignore_index=True)
    if method == "weighted":
        add_rate(curve, alpha)
        return curve
    stats = grouped["cohort_rate"].agg(["mean", "std", "count"]).reset_index()
    curve = curve.merge(stats, on=keys, how="left")
    half = sps.t.ppf(1 - alpha / 2, np.maximum(curve["count"] - 1, 1)) * curve["std"] / np.sqrt(curve["count"])
    half = half.where(curve["count"] >= 2)
    curve["rate"] = curve["mean"]
    curve["ci_low"], curve["ci_high"] = (curve["rate"] - half).clip(0, 1), (curve["rate"] + half).clip(0, 1)
    return curve.drop(columns=["mean", "std", "count"])


def retention_summary(
    curve: pd.DataFrame,
    thresholds: Sequence[float] = (0.5, 0.25),
    *,
    tail_periods: int = 5,
    tolerance: float = 0.02,
    min_eligible: int = 30,
) -> pd.DataFrame:
    """Half-life style milestones and the long-run plateau of pooled curves (one row per segment).

    * ``below_{t}pct_period``: the first period k ≥ 1 whose rate is below ``t``
      × the period-1 rate (NaN if it never falls that low within the observed periods).
    * ``plateau``: the pooled rate ``Σ retained / Σ eligible`` over the last
      ``tail_periods`` periods with at least ``min_eligible`` users, reported only
      when a weighted least-squares line through them changes by at most
      ``tolerance`` (absolute) across the tail, i.e. the curve has flattened;
      otherwise NaN and ``plateau_supported`` is False.

    Examples
    --------
    >>> c = pd.DataFrame({"period": range(9), "eligible": 100,
    ...                   "retained": [100, 60, 40, 28, 20, 20, 21, 20, 20]})
    >>> retention_summary(c).iloc[0].to_dict()
    {'rate_1': 0.6, 'below_50pct_period': 3, 'below_25pct_period': nan, 'plateau': 0.202, 'plateau_supported': True, 'observed_periods': 8}
    """
    if "period" not in curve.columns:
        raise ValueError("retention_summary needs a curve with a 'period' column (from retention_curve)")
    if not 0 < tolerance < 1 or tail_periods < 2:
        raise ValueError("tolerance must be in (0, 1) and tail_periods >= 2")
    frame = curve if "segment" in curve.columns else curve.assign(segment="all")
    rows = []
    for segment, c in frame.groupby("segment", sort=True):
        c = c[(c["eligible"] >= min_eligible)].sort_values("period")
        rate = c["retained"] / c["eligible"]
        later = c["period"] >= 1
        rate_1 = float(rate[c["period"] == 1].iloc[0]) if (c["period"] == 1).any() else np.nan
        row = {"segment": segment, "rate_1": rate_1}
        for t in thresholds:
            below = c.loc[later & (rate < t * rate_1), "period"]
            row[f"below_{round(100 * t)}pct_period"] = int(below.iloc[0]) if len(below) else np.nan
        tail = c[later].tail(tail_periods)
        flat = False
        if len(tail) == tail_periods:
            slope = np.polyfit(tail["period"], tail["retained"] / tail["eligible"], 1, w=np.sqrt(tail["eligible"]))[0]
            flat = abs(slope) * (tail["period"].iloc[-1] - tail["period"].iloc[0]) <= tolerance
        row["plateau"] = float(tail["retained"].sum() / tail["eligible"].sum()) if flat else np.nan
        row["plateau_supported"] = bool(flat)
        row["observed_periods"] = int(c["period"].max()) if len(c) else 0
        rows.append(row)
    out = pd.DataFrame(rows)
    return out.drop(columns="segment") if "segment" not in curve.columns else out