"""Parameters of ``notebooks/00_data_overview.ipynb``.

``dataset`` is a data-set description (a YAML file or a mapping, see
:mod:`engagement_utils.dataset`); ``tz`` and ``end`` default to the data set's
(blank = the data set's; ``tz`` is checked by ``overview.run_settings``).
"""

from ..periods import PERIODS

NOTEBOOK = "00_data_overview"
SCHEMA = {
    "dataset": "dataset", "start": "date", "end": "date", "tz": "optional_str", "period": PERIODS,
    "top_values": "int", "min_group_size": "int",
}
