"""The verdict never contradicts itself: each rule of experiments.narrative pinned on a constructed case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engagement_utils.experiments import analyze_experiment, srm_check, summaries_from_table
from engagement_utils.experiments.narrative import srm_sentence


def rates(n_c, x_c, n_t, x_t, name="converted", variant="treatment"):
    return pd.DataFrame({"variant": np.repeat(["control", variant], [n_c, n_t]),
                         name: np.r_[np.arange(n_c) < x_c, np.arange(n_t) < x_t].astype(int)})


def test_srm_comes_first_with_a_warning_tier():
    warn = srm_check({"control": 5000, "treatment": 5265})
    assert 0.001 <= warn.p_value < 0.01 and warn.warning and not warn.flagged
    assert srm_sentence(warn).startswith("Sample ratio warning")
    assert "passed" not in srm_sentence(warn)
    users = rates(5000, 1000, 5265, 1100)
    text = analyze_experiment(users, primary=["converted"]).text
    assert text[0].startswith("Sample ratio warning")
    broken = analyze_experiment(rates(5000, 1000, 5600, 1100), primary=["converted"]).text
    assert broken[0].startswith("Sample ratio mismatch") and "unreliable" in broken[-1]


def test_cuped_estimate_direction_and_chance_come_from_one_row():
    # control users happened to be far more active before the test: raw means fall, adjusted rise
    rng = np.random.default_rng(5)
    n = 2000
    pre = np.r_[rng.gamma(4, 2, n) + 2.0, rng.gamma(4, 2, n)]
    y = pre + rng.normal(0, 1, 2 * n) + np.r_[np.zeros(n), np.full(n, 0.3)]
    users = pd.DataFrame({"variant": np.repeat(["control", "treatment"], n), "sessions": y, "pre_sessions": pre})
    a = analyze_experiment(users, primary=["sessions"], covariates={"sessions": "pre_sessions"})
    row = a.table.iloc[0]
    assert users.groupby("variant")["sessions"].mean().diff().iloc[-1] < 0 < row["difference"]
    assert row["cuped"] and row["variant_value"] - row["control_value"] == pytest.approx(row["difference"])
    assert row["chance_to_beat"] > 0.5 and row["significant"]
    sentence = a.text[1]
    assert sentence.startswith("Treatment raised sessions")
    assert f"from {row['control_value']:.2f} to {row['variant_value']:.2f}, CUPED-adjusted" in sentence
    assert not any("worsened" in s for s in a.text)
    power = a.power.iloc[0]
    assert power["mde"] == pytest.approx((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * row["std_error"])


def test_cuped_is_not_claimed_when_no_user_has_pre_period_data():
    users = rates(1000, 200, 1000, 260).assign(pre_purchases=0.0)
    a = analyze_experiment(users, primary=["converted"], covariates={"converted": "pre_purchases"})
    assert not a.table["cuped"].iloc[0]
    assert not any("CUPED" in s for s in a.text)
    assert a.cuped.empty


def test_no_sentence_for_an_arm_or_metric_without_data():
    users = rates(1000, 200, 1000, 260)
    users["retained_d30"] = np.nan  # fully censored
    users.loc[users["variant"] == "treatment", "late"] = np.nan
    users.loc[users["variant"] == "control", "late"] = 1.0
    a = analyze_experiment(users, primary=["converted", "retained_d30", "late"])
    joined = " ".join(a.text)
    assert "nan" not in joined and "retained" not in joined and "late" not in joined
    assert "improved 1 of 1 primary metric" in joined
    constant = rates(1000, 0, 1000, 0)
    text = analyze_experiment(constant, primary=["converted"]).text
    assert "< 0.1%" not in " ".join(text) and "no variation" in text[1]


def test_guardrails_proven_harm_and_not_enough_data_read_differently():
    harm = analyze_experiment(rates(20000, 6000, 20000, 5400), primary=[], guardrails={"converted": 0.05})
    assert harm.table["guardrail"].iloc[0] == "harmed"
    assert any("harmed by Treatment" in s and "proven worsening" in s for s in harm.text)
    small = analyze_experiment(rates(200, 60, 200, 58), primary=[], guardrails={"converted": 0.05})
    assert small.table["guardrail"].iloc[0] == "inconclusive"
    assert any("not enough data" in s for s in small.text)
    held = analyze_experiment(rates(20000, 6000, 20000, 6100), primary=[], guardrails={"converted": 0.05})
    assert held.table["guardrail"].iloc[0] == "held"
    assert "held every guardrail" not in " ".join(small.text)


def test_verb_follows_the_adjusted_p_value_and_says_so():
    users = rates(3000, 600, 3000, 670)
    for k in range(3):
        users[f"other_{k}"] = rates(3000, 600, 3000, 600)["converted"].to_numpy()
    a = analyze_experiment(users, primary=["converted", "other_0", "other_1", "other_2"])
    row = a.table.iloc[0]
    assert row["p_value"] < 0.05 <= row["p_value_adjusted"]
    assert a.text[1].startswith("Treatment did not detectably change converted")
    assert "not after the correction for 4 comparisons" in a.text[1]


def test_summary_input_gets_the_same_verdict_as_per_user_rows():
    users = rates(1000, 200, 1000, 260)
    table = pd.DataFrame({"variant": ["control", "treatment"], "metric": "converted", "n": [1000, 1000], "sum": [200, 260]})
    assert analyze_experiment(users, primary=["converted"]).text == analyze_experiment(summaries_from_table(table), primary=["converted"]).text


def test_minimum_effect_of_interest_separates_meaningful_from_negligible():
    big = analyze_experiment(rates(20000, 4000, 20000, 4600), primary=["converted"], minimum_effect=0.05)
    assert big.table["practical"].iloc[0] == "meaningful" and "beyond the minimum effect" in big.text[1]
    tiny = analyze_experiment(rates(200000, 40000, 200000, 40100), primary=["converted"], minimum_effect=0.02)
    assert tiny.table["practical"].iloc[0] == "negligible" and "too small to matter" in tiny.text[1]
    unclear = analyze_experiment(rates(500, 100, 500, 110), primary=["converted"], minimum_effect=0.02)
    assert unclear.table["practical"].iloc[0] == "unclear"
