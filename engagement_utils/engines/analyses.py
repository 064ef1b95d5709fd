"""Analyses on an engine source: the scans run in the engine, the existing Python finishes.

Each function mirrors the in-memory analysis of the same name and returns the
same tidy frame; it is what the in-memory function delegates to when it is
handed an :class:`~.connect.IbisEvents` instead of a frame or an EventLog
(see :func:`engagement_utils.core.scans.engine_of`, the one dispatch point).

Active users and lifecycle depend on the events only through their distinct
user × day (period) keys, so the keys come back from the engine as a small
canonical frame (one event per key) and the in-memory function runs on it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from ibis import _

from .. import periods
from ..core import sorted_labels
from ..stats import wilson_ci
from ..validation import check_alpha, check_option
from . import ibis_scans
from .connect import IbisEvents
from .experiment_scans import experiment_users  # 03's per-user metrics (calendar days), as experiments.experiment_users

__all__ = ["retention_matrix", "retention_definition", "bracket_retention", "user_retention", "active_users", "lifecycle", "keys_as_events", "session_summary", "funnel",
           "funnel_from_reach", "experiment_users", "rolling_experiment_users", "experiment_summary",
           "assign_personas"]

_ACTIVE, _BOUND = "active", "(bound)"


def _retention_setup(src: IbisEvents, period: str, kind: str, cohorts: str, clock: str, alpha: float, tz, end):
    """Checks shared by the retention analyses, the source in ``tz`` and the data bounds."""
    from ..retention.log import COHORT_TYPES, KINDS, check_clock
    from ..retention.summaries import log_bounds

    check_option("kind", kind, KINDS)
    check_option("cohorts", cohorts, COHORT_TYPES)
    check_alpha(alpha)
    periods.check_period(period)
    check_clock(clock, period, cohorts)
    src = src.with_tz(tz or src.tz)
    _, last = ibis_scans.data_bounds(src, end)
    return src, log_bounds(period, src.tz, end, last)


def _typed(src: IbisEvents, segment: str | None, *tables: pd.DataFrame) -> list[pd.DataFrame]:
    """The engine's text segment labels back in the column's type (as the in-memory labels)."""
    from .overview import typed_labels

    if segment is None:
        return list(tables)
    return [t.assign(segment=typed_labels(src, segment, t["segment"])) for t in tables]


def retention_matrix(src: IbisEvents, period: str = "week", kind: str = "n_period", *, cohorts: str = "first_time",
                     start_events=None, return_events=None, segment: str | None = None, max_periods: int | None = None,
                     start=None, end=None, tz: str | None = None, clock: str = "calendar", include_partial: bool = False,
                     alpha: float = 0.05) -> pd.DataFrame:
    """:func:`engagement_utils.retention.retention_matrix` with the scans on the engine (same columns and values)."""
    from ..retention.summaries import matrix_from_summaries

    src, bounds = _retention_setup(src, period, kind, cohorts, clock, alpha, tz, end)
    groups, counts = ibis_scans.retention_counts(
        src, period, kind=kind, cohorts=cohorts, clock=clock, start_events=start_events, return_events=return_events,
        segment=segment, end=end, end_us=bounds.end_us, include_partial=include_partial)
    groups, counts = _typed(src, segment, groups, counts)
    return matrix_from_summaries(groups, counts, bounds, kind=kind, clock=clock, segment=segment,
                                 include_partial=include_partial, start=start, max_periods=max_periods, alpha=alpha)


def bracket_retention(src: IbisEvents, brackets=((1, 1), (2, 7), (8, 30)), period: str = "day", *,
                      cohorts: str = "first_time", start_events=None, return_events=None, segment: str | None = None,
                      start=None, end=None, tz: str | None = None, clock: str = "calendar", include_partial: bool = False,
                      alpha: float = 0.05) -> pd.DataFrame:
    """:func:`engagement_utils.retention.bracket_retention` with the scans on the engine (same columns and values).

    The engine returns, per cohort × segment and bracket, the members with a return in the
    bracket's periods (:func:`.ibis_scans.bracket_counts`); eligibility and rates follow in Python.
    
    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "z"], "event": "open",
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-01", "2024-01-12"], utc=True)})
    >>> b = bracket_retention(from_frame(ev), [(1, 1), (2, 7)])
    >>> b.loc[b["cohort"] == "2024-01-01", ["bracket", "eligible", "retained"]].values.tolist()
    [['1', 2, 0], ['2–7', 2, 1]]
    """
    from ..retention.cohorts import check_brackets
    from ..retention.summaries import brackets_from_summaries

    bounds_array = check_brackets(brackets)
    src, bounds = _retention_setup(src, period, "n_period", cohorts, clock, alpha, tz, end)
    groups, counts = ibis_scans.bracket_counts(
        src, period, bounds_array, cohorts=cohorts, clock=clock, start_events=start_events, return_events=return_events,
        segment=segment, end=end, end_us=bounds.end_us, include_partial=include_partial)
    groups, counts = _typed(src, segment, groups, counts)
    return brackets_from_summaries(groups, counts, bounds, bounds_array, clock=clock, segment=segment,
                                   include_partial=include_partial, start=start, alpha=alpha)


def retention_definition(src: IbisEvents, period: str = "week", kind: str = "n_period", *, cohorts: str = "first_time",
                         start_events=None, return_events=None, segment: str | None = None, end=None,
                         tz: str | None = None, clock: str = "calendar", include_partial: bool = False,
                         alpha: float = 0.05, **_ignored):
    """:func:`engagement_utils.retention.retention_definition` from the engine's data bounds (one aggregate).
    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "z"], "event": "open",
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-01", "2024-01-12"], utc=True)})
    >>> str(retention_definition(from_frame(ev), "week").first_incomplete_period.date())
    '2024-01-08'
    """
    from ..retention.log import RetentionDefinition

    src, bounds = _retention_setup(src, period, kind, cohorts, clock, alpha, tz, end)
    ibis_scans.event_predicate(src, start_events, "start_events")  # unknown event names: the same error
    ibis_scans.event_predicate(src, return_events, "return_events")
    return RetentionDefinition(
        period=period, tz=src.tz, kind=kind, cohorts=cohorts, clock=clock, include_partial=include_partial,
        segment=segment, data_end=bounds.end,
        first_incomplete_period=periods.ordinal_to_start([bounds.first_incomplete], period)[0], alpha=alpha)


def user_retention(src: IbisEvents, days=(1, 7, 30), *, anchor=None, period: str = "day", tz: str | None = None,
                   start_events=None, return_events=None, end=None, include_partial: bool = False,
                   clock: str = "calendar") -> pd.DataFrame:
    """:func:`engagement_utils.retention.user_retention` with the scans on the engine (same rows and flags).

    The engine returns the members (first start event per user, or the given anchors) and the
    distinct user × offset pairs with a return at the wanted offsets; censoring follows in Python.
    
    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "z"], "event": "open",
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-01", "2024-01-12"], utc=True)})
    >>> user_retention(from_frame(ev), days=(0, 4))[["user_id", "retained_d0", "retained_d4"]].values.tolist()
    [['a', 1.0, 1.0], ['b', 1.0, 0.0], ['z', nan, nan]]
    """
    import ibis

    from ..retention.cohorts import anchor_series
    from ..retention.log import PERIOD_SUFFIX, check_clock, check_offsets

    ks = check_offsets(days, "days")
    check_clock(clock, period)
    if anchor is not None and start_events is not None:
        raise ValueError("pass either anchor (explicit start times) or start_events (first start event), not both")
    src, bounds = _retention_setup(src, period, "n_period", "first_time", clock, 0.05, tz, end)
    ibis_scans.event_predicate(src, start_events, "start_events")
    table = None
    if anchor is not None:
        anchors = anchor_series(anchor)
        ids = pd.Series(anchors.index.astype(object), dtype=object)
        id_type = src.table.schema()["user_id"]
        frame = pd.DataFrame({"user_id": pd.to_numeric(ids).astype("int64") if id_type.is_integer() else ids.astype(str),
                              "cohort": periods.period_ordinal(anchors, period, src.tz).astype(np.int64),
                              "start": anchors.dt.tz_convert("UTC").astype("datetime64[us, UTC]").to_numpy()})
        frame["start"] = pd.to_datetime(frame["start"], utc=True)
        table = ibis.memtable(frame)
        events = ibis_scans.cut(src, end)
        if int(table.semi_join(events, table.user_id == events.user_id).count().to_pandas()) == 0:
            raise ValueError(
                "none of the anchor users occur in events['user_id']; check that both use the same ids and types "
                f"(anchor e.g. {anchors.index[0]!r})")
    member, hits = ibis_scans.return_offsets_expr(src, period, ks, anchors=table, clock=clock, start_events=start_events,
                                                  return_events=return_events, end=end)
    if anchor is None:
        members = ibis_scans.execute(member.select("user_id", "cohort", "start")).sort_values("user_id", ignore_index=True)
    else:
        members = frame
    hit = ibis_scans.execute(hits)
    row = pd.Index(members["user_id"]).get_indexer(hit["user_id"])
    start_us = pd.to_datetime(members["start"], utc=True).astype("datetime64[us, UTC]").astype("int64").to_numpy()
    cohort = members["cohort"].to_numpy(np.int64)
    out = pd.DataFrame({"user_id": members["user_id"].to_numpy(dtype=object) if anchor is None else np.asarray(anchors.index),
                        "anchor": pd.to_datetime(members["start"], utc=True)})
    for k in ks:
        if clock == "calendar":
            horizon = bounds.last_observed + 1 if include_partial else bounds.first_incomplete
            eligible = cohort + k < horizon
        else:
            length = ibis_scans.ROLLING_US[period]
            window_start = start_us + k * length
            eligible = window_start < bounds.end_us if include_partial else window_start + length <= bounds.end_us
        active = np.zeros(len(members), dtype=bool)
        active[row[(hit["offset"].to_numpy(np.int64) == k) & (row >= 0)]] = True
        out[f"retained_{PERIOD_SUFFIX[period]}{k}"] = np.where(eligible, active.astype(float), np.nan)
    return out


def keys_as_events(src: IbisEvents, period: str = "day", *, active_events=None, segment: str | None = None,
                   end=None) -> pd.DataFrame:
    """The distinct activity keys as a canonical frame in UTC: one ``"active"`` event at the start of each key's period.

    Two ``"(bound)"`` events per segment label mark the first and last day of all events, so
    in-memory functions see the same data span (pass ``active_events="active"`` to them).
    """
    keys = ibis_scans.activity_keys(src, period, active_events=active_events, segment=segment, end=end)
    first, last = ibis_scans.data_bounds(src, end)
    bound_days = periods.period_ordinal(pd.Series([first, last]), "day", src.tz)
    labels = ibis_scans.execute(ibis_scans.activity_keys_expr(src, "day", segment=segment, end=end)
                                 .select("segment").distinct())["segment"] if segment is not None else None
    start = periods.ordinal_to_start(keys["period"].to_numpy(np.int64), period)
    frame = {"user_id": keys["user_id"].to_numpy(), "timestamp": start, "event": _ACTIVE}
    if segment is not None:
        frame["segment"] = keys["segment"].to_numpy(dtype=object)
    events = pd.DataFrame(frame)
    n_labels = 1 if labels is None else len(labels)
    bounds = pd.DataFrame({
        "user_id": np.repeat(keys["user_id"].iloc[:1].to_numpy(), 2 * n_labels),
        "timestamp": np.tile(periods.ordinal_to_start(bound_days, "day"), n_labels), "event": _BOUND})
    if labels is not None:
        bounds["segment"] = np.repeat(np.asarray(labels, dtype=object), 2)
    out = pd.concat([events, bounds], ignore_index=True)
    out["timestamp"] = pd.to_datetime(out["timestamp"]).dt.tz_localize("UTC")
    return out.sort_values(["user_id", "timestamp"], kind="stable", ignore_index=True)


def active_users(src: IbisEvents, period: str = "day", *, tz: str | None = None, active_events=None,
                 segment: str | None = None, include_partial: bool = False, end=None) -> pd.DataFrame:
    """:func:`engagement_utils.metrics.active_users` from the engine's trailing-window spans (segment column: ``segment``).

    ``period``: rows for every day, or for the last day of each ISO week / month (``freq`` "D" / "W" / "M"
    of the in-memory function).  The engine returns +1 / -1 counts per day and window
    (:func:`.ibis_scans.active_spans_expr`); their cumulative sums are DAU, WAU and MAU.
    """
    periods.check_period(period)
    freq = {"day": "D", "week": "W", "month": "M"}[period]
    src = src.with_tz(tz or src.tz)
    first, last = ibis_scans.data_bounds(src, end)
    first_day, last_day = (int(d) for d in periods.period_ordinal(pd.Series([first, last]), "day", src.tz))
    n_days = last_day - first_day + 1
    if segment is not None:
        src.check_column(segment)
        labels = np.asarray(sorted_labels(ibis_scans.execute(ibis_scans.cut(src, end).select(
            segment=ibis_scans.segment_value(src.table, segment)).distinct())["segment"].to_numpy(dtype=object)), dtype=object)
    else:
        labels = np.array(["all"], dtype=object)
    spans = ibis_scans.execute(ibis_scans.active_spans_expr(src, first_day=first_day, n_days=n_days,
                                                            active_events=active_events, segment=segment, end=end))
    seg = (pd.Index(labels).get_indexer(spans["segment"].to_numpy(dtype=object)) if segment is not None
           else np.zeros(len(spans), np.int64))
    day, gap, users = (spans[c].to_numpy(np.int64) for c in ("day", "gap", "users"))
    counts = {}
    for name, width in (("dau", 1), ("wau", 7), ("mau", 30)):
        # +users on the first day of each span, -users the day it ends: a cumulative sum counts distinct users
        stop = np.minimum(day + np.minimum(gap, width), n_days)
        diff = np.zeros((len(labels), n_days + 1), dtype=np.int64)
        np.add.at(diff, (seg, day), users)
        np.add.at(diff, (seg, stop), -users)
        counts[name] = np.cumsum(diff, axis=1)[:, :n_days].astype(float)
        if not include_partial:
            counts[name][:, : width - 1] = np.nan
    dates = periods.ordinal_to_start(np.arange(first_day, last_day + 1), "day")
    out = pd.DataFrame({"date": np.tile(dates, len(labels)), **{k: v.ravel() for k, v in counts.items()}})
    out["stickiness"] = out["dau"] / out["mau"]
    if segment is not None:
        out.insert(0, "segment", np.repeat(labels, n_days))
    if freq != "D":
        next_date = out["date"] + pd.Timedelta(days=1)
        last_of_period = next_date.dt.day_of_week.eq(0) if freq == "W" else next_date.dt.day.eq(1)
        out = out[last_of_period.to_numpy()].reset_index(drop=True)
    return out


def lifecycle(src: IbisEvents, period: str = "week", *, tz: str | None = None, active_events=None) -> pd.DataFrame:
    """:func:`engagement_utils.metrics.lifecycle` from the engine's user × period keys."""
    from .. import metrics

    src = src.with_tz(tz or src.tz)
    keys = keys_as_events(src, period, active_events=active_events)
    out = metrics.lifecycle(keys[keys["event"] == _ACTIVE], period, tz="UTC")
    _, last = ibis_scans.data_bounds(src)
    incomplete = periods.first_incomplete_ordinal(last, period, src.tz)
    ordinal = periods.period_ordinal(out["period_start"].dt.tz_localize("UTC"), period, "UTC")
    return out.assign(complete=ordinal < incomplete)


def session_summary(src: IbisEvents, timeout="30min", *, segment: str | None = None, end=None,
                    alpha: float = 0.05, **options) -> pd.DataFrame:
    """:func:`engagement_utils.sessions.session_summary` of the engine's sessions (segment column: ``segment``)."""
    check_alpha(alpha)
    s = ibis_scans.session_stats(src, timeout, segment=segment, end=end, **options)
    out = pd.DataFrame({"sessions": s["sessions"], "users": s["users"]}).astype(float)
    out["sessions_per_user"] = out["sessions"] / out["users"]
    out["median_sessions_per_user"] = s["median_sessions_per_user"].astype(float)
    out["mean_duration_s"] = s["sum_duration_us"].astype(float) / s["sessions"] / 1e6
    out["median_duration_s"] = s["median_duration_us"].astype(float) / 1e6
    for name, count in (("bounce", "bounced"), ("engaged", "engaged")):
        out[f"{name}_rate"] = s[count] / s["sessions"]
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = wilson_ci(s[count], s["sessions"], alpha)
    if segment is not None:
        out.insert(0, "segment", s["segment"].to_numpy(dtype=object))
    return out


def funnel_from_reach(reach: pd.DataFrame, steps: Sequence, *, segment: bool = False, alpha: float = 0.05) -> pd.DataFrame:
    """The funnel table of :func:`engagement_utils.funnels.funnel` from per-user reach times.

    ``reach``: ``user_id, step, elapsed_us`` [, ``segment``], one row per user and reached step.
    The reach times are replayed as a canonical frame (one event ``step k`` per reached step, at
    the entry + its elapsed time, in step order) through the in-memory funnel, so the table's
    columns, quantiles and intervals are computed by exactly the same code.
    """
    from .. import funnels

    n_steps = len(steps)
    names = [f"step {k}" for k in range(1, n_steps + 1)]
    ordered = reach.sort_values(["user_id", "step"], kind="stable", ignore_index=True)
    codes, users = pd.factorize(ordered["user_id"])
    # a last user who did steps 2..k but never step 1: every step occurs, nobody more enters
    phantom = np.arange(2, n_steps + 1)
    frame = pd.DataFrame({
        "user_id": pd.Categorical.from_codes(np.r_[codes, np.full(len(phantom), len(users))],
                                             list(users) + ["(no entry)"]),
        "timestamp": pd.to_datetime(np.r_[ordered["elapsed_us"].to_numpy(np.int64), phantom] * 1000, utc=True),
        "event": pd.Categorical.from_codes(np.r_[ordered["step"].to_numpy(np.int64), phantom] - 1, names),
    })
    if segment:
        frame["segment"] = np.r_[ordered["segment"].to_numpy(dtype=object), np.full(len(phantom), "", dtype=object)]
    longest = pd.Timedelta(int(ordered["elapsed_us"].max()) + 1, "us") if len(ordered) else pd.Timedelta("1s")
    out = funnels.funnel(frame, names, longest, segment="segment" if segment else None, alpha=alpha)
    labels = dict(zip(names, funnels.funnel(_label_frame(steps), steps, "1s")["step_name"]))
    return out.assign(step_name=out["step_name"].map(labels))


def _label_frame(steps: Sequence) -> pd.DataFrame:
    """A one-user log with one event per alternative of every step: the in-memory funnel then names the steps."""
    from ..funnels import parse_step

    alternatives = [alt for step in steps for alt in parse_step(step)]
    frame = pd.DataFrame(alternatives)
    frame.insert(0, "user_id", "u")
    frame.insert(1, "timestamp", pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.arange(len(frame)), "ms"))
    return frame


def funnel(src: IbisEvents, steps: Sequence, window="7D", *, ordering: str = "sequential", segment: str | None = None,
           end=None, alpha: float = 0.05) -> pd.DataFrame:
    """:func:`engagement_utils.funnels.funnel` (every ordering) with the reach times from the engine."""
    reach = ibis_scans.funnel_reach(src, steps, window, ordering=ordering, segment=segment, end=end)
    return funnel_from_reach(reach, steps, segment=segment is not None, alpha=alpha)


def rolling_experiment_users(src: IbisEvents, assignments, experiment: str, *, conversion_events=("purchase",),
                             window="14D"):
    """Per assigned user (an Ibis table): ``user_id, variant, converted, revenue, events`` in ``[assigned_at, + window)``.

    A rolling window from the assignment instant, left in the engine (the benchmarks' route to
    :func:`experiment_summary`); not 03's definitions: :func:`experiment_users` (calendar days
    from the assignment day, censored, every metric group) returns the in-memory frame.

    ``assignments`` is a frame (copied into the engine) or an Ibis table with
    ``user_id, experiment, variant, assigned_at``.  Users without events in the window get 0.
    """
    import ibis

    from .timezones import utc_instant

    if isinstance(assignments, pd.DataFrame):
        frame = assignments[assignments["experiment"] == experiment][["user_id", "variant", "assigned_at"]].copy()
        frame = frame.astype({"user_id": object if frame["user_id"].dtype == object or
                              isinstance(frame["user_id"].dtype, pd.CategoricalDtype) else frame["user_id"].dtype})
        for column in ("user_id", "variant"):
            if isinstance(frame[column].dtype, pd.CategoricalDtype) or frame[column].dtype == object:
                frame[column] = frame[column].astype(str)
        frame["assigned_at"] = pd.to_datetime(frame["assigned_at"], utc=True).astype("datetime64[us, UTC]")
        a = src.connection.create_table("assignments_" + "".join(ch if ch.isalnum() else "_" for ch in experiment),
                                        frame, overwrite=True)
    else:
        a = assignments.filter(assignments.experiment == experiment).select("user_id", "variant", "assigned_at")
    t = src.table
    ev = t.select(e_user=t.user_id, e_ts=utc_instant(t.timestamp), e_event=t.event,
                  e_revenue=(t.revenue.fill_null(0) if "revenue" in t.columns else ibis.literal(0.0)))
    width = ibis_scans.interval(window)
    start = utc_instant(a.assigned_at)
    j = a.left_join(ev, (a.user_id == ev.e_user) & (ev.e_ts >= start) & (ev.e_ts < start + width))
    conv = j.e_event.isin(list(conversion_events)).fill_null(False)
    return j.group_by(["user_id", "variant"]).aggregate(
        converted=conv.cast("float64").max(), revenue=j.e_revenue.fill_null(0).sum().cast("float64"),
        events=j.e_ts.count().cast("float64"))


def experiment_summary(users, metric: str, *, control: str, variant: str = "variant", kind: str = "mean",
                       alpha: float = 0.05) -> pd.DataFrame:
    """Per treatment arm vs ``control``: the test of ``metric`` from the engine's per-arm sufficient statistics.

    ``kind="binary"``: :func:`engagement_utils.experiments.stats.proportion_test` on (Σy, n);
    ``kind="mean"``: :func:`~engagement_utils.experiments.stats.welch_test` on (mean, variance, n)
    with ``variance = (Σy² - n·mean²) / (n - 1)``.  Columns ``variant, metric, n, mean`` then the test's.
    """
    from ..experiments.stats import proportion_test, welch_test

    check_option("kind", kind, ("binary", "mean"))
    arms = ibis_scans.arm_statistics(users, [metric], variant=variant).set_index(variant)
    if control not in arms.index:
        raise ValueError(f"control={control!r} is not an arm of the metric table; arms: {sorted(map(str, arms.index))}")
    n = arms["n"].astype(float)
    mean = arms["sum"] / n
    var = (arms["sum_sq"] - n * mean**2) / (n - 1)
    others = [v for v in arms.index if v != control]
    c = control
    if kind == "binary":
        test = proportion_test(arms.loc[others, "sum"].to_numpy(), n[others].to_numpy(), arms.loc[c, "sum"], n[c], alpha=alpha)
    else:
        test = welch_test(mean[others].to_numpy(), var[others].to_numpy(), n[others].to_numpy(), mean[c], var[c], n[c], alpha=alpha)
    head = pd.DataFrame({"variant": others, "metric": metric, "n": n[others].to_numpy(), "mean": mean[others].to_numpy()})
    return pd.concat([head, test.reset_index(drop=True)], axis=1)


def assign_personas(features: pd.DataFrame, sample: pd.DataFrame, segmentation, *, chunk_size: int = 1_000_000) -> pd.Series:
    """Persona of every user: the nearest centre of a clustering fitted on a seeded ``sample``, in chunks.

    ``segmentation = personas.segment_users(sample, ...)`` was fitted on ``sample`` (a seeded
    sample of the engine's per-user ``features``).  Every user of ``features`` is transformed as
    the sample was (log1p of ``segmentation.log_columns``, standardized with the sample's mean and
    standard deviation) and gets the persona of the nearest centre, ``chunk_size`` users at a time.

    Examples
    --------
    >>> from engagement_utils.personas import segment_users
    >>> f = pd.DataFrame({"events": [1, 2, 1, 50, 52, 51], "minutes": [1.0, 1.2, 0.9, 30, 29, 31]},
    ...                  index=pd.Index(list("abcdef"), name="user_id"))
    >>> s = segment_users(f, k=2)
    >>> assign_personas(f, f, s, chunk_size=4).equals(s.labels.reindex(f.index))
    True
    """
    from ..personas.clusters import nearest_center

    columns = list(segmentation.columns)

    def transform(frame: pd.DataFrame) -> np.ndarray:
        X = frame[columns].to_numpy(dtype=float, copy=True)
        logged = np.isin(columns, segmentation.log_columns)
        X[:, logged] = np.log1p(X[:, logged])
        return X

    base = transform(sample)
    mean, sd = base.mean(axis=0), base.std(axis=0)
    centers = segmentation.centers[columns].to_numpy(dtype=float)
    persona = np.empty(len(features), dtype=np.int64)
    for lo in range(0, len(features), chunk_size):  # chunks of users, not a loop over users
        X = (transform(features.iloc[lo:lo + chunk_size]) - mean) / sd
        persona[lo:lo + chunk_size] = nearest_center(X, centers, chunk_size=chunk_size)
    return pd.Series(np.asarray(segmentation.centers.index)[persona], index=features.index, name="persona")


def user_features(src: IbisEvents, *, end=None, window=None, tz: str | None = None, conversion_events=None,
                  order_column: str = "order_id", session_features="auto", timeout="30min", count_events=None):
    """:func:`engagement_utils.personas.user_features` with the per-user aggregates in the engine (same table).

    The engine returns one row per user (first and last event before ``end``; events, distinct
    local days, orders, revenue, channels and the ``count_events`` counts in the window; the
    session count, summed duration, events and bounces of the window's sessions; the most
    frequent platform); the ratios (active-day share, means per session, order value) follow in
    Python.  Sessions follow the timeout rule (a ``session_id`` column is not read on the engine).

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "a", "b"],
    ...     "event": ["app_open", "purchase", "app_open", "app_open"],
    ...     "revenue": [None, 20.0, None, None],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:05",
    ...                                  "2024-01-03 09:00", "2024-01-02 12:00"], utc=True)})
    >>> f = user_features(from_frame(ev), end="2024-01-04")
    >>> f.table[["recency_days", "tenure_days", "active_days", "sessions", "orders", "revenue"]].to_dict("index")
    {'a': {'recency_days': 0, 'tenure_days': 2, 'active_days': 2, 'sessions': 2, 'orders': 1, 'revenue': 20.0}, 'b': {'recency_days': 1, 'tenure_days': 1, 'active_days': 1, 'sessions': 1, 'orders': 0, 'revenue': 0.0}}
    """
    import ibis

    from ..core import as_utc
    from ..personas.features import SESSION_FEATURES, SESSION_MODES, UserFeatures, order_columns
    from ..sessions import CONVERSION_EVENTS, VIEW_EVENTS, parse_duration
    from ..validation import as_event_list
    from .timezones import period_ordinal, utc_instant

    check_option("session_features", session_features, SESSION_MODES)
    src = src.with_tz(tz or src.tz)
    t = src.table
    present = set(ibis_scans.execute(t.select("event").distinct())["event"].astype(str))
    if isinstance(conversion_events, (list, tuple)) and len(conversion_events) == 0:
        conversion, counted = (), []
    elif conversion_events is not None:
        conversion = tuple(as_event_list(conversion_events, "conversion_events"))
        ibis_scans.event_predicate(src, list(conversion), "conversion_events")  # unknown names: the same error
        counted = list(conversion)
    else:
        conversion, counted = tuple(CONVERSION_EVENTS), [e for e in CONVERSION_EVENTS if e in present]
    first, last = ibis_scans.data_bounds(src)
    day_ns = pd.Timedelta(days=1).value
    end_ts = last.floor("us") + pd.Timedelta(days=1) if end is None else as_utc(end, "end")
    before = ibis_scans.cut(src, end_ts)
    ts = utc_instant(before.timestamp)
    window_td = None if window is None else parse_duration(window, "window")
    start_ts = None if window_td is None else end_ts - window_td
    in_window = ts.notnull() if start_ts is None else ts >= ibis.literal(start_ts.to_pydatetime())
    is_conv = before.event.isin(counted) if counted else ibis.literal(False)
    has_revenue, has_orders = "revenue" in t.columns, order_column in t.columns

    def windowed(value):
        return ibis.ifelse(in_window, value, None)

    aggs = dict(first=ts.min(), last=ts.max(), events=in_window.cast("int64").sum(),
                active_days=windowed(period_ordinal(before.timestamp, "day", src.tz, src.backend)).nunique(),
                orders=(in_window & is_conv).cast("int64").sum(),
                browsing=(in_window & ~is_conv & (before.revenue.isnull() if has_revenue else ts.notnull()))
                .cast("int64").sum())
    if has_orders:
        order = ibis.ifelse(in_window & is_conv, before[order_column], None)
        aggs["orders"] = order.nunique() + (in_window & is_conv & before[order_column].isnull()).cast("int64").sum()
    if "channel" in t.columns:
        aggs["channels_reached"] = windowed(before.channel).nunique()
    omitted: dict[str, str] = {}
    custom = {}
    for name, names in (count_events or {}).items():
        listed = as_event_list(names, f"count_events[{name!r}]")
        if not set(listed) & present:
            omitted[name] = f"no {', '.join(map(repr, listed))} event in the data"
            continue
        custom[name] = f"_count_{len(custom)}"
        aggs[custom[name]] = (in_window & before.event.isin([e for e in listed if e in present])).cast("int64").sum()
    per_user = ibis_scans.execute(before.group_by("user_id").aggregate(**aggs)).sort_values("user_id", ignore_index=True)
    if per_user.empty:
        raise ValueError(f"no events before end={end_ts}; the events start at {first}")
    n = len(per_user)
    out = pd.DataFrame(index=pd.Index(per_user["user_id"].to_numpy(dtype=object), name="user_id"))
    first_ns = pd.to_datetime(per_user["first"], utc=True).astype("datetime64[ns, UTC]").astype("int64").to_numpy()
    last_ns = pd.to_datetime(per_user["last"], utc=True).astype("datetime64[ns, UTC]").astype("int64").to_numpy()
    out["recency_days"] = (end_ts.value - last_ns) // day_ns
    out["tenure_days"] = (end_ts.value - first_ns) // day_ns
    out["active_days"] = per_user["active_days"].to_numpy(np.int64)
    out["events"] = per_user["events"].to_numpy(np.int64)
    last_day = periods.period_ordinal(pd.Series([end_ts - pd.Timedelta(1, "ns")]), "day", src.tz)[0]
    start_ns = np.iinfo(np.int64).min if start_ts is None else start_ts.value
    eligible_from = pd.Series(np.maximum(first_ns, start_ns).view("M8[ns]")).dt.tz_localize("UTC")
    out["active_day_share"] = out["active_days"] / (last_day - periods.period_ordinal(eligible_from, "day", src.tz) + 1)
    has_views = bool(present & set(VIEW_EVENTS)) or "session_id" in t.columns or bool(per_user["browsing"].sum())
    if session_features is True or (session_features == "auto" and has_views):
        windowed_src = src if start_ts is None else src.with_table(ibis_scans.cut(src, start=start_ts))
        s = ibis_scans.session_expr(windowed_src, timeout, end=end_ts)
        stats = ibis_scans.execute(s.group_by("user_id").aggregate(
            sessions=s.count(), duration_us=s.duration_us.sum(), n_events=s.n_events.sum(),
            bounced=s.bounce.cast("int64").sum())).set_index("user_id").reindex(out.index)
        n_sessions = stats["sessions"].fillna(0).to_numpy(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["sessions"] = n_sessions
            out["mean_session_s"] = stats["duration_us"].fillna(0).to_numpy(float) / 1e6 / n_sessions
            out["events_per_session"] = stats["n_events"].fillna(0).to_numpy(float) / n_sessions
            out["bounce_rate"] = stats["bounced"].fillna(0).to_numpy(float) / n_sessions
    else:
        reason = ("turned off (session_features=False)" if session_features is False else
                  "the events have no browsing events (only conversions and events with revenue) or session_id: "
                  "sessions of a purchase-only log would only restate orders")
        omitted.update(dict.fromkeys(SESSION_FEATURES, reason))
    revenue = revenue_by_user(before.filter(in_window), out.index) if has_revenue else None
    out = order_columns(out, per_user["orders"].to_numpy(np.int64), revenue, conversion, omitted)
    if "channel" in t.columns:
        out["channels_reached"] = per_user["channels_reached"].to_numpy(np.int64)
    else:
        omitted["channels_reached"] = "the events have no 'channel' column"
    if "platform" in t.columns:
        out["main_platform"] = _main_platform(src, before, out.index)
    else:
        omitted["main_platform"] = "the events have no 'platform' column"
    for name, column in custom.items():
        if name in out.columns:
            raise ValueError(f"count_events name {name!r} clashes with a built-in feature; choose another name")
        out[name] = per_user[column].to_numpy(np.int64)
    assert len(out) == n
    return UserFeatures(table=out, end=end_ts, window=window_td, omitted=omitted, conversion_events=conversion)


def revenue_by_user(t, users: pd.Index) -> np.ndarray:
    """Per user of ``users`` the sum of ``revenue`` over the events of table ``t``, added in the events' order.

    The engine returns the events with revenue (purchases, not every event) in row order and
    numpy adds them as the in-memory features do, so the sums agree to the last bit (an engine's
    own SUM adds in any order: a median of two sums at half a cent could round the other way).
    """
    from .connect import SEQ_COLUMN

    order = [SEQ_COLUMN] if SEQ_COLUMN in t.columns else [t.timestamp]
    rows = ibis_scans.execute(t.filter(t.revenue.notnull() & (t.revenue != 0))
                              .order_by([t.user_id, *order]).select("user_id", "revenue"))
    code = pd.Index(users).astype(str).get_indexer(rows["user_id"].astype(str))
    keep = code >= 0
    return np.bincount(code[keep], weights=rows["revenue"].to_numpy(float)[keep], minlength=len(users))


def _main_platform(src: IbisEvents, before, users: pd.Index) -> pd.Categorical:
    """Most frequent non-missing platform per user (ties: the first in sorted order), ``"unknown"`` if none."""
    import ibis

    labels = sorted(ibis_scans.execute(src.table.select("platform").distinct())["platform"].dropna().astype(str))
    counts = before.filter(before.platform.notnull()).group_by(["user_id", "platform"]).aggregate(n=_.count())
    ranked = counts.mutate(rank=ibis.row_number().over(group_by=counts.user_id,
                                                      order_by=[ibis.desc(counts.n), counts.platform.cast("string")]))
    best = ibis_scans.execute(ranked.filter(ranked["rank"] == 0).select("user_id", "platform"))
    main = pd.Series(best["platform"].astype(str).to_numpy(), index=best["user_id"].to_numpy(dtype=object)).reindex(users)
    names = list(dict.fromkeys(labels + ["unknown"]))
    return pd.Categorical(main.fillna("unknown").to_numpy(dtype=object), categories=names)


def persona_outcomes(src: IbisEvents, labels: pd.Series, *, names=None, conversion_events=None, max_days: int = 30,
                     users: pd.DataFrame | None = None, segment: str = "acquisition_channel", tz: str | None = None,
                     alpha: float = 0.05, min_group_size: int = 10):
    """:func:`engagement_utils.personas.persona_outcomes` with the scans in the engine (same tables).

    The personas go into the engine as a small table joined to the events; the engine returns
    per labelled user whether they converted and their revenue, the persona day-retention counts
    (:func:`retention_matrix` with the persona as segment) and, without the segment in ``users``,
    each user's first value of the segment column.

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "c"], "event": ["open", "purchase", "open", "open"],
    ...     "revenue": [None, 10.0, None, None],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-03"], utc=True)})
    >>> out = persona_outcomes(from_frame(ev), pd.Series({"a": 0, "b": 1, "c": 1}), max_days=1)
    >>> out.summary[["persona", "users", "converted", "revenue_per_user"]].values.tolist()
    [['Persona 0', 1, 1, 10.0], ['Persona 1', 2, 0, 0.0]]
    """
    import ibis

    from ..personas.describe import persona_names
    from ..personas.outcomes import outcomes_from
    from ..sessions import CONVERSION_EVENTS
    from ..validation import as_event_list
    from .overview import with_user_columns

    check_alpha(alpha)
    src = src.with_tz(tz or src.tz)
    labels = pd.Series(labels)
    persona = persona_names(labels, names)
    frame = pd.DataFrame({"user_id": pd.Index(labels.index).astype(str), "_persona": persona.astype(str).to_numpy()})
    joined = with_user_columns(src, frame, ["_persona"])
    t = joined.table.filter(joined.table._persona.notnull())
    if int(ibis_scans.execute(t.count().name("n").as_table())["n"].iloc[0]) == 0:
        raise ValueError("no event belongs to a labelled user; pass labels indexed by the events' user_id")
    if isinstance(conversion_events, (list, tuple)) and len(conversion_events) == 0:
        listed = []
    elif conversion_events is not None:
        listed = list(as_event_list(conversion_events, "conversion_events"))
        ibis_scans.event_predicate(src, listed, "conversion_events")
    else:
        listed = list(CONVERSION_EVENTS)
    conv = t.event.isin(listed) if listed else ibis.literal(False)
    per_user = ibis_scans.execute(t.group_by("user_id").aggregate(converted=conv.cast("int64").max())).set_index("user_id")
    ids = pd.Index(labels.index).astype(str)
    per_user.index = per_user.index.astype(str)
    converted = per_user.reindex(ids)["converted"].fillna(0).to_numpy() > 0
    revenue = revenue_by_user(t, ids) if "revenue" in t.columns else np.full(len(labels), np.nan)
    matrix = retention_matrix(joined.with_table(t.rename(persona="_persona")), "day", segment="persona",
                              max_periods=max_days, alpha=alpha)
    values = None
    if users is not None and segment in users.columns:
        if "user_id" not in users.columns:
            raise ValueError(f"the users table has no 'user_id' column; columns present: {list(users.columns)}")
        values = pd.Series(users[segment].to_numpy(), index=users["user_id"].to_numpy()).reindex(labels.index)
    elif segment in src.columns:
        ranked = t.mutate(_rank=ibis.row_number().over(group_by=t.user_id, order_by=ibis_scans._order(t)))
        first = ibis_scans.execute(ranked.filter(ranked._rank == 0).select("user_id", segment))
        values = pd.Series(first[segment].to_numpy(dtype=object), index=first["user_id"].astype(str).to_numpy()).reindex(ids)
        values.index = labels.index
    return outcomes_from(labels, persona, converted, revenue, matrix, values, segment=segment, alpha=alpha,
                         min_group_size=min_group_size)


def conversion_rate(src: IbisEvents, conversion_events="purchase", *, users: pd.DataFrame | None = None,
                    segment: str | None = None, within_days: int | None = None, tz: str | None = None, end=None,
                    alpha: float = 0.05) -> pd.DataFrame:
    """:func:`engagement_utils.metrics.conversion_rate` with the converting users found in the engine (same table).

    The engine returns the users with a conversion event (and, without ``users``, every user with
    the ``segment`` value of their first event); the rates and Wilson intervals follow in Python.
    ``within_days`` needs the events in memory.

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "c"], "event": ["open", "purchase", "open", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-05"], utc=True)})
    >>> conversion_rate(from_frame(ev))[["users", "converted", "conversion_rate"]].round(4).values.tolist()
    [[3.0, 1.0, 0.3333]]
    """
    import ibis

    from ..inputs import check_column
    from ..metrics.conversion import rate_table

    if within_days is not None:
        raise ValueError("within_days needs the events in memory (`engine: memory` in the events block of the data-set "
                         "description); on the engine leave it None")
    src = src.with_tz(tz or src.tz)
    predicate = ibis_scans.event_predicate(src, conversion_events, "conversion_events")
    t = src.table
    converters = set(ibis_scans.execute(t.filter(predicate).select("user_id").distinct())["user_id"].astype(str))
    if users is not None:
        if segment:
            check_column(users, segment, "segment", "users table")
        people = users[["user_id", *([segment] if segment else [])]].copy(deep=False)
    else:
        columns = ["user_id"]
        if segment:
            src.check_column(segment)
            columns.append(segment)
        ranked = t.mutate(_rank=ibis.row_number().over(group_by=t.user_id, order_by=ibis_scans._order(t)))
        people = ibis_scans.execute(ranked.filter(ranked._rank == 0).select(*columns)).sort_values("user_id", ignore_index=True)
    people = people.assign(converted=people["user_id"].astype(str).isin(converters).astype(float))
    return rate_table(people, segment, alpha)
