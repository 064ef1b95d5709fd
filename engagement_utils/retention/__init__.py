"""Cohort retention (DESIGN §5): per-user flags, cohort matrices, pooled curves, comparisons.

* :mod:`.log` — the primitives: the event log cut at the data end, members, the lookup;
* :mod:`.cohorts` — user flags, cohorts, N-period / unbounded / bracket matrices, the definition;
* :mod:`.curves` — pooled curves and their milestones;
* :mod:`.compare` — period-by-period comparisons;
* :mod:`.narrative` — the sentences.
"""

from ..core import MISSING_SEGMENT
from .cohorts import assign_cohorts, bracket_retention, default_brackets, retention_definition, retention_matrix, retention_table, user_retention
from .compare import RetentionComparison, SegmentRetention, compare_retention, compare_segments
from .curves import CURVE_METHODS, retention_curve, retention_summary
from .log import CLOCKS, COHORT_TYPES, KINDS, RetentionDefinition
from .narrative import describe_comparison

__all__ = [
    "KINDS", "COHORT_TYPES", "CLOCKS", "CURVE_METHODS", "MISSING_SEGMENT",
    "user_retention", "assign_cohorts", "retention_matrix", "retention_table", "bracket_retention",
    "retention_definition", "RetentionDefinition", "retention_curve", "retention_summary",
    "compare_retention", "RetentionComparison", "compare_segments", "SegmentRetention", "describe_comparison",
    "default_brackets",
]
