"""One data set per run: a run's inputs and event roles, described once.

A *data-set description* is a small mapping (a YAML file or a dict) naming
the inputs of a run — ``events`` (required) and optionally ``users``,
``assignments``, ``spend``, ``surveys`` and the experiment tables
``experiment_users`` / ``experiment_summary`` — each with its ``path`` and its
own loading options, plus the event roles every notebook shares, the report
timezone, the data end and the currency::

    name: ecom clickstream
    events:
      path: data/external/ecom/ecom.csv.gz
      # loading options of sources.load_source, or an export preset:
      # preset: amplitude
    users: data/my_users.csv          # a bare path is {path: ...}
    tz: UTC
    end: "2024-06-30"                 # the data end ("as of"); default: the last event
    currency: EUR
    conversion_events: purchase
    cart_events: add_to_cart
    checkout_events: [shipping_details, payment_details]
    funnel_steps: [product_view, add_to_cart, shipping_details, payment_details, purchase]
    start_events: null                # null: any event
    return_events: null
    active_events: null

Where the events live (issue 15): ``engine`` in the ``events`` block selects the
engine for every notebook of a run.  ``engine: memory`` (the default) loads the
events into pandas; ``engine: ibis`` leaves them where they are and hands the
notebooks an :class:`engagement_utils.engines.IbisEvents` (the heavy scans run
in the engine, small tables come back)::

    events: {path: data/events/*.parquet, engine: ibis, memory_limit: 4GB}        # DuckDB, out of core
    events: {engine: ibis, connection: {backend: bigquery, project_id: p, dataset_id: analytics},
             table: events}                                                      # a warehouse table

With ``engine: ibis`` the table must already be canonical (``user_id``,
``timestamp``, ``event``, properties): only :data:`ENGINE_EVENTS_OPTIONS`
apply (the date window and ``drop_duplicates`` run in the engine); the other
inputs (users, assignments, ...) are small and load into pandas as usual.

An A/B test can also come without an event log, as one row per assigned user
(``experiment_users``) or as per-arm summary statistics (``experiment_summary``,
CSV or YAML); a description naming one of those may leave out ``events``, and
then only the A/B test report (03) runs on it::

    name: checkout test (warehouse summary)
    experiment_summary: data/examples/ab_summary.csv

Whatever the description does not name is **absent**: :func:`load_dataset`
returns ``None`` for it, never a demo file.  Relative paths are resolved
against the project root (the folder holding ``pyproject.toml``), so a
description works from any working directory.

Keys
----
Top level: :data:`TOP_LEVEL_KEYS`.  Events options: :data:`EVENTS_OPTIONS`
(``preset`` selects an export preset of :mod:`engagement_utils.presets`;
the others are those of :func:`engagement_utils.sources.load_source`).
Options of the other inputs: :data:`TABLE_OPTIONS` (those of the
``io.load_*`` loaders and of ``experiments.load_experiment_users``);
``experiment_summary`` takes :data:`SUMMARY_OPTIONS`.  An unknown key is an
error in the shared option format, naming the key path and the closest
allowed key.
"""

from __future__ import annotations

import os
import zoneinfo
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import yaml

from . import filters, io, presets, sources
from .funnels import parse_step
from .validation import as_event_list, check_option

__all__ = [
    "DataSet",
    "DataSetDescription",
    "EventRoles",
    "InputSpec",
    "DataSetError",
    "INPUTS",
    "ROLES",
    "TOP_LEVEL_KEYS",
    "EVENTS_OPTIONS",
    "TABLE_OPTIONS",
    "SUMMARY_OPTIONS",
    "EXPERIMENT_INPUTS",
    "PROJECT_ROOT",
    "describe_dataset",
    "load_dataset",
    "load_events_input",
    "ENGINES",
    "ENGINE_EVENTS_OPTIONS",
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
"""The folder holding ``pyproject.toml``: relative paths in a description start here."""

INPUTS = ("events", "users", "assignments", "spend", "surveys", "experiment_users", "experiment_summary")
"""The inputs a description can name; only ``events`` is required (unless an experiment table is named)."""

EXPERIMENT_INPUTS = ("experiment_users", "experiment_summary")
"""Experiment tables that stand without an event log: one row per user, per-arm summaries (notebook 03)."""

ROLES = ("conversion_events", "cart_events", "checkout_events", "funnel_steps",
         "start_events", "return_events", "active_events")
"""Event roles shared by every notebook (each a name or a list of names; unset = None)."""

TOP_LEVEL_KEYS = ("name",) + INPUTS + ROLES + ("tz", "end", "currency")
EVENTS_OPTIONS = ("path", "preset", "column_map", "event", "event_rules", "revenue", "filters",
                  "id_columns", "timestamp_format", "start", "end", "drop_duplicates",
                  "engine", "connection", "table", "memory_limit", "materialize")
ENGINES = ("memory", "ibis")
"""``events.engine``: ``memory`` loads the events into pandas; ``ibis`` scans them where they lie."""
ENGINE_EVENTS_OPTIONS = ("path", "engine", "connection", "table", "memory_limit", "materialize", "start", "end",
                         "drop_duplicates")
"""The events options that apply with ``engine: ibis`` (``path``: a Parquet file or glob, read by DuckDB;
or ``connection`` (``backend`` + the keys of ``ibis.<backend>.connect``) and ``table``).
``materialize`` (``auto``, ``true`` or ``false``; default ``auto``: on DuckDB only) copies the
deduplicated, windowed events once into a temporary table that every scan reads
(:data:`engagement_utils.engines.connect.MATERIALIZE`)."""
TABLE_OPTIONS = ("path", "column_map", "timestamp_format")
SUMMARY_OPTIONS = ("path", "column_map")


def _loaders() -> dict:
    from .experiments import loading  # experiments imports io and the analyses: only when a description is loaded

    return {"users": io.load_users, "assignments": io.load_assignments, "spend": io.load_spend,
            "surveys": io.load_surveys, "experiment_users": loading.load_experiment_users,
            "experiment_summary": loading.load_experiment_summary}


class DataSetError(ValueError):
    """A data-set description that cannot be used; lists every problem at once.

    Attributes
    ----------
    problems : list of str
        One sentence per problem, naming the key.
    """

    def __init__(self, problems: list[str], source: str = "data-set description"):
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in {source}:\n{lines}")


@dataclass(frozen=True)
class InputSpec:
    """One input of a data set: its resolved ``path`` and its loading ``options``."""

    name: str
    path: Path | None  # None: events in a warehouse table (``options["connection"]``, ``options["table"]``)
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EventRoles:
    """The event roles of a data set; ``None`` means unset (for start/return/active: any event)."""

    conversion_events: list[str] | None = None
    cart_events: list[str] | None = None
    checkout_events: list[str] | None = None
    funnel_steps: list[str] | None = None
    start_events: list[str] | None = None
    return_events: list[str] | None = None
    active_events: list[str] | None = None

    def as_dict(self) -> dict[str, list[str] | None]:
        """The roles as ``{role: names or None}``, in :data:`ROLES` order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class DataSetDescription:
    """A validated description: inputs, roles, ``tz``, ``end``, ``currency``, ``name``."""

    inputs: dict[str, InputSpec]
    roles: EventRoles
    tz: str = "UTC"
    end: pd.Timestamp | None = None
    currency: str | None = None
    name: str | None = None
    source: str = "data-set description"


@dataclass(frozen=True)
class DataSet:
    """The loaded inputs of a run; an input the description does not name is ``None``.

    Attributes
    ----------
    events : DataFrame, engines.IbisEvents or None
        The canonical events frame (``io.load_events``); with ``events.engine: ibis`` an
        :class:`~engagement_utils.engines.IbisEvents` (never loaded into pandas); None only for
        a description that names an experiment table and no events, loaded with ``events_required=False``.
    users, assignments, spend, surveys : DataFrame or None
        The canonical tables, or None when not described.
    experiment_users, experiment_summary : DataFrame or None
        The experiment tables (``experiments.load_experiment_users`` /
        ``load_experiment_summary``), or None when not described.
    roles : EventRoles
        Event roles shared by every notebook.
    tz, end, currency, name
        Report timezone, data end (None: the last event), currency code, label.
    description : DataSetDescription
        What was loaded, from where.
    """

    events: Any  # DataFrame, engines.IbisEvents with events.engine: ibis, or None (experiment tables only)
    users: pd.DataFrame | None
    assignments: pd.DataFrame | None
    spend: pd.DataFrame | None
    surveys: pd.DataFrame | None
    experiment_users: pd.DataFrame | None
    experiment_summary: pd.DataFrame | None
    roles: EventRoles
    tz: str
    end: pd.Timestamp | None
    currency: str | None
    name: str | None
    description: DataSetDescription

    def inputs(self) -> list[str]:
        """Names of the inputs present, in :data:`INPUTS` order."""
        return [name for name in INPUTS if getattr(self, name) is not None]

    def with_roles(self, **overrides) -> "DataSet":
        """A copy whose roles are replaced where an override is given (a notebook's own role parameters).

        ``None``, ``""`` and ``[]`` (the ``list`` parameter spec's blank) keep the description's role.

        Examples
        --------
        >>> ds = load_dataset({"events": "data/external/ecom/ecom.csv.gz", "conversion_events": "purchase"})
        >>> ds.with_roles(conversion_events="add_to_cart", cart_events=None).roles.conversion_events
        ['add_to_cart']
        """
        problems = _unknown(overrides, ROLES, "roles")
        if problems:
            raise DataSetError(problems, "role overrides")
        roles = {role: (getattr(self.roles, role) if value is None or len(value) == 0 else as_event_list(value, role))
                 for role, value in {**self.roles.as_dict(), **overrides}.items()}
        return replace(self, roles=EventRoles(**roles))


def _read(description: Any) -> tuple[Mapping, str, Path | None]:
    """The raw mapping, a label for messages and the description file (if any)."""
    if isinstance(description, Mapping):
        return description, "data-set description", None
    if isinstance(description, (str, os.PathLike)):
        path = Path(description)
        path = path if path.is_absolute() else PROJECT_ROOT / path
        if not path.is_file():
            raise DataSetError([f"file not found: {path} (relative paths start at the project root {PROJECT_ROOT})"], str(description))
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise DataSetError([f"not valid YAML: {exc}"], str(description)) from exc
        if not isinstance(loaded, Mapping):
            raise DataSetError(["expected a mapping of keys (events, users, tz, ...) at the top level"], str(description))
        return loaded, f"data-set description {description}", path
    raise TypeError(f"a data-set description is a mapping or the path of a YAML file, got {type(description).__name__}")


def _unknown(keys, allowed: tuple, where: str) -> list[str]:
    problems = []
    for key in keys:
        try:
            check_option(where, key, allowed)
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def _resolve(path: Any, key: str, root: Path, problems: list[str]) -> Path | None:
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        problems.append(f"{key}.path: expected a file path (text), got {path!r}")
        return None
    resolved = Path(path)
    return resolved if resolved.is_absolute() else root / resolved


def _input_spec(name: str, raw: Any, root: Path, problems: list[str]) -> InputSpec | None:
    if isinstance(raw, (str, os.PathLike)):
        raw = {"path": raw}
    if not isinstance(raw, Mapping):
        problems.append(f"{name}: expected a path or a mapping with 'path' and loading options, got {raw!r}")
        return None
    allowed = EVENTS_OPTIONS if name == "events" else SUMMARY_OPTIONS if name == "experiment_summary" else TABLE_OPTIONS
    problems += _unknown(raw, allowed, f"dataset.{name}")
    if name == "events" and (raw.get("engine", "memory") != "memory" or _engine_keys(raw)):
        return _engine_spec(raw, root, problems)
    if "path" not in raw:
        problems.append(f"{name}: no 'path' (the file to load, relative to the project root)")
        return None
    path = _resolve(raw["path"], name, root, problems)
    options = {k: v for k, v in raw.items() if k != "path" and k in allowed}
    if name == "events" and "preset" in options:
        try:
            check_option("dataset.events.preset", options["preset"], tuple(presets.PRESETS))
        except ValueError as exc:
            problems.append(str(exc))
    if name == "events":
        problems += _condition_problems(options)
    return None if path is None else InputSpec(name, path, options)


def _engine_keys(raw: Mapping) -> list[str]:
    return [k for k in ("connection", "table", "memory_limit", "materialize") if k in raw]


def _engine_spec(raw: Mapping, root: Path, problems: list[str]) -> InputSpec | None:
    """The ``events`` input on an engine: a Parquet path or glob (DuckDB), or a connection and a table."""
    engine = raw.get("engine", "memory")
    try:
        check_option("dataset.events.engine", engine, ENGINES)
    except ValueError as exc:
        problems.append(str(exc))
        return None
    if engine == "memory":
        keys = _engine_keys(raw)
        problems.append(f"events: {', '.join(keys)} {'applies' if len(keys) == 1 else 'apply'} to engine: ibis only "
                        "(add `engine: ibis`, or drop them)")
        return None
    loading = [k for k in raw if k in EVENTS_OPTIONS and k not in ENGINE_EVENTS_OPTIONS]
    if loading:
        what = "is a loading option" if len(loading) == 1 else "are loading options"
        problems.append(f"events: {', '.join(loading)} {what} of engine: memory; with engine: ibis the table "
                        "must already be canonical (user_id, timestamp, event, properties): rename or derive the columns "
                        "in a view, or use engine: memory")
    connection, table = raw.get("connection"), raw.get("table")
    path = None
    if connection is not None:
        if not isinstance(connection, Mapping) or not connection.get("backend"):
            problems.append(f"events.connection: expected a mapping with 'backend' (e.g. {{backend: bigquery, project_id: ...}}), "
                            f"got {connection!r}")
        if not isinstance(table, str) or not table.strip():
            problems.append("events.table: a connection needs the name of the events table (e.g. table: events)")
        if "path" in raw:
            problems.append("events: give either path (Parquet files, read by DuckDB) or connection + table, not both")
    elif "path" in raw:
        path = _resolve(raw["path"], "events", root, problems)
        if table is not None:
            problems.append("events.table: names a table of a connection; with a Parquet path leave it out")
    else:
        problems.append("events: engine: ibis needs path (a Parquet file or glob) or connection + table")
    if raw.get("memory_limit") is not None and not isinstance(raw["memory_limit"], str):
        problems.append(f"events.memory_limit: expected text such as '4GB', got {raw['memory_limit']!r}")
    if "materialize" in raw:
        from .engines.connect import check_materialize

        try:
            check_materialize(raw["materialize"])
        except ValueError as exc:
            problems.append(f"events.materialize: {exc} (auto: a temporary table on DuckDB only; true: on any backend; "
                            "false: scan the source every time)")
    options = {k: v for k, v in raw.items() if k != "path" and k in ENGINE_EVENTS_OPTIONS}
    return InputSpec("events", path, options)


def _condition_problems(options: Mapping) -> list[str]:
    """Syntax errors in the events' ``filters`` and ``event_rules``, found before any data is read."""
    problems = []
    try:
        filters.parse_filters(options.get("filters"))
    except ValueError as exc:
        problems.append(f"events.filters: {exc}")
    rules = options.get("event_rules")
    for rule, text in rules.items() if isinstance(rules, Mapping) else ():
        try:
            filters.parse_condition(text, f"event_rules[{rule!r}]")
        except ValueError as exc:
            problems.append(f"events.event_rules.{rule}: {exc}")
    return problems


def describe_dataset(description: Any, *, root: str | os.PathLike | None = None) -> DataSetDescription:
    """Validate a data-set description without loading any data.

    Parameters
    ----------
    description : mapping, str or PathLike
        The description, or the path of a YAML file holding it (relative to
        the project root).
    root : path, optional
        Folder relative input paths start from (default :data:`PROJECT_ROOT`).

    Returns
    -------
    DataSetDescription

    Raises
    ------
    DataSetError
        Every problem at once: unknown keys (shared option format with the
        closest key), no ``events``, a bad role, timezone or end, a filter or
        event rule that does not parse.

    Examples
    --------
    >>> d = describe_dataset({"events": "data/demo/events.parquet", "conversion_events": "purchase"})
    >>> d.inputs["events"].path.relative_to(PROJECT_ROOT).as_posix(), d.roles.conversion_events, d.tz
    ('data/demo/events.parquet', ['purchase'], 'UTC')
    >>> describe_dataset({"evnts": "x.csv"})
    Traceback (most recent call last):
    ...
    engagement_utils.dataset.DataSetError: 2 problem(s) in data-set description:
      - The 'dataset' parameter must be one of {'name', 'events', 'users', 'assignments', 'spend', 'surveys', 'experiment_users', 'experiment_summary', 'conversion_events', 'cart_events', 'checkout_events', 'funnel_steps', 'start_events', 'return_events', 'active_events', 'tz', 'end', 'currency'}; got 'evnts' — did you mean 'events'?
      - no 'events': a data set needs an event log, e.g. events: {path: data/my_events.csv}
    """
    raw, label, _ = _read(description)
    root = PROJECT_ROOT if root is None else Path(root)
    problems = _unknown(raw, TOP_LEVEL_KEYS, "dataset")
    inputs = {}
    for name in INPUTS:
        if raw.get(name) is not None:
            spec = _input_spec(name, raw[name], root, problems)
            if spec is not None:
                inputs[name] = spec
        elif name == "events" and not any(raw.get(table) is not None for table in EXPERIMENT_INPUTS):
            problems.append("no 'events': a data set needs an event log, e.g. events: {path: data/my_events.csv}")
    roles = {}
    for role in ROLES:
        try:
            roles[role] = as_event_list(raw.get(role), role)
            for step in (roles[role] or []) if role == "funnel_steps" else []:
                parse_step(step)
        except ValueError as exc:
            problems.append(f"{role}: {exc}" if role == "funnel_steps" and "parameter" not in str(exc) else str(exc))
    tz = raw.get("tz") or "UTC"
    try:
        zoneinfo.ZoneInfo(str(tz))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(f"tz: {tz!r} is not an IANA timezone name (e.g. 'UTC', 'Europe/Berlin')")
    end = raw.get("end")
    if end is not None:
        try:
            end = pd.Timestamp(end)
            end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
        except (ValueError, TypeError):
            problems.append(f"end: {raw.get('end')!r} is not a date or timestamp (e.g. '2024-06-30')")
    for key in ("currency", "name"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            problems.append(f"{key}: expected text, got {raw[key]!r}")
    if problems:
        raise DataSetError(problems, label)
    return DataSetDescription(inputs=inputs, roles=EventRoles(**roles), tz=str(tz), end=end,
                              currency=raw.get("currency"), name=raw.get("name"), source=label)


def load_events_input(spec: InputSpec):
    """Load the ``events`` input: through its preset if it names one, else ``sources.load_source``.

    With ``engine: ibis`` nothing is loaded: the result is an
    :class:`~engagement_utils.engines.IbisEvents` on DuckDB (a Parquet path or glob) or on the
    connection's backend, with duplicates dropped and the date window applied in the engine
    (:func:`engagement_utils.engines.connect.canonical_events`; on DuckDB, or with
    ``materialize: true``, copied once into a temporary table that every later scan reads).

    Examples
    --------
    >>> spec = describe_dataset({"events": "data/external/ecom/ecom.csv.gz"}).inputs["events"]
    >>> load_events_input(spec).shape   # 31,106 rows, 30 exact duplicates dropped
    (31076, 8)
    """
    options = dict(spec.options)
    if options.get("engine", "memory") != "memory":
        from .engines.connect import canonical_events, open_source

        src = open_source("ibis", events_path=None if spec.path is None else str(spec.path), table=options.get("table"),
                          connection=options.get("connection"), memory_limit=options.get("memory_limit", "4GB"))
        label = str(spec.path) if spec.path is not None else f"{options['connection']['backend']} table {options['table']}"
        return canonical_events(src, start=options.get("start"), end=options.get("end"),
                                drop_duplicates=options.get("drop_duplicates", True), source=label,
                                materialize=options.get("materialize", "auto"))
    preset = options.pop("preset", None)
    if preset is not None:
        return presets.load_export(spec.path, preset, **options)
    return sources.load_source(spec.path, **options)


def load_dataset(description: Any, *, root: str | os.PathLike | None = None, events_required: bool = True) -> DataSet:
    """Load every input a description names; the others are ``None``.

    Parameters
    ----------
    description : mapping, str, PathLike or DataSetDescription
        See :func:`describe_dataset`.
    root : path, optional
        Folder relative input paths start from (default :data:`PROJECT_ROOT`).
    events_required : bool, default True
        False accepts a description that names an experiment table and no events
        (``events`` is then None); only the A/B test report reads such a data set.

    Returns
    -------
    DataSet

    Raises
    ------
    DataSetError
        A bad description (see :func:`describe_dataset`), or one without events when
        ``events_required``.
    io.DataValidationError
        An input that does not load (missing file, missing column, ...).

    Examples
    --------
    >>> ds = load_dataset({"events": {"path": "data/external/ecom/ecom.csv.gz"}, "conversion_events": "purchase"})
    >>> ds.inputs(), ds.users is None, ds.roles.conversion_events
    (['events'], True, ['purchase'])
    >>> sorted(ds.events["platform"].cat.categories)
    ['desktop', 'mobile', 'tablet']
    >>> load_dataset({"experiment_summary": "data/examples/ab_summary.csv"})
    Traceback (most recent call last):
    ...
    engagement_utils.dataset.DataSetError: 1 problem(s) in data-set description:
      - no 'events': this report needs an event log, e.g. events: {path: data/my_events.csv}; the description names only experiment_summary, which the A/B test report (03_ab_test) reads without events
    """
    if not isinstance(description, DataSetDescription):
        description = describe_dataset(description, root=root)
    if events_required and "events" not in description.inputs:
        named = ", ".join(name for name in EXPERIMENT_INPUTS if name in description.inputs)
        raise DataSetError([f"no 'events': this report needs an event log, e.g. events: {{path: data/my_events.csv}}; "
                            f"the description names only {named}, which the A/B test report (03_ab_test) reads without events"],
                           description.source)
    tables = {name: None for name in INPUTS}
    loaders = _loaders()
    for name, spec in description.inputs.items():
        if name == "events":
            tables[name] = load_events_input(spec)
            if spec.options.get("engine", "memory") != "memory":
                tables[name] = tables[name].with_tz(description.tz)
        else:
            tables[name] = loaders[name](spec.path, **spec.options)
    return DataSet(**tables, roles=description.roles, tz=description.tz, end=description.end,
                   currency=description.currency, name=description.name, description=description)
