"""Loading options of engagement_utils.sources, pinned on tiny hand-made transaction tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from engagement_utils import io
from engagement_utils.io import DataValidationError
from engagement_utils.sources import cleaning_log, load_source, parse_condition, parse_expression

MAP = {"CustomerID": "user_id", "InvoiceDate": "timestamp", "InvoiceNo": "order_id"}


def transactions() -> pd.DataFrame:
    """Seven lines shaped like the Online Retail export (float customer ids, 'C' cancellations)."""
    return pd.DataFrame({
        "InvoiceNo": ["536365", "536365", "536365", "C536379", "536380", "536381", "536382"],
        "StockCode": ["85123A", "71053", "71053", "D", "22632", "22633", "22634"],
        "Quantity": [6, 2, 2, -1, 0, 3, 4],
        "InvoiceDate": ["2010-12-01 08:26:00"] * 3 + ["2010-12-01 09:41:00", "2010-12-01 09:45:00",
                                                      "2010-12-02 10:00:00", "2010-12-03 11:00:00"],
        "UnitPrice": [2.55, 3.39, 3.39, 27.5, 1.0, 0.0, 2.1],
        "CustomerID": [17850.0, 17850.0, 17850.0, 14527.0, 13047.0, 13047.0, np.nan],
    })


def retail(**options) -> pd.DataFrame:
    return load_source(transactions(), column_map=MAP, event="purchase", **options)


def removed(events: pd.DataFrame) -> dict[str, int]:
    log = cleaning_log(events)
    return dict(zip(log["rule"], log["rows_removed"]))


def test_no_options_equals_load_events(tmp_path):
    path = tmp_path / "events.csv"
    pd.DataFrame({"user_id": ["b", "a", "a"], "timestamp": ["2024-01-02", "2024-01-01", "2024-01-01"],
                  "event": ["open", "open", "open"]}).to_csv(path, index=False)
    ours, theirs = load_source(path), io.load_events(path)
    pd.testing.assert_frame_equal(ours, theirs)
    assert ours.attrs["load_report"] == theirs.attrs["load_report"]
    assert removed(ours) == {"drop exact duplicate rows (after column_map)": 1}


def test_each_filter_reports_the_rows_it_removed():
    ev = retail(filters=[
        {"drop": "duplicates"},
        {"drop": "InvoiceNo startswith C"},
        {"keep": "Quantity > 0"},
        {"keep": "UnitPrice > 0"},
        {"drop": "CustomerID is missing"},
    ])
    log = cleaning_log(ev)
    assert log["step"].tolist() == [1, 2, 3, 4, 5, 6]
    assert log["rows_removed"].tolist() == [1, 1, 1, 1, 1, 0]
    assert log["rows_before"].tolist() == [7, 6, 5, 4, 3, 2]
    assert (log["rows_before"] - log["rows_removed"] == log["rows_after"]).all()
    assert ev["order_id"].astype(str).tolist() == ["536365", "536365"]
    report = io.load_report(ev)
    assert report.rows_read == 7 and report.rows_loaded == 2
    assert "keep Quantity > 0: 1 row(s) removed" in report.warnings
    assert "drop InvoiceNo startswith C: 1 row(s) removed" in report.warnings


def test_filters_apply_in_the_order_given():
    # Dropping the missing customer first leaves nothing for 'UnitPrice > 0' to catch twice.
    ev = retail(filters=[{"keep": "UnitPrice > 0"}, {"drop": "InvoiceNo startswith C"}, {"drop": "CustomerID is missing"}])
    assert list(removed(ev).values()) == [1, 1, 1, 1]
    assert len(ev) == 3  # the duplicate line is dropped by load_events, after mapping


def test_float_ids_become_clean_integer_ids():
    ev = retail(filters=[{"drop": "CustomerID is missing"}])
    assert sorted(ev["user_id"].cat.categories.tolist()) == [13047, 14527, 17850]
    assert pd.api.types.is_integer_dtype(ev["user_id"].cat.categories.dtype)


def test_id_columns_clean_other_float_ids():
    raw = transactions().assign(InvoiceNo=[536365.0, 536365.0, 536365.0, 536379.0, 536380.0, 536381.0, 536382.0])
    ev = load_source(raw, column_map=MAP, event="purchase", filters=[{"drop": "CustomerID is missing"}],
                     id_columns=["InvoiceNo"])
    assert isinstance(ev["order_id"].dtype, pd.CategoricalDtype)
    assert sorted(ev["order_id"].cat.categories.tolist()) == [536365, 536379, 536380, 536381]


def test_refund_rule_names_the_event_and_keeps_revenue_positive():
    ev = retail(event_rules={"refund": "InvoiceNo startswith C"}, revenue="Quantity * UnitPrice",
                filters=[{"drop": "CustomerID is missing"}])
    refund = ev[ev["event"] == "refund"]
    assert refund["order_id"].astype(str).tolist() == ["C536379"]
    assert refund["revenue"].tolist() == [27.5]  # -1 × 27.50, the sign carried by the event name
    purchases = ev[ev["event"] == "purchase"]
    assert purchases["revenue"].round(2).tolist() == [0.0, 0.0, 15.3, 6.78]
    assert set(ev["event"].cat.categories) == {"purchase", "refund"}


def test_first_matching_rule_wins():
    ev = retail(event_rules={"refund": "InvoiceNo startswith C", "sample": "StockCode == D", "free": "UnitPrice == 0"},
                filters=[{"drop": "CustomerID is missing"}])
    assert ev.loc[ev["order_id"] == "C536379", "event"].tolist() == ["refund"]  # also StockCode D
    assert ev.loc[ev["order_id"] == "536381", "event"].tolist() == ["free"]


def test_rules_refine_an_existing_event_column():
    raw = pd.DataFrame({"uid": [1, 2], "ts": ["2024-01-01", "2024-01-02"], "action": ["order", "order"], "amount": [5, -5]})
    ev = load_source(raw, column_map={"uid": "user_id", "ts": "timestamp", "action": "event"},
                     event_rules={"return": "amount < 0"}, revenue="amount")
    assert ev["event"].tolist() == ["order", "return"]
    assert ev["revenue"].tolist() == [5.0, 5.0]
    assert "action" not in ev.columns


def test_revenue_expression_precedence_and_parentheses():
    raw = pd.DataFrame({"user_id": [1], "timestamp": ["2024-01-01"], "gross amount": [10], "tax": [2], "n": [4]})
    ev = load_source(raw, event="buy", revenue="(`gross amount` - tax) * n / 2 + -1")
    assert ev["revenue"].tolist() == [15.0]
    assert parse_expression("a + b * c") == ("+", ("column", "a"), ("*", ("column", "b"), ("column", "c")))


def test_negative_revenue_without_a_rule_is_reported_by_the_loader():
    with pytest.raises(DataValidationError, match="negative value"):
        retail(revenue="Quantity * UnitPrice", filters=[{"drop": "CustomerID is missing"}])


@pytest.mark.parametrize("expression", [
    "Quantity ** 2", "__import__('os').system('x')", "Quantity.sum()", "abs(Quantity)",
    "Quantity *", "(Quantity * UnitPrice", "Quantity UnitPrice", "",
])
def test_bad_expression_is_a_clear_value_error(expression):
    with pytest.raises(ValueError, match="revenue expression") as caught:
        retail(revenue=expression, filters=[{"drop": "CustomerID is missing"}])
    assert not isinstance(caught.value, DataValidationError)


def test_unknown_column_names_the_closest_one():
    with pytest.raises(DataValidationError, match=r"'Quantty'.*closest existing column: 'Quantity'"):
        retail(revenue="Quantty * UnitPrice")
    with pytest.raises(DataValidationError, match=r"filters names column 'CustomerId'.*'CustomerID'"):
        retail(filters=[{"drop": "CustomerId is missing"}])
    with pytest.raises(DataValidationError, match=r"event_rules names column 'Invoice'"):
        retail(event_rules={"refund": "Invoice startswith C"})


def test_non_numeric_column_in_expression_is_named():
    with pytest.raises(DataValidationError, match=r"column 'StockCode'.*non-numeric"):
        retail(revenue="StockCode * 2")


@pytest.mark.parametrize("condition, message", [
    ("Quantity", "no operator"),
    ("Quantity ~ 3", "unknown operator"),
    ("Quantity > many", "not a number"),
    ("Country == United Kingdom", "exactly one value"),
    ("> 3", "column name first"),
])
def test_bad_condition_is_a_clear_value_error(condition, message):
    with pytest.raises(ValueError, match=message):
        parse_condition(condition)


@pytest.mark.parametrize("filters", [
    "drop duplicates",
    [{"remove": "Quantity > 0"}],
    [{"drop": "Quantity > 0", "keep": "UnitPrice > 0"}],
    ["Quantity > 0"],
])
def test_malformed_filter_steps(filters):
    with pytest.raises(ValueError, match="filters"):
        retail(filters=filters)


def test_conditions_on_text_numbers_and_missing_values():
    frame = pd.DataFrame({"user_id": [1, 2, 3, 4], "timestamp": ["2024-01-01"] * 4,
                          "country": ["United Kingdom", "France", None, "EIRE"], "q": [1.0, None, -2.0, 3.0]})

    def kept(*conditions):
        ev = load_source(frame, event="x", filters=[{"keep": c} for c in conditions])
        return ev["user_id"].tolist()

    assert kept("country == 'United Kingdom'") == [1]
    assert kept("country != France") == [1, 4]  # missing values never match, as for numbers
    assert kept("country contains n") == [1, 2]
    assert kept("country endswith E") == [4]
    assert kept("q >= -2") == [1, 3, 4]
    assert kept("q != 1") == [3, 4]  # a missing quantity is not known to differ
    assert kept("q is not missing", "country is missing") == [3]


def test_inputs_are_not_modified():
    raw = transactions()
    before = raw.copy()
    retail(event_rules={"refund": "InvoiceNo startswith C"}, revenue="Quantity * UnitPrice",
           filters=[{"drop": "duplicates"}, {"drop": "CustomerID is missing"}], id_columns=["StockCode"])
    pd.testing.assert_frame_equal(raw, before)


def test_option_conflicts():
    with pytest.raises(ValueError, match="already has an event column"):
        load_source(pd.DataFrame({"user_id": [1], "timestamp": ["2024-01-01"], "event": ["x"]}), event="y")
    with pytest.raises(ValueError, match="give event="):
        load_source(transactions(), column_map=MAP, event_rules={"refund": "InvoiceNo startswith C"})
    with pytest.raises(ValueError, match="overwrite the input's 'revenue'"):
        load_source(pd.DataFrame({"user_id": [1], "timestamp": ["2024-01-01"], "revenue": [1.0], "q": [2]}),
                    event="x", revenue="q")


def test_options_survive_a_yaml_and_json_round_trip(tmp_path):
    options = {
        "column_map": MAP, "event": "purchase", "event_rules": {"refund": "InvoiceNo startswith C"},
        "revenue": "Quantity * UnitPrice",
        "filters": [{"drop": "duplicates"}, {"drop": "CustomerID is missing"}],
    }
    from_yaml = yaml.safe_load(yaml.safe_dump({"source_options": options}))["source_options"]
    from_json = json.loads(json.dumps(options))
    direct = load_source(transactions(), **options)
    pd.testing.assert_frame_equal(load_source(transactions(), **from_yaml), direct)
    pd.testing.assert_frame_equal(load_source(transactions(), **from_json), direct)
    assert removed(direct)["drop CustomerID is missing"] == 1


def test_date_window_is_logged(tmp_path):
    ev = retail(filters=[{"drop": "CustomerID is missing"}], start="2010-12-02")
    assert removed(ev)["keep 2010-12-02 <= timestamp < ..."] == 4
    assert len(ev) == 1


def test_options_on_a_file_report_its_path_and_rows_read(tmp_path):
    path = tmp_path / "retail.csv"
    transactions().to_csv(path, index=False)
    ev = load_source(path, column_map=MAP, event="purchase", filters=[{"drop": "CustomerID is missing"}])
    pd.testing.assert_frame_equal(ev, retail(filters=[{"drop": "CustomerID is missing"}]))
    report = io.load_report(ev)
    assert (report.source, report.rows_read, report.rows_loaded) == (str(path), 7, 5)


def test_filters_see_the_refined_event_column_under_its_own_name():
    raw = pd.DataFrame({"uid": [1, 1, 2], "ts": ["2024-01-01", "2024-01-02", "2024-01-03"],
                        "action": ["open", "order", "order"], "amount": [None, 5, 500]})
    ev = load_source(raw, column_map={"uid": "user_id", "ts": "timestamp", "action": "event"},
                     event_rules={"big_order": "amount >= 100"}, filters=[{"drop": "action == open"}])
    assert ev["event"].tolist() == ["order", "big_order"]
    with pytest.raises(DataValidationError, match="filters names column 'event'"):
        load_source(raw, column_map={"uid": "user_id", "ts": "timestamp", "action": "event"},
                    event_rules={"big_order": "amount >= 100"}, filters=[{"drop": "event == open"}])


@pytest.mark.parametrize("condition", [
    "action == app_open", "Country == 'United Kingdom'", "q > -1.5", "`Customer ID` is missing",
    "code == '5'", "StockCode == 85123A", "x is not missing",
])
def test_logged_rule_text_reads_back_as_the_same_condition(condition):
    parsed = parse_condition(condition)
    assert parse_condition(str(parsed)) == parsed


def test_a_filter_that_empties_the_table_is_named():
    with pytest.raises(DataValidationError, match=r"filter step 2 \(keep Quantity > 100\) removed every remaining row \(6\)"):
        retail(filters=[{"drop": "CustomerID is missing"}, {"keep": "Quantity > 100"}])
