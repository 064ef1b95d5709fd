"""Edges of the fast paths added for performance (issue 8).

The analyses take shortcuts when the events are in canonical order (sorted by
user, then time) and count with integer codes and histograms.  These tests pin
that the shortcuts give the same answers as the general path and as hand
counts: string vs integer ids, shuffled rows, a single day of data, empty days
between active days, unbounded users without returns, many screens.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engagement_utils import _arrays, demo
from engagement_utils.io import load_events
from engagement_utils.metrics import active_users
from engagement_utils.personas import user_features
from engagement_utils.retention import retention_matrix, user_retention
from engagement_utils.sessions import sessionize

COUNTS = ["cohort", "period", "cohort_size", "eligible", "retained"]


def _log(rows, ids=None) -> pd.DataFrame:
    """rows: (user, day offset, hour, event) from 2024-01-01 UTC."""
    frame = pd.DataFrame(rows, columns=["user_id", "day", "hour", "event"])
    frame["timestamp"] = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(frame["day"] * 24 + frame["hour"], unit="h")
    if ids is not None:
        frame["user_id"] = frame["user_id"].map(ids)
    return frame[["user_id", "timestamp", "event"]]


# Users a, b start on day 0; c on day 2.  Days 3 and 4 have no events at all.
GAPPY = [("a", 0, 9, "open"), ("a", 1, 9, "open"), ("a", 5, 9, "buy"), ("b", 0, 10, "open"),
         ("b", 5, 8, "open"), ("c", 2, 12, "open"), ("c", 6, 12, "open"), ("d", 7, 1, "open")]


def test_retention_with_empty_days_matches_hand_counts():
    m = retention_matrix(_log(GAPPY), "day").set_index(["cohort", "period"])
    day0 = m.loc[pd.Timestamp("2024-01-01")]
    # data end: day 7 (in progress) -> the day-0 cohort is observed for periods 0..6
    assert day0["eligible"].tolist() == [2] * 7 + [0] * (len(day0) - 7)
    assert day0["retained"].tolist()[:7] == [2, 1, 0, 0, 0, 2, 0]
    day2 = m.loc[pd.Timestamp("2024-01-03")]
    assert day2["retained"].tolist()[:5] == [1, 0, 0, 0, 1]
    assert day2["eligible"].tolist()[:6] == [1] * 5 + [0]


def test_unbounded_counts_users_without_return_events_as_never_retained():
    unbounded = retention_matrix(_log(GAPPY), "day", "unbounded", return_events="buy")
    day0 = unbounded[unbounded["cohort"] == "2024-01-01"]
    # only a buys (day 5): retained at k = 0..5 by a, never by b
    assert day0["retained"].tolist()[:7] == [1, 1, 1, 1, 1, 1, 0]
    assert (day0["eligible"].to_numpy()[:7] == 2).all()


@pytest.mark.parametrize("kind", ["n_period", "unbounded"])
@pytest.mark.parametrize("period", ["day", "week"])
def test_string_and_integer_ids_give_the_same_matrix(kind, period):
    as_text = retention_matrix(_log(GAPPY), period, kind)
    as_int = retention_matrix(_log(GAPPY, ids={"a": 30, "b": 4, "c": 1000, "d": 7}), period, kind)
    pd.testing.assert_frame_equal(as_text[COUNTS], as_int[COUNTS])


@pytest.mark.parametrize("kind", ["n_period", "unbounded"])
@pytest.mark.parametrize("clock", ["calendar", "rolling"])
def test_shuffled_raw_rows_match_the_canonical_frame(kind, clock):
    rng = np.random.default_rng(3)
    raw = _log(GAPPY * 3 + [("e", 1, 23, "open"), ("e", 2, 0, "open")])
    shuffled = raw.iloc[rng.permutation(len(raw))].reset_index(drop=True)
    canonical = load_events(raw)
    expected = retention_matrix(canonical, "day", kind, clock=clock)
    got = retention_matrix(shuffled, "day", kind, clock=clock)
    pd.testing.assert_frame_equal(expected[COUNTS], got[COUNTS])


def test_single_day_of_data_is_censored_not_zero():
    log = _log([("a", 0, 9, "open"), ("b", 0, 11, "open"), ("a", 0, 15, "open")])
    m = retention_matrix(log, "day")
    assert m[["period", "cohort_size", "eligible", "retained"]].values.tolist() == [[0, 2, 0, 0]]
    assert m["rate"].isna().all()
    with_partial = retention_matrix(log, "day", include_partial=True)
    assert with_partial[["eligible", "retained"]].values.tolist() == [[2, 2]]
    assert active_users(log, include_partial=True)[["dau", "wau", "mau"]].values.tolist() == [[2.0, 2.0, 2.0]]


def test_recurring_cohorts_keep_the_general_path():
    m = retention_matrix(_log(GAPPY), "day", cohorts="recurring", include_partial=True)
    day5 = m[m["cohort"] == "2024-01-06"]
    # a and b are both active on day 5; neither returns on day 6 (c does, but c's day-6 member starts then)
    assert day5[["cohort_size", "retained"]].values.tolist()[:2] == [[2, 2], [2, 0]]


def test_user_retention_flags_across_empty_days():
    flags = user_retention(_log(GAPPY), days=(1, 5)).set_index("user_id")
    # the last day (7) is in progress: c's day 5 (= day 7) and everything of d are censored
    assert flags["retained_d1"].fillna(-1).to_dict() == {"a": 1.0, "b": 0.0, "c": 0.0, "d": -1}
    assert flags["retained_d5"].fillna(-1).to_dict() == {"a": 1.0, "b": 1.0, "c": -1, "d": -1}


def test_active_users_across_empty_days():
    out = active_users(_log(GAPPY), include_partial=True)
    assert out["dau"].tolist() == [2.0, 1.0, 1.0, 0.0, 0.0, 2.0, 1.0, 1.0]
    # trailing 7 days ending on day 6: a, b, c; ending day 7: a, b, c, d
    assert out["wau"].tolist()[6:] == [3.0, 4.0]


def test_session_screens_with_many_distinct_screens_use_the_general_count():
    n = 70
    many = pd.DataFrame({"user_id": "a", "event": "screen_view", "screen": [f"s{i}" for i in range(n)] + ["s0"],
                         "timestamp": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.arange(n + 1), unit="s")})
    few = many.assign(screen=["home", "cart", None] * (n // 3) + ["home"] * (n + 1 - 3 * (n // 3)))
    assert sessionize(many).sessions["n_screens"].tolist() == [n]
    assert sessionize(few).sessions["n_screens"].tolist() == [2]
    assert sessionize(few).sessions["n_screens"].dtype == np.int64


def test_session_user_ids_keep_the_categorical_dtype():
    events = load_events(_log(GAPPY))
    sessions = sessionize(events).sessions
    assert sessions["user_id"].dtype == events["user_id"].dtype
    assert sessions["user_id"].tolist() == ["a", "a", "a", "b", "b", "c", "c", "d"]


def test_user_features_do_not_depend_on_row_order():
    raw = _log(GAPPY)
    shuffled = raw.iloc[::-1].reset_index(drop=True)
    pd.testing.assert_frame_equal(user_features(raw, session_features=False).table,
                                  user_features(shuffled, session_features=False).table)
    assert user_features(raw, session_features=False).table["active_days"].to_dict() == {"a": 3, "b": 2, "c": 2, "d": 1}


def test_array_helpers_fall_back_on_unsorted_input():
    values = np.array([5, 1, 5, 3])
    assert _arrays.distinct(values).tolist() == [1, 3, 5]
    assert _arrays.distinct(np.array([], dtype=np.int64)).tolist() == []
    primary, secondary = np.array([1, 0, 1, 0]), np.array([0, 2, 0, 1])
    assert _arrays.order_by(primary, secondary).tolist() == np.lexsort((secondary, primary)).tolist() == [3, 1, 0, 2]


def test_persona_mix_changes_only_the_shares():
    light = demo.generate_demo_data(n_users=400, days=60, random_state=5, persona_mix=demo.LIGHT_MIX)
    default = demo.generate_demo_data(n_users=400, days=60, random_state=5)
    assert len(light["events"]) < len(default["events"]) / 3
    assert light["truth"]["personas"]["one_and_done"]["share"] == pytest.approx(0.92)
    assert default["truth"]["personas"]["one_and_done"]["share"] == demo.PERSONAS["one_and_done"]["share"]
    with pytest.raises(ValueError, match="unknown persona"):
        demo.generate_demo_data(n_users=10, days=5, persona_mix={"whale": 1.0})


def test_duplicates_interleaved_in_a_user_time_run_are_found_keep_first():
    # Rows 0 and 2 are exact duplicates separated by another row with the same user and time;
    # rows 1 and 3 differ only in revenue (NaN equals NaN for duplicates, as in DataFrame.duplicated).
    raw = pd.DataFrame({"user_id": ["b", "b", "b", "b", "a", "a"],
                        "timestamp": ["2024-01-02"] * 4 + ["2024-01-01", "2024-01-01 00:00:01"],
                        "event": ["x", "y", "x", "y", "x", "x"],
                        "revenue": [np.nan, 1.0, np.nan, 1.0, np.nan, np.nan]})
    ev = load_events(raw)
    assert ev.attrs["load_report"]["duplicates_dropped"] == 2
    assert list(zip(ev["user_id"], ev["event"])) == [("a", "x"), ("a", "x"), ("b", "x"), ("b", "y")]
    expected = raw.assign(timestamp=pd.to_datetime(raw["timestamp"], utc=True, format="ISO8601")).drop_duplicates()
    assert len(ev) == len(expected)
    windowed = load_events(raw, start="2024-01-02")
    assert (windowed.attrs["load_report"]["rows_outside_window"], len(windowed)) == (2, 2)
    assert windowed["user_id"].cat.categories.tolist() == ["b"]  # unused categories still removed


def test_ids_stripped_once_per_distinct_value():
    raw = pd.DataFrame({"user_id": [" b", "a ", "b", 7, "7 "], "timestamp": "2024-01-01", "event": list("vwxyz")})
    ev = load_events(raw.astype({"user_id": object}))
    assert ev["user_id"].cat.categories.tolist() == ["7", "a", "b"]
    assert ev["user_id"].tolist() == ["7", "7", "a", "b", "b"]
    with pytest.raises(Exception, match="2 null id"):
        load_events(raw.assign(user_id=["a", "  ", None, "b", "c"]))


def test_user_features_as_of_before_some_users_in_another_timezone():
    # "b" has no event before as_of: dropped, and must not break the local-day arithmetic.
    raw = pd.DataFrame({"user_id": ["a", "a", "b"], "event": "app_open",
                        "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 23:30", "2024-01-05 00:00"], utc=True)})
    f = user_features(raw, end="2024-01-04", tz="Europe/Berlin").table
    assert f.index.tolist() == ["a"]
    # Berlin days 01-01 and 01-03 (23:30 UTC); eligible 01-01 .. 01-03 (as_of 01-04 00:00 UTC is 01-04 01:00 local)
    assert (f.loc["a", "active_days"], f.loc["a", "active_day_share"]) == (2, pytest.approx(2 / 4))


@pytest.mark.parametrize("stamps", [
    ["2024-01-01 10:00:00.5+01:00", "2024-01-02T00:00:00Z", None],   # offsets: parsed by Arrow
    ["2024-01-01 10:00", "2024-01-02", None],                          # naive: Arrow, read as UTC
    ["2024-01-01 10:00:00+01:00", "2024-01-02 10:00"],                 # mixed: pandas
    ["12/1/2010 8:26", "2024-01-02 10:00"],                            # not ISO: pandas, per element
])
def test_csv_timestamps_parse_like_pandas_whichever_parser_runs(tmp_path, stamps):
    path = tmp_path / "events.csv"
    pd.DataFrame({"user_id": "a", "timestamp": stamps, "event": "x"}).to_csv(path, index=False)
    raw = pd.read_csv(path)
    assert isinstance(raw["timestamp"].array, pd.arrays.ArrowStringArray)  # the Arrow fast path applies
    expected = pd.to_datetime(raw["timestamp"], utc=True, format="mixed").dropna().sort_values()
    if None in stamps:
        with pytest.raises(Exception, match="1 missing value"):
            load_events(path)
        raw = raw.dropna()
        raw.to_csv(path, index=False)
    ev = load_events(path)
    assert ev["timestamp"].dtype == "datetime64[ns, UTC]"
    assert ev["timestamp"].tolist() == expected.tolist()


@pytest.mark.parametrize("ids", [pd.Categorical(["u2", "u1", None, "u3", "u2"]), pd.Series(["u2", "u1", "u9", "u3", "u2"]),
                                 pd.Categorical([2, 1, 9, 3, 2])])
def test_experiment_owner_matches_an_object_index_lookup(ids):
    # _owner hashes the assigned ids in Arrow; the reference is pandas' object-index lookup
    from engagement_utils.experiments.metrics import _owner

    assigned = np.array(["u3", "u2", "7"], dtype=object)
    codes, categories = pd.factorize(pd.Series(ids)) if not isinstance(ids, pd.Categorical) else (ids.codes, ids.categories)
    expected = pd.Index(assigned).get_indexer(pd.Index(categories).astype(object))
    expected = np.where(np.asarray(codes) >= 0, expected[np.asarray(codes)], -1)
    assert _owner(pd.DataFrame({"user_id": ids}), assigned).tolist() == expected.tolist()


def test_summaries_keep_every_segment_variant_cell_in_sorted_order():
    from engagement_utils.experiments import summarize

    users = pd.DataFrame({"variant": ["b", "control", "b", "control", "b"], "segment": ["web", "ios", None, "web", "web"],
                          "converted": [1.0, 0.0, 1.0, np.nan, 0.0]})
    table = summarize(users, ["converted"], segment="segment").table
    assert table[["segment", "variant", "n", "sum_y"]].values.tolist() == [
        ["(missing)", "b", 1, 1.0], ["(missing)", "control", 0, 0.0], ["ios", "b", 0, 0.0], ["ios", "control", 1, 0.0],
        ["web", "b", 2, 1.0], ["web", "control", 0, 0.0]]
