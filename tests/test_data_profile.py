"""What a data set has, what sections need, and the proposed funnel: demo, retail, ecom, a minimal log."""

import numpy as np
import pandas as pd
import pytest

from engagement_utils import io
from engagement_utils.data_profile import (
    SECTION_NEEDS, missing_for, profile, propose_funnel, requires, skipped_sections,
)
from engagement_utils.dataset import PROJECT_ROOT, load_dataset

DESCRIPTIONS = PROJECT_ROOT / "reports" / "params" / "datasets"


@pytest.fixture(scope="module")
def ecom():
    return load_dataset(DESCRIPTIONS / "ecom.yml")


@pytest.fixture(scope="module")
def retail():
    return load_dataset(DESCRIPTIONS / "online_retail.yml")


@pytest.fixture(scope="module")
def minimal():
    """A clickstream with only user_id, event, timestamp."""
    return io.load_events(pd.DataFrame({
        "user_id": ["a", "a", "a", "b", "b", "c"],
        "event": ["open", "view", "buy", "open", "view", "open"],
        "timestamp": pd.date_range("2024-01-01", periods=6, freq="h"),
    }))


def test_ecom_profile(ecom):
    prof = profile(ecom)
    assert (prof.n_events, prof.n_users) == (31076, 600)
    assert prof.columns == {"revenue": None, "platform": "platform", "channel": "acquisition_channel",
                            "country": None, "screen": None, "session_id": "session_id"}
    assert prof.properties == ["user_cohort", "user_lifecycle"]
    assert prof.inputs == {"events": 31076, "users": None, "assignments": None, "spend": None, "surveys": None}
    assert prof.absent_role_events == {} and prof.event_names[0] == "product_view" and len(prof.event_names) == 19
    row = prof.table.set_index("name").loc["platform"]
    assert row["present"] and row["detail"] == "platform: 3 values: desktop, mobile, tablet"
    skipped = skipped_sections(SECTION_NEEDS, prof)
    assert set(skipped["section"]) == {"revenue", "rfm", "country_breakdown", "screen_flow", "ab_test",
                                       "acquisition_cost", "surveys", "user_properties", "message_reach",
                                       "messaging_and_onboarding"}
    assert not missing_for(SECTION_NEEDS["funnel"] + SECTION_NEEDS["checkout"] + SECTION_NEEDS["platform_breakdown"], prof)


def test_demo_profile(demo_dir):
    ds = load_dataset(DESCRIPTIONS / "demo.yml")
    prof = profile(ds)
    assert all(rows for rows in prof.inputs.values())
    assert prof.columns["revenue"] == "revenue" and prof.columns["session_id"] is None
    assert {"acquisition_channel", "onboarding", "n_messaging_channels"} <= set(prof.user_columns)
    assert list(skipped_sections(SECTION_NEEDS, prof)["section"]) == ["channel_breakdown"]
    assert not missing_for(requires(events=["app_open", "in_app_message_shown"], user_columns=["onboarding"]), prof)


def test_retail_profile(retail):
    prof = profile(retail)
    assert prof.columns["revenue"] == "revenue" and prof.columns["country"] == "country"
    assert prof.event_names == ["purchase", "refund"]
    assert {"order_id", "Quantity", "UnitPrice"} <= set(prof.properties)
    lines = missing_for(SECTION_NEEDS["cart_abandonment"] + SECTION_NEEDS["platform_breakdown"], prof)
    assert lines == ["needs cart events (set `cart_events:`, e.g. add_to_cart)",
                     "needs a platform column (map one with column_map, e.g. {os: platform})"]
    assert not missing_for(SECTION_NEEDS["rfm"], prof)


def test_minimal_log_gets_every_section_it_allows(minimal):
    prof = profile(minimal)
    assert all(column is None for column in prof.columns.values()) and prof.properties == []
    assert prof.inputs["users"] is None and all(names is None for names in prof.roles.values())
    allowed = [s for s, needs in SECTION_NEEDS.items() if not missing_for(needs, prof)]
    assert allowed == []  # every catalogued section needs a role, column or input ...
    assert missing_for(requires(roles=["start_events", "return_events", "active_events"]), prof) == []  # ... retention does not
    assert missing_for(requires(columns=["revenue"]), prof) == [
        "needs a revenue column (map one with column_map or set `revenue:` in the events options)"]


def test_role_set_but_absent_and_events_and_user_columns(ecom, minimal):
    prof = profile(load_dataset({"events": "data/external/ecom/ecom.csv.gz", "conversion_events": ["purchase", "order"],
                                 "start_events": "signup"}))
    assert prof.absent_role_events == {"conversion_events": ["order"], "start_events": ["signup"]}
    lines = missing_for(requires(roles=["conversion_events", "start_events"], events=["app_open"], user_columns=["onboarding"]), prof)
    assert lines[0].endswith(": 'order' does not occur in the events")
    assert lines[1].startswith("needs start events") and "'signup' does not occur" in lines[1]
    assert lines[2] == "needs the event 'app_open', which does not occur in the events"
    assert lines[3] == "needs a users table with the column 'onboarding' (add it, or map it with the users' column_map)"
    assert profile(minimal).text.startswith("6 events of 3 users, 3 distinct events.")


def test_requires_rejects_unknown_names():
    with pytest.raises(ValueError, match="The 'inputs' parameter must be one of .*got 'user' — did you mean 'users'"):
        requires(inputs=["user"])
    with pytest.raises(ValueError, match="did you mean 'funnel_steps'"):
        requires(roles=["funnel_step"])


def _naive_funnel_counts(events, steps):
    counts = [0] * len(steps)
    for _, frame in events.sort_values(["user_id", "timestamp"], kind="stable").groupby("user_id", observed=True):
        i = 0
        for name in frame["event"].astype(str):
            if i < len(steps) and name == steps[i]:
                counts[i] += 1
                i += 1
    return counts


def test_propose_funnel_counts_match_a_per_user_walk():
    rng = np.random.default_rng(3)
    n = 600
    events = io.load_events(pd.DataFrame({
        "user_id": rng.integers(0, 60, n), "event": rng.choice(list("abcdef"), n, p=[.3, .25, .2, .1, .1, .05]),
        "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.permutation(n), unit="min"),
    }))
    funnel = propose_funnel(events, max_steps=4)
    assert len(funnel.steps) == 4 and len(set(funnel.steps)) == 4
    assert funnel.table["users"].tolist() == _naive_funnel_counts(events, funnel.steps)
    assert funnel.text.startswith("Proposed funnel (the most common ordered steps in the data")


def test_propose_funnel_ecom_from_and_to(ecom):
    funnel = propose_funnel(ecom.events, max_steps=5, from_events="product_view", to_events="purchase")
    assert funnel.steps[0] == "product_view" and funnel.steps[-1] == "purchase" and len(funnel.steps) == 5
    assert funnel.table["users"].tolist() == _naive_funnel_counts(ecom.events, funnel.steps)
    assert funnel.table["share"].iloc[0] == 1.0 and funnel.table["users"].is_monotonic_decreasing


def test_propose_funnel_minimal_and_single_event(minimal):
    assert propose_funnel(minimal, max_steps=3).steps == ["open", "view", "buy"]
    single = io.load_events(pd.DataFrame({"user_id": [1, 2], "event": ["x", "x"], "timestamp": ["2024-01-01", "2024-01-02"]}))
    assert propose_funnel(single).steps == [] and "No funnel" in propose_funnel(single).text


def test_event_column_need_for_a_segment_parameter(retail, ecom):
    assert missing_for(requires(event_columns=["platform"]), profile(ecom)) == []
    assert missing_for(requires(event_columns=["acquisition_channel", ""]), profile(ecom)) == []
    line, = missing_for(requires(event_columns=["platform"]), profile(retail))
    assert line.startswith("needs the events column 'platform' (name one the events have: revenue, country, order_id")
