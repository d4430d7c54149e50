"""Does the MI a method reaches predict its downstream accuracy? The method-level test behind P5
(CLAIMS.md), with the power of its actual design.

Design. M methods are trained at each of L training lengths, with n independent seeds per
(method, length): fresh seeds for every length, so the L strata are independent; within a length
the methods share their seeds' data sets (a block design: a data set that is easy for every
method shifts every method's accuracy alike and leaves their ranks alone). Per run the read-outs
are the held-out MI of the backbone features (nats) and the linear-probe accuracy on a test set
large enough for a binomial SE ≤ :data:`MAX_ACC_SE`.

Statistic. Per length ℓ the method means over seeds, (Ī_jℓ, Ā_jℓ), and their Spearman ρ_ℓ across
the M methods; T = mean_ℓ ρ_ℓ. The unit of inference is the method: seeds only make each
method's point precise.

Test. Under H0 (no relation between a method's MI and its accuracy at a length) the accuracy
ranks are a uniform random permutation of the MI ranks, independently per length. Without ties
ρ_ℓ depends on the data only through that permutation, so the null distribution of T is the same
for every data set: it is drawn once by Monte Carlo (:data:`N_NULL` draws) and the one-sided
p = (1 + #{T_null ≥ T}) / (1 + N_NULL) is the permutation test between methods.

Power. The actual design is simulated (:func:`design_power`): per length, method-level truths
(μ_I, μ_A) from a bivariate normal whose Spearman correlation is ``rho_alt`` (Pearson
r = 2 sin(π ρ/6)), as persistent across lengths as the observed method means are
(:func:`persistence`: the lengths re-measure the same methods, so they are not independent
samples of methods), spread as the observed method means are, each observed through the mean of
n seeds with the observed seed standard deviation of that method (block residuals); the share of
simulated designs with p < α is the power. With M = 10 methods it cannot exceed the power of one
length's Spearman test at n = 10 by much once the persistence is high.

Verdict (:func:`verdict`): **holds** when p < α (one-sided, α = 0.05); otherwise **fails** when
the simulated power to detect ρ = ``rho_alt`` is ≥ :data:`REQUIRED_POWER` (a relation of that
size is ruled out by a design able to see it), **undecided** when it is not.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

#: one-sided level of the permutation test
ALPHA = 0.05
#: the effect the design must be able to see, and the power it needs to read "fails"
RHO_ALT, REQUIRED_POWER = 0.5, 0.8
#: the largest binomial SE of a run's probe accuracy the design allows
MAX_ACC_SE = 0.007
#: Monte Carlo draws of the null distribution of T, and simulated designs for the power
N_NULL, N_SIM = 20000, 2000


def probe_test_size(max_se: float = MAX_ACC_SE) -> int:
    """The smallest test set whose accuracy SE √(p(1 − p)/n) is ≤ ``max_se`` at every p
    (the worst case p = ½): n = ⌈1/(4 max_se²)⌉."""
    return math.ceil(1 / (4 * max_se**2))


def method_table(points: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per training length: the methods (sorted), their seed means of MI and accuracy, the
    within-method seed standard deviations and the number of seeds. ``points`` are runs with
    ``method``, ``steps``, ``seed``, ``mi`` and ``probe_acc``; every (method, length) needs ≥ 2
    seeds. Where the methods of a length share their seeds (the block design), the SDs are those
    of the residuals v_js − mean_j' v_j's, scaled by √(M/(M − 1)): a seed's data set moves every
    method alike, which changes no rank of the method means and is no noise for the test."""
    table: dict[int, dict[str, Any]] = {}
    for steps in sorted({p["steps"] for p in points}):
        at = [p for p in points if p["steps"] == steps]
        methods = sorted({p["method"] for p in at})
        cells = {m: sorted((p for p in at if p["method"] == m), key=lambda p: p["seed"])
                 for m in methods}  # fmt: skip
        short = [m for m, c in cells.items() if len(c) < 2]
        if short:
            raise ValueError(f"P5 needs ≥ 2 seeds per (method, length); {steps} steps has "
                             f"{', '.join(short)} with fewer")  # fmt: skip
        blocked = len({tuple(p["seed"] for p in c) for c in cells.values()}) == 1
        row: dict[str, Any] = {"methods": methods, "blocked": blocked,
                               "seeds": [len(cells[m]) for m in methods]}  # fmt: skip
        for key, name in (("mi", "mi"), ("probe_acc", "acc")):
            v = [np.array([p[key] for p in cells[m]], float) for m in methods]
            row[name] = [float(x.mean()) for x in v]
            if blocked and len(methods) > 1:
                grid = np.stack(v)  # [M, seeds]
                resid = (grid - grid.mean(0)) * math.sqrt(len(methods) / (len(methods) - 1))
                row[f"{name}_sd"] = [float(r.std(ddof=1)) for r in resid]
            else:
                row[f"{name}_sd"] = [float(x.std(ddof=1)) for x in v]
        table[steps] = row
    return table


def _spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman ρ of each row pair of a, b [..., M] (no ties, as for continuous read-outs)."""
    ra = a.argsort(-1).argsort(-1).astype(float)
    rb = b.argsort(-1).argsort(-1).astype(float)
    m = a.shape[-1]
    d2 = ((ra - rb) ** 2).sum(-1)
    return 1 - 6 * d2 / (m * (m * m - 1))


def null_statistic(sizes: list[int], rng: np.random.Generator, draws: int = N_NULL) -> np.ndarray:
    """Draws of T = mean_ℓ ρ_ℓ under H0 for strata of ``sizes`` methods: a uniform random
    permutation of the ranks per stratum."""
    rho = []
    for m in sizes:
        ranks = np.broadcast_to(np.arange(m, dtype=float), (draws, m))
        perm = rng.permuted(ranks, axis=1)
        rho.append(_spearman_rows(ranks.copy(), perm))
    return np.mean(rho, axis=0)


def p_value(t: float | np.ndarray, null: np.ndarray) -> np.ndarray:
    """One-sided Monte Carlo permutation p of T (large T: accuracy rises with MI)."""
    ordered = np.sort(null)
    above = ordered.size - np.searchsorted(ordered, np.asarray(t) - 1e-12, side="left")
    return (1 + above) / (1 + ordered.size)


def statistic(table: dict[int, dict[str, Any]]) -> tuple[float, dict[int, float]]:
    """T and the per-length ρ_ℓ of the method means."""
    per = {steps: float(stats.spearmanr(row["mi"], row["acc"]).statistic)
           for steps, row in table.items()}  # fmt: skip
    per = {k: (v if math.isfinite(v) else 0.0) for k, v in per.items()}
    return float(np.mean(list(per.values()))), per


def persistence(table: dict[int, dict[str, Any]]) -> float:
    """How much of a method's standing carries over from one training length to another: the
    mean, over MI and accuracy and over pairs of lengths, of the Pearson correlation of the
    method means across lengths, clipped to [0, 1] (1 with a single length: nothing is known,
    and a method seen at one length is one sample)."""
    rows = list(table.values())
    if len(rows) < 2:
        return 1.0
    corr = [float(np.corrcoef(rows[i][q], rows[j][q])[0, 1])
            for q in ("mi", "acc") for i in range(len(rows)) for j in range(i + 1, len(rows))]
    corr = [c if math.isfinite(c) else 1.0 for c in corr]
    return float(min(1.0, max(0.0, np.mean(corr))))


def design_power(table: dict[int, dict[str, Any]], rng: np.random.Generator,
                 rho_alt: float = RHO_ALT, alpha: float = ALPHA, sims: int = N_SIM,
                 null: np.ndarray | None = None) -> float:  # fmt: skip
    """Power of the permutation test of this design against a method-level Spearman ρ =
    ``rho_alt`` (module docstring). Per length ℓ the standardized method truths are
    u_ℓ = √c·a + √(1 − c)·a_ℓ and v_ℓ = √c·b + √(1 − c)·b_ℓ, with (a, b) and each (a_ℓ, b_ℓ)
    bivariate normal at Pearson r = 2 sin(π ρ/6) and c = :func:`persistence` (the same methods
    at every length: with c = 1 more lengths only average seed noise, they add no methods); they
    are spread as the observed method means are and observed through the mean of each cell's
    seeds, with the observed (block-residual) seed SDs."""
    sizes = [len(row["methods"]) for row in table.values()]
    if len(set(sizes)) != 1:
        raise ValueError(f"every length needs the same methods, got counts {sizes}")
    null = null_statistic(sizes, rng) if null is None else null
    m, c = sizes[0], persistence(table)
    r = 2 * math.sin(math.pi * rho_alt / 6)
    cov = np.array([[1.0, r], [r, 1.0]])
    shared = rng.multivariate_normal(np.zeros(2), cov, size=(sims, m))  # [sims, M, 2]
    rho = []
    for row in table.values():
        own = rng.multivariate_normal(np.zeros(2), cov, size=(sims, m))
        truth = math.sqrt(c) * shared + math.sqrt(1 - c) * own
        spread = np.array([np.std(row["mi"], ddof=1), np.std(row["acc"], ddof=1)])
        noise_sd = np.stack([np.asarray(row["mi_sd"]), np.asarray(row["acc_sd"])], -1)
        noise_sd = noise_sd / np.sqrt(np.asarray(row["seeds"], float))[:, None]
        observed = truth * spread + noise_sd * rng.standard_normal((sims, m, 2))
        rho.append(_spearman_rows(observed[..., 0], observed[..., 1]))
    t = np.mean(rho, axis=0)
    return float(np.mean(p_value(t, null) < alpha))


def verdict(p: float, power: float, alpha: float = ALPHA) -> str:
    """holds: p < α; fails: not significant with power ≥ :data:`REQUIRED_POWER`; else
    undecided."""
    if p < alpha:
        return "holds"
    return "fails" if power >= REQUIRED_POWER else "undecided"


def decide(points: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    """The whole P5 test on runs ``points``: method table, T, per-length ρ, permutation p,
    simulated power and verdict (a seeded generator makes it reproducible)."""
    table = method_table(points)
    rng = np.random.default_rng(seed)
    null = null_statistic([len(row["methods"]) for row in table.values()], rng)
    t, per = statistic(table)
    p = float(p_value(t, null))
    power = design_power(table, rng, null=null)
    return {"table": table, "rho": t, "strata": per, "p": p, "power": power,
            "persistence": persistence(table),
            "verdict": verdict(p, power), "n_runs": len(points),
            "methods": len(next(iter(table.values()))["methods"]), "lengths": list(table),
            "seeds": min(min(row["seeds"]) for row in table.values())}
