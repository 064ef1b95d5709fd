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
    assert text.startswith("m of g = 1 vs 0: +50.0 pp raw and +50.0 pp within the same s")
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


# --- issue 12 cosmetics: skip lines in this data set's terms, readings that name the stories --------------

def _profile(**columns):
    from engagement_utils.data_profile import profile

    n = len(next(iter(columns.values()))) if columns else 2
    ev = pd.DataFrame({"user_id": pd.Categorical(["a", "b"][:n] if n <= 2 else [f"u{i}" for i in range(n)]),
                       "event": pd.Categorical(["open"] * n),
                       "timestamp": pd.to_datetime(["2024-01-01"] * n, utc=True), **columns})
    return profile(ev)


def test_message_reach_skip_line_names_no_demo_event():
    prof = _profile(platform=["ios", "web"])
    sections = report.overview_sections(prof, segment="platform", path_column="event", strata=[], interactions=[])
    note = sections.note("Message reach")
    assert note == ("Message reach skipped: needs events of in-app messages or surveys shown to users (a shown and a "
                    "response event); the one event type of this data set is not one.")
    assert "in_app_message" not in note and "survey_shown" not in note
    shown = report.overview_sections(prof, segment="platform", path_column="event", strata=[],
                                     interactions=["in_app_message_shown"])
    assert shown.missing("Message reach") == []


def test_blank_segment_skip_line_names_the_parameter_and_this_data_sets_columns():
    prof = _profile(country=["DE", "FR"])
    sections = report.overview_sections(prof, segment=None, path_column="event", strata=[], interactions=[])
    for name in report.BY_SEGMENT:
        assert ("needs a breakdown column: the `segment` parameter is blank "
                "(set it to an events column, e.g. country)") in sections.missing(name), name
    assert "(no segment parameter)" not in " ".join(sections.note(n) or "" for n in sections.needs)
    assert report.no_segment_line(_profile()) == ("needs a breakdown column: the `segment` parameter is blank "
                                                  "(the events have no platform, channel or country column to name)")


def test_skipped_sections_key_number_says_what_and_why_in_short():
    sections = report.overview_sections(_profile(), segment="platform", path_column="event", strata=[], interactions=[])
    line = sections.key_number()["Skipped sections"]
    assert line.startswith("Active users by segment (needs the events column 'platform'); ")
    assert "Acquisition cost (needs a spend table, a users table and conversion events)" in line
    assert "(add `" not in line and "column_map" not in line  # hints stay in the section's own line
    everything = report.Sections({"A": ()}, _profile())
    assert everything.key_number() == {"Skipped sections": "none"}


def test_churn_skip_line_says_days_not_a_bare_number():
    from engagement_utils.core import EventLog

    ev = pd.DataFrame({"user_id": pd.Categorical(["a", "a"]), "event": pd.Categorical(["open", "open"]),
                       "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03"], utc=True)})
    from engagement_utils.data_profile import profile

    sections = report.overview_sections(profile(ev), segment=None, path_column="event", strata=[], interactions=[],
                                        log=EventLog(ev), churn_days=30)
    assert "(the data cover 2 days;" in sections.missing("Churn")[0]


def test_active_users_reading_names_the_busiest_day_against_the_median():
    a = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=7), "dau": [10.0, 10, 40, 12, 8, 10, 9],
                      "wau": float("nan"), "mau": float("nan"), "stickiness": float("nan")})
    text = report.active_users_reading(a)
    assert text.endswith("The busiest day was 2024-01-03 with 40 active users, 4.0× the median day (10).")
    flat = report.active_users_reading(a.assign(dau=[10.0, 10, 12, 12, 8, 10, 9]))
    assert flat.endswith("No day stands out: the busiest, 2024-01-03, had 12 active users (median day 10).")
    assert "1.0×" not in flat
    assert report.busiest_day_text(a.assign(dau=0.0)) == "" and report.busiest_day_text(a.head(6)) == ""


def test_sessions_reading_reads_durations_in_minutes():
    s = pd.DataFrame({"sessions": [3605.0], "users": [600.0], "sessions_per_user": [6.0], "median_duration_s": [869.0],
                      "mean_duration_s": [1040.0], "bounce_rate": [0.064], "engaged_rate": [0.932]})
    assert report.sessions_reading(s).startswith("3,605 sessions from 600 users: 6.0 per user, median 14.5 min (mean 17.3 min)")
    assert [report.seconds_text(v) for v in (59, 120, 7199, 7200)] == ["59 s", "2.0 min", "120.0 min", "2.0 h"]


def test_checkout_path_reading_names_a_loop_and_only_a_loop():
    paths = pd.DataFrame({"segment": ["desktop", "desktop", "mobile", "mobile"],
                          "path": ["ship → pay → (exit)", "pay → ship → (exit)", "ship → pay → (exit)",
                                   "pay → cart → ship → (exit)"],
                          "share": [0.05, 0.04, 0.03, 0.02]})
    text = report.segment_paths_reading(paths, "platform", ["ship", "pay"])
    assert text.endswith("Paths that leave ship or pay and come back: mobile: 'pay → cart → ship → (exit)' "
                         "(2% of its sessions on such paths).")
    plain = report.segment_paths_reading(paths[paths["segment"] == "desktop"], "platform", ["ship", "pay"])
    assert plain.endswith("None of these paths leaves ship or pay and comes back.")
    assert not report.is_loop_path("ship → ship → (exit)", ["ship"])


def test_loops_reading_names_the_run_where_one_group_loops_most():
    months = pd.to_datetime(["2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01"])
    loops = pd.DataFrame({"segment": ["mobile"] * 4 + ["desktop"] * 4, "period_start": list(months) * 2,
                          "checkout_sessions": [20] * 8, "loop_sessions": [1, 3, 4, 1, 2, 1, 1, 2],
                          "loop_rate": [0.05, 0.15, 0.2, 0.05, 0.1, 0.05, 0.05, 0.1]})
    text = report.loops_reading(loops, ["ship"], ["cart"], 10)
    assert "most frequent for mobile in the period from 2024-04-01: 20% of 20 checkout sessions" in text
    assert text.endswith("In each period from 2024-03-01 to 2024-04-01, mobile loops more than every other group.")


def test_sparse_and_empty_periods_read_in_words():
    sparse = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=9), "dau": [5.0, 0, 0, 0, 1, 0, 0, 0, 0]})
    assert report.busiest_day_text(sparse) == "The busiest day was 2024-01-01 with 5 active users; on most days no user was active."
    life = pd.DataFrame({"period_start": pd.Timestamp("2024-01-01"), "complete": True,
                         "status": ["new", "returning", "resurrecting", "dormant"], "users": [0, 3, 0, 0]})
    assert report.lifecycle_reading(life, "week").endswith("0 gone dormant — no user gained or lost.")
    assert report.lifecycle_reading(life.assign(users=[2, 3, 0, 0]), "week").endswith("— 2 users gained, none lost.")
    assert report.lifecycle_reading(life.assign(users=[2, 3, 1, 2]), "week").endswith("— 1.50 users gained per user lost.")
    empty = pd.DataFrame({"period_start": pd.to_datetime([]), "active_users": [], "conversion_rate": []})
    assert report.conversion_by_period_reading(empty, "week", "buy") == (
        "No complete week with active users yet, so conversion per week is not read.")
    loops = pd.DataFrame({"segment": ["a"], "period_start": pd.to_datetime(["2024-01-01"]), "checkout_sessions": [3],
                          "loop_sessions": [1], "loop_rate": [1 / 3]})
    assert report.loops_reading(loops, ["ship"], ["cart"], 10) == (
        "No group and period has at least 10 checkout sessions, so no loop rate is read.")


def test_new_readings_from_hostile_values_render_inert():
    """Event names, group values and column names in the new readings and labels are escaped where shown."""
    from htmlcheck import live_markup

    from engagement_utils import display

    img, script = '<img src=x onerror="alert(1)">', "<script>alert(1)</script>"
    paths = pd.DataFrame({"segment": [img, img], "path": [f"{script} → (exit)", f"{script} → {img} → {script} → (exit)"],
                          "share": [0.5, 0.1]})
    text = report.segment_paths_reading(paths, "platform", [script])
    assert "come back" in text  # the loop was found among hostile names
    months = pd.to_datetime(["2024-02-01", "2024-03-01"])
    loops = pd.DataFrame({"segment": [img, img, "b", "b"], "period_start": list(months) * 2, "checkout_sessions": [20] * 4,
                          "loop_sessions": [2, 4, 1, 1], "loop_rate": [0.1, 0.2, 0.05, 0.05]})
    loop_text = report.loops_reading(loops, [script], [img], 10)
    assert img in loop_text
    sections = report.overview_sections(_profile(platform=["ios", "web"]), segment=script, path_column="event",
                                        strata=[], interactions=[])
    table = display.table_html(pd.DataFrame({"segment": [img], "users": [20]}), labels=report.segment_labels(script))
    page = "".join([display.note_html(text), display.note_html(loop_text),
                    display.key_numbers_html({"Users": "2", **sections.key_number()}), table])
    assert live_markup(page, marker="alert") == []
    assert "&lt;script&gt;" in page and "&lt;img" in page


@pytest.mark.parametrize("span_days", [28, 29, 30, 35, 36, 37, 44])
def test_active_users_by_segment_is_skipped_exactly_when_its_table_would_be_empty(span_days):
    # The table reads each segment's MAU on the last Sunday with a complete 30-day window; a short
    # export (a week-old GA4 sample) has none, and the section says so instead of showing an empty table.
    from engagement_utils.core import EventLog
    from engagement_utils.data_profile import profile

    for start in pd.date_range("2024-01-01", periods=7):  # every weekday as the data start
        ev = pd.DataFrame({"user_id": pd.Categorical(["a", "b"]), "event": pd.Categorical(["open", "open"]),
                           "platform": ["ios", "web"],
                           "timestamp": pd.to_datetime([start, start + pd.Timedelta(days=span_days)], utc=True)})
        log = EventLog(ev)
        table = report.latest_complete(metrics.active_users(log, "week", segment="platform"))
        sections = report.overview_sections(profile(ev), segment="platform", path_column="event", strata=[],
                                            interactions=[], log=log)
        assert sections.ok("Active users by segment") == (len(table) > 0), (start, span_days)
        if len(table) == 0:
            assert "30 days after the data start" in sections.note("Active users by segment")
