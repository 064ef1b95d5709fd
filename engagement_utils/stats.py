"""Small statistical building blocks shared by every analysis module."""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["wilson_ci"]


def wilson_ci(successes, trials, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for binomial proportions (vectorized).

    .. math:: \\frac{\\hat p + z^2/2n \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/4n^2}}{1 + z^2/n}

    Rows with ``trials == 0`` get NaN bounds.  Matches
    ``statsmodels.stats.proportion.proportion_confint(method="wilson")``.

    Examples
    --------
    >>> lo, hi = wilson_ci(41, 100)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.3187, 0.508)
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r} must be between 0 and 1, e.g. 0.95")
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        lo, hi = centre - half, centre + half
    empty = n <= 0
    return np.where(empty, np.nan, np.clip(lo, 0, 1)), np.where(empty, np.nan, np.clip(hi, 0, 1))
