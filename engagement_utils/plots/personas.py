"""Persona charts: sizes, feature heatmap, PCA projection, retention per persona, RFM grid, silhouette.

Each function draws a frame returned by :mod:`engagement_utils.personas` (or the
result object holding it as ``.table``) and returns the matplotlib ``Axes``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from ._style import legend_label, percent_axis, tidy_labels

__all__ = [
    "plot_persona_sizes",
    "plot_persona_heatmap",
    "plot_persona_projection",
    "plot_persona_retention",
    "plot_rfm_grid",
    "plot_silhouette",
]


def _frame(result) -> pd.DataFrame:
    """The frame of a result object (its ``.table``), or the frame itself."""
    return getattr(result, "table", result)


def plot_persona_sizes(cards, ax: Axes | None = None) -> Axes:
    """Horizontal bars of each persona's share of users, from :func:`personas.describe_personas`."""
    cards = _frame(cards)
    ax = ax or plt.subplots(figsize=(9, 0.6 * len(cards) + 1.5))[1]
    sns.barplot(x=cards["share"].to_numpy(), y=cards["name"].to_numpy(), orient="h", ax=ax, color=sns.color_palette()[0])
    for patch, users in zip(ax.patches, cards["users"]):
        ax.annotate(f" {users:,}", (patch.get_width(), patch.get_y() + patch.get_height() / 2), va="center")
    percent_axis(ax, "x")
    ax.set_xlabel("share of users")
    ax.set_ylabel("")
    ax.set_title("Persona sizes")
    return tidy_labels(ax)


def plot_persona_heatmap(zscores: pd.DataFrame, names: pd.Series | None = None, ax: Axes | None = None) -> Axes:
    """Persona × feature standardized differences, from :func:`personas.feature_zscores`."""
    frame = zscores.rename(index=dict(names)) if names is not None else zscores
    ax = ax or plt.subplots(figsize=(max(7, 0.8 * frame.shape[1] + 3), 0.6 * len(frame) + 2))[1]
    limit = max(1.0, float(frame.abs().to_numpy().max()))
    sns.heatmap(frame, cmap="RdBu_r", center=0, vmin=-limit, vmax=limit, annot=True, fmt=".1f",
                cbar_kws={"label": "SD from everyone else"}, ax=ax)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title("What sets each persona apart (standardized difference)")
    return tidy_labels(ax)


def plot_persona_projection(projection, names: pd.Series | None = None, ax: Axes | None = None) -> Axes:
    """2-D PCA scatter coloured by persona, from :func:`personas.project_personas` (a ``Projection``)."""
    explained = list(getattr(projection, "explained_variance", []))
    projection = _frame(projection)
    ax = ax or plt.subplots(figsize=(8, 6))[1]
    hue = projection["persona"].map(dict(names)) if names is not None else projection["persona"].astype(str)
    order = list(dict.fromkeys(names.tolist())) if names is not None else sorted(hue.unique())
    sns.scatterplot(x=projection["pc1"], y=projection["pc2"], hue=hue, hue_order=order, s=10, alpha=0.5,
                    linewidth=0, ax=ax)
    labels = [f"PC{i + 1}" + (f" ({v:.0%} of variance)" if i < len(explained) else "") for i, v in
              zip(range(2), explained + [None] * 2)]
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.legend(title="persona", markerscale=2, frameon=True)
    ax.set_title("Users in two dimensions (PCA of the clustering features)")
    return tidy_labels(ax)


def plot_persona_retention(curve: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Day-k retention per persona with confidence bands, from ``persona_outcomes(...).retention``."""
    ax = ax or plt.subplots()[1]
    palette = sns.color_palette(n_colors=curve["segment"].nunique())
    for color, (segment, part) in zip(palette, curve.groupby("segment", sort=False, observed=True)):
        ax.plot(part["period"], part["rate"], marker="o", markersize=3, color=color, label=legend_label(segment))
        ax.fill_between(part["period"], part["ci_low"], part["ci_high"], color=color, alpha=0.15, linewidth=0)
    percent_axis(ax)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("days after first visit")
    ax.set_ylabel("retained")
    ax.legend(title="persona", frameon=True)
    ax.set_title("Retention by persona (day k, pooled cohorts)")
    return tidy_labels(ax)


def plot_rfm_grid(grid: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Users per recency × frequency score cell, from :func:`personas.rfm_grid`."""
    table = grid.pivot(index="R", columns="F", values="users").sort_index(ascending=False)
    ax = ax or plt.subplots(figsize=(7, 5.5))[1]
    sns.heatmap(table, cmap="Blues", annot=True, fmt=",d", cbar_kws={"label": "users"}, ax=ax)
    ax.set_xlabel("frequency score (F)")
    ax.set_ylabel("recency score (R, 5 = most recent)")
    ax.set_title("RFM grid: users by recency and frequency score")
    return ax


def plot_silhouette(silhouette: pd.DataFrame, chosen_k: int | None = None, ax: Axes | None = None) -> Axes:
    """Mean silhouette by number of personas k, from ``segment_users(...).silhouette``."""
    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    ax.plot(silhouette["k"], silhouette["silhouette"], marker="o")
    if chosen_k is not None:
        ax.axvline(chosen_k, color="0.4", linestyle="--", label=f"k used = {chosen_k}")
        ax.legend(frameon=True)
    ax.set_xlabel("number of personas k")
    ax.set_ylabel("mean silhouette")
    ax.set_xticks(silhouette["k"])
    ax.set_title("How well separated the personas are, by k")
    return ax
