"""Cross-engine equality matrix: in-memory (reference) vs Ibis-DuckDB vs Ibis-PySpark.

One Spark session per test run (module fixture; with ``--dist loadfile`` this file runs in one
worker).  The demo data go to Spark as a sample of users; the adversarial log covers timestamp
ties, gaps exactly at the session timeout, sub-second gaps, DST changes in the report timezone,
censored last periods, empty / missing segments and single-event users.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

ibis = pytest.importorskip("ibis", reason="engine tests need the engines extra: pip install -e '.[engines]'")

from engagement_utils import funnels, io, metrics, sessions  # noqa: E402
from engagement_utils.core import EventLog, activity_keys  # noqa: E402
from engagement_utils.core.scans import unpack_keys  # noqa: E402
from engagement_utils.engines import analyses, ibis_scans  # noqa: E402
from engagement_utils.engines.connect import from_frame, spark_session  # noqa: E402
from engagement_utils.retention import assign_cohorts, retention_matrix  # noqa: E402

TZ = "Europe/Berlin"
ENGINES = ["duckdb", "pyspark"]
FUNNEL = ["app_open", "screen_view[screen:product]", "add_to_cart", "purchase"]


def _ts(values):
    return pd.to_datetime(values, utc=True, format="ISO8601")


def adversarial_events() -> pd.DataFrame:
    """A small log built to break engines: every row is there for a reason."""
    rows = [
        # a: a tie (two events at the same instant), a gap exactly at the 30-min timeout (no split),
        #    then one 1 µs longer (split); returns on later days
        ("a", "2024-03-25T10:00:00", "app_open", "ios", None),
        ("a", "2024-03-25T10:00:00", "add_to_cart", "ios", None),
        ("a", "2024-03-25T10:30:00", "screen_view", "ios", None),
        ("a", "2024-03-25T11:00:00.000001", "purchase", "ios", 9.5),
        ("a", "2024-03-27T09:00:00", "app_open", "ios", None),
        ("a", "2024-04-08T09:00:00", "app_open", "ios", None),
        # b: sub-second gaps, crosses the spring DST change in Berlin (31 March 2024, 01:00 UTC)
        ("b", "2024-03-30T23:30:00", "app_open", "android", None),  # 00:30 local on 31 March
        ("b", "2024-03-30T23:30:00.250000", "screen_view", "android", None),
        ("b", "2024-03-30T23:30:00.750001", "add_to_cart", "android", None),
        ("b", "2024-03-31T01:30:00", "purchase", "android", 20.0),  # 03:30 local (CEST)
        ("b", "2024-04-01T21:59:59.999999", "app_open", "android", None),  # 23:59:59 local
        ("b", "2024-04-01T22:00:00", "app_open", "android", None),  # 00:00 local on 2 April
        # c: a single-event user with a missing segment
        ("c", "2024-03-26T12:00:00", "app_open", None, None),
        # d: first seen in the last (censored) week; crosses no DST
        ("d", "2024-04-08T08:00:00", "app_open", "web", None),
        ("d", "2024-04-08T08:00:00", "screen_view", "web", None),
        ("d", "2024-04-09T07:00:00", "purchase", "web", 5.0),
        # e: the autumn DST change (27 October 2024 01:00 UTC) seen from the report timezone
        ("e", "2024-03-25T23:30:00", "app_open", "web", None),
        ("e", "2024-04-09T23:59:00", "app_open", "web", None),  # the last event: 01:59 local on 10 April
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "timestamp", "event", "platform", "revenue"])
    frame["timestamp"] = _ts(frame["timestamp"])
    frame["revenue"] = frame["revenue"].astype(float)
    frame["screen"] = np.where(frame["event"] == "screen_view", "product", None)
    frame = frame.sort_values(["user_id", "timestamp"], kind="stable", ignore_index=True)
    for column in ("user_id", "event", "platform", "screen"):
        frame[column] = frame[column].astype("category")
    return frame


def autumn_events() -> pd.DataFrame:
    """Events around the autumn DST change in Berlin (27 October 2024, 01:00 UTC)."""
    frame = pd.DataFrame({
        "user_id": ["f", "f", "f", "g", "g"],
        "timestamp": _ts(["2024-10-26T22:30:00", "2024-10-27T00:30:00", "2024-10-27T23:30:00",
                          "2024-10-27T22:59:59", "2024-10-28T09:00:00"]),
        "event": ["app_open"] * 5,
        "platform": ["ios", "ios", None, "web", "web"],
    })
    return frame.astype({"user_id": "category", "event": "category", "platform": "category"})


@pytest.fixture(scope="module")
def demo():
    """The demo log at microsecond precision: what Spark and most warehouses store (DuckDB too, for TIMESTAMPTZ)."""
    events = io.load_events("data/demo/events.parquet")
    return events.assign(timestamp=events["timestamp"].dt.floor("us"))


@pytest.fixture(scope="module")
def demo_sample(demo):
    users = demo["user_id"].cat.categories[::25]  # 200 of 5,000 users: Spark-sized
    sample = demo[demo["user_id"].isin(users)].reset_index(drop=True)
    sample["user_id"] = sample["user_id"].cat.remove_unused_categories()
    return sample


@pytest.fixture(scope="module")
def spark():
    session = spark_session("engagement-tests")
    session.sparkContext.setLogLevel("ERROR")
    yield session


@pytest.fixture(scope="module")
def sources(request, demo, demo_sample):
    """Per engine: the demo log (Spark: the sample), the adversarial log and the autumn log as sources."""
    made = {}

    def get(engine: str):
        if engine not in made:
            con = request.getfixturevalue("spark") if engine == "pyspark" else None
            base = demo_sample if engine == "pyspark" else demo
            made[engine] = {
                "demo": (base, from_frame(base, tz=TZ, connection=con, name=f"demo_{engine}")),
                "adversarial": (adversarial_events(), from_frame(adversarial_events(), tz=TZ, connection=con, name=f"adv_{engine}")),
                "autumn": (autumn_events(), from_frame(autumn_events(), tz=TZ, connection=con, name=f"autumn_{engine}")),
            }
        return made[engine]

    return get


def assert_same(expected: pd.DataFrame, actual: pd.DataFrame, **options):
    pd.testing.assert_frame_equal(expected.reset_index(drop=True), actual.reset_index(drop=True),
                                  check_dtype=False, check_categorical=False, **options)


RETENTION_CASES = [
    dict(period="week"),
    dict(period="day", kind="unbounded"),
    dict(period="week", cohorts="recurring"),
    dict(period="day", clock="rolling", max_periods=10),
    dict(period="day", clock="rolling", kind="unbounded", include_partial=True),
    dict(period="week", segment="platform"),
    dict(period="day", include_partial=True, start_events="app_open", return_events="purchase"),
    dict(period="month", end="2024-03-15", start="2024-02-01"),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["demo", "adversarial", "autumn"])
@pytest.mark.parametrize("case", RETENTION_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_retention_matrix_equal(sources, engine, data, case):
    if engine == "pyspark" and data == "demo" and case not in RETENTION_CASES[:4]:
        pytest.skip("the Spark demo run keeps to four cases (time)")
    frame, src = sources(engine)[data]
    if data != "demo" and case.get("end") is not None:
        case = {k: v for k, v in case.items() if k not in ("end", "start")}
    if case.get("return_events") == "purchase" and data == "autumn":
        pytest.skip("the autumn log has no purchase")
    expected = retention_matrix(frame, tz=TZ, **case)
    assert_same(expected, retention_matrix(src, tz=TZ, **case))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["demo", "adversarial", "autumn"])
def test_activity_keys_and_members_equal(sources, engine, data):
    frame, src = sources(engine)[data]
    log = EventLog(frame, tz=TZ)
    for period in ("day", "week", "month"):
        code, ordinal = unpack_keys(activity_keys(log, period))
        expected = pd.DataFrame({"user_id": np.asarray(log.users)[code].astype(str), "period": ordinal})
        actual = ibis_scans.activity_keys(src, period).sort_values(["user_id", "period"])
        assert_same(expected, actual)
    cohorts = assign_cohorts(frame, "week", tz=TZ)
    members = ibis_scans.members(src, "week").sort_values("user_id").reset_index(drop=True)
    assert members["user_id"].tolist() == cohorts["user_id"].astype(str).tolist()
    assert (pd.to_datetime(members["start"], utc=True) == cohorts["first_seen"]).all()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["demo", "adversarial", "autumn"])
def test_active_users_and_lifecycle_equal(sources, engine, data):
    frame, src = sources(engine)[data]
    assert_same(metrics.active_users(frame, tz=TZ, include_partial=True), analyses.active_users(src, include_partial=True))
    assert_same(metrics.lifecycle(frame, "week", tz=TZ), analyses.lifecycle(src, "week"))
    if "platform" in frame.columns:
        expected = metrics.active_users(frame, "week", tz=TZ, segment="platform", active_events=["app_open"])
        actual = analyses.active_users(src, "week", segment="platform", active_events=["app_open"])
        assert_same(expected.rename(columns={"platform": "segment"}), actual)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["demo", "adversarial", "autumn"])
@pytest.mark.parametrize("timeout", ["30min", "1s"])
def test_session_summary_equal(sources, engine, data, timeout):
    frame, src = sources(engine)[data]
    table = sessions.sessionize(frame, timeout).sessions
    assert_same(sessions.session_summary(table), analyses.session_summary(src, timeout))
    if "platform" in frame.columns:
        # both label missing values "(missing)" (the glossary); rows compared in one order
        expected = sessions.session_summary(table, "platform").sort_values("segment", ignore_index=True)
        actual = analyses.session_summary(src, timeout, segment="platform").sort_values("segment", ignore_index=True)
        assert_same(expected, actual)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["demo", "adversarial"])
@pytest.mark.parametrize("window", ["7D", "1h", "30min"])
def test_funnel_equal(sources, engine, data, window):
    frame, src = sources(engine)[data]
    assert_same(funnels.funnel(frame, FUNNEL, window), analyses.funnel(src, FUNNEL, window))
    expected = funnels.funnel(frame, FUNNEL, window, segment="platform").rename(columns={"platform": "segment"})
    assert_same(expected, analyses.funnel(src, FUNNEL, window, segment="platform"))


def _reference_features(frame: pd.DataFrame, end) -> pd.DataFrame:
    """Per-user features computed directly in pandas (the definitions of ibis_scans.user_features)."""
    end = pd.Timestamp(end, tz="UTC")
    kept = frame[frame["timestamp"] < end]
    day = EventLog(kept, tz=TZ).ordinal("day")
    g = kept.assign(day=day).groupby("user_id", observed=True)
    table = sessions.sessionize(kept).sessions
    out = pd.DataFrame({
        "recency_days": ((end - g["timestamp"].max()) // pd.Timedelta("1D")).astype(np.int64),
        "tenure_days": ((end - g["timestamp"].min()) // pd.Timedelta("1D")).astype(np.int64),
        "active_days": g["day"].nunique(), "events": g.size(),
        "sessions": table.groupby("user_id", observed=True).size(),
        "revenue": g["revenue"].sum(), "converted": g["event"].agg(lambda e: bool((e == "purchase").any())),
    })
    out.index = out.index.astype(str)
    return out.rename_axis("user_id").reset_index()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", ["demo", "adversarial"])
def test_user_features_equal(sources, engine, data):
    frame, src = sources(engine)[data]
    end = "2024-04-09" if data == "adversarial" else "2024-04-01"
    assert_same(_reference_features(frame, end), ibis_scans.user_features(src, end=end))


@pytest.mark.parametrize("engine", ENGINES)
def test_experiment_summary_equal(sources, engine, demo):
    from engagement_utils.experiments.stats import proportion_test, welch_test

    frame, src = sources(engine)["demo"]
    assignments = io.load_assignments("data/demo/assignments.csv")
    experiment = str(assignments["experiment"].iloc[0])
    assignments = assignments[assignments["user_id"].astype(str).isin(frame["user_id"].astype(str).unique())]
    users = analyses.experiment_users(src, assignments, experiment, window="14D")
    # the reference: the same per-user table in pandas
    a = assignments[assignments["experiment"] == experiment].copy()
    a["user_id"] = a["user_id"].astype(str)
    ev = frame.assign(user_id=frame["user_id"].astype(str))
    j = a.merge(ev, on="user_id", how="left")
    inside = (j["timestamp"] >= j["assigned_at"]) & (j["timestamp"] < j["assigned_at"] + pd.Timedelta("14D"))
    j = j.assign(conv=(inside & (j["event"] == "purchase")).astype(float), rev=np.where(inside, j["revenue"].fillna(0), 0.0),
                 n=inside.astype(float))
    ref = j.groupby(["user_id", "variant"], observed=True).agg(converted=("conv", "max"), revenue=("rev", "sum"),
                                                              events=("n", "sum")).reset_index()
    got = users.to_pandas().sort_values("user_id").reset_index(drop=True)
    assert_same(ref.sort_values("user_id")[["user_id", "variant", "converted", "revenue", "events"]], got)
    arms = ibis_scans.arm_statistics(users, ["converted", "revenue"])
    by = ref.groupby("variant", observed=True)
    for metric in ("converted", "revenue"):
        part = arms[arms["metric"] == metric].set_index("variant")
        np.testing.assert_allclose(part["n"], by[metric].count())
        np.testing.assert_allclose(part["sum"], by[metric].sum())
        np.testing.assert_allclose(part["sum_sq"], by[metric].apply(lambda y: float((y**2).sum())))
    variants = sorted(ref["variant"].astype(str).unique())
    control, treated = variants[0], variants[1:]
    summary = analyses.experiment_summary(users, "revenue", control=control)
    g = {v: ref.loc[ref["variant"].astype(str) == v, "revenue"] for v in variants}
    expected = welch_test(np.array([g[v].mean() for v in treated]), np.array([g[v].var() for v in treated]),
                          np.array([len(g[v]) for v in treated], float), g[control].mean(), g[control].var(), len(g[control]))
    np.testing.assert_allclose(summary[expected.columns].to_numpy(float), expected.to_numpy(float), rtol=1e-9)
    binary = analyses.experiment_summary(users, "converted", control=control, kind="binary")
    expected = proportion_test(np.array([g_.sum() for g_ in (ref.loc[ref["variant"].astype(str) == v, "converted"] for v in treated)]),
                               np.array([len(g[v]) for v in treated], float),
                               ref.loc[ref["variant"].astype(str) == control, "converted"].sum(), len(g[control]))
    np.testing.assert_allclose(binary[expected.columns].to_numpy(float), expected.to_numpy(float), rtol=1e-9)


def test_dst_periods_are_local(sources):
    """31 March 2024 00:30 local is 30 March 23:30 UTC: the engine puts it on the local day."""
    _, src = sources("duckdb")["adversarial"]
    keys = ibis_scans.activity_keys(src, "day")
    b = keys[keys["user_id"] == "b"]["period"].tolist()
    assert pd.Timestamp("2024-03-31").value // 86_400_000_000_000 in b


def test_errors_name_the_fix(sources):
    _, src = sources("duckdb")["adversarial"]
    with pytest.raises(ValueError, match="did you mean 'purchase'"):
        retention_matrix(src, "week", return_events="purchse")
    with pytest.raises(ValueError, match="does not have"):
        analyses.active_users(src, segment="plaform")
    with pytest.raises(ValueError, match="runs in memory only"):
        analyses.funnel(src, FUNNEL, ordering="strict")


def test_personas_fitted_on_a_sample_and_assigned_to_all(sources):
    """Features in the engine, k-means on a seeded sample, every user assigned in chunks."""
    from engagement_utils.personas import segment_users

    _, src = sources("duckdb")["demo"]
    features = ibis_scans.user_features(src, end="2024-04-01").set_index("user_id").drop(columns="converted")
    sample = features.sample(1000, random_state=0)
    segmentation = segment_users(sample, k=3)
    labels = analyses.assign_personas(features, sample, segmentation, chunk_size=700)
    assert len(labels) == len(features) and labels.index.equals(features.index)
    pd.testing.assert_series_equal(labels.loc[sample.index], segmentation.labels.reindex(sample.index),
                                   check_names=False, check_dtype=False)
