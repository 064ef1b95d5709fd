"""Notebooks 00, 01, 02 and 04 on the DuckDB engine build the same reports as in memory (issue 15).

The report runner builds 00_data_overview, 01_cohort_retention, 02_engagement_overview and 04_personas
twice on the demo data, two
runs at a time: from ``reports/params/demo.yml`` (events loaded into pandas) and from
``reports/params/engines/demo_duckdb.yml`` (the data-set description's ``events.engine: ibis``:
every scan runs in DuckDB over the Parquet file).  The key numbers and every sentence, table
cell and note of the two reports must be equal; only the run's metadata (build time, input
fingerprint, data-set path, export folder) differ.  02's key numbers are all computed on the engine
and equal, and so is every section with an engine version; the paths sections (no engine version
yet) are one line each on the engine.  04's personas are fitted on all 5,000 users on both engines
(fewer than ``personas.FIT_USERS``), from user features computed in DuckDB.  About two and a half
minutes on 2 cores.
"""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("ibis", reason="engine tests need the engines extra: pip install -e '.[engines]'")

from test_report_datasets import CLI, ROOT, key_numbers, page_text  # noqa: E402

NOTEBOOKS = ("00_data_overview", "01_cohort_retention", "02_engagement_overview", "04_personas")
EQUAL_PAGES = ("00_data_overview", "01_cohort_retention", "04_personas")
MEMORY_ONLY_02 = ["Event paths", "Paths from checkout by segment", "Checkout loops by segment", "Screen flow"]
ENGINE_02 = ["Active days per week", "Churn", "Session durations", "Time spent and returning visitors",
             "Conversion over time", "Cart abandonment", "Acquisition cost", "Message reach",
             "Messaging channels and onboarding"]  # sections 02 shows on the engine too (with the funnel, sessions, ...)
PATHS_02 = re.compile(r"(?:Paths and flow Paths follow|Warning: Event paths skipped).*?(?=Acquisition cost, surveys and message reach)")
WAREHOUSE_NOTEBOOKS = ["00_data_overview", "01_cohort_retention"]
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
        # demo.yml lists every notebook: both runs build the engine's three
        env = {**os.environ, "JUPYTER_PREFER_ENV_PATH": "1"}
        return subprocess.run([str(CLI), "--params", str(params), "--output-dir", str(base / name), *NOTEBOOKS],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(zip(RUNS, pool.map(run, RUNS)))
    return {name: (completed, {nb: (base / name / f"{nb}.html").read_text(encoding="utf-8")
                               for nb in NOTEBOOKS if (base / name / f"{nb}.html").is_file()})
            for name, completed in runs.items()}


def test_both_engines_build_00_01_02_and_04(reports):
    for name, (run, pages) in reports.items():
        assert run.returncode == 0, (name, run.stdout[-2000:] + run.stderr[-2000:])
        assert set(pages) == set(NOTEBOOKS), name
        for page in pages.values():
            assert "Traceback" not in page_text(page)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_key_numbers_are_equal(reports, notebook):
    memory, duckdb = (key_numbers(reports[name][1][notebook]) for name in RUNS)
    if notebook == "02_engagement_overview":  # every figure is computed on the engine; the skipped list differs
        skipped = duckdb.pop("Skipped sections")
        assert memory.pop("Skipped sections") == "none"
        assert [part.split(" (")[0] for part in skipped.split("; ")] == MEMORY_ONLY_02
        assert all("(needs the events loaded in memory)" in part for part in skipped.split("; "))
        assert memory["MAU"] == "3,882" and memory["Users who did purchase"] == "38.3%"
    assert memory == duckdb
    if notebook == "00_data_overview":
        assert memory["Events"] == "533,014" and memory["Rows removed while loading"] == "1 of 533,015"
    elif notebook == "01_cohort_retention":
        assert memory["Users in cohorts"] == "5,000"
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
    """The documented warehouse files parse (not run: no credentials): 00 and 01 on a BigQuery table; the demo runs 00, 01, 04."""
    from engagement_utils.dataset import describe_dataset
    from engagement_utils.reports.config import load_params_file

    params = load_params_file(ROOT / "reports" / "params" / "engines" / "warehouse.example.yml")
    assert params["notebooks"] == WAREHOUSE_NOTEBOOKS
    spec = describe_dataset(params["parameters"]["dataset"]).inputs["events"]
    assert spec.path is None and spec.options["engine"] == "ibis" and spec.options["connection"]["backend"] == "bigquery"
    assert load_params_file(RUNS["duckdb"])["notebooks"] == list(NOTEBOOKS)


def test_02_engine_sections_equal_memory(reports):
    """02 on the engine: every section with an engine version reads the same (tables, notes, captions); the paths are one line each."""
    memory, duckdb = (" ".join(page_text(reports[name][1]["02_engagement_overview"]).split()) for name in RUNS)
    for caption in ("Active users by platform on the last day of the last complete week", "Sessions by platform",
                    "Funnel by platform", "Churned (no activity in the last 30 days) by first month",
                    "Time spent and returning visitors per week", "Cart abandonment within a day of the first add_to_cart",
                    "CAC (spend / new users) and CPA (spend / first conversions) per paid channel",
                    "Reach and response rates of in-app messages and surveys by platform",
                    "Messaging channels vs 1 channel: raw and stratified differences"):
        assert caption in memory and caption in duckdb, caption
    for name in MEMORY_ONLY_02:
        assert duckdb.count(f"{name} skipped: needs the events loaded in memory") == 1, name
        assert f"{name} skipped" not in memory
    for name in ENGINE_02:
        assert f"{name} skipped" not in duckdb and f"{name} skipped" not in memory, name
    skipped = key_numbers(reports["duckdb"][1]["02_engagement_overview"])["Skipped sections"]
    # outside the paths section the two pages are the same text: every table cell, note and reading
    same = [METADATA.sub("<run>", PATHS_02.sub("<paths>", text.replace(skipped, "none"))) for text in (memory, duckdb)]
    assert same[0] == same[1]
    # and every figure (session durations from the engine's histogram too) is the same image, byte for byte
    memory_figures, engine_figures = (re.findall(r'<img[^>]+src="([^"]+)"', reports[name][1]["02_engagement_overview"])
                                      for name in RUNS)
    assert len(engine_figures) == len(memory_figures) - 2  # the checkout loops and the screen flow
    assert set(engine_figures) <= set(memory_figures)


def test_the_ab_test_on_an_engine_source_says_what_to_do_instead():
    # 03 has no engine version: the error names the two ways that work (memory, or tables from the warehouse).
    from engagement_utils.experiments import load_experiment

    description = {"events": {"path": "data/demo/events.parquet", "engine": "ibis", "memory_limit": "1GB"},
                   "assignments": "data/demo/assignments.csv", "conversion_events": "purchase"}
    with pytest.raises(ValueError, match=r"engine: memory.*experiment_users"):
        load_experiment(description)
