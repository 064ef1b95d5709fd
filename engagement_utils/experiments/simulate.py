"""Seeded simulation of experiments as arrays of sufficient statistics (for coverage and false-positive checks).

Each replicate is one experiment's per-arm sums, so :func:`~.compare.compare_arms` evaluates
thousands of replicates in one vectorized call.
"""

from __future__ import annotations

import numpy as np

__all__ = ["simulated_sums", "zero_inflated_revenue", "sums_of"]


def simulated_sums(rng: np.random.Generator, n: int, draw, reps: int, chunk: int = 2_000_000) -> dict:
    """``n``, Σy, Σy², Σy³ of ``reps`` arms of ``n`` users drawn by ``draw(rng, shape)``, in memory-bounded chunks.

    Examples
    --------
    >>> s = simulated_sums(np.random.default_rng(0), 100, lambda rng, shape: rng.normal(size=shape), reps=3)
    >>> s["sum_y"].shape, float(s["n"][0])
    ((3,), 100.0)
    """
    step = max(1, chunk // n)
    parts = []
    for start in range(0, reps, step):
        y = draw(rng, (min(step, reps - start), n))
        parts.append(np.stack([y.sum(1), (y * y).sum(1), (y ** 3).sum(1)]))
    s = np.concatenate(parts, axis=1)
    return {"n": np.full(reps, float(n)), "sum_y": s[0], "sum_y2": s[1], "sum_y3": s[2]}


def zero_inflated_revenue(multiplier: float = 1.0, share: float = 0.2, mean: float = 10.0):
    """A revenue-like draw: a ``share`` of users spend an exponential amount (mean ``mean × multiplier``), the rest 0.

    Skewness about 4.5 at the defaults (80% zeros).
    """
    return lambda rng, shape: (rng.random(shape) < share) * rng.exponential(mean * multiplier, shape)


def sums_of(y, x=None, d=None) -> dict:
    """Sufficient statistics over the last axis of per-user arrays: metric ``y``, covariate ``x``, denominator ``d``.

    Examples
    --------
    >>> s = sums_of(np.array([[1.0, 2.0, 3.0]]), x=np.array([[0.0, 1.0, 1.0]]))
    >>> float(s["sum_y2"][0]), float(s["sum_xy"][0])
    (14.0, 5.0)
    """
    y = np.asarray(y, dtype=float)
    out = {"n": np.full(y.shape[:-1], float(y.shape[-1])), "sum_y": y.sum(-1), "sum_y2": (y * y).sum(-1), "sum_y3": (y ** 3).sum(-1)}
    if x is not None:
        x = np.asarray(x, dtype=float)
        out.update(sum_x=x.sum(-1), sum_x2=(x * x).sum(-1), sum_x3=(x ** 3).sum(-1), sum_xy=(x * y).sum(-1),
                   sum_x2y=(x * x * y).sum(-1), sum_xy2=(x * y * y).sum(-1))
    if d is not None:
        d = np.asarray(d, dtype=float)
        out.update(sum_d=d.sum(-1), sum_d2=(d * d).sum(-1), sum_yd=(y * d).sum(-1))
    return out
