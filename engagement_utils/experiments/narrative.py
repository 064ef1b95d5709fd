"""The plain-language verdict of an experiment, built only from the reported rows.

Rules (each pinned by a test on a constructed case):

* The sample ratio check comes first: a mismatch (p < 0.001) says the results should not be
  trusted; 0.001 ≤ p < 0.01 is a warning, never "passed".
* A fixed-horizon analysis of a test that is still running says its p-values are valid
  only at the planned end.
* Each sentence uses one row's numbers only: the analysed values (CUPED-adjusted when the
  row says so), the difference with its CI and p-value of one method, the adjusted p-value
  when a correction applies (the verb follows the adjusted p), and the chance to beat
  control of the same estimate — so direction, estimate and chance cannot disagree.
* No sentence for a metric or arm without data (fully censored metric, empty arm).
* "CUPED-adjusted" only when CUPED reduced the variance (θ ≠ 0).
* Guardrails read "held" (non-inferiority shown), "harmed" (the variant is significantly
  worse) or "not enough data" (neither) — different words.
* The power sentence uses the reported row's standard error (CUPED and unequal splits included).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["format_chance", "format_p", "srm_sentence", "metric_sentence", "guardrail_sentence",
           "power_sentence", "overall_sentence", "running_sentence", "lift_reading", "cuped_reading", "cumulative_reading",
           "chance_reading"]

_CORRECTION_NAMES = {"holm": "Holm", "fdr_bh": "Benjamini–Hochberg", "bonferroni": "Bonferroni"}


def _number(value: float, sign: bool = False) -> str:
    size = abs(value)
    decimals = 0 if size >= 100 else 1 if size >= 10 else 2
    return f"{value:{'+' if sign else ''},.{decimals}f}".replace("-", "−")


def _value(value: float, kind: str) -> str:
    return f"{value:.1%}" if kind == "binary" else _number(value)


def _diff(value: float, kind: str) -> str:
    if not np.isfinite(value):
        return "−∞" if value < 0 else "+∞"
    return f"{value * 100:+.1f} pp".replace("-", "−") if kind == "binary" else _number(value, sign=True)


def _pct(value: float) -> str:
    return f"{value:+.1%}".replace("-", "−")


def format_p(p: float) -> str:
    """A p-value as text.

    Examples
    --------
    >>> format_p(0.0004), format_p(0.0093), format_p(0.1234), format_p(float("nan"))
    ('p < 0.001', 'p = 0.009', 'p = 0.12', 'p not available')
    """
    if not np.isfinite(p):
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


def srm_sentence(srm) -> str:
    """The sample-ratio sentence: mismatch, warning or passed."""
    t = srm.table
    counts = ", ".join(f"{n:,} users in {v}" if i == 0 else f"{n:,} in {v}" for i, (v, n) in enumerate(zip(t["variant"], t["users"])))
    split = "/".join(f"{100 * s:.3g}" for s in t["expected_share"])
    if srm.flagged:
        return (f"Sample ratio mismatch: {counts} against the designed {split} split "
                f"(chi-square {format_p(srm.p_value)}, below the {srm.srm_threshold:g} threshold). Assignment or logging is "
                "broken somewhere, so the results below should not be trusted until the cause is found.")
    if srm.warning:
        return (f"Sample ratio warning: {counts} against the designed {split} split (chi-square {format_p(srm.p_value)}, "
                f"below {srm.srm_warning:g} but above the {srm.srm_threshold:g} mismatch threshold). Check assignment "
                "and logging before relying on the results.")
    return f"Sample ratio check passed: {counts} against the designed {split} split (chi-square {format_p(srm.p_value)})."


def running_sentence(n_users: int, planned_n: int) -> str:
    """What a fixed-horizon p-value of a still-running test means."""
    return (f"The test is still running ({n_users:,} of {planned_n:,} planned users): these fixed-horizon p-values and "
            "intervals are valid only at the planned end. Stopping now because one looks significant inflates false "
            "positives; analyse with sequential = True for results valid at every look.")


def has_data(row) -> bool:
    """A row with an estimate (both arms have users with a value)."""
    return bool(np.isfinite(row.difference) and row.n_control > 0 and row.n_variant > 0)


def metric_sentence(row, *, alpha: float, correction: str, family_size: int) -> str | None:
    """One sentence for a primary metric row (None when the row has no data)."""
    if not has_data(row):
        return None
    kind = row.kind
    level = f"{1 - alpha:.0%}"
    lo, hi = _diff(row.ci_low, kind), _diff(row.ci_high, kind)
    if kind == "binary":
        lo = lo.replace(" pp", "")
    adjusted = correction != "none" and family_size > 1 and np.isfinite(row.p_value_adjusted)
    p_text = format_p(row.p_value)
    if adjusted:
        p_text += f", {_CORRECTION_NAMES[correction]}-adjusted {format_p(row.p_value_adjusted)[2:]}"
    text = f"{_diff(row.difference, kind)} ({level} CI {lo} to {hi}, {p_text})"
    if np.isfinite(row.relative_lift):
        text += f", a relative change of {_pct(row.relative_lift)} ({level} CI {_pct(row.lift_ci_low)} to {_pct(row.lift_ci_high)})"
    if np.isfinite(row.chance_to_beat):
        text += f"; chance to beat control {format_chance(row.chance_to_beat)}"
    practical = getattr(row, "practical", None)
    if practical == "meaningful":
        text += f"; the change is beyond the minimum effect of interest (±{row.minimum_effect:.1%})"
    elif practical == "negligible":
        text += f"; any change is within the minimum effect of interest (±{row.minimum_effect:.1%}), too small to matter"
    cuped = ", CUPED-adjusted for the pre-period" if row.cuped else ""
    values = f"{_value(row.control_value, kind)} to {_value(row.variant_value, kind)}"
    if row.significant:
        verb = "raised" if row.difference > 0 else "lowered"
        return f"{_name(row.variant)} {verb} {row.label} from {values}{cuped}: {text}."
    if row.control_value == row.variant_value and row.std_error == 0:
        return f"{_name(row.variant)} did not change {row.label}: {_value(row.variant_value, kind)} in both arms, with no variation."
    note = ""
    if adjusted and row.p_value < alpha:
        note = f"; significant on its own but not after the correction for {family_size} comparisons"
    return f"{_name(row.variant)} did not detectably change {row.label} ({values}{cuped}): {text}{note}."


def guardrail_sentence(row) -> str | None:
    """"held" / "harmed" / "not enough data" for a guardrail row (None without data)."""
    if not has_data(row) or not row.control_value:
        return None
    scale = abs(row.control_value)
    change, margin = row.difference / scale, row.margin / scale
    worst = row.ni_bound / scale
    if row.guardrail == "held":
        return (f"Guardrail {row.label} held for {_name(row.variant)}: {_pct(change)} "
                f"(worst plausible change {_pct(worst)}, within the {margin:.0%} margin).")
    if row.guardrail == "harmed":
        beyond = f", beyond the {margin:.0%} margin" if row.harm_beyond_margin else ""
        return (f"Guardrail {row.label} harmed by {_name(row.variant)}: {_pct(change)}, a proven worsening "
                f"(the best plausible change is {_pct(row.harm_bound / scale)}{beyond}).")
    return (f"Guardrail {row.label} for {_name(row.variant)}: not enough data to clear it — {_pct(change)}, but the data "
            f"cannot rule out {_pct(worst)}, beyond the {margin:.0%} margin (no harm is shown either).")


def power_sentence(row, *, power: float, significant: bool) -> str | None:
    """Minimum detectable effect at the reported precision, against the observed difference."""
    if not np.isfinite(row.mde):
        return None
    head = (f"Power: at this test's precision it could detect a change of {_diff(row.mde, row.kind).lstrip('+')} "
            f"in {row.label} with {power:.0%} power; the observed {_diff(row.observed_difference, row.kind)}")
    if row.detectable:
        return head + " is at least that large, so the test was powered for it."
    if significant:
        return head + " is smaller, so it was significant by luck as much as by size: its magnitude is likely overstated."
    return (head + " is smaller, so an effect of that size could easily be missed: read 'no detectable change' "
            "as inconclusive, not as no effect.")


def overall_sentence(variant: str, primary: pd.DataFrame, guard: pd.DataFrame, srm_flagged: bool) -> str:
    """Counts of improved / worsened primary metrics and guardrail outcomes for one variant."""
    usable = primary[np.isfinite(primary["difference"].to_numpy(dtype=float))]
    better = int((usable["significant"] & (usable["better"] > 0)).sum())
    worse = int((usable["significant"] & (usable["better"] < 0)).sum())
    text = (f"Overall: {_name(variant)} significantly improved {better} of {len(usable)} primary "
            f"metric{'s' if len(usable) != 1 else ''}")
    text += f", worsened {worse}" if worse else ""
    g = guard[guard["variant"] == variant]
    g = g[np.isfinite(g["difference"].to_numpy(dtype=float))]
    if len(g):
        harmed, unclear = int((g["guardrail"] == "harmed").sum()), int((g["guardrail"] == "inconclusive").sum())
        if not harmed and not unclear:
            text += " and held every guardrail"
        else:
            bits = ([f"harmed {harmed}"] if harmed else []) + ([f"could not clear {unclear}"] if unclear else [])
            text += f"; of {len(g)} guardrails it {' and '.join(bits)}"
    return text + ("; the sample ratio mismatch makes this unreliable." if srm_flagged else ".")


def lift_reading(table: pd.DataFrame, alpha: float) -> str:
    """One line under the results table: the largest relative change with its interval."""
    rows = table[np.isfinite(table["relative_lift"].to_numpy(dtype=float))]
    if rows.empty:
        return "No metric has a relative change to show (no data, or a control value of 0)."
    best = rows.loc[rows["relative_lift"].abs().idxmax()]
    return (f"Largest relative change: {best['label']} for {best['variant']} ({_pct(best['relative_lift'])}, "
            f"{1 - alpha:.0%} CI {_pct(best['lift_ci_low'])} to {_pct(best['lift_ci_high'])}); "
            f"{int(table['significant'].sum())} of {len(table)} rows are significant.")


def cuped_reading(side: pd.DataFrame, labels: dict) -> str:
    """One line under the CUPED table."""
    if side.empty:
        return ("CUPED was not used: it is off, no metric has a pre-period covariate, or the covariate carried no "
                "information (θ = 0, e.g. no user had pre-period activity).")
    top = side.loc[side["variance_reduction"].idxmax()]
    return (f"CUPED cut the variance most for {labels.get(top['metric'], top['metric'])} ({top['variance_reduction']:.1%}, "
            f"CI {1 - top['ci_width_ratio']:.1%} narrower).")


def cumulative_reading(cumulative: pd.DataFrame, label: str, kind: str) -> str:
    """One line under the cumulative chart: the last look, always-valid and fixed."""
    last = cumulative.groupby("variant").tail(1)
    parts = [f"{r.variant} {_diff(r.difference, kind)} (always-valid interval {_diff(r.ci_low, kind)} to "
             f"{_diff(r.ci_high, kind)}, always-valid {format_p(r.p_value)})" for r in last.itertuples(index=False)]
    return (f"After the last assignment day, {label}: " + "; ".join(parts) + ". The always-valid band may be read "
            "every day; the dotted fixed-horizon CI only at the planned end.")


def chance_reading(table: pd.DataFrame) -> str:
    """The chance to beat control of every row with one."""
    rows = table[np.isfinite(table["chance_to_beat"].to_numpy(dtype=float))]
    if rows.empty:
        return "No row has a chance to beat control (no data or no variation)."
    return "Chance to beat control: " + "; ".join(f"{r.label} ({r.variant}) {format_chance(r.chance_to_beat)}"
                                                 for r in rows.itertuples(index=False)) + "."
