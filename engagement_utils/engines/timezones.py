"""Local wall-clock time and calendar-period ordinals as Ibis expressions, per backend.

A calendar period in the report timezone needs the backend's own
UTC -> local conversion: a plain timestamp cast drops the zone (and with it
daylight-saving changes).  Each backend spells it differently:

========== ========================================
backend    local wall-clock time of a UTC instant
========== ========================================
duckdb     ``timezone(zone, ts)`` (ts a TIMESTAMPTZ)
pyspark    ``from_utc_timestamp(ts, zone)``
bigquery   ``DATETIME(ts, zone)``
snowflake  ``CONVERT_TIMEZONE('UTC', zone, ts)``
clickhouse ``toTimeZone(ts, zone)``
========== ========================================

The period ordinals are those of :func:`engagement_utils.periods.period_ordinal`:
days since 1970-01-01, Monday weeks since 1969-12-29, months since 1970-01.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

from .. import periods

__all__ = ["LOCAL_TIME_FUNCTIONS", "local_time", "period_ordinal", "utc_instant"]

UTC = dt.Timestamp(timezone="UTC")
NAIVE = dt.Timestamp()


@ibis.udf.scalar.builtin(name="timezone")
def _duckdb_timezone(zone: str, ts: UTC) -> NAIVE:  # DuckDB: TIMESTAMPTZ -> local TIMESTAMP
    ...


@ibis.udf.scalar.builtin(name="from_utc_timestamp")
def _spark_from_utc(ts: UTC, zone: str) -> NAIVE:
    ...


@ibis.udf.scalar.builtin(name="DATETIME")
def _bigquery_datetime(ts: UTC, zone: str) -> NAIVE:
    ...


@ibis.udf.scalar.builtin(name="CONVERT_TIMEZONE")
def _snowflake_convert(source: str, target: str, ts: UTC) -> NAIVE:
    ...


@ibis.udf.scalar.builtin(name="toTimeZone")
def _clickhouse_to_tz(ts: UTC, zone: str) -> NAIVE:
    ...


LOCAL_TIME_FUNCTIONS = {
    "duckdb": lambda ts, zone: _duckdb_timezone(zone, ts),
    "pyspark": lambda ts, zone: _spark_from_utc(ts, zone),
    "bigquery": lambda ts, zone: _bigquery_datetime(ts, zone),
    "snowflake": lambda ts, zone: _snowflake_convert("UTC", zone, ts),
    "clickhouse": lambda ts, zone: _clickhouse_to_tz(ts, zone),
}
"""Backend name -> ``f(utc_timestamp_expr, zone) -> local wall-clock timestamp expr``."""


def utc_instant(ts: ibis.Value) -> ibis.Value:
    """``ts`` typed as a UTC instant: naive timestamps are read as UTC (as ``io.load_events`` does)."""
    if ts.type().timezone is None:
        return ts.cast(UTC)
    return ts


def local_time(ts: ibis.Value, tz: str, backend: str) -> ibis.Value:
    """Wall-clock time in ``tz`` of the UTC instants ``ts`` on ``backend`` (see the table above).

    Examples
    --------
    >>> t = ibis.table({"timestamp": "timestamp('UTC')"}, name="events")
    >>> sql = ibis.to_sql(t.select(local=local_time(t.timestamp, "Europe/Berlin", "snowflake")), dialect="snowflake")
    >>> "CONVERT_TIMEZONE('UTC', 'Europe/Berlin'" in sql
    True
    """
    if backend not in LOCAL_TIME_FUNCTIONS:
        raise ValueError(
            f"no local-time function is known for the Ibis backend {backend!r}; known: {sorted(LOCAL_TIME_FUNCTIONS)}. "
            "Add one to engagement_utils.engines.timezones.LOCAL_TIME_FUNCTIONS, or use tz='UTC'"
        )
    ts = utc_instant(ts)
    if tz == "UTC":
        return ts.cast(NAIVE) if backend != "pyspark" else ts
    return LOCAL_TIME_FUNCTIONS[backend](ts, tz)


def period_ordinal(ts: ibis.Value, period: str, tz: str, backend: str) -> ibis.Value:
    """Integer calendar-period ordinal of each instant, cut in ``tz`` (as ``periods.period_ordinal``)."""
    periods.check_period(period)
    local = local_time(ts, tz, backend)
    if period == "month":
        return (local.year().cast("int64") * 12 + local.month().cast("int64") - 1 - 1970 * 12)
    day = local.date().delta(ibis.date(1970, 1, 1), unit="day").cast("int64")
    if period == "day":
        return day
    return (day + 3) // 7  # 1970-01-01 was a Thursday: Monday weeks
