"""Parameter schemas of the shipped notebooks, one module per notebook.

A notebook's ``parameters`` cell holds plain assignments (papermill injects
values there); the types and allowed values live here, declared once, and the
setup cell validates them with
``p = setup_notebook("03_ab_test", globals())``.  Spec names are those of
:data:`engagement_utils.params.SPECS`; a tuple lists the allowed values.
"""

from . import ab_test, cohort_retention, data_overview, engagement_overview, personas

SCHEMAS: dict[str, dict] = {
    module.NOTEBOOK: module.SCHEMA
    for module in (data_overview, cohort_retention, engagement_overview, ab_test, personas)
}

__all__ = ["SCHEMAS"]
