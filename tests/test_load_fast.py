"""The loader's fast paths give exactly what the plain Arrow / numpy calls give (issue 16)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from engagement_utils import io
from engagement_utils._arrays import group_order, order_by
from engagement_utils.io import read


def _random_text(rng, n, max_len, alphabet):
    lengths = rng.integers(0, max_len + 1, n)
    return ["".join(rng.choice(alphabet, size=k)) for k in lengths]


@pytest.mark.parametrize("max_len", [1, 5, 8, 9])
@pytest.mark.parametrize("large", [False, True])
def test_sort_order_is_arrows_byte_order(max_len, large):
    rng = np.random.default_rng(max_len)
    alphabet = list("aAbZz09_-") + ["é", "ß", "\x01", "\x7f", "日"]
    values = sorted(set(_random_text(rng, 3000, max_len, alphabet)))
    rng.shuffle(values)
    array = pa.array(values, type=pa.large_string() if large else pa.string())
    array = array.slice(3)  # a non-zero offset
    expected = pc.array_sort_indices(array).to_numpy()
    assert np.array_equal(read._sort_order(array), expected)


def test_sort_order_falls_back_with_nul_bytes():
    array = pa.array(["a\x00", "a", "", "\x00"])
    assert read._sort_order(array).tolist() == pc.array_sort_indices(array).to_numpy().tolist()


@pytest.mark.parametrize("chunks", [1, 2, 7])
def test_encode_equals_dictionary_encode(chunks):
    rng = np.random.default_rng(chunks)
    values = rng.choice(["u1", "u22", "u3", "x", "é", None], size=701).tolist()
    column = pa.chunked_array([pa.array(part, type=pa.large_string()) for part in np.array_split(np.array(values, dtype=object), chunks)])
    dictionary, codes = read._encode(column)
    reference = pc.dictionary_encode(column)
    assert dictionary.equals(reference.chunk(0).dictionary)
    assert np.array_equal(codes, np.concatenate([pc.fill_null(c.indices, -1).to_numpy() for c in reference.chunks]))


def test_group_order_is_a_stable_argsort():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 50, 10_000)
    assert np.array_equal(group_order(codes, 50), np.argsort(codes, kind="stable"))
    ts = np.sort(rng.integers(0, 10**6, len(codes)))
    assert np.array_equal(order_by(codes, ts), np.lexsort((ts, codes)))


def test_time_ordered_file_loads_like_a_sorted_frame(tmp_path):
    rng = np.random.default_rng(5)
    n = 5000
    frame = pd.DataFrame({
        "user_id": rng.choice([f"u{i:03d}" for i in range(300)] + ["a-much-longer-user-id-0001"], n),
        "timestamp": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 10**6, n)), "s"),
        "event": rng.choice(["open", "view", "purchase"], n),
    })
    frame = pd.concat([frame, frame.iloc[[10, 20, 20]]]).sort_values("timestamp", kind="stable", ignore_index=True)
    path = tmp_path / "events.parquet"
    frame.to_parquet(path, index=False)
    loaded = io.load_events(path, cache=False)
    expected = frame.drop_duplicates().sort_values(["user_id", "timestamp"], kind="stable", ignore_index=True)
    assert loaded["user_id"].astype(str).tolist() == expected["user_id"].tolist()
    assert loaded["timestamp"].tolist() == expected["timestamp"].tolist()
    assert loaded["event"].astype(str).tolist() == expected["event"].tolist()
    assert loaded["user_id"].cat.categories.tolist() == sorted(frame["user_id"].unique())
    assert loaded.attrs["load_report"]["duplicates_dropped"] == len(frame) - len(expected) >= 3
