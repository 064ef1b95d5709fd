"""Per-user comparisons: the reference implementations on one row per user.

:func:`compare_proportions`, :func:`compare_means`, :func:`cuped`, :func:`bootstrap_ci` and
:func:`bayesian_compare` take the tidy per-user frame (a ``variant`` column, one column per
metric, NaN = censored and left out). :func:`~engagement_utils.experiments.analyze_experiment`
does not use them: it computes from sufficient statistics (:mod:`.compare`), and the tests
check both agree. Each row's p-value and CI come from one method (the ``method`` column, named
as in :mod:`.compare`); Fisher's exact p-value is only the separate column ``p_value_fisher``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._docs import fill_doc
from ..validation import check_alpha, check_option
from .compare import compare_arms
from .stats import cuped_adjust, welch_test

__all__ = ["BayesianResult", "compare_proportions", "compare_means", "cuped", "bootstrap_ci", "bayesian_compare"]

PROPORTION_METHODS = ("auto", "wald", "agresti-caffo")
"""``method`` of :func:`compare_proportions` (statsmodels' ``confint_proportions_2indep`` names)."""
BOOTSTRAP_STATISTICS = ("mean", "median", "ratio")
METRIC_KINDS = ("binary", "mean")
"""``kind`` of :func:`bayesian_compare` (the glossary's metric kinds it covers)."""
# Bootstrap resamples are drawn in blocks of about this many values to bound memory.
_BOOTSTRAP_BLOCK = 4_000_000

def _arms(users: pd.DataFrame, metric: str, variant: str, control: str) -> tuple[pd.Series, list]:
    """The metric's non-missing values and the variants to compare with ``control`` (sorted)."""
    for column in (variant, metric):
        if column not in users.columns:
            raise ValueError(f"column {column!r} is not in the per-user table; available: {', '.join(map(str, users.columns))}")
    groups = users[variant].astype(str)
    present = list(pd.unique(groups))
    if control not in present:
        raise ValueError(f"control variant {control!r} is not in column {variant!r}; variants present: {', '.join(sorted(present))}")
    if len(present) < 2:
        raise ValueError(f"only one variant ({control!r}) in column {variant!r}; a comparison needs a control and at least one other variant")
    others = sorted(v for v in present if v != control)
    if not pd.api.types.is_numeric_dtype(users[metric]) and not pd.api.types.is_bool_dtype(users[metric]):
        raise ValueError(f"column {metric!r} must be numeric (one value per user), got {users[metric].dtype}")
    values = pd.Series(users[metric].to_numpy(dtype=float), index=groups.to_numpy())
    return values[values.notna()], others


def _finish(frame: pd.DataFrame, metric: str, kind: str, others: list, control: str, n_t, n_c) -> pd.DataFrame:
    frame.insert(0, "metric", metric)
    frame.insert(1, "variant", others)
    frame.insert(2, "control", control)
    frame.insert(3, "kind", kind)
    frame.insert(4, "n_control", np.asarray(n_c, dtype=np.int64))
    frame.insert(5, "n_variant", np.asarray(n_t, dtype=np.int64))
    return frame


@fill_doc
def compare_proportions(
    users: pd.DataFrame, metric: str, *,
    variant: str = "variant", control: str = "control", alpha: float = 0.05, method: str = "auto",
) -> pd.DataFrame:
    """Compare a binary (0/1) metric between each variant and the control.

    Parameters
    ----------
    users : DataFrame
        One row per user with ``variant`` and the 0/1 ``metric`` (NaN = censored, left out).
    metric : str
        The metric column.
    {variant_control}
    {alpha_ci}
    method : {"auto", "wald", "agresti-caffo"}, default "auto"
        How the CI and p-value are computed (:func:`~.compare.compare_arms`; the names of
        statsmodels' ``confint_proportions_2indep``): ``"wald"``, the unpooled Wald z;
        ``"agresti-caffo"``, Wald on one success and one failure added to each arm, which
        holds its level with small counts; ``"auto"`` picks Agresti–Caffo per row when an
        expected cell count is below 5 or the split is unequal, else Wald.

    Returns
    -------
    DataFrame
        One row per non-control variant: ``metric, variant, control, kind,
        n_control, n_variant, control_value, variant_value, difference, ci_low,
        ci_high, relative_lift, lift_ci_low, lift_ci_high, std_error, df,
        statistic, p_value, method, p_value_fisher``. ``p_value`` and the CI come from the
        method in ``method``; Fisher's exact p-value (``scipy.stats.fisher_exact``) is the
        separate column ``p_value_fisher``, never shown with another method's CI.

    Examples
    --------
    >>> d = pd.DataFrame({"variant": ["control"] * 4 + ["b"] * 4, "converted": [0, 0, 1, 0, 1, 1, 0, 1]})
    >>> r = compare_proportions(d, "converted")
    >>> r[["variant", "control_value", "variant_value", "method"]].values.tolist()
    [['b', 0.25, 0.75, 'agresti-caffo']]
    >>> round(float(r["p_value_fisher"].iloc[0]), 4)
    0.4857
    """
    check_option("method", method, PROPORTION_METHODS)
    values, others = _arms(users, metric, variant, control)
    if not values.isin([0.0, 1.0]).all():
        raise ValueError(f"column {metric!r} must hold 0/1 (or True/False) values per user; use compare_means for other metrics")
    summary = values.groupby(level=0).agg(["sum", "count"])
    x_c, n_c = (float(v) for v in summary.reindex([control]).fillna(0).iloc[0])
    x_t = summary["sum"].reindex(others, fill_value=0).to_numpy(dtype=float)
    n_t = summary["count"].reindex(others, fill_value=0).to_numpy(dtype=float)
    r = compare_arms({"n": np.full(len(others), n_c), "sum_y": np.full(len(others), x_c)}, {"n": n_t, "sum_y": x_t},
                     "binary", method=method, alpha=alpha)
    keep = ["control_value", "variant_value", "difference", "ci_low", "ci_high", "relative_lift", "lift_ci_low",
            "lift_ci_high", "std_error", "df", "statistic", "p_value"]
    frame = pd.DataFrame({k: np.asarray(r[k], dtype=float) for k in keep})
    frame["method"] = np.asarray(r["method"], dtype=object)
    frame["p_value_fisher"] = [
        stats.fisher_exact([[x_t[i], n_t[i] - x_t[i]], [x_c, n_c - x_c]]).pvalue if n_t[i] > 0 and n_c > 0 else np.nan
        for i in range(len(others))
    ]
    return _finish(frame, metric, "binary", others, control, n_t, n_c)


def _arm_summary(values: pd.Series, control: str, others: list) -> tuple:
    summary = values.groupby(level=0).agg(["mean", "var", "count"])
    c = summary.reindex([control]).iloc[0]
    t = summary.reindex(others)
    return (t["mean"].to_numpy(), t["var"].to_numpy(), t["count"].fillna(0).to_numpy(),
            float(c["mean"]), float(c["var"]), float(0 if pd.isna(c["count"]) else c["count"]))


@fill_doc
def compare_means(
    users: pd.DataFrame, metric: str, *,
    variant: str = "variant", control: str = "control", alpha: float = 0.05,
    winsorize: float | None = None, covariate: str | None = None,
) -> pd.DataFrame:
    """Compare the per-user mean of a metric (a count, revenue, a duration) between each variant and the control.

    The difference and its CI and p-value come from Welch's t-test
    (:func:`welch_test`); the relative lift CI from the delta method.
    Mann–Whitney's U test on the raw values (``scipy.stats.mannwhitneyu``,
    two-sided) is added as a robustness check that does not depend on the
    tails of the distribution.

    Parameters
    ----------
    users : DataFrame
        One row per user with ``variant`` and ``metric`` (NaN = censored, left out).
    metric : str
    {variant_control}
    {alpha_ci}
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
        The columns of :func:`compare_proportions` (``kind`` is "mean", ``method`` "welch") plus
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
    values, others = _arms(users, metric, variant, control)
    raw = values
    cap = np.nan
    if winsorize is not None:
        if not 0.5 <= winsorize < 1:
            raise ValueError(f"winsorize={winsorize!r} must be a quantile between 0.5 and 1, e.g. 0.99")
        cap = float(np.quantile(values.to_numpy(), winsorize)) if len(values) else np.nan
        values = values.clip(upper=cap)
    theta = variance_reduction = np.nan
    if covariate is not None:
        if covariate not in users.columns:
            raise ValueError(f"covariate column {covariate!r} is not in the per-user table; available: {', '.join(map(str, users.columns))}")
        x = pd.Series(users[covariate].to_numpy(dtype=float), index=users[variant].astype(str).to_numpy())
        x = x[users[metric].notna().to_numpy()]
        if x.isna().any():
            raise ValueError(f"covariate column {covariate!r} has missing values; fill them (e.g. 0 for users new at assignment)")
        adjusted, theta_arr = cuped_adjust(values.to_numpy(), x.to_numpy())
        theta = float(theta_arr)
        before = float(np.var(values.to_numpy()))
        variance_reduction = 1 - float(np.var(adjusted)) / before if before > 0 else 0.0
        values = pd.Series(adjusted, index=values.index)
    m_t, v_t, n_t, m_c, v_c, n_c = _arm_summary(values, control, others)
    frame = welch_test(m_t, v_t, n_t, m_c, v_c, n_c, alpha=alpha)
    frame["method"] = "welch"
    frame["p_value_mann_whitney"] = [_mann_whitney(raw, other, control) for other in others]
    frame["winsorized_at"] = cap
    frame["cuped"] = covariate is not None
    frame["theta"] = theta
    frame["variance_reduction"] = variance_reduction
    return _finish(frame, metric, "mean", others, control, n_t, n_c)


def _mann_whitney(values: pd.Series, other: str, control: str) -> float:
    a = values.loc[values.index == other].to_numpy()
    b = values.loc[values.index == control].to_numpy()
    if len(a) == 0 or len(b) == 0 or np.ptp(np.r_[a, b]) == 0:
        return np.nan if len(a) == 0 or len(b) == 0 else 1.0
    return float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


@fill_doc
def cuped(
    users: pd.DataFrame, metric: str, covariate: str, *,
    variant: str = "variant", control: str = "control", alpha: float = 0.05,
) -> pd.DataFrame:
    """Results with and without CUPED side by side, with the variance reduction achieved.

    Parameters
    ----------
    users : DataFrame
        One row per user with ``variant``, ``metric`` and the pre-period ``covariate``.
    metric, covariate : str
    {variant_control}
    {alpha_ci}

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
    plain = compare_means(users, metric, variant=variant, control=control, alpha=alpha)
    adjusted = compare_means(users, metric, variant=variant, control=control, alpha=alpha, covariate=covariate)
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


@fill_doc
def bootstrap_ci(
    users: pd.DataFrame, metric: str, *,
    statistic: str = "median", denominator: str | None = None,
    variant: str = "variant", control: str = "control", alpha: float = 0.05, n_boot: int = 2000, random_state: int = 0,
) -> pd.DataFrame:
    """Percentile bootstrap CIs for statistics without a closed-form standard error.

    Each arm is resampled (users with replacement) independently ``n_boot``
    times; the CI of the difference and of the relative lift are the
    ``alpha/2`` and ``1 - alpha/2`` quantiles of the replicated differences
    and ratios.  Resampling is vectorized (index matrices in blocks).

    Parameters
    ----------
    users : DataFrame
        One row per user with ``variant`` and ``metric``.
    metric : str
        The values, or the numerator of a ratio metric.
    statistic : {"median", "mean", "ratio"}
        ``"ratio"`` is ``sum(metric) / sum(denominator)`` per arm, e.g.
        revenue per session with ``metric="revenue", denominator="sessions"``.
    denominator : str, optional
        Required for ``statistic="ratio"``.
    {variant_control}
    {alpha_ci}
    n_boot : int, default 2000
    random_state : int, default 0
        Seed of the resampling: the same value gives the same intervals.

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
    check_option("statistic", statistic, BOOTSTRAP_STATISTICS)
    if statistic == "ratio" and denominator is None:
        raise ValueError("statistic='ratio' needs denominator=<column>, e.g. metric='revenue', denominator='sessions'")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    check_alpha(alpha)
    values, others = _arms(users, metric, variant, control)
    denom = None
    if denominator is not None:
        denom_values, _ = _arms(users, denominator, variant, control)
        both = users[metric].notna().to_numpy() & users[denominator].notna().to_numpy()
        values = pd.Series(users[metric].to_numpy(dtype=float)[both], index=users[variant].astype(str).to_numpy()[both])
        denom = pd.Series(users[denominator].to_numpy(dtype=float)[both], index=values.index)
    rng = np.random.default_rng(random_state)

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
    users: pd.DataFrame, metric: str, *,
    kind: str = "binary", variant: str = "variant", control: str = "control", alpha: float = 0.05,
    prior_alpha: float = 1.0, prior_beta: float = 1.0, n_draws: int = 50_000, random_state: int = 0,
) -> BayesianResult:
    """Bayesian comparison of each variant with the control.

    * ``kind="binary"``: beta-binomial model.  Each arm's rate has the prior
      Beta(``prior_alpha``, ``prior_beta``) (default Beta(1, 1), uniform) and
      the posterior Beta(prior_alpha + x, prior_beta + n - x).
    * ``kind="mean"``: normal approximation with a flat prior: each
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
    check_option("kind", kind, METRIC_KINDS)
    if prior_alpha <= 0 or prior_beta <= 0:
        raise ValueError("prior_alpha and prior_beta must be positive (Beta(1, 1) is the uniform prior)")
    check_alpha(alpha)
    values, others = _arms(users, metric, variant, control)
    rng = np.random.default_rng(random_state)
    if kind == "binary":
        if not values.isin([0.0, 1.0]).all():
            raise ValueError(f"column {metric!r} must hold 0/1 values for kind='binary'; use kind='mean'")
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
