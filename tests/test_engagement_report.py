"""Tables and readings of the engagement overview report."""

from __future__ import annotations

import pandas as pd
import pytest

from engagement_utils import engagement_report as report
from engagement_utils import metrics
from engagement_utils.sessions import sessionize


def test_duration_and_event_texts():
    assert [report.duration_text(w) for w in ("7D", "1D", "90min", "1h", pd.Timedelta(seconds=1))] == [
        "7 days", "1 day", "90 min", "1 h", "1 s"]
    assert report.events_text("purchase") == "purchase"


def test_visits_per_period_leaves_out_the_incomplete_period():
    ev = pd.DataFrame({"user_id": ["a", "a", "a", "b"], "event": "x", "timestamp": pd.to_datetime(
        ["2024-01-01 10:00", "2024-01-01 10:10", "2024-01-03 10:00", "2024-01-08 10:00"], utc=True)})
    s = sessionize(ev).sessions
    out = report.visits_per_period(s, "week", tz="UTC", end=ev["timestamp"].max())
    assert out[["active_users", "sessions", "median_minutes_per_user", "returning_rate"]].values.tolist() == [[1, 2, 10.0, 1.0]]
    assert "10.0 minutes" in report.visits_reading(out, "week") and "100%" in report.visits_reading(out, "week")


def test_readings_name_the_numbers_they_read():
    comparison = metrics.compare_groups(pd.DataFrame({"g": [0, 0, 1, 1], "s": ["p", "p", "p", "p"], "m": [0.0, 1.0, 1.0, 1.0]}),
                                        "g", ["m"], strata=["s"], reference=0)
    text = report.comparison_reading(comparison, "m", ["s"])
    assert text.startswith("m of g = 1 vs 0: +50.0% points raw and +50.0% within the same s")
    assert comparison.versus_reference()["segment"].tolist() == [1]
    funnel = pd.DataFrame({"step": [1, 2, 3], "users": [10, 5, 1], "conversion": [1.0, 0.5, 0.1],
                           "drop_off_rate": [0.0, 0.5, 0.8]})
    assert report.funnel_reading(funnel, "7D") == ("10.0% of the 10 users who entered reached the last step within 7 days; "
                                                  "the largest loss is before step 3 (80% of the previous step drop off).")
    assert report.nps_reading(pd.DataFrame({"kind": ["csat"], "score": [0.5]})) is None


def test_versus_reference_keeps_true_apart_from_one():
    o = pd.DataFrame({"g": [False, False, True, True], "m": [0.0, 1.0, 1.0, 1.0]})
    assert metrics.compare_groups(o, "g", ["m"], reference=False).versus_reference()["segment"].tolist() == [True]


def test_cpa_cac_pooled_channels():
    spend = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-01"]), "channel": ["ads", "tv"], "cost": [10.0, 5.0]})
    ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["open", "purchase", "open"], "channel": ["ads", "ads", "tv"],
                       "timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-01"], utc=True)})
    out = metrics.cpa_cac(spend, ev, channel_column="channel", pooled=True)
    assert out[["channel", "spend", "new_customers", "conversions", "cac", "cpa"]].values.tolist() == [
        ["total", 15.0, 2.0, 1.0, 7.5, 15.0]]


def test_key_numbers_name_the_conversion_events():
    a = pd.DataFrame({"date": pd.to_datetime(["2024-01-30"]), "dau": [5.0], "wau": [9.0], "mau": [20.0], "stickiness": [0.25]})
    s = pd.DataFrame({"sessions_per_user": [2.0], "median_duration_s": [90.0], "bounce_rate": [0.1]})
    k = report.key_numbers(a, s, pd.DataFrame({"conversion": [1.0, 0.2]}), pd.DataFrame({"conversion_rate": [0.3]}),
                           ["purchase", "subscribe"])
    assert k["Users who did purchase or subscribe"] == "30.0%"
    with pytest.raises(ValueError, match="'events' parameter must be an event name"):
        report.events_text([])


def test_sections_name_what_is_missing_and_list_skipped():
    from engagement_utils import engagement_report as report
    from engagement_utils.data_profile import profile

    ev = pd.DataFrame({"user_id": pd.Categorical(["a", "b"]), "event": pd.Categorical(["open", "open"]),
                       "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True)})
    sections = report.overview_sections(profile(ev), segment="platform", path_column="event", strata=[], interactions=[])
    assert "Conversion" in sections.skipped and "Survey scores" in sections.skipped
    assert sections.note("Conversion").startswith("Conversion skipped: needs conversion events")
    assert "Active users by segment skipped: needs the events column 'platform'" in sections.note("Active users by segment")
    assert sections.missing("Screen flow") == []
    assert sections.key_number()["Skipped sections"].startswith("Active users by segment")


def test_run_dataset_keeps_absent_inputs_absent_and_overrides_roles():
    from engagement_utils import engagement_report as report

    ds = report.run_dataset("reports/params/datasets/ecom.yml", conversion_events=["add_to_cart"], funnel_steps=[])
    assert ds.users is None and ds.surveys is None and ds.spend is None
    assert ds.roles.conversion_events == ["add_to_cart"]
    assert ds.roles.funnel_steps[0] == "product_view"  # blank keeps the data set's


def test_plural_and_conversion_dip_reading():
    from engagement_utils import engagement_report as report

    assert report.plural(1, "day") == "1 day" and report.plural(2, "day") == "2 days"
    table = pd.DataFrame({"period_start": pd.date_range("2024-01-01", periods=6, freq="W-MON"),
                          "active_users": [10.0, 100, 100, 100, 100, 100],
                          "conversion_rate": [0.0, 0.2, 0.2, 0.05, 0.2, 0.2]})
    text = report.conversion_by_period_reading(table, "week", ["purchase"])
    assert "Largest dip: the week of 2024-01-22" in text


def test_active_users_reading_on_less_than_30_days():
    from engagement_utils import engagement_report, metrics

    events = pd.DataFrame({"user_id": ["a", "b", "a"], "event": "open",
                           "timestamp": pd.to_datetime(["2024-01-01 08:00", "2024-01-02 08:00", "2024-01-03 08:00"], utc=True)})
    text = engagement_report.active_users_reading(metrics.active_users(events))
    assert text.startswith("The data cover fewer than 30 days, so MAU and stickiness")
    assert "2024-01-03, 1 users" not in text and "1 user" in text


def test_readings_without_a_complete_period_say_so():
    empty_visits = pd.DataFrame(columns=["period_start", "median_minutes_per_user", "returning_rate"])
    assert report.visits_reading(empty_visits, "week").startswith("The data cover no complete week yet")
    life = pd.DataFrame({"period_start": pd.to_datetime(["2024-01-01"]), "status": ["new"], "users": [3], "complete": [False]})
    assert report.lifecycle_reading(life, "month").startswith("The data cover no complete month yet")
