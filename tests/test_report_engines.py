"""Notebooks 00 to 04 on the DuckDB engine build the same reports as in memory (issue 15).

The report runner builds 00_data_overview, 01_cohort_retention, 02_engagement_overview, 03_ab_test and
04_personas twice on the demo data, two
runs at a time: from ``reports/params/demo.yml`` (events loaded into pandas) and from
``reports/params/engines/demo_duckdb.yml`` (the data-set description's ``events.engine: ibis``:
every scan runs in DuckDB over the Parquet file).  The key numbers and every sentence, table
cell and note of the two reports must be equal; only the run's metadata (build time, input
fingerprint, data-set path, export folder) differ.  02's key numbers are all computed on the engine
and equal, and so is every section: all five pages are the same text and the same figures.  04's personas are
fitted on all 5,000 users on both engines (fewer than ``personas.FIT_USERS``), from user features computed in
DuckDB.  03's per-user experiment metrics come back from DuckDB as one row per assigned user: the verdict, key
numbers and results table are those of the in-memory run.  About three minutes on 2 cores.
"""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("ibis", reason="engine tests need the engines extra: pip install -e '.[engines]'")

from test_report_datasets import CLI, ROOT, key_numbers, page_text  # noqa: E402

NOTEBOOKS = ("00_data_overview", "01_cohort_retention", "02_engagement_overview", "03_ab_test", "04_personas")
EQUAL_PAGES = NOTEBOOKS
SECTIONS_02 = ["Active days per week", "Churn", "Session durations", "Time spent and returning visitors",
               "Conversion over time", "Cart abandonment", "Event paths", "Paths from checkout by segment",
               "Checkout loops by segment", "Screen flow", "Acquisition cost", "Message reach",
               "Messaging channels and onboarding"]  # the sections that once needed the events in memory
WAREHOUSE_NOTEBOOKS = list(NOTEBOOKS)
RUNS = {"memory": ROOT / "reports" / "params" / "demo.yml",
        "duckdb": ROOT / "reports" / "params" / "engines" / "demo_duckdb.yml"}
METADATA = re.compile(r"Built \S+ \S+ UTC · inputs fingerprint \w+|\"?reports/params/(?:engines/)?datasets/\w+\.yml\"?"
                      r"|\"?\S*/exports/(?:memory|duckdb)\"?")  # 04's export folder: one per run


@pytest.fixture(scope="module")
def reports(tmp_path_factory, demo_dir):
    """Engine name -> (completed CLI run, {notebook: report HTML})."""
    base = tmp_path_factory.mktemp("report_engines")

    def run(name):
        params = RUNS[name]
        # both parameter files list every notebook
        env = {**os.environ, "JUPYTER_PREFER_ENV_PATH": "1"}
        return subprocess.run([str(CLI), "--params", str(params), "--output-dir", str(base / name), *NOTEBOOKS],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(zip(RUNS, pool.map(run, RUNS)))
    return {name: (completed, {nb: (base / name / f"{nb}.html").read_text(encoding="utf-8")
                               for nb in NOTEBOOKS if (base / name / f"{nb}.html").is_file()})
            for name, completed in runs.items()}


def test_both_engines_build_every_notebook(reports):
    for name, (run, pages) in reports.items():
        assert run.returncode == 0, (name, run.stdout[-2000:] + run.stderr[-2000:])
        assert set(pages) == set(NOTEBOOKS), name
        for page in pages.values():
            assert "Traceback" not in page_text(page)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_key_numbers_are_equal(reports, notebook):
    memory, duckdb = (key_numbers(reports[name][1][notebook]) for name in RUNS)
    assert memory == duckdb
    if notebook == "02_engagement_overview":
        assert memory["MAU"] == "3,882" and memory["Users who did purchase"] == "38.3%"
    elif notebook == "00_data_overview":
        assert memory["Events"] == "533,014" and memory["Rows removed while loading"] == "1 of 533,015"
    elif notebook == "01_cohort_retention":
        assert memory["Users in cohorts"] == "5,000"
    elif notebook == "03_ab_test":
        assert memory["Experiment"] == "checkout_redesign" and memory["Input"] == "events"
    elif notebook == "04_personas":
        assert memory["Users"] == "5,000" and memory["Personas"].startswith("4 ")


@pytest.mark.parametrize("notebook", EQUAL_PAGES)
def test_every_table_and_sentence_is_equal(reports, notebook):
    """Nothing is skipped on the engine: the pages differ only in the run's metadata."""
    memory, duckdb = (METADATA.sub("<run>", " ".join(page_text(reports[name][1][notebook]).split())) for name in RUNS)
    assert "demo_duckdb" in " ".join(page_text(reports["duckdb"][1][notebook]).split())
    assert memory == duckdb
    assert key_numbers(reports["duckdb"][1][notebook]).get("Skipped sections", "none") == "none"


def test_the_warehouse_example_is_a_valid_run():
    """The documented warehouse files parse (not run: no credentials): every notebook on a BigQuery table, as the demo."""
    from engagement_utils.dataset import describe_dataset
    from engagement_utils.reports.config import load_params_file

    params = load_params_file(ROOT / "reports" / "params" / "engines" / "warehouse.example.yml")
    assert params["notebooks"] == WAREHOUSE_NOTEBOOKS
    spec = describe_dataset(params["parameters"]["dataset"]).inputs["events"]
    assert spec.path is None and spec.options["engine"] == "ibis" and spec.options["connection"]["backend"] == "bigquery"
    assert load_params_file(RUNS["duckdb"])["notebooks"] == list(NOTEBOOKS)


def test_02_engine_sections_equal_memory(reports):
    """02 on the engine: every section is shown, with the same captions and figures (the text: ``EQUAL_PAGES``)."""
    memory, duckdb = (" ".join(page_text(reports[name][1]["02_engagement_overview"]).split()) for name in RUNS)
    for caption in ("Active users by platform on the last day of the last complete week", "Sessions by platform",
                    "Funnel by platform", "Churned (no activity in the last 30 days) by first month",
                    "Time spent and returning visitors per week", "Cart abandonment within a day of the first add_to_cart",
                    "CAC (spend / new users) and CPA (spend / first conversions) per paid channel",
                    "Reach and response rates of in-app messages and surveys by platform",
                    "Messaging channels vs 1 channel: raw and stratified differences"):
        assert caption in memory and caption in duckdb, caption
    for name in SECTIONS_02:
        assert f"{name} skipped" not in duckdb and f"{name} skipped" not in memory, name
    # every figure (session durations from the engine's histogram too) is the same image, byte for byte
    memory_figures, engine_figures = (re.findall(r'<img[^>]+src="([^"]+)"', reports[name][1]["02_engagement_overview"])
                                      for name in RUNS)
    assert len(memory_figures) > 8 and engine_figures == memory_figures


def _paths_and_flow(page: str) -> tuple[str, list[str]]:
    """02's "Paths and flow" section: its text, and its figures (base64 PNGs)."""
    start = page.index("<h2>Paths and flow</h2>")
    # the next heading, or a later section's skip line (a heading whose sections are all skipped is left out)
    ends = [page.find(mark, start + 1) for mark in ("<h2", '<div class="engagement-note engagement-note-warning')]
    html = page[start:min(end for end in ends if end > 0)]
    return " ".join(page_text(html).split()), re.findall(r'src="data:image/png;base64,([^"]+)"', html)


def test_02_paths_and_flow_on_the_engine_are_the_memory_run(reports):
    """Event paths, paths from checkout, checkout loops and screen flow: the same tables, notes and figures."""
    (memory, memory_figures), (duckdb, duckdb_figures) = (_paths_and_flow(reports[name][1]["02_engagement_overview"])
                                                          for name in RUNS)
    for caption in ("Most frequent event paths from the first funnel step (within sessions)",
                    "Top paths from begin_checkout by platform", "Exit rate per screen",
                    "app_open → screen_view → screen_view → screen_view 4 42,524 45.3%",
                    "'checkout' has the highest exit rate"):
        assert caption in duckdb, caption
    assert memory == duckdb
    assert len(duckdb_figures) == 2 and duckdb_figures == memory_figures  # checkout loops, screen flow


def _results_table(page: str) -> list[list[str]]:
    """03's results table (the first table after the "Results" heading), cell texts by row."""
    from bs4 import BeautifulSoup

    heading = next(h for h in BeautifulSoup(page, "html.parser").find_all("h2") if h.get_text(strip=True).startswith("Results"))
    table = heading.find_next("table")
    return [[cell.get_text(" ", strip=True) for cell in row.find_all(["th", "td"])] for row in table.find_all("tr")]


def test_03_verdict_and_results_equal_memory(reports):
    """03 on the engine: the same verdict and results table (the whole page: ``EQUAL_PAGES``)."""
    memory, duckdb = (reports[name][1]["03_ab_test"] for name in RUNS)
    rows = _results_table(memory)
    assert len(rows) > 5 and rows == _results_table(duckdb)
    for page in (memory, duckdb):
        text = " ".join(page_text(page).split())
        assert "Treatment raised 14-day conversion from 29.9% to 36.7%" in text
        assert "Share of users active on each calendar day after their assignment day" in text
