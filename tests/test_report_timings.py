"""``engagement-report --timings``: seconds per cell and per section of a run."""

from __future__ import annotations

import contextlib
import csv
import io
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from engagement_utils import reports
from engagement_utils.reports.config import Job
from engagement_utils.reports.timings import OVERHEAD_SECTION, cell_timings, format_timings, section_timings

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"


def _source() -> object:
    return new_notebook(cells=[
        new_markdown_cell("# Title\n\nWhat it answers."),
        new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        new_code_cell("import pandas as pd\nevents = load()"),
        new_markdown_cell("## Sessions"),
        new_code_cell("# a comment\nsessions = sessionize(events)"),
        new_code_cell("plot(sessions)"),
    ])


def _executed(source, durations: dict[int, float | None]):
    """papermill's copy: the injected-parameters cell after the parameters cell, durations in metadata."""
    cells = [dict(c) for c in source.cells]
    executed = new_notebook(cells=[source.cells[0], source.cells[1],
                                   new_code_cell("x = 2", metadata={"tags": ["injected-parameters"]}),
                                   *source.cells[2:]])
    for position, cell in enumerate(executed.cells):
        cell.metadata = dict(cell.metadata)
        if position in durations:
            cell.metadata["papermill"] = {"duration": durations[position]}
    assert len(cells) + 1 == len(executed.cells)
    return executed


def test_cell_timings_number_cells_as_the_source_and_name_their_section():
    source = _source()
    job = Job(Path("nb.ipynb"), source, {"x": {"default": "1"}}, {"x": 2})
    executed = _executed(source, {1: 0.01, 2: 0.02, 3: 4.0, 5: 2.5, 6: None})
    rows = cell_timings(executed, job)
    assert [(r["cell"], r["section"], r["seconds"], r["line"]) for r in rows] == [
        (2, "Title", 0.01, "x = 1"),
        (2, "Title", 0.02, "(injected parameters)"),
        (3, "Title", 4.0, "events = load()"),
        (5, "Sessions", 2.5, "sessions = sessionize(events)"),
    ]  # the cell that did not run (no duration) is left out
    sections = section_timings(rows, total=7.0)
    assert [(s["section"], s["cells"]) for s in sections] == [("Title", 3), ("Sessions", 1), (OVERHEAD_SECTION, 0)]
    assert abs(sections[0]["seconds"] - 4.03) < 1e-9 and abs(sections[-1]["seconds"] - 0.47) < 1e-9
    text = format_timings("nb", rows, 7.0)
    assert text.splitlines()[0] == "timings nb: 7.0 s"
    assert "Title  (slowest cell 3: events = load())" in text and "Sessions  (slowest cell 5:" in text


def test_report_run_with_timings_prints_sections_and_writes_the_table(tmp_path, monkeypatch):
    (tmp_path / "input.txt").write_text("signup\n")
    monkeypatch.chdir(tmp_path)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = reports.main(["ok_report", "--notebooks-dir", str(FIXTURES), "--output-dir", "out", "--timings"])
    assert code == 0, err.getvalue()
    assert "timings ok_report:" in err.getvalue()
    assert "Fixture report: overview & checks" in err.getvalue()
    with open(tmp_path / "out" / "timings.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["notebook"] for r in rows} == {"ok_report"}
    cells = [r for r in rows if r["cell"]]
    # every code cell of the fixture ran (the injected-parameters cell shares the parameters cell's number)
    assert sorted({int(r["cell"]) for r in cells}) == [2, 3, 4, 5, 6, 7]
    assert all(float(r["seconds"]) >= 0 for r in rows)
    assert rows[-1]["section"] == OVERHEAD_SECTION and rows[-1]["cell"] == ""


def test_report_run_without_timings_writes_no_table(tmp_path, monkeypatch):
    (tmp_path / "input.txt").write_text("signup\n")
    monkeypatch.chdir(tmp_path)
    with contextlib.redirect_stderr(io.StringIO()):
        code = reports.main(["ok_report", "--notebooks-dir", str(FIXTURES), "--output-dir", "out", "-q"])
    assert code == 0
    assert not (tmp_path / "out" / "timings.csv").exists()
