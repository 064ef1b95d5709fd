"""The three input shapes of notebook 03 reach the same statistics; the data end is explicit; no experiment is said once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from engagement_utils.dataset import DataSetError, load_dataset
from engagement_utils.experiments import (NO_EXPERIMENT, analyze_experiment, experiment_sections, load_experiment,
                                          load_experiment_summary)

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"
NUMERIC = ["control_value", "variant_value", "difference", "ci_low", "ci_high", "p_value", "relative_lift", "lift_ci_low",
           "lift_ci_high", "chance_to_beat"]


def test_shipped_per_user_and_summary_examples_give_the_same_results():
    per_user = load_experiment(EXAMPLES / "ab_per_user.yml")
    summary = load_experiment(EXAMPLES / "ab_summary.yml", metrics={"purchased": "binary"})
    assert per_user.shape == "per_user" and summary.shape == "summary"
    assert per_user.has_assignment_times and not per_user.has_events and not summary.has_assignment_times
    options = dict(primary=["purchased"], secondary=["revenue"], guardrails={"sessions": 0.05}, use_cuped=False)
    a = analyze_experiment(per_user.data, **options).table
    b = analyze_experiment(summary.data, metrics={"purchased": "binary"}, **options).table
    # the summary file rounds its sums of squares and cubes to 4 decimals
    np.testing.assert_allclose(a[NUMERIC].to_numpy(float), b[NUMERIC].to_numpy(float), rtol=1e-6)
    assert list(a["method"]) == list(b["method"])


def test_per_user_table_with_a_declared_ratio_metric():
    data = load_experiment({"experiment_users": EXAMPLES / "ab_per_user.csv"}).data
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
    kept = load_experiment({"experiment_users": path}, end="2024-01-05", analysed=["y"])
    assert len(kept.users) == 4
    assert "y: 1 of 4" in kept.text[-1]
    # the data set's end is the default
    assert len(load_experiment({"experiment_users": path, "end": "2024-01-04"}).users) == 3


def test_a_data_set_without_an_experiment_says_so_once_and_skips_every_section():
    exp = load_experiment({"events": "data/external/ecom/ecom.csv.gz", "conversion_events": "purchase"})
    assert not exp.found and exp.text == [NO_EXPERIMENT] and exp.key_numbers() == {"Experiment": "none in this data set"}
    assert NO_EXPERIMENT.startswith("No experiment in this data set: it names no assignments")
    sections = experiment_sections(exp)
    shown = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("engagement_utils.display.show_note", lambda *a, **k: shown.append(a))
        assert not any(sections.ok(name) for name in ("Verdict", "Results", "Retention after assignment", "Power"))
    assert shown == [] and sections.key_number() == {"Skipped sections": "A/B test (needs an experiment)"}


def test_input_shapes_name_what_they_skip():
    assert experiment_sections(load_experiment(EXAMPLES / "ab_summary.yml")).skipped == [
        "Over the course of the test", "Retention after assignment"]
    assert experiment_sections(load_experiment(EXAMPLES / "ab_per_user.yml")).skipped == ["Retention after assignment"]


def test_experiment_id_errors_list_the_experiments_present(demo_dir, tmp_path):
    with pytest.raises(ValueError, match="experiment 'nope' is not in the assignments; experiments present: checkout_redesign"):
        load_experiment("reports/params/datasets/demo.yml", experiment="nope")
    users = pd.DataFrame({"experiment": ["a", "b"], "variant": ["control", "treatment"], "y": [0, 1]})
    users.to_csv(tmp_path / "u.csv", index=False)
    with pytest.raises(ValueError, match="experiments present: a, b"):
        load_experiment({"experiment_users": tmp_path / "u.csv"}, experiment="c")


def test_experiment_tables_stand_without_events_only_for_the_ab_report(tmp_path):
    with pytest.raises(DataSetError, match="names only experiment_summary, which the A/B test report"):
        load_dataset(EXAMPLES / "ab_summary.yml")
    assert load_dataset(EXAMPLES / "ab_summary.yml", events_required=False).events is None
    with pytest.raises(DataSetError, match="did you mean 'column_map'"):
        load_dataset({"experiment_summary": {"path": EXAMPLES / "ab_summary.csv", "colum_map": {}}}, events_required=False)


def test_summary_yaml_folds_users_and_kinds_into_columns(tmp_path):
    rows = [{"variant": variant, "metric": "converted", "n": 1000, "sum": hits} for variant, hits in (("control", 100), ("b", 130))]
    path = tmp_path / "s.yml"
    path.write_text(yaml.safe_dump({"users": {"control": 1000, "b": 1010}, "metrics": {"converted": "binary"}, "rows": rows}))
    table = load_experiment_summary(path)
    assert table["users"].tolist() == [1000, 1010] and table["kind"].tolist() == ["binary", "binary"]
    exp = load_experiment({"experiment_summary": path})
    assert exp.data.assigned.to_dict() == {"b": 1010, "control": 1000}
