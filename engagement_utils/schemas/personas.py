"""Parameters of ``notebooks/04_personas.ipynb``."""

NOTEBOOK = "04_personas"
SCHEMA = {
    "dataset": "dataset", "tz": "optional_str",
    "end": "date", "window": "timedelta", "conversion_events": "list", "cart_events": "list", "count_events": "dict",
    "cluster_features": "list", "k": "auto_or_int", "k_min": "int", "k_max": "int", "random_state": "int",
    "rfm_bins": "int", "rfm_frequency": ("orders", "active_days", "sessions"), "rfm_ties": ("average", "first"),
    "segment": "optional_str", "min_group_size": "int", "alpha": "float", "export_dir": "optional_str",
}
