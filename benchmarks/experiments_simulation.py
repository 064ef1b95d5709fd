"""Coverage, A/A false-positive rates, peeking and power loss of the experiment statistics, by seeded simulation.

    .venv/bin/python benchmarks/experiments_simulation.py [--replicates 10000]

Prints one table: scenario, quantity, target, measured and the Monte Carlo standard error
(sqrt(q(1-q)/R)). Every replicate is an array of sufficient statistics, so the run takes
about a minute. The fast versions of these checks are tests/test_experiments_coverage.py and
tests/test_experiments_sequential.py.
"""

from __future__ import annotations

import argparse

import numpy as np

from engagement_utils.experiments import compare_arms, pooled_theta, simulated_sums, sums_of, zero_inflated_revenue

DAYS = 14


def arm_sums(rng, n, draw, reps):
    return simulated_sums(rng, n, draw, reps, chunk=4_000_000)


def zero_inflated(amount):
    return lambda rng, shape: (rng.random(shape) < 0.2) * amount(rng, shape)


EXPONENTIAL = zero_inflated_revenue
LOGNORMAL = lambda m=1.0: zero_inflated(lambda rng, s: m * rng.lognormal(1.5, 1.0, s))  # noqa: E731


def row(table, scenario, quantity, target, values):
    q = float(np.mean(values))
    table.append((scenario, quantity, target, q, float(np.sqrt(q * (1 - q) / len(values)))))


def rates(table, reps, rng):
    for n_c, n_t, p_c, p_t in [(1000, 1000, 0.01, 0.015), (200, 200, 0.30, 0.36), (20000, 20000, 0.05, 0.055),
                               (500, 4500, 0.05, 0.06), (4500, 500, 0.20, 0.22), (500, 4500, 0.02, 0.025)]:
        name = f"rate {p_c:g}->{p_t:g}, n {n_c}/{n_t}"
        sums = lambda n, p: {"n": np.full(reps, float(n)), "sum_y": rng.binomial(n, p, reps).astype(float)}  # noqa: E731
        r = compare_arms(sums(n_c, p_c), sums(n_t, p_t), "binary")
        d, lift = p_t - p_c, p_t / p_c - 1
        row(table, name, f"difference CI ({'/'.join(sorted(set(r['method'])))})", "95 ± 1.5%", (r["ci_low"] <= d) & (d <= r["ci_high"]))
        row(table, name, "log-ratio lift CI", "95 ± 1.5%", (r["lift_ci_low"] <= lift) & (lift <= r["lift_ci_high"]))
        aa = compare_arms(sums(n_c, p_c), sums(n_t, p_c), "binary")
        row(table, name, "A/A difference test", "5 ± 1.5%", aa["p_value"] < 0.05)
        row(table, name, "A/A lift test", "5 ± 1.5%", aa["lift_p_value"] < 0.05)


def revenue(table, reps, rng):
    for label, gen in (("exponential", EXPONENTIAL), ("lognormal(1.5, 1)", LOGNORMAL)):
        for n_c, n_t in [(1000, 1000), (200, 1800), (1800, 200), (1000, 9000)]:
            name = f"revenue 80% zeros, {label}, n {n_c}/{n_t}"
            c, t = arm_sums(rng, n_c, gen(), reps), arm_sums(rng, n_t, gen(1.1), reps)
            true_c = float(np.mean(gen()(np.random.default_rng(0), (1, 2_000_000))))
            d = 0.1 * true_c
            for method in ("welch", "auto"):
                r = compare_arms(c, t, "mean", method=method)
                covered = (r["ci_low"] <= d) & (d <= r["ci_high"])
                row(table, name, f"difference CI ({method})", "95 ± 1.5%", covered)
            row(table, name, "log-ratio lift CI", "95 ± 1.5%", (r["lift_ci_low"] <= 0.1) & (0.1 <= r["lift_ci_high"]))
            a, b = arm_sums(rng, n_c, gen(), reps), arm_sums(rng, n_t, gen(), reps)
            for method in ("welch", "auto"):
                aa = compare_arms(a, b, "mean", method=method)
                row(table, name, f"A/A test ({method})", "5 ± 1.5%", aa["p_value"] < 0.05)
                worse = compare_arms(a, b, "mean", method=method, alternative="less")
                row(table, name, f"one-sided 'worse' test, A/A ({method})", "5 ± 1.5%", worse["p_value"] < 0.05)


def peeking(table, reps, rng):
    for label in ("rate 0.10", "revenue"):
        per_day = 150 if label.startswith("rate") else 100
        planned = 2 * DAYS * per_day

        def arm(effect):
            n = np.broadcast_to(per_day * np.arange(1, DAYS + 1.0), (reps, DAYS))
            if label.startswith("rate"):
                return {"n": n, "sum_y": rng.binomial(per_day, 0.10 * (1 + effect), (reps, DAYS)).astype(float).cumsum(1)}
            sums = [arm_sums(rng, per_day, EXPONENTIAL(1 + effect), reps) for _ in range(DAYS)]
            cum = {k: np.cumsum(np.stack([s[k] for s in sums], axis=1), axis=1) for k in ("sum_y", "sum_y2", "sum_y3")}
            return {"n": n, **cum}

        kind = "binary" if label.startswith("rate") else "mean"
        c, t = arm(0.0), arm(0.0)
        fixed = compare_arms(c, t, kind)
        seq = compare_arms(c, t, kind, method="sequential", planned_n=planned)
        row(table, f"{label}, 14 daily looks", "A/A stop at first p<0.05, fixed-horizon", "(shows the problem)", (fixed["p_value"] < 0.05).any(1))
        row(table, f"{label}, 14 daily looks", "A/A stop at first p<0.05, sequential", "<= 5%", (seq["p_value"] < 0.05).any(1))
        row(table, f"{label}, 14 daily looks", "sequence covers 0 at all 14 looks", ">= 95%", ((seq["ci_low"] <= 0) & (seq["ci_high"] >= 0)).all(1))
        effect = 0.26 if label.startswith("rate") else 0.32  # ~80% power read once at the end
        c, t = arm(0.0), arm(effect)
        fixed = compare_arms(c, t, kind)
        seq = compare_arms(c, t, kind, method="sequential", planned_n=planned)
        row(table, f"{label}, +{effect:.0%} effect", "power: fixed-horizon, read once at day 14", "-", fixed["p_value"][:, -1] < 0.05)
        row(table, f"{label}, +{effect:.0%} effect", "power: sequential, stop at first significance", "-", (seq["p_value"] < 0.05).any(1))
        row(table, f"{label}, +{effect:.0%} effect", "power: sequential, read once at day 14", "-", seq["p_value"][:, -1] < 0.05)


def cuped_and_ratio(table, reps, rng):
    n = 500
    sums = {}
    for name, effect in (("c", 0.0), ("t", 0.2), ("a", 0.0)):
        parts = []
        for start in range(0, reps, 2000):
            k = min(2000, reps - start)
            x = rng.gamma(2.0, 2.0, (k, n))
            y = 0.8 * x + rng.normal(0, 2, (k, n)) + effect
            parts.append(sums_of(y, x=x))
        sums[name] = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    th, xb = pooled_theta(sums["c"], sums["t"])
    r = compare_arms(sums["c"], sums["t"], "mean", theta=th, x_pool=xb)
    row(table, "CUPED, n 500/500, corr 0.75", "difference CI", "95 ± 1.5%", (r["ci_low"] <= 0.2) & (0.2 <= r["ci_high"]))
    th, xb = pooled_theta(sums["c"], sums["a"])
    row(table, "CUPED, n 500/500, corr 0.75", "A/A test", "5 ± 1.5%", compare_arms(sums["c"], sums["a"], "mean", theta=th, x_pool=xb)["p_value"] < 0.05)
    out = {}
    for name, mult in (("c", 1.0), ("t", 1.05)):
        parts = []
        for start in range(0, reps, 2000):
            k = min(2000, reps - start)
            sessions = rng.poisson(3.0, (k, 1000)) + 1.0
            rev = sessions * rng.gamma(2.0, 2.0 * mult, (k, 1000)) * (rng.random((k, 1000)) < 0.5)
            parts.append(sums_of(rev, d=sessions))
        out[name] = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    r = compare_arms(out["c"], out["t"], "ratio")
    row(table, "revenue per session (ratio), n 1000/1000", "delta-method difference CI", "95 ± 1.5%",
        (r["ci_low"] <= 0.1) & (0.1 <= r["ci_high"]))
    row(table, "revenue per session (ratio), n 1000/1000", "log-ratio lift CI", "95 ± 1.5%",
        (r["lift_ci_low"] <= 0.05) & (0.05 <= r["lift_ci_high"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=10_000)
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    table: list = []
    for part in (rates, revenue, cuped_and_ratio, peeking):
        part(table, args.replicates, rng)
    width = max(len(r[0]) for r in table)
    qwidth = max(len(r[1]) for r in table)
    print(f"{'scenario':<{width}}  {'quantity':<{qwidth}}  {'target':<20}  measured  MC s.e.")
    for scenario, quantity, target, q, se in table:
        print(f"{scenario:<{width}}  {quantity:<{qwidth}}  {target:<20}  {100 * q:7.2f}%  {100 * se:5.2f} pp")


if __name__ == "__main__":
    main()
