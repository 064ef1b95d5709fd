"""The shared core: option errors, statistics conventions, the event log."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, proportions_ztest

from engagement_utils.core import MISSING_SEGMENT, EventLog, activity_keys
from engagement_utils.core.scans import unpack_keys
from engagement_utils.stats import adjust_pvalues, two_proportion_ztest, wilson_ci
from engagement_utils.validation import check_option


def test_option_error_format():
    with pytest.raises(ValueError) as err:
        check_option("period", "weak", ("day", "week", "month"))
    assert str(err.value) == "The 'period' parameter must be one of {'day', 'week', 'month'}; got 'weak' — did you mean 'week'?"
    with pytest.raises(ValueError, match=r"got 'zzz'$"):
        check_option("period", "zzz", ("day", "week", "month"))


@pytest.mark.parametrize("correction,sm", [("holm", "holm"), ("fdr_bh", "fdr_bh"), ("bonferroni", "bonferroni")])
def test_adjust_pvalues_is_statsmodels(correction, sm):
    p = np.array([0.001, 0.2, 0.03, 0.04, 0.5])
    assert adjust_pvalues(p, correction) == pytest.approx(multipletests(p, method=sm)[1], abs=1e-15)
    with_nan = np.r_[p, np.nan]
    out = adjust_pvalues(with_nan, correction)
    assert np.isnan(out[-1]) and out[:-1] == pytest.approx(multipletests(p, method=sm)[1])


def test_adjust_pvalues_rejects_other_names():
    with pytest.raises(ValueError, match="did you mean 'fdr_bh'"):
        adjust_pvalues([0.1], "fdr_b")


def test_two_proportion_ztest_matches_statsmodels():
    rng = np.random.default_rng(3)
    n_b, n_a = rng.integers(50, 2000, 20), rng.integers(50, 2000, 20)
    x_b, x_a = rng.binomial(n_b, 0.3), rng.binomial(n_a, 0.25)
    r = two_proportion_ztest(x_b, n_b, x_a, n_a, alpha=0.1)
    for i in range(20):
        z, p = proportions_ztest([x_b[i], x_a[i]], [n_b[i], n_a[i]])
        lo, hi = confint_proportions_2indep(x_b[i], n_b[i], x_a[i], n_a[i], method="wald", alpha=0.1)
        assert r["statistic"][i] == pytest.approx(z, rel=1e-10)
        assert r["p_value"][i] == pytest.approx(p, rel=1e-10)
        assert (r["ci_low"][i], r["ci_high"][i]) == pytest.approx((lo, hi), rel=1e-10)


def test_degenerate_convention():
    both_zero = two_proportion_ztest(0, 100, 0, 100)
    assert both_zero["statistic"] == 0 and both_zero["p_value"] == 1.0
    empty = two_proportion_ztest(0, 0, 5, 100)
    assert np.isnan(empty["p_value"]) and np.isnan(empty["difference"])
    lo, hi = wilson_ci([0, 3, 0], [10, 10, 0])
    assert lo[0] == 0.0 and np.isnan(lo[2]) and np.isnan(hi[2])
    ref = proportion_confint(3, 10, method="wilson")
    assert (lo[1], hi[1]) == pytest.approx(ref, rel=1e-12)


@pytest.fixture
def tiny_log():
    events = pd.DataFrame({
        "user_id": pd.Categorical(["u2", "u1", "u1", "u3"]),
        "timestamp": pd.to_datetime(["2024-03-30 23:30", "2024-03-01 08:00", "2024-03-01 09:00", "2024-03-05 10:00"], utc=True),
        "event": pd.Categorical(["open", "open", "buy", "open"]),
        "platform": ["ios", None, "web", "ios"],
    })
    return events


def test_event_log_arrays(tiny_log):
    log = EventLog(tiny_log, tz="Europe/Berlin")
    assert log.users.tolist() == ["u1", "u2", "u3"]
    assert log.user_code.tolist() == [1, 0, 0, 2]
    # 23:30 UTC on 30 March is 00:30 on 31 March in Berlin
    assert log.ordinal("day")[0] == (pd.Timestamp("2024-03-31") - pd.Timestamp("1970-01-01")).days
    seg = log.segment("platform")
    assert list(seg.labels) == ["ios", "web", MISSING_SEGMENT]
    assert seg.codes.tolist() == [0, 2, 1, 0]
    assert log.first_rows().tolist() == [1, 0, 3]
    assert log.first_rows(log.event_mask("buy", "conversion_events")).tolist() == [2]
    assert EventLog.of(log, "Europe/Berlin") is log
    assert EventLog.of(log, "UTC").ordinal("day")[0] == log.ordinal("day")[0] - 1
    assert tiny_log["platform"].isna().sum() == 1  # input untouched


def test_event_log_errors(tiny_log):
    log = EventLog(tiny_log)
    with pytest.raises(ValueError, match="'conversion_events' parameter names event\\(s\\) \\['bye'\\].*did you mean 'buy'"):
        log.event_mask("bye", "conversion_events")
    with pytest.raises(ValueError, match="'segment' parameter names column 'platfrom'.*did you mean 'platform'"):
        log.segment("platfrom")
    with pytest.raises(ValueError, match="no column"):
        EventLog(tiny_log.drop(columns="event"))


def test_activity_keys_distinct_per_user_period(tiny_log):
    codes, days = unpack_keys(activity_keys(EventLog(tiny_log), "day"))
    assert list(zip(codes.tolist(), days.tolist())) == [(0, 19783), (1, 19812), (2, 19787)]  # u1 twice on one day: one key


def test_segment_codes_agree_for_categorical_and_object_columns(tiny_log):
    plain = EventLog(tiny_log).segment("platform")
    categorical = EventLog(tiny_log.assign(platform=tiny_log["platform"].astype("category"))).segment("platform")
    assert list(plain.labels) == list(categorical.labels)
    assert plain.codes.tolist() == categorical.codes.tolist()
