"""Comparisons of arms computed from sufficient statistics only (:class:`~.sufficient.Summaries`).

For each variant against the control (per segment and metric):

* **difference** of means / rates / ratios with the CI and p-value of one method
  (``method`` column): ``"wald"`` (rates: unpooled z, as statsmodels'
  ``test_proportions_2indep(method="wald")`` and ``confint_proportions_2indep(method="wald")``),
  ``"agresti-caffo"`` (rates with an expected cell count below 5 or an unequal split), ``"welch"`` (means, and
  any CUPED-adjusted metric), ``"welch-skew"`` (Welch with Hall's skewness correction,
  picked automatically when one arm is at least 1.5 times the other and the skewness of
  the difference ``|γ| ≥ 0.02`` — skewed metrics with unequal splits), ``"delta"`` (ratio metrics, delta method), ``"sequential"``
  (always-valid confidence sequence);
* **relative lift** from the log-ratio (delta method on the log scale) with its own
  p-value: its interval never crosses −100%. With no successes in an arm 0.5 is added to
  each arm's successes (and 1 to its users) for the lift only;
* **CUPED**: ``y − θ(x − x̄)`` with θ from the pooled sums of the segment; reported as
  CUPED only when θ ≠ 0 and the variance fell;
* **Bayesian**: normal posterior of the reported difference with an optional N(0, τ²)
  effect prior, τ = ``prior_sd`` × |control value|: chance to beat control and expected loss.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..stats import ALTERNATIVES
from ..validation import check_alpha, check_option
from .inference import log_ratio, sequential_interval, skew_corrected_interval, wald_interval
from .sufficient import Summaries

__all__ = ["METHODS", "SKEW_THRESHOLD", "arm_moments", "compare_arms", "compare", "omnibus", "probability_best", "pooled_theta"]

METHODS = ("auto", "wald", "agresti-caffo", "welch", "welch-skew", "delta", "sequential")
SKEW_THRESHOLD = 0.02
"""|skewness of the difference| from which ``method="auto"`` corrects Welch's test for skew."""
UNEQUAL_SPLIT = 1.5
"""Arm-size ratio from which ``method="auto"`` considers the skew correction."""
SMALL_EXPECTED_COUNT = 5
REGRESSION_PREFIX = "regression on "
"""``covariate`` label of a metric adjusted for several covariates before summarizing."""


def arm_moments(sums, kind: str, theta=0.0, x_pool=0.0):
    """Mean, per-user variance (ddof = 1), third central moment and n of one arm from its sums.

    With ``theta`` the metric is CUPED-adjusted, ``y − θ(x − x_pool)``; a ratio
    metric's variance is that of its linearization ``(y − R·d)/d̄``.
    """
    n = np.asarray(sums["n"], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "ratio":
            ratio = sums["sum_y"] / sums["sum_d"]
            d_bar = sums["sum_d"] / n
            resid2 = sums["sum_y2"] - 2 * ratio * sums["sum_yd"] + ratio ** 2 * sums["sum_d2"]
            var = np.where(n > 1, resid2 / (n - 1), np.nan) / d_bar ** 2
            return np.where(n > 0, ratio, np.nan), var, np.full(np.shape(n), np.nan), n
        s1 = sums["sum_y"] - theta * sums["sum_x"]
        s2 = sums["sum_y2"] - 2 * theta * sums["sum_xy"] + theta ** 2 * sums["sum_x2"]
        s3 = sums["sum_y3"] - 3 * theta * sums["sum_xy2"] + 3 * theta ** 2 * sums["sum_x2y"] - theta ** 3 * sums["sum_x3"]
        w = s1 / n
        var = np.where(n > 1, np.maximum(s2 - s1 * w, 0) / (n - 1), np.nan)
        m3 = s3 / n - 3 * w * s2 / n + 2 * w ** 3
    return np.where(n > 0, w + theta * x_pool, np.nan), var, m3, n


def compare_arms(c, t, kind: str, *, method: str = "auto", alpha: float = 0.05, alternative: str = "two-sided",
                 theta=0.0, x_pool=0.0, planned_n=None, prior_sd: float = 0.0) -> dict:
    """Variant ``t`` against control ``c`` from their sums (mappings of arrays; vectorized).

    Returns
    -------
    dict of arrays
        ``control_value, variant_value, difference, std_error, df, ci_low, ci_high,
        statistic, p_value, method, skewness, relative_lift, lift_ci_low, lift_ci_high,
        lift_p_value, chance_to_beat, expected_loss``.

    Examples
    --------
    >>> c = {"n": 1000, "sum_y": 100.0}; t = {"n": 1000, "sum_y": 130.0}
    >>> r = compare_arms(c, t, "binary")
    >>> [round(float(r[k]), 4) for k in ("difference", "ci_low", "p_value", "lift_ci_low", "lift_ci_high")]
    [0.03, 0.0021, 0.0353, 0.017, 0.6618]
    """
    check_option("method", method, METHODS)
    check_alpha(alpha)
    check_option("alternative", alternative, ALTERNATIVES)
    c, t = (_full(s) for s in (c, t))
    plain_rate = kind == "binary" and np.all(np.asarray(theta) == 0)
    m_c, v_c, k3_c, n_c = arm_moments(c, kind, theta, x_pool)
    m_t, v_t, k3_t, n_t = arm_moments(t, kind, theta, x_pool)
    with np.errstate(divide="ignore", invalid="ignore"):
        if plain_rate:  # binomial variance p(1 - p)/n, as the Wald interval
            vm_c, vm_t = m_c * (1 - m_c) / n_c, m_t * (1 - m_t) / n_t
            df = np.full(np.shape(m_c), np.inf)
        else:
            vm_c, vm_t = v_c / n_c, v_t / n_t
            df = (vm_t + vm_c) ** 2 / (vm_t ** 2 / (n_t - 1) + vm_c ** 2 / (n_c - 1))
            df = np.where((vm_t + vm_c) > 0, df, n_t + n_c - 2)
            df = np.where(kind == "ratio", np.inf, df)
        diff = m_t - m_c
        se = np.sqrt(vm_t + vm_c)
        gamma = (k3_t / n_t ** 2 - k3_c / n_c ** 2) / se ** 3
    empty = ~((n_c > 0) & (n_t > 0)) | (~plain_rate & ((n_c < 2) | (n_t < 2)))
    chosen = _choose(method, kind, plain_rate, c, t, gamma)
    out = _difference(chosen, diff, se, df, gamma, c, t, n_c + n_t, planned_n, alpha, alternative)
    lift = _lift(chosen, kind, plain_rate, c, t, m_t, vm_t, m_c, vm_c, n_c + n_t, planned_n, alpha, alternative)
    bayes = _posterior(out["difference"], out["std_error"], m_c, prior_sd)
    # no variation in either arm and equal values (both all 0 or all 1): no evidence of a
    # difference (the shared convention: statistic 0, p = 1) and no lift or chance to speak of
    with np.errstate(invalid="ignore"):
        flat = ~empty & (m_c == m_t) & ((vm_c == 0) | (v_c == 0)) & ((vm_t == 0) | (v_t == 0))
    if flat.any():
        for key, value in (("difference", 0.0), ("std_error", 0.0), ("ci_low", 0.0), ("ci_high", 0.0), ("statistic", 0.0), ("p_value", 1.0)):
            out[key] = np.where(flat, value, out[key])
        lift = {k: np.where(flat, np.nan, v) for k, v in lift.items()}
        bayes = {k: np.where(flat, 0.0 if k in ("expected_loss", "posterior_mean", "posterior_sd") else np.nan, v) for k, v in bayes.items()}
    result = {"control_value": m_c, "variant_value": m_t, **out, "method": np.broadcast_to(chosen, np.shape(diff)).astype(object),
              "skewness": np.where(plain_rate | (kind == "ratio"), np.nan, gamma), **lift, **bayes}
    for key, value in result.items():
        if key not in ("method", "control_value", "variant_value"):
            result[key] = np.where(empty, np.nan, value)
    return result


_SUM_KEYS = ("n", "sum_y", "sum_y2", "sum_y3", "sum_x", "sum_x2", "sum_x3", "sum_xy", "sum_x2y", "sum_xy2", "sum_d", "sum_d2", "sum_yd")


def _full(sums) -> dict:
    out = {k: np.asarray(sums[k], dtype=float) for k in sums if k in _SUM_KEYS}
    out.setdefault("sum_y2", out["sum_y"])  # a rate: y² = y
    out.setdefault("sum_y3", out["sum_y"])
    for key in _SUM_KEYS:
        out.setdefault(key, np.zeros_like(out["sum_y"]))
    return out


def _choose(method, kind, plain_rate, c, t, gamma):
    if method != "auto":
        return method
    if kind == "ratio":
        return "delta"
    with np.errstate(divide="ignore", invalid="ignore"):
        unequal = np.maximum(c["n"], t["n"]) >= UNEQUAL_SPLIT * np.minimum(c["n"], t["n"])
    if plain_rate:
        x = c["sum_y"] + t["sum_y"]
        n = c["n"] + t["n"]
        with np.errstate(divide="ignore", invalid="ignore"):
            pooled = x / n
        expected = np.minimum.reduce([c["n"] * pooled, c["n"] * (1 - pooled), t["n"] * pooled, t["n"] * (1 - pooled)])
        # Wald under-covers with small expected counts and with unequal splits (93% at 10/90 and
        # 2%); Agresti-Caffo (one success and one failure added to each arm) holds 95% there.
        return np.where((expected < SMALL_EXPECTED_COUNT) | unequal, "agresti-caffo", "wald")
    # With similar arms the skewness of the difference cancels at an equal split, where the
    # estimate of gamma is only noise: correct for skew only when the split is unequal.
    return np.where(unequal & (np.abs(np.nan_to_num(gamma)) >= SKEW_THRESHOLD), "welch-skew", "welch")


def _difference(chosen, diff, se, df, gamma, c, t, n_total, planned_n, alpha, alternative) -> dict:
    chosen = np.broadcast_to(chosen, np.shape(diff))
    est, err = diff.copy(), se.copy()
    ac = chosen == "agresti-caffo"
    if ac.any():
        p_c, p_t = (c["sum_y"] + 1) / (c["n"] + 2), (t["sum_y"] + 1) / (t["n"] + 2)
        est = np.where(ac, p_t - p_c, est)
        err = np.where(ac, np.sqrt(p_t * (1 - p_t) / (t["n"] + 2) + p_c * (1 - p_c) / (c["n"] + 2)), err)
    normal_df = np.where(np.isin(chosen, ("welch", "welch-skew")), df, np.inf)
    base = wald_interval(est, err, alpha=alpha, alternative=alternative, df=normal_df)
    if (chosen == "welch-skew").any():
        skew = skew_corrected_interval(est, err, gamma, alpha=alpha, alternative=alternative, df=normal_df)
        base = {k: np.where(chosen == "welch-skew", skew[k], base[k]) for k in base}
    if (chosen == "sequential").any():
        if planned_n is None:
            raise ValueError("method='sequential' needs planned_n=<users planned in the test> (it tunes the sequence)")
        seq = sequential_interval(diff, se, n_total, planned_n, alpha=alpha, alternative=alternative)
        base = {k: np.where(chosen == "sequential", seq[k], base[k]) for k in base}
    return {"difference": diff, "std_error": err, "df": np.where(chosen == "sequential", np.inf, normal_df), **base}


def _lift(chosen, kind, plain_rate, c, t, m_t, vm_t, m_c, vm_c, n_total, planned_n, alpha, alternative) -> dict:
    if plain_rate:
        zero = (c["sum_y"] == 0) | (t["sum_y"] == 0)
        adj = lambda s: ((s["sum_y"] + 0.5) / (s["n"] + 1), s["n"] + 1)  # noqa: E731
        (a_t, n_t1), (a_c, n_c1) = adj(t), adj(c)
        m_t = np.where(zero, a_t, m_t)
        m_c = np.where(zero, a_c, m_c)
        vm_t = np.where(zero, a_t * (1 - a_t) / n_t1, vm_t)
        vm_c = np.where(zero, a_c * (1 - a_c) / n_c1, vm_c)
    est, se = log_ratio(m_t, vm_t, m_c, vm_c)
    if np.any(np.broadcast_to(chosen, np.shape(est)) == "sequential"):
        r = sequential_interval(est, se, n_total, planned_n, alpha=alpha, alternative=alternative)
    else:
        r = wald_interval(est, se, alpha=alpha, alternative=alternative)
    with np.errstate(over="ignore"):
        return {"relative_lift": np.expm1(est), "lift_ci_low": np.expm1(r["ci_low"]),
                "lift_ci_high": np.expm1(r["ci_high"]), "lift_p_value": r["p_value"]}


def _posterior(diff, se, control_value, prior_sd):
    """Normal posterior of the difference: flat prior, or N(0, (prior_sd·|control|)²)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if prior_sd and prior_sd > 0:
            tau2 = (prior_sd * np.abs(control_value)) ** 2
            shrink = tau2 / (tau2 + se ** 2)
            mean, sd = diff * shrink, np.sqrt(se ** 2 * shrink)
        else:
            mean, sd = diff, se
        z = mean / sd
        chance = np.where(sd > 0, sps.norm.cdf(z), np.where(mean > 0, 1.0, np.where(mean < 0, 0.0, np.nan)))
        loss = np.where(sd > 0, sd * sps.norm.pdf(z) - mean * sps.norm.cdf(-z), np.maximum(-mean, 0))
    return {"chance_to_beat": chance, "expected_loss": loss, "posterior_mean": mean, "posterior_sd": sd}


def compare(
    summaries: Summaries,
    *,
    control: str = "control",
    metrics=None,
    method: str = "auto",
    alpha: float = 0.05,
    alternative: str = "two-sided",
    use_cuped: bool = True,
    planned_n=None,
    prior_sd: float = 0.0,
    pairs: str = "control",
) -> pd.DataFrame:
    """Tidy comparison table: one row per segment × metric × variant pair, from sufficient statistics.

    Parameters
    ----------
    summaries : Summaries
    control : str
        The control variant (``pairs="control"``: every other variant against it).
    metrics : sequence of str, optional
        Default: every summarized metric.
    method : {"auto", "wald", "agresti-caffo", "welch", "welch-skew", "delta", "sequential"}
    alpha : float
    alternative : {"two-sided", "greater", "less"}
    use_cuped : bool
        Adjust metrics summarized with a covariate.
    planned_n : int, optional
        Planned total users, needed by ``method="sequential"``.
    prior_sd : float
        Sd of a N(0, τ²) prior on the effect, relative to the control value (0 = flat).
    pairs : {"control", "all"}
        Each variant against the control, or every pair of variants.

    Returns
    -------
    DataFrame
        ``segment, metric, kind, variant, control, n_control, n_variant`` + the keys of
        :func:`compare_arms` + ``cuped, covariate, theta, variance_reduction``.
    """
    check_option("pairs", pairs, ("control", "all"))
    variants = summaries.variants
    if control not in variants:
        raise ValueError(f"control variant {control!r} is not in the data; variants present: {', '.join(variants)}")
    if len(variants) < 2:
        raise ValueError(f"only one variant ({control!r}); an experiment needs a control and at least one other variant")
    others = [v for v in variants if v != control]
    if pairs == "control":
        pair_list = [(control, v) for v in others]
    else:
        ordered = [control, *others]
        pair_list = [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1:]]
    table = summaries.table
    names = [s.name for s in summaries.metrics] if metrics is None else list(metrics)
    rows = []
    for name in names:
        spec = summaries.metric(name)
        sub = table[table["metric"] == name]
        for segment, seg in sub.groupby("segment", sort=True):
            arms = seg.set_index("variant")
            covariate = arms["covariate"].iloc[0] if use_cuped else None
            theta, x_pool, reduction = _cuped_theta(arms) if covariate else (0.0, 0.0, np.nan)
            used = bool(covariate) and theta != 0 and reduction > 0
            if not used:
                theta, x_pool = 0.0, 0.0
            if covariate and str(covariate).startswith(REGRESSION_PREFIX):  # values already adjusted
                used, theta, reduction = True, np.nan, np.nan
            for a, b in pair_list:
                c = arms.loc[a, list(_SUM_KEYS)].to_dict()
                t = arms.loc[b, list(_SUM_KEYS)].to_dict()
                r = compare_arms(c, t, spec.kind, method=method, alpha=alpha, alternative=alternative,
                                 theta=np.nan_to_num(theta), x_pool=x_pool, planned_n=planned_n, prior_sd=prior_sd)
                row = {"segment": segment, "metric": name, "kind": spec.kind, "variant": b, "control": a,
                       "n_control": int(c["n"]), "n_variant": int(t["n"])}
                row.update({k: (v.item() if isinstance(v, np.ndarray) else v) for k, v in r.items()})
                row.update(cuped=used, covariate=covariate if covariate else None,
                           theta=theta if covariate else np.nan, variance_reduction=reduction)
                rows.append(row)
    return pd.DataFrame(rows)


def pooled_theta(*arms) -> tuple[np.ndarray, np.ndarray]:
    """CUPED's θ = cov(x, y)/var(x) and x̄ over all users of ``arms`` (mappings of sums; vectorized; θ = 0 if var(x) = 0).

    Examples
    --------
    >>> theta, x_bar = pooled_theta({"n": 2, "sum_y": 3.0, "sum_x": 1.0, "sum_x2": 1.0, "sum_xy": 2.0},
    ...                             {"n": 2, "sum_y": 7.0, "sum_x": 3.0, "sum_x2": 5.0, "sum_xy": 11.0})
    >>> float(theta), float(x_bar)
    (1.5, 1.0)
    """
    s = {k: sum(np.asarray(a[k], dtype=float) for a in arms) for k in ("n", "sum_y", "sum_x", "sum_x2", "sum_xy")}
    with np.errstate(divide="ignore", invalid="ignore"):
        sxx = s["sum_x2"] - s["sum_x"] ** 2 / s["n"]
        theta = np.where(sxx > 0, (s["sum_xy"] - s["sum_x"] * s["sum_y"] / s["n"]) / np.where(sxx > 0, sxx, 1.0), 0.0)
        return theta, s["sum_x"] / s["n"]


def _cuped_theta(arms: pd.DataFrame) -> tuple[float, float, float]:
    """θ = cov(x, y)/var(x), x̄ and the variance reduction 1 − var(y − θx)/var(y) over all arms of a segment."""
    s = arms[list(_SUM_KEYS)].sum()
    n = s["n"]
    if n < 2:
        return 0.0, 0.0, np.nan
    sxx = s["sum_x2"] - s["sum_x"] ** 2 / n
    sxy = s["sum_xy"] - s["sum_x"] * s["sum_y"] / n
    syy = s["sum_y2"] - s["sum_y"] ** 2 / n
    theta = float(sxy / sxx) if sxx > 0 else 0.0
    after = syy - 2 * theta * sxy + theta ** 2 * sxx
    reduction = float(1 - after / syy) if syy > 0 else np.nan
    return theta, float(s["sum_x"] / n), reduction


def omnibus(summaries: Summaries, metrics=None) -> pd.DataFrame:
    """One test across all arms per metric, from sufficient statistics: is any arm different?

    Rates: Pearson chi-square test of the arms × (success, failure) table (as
    ``scipy.stats.chi2_contingency(correction=False)``); means: one-way ANOVA F test (as
    ``scipy.stats.f_oneway``). Ratio metrics are not covered (NaN).

    Returns
    -------
    DataFrame
        ``metric, kind, method, statistic, df, p_value, arms``: ``method`` is "chi-square",
        "anova" or "none" (fewer than two arms with users, a ratio metric, or a mean with
        no more users than arms); ``df`` is ``k - 1`` for the chi-square test and
        ``(k - 1, N - k)`` for ANOVA; ``arms`` counts the arms with users.

    Examples
    --------
    >>> t = pd.DataFrame({"variant": ["control", "b", "c"], "metric": "converted", "n": 1000, "sum": [100, 120, 140]})
    >>> from engagement_utils.experiments.sufficient import summaries_from_table
    >>> round(float(omnibus(summaries_from_table(t))["p_value"].iloc[0]), 4)
    0.0226
    """
    table = summaries.overall().table
    names = [s.name for s in summaries.metrics] if metrics is None else list(metrics)
    rows = []
    for name in names:
        arms = table[(table["metric"] == name) & (table["n"] > 0)]
        kind = summaries.metric(name).kind
        n, s1, s2 = (arms[c].to_numpy(dtype=float) for c in ("n", "sum_y", "sum_y2"))
        k, total = len(arms), n.sum()
        stat = df = p = np.nan
        method = "none"
        if k >= 2 and kind == "binary":
            pooled = s1.sum() / total
            expected = np.r_[n * pooled, n * (1 - pooled)]
            observed = np.r_[s1, n - s1]
            with np.errstate(divide="ignore", invalid="ignore"):
                stat = float(np.where(expected > 0, (observed - expected) ** 2 / expected, 0).sum())
            df, method = k - 1, "chi-square"
            p = float(sps.chi2.sf(stat, df)) if 0 < pooled < 1 else 1.0
        elif k >= 2 and kind == "mean" and total > k:
            grand = s1.sum() / total
            between = float((s1 ** 2 / n).sum() - total * grand ** 2)
            within = float((s2 - s1 ** 2 / n).sum())
            df, method = (k - 1, total - k), "anova"
            stat = (between / (k - 1)) / (within / (total - k)) if within > 0 else np.nan
            p = float(sps.f.sf(stat, *df)) if np.isfinite(stat) else np.nan
        rows.append({"metric": name, "kind": kind, "method": method, "statistic": stat, "df": df, "p_value": p, "arms": k})
    return pd.DataFrame(rows)


def probability_best(summaries: Summaries, metric: str, *, higher_is_better: bool = True, n_draws: int = 20_000,
                     random_state: int = 0) -> pd.Series:
    """Probability that each arm has the best mean, from normal posteriors N(mean, var/n) of the arms (flat prior).

    Examples
    --------
    >>> t = pd.DataFrame({"variant": ["control", "b", "c"], "metric": "converted", "n": 1000, "sum": [100, 120, 140]})
    >>> from engagement_utils.experiments.sufficient import summaries_from_table
    >>> probability_best(summaries_from_table(t), "converted").round(2).to_dict()
    {'b': 0.09, 'c': 0.91, 'control': 0.0}
    """
    spec = summaries.metric(metric)
    arms = summaries.overall().table.query("metric == @metric").set_index("variant")
    mean, var, _, n = arm_moments({k: arms[k].to_numpy(dtype=float) for k in _SUM_KEYS}, spec.kind)
    rng = np.random.default_rng(random_state)
    with np.errstate(invalid="ignore", divide="ignore"):
        draws = rng.normal(mean, np.sqrt(var / n), size=(n_draws, len(mean)))
    draws = np.where(np.isfinite(draws), draws, -np.inf if higher_is_better else np.inf)
    best = np.argmax(draws, axis=1) if higher_is_better else np.argmin(draws, axis=1)
    return pd.Series(np.bincount(best, minlength=len(mean)) / n_draws, index=arms.index, name="probability_best")
