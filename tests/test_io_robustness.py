"""Loader robustness (issue 14) and the Arrow-native read path (issue 16)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engagement_utils import _arrays, io, sources
from engagement_utils.io import DataValidationError


def test_non_utf8_file_names_offset_line_and_encoding(tmp_path):
    path = tmp_path / "events.csv"
    path.write_bytes("user_id,timestamp,event\nu1,2024-01-01,open\nu2,2024-01-01,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataValidationError) as err:
        io.load_events(path, cache=False)
    text = str(err.value)
    offset = path.read_bytes().index(b"\xe9")
    assert f"byte 0xe9 at byte offset {offset}" in text and "(line 3)" in text
    assert "encoding='latin-1'" in text and "cp1252" in text
    ev = io.load_events(path, encoding="latin-1", cache=False)
    assert "café" in ev["event"].cat.categories


def test_semicolon_file_is_sniffed_and_a_forced_comma_says_why(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("user_id;timestamp;event\nu1;2024-01-01 10:00;open\nu2;2024-01-02 11:00;buy\n")
    ev = io.load_events(path, cache=False)
    assert ev["event"].tolist() == ["open", "buy"]
    with pytest.raises(DataValidationError) as err:
        io.load_events(path, delimiter=",", cache=False)
    assert "separated by ';'" in str(err.value) and "delimiter=';'" in str(err.value)
    assert len(err.value.problems) == 4  # three missing columns, then the delimiter
    tabbed = tmp_path / "events_tab.csv"
    tabbed.write_text("user_id\ttimestamp\tevent\nu1\t2024-01-01\topen\n")
    assert len(io.load_events(tabbed, cache=False)) == 1


def test_reversed_date_window_names_both_dates():
    raw = pd.DataFrame({"user_id": ["a"], "timestamp": ["2024-01-05"], "event": ["x"]})
    with pytest.raises(DataValidationError) as err:
        io.load_events(raw, start="2024-02-01", end="2024-01-01")
    text = str(err.value)
    assert "start='2024-02-01' is not before end='2024-01-01'" in text and "swap them" in text
    assert "no rows left" not in text


def test_mixed_naive_and_offset_timestamps_warn_with_counts():
    raw = pd.DataFrame({"user_id": ["a", "a", "b"], "event": "x",
                        "timestamp": ["2024-01-01 10:00+02:00", "2024-01-01 11:00", "2024-01-01 12:00"]})
    with pytest.warns(UserWarning, match="mixes 1 timestamp.s. with a UTC offset and 2 without"):
        ev = io.load_events(raw)
    assert any("mixes 1 timestamp" in w for w in io.load_report(ev).warnings)
    assert ev["timestamp"].tolist()[0] == pd.Timestamp("2024-01-01 08:00", tz="UTC")


def test_unknown_source_option_lists_allowed_keys_with_did_you_mean():
    raw = pd.DataFrame({"user_id": ["a"], "timestamp": ["2024-01-01"], "event": ["x"]})
    with pytest.raises(ValueError) as err:
        sources.load_source(raw, filter=[{"drop": "duplicates"}])
    text = str(err.value)
    assert text.startswith("The 'source_options' parameter must be one of {'column_map', ")
    assert "got 'filter' — did you mean 'filters'?" in text


def test_columns_option_prunes_and_keeps_the_required_columns(tmp_path):
    raw = pd.DataFrame({"uid": ["b", "a"], "timestamp": ["2024-01-01", "2024-01-02"], "event": ["x", "y"],
                        "platform": ["ios", "web"], "revenue": [1.0, np.nan], "country": ["DE", "FR"]})
    for path in (tmp_path / "e.parquet", tmp_path / "e.csv"):
        raw.to_parquet(path) if path.suffix == ".parquet" else raw.to_csv(path, index=False)
        ev = io.load_events(path, column_map={"uid": "user_id"}, columns=["platform"], cache=False)
        assert list(ev.columns) == ["user_id", "timestamp", "event", "platform"]
        assert ev["platform"].tolist() == ["web", "ios"]


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_file_read_path_equals_the_dataframe_path(tmp_path, suffix):
    rng = np.random.default_rng(3)
    n = 2_000
    raw = pd.DataFrame({
        "user_id": pd.Series([f" u{i} " if i % 7 == 0 else f"u{i}" for i in rng.integers(0, 300, n)]),
        "timestamp": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 10**6, n)), unit="s"),
        "event": rng.choice(["open", "buy", "view"], n),
        "screen": rng.choice(["home", "cart", None], n),
        "revenue": np.where(rng.random(n) < 0.1, 2.5, np.nan),
    })
    raw = pd.concat([raw, raw.iloc[:5]], ignore_index=True)  # a few exact duplicates, out of order
    path = tmp_path / f"events.{suffix}"
    raw.to_parquet(path) if suffix == "parquet" else raw.to_csv(path, index=False)
    from_file = io.load_events(path, cache=False)
    from_frame = io.load_events(pd.read_parquet(path) if suffix == "parquet" else pd.read_csv(path))
    pd.testing.assert_frame_equal(from_file, from_frame, check_exact=True)
    for col in ("user_id", "event", "screen"):
        assert from_file[col].cat.categories.equals(from_frame[col].cat.categories)
    assert io.load_report(from_file).duplicates_dropped == 5


def test_order_by_on_time_ordered_rows_matches_lexsort():
    rng = np.random.default_rng(0)
    user = rng.integers(0, 50, 5_000).astype(np.int32)
    ts = np.sort(rng.integers(0, 1_000, 5_000))  # many ties
    assert np.array_equal(_arrays.order_by(user, ts), np.lexsort((ts, user)))
    shuffled = rng.permutation(ts)
    assert np.array_equal(_arrays.order_by(user, shuffled), np.lexsort((shuffled, user)))
