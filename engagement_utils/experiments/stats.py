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

from ..stats import CORRECTIONS, adjust_pvalues, wilson_ci  # noqa: F401  (adjust_pvalues re-exported)

__all__ = [
    "SRMResult",
    "BayesianResult",
    "srm_check",
    "proportion_test",
    "welch_test",
    "compare_proportions",
    "compare_means",
    "cuped_adjust",
    "cuped",
    "bootstrap_ci",
    "bayesian_compare",
    "adjust_pvalues",
    "noninferiority",
]

SRM_THRESHOLD = 0.001
SRM_WARNING = 0.01
CI_METHODS = ("auto", "wald", "newcombe")
BOOTSTRAP_STATISTICS = ("mean", "median", "ratio")
METRIC_KINDS = ("binary", "continuous")
# Fisher's exact test replaces the z-test when an expected 2x2 cell count is below this
# (the usual rule for the chi-square / normal approximation).
SMALL_EXPECTED_COUNT = 5
# Bootstrap resamples are drawn in blocks of about this many values to bound memory.
_BOOTSTRAP_BLOCK = 4_000_000


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
    threshold : float
        p-value below which the split is flagged (0.001 by default).
    flagged : bool
        True when ``p_value < threshold``: the split differs from the design and
        the results should not be trusted until the cause is found.
    warning : bool
        True when ``threshold <= p_value < warning_threshold`` (0.01 by default): not a
        mismatch, but worth checking before relying on the results.
    """

    table: pd.DataFrame
    statistic: float
    dof: int
    p_value: float
    threshold: float
    flagged: bool
    warning: bool = False
    warning_threshold: float = 0.01


def srm_check(counts, expected=None, threshold: float = SRM_THRESHOLD, warning_threshold: float = SRM_WARNING) -> SRMResult:
    """Sample ratio mismatch check: chi-square goodness of fit of users per variant.

    .. math:: \\chi^2 = \\sum_v (n_v - N s_v)^2 / (N s_v), \\quad \\text{dof} = V - 1

    Parameters
    ----------
    counts : Series or mapping
        Users per variant (variant → count), any number (>= 2) of variants.
    expected : Series or mapping, optional
        Designed share (or weight) per variant; normalized to sum to 1.
        Default: equal split.
    threshold : float, default 0.001
        Flag the split when the p-value is below this.  A strict threshold is
        standard because SRM checks run on every experiment and a true
        mismatch usually gives a tiny p-value.

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
    if expected is None:
        weights = pd.Series(1.0, index=observed.index)
    else:
        weights = pd.Series(expected, dtype=float)
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
    flagged = p_value < threshold
    return SRMResult(table, statistic, dof, p_value, threshold, flagged, (not flagged) and p_value < warning_threshold, warning_threshold)


# --------------------------------------------------------------------------- summary level


def _z(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha!r} must be between 0 and 1, e.g. 0.05")
    return float(stats.norm.ppf(1 - alpha / 2))


def _relative_lift(value_t, var_t, value_c, var_c, quantile):
    """Relative lift t/c - 1 with a delta-method CI; NaN where the control value is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        safe = value_c != 0
        lift = np.where(safe, value_t / np.where(safe, value_c, 1.0) - 1, np.nan)
        c2 = np.where(safe, value_c, 1.0) ** 2
        se = np.where(safe, np.sqrt(var_t / c2 + value_t**2 * var_c / c2**2), np.nan)
    return lift, lift - quantile * se, lift + quantile * se


def proportion_test(x_t, n_t, x_c, n_c, *, alpha: float = 0.05, ci_method: str = "wald") -> pd.DataFrame:
    """Two-proportion comparison from counts (vectorized over arrays).

    * p-value: pooled two-proportion z-test,
      :math:`z = (\\hat p_t - \\hat p_c)/\\sqrt{\\bar p(1-\\bar p)(1/n_t + 1/n_c)}`
      (``statsmodels.stats.proportion.proportions_ztest``).  When both arms
      are all 0 or all 1 there is no evidence of a difference: z = 0, p = 1.
    * CI of the difference: unpooled Wald
      :math:`\\Delta \\pm z_{1-\\alpha/2}\\sqrt{\\hat p_t(1-\\hat p_t)/n_t + \\hat p_c(1-\\hat p_c)/n_c}`
      or Newcombe's hybrid score interval built from Wilson intervals
      (better for small counts); both as in ``confint_proportions_2indep``.
    * Relative lift CI: delta method (module docstring).

    Parameters
    ----------
    x_t, n_t, x_c, n_c : array-like
        Successes and trials in the variant and the control.
    alpha : float, default 0.05
        The CIs have level ``1 - alpha``.
    ci_method : {"wald", "newcombe"}

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
    if ci_method not in ("wald", "newcombe"):
        raise ValueError(f"ci_method={ci_method!r} is not supported; choose one of 'wald', 'newcombe'")
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
    if ci_method == "wald":
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


# --------------------------------------------------------------------------- user level


def _arms(data: pd.DataFrame, metric: str, variant: str, control: str) -> tuple[pd.Series, list]:
    """The metric's non-missing values and the variants to compare with ``control`` (in data order)."""
    for column in (variant, metric):
        if column not in data.columns:
            raise ValueError(f"column {column!r} is not in the data; available: {', '.join(map(str, data.columns))}")
    groups = data[variant].astype(str)
    present = list(pd.unique(groups))
    if control not in present:
        raise ValueError(f"control variant {control!r} is not in column {variant!r}; variants present: {', '.join(sorted(present))}")
    if len(present) < 2:
        raise ValueError(f"only one variant ({control!r}) in column {variant!r}; a comparison needs a control and at least one other variant")
    others = sorted(v for v in present if v != control)
    if not pd.api.types.is_numeric_dtype(data[metric]) and not pd.api.types.is_bool_dtype(data[metric]):
        raise ValueError(f"column {metric!r} must be numeric (one value per user), got {data[metric].dtype}")
    values = pd.Series(data[metric].to_numpy(dtype=float), index=groups.to_numpy())
    return values[values.notna()], others


def _finish(frame: pd.DataFrame, metric: str, kind: str, others: list, control: str, n_t, n_c) -> pd.DataFrame:
    frame.insert(0, "metric", metric)
    frame.insert(1, "variant", others)
    frame.insert(2, "control", control)
    frame.insert(3, "kind", kind)
    frame.insert(4, "n_control", np.asarray(n_c, dtype=np.int64))
    frame.insert(5, "n_variant", np.asarray(n_t, dtype=np.int64))
    return frame


def compare_proportions(
    data: pd.DataFrame,
    metric: str,
    *,
    variant: str = "variant",
    control: str = "control",
    alpha: float = 0.05,
    ci_method: str = "auto",
) -> pd.DataFrame:
    """Compare a binary (0/1) metric between each variant and the control.

    Parameters
    ----------
    data : DataFrame
        One row per user with ``variant`` and the 0/1 ``metric`` (NaN = censored, left out).
    metric : str
        The metric column.
    variant, control : str
        Variant column and the name of the control variant.
    alpha : float, default 0.05
        Confidence intervals have level ``1 - alpha``.
    ci_method : {"auto", "wald", "newcombe"}
        CI of the difference; ``"auto"`` uses Wald unless an expected cell
        count of the 2x2 table is below 5, then Newcombe.

    Returns
    -------
    DataFrame
        One row per non-control variant: ``metric, variant, control, kind,
        n_control, n_variant, control_value, variant_value, difference, ci_low,
        ci_high, relative_lift, lift_ci_low, lift_ci_high, std_error, df,
        statistic, p_value, test, p_value_fisher``.  ``p_value`` is the pooled
        z-test, or Fisher's exact test (``scipy.stats.fisher_exact``) when an
        expected cell count is below 5 (``test`` says which).

    Examples
    --------
    >>> d = pd.DataFrame({"variant": ["control"] * 4 + ["b"] * 4, "converted": [0, 0, 1, 0, 1, 1, 0, 1]})
    >>> r = compare_proportions(d, "converted")
    >>> r[["variant", "control_value", "variant_value", "test"]].values.tolist()
    [['b', 0.25, 0.75, 'fisher']]
    >>> round(float(r["p_value"].iloc[0]), 4)
    0.4857
    """
    if ci_method not in CI_METHODS:
        raise ValueError(f"ci_method={ci_method!r} is not supported; choose one of {', '.join(CI_METHODS)}")
    values, others = _arms(data, metric, variant, control)
    if not values.isin([0.0, 1.0]).all():
        raise ValueError(f"column {metric!r} must hold 0/1 (or True/False) values per user; use compare_means for other metrics")
    summary = values.groupby(level=0).agg(["sum", "count"])
    x_c, n_c = (float(v) for v in summary.reindex([control]).fillna(0).iloc[0])
    x_t = summary["sum"].reindex(others, fill_value=0).to_numpy(dtype=float)
    n_t = summary["count"].reindex(others, fill_value=0).to_numpy(dtype=float)
    pooled = (x_t + x_c) / np.maximum(n_t + n_c, 1)
    expected = np.minimum.reduce([n * share for n in (n_t, n_c) for share in (pooled, 1 - pooled)])
    small = expected < SMALL_EXPECTED_COUNT
    methods = np.where(small, "newcombe", "wald") if ci_method == "auto" else np.full(len(others), ci_method)
    parts = [proportion_test(x_t[i], n_t[i], x_c, n_c, alpha=alpha, ci_method=str(methods[i])) for i in range(len(others))]
    frame = pd.concat(parts, ignore_index=True)
    fisher = np.array([
        stats.fisher_exact([[x_t[i], n_t[i] - x_t[i]], [x_c, n_c - x_c]]).pvalue if n_t[i] > 0 and n_c > 0 else np.nan
        for i in range(len(others))
    ])
    frame["p_value"] = np.where(small, fisher, frame["p_value"])
    frame["test"] = np.where(small, "fisher", "z-test")
    frame["p_value_fisher"] = fisher
    return _finish(frame, metric, "binary", others, control, n_t, n_c)


def _arm_summary(values: pd.Series, control: str, others: list) -> tuple:
    summary = values.groupby(level=0).agg(["mean", "var", "count"])
    c = summary.reindex([control]).iloc[0]
    t = summary.reindex(others)
    return (t["mean"].to_numpy(), t["var"].to_numpy(), t["count"].fillna(0).to_numpy(),
            float(c["mean"]), float(c["var"]), float(0 if pd.isna(c["count"]) else c["count"]))


def compare_means(
    data: pd.DataFrame,
    metric: str,
    *,
    variant: str = "variant",
    control: str = "control",
    alpha: float = 0.05,
    winsorize: float | None = None,
    covariate: str | None = None,
) -> pd.DataFrame:
    """Compare the per-user mean of a count or continuous metric between each variant and the control.

    The difference and its CI and p-value come from Welch's t-test
    (:func:`welch_test`); the relative lift CI from the delta method.
    Mann–Whitney's U test on the raw values (``scipy.stats.mannwhitneyu``,
    two-sided) is added as a robustness check that does not depend on the
    tails of the distribution.

    Parameters
    ----------
    data : DataFrame
        One row per user with ``variant`` and ``metric`` (NaN = censored, left out).
    metric : str
    variant, control : str
    alpha : float, default 0.05
    winsorize : float, optional
        Cap values above this quantile of all users' values (e.g. 0.99) before
        the t-test, to tame heavy-tailed metrics such as revenue.  The cap is
        the same for all arms and is reported in ``winsorized_at``.
    covariate : str, optional
        Pre-period column for CUPED (:func:`cuped_adjust`); the t-test then runs
        on the adjusted values and ``theta`` / ``variance_reduction`` are reported.

    Returns
    -------
    DataFrame
        The columns of :func:`compare_proportions` (``test`` is "welch") plus
        ``p_value_mann_whitney, winsorized_at, cuped, theta, variance_reduction``.

    Examples
    --------
    >>> d = pd.DataFrame({"variant": ["control"] * 4 + ["b"] * 4, "sessions": [1, 2, 3, 2, 2, 3, 4, 3]})
    >>> r = compare_means(d, "sessions")
    >>> r[["variant", "control_value", "variant_value", "difference"]].values.tolist()
    [['b', 2.0, 3.0, 1.0]]
    >>> round(float(r["p_value"].iloc[0]), 4)
    0.134
    """
    values, others = _arms(data, metric, variant, control)
    raw = values
    cap = np.nan
    if winsorize is not None:
        if not 0.5 <= winsorize < 1:
            raise ValueError(f"winsorize={winsorize!r} must be a quantile between 0.5 and 1, e.g. 0.99")
        cap = float(np.quantile(values.to_numpy(), winsorize)) if len(values) else np.nan
        values = values.clip(upper=cap)
    theta = variance_reduction = np.nan
    if covariate is not None:
        if covariate not in data.columns:
            raise ValueError(f"covariate column {covariate!r} is not in the data; available: {', '.join(map(str, data.columns))}")
        x = pd.Series(data[covariate].to_numpy(dtype=float), index=data[variant].astype(str).to_numpy())
        x = x[data[metric].notna().to_numpy()]
        if x.isna().any():
            raise ValueError(f"covariate column {covariate!r} has missing values; fill them (e.g. 0 for users new at assignment)")
        adjusted, theta_arr = cuped_adjust(values.to_numpy(), x.to_numpy())
        theta = float(theta_arr)
        before = float(np.var(values.to_numpy()))
        variance_reduction = 1 - float(np.var(adjusted)) / before if before > 0 else 0.0
        values = pd.Series(adjusted, index=values.index)
    m_t, v_t, n_t, m_c, v_c, n_c = _arm_summary(values, control, others)
    frame = welch_test(m_t, v_t, n_t, m_c, v_c, n_c, alpha=alpha)
    frame["test"] = "welch"
    frame["p_value_mann_whitney"] = [_mann_whitney(raw, other, control) for other in others]
    frame["winsorized_at"] = cap
    frame["cuped"] = covariate is not None
    frame["theta"] = theta
    frame["variance_reduction"] = variance_reduction
    return _finish(frame, metric, "continuous", others, control, n_t, n_c)


def _mann_whitney(values: pd.Series, other: str, control: str) -> float:
    a = values.loc[values.index == other].to_numpy()
    b = values.loc[values.index == control].to_numpy()
    if len(a) == 0 or len(b) == 0 or np.ptp(np.r_[a, b]) == 0:
        return np.nan if len(a) == 0 or len(b) == 0 else 1.0
    return float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def cuped(
    data: pd.DataFrame,
    metric: str,
    covariate: str,
    *,
    variant: str = "variant",
    control: str = "control",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Results with and without CUPED side by side, with the variance reduction achieved.

    Parameters
    ----------
    data : DataFrame
        One row per user with ``variant``, ``metric`` and the pre-period ``covariate``.
    metric, covariate : str
    variant, control : str
    alpha : float, default 0.05

    Returns
    -------
    DataFrame
        One row per non-control variant: ``metric, covariate, variant, theta,
        variance_reduction, difference, ci_low, ci_high, p_value,
        cuped_difference, cuped_ci_low, cuped_ci_high, cuped_p_value,
        ci_width_ratio`` (CUPED CI width / plain CI width; below 1 means
        CUPED made the estimate more precise).

    Examples
    --------
    >>> d = pd.DataFrame({"variant": ["control", "b"] * 4, "y": [1.0, 2, 3, 4, 5, 6, 7, 8],
    ...                   "pre": [1.0, 1, 3, 3, 5, 5, 7, 7]})
    >>> r = cuped(d, "y", "pre")
    >>> r[["difference", "cuped_difference", "variance_reduction"]].round(3).values.tolist()
    [[1.0, 1.0, 0.952]]
    """
    plain = compare_means(data, metric, variant=variant, control=control, alpha=alpha)
    adjusted = compare_means(data, metric, variant=variant, control=control, alpha=alpha, covariate=covariate)
    return _side_by_side(plain, adjusted, covariate)


def _side_by_side(plain: pd.DataFrame, adjusted: pd.DataFrame, covariate: str) -> pd.DataFrame:
    """Plain and CUPED estimates of the same comparison in one row per variant."""
    keep = ["difference", "ci_low", "ci_high", "p_value"]
    out = plain[["metric", "variant"] + keep].copy()
    out.insert(1, "covariate", covariate)
    out.insert(3, "theta", adjusted["theta"].to_numpy())
    out.insert(4, "variance_reduction", adjusted["variance_reduction"].to_numpy())
    for column in keep:
        out[f"cuped_{column}"] = adjusted[column].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ci_width_ratio"] = (out["cuped_ci_high"] - out["cuped_ci_low"]) / (out["ci_high"] - out["ci_low"])
    return out


def _bootstrap_statistic(rng: np.random.Generator, values: np.ndarray, denominator: np.ndarray | None,
                         statistic: str, n_boot: int) -> np.ndarray:
    """``n_boot`` bootstrap replicates of one arm's statistic, resampled in memory-bounded blocks."""
    n = len(values)
    out = np.empty(n_boot)
    block = max(1, _BOOTSTRAP_BLOCK // max(n, 1))
    for start in range(0, n_boot, block):
        idx = rng.integers(0, n, size=(min(block, n_boot - start), n))
        if statistic == "mean":
            out[start:start + len(idx)] = values[idx].mean(axis=1)
        elif statistic == "median":
            out[start:start + len(idx)] = np.median(values[idx], axis=1)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                out[start:start + len(idx)] = values[idx].sum(axis=1) / denominator[idx].sum(axis=1)
    return out


def _point_statistic(values: np.ndarray, denominator: np.ndarray | None, statistic: str) -> float:
    if statistic == "mean":
        return float(values.mean())
    if statistic == "median":
        return float(np.median(values))
    total = denominator.sum()
    return float(values.sum() / total) if total != 0 else np.nan


def bootstrap_ci(
    data: pd.DataFrame,
    metric: str,
    *,
    statistic: str = "median",
    denominator: str | None = None,
    variant: str = "variant",
    control: str = "control",
    alpha: float = 0.05,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Percentile bootstrap CIs for statistics without a closed-form standard error.

    Each arm is resampled (users with replacement) independently ``n_boot``
    times; the CI of the difference and of the relative lift are the
    ``alpha/2`` and ``1 - alpha/2`` quantiles of the replicated differences
    and ratios.  Resampling is vectorized (index matrices in blocks).

    Parameters
    ----------
    data : DataFrame
        One row per user with ``variant`` and ``metric``.
    metric : str
        The values, or the numerator of a ratio metric.
    statistic : {"median", "mean", "ratio"}
        ``"ratio"`` is ``sum(metric) / sum(denominator)`` per arm, e.g.
        revenue per session with ``metric="revenue", denominator="sessions"``.
    denominator : str, optional
        Required for ``statistic="ratio"``.
    variant, control : str
    alpha : float, default 0.05
    n_boot : int, default 2000
    seed : int, default 0
        Seed of the resampling: the same seed gives the same intervals.

    Returns
    -------
    DataFrame
        One row per non-control variant: ``metric, variant, control, statistic,
        n_control, n_variant, control_value, variant_value, difference, ci_low,
        ci_high, relative_lift, lift_ci_low, lift_ci_high``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> d = pd.DataFrame({"variant": np.repeat(["control", "b"], 200),
    ...                   "revenue": np.r_[rng.exponential(10, 200), rng.exponential(12, 200)]})
    >>> r = bootstrap_ci(d, "revenue", statistic="median", n_boot=500)
    >>> r[["difference", "ci_low", "ci_high"]].round(2).values.tolist()
    [[-1.1, -2.77, 1.86]]
    """
    if statistic not in BOOTSTRAP_STATISTICS:
        raise ValueError(f"statistic={statistic!r} is not supported; choose one of {', '.join(BOOTSTRAP_STATISTICS)}")
    if statistic == "ratio" and denominator is None:
        raise ValueError("statistic='ratio' needs denominator=<column>, e.g. metric='revenue', denominator='sessions'")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    _z(alpha)
    values, others = _arms(data, metric, variant, control)
    denom = None
    if denominator is not None:
        denom_values, _ = _arms(data, denominator, variant, control)
        both = data[metric].notna().to_numpy() & data[denominator].notna().to_numpy()
        values = pd.Series(data[metric].to_numpy(dtype=float)[both], index=data[variant].astype(str).to_numpy()[both])
        denom = pd.Series(data[denominator].to_numpy(dtype=float)[both], index=values.index)
    rng = np.random.default_rng(seed)

    def arm(name: str):
        mask = values.index == name
        v = values.to_numpy()[mask]
        d = denom.to_numpy()[mask] if denom is not None else None
        if len(v) == 0:
            return np.nan, np.full(n_boot, np.nan), 0
        return _point_statistic(v, d, statistic), _bootstrap_statistic(rng, v, d, statistic, n_boot), len(v)

    c_value, c_boot, n_c = arm(control)
    rows = []
    for other in others:
        t_value, t_boot, n_t = arm(other)
        with np.errstate(divide="ignore", invalid="ignore"):
            lift_boot = t_boot / c_boot - 1
            lift = t_value / c_value - 1 if c_value != 0 else np.nan
        diff_boot = t_boot - c_boot
        quantiles = [alpha / 2, 1 - alpha / 2]
        diff_ci = np.nanquantile(diff_boot, quantiles) if np.isfinite(diff_boot).any() else [np.nan, np.nan]
        finite_lift = lift_boot[np.isfinite(lift_boot)]
        lift_ci = np.quantile(finite_lift, quantiles) if len(finite_lift) == n_boot else [np.nan, np.nan]
        rows.append({"metric": metric, "variant": other, "control": control, "statistic": statistic,
                     "n_control": n_c, "n_variant": n_t, "control_value": c_value, "variant_value": t_value,
                     "difference": t_value - c_value, "ci_low": diff_ci[0], "ci_high": diff_ci[1],
                     "relative_lift": lift, "lift_ci_low": lift_ci[0], "lift_ci_high": lift_ci[1]})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class BayesianResult:
    """Result of :func:`bayesian_compare`.

    Attributes
    ----------
    summary : DataFrame
        One row per non-control variant: ``metric, variant, control, kind,
        chance_to_beat, expected_loss, expected_loss_control, difference,
        diff_cri_low, diff_cri_high, relative_lift, lift_cri_low, lift_cri_high``.
    draws : DataFrame
        Posterior draws of the relative lift: ``metric, variant, lift`` (for plots).
    """

    summary: pd.DataFrame
    draws: pd.DataFrame


def bayesian_compare(
    data: pd.DataFrame,
    metric: str,
    *,
    kind: str = "binary",
    variant: str = "variant",
    control: str = "control",
    alpha: float = 0.05,
    prior_alpha: float = 1.0,
    prior_beta: float = 1.0,
    n_draws: int = 50_000,
    seed: int = 0,
) -> BayesianResult:
    """Bayesian comparison of each variant with the control.

    * ``kind="binary"``: beta-binomial model.  Each arm's rate has the prior
      Beta(``prior_alpha``, ``prior_beta``) (default Beta(1, 1), uniform) and
      the posterior Beta(prior_alpha + x, prior_beta + n - x).
    * ``kind="continuous"``: normal approximation with a flat prior: each
      arm's mean is :math:`N(\\bar y, s^2/n)` a posteriori.

    From ``n_draws`` seeded posterior draws per arm: the **chance to beat
    control** :math:`P(\\mu_v > \\mu_c)`, the **expected loss** of shipping the
    variant :math:`E[\\max(\\mu_c - \\mu_v, 0)]` (and of keeping the control,
    :math:`E[\\max(\\mu_v - \\mu_c, 0)]`), in the metric's units, and central
    ``1 - alpha`` credible intervals of the difference and the relative lift.
    (A higher value is taken to be better.)

    Examples
    --------
    >>> d = pd.DataFrame({"variant": np.repeat(["control", "b"], 1000),
    ...                   "converted": np.r_[np.arange(1000) < 100, np.arange(1000) < 130].astype(int)})
    >>> s = bayesian_compare(d, "converted").summary
    >>> round(float(s["chance_to_beat"].iloc[0]), 2)
    0.98
    """
    if kind not in METRIC_KINDS:
        raise ValueError(f"kind={kind!r} is not supported; choose one of {', '.join(METRIC_KINDS)}")
    if prior_alpha <= 0 or prior_beta <= 0:
        raise ValueError("prior_alpha and prior_beta must be positive (Beta(1, 1) is the uniform prior)")
    _z(alpha)
    values, others = _arms(data, metric, variant, control)
    rng = np.random.default_rng(seed)
    if kind == "binary":
        if not values.isin([0.0, 1.0]).all():
            raise ValueError(f"column {metric!r} must hold 0/1 values for kind='binary'; use kind='continuous'")
        summary = values.groupby(level=0).agg(["sum", "count"])

        def posterior(name: str) -> np.ndarray:
            x, n = (summary.loc[name] if name in summary.index else pd.Series({"sum": 0.0, "count": 0.0}))
            return rng.beta(prior_alpha + x, prior_beta + n - x, size=n_draws)
    else:
        summary = values.groupby(level=0).agg(["mean", "var", "count"])

        def posterior(name: str) -> np.ndarray:
            if name not in summary.index or summary.loc[name, "count"] < 2:
                return np.full(n_draws, np.nan)
            mean, var, n = summary.loc[name]
            return rng.normal(mean, np.sqrt(var / n), size=n_draws)

    draws_c = posterior(control)
    rows, draw_frames = [], []
    quantiles = [alpha / 2, 1 - alpha / 2]
    for other in others:
        draws_t = posterior(other)
        diff = draws_t - draws_c
        with np.errstate(divide="ignore", invalid="ignore"):
            lift = draws_t / draws_c - 1
        usable = np.isfinite(diff).all()
        finite_lift = np.isfinite(lift).all()
        rows.append({
            "metric": metric, "variant": other, "control": control, "kind": kind,
            "chance_to_beat": float((diff > 0).mean()) if usable else np.nan,
            "expected_loss": float(np.maximum(-diff, 0).mean()) if usable else np.nan,
            "expected_loss_control": float(np.maximum(diff, 0).mean()) if usable else np.nan,
            "difference": float(diff.mean()) if usable else np.nan,
            "diff_cri_low": float(np.quantile(diff, quantiles[0])) if usable else np.nan,
            "diff_cri_high": float(np.quantile(diff, quantiles[1])) if usable else np.nan,
            "relative_lift": float(np.median(lift)) if finite_lift else np.nan,
            "lift_cri_low": float(np.quantile(lift, quantiles[0])) if finite_lift else np.nan,
            "lift_cri_high": float(np.quantile(lift, quantiles[1])) if finite_lift else np.nan,
        })
        draw_frames.append(pd.DataFrame({"metric": metric, "variant": other, "lift": lift}))
    return BayesianResult(pd.DataFrame(rows), pd.concat(draw_frames, ignore_index=True))


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
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha!r} must be between 0 and 1, e.g. 0.05")
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
