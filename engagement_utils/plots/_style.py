"""Shared look of every chart, so reports are consistent and deterministic."""

from __future__ import annotations

import matplotlib
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import Formatter, PercentFormatter

PALETTE = "colorblind"


def set_theme() -> None:
    """Apply the report theme (seaborn whitegrid, colour-blind palette, fixed figure size).

    Called by notebooks in their setup cell; it also pins matplotlib's hash salt
    so that SVG/PNG output is reproducible run to run.
    """
    matplotlib.rcParams["svg.hashsalt"] = "engagement"
    sns.set_theme(style="whitegrid", palette=PALETTE, rc={"figure.figsize": (9, 4.5), "figure.dpi": 100})


class TickPercentFormatter(Formatter):
    """Percent tick labels with the fewest decimals that show every tick exactly (2.5% stays 2.5%, never "2%").

    Examples
    --------
    >>> f = TickPercentFormatter()
    >>> f.set_locs([0.0, 0.025, 0.05]); f(0.025)
    '2.5%'
    >>> f.set_locs([0.0, 0.2, 0.4]); f(0.2)
    '20%'
    """

    def __init__(self, xmax: float = 1.0, most: int = 3):
        self.xmax, self.most, self.decimals = xmax, most, 0

    def set_locs(self, locs) -> None:
        values = np.asarray(locs, dtype=float) * 100 / self.xmax
        values = values[np.isfinite(values)]
        self.decimals = next((d for d in range(self.most + 1)
                              if np.allclose(np.round(values, d), values, rtol=0, atol=1e-9)), self.most)

    def __call__(self, x, pos=None) -> str:
        return f"{x * 100 / self.xmax:.{self.decimals}f}%"


def percent_axis(ax: Axes, axis: str = "y", xmax: float = 1.0, decimals: int | None = None) -> Axes:
    """Format an axis holding shares in [0, 1] as percentages.

    By default the ticks get the fewest decimals that show each of them exactly
    (:class:`TickPercentFormatter`); ``decimals`` fixes the number instead.
    """
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(TickPercentFormatter(xmax) if decimals is None
                               else PercentFormatter(xmax=xmax, decimals=decimals))
    return ax


def error_extents(value, low, high, scale: float = 1.0) -> np.ndarray:
    """Distances from each value to its interval bounds, as matplotlib's ``xerr`` / ``yerr`` want them.

    Interval bounds computed in floating point can land a hair on the wrong
    side of the estimate (a Wilson upper bound of 0.9999999999999999 for a
    100% rate), and a missing bound is NaN; matplotlib refuses negative
    extents, so both are drawn as no error bar on that side (clipped at 0).

    Parameters
    ----------
    value, low, high : array-like
        Estimates and their interval bounds (same length).
    scale : float
        Factor applied to the extents (e.g. 100 for percentage points).

    Returns
    -------
    ndarray of shape (2, n)
        Row 0: ``value - low``, row 1: ``high - value``, both ``>= 0``.

    Examples
    --------
    >>> error_extents([1.0, 0.5], [0.8, 0.4], [0.9999999999999999, 0.6]).round(3).tolist()
    [[0.2, 0.1], [0.0, 0.1]]
    """
    value, low, high = (np.asarray(a, dtype=float) for a in (value, low, high))
    extents = scale * np.vstack([value - low, high - value])
    return np.clip(np.nan_to_num(extents, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)


def shorten(text: object, limit: int = 40) -> str:
    """A label cut to ``limit`` characters (with "…"), so a huge data value cannot stall the chart layout.

    Examples
    --------
    >>> shorten("x" * 50, 10), shorten("ios")
    ('xxxxxxxxx…', 'ios')
    """
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tidy_labels(ax: Axes, limit: int = 40) -> Axes:
    """Shorten every tick label, legend entry and the title of a chart (values from data can be any length)."""
    for axis in (ax.xaxis, ax.yaxis):
        labels = axis.get_ticklabels()
        if any(len(label.get_text()) > limit for label in labels):
            axis.set_ticks(axis.get_ticklocs(), [shorten(label.get_text(), limit) for label in labels])
    legend = ax.get_legend()
    if legend is not None:
        for text in legend.get_texts():
            text.set_text(shorten(text.get_text(), limit))
        if legend.get_title() is not None:
            legend.get_title().set_text(shorten(legend.get_title().get_text(), limit))
    ax.set_title(shorten(ax.get_title(), 2 * limit))
    return ax


_LEGEND_WORDS = {"True": "yes", "False": "no", "true": "yes", "false": "no", "n_period": "N-period"}


def legend_label(value: object) -> str:
    """A group value as a legend reads it: yes / no for booleans, words for the measure kinds.

    Examples
    --------
    >>> legend_label(True), legend_label("n_period"), legend_label("ios")
    ('yes', 'N-period', 'ios')
    """
    text = str(value)
    return _LEGEND_WORDS.get(text, text)
