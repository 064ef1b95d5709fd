"""Materialized canonical events (issues 15 and 16): a DuckDB source is read once, then scanned as a temporary table.

``engines.connect.canonical_events(..., materialize="auto")`` (a data set's ``events`` block with
``engine: ibis``) copies the deduplicated, windowed events into a DuckDB temporary table; these
tests check that later scans read that table and not the Parquet file, that ``materialize: false``
keeps the view over the file, that bad values are refused clearly, and that every result is the
same either way (the cross-engine matrix of ``tests/test_engines.py`` compares the engine with memory).
"""

from __future__ import annotations

import gc

import pandas as pd
import pytest

ibis = pytest.importorskip("ibis", reason="engine tests need the engines extra: pip install -e '.[engines]'")

from engagement_utils import funnels, io, metrics, sessions  # noqa: E402
from engagement_utils.dataset import DataSetError, describe_dataset, load_dataset  # noqa: E402
from engagement_utils.engines import analyses, ibis_scans  # noqa: E402
from engagement_utils.engines.connect import (  # noqa: E402
    canonical_events, check_materialize, duckdb_parquet, from_frame, materializes)
from engagement_utils.retention import bracket_retention, retention_matrix  # noqa: E402
from engagement_utils.sources import cleaning_log  # noqa: E402

TZ = "Europe/Berlin"
TEXT = ("user_id", "event", "screen", "platform", "country")


@pytest.fixture(scope="module")
def raw():
    """2,000 demo events plus three exact duplicates, at microseconds (what DuckDB stores)."""
    events = io.load_events("data/demo/events.parquet")
    events = events.assign(timestamp=events["timestamp"].dt.floor("us"))
    frame = pd.concat([events.iloc[:2000], events.iloc[[5, 9, 9]]], ignore_index=True)
    return frame.astype({c: object for c in TEXT})


def _temp_tables(src) -> list[str]:
    gc.collect()  # a released cache entry is dropped when nothing refers to it any more
    rows = src.connection.raw_sql("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    return sorted(name for (name,) in rows)


def _parquet(tmp_path, raw):
    path = tmp_path / "events.parquet"
    raw.to_parquet(path)
    return path


def test_a_duckdb_source_reads_the_parquet_file_once(tmp_path, raw):
    """``materialize: auto`` on DuckDB: one temporary table; later scans compile against it, and run with the file gone."""
    path = _parquet(tmp_path, raw)
    window = {"start": "2024-01-02", "end": "2024-01-20"}
    memory = load_dataset({"events": {"path": str(path), **window}, "tz": TZ})
    engine = load_dataset({"events": {"path": str(path), "engine": "ibis", "memory_limit": "1GB", **window}, "tz": TZ})
    src = engine.events
    tables = _temp_tables(src)
    assert len(tables) == 1 and tables[0].startswith("ibis_cache")  # the windowed copy; the first copy was released
    scans = [src.table, ibis_scans.activity_keys_expr(src, "day"), ibis_scans.session_expr(src, "30min"),
             ibis_scans.retention_counts_expr(src, "week", kind="n_period", cohorts="first_time", clock="calendar",
                                              start_events=None, return_events=None, segment=None, end=None, end_us=0,
                                              include_partial=False)[1]]
    for expr in scans:
        sql = ibis.to_sql(expr)
        assert tables[0] in sql and "read_parquet" not in sql
    report, expected = io.load_report(src), io.load_report(memory.events)
    assert (report.rows_read, report.duplicates_dropped, report.rows_outside_window, report.rows_loaded) == (
        expected.rows_read, expected.duplicates_dropped, expected.rows_outside_window, expected.rows_loaded)
    assert_same(cleaning_log(memory.events), cleaning_log(src))
    path.unlink()  # nothing reads the file again
    assert_same(retention_matrix(memory.events, "day", tz=TZ), retention_matrix(src, "day", tz=TZ))
    assert_same(metrics.active_users(memory.events, tz=TZ), metrics.active_users(src, tz=TZ))


def test_materialize_false_keeps_the_view_over_the_file(tmp_path, raw):
    """``materialize: false``: no temporary table; the scans read the Parquet view, with the same counts."""
    path = _parquet(tmp_path, raw)
    view = load_dataset({"events": {"path": str(path), "engine": "ibis", "materialize": False, "end": "2024-01-20"},
                         "tz": TZ}).events
    copy = load_dataset({"events": {"path": str(path), "engine": "ibis", "end": "2024-01-20"}, "tz": TZ}).events
    assert _temp_tables(view) == []
    sql = ibis.to_sql(ibis_scans.activity_keys_expr(view, "day"))
    assert "ibis_read_parquet" in sql and "ibis_cache" not in sql
    assert io.load_report(view) == io.load_report(copy)
    assert_same(retention_matrix(view, "week", tz=TZ), retention_matrix(copy, "week", tz=TZ))


def test_materialize_values_are_checked():
    """``auto`` / ``true`` / ``false`` only, in the description (listed with the other problems) and in the API."""
    with pytest.raises(DataSetError, match=r"events\.materialize: The 'materialize' parameter must be one of "
                                           r"\{'auto', True, False\}; got 'yes'"):
        describe_dataset({"events": {"path": "x.parquet", "engine": "ibis", "materialize": "yes"}})
    with pytest.raises(DataSetError, match="materialize applies to engine: ibis only"):
        describe_dataset({"events": {"path": "x.parquet", "materialize": True}})
    for value in ("auto", True, False):
        describe_dataset({"events": {"path": "x.parquet", "engine": "ibis", "materialize": value}})
    with pytest.raises(ValueError, match="got '1'"):
        check_materialize(1)  # 1 == True in Python: refused, not taken for True
    with pytest.raises(ValueError, match="did you mean 'auto'"):
        canonical_events(from_frame(pd.DataFrame({"user_id": ["a"], "event": ["x"],
                                                  "timestamp": pd.to_datetime(["2024-01-01"], utc=True)})),
                         materialize="atuo")
    assert [materializes("auto", b) for b in ("duckdb", "pyspark", "bigquery", "snowflake")] == [True, False, False, False]


@pytest.mark.parametrize("options", [dict(), dict(start="2024-01-03", end="2024-01-25"), dict(drop_duplicates=False)],
                         ids=["all", "window", "keep-duplicates"])
def test_results_are_the_same_materialized_or_not(raw, options):
    """Load report, cleaning log and the scans of 00-02 are equal on the copy and on the view (duplicates included)."""
    frame = raw.assign(timestamp=raw["timestamp"].astype("datetime64[us, UTC]"))
    base = from_frame(frame, tz=TZ, name="raw_events")
    view = canonical_events(base, materialize=False, **options)
    copy = canonical_events(base, materialize=True, **options)
    assert "ibis_cache" in ibis.to_sql(copy.table) and "ibis_cache" not in ibis.to_sql(view.table)
    assert view.attrs == copy.attrs
    cases = [dict(period="week"), dict(period="day", kind="unbounded"), dict(period="week", cohorts="recurring"),
             dict(period="day", clock="rolling"), dict(period="week", segment="platform"),
             dict(period="day", start_events="app_open", return_events="purchase")]
    for case in cases:
        assert_same(retention_matrix(view, tz=TZ, **case), retention_matrix(copy, tz=TZ, **case))
    assert_same(bracket_retention(view, tz=TZ), bracket_retention(copy, tz=TZ))
    assert_same(metrics.active_users(view, tz=TZ), metrics.active_users(copy, tz=TZ))
    assert_same(sessions.session_summary(view, timeout="30min"), sessions.session_summary(copy, timeout="30min"))
    steps = ["app_open", "screen_view", "purchase"]
    assert_same(funnels.funnel(view, steps, window="7D"), funnels.funnel(copy, steps, window="7D"))
    assert_same(analyses.user_features(view, tz=TZ).table, analyses.user_features(copy, tz=TZ).table)


def test_columns_keep_the_named_columns_before_duplicates_are_judged(raw):
    """``columns`` prunes as ``io.load_events(columns=...)``: rows equal on the kept columns are duplicates."""
    frame = raw.assign(timestamp=raw["timestamp"].astype("datetime64[us, UTC]"))
    src = canonical_events(from_frame(frame, name="pruned_events"), columns=["platform"])
    loaded = io.load_events(frame, columns=["platform"])
    assert sorted(src.columns) == ["event", "platform", "timestamp", "user_id"]
    assert io.load_report(src).duplicates_dropped == io.load_report(loaded).duplicates_dropped
    assert int(src.table.count().execute()) == len(loaded)


def test_duckdb_parquet_materialize_reads_the_files_once(tmp_path, raw):
    """``duckdb_parquet(..., materialize=True)``: the files are copied once (no deduplication), the view is the default."""
    path = _parquet(tmp_path, raw)
    lazy, copied = duckdb_parquet(path), duckdb_parquet(path, materialize=True)
    assert "ibis_cache" not in ibis.to_sql(lazy.table) and "ibis_cache" in ibis.to_sql(copied.table)
    path.unlink()
    assert int(copied.table.count().execute()) == len(raw)


def _table(result):
    return result.table if hasattr(result, "table") else result


def assert_same(expected: pd.DataFrame, actual: pd.DataFrame, **options):
    expected, actual = _table(expected), _table(actual)
    pd.testing.assert_frame_equal(expected.reset_index(drop=True), actual.reset_index(drop=True),
                                  check_dtype=False, check_categorical=False, **options)


def test_load_report_counts_of_an_empty_window_raise(raw):
    """No row left in the window: the same error materialized or not."""
    frame = raw.assign(timestamp=raw["timestamp"].astype("datetime64[us, UTC]"))
    base = from_frame(frame, name="empty_window")
    for materialize in (True, False):
        with pytest.raises(ValueError, match="no events left in the window"):
            canonical_events(base, start="2030-01-01", materialize=materialize)
