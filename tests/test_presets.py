"""Export presets on small vendor-shaped fixtures (tests/fixtures/presets, see make_fixtures.py)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engagement_utils.io import DataValidationError
from engagement_utils.presets import PRESETS, flatten_key_values, flatten_properties, load_export, read_export

FIXTURES = Path(__file__).parent / "fixtures" / "presets"
FILES = {"ga4": "ga4.jsonl", "amplitude": "amplitude.jsonl", "mixpanel": "mixpanel.jsonl",
         "segment": "segment.jsonl", "posthog": "posthog.csv", "transactions": "transactions.csv"}
T0 = pd.Timestamp("2024-01-05 10:00", tz="UTC")
# The id columns each preset needs (all of them dropped: the error names the column and the preset).
ID_COLUMNS = {"ga4": ["user_id", "user_pseudo_id"], "amplitude": ["user_id", "device_id"],
              "segment": ["userId", "anonymousId"], "posthog": ["distinct_id"], "transactions": ["CustomerID"]}


def load(name, **options):
    return load_export(FIXTURES / FILES[name], name, **options)


def test_every_preset_has_a_fixture():
    assert set(FILES) == set(PRESETS)


@pytest.mark.parametrize("name", sorted(FILES))
def test_canonical_frame(name):
    ev = load(name)
    assert list(ev.columns[:3]) == ["user_id", "timestamp", "event"] or {"user_id", "timestamp", "event"} <= set(ev.columns)
    assert str(ev["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert isinstance(ev["user_id"].dtype, pd.CategoricalDtype) and isinstance(ev["event"].dtype, pd.CategoricalDtype)
    assert ev["user_id"].notna().all()
    keys = list(zip(ev["user_id"].cat.codes, ev["timestamp"]))
    assert keys == sorted(keys)
    assert FILES[name] in ev.attrs["load_report"]["source"] and repr(name) in ev.attrs["load_report"]["source"]


@pytest.mark.parametrize("name", ["ga4", "amplitude", "mixpanel", "segment", "posthog"])
def test_shared_fixture_story(name):
    """Three users, 25 events from 2024-01-05 10:00 UTC; purchases by users 0 (twice) and 2."""
    ev = load(name)
    assert len(ev) == 25 and ev["user_id"].nunique() == 3
    assert ev["timestamp"].min() == T0 + pd.Timedelta(microseconds=123456 if name == "ga4" else 0) or name == "amplitude"
    assert ev["timestamp"].max().floor("min") == T0 + pd.Timedelta(minutes=1607)
    assert ev.groupby("event", observed=True).size().max() >= 5


def test_ga4_microseconds_params_and_stitched_ids():
    ev = load("ga4")
    assert ev["timestamp"].min() == T0 + pd.Timedelta(microseconds=123456)  # µs, not ms or s
    # user 0 logs in on day 2: the pseudo id's day-1 rows take member_0 (stitched), user 1 stays a pseudo id
    assert ev["user_id"].value_counts().to_dict() == {"member_0": 10, "member_2": 9, "1000001.1704448800": 6}
    assert set(ev["event"].cat.categories) == {"page_view", "view_item", "add_to_cart", "begin_checkout", "purchase"}
    assert ev["screen"].iloc[0] in {"Home", "Product", "Checkout", "Thanks"}
    assert set(ev["platform"].cat.categories) == {"web", "ios", "android"}
    assert set(ev["country"].cat.categories) == {"Germany", "United States", "France"}
    assert ev["channel"].notna().all()
    assert ev.loc[ev["event"] == "purchase", "revenue"].tolist() == [19.5, 19.5, 21.5]
    assert ev["revenue"].isna().sum() == 22
    assert ev["prop_engagement_time_msec"].dtype == np.float64 and ev["prop_engagement_time_msec"].min() == 1000
    plans = ev.groupby("user_id", observed=True)["user_prop_plan"].agg(lambda p: set(p.astype(str)))
    assert plans.to_dict() == {"1000001.1704448800": {"free"}, "member_0": {"pro"}, "member_2": {"free"}}
    assert ev["session_id"].nunique() == 6  # one GA session per user and day
    assert "event_params" not in ev.columns and "items" not in ev.columns


def test_ga4_event_params_as_json_text_equal_records():
    raw = read_export(FIXTURES / "ga4.jsonl")
    as_text = raw.assign(event_params=raw["event_params"].map(json.dumps), user_properties=raw["user_properties"].map(json.dumps))
    pd.testing.assert_frame_equal(load_export(as_text, "ga4"), load_export(raw, "ga4"), check_categorical=False)


def test_amplitude_device_fallback_sessions_and_properties():
    ev = load("amplitude")
    assert ev["user_id"].value_counts().to_dict() == {"member_0": 10, "member_2": 9, "dev-1": 6}
    assert ev["timestamp"].min() == T0 + pd.Timedelta(milliseconds=250)
    assert "Purchased" in ev["event"].cat.categories
    # session_id -1 (no session) stays missing; others are per user
    assert ev.loc[ev["user_id"] == "member_2", "session_id"].isna().all()
    assert ev.loc[ev["user_id"] == "member_0", "session_id"].nunique() == 2
    assert ev.loc[ev["event"] == "Purchased", "prop_revenue"].tolist() == [19.5, 19.5, 21.5]
    assert set(ev["prop_screen"].cat.categories) == {"Home", "Product", "Checkout", "Thanks"}
    assert ev["prop_item_count"].max() == 1
    assert ev["user_prop_cohort_month"].eq("2024-01").all() and set(ev["user_prop_plan"].cat.categories) == {"pro", "free"}
    assert set(ev["platform"].cat.categories) == {"Web", "iOS", "Android"} and "country" in ev.columns


def test_mixpanel_seconds_nested_and_flattened_columns():
    ev = load("mixpanel")
    assert ev["timestamp"].min() == T0
    assert ev["user_id"].value_counts().to_dict() == {"member_0": 10, "member_2": 9, "$device:dev-1": 6}
    assert set(ev["country"].cat.categories) == {"DE", "US", "FR"}
    assert set(ev["platform"].cat.categories) == {"Windows", "iOS", "Android"}
    assert ev["screen"].str.startswith("https://shop.example/").all()
    assert set(ev["prop_plan"].cat.categories) == {"pro", "free"}
    assert ev["prop_amount"].dropna().tolist() == [19.5, 19.5, 21.5]
    # the same export flattened to properties.* columns (e.g. a CSV download) loads the same
    records = [json.loads(line) for line in (FIXTURES / "mixpanel.jsonl").read_text().splitlines()]
    flat = pd.json_normalize(records)
    assert "properties.distinct_id" in flat.columns
    pd.testing.assert_frame_equal(load_export(flat, "mixpanel"), ev, check_categorical=False)


def test_mixpanel_milliseconds_detected():
    raw = pd.DataFrame({"event": ["a"], "properties.distinct_id": ["u"], "properties.time": [1704448800123]})
    assert load_export(raw, "mixpanel")["timestamp"].iloc[0] == T0 + pd.Timedelta(milliseconds=123)


def test_segment_track_only_anonymous_fallback_and_context():
    ev = load("segment")
    assert len(ev) == 25  # the identify and page calls are dropped, and logged
    assert any("type == track" in w for w in ev.attrs["load_report"]["warnings"])
    assert ev["user_id"].value_counts().to_dict() == {"member_0": 10, "member_2": 9, "anon-1": 6}
    assert ev["timestamp"].min() == T0
    assert ev.loc[ev["event"] == "Order Completed", "revenue"].tolist() == [19.5, 19.5, 21.5]
    assert set(ev["platform"].cat.categories) == {"Mac OS X", "iOS", "Android"}
    assert set(ev["screen"].cat.categories) == {"/home", "/product", "/checkout", "/thanks"}
    assert set(ev["context_locale"].cat.categories) == {"de-DE", "en-US", "fr-FR"}
    assert set(ev["prop_category"].dropna()) == {"Mugs"}


def test_posthog_json_text_properties_and_offsets():
    ev = load("posthog")
    assert ev["user_id"].value_counts().to_dict() == {"ph-0": 10, "ph-2": 9, "ph-1": 6}
    # user 2's rows carry +01:00 offsets one hour ahead: the same instants in UTC
    assert ev.loc[ev["user_id"] == "ph-2", "timestamp"].min() == T0 + pd.Timedelta(minutes=30)
    assert "$pageview" in ev["event"].cat.categories
    assert set(ev["platform"].cat.categories) == {"Windows", "iOS", "Android"}
    assert set(ev["country"].cat.categories) == {"DE", "US", "FR"}
    assert ev["session_id"].nunique() == 6 and ev["screen"].str.startswith("/").all()
    assert set(ev["prop_plan"].cat.categories) == {"pro", "free"}
    assert ev["prop_set_email_domain"].eq("example.com").all()  # nested $set flattened


def test_transactions_purchases_refunds_and_cleaning():
    ev = load("transactions")
    assert set(ev["event"].cat.categories) == {"purchase", "refund"}
    refunds = ev[ev["event"] == "refund"]
    assert sorted(refunds["revenue"]) == [4.65, 27.5]  # stored positive; the sign is in the event name
    first = ev[ev["order_id"] == "536365"]
    assert sorted(first["revenue"].round(2)) == [15.3, 20.34]  # quantity × price
    assert ev["user_id"].cat.categories.tolist() == [12347, 12583, 13047, 14527, 15311, 17850]  # 17850.0 → 17850
    warnings = ev.attrs["load_report"]["warnings"]
    assert any("CustomerID is missing: 3 row(s)" in w for w in warnings) and any("duplicate" in w for w in warnings)
    assert len(ev) == 16 and set(ev["country"].cat.categories) == {"United Kingdom", "France", "Iceland"}


def test_transactions_online_retail_ii_names():
    raw = pd.read_csv(FIXTURES / "transactions.csv").rename(
        columns={"InvoiceNo": "Invoice", "UnitPrice": "Price", "CustomerID": "Customer ID"})
    ev = load_export(raw, "transactions")
    assert len(ev) == 16 and ev.loc[ev["event"] == "refund", "revenue"].sum() == pytest.approx(32.15)


def test_user_options_apply_after_the_preset():
    ev = load("amplitude", filters=[{"keep": "prop_screen == Checkout"}], event_rules={"checkout_start": "prop_screen == Checkout"})
    assert set(ev["event"]) == {"checkout_start"} and len(ev) == 4


@pytest.mark.parametrize("name", sorted(ID_COLUMNS))
def test_missing_id_column_names_column_and_preset(name):
    raw = read_export(FIXTURES / FILES[name], csv_as_text=PRESETS[name].csv_as_text).drop(columns=ID_COLUMNS[name])
    with pytest.raises(DataValidationError) as caught:
        load_export(raw, name)
    message = str(caught.value)
    assert f"preset {name!r}" in message and repr(ID_COLUMNS[name][0]) in message


def test_mixpanel_missing_distinct_id():
    raw = pd.DataFrame({"event": ["a"], "properties": [{"time": 1704448800}]})
    with pytest.raises(DataValidationError, match=r"preset 'mixpanel'.*'properties.distinct_id'"):
        load_export(raw, "mixpanel")


def test_unknown_preset_shared_format():
    with pytest.raises(ValueError, match="The 'preset' parameter must be one of .*got 'posthg' — did you mean 'posthog'"):
        load_export(pd.DataFrame(), "posthg")


def test_flatten_properties_json_text_and_fallback_agree():
    text = pd.Series(['{"a": 1, "b": {"c": "x"}}', "", None, '{"a": 2, "l": [1, 2]}'])
    flat = flatten_properties(text)
    assert flat["a"].tolist()[::3] == [1, 2] and flat["b.c"].tolist()[0] == "x"
    assert flat["l"].tolist()[3] == "[1, 2]"  # lists as JSON text
    mixed = flatten_properties(pd.Series(['{"a": 1}', '{"a": "one"}']))  # a key changing type: the json.loads path
    assert mixed["a"].tolist() == [1, "one"]


def test_flatten_key_values_types():
    params = pd.Series([[{"key": "n", "value": {"int_value": "3"}}, {"key": "s", "value": {"string_value": "x"}}],
                        None, [{"key": "n", "value": {"double_value": 2.5}}]])
    wide = flatten_key_values(params)
    assert wide["n"].tolist()[::2] == [3.0, 2.5] and wide["s"].tolist()[0] == "x" and len(wide) == 3


def test_ga4_parquet_export_equals_json_lines(tmp_path):
    """BigQuery's Parquet export keeps event_params as list<struct> (numpy arrays of dicts in pandas)."""
    import pyarrow.json as pa_json
    import pyarrow.parquet as pq

    pq.write_table(pa_json.read_json(FIXTURES / "ga4.jsonl"), tmp_path / "ga4.parquet")
    from_parquet, from_json = load_export(tmp_path / "ga4.parquet", "ga4"), load("ga4")
    assert list(from_parquet.columns) == list(from_json.columns)
    for column in ("user_id", "timestamp", "event", "session_id", "revenue", "prop_engagement_time_msec", "user_prop_plan"):
        assert from_parquet[column].astype(str).tolist() == from_json[column].astype(str).tolist(), column


def test_transactions_preset_on_the_shipped_retail_export_reproduces_the_published_cohorts():
    """data/external/README.md: monthly cohort sizes after dropping lines without a customer only."""
    ev = load_export(Path(__file__).parents[1] / "data" / "external" / "online_retail.parquet", "transactions")
    month = ev["timestamp"].dt.tz_localize(None).dt.to_period("M")
    first = month.groupby(ev["user_id"], observed=True).transform("min")
    assert ev.groupby(first)["user_id"].nunique().tolist() == [948, 421, 380, 440, 299, 279, 235, 191, 167, 298, 352, 321, 41]
    december = first == pd.Period("2010-12", "M")
    assert ev[december].groupby(month[december])["user_id"].nunique().tolist()[:4] == [948, 362, 317, 367]


def test_bad_values_are_reported_with_the_file_and_preset(tmp_path):
    raw = read_export(FIXTURES / "posthog.csv")
    raw.loc[3, "timestamp"] = "yesterday"
    raw.to_csv(tmp_path / "posthog.csv", index=False)
    with pytest.raises(DataValidationError, match=r"posthog.csv, preset 'posthog'\)(.|\n)*'timestamp'.*'yesterday'"):
        load_export(tmp_path / "posthog.csv", "posthog")
