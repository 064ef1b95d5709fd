"""Parameters of ``notebooks/01_cohort_retention.ipynb``."""

from ..periods import PERIODS

NOTEBOOK = "01_cohort_retention"
SCHEMA = {
    "events_path": "path", "users_path": "optional_path", "source_options": "dict", "period": PERIODS,
    "kind": ("n_period", "unbounded"), "cohorts": ("first_time", "recurring"), "start_events": "list",
    "return_events": "list", "segment": "optional_str", "user_segments": "list", "start": "date", "end": "date",
    "tz": "tz", "max_periods": "int", "clock": ("calendar", "rolling"), "include_partial": "bool",
    "alpha": "float", "min_group_size": "int",
}
