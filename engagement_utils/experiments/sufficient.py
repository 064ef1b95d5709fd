"""Sufficient statistics of an experiment: the one input of every comparison.

Per segment × variant × metric the table holds

* ``n`` (users with a value), ``sum_y``, ``sum_y2``, ``sum_y3`` — mean, variance and
  skewness of the metric;
* for a pre-period covariate x (CUPED / regression adjustment): ``sum_x``, ``sum_x2``,
  ``sum_x3``, ``sum_xy``, ``sum_x2y``, ``sum_xy2``;
* for a ratio metric (numerator y over denominator d per user): ``sum_d``, ``sum_d2``, ``sum_yd``.

Event logs (through :func:`~engagement_utils.experiments.experiment_users`), per-user
tables (:func:`summarize`) and warehouse summaries (:func:`summaries_from_table`,
:func:`read_summaries`) all reduce to this table, so every input shape reaches the same
statistics. Comparisons computed from it equal those computed from the per-user values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import segment_labels
from .inputs import MetricSpec, check_variants, metric_specs

__all__ = ["SUM_COLUMNS", "ALL_USERS", "Summaries", "summarize", "summaries_from_table", "read_summaries"]

SUM_COLUMNS = ("n", "sum_y", "sum_y2", "sum_y3", "sum_x", "sum_x2", "sum_x3", "sum_xy", "sum_x2y", "sum_xy2",
               "sum_d", "sum_d2", "sum_yd")
"""The additive columns of a summary table (sums over users; they add across days and segments)."""

ALL_USERS = "(all)"
"""The ``segment`` label of summaries that are not broken down."""

_KEYS = ["segment", "variant", "metric"]


@dataclass(frozen=True)
class Summaries:
    """Per-arm sufficient statistics.

    Attributes
    ----------
    table : DataFrame
        ``segment, variant, metric, kind, covariate, numerator, denominator`` and :data:`SUM_COLUMNS`.
    assigned : Series
        Users assigned per variant (the SRM check's counts), indexed by variant.
    metrics : tuple of MetricSpec
    """

    table: pd.DataFrame
    assigned: pd.Series
    metrics: tuple

    @property
    def variants(self) -> list[str]:
        """Variants present, sorted."""
        return sorted(self.assigned.index.astype(str))

    def metric(self, name: str) -> MetricSpec:
        """The specification of metric ``name``."""
        for spec in self.metrics:
            if spec.name == name:
                return spec
        raise ValueError(f"metric {name!r} is not summarized; metrics: {', '.join(s.name for s in self.metrics)}")

    def arms(self) -> pd.DataFrame:
        """Per segment × variant × metric: ``n``, ``mean`` and ``sd`` (ddof = 1) of the metric (ratio: sum_y / sum_d)."""
        t = self.table
        n = t["n"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.where(t["kind"] == "ratio", t["sum_y"] / t["sum_d"], t["sum_y"] / n)
            sd = np.sqrt(np.where(n > 1, (t["sum_y2"] - t["sum_y"] ** 2 / n) / (n - 1), np.nan))
        return pd.DataFrame({"segment": t["segment"], "variant": t["variant"], "metric": t["metric"], "kind": t["kind"],
                             "n": t["n"], "mean": np.where(n > 0, mean, np.nan), "sd": np.where(t["kind"] == "ratio", np.nan, sd)})

    def overall(self) -> "Summaries":
        """The segments added up (sums are additive)."""
        if (self.table["segment"] == ALL_USERS).all():
            return self
        meta = self.table.drop_duplicates(["variant", "metric"]).set_index(["variant", "metric"])[
            ["kind", "covariate", "numerator", "denominator"]]
        sums = self.table.groupby(["variant", "metric"], sort=True)[list(SUM_COLUMNS)].sum()
        table = sums.join(meta).reset_index().assign(segment=ALL_USERS)
        return Summaries(_ordered(table), self.assigned, self.metrics)


def _ordered(table: pd.DataFrame) -> pd.DataFrame:
    columns = [*_KEYS, "kind", "covariate", "numerator", "denominator", *SUM_COLUMNS]
    return table[columns].sort_values(_KEYS, ignore_index=True)


def summarize(
    users: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    *,
    declared: Mapping | None = None,
    covariates: Mapping[str, str] | None = None,
    variant: str = "variant",
    segment: str | None = None,
) -> Summaries:
    """Sufficient statistics of per-user metrics by (segment ×) variant, by one vectorized groupby per metric.

    Parameters
    ----------
    users : DataFrame
        One row per assigned user: the ``variant`` column and metric columns
        (NaN = no value, e.g. a censored window; left out of that metric).
    metrics : sequence of str, optional
        Metric names (default: every declared metric).
    declared : mapping, optional
        Metric → kind, or ``{"kind": "ratio", "numerator": ..., "denominator": ...}``
        (see :func:`~engagement_utils.experiments.inputs.metric_specs`); others are inferred from values.
    covariates : mapping, optional
        Metric → pre-period column (CUPED); a user without a covariate value is an error.
    variant : str, default "variant"
    segment : str, optional
        Breakdown column; missing values are labelled ``"(missing)"``.

    Returns
    -------
    Summaries

    Examples
    --------
    >>> u = pd.DataFrame({"variant": ["control", "control", "b", "b"], "signed_up": [0, 1, 1, 1],
    ...                   "revenue": [0.0, 2.0, 3.0, 5.0]})
    >>> s = summarize(u, ["signed_up", "revenue"])
    >>> s.table[["variant", "metric", "kind", "n", "sum_y", "sum_y2"]].values.tolist()
    [['b', 'revenue', 'mean', 2, 8.0, 34.0], ['b', 'signed_up', 'binary', 2, 2.0, 2.0], ['control', 'revenue', 'mean', 2, 2.0, 4.0], ['control', 'signed_up', 'binary', 2, 1.0, 1.0]]
    """
    if variant not in users.columns:
        raise ValueError(f"column {variant!r} is not in the data; available: {', '.join(map(str, users.columns))}")
    labels = check_variants(users[variant], variant)
    names = list(metrics) if metrics is not None else list(dict(declared or {}))
    if not names:
        raise ValueError("no metrics to summarize; pass metrics=[...] (columns of the per-user table)")
    specs = metric_specs(names, declared, users)
    covariates = dict(covariates or {})
    seg = segment_labels(users[segment]).astype(str) if segment is not None else np.full(len(users), ALL_USERS, dtype=object)
    if segment is not None and segment not in users.columns:
        raise ValueError(f"segment column {segment!r} is not in the data")
    # the distinct values, not a Python iteration over every user's (per metric)
    levels = [sorted(set(pd.unique(seg))), sorted(set(labels.unique()))]
    frames = []
    for spec in specs:
        columns = [spec.numerator, spec.denominator] if spec.kind == "ratio" else [spec.name]
        for column in columns + ([covariates[spec.name]] if spec.name in covariates else []):
            if column not in users.columns:
                raise ValueError(f"column {column!r} (metric {spec.name!r}) is not in the data; "
                                 f"available: {', '.join(map(str, users.columns))}")
            if not (pd.api.types.is_numeric_dtype(users[column]) or pd.api.types.is_bool_dtype(users[column])):
                raise ValueError(f"column {column!r} must be numeric (one value per user), got {users[column].dtype}")
        y = users[columns[0]].to_numpy(dtype=float)
        valid = ~np.isnan(y)
        d = users[spec.denominator].to_numpy(dtype=float) if spec.kind == "ratio" else np.zeros(len(y))
        valid &= ~np.isnan(d)
        if spec.kind == "binary" and not np.isin(y[valid], (0.0, 1.0)).all():
            raise ValueError(f"metric {spec.name!r} is declared binary but holds values other than 0 and 1; declare it 'mean'")
        covariate = covariates.get(spec.name)
        x = users[covariate].to_numpy(dtype=float) if covariate else np.zeros(len(y))
        if covariate and np.isnan(x[valid]).any():
            raise ValueError(f"covariate {covariate!r} has missing values for users with a {spec.name!r} value; "
                             "fill them (e.g. 0 for users new at assignment)")
        y, x, d = y[valid], x[valid], d[valid]
        parts = pd.DataFrame({"segment": seg[valid], "variant": labels.to_numpy()[valid], "n": 1,
                              "sum_y": y, "sum_y2": y * y, "sum_y3": y ** 3, "sum_x": x, "sum_x2": x * x,
                              "sum_x3": x ** 3, "sum_xy": x * y, "sum_x2y": x * x * y, "sum_xy2": x * y * y,
                              "sum_d": d, "sum_d2": d * d, "sum_yd": y * d})
        sums = parts.groupby(["segment", "variant"], sort=True).sum()
        # every (segment, variant) pair is present, with n = 0 where no user has a value
        full = pd.MultiIndex.from_product(levels, names=["segment", "variant"])
        sums = sums.reindex(full, fill_value=0).reset_index()
        sums["n"] = sums["n"].astype(np.int64)
        frames.append(sums.assign(metric=spec.name, kind=spec.kind, covariate=covariate,
                                  numerator=spec.numerator, denominator=spec.denominator))
    assigned = labels.value_counts().sort_index().astype(np.int64)
    return Summaries(_ordered(pd.concat(frames, ignore_index=True)), assigned.rename("users"), tuple(specs))


def summaries_from_table(
    table: pd.DataFrame,
    *,
    declared: Mapping | None = None,
    assigned: Mapping[str, int] | None = None,
) -> Summaries:
    """Summaries from a per-arm statistics table (a warehouse export or a published table).

    Accepted columns: ``variant, metric, n`` and either ``sum`` (binary: the number of
    successes; then ``sum_squares`` is not needed) and ``sum_squares``, or ``mean`` and
    ``sd`` (sample standard deviation, ddof = 1); optional ``sum_cubes`` (without it the
    skewness is unknown and no skew correction is made), ``segment``, ``kind``
    (default: declared, else binary when only ``sum`` is given), ``users`` (assigned
    users of the arm, for the SRM check; default the largest ``n`` of the arm), and any
    of :data:`SUM_COLUMNS` (covariate and ratio sums).

    Parameters
    ----------
    table : DataFrame
        One row per (segment ×) variant × metric, with the columns above.
    declared : mapping, optional
        Metric → kind, as :func:`summarize`.
    assigned : mapping, optional
        Users assigned per variant (:attr:`Summaries.assigned`, the SRM check's counts);
        given, it replaces the table's ``users`` column.

    Examples
    --------
    >>> t = pd.DataFrame({"variant": ["control", "b"], "metric": "converted", "n": [1000, 1000], "sum": [100, 130]})
    >>> s = summaries_from_table(t)
    >>> s.table[["variant", "kind", "n", "sum_y", "sum_y2"]].values.tolist()
    [['b', 'binary', 1000, 130.0, 130.0], ['control', 'binary', 1000, 100.0, 100.0]]
    >>> summaries_from_table(t.assign(sum=[100, 1300]))
    Traceback (most recent call last):
    ...
    ValueError: metric 'converted': 1 row(s) have more successes than users (variant 'b': 1300 of 1000); check the export
    """
    frame = table.copy()
    missing = [c for c in ("variant", "metric", "n") if c not in frame.columns]
    if missing:
        raise ValueError(f"the summary table lacks column(s) {missing}; it needs variant, metric, n and sum "
                         "(and sum_squares, or mean and sd, for non-binary metrics)")
    frame["variant"] = check_variants(frame["variant"])
    frame["segment"] = segment_labels(frame["segment"]).astype(str) if "segment" in frame.columns else ALL_USERS
    if frame.duplicated(_KEYS).any():
        raise ValueError("the summary table has more than one row for a segment × variant × metric; aggregate them first")
    declared = dict(declared or {})
    n = pd.to_numeric(frame["n"], errors="coerce")
    if n.isna().any() or (n < 0).any():
        raise ValueError("column 'n' must hold the number of users of each row (a whole number >= 0)")
    frame["n"] = n.astype(np.int64)
    if "sum_y" not in frame.columns:
        if "sum" in frame.columns:
            frame["sum_y"] = pd.to_numeric(frame["sum"], errors="raise").astype(float)
        elif {"mean", "sd"} <= set(frame.columns):
            frame["sum_y"] = frame["mean"].astype(float) * frame["n"]
            frame["sum_y2"] = (frame["n"] - 1).clip(lower=0) * frame["sd"].astype(float) ** 2 + frame["n"] * frame["mean"].astype(float) ** 2
        else:
            raise ValueError("the summary table needs 'sum' (and 'sum_squares'), or 'mean' and 'sd'")
    if "sum_squares" in frame.columns and "sum_y2" not in frame.columns:
        frame["sum_y2"] = frame["sum_squares"].astype(float)
    if "sum_cubes" in frame.columns and "sum_y3" not in frame.columns:
        frame["sum_y3"] = frame["sum_cubes"].astype(float)
    # without the sum of cubes the skewness is unknown (NaN): no skew correction is made
    frame["sum_y3"] = frame["sum_y3"].astype(float) if "sum_y3" in frame.columns else np.nan
    kinds = []
    for metric, rows in frame.groupby("metric", sort=False):
        entry = declared.get(metric)
        kind = entry.get("kind") if isinstance(entry, Mapping) else entry
        if kind is None:
            kind = rows["kind"].iloc[0] if "kind" in rows.columns and pd.notna(rows["kind"].iloc[0]) else (
                "binary" if "sum_y2" not in rows.columns or rows["sum_y2"].isna().all() else "mean")
        kinds.append((metric, kind))
    kind_of = dict(kinds)
    frame["kind"] = frame["metric"].map(kind_of)
    binary = frame["kind"] == "binary"
    frame["sum_y2"] = np.where(binary, frame["sum_y"], frame["sum_y2"] if "sum_y2" in frame.columns else np.nan)
    for metric, rows in frame[binary].groupby("metric"):
        bad = (rows["sum_y"] > rows["n"]) | (rows["sum_y"] < 0)
        if bad.any():
            where = ", ".join(f"variant {v!r}: {x:g} of {k}" for v, x, k in zip(rows.loc[bad, "variant"], rows.loc[bad, "sum_y"], rows.loc[bad, "n"]))
            raise ValueError(f"metric {metric!r}: {int(bad.sum())} row(s) have more successes than users ({where}); check the export")
    if frame.loc[~binary, "sum_y2"].isna().any():
        raise ValueError("non-binary metrics need 'sum_squares' (or 'mean' and 'sd') to have a variance")
    for column in SUM_COLUMNS:
        if column not in frame.columns:
            frame[column] = 0.0
        if column != "sum_y3":
            frame[column] = frame[column].fillna(0.0)
    frame["sum_y3"] = np.where(binary, frame["sum_y"], frame["sum_y3"])
    for column in ("covariate", "numerator", "denominator"):
        if column not in frame.columns:
            frame[column] = None
    specs = []
    for metric, kind in kinds:
        entry = declared.get(metric)
        specs.append(MetricSpec(metric, kind, *(entry.get(k) for k in ("numerator", "denominator"))) if isinstance(entry, Mapping)
                     else MetricSpec(metric, kind))
    if assigned is not None:
        assigned = pd.Series(dict(assigned), dtype=np.int64)
    elif "users" in frame.columns:
        assigned = frame.groupby("variant")["users"].max().astype(np.int64)
    else:
        assigned = frame.groupby("variant")["n"].max()
    return Summaries(_ordered(frame), assigned.sort_index().rename("users"), tuple(specs))


def read_summaries(path, *, declared: Mapping | None = None) -> Summaries:
    """Read a per-arm statistics file (CSV, or YAML with ``users:`` and ``rows:``) into :class:`Summaries`.

    YAML form::

        users: {control: 5000, treatment: 5000}      # assigned users (SRM), optional
        rows:
          - {variant: control, metric: converted, n: 5000, sum: 610}
          - {variant: control, metric: revenue, n: 5000, mean: 3.2, sd: 11.9}
    """
    path = Path(path)
    if path.suffix.lower() in (".yml", ".yaml"):
        import yaml

        content = yaml.safe_load(path.read_text())
        if not isinstance(content, Mapping) or "rows" not in content:
            raise ValueError(f"{path}: a summary YAML file needs a 'rows:' list (and optionally 'users:')")
        declared = {**dict(content.get("metrics") or {}), **dict(declared or {})}
        return summaries_from_table(pd.DataFrame(content["rows"]), declared=declared, assigned=content.get("users"))
    return summaries_from_table(pd.read_csv(path), declared=declared)

