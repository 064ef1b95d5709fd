"""The floor under the package's cold analyses: reading the file and encoding the user ids, beside the peers.

Every analysis by user in numpy / pandas / Arrow starts by turning the text user ids into
integer codes, and Arrow's ``dictionary_encode`` (what ``io.load_events`` uses) is the
fastest way these libraries offer; it runs on one core.  This script times, in one process
and on the benchmark's own log (``run_benchmarks.cached_log``), for each analysis whose cold
end-to-end time is above the faster peer's in ``benchmarks/README.md``:

* ``read``: ``pyarrow.parquet.read_table`` of the columns the package loads for it
  (``user_id, timestamp, event``, plus ``revenue`` and the assignments file for the experiment);
* ``ids``: ``pyarrow.compute.dictionary_encode`` of the ``user_id`` column just read;
* ``floor`` = read + ids: no validation, no duplicates, no order, no analysis;
* ``package``: ``io.load_events(file, columns=..., cache=False)`` + the analysis (as ``run_benchmarks``);
* the Polars-lazy and DuckDB-on-Parquet peers of ``benchmarks/peers.py`` (complete answers).

``floor / peer`` at or above 1 means no loader built on these libraries can bring that
analysis to the faster peer's time from the file, whatever it skips; below 1 it is the room
a lighter loading contract could use.  Times are medians of ``--repeat`` runs.

Usage: ``python benchmarks/floor.py --events 10000000`` (the log is generated once and cached).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402
from run_benchmarks import DAYS, EXPERIMENT, RESULTS, cached_log, log, package_experiment  # noqa: E402

from engagement_utils import io  # noqa: E402
from engagement_utils.metrics import active_users  # noqa: E402
from engagement_utils.retention import retention_matrix  # noqa: E402

KEY_COLUMNS = ["user_id", "timestamp", "event"]  # what io.load_events always loads


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def floor_parts(path: Path, columns: list[str], repeat: int, assignments: Path | None = None) -> tuple[float, float]:
    """Median seconds to read ``columns`` (and load the assignments), and to dictionary-encode the user ids."""
    def read():
        table = pq.read_table(path, columns=columns)
        if assignments is not None:
            io.load_assignments(assignments)
        return table

    table = read()
    return median_seconds(read, repeat), median_seconds(lambda: pc.dictionary_encode(table["user_id"]), repeat)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="log size in events (default 10000000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (default 3)")
    parser.add_argument("--cache", type=Path, default=RESULTS, help=f"folder of the generated logs (default {RESULTS})")
    args = parser.parse_args(argv)
    paths = cached_log(args.events, DAYS, args.cache)
    parquet, assignments = paths["parquet"], paths["assignments"]
    con = peers.connect()
    log(f"{args.events:,} events ({parquet}); {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    cases = [
        ("retention_day", KEY_COLUMNS, None,
         lambda: retention_matrix(io.load_events(parquet, columns=[], cache=False), "day", "n_period"),
         {"polars": lambda: peers.polars_retention(parquet), "duckdb": lambda: peers.duckdb_retention(con, parquet)}),
        ("active_users", KEY_COLUMNS, None,
         lambda: active_users(io.load_events(parquet, columns=[], cache=False)),
         {"polars": lambda: peers.polars_active_users(parquet), "duckdb": lambda: peers.duckdb_active_users(con, parquet)}),
        ("experiment", KEY_COLUMNS + ["revenue"], assignments,
         lambda: package_experiment(io.load_events(parquet, columns=["revenue"], cache=False), io.load_assignments(assignments)),
         {"polars": lambda: peers.polars_experiment(parquet, assignments, EXPERIMENT),
          "duckdb": lambda: peers.duckdb_experiment(con, parquet, assignments, EXPERIMENT)}),
    ]
    rows = ["| analysis | read | ids | floor | package e2e | Polars | DuckDB | floor / faster peer | package / faster peer |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, columns, extra, package, peer_fns in cases:
        read, ids = floor_parts(parquet, columns, args.repeat, extra)
        mine = median_seconds(package, args.repeat)
        peer = {p: median_seconds(fn, args.repeat) for p, fn in peer_fns.items()}
        best = min(peer.values())
        log(f"  {name:<14} read {read:.2f}  ids {ids:.2f}  floor {read + ids:.2f}  package {mine:.2f}  "
            f"polars {peer['polars']:.2f}  duckdb {peer['duckdb']:.2f}")
        rows.append(f"| {name} | {read:.2f} | {ids:.2f} | {read + ids:.2f} | {mine:.2f} | {peer['polars']:.2f} | "
                    f"{peer['duckdb']:.2f} | {(read + ids) / best:.2f} | {mine / best:.2f} |")
    con.close()
    log("\n" + "\n".join(rows))
    log(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
