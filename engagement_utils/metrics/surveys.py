"""Survey scores (DESIGN §5): NPS, CSAT and CES with confidence intervals.

**NPS** = % promoters (9–10) − % detractors (0–6), in points;
**CSAT** = share of 4–5 answers on a 1–5 scale; **CES** = mean score (1–7).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..inputs import segment_column
from ..stats import wilson_ci
from ..validation import check_alpha

__all__ = ["SURVEY_KINDS", "survey_scores"]

SURVEY_KINDS = ("nps", "csat", "ces")


def survey_scores(
    surveys: pd.DataFrame,
    *,
    segment: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """NPS (with a normal-approximation CI), CSAT (Wilson CI) and CES (t CI) per survey kind.

    NPS = 100 × (p_promoters − p_detractors), promoters 9–10, detractors 0–6;
    its standard error is 100 × sqrt((p_p + p_d − (p_p − p_d)²) / n).
    CSAT = share of answers 4–5 on 1–5.  CES = mean score on 1–7.
    Intervals have level ``1 - alpha``.

    Returns
    -------
    DataFrame
        (``segment``,) ``kind``, ``responses``, ``score``, ``ci_low``, ``ci_high``,
        ``promoters``, ``passives``, ``detractors`` (shares; NaN for CSAT/CES).

    Examples
    --------
    >>> s = pd.DataFrame({"kind": "nps", "score": [10, 9, 8, 3]})
    >>> survey_scores(s)[["kind", "responses", "score", "promoters", "detractors"]].values.tolist()
    [['nps', 4.0, 25.0, 0.5, 0.25]]
    """
    check_alpha(alpha)
    for col in ("kind", "score"):
        if col not in surveys.columns:
            raise ValueError(f"surveys have no column {col!r}; load them with io.load_surveys")
    keys = []
    frame = surveys.assign(kind=surveys["kind"].astype(str).str.lower())
    if segment:
        frame["segment"] = segment_column(surveys, segment, what="surveys")
        keys = ["segment"]
    score = frame["score"].astype(float)
    frame = frame.assign(
        promoter=(score >= 9).astype(float), detractor=(score <= 6).astype(float),
        passive=((score > 6) & (score < 9)).astype(float), satisfied=(score >= 4).astype(float), value=score)
    grouped = frame.groupby(keys + ["kind"], sort=True)
    out = grouped.agg(responses=("value", "size"), mean=("value", "mean"), sd=("value", "std"),
                      promoters=("promoter", "mean"), passives=("passive", "mean"), detractors=("detractor", "mean"),
                      satisfied=("satisfied", "sum")).reset_index()
    out["responses"] = out["responses"].astype(float)
    z = sps.norm.ppf(1 - alpha / 2)
    n = out["responses"]
    is_nps, is_csat = out["kind"].eq("nps"), out["kind"].eq("csat")
    nps = 100 * (out["promoters"] - out["detractors"])
    nps_se = 100 * np.sqrt((out["promoters"] + out["detractors"] - (out["promoters"] - out["detractors"]) ** 2) / n)
    csat_lo, csat_hi = wilson_ci(out["satisfied"], n, alpha)
    t = sps.t.ppf(1 - alpha / 2, np.maximum(n - 1, 1))
    mean_se = out["sd"] / np.sqrt(n)
    out["score"] = np.select([is_nps, is_csat], [nps, out["satisfied"] / n], out["mean"])
    out["ci_low"] = np.select([is_nps, is_csat], [np.maximum(nps - z * nps_se, -100), csat_lo], out["mean"] - t * mean_se)
    out["ci_high"] = np.select([is_nps, is_csat], [np.minimum(nps + z * nps_se, 100), csat_hi], out["mean"] + t * mean_se)
    for col in ("promoters", "passives", "detractors"):
        out[col] = out[col].where(is_nps)
    return out[keys + ["kind", "responses", "score", "ci_low", "ci_high", "promoters", "passives", "detractors"]]
