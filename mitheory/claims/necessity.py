"""Is a mechanism necessary? The paired comparison behind P1 (CLAIMS.md), with its power.

A mechanism (alternation, stop-gradient, the marginal term) is *removed* from a run that has it,
one factor at a time, and the held-out MI the run reaches is compared, seed by seed, with the
canonical run's (same seed: same data, initialization and batches). With d_s = I_ablated(s) −
I_canonical(s) over n independent seeds, d̄ their mean and s_d their standard deviation, the
one-sided (1 − α) bounds are

    lo = d̄ − t_{1−α, n−1} s_d/√n,      hi = d̄ + t_{1−α, n−1} s_d/√n

(the two ends of the (1 − 2α) interval; α = 0.05). With a margin δ on the setting's own scale
(a share of the canonical run's MI, :data:`MARGIN_SHARE`):

- **necessary**: hi < −δ: removing it lowers the MI reached by more than δ (one-sided test);
- **not needed**: lo > −δ: the run without it reaches the MI within δ or more (a one-sided
  non-inferiority test at the same level: "no difference that matters");
- **undecided** otherwise (the interval straddles −δ).

The d_s carry the held-out critic's own noise as well as the seed's, so s_d covers both. The power
of each reading is that of the actual design (n seeds, this t-test) by simulation:
d_s ~ N(Δ, σ²) with σ the pooled s_d of the comparison, at Δ = 0 for "not needed" and Δ = −2δ for
"necessary" (:func:`design_power`). All values in nats.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

#: one-sided level of each reading
ALPHA = 0.05
#: the margin δ as a share of the canonical run's mean final MI (the setting's own scale)
MARGIN_SHARE = 0.1
READINGS = ("necessary", "not needed", "undecided")


def paired_effect(canonical: list[float], ablated: list[float], margin: float,
                  alpha: float = ALPHA) -> dict[str, Any]:  # fmt: skip
    """The effect of removing a mechanism, d̄ = mean_s (ablated_s − canonical_s), its one-sided
    bounds and its reading against ``margin`` (see the module docstring). Needs ≥ 2 seeds."""
    if len(canonical) != len(ablated):
        raise ValueError(f"need one ablated run per canonical seed, got {len(ablated)} and "
                         f"{len(canonical)}")  # fmt: skip
    n = len(canonical)
    if n < 2:
        raise ValueError(f"a paired effect needs at least 2 seeds (for its spread), got {n}")
    if not margin > 0:
        raise ValueError(f"margin must be > 0 nats, got {margin!r}")
    d = np.asarray(ablated, dtype=float) - np.asarray(canonical, dtype=float)
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    half = float(stats.t.ppf(1 - alpha, n - 1)) * sd / math.sqrt(n)
    lo, hi = mean - half, mean + half
    reading = "necessary" if hi < -margin else "not needed" if lo > -margin else "undecided"
    return {"n": n, "effect": mean, "sd": sd, "bounds": [lo, hi], "margin": margin,
            "reading": reading, "canonical": [float(v) for v in canonical],
            "differences": d.tolist()}  # fmt: skip


def design_power(n: int, sigma: float, margin: float, alpha: float = ALPHA,
                 draws: int = 20_000, seed: int = 0) -> dict[str, float]:  # fmt: skip
    """Power of the n-seed design by simulating it: the share of ``draws`` designs with
    d_s ~ N(Δ, σ²) that read "not needed" at Δ = 0 and "necessary" at Δ = −2·margin."""
    if n < 2:
        raise ValueError(f"the design needs at least 2 seeds, got {n}")
    rng = np.random.default_rng(seed)
    t = float(stats.t.ppf(1 - alpha, n - 1))
    noise = rng.standard_normal((draws, n)) * max(sigma, 1e-12)
    half = t * noise.std(axis=1, ddof=1) / math.sqrt(n)
    mean0 = noise.mean(axis=1)
    return {"not_needed_at_0": float(np.mean(mean0 - half > -margin)),
            "necessary_at_2margin": float(np.mean(mean0 - 2 * margin + half < -margin))}


def pooled_sd(effects: list[dict[str, Any]]) -> float:
    """√(mean of the effects' variances s_d²): the design's σ."""
    return math.sqrt(float(np.mean([e["sd"] ** 2 for e in effects]))) if effects else 0.0


def necessity_verdict(readings: list[str]) -> str:
    """"Each removed mechanism is necessary": holds when every comparison reads necessary, fails
    when every one reads not needed, partial when both readings occur, undecided otherwise."""
    if not readings:
        return "undecided"
    necessary, not_needed = readings.count("necessary"), readings.count("not needed")
    if necessary and not_needed:
        return "partial"
    if necessary == len(readings):
        return "holds"
    return "fails" if not_needed == len(readings) else "undecided"
