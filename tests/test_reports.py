"""Report runner: parameter checks, offline HTML, index, failure handling.

The tests in the "end to end" section start real kernels (a few seconds
each); select them with ``-k end_to_end`` or skip them with ``-k "not end_to_end"``.
"""

from __future__ import annotations

import contextlib
import io
import re
import types
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from engagement_utils import reports
from engagement_utils.display import KEY_NUMBERS_METADATA
from htmlcheck import TIMESTAMP, index_rows, live_markup, sans_timestamps

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
NETWORK_REF = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//", re.IGNORECASE)


def run_main(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = reports.main(argv)
    return code, err.getvalue()


# ---------------------------------------------------------------- usage errors (no kernel)


def test_unknown_parameter_is_rejected_with_valid_names(tmp_path):
    out = tmp_path / "out"
    code, err = run_main(["ok_report", "--notebooks-dir", str(FIXTURES), "-p", "lable", "x", "--output-dir", str(out)])
    assert code == 2
    assert "'lable'" in err and "did you mean 'label'" in err
    assert "valid names: data_path, label, repeat" in err
    assert not out.exists()  # nothing ran


def test_notebook_specific_parameter_must_be_declared_by_that_notebook(tmp_path):
    params = tmp_path / "p.yml"
    params.write_text("notebook_parameters:\n  broken: {repeat: 3}\n")
    code, err = run_main(["--notebooks-dir", str(FIXTURES), "--params", str(params), "--output-dir", str(tmp_path / "o")])
    assert code == 2
    assert "notebook 'broken' has no parameter 'repeat'" in err and "its parameters are: label" in err


def test_unknown_notebook_names_are_rejected_with_a_suggestion(tmp_path):
    code, err = run_main(["ok_reprt", "--notebooks-dir", str(FIXTURES), "--output-dir", str(tmp_path)])
    assert code == 2 and "did you mean 'ok_report'" in err and "broken, ok_report" in err

    params = tmp_path / "p.yml"
    params.write_text("notebook_parameters:\n  ok_reprt: {repeat: 3}\n")
    code, err = run_main(["--notebooks-dir", str(FIXTURES), "--params", str(params), "--output-dir", str(tmp_path)])
    assert code == 2 and "no notebook named 'ok_reprt'" in err


def test_params_file_keeps_dates_as_text_and_checks_keys(tmp_path):
    good = tmp_path / "good.yml"
    good.write_text(
        "output_dir: reports/x\nnotebooks: [a]\n"
        "parameters: {start: 2024-01-31, when: 2024-01-31 10:00, n: 3, flag: yes}\n"
        "notebook_parameters:\n  a: {period: month}\n"
    )
    config = reports.load_params_file(good)
    assert config["parameters"] == {"start": "2024-01-31", "when": "2024-01-31 10:00", "n": 3, "flag": True}
    assert config["notebook_parameters"] == {"a": {"period": "month"}}
    assert config["output_dir"] == "reports/x" and config["notebooks"] == ["a"]

    bad = tmp_path / "bad.yml"
    bad.write_text("notebook: [a]\nparameters: [1, 2]\nnotebook_parameters:\n  a: {on: 1}\n")
    with pytest.raises(reports.UsageError) as info:
        reports.load_params_file(bad)
    assert "unknown key 'notebook' (did you mean 'notebooks'?)" in str(info.value)
    assert "parameters must be a mapping" in str(info.value)
    assert "name True is not text" in str(info.value) and "quote it" in str(info.value)
    with pytest.raises(reports.UsageError, match="not found"):
        reports.load_params_file(tmp_path / "missing.yml")
    (tmp_path / "broken.yml").write_text("parameters: {a: [1\n")
    with pytest.raises(reports.UsageError, match="not valid YAML"):
        reports.load_params_file(tmp_path / "broken.yml")


@pytest.mark.parametrize(
    "text, expected",
    [("010", "010"), ("10", 10), ("-3", -3), ("0.5", 0.5), ("1.50", "1.50"), ("true", True),
     ("False", False), ("None", None), ("2024-01-31", "2024-01-31"), ("nan", "nan"),
     ('{"a": 1}', {"a": 1}), ("[1, 2]", [1, 2]), ("[not json", "[not json"), ("data/x.parquet", "data/x.parquet")],
)
def test_cli_values_only_become_numbers_when_nothing_is_lost(text, expected):
    assert reports.parse_cli_value(text) == expected


def test_non_json_values_are_rejected_before_running(tmp_path):
    with pytest.raises(reports.UsageError, match="PosixPath values cannot be passed"):
        reports.build_reports(["ok_report"], notebooks_dir=FIXTURES, output_dir=tmp_path,
                              parameters={"data_path": Path("x")})


def test_shared_parameter_goes_only_to_the_selected_notebooks_that_declare_it(tmp_path):
    """A shared key declared by one selected notebook is not rejected for the others (issue 12: `dataset`)."""
    from engagement_utils.reports.config import plan

    paths = [FIXTURES / "ok_report.ipynb", FIXTURES / "broken.ipynb"]
    jobs = {job.name: job for job in plan(paths, FIXTURES, {"repeat": 2, "label": "x"}, {}, {})}
    assert jobs["ok_report"].parameters == {"repeat": 2, "label": "x"}
    assert jobs["broken"].parameters == {"label": "x"}  # 'repeat' is not declared there: left out, not an error
    with pytest.raises(reports.UsageError, match="parameter 'repeat' is not declared by any selected notebook"):
        plan([FIXTURES / "broken.ipynb"], FIXTURES, {"repeat": 2}, {}, {})  # nobody selected declares it
    params = tmp_path / "p.yml"
    params.write_text("parameters: {repeat: 2}\n")
    code, err = run_main(["broken", "--notebooks-dir", str(FIXTURES), "--params", str(params), "--output-dir", str(tmp_path / "o")])
    assert code == 2 and "'repeat' is not declared by any selected notebook (broken)" in err


def test_list_shows_notebooks_and_parameters(capsys):
    assert reports.main(["--notebooks-dir", str(FIXTURES), "--list"]) == 0
    out = capsys.readouterr().out
    assert "ok_report" in out and "Fixture report: overview & checks" in out
    assert 'data_path = "input.txt"' in out and "broken" in out


# ---------------------------------------------------------------- kernel check


def fake_kernelspecs(monkeypatch, argv0: str) -> None:
    spec = types.SimpleNamespace(argv=[argv0, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                 resource_dir="/elsewhere/share/jupyter/kernels/python3")
    manager = types.SimpleNamespace(get_kernel_spec=lambda name: spec)
    monkeypatch.setattr(reports.run, "KernelSpecManager", lambda: manager)


def test_kernel_from_another_environment_is_refused(monkeypatch, tmp_path):
    fake_kernelspecs(monkeypatch, "/opt/other-env/bin/python")
    with pytest.raises(reports.KernelSetupError) as info:
        reports.check_kernel()
    assert "/opt/other-env/bin/python" in str(info.value)
    assert "-m ipykernel install --sys-prefix --name python3" in str(info.value)

    code, err = run_main(["ok_report", "--notebooks-dir", str(FIXTURES), "--output-dir", str(tmp_path / "o")])
    assert code == 2 and "ipykernel install" in err
    assert not (tmp_path / "o" / "ok_report.html").exists()


@pytest.mark.parametrize("argv0", ["python", "python3"])
def test_bare_python_kernel_runs_this_interpreter(monkeypatch, argv0):
    import sys

    fake_kernelspecs(monkeypatch, argv0)
    assert reports.check_kernel() == sys.executable


def test_installed_kernel_of_this_environment_is_accepted():
    assert reports.check_kernel()


# ---------------------------------------------------------------- HTML rendering (no kernel)


def executed_notebook(extra_outputs=()) -> nbformat.NotebookNode:
    params = new_code_cell('tz = "UTC"')
    params.metadata["tags"] = ["parameters"]
    injected = new_code_cell('tz = "Europe/Berlin"')
    injected.metadata["tags"] = ["injected-parameters"]
    key = new_code_cell("show_key_numbers(...)", outputs=[
        new_output("display_data", data={"text/html": "<b>inline block</b>", "text/plain": "x"},
                   metadata={KEY_NUMBERS_METADATA: {"Users": "1,234", "<b>": "<i>"}})])
    chart = new_code_cell("plt.show()", outputs=[
        new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}),
        new_output("stream", name="stderr", text="UserWarning: noisy\n"),
        *extra_outputs])
    hidden = new_code_cell("print('debug')", outputs=[new_output("stream", name="stdout", text="DEBUG OUTPUT\n")])
    hidden.metadata["tags"] = ["remove-output"]
    return new_notebook(cells=[new_markdown_cell("# Retention <by cohort>\n\ntext"), params, injected, key, chart, hidden])


def test_render_html_hides_code_and_plumbing_and_embeds_figures():
    page = reports.render_html(executed_notebook(), name="01_retention",
                               parameters={"tz": "Europe/Berlin"},
                               declared={"tz": {"default": '"UTC"'}, "period": {"default": '"week"'}})
    assert "show_key_numbers(...)" not in page and "plt.show()" not in page
    assert "UserWarning" not in page and "DEBUG OUTPUT" not in page
    assert "inline block" not in page  # key numbers move to the header
    assert "1,234" in page and "&lt;b&gt;" in page and "<b>:" not in page
    assert "data:image/png;base64,iVBORw0KGgo=" in page
    assert "<title>Retention &lt;by cohort&gt;</title>" in page
    assert '<code>"Europe/Berlin"</code>' in page and "set for this run" in page and '<code>"week"</code>' in page
    assert not NETWORK_REF.search(page) and not reports.remote_resources(page)
    assert "mathjax" not in page.lower() and "require.js" not in page.lower()


def test_render_html_drops_the_headings_of_sections_the_run_skipped():
    def section(title, *names):
        cell = new_markdown_cell(f"## {title}\n\nWhat {title} shows.")
        cell.metadata["tags"] = [f"section:{name}" for name in names]
        return cell

    key = new_code_cell("show_key_numbers(...)", outputs=[new_output(
        "display_data", data={"text/plain": "x"},
        metadata={KEY_NUMBERS_METADATA: {"Experiment": "none", "Skipped sections": "A/B test (needs an experiment)"}})])
    nb = new_notebook(cells=[new_markdown_cell("# Test report"), key, section("Verdict", "A/B test"),
                             section("Paths", "Paths"), section("Costs and power", "A/B test", "Power"),
                             new_markdown_cell("## Methods")])
    text = BeautifulSoup(reports.render_html(nb, name="03"), "html.parser").get_text(" ")
    assert "Verdict" not in text and "What Verdict shows" not in text
    assert "What Paths shows" in text and "Methods" in text  # not skipped, or not tagged
    assert "What Costs and power shows" in text  # one of its two sections is still shown


def test_render_html_is_reproducible_despite_random_cell_ids():
    first, second = executed_notebook(), executed_notebook()
    assert [c.id for c in first.cells] != [c.id for c in second.cells]
    assert reports.render_html(first, name="nb") == reports.render_html(second, name="nb")


def test_render_html_refuses_outputs_that_load_from_the_network():
    remote = new_output("display_data", data={"text/html": '<script src="https://cdn.plot.ly/plotly.js"></script>'})
    with pytest.raises(ValueError, match="from the network.*remove-output"):
        reports.render_html(executed_notebook([remote]), name="nb")


def test_index_escapes_everything_from_data():
    ok = reports.IndexEntry("nb<1>", "T <x>", "ok", href="nb%3C1%3E.html", parameters={"event": '"<script>"'},
                            key_numbers={"<k>": "<v>"}, sources=["<img src=x onerror=alert(1)>.csv"])
    failed = reports.IndexEntry("bad", "Bad", "failed", note="no earlier report",
                                failure="latest run failed at cell 2 (`raise X('<y>')`) raised X: <y>")
    page = reports.render_index([ok, failed])
    assert "<script>" not in page and "<x>" not in page and "<k>" not in page and "<y>" not in page
    assert "<img" not in page
    assert 'href="nb%3C1%3E.html"' in page
    assert "cell 2" in page and "no earlier report" in page and "1 of 2 reports built by the latest run, 1 failed" in page


def test_index_lists_skipped_sections_as_plain_text_not_a_bold_figure():
    entry = reports.IndexEntry("nb", "T", "ok", href="nb.html",
                               key_numbers={"Users": "600", "Skipped sections": "Funnel (needs <b>steps</b>)"})
    soup = BeautifulSoup(reports.render_index([entry]), "html.parser")
    items = {li.get_text().split(":")[0]: li for li in soup.find_all("li")}
    assert items["Users"].find("strong").get_text() == "600"
    assert items["Skipped sections"].find("strong") is None
    assert items["Skipped sections"].find("small").get_text() == "Funnel (needs <b>steps</b>)"  # escaped text


# ---------------------------------------------------------------- end to end (runs kernels)


@dataclass
class Run:
    code: int
    stderr: str
    out: Path
    previous_good: bytes


@pytest.fixture(scope="module")
def end_to_end_run(tmp_path_factory) -> Run:
    """Both fixture notebooks in one run: ok_report succeeds, broken fails in cell 5."""
    work = tmp_path_factory.mktemp("report-run")
    (work / "input.txt").write_text("signup&login <b>bold</b>\n")
    out = work / "out"
    out.mkdir()
    previous_good = b"<html><body>previous good report</body></html>\n"
    (out / "broken.html").write_bytes(previous_good)
    (work / "run.yml").write_text(
        "output_dir: ignored-because-of-cli\n"
        "parameters:\n  label: from-yaml\n"
        "notebook_parameters:\n  ok_report: {repeat: 3}\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)  # data_path="input.txt" resolves from here
        code, err = run_main(["--notebooks-dir", str(FIXTURES), "--params", "run.yml",
                              "-p", "label", "010", "--output-dir", "out"])
    return Run(code, err, out, previous_good)


def test_end_to_end_failure_exits_1_and_names_notebook_and_cell(end_to_end_run):
    assert end_to_end_run.code == 1
    err = end_to_end_run.stderr
    assert "FAILED broken: cell 5" in err
    assert 'raise ValueError("fixture failure for " + label)' in err
    assert "ValueError: fixture failure for 010" in err
    assert "1 of 2 report(s) built" in err


def test_end_to_end_previous_good_report_is_untouched(end_to_end_run):
    assert (end_to_end_run.out / "broken.html").read_bytes() == end_to_end_run.previous_good
    assert not list(end_to_end_run.out.glob(".*.tmp"))


def test_end_to_end_failed_notebook_is_kept_for_debugging(end_to_end_run):
    failed = nbformat.read(end_to_end_run.out / "_failed" / "broken.ipynb", as_version=4)
    # global parameters only reach notebooks that declare them
    assert failed.metadata.papermill.parameters == {"label": "010"}
    assert any(o.output_type == "error" for c in failed.cells for o in c.get("outputs", []))


def test_end_to_end_report_is_self_contained_without_code(end_to_end_run):
    page = (end_to_end_run.out / "ok_report.html").read_text(encoding="utf-8")
    assert "Fixture report: overview &amp; checks" in page
    # key numbers from the output metadata, with the run's parameters
    assert ">010<" in page and "3,000" in page
    assert "signup&amp;login &lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "SOURCE_MARKER_NOT_IN_REPORT" not in page and "check_parameters" not in page
    assert "Traceback" not in page and "stderr noise" not in page
    assert "stdout line shown" in page
    assert "data:image/png;base64," in page
    assert not NETWORK_REF.search(page) and not reports.remote_resources(page)


def test_end_to_end_index_lists_every_report(end_to_end_run):
    page = (end_to_end_run.out / "index.html").read_text(encoding="utf-8")
    rows = index_rows(page)
    ok, broken = rows["ok_report"], rows["broken"]
    assert ok["link"] == "ok_report.html" and ok["Report"].startswith("Fixture report: overview & checks")
    assert ok["Status"] == "built in the latest run"
    assert "3,000" in ok["Key numbers"] and 'label = "010"' in ok["Parameters"] and "repeat = 3" in ok["Parameters"]
    assert "input.txt" in ok["Data and fingerprint"] and re.search(r"fingerprint [0-9a-f]{12}", ok["Data and fingerprint"])
    assert TIMESTAMP.fullmatch(ok["Built"])
    # the previous good report was not built by this folder's records: it is kept, with its file time
    assert broken["link"] == "broken.html" and broken["Status"].startswith("kept from ")
    assert 'latest run' in broken["Status"] and 'failed at cell 5 in section "Broken fixture"' in broken["Status"]
    assert "raised ValueError: fixture failure for" in broken["Status"]
    assert "010" not in broken["Status"]  # values in error messages may be data: hidden in pages, shown on stderr
    assert "executed notebook: _failed/broken.ipynb" in broken["Status"]
    assert not live_markup(page) and not NETWORK_REF.search(page)


def test_end_to_end_nothing_written_next_to_the_notebooks(end_to_end_run):
    assert sorted(p.name for p in FIXTURES.iterdir()) == ["broken.ipynb", "ok_report.ipynb"]


# ---------------------------------------------------------------- the folder tells the truth (runs kernels)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A project-like folder (relative data_path) the runs start from."""
    (tmp_path / "input.txt").write_text("signup\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_fixtures(*args: str) -> tuple[int, str]:
    return run_main(["--notebooks-dir", str(FIXTURES), "--output-dir", "out", "-q", *args])


def index_of(folder: Path) -> dict[str, dict[str, str]]:
    return index_rows((folder / "index.html").read_text(encoding="utf-8"))


def test_end_to_end_subset_run_keeps_the_other_reports_listed(workdir):
    out = workdir / "out"
    code, _ = run_fixtures("ok_report", "broken", "-p", "label", "first")
    assert code == 1
    first = index_of(out)
    # subset run: only ok_report runs; broken (failed before, no report) is not invented,
    # ok_report's earlier run is replaced by this one
    code, _ = run_fixtures("ok_report", "-p", "label", "second")
    assert code == 0
    rows = index_of(out)
    assert list(rows) == ["ok_report"]  # broken never produced a report: nothing to list
    assert rows["ok_report"]["Status"] == "built in the latest run" and "second" in rows["ok_report"]["Key numbers"]
    assert rows["ok_report"]["Built"] >= first["ok_report"]["Built"]

    # a second notebook's report exists now; a later subset run of the other one keeps it listed
    code, _ = run_fixtures("broken", "-p", "label", "again")
    assert code == 1
    rows = index_of(out)
    assert list(rows) == ["broken", "ok_report"]
    assert rows["ok_report"]["Status"] == "from an earlier run" and rows["ok_report"]["link"] == "ok_report.html"
    assert "second" in rows["ok_report"]["Key numbers"]
    assert rows["broken"]["Status"].startswith("failed") and "no earlier report" in rows["broken"]["Status"]

    # inputs of the earlier report change: it is marked stale, naming the file
    (workdir / "input.txt").write_text("signup, changed\n")
    code, _ = run_fixtures("broken")
    rows = index_of(out)
    assert rows["ok_report"]["Status"].startswith("from an earlier run, stale")
    assert "inputs changed since it was built: input.txt" in rows["ok_report"]["Status"]


def test_end_to_end_report_files_without_records_are_listed(workdir):
    out = workdir / "out"
    out.mkdir()
    (out / "old_analysis.html").write_text("<html><body>made by an older runner</body></html>")
    code, _ = run_fixtures("ok_report")
    assert code == 0
    rows = index_of(out)
    assert rows["old_analysis"]["Status"].startswith("from an earlier run (no record)")
    assert rows["old_analysis"]["link"] == "old_analysis.html" and "(file time)" in rows["old_analysis"]["Built"]


def test_end_to_end_failed_then_kept_says_which_report_is_kept(workdir):
    out = workdir / "out"
    assert run_fixtures("ok_report", "-p", "label", "good")[0] == 0
    good = (out / "ok_report.html").read_bytes()
    built = index_of(out)["ok_report"]["Built"]

    code, err = run_fixtures("ok_report", "-p", "data_path", "missing.txt")
    assert code == 1 and "FAILED ok_report: cell 3" in err
    assert (out / "ok_report.html").read_bytes() == good
    row = index_of(out)["ok_report"]
    assert row["link"] == "ok_report.html" and row["Built"] == built
    assert row["Status"].startswith(f"kept from {built}")
    assert "latest run (" in row["Status"] and "failed at cell 3" in row["Status"]
    assert "(`p = check_parameters(" in row["Status"]  # the line that raised, not the first import
    assert "good" in row["Key numbers"]  # the numbers of the kept report, not of the failed run
    assert "executed notebook: _failed/ok_report.ipynb" in row["Status"]

    # the next good run replaces it and removes the stale executed copy
    assert run_fixtures("ok_report")[0] == 0
    row = index_of(out)["ok_report"]
    assert row["Status"] == "built in the latest run" and not (out / "_failed" / "ok_report.ipynb").exists()


def test_end_to_end_failure_message_with_a_user_id_does_not_reach_the_index(workdir):
    out = workdir / "out"
    code, err = run_fixtures("broken", "-p", "label", "user u004217 in two variants")
    assert code == 1 and "u004217" in err  # the terminal shows everything
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "u004217" not in page and "fixture failure for user … in two variants" in index_of(out)["broken"]["Status"]
    assert "u004217" not in (out / ".engagement-reports.json").read_text(encoding="utf-8")


def test_concurrent_run_refuses_with_the_lock_and_its_pid(workdir):
    import os

    out = workdir / "out"
    assert run_fixtures("ok_report")[0] == 0
    before = (out / "index.html").read_bytes()
    lock = out / ".engagement-report.lock"
    lock.write_text(f'{{"pid": {os.getpid()}, "host": "{__import__("socket").gethostname()}", "started": "2024-05-01 10:00:00 UTC"}}')
    code, err = run_fixtures("ok_report")
    assert code == 3
    assert str(lock) in err and f"pid {os.getpid()}" in err and "started 2024-05-01 10:00:00 UTC" in err
    assert (out / "index.html").read_bytes() == before and lock.exists()  # nothing touched, lock left to its owner

    # a lock left behind by a process that no longer exists is taken over
    lock.write_text('{"pid": 999999999, "host": "%s"}' % __import__("socket").gethostname())
    assert run_fixtures("ok_report")[0] == 0 and not lock.exists()


def test_report_header_shows_build_time_and_fingerprint_and_is_otherwise_reproducible(workdir):
    out = workdir / "out"
    assert run_fixtures("ok_report")[0] == 0
    first = (out / "ok_report.html").read_text(encoding="utf-8")
    assert run_fixtures("ok_report")[0] == 0
    second = (out / "ok_report.html").read_text(encoding="utf-8")
    header = BeautifulSoup(second, "html.parser").find("header").get_text(" ", strip=True)
    assert re.search(r"Built \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC · inputs fingerprint [0-9a-f]{12} · data: input.txt", header)
    assert sans_timestamps(first) == sans_timestamps(second)
    fingerprint = re.search(r"fingerprint ([0-9a-f]{12})", header).group(1)
    assert fingerprint in index_of(out)["ok_report"]["Data and fingerprint"]


def test_end_to_end_timeout_names_the_cell_and_its_section(workdir):
    slow = FIXTURES.parent / "slow"
    code, err = run_main(["--notebooks-dir", str(slow), "--output-dir", "out", "-q", "--timeout", "3"])
    assert code == 1
    assert 'FAILED slow: cell 5 in section "Waiting" (`time.sleep(seconds)`) did not finish: CellTimeoutError' in err
    assert "still running after 3 s (raise --timeout" in err
    row = index_of(workdir / "out")["slow"]
    assert row["Status"].startswith("failed") and 'cell 5 in section "Waiting"' in row["Status"]


def test_failing_line_is_the_raising_one_not_the_setup_import():
    from engagement_utils.reports.failures import locate_failure

    setup = ("from engagement_utils.notebook import setup_notebook\n\nsetup_notebook()\n\nimport pandas as pd\n"
             "events = load_source(p.events_path)\n")
    assert locate_failure(setup) == "events = load_source(p.events_path)"
    traceback = ["\x1b[0;31mValueError\x1b[0m  Traceback", "Cell \x1b[0;32mIn[3], line 6\x1b[0m", "----> 6 events"]
    assert locate_failure(setup, traceback) == "events = load_source(p.events_path)"


def test_a_kernel_that_dies_at_start_up_is_started_again(monkeypatch):
    # Another process can take the port a kernel picked; nothing ran, so the runner starts it again.
    calls = []

    def flaky(*args, **kwargs):
        calls.append(args)
        if len(calls) < 3:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return "executed"

    monkeypatch.setattr(reports.run.papermill, "execute_notebook", flaky)
    assert reports.run._execute_with_kernel_retry("nb.ipynb") == "executed" and len(calls) == 3


def test_a_kernel_that_keeps_dying_or_fails_otherwise_is_reported(monkeypatch):
    def dead(*args, **kwargs):
        raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(reports.run.papermill, "execute_notebook", dead)
    with pytest.raises(RuntimeError, match="kernel_info"):
        reports.run._execute_with_kernel_retry("nb.ipynb")
    calls = []

    def other(*args, **kwargs):
        calls.append(args)
        raise RuntimeError("some other failure")

    monkeypatch.setattr(reports.run.papermill, "execute_notebook", other)
    with pytest.raises(RuntimeError, match="other failure"):
        reports.run._execute_with_kernel_retry("nb.ipynb")
    assert len(calls) == 1
