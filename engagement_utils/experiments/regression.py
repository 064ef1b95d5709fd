"""Regression adjustment with several pre-period covariates (multivariate CUPED).

.. math:: y^{adj} = y - (x - \\bar x)^\\top\\theta, \\quad
          \\theta = S_{xx}^{-1} S_{xy}

with the (centred) cross products over all users of all arms, so the adjustment is the same
function in every arm and the expected difference between arms is unchanged; the variance
shrinks by the R² of the pooled regression. With one covariate it is CUPED exactly. The
adjusted column is an ordinary metric: :func:`~.sufficient.summarize` and
:func:`~.analyze.analyze_experiment` take it like any other (declare it ``"mean"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["regression_adjusted"]


def regression_adjusted(users: pd.DataFrame, metric: str, covariates: Sequence[str]) -> tuple[pd.Series, pd.Series]:
    """The metric adjusted for several covariates, and the coefficients θ.

    Users without a metric value keep NaN; a missing covariate value is an error.

    Examples
    --------
    >>> u = pd.DataFrame({"y": [3.0, 5.0, 7.0, 6.0], "a": [1.0, 2.0, 3.0, 2.0], "b": [0.0, 1.0, 0.0, 1.0]})
    >>> adjusted, theta = regression_adjusted(u, "y", ["a", "b"])
    >>> theta.round(3).to_dict(), adjusted.round(3).tolist()
    ({'a': 2.0, 'b': 0.5}, [5.25, 4.75, 5.25, 5.75])
    """
    missing = [c for c in [metric, *covariates] if c not in users.columns]
    if missing:
        raise ValueError(f"column(s) {missing} are not in the data; available: {', '.join(map(str, users.columns))}")
    y = users[metric].to_numpy(dtype=float)
    valid = ~np.isnan(y)
    x = users[list(covariates)].to_numpy(dtype=float)
    if np.isnan(x[valid]).any():
        raise ValueError(f"covariates {list(covariates)} have missing values for users with a {metric!r} value; fill them")
    xc = x[valid] - x[valid].mean(axis=0)
    yc = y[valid] - y[valid].mean()
    theta, *_ = np.linalg.lstsq(xc, yc, rcond=None)
    out = np.full(len(y), np.nan)
    out[valid] = y[valid] - xc @ theta
    return pd.Series(out, index=users.index, name=f"{metric}_adjusted"), pd.Series(theta, index=list(covariates), name="theta")
