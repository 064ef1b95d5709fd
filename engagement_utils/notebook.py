"""Set-up shared by every notebook, so interactive runs, papermill and nbval agree."""

from __future__ import annotations

import os
import types
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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


def setup_notebook(notebook: str | None = None, namespace: Mapping[str, Any] | None = None) -> types.SimpleNamespace | Path:
    """Prepare a notebook session and validate its parameters in one call.

    Works from the project root (so the demo paths in the ``parameters`` cell
    resolve the same in JupyterLab, papermill and nbval), sets the plot theme and
    quiets third-party deprecation chatter (nbval compares stderr).

    Parameters
    ----------
    notebook : str, optional
        The notebook's name (``"03_ab_test"``); its schema comes from
        :mod:`engagement_utils.schemas`.
    namespace : mapping, optional
        Where the parameters live: ``globals()`` of the notebook.

    Returns
    -------
    SimpleNamespace or Path
        The validated parameters (``p.events_path`` ...) when ``notebook`` is
        given; otherwise the project root.

    Examples
    --------
    A notebook's setup cell::

        from engagement_utils.notebook import setup_notebook
        p = setup_notebook("00_data_overview", globals())
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
    if notebook is None:
        return root
    from .params import check_parameters, notebook_schema

    return check_parameters(namespace if namespace is not None else {}, notebook_schema(notebook))
