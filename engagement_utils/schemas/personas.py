"""Parameters of ``notebooks/04_personas.ipynb``."""

NOTEBOOK = "04_personas"
SCHEMA = {
    "events_path": "path", "users_path": "optional_path", "source_options": "dict", "tz": "tz",
    "as_of": "date", "window": "timedelta", "count_events": "dict", "cluster_features": "list",
    "k": "auto_or_int", "k_min": "int", "k_max": "int", "random_state": "int", "rfm_bins": "int",
    "rfm_frequency": ("orders", "active_days", "sessions"), "channel": "str", "min_group": "int", "export_path": "str",
}
