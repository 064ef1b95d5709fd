"""Parameters of ``notebooks/02_engagement_overview.ipynb``."""

from ..periods import PERIODS

NOTEBOOK = "02_engagement_overview"
SCHEMA = {
    "dataset": "dataset", "start": "date", "end": "date", "tz": "optional_str",
    "period": PERIODS, "session_timeout": "timedelta", "conversion_events": "list", "cart_events": "list",
    "checkout_events": "list", "funnel_steps": "list", "active_events": "list", "funnel_window": "timedelta",
    "funnel_ordering": ("sequential", "strict", "any"),
    "segment": "optional_str", "path_column": "optional_str", "churn_days": "int", "min_group_size": "int",
}
