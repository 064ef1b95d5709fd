"""Where a notebook failed: the cell, its section and the line to name."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import nbformat

from .config import Job

__all__ = ["ANSI", "locate_failure", "running_cell", "section_of", "shorten", "source_cell_index"]

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
"""Terminal colour codes in kernel tracebacks."""
_CELL_LINE = re.compile(r"^(?:Cell In\s*\[\d*\],\s*line|Input In \[\d*\],? (?:in <cell line: )?)\s*(\d+)", re.MULTILINE)
_PLUMBING = re.compile(r"^(?:#|import\s|from\s+\S+\s+import\s|setup_notebook\(\)|[)\]}]+,?$|%|!)")


def source_cell_index(executed_index: int, job: Job) -> int:
    """0-based position in the source notebook of a cell of papermill's executed copy."""
    tags = [set(cell.metadata.get("tags", [])) for cell in job.source.cells]
    # papermill inserts its injected-parameters cell right after the parameters
    # cell (unless the notebook already has one, which it replaces in place)
    if job.parameters and not any("injected-parameters" in t for t in tags):
        injected_at = next((i for i, t in enumerate(tags) if "parameters" in t), -1) + 1
        if injected_at and executed_index >= injected_at:
            return executed_index - 1
    return executed_index


def shorten(line: str, limit: int = 80) -> str:
    line = line.strip()
    return line if len(line) <= limit else line[: limit - 3] + "..."


def locate_failure(source: str, traceback: Sequence[str] = ()) -> str:
    """The line of a cell to name in a failure: the one that raised, else its first meaningful line.

    Imports, comments and ``setup_notebook()`` are never "meaningful".

    Parameters
    ----------
    source : str
        The cell's source.
    traceback : sequence of str
        The kernel's traceback lines (ANSI colours allowed).

    Examples
    --------
    >>> cell = "from engagement_utils.notebook import setup_notebook\\nsetup_notebook()\\nevents = load(p)\\nx = 1"
    >>> locate_failure(cell, ["Cell In[3], line 4"]), locate_failure(cell)
    ('x = 1', 'events = load(p)')
    """
    lines = source.splitlines()
    match = _CELL_LINE.search(ANSI.sub("", "\n".join(traceback)))
    if match and 1 <= int(match.group(1)) <= len(lines) and lines[int(match.group(1)) - 1].strip():
        return shorten(lines[int(match.group(1)) - 1])
    meaningful = [ln for ln in lines if ln.strip() and not _PLUMBING.match(ln.strip())]
    first = meaningful[0] if meaningful else next((ln for ln in lines if ln.strip()), "")
    return shorten(first)


def section_of(job: Job, index: int) -> str | None:
    for cell in reversed(job.source.cells[: index + 1]):
        if cell.cell_type == "markdown":
            for line in reversed(cell.source.splitlines()):
                if line.lstrip().startswith("#"):
                    return line.lstrip("# ").strip() or None
    return None


def running_cell(executed_path: Path) -> int | None:
    """Index of the last cell papermill started, from its saved copy (after a timeout or a dead kernel)."""
    try:
        executed = nbformat.read(executed_path, as_version=4)
    except Exception:  # no copy written, or a partial one
        return None
    started = [
        i for i, cell in enumerate(executed.cells)
        if cell.get("metadata", {}).get("papermill", {}).get("start_time")
    ]
    return started[-1] if started else None
