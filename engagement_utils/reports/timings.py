"""Where a report run spends its time: seconds per cell and per section (``--timings``).

papermill stores each executed cell's start, end and ``duration`` in the cell's
``metadata.papermill``; a cell's section is the nearest markdown heading above it
(as in failure reports, :func:`engagement_utils.reports.failures.section_of`), so the
cells before a notebook's first ``##`` heading (loading, the analyses, the key numbers)
are under its ``#`` title.  What is not a cell -- starting the kernel, papermill's own
work, rendering the HTML -- is one more row, ``OVERHEAD_SECTION``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat

from .config import Job
from .failures import locate_failure, section_of, source_cell_index
from .folder import write_atomic

__all__ = ["OVERHEAD_SECTION", "TIMINGS_NAME", "cell_timings", "format_timings", "section_timings", "write_timings"]

TIMINGS_NAME = "timings.csv"
"""The run's timings table in the report folder (written with ``--timings``)."""
OVERHEAD_SECTION = "(kernel start, papermill, HTML)"
"""The section of the time no cell accounts for."""
_INJECTED = "injected-parameters"


def cell_timings(executed: nbformat.NotebookNode, job: Job) -> list[dict[str, Any]]:
    """Seconds of every executed code cell, with its position, section and first line.

    Parameters
    ----------
    executed : NotebookNode
        papermill's executed copy of the notebook.
    job : Job
        The run's job (the source notebook, to number cells as failure reports do).

    Returns
    -------
    list of dict
        ``cell`` (1-based position in the source notebook, markdown cells counted; papermill's
        injected-parameters cell takes the parameters cell's number), ``section``, ``seconds``,
        ``line`` (the cell's first meaningful line), in notebook order; cells that did not
        run are left out.
    """
    rows = []
    for position, cell in enumerate(executed.cells):
        if cell.cell_type != "code":
            continue
        seconds = cell.get("metadata", {}).get("papermill", {}).get("duration")
        if seconds is None:
            continue
        injected = _INJECTED in cell.get("metadata", {}).get("tags", [])
        index = source_cell_index(position, job)  # the injected cell maps onto the parameters cell
        source = job.source.cells[index].source if index < len(job.source.cells) else cell.source
        rows.append({
            "cell": index + 1,
            "section": section_of(job, index) or "",
            "seconds": float(seconds),
            "line": "(injected parameters)" if injected else locate_failure(source),
        })
    return rows


def section_timings(cells: Sequence[dict[str, Any]], total: float | None = None) -> list[dict[str, Any]]:
    """Seconds per section (cells summed, in notebook order), plus the time no cell accounts for.

    Parameters
    ----------
    cells : sequence of dict
        :func:`cell_timings` rows.
    total : float, optional
        The notebook's whole duration; the difference to the cells' sum becomes an
        ``OVERHEAD_SECTION`` row.

    Returns
    -------
    list of dict
        ``section``, ``seconds``, ``cells`` (how many cells).

    Examples
    --------
    >>> cells = [{"section": "Setup", "seconds": 2.0}, {"section": "Paths", "seconds": 1.0},
    ...          {"section": "Setup", "seconds": 0.5}]
    >>> [(r["section"], r["seconds"], r["cells"]) for r in section_timings(cells, total=4.0)]
    [('Setup', 2.5, 2), ('Paths', 1.0, 1), ('(kernel start, papermill, HTML)', 0.5, 0)]
    """
    sections: dict[str, dict[str, Any]] = {}
    for row in cells:
        entry = sections.setdefault(row["section"], {"section": row["section"], "seconds": 0.0, "cells": 0})
        entry["seconds"] += row["seconds"]
        entry["cells"] += 1
    rows = list(sections.values())
    if total is not None:
        rows.append({"section": OVERHEAD_SECTION, "seconds": max(total - sum(r["seconds"] for r in cells), 0.0),
                     "cells": 0})
    return rows


def format_timings(name: str, cells: Sequence[dict[str, Any]], total: float) -> str:
    """The per-section breakdown of one notebook as the run log prints it.

    Examples
    --------
    >>> print(format_timings("nb", [{"section": "Setup", "seconds": 2.0, "cell": 3, "line": "x = f()"}], 2.5))
    timings nb: 2.5 s
         2.0 s   80%  Setup  (slowest cell 3: x = f())
         0.5 s   20%  (kernel start, papermill, HTML)
    """
    lines = [f"timings {name}: {total:.1f} s"]
    for section in section_timings(cells, total):
        members = [c for c in cells if c["section"] == section["section"]]
        slowest = max(members, key=lambda c: c["seconds"]) if members else None
        share = section["seconds"] / total if total > 0 else 0.0
        note = f"  (slowest cell {slowest['cell']}: {slowest['line']})" if slowest else ""
        lines.append(f"  {section['seconds']:6.1f} s  {share:4.0%}  {section['section']}{note}")
    return "\n".join(lines)


def write_timings(path: Path, results: Sequence[Any]) -> Path:
    """Write one CSV row per executed cell of every notebook of the run, and one overhead row each.

    Columns: ``notebook, cell, section, seconds, line`` (overhead rows have no cell).  ``results``
    are :class:`~engagement_utils.reports.run.NotebookResult` with their ``timings``.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["notebook", "cell", "section", "seconds", "line"])
    for result in results:
        for row in result.timings:
            writer.writerow([result.name, row["cell"], row["section"], f"{row['seconds']:.3f}", row["line"]])
        overhead = section_timings(result.timings, result.duration)[-1]
        writer.writerow([result.name, "", overhead["section"], f"{overhead['seconds']:.3f}", ""])
    write_atomic(path, buffer.getvalue())
    return path
