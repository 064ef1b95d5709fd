"""Per-user experiment metrics measured from each user's assignment time.

Definitions (calendar days in the report timezone ``tz``; day 0 = the
assignment day):

* ``converted_{C}d``: a conversion event at or after ``assigned_at`` on day 0
  or the ``C - 1`` following days (default C = 14).
* ``retained_d{k}``: any event on day k, from
  :func:`engagement_utils.retention.user_retention` with the assignment as anchor.
* ``events_{W}d``, ``active_days_{W}d``, ``purchases_{W}d`` (conversion
  events), ``revenue_{W}d``, ``sessions_{W}d`` (sessions starting in the
  window) and ``time_in_app_min_{W}d`` (their summed duration, minutes): over
  the post-assignment window ``[assigned_at, start of day W)`` (default W = 14).
* ``pre_*_{P}d``: the same counts over the pre-period ``[start of day -P, assigned_at)``
  (default P = 28), the covariates for CUPED.  Users new at assignment have 0.

A post-assignment value is NaN (censored) when its window has not been fully
observed at the data end, never 0.  Assigned users without any event are
kept, with zero activity.

Events on an engine (an :class:`engagement_utils.engines.IbisEvents`, e.g. ``engine: ibis`` in
a data set's events block) are scanned there: :func:`experiment_users` dispatches to
:func:`engagement_utils.engines.experiment_scans.experiment_users`, which returns the same frame
(:func:`experiment_frame` finishes both), and :func:`retention_by_variant` reads the engine's
retention flags.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats as sps

from .. import periods
from .._arrays import distinct
from ..core import engine_of
from ..retention import user_retention
from ..sessions import sessionize
from ..stats import wilson_ci
from ..validation import check_alpha, check_option

__all__ = ["METRIC_GROUPS", "experiment_users", "cumulative_by_day", "retention_by_variant", "default_covariate"]

METRIC_GROUPS = ("conversion", "retention", "activity", "sessions", "revenue")
_NS_PER_MIN = 60 * 10**9


def assigned_users(assignments: pd.DataFrame, experiment: str) -> pd.DataFrame:
    """The users of ``experiment`` in assignment order: ``user_id`` (object), ``variant`` (text), ``assigned_at`` (UTC).

    The first columns of :func:`experiment_users` on every engine; a missing ``assigned_at``,
    an unknown experiment or a user assigned twice is a ``ValueError`` naming the fix.

    Examples
    --------
    >>> asg = pd.DataFrame({"user_id": ["a", "b"], "experiment": "x", "variant": ["control", "b"],
    ...     "assigned_at": ["2024-01-02 10:00", "2024-01-02 12:00"]})
    >>> assigned_users(asg, "x")["assigned_at"].dt.hour.tolist()
    [10, 12]
    """
    missing = [c for c in ("user_id", "experiment", "variant", "assigned_at") if c not in assignments.columns]
    if missing:
        fix = " (add each user's assignment timestamp as 'assigned_at')" if missing == ["assigned_at"] else ""
        raise ValueError(f"assignments lack column(s) {missing}{fix}; load them with io.load_assignments")
    chosen = assignments.loc[assignments["experiment"].astype(str) == experiment]
    if chosen.empty:
        present = sorted(assignments["experiment"].astype(str).unique())
        raise ValueError(f"experiment {experiment!r} is not in the assignments; experiments present: {', '.join(present)}")
    if chosen["user_id"].duplicated().any():
        raise ValueError(f"some users appear more than once in experiment {experiment!r}; load assignments with io.load_assignments, which rejects this")
    if chosen["assigned_at"].isna().any():
        raise ValueError(f"{int(chosen['assigned_at'].isna().sum())} assignment(s) have no 'assigned_at'; fill or drop them")
    # `.array`, not `.to_numpy()`: a tz-aware column would become one Timestamp object per user.
    at = pd.to_datetime(chosen["assigned_at"], utc=True).array
    return pd.DataFrame({"user_id": chosen["user_id"].astype(object).to_numpy(),
                         "variant": chosen["variant"].astype(str).to_numpy(), "assigned_at": at})


def assignment_anchor(users: pd.DataFrame) -> pd.Series:
    """Each assigned user's ``assigned_at`` indexed by ``user_id``: the anchor of the retention flags after assignment.

    Examples
    --------
    >>> users = pd.DataFrame({"user_id": ["a"], "variant": ["b"], "assigned_at": pd.to_datetime(["2024-01-02 10:00"], utc=True)})
    >>> assignment_anchor(users).to_dict()
    {'a': Timestamp('2024-01-02 10:00:00+0000', tz='UTC')}
    """
    return pd.Series(users["assigned_at"].array, index=pd.Index(users["user_id"]))


def _owner(events: pd.DataFrame, user_ids: np.ndarray) -> np.ndarray:
    """Row of ``user_ids`` for each event (-1 for users outside the experiment), via the id categories."""
    ids = events["user_id"]
    if isinstance(ids.dtype, pd.CategoricalDtype):
        codes, categories = ids.cat.codes.to_numpy(), ids.cat.categories
    else:
        codes, categories = pd.factorize(ids)
    try:
        wanted, present = pa.array(user_ids), pa.array(categories)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: compare as Python objects
        wanted = present = None
    if wanted is not None and _text_or_same(wanted.type, present.type):
        # Arrow hashes the assigned ids once and probes every category: half the time of an object index
        position = pc.index_in(present, value_set=wanted).fill_null(-1).to_numpy()
    else:  # ids of different types never match (Arrow would cast 1 to "1")
        position = pd.Index(user_ids).get_indexer(pd.Index(categories).astype(object))
    # one int32 per event, and a trailing -1 that a missing id's code (-1) picks
    return np.append(position, -1).astype(np.int32)[codes]


def _text_or_same(a, b) -> bool:
    text = (pa.types.is_string, pa.types.is_large_string)
    return a == b or (any(t(a) for t in text) and any(t(b) for t in text))


def _counts(owner: np.ndarray, mask: np.ndarray, n: int, weights=None) -> np.ndarray:
    return np.bincount(owner[mask], weights=None if weights is None else weights[mask], minlength=n).astype(float)


def _distinct_days(owner: np.ndarray, day: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    span = int(day[mask].max() - day[mask].min() + 1) if mask.any() else 1
    keys = distinct(owner[mask].astype(np.int64) * span + (day[mask] - (day[mask].min() if mask.any() else 0)))
    return np.bincount(keys // span, minlength=n).astype(float)


def experiment_users(
    assignments: pd.DataFrame,
    events: pd.DataFrame,
    experiment: str,
    *,
    metrics: Sequence[str] | None = None,
    conversion_events: Sequence[str] = ("purchase",),
    conversion_days: int = 14,
    retention_days: Sequence[int] = (1, 7, 30),
    window_days: int = 14,
    pre_period_days: int = 28,
    tz: str = "UTC",
    end=None,
) -> pd.DataFrame:
    """One row per assigned user with variant and per-user metrics after (and before) assignment.

    Parameters
    ----------
    assignments : DataFrame
        From :func:`engagement_utils.io.load_assignments` (needs ``assigned_at``).
    events : DataFrame or IbisEvents
        Canonical events (all history, so pre-period covariates are complete), in memory or on an engine.
    experiment : str
        Experiment id in ``assignments["experiment"]``.
    metrics : sequence of str, optional
        Metric groups to compute, from :data:`METRIC_GROUPS`; default all.
        ``"sessions"`` sessionizes the experiment users' events (30-minute timeout).
    conversion_events : sequence of str, default ("purchase",)
    conversion_days : int, default 14
        Conversion window in calendar days, the assignment day included.
    retention_days : sequence of int, default (1, 7, 30)
    window_days : int, default 14
        Window of the count and mean metrics, in calendar days.
    pre_period_days : int, default 28
        Calendar days before the assignment day used for the CUPED covariates.
    tz : str, default "UTC"
        Timezone in which calendar days are cut.
    end : str or Timestamp, optional
        Data end (exclusive); default the last event, whose day is treated as in progress.

    Returns
    -------
    DataFrame
        The same on every engine (an engine source's scans run there; see the module docstring).
        ``user_id, variant, assigned_at`` and the metric columns described in
        the module docstring, in assignment order.  ``attrs["experiment"]``
        records the definitions used.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "a", "b", "b"],
    ...     "event": ["app_open", "app_open", "purchase", "app_open", "app_open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 09:00", "2024-01-02 10:00", "2024-01-03 10:05",
    ...                                  "2024-01-02 12:00", "2024-02-01 12:00"], utc=True)})
    >>> asg = pd.DataFrame({"user_id": ["a", "b"], "experiment": "x", "variant": ["control", "b"],
    ...     "assigned_at": pd.to_datetime(["2024-01-02 10:00", "2024-01-02 12:00"], utc=True)})
    >>> u = experiment_users(asg, ev, "x", metrics=["conversion", "retention", "activity"], retention_days=(1,))
    >>> u[["variant", "converted_14d", "retained_d1", "events_14d", "pre_events_28d"]].values.tolist()
    [['control', 1.0, 1.0, 2.0, 1.0], ['b', 0.0, 0.0, 1.0, 0.0]]
    """
    if engine_of(events) == "ibis":
        from ..engines import experiment_scans

        return experiment_scans.experiment_users(
            assignments, events, experiment, metrics=metrics, conversion_events=conversion_events,
            conversion_days=conversion_days, retention_days=retention_days, window_days=window_days,
            pre_period_days=pre_period_days, tz=tz, end=end)
    groups = metric_groups(metrics, conversion_days=conversion_days, window_days=window_days, pre_period_days=pre_period_days)
    for column in ("user_id", "timestamp", "event"):
        if column not in events.columns:
            raise ValueError(f"events lack column {column!r}; load them with io.load_events")
    users = assigned_users(assignments, experiment)
    n = len(users)
    assign_day = periods.period_ordinal(users["assigned_at"], "day", tz)
    assign_ns = users["assigned_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    end_ts = None
    if end is not None:
        end_ts = pd.Timestamp(end)
        end_ts = end_ts.tz_localize("UTC") if end_ts.tzinfo is None else end_ts
    first_incomplete = periods.first_incomplete_ordinal(events["timestamp"].max() if end is None else end_ts, "day", tz)
    # Peak memory: retention (its own pass over all events) runs before the per-event
    # arrays below exist, and the per-event arrays are freed before sessionizing.
    flags = None
    if "retention" in groups:
        flags = user_retention(events, days=tuple(retention_days), anchor=assignment_anchor(users),
                               tz=tz, end=end)

    owner = _owner(events, users["user_id"].to_numpy())
    if end_ts is not None:
        owner[events["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64) >= end_ts.tz_convert("UTC").value] = -1
    keep = owner >= 0
    needed = [c for c in ("user_id", "timestamp", "event", "revenue") if c in events.columns]
    ev = events.loc[keep, needed]
    owner = owner[keep]
    del keep
    ts = ev["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    rel_day = periods.period_ordinal(ev["timestamp"], "day", tz) - assign_day[owner]
    after = ts >= assign_ns[owner]
    del ts
    post = after & (rel_day < window_days)
    pre = ~after & (rel_day >= -pre_period_days)
    is_conversion = ev["event"].isin(list(conversion_events)).to_numpy()

    hits = _counts(owner, after & (rel_day < conversion_days) & is_conversion, n) if "conversion" in groups else None
    windowed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if "activity" in groups:
        windowed["events"] = (_counts(owner, post, n), _counts(owner, pre, n))
        windowed["active_days"] = (_distinct_days(owner, rel_day, post, n), _distinct_days(owner, rel_day, pre, n))
    if "revenue" in groups:
        windowed["purchases"] = (_counts(owner, post & is_conversion, n), _counts(owner, pre & is_conversion, n))
        revenue = ev["revenue"].fillna(0).to_numpy(dtype=float) if "revenue" in ev.columns else np.zeros(len(ev))
        windowed["revenue"] = (_counts(owner, post, n, revenue), _counts(owner, pre, n, revenue))
        del revenue
    del owner, rel_day, after, post, pre, is_conversion
    if "sessions" in groups:
        # Only start, duration and user are read back: the other columns would only be copied.
        sessions = sessionize(ev[["user_id", "timestamp", "event"]]).sessions
        del ev
        s_owner = _owner(sessions, users["user_id"].to_numpy())
        s_ns = sessions["start"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        s_day = periods.period_ordinal(sessions["start"], "day", tz) - assign_day[s_owner]
        s_after = s_ns >= assign_ns[s_owner]
        s_post, s_pre = s_after & (s_day < window_days), ~s_after & (s_day >= -pre_period_days)
        minutes = sessions["duration_s"].to_numpy(dtype=float) / 60
        windowed["sessions"] = (_counts(s_owner, s_post, n), _counts(s_owner, s_pre, n))
        windowed["time_in_app_min"] = (_counts(s_owner, s_post, n, minutes), _counts(s_owner, s_pre, n, minutes))
    return experiment_frame(users, experiment, first_incomplete, conversions=hits, flags=flags, windowed=windowed,
                            conversion_events=conversion_events, conversion_days=conversion_days, window_days=window_days,
                            pre_period_days=pre_period_days, tz=tz)


def metric_groups(metrics: Sequence[str] | None, *, conversion_days: int, window_days: int, pre_period_days: int) -> list[str]:
    """The metric groups to compute (default all of :data:`METRIC_GROUPS`), after checking the day counts.

    Examples
    --------
    >>> metric_groups(["conversion"], conversion_days=14, window_days=14, pre_period_days=28)
    ['conversion']
    """
    groups = [check_option("metrics", g, METRIC_GROUPS) for g in (METRIC_GROUPS if metrics is None else metrics)]
    for name, value in (("conversion_days", conversion_days), ("window_days", window_days), ("pre_period_days", pre_period_days)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name}={value!r} must be a whole number of days >= 1")
    return groups


def experiment_frame(
    users: pd.DataFrame,
    experiment: str,
    first_incomplete: int,
    *,
    conversions: np.ndarray | None,
    flags: pd.DataFrame | None,
    windowed: dict,
    conversion_events: Sequence[str],
    conversion_days: int,
    window_days: int,
    pre_period_days: int,
    tz: str,
) -> pd.DataFrame:
    """The frame :func:`experiment_users` returns, from per-user counts in assignment order (every engine ends here).

    ``users`` is :func:`assigned_users`' frame; ``conversions`` the conversion events per user
    in the conversion window (None: not computed); ``flags`` :func:`~engagement_utils.retention.user_retention`'s
    frame anchored at the assignments; ``windowed`` maps a metric name to its (post-window, pre-period)
    arrays.  A post-assignment value whose window ends on or after the day ``first_incomplete``
    (a day ordinal) is censored: NaN.

    Examples
    --------
    >>> users = pd.DataFrame({"user_id": ["a", "b"], "variant": ["control", "b"],
    ...     "assigned_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-09 10:00"], utc=True)})
    >>> first_incomplete = int(periods.period_ordinal(pd.Series(pd.to_datetime(["2024-01-15"], utc=True)), "day", "UTC")[0])
    >>> out = experiment_frame(users, "x", first_incomplete, conversions=np.array([2.0, 0.0]), flags=None,
    ...     windowed={"events": (np.array([5.0, 3.0]), np.array([0.0, 1.0]))}, conversion_events=["purchase"],
    ...     conversion_days=7, window_days=7, pre_period_days=28, tz="UTC")
    >>> out[["converted_7d", "events_7d", "pre_events_28d"]].values.tolist()
    [[1.0, 5.0, 0.0], [nan, nan, 1.0]]
    """
    assign_day = periods.period_ordinal(users["assigned_at"], "day", tz)
    columns: dict[str, np.ndarray] = {}
    if conversions is not None:
        conversion_open = assign_day + conversion_days - 1 >= first_incomplete
        columns[f"converted_{conversion_days}d"] = np.where(conversion_open, np.nan, (conversions > 0).astype(float))
    if flags is not None:
        for column in flags.columns.drop(["user_id", "anchor"]):
            columns[column] = flags[column].to_numpy()
    window_open = assign_day + window_days - 1 >= first_incomplete
    for name, (post_values, _) in windowed.items():
        columns[f"{name}_{window_days}d"] = np.where(window_open, np.nan, post_values)
    for name, (_, pre_values) in windowed.items():
        columns[f"pre_{name}_{pre_period_days}d"] = pre_values
    out = users.copy()
    out = pd.concat([out, pd.DataFrame(columns, index=out.index)], axis=1)
    out.attrs["experiment"] = {
        "experiment": experiment, "tz": tz, "conversion_events": list(conversion_events),
        "conversion_days": conversion_days, "window_days": window_days, "pre_period_days": pre_period_days,
        "first_incomplete_day": str(periods.ordinal_to_start([first_incomplete], "day")[0].date()),
    }
    return out


def default_covariate(metric: str, columns) -> str | None:
    """The pre-period column used as CUPED covariate for ``metric`` (None if there is none).

    Counts use their own pre-period value; conversion uses pre-period
    purchases and retention pre-period active days (the pre-period analogue of
    "being active").

    Examples
    --------
    >>> default_covariate("revenue_14d", ["revenue_14d", "pre_revenue_28d"])
    'pre_revenue_28d'
    >>> default_covariate("retained_d7", ["retained_d7", "pre_active_days_28d"])
    'pre_active_days_28d'
    """
    if metric.startswith("converted_"):
        base = "purchases"
    elif metric.startswith("retained_"):
        base = "active_days"
    else:
        base = metric.rsplit("_", 1)[0]
    matches = sorted(c for c in columns if str(c).startswith(f"pre_{base}_") and str(c)[len(base) + 5:-1].isdigit())
    return matches[0] if matches else None


def cumulative_by_day(
    users: pd.DataFrame,
    metric: str,
    *,
    variant: str = "variant",
    tz: str = "UTC",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Cumulative per-user mean of ``metric`` by variant over the assignment days of the test.

    Day d's value is the mean over users assigned on or before day d (censored
    values left out), with a normal-approximation ``1 - alpha`` CI
    :math:`\\bar y \\pm z\\,s/\\sqrt n`.  A line that settles shows the
    estimate has stabilised; early swings are expected.

    Returns
    -------
    DataFrame
        ``date, variant, users, value, ci_low, ci_high`` (one row per assignment day × variant).

    Examples
    --------
    >>> u = pd.DataFrame({"variant": ["control", "b", "control", "b"], "converted": [0.0, 1.0, 1.0, 1.0],
    ...     "assigned_at": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-02"], utc=True)})
    >>> cumulative_by_day(u, "converted")[["date", "variant", "users", "value"]].values.tolist()
    [['2024-01-01', 'b', 1, 1.0], ['2024-01-01', 'control', 1, 0.0], ['2024-01-02', 'b', 2, 1.0], ['2024-01-02', 'control', 2, 0.5]]
    """
    for column in (variant, metric, "assigned_at"):
        if column not in users.columns:
            raise ValueError(f"column {column!r} is not in the data; pass the frame from experiment_users")
    z = float(sps.norm.ppf(1 - check_alpha(alpha) / 2))
    valid = users[metric].notna().to_numpy()
    y = users[metric].to_numpy(dtype=float)[valid]
    frame = pd.DataFrame({
        "date": periods.period_start(users["assigned_at"], "day", tz).dt.strftime("%Y-%m-%d").to_numpy()[valid],
        "variant": users[variant].astype(str).to_numpy()[valid], "y": y, "y2": y**2, "users": 1,
    })
    daily = frame.groupby(["variant", "date"], sort=True)[["users", "y", "y2"]].sum()
    daily = daily.unstack("variant", fill_value=0).stack("variant", future_stack=True).swaplevel().sort_index()
    cum = daily.groupby(level="variant").cumsum()
    n = cum["users"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = cum["y"].to_numpy() / n
        var = np.where(n > 1, (cum["y2"].to_numpy() - n * mean**2) / (n - 1), np.nan)
        half = z * np.sqrt(np.maximum(var, 0) / n)
    out = pd.DataFrame({"date": cum.index.get_level_values("date"), "variant": cum.index.get_level_values("variant"),
                        "users": n.astype(np.int64), "value": mean, "ci_low": mean - half, "ci_high": mean + half})
    return out[out["users"] > 0].sort_values(["date", "variant"], ignore_index=True)


def retention_by_variant(
    assignments: pd.DataFrame,
    events: pd.DataFrame,
    experiment: str,
    *,
    days: Sequence[int] = tuple(range(31)),
    tz: str = "UTC",
    end=None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Day-k retention after assignment by variant (k = 0..30 by default) with Wilson CIs.

    Day k is the k-th calendar day after the assignment day (retention's
    ``user_retention`` with the assignment as anchor); users whose day k is
    not yet complete are left out of that day's denominator.  With ``events`` on an engine
    (:class:`engagement_utils.engines.IbisEvents`) ``user_retention`` scans there and returns
    the same flags (the distinct user × day offsets come back, not the events), so the table
    is the same.

    Returns
    -------
    DataFrame
        ``variant, day, users, retained, rate, ci_low, ci_high``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "b"], "event": "app_open",
    ...     "timestamp": pd.to_datetime(["2024-01-01 09:00", "2024-01-02 10:00", "2024-01-01 12:00", "2024-01-05 12:00"], utc=True)})
    >>> asg = pd.DataFrame({"user_id": ["a", "b"], "experiment": "x", "variant": ["control", "b"],
    ...     "assigned_at": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 12:00"], utc=True)})
    >>> retention_by_variant(asg, ev, "x", days=(1, 2))[["variant", "day", "users", "rate"]].values.tolist()
    [['b', 1, 1, 0.0], ['b', 2, 1, 0.0], ['control', 1, 1, 1.0], ['control', 2, 1, 0.0]]
    """
    users = assigned_users(assignments, experiment)
    flags = user_retention(events, days=tuple(days), anchor=assignment_anchor(users),
                           tz=tz, end=end)
    value_columns = list(flags.columns.drop(["user_id", "anchor"]))
    long = flags[value_columns].set_axis(list(days), axis=1).assign(variant=users["variant"].to_numpy())
    long = long.melt(id_vars="variant", var_name="day", value_name="retained").dropna(subset=["retained"])
    table = long.groupby(["variant", "day"], sort=True)["retained"].agg(["count", "sum"]).reset_index()
    table = table.rename(columns={"count": "users", "sum": "retained"})
    table["day"] = table["day"].astype(np.int64)
    table["retained"] = table["retained"].astype(np.int64)
    table["rate"] = table["retained"] / table["users"]
    table["ci_low"], table["ci_high"] = wilson_ci(table["retained"], table["users"], alpha)
    return table
