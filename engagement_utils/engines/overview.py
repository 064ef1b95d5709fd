"""The data overview on an engine source: counts and distinct users per value / period, in the engine.

Each function mirrors the in-memory function of the same name in
:mod:`engagement_utils.overview` (or :func:`engagement_utils.data_profile.profile`'s facts)
and returns the same small frame; the public functions delegate here when handed an
:class:`~.connect.IbisEvents` (:func:`engagement_utils.core.scans.engine_of`).  Every scan
is one grouped aggregation (``count``, ``nunique``, ``min`` / ``max``); only the grouped
rows come back.
"""

from __future__ import annotations

from typing import Sequence

import ibis
import numpy as np
import pandas as pd
from ibis import _

from .. import periods
from ..core import MISSING_SEGMENT
from . import ibis_scans
from .connect import SEQ_COLUMN, IbisEvents
from .timezones import period_ordinal, utc_instant

__all__ = ["profile_facts", "data_summary", "events_per_period", "value_mix", "missing_values", "user_table_checks",
           "with_user_columns", "typed_labels"]

_OTHER = "(other)"


def _numeric(src: IbisEvents, column: str) -> bool:
    dtype = src.table.schema()[column]
    return (dtype.is_numeric() or dtype.is_decimal()) and not dtype.is_boolean()


def profile_facts(src: IbisEvents, described: Sequence[str], *, top: int = 5) -> dict:
    """What :func:`engagement_utils.data_profile.profile` reads off the events, from the table.

    Returns ``n_events``, ``n_users``, ``first`` / ``last`` (UTC), ``event_counts`` (a Series,
    most frequent first, ties by name), ``filled`` (column -> has a value) and, per
    ``described`` column, ``("number", rows with a value, total)`` or ``("values", distinct
    values, top value counts)`` -- the facts the profile's detail column shows.

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["open", "buy", "open"], "platform": ["ios", None, "web"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"], utc=True)})
    >>> facts = profile_facts(from_frame(ev), ["platform"])
    >>> facts["n_events"], facts["n_users"], facts["event_counts"].to_dict(), facts["described"]["platform"][:2]
    (3, 2, {'open': 2, 'buy': 1}, ('values', 2))
    """
    t = src.table
    ts = utc_instant(t.timestamp)
    aggs = {"n_events": t.count(), "n_users": t.user_id.nunique(), "first": ts.min(), "last": ts.max()}
    for i, column in enumerate(src.columns):
        aggs[f"filled_{i}"] = t[column].count()
    for i, column in enumerate(described):
        if _numeric(src, column):
            aggs[f"sum_{i}"] = t[column].cast("float64").sum()
        else:
            aggs[f"distinct_{i}"] = t[column].nunique()
    row = t.aggregate(**aggs).to_pandas().iloc[0]
    counts = ibis_scans.execute(t.group_by("event").aggregate(n=_.count()))
    counts["event"] = counts["event"].astype(str)
    counts = counts.sort_values(["n", "event"], ascending=[False, True], ignore_index=True)
    out = {
        "n_events": int(row["n_events"]), "n_users": int(row["n_users"]),
        "first": None if pd.isna(row["first"]) else pd.Timestamp(row["first"]).tz_convert("UTC"),
        "last": None if pd.isna(row["last"]) else pd.Timestamp(row["last"]).tz_convert("UTC"),
        "event_counts": pd.Series(counts["n"].to_numpy(np.int64), index=pd.Index(counts["event"], name="event")),
        "filled": {column: int(row[f"filled_{i}"]) > 0 for i, column in enumerate(src.columns)},
        "described": {},
    }
    for i, column in enumerate(described):
        if _numeric(src, column):
            filled = int(row[f"filled_{src.columns.index(column)}"])
            out["described"][column] = ("number", filled, float(row[f"sum_{i}"]) if filled else 0.0)
        else:
            top_values = ibis_scans.execute(t.filter(t[column].notnull()).group_by(column).aggregate(n=_.count()))
            top_values[column] = top_values[column].astype(str)
            top_values = top_values.sort_values(["n", column], ascending=[False, True]).head(top)
            out["described"][column] = ("values", int(row[f"distinct_{i}"]), top_values[column].tolist())
    return out


def _local(ts: pd.Timestamp, tz: str) -> pd.Timestamp:
    return pd.Timestamp(ts).tz_convert("UTC").tz_convert(tz)


def _median_of_histogram(values: np.ndarray, weights: np.ndarray) -> float:
    """The median of ``values`` repeated ``weights`` times (numpy's: the mean of the two middle values)."""
    order = np.argsort(values, kind="stable")
    values, cum = values[order], np.cumsum(weights[order])
    n = int(cum[-1])
    lo, hi = (n - 1) // 2, n // 2
    return float((values[np.searchsorted(cum, lo, side="right")] + values[np.searchsorted(cum, hi, side="right")]) / 2)


def data_summary(src: IbisEvents, tz: str | None = None) -> pd.DataFrame:
    """:func:`engagement_utils.overview.data_summary` of the table: one aggregate and a histogram of events per user.

    The median events per user comes from the histogram ``events per user -> users`` (one row
    per distinct count), so no per-user table leaves the engine.
    
    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["open", "buy", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-01"], utc=True)})
    >>> data_summary(from_frame(ev)).set_index("metric").loc[["events", "users", "days covered"], "value"].tolist()
    [3, 2, 3]
    """
    src = src.with_tz(tz or src.tz)
    t = src.table
    ts = utc_instant(t.timestamp)
    row = t.aggregate(events=t.count(), event_types=t.event.nunique(), first=ts.min(), last=ts.max()).to_pandas().iloc[0]
    if int(row["events"]) == 0:
        raise ValueError("the events table is empty; check the table and the date window")
    per_user = t.group_by("user_id").aggregate(n=_.count())
    hist = ibis_scans.execute(per_user.group_by("n").aggregate(users=_.count()))
    counts, users = hist["n"].to_numpy(np.int64), hist["users"].to_numpy(np.int64)
    first, last = _local(row["first"], src.tz), _local(row["last"], src.tz)
    rows = [
        ("events", int(row["events"])),
        ("users", int(users.sum())),
        ("event types", int(row["event_types"])),
        ("first event", first.strftime("%Y-%m-%d %H:%M %Z")),
        ("last event", last.strftime("%Y-%m-%d %H:%M %Z")),
        ("days covered", int((last.normalize() - first.normalize()).days) + 1),
        ("events per user (median)", _median_of_histogram(counts, users)),
    ]
    report = src.attrs.get("load_report")
    if report is not None:
        rows += [("duplicates dropped", report["duplicates_dropped"]), ("rows outside date window", report["rows_outside_window"])]
    return pd.DataFrame(rows, columns=["metric", "value"])


def events_per_period(src: IbisEvents, period: str = "day", tz: str | None = None) -> pd.DataFrame:
    """:func:`engagement_utils.overview.events_per_period`: events and distinct users per local period, gaps as zeros.
    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["open", "buy", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-01"], utc=True)})
    >>> events_per_period(from_frame(ev))[["events", "users"]].values.tolist()
    [[2, 2], [0, 0], [1, 1]]
    """
    periods.check_period(period)
    src = src.with_tz(tz or src.tz)
    t = src.table
    grouped = t.mutate(_period=period_ordinal(t.timestamp, period, src.tz, src.backend)).group_by("_period").aggregate(
        events=_.count(), users=_.user_id.nunique())
    got = ibis_scans.execute(grouped)
    ordinal = got["_period"].to_numpy(np.int64)
    lo, n = int(ordinal.min()), int(ordinal.max() - ordinal.min()) + 1
    events, users = np.zeros(n, np.int64), np.zeros(n, np.int64)
    events[ordinal - lo], users[ordinal - lo] = got["events"].to_numpy(np.int64), got["users"].to_numpy(np.int64)
    return pd.DataFrame({"period": periods.ordinal_to_start(np.arange(lo, lo + n), period), "events": events, "users": users})


def _first_appearance(t, value, labels: Sequence[str]) -> dict:
    """Rank of each label's first row in the in-memory log's order (user, time, file row): breaks ties in counts."""
    rows = t.mutate(_value=value).filter(_._value.isin(list(labels)))
    order = [rows.user_id, utc_instant(rows.timestamp)] + ([rows[SEQ_COLUMN]] if SEQ_COLUMN in t.columns else [])
    rows = rows.mutate(_rank=ibis.row_number().over(ibis.window(group_by=rows._value, order_by=order)))
    first = rows.filter(_._rank == 0).select("_value", _user=_.user_id, _ts=utc_instant(_.timestamp),
                                             **({"_seq": rows[SEQ_COLUMN]} if SEQ_COLUMN in t.columns else {}))
    got = ibis_scans.execute(first)
    keys = [c for c in ("_user", "_ts", "_seq") if c in got.columns]
    got = got.assign(_user=got["_user"].astype(str)).sort_values(keys, kind="stable", ignore_index=True)
    return {label: i for i, label in enumerate(got["_value"].astype(str))}


def value_mix(src: IbisEvents, column: str, top: int | None = None) -> pd.DataFrame:
    """:func:`engagement_utils.overview.value_mix`: events and distinct users per value of a text column.

    With ``top`` the rarest values are folded into ``"(other)"``; values tied in events at the
    cut are kept in the order of their first row (as the in-memory engine keeps them).  The
    users of ``"(other)"`` are counted distinct in the engine.
    
    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["open", "buy", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-01"], utc=True)})
    >>> value_mix(from_frame(ev), "event", top=1)[["value", "events", "users"]].values.tolist()
    [['open', 2, 2], ['(other)', 1, 1]]
    """
    src.check_column(column, "column")
    t = src.table
    value = t[column].cast("string").fill_null(MISSING_SEGMENT)
    got = ibis_scans.execute(t.mutate(_value=value).group_by("_value").aggregate(events=_.count(), users=_.user_id.nunique()))
    totals = t.aggregate(n=t.count(), users=t.user_id.nunique()).to_pandas().iloc[0]
    n_events, n_users = int(totals["n"]), int(totals["users"])
    got["_value"] = got["_value"].astype(str)
    got = got.sort_values(["events", "_value"], ascending=[False, True], ignore_index=True)
    if top is not None and len(got) > top:
        cut = int(got["events"].iloc[top - 1]) if top > 0 else None
        tied = got[got["events"] == cut]["_value"].tolist() if cut is not None else []
        if len(tied) > 1 and int(got["events"].iloc[top]) == cut:
            rank = {**_first_appearance(t, value, tied), MISSING_SEGMENT: np.inf}  # memory lists "(missing)" last
            got = got.assign(_first=got["_value"].map(rank).fillna(-1)).sort_values(
                ["events", "_first"], ascending=[False, True], ignore_index=True).drop(columns="_first")
        kept, rest = got.iloc[:top], got.iloc[top:]
        other_users = int(t.filter(value.isin(rest["_value"].tolist())).user_id.nunique().to_pandas())
        got = pd.concat([kept, pd.DataFrame({"_value": [_OTHER], "events": [int(rest["events"].sum())],
                                             "users": [other_users]})], ignore_index=True)
    mix = pd.DataFrame({"value": got["_value"].to_numpy(dtype=object), "events": got["events"].to_numpy(np.int64),
                        "event_share": got["events"].to_numpy(np.int64) / n_events,
                        "users": got["users"].to_numpy(np.int64), "user_share": got["users"].to_numpy(np.int64) / n_users})
    mix = mix[mix["events"] > 0].assign(folded=lambda m: m["value"] == _OTHER)
    return mix.sort_values(["folded", "events", "value"], ascending=[True, False, True], ignore_index=True).drop(columns="folded")


def missing_values(src: IbisEvents) -> pd.DataFrame:
    """:func:`engagement_utils.overview.missing_values` of the table: one aggregate of ``count(column)`` per column.
    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["open", "buy", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-01"], utc=True)})
    >>> missing_values(from_frame(ev.assign(plan=["pro", None, None])))["missing"].tolist()
    [0, 0, 0, 2]
    """
    t = src.table
    row = t.aggregate(_n=t.count(), **{f"c{i}": t[c].count() for i, c in enumerate(src.columns)}).to_pandas().iloc[0]
    n = int(row["_n"])
    missing = np.array([n - int(row[f"c{i}"]) for i in range(len(src.columns))], dtype=int)
    return pd.DataFrame({"column": src.columns, "missing": missing, "share": missing / max(n, 1)})


def _users_table(src: IbisEvents, users: pd.DataFrame, columns: Sequence[str] = ()):
    """The users table (``user_id`` and ``columns``) as an Ibis memtable whose ids have the events' id type."""
    frame = users[["user_id", *columns]].copy()
    id_type = src.table.schema()["user_id"]
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            frame[column] = values.astype(object).where(values.notna(), None)
            if column == "user_id" or frame[column].map(type).isin([str]).all():
                frame[column] = frame[column].map(lambda v: None if v is None else str(v))
    if id_type.is_integer():
        frame["user_id"] = pd.to_numeric(frame["user_id"]).astype("int64")
    frame = frame.rename(columns={"user_id": "_uid"})
    return ibis.memtable(frame)


def user_table_checks(src: IbisEvents, users: pd.DataFrame) -> dict[str, int]:
    """Event rows of users missing from the users table, and users-table users without events (anti-joins in the engine).
    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["open", "buy", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-01"], utc=True)})
    >>> user_table_checks(from_frame(ev), pd.DataFrame({"user_id": ["a", "c"]}))
    {'event rows of users missing from the user table': 1, 'users in the user table without events': 1}
    """
    t = src.table
    table = _users_table(src, users)
    unknown_rows = t.anti_join(table, t.user_id == table._uid).count().to_pandas()
    seen = t.select(_seen=t.user_id).distinct()
    silent = table.anti_join(seen, table._uid == seen._seen).count().to_pandas()
    return {"event rows of users missing from the user table": int(unknown_rows),
            "users in the user table without events": int(silent)}


def with_user_columns(src: IbisEvents, users: pd.DataFrame, columns: Sequence[str]) -> IbisEvents:
    """The events with users-table ``columns`` attached by a left join in the engine (no match: missing).
    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b"], "event": ["open", "buy", "open"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-01"], utc=True)})
    >>> src = with_user_columns(from_frame(ev), pd.DataFrame({"user_id": ["a"], "plan": ["pro"]}), ["plan"])
    >>> src.table.order_by("event_seq").plan.to_pandas().tolist()
    ['pro', 'pro', nan]
    """
    clash = [c for c in columns if c in src.table.columns]
    if clash:
        raise ValueError(f"events already have column(s) {clash}; drop them or choose other columns")
    missing = [c for c in columns if c not in users.columns]
    if missing:
        raise ValueError(f"user table has no column(s) {missing}; available: {[c for c in users.columns if c != 'user_id']}")
    t = src.table
    table = _users_table(src, users, columns)
    integers = [c for c in columns if table.schema()[c].is_integer()]
    if integers and int(t.anti_join(table, t.user_id == table._uid).count().to_pandas()):
        # as in memory: events of users missing from the users table make an integer column float (NaN)
        table = table.mutate(**{c: table[c].cast("float64") for c in integers})
    joined = t.left_join(table, t.user_id == table._uid).drop("_uid")
    return src.with_table(joined)


def typed_labels(src: IbisEvents, segment: str | None, labels: pd.Series) -> pd.Series:
    """Segment labels back in the column's type (the engine returns text): ``3``, ``True``, ``"ios"``, ``"(missing)"``.

    The in-memory engine labels a segment by its value (``core.segment_labels``), so an integer
    or boolean breakdown sorts numerically there; this restores that for the engine's text labels.

    Examples
    --------
    >>> from engagement_utils.engines import from_frame
    >>> ev = pd.DataFrame({"user_id": ["a"], "event": ["x"], "timestamp": pd.to_datetime(["2024-01-01"], utc=True),
    ...                    "vip": [True], "n": [3]})
    >>> src = from_frame(ev)
    >>> typed_labels(src, "vip", pd.Series(["true", "(missing)"])).tolist(), typed_labels(src, "n", pd.Series(["3"])).tolist()
    ([True, '(missing)'], [3])
    """
    if segment is None or segment not in src.table.columns:
        return labels
    dtype = src.table.schema()[segment]
    present = labels.astype(object) != MISSING_SEGMENT
    if dtype.is_boolean():
        convert = {"true": True, "false": False, "1": True, "0": False}
        values = labels.astype(str).str.lower().map(convert)
    elif dtype.is_integer():
        values = labels.map(lambda v: v if v == MISSING_SEGMENT else int(v))
    elif dtype.is_floating():
        values = pd.to_numeric(labels.where(present), errors="coerce").astype(object)
    else:
        return labels
    return pd.Series(values, index=labels.index, dtype=object).where(present, MISSING_SEGMENT)
