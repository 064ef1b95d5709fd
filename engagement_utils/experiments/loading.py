"""The three input shapes of an experiment report, reduced to one analysable input.

1. an event log and an assignment table (``events_path`` + ``assignments_path``): per-user
   metrics measured from each user's assignment (:func:`experiment_users`);
2. one row per user (``per_user_path``, CSV or Parquet): a ``variant`` column, metric
   columns and optionally ``assigned_at`` and pre-period covariates;
3. per-arm summary statistics (``summary_path``, CSV or YAML; :func:`read_summaries`).

The first path given in the order summary, per-user, events is used. Shapes 1 and 2 give a
per-user frame, shape 3 :class:`Summaries`; :func:`analyze_experiment` takes either and
computes everything from the same sufficient statistics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import io
from .metrics import experiment_users
from .sufficient import Summaries, read_summaries

__all__ = ["ExperimentData", "load_experiment"]

SHAPES = ("events", "per_user", "summary")


@dataclass(frozen=True)
class ExperimentData:
    """An experiment's input.

    Attributes
    ----------
    shape : {"events", "per_user", "summary"}
    data : DataFrame or Summaries
        What :func:`analyze_experiment` takes.
    users : DataFrame or None
        The per-user frame (shapes 1 and 2).
    events, assignments : DataFrame or None
        Shape 1 only: sections that need events are shown only when these exist.
    text : list of str
        Sentences about the input: its shape, the data end, censored users.
    """

    shape: str
    data: object
    users: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    assignments: pd.DataFrame | None = None
    text: list = field(default_factory=list)

    @property
    def has_events(self) -> bool:
        """Whether an event log was given (retention after assignment needs it)."""
        return self.events is not None

    def key_numbers(self) -> dict[str, str]:
        """The input's headline numbers: its shape and, with assignment times, the assignment dates."""
        out = {"Input": self.shape.replace("_", " ")}
        if self.has_assignment_times:
            at = self.users["assigned_at"]
            out["Assigned"] = f"{at.min():%Y-%m-%d} to {at.max():%Y-%m-%d}"
        return out

    @property
    def has_assignment_times(self) -> bool:
        """Whether users have ``assigned_at`` (the cumulative view over the test needs it)."""
        return self.users is not None and "assigned_at" in self.users.columns


def _read_table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)


def load_experiment(
    *,
    events_path=None,
    assignments_path=None,
    per_user_path=None,
    summary_path=None,
    experiment: str | None = None,
    metrics: Mapping | None = None,
    analysed: Sequence[str] = (),
    conversion_events: Sequence[str] = ("purchase",),
    conversion_days: int = 14,
    window_days: int = 14,
    pre_period_days: int = 28,
    tz: str = "UTC",
    end=None,
) -> ExperimentData:
    """Load whichever input shape is given (see the module docstring).

    Parameters
    ----------
    events_path, assignments_path, per_user_path, summary_path : path, optional
    experiment : str, optional
        Experiment id in the assignments (shape 1); a per-user table with an
        ``experiment`` column is filtered to it.
    metrics : mapping, optional
        Declared metric kinds (see :func:`~.sufficient.summarize`).
    analysed : sequence of str
        The metrics the report analyses (for the censoring sentence).
    conversion_events, conversion_days, window_days, pre_period_days, tz
        Metric definitions of shape 1 (see :func:`experiment_users`).
    end : str or Timestamp, optional
        Data end (exclusive). Shape 1: windows ending after it are censored; without it
        the last event's day is treated as in progress. Shape 2: users assigned at or
        after it are left out.

    Returns
    -------
    ExperimentData
    """
    if summary_path:
        summaries: Summaries = read_summaries(summary_path, declared=metrics)
        text = [f"Input: per-arm summary statistics ({Path(summary_path).name}): {len(summaries.variants)} variants, "
                f"{len(summaries.metrics)} metrics, {int(summaries.assigned.sum()):,} assigned users."]
        return ExperimentData("summary", summaries, text=text)
    end_ts = None if end is None or end == "" else pd.Timestamp(end)
    if end_ts is not None and end_ts.tzinfo is None:
        end_ts = end_ts.tz_localize("UTC")
    if per_user_path:
        users = _read_table(Path(per_user_path))
        if experiment and "experiment" in users.columns:
            users = users[users["experiment"].astype(str) == experiment]
        if "assigned_at" in users.columns:
            users = users.assign(assigned_at=pd.to_datetime(users["assigned_at"], utc=True))
            if end_ts is not None:
                users = users[users["assigned_at"] < end_ts]
        users = users.reset_index(drop=True)
        text = [f"Input: one row per user ({Path(per_user_path).name}): {len(users):,} users."]
        return ExperimentData("per_user", users, users=users, text=text + _censored(users, analysed))
    if not (events_path and assignments_path):
        raise ValueError("no experiment input: give summary_path (per-arm statistics), per_user_path (one row per user), "
                         "or events_path and assignments_path (event log and assignments)")
    events = io.load_events(events_path)
    assignments = io.load_assignments(assignments_path)
    users = experiment_users(assignments, events, experiment, conversion_events=conversion_events,
                             conversion_days=conversion_days, window_days=window_days, pre_period_days=pre_period_days,
                             tz=tz, end=end_ts)
    day = users.attrs.get("experiment", {}).get("first_incomplete_day")
    where = (f"data end {end_ts:%Y-%m-%d %H:%M} UTC" if end_ts is not None
             else f"no end given: the last event's day ({day}) is treated as in progress")
    text = [f"Input: event log and assignments: {len(users):,} users assigned to {experiment}; {where}."]
    return ExperimentData("events", users, users=users, events=events, assignments=assignments,
                          text=text + _censored(users, analysed))


def _censored(users: pd.DataFrame, analysed: Sequence[str]) -> list[str]:
    counts = {m: int(users[m].isna().sum()) for m in analysed if m in users.columns and users[m].isna().any()}
    if not counts:
        return []
    listed = "; ".join(f"{m}: {k:,} of {len(users):,}" for m, k in counts.items())
    return [f"Users without a value (window not complete at the data end, left out rather than counted as 0): {listed}."]
