"""Behavioural clusters: k-means on log/scaled user features, k by silhouette, and their 2-D projection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

from .features import UserFeatures, feature_table

__all__ = ["DEFAULT_SAMPLE", "FIT_USERS", "SILHOUETTE_MEMORY_MIB", "NOT_BEHAVIOUR", "Segmentation", "segment_users", "nearest_center",
           "Projection", "project_personas", "silhouette_scores"]

NOT_BEHAVIOUR = ("tenure_days",)
"""Tenure says when a user arrived rather than how they behave: left out of clustering by
default so personas do not split by signup date."""
DEFAULT_SAMPLE = 10_000
FIT_USERS = 200_000
"""Users k-means is fitted on in the reports (``segment_users(fit_users=FIT_USERS)``); more are assigned to the nearest centre."""
# Silhouettes are summed over row blocks of the sample's distance matrix; 256 MiB holds
# the demo's 5,000 users in one block (the 10,000-user default sample would take 763 MiB).
SILHOUETTE_MEMORY_MIB = 256
MISSING_FEATURE = "not among the features of this data"
AUTO_RANGE = range(2, 9)


@dataclass(frozen=True)
class Segmentation:
    """Result of :func:`segment_users`.

    Attributes
    ----------
    labels : Series
        Persona number per user (``user_id`` index, name ``persona``); 0 is the
        most engaged persona (highest mean of ``order_by``), then descending.
    k : int
        Number of personas used.
    k_best : int
        The k of highest silhouette among those tried (equals ``k`` when k was "auto").
    silhouette : DataFrame
        ``k, silhouette`` for every k tried.
    columns : list of str
        Features used.
    log_columns : list of str
        Features that were log1p-transformed (skewness above 1).
    dropped : dict
        Features left out, with the reason (constant, missing values, not in the data).
    centers : DataFrame
        Cluster centres in the transformed, standardized space (persona × feature).
    chosen_by_silhouette : bool
        True when k was "auto".
    k_asked : int or None
        The k asked for when ``fit_k=True`` lowered it to the number of distinct feature rows.
    """

    labels: pd.Series
    k: int
    silhouette: pd.DataFrame
    columns: list[str]
    log_columns: list[str]
    dropped: dict[str, str] = field(default_factory=dict)
    centers: pd.DataFrame | None = None
    k_best: int | None = None
    chosen_by_silhouette: bool = True
    k_asked: int | None = None

    @property
    def text(self) -> str:
        """One sentence comparing the silhouette of the chosen k with the best one."""
        from .describe import silhouette_text

        return silhouette_text(self)


def _is_feature(table: pd.DataFrame, column: str) -> bool:
    return pd.api.types.is_numeric_dtype(table[column]) or pd.api.types.is_bool_dtype(table[column])


def _clustering_matrix(table: pd.DataFrame, columns: Iterable[str] | None, skip_missing: bool = False):
    """Choose, log-transform and standardize the clustering features.

    Returns the matrix, the columns used, the log-transformed ones and the dropped ones.
    """
    dropped: dict[str, str] = {}
    if columns is None:
        candidates = [c for c in table.columns if c not in NOT_BEHAVIOUR and _is_feature(table, c)]
        for c in [c for c in candidates if table[c].isna().any()]:
            dropped[c] = "has missing values (e.g. average order value of users without orders)"
        candidates = [c for c in candidates if c not in dropped]
    else:
        candidates = []
        for c in columns:
            if c not in table.columns:
                if skip_missing:
                    dropped[c] = MISSING_FEATURE
                    continue
                raise ValueError(f"feature {c!r} is not a column of the features; available: {list(table.columns)}")
            if not _is_feature(table, c):
                raise ValueError(f"feature {c!r} is not numeric; cluster on numeric features or encode it first")
            if table[c].isna().any():
                raise ValueError(f"feature {c!r} has {int(table[c].isna().sum())} missing value(s); fill them or leave it out")
            candidates.append(c)
    X = table[candidates].to_numpy(dtype=float, copy=True)  # transformed in place below
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


def _candidate_ks(k, k_range, n: int, n_distinct: int) -> list[int]:
    fits = min(n - 1, n_distinct)
    if k == "auto":
        asked = list(AUTO_RANGE if k_range is None else k_range)
        ks = sorted({int(v) for v in asked if 2 <= int(v) <= fits})
        if not ks:
            raise ValueError(f"no k in k_range={asked} fits {n} users with {n_distinct} distinct feature rows; "
                             f"use k between 2 and {fits}")
        return ks
    if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
        if not 1 <= k <= n_distinct:
            raise ValueError(f"The 'k' parameter must be between 1 and the number of distinct feature rows ({n_distinct}); got {k}")
        return sorted({int(k)} | {int(v) for v in (k_range or ()) if 2 <= int(v) <= fits})
    raise ValueError(f"The 'k' parameter must be 'auto' or a whole number such as 4; got k={k!r}")


def segment_users(
    features: UserFeatures | pd.DataFrame,
    k: int | str = "auto",
    k_range: Iterable[int] | None = None,
    *,
    columns: Iterable[str] | None = None,
    skip_missing: bool = False,
    fit_k: bool = False,
    random_state: int = 0,
    sample_size: int = DEFAULT_SAMPLE,
    n_init: int = 4,
    order_by: str = "events",
    fit_users: int | None = None,
) -> Segmentation:
    """Cluster users into behavioural personas with k-means.

    Steps: take the numeric behaviour features (default: every numeric or
    boolean column without missing values except ``tenure_days``, which says
    when a user arrived, not how they behave); ``log1p`` the non-negative ones
    with skewness above 1; drop constant ones; standardize to z-scores; run
    k-means (scikit-learn, k-means++ with ``n_init`` starts) for each k; with
    ``k="auto"`` keep the k with the highest mean silhouette (Rousseeuw 1987)
    — on a random sample of ``sample_size`` users for large data — the smaller k on ties.

    A given k is fitted as is; when ``k_range`` is given too, every k of the
    range is fitted and scored so that ``k_best`` says which k the silhouette
    prefers (one call instead of two for a report that shows both).

    Scale and determinism: every k is fitted on all users, so labels never
    depend on a sample.  Silhouettes are accumulated over blocks of rows of at
    most ``SILHOUETTE_MEMORY_MIB`` (scikit-learn's ``working_memory``).  The
    sample is drawn with ``numpy.random.default_rng(random_state)`` and k-means
    is seeded with ``random_state``.  Rows are sorted by ``user_id`` before
    fitting and clusters are renumbered by descending mean of ``order_by``
    (then size), so the same features give the same personas whatever their row order.

    Parameters
    ----------
    features : UserFeatures or DataFrame
        From :func:`user_features` (index ``user_id``).
    k : int or "auto"
        Number of personas, or "auto" to choose it by silhouette over ``k_range``.
    k_range : iterable of int, optional
        Candidate k (default 2..8 for "auto"); values outside ``2 .. n_users - 1`` are skipped.
    columns : iterable of str, optional
        Features to cluster on.
    skip_missing : bool
        Record requested ``columns`` the features lack in ``dropped`` instead of raising.
    fit_k : bool, default False
        Lower a whole-number ``k`` larger than the number of distinct feature rows to that
        number (recorded as ``k_asked``) instead of raising: a report on very few users.
    random_state : int
        Seed of k-means and of the silhouette sample.
    sample_size : int
        Users used to compute silhouettes (all when fewer).
    n_init : int
        k-means restarts per k.
    order_by : str
        Feature whose persona means order the labels (default ``events``).
    fit_users : int, optional
        Fit k-means on a seeded sample of this many users when there are more (drawn with
        ``numpy.random.default_rng(random_state)`` after the silhouette sample) and give every
        user the nearest centre, in chunks (:func:`nearest_center`): millions of users from an
        engine.  None (default), or no more users than this: every k is fitted on all users.

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

    table = feature_table(features)
    if order_by not in table.columns:
        raise ValueError(f"order_by={order_by!r} is not a column of the features; available: {list(table.columns)}")
    n = len(table)
    if n < 3:
        raise ValueError(f"segmentation needs at least 3 users (got {n}); personas of fewer users are not meaningful")
    if sample_size < 2:
        raise ValueError(f"The 'sample_size' parameter must be at least 2; got {sample_size}")
    order = np.argsort(np.asarray(table.index), kind="stable")
    ordered = table.iloc[order]
    X, used, logged, dropped = _clustering_matrix(ordered, columns, skip_missing)
    # Hashing the rows is ~6x faster than np.unique(axis=0)'s sort at 1M users; same count.
    n_distinct = n - int(pd.DataFrame(X).duplicated().sum())
    k_asked = k if fit_k and isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k > n_distinct else None
    if k_asked is not None:
        k = n_distinct
    ks = _candidate_ks(k, k_range, n, n_distinct)
    rng = np.random.default_rng(random_state)
    sample = np.sort(rng.choice(n, size=sample_size, replace=False)) if n > sample_size else np.arange(n)
    if fit_users is not None and fit_users < 2:
        raise ValueError(f"The 'fit_users' parameter must be at least 2 (or None); got {fit_users}")
    fit_rows = np.sort(rng.choice(n, size=fit_users, replace=False)) if fit_users is not None and n > fit_users else None

    fits = {}
    for kk in ks:
        model = KMeans(n_clusters=kk, n_init=n_init, random_state=random_state).fit(X if fit_rows is None else X[fit_rows])
        all_labels = model.labels_ if fit_rows is None else nearest_center(X, model.cluster_centers_)
        fits[kk] = (model, all_labels)
    # Every k is scored on the same sample: its distances are computed once for all of them.
    scorable = [kk for kk in ks if 1 < len(np.unique(fits[kk][1][sample])) < len(sample)]
    with sklearn.config_context(working_memory=SILHOUETTE_MEMORY_MIB):
        scored_ks = dict(zip(scorable, silhouette_scores(X[sample], [fits[kk][1][sample] for kk in scorable])))
    scores = [scored_ks.get(kk, np.nan) for kk in ks]
    silhouette = pd.DataFrame({"k": ks, "silhouette": scores})
    scored = silhouette.dropna()
    k_best = int(scored.loc[scored["silhouette"].idxmax(), "k"]) if len(scored) else ks[0]
    best = k_best if k == "auto" else int(k)
    raw = fits[best][1]

    # Renumber: most engaged persona first; size and the fit's own number break ties.
    stats = pd.DataFrame({"label": raw, "key": ordered[order_by].to_numpy(dtype=float)}).groupby("label")["key"].agg(["mean", "size"])
    ranking = stats.reset_index().sort_values(["mean", "size", "label"], ascending=[False, False, True])["label"].to_numpy()
    new_number = np.empty(best, dtype=np.int64)
    new_number[ranking] = np.arange(best)
    labels = pd.Series(np.empty(n, dtype=np.int64), index=table.index, name="persona")
    labels.iloc[order] = new_number[raw]
    centers = pd.DataFrame(fits[best][0].cluster_centers_[ranking], columns=used, index=pd.RangeIndex(best, name="persona"))
    return Segmentation(labels=labels, k=best, silhouette=silhouette, columns=used, log_columns=logged,
                        dropped=dropped, centers=centers, k_best=k_best, chosen_by_silhouette=k == "auto",
                        k_asked=k_asked)


def silhouette_scores(X: np.ndarray, label_sets: list[np.ndarray], *, block_rows: int = 256) -> list[float]:
    """``sklearn.metrics.silhouette_score(X, labels)`` for several labelings of the same rows, equal to the last bit.

    scikit-learn computes the distance matrix once per call; here each chunk of it
    (``pairwise_distances_chunked``, the chunks ``silhouette_score`` uses under the current
    ``working_memory``) serves every labeling.  Per row and cluster the distances are summed
    in column order, as scikit-learn's per-row ``bincount`` does, then ``a`` (mean distance to
    the row's own cluster), ``b`` (smallest mean distance to another cluster) and the mean of
    ``(b - a) / max(a, b)`` (0 for a row alone in its cluster).  Each labeling needs 2 to
    ``len(X) - 1`` distinct labels.

    Examples
    --------
    >>> from sklearn.metrics import silhouette_score
    >>> X = np.array([[0.0, 0.1], [0.2, 0.0], [5.0, 5.2], [5.1, 4.9], [9.0, 0.0]])
    >>> sets = [np.array([0, 0, 1, 1, 1]), np.array([0, 0, 1, 1, 2])]
    >>> silhouette_scores(X, sets) == [silhouette_score(X, labels) for labels in sets]
    True
    """
    from sklearn.metrics import pairwise_distances_chunked

    if not label_sets:
        return []
    encoded = [np.unique(np.asarray(labels), return_inverse=True)[1].ravel().astype(np.intp) for labels in label_sets]
    freqs = [np.bincount(labels) for labels in encoded]
    n = len(X)
    intra = [[] for _ in encoded]
    inter = [[] for _ in encoded]
    for chunk in pairwise_distances_chunked(X, metric="euclidean"):  # row chunks of the distance matrix
        start = sum(len(part) for part in intra[0])
        for lo in range(0, len(chunk), block_rows):  # blocks bound the (rows x columns) keys
            block = chunk[lo:lo + block_rows]
            rows = len(block)
            own = np.arange(rows)
            for j, (labels, freq) in enumerate(zip(encoded, freqs)):
                n_labels = len(freq)
                keys = (own[:, None] * n_labels + labels[None, :]).ravel()
                sums = np.bincount(keys, weights=block.ravel(), minlength=rows * n_labels).reshape(rows, n_labels)
                mine = labels[start + lo:start + lo + rows]
                intra[j].append(sums[own, mine])
                sums[own, mine] = np.inf
                sums /= freq
                inter[j].append(sums.min(axis=1))
    scores = []
    for j, (labels, freq) in enumerate(zip(encoded, freqs)):
        a = np.concatenate(intra[j])
        b = np.concatenate(inter[j])
        with np.errstate(divide="ignore", invalid="ignore"):
            a /= (freq - 1).take(labels, mode="clip")
            sil = b - a
            sil /= np.maximum(a, b)
        scores.append(float(np.mean(np.nan_to_num(sil))))
    return scores


def nearest_center(X: np.ndarray, centers: np.ndarray, *, chunk_size: int = 100_000) -> np.ndarray:
    """Row of ``centers`` nearest (Euclidean) to each row of ``X``, ``chunk_size`` rows at a time.

    Examples
    --------
    >>> nearest_center(np.array([[0.0, 0.1], [5.0, 5.2], [0.2, 0.0]]), np.array([[0.0, 0.0], [5.0, 5.0]]), chunk_size=2).tolist()
    [0, 1, 0]
    """
    out = np.empty(len(X), dtype=np.int64)
    for lo in range(0, len(X), chunk_size):  # chunks of rows bound the (rows × centres × features) array
        block = X[lo:lo + chunk_size]
        out[lo:lo + chunk_size] = np.argmin(((block[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2), axis=1)
    return out


@dataclass(frozen=True)
class Projection:
    """Result of :func:`project_personas`.

    Attributes
    ----------
    table : DataFrame
        ``pc1, pc2, persona`` for a seeded sample of users (no user ids).
    explained_variance : list of float
        Share of the variance of the clustering features each axis keeps.
    n_features : int
        Number of clustering features projected.
    """

    table: pd.DataFrame
    explained_variance: list[float]
    n_features: int

    @property
    def text(self) -> str:
        from .describe import projection_text

        return projection_text(self)


def project_personas(features: UserFeatures | pd.DataFrame, segmentation: Segmentation, *, sample_size: int = 5000,
                     random_state: int = 0) -> Projection:
    """2-D PCA projection of the clustering features, for a scatter plot coloured by persona.

    The features are transformed exactly as in :func:`segment_users`; at most
    ``sample_size`` users (a seeded sample) are returned, without user ids.

    Examples
    --------
    >>> f = pd.DataFrame({"events": [1, 2, 1, 50, 52, 51], "minutes": [1.0, 1.2, 0.9, 30, 29, 31]},
    ...                  index=pd.Index(list("abcdef"), name="user_id"))
    >>> p = project_personas(f, segment_users(f, k=2))
    >>> list(p.table.columns), len(p.table)
    (['pc1', 'pc2', 'persona'], 6)
    """
    from sklearn.decomposition import PCA

    table = feature_table(features)
    order = np.argsort(np.asarray(table.index), kind="stable")
    ordered = table.iloc[order]
    X = _clustering_matrix(ordered, segmentation.columns)[0]
    n = len(ordered)
    rng = np.random.default_rng(random_state)
    sample = np.sort(rng.choice(n, size=sample_size, replace=False)) if n > sample_size else np.arange(n)
    n_components = min(2, X.shape[1])
    pca = PCA(n_components=n_components, random_state=random_state).fit(X)
    coords = pca.transform(X[sample])
    out = pd.DataFrame({"pc1": coords[:, 0], "pc2": coords[:, 1] if n_components > 1 else 0.0,
                        "persona": segmentation.labels.reindex(ordered.index).to_numpy()[sample]})
    return Projection(table=out, explained_variance=pca.explained_variance_ratio_.tolist(), n_features=X.shape[1])
