"""Statistics of A/B tests: SRM, frequentist and Bayesian comparisons, CUPED, corrections.

Two layers:

* **Summary-level** functions (:func:`proportion_test`, :func:`welch_test`,
  :func:`cuped_adjust`; multiple testing is :func:`engagement_utils.stats.adjust_pvalues`) work on numpy arrays and
  broadcast, so one call can evaluate thousands of simulated experiments.
* **User-level** functions (:func:`compare_proportions`, :func:`compare_means`,
  :func:`bootstrap_ci`, :func:`bayesian_compare`, :func:`cuped`) take the
  tidy per-user frame of :func:`engagement_utils.experiments.experiment_users`
  (one row per user, a ``variant`` column and one column per metric; NaN marks
  a censored value, which is left out) and return one row per variant compared
  with the control.

Every comparison reports the treatment minus control difference and the
relative lift ``variant / control - 1`` with ``1 - alpha`` confidence
intervals; the lift's standard error comes from the delta method

.. math:: \\operatorname{Var}(\\bar y_t/\\bar y_c) \\approx
          \\frac{\\operatorname{Var}(\\bar y_t)}{\\bar y_c^2}
          + \\frac{\\bar y_t^2\\,\\operatorname{Var}(\\bar y_c)}{\\bar y_c^4}

(Deng, Knoblich & Lu 2018, "Applying the delta method in metric analytics").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..stats import adjust_pvalues, wilson_ci  # noqa: F401  (adjust_pvalues re-exported)
from ..validation import check_alpha, check_option

__all__ = ["SRMResult", "srm_check", "proportion_test", "welch_test", "cuped_adjust", "adjust_pvalues", "noninferiority"]

SRM_THRESHOLD = 0.001
SRM_WARNING = 0.01
PROPORTION_CI_METHODS = ("wald", "newcomb")
"""``method`` of :func:`proportion_test`: statsmodels' ``confint_proportions_2indep`` names."""


# --------------------------------------------------------------------------- SRM


@dataclass(frozen=True)
class SRMResult:
    """Result of :func:`srm_check`.

    Attributes
    ----------
    table : DataFrame
        One row per variant: ``variant, users, observed_share, expected_share, expected_users``.
    statistic, dof, p_value : float
        Pearson chi-square goodness-of-fit statistic, its degrees of freedom and p-value.
    srm_threshold : float
        p-value below which the split is flagged as a mismatch (0.001 by default).
    flagged : bool
        True when ``p_value < srm_threshold``: the split differs from the design and
        the results should not be trusted until the cause is found.
    warning : bool
        True when ``srm_threshold <= p_value < srm_warning``: not a mismatch, but worth
        checking before relying on the results.
    srm_warning : float
        p-value below which the split is flagged as a warning (0.01 by default).
    """

    table: pd.DataFrame
    statistic: float
    dof: int
    p_value: float
    srm_threshold: float
    flagged: bool
    warning: bool = False
    srm_warning: float = SRM_WARNING


def srm_check(counts, expected_split=None, srm_threshold: float = SRM_THRESHOLD, srm_warning: float = SRM_WARNING) -> SRMResult:
    """Sample ratio mismatch check: chi-square goodness of fit of users per variant.

    .. math:: \\chi^2 = \\sum_v (n_v - N s_v)^2 / (N s_v), \\quad \\text{dof} = V - 1

    Parameters
    ----------
    counts : Series or mapping
        Users per variant (variant → count), any number (>= 2) of variants.
    expected_split : Series or mapping, optional
        Designed share (or weight) per variant; normalized to sum to 1.
        Default: equal split.
    srm_threshold : float, default 0.001
        Flag the split as a mismatch when the p-value is below this.  A strict
        threshold is standard because SRM checks run on every experiment and a
        true mismatch usually gives a tiny p-value.
    srm_warning : float, default 0.01
        Flag it as a warning when the p-value is below this but not below ``srm_threshold``.

    Returns
    -------
    SRMResult
        Same statistic and p-value as ``scipy.stats.chisquare``.

    Examples
    --------
    >>> r = srm_check({"control": 5000, "treatment": 5200})
    >>> round(r.p_value, 4), r.flagged
    (0.0477, False)
    >>> srm_check({"control": 5000, "treatment": 5400}).flagged
    True
    """
    observed = pd.Series(counts, dtype=float)
    if len(observed) < 2:
        raise ValueError(f"an SRM check needs at least two variants; got {list(observed.index)}")
    if (observed < 0).any() or observed.isna().any():
        raise ValueError("counts must be non-negative numbers of users per variant")
    if expected_split is None:
        weights = pd.Series(1.0, index=observed.index)
    else:
        weights = pd.Series(expected_split, dtype=float)
        if set(weights.index) != set(observed.index):
            raise ValueError(
                f"expected shares name variants {sorted(map(str, weights.index))} but the counts have "
                f"{sorted(map(str, observed.index))}; give one share per variant"
            )
        weights = weights.reindex(observed.index)
        if (weights <= 0).any():
            raise ValueError("expected shares must be positive")
    share = weights / weights.sum()
    total = observed.sum()
    if total == 0:
        raise ValueError("no users in any variant; nothing to check")
    expected_users = share * total
    statistic = float(((observed - expected_users) ** 2 / expected_users).sum())
    dof = len(observed) - 1
    p_value = float(stats.chi2.sf(statistic, dof))
    table = pd.DataFrame({
        "variant": observed.index.astype(str),
        "users": observed.to_numpy().astype(np.int64),
        "observed_share": (observed / total).to_numpy(),
        "expected_share": share.to_numpy(),
        "expected_users": expected_users.to_numpy(),
    })
    flagged = p_value < srm_threshold
    return SRMResult(table, statistic, dof, p_value, srm_threshold, flagged, (not flagged) and p_value < srm_warning, srm_warning)


# --------------------------------------------------------------------------- summary level


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - check_alpha(alpha) / 2))


def _relative_lift(value_t, var_t, value_c, var_c, quantile):
    """Relative lift t/c - 1 with a delta-method CI; NaN where the control value is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        safe = value_c != 0
        lift = np.where(safe, value_t / np.where(safe, value_c, 1.0) - 1, np.nan)
        c2 = np.where(safe, value_c, 1.0) ** 2
        se = np.where(safe, np.sqrt(var_t / c2 + value_t**2 * var_c / c2**2), np.nan)
    return lift, lift - quantile * se, lift + quantile * se


def proportion_test(x_t, n_t, x_c, n_c, *, alpha: float = 0.05, method: str = "wald") -> pd.DataFrame:
    """Two-proportion comparison from counts (vectorized over arrays).

    * p-value: pooled two-proportion z-test,
      :math:`z = (\\hat p_t - \\hat p_c)/\\sqrt{\\bar p(1-\\bar p)(1/n_t + 1/n_c)}`
      (``statsmodels.stats.proportion.proportions_ztest``).  When both arms
      are all 0 or all 1 there is no evidence of a difference: z = 0, p = 1.
    * CI of the difference (``method``): unpooled Wald (``"wald"``)
      :math:`\\Delta \\pm z_{1-\\alpha/2}\\sqrt{\\hat p_t(1-\\hat p_t)/n_t + \\hat p_c(1-\\hat p_c)/n_c}`
      or Newcombe's hybrid score interval built from the arms' Wilson intervals
      (``"newcomb"``, better for small counts); both as ``confint_proportions_2indep``
      with the same ``method``.
    * Relative lift CI: delta method (module docstring).

    Parameters
    ----------
    x_t, n_t, x_c, n_c : array-like
        Successes and trials in the variant and the control.
    alpha : float, default 0.05
        The CIs have level ``1 - alpha``.
    method : {"wald", "newcomb"}, default "wald"
        How the CI of the difference is computed (statsmodels' names, above); the
        p-value is the pooled z-test with either.

    Returns
    -------
    DataFrame
        ``control_value, variant_value, difference, ci_low, ci_high, relative_lift,
        lift_ci_low, lift_ci_high, std_error, df, statistic, p_value``
        (``df`` is infinite: a normal reference distribution).

    Examples
    --------
    >>> r = proportion_test(120, 1000, 100, 1000)
    >>> r[["difference", "ci_low", "ci_high", "p_value"]].round(4).values.tolist()
    [[0.02, -0.0074, 0.0474, 0.1529]]
    """
    check_option("method", method, PROPORTION_CI_METHODS)
    q = _z(alpha)
    x_t, n_t, x_c, n_c = (np.asarray(a, dtype=float) for a in (x_t, n_t, x_c, n_c))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_t, p_c = x_t / n_t, x_c / n_c
        var_t, var_c = p_t * (1 - p_t) / n_t, p_c * (1 - p_c) / n_c
        diff = p_t - p_c
        se = np.sqrt(var_t + var_c)
        pooled = (x_t + x_c) / (n_t + n_c)
        se0 = np.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
        degenerate = se0 == 0
        z = np.where(degenerate, 0.0, diff / np.where(degenerate, 1.0, se0))
    if method == "wald":
        low, high = diff - q * se, diff + q * se
    else:
        lo_t, hi_t = wilson_ci(x_t, n_t, alpha)
        lo_c, hi_c = wilson_ci(x_c, n_c, alpha)
        low = diff - np.sqrt((p_t - lo_t) ** 2 + (hi_c - p_c) ** 2)
        high = diff + np.sqrt((hi_t - p_t) ** 2 + (p_c - lo_c) ** 2)
    lift, lift_low, lift_high = _relative_lift(p_t, var_t, p_c, var_c, q)
    return pd.DataFrame({
        "control_value": p_c, "variant_value": p_t, "difference": diff,
        "ci_low": low, "ci_high": high,
        "relative_lift": lift, "lift_ci_low": lift_low, "lift_ci_high": lift_high,
        "std_error": se, "df": np.full(np.shape(diff), np.inf), "statistic": z,
        "p_value": 2 * stats.norm.sf(np.abs(z)),
    }, index=np.arange(np.size(diff)))


def welch_test(mean_t, var_t, n_t, mean_c, var_c, n_c, *, alpha: float = 0.05) -> pd.DataFrame:
    """Welch's unequal-variance t-test and CI from summary statistics (vectorized).

    .. math:: t = \\frac{\\bar y_t - \\bar y_c}{\\sqrt{s_t^2/n_t + s_c^2/n_c}}, \\quad
              \\nu = \\frac{(s_t^2/n_t + s_c^2/n_c)^2}{\\frac{(s_t^2/n_t)^2}{n_t-1} + \\frac{(s_c^2/n_c)^2}{n_c-1}}

    CI: :math:`\\Delta \\pm t_{1-\\alpha/2,\\nu}\\,\\mathrm{se}`, as
    ``scipy.stats.ttest_ind(equal_var=False)``.  Arms with fewer than two
    users give NaN.  If both arms are constant (se = 0) the p-value is 1 when
    the means are equal and 0 otherwise.

    Parameters
    ----------
    mean_t, var_t, n_t, mean_c, var_c, n_c : array-like
        Mean, sample variance (ddof=1) and size of the variant and the control.
    alpha : float, default 0.05

    Returns
    -------
    DataFrame
        Same columns as :func:`proportion_test`.

    Examples
    --------
    >>> r = welch_test(10.5, 4.0, 100, 10.0, 9.0, 120)
    >>> r[["difference", "ci_low", "ci_high", "df", "p_value"]].round(4).values.tolist()
    [[0.5, -0.1685, 1.1685, 208.4958, 0.1419]]
    """
    _z(alpha)
    mean_t, var_t, n_t, mean_c, var_c, n_c = (np.asarray(a, dtype=float) for a in (mean_t, var_t, n_t, mean_c, var_c, n_c))
    with np.errstate(divide="ignore", invalid="ignore"):
        v_t, v_c = var_t / n_t, var_c / n_c
        se = np.sqrt(v_t + v_c)
        diff = mean_t - mean_c
        enough = (n_t >= 2) & (n_c >= 2)
        constant = enough & (se == 0)
        df = np.where(constant, n_t + n_c - 2, (v_t + v_c) ** 2 / (v_t**2 / (n_t - 1) + v_c**2 / (n_c - 1)))
        df = np.where(enough, df, np.nan)
        t = np.where(constant, np.where(diff == 0, 0.0, np.sign(diff) * np.inf), diff / np.where(constant, 1.0, se))
        t = np.where(enough, t, np.nan)
        q = np.where(enough, stats.t.ppf(1 - alpha / 2, np.where(enough, df, 1.0)), np.nan)
        p = np.where(enough, 2 * stats.t.sf(np.abs(t), np.where(enough, df, 1.0)), np.nan)
        lift, lift_low, lift_high = _relative_lift(mean_t, v_t, mean_c, v_c, q)
    return pd.DataFrame({
        "control_value": mean_c, "variant_value": mean_t, "difference": diff,
        "ci_low": diff - q * se, "ci_high": diff + q * se,
        "relative_lift": lift, "lift_ci_low": lift_low, "lift_ci_high": lift_high,
        "std_error": np.where(enough, se, np.nan), "df": df, "statistic": t, "p_value": p,
    }, index=np.arange(np.size(diff)))


def cuped_adjust(y, x) -> tuple[np.ndarray, np.ndarray]:
    """CUPED: remove the part of a metric explained by a pre-period covariate.

    .. math:: \\theta = \\frac{\\operatorname{cov}(x, y)}{\\operatorname{var}(x)}, \\quad
              y^{cuped} = y - \\theta\\,(x - \\bar x)

    (Deng, Xu, Kohavi & Walker 2013).  ``theta`` is estimated on all users of
    all arms together, so the adjustment is the same function for every arm and
    the expected difference between arms is unchanged; the variance shrinks by
    the squared correlation of ``x`` and ``y``.  Works on the last axis, so a
    2-D array adjusts many simulated experiments at once.  A constant
    covariate gives ``theta = 0`` (no adjustment).

    Parameters
    ----------
    y, x : array-like
        Metric and covariate per user (same shape; no NaN).

    Returns
    -------
    (adjusted, theta)
        ``adjusted`` has the shape of ``y``; ``theta`` one value per row.

    Examples
    --------
    >>> adjusted, theta = cuped_adjust([3.0, 5.0, 7.0, 6.0], [1.0, 2.0, 3.0, 2.0])
    >>> float(theta), adjusted.round(3).tolist()
    (2.0, [5.0, 5.0, 5.0, 6.0])
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    if y.shape != x.shape:
        raise ValueError(f"metric and covariate must have the same shape, got {y.shape} and {x.shape}")
    if np.isnan(x).any() or np.isnan(y).any():
        raise ValueError("CUPED needs a metric and covariate value for every user; fill or drop the NaN values first")
    x_centred = x - x.mean(axis=-1, keepdims=True)
    var_x = (x_centred**2).sum(axis=-1)
    cov = (x_centred * (y - y.mean(axis=-1, keepdims=True))).sum(axis=-1)
    theta = np.divide(cov, var_x, out=np.zeros_like(cov), where=var_x > 0)
    return y - np.expand_dims(theta, -1) * x_centred, theta


def noninferiority(
    results: pd.DataFrame,
    margin: float,
    *,
    relative: bool = True,
    higher_is_better: bool = True,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Guardrail check: is the variant not worse than the control by more than ``margin``?

    One-sided non-inferiority test on a comparison table (from
    :func:`compare_proportions` / :func:`compare_means`).  With
    :math:`\\delta` the margin in the metric's units (``margin *
    control_value`` when ``relative``) and a higher-is-better metric:
    :math:`H_0: \\Delta \\le -\\delta`,
    :math:`p = P(T_\\nu > (\\Delta + \\delta)/\\mathrm{se})`; the guardrail passes when
    the one-sided lower ``1 - alpha`` bound :math:`\\Delta - t_{1-\\alpha,\\nu}\\,\\mathrm{se}`
    is above :math:`-\\delta` (equivalently ``p < alpha``).  For a
    lower-is-better metric the signs flip.

    Parameters
    ----------
    results : DataFrame
        Needs ``difference, std_error, df, control_value``.
    margin : float
        Largest acceptable harm, e.g. 0.05 (5% relative) or 0.01 (1 pp absolute).
    relative : bool, default True
    higher_is_better : bool, default True
    alpha : float, default 0.05

    Returns
    -------
    DataFrame
        A copy of ``results`` with ``margin_abs, ni_bound, ni_p_value, guardrail_passed``.

    Examples
    --------
    >>> r = proportion_test(480, 1000, 500, 1000)
    >>> noninferiority(r, 0.10)[["margin_abs", "ni_bound", "guardrail_passed"]].round(4).values.tolist()
    [[0.05, -0.0568, False]]
    """
    if margin < 0:
        raise ValueError(f"margin must be 0 or more, got {margin}")
    missing = [c for c in ("difference", "std_error", "df", "control_value") if c not in results.columns]
    if missing:
        raise ValueError(f"results lack column(s) {missing}; pass the output of compare_proportions or compare_means")
    check_alpha(alpha)
    sign = 1.0 if higher_is_better else -1.0
    margin_abs = margin * results["control_value"].abs() if relative else pd.Series(float(margin), index=results.index)
    df = results["df"].to_numpy(dtype=float)
    se = results["std_error"].to_numpy(dtype=float)
    gain = sign * results["difference"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = gain - stats.t.ppf(1 - alpha, df) * se
        p = stats.t.sf((gain + margin_abs.to_numpy()) / se, df)
    out = results.copy()
    out["margin_abs"] = margin_abs.to_numpy()
    out["ni_bound"] = sign * bound
    out["ni_p_value"] = p
    out["guardrail_passed"] = bound > -margin_abs.to_numpy()
    return out
