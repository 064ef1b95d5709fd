"""Display helpers: everything from data is escaped, key numbers are tagged for the runner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from engagement_utils import display as disp

SCRIPT = "<script>alert('x')</script>"


def cells(page: str) -> list[list[str]]:
    """Header and body cells of the (first) table in a fragment, as text."""
    soup = BeautifulSoup(page, "html.parser")
    return [[c.get_text().replace("\u00a0", " ") for c in tr.find_all(["th", "td"])]
            for tr in soup.find("table").find_all("tr")]


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
    assert "0.215" in page and "1,234,568" in page and "12,000" in page


def test_table_escapes_cells_headers_and_caption(shown):
    frame = pd.DataFrame({"event": [SCRIPT, "login"], "<b>col</b>": [1, 2]})
    disp.show_table(frame, caption="<i>caption</i>")
    (obj, _), = shown
    assert "<script>" not in obj.data and "<b>col" not in obj.data and "<i>" not in obj.data
    assert "&lt;script&gt;alert(" in obj.data and "&lt;b&gt;col&lt;/b&gt;" in obj.data
    assert "&lt;i&gt;caption&lt;/i&gt;" in obj.data


def test_table_drops_plain_index_but_keeps_named_one():
    plain = cells(disp.table_html(pd.DataFrame({"users": [15, 16]})))
    assert plain == [["Users"], ["15"], ["16"]]
    named = cells(disp.table_html(pd.Series([10, 20], index=pd.Index(["ads", "seo"], name="channel"), name="users")))
    assert named == [["Channel", "Users"], ["ads", "10"], ["seo", "20"]]


def test_table_row_limit_says_what_was_left_out():
    page = disp.table_html(pd.DataFrame({"row": range(120)}), max_rows=10)
    assert page.count("<td") == 10
    assert "Showing 10 of 120 rows." in page
    with pytest.raises(ValueError, match="max_rows"):
        disp.table_html(pd.DataFrame({"row": [1]}), max_rows=0)


def test_table_float_format_spec_or_function():
    frame = pd.DataFrame({"score": [0.1234]})
    assert cells(disp.table_html(frame, float_format=".1%"))[1] == ["12.3%"]
    assert cells(disp.table_html(frame, float_format=lambda v: "x"))[1] == ["x"]
    # p-values, rates and counts are formatted for people whatever float_format says
    mixed = pd.DataFrame({"p_value": [2.504e-05], "rate": [0.653], "users": [42524.0], "score": [0.5]})
    assert cells(disp.table_html(mixed, float_format=".4g"))[1] == ["< 0.001", "65.3%", "42,524", "0.5"]
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
    out = disp.suppress_small_groups(frame, "users", min_group_size=10)
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
    assert not disp.suppress_small_groups(frame, "users", min_group_size=0)["suppressed"].any()
    with pytest.raises(ValueError, match="not in the frame"):
        disp.suppress_small_groups(frame, "n_users")
    with pytest.raises(ValueError, match="min_group_size"):
        disp.suppress_small_groups(frame, "users", min_group_size=-1)


HOSTILE = ['<img src=x onerror="document.body.dataset.pwned=1">', "[x](javascript:alert(1))", "![x](x)",
           "&lt;script&gt;", "<script>alert(1)</script>", "x" * 10_000]


def test_bullets_and_paragraphs_escape_everything(shown):
    disp.show_bullets(HOSTILE, title="<b>Verdict</b>")
    disp.show_paragraphs(HOSTILE)
    disp.show_note(HOSTILE[0])
    for obj, _ in shown:
        soup = BeautifulSoup(obj.data, "html.parser")
        assert not soup.find_all(["img", "script", "a", "b"])
        assert not [a for tag in soup.find_all(True) for a in tag.attrs if a.startswith("on")]
        assert HOSTILE[0] in soup.get_text()
    assert "&lt;script&gt;" in BeautifulSoup(shown[1][0].data, "html.parser").get_text()
    bullets = BeautifulSoup(shown[0][0].data, "html.parser").find_all("li")
    assert [li.get_text() for li in bullets] == HOSTILE
    assert len(BeautifulSoup(disp.bullets_html("one sentence"), "html.parser").find_all("li")) == 1


def test_table_hides_small_groups_and_says_how_many():
    frame = pd.DataFrame({"platform": ["ios", "web", "tv"], "users": [120, 3, 2], "rate": [0.3, 0.5, 0.9]})
    page = disp.table_html(frame)
    assert cells(page) == [["Platform", "Users", "Rate"], ["ios", "120", "30.0%"]]
    assert "2 groups with fewer than 10 users are not shown" in page
    assert len(cells(disp.table_html(frame, min_group_size=0))) == 4
    assert len(cells(disp.table_html(frame, min_group_size=3))) == 3
    sized = pd.DataFrame({"segment": ["a", "b"], "eligible": [4, 40], "n": [100, 100]})
    assert cells(disp.table_html(sized, count_column="eligible"))[1:] == [["b", "40", "100"]]
    # rows already masked by suppress_small_groups are hidden, and the flag column never shows
    masked = disp.suppress_small_groups(frame, "users", columns=["rate"])
    assert cells(disp.table_html(masked, min_group_size=0)) == [["Platform", "Users", "Rate"], ["ios", "120", "30.0%"]]
    with pytest.raises(ValueError, match="count_column"):
        disp.table_html(frame, count_column="n_users")


def test_table_reads_like_a_report():
    results = pd.DataFrame({
        "metric": ["conversion", "revenue"], "kind": ["binary", "mean"], "n_control": [1506, 1506],
        "control_value": [0.303, 12.5], "difference": [0.067, 1.25], "ci_low": [0.036, -0.5], "ci_high": [0.099, 3.0],
        "relative_lift": [0.221, 0.1], "p_value": [2.504e-05, 0.0342], "plateau_supported": [False, True],
        "new_customers": [1211.0, 42524.0], "suppressed": [False, False],
    })
    header, conversion, revenue = cells(disp.table_html(results.drop(columns="kind").assign(kind=results["kind"]), currency="EUR"))
    assert header == ["Metric", "Users (control)", "Control value", "Difference", "Relative lift", "p-value",
                      "Plateau supported", "New customers", "Kind"]
    assert conversion == ["conversion", "1,506", "30.3%", "+6.7 pp (95% CI +3.6 to +9.9)", "+22.1%", "< 0.001", "no",
                          "1,211", "binary"]
    assert revenue[2:4] == ["12.50", "+1.25 (95% CI −0.50 to +3.00)"] and revenue[5] == "0.034"
    money = cells(disp.table_html(pd.DataFrame({"channel": ["ads"], "cac": [12.5], "revenue": [1234.5]}), currency="EUR"))
    assert money == [["Channel", "CAC", "Revenue"], ["ads", "€12.50", "€1,234.50"]]


def test_wide_tables_can_be_transposed_or_split():
    wide = pd.DataFrame({"variant": ["control", "treatment"], **{f"metric_{i}": [0.1 * i, 0.2] for i in range(8)}})
    transposed = cells(disp.table_html(wide, transpose=True))
    assert transposed[0] == ["Variant", "control", "treatment"] and len(transposed) == 9
    page = disp.table_html(wide, max_columns=4)
    tables = BeautifulSoup(page, "html.parser").find_all("table")
    assert len(tables) == 3 and all(t.find("th").get_text() == "Variant" for t in tables)


def test_active_user_counts_show_without_decimals():
    from engagement_utils.display.tables import column_kind

    assert {column_kind(c, pd.Series([16.0])) for c in ("dau", "wau", "mau")} == {"count"}


def test_rate_bounds_read_as_percent_beside_their_rate():
    """Bounds no named pair claims fold into their rate by a column-kind rule, never 0.618 beside 67.5%."""
    carts = pd.DataFrame({"segment": ["desktop"], "carts": [280], "purchasers": [91],
                          "abandonment_rate": [0.675], "ci_low": [0.618], "ci_high": [0.727]})
    assert cells(disp.table_html(carts, min_group_size=0)) == [
        ["Segment", "Carts", "Purchasers", "Abandonment rate"],
        ["desktop", "280", "91", "67.5% (95% CI 61.8% to 72.7%)"]]
    prefixed = pd.DataFrame({"persona": ["A"], "users": [128.0], "converted": [79.0], "conversion_rate": [0.617],
                             "conversion_ci_low": [0.531], "conversion_ci_high": [0.697]})
    assert cells(disp.table_html(prefixed))[1] == ["A", "128", "79", "61.7% (95% CI 53.1% to 69.7%)"]
    two = pd.DataFrame({"users": [50.0], "reach_rate": [0.4], "reach_ci_low": [0.3], "reach_ci_high": [0.5],
                        "response_rate": [0.25], "ci_low": [0.1], "ci_high": [0.45]})
    assert cells(disp.table_html(two))[1] == ["50", "40.0% (95% CI 30.0% to 50.0%)", "25.0% (95% CI 10.0% to 45.0%)"]
    # bounds of something that is not a rate stay apart (an NPS score in points)
    nps = pd.DataFrame({"kind": ["nps"], "score": [12.0], "ci_low": [1.0], "ci_high": [20.0]})
    assert cells(disp.table_html(nps, min_group_size=0))[0] == ["Kind", "Score", "CI low", "CI high"]


def test_whole_number_columns_and_counts_show_no_decimals():
    rfm = pd.DataFrame({"segment": ["a", "b"], "users": [26, 40], "churned": [31.0, 45.0],
                        "frequency_median": [3.0, 0.0], "recency_median": [3.5, 20.0]})
    assert cells(disp.table_html(rfm))[1:] == [["a", "26", "31", "3", "3.5"], ["b", "40", "45", "0", "20.0"]]


def test_unit_suffixes_read_as_units():
    assert disp.column_label("mean_duration_s") == "Mean duration (s)"
    assert disp.column_label("s") == "S" and disp.column_label("sessions") == "Sessions"  # a lone "s" is no unit


def test_skipped_sections_render_as_one_compact_escaped_line():
    page = disp.key_numbers_html({"Users": "600", "Skipped sections": f"Funnel (needs {SCRIPT})"})
    soup = BeautifulSoup(page, "html.parser")
    figures = [d for d in soup.section.find_all("div", recursive=False)[1:] if "engagement-skipped" not in d.get("class", [])]
    assert [f.find_all("div")[0].get_text() for f in figures] == ["600"]  # the skipped list is no figure
    line = soup.find("div", class_="engagement-skipped")
    assert line.get_text(" ", strip=True) == f"Skipped sections: Funnel (needs {SCRIPT})"
    assert "font-size:1.5em" not in str(line) and soup.find("script") is None


def test_money_bounds_fold_and_exact_decimals_line_up():
    outcomes = pd.DataFrame({"persona": ["A"], "users": [708], "revenue_per_user": [8027.94],
                             "revenue_ci_low": [6490.36], "revenue_ci_high": [9565.51]})
    assert cells(disp.table_html(outcomes, currency="GBP"))[1] == ["A", "708", "£8,027.94 (95% CI £6,490.36 to £9,565.51)"]
    medians = pd.DataFrame({"segment": list("abc"), "users": [20, 30, 40], "recency_median": [25.5, 8.0, 126.0],
                            "minutes": [19.38, 17.1444, 0.5]})
    assert [row[2:] for row in cells(disp.table_html(medians))[1:]] == [["25.5", "19.38"], ["8.0", "17.14"], ["126.0", "0.5"]]


def test_index_columns_read_with_two_decimals():
    t = pd.DataFrame({"segment": list("abc"), "users": [22, 45, 25], "index": [0.81, 1.0444, 0.9222]})
    assert [row[-1] for row in cells(disp.table_html(t))[1:]] == ["0.81", "1.04", "0.92"]


def test_a_table_whose_every_group_is_hidden_shows_why_not_an_empty_header():
    from engagement_utils.display.tables import table_html

    out = table_html(pd.DataFrame({"platform": ["ios", "web"], "users": [3, 4]}), caption="Sessions by platform")
    assert "<table" not in out and "Sessions by platform" in out
    assert "All 2 groups have fewer than 10 users and are not shown (privacy)." in out
    assert "No rows to show." in table_html(pd.DataFrame({"users": pd.Series([], dtype=int)}))
    partly = table_html(pd.DataFrame({"platform": ["ios", "web"], "users": [3, 40]}))
    assert "<table" in partly and "1 group with fewer than 10 users is not shown (privacy)." in partly
