"""Every shipped parameter file builds the data overview (00), cohort retention (01) and A/B test (03) reports.

Issue 12: any export, every report, and never a number that is not the data's
own.  The report runner (the ``engagement-report`` CLI) runs on each file of
``reports/params/`` for notebooks 00, 01 and 03, into temporary folders, two runs
at a time (about a minute and a half on 2 cores: the demo and the retail export
take longest, the preset fixtures are tiny).  Each report must build, show its
key numbers, and -- unless it is the demo's -- contain no figure computed from
the demo files; 03 on a data set without assignments says so in one line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
# the parameter files of whole data sets (ab_*.yml describe experiment tables without events,
# for 03 only: their inputs are tested in tests/test_experiments_inputs.py)
PARAMS = sorted(p for p in (ROOT / "reports" / "params").glob("*.yml") if not p.name.startswith("ab_"))
NOTEBOOKS = ("00_data_overview", "01_cohort_retention", "03_ab_test")
# the preset fixtures are tiny, so they also build 02 and 04 here (demo, retail and ecom build
# those in nbval and tests/test_report_datasets_24.py)
PRESET_NOTEBOOKS = NOTEBOOKS + ("02_engagement_overview", "04_personas")


def notebooks_of(params: Path) -> tuple[str, ...]:
    return PRESET_NOTEBOOKS if params.name.startswith("preset_") else NOTEBOOKS
CLI = Path(sys.executable).parent / "engagement-report"
SINGULAR_PLURAL = re.compile(r"(?<![\d,.])1 (?:days|weeks|months|users|cohorts|groups)\b|\b(?:days|weeks|months) 1\b(?![\d–-])")
FIRST = ("demo.yml", "online_retail.yml", "ecom.yml")  # the slow ones start first


def key_numbers(page: str) -> dict[str, str]:
    """The report header's key numbers, label -> value (parsed, not grepped)."""
    soup = BeautifulSoup(page, "html.parser")
    block = soup.find("section", class_="engagement-key-numbers")
    assert block is not None, "no key numbers"
    numbers = {}
    for item in block.find_all("div", recursive=False)[1:]:
        if "engagement-skipped" in item.get("class", []):  # one compact line, not a figure
            numbers["Skipped sections"] = item.find("span", class_="engagement-skipped-list").get_text(strip=True)
            continue
        value, label = item.find_all("div", recursive=False)
        numbers[label.get_text(strip=True)] = value.get_text(strip=True)
    return numbers


def page_text(page: str) -> str:
    return BeautifulSoup(page, "html.parser").get_text(" ")


def build(params: Path, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "JUPYTER_PREFER_ENV_PATH": "1"}
    return subprocess.run([str(CLI), "--params", str(params), "--output-dir", str(out), *notebooks_of(params)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_dir):
    """Parameter file name -> (completed CLI run, {notebook: report HTML})."""
    base = tmp_path_factory.mktemp("report_datasets")
    order = sorted(PARAMS, key=lambda p: (p.name not in FIRST, FIRST.index(p.name) if p.name in FIRST else 0, p.name))
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(zip(order, pool.map(lambda p: build(p, base / p.stem), order)))
    results = {}
    for params, run in runs.items():
        pages = {nb: (base / params.stem / f"{nb}.html").read_text(encoding="utf-8")
                 for nb in notebooks_of(params) if (base / params.stem / f"{nb}.html").is_file()}
        results[params.name] = (run, pages)
    return results


@pytest.fixture(scope="module")
def demo_figures(built) -> dict[str, str]:
    """The demo's headline figures, as its own reports show them."""
    _, pages = built["demo.yml"]
    overview, cohorts = key_numbers(pages["00_data_overview"]), key_numbers(pages["01_cohort_retention"])
    experiment = key_numbers(pages["03_ab_test"])
    return {"Events": overview["Events"], "Users": overview["Users"], "Period": overview["Period"],
            "Rows read": overview["Rows removed while loading"].split(" of ")[-1],
            "Users in cohorts": cohorts["Users in cohorts"], "Experiment": experiment["Experiment"],
            "Assigned users": experiment["Users"].split(" in ")[0]}


def test_every_parameter_file_is_shipped_and_tested():
    assert {p.name for p in PARAMS} >= {"demo.yml", "ecom.yml", "online_retail.yml", "preset_ga4.yml",
                                        "preset_amplitude.yml", "preset_mixpanel.yml", "preset_segment.yml",
                                        "preset_posthog.yml", "preset_transactions.yml"}


@pytest.mark.parametrize("name", [p.name for p in PARAMS])
def test_builds_00_and_01_with_key_numbers(built, name):
    run, pages = built[name]
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert set(pages) == set(notebooks_of(PARAMS[[p.name for p in PARAMS].index(name)]))
    overview, cohorts = key_numbers(pages["00_data_overview"]), key_numbers(pages["01_cohort_retention"])
    assert {"Events", "Users", "Period", "Event types", "Rows removed while loading"} <= set(overview)
    assert {"Users in cohorts", "Cohorts", "Long-run plateau"} <= set(cohorts)
    for page in pages.values():
        text = page_text(page)
        assert "Traceback" not in text and "Error" not in text.replace("error_page", "").replace("payment_error", "")
        assert not SINGULAR_PLURAL.search(text), SINGULAR_PLURAL.search(text)


@pytest.mark.parametrize("name", [p.name for p in PARAMS if p.name != "demo.yml"])
def test_no_demo_number_in_reports_on_other_data(built, demo_figures, name):
    _, pages = built[name]
    overview, cohorts = key_numbers(pages["00_data_overview"]), key_numbers(pages["01_cohort_retention"])
    for label in ("Events", "Users", "Period"):
        assert overview[label] != demo_figures[label], (label, overview[label])
    assert overview["Rows removed while loading"].split(" of ")[-1] != demo_figures["Rows read"]
    assert cohorts["Users in cohorts"] != demo_figures["Users in cohorts"]
    for page in pages.values():
        text = page_text(page)
        for figure in (demo_figures["Events"], demo_figures["Rows read"], f"{demo_figures['Users']} users"):
            assert figure not in text, figure
        assert "data/demo/" not in text and "datasets/demo.yml" not in text
    experiment = page_text(pages["03_ab_test"])
    for figure in (demo_figures["Experiment"], f"{demo_figures['Assigned users']} users"):
        assert figure not in experiment, figure


@pytest.mark.parametrize("name", [p.name for p in PARAMS if p.name != "demo.yml"])
def test_missing_inputs_are_named_once_and_listed_in_the_header(built, name):
    """No other data set names a users table: 00 says its users-table checks are skipped."""
    _, pages = built[name]
    overview = key_numbers(pages["00_data_overview"])
    assert "users-table checks" in overview["Skipped sections"]
    text = page_text(pages["00_data_overview"])
    assert text.count("Users-table checks: skipped; needs a users table") == 1


@pytest.mark.parametrize("name", [p.name for p in PARAMS if p.name != "demo.yml"])
def test_no_experiment_is_said_in_one_line(built, name):
    """No other data set names assignments: 03 says so once, names the fix, and skips every section quietly."""
    _, pages = built[name]
    header = key_numbers(pages["03_ab_test"])
    assert header == {"Experiment": "none in this data set", "Skipped sections": "A/B test (needs an experiment)"}
    text = page_text(pages["03_ab_test"])
    assert text.count("No experiment in this data set: it names no assignments") == 1
    assert "add an <code>assignments:</code> input (user_id, experiment, variant[, assigned_at])" in pages["03_ab_test"]
    assert "Verdict" not in text and "Sample ratio check" not in text  # the skipped sections' headings are left out
    notes = BeautifulSoup(pages["03_ab_test"], "html.parser").find_all(string=re.compile(r"skipped|Not shown"))
    assert not notes, notes


def test_demo_experiment_key_numbers(built):
    """The demo's checkout_redesign test, as notebooks/03_ab_test.ipynb stores it (nbval)."""
    _, pages = built["demo.yml"]
    assert key_numbers(pages["03_ab_test"]) == {
        "Experiment": "checkout_redesign", "Input": "events", "Assigned": "2024-03-01 to 2024-03-30",
        "Users": "3,016 in 2 variants", "Sample ratio": "ok (p = 0.94)", "14-day conversion": "30.3% → 36.3%",
        "Primary metrics improved": "1 of 2"}


def test_demo_reports_skip_nothing(built):
    _, pages = built["demo.yml"]
    assert all("Skipped sections" not in key_numbers(page) for page in pages.values())


def test_breakdowns_adapt_to_the_columns_present(built):
    """ecom: platform and acquisition_channel (an events column) are compared; the presets name
    the users-table breakdowns they cannot have; nothing talks about onboarding where it is not used."""
    _, pages = built["ecom.yml"]
    cohorts = page_text(pages["01_cohort_retention"])
    assert "Segments compared: platform, acquisition_channel." in cohorts
    assert "Skipped sections" not in key_numbers(pages["01_cohort_retention"]) and "onboarding" not in cohorts
    _, pages = built["preset_ga4.yml"]
    header = key_numbers(pages["01_cohort_retention"])
    assert header["Skipped sections"] == (
        "segments by onboarding (needs a users table with the column 'onboarding'); "
        "segments by acquisition_channel (needs a users table with the column 'acquisition_channel')")
    assert "Segments by onboarding: skipped; needs a users table with the column 'onboarding'" in page_text(
        pages["01_cohort_retention"])
