"""The input of an experiment report, read from the run's data set and reduced to one analysable input.

A data-set description (:mod:`engagement_utils.dataset`) names the experiment in one of three
shapes; the first named in this order is used:

1. ``experiment_summary`` — per-arm summary statistics (CSV, Parquet or YAML;
   :func:`load_experiment_summary`), e.g. what a warehouse query returns;
2. ``experiment_users`` — one row per assigned user (CSV or Parquet;
   :func:`load_experiment_users`): a ``variant`` column, metric columns and optionally
   ``assigned_at`` and pre-period covariates;
3. ``assignments`` with the ``events`` — per-user metrics measured from each user's
   assignment (:func:`experiment_users`).  The events may be in memory or on an engine
   (``engine: ibis`` in the events block): the scans then run there and the same per-user
   frame comes back, so every section reads the same.

Shapes 2 and 3 give a per-user frame, shape 1 :class:`Summaries`; :func:`analyze_experiment`
takes either and computes everything from the same sufficient statistics. A data set that
names none of them has no experiment: :func:`load_experiment` says so in one sentence and
:func:`experiment_sections` skips every section of the report quietly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import io
from ..data_profile import missing_for, profile, requires
from ..engagement_report import Sections
from ..io.validate import Checker
from .metrics import experiment_users
from .sufficient import Summaries, summaries_from_table

__all__ = ["ExperimentData", "ExperimentSections", "NO_EXPERIMENT", "SECTIONS", "experiment_sections",
           "load_experiment", "load_experiment_summary", "load_experiment_users"]

SHAPES = ("events", "per_user", "summary", "none")

NO_EXPERIMENT = ("No experiment in this data set: it names no assignments (nor an `experiment_users` or "
                 "`experiment_summary` table) — add an `assignments:` input (user_id, experiment, variant[, assigned_at]) "
                 "to run this report.")
"""The one line report 03 shows on a data set without an experiment."""

SECTIONS = ("Verdict", "Sample ratio check", "Results", "CUPED", "Over the course of the test",
            "Retention after assignment", "By segment", "Bayesian view", "Power", "Methods")
"""The sections of report 03, in order."""

EXPERIMENT = "A/B test"
"""The name the report header's skipped list gives a missing experiment (every section at once)."""


@dataclass(frozen=True)
class ExperimentData:
    """An experiment's input.

    Attributes
    ----------
    shape : {"events", "per_user", "summary", "none"}
        "none": the data set has no experiment.
    data : DataFrame, Summaries or None
        What :func:`analyze_experiment` takes.
    experiment : str or None
        The experiment id the report is about (None without an experiment).
    users : DataFrame or None
        The per-user frame (shapes events and per_user).
    events : DataFrame, IbisEvents or None
        Shape events only: the events in memory, or the engine source they stay in
        (:class:`engagement_utils.engines.IbisEvents`; retention after assignment scans it there).
    assignments : DataFrame or None
        Shape events only: sections that need events are shown only when these exist.
    text : list of str
        Sentences about the input: its shape, the data end, censored users (or that there is none).
    left_out : dict
        Metric → why it is not measured (events shape: revenue metrics when the events have no
        revenue column, rather than a revenue of 0 for everyone); see :meth:`analysable`.
    tz : str
        Report timezone (the parameter, else the data set's).
    end : Timestamp or None
        Data end, exclusive (the parameter, else the data set's; None: the last event's day is in progress).
    """

    shape: str
    data: object
    experiment: str | None = None
    users: pd.DataFrame | None = None
    events: object = None  # a DataFrame or an engines.IbisEvents
    assignments: pd.DataFrame | None = None
    text: list = field(default_factory=list)
    left_out: dict = field(default_factory=dict)
    tz: str = "UTC"
    end: pd.Timestamp | None = None

    @property
    def found(self) -> bool:
        """Whether the data set has an experiment to analyse."""
        return self.shape != "none"

    @property
    def has_events(self) -> bool:
        """Whether an event log with assignments was given (retention after assignment needs it)."""
        return self.events is not None and self.assignments is not None

    @property
    def has_assignment_times(self) -> bool:
        """Whether users have ``assigned_at`` (the cumulative view over the test needs it)."""
        return self.users is not None and "assigned_at" in self.users.columns

    def analysable(self, metrics):
        """The metrics of ``metrics`` (a list, or a mapping such as the guardrails) that are measured.

        Examples
        --------
        >>> exp = ExperimentData("events", None, left_out={"revenue_14d": "no revenue column"})
        >>> exp.analysable(["converted_14d", "revenue_14d"]), exp.analysable({"revenue_14d": 0.05})
        (['converted_14d'], {})
        """
        if isinstance(metrics, Mapping):
            return {name: value for name, value in metrics.items() if name not in self.left_out}
        return [name for name in metrics if name not in self.left_out]

    def key_numbers(self) -> dict[str, str]:
        """The input's headline numbers: the experiment, the input's shape and, with assignment times, the assignment dates."""
        if not self.found:
            return {"Experiment": "none in this data set"}
        out = {"Experiment": self.experiment} if self.experiment else {}
        out["Input"] = self.shape.replace("_", " ")
        if self.has_assignment_times:
            at = self.users["assigned_at"]
            out["Assigned"] = f"{at.min():%Y-%m-%d} to {at.max():%Y-%m-%d}"
        return out


class ExperimentSections(Sections):
    """:class:`~engagement_utils.engagement_report.Sections` of report 03.

    The experiment's needs are inputs a data profile does not list (an experiment table may
    come without events), so they are checked on the loaded :class:`ExperimentData` and given
    as ``extra`` sentences.  Without an experiment every section is skipped quietly:
    :meth:`ok` returns False without a note (the report's one line is the input's text) and
    the header lists the experiment once.  Like the data overview's header, :meth:`key_number`
    is empty when every section is shown.
    """

    def __init__(self, missing: Mapping[str, Sequence[str]]):
        self.needs = {name: () for name in missing}
        self.profile = None
        self._missing = {name: list(lines) for name, lines in missing.items()}

    def ok(self, name: str) -> bool:
        """True when section ``name`` can be shown; else its note (none without an experiment) and False."""
        if self.missing(EXPERIMENT):
            return False
        return super().ok(name)

    @property
    def skipped(self) -> list[str]:
        """The sections skipped; just the experiment when there is none."""
        return [EXPERIMENT] if self.missing(EXPERIMENT) else super().skipped

    def key_number(self) -> dict[str, str]:
        """``{"Skipped sections": "..."}``, or ``{}`` when every section is shown."""
        return super().key_number() if self.skipped else {}


def experiment_sections(exp: ExperimentData) -> ExperimentSections:
    """The sections of report 03 and what each needs.

    * every section: an experiment (``assignments``, ``experiment_users`` or ``experiment_summary``);
    * Over the course of the test: assignment times (``assigned_at``);
    * Retention after assignment: an event log with the assignments.

    Examples
    --------
    >>> s = experiment_sections(ExperimentData("none", None, text=[NO_EXPERIMENT]))
    >>> s.ok("Results"), s.skipped, s.key_number()
    (False, ['A/B test'], {'Skipped sections': 'A/B test (needs an experiment)'})
    >>> s = experiment_sections(ExperimentData("summary", None, experiment="x"))
    >>> s.skipped
    ['Over the course of the test', 'Retention after assignment']
    """
    missing = {name: [] for name in (EXPERIMENT, *SECTIONS)}
    if not exp.found:
        missing[EXPERIMENT].append("needs an experiment: an `assignments:` input with the `events`, or an "
                                   "`experiment_users` or `experiment_summary` table")
        return ExperimentSections(missing)
    if not exp.has_assignment_times:
        missing["Over the course of the test"].append(
            "needs assignment times, which per-arm summaries do not have" if exp.shape == "summary" else
            "needs assignment times (an `assigned_at` column in the per-user table)")
    if not exp.has_events:
        missing["Retention after assignment"].append(
            "needs the event log with the assignments (`events:` and `assignments:` in the data-set description)")
    return ExperimentSections(missing)


def load_experiment_users(source, *, column_map: Mapping[str, str] | None = None,
                          timestamp_format: str | None = None) -> pd.DataFrame:
    """Load a per-user experiment table: ``variant``, metric columns, optional ``assigned_at``, ``experiment``, covariates.

    Examples
    --------
    >>> u = load_experiment_users(pd.DataFrame({"arm": ["control", "b"], "converted": [0, 1]}), column_map={"arm": "variant"})
    >>> u.columns.tolist()
    ['variant', 'converted']
    """
    frame = io.read_table(source, "experiment users")
    check = Checker(frame, source, "experiment users")
    check.apply_column_map(column_map)
    check.require(["variant"])
    if "variant" in check.frame.columns and check.frame["variant"].isna().any():
        missing = check.frame["variant"].isna()
        check.add(f"column 'variant': {int(missing.sum())} missing value(s), first at {check.rows(missing)}")
    check.timestamps("assigned_at", timestamp_format)
    check.raise_if_any()
    return check.frame.reset_index(drop=True)


def load_experiment_summary(source, *, column_map: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Load per-arm summary statistics: ``variant, metric, n`` and ``sum`` (+ ``sum_squares``), or ``mean`` and ``sd``.

    CSV or Parquet with those columns (see :func:`~.sufficient.summaries_from_table`), or YAML
    with ``rows:`` (the same columns), optionally ``users:`` (assigned users per variant, for
    the sample ratio check; becomes a ``users`` column) and ``metrics:`` (kinds; become a
    ``kind`` column)::

        users: {control: 5000, treatment: 5000}
        metrics: {converted: binary}
        rows:
          - {variant: control, metric: converted, n: 5000, sum: 610}
    """
    if isinstance(source, (str, Path)) and Path(source).suffix.lower() in (".yml", ".yaml"):
        import yaml

        path = Path(source)
        if not path.is_file():
            raise io.DataValidationError([f"file not found: {path}"], "experiment summary")
        content = yaml.safe_load(path.read_text())
        if not isinstance(content, Mapping) or not isinstance(content.get("rows"), list):
            raise io.DataValidationError([f"{path.name}: a summary YAML file needs a 'rows:' list (and optionally "
                                          "'users:' and 'metrics:')"], f"experiment summary ({path})")
        frame = pd.DataFrame(content["rows"])
        if content.get("users") and "variant" in frame.columns:
            frame["users"] = frame["variant"].astype(str).map({str(k): v for k, v in dict(content["users"]).items()})
        kinds = {name: entry.get("kind") if isinstance(entry, Mapping) else entry
                 for name, entry in dict(content.get("metrics") or {}).items()}
        if kinds and "metric" in frame.columns:
            frame["kind"] = frame["metric"].map(kinds).combine_first(frame["kind"]) if "kind" in frame else frame["metric"].map(kinds)
    else:
        frame = io.read_table(source, "experiment summary")
    check = Checker(frame, source, "experiment summary")
    check.apply_column_map(column_map)
    check.require(["variant", "metric", "n"])
    check.raise_if_any()
    return check.frame.reset_index(drop=True)


def _assignments_of(assignments: pd.DataFrame, experiment: str | None) -> str:
    """The experiment id to analyse: ``experiment``, or the only one in the assignments when blank."""
    present = sorted(assignments["experiment"].astype(str).unique())
    if experiment:
        if experiment not in present:
            raise ValueError(f"experiment {experiment!r} is not in the assignments; experiments present: "
                             f"{', '.join(present) or 'none'} (set the `experiment` parameter to one of them)")
        return experiment
    if len(present) != 1:
        raise ValueError(f"the assignments hold {len(present)} experiments ({', '.join(present)}); "
                         "set the `experiment` parameter to the one to analyse")
    return present[0]


def load_experiment(
    dataset,
    *,
    experiment: str | None = None,
    metrics: Mapping | None = None,
    analysed: Sequence[str] = (),
    conversion_events: Sequence[str] | None = None,
    conversion_days: int = 14,
    window_days: int = 14,
    pre_period_days: int = 28,
    tz: str | None = None,
    end=None,
) -> ExperimentData:
    """Load the experiment of a data set in whichever shape it names (see the module docstring).

    Parameters
    ----------
    dataset : data-set description or DataSet
        A description (mapping, YAML path, ``DataSetDescription``; loaded here, events
        optional when an experiment table is named) or a loaded ``DataSet``.
    experiment : str, optional
        Experiment id in the assignments (blank: the only one there); a per-user table with
        an ``experiment`` column is filtered to it.
    metrics : mapping, optional
        Declared metric kinds (see :func:`~.sufficient.summarize`).
    analysed : sequence of str
        The metrics the report analyses (for the censoring sentence).
    conversion_events : sequence of str, optional
        Events that count as a conversion; blank: the data set's conversion-event role.
    conversion_days, window_days, pre_period_days
        Metric definitions of the events shape (see :func:`experiment_users`).
    tz : str, optional
        Report timezone; blank: the data set's.
    end : str or Timestamp, optional
        Data end (exclusive); blank: the data set's. Events shape: windows ending after it
        are censored; without it the last event's day is treated as in progress. Per-user
        shape: users assigned at or after it are left out.

    Returns
    -------
    ExperimentData
        Shape "none" (and one sentence saying so) when the data set names no experiment.

    Examples
    --------
    >>> exp = load_experiment({"experiment_summary": "data/examples/ab_summary.csv"}, experiment="checkout_redesign")
    >>> exp.shape, exp.found, exp.data.variants
    ('summary', True, ['control', 'treatment'])
    >>> load_experiment({"events": "data/external/ecom/ecom.csv.gz"}).text == [NO_EXPERIMENT]
    True
    """
    from ..dataset import DataSet, load_dataset

    ds = dataset if isinstance(dataset, DataSet) else load_dataset(dataset, events_required=False)
    ds = ds.with_roles(conversion_events=conversion_events)
    tz = tz.strip() if isinstance(tz, str) and tz.strip() else ds.tz
    end = ds.end if end is None or (isinstance(end, str) and not end.strip()) else end
    end_ts = None if end is None else pd.Timestamp(end)
    if end_ts is not None and end_ts.tzinfo is None:
        end_ts = end_ts.tz_localize("UTC")
    if ds.experiment_summary is not None:
        summaries: Summaries = summaries_from_table(ds.experiment_summary, declared=metrics)
        name = ds.description.inputs["experiment_summary"].path.name
        text = [f"Input: per-arm summary statistics ({name}): {len(summaries.variants)} variants, "
                f"{len(summaries.metrics)} metrics, {int(summaries.assigned.sum()):,} assigned users."]
        return ExperimentData("summary", summaries, experiment=experiment or None, text=text, tz=tz, end=end_ts)
    if ds.experiment_users is not None:
        users = ds.experiment_users
        if experiment and "experiment" in users.columns:
            present = sorted(users["experiment"].astype(str).unique())
            if experiment not in present:
                raise ValueError(f"experiment {experiment!r} is not in the per-user table's 'experiment' column; "
                                 f"experiments present: {', '.join(present)}")
            users = users[users["experiment"].astype(str) == experiment]
        if "assigned_at" in users.columns and end_ts is not None:
            users = users[users["assigned_at"] < end_ts]
        users = users.reset_index(drop=True)
        name = ds.description.inputs["experiment_users"].path.name
        text = [f"Input: one row per user ({name}): {len(users):,} users."]
        return ExperimentData("per_user", users, experiment=experiment or None, users=users,
                              text=text + _censored(users, analysed), tz=tz, end=end_ts)
    if ds.assignments is None:
        return ExperimentData("none", None, text=[NO_EXPERIMENT], tz=tz, end=end_ts)
    experiment = _assignments_of(ds.assignments, experiment)
    if not ds.roles.conversion_events:
        raise ValueError("no conversion events: the converted, purchases and revenue metrics count them; set "
                         "`conversion_events:` in the data-set description (or the notebook's conversion_events parameter)")
    users = experiment_users(ds.assignments, ds.events, experiment, conversion_events=ds.roles.conversion_events or [],
                             conversion_days=conversion_days, window_days=window_days, pre_period_days=pre_period_days,
                             tz=tz, end=end_ts)
    day = users.attrs.get("experiment", {}).get("first_incomplete_day")
    where = (f"data end {end_ts:%Y-%m-%d %H:%M} UTC" if end_ts is not None
             else f"no end given: the last event's day ({day}) is treated as in progress")
    text = [f"Input: event log and assignments: {len(users):,} users assigned to {experiment}; {where}."]
    left_out = {}
    lacking = missing_for(requires(columns=["revenue"]), profile(ds.events))
    if lacking:  # without a revenue column every user's revenue would read 0: not measured instead
        left_out = {column: lacking[0] for column in users.columns if "revenue" in column}
        users = users.drop(columns=list(left_out))
        text.append(f"Revenue metrics ({', '.join(left_out)}) are not measured rather than read as 0: the experiment {lacking[0]}.")
    return ExperimentData("events", users, experiment=experiment, users=users, events=ds.events,
                          assignments=ds.assignments, text=text + _censored(users, analysed), left_out=left_out,
                          tz=tz, end=end_ts)


def _censored(users: pd.DataFrame, analysed: Sequence[str]) -> list[str]:
    counts = {m: int(users[m].isna().sum()) for m in analysed if m in users.columns and users[m].isna().any()}
    if not counts:
        return []
    listed = "; ".join(f"{m}: {k:,} of {len(users):,}" for m, k in counts.items())
    return [f"Users without a value (window not complete at the data end, left out rather than counted as 0): {listed}."]
