"""Report section for claim T8: block ascent with non-concave critics and encoders, over whole
runs with the real optimizer (CLAIMS.md).

The experiment is :mod:`mitheory.nonconcave`. Per activation (tanh, ReLU) and seed: 4 + 4
dimensional Gaussian views, MLP encoders 4 → 6 → 3 for both branches, the cosine critic (τ = ½);
the seed fixes the initial encoders, a held-out evaluation set of 256 pairs and the stream of
minibatches (64 fresh pairs per step). Every seed is trained at every rung f of a learning-rate
ladder, twice: *alternating* (SDMI's step: the E-step on θ with AdamW, then the M-step on ξ with
its own AdamW at the new θ, on the same minibatch) and *simultaneous* (the M-step gradient taken
at the old θ, everything else equal), for 300 steps per block. The rates are f·η_L, η_L the
measured curvature bound at the initial point (:func:`~mitheory.nonconcave.curvature_step`, the
median over the activation's seeds): f ≤ 2 is where the descent lemma guarantees AdamW's first
(sign) step an ascent. The DV on the evaluation set and its standard error (delta method) are
recorded every 10 steps. Information values are in nats.

A run *stays monotone* when its evaluation DV never falls below its running maximum by more than
:data:`DROP_Z` standard errors of that maximum: a drop inside the evaluation's own 95 % error bar
on the DV is not resolved as a decrease of the objective (minibatch noise moves the DV by about
that much at every rate; the theory is silent on it). Per seed and scheme, k is the number of
rungs of the ladder at which the run stays monotone (0–6), and the *monotone range* the largest
f below the first rung at which it does not.

Rule (``decided`` in the register): per seed, the paired effect Δ = k_alternating − k_simultaneous
(rungs; a rung is a factor 4 of learning rate, the ladder's resolution), mean over the seeds of
the tanh encoders (:data:`VERDICT_ACTIVATION`) with one-sided 95 % t-bounds. The ReLU runs are
reported beside, not pooled: with the cosine critic they stay monotone up the whole ladder and
three rungs beyond it under either scheme (their control loses no rung on most seeds), so their
ties would only pull Δ̄ towards 0 (an earlier version pooled them).

The theory (alternation makes SDMI block coordinate ascent, monotone, where joint steps have no
such guarantee) says alternating is at least as stable: the claim holds when the lower bound of Δ̄
is above −:data:`MARGIN_RUNGS` (alternating is not less stable by a rung or more), fails when the
upper bound is below −MARGIN_RUNGS, and is undecided otherwise.

Control (one factor changed: the alternating arm's learning rate, ×64):
the alternating runs :data:`CONTROL_RUNGS` rungs up the ladder (the same seeds, initial encoders
and minibatches; the ladder's runs are trained three rungs further, to f = 65536, for it) against
the same simultaneous runs. An arm that is less stable by three rungs by construction must read
"fails": it shows that the rule, with its noise allowance and margin, sees a loss of stability
of that size in these runs, so "holds" could have come out the other way. (An earlier control
judged the alternating arm without the noise allowance: a change of the rule, not of the runs.)
Reported alongside: the share of non-monotone runs per scheme, activation and rung (Wilson
intervals), the median monotone range of each scheme, and, as a detail, the single full-batch
update from one point (the first factor of f/L_loc that lowers the fixed-set DV, alternating
against simultaneous).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from estimators.atomic import atomic_savefig
from mitheory.claims.result import Claim, Control, Section, opposite
from mitheory.claims.runtime import parallel_map
from mitheory.nonconcave import (
    SCHEMES,
    PointResult,
    Problem,
    RunPlan,
    RunTraces,
    first_break,
    first_decrease,
    median_interval,
    run_points,
    train_runs,
    wilson_interval,
)

#: the learning-rate ladder, in units of the measured curvature bound η_L
FACTORS = (1.0, 4.0, 16.0, 64.0, 256.0, 1024.0)
#: a drop counts when it exceeds DROP_Z standard errors of the running maximum (95 %, two-sided)
DROP_Z = 1.959963984540054
#: the margin of the rule, in rungs of the ladder (its resolution)
MARGIN_RUNGS = 1
#: the control: the alternating arm this many rungs up the ladder (its learning rate
#: × 4^CONTROL_RUNGS); the runs train on the ladder extended by as many rungs (:data:`RUN_FACTORS`)
CONTROL_RUNGS = 3
RUN_FACTORS = FACTORS + tuple(FACTORS[-1] * 4.0 ** (i + 1) for i in range(CONTROL_RUNGS))
#: one-sided level of the bounds of the paired effect
ALPHA = 0.05
ACTIVATIONS = ("tanh", "relu")
#: the activation whose runs decide the verdict: with ReLU encoders the cosine critic's runs stay
#: monotone up the whole ladder and beyond it under either scheme (their control, the full
#: report's 16 seeds: Δ̄ −0.31 [−0.73, +0.10], "holds"), so they cannot show a loss of
#: stability; they are reported beside
VERDICT_ACTIVATION = "tanh"


def _budget(quick: bool) -> dict[str, Any]:
    """Seeds per activation (whole runs; the verdict's activation gets most) and single-step
    probe runs per activation."""
    if quick:
        return {"seeds": {"tanh": 32, "relu": 4}, "steps": 300, "probes": 4}
    return {"seeds": {"tanh": 64, "relu": 16}, "steps": 300, "probes": 24}


def _job(kind: str, activation: str, seeds: tuple[int, ...], steps: int) -> Any:
    """A whole-run ladder of one activation, or the single-step probes of its seeds."""
    problem = Problem(activation=activation)
    if kind == "runs":
        return train_runs(RunPlan(problem, seeds, RUN_FACTORS, steps=steps))
    return [run_points(problem, s, warmup_steps=(s % 4) * 10) for s in seeds]


def _run_all(seed: int, budget: dict[str, int], progress: Callable[[str], None] | None):
    base = seed * 100_003
    jobs = [("runs", act, tuple(base + 1_000 * a + i for i in range(budget["seeds"][act])),
             budget["steps"]) for a, act in enumerate(ACTIVATIONS)]  # fmt: skip
    jobs += [("probe", act, (base + 50_000 + 1_000 * a + i,), 0)
             for a, act in enumerate(ACTIVATIONS) for i in range(budget["probes"])]  # fmt: skip
    out = parallel_map(_job, jobs, label="T8", progress=progress)
    traces = dict(zip(ACTIVATIONS, out[: len(ACTIVATIONS)], strict=True))
    probes = [(job[1], r) for job, rs in zip(jobs[len(ACTIVATIONS):], out[len(ACTIVATIONS):],
                                             strict=True) for r in rs]  # fmt: skip
    return traces, probes


def monotone_rungs(breaks: np.ndarray) -> np.ndarray:
    """Per run (last axis: rungs, True where the run is non-monotone), the number of leading
    rungs before the first non-monotone one (the ladder's length when none is)."""
    breaks = np.asarray(breaks, dtype=bool)
    first = np.argmax(breaks, axis=-1)
    return np.where(breaks.any(axis=-1), first, breaks.shape[-1])


def paired_effect(diffs: np.ndarray, margin: float, alpha: float = ALPHA) -> dict[str, Any]:
    """Mean of the per-seed differences Δ (rungs), its one-sided (1 − α) t-bounds and the reading
    against −``margin``: holds when the lower bound is above it, fails when the upper bound is
    below it, undecided otherwise."""
    d = np.asarray(diffs, dtype=float)
    n = d.size
    if n < 2:
        raise ValueError(f"a paired effect needs at least 2 seeds, got {n}")
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    half = float(stats.t.ppf(1 - alpha, n - 1)) * sd / math.sqrt(n)
    lo, hi = mean - half, mean + half
    verdict = "holds" if lo > -margin else "fails" if hi < -margin else "undecided"
    return {"n": n, "effect": mean, "sd": sd, "bounds": [lo, hi], "margin": margin,
            "verdict": verdict, "differences": d.tolist()}  # fmt: skip


def _analyse(traces: dict[str, RunTraces]) -> dict[str, Any]:
    """Breaks, monotone rungs, the rule's effect and the control's, per activation and pooled."""
    n_f = len(FACTORS)
    # [scheme, seed, factor of RUN_FACTORS]: the rule reads the ladder, the control the
    # alternating runs CONTROL_RUNGS rungs up it
    all_breaks = {act: first_break(tr.dv, tr.se, DROP_Z) >= 0 for act, tr in traces.items()}
    breaks = {act: b[..., :n_f] for act, b in all_breaks.items()}
    k = {act: (~b).sum(axis=-1) for act, b in breaks.items()}  # [scheme, seed]
    diffs = k[VERDICT_ACTIVATION][0] - k[VERDICT_ACTIVATION][1]
    k_ctrl = {act: (~b[0, :, CONTROL_RUNGS:CONTROL_RUNGS + n_f]).sum(axis=-1)
              for act, b in all_breaks.items()}  # fmt: skip
    ctrl_diffs = k_ctrl[VERDICT_ACTIVATION] - k[VERDICT_ACTIVATION][1]
    shares = {}
    for act, b in breaks.items():
        for s, scheme in enumerate(SCHEMES):
            rows = []
            for j, f in enumerate(FACTORS):
                n_break, n = int(b[s, :, j].sum()), b.shape[1]
                lo, hi = wilson_interval(n_break, n)
                rows.append({"factor": f, "broken": n_break, "runs": n, "share": n_break / n,
                             "lo": lo, "hi": hi})  # fmt: skip
            shares[f"{scheme} ({act})"] = rows
    ranges = {}
    for s, scheme in enumerate(SCHEMES):
        ks = monotone_rungs(breaks[VERDICT_ACTIVATION][s]).astype(float)
        lo, hi = median_interval(ks)
        ranges[scheme] = {"median": float(np.median(ks)), "interval": [lo, hi],
                          "whole_ladder": int((ks == len(FACTORS)).sum()), "runs": int(ks.size)}
    per_activation = {act: {**paired_effect(k[act][0] - k[act][1], MARGIN_RUNGS),
                            "control": paired_effect(k_ctrl[act] - k[act][1], MARGIN_RUNGS)}
                      for act in traces}  # fmt: skip
    rungs = {SCHEMES[s]: np.concatenate([k[act][s] for act in traces]).tolist() for s in (0, 1)}
    return {
        "rule": paired_effect(diffs, MARGIN_RUNGS),
        "control": paired_effect(ctrl_diffs, MARGIN_RUNGS),
        "per_activation": per_activation,
        "shares": shares,
        "monotone_range": ranges,
        "monotone_rungs": rungs,
        "alternating_later": int((diffs > 0).sum()),
        "simultaneous_later": int((diffs < 0).sum()),
        "ties": int((diffs == 0).sum()),
        "lr_unit": {act: tr.lr_unit for act, tr in traces.items()},
        "step_bounds": {act: tr.step_bounds.tolist() for act, tr in traces.items()},
    }


def _factor_of(rungs: float) -> str:
    """The largest monotone factor for a count of monotone rungs (k rungs: up to FACTORS[k−1])."""
    if rungs <= 0:
        return f"< {FACTORS[0]:g}"
    i = min(math.floor(rungs), len(FACTORS))
    return f"{FACTORS[i - 1]:g}" + ("" if i < len(FACTORS) else " (whole ladder)")


def _probe_detail(probes: list[tuple[str, PointResult]]) -> dict[str, Any]:
    out: dict[str, Any] = {"runs": len(probes)}
    for scheme in SCHEMES:
        values = np.array([first_decrease(getattr(r, scheme)) for _, r in probes])
        lo, hi = median_interval(values)
        safe = [None if math.isinf(x) else float(x) for x in (float(np.median(values)), lo, hi)]
        out[scheme] = {"median": safe[0], "interval": safe[1:],
                       "never": int(np.isinf(values).sum())}  # fmt: skip
    return out


def _fmt_factor(x: float | None) -> str:
    return "none ≤ 16" if x is None else f"{x:g}"


def _figure(traces: dict[str, RunTraces], shares: dict[str, list[dict]], out: Path) -> str:
    fig = Figure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
    styles = {"alternating": "-", "simultaneous": "--"}
    for label, rows in shares.items():
        f = [r["factor"] for r in rows]
        p = np.array([r["share"] for r in rows])
        err = np.clip([[r["share"] - r["lo"] for r in rows], [r["hi"] - r["share"] for r in rows]],
                      0, None)  # fmt: skip
        ax1.errorbar(f, p, yerr=err, marker="o", ms=3, capsize=2, label=label,
                     ls=styles[label.split(" ")[0]])  # fmt: skip
    ax1.axvline(2.0, color="k", ls=":", lw=1)
    ax1.set_xscale("log", base=2)
    ax1.set_xlabel("learning rate / η_L (dotted: the descent-lemma bound)")
    ax1.set_ylabel("share of runs that are not monotone")
    ax1.set_title("whole AdamW runs (95 % Wilson)")
    ax1.legend(fontsize=7)
    tr = traces["tanh"]
    colors = [f"C{j}" for j in range(len(FACTORS))]
    for s, scheme in enumerate(SCHEMES):
        for j, f in enumerate(FACTORS):
            ax2.plot(tr.checkpoints, np.nanmedian(tr.dv[s, :, j], axis=0), color=colors[j],
                     ls=styles[scheme], lw=1, label=f"f = {f:g}" if s == 0 else None)  # fmt: skip
    ax2.set_xlabel("step")
    ax2.set_ylabel("evaluation DV (nats), median over seeds")
    ax2.set_title("tanh: alternating (solid), simultaneous (dashed)")
    ax2.legend(fontsize=7)
    name = "t8_nonconcave_block_ascent.png"
    atomic_savefig(fig, Path(out) / name, dpi=110)
    return name


def t8_section(
    quick: bool, seed: int, out: Path, progress: Callable[[str], None] | None = None
) -> Section:
    budget = _budget(quick)
    traces, probes = _run_all(seed, budget, progress)
    a = _analyse(traces)
    rule, control, ranges = a["rule"], a["control"], a["monotone_range"]
    probe = _probe_detail(probes)
    fig_name = _figure(traces, a["shares"], out)
    n_seeds = rule["n"]
    header = " | ".join(f"{f:g}" for f in FACTORS)
    share_rows = "\n".join(
        f"| {label} | " + " | ".join(f"{r['broken']}/{r['runs']}" for r in rows) + " |"
        for label, rows in a["shares"].items()
    )
    per_act = "; ".join(
        f"{act} ({e['n']} seeds): Δ̄ = {e['effect']:+.2f} [{e['bounds'][0]:+.2f}, "
        f"{e['bounds'][1]:+.2f}] → {e['verdict']}, its control Δ̄ = "
        f"{e['control']['effect']:+.2f} → {e['control']['verdict']}"
        for act, e in a["per_activation"].items()
    )
    seeds_text = ", ".join(f"{act} {n}" for act, n in budget["seeds"].items())

    def scheme_range(scheme: str) -> str:
        r = ranges[scheme]
        lo, hi = r["interval"]
        return (f"up to f = **{_factor_of(r['median'])}** (median; ~95 % interval "
                f"[{_factor_of(lo)}, {_factor_of(hi)}]; {r['whole_ladder']} of {r['runs']} "
                f"monotone on the whole ladder)")  # fmt: skip

    ladder = ", ".join(f"{f:g}" for f in FACTORS)
    units = ", ".join(f"{act} {u:.3g}" for act, u in a["lr_unit"].items())
    md = f"""Encoders f_θ, g_ξ: MLPs 4 → 6 → 3 (tanh or ReLU); critic cos(f_θ(a), g_ξ(b))/τ with
τ = ½; Gaussian views with canonical correlations 0.9, 0.7, 0.4, 0. Training as SDMI's: per step
a minibatch of 64 fresh pairs, the E-step (AdamW on θ, ξ frozen) and the M-step (its own AdamW on
ξ, θ frozen) at the new θ (**alternating**) or at the old θ (**simultaneous**: the only
difference), {budget['steps']} steps, β = (0.9, 0.999), weight decay 10⁻⁶. Learning rates
f·η_L on the ladder f ∈ {{{ladder}}}, η_L the curvature bound of AdamW's first step at the initial
point (median over seeds: {units}); f ≤ 2 is the descent lemma's guarantee.
Seeds: {seeds_text}; a seed fixes the initial encoders, the minibatch stream and
256 held-out evaluation pairs (the runs of one seed differ only in scheme and rate). A run *stays
monotone* when its evaluation DV never drops below its running maximum by more than
{DROP_Z:.2f} × the standard error of that maximum (delta method over the evaluation pairs).

**Alternating against simultaneous** ({VERDICT_ACTIVATION} runs, which decide the verdict: with
ReLU encoders the runs of either scheme stay monotone up the whole ladder and beyond it, so they
cannot show a loss of stability; per activation below). Monotone range (the ladder below the
first non-monotone rung), over {n_seeds} seeds: alternating {scheme_range('alternating')},
simultaneous {scheme_range('simultaneous')}. Paired per seed, alternating stayed monotone at
more rungs in {a['alternating_later']} seeds, simultaneous in {a['simultaneous_later']}, tied in
{a['ties']}: Δ̄ = k_alt − k_sim = {rule['effect']:+.2f} rungs, one-sided 95 % bounds
[{rule['bounds'][0]:+.2f}, {rule['bounds'][1]:+.2f}] against −{MARGIN_RUNGS} →
**{rule['verdict']}**. Control (one factor: the alternating arm's learning rate
×{4 ** CONTROL_RUNGS}, i.e. its runs {CONTROL_RUNGS} rungs up the ladder, the same seeds and
minibatches, against the same simultaneous runs): Δ̄ = {control['effect']:+.2f}
[{control['bounds'][0]:+.2f}, {control['bounds'][1]:+.2f}] → {control['verdict']}. Per
activation: {per_act}.

Non-monotone runs per rung (broken / runs):

| scheme (activation) | {header} |
|{'---|' * (len(FACTORS) + 1)}
{share_rows}

Detail, one full-batch update from one point ({probe['runs']} points, steps f/L_loc with L_loc the
block Hessian's spectral norm): the first factor that lowers the fixed-set DV has median
{_fmt_factor(probe['alternating']['median'])} alternating
({probe['alternating']['never']} never up to 16) and
{_fmt_factor(probe['simultaneous']['median'])} simultaneous
({probe['simultaneous']['never']} never).

![T8]({fig_name})

*Figure T8. Left: share of whole runs that are not monotone against the learning rate in units of
η_L, per scheme and activation. Right: median evaluation DV along the tanh runs per rung.*
"""
    verdict = rule["verdict"]
    claim = Claim(
        "T8",
        verdict,
        rule["bounds"][0],
        f"whole AdamW runs, {n_seeds} {VERDICT_ACTIVATION} seeds (ReLU runs stay monotone "
        f"under either scheme): alternating monotone up to f = "
        f"{_factor_of(ranges['alternating']['median'])}, simultaneous up to f = "
        f"{_factor_of(ranges['simultaneous']['median'])} (median; f in units of the curvature "
        f"bound η_L); paired Δ̄ = {rule['effect']:+.2f} rungs, one-sided 95 % bounds "
        f"[{rule['bounds'][0]:+.2f}, {rule['bounds'][1]:+.2f}]",
        threshold=f"lower bound of Δ̄ > −{MARGIN_RUNGS} rung (holds), upper bound < "
        f"−{MARGIN_RUNGS} (fails)",
        control=Control(
            f"the alternating arm's learning rate ×{4 ** CONTROL_RUNGS} ({CONTROL_RUNGS} rungs up "
            f"the ladder; same seeds and minibatches): Δ̄ = {control['effect']:+.2f} rungs "
            f"[{control['bounds'][0]:+.2f}, {control['bounds'][1]:+.2f}]",
            control["verdict"],
            control["bounds"][0 if opposite(verdict) == "fails" else 1],
        ),
        seeds=(seed,),
    )
    return Section(
        title="T8 — block ascent with non-concave critics and encoders, whole runs",
        markdown=md,
        claims=[claim],
        figures=[fig_name],
        data={"t8": {**a, "probe": probe, "factors": list(FACTORS), "drop_z": DROP_Z,
                     "seeds_per_activation": budget["seeds"]}},
    )


def report_sections(
    quick: bool, seed: int, out: Path, progress: Callable[[str], None] | None = None
) -> list[Section]:
    """The T8 section, figure written into ``out``."""
    return [t8_section(quick, seed, Path(out), progress=progress)]
