"""The sentences of the cohort retention report, built from result objects only."""

from __future__ import annotations

__all__ = ["describe_comparison", "definition_text", "rate_with_ci", "key_numbers", "heatmap_reading", "sizes_reading",
           "curve_reading", "brackets_reading", "plateau_reading"]


def describe_comparison(comparison) -> str:
    """One plain-language sentence per segment of a :class:`~.compare.RetentionComparison`."""
    table, unit = comparison.table, comparison.unit
    tested = table[table["tested"]]
    if tested.empty:
        return "No period could be tested (too few observed users, or rates of exactly 0% or 100% in both groups)."
    key = "period" if "period" in tested.columns else "bracket"
    level = f"{1 - comparison.alpha:.0%}"
    sentences = []
    for segment, rows in tested.groupby("segment", sort=False):
        top = rows.loc[rows["difference"].abs().idxmax()]
        sentences.append(
            f"{segment} vs {top['baseline']}: {int(rows['significant'].sum())} of {_periods(len(rows), 'tested ' + unit)} "
            f"{'differs' if int(rows['significant'].sum()) == 1 else 'differ'} "
            f"after {comparison.correction} correction (alpha {comparison.alpha:g}); largest gap at {unit} {top[key]}: "
            f"{top['rate']:.1%} vs {top['rate_base']:.1%} ({100 * top['difference']:+.1f} pp, "
            f"{level} CI {100 * top['diff_ci_low']:+.1f} to {100 * top['diff_ci_high']:+.1f} pp)."
        )
    return " ".join(sentences)


def definition_text(definition) -> str:
    """How the periods were counted and what was censored, for the report's methods note."""
    d = definition
    first_incomplete = f"{d.first_incomplete_period:%Y-%m-%d}"
    if d.include_partial:
        censoring = f"periods still in progress at the data end (from {first_incomplete}) are counted as observed so far"
    else:
        censoring = f"periods from {first_incomplete} on are incomplete and censored (shown empty, never as 0%)"
    clock = ("calendar periods" if d.clock == "calendar" else f"rolling {d.period}s measured from each user's first event")
    return (f"Retention by {clock} in {d.tz}; data end {d.data_end:%Y-%m-%d %H:%M} UTC; {censoring}; "
            f"intervals are {1 - d.alpha:.0%} Wilson intervals.")


def rate_with_ci(row, alpha: float) -> str:
    """``"41.0% (95% CI 31.9%–50.8%)"`` from a row with ``rate``, ``ci_low``, ``ci_high``."""
    return f"{row['rate']:.1%} ({1 - alpha:.0%} CI {row['ci_low']:.1%}–{row['ci_high']:.1%})"


def _periods(n: int, unit: str) -> str:
    """``"1 week"``, ``"3 weeks"``, ``"1,200 users"``."""
    return f"{n:,} {unit}" if n == 1 else f"{n:,} {unit}s"


def key_numbers(matrix, curve, summary, *, unit: str, later: int, alpha: float) -> dict[str, str]:
    """The cohort report's header: users, cohorts, early and later retention, decay, plateau."""
    points = curve.set_index("period")
    numbers = {
        "Users in cohorts": f"{int(matrix.drop_duplicates('cohort')['cohort_size'].sum()):,}",
        "Cohorts": f"{matrix['cohort'].nunique()}",
    }
    for k in sorted({1, later}):
        if k in points.index and points.loc[k, "eligible"] > 0:
            numbers[f"{unit.capitalize()}-{k} retention"] = rate_with_ci(points.loc[k], alpha)
    numbers[f"Falls below half of {unit} 1 at"] = (
        "not within the periods shown" if summary["below_50pct_period"] != summary["below_50pct_period"]
        else f"{unit} {int(summary['below_50pct_period'])}")
    numbers["Long-run plateau"] = f"{summary['plateau']:.1%}" if summary["plateau_supported"] else "not yet flat"
    return numbers


def heatmap_reading(matrix, unit: str) -> str:
    """Range of period-1 retention across the observed cohorts."""
    observed = matrix[(matrix["period"] == 1) & (matrix["eligible"] > 0)]
    if observed.empty:
        return f"No cohort has been observed for a full {unit} after its own yet."
    best, worst = observed.loc[observed["rate"].idxmax()], observed.loc[observed["rate"].idxmin()]
    return (f"{unit.capitalize()}-1 retention ranges from {worst['rate']:.0%} (cohort of {worst['cohort']:%Y-%m-%d}, "
            f"{_periods(int(worst['cohort_size']), 'user')}) to {best['rate']:.0%} (cohort of {best['cohort']:%Y-%m-%d}, "
            f"{_periods(int(best['cohort_size']), 'user')}) across {_periods(len(observed), 'observed cohort')}.")


def sizes_reading(matrix) -> str:
    sizes = matrix.drop_duplicates("cohort")["cohort_size"]
    return (f"Cohorts hold {sizes.min():,} to {sizes.max():,} users (median {sizes.median():,.0f}); "
            "small cohorts have wide intervals, which the pooled curve accounts for by weighting.")


def curve_reading(n_period, unbounded, unit: str) -> str:
    """How the N-period curve moves from period 1 to its last observed period, and the unbounded share there."""
    observed = n_period[n_period["rate"].notna() & (n_period["period"] >= 1)]
    if observed.empty:
        return f"No cohort has been observed beyond its first {unit} yet."
    points = n_period.set_index("period")
    last = int(observed["period"].max())
    first_rate, last_rate = points.loc[1, "rate"], points.loc[last, "rate"]
    trend = "falls" if last_rate < first_rate else "rises" if last_rate > first_rate else "stays level"
    later = unbounded.set_index("period").loc[last, "rate"]
    return (f"N-period retention {trend} from {first_rate:.1%} in {unit} 1 to {last_rate:.1%} in {unit} {last}; "
            f"{later:.1%} of users are active in {unit} {last} or later (unbounded).")


def brackets_reading(brackets, unit: str) -> str:
    observed = brackets[brackets["eligible"] > 0]
    if observed.empty:
        return "No cohort has been observed through a whole bracket yet."
    top = observed.loc[observed["rate"].idxmax()]
    span = f"{unit} {top['bracket']}" if top["first"] == top["last"] else f"{unit}s {top['bracket']}"
    return (f"{top['rate']:.1%} of users are active at least once in {span} "
            f"({_periods(int(top['eligible']), 'user')} observed that long).")


def plateau_reading(summaries, overall, *, unit: str, max_periods: int) -> str:
    flat = summaries[summaries["plateau_supported"]]
    overall_text = (f"; overall it levels off near {overall['plateau']:.1%}." if overall["plateau_supported"]
                    else "; overall it is still declining.")
    return f"The curve has flattened for {len(flat)} of {_periods(len(summaries), 'group')} within {_periods(max_periods, unit)}" + overall_text
