"""Data-set descriptions: one description per run, whatever it does not name is absent."""

from pathlib import Path

import pandas as pd
import pytest

from engagement_utils import io
from engagement_utils.data_profile import profile
from engagement_utils.dataset import (
    EXPERIMENT_INPUTS, INPUTS, PROJECT_ROOT, ROLES, DataSetError, describe_dataset, load_dataset,
)

DESCRIPTIONS = PROJECT_ROOT / "reports" / "params" / "datasets"
ECOM = "data/external/ecom/ecom.csv.gz"


def test_missing_optional_inputs_stay_none_never_the_demo():
    ds = load_dataset({"events": {"path": ECOM}})
    assert ds.inputs() == ["events"]
    assert ds.users is None and ds.assignments is None and ds.spend is None and ds.surveys is None
    assert all(value is None for value in ds.roles.as_dict().values())
    assert ds.tz == "UTC" and ds.end is None and ds.currency is None


def test_relative_paths_start_at_the_project_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    d = describe_dataset({"events": ECOM, "users": {"path": "data/demo/users.csv"}})
    assert d.inputs["events"].path == PROJECT_ROOT / ECOM and d.inputs["users"].path == PROJECT_ROOT / "data/demo/users.csv"
    assert len(load_dataset({"events": ECOM}).events) == 31076


def test_root_and_absolute_paths(tmp_path):
    frame = pd.DataFrame({"user_id": [1], "timestamp": ["2024-01-01"], "event": ["open"]})
    frame.to_csv(tmp_path / "ev.csv", index=False)
    assert len(load_dataset({"events": "ev.csv"}, root=tmp_path).events) == 1
    assert len(load_dataset({"events": str(tmp_path / "ev.csv")}).events) == 1


def test_description_file_relative_to_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ds = load_dataset("reports/params/datasets/ecom.yml")
    assert ds.name == "ecom clickstream" and ds.roles.conversion_events == ["purchase"]


def test_unknown_keys_rejected_with_closest_and_allowed():
    with pytest.raises(DataSetError) as caught:
        describe_dataset({"events": {"path": ECOM, "colum_map": {}}, "conversion_event": "purchase", "user": "u.csv"})
    problems = caught.value.problems
    assert len(problems) == 3
    events = next(p for p in problems if "'dataset.events'" in p)
    assert events.startswith("The 'dataset.events' parameter must be one of {'path', 'preset', 'column_map',")
    assert events.endswith("got 'colum_map' — did you mean 'column_map'?")
    assert any(p.endswith("got 'conversion_event' — did you mean 'conversion_events'?") for p in problems)
    assert any(p.startswith("The 'dataset' parameter must be one of {'name', 'events',") and p.endswith("got 'user' — did you mean 'users'?") for p in problems)


def test_table_options_are_the_loaders_options():
    with pytest.raises(DataSetError, match=r"The 'dataset.users' parameter must be one of \{'path', 'column_map', 'timestamp_format'\}; got 'filters'"):
        describe_dataset({"events": ECOM, "users": {"path": "data/demo/users.csv", "filters": []}})


def test_other_problems_listed_together():
    with pytest.raises(DataSetError) as caught:
        describe_dataset({"users": {"column_map": {}}, "tz": "Mars/Base", "end": "soon", "funnel_steps": [],
                          "events": {"path": ECOM, "preset": "amplitde"}})
    text = str(caught.value)
    for part in ("users: no 'path'", "tz: 'Mars/Base'", "end: 'soon'", "'funnel_steps' parameter",
                 "The 'dataset.events.preset' parameter must be one of", "did you mean 'amplitude'?"):
        assert part in text


def test_no_events_and_not_a_mapping():
    with pytest.raises(DataSetError, match="no 'events'"):
        describe_dataset({"users": "data/demo/users.csv"})
    with pytest.raises(DataSetError, match="file not found"):
        describe_dataset("reports/params/datasets/nope.yml")
    with pytest.raises(TypeError):
        describe_dataset(3)


def test_roles_accept_a_name_or_a_list_and_end_is_utc():
    d = describe_dataset({"events": ECOM, "cart_events": "add_to_cart", "checkout_events": ["a", "b"],
                          "end": "2024-06-30", "tz": "Europe/Berlin", "currency": "EUR"})
    assert d.roles.cart_events == ["add_to_cart"] and d.roles.checkout_events == ["a", "b"]
    assert d.end == pd.Timestamp("2024-06-30", tz="UTC") and d.tz == "Europe/Berlin" and d.currency == "EUR"
    assert list(d.roles.as_dict()) == list(ROLES)


def test_demo_description_loads_the_demo_files(demo_dir):
    ds = load_dataset(DESCRIPTIONS / "demo.yml")
    assert ds.inputs() == [name for name in INPUTS if name not in EXPERIMENT_INPUTS]
    assert ds.events.equals(io.load_events(PROJECT_ROOT / "data/demo/events.parquet"))
    assert ds.users.equals(io.load_users(PROJECT_ROOT / "data/demo/users.csv"))
    assert set(ds.assignments["experiment"]) == {"checkout_redesign"}
    assert {"date", "channel", "cost"} <= set(ds.spend.columns) and set(ds.surveys["kind"].cat.categories) <= {"nps", "csat", "ces"}
    assert profile(ds).absent_role_events == {}
    assert ds.roles.funnel_steps[1] == "screen_view[screen:product] | add_to_cart"


def test_online_retail_description_uses_the_transactions_preset():
    ds = load_dataset(DESCRIPTIONS / "online_retail.yml")
    assert ds.inputs() == ["events"] and ds.currency == "GBP"
    counts = ds.events["event"].value_counts().to_dict()
    assert counts == {"purchase": 392692, "refund": 8872}
    purchases = ds.events[ds.events["event"] == "purchase"]
    assert purchases["user_id"].nunique() == 4338 and round(purchases["revenue"].sum(), 2) == 8887208.89  # the published RFM figures


def test_ecom_description_roles_occur_in_the_data():
    ds = load_dataset(DESCRIPTIONS / "ecom.yml")
    present = set(ds.events["event"].cat.categories)
    assert ds.roles.funnel_steps == ["product_view", "add_to_cart", "shipping_details", "payment_details", "purchase"]
    for names in ds.roles.as_dict().values():
        assert names is None or set(names) <= present
    assert {"session_id", "platform", "acquisition_channel"} <= set(ds.events.columns)


def test_users_column_map(tmp_path):
    pd.DataFrame({"uid": ["a"], "plan": ["pro"]}).to_csv(tmp_path / "u.csv", index=False)
    ds = load_dataset({"events": ECOM, "users": {"path": str(tmp_path / "u.csv"), "column_map": {"uid": "user_id"}}})
    assert ds.users["user_id"].tolist() == ["a"]


NEW_PARAMS = ["ecom.yml"] + [f"preset_{name}.yml" for name in ("ga4", "amplitude", "mixpanel", "segment", "posthog", "transactions")]


@pytest.mark.parametrize("name", NEW_PARAMS)
def test_parameter_files_name_a_loadable_dataset_and_declared_parameters(name):
    """Valid for the runner: every notebook declares `dataset`, and each file builds all five."""
    from engagement_utils.reports import load_params_file
    from engagement_utils.schemas import SCHEMAS

    params = load_params_file(PROJECT_ROOT / "reports" / "params" / name)
    notebooks = params["notebooks"]
    assert params["output_dir"] == "reports/" + name.removesuffix(".yml") and set(notebooks) <= set(SCHEMAS)
    declared = {key for nb in notebooks for key in SCHEMAS[nb]} | {"dataset"}
    assert set(params["parameters"]) <= declared
    for nb, values in params["notebook_parameters"].items():
        assert nb in notebooks and set(values) <= set(SCHEMAS[nb]), nb
    ds = load_dataset(params["parameters"]["dataset"])
    assert profile(ds).absent_role_events == {}
    assert notebooks == sorted(SCHEMAS)


def test_with_roles_overrides_only_what_is_given():
    ds = load_dataset(DESCRIPTIONS / "ecom.yml")
    changed = ds.with_roles(conversion_events=["payment_details"], funnel_steps=None, cart_events=[], checkout_events="")
    assert changed.roles.conversion_events == ["payment_details"] and changed.roles.funnel_steps == ds.roles.funnel_steps
    assert changed.roles.cart_events == ["add_to_cart"] and changed.roles.checkout_events == ds.roles.checkout_events
    assert ds.roles.conversion_events == ["purchase"] and changed.events is ds.events
    with pytest.raises(DataSetError, match="did you mean 'cart_events'"):
        ds.with_roles(cart_event="x")


def test_funnel_steps_use_the_funnel_step_syntax():
    with pytest.raises(DataSetError, match="funnel_steps: cannot read funnel step"):
        describe_dataset({"events": ECOM, "funnel_steps": ["home", "view[[x"]})
    ds = load_dataset({"events": ECOM, "funnel_steps": ["home", "catalog | search", "nothing_like_it"]})
    assert profile(ds).absent_role_events == {"funnel_steps": ["nothing_like_it"]}


def test_data_overview_window_on_a_description_without_events_gives_the_clear_error():
    # 00 applies its date window before loading; a description with only an experiment
    # table must still reach load_dataset's message, not a KeyError on 'events'.
    from engagement_utils import overview

    description = overview.with_window({"experiment_summary": "data/examples/ab_summary.csv"}, start="2024-01-01")
    with pytest.raises(DataSetError, match="no 'events'.*03_ab_test"):
        load_dataset(description)
