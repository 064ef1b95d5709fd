"""Sessions: definitions pinned on hand-computed logs, summaries, demo-data recovery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engagement_utils.sessions import assign_sessions, session_summary, sessionize, time_in_app


def log(rows):
    """rows: (user, 'YYYY-MM-DD HH:MM:SS', event[, screen])"""
    frame = pd.DataFrame(rows, columns=["user_id", "timestamp", "event", "screen"][: len(rows[0])])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def test_gap_equal_to_timeout_does_not_split_longer_gap_does():
    ev = log([("a", "2024-01-01 10:00:00", "x"), ("a", "2024-01-01 10:30:00", "x"),
              ("a", "2024-01-01 11:00:01", "x"), ("b", "2024-01-01 10:10:00", "x")])
    out = assign_sessions(ev, timeout="30min")
    assert out.loc[out["user_id"] == "a", "session_id"].tolist() == [0, 0, 1]
    assert out.loc[out["user_id"] == "b", "session_id"].nunique() == 1


@pytest.mark.parametrize("gap, sessions", [
    (pd.Timedelta("30min"), 1),                                     # exactly the timeout: no split
    (pd.Timedelta("30min") + pd.Timedelta(1, "ns"), 2),              # one nanosecond longer: split
    (pd.Timedelta("30min") - pd.Timedelta(1, "ms"), 1),              # sub-second below: no split
    (pd.Timedelta("30min") + pd.Timedelta(1, "ms"), 2),              # sub-second above: split
    (pd.Timedelta(0), 1),                                            # ties never split
])
def test_gap_rule_at_the_timeout_to_the_nanosecond(gap, sessions):
    t0 = pd.Timestamp("2024-01-01 10:00:00", tz="UTC")
    ev = pd.DataFrame({"user_id": ["a", "a"], "event": "x", "timestamp": [t0, t0 + gap]})
    assert len(sessionize(ev).sessions) == sessions


def test_max_duration_cuts_pieces_from_the_session_start():
    # One session of events every 20 min for 2 h 40 min; max 1 h: pieces [0, 60), [60, 120), [120, 180) min.
    t0 = pd.Timestamp("2024-01-01 10:00:00", tz="UTC")
    ev = pd.DataFrame({"user_id": "a", "event": "x", "timestamp": [t0 + pd.Timedelta(minutes=20 * k) for k in range(9)]})
    out = assign_sessions(ev, max_duration="1h")
    assert out["session_id"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert sessionize(ev, max_duration="1h").sessions["duration_s"].max() < 3600


def test_an_event_log_sessionizes_like_its_frame():
    from engagement_utils.core import EventLog

    ev = log([("b", "2024-01-01 10:00:00", "x"), ("a", "2024-01-01 10:40:00", "x"), ("a", "2024-01-01 10:00:00", "x")])
    pd.testing.assert_frame_equal(sessionize(EventLog(ev)).sessions, sessionize(ev).sessions)
    assert sessionize(ev).sessions["n_events"].tolist() == [1, 1, 1]


def test_one_event_session_lasts_zero_and_bounces():
    s = sessionize(log([("a", "2024-01-01 10:00:00", "app_open")])).sessions
    assert s["duration_s"].tolist() == [0.0]
    assert s["bounce"].tolist() == [True]
    assert s["engaged"].tolist() == [False]


@pytest.mark.parametrize(
    "events, seconds, engaged",
    [
        (["app_open", "search"], 9, False),        # 9 s, one view, no conversion
        (["app_open", "search"], 10, True),        # exactly 10 s
        (["app_open", "screen_view"], 1, True),    # two views
        (["search", "purchase"], 1, True),         # conversion
    ],
)
def test_engaged_session_rule(events, seconds, engaged):
    t0 = pd.Timestamp("2024-01-01 10:00:00")
    ev = log([("a", str(t0), events[0]), ("a", str(t0 + pd.Timedelta(seconds=seconds)), events[1])])
    s = sessionize(ev).sessions
    assert s["engaged"].item() is engaged
    assert s["bounce"].item() is False


def test_bounce_on_views_and_custom_thresholds():
    ev = log([("a", "2024-01-01 10:00:00", "app_open"), ("a", "2024-01-01 10:00:30", "search")])
    assert sessionize(ev, bounce_on="views").sessions["bounce"].item()
    assert not sessionize(ev, engaged_min_seconds=60).sessions["engaged"].item()
    with pytest.raises(ValueError, match="The 'bounce_on' parameter must be one of"):
        sessionize(ev, bounce_on="pages")


def test_bad_timeout_is_a_clear_error():
    ev = log([("a", "2024-01-01 10:00:00", "x")])
    with pytest.raises(ValueError, match="timeout='half an hour' is not a duration"):
        sessionize(ev, timeout="half an hour")


def test_session_summary_hand_computed():
    ev = log([("a", "2024-01-01 10:00:00", "app_open"), ("a", "2024-01-01 10:00:20", "screen_view"),
              ("a", "2024-01-01 12:00:00", "app_open"), ("b", "2024-01-01 10:00:00", "app_open")])
    ev["platform"] = ["ios", "ios", "ios", "web"]
    s = sessionize(ev).sessions
    row = session_summary(s).iloc[0]
    assert (row["sessions"], row["users"], row["sessions_per_user"], row["median_sessions_per_user"]) == (3, 2, 1.5, 1.5)
    assert row["mean_duration_s"] == pytest.approx(20 / 3)
    assert row["median_duration_s"] == 0
    assert row["bounce_rate"] == pytest.approx(2 / 3)
    assert row["engaged_rate"] == pytest.approx(1 / 3)
    by = session_summary(s, "platform").set_index("segment")
    assert by.loc["ios", "sessions"] == 2 and by.loc["web", "bounce_rate"] == 1.0
    with pytest.raises(ValueError, match="'segment' parameter names column 'country'"):
        session_summary(s, "country")
    with pytest.raises(ValueError, match="has no values"):
        session_summary(s.assign(country=np.nan), "country")


def test_time_in_app_per_user_per_period():
    ev = log([("a", "2024-01-01 10:00:00", "x"), ("a", "2024-01-01 10:10:00", "x"),
              ("a", "2024-01-08 10:00:00", "x"), ("a", "2024-01-08 10:01:00", "x"),
              ("b", "2024-01-02 09:00:00", "x")])
    s = sessionize(ev).sessions
    per_user = time_in_app(s, "week", per_user=True)
    assert per_user["time_s"].tolist() == [600.0, 0.0, 60.0]
    weekly = time_in_app(s, "week")
    assert weekly["active_users"].tolist() == [2, 1]
    assert weekly["mean_time_per_user_s"].tolist() == [300.0, 60.0]


def test_keep_carries_user_properties():
    ev = log([("a", "2024-01-01 10:00:00", "x")]).assign(plan="pro")
    assert sessionize(ev, keep=["plan"]).sessions["plan"].tolist() == ["pro"]
    with pytest.raises(ValueError, match="keep names column"):
        sessionize(ev, keep=["tier"])


def _slow_sessions(events: pd.DataFrame, timeout: pd.Timedelta) -> list[tuple]:
    """Obviously-correct reference: walk each user's sorted events."""
    out = []
    for user, group in events.sort_values(["user_id", "timestamp"], kind="stable").groupby("user_id"):
        times = list(group["timestamp"])
        start = prev = times[0]
        n = 1
        for t in times[1:]:
            if t - prev > timeout:
                out.append((user, start, prev, n))
                start, n = t, 0
            prev = t
            n += 1
        out.append((user, start, prev, n))
    return out


def test_matches_slow_reference_on_random_logs():
    rng = np.random.default_rng(7)
    for _ in range(5):
        n = 300
        ev = pd.DataFrame({
            "user_id": rng.choice(list("abcdefg"), n),
            "timestamp": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 6 * 3600, n), unit="s"),
            "event": "x",
        })
        s = sessionize(ev, "15min").sessions
        fast = list(zip(s["user_id"], s["start"], s["end"], s["n_events"]))
        assert fast == _slow_sessions(ev, pd.Timedelta("15min"))


def test_demo_sessions_recover_generator(demo_events):
    # The generator separates sessions by more than an hour, so a 30-minute
    # timeout must find at least one session per active user-day and no session
    # crossing a day.
    s = sessionize(demo_events).sessions
    days = demo_events["timestamp"].dt.floor("D")
    assert len(s) >= demo_events.assign(day=days).groupby(["user_id", "day"], observed=True).ngroups
    assert (s["start"].dt.floor("D") == s["end"].dt.floor("D")).all()
    summary = session_summary(s).iloc[0]
    assert 0 < summary["bounce_rate"] < summary["engaged_rate"] < 1


def sparse_revenue_events(seed: int, n: int, users: list, span_s: int) -> pd.DataFrame:
    """Random events with revenue on some (NaN on most, 0 on a few): several amounts per user and session."""
    rng = np.random.default_rng(seed)
    revenue = np.where(rng.random(n) < 0.35, rng.gamma(2.0, 13.7, n), np.nan)
    revenue[rng.random(n) < 0.05] = 0.0
    return pd.DataFrame({
        "user_id": rng.choice(users, n),
        "timestamp": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, span_s, n), unit="s"),
        "event": np.where(np.isnan(revenue), "app_open", "purchase"), "revenue": revenue,
    })


def test_session_revenue_sums_in_event_order_with_missing_as_zero():
    # Sparse revenue (NaN, 0 and amounts, several per session) summed per session must equal
    # adding every event's revenue in event order, missing counting 0, to the last bit.
    ev = sparse_revenue_events(11, 2000, list("abcdef"), 3 * 3600)
    out = sessionize(ev, "10min")
    with_ids = out.events
    expected = [sum(0.0 if np.isnan(r) else r for r in grp["revenue"]) for _, grp in with_ids.groupby("session_id", sort=True)]
    assert (with_ids.groupby("session_id")["revenue"].count() > 3).any()  # sessions with several amounts
    assert out.sessions["revenue"].tolist() == expected
    assert not out.sessions["revenue"].isna().any()
