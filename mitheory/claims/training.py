"""Report section for the training claims P1–P5 (DESIGN.md §4), from short runs in the report.

Every run is ``paradigms.train.train`` on the synthetic Gaussian mixture with ``TrainConfig``
defaults (AdamW, lr 5e-3, batch 128, MLP backbone), 11 evaluations (step 0 included) on 512
fixed held-out pairs, and the linear probe at the first and last evaluation: the settings of
``verification/test_paradigms.py``, whose verdict rules are restated here (thresholds and their
reasons in that module's docstring):

- P1/P2 (per seed): Spearman ρ of cos-DV MI against step ≥ 0.9, of InfoNCE and JSD ≥ 0.8, and a
  gain final − initial ≥ 0.5 nats (JSD: ≥ 0.25, it is bounded by log 4).
- Complete collapse: RankMe ≤ 2, embed_std < ¼·(1/√d) and ``collapsed``; for the SDMI and JMI
  ablations also cos-DV MI < 0.05.
- Healthy: not ``collapsed``, RankMe ≥ 5, cos-DV MI ≥ 1 nat.
- P3 (per seed): SDMI without predictor and marginal collapses completely; with the predictor
  and a copy or EMA M-step (stop-gradient) it is healthy; SimSiam without stop-gradient
  collapses (``collapsed`` with RankMe < 2.5) and ends ≥ 0.5 nats below healthy SimSiam; in
  full mode also: SimSiam with a learned (affine) output batch norm collapses completely without
  stop-gradient (700 steps) and is healthy with it (trained as long).
- P4 (per seed): JMI without its regularizer collapses completely; jmi, jmi-taylor, barlow,
  vicreg and simclr are healthy.
- P5 (open question, operationalized): "necessary" — the collapsed ablations' mean probe
  accuracy is below the healthy methods' mean by more than 2 SE (binomial SE ≤ √(¼/512) per run
  of 512 test points); "not sufficient" — final MI does not order the healthy methods by probe
  accuracy for any of the three estimators (each Spearman p ≥ 0.05 or ρ ≤ 0).

A verdict is "holds" when every check passes, "fails" when none does, "partial" otherwise. The
``paradigms`` package is imported inside functions (only the CLI and the report may import it).
P6 (real images) is not run here. All information values are in nats.
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from scipy import stats

from mitheory.atomic import atomic_savefig
from mitheory.claims.result import Claim, Section

ESTIMATORS = ("mi_cosdv", "mi_infonce", "mi_jsd")
ESTIMATOR_LABELS = {"mi_cosdv": "cos-DV", "mi_infonce": "InfoNCE", "mi_jsd": "JSD"}
#: probe test points per run; the conservative binomial SE of one accuracy is √(¼/n)
PROBE_TEST_POINTS = 512
#: the healthy JMI-paradigm surrogates of claim P4 and the P5 method list (registry names)
P4_SURROGATES = ("jmi", "jmi-taylor", "barlow", "vicreg", "simclr")
P5_METHODS = ("sdmi", "simsiam", "byol", "mocov2", "mocov3", *P4_SURROGATES)

Options = tuple[tuple[str, Any], ...]  # method_options as sorted pairs
RunKey = tuple[str, str, Options, int]  # method, ablate, options, steps
Run = tuple[dict[str, Any], list[dict[str, Any]]]  # summary, metrics lines
Runner = Callable[[str, str, Options, int, int], Run]
#: SimSiam with learned scale and shift in the projector's output batch norm
AFFINE: Options = (("proj_bn_affine", True),)


@dataclass(frozen=True)
class ParadigmBudget:
    """Seeds and step counts of the training runs (``quick`` and full defaults below)."""

    seeds: tuple[int, ...]  # offsets added to the report seed
    steps: int  # healthy runs: P1, P2, P3/P4 surrogates, P5
    collapse_steps: int  # SDMI / JMI ablations expected to collapse completely
    simsiam_collapse_steps: int  # SimSiam without stop-gradient (dimensional collapse)
    simsiam_affine_steps: int = 0  # SimSiam, affine output BN, no stop-gradient (0: not run)


def budget(quick: bool) -> ParadigmBudget:
    """Full: the verification settings on three seeds. Quick: one seed and 100-step healthy runs
    (the collapse runs keep their length: complete collapse needs ≈ 300 steps to reach RankMe ≤ 2,
    see verification/test_paradigms.py), and the 700-step affine-BN SimSiam run is left out."""
    if quick:
        return ParadigmBudget((0,), 100, 300, 400)
    return ParadigmBudget((0, 1, 2), 200, 300, 400, 700)


def train_run(method: str, ablate: str, options: Options, steps: int, seed: int) -> Run:
    """One ``paradigms.train`` run; returns the summary and the metrics lines."""
    import torch

    from paradigms.train import TrainConfig, train

    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # small MLPs: one thread is fastest on a shared CPU
    try:
        with tempfile.TemporaryDirectory() as out:
            config = TrainConfig(
                method=method, ablate=ablate, seed=seed, steps=steps,
                eval_every=max(1, steps // 10), progress=False,
                probe_every=1000,  # linear probe at the first and last evaluation only
                method_options=dict(options), out=out,
            )  # fmt: skip
            summary = train(config)
            lines = (Path(out) / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    finally:
        torch.set_num_threads(previous)
    if summary["status"] != "ok":
        raise RuntimeError(f"training {method} (ablate {ablate!r}) stopped: {summary['reason']}")
    return summary, [json.loads(line) for line in lines]


def run_plan(b: ParadigmBudget) -> dict[str, RunKey]:
    """Named runs (without seed) that the claims need."""
    plan: dict[str, RunKey] = {m: (m, "", (), b.steps) for m in P5_METHODS}
    plan.update({
        "sdmi -predictor,marginal": ("sdmi", "predictor,marginal", (), b.collapse_steps),
        "sdmi -marginal (copy)": ("sdmi", "marginal", (("target_update", "copy"),), b.steps),
        "sdmi -marginal (ema)": ("sdmi", "marginal", (("target_update", "ema"),), b.steps),
        # informational (not in a verdict): with SDMI's own gradient M-step the target branch
        # collapses once the marginal term is off (verification/test_paradigms.py, a finding)
        "sdmi -marginal (gradient)": ("sdmi", "marginal", (), b.collapse_steps),
        "simsiam -stop-grad": ("simsiam", "stop-grad", (), b.simsiam_collapse_steps),
        "jmi -marginal": ("jmi", "marginal", (), b.collapse_steps),
    })  # fmt: skip
    if b.simsiam_affine_steps:
        plan["simsiam (affine BN)"] = ("simsiam", "", AFFINE, b.simsiam_affine_steps)
        plan["simsiam -stop-grad (affine BN)"] = (
            "simsiam", "stop-grad", AFFINE, b.simsiam_affine_steps)  # fmt: skip
    return plan


def collect_runs(
    b: ParadigmBudget, seed: int, runner: Runner = train_run
) -> dict[int, dict[str, Run]]:
    """{run seed: {run name: (summary, history)}} for every planned run and seed."""
    plan = run_plan(b)
    return {seed + k: {name: runner(*key, seed + k) for name, key in plan.items()} for k in b.seeds}


# --------------------------------------------------------------------------- rules


def spearman(history: list[dict[str, Any]], key: str) -> float:
    """Spearman ρ of ``key`` against step (−1 when the series is constant: no rise)."""
    values = [r[key] for r in history]
    if len(set(values)) < 2:
        return -1.0
    return float(stats.spearmanr([r["step"] for r in history], values).statistic)


def mi_rises(history: list[dict[str, Any]]) -> bool:
    """P1/P2 rule on one run: ρ ≥ 0.9 (cos-DV) / 0.8 (InfoNCE, JSD), gain ≥ 0.5 (JSD 0.25)."""
    for key in ESTIMATORS:
        gain = history[-1][key] - history[0][key]
        if spearman(history, key) < (0.9 if key == "mi_cosdv" else 0.8):
            return False
        if gain < 0.5 * (0.5 if key == "mi_jsd" else 1.0):
            return False
    return True


def complete_collapse(summary: dict[str, Any]) -> bool:
    d = summary["embedding_dim"]
    return (
        summary["effective_rank"] <= 2.0
        and summary["embed_std"] < 0.25 / math.sqrt(d)
        and bool(summary["collapsed"])
    )


def no_information(summary: dict[str, Any]) -> bool:
    """A collapsed pair reads ≈ 0 nats: final cos-DV MI < 0.05."""
    return summary["mi_cosdv"] < 0.05


def healthy(summary: dict[str, Any]) -> bool:
    return (
        not summary["collapsed"] and summary["effective_rank"] >= 5.0 and summary["mi_cosdv"] >= 1.0
    )


def _verdict(n_pass: int, n_total: int) -> str:
    if n_pass == n_total:
        return "holds"
    return "fails" if n_pass == 0 else "partial"


def rise_claim(claim_id: str, method: str, runs: dict[int, dict[str, Run]]) -> Claim:
    """P1 (``sdmi``) / P2 (``jmi``): the MI of every seed's run rises near-monotonically."""
    ok = [mi_rises(r[method][1]) for r in runs.values()]
    rho = min(spearman(r[method][1], "mi_cosdv") for r in runs.values())
    return Claim(
        claim_id,
        _verdict(sum(ok), len(ok)),
        rho,
        f"min over seeds of Spearman ρ(cos-DV MI, step), canonical {method}; {sum(ok)}/{len(ok)} "
        "seeds meet ρ ≥ 0.9 / 0.8 (InfoNCE, JSD) and gain ≥ 0.5 nats (JSD 0.25)",
    )


def p3_checks(r: dict[str, Run]) -> dict[str, bool]:
    s = {name: run[0] for name, run in r.items()}
    sim = s["simsiam -stop-grad"]
    checks = {
        "no predictor, no marginal: complete collapse, MI < 0.05": complete_collapse(s[
            "sdmi -predictor,marginal"]) and no_information(s["sdmi -predictor,marginal"]),
        "predictor + stop-grad, copy M-step: healthy": healthy(s["sdmi -marginal (copy)"]),
        "predictor + stop-grad, EMA M-step: healthy": healthy(s["sdmi -marginal (ema)"]),
        "SimSiam without stop-grad: collapses, MI ≥ 0.5 below SimSiam": bool(sim["collapsed"])
        and sim["effective_rank"] < 2.5 and healthy(s["simsiam"])
        and sim["mi_cosdv"] < s["simsiam"]["mi_cosdv"] - 0.5,
    }  # fmt: skip
    if "simsiam -stop-grad (affine BN)" in s:
        checks["SimSiam, affine output BN, without stop-grad: complete collapse"] = (
            complete_collapse(s["simsiam -stop-grad (affine BN)"])
            and healthy(s["simsiam (affine BN)"]))  # fmt: skip
    return checks


def p4_checks(r: dict[str, Run]) -> dict[str, bool]:
    jmi_off = r["jmi -marginal"][0]
    checks = {"jmi without regularizer: complete collapse, MI < 0.05":
              complete_collapse(jmi_off) and no_information(jmi_off)}  # fmt: skip
    checks.update({f"{m}: healthy": healthy(r[m][0]) for m in P4_SURROGATES})
    return checks


def checks_claim(
    claim_id: str, check: Callable[[dict[str, Run]], dict[str, bool]], collapse_run: str,
    runs: dict[int, dict[str, Run]],
) -> Claim:  # fmt: skip
    """P3/P4 verdict from the checks of every seed; the figure is the largest final RankMe of
    the run that must collapse completely."""
    results = [check(r) for r in runs.values()]
    n_ok = sum(sum(c.values()) for c in results)
    n_all = sum(len(c) for c in results)
    failed = sorted({name for c in results for name, ok in c.items() if not ok})
    rank = max(r[collapse_run][0]["effective_rank"] for r in runs.values())
    return Claim(
        claim_id,
        _verdict(n_ok, n_all),
        rank,
        f"max RankMe of '{collapse_run}' over seeds; {n_ok}/{n_all} checks pass over "
        f"{len(runs)} seed(s)" + (f"; failing: {', '.join(failed)}" if failed else ""),
    )


def p5_table(runs: dict[int, dict[str, Run]]) -> dict[str, dict[str, float]]:
    """Per method (P5_METHODS) and collapsing ablation: final monitors averaged over seeds."""
    names = [*P5_METHODS, "sdmi -predictor,marginal", "simsiam -stop-grad", "jmi -marginal"]
    cols = (*ESTIMATORS, "probe_acc", "knn_acc", "effective_rank")
    table = {}
    for name in names:
        finals = [r[name][0] for r in runs.values()]
        table[name] = {c: statistics.fmean(float(s[c]) for s in finals) for c in cols}
        table[name]["collapsed"] = sum(bool(s["collapsed"]) for s in finals) / len(finals)
        table[name]["runs"] = len(finals)
    return table


def p5_claim(table: dict[str, dict[str, float]]) -> tuple[Claim, dict[str, Any]]:
    """P5 from the averaged table (rules in the module docstring); also returns the statistics."""
    methods = [m for m in P5_METHODS if m in table and not table[m]["collapsed"]]
    ablations = [m for m in table if m not in P5_METHODS and table[m]["collapsed"]]
    acc = [table[m]["probe_acc"] for m in methods]
    rho = {}
    for key in ESTIMATORS:
        values = [table[m][key] for m in methods]
        if len(methods) < 3 or len(set(values)) < 2 or len(set(acc)) < 2:
            rho[key] = {"rho": 0.0, "p": 1.0}  # ρ undefined: no ordering to test
            continue
        res = stats.spearmanr(values, acc)
        rho[key] = {"rho": float(res.statistic), "p": float(res.pvalue)}
    # without ≥ 3 healthy methods and a collapsed ablation neither part can be shown
    n_runs = max(int(table[m]["runs"]) for m in table)
    drop, se, necessary, not_sufficient = 0.0, 0.0, False, False
    if ablations and len(methods) >= 3:
        se = math.sqrt(
            0.25 / PROBE_TEST_POINTS * (1 / (len(ablations) * n_runs) + 1 / (len(methods) * n_runs))
        )
        drop = statistics.fmean(acc) - statistics.fmean(table[m]["probe_acc"] for m in ablations)
        necessary = drop > 2 * se
        not_sufficient = all(r["p"] >= 0.05 or r["rho"] <= 0 for r in rho.values())
    cos = rho["mi_cosdv"]
    verdict = _verdict(int(necessary) + int(not_sufficient), 2)
    claim = Claim(
        "P5",
        verdict,
        cos["rho"],
        f"Spearman ρ(final cos-DV MI, probe accuracy) over {len(methods)} healthy methods "
        f"(p = {cos['p']:.2f}; not sufficient, no estimator's ρ significantly > 0: "
        f"{'yes' if not_sufficient else 'no'}); collapsed "
        f"ablations' accuracy {drop:.3f} below the methods' mean, 2 SE = {2 * se:.3f} "
        f"(necessary: {'yes' if necessary else 'no'})",
    )
    return claim, {"spearman": rho, "accuracy_drop": drop, "drop_se": se,
                   "necessary": necessary, "not_sufficient": not_sufficient}  # fmt: skip


# --------------------------------------------------------------------------- figures


def _save(fig: Figure, out: Path, name: str) -> str:
    fig.tight_layout()
    atomic_savefig(fig, out / name, dpi=110)
    return name


def _plot_rise(runs: dict[int, dict[str, Run]], out: Path) -> str:
    fig = Figure(figsize=(10, 4))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, (method, label) in zip(axes, (("sdmi", "canonical SDMI (P1)"),
                                          ("jmi", "canonical JMI (P2)")), strict=True):  # fmt: skip
        for k, key in enumerate(ESTIMATORS):
            for j, r in enumerate(runs.values()):
                hist = r[method][1]
                ax.plot([h["step"] for h in hist], [h[key] for h in hist], color=f"C{k}",
                        alpha=1.0 if j == 0 else 0.45, marker="o", ms=3,
                        label=ESTIMATOR_LABELS[key] if j == 0 else None)  # fmt: skip
        ax.axhline(math.log(4), color="C2", ls=":", lw=1, label="log 4 (JSD bound)")
        ax.set_xlabel("training step")
        ax.set_title(f"{label}, seeds {', '.join(map(str, runs))}")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("MI on held-out pairs [nats]")
    return _save(fig, out, "p1_p2_mi_vs_step.png")


COLLAPSE_RUNS = (
    ("sdmi", "SDMI (canonical)"),
    ("sdmi -predictor,marginal", "SDMI −predictor −marginal"),
    ("sdmi -marginal (ema)", "SDMI −marginal, EMA M-step"),
    ("sdmi -marginal (gradient)", "SDMI −marginal, gradient M-step"),
    ("simsiam", "SimSiam"),
    ("simsiam -stop-grad", "SimSiam −stop-grad"),
    ("jmi", "JMI (canonical)"),
    ("jmi -marginal", "JMI −regularizer"),
)


def _plot_collapse(r: dict[str, Run], seed: int, out: Path) -> str:
    fig = Figure(figsize=(11, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    for k, (name, label) in enumerate(COLLAPSE_RUNS):
        hist = r[name][1]
        style = "-" if r[name][0]["collapsed"] is False else "--"
        steps = [h["step"] for h in hist]
        ax1.plot(steps, [h["embed_std"] * math.sqrt(h["embedding_dim"]) for h in hist], style,
                 color=f"C{k}", label=label)  # fmt: skip
        ax2.plot(steps, [h["effective_rank"] for h in hist], style, color=f"C{k}", label=label)
    ax1.axhline(0.25, color="k", lw=0.8, ls=":", label="¼ (complete-collapse bar)")
    ax1.set_yscale("log")
    ax1.set_xlabel("training step")
    ax1.set_ylabel("embed_std · √d")
    ax1.set_title(f"Collapse monitors, seed {seed} (dashed: collapsed at the end)")
    ax1.legend(fontsize=7)
    ax2.axhline(2.0, color="k", lw=0.8, ls=":", label="RankMe 2")
    ax2.set_yscale("log")
    ax2.set_xlabel("training step")
    ax2.set_ylabel("effective rank (RankMe)")
    ax2.set_title("P3 (SDMI ablations) and P4 (JMI ablation)")
    return _save(fig, out, "p3_p4_collapse.png")


def _plot_p5(table: dict[str, dict[str, float]], rho: dict[str, Any], out: Path) -> str:
    fig = Figure(figsize=(12, 4))
    axes = fig.subplots(1, 3, sharey=True)
    for ax, key in zip(axes, ESTIMATORS, strict=True):
        methods = [m for m in table if m in P5_METHODS]
        ablations = [m for m in table if m not in P5_METHODS]
        ax.scatter([table[m][key] for m in methods], [table[m]["probe_acc"] for m in methods],
                   color="C0", label="methods")  # fmt: skip
        ax.scatter([table[m][key] for m in ablations], [table[m]["probe_acc"] for m in ablations],
                   color="grey", marker="x", label="collapsing ablations")  # fmt: skip
        for name in methods:
            ax.annotate(name, (table[name][key], table[name]["probe_acc"]), fontsize=6,
                        xytext=(3, 2), textcoords="offset points")  # fmt: skip
        ax.set_xlabel(f"final MI, {ESTIMATOR_LABELS[key]} [nats]")
        ax.set_title(f"ρ = {rho[key]['rho']:+.2f} (p = {rho[key]['p']:.2f}), methods only")
    axes[0].set_ylabel("linear-probe accuracy")
    axes[0].legend(fontsize=6, loc="lower right")
    return _save(fig, out, "p5_mi_vs_accuracy.png")


# --------------------------------------------------------------------------- section


def paradigm_section(
    quick: bool, seed: int, out: Path, sizes: ParadigmBudget | None = None,
    runner: Runner = train_run,
) -> Section:  # fmt: skip
    """The P1–P5 section; ``sizes`` overrides the budget and ``runner`` the training (tests)."""
    b = sizes if sizes is not None else budget(quick)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = collect_runs(b, seed, runner)
    first = next(iter(runs))
    table = p5_table(runs)
    p5, p5_stats = p5_claim(table)
    claims = [
        rise_claim("P1", "sdmi", runs),
        rise_claim("P2", "jmi", runs),
        checks_claim("P3", p3_checks, "sdmi -predictor,marginal", runs),
        checks_claim("P4", p4_checks, "jmi -marginal", runs),
        p5,
    ]
    figs = [_plot_rise(runs, out), _plot_collapse(runs[first], first, out),
            _plot_p5(table, p5_stats["spearman"], out)]  # fmt: skip

    def mark(ok: bool) -> str:
        return "yes" if ok else "**no**"

    check_rows = []
    for claim_id, check in (("P3", p3_checks), ("P4", p4_checks)):
        per_seed = [check(r) for r in runs.values()]
        for name in per_seed[0]:
            cells = " ".join(mark(c[name]) for c in per_seed)
            check_rows.append(f"| {claim_id} | {name} | {cells} |")
    s_rows = []
    for name, run in runs[first].items():
        s = run[0]
        s_rows.append(
            f"| {name} | {s['steps']} | {s['mi_cosdv']:.3f} | {s['effective_rank']:.2f} | "
            f"{s['embed_std'] * math.sqrt(s['embedding_dim']):.3f} | {s['probe_acc']:.3f} | "
            f"{'yes' if s['collapsed'] else 'no'} |"
        )
    p5_rows = [
        f"| {name} | {row['mi_cosdv']:.3f} | {row['mi_infonce']:.3f} | {row['mi_jsd']:.3f} | "
        f"{row['probe_acc']:.3f} | {row['knn_acc']:.3f} | {row['effective_rank']:.1f} | "
        f"{row['collapsed']:.0%} |"
        for name, row in sorted(table.items(), key=lambda item: -item[1]["mi_cosdv"])
    ]
    rho = p5_stats["spearman"]
    seeds = ", ".join(map(str, runs))
    affine = (
        f"(with affine output BN {b.simsiam_affine_steps})"
        if b.simsiam_affine_steps
        else "(the affine-BN SimSiam check is left out in this mode)"
    )
    md = f"""Short training runs on the synthetic Gaussian mixture (`paradigms.train`, MLP backbone,
`TrainConfig` defaults), seeds {seeds}; healthy runs {b.steps} steps, complete-collapse ablations
{b.collapse_steps}, SimSiam without stop-gradient {b.simsiam_collapse_steps}
{affine}. MI is measured on
512 fixed held-out pairs with the fixed cosine critic (τ = 0.1). Rules: see
`mitheory/paradigm_study.py` (the same as `verification/test_paradigms.py`).

![P1 and P2]({figs[0]})

*Figure P1/P2. MI (cos-DV, InfoNCE, JSD) on held-out pairs against training step for the canonical
SDMI and JMI prototypes; faint lines are the further seeds.*

P3/P4 checks per seed ({seeds}):

| claim | check | pass |
|---|---|---|
{chr(10).join(check_rows)}

Final monitors, seed {first}:

| run | steps | cos-DV MI | RankMe | embed_std·√d | probe acc | collapsed |
|---|---|---|---|---|---|---|
{chr(10).join(s_rows)}

![P3 and P4]({figs[1]})

*Figure P3/P4. Collapse monitors during training (seed {first}): the spread of the l2-normalized
embeddings (embed_std·√d, ≈ 1 for isotropic embeddings) and the effective rank. Without predictor
and marginal term (SDMI) or without the regularizer (JMI) both fall to one point; SimSiam without
stop-gradient loses rank but not spread (its output batch norm keeps the coordinates' variance).
With the marginal term off, a gradient M-step collapses too; copy/EMA M-steps do not.*

P5 — final values averaged over seeds (collapsed: fraction of seeds):

| run | cos-DV | InfoNCE | JSD | probe acc | kNN acc | RankMe | collapsed |
|---|---|---|---|---|---|---|---|
{chr(10).join(p5_rows)}

Spearman ρ of final MI against probe accuracy over the healthy methods: cos-DV
{rho["mi_cosdv"]["rho"]:+.2f} (p = {rho["mi_cosdv"]["p"]:.2f}), InfoNCE
{rho["mi_infonce"]["rho"]:+.2f} (p = {rho["mi_infonce"]["p"]:.2f}), JSD
{rho["mi_jsd"]["rho"]:+.2f} (p = {rho["mi_jsd"]["p"]:.2f}). Collapsed ablations lose
{p5_stats["accuracy_drop"]:.3f} probe accuracy against the methods' mean (2 SE =
{2 * p5_stats["drop_se"]:.3f}).

![P5]({figs[2]})

*Figure P5. Final MI against linear-probe accuracy; blue: methods (ρ over these), grey crosses:
collapsed ablations.*

P6 (every method on real images) is not run in this report: see `verification/test_images.py`.
"""
    data = {
        "budget": {"seeds": list(runs), "steps": b.steps, "collapse_steps": b.collapse_steps,
                   "simsiam_collapse_steps": b.simsiam_collapse_steps,
                   "simsiam_affine_steps": b.simsiam_affine_steps},
        "final": {seed_: {name: {k: v for k, v in run[0].items() if k not in ("config",
                                                                           "initial")}
                          for name, run in r.items()} for seed_, r in runs.items()},
        "histories": {name: runs[first][name][1] for name in ("sdmi", "jmi")},
        "p5_table": table,
        "p5": p5_stats,
    }  # fmt: skip
    return Section("P1–P5 — training both paradigms on synthetic data", md, claims, figs, data)


def report_sections(quick: bool, seed: int, out: Path) -> list[Section]:
    """The P1–P5 section (figures written into ``out``)."""
    return [paradigm_section(quick, seed, out)]
