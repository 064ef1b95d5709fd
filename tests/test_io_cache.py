"""The prepared-events cache: hits, invalidation, corruption, identical frames (io.cache)."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pandas as pd
import pytest

from engagement_utils import io, sources
from engagement_utils.io import events as events_module


def raw_events() -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": ["b", "a", "a", "c", "a"],
        "timestamp": ["2024-01-02 10:00", "2024-01-01 10:00", "2024-01-01 09:00", "2024-01-03 08:00", "2024-01-01 09:00"],
        "event": ["app_open", "purchase", "app_open", "app_open", "app_open"],
        "platform": ["ios", "web", "web", None, "web"],
        "revenue": [np.nan, 12.5, np.nan, np.nan, np.nan],
    })


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(io.CACHE_ENV, str(folder))
    return folder


@pytest.fixture
def builds(monkeypatch):
    """Counts the uncached loads (cache misses)."""
    calls = []
    original = events_module._load_events

    def counting(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(events_module, "_load_events", counting)
    return calls


def assert_identical(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    for col in a.columns:
        if isinstance(a[col].dtype, pd.CategoricalDtype):
            assert a[col].cat.categories.dtype == b[col].cat.categories.dtype
            assert a[col].cat.categories.equals(b[col].cat.categories)
    assert a.attrs == b.attrs


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_hit_returns_the_identical_frame_and_report(tmp_path, cache_dir, builds, suffix):
    path = tmp_path / f"events.{suffix}"
    raw = raw_events()
    raw.to_parquet(path) if suffix == "parquet" else raw.to_csv(path, index=False)
    uncached = io.load_events(path, cache=False)
    assert not cache_dir.exists() and len(builds) == 1  # cache=False writes nothing
    first = io.load_events(path)
    second = io.load_events(path)
    assert len(builds) == 2  # the second load was a hit
    assert len(list(cache_dir.glob("*.arrow"))) == 1
    assert_identical(uncached, first)
    assert_identical(uncached, second)
    report = io.load_report(second)
    assert (report.rows_read, report.rows_loaded, report.duplicates_dropped) == (5, 4, 1)
    assert report.warnings == ["1 exact duplicate event row(s) dropped"]


def test_touching_or_changing_the_input_invalidates(tmp_path, cache_dir, builds):
    path = tmp_path / "events.csv"
    raw_events().to_csv(path, index=False)
    io.load_events(path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # touched only
    io.load_events(path)
    assert len(builds) == 2
    # Same size and the old mtime, other content: the content hash misses.
    text = path.read_text().replace("purchase", "purchasE")
    path.write_text(text)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    changed = io.load_events(path)
    assert len(builds) == 3
    assert "purchasE" in changed["event"].cat.categories
    assert len(list(cache_dir.glob("*.arrow"))) == 1  # the stale entry was replaced


def test_changed_options_miss_and_each_is_kept(tmp_path, cache_dir, builds):
    path = tmp_path / "events.parquet"
    raw_events().to_parquet(path)
    full = io.load_events(path)
    windowed = io.load_events(path, start="2024-01-02")
    pruned = io.load_events(path, columns=["revenue"])
    assert len(builds) == 3
    assert len(windowed) == 2 and io.load_report(windowed).rows_outside_window == 2
    assert list(pruned.columns) == ["user_id", "timestamp", "event", "revenue"]
    assert_identical(io.load_events(path), full)
    assert_identical(io.load_events(path, start="2024-01-02"), windowed)
    assert len(builds) == 3


def test_corrupted_cache_file_falls_back_to_a_fresh_load(tmp_path, cache_dir, builds):
    path = tmp_path / "events.parquet"
    raw_events().to_parquet(path)
    good = io.load_events(path)
    (entry,) = cache_dir.glob("*.arrow")
    entry.write_bytes(entry.read_bytes()[:200])  # truncated
    again = io.load_events(path)
    assert len(builds) == 2
    assert_identical(good, again)
    assert_identical(good, io.load_events(path))  # rewritten: a hit again
    assert len(builds) == 2


def test_input_file_untouched_and_errors_not_cached(tmp_path, cache_dir):
    path = tmp_path / "events.csv"
    raw_events().assign(user_id=["a", None, "b", "c", "d"]).to_csv(path, index=False)
    digest, mtime = hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns
    for _ in range(2):
        with pytest.raises(io.DataValidationError, match="1 null id"):
            io.load_events(path)
    assert not list(cache_dir.glob("*.arrow")) if cache_dir.exists() else True
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest and path.stat().st_mtime_ns == mtime


def test_load_source_options_are_cached_with_the_cleaning_log(tmp_path, cache_dir):
    path = tmp_path / "orders.csv"
    pd.DataFrame({"CustomerID": [1.0, 1.0, 2.0, None], "InvoiceDate": ["2024-01-01"] * 4,
                  "InvoiceNo": ["1", "C2", "3", "4"], "Quantity": [1, -1, 2, 3]}).to_csv(path, index=False)
    options = dict(column_map={"CustomerID": "user_id", "InvoiceDate": "timestamp"}, event="purchase",
                   event_rules={"refund": "InvoiceNo startswith C"}, filters=[{"drop": "CustomerID is missing"}])
    uncached = sources.load_source(path, cache=False, **options)
    first = sources.load_source(path, **options)
    second = sources.load_source(path, **options)
    assert_identical(uncached, first)
    assert_identical(uncached, second)
    assert sources.cleaning_log(second)["rows_removed"].tolist() == [1, 0]
    with pytest.raises(io.DataValidationError, match="1 null id"):  # another option: not the cached frame
        sources.load_source(path, **{**options, "filters": []})
