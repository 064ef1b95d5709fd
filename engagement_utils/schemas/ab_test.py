"""Parameters of ``notebooks/03_ab_test.ipynb``."""

NOTEBOOK = "03_ab_test"
SCHEMA = {
    "events_path": "path", "assignments_path": "path", "experiment": "str", "control": "str",
    "primary_metrics": "list", "secondary_metrics": "list", "guardrails": "dict", "conversion_events": "list",
    "conversion_days": "int", "window_days": "int", "pre_period_days": "int", "tz": "tz", "alpha": "float",
    "correction": ("holm", "bh", "none"), "use_cuped": "bool", "winsorize": "float",
    "prior_alpha": "float", "prior_beta": "float", "power": "float", "planning_mdes": "list",
}
