"""Data overview summaries, pinned on hand-made logs."""

from __future__ import annotations

import pandas as pd
import pytest

from engagement_utils import io, overview


@pytest.fixture
def events():
    return io.load_events(pd.DataFrame({
        "user_id": ["a", "a", "a", "b", "c", "c"],
        "timestamp": ["2024-01-01 10:00", "2024-01-01 23:30", "2024-01-04 08:00", "2024-01-01 12:00", "2024-01-02 01:00", "2024-01-04 09:00"],
        "event": ["open", "buy", "open", "open", "open", "open"],
        "platform": ["ios", "ios", "web", None, "web", "web"],
    }))


def test_events_per_day_fills_gaps_and_counts_distinct_users(events):
    daily = overview.events_per_period(events, "day")
    assert daily["period"].dt.strftime("%m-%d").tolist() == ["01-01", "01-02", "01-03", "01-04"]
    assert daily["events"].tolist() == [3, 1, 0, 2]
    assert daily["users"].tolist() == [2, 1, 0, 2]


def test_events_per_day_in_another_timezone(events):
    # 23:30 UTC on Jan 1 is Jan 2 in Berlin; 01:00 UTC on Jan 2 stays Jan 2.
    daily = overview.events_per_period(events, "day", tz="Europe/Berlin")
    assert daily["events"].tolist() == [2, 2, 0, 2]


def test_value_mix_shares_missing_and_top(events):
    mix = overview.value_mix(events, "platform").set_index("value")
    assert mix.loc["web", "events"] == 3 and mix.loc["web", "users"] == 2
    assert mix.loc["(missing)", "events"] == 1
    assert mix["event_share"].sum() == pytest.approx(1.0)
    assert mix.loc["web", "user_share"] == pytest.approx(2 / 3)
    folded = overview.value_mix(events, "platform", top=1)
    assert folded["value"].tolist() == ["web", "(other)"]
    assert folded["events"].tolist() == [3, 3]
    assert folded.loc[1, "users"] == 2  # a (ios) and b (missing)


def test_value_mix_unknown_column(events):
    with pytest.raises(ValueError, match="'column' parameter names column 'channel'"):
        overview.value_mix(events, "channel")


def test_an_event_log_gives_the_same_overview(events):
    from engagement_utils.core import EventLog

    log = EventLog(events, tz="Europe/Berlin")
    pd.testing.assert_frame_equal(overview.events_per_period(log, "day"), overview.events_per_period(events, "day", tz="Europe/Berlin"))
    pd.testing.assert_frame_equal(overview.value_mix(log, "platform"), overview.value_mix(events, "platform"))
    assert overview.data_summary(log).equals(overview.data_summary(events, tz="Europe/Berlin"))
    # a filtered frame keeps unused user categories: shares count the users present
    first = events[events["user_id"] == events["user_id"].iloc[0]]
    assert overview.value_mix(first, "event")["user_share"].max() == 1.0


def test_data_summary_numbers(events):
    summary = overview.data_summary(events).set_index("metric")["value"]
    assert summary["events"] == 6 and summary["users"] == 3 and summary["days covered"] == 4
    assert summary["events per user (median)"] == 2.0
    assert summary["duplicates dropped"] == 0


def test_activity_reading_names_the_spike_against_the_median_and_the_empty_dates():
    from engagement_utils import overview

    t = pd.DataFrame({"period": pd.date_range("2024-01-01", periods=7), "events": [10, 0, 12, 60, 10, 0, 11],
                      "users": [2, 0, 3, 12, 2, 0, 2]})
    text = overview.activity_reading(t)
    assert "The busiest day was 2024-01-04 with 60 events, 6.0× the median day (10), and 12 active users (median 2)." in text
    assert text.endswith("2 days without any event (2024-01-02 and 2024-01-06): check the tracking for those dates.")
    one = overview.activity_reading(t.assign(events=[10, 0, 12, 60, 10, 9, 11]))
    assert "1 day without any event (2024-01-02): check the tracking for that date." in one
    flat = overview.activity_reading(t.assign(events=[5] * 7))
    assert "No day stands out: the busiest, 2024-01-01, had 5 events (median day 5)." in flat
    assert flat.endswith("No day is without events.")


def test_skipped_key_numbers_say_why_in_short():
    from engagement_utils import overview

    skipped = pd.DataFrame({"section": ["users-table checks"],
                            "missing": ["needs a users table (add `users: {path: ...}` to the data-set description)"]})
    assert overview.skipped_key_numbers(skipped) == {"Skipped sections": "users-table checks (needs a users table)"}
    assert overview.skip_reason(["needs a, b (x)", "needs c", "needs d"]) == "needs a, b, c and d"


def test_activity_reading_on_mostly_empty_days():
    from engagement_utils import overview

    t = pd.DataFrame({"period": pd.date_range("2024-01-01", periods=5), "events": [4, 0, 0, 0, 1], "users": [2, 0, 0, 0, 1]})
    text = overview.activity_reading(t)
    assert "The busiest day was 2024-01-01 with 4 events; most days have none." in text
    assert "median day (0)" not in text and "×" not in text


def test_skip_reason_names_one_table_once_for_several_of_its_columns():
    from engagement_utils import overview

    lines = ["needs a users table with the column 'n_messaging_channels' (add it, or map it with the users' column_map)",
             "needs a users table with the column 'onboarding' (add it, or map it with the users' column_map)"]
    assert overview.skip_reason(lines) == "needs a users table with the columns 'n_messaging_channels' and 'onboarding'"
