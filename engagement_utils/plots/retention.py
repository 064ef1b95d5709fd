"""Charts of the cohort retention report.

They take the frames returned by :mod:`engagement_utils.retention` (matrix,
curve, comparison) and only reshape and draw them.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from ._style import error_extents, legend_label, percent_axis, tidy_labels

__all__ = ["plot_retention_heatmap", "plot_retention_curves", "plot_cohort_sizes", "plot_retention_difference"]

# Cells are annotated while they stay legible; beyond this the colour bar carries the values.
_MAX_ANNOTATED_CELLS = 900


def _cohort_labels(cohorts: pd.Series, period: str) -> list[str]:
    fmt = "%Y-%m" if period == "month" else "%Y-%m-%d"
    return [c.strftime(fmt) for c in pd.to_datetime(cohorts)]


def plot_retention_heatmap(matrix: pd.DataFrame, ax: Axes | None = None, annotate: bool | None = None,
                           title: str | None = None, period: str = "day") -> Axes:
    """Cohort × period heatmap of rates with cohort sizes in the row labels.

    Takes an unsegmented :func:`engagement_utils.retention.retention_matrix` frame.
    Censored cells are blank and periods no cohort was observed in are left out.  Annotations (percent) are shown when the table is
    small enough to read (``annotate=None``), with the font shrinking as cohorts
    are added; the figure grows with the number of cohorts.
    """
    if "segment" in matrix.columns:
        raise ValueError("plot_retention_heatmap draws one matrix; filter it to one segment first")
    table = matrix.pivot(index="cohort", columns="period", values="rate")
    table = table.loc[:, table.notna().any()]
    sizes = matrix.drop_duplicates("cohort").set_index("cohort")["cohort_size"].reindex(table.index)
    n_rows, n_cols = table.shape
    if ax is None:
        ax = plt.subplots(figsize=(min(4 + 0.45 * n_cols, 18), min(1.5 + 0.32 * n_rows, 30)))[1]
    annotate = n_rows * n_cols <= _MAX_ANNOTATED_CELLS if annotate is None else annotate
    font = float(np.clip(11 - 0.12 * max(n_rows, n_cols), 5, 9))
    sns.heatmap(table, ax=ax, cmap="viridis", vmin=0, vmax=1, annot=annotate, fmt=".0%",
                annot_kws={"fontsize": font}, cbar_kws={"format": "{x:.0%}", "label": "retained"},
                linewidths=0.4, linecolor="white")
    ax.set_yticks(np.arange(n_rows) + 0.5)
    ax.set_yticklabels([f"{label}  (n={int(n):,})" for label, n in zip(_cohort_labels(table.index.to_series(), period), sizes)],
                       fontsize=font + 1, rotation=0)
    ax.set_xlabel(f"{period}s since the cohort {period}")
    ax.set_ylabel("cohort")
    ax.set_title(title or f"Retention by {period} cohort")
    return ax


def plot_retention_curves(curve: pd.DataFrame, ax: Axes | None = None, title: str | None = None,
                          start_period: int = 0) -> Axes:
    """Pooled retention curve(s) with confidence bands, one line per segment.

    Takes a :func:`engagement_utils.retention.retention_curve` frame; periods
    before ``start_period`` are left out (start at 1 to zoom past the 100% of period 0).
    """
    ax = ax or plt.subplots()[1]
    data = curve[(curve["period"] >= start_period) & curve["rate"].notna()]
    groups = data.groupby("segment", sort=True) if "segment" in data.columns else [("all users", data)]
    palette = sns.color_palette(n_colors=max(len(groups), 1))
    for colour, (name, points) in zip(palette, groups):
        ax.plot(points["period"], points["rate"], marker="o", markersize=3, color=colour, label=legend_label(name))
        ax.fill_between(points["period"], points["ci_low"], points["ci_high"], color=colour, alpha=0.2, linewidth=0)
    percent_axis(ax)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("periods since the cohort period")
    ax.set_ylabel("retained")
    if "segment" in data.columns:
        ax.legend(title="segment", frameon=False)
    ax.set_title(title or "Retention curve (cohorts pooled, 95% CI band)")
    return tidy_labels(ax)


def plot_cohort_sizes(matrix: pd.DataFrame, ax: Axes | None = None, title: str | None = None, period: str = "day") -> Axes:
    """Bars of users per cohort (stacked by segment when the matrix has one)."""
    ax = ax or plt.subplots(figsize=(9, 3.5))[1]
    if "segment" in matrix.columns:
        sizes = matrix.drop_duplicates(["cohort", "segment"]).pivot(index="cohort", columns="segment", values="cohort_size").fillna(0)
    else:
        sizes = matrix.drop_duplicates("cohort").set_index("cohort")[["cohort_size"]]
    labels = _cohort_labels(sizes.index.to_series(), period)
    bottom = np.zeros(len(sizes))
    for colour, column in zip(sns.color_palette(n_colors=sizes.shape[1]), sizes.columns):
        ax.bar(np.arange(len(sizes)), sizes[column], bottom=bottom, color=colour, label=legend_label(column), width=0.85)
        bottom += sizes[column].to_numpy()
    step = max(1, len(labels) // 20)
    ax.set_xticks(np.arange(len(labels))[::step])
    ax.set_xticklabels(labels[::step], rotation=45, ha="right")
    ax.set_ylabel("users")
    ax.set_xlabel(f"{period} cohort")
    if "segment" in matrix.columns:
        ax.legend(title="segment", frameon=False)
    ax.set_title(title or "Cohort sizes")
    return tidy_labels(ax)


def plot_retention_difference(comparison: pd.DataFrame, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Per-period difference to the baseline with its CI; significant periods (adjusted) drawn filled."""
    ax = ax or plt.subplots()[1]
    data = comparison[comparison["difference"].notna()]
    for colour, (name, points) in zip(sns.color_palette(n_colors=data["segment"].nunique()), data.groupby("segment", sort=True)):
        ax.errorbar(points["period"], 100 * points["difference"],
                    yerr=error_extents(points["difference"], points["diff_ci_low"], points["diff_ci_high"], scale=100),
                    fmt="none", ecolor=colour, alpha=0.6, capsize=2)
        significant = points["significant"].to_numpy()
        ax.scatter(points["period"][significant], 100 * points["difference"][significant], color=colour,
                   label=f"{legend_label(name)} (significant)", zorder=3)
        ax.scatter(points["period"][~significant], 100 * points["difference"][~significant], facecolors="white",
                   edgecolors=colour, label=f"{legend_label(name)} (not significant)", zorder=3)
    ax.axhline(0, color="grey", linewidth=1)
    ax.set_xlabel("periods since the cohort period")
    ax.set_ylabel("difference (percentage points)")
    baseline = data["baseline"].iloc[0] if len(data) else ""
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(title or f"Retention difference vs {baseline} (CI; filled = significant after correction)")
    return tidy_labels(ax)
