"""Reports built on a hostile copy of the demo data: nothing from the data is live markup.

Every report is built by the runner (``engagement-report``) on demo data whose
event names, screens, platforms, countries, acquisition channels, variant and
experiment names hold HTML, ``javascript:`` URLs, Markdown links and images,
entities and a 10,000-character value.  The pages are parsed (never grepped):
no ``<script>`` from data, no ``on*`` attribute, no ``javascript:`` URL, no
image but the embedded PNG charts.  One check runs the page in headless
Chromium and looks at the DOM after scripts ran.

These tests run all notebooks once (about a minute); select them with
``-k hostile``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from engagement_utils import demo, reports
from engagement_utils.notebook import project_root
from htmlcheck import live_markup

ROOT = project_root(Path(__file__).parent)
MARKER = "pwned"
IMG = f'<img src=x onerror="document.body.dataset.{MARKER}=1">'
HOSTILE = {
    "img": IMG,
    "script": f"<script>document.body.dataset.{MARKER}=1</script>",
    "js_url": f"javascript:alert('{MARKER}')",
    "md_link": f"[{MARKER}](javascript:alert(1))",
    "md_image": f"![{MARKER}](x)",
    "entity": f"&lt;b&gt;{MARKER}&amp;",
    "long": MARKER + "L" * 10_000,
}
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser", shutil.which("chromium") or "")
                 if p and os.path.exists(p)), None)


def hostile_copy(folder: Path) -> dict[str, str]:
    """Demo data (2,000 users: also the funnel size that crashed) with hostile values; returns the run's parameters."""
    events = pd.read_parquet(folder / "events.parquet")
    events["screen"] = events["screen"].replace(
        {"category": HOSTILE["img"], "account": HOSTILE["md_link"], "search_results": HOSTILE["long"]})
    events["platform"] = events["platform"].replace({"android": HOSTILE["script"]})
    events["country"] = events["country"].replace(
        {"DE": HOSTILE["js_url"], "FR": HOSTILE["md_image"], "GB": HOSTILE["entity"]})
    extra = [events[events["event"] == "search"].iloc[i::40].assign(event=name)
             for i, name in enumerate([HOSTILE["img"], HOSTILE["md_link"], HOSTILE["long"]])]
    events = pd.concat([events, *extra], ignore_index=True).sort_values(["user_id", "timestamp"], kind="stable")
    events.to_parquet(folder / "events.parquet", index=False)

    users = pd.read_csv(folder / "users.csv")
    channels = {"organic": HOSTILE["img"], "paid_social": HOSTILE["md_link"]}
    users["acquisition_channel"] = users["acquisition_channel"].replace(channels)
    users["platform"] = users["platform"].replace({"android": HOSTILE["script"]})
    users.to_csv(folder / "users.csv", index=False)
    spend = pd.read_csv(folder / "spend.csv")
    spend["channel"] = spend["channel"].replace(channels)
    spend.to_csv(folder / "spend.csv", index=False)

    assignments = pd.read_csv(folder / "assignments.csv")
    experiment = f"checkout {HOSTILE['md_link']} {HOSTILE['img']}"
    assignments["experiment"] = experiment
    assignments["variant"] = assignments["variant"].replace({"treatment": HOSTILE["img"]})
    assignments.to_csv(folder / "assignments.csv", index=False)
    return {"experiment": experiment}


@pytest.fixture(scope="module")
def hostile_reports(tmp_path_factory):
    work = tmp_path_factory.mktemp("hostile")
    data = work / "data"
    data.mkdir()
    demo.write_demo_data(data, n_users=2000)
    extra = hostile_copy(data)
    files = {"events": "events.parquet", "users": "users.csv", "assignments": "assignments.csv",
             "spend": "spend.csv", "surveys": "surveys.csv"}
    description = yaml.safe_load((ROOT / "reports" / "params" / "datasets" / "demo.yml").read_text(encoding="utf-8"))
    description.update({name: {"path": str(data / file)} for name, file in files.items()}, name=HOSTILE["img"])
    params = {"dataset": description}  # every notebook reads the data set, 03 its events and assignments
    params_file = work / "hostile.yml"
    params_file.write_text(yaml.safe_dump({"parameters": {**params, **extra}}))
    out = work / "reports"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        summary = reports.build_reports(notebooks_dir=ROOT / "notebooks", output_dir=out, params_file=params_file,
                                        progress=False)
    return summary


def test_hostile_every_report_builds(hostile_reports):
    failed = {r.name: r.failure_text() for r in hostile_reports.failed}
    assert not failed
    # the persona export (user ids) lands outside the report folder
    out = hostile_reports.output_dir
    assert not list(out.rglob("*.csv")) and not list(out.rglob("*.parquet"))
    assert hostile_reports.exports_dir is not None and (hostile_reports.exports_dir / "README.txt").exists()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_hostile_no_live_markup_from_data(hostile_reports, name):
    page = (hostile_reports.output_dir / f"{name}.html").read_text(encoding="utf-8")
    assert live_markup(page, marker=MARKER) == []


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_hostile_reports_show_no_raw_user_ids(hostile_reports, name):
    page = (hostile_reports.output_dir / f"{name}.html").read_text(encoding="utf-8")
    assert not re.search(r"\bu\d{4}\b", page)


def test_hostile_index_is_inert(hostile_reports):
    page = hostile_reports.index_path.read_text(encoding="utf-8")
    assert live_markup(page) == []


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_hostile_browser_dom_is_not_pwned(hostile_reports, name):
    page = hostile_reports.output_dir / f"{name}.html"
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout
    assert "<body" in dom
    assert f"data-{MARKER}" not in dom
