"""Every shipped parameter file builds the data overview (00) and cohort retention (01) reports.

Issue 12: any export, every report, and never a number that is not the data's
own.  The report runner (the ``engagement-report`` CLI) runs on each file of
``reports/params/`` for notebooks 00 and 01, into temporary folders, two runs
at a time (about a minute and a half on 2 cores: the demo and the retail export
take longest, the preset fixtures are tiny).  Each report must build, show its
key numbers, and -- unless it is the demo's -- contain no figure computed from
the demo files.
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
# the parameter files of whole data sets (ab_*.yml hold experiment tables for 03 only,
# tested in tests/test_experiments_notebook.py)
PARAMS = sorted(p for p in (ROOT / "reports" / "params").glob("*.yml") if not p.name.startswith("ab_"))
NOTEBOOKS = ("00_data_overview", "01_cohort_retention")
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
    return {"Events": overview["Events"], "Users": overview["Users"], "Period": overview["Period"],
            "Rows read": overview["Rows removed while loading"].split(" of ")[-1],
            "Users in cohorts": cohorts["Users in cohorts"]}


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


@pytest.mark.parametrize("name", [p.name for p in PARAMS if p.name != "demo.yml"])
def test_missing_inputs_are_named_once_and_listed_in_the_header(built, name):
    """No other data set names a users table: 00 says its users-table checks are skipped."""
    _, pages = built[name]
    overview = key_numbers(pages["00_data_overview"])
    assert "users-table checks" in overview["Skipped sections"]
    text = page_text(pages["00_data_overview"])
    assert text.count("Users-table checks: skipped; needs a users table") == 1


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
