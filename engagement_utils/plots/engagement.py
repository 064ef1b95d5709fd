"""Engagement charts: active users, lifecycle, funnels, sessions, screen flow, group comparisons.

Each function draws a frame returned by :mod:`engagement_utils.metrics`,
:mod:`engagement_utils.funnels` or :mod:`engagement_utils.sessions` and
returns the matplotlib ``Axes`` (``Figure`` for multi-panel charts).
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ._style import error_extents, percent_axis, shorten, tidy_labels

__all__ = [
    "plot_active_users",
    "plot_active_days",
    "plot_conversion_over_time",
    "plot_checkout_loops",
    "plot_lifecycle",
    "plot_funnel",
    "plot_session_durations",
    "plot_transitions",
    "transition_matrix",
    "plot_group_comparison",
]

_LIFECYCLE_COLORS = {"new": "#4c9be8", "returning": "#3aa655", "resurrecting": "#f0a830", "dormant": "#d9534f"}


def plot_active_users(active: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """DAU, WAU and MAU lines (left axis) with stickiness DAU/MAU (right axis), from :func:`metrics.active_users`.

    A window with no complete day yet (WAU and MAU of a log shorter than 7 / 30 days) gets no line
    and no legend entry; counts are whole users on an axis from zero, and a span of at most two weeks gets
    one dated tick per day.
    """
    ax = ax or plt.subplots()[1]
    for column, label in (("dau", "DAU"), ("wau", "WAU"), ("mau", "MAU")):
        if active[column].notna().any():
            ax.plot(active["date"], active[column], label=label)
    ax.set_ylabel("active users")
    ax.set_ylim(bottom=0)  # counts from zero: a flat line of 3 users is not drawn as a swing between 2.85 and 3.15
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    handles = ax.get_legend_handles_labels()[0]
    if active["stickiness"].notna().any():
        right = ax.twinx()
        right.plot(active["date"], active["stickiness"], color="0.3", linestyle="--", label="stickiness (DAU/MAU)")
        right.set_ylabel("stickiness")
        right.grid(False)
        percent_axis(right)
        handles += right.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc="upper left", frameon=True)
    days = pd.to_datetime(active["date"]).drop_duplicates().sort_values()
    if 0 < len(days) <= 14:
        ax.set_xticks(days)
        ax.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))
    ax.set_title("Active users on trailing windows")
    ax.figure.autofmt_xdate()
    return ax


def plot_conversion_over_time(table: pd.DataFrame, period: str = "week", ax: Axes | None = None) -> Axes:
    """Conversion rate per period with its interval band, from :func:`metrics.conversion_by_period`."""
    ax = ax or plt.subplots(figsize=(9, 3.5))[1]
    ax.plot(table["period_start"], table["conversion_rate"], marker="o", markersize=3, color="#4c9be8")
    ax.fill_between(table["period_start"], table["ci_low"], table["ci_high"], color="#4c9be8", alpha=0.2, linewidth=0)
    ax.set_ylabel("converted / active users")
    ax.set_ylim(bottom=0)
    percent_axis(ax)
    ax.set_title(f"Conversion rate per {period} (share of active users who converted)")
    ax.figure.autofmt_xdate()
    return ax


def plot_checkout_loops(loops: pd.DataFrame, min_sessions: int = 10, ax: Axes | None = None) -> Axes:
    """Loop rate per period, one line per segment, from :func:`funnels.checkout_loops` (periods under ``min_sessions`` left out)."""
    ax = ax or plt.subplots(figsize=(9, 3.5))[1]
    shown = loops[loops["checkout_sessions"] >= min_sessions]
    groups = shown.groupby("segment", sort=True) if "segment" in shown.columns else [("all", shown)]
    for name, group in groups:
        ax.plot(group["period_start"], group["loop_rate"], marker="o", label=str(name))
    starts = sorted(pd.to_datetime(shown["period_start"]).unique())
    if 0 < len(starts) <= 14:  # one tick per period, dated as the reading dates it
        ax.set_xticks(starts)
        ax.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))
    ax.set_ylabel("sessions looping back")
    ax.set_ylim(bottom=0)
    percent_axis(ax)
    ax.legend(frameon=True)
    ax.set_title("Checkout sessions that go back to the cart and return to checkout")
    ax.figure.autofmt_xdate()
    return ax


def plot_active_days(distribution: pd.DataFrame, period: str = "week", ax: Axes | None = None) -> Axes:
    """Share of active users by exact number of active days (bars) and "at least N days" (line)."""
    ax = ax or plt.subplots()[1]
    x = distribution["active_days"].astype(int).to_numpy()
    ax.bar(x, distribution["share"], label="exactly N days")
    ax.plot(x, distribution["share_at_least"], marker="o", color="0.25", label="at least N days")
    ax.set_xticks(x)
    ax.set_xlabel(f"active days in the {period}")
    ax.set_ylabel(f"share of users active in the {period}")
    percent_axis(ax)
    ax.legend()
    ax.set_title(f"How many days a {period} users are active")
    return ax


def plot_lifecycle(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Stacked bars of new / returning / resurrecting users per period, dormant drawn below zero."""
    ax = ax or plt.subplots()[1]
    wide = table.pivot(index="period_start", columns="status", values="users")
    labels = wide.index.strftime("%Y-%m-%d")
    x = np.arange(len(wide))
    bottom = np.zeros(len(wide))
    for status in ("returning", "resurrecting", "new"):
        ax.bar(x, wide[status], bottom=bottom, color=_LIFECYCLE_COLORS[status], label=status)
        bottom = bottom + wide[status].to_numpy()
    ax.bar(x, -wide["dormant"], color=_LIFECYCLE_COLORS["dormant"], label="dormant")
    ax.axhline(0, color="0.2", linewidth=0.8)
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step], labels[::step], rotation=45, ha="right")
    ax.set_ylabel("users")
    ax.legend(ncols=4, loc="upper left")
    ax.set_title("User lifecycle per period")
    ax.figure.tight_layout()
    return ax


def plot_funnel(steps: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Horizontal bars of conversion from step 1 with CIs, annotated with users and drop-off."""
    ax = ax or plt.subplots()[1]
    y = np.arange(len(steps))[::-1]
    err = error_extents(steps["conversion"], steps["ci_low"], steps["ci_high"])
    ax.barh(y, steps["conversion"], xerr=err, color=sns.color_palette()[0], capsize=3)
    for yi, (_, row) in zip(y, steps.iterrows()):
        note = f"{int(row['users']):,} users ({row['conversion']:.1%})"
        if row["step"] > 1:
            note += f"  −{row['drop_off_rate']:.0%} from previous"
        inside = row["conversion"] > 0.5
        right = np.nanmax([row["conversion"], row["ci_high"], 0.0])
        ax.text(0.01 if inside else right + 0.02, yi, note, va="center", ha="left",
                color="white" if inside else "0.1", fontsize=9)
    ax.set_yticks(y, [shorten(f"{int(s)}. {name}", 60).replace(" | ", " |\n") for s, name in zip(steps["step"], steps["step_name"])])
    ax.set_xlim(0, 1)
    percent_axis(ax, "x")
    ax.set_xlabel("conversion from step 1 (95% CI)")
    ax.set_title("Funnel")
    ax.figure.tight_layout()
    return ax


def plot_session_durations(sessions: pd.DataFrame, ax: Axes | None = None, clip_s: float = 3600.0) -> Axes:
    """Histogram of session durations in minutes (zero-length sessions shown in the first bin, long ones clipped).

    A ``sessions`` column, when present, counts the sessions of each row's duration (an engine's histogram).
    """
    ax = ax or plt.subplots()[1]
    minutes = np.minimum(sessions["duration_s"].to_numpy(dtype=float), clip_s) / 60
    weights = sessions["sessions"].to_numpy(dtype=float) if "sessions" in sessions.columns else None
    ax.hist(minutes, bins=40, weights=weights, color=sns.color_palette()[0])
    ax.set_xlabel(f"session duration (minutes; longer than {clip_s / 60:.0f} shown at the right edge)")
    ax.set_ylabel("sessions")
    ax.set_title("Session duration")
    return ax


def transition_matrix(table: pd.DataFrame, top: int = 12) -> pd.DataFrame:
    """The heatmap's matrix: share from each source (rows) to each target (columns), at most ``top`` of each.

    Sources and targets are ranked by their transitions (``transitions`` column,
    else their summed share); the other targets are summed into ``(other)`` so a
    row still adds up, the other sources are left out, and columns that are zero
    everywhere are dropped (no empty heatmap columns).

    Examples
    --------
    >>> t = pd.DataFrame({"source": ["a", "a", "b"], "target": ["b", "c", "a"], "share": [0.75, 0.25, 1.0],
    ...                   "transitions": [3, 1, 2]})
    >>> transition_matrix(t, top=2).round(2).to_dict("index")
    {'a': {'b': 0.75, 'a': 0.0, '(other)': 0.25}, 'b': {'b': 0.0, 'a': 1.0, '(other)': 0.0}}
    """
    weight = table["transitions"] if "transitions" in table.columns else table["share"]
    sources = weight.groupby(table["source"], sort=False).sum().sort_values(ascending=False, kind="stable").index[:top]
    targets = weight.groupby(table["target"], sort=False).sum().sort_values(ascending=False, kind="stable").index[:top]
    rows = table[table["source"].isin(sources)]
    folded = rows.assign(target=rows["target"].where(rows["target"].isin(targets), "(other)"))
    wide = folded.pivot_table(index="source", columns="target", values="share", aggfunc="sum", fill_value=0.0)
    order = [t for t in targets if t in wide.columns] + (["(other)"] if "(other)" in wide.columns else [])
    wide = wide.reindex(index=[s for s in sources if s in wide.index], columns=order)
    wide = wide.loc[:, (wide > 0).any(axis=0)]
    wide.index.name, wide.columns.name = "source", "target"
    return wide


def plot_transitions(table: pd.DataFrame, ax: Axes | None = None, *, top: int = 12,
                     title: str = "Where users go next (share of each row)") -> Axes:
    """Flow heatmap: share of transitions from each source (rows) to each target (columns), the ``top`` of each.

    Cells under 0.5% are left blank, so the readable cells are the ones that matter.
    """
    wide = transition_matrix(table, top)
    ax = ax or plt.subplots(figsize=(max(6.0, 0.62 * len(wide.columns) + 3.0), max(3.0, 0.42 * len(wide) + 1.8)))[1]
    labels = np.where(wide.to_numpy() >= 0.005, np.vectorize(lambda v: f"{v:.0%}")(wide.to_numpy()), "")
    sns.heatmap(wide, annot=labels, fmt="", cmap="Blues", cbar=False, ax=ax, vmin=0, vmax=1,
                annot_kws={"fontsize": 8}, linewidths=0.5, linecolor="#eee")
    ax.set_xlabel("next")
    ax.set_ylabel("from")
    ax.set_title(title)
    tidy_labels(ax)
    ax.figure.tight_layout()
    return ax


def plot_group_comparison(comparison, metrics: Sequence[str] | None = None, *,
                          title: str | None = None) -> Figure:
    """One panel per metric: each ``segment`` group's value with its CI.

    Takes a :class:`metrics.GroupComparison` (from :func:`metrics.compare_groups`) or its ``table``.
    """
    comparison = getattr(comparison, "table", comparison)
    metrics = list(dict.fromkeys(comparison["metric"])) if metrics is None else list(metrics)
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        rows = comparison[comparison["metric"] == metric]
        x = np.arange(len(rows))
        err = error_extents(rows["value"], rows["ci_low"], rows["ci_high"])
        ax.errorbar(x, rows["value"], yerr=err, fmt="o", capsize=4)
        ax.set_xticks(x, [shorten(str(g), 20) for g in rows["segment"]])
        ax.set_xlim(-0.5, len(rows) - 0.5)
        ax.set_title(shorten(metric), fontsize=10)
        percent_axis(ax)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
