"""Loading and validating the canonical input tables (DESIGN §4).

Every loader accepts a path (CSV, gzipped CSV, TSV or Parquet) or an
in-memory DataFrame, an optional ``column_map`` from the user's column names
to the canonical ones, and returns a new, validated frame.  Input files and
DataFrames are never modified.

All problems found in one pass are collected and raised together as one
:class:`DataValidationError`, so an analyst fixes an export once rather than
once per error.

Canonical events frame
----------------------
``user_id`` (category), ``timestamp`` (datetime64[ns, UTC]), ``event``
(category), plus any optional column (``session_id``, ``platform``,
``channel``, ``country``, ``screen``: category; ``revenue``: float64; other
text properties: category).  Rows are sorted by ``user_id`` then
``timestamp`` with a fresh RangeIndex.  A summary of what loading did (rows
read, duplicates dropped, rows outside the date window, warnings) is kept in
``frame.attrs["load_report"]``; see :func:`load_report`.

Modules
-------
``read`` (Arrow-native file reading, encodings, delimiters), ``validate``
(vectorized checks), ``events`` (:func:`load_events`), ``tables`` (the other
loaders), ``cache`` (the prepared-events cache), ``report`` (errors and the
load report).
"""

from __future__ import annotations

from .cache import CACHE_ENV, cache_dir, clear_cache
from .events import load_events
from .read import read_table
from .report import DataValidationError, LoadReport, closest_column, describe_source, load_report
from .tables import SURVEY_SCALES, attach_user_properties, load_assignments, load_spend, load_surveys, load_users
from .validate import clean_ids

__all__ = [
    "DataValidationError",
    "LoadReport",
    "load_events",
    "load_assignments",
    "load_spend",
    "load_users",
    "load_surveys",
    "load_report",
    "attach_user_properties",
    "read_table",
    "clean_ids",
    "closest_column",
    "describe_source",
    "cache_dir",
    "clear_cache",
    "CACHE_ENV",
    "SURVEY_SCALES",
]
