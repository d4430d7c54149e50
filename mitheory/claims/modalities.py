"""The experiment behind P8 (CLAIMS.md): P1–P4 on data that are not images (open question 1).

Two settings, each trained through the same ``paradigms`` method code as P1–P4:

- **sequences** (``markov-sequences``): token sequences whose classes have the same unigram
  frequencies and differ in their transitions (doubly stochastic Markov chains), crop-and-mask
  views, a 1-D convolutional encoder (``seqcnn``);
- **two-modality** (``paired-bags``): a continuous vector and a bag of tokens emitted by one
  latent class, asymmetric encoders (an MLP tower against an EmbeddingBag tower, ``pair``), with
  I(X_A; X_B) known exactly by enumeration (``SSLData.true_mi``). The SDMI target is a copy of
  both towers: its M-step moves each tower from the online tower of the same modality (copy, EMA)
  or by its own gradient, and each loss term pairs one modality's online tower with the other
  modality's target tower.

In each setting the P1–P4 plan of ``training`` (the same arms, rules and controls; stop-gradient
on) runs at ``STEPS`` steps with ``EVALS`` evaluations after step 0, plus every other method of
the registry with each of its ablations (``REGISTRY_RUNS``), predicted healthy iff a marginal
term or a predictor is left and the stop-gradient is on. The sub-verdicts are those of
``training``'s rules; P8 holds when all sub-claims of both settings hold, fails when none does,
partial otherwise. Its control counts the sub-claims' controls that hold (they must not). In the
two-modality setting the held-out MI of the P1/P2 runs is also compared with the exact
I(X_A; X_B): an estimate above it by more than 3 SE would be an estimator error (data
processing).

The health bars (cos-DV MI) are on each setting's own scale (:func:`setting_scale`: the exact MI
of the two-modality views; the canonical SDMI arm's cos-DV for the sequences), not the Gaussian
mixture's 1 nat, and every run has :data:`SEEDS` independent seeds.

Full report only (like P5): the 3 × 66 runs do not fit in the two-minute quick report.
All values in nats.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from estimators.atomic import atomic_savefig
from mitheory.claims import collapse
from mitheory.claims import training as tr
from mitheory.claims.result import Claim, Control, Section, verdict_of
from mitheory.claims.runtime import WORKERS, parallel_map

#: (setting, data set) pairs
SETTINGS = (("sequences", "markov-sequences"), ("two-modality", "paired-bags"))
STEPS = 150
EVALS = 3
#: the registry's other methods, default and each ablation: (method, ablation, predicted healthy)
REGISTRY_RUNS = (
    ("simsiam", "", True), ("simsiam", "predictor", False), ("simsiam", "stop-grad", False),
    ("byol", "", True), ("byol", "predictor", False),
    ("mocov2", "", True), ("mocov2", "marginal", False),
    ("mocov3", "", True), ("mocov3", "predictor", True), ("mocov3", "marginal", True),
)  # fmt: skip
SUB_CLAIMS = ("P1", "P2", "P3", "P4", "registry")


#: independent seeds per run (offsets added to the report seed)
SEEDS = (0, 1, 2)


def budget() -> tr.ParadigmBudget:
    """:data:`SEEDS`, ``STEPS`` steps, no comparison runs, the quick held-out critic schedule."""
    return tr.ParadigmBudget(SEEDS, steps=STEPS, compare=False, mi_track="mi-quick")


def setting_scale(runs: dict[int, dict[str, Any]], true_mi: float | None) -> float:
    """A setting's own MI scale (nats): the exact I(X_A; X_B) where it is known, else the median
    over seeds of the canonical SDMI arm's final cos-DV MI (as P3's time-to-collapse rule)."""
    if true_mi is not None:
        return true_mi
    canonical = tr.arm_name("gradient", True, True)
    return float(np.median([r[canonical]["summary"]["mi_cosdv"] for r in runs.values()]))


def run_name(method: str, ablation: str) -> str:
    return method + (f" −{ablation}" if ablation else "")


def plan(b: tr.ParadigmBudget) -> dict[str, tr.RunKey]:
    """``training.run_plan`` and the registry's other methods with each ablation."""
    runs = tr.run_plan(b)
    for method, ablation, _ in REGISTRY_RUNS:
        runs[run_name(method, ablation)] = (method, ablation, (), b.steps, "")
    return runs


Runs = dict[str, dict[int, dict[str, Any]]]  # {setting: {seed: {run name: run}}}


def setting_runs(key: tr.RunKey, seeds: tuple[int, ...], data: str) -> list[dict[str, Any]]:
    """One P8 run on every seed: ``training.train_seeds`` on ``data`` (the seeds as one batched
    computation where the engine supports the data set, their held-out read-outs in one shared
    critic loop), with ``EVALS`` evaluations where its held-out MI is tracked (P1/P2) and
    otherwise only at step 0 and the end (P3, P4 and the registry read the final state;
    evaluations do not change training)."""
    return tr.train_seeds(key, seeds, data, tr.evals_needed(key[4], EVALS))


def collect(b: tr.ParadigmBudget, seed: int, runner: Callable[..., dict[str, Any]] | None = None,
            progress: Callable[[str], None] | None = None) -> Runs:  # fmt: skip
    """Every run of :func:`plan` in both settings, one worker job per (setting, run) with all
    its seeds (:func:`setting_runs`; the jobs of both settings in one batch, so neither waits
    for the other); ``runner(key, seed, data)`` replaces it run by run (tests: in this
    process)."""
    names = plan(b)
    seeds = tuple(seed + k for k in b.seeds)
    cells = [(data, name) for _, data in SETTINGS for name in names]
    if runner is None:
        jobs = [(names[name], seeds, data) for data, name in cells]
        done = parallel_map(setting_runs, jobs, label="P8", progress=progress, workers=WORKERS)
    else:
        done = [[runner(names[name], s, data) for s in seeds] for data, name in cells]
    runs = {(data, name, s): run for (data, name), out in zip(cells, done, strict=True)
            for s, run in zip(seeds, out, strict=True)}  # fmt: skip
    return {setting: {s: {name: runs[data, name, s] for name in names} for s in seeds}
            for setting, data in SETTINGS}  # fmt: skip


def registry_claim(runs: dict[int, dict[str, Any]], bars: tr.HealthBars) -> Claim:
    """Each registry method and ablation against its prediction (the P3 health rule); the
    rows are in ``extra["rows"]``."""
    rows = []
    for method, ablation, predicted in REGISTRY_RUNS:
        summaries = [r[run_name(method, ablation)]["summary"] for r in runs.values()]
        collapsed = sum(not tr.healthy(s, bars) for s in summaries)
        rows.append({"run": run_name(method, ablation),
                     "predicted": "healthy" if predicted else "collapse",
                     "collapsed_seeds": collapsed, "seeds": len(summaries),
                     "matches": collapsed == (0 if predicted else len(summaries)),
                     "rankme": [s["effective_rank"] for s in summaries],
                     "mi_cosdv": [s["mi_cosdv"] for s in summaries]})  # fmt: skip
    n_ok = sum(r["matches"] for r in rows)
    wrong = [f"{r['run']} ({r['collapsed_seeds']}/{r['seeds']} collapsed, predicted "
             f"{r['predicted']})" for r in rows if not r["matches"]]  # fmt: skip
    return Claim("registry", verdict_of(n_ok, len(rows)), n_ok / len(rows),
                 f"{n_ok}/{len(rows)} runs match; mismatches: {'; '.join(wrong) or 'none'}",
                 threshold=f"healthy (cos-DV MI ≥ {bars.healthy_mi:.2g}) iff a marginal term "
                 "or a predictor is left and the stop-gradient is on", seeds=tuple(runs),
                 extra={"rows": rows})  # fmt: skip


def setting_claims(runs: dict[int, dict[str, Any]], bars: tr.HealthBars) -> dict[str, Claim]:
    """P1–P4 by ``training``'s rules, and the registry check, on one setting's runs, with the
    health bars on the setting's own scale."""
    p1, _ = tr.rise_claim("P1", tr.arm_name("gradient", True, True),
                          tr.arm_name("gradient", False, False), (), runs)  # fmt: skip
    p2, _ = tr.rise_claim("P2", "jmi", "jmi −marginal", (), runs)
    return {"P1": p1, "P2": p2, "P3": tr.p3_claim(runs, bars), "P4": tr.p4_claim(runs, bars),
            "registry": registry_claim(runs, bars)}  # fmt: skip


def data_processing(runs: dict[int, dict[str, Any]], true_mi: float) -> dict[str, Any]:
    """The largest held-out MI estimate of the P1/P2 runs against the exact I(X_A; X_B), in SE."""
    points = [h for r in runs.values() for run in r.values() for h in run["heldout"]]
    worst = max(points, key=lambda h: (h["mi"] - true_mi) / max(h["se"], 1e-12))
    return {"true_mi": true_mi, "max_mi": max(h["mi"] for h in points),
            "max_excess_z": (worst["mi"] - true_mi) / max(worst["se"], 1e-12),
            "pass": (worst["mi"] - true_mi) / max(worst["se"], 1e-12) <= 3.0}  # fmt: skip


def p8_claim(claims: dict[str, dict[str, Claim]], dpi: dict[str, Any]) -> Claim:
    """P8 from the sub-claims of both settings (see the module docstring)."""
    subs = [(s, c) for s, per in claims.items() for c in per.values()]
    held = sum(c.verdict == "holds" for _, c in subs)
    controls = [(s, c) for s, c in subs if c.control is not None]
    c_held = sum(c.control.verdict == "holds" for _, c in controls)  # type: ignore[union-attr]
    listing = "; ".join(f"{s}: " + ", ".join(f"{k} {c.verdict}" for k, c in per.items())
                        for s, per in claims.items())  # fmt: skip
    return Claim(
        "P8",
        verdict_of(held, len(subs)),
        held / len(subs),
        f"share of sub-claims that hold ({held}/{len(subs)}): {listing}; two-modality held-out "
        f"MI max {dpi['max_mi']:.2f} against the exact I(X_A; X_B) = {dpi['true_mi']:.3f} nats "
        f"(excess {dpi['max_excess_z']:+.1f} SE)",
        threshold="holds when every sub-claim (P1–P4 by training's rules, the registry "
        "predictions) holds in both settings",
        control=Control(
            "the sub-claims' own controls (P1: no predictor or marginal; P2: JMI −marginal; P3: "
            f"no stop-gradient; P4: regularizers removed): {c_held}/{len(controls)} hold",
            verdict_of(c_held, len(controls)),
            c_held / max(len(controls), 1),
        ),
        seeds=tuple(sorted({s for c in subs for s in c[1].seeds})),
        extra={"sub_claims": {s: {k: {"verdict": c.verdict, "figure": c.figure,
                                      "detail": c.detail,
                                      "control": c.control.verdict if c.control else None}
                                  for k, c in per.items()} for s, per in claims.items()},
               "data_processing": dpi},
    )  # fmt: skip


def _verdict_cell(c: Claim) -> str:
    return c.verdict if c.control is None else f"{c.verdict} (control {c.control.verdict})"


def _join(values: list[Any], fmt: str) -> str:
    return ", ".join(format(v, fmt) for v in values)


def _rows(setting: str, runs: dict[int, dict[str, Any]], names: list[str],
          bars: tr.HealthBars) -> list[str]:  # fmt: skip
    out = []
    for name in names:
        ss = [r[name]["summary"] for r in runs.values()]
        mi = "; ".join(f"{r[name]['heldout'][0]['mi']:.2f} → {r[name]['heldout'][-1]['mi']:.2f}"
                       for r in runs.values() if r[name]["heldout"]) or "—"  # fmt: skip
        ok = ", ".join("yes" if tr.healthy(s, bars) else "no" for s in ss)
        out.append(f"| {setting} | {name} | {_join([s['effective_rank'] for s in ss], '.1f')} | "
                   f"{_join([s['mi_cosdv'] for s in ss], '.2f')} | {mi} | {ok} |")
    return out


def _fails_only_the_mi_bar(summary: dict[str, Any], bars: tr.HealthBars) -> bool:
    """Not healthy, yet neither collapsed nor of low rank: the cos-DV MI bar alone fails."""
    return (not tr.healthy(summary, bars) and not summary["collapsed"]
            and summary["effective_rank"] >= 5.0)  # fmt: skip


def _predicted_healthy(name: str) -> bool | None:
    """The prediction for a run of :func:`plan` (None: a P3 control arm, predicted healthy by
    the theory as stated but not an arm of the prediction table)."""
    registry = {run_name(m, a): p for m, a, p in REGISTRY_RUNS}
    if name in registry:
        return registry[name]
    if name.startswith("sdmi"):
        if "−stop-grad" in name:
            return None
        return tr.p3_predicts_healthy(name.split()[1], "−predictor" not in name,
                                      "−marginal" not in name)  # fmt: skip
    return "−" not in name


def _plot(runs: Runs, true_mi: float, out: Path) -> str:
    fig = Figure(figsize=(12, 4.4))
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 3]})
    tracked = [tr.arm_name("gradient", True, True), tr.arm_name("gradient", False, False),
               "jmi", "jmi −marginal"]  # fmt: skip
    for (setting, _), ls in zip(SETTINGS, ("-", "--"), strict=True):
        r = next(iter(runs[setting].values()))
        for k, name in enumerate(tracked):
            h = r[name]["heldout"]
            ax1.errorbar([p["step"] for p in h], [p["mi"] for p in h],
                         yerr=[tr.Z95 * p["se"] for p in h], color=f"C{k}", ls=ls, marker="o",
                         ms=3, capsize=2, label=f"{setting}: {name}")  # fmt: skip
    ax1.axhline(true_mi, color="k", lw=1, ls=":", label="two-modality: exact I(X_A; X_B)")
    ax1.set_xlabel("training step")
    ax1.set_ylabel("held-out MI [nats] (95 % CI)")
    ax1.set_title("P1/P2 runs (solid: sequences, dashed: two-modality)", fontsize=9)
    ax1.legend(fontsize=6)
    names = list(next(iter(runs["sequences"].values())))
    for j, ((setting, _), marker) in enumerate(zip(SETTINGS, ("o", "s"), strict=True)):
        for i, name in enumerate(names):
            predicted = _predicted_healthy(name)
            ranks = [r[name]["summary"]["effective_rank"] for r in runs[setting].values()]
            colour = "grey" if predicted is None else ("C2" if predicted else "C3")
            ax2.scatter([i + 0.2 * j] * len(ranks), ranks, color=colour, marker=marker, s=16,
                        label=setting if i == 0 else None)  # fmt: skip
    ax2.axhline(5.0, color="k", lw=0.8, ls=":")
    ax2.set_yscale("log")
    ax2.set_xticks(range(len(names)), [n.replace("sdmi ", "") for n in names], rotation=70,
                   ha="right", fontsize=6)  # fmt: skip
    ax2.set_ylabel("final RankMe")
    ax2.set_title("every run (green: predicted healthy, red: predicted collapse, grey: P3 "
                  "control; dotted: RankMe 5)", fontsize=9)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    atomic_savefig(fig, out / "p8_modalities.png", dpi=110)
    return "p8_modalities.png"


def modality_section(seed: int, runs: Runs, true_mi: float,
                     out: Path) -> Section:  # fmt: skip
    """The P8 section from both settings' runs (its figure written into ``out``); the health
    bars of each setting are on its own scale (:func:`setting_scale`)."""
    exact = {"sequences": None, "two-modality": true_mi}
    scales = {s: setting_scale(r, exact[s]) for s, r in runs.items()}
    bars = {s: tr.HealthBars.relative(v) for s, v in scales.items()}
    claims = {s: setting_claims(r, bars[s]) for s, r in runs.items()}
    figure = _plot(runs, true_mi, Path(out))
    dpi = data_processing(runs["two-modality"], true_mi)
    p8 = p8_claim(claims, dpi)
    b = budget()
    verdicts = "\n".join(
        "| " + " | ".join([k, *(_verdict_cell(claims[s][k]) for s, _ in SETTINGS)]) + " |"
        for k in SUB_CLAIMS
    )
    names = list(plan(b))
    table = [row for s, _ in SETTINGS for row in _rows(s, runs[s], names, bars[s])]
    off = {s: [r["jmi −marginal"]["summary"] for r in runs[s].values()] for s, _ in SETTINGS}
    horizon = "; ".join(
        f"{s}: RankMe {_join([x['effective_rank'] for x in v], '.2f')}, embed_std·√d "
        f"{_join([x['embed_std'] * math.sqrt(x['embedding_dim']) for x in v], '.3f')}, cos-DV "
        f"{_join([x['mi_cosdv'] for x in v], '.3f')}" for s, v in off.items())  # fmt: skip
    settings = "\n".join("| " + " | ".join(cells) + " |" for cells in (
        ("sequences", "`markov-sequences`: 8 classes of doubly stochastic Markov chains on 16 "
         "tokens (equal unigram frequencies: the classes differ in their transitions)",
         "`seqcnn` (Embedding → Conv1d → mean)", "random crop of 20 of 32 tokens, 15 % masked"),
        ("two-modality", "`paired-bags`: a class emits a 24-d vector (16 informative, 8 "
         "nuisance) and a bag of 6 tokens", "`pair`: MLP tower / EmbeddingBag tower",
         f"the two modalities; exact I(X_A; X_B) = {true_mi:.3f} nats"),
    ))  # fmt: skip
    bar_only = "; ".join(
        f"{s}: " + (", ".join(f"{n} (seed {k}: {r[n]['summary']['mi_cosdv']:.2f})"
                              for k, r in per.items() for n in names
                              if _fails_only_the_mi_bar(r[n]["summary"], bars[s])) or "none")
        for s, per in runs.items())  # fmt: skip
    scale_text = (f"sequences: the canonical SDMI arm's median final cos-DV, "
                  f"{scales['sequences']:.2f} nats; two-modality: the exact I(X_A; X_B), "
                  f"{true_mi:.2f} nats")  # fmt: skip
    md = f"""Two non-image settings through the same method code (`paradigms`), {b.steps} steps,
{EVALS} evaluations after step 0, seeds {', '.join(str(seed + k) for k in b.seeds)}
(independent); rules of P1–P4 (`mitheory/claims/training.py`) with their cos-DV MI bars on each
setting's own scale (healthy from {collapse.SHARE:g} × the scale, P3's collapse line; complete
collapse under 1/20 of that): {scale_text}. Design in `mitheory/claims/modalities.py`.

| setting | data | encoder | views |
|---|---|---|---|
{settings}

Sub-verdicts (P1–P4 by the same rules as on the Gaussian mixture; registry: every other method
and ablation against "healthy iff a marginal term or a predictor is left and stop-gradient is
on"):

| claim | sequences | two-modality |
|---|---|---|
{verdicts}

**P8: {p8.verdict}** — {p8.detail}. Control: {p8.control.what if p8.control else ''} →
{p8.control.verdict if p8.control else ''}. Compare with P1–P4 on the Gaussian mixture above.
P4's complete-collapse bar (RankMe ≤ 2) was set on 300-step runs; here JMI −marginal ends at
{horizon}. Runs that count as collapsed only because their cos-DV MI is under the setting's health
bar (not collapsed, RankMe ≥ 5; cos-DV MI in brackets): {bar_only}.

![P8]({figure})

*Figure P8. Left: held-out MI of the P1/P2 runs and their controls; dotted: the exact MI of the
two-modality views, which no estimate should exceed. Right: final RankMe of every run.*

Per run (final RankMe, final cos-DV MI, held-out MI first → last where tracked, healthy):

| setting | run | RankMe | cos-DV MI | held-out MI | healthy |
|---|---|---|---|---|---|
{chr(10).join(table)}
"""
    data = {"steps": b.steps, "evals": EVALS, "true_mi_two_modality": true_mi, "scales": scales,
            "final": {s: {seed_: {n: run["summary"] for n, run in r.items()}
                          for seed_, r in per.items()} for s, per in runs.items()},
            "heldout": {s: {seed_: {n: run["heldout"] for n, run in r.items() if run["heldout"]}
                            for seed_, r in per.items()} for s, per in runs.items()},
            "registry": {s: c["registry"].extra["rows"] for s, c in claims.items()}}  # fmt: skip
    return Section("P8 — P1–P4 on token sequences and on two modalities", md, [p8], [figure],
                   data)


def report_sections(quick: bool, seed: int, out: Path,
                    progress: Callable[[str], None] | None = None) -> list[Section]:
    """P8's section (full report only; the quick report says so)."""
    if quick:
        return []
    from paradigms.data.tokens import paired_bags

    runs = collect(budget(), seed, progress=progress)
    true_mi = paired_bags(seed=seed).true_mi
    if true_mi is None or not math.isfinite(true_mi):
        raise RuntimeError("paired-bags gave no exact I(X_A; X_B)")
    return [modality_section(seed, runs, true_mi, Path(out))]
