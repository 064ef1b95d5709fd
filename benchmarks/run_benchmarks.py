"""Time the package's heavy operations on large demo logs, against two baselines.

For each log size (``--events``; default 1M and 10M events, about 10 events
per user over 180 days, generated with ``engagement_utils.demo`` and its
``LIGHT_MIX`` persona shares, cached as Parquet and CSV under
``benchmarks/results/``), the script times in one process:

* loading (Parquet, CSV) with ``io.load_events``;
* ``retention_matrix`` (day / week periods, n-period / unbounded);
* ``sessionize``, ``active_users``, ``funnel`` (4 steps);
* ``experiment_users`` + ``analyze_experiment``; ``user_features`` + ``segment_users``.

Each analysis runs on two package routes from the file: in memory
(``io.load_events(file, columns=..., cache=False)`` + the call) and on the engine
(``engines.duckdb_parquet(file)`` handed to the engine analyses; ``package_duckdb``).

Where a common alternative exists it is timed in the same run on the same
in-memory frame: (1) the pandas recipe tutorials teach and (2) the same query
in DuckDB SQL.  Every baseline's output is compared with the package's output;
a mismatch is reported as FAIL (a faster wrong answer does not count) and the
script exits with status 1.

Times are medians of ``--repeat`` runs (wall clock, ``time.perf_counter``).
Peak memory is measured in one extra, untimed run under ``tracemalloc``: it
counts every allocation made through Python's and numpy's allocators (all
pandas / numpy buffers) above what was allocated before the operation; Arrow's
own memory pool (used while reading Parquet) is not traced, so for loading
the figure is the pandas side only.

Usage: ``make bench`` or ``python benchmarks/run_benchmarks.py --events 1000000 --repeat 3 --only retention_day``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np
import pandas as pd
import polars as pl

from engagement_utils import demo, engines, io
from engagement_utils.engines import analyses as engine_analyses, ibis_scans
from engagement_utils.engines.connect import canonical_events
from engagement_utils.experiments import analyze_experiment, experiment_users
from engagement_utils.funnels import funnel
from engagement_utils.metrics import active_users
from engagement_utils.personas import segment_users, user_features
from engagement_utils.retention import retention_matrix
from engagement_utils.sessions import sessionize

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DAYS = 180
EVENTS_PER_USER = 10
SEED = 7
FUNNEL_STEPS = ["app_open", "add_to_cart", "begin_checkout", "purchase"]
FUNNEL_WINDOW = pd.Timedelta("7D")
SESSION_TIMEOUT = pd.Timedelta("30min")
EXPERIMENT = demo.EXPERIMENT["name"]


# DuckDB's DataFrame export calls a pandas API that pandas 3 deprecates; the warning is not ours.
warnings.filterwarnings("ignore", message="The inplace keyword")


def log(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- data


def cached_log(n_events: int, days: int, cache: Path) -> dict[str, Path]:
    """Generate (once) a demo log of about ``n_events`` events; return the cached file paths."""
    n_users = max(n_events // EVENTS_PER_USER, 10)
    folder = cache / f"log_{n_users}u_{days}d_seed{SEED}"
    paths = {"parquet": folder / "events.parquet", "csv": folder / "events.csv", "assignments": folder / "assignments.csv"}
    if all(p.exists() for p in paths.values()):
        return paths
    log(f"  generating {n_users:,} users over {days} days (cached in {folder}) ...")
    started = time.perf_counter()
    data = demo.generate_demo_data(n_users=n_users, days=days, random_state=SEED, persona_mix=demo.LIGHT_MIX)
    folder.mkdir(parents=True, exist_ok=True)
    data["events"].to_parquet(paths["parquet"], index=False)
    data["events"].to_csv(paths["csv"], index=False)
    data["assignments"].to_csv(paths["assignments"], index=False)
    log(f"  generated {len(data['events']):,} events in {time.perf_counter() - started:.0f} s")
    return paths


# --------------------------------------------------------------------------- baselines: retention


def _microseconds(timestamps: pd.Series) -> pd.Series:
    """UTC microseconds since the epoch: DuckDB keeps microseconds, the package nanoseconds."""
    ts = pd.to_datetime(timestamps, utc=True)
    return pd.Series(ts.array.as_unit("ns").asi8 // 1000, index=ts.index)


def pandas_retention(events: pd.DataFrame, period: str, kind: str) -> pd.DataFrame:
    """Tutorial recipe: floor the period, cohort = per-user min, nunique per (cohort, k), long frame."""
    df = events[["user_id", "timestamp"]].copy()
    local = df["timestamp"].dt.tz_localize(None)
    df["period"] = local.dt.floor("D") if period == "day" else local.dt.to_period("W-SUN").dt.start_time
    df["cohort"] = df.groupby("user_id", observed=True)["period"].transform("min")
    step = pd.Timedelta(days=1 if period == "day" else 7)
    df["k"] = (df["period"] - df["cohort"]) // step
    if kind == "n_period":
        counts = df.groupby(["cohort", "k"])["user_id"].nunique()
        return counts.rename("retained").reset_index()
    # unbounded: a user counts at every k up to their last active k
    last = df.groupby("user_id", observed=True).agg(cohort=("cohort", "first"), last_k=("k", "max"))
    per_last = last.groupby(["cohort", "last_k"]).size().unstack(fill_value=0)
    per_last = per_last.reindex(columns=range(int(per_last.columns.max()) + 1), fill_value=0)
    at_least = per_last.iloc[:, ::-1].cumsum(axis=1).iloc[:, ::-1]
    return at_least.stack().rename("retained").rename_axis(["cohort", "k"]).reset_index()


def check_retention(project: pd.DataFrame, baseline: pd.DataFrame) -> bool:
    """Retained users equal in every observed (eligible) cell; cohort sizes equal."""
    cells = project.loc[project["eligible"] > 0, ["cohort", "period", "retained", "cohort_size"]]
    base = baseline.assign(cohort=pd.to_datetime(baseline["cohort"]).astype("datetime64[ns]"), period=baseline["k"].astype(np.int64))
    base = base.set_index(["cohort", "period"])["retained"]
    got = base.reindex(pd.MultiIndex.from_frame(cells[["cohort", "period"]].astype({"cohort": "datetime64[ns]"}))).fillna(0)
    sizes = base.xs(0, level="period").reindex(cells["cohort"].astype("datetime64[ns]")).fillna(0)
    return bool(np.array_equal(got.to_numpy(np.int64), cells["retained"].to_numpy(np.int64))
                and np.array_equal(sizes.to_numpy(np.int64), cells["cohort_size"].to_numpy(np.int64)))


# --------------------------------------------------------------------------- baselines: active users


def pandas_active_users(events: pd.DataFrame) -> pd.DataFrame:
    """Tutorial recipe: user-days, nunique per day, and per trailing window by repeating each user-day."""
    days = events["timestamp"].dt.tz_localize(None).dt.floor("D")
    user_days = pd.DataFrame({"user_id": events["user_id"], "date": days}).drop_duplicates()
    out = {"dau": user_days.groupby("date")["user_id"].nunique()}
    for name, width in (("wau", 7), ("mau", 30)):
        spread = pd.concat([user_days.assign(date=user_days["date"] + pd.Timedelta(days=i)) for i in range(width)])
        out[name] = spread.groupby("date")["user_id"].nunique()
    return pd.DataFrame(out).fillna(0).rename_axis("date").reset_index()


def check_active_users(project: pd.DataFrame, baseline: pd.DataFrame) -> bool:
    """Equal DAU / WAU / MAU on every day both report a value (the package censors the first 6 / 29 days)."""
    base = baseline.set_index(pd.to_datetime(baseline["date"]).astype("datetime64[ns]"))
    mine = project.set_index(project["date"].astype("datetime64[ns]"))
    for col in ("dau", "wau", "mau"):
        values = mine[col].dropna()
        if not np.array_equal(values.to_numpy(), base[col].reindex(values.index).fillna(0).to_numpy(dtype=float)):
            return False
    return True


# --------------------------------------------------------------------------- baselines: sessions


def pandas_sessions(events: pd.DataFrame) -> pd.DataFrame:
    """Tutorial recipe: sort, groupby(user).diff(), new session where the gap exceeds the timeout, cumsum, agg."""
    df = events[["user_id", "timestamp"]].sort_values(["user_id", "timestamp"])
    gap = df.groupby("user_id", observed=True)["timestamp"].diff()
    session = (gap.isna() | (gap > SESSION_TIMEOUT)).cumsum()
    return df.groupby(session.to_numpy()).agg(user_id=("user_id", "first"), start=("timestamp", "min"),
                                               end=("timestamp", "max"), n_events=("timestamp", "size"))


def check_sessions(project, baseline: pd.DataFrame) -> bool:
    """Same sessions: (user, start, end, n_events) as sets, times to the microsecond (DuckDB's resolution)."""
    def key(frame):
        return frame.assign(user_id=frame["user_id"].astype(str),
                            start=_microseconds(frame["start"]), end=_microseconds(frame["end"]))[["user_id", "start", "end", "n_events"]].astype({"n_events": np.int64}) \
            .sort_values(["user_id", "start"], ignore_index=True)
    return key(project.sessions).equals(key(baseline))


# --------------------------------------------------------------------------- baselines: funnel


def _with_position(events: pd.DataFrame) -> pd.DataFrame:
    """Events with their position in user/time order, so 'after' breaks timestamp ties the way the package does."""
    return events[["user_id", "timestamp", "event"]].assign(pos=np.arange(len(events)))


def pandas_funnel(events: pd.DataFrame) -> pd.DataFrame:
    """Tutorial recipe: first step-1 per user, then per step merge the step's events and keep the first one after."""
    df = _with_position(events)
    first = df[df["event"] == FUNNEL_STEPS[0]].groupby("user_id", observed=True).first()
    entry = first[["timestamp", "pos"]].rename(columns={"timestamp": "t1"})
    reached, current = [len(entry)], entry.assign(prev_pos=entry["pos"])[["t1", "prev_pos"]]
    times = [pd.Series(0.0, index=entry.index)]
    for step in FUNNEL_STEPS[1:]:
        cand = df[df["event"] == step].merge(current, left_on="user_id", right_index=True)
        cand = cand[(cand["pos"] > cand["prev_pos"]) & (cand["timestamp"] <= cand["t1"] + FUNNEL_WINDOW)]
        nxt = cand.groupby("user_id", observed=True).first()
        current = pd.DataFrame({"t1": nxt["t1"], "prev_pos": nxt["pos"]})
        reached.append(len(nxt))
        times.append((nxt["timestamp"] - nxt["t1"]).dt.total_seconds())
    return pd.DataFrame({"step": range(1, len(FUNNEL_STEPS) + 1), "users": reached,
                         "median_time_s": [t.median() for t in times]})


def check_funnel(project: pd.DataFrame, baseline: pd.DataFrame) -> bool:
    return bool(np.array_equal(project["users"].to_numpy(), baseline["users"].to_numpy(np.int64))
                and np.allclose(project["median_time_s"].to_numpy(float), baseline["median_time_s"].to_numpy(float),
                                rtol=0, atol=1e-3, equal_nan=True))


# --------------------------------------------------------------------------- baselines: loading


# Loading baselines drop exact duplicate rows, as load_events does (the generator's
# millisecond timestamps produce a few).
def pandas_read(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """The pandas recipe's loading: read, parse the timestamps, drop exact duplicates."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path, columns=columns).drop_duplicates()
    return pd.read_csv(path, usecols=columns, parse_dates=["timestamp"]).drop_duplicates()


def polars_read(path: Path) -> pd.DataFrame:
    frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path, try_parse_dates=True)
    return frame.unique(maintain_order=True).to_pandas()


def duckdb_read(con, path: Path) -> pd.DataFrame:
    return con.execute(f"SELECT DISTINCT * FROM {peers._source(path)}").df()


def check_loaded(project: pd.DataFrame, baseline: pd.DataFrame) -> bool:
    """Same rows: row count, event counts per name and the timestamp sum agree."""
    return bool(len(project) == len(baseline)
                and project["event"].astype(str).value_counts().sort_index().equals(
                    baseline["event"].astype(str).value_counts().sort_index())
                and _microseconds(project["timestamp"]).sum() == _microseconds(baseline["timestamp"]).sum())


# --------------------------------------------------------------------------- experiment, user features


def package_experiment(events: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    users = experiment_users(assignments, events, EXPERIMENT, metrics=["conversion", "activity"])
    analyze_experiment(users, primary=("converted_14d",), secondary=("events_14d",), n_draws=10_000)
    return users


def check_experiment(project: pd.DataFrame, baseline: pd.DataFrame) -> bool:
    """Per variant: users, users observed for the whole 14 days, converted among them, their events."""
    per_variant = project.groupby("variant").agg(
        users=("user_id", "size"), eligible=("converted_14d", "count"),
        converted=("converted_14d", "sum"), events=("events_14d", "sum")).sort_index()
    base = baseline.set_index("variant").sort_index()[["users", "eligible", "converted", "events"]].astype(float)
    return bool(np.array_equal(per_variant.to_numpy(float), base.to_numpy(float)))


FEATURE_COLUMNS = ["recency_days", "tenure_days", "active_days", "events", "sessions", "revenue", "converted"]


def check_user_features(project: pd.DataFrame, baseline: pd.DataFrame) -> bool:
    """The per-user columns the peers compute, user by user (revenue to 1e-6)."""
    project = getattr(project, "table", project)  # user_features returns a UserFeatures (its .table)
    mine = project.set_index(project.index.astype(str)).sort_index()
    base = baseline.set_index(baseline.index.astype(str)).sort_index()
    if not mine.index.equals(base.index):
        return False
    exact = [c for c in FEATURE_COLUMNS if c != "revenue"]
    return bool(np.array_equal(mine[exact].to_numpy(float), base[exact].to_numpy(float))
                and np.allclose(mine["revenue"].to_numpy(float), base["revenue"].to_numpy(float), atol=1e-6))


# --------------------------------------------------------------------------- the package on the engine


def engine_source(path: Path, columns: list[str] | None = ()) -> engines.IbisEvents:
    """The engine route: ``engines.duckdb_parquet(path)``, the analysis' columns, exact duplicate rows dropped.

    ``load_events(path, columns=columns)`` keeps ``user_id, timestamp, event`` and ``columns``
    (None: all) and drops rows equal on all of those; the engine route does the same in
    ``engines.connect.canonical_events(src, columns=columns)`` -- what a data set's ``events``
    block with ``engine: ibis`` runs -- which on DuckDB (``materialize="auto"``) copies the
    distinct rows once into a temporary table that the analysis' queries read (without the
    deduplication the 10M log's 21 duplicate rows count twice).  Nothing else is validated on
    this route: ids, event names and timestamps are used as the file holds them (no stripping,
    no null or type checks).
    """
    return canonical_events(engines.duckdb_parquet(path), columns=columns, source=str(path))


def engine_sessions(path: Path) -> pd.DataFrame:
    """One row per session (user, start, end, events), scanned by the engine (``ibis_scans.session_expr``)."""
    s = ibis_scans.session_expr(engine_source(path, ["screen", "platform", "revenue"]), SESSION_TIMEOUT)
    return ibis_scans.execute(s.select("user_id", "start", "end", "n_events"))


def engine_experiment(path: Path, context: dict) -> pd.DataFrame:
    """Notebook 03's route on the engine: ``experiment_users`` handed the engine source (one row per
    assigned user computed in DuckDB, ``engines.experiment_scans``), then the same ``analyze_experiment``."""
    return package_experiment(engine_source(path, ["revenue"]), context["assignments"]())


def same_experiment_users(project: pd.DataFrame, engine: pd.DataFrame) -> bool:
    """The per-user frames are equal: ids, variants and every metric (floats to 1e-9 relative, NaN = censored)."""
    if list(project.columns) != list(engine.columns) or len(project) != len(engine):
        return False
    text = ["user_id", "variant"]
    numbers = [c for c in project.columns if c not in text and c != "assigned_at"]
    return bool(all(np.array_equal(project[c].astype(str).to_numpy(), engine[c].astype(str).to_numpy()) for c in text)
                and project["assigned_at"].equals(engine["assigned_at"])
                and np.allclose(project[numbers].to_numpy(float), engine[numbers].to_numpy(float), rtol=1e-9, equal_nan=True))


def engine_user_features(path: Path) -> pd.DataFrame:
    """Per-user features on the engine with the package's default end (the last event + 1 day)."""
    src = engine_source(path, None)
    _, last = ibis_scans.data_bounds(src)
    return ibis_scans.user_features(src, end=last + pd.Timedelta(days=1)).set_index("user_id")


def same_retention(project: pd.DataFrame, engine: pd.DataFrame) -> bool:
    columns = ["cohort", "period", "cohort_size", "eligible", "retained"]
    def key(frame):
        return frame[columns].astype({"cohort": "datetime64[ns]"}).sort_values(["cohort", "period"], ignore_index=True)
    return bool(key(project).equals(key(engine)))


def same_active_users(project: pd.DataFrame, engine: pd.DataFrame) -> bool:
    return all(np.array_equal(project[c].to_numpy(float), engine[c].to_numpy(float), equal_nan=True)
               for c in ("dau", "wau", "mau")) and len(project) == len(engine)


def same_funnel(project: pd.DataFrame, engine: pd.DataFrame) -> bool:
    return check_funnel(project, engine)


# --------------------------------------------------------------------------- the run


@dataclass
class Analysis:
    """One analysis: the package call on a loaded frame, the columns it needs, peers on the files."""

    name: str
    package: Callable[[pd.DataFrame, dict], object]
    columns: list[str] | None = field(default_factory=list)  # optional columns loaded for it (None: all)
    check: Callable[[object, object], bool] | None = None
    peers: dict[str, Callable[[Path], object]] = field(default_factory=dict)  # peer name -> f(path)
    pandas: Callable[[pd.DataFrame], object] | None = None  # the pandas recipe on pandas_read's frame
    engine: Callable[[Path, dict], object] | None = None  # the package on engines.duckdb_parquet(path)
    engine_check: Callable[[object, object], bool] | None = None  # package in memory vs package on the engine


@dataclass
class Result:
    name: str
    seconds: dict[str, float] = field(default_factory=dict)  # mode -> median seconds
    runs: dict[str, list[float]] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)
    equal: dict[str, bool] = field(default_factory=dict)


def timed(fn: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    runs, value = [], None
    for _ in range(repeat):
        value = None
        gc.collect()
        started = time.perf_counter()
        value = fn()
        runs.append(time.perf_counter() - started)
    return runs, value


def peak_memory_mb(fn: Callable[[], object]) -> float:
    """Peak traced allocation of one run above the memory allocated before it."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        value = fn()
        peak = tracemalloc.get_traced_memory()[1]
        del value
    finally:
        tracemalloc.stop()
    return (peak - before) / 2**20


def analyses(paths: dict[str, Path], con) -> list[Analysis]:
    steps = FUNNEL_STEPS
    return [
        Analysis("retention_day", lambda ev, c: retention_matrix(ev, "day", "n_period"), [], check_retention,
                 {"polars": peers.polars_retention, "duckdb": lambda p: peers.duckdb_retention(con, p)},
                 lambda ev: pandas_retention(ev, "day", "n_period"),
                 # retention_matrix dispatches on the source itself (core.scans.engine_of)
                 lambda p, c: retention_matrix(engine_source(p), "day", "n_period"), same_retention),
        Analysis("active_users", lambda ev, c: active_users(ev), [], check_active_users,
                 {"polars": peers.polars_active_users, "duckdb": lambda p: peers.duckdb_active_users(con, p)},
                 pandas_active_users, lambda p, c: engine_analyses.active_users(engine_source(p)), same_active_users),
        Analysis("funnel_4_steps", lambda ev, c: funnel(ev, steps, FUNNEL_WINDOW), [], check_funnel,
                 {"polars": lambda p: peers.polars_funnel(p, steps), "duckdb": lambda p: peers.duckdb_funnel(con, p, steps)},
                 lambda ev: pandas_funnel(ev.sort_values(["user_id", "timestamp"], kind="stable", ignore_index=True)),
                 lambda p, c: engine_analyses.funnel(engine_source(p), steps, FUNNEL_WINDOW), same_funnel),
        Analysis("sessionize", lambda ev, c: sessionize(ev), ["screen", "platform", "revenue"], check_sessions,
                 {"polars": peers.polars_sessions, "duckdb": lambda p: peers.duckdb_sessions(con, p)},
                 pandas_sessions, lambda p, c: engine_sessions(p), check_sessions),
        Analysis("experiment", lambda ev, c: package_experiment(ev, c["assignments"]()), ["revenue"], check_experiment,
                 {"polars": lambda p: peers.polars_experiment(p, paths["assignments"], EXPERIMENT),
                  "duckdb": lambda p: peers.duckdb_experiment(con, p, paths["assignments"], EXPERIMENT)},
                 None, engine_experiment, same_experiment_users),
        Analysis("user_features", lambda ev, c: user_features(ev), None, check_user_features,
                 {"polars": peers.polars_user_features, "duckdb": lambda p: peers.duckdb_user_features(con, p)},
                 None, lambda p, c: engine_user_features(p), check_user_features),
    ]


def bench_size(n_events: int, repeat: int, only: set[str] | None, cache: Path, formats: list[str],
               with_pandas: bool) -> tuple[dict, list[Result]]:
    paths = cached_log(n_events, DAYS, cache)
    os.environ[io.CACHE_ENV] = str(cache / "prepared")
    io.clear_cache()
    events = io.load_events(paths["parquet"], cache=False)
    frame_mb = events.memory_usage(deep=True).sum() / 2**20
    info = {"events": len(events), "users": int(events["user_id"].nunique()), "days": DAYS, "frame_mb": round(frame_mb, 1)}
    log(f"\n== {info['events']:,} events, {info['users']:,} users, {DAYS} days; event frame {frame_mb:,.0f} MiB in memory ==")
    con = peers.connect()
    assignments = io.load_assignments(paths["assignments"])
    control = str(sorted(assignments.loc[assignments["experiment"] == EXPERIMENT, "variant"].astype(str).unique())[0])
    context = {"assignments": lambda: io.load_assignments(paths["assignments"]), "control": control}
    warm_context = {"assignments": (lambda a: (lambda: a))(assignments), "control": control}
    results = []

    def run(result: Result, mode: str, fn: Callable[[], object], peak: bool = False):
        runs, value = timed(fn, repeat)
        result.runs[mode], result.seconds[mode] = runs, statistics.median(runs)
        if peak:
            result.peak_mb[mode] = peak_memory_mb(fn)
        log(f"    {result.name:<15} {mode:<16} {result.seconds[mode]:7.2f} s" +
            (f"  peak {result.peak_mb[mode]:,.0f} MiB" if peak else ""))
        return value

    # Loading alone: the package cold (no cache), the cached reload, and the peers' read + distinct.
    for fmt in formats:
        if only and f"load_{fmt}" not in only:
            continue
        result = Result(f"load_{fmt}")
        mine = run(result, "package", lambda: io.load_events(paths[fmt], cache=False), peak=True)
        if fmt == "parquet":
            io.load_events(paths[fmt])  # writes the cache entry
            run(result, "cached", lambda: io.load_events(paths[fmt]), peak=True)
        for name, fn in (("polars", lambda: polars_read(paths[fmt])), ("duckdb", lambda: duckdb_read(con, paths[fmt])),
                         *((("pandas", lambda: pandas_read(paths[fmt])),) if with_pandas else ())):
            result.equal[name] = check_loaded(mine, run(result, name, fn))
        results.append(result)
        del mine

    for analysis in analyses(paths, con):
        if only and analysis.name not in only:
            continue
        result = Result(analysis.name)
        mine = run(result, "warm", lambda: analysis.package(events, warm_context), peak=True)
        cols = analysis.columns
        loaded = {}  # the package's result from the analysis' columns (duplicates judged on them, as the engine route does)
        for fmt in formats:
            loaded[fmt] = run(result, f"package_{fmt}", lambda: analysis.package(io.load_events(paths[fmt], columns=cols, cache=False), context),
                              peak=fmt == "parquet")
        if analysis.engine is not None and "parquet" in formats:
            value = run(result, "package_duckdb", lambda: analysis.engine(paths["parquet"], context), peak=True)
            result.equal["package_duckdb"] = bool(analysis.engine_check(loaded["parquet"], value))
            del value
        del loaded
        io.load_events(paths["parquet"], columns=cols)  # the first notebook of a run writes the cache entry
        run(result, "package_cached", lambda: analysis.package(io.load_events(paths["parquet"], columns=cols), context), peak=True)
        for peer, fn in analysis.peers.items():
            for fmt in formats:
                value = run(result, f"{peer}_{fmt}", lambda: fn(paths[fmt]))
                result.equal[f"{peer}_{fmt}"] = bool(analysis.check(mine, value))
                del value
        if with_pandas and analysis.pandas is not None:
            # Exact duplicates are judged on every column (as load_events does), then the recipe runs.
            value = run(result, "pandas_parquet", lambda: analysis.pandas(pandas_read(paths["parquet"])))
            result.equal["pandas_parquet"] = bool(analysis.check(mine, value))
        del mine
        results.append(result)
    con.close()
    return info, results


def _ratio(result: Result, mode: str, fmt: str) -> str:
    peers_ = [s for m, s in result.seconds.items() if m.endswith(f"_{fmt}") and m.split("_")[0] in ("polars", "duckdb")]
    if mode not in result.seconds or not peers_:
        return "—"
    return f"{result.seconds[mode] / min(peers_):.2f}"


def table(info: dict, results: list[Result]) -> str:
    header = (f"{info['events']:,} events / {info['users']:,} users / {info['days']} days "
              f"(event frame {info['frame_mb']:,.0f} MiB); seconds are medians; ratio = package / faster peer (goal ≤ 1)")
    rows = [header, "",
            "| analysis | warm | pkg Parquet | pkg cached | pkg engine | Polars PQ | DuckDB PQ | ratio PQ | ratio cached | ratio engine | pkg CSV | Polars CSV | DuckDB CSV | ratio CSV | pandas PQ | peak/frame warm · PQ · cached · engine | peers equal |",
            "|---|" + "---:|" * 15 + "---|"]

    def sec(r, m):
        return f"{r.seconds[m]:.2f}" if m in r.seconds else "—"

    def peak(r, m):
        return f"{r.peak_mb[m] / info['frame_mb']:.2f}" if m in r.peak_mb else "—"

    for r in results:
        if r.name.startswith("load_"):
            fmt = r.name[5:]
            cells = [r.name, "—", sec(r, "package"), sec(r, "cached"), "—", sec(r, "polars") if fmt == "parquet" else "—",
                     sec(r, "duckdb") if fmt == "parquet" else "—",
                     f"{r.seconds['package'] / min(r.seconds['polars'], r.seconds['duckdb']):.2f}" if fmt == "parquet" else "—",
                     f"{r.seconds['cached'] / min(r.seconds['polars'], r.seconds['duckdb']):.2f}" if "cached" in r.seconds else "—",
                     "—", sec(r, "package") if fmt == "csv" else "—", sec(r, "polars") if fmt == "csv" else "—",
                     sec(r, "duckdb") if fmt == "csv" else "—",
                     f"{r.seconds['package'] / min(r.seconds['polars'], r.seconds['duckdb']):.2f}" if fmt == "csv" else "—",
                     sec(r, "pandas"), f"— · {peak(r, 'package')} · {peak(r, 'cached')} · —"]
        else:
            cells = [r.name, sec(r, "warm"), sec(r, "package_parquet"), sec(r, "package_cached"), sec(r, "package_duckdb"),
                     sec(r, "polars_parquet"), sec(r, "duckdb_parquet"), _ratio(r, "package_parquet", "parquet"),
                     _ratio(r, "package_cached", "parquet"), _ratio(r, "package_duckdb", "parquet"),
                     sec(r, "package_csv"), sec(r, "polars_csv"), sec(r, "duckdb_csv"), _ratio(r, "package_csv", "csv"),
                     sec(r, "pandas_parquet"),
                     f"{peak(r, 'warm')} · {peak(r, 'package_parquet')} · {peak(r, 'package_cached')} · {peak(r, 'package_duckdb')}"]
        cells.append(", ".join(f"{m}: {'yes' if ok else 'NO'}" for m, ok in r.equal.items()) or "—")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000],
                        help="log sizes in events (default: 1000000 10000000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement; the median is reported (default 3)")
    parser.add_argument("--only", nargs="+", help="names to run (load_parquet, load_csv, retention_day, ...; default: all)")
    parser.add_argument("--formats", nargs="+", default=["parquet", "csv"], choices=["parquet", "csv"])
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas recipes")
    parser.add_argument("--cache", type=Path, default=RESULTS, help=f"folder for generated logs and results (default {RESULTS})")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    log(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}, pandas {pd.__version__}, "
        f"numpy {np.__version__}, polars {pl.__version__}, duckdb {duckdb.__version__}; load average {os.getloadavg()[0]:.1f}")
    all_ok, tables, dump = True, [], []
    for n_events in args.events:
        info, results = bench_size(n_events, args.repeat, set(args.only) if args.only else None, args.cache,
                                   args.formats, not args.no_pandas)
        tables.append(table(info, results))
        all_ok &= all(ok for r in results for ok in r.equal.values())
        dump.append({"info": info, "results": [r.__dict__ for r in results]})
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.cache / f"bench-{stamp}.json").write_text(json.dumps(dump, indent=1))
    log("\n" + "\n\n".join(tables))
    log(f"\nequality checks: {'every peer equals the package output' if all_ok else 'MISMATCH (see table)'}")
    log(f"load average at the end {os.getloadavg()[0]:.1f}; raw figures: {args.cache / f'bench-{stamp}.json'}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
