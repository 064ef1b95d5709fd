"""Export of user → persona assignments for activation (a file with user ids, never part of a report)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from .describe import persona_names

__all__ = ["EXPORT_FILE", "export_personas"]

EXPORT_FILE = "persona_assignments.csv"
FORMATS = (".csv", ".csv.gz", ".parquet")


def _check_outside_reports(folder: Path) -> None:
    """Refuse a folder inside the project's ``reports/``: what lands there is shared with readers."""
    from ..notebook import project_root

    reports = (project_root() / "reports").resolve()
    target = folder.resolve()
    if target == reports or reports in target.parents:
        raise ValueError(f"The 'export_dir' parameter points into the reports folder ({folder}); the export holds "
                         "raw user ids and must stay out of shared reports: use e.g. export_dir='exports'")


def export_personas(labels: pd.Series, export_dir: str | os.PathLike | None, *, file_name: str = EXPORT_FILE,
                    names: Mapping | pd.Series | None = None, rfm_scores: pd.DataFrame | None = None) -> Path | None:
    """Write user → persona assignments to ``export_dir / file_name`` for a marketing tool.

    Columns: ``user_id, persona, persona_name`` (+ ``rfm_segment``, ``rfm_code``
    when ``rfm_scores`` are given).  The format follows the suffix of
    ``file_name``: ``.csv`` / ``.csv.gz`` or ``.parquet``.  The file holds user
    ids, so ``export_dir`` may not lie inside the project's ``reports/``
    folder; ``None`` (or ``""``) writes nothing and returns None.

    Examples
    --------
    >>> import tempfile
    >>> path = export_personas(pd.Series({"a": 0, "b": 1}), tempfile.mkdtemp())
    >>> pd.read_csv(path).columns.tolist()
    ['user_id', 'persona', 'persona_name']
    """
    if export_dir is None or str(export_dir).strip() == "":
        return None
    if not file_name.lower().endswith(FORMATS):
        raise ValueError(f"cannot export to {file_name!r}: use a .csv, .csv.gz or .parquet file name")
    folder = Path(export_dir)
    _check_outside_reports(folder)
    labels = pd.Series(labels)
    out = pd.DataFrame({"user_id": np.asarray(labels.index), "persona": labels.to_numpy(),
                        "persona_name": persona_names(labels, names).astype(str).to_numpy()})
    if rfm_scores is not None:
        scores = rfm_scores.reindex(labels.index)
        for col, new in (("segment", "rfm_segment"), ("rfm_code", "rfm_code")):
            if col in scores.columns:
                out[new] = scores[col].astype(object).to_numpy()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    if file_name.lower().endswith(".parquet"):
        out.to_parquet(path, index=False)
    else:
        out.to_csv(path, index=False)
    return path
