"""Parameters of ``notebooks/00_data_overview.ipynb``."""

from ..periods import PERIODS

NOTEBOOK = "00_data_overview"
SCHEMA = {
    "events_path": "path", "users_path": "optional_path", "source_options": "dict", "start": "date", "end": "date",
    "tz": "tz", "period": PERIODS, "top_values": "int",
}
