"""Display helpers: everything from data is escaped, key numbers are tagged for the runner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engagement_utils import display as disp

SCRIPT = "<script>alert('x')</script>"


@pytest.fixture
def shown(monkeypatch):
    """Everything passed to IPython's display(), as (object, metadata) pairs."""
    calls = []
    monkeypatch.setattr(disp, "display", lambda obj, metadata=None: calls.append((obj, metadata)))
    return calls


def test_key_numbers_are_escaped_and_attached_as_metadata(shown):
    disp.show_key_numbers({"Events": "123,456", "Users": 5321, "Top event": SCRIPT}, title="At a glance")
    (obj, metadata), = shown
    assert metadata[disp.KEY_NUMBERS_METADATA] == {"Events": "123,456", "Users": "5,321", "Top event": SCRIPT}
    assert metadata[disp.KEY_NUMBERS_TITLE_METADATA] == "At a glance"
    assert "<script>" not in obj.data
    assert "&lt;script&gt;alert(&#x27;x&#x27;)" in obj.data
    assert "5,321" in obj.data and "At a glance" in obj.data


def test_key_number_values_are_formatted():
    page = disp.key_numbers_html({"rate": 0.21456, "big": 1234567.8, "n": np.int64(12000)})
    assert "0.2146" in page and "1,234,568" in page and "12,000" in page


def test_table_escapes_cells_headers_and_caption(shown):
    frame = pd.DataFrame({"event": [SCRIPT, "login"], "<b>col</b>": [1, 2]})
    disp.show_table(frame, caption="<i>caption</i>")
    (obj, _), = shown
    assert "<script>" not in obj.data and "<b>col" not in obj.data and "<i>" not in obj.data
    assert "&lt;script&gt;alert(" in obj.data and "&lt;b&gt;col&lt;/b&gt;" in obj.data
    assert "&lt;i&gt;caption&lt;/i&gt;" in obj.data


def test_table_drops_plain_index_but_keeps_named_one():
    plain = disp.table_html(pd.DataFrame({"users": [5, 6]}))
    assert "<th>users</th>" in plain and "<th></th>" not in plain and "<td>0</td>" not in plain
    named = disp.table_html(pd.Series([10, 20], index=pd.Index(["ads", "seo"], name="channel"), name="users"))
    assert "<th>channel</th>" in named and "<td>ads</td>" in named


def test_table_row_limit_says_what_was_left_out():
    page = disp.table_html(pd.DataFrame({"n": range(120)}), max_rows=10)
    assert page.count("<td>") == 10
    assert "Showing 10 of 120 rows." in page
    with pytest.raises(ValueError, match="max_rows"):
        disp.table_html(pd.DataFrame({"n": [1]}), max_rows=0)


def test_table_float_format_spec_or_function():
    frame = pd.DataFrame({"share": [0.1234]})
    assert "12.3%" in disp.table_html(frame, float_format=".1%")
    assert "<td>x</td>" in disp.table_html(frame, float_format=lambda v: "x")
    with pytest.raises(ValueError, match="format spec"):
        disp.table_html(frame, float_format="%.2f")


def test_table_refuses_raw_user_ids():
    with pytest.raises(ValueError, match="user ids"):
        disp.table_html(pd.DataFrame({"user_id": ["u1"], "events": [3]}))
    with pytest.raises(ValueError, match="user ids"):
        disp.table_html(pd.DataFrame({"events": [3]}, index=pd.Index(["u1"], name="user_id")))


def test_note_is_escaped_and_kind_checked(shown):
    disp.show_note(f"event {SCRIPT} is rare", kind="warning")
    (obj, _), = shown
    assert "<script>" not in obj.data and "&lt;script&gt;" in obj.data and "Warning" in obj.data
    with pytest.raises(ValueError, match="'info', 'warning'"):
        disp.show_note("x", kind="error")


def test_suppress_small_groups_masks_numbers_and_flags_rows():
    frame = pd.DataFrame({"channel": ["ads", "seo", "tv"], "users": [120, 4, 10], "rate": [0.3, 0.5, 0.2]})
    out = disp.suppress_small_groups(frame, "users", threshold=10)
    assert out["suppressed"].tolist() == [False, True, False]
    assert out.loc[1, ["users", "rate"]].isna().all()
    assert out.loc[1, "channel"] == "seo"  # labels stay
    assert out.loc[2, "users"] == 10  # the threshold itself is shown
    assert frame["users"].tolist() == [120, 4, 10]  # input untouched


def test_suppress_small_groups_options():
    frame = pd.DataFrame({"users": [3, 50], "rate": [0.5, 0.1]})
    only_rate = disp.suppress_small_groups(frame, "users", columns=["rate"], flag_column="hidden")
    assert only_rate["users"].tolist() == [3, 50] and np.isnan(only_rate.loc[0, "rate"])
    assert only_rate["hidden"].tolist() == [True, False]
    assert not disp.suppress_small_groups(frame, "users", threshold=0)["suppressed"].any()
    with pytest.raises(ValueError, match="not in the frame"):
        disp.suppress_small_groups(frame, "n_users")
    with pytest.raises(ValueError, match="threshold"):
        disp.suppress_small_groups(frame, "users", threshold=-1)
