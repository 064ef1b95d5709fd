"""Personas: per-user features, RFM segments, behavioural clusters described in words.

Pipeline (DESIGN §5 "Personas")::

    features = user_features(events)                 # one row per user
    scores = rfm(features)                           # R/F/M quintile scores + named segments
    seg = segment_users(features)                    # k-means on log/scaled features, k by silhouette
    cards = describe_personas(features, seg.labels)  # size, medians, what sets it apart, name, description
    outcomes = persona_outcomes(events, seg.labels, names=cards["name"])

Every step takes and returns tidy pandas objects indexed by ``user_id``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from . import periods
from ._arrays import distinct
from .sessions import CONVERSION_EVENTS, VIEW_EVENTS, parse_duration, sessionize

__all__ = [
    "RFM_SEGMENTS",
    "TIES",
    "user_features",
    "omitted_features",
    "rfm",
    "rfm_summary",
    "rfm_grid",
    "Segmentation",
    "segment_users",
    "feature_zscores",
    "describe_personas",
    "project_personas",
    "PersonaOutcomes",
    "persona_outcomes",
    "export_personas",
]

_DAY = pd.Timedelta(days=1)
SESSION_FEATURES = ("sessions", "mean_session_s", "events_per_session", "bounce_rate")
SESSION_MODES = ("auto", True, False)


# --------------------------------------------------------------------------- features


def _user_codes(events: pd.DataFrame) -> tuple[np.ndarray, pd.Index]:
    """Integer code per event row and the user ids they stand for."""
    uid = events["user_id"]
    if isinstance(uid.dtype, pd.CategoricalDtype):
        return uid.cat.codes.to_numpy().astype(np.int64), pd.Index(uid.cat.categories, name="user_id")
    codes, uniques = pd.factorize(uid, sort=True)
    return codes.astype(np.int64), pd.Index(uniques, name="user_id")


def _count_events(event: pd.Series, codes: np.ndarray, n_users: int, names: Iterable[str]) -> np.ndarray:
    hit = event.isin(list(names)).to_numpy()
    return np.bincount(codes[hit], minlength=n_users)


def user_features(
    events: pd.DataFrame,
    *,
    as_of=None,
    window=None,
    tz: str = "UTC",
    conversion_events: Iterable[str] = CONVERSION_EVENTS,
    order_column: str = "order_id",
    session_features="auto",
    timeout="30min",
    count_events: Mapping[str, str | Iterable[str]] | None = None,
) -> pd.DataFrame:
    """One row per user describing recency, frequency, monetary value and behaviour.

    Users are everyone with an event before ``as_of``.  Recency and tenure look
    at all history before ``as_of``; every other feature counts only the
    events inside the window ``[as_of - window, as_of)`` (all history when
    ``window`` is None), so a user inactive in the window has zero activity.

    Columns
    -------
    recency_days
        Whole days from the user's last event to ``as_of``:
        ``floor((as_of - last) / 1 day)``.
    tenure_days
        Whole days from the user's first event to ``as_of``.
    active_days, events
        Distinct calendar days (in ``tz``) with an event; number of events.
    active_day_share
        ``active_days`` / calendar days the user could have been active in the
        window (from the later of first event and window start to ``as_of``).
    sessions, mean_session_s, events_per_session, bounce_rate
        From :func:`engagement_utils.sessions.sessionize` (duration = last −
        first event; bounce = one-event session).  Only for logs with browsing
        events (see ``session_features``); otherwise left out and reported.
    orders
        Distinct ``order_column`` values among conversion events when the
        column exists, else the number of conversion events.
    revenue, aov
        Sum of ``revenue`` (0 for users who bought nothing) and revenue per
        order (NaN with no orders: undefined, not zero).  Left out when the
        events have no ``revenue`` column.
    converted
        Any conversion event in the window.
    channels_reached
        Distinct ``channel`` values in the window (only when events have ``channel``).
    main_platform
        Most frequent ``platform`` (ties: first in category order);
        ``"unknown"`` when the user's events carry none.
    <custom>
        One count per entry of ``count_events``.

    ``frame.attrs["omitted"]`` maps each left-out feature to the reason
    (read it with :func:`omitted_features`).

    Parameters
    ----------
    events : DataFrame
        Canonical events (``user_id``, ``timestamp``, ``event``; optional
        ``revenue``, ``platform``, ``channel``, ``session_id``, ``order_column``).
    as_of : str or Timestamp, optional
        Reference time (exclusive).  Default: the last event + 1 day, the usual
        RFM convention, so the most recent user has recency 1... or 0 when the
        last event is less than a day before; naive values are UTC.
    window : str or Timedelta, optional
        Length of the feature window ending at ``as_of`` (e.g. ``"90D"``).
    tz : str
        Timezone in which calendar days are counted.
    conversion_events : iterable of str
        Events that are orders / conversions.
    order_column : str
        Column identifying an order (e.g. an invoice number) when one order
        spans several event rows.
    session_features : {"auto", True, False}
        "auto" computes them when the log has browsing events (a view event
        such as ``screen_view`` / ``page_view`` / ``app_open``) or a
        ``session_id`` column; a purchase-only export has neither.
    timeout : str or Timedelta
        Session timeout passed to ``sessionize``.
    count_events : mapping, optional
        Custom features: ``{"searches": "search", "cart_adds": ["add_to_cart"]}``
        counts those events per user in the window.

    Returns
    -------
    DataFrame indexed by ``user_id`` (sorted).

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "a", "b"],
    ...     "event": ["app_open", "purchase", "app_open", "app_open"],
    ...     "revenue": [None, 20.0, None, None],
    ...     "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:05",
    ...                                  "2024-01-03 09:00", "2024-01-02 12:00"], utc=True)})
    >>> f = user_features(ev, as_of="2024-01-04")
    >>> f[["recency_days", "tenure_days", "active_days", "sessions", "orders", "revenue"]].to_dict("index")
    {'a': {'recency_days': 0, 'tenure_days': 2, 'active_days': 2, 'sessions': 2, 'orders': 1, 'revenue': 20.0}, 'b': {'recency_days': 1, 'tenure_days': 1, 'active_days': 1, 'sessions': 1, 'orders': 0, 'revenue': 0.0}}
    """
    for col in ("user_id", "timestamp", "event"):
        if col not in events.columns:
            raise ValueError(f"events have no {col!r} column; load them with engagement_utils.io.load_events")
    if session_features not in SESSION_MODES:
        raise ValueError(f"session_features={session_features!r} is not supported; choose one of 'auto', True, False")
    if len(events) == 0:
        raise ValueError("events are empty; user features need at least one event")
    ts = events["timestamp"]
    as_of = ts.max() + _DAY if as_of is None else pd.Timestamp(as_of)
    if as_of.tzinfo is None:
        as_of = as_of.tz_localize("UTC")
    before = (ts < as_of).to_numpy()
    if not before.any():
        raise ValueError(f"no events before as_of={as_of}; the events start at {ts.min()}")
    history = events.loc[before] if not before.all() else events
    codes, ids = _user_codes(history)
    seen = np.bincount(codes, minlength=len(ids)) > 0
    n = len(ids)
    ts_ns = history["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    first_ns = np.full(n, np.iinfo(np.int64).max)
    last_ns = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(first_ns, codes, ts_ns)
    np.maximum.at(last_ns, codes, ts_ns)
    as_of_ns = as_of.value

    start_ns = np.iinfo(np.int64).min if window is None else as_of_ns - parse_duration(window, "window").value
    in_window = ts_ns >= start_ns
    del ts_ns  # peak memory: sessionize below needs room
    win = history.loc[in_window] if not in_window.all() else history
    wcodes = codes[in_window] if not in_window.all() else codes

    out = pd.DataFrame(index=ids)
    out["recency_days"] = (as_of_ns - last_ns) // _DAY.value
    out["tenure_days"] = (as_of_ns - first_ns) // _DAY.value
    day = periods.period_ordinal(win["timestamp"], "day", tz)
    day0 = day.min() if len(day) else 0
    span = day.max() - day0 + 1 if len(day) else 1
    user_day = distinct(wcodes * span + (day - day0))
    out["active_days"] = np.bincount(user_day // span, minlength=n)
    del day, user_day
    out["events"] = np.bincount(wcodes, minlength=n)
    # Days the user could have been active: from their first day (or the window start) to as_of's day.
    last_day = periods.period_ordinal(pd.Series([as_of - pd.Timedelta(1, "ns")]), "day", tz)[0]
    # Users without events before as_of (dropped below) have no first event: as_of stands in,
    # since the int64 sentinel would overflow the timezone conversion.
    eligible_from = pd.Series(pd.to_datetime(np.where(seen, np.maximum(first_ns, start_ns), as_of_ns), utc=True))
    out["active_day_share"] = out["active_days"] / (last_day - periods.period_ordinal(eligible_from, "day", tz) + 1)

    omitted: dict[str, str] = {}
    has_views = bool(events["event"].isin(list(VIEW_EVENTS)).any()) or "session_id" in events.columns
    if session_features is True or (session_features == "auto" and has_views):
        # Only the columns that delimit sessions: the others would be copied for table columns unused here.
        sessions = sessionize(win[[c for c in ("user_id", "timestamp", "event", "session_id") if c in win.columns]],
                              timeout=timeout).sessions
        scodes = _user_codes(sessions.assign(user_id=pd.Categorical(sessions["user_id"], categories=ids)))[0]
        n_sessions = np.bincount(scodes, minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["sessions"] = n_sessions
            out["mean_session_s"] = np.bincount(scodes, weights=sessions["duration_s"].to_numpy(), minlength=n) / n_sessions
            out["events_per_session"] = np.bincount(scodes, weights=sessions["n_events"].to_numpy(), minlength=n) / n_sessions
            out["bounce_rate"] = np.bincount(scodes, weights=sessions["bounce"].to_numpy(dtype=float), minlength=n) / n_sessions
        del sessions, scodes  # peak memory: the session table is not needed below
    else:
        reason = ("turned off (session_features=False)" if session_features is False else
                  "the events have no browsing events (screen/page views, app opens) or session_id: "
                  "sessions of a purchase-only log would only restate orders")
        omitted.update(dict.fromkeys(SESSION_FEATURES, reason))

    conversion_events = list(conversion_events)
    is_order = win["event"].isin(conversion_events).to_numpy()
    if order_column in win.columns:
        pairs = pd.DataFrame({"u": wcodes[is_order], "o": pd.factorize(win[order_column].to_numpy()[is_order])[0]})
        orders = np.bincount(pairs.drop_duplicates()["u"].to_numpy(), minlength=n)
    else:
        orders = np.bincount(wcodes[is_order], minlength=n)
    out["orders"] = orders
    if "revenue" in win.columns:
        out["revenue"] = np.bincount(wcodes, weights=np.nan_to_num(win["revenue"].to_numpy(dtype=float)), minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["aov"] = np.where(orders > 0, out["revenue"] / np.maximum(orders, 1), np.nan)
    else:
        omitted.update(dict.fromkeys(("revenue", "aov"), "the events have no 'revenue' column"))
    out["converted"] = orders > 0
    if "channel" in win.columns:
        ch = pd.factorize(win["channel"])[0]
        pairs = distinct(wcodes[ch >= 0] * (ch.max() + 1) + ch[ch >= 0]) if (ch >= 0).any() else np.array([], dtype=np.int64)
        out["channels_reached"] = np.bincount(pairs // max(ch.max() + 1, 1), minlength=n)
    else:
        omitted["channels_reached"] = "the events have no 'channel' column"
    if "platform" in history.columns:
        out["main_platform"] = _main_value(history["platform"], codes, n)
    else:
        omitted["main_platform"] = "the events have no 'platform' column"
    for name, names in (count_events or {}).items():
        if name in out.columns:
            raise ValueError(f"count_events name {name!r} clashes with a built-in feature; choose another name")
        out[name] = _count_events(win["event"], wcodes, n, [names] if isinstance(names, str) else names)

    out = out.loc[seen]
    out.attrs["omitted"] = omitted
    out.attrs["as_of"] = str(as_of)
    return out


def _main_value(values: pd.Series, codes: np.ndarray, n: int) -> pd.Categorical:
    """Most frequent non-missing category per user (first category on ties), "unknown" if none."""
    cat = values.astype("category") if not isinstance(values.dtype, pd.CategoricalDtype) else values
    vcodes = cat.cat.codes.to_numpy()
    k = len(cat.cat.categories)
    ok = vcodes >= 0
    width = max(k, 1)
    counts = np.bincount(codes[ok].astype(np.int64) * width + vcodes[ok], minlength=n * width).reshape(n, width)
    labels = cat.cat.categories.astype(str).tolist() + ["unknown"]
    names = list(dict.fromkeys(labels))  # a category literally named "unknown" is merged
    best = np.where(counts.sum(axis=1) > 0, counts.argmax(axis=1), k)
    return pd.Categorical.from_codes(np.array([names.index(label) for label in labels])[best], categories=names)


def omitted_features(features: pd.DataFrame) -> dict[str, str]:
    """Features :func:`user_features` left out, with the reason (empty dict if none).

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": [1], "event": ["purchase"], "timestamp": pd.to_datetime(["2024-01-01"], utc=True)})
    >>> sorted(omitted_features(user_features(ev)))
    ['aov', 'bounce_rate', 'channels_reached', 'events_per_session', 'main_platform', 'mean_session_s', 'revenue', 'sessions']
    """
    return dict(features.attrs.get("omitted", {}))



def rfm_grid(scores: pd.DataFrame) -> pd.DataFrame:
    """Users and mean monetary value per R × F score cell (tidy), for the RFM grid chart.

    Examples
    --------
    >>> f = pd.DataFrame({"recency_days": [1, 30, 200, 5], "orders": [9, 3, 1, 6], "revenue": [900.0, 120, 10, 300]},
    ...                  index=pd.Index(list("abcd"), name="user_id"))
    >>> rfm_grid(rfm(f)).query("users > 0")[["R", "F", "users"]].values.tolist()
    [[1, 1, 1], [2, 2, 1], [4, 4, 1], [5, 5, 1]]
    """
    bins = int(max(scores["R"].max(), scores["F"].max()))
    cells = pd.MultiIndex.from_product([range(1, bins + 1), range(1, bins + 1)], names=["R", "F"])
    g = scores.groupby(["R", "F"])
    out = pd.DataFrame({"users": g.size(), "monetary_mean": g["monetary"].mean()}).reindex(cells)
    out["users"] = out["users"].fillna(0).astype(np.int64)
    return out.reset_index()


# --------------------------------------------------------------------------- clustering

# Tenure says when a user arrived rather than how they behave: left out of clustering
# by default so personas do not split by signup date.
_NOT_BEHAVIOUR = ("tenure_days",)
DEFAULT_SAMPLE = 10_000
# Silhouettes are summed over row blocks of the sample's distance matrix; 256 MiB holds
# the demo's 5,000 users in one block (the 10,000-user default sample would take 763 MiB).
SILHOUETTE_MEMORY_MIB = 256


@dataclass
class Segmentation:
    """Result of :func:`segment_users`.

    Attributes
    ----------
    labels : Series
        Persona number per user (``user_id`` index, name ``persona``); 0 is the
        most engaged persona (highest mean of ``order_by``), then descending.
    k : int
        Number of personas.
    silhouette : DataFrame
        ``k, silhouette`` for every k tried (one row when k was given).
    columns : list of str
        Features used.
    log_columns : list of str
        Features that were log1p-transformed (skewness above 1).
    dropped : dict
        Features left out, with the reason (constant, missing values).
    centers : DataFrame
        Cluster centres in the transformed, standardized space (persona × feature).
    """

    labels: pd.Series
    k: int
    silhouette: pd.DataFrame
    columns: list[str]
    log_columns: list[str]
    dropped: dict[str, str] = field(default_factory=dict)
    centers: pd.DataFrame | None = None



def _clustering_matrix(features: pd.DataFrame, columns: Iterable[str] | None):
    """Choose, log-transform and standardize the clustering features.

    Returns the matrix, the columns used, the log-transformed ones and the dropped ones.
    """
    dropped: dict[str, str] = {}
    if columns is None:
        candidates = [c for c in features.columns if c not in _NOT_BEHAVIOUR
                      and (pd.api.types.is_numeric_dtype(features[c]) or pd.api.types.is_bool_dtype(features[c]))]
        for c in [c for c in candidates if features[c].isna().any()]:
            dropped[c] = "has missing values (e.g. average order value of users without orders)"
        candidates = [c for c in candidates if c not in dropped]
    else:
        candidates = list(columns)
        for c in candidates:
            if c not in features.columns:
                raise ValueError(f"feature {c!r} is not a column of the features; available: {list(features.columns)}")
            if not (pd.api.types.is_numeric_dtype(features[c]) or pd.api.types.is_bool_dtype(features[c])):
                raise ValueError(f"feature {c!r} is not numeric; cluster on numeric features or encode it first")
            if features[c].isna().any():
                raise ValueError(f"feature {c!r} has {int(features[c].isna().sum())} missing value(s); fill them or leave it out")
    X = features[candidates].to_numpy(dtype=float, copy=True)  # transformed in place below
    # Counts, durations and money are right-skewed: log1p keeps a few heavy users from
    # dominating the distances.
    skew = pd.DataFrame(X, columns=candidates).skew().fillna(0).to_numpy()
    to_log = (X.min(axis=0, initial=0) >= 0) & (skew > 1)
    X[:, to_log] = np.log1p(X[:, to_log])
    sd = X.std(axis=0)
    constant = sd == 0
    for c in np.asarray(candidates)[constant]:
        dropped[str(c)] = "constant for every user"
    keep = ~constant
    if not keep.any():
        raise ValueError("no feature varies between users; personas need at least one non-constant numeric feature")
    X = (X[:, keep] - X[:, keep].mean(axis=0)) / sd[keep]
    used = [c for c, k in zip(candidates, keep) if k]
    logged = [c for c, k, lg in zip(candidates, keep, to_log) if k and lg]
    return X, used, logged, dropped


def segment_users(
    features: pd.DataFrame,
    k: int | str = "auto",
    k_range: Iterable[int] = range(2, 9),
    *,
    columns: Iterable[str] | None = None,
    random_state: int = 0,
    sample_size: int = DEFAULT_SAMPLE,
    n_init: int = 4,
    order_by: str = "events",
) -> Segmentation:
    """Cluster users into behavioural personas with k-means.

    Steps: take the numeric behaviour features (default: every numeric or
    boolean column without missing values except ``tenure_days``, which
    says when a user arrived, not how they behave);
    ``log1p`` the non-negative ones with skewness above 1; drop constant ones;
    standardize to z-scores; run k-means (scikit-learn, k-means++ with
    ``n_init`` starts) for each k; keep the k with the highest mean silhouette
    (Rousseeuw 1987) — on a random sample of ``sample_size`` users for large
    data — the smaller k on ties.

    Scale and determinism: every k is fitted on all users (k-means is linear
    in the users: about 1.3 s per k with 4 starts on 1M users × 11 features on
    2 cores), so labels never depend on a sample.  Silhouettes need all
    pairwise distances of the sample; they are accumulated over blocks of
    rows of at most ``SILHOUETTE_MEMORY_MIB`` (scikit-learn's
    ``working_memory``), so memory stays bounded whatever ``sample_size``.
    The sample is drawn with ``numpy.random.default_rng(random_state)``
    without replacement and k-means is seeded with ``random_state``, so the
    same features and seed give the same k, labels and silhouettes.

    Rows are sorted by ``user_id`` before fitting and clusters are renumbered
    by descending mean of ``order_by`` (then size), so the same features give
    the same personas whatever their row order, and reruns agree.

    Parameters
    ----------
    features : DataFrame
        From :func:`user_features` (index ``user_id``).
    k : int or "auto"
        Number of personas, or "auto" to choose it by silhouette over ``k_range``.
    k_range : iterable of int
        Candidate k for "auto"; values outside ``2 .. n_users - 1`` are skipped.
    columns : iterable of str, optional
        Features to cluster on.
    random_state : int
        Seed of k-means and of the silhouette sample.
    sample_size : int
        Users used to compute silhouettes (all when fewer).
    n_init : int
        k-means restarts per k.
    order_by : str
        Feature whose persona means order the labels (default ``events``).

    Examples
    --------
    >>> f = pd.DataFrame({"events": [1, 2, 1, 50, 52, 51], "minutes": [1.0, 1.2, 0.9, 30, 29, 31]},
    ...                  index=pd.Index(list("abcdef"), name="user_id"))
    >>> seg = segment_users(f, k_range=range(2, 4))
    >>> seg.k, seg.labels.tolist()
    (2, [1, 1, 1, 0, 0, 0])
    """
    import sklearn
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    if order_by not in features.columns:
        raise ValueError(f"order_by={order_by!r} is not a column of the features; available: {list(features.columns)}")
    n = len(features)
    if n < 3:
        raise ValueError(f"segmentation needs at least 3 users (got {n}); personas of fewer users are not meaningful")
    if sample_size < 2:
        raise ValueError(f"sample_size={sample_size} must be at least 2")
    order = np.argsort(np.asarray(features.index), kind="stable")
    ordered = features.iloc[order]
    X, used, logged, dropped = _clustering_matrix(ordered, columns)
    # Hashing the rows is ~6x faster than np.unique(axis=0)'s sort at 1M users; same count.
    n_distinct = n - int(pd.DataFrame(X).duplicated().sum())
    if k == "auto":
        ks = sorted({int(v) for v in k_range if 2 <= int(v) <= min(n - 1, n_distinct)})
        if not ks:
            raise ValueError(f"no k in k_range={list(k_range)} fits {n} users with {n_distinct} distinct feature rows; "
                             f"use k between 2 and {min(n - 1, n_distinct)}")
    elif isinstance(k, (int, np.integer)) and not isinstance(k, bool):
        if not 1 <= k <= n_distinct:
            raise ValueError(f"k={k} must be between 1 and the number of distinct feature rows ({n_distinct})")
        ks = [int(k)]
    else:
        raise ValueError(f"k={k!r} is not supported; use 'auto' or a positive integer")
    rng = np.random.default_rng(random_state)
    sample = np.sort(rng.choice(n, size=sample_size, replace=False)) if n > sample_size else np.arange(n)

    fits, scores = {}, []
    for kk in ks:
        model = KMeans(n_clusters=kk, n_init=n_init, random_state=random_state).fit(X)
        fits[kk] = model
        sample_labels = model.labels_[sample]
        if 1 < len(np.unique(sample_labels)) < len(sample):
            with sklearn.config_context(working_memory=SILHOUETTE_MEMORY_MIB):
                score = silhouette_score(X[sample], sample_labels)
        else:
            score = np.nan
        scores.append(score)
    silhouette = pd.DataFrame({"k": ks, "silhouette": scores})
    best = ks[0] if len(ks) == 1 else int(silhouette.loc[silhouette["silhouette"].idxmax(), "k"])
    raw = fits[best].labels_

    # Renumber: most engaged persona first; size and the fit's own number break ties.
    stats = pd.DataFrame({"label": raw, "key": ordered[order_by].to_numpy(dtype=float)}).groupby("label")["key"].agg(["mean", "size"])
    ranking = stats.reset_index().sort_values(["mean", "size", "label"], ascending=[False, False, True])["label"].to_numpy()
    new_number = np.empty(best, dtype=np.int64)
    new_number[ranking] = np.arange(best)
    labels_sorted = new_number[raw]
    labels = pd.Series(np.empty(n, dtype=np.int64), index=features.index, name="persona")
    labels.iloc[order] = labels_sorted
    centers = pd.DataFrame(fits[best].cluster_centers_[ranking], columns=used, index=pd.RangeIndex(best, name="persona"))
    return Segmentation(labels=labels, k=best, silhouette=silhouette, columns=used, log_columns=logged,
                        dropped=dropped, centers=centers)


# --------------------------------------------------------------------------- RFM

# The published score map (R, F, M digits, 1-5, recency reversed so recent = 5).  It is
# the map used by the widely copied RFM analyses of the UCI Online Retail data set;
# every one of the 125 codes belongs to exactly one segment.
RFM_SEGMENTS: dict[str, tuple[str, ...]] = {
    "Champions": ("555", "554", "544", "545", "454", "455", "445"),
    "Loyal": ("543", "444", "435", "355", "354", "345", "344", "335"),
    "Potential Loyalist": ("553", "551", "552", "541", "542", "533", "532", "531", "452", "451", "442", "441",
                           "431", "453", "433", "432", "423", "353", "352", "351", "342", "341", "333", "323"),
    "New Customers": ("512", "511", "422", "421", "412", "411", "311"),
    "Promising": ("525", "524", "523", "522", "521", "515", "514", "513", "425", "424", "413", "414", "415",
                  "315", "314", "313"),
    "Need Attention": ("535", "534", "443", "434", "343", "334", "325", "324"),
    "About To Sleep": ("331", "321", "312", "221", "213", "231", "241", "251"),
    "At Risk": ("255", "254", "245", "244", "253", "252", "243", "242", "235", "234", "225", "224", "153", "152",
                "145", "143", "142", "135", "134", "133", "125", "124"),
    "Cannot Lose Them": ("155", "154", "144", "214", "215", "115", "114", "113"),
    "Hibernating Customers": ("332", "322", "233", "232", "223", "222", "132", "123", "122", "212", "211"),
    "Lost Customers": ("111", "112", "121", "131", "141", "151"),
}
TIES = ("first", "average")
UNMAPPED = "Other"


def _quantile_scores(values: pd.Series, id_order: np.ndarray, bins: int, ties: str) -> np.ndarray:
    """Score 1..bins by quantile of the rank.

    ``rank`` runs 1..n (ties: by user id with "first", mid-rank with
    "average"); the score is the ``pd.qcut(rank, bins)`` bin,
    ``max(1, ceil(bins * (rank - 1) / (n - 1)))``, computed exactly.
    """
    n = len(values)
    x = values.to_numpy(dtype=float)
    if ties == "first":
        rank = np.empty(n, dtype=np.int64)
        rank[np.lexsort((id_order, x))] = np.arange(1, n + 1)
        # Integer ceiling division: no floating-point edge at the bin boundaries.
        return np.maximum(1, -(-(bins * (rank - 1)) // (n - 1)))
    rank = pd.Series(x).rank(method="average").to_numpy()
    return np.maximum(1, np.ceil(np.round(bins * (rank - 1) / (n - 1), 9))).astype(np.int64)


def _segment_lookup(segment_map: Mapping[str, Iterable[str]], bins: int) -> dict[str, str]:
    lookup: dict[str, str] = {}
    digits = {str(d) for d in range(1, bins + 1)}
    for name, codes in segment_map.items():
        for code in codes:
            code = str(code)
            if len(code) != 3 or not set(code) <= digits:
                raise ValueError(f"segment {name!r}: code {code!r} is not three digits R, F, M between 1 and {bins}")
            if code in lookup:
                raise ValueError(f"code {code!r} is in two segments ({lookup[code]!r} and {name!r}); give each code one segment")
            lookup[code] = name
    return lookup


def rfm(
    features: pd.DataFrame,
    bins: int = 5,
    *,
    recency: str = "recency_days",
    frequency: str = "orders",
    monetary: str = "revenue",
    ties: str = "first",
    segment_map: Mapping[str, Iterable[str]] | None = None,
) -> pd.DataFrame:
    """Recency, frequency and monetary quintile scores and named segments.

    Each of R, F, M is scored 1..``bins`` by quantile of its rank, the method
    of ``pd.qcut(values.rank(method="first"), bins, labels=False) + 1``:
    with ``rank`` in 1..n, ``score = max(1, ceil(bins * (rank - 1) / (n - 1)))``.
    Recency is reversed (``bins + 1 - score``) so the most recent users score
    highest.  Ties: with ``ties="first"`` (default, the published method) equal
    values are ranked in order of ``user_id`` (sorted), so every score band
    has its share of users even when many values are equal; with
    ``ties="average"`` equal values share their mid-rank and therefore the
    same score (all-equal values all score the middle band).  With fewer users
    than bins the scores spread over the whole scale (2 users score 1 and
    ``bins``).

    The segment is looked up from the code ``f"{R}{F}{M}"`` in ``segment_map``
    (default :data:`RFM_SEGMENTS`, defined for ``bins=5``); codes missing from
    a custom map get the segment ``"Other"``; an empty map gives no segment
    column.

    Parameters
    ----------
    features : DataFrame
        Indexed by ``user_id``, e.g. from :func:`user_features`.
    bins : int, default 5
        Number of score bands (2..9).
    recency, frequency, monetary : str
        Columns to score.  Frequency defaults to ``orders`` (distinct orders);
        use ``active_days`` or ``sessions`` for an engagement RFM.
    ties : {"first", "average"}
    segment_map : mapping of segment name to codes, optional

    Returns
    -------
    DataFrame indexed by ``user_id``: ``recency, frequency, monetary, R, F, M,
    rfm_code, rfm_score`` (R + F + M) and ``segment`` (ordered categorical in
    map order).

    Examples
    --------
    >>> f = pd.DataFrame({"recency_days": [1, 30, 200, 5, 90], "orders": [9, 3, 1, 6, 1],
    ...                   "revenue": [900.0, 120.0, 10.0, 300.0, 40.0]},
    ...                  index=pd.Index(["a", "b", "c", "d", "e"], name="user_id"))
    >>> r = rfm(f)   # c and e tie on orders: c, first by id, ranks lower
    >>> r["rfm_code"].tolist()
    ['555', '333', '111', '444', '222']
    >>> r["segment"].tolist()
    ['Champions', 'Potential Loyalist', 'Lost Customers', 'Loyal', 'Hibernating Customers']
    """
    if ties not in TIES:
        raise ValueError(f"ties={ties!r} is not supported; choose one of {', '.join(TIES)}")
    if not isinstance(bins, (int, np.integer)) or not 2 <= bins <= 9:
        raise ValueError(f"bins={bins!r} must be an integer from 2 to 9 (5 gives quintiles)")
    for role, col in (("recency", recency), ("frequency", frequency), ("monetary", monetary)):
        if col not in features.columns:
            hint = " (the events have no revenue: pass monetary='orders' or load a revenue column)" if role == "monetary" else ""
            raise ValueError(f"{role} column {col!r} is not in the features{hint}; available: {list(features.columns)}")
        if features[col].isna().any():
            raise ValueError(f"{role} column {col!r} has {int(features[col].isna().sum())} missing value(s); fill them first")
    if len(features) < 2:
        raise ValueError(f"RFM scores rank users against each other and need at least 2 users (got {len(features)})")
    if segment_map is None and bins != 5:
        raise ValueError(f"the default segment map is defined for bins=5; with bins={bins} pass your own "
                         "segment_map={name: [codes]} or segment_map={} for scores only")
    lookup = _segment_lookup(RFM_SEGMENTS if segment_map is None else segment_map, bins)
    id_order = np.empty(len(features), dtype=np.int64)
    id_order[np.argsort(np.asarray(features.index), kind="stable")] = np.arange(len(features))
    out = pd.DataFrame({"recency": features[recency], "frequency": features[frequency], "monetary": features[monetary]},
                       index=features.index)
    out["R"] = bins + 1 - _quantile_scores(out["recency"], id_order, bins, ties)
    out["F"] = _quantile_scores(out["frequency"], id_order, bins, ties)
    out["M"] = _quantile_scores(out["monetary"], id_order, bins, ties)
    out["rfm_code"] = out["R"].astype(str) + out["F"].astype(str) + out["M"].astype(str)
    out["rfm_score"] = out["R"] + out["F"] + out["M"]
    if lookup:
        names = list(dict.fromkeys(lookup.values()))
        segment = out["rfm_code"].map(lookup)
        if segment.isna().any():
            names.append(UNMAPPED)
            segment = segment.fillna(UNMAPPED)
        out["segment"] = pd.Categorical(segment, categories=names, ordered=True)
    return out


def rfm_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Per RFM segment: users, share of users, share of monetary value, median R/F/M values.

    Examples
    --------
    >>> f = pd.DataFrame({"recency_days": [1, 30, 200, 5], "orders": [9, 3, 1, 6], "revenue": [900.0, 120, 10, 300]},
    ...                  index=pd.Index(list("abcd"), name="user_id"))
    >>> rfm_summary(rfm(f)).loc["Champions", ["users", "user_share", "monetary_share"]].tolist()
    [1.0, 0.25, 0.6766917293233082]
    """
    if "segment" not in scores.columns:
        raise ValueError("the RFM scores have no 'segment' column; compute them with a segment_map")
    g = scores.groupby("segment", observed=False)
    out = pd.DataFrame({
        "users": g.size(),
        "recency_median": g["recency"].median(),
        "frequency_median": g["frequency"].median(),
        "monetary_median": g["monetary"].median(),
        "monetary_total": g["monetary"].sum(),
    })
    out.insert(1, "user_share", out["users"] / len(scores))
    total = scores["monetary"].sum()
    out.insert(2, "monetary_share", out["monetary_total"] / total if total else np.nan)
    return out


# --------------------------------------------------------------------------- descriptions

# How each known feature reads in words: (label, wording when higher, wording when lower).
FEATURE_WORDS: dict[str, tuple[str, str, str]] = {
    "recency_days": ("days since last visit", "were last seen longer ago", "were seen more recently"),
    "tenure_days": ("days since first visit", "joined earlier", "joined more recently"),
    "active_days": ("active days", "are active on more days", "are active on fewer days"),
    "active_day_share": ("share of days active", "visit on more of their days", "visit on fewer of their days"),
    "events": ("events", "generate more events", "generate fewer events"),
    "sessions": ("sessions", "have more sessions", "have fewer sessions"),
    "mean_session_s": ("session length", "have longer sessions", "have shorter sessions"),
    "events_per_session": ("events per session", "do more per session", "do less per session"),
    "bounce_rate": ("bounce rate", "bounce more often", "bounce less often"),
    "orders": ("orders", "place more orders", "place fewer orders"),
    "revenue": ("revenue", "spend more", "spend less"),
    "aov": ("average order value", "buy bigger baskets", "buy smaller baskets"),
    "converted": ("buyers", "are more likely to buy", "are less likely to buy"),
    "channels_reached": ("channels reached", "are reached on more channels", "are reached on fewer channels"),
}
# Thresholds in standard deviations for the generated names.
_HIGH, _SOME = 0.8, 0.3


def _words(feature: str) -> tuple[str, str, str]:
    readable = feature.replace("_", " ")
    return FEATURE_WORDS.get(feature, (readable, f"have more {readable}", f"have fewer {readable}"))


def _numeric_columns(features: pd.DataFrame, columns: Iterable[str] | None) -> list[str]:
    if columns is not None:
        missing = [c for c in columns if c not in features.columns]
        if missing:
            raise ValueError(f"feature(s) {missing} are not columns of the features; available: {list(features.columns)}")
        return list(columns)
    return [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c]) or pd.api.types.is_bool_dtype(features[c])]


def _aligned_labels(features: pd.DataFrame, labels: pd.Series) -> np.ndarray:
    aligned = pd.Series(labels).reindex(features.index)
    if aligned.isna().any():
        raise ValueError(f"{int(aligned.isna().sum())} user(s) in the features have no persona label; "
                         "pass the labels of segment_users(features)")
    return aligned.to_numpy()


def feature_zscores(features: pd.DataFrame, labels: pd.Series, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Standardized difference of each persona from everyone else, per feature.

    ``d = (mean_in − mean_out) / sd_all`` on the feature scale used for
    clustering (``log1p`` for skewed non-negative features), so one heavy user
    does not make a persona look different.  Missing values (e.g. ``aov`` of
    non-buyers) are left out of that feature's means; constant features get 0.

    Returns
    -------
    DataFrame: persona × feature.

    Examples
    --------
    >>> f = pd.DataFrame({"events": [1, 2, 10, 11]}, index=pd.Index(list("abcd"), name="user_id"))
    >>> feature_zscores(f, pd.Series([1, 1, 0, 0], index=f.index)).round(2)["events"].tolist()
    [1.99, -1.99]
    """
    cols = _numeric_columns(features, columns)
    lab = _aligned_labels(features, labels)
    X = features[cols].astype(float)
    skewed = (X.min() >= 0) & (X.skew().fillna(0) > 1)
    X.loc[:, skewed] = np.log1p(X.loc[:, skewed])
    sd = X.std(ddof=0).replace(0, np.nan)
    sums = X.groupby(lab).sum(min_count=1)
    counts = X.notna().groupby(lab).sum()
    mean_in = sums / counts
    mean_out = (X.sum() - sums) / (X.notna().sum() - counts)
    out = ((mean_in - mean_out) / sd).fillna(0.0)
    out.index.name = "persona"
    return out


def _persona_name(z: pd.Series, medians: pd.Series, share_buyers: float, taken: set[str]) -> str:
    """Short name from the persona's standing on activity, spending and browsing."""
    activity = next((c for c in ("active_day_share", "active_days", "events") if c in z.index), None)
    act = z.get(activity, 0.0)
    if medians.get("active_days", np.inf) <= 1:
        adjective = "One-and-done"
    elif act >= _HIGH:
        adjective = "Loyal"
    elif act >= _SOME:
        adjective = "Regular"
    else:
        adjective = "Occasional"
    if share_buyers >= 0.5:
        if z.get("revenue", 0.0) >= _HIGH and z.get("aov", 0.0) >= -_SOME:
            noun = "big spenders"
        elif z.get("aov", 0.0) <= -_SOME:
            noun = "small-basket buyers"
        else:
            noun = "buyers"
    elif z.get("bounce_rate", 0.0) >= _SOME or z.get("mean_session_s", 0.0) <= -_SOME:
        noun = "visitors" if adjective == "One-and-done" else "browsers"
    else:
        noun = "window shoppers"
    name = f"{adjective} {noun}"
    if name in taken:
        top = z.drop([c for c in (activity, "revenue", "aov", "converted") if c in z.index]).abs().idxmax()
        name = f"{name}, {_words(top)[0]} {'high' if z[top] > 0 else 'low'}"
    return name


def _fmt(value: float, money: bool = False) -> str:
    if money:
        return f"{value:,.2f}"
    return f"{value:,.0f}" if abs(value) >= 10 or float(value).is_integer() else f"{value:,.1f}"


def _description(name: str, size: int, share: float, medians: pd.Series, means: pd.Series,
                 traits: list[tuple[str, float]]) -> str:
    """One paragraph from the persona's numbers; sentences only for the features present."""
    parts = [f"{name}: {share:.0%} of users ({size:,})."]
    if "active_days" in medians.index:
        days = medians["active_days"]
        if days <= 1:
            parts.append("The typical member was active on a single day only and did not come back.")
        else:
            parts.append(f"The typical member was active on {_fmt(days)} days")
            if "recency_days" in medians.index:
                parts[-1] += f" and was last seen {_fmt(medians['recency_days'])} days before the end of the data"
            parts[-1] += "."
    if "mean_session_s" in medians.index:
        session = f"Sessions last about {medians['mean_session_s'] / 60:.1f} minutes"
        if "events_per_session" in medians.index:
            session += f" with {_fmt(medians['events_per_session'])} events each"
        if "bounce_rate" in means.index:
            session += f"; {means['bounce_rate']:.0%} of their sessions bounce"
        parts.append(session + ".")
    if "converted" in means.index:
        buying = f"{means['converted']:.0%} of them bought at least once"
        if "orders" in means.index:
            buying += f" ({means['orders']:.1f} orders per person on average"
            if "revenue" in means.index:
                buying += f", {means['revenue']:,.2f} revenue per person"
            if "aov" in medians.index and pd.notna(medians["aov"]):
                buying += f", median basket {medians['aov']:,.2f}"
            buying += ")"
        parts.append(buying + ".")
    if traits:
        said = [f"{_words(f)[1 if d > 0 else 2]} ({d:+.1f} SD)" for f, d in traits]
        parts.append("Compared with everyone else they " + ", ".join(said[:-1]) + (" and " if len(said) > 1 else "") + said[-1] + ".")
    return " ".join(parts)


def describe_personas(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    columns: Iterable[str] | None = None,
    top: int = 3,
) -> pd.DataFrame:
    """A persona card per label: size, share, medians, distinguishing traits, name and description.

    What sets a persona apart are its ``top`` features with the largest
    absolute standardized difference from everyone else
    (:func:`feature_zscores`, at least 0.3 SD).  The name combines an
    activity word (One-and-done: median of one active day; Loyal / Regular /
    Occasional: activity at least 0.8 / 0.3 SD above the others, or less) with
    a buying word (big spenders, small-basket buyers, buyers — when at least
    half of them bought — or browsers / visitors / window shoppers); the
    description is assembled from the persona's own numbers.  Nothing is
    written per cluster by hand, so new data get new words.

    Parameters
    ----------
    features : DataFrame
        From :func:`user_features` (index ``user_id``).
    labels : Series
        Persona per user, e.g. ``segment_users(features).labels``.
    columns : iterable of str, optional
        Features to profile (default: all numeric / boolean ones).
    top : int
        Traits listed per persona.

    Returns
    -------
    DataFrame indexed by ``persona``: ``name, users, share, traits,
    description`` and ``median_<feature>`` per feature (``converted`` as a
    share, ``mean_converted``).

    Examples
    --------
    >>> f = pd.DataFrame({"active_days": [1, 1, 1, 20, 25, 30], "revenue": [0, 0, 0, 200.0, 300, 250],
    ...                   "converted": [False, False, False, True, True, True]},
    ...                  index=pd.Index(list("abcdef"), name="user_id"))
    >>> cards = describe_personas(f, pd.Series([1, 1, 1, 0, 0, 0], index=f.index))
    >>> cards["name"].tolist()
    ['Loyal big spenders', 'One-and-done window shoppers']
    """
    cols = _numeric_columns(features, columns)
    lab = _aligned_labels(features, labels)
    z = feature_zscores(features, labels, cols)
    numeric = features[cols].astype(float)
    medians = numeric.groupby(lab).median()
    means = numeric.groupby(lab).mean()
    sizes = pd.Series(lab).value_counts().reindex(z.index)
    rows, taken = [], set()
    for persona in z.index:  # a handful of personas, not users
        zp = z.loc[persona]
        strongest = zp.abs().sort_values(ascending=False, kind="stable")
        traits = [(f, float(zp[f])) for f in strongest.index[:top] if strongest[f] >= _SOME]
        buyers = float(means.loc[persona, "converted"]) if "converted" in means.columns else 0.0
        name = _persona_name(zp, medians.loc[persona], buyers, taken)
        taken.add(name)
        size = int(sizes[persona])
        rows.append({"persona": persona, "name": name, "users": size, "share": size / len(lab),
                     "traits": ", ".join(f"{_words(f)[1 if d > 0 else 2]} ({d:+.1f} SD)" for f, d in traits),
                     "description": _description(name, size, size / len(lab), medians.loc[persona], means.loc[persona], traits)})
    cards = pd.DataFrame(rows).set_index("persona")
    cards = cards.join(medians.add_prefix("median_"))
    if "converted" in means.columns:
        cards = cards.drop(columns="median_converted").join(means[["converted"]].add_prefix("mean_"))
    return cards


# --------------------------------------------------------------------------- outcomes


@dataclass
class PersonaOutcomes:
    """Result of :func:`persona_outcomes` (tidy frames, one row per persona [× period | × channel]).

    Attributes
    ----------
    summary : DataFrame
        ``persona, users, converted, conversion_rate, conversion_ci_low/high,
        revenue_per_user, revenue_ci_low/high``.
    retention : DataFrame
        Pooled day-k retention per persona (``segment`` = persona name, ``period``,
        ``eligible``, ``retained``, ``rate``, ``ci_low``, ``ci_high``) from
        :func:`engagement_utils.retention.retention_curve`.
    channels : DataFrame or None
        ``persona, channel, users, channel_share, converted, conversion_rate,
        ci_low, ci_high, index`` (conversion rate / the persona's overall rate),
        None when no channel column is available.
    """

    summary: pd.DataFrame
    retention: pd.DataFrame
    channels: pd.DataFrame | None = None


def _persona_names(labels: pd.Series, names: Mapping | pd.Series | None) -> pd.Series:
    if names is None:
        return labels.map(lambda p: f"Persona {p}").astype("category")
    mapped = labels.map(dict(names))
    if mapped.isna().any():
        raise ValueError(f"names has no entry for persona(s) {sorted(set(labels[mapped.isna()]))}")
    return mapped.astype("category")


def persona_outcomes(
    events: pd.DataFrame,
    labels: pd.Series,
    *,
    names: Mapping | pd.Series | None = None,
    conversion_events: Iterable[str] = CONVERSION_EVENTS,
    max_days: int = 30,
    users: pd.DataFrame | None = None,
    channel: str = "acquisition_channel",
    tz: str = "UTC",
    confidence: float = 0.95,
) -> PersonaOutcomes:
    """Retention, conversion, revenue per user and channel response per persona, with CIs.

    * Conversion rate = persona users with a conversion event / persona users;
      Wilson interval (DESIGN §5).
    * Revenue per user = mean of each user's total revenue (0 for non-buyers);
      t interval ``mean ± t(n-1) · sd / √n``.
    * Retention: classic calendar-day retention from each user's first event
      (:func:`engagement_utils.retention.retention_matrix` with the persona as
      segment, censored cohorts left out, pooled by
      :func:`~engagement_utils.retention.retention_curve`).
    * Channels: the channel column of ``users`` (e.g. acquisition channel), or
      of the events (each user's first value) when no user table is given.
      Per persona × channel: users, the channel's share of the persona,
      conversion rate with Wilson CI, and ``index`` = that rate / the
      persona's overall rate (above 1: the persona responds better to this channel).

    Parameters
    ----------
    events : DataFrame
        Canonical events (the same users as ``labels``; others are ignored).
    labels : Series
        Persona per ``user_id`` (e.g. ``segment_users(...).labels``).
    names : mapping or Series, optional
        Persona → display name (e.g. ``describe_personas(...)["name"]``).
    max_days : int
        Last retention day.
    users : DataFrame, optional
        User table holding ``channel``.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "c"], "event": ["open", "purchase", "open", "open"],
    ...     "revenue": [None, 10.0, None, None],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-03"], utc=True)})
    >>> out = persona_outcomes(ev, pd.Series({"a": 0, "b": 1, "c": 1}), max_days=1)
    >>> out.summary[["persona", "users", "converted", "revenue_per_user"]].values.tolist()
    [['Persona 0', 1, 1, 10.0], ['Persona 1', 2, 0, 0.0]]
    """
    from scipy import stats as sps

    from . import retention
    from .stats import wilson_ci

    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r} must be between 0 and 1, e.g. 0.95")
    labels = pd.Series(labels)
    persona = _persona_names(labels, names)
    codes, ids = _user_codes(events)
    position = pd.Index(labels.index).get_indexer(ids)
    event_persona_pos = np.where(codes >= 0, position[codes], -1)
    keep = event_persona_pos >= 0
    if not keep.any():
        raise ValueError("no event belongs to a labelled user; pass labels indexed by the events' user_id")
    ev = events.loc[keep].copy(deep=False)
    ev["persona"] = persona.to_numpy()[event_persona_pos[keep]]

    n = len(labels)
    lab_codes = position[codes[keep]]
    is_conv = ev["event"].isin(list(conversion_events)).to_numpy()
    converted = np.bincount(lab_codes[is_conv], minlength=n) > 0
    revenue = (np.bincount(lab_codes, weights=np.nan_to_num(ev["revenue"].to_numpy(dtype=float)), minlength=n)
               if "revenue" in ev.columns else np.full(n, np.nan))
    per_user = pd.DataFrame({"persona": persona.to_numpy(), "converted": converted, "revenue": revenue})
    g = per_user.groupby("persona", observed=True, sort=False)
    summary = g.agg(users=("converted", "size"), converted=("converted", "sum"),
                    revenue_per_user=("revenue", "mean"), revenue_sd=("revenue", "std")).reset_index()
    order = pd.Series(labels.to_numpy()).groupby(persona.to_numpy(), observed=True).first()
    summary = summary.assign(_o=summary["persona"].map(order)).sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)
    summary["conversion_rate"] = summary["converted"] / summary["users"]
    summary["conversion_ci_low"], summary["conversion_ci_high"] = wilson_ci(summary["converted"], summary["users"], 1 - confidence)
    t = sps.t.ppf(0.5 + confidence / 2, np.maximum(summary["users"] - 1, 1))
    half = t * summary["revenue_sd"] / np.sqrt(summary["users"])
    summary["revenue_ci_low"] = summary["revenue_per_user"] - half
    summary["revenue_ci_high"] = summary["revenue_per_user"] + half
    summary = summary.drop(columns="revenue_sd")
    summary["persona"] = summary["persona"].astype(str)

    matrix = retention.retention_matrix(ev, "day", segment="persona", max_periods=max_days, tz=tz, alpha=1 - confidence)
    curve = retention.retention_curve(matrix, alpha=1 - confidence)

    channels = None
    channel_values = None
    if users is not None:
        if channel not in users.columns or "user_id" not in users.columns:
            raise ValueError(f"users have no {channel!r} (or 'user_id') column; pass channel=<a column of users>")
        channel_values = pd.Series(users[channel].to_numpy(), index=users["user_id"].to_numpy()).reindex(labels.index)
    elif channel in ev.columns:
        first_row = np.unique(lab_codes, return_index=True)[1]
        channel_values = pd.Series(np.asarray(ev[channel].to_numpy(), dtype=object)[first_row],
                                   index=labels.index[lab_codes[first_row]]).reindex(labels.index)
    if channel_values is not None:
        per_user["channel"] = pd.Series(channel_values.to_numpy(), dtype=object).fillna("(missing)").astype(str).to_numpy()
        c = per_user.groupby(["persona", "channel"], observed=True).agg(users=("converted", "size"), converted=("converted", "sum")).reset_index()
        c["persona"] = c["persona"].astype(str)
        base = summary.set_index("persona")
        c["channel_share"] = c["users"] / c["persona"].map(base["users"])
        c["conversion_rate"] = c["converted"] / c["users"]
        c["ci_low"], c["ci_high"] = wilson_ci(c["converted"], c["users"], 1 - confidence)
        overall = c["persona"].map(base["conversion_rate"])
        c["index"] = c["conversion_rate"] / overall.where(overall > 0)
        rank = c["persona"].map({p: i for i, p in enumerate(summary["persona"])})
        channels = c.assign(_r=rank).sort_values(["_r", "channel"], kind="stable").drop(columns="_r").reset_index(drop=True)
        channels = channels[["persona", "channel", "users", "channel_share", "converted", "conversion_rate", "ci_low", "ci_high", "index"]]
    return PersonaOutcomes(summary=summary, retention=curve, channels=channels)


# --------------------------------------------------------------------------- projection and export


def project_personas(features: pd.DataFrame, segmentation: Segmentation, *, sample_size: int = 5000,
                     random_state: int = 0) -> pd.DataFrame:
    """2-D PCA projection of the clustering features, for a scatter plot coloured by persona.

    The features are transformed exactly as in :func:`segment_users`; at most
    ``sample_size`` users (a seeded sample) are returned.  No user ids:
    columns ``pc1, pc2, persona``; ``attrs["explained_variance"]`` holds the
    share of variance of each axis.

    Examples
    --------
    >>> f = pd.DataFrame({"events": [1, 2, 1, 50, 52, 51], "minutes": [1.0, 1.2, 0.9, 30, 29, 31]},
    ...                  index=pd.Index(list("abcdef"), name="user_id"))
    >>> p = project_personas(f, segment_users(f, k=2))
    >>> list(p.columns), len(p)
    (['pc1', 'pc2', 'persona'], 6)
    """
    from sklearn.decomposition import PCA

    order = np.argsort(np.asarray(features.index), kind="stable")
    ordered = features.iloc[order]
    X, _, _, _ = _clustering_matrix(ordered, segmentation.columns)
    n = len(ordered)
    rng = np.random.default_rng(random_state)
    sample = np.sort(rng.choice(n, size=sample_size, replace=False)) if n > sample_size else np.arange(n)
    n_components = min(2, X.shape[1])
    pca = PCA(n_components=n_components, random_state=random_state).fit(X)
    coords = pca.transform(X[sample])
    out = pd.DataFrame({"pc1": coords[:, 0], "pc2": coords[:, 1] if n_components > 1 else 0.0,
                        "persona": segmentation.labels.reindex(ordered.index).to_numpy()[sample]})
    out.attrs["explained_variance"] = pca.explained_variance_ratio_.tolist()
    return out


def export_personas(labels: pd.Series, path: str | os.PathLike, *, names: Mapping | pd.Series | None = None,
                    rfm_scores: pd.DataFrame | None = None) -> Path:
    """Write user → persona assignments for activation in a marketing tool.

    Columns: ``user_id, persona, persona_name`` (+ ``rfm_segment``,
    ``rfm_code`` when ``rfm_scores`` are given).  The format follows the
    suffix: ``.csv`` / ``.csv.gz`` or ``.parquet``.  The file holds user ids:
    keep it out of shared reports.

    Examples
    --------
    >>> import tempfile, os
    >>> path = export_personas(pd.Series({"a": 0, "b": 1}), os.path.join(tempfile.mkdtemp(), "personas.csv"))
    >>> pd.read_csv(path).columns.tolist()
    ['user_id', 'persona', 'persona_name']
    """
    path = Path(path)
    name = path.name.lower()
    if not name.endswith((".csv", ".csv.gz", ".parquet")):
        raise ValueError(f"cannot export to {path.name!r}: use a .csv, .csv.gz or .parquet file name")
    labels = pd.Series(labels)
    out = pd.DataFrame({"user_id": np.asarray(labels.index), "persona": labels.to_numpy(),
                        "persona_name": _persona_names(labels, names).astype(str).to_numpy()})
    if rfm_scores is not None:
        scores = rfm_scores.reindex(labels.index)
        for col, new in (("segment", "rfm_segment"), ("rfm_code", "rfm_code")):
            if col in scores.columns:
                out[new] = scores[col].astype(object).to_numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    if name.endswith(".parquet"):
        out.to_parquet(path, index=False)
    else:
        out.to_csv(path, index=False)
    return path
