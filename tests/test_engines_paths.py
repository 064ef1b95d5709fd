"""Paths, screen flow, checkout loops and the proposed funnel: in memory == Ibis-DuckDB == Ibis-PySpark (issue 15).

The engine versions (:mod:`engagement_utils.engines.path_scans`) must return the in-memory frames
exactly (``assert_frame_equal``, dtypes included): the same sessions (a gap exactly at the
timeout does not split, 1 µs more does; a given ``session_id`` wins), the same tie order
(equal timestamps keep their row order), the same collapsing of consecutive repeats, the
same rows, ties and order of rows.  The demo data go to Spark as a sample of users (the Spark
session is the one of ``tests/test_engines.py``: one per run).  The hostile log has event and
screen names with markup, quotes, commas, the path separator " → " and the exit marker itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ibis", reason="engine tests need the engines extra: pip install -e '.[engines]'")

from test_engines import ENGINES, TZ, _ts, demo, demo_sample, sources, spark  # noqa: E402,F401

from engagement_utils import data_profile, funnels  # noqa: E402
from engagement_utils import engagement_report as report  # noqa: E402
from engagement_utils.core import EventLog  # noqa: E402
from engagement_utils.engines.connect import from_frame  # noqa: E402

SCRIPT, QUOTES, ARROW, COMMA = "<script>alert(1)</script>", "it's \"quoted\"", "a → b", "x,y"


def hostile_events() -> pd.DataFrame:
    """Ties, repeats, the timeout edge, single-event users, a small segment and names that break text handling."""
    rows = [
        # h: a tie whose row order is not the name order, repeats (collapsed in screen flow), a gap exactly 30 min
        ("h", "2024-03-31T21:00:00", "app_open", "ios", "home"),
        ("h", "2024-03-31T21:00:00", SCRIPT, "ios", SCRIPT),
        ("h", "2024-03-31T21:00:00", "add_to_cart", "ios", SCRIPT),
        ("h", "2024-03-31T21:30:00", "begin_checkout", "ios", "checkout"),
        ("h", "2024-03-31T21:31:00", "add_to_cart", "ios", "cart"),
        ("h", "2024-03-31T21:32:00", "begin_checkout", "ios", "checkout"),
        ("h", "2024-03-31T22:02:00.000001", "purchase", "ios", "checkout"),  # 30 min + 1 µs: a new session
        # i: names with quotes, commas and the separator; a session start at 00:30 Berlin on 1 April (March in UTC)
        ("i", "2024-03-31T22:30:00", "app_open", "android", ARROW),
        ("i", "2024-03-31T22:30:01", ARROW, "android", "a"),
        ("i", "2024-03-31T22:30:02", "a", "android", "b"),
        ("i", "2024-03-31T22:30:03", "begin_checkout", "android", QUOTES),
        ("i", "2024-03-31T22:30:04", "add_to_cart", "android", COMMA),
        ("i", "2024-03-31T22:30:05", "begin_checkout", "android", COMMA),
        ("i", "2024-03-31T22:30:06", "(exit)", "android", "(exit)"),
        # j: single-event user; k: a missing segment and a missing screen
        ("j", "2024-04-02T08:00:00", "app_open", "ios", None),
        ("k", "2024-04-02T09:00:00", "app_open", None, None),
        ("k", "2024-04-02T09:00:00", "begin_checkout", None, "checkout"),
        ("k", "2024-04-02T09:10:00", "add_to_cart", None, "checkout"),
        # l: the only web user, without a checkout (paths from checkout: a group too small to show)
        ("l", "2024-04-03T10:00:00", "app_open", "web", QUOTES),
        ("l", "2024-04-03T10:00:00", "app_open", "web", QUOTES),
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "timestamp", "event", "platform", "screen"])
    frame["timestamp"] = _ts(frame["timestamp"])
    for column in ("user_id", "event", "platform", "screen"):
        frame[column] = frame[column].astype("category")
    return frame


def given_sessions() -> pd.DataFrame:
    """Events with their own ``session_id`` (missing in places): it wins over the gap rule, in both engines."""
    frame = hostile_events().drop(columns="screen")
    frame["session_id"] = pd.Categorical(["s1", "s1", "s2", "s2", None, None, "s3", "t1", "t1", "t2", "t2", "t2", "t2", "t3",
                                          "j1", None, None, "k1", "l1", "l1"])
    return frame


@pytest.fixture(scope="module")
def logs(request, sources):
    """Per engine: name -> (frame, engine source): test_engines' demo (Spark: a sample) and adversarial logs, and these."""
    made = {}

    def get(engine: str):
        if engine not in made:
            con = request.getfixturevalue("spark") if engine == "pyspark" else None
            made[engine] = {**sources(engine), **{name: (build(), from_frame(build(), tz=TZ, connection=con, name=f"{name}_{engine}"))
                                                  for name, build in (("hostile", hostile_events), ("given", given_sessions))}}
        return made[engine]

    return get


def both(logs, engine: str, data: str, analysis, *, log: bool = True):
    """The in-memory result (of the log in the report timezone, or the frame) and the engine's, for ``analysis(events)``."""
    frame, src = logs(engine)[data]
    return analysis(EventLog(frame, tz=TZ) if log else frame), analysis(src)


PATH_CASES = {
    "sessions": dict(length=3, top=50),
    "from": dict(from_events="app_open", length=4, top=50),
    "to": dict(to_events="add_to_cart", length=3, top=50),
    "from-to": dict(from_events="app_open", to_events="begin_checkout", length=5, top=50),
    "screens-collapsed": dict(column="screen", collapse_repeats=True, length=4, top=50),
    "short-timeout": dict(length=2, top=50, timeout="1s"),
}
CHECKOUT = {"demo": ("begin_checkout", "add_to_cart"), "adversarial": ("add_to_cart", "screen_view"),
            "hostile": ("begin_checkout", "add_to_cart"), "given": ("begin_checkout", "add_to_cart")}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["demo", "adversarial", "hostile", "given"])
@pytest.mark.parametrize("case", PATH_CASES, ids=str)
def test_top_paths_equal(logs, engine, data, case):
    options = dict(PATH_CASES[case])
    if data == "demo" and case not in ("from", "screens-collapsed"):
        pytest.skip("the demo keeps to the notebook's two path tables (time)")
    if options.get("column") == "screen" and data == "given":
        pytest.skip("the given-sessions log has no screen column")
    if data == "adversarial" and options.get("to_events") == "begin_checkout":
        options["to_events"] = "add_to_cart"
    expected, actual = both(logs, engine, data, lambda ev: funnels.top_paths(ev, **options))
    assert len(expected)
    pd.testing.assert_frame_equal(expected, actual)


def test_hostile_names_and_ties_reach_the_paths_unchanged(logs):
    paths = funnels.top_paths(logs("duckdb")["hostile"][1], length=6, top=50)["path"].tolist()
    # the tie keeps its row order (app_open, then <script>), not the name order
    assert f"app_open → {SCRIPT} → add_to_cart → begin_checkout → add_to_cart → begin_checkout" in paths
    assert f"app_open → {ARROW} → a → begin_checkout → add_to_cart → begin_checkout" in paths
    assert "purchase → (exit)" in paths  # 30 min + 1 µs after the last event: its own session
    assert "app_open → begin_checkout → add_to_cart → (exit)" in paths  # k: tied, in row order


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["demo", "adversarial", "hostile", "given"])
def test_transitions_and_exit_rates_equal(logs, engine, data):
    column = "event" if data == "given" else "screen"
    for collapse in (True, False):
        expected, actual = both(logs, engine, data,
                                lambda ev: funnels.transitions(ev, column=column, collapse_repeats=collapse))
        pd.testing.assert_frame_equal(expected, actual)
        if data == "demo":
            break  # the notebook's screen flow
    expected, actual = both(logs, engine, data, lambda ev: funnels.exit_rates(ev, column=column))
    pd.testing.assert_frame_equal(expected, actual)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["demo", "adversarial", "hostile", "given"])
def test_checkout_loops_equal(logs, engine, data):
    checkout, cart = CHECKOUT[data]
    for options in (dict(segment="platform", period="month"), dict(period="week"), dict(period="day", timeout="1min")):
        expected, actual = both(logs, engine, data, lambda ev: funnels.checkout_loops(ev, checkout, cart, **options))
        pd.testing.assert_frame_equal(expected, actual)
        if data == "demo":
            break  # the notebook's table
    if data == "hostile":  # the session starting at 00:30 Berlin on 1 April counts in April, not March
        assert expected["period_start"].dt.strftime("%m-%d").tolist() == ["03-31", "04-01", "04-02"]


@pytest.mark.parametrize("engine", ENGINES)
def test_checkout_loops_without_a_checkout_session_equal(logs, engine):
    # no session reaches a checkout: no group, the same empty table
    expected, actual = both(logs, engine, "hostile", lambda ev: funnels.checkout_loops(ev, "never", "purchase",
                                                                                          segment="platform", timeout="1s"))
    pd.testing.assert_frame_equal(expected, actual)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["demo", "hostile", "given"])
def test_paths_by_segment_equal(logs, engine, data):
    size, anchor = (10, ["begin_checkout"]) if data == "demo" else (1, ["app_open"])  # every group has the anchor
    expected, actual = both(logs, engine, data, lambda ev: report.paths_by_segment(
        ev, "platform", anchor, length=4, top=5, min_group_size=size))
    pd.testing.assert_frame_equal(expected, actual)
    assert len(expected)
    if data == "hostile":  # only ios is large enough; the groups without a checkout are left out before they fail
        size = 2
        expected, actual = both(logs, engine, data, lambda ev: report.paths_by_segment(
            ev, "platform", ["begin_checkout"], min_group_size=size))
        pd.testing.assert_frame_equal(expected, actual)
        empty = both(logs, engine, data, lambda ev: report.paths_by_segment(ev, "platform", ["app_open"], min_group_size=99))
        pd.testing.assert_frame_equal(*empty)


def test_paths_by_segment_sessionizes_each_value_on_its_own(logs):
    # a user who changes platform mid-session starts a session there, as the in-memory per-value frames do
    frame = pd.DataFrame({"user_id": ["u"] * 4, "event": ["app_open", "begin_checkout", "begin_checkout", "purchase"],
                          "timestamp": _ts(["2024-01-01T10:00", "2024-01-01T10:01", "2024-01-01T10:02", "2024-01-01T10:03"]),
                          "platform": ["ios", "ios", "web", "web"]}).astype({c: "category" for c in ("user_id", "event", "platform")})
    expected = report.paths_by_segment(EventLog(frame), "platform", ["begin_checkout"], min_group_size=1)
    pd.testing.assert_frame_equal(expected, report.paths_by_segment(from_frame(frame), "platform", ["begin_checkout"],
                                                                    min_group_size=1))
    assert expected["path"].tolist() == ["begin_checkout → (exit)", "begin_checkout → purchase → (exit)"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["demo", "adversarial", "hostile"])
def test_propose_funnel_equal(logs, engine, data):
    for options in (dict(max_steps=4, to_events="purchase"), dict(max_steps=5), dict(max_steps=3, from_events="add_to_cart")):
        expected, actual = both(logs, engine, data, lambda ev: data_profile.propose_funnel(ev, **options),
                                log=False)
        assert expected.steps == actual.steps and expected.text == actual.text
        pd.testing.assert_frame_equal(expected.table, actual.table)


@pytest.mark.parametrize("call", [
    lambda ev: funnels.top_paths(ev, from_events="app_opn"),
    lambda ev: funnels.top_paths(ev, to_events="purchse"),
    lambda ev: funnels.top_paths(ev, from_events="app_open", to_events="nowhere"),
    lambda ev: funnels.top_paths(ev, length=0),
    lambda ev: funnels.transitions(ev, column="screan"),
    lambda ev: funnels.checkout_loops(ev, "begin_checkout", "add_to_cart", segment="platfrom"),
    lambda ev: report.paths_by_segment(ev, "platform", ["purchase"], min_group_size=1),  # web has no purchase
], ids=["from", "to", "from-to", "length", "column", "segment", "segment-anchor"])
def test_errors_are_the_in_memory_ones(logs, call):
    frame, src = logs("duckdb")["hostile"]
    with pytest.raises(ValueError) as memory:
        call(EventLog(frame, tz=TZ))
    with pytest.raises(ValueError) as engine:
        call(src)
    # a missing column: the engine's words for its table ("the events table does not have"), the same names
    assert str(engine.value).replace("events table does not have", "events do not have") == str(memory.value)


def test_the_overview_runs_these_sections_on_an_engine(logs):
    from engagement_utils.engagement_report import overview_sections

    src = logs("duckdb")["hostile"][1]
    prof = data_profile.profile(src)
    sections = overview_sections(prof, segment="platform", path_column="screen", strata=[], interactions=[],
                                 proposing=True)
    for name in ("Proposed funnel", "Event paths", "Paths from checkout by segment", "Checkout loops by segment",
                 "Screen flow"):
        assert not any("in memory" in line for line in sections.missing(name)), name
    assert np.all([sections.ok(n) for n in ("Event paths", "Screen flow", "Proposed funnel")])
