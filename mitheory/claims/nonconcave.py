"""Report section for claim T8: block ascent with non-concave critics and encoders (CLAIMS.md).

The experiment is :mod:`mitheory.nonconcave`: per run, a fixed set of pairs of 4 + 4-dimensional
Gaussian views, MLP encoders (tanh or ReLU, 4 → 6 → 3) for both branches, the cosine critic
(τ = ½), a point reached by 0–30 alternating full-batch steps, and at that point the change of the
fixed-set DV after one update of each scheme at every step factor f (steps f/L_loc, L_loc the
spectral norm of the block Hessian there). Information values are in nats.

Rule (``decided`` in the register): a (run, block) pair *breaks monotonicity at f ≤ 1* when its
E-step, or the alternating M-step taken after it, lowers the DV for some f ∈ {¼, ½, 1}. The claim
holds when the share of such pairs under full-batch gradients has a 95 % Wilson upper bound below
:data:`MAX_SHARE` (the concave-case guarantee of T2 survives with the local curvature) and fails
when its lower bound is above it; undecided otherwise. Control: the same rule on minibatch
gradients (N = 64 fresh pairs per step, same step sizes, the change measured on the fixed set),
where gradient noise is built to break it. Reported alongside: the first factor at which an update
lowers the DV, alternating against simultaneous (matched step sizes), with intervals over runs,
and the run that decreases at the smallest factor (the falsifying case).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from estimators.atomic import atomic_savefig
from mitheory.claims.result import Claim, Control, Section
from mitheory.claims.runtime import parallel_map
from mitheory.nonconcave import (
    DECREASE_TOL,
    STEP_FACTORS,
    PointResult,
    Problem,
    first_decrease,
    median_interval,
    run_points,
    wilson_interval,
)

#: the claim's bound on the share of (run, block) pairs that decrease the DV at some f ≤ 1
MAX_SHARE = 0.10
#: the factors of the monotone region of the rule (η ≤ 1/L_loc)
SAFE_FACTORS = tuple(f for f in STEP_FACTORS if f <= 1.0)
#: minibatch size of the control
CONTROL_BATCH = 64


def _budget(quick: bool) -> dict[str, Any]:
    """Runs per activation (full batch), per minibatch size, and the minibatch sizes."""
    if quick:
        return {"runs": 12, "batch_runs": 16, "batches": (CONTROL_BATCH,)}
    return {"runs": 64, "batch_runs": 48, "batches": (CONTROL_BATCH, 512)}


def _warmup(i: int) -> int:
    return (i % 4) * 10  # points at 0, 10, 20, 30 alternating steps into training


def _run_all(seed: int, budget: dict[str, Any], progress: Callable[[str], None] | None):
    """The full-batch runs (per activation) and the minibatch runs (per N), on worker processes."""
    full_jobs = [
        (activation, seed * 100_003 + i + (0 if activation == "tanh" else 50_000), i)
        for activation in ("tanh", "relu")
        for i in range(budget["runs"])
    ]
    batch_jobs = [
        (batch, seed * 100_003 + 90_000 + i, i)
        for batch in budget["batches"]
        for i in range(budget["batch_runs"])
    ]
    jobs = [(Problem(activation=a), s, _warmup(i), None) for a, s, i in full_jobs]
    jobs += [(Problem(activation="tanh"), s, _warmup(i), b) for b, s, i in batch_jobs]
    points = parallel_map(_probe_run, jobs, label="T8", progress=progress)
    full = [(a, s, p) for (a, s, _), p in zip(full_jobs, points[: len(full_jobs)], strict=True)]
    minibatch: dict[int, list[PointResult]] = {b: [] for b in budget["batches"]}
    for (b, _, _), p in zip(batch_jobs, points[len(full_jobs):], strict=True):
        minibatch[b].append(p)
    return full, minibatch


def _probe_run(problem: Problem, run_seed: int, warmup: int, batch: int | None) -> PointResult:
    return run_points(problem, run_seed, warmup_steps=warmup, batch=batch)


def _breaks_at_safe_steps(r: PointResult) -> tuple[bool, bool]:
    """(E block, M block) lowered the DV at some f ≤ 1."""
    k = len(SAFE_FACTORS)
    e = any(c < -DECREASE_TOL for c in r.e_step[:k])
    m = any(c < -DECREASE_TOL for c in r.m_step[:k])
    return e, m


def _share(results: list[PointResult]) -> dict[str, Any]:
    flags = [flag for r in results for flag in _breaks_at_safe_steps(r)]
    k, n = sum(flags), len(flags)
    lo, hi = wilson_interval(k, n)
    verdict = "holds" if hi < MAX_SHARE else "fails" if lo > MAX_SHARE else "undecided"
    return {"broken": k, "pairs": n, "share": k / n, "interval": [lo, hi], "verdict": verdict}


def _decrease_shares(results: list[PointResult], scheme: str) -> list[dict[str, float]]:
    """Per factor: share of runs whose update of ``scheme`` lowers the DV, Wilson interval."""
    rows = []
    for j, f in enumerate(STEP_FACTORS):
        k = sum(getattr(r, scheme)[j] < -DECREASE_TOL for r in results)
        lo, hi = wilson_interval(k, len(results))
        rows.append({"factor": f, "share": k / len(results), "lo": lo, "hi": hi})
    return rows


def _first_factors(results: list[PointResult], scheme: str) -> dict[str, Any]:
    values = np.array([first_decrease(getattr(r, scheme)) for r in results])
    lo, hi = median_interval(values)
    return {"median": float(np.median(values)), "interval": [lo, hi],
            "never": int(np.isinf(values).sum()), "runs": int(values.size),
            "values": [None if math.isinf(v) else float(v) for v in values]}  # fmt: skip


def _json_factors(d: dict[str, Any]) -> dict[str, Any]:
    """A :func:`_first_factors` summary for results.json: "no decrease up to 16" is null."""
    def safe(x: float) -> float | None:
        return None if math.isinf(x) else x

    return {**d, "median": safe(d["median"]), "interval": [safe(x) for x in d["interval"]]}


def _fmt(x: float) -> str:
    return "none ≤ 16" if math.isinf(x) else f"{x:g}"


def _median(d: dict[str, Any]) -> str:
    """``**median** [lo, hi]`` of a :func:`_first_factors` summary."""
    lo, hi = d["interval"]
    return f"**{_fmt(d['median'])}** [{_fmt(lo)}, {_fmt(hi)}]"


def t8_section(
    quick: bool, seed: int, out: Path, progress: Callable[[str], None] | None = None
) -> Section:
    budget = _budget(quick)
    full, minibatch = _run_all(seed, budget, progress)
    results = [r for _, _, r in full]
    rule = _share(results)
    control = _share(minibatch[CONTROL_BATCH])
    first = {s: _first_factors(results, s) for s in ("alternating", "simultaneous")}
    # paired: per run, does the simultaneous update decrease at a smaller factor than alternating?
    alt = np.array(first["alternating"]["values"], dtype=float)
    sim = np.array(first["simultaneous"]["values"], dtype=float)
    alt, sim = np.nan_to_num(alt, nan=math.inf), np.nan_to_num(sim, nan=math.inf)
    sim_earlier, alt_earlier = int((sim < alt).sum()), int((alt < sim).sum())
    by_activation = {
        act: _first_factors([r for a, _, r in full if a == act], "alternating")
        for act in ("tanh", "relu")
    }
    # the falsifying case: the full-batch update that lowered the DV at the smallest factor
    worst = min(full, key=lambda item: first_decrease(item[2].alternating))
    w_act, w_seed, w_res = worst
    w_f = first_decrease(w_res.alternating)
    w_j = STEP_FACTORS.index(w_f) if not math.isinf(w_f) else None
    shares = {
        "alternating (full batch)": _decrease_shares(results, "alternating"),
        "simultaneous (full batch)": _decrease_shares(results, "simultaneous"),
        **{f"alternating (minibatch N = {b})": _decrease_shares(minibatch[b], "alternating")
           for b in budget["batches"]},
    }  # fmt: skip

    fig = Figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    for label, rows in shares.items():
        f = [r["factor"] for r in rows]
        p = np.array([r["share"] for r in rows])
        err = np.clip(
            [[r["share"] - r["lo"] for r in rows], [r["hi"] - r["share"] for r in rows]], 0, None
        )  # ≥ 0 up to the rounding of the Wilson bounds
        ax1.errorbar(f, p, yerr=err, marker="o", ms=3, capsize=2, label=label)
    ax1.axvline(1.0, color="k", ls=":", lw=1)
    ax1.set_xscale("log", base=2)
    ax1.set_xlabel("step factor f (η = f / L_loc)")
    ax1.set_ylabel("share of runs whose update lowers the DV")
    ax1.set_title("one update from the same point (95 % Wilson)")
    ax1.legend(fontsize=7)
    for scheme in ("alternating", "simultaneous"):
        v = np.sort(np.array([x if x is not None else 32.0 for x in first[scheme]["values"]]))
        ax2.step(v, np.arange(1, v.size + 1) / v.size, where="post", label=scheme)
    ax2.set_xscale("log", base=2)
    ax2.set_xlabel("first factor that lowers the DV (32: none up to 16)")
    ax2.set_ylabel("fraction of runs")
    ax2.set_title(f"full batch, {len(results)} runs")
    ax2.legend(fontsize=8)
    fig_name = "t8_nonconcave_block_ascent.png"
    atomic_savefig(fig, Path(out) / fig_name, dpi=110)

    share_rows = "\n".join(
        f"| {label} | " + " | ".join(f"{r['share']:.2f}" for r in rows) + " |"
        for label, rows in shares.items()
    )
    header = " | ".join(f"{f:g}" for f in STEP_FACTORS)
    case = (
        f"run seed {w_seed} ({w_act} encoders): L_θ = {w_res.curvature[0]:.3g}, "
        f"L_ξ = {w_res.curvature[1]:.3g}; the alternating update at f = {w_f:g} changes the DV by "
        f"{w_res.alternating[w_j]:+.3g} nats (E-step {w_res.e_step[w_j]:+.3g}, M-step "
        f"{w_res.m_step[w_j]:+.3g}) from {w_res.dv:.3f}"
        if w_j is not None
        else "no full-batch update lowered the DV at any factor up to 16"
    )
    md = f"""Encoders f_θ, g_ξ: MLPs 4 → 6 → 3 (tanh or ReLU); critic cos(f_θ(a), g_ξ(b))/τ with
τ = ½; objective F = DV on a fixed set of 128 pairs of Gaussian views (canonical correlations
0.9, 0.7, 0.4, 0), so F is a deterministic, non-concave function of each block. At a point reached
by 0–30 alternating full-batch steps, L_loc is the spectral norm of the block Hessian (autograd)
and every scheme takes one update of step f/L_loc per block from that point (alternating: E-step,
then the M-step at the new θ; simultaneous: both from the same point, the same step sizes).
{len(results)} full-batch runs ({budget['runs']} per activation); minibatch runs draw N fresh
pairs per gradient ({budget['batch_runs']} runs per N).

**Monotone region.** With full-batch gradients, {rule['broken']} of {rule['pairs']} (run, block)
pairs lowered the DV at some f ≤ 1: share {rule['share']:.3f}, 95 % interval
[{rule['interval'][0]:.3f}, {rule['interval'][1]:.3f}] against the bound {MAX_SHARE:g} →
**{rule['verdict']}**. With minibatch gradients (N = {CONTROL_BATCH}, the control)
{control['broken']} of {control['pairs']}: share {control['share']:.3f}
[{control['interval'][0]:.3f}, {control['interval'][1]:.3f}] → {control['verdict']}.

**Where it fails.** Share of runs whose single update lowers the DV, per step factor:

| scheme | {header} |
|{'---|' * (len(STEP_FACTORS) + 1)}
{share_rows}

First factor at which the full-batch update lowers the DV (median, ~95 % order-statistic interval;
runs with no decrease up to 16 count as larger): alternating {_median(first['alternating'])}
({first['alternating']['never']} of {len(results)} never), simultaneous
{_median(first['simultaneous'])} ({first['simultaneous']['never']} never). Per run, simultaneous
decreased at a smaller factor in {sim_earlier} runs and alternating in {alt_earlier}. By
activation (alternating): tanh {_median(by_activation['tanh'])}, ReLU
{_median(by_activation['relu'])}.

Falsifying case (smallest factor of a full-batch decrease): {case}.

![T8]({fig_name})

*Figure T8. Left: share of runs whose update lowers the fixed-set DV against the step factor
(dotted: f = 1). Right: distribution of the first factor that lowers it, alternating against
simultaneous, full batch.*
"""
    claim = Claim(
        "T8",
        rule["verdict"],
        rule["interval"][1],
        f"{rule['broken']} of {rule['pairs']} (run, block) pairs lowered the DV at f ≤ 1 with "
        f"full-batch gradients (95 % upper bound {rule['interval'][1]:.3f}); first decrease at "
        f"f = {_fmt(first['alternating']['median'])} (alternating) vs "
        f"{_fmt(first['simultaneous']['median'])} (simultaneous), median over {len(results)} runs",
        threshold=f"Wilson 95 % upper bound of the share < {MAX_SHARE:g} (holds), lower bound > "
        f"{MAX_SHARE:g} (fails)",
        control=Control(
            f"the same rule with minibatch gradients (N = {CONTROL_BATCH} fresh pairs per step)",
            control["verdict"],
            control["interval"][1],
        ),
        seeds=(seed,),
    )
    return Section(
        title="T8 — block ascent with non-concave critics and encoders",
        markdown=md,
        claims=[claim],
        figures=[fig_name],
        data={
            "t8": {
                "rule": rule, "control": control,
                "first_decrease": {k: _json_factors(v) for k, v in first.items()},
                "first_decrease_by_activation": {
                    k: _json_factors(v) for k, v in by_activation.items()},
                "simultaneous_earlier": sim_earlier, "alternating_earlier": alt_earlier,
                "shares": shares, "falsifying_case": {
                    "seed": w_seed, "activation": w_act, "factor": None if w_j is None else w_f,
                    "curvature": list(w_res.curvature),
                    "change": None if w_j is None else w_res.alternating[w_j]},
                "runs": len(results), "batches": list(budget["batches"]),
            }
        },
    )  # fmt: skip


def report_sections(
    quick: bool, seed: int, out: Path, progress: Callable[[str], None] | None = None
) -> list[Section]:
    """The T8 section, figure written into ``out``."""
    return [t8_section(quick, seed, Path(out), progress=progress)]
