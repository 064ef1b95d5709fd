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
@pytest.mark.parametrize("ordering", ["sequential", "strict", "any"])
def test_funnel_equal(sources, engine, data, window, ordering):
    frame, src = sources(engine)[data]
    assert_same(funnels.funnel(frame, FUNNEL, window, ordering=ordering), analyses.funnel(src, FUNNEL, window, ordering=ordering))
    expected = funnels.funnel(frame, FUNNEL, window, ordering=ordering, segment="platform").rename(columns={"platform": "segment"})
    assert_same(expected, analyses.funnel(src, FUNNEL, window, ordering=ordering, segment="platform"))
    if ordering != "sequential":  # the adversarial log's ties and same-instant steps, with alternatives in a step
        steps = ["app_open", "add_to_cart | screen_view", "purchase"]
        assert_same(funnels.funnel(frame, steps, window, ordering=ordering), analyses.funnel(src, steps, window, ordering=ordering))


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
    users = analyses.rolling_experiment_users(src, assignments, experiment, window="14D")
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
    with pytest.raises(ValueError, match="did you mean 'strict'"):
        analyses.funnel(src, FUNNEL, ordering="strct")


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


# ---------------------------------------------------------------- notebooks 00 and 01 on the engine (issue 15)

from engagement_utils import overview  # noqa: E402
from engagement_utils.data_profile import missing_for, profile, requires  # noqa: E402
from engagement_utils.engines import overview as engine_overview  # noqa: E402
from engagement_utils.engines.connect import canonical_events  # noqa: E402
from engagement_utils.retention import bracket_retention, compare_segments, retention_definition, user_retention  # noqa: E402
from engagement_utils.dataset import DataSetError, describe_dataset, load_dataset  # noqa: E402
from engagement_utils.sources import cleaning_log, load_source  # noqa: E402

DATA = ["demo", "adversarial", "autumn"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", DATA)
def test_overview_equal(sources, engine, data):
    """00's tables: summary, events per period, value mixes (folded, with ties and missing values), missing values."""
    frame, src = sources(engine)[data]
    assert_same(overview.data_summary(frame, TZ), overview.data_summary(src, TZ))
    for period in ("day", "week", "month"):
        assert_same(overview.events_per_period(frame, period, TZ), overview.events_per_period(src, period, TZ))
    for column in ("event", "platform", "screen"):
        if column not in frame.columns:
            continue
        for top in (None, 1, 2, 3, 12):
            assert_same(overview.value_mix(frame, column, top=top), overview.value_mix(src, column, top=top))
    assert_same(overview.missing_values(frame), overview.missing_values(src))


def test_value_mix_ties_at_the_cut_keep_the_first_value():
    """Values tied in events at the ``top`` cut: both engines keep the one whose first row comes first."""
    frame = pd.DataFrame({"user_id": ["b", "a", "a", "c"], "event": ["y", "x", "z", "w"],
                          "timestamp": _ts(["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-03"])})
    frame = io.load_events(frame)
    for top in (1, 2, 3):
        assert_same(overview.value_mix(frame, "event", top=top), overview.value_mix(from_frame(frame), "event", top=top))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", DATA)
def test_profile_equal(sources, engine, data):
    """The data profile from the table's schema and grouped counts equals the loaded frame's."""
    frame, src = sources(engine)[data]
    expected, actual = profile(frame), profile(src)
    for name in ("n_events", "n_users", "first_timestamp", "last_timestamp", "columns", "properties", "inputs",
                 "user_columns", "roles", "absent_role_events"):
        assert getattr(expected, name) == getattr(actual, name), name
    assert set(expected.event_names) == set(actual.event_names)
    counts = frame["event"].value_counts()
    assert [counts[n] for n in actual.event_names] == sorted(counts[counts > 0], reverse=True)
    assert_same(expected.table, actual.table)
    assert (expected.engine, actual.engine) == ("memory", "ibis")


BRACKET_CASES = [
    dict(period="week", brackets=[(1, 1), (2, 4), (5, 12)]),
    dict(period="day", brackets=[(0, 0), (1, 1), (2, 7), (8, 30)]),
    dict(period="day", brackets=[(1, 3), (2, 7)], cohorts="recurring"),
    dict(period="day", brackets=[(1, 1), (2, 7)], clock="rolling"),
    dict(period="day", brackets=[(1, 1), (2, 7)], clock="rolling", include_partial=True),
    dict(period="week", brackets=[(1, 1), (1, 2)], segment="platform", include_partial=True),
    dict(period="day", brackets=[(1, 1), (2, 7)], start_events="app_open", return_events="purchase"),
    dict(period="month", brackets=[(1, 1), (1, 3)], end="2024-03-15", start="2024-02-01"),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("case", BRACKET_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items() if k != "brackets"))
def test_bracket_retention_and_definition_equal(sources, engine, data, case):
    frame, src = sources(engine)[data]
    case = dict(case)
    if data != "demo" and case.get("end") is not None:
        case = {k: v for k, v in case.items() if k not in ("end", "start")}
    if case.get("return_events") == "purchase" and data == "autumn":
        pytest.skip("the autumn log has no purchase")
    brackets, period = case.pop("brackets"), case.pop("period")
    assert_same(bracket_retention(frame, brackets, period, tz=TZ, **case), bracket_retention(src, brackets, period, tz=TZ, **case))
    options = {k: v for k, v in case.items() if k != "start"}
    expected, actual = retention_definition(frame, period, tz=TZ, **options), retention_definition(src, period, tz=TZ, **options)
    assert expected.text == actual.text
    assert expected.data_end.floor("us") == actual.data_end and expected.first_incomplete_period == actual.first_incomplete_period


def _users_of(frame: pd.DataFrame) -> pd.DataFrame:
    """A users table with a text, a boolean and an integer column; one user of the events missing, one without events."""
    ids = list(frame["user_id"].cat.categories)
    n = len(ids) - 1
    return pd.DataFrame({"user_id": ids[:-1] + ["nobody"], "channel": (["ads", "organic", None] * n)[:n] + ["ads"],
                         "onboarding": ([True, False] * n)[:n] + [True], "n_channels": ([2, 10, 3] * n)[:n] + [1]})


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", DATA)
def test_user_columns_and_segment_comparisons_equal(sources, engine, data):
    """01's segments: users-table columns joined in the engine, compared as in memory (labels keep their type)."""
    frame, src = sources(engine)[data]
    users = _users_of(frame)
    columns = ["channel", "onboarding", "n_channels"]
    joined = engine_overview.with_user_columns(src, users, columns)
    attached = io.attach_user_properties(frame, users, columns)
    assert overview.user_table_checks(frame, users) == overview.user_table_checks(src, users)
    for kind in ("n_period", "unbounded"):
        expected = compare_segments(attached, "day", kind, columns + (["platform"] if "platform" in frame else []),
                                    min_group_size=1, tz=TZ, max_periods=8)
        actual = compare_segments(joined, "day", kind, columns + (["platform"] if "platform" in frame else []),
                                  min_group_size=1, tz=TZ, max_periods=8)
        for e, a in zip(expected, actual, strict=True):
            assert (e.column, e.hidden) == (a.column, a.hidden)
            assert_same(e.curve, a.curve)
            assert list(e.curve["segment"]) == list(a.curve["segment"])  # True / 2 / 10, not "true" / "10"
            assert (e.comparison is None) == (a.comparison is None)
            if e.comparison is not None:
                assert_same(e.comparison.table, a.comparison.table)
                assert e.comparison.text == a.comparison.text


@pytest.mark.parametrize("engine", ENGINES)
def test_canonical_events_drop_duplicates_and_window_as_the_loader(sources, engine):
    """Duplicates dropped (first kept) and the date window applied in the engine, counted as io.load_events counts."""
    frame, _ = sources(engine)["adversarial"]
    raw = pd.concat([frame, frame.iloc[[0, 3, 3, 7]]], ignore_index=True).astype({"platform": object, "screen": object,
                                                                               "user_id": object, "event": object})
    start, end = pd.Timestamp("2024-03-26"), pd.Timestamp("2024-04-09")
    loaded = load_source(raw, start=start, end=end)
    con = sources(engine)["adversarial"][1].connection
    src = canonical_events(from_frame(raw, tz=TZ, connection=con, name=f"raw_{engine}"), start=start, end=end,
                           source="DataFrame")
    assert io.load_report(src) == io.load_report(loaded)
    assert_same(cleaning_log(src), cleaning_log(loaded))
    assert_same(retention_matrix(loaded, "day", tz=TZ), retention_matrix(src, "day", tz=TZ))
    assert_same(overview.data_summary(loaded, TZ), overview.data_summary(src, TZ))


def test_dataset_description_selects_the_engine(tmp_path, demo):
    """``events.engine: ibis``: the events stay in DuckDB (with the file's row order), equal to the loaded frame."""
    path = tmp_path / "events.parquet"
    raw = pd.concat([demo.iloc[:2000], demo.iloc[[5, 9]]], ignore_index=True)
    raw.astype({c: object for c in ("user_id", "event", "screen", "platform", "country")}).to_parquet(path)
    memory = load_dataset({"events": {"path": str(path), "end": "2024-01-20"}, "tz": TZ})
    engine = load_dataset({"events": {"path": str(path), "engine": "ibis", "memory_limit": "1GB", "end": "2024-01-20"},
                           "tz": TZ})
    assert engine.events.engine == "ibis" and engine.events.tz == TZ and isinstance(memory.events, pd.DataFrame)
    report, expected = io.load_report(engine.events), io.load_report(memory.events)
    assert (report.rows_read, report.duplicates_dropped, report.rows_outside_window, report.rows_loaded) == (
        expected.rows_read, expected.duplicates_dropped, expected.rows_outside_window, expected.rows_loaded)
    assert_same(cleaning_log(memory.events), cleaning_log(engine.events))
    assert profile(memory).text == profile(engine).text
    assert_same(retention_matrix(memory.events, "day", tz=TZ, segment="platform"),
                retention_matrix(engine.events, "day", tz=TZ, segment="platform"))
    problems = {
        "engine": {"events": {"path": "x.parquet", "engine": "ibsi"}},
        "loading options of engine: memory": {"events": {"path": "x.parquet", "engine": "ibis", "preset": "ga4", "filters": []}},
        "needs path": {"events": {"engine": "ibis"}},
        "'backend'": {"events": {"engine": "ibis", "connection": {"project_id": "p"}, "table": "events"}},
        "the name of the events table": {"events": {"engine": "ibis", "connection": {"backend": "bigquery"}}},
        "applies to engine: ibis only": {"events": {"path": "x.csv", "memory_limit": "2GB"}},
    }
    for phrase, description in problems.items():
        with pytest.raises(DataSetError, match=phrase):
            describe_dataset(description)
    spec = describe_dataset({"events": {"engine": "ibis", "connection": {"backend": "bigquery", "project_id": "p"},
                                        "table": "events"}}).inputs["events"]
    assert spec.path is None and spec.options["table"] == "events"


def test_dataset_description_with_a_connection_and_a_table(tmp_path, demo):
    """The warehouse shape (``connection`` + ``table``), run on a DuckDB database file: the same numbers as memory."""
    import duckdb

    raw = pd.concat([demo.iloc[:3000], demo.iloc[[5, 9]]], ignore_index=True)
    frame = raw.astype({c: object for c in ("user_id", "event", "screen", "platform", "country")})
    frame = frame.assign(timestamp=frame["timestamp"].astype("datetime64[us, UTC]"), event_seq=np.arange(len(frame)))
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("SET TimeZone = 'UTC'")
        con.register("frame", frame)
        con.execute("CREATE TABLE events AS SELECT * FROM frame")
    events = {"engine": "ibis", "connection": {"backend": "duckdb", "database": str(database), "read_only": True},
              "table": "events", "start": "2024-01-02"}
    engine = load_dataset({"events": events, "tz": TZ, "conversion_events": "purchase"})
    path = tmp_path / "events.parquet"
    frame.drop(columns="event_seq").to_parquet(path)
    memory = load_dataset({"events": {"path": str(path), "start": "2024-01-02"}, "tz": TZ, "conversion_events": "purchase"})
    assert engine.events.backend == "duckdb" and io.load_report(engine.events).duplicates_dropped == 2
    assert profile(memory).text == profile(engine).text
    assert_same(overview.data_summary(memory.events, TZ), overview.data_summary(engine.events, TZ))
    assert_same(bracket_retention(memory.events, [(1, 1), (2, 7)], tz=TZ, segment="platform"),
                bracket_retention(engine.events, [(1, 1), (2, 7)], tz=TZ, segment="platform"))


def test_in_memory_sections_name_the_engine_and_eventlog_refuses_an_engine_source(sources):
    _, src = sources("duckdb")["adversarial"]
    prof = profile(src)
    assert missing_for(requires(engine="memory"), prof) == [
        "needs the events loaded in memory (`engine: memory` in the events block of the data-set description); "
        "on the engine the table is read where it lies, without loading steps"]
    assert missing_for(requires(engine="ibis"), prof) == []
    with pytest.raises(ValueError, match="did you mean 'memory'"):
        requires(engine="memroy")
    with pytest.raises(TypeError, match="runs in memory only"):
        EventLog(src)


USER_RETENTION_CASES = [
    dict(),
    dict(days=(0, 1, 2, 7)),
    dict(period="week", days=(0, 1, 2)),
    dict(clock="rolling", days=(0, 1, 3)),
    dict(clock="rolling", include_partial=True),
    dict(start_events="app_open", return_events="app_open", end="2024-04-05"),
    dict(period="month", days=(0, 1)),
    dict(anchor="assignments", days=(1, 7, 14)),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("case", USER_RETENTION_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_user_retention_equal(sources, engine, data, case):
    """02's per-user flags: first start event or an explicit anchor (A/B assignment), calendar and rolling clocks."""
    frame, src = sources(engine)[data]
    case = dict(case)
    if data == "autumn" and case.get("end"):
        pytest.skip("the autumn log starts after that end")
    if case.get("anchor") == "assignments":
        if data == "demo":
            a = io.load_assignments("data/demo/assignments.csv")
            a = a[(a["experiment"] == a["experiment"].iloc[0]) & a["user_id"].astype(str).isin(frame["user_id"].astype(str))]
            case["anchor"] = a[["user_id", "assigned_at"]]
        else:  # one anchored user without events, one anchored before the user's first event
            ids = list(frame["user_id"].cat.categories[:2]) + ["nobody"]
            case["anchor"] = pd.DataFrame({"user_id": ids, "at": _ts(["2024-03-26T00:00:00", "2024-03-31T12:00:00",
                                                                      "2024-04-01T00:00:00"])})
    assert_same(user_retention(frame, tz=TZ, **case), user_retention(src, tz=TZ, **case))


# ---------------------------------------------------------------- notebook 04 on the engine (issue 15)

PERSONA_COUNTS = {"searches": "search", "cart_adds": "add_to_cart"}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("options", [dict(), dict(end="2024-04-01", window="30D")], ids=["all", "window"])
def test_persona_features_equal(sources, engine, options):
    """personas.user_features on the engine: the in-memory table (the demo at microseconds, as engines store it)."""
    from engagement_utils import personas

    frame, src = sources(engine)["demo"]
    kwargs = dict(conversion_events=["purchase"], count_events=PERSONA_COUNTS, tz=TZ, **options)
    memory, on_engine = personas.user_features(frame, **kwargs), personas.user_features(src, **kwargs)
    assert on_engine.end == memory.end and on_engine.window == memory.window and on_engine.omitted == memory.omitted
    pd.testing.assert_frame_equal(memory.table, on_engine.table, check_index_type=False, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("segment", ["acquisition_channel", "platform"])
def test_persona_outcomes_equal(sources, engine, segment):
    """persona_outcomes on the engine: summary, retention curve and segment table equal to memory."""
    from engagement_utils import personas

    frame, src = sources(engine)["demo"]
    features = personas.user_features(frame, conversion_events=["purchase"], tz=TZ)
    seg = personas.segment_users(features, k=3, random_state=0)
    users = io.load_users("data/demo/users.csv") if segment == "acquisition_channel" else None
    kwargs = dict(conversion_events=["purchase"], users=users, segment=segment, tz=TZ, max_days=14)
    memory, on_engine = personas.persona_outcomes(frame, seg.labels, **kwargs), personas.persona_outcomes(src, seg.labels, **kwargs)
    assert_same(memory.summary, on_engine.summary)
    assert_same(memory.retention, on_engine.retention)
    assert_same(memory.segments, on_engine.segments)


def test_segment_users_fitted_on_a_sample(sources):
    """fit_users: k-means on a seeded sample, every user the nearest centre; all users when there are fewer."""
    from engagement_utils import personas

    frame, _ = sources("duckdb")["demo"]
    features = personas.user_features(frame, conversion_events=["purchase"])
    columns = ["active_days", "recency_days", "mean_session_s", "revenue"]
    full = personas.segment_users(features, k=4, columns=columns)
    assert personas.segment_users(features, k=4, columns=columns, fit_users=len(features)).labels.equals(full.labels)
    sampled = personas.segment_users(features, k=4, columns=columns, fit_users=1000)
    assert sampled.labels.index.equals(full.labels.index) and set(sampled.labels) == set(range(4))
    assert pd.crosstab(full.labels, sampled.labels).max(axis=1).sum() / len(features) > 0.9  # the same personas, mostly
    with pytest.raises(ValueError, match="fit_users"):
        personas.segment_users(features, k=4, columns=columns, fit_users=1)


# ---------------------------------------------------------------- notebook 02 on the engine (issue 15)


@pytest.mark.parametrize("engine", ENGINES)
def test_02_public_functions_dispatch(sources, engine):
    """What 02 calls, handed the engine source: the in-memory tables (conversion_rate, funnel, active users, ...)."""
    frame, src = sources(engine)["demo"]
    users = io.load_users("data/demo/users.csv")
    users = users[users["user_id"].astype(str).isin(frame["user_id"].astype(str))]
    log = EventLog(frame, tz=TZ)
    for options in (dict(users=users), dict(segment="platform"), dict(users=users, segment="acquisition_channel")):
        assert_same(metrics.conversion_rate(log, ["purchase"], **options), metrics.conversion_rate(src, ["purchase"], **options))
    with pytest.raises(ValueError, match="within_days needs the events in memory"):
        metrics.conversion_rate(src, ["purchase"], within_days=7)
    assert_same(metrics.active_users(log, "week", segment="platform"), metrics.active_users(src, "week", segment="platform"))
    assert_same(metrics.lifecycle(log, "week"), metrics.lifecycle(src, "week"))
    assert_same(funnels.funnel(log, FUNNEL, "7D", segment="platform"), funnels.funnel(src, FUNNEL, "7D", segment="platform"))
    table = sessions.sessionize(log, "30min", conversion_events=["purchase"], keep=["platform"]).sessions
    for segment in (None, "platform"):
        assert_same(sessions.session_summary(table, segment),
                    sessions.session_summary(src, segment, timeout="30min", conversion_events=["purchase"]))
