"""Loading and validation: happy paths and every bad-input case of DESIGN §4."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from engagement_utils import io
from engagement_utils.io import DataValidationError


def raw_events(**overrides) -> pd.DataFrame:
    frame = pd.DataFrame({
        "user_id": ["a", "a", "b", "c"],
        "timestamp": ["2024-01-01 10:00", "2024-01-02 09:00", "2024-01-01 12:00", "2024-01-03 08:00"],
        "event": ["app_open", "purchase", "app_open", "app_open"],
        "revenue": [np.nan, 12.5, np.nan, np.nan],
    })
    for column, values in overrides.items():
        frame[column] = values
    return frame


def test_load_events_canonical_dtypes_and_order():
    ev = io.load_events(raw_events().iloc[::-1])
    assert str(ev["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert isinstance(ev["user_id"].dtype, pd.CategoricalDtype)
    assert isinstance(ev["event"].dtype, pd.CategoricalDtype)
    assert ev["revenue"].dtype == "float64"
    assert ev["user_id"].astype(str).tolist() == ["a", "a", "b", "c"]
    assert ev["timestamp"].is_monotonic_increasing is False  # sorted by user first, then time
    assert ev.groupby("user_id", observed=True)["timestamp"].apply(lambda s: s.is_monotonic_increasing).all()
    assert list(ev.index) == [0, 1, 2, 3]


def test_timezone_aware_values_are_converted_and_naive_read_as_utc():
    ev = io.load_events(raw_events(timestamp=["2024-01-01 10:00+02:00", "2024-01-02 09:00", "2024-01-01 12:00", "2024-01-03 08:00Z"]))
    a = ev[ev["user_id"] == "a"]["timestamp"].tolist()
    assert a[0] == pd.Timestamp("2024-01-01 08:00", tz="UTC")
    assert a[1] == pd.Timestamp("2024-01-02 09:00", tz="UTC")


def test_column_map_renames_user_columns():
    raw = raw_events().rename(columns={"user_id": "uid", "timestamp": "time"})
    ev = io.load_events(raw, column_map={"uid": "user_id", "time": "timestamp"})
    assert {"user_id", "timestamp", "event"} <= set(ev.columns)


def test_input_frame_is_not_modified():
    raw = raw_events()
    before = raw.copy()
    io.load_events(raw, column_map={"revenue": "revenue"})
    pd.testing.assert_frame_equal(raw, before)


def test_input_file_is_not_modified(tmp_path):
    path = tmp_path / "events.csv"
    raw_events().to_csv(path, index=False)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    io.load_events(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("suffix", ["csv", "csv.gz", "parquet"])
def test_file_formats_round_trip(tmp_path, suffix):
    path = tmp_path / f"events.{suffix}"
    raw = raw_events()
    raw.to_parquet(path) if suffix == "parquet" else raw.to_csv(path, index=False)
    ev = io.load_events(path)
    assert len(ev) == 4
    assert ev["revenue"].sum() == 12.5


def test_missing_column_names_closest_match():
    raw = raw_events().rename(columns={"user_id": "userid"})
    with pytest.raises(DataValidationError) as err:
        io.load_events(raw)
    message = str(err.value)
    assert "'user_id' is missing" in message and "closest existing column: 'userid'" in message
    assert "column_map" in message


def test_unparseable_timestamps_report_count_and_csv_lines(tmp_path):
    path = tmp_path / "events.csv"
    raw_events(timestamp=["2024-01-01 10:00", "yesterday", "2024-01-01 12:00", "not a date"]).to_csv(path, index=False)
    with pytest.raises(DataValidationError) as err:
        io.load_events(path)
    message = str(err.value)
    # data rows 1 and 3 (0-based) sit on CSV lines 3 and 5 behind the header
    assert "2 value(s) could not be read as timestamps" in message
    assert "CSV line(s) 3, 5" in message


def test_every_problem_is_listed_at_once():
    raw = raw_events(user_id=["a", None, "b", "c"], revenue=[np.nan, -3.0, np.nan, np.nan])
    raw.loc[2, "timestamp"] = "garbage"
    with pytest.raises(DataValidationError) as err:
        io.load_events(raw)
    problems = err.value.problems
    assert len(problems) == 3
    assert any("null id" in p for p in problems)
    assert any("negative" in p and "revenue" in p for p in problems)
    assert any("timestamps" in p for p in problems)


def test_float_ids_become_clean_integers():
    ev = io.load_events(raw_events(user_id=[17850.0, 17850.0, 12346.0, 13047.0]))
    assert sorted(ev["user_id"].cat.categories.tolist()) == [12346, 13047, 17850]


def test_duplicates_dropped_and_counted():
    raw = pd.concat([raw_events(), raw_events().iloc[[0, 0]]], ignore_index=True)
    ev = io.load_events(raw)
    report = io.load_report(ev)
    assert len(ev) == 4
    assert report.duplicates_dropped == 2 and report.rows_read == 6 and report.rows_loaded == 4
    assert "2 exact duplicate" in report.warnings[0]


def test_date_window_and_empty_selection():
    ev = io.load_events(raw_events(), start="2024-01-02", end="2024-01-03")
    assert ev["event"].tolist() == ["purchase"]
    assert io.load_report(ev).rows_outside_window == 3
    with pytest.raises(DataValidationError, match="no rows left after the date window"):
        io.load_events(raw_events(), start="2025-01-01")


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(DataValidationError, match="file not found"):
        io.load_events(tmp_path / "nope.csv")
    bad = tmp_path / "events.xlsx"
    bad.write_text("x")
    with pytest.raises(DataValidationError, match="unsupported file type"):
        io.load_events(bad)
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    with pytest.raises(DataValidationError, match="could not read"):
        io.load_events(broken)


def test_assignments_reject_user_in_two_variants():
    raw = pd.DataFrame({"user_id": [1, 1, 2], "experiment": ["x", "x", "x"], "variant": ["control", "b", "b"]})
    with pytest.raises(DataValidationError, match="more than one variant"):
        io.load_assignments(raw)
    ok = io.load_assignments(pd.DataFrame({"user_id": [1, 1, 2], "experiment": ["x", "y", "x"], "variant": ["a", "b", "a"]}))
    assert len(ok) == 3


def test_assignments_repeated_rows_kept_once():
    raw = pd.DataFrame({"user_id": [1, 1], "experiment": ["x", "x"], "variant": ["a", "a"]})
    assert len(io.load_assignments(raw)) == 1


def test_spend_rejects_negative_cost():
    with pytest.raises(DataValidationError, match="negative"):
        io.load_spend(pd.DataFrame({"date": ["2024-01-01"], "channel": ["ads"], "cost": [-1.0]}))
    spend = io.load_spend(pd.DataFrame({"date": ["2024-01-02 13:00"], "channel": ["ads"], "cost": ["7.5"]}))
    assert spend["date"].iloc[0] == pd.Timestamp("2024-01-02") and spend["cost"].iloc[0] == 7.5


def test_users_must_be_unique():
    with pytest.raises(DataValidationError, match="more than once"):
        io.load_users(pd.DataFrame({"user_id": ["a", "a"]}))


def test_surveys_check_kind_and_scale():
    raw = pd.DataFrame({"user_id": [1, 2, 3], "timestamp": ["2024-01-01"] * 3, "score": [11, 3, 4], "kind": ["nps", "csat", "stars"]})
    with pytest.raises(DataValidationError) as err:
        io.load_surveys(raw)
    text = str(err.value)
    assert "outside the scale" in text and "'stars'" in text


def test_attach_user_properties_aligns_by_id():
    ev = io.load_events(raw_events())
    users = io.load_users(pd.DataFrame({"user_id": ["b", "a"], "plan": ["free", "pro"]}))
    out = io.attach_user_properties(ev, users, ["plan"])
    assert out["plan"].astype(object).where(out["plan"].notna(), None).tolist() == ["pro", "pro", "free", None]
    assert "plan" not in ev.columns
    with pytest.raises(ValueError, match="no column"):
        io.attach_user_properties(ev, users, ["tier"])


def test_demo_files_load_cleanly(demo_dir):
    ev = io.load_events(demo_dir / "events.parquet")
    assert ev["user_id"].nunique() > 1000
    io.load_assignments(demo_dir / "assignments.csv")
    io.load_spend(demo_dir / "spend.csv")
    io.load_users(demo_dir / "users.csv")
    io.load_surveys(demo_dir / "surveys.csv")


def test_user_and_assignment_files_load_as_their_frames(tmp_path):
    # Files take the Arrow-dictionary route for ids and text; a DataFrame the pandas one: same tables, same errors.
    users = pd.DataFrame({"user_id": [" b", "a ", "c", "é"], "plan": ["pro", None, "free", "pro"],
                          "signup_at": ["2024-01-02 10:00", "2024-01-01", "2023-12-31 23:59:59", "2024-01-03T08:00:00"]})
    assignments = pd.DataFrame({"user_id": ["a ", " b", "c"], "experiment": ["x", "x", "y"], "variant": ["control", "b", "control"],
                                "assigned_at": ["2024-01-05 10:00", "2024-01-05 11:00", "2024-01-06 09:00"]})
    users.to_csv(tmp_path / "users.csv", index=False)
    assignments.to_csv(tmp_path / "assignments.csv", index=False)
    pd.testing.assert_frame_equal(io.load_users(tmp_path / "users.csv"), io.load_users(users), check_exact=True)
    pd.testing.assert_frame_equal(io.load_assignments(tmp_path / "assignments.csv"), io.load_assignments(assignments), check_exact=True)
    assert io.load_users(tmp_path / "users.csv")["user_id"].tolist() == ["a", "b", "c", "é"]
    for bad, message in ((["a", " a "], "listed more than once"), (["a", "  "], "null id")):
        pd.DataFrame({"user_id": bad}).to_csv(tmp_path / "bad.csv", index=False)
        for source in (tmp_path / "bad.csv", pd.DataFrame({"user_id": bad})):  # rows are named per source (CSV line, row)
            with pytest.raises(DataValidationError, match=message):
                io.load_users(source)
