"""Input hygiene of experiment data: variant labels, metric kinds and metric declarations.

Rules (the contract; tests pin them):

* A missing (NaN / empty) variant label is an error naming the first offending rows.
* Two labels that differ only in case or surrounding spaces (``Control`` / ``control``)
  are an error suggesting the fix; they are never silently merged or split into two arms.
* A metric's kind is declared (``"binary"``, ``"mean"``, ``"ratio"``) or inferred from
  its **values** — a boolean column or one holding only 0 and 1 is a rate — never from
  its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..validation import check_option

__all__ = ["KINDS", "MetricSpec", "check_variants", "infer_kind", "metric_specs"]

KINDS = ("binary", "mean", "ratio")
"""Metric kinds: a rate of 0/1 outcomes, a per-user mean, a ratio of per-user sums."""


@dataclass(frozen=True)
class MetricSpec:
    """One metric to analyse.

    Attributes
    ----------
    name : str
        The metric's name (a column for binary and mean metrics).
    kind : {"binary", "mean", "ratio"}
    numerator, denominator : str or None
        Columns of a ratio metric: ``sum(numerator) / sum(denominator)`` per arm
        (e.g. revenue per session with users as the randomization unit).
    """

    name: str
    kind: str
    numerator: str | None = None
    denominator: str | None = None


def check_variants(labels: pd.Series, column: str = "variant") -> pd.Series:
    """Variant labels as text, after rejecting missing labels and case-only duplicates.

    Examples
    --------
    >>> check_variants(pd.Series(["control", "b"])).tolist()
    ['control', 'b']
    >>> check_variants(pd.Series(["control", None, "b"]))
    Traceback (most recent call last):
    ...
    ValueError: 1 row(s) have no 'variant' label (rows 1); drop them or fill in the arm each user was assigned to
    >>> check_variants(pd.Series(["Control", "control", "b"]))
    Traceback (most recent call last):
    ...
    ValueError: variant labels 'Control' and 'control' differ only in case or spaces, so they would be two arms; use one spelling, e.g. frame['variant'] = frame['variant'].str.strip().str.lower()
    """
    missing = labels.isna().to_numpy() | (labels.astype(str).str.strip() == "").to_numpy()
    if missing.any():
        rows = labels.index[missing][:5].tolist()
        raise ValueError(f"{int(missing.sum())} row(s) have no {column!r} label (rows {', '.join(map(str, rows))}"
                         f"{', ...' if missing.sum() > 5 else ''}); drop them or fill in the arm each user was assigned to")
    text = labels.astype(str)
    names = pd.unique(text)
    folded = pd.Series(names).str.strip().str.casefold()
    clash = folded.duplicated(keep=False)
    if clash.any():
        first = folded[clash].iloc[0]
        pair = [str(n) for n, f in zip(names, folded) if f == first][:2]
        raise ValueError(f"variant labels {pair[0]!r} and {pair[1]!r} differ only in case or spaces, so they would be two arms; "
                         f"use one spelling, e.g. frame[{column!r}] = frame[{column!r}].str.strip().str.lower()")
    return text


def infer_kind(values) -> str:
    """``"binary"`` for a boolean column or one whose non-missing values are all 0 or 1, else ``"mean"``.

    The metric's name is never consulted: a 0/1 column called ``signed_up`` is a rate,
    a count called ``converted_total`` is a mean.

    Examples
    --------
    >>> infer_kind(pd.Series([0, 1, 1, None])), infer_kind([True, False]), infer_kind([0, 2, 1])
    ('binary', 'binary', 'mean')
    """
    series = pd.Series(values)
    if pd.api.types.is_bool_dtype(series):
        return "binary"
    numeric = pd.to_numeric(series, errors="coerce").dropna().to_numpy(dtype=float)
    return "binary" if len(numeric) and np.isin(numeric, (0.0, 1.0)).all() else "mean"


def metric_specs(names, declared: Mapping | None = None, frame: pd.DataFrame | None = None) -> list[MetricSpec]:
    """Specifications of the metrics ``names``: declared kinds first, otherwise inferred from ``frame``'s values.

    ``declared`` maps a metric to its kind (``"binary"`` / ``"mean"``) or, for a ratio,
    to ``{"kind": "ratio", "numerator": column, "denominator": column}``.

    Examples
    --------
    >>> d = pd.DataFrame({"signed_up": [0, 1], "revenue": [0.0, 5.5], "orders": [0, 2]})
    >>> [(s.name, s.kind) for s in metric_specs(["signed_up", "revenue"], frame=d)]
    [('signed_up', 'binary'), ('revenue', 'mean')]
    >>> metric_specs(["aov"], {"aov": {"kind": "ratio", "numerator": "revenue", "denominator": "orders"}})[0].denominator
    'orders'
    """
    declared = dict(declared or {})
    specs = []
    for name in names:
        entry = declared.get(name)
        if isinstance(entry, Mapping):
            kind = check_option("kind", entry.get("kind", "ratio"), KINDS)
            if kind == "ratio" and not (entry.get("numerator") and entry.get("denominator")):
                raise ValueError(f"ratio metric {name!r} needs 'numerator' and 'denominator' columns, "
                                 f"e.g. {{'kind': 'ratio', 'numerator': 'revenue', 'denominator': 'sessions'}}")
            specs.append(MetricSpec(name, kind, entry.get("numerator"), entry.get("denominator")))
            continue
        if entry is not None:
            kind = check_option("kind", entry, KINDS)
            if kind == "ratio":
                raise ValueError(f"ratio metric {name!r} needs its columns: declare it as "
                                 f"{{'kind': 'ratio', 'numerator': ..., 'denominator': ...}}")
            specs.append(MetricSpec(name, kind))
            continue
        if frame is None:
            raise ValueError(f"the kind of metric {name!r} cannot be inferred without its values; declare it (binary or mean)")
        if name not in frame.columns:
            raise ValueError(f"metric column {name!r} is not in the data; available: {', '.join(map(str, frame.columns))}")
        specs.append(MetricSpec(name, infer_kind(frame[name])))
    return specs
