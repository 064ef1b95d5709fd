"""Report 02's activity, session and conversion sections: in-memory == Ibis-DuckDB == Ibis-PySpark (issue 15).

Every function the notebook calls for active days, churn, session durations, time spent and
returning visitors, conversion over time, cart abandonment, acquisition cost, message reach and
the messaging-channel comparison, on the demo log (Spark: a sample of users) and on the
adversarial logs of ``tests/test_engines.py`` (timestamp ties, a gap exactly at the session
timeout, sub-second gaps, both DST changes in Europe/Berlin, a censored last period, a missing
segment, single-event users).  One Spark session per run (``spark_session`` is get-or-create).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ibis", reason="engine tests need the engines extra: pip install -e '.[engines]'")

from test_engines import TZ, adversarial_events, assert_same, autumn_events, demo, demo_sample, sources, spark  # noqa: E402,F401

from engagement_utils import engagement_report as report, funnels, metrics, sessions  # noqa: E402
from engagement_utils.dataset import load_dataset  # noqa: E402
from engagement_utils.engines import engagement_scans  # noqa: E402

ENGINES = ["duckdb", "pyspark"]
DATA = ["demo", "adversarial", "autumn"]


@pytest.fixture(scope="module")
def demo_inputs():
    """The demo data set's users and spend tables."""
    ds = load_dataset("reports/params/datasets/demo.yml")
    return ds.users, ds.spend


def same_or_same_error(memory, engine, **options):
    """Both engines return equal frames, or both raise the same error."""
    try:
        expected = memory()
    except ValueError as exc:
        with pytest.raises(type(exc), match=None) as info:
            engine()
        assert str(info.value) == str(exc)
        return None
    actual = engine()
    assert_same(expected, actual, **options)
    return expected


def spark_demo_skip(engine, data, case, first):
    if engine == "pyspark" and data == "demo" and case not in first:
        pytest.skip("the Spark demo run keeps to the first cases (time)")


ACTIVE_DAYS = [dict(period="week"), dict(period="month", include_partial=True), dict(period="week", per_period=True),
               dict(period="week", active_events="app_open", include_partial=True)]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("case", ACTIVE_DAYS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_active_days_distribution_equal(sources, engine, data, case):
    spark_demo_skip(engine, data, case, ACTIVE_DAYS[:1])
    frame, src = sources(engine)[data]
    same_or_same_error(lambda: metrics.active_days_distribution(frame, tz=TZ, **case),
                       lambda: metrics.active_days_distribution(src, **case))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", DATA)
def test_engagement_rate_and_churn_equal(sources, demo_inputs, engine, data):
    frame, src = sources(engine)[data]
    users = demo_inputs[0] if data == "demo" else None
    if users is not None and engine == "pyspark":
        users = users[users["user_id"].isin(frame["user_id"].astype(str))]
    for case in (dict(period="week"), dict(period="day", include_partial=True, active_events="app_open"),
                 dict(period="month", segment="platform")):
        same_or_same_error(lambda: metrics.engagement_rate(frame, users, tz=TZ, **case),
                           lambda: metrics.engagement_rate(src, users, **case))
    for days, end, options in ((30, None, {}), (7, None, dict(period="week", segment="platform")),
                               (3, "2024-04-08T09:30:00", dict(period=None)), (1, "2024-03-31T12:00:00", dict(period="day"))):
        same_or_same_error(lambda: metrics.churn(frame, days, end, users=users, tz=TZ, **options),
                           lambda: metrics.churn(src, days, end, users=users, **options))


CONVERSION = [dict(period="week"), dict(period="day", include_partial=True), dict(period="week", end="2024-04-01T00:30:00"),
              dict(period="month", conversion_events=["purchase", "add_to_cart"])]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["demo", "adversarial"])
@pytest.mark.parametrize("case", CONVERSION, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_conversion_by_period_equal(sources, engine, data, case):
    spark_demo_skip(engine, data, case, CONVERSION[:1])
    frame, src = sources(engine)[data]
    case = dict(case)
    events = case.pop("conversion_events", "purchase")
    same_or_same_error(lambda: metrics.conversion_by_period(frame, events, tz=TZ, **case),
                       lambda: metrics.conversion_by_period(src, events, **case))


def test_unknown_conversion_event_is_the_same_error(sources):
    frame, src = sources("duckdb")["adversarial"]
    with pytest.raises(ValueError) as memory:
        metrics.conversion_by_period(frame, "purchse", tz=TZ)
    with pytest.raises(ValueError) as engine:
        metrics.conversion_by_period(src, "purchse")
    assert str(engine.value) == str(memory.value) and "did you mean 'purchase'" in str(memory.value)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["demo", "adversarial"])
def test_cpa_cac_equal(sources, demo_inputs, engine, data):
    frame, src = sources(engine)[data]
    if data == "demo":
        users, spend = demo_inputs
        options = dict(users=users if engine == "duckdb" else users[users["user_id"].isin(frame["user_id"].astype(str))])
    else:  # channels from the events' first value; "android" has spend but no purchase in week 14
        spend = pd.DataFrame({"date": pd.to_datetime(["2024-03-25", "2024-04-01", "2024-04-08"]),
                              "channel": ["ios", "android", "web"], "cost": [10.0, 4.0, 8.0]})
        options = dict(channel_column="platform")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # zero denominators: NaN with a warning, on both
        for extra in ({}, dict(period="week"), dict(pooled=True)):
            same_or_same_error(lambda: metrics.cpa_cac(spend, frame, "purchase", tz=TZ, **options, **extra),
                               lambda: metrics.cpa_cac(spend, src, "purchase", **options, **extra))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["demo", "adversarial"])
def test_interaction_rates_equal(sources, demo_inputs, engine, data):
    frame, src = sources(engine)[data]
    interactions = None if data == "demo" else {"cart": ("add_to_cart", "purchase"), "screens": ("screen_view", "purchase")}
    users = demo_inputs[0] if data == "demo" else None
    for people in (users, None):
        same_or_same_error(lambda: metrics.interaction_rates(frame, people, segment="platform", interactions=interactions),
                           lambda: metrics.interaction_rates(src, people, segment="platform", interactions=interactions))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["demo", "adversarial"])
def test_user_outcomes_equal(sources, demo_inputs, engine, data):
    frame, src = sources(engine)[data]
    if data == "demo":
        users = demo_inputs[0]
        users = users if engine == "duckdb" else users[users["user_id"].isin(frame["user_id"].astype(str))]
        options = dict(users=users, properties=["platform", "acquisition_channel", "onboarding", "n_messaging_channels"])
    else:
        options = dict(properties=["platform"], retention_days=(1, 2, 7), conversion_days=(1, 3), horizon_days=3,
                       end="2024-04-09T12:00:00")
    same_or_same_error(lambda: metrics.user_outcomes(frame, tz=TZ, conversion_events="purchase", **options),
                       lambda: metrics.user_outcomes(src, conversion_events="purchase", **options))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["demo", "adversarial"])
@pytest.mark.parametrize("segment", [None, "platform"])
def test_cart_abandonment_equal(sources, engine, data, segment):
    frame, src = sources(engine)[data]
    for window in ("1D", "30min"):
        expected = funnels.cart_abandonment(frame, "add_to_cart", "purchase", window, segment=segment)
        actual = funnels.cart_abandonment(src, "add_to_cart", "purchase", window, segment=segment)
        if segment is not None:
            expected, actual = (t.sort_values("segment", ignore_index=True) for t in (expected, actual))
        assert_same(expected, actual)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("timeout", ["30min", "1s"])
def test_visits_and_session_durations_equal(sources, engine, data, timeout):
    frame, src = sources(engine)[data]
    table = sessions.sessionize(frame, timeout).sessions
    for period, end in (("week", None), ("day", None), ("day", "2024-04-02T00:00:00")):
        expected = report.visits_per_period(table, period, tz=TZ, end=end, last=20)
        actual = report.visits_per_period(src, period, tz=TZ, end=end, last=20, timeout=timeout)
        # minutes per user: numpy adds the sessions' float seconds, the engine their whole microseconds
        assert_same(expected, actual, rtol=1e-12)
    counts = table["duration_s"].value_counts().sort_index()
    durations = report.session_durations(src, timeout)
    np.testing.assert_array_equal(durations["duration_s"].to_numpy(), counts.index.to_numpy())
    np.testing.assert_array_equal(durations["sessions"].to_numpy(), counts.to_numpy())


def test_visit_tables_equal_time_in_app_and_returning_rate(sources):
    frame, src = sources("duckdb")["adversarial"]
    table = sessions.sessionize(frame, "30min").sessions
    spent, returning, end = engagement_scans.visit_tables(src, "day", tz=TZ)
    assert_same(sessions.time_in_app(table, "day", tz=TZ), spent, rtol=1e-12)
    assert_same(metrics.returning_visitor_rate(table, "day", tz=TZ), returning)
    assert end == frame["timestamp"].max()


def test_day_extremes_keep_first_last_and_properties(sources):
    """The reduced log: per user × event × local day its first and last event, properties from the first event."""
    frame, src = sources("duckdb")["adversarial"]
    reduced = engagement_scans.day_extremes(src, properties=["platform"])
    a = reduced[reduced["user_id"] == "a"]
    # a's tied first events at 10:00 are both kept (two event types); the 10:30 view is its day's only view
    assert a["timestamp"].min() == frame["timestamp"].min() and len(a) == len(frame[frame["user_id"] == "a"])
    c = reduced[reduced["user_id"] == "c"]
    assert len(c) == 1 and pd.isna(c["platform"].iloc[0])  # single event, missing segment
    b = reduced[reduced["user_id"] == "b"]
    # b's events of 1 April 23:59:59.999999 and 2 April 00:00 local fall on two days: both stay
    assert len(b) == 6 and set(b["platform"]) == {"android"}


def test_unknown_interaction_event_is_the_same_error_and_other_events_are_folded(sources):
    frame, src = sources("duckdb")["adversarial"]
    wrong = {"cart": ("add_to_cart", "purchase"), "survey": ("survey_shown", "survey_answered")}
    with pytest.raises(ValueError) as memory:
        metrics.interaction_rates(frame, segment="platform", interactions=wrong)
    with pytest.raises(ValueError) as engine:
        metrics.interaction_rates(src, segment="platform", interactions=wrong)
    assert str(engine.value) == str(memory.value) and "['survey_shown']" in str(memory.value)
    folded = engagement_scans.day_extremes(src, kept_events=["purchase"])
    assert set(folded["event"]) == {"purchase", engagement_scans.OTHER_EVENT}
    # a's day of 25 March: the first (10:00, tied) and last (11:00:00.000001 purchase) of each kind
    a = folded[(folded["user_id"] == "a") & (folded["timestamp"] < "2024-03-26")]
    assert a.values.tolist() == [["a", pd.Timestamp("2024-03-25 10:00", tz="UTC"), "(other)"],
                                 ["a", pd.Timestamp("2024-03-25 10:30", tz="UTC"), "(other)"],
                                 ["a", pd.Timestamp("2024-03-25 11:00:00.000001", tz="UTC"), "purchase"]]


def session_id_events() -> pd.DataFrame:
    """A log whose own ``session_id`` disagrees with the 30-minute gap rule in every way."""
    rows = [
        ("s1", "2024-03-25T10:00:00", "app_open", "A", None),
        ("s1", "2024-03-25T10:01:00", "screen_view", "B", None),  # new id one minute later: a new session
        ("s1", "2024-03-25T12:30:00", "purchase", "B", 12.5),  # same id after 2.5 hours: the same session
        ("s2", "2024-03-25T09:00:00", "app_open", None, None),  # missing ids are one label
        ("s2", "2024-03-25T09:05:00", "screen_view", None, None),
        ("s2", "2024-03-25T09:10:00", "app_open", "C", None),
        ("s3", "2024-03-26T08:00:00", "app_open", "D", None),
        ("s3", "2024-03-26T08:00:00", "screen_view", "D", None),  # a tie inside one session
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "timestamp", "event", "session_id", "revenue"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["revenue"] = frame["revenue"].astype(float)
    return frame.astype({"user_id": "category", "event": "category", "session_id": "category"})


@pytest.mark.parametrize("engine", ENGINES)
def test_the_datas_own_session_ids_are_kept_on_both_engines(engine, request):
    from engagement_utils import personas
    from engagement_utils.engines.connect import from_frame

    frame = session_id_events()
    con = request.getfixturevalue("spark") if engine == "pyspark" else None
    src = from_frame(frame, tz=TZ, connection=con, name=f"sid_{engine}")
    table = sessions.sessionize(frame, "30min").sessions
    assert table.groupby("user_id", observed=True).size().to_dict() == {"s1": 2, "s2": 2, "s3": 1}  # not the gap rule's 2, 1, 1
    assert_same(sessions.session_summary(table), sessions.session_summary(src, timeout="30min"))
    expected = report.visits_per_period(table, "day", tz=TZ, last=5)
    assert_same(expected, report.visits_per_period(src, "day", tz=TZ, last=5, timeout="30min"), rtol=1e-12)
    counts = table["duration_s"].value_counts().sort_index()
    durations = report.session_durations(src, "30min")
    np.testing.assert_array_equal(durations["duration_s"].to_numpy(), counts.index.to_numpy())
    memory = personas.user_features(frame, tz=TZ).table
    on_engine = personas.user_features(src, tz=TZ).table
    assert memory["sessions"].to_dict() == on_engine["sessions"].to_dict() == {"s1": 2, "s2": 2, "s3": 1}
