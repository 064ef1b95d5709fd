"""Parameters of ``notebooks/02_engagement_overview.ipynb``."""

from ..periods import PERIODS

NOTEBOOK = "02_engagement_overview"
SCHEMA = {
    "events_path": "path", "users_path": "optional_path", "spend_path": "optional_path",
    "surveys_path": "optional_path", "start": "date", "end": "date", "tz": "tz",
    "period": PERIODS, "session_timeout": "timedelta", "conversion_events": "list", "cart_events": "list",
    "funnel_steps": "list", "funnel_window": "timedelta", "funnel_ordering": ("sequential", "strict", "any"),
    "segment": "str", "path_column": "str", "churn_days": "int", "min_group_size": "int",
}
