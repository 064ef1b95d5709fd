"""Reproduce the published figures of the UCI Online Retail data set (data/external/README.md).

The loading options are read from the report parameter file
``reports/params/online_retail.yml``, so these tests also pin what the
online-retail reports load.  The 541,909-line file is read once per session.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engagement_utils import io, personas, retention
from engagement_utils.reports import load_params_file
from engagement_utils.sources import cleaning_log, load_source

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "external" / "online_retail.parquet"
PARAMS = ROOT / "reports" / "params" / "online_retail.yml"

COHORT_SIZES = [948, 421, 380, 440, 299, 279, 235, 191, 167, 298, 352, 321, 41]
RETAINED_2010_12 = [948, 362, 317, 367, 341, 376, 360, 336, 336, 374, 354, 474, 260]
RATES_2010_12 = [1, .381857, .334388, .387131, .359705, .396624, .379747, .354430, .354430, .394515, .373418,
                 .500000, .274262]
RETAINED_2011_01 = [421, 101, 119, 102, 138, 126, 110, 108, 131, 146, 155, 63]
SEGMENT_COUNTS = {
    "Champions": 831, "Hibernating Customers": 697, "Lost Customers": 489, "Loyal": 427, "At Risk": 425,
    "Potential Loyalist": 405, "Need Attention": 286, "About To Sleep": 285, "New Customers": 267,
    "Promising": 133, "Cannot Lose Them": 93,
}


@pytest.fixture(scope="session")
def retail_raw() -> pd.DataFrame:
    """The file as stored; treat as read-only."""
    return pd.read_parquet(DATA)


@pytest.fixture(scope="session")
def retail_params() -> dict:
    return load_params_file(PARAMS)


@pytest.fixture(scope="session")
def cohort_events(retail_raw, retail_params) -> pd.DataFrame:
    """The cohort report's loading (its data-set description's events options): drop lines without a customer only."""
    events = retail_params["notebook_parameters"]["01_cohort_retention"]["dataset"]["events"]
    return load_source(retail_raw, **{k: v for k, v in events.items() if k != "path"})


@pytest.fixture(scope="session")
def monthly_partial(cohort_events) -> pd.DataFrame:
    return retention.retention_matrix(cohort_events, "month", include_partial=True)


@pytest.fixture(scope="session")
def monthly_censored(cohort_events) -> pd.DataFrame:
    return retention.retention_matrix(cohort_events, "month")


@pytest.fixture(scope="session")
def rfm_events(retail_raw, retail_params) -> pd.DataFrame:
    """The RFM cleaning (the personas report's loading options)."""
    options = dict(retail_params["notebook_parameters"]["04_personas"]["dataset"]["events"])
    options.pop("path")
    return load_source(retail_raw, **options)


@pytest.fixture(scope="session")
def rfm_features(rfm_events) -> pd.DataFrame:
    return personas.user_features(rfm_events)


@pytest.fixture(scope="session")
def rfm_scores(rfm_features) -> pd.DataFrame:
    """The published method: equal values ranked by customer id (``ties="first"``)."""
    return personas.rfm(rfm_features, ties="first")


# --------------------------------------------------------------------------- the file


def test_file_holds_the_published_rows_uncleaned(retail_raw):
    assert retail_raw.shape == (541_909, 8)
    assert retail_raw.columns.tolist() == ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                                           "UnitPrice", "CustomerID", "Country"]
    assert retail_raw["CustomerID"].isna().sum() == 135_080
    assert retail_raw["CustomerID"].nunique() == 4_372
    assert retail_raw["InvoiceNo"].nunique() == 25_900
    assert retail_raw["InvoiceNo"].str.startswith("C").sum() == 9_288
    assert retail_raw["Country"].nunique() == 38
    assert retail_raw.duplicated().sum() == 5_268
    assert (retail_raw["InvoiceDate"].min(), retail_raw["InvoiceDate"].max()) == ("2010-12-01 08:26:00", "2011-12-09 12:50:00")


# --------------------------------------------------------------------------- cohort retention


def test_cohort_loading_keeps_every_customer_with_clean_ids(cohort_events):
    ids = cohort_events["user_id"].cat.categories
    assert len(ids) == 4_372 and pd.api.types.is_integer_dtype(ids.dtype) and 17850 in ids
    assert cleaning_log(cohort_events).loc[0, ["rule", "rows_removed"]].tolist() == ["drop CustomerID is missing", 135_080]
    assert set(cohort_events["event"].cat.categories) == {"purchase", "refund"}
    assert cohort_events["country"].nunique() == 37  # 38 in the file; Hong Kong's lines have no customer
    assert (cohort_events["revenue"].dropna() >= 0).all()


def test_published_cohort_sizes(monthly_partial):
    sizes = monthly_partial.groupby("cohort")["cohort_size"].first()
    assert sizes.index.strftime("%Y-%m").tolist() == ["2010-12"] + [f"2011-{m:02d}" for m in range(1, 13)]
    assert sizes.tolist() == COHORT_SIZES


def test_published_cohort_rows_with_partial_periods(monthly_partial, cohort_events):
    table = retention.retention_table(monthly_partial, "retained")
    rates = retention.retention_table(monthly_partial, "rate")
    assert table.loc["2010-12-01", list(range(13))].tolist() == RETAINED_2010_12
    np.testing.assert_allclose(rates.loc["2010-12-01", list(range(13))], RATES_2010_12, atol=5e-7)
    assert table.loc["2011-01-01", list(range(12))].tolist() == RETAINED_2011_01
    assert table.loc["2011-11-01", 1] == 43
    assert rates.loc["2011-11-01", 1] == pytest.approx(.133956, abs=5e-7)
    assert "counted as observed so far" in retention.retention_definition(cohort_events, "month", include_partial=True).text


def test_partial_december_is_censored_by_default(monthly_censored, monthly_partial, cohort_events):
    rates = retention.retention_table(monthly_censored, "rate")
    cohorts = rates.index.strftime("%Y-%m").tolist()
    december_diagonal = [rates.loc[cohort, 12 - i] if 12 - i in rates.columns else np.nan
                         for i, cohort in enumerate(rates.index)]
    assert cohorts[-1] == "2011-12" and np.isnan(december_diagonal).all()
    assert rates.loc["2010-12-01", 11] == pytest.approx(0.5)  # full months keep their published values
    assert retention.retention_definition(cohort_events, "month").first_incomplete_period == pd.Timestamp("2011-12-01")
    # Censored means no value, not a zero: nobody is eligible for the partial month.
    cohort = monthly_censored["cohort"]
    december = cohort.dt.year * 12 + cohort.dt.month + monthly_censored["period"] == 2011 * 12 + 12
    assert (monthly_censored.loc[december, "eligible"] == 0).all()
    complete = monthly_partial.merge(monthly_censored, on=["cohort", "period"], suffixes=("", "_censored"))
    same = complete.loc[complete["eligible_censored"] > 0]
    assert (same["retained"] == same["retained_censored"]).all()


# --------------------------------------------------------------------------- RFM


def test_rfm_cleaning_rows_customers_revenue(rfm_events):
    assert len(rfm_events) == 392_692
    assert rfm_events["user_id"].nunique() == 4_338
    assert rfm_events["revenue"].sum() == pytest.approx(8_887_208.89, abs=0.005)
    log = cleaning_log(rfm_events)
    assert log["rows_before"].iloc[0] == 541_909 and log["rows_after"].iloc[-1] == 392_692
    assert log.loc[log["rule"] == "drop exact duplicate rows", "rows_removed"].tolist() == [5_268]
    assert io.load_report(rfm_events).rows_read == 541_909


@pytest.mark.parametrize("customer, r, f, m", [
    (12346, 326, 1, 77_183.60), (12347, 2, 7, 4_310.00), (12348, 75, 4, 1_797.24), (18287, 43, 3, 1_837.28),
])
def test_published_example_customers(rfm_scores, customer, r, f, m):
    row = rfm_scores.loc[customer]
    assert (row["recency"], row["frequency"]) == (r, f)
    assert row["monetary"] == pytest.approx(m, abs=0.005)


def test_published_rfm_summary_statistics(rfm_scores):
    stats = rfm_scores[["recency", "frequency", "monetary"]].agg(["mean", "median", "max"])
    assert stats["recency"].round(2).tolist() == [92.54, 51, 374]
    assert stats["frequency"].round(2).tolist() == [4.27, 2, 209]
    assert stats["monetary"].round(2).tolist() == [2_048.69, 668.57, 280_206.02]


def test_published_segment_counts_and_champions_revenue(rfm_scores):
    assert rfm_scores["segment"].value_counts().to_dict() == SEGMENT_COUNTS
    summary = personas.rfm_summary(rfm_scores)
    assert round(summary.loc["Champions", "monetary_share"] * 100, 2) == 62.81


def test_purchase_only_log_leaves_session_and_channel_features_out(rfm_features):
    omitted = personas.omitted_features(rfm_features)
    assert {"sessions", "mean_session_s", "channels_reached"} <= set(omitted)
    assert not set(omitted) & set(rfm_features.columns)
    assert (rfm_features.table["orders"] > 0).all()
