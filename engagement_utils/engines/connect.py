"""Event sources on an Ibis backend: the one object an analysis takes instead of an in-memory log.

:class:`IbisEvents` names a table of canonical events (``user_id``,
``timestamp``, ``event`` and optional properties) on a connected Ibis backend
and the report timezone.  Build one with

* :func:`duckdb_parquet` — DuckDB over Parquet files or a glob, out of core with a memory limit;
* :func:`spark_session` + :func:`from_table` — PySpark (local mode in tests);
* :func:`from_table` — any table of any Ibis backend a user connected (BigQuery, Snowflake, ClickHouse, ...);
* :func:`from_frame` — an in-memory frame copied into a backend (tests, small data).

A missing backend package is an ``ImportError`` naming the pip extra to install.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd

from ..core import REQUIRED_COLUMNS

__all__ = ["IbisEvents", "duckdb_parquet", "duckdb_connection", "spark_session", "from_table", "from_frame",
           "require_ibis", "SEQ_COLUMN", "open_source", "canonical_events", "MATERIALIZE", "check_materialize",
           "materializes"]

SEQ_COLUMN = "event_seq"
"""Optional integer column that orders events with equal timestamps (row order of the loaded frame)."""

MATERIALIZE = ("auto", True, False)
"""Values of ``materialize`` (:func:`canonical_events`, the data set's ``events`` block):

* ``"auto"`` (the default) -- materialize on DuckDB only: the local, out-of-core engine, where a
  temporary table lives in DuckDB's buffer pool and spills to its ``temp_directory`` beyond
  ``memory_limit``; every later scan reads it instead of re-reading the Parquet files and
  re-dropping duplicates;
* ``True`` -- materialize on any backend through Ibis' ``Table.cache()``: on PySpark a cached
  (memory and disk) DataFrame behind a temporary view, on a warehouse (BigQuery, Snowflake, ...)
  a temporary table, which is billed, needs the permission to create one and copies a table that
  is already materialized -- so it is never done unless asked for;
* ``False`` -- the canonical events stay a view over the source: every scan reads the source
  again (the behaviour before ``materialize`` existed).
"""

INSTALL_HINT = "pip install -e '.[engines]'  (ibis-framework[duckdb,pyspark] with tested pins)"


def require_ibis(backend: str | None = None):
    """Import ibis (and check the backend's driver), or raise an ImportError naming the extra to install."""
    try:
        import ibis
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"engine='ibis' needs the ibis-framework package: {INSTALL_HINT}") from exc
    driver = {"duckdb": "duckdb", "pyspark": "pyspark"}.get(backend or "")
    if driver is not None:
        try:
            __import__(driver)
        except ImportError as exc:  # pragma: no cover
            raise ImportError(f"the Ibis {backend} backend needs the {driver!r} package: {INSTALL_HINT}") from exc
    return ibis


@dataclass(frozen=True)
class IbisEvents:
    """Canonical events as a table on an Ibis backend, plus the report timezone.

    Parameters
    ----------
    table : ibis Table
        Columns ``user_id``, ``timestamp`` (UTC instants; naive values are read as UTC), ``event``,
        optional properties and optionally :data:`SEQ_COLUMN` to order equal timestamps.
    tz : str
        Report timezone in which calendar periods are cut.
    backend : str
        Ibis backend name (``"duckdb"``, ``"pyspark"``, ``"bigquery"``, ...): selects the local-time function.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a"], "event": ["open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00"], utc=True)})
    >>> src = from_frame(ev, tz="Europe/Berlin")
    >>> src.backend, sorted(src.columns), SEQ_COLUMN in src.table.columns
    ('duckdb', ['event', 'timestamp', 'user_id'], True)
    """

    engine: ClassVar[str] = "ibis"  # read by engagement_utils.core.scans.engine_of
    table: Any
    tz: str = "UTC"
    backend: str = "duckdb"
    connection: Any = field(default=None, compare=False, repr=False)
    attrs: dict = field(default_factory=dict, compare=False, repr=False)
    """As ``DataFrame.attrs``: ``attrs["load_report"]`` is what :func:`canonical_events` counted (``io.load_report`` reads it)."""

    def __post_init__(self):
        missing = [c for c in REQUIRED_COLUMNS if c not in self.table.columns]
        if missing:
            raise ValueError(
                f"the events table has no column(s) {missing}; select or rename them "
                f"(table.rename(user_id='uid')). Columns present: {list(self.table.columns)}"
            )

    @property
    def columns(self) -> list[str]:
        """The event columns (without the ordering column :data:`SEQ_COLUMN`)."""
        return [c for c in self.table.columns if c != SEQ_COLUMN]

    def with_tz(self, tz: str) -> "IbisEvents":
        return self if tz == self.tz else IbisEvents(self.table, tz, self.backend, self.connection, self.attrs)

    def with_table(self, table) -> "IbisEvents":
        """The same source (timezone, backend, connection, attrs) over another table expression."""
        return IbisEvents(table, self.tz, self.backend, self.connection, self.attrs)

    def has_column(self, column: str) -> bool:
        return column in self.table.columns

    def check_column(self, column: str, parameter: str = "segment") -> None:
        if column not in self.table.columns:
            from ..validation import closest

            hint = closest(column, self.columns)
            suggestion = f" — did you mean {hint!r}?" if hint is not None else ""
            raise ValueError(f"The {parameter!r} parameter names column {column!r}, which the events table does not have"
                             f"{suggestion} Columns present: {self.columns}")


def duckdb_connection(memory_limit: str | None = "4GB", threads: int | None = None, temp_directory: str | None = None):
    """A DuckDB connection (session time zone UTC) that spills to ``temp_directory`` beyond ``memory_limit``."""
    ibis = require_ibis("duckdb")
    config = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = threads
    if temp_directory:
        config["temp_directory"] = temp_directory
    con = ibis.duckdb.connect(**config)
    con.raw_sql("SET TimeZone = 'UTC'")
    return con


def duckdb_parquet(path: str | os.PathLike, *, tz: str = "UTC", memory_limit: str | None = "4GB",
                   threads: int | None = None, connection=None, row_order: bool = False,
                   materialize: bool = False) -> IbisEvents:
    """Events from Parquet files (a path or a glob such as ``"data/events/*.parquet"``) on DuckDB, out of core.

    ``row_order=True`` adds :data:`SEQ_COLUMN` (the row number within its file), so events with
    equal timestamps keep the file's order, as the in-memory loader keeps them.

    The source is a view: every query reads the files again.  ``materialize=True`` reads them once
    into a DuckDB temporary table (in the buffer pool, spilled to disk beyond ``memory_limit``)
    that every later query reads; :func:`canonical_events` (what a data set's ``events`` block
    with ``engine: ibis`` runs, ``materialize: auto``) materializes the *deduplicated, windowed*
    events instead, which is what an analysis wants -- so leave this ``False`` before it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"user_id": ["a"], "event": ["open"], "timestamp": pd.to_datetime(["2024-01-01"], utc=True)}
    ...     ).to_parquet(folder / "part-0.parquet")
    >>> duckdb_parquet(str(folder / "*.parquet")).table.count().execute()
    1
    """
    con = connection or duckdb_connection(memory_limit, threads)
    options = {"file_row_number": True} if row_order else {}
    table = con.read_parquet(str(path), **options)
    if "timestamp" in table.columns and not table.schema()["timestamp"].is_timestamp():
        # nanosecond instants (pandas' default) read as a type Ibis does not map: store them as TIMESTAMPTZ (µs)
        quoted = str(path).replace("'", "''")
        extra = ", file_row_number=true" if row_order else ""
        table = con.sql(f"SELECT * REPLACE (CAST(\"timestamp\" AS TIMESTAMPTZ) AS \"timestamp\") FROM read_parquet('{quoted}'{extra})")
    if row_order:
        table = table.rename({SEQ_COLUMN: "file_row_number"})
    if materialize:
        table = table.cache()
    return IbisEvents(table, tz, "duckdb", con)


def spark_session(app_name: str = "engagement", *, warehouse_dir: str | None = None, cores: int = 2, memory: str = "2g"):
    """A local PySpark session with UTC session time and its own warehouse dir (start one per process: 20–50 s)."""
    require_ibis("pyspark")
    from pyspark.sql import SparkSession

    warehouse_dir = warehouse_dir or tempfile.mkdtemp(prefix="spark-warehouse-")
    return (
        SparkSession.builder.master(f"local[{cores}]").appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", warehouse_dir)
        .config("spark.driver.memory", memory)
        .config("spark.sql.shuffle.partitions", str(max(2 * cores, 2)))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def from_table(connection, table: str | Any, *, tz: str = "UTC", database=None) -> IbisEvents:
    """Events from a table of any connected Ibis backend (a name or an Ibis table expression).

    ``connection`` is an Ibis backend (``ibis.bigquery.connect(...)``, ``ibis.snowflake.connect(...)``,
    ``ibis.pyspark.connect(session)``, ...) or a ``pyspark.sql.SparkSession``.
    """
    ibis = require_ibis()
    if type(connection).__name__ == "SparkSession":
        connection = ibis.pyspark.connect(connection)
    expr = connection.table(table, database=database) if isinstance(table, str) else table
    return IbisEvents(expr, tz, connection.name, connection)


def from_frame(events: pd.DataFrame, *, tz: str = "UTC", connection=None, name: str = "events") -> IbisEvents:
    """Copy a canonical events frame into a backend (DuckDB in memory by default), keeping its row order.

    The copy carries :data:`SEQ_COLUMN` (the frame's row position) so that events with equal
    timestamps keep the in-memory engine's order.  Categorical columns are stored as text.
    The frame's ``attrs`` (a loader's ``load_report`` and ``cleaning_log``) go with the copy.
    """
    ibis = require_ibis()
    frame = events.copy(deep=False)
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            categories = frame[column].cat.categories
            frame[column] = frame[column].astype(categories.dtype if categories.dtype != object else "string").astype(object)
    if pd.api.types.is_datetime64_any_dtype(frame["timestamp"]):
        ts = frame["timestamp"]
        ts = ts.dt.tz_convert("UTC") if isinstance(ts.dtype, pd.DatetimeTZDtype) else ts.dt.tz_localize("UTC")
        frame["timestamp"] = ts.astype("datetime64[us, UTC]")
    frame[SEQ_COLUMN] = range(len(frame))
    if connection is None:
        connection = duckdb_connection(memory_limit=None)
    elif type(connection).__name__ == "SparkSession":
        connection = ibis.pyspark.connect(connection)
    table = connection.create_table(name, frame, overwrite=True)
    return IbisEvents(table, tz, connection.name, connection, dict(events.attrs))


def check_materialize(value) -> bool | str:
    """``value`` if it is one of :data:`MATERIALIZE`, else the shared option error.

    Examples
    --------
    >>> check_materialize("auto"), check_materialize(False)
    ('auto', False)
    >>> check_materialize("yes")
    Traceback (most recent call last):
    ...
    ValueError: The 'materialize' parameter must be one of {'auto', True, False}; got 'yes'
    """
    from ..validation import check_option

    if isinstance(value, bool) or (isinstance(value, str) and value == "auto"):
        return value
    # anything else fails; a number is shown as text, since 1 and 0 would compare equal to True and False
    return check_option("materialize", str(value) if isinstance(value, (int, float)) else value, MATERIALIZE)


def materializes(materialize, backend: str) -> bool:
    """Whether ``materialize`` (one of :data:`MATERIALIZE`) copies the canonical events on ``backend``.

    Examples
    --------
    >>> materializes("auto", "duckdb"), materializes("auto", "pyspark"), materializes("auto", "bigquery")
    (True, False, False)
    >>> materializes(True, "bigquery"), materializes(False, "duckdb")
    (True, False)
    """
    materialize = check_materialize(materialize)
    return backend == "duckdb" if materialize == "auto" else bool(materialize)


def canonical_events(src: IbisEvents, *, start=None, end=None, drop_duplicates: bool = True,
                     source: str = "events table", columns=None, materialize: bool | str = "auto") -> IbisEvents:
    """The events as the in-memory loader keeps them: exact duplicates dropped, then ``start <= timestamp < end``.

    The counts go to ``attrs["load_report"]`` (an ``io.LoadReport`` as a dict: rows read,
    duplicates dropped, rows outside the window, rows loaded) and the steps to
    ``attrs["cleaning_log"]``, so ``io.load_report(src)``, ``sources.cleaning_log(src)`` and the
    data overview's loading checks read them as they read a loaded frame's.  Duplicates are
    rows equal in every column (missing values equal); the first in :data:`SEQ_COLUMN` order is
    kept.  ``columns`` (None: all) keeps ``user_id, timestamp, event`` and those columns only,
    before duplicates are judged (as ``io.load_events(columns=...)``).

    ``materialize`` (:data:`MATERIALIZE`; ``"auto"``: on DuckDB only) copies the result once
    (:func:`materializes`): one pass over the source keeps its distinct rows in a temporary table,
    one query over it counts them and those in the window (the rows read are the source's count,
    free on Parquet), and the rows outside the window are dropped in a second copy if there are
    any; every later scan reads the copy.
    Without it the canonical events are a view (three counts run in the engine, and every
    analysis re-reads the source and drops duplicates again).  Either way nothing else is read.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["open"] * 3,
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01"], utc=True)})
    >>> src = canonical_events(from_frame(ev), end="2024-01-15")
    >>> src.table.count().execute(), src.attrs["load_report"]["duplicates_dropped"], src.attrs["load_report"]["rows_outside_window"]
    (1, 1, 1)
    >>> import ibis
    >>> "ibis_cache" in ibis.to_sql(src.table)   # a DuckDB temporary table ("auto"); materialize=False: a view
    True
    >>> "ibis_cache" in ibis.to_sql(canonical_events(from_frame(ev), end="2024-01-15", materialize=False).table)
    False
    """
    from ..io import LoadReport

    copy = materializes(materialize, src.backend)
    table = src.table
    if columns is not None:
        keep = set(REQUIRED_COLUMNS) | set(columns) | {SEQ_COLUMN}
        table = table.select(*[c for c in table.columns if c in keep])
    report = LoadReport(source=source, rows_read=0)
    table = (_materialized if copy else _view)(table, (start, end), drop_duplicates, report)
    if report.duplicates_dropped:
        report.warnings.append(f"{report.duplicates_dropped} exact duplicate event row(s) dropped")
    if report.rows_loaded == 0:
        raise ValueError(f"{source}: no events left in the window start={start!r}, end={end!r}")
    steps, rows = [], report.rows_read  # the in-memory loader's own steps, in its words (sources.cleaning_log)
    for done, rule, removed in ((drop_duplicates, "drop exact duplicate rows (after column_map)", report.duplicates_dropped),
                                (start is not None or end is not None, f"keep {start or '...'} <= timestamp < {end or '...'}",
                                 report.rows_outside_window)):
        if done:
            steps.append({"step": len(steps) + 1, "rule": rule, "rows_before": rows, "rows_removed": removed,
                          "rows_after": rows - removed})
            rows -= removed
    return IbisEvents(table, src.tz, src.backend, src.connection, {"load_report": report.as_dict(), "cleaning_log": steps})


def _window_predicate(table, window):
    """``start <= timestamp < end`` on ``table`` for ``window = (start, end)`` (None: no bound given)."""
    import ibis

    from ..core import as_utc
    from .timezones import utc_instant

    ts, predicate = utc_instant(table.timestamp), None
    for bound, name in zip(window, ("start", "end")):
        if bound is not None:
            value = ibis.literal(as_utc(bound, name).to_pydatetime())
            keep = ts >= value if name == "start" else ts < value
            predicate = keep if predicate is None else predicate & keep
    return predicate


def _deduplicated(table):
    """One row per distinct event (every column but :data:`SEQ_COLUMN`; the first in its order kept)."""
    columns = [c for c in table.columns if c != SEQ_COLUMN]
    if SEQ_COLUMN in table.columns:
        return table.group_by(columns).aggregate(**{SEQ_COLUMN: table[SEQ_COLUMN].min()})
    return table.distinct()


def _view(table, window, drop_duplicates: bool, report) -> Any:
    """The canonical events as a view over ``table``, counted by up to three queries (``materialize=False``)."""
    report.rows_read = int(table.count().to_pandas())
    if drop_duplicates:
        table = _deduplicated(table)
        report.duplicates_dropped = report.rows_read - int(table.count().to_pandas())
    kept = report.rows_read - report.duplicates_dropped
    predicate = _window_predicate(table, window)
    if predicate is not None:
        table = table.filter(predicate)
    report.rows_loaded = int(table.count().to_pandas()) if predicate is not None else kept
    report.rows_outside_window = kept - report.rows_loaded
    return table


def _materialized(table, window, drop_duplicates: bool, report) -> Any:
    """The canonical events copied once (``Table.cache()``), counted by one query over the copy.

    The rows read are the source's count (on Parquet read from the files' metadata); the copy
    holds every distinct row, so one query over it gives the rows kept and those inside the
    window.  When rows fall outside the window a second copy keeps the others and the first is
    released.
    """
    import ibis

    report.rows_read = int(table.count().to_pandas())
    stage = (_deduplicated(table) if drop_duplicates else table).cache()
    predicate = _window_predicate(stage, window)
    inside = stage.count() if predicate is None else ibis.ifelse(predicate, 1, 0).sum()
    counts = stage.aggregate(kept=stage.count(), inside=inside).to_pandas().iloc[0]
    kept, loaded = int(counts["kept"]), int(0 if pd.isna(counts["inside"]) else counts["inside"])
    report.duplicates_dropped = report.rows_read - kept
    report.rows_loaded, report.rows_outside_window = loaded, kept - loaded
    if loaded == kept:
        return stage
    canonical = stage.filter(_window_predicate(stage, window)).cache()
    stage.release()  # the cache entry of the second copy would otherwise keep the first alive
    return canonical


def open_source(engine: str = "memory", *, events_path: str | None = None, table: str | None = None,
                connection: dict | None = None, tz: str = "UTC", memory_limit: str | None = "4GB"):
    """The events a notebook analyses, from its parameters: a frame (``engine="memory"``) or an :class:`IbisEvents`.

    * ``engine="memory"``: ``io.load_events(events_path)`` (today's path);
    * ``engine="ibis"`` with ``events_path`` (a Parquet file or glob) and no ``connection``: DuckDB, out of core
      (with :data:`SEQ_COLUMN` from the row order within each file);
    * ``engine="ibis"`` with ``connection={"backend": "bigquery", ...}`` and ``table``: the other keys go to
      ``ibis.<backend>.connect(...)`` (``{"backend": "pyspark"}`` starts a local Spark session).

    Examples
    --------
    >>> open_source("memory", events_path="data/demo/events.parquet").columns[:3].tolist()
    ['user_id', 'timestamp', 'event']
    """
    from ..validation import check_option

    check_option("engine", engine, ("memory", "ibis"))
    if engine == "memory":
        from .. import io

        if events_path is None:
            raise ValueError("engine='memory' needs events_path (a CSV or Parquet file of events)")
        return io.load_events(events_path)
    if connection is None:
        if events_path is None:
            raise ValueError("engine='ibis' needs events_path (a Parquet glob) or a connection and a table")
        return duckdb_parquet(events_path, tz=tz, memory_limit=memory_limit, row_order=True)
    options = dict(connection)
    backend = options.pop("backend", None)
    if backend is None or table is None:
        raise ValueError("a connection needs 'backend' (e.g. {'backend': 'bigquery', 'project_id': ...}) and the table parameter")
    ibis = require_ibis(backend)
    if backend == "pyspark":
        return from_table(spark_session(**options), table, tz=tz)
    if backend == "duckdb":  # a DuckDB database file: the session time zone must be UTC (naive casts use it)
        con = ibis.duckdb.connect(**options)
        con.raw_sql("SET TimeZone = 'UTC'")
        return from_table(con, table, tz=tz)
    try:
        connect = getattr(ibis, backend).connect
    except AttributeError as exc:
        raise ValueError(f"Ibis has no backend {backend!r}; see https://ibis-project.org/backends") from exc
    except ImportError as exc:  # pragma: no cover - driver packages of warehouse backends
        raise ImportError(f"the Ibis {backend} backend needs its driver: pip install 'ibis-framework[{backend}]'") from exc
    return from_table(connect(**options), table, tz=tz)
