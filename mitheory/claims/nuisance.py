"""The experiment behind P9 (CLAIMS.md): why high view MI need not give high downstream accuracy
(open question 2), tested with a nuisance factor that the two views share.

**Data** (``nuisance-views``, ``paradigms.data.vectors``): view v = [L_v, N_v], a label part
L_v = μ_y + σ_l ε_v (K = 8 classes in 4 dimensions) and a nuisance part N_v = s·u_v + σ_n η_v
(4 dimensions) of strength s. Shared (the claim): u_A = u_B; control (one factor changed,
the sharing): u_A, u_B drawn apart, each view's law unchanged. Exact values, in nats, per data
set: I(X_A; X_B) = I(L_A; L_B) + I(N_A; N_B); I(N_A; N_B) = −(k/2) log(1 − ρ²), ρ = s²/(s² + σ_n²)
when shared, 0 when not; I(L_A; L_B) ≤ I(L_A; Y) ≤ log K by Monte Carlo on exact densities (SE
< 0.005), with the Bayes accuracy of y from one view. At s = 0 both are one law: the strength-0
runs serve both arms.

**Runs**: each method of the budget (canonical SDMI and JMI; SimCLR in the full report) at every
strength, shared and not, ``seeds`` independent seeds per cell (seed k draws its own data set:
class means, rows, initialization, batches, views), through ``training.train_seeds`` (the seeds of
a cell train as one batched computation). The backbone is an MLP of width 8 (its features are
8-dimensional, as many as the label and nuisance parts together): limited capacity, so the
nuisance competes with the label for the features. Measured with a width of 32 instead (JMI,
100 steps, s = 1, 3 seeds): the probe lost 0.06 instead of 0.30, so the competition needs the
bottleneck.

**Measures** of the final backbone features Z = f(X_A) on a fresh held-out set of the run's data
set (``EVAL_SEED``; ``n_eval`` probe-training and ``n_eval`` test samples): view MI I(Z_A; Z_B)
read by a trained InfoNCE critic (``training.held_out_mi``, capped at log(n_eval/2)); I(Z; Y) by
Ross's mixed KSG; I(Z; N_A) by KSG (N_A the view's own nuisance coordinates); linear-probe
accuracy on y (``paradigms.measurement.probes``, binomial SE ≤ 0.5/√n_eval).

**Rule** (per method and arm, shared or not): least-squares trend of a measure against s over
every (strength, seed) run, its change over the range Δ = slope · s_max with a one-sided 95 %
t bound (n − 2 degrees of freedom). View MI *rises* when the lower bound of Δ_MI > δ_MI =
``SHARE`` × I(N_A; N_B) at s_max (shared: the nuisance MI the views can gain); accuracy *falls*
when the upper bound of Δ_acc < −δ_acc = −``SHARE`` × (Bayes accuracy − 1/K) (the accuracy the
label part allows above chance; mean over the seeds' data sets). A method passes when, shared,
its view MI rises and its accuracy falls. P9 holds when every method passes, fails when none
does, partial otherwise; control: the same rule on the unshared arm, where the views gain no MI
from the nuisance, must fail (no method passes). Accuracy may fall in the control too: drawn
apart, the nuisance is noise in each view, which a briefly trained encoder has not yet learnt to
ignore; the view MI, which decides the control, cannot gain from it.

Measured (seed 0, nats, the trend's change from s = 0 to s = 2, shared / drawn apart): quick
(40 steps; 14.5 s of CPU in one warm process, 27 s with two fresh worker processes) SDMI view MI
+1.27 / −0.53, accuracy −0.50 / −0.27; JMI +1.29 / −0.48, −0.52 / −0.21: holds, control fails.
Full (200 steps; 94 s of CPU with fresh workers) SDMI +2.49 / −0.07, −0.54 / −0.01; JMI
+2.60 / −0.07, −0.49 / +0.00; SimCLR +2.32 / −0.12, −0.60 / −0.01: holds, control fails; at
200 steps the control's accuracy no longer falls, and s = 0.5 (I(N_A; N_B) = 0.58 nats) moves
nothing beyond seed noise: the effect sets in between s = 0.5 and 1.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from estimators.atomic import atomic_savefig
from mitheory.claims import training as tr
from mitheory.claims.result import Claim, Control, Section, verdict_of
from mitheory.claims.runtime import WORKERS, parallel_map

DATA = "nuisance-views"
#: the generator's options (``paradigms.data.vectors.nuisance_views``) but strength and sharing
DATA_OPTIONS: dict[str, Any] = {
    "n_classes": 8, "label_dim": 4, "class_sep": 1.0, "label_noise": 0.5, "nuisance_dim": 4,
    "nuisance_noise": 0.5, "encoder_width": 8,
}  # fmt: skip
#: the rule's margins: this share of the nuisance MI at s_max, of the Bayes accuracy above chance
SHARE = 0.1
ALPHA = 0.05
#: the held-out views of the measures are drawn with this generator seed
EVAL_SEED = 7_777
#: L-BFGS iterations of the linear probe (the training loop's ``probe_max_iter``)
PROBE_ITER = 100
#: the view-MI critic: the quick held-out schedule, stopping 30 steps after the best read-out
#: (on 8-d Gaussian pairs at 0.4–6.6 nats the same estimates as patience 5, 30 % sooner)
CRITIC: dict[str, Any] = {**tr.QUICK_HELD_OUT, "patience": 3}


@dataclass(frozen=True)
class NuisanceBudget:
    methods: tuple[str, ...]
    strengths: tuple[float, ...]  # the first is 0
    seeds: tuple[int, ...]  # offsets added to the report seed
    steps: int
    n_eval: int  # probe-training and test samples (the MI estimates read the test ones)
    critic: tuple[tuple[str, Any], ...]  # the held-out InfoNCE critic's options


def budget(quick: bool) -> NuisanceBudget:
    """Quick (about 14 s of CPU): SDMI and JMI, s ∈ {0, 1, 2}, 3 seeds, 40 steps, 256 + 256
    evaluation samples; full (about 85 s): SimCLR too, s ∈ {0, 0.5, 1, 2}, 200 steps, 512 + 512
    samples."""
    critic = tuple(sorted(CRITIC.items()))
    if quick:
        return NuisanceBudget(("sdmi", "jmi"), (0.0, 1.0, 2.0), (0, 1, 2), 40, 256, critic)
    return NuisanceBudget(("sdmi", "jmi", "simclr"), (0.0, 0.5, 1.0, 2.0), (0, 1, 2), 200, 512,
                          critic)  # fmt: skip


# --------------------------------------------------------------------------- data and measures


def data_options(strength: float, shared: bool) -> dict[str, Any]:
    return {**DATA_OPTIONS, "nuisance": float(strength), "shared": shared}


def exact(strength: float, shared: bool, seed: int) -> dict[str, float]:
    """The data set's exact values (nats): ``view_mi`` = I(X_A; X_B), ``nuisance_mi`` =
    I(N_A; N_B), the label part's ``label_view_mi``, ``label_mi`` = I(L_A; Y) and ``bayes_acc``
    (Monte Carlo, ``paradigms.data.vectors.label_part``), ``chance`` = 1/K."""
    from paradigms.data.vectors import nuisance_label_part, nuisance_part_mi

    o = data_options(strength, shared)
    label = nuisance_label_part(seed, o["n_classes"], o["label_dim"], o["class_sep"],
                                o["label_noise"])  # fmt: skip
    nuis = nuisance_part_mi(strength, o["nuisance_dim"], o["nuisance_noise"], shared)
    return {"view_mi": label["view_mi"] + nuis, "nuisance_mi": nuis,
            "label_view_mi": label["view_mi"], "label_mi": label["label_mi"],
            "bayes_acc": label["bayes_acc"], "chance": 1.0 / o["n_classes"]}  # fmt: skip


def measure(options: dict[str, Any], n_eval: int, critic: dict[str, Any], seed: int,
            m: Any) -> dict[str, Any]:  # fmt: skip
    """The measures of the module docstring on a trained method ``m`` (the run's final
    evaluation hook; ``options`` the run's data options, ``seed`` its seed, which draws its data
    set)."""
    import torch

    from estimators.knn import ksg
    from estimators.mixed import mixed_ksg
    from paradigms.data.vectors import nuisance_views
    from paradigms.measurement.probes import linear_probe_accuracy

    data = nuisance_views(**{**options, "n_train": 2, "n_test": 2 * n_eval, "seed": seed})
    x_a, x_b = data.views(data.test_x, torch.Generator().manual_seed(EVAL_SEED))
    y, d = data.test_y, options["label_dim"]
    f_a, f_b = m.features(x_a).double(), m.features(x_b).double()
    n = n_eval
    acc = linear_probe_accuracy(f_a[:n], y[:n], f_a[n:], y[n:], max_iter=PROBE_ITER)
    view = tr.held_out_mi(f_a[n:], f_b[n:], seed, critic)
    z, nuisance = f_a[n:].numpy(), x_a[n:, d:].double().numpy()
    label = mixed_ksg(z, y[n:].numpy(), discrete="y", seed=seed)
    nuis = ksg(z, nuisance, seed=seed)
    return {"probe_acc": acc, "probe_se": math.sqrt(max(acc * (1 - acc), 1e-12) / n),
            "view_mi": view["mi"], "view_mi_se": view["se"],
            "label_mi": label.mi, "label_mi_se": label.diagnostics["se"],
            "nuisance_mi": nuis.mi, "nuisance_mi_se": nuis.diagnostics["se"]}  # fmt: skip


# --------------------------------------------------------------------------- runs

#: (method, strength, shared): one cell; strength 0 appears once (shared=True), for both arms
Cell = tuple[str, float, bool]


def cells(b: NuisanceBudget) -> list[Cell]:
    return [(m, s, shared) for m in b.methods for s in b.strengths
            for shared in ((True,) if s == 0 else (True, False))]  # fmt: skip


def _train_cell(cell: Cell, seeds: tuple[int, ...], b: NuisanceBudget) -> list[dict[str, Any]]:
    """One cell's seeds as one batched computation; each run's ``measure`` values."""
    method, strength, shared = cell
    options = data_options(strength, shared)
    runs = []
    out = tr.train_seeds((method, "", (), b.steps, ""), seeds, DATA, 1, data_options=options,
                         final=functools.partial(measure, options, b.n_eval, dict(b.critic)))
    for s, run in zip(seeds, out, strict=True):
        runs.append({"seed": s, **run["final"], "collapsed": bool(run["summary"]["collapsed"]),
                     "exact": exact(strength, shared, s)})  # fmt: skip
    return runs


def collect(b: NuisanceBudget, seed: int, progress: Callable[[str], None] | None = None,
            workers: int = WORKERS) -> dict[Cell, list[dict[str, Any]]]:  # fmt: skip
    """Every cell's runs (worker processes, one job per cell)."""
    seeds = tuple(seed + k for k in b.seeds)
    jobs = [(cell, seeds, b) for cell in cells(b)]
    done = parallel_map(_train_cell, jobs, label="P9", progress=progress, workers=workers)
    return dict(zip(cells(b), done, strict=True))


# --------------------------------------------------------------------------- rule

MEASURES = ("view_mi", "probe_acc", "label_mi", "nuisance_mi")


def trend(points: list[tuple[float, float]], s_max: float, alpha: float = ALPHA) -> dict[str, Any]:
    """Least-squares line through (strength, value) points: the change over the range
    Δ = slope · s_max, its SE and one-sided (1 − α) bounds (t, n − 2 degrees of freedom)."""
    x = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    n = len(x)
    sxx = float(np.sum((x - x.mean()) ** 2))
    if n < 3 or sxx == 0:
        raise ValueError(f"a trend needs ≥ 3 points at ≥ 2 strengths, got {n}")
    slope = float(np.sum((x - x.mean()) * (y - y.mean())) / sxx)
    resid = y - y.mean() - slope * (x - x.mean())
    se = math.sqrt(float(np.sum(resid**2)) / (n - 2) / sxx) * s_max
    t = float(stats.t.ppf(1 - alpha, n - 2))
    change = slope * s_max
    return {"change": change, "se": se, "lower": change - t * se, "upper": change + t * se,
            "n": n, "t": t}  # fmt: skip


def arm(runs: dict[Cell, list[dict[str, Any]]], method: str, shared: bool,
        strengths: tuple[float, ...]) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """The runs of one method's arm by strength (strength 0: the common runs)."""
    return {s: runs[(method, s, True if s == 0 else shared)] for s in strengths}  # type: ignore[misc]


def margins(runs: dict[Cell, list[dict[str, Any]]], b: NuisanceBudget) -> dict[str, float]:
    """δ_MI = SHARE × I(N_A; N_B) at s_max, shared; δ_acc = SHARE × (Bayes accuracy − 1/K),
    mean over the data sets of the runs."""
    s_max = max(b.strengths)
    ex = [r["exact"] for m in b.methods for r in runs[(m, s_max, True)]]
    return {"mi": SHARE * float(np.mean([e["nuisance_mi"] for e in ex])),
            "acc": SHARE * float(np.mean([e["bayes_acc"] - e["chance"] for e in ex]))}


def arm_rule(by_strength: dict[float, list[dict[str, Any]]], delta: dict[str, float]) -> dict:
    """The rule of the module docstring on one arm: the trend of every measure, ``rises`` (view
    MI), ``falls`` (accuracy) and ``pass`` (both)."""
    s_max = max(by_strength)
    out: dict[str, Any] = {
        name: trend([(s, r[name]) for s, rs in by_strength.items() for r in rs], s_max)
        for name in MEASURES
    }
    out["rises"] = out["view_mi"]["lower"] > delta["mi"]
    out["falls"] = out["probe_acc"]["upper"] < -delta["acc"]
    out["pass"] = out["rises"] and out["falls"]
    return out


def rules(runs: dict[Cell, list[dict[str, Any]]], b: NuisanceBudget) -> dict[str, dict]:
    """{"shared"/"unshared": {method: :func:`arm_rule`}} and the margins."""
    delta = margins(runs, b)
    return {name: {m: arm_rule(arm(runs, m, shared, b.strengths), delta) for m in b.methods}
            for name, shared in (("shared", True), ("unshared", False))}  # fmt: skip


def p9_claim(runs: dict[Cell, list[dict[str, Any]]], b: NuisanceBudget) -> tuple[Claim, dict]:
    """P9 from the shared arms, the control from the unshared ones (module docstring)."""
    delta = margins(runs, b)
    table = rules(runs, b)
    shared, unshared = table["shared"], table["unshared"]

    def fmt(rule: dict[str, Any]) -> str:
        v, a = rule["view_mi"], rule["probe_acc"]
        return (f"Δ view MI {v['change']:+.2f} nats (lower bound {v['lower']:+.2f}), Δ accuracy "
                f"{a['change']:+.3f} (upper bound {a['upper']:+.3f})")  # fmt: skip

    n_pass = sum(r["pass"] for r in shared.values())
    c_pass = sum(r["pass"] for r in unshared.values())
    s_max = max(b.strengths)
    mech = "; ".join(
        f"{m}: I(Z; label) {r['label_mi']['change']:+.2f}, I(Z; nuisance) "
        f"{r['nuisance_mi']['change']:+.2f} nats" for m, r in shared.items())  # fmt: skip
    claim = Claim(
        "P9",
        verdict_of(n_pass, len(shared)),
        min(r["view_mi"]["lower"] for r in shared.values()),
        f"smallest one-sided 95 % lower bound of the view-MI change from s = 0 to "
        f"s = {s_max:g} (shared nuisance) over the methods; "
        + "; ".join(f"{m}: {fmt(r)} → {'pass' if r['pass'] else 'no'}"
                    for m, r in shared.items())
        + f"; mechanism (change over the range): {mech}; {len(b.seeds)} seeds per cell",
        threshold=f"per method, least-squares trend over strengths {b.strengths} and seeds: "
        f"view MI rises (lower bound > δ_MI = {SHARE:g} × I(N_A; N_B) at s_max = "
        f"{delta['mi']:.3f} nats) and probe accuracy falls (upper bound < −δ_acc = −{SHARE:g} "
        f"× (Bayes accuracy − 1/K) = {-delta['acc']:.3f}); holds when every method passes",
        control=Control(
            "the same rule with the nuisance drawn apart for each view (same strengths, same "
            "per-view law): " + "; ".join(f"{m}: {fmt(r)}" for m, r in unshared.items())
            + f" → {c_pass}/{len(unshared)} methods pass",
            verdict_of(c_pass, len(unshared)),
            min(r["view_mi"]["lower"] for r in unshared.values()),
        ),
        seeds=tuple(sorted({r["seed"] for rs in runs.values() for r in rs})),
        extra={"margins": delta,
               "rules": {a: {m: {k: v for k, v in r.items()} for m, r in t.items()}
                         for a, t in table.items()}},
    )  # fmt: skip
    return claim, table


# --------------------------------------------------------------------------- section


def _mean_ci(values: list[float]) -> tuple[float, float, float]:
    """Mean over seeds, its SE and the half-width of its two-sided 95 % t interval."""
    v = np.asarray(values, dtype=float)
    se = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan
    half = float(stats.t.ppf(0.975, len(v) - 1)) * se if len(v) > 1 else math.nan
    return float(v.mean()), se, half


def cell_rows(runs: dict[Cell, list[dict[str, Any]]], b: NuisanceBudget) -> list[dict[str, Any]]:
    """One row per (strength, arm, method): means over seeds with intervals, and exact MIs."""
    rows = []
    for s in b.strengths:
        for shared in ((True,) if s == 0 else (True, False)):
            for m in b.methods:
                rs = runs[(m, s, shared)]
                row: dict[str, Any] = {"strength": s, "shared": "either" if s == 0 else shared,
                                       "method": m, "seeds": [r["seed"] for r in rs],
                                       "collapsed": sum(r["collapsed"] for r in rs)}  # fmt: skip
                for name in MEASURES:
                    mean, se, half = _mean_ci([r[name] for r in rs])
                    row[name] = {"mean": mean, "se": se, "ci": [mean - half, mean + half],
                                 "per_seed": [r[name] for r in rs]}  # fmt: skip
                for name in ("view_mi", "nuisance_mi", "label_mi", "bayes_acc"):
                    row["exact_" + name] = float(np.mean([r["exact"][name] for r in rs]))
                row["probe_binomial_se"] = float(np.mean([r["probe_se"] for r in rs]))
                rows.append(row)
    return rows


def _plot(rows: list[dict[str, Any]], b: NuisanceBudget, out: Path) -> str:
    fig = Figure(figsize=(13, 4.2))
    axes = fig.subplots(1, 3)
    panels = (("view_mi", "view MI I(Z_A; Z_B) [nats] (95 % CI over seeds)"),
              ("probe_acc", "linear-probe accuracy on y (95 % CI over seeds)"),
              ("mechanism", "I(Z; label) (○) and I(Z; nuisance) (□) [nats]"))  # fmt: skip
    for ax, (name, label) in zip(axes, panels, strict=True):
        for k, m in enumerate(b.methods):
            for shared, ls in ((True, "-"), (False, "--")):
                sel = [r for r in rows if r["method"] == m
                       and (r["strength"] == 0 or r["shared"] is shared)]  # fmt: skip
                x = [r["strength"] + 0.02 * k for r in sel]
                tag = f"{m}, {'shared' if shared else 'not shared'}"
                if name == "mechanism":
                    if not shared:
                        continue
                    for key, marker in (("label_mi", "o"), ("nuisance_mi", "s")):
                        ax.errorbar(x, [r[key]["mean"] for r in sel],
                                    yerr=[r[key]["mean"] - r[key]["ci"][0] for r in sel],
                                    color=f"C{k}", marker=marker, ls=ls, ms=4, capsize=2,
                                    label=m if key == "label_mi" else None)  # fmt: skip
                    continue
                ax.errorbar(x, [r[name]["mean"] for r in sel],
                            yerr=[r[name]["mean"] - r[name]["ci"][0] for r in sel],
                            color=f"C{k}", marker="o", ls=ls, ms=4, capsize=2, label=tag)
        if name == "view_mi":
            shared_rows = [r for r in rows if r["method"] == b.methods[0]
                           and r["shared"] is not False]  # fmt: skip
            ax.plot([r["strength"] for r in shared_rows],
                    [r["exact_view_mi"] for r in shared_rows], "k:", label="exact I(X_A; X_B), "
                    "shared")  # fmt: skip
        if name == "probe_acc":
            bayes = rows[0]["exact_bayes_acc"]
            ax.axhline(bayes, color="k", ls=":", lw=1, label="Bayes accuracy of one view")
        ax.set_xlabel("nuisance strength s")
        ax.set_ylabel(label, fontsize=8)
        ax.legend(fontsize=6)
    fig.suptitle("P9: a shared nuisance (solid) against the same nuisance drawn apart per view "
                 "(dashed)", fontsize=9)  # fmt: skip
    fig.tight_layout()
    atomic_savefig(fig, out / "p9_nuisance.png", dpi=110)
    return "p9_nuisance.png"


def _ci(x: dict[str, Any], fmt: str) -> str:
    return f"{x['mean']:{fmt}} [{x['ci'][0]:{fmt}}, {x['ci'][1]:{fmt}}]"


def nuisance_section(runs: dict[Cell, list[dict[str, Any]]], b: NuisanceBudget, seed: int,
                     out: Path) -> Section:  # fmt: skip
    """The P9 section from the runs of :func:`collect` (its figure written into ``out``)."""
    claim, table = p9_claim(runs, b)
    rows = cell_rows(runs, b)
    figure = _plot(rows, b, Path(out))
    o = DATA_OPTIONS
    sharing = {True: "yes", False: "no", "either": "(either)"}
    lines = [
        f"| {r['strength']:g} | {sharing[r['shared']]} | {r['method']} | "
        f"{_ci(r['view_mi'], '.2f')} | {r['exact_view_mi']:.2f} | "
        f"{_ci(r['label_mi'], '.2f')} | {_ci(r['nuisance_mi'], '.2f')} | "
        f"{r['probe_acc']['mean']:.3f} ± {r['probe_acc']['se']:.3f} |"
        for r in rows
    ]
    rule_lines = []
    for a, per in table.items():
        for m, r in per.items():
            v, acc = r["view_mi"], r["probe_acc"]
            rule_lines.append(
                f"| {a} | {m} | {v['change']:+.2f} ± {v['se']:.2f} ({v['lower']:+.2f}) | "
                f"{'**yes**' if r['rises'] else 'no'} | {acc['change']:+.3f} ± {acc['se']:.3f} "
                f"({acc['upper']:+.3f}) | {'**yes**' if r['falls'] else 'no'} | "
                f"{r['label_mi']['change']:+.2f} | {r['nuisance_mi']['change']:+.2f} | "
                f"{'pass' if r['pass'] else '—'} |")  # fmt: skip
    d = claim.extra["margins"]
    s_max = max(b.strengths)
    md = f"""Open question 2: the views can share more than the label. Data `{DATA}`
(`paradigms/data/vectors.py`): view v = [μ_y + σ_l ε_v, s·u_v + σ_n η_v], K = {o['n_classes']}
classes in {o['label_dim']} dimensions (σ_l = {o['label_noise']}, class means
N(0, {o['class_sep']}² I)), a {o['nuisance_dim']}-dimensional Gaussian nuisance of strength s
(σ_n = {o['nuisance_noise']}), **shared** (u_A = u_B) or, the control, **drawn apart** for each
view (the same law per view).
Exact: I(X_A; X_B) = I(L_A; L_B) + I(N_A; N_B), I(N_A; N_B) = −(k/2) log(1 − ρ²),
ρ = s²/(s² + σ_n²) when shared, 0 when not; I(L_A; L_B) ≤ log K by Monte Carlo. Methods
{', '.join(b.methods)}, {b.steps} steps, MLP backbone of width {o['encoder_width']} (features as
many as the label and nuisance parts together), seeds {', '.join(str(seed + k) for k in b.seeds)}
(each its own data set). Measured on the backbone features Z = f(X_A) of {b.n_eval} fresh
held-out views (a linear probe trained on {b.n_eval} others): view MI by a trained InfoNCE critic
(at most log {b.n_eval // 2} = {math.log(b.n_eval // 2):.2f} nats), I(Z; label) by mixed KSG,
I(Z; nuisance) by KSG (nuisance: the view's own nuisance coordinates). Rule:
`mitheory/claims/nuisance.py` (module docstring).

| strength s | shared | method | view MI [95 % CI] | exact I(X_A; X_B) | I(Z; label) | \
I(Z; nuisance) | probe accuracy ± SE |
|---|---|---|---|---|---|---|---|
{chr(10).join(lines)}

(Means over {len(b.seeds)} seeds with 95 % t intervals; accuracy SE over seeds, binomial SE of
one probe ≈ {rows[0]['probe_binomial_se']:.3f}; Bayes accuracy of one view
{rows[0]['exact_bayes_acc']:.3f}, chance {1 / o['n_classes']:.3f}; exact I(L_A; Y) =
{rows[0]['exact_label_mi']:.2f} nats.)

Trend from s = 0 to s = {s_max:g} (least squares over strengths and seeds, ± SE, one-sided 95 %
bound in brackets); view MI rises when its lower bound > δ_MI = {d['mi']:.3f} nats ({SHARE:g} ×
the shared nuisance MI at s = {s_max:g}); accuracy falls when its upper bound < −δ_acc =
{-d['acc']:.3f} ({SHARE:g} × the Bayes accuracy above chance). Accuracy may fall in the control
too (drawn apart, the nuisance is noise in each view, which a briefly trained encoder has not yet
learnt to ignore); the control is decided by the view MI, which that noise cannot raise.

| arm | method | Δ view MI (bound) | rises | Δ accuracy (bound) | falls | Δ I(Z; label) | \
Δ I(Z; nuisance) | |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(rule_lines)}

**P9: {claim.verdict}** — {claim.detail}. Control: {claim.control.what if claim.control else ''}
→ {claim.control.verdict if claim.control else ''}.

![P9]({figure})

*Figure P9. Left: view MI of the backbone features against the nuisance strength (dotted: the
exact I(X_A; X_B) of the shared data; the critic reads a lower bound). Middle: linear-probe
accuracy (dotted: the Bayes accuracy of one view). Right: I(Z; label) and I(Z; nuisance) of the
shared arm: the encoder spends its features on the nuisance.*
"""
    data = {"budget": {"methods": list(b.methods), "strengths": list(b.strengths),
                       "seeds": [seed + k for k in b.seeds], "steps": b.steps,
                       "n_eval": b.n_eval, "critic": dict(b.critic), "data": DATA_OPTIONS},
            "rows": rows, "margins": d,
            "rules": {a: {m: {k: v for k, v in r.items()} for m, r in per.items()}
                      for a, per in table.items()}}  # fmt: skip
    return Section("P9 — a shared nuisance: more view MI, less accuracy (open question 2)", md,
                   [claim], [figure], data)


def report_sections(quick: bool, seed: int, out: Path,
                    progress: Callable[[str], None] | None = None) -> list[Section]:
    """The P9 section (quick: the reduced budget of :func:`budget`)."""
    b = budget(quick)
    runs = collect(b, seed, progress)
    return [nuisance_section(runs, b, seed, Path(out))]
