"""Charts never crash on ordinary data: every size, every interval a computation can return.

Interval bounds computed in floating point can sit a hair on the wrong side of
the estimate (a Wilson upper bound of 0.9999999999999999 for a 100% step), and
rates of empty groups are NaN; every chart that draws intervals must cope.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from engagement_utils import plots  # noqa: E402
from engagement_utils.plots import engagement as engagement_plots  # noqa: E402
from engagement_utils.plots._style import error_extents  # noqa: E402
from engagement_utils.stats import wilson_ci  # noqa: E402

MAX_USERS = 3000


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def funnel_steps(users: list[int]) -> pd.DataFrame:
    """A funnel frame as :func:`engagement_utils.funnels.funnel` returns it (Wilson CIs from step 1)."""
    users = np.asarray(users, dtype=int)
    start = users[0]
    low, high = wilson_ci(users, np.full(len(users), start))
    with np.errstate(invalid="ignore", divide="ignore"):
        conversion = users / start if start else np.full(len(users), np.nan)
        previous = np.r_[start, users[:-1]]
        drop = 1 - users / previous
    return pd.DataFrame({
        "step": np.arange(1, len(users) + 1), "step_name": [f"step {i}" for i in range(1, len(users) + 1)],
        "users": users, "conversion": conversion, "ci_low": low, "ci_high": high, "drop_off_rate": drop,
    })


def test_full_conversion_step_reproduces_the_negative_xerr_bug():
    # 2000 demo users: a step every user reaches had a Wilson upper bound of 0.9999999999999999;
    # wilson_ci is now exactly 1 there, and the chart must still absorb such float noise
    steps = funnel_steps([2000, 2000, 1500])
    assert steps.loc[1, "ci_high"] == 1.0
    noisy = steps.assign(ci_high=np.where(steps["conversion"] == 1.0, np.nextafter(1.0, 0.0), steps["ci_high"]))
    assert (noisy["ci_high"] - noisy["conversion"]).min() < 0
    plots.plot_funnel(noisy)


def test_every_funnel_user_count_up_to_3000_goes_through_the_plotting_path(monkeypatch):
    # Every n in 1..3000 with a 100% second step and one intermediate value; the error bars of all
    # of them are computed exactly as plot_funnel does, and drawn in chunks without a layout pass.
    n = np.arange(1, MAX_USERS + 1)
    users = np.column_stack([n, n, n // 2]).ravel()
    trials = np.repeat(n, 3)
    low, high = wilson_ci(users, trials)
    extents = error_extents(users / trials, low, high)
    assert extents.shape == (2, users.size) and (extents >= 0).all()
    monkeypatch.setattr(matplotlib.figure.Figure, "tight_layout", lambda self, *a, **k: None)
    for chunk in np.array_split(n, 30):
        frame = pd.concat([funnel_steps([k, k, k // 2]) for k in chunk], ignore_index=True)
        fig, ax = plt.subplots()
        engagement_plots.plot_funnel(frame, ax=ax)
        plt.close(fig)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=20_000), min_size=1, max_size=8))
def test_funnel_chart_takes_any_step_counts(counts):
    counts = sorted(counts, reverse=True)  # a funnel never gains users
    plots.plot_funnel(funnel_steps(counts))
    plt.close("all")


rates = st.floats(min_value=0, max_value=1, allow_nan=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 5000)), min_size=1, max_size=6),
       st.booleans())
def test_group_comparison_takes_any_counts(groups, with_empty_metric):
    successes = np.array([min(a, b) for a, b in groups], dtype=float)
    trials = np.array([max(a, b) for a, b in groups], dtype=float)
    low, high = wilson_ci(successes, trials)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = successes / trials
    frame = pd.DataFrame({"metric": "conversion", "segment": [f"g{i}" for i in range(len(groups))],
                          "value": value, "ci_low": low, "ci_high": high})
    if with_empty_metric:
        frame = pd.concat([frame, frame.assign(metric="retention", value=np.nan, ci_low=np.nan, ci_high=np.nan)])
    plots.plot_group_comparison(frame)
    plt.close("all")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(1, 3000), st.integers(1, 3000), rates, rates), min_size=1, max_size=10))
def test_retention_difference_takes_any_rates(rows):
    records = []
    for period, (n_a, n_b, p_a, p_b) in enumerate(rows, start=1):
        diff = p_a - p_b
        half = 1.96 * np.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
        # bounds as a computation may return them: equal to the estimate, or a hair inside it
        records.append({"segment": "ios", "baseline": "web", "period": period, "difference": diff,
                        "diff_ci_low": diff - half + 1e-16, "diff_ci_high": diff + half - 1e-16,
                        "significant": bool(half and abs(diff) > half)})
    plots.plot_retention_difference(pd.DataFrame(records))
    plt.close("all")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 3000)), min_size=1, max_size=15))
def test_retention_and_persona_curves_take_any_counts(cells):
    retained = np.array([min(a, b) for a, b in cells], dtype=float)
    eligible = np.array([max(a, b) for a, b in cells], dtype=float)
    low, high = wilson_ci(retained, eligible)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = retained / eligible
    curve = pd.DataFrame({"period": np.arange(len(cells)), "rate": rate, "ci_low": low, "ci_high": high})
    plots.plot_retention_curves(curve)
    plots.plot_persona_retention(curve.assign(segment="Explorers"))
    plt.close("all")


def test_huge_labels_from_data_are_shortened():
    mix = pd.DataFrame({"value": ["x" * 10_000, "ios"], "event_share": [0.4, 0.6], "user_share": [0.5, 0.7]})
    ax = plots.plot_value_mix(mix, "By screen")
    assert max(len(t.get_text()) for t in ax.get_yticklabels()) <= 40
    flow = pd.DataFrame({"source": ["y" * 10_000, "home"], "target": ["home", "z" * 5000], "share": [1.0, 1.0]})
    ax = plots.plot_transitions(flow)
    assert max(len(t.get_text()) for t in ax.get_xticklabels() + ax.get_yticklabels()) <= 40


def test_flow_heatmap_keeps_the_top_events_and_drops_empty_columns():
    flow = pd.DataFrame({"source": ["a", "a", "a", "b", "rare"], "target": ["b", "c", "rare", "a", "a"],
                         "share": [0.5, 0.3, 0.2, 1.0, 1.0], "transitions": [50, 30, 20, 40, 1]})
    wide = plots.transition_matrix(flow, top=2)
    assert list(wide.index) == ["a", "b"] and list(wide.columns) == ["b", "a", "(other)"]
    assert wide.loc["a"].tolist() == pytest.approx([0.5, 0.0, 0.5])  # c and rare folded into (other): the row adds up
    ax = plots.plot_transitions(flow, top=2)
    texts = [t.get_text() for t in ax.texts]
    assert "0%" not in texts and "50%" in texts  # empty cells stay blank
    plt.close("all")


def test_percent_ticks_never_round_a_tick_to_another_value():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 0.15])
    ax.set_ylim(0, 0.15)
    plots.percent_axis(ax)
    ax.set_yticks([0, 0.025, 0.05, 0.075, 0.1])
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0.0%", "2.5%", "5.0%", "7.5%", "10.0%"]
    ax.set_yticks([0, 0.05, 0.1])
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0%", "5%", "10%"]
    plt.close("all")


def test_checkout_loops_ticks_are_the_periods():
    months = pd.to_datetime(["2024-02-01", "2024-03-01", "2024-04-01"])
    loops = pd.DataFrame({"segment": ["mobile"] * 3, "period_start": months, "checkout_sessions": [20] * 3,
                          "loop_sessions": [1, 2, 3], "loop_rate": [0.05, 0.1, 0.15]})
    ax = plots.plot_checkout_loops(loops)
    ax.figure.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2024-02-01", "2024-03-01", "2024-04-01"]
    plt.close("all")


@pytest.mark.parametrize("days", [2, 60])
def test_active_users_chart_draws_only_windows_with_values_in_whole_users(days):
    from engagement_utils import metrics

    start = pd.Timestamp("2024-01-05", tz="UTC")
    ev = pd.DataFrame({"user_id": ["a", "b", "c"] * days, "event": "open",
                       "timestamp": [start + pd.Timedelta(days=d, hours=h) for d in range(days) for h in (1, 2, 3)]})
    ax = plots.plot_active_users(metrics.active_users(ev))
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    ticks = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert all(float(t.replace("−", "-")).is_integer() for t in ticks)  # 3 users, never "2.95"
    if days == 2:  # no complete 7- or 30-day window: DAU only, no stickiness axis, one tick per day
        assert labels == ["DAU"] and len(ax.figure.axes) == 1
        assert [t.get_text() for t in ax.get_xticklabels()] == ["2024-01-05", "2024-01-06"]
    else:
        assert labels == ["DAU", "WAU", "MAU", "stickiness (DAU/MAU)"] and len(ax.figure.axes) == 2
    plt.close("all")
