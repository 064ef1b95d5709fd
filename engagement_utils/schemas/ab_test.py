"""Parameters of ``notebooks/03_ab_test.ipynb``.

The experiment comes from the data-set description (``dataset``): its ``experiment_summary``
(per-arm statistics), else its ``experiment_users`` (one row per user), else its
``assignments`` with the ``events`` (see :mod:`engagement_utils.experiments.loading`).
"""

from ..stats import ALTERNATIVES, CORRECTIONS

NOTEBOOK = "03_ab_test"
SCHEMA = {
    "dataset": "dataset", "experiment": "optional_str", "control": "str", "metrics": "dict",
    "primary_metrics": "list", "secondary_metrics": "list", "guardrails": "dict", "lower_is_better": "list",
    "conversion_events": "list", "conversion_days": "int", "window_days": "int", "pre_period_days": "int",
    "end": "date", "tz": "optional_str", "alpha": "float", "alternative": ALTERNATIVES, "correction": CORRECTIONS,
    "use_cuped": "bool", "covariates": "dict", "sequential": "bool", "planned_n": "int", "expected_split": "dict", "prior_sd": "float", "minimum_effect": "float", "segment": "optional_str",
    "power": "float", "planning_mdes": "list",
}
