"""Charts of the data overview report."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from ._style import percent_axis, tidy_labels

__all__ = ["plot_activity_over_time", "plot_value_mix"]


def plot_activity_over_time(per_period: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Events (bars, left axis) and active users (line, right axis) per period.

    Takes the frame returned by :func:`engagement_utils.overview.events_per_period`.
    """
    ax = ax or plt.subplots()[1]
    ax.bar(per_period["period"], per_period["events"], color=sns.color_palette()[0], alpha=0.6, label="events", width=0.9)
    ax.set_ylabel("events")
    twin = ax.twinx()
    twin.plot(per_period["period"], per_period["users"], color=sns.color_palette()[1], label="active users")
    twin.set_ylabel("active users")
    twin.grid(False)
    twin.set_ylim(bottom=0)
    handles = [h for a in (ax, twin) for h in a.get_legend_handles_labels()[0]]
    ax.legend(handles, [h.get_label() for h in handles], loc="upper left")
    ax.set_xlabel("")
    ax.figure.autofmt_xdate()
    return ax


def plot_value_mix(mix: pd.DataFrame, title: str, share: str = "event_share", ax: Axes | None = None) -> Axes:
    """Horizontal bars of the shares in a :func:`engagement_utils.overview.value_mix` frame."""
    if share not in ("event_share", "user_share"):
        raise ValueError(f"share={share!r} is not supported; choose 'event_share' or 'user_share'")
    ax = ax or plt.subplots(figsize=(7, 0.35 * len(mix) + 1))[1]
    sns.barplot(data=mix, y="value", x=share, ax=ax, color=sns.color_palette()[0], orient="h")
    percent_axis(ax, "x")
    ax.set_xlabel("share of events" if share == "event_share" else "share of users")
    ax.set_ylabel("")
    ax.set_title(title)
    return tidy_labels(ax)
