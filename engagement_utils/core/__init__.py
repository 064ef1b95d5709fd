"""The event-log core shared by every analysis (see :class:`EventLog`).

:mod:`.eventlog` holds the canonical events and their derived arrays;
:mod:`.scans` the aggregations that grow with the number of events — the
functions another engine replaces.
"""

from .eventlog import MISSING_SEGMENT, REQUIRED_COLUMNS, EventLog, Segment, as_utc, segment_labels, sorted_labels
from .scans import activity_keys, engine_of, event_source, first_per_key

__all__ = ["EventLog", "Segment", "MISSING_SEGMENT", "REQUIRED_COLUMNS", "as_utc", "segment_labels", "sorted_labels",
           "activity_keys", "engine_of", "event_source", "first_per_key"]
