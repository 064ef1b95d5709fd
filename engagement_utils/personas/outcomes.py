"""Outcomes per persona: conversion, revenue per user, retention and response by segment, with intervals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from ..core import EventLog, segment_labels
from ..stats import wilson_ci
from ..validation import check_alpha
from .describe import persona_names
from .features import as_log, conversion_mask

__all__ = ["PersonaOutcomes", "persona_outcomes", "outcomes_from"]

SEGMENT_COLUMNS = ["persona", "segment", "users", "segment_share", "converted", "conversion_rate", "ci_low", "ci_high", "index"]


@dataclass(frozen=True)
class PersonaOutcomes:
    """Result of :func:`persona_outcomes` (tidy frames, one row per persona [× period | × segment]).

    Attributes
    ----------
    summary : DataFrame
        ``persona, users, converted, revenue_per_user, conversion_rate,
        conversion_ci_low/high, revenue_ci_low/high`` (persona display names, in persona order).
    retention : DataFrame
        Pooled day-k retention per persona (``segment`` = persona name, ``period``,
        ``eligible``, ``retained``, ``rate``, ``ci_low``, ``ci_high``).
    segments : DataFrame or None
        ``persona, segment, users, segment_share, converted, conversion_rate,
        ci_low, ci_high, index`` (conversion rate / the persona's overall rate;
        NaN when nobody in the persona converted); None without a segment column.
    segment : str
        The breakdown column of ``segments`` (e.g. ``acquisition_channel``).
    alpha : float
        Intervals are ``1 - alpha`` level.
    min_group_size : int
        Groups with fewer users are left out of the sentences (``text``).
    """

    summary: pd.DataFrame
    retention: pd.DataFrame
    segments: pd.DataFrame | None = None
    segment: str = "acquisition_channel"
    alpha: float = 0.05
    min_group_size: int = 10

    @property
    def table(self) -> pd.DataFrame:
        """The per-persona summary."""
        return self.summary

    @property
    def text(self) -> str:
        """The readings: best converting persona, retention range and best responding segments."""
        from .describe import outcomes_text

        return outcomes_text(self)


def _segment_values(log: EventLog, labels: pd.Series, event_position: np.ndarray,
                    users: pd.DataFrame | None, segment: str) -> pd.Series | None:
    """Per labelled user, the segment value: from ``users`` when they have the column, else the user's first event."""
    if users is not None and segment in users.columns:
        if "user_id" not in users.columns:
            raise ValueError(f"the users table has no 'user_id' column; columns present: {list(users.columns)}")
        return pd.Series(users[segment].to_numpy(), index=users["user_id"].to_numpy()).reindex(labels.index)
    if segment not in log.frame.columns:
        return None
    first = log.first_rows(event_position >= 0)
    values = np.asarray(log.frame[segment].to_numpy(), dtype=object)[first]
    return pd.Series(values, index=labels.index[event_position[first]]).reindex(labels.index)


def _segment_table(per_user: pd.DataFrame, summary: pd.DataFrame, alpha: float) -> pd.DataFrame:
    c = per_user.groupby(["persona", "segment"], observed=True).agg(
        users=("converted", "size"), converted=("converted", "sum")).reset_index()
    c["persona"] = c["persona"].astype(str)
    base = summary.set_index("persona")
    c["segment_share"] = c["users"] / c["persona"].map(base["users"])
    c["conversion_rate"] = c["converted"] / c["users"]
    c["ci_low"], c["ci_high"] = wilson_ci(c["converted"], c["users"], alpha)
    overall = c["persona"].map(base["conversion_rate"])
    c["index"] = c["conversion_rate"] / overall.where(overall > 0)
    rank = c["persona"].map({p: i for i, p in enumerate(summary["persona"])})
    c = c.assign(rank=rank).sort_values(["rank", "segment"], kind="stable").reset_index(drop=True)
    return c[SEGMENT_COLUMNS]


def persona_outcomes(
    events: pd.DataFrame | EventLog,
    labels: pd.Series,
    *,
    names: Mapping | pd.Series | None = None,
    conversion_events: str | Iterable[str] | None = None,
    max_days: int = 30,
    users: pd.DataFrame | None = None,
    segment: str = "acquisition_channel",
    tz: str | None = None,
    alpha: float = 0.05,
    min_group_size: int = 10,
) -> PersonaOutcomes:
    """Retention, conversion, revenue per user and response by segment per persona, with intervals.

    * Conversion rate = persona users with a conversion event / persona users;
      Wilson interval of level ``1 - alpha`` (DESIGN §5).
    * Revenue per user = mean of each user's total revenue (0 for non-buyers);
      t interval ``mean ± t(1 - alpha/2, n-1) · sd / √n``.
    * Retention: classic calendar-day retention from each user's first event
      (:func:`engagement_utils.retention.retention_matrix` with the persona as
      segment, censored cohorts left out, pooled by ``retention_curve``; Wilson intervals).
    * Segments: the ``segment`` column of ``users`` (e.g. acquisition channel),
      or of the events (each user's first value) when the users table lacks it;
      missing values are ``"(missing)"``.  Per persona × segment: users, the
      segment's share of the persona, conversion rate with Wilson CI, and
      ``index`` = that rate / the persona's overall rate (above 1: the persona
      responds better in this segment; undefined when no member converted).

    Parameters
    ----------
    events : DataFrame, EventLog or engine source
        Canonical events (the same users as ``labels``; others are ignored); an
        :class:`engagement_utils.engines.IbisEvents` runs the per-user scans and the retention in
        the engine (:func:`engagement_utils.engines.analyses.persona_outcomes`).
    labels : Series
        Persona per ``user_id`` (e.g. ``segment_users(...).labels``).
    names : mapping or Series, optional
        Persona → display name (e.g. ``describe_personas(...).names``).
    conversion_events : str or list of str, optional
        Events that count as a conversion; each one named must occur in the data
        (default ``("purchase",)``, which may be absent: then nobody converted).
    max_days : int
        Last retention day.
    users : DataFrame, optional
        User table holding the ``segment`` column.
    tz : str, optional
        Timezone of the retention days (default: the log's, UTC for a frame).
    segment : str
        Breakdown column for the response comparison.
    alpha : float
        Significance level; intervals are ``1 - alpha``.
    min_group_size : int
        Groups smaller than this are left out of the sentences.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "c"], "event": ["open", "purchase", "open", "open"],
    ...     "revenue": [None, 10.0, None, None],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-03"], utc=True)})
    >>> out = persona_outcomes(ev, pd.Series({"a": 0, "b": 1, "c": 1}), max_days=1)
    >>> out.summary[["persona", "users", "converted", "revenue_per_user"]].values.tolist()
    [['Persona 0', 1, 1, 10.0], ['Persona 1', 2, 0, 0.0]]
    """
    from .. import retention
    from ..core import engine_of

    check_alpha(alpha)
    if engine_of(events) == "ibis":
        from ..engines.analyses import persona_outcomes as on_engine

        return on_engine(events, labels, names=names, conversion_events=conversion_events, max_days=max_days, users=users,
                         segment=segment, tz=tz, alpha=alpha, min_group_size=min_group_size)
    log = as_log(events, tz)
    labels = pd.Series(labels)
    persona = persona_names(labels, names)
    position = pd.Index(labels.index).get_indexer(log.users)
    event_position = position[log.user_code]
    keep = event_position >= 0
    if not keep.any():
        raise ValueError("no event belongs to a labelled user; pass labels indexed by the events' user_id")
    lab_codes = event_position[keep]

    n = len(labels)
    is_conv = conversion_mask(log, conversion_events)[1][keep]
    converted = np.bincount(lab_codes[is_conv], minlength=n) > 0
    frame = log.frame
    revenue = (np.bincount(lab_codes, weights=np.nan_to_num(frame["revenue"].to_numpy(dtype=float)[keep]), minlength=n)
               if "revenue" in frame.columns else np.full(n, np.nan))
    ev = frame.loc[keep] if not keep.all() else frame
    # a categorical: one code per event, not one name object per event
    names_cat = persona.astype("category")
    ev = ev.assign(persona=pd.Categorical.from_codes(names_cat.cat.codes.to_numpy()[lab_codes],
                                                     categories=names_cat.cat.categories))
    matrix = retention.retention_matrix(ev, "day", segment="persona", max_periods=max_days, tz=log.tz, alpha=alpha)
    values = _segment_values(log, labels, event_position, users, segment)
    return outcomes_from(labels, persona, converted, revenue, matrix, values, segment=segment, alpha=alpha,
                         min_group_size=min_group_size)


def outcomes_from(labels: pd.Series, persona: pd.Series, converted: np.ndarray, revenue: np.ndarray,
                  matrix: pd.DataFrame, values: pd.Series | None, *, segment: str, alpha: float,
                  min_group_size: int) -> PersonaOutcomes:
    """The :class:`PersonaOutcomes` from per-user results (in ``labels`` order) and the persona retention matrix.

    ``converted`` / ``revenue``: per labelled user; ``matrix``: day retention with the persona
    name as segment; ``values``: each user's segment value (None: no segment table).  Shared by
    the in-memory and the engine :func:`persona_outcomes`.
    """
    from scipy import stats as sps

    from .. import retention

    per_user = pd.DataFrame({"persona": persona.to_numpy(), "converted": converted, "revenue": revenue})
    g = per_user.groupby("persona", observed=True, sort=False)
    summary = g.agg(users=("converted", "size"), converted=("converted", "sum"),
                    revenue_per_user=("revenue", "mean"), revenue_sd=("revenue", "std")).reset_index()
    order = pd.Series(labels.to_numpy()).groupby(persona.to_numpy(), observed=True).first()
    summary = summary.assign(rank=summary["persona"].map(order)).sort_values("rank", kind="stable")
    summary = summary.drop(columns="rank").reset_index(drop=True)
    summary["conversion_rate"] = summary["converted"] / summary["users"]
    summary["conversion_ci_low"], summary["conversion_ci_high"] = wilson_ci(summary["converted"], summary["users"], alpha)
    t = sps.t.ppf(1 - alpha / 2, np.maximum(summary["users"] - 1, 1))
    half = t * summary["revenue_sd"] / np.sqrt(summary["users"])
    summary["revenue_ci_low"] = summary["revenue_per_user"] - half
    summary["revenue_ci_high"] = summary["revenue_per_user"] + half
    summary = summary.drop(columns="revenue_sd")
    summary["persona"] = summary["persona"].astype(str)
    curve = retention.retention_curve(matrix, alpha=alpha)
    segments = None
    if values is not None:
        per_user["segment"] = pd.Series(segment_labels(values.to_numpy())).astype(str).to_numpy()
        segments = _segment_table(per_user, summary, alpha)
    return PersonaOutcomes(summary=summary, retention=curve, segments=segments, segment=segment, alpha=alpha,
                           min_group_size=min_group_size)
