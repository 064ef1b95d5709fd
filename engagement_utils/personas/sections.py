"""What report 04 can show on a data set: its sections' needs and the custom event counts from the event roles."""

from __future__ import annotations

from typing import Iterable, Mapping

from .features import UserFeatures, feature_table

__all__ = ["count_features", "persona_sections"]


def count_features(count_events: Mapping[str, str | Iterable[str]] | None, cart_events) -> dict:
    """The custom event counts: ``count_events`` plus ``cart_adds`` from the data set's cart events (when set).

    Examples
    --------
    >>> count_features({"searches": "search"}, ["add_to_cart"])
    {'searches': 'search', 'cart_adds': ['add_to_cart']}
    >>> count_features({}, None)
    {}
    """
    counts = dict(count_events or {})
    if cart_events and "cart_adds" not in counts:
        counts["cart_adds"] = list(cart_events)
    return counts


def persona_sections(prof, features: UserFeatures, *, segment: str | None):
    """The sections of report 04 and what each needs (:func:`data_profile.requires`).

    * Conversion: the conversion-event role, set and occurring.
    * Conversion by segment: conversion and a ``segment`` column in the users table or the events.
    * RFM segments: conversion and at least one buyer (an order or revenue).

    Returns
    -------
    engagement_report.Sections
    """
    from ..data_profile import requires
    from ..engagement_report import Sections

    conversion = requires(roles=["conversion_events"])
    if segment and segment in prof.user_columns:
        by = ()
    else:
        by = requires(event_columns=[segment or "(the segment parameter is blank)"])
    table = feature_table(features)
    bought = any(column in table.columns and bool((table[column] > 0).any()) for column in ("orders", "revenue"))
    extra = {} if bought else {"RFM segments": ["needs buyers: no user has an order or revenue in the feature window"]}
    return Sections({"Conversion": conversion, "Conversion by segment": conversion + by, "RFM segments": conversion},
                    prof, extra)
