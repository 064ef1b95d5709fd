"""check_parameters: one conversion per spec, and errors that say what to fix."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from engagement_utils.params import ParameterError, check_parameters


def convert(value, spec):
    return check_parameters({"x": value}, {"x": spec}).x


def problem(value, spec) -> str:
    with pytest.raises(ParameterError) as info:
        check_parameters({"x": value}, {"x": spec})
    assert "'x'" in str(info.value)
    return str(info.value)


@pytest.mark.parametrize(
    "value, expected",
    [(10, "10"), ("010", "010"), ("abc", "abc"), (1.5, "1.5")],
)
def test_str_gives_back_text_that_papermill_turned_into_numbers(value, expected):
    assert convert(value, "str") == expected


def test_str_rejects_none_but_optional_str_allows_it():
    assert "expected text" in problem(None, "str")
    assert convert(None, "optional_str") is None
    assert convert("", "optional_str") is None
    assert convert(7, "optional_str") == "7"


@pytest.mark.parametrize("value, expected", [(3, 3), ("010", 10), (" 7 ", 7), (4.0, 4), ("1_000", 1000)])
def test_int(value, expected):
    assert convert(value, "int") == expected


@pytest.mark.parametrize("value", ["seven", 2.5, True, None])
def test_int_errors(value):
    assert "whole number" in problem(value, "int")


@pytest.mark.parametrize("value, expected", [(0.05, 0.05), ("0.05", 0.05), (2, 2.0), ("1e3", 1000.0)])
def test_float(value, expected):
    assert convert(value, "float") == expected


def test_float_errors():
    assert "number" in problem("five percent", "float")
    assert "not true/false" in problem(False, "float")


@pytest.mark.parametrize(
    "value, expected",
    [(True, True), (False, False), ("true", True), ("False", False), ("yes", True),
     ("no", False), (1, True), (0, False), ("1", True), ("0", False)],
)
def test_bool(value, expected):
    assert convert(value, "bool") is expected


@pytest.mark.parametrize("value", ["maybe", 2, None])
def test_bool_errors(value):
    assert "true or false" in problem(value, "bool")


def test_path_resolves_relative_to_cwd(tmp_path, monkeypatch):
    (tmp_path / "events.csv").write_text("user_id\n")
    monkeypatch.chdir(tmp_path)
    result = convert("events.csv", "path")
    assert isinstance(result, Path) and result.is_absolute()
    assert result == tmp_path / "events.csv"


def test_missing_path_names_parameter_and_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = problem("data/nope.parquet", "path")
    assert "nope.parquet" in message and "does not exist" in message


def test_optional_path():
    assert convert(None, "optional_path") is None
    assert convert("", "optional_path") is None
    assert "does not exist" in problem("/no/such/file.csv", "optional_path")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-01-31", pd.Timestamp("2024-01-31")),
        (dt.date(2024, 1, 31), pd.Timestamp("2024-01-31")),
        (pd.Timestamp("2024-01-31 08:00"), pd.Timestamp("2024-01-31 08:00")),
        (20240131, pd.Timestamp("2024-01-31")),  # papermill -p 20240131
        (None, None),
        ("", None),
    ],
)
def test_date(value, expected):
    result = convert(value, "date")
    assert result is None if expected is None else result == expected


def test_date_errors():
    assert "date such as" in problem("31/31/2024", "date")
    assert "date such as" in problem(True, "date")


@pytest.mark.parametrize(
    "value, expected",
    [("30min", pd.Timedelta(minutes=30)), ("7D", pd.Timedelta(days=7)),
     (dt.timedelta(hours=24), pd.Timedelta(hours=24)), (None, None)],
)
def test_timedelta(value, expected):
    result = convert(value, "timedelta")
    assert result is None if expected is None else result == expected


@pytest.mark.parametrize("value", ["30", 30, "soon"])
def test_timedelta_needs_a_unit(value):
    assert "with a unit" in problem(value, "timedelta")


def test_tz():
    assert convert("Europe/Berlin", "tz") == "Europe/Berlin"
    assert convert("UTC", "tz") == "UTC"
    message = problem("Europe/Berln", "tz")
    assert "unknown time zone" in message and "Europe/Berlin" in message
    assert "IANA" in problem(5, "tz")


@pytest.mark.parametrize(
    "value, expected",
    [("signup, purchase", ["signup", "purchase"]), (["a", 1], ["a", "1"]), ("", []), (None, []),
     ("solo", ["solo"])],
)
def test_list(value, expected):
    assert convert(value, "list") == expected


def test_dict():
    assert convert({"a": 1}, "dict") == {"a": 1}
    assert convert('{"a": 1}', "dict") == {"a": 1}
    assert convert("a: 1\nb: x", "dict") == {"a": 1, "b": "x"}
    assert convert(None, "dict") == {}
    assert "mapping" in problem("[1, 2]", "dict")


def test_choices_match_numbers_given_as_text_and_back():
    assert convert("week", ("day", "week", "month")) == "week"
    assert convert("7", (1, 7, 30)) == 7
    assert convert(7, ("1", "7")) == "7"
    message = problem("weak", ("day", "week", "month"))
    assert "'day', 'week', 'month'" in message and "'weak'" in message


def test_all_problems_reported_together():
    with pytest.raises(ParameterError) as info:
        check_parameters(
            {"n": "many", "period": "year", "flag": "perhaps"},
            {"n": "int", "period": ("day", "week"), "flag": "bool", "missing": "str"},
        )
    assert len(info.value.problems) == 4
    message = str(info.value)
    assert "4 invalid parameter(s)" in message
    for name in ("'n'", "'period'", "'flag'", "'missing'"):
        assert name in message
    assert "tagged 'parameters'" in message


def test_is_a_value_error_and_ignores_extra_names():
    assert issubclass(ParameterError, ValueError)
    result = check_parameters({"a": "1", "__name__": "__main__", "other": object()}, {"a": "int"})
    assert vars(result) == {"a": 1}


def test_unknown_spec_names_allowed_specs():
    with pytest.raises(ValueError, match="unknown spec 'integer'.*'int'"):
        check_parameters({"x": 1}, {"x": "integer"})
    with pytest.raises(ValueError, match="empty"):
        check_parameters({"x": 1}, {"x": ()})
