"""P7: the SDMI predictor as the surrogate of the missing marginal term (CLAIMS.md).

The theory explains SDMI without a marginal term by the predictor q standing in for it: the
E-step ascends the joint term J of DV = J − M through q, and q keeps θ away from the constant
solutions that J alone rewards (T7). This experiment measures that surrogate instead of inferring
it from "no collapse".

**Runs.** The P1–P4 runs of ``mitheory.claims.training`` (``paradigms.training`` on the synthetic
Gaussian mixture, one horizon) carry this family's probe, and P7 adds runs of canonical ``sdmi``
with ``--ablate marginal`` for each M-step (copy, EMA, gradient) and a predictor of controlled
capacity: none (identity), linear of rank r (``pred_rank``: q = U Vᵀ on the 64-dimensional
embedding), or a 2-layer MLP of hidden width w (``mlp:w``; w = 64 is the default predictor).
The P3 arms are P7's "none", "mlp:64" and its reference: per M-step and seed the run that keeps
the explicit marginal term (default MLP predictor), so "relative DV" compares like with like:
same seed, M-step, horizon.

**Measured** at every evaluation on the 512 fixed held-out pairs, with the training critic
S_ij = cos(p_a^i, z_b^j)/τ (τ = 0.1), symmetrised over the two view orders and the target under
stop-gradient (the E-step's view of the objective):

- J, DV = J − M and M̂ = J − DV, the marginal term the run does not train on;
- the **alignment** a = cos(∇_θ J, ∇_θ DV) over the online parameters θ (backbone, projector,
  predictor): the E-step direction the run follows against the full-DV direction at the same
  point. a = 1: the joint-term step is a full-DV step; a ≤ 0: to first order it lowers the DV;
- at the end, RankMe of the target embedding z and of the prediction p, ``collapsed`` (the
  monitors' rule on z), and the cos-DV of the target embeddings themselves, DV(z_a, z_b), which
  involves no predictor (a rank-r prediction caps DV(p, z): at r = 1 every p is ±one direction).

Per run: relative DV = final DV(z_a, z_b) / the reference's, read on the embeddings (a rank-r
prediction would cap a DV read through the predictor); fidelity = mean alignment over the
evaluations after step 0.

**Rule**, per M-step (a predictor run = any capacity but none):

1. capacity: Spearman ρ between capacity order (none < rank 1 < … < rank 64 < MLPs by width)
   and relative DV over the predictor runs that have not collapsed is > 0 with a one-sided
   permutation p < 0.05 (a collapsed run's DV is noise about 0, and ranking noise found
   "relations" among the control's collapsed runs: ρ = 0.95, p = 5e-4, full report);
2. fidelity: Spearman ρ between fidelity and relative DV over the same runs is > 0 with
   p < 0.05;
3. surrogate: at least one predictor run is not collapsed, and every predictor run that is not
   collapsed gains relative DV ≥ ``GAIN`` over the same seed's run without predictor (a
   predictor that prevents collapse without raising the DV is not standing in for M).

The claim is decided on the M-steps that tie ξ to θ (copy; EMA too in the full report):
"holds" when every check passes on each, "fails" when none does, "partial" otherwise.
**Negative control**, one factor (the predictor's training): the same three checks on predictors
of the same capacities frozen at their random initialization (``pred_frozen``, copy M-step,
scored against the same seed's reference and no-predictor run). A frozen predictor has the
capacity but was not fitted, so it stands in for nothing; at equal capacity its alignment
differs from the trained one's, which is how capacity and alignment come apart.

``paradigms`` is imported inside the probe functions. All values in nats.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from estimators.atomic import atomic_savefig
from mitheory.claims.result import Claim, Control, Section, verdict_of

TEMPERATURE = 0.1  # the SDMI critic's τ (paradigms.methods.sdmi)
#: check 3: the least relative-DV gain over no predictor that counts as standing in for M
GAIN = 0.1
#: one-sided permutation level of checks 1 and 2, and the permutations drawn
ALPHA = 0.05
PERMUTATIONS = 20_000
#: the relative DV is read on the target embeddings (``final_embeddings``), not through q
READ = "dv_z"
#: the methods' own predictor (2-layer MLP of the embedding's width, 64): P3's arms and the
#: explicit-marginal references use it
DEFAULT_CAPACITY = "mlp:64"
#: the M-step of the frozen-predictor runs (the control)
FROZEN_M_STEP = "copy"


@dataclass(frozen=True)
class PredictorPlan:
    """M-steps and predictor capacities of the sweep (seeds and horizon: the P1–P4 budget)."""

    m_steps: tuple[str, ...]  # the claim's
    capacities: tuple[str, ...]  # "none", "rank:r", "mlp:w"
    #: M-steps that sweep fewer capacities than ``capacities``
    fewer: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def of(self, m_step: str) -> tuple[str, ...]:
        """The capacities swept with ``m_step``."""
        return dict(self.fewer).get(m_step, self.capacities)

    @property
    def frozen(self) -> tuple[str, ...]:
        """The control's capacities: every predictor of the copy sweep, frozen."""
        return tuple(c for c in self.of(FROZEN_M_STEP) if c != "none")


def plan(quick: bool) -> PredictorPlan:
    """Quick: the copy M-step with 6 capacities, and the 5 predictors frozen (8 runs beyond P3's
    arms). Full: copy with ranks 1, 2, 4, 8, 64 and MLP widths 16, 64, 256, EMA with the ranks and
    the default MLP, and the 8 copy predictors frozen (20 runs per seed beyond P3's)."""
    ranks = ("rank:1", "rank:2", "rank:4", "rank:8", "rank:64")
    if quick:
        return PredictorPlan(("copy",), ("none", "rank:1", "rank:2", "rank:4", "rank:64", "mlp:64"))
    return PredictorPlan(("copy", "ema"), ("none", *ranks, "mlp:16", "mlp:64", "mlp:256"),
                         (("ema", ("none", *ranks, "mlp:64")),))  # fmt: skip


def runs_of(p: PredictorPlan) -> list[tuple[str, str, bool]]:
    """(M-step, capacity, marginal term on) of every run the plan needs, references included."""
    out: list[tuple[str, str, bool]] = []
    for m_step in p.m_steps:
        out += [(m_step, c, False) for c in p.of(m_step)] + [(m_step, DEFAULT_CAPACITY, True)]
    return out


def method_options(m_step: str, capacity: str) -> dict[str, Any]:
    """``sdmi`` method options of an M-step and a predictor capacity ("none" is the
    ``predictor`` ablation, not an option)."""
    kind, _, size = capacity.partition(":")
    capacity_order(capacity)  # validates
    options: dict[str, Any] = {"target_update": m_step}
    if kind == "rank":
        options["pred_rank"] = int(size)
    elif kind == "mlp" and capacity != DEFAULT_CAPACITY:
        options["pred_hidden_dim"] = int(size)
    return options




def frozen_options(capacity: str) -> dict[str, Any]:
    """``sdmi`` method options of a frozen predictor of ``capacity`` (copy M-step)."""
    return {**method_options(FROZEN_M_STEP, capacity), "pred_frozen": True}


def frozen_rows(records: list[dict[str, Any]],
                frozen: list[dict[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    """Per capacity: relative DV (:func:`relative`, the copy M-step's scale) and fidelity of the
    trained and the frozen predictor runs, and how many collapsed."""
    trained = relative(records, FROZEN_M_STEP)
    still = relative(records, FROZEN_M_STEP, frozen)
    rows = []
    for c in sorted({r["capacity"] for r in still}, key=capacity_order):
        t = [r for r in trained if r["capacity"] == c]
        f = [r for r in still if r["capacity"] == c]
        rows.append({"capacity": c, "trained": [r["rel_dv"] for r in t],
                     "frozen": [r["rel_dv"] for r in f],
                     "trained_fidelity": [r["fidelity"] for r in t],
                     "frozen_fidelity": [r["fidelity"] for r in f],
                     "trained_collapsed": sum(r["collapsed"] for r in t),
                     "frozen_collapsed": sum(r["collapsed"] for r in f),
                     "seeds": len(f)})  # fmt: skip
    return rows


def alignment_at_equal_capacity(records: list[dict[str, Any]],
                                frozen: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    """Capacity held fixed, alignment varied: for each (capacity, seed) with a trained and a
    frozen run (copy M-step, fidelity finite), whether the run with the higher fidelity reached
    the higher relative DV; with its one-sided sign-test p (no relation: each pair agrees with
    probability ½)."""
    trained = {(r["capacity"], r["seed"]): r for r in relative(records, FROZEN_M_STEP)}
    pairs = []
    for f in relative(records, FROZEN_M_STEP, frozen):
        t = trained.get((f["capacity"], f["seed"]))
        if t is None or not (math.isfinite(t["fidelity"]) and math.isfinite(f["fidelity"])):
            continue
        pairs.append((t["fidelity"] - f["fidelity"]) * (t["rel_dv"] - f["rel_dv"]) > 0)
    agree = int(sum(pairs))
    p = float(stats.binom.sf(agree - 1, len(pairs), 0.5)) if pairs else 1.0
    return {"pairs": len(pairs), "agree": agree, "p": p}


def capacity_order(capacity: str) -> float:
    """Sort key: none < linear ranks (by rank) < MLPs (by width; a ReLU layer above any linear)."""
    if capacity == "none":
        return 0.0
    kind, _, size = capacity.partition(":")
    if kind not in ("rank", "mlp") or not size.isdigit() or int(size) < 1:
        raise ValueError(f"capacity must be 'none', 'rank:r' or 'mlp:w', got {capacity!r}")
    return (1.0 if kind == "rank" else 1000.0) + math.log2(int(size))


# ---------------------------------------------------------------------------- measurement


def _flat_grad(value: Any, params: list[Any]) -> Any:
    import torch

    grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).flatten()
                      for g, p in zip(grads, params, strict=True)])  # fmt: skip


def surrogate_probe(m: Any, x_a: Any, x_b: Any) -> dict[str, float]:
    """J, DV, M̂ = J − DV and the alignment cos(∇_θ J, ∇_θ DV) on held-out views (nats).

    ``m`` is an SDMI method. Both objectives are the symmetrised training critic
    (``paradigms.methods.objectives``: ``joint_only_loss`` and ``dv_loss`` at τ = 0.1, negated) with
    the target under stop-gradient; the gradients come from ``torch.autograd.grad`` (no ``.grad`` is
    touched, and the model is in eval mode during evaluations), so the run is unchanged.
    """
    import torch

    from paradigms.methods.objectives import dv_loss, joint_only_loss

    params = [p for p in m.online_params() if p.requires_grad]
    with torch.enable_grad():
        p_a, p_b = m.predictor(m.online(x_a)), m.predictor(m.online(x_b))
        z_a, z_b = m.target(x_a).detach(), m.target(x_b).detach()

        def both(loss: Callable[..., Any]) -> Any:
            return -0.5 * (loss(p_a, z_b, TEMPERATURE) + loss(p_b, z_a, TEMPERATURE))

        joint, dv = both(joint_only_loss), both(dv_loss)
        g_joint, g_dv = _flat_grad(joint, params), _flat_grad(dv, params)
    norm = float(g_joint.norm() * g_dv.norm())
    joint, dv = joint.detach(), dv.detach()
    return {"joint": float(joint), "dv": float(dv), "m_hat": float(joint - dv),
            "align": float(g_joint @ g_dv) / norm if norm > 0 else math.nan}  # fmt: skip


def final_embeddings(m: Any, x_a: Any, x_b: Any) -> dict[str, float]:
    """RankMe of z and p, and the cos-DV of the target embeddings (no predictor) at the end."""
    from paradigms.measurement.monitors import effective_rank
    from paradigms.methods.objectives import dv_loss

    z_a, z_b = m.target(x_a), m.target(x_b)
    dv_z = -0.5 * (dv_loss(z_a, z_b, TEMPERATURE) + dv_loss(z_b, z_a, TEMPERATURE))
    return {"rankme_p": effective_rank(m.predictor(m.online(x_a))), "dv_z": float(dv_z)}


def record(m_step: str, capacity: str, marginal: bool, seed: int, summary: dict[str, Any],
           probe: dict[str, Any], steps: int) -> dict[str, Any]:  # fmt: skip
    """One run's P7 record from its training summary and its ``surrogate`` probe (the curve of
    :func:`surrogate_probe` and the :func:`final_embeddings` values)."""
    curve = probe["curve"]
    after = [c["align"] for c in curve[1:] if math.isfinite(c["align"])]
    return {
        "m_step": m_step, "capacity": capacity, "marginal": marginal, "seed": seed,
        "dv": curve[-1]["dv"], "m_hat": curve[-1]["m_hat"], "rankme": summary["effective_rank"],
        "collapsed": bool(summary["collapsed"]),
        "fidelity": float(np.mean(after)) if after else math.nan, "curve": curve, **probe["final"],
    }  # fmt: skip


# ---------------------------------------------------------------------------- the rule


def _perm_spearman(x: list[float], y: list[float], seed: int) -> tuple[float, float]:
    """Spearman ρ and its one-sided permutation p-value (ρ > 0) from ``PERMUTATIONS`` draws;
    ρ = nan and p = 1 when y spreads by less than ``GAIN`` (no effect to rank: the control's
    collapsed runs differ only by noise of order 1e-4) or x is constant."""
    if len(x) < 3 or len(set(x)) < 2 or np.ptp(y) < GAIN:
        return math.nan, 1.0
    rx = stats.rankdata(x)
    rx = (rx - rx.mean()) / np.linalg.norm(rx - rx.mean())
    ry = stats.rankdata(y)
    ry = (ry - ry.mean()) / np.linalg.norm(ry - ry.mean())
    rho = float(rx @ ry)
    perms = np.random.default_rng(seed).permuted(np.tile(ry, (PERMUTATIONS, 1)), axis=1)
    return rho, float((1 + np.sum(perms @ rx >= rho - 1e-12)) / (1 + PERMUTATIONS))


def relative(records: list[dict[str, Any]], m_step: str,
             runs: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The M-step's marginal-off runs (or ``runs``: the frozen predictors), each with relative
    DV (its DV(z_a, z_b) over the same seed's explicit-marginal reference of ``m_step``) and its
    gain over the same seed's run of ``m_step`` without predictor."""
    own = [r for r in records if r["m_step"] == m_step]
    ref = {r["seed"]: r[READ] for r in own if r["marginal"]}
    none = {r["seed"]: r[READ] / ref[r["seed"]] for r in own
            if not r["marginal"] and r["capacity"] == "none"}  # fmt: skip
    rows = [dict(r) for r in (own if runs is None else runs) if not r["marginal"]]
    for r in rows:
        r["rel_dv"] = r[READ] / ref[r["seed"]]
        r["gain"] = r["rel_dv"] - none[r["seed"]]
    return rows


def checks(rows: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    """The three checks of the rule on one M-step's rows (see the module docstring)."""
    pred = [r for r in rows if r["capacity"] != "none"]
    alive = [r for r in pred if not r["collapsed"]]
    rho_c, p_c = _perm_spearman([capacity_order(r["capacity"]) for r in alive],
                                [r["rel_dv"] for r in alive], seed)  # fmt: skip
    ok_f = [r for r in alive if math.isfinite(r["fidelity"])]
    rho_f, p_f = _perm_spearman([r["fidelity"] for r in ok_f], [r["rel_dv"] for r in ok_f],
                                seed + 1)  # fmt: skip
    falsifiers = [r for r in alive if r["gain"] < GAIN]
    return {
        "capacity": {"rho": rho_c, "p": p_c, "pass": bool(rho_c > 0 and p_c < ALPHA)},
        "fidelity": {"rho": rho_f, "p": p_f, "pass": bool(rho_f > 0 and p_f < ALPHA)},
        "surrogate": {
            "alive": len(alive),
            "runs": len(pred),
            "pass": bool(alive) and not falsifiers,
            "falsifiers": [
                f"{r['capacity']} (seed {r['seed']}): rel. DV {r['rel_dv']:.2f}, "
                f"gain {r['gain']:+.2f}, RankMe z {r['rankme']:.1f}, p "
                f"{r.get('rankme_p', math.nan):.1f}"
                for r in falsifiers
            ],
        },
    }


def _n_pass(c: dict[str, Any]) -> int:
    return sum(c[k]["pass"] for k in ("capacity", "fidelity", "surrogate"))


def _listing(items: list[str], most: int = 3) -> str:
    """The first ``most`` items, then how many there are in all ("none" when empty)."""
    if not items:
        return "none"
    more = f"; … ({len(items)} in all)" if len(items) > most else ""
    return "; ".join(items[:most]) + more


#: the key of the control's checks among the per-M-step ones
FROZEN = "copy, frozen"


def p7_claim(records: list[dict[str, Any]], b: PredictorPlan, seed: int,
             frozen: list[dict[str, Any]]) -> tuple[Claim, dict[str, Any]]:  # fmt: skip
    """The P7 claim from the sweep's records and the frozen predictors' (the control), and the
    checks per M-step and for the control (key :data:`FROZEN`)."""
    by_step = {m: checks(relative(records, m), seed) for m in b.m_steps}
    by_step[FROZEN] = checks(relative(records, FROZEN_M_STEP, frozen), seed)
    claim_checks = [by_step[m] for m in b.m_steps]
    passed = sum(_n_pass(c) for c in claim_checks)
    verdict = verdict_of(passed, 3 * len(claim_checks))
    control = by_step[FROZEN]
    falsifiers = [f"{m}: {f}" for m in b.m_steps for f in by_step[m]["surrogate"]["falsifiers"]]
    top = max(
        (r for r in relative(records, b.m_steps[0]) if r["capacity"] != "none"),
        key=lambda r: r["rel_dv"],
    )
    detail = (
        f"{passed}/{3 * len(claim_checks)} checks pass over M-steps {', '.join(b.m_steps)}; "
        + "; ".join(
            f"{m}: capacity ρ = {by_step[m]['capacity']['rho']:.2f} (p = "
            f"{by_step[m]['capacity']['p']:.3g}), fidelity ρ = {by_step[m]['fidelity']['rho']:.2f} "
            f"(p = {by_step[m]['fidelity']['p']:.3g})"
            for m in b.m_steps
        )
        + f"; best predictor {top['capacity']} reaches {top['rel_dv']:.2f} of the "
        f"explicit-marginal DV; falsifiers (not collapsed, gain < {GAIN}): "
        + _listing(falsifiers)
    )
    claim = Claim(
        "P7", verdict, float(top["rel_dv"]), detail,
        threshold=(
            f"per M-step tying ξ to θ: capacity and fidelity Spearman ρ with relative DV > 0 at "
            f"one-sided permutation p < {ALPHA}, and every non-collapsed predictor run gains ≥ "
            f"{GAIN} relative DV over no predictor"
        ),
        control=Control(
            f"one factor, the predictor's training: the same checks on the {len(b.frozen)} "
            f"predictors of the {FROZEN_M_STEP} sweep frozen at their random initialization "
            f"(not collapsed: {control['surrogate']['alive']}/{control['surrogate']['runs']}): "
            f"{_n_pass(control)}/3 pass", verdict_of(_n_pass(control), 3), float(_n_pass(control)),
        ),
        seeds=tuple(sorted({r["seed"] for r in records})),
    )  # fmt: skip
    return claim, by_step


# ---------------------------------------------------------------------------- the section


def _sets(records: list[dict[str, Any]], b: PredictorPlan,
          frozen: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """The relative rows of each M-step's sweep and of the frozen predictors (the control)."""
    out = {m: relative(records, m) for m in b.m_steps}
    out[FROZEN] = relative(records, FROZEN_M_STEP, frozen)
    return out


def _plot(records: list[dict[str, Any]], b: PredictorPlan, frozen: list[dict[str, Any]],
          out: Path) -> str:  # fmt: skip
    fig = Figure(figsize=(13, 4.4))
    axes = fig.subplots(1, 3)
    colors = {"copy": "tab:blue", "ema": "tab:green", FROZEN: "tab:red"}
    every = sorted({r["capacity"] for r in records if not r["marginal"]}, key=capacity_order)
    axes[0].set_xticks(np.arange(len(every)), every, rotation=45, fontsize=7)
    for m, rows in _sets(records, b, frozen).items():
        caps = sorted({r["capacity"] for r in rows}, key=capacity_order)
        x = [every.index(c) for c in caps]  # one axis for every M-step's capacities
        mean = [np.mean([r["rel_dv"] for r in rows if r["capacity"] == c]) for c in caps]
        lo = [np.min([r["rel_dv"] for r in rows if r["capacity"] == c]) for c in caps]
        hi = [np.max([r["rel_dv"] for r in rows if r["capacity"] == c]) for c in caps]
        axes[0].errorbar(x, mean, yerr=[np.subtract(mean, lo), np.subtract(hi, mean)], fmt="o-",
                         color=colors[m], capsize=3, label=m)  # fmt: skip
        pred = [r for r in rows if r["capacity"] != "none"]
        axes[1].scatter([r["fidelity"] for r in pred], [r["rel_dv"] for r in pred], color=colors[m],
                        s=18, label=m)  # fmt: skip
        best = max(pred, key=lambda r: r["rel_dv"])
        worst = min(pred, key=lambda r: r["rel_dv"])
        for r, ls in ((best, "-"), (worst, ":")):
            label = f"{m} {r['capacity']} (seed {r['seed']})"
            axes[2].plot([c["step"] for c in r["curve"]], [c["align"] for c in r["curve"]], ls,
                         color=colors[m], label=label)  # fmt: skip
    axes[0].axhline(GAIN, color="grey", lw=0.6, ls="--")
    axes[0].set_ylabel("final DV(z_a, z_b) / explicit-marginal run's")
    axes[0].set_title("P7 (a): capacity sweep, marginal off\n(mean, min–max over seeds)")
    axes[0].legend(fontsize=7)
    axes[1].set_xlabel("fidelity: mean cos(∇J, ∇DV) after step 0")
    axes[1].set_ylabel("relative DV")
    axes[1].set_title("P7 (b): gradient alignment vs DV reached")
    axes[1].legend(fontsize=7)
    axes[2].axhline(0.0, color="black", lw=0.5)
    axes[2].set_xlabel("training step")
    axes[2].set_ylabel("cos(∇_θ J, ∇_θ DV)")
    axes[2].set_title("alignment along training\n(—: best predictor, ⋯: worst)")
    axes[2].legend(fontsize=6)
    fig.tight_layout()
    name = "p7_predictor_surrogate.png"
    atomic_savefig(fig, out / name, dpi=110)
    return name


def _table(records: list[dict[str, Any]], b: PredictorPlan,
           frozen: list[dict[str, Any]]) -> str:  # fmt: skip
    lines = [
        "| M-step | predictor | relative DV | gain over none | DV(z_a, z_b) | M̂ = J − DV | "
        "fidelity | RankMe z / p | collapsed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(vals: list[float], digits: int = 2) -> str:
        if len(vals) == 1:
            return f"{vals[0]:.{digits}f}"
        half = 2.776 * np.std(vals, ddof=1) / math.sqrt(len(vals)) if len(vals) == 3 else math.nan
        return f"{np.mean(vals):.{digits}f} ± {half:.{digits}f}"

    for m, rows in _sets(records, b, frozen).items():
        refs = [r for r in records if r["m_step"] == m and r["marginal"]]
        if m == FROZEN:  # the copy sweep's reference is the frozen predictors' too
            refs = []
        if refs:
            lines.append(f"| {m} | explicit marginal (reference) | 1 | — | "
                         f"{cell([r['dv_z'] for r in refs])} | "
                         f"{cell([r['m_hat'] for r in refs])} | "
                         f"{cell([r['fidelity'] for r in refs])} | "
                         f"{cell([r['rankme'] for r in refs], 1)} / "
                         f"{cell([r['rankme_p'] for r in refs], 1)} | "
                         f"{sum(r['collapsed'] for r in refs)}/{len(refs)} |")  # fmt: skip
        for c in sorted({r["capacity"] for r in rows}, key=capacity_order):
            sel = [r for r in rows if r["capacity"] == c]
            lines.append(
                f"| {m} | {c} | {cell([r['rel_dv'] for r in sel])} | "
                f"{cell([r['gain'] for r in sel])} | {cell([r['dv_z'] for r in sel])} | "
                f"{cell([r['m_hat'] for r in sel])} | {cell([r['fidelity'] for r in sel])} | "
                f"{cell([r['rankme'] for r in sel], 1)} / "
                f"{cell([r['rankme_p'] for r in sel], 1)} | "
                f"{sum(r['collapsed'] for r in sel)}/{len(sel)} |"
            )  # fmt: skip
    return "\n".join(lines)


def _json_safe(obj: Any) -> Any:
    """``obj`` with non-finite floats as None (results.json is strict JSON)."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    return None if isinstance(obj, float) and not math.isfinite(obj) else obj


def predictor_section(records: list[dict[str, Any]], b: PredictorPlan, steps: int, seed: int,
                      out: Path, frozen: list[dict[str, Any]]) -> Section:  # fmt: skip
    """The P7 section from the runs' records (:func:`record`) and the frozen predictors' (the
    control): claim, table, the trained-against-frozen comparison and the figure."""
    claim, by_step = p7_claim(records, b, seed, frozen)
    compare = frozen_rows(records, frozen)
    apart = alignment_at_equal_capacity(records, frozen)
    figure = _plot(records, b, frozen, out)
    seeds = ", ".join(map(str, claim.seeds))
    md = (
        f"""
**Claim P7.** {claim.verdict}: {claim.detail}.

Canonical SDMI with the marginal term ablated, {steps} steps, seeds {seeds}; predictor none,
linear of rank r (q = U Vᵀ) or a 2-layer MLP of width w, trained, or (the control, "{FROZEN}")
frozen at its random initialization. Relative DV is the final held-out cos-DV of the target
embeddings, DV(z_a, z_b) (no predictor: a rank-r prediction would cap a DV read through q), over
the same seed's run with the explicit marginal term. The alignment is cos(∇_θ J, ∇_θ DV) over the
online parameters on the 512 held-out pairs, target under stop-gradient, with J and DV through
the predictor (the E-step's objective); fidelity is its mean over the evaluations after step 0.
Cells are means ± 95 % t half-widths over seeds (one value per cell with one seed).

{_table(records, b, frozen)}

Checks (rule in `mitheory/claims/predictor.py`): """
        + "; ".join(
            f"{m}: capacity ρ {c['capacity']['rho']:.2f} (p {c['capacity']['p']:.3g}), fidelity ρ "
            f"{c['fidelity']['rho']:.2f} (p {c['fidelity']['p']:.3g}), non-collapsed predictors "
            f"{c['surrogate']['alive']}/{c['surrogate']['runs']}, falsifiers "
            f"{len(c['surrogate']['falsifiers'])} → {_n_pass(c)}/3"
            for m, c in by_step.items()
        )
        + f""".

**Control** ({claim.control.what}) → **{claim.control.verdict}**.

**Capacity and alignment apart.** At equal capacity, trained against frozen (copy M-step;
relative DV and fidelity per seed). In {apart['agree']}/{apart['pairs']} (capacity, seed) pairs
the run with the higher fidelity reached the higher relative DV (one-sided sign test
p = {apart['p']:.2g}; with no relation between alignment and DV at fixed capacity, each pair
agrees with probability ½).

"""
        + "| predictor | trained: relative DV | fidelity | collapsed | frozen: relative DV | "
        "fidelity | collapsed |\n|---|---|---|---|---|---|---|\n"
        + "\n".join(
            f"| {r['capacity']} | {', '.join(f'{v:.2f}' for v in r['trained'])} | "
            f"{', '.join(f'{v:.2f}' for v in r['trained_fidelity'])} | "
            f"{r['trained_collapsed']}/{len(r['trained'])} | "
            f"{', '.join(f'{v:.2f}' for v in r['frozen'])} | "
            f"{', '.join(f'{v:.2f}' for v in r['frozen_fidelity'])} | "
            f"{r['frozen_collapsed']}/{r['seeds']} |" for r in compare)
        + f"""

![P7]({figure})
"""
    )  # fmt: skip
    data = {
        "p7": {
            "plan": {"seeds": list(claim.seeds), "steps": steps,
                     "capacities": {m: list(b.of(m)) for m in b.m_steps},
                     "frozen": list(b.frozen)},
            "checks": _json_safe(by_step),
            "runs": _json_safe(records),
            "frozen": _json_safe(compare),
            "frozen_runs": _json_safe(frozen),
            "alignment_at_equal_capacity": apart,
        }
    }  # fmt: skip
    return Section("P7: the predictor as the marginal term's surrogate", md, [claim], [figure],
                   data)  # fmt: skip
