"""Scale benchmark of the engines: retention, sessions, active users, a 4-step funnel, an experiment summary.

    python benchmarks/engines_scale.py generate --events 300_000_000 --out /tmp/engines_bench/300m
    python benchmarks/engines_scale.py run --data /tmp/engines_bench/300m --engines duckdb --memory-limit 3GB
    python benchmarks/engines_scale.py compare --events 10_000_000 --out /tmp/engines_bench/10m

``generate`` writes a synthetic event log as Parquet chunks (vectorized numpy, one file per
block of users, sorted by user and time) plus ``assignments.parquet``.  ``run`` runs each
operation in a fresh subprocess and prints its wall time and peak RSS — the process tree
(Python + DuckDB in-process, + the JVM for Spark), sampled every 50 ms by psutil, and the
process's own ``ru_maxrss``.  ``compare`` runs the same operations on memory / duckdb / pyspark
and prints the ratios to the in-memory engine.  Figures are recorded in benchmarks/ENGINES.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

EVENT_NAMES = np.array(["app_open", "screen_view", "search", "add_to_cart", "begin_checkout", "purchase"])
EVENT_P = np.array([0.0, 0.62, 0.15, 0.13, 0.06, 0.04])
PLATFORMS = np.array(["ios", "android", "web"])
START = pd.Timestamp("2024-01-01", tz="UTC").value // 1000  # µs
DAYS = 180
OPS = ("retention", "sessions", "active_users", "funnel", "experiment")
FUNNEL = ["app_open", "screen_view", "add_to_cart", "purchase"]


def _chunk(rng: np.random.Generator, first_user: int, n_users: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events of users first_user .. first_user + n_users - 1: sessions of events, sorted by user and time."""
    users = np.arange(first_user, first_user + n_users, dtype=np.int64)
    signup = START + rng.integers(0, DAYS * 86_400 * 10**6 * 3 // 4, n_users)
    n_sessions = 1 + rng.poisson(rng.lognormal(1.9, 0.9, n_users).clip(0, 200))
    s_user = np.repeat(np.arange(n_users), n_sessions)
    gaps = rng.exponential(2.5 * 86_400 * 10**6, len(s_user)).astype(np.int64)
    first_of_user = np.r_[0, np.cumsum(n_sessions)[:-1]]
    gaps[first_of_user] = 0
    csum = np.cumsum(gaps)
    s_start = signup[s_user] + csum - np.repeat(csum[first_of_user], n_sessions)
    n_events = 1 + rng.poisson(6, len(s_user))
    e_session = np.repeat(np.arange(len(s_user)), n_events)
    step = rng.exponential(40 * 10**6, len(e_session)).astype(np.int64)
    first_of_session = np.r_[0, np.cumsum(n_events)[:-1]]
    step[first_of_session] = 0
    csum = np.cumsum(step)
    ts = s_start[e_session] + csum - np.repeat(csum[first_of_session], n_events)
    event = rng.choice(len(EVENT_NAMES), len(ts), p=EVENT_P)
    event[first_of_session] = 0
    keep = ts < START + DAYS * 86_400 * 10**6
    e_user = s_user[e_session][keep]
    revenue = np.where(event == 5, np.round(rng.lognormal(3, 0.6, len(ts)), 2), np.nan)[keep]
    platform = rng.integers(0, 3, n_users)
    frame = pd.DataFrame({
        "user_id": users[e_user],
        "timestamp": pd.to_datetime(ts[keep], unit="us", utc=True).astype("datetime64[us, UTC]"),
        "event": pd.Categorical.from_codes(event[keep], EVENT_NAMES),
        "platform": pd.Categorical.from_codes(platform[e_user], PLATFORMS),
        "revenue": revenue,
    })
    assignments = pd.DataFrame({"user_id": users, "experiment": "exp_scale",
                                "variant": np.where(rng.random(n_users) < 0.5, "control", "treatment"),
                                "assigned_at": pd.to_datetime(signup, unit="us", utc=True)})
    return frame, assignments


def generate(n_events: int, out: Path, random_state: int = 7, chunk_users: int = 100_000) -> dict:
    """Write about ``n_events`` events as Parquet files under ``out/events/`` (and ``out/assignments.parquet``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(random_state)
    (out / "events").mkdir(parents=True, exist_ok=True)
    written, first_user, part, assigned = 0, 0, 0, []
    started = time.time()
    while written < n_events:
        frame, assignments = _chunk(rng, first_user, chunk_users)
        frame = frame.iloc[: n_events - written]
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), out / "events" / f"part-{part:05d}.parquet",
                       row_group_size=1_000_000, compression="zstd")
        assigned.append(assignments[assignments["user_id"] <= frame["user_id"].iloc[-1]])
        written += len(frame)
        first_user += chunk_users
        part += 1
    pd.concat(assigned, ignore_index=True).to_parquet(out / "assignments.parquet", index=False)
    size = sum(f.stat().st_size for f in (out / "events").glob("*.parquet"))
    info = {"events": written, "users": int(sum(len(a) for a in assigned)), "files": part, "bytes": size,
            "seconds": round(time.time() - started, 1)}
    (out / "info.json").write_text(json.dumps(info))
    return info


class PeakRSS:
    """Peak resident memory of this process and its children (the JVM for Spark), sampled every 50 ms."""

    def __init__(self):
        import psutil

        self.process, self.peak, self._stop = psutil.Process(), 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        import psutil

        while not self._stop.is_set():
            try:
                total = self.process.memory_info().rss + sum(
                    c.memory_info().rss for c in self.process.children(recursive=True))
            except psutil.Error:
                total = 0
            self.peak = max(self.peak, total)
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _source(engine: str, data: Path, memory_limit: str, threads: int):
    from engagement_utils import engines

    glob = str(data / "events" / "*.parquet")
    if engine == "memory":
        return _load_memory(data)
    if engine == "duckdb":
        return engines.duckdb_parquet(glob, tz="Europe/Berlin", memory_limit=memory_limit, threads=threads)
    session = engines.spark_session("engines-bench", cores=threads, memory="3g")
    session.sparkContext.setLogLevel("ERROR")
    import ibis

    con = ibis.pyspark.connect(session)
    table = con.read_parquet(glob)
    return engines.IbisEvents(table, "Europe/Berlin", "pyspark", con)


def _load_memory(data: Path) -> pd.DataFrame:
    frame = pd.concat([pd.read_parquet(p) for p in sorted((data / "events").glob("*.parquet"))], ignore_index=True)
    frame["user_id"] = frame["user_id"].astype("category")
    return frame


def run_op(engine: str, op: str, data: Path, memory_limit: str, threads: int) -> dict:
    """Run one operation on one engine; the wall time includes connecting / loading."""
    from engagement_utils import funnels, metrics, sessions
    from engagement_utils.engines import analyses
    from engagement_utils.retention import retention_matrix

    with PeakRSS() as peak:
        started = time.time()
        src = _source(engine, data, memory_limit, threads)
        loaded = time.time() - started
        assignments = pd.read_parquet(data / "assignments.parquet")
        if op == "retention":
            result = retention_matrix(src, "week", tz="Europe/Berlin")
        elif op == "sessions":
            result = (sessions.session_summary(sessions.sessionize(src).sessions) if engine == "memory"
                      else analyses.session_summary(src))
        elif op == "active_users":
            result = (metrics.active_users(src, tz="Europe/Berlin") if engine == "memory"
                      else analyses.active_users(src, tz="Europe/Berlin"))
        elif op == "funnel":
            result = funnels.funnel(src, FUNNEL, "7D") if engine == "memory" else analyses.funnel(src, FUNNEL, "7D")
        else:
            if engine == "memory":
                j = assignments.merge(src[["user_id", "timestamp", "event", "revenue"]].astype({"user_id": "int64"}),
                                      on="user_id", how="left")
                inside = (j["timestamp"] >= j["assigned_at"]) & (j["timestamp"] < j["assigned_at"] + pd.Timedelta("14D"))
                users = (j.assign(revenue=np.where(inside, j["revenue"].fillna(0), 0.0))
                         .groupby(["user_id", "variant"])["revenue"].sum().reset_index())
            else:
                users = analyses.rolling_experiment_users(src, assignments, "exp_scale", window="14D")
            result = analyses.experiment_summary(users, "revenue", control="control")
        wall = time.time() - started
    return {"engine": engine, "op": op, "wall_s": round(wall, 2), "load_s": round(loaded, 2),
            "peak_rss_mb": round(peak.peak / 2**20), "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "rows_back": int(len(result))}


def run_all(data: Path, engines: list[str], ops: list[str], memory_limit: str, threads: int) -> list[dict]:
    """Each (engine, op) in a fresh subprocess so that peak RSS is per operation."""
    rows = []
    for engine in engines:
        for op in ops:
            cmd = [sys.executable, __file__, "_one", "--engine", engine, "--op", op, "--data", str(data),
                   "--memory-limit", memory_limit, "--threads", str(threads)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            row = json.loads(lines[-1]) if lines else {"engine": engine, "op": op, "error": done.stderr[-800:]}
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["generate", "run", "compare", "_one"])
    parser.add_argument("--events", type=lambda s: int(s.replace("_", "")), default=10_000_000)
    parser.add_argument("--out", "--data", dest="data", type=Path, default=Path("/tmp/engines_bench/10m"))
    parser.add_argument("--engines", default="duckdb")
    parser.add_argument("--ops", default=",".join(OPS))
    parser.add_argument("--engine", default="duckdb")
    parser.add_argument("--op", default="retention")
    parser.add_argument("--memory-limit", default="3GB")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.command == "generate":
        print(json.dumps(generate(args.events, args.data)))
    elif args.command == "_one":
        print(json.dumps(run_op(args.engine, args.op, args.data, args.memory_limit, args.threads)))
    else:
        if not (args.data / "info.json").exists():
            print(json.dumps(generate(args.events, args.data)), flush=True)
        engines = ["memory", "duckdb", "pyspark"] if args.command == "compare" else args.engines.split(",")
        rows = run_all(args.data, engines, args.ops.split(","), args.memory_limit, args.threads)
        if args.command == "compare":
            table = pd.DataFrame(rows).pivot(index="op", columns="engine", values="wall_s")
            for engine in engines[1:]:
                table[f"{engine}/memory"] = (table[engine] / table["memory"]).round(2)
            print(table.to_string())


if __name__ == "__main__":
    main()
