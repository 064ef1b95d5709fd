"""The experiment over time: cumulative comparisons with always-valid intervals.

Each assignment day's cumulative sufficient statistics (sums add up over days) give the
comparison as it would have been seen that day: the always-valid confidence sequence and
p-value (:func:`~.inference.sequential_interval`), which may be read at every look, next
to the fixed-horizon interval, which is valid only once, at the planned end.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import periods
from .compare import compare_arms, pooled_theta
from .sufficient import SUM_COLUMNS, summarize

__all__ = ["cumulative_comparison"]


def cumulative_comparison(
    users: pd.DataFrame,
    metric: str,
    *,
    planned_n: int | None = None,
    variant: str = "variant",
    control: str = "control",
    declared=None,
    covariate: str | None = None,
    tz: str = "UTC",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Cumulative difference of ``metric`` by assignment day, each variant against the control.

    Parameters
    ----------
    users : DataFrame
        One row per user with ``variant``, ``assigned_at`` and the metric.
    metric : str
    planned_n : int, optional
        Planned total users (tunes the confidence sequence); default the users observed.
    declared : mapping, optional
        Declared metric kinds (see :func:`~.sufficient.summarize`).
    covariate : str, optional
        CUPED covariate (θ re-estimated each day from that day's cumulative sums).
    tz : str
        Timezone of the calendar days.
    alpha : float

    Returns
    -------
    DataFrame
        ``date, variant, users, difference, ci_low, ci_high, p_value`` (always valid) and
        ``fixed_ci_low, fixed_ci_high, fixed_p_value`` (valid only at the planned end).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> u = pd.DataFrame({"variant": rng.choice(["control", "b"], 4000), "converted": (rng.random(4000) < 0.2).astype(int),
    ...                   "assigned_at": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 14, 4000), "D")})
    >>> c = cumulative_comparison(u, "converted")
    >>> len(c), bool(((c["ci_high"] - c["ci_low"]) > (c["fixed_ci_high"] - c["fixed_ci_low"])).all())
    (14, True)
    """
    if "assigned_at" not in users.columns:
        raise ValueError("a cumulative view needs each user's 'assigned_at' (per-user tables without it have no time axis)")
    day = periods.period_start(users["assigned_at"], "day", tz).dt.strftime("%Y-%m-%d")
    frame = users.assign(_day=day.to_numpy())
    s = summarize(frame, [metric], declared=declared, covariates={metric: covariate} if covariate else None,
                  variant=variant, segment="_day")
    kind = s.metrics[0].kind
    sums = s.table.set_index(["variant", "segment"])[list(SUM_COLUMNS)].sort_index()
    cum = sums.groupby(level="variant").cumsum()
    days = sorted(set(s.table["segment"]))
    total = cum.groupby(level="segment")["n"].sum().reindex(days).to_numpy()
    planned = planned_n or int(len(users))
    c = {k: cum.loc[control, k].reindex(days).to_numpy(dtype=float) for k in SUM_COLUMNS}
    rows = []
    for other in [v for v in s.variants if v != control]:
        t = {k: cum.loc[other, k].reindex(days).to_numpy(dtype=float) for k in SUM_COLUMNS}
        theta, x_pool = pooled_theta(c, t) if covariate else (np.zeros(len(days)), np.zeros(len(days)))
        seq = compare_arms(c, t, kind, method="sequential", alpha=alpha, theta=theta, x_pool=x_pool, planned_n=planned)
        fixed = compare_arms(c, t, kind, alpha=alpha, theta=theta, x_pool=x_pool)
        rows.append(pd.DataFrame({"date": days, "variant": other, "users": total.astype(np.int64),
                                  "difference": seq["difference"], "ci_low": seq["ci_low"], "ci_high": seq["ci_high"],
                                  "p_value": seq["p_value"], "fixed_ci_low": fixed["ci_low"],
                                  "fixed_ci_high": fixed["ci_high"], "fixed_p_value": fixed["p_value"]}))
    return pd.concat(rows, ignore_index=True)
