"""Statistics shared by retention, engagement metrics and experiments.

Thin, vectorized wrappers over statsmodels / scipy with **one convention for
degenerate inputs**, used by every module:

* a proportion with ``n == 0`` trials has no value: estimate, bounds and
  p-values are NaN ("no data", never 0);
* two arms without any variation (both all 0 or both all 1) show no evidence
  of a difference: the z statistic is 0 and the p-value 1;
* p-values that are NaN are left out of a multiple-testing family and stay NaN.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from .validation import check_alpha, check_option

__all__ = ["CORRECTIONS", "ALTERNATIVES", "wilson_ci", "adjust_pvalues", "two_proportion_ztest", "normal_pvalue"]

CORRECTIONS = ("holm", "fdr_bh", "bonferroni", "none")
"""Multiple-testing corrections, by statsmodels' names."""

ALTERNATIVES = ("two-sided", "greater", "less")
"""Alternative hypotheses, by scipy's names."""


def wilson_ci(successes, trials, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of level ``1 - alpha`` for binomial proportions (vectorized).

    .. math:: \\frac{\\hat p + z^2/2n \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/4n^2}}{1 + z^2/n}

    Computed by ``statsmodels.stats.proportion.proportion_confint(method="wilson")``;
    bounds are clipped to [0, 1], exactly 0 with no successes and 1 with no failures
    (floating point leaves them a hair off), and rows with ``trials == 0`` get NaN bounds.

    Examples
    --------
    >>> lo, hi = wilson_ci(41, 100)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.3187, 0.508)
    >>> [float(b) for b in wilson_ci(0, 0)]
    [nan, nan]
    >>> float(wilson_ci(0, 50)[0]), float(wilson_ci(50, 50)[1])
    (0.0, 1.0)
    """
    check_alpha(alpha)
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    empty = ~(n > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo, hi = proportion_confint(x, np.where(empty, 1.0, n), alpha=alpha, method="wilson")
    # the formula's bounds are exactly 0 at x = 0 and 1 at x = n; floating point leaves ~1e-19
    lo = np.where(x <= 0, 0.0, np.clip(np.asarray(lo, dtype=float), 0, 1))
    hi = np.where(x >= n, 1.0, np.clip(np.asarray(hi, dtype=float), 0, 1))
    return np.where(empty, np.nan, lo), np.where(empty, np.nan, hi)


def adjust_pvalues(p_values, correction: str = "holm") -> np.ndarray:
    """Multiple-testing adjusted p-values; NaN entries are left out of the family and stay NaN.

    ``correction`` takes statsmodels' names: ``"holm"`` (Holm's step-down, family-wise
    error rate; the default), ``"fdr_bh"`` (Benjamini–Hochberg, false discovery rate),
    ``"bonferroni"``, or ``"none"``. Computed by
    ``statsmodels.stats.multitest.multipletests``.

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    >>> adjust_pvalues([0.01, 0.04, float("nan"), 0.03], "fdr_bh").round(3).tolist()
    [0.03, 0.04, nan, 0.04]
    """
    check_option("correction", correction, CORRECTIONS)
    p = np.asarray(p_values, dtype=float)
    out = p.copy()
    valid = ~np.isnan(p)
    if correction != "none" and valid.any():
        out[valid] = multipletests(p[valid], method=correction)[1]
    return out


def normal_pvalue(z, alternative: str = "two-sided") -> np.ndarray:
    """p-value of a standard-normal statistic for ``alternative`` ("two-sided", "greater", "less").

    Examples
    --------
    >>> normal_pvalue([1.959964]).round(4).tolist()
    [0.05]
    >>> normal_pvalue([1.644854], "greater").round(4).tolist()
    [0.05]
    """
    check_option("alternative", alternative, ALTERNATIVES)
    z = np.asarray(z, dtype=float)
    if alternative == "greater":
        return sps.norm.sf(z)
    if alternative == "less":
        return sps.norm.cdf(z)
    return 2 * sps.norm.sf(np.abs(z))


def two_proportion_ztest(x_b, n_b, x_a, n_a, *, alpha: float = 0.05, alternative: str = "two-sided") -> dict[str, np.ndarray]:
    """Difference ``p_b − p_a`` with an unpooled Wald CI and the pooled two-proportion z test.

    .. math:: z = \\frac{\\hat p_b - \\hat p_a}{\\sqrt{\\bar p (1-\\bar p)(1/n_a + 1/n_b)}}

    Same statistic and p-value as ``statsmodels.stats.proportion.proportions_ztest``;
    the CI is ``confint_proportions_2indep(method="wald")``. Degenerate inputs follow
    the module convention (an empty arm: NaN; no variation in either arm: z = 0, p = 1).

    Returns
    -------
    dict of arrays
        ``difference, ci_low, ci_high, std_error, statistic, p_value``.

    Examples
    --------
    >>> r = two_proportion_ztest(120, 1000, 100, 1000)
    >>> [round(float(r[k]), 4) for k in ("difference", "ci_low", "ci_high", "p_value")]
    [0.02, -0.0074, 0.0474, 0.1529]
    >>> float(two_proportion_ztest(0, 100, 0, 100)["p_value"])
    1.0
    """
    check_alpha(alpha)
    x_b, n_b, x_a, n_a = (np.asarray(v, dtype=float) for v in (x_b, n_b, x_a, n_a))
    with np.errstate(invalid="ignore", divide="ignore"):
        p_b, p_a = x_b / n_b, x_a / n_a
        diff = p_b - p_a
        se = np.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
        pooled = (x_a + x_b) / (n_a + n_b)
        se0 = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
        z = np.where(se0 > 0, diff / np.where(se0 > 0, se0, 1.0), np.where(np.isnan(diff), np.nan, 0.0))
    crit = sps.norm.ppf(1 - alpha / 2)
    return {"difference": diff, "ci_low": diff - crit * se, "ci_high": diff + crit * se,
            "std_error": se, "statistic": z, "p_value": normal_pvalue(z, alternative)}
