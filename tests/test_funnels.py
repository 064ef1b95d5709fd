"""Funnels, cart abandonment and paths: definitions, slow reference, demo truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engagement_utils.funnels import cart_abandonment, exit_rates, funnel, parse_step, top_paths, transitions
from engagement_utils.stats import wilson_ci


def log(rows, **extra):
    frame = pd.DataFrame(rows, columns=["user_id", "timestamp", "event"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    return frame.assign(**extra)


STEPS = ["open", "cart", "buy"]


def users_per_step(frame):
    return frame["users"].tolist()


def test_step_before_step_one_does_not_count():
    ev = log([("a", "2024-01-01 09:00", "cart"), ("a", "2024-01-01 10:00", "open"), ("a", "2024-01-01 10:05", "buy")])
    assert users_per_step(funnel(ev, STEPS, "1D")) == [1, 0, 0]


def test_window_starts_at_first_step_one_and_is_not_restarted():
    ev = log([("a", "2024-01-01 10:00", "open"), ("a", "2024-01-03 10:00", "open"),
              ("a", "2024-01-03 10:05", "cart"), ("a", "2024-01-03 10:06", "buy")])
    assert users_per_step(funnel(ev, STEPS, "1D")) == [1, 0, 0]
    assert users_per_step(funnel(ev, STEPS, "3D")) == [1, 1, 1]


def test_window_boundary_is_inclusive():
    ev = log([("a", "2024-01-01 10:00", "open"), ("a", "2024-01-01 10:30", "cart"), ("a", "2024-01-01 11:00", "buy"),
              ("b", "2024-01-01 10:00", "open"), ("b", "2024-01-01 10:30", "cart"), ("b", "2024-01-01 11:00:01", "buy")])
    assert users_per_step(funnel(ev, STEPS, "1h")) == [2, 2, 1]


def test_orderings():
    # a: open, other, cart, buy   b: buy, cart after open (reverse)   c: open, cart, buy consecutive
    ev = log([("a", "2024-01-01 10:00", "open"), ("a", "2024-01-01 10:01", "other"), ("a", "2024-01-01 10:02", "cart"),
              ("a", "2024-01-01 10:03", "buy"),
              ("b", "2024-01-01 10:00", "open"), ("b", "2024-01-01 10:01", "buy"), ("b", "2024-01-01 10:02", "cart"),
              ("c", "2024-01-01 10:00", "open"), ("c", "2024-01-01 10:01", "cart"), ("c", "2024-01-01 10:02", "buy")])
    assert users_per_step(funnel(ev, STEPS, "1D")) == [3, 3, 2]
    assert users_per_step(funnel(ev, STEPS, "1D", ordering="strict")) == [3, 1, 1]
    any_order = funnel(ev, STEPS, "1D", ordering="any")
    assert users_per_step(any_order) == [3, 3, 3]
    # b completes steps 2 and 3 at 10:02 (the later of the two): times 180, 120, 120 s.
    assert any_order["median_time_s"].iloc[2] == 120.0
    with pytest.raises(ValueError, match="The .ordering. parameter must be one of"):
        funnel(ev, STEPS, ordering="loose")


def test_strict_may_start_at_a_later_step_one_inside_the_window():
    ev = log([("a", "2024-01-01 10:00", "open"), ("a", "2024-01-01 10:01", "other"),
              ("a", "2024-01-01 10:02", "open"), ("a", "2024-01-01 10:03", "cart")])
    f = funnel(ev, ["open", "cart"], "1D", ordering="strict")
    assert users_per_step(f) == [1, 1]
    assert f["median_time_s"].tolist() == [0.0, 180.0]


def test_columns_rates_and_wilson():
    ev = log([("a", "2024-01-01 10:00", "open"), ("a", "2024-01-01 10:01", "cart"),
              ("b", "2024-01-01 10:00", "open"), ("c", "2024-01-01 10:00", "open"), ("c", "2024-01-01 10:02", "cart"),
              ("c", "2024-01-01 10:03", "buy")])
    f = funnel(ev, STEPS, "1D")
    assert users_per_step(f) == [3, 2, 1]
    assert f["conversion"].tolist() == pytest.approx([1, 2 / 3, 1 / 3])
    assert f["step_conversion"].tolist() == pytest.approx([1, 2 / 3, 1 / 2])
    assert f["drop_off"].tolist() == [0, 1, 1]
    assert f["median_time_s"].tolist() == [0.0, 90.0, 180.0]
    lo, hi = wilson_ci(1, 3)
    assert [f["ci_low"].iloc[2], f["ci_high"].iloc[2]] == pytest.approx([float(lo), float(hi)])


def test_step_specs_with_filters_and_alternatives():
    ev = log([("a", "2024-01-01 10:00", "open"), ("a", "2024-01-01 10:01", "view"),
              ("b", "2024-01-01 10:00", "open"), ("b", "2024-01-01 10:01", "view"),
              ("c", "2024-01-01 10:00", "open"), ("c", "2024-01-01 10:01", "cart")],
             screen=["home", "product", "home", "home", "home", "product"])
    assert users_per_step(funnel(ev, ["open", "view[screen=product] | cart"], "1D")) == [3, 2]
    assert users_per_step(funnel(ev, ["open", {"event": "view", "screen": "product"}], "1D")) == [3, 1]
    assert parse_step(["a", "b[x=1]"]) == [{"event": "a"}, {"event": "b", "x": "1"}]


def test_segment_breakdown_uses_entry_event():
    ev = log([("a", "2024-01-01 10:00", "open"), ("a", "2024-01-01 10:01", "buy"), ("b", "2024-01-01 10:00", "open")],
             platform=["ios", "web", "web"])
    f = funnel(ev, ["open", "buy"], "1D", segment="platform")
    assert f[["segment", "step", "users"]].values.tolist() == [["ios", 1, 1], ["ios", 2, 1], ["web", 1, 1], ["web", 2, 0]]


def test_bad_inputs_are_clear_errors():
    ev = log([("a", "2024-01-01 10:00", "open"), ("a", "2024-01-01 10:01", "buy")])
    with pytest.raises(ValueError, match=r"names event\(s\) \['purchase'\] that do not occur in column 'event'"):
        funnel(ev, ["open", "purchase"])
    with pytest.raises(ValueError, match="The 'ordering' parameter must be one of"):
        funnel(ev, ["open", "buy"], ordering="strcit")
    with pytest.raises(ValueError, match="at least two steps"):
        funnel(ev, ["open"])
    with pytest.raises(ValueError, match="window='a week' is not a duration"):
        funnel(ev, ["open", "buy"], "a week")
    with pytest.raises(ValueError, match="'segment' parameter names column 'country'"):
        funnel(ev, ["open", "buy"], segment="country")
    with pytest.raises(ValueError, match="no values"):
        funnel(ev.assign(country=np.nan), ["open", "buy"], segment="country")


def test_cart_abandonment_hand_computed():
    ev = log([("a", "2024-01-01 10:00", "add_to_cart"), ("a", "2024-01-01 10:30", "purchase"),
              ("b", "2024-01-01 10:00", "purchase"), ("b", "2024-01-01 11:00", "add_to_cart"),
              ("c", "2024-01-01 10:00", "add_to_cart"), ("c", "2024-01-03 10:00", "purchase")])
    out = cart_abandonment(ev, window="1D")
    assert out[["carts", "purchasers"]].values.tolist() == [[3, 1]]
    assert out["abandonment_rate"].item() == pytest.approx(2 / 3)
    assert cart_abandonment(ev, window="3D")["abandonment_rate"].item() == pytest.approx(1 / 3)
    # event lists: either event puts something in the cart / completes the checkout
    both = cart_abandonment(ev.replace({"event": {"purchase": "buy"}}), ["add_to_cart"], ["buy", "add_to_cart"], window="1D")
    assert both[["carts", "purchasers"]].values.tolist() == [[3, 1]]


def _slow_funnel(events, steps, window):
    """Reference: per user, walk the events in order and match steps greedily."""
    counts = [0] * len(steps)
    for _, group in events.sort_values(["user_id", "timestamp"], kind="stable").groupby("user_id"):
        rows = list(zip(group["timestamp"], group["event"]))
        entry = next((t for t, e in rows if e == steps[0]), None)
        if entry is None:
            continue
        counts[0] += 1
        k, started = 1, False
        for t, e in rows:
            if not started:
                started = e == steps[0] and t == entry
                continue
            if k < len(steps) and e == steps[k] and t <= entry + window:
                counts[k] += 1
                k += 1
    return counts


def test_matches_slow_reference_on_random_logs():
    rng = np.random.default_rng(3)
    for _ in range(5):
        n = 400
        ev = pd.DataFrame({
            "user_id": rng.choice([f"u{i}" for i in range(30)], n),
            "timestamp": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 5 * 86400, n), unit="s"),
            "event": rng.choice(["open", "cart", "buy", "other"], n),
        }).drop_duplicates(["user_id", "timestamp"])
        assert users_per_step(funnel(ev, STEPS, "2D")) == _slow_funnel(ev, STEPS, pd.Timedelta("2D"))


def test_demo_funnel_matches_purchase_propensity(demo_events, demo_truth):
    # Entry is the first app_open (the signup day's first event, 06:00-23:00
    # UTC), so a 7-day window covers calendar days 0..6 completely and part of
    # day 7; a 6-day window ends before day 6 is over.  The generator's
    # expected share purchasing on days 0..6 must therefore lie between the
    # two funnels' conversions (within their CIs).
    first = demo_events.groupby("user_id", observed=True)["timestamp"].min()
    end = pd.Timestamp(demo_truth["start"], tz="UTC") + pd.Timedelta(days=demo_truth["days"])
    observed = first.index[first < end - pd.Timedelta(days=9)]
    ev = demo_events[demo_events["user_id"].isin(observed)]
    steps = ["app_open", "screen_view[screen=product] | add_to_cart", "begin_checkout", "purchase"]
    wide, narrow = funnel(ev, steps, "7D"), funnel(ev, steps, "6D")
    expected = demo_truth["overall"]["purchase_within_days"]["7"]
    assert narrow["ci_low"].iloc[-1] <= expected <= wide["ci_high"].iloc[-1]
    assert wide["users"].is_monotonic_decreasing and narrow["conversion"].iloc[-1] <= wide["conversion"].iloc[-1]
    # Every demo purchase is preceded by product view, cart and checkout.
    assert wide["users"].iloc[-1] == wide["users"].iloc[-2]


def test_paths_transitions_and_exits_hand_computed():
    ev = log([("a", "2024-01-01 10:00", "home"), ("a", "2024-01-01 10:01", "product"), ("a", "2024-01-01 10:02", "cart"),
              ("b", "2024-01-01 10:00", "home"), ("b", "2024-01-01 10:01", "product"),
              ("c", "2024-01-01 10:00", "home"), ("c", "2024-01-01 10:01", "home"),
              ("c", "2024-01-01 12:00", "search")])  # a new session for c
    paths = top_paths(ev, from_events="home", length=3)
    assert paths[["path", "sessions"]].values.tolist() == [
        ["home → home → (exit)", 1], ["home → product → (exit)", 1], ["home → product → cart", 1]]
    assert top_paths(ev, from_events="home", length=2, collapse_repeats=True)["path"].tolist()[0] == "home → product"
    to_cart = top_paths(ev, to_events="cart", length=4)
    assert to_cart["path"].tolist() == ["(entry) → home → product → cart"]
    assert top_paths(ev, to_events=["cart", "search"], length=2)["path"].tolist() == ["(entry) → search", "product → cart"]
    both = top_paths(ev, from_events="home", to_events="product", length=3)
    assert both[["path", "share"]].values.tolist() == [["home → product", 1.0]]
    t = transitions(ev).set_index(["source", "target"])
    assert t.loc[("(entry)", "home"), "transitions"] == 3
    assert t.loc[("home", "product"), "share"] == pytest.approx(2 / 4)  # out of home: 2 → product, 1 → home, 1 → exit
    assert t.loc[("search", "(exit)"), "transitions"] == 1
    exits = exit_rates(ev).set_index("item")
    assert exits.loc["home", ["occurrences", "exits"]].tolist() == [4, 1]
    assert exits.loc["cart", "exit_rate"] == 1.0
    with pytest.raises(ValueError, match="'from_events' parameter names 'checkout', which never occurs in column 'event'"):
        top_paths(ev, from_events="checkout")


def test_demo_screen_flow_is_consistent(demo_events):
    t = transitions(demo_events, column="screen")
    out_of = t.groupby("source")["share"].sum()
    assert np.allclose(out_of, 1.0)
    # In the demo the cart screen is always followed by checkout.
    assert t[t["source"] == "cart"]["target"].tolist() == ["checkout"]


def test_plot_funnel_draws_every_user_count_including_full_conversion():
    # Wilson bounds at 100% conversion used to come out a hair below 1 (−1e-16 error bar) and crash matplotlib.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from engagement_utils import plots

    n = np.repeat(np.arange(1, 2001), 4)
    users = np.stack([np.arange(1, 2001)] * 2 + [np.arange(1, 2001) // 3, np.zeros(2000, int)], axis=1).ravel()
    lo, hi = wilson_ci(users, n)
    assert (plots.error_extents(pd.Series(users / n), pd.Series(lo), pd.Series(hi)) >= 0).all()
    fig, ax = plt.subplots()
    for total in (1, 2, 3, 7, 10, 99, 1000, 2000):
        rows = slice(4 * (total - 1), 4 * total)
        steps = pd.DataFrame({"step": [1, 2, 3, 4], "step_name": ["a", "b", "c", "d"], "users": users[rows],
                              "conversion": users[rows] / total, "ci_low": lo[rows], "ci_high": hi[rows],
                              "drop_off_rate": 1 - users[rows] / np.r_[total, users[rows][:-1]].clip(1)})
        ax.clear()
        plots.plot_funnel(steps, ax=ax)
    # bounds off by rounding in either direction are clipped, never negative
    off = plots.error_extents(pd.Series([1.0, 0.0]), pd.Series([1.0 + 1e-16, -1e-17]), pd.Series([1.0 - 1e-16, 0.2]))
    assert (off >= 0).all()
    plt.close(fig)


@pytest.mark.parametrize("as_category", [False, True])
def test_step_filters_compare_as_text_with_missing_values(as_category):
    ev = log([("a", "2024-01-01 10:00", "open"), ("a", "2024-01-01 10:01", "view"), ("b", "2024-01-01 10:00", "open"),
              ("b", "2024-01-01 10:01", "view"), ("c", "2024-01-01 10:00", "open"), ("c", "2024-01-01 10:01", "view")],
             tier=[None, 2, None, 3, None, None])
    ev["tier"] = ev["tier"].astype("Int64").astype("category" if as_category else "Int64")
    assert users_per_step(funnel(ev, ["open", "view[tier:2]"], "1D")) == [3, 1]


def test_checkout_loops_counts_sessions_that_go_back_to_the_cart_per_segment():
    ev = pd.DataFrame({
        "user_id": ["a"] * 4 + ["b"] * 3,
        "event": ["ship", "cart", "ship", "pay", "cart", "ship", "pay"],
        "platform": ["mobile"] * 4 + ["desktop"] * 3,
        "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:01", "2024-01-01 10:02", "2024-01-01 10:03",
                                     "2024-01-02 10:00", "2024-01-02 10:01", "2024-01-02 10:02"], utc=True)})
    from engagement_utils.funnels import checkout_loops

    out = checkout_loops(ev, "ship", "cart", segment="platform")
    assert out[["segment", "checkout_sessions", "loop_sessions"]].values.tolist() == [["desktop", 1.0, 0.0], ["mobile", 1.0, 1.0]]
