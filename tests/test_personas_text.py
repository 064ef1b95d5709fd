"""Personas: the sentences (describe.py) on the shapes that used to break them, and the result objects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engagement_utils import personas


def _log(rows):
    frame = pd.DataFrame(rows, columns=["user_id", "timestamp", "event", "revenue"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


@pytest.fixture
def two_persona_log():
    """Persona 0 (a, b, c) all buy; persona 1 (d, e, f) never buys; g is in no user table."""
    rows = []
    for user in "abc":
        rows += [(user, "2024-01-01 10:00", "app_open", None), (user, "2024-01-02 10:00", "purchase", 10.0)]
    for user in "defg":
        rows += [(user, "2024-01-01 11:00", "app_open", None), (user, "2024-01-03 11:00", "app_open", None)]
    labels = pd.Series({"a": 0, "b": 0, "c": 0, "d": 1, "e": 1, "f": 1, "g": 1})
    users = pd.DataFrame({"user_id": list("abcdef"), "acquisition_channel": ["ads", "ads", "seo", "ads", "seo", "seo"]})
    return _log(rows), labels, users


def test_segment_text_when_a_persona_never_converts(two_persona_log):
    # The 10M-event failure: every segment index of a persona without converters is NaN, and
    # groupby(...).idxmax() raised "encountered all NA values in a group".
    events, labels, users = two_persona_log
    out = personas.persona_outcomes(events, labels, names={0: "Buyers", 1: "Lookers"}, users=users, max_days=1,
                                    min_group_size=1)
    seg = out.segments
    assert seg.loc[seg["persona"] == "Lookers", "index"].isna().all()
    assert set(seg.loc[seg["persona"] == "Lookers", "segment"]) == {"ads", "seo", "(missing)"}  # g has no user row
    text = personas.segment_text(out)
    assert "Lookers: no member converted" in text and "Buyers: " in text and "nan" not in text.lower()
    assert text in out.text


def test_segment_text_when_every_group_is_small(two_persona_log):
    events, labels, users = two_persona_log
    out = personas.persona_outcomes(events, labels, users=users, max_days=1, min_group_size=50)
    text = personas.segment_text(out)
    assert "Persona 0: no acquisition channel with at least 50 users" in text
    assert "Persona 1: no member converted" in text


def test_no_segment_column_is_said_not_raised(two_persona_log):
    events, labels, _ = two_persona_log
    out = personas.persona_outcomes(events, labels, max_days=1)
    assert out.segments is None
    assert personas.segment_text(out).startswith("No 'acquisition_channel' column")


@pytest.mark.parametrize("rates, expected", [
    ([1.0, 1.0, 1.0], "all personas converted (100%)"),
    ([0.0, 0.0], "no persona converted"),
    ([0.25, 0.5, 0.5], "B and C (50%)"),
    ([0.999, 1.0], "B (100%)"),
])
def test_best_converting_says_all_or_none(rates, expected):
    summary = pd.DataFrame({"persona": list("ABC")[:len(rates)], "conversion_rate": rates})
    assert personas.best_converting(summary) == expected


def test_key_numbers_when_every_persona_converts():
    rows = [(u, f"2024-01-0{d} 10:00", e, 5.0 if e == "purchase" else None)
            for u, days in (("a", 3), ("b", 3), ("c", 1), ("d", 1), ("e", 2), ("f", 1)) for d in range(1, days + 1)
            for e in ("app_open", "purchase")]
    events = _log(rows)
    features = personas.user_features(events)
    seg = personas.segment_users(features, k=2, columns=["active_days"])
    cards = personas.describe_personas(features, seg.labels)
    out = personas.persona_outcomes(events, seg.labels, names=cards.names, max_days=1)
    numbers = personas.key_numbers(features, seg, cards, out)
    assert numbers["Best converting persona"] == "all personas converted (100%)"
    assert numbers["Users"] == "6" and numbers["Personas"].startswith("2 (set; silhouette prefers")


def test_retention_text_falls_back_to_the_last_observed_day():
    curve = pd.DataFrame({"segment": ["A", "A", "B", "B"], "period": [0, 1, 0, 1], "rate": [1, 0.5, 1, 0.25]})
    assert personas.retention_text(curve) == "Day-1 retention runs from 25% (B) to 50% (A)."
    assert "too short" in personas.retention_text(curve[curve["period"] == 0])


def test_segmentation_with_k_and_a_range_scores_the_range_once():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 0.3, (40, 2)) for c in (0, 5, 10)])
    f = pd.DataFrame(X, columns=["events", "y"], index=pd.Index([f"u{i:03d}" for i in range(len(X))], name="user_id"))
    alone = personas.segment_users(f, k=4)
    ranged = personas.segment_users(f, k=4, k_range=range(2, 6))
    pd.testing.assert_series_equal(alone.labels, ranged.labels)
    assert alone.silhouette["k"].tolist() == [4] and ranged.silhouette["k"].tolist() == [2, 3, 4, 5]
    assert ranged.k == 4 and ranged.k_best == 3 and not ranged.chosen_by_silhouette
    assert ranged.text.startswith("Silhouette is highest at k = 3") and "uses k = 4" in ranged.text
    auto = personas.segment_users(f, k_range=range(2, 6))
    assert auto.k == auto.k_best == 3 and auto.chosen_by_silhouette
    skipped = personas.segment_users(f, k=2, columns=["events", "searches"], skip_missing=True)
    assert skipped.dropped == {"searches": "not among the features of this data"}
    notes = personas.left_out_notes(skipped.dropped, {"revenue": "no revenue column", "aov": "no revenue column"})
    assert notes == ["Left out: searches (not among the features of this data).",
                     "Left out: revenue, average order value (no revenue column)."]


def test_projection_is_a_result_object_without_attrs():
    f = pd.DataFrame({"events": [1, 2, 1, 50, 52, 51], "minutes": [1.0, 1.2, 0.9, 30, 29, 31]},
                     index=pd.Index(list("abcdef"), name="user_id"))
    proj = personas.project_personas(f, personas.segment_users(f, k=2))
    assert not proj.table.attrs and len(proj.explained_variance) == 2 and proj.n_features == 2
    assert proj.text.startswith("The two axes keep 100% of the variation of the 2 clustering features")


def test_names_stay_unique_when_traits_cannot_separate_them():
    cards = personas.describe_personas(
        pd.DataFrame({"active_days": [3, 3, 3, 3]}, index=pd.Index(list("abcd"), name="user_id")),
        pd.Series([0, 0, 1, 1], index=list("abcd")))
    assert cards.names.tolist() == ["Occasional window shoppers", "Occasional window shoppers (persona 1)"]


def test_descriptions_pluralize_and_count_orders_per_buyer():
    import pandas as pd

    from engagement_utils.personas import describe_personas

    f = pd.DataFrame({"active_days": [2, 2, 2, 2], "recency_days": [1, 1, 1, 1], "orders": [0, 0, 0, 3],
                      "converted": [False, False, False, True]}, index=pd.Index(list("abcd"), name="user_id"))
    text = describe_personas(f, pd.Series([0, 0, 0, 0], index=f.index)).table["description"].iloc[0]
    assert "last seen 1 day before" in text and "1 days" not in text
    assert "25% of them bought at least once (3 orders per buyer on average)" in text


def test_equal_personas_and_one_buyer_read_right():
    from engagement_utils.personas.describe import PersonaCards, grid_text

    equal = PersonaCards(table=pd.DataFrame({"name": ["A", "B", "C"], "share": [1 / 3] * 3}))
    assert equal.text == "The 3 personas are the same size: 33% of users each."
    sized = PersonaCards(table=pd.DataFrame({"name": ["A", "B"], "share": [0.7, 0.3]}))
    assert sized.text == "The largest persona, A, holds 70% of users; the smallest, B, 30%."
    grid = pd.DataFrame({"R": [3, 1], "F": [1, 2], "users": [1, 1]})
    assert grid_text(grid) == "The most common cell is R = 3, F = 1 with 1 buyer."


def test_rfm_without_revenue_speaks_of_orders_not_money():
    from engagement_utils.display import table_html

    f = pd.DataFrame({"recency_days": [1, 30, 200, 5, 90, 3], "orders": [9, 3, 1, 6, 1, 0]},
                     index=pd.Index(list("abcdef"), name="user_id"))
    measure = personas.rfm_measure(f)
    summary = personas.rfm_summary(personas.rfm(f))
    assert measure == "orders"
    assert " of the orders." in personas.rfm_text(summary, measure) and "monetary" not in personas.rfm_text(summary, measure)
    page = table_html(personas.rfm_display(summary, measure).reset_index(), min_group_size=0)
    assert "Orders share" in page and "Orders total" in page and "Monetary" not in page
    assert personas.outcomes_caption(pd.DataFrame({"conversion_rate": [0.5], "revenue_per_user": [float("nan")]})) == (
        "Conversion per persona")
