"""The demo generator: deterministic, and its truth file describes its data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engagement_utils import demo
from engagement_utils.sessions import sessionize


@pytest.fixture(scope="module")
def small():
    return demo.generate_demo_data(n_users=1500, days=60, random_state=7)


def test_same_seed_same_tables(small):
    again = demo.generate_demo_data(n_users=1500, days=60, random_state=7)
    for name in ("events", "users", "assignments", "spend", "surveys"):
        pd.testing.assert_frame_equal(small[name], again[name])
    assert small["truth"] == again["truth"]


def test_other_seed_other_data(small):
    other = demo.generate_demo_data(n_users=1500, days=60, random_state=8)
    assert not small["events"]["timestamp"].equals(other["events"]["timestamp"])


def test_written_files_are_reproducible(tmp_path):
    a = demo.write_demo_data(tmp_path / "a", n_users=300, days=30, random_state=3)
    b = demo.write_demo_data(tmp_path / "b", n_users=300, days=30, random_state=3)
    for name in ("users", "assignments", "spend", "surveys", "truth"):
        assert a[name].read_bytes() == b[name].read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(a["events"]), pd.read_parquet(b["events"]))


def test_truth_personas_match_users(small):
    truth, users = small["truth"], small["users"]
    assert set(truth["user_persona"]) == set(users["user_id"])
    counts = pd.Series(truth["user_persona"]).value_counts().to_dict()
    assert counts == truth["persona_counts"]
    shares = {name: p["share"] for name, p in truth["personas"].items()}
    for name, count in counts.items():
        assert abs(count / len(users) - shares[name]) < 0.05


def test_every_user_starts_with_app_open_on_signup(small):
    ev, users = small["events"], small["users"]
    first = ev.sort_values("timestamp").groupby("user_id").first()
    assert (first["event"] == "app_open").all()
    signup = users.set_index("user_id")["signup_at"]
    assert (first["timestamp"] == signup.reindex(first.index)).all()


def test_sessions_are_separated_by_more_than_the_timeout(small):
    # The generator places sessions in separate slots of the day; a 30-minute
    # sessionization must find exactly one app_open per session.
    ev = small["events"]
    _, sessions = sessionize(ev.assign(user_id=ev["user_id"].astype("category")))
    assert len(sessions) == int((ev["event"] == "app_open").sum())


def test_observed_retention_matches_truth_curve(small):
    # Day-k calendar retention from the first event should match the truth curve
    # within sampling error for the whole population.
    ev = small["events"]
    day = (ev["timestamp"] - pd.Timestamp(small["truth"]["start"], tz="UTC")) // pd.Timedelta(days=1)
    active = pd.DataFrame({"user_id": ev["user_id"], "day": day}).drop_duplicates()
    first = active.groupby("user_id")["day"].transform("min")
    active["k"] = active["day"] - first
    signup_day = active.groupby("user_id")["day"].min()
    truth = small["truth"]["overall"]["retention"]
    for k in (1, 7):
        eligible = signup_day[signup_day + k < small["truth"]["days"]].index
        rate = active[(active["k"] == k) & active["user_id"].isin(eligible)]["user_id"].nunique() / len(eligible)
        se = np.sqrt(truth[k] * (1 - truth[k]) / len(eligible))
        assert abs(rate - truth[k]) < 4 * se, (k, rate, truth[k])


def test_experiment_assignment_is_balanced_and_within_window(small):
    a = small["assignments"]
    window = small["truth"]["experiment"]["window"]
    assert a["assigned_at"].min() >= pd.Timestamp(window[0], tz="UTC")
    assert a["assigned_at"].max() < pd.Timestamp(window[1], tz="UTC")
    share = (a["variant"] == "treatment").mean()
    assert abs(share - 0.5) < 4 * np.sqrt(0.25 / len(a))
    expected = small["truth"]["experiment"]["expected"]
    assert expected["control"]["users"] + expected["treatment"]["users"] == len(a)
    assert expected["difference"]["retained_d7"] > 0 and expected["difference"]["converted_14d"] > 0


def test_spend_reflects_true_cac(small):
    spend, users = small["spend"], small["users"]
    for channel, cac in small["truth"]["true_cac"].items():
        acquired = int((users["acquisition_channel"] == channel).sum())
        total = spend.loc[spend["channel"] == channel, "cost"].sum()
        assert total / acquired == pytest.approx(cac, rel=0.05)


def test_revenue_only_on_purchases(small):
    ev = small["events"]
    assert ev.loc[ev["event"] == "purchase", "revenue"].gt(0).all()
    assert ev.loc[ev["event"] != "purchase", "revenue"].isna().all()


def test_bad_sizes_rejected():
    with pytest.raises(ValueError):
        demo.generate_demo_data(n_users=0)


def test_cli_writes_files(tmp_path):
    assert demo.main(["--out", str(tmp_path), "--users", "50", "--days", "10", "--csv"]) == 0
    assert {p.name for p in tmp_path.iterdir()} >= {"events.parquet", "events.csv.gz", "truth.json", "users.csv"}
