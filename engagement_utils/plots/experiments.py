"""A/B test charts: they draw the frames of :mod:`engagement_utils.experiments` and compute nothing."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._style import PALETTE, percent_axis

_ROLES = ("primary", "secondary", "guardrail")

__all__ = ["plot_lift_forest", "plot_cumulative_metric", "plot_cumulative_difference", "plot_posteriors", "plot_retention_by_variant"]


def plot_lift_forest(results: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Forest plot: relative lift of each metric × variant with its CI (``analyze_experiment(...).results``).

    Filled markers are significant results (after correction for primary and
    secondary metrics); the dashed line is "no change".
    """
    ax = ax or plt.subplots(figsize=(9, 0.55 * len(results) + 1.2))[1]
    rows = results.reset_index(drop=True)
    labels = rows["label"] + np.where(rows["variant"].nunique() > 1, " – " + rows["variant"], "")
    y = np.arange(len(rows))[::-1]
    colours = sns.color_palette(PALETTE, 3)
    for i, row in rows.iterrows():
        colour = colours[_ROLES.index(row["role"])]
        ax.plot([row["lift_ci_low"], row["lift_ci_high"]], [y[i], y[i]], color=colour, lw=2)
        ax.plot(row["relative_lift"], y[i], "o", color=colour, markersize=8,
                markerfacecolor=colour if row["significant"] else "white")
    ax.axvline(0, color="0.4", ls="--", lw=1)
    ax.set_yticks(y, labels)
    ax.set_xlabel("relative lift vs control (95% CI)")
    percent_axis(ax, "x")
    handles = [plt.Line2D([], [], color=colours[k], marker="o", lw=2, label=name) for k, name in enumerate(_ROLES)
               if name in set(rows["role"])]
    ax.legend(handles=handles, loc="lower right", frameon=True)
    ax.set_title("Lift by metric (filled = significant)")
    ax.figure.tight_layout()
    return ax


def _variants_over_dates(cumulative: pd.DataFrame):
    """``(colour, variant, dates, rows)`` for each variant of a by-assignment-day frame, in variant order."""
    dates = pd.to_datetime(cumulative["date"])
    for colour, (name, rows) in zip(sns.color_palette(PALETTE), cumulative.groupby("variant", sort=True)):
        yield colour, name, dates[rows.index], rows


def _finish_over_dates(ax: Axes, ylabel: str, title: str, *, percent: bool, legend_title: str | None = None) -> Axes:
    """Axis labels, legend and date ticks shared by the by-assignment-day charts."""
    if percent:
        percent_axis(ax)
    ax.set_xlabel("assignment date")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(title=legend_title)
    ax.figure.autofmt_xdate()
    return ax


def plot_cumulative_metric(cumulative: pd.DataFrame, label: str, *, percent: bool = True, ax: Axes | None = None) -> Axes:
    """Cumulative per-user mean by variant over the assignment days (``cumulative_by_day``), with CI bands."""
    ax = ax or plt.subplots()[1]
    for colour, name, x, rows in _variants_over_dates(cumulative):
        ax.plot(x, rows["value"], color=colour, label=name)
        ax.fill_between(x, rows["ci_low"], rows["ci_high"], color=colour, alpha=0.2, lw=0)
    return _finish_over_dates(ax, label, f"Cumulative {label} by variant", percent=percent, legend_title="variant")


def plot_cumulative_difference(cumulative: pd.DataFrame, label: str, *, percent: bool = True, ax: Axes | None = None) -> Axes:
    """Cumulative difference vs control by assignment day (``cumulative_comparison``): always-valid band and fixed CI."""
    ax = ax or plt.subplots()[1]
    for colour, name, x, rows in _variants_over_dates(cumulative):
        ax.plot(x, rows["difference"], color=colour, label=f"{name} − control")
        ax.fill_between(x, rows["ci_low"], rows["ci_high"], color=colour, alpha=0.2, lw=0, label="always-valid interval")
        ax.plot(x, rows["fixed_ci_low"], color=colour, ls=":", lw=1, label="fixed-horizon CI (end only)")
        ax.plot(x, rows["fixed_ci_high"], color=colour, ls=":", lw=1)
    ax.axhline(0, color="0.4", ls="--", lw=1)
    return _finish_over_dates(ax, f"difference in {label}", f"Cumulative difference in {label}", percent=percent)


def plot_posteriors(draws: pd.DataFrame, labels: dict | None = None) -> Figure:
    """Posterior distribution of the relative lift, one panel per metric (``analyze_experiment(...).posterior``)."""
    metrics = list(dict.fromkeys(draws["metric"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.5), squeeze=False, sharey=False)
    for ax, metric in zip(axes[0], metrics):
        rows = draws[draws["metric"] == metric]
        sns.histplot(rows, x="lift", hue="variant" if rows["variant"].nunique() > 1 else None, stat="density",
                     bins=60, element="step", ax=ax, palette=PALETTE if rows["variant"].nunique() > 1 else None)
        ax.axvline(0, color="0.4", ls="--", lw=1)
        percent_axis(ax, "x")
        ax.set_title((labels or {}).get(metric, metric))
        ax.set_xlabel("relative lift")
    fig.suptitle("Posterior of the lift vs control")
    fig.tight_layout()
    return fig


def plot_retention_by_variant(curve: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Day-k retention after assignment by variant with Wilson bands (``retention_by_variant``)."""
    ax = ax or plt.subplots()[1]
    for colour, (name, rows) in zip(sns.color_palette(PALETTE), curve.groupby("variant", sort=True)):
        ax.plot(rows["day"], rows["rate"], marker=".", color=colour, label=name)
        ax.fill_between(rows["day"], rows["ci_low"], rows["ci_high"], color=colour, alpha=0.2, lw=0)
    percent_axis(ax)
    ax.set_xlabel("days after assignment")
    ax.set_ylabel("retained (active that day)")
    ax.set_title("Retention after assignment by variant")
    ax.legend(title="variant")
    return ax
