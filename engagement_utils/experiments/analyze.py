"""One call from per-user metrics or per-arm summaries to a tidy results table and a plain-language verdict."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..stats import ALTERNATIVES, CORRECTIONS, adjust_pvalues
from ..validation import check_alpha, check_fraction, check_option
from . import narrative
from .compare import METHODS, REGRESSION_PREFIX, compare
from .metrics import default_covariate
from .power import power_table
from .regression import regression_adjusted
from .stats import SRM_THRESHOLD, SRM_WARNING, SRMResult, srm_check
from .sufficient import ALL_USERS, Summaries, summarize

__all__ = ["ExperimentAnalysis", "analyze_experiment", "metric_label", "format_chance"]

format_chance = narrative.format_chance

ROLES = ("primary", "secondary", "guardrail")
_WINDOWED = {"events": "events", "active_days": "active days", "purchases": "purchases", "revenue": "revenue",
             "sessions": "sessions", "time_in_app_min": "minutes in app"}
_SIDE_COLUMNS = ["metric", "covariate", "variant", "theta", "variance_reduction", "difference", "ci_low", "ci_high",
                 "p_value", "cuped_difference", "cuped_ci_low", "cuped_ci_high", "cuped_p_value", "ci_width_ratio"]


@dataclass(frozen=True)
class ExperimentAnalysis:
    """Everything :func:`analyze_experiment` found.

    Attributes
    ----------
    srm : SRMResult
        Sample ratio check of the assigned users.
    table : DataFrame
        One row per metric × variant (the single source of every sentence): ``role, metric,
        label, kind, variant, control, n_control, n_variant, control_value, variant_value``
        (analysed values: CUPED-adjusted when ``cuped``), ``difference, std_error, df, ci_low,
        ci_high, statistic, p_value, method`` (one method gives the CI and the p-value),
        ``relative_lift, lift_ci_low, lift_ci_high, lift_p_value`` (log-ratio),
        ``p_value_adjusted, significant, better, chance_to_beat, expected_loss, cuped,
        covariate, theta, variance_reduction, skewness`` and for guardrails ``margin,
        ni_bound, harm_bound, guardrail`` ("held" / "harmed" / "inconclusive").
    text : list of str
        The verdict: SRM first, then the running-test note, primary metrics, guardrails,
        power and one overall sentence per variant.
    cuped : DataFrame
        Per metric × variant, the estimate with and without CUPED (empty when not used).
    posterior : DataFrame
        Posterior draws of the relative lift (``metric, variant, lift``), for plots.
    power : DataFrame
        Per primary metric × variant: ``metric, label, kind, variant, n_control, n_variant,
        baseline, mde, mde_relative, observed_difference, detectable``.
    segments : DataFrame
        The table by ``segment`` with its own correction (empty without a segment).
    summaries : Summaries
        The sufficient statistics every number came from.
    settings : dict
    """

    srm: SRMResult
    table: pd.DataFrame
    text: list[str]
    cuped: pd.DataFrame
    posterior: pd.DataFrame
    power: pd.DataFrame
    segments: pd.DataFrame
    summaries: Summaries
    settings: dict = field(default_factory=dict)

    @property
    def results(self) -> pd.DataFrame:
        """Alias of :attr:`table`."""
        return self.table

    @property
    def verdict(self) -> list[str]:
        """Alias of :attr:`text`."""
        return self.text

    def notes(self) -> list[tuple[str, str]]:
        """The verdict as (sentence, "info" | "warning") pairs for ``display.show_note``."""
        warn = ("Sample ratio mismatch", "Sample ratio warning", "The test is still running")
        return [(s, "warning" if s.startswith(warn) or "harmed by" in s else "info") for s in self.text]

    def key_numbers(self) -> dict[str, str]:
        """Headline numbers: users, sample ratio, the first primary metric (observed means), primary metrics improved."""
        srm = self.srm
        status = ("mismatch" if srm.flagged else f"warning (p = {srm.p_value:.3f})" if srm.warning else f"ok (p = {srm.p_value:.2f})")
        out = {"Users": f"{int(self.summaries.assigned.sum()):,} in {len(self.summaries.variants)} variants", "Sample ratio": status}
        primary = self.table[self.table["role"] == "primary"]
        if len(primary):
            first = primary.iloc[0]
            arms = self.summaries.overall().arms().set_index(["metric", "variant"])["mean"]
            fmt = (lambda v: f"{v:.1%}") if first["kind"] == "binary" else (lambda v: f"{v:,.2f}")
            observed = [arms.get((first["metric"], v), np.nan) for v in (first["control"], first["variant"])]
            out[f"{first['label'][:1].upper()}{first['label'][1:]}"] = f"{fmt(observed[0])} → {fmt(observed[1])}"
            improved = primary["significant"].astype(bool) & (primary["better"] > 0)
            out["Primary metrics improved"] = f"{int(improved.sum())} of {len(primary)}"
        return out

    def plan(self, mdes, *, daily_users: float | None = None) -> pd.DataFrame:
        """Sample size per arm for relative lifts ``mdes`` of the first primary metric, at this test's allocation and variance.

        The per-user standard deviation comes from the reported standard error
        (``se / sqrt(1/n_c + 1/n_t)``), so CUPED's variance reduction is included; rates
        without CUPED use Cohen's h (:func:`~.power.power_table`).
        """
        first = self.table[self.table["role"] == "primary"].iloc[0]
        kind = "binary" if first["kind"] == "binary" and not first["cuped"] else "mean"
        sd = first["std_error"] / np.sqrt(1 / first["n_control"] + 1 / first["n_variant"]) if kind == "mean" else None
        return power_table(first["control_value"], [float(m) for m in mdes], relative=True, kind=kind, sd=sd,
                           alpha=self.settings["alpha"], power=self.settings["power"],
                           n_variants=len(self.summaries.variants), daily_users=daily_users)


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


def _summaries(data, names, *, metrics, covariates, use_cuped, variant, segment) -> Summaries:
    if isinstance(data, Summaries):
        missing = [m for m in names if m not in {s.name for s in data.metrics}]
        if missing:
            raise ValueError(f"metric(s) {missing} are not in the summaries; summarized: {', '.join(s.name for s in data.metrics)}")
        return data
    declared = dict(metrics or {})
    ratio = {m for m, v in declared.items() if isinstance(v, Mapping)}
    missing = [m for m in names if m not in data.columns and m not in ratio] + ([variant] if variant not in data.columns else [])
    if missing:
        raise ValueError(f"column(s) {missing} are not in the data; available: {', '.join(map(str, data.columns))}")
    chosen, several = {}, {}
    if use_cuped:
        for m in names:
            covariate = (covariates or {}).get(m) or (None if m in ratio else default_covariate(m, data.columns))
            if isinstance(covariate, (list, tuple)) and len(covariate) > 1:
                several[m] = list(covariate)
            elif covariate:
                chosen[m] = covariate[0] if isinstance(covariate, (list, tuple)) else covariate
    if several:  # regression adjustment: the adjusted column is analysed as the metric
        adjusted = {m: regression_adjusted(data, m, cols)[0] for m, cols in several.items()}
        declared = {**{m: "mean" for m in several}, **declared}
        data = data.assign(**adjusted)
    summaries = summarize(data, names, declared=declared, covariates=chosen, variant=variant, segment=segment)
    if several:
        table = summaries.table.copy()
        rows = table["metric"].isin(list(several))
        table.loc[rows, "covariate"] = table.loc[rows, "metric"].map(lambda m: REGRESSION_PREFIX + ", ".join(several[m]))
        summaries = Summaries(table, summaries.assigned, summaries.metrics)
    return summaries


def analyze_experiment(
    data,
    *,
    primary: Sequence[str] = ("converted_14d", "retained_d7"),
    secondary: Sequence[str] = (),
    guardrails: Mapping[str, float] | None = None,
    lower_is_better: Sequence[str] = (),
    metrics: Mapping | None = None,
    variant: str = "variant",
    control: str = "control",
    alpha: float = 0.05,
    alternative: str = "two-sided",
    correction: str = "holm",
    method: str = "auto",
    sequential: bool = False,
    planned_n: int | None = None,
    use_cuped: bool = True,
    covariates: Mapping[str, str] | None = None,
    prior_sd: float = 0.0,
    minimum_effect: float = 0.0,
    power: float = 0.8,
    expected_split: Mapping[str, float] | None = None,
    srm_threshold: float = SRM_THRESHOLD,
    srm_warning: float = SRM_WARNING,
    segment: str | None = None,
    pairs: str = "control",
    n_draws: int = 4000,
    random_state: int = 0,
) -> ExperimentAnalysis:
    """Analyse an A/B test: SRM, comparisons, corrections, guardrails, power and the verdict.

    Parameters
    ----------
    data : DataFrame or Summaries
        One row per assigned user (from :func:`experiment_users` or a per-user table), or
        per-arm sufficient statistics (:func:`~.sufficient.read_summaries`). Both reach the
        same computations: results are equal to 1e-12.
    primary, secondary : sequence of str
        Metrics. Primary metrics get a sentence each and a power check; primary and
        secondary metrics × variants form the multiple-testing family.
    guardrails : mapping, optional
        Metric → largest acceptable relative harm (e.g. ``{"sessions_14d": 0.05}``).
        Each reads "held" (one-sided lower bound within the margin), "harmed" (significantly
        worse than control) or "inconclusive".
    lower_is_better : sequence of str
        Metrics where a decrease is good: flips guardrails, chance to beat control and loss.
    metrics : mapping, optional
        Declared kinds: metric → ``"binary"`` / ``"mean"`` or ``{"kind": "ratio",
        "numerator": ..., "denominator": ...}``; undeclared kinds are inferred from values.
    variant, control : str
    alpha : float, default 0.05
        Significance level of every test and interval (intervals have level ``1 - alpha``).
    alternative : {"two-sided", "greater", "less"}
    correction : {"holm", "fdr_bh", "bonferroni", "none"}
    method : {"auto", "wald", "agresti-caffo", "welch", "welch-skew", "delta", "sequential"}
        ``"auto"`` picks per row (see :mod:`.compare`).
    sequential : bool, default False
        Always-valid inference (same as ``method="sequential"``); needs ``planned_n``.
    planned_n : int, optional
        Planned total users. Tunes the sequential test; with a fixed-horizon analysis and
        fewer users so far, the verdict says the p-values are valid only at the planned end.
    use_cuped : bool, default True
        Adjust each metric with its pre-period covariate (``covariates`` or
        :func:`default_covariate`), reported as CUPED only when it reduced the variance.
    covariates : mapping, optional
        Metric → covariate column, or a list of columns for a regression adjustment on several
        covariates (:func:`~.regression.regression_adjusted`; then ``cuped`` is True and ``theta`` NaN).
    prior_sd : float, default 0
        Sd of a N(0, τ²) prior on the effect relative to the control value (0: flat).
    minimum_effect : float, default 0
        Smallest relative change worth acting on (e.g. 0.02 for 2%). When set, each row's
        ``practical`` says "meaningful" (the lift CI lies beyond it), "negligible" (inside
        ±minimum_effect) or "unclear", and primary sentences say so.
    power : float, default 0.8
    expected_split : mapping, optional
        Designed share per variant for the SRM check (default: equal).
    srm_threshold, srm_warning : float
        Mismatch below 0.001, warning below 0.01.
    segment : str, optional
        Breakdown column (per-user data): ``segments`` holds the table by segment.
    pairs : {"control", "all"}
        Each variant against the control, or all pairs (all in the correction family).
    n_draws, random_state : int
        Posterior draws for the plots and their seed.

    Returns
    -------
    ExperimentAnalysis

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> users = pd.DataFrame({"variant": np.repeat(["control", "treatment"], 2000),
    ...                       "signed_up": np.r_[rng.random(2000) < 0.30, rng.random(2000) < 0.35].astype(int)})
    >>> a = analyze_experiment(users, primary=["signed_up"], use_cuped=False)
    >>> print(a.text[1])
    Treatment raised signed up from 30.2% to 34.6%: +4.4 pp (95% CI +1.5 to +7.3 pp, p = 0.003), a relative change of +14.6% (95% CI +4.7% to +25.3%); chance to beat control 99.9%.
    """
    check_alpha(alpha)
    check_option("alternative", alternative, ALTERNATIVES)
    check_option("correction", correction, CORRECTIONS)
    check_option("method", method, METHODS)
    check_fraction(power, "power")
    if sequential:
        method = "sequential"
    if method == "sequential" and planned_n is None:
        raise ValueError("sequential analysis needs planned_n=<total users planned> (it tunes the confidence sequence)")
    guardrails = {k: float(v) for k, v in dict(guardrails or {}).items()}
    roles = [(m, "primary") for m in primary] + [(m, "secondary") for m in secondary] + [(m, "guardrail") for m in guardrails]
    names = [m for m, _ in roles]
    if not names:
        raise ValueError("no metrics to analyse; pass primary=[...] (e.g. 'converted_14d')")
    if len(set(names)) != len(names):
        raise ValueError(f"each metric may have one role only; repeated: {sorted({m for m in names if names.count(m) > 1})}")
    summaries = _summaries(data, names, metrics=metrics, covariates=covariates, use_cuped=use_cuped, variant=variant, segment=segment)
    if control not in summaries.variants:
        raise ValueError(f"control variant {control!r} is not in column {variant!r}; variants present: {', '.join(summaries.variants)}")
    if len(summaries.variants) < 2:
        raise ValueError(f"only one variant ({control!r}) in column {variant!r}; an experiment needs a control and at least one other variant")
    srm = srm_check(summaries.assigned, expected_split, srm_threshold=srm_threshold, srm_warning=srm_warning)
    options = dict(control=control, method=method, alpha=alpha, planned_n=planned_n, prior_sd=prior_sd, pairs=pairs)
    overall = summaries.overall()
    table = compare(overall, metrics=names, alternative=alternative, use_cuped=use_cuped, **options)
    role_of, lower = dict(roles), set(lower_is_better)
    table.insert(0, "role", table["metric"].map(role_of))
    table.insert(2, "label", table["metric"].map(metric_label))
    table = _direction(table, lower)
    table = _guardrails(table, overall, guardrails, lower, options)
    table = _family(table, correction, alpha)
    table = _practical(table, minimum_effect)
    table = table.sort_values(["role", "metric", "variant"], key=lambda s: s.map({r: i for i, r in enumerate(ROLES)}) if s.name == "role"
                              else s.map({m: i for i, m in enumerate(names)}) if s.name == "metric" else s, ignore_index=True)
    table = table.drop(columns="segment")
    side = _side_by_side(overall, table, names, alternative, options) if use_cuped and table["cuped"].any() else pd.DataFrame(columns=_SIDE_COLUMNS)
    power_table = _power_rows(table, alpha=alpha, power=power, alternative=alternative, sequential=method == "sequential")
    segments = pd.DataFrame()
    if segment is not None or (summaries.table["segment"] != ALL_USERS).any():
        segments = compare(summaries, metrics=names, alternative=alternative, use_cuped=use_cuped, **options)
        segments = _family(segments.assign(role=segments["metric"].map(role_of)), correction, alpha)
    n_total = int(summaries.assigned.sum())
    settings = {"alpha": alpha, "alternative": alternative, "minimum_effect": minimum_effect, "correction": correction, "method": method, "use_cuped": use_cuped,
                "prior_sd": prior_sd, "power": power, "srm_threshold": srm_threshold, "srm_warning": srm_warning,
                "control": control, "planned_n": planned_n, "users": n_total,
                "running": bool(planned_n and method != "sequential" and n_total < planned_n)}
    text = _text(srm, table, power_table, settings)
    posterior = _posterior_draws(table, n_draws, random_state)
    return ExperimentAnalysis(srm, table, text, side, posterior, power_table, segments, summaries, settings)


def _direction(table: pd.DataFrame, lower: set) -> pd.DataFrame:
    flip = table["metric"].isin(lower).to_numpy()
    out = table.copy()
    out["better"] = np.sign(out["difference"].to_numpy(dtype=float)) * np.where(flip, -1, 1)
    chance = out["chance_to_beat"].to_numpy(dtype=float)
    out["chance_to_beat"] = np.where(flip, 1 - chance, chance)
    # E[max(Δ, 0)] = E[max(−Δ, 0)] + E[Δ]: the loss of shipping when lower is better
    out["expected_loss"] = np.where(flip, out["expected_loss"] + out["posterior_mean"], out["expected_loss"])
    return out


def _guardrails(table, overall, guardrails, lower, options) -> pd.DataFrame:
    out = table.assign(margin=np.nan, ni_bound=np.nan, harm_bound=np.nan, guardrail=None, harm_beyond_margin=False)
    if not guardrails:
        return out
    names = list(guardrails)
    up = compare(overall, metrics=names, alternative="greater", **options).set_index(["metric", "variant"])
    down = compare(overall, metrics=names, alternative="less", **options).set_index(["metric", "variant"])
    for i in out.index[out["role"] == "guardrail"]:
        key = (out.at[i, "metric"], out.at[i, "variant"])
        sign = -1.0 if key[0] in lower else 1.0
        low, high = up.at[key, "ci_low"], down.at[key, "ci_high"]
        worst, best = (low, high) if sign > 0 else (high, low)
        margin = guardrails[key[0]] * abs(out.at[i, "control_value"])
        out.at[i, "margin"], out.at[i, "ni_bound"], out.at[i, "harm_bound"] = margin, worst, best
        if not np.isfinite(worst):
            continue
        out.at[i, "guardrail"] = ("held" if sign * worst > -margin else "harmed" if sign * best < 0 else "inconclusive")
        out.at[i, "harm_beyond_margin"] = bool(sign * best < -margin)
    return out


def _practical(table: pd.DataFrame, minimum_effect: float) -> pd.DataFrame:
    """Against a minimum effect of interest m: lift CI beyond ±m "meaningful", inside ±m "negligible"."""
    out = table.assign(practical=None, minimum_effect=minimum_effect if minimum_effect else np.nan)
    if not minimum_effect:
        return out
    low, high = out["lift_ci_low"].to_numpy(dtype=float), out["lift_ci_high"].to_numpy(dtype=float)
    verdict = np.where((low > minimum_effect) | (high < -minimum_effect), "meaningful",
                       np.where((low > -minimum_effect) & (high < minimum_effect), "negligible", "unclear"))
    out["practical"] = np.where(np.isfinite(low) & np.isfinite(high), verdict, None)
    return out


def _family(table: pd.DataFrame, correction: str, alpha: float) -> pd.DataFrame:
    out = table.copy()
    family = out["role"].isin(["primary", "secondary"]).to_numpy()
    p = out["p_value"].to_numpy(dtype=float)
    out["p_value_adjusted"] = np.where(family, adjust_pvalues(np.where(family, p, np.nan), correction), np.nan)
    out["significant"] = np.where(family, out["p_value_adjusted"] < alpha, p < alpha)
    return out


def _side_by_side(overall, table, names, alternative, options) -> pd.DataFrame:
    plain = compare(overall, metrics=names, alternative=alternative, use_cuped=False, **options).set_index(["metric", "variant"])
    rows = table[table["cuped"] & table["theta"].notna()]  # regression-adjusted metrics have no plain twin here
    keys = list(zip(rows["metric"], rows["variant"]))
    out = pd.DataFrame({"metric": rows["metric"].to_numpy(), "covariate": rows["covariate"].to_numpy(),
                        "variant": rows["variant"].to_numpy(), "theta": rows["theta"].to_numpy(),
                        "variance_reduction": rows["variance_reduction"].to_numpy()})
    for column in ("difference", "ci_low", "ci_high", "p_value"):
        out[column] = [plain.at[k, column] for k in keys]
        out[f"cuped_{column}"] = rows[column].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ci_width_ratio"] = (out["cuped_ci_high"] - out["cuped_ci_low"]) / (out["ci_high"] - out["ci_low"])
    return out[_SIDE_COLUMNS]


def _power_rows(table, *, alpha, power, alternative, sequential) -> pd.DataFrame:
    """Minimum detectable effect at the reported precision: (z_{1−α/2} + z_power)·se of the row."""
    rows = table[table["role"] == "primary"]
    crit = sps.norm.ppf(1 - (alpha / 2 if alternative == "two-sided" else alpha)) + sps.norm.ppf(power)
    se = rows["std_error"].to_numpy(dtype=float)
    mde = np.where(np.isfinite(se) & (se > 0) & (not sequential), crit * se, np.nan)
    base = rows["control_value"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(base != 0, mde / np.abs(base), np.nan)
    diff = rows["difference"].to_numpy(dtype=float)
    return pd.DataFrame({"metric": rows["metric"].to_numpy(), "label": rows["label"].to_numpy(), "kind": rows["kind"].to_numpy(),
                         "variant": rows["variant"].to_numpy(), "n_control": rows["n_control"].to_numpy(),
                         "n_variant": rows["n_variant"].to_numpy(), "baseline": base, "mde": mde, "mde_relative": relative,
                         "observed_difference": diff, "detectable": np.isfinite(mde) & (np.abs(diff) >= mde)})


def _text(srm, table, power_table, settings) -> list[str]:
    sentences = [narrative.srm_sentence(srm)]
    if settings["running"]:
        sentences.append(narrative.running_sentence(settings["users"], settings["planned_n"]))
    family_size = int((table["role"].isin(["primary", "secondary"]) & np.isfinite(table["p_value"].to_numpy(dtype=float))).sum())
    primary, guard = table[table["role"] == "primary"], table[table["role"] == "guardrail"]
    for row in primary.itertuples(index=False):
        sentences.append(narrative.metric_sentence(row, alpha=settings["alpha"], correction=settings["correction"], family_size=family_size))
    for row in guard.itertuples(index=False):
        sentences.append(narrative.guardrail_sentence(row))
    significant = dict(zip(zip(primary["metric"], primary["variant"]), primary["significant"]))
    for row in power_table.itertuples(index=False):
        sentences.append(narrative.power_sentence(row, power=settings["power"], significant=bool(significant[(row.metric, row.variant)])))
    for name, rows in primary.groupby("variant", sort=True):
        if np.isfinite(rows["difference"].to_numpy(dtype=float)).any():
            sentences.append(narrative.overall_sentence(name, rows, guard, srm.flagged))
    return [s for s in sentences if s]


def _posterior_draws(table, n_draws: int, random_state: int) -> pd.DataFrame:
    """Draws of the relative lift from each row's normal posterior of the difference (the chance to beat control's)."""
    rng = np.random.default_rng(random_state)
    frames = []
    for row in table.itertuples(index=False):
        if not (np.isfinite(row.posterior_sd) and row.posterior_sd > 0 and row.control_value):
            continue
        draws = rng.normal(row.posterior_mean, row.posterior_sd, n_draws) / abs(row.control_value)
        frames.append(pd.DataFrame({"metric": row.metric, "variant": row.variant, "lift": draws}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["metric", "variant", "lift"])
