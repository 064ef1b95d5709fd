"""Intervals and p-values from an estimate and its standard error: one method gives both.

Every function here returns the interval **and** the p-value of the same method, so a
row's CI excludes the null value exactly when its p-value is below ``alpha``
(for the same ``alternative``). All functions are vectorized over numpy arrays, so one
call evaluates thousands of simulated experiments.

* :func:`wald_interval` — normal (or Student t with ``df``) reference: Wald z, Welch t,
  the delta method for ratio metrics and the log-ratio relative lift.
* :func:`skew_corrected_interval` — Welch's t with Hall's (1992) cubic transformation
  removing the skewness of the studentized difference
  :math:`g(T) = T + aT^2 + a^2T^3/3 + b`, :math:`a = \\gamma/3`, :math:`b = \\gamma/6`, where
  :math:`\\gamma = (\\mu_{3,t}/n_t^2 - \\mu_{3,c}/n_c^2)/\\mathrm{se}^3` is the skewness of the
  difference of means. ``g`` is monotone and invertible, so the interval and the p-value
  come from one statistic; with no skewness it is Welch's test.
* :func:`sequential_interval` — the asymptotic confidence sequence of Waudby-Smith et al.
  (2021) / Howard et al. (2021) with a normal mixture (GrowthBook's "sequential"):
  :math:`\\hat\\Delta \\pm \\mathrm{se}\\sqrt{N}\\sqrt{\\frac{2(N\\rho^2+1)}{N^2\\rho^2}\\log\\frac{\\sqrt{N\\rho^2+1}}{\\alpha}}`,
  valid at every look (N = users so far); the mixture's
  :math:`\\rho^2 = (-2\\log\\alpha + \\log(1 - 2\\log\\alpha))/N^*` is tuned to the planned
  sample size :math:`N^*`. Its always-valid p-value
  :math:`\\min(1, \\sqrt{N\\rho^2+1}\\,e^{-T^2N\\rho^2/(2(N\\rho^2+1))})` is below ``alpha``
  exactly when the sequence excludes 0.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from ..stats import ALTERNATIVES
from ..validation import check_alpha, check_option

__all__ = ["wald_interval", "skew_corrected_interval", "sequential_interval", "sequential_rho2", "log_ratio"]


def _arrays(*values):
    return [np.asarray(v, dtype=float) for v in values]


def _reference(name, x, df):
    """``name`` ("ppf" or "sf") of N(0, 1) where ``df`` is None or infinite, else of Student t(df)."""
    normal = getattr(sps.norm, name)
    if df is None:
        return normal(x)
    df = np.asarray(df, dtype=float)
    finite = np.isfinite(df)
    with np.errstate(invalid="ignore"):
        return np.where(finite, getattr(sps.t, name)(x, np.where(finite, df, 1.0)), normal(x))


def _quantile(level, df):
    return _reference("ppf", level, df)


def _sf(x, df):
    return _reference("sf", x, df)


def _statistic(estimate, se, null=0.0):
    """(estimate - null) / se; with se = 0: 0 when estimate = null, ±inf otherwise; NaN stays NaN."""
    gap = estimate - null
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, gap / np.where(se > 0, se, 1.0), np.where(gap == 0, 0.0, np.sign(gap) * np.inf))
    return np.where(np.isnan(estimate) | np.isnan(se), np.nan, t)


def _p_from_cdf(upper_tail, lower_tail, alternative):
    if alternative == "greater":
        return upper_tail
    if alternative == "less":
        return lower_tail
    return np.minimum(1.0, 2 * np.minimum(upper_tail, lower_tail))


def wald_interval(estimate, se, *, alpha: float = 0.05, alternative: str = "two-sided", df=None, null=0.0):
    """Interval ``estimate ± q·se`` and the p-value of ``(estimate − null)/se`` against N(0,1) or t(df).

    One-sided alternatives give one-sided intervals (the other bound infinite).

    Returns
    -------
    dict of arrays
        ``ci_low, ci_high, statistic, p_value``.

    Examples
    --------
    >>> r = wald_interval(0.5, 0.25)
    >>> [round(float(r[k]), 4) for k in ("ci_low", "ci_high", "p_value")]
    [0.01, 0.99, 0.0455]
    """
    check_alpha(alpha)
    check_option("alternative", alternative, ALTERNATIVES)
    estimate, se = _arrays(estimate, se)
    t = _statistic(estimate, se, null)
    q = _quantile(1 - (alpha if alternative != "two-sided" else alpha / 2), df)
    low = np.where(alternative == "less", -np.inf, estimate - q * se)
    high = np.where(alternative == "greater", np.inf, estimate + q * se)
    p = _p_from_cdf(_sf(t, df), _sf(-t, df), alternative)
    return {"ci_low": low, "ci_high": high, "statistic": t, "p_value": p}


def _hall_inverse(u, gamma):
    """Inverse of g(T) = ((1 + aT)^3 - 1)/(3a) + b, a = gamma/3, b = gamma/6 (identity at gamma = 0)."""
    a, b = gamma / 3, gamma / 6
    small = np.abs(a) < 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = (np.cbrt(1 + 3 * a * (u - b)) - 1) / np.where(small, 1.0, a)
    return np.where(small, u - b, inv)


def skew_corrected_interval(estimate, se, gamma, *, alpha: float = 0.05, alternative: str = "two-sided", df=None):
    """Welch-type interval and p-value with Hall's transformation removing the skewness ``gamma`` of the estimate.

    ``gamma`` is the skewness of the estimate, ``κ3 / se³`` (for a difference of means
    ``(m3_t/n_t² − m3_c/n_c²)/se³``). With ``gamma = 0`` this is :func:`wald_interval`.

    Examples
    --------
    >>> r = skew_corrected_interval(1.0, 0.5, 0.3)
    >>> [round(float(r[k]), 3) for k in ("ci_low", "ci_high")]
    [0.185, 2.325]
    >>> r0 = skew_corrected_interval(1.0, 0.5, 0.0)
    >>> round(float(r0["ci_low"]), 4), round(float(r0["p_value"]), 4)
    (0.02, 0.0455)
    """
    check_alpha(alpha)
    check_option("alternative", alternative, ALTERNATIVES)
    estimate, se, gamma = _arrays(estimate, se, gamma)
    gamma = np.where(np.isfinite(gamma), gamma, 0.0)
    t0 = _statistic(estimate, se)
    a, b = gamma / 3, gamma / 6
    g0 = ((1 + a * t0) ** 3 - 1) / np.where(np.abs(a) < 1e-12, 1.0, 3 * a) + b
    g0 = np.where(np.abs(a) < 1e-12, t0 + b, g0)
    g0 = np.where(np.isinf(t0), t0, g0)
    q = _quantile(1 - (alpha if alternative != "two-sided" else alpha / 2), df)
    # (estimate − Δ)/se = T with g(T) ~ N(0, 1): Δ = estimate − se·g⁻¹(±q)
    low = np.where(alternative == "less", -np.inf, estimate - se * _hall_inverse(q, gamma))
    high = np.where(alternative == "greater", np.inf, estimate - se * _hall_inverse(-q, gamma))
    p = _p_from_cdf(_sf(g0, df), _sf(-g0, df), alternative)
    return {"ci_low": low, "ci_high": high, "statistic": g0, "p_value": p}


def sequential_rho2(planned_n, alpha: float = 0.05):
    """Mixing variance ρ² of the normal-mixture confidence sequence, tuned to be tightest at ``planned_n`` users.

    Examples
    --------
    >>> round(float(sequential_rho2(10_000)), 8)
    0.00079362
    """
    check_alpha(alpha)
    la = -2 * np.log(alpha)
    return (la + np.log(la + 1)) / np.asarray(planned_n, dtype=float)


def sequential_interval(estimate, se, n, planned_n, *, alpha: float = 0.05, alternative: str = "two-sided"):
    """Always-valid (asymptotic) confidence sequence and its always-valid p-value at ``n`` users so far.

    ``se`` is the estimate's usual standard error at this look (so ``se·√n`` is the
    per-user standard deviation); ``planned_n`` the planned total users (tuning only:
    the guarantee holds for any value). One-sided alternatives use ``2·alpha`` in the
    two-sided sequence for their one bound.

    Examples
    --------
    >>> r = sequential_interval(0.02, 0.008, 5000, 10_000)
    >>> [round(float(r[k]), 4) for k in ("ci_low", "ci_high", "p_value")]
    [-0.0047, 0.0447, 0.1837]
    """
    check_alpha(alpha)
    check_option("alternative", alternative, ALTERNATIVES)
    estimate, se, n = _arrays(estimate, se, n)
    rho2 = sequential_rho2(planned_n, alpha)
    level = alpha if alternative == "two-sided" else min(2 * alpha, 0.999)
    with np.errstate(divide="ignore", invalid="ignore"):
        nr = n * rho2
        half = se * np.sqrt(n) * np.sqrt(2 * (nr + 1) / (n ** 2 * rho2) * np.log(np.sqrt(nr + 1) / level))
        t = _statistic(estimate, se)
        p_two = np.minimum(1.0, np.sqrt(nr + 1) * np.exp(-np.where(np.isinf(t), np.inf, t ** 2) * nr / (2 * (nr + 1))))
    p_two = np.where(np.isnan(t), np.nan, p_two)
    low = np.where(alternative == "less", -np.inf, estimate - half)
    high = np.where(alternative == "greater", np.inf, estimate + half)
    if alternative == "two-sided":
        p = p_two
    else:
        right_way = t > 0 if alternative == "greater" else t < 0
        p = np.where(np.isnan(t), np.nan, np.where(right_way, p_two / 2, 1.0))
    return {"ci_low": low, "ci_high": high, "statistic": t, "p_value": p}


def log_ratio(mean_t, var_mean_t, mean_c, var_mean_c):
    """Log of the ratio of two positive means and its delta-method standard error.

    .. math:: \\log(\\bar y_t/\\bar y_c), \\quad
              \\mathrm{se}^2 = \\frac{\\operatorname{Var}\\bar y_t}{\\bar y_t^2} + \\frac{\\operatorname{Var}\\bar y_c}{\\bar y_c^2}

    NaN where either mean is not positive. The relative lift ``exp(·) − 1`` and its
    interval then never cross −100%.

    Examples
    --------
    >>> est, se = log_ratio(0.12, 0.12 * 0.88 / 1000, 0.10, 0.10 * 0.9 / 1000)
    >>> round(float(est), 4), round(float(se), 4)
    (0.1823, 0.1278)
    """
    mean_t, var_mean_t, mean_c, var_mean_c = _arrays(mean_t, var_mean_t, mean_c, var_mean_c)
    ok = (mean_t > 0) & (mean_c > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = np.where(ok, np.log(np.where(ok, mean_t, 1.0) / np.where(ok, mean_c, 1.0)), np.nan)
        se = np.where(ok, np.sqrt(var_mean_t / np.where(ok, mean_t, 1.0) ** 2 + var_mean_c / np.where(ok, mean_c, 1.0) ** 2), np.nan)
    return est, se
