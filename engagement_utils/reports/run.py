"""Run the notebooks with papermill and write their reports into the folder.

One notebook failing, timing out or crashing its kernel does not stop the
others; its previous good report stays, and the index says so.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import papermill
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from papermill.exceptions import PapermillExecutionError
from tqdm import tqdm

from .config import (
    Job,
    default_exports_dir,
    fingerprint,
    inject_export_dir,
    input_files,
    load_params_file,
    notebook_title,
    plan,
    select_notebooks,
)
from .folder import (
    FAILED_DIR,
    folder_lock,
    format_time,
    relative_link,
    update_manifest,
    write_atomic,
    write_index,
)
from .failures import ANSI, locate_failure, running_cell, section_of, shorten, source_cell_index
from .render import key_number_blocks, parameter_value, redact_message, render_html
from .timings import TIMINGS_NAME, cell_timings, format_timings, write_timings

__all__ = [
    "DEFAULT_TIMEOUT",
    "KERNEL_NAME",
    "EXPORTS_README",
    "KernelSetupError",
    "NotebookResult",
    "RunSummary",
    "build_reports",
    "check_kernel",
]

KERNEL_NAME = "python3"
DEFAULT_TIMEOUT = 900
"""Seconds one cell may run before the notebook is stopped (``--timeout``)."""
EXPORTS_README = (
    "These files contain raw user ids (exports for marketing tools).\n"
    "Do not send them with the reports; the report folder never holds them.\n"
)



class KernelSetupError(RuntimeError):
    """The ``python3`` Jupyter kernel would not run this environment's Python."""


@dataclass
class NotebookResult:
    """Outcome of one notebook in a run.

    Attributes
    ----------
    name : str
        Notebook name (file stem), also the report's file stem.
    notebook : Path
        The source notebook.
    status : str
        ``"ok"`` or ``"failed"``.
    title : str
        The notebook's first ``# `` heading (or its name).
    parameters : dict
        Parameters passed to the notebook in this run (defaults not included).
    duration : float
        Seconds spent executing and rendering.
    html_path : Path or None
        The notebook's report; for a failure, the previous good report that
        was kept, if there is one.
    key_numbers : dict
        Label → value shown with ``show_key_numbers`` (successful runs).
    failed_cell : int or None
        1-based position of the failing cell in the source notebook
        (markdown cells count), when known.
    failed_cell_source : str or None
        The line of the failing cell that raised (else its first meaningful line).
    failed_section : str or None
        The nearest markdown heading above the failing cell.
    error_type, error_message : str or None
        Exception name and message of the failure.
    failed_notebook : Path or None
        Executed copy of a failed notebook, kept for debugging.
    built_at : str or None
        When this run started the notebook (UTC), shown in its header.
    fingerprint : str or None
        Hash of the parameters and the input files' paths, sizes and mtimes.
    inputs : list of dict
        The input files (:func:`engagement_utils.reports.config.input_files`).
    timings : list of dict
        Seconds of every executed cell, with its section
        (:func:`engagement_utils.reports.timings.cell_timings`); empty when nothing ran.
    """

    name: str
    notebook: Path
    status: str
    title: str
    parameters: dict[str, Any]
    duration: float
    html_path: Path | None = None
    key_numbers: dict[str, str] = field(default_factory=dict)
    failed_cell: int | None = None
    failed_cell_source: str | None = None
    failed_section: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    failed_notebook: Path | None = None
    built_at: str | None = None
    fingerprint: str | None = None
    inputs: list[dict[str, Any]] = field(default_factory=list)
    timings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the report was built."""
        return self.status == "ok"

    def failure_text(self, redact: bool = False) -> str:
        """One line saying where and why the notebook failed ("" when it did not).

        Parameters
        ----------
        redact : bool
            Hide values that may come from the data in the error message
            (:func:`~engagement_utils.reports.render.redact_message`), for pages.

        Examples
        --------
        >>> r = NotebookResult("nb", Path("nb.ipynb"), "failed", "NB", {}, 1.0, failed_cell=3,
        ...                    failed_cell_source="1 / 0", failed_section="Checks",
        ...                    error_type="ZeroDivisionError", error_message="division by zero")
        >>> r.failure_text()
        'cell 3 in section "Checks" (`1 / 0`) raised ZeroDivisionError: division by zero'
        """
        if self.ok:
            return ""
        message = redact_message(self.error_message or "") if redact else self.error_message
        error = f"{self.error_type}: {message}" if message else str(self.error_type)
        if self.failed_cell is None:
            return f"failed with {error}"
        section = f' in section "{self.failed_section}"' if self.failed_section else ""
        source = f" (`{self.failed_cell_source}`)" if self.failed_cell_source else ""
        verb = "did not finish:" if self.error_type == "CellTimeoutError" else "raised"
        return f"cell {self.failed_cell}{section}{source} {verb} {error}"

    def to_record(self, output_dir: Path) -> dict[str, Any]:
        """What the report folder remembers of this run (see :mod:`engagement_utils.reports.folder`)."""
        last_run = {"at": self.built_at, "status": self.status, "failure": None, "failed_notebook": None}
        if not self.ok:
            last_run["failure"] = self.failure_text(redact=True)
            if self.failed_notebook is not None:
                last_run["failed_notebook"] = relative_link(self.failed_notebook, output_dir)
        return {
            "name": self.name,
            "title": self.title,
            "notebook": str(self.notebook),
            "html": f"{self.name}.html",
            "built_at": self.built_at,
            "fingerprint": self.fingerprint,
            "sources": [f["path"] for f in self.inputs],
            "inputs": self.inputs,
            "parameters": {k: parameter_value(v) for k, v in self.parameters.items()},
            "key_numbers": self.key_numbers,
            "last_run": last_run,
        }


@dataclass
class RunSummary:
    """All results of one ``build_reports`` run, in the order the notebooks ran.

    Attributes
    ----------
    output_dir : Path
        Folder holding the reports.
    index_path : Path
        The folder's ``index.html``.
    results : list of NotebookResult
        One per notebook.
    exports_dir : Path or None
        Where notebooks were told to write files with user ids (when any declares it).
    warnings : list of str
        Things the run did that a reader of the folder should know.
    """

    output_dir: Path
    index_path: Path
    results: list[NotebookResult]
    exports_dir: Path | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every notebook's report was built."""
        return all(r.ok for r in self.results)

    @property
    def failed(self) -> list[NotebookResult]:
        """Results of the notebooks that failed."""
        return [r for r in self.results if not r.ok]


# ---------------------------------------------------------------- kernel


@contextlib.contextmanager
def _prefer_env_kernels() -> Iterator[None]:
    # A python3 kernelspec in ~/.local would otherwise shadow this environment's.
    previous = os.environ.get("JUPYTER_PREFER_ENV_PATH")
    os.environ["JUPYTER_PREFER_ENV_PATH"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("JUPYTER_PREFER_ENV_PATH", None)
        else:
            os.environ["JUPYTER_PREFER_ENV_PATH"] = previous


def check_kernel(kernel_name: str = KERNEL_NAME) -> str:
    """Check that the Jupyter kernel runs the current Python environment.

    Notebooks executed by another interpreter would use other package
    versions (or miss ``engagement_utils``), so this fails early instead.

    Parameters
    ----------
    kernel_name : str
        Kernelspec name; the notebooks are saved with ``python3``.

    Returns
    -------
    str
        The interpreter the kernel will run.

    Raises
    ------
    KernelSetupError
        With the command that installs the right kernelspec.

    Examples
    --------
    Usage (it reads the Jupyter setup, so it is not a doctest)::

        check_kernel()
        '/work/main/.venv/bin/python'
    """
    fix = (
        f"install this environment's kernel with:\n    {sys.executable} -m ipykernel install "
        f"--sys-prefix --name {kernel_name}\n(`make venv` does this)"
    )
    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise KernelSetupError(f"no Jupyter kernel named {kernel_name!r}; {fix}") from None
    program = spec.argv[0] if spec.argv else ""
    major, minor = sys.version_info[:2]
    if program in {"python", f"python{major}", f"python{major}.{minor}"}:
        # jupyter_client launches these names with sys.executable
        return sys.executable
    # abspath, not realpath: every venv's python links to the same base interpreter
    executable = os.path.abspath(program)
    prefix = os.path.abspath(sys.prefix)
    if executable == os.path.abspath(sys.executable) or executable.startswith(prefix + os.sep):
        return executable
    raise KernelSetupError(
        f"the Jupyter kernel {kernel_name!r} ({spec.resource_dir}) runs {program!r}, not this "
        f"environment's Python ({sys.executable}); {fix}"
    )


def _record_failure(result: NotebookResult, job: Job, executed_index: int, source: str,
                    traceback: Sequence[str] = ()) -> None:
    index = source_cell_index(executed_index, job)
    result.failed_cell = index + 1
    result.failed_section = section_of(job, index)
    result.failed_cell_source = locate_failure(source, traceback)


# ---------------------------------------------------------------- running


KERNEL_START_FAILURE = "Kernel died before replying to kernel_info"
KERNEL_START_ATTEMPTS = 3


def _execute_with_kernel_retry(*args, **kwargs):
    """``papermill.execute_notebook``, started again when the kernel dies before running any cell.

    jupyter_client picks free TCP ports by binding and releasing them, so a kernel started
    at the same moment by another process can take one first ("Address already in use").
    Nothing has run then, so starting again is safe; any later failure is reported as is.
    """
    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        try:
            return papermill.execute_notebook(*args, **kwargs)
        except RuntimeError as exc:
            if KERNEL_START_FAILURE not in str(exc) or attempt == KERNEL_START_ATTEMPTS:
                raise


def _run_one(job: Job, workdir: Path, output_dir: Path, cwd: Path, cell_progress: bool,
             timeout: float | None) -> NotebookResult:
    started = time.perf_counter()
    html_path = output_dir / f"{job.name}.html"
    failed_copy = output_dir / FAILED_DIR / f"{job.name}.ipynb"
    executed_path = workdir / f"{job.name}.ipynb"
    inputs = input_files(job, cwd)
    result = NotebookResult(
        name=job.name, notebook=job.path, status="failed", title=notebook_title(job.source, job.name),
        parameters=dict(job.parameters), duration=0.0, built_at=format_time(),
        fingerprint=fingerprint(job.effective_parameters(), inputs), inputs=inputs,
    )
    try:
        executed = _execute_with_kernel_retry(
            str(job.path),
            str(executed_path),
            parameters=job.parameters,
            kernel_name=KERNEL_NAME,
            cwd=str(cwd),
            progress_bar=cell_progress,
            execution_timeout=timeout,
            # The kernel's own log (unencrypted local TCP on every start, the interrupt
            # nbclient sends after a failing cell) is noise next to our failure report.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
        page = render_html(executed, name=job.name, parameters=job.parameters, declared=job.declared,
                           built_at=result.built_at, fingerprint=result.fingerprint,
                           sources=[f["path"] for f in inputs])
        write_atomic(html_path, page)
    except PapermillExecutionError as exc:
        _record_failure(result, job, exc.cell_index, exc.source, exc.traceback or ())
        result.error_type = exc.ename
        result.error_message = ANSI.sub("", exc.evalue)
    except Exception as exc:  # a timeout, a dead kernel or a broken output must not stop the other reports
        result.error_type = type(exc).__name__
        result.error_message = shorten(ANSI.sub("", str(exc)), limit=300)
        running = running_cell(executed_path) if result.error_type in ("CellTimeoutError", "DeadKernelError") else None
        if running is not None:
            executed = nbformat.read(executed_path, as_version=4)
            _record_failure(result, job, running, executed.cells[running].source)
        if result.error_type == "CellTimeoutError":
            result.error_message = f"still running after {timeout:g} s (raise --timeout for this notebook)"
        elif result.error_type == "DeadKernelError":
            result.error_message = "the kernel died (out of memory, or a crash in a compiled library)"
    else:
        result.status = "ok"
        result.html_path = html_path
        result.timings = cell_timings(executed, job)
        result.key_numbers = {k: v for _, block in key_number_blocks(executed) for k, v in block.items()}
        with contextlib.suppress(FileNotFoundError):
            failed_copy.unlink()  # a stale copy from an earlier failure would mislead
    if not result.ok:
        result.html_path = html_path if html_path.exists() else None
        if executed_path.exists():
            with contextlib.suppress(Exception):  # a partial copy has no timings to give
                result.timings = cell_timings(nbformat.read(executed_path, as_version=4), job)
            write_atomic(failed_copy, executed_path.read_bytes())
            result.failed_notebook = failed_copy
    result.duration = time.perf_counter() - started
    return result


def _failure_report(result: NotebookResult) -> str:
    lines = [f"FAILED {result.name}: {result.failure_text()}"]
    lines.append(
        f"  previous report kept: {result.html_path}"
        if result.html_path is not None
        else "  no report written for it"
    )
    if result.failed_notebook is not None:
        lines.append(f"  executed notebook (open it to debug): {result.failed_notebook}")
    return "\n".join(lines)


def _prepare_exports(exports_dir: Path) -> None:
    exports_dir.mkdir(parents=True, exist_ok=True)
    readme = exports_dir / "README.txt"
    if not readme.exists():
        write_atomic(readme, EXPORTS_README)


def build_reports(
    notebooks: Sequence[str | os.PathLike] | None = None,
    *,
    notebooks_dir: str | os.PathLike = "notebooks",
    output_dir: str | os.PathLike | None = None,
    parameters: Mapping[str, Any] | None = None,
    params_file: str | os.PathLike | None = None,
    progress: bool = True,
    timeout: float | None = DEFAULT_TIMEOUT,
    exports_dir: str | os.PathLike | None = None,
    timings: bool = False,
) -> RunSummary:
    """Execute notebooks with parameters and write their HTML reports and the folder's index.

    Parameters
    ----------
    notebooks : sequence of str or PathLike, optional
        Names (``"00_data_overview"``) or paths; default: the params file's
        ``notebooks``, else every ``*.ipynb`` in ``notebooks_dir`` by name.
    notebooks_dir : str or PathLike
        Where names are looked up.
    output_dir : str or PathLike, optional
        Report folder; default: the params file's ``output_dir``, else ``reports``.
    parameters : mapping, optional
        JSON-like values for every selected notebook that declares the name;
        they override the params file.
    params_file : str or PathLike, optional
        YAML file, format in :mod:`engagement_utils.reports`.
    progress : bool
        Progress bars (notebooks, and cells of the running notebook) on a
        terminal outside CI, one line per notebook otherwise.  Failures are
        always reported on stderr.
    timeout : float or None
        Seconds a cell may run before its notebook is stopped and reported
        failed at that cell; None waits forever.
    exports_dir : str or PathLike, optional
        Folder for files with user ids, given to notebooks that declare
        ``export_dir`` (default :func:`~engagement_utils.reports.config.default_exports_dir`).
    timings : bool
        Print each notebook's seconds per section on stderr and write every executed
        cell's seconds to ``<output_dir>/timings.csv`` (:mod:`engagement_utils.reports.timings`).

    Returns
    -------
    RunSummary
        One result per notebook; check ``summary.ok``.

    Raises
    ------
    UsageError
        Before anything runs: unknown notebook or parameter name, bad file.
    KernelSetupError
        If the ``python3`` kernel would not run this Python environment.
    FolderLockedError
        If another run is writing into the same report folder.

    Examples
    --------
    Usage (it runs notebooks, so it is not a doctest)::

        summary = build_reports(["01_cohort_retention"], parameters={"period": "month"},
                                output_dir="reports/monthly")
        [(r.name, r.status) for r in summary.results]
        [('01_cohort_retention', 'ok')]
    """
    config = (
        load_params_file(params_file)
        if params_file is not None
        else {"output_dir": None, "notebooks": None, "parameters": {}, "notebook_parameters": {}}
    )
    notebooks_dir = Path(notebooks_dir)
    out = Path(output_dir if output_dir is not None else config["output_dir"] or "reports")
    if isinstance(notebooks, (str, os.PathLike)):
        notebooks = [notebooks]
    selection = list(notebooks) if notebooks else config["notebooks"]
    paths = select_notebooks(selection, notebooks_dir)
    jobs = plan(paths, notebooks_dir, config["parameters"], config["notebook_parameters"], dict(parameters or {}))
    exports = Path(exports_dir) if exports_dir is not None else default_exports_dir(out)
    warnings = inject_export_dir(jobs, exports, out)
    uses_exports = any(str(v).startswith(str(exports)) for job in jobs for v in job.parameters.values())

    cwd = Path.cwd()
    on_terminal = sys.stderr.isatty() and not os.environ.get("CI")
    results: list[NotebookResult] = []
    with _prefer_env_kernels():
        check_kernel()
        with folder_lock(out), tempfile.TemporaryDirectory(prefix="engagement-report-") as workdir:
            if uses_exports:
                _prepare_exports(exports)
            run_at = format_time()
            for warning in warnings:
                tqdm.write(f"warning: {warning}", file=sys.stderr)
            bar = tqdm(jobs, desc="reports", unit="notebook", file=sys.stderr,
                       disable=not (progress and on_terminal))
            for position, job in enumerate(bar, start=1):
                bar.set_postfix_str(job.name)
                if progress and not on_terminal:
                    print(f"running {job.name} ({position} of {len(jobs)})", file=sys.stderr, flush=True)
                result = _run_one(job, Path(workdir), out, cwd, cell_progress=progress and on_terminal,
                                  timeout=timeout)
                results.append(result)
                if not result.ok:
                    tqdm.write(_failure_report(result), file=sys.stderr)
                elif progress:
                    tqdm.write(f"ok     {job.name} ({result.duration:.1f} s) -> {result.html_path}", file=sys.stderr)
                if timings:
                    tqdm.write(format_timings(job.name, result.timings, result.duration), file=sys.stderr)
            bar.close()
            if timings:
                write_timings(out / TIMINGS_NAME, results)
            update_manifest(out, [r.to_record(out) for r in results])
            index_path = write_index(out, [r.name for r in results], run_at, cwd)
    return RunSummary(output_dir=out, index_path=index_path, results=results,
                      exports_dir=exports if uses_exports else None, warnings=warnings)
