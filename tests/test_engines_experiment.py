"""03's per-user experiment metrics on the engine equal the in-memory ones (issue 15).

``experiments.experiment_users`` and ``retention_by_variant`` handed an Ibis source (DuckDB,
PySpark) return the in-memory frames: same columns, dtypes, values, order and attrs.  Exactly
equal, except ``time_in_app_min`` (the engine sums whole microseconds, memory adds each
session's minutes: equal to about 1e-16 relative).  The data: the demo (Spark: a sample of its
users) and a hand-built adversarial log whose every row sits on a boundary -- an assignment at
local midnight on the day the clocks change, events exactly at the assignment and one
microsecond before, the first and last microsecond of the windows, sub-second gaps, a session
gap exactly at the 30-minute timeout and one microsecond longer, a user without events, a
censored last user, revenue missing (NaN, or no column at all), integer ids.  One Spark session
per test run (the ``spark`` fixture of ``tests/test_engines.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ibis", reason="engine tests need the engines extra: pip install -e '.[engines]'")

from test_engines import spark  # noqa: E402,F401  (the one Spark session of the run)

from engagement_utils import io  # noqa: E402
from engagement_utils.engines import experiment_scans  # noqa: E402
from engagement_utils.engines.connect import from_frame  # noqa: E402
from engagement_utils.experiments import experiment_users, retention_by_variant  # noqa: E402

ENGINES = ["duckdb", "pyspark"]
EXPERIMENT = "exp"
SMALL = dict(conversion_days=2, window_days=3, pre_period_days=2, retention_days=(0, 1, 2, 3))
"""Short windows, so that the adversarial rows fall on their edges."""


def _ts(values):
    return pd.to_datetime(values, utc=True, format="ISO8601")


def adversarial_events() -> pd.DataFrame:
    """Every row is there for a reason (times UTC; the comments give Berlin local time)."""
    rows = [
        # m: assigned 2024-03-30T23:00Z = 31 March 00:00 CET, the spring DST day (23 hours)
        ("m", "2024-03-28T22:59:59.999999", "app_open", None),  # 28 Mar 23:59:59.999999: day -3, outside a 2-day pre-period
        ("m", "2024-03-28T23:00:00", "app_open", None),  # 29 Mar 00:00: day -2, the pre-period's first µs
        ("m", "2024-03-30T22:59:59.999999", "purchase", 4.0),  # 1 µs before the assignment: pre-period
        ("m", "2024-03-30T23:00:00", "app_open", None),  # exactly at the assignment: day 0
        ("m", "2024-03-30T23:00:00", "purchase", 5.0),  # a tie with it
        ("m", "2024-03-31T21:59:59.999999", "screen_view", None),  # 31 Mar 23:59:59.999999 CEST: still day 0
        ("m", "2024-03-31T22:00:00", "app_open", None),  # 1 Apr 00:00: day 1
        ("m", "2024-04-02T21:59:59.999999", "purchase", 7.25),  # 2 Apr, last µs of day 2: inside a 3-day window
        ("m", "2024-04-02T22:00:00", "purchase", 1.0),  # 3 Apr 00:00, day 3: outside it
        # s: sessions and sub-second gaps, assigned at half a second
        ("s", "2024-03-31T09:45:00", "app_open", None),  # a session starting before the assignment
        ("s", "2024-03-31T10:15:00", "screen_view", None),  # gap exactly 30 min: the same session
        ("s", "2024-03-31T10:15:00.250000", "add_to_cart", None),
        ("s", "2024-03-31T10:45:00.250001", "purchase", 3.3),  # gap 30 min + 1 µs: a new session, after
        ("s", "2024-03-31T10:45:00.750000", "screen_view", None),
        ("s", "2024-04-01T08:00:00.000001", "purchase", None),  # a purchase without revenue
        ("s", "2024-04-01T08:00:00.000002", "purchase", 0.1),
        ("s", "2024-04-01T08:00:00.000003", "purchase", 0.2),  # 0.1 + 0.2: the order of the additions shows
        # z: in another experiment only
        ("z", "2024-03-31T12:00:00", "purchase", 9.0),
        # f: assigned 26 Oct 22:30Z = 27 Oct 00:30 CEST, the autumn DST day (25 hours)
        ("f", "2024-10-27T22:59:59", "app_open", None),  # 27 Oct 23:59:59 CET: day 0
        ("f", "2024-10-27T23:00:00", "purchase", 2.5),  # 28 Oct 00:00: day 1
        # c: assigned the evening before the last day: its windows are not complete at the data end
        ("c", "2024-10-28T21:00:00", "app_open", None),
        ("c", "2024-10-29T09:00:00", "purchase", 2.0),  # the last event
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "timestamp", "event", "revenue"])
    frame["timestamp"] = _ts(frame["timestamp"])
    frame["revenue"] = frame["revenue"].astype(float)
    return io.load_events(frame)


def adversarial_assignments() -> pd.DataFrame:
    rows = [("s", EXPERIMENT, "treatment", "2024-03-31T10:00:00.500000"),
            ("m", EXPERIMENT, "control", "2024-03-30T23:00:00"),
            ("n", EXPERIMENT, "treatment", "2024-04-01T12:00:00"),  # no events at all
            ("f", EXPERIMENT, "control", "2024-10-26T22:30:00"),
            ("c", EXPERIMENT, "treatment", "2024-10-28T20:00:00"),
            ("z", "other", "control", "2024-03-31T00:00:00"),
            ("m", "other", "treatment", "2024-03-30T00:00:00")]
    frame = pd.DataFrame(rows, columns=["user_id", "experiment", "variant", "assigned_at"])
    frame["assigned_at"] = _ts(frame["assigned_at"])
    return frame


def integer_ids(events: pd.DataFrame, assignments: pd.DataFrame):
    """The same log and assignments with integer user ids ("n" stays without events)."""
    codes = {name: i + 100 for i, name in enumerate("mszfcn")}
    ev = events.assign(user_id=events["user_id"].astype(str).map(codes).astype("int64"))
    return io.load_events(ev), assignments.assign(user_id=assignments["user_id"].map(codes).astype("int64"))


@pytest.fixture(scope="module")
def demo():
    """The demo log at microseconds (what Spark and DuckDB's TIMESTAMPTZ store) and its assignments."""
    events = io.load_events("data/demo/events.parquet")
    return events.assign(timestamp=events["timestamp"].dt.floor("us")), io.load_assignments("data/demo/assignments.csv")


@pytest.fixture(scope="module")
def source(request, demo):
    """(engine, data) -> (events frame, assignments, engine source); Spark gets 200 of the demo's users."""
    made = {}

    def get(engine: str, data: str):
        if (engine, data) not in made:
            con = request.getfixturevalue("spark") if engine == "pyspark" else None
            if data == "demo":
                frame, assignments = demo
                if engine == "pyspark":
                    users = frame["user_id"].cat.categories[::25]
                    frame = frame[frame["user_id"].isin(users)].reset_index(drop=True)
                    frame["user_id"] = frame["user_id"].cat.remove_unused_categories()
                    assignments = assignments[assignments["user_id"].isin(users)].reset_index(drop=True)
            elif data == "adversarial":
                frame, assignments = adversarial_events(), adversarial_assignments()
            elif data == "integer_ids":
                frame, assignments = integer_ids(adversarial_events(), adversarial_assignments())
            elif data == "session_ids":  # the data's own sessions, one per event: the experiment still cuts 30-minute ones
                frame, assignments = adversarial_events(), adversarial_assignments()
                frame["session_id"] = pd.Categorical([f"s{i}" for i in range(len(frame))])
            else:  # no revenue column at all
                frame, assignments = adversarial_events().drop(columns="revenue"), adversarial_assignments()
            made[engine, data] = frame, assignments, from_frame(frame, connection=con, name=f"exp_{data}_{engine}")
        return made[engine, data]

    return get


def assert_equal(expected: pd.DataFrame, actual: pd.DataFrame):
    """Equal frames and attrs: exactly, but for the session minutes (see the module docstring)."""
    assert expected.attrs == actual.attrs
    minutes = [c for c in expected.columns if "time_in_app_min" in c]
    pd.testing.assert_frame_equal(expected.drop(columns=minutes), actual.drop(columns=minutes), check_exact=True)
    pd.testing.assert_frame_equal(expected, actual, check_exact=False, rtol=1e-13, atol=0)


def compare(source, engine: str, data: str, **options):
    frame, assignments, src = source(engine, data)
    experiment = "checkout_redesign" if data == "demo" else EXPERIMENT
    expected = experiment_users(assignments, frame, experiment, **options)
    assert_equal(expected, experiment_users(assignments, src, experiment, **options))
    return expected


DEMO_CASES = [dict(), dict(tz="Europe/Berlin", end="2024-04-10"), dict(tz="America/New_York", metrics=["sessions", "revenue"])]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", DEMO_CASES, ids=["defaults", "berlin-end", "new_york-sessions-revenue"])
def test_demo_experiment_users_equal(source, engine, case):
    if engine == "pyspark" and case is not DEMO_CASES[1]:
        pytest.skip("the Spark demo run keeps to one case (time)")
    out = compare(source, engine, "demo", conversion_events=["purchase"], **case)
    assert len(out) > 100 and out.filter(like="_14d").notna().all().all() == ("end" not in case)


ADVERSARIAL_CASES = [
    dict(tz="Europe/Berlin", **SMALL),
    dict(tz="Europe/Berlin", end="2024-04-02T12:00:00", **SMALL),  # inside m's and s's windows
    dict(tz="America/New_York", **SMALL),
    dict(tz="Europe/Berlin"),  # the default 14 / 28-day windows
    dict(tz="UTC", metrics=["retention", "revenue"], **SMALL),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["adversarial", "integer_ids", "no_revenue", "session_ids"])
@pytest.mark.parametrize("case", ADVERSARIAL_CASES, ids=["berlin", "berlin-end", "new_york", "berlin-defaults", "utc-two-groups"])
def test_adversarial_experiment_users_equal(source, engine, data, case):
    if engine == "pyspark" and data != "adversarial" and case is not ADVERSARIAL_CASES[0]:
        pytest.skip("Spark keeps to one case of the id and revenue variants (time)")
    out = compare(source, engine, data, conversion_events=["purchase"], **case)
    assert len(out) == 5 and out.attrs["experiment"]["experiment"] == EXPERIMENT


def test_hand_computed_example(source):
    """Berlin, windows of 3 days (conversion 2), a 2-day pre-period: the rows of m, s, n and c by hand."""
    frame, assignments, src = source("duckdb", "adversarial")
    out = experiment_users(assignments, src, EXPERIMENT, conversion_events=["purchase"], tz="Europe/Berlin", **SMALL)
    assert out["user_id"].tolist() == ["s", "m", "n", "f", "c"]  # assignment order
    u = out.set_index("user_id")
    m = u.loc["m"]
    # day 0 = 31 Mar (from the assignment instant on), day 1 = 1 Apr, day 2 = 2 Apr until 21:59:59.999999Z
    assert (m["events_3d"], m["active_days_3d"], m["purchases_3d"], m["revenue_3d"]) == (5, 3, 2, 12.25)
    assert (m["pre_events_2d"], m["pre_active_days_2d"], m["pre_purchases_2d"], m["pre_revenue_2d"]) == (2, 2, 1, 4.0)
    assert (m["converted_2d"], m["retained_d0"], m["retained_d1"], m["retained_d2"], m["retained_d3"]) == (1, 1, 1, 1, 1)
    # sessions (1 µs gaps join): one from day -3 (outside the pre-period), one starting 1 µs before the
    # assignment (pre), then [31 Mar 21:59:59.999999Z, +1 µs] and [2 Apr 21:59:59.999999Z, +1 µs] after
    assert (m["pre_sessions_2d"], m["sessions_3d"]) == (1, 2)
    assert (m["pre_time_in_app_min_2d"], m["time_in_app_min_3d"]) == pytest.approx((1e-6 / 60, 2e-6 / 60), rel=1e-12)
    s = u.loc["s"]
    # the session from 09:45 (a gap of exactly 30 min, no more) starts before the assignment: pre, 1800.25 s;
    # 10:45:00.250001 (30 min + 1 µs later) and 1 April 08:00 start two after it
    assert (s["pre_sessions_2d"], s["sessions_3d"], s["pre_events_2d"], s["events_3d"]) == (1, 2, 1, 7)
    assert s["pre_time_in_app_min_2d"] == 1800.25 / 60
    assert s["revenue_3d"] == 3.3 + 0.1 + 0.2 and s["purchases_3d"] == 4 and s["converted_2d"] == 1
    n = u.loc["n"]  # no events: zero activity, not missing
    assert n[["events_3d", "sessions_3d", "revenue_3d", "converted_2d", "retained_d1"]].tolist() == [0, 0, 0, 0, 0]
    c = u.loc["c"]  # assigned 28 Oct; the data end on 29 Oct is in progress: only day 0 observed
    assert c["retained_d0"] == 1 and np.isnan(c["retained_d1"]) and np.isnan(c["converted_2d"]) and np.isnan(c["events_3d"])
    assert c["pre_events_2d"] == 0
    assert out.attrs["experiment"]["first_incomplete_day"] == "2024-10-29"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["demo", "adversarial"])
def test_retention_by_variant_equal(source, engine, data):
    frame, assignments, src = source(engine, data)
    experiment = "checkout_redesign" if data == "demo" else EXPERIMENT
    for options in (dict(), dict(tz="Europe/Berlin", days=(0, 1, 2, 7), end="2024-04-02T12:00:00")):
        expected = retention_by_variant(assignments, frame, experiment, **options)
        pd.testing.assert_frame_equal(expected, retention_by_variant(assignments, src, experiment, **options), check_exact=True)


def test_errors_are_the_in_memory_ones(source):
    frame, assignments, src = source("duckdb", "adversarial")
    with pytest.raises(ValueError, match=r"must be one of .*'sessions'.*did you mean 'sessions'"):
        experiment_users(assignments, src, EXPERIMENT, metrics=["sesions"])
    with pytest.raises(ValueError, match="experiments present: exp, other"):
        experiment_users(assignments, src, "nope")
    with pytest.raises(ValueError, match="window_days=0 must be a whole number"):
        experiment_users(assignments, src, EXPERIMENT, window_days=0)
    with pytest.raises(ValueError, match="assigned_at"):
        experiment_users(assignments.drop(columns="assigned_at"), src, EXPERIMENT)
    assert experiment_scans.SESSION_TIMEOUT == "30min"


def test_load_experiment_on_the_engine_equals_memory():
    """03's input from the data-set description: events in memory or on DuckDB give the same users and sentences."""
    from engagement_utils.experiments import experiment_sections, load_experiment

    base = {"assignments": "data/demo/assignments.csv", "conversion_events": "purchase"}
    memory = load_experiment({"events": "data/demo/events.parquet", **base}, analysed=["converted_14d", "retained_d30"])
    duckdb = load_experiment({"events": {"path": "data/demo/events.parquet", "engine": "ibis", "memory_limit": "1GB"},
                              **base}, analysed=["converted_14d", "retained_d30"])
    assert duckdb.shape == memory.shape == "events" and duckdb.has_events and duckdb.text == memory.text
    assert duckdb.left_out == memory.left_out == {}
    assert experiment_sections(duckdb).skipped == experiment_sections(memory).skipped == []
    # the Parquet file holds nanoseconds, DuckDB microseconds: session durations differ in the last µs
    pd.testing.assert_frame_equal(memory.users, duckdb.users, check_exact=False, rtol=1e-7)
    without = load_experiment({"events": {"path": "data/demo/events.parquet", "engine": "ibis"}, **base},
                              analysed=["converted_14d"], end="2024-04-01")
    assert without.users["converted_14d"].isna().any() and without.end == pd.Timestamp("2024-04-01", tz="UTC")


@pytest.mark.parametrize("groups", [["sessions"], ["retention"], ["conversion"], ["activity"], []])
def test_one_metric_group_at_a_time(source, groups):
    """Each group alone (and none) gives the in-memory columns: no scan depends on another group's."""
    out = compare(source, "duckdb", "adversarial", conversion_events=["purchase"], tz="Europe/Berlin", metrics=groups, **SMALL)
    assert list(out.columns[:3]) == ["user_id", "variant", "assigned_at"] and (len(out.columns) > 3) == bool(groups)
