"""End to end: the report command on the real data-overview notebook and the demo data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engagement_utils import io, reports
from engagement_utils.notebook import project_root

ROOT = project_root(Path(__file__).parent)


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_dir):
    out = tmp_path_factory.mktemp("reports")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        code = reports.main(["00_data_overview", "--output-dir", str(out)])
    return code, out


def test_report_builds_with_key_numbers(built, demo_dir):
    code, out = built
    assert code == 0
    page = (out / "00_data_overview.html").read_text()
    events = io.load_events(demo_dir / "events.parquet")
    assert f"{len(events):,}" in page
    assert f"{events['user_id'].nunique():,}" in page
    assert "Traceback" not in page and "ValidationError" not in page
    assert "check_parameters" not in page  # code cells are hidden
    assert reports.remote_resources(page) == []


def test_report_shows_no_raw_user_ids(built):
    _, out = built
    page = (out / "00_data_overview.html").read_text()
    assert not re.search(r"\bu\d{4}\b", page)


def test_index_lists_the_report(built):
    _, out = built
    index = (out / "index.html").read_text()
    assert "00_data_overview.html" in index
    assert "Events" in index


def test_broken_run_keeps_the_good_report_and_fails_loudly(built, tmp_path, capsys):
    _, out = built
    good = (out / "00_data_overview.html").read_bytes()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        code = reports.main(["00_data_overview", "--output-dir", str(out), "-p", "dataset", str(tmp_path / "missing.yml")])
    assert code == 1
    err = capsys.readouterr().err
    assert "00_data_overview" in err and "cell" in err.lower()
    assert (out / "00_data_overview.html").read_bytes() == good


def test_misspelled_parameter_is_rejected(tmp_path, capsys):
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        code = reports.main(["00_data_overview", "--output-dir", str(tmp_path), "-p", "datset", "x.yml"])
    assert code == 2
    assert "did you mean 'dataset'" in capsys.readouterr().err
    assert not (tmp_path / "00_data_overview.html").exists()
