"""Where the data lives: the heavy scans on DuckDB, Spark or a warehouse through Ibis.

Build an :class:`IbisEvents` source (:func:`duckdb_parquet`, :func:`from_table`,
:func:`from_frame`) and pass it where an analysis takes events: the scans run in the
engine (:mod:`.ibis_scans`), small tables come back, and the in-memory Python does the
statistics (:mod:`.analyses`).  Needs the ``engines`` extra: ``pip install -e '.[engines]'``.
"""

from .connect import SEQ_COLUMN, IbisEvents, duckdb_connection, duckdb_parquet, from_frame, from_table, open_source, spark_session

__all__ = ["IbisEvents", "SEQ_COLUMN", "duckdb_connection", "duckdb_parquet", "from_frame", "from_table", "open_source", "spark_session"]
