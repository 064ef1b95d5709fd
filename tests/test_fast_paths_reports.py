"""The 10M report run's fast paths (issue 16) against their definitions on small random logs.

Paths and screen flow use the log's cached segment codes instead of per-row strings, distinct
path rows are packed into one integer, paths by segment count users with a bitmap, the users'
signup fills ``first_seen`` without per-user Timestamp objects, persona outcomes carry the persona
as a categorical, and the silhouettes of every k share one pass over the distance chunks.  Each
test pins the result against a plain definition (Python loops over sessions are fine here).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from engagement_utils import funnels, retention
from engagement_utils.core import EventLog
from engagement_utils._arrays import distinct_per_code
from engagement_utils.engagement_report import _text_codes, paths_by_segment
from engagement_utils.funnels import _unique_rows
from engagement_utils.metrics.people import user_frame
from engagement_utils.personas import persona_outcomes, user_features
from engagement_utils.personas.clusters import silhouette_scores
from engagement_utils.sessions import assign_sessions

EVENTS = ["app_open", "screen_view", "add_to_cart", "begin_checkout", "purchase"]


def _random_log(seed: int, n_users: int = 40, n_events: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n_events)
    minutes = np.sort(rng.integers(0, 60 * 24 * 5, n_events))
    frame = pd.DataFrame({
        "user_id": pd.Categorical([f"u{u:03d}" for u in users]),
        "timestamp": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(minutes + rng.integers(0, 50, n_events), unit="min"),
        # unused categories and a category order that is not alphabetical
        "event": pd.Categorical(rng.choice(EVENTS, n_events), categories=["purchase", "zz_unused", *EVENTS[:-1]]),
        "screen": pd.Categorical(rng.choice(["home", "product", None, "cart"], n_events)),
        "platform": pd.Categorical(rng.choice(["ios", "web", None], n_events)),
    })
    return frame.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)


def _sessions(frame: pd.DataFrame, column: str) -> list[list[str]]:
    """Each session's items as text ("(missing)" for missing values), by the definition of a session."""
    with_ids = assign_sessions(frame)
    items = with_ids[column].astype(object).where(with_ids[column].notna(), "(missing)").map(str)
    return [list(group) for _, group in items.groupby(with_ids["session_id"], sort=True)]


def _reference_paths(sessions, anchor: str, length: int) -> Counter:
    paths = Counter()
    for items in sessions:
        if anchor not in items:
            continue
        start = items.index(anchor)
        path = items[start:start + length]
        if len(path) < length:
            path = path + ["(exit)"]
        paths[" → ".join(path)] += 1
    return paths


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_paths_transitions_and_exits_match_their_definitions(seed):
    frame = _random_log(seed)
    sessions = _sessions(frame, "event")
    got = funnels.top_paths(frame, "add_to_cart", length=3, top=1000)
    want = _reference_paths(sessions, "add_to_cart", 3)
    assert dict(zip(got["path"], got["sessions"])) == dict(want)
    assert got["share"].tolist() == pytest.approx([c / sum(want.values()) for c in got["sessions"]])
    first = funnels.top_paths(frame, length=2, top=1000)
    assert dict(zip(first["path"], first["sessions"])) == dict(
        Counter(" → ".join(s[:2] + (["(exit)"] if len(s) < 2 else [])) for s in sessions))

    screens = _sessions(frame, "screen")
    flow = funnels.transitions(frame, column="screen")
    pairs = Counter()
    for items in screens:
        chain = ["(entry)", *items, "(exit)"]
        pairs.update(zip(chain[:-1], chain[1:]))
    assert dict(zip(zip(flow["source"], flow["target"]), flow["transitions"])) == dict(pairs)
    exits = funnels.exit_rates(frame, column="screen")
    occurrences = Counter(item for items in screens for item in items)
    last = Counter(items[-1] for items in screens)
    assert dict(zip(exits["item"], zip(exits["occurrences"], exits["exits"]))) == {
        item: (occurrences[item], last[item]) for item in occurrences}


def test_checkout_loops_per_segment_match_the_definition():
    frame = _random_log(5, n_events=900)
    got = funnels.checkout_loops(frame, "begin_checkout", "add_to_cart", segment="platform", period="month")
    with_ids = assign_sessions(frame)
    rows = []
    for _, s in with_ids.groupby("session_id", sort=True):
        names = s["event"].astype(str).tolist()
        if "begin_checkout" not in names:
            continue
        first = names.index("begin_checkout")
        back = next((i for i in range(first + 1, len(names)) if names[i] == "add_to_cart"), None)
        looped = back is not None and "begin_checkout" in names[back + 1:]
        value = s["platform"].iloc[0]
        rows.append(("(missing)" if pd.isna(value) else value, looped))
    want = Counter(seg for seg, _ in rows), Counter(seg for seg, looped in rows if looped)
    assert dict(zip(got["segment"], got["checkout_sessions"])) == dict(want[0])
    assert {k: v for k, v in zip(got["segment"], got["loop_sessions"]) if v} == dict(want[1])


def test_packed_unique_rows_equal_numpy_unique_rows():
    rng = np.random.default_rng(3)
    matrix = rng.integers(-1, 6, size=(500, 4))
    rows, counts = _unique_rows(matrix, -1, 5)
    ref_rows, ref_counts = np.unique(matrix, axis=0, return_counts=True)
    assert sorted(zip(map(tuple, rows.tolist()), counts.tolist())) == sorted(zip(map(tuple, ref_rows.tolist()), ref_counts.tolist()))
    wide = rng.integers(0, 3, size=(50, 70))  # 3 ** 70 does not fit an int64: numpy's row unique
    assert np.array_equal(_unique_rows(wide, 0, 2)[0], np.unique(wide, axis=0))


def test_paths_by_segment_groups_and_user_counts_match_string_grouping():
    frame = _random_log(7, n_events=1200)
    frame["n_channels"] = pd.array(np.random.default_rng(7).choice([1, 2, 3], len(frame)), dtype="Int64")
    frame.loc[::17, "n_channels"] = pd.NA
    for column in ("platform", "n_channels"):
        values = frame[column].astype("string").fillna("(missing)")
        codes, names = _text_codes(frame[column])
        assert names.take(codes).tolist() == values.tolist()
        want = frame.groupby(values.to_numpy(), observed=True)["user_id"].nunique()
        log = EventLog(frame)
        for n_values in (len(names), 2 ** 28):  # the bitmap, and the sort for many values
            got = distinct_per_code(codes, log.user_code, n_values, log.n_users)[:len(names)]
            assert dict(zip(names, got)) == want.to_dict()
    got = paths_by_segment(EventLog(frame), "platform", "add_to_cart", length=3, top=50, min_group_size=1)
    for value, part in got.groupby("segment"):
        subset = frame[frame["platform"].astype("string").fillna("(missing)") == value]
        assert dict(zip(part["path"], part["sessions"])) == dict(_reference_paths(_sessions(subset, "event"), "add_to_cart", 3))


def test_user_frame_fills_first_seen_with_signup_as_the_timestamp_objects_did():
    frame = _random_log(11)
    log = EventLog(frame)
    users = pd.DataFrame({"user_id": [*log.users[:5], "new1", "new2"],
                          "signup_at": pd.to_datetime(["2023-12-01 10:00:00.123"] * 5 + ["2024-02-01 00:00:00.000", None], utc=True)
                          .as_unit("us")})
    got = user_frame(log, users)
    seen = user_frame(log)
    merged = users[["user_id"]].astype(object).merge(seen, on="user_id", how="left")
    want = merged["first_seen"].fillna(pd.Series(users["signup_at"].to_numpy(), index=merged.index))
    pd.testing.assert_series_equal(got["first_seen"], want)
    assert got["first_seen"].iloc[5] == pd.Timestamp("2024-02-01", tz="UTC") and pd.isna(got["first_seen"].iloc[6])


def test_persona_retention_is_the_retention_of_the_persona_names():
    frame = _random_log(13, n_events=1500)
    log = EventLog(frame)
    labels = pd.Series(np.arange(log.n_users) % 3, index=log.users)
    names = {0: "Loyal buyers", 1: "Browsers", 2: "One-and-done"}
    got = persona_outcomes(log, labels, names=names, max_days=3)
    per_event = labels.map(names).reindex(frame["user_id"].astype(object)).to_numpy(dtype=object)
    matrix = retention.retention_matrix(frame.assign(persona=per_event), "day", segment="persona", max_periods=3)
    pd.testing.assert_frame_equal(got.retention, retention.retention_curve(matrix))


def test_silhouette_scores_of_several_labelings_equal_sklearn_to_the_last_bit():
    import sklearn
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(17)
    X = rng.normal(size=(700, 5))
    sets = [rng.integers(0, k, len(X)) for k in (2, 4, 7)] + [np.r_[np.zeros(len(X) - 1, int), [3]]]
    for memory in (1, 64):  # several distance chunks, and one
        with sklearn.config_context(working_memory=memory):
            assert silhouette_scores(X, sets, block_rows=50) == [silhouette_score(X, labels) for labels in sets]
    assert silhouette_scores(X, []) == []


@pytest.mark.parametrize("shuffled", [False, True])
def test_overview_counts_match_groupby_definitions(shuffled):
    from engagement_utils import overview

    frame = _random_log(19, n_events=1500)
    if shuffled:  # not in canonical order: the general path of distinct()
        frame = frame.sample(frac=1, random_state=1).reset_index(drop=True)
    per_day = overview.events_per_period(frame, "day")
    day = frame["timestamp"].dt.floor("D").dt.tz_localize(None)
    want = frame.groupby(day)["user_id"].nunique()
    got = per_day.set_index("period")["users"]
    assert got[got > 0].to_dict() == {k: v for k, v in want.to_dict().items()}
    mix = overview.value_mix(frame, "screen")
    values = frame["screen"].astype(object).where(frame["screen"].notna(), "(missing)")
    assert dict(zip(mix["value"], mix["users"])) == frame.groupby(values)["user_id"].nunique().to_dict()
    users = pd.DataFrame({"user_id": ["u000", "u001", "nobody", "u002"]})
    ids = frame["user_id"].astype(object)
    assert overview.user_table_checks(frame, users) == {
        "event rows of users missing from the user table": int((~ids.isin(set(users["user_id"]))).sum()),
        "users in the user table without events": int((~users["user_id"].isin(set(ids))).sum())}
    as_text = frame.assign(user_id=ids)  # not categorical: the per-row path
    assert overview.user_table_checks(as_text, users) == overview.user_table_checks(frame, users)


@pytest.mark.parametrize("unit", ["us", "ns"])
def test_retention_by_variant_equals_the_retention_of_timestamp_object_anchors(unit):
    from engagement_utils.experiments.metrics import retention_by_variant
    from engagement_utils.retention import user_retention

    frame = _random_log(23, n_events=1200)
    ids = pd.Index(frame["user_id"].cat.categories)
    rng = np.random.default_rng(23)
    asg = pd.DataFrame({"user_id": ids, "experiment": "x", "variant": rng.choice(["control", "b"], len(ids)),
                        "assigned_at": (pd.Timestamp("2024-01-01 08:00:00.123456", tz="UTC")
                                        + pd.to_timedelta(rng.integers(0, 48 * 60, len(ids)), unit="min")).as_unit(unit)})
    got = retention_by_variant(asg, frame, "x", days=(0, 1, 2))
    # the old definition: the anchors as one Timestamp object per user
    anchor = pd.Series(pd.to_datetime(asg["assigned_at"], utc=True).to_numpy(), index=pd.Index(asg["user_id"].astype(object)))
    flags = user_retention(frame, days=(0, 1, 2), anchor=anchor)
    for day, column in zip((0, 1, 2), [c for c in flags.columns if c not in ("user_id", "anchor")]):
        values = pd.DataFrame({"variant": asg["variant"].to_numpy(), "retained": flags[column].to_numpy()}).dropna()
        want = values.groupby("variant")["retained"].agg(["count", "sum"])
        rows = got[got["day"] == day].set_index("variant")
        assert rows["users"].to_dict() == want["count"].to_dict()
        assert rows["retained"].to_dict() == want["sum"].astype(np.int64).to_dict()


@pytest.mark.parametrize("variant", ["canonical", "shuffled", "session_id", "us", "window"])
def test_user_feature_sessions_equal_the_session_table(variant):
    from engagement_utils.sessions import sessionize

    frame = _random_log(29, n_events=2000)
    frame["timestamp"] = frame["timestamp"] + pd.to_timedelta(np.random.default_rng(29).integers(0, 10**9, len(frame)), unit="ns")
    frame = frame.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    options = {}
    if variant == "shuffled":
        frame = frame.sample(frac=1, random_state=3).reset_index(drop=True)
    if variant == "session_id":
        frame["session_id"] = (frame.index // 7).astype(str)
    if variant == "us":
        frame["timestamp"] = frame["timestamp"].dt.as_unit("us")
    if variant == "window":
        options = {"end": "2024-01-05", "window": "2D"}
    got = user_features(frame, **options).table
    log = EventLog(frame)
    ns = log.ns
    end = pd.Timestamp(options["end"], tz="UTC").value if options else ns.max() + 86_400 * 10**9
    start = end - pd.Timedelta(options["window"]).value if options else np.iinfo(np.int64).min
    rows = np.flatnonzero((ns >= start) & (ns < end))
    columns = [c for c in ("user_id", "timestamp", "event", "session_id") if c in frame.columns]
    sessions = sessionize(frame[columns].iloc[rows]).sessions
    codes = pd.Categorical(sessions["user_id"], categories=log.users).codes.astype(np.int64)
    n = log.n_users
    count = np.bincount(codes, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        want = pd.DataFrame({
            "sessions": count,
            "mean_session_s": np.bincount(codes, weights=sessions["duration_s"].to_numpy(), minlength=n) / count,
            "events_per_session": np.bincount(codes, weights=sessions["n_events"].to_numpy(), minlength=n) / count,
            "bounce_rate": np.bincount(codes, weights=sessions["bounce"].to_numpy(dtype=float), minlength=n) / count,
        }, index=pd.Index(log.users, name="user_id")).loc[got.index]
    pd.testing.assert_frame_equal(got[list(want.columns)], want, check_exact=True)
