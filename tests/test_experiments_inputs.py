"""The three input shapes of notebook 03 reach the same statistics; the data end is explicit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engagement_utils.experiments import analyze_experiment, load_experiment

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"
NUMERIC = ["control_value", "variant_value", "difference", "ci_low", "ci_high", "p_value", "relative_lift", "lift_ci_low",
           "lift_ci_high", "chance_to_beat"]


def test_shipped_per_user_and_summary_examples_give_the_same_results():
    per_user = load_experiment(per_user_path=EXAMPLES / "ab_per_user.csv")
    summary = load_experiment(summary_path=EXAMPLES / "ab_summary.csv", metrics={"purchased": "binary"})
    assert per_user.shape == "per_user" and summary.shape == "summary"
    assert per_user.has_assignment_times and not per_user.has_events and not summary.has_assignment_times
    options = dict(primary=["purchased"], secondary=["revenue"], guardrails={"sessions": 0.05}, use_cuped=False)
    a = analyze_experiment(per_user.data, **options).table
    b = analyze_experiment(summary.data, metrics={"purchased": "binary"}, **options).table
    # the summary file rounds its sums of squares and cubes to 4 decimals
    np.testing.assert_allclose(a[NUMERIC].to_numpy(float), b[NUMERIC].to_numpy(float), rtol=1e-6)
    assert list(a["method"]) == list(b["method"])


def test_per_user_table_with_a_declared_ratio_metric():
    data = load_experiment(per_user_path=EXAMPLES / "ab_per_user.csv").data
    declared = {"revenue_per_session": {"kind": "ratio", "numerator": "revenue", "denominator": "sessions"}}
    row = analyze_experiment(data, primary=["revenue_per_session"], metrics=declared).table.iloc[0]
    users = data.groupby("variant")[["revenue", "sessions"]].sum()
    ratio = users["revenue"] / users["sessions"]
    assert row["method"] == "delta" and not row["cuped"]
    assert row["difference"] == pytest.approx(ratio["treatment"] - ratio["control"], rel=1e-12)


def test_end_filters_per_user_assignments_and_names_censoring(tmp_path):
    users = pd.DataFrame({"variant": ["control", "treatment"] * 3, "y": [1, 0, 1, np.nan, 0, np.nan],
                          "assigned_at": pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC").astype(str)})
    path = tmp_path / "u.csv"
    users.to_csv(path, index=False)
    kept = load_experiment(per_user_path=path, end="2024-01-05", analysed=["y"])
    assert len(kept.users) == 4
    assert "y: 1 of 4" in kept.text[-1]
    with pytest.raises(ValueError, match="no experiment input"):
        load_experiment()
