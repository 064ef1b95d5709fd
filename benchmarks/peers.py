"""Idiomatic peers for the benchmarks: Polars lazy and DuckDB SQL, each reading the file itself.

Every peer drops exact duplicate rows first, as ``io.load_events`` does (the demo
generator's millisecond timestamps produce a few: 21 in the 10M log); without that
step the session counts of the users concerned differ by one event.  Each function
takes the path of the Parquet or CSV file and returns a pandas frame shaped like the
one the benchmark's check compares with the package output.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import polars as pl

SESSION_TIMEOUT_S = 30 * 60
FUNNEL_WINDOW_S = 7 * 86400
CONVERSION_DAYS = 14
DAY_NS = 86400 * 10**9


# --------------------------------------------------------------------------- Polars


def _scan(path: Path, columns: list[str]) -> pl.LazyFrame:
    if path.suffix == ".parquet":
        frame = pl.scan_parquet(path)
    else:
        # Revenue is empty on most rows: without the override Polars may infer it as text.
        frame = pl.scan_csv(path, try_parse_dates=True, schema_overrides={"revenue": pl.Float64})
    frame = frame.select(columns)
    if "timestamp" in columns:
        frame = frame.with_columns(pl.col("timestamp").dt.convert_time_zone("UTC"))
    return frame


def _distinct(path: Path, columns: list[str]) -> pl.LazyFrame:
    """Exact duplicates (over all columns of the file) dropped, first kept, file order kept."""
    every = _scan(path, ["user_id", "timestamp", "event", "screen", "platform", "country", "revenue"])
    return every.unique(maintain_order=True).select(columns)


def _naive(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for col in columns:
        values = pd.to_datetime(frame[col])
        frame[col] = values.dt.tz_localize(None) if values.dt.tz is not None else values
    return frame


def polars_retention(path: Path) -> pd.DataFrame:
    act = _scan(path, ["user_id", "timestamp"]).select(
        "user_id", pl.col("timestamp").dt.truncate("1d").alias("d")).unique()
    cohorts = act.group_by("user_id").agg(pl.col("d").min().alias("cohort"))
    out = (act.join(cohorts, on="user_id")
           .with_columns(((pl.col("d") - pl.col("cohort")).dt.total_days()).alias("k"))
           .group_by(["cohort", "k"]).agg(pl.len().alias("retained")).collect())
    return _naive(out.to_pandas(), "cohort")


def polars_active_users(path: Path) -> pd.DataFrame:
    """Each user-day covers the days until the user's next active day or the window's end."""
    act = (_scan(path, ["user_id", "timestamp"])
           .select("user_id", (pl.col("timestamp").dt.epoch("d")).alias("d")).unique()
           .sort(["user_id", "d"]).with_columns(pl.col("d").shift(-1).over("user_id").alias("next")))
    frames = []
    for name, width in (("dau", 1), ("wau", 7), ("mau", 30)):
        until = pl.min_horizontal(pl.col("d") + width, pl.col("next").fill_null(pl.col("d") + width))
        delta = pl.concat([act.select(pl.col("d").alias("day"), pl.lit(1).alias("x")),
                           act.select(until.alias("day"), pl.lit(-1).alias("x"))])
        frames.append(delta.group_by("day").agg(pl.col("x").sum().alias(name)).sort("day")
                      .with_columns(pl.col(name).cum_sum()))
    out = frames[0].join(frames[1], on="day", how="full", coalesce=True).join(frames[2], on="day", how="full", coalesce=True)
    out = out.sort("day").with_columns(pl.col(["dau", "wau", "mau"]).fill_null(strategy="forward")).collect().to_pandas()
    out["date"] = pd.to_datetime(out["day"], unit="D")
    return out[["date", "dau", "wau", "mau"]]


def _positioned(path: Path) -> pl.LazyFrame:
    """Distinct events with their position in (user, time, file row) order: the package's order."""
    return (_distinct(path, ["user_id", "timestamp", "event"]).with_row_index("row")
            .sort(["user_id", "timestamp", "row"]).with_row_index("pos"))


def polars_funnel(path: Path, steps: list[str]) -> pd.DataFrame:
    ev = _positioned(path).collect().lazy()
    window = pl.duration(seconds=FUNNEL_WINDOW_S)
    current = (ev.filter(pl.col("event") == steps[0]).group_by("user_id")
               .agg(pl.col("pos").min().alias("prev"), pl.col("timestamp").sort_by("pos").first().alias("t1")))
    users, medians = [current.select(pl.len()).collect().item()], [0.0]
    for step in steps[1:]:
        cand = (ev.filter(pl.col("event") == step).join(current, on="user_id")
                .filter((pl.col("pos") > pl.col("prev")) & (pl.col("timestamp") <= pl.col("t1") + window)))
        current = cand.group_by("user_id").agg(pl.col("pos").min().alias("prev"),
                                               pl.col("timestamp").sort_by("pos").first().alias("t"),
                                               pl.col("t1").first()).collect().lazy()
        stats = current.select(pl.len().alias("n"), ((pl.col("t") - pl.col("t1")).dt.total_microseconds() / 1e6)
                               .median().alias("m")).collect()
        users.append(stats["n"][0])
        medians.append(stats["m"][0])
        current = current.select("user_id", "prev", "t1")
    return pd.DataFrame({"step": range(1, len(steps) + 1), "users": users, "median_time_s": medians})


def _polars_sessions(ev: pl.LazyFrame) -> pl.LazyFrame:
    gap = pl.col("timestamp").diff().over("user_id")
    return (ev.sort(["user_id", "timestamp"])
            .with_columns((gap.is_null() | (gap > pl.duration(seconds=SESSION_TIMEOUT_S))).cum_sum().alias("s"))
            .group_by("s").agg(pl.col("user_id").first(), pl.col("timestamp").min().alias("start"),
                               pl.col("timestamp").max().alias("end"), pl.len().alias("n_events")))


def polars_sessions(path: Path) -> pd.DataFrame:
    return _polars_sessions(_distinct(path, ["user_id", "timestamp"])).collect().to_pandas()


def polars_experiment(path: Path, assignments: Path, experiment: str) -> pd.DataFrame:
    """Per variant: users, converted within 14 days (censored users excluded), events in the window."""
    ev = _distinct(path, ["user_id", "timestamp", "event"])
    end = ev.select(pl.col("timestamp").max().dt.truncate("1d")).collect().item()
    asg = (pl.scan_csv(assignments, try_parse_dates=True).filter(pl.col("experiment") == experiment)
           .with_columns(pl.col("assigned_at").dt.convert_time_zone("UTC"), pl.col("user_id").cast(pl.String)))
    asg = asg.with_columns((pl.col("assigned_at").dt.truncate("1d") + pl.duration(days=CONVERSION_DAYS)).alias("until"))
    joined = asg.join(ev.with_columns(pl.col("user_id").cast(pl.String)), on="user_id", how="left")
    inside = (pl.col("timestamp") >= pl.col("assigned_at")) & (pl.col("timestamp") < pl.col("until"))
    per_user = joined.group_by(["user_id", "variant", "until"]).agg(
        (inside & (pl.col("event") == "purchase")).any().alias("converted"), inside.sum().alias("events"))
    observed = pl.col("until") <= pl.lit(end)
    out = per_user.group_by("variant").agg(
        pl.len().alias("users"), observed.sum().alias("eligible"),
        (pl.col("converted") & observed).sum().alias("converted"),
        pl.when(observed).then(pl.col("events")).sum().alias("events")).sort("variant")
    return out.collect().to_pandas()


def polars_user_features(path: Path) -> pd.DataFrame:
    ev = _distinct(path, ["user_id", "timestamp", "event", "revenue"])
    as_of = ev.select(pl.col("timestamp").max() + pl.duration(days=1)).collect().item()
    sessions = _polars_sessions(ev.select("user_id", "timestamp")).group_by("user_id").agg(pl.len().alias("sessions"))
    per_user = ev.group_by("user_id").agg(
        ((pl.lit(as_of) - pl.col("timestamp").max()).dt.total_days()).alias("recency_days"),
        ((pl.lit(as_of) - pl.col("timestamp").min()).dt.total_days()).alias("tenure_days"),
        pl.col("timestamp").dt.truncate("1d").n_unique().alias("active_days"),
        pl.len().alias("events"),
        pl.col("revenue").fill_null(0).sum().alias("revenue"),
        (pl.col("event") == "purchase").any().alias("converted"))
    return per_user.join(sessions, on="user_id").collect().to_pandas().set_index("user_id").sort_index()


# --------------------------------------------------------------------------- DuckDB


def _source(path: Path, extra: str = "") -> str:
    """The file as a relation, timestamps as DuckDB's TIMESTAMPTZ (microseconds).

    The Parquet file holds nanoseconds (29 % of the demo's timestamps have sub-microsecond
    digits); a CAST rounds them to the nearest microsecond, so they are floored instead,
    as the checks floor the package's nanoseconds.
    """
    if path.suffix == ".parquet":
        return (f"(SELECT * REPLACE (make_timestamptz(epoch_ns(timestamp) // 1000) AS timestamp) "
                f"FROM read_parquet('{path}'{extra}))")
    return f"read_csv('{path}')"


def _distinct_sql(path: Path) -> str:
    return f"(SELECT DISTINCT * FROM {_source(path)})"


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


def duckdb_retention(con, path: Path) -> pd.DataFrame:
    out = con.execute(f"""
        WITH act AS (SELECT DISTINCT user_id, date_trunc('day', timestamp) AS p FROM {_source(path)}),
             coh AS (SELECT user_id, min(p) AS cohort FROM act GROUP BY user_id)
        SELECT cohort, date_diff('day', cohort, p) AS k, count(*) AS retained
        FROM act JOIN coh USING (user_id) GROUP BY ALL""").df()
    return _naive(out, "cohort")


def duckdb_active_users(con, path: Path) -> pd.DataFrame:
    out = con.execute(f"""
        WITH act AS (SELECT DISTINCT user_id, CAST(timestamp AS DATE) AS d FROM {_source(path)}),
             nxt AS (SELECT d, lead(d) OVER (PARTITION BY user_id ORDER BY d) AS nd FROM act),
             delta AS (
                SELECT d AS day, 1 AS dau, 1 AS wau, 1 AS mau FROM nxt
                UNION ALL SELECT least(d + 1, coalesce(nd, d + 1)), -1, 0, 0 FROM nxt
                UNION ALL SELECT least(d + 7, coalesce(nd, d + 7)), 0, -1, 0 FROM nxt
                UNION ALL SELECT least(d + 30, coalesce(nd, d + 30)), 0, 0, -1 FROM nxt),
             daily AS (SELECT day, sum(dau) AS dau, sum(wau) AS wau, sum(mau) AS mau FROM delta GROUP BY day)
        SELECT day AS date, sum(dau) OVER w AS dau, sum(wau) OVER w AS wau, sum(mau) OVER w AS mau
        FROM daily WINDOW w AS (ORDER BY day) ORDER BY day""").df()
    out["date"] = pd.to_datetime(out["date"])
    return out


def duckdb_funnel(con, path: Path, steps: list[str]) -> pd.DataFrame:
    source = (_source(path, ", file_row_number := true") if path.suffix == ".parquet"
              else f"(SELECT *, row_number() OVER () AS file_row_number FROM {_source(path)})")
    s = steps
    w = FUNNEL_WINDOW_S

    def step(name: str, previous: str, event: str) -> str:
        return f"""{name} AS (SELECT p.user_id, t1, min(e.pos) AS p, arg_min(e.timestamp, e.pos) AS t FROM {previous} p JOIN ev e
               ON e.user_id = p.user_id AND e.event = '{event}' AND e.pos > p.p
                  AND e.timestamp <= t1 + INTERVAL {w} SECOND GROUP BY p.user_id, t1)"""

    out = con.execute(f"""
        WITH raw AS (SELECT user_id, timestamp, event, min(file_row_number) AS fr
                     FROM {source} GROUP BY ALL HAVING true),
        ev AS (SELECT *, row_number() OVER (ORDER BY user_id, timestamp, fr) AS pos FROM raw),
        s1 AS (SELECT user_id, min(pos) AS p, arg_min(timestamp, pos) AS t1 FROM ev WHERE event = '{s[0]}' GROUP BY user_id),
        {step('s2', 's1', s[1])}, {step('s3', 's2', s[2])}, {step('s4', 's3', s[3])}
        SELECT 1 AS step, count(*) AS users, 0.0 AS median_time_s FROM s1
        UNION ALL SELECT 2, count(*), median(epoch(t) - epoch(t1)) FROM s2
        UNION ALL SELECT 3, count(*), median(epoch(t) - epoch(t1)) FROM s3
        UNION ALL SELECT 4, count(*), median(epoch(t) - epoch(t1)) FROM s4
        ORDER BY step""").df()
    return out


def duckdb_sessions(con, path: Path) -> pd.DataFrame:
    return con.execute(f"""
        WITH ev AS (SELECT user_id, timestamp FROM {_distinct_sql(path)}),
        flagged AS (
            SELECT user_id, timestamp,
                   CASE WHEN timestamp - lag(timestamp) OVER w <= INTERVAL {SESSION_TIMEOUT_S} SECOND THEN 0 ELSE 1 END AS new_session
            FROM ev WINDOW w AS (PARTITION BY user_id ORDER BY timestamp)),
        numbered AS (SELECT *, sum(new_session) OVER (PARTITION BY user_id ORDER BY timestamp
                                                      ROWS UNBOUNDED PRECEDING) AS s FROM flagged)
        SELECT user_id, s, min(timestamp) AS start, max(timestamp) AS "end", count(*) AS n_events
        FROM numbered GROUP BY user_id, s""").df()


def duckdb_experiment(con, path: Path, assignments: Path, experiment: str) -> pd.DataFrame:
    return con.execute(f"""
        WITH ev AS (SELECT user_id, timestamp, event FROM {_distinct_sql(path)}),
        fin AS (SELECT date_trunc('day', max(timestamp)) AS e FROM ev),
        asg AS (SELECT CAST(user_id AS VARCHAR) AS user_id, variant, assigned_at,
                       date_trunc('day', assigned_at) + INTERVAL {CONVERSION_DAYS} DAY AS until
                FROM read_csv('{assignments}') WHERE experiment = '{experiment}'),
        per_user AS (
            SELECT a.user_id, a.variant, a.until <= (SELECT e FROM fin) AS observed,
                   coalesce(bool_or(e.event = 'purchase'), false) AS converted, count(e.user_id) AS events
            FROM asg a LEFT JOIN ev e ON e.user_id = a.user_id AND e.timestamp >= a.assigned_at AND e.timestamp < a.until
            GROUP BY ALL)
        SELECT variant, count(*) AS users, sum(observed::INT) AS eligible, sum((converted AND observed)::INT) AS converted,
               sum(CASE WHEN observed THEN events END) AS events
        FROM per_user GROUP BY variant ORDER BY variant""").df()


def duckdb_user_features(con, path: Path) -> pd.DataFrame:
    return con.execute(f"""
        WITH ev AS (SELECT user_id, timestamp, event, revenue FROM {_distinct_sql(path)}),
        ao AS (SELECT max(timestamp) + INTERVAL 1 DAY AS t FROM ev),
        gaps AS (SELECT user_id, CASE WHEN timestamp - lag(timestamp) OVER (PARTITION BY user_id ORDER BY timestamp)
                                      <= INTERVAL {SESSION_TIMEOUT_S} SECOND THEN 0 ELSE 1 END AS new FROM ev),
        ses AS (SELECT user_id, sum(new) AS sessions FROM gaps GROUP BY user_id)
        SELECT user_id,
               floor(epoch((SELECT t FROM ao) - max(timestamp)) / 86400)::BIGINT AS recency_days,
               floor(epoch((SELECT t FROM ao) - min(timestamp)) / 86400)::BIGINT AS tenure_days,
               count(DISTINCT date_trunc('day', timestamp)) AS active_days, count(*) AS events,
               coalesce(sum(revenue), 0) AS revenue, bool_or(event = 'purchase') AS converted, any_value(s.sessions) AS sessions
        FROM ev JOIN ses s USING (user_id) GROUP BY user_id ORDER BY user_id""").df().set_index("user_id")
