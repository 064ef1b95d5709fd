"""What a report run does, decided before anything runs.

Parameter files and ``-p`` values, the notebook selection, each notebook's
parameters (rejecting names nobody declares), the exports folder injected
into notebooks that declare ``export_dir``, and the fingerprint of a
notebook's inputs.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import papermill
import yaml

__all__ = [
    "PARAMS_FILE_KEYS",
    "EXPORT_DIR_PARAMETER",
    "UsageError",
    "Job",
    "parse_cli_value",
    "load_params_file",
    "json_like_problems",
    "suggest",
    "available_notebooks",
    "select_notebooks",
    "read_notebook",
    "notebook_title",
    "plan",
    "default_exports_dir",
    "inject_export_dir",
    "input_files",
    "fingerprint",
]

PARAMS_FILE_KEYS = ("output_dir", "notebooks", "parameters", "notebook_parameters")
EXPORT_DIR_PARAMETER = "export_dir"
"""A notebook declaring this parameter gets the run's exports folder (outside the report folder)."""
LEGACY_EXPORT_PARAMETER = "export_path"
"""A file path parameter whose default points into the report folder; redirected to the exports folder."""


class UsageError(ValueError):
    """Bad notebook selection, parameter name or parameter file; the CLI exits 2."""


@dataclass
class Job:
    """One notebook of a run with the parameters it will receive.

    Attributes
    ----------
    path : Path
        The source notebook.
    source : NotebookNode
        Its content.
    declared : dict
        ``papermill.inspect_notebook``: name → {"default": text, "help": ...}.
    parameters : dict
        Values passed in this run (only declared names).
    """

    path: Path
    source: nbformat.NotebookNode
    declared: dict[str, dict[str, Any]]
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Notebook name (file stem), also the report's file stem."""
        return self.path.stem

    def effective_parameters(self) -> dict[str, Any]:
        """Every declared parameter with the value the run gives it (defaults read as Python literals).

        Examples
        --------
        >>> job = Job(Path("nb.ipynb"), None, {"a": {"default": "1"}, "b": {"default": "'x'"}}, {"b": "y"})
        >>> job.effective_parameters()
        {'a': 1, 'b': 'y'}
        """
        values = {}
        for name, info in self.declared.items():
            if name in self.parameters:
                values[name] = self.parameters[name]
                continue
            text = str(info.get("default"))
            try:
                values[name] = ast.literal_eval(text)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                values[name] = text
        return values


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


def json_like_problems(value: Any, where: str) -> list[str]:
    """Why a value cannot be passed to a notebook (empty when it can).

    Examples
    --------
    >>> json_like_problems({"a": [1, float("nan")]}, "parameters")
    ['parameters.a[1]: nan is not a finite number']
    """
    if value is None or isinstance(value, (str, bool, int)):
        return []
    if isinstance(value, float):
        return [] if math.isfinite(value) else [f"{where}: {value!r} is not a finite number"]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in json_like_problems(v, f"{where}[{i}]")]
    if isinstance(value, dict):
        problems = [
            f"{where}: name {k!r} is not text (YAML reads unquoted yes/no/on/off as true/false "
            "and digits as numbers); quote it"
            for k in value
            if not isinstance(k, str)
        ]
        return problems + [p for k, v in value.items() for p in json_like_problems(v, f"{where}.{k}")]
    return [f"{where}: {type(value).__name__} values cannot be passed to a notebook; use a string"]


def suggest(name: str, candidates: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or "".

    Examples
    --------
    >>> suggest("lable", ["label", "repeat"])
    " (did you mean 'label'?)"
    """
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_params_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a YAML parameter file (format in :mod:`engagement_utils.reports`).

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
    Usage (it reads project files, so it is not a doctest)::

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
        f"unknown key {key!r}{suggest(str(key), PARAMS_FILE_KEYS)}; allowed keys: {', '.join(PARAMS_FILE_KEYS)}"
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
        problems += json_like_problems(parameters, "parameters")
    per_notebook = loaded.get("notebook_parameters") or {}
    if not isinstance(per_notebook, dict) or not all(
        isinstance(v, dict) or v is None for v in per_notebook.values()
    ):
        problems.append("notebook_parameters must map a notebook name to a mapping of name: value")
    else:
        per_notebook = {str(k): v or {} for k, v in per_notebook.items()}
        problems += json_like_problems(per_notebook, "notebook_parameters")
    if problems:
        raise UsageError(f"parameter file {str(path)!r}:\n" + "\n".join(f"  - {p}" for p in problems))
    return {
        "output_dir": output_dir,
        "notebooks": notebooks,
        "parameters": parameters,
        "notebook_parameters": per_notebook,
    }


# ---------------------------------------------------------------- selection


def available_notebooks(notebooks_dir: Path) -> list[Path]:
    """The ``*.ipynb`` files of a folder, sorted by name."""
    return sorted(Path(notebooks_dir).glob("*.ipynb"))


def select_notebooks(selection: Sequence[str | os.PathLike] | None, notebooks_dir: Path) -> list[Path]:
    """Resolve notebook names or paths (default: all in ``notebooks_dir``), rejecting unknown ones."""
    available = available_notebooks(notebooks_dir)
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
        candidate = Path(text) if looks_like_path else Path(notebooks_dir) / f"{text}.ipynb"
        if not candidate.is_file():
            problems.append(
                f"notebook {text!r} not found{suggest(Path(text).stem, stems)}; "
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


def read_notebook(path: Path) -> tuple[nbformat.NotebookNode, dict[str, dict[str, Any]]]:
    """A notebook and its declared parameters; an unreadable one is a :class:`UsageError`."""
    try:
        source = nbformat.read(path, as_version=4)
        declared = papermill.inspect_notebook(str(path))
    except Exception as exc:  # any unreadable notebook is a usage problem, not a crash
        raise UsageError(f"cannot read notebook {str(path)!r}: {exc}") from None
    return source, declared


def notebook_title(nb: nbformat.NotebookNode, default: str) -> str:
    """The first ``# `` heading of a notebook's markdown cells, or ``default``.

    Examples
    --------
    >>> from nbformat.v4 import new_markdown_cell, new_notebook
    >>> notebook_title(new_notebook(cells=[new_markdown_cell("# Retention\\n\\ntext")]), "nb")
    'Retention'
    """
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return default


def plan(
    paths: list[Path],
    notebooks_dir: Path,
    global_parameters: Mapping[str, Any],
    notebook_parameters: Mapping[str, Mapping[str, Any]],
    cli_parameters: Mapping[str, Any],
) -> list[Job]:
    """Attach each notebook's parameters, rejecting names nobody declares (precedence: later wins)."""
    jobs = [Job(path, *read_notebook(path)) for path in paths]
    by_name = {job.name: job for job in jobs}
    known_names = {p.stem for p in available_notebooks(notebooks_dir)} | set(by_name)
    problems = []

    for nb_name, values in notebook_parameters.items():
        if nb_name not in by_name:
            if nb_name not in known_names:
                problems.append(
                    f"notebook_parameters: no notebook named {nb_name!r}{suggest(nb_name, sorted(known_names))}"
                )
            continue
        job = by_name[nb_name]
        valid = list(job.declared)
        for name in values:
            if name not in job.declared:
                problems.append(
                    f"notebook {nb_name!r} has no parameter {name!r}{suggest(name, valid)}; "
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
                f"{suggest(name, all_declared)}; valid names: {', '.join(all_declared) or 'none'}"
            )
    problems += json_like_problems(dict(cli_parameters), "-p")
    if problems:
        raise UsageError("\n".join(problems))

    for job in jobs:
        layers = [global_parameters, notebook_parameters.get(job.name, {}), cli_parameters]
        merged = {k: v for layer in layers for k, v in layer.items()}
        job.parameters = {k: merged[k] for k in job.declared if k in merged}
    return jobs


# ---------------------------------------------------------------- exports


def default_exports_dir(output_dir: str | os.PathLike) -> Path:
    """Where files with user ids go: an ``exports/`` folder beside the reports tree, never inside it.

    A report folder inside a ``reports/`` tree maps to the same place under
    ``exports/`` next to that tree (``reports/online_retail`` → ``exports/online_retail``,
    the whole ``reports/`` → ``exports/``); any other folder ``X`` to ``X/../exports/<name of X>``.

    Examples
    --------
    >>> default_exports_dir("reports/online_retail").as_posix()
    'exports/online_retail'
    >>> default_exports_dir("reports").as_posix()
    'exports'
    >>> default_exports_dir("/tmp/run1").as_posix()
    '/tmp/exports/run1'
    """
    out = Path(output_dir)
    parts = out.parts
    if "reports" in parts:
        top = len(parts) - 1 - parts[::-1].index("reports")
        return Path(*parts[:top], "exports", *parts[top + 1:])
    return out.parent / "exports" / (out.name or "reports")


def _inside(path: Path, folder: Path) -> bool:
    path, folder = Path(os.path.abspath(path)), Path(os.path.abspath(folder))
    return path == folder or folder in path.parents


def inject_export_dir(jobs: Sequence[Job], exports_dir: Path, output_dir: Path) -> list[str]:
    """Point each notebook's exports (files with user ids) at ``exports_dir``, outside the report folder.

    A notebook declaring ``export_dir`` gets it (unless the run sets it); a
    notebook declaring only the older ``export_path`` keeps the file name of
    its default, moved into ``exports_dir``.  Values set for the run are kept,
    but one inside the report folder is reported.

    Returns
    -------
    list of str
        Warnings about exports that the run places inside the report folder.
    """
    warnings = []
    for job in jobs:
        for name in (EXPORT_DIR_PARAMETER, LEGACY_EXPORT_PARAMETER):
            if name not in job.declared:
                continue
            if name in job.parameters:
                value = job.parameters[name]
                if isinstance(value, str) and _inside(Path(value), output_dir):
                    warnings.append(
                        f"{job.name}: {name}={value!r} writes user ids into the report folder "
                        f"{str(output_dir)!r}; do not send that folder around as is"
                    )
                continue
            if name == EXPORT_DIR_PARAMETER:
                job.parameters[name] = str(exports_dir)
            else:
                default = job.effective_parameters().get(name)
                file_name = Path(default).name if isinstance(default, str) and default else "export.csv"
                job.parameters[name] = str(exports_dir / file_name)
    return warnings


# ---------------------------------------------------------------- fingerprint


def _candidate_paths(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def input_files(job: Job, cwd: Path | None = None) -> list[dict[str, Any]]:
    """The existing files a notebook's parameters name, with size and modification time.

    Export parameters (outputs, not inputs) are left out.

    Returns
    -------
    list of dict
        ``{"parameter", "path", "size", "mtime_ns"}``, in parameter order.
    """
    cwd = Path.cwd() if cwd is None else Path(cwd)
    files = []
    for name, value in job.effective_parameters().items():
        if name.startswith("export"):
            continue
        for text in _candidate_paths(value):
            if not text or len(text) > 4096:
                continue
            path = Path(text) if Path(text).is_absolute() else cwd / text
            with contextlib.suppress(OSError, ValueError):
                if path.is_file():
                    stat = path.stat()
                    files.append({"parameter": name, "path": text, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
    return files


def fingerprint(parameters: Mapping[str, Any], inputs: Sequence[Mapping[str, Any]]) -> str:
    """Short hash of a report's inputs: the parameters and each input file's path, size and mtime.

    Examples
    --------
    >>> a = fingerprint({"tz": "UTC"}, [{"path": "e.parquet", "size": 10, "mtime_ns": 1}])
    >>> a == fingerprint({"tz": "UTC"}, [{"path": "e.parquet", "size": 10, "mtime_ns": 2}]), len(a)
    (False, 12)
    """
    payload = {
        "parameters": {k: v for k, v in parameters.items() if not k.startswith("export")},
        "inputs": [[f["path"], f["size"], f["mtime_ns"]] for f in inputs],
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
