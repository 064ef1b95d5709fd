"""Retention from engine summaries: small count tables in, the same tidy matrix out.

An engine (:mod:`engagement_utils.engines`) scans the events and returns two small
tables (:func:`engagement_utils.engines.ibis_scans.retention_counts`):

* ``groups`` — members per cohort (× segment) (× ``last_eligible`` window for the rolling clock);
* ``counts`` — members active at each offset (n-period) or members per last return offset (unbounded).

Censoring, eligibility, rates and intervals are computed here, from those tables
only, exactly as :func:`~engagement_utils.retention.retention_matrix` does from
the per-event arrays (the cross-engine tests hold both equal).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import periods
from ..core import as_utc, sorted_labels
from .log import ROLLING_NS, tidy_counts

__all__ = ["LogBounds", "log_bounds", "GroupCounts", "matrix_from_summaries", "brackets_from_summaries"]


def _report_order(keys: pd.DataFrame) -> pd.DataFrame:
    """Cohort × segment keys sorted as the in-memory engine sorts them (segments by ``core.sorted_labels``)."""
    rank = {label: i for i, label in enumerate(sorted_labels(keys["segment"]))}
    return keys.assign(_rank=keys["segment"].map(rank)).sort_values(["cohort", "_rank"]).drop(columns="_rank")


@dataclass(frozen=True)
class LogBounds:
    """The data end and the periods that decide censoring (as in ``prepare_log``)."""

    period: str
    tz: str
    end: pd.Timestamp
    end_us: int  # exclusive end in UTC microseconds (the last event + 1 µs without an explicit end)
    first_incomplete: int
    last_observed: int


def log_bounds(period: str, tz: str, end, last_event: pd.Timestamp) -> LogBounds:
    """Bounds from an explicit exclusive ``end`` or, without one, the last event (whose period is in progress)."""
    if end is None:
        data_end, last_instant = last_event, last_event
        end_us = last_event.value // 1000 + 1
    else:
        data_end = as_utc(end, "end")
        last_instant = data_end - pd.Timedelta(1, "ns")
        end_us = -(-data_end.value // 1000)
    ordinal = int(periods.period_ordinal(pd.Series([last_instant]), period, tz)[0])
    return LogBounds(period, tz, data_end, int(end_us), periods.first_incomplete_ordinal(data_end, period, tz), ordinal)


@dataclass(frozen=True)
class GroupCounts:
    """Cohort × segment groups in the shape :func:`~.log.tidy_counts` reads."""

    log: LogBounds
    group_cohort: np.ndarray
    group_segment: np.ndarray | None
    size: np.ndarray


def _at_least(group: np.ndarray, last: np.ndarray, weight: np.ndarray, n_groups: int, n_ks: int) -> np.ndarray:
    """Weighted members per group with ``last >= k`` for k = 0 .. n_ks - 1 (a histogram summed from the right)."""
    keep = last >= 0
    hist = np.bincount(group[keep] * n_ks + np.minimum(last[keep], n_ks - 1), weights=weight[keep],
                       minlength=n_groups * n_ks).astype(np.int64)
    return np.cumsum(hist.reshape(n_groups, n_ks)[:, ::-1], axis=1)[:, ::-1]


@dataclass(frozen=True)
class _Groups:
    """The reported cohort × segment groups of the engine's ``groups`` table, and how to find a row's group."""

    index: pd.Index
    keys: list
    segment: str | None
    groups: pd.DataFrame  # the groups table, cohorts before ``start`` dropped
    counts: pd.DataFrame  # the counts table, likewise

    def of(self, frame: pd.DataFrame) -> np.ndarray:
        keys = pd.MultiIndex.from_frame(frame[self.keys]) if self.segment is not None else frame["cohort"]
        return self.index.get_indexer(keys)


def _reported_groups(groups: pd.DataFrame, counts: pd.DataFrame, bounds: LogBounds, segment, start) -> _Groups:
    keys = ["cohort"] + (["segment"] if segment is not None else [])
    if start is not None:
        first = int(periods.period_ordinal(pd.Series([as_utc(start, "start")]), bounds.period, bounds.tz)[0])
        groups, counts = groups[groups["cohort"] >= first], counts[counts["cohort"] >= first]
    if groups.empty:
        raise ValueError(
            f"no cohort starts in the window start={start!r}, end={bounds.end}: users seen earlier belong to "
            "earlier cohorts (first events are looked up over all history)"
        )
    index = pd.MultiIndex.from_frame(_report_order(groups[keys].drop_duplicates())) if segment is not None \
        else pd.Index(np.sort(groups["cohort"].unique()), name="cohort")
    return _Groups(index, keys, segment, groups, counts)


def matrix_from_summaries(groups: pd.DataFrame, counts: pd.DataFrame, bounds: LogBounds, *, kind: str, clock: str,
                          segment: str | None, include_partial: bool, start, max_periods, alpha: float) -> pd.DataFrame:
    """The tidy retention matrix (columns as :func:`~engagement_utils.retention.retention_matrix`) from summaries."""
    g = _reported_groups(groups, counts, bounds, segment, start)
    index, groups, counts, group_of = g.index, g.groups, g.counts, g.of
    n_groups = len(index)
    g_cohort = np.asarray(index.get_level_values("cohort") if segment is not None else index, dtype=np.int64)
    g_segment = np.asarray(index.get_level_values("segment"), dtype=object) if segment is not None else None
    group = group_of(groups)
    weight = groups["members"].to_numpy(np.int64)
    size = np.bincount(group, weights=weight, minlength=n_groups).astype(np.int64)
    if clock == "calendar":
        horizon = bounds.last_observed + 1 if include_partial else bounds.first_incomplete
        group_last = horizon - 1 - g_cohort
        longest = max(int(horizon - 1 - g_cohort.min()), 0)
        member_last = group_last[group]
    else:
        length = ROLLING_NS[bounds.period]
        member_last = groups["last_eligible"].to_numpy(np.int64)
        first_start = as_utc(groups["first_start"].min(), "first_start").value
        span = bounds.end_us * 1000 - first_start
        longest = max(int(span // length) - (0 if include_partial else 1), 0)
    if max_periods is None:
        max_periods = longest
    if isinstance(max_periods, bool) or not isinstance(max_periods, (int, np.integer)) or max_periods < 0:
        raise ValueError(f"max_periods={max_periods!r}: give a whole number of periods >= 0, or None for all observed")
    n_ks = int(max_periods) + 1
    eligible = _at_least(group, member_last, weight, n_groups, n_ks)
    c_group = group_of(counts)
    keep = c_group >= 0
    counts, c_group = counts[keep], c_group[keep]
    offset = counts["offset"].to_numpy(np.int64)
    c_weight = counts["members"].to_numpy(np.int64)
    if clock == "calendar":
        c_last = group_last[c_group]
    else:
        c_last = counts["last_eligible"].to_numpy(np.int64) if "last_eligible" in counts else np.full(len(counts), n_ks)
    if kind == "unbounded":
        retained = _at_least(c_group, np.minimum(offset, c_last), c_weight, n_groups, n_ks)
    else:
        hit = (offset >= 0) & (offset < n_ks) & (offset <= c_last)
        retained = np.bincount(c_group[hit] * n_ks + offset[hit], weights=c_weight[hit],
                               minlength=n_groups * n_ks).astype(np.int64).reshape(n_groups, n_ks)
    table = GroupCounts(bounds, g_cohort, g_segment, size)
    return tidy_counts(table, {"period": np.arange(n_ks)}, retained, eligible, alpha)


def brackets_from_summaries(groups: pd.DataFrame, counts: pd.DataFrame, bounds: LogBounds, brackets: np.ndarray, *,
                            clock: str, segment: str | None, include_partial: bool, start, alpha: float) -> pd.DataFrame:
    """The tidy bracket table (columns as :func:`~engagement_utils.retention.bracket_retention`) from summaries.

    ``counts`` holds, per group (× ``last_eligible`` with the rolling clock) and ``bracket``
    (position in ``brackets``), the members active at least once in the bracket's periods.  A
    member is eligible for a bracket once its last period is observed (calendar: per cohort;
    rolling: per member's ``last_eligible``), and retained only then.
    """
    g = _reported_groups(groups, counts, bounds, segment, start)
    n_groups, n_brackets = len(g.index), len(brackets)
    g_cohort = np.asarray(g.index.get_level_values("cohort") if segment is not None else g.index, dtype=np.int64)
    g_segment = np.asarray(g.index.get_level_values("segment"), dtype=object) if segment is not None else None
    last = brackets[:, 1]
    group, weight = g.of(g.groups), g.groups["members"].to_numpy(np.int64)
    c_group = g.of(g.counts)
    keep = c_group >= 0
    counts, c_group = g.counts[keep], c_group[keep]
    bracket, c_weight = counts["bracket"].to_numpy(np.int64), counts["members"].to_numpy(np.int64)
    if clock == "calendar":
        horizon = bounds.last_observed + 1 if include_partial else bounds.first_incomplete
        member_last = (horizon - 1 - g_cohort)[group]
        c_last = (horizon - 1 - g_cohort)[c_group]
    else:
        member_last = g.groups["last_eligible"].to_numpy(np.int64)
        c_last = counts["last_eligible"].to_numpy(np.int64)
    size = np.bincount(group, weights=weight, minlength=n_groups).astype(np.int64)
    eligible = np.zeros((n_groups, n_brackets), dtype=np.int64)
    retained = np.zeros_like(eligible)
    for j in range(n_brackets):
        eligible[:, j] = np.bincount(group, weights=weight * (member_last >= last[j]), minlength=n_groups)
        hit = (bracket == j) & (c_last >= last[j])
        retained[:, j] = np.bincount(c_group[hit], weights=c_weight[hit], minlength=n_groups)
    labels = [str(a) if a == b else f"{a}–{b}" for a, b in brackets]
    table = GroupCounts(bounds, g_cohort, g_segment, size)
    return tidy_counts(table, {"bracket": labels, "first": brackets[:, 0], "last": brackets[:, 1]}, retained, eligible, alpha)
