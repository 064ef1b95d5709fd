"""Reports 02, 03 and 04 on data sets other than the demo: each builds, shows its key numbers,
says what it skipped and never shows a figure of the demo files (issue 12)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from engagement_utils import reports
from engagement_utils.notebook import project_root

ROOT = project_root(Path(__file__).parent)
NOTEBOOKS = ["02_engagement_overview", "04_personas"]
DEMO_FIGURES = ("NPS is", "1,145 answers", "5,000 users", "in_app_message_shown shown", "acquires users most cheaply",
                "checkout_redesign", "3,016")


def text_of(page: str) -> str:
    """The visible text of a report page (tags, styles and scripts removed, entities kept as is)."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def build(tmp_path: Path, params: dict, name: str, notebooks=NOTEBOOKS) -> Path:
    params_file = tmp_path / f"{name}.yml"
    params_file.write_text(yaml.safe_dump(params))
    out = tmp_path / name
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        code = reports.main(["--params", str(params_file), "--output-dir", str(out), *notebooks])
    assert code == 0, f"{name}: a report failed"
    return out


def minimal_log(folder: Path) -> Path:
    """A clickstream with only user_id, event, timestamp: 120 users browsing and some buying over 60 days."""
    rng = np.random.default_rng(24)
    users = np.repeat(np.arange(120), 12)
    steps = np.tile(["home", "list", "item", "basket", "home", "item", "item", "pay", "home", "list", "item", "pay"], 120)
    day = np.repeat(rng.integers(0, 60, 120), 12) + np.tile(np.repeat([0, 3, 9], 4), 120) * (users % 3 == 0)
    ts = pd.Timestamp("2024-03-01") + pd.to_timedelta(day, "D") + pd.to_timedelta(np.tile(np.arange(12) * 40, 120), "s")
    keep = (steps != "pay") | (users % 4 == 0)
    frame = pd.DataFrame({"user_id": [f"v{u}" for u in users], "event": steps, "timestamp": ts})[keep]
    path = folder / "minimal.csv"
    frame.to_csv(path, index=False)
    return path


def minimal_assignments(log: Path) -> Path:
    """An experiment on the minimal log: each user assigned at their first event, half to a treatment."""
    events = pd.read_csv(log)
    users = events.groupby("user_id", sort=True)["timestamp"].min().rename("assigned_at").reset_index()
    variant = np.random.default_rng(3).permutation(np.repeat(["control", "treatment"], len(users) // 2 + 1))[:len(users)]
    path = log.parent / "assignments.csv"
    users.assign(experiment="basket_button", variant=variant).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("datasets24")
    exports = {"notebook_parameters": {"04_personas": {"export_dir": str(tmp / "exports")}}}
    description = tmp / "minimal_dataset.yml"
    log = minimal_log(tmp)
    description.write_text(yaml.safe_dump({"name": "minimal log", "events": {"path": str(log)}}))
    experiment = tmp / "minimal_experiment.yml"
    experiment.write_text(yaml.safe_dump({"name": "minimal log with an experiment", "events": {"path": str(log)},
                                          "assignments": {"path": str(minimal_assignments(log))},
                                          "conversion_events": "pay"}))
    ecom = yaml.safe_load((ROOT / "reports/params/ecom.yml").read_text())
    return {
        "ecom": build(tmp, {"parameters": ecom["parameters"],
                            "notebook_parameters": {**ecom.get("notebook_parameters", {}), **exports["notebook_parameters"]}},
                      "ecom"),
        # reports/params/online_retail.yml builds 00, 01 and 04; its data set is the shipped description
        "retail": build(tmp, {"parameters": {"dataset": "reports/params/datasets/online_retail.yml"}, **exports}, "retail",
                        ["04_personas"]),
        "minimal": build(tmp, {"parameters": {"dataset": str(description)}, **exports}, "minimal"),
        # 03 on a data set that is not the demo's but has assignments (the shipped ones have none)
        "minimal_ab": build(tmp, {"parameters": {"dataset": str(experiment)}}, "minimal_ab", ["03_ab_test"]),
    }


@pytest.mark.parametrize("data, notebook", [(d, n) for d in ("ecom", "minimal") for n in NOTEBOOKS]
                         + [("retail", "04_personas"), ("minimal_ab", "03_ab_test")])
def test_builds_with_key_numbers_and_no_demo_figure(built, data, notebook):
    page = text_of((built[data] / f"{notebook}.html").read_text())
    assert "Key numbers" in page and ("Skipped sections" in page or notebook == "03_ab_test")
    assert "Traceback" not in page and "Error" not in page.replace("payment_error", "").replace("error_page", "")
    for figure in DEMO_FIGURES:
        assert figure not in page, f"{data} {notebook}: demo figure {figure!r}"
    assert not re.search(r"\d\.\d+e[+-]\d\d", page), "e-notation in a report"
    assert not re.search(r"\b1 days\b", page)


def test_ecom_overview_shows_the_incident_and_the_checkout_loop(built):
    page = text_of((built["ecom"] / "02_engagement_overview.html").read_text())
    assert "Largest dip: the weeks of 2024-05-20 to 2024-05-27" in page
    assert "most frequent for mobile in the period from 2024-05-01" in page
    assert "In each period from 2024-02-01 to 2024-05-01, mobile loops more than every other group." in page
    assert "Paths that leave shipping_details or payment_details and come back: mobile:" in page
    assert "The busiest day was 2024-06-18 with 46 active users, 2.1× the median day (22)." in page
    assert "Survey scores skipped: needs a surveys table" in page
    assert "Users who did purchase" in page
    assert "in_app_message" not in page and "CI low" not in page


def test_ecom_personas_use_sessions_and_orders(built):
    page = text_of((built["ecom"] / "04_personas.html").read_text())
    assert "Sessions last about" in page and "orders per buyer" in page
    assert "Conversion by acquisition channel" in page


def test_minimal_log_gets_what_it_allows(built):
    overview = text_of((built["minimal"] / "02_engagement_overview.html").read_text())
    assert "Proposed funnel" in overview and "DAU (last day)" in overview
    assert "Conversion over time skipped: needs conversion events" in overview
    assert "Cart abandonment skipped" in overview
    personas = text_of((built["minimal"] / "04_personas.html").read_text())
    assert "RFM segments skipped" in personas and "Sessions last about" in personas
    assert "bought at least once" not in personas


def test_retail_personas_score_buyers_in_its_currency(built):
    page = text_of((built["retail"] / "04_personas.html").read_text())
    assert "RFM segments" in page and "RFM segments skipped" not in page
    assert "£" in page


def test_experiment_on_other_data_uses_its_own_ids_and_measures_no_revenue(built):
    page = text_of((built["minimal_ab"] / "03_ab_test.html").read_text())
    assert "120 users assigned to basket_button" in page and "120 in 2 variants" in page
    assert ("Revenue metrics (revenue_14d, pre_revenue_28d) are not measured rather than read as 0: the experiment "
            "needs a revenue column") in page
    assert "revenue per user" not in page
    assert "Retention after assignment skipped" not in page and "No experiment" not in page
