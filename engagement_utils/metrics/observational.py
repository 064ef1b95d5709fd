"""Observational group comparisons: per-user outcomes, raw and stratified group differences, message reach.

Groups compared here (users with or without onboarding, reached by more or
fewer channels, ...) were not randomised: :func:`compare_groups` shows each
gap raw and within strata of the columns given, and :func:`comparison_caveat`
says in words what that can and cannot show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from pandas.api.extensions import take
from scipy import stats as sps

from .. import periods
from .._arrays import distinct
from ..core import EventLog, engine_of, segment_labels, sorted_labels
from ..inputs import as_log, check_column
from ..retention import user_retention
from ..stats import wilson_ci
from ..validation import check_alpha, check_option
from .conversion import conversion_flags
from .people import rate_with_ci, user_frame

__all__ = ["DEFAULT_INTERACTIONS", "GroupComparison", "user_outcomes", "compare_groups", "comparison_caveat",
           "interaction_rates"]

DEFAULT_INTERACTIONS = {
    "in_app_message": ("in_app_message_shown", "in_app_message_clicked"),
    "survey": ("survey_shown", "survey_answered"),
}
COMPARISON_COLUMNS = ["metric", "segment", "users", "value", "ci_low", "ci_high", "difference", "diff_ci_low",
                      "diff_ci_high", "adjusted_difference", "adj_ci_low", "adj_ci_high", "strata_share"]


def user_outcomes(
    events: "pd.DataFrame | EventLog",
    users: pd.DataFrame | None = None,
    *,
    properties: Sequence[str] = (),
    retention_days: Sequence[int] = (1, 7, 30),
    conversion_events="purchase",
    conversion_days: Sequence[int] = (7, 30),
    horizon_days: int = 30,
    tz: str | None = None,
    end=None,
) -> pd.DataFrame:
    """Per-user engagement outcomes measured from each user's first day, for group comparisons.

    Every outcome is measured over the same span after install, so groups
    that joined at different times compare fairly; outcomes not yet fully
    observed are NaN.

    * ``engaged_{h}d``: active on at least one of days 1..h-1 after the
      install day (the engagement rate of the user's first h days);
    * ``stickiness_{h}d``: active days among days 0..h-1 / h — the group mean
      equals the cohort's average DAU / MAU over its first h days;
    * ``retained_d{k}``: :func:`engagement_utils.retention.user_retention`;
    * ``converted_{w}d``: a conversion event on calendar days 0..w-1.

    Returns
    -------
    DataFrame
        ``user_id``, the ``properties``, and the outcome columns.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["open", "purchase", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"], utc=True)})
    >>> o = user_outcomes(ev, retention_days=(1,), conversion_days=(2,), horizon_days=2, end="2024-01-03")
    >>> o[["engaged_2d", "stickiness_2d", "retained_d1", "converted_2d"]].values.tolist()
    [[1.0, 1.0, 1.0, 1.0], [0.0, 0.5, 0.0, 0.0]]
    """
    if int(horizon_days) < 2:
        raise ValueError(f"The 'horizon_days' parameter must be a whole number >= 2; got {horizon_days!r}")
    h = int(horizon_days)
    if engine_of(events) == "ibis":  # per user × event × day extremes from the engine
        from ..engines.engagement_scans import user_outcomes as on_engine

        return on_engine(events, users, properties=properties, retention_days=retention_days,
                         conversion_events=conversion_events, conversion_days=conversion_days, horizon_days=h, tz=tz,
                         end=end)
    log = as_log(events, tz)
    people = user_frame(log, users, list(properties))
    people = people[people["first_seen"].notna()].reset_index(drop=True)
    install = np.asarray(periods.period_ordinal(people["first_seen"], "day", log.tz), dtype=np.int64)
    code = people["code"].to_numpy()
    row_of_code = np.full(log.n_users, -1)
    row_of_code[code[code >= 0]] = np.flatnonzero(code >= 0)
    row = row_of_code[log.user_code]
    day = log.ordinal("day") - install[np.maximum(row, 0)]
    inside = (row >= 0) & (day >= 0) & (day < h)
    active_days = np.bincount(distinct(row[inside] * h + day[inside]) // h, minlength=len(people)).astype(float)
    limit = periods.first_incomplete_ordinal(log.data_end(end)[0], "day", log.tz)
    observed = install + h <= limit
    people[f"engaged_{h}d"] = np.where(observed, (active_days > 1).astype(float), np.nan)
    people[f"stickiness_{h}d"] = np.where(observed, active_days / h, np.nan)
    retention = user_retention(log.frame, days=tuple(retention_days), tz=log.tz, end=end)
    retention = retention.assign(user_id=retention["user_id"].astype(object)).set_index("user_id")
    ids = people["user_id"].astype(object)
    position = retention.index.get_indexer(ids)  # once for every column (Series.map looks the ids up per call)
    for col in [c for c in retention.columns if c.startswith("retained_")]:
        values = retention[col]
        # what ids.map(values) gives: the value at each id's position, NaN (upcast) where an id is absent
        people[col] = (take(values.to_numpy(), position, allow_fill=True) if isinstance(values.dtype, np.dtype)
                       else ids.map(values).to_numpy())
    for w in conversion_days:
        people[f"converted_{int(w)}d"] = conversion_flags(log, people, conversion_events, int(w), end)
    return people.drop(columns=["first_seen", "code"])


@dataclass(frozen=True)
class GroupComparison:
    """Result of :func:`compare_groups`: the tidy ``table`` and what it compares.

    ``text`` is the caveat for these columns (:func:`comparison_caveat`).
    """

    table: pd.DataFrame
    segment: str
    reference: object
    strata: tuple[str, ...]

    @property
    def text(self) -> str:
        return comparison_caveat(self.segment, self.strata)

    def versus_reference(self) -> pd.DataFrame:
        """The rows of the groups other than the reference, with the raw and stratified differences."""
        columns = ["metric", "segment", "users", "value", "difference", "diff_ci_low", "diff_ci_high",
                   "adjusted_difference", "adj_ci_low", "adj_ci_high"]
        keep = [not _same(value, self.reference) for value in self.table["segment"]]
        return self.table.loc[keep, columns].reset_index(drop=True)


def _same(a, b) -> bool:
    """Group labels equal as values of the same kind (``True`` is not the group ``1``)."""
    return type(a) is type(b) and a == b


def comparison_caveat(segment: str | Sequence[str], strata: Sequence[str] = ()) -> str:
    """The caveat of an observational comparison of ``segment`` groups, naming the columns in play.

    ``segment`` may list several compared columns (one caveat for several comparisons).

    Examples
    --------
    >>> text = comparison_caveat("onboarding", ["platform", "acquisition_channel"])
    >>> text.startswith("Users were not randomised to the onboarding groups"), "platform × acquisition_channel" in text
    (True, True)
    """
    strata = list(strata)
    segment = segment if isinstance(segment, str) else " or ".join(segment)
    within = (f"the stratified columns show how much of each gap remains within the same {' × '.join(strata)}"
              if strata else "no strata were used, so every difference is raw")
    return (f"Users were not randomised to the {segment} groups: they differ in other ways too (measured or not). "
            f"Differences are associations, not effects; {within}, and only an experiment measures the causal effect.")


def _codes(values: pd.Series) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return codes.astype(np.int64), len(uniques)


def _cell_stats(key: np.ndarray, values: np.ndarray, size: int):
    """Count, mean, variance (ddof 1) and sum of ``values`` per key (two-pass variance)."""
    n = np.bincount(key, minlength=size).astype(float)
    total = np.bincount(key, weights=values, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        ss = np.bincount(key, weights=(values - mean[key]) ** 2, minlength=size)
        var = np.where(n > 1, ss / (n - 1), np.nan)
    return n, mean, var, total


def compare_groups(
    outcomes: pd.DataFrame,
    segment: str,
    metrics: Sequence[str] | None = None,
    *,
    strata: Iterable[str] = (),
    reference=None,
    alpha: float = 0.05,
) -> GroupComparison:
    """Compare user groups on per-user outcomes, raw and stratified (observational).

    For each metric and group: mean with a CI (Wilson for 0/1 outcomes,
    Student t otherwise), the difference to the ``reference`` group with a
    normal CI, and a **stratified** difference: the within-stratum
    differences (strata = combinations of the ``strata`` columns) averaged
    with weights proportional to the stratum's users in the two groups, with
    variance Σ w² (s²_g/n_g + s²_ref/n_ref).  Strata lacking either group (or
    with fewer than 2 users in one) are skipped.  A gap that shrinks after
    stratifying was partly confounding; what survives may still be confounded
    by unmeasured factors (:func:`comparison_caveat`).

    Parameters
    ----------
    outcomes : DataFrame
        One row per user (e.g. :func:`user_outcomes`) with ``segment``, the
        metric columns and the strata columns.
    segment : str
        The column whose groups are compared.
    metrics : list of str, optional
        Default: every float column except ``segment`` and ``strata``.
    reference : optional
        Reference group value; default the first group in sorted order.
    alpha : float, default 0.05
        Intervals have level ``1 - alpha``.

    Returns
    -------
    GroupComparison
        ``table``: ``metric``, ``segment``, ``users``, ``value``, ``ci_low``, ``ci_high``,
        ``difference``, ``diff_ci_low``, ``diff_ci_high``, ``adjusted_difference``,
        ``adj_ci_low``, ``adj_ci_high``, ``strata_share`` (share of the two
        groups' users in the strata used); ``reference``; ``text`` (the caveat).

    Examples
    --------
    >>> o = pd.DataFrame({"g": ["x", "x", "y", "y"], "s": ["p", "q", "p", "q"], "m": [0.0, 1.0, 1.0, 1.0]})
    >>> compare_groups(o, "g", ["m"]).table[["segment", "users", "value", "difference"]].values.tolist()
    [['x', 2.0, 0.5, 0.0], ['y', 2.0, 1.0, 0.5]]
    """
    check_alpha(alpha)
    strata = list(strata)
    check_column(outcomes, segment, "segment", "outcomes")
    for col in strata:
        check_column(outcomes, col, "strata", "outcomes")
    if metrics is None:
        metrics = [c for c in outcomes.columns if c not in [segment, *strata] and pd.api.types.is_float_dtype(outcomes[c])]
    missing = [m for m in metrics if m not in outcomes.columns]
    if missing:
        raise ValueError(f"metric column(s) {missing} not in the outcomes; available: {list(outcomes.columns)}")
    labels = pd.Series(segment_labels(outcomes[segment]))
    groups = sorted_labels(labels)
    reference = groups[0] if reference is None else check_option("reference", reference, groups)
    g = pd.Index(groups).get_indexer(labels)
    n_groups, r = len(groups), groups.index(reference)
    stratum, n_strata = np.zeros(len(outcomes), dtype=np.int64), 1
    for col in strata:
        codes, size = _codes(outcomes[col])
        stratum, n_strata = stratum * size + codes, n_strata * size
    stratum, n_strata = _codes(pd.Series(stratum))
    z = sps.norm.ppf(1 - alpha / 2)
    parts = []
    for metric in metrics:
        values = outcomes[metric].to_numpy(dtype=float)
        valid = ~np.isnan(values)
        v, gv, sv = values[valid], g[valid], stratum[valid]
        n, mean, var, total = _cell_stats(gv, v, n_groups)
        if bool(np.isin(v, (0.0, 1.0)).all()):
            lo, hi = wilson_ci(total, n, alpha)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                half = sps.t.ppf(1 - alpha / 2, np.maximum(n - 1, 1)) * np.sqrt(var / n)
            lo, hi = mean - half, mean + half
        with np.errstate(invalid="ignore", divide="ignore"):
            diff = mean - mean[r]
            se = np.sqrt(var / n + var[r] / n[r])
        cell_n, cell_mean, cell_var, _ = (a.reshape(n_strata, n_groups) for a in _cell_stats(sv * n_groups + gv, v, n_strata * n_groups))
        used = (cell_n >= 2) & (cell_n[:, [r]] >= 2)  # strata x groups: both this group and the reference
        pair_n = np.where(used, cell_n + cell_n[:, [r]], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            weight = pair_n / pair_n.sum(axis=0)
            gap = np.where(used, cell_mean - cell_mean[:, [r]], 0.0)
            noise = np.where(used, cell_var / cell_n + cell_var[:, [r]] / cell_n[:, [r]], 0.0)
            adjusted = np.where(used.any(axis=0), (weight * gap).sum(axis=0), np.nan)
            adj_se = np.where(used.any(axis=0), np.sqrt((weight**2 * noise).sum(axis=0)), np.nan)
            is_ref = np.arange(n_groups) == r
            share = (np.where(used, cell_n, 0).sum(axis=0) + np.where(is_ref, 0, np.where(used, cell_n[:, [r]], 0).sum(axis=0))) \
                / (n + np.where(is_ref, 0, n[r]))
        part = pd.DataFrame({
            "metric": metric, "segment": pd.Series(groups, dtype=object), "users": n, "value": mean, "ci_low": lo, "ci_high": hi,
            "difference": diff, "diff_ci_low": diff - z * se, "diff_ci_high": diff + z * se,
            "adjusted_difference": adjusted, "adj_ci_low": adjusted - z * adj_se, "adj_ci_high": adjusted + z * adj_se,
            "strata_share": share})
        part.loc[is_ref, ["difference", "diff_ci_low", "diff_ci_high", "adjusted_difference", "adj_ci_low", "adj_ci_high"]] = 0.0
        parts.append(part)
    return GroupComparison(pd.concat(parts, ignore_index=True)[COMPARISON_COLUMNS], segment, reference, tuple(strata))


def interaction_rates(
    events: "pd.DataFrame | EventLog",
    users: pd.DataFrame | None = None,
    *,
    segment: str = "platform",
    interactions: dict[str, tuple[str, str]] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Reach and response rates of in-app messages / surveys, per ``segment`` group.

    reach rate = users shown the item / users of the group;
    response rate = users who responded / users shown it.

    Parameters
    ----------
    interactions : dict, optional
        ``name -> (shown_event, response_event)``; default in-app messages
        (shown / clicked) and surveys (shown / answered).

    Returns
    -------
    DataFrame
        ``segment``, ``interaction``, ``users``, ``reached``, ``reach_rate``,
        ``reach_ci_low``, ``reach_ci_high``, ``responded``, ``response_rate``,
        ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "platform": "ios",
    ...     "event": ["survey_shown", "survey_answered", "survey_shown"],
    ...     "timestamp": pd.to_datetime(["2024-01-01"] * 3, utc=True)})
    >>> r = interaction_rates(ev, interactions={"survey": ("survey_shown", "survey_answered")})
    >>> r[["segment", "reached", "responded", "response_rate"]].values.tolist()
    [['ios', 2.0, 1.0, 0.5]]
    """
    interactions = DEFAULT_INTERACTIONS if interactions is None else interactions
    if engine_of(events) == "ibis":  # per user × event × day extremes from the engine
        from ..engines.engagement_scans import interaction_rates as on_engine

        return on_engine(events, users, segment=segment, interactions=interactions, alpha=alpha)
    log = as_log(events)
    people = user_frame(log, users, [segment])
    people["segment"] = segment_labels(people[segment])
    code = people["code"].to_numpy()
    frames = []
    for name, (shown, response) in interactions.items():
        did = {}
        for label, event in (("reached", shown), ("responded", response)):
            by_code = np.bincount(log.user_code[log.event_mask(event, "interactions")], minlength=log.n_users) > 0
            did[label] = np.where(code >= 0, by_code[np.maximum(code, 0)], False).astype(float)
        stats = pd.DataFrame({"segment": people["segment"], **did}).groupby("segment", sort=True)
        part = pd.DataFrame({"users": stats.size().astype(float), "reached": stats["reached"].sum(),
                             "responded": stats["responded"].sum()}).reset_index()
        part = rate_with_ci(part, "reached", "users", "reach_rate", alpha).rename(
            columns={"ci_low": "reach_ci_low", "ci_high": "reach_ci_high"})
        part = rate_with_ci(part, "responded", "reached", "response_rate", alpha)
        frames.append(part.assign(interaction=name))
    out = pd.concat(frames, ignore_index=True)
    return out[["segment", "interaction", "users", "reached", "reach_rate", "reach_ci_low", "reach_ci_high",
                "responded", "response_rate", "ci_low", "ci_high"]]
