"""Time the package's heavy operations on large demo logs, against two baselines.

For each log size (``--events``; default 1M and 10M events, about 10 events
per user over 180 days, generated with ``engagement_utils.demo`` and its
``LIGHT_MIX`` persona shares, cached as Parquet and CSV under
``benchmarks/results/``), the script times in one process:

* loading (Parquet, CSV) with ``io.load_events``;
* ``retention_matrix`` (day / week periods, n-period / unbounded);
* ``sessionize``, ``active_users``, ``funnel`` (4 steps);
* ``experiment_users`` + ``analyze_experiment``; ``user_features`` + ``segment_users``.

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

from engagement_utils import demo, io
from engagement_utils.experiments import analyze_experiment, experiment_users
from engagement_utils.funnels import funnel
from engagement_utils.metrics import active_users
from engagement_utils.personas import segment_users, user_features
from engagement_utils.retention import retention_matrix
from engagement_utils.sessions import sessionize

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
    data = demo.generate_demo_data(n_users=n_users, days=days, seed=SEED, persona_mix=demo.LIGHT_MIX)
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


def duckdb_retention(con, events: pd.DataFrame, period: str, kind: str) -> pd.DataFrame:
    con.register("ev", events)
    activity = f"""
        WITH act AS (SELECT DISTINCT user_id, date_trunc('{period}', timestamp) AS p FROM ev),
             coh AS (SELECT user_id, min(p) AS cohort, max(p) AS last FROM act GROUP BY user_id)"""
    if kind == "n_period":
        sql = activity + f"""
        SELECT cohort, date_diff('{period}', cohort, p) AS k, count(*) AS retained
        FROM act JOIN coh USING (user_id) GROUP BY ALL"""
    else:
        sql = activity + f"""
        SELECT cohort, k.k AS k, count(*) AS retained
        FROM coh JOIN range(0, 100000) AS k(k) ON k.k <= date_diff('{period}', cohort, last) GROUP BY ALL"""
    out = con.execute(sql).df()
    con.unregister("ev")
    out["cohort"] = pd.to_datetime(out["cohort"]).dt.tz_localize(None) if getattr(out["cohort"].dt, "tz", None) else out["cohort"]
    return out


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


def duckdb_active_users(con, events: pd.DataFrame) -> pd.DataFrame:
    con.register("ev", events)
    out = con.execute("""
        WITH act AS (SELECT DISTINCT user_id, CAST(date_trunc('day', timestamp) AS DATE) AS d FROM ev),
             days AS (SELECT DISTINCT d FROM act)
        SELECT days.d AS date,
               count(DISTINCT act.user_id) FILTER (WHERE act.d = days.d) AS dau,
               count(DISTINCT act.user_id) FILTER (WHERE act.d > days.d - 7) AS wau,
               count(DISTINCT act.user_id) AS mau
        FROM days JOIN act ON act.d BETWEEN days.d - 29 AND days.d
        GROUP BY days.d ORDER BY days.d""").df()
    con.unregister("ev")
    out["date"] = pd.to_datetime(out["date"])
    return out


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


def duckdb_sessions(con, events: pd.DataFrame) -> pd.DataFrame:
    con.register("ev", events)
    out = con.execute(f"""
        WITH flagged AS (
            SELECT user_id, timestamp,
                   CASE WHEN lag(timestamp) OVER w IS NULL
                          OR timestamp - lag(timestamp) OVER w > INTERVAL {int(SESSION_TIMEOUT.total_seconds())} SECOND
                        THEN 1 ELSE 0 END AS new_session
            FROM ev WINDOW w AS (PARTITION BY user_id ORDER BY timestamp)),
        numbered AS (SELECT *, sum(new_session) OVER (PARTITION BY user_id ORDER BY timestamp
                                                      ROWS UNBOUNDED PRECEDING) AS s FROM flagged)
        SELECT user_id, s, min(timestamp) AS start, max(timestamp) AS "end", count(*) AS n_events
        FROM numbered GROUP BY user_id, s""").df()
    con.unregister("ev")
    return out


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


def duckdb_funnel(con, events: pd.DataFrame) -> pd.DataFrame:
    con.register("ev", _with_position(events))
    s = FUNNEL_STEPS
    window_s = int(FUNNEL_WINDOW.total_seconds())
    out = con.execute(f"""
        WITH s1 AS (SELECT user_id, arg_min(pos, pos) AS p1, arg_min(timestamp, pos) AS t1
                    FROM ev WHERE event = '{s[0]}' GROUP BY user_id),
        s2 AS (SELECT s1.user_id, t1, min(e.pos) AS p, arg_min(e.timestamp, e.pos) AS t FROM s1 JOIN ev e
               ON e.user_id = s1.user_id AND e.event = '{s[1]}' AND e.pos > s1.p1
                  AND e.timestamp <= t1 + INTERVAL {window_s} SECOND GROUP BY s1.user_id, t1),
        s3 AS (SELECT s2.user_id, t1, min(e.pos) AS p, arg_min(e.timestamp, e.pos) AS t FROM s2 JOIN ev e
               ON e.user_id = s2.user_id AND e.event = '{s[2]}' AND e.pos > s2.p
                  AND e.timestamp <= t1 + INTERVAL {window_s} SECOND GROUP BY s2.user_id, t1),
        s4 AS (SELECT s3.user_id, t1, min(e.pos) AS p, arg_min(e.timestamp, e.pos) AS t FROM s3 JOIN ev e
               ON e.user_id = s3.user_id AND e.event = '{s[3]}' AND e.pos > s3.p
                  AND e.timestamp <= t1 + INTERVAL {window_s} SECOND GROUP BY s3.user_id, t1)
        SELECT 1 AS step, count(*) AS users, 0.0 AS median_time_s FROM s1
        UNION ALL SELECT 2, count(*), median(epoch(t) - epoch(t1)) FROM s2
        UNION ALL SELECT 3, count(*), median(epoch(t) - epoch(t1)) FROM s3
        UNION ALL SELECT 4, count(*), median(epoch(t) - epoch(t1)) FROM s4
        ORDER BY step""").df()
    con.unregister("ev")
    return out


def check_funnel(project: pd.DataFrame, baseline: pd.DataFrame) -> bool:
    return bool(np.array_equal(project["users"].to_numpy(), baseline["users"].to_numpy(np.int64))
                and np.allclose(project["median_time_s"].to_numpy(float), baseline["median_time_s"].to_numpy(float),
                                rtol=0, atol=1e-3, equal_nan=True))


# --------------------------------------------------------------------------- baselines: loading


# Loading baselines drop exact duplicate rows, as load_events does (the generator's
# millisecond timestamps produce a few).
def pandas_read_parquet(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path).drop_duplicates()


def duckdb_read_parquet(con, path: Path) -> pd.DataFrame:
    return con.execute("SELECT DISTINCT * FROM read_parquet(?)", [str(path)]).df()


def pandas_read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, parse_dates=["timestamp"]).drop_duplicates()


def duckdb_read_csv(con, path: Path) -> pd.DataFrame:
    return con.execute("SELECT DISTINCT * FROM read_csv(?)", [str(path)]).df()


def check_loaded(project: pd.DataFrame, baseline: pd.DataFrame) -> bool:
    """Same rows: row count, event counts per name and the timestamp sum agree."""
    return bool(len(project) == len(baseline)
                and project["event"].astype(str).value_counts().sort_index().equals(
                    baseline["event"].astype(str).value_counts().sort_index())
                and _microseconds(project["timestamp"]).sum() == _microseconds(baseline["timestamp"]).sum())


# --------------------------------------------------------------------------- the run


@dataclass
class Op:
    name: str
    run: Callable[[], object]
    baselines: dict[str, Callable[[], object]] = field(default_factory=dict)
    check: Callable[[object, object], bool] | None = None
    setup: Callable[[], None] | None = None  # untimed preparation (e.g. the features segment_users clusters)


@dataclass
class Result:
    name: str
    seconds: float
    peak_mb: float
    runs: list[float]
    baseline_seconds: dict[str, float] = field(default_factory=dict)
    baseline_ok: dict[str, bool] = field(default_factory=dict)


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


def operations(paths: dict[str, Path], events: pd.DataFrame, assignments: pd.DataFrame, con, state: dict) -> list[Op]:
    def experiment():
        users = experiment_users(assignments, events, EXPERIMENT)
        return analyze_experiment(users, n_draws=10_000)

    def ensure_features():
        if "features" not in state:
            state["features"] = user_features(events)

    ops = [
        Op("load_parquet", lambda: io.load_events(paths["parquet"]),
           {"pandas": lambda: pandas_read_parquet(paths["parquet"]), "duckdb": lambda: duckdb_read_parquet(con, paths["parquet"])},
           check_loaded),
        Op("load_csv", lambda: io.load_events(paths["csv"]),
           {"pandas": lambda: pandas_read_csv(paths["csv"]), "duckdb": lambda: duckdb_read_csv(con, paths["csv"])},
           check_loaded),
    ]
    for period in ("day", "week"):
        for kind in ("n_period", "unbounded"):
            name = f"retention_{period}" + ("" if kind == "n_period" else "_unbounded")
            ops.append(Op(name, lambda p=period, k=kind: retention_matrix(events, p, k),
                          {"pandas": lambda p=period, k=kind: pandas_retention(events, p, k),
                           "duckdb": lambda p=period, k=kind: duckdb_retention(con, events, p, k)},
                          check_retention))
    ops += [
        Op("sessionize", lambda: sessionize(events),
           {"pandas": lambda: pandas_sessions(events), "duckdb": lambda: duckdb_sessions(con, events)}, check_sessions),
        Op("active_users", lambda: active_users(events),
           {"pandas": lambda: pandas_active_users(events), "duckdb": lambda: duckdb_active_users(con, events)},
           check_active_users),
        Op("funnel_4_steps", lambda: funnel(events, FUNNEL_STEPS, FUNNEL_WINDOW),
           {"pandas": lambda: pandas_funnel(events), "duckdb": lambda: duckdb_funnel(con, events)}, check_funnel),
        Op("experiment", experiment),
        Op("user_features", lambda: state.__setitem__("features", user_features(events)) or state["features"]),
        Op("segment_users", lambda: segment_users(state["features"], k="auto"), setup=ensure_features),
    ]
    return ops


def bench_size(n_events: int, repeat: int, only: set[str] | None, cache: Path) -> tuple[dict, list[Result]]:
    paths = cached_log(n_events, DAYS, cache)
    events = io.load_events(paths["parquet"])
    assignments = io.load_assignments(paths["assignments"])
    frame_mb = events.memory_usage(deep=True).sum() / 2**20
    info = {"events": len(events), "users": int(events["user_id"].nunique()), "days": DAYS, "frame_mb": round(frame_mb, 1)}
    log(f"\n== {info['events']:,} events, {info['users']:,} users, {DAYS} days; event frame {frame_mb:,.0f} MiB in memory ==")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    state: dict = {}
    results = []
    for op in operations(paths, events, assignments, con, state):
        if only and op.name not in only:
            continue
        if op.setup is not None:
            op.setup()
        log(f"  {op.name}: package x{repeat} ...")
        runs, value = timed(op.run, repeat)
        result = Result(op.name, statistics.median(runs), peak_memory_mb(op.run), runs)
        for base_name, base_fn in op.baselines.items():
            log(f"  {op.name}: {base_name} baseline x{repeat} ...")
            base_runs, base_value = timed(base_fn, repeat)
            result.baseline_seconds[base_name] = statistics.median(base_runs)
            result.baseline_ok[base_name] = bool(op.check(value, base_value))
            del base_value
        del value
        log(f"  {op.name}: {result.seconds:.2f} s, peak {result.peak_mb:,.0f} MiB"
            + "".join(f", {b} {s:.2f} s ({'equal' if result.baseline_ok[b] else 'MISMATCH'})"
                      for b, s in result.baseline_seconds.items()))
        results.append(result)
    con.close()
    return info, results


def table(info: dict, results: list[Result]) -> str:
    header = (f"{info['events']:,} events / {info['users']:,} users / {info['days']} days "
              f"(event frame {info['frame_mb']:,.0f} MiB)")
    rows = [header, "",
            "| operation | package s (median) | peak MiB | peak / frame | pandas s | pandas / package | duckdb s | duckdb / package | baselines equal |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        cells = [r.name, f"{r.seconds:.2f}", f"{r.peak_mb:,.0f}", f"{r.peak_mb / info['frame_mb']:.2f}"]
        for base in ("pandas", "duckdb"):
            if base in r.baseline_seconds:
                cells += [f"{r.baseline_seconds[base]:.2f}", f"{r.baseline_seconds[base] / r.seconds:.1f}×"]
            else:
                cells += ["—", "—"]
        cells.append(", ".join(f"{b}: {'yes' if ok else 'NO'}" for b, ok in r.baseline_ok.items()) or "—")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000],
                        help="log sizes in events (default: 1000000 10000000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per operation; the median is reported (default 3)")
    parser.add_argument("--only", nargs="+", help="operation names to run (default: all)")
    parser.add_argument("--cache", type=Path, default=RESULTS, help=f"folder for generated logs and results (default {RESULTS})")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    log(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}, "
        f"pandas {pd.__version__}, numpy {np.__version__}, duckdb {duckdb.__version__}")
    all_ok, tables, dump = True, [], []
    for n_events in args.events:
        info, results = bench_size(n_events, args.repeat, set(args.only) if args.only else None, args.cache)
        tables.append(table(info, results))
        all_ok &= all(ok for r in results for ok in r.baseline_ok.values())
        dump.append({"info": info, "results": [r.__dict__ for r in results]})
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.cache / f"bench-{stamp}.json").write_text(json.dumps(dump, indent=1))
    log("\n" + "\n\n".join(tables))
    log(f"\nequality checks: {'all baselines equal the package output' if all_ok else 'MISMATCH (see table)'}")
    log(f"raw figures: {args.cache / f'bench-{stamp}.json'}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
