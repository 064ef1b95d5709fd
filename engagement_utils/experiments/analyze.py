"""One call from per-user metrics to a tidy results table and a plain-language verdict."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .metrics import default_covariate
from .power import minimum_detectable_effect
from .stats import (
    CORRECTIONS,
    SRM_THRESHOLD,
    SRMResult,
    _side_by_side,
    adjust_pvalues,
    bayesian_compare,
    compare_means,
    compare_proportions,
    noninferiority,
    srm_check,
)

__all__ = ["ExperimentAnalysis", "analyze_experiment", "metric_label", "metric_kind", "format_chance"]

ROLES = ("primary", "secondary", "guardrail")
_ESTIMATES = ["difference", "ci_low", "ci_high", "relative_lift", "lift_ci_low", "lift_ci_high",
              "std_error", "df", "statistic", "p_value"]
_CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini–Hochberg"}
_WINDOWED = {"events": "events", "active_days": "active days", "purchases": "purchases", "revenue": "revenue",
             "sessions": "sessions", "time_in_app_min": "minutes in app"}


@dataclass(frozen=True)
class ExperimentAnalysis:
    """Everything :func:`analyze_experiment` found.

    Attributes
    ----------
    srm : SRMResult
        Sample ratio check of the assigned users.
    results : DataFrame
        One row per metric × variant: ``role, metric, label, kind, variant, control,
        n_control, n_variant, control_value, variant_value, difference, ci_low,
        ci_high, relative_lift, lift_ci_low, lift_ci_high, std_error, df, statistic,
        p_value, p_value_adjusted, significant, test, cuped, covariate, theta,
        variance_reduction, chance_to_beat, expected_loss, margin, ni_bound,
        guardrail_passed`` (+ ``p_value_fisher`` / ``p_value_mann_whitney``).
    cuped : DataFrame
        Per metric × variant, the estimate with and without CUPED (empty when off).
    posterior : DataFrame
        Posterior draws of the relative lift (``metric, variant, lift``).
    power : DataFrame
        Per primary metric × variant: ``metric, label, variant, n_per_arm, baseline,
        mde, mde_relative, observed_difference, detectable``.
    verdict : list of str
        Plain-language sentences: SRM first, then primary metrics, guardrails, power, overall.
    settings : dict
        The options used (alpha, correction, CUPED, priors, ...).
    """

    srm: SRMResult
    results: pd.DataFrame
    cuped: pd.DataFrame
    posterior: pd.DataFrame
    power: pd.DataFrame
    verdict: list[str]
    settings: dict = field(default_factory=dict)


def metric_label(metric: str) -> str:
    """Readable name of a metric column of :func:`experiment_users`.

    Examples
    --------
    >>> metric_label("retained_d7"), metric_label("converted_14d"), metric_label("sessions_14d")
    ('day-7 retention', '14-day conversion', 'sessions per user (14 days)')
    """
    if m := re.fullmatch(r"retained_d(\d+)", metric):
        return f"day-{m.group(1)} retention"
    if m := re.fullmatch(r"converted_(\d+)d", metric):
        return f"{m.group(1)}-day conversion"
    if (m := re.fullmatch(r"(pre_)?([a-z_]+?)_(\d+)d", metric)) and m.group(2) in _WINDOWED:
        when = f"{m.group(3)} days before" if m.group(1) else f"{m.group(3)} days"
        return f"{_WINDOWED[m.group(2)]} per user ({when})"
    return metric.replace("_", " ")


def metric_kind(users: pd.DataFrame, metric: str) -> str:
    """"binary" for boolean columns and ``converted_*`` / ``retained_*`` metrics, else "continuous".

    Examples
    --------
    >>> metric_kind(pd.DataFrame({"retained_d7": [0.0, 1.0]}), "retained_d7")
    'binary'
    """
    if pd.api.types.is_bool_dtype(users[metric]) or metric.startswith(("converted_", "retained_")):
        return "binary"
    return "continuous"


def _fmt_number(value: float, sign: bool = False) -> str:
    size = abs(value)
    decimals = 0 if size >= 100 else 1 if size >= 10 else 2
    return f"{value:{'+' if sign else ''},.{decimals}f}".replace("-", "−")


def _fmt_value(value: float, kind: str) -> str:
    return f"{value:.1%}" if kind == "binary" else _fmt_number(value)


def _fmt_diff(value: float, kind: str) -> str:
    return f"{value * 100:+.1f} pp".replace("-", "−") if kind == "binary" else _fmt_number(value, sign=True)


def _fmt_p(p: float) -> str:
    if np.isnan(p):
        return "p not available"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def format_chance(c: float) -> str:
    """A probability as a percentage that never rounds to a misleading 0% or 100%.

    Examples
    --------
    >>> format_chance(0.9997), format_chance(0.9951), format_chance(0.42)
    ('> 99.9%', '99.5%', '42%')
    """
    if c > 0.999:
        return "> 99.9%"
    if c < 0.001:
        return "< 0.1%"
    return f"{c:.1%}" if c > 0.99 or c < 0.01 else f"{c:.0%}"


def _name(variant: str) -> str:
    return variant[:1].upper() + variant[1:]


def _compare(users, metric, kind, covariate, *, variant, control, alpha, winsorize):
    """Results of one metric (CUPED estimate when a covariate is given) and its side-by-side CUPED row."""
    common = dict(variant=variant, control=control, alpha=alpha)
    if kind == "binary":
        plain = compare_proportions(users, metric, **common)
    else:
        plain = compare_means(users, metric, winsorize=winsorize, **common)
    if covariate is None:
        plain["cuped"] = False
        return plain, None
    adjusted = compare_means(users, metric, covariate=covariate, winsorize=winsorize if kind == "continuous" else None, **common)
    out = plain.copy()
    out[_ESTIMATES] = adjusted[_ESTIMATES].to_numpy()
    out["test"] = out["test"] + " + CUPED" if kind == "continuous" else "welch + CUPED"
    for column in ("cuped", "theta", "variance_reduction"):
        out[column] = adjusted[column].to_numpy()
    return out, _side_by_side(plain, adjusted, covariate)


def analyze_experiment(
    users: pd.DataFrame,
    *,
    primary: Sequence[str] = ("converted_14d", "retained_d7"),
    secondary: Sequence[str] = (),
    guardrails: Mapping[str, float] | None = None,
    lower_is_better: Sequence[str] = (),
    variant: str = "variant",
    control: str = "control",
    alpha: float = 0.05,
    correction: str = "holm",
    use_cuped: bool = True,
    covariates: Mapping[str, str] | None = None,
    winsorize: float | None = None,
    prior_alpha: float = 1.0,
    prior_beta: float = 1.0,
    power: float = 0.8,
    expected_split: Mapping[str, float] | None = None,
    srm_threshold: float = SRM_THRESHOLD,
    n_draws: int = 50_000,
    seed: int = 0,
) -> ExperimentAnalysis:
    """Analyse an A/B test from per-user metrics: SRM, comparisons, corrections, guardrails, power, verdict.

    Parameters
    ----------
    users : DataFrame
        One row per assigned user (from :func:`experiment_users`).
    primary, secondary : sequence of str
        Metric columns.  Primary metrics get a sentence each in the verdict
        and a power check; both are in the multiple-testing family.
    guardrails : mapping, optional
        Metric → largest acceptable relative harm (e.g. ``{"sessions_14d": 0.05}``),
        checked with a one-sided non-inferiority test (:func:`noninferiority`).
    lower_is_better : sequence of str
        Metrics where a decrease is good (e.g. a bounce rate): flips guardrails,
        chance to beat control and expected loss.
    variant, control : str
        Variant column and control variant name.
    alpha : float, default 0.05
        Significance level; CIs have level ``1 - alpha``.
    correction : {"holm", "bh", "none"}
        Adjustment of the p-values of primary and secondary metrics × variants.
    use_cuped : bool, default True
        Adjust each metric with its pre-period covariate (``covariates`` or
        :func:`default_covariate`); metrics without one are left unadjusted.
    covariates : mapping, optional
        Metric → covariate column, overriding the defaults.
    winsorize : float, optional
        Quantile at which continuous metrics are capped (e.g. 0.99).
    prior_alpha, prior_beta : float, default 1.0
        Beta prior of binary metrics in the Bayesian comparison.
    power : float, default 0.8
        Power used to report the minimum detectable effect.
    expected_split : mapping, optional
        Designed share per variant for the SRM check (default: equal).
    srm_threshold : float, default 0.001
    n_draws, seed : int
        Posterior draws and their seed.

    Returns
    -------
    ExperimentAnalysis

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> users = pd.DataFrame({"variant": np.repeat(["control", "treatment"], 2000),
    ...                       "converted_14d": np.r_[rng.random(2000) < 0.30, rng.random(2000) < 0.35].astype(float)})
    >>> a = analyze_experiment(users, primary=["converted_14d"], use_cuped=False)
    >>> print(a.verdict[1])
    Treatment raised 14-day conversion from 30.2% to 34.6% (+4.4 pp, 95% CI +1.5 to +7.3 pp, p = 0.003; chance to beat control 99.8%).
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"correction={correction!r} is not supported; choose one of {', '.join(CORRECTIONS)}")
    guardrails = dict(guardrails or {})
    roles = [(m, "primary") for m in primary] + [(m, "secondary") for m in secondary] + [(m, "guardrail") for m in guardrails]
    names = [m for m, _ in roles]
    if not names:
        raise ValueError("no metrics to analyse; pass primary=[...] (e.g. 'converted_14d')")
    if len(set(names)) != len(names):
        raise ValueError(f"each metric may have one role only; repeated: {sorted({m for m in names if names.count(m) > 1})}")
    missing = [m for m in names + [variant] if m not in users.columns]
    if missing:
        raise ValueError(f"column(s) {missing} are not in the data; available: {', '.join(map(str, users.columns))}")
    covariates = dict(covariates or {})

    counts = users[variant].astype(str).value_counts(sort=False).sort_index()
    if control not in counts.index:
        raise ValueError(f"control variant {control!r} is not in column {variant!r}; variants present: {', '.join(counts.index)}")
    if len(counts) < 2:
        raise ValueError(f"only one variant ({control!r}) in column {variant!r}; an experiment needs a control and at least one other variant")
    srm = srm_check(counts, expected_split, threshold=srm_threshold)

    rows, side, draws = [], [], []
    for metric, role in roles:
        kind = metric_kind(users, metric)
        covariate = (covariates.get(metric) or default_covariate(metric, users.columns)) if use_cuped else None
        result, cuped_row = _compare(users, metric, kind, covariate, variant=variant, control=control, alpha=alpha, winsorize=winsorize)
        bayes = bayesian_compare(users, metric, kind=kind, variant=variant, control=control, alpha=alpha,
                                 prior_alpha=prior_alpha, prior_beta=prior_beta, n_draws=n_draws, seed=seed)
        better_lower = metric in lower_is_better
        chance = bayes.summary["chance_to_beat"].to_numpy()
        result["chance_to_beat"] = 1 - chance if better_lower else chance
        result["expected_loss"] = bayes.summary["expected_loss_control" if better_lower else "expected_loss"].to_numpy()
        if role == "guardrail":
            result = noninferiority(result, guardrails[metric], relative=True, higher_is_better=not better_lower, alpha=alpha)
            result = result.rename(columns={"margin_abs": "margin"}).drop(columns="ni_p_value")
        result.insert(0, "role", role)
        result.insert(2, "label", metric_label(metric))
        result["covariate"] = covariate
        rows.append(result)
        draws.append(bayes.draws)
        if cuped_row is not None:
            side.append(cuped_row)
    results = pd.concat(rows, ignore_index=True)
    family = results["role"].isin(["primary", "secondary"]).to_numpy()
    results["p_value_adjusted"] = np.where(family, adjust_pvalues(np.where(family, results["p_value"], np.nan), correction), np.nan)
    results["significant"] = np.where(family, results["p_value_adjusted"] < alpha, results["p_value"] < alpha)
    order = ["role", "metric", "label", "kind", "variant", "control", "n_control", "n_variant", "control_value",
             "variant_value", *_ESTIMATES, "p_value_adjusted", "significant", "test", "cuped", "covariate", "theta",
             "variance_reduction", "chance_to_beat", "expected_loss", "margin", "ni_bound", "guardrail_passed"]
    # Columns a run did not produce (no guardrails, no continuous metric, ...) are NaN, so the schema is fixed.
    results = results.reindex(columns=order + [c for c in results.columns if c not in order])

    power_table = _power_rows(users, results, alpha=alpha, power=power, n_variants=len(counts), variant=variant, control=control)
    settings = {"alpha": alpha, "correction": correction, "use_cuped": use_cuped, "winsorize": winsorize,
                "prior": (prior_alpha, prior_beta), "power": power, "srm_threshold": srm_threshold, "control": control}
    verdict = _verdict(srm, results, power_table, settings)
    cuped_table = pd.concat(side, ignore_index=True) if side else pd.DataFrame(
        columns=["metric", "covariate", "variant", "theta", "variance_reduction", "difference", "ci_low", "ci_high",
                 "p_value", "cuped_difference", "cuped_ci_low", "cuped_ci_high", "cuped_p_value", "ci_width_ratio"])
    return ExperimentAnalysis(srm, results, cuped_table, pd.concat(draws, ignore_index=True), power_table, verdict, settings)


def _power_rows(users, results, *, alpha, power, n_variants, variant, control) -> pd.DataFrame:
    """Minimum detectable effect at the achieved sample size for each primary metric × variant."""
    out = []
    for row in results[results["role"] == "primary"].itertuples(index=False):
        n = min(row.n_control, row.n_variant)
        baseline = row.control_value
        sd = None
        if row.kind == "continuous":
            values = users.loc[users[variant].astype(str) == control, row.metric].dropna()
            sd = float(values.std()) if len(values) > 1 else np.nan
        usable = n >= 2 and (0 < baseline < 1 if row.kind == "binary" else bool(sd and sd > 0))
        mde = minimum_detectable_effect(n, baseline, kind=row.kind, sd=sd, alpha=alpha, power=power,
                                        n_variants=n_variants) if usable else np.nan
        out.append({"metric": row.metric, "label": row.label, "kind": row.kind, "variant": row.variant, "n_per_arm": int(n),
                    "baseline": baseline, "mde": mde, "mde_relative": mde / baseline if usable and baseline else np.nan,
                    "observed_difference": row.difference,
                    "detectable": bool(abs(row.difference) >= mde) if np.isfinite(mde) else False})
    return pd.DataFrame(out, columns=["metric", "label", "kind", "variant", "n_per_arm", "baseline", "mde", "mde_relative",
                                      "observed_difference", "detectable"])


def _srm_sentence(srm: SRMResult) -> str:
    t = srm.table
    counts = ", ".join(f"{n:,} users in {v}" if i == 0 else f"{n:,} in {v}" for i, (v, n) in enumerate(zip(t["variant"], t["users"])))
    split = "/".join(f"{100 * s:.3g}" for s in t["expected_share"])
    if srm.flagged:
        return (f"Sample ratio mismatch: {counts} against the designed {split} split "
                f"(chi-square {_fmt_p(srm.p_value)}, below the {srm.threshold:g} threshold). Assignment or logging is "
                "broken somewhere, so the results below should not be trusted until the cause is found.")
    return f"Sample ratio check passed: {counts} against the designed {split} split (chi-square {_fmt_p(srm.p_value)})."


def _metric_sentence(row, settings: dict, family_size: int) -> str:
    kind = row.kind
    level = f"{1 - settings['alpha']:.0%}"
    lo, hi = _fmt_diff(row.ci_low, kind), _fmt_diff(row.ci_high, kind)
    if kind == "binary":
        lo = lo.replace(" pp", "")
    estimate = f"{'CUPED-adjusted ' if row.cuped else ''}{_fmt_diff(row.difference, kind)}"
    if kind == "continuous" and np.isfinite(row.relative_lift):
        estimate += f" ({row.relative_lift:+.1%})".replace("-", "−")
    adjusted = ""
    if settings["correction"] != "none" and family_size > 1:
        adjusted = f", {_CORRECTION_NAMES[settings['correction']]}-adjusted {_fmt_p(row.p_value_adjusted)[2:]}"
    stats_text = f"{estimate}, {level} CI {lo} to {hi}, {_fmt_p(row.p_value)}{adjusted}; chance to beat control {format_chance(row.chance_to_beat)}"
    control_value, variant_value = _fmt_value(row.control_value, kind), _fmt_value(row.variant_value, kind)
    if row.significant:
        verb = "raised" if row.difference > 0 else "lowered"
        return f"{_name(row.variant)} {verb} {row.label} from {control_value} to {variant_value} ({stats_text})."
    return (f"{_name(row.variant)} did not detectably change {row.label}: {variant_value} vs {control_value} "
            f"in {row.control} ({stats_text}).")


def _guardrail_sentence(row) -> str:
    with np.errstate(divide="ignore", invalid="ignore"):
        change = row.difference / row.control_value
        bound = row.ni_bound / row.control_value
        margin = row.margin / abs(row.control_value)
    change_text = f"{change:+.1%}".replace("-", "−")
    bound_text = f"{bound:+.1%}".replace("-", "−")
    if row.guardrail_passed:
        return (f"Guardrail {row.label} held for {_name(row.variant)}: {change_text} "
                f"(worst plausible change {bound_text}, within the {margin:.0%} margin).")
    return (f"Guardrail {row.label} not cleared for {_name(row.variant)}: {change_text}; the data cannot rule out "
            f"a change of {bound_text}, beyond the {margin:.0%} margin.")


def _power_sentence(row, significant: bool, settings: dict) -> str:
    if not np.isfinite(row.mde):
        return f"Power for {row.label}: not computable (the control value leaves no room for a detectable change)."
    head = (f"Power: with {row.n_per_arm:,} users per arm the test could detect a change of {_fmt_diff(row.mde, row.kind).lstrip('+')} "
            f"in {row.label} with {settings['power']:.0%} power; the observed {_fmt_diff(row.observed_difference, row.kind)}")
    if row.detectable:
        return head + " is at least that large, so the test was powered for it."
    if significant:
        return head + " is smaller, so it was significant by luck as much as by size: its magnitude is likely overstated."
    return (head + " is smaller, so an effect of that size could easily be missed: read 'no detectable change' "
            "as inconclusive, not as no effect.")


def _verdict(srm: SRMResult, results: pd.DataFrame, power_table: pd.DataFrame, settings: dict) -> list[str]:
    sentences = [_srm_sentence(srm)]
    family_size = int(results["role"].isin(["primary", "secondary"]).sum())
    primary = results[results["role"] == "primary"]
    for row in primary.itertuples(index=False):
        sentences.append(_metric_sentence(row, settings, family_size))
    guard = results[results["role"] == "guardrail"]
    for row in guard.itertuples(index=False):
        sentences.append(_guardrail_sentence(row))
    significant = dict(zip(zip(primary["metric"], primary["variant"]), primary["significant"]))
    for row in power_table.itertuples(index=False):
        sentences.append(_power_sentence(row, bool(significant[(row.metric, row.variant)]), settings))
    for name, rows in primary.groupby("variant", sort=True):
        better = int((rows["significant"] & (rows["chance_to_beat"] > 0.5)).sum())
        worse = int((rows["significant"] & (rows["chance_to_beat"] < 0.5)).sum())
        failed = int((~guard.loc[guard["variant"] == name, "guardrail_passed"].astype(bool)).sum())
        text = f"Overall: {_name(name)} significantly improved {better} of {len(rows)} primary metric{'s' if len(rows) != 1 else ''}"
        text += f", worsened {worse}" if worse else ""
        if len(guard):
            text += f" and failed {failed} of {int((guard['variant'] == name).sum())} guardrails" if failed else " and held every guardrail"
        sentences.append(text + ("; the sample ratio mismatch makes this unreliable." if srm.flagged else "."))
    return sentences
