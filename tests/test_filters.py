"""Row conditions (engagement_utils.filters): the language, its meaning on hand-made rows, its messages."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from engagement_utils import io
from engagement_utils.dataset import DataSetError, describe_dataset, load_dataset
from engagement_utils.filters import And, Condition, Not, Or, evaluate, parse_condition, parse_filters
from engagement_utils.io import DataValidationError, cache
from engagement_utils.sources import cleaning_log, load_source, parse_expression


def visits() -> pd.DataFrame:
    """Six users, one row each, with missing values in every column a test reads."""
    return pd.DataFrame({
        "user_id": [1, 2, 3, 4, 5, 6],
        "timestamp": ["2024-01-01"] * 6,
        "group": ["home", "landing_page", "shop", None, "shop", "home"],
        "landing_page": ["home", "home", "shop", "shop", None, "cart"],
        "country": ["UK", "FR", "UK", "DE", None, "FR"],
        "pages": [1, 5, 3, None, 2, 8],
        "limit": [2, 5, 1, 4, 2, 9],
    })


def load(*steps: dict) -> pd.DataFrame:
    return load_source(visits(), event="visit", filters=list(steps))


def kept(condition: str) -> list[int]:
    """The users a ``keep`` step with ``condition`` leaves."""
    return load({"keep": condition})["user_id"].tolist()


def message(error: pytest.ExceptionInfo) -> str:
    return str(error.value)


# --------------------------------------------------------------------------- precedence and grouping


def test_and_binds_tighter_than_or():
    # UK (1, 3) or (FR and pages > 4) (2, 6); grouping from the left would give only 2 and 6.
    assert kept("country == UK or country == FR and pages > 4") == [1, 2, 3, 6]
    assert kept("(country == UK or country == FR) and pages > 4") == [2, 6]
    tree = parse_condition("a == 1 or b == 1 and c == 1")
    assert isinstance(tree, Or) and isinstance(tree.operands[1], And)


def test_not_binds_tighter_than_and():
    # (not UK: 2, 4, 5, 6) and (pages > 2: 2, 3, 6); 'not (UK and pages > 2)' would keep all but 3.
    assert kept("not country == UK and pages > 2") == [2, 6]
    assert kept("not (country == UK and pages > 2)") == [1, 2, 4, 5, 6]
    assert kept("not (country == UK or pages > 4)") == [4, 5]
    assert kept("not not country == UK") == [1, 3]


def test_keywords_in_any_case_and_chains_flatten():
    assert kept("country == DE OR pages >= 8 Or country == UK AND pages < 2") == [1, 4, 6]
    assert parse_condition("a == 1 or (b == 1 or c == 1)") == parse_condition("(a == 1 or b == 1) or c == 1")
    assert len(parse_condition("a == 1 or b == 1 or c == 1").operands) == 3


# --------------------------------------------------------------------------- columns and literals


def test_a_backticked_name_on_the_right_is_a_column():
    # (group, landing_page): (home, home) (landing_page, home) (shop, shop) (-, shop) (shop, -) (home, cart)
    assert kept("group != `landing_page`") == [2, 6]
    assert kept("group == `landing_page`") == [1, 3]
    assert kept("pages < `limit`") == [1, 6]
    assert kept("pages >= `limit`") == [2, 3, 5]


def test_a_bare_word_on_the_right_stays_text_and_is_flagged_when_it_names_a_column():
    bare = load({"keep": "group != landing_page"})
    assert bare["user_id"].tolist() == [1, 3, 5, 6]  # compared with the text "landing_page", as before
    warnings = io.load_report(bare).warnings
    flagged = [w for w in warnings if "also has a column 'landing_page'" in w]
    assert len(flagged) == 1 and "write `landing_page`" in flagged[0] and "filters step 1" in flagged[0]
    quoted = load({"keep": "group != 'landing_page'"})
    assert quoted["user_id"].tolist() == [1, 3, 5, 6]
    assert not any("also has a column" in w for w in io.load_report(quoted).warnings)
    # Text tests and lists take no column, so a bare word there is not flagged.
    for condition in ("group contains landing_page or group == x", "group in [landing_page, home]"):
        assert not any("also has a column" in w for w in io.load_report(load({"keep": condition})).warnings)


def test_quoting_forces_text_and_numbers_stay_numbers():
    assert parse_condition("code == '5'").value == "5"
    assert parse_condition("code == 5").value == 5.0
    assert parse_condition("code == `5`").value.name == "5"


def test_in_lists_of_text_and_of_numbers():
    assert kept("country in [UK, 'FR']") == [1, 2, 3, 6]
    assert kept("pages in [1, 2, 8]") == [1, 5, 6]
    assert kept("country in [DE]") == [4]
    assert parse_condition("tag in [a,b]").value == ("a", "b")
    assert parse_condition("tag == a,b").value == "a,b"  # outside a list a comma is part of the word, as before


# --------------------------------------------------------------------------- missing values


def test_a_test_on_a_missing_value_is_false_and_not_makes_it_true():
    assert kept("country != UK") == [2, 4, 6]  # user 5 has no country: not known to differ
    assert kept("country not in [UK]") == [2, 4, 6]
    assert kept("pages not in [1, 2]") == [2, 3, 6]  # user 4 has no page count
    assert kept("not country == UK") == [2, 4, 5, 6]
    assert kept("not country in [UK]") == [2, 4, 5, 6]
    assert kept("group == `landing_page` or group != `landing_page`") == [1, 2, 3, 6]  # 4 and 5 miss a side


def test_keep_x_and_drop_not_x_remove_the_same_rows():
    condition = "pages > 2 or country == DE"
    assert kept(condition) == [2, 3, 4, 6]
    assert load({"drop": f"not ({condition})"})["user_id"].tolist() == [2, 3, 4, 6]


def test_is_missing_forms_keep_their_meaning():
    assert kept("country is missing or pages is missing") == [4, 5]
    assert kept("country IS NOT missing and not pages is missing") == [1, 2, 3, 6]


# --------------------------------------------------------------------------- cleaning log and event rules


def test_each_compound_step_is_logged_with_the_rows_it_removed():
    ev = load({"drop": "country == DE or pages is missing"}, {"keep": "(country == UK or country == FR) and pages > 1"})
    log = cleaning_log(ev)
    assert log["rule"].tolist()[:2] == ["drop country == DE or pages is missing",
                                        "keep (country == UK or country == FR) and pages > 1"]
    assert log["rows_removed"].tolist()[:2] == [1, 2]  # user 4; then 1 (one page) and 5 (no country)
    assert "keep (country == UK or country == FR) and pages > 1: 2 row(s) removed" in io.load_report(ev).warnings


@pytest.mark.parametrize("condition", [
    "a == 1 or not (b in [x, 'y z'] and c != `d`)",
    "not (a > -1.5 or `odd name` is missing) and e not in [1, 2]",
    "a == 'and' and b == \"it's\" and c == 'Zürich'",
])
def test_logged_text_reads_back_as_the_same_condition(condition):
    parsed = parse_condition(condition)
    assert parse_condition(str(parsed)) == parsed


def test_event_rules_take_compound_conditions():
    ev = load_source(visits(), event="visit", event_rules={"deep_visit": "pages > 4 and not country == DE"})
    assert ev.loc[ev["event"] == "deep_visit", "user_id"].tolist() == [2, 6]


# --------------------------------------------------------------------------- messages


def test_an_unknown_column_is_named_with_the_closest_and_those_present():
    with pytest.raises(DataValidationError) as caught:
        load({"keep": "pages > 1 and contry == UK"})
    text = message(caught)
    assert "filters names column 'contry'" in text and "closest existing column: 'country'" in text
    assert "columns present: 'user_id', 'timestamp', 'group', 'landing_page', 'country', 'pages', 'limit'" in text
    with pytest.raises(DataValidationError, match=r"names column 'landing_pag'.*closest existing column: 'landing_page'"):
        load({"keep": "group == `landing_pag`"})


@pytest.mark.parametrize("condition, position, expected", [
    ("pages > 1 and (country == UK", 28, "expected 'and', 'or' or ')' to close the '(' at position 14, found the end"),
    ("pages >> 1", 7, "expected a value after '>', found '>'"),
    ("pages > 1 and", 13, "expected a condition (a column name first), found the end"),
    ("country == United Kingdom", 18, "expected exactly one value after the operator"),
    ("country in UK", 11, "expected '[' after 'in'"),
    ("country in [UK, FR", 18, "expected ',' or ']' to close the list, found the end"),
    ("pages > 1)", 9, "found ')' with no '(' open"),
    ("country == 'UK", 11, "unclosed '"),
    ("pages = 1", 6, "cannot read '= 1'"),
    ("pages > many", 8, "'>' compares numbers, but 'many' is not a number"),
])
def test_a_syntax_error_shows_the_text_with_a_caret(condition, position, expected):
    with pytest.raises(ValueError) as caught:
        parse_filters([{"keep": condition}])
    first, shown, caret = message(caught).splitlines()[:3]
    assert first.startswith(f"filters step 1 (keep) {condition!r}: ") and expected in first
    assert first.endswith(f"at position {position}")
    assert shown == f"    {condition}"
    assert caret == " " * (4 + position) + "^"


def test_two_columns_of_different_kinds_are_named_with_their_types():
    with pytest.raises(DataValidationError) as caught:
        load({"keep": "pages == `country`"})
    text = message(caught)
    assert "column 'pages' holds numbers (float64)" in text and "column 'country' holds text" in text
    with pytest.raises(DataValidationError, match=r"'<' orders numbers or dates, but columns 'group' and 'country' hold text"):
        load({"keep": "group < `country`"})
    with pytest.raises(DataValidationError, match=r"column 'country' .* non-numeric value"):
        load({"keep": "country > 3"})


def test_lists_refuse_columns_and_mixed_kinds():
    with pytest.raises(ValueError, match="a list holds values, not columns"):
        parse_condition("a in [x, `y`]")
    with pytest.raises(ValueError, match="either numbers or text"):
        parse_condition("a in [1, x]")
    with pytest.raises(ValueError, match="'startswith' takes a text value, not a column"):
        parse_condition("a startswith `b`")


# --------------------------------------------------------------------------- hostile text


def test_hostile_values_are_plain_text():
    names = ["it's", 'say "hi"', "Zürich", "東京", "'; DROP TABLE x; --", "__import__('os').system('x')"]
    frame = pd.DataFrame({"user_id": range(1, 7), "timestamp": ["2024-01-01"] * 6, "name": names,
                          "prix €": [1, 2, 3, 4, 5, 6]})

    def users(condition):
        return load_source(frame, event="x", filters=[{"keep": condition}])["user_id"].tolist()

    assert users('name == "it\'s"') == [1]
    assert users("name == 'say \"hi\"'") == [2]
    assert users("name == Zürich or name == 東京") == [3, 4]
    assert users("name in [東京, \"'; DROP TABLE x; --\"]") == [4, 5]
    assert users("name == \"__import__('os').system('x')\"") == [6]
    assert users("`prix €` > 5") == [6]
    assert users("name contains 'DROP TABLE'") == [5]


def test_hostile_shapes_are_value_errors():
    with pytest.raises(ValueError, match="nested deeper than 100 levels"):
        parse_condition("(" * 5000 + "a > 1" + ")" * 5000)
    with pytest.raises(ValueError, match="nested deeper than 100 levels"):
        parse_condition("not " * 5000 + "a > 1")
    with pytest.raises(ValueError, match="revenue expression.*nested deeper than 100 levels"):
        parse_expression("-" * 5000 + "Quantity")  # the revenue expression shares the guard
    with pytest.raises(ValueError, match="expected a non-empty string"):
        parse_filters([{"keep": 5}])
    # A long flat chain is fine: it is one node, evaluated without recursion per operand.
    chain = parse_condition(" or ".join(["pages == 1"] * 3000))
    assert len(chain.operands) == 3000
    assert evaluate(chain, visits(), "filter").tolist() == [True, False, False, False, False, False]


def test_the_prepared_events_cache_is_keyed_on_the_condition_code(monkeypatch):
    # Cached frames must not outlive a change to how conditions are read or evaluated.
    before = cache._code_version()
    real = Path.read_bytes
    for name in ("filters.py", "_grammar.py"):
        cache._code_version.cache_clear()
        monkeypatch.setattr(Path, "read_bytes", lambda self, name=name: real(self) + (b"#" if self.name == name else b""))
        assert cache._code_version() != before
    monkeypatch.undo()
    cache._code_version.cache_clear()


def test_inputs_are_not_modified():
    frame = visits()
    before = frame.copy()
    evaluate(parse_condition("group != `landing_page` or not pages < `limit`"), frame, "filter")
    load_source(frame, event="visit", filters=[{"keep": "country in [UK, FR] and pages > 1"}])
    pd.testing.assert_frame_equal(frame, before)


def test_a_single_test_is_still_a_condition():
    assert parse_condition("`Customer ID` is not missing") == Condition("Customer ID", "is not missing", None)
    assert isinstance(parse_condition("not a > 1"), Not)


# --------------------------------------------------------------------------- data-set descriptions


def test_a_filter_in_a_data_set_description_end_to_end(tmp_path):
    visits().rename(columns={"user_id": "uid", "timestamp": "ts"}).to_csv(tmp_path / "visits.csv", index=False)
    description = {
        "name": "visits",
        "events": {
            "path": "visits.csv",
            "column_map": {"uid": "user_id", "ts": "timestamp"},
            "event": "visit",
            "filters": [
                {"keep": "(country == UK or country == FR) and pages > 1"},
                {"drop": "group == `landing_page`"},
            ],
        },
    }
    # Through a YAML file, as a stored description is: backticks and brackets must survive YAML.
    path = tmp_path / "visits.yml"
    path.write_text(yaml.safe_dump(description, allow_unicode=True))
    ds = load_dataset(path, root=tmp_path)
    assert ds.events["user_id"].tolist() == [2, 6]  # UK/FR with pages > 1: 2, 3, 6; user 3's group is its landing page
    log = cleaning_log(ds.events)
    assert log["rule"].tolist()[:2] == ["keep (country == UK or country == FR) and pages > 1", "drop group == `landing_page`"]
    assert log["rows_removed"].tolist()[:2] == [3, 1]


def test_a_data_set_description_with_a_broken_filter_fails_before_loading(tmp_path):
    description = {"events": {"path": "no_such_file.csv", "event": "visit",
                              "filters": [{"keep": "pages > 1 and (country == UK"}],
                              "event_rules": {"deep": "pages >"}}}
    with pytest.raises(DataSetError) as caught:
        describe_dataset(description, root=tmp_path)
    problems = caught.value.problems
    assert len(problems) == 2
    assert problems[0].startswith("events.filters: filters step 1 (keep) 'pages > 1 and (country == UK'") and "^" in problems[0]
    assert problems[1].startswith("events.event_rules.deep: event_rules['deep'] 'pages >': expected a value after '>'")
