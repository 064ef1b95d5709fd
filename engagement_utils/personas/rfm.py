"""RFM: recency, frequency and monetary scores of the users who bought, and the named segments."""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from ..validation import check_option
from .features import UserFeatures, feature_table

__all__ = ["RFM_SEGMENTS", "TIES", "UNMAPPED", "NO_PURCHASE", "rfm", "rfm_summary", "rfm_grid"]

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
TIES = ("average", "first")
"""How equal values are ranked: ``"average"`` (they share one score; default) or ``"first"``
(by user id, the published method — arbitrary among equals; only to reproduce published tables)."""
UNMAPPED = "Other"
NO_PURCHASE = "No purchase"
"""Segment of the users with no order and no revenue: they are not ranked."""


def _quantile_scores(x: np.ndarray, id_order: np.ndarray, bins: int, ties: str) -> np.ndarray:
    """Score 1..bins by quantile of the rank: ``max(1, ceil(bins * (rank - 1) / (n - 1)))``.

    ``rank`` runs 1..n (ties: mid-rank with "average", by user id with "first").
    """
    n = len(x)
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
    features: UserFeatures | pd.DataFrame,
    bins: int = 5,
    *,
    recency: str = "recency_days",
    frequency: str = "orders",
    monetary: str | None = None,
    ties: str = "average",
    segment_map: Mapping[str, Iterable[str]] | None = None,
) -> pd.DataFrame:
    """Recency, frequency and monetary quintile scores of the buyers, and named segments.

    Only users who bought are ranked: a user with no order (``orders``, when the
    features have it) and no ``monetary`` value gets no scores and the segment
    :data:`NO_PURCHASE`.  Among the buyers each of R, F, M is scored
    1..``bins`` by quantile of its rank, ``score = max(1, ceil(bins * (rank - 1) / (n - 1)))``
    with ``rank`` in 1..n (the bins of ``pd.qcut(rank, bins)``); recency is
    reversed (``bins + 1 - score``) so the most recent buyers score highest.
    Equal values share their mid-rank and therefore one score (``ties="average"``);
    ``ties="first"`` ranks them by user id, the published method, to reproduce
    published tables only.

    The segment is looked up from the code ``f"{R}{F}{M}"`` in ``segment_map``
    (default :data:`RFM_SEGMENTS` with ``bins=5``, no segments otherwise); codes
    missing from a custom map get ``"Other"``; an empty map gives no segment column.

    Parameters
    ----------
    features : UserFeatures or DataFrame
        From :func:`user_features` (indexed by ``user_id``).
    bins : int, default 5
        Number of score bands (2..9).
    recency, frequency, monetary : str
        Columns to score.  Frequency defaults to ``orders`` (distinct orders);
        ``active_days`` or ``sessions`` give an engagement RFM of the buyers.
        Monetary defaults to ``revenue``, or ``orders`` when the features have no revenue.
    ties : {"average", "first"}
    segment_map : mapping of segment name to codes, optional

    Returns
    -------
    DataFrame indexed by ``user_id``: ``recency, frequency, monetary, buyer``,
    ``R, F, M, rfm_score`` (nullable integers, missing for non-buyers),
    ``rfm_code`` and ``segment`` (ordered categorical in map order, then ``"No purchase"``).

    Examples
    --------
    >>> f = pd.DataFrame({"recency_days": [1, 30, 200, 5, 90, 3], "orders": [9, 3, 1, 6, 1, 0],
    ...                   "revenue": [900.0, 120.0, 10.0, 300.0, 40.0, 0.0]},
    ...                  index=pd.Index(["a", "b", "c", "d", "e", "f"], name="user_id"))
    >>> r = rfm(f)   # c and e tie on one order: they share a score; f bought nothing
    >>> r["rfm_code"].tolist()
    ['555', '333', '111', '444', '212', <NA>]
    >>> r["segment"].tolist()
    ['Champions', 'Potential Loyalist', 'Lost Customers', 'Loyal', 'Hibernating Customers', 'No purchase']
    """
    table = feature_table(features)
    check_option("ties", ties, TIES)
    if monetary is None:
        monetary = "revenue" if "revenue" in table.columns else "orders"
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or not 2 <= bins <= 9:
        raise ValueError(f"The 'bins' parameter must be a whole number from 2 to 9 (5 gives quintiles); got {bins!r}")
    for role, col in (("recency", recency), ("frequency", frequency), ("monetary", monetary)):
        if col not in table.columns:
            hint = " (the events have no revenue: pass monetary='orders' or load a revenue column)" if role == "monetary" else ""
            raise ValueError(f"{role} column {col!r} is not in the features{hint}; available: {list(table.columns)}")
        if table[col].isna().any():
            raise ValueError(f"{role} column {col!r} has {int(table[col].isna().sum())} missing value(s); fill them first")
    bought = table[monetary].to_numpy(dtype=float) > 0
    if "orders" in table.columns:
        bought |= table["orders"].to_numpy() > 0
    n_buyers = int(bought.sum())
    if n_buyers < 2:
        raise ValueError(f"RFM scores rank buyers against each other and need at least 2 users who bought (got {n_buyers})")
    lookup = _segment_lookup(RFM_SEGMENTS if segment_map is None and bins == 5 else segment_map or {}, bins)
    buyers = table.index[bought]
    id_order = np.empty(n_buyers, dtype=np.int64)
    id_order[np.argsort(np.asarray(buyers), kind="stable")] = np.arange(n_buyers)
    out = pd.DataFrame({"recency": table[recency], "frequency": table[frequency], "monetary": table[monetary],
                        "buyer": bought}, index=table.index)
    scores = {
        "R": bins + 1 - _quantile_scores(out["recency"].to_numpy(dtype=float)[bought], id_order, bins, ties),
        "F": _quantile_scores(out["frequency"].to_numpy(dtype=float)[bought], id_order, bins, ties),
        "M": _quantile_scores(out["monetary"].to_numpy(dtype=float)[bought], id_order, bins, ties),
    }
    for name, values in scores.items():
        column = pd.array(np.zeros(len(out), dtype=np.int64), dtype="Int64")
        column[~bought] = pd.NA
        column[bought] = values
        out[name] = column
    code = out["R"].astype(str) + out["F"].astype(str) + out["M"].astype(str)
    out["rfm_code"] = code.where(bought, pd.NA).astype("string")
    out["rfm_score"] = out["R"] + out["F"] + out["M"]
    if lookup:
        names = list(dict.fromkeys(lookup.values()))
        segment = out["rfm_code"].astype(object).map(lookup)
        if segment[bought].isna().any():
            names.append(UNMAPPED)
            segment = segment.where(~(bought & segment.isna()), UNMAPPED)
        if not bought.all():
            names.append(NO_PURCHASE)
            segment = segment.where(bought, NO_PURCHASE)
        out["segment"] = pd.Categorical(segment, categories=names, ordered=True)
    return out


def rfm_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Per RFM segment: users, share of users, share of monetary value, median R/F/M values.

    ``monetary_share`` is the segment's share of the total monetary value (NaN
    when nobody has any).  Without a ``segment`` column the rows are the
    ``rfm_score`` values (non-buyers as :data:`NO_PURCHASE`).

    Examples
    --------
    >>> f = pd.DataFrame({"recency_days": [1, 30, 200, 5], "orders": [9, 3, 1, 6], "revenue": [900.0, 120, 10, 300]},
    ...                  index=pd.Index(list("abcd"), name="user_id"))
    >>> rfm_summary(rfm(f)).loc["Champions", ["users", "user_share", "monetary_share"]].tolist()
    [1.0, 0.25, 0.6766917293233082]
    """
    if "segment" in scores.columns:
        key = scores["segment"]
    else:
        key = scores["rfm_score"].astype(object).where(scores["buyer"], NO_PURCHASE).rename("segment")
    out = scores.groupby(key, observed=False).agg(
        users=("monetary", "size"), recency_median=("recency", "median"), frequency_median=("frequency", "median"),
        monetary_median=("monetary", "median"), monetary_total=("monetary", "sum"))
    out.index.name = "segment"
    out.insert(1, "user_share", out["users"] / len(scores))
    total = scores["monetary"].sum()
    out.insert(2, "monetary_share", out["monetary_total"] / total if total > 0 else np.nan)
    return out


def rfm_grid(scores: pd.DataFrame) -> pd.DataFrame:
    """Buyers and mean monetary value per R × F score cell (tidy), for the RFM grid chart.

    Examples
    --------
    >>> f = pd.DataFrame({"recency_days": [1, 30, 200, 5], "orders": [9, 3, 1, 6], "revenue": [900.0, 120, 10, 300]},
    ...                  index=pd.Index(list("abcd"), name="user_id"))
    >>> rfm_grid(rfm(f)).query("users > 0")[["R", "F", "users"]].values.tolist()
    [[1, 1, 1], [2, 2, 1], [4, 4, 1], [5, 5, 1]]
    """
    ranked = scores[scores["buyer"]] if "buyer" in scores.columns else scores
    bins = int(max(ranked["R"].max(), ranked["F"].max()))
    cells = pd.MultiIndex.from_product([range(1, bins + 1), range(1, bins + 1)], names=["R", "F"])
    g = ranked.astype({"R": np.int64, "F": np.int64}).groupby(["R", "F"])
    out = pd.DataFrame({"users": g.size(), "monetary_mean": g["monetary"].mean()}).reindex(cells)
    out["users"] = out["users"].fillna(0).astype(np.int64)
    return out.reset_index()
