"""Set-up shared by every notebook, so interactive runs, papermill and nbval agree."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import matplotlib
import pandas as pd

from .plots import set_theme

__all__ = ["project_root", "setup_notebook"]


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The folder holding ``pyproject.toml`` and ``engagement_utils/``, searched upwards from ``start``.

    Notebooks run from ``notebooks/`` in JupyterLab and nbval but from the
    project root under the report runner; resolving data paths against the
    project root makes the same default parameters work in all three.
    Falls back to ``start`` (default: the working directory) when no project is found.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "engagement_utils").is_dir():
            return folder
    return here


def setup_notebook() -> Path:
    """Prepare a notebook session: work from the project root, fixed plot theme, quiet deprecations.

    Returns the project root.  Called in each notebook's first code cell.
    """
    root = project_root()
    os.chdir(root)
    matplotlib.use("module://matplotlib_inline.backend_inline")
    set_theme()
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 160)
    pd.set_option("display.precision", 4)
    # Third-party deprecation chatter would land on stderr, which nbval compares.
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    return root
