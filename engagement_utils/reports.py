"""Build self-contained HTML reports from the notebooks (``engagement-report``).

Each selected notebook is executed with papermill, converted by nbconvert
into one HTML file (code hidden, figures embedded, nothing loaded from the
network) and listed in ``<output_dir>/index.html``.

Usage::

    engagement-report                                  # every notebooks/*.ipynb
    engagement-report 01_cohort_retention -p period month
    engagement-report --params reports/params/online_retail.yml
    engagement-report --list                           # notebooks and their parameters

Parameter file (YAML)::

    output_dir: reports/online_retail   # optional; --output-dir wins
    notebooks: [00_data_overview, 01_cohort_retention]   # optional selection
    parameters:             # given to every selected notebook that declares the name
      events_path: data/online_retail/events.parquet
      tz: Europe/London
    notebook_parameters:    # for one notebook only
      01_cohort_retention: {period: month}

Parameters
----------
Precedence, later wins: the notebook's defaults, ``parameters``,
``notebook_parameters``, then ``-p NAME VALUE``.  A name that no selected
notebook declares (or that a notebook-specific entry's notebook does not
declare) is rejected before anything runs, with the valid names -- a typo
must not silently produce a report on default values.

Values are passed on as JSON-like values and converted by each notebook
through :func:`engagement_utils.params.check_parameters`: YAML dates stay the
strings typed (``2024-01-31``), and ``-p`` only turns ``true``/``false``,
``none``, canonical numbers (``10``, ``0.5``, but not ``010``) and JSON
lists/objects into non-strings.  Relative paths are resolved from the
current directory, so run the command from the repository root.

Outputs
-------
``<output_dir>/<notebook>.html``, ``<output_dir>/index.html``, and for a
failed notebook its executed copy ``<output_dir>/_failed/<notebook>.ipynb``.
A failed notebook leaves its previous good report untouched and does not
stop the others.  Reports carry no timestamps: the same inputs give the
same bytes.

Exit status: 0 when every report was built, 1 when a notebook failed, 2 for
a usage error (unknown notebook or parameter, bad parameter file, Jupyter
kernel not set up).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import difflib
import html
import json
import math
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nbformat
import papermill
import yaml
from jinja2 import DictLoader
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbconvert import HTMLExporter
from papermill.exceptions import PapermillExecutionError
from tqdm import tqdm

from .display import KEY_NUMBERS_METADATA, KEY_NUMBERS_TITLE_METADATA, key_numbers_html

__all__ = [
    "KernelSetupError",
    "NotebookResult",
    "RunSummary",
    "UsageError",
    "build_reports",
    "check_kernel",
    "load_params_file",
    "main",
    "parse_cli_value",
    "remote_resources",
    "render_html",
    "render_index",
]

KERNEL_NAME = "python3"
FAILED_DIR = "_failed"
INDEX_NAME = "index.html"
PARAMS_FILE_KEYS = ("output_dir", "notebooks", "parameters", "notebook_parameters")

# Cells that are plumbing, not content: the parameter cells, and the
# conventional "remove-cell"/"remove-output" tags for notebook authors.
_DROPPED_CELL_TAGS = {"parameters", "injected-parameters", "remove-cell"}
_DROPPED_OUTPUT_TAGS = {"remove-output"}

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_REMOTE_RESOURCE = re.compile(
    r"<(?:script|link|img|iframe|embed|object|source|audio|video)\b[^>]*?"
    r"\b(?:src|href|data)\s*=\s*[\"']?\s*(?:https?:)?//[^\s\"'>]*"
    r"|@import\s+(?:url\()?\s*[\"']?\s*(?:https?:)?//[^\s\"')]*"
    r"|url\(\s*[\"']?\s*(?:https?:)?//[^\s\"')]*",
    re.IGNORECASE,
)

# The JupyterLab template minus everything it fetches from a CDN (require.js,
# MathJax, Mermaid, widget manager), so reports read the same offline.
_REPORT_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block body_header -%}
{{ super() }}
{{ resources.engagement_header }}
{%- endblock body_header -%}
"""

_INDEX_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 0.5em; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
.ok { color: #1a7f37; font-weight: 600; }
.failed { color: #c62828; font-weight: 600; }
ul { margin: 0; padding-left: 1.2em; }
code { font-size: 0.9em; }
"""


class UsageError(ValueError):
    """Bad notebook selection, parameter name or parameter file; the CLI exits 2."""


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
        First line of the failing cell's source.
    error_type, error_message : str or None
        Exception name and message of the failure.
    failed_notebook : Path or None
        Executed copy of a failed notebook, kept for debugging.
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
    error_type: str | None = None
    error_message: str | None = None
    failed_notebook: Path | None = None

    @property
    def ok(self) -> bool:
        """True when the report was built."""
        return self.status == "ok"

    def failure_text(self) -> str:
        """One line saying where and why the notebook failed ("" when it did not).

        Examples
        --------
        >>> r = NotebookResult("nb", Path("nb.ipynb"), "failed", "NB", {}, 1.0,
        ...                    failed_cell=3, failed_cell_source="1 / 0",
        ...                    error_type="ZeroDivisionError", error_message="division by zero")
        >>> r.failure_text()
        'cell 3 (`1 / 0`) raised ZeroDivisionError: division by zero'
        """
        if self.ok:
            return ""
        error = f"{self.error_type}: {self.error_message}" if self.error_message else str(self.error_type)
        if self.failed_cell is None:
            return f"failed with {error}"
        source = f" (`{self.failed_cell_source}`)" if self.failed_cell_source else ""
        return f"cell {self.failed_cell}{source} raised {error}"


@dataclass
class RunSummary:
    """All results of one ``build_reports`` run, in the order the notebooks ran.

    Attributes
    ----------
    output_dir : Path
        Folder holding the reports.
    index_path : Path
        The run's ``index.html``.
    results : list of NotebookResult
        One per notebook.
    """

    output_dir: Path
    index_path: Path
    results: list[NotebookResult]

    @property
    def ok(self) -> bool:
        """True when every notebook's report was built."""
        return all(r.ok for r in self.results)

    @property
    def failed(self) -> list[NotebookResult]:
        """Results of the notebooks that failed."""
        return [r for r in self.results if not r.ok]


@dataclass
class _Job:
    path: Path
    source: nbformat.NotebookNode
    declared: dict[str, dict[str, Any]]
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.stem


# ---------------------------------------------------------------- parameters


def parse_cli_value(text: str) -> Any:
    """Turn the VALUE of ``-p NAME VALUE`` into a JSON-like value.

    Unlike papermill, text that would change when turned into a number stays
    text (``"010"``, ``"1.50"``), so string parameters such as ids survive;
    notebooks convert the rest with :func:`~engagement_utils.params.check_parameters`.

    Parameters
    ----------
    text : str
        The value as typed.

    Returns
    -------
    str, int, float, bool, None, list or dict

    Examples
    --------
    >>> [parse_cli_value(v) for v in ["010", "10", "0.5", "true", "none", "2024-01-31"]]
    ['010', 10, 0.5, True, None, '2024-01-31']
    >>> parse_cli_value('["signup", "purchase"]')
    ['signup', 'purchase']
    """
    lowered = text.strip().lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    with contextlib.suppress(ValueError):
        if str(int(text)) == text:
            return int(text)
    with contextlib.suppress(ValueError):
        number = float(text)
        if math.isfinite(number) and repr(number) == text:
            return number
    if text[:1] in "[{":
        with contextlib.suppress(ValueError):
            parsed = json.loads(text)
            if isinstance(parsed, (list, dict)):
                return parsed
    return text


class _ParamsLoader(yaml.SafeLoader):
    """SafeLoader that keeps dates and times as the text typed (JSON-like values only)."""


_ParamsLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _json_like_problems(value: Any, where: str) -> list[str]:
    if value is None or isinstance(value, (str, bool, int)):
        return []
    if isinstance(value, float):
        return [] if math.isfinite(value) else [f"{where}: {value!r} is not a finite number"]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _json_like_problems(v, f"{where}[{i}]")]
    if isinstance(value, dict):
        problems = [
            f"{where}: name {k!r} is not text (YAML reads unquoted yes/no/on/off as true/false "
            "and digits as numbers); quote it"
            for k in value
            if not isinstance(k, str)
        ]
        return problems + [p for k, v in value.items() for p in _json_like_problems(v, f"{where}.{k}")]
    return [f"{where}: {type(value).__name__} values cannot be passed to a notebook; use a string"]


def _suggest(name: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_params_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a YAML parameter file (format in the module docstring).

    Parameters
    ----------
    path : str or PathLike
        The YAML file.

    Returns
    -------
    dict
        Keys ``output_dir`` (str or None), ``notebooks`` (list or None),
        ``parameters`` (dict) and ``notebook_parameters`` (dict of dicts).

    Raises
    ------
    UsageError
        If the file is missing, is not valid YAML, or has unknown keys or
        values of the wrong kind.

    Examples
    --------
    Usage (it reads project files or runs notebooks, so it is not a doctest)::

        load_params_file("reports/params/demo.yml")
        {'output_dir': None, 'notebooks': None, 'parameters': {'start': '2024-01-01'}, ...}
    """
    path = Path(path)
    try:
        loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_ParamsLoader)
    except FileNotFoundError:
        raise UsageError(f"parameter file {str(path)!r} not found") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"parameter file {str(path)!r} is not valid YAML: {exc}") from None
    loaded = {} if loaded is None else loaded
    if not isinstance(loaded, dict):
        raise UsageError(f"parameter file {str(path)!r} must be a mapping with keys {', '.join(PARAMS_FILE_KEYS)}")

    problems = [
        f"unknown key {key!r}{_suggest(str(key), PARAMS_FILE_KEYS)}; allowed keys: {', '.join(PARAMS_FILE_KEYS)}"
        for key in loaded
        if key not in PARAMS_FILE_KEYS
    ]
    output_dir = loaded.get("output_dir")
    if output_dir is not None and not isinstance(output_dir, str):
        problems.append("output_dir must be a folder path (a string)")
    notebooks = loaded.get("notebooks")
    if isinstance(notebooks, str):
        notebooks = [notebooks]
    if notebooks is not None and not (
        isinstance(notebooks, list) and all(isinstance(n, str) for n in notebooks)
    ):
        problems.append("notebooks must be a list of notebook names, e.g. [00_data_overview]")
    parameters = loaded.get("parameters") or {}
    if not isinstance(parameters, dict):
        problems.append("parameters must be a mapping of name: value")
    else:
        problems += _json_like_problems(parameters, "parameters")
    per_notebook = loaded.get("notebook_parameters") or {}
    if not isinstance(per_notebook, dict) or not all(
        isinstance(v, dict) or v is None for v in per_notebook.values()
    ):
        problems.append("notebook_parameters must map a notebook name to a mapping of name: value")
    else:
        per_notebook = {str(k): v or {} for k, v in per_notebook.items()}
        problems += _json_like_problems(per_notebook, "notebook_parameters")
    if problems:
        raise UsageError(f"parameter file {str(path)!r}:\n" + "\n".join(f"  - {p}" for p in problems))
    return {
        "output_dir": output_dir,
        "notebooks": notebooks,
        "parameters": parameters,
        "notebook_parameters": per_notebook,
    }


# ---------------------------------------------------------------- selection


def _available_notebooks(notebooks_dir: Path) -> list[Path]:
    return sorted(notebooks_dir.glob("*.ipynb"))


def _select_notebooks(selection: Sequence[str | os.PathLike] | None, notebooks_dir: Path) -> list[Path]:
    available = _available_notebooks(notebooks_dir)
    if selection is None:
        if not available:
            raise UsageError(f"no notebooks (*.ipynb) found in {str(notebooks_dir)!r}")
        return available
    stems = [p.stem for p in available]
    chosen: list[Path] = []
    problems = []
    for item in selection:
        text = os.fspath(item)
        looks_like_path = text.endswith(".ipynb") or "/" in text or os.sep in text
        candidate = Path(text) if looks_like_path else notebooks_dir / f"{text}.ipynb"
        if not candidate.is_file():
            problems.append(
                f"notebook {text!r} not found{_suggest(Path(text).stem, stems)}; "
                f"notebooks in {str(notebooks_dir)!r}: {', '.join(stems) or 'none'}"
            )
        elif candidate.resolve() not in {p.resolve() for p in chosen}:
            chosen.append(candidate)
    names = [p.stem for p in chosen]
    problems += [
        f"two selected notebooks are both named {n!r}; their reports would overwrite each other"
        for n in sorted({n for n in names if names.count(n) > 1})
    ]
    if problems:
        raise UsageError("\n".join(problems))
    if not chosen:
        raise UsageError("no notebooks selected")
    return chosen


def _read_notebook(path: Path) -> tuple[nbformat.NotebookNode, dict[str, dict[str, Any]]]:
    try:
        source = nbformat.read(path, as_version=4)
        declared = papermill.inspect_notebook(str(path))
    except Exception as exc:  # any unreadable notebook is a usage problem, not a crash
        raise UsageError(f"cannot read notebook {str(path)!r}: {exc}") from None
    return source, declared


def _plan(
    paths: list[Path],
    notebooks_dir: Path,
    global_parameters: Mapping[str, Any],
    notebook_parameters: Mapping[str, Mapping[str, Any]],
    cli_parameters: Mapping[str, Any],
) -> list[_Job]:
    """Attach each notebook's parameters, rejecting names nobody declares."""
    jobs = [_Job(path, *_read_notebook(path)) for path in paths]
    by_name = {job.name: job for job in jobs}
    known_names = {p.stem for p in _available_notebooks(notebooks_dir)} | set(by_name)
    problems = []

    for nb_name, values in notebook_parameters.items():
        if nb_name not in by_name:
            if nb_name not in known_names:
                problems.append(
                    f"notebook_parameters: no notebook named {nb_name!r}"
                    f"{_suggest(nb_name, sorted(known_names))}"
                )
            continue
        job = by_name[nb_name]
        valid = list(job.declared)
        for name in values:
            if name not in job.declared:
                problems.append(
                    f"notebook {nb_name!r} has no parameter {name!r}{_suggest(name, valid)}; "
                    f"its parameters are: {', '.join(valid) or 'none (no cell tagged parameters)'}"
                )

    all_declared = sorted({name for job in jobs for name in job.declared})
    for name in {**global_parameters, **cli_parameters}:
        if not name.isidentifier():
            problems.append(f"{name!r} is not a valid parameter name")
        elif name not in all_declared:
            selected = ", ".join(job.name for job in jobs)
            problems.append(
                f"parameter {name!r} is not declared by any selected notebook ({selected})"
                f"{_suggest(name, all_declared)}; valid names: {', '.join(all_declared) or 'none'}"
            )
    problems += _json_like_problems(dict(cli_parameters), "-p")
    if problems:
        raise UsageError("\n".join(problems))

    for job in jobs:
        layers = [global_parameters, notebook_parameters.get(job.name, {}), cli_parameters]
        merged = {k: v for layer in layers for k, v in layer.items()}
        job.parameters = {k: merged[k] for k in job.declared if k in merged}
    return jobs


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
    Usage (it reads project files or runs notebooks, so it is not a doctest)::

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


# ---------------------------------------------------------------- HTML


def _title(nb: nbformat.NotebookNode, default: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return default


def _key_number_blocks(nb: nbformat.NotebookNode) -> list[tuple[str, dict[str, str]]]:
    blocks = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            numbers = output.get("metadata", {}).get(KEY_NUMBERS_METADATA)
            if isinstance(numbers, dict):
                title = output["metadata"].get(KEY_NUMBERS_TITLE_METADATA, "Key numbers")
                blocks.append((str(title), {str(k): str(v) for k, v in numbers.items()}))
    return blocks


def _parameter_value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _report_header(
    title: str,
    name: str,
    parameters: Mapping[str, Any],
    declared: Mapping[str, Mapping[str, Any]],
    blocks: list[tuple[str, dict[str, str]]],
) -> str:
    rows = "".join(
        f"<tr><td><code>{html.escape(p)}</code></td>"
        f"<td><code>{html.escape(_parameter_value(parameters[p]) if p in parameters else str(info.get('default')))}</code></td>"
        f"<td>{'set for this run' if p in parameters else 'default'}</td></tr>"
        for p, info in declared.items()
    )
    params = (
        f'<details style="margin:0.5em 0"><summary>Parameters ({len(parameters)} set for this run, '
        f"{len(declared) - len(parameters)} defaults)</summary>"
        f'<table style="margin-top:0.4em"><tr><th>Name</th><th>Value</th><th></th></tr>{rows}</table></details>'
        if declared
        else ""
    )
    numbers = "".join(key_numbers_html(numbers, block_title) for block_title, numbers in blocks)
    return (
        '<header class="engagement-report-header" style="padding:1em 0 0.5em;border-bottom:1px solid #ddd;'
        'margin-bottom:1em">'
        f'<div style="color:#555;font-size:0.9em">Engagement report · notebook {html.escape(name)}</div>'
        f'<div style="font-size:1.6em;font-weight:600;margin:0.2em 0">{html.escape(title)}</div>'
        f"{numbers}{params}</header>"
    )


def _report_body(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Copy of an executed notebook keeping only what a reader should see."""
    nb = copy.deepcopy(nb)
    kept = []
    for cell in nb.cells:
        tags = set(cell.metadata.get("tags", []))
        if tags & _DROPPED_CELL_TAGS:
            continue
        if cell.cell_type == "code":
            cell.outputs = [
                output
                for output in ([] if tags & _DROPPED_OUTPUT_TAGS else cell.outputs)
                # key numbers move to the header; stderr is warnings/progress noise
                if KEY_NUMBERS_METADATA not in output.get("metadata", {})
                and not (output.output_type == "stream" and output.get("name") == "stderr")
            ]
            if not cell.outputs:
                continue
        kept.append(cell)
    for position, cell in enumerate(kept):
        if "id" in cell:
            # papermill and nbformat create random ids; fixed ones keep reports reproducible
            cell.id = f"cell-{position}"
    nb.cells = kept
    return nb


def _html_exporter() -> HTMLExporter:
    return HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"engagement_report.html.j2": _REPORT_TEMPLATE})],
        template_file="engagement_report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
        embed_images=True,
    )


def remote_resources(page: str) -> list[str]:
    """Scripts, stylesheets, images or frames a page would fetch from the network.

    Parameters
    ----------
    page : str
        An HTML document.

    Returns
    -------
    list of str
        The offending snippets (empty when the page works offline).

    Examples
    --------
    >>> remote_resources('<script src="https://cdn.example.org/x.js"></script><a href="https://x.org">x</a>')
    ['<script src="https://cdn.example.org/x.js']
    """
    return [m.group(0) for m in _REMOTE_RESOURCE.finditer(page)]


def render_html(
    nb: nbformat.NotebookNode,
    *,
    name: str,
    parameters: Mapping[str, Any] | None = None,
    declared: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """Turn an executed notebook into a self-contained, offline HTML report.

    Code, prompts, parameter cells and stderr are hidden; figures are
    embedded; key numbers from :func:`engagement_utils.display.show_key_numbers`
    and the parameters are shown in a header.

    Parameters
    ----------
    nb : NotebookNode
        The executed notebook.
    name : str
        Notebook name shown in the header.
    parameters : mapping, optional
        Parameters passed in this run.
    declared : mapping, optional
        The notebook's declared parameters (``papermill.inspect_notebook``),
        to show defaults next to the values set.

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    ValueError
        If an output would load something from the network.

    Examples
    --------
    Usage (it reads project files or runs notebooks, so it is not a doctest)::

        page = render_html(nbformat.read("notebooks/00_data_overview.ipynb", 4),
                           name="00_data_overview")
    """
    title = _title(nb, name)
    body = _report_body(nb)
    body.metadata["title"] = title
    header = _report_header(title, name, parameters or {}, declared or {}, _key_number_blocks(nb))
    page, _ = _html_exporter().from_notebook_node(body, resources={"engagement_header": header})
    remote = remote_resources(page)
    if remote:
        raise ValueError(
            f"the report would load {len(remote)} resource(s) from the network, e.g. {remote[0]!r}; "
            "reports must work offline -- tag that cell 'remove-output' or show a static figure"
        )
    return page


def _link(path: Path, base: Path) -> str:
    return html.escape(quote(os.path.relpath(path, base).replace(os.sep, "/")))


def render_index(results: Sequence[NotebookResult], output_dir: Path) -> str:
    """HTML page listing the reports of a run (no timestamps, everything escaped).

    Parameters
    ----------
    results : sequence of NotebookResult
        The run's results.
    output_dir : Path
        Folder the index is written to (links are relative to it).

    Returns
    -------
    str
        The HTML document.

    Examples
    --------
    >>> r = NotebookResult("nb", Path("nb.ipynb"), "ok", "<Overview>", {"tz": "UTC"}, 2.0)
    >>> "&lt;Overview&gt;" in render_index([r], Path("reports"))
    True
    """
    rows = []
    for r in results:
        title = html.escape(r.title)
        report = (
            f'<a href="{_link(r.html_path, output_dir)}">{title}</a>'
            if r.html_path is not None and r.ok
            else title
        )
        numbers = "".join(
            f"<li>{html.escape(label)}: <strong>{html.escape(value)}</strong></li>"
            for label, value in r.key_numbers.items()
        )
        params = "".join(
            f"<li><code>{html.escape(k)} = {html.escape(_parameter_value(v))}</code></li>"
            for k, v in r.parameters.items()
        )
        if r.ok:
            details = ""
        else:
            kept = (
                f'previous report kept: <a href="{_link(r.html_path, output_dir)}">{html.escape(r.html_path.name)}</a>'
                if r.html_path is not None
                else "no earlier report"
            )
            debug = (
                f'; executed notebook: <a href="{_link(r.failed_notebook, output_dir)}">'
                f"{html.escape(os.path.relpath(r.failed_notebook, output_dir))}</a>"
                if r.failed_notebook is not None
                else ""
            )
            details = f"{html.escape(r.failure_text())}<br>{kept}{debug}"
        rows.append(
            f"<tr><td>{report}<br><small>{html.escape(r.name)}</small></td>"
            f'<td class="{"ok" if r.ok else "failed"}">{html.escape(r.status)}</td>'
            f"<td><ul>{numbers}</ul></td><td>{f'<ul>{params}</ul>' if params else 'defaults'}</td>"
            f"<td>{details}</td></tr>"
        )
    n_failed = sum(not r.ok for r in results)
    status = f"{len(results) - n_failed} of {len(results)} reports built" + (
        f", {n_failed} failed" if n_failed else ""
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">\n'
        f"<title>Engagement reports</title>\n<style>{_INDEX_CSS}</style>\n</head>\n<body>\n"
        f"<h1>Engagement reports</h1>\n<p>{html.escape(status)}.</p>\n"
        "<table>\n<tr><th>Report</th><th>Status</th><th>Key numbers</th><th>Parameters</th>"
        "<th>Problem</th></tr>\n" + "\n".join(rows) + "\n</table>\n</body>\n</html>\n"
    )


def _write_atomic(path: Path, data: str | bytes) -> None:
    """Replace ``path`` in one step, so a reader never sees a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        # mkstemp creates 0600 files; reports should be as readable as any other file
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------- running


def _source_cell_number(executed_index: int, job: _Job) -> int:
    """1-based position in the source notebook of a cell of papermill's executed copy."""
    index = executed_index
    tags = [set(cell.metadata.get("tags", [])) for cell in job.source.cells]
    # papermill inserts its injected-parameters cell right after the parameters
    # cell (unless the notebook already has one, which it replaces in place)
    if job.parameters and not any("injected-parameters" in t for t in tags):
        injected_at = next(i for i, t in enumerate(tags) if "parameters" in t) + 1
        if index >= injected_at:
            index -= 1
    return index + 1


def _first_line(text: str, limit: int = 80) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _run_one(job: _Job, workdir: Path, output_dir: Path, cwd: Path, cell_progress: bool) -> NotebookResult:
    started = time.perf_counter()
    html_path = output_dir / f"{job.name}.html"
    failed_copy = output_dir / FAILED_DIR / f"{job.name}.ipynb"
    executed_path = workdir / f"{job.name}.ipynb"
    result = NotebookResult(
        name=job.name,
        notebook=job.path,
        status="failed",
        title=_title(job.source, job.name),
        parameters=dict(job.parameters),
        duration=0.0,
    )
    try:
        executed = papermill.execute_notebook(
            str(job.path),
            str(executed_path),
            parameters=job.parameters,
            kernel_name=KERNEL_NAME,
            cwd=str(cwd),
            progress_bar=cell_progress,
            # The kernel's own log (unencrypted local TCP on every start, the interrupt
            # nbclient sends after a failing cell) is noise next to our failure report.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
        page = render_html(executed, name=job.name, parameters=job.parameters, declared=job.declared)
        _write_atomic(html_path, page)
    except PapermillExecutionError as exc:
        result.failed_cell = _source_cell_number(exc.cell_index, job)
        result.failed_cell_source = _first_line(exc.source)
        result.error_type = exc.ename
        result.error_message = _ANSI.sub("", exc.evalue)
    except Exception as exc:  # a crashed kernel or a broken output must not stop the other reports
        result.error_type = type(exc).__name__
        result.error_message = _first_line(_ANSI.sub("", str(exc)), limit=300)
    else:
        result.status = "ok"
        result.html_path = html_path
        result.key_numbers = {k: v for _, block in _key_number_blocks(executed) for k, v in block.items()}
        with contextlib.suppress(FileNotFoundError):
            failed_copy.unlink()  # a stale copy from an earlier failure would mislead
    if not result.ok:
        result.html_path = html_path if html_path.exists() else None
        if executed_path.exists():
            _write_atomic(failed_copy, executed_path.read_bytes())
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


def build_reports(
    notebooks: Sequence[str | os.PathLike] | None = None,
    *,
    notebooks_dir: str | os.PathLike = "notebooks",
    output_dir: str | os.PathLike | None = None,
    parameters: Mapping[str, Any] | None = None,
    params_file: str | os.PathLike | None = None,
    progress: bool = True,
) -> RunSummary:
    """Execute notebooks with parameters and write their HTML reports and an index.

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
        YAML file, format in the module docstring.
    progress : bool
        Show a progress bar (on a terminal) and one line per notebook on
        stderr.  Failures are always reported on stderr.

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

    Examples
    --------
    Usage (it reads project files or runs notebooks, so it is not a doctest)::

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
    paths = _select_notebooks(selection, notebooks_dir)
    jobs = _plan(
        paths, notebooks_dir, config["parameters"], config["notebook_parameters"], dict(parameters or {})
    )

    cwd = Path.cwd()
    on_terminal = sys.stderr.isatty()
    results = []
    with _prefer_env_kernels(), tempfile.TemporaryDirectory(prefix="engagement-report-") as workdir:
        check_kernel()
        bar = tqdm(jobs, desc="reports", unit="notebook", file=sys.stderr, disable=not (progress and on_terminal))
        for job in bar:
            bar.set_postfix_str(job.name)
            result = _run_one(job, Path(workdir), out, cwd, cell_progress=progress and on_terminal)
            results.append(result)
            if not result.ok:
                tqdm.write(_failure_report(result), file=sys.stderr)
            elif progress:
                tqdm.write(f"ok     {job.name} ({result.duration:.1f} s) -> {result.html_path}", file=sys.stderr)
        bar.close()

    index_path = out / INDEX_NAME
    _write_atomic(index_path, render_index(results, out))
    return RunSummary(output_dir=out, index_path=index_path, results=results)


# ---------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="engagement-report",
        description="Run the analysis notebooks with parameters and write self-contained HTML reports.",
        epilog="Parameter file format and precedence: see `python -m pydoc engagement_utils.reports`.",
    )
    parser.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="name (00_data_overview) or path; default: all")
    parser.add_argument("--params", metavar="FILE.yml", help="YAML parameter file")
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        default=[],
        help="set a parameter for every selected notebook that declares it (repeatable)",
    )
    parser.add_argument("--output-dir", metavar="DIR", help="report folder (default: params file's, else reports)")
    parser.add_argument("--notebooks-dir", metavar="DIR", default="notebooks", help="where notebook names are looked up")
    parser.add_argument("--list", action="store_true", help="list the selected notebooks and their parameters, run nothing")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output (failures are still reported)")
    return parser


def _list_notebooks(selection: list[str], notebooks_dir: Path, params_file: str | None) -> None:
    config_selection = load_params_file(params_file)["notebooks"] if params_file else None
    for path in _select_notebooks(selection or config_selection, notebooks_dir):
        source, declared = _read_notebook(path)
        print(f"{path.stem}  ({path}): {_title(source, path.stem)}")
        for name, info in declared.items():
            help_text = f"  # {info['help']}" if info.get("help") else ""
            print(f"    {name} = {info.get('default')}{help_text}")
        if not declared:
            print("    (no parameters)")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point ``engagement-report``; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 all reports built, 1 a notebook failed, 2 usage or setup error.

    Examples
    --------
    Usage (it reads project files or runs notebooks, so it is not a doctest)::

        main(["01_cohort_retention", "-p", "period", "month"])
        0
    """
    args = _parser().parse_args(argv)
    notebooks_dir = Path(args.notebooks_dir)
    try:
        if args.list:
            _list_notebooks(args.notebooks, notebooks_dir, args.params)
            return 0
        summary = build_reports(
            args.notebooks or None,
            notebooks_dir=notebooks_dir,
            output_dir=args.output_dir,
            parameters={name: parse_cli_value(value) for name, value in args.parameter},
            params_file=args.params,
            progress=not args.quiet,
        )
    except (UsageError, KernelSetupError) as exc:
        print(f"engagement-report: error: {exc}", file=sys.stderr)
        return 2
    built = len(summary.results) - len(summary.failed)
    message = f"{built} of {len(summary.results)} report(s) built; index: {summary.index_path}"
    if summary.failed:
        names = ", ".join(r.name for r in summary.failed)
        print(f"{message}\n{len(summary.failed)} notebook(s) failed: {names}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(message, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
