"""Build self-contained HTML reports from the notebooks (``engagement-report``).

Each selected notebook is executed with papermill, converted by nbconvert
into one HTML file (code hidden, figures embedded, nothing loaded from the
network) and listed in ``<output_dir>/index.html``.

Usage::

    engagement-report                                  # every notebooks/*.ipynb
    engagement-report 01_cohort_retention -p period month
    engagement-report --params reports/params/online_retail.yml
    engagement-report --list                           # notebooks and their parameters
    engagement-report --timeout 300                    # stop a cell after 5 minutes
    engagement-report --timings                        # seconds per section, and OUTPUT_DIR/timings.csv

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

A notebook that declares ``export_dir`` gets the run's exports folder
(``--exports-dir``, default ``<output_dir>/../exports/<name>``): files with
user ids go there, never into the report folder that gets sent around.

Outputs
-------
``<output_dir>/<notebook>.html`` (its header shows the build time and the
fingerprint of its inputs: parameters and the input files' paths, sizes and
modification times), ``<output_dir>/index.html`` listing every report in
the folder -- also those of earlier runs, marked stale when their inputs
changed since, and those kept after a failed run -- and for a failed
notebook its executed copy ``<output_dir>/_failed/<notebook>.ipynb``.  A
failed notebook leaves its previous good report untouched and does not stop
the others.  Apart from the build time, the same inputs give the same bytes.
While a run writes into a folder it holds ``<output_dir>/.engagement-report.lock``;
a second run into the same folder refuses, naming the lock and its pid.

Exit status: 0 when every report was built, 1 when a notebook failed, 2 for
a usage error (unknown notebook or parameter, bad parameter file, Jupyter
kernel not set up), 3 when another run holds the folder's lock.

Modules: :mod:`.config` (parameter files, CLI values, the plan),
:mod:`.render` (HTML of a report and of the index), :mod:`.folder` (records,
index entries, lock), :mod:`.run` (the papermill runner), :mod:`.timings` (seconds per
cell and section, ``--timings``), :mod:`.cli`.
"""

from .cli import main
from .config import UsageError, load_params_file, parse_cli_value
from .folder import FolderLockedError
from .render import IndexEntry, remote_resources, render_html, render_index
from .run import KernelSetupError, NotebookResult, RunSummary, build_reports, check_kernel

__all__ = [
    "FolderLockedError",
    "IndexEntry",
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
