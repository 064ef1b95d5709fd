"""Warm analyses timed in two source trees on the same event frame: before / after (issue 11).

    python benchmarks/compare_revisions.py --old /tmp/oldtree --events 10000000
    python benchmarks/compare_revisions.py --old /tmp/oldtree --new . --repeat 3 --only sessionize funnel_4_steps

The demo log of ``run_benchmarks.py`` (same generator, seed and cache folder) is loaded once
with *this* tree's ``io.load_events`` and pickled, with the assignments, to a temporary
folder.  Each tree then runs in its own subprocess (``PYTHONPATH`` = that tree; the script
checks that ``engagement_utils`` was imported from there), unpickles the same frame and times
every analysis on it: the same calls as the ``warm`` mode of ``run_benchmarks.py``, median of
``--repeat`` wall-clock runs after one untimed warm-up call.  The trees run one after the
other, alternating per round (old, new, new, old, ...) so that a change of machine load
does not favour one side; the load average is printed with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FUNNEL_STEPS = ["app_open", "add_to_cart", "begin_checkout", "purchase"]


def calls(events, assignments) -> dict:
    """Analysis name -> zero-argument call; only APIs both trees have, with the same arguments."""
    import pandas as pd

    from engagement_utils.experiments import analyze_experiment, experiment_users
    from engagement_utils.funnels import funnel
    from engagement_utils.metrics import active_users
    from engagement_utils.personas import user_features
    from engagement_utils.retention import retention_matrix
    from engagement_utils.sessions import sessionize

    experiment = "checkout_redesign"  # demo.EXPERIMENT["name"]

    def run_experiment():
        users = experiment_users(assignments, events, experiment, metrics=["conversion", "activity"])
        return analyze_experiment(users, primary=("converted_14d",), secondary=("events_14d",), n_draws=10_000)

    return {
        "retention_day": lambda: retention_matrix(events, "day", "n_period"),
        "retention_week": lambda: retention_matrix(events, "week", "n_period"),
        "retention_day_unbounded": lambda: retention_matrix(events, "day", "unbounded"),
        "active_users": lambda: active_users(events),
        "funnel_4_steps": lambda: funnel(events, FUNNEL_STEPS, pd.Timedelta("7D")),
        "sessionize": lambda: sessionize(events),
        "experiment": run_experiment,
        "user_features": lambda: user_features(events),
    }


def child(args) -> None:
    """Runs inside one tree: time the analyses on the pickled frame, print one JSON line per round."""
    import gc

    import engagement_utils

    where = Path(engagement_utils.__file__).resolve()
    if Path(args.tree).resolve() not in where.parents:
        raise SystemExit(f"engagement_utils imported from {where}, not from {args.tree}")
    with open(args.frame, "rb") as handle:
        events, assignments = pickle.load(handle)
    todo = calls(events, assignments)
    names = [n for n in todo if not args.only or n in args.only]
    out = {}
    for name in names:
        todo[name]()  # warm-up: imports, numba/numpy first calls, caches of the tree itself
        runs = []
        for _ in range(args.repeat):
            gc.collect()
            started = time.perf_counter()
            todo[name]()
            runs.append(time.perf_counter() - started)
        out[name] = {"median": statistics.median(runs), "runs": runs, "load": os.getloadavg()[0]}
    print(json.dumps({"tree": str(where.parent.parent), "results": out}))


def run_tree(tree: Path, frame: Path, repeat: int, only: list[str] | None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, str(Path(__file__).resolve()), "_child", "--tree", str(tree), "--frame", str(frame),
           "--repeat", str(repeat)] + (["--only", *only] if only else [])
    done = subprocess.run(cmd, env=env, cwd=str(tree), capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise SystemExit(f"{tree}: exit {done.returncode}\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])["results"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", default="compare", choices=["compare", "_child"])
    parser.add_argument("--old", type=Path, default=Path("/tmp/oldtree"), help="the tree before (default /tmp/oldtree)")
    parser.add_argument("--new", type=Path, default=HERE.parent, help="the tree after (default: this one)")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per analysis and tree; the median is reported")
    parser.add_argument("--rounds", type=int, default=2, help="subprocesses per tree, alternating old/new (default 2)")
    parser.add_argument("--only", nargs="+")
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    parser.add_argument("--frame", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.command == "_child":
        child(args)
        return 0

    sys.path.insert(0, str(HERE))
    import run_benchmarks as rb

    from engagement_utils import io

    paths = rb.cached_log(args.events, rb.DAYS, rb.RESULTS)
    events = io.load_events(paths["parquet"], cache=False)
    assignments = io.load_assignments(paths["assignments"])
    print(f"{len(events):,} events, {events['user_id'].nunique():,} users (loaded by {io.__file__}); "
          f"old {args.old}, new {args.new}; load average {os.getloadavg()[0]:.1f}", flush=True)
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    runs: dict[str, dict[str, list]] = {"old": {}, "new": {}}
    with tempfile.TemporaryDirectory(prefix="compare_revisions_") as tmp:
        frame = Path(tmp) / "frame.pkl"
        with open(frame, "wb") as handle:
            pickle.dump((events, assignments), handle, protocol=pickle.HIGHEST_PROTOCOL)
        del events, assignments
        for round_ in range(args.rounds):
            for side in (("old", "new") if round_ % 2 == 0 else ("new", "old")):
                results = run_tree(trees[side], frame, args.repeat, args.only)
                for name, r in results.items():
                    runs[side].setdefault(name, []).append(r)
                    print(f"  round {round_ + 1} {side:<3} {name:<24} median {r['median']:7.2f} s  "
                          f"runs {', '.join(f'{x:.2f}' for x in r['runs'])}  load {r['load']:.1f}", flush=True)
    rows = ["| analysis | before s | after s | after / before | load average (before · after) |", "|---|---:|---:|---:|---|"]
    for name in runs["new"]:
        before = statistics.median([x for r in runs["old"][name] for x in r["runs"]])
        after = statistics.median([x for r in runs["new"][name] for x in r["runs"]])
        loads = (f"{statistics.mean(r['load'] for r in runs['old'][name]):.1f} · "
                 f"{statistics.mean(r['load'] for r in runs['new'][name]):.1f}")
        rows.append(f"| {name} | {before:.2f} | {after:.2f} | {after / before:.2f} | {loads} |")
    print("\nmedian over all timed runs of every round (before = old tree, after = new tree; ratio < 1: faster now)\n")
    print("\n".join(rows))
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
