"""Parameters of ``notebooks/03_ab_test.ipynb``.

Input shapes (the first given wins): ``summary_path`` (per-arm statistics), ``per_user_path``
(one row per user), ``events_path`` + ``assignments_path`` (event log and assignments).
"""

from ..stats import ALTERNATIVES, CORRECTIONS

NOTEBOOK = "03_ab_test"
SCHEMA = {
    "events_path": "optional_path", "assignments_path": "optional_path", "per_user_path": "optional_path",
    "summary_path": "optional_path", "experiment": "str", "control": "str", "metrics": "dict",
    "primary_metrics": "list", "secondary_metrics": "list", "guardrails": "dict", "lower_is_better": "list",
    "conversion_events": "list", "conversion_days": "int", "window_days": "int", "pre_period_days": "int",
    "end": "date", "tz": "tz", "alpha": "float", "alternative": ALTERNATIVES, "correction": CORRECTIONS,
    "use_cuped": "bool", "covariates": "dict", "sequential": "bool", "planned_n": "int", "expected_split": "dict", "prior_sd": "float", "minimum_effect": "float", "segment": "optional_str",
    "power": "float", "planning_mdes": "list",
}
