"""Personas: per-user features, RFM segments, behavioural clusters described in words.

Pipeline (DESIGN §5 "Personas")::

    log = EventLog(events, tz=tz)                      # or a plain events frame
    features = user_features(log)                      # UserFeatures: .table, one row per user
    scores = rfm(features)                             # R/F/M scores of the buyers + named segments
    seg = segment_users(features)                      # k-means on log/scaled features, k by silhouette
    cards = describe_personas(features, seg.labels)    # PersonaCards: .table, .names, .text
    outcomes = persona_outcomes(log, seg.labels, names=cards.names)   # .table, .text
    export_personas(seg.labels, "exports", names=cards.names)         # user ids: never into reports/

Modules: :mod:`.features`, :mod:`.rfm`, :mod:`.clusters` (k-means, PCA
projection), :mod:`.profiles` (the numbers of a profile), :mod:`.describe`
(every sentence: names, descriptions, readings), :mod:`.outcomes`, :mod:`.export`.
"""

from .clusters import FIT_USERS, Projection, Segmentation, nearest_center, project_personas, segment_users
from .describe import (
    FEATURE_WORDS,
    PersonaCards,
    best_converting,
    contrast_text,
    describe_personas,
    export_text,
    grid_text,
    key_numbers,
    left_out_notes,
    outcomes_caption,
    persona_names,
    retention_text,
    rfm_display,
    rfm_measure,
    rfm_text,
    segment_text,
)
from .export import EXPORT_FILE, export_personas
from .features import SESSION_FEATURES, UserFeatures, feature_table, omitted_features, user_features
from .outcomes import PersonaOutcomes, persona_outcomes
from .profiles import feature_zscores, persona_profiles
from .sections import count_features, persona_sections
from .rfm import NO_PURCHASE, RFM_SEGMENTS, TIES, UNMAPPED, rfm, rfm_grid, rfm_summary

__all__ = [
    "user_features", "omitted_features", "feature_table", "UserFeatures", "SESSION_FEATURES",
    "rfm", "rfm_summary", "rfm_grid", "RFM_SEGMENTS", "TIES", "UNMAPPED", "NO_PURCHASE",
    "segment_users", "Segmentation", "project_personas", "Projection", "FIT_USERS", "nearest_center",
    "feature_zscores", "persona_profiles",
    "describe_personas", "PersonaCards", "persona_names", "FEATURE_WORDS", "key_numbers", "left_out_notes",
    "best_converting", "retention_text", "segment_text", "contrast_text", "rfm_text", "rfm_display", "rfm_measure", "outcomes_caption", "grid_text", "export_text",
    "persona_outcomes", "PersonaOutcomes",
    "export_personas", "EXPORT_FILE", "count_features", "persona_sections",
]
