"""Period-by-period comparison of retention curves, with a multiple-testing correction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..stats import CORRECTIONS, adjust_pvalues, two_proportion_ztest
from ..validation import check_alpha, check_option
from .curves import curve_keys

__all__ = ["RetentionComparison", "compare_retention", "SegmentRetention", "compare_segments"]


@dataclass(frozen=True)
class RetentionComparison:
    """Result of :func:`compare_retention`: the tidy :attr:`table` and its reading in :attr:`text`."""

    table: pd.DataFrame
    correction: str
    alpha: float
    unit: str = "period"

    @property
    def text(self) -> str:
        from .narrative import describe_comparison

        return describe_comparison(self)


def compare_retention(
    curve_a: pd.DataFrame,
    curve_b: pd.DataFrame | None = None,
    *,
    baseline: str | None = None,
    correction: str = "holm",
    alpha: float = 0.05,
    labels: tuple[str, str] = ("a", "b"),
    unit: str = "period",
) -> RetentionComparison:
    """Per-period difference of two retention curves, with CI, z test and a multiple-testing correction.

    Two modes:

    * ``compare_retention(curve_a, curve_b)``: curve b minus curve a (named by ``labels``);
    * ``compare_retention(curve, baseline="web")``: each segment of a segmented
      curve minus the baseline segment (default: the largest segment).

    Per period: difference of pooled rates with a Wald interval
    ``d ± z·sqrt(p_a(1−p_a)/n_a + p_b(1−p_b)/n_b)`` and the pooled two-proportion
    z test (:func:`engagement_utils.stats.two_proportion_ztest`, as statsmodels'
    ``proportions_ztest``).  p-values are adjusted across the tested rows
    (periods × segments) with statsmodels' ``multipletests`` (Holm by default;
    Holm holds under any dependence between periods).  Following the package's
    convention, rows without variation in either curve (period 0: 100% vs 100%)
    have p = 1 and are left out of the correction family; censored rows have no
    p-value.  The test assumes each user counts once per period, which holds for
    first-time cohorts; recurring cohorts count a user in several cohorts, so
    their p-values are too small (an A/A check gave a 16% family-wise error).

    Parameters
    ----------
    curve_a, curve_b : DataFrame
        Outputs of :func:`retention_curve` (weighted).
    baseline : str, optional
        Segment compared against (segment mode).
    correction : {"holm", "fdr_bh", "bonferroni", "none"}
    alpha : float, default 0.05
        Level of the intervals (``1 - alpha``) and of ``significant`` (on adjusted p-values).
    labels : (str, str)
        Names of curve a and b in two-curve mode.
    unit : str, default "period"
        Word for one period in :attr:`RetentionComparison.text` ("day", "week").

    Returns
    -------
    RetentionComparison
        ``.table``: ``segment``, ``baseline``, the period key, ``eligible_base``, ``rate_base``,
        ``eligible``, ``rate``, ``difference``, ``diff_ci_low``, ``diff_ci_high``, ``z``,
        ``p_value``, ``p_adjusted``, ``significant``; ``.text``: the reading.

    Examples
    --------
    >>> a = pd.DataFrame({"period": [1, 2], "eligible": [1000, 1000], "retained": [400, 300]})
    >>> b = pd.DataFrame({"period": [1, 2], "eligible": [1000, 1000], "retained": [460, 310]})
    >>> c = compare_retention(a, b, labels=("control", "treatment"), unit="day")
    >>> c.table[["segment", "period", "difference", "significant"]]
         segment  period  difference  significant
    0  treatment       1        0.06         True
    1  treatment       2        0.01        False
    >>> c.text
    'treatment vs control: 1 of 2 tested days differs after holm correction (alpha 0.05); largest gap at day 1: 46.0% vs 40.0% (+6.0 pp, 95% CI +1.7 to +10.3 pp).'
    """
    check_option("correction", correction, CORRECTIONS)
    check_alpha(alpha)
    if curve_b is not None:
        keys_a, keys_b = curve_keys(curve_a), curve_keys(curve_b)
        if "segment" in keys_a or "segment" in keys_b:
            raise ValueError("two-curve mode compares unsegmented curves; for segments pass one curve and baseline=")
        frame = pd.concat([curve_a.assign(segment=labels[0]), curve_b.assign(segment=labels[1])], ignore_index=True)
        baseline = labels[0]
    else:
        if "segment" not in curve_a.columns:
            raise ValueError("curve has no 'segment' column: pass two curves, or build the curve with segment=...")
        frame = curve_a
        sizes = frame.groupby("segment", sort=True)["eligible"].max()
        baseline = sizes.idxmax() if baseline is None else baseline
        if baseline not in sizes.index:
            check_option("baseline", baseline, list(sizes.index))
    point = [k for k in curve_keys(frame) if k != "segment"]
    base = frame.loc[frame["segment"] == baseline, [*point, "eligible", "retained"]]
    others = frame.loc[frame["segment"] != baseline, ["segment", *point, "eligible", "retained"]]
    merged = others.merge(base, on=point, suffixes=("", "_base"), how="inner")
    merged.insert(1, "baseline", baseline)
    test = two_proportion_ztest(merged["retained"], merged["eligible"], merged["retained_base"], merged["eligible_base"],
                                alpha=alpha)
    with np.errstate(invalid="ignore", divide="ignore"):
        merged["rate_base"] = merged["retained_base"] / merged["eligible_base"]
        merged["rate"] = merged["retained"] / merged["eligible"]
    merged["difference"] = test["difference"]
    merged["diff_ci_low"], merged["diff_ci_high"] = test["ci_low"], test["ci_high"]
    merged["z"], merged["p_value"] = test["statistic"], test["p_value"]
    pooled = (merged["retained"] + merged["retained_base"]) / (merged["eligible"] + merged["eligible_base"])
    in_family = (merged["p_value"].notna() & (pooled > 0) & (pooled < 1)).to_numpy()
    adjusted = adjust_pvalues(np.where(in_family, merged["p_value"], np.nan), correction)
    merged["p_adjusted"] = np.where(in_family, adjusted, merged["p_value"])
    merged["significant"] = in_family & (merged["p_adjusted"] < alpha)
    merged["tested"] = in_family
    columns = ["segment", "baseline", *point, "eligible_base", "rate_base", "eligible", "rate", "difference",
               "diff_ci_low", "diff_ci_high", "z", "p_value", "p_adjusted", "significant", "tested"]
    return RetentionComparison(merged[columns].reset_index(drop=True), correction=correction, alpha=alpha, unit=unit)


@dataclass(frozen=True)
class SegmentRetention:
    """One breakdown of :func:`compare_segments`: the curves shown and their comparison (None when not comparable)."""

    column: str
    curve: pd.DataFrame  # pooled curve per segment with at least min_group_size users
    comparison: RetentionComparison | None
    hidden: int  # segments left out as smaller than min_group_size


def compare_segments(events, period: str, kind: str, segments, *, min_group_size: int = 10,
                     correction: str = "holm", alpha: float = 0.05, **options) -> list[SegmentRetention]:
    """Pooled retention per segment of each breakdown column, compared against its largest segment.

    Segments with fewer than ``min_group_size`` users are left out (and counted); a
    breakdown with fewer than two segments left gets no comparison. ``options`` are
    passed to :func:`~engagement_utils.retention.retention_matrix`.
    """
    from .cohorts import retention_matrix
    from .curves import retention_curve

    results = []
    for column in segments:
        matrix = retention_matrix(events, period, kind, segment=column, alpha=alpha, **options)
        sizes = matrix.drop_duplicates(["cohort", "segment"]).groupby("segment")["cohort_size"].sum()
        shown = sizes[sizes >= min_group_size].index
        curve = retention_curve(matrix, alpha=alpha)
        curve = curve[curve["segment"].isin(shown)].reset_index(drop=True)
        comparison = (compare_retention(curve, correction=correction, alpha=alpha, unit=period)
                      if len(shown) >= 2 else None)
        results.append(SegmentRetention(column, curve, comparison, hidden=int(len(sizes) - len(shown))))
    return results
