"""Warehouse SQL without credentials: the engine scans compiled for BigQuery, Snowflake and ClickHouse.

Each scan is built on an unbound ``events`` table and compiled with ``ibis.to_sql``; the SQL is
compared with the snapshot committed under ``tests/snapshots/``.  After an intended change,
refresh them with ``UPDATE_SNAPSHOTS=1 pytest tests/test_engines_sql.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ibis = pytest.importorskip("ibis", reason="engine tests need the engines extra: pip install -e '.[engines]'")

from engagement_utils.engines import IbisEvents, ibis_scans  # noqa: E402
from engagement_utils.engines.timezones import LOCAL_TIME_FUNCTIONS  # noqa: E402

SNAPSHOTS = Path(__file__).parent / "snapshots"
DIALECTS = ["bigquery", "snowflake", "clickhouse"]
SCHEMA = {"user_id": "string", "timestamp": "timestamp('UTC')", "event": "string", "platform": "string",
          "screen": "string", "revenue": "float64"}
LOCAL_FUNCTION = {"bigquery": "DATETIME(", "snowflake": "CONVERT_TIMEZONE('UTC', 'Europe/Berlin'",
                  "clickhouse": "toTimeZone("}


def _scans(src: IbisEvents) -> dict:
    groups, counts = ibis_scans.retention_counts_expr(
        src, "week", kind="n_period", cohorts="first_time", clock="calendar", start_events=None,
        return_events=["purchase"], segment="platform", end="2024-04-01", end_us=1711929600 * 10**6,
        include_partial=False)
    default_counts = ibis_scans.retention_counts_expr(  # every event starts and returns: members read off the keys
        src, "day", kind="n_period", cohorts="first_time", clock="calendar", start_events=None, return_events=None,
        segment=None, end="2024-04-01", end_us=1711929600 * 10**6, include_partial=False)[1]
    return {
        "retention_counts_default_day": default_counts,
        "activity_keys_day": ibis_scans.activity_keys_expr(src, "day", segment="platform"),
        "members_week": ibis_scans.members_expr(src, "week", start_events=["app_open"]),
        "retention_groups_week": groups,
        "retention_counts_week": counts,
        "sessions_30min": ibis_scans.session_expr(src, "30min", keep=["platform"]),
        "funnel_reach_7d": ibis_scans.funnel_reach_expr(src, ["app_open", "add_to_cart", "purchase"], "7D"),
        "funnel_reach_strict_7d": ibis_scans.funnel_reach_expr(src, ["app_open", "add_to_cart", "purchase"], "7D",
                                                               ordering="strict"),
        "funnel_reach_any_7d": ibis_scans.funnel_reach_expr(src, ["app_open", "add_to_cart", "purchase"], "7D",
                                                            ordering="any"),
        "bracket_counts_week": ibis_scans.bracket_counts_expr(
            src, "week", [(1, 1), (2, 4)], cohorts="first_time", clock="calendar", start_events=None,
            return_events=None, segment="platform", end="2024-04-01", end_us=1711929600 * 10**6, include_partial=False)[1],
        "return_offsets_day": ibis_scans.return_offsets_expr(src, "day", [1, 7, 30], return_events=["purchase"])[1],
        "value_mix_platform": _value_mix_expr(src),
        "user_features": ibis_scans.user_features_expr(src, end="2024-04-01"),
    }


def _value_mix_expr(src: IbisEvents):
    """The data overview's grouped count (as engines.overview.value_mix builds it)."""
    t = src.table
    value = t.platform.cast("string").fill_null("(missing)")
    return t.mutate(_value=value).group_by("_value").aggregate(events=ibis._.count(), users=ibis._.user_id.nunique())


@pytest.mark.parametrize("dialect", DIALECTS)
def test_sql_matches_snapshot(dialect):
    src = IbisEvents(ibis.table(SCHEMA, name="events"), tz="Europe/Berlin", backend=dialect)
    for name, expr in _scans(src).items():
        sql = ibis.to_sql(expr, dialect=dialect).strip() + "\n"
        path = SNAPSHOTS / f"{name}.{dialect}.sql"
        if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
            path.write_text(sql)
        assert sql == path.read_text(), f"{path.name} changed; review and refresh with UPDATE_SNAPSHOTS=1"
        if name in ("activity_keys_day", "members_week"):
            assert LOCAL_FUNCTION[dialect] in sql, f"{dialect} must cut periods with its own local-time function"


def test_every_snapshot_dialect_has_a_local_time_function():
    assert set(DIALECTS) <= set(LOCAL_TIME_FUNCTIONS)
