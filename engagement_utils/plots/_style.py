"""Shared look of every chart, so reports are consistent and deterministic."""

from __future__ import annotations

import matplotlib
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

PALETTE = "colorblind"


def set_theme() -> None:
    """Apply the report theme (seaborn whitegrid, colour-blind palette, fixed figure size).

    Called by notebooks in their setup cell; it also pins matplotlib's hash salt
    so that SVG/PNG output is reproducible run to run.
    """
    matplotlib.rcParams["svg.hashsalt"] = "engagement"
    sns.set_theme(style="whitegrid", palette=PALETTE, rc={"figure.figsize": (9, 4.5), "figure.dpi": 100})


def percent_axis(ax: Axes, axis: str = "y", xmax: float = 1.0, decimals: int = 0) -> Axes:
    """Format an axis holding shares in [0, 1] as percentages."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(PercentFormatter(xmax=xmax, decimals=decimals))
    return ax
