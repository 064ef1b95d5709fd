"""Power analysis for A/B tests: sample size, minimum detectable effect, days to run.

Binary metrics use Cohen's effect size for proportions
:math:`h = 2\\arcsin\\sqrt{p_1} - 2\\arcsin\\sqrt{p_0}` with the normal test
(as ``statsmodels.stats.power.NormalIndPower`` with
``proportion_effectsize``); mean metrics use :math:`d = \\Delta/\\sigma`
with the two-sample t-test and its noncentral t distribution (as
``TTestIndPower``).  Two-sided power counts both rejection tails:

.. math:: 1 - \\beta = \\Phi(h\\sqrt{n/2} - z_{1-\\alpha/2}) + \\Phi(-h\\sqrt{n/2} - z_{1-\\alpha/2})

with ``n`` users per arm.  With more than two variants every variant is
compared with the control, and ``alpha`` is split over the
``n_variants - 1`` comparisons (Bonferroni), which keeps the plan conservative
when the analysis uses Holm.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .._docs import fill_doc
from ..stats import ALTERNATIVES
from ..validation import check_alpha, check_option

__all__ = ["statistical_power", "sample_size_per_arm", "minimum_detectable_effect", "days_to_run", "power_table", "sample_size_allocated"]

KINDS = ("binary", "mean")
"""Metric kinds a power calculation covers (the glossary's "binary" / "mean")."""
_MAX_N = 1e12


def _check(kind: str, sd: float | None, alpha: float, n_variants: int, *, power: float | None = None,
           n_per_arm: float | None = None) -> float:
    """Validate a plan's options (``power`` and ``n_per_arm`` when given); the alpha of each comparison."""
    check_option("kind", kind, KINDS)
    if kind != "binary" and (sd is None or not sd > 0):
        raise ValueError(f"kind={kind!r} needs sd=<standard deviation of the metric per user> (> 0)")
    check_alpha(alpha)
    if n_variants < 2:
        raise ValueError(f"n_variants={n_variants!r}: an experiment needs at least 2 variants (control included)")
    if power is not None and not 0 < power < 1:
        raise ValueError(f"power={power!r} must be between 0 and 1, e.g. 0.8")
    if n_per_arm is not None and not n_per_arm >= 2:
        raise ValueError(f"n_per_arm={n_per_arm!r} must be at least 2")
    return alpha / (n_variants - 1)


def _effect_size(baseline: float, mde: float, relative: bool, kind: str, sd: float | None) -> float:
    target = baseline * (1 + mde) if relative else baseline + mde
    if kind == "binary":
        if not (0 < baseline < 1 and 0 < target < 1):
            raise ValueError(f"baseline={baseline!r} and baseline + effect={target!r} must be rates strictly between 0 and 1")
        return abs(2 * math.asin(math.sqrt(target)) - 2 * math.asin(math.sqrt(baseline)))
    return abs(target - baseline) / sd


def _power_from_effect(effect: float, n_per_arm: float, alpha: float, kind: str) -> float:
    if kind == "binary":
        crit = stats.norm.isf(alpha / 2)
        shift = effect * math.sqrt(n_per_arm / 2)
        return float(stats.norm.sf(crit - shift) + stats.norm.cdf(-crit - shift))
    df = 2 * n_per_arm - 2
    crit = stats.t.isf(alpha / 2, df)
    nc = effect * math.sqrt(n_per_arm / 2)
    return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))


def _increasing_root(gap, low: float, limit: float) -> float:
    """Root of an increasing ``gap`` above ``low``: double the bracket (far-out noncentral t values are NaN), then Brent."""
    high = low * 2
    while gap(high) < 0:
        if high >= limit:
            raise ValueError("no practical sample size or effect reaches the requested power")
        low, high = high, high * 2
    return optimize.brentq(gap, low, high, xtol=1e-12, rtol=1e-15)


@fill_doc
def statistical_power(
    n_per_arm: float, baseline: float, mde: float, *,
    relative: bool = False, kind: str = "binary", sd: float | None = None, alpha: float = 0.05, n_variants: int = 2,
) -> float:
    """Probability of a significant result when the true effect is ``mde``.

    Parameters
    ----------
    n_per_arm : float
        Users per arm.
    {baseline}
    {mde}
    relative : bool, default False
    {power_metric}
    {n_variants}

    Examples
    --------
    >>> round(statistical_power(3000, 0.10, 0.02), 4)
    0.6978
    """
    alpha_each = _check(kind, sd, alpha, n_variants, n_per_arm=n_per_arm)
    return _power_from_effect(_effect_size(baseline, mde, relative, kind, sd), n_per_arm, alpha_each, kind)


@fill_doc
def sample_size_per_arm(
    baseline: float, mde: float, *,
    relative: bool = False, kind: str = "binary", sd: float | None = None, alpha: float = 0.05, power: float = 0.8, n_variants: int = 2,
) -> int:
    """Smallest number of users per arm that reaches ``power`` for a true effect of ``mde``.

    Solves :func:`statistical_power` = ``power`` for n (Brent's method) and
    rounds up, so ``statistical_power(n) >= power > statistical_power(n - 1)``.

    Parameters
    ----------
    {baseline}
    {mde}
    relative : bool, default False
    {power_metric}
    {power_target}
    {n_variants}

    Returns
    -------
    int
        Users per arm (at least 2).

    Examples
    --------
    >>> sample_size_per_arm(0.10, 0.02)
    3835
    >>> sample_size_per_arm(0.10, 0.10, relative=True)
    14745
    >>> sample_size_per_arm(20.0, 1.0, kind="mean", sd=10.0)
    1571
    """
    alpha_each = _check(kind, sd, alpha, n_variants, power=power)
    effect = _effect_size(baseline, mde, relative, kind, sd)
    if effect == 0:
        raise ValueError("mde must be non-zero: no sample size detects an effect of 0")
    gap = lambda n: _power_from_effect(effect, n, alpha_each, kind) - power  # noqa: E731
    if gap(2) >= 0:
        return 2
    return int(math.ceil(_increasing_root(gap, 2, _MAX_N) - 1e-9))


@fill_doc
def minimum_detectable_effect(
    n_per_arm: float, baseline: float, *,
    relative: bool = False, kind: str = "binary", sd: float | None = None, alpha: float = 0.05, power: float = 0.8, n_variants: int = 2,
) -> float:
    """Smallest upward effect detectable with ``power`` given ``n_per_arm`` users per arm.

    Solves for the effect size (h or d) and converts it back to the metric's
    scale: for a binary metric
    :math:`p_1 = \\sin^2(\\arcsin\\sqrt{p_0} + h/2)`, for a mean
    :math:`\\Delta = d\\,\\sigma`.  Returned absolute (rate or mean units) or,
    with ``relative=True``, relative to the baseline.  NaN if no rate below 1
    reaches the power.

    Parameters
    ----------
    n_per_arm : float
        Users per arm.
    {baseline}
    relative : bool, default False
        Return the effect relative to ``baseline`` instead of in the metric's units.
    {power_metric}
    {power_target}
    {n_variants}

    Returns
    -------
    float
        The effect, absolute or relative; NaN if no rate below 1 reaches ``power``.

    Examples
    --------
    >>> round(minimum_detectable_effect(3835, 0.10), 4)
    0.02
    >>> round(minimum_detectable_effect(1571, 20.0, kind="mean", sd=10.0, relative=True), 3)
    0.05
    """
    alpha_each = _check(kind, sd, alpha, n_variants, power=power, n_per_arm=n_per_arm)
    if kind == "binary" and not 0 < baseline < 1:
        raise ValueError(f"baseline={baseline!r} must be a rate strictly between 0 and 1")
    gap = lambda e: _power_from_effect(e, n_per_arm, alpha_each, kind) - power  # noqa: E731
    effect = _increasing_root(gap, 1e-6, 1e6)
    if kind == "binary":
        angle = math.asin(math.sqrt(baseline)) + effect / 2
        absolute = math.sin(angle) ** 2 - baseline if angle <= math.pi / 2 else np.nan
    else:
        absolute = effect * sd
    return float(absolute / baseline) if relative else float(absolute)


def days_to_run(n_per_arm: int, daily_users: float, *, n_variants: int = 2, traffic_share: float = 1.0) -> int:
    """Days needed to assign ``n_per_arm`` users to each of ``n_variants`` arms.

    ``ceil(n_per_arm * n_variants / (daily_users * traffic_share))``, where
    ``daily_users`` are new eligible users per day and ``traffic_share`` the
    share of them that enters the experiment.

    Examples
    --------
    >>> days_to_run(3835, 500)
    16
    """
    if not daily_users > 0 or not 0 < traffic_share <= 1:
        raise ValueError("daily_users must be positive and traffic_share in (0, 1]")
    return int(math.ceil(n_per_arm * n_variants / (daily_users * traffic_share)))


@fill_doc
def power_table(
    baseline: float, mdes, *,
    relative: bool = True, kind: str = "binary", sd: float | None = None, alpha: float = 0.05,
    power: float = 0.8, n_variants: int = 2, daily_users: float | None = None,
) -> pd.DataFrame:
    """Sample size (and days to run) for several effect sizes: the planning table of a report.

    Parameters
    ----------
    {baseline}
    mdes : sequence of float
        The effects to plan for, as ``mde`` of :func:`sample_size_per_arm`.
    relative : bool, default True
        Read ``mdes`` relative to the baseline (0.05 = +5%) instead of absolute.
    {power_metric}
    {power_target}
    {n_variants}
    daily_users : float, optional
        New eligible users per day (:func:`days_to_run`); adds the ``days`` column.

    Returns
    -------
    DataFrame
        ``mde, relative, target, n_per_arm, total_users`` (+ ``days`` when ``daily_users`` is given).

    Examples
    --------
    >>> power_table(0.10, [0.05, 0.10], daily_users=1000)[["n_per_arm", "days"]].values.tolist()
    [[57756, 116], [14745, 30]]
    """
    rows = []
    for mde in mdes:
        n = sample_size_per_arm(baseline, mde, relative=relative, kind=kind, sd=sd, alpha=alpha, power=power, n_variants=n_variants)
        row = {"mde": mde, "relative": relative, "target": baseline * (1 + mde) if relative else baseline + mde,
               "n_per_arm": n, "total_users": n * n_variants}
        if daily_users is not None:
            row["days"] = days_to_run(n, daily_users, n_variants=n_variants)
        rows.append(row)
    return pd.DataFrame(rows)


def sample_size_allocated(
    baseline: float, mde: float, *,
    relative: bool = False, kind: str = "binary", sd: float | None = None,
    allocation: float = 0.5, variance_reduction: float = 0.0,
    alpha: float = 0.05, power: float = 0.8, alternative: str = "two-sided",
) -> dict:
    """Users per arm for an unequal split and a variance reduction (CUPED), by the normal approximation.

    .. math:: N = \\frac{(z_{1-\\alpha/2} + z_{power})^2}{\\Delta^2}
              \\left(\\frac{\\sigma_c^2}{1 - w} + \\frac{\\sigma_t^2}{w}\\right)(1 - R^2)

    with ``w = allocation`` the variant's share of the two arms, :math:`\\sigma^2 = p(1-p)`
    for rates (each arm at its own rate) or ``sd²``, and ``R² = variance_reduction``
    (CUPED's, e.g. ``ExperimentAnalysis.table["variance_reduction"]``). With ``allocation=0.5``
    and no reduction it is ``statsmodels``' ``NormalIndPower`` on the same effect.

    Returns
    -------
    dict
        ``n_control, n_variant, total`` (rounded up).

    Examples
    --------
    >>> sample_size_allocated(20.0, 1.0, kind="mean", sd=10.0)
    {'n_control': 1570, 'n_variant': 1570, 'total': 3140}
    >>> sample_size_allocated(20.0, 1.0, kind="mean", sd=10.0, allocation=0.1)
    {'n_control': 7849, 'n_variant': 873, 'total': 8722}
    >>> sample_size_allocated(20.0, 1.0, kind="mean", sd=10.0, variance_reduction=0.3)["n_variant"]
    1099
    """
    _check(kind, sd, alpha, 2)
    check_option("alternative", alternative, ALTERNATIVES)
    if not 0 < allocation < 1:
        raise ValueError(f"allocation={allocation!r} must be the variant's share, strictly between 0 and 1")
    if not 0 <= variance_reduction < 1:
        raise ValueError(f"variance_reduction={variance_reduction!r} must be in [0, 1)")
    target = baseline * (1 + mde) if relative else baseline + mde
    delta = target - baseline
    if delta == 0:
        raise ValueError("mde must be non-zero: no sample size detects an effect of 0")
    var_c, var_t = (baseline * (1 - baseline), target * (1 - target)) if kind == "binary" else (sd ** 2, sd ** 2)
    crit = stats.norm.isf(alpha / 2 if alternative == "two-sided" else alpha) + stats.norm.isf(1 - power)
    total = crit ** 2 / delta ** 2 * (var_c / (1 - allocation) + var_t / allocation) * (1 - variance_reduction)
    n_c, n_t = math.ceil(total * (1 - allocation) - 1e-9), math.ceil(total * allocation - 1e-9)
    return {"n_control": n_c, "n_variant": n_t, "total": n_c + n_t}
