"""Parameters of ``notebooks/01_cohort_retention.ipynb``.

``dataset`` is a data-set description (a YAML file or a mapping, see
:mod:`engagement_utils.dataset`); ``start_events`` / ``return_events`` blank
take the data set's roles, ``tz`` and ``end`` blank the data set's
(``tz`` is checked by ``overview.run_settings``).
"""

from ..periods import PERIODS

NOTEBOOK = "01_cohort_retention"
SCHEMA = {
    "dataset": "dataset", "period": PERIODS,
    "kind": ("n_period", "unbounded"), "cohorts": ("first_time", "recurring"), "start_events": "list",
    "return_events": "list", "segment": "optional_str", "user_segments": "list", "start": "date", "end": "date",
    "tz": "optional_str", "max_periods": "int", "clock": ("calendar", "rolling"), "include_partial": "bool",
    "alpha": "float", "min_group_size": "int",
}
