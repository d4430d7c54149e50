"""Report sections for the estimator claims E1–E5 (CLAIMS.md), computed in the run.

- E1 (InfoNCE ≤ log N) and E2 (DV ≥ NWJ) on many random and adversarial score matrices;
- E3: the exact optimal critic on correlated Gaussians — NWJ unbiased at every batch size,
  InfoNCE saturating at log N when I ≫ log N, DV's finite-batch bias against the delta method;
- E4/E5: ``estimators.estimate_mi`` on a small known-MI task set (``mitheory.distributions``) and
  under MI-preserving transforms (``mitheory.transforms``), with the tolerances of
  ``verification/test_estimator_tasks.py``.

This module belongs to the report, which may import ``estimators`` (theory modules may not).
Every verdict is a small pure function of the numbers measured here, so a test can feed it a
violating input. All information values are in nats.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from scipy.stats import norm

from estimators import bounds, estimate_mi
from estimators.atomic import atomic_savefig
from mitheory.claims.result import Claim, Control, Section, verdict_of
from mitheory.claims.runtime import WORKERS, parallel_map, single_thread
from mitheory.closed_forms import optimal_critic_marginal_variance
from mitheory.distributions import AdditiveUniform, SparseGaussian, StudentT, Task, task_set
from mitheory.transforms import TRANSFORMS

Bound = Callable[[torch.Tensor], torch.Tensor]

#: E4/E5 bias tolerance δ (relative) and sampling allowance z (standard errors), as in
#: verification/test_estimator_tasks.py: |Î − I| ≤ δ·I + z·SE
DELTA = 0.10
Z_TASK = 3.0
#: E4/E5 power statements: the one-sided normal quantile of power 0.8
Z_POWER = 0.8416212335729143
Z95 = 1.959963984540054
#: E3 Gaussian views: per-coordinate correlation ρ < 1/3 (keeps E_q[(p/q)^4] finite) and d
E3_RHO, E3_DIM = 0.3, 10
#: E3 high-MI case for InfoNCE saturation: I = −5 log(1 − 0.99²) ≈ 19.6 nats
E3_RHO_HIGH = 0.99
#: E3 negative control: the optimal critic scaled by this factor is no longer optimal
E3_CONTROL_SCALE = 0.5
#: E3: InfoNCE "saturates" when it closes < 1 % of the distance from log N to I
SATURATION_FRACTION = 0.01


@dataclass(frozen=True)
class EstimatorBudget:
    """Sizes of one run of the estimator sections (``quick`` and full defaults below)."""

    e1_matrices: int  # random score matrices per scale (E1/E2)
    e3_elements: int  # batches × N² per batch size (E3)
    e3_sizes: tuple[int, ...]  # batch sizes N (E3)
    n_samples: int  # samples per task (E4/E5)
    neural: tuple[str, ...]  # trained estimators run besides KSG and the Gaussian plug-in
    max_dim: int  # E4 tasks of task_set() with max(dim_x, dim_y) ≤ this (and MI ≤ 2)


def budget(quick: bool) -> EstimatorBudget:
    """Quick: KSG and the plug-in on small tasks. Full: also InfoNCE on every task up to 25 + 25
    dimensions (SMILE was dropped from this run: in the full report of the claims rebuild it was
    never the only estimator to pass a task, and it cost a minute and a half)."""
    if quick:
        return EstimatorBudget(200, 2_000_000, (4, 8, 16), 2000, (), 5)
    return EstimatorBudget(2000, 20_000_000, (4, 8, 16, 32, 64), 5000, ("infonce",), 25)


def _save(fig: Figure, out: Path, name: str) -> str:
    fig.tight_layout()
    atomic_savefig(fig, out / name, dpi=110)
    return name


def score_matrices(count: int, seed: int) -> Iterator[tuple[str, torch.Tensor]]:
    """(kind, S) pairs in float64: ``count`` random N(0, σ²) matrices for each σ in
    {0.1, 1, 10, 100} with N in 2..256, and adversarial ones — a dominant diagonal c·I
    (InfoNCE → log N as c → ∞), a dominant off-diagonal, constant matrices, one huge entry, and
    ±10⁴ entries where NWJ's exp overflows."""
    g = torch.Generator().manual_seed(seed)
    for scale in (0.1, 1.0, 10.0, 100.0):
        for _ in range(count):
            n = int(torch.randint(2, 257, (1,), generator=g))
            yield f"normal σ={scale:g}", scale * torch.randn(n, n, generator=g, dtype=torch.float64)
    for n in (2, 3, 16, 256):
        eye = torch.eye(n, dtype=torch.float64)
        for c in (1.0, 10.0, 50.0, 1e3, 1e4):
            yield "dominant diagonal", c * eye
            yield "dominant off-diagonal", c * (1 - eye)
        for c in (-1e4, -1.0, 0.0, 1.0, 1e4):
            yield "constant", torch.full((n, n), c, dtype=torch.float64)
        one = torch.zeros(n, n, dtype=torch.float64)
        one[0, -1] = 700.0
        yield "one huge entry", one
        signs = torch.randint(0, 2, (n, n), generator=g).to(torch.float64) * 2 - 1
        yield "±1e4 entries", 1e4 * signs


def bound_gaps(
    matrices: Iterator[tuple[str, torch.Tensor]],
    infonce: Bound = bounds.infonce,
    dv: Bound = bounds.dv,
    nwj: Bound = bounds.nwj,
) -> list[dict[str, Any]]:
    """Per matrix: InfoNCE − log N (E1), DV − NWJ (E2), the log mean off-diagonal e^S (M), and
    the float64 rounding allowance 8·eps·max(1, |J|, |M|) of the E2 comparison."""
    rows = []
    for kind, s in matrices:
        joint = bounds.joint_term(s).item()
        marg = bounds.log_mean_exp_marginal(s).item()
        rows.append(
            {
                "kind": kind,
                "n": int(s.shape[0]),
                "e1_gap": infonce(s).item() - math.log(s.shape[0]),
                "e2_gap": dv(s).item() - nwj(s).item(),
                "log_m": marg,
                "e2_tol": 8 * np.finfo(np.float64).eps * max(1.0, abs(joint), abs(marg)),
            }
        )
    return rows


def e1_claim(rows: list[dict[str, Any]], seed: int) -> Claim:
    """E1 holds when no matrix has InfoNCE − log N > 0 (exact in float64: every row term
    S_ii − logsumexp_j S_ij ≤ 0 and rounding is monotone)."""
    gaps = np.array([r["e1_gap"] for r in rows])
    worst = float(gaps.max())
    bad = int((gaps > 0).sum())
    return Claim(
        "E1",
        "holds" if bad == 0 else "fails",
        worst,
        f"max of InfoNCE − log N over {len(rows)} random and adversarial float64 score matrices "
        f"(N = 2–256); {bad} above 0",
        threshold="InfoNCE − log N ≤ 0 on every matrix",
        seeds=(seed,),
    )


def e2_claim(rows: list[dict[str, Any]], seed: int) -> Claim:
    """E2 holds when DV − NWJ ≥ −(float64 rounding allowance) for every matrix
    (DV − NWJ = m/e − log m ≥ 0, m the mean off-diagonal e^S: log is below its tangent at e)."""
    gaps = np.array([r["e2_gap"] for r in rows])
    bad = int(sum(r["e2_gap"] < -r["e2_tol"] for r in rows))
    return Claim(
        "E2",
        "holds" if bad == 0 else "fails",
        float(gaps.min()),
        f"min of DV − NWJ over {len(rows)} score matrices (same matrices as E1); {bad} below "
        "−8 eps·max(1, |J|, |M|)",
        threshold="DV − NWJ ≥ −8 eps·max(1, |J|, |M|) on every matrix",
        seeds=(seed,),
    )


def _plot_e1_e2(rows: list[dict[str, Any]], out: Path) -> str:
    fig = Figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    kinds = sorted({r["kind"] for r in rows})
    for kind in kinds:
        sel = [r for r in rows if r["kind"] == kind]
        # distance below the bound, floored at 1e-18 to show exact ties on the log axis
        ax1.scatter([r["n"] for r in sel], [max(-r["e1_gap"], 1e-18) for r in sel], s=6,
                    alpha=0.6, label=kind)  # fmt: skip
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("batch size N")
    ax1.set_ylabel("log N − InfoNCE [nats] (floor 1e-18)")
    ax1.set_title("E1: InfoNCE never above log N")
    ax1.legend(fontsize=6)
    finite = [r for r in rows if math.isfinite(r["e2_gap"]) and abs(r["log_m"]) < 30]
    lm = np.array([r["log_m"] for r in finite])
    ax2.scatter(lm, [r["e2_gap"] for r in finite], s=6, alpha=0.5, label="score matrices")
    grid = np.linspace(float(lm.min()), float(lm.max()), 300)
    ax2.plot(grid, np.exp(grid - 1) - grid, "k-", lw=1, label="m/e − log m")
    ax2.set_yscale("symlog", linthresh=1e-3)
    ax2.set_xlabel("log m = log mean_{i≠j} exp S_ij")
    ax2.set_ylabel("DV − NWJ [nats]")
    ax2.set_title("E2: DV ≥ NWJ, equality only at m = e")
    ax2.legend(fontsize=8)
    return _save(fig, out, "e1_e2_bounds.png")


# --------------------------------------------------------------------------- E3


def gaussian_mi(rho: float, dim: int) -> float:
    """I = −(d/2) log(1 − ρ²) for d independent coordinate pairs of correlation ρ."""
    return -dim / 2 * math.log(1 - rho**2)


def optimal_critic_scores(
    reps: int, n: int, rho: float, dim: int, generator: torch.Generator
) -> torch.Tensor:
    """``reps`` batches of the exact log density ratio T*(x_i, y_j) = log p(x_i,y_j)/p(x_i)p(y_j)
    on n pairs, y = ρx + √(1−ρ²)ε per coordinate: [reps, n, n] float64.
    T* = Σ_k [−½ log(1−ρ²) − (ρ²x_k² − 2ρ x_k y_k + ρ²y_k²)/(2(1−ρ²))]."""
    x = torch.randn(reps, n, dim, generator=generator, dtype=torch.float64)
    eps = torch.randn(reps, n, dim, generator=generator, dtype=torch.float64)
    y = rho * x + math.sqrt(1 - rho**2) * eps
    r2 = 1 - rho**2
    q = (
        rho**2 * (x**2).sum(-1)[..., :, None]
        - 2 * rho * x @ y.transpose(-1, -2)
        + rho**2 * (y**2).sum(-1)[..., None, :]
    )
    return -0.5 * dim * math.log(r2) - q / (2 * r2)


def dv_bias_prediction(n: int, rho: float, dim: int) -> float:
    """Delta-method DV bias with the optimal critic: E[DV] − I ≈ Var(m̂)/2
    (``mitheory.closed_forms.optimal_critic_marginal_variance``)."""
    return optimal_critic_marginal_variance(n, rho, dim) / 2


def _batched_infonce(s: torch.Tensor) -> torch.Tensor:
    """``bounds.infonce`` of each matrix of a [reps, N, N] stack (the same formula, batched)."""
    diag = s.diagonal(dim1=-2, dim2=-1)
    return (diag - torch.logsumexp(s, dim=-1)).mean(-1) + math.log(s.shape[-1])


def e3_rows(
    b: EstimatorBudget, seed: int, *, critic_scale: float = 1.0, rho_high: float = E3_RHO_HIGH,
    elements: int | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Per batch size N: NWJ (critic T* + 1, unbiased), DV (critic T*) and InfoNCE (critic T*)
    at I = 0.47 nats, and InfoNCE at I ≈ 19.6 nats (correlation ``rho_high``), each as mean and
    standard error over ``e3_elements / N²`` batches. ``critic_scale`` ≠ 1 scores with
    c·T* instead (not the optimal critic: the negative control)."""
    truth = gaussian_mi(E3_RHO, E3_DIM)
    truth_high = gaussian_mi(rho_high, E3_DIM)
    elements = b.e3_elements if elements is None else elements
    g = torch.Generator().manual_seed(seed)
    rows = []
    for n in b.e3_sizes:
        reps = max(elements // (n * n), 200)
        chunk = max(1, 2_000_000 // (n * n))
        eye = torch.eye(n, dtype=torch.bool)
        joint, marg, nce = [], [], []
        for start in range(0, reps, chunk):
            s = critic_scale * optimal_critic_scores(min(chunk, reps - start), n, E3_RHO, E3_DIM, g)
            joint.append(s.diagonal(dim1=-2, dim2=-1).mean(-1))
            marg.append(
                torch.logsumexp(s.masked_fill(eye, -math.inf).flatten(-2), -1)
                - math.log(n * (n - 1))
            )
            nce.append(_batched_infonce(s))
        j, m, nce_t = torch.cat(joint), torch.cat(marg), torch.cat(nce)
        nce_high_t = _batched_infonce(
            critic_scale * optimal_critic_scores(min(reps, 2000), n, rho_high, E3_DIM, g)
        )
        nwj = j + 1.0 - torch.exp(m)  # NWJ(T* + 1) = J + 1 − e^{M}
        centred = torch.exp(m) - 1.0
        rows.append(
            {
                "n": n,
                "batches": reps,
                "truth": truth,
                "nwj_mean": nwj.mean().item(),
                "nwj_se": nwj.std().item() / math.sqrt(reps),
                # E[J] = I exactly, so E[DV] − I = −E[M]: estimated by −mean(M), SE of M alone
                "dv_bias": -m.mean().item(),
                "dv_bias_se": m.std().item() / math.sqrt(reps),
                "dv_bias_pred": dv_bias_prediction(n, E3_RHO, E3_DIM),
                "dv_third": abs((centred**3).mean().item()) / 3,
                "infonce_mean": nce_t.mean().item(),
                "infonce_se": nce_t.std().item() / math.sqrt(nce_t.numel()),
                "truth_high": truth_high,
                "infonce_high_mean": nce_high_t.mean().item(),
                "infonce_high_max": nce_high_t.max().item(),
                "log_n": math.log(n),
            }
        )
    return rows


def e3_checks(rows: list[dict[str, Any]]) -> tuple[list[bool], float]:
    """The E3 rule: at every N, (a) NWJ's mean is within z·SE of I, (b) DV's bias is within
    z·SE + |E(m̂−1)³|/3 (the first neglected delta-method term) of Var(m̂)/2, and (c) InfoNCE at
    the high MI is ≤ log N and closes < 1 % of the gap from log N to I. z is the two-sided
    Bonferroni value for a family-wise 1 % over the 2·len(rows) statistical checks. Returns the
    checks and z."""
    z = float(norm.ppf(1 - 0.01 / (2 * 2 * len(rows))))
    checks = []
    for r in rows:
        checks.append(abs(r["nwj_mean"] - r["truth"]) <= z * r["nwj_se"])
        checks.append(abs(r["dv_bias"] - r["dv_bias_pred"]) <= z * r["dv_bias_se"] + r["dv_third"])
        closed = (r["infonce_high_mean"] - r["log_n"]) / (r["truth_high"] - r["log_n"])
        checks.append(r["infonce_high_max"] <= r["log_n"] and abs(closed) < SATURATION_FRACTION)
    return checks, z


def e3_claim(rows: list[dict[str, Any]], control_rows: list[dict[str, Any]], seed: int) -> Claim:
    """E3 from :func:`e3_checks` (holds: all pass, partial: some); the control is the same rule
    on the critic ½·T* (not optimal) with the "high" MI at I = 0.47 < log N."""
    checks, z = e3_checks(rows)
    c_checks, _ = e3_checks(control_rows)
    worst_nwj = max(abs(r["nwj_mean"] - r["truth"]) / r["nwj_se"] for r in rows)
    c_worst = max(abs(r["nwj_mean"] - r["truth"]) / r["nwj_se"] for r in control_rows)
    return Claim(
        "E3",
        verdict_of(sum(checks), len(checks)),
        worst_nwj,
        f"max |NWJ − I|/SE with the optimal critic over N = "
        f"{', '.join(str(r['n']) for r in rows)}; DV bias vs Var/2 and InfoNCE saturation at "
        f"I = {rows[0]['truth_high']:.1f} nats: {sum(checks)}/{len(checks)} checks pass",
        threshold=f"|NWJ − I| ≤ {z:.2f} SE (Bonferroni, family-wise 1 %), DV bias within "
        f"{z:.2f} SE + third-order term of Var(m̂)/2, InfoNCE closes < {SATURATION_FRACTION:.0%} "
        "of the gap log N → I",
        control=Control(
            f"critic ½·T* (not optimal), InfoNCE at I = {control_rows[0]['truth_high']:.2f} "
            f"< log N: {sum(c_checks)}/{len(c_checks)} checks pass, max |NWJ − I|/SE = "
            f"{c_worst:.1f}",
            verdict_of(sum(c_checks), len(c_checks)),
            c_worst,
        ),
        seeds=(seed,),
    )


def _plot_e3(rows: list[dict[str, Any]], out: Path) -> str:
    fig = Figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    ns = np.array([r["n"] for r in rows], dtype=float)
    ax1.errorbar(ns, [r["nwj_mean"] - r["truth"] for r in rows],
                 yerr=[Z95 * r["nwj_se"] for r in rows], fmt="o-", capsize=3,
                 label="NWJ(T*+1) − I (95 % CI)")  # fmt: skip
    ax1.errorbar(ns * 1.04, [r["dv_bias"] for r in rows],
                 yerr=[Z95 * r["dv_bias_se"] for r in rows], fmt="s-", capsize=3,
                 label="DV(T*) − I (95 % CI)")  # fmt: skip
    ax1.plot(ns, [r["dv_bias_pred"] for r in rows], "k--", label="delta method Var(m̂)/2")
    ax1.axhline(0.0, color="grey", lw=0.8)
    ax1.set_xscale("log", base=2)
    ax1.set_xlabel("batch size N")
    ax1.set_ylabel("bias [nats]")
    ax1.set_title(f"Optimal critic, I = {rows[0]['truth']:.3f} nats")
    ax1.legend(fontsize=8)
    ax2.plot(ns, [r["log_n"] for r in rows], "k-", lw=1, label="log N")
    ax2.plot(ns, [r["infonce_high_mean"] for r in rows], "o", label=f"InfoNCE, I = "
             f"{rows[0]['truth_high']:.1f}")  # fmt: skip
    ax2.errorbar(ns, [r["infonce_mean"] for r in rows], yerr=[Z95 * r["infonce_se"] for r in rows],
                 fmt="s", capsize=3, label=f"InfoNCE, I = {rows[0]['truth']:.2f}")  # fmt: skip
    ax2.axhline(rows[0]["truth"], color="C1", ls=":", lw=1)
    ax2.set_xscale("log", base=2)
    ax2.set_xlabel("batch size N")
    ax2.set_ylabel("nats")
    ax2.set_title("InfoNCE saturates at log N when I ≫ log N")
    ax2.legend(fontsize=8)
    return _save(fig, out, "e3_optimal_critic.png")


# --------------------------------------------------------------------------- E4, E5


def standard_error(result: Any) -> float:
    """SE read off a 95 % CI: half-width / 1.96."""
    return (result.ci[1] - result.ci[0]) / (2.0 * Z95)


def e4_task_ok(mi: float, se: float, truth: float) -> bool:
    """|Î − I| ≤ δ·I + z·SE (δ = 0.10, z = 3)."""
    return abs(mi - truth) <= DELTA * truth + Z_TASK * se


def detectable(se: float, truth: float) -> float:
    """The smallest error (E4: bias of Î; E5: change of Î under a map), as a share of I, that
    the rule |·| ≤ δ·I + z·SE flags with power 0.8 (normal approximation):
    (δ·I + (z + z_0.8)·SE) / I."""
    return (DELTA * truth + (Z_TASK + Z_POWER) * se) / truth


def paired_se(plain: Any, mapped: Any) -> float:
    """SE of Î − Î_f for two KSG results on the same draws (the same rows, mapped): KSG's
    subsampling SE (``estimators.knn``) applied to the block-wise differences, SE_d² =
    (m/n)·mean_r Var_b(Î_m − Î_{f,m}). Both estimates use the same seed, so the same blocks of
    rows; the two read the same sample noise, which cancels in the difference (the quadrature
    √(SE² + SE_f²) treats it as independent and is several times wider)."""
    a = np.asarray(plain.diagnostics["block_mi"])
    b = np.asarray(mapped.diagnostics["block_mi"])
    if a.shape != b.shape or plain.n != mapped.n:
        raise ValueError(f"paired KSG results need the same blocks, got {a.shape} and {b.shape}")
    m = plain.diagnostics["block_size"]
    return float(math.sqrt(np.mean(np.var(a - b, axis=1, ddof=1)) * m / plain.n))


def e5_pair_ok(plain: float, mapped: float, se_d: float, truth: float) -> bool:
    """Estimates before and after an MI-preserving map: |Î − Î_f| ≤ δ·I + z·SE_d with SE_d the
    paired SE (:func:`paired_se`)."""
    return abs(plain - mapped) <= DELTA * truth + Z_TASK * se_d




def e4_tasks(max_dim: int) -> list[Task]:
    """Tasks of ``task_set()`` with max(dim_x, dim_y) ≤ max_dim and MI ≤ 2 nats (where KSG and
    the neural estimators are expected to meet the tolerance; see the estimator benchmark)."""
    return [t for t in task_set() if max(t.dim_x, t.dim_y) <= max_dim and t.mi <= 2.0]


def e4_rows(
    b: EstimatorBudget, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # fmt: skip
    """Every estimator on every task, and the negative control: KSG on the same draws with Y
    permuted across samples (which destroys the pairing, so the estimate should be ≈ 0),
    scored by the same rule against the task's stated MI."""
    jobs = [(i, task, b, seed) for i, task in enumerate(e4_tasks(b.max_dim))]
    # one task per job, seeded: worker processes pay off for the neural estimators (full mode);
    # the quick budget's KSG runs take less than starting them
    workers = WORKERS if b.neural else 1
    per_task = parallel_map(_e4_task, jobs, label="E4", workers=workers)
    return [r for rows, _ in per_task for r in rows], [c for _, c in per_task]


def _e4_task(
    i: int, task: Task, b: EstimatorBudget, seed: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows of one E4 task and its control row (see :func:`e4_rows`)."""
    x, y = task.sample(b.n_samples, seed=seed * 1000 + i)
    rows = []
    for method in ("ksg", "gaussian", *b.neural):
        r = estimate_mi(x, y, method=method, seed=seed)
        rows.append({"task": task.task_id, "truth": task.mi, "method": method, "mi": r.mi,
                     "ci": list(r.ci), "se": standard_error(r),
                     "detectable": detectable(standard_error(r), task.mi),
                     "ok": e4_task_ok(r.mi, standard_error(r), task.mi)})  # fmt: skip
    shuffled = y[np.random.default_rng(seed + 7 + i).permutation(len(y))]
    r = estimate_mi(x, shuffled, method="ksg", seed=seed)
    control = {"task": task.task_id, "truth": task.mi, "method": "ksg (Y permuted)",
               "mi": r.mi, "ci": list(r.ci), "se": standard_error(r),
               "ok": e4_task_ok(r.mi, standard_error(r), task.mi)}  # fmt: skip
    return rows, control


def e4_recovered(rows: list[dict[str, Any]]) -> list[bool]:
    """Per task (sorted by id): some estimator other than the Gaussian plug-in (exact only on
    Gaussian data) meets |Î − I| ≤ δ·I + 3·SE."""
    tasks = sorted({r["task"] for r in rows})
    return [any(r["ok"] for r in rows if r["task"] == t and r["method"] != "gaussian")
            for t in tasks]  # fmt: skip


def e4_claim(rows: list[dict[str, Any]], control: list[dict[str, Any]], seed: int) -> Claim:
    """Holds when every task is recovered (:func:`e4_recovered`), partial when some are."""
    tasks = sorted({r["task"] for r in rows})
    ok = e4_recovered(rows)
    c_ok = e4_recovered(control)
    rel = max(
        min(abs(r["mi"] - r["truth"]) / r["truth"] for r in rows
            if r["task"] == t and r["method"] != "gaussian")
        for t in tasks
    )  # fmt: skip
    methods = sorted({r["method"] for r in rows} - {"gaussian"})
    # per task, the tightest rule among the estimators that E4 credits (power 0.8 to flag a bias)
    tight = [min(detectable(r["se"], r["truth"]) for r in rows
                 if r["task"] == t and r["method"] != "gaussian") for t in tasks]  # fmt: skip
    return Claim(
        "E4",
        verdict_of(sum(ok), len(ok)),
        rel,
        f"worst relative error |Î − I|/I of the best of {', '.join(methods)} per task; "
        f"{sum(ok)}/{len(ok)} tasks within δ = {DELTA} relative + {Z_TASK:g} SE; the rule flags "
        f"a bias of {float(np.median(tight)):.0%} of I or more with power 0.8 (median over tasks; "
        f"{min(tight):.0%}–{max(tight):.0%})",
        threshold=f"|Î − I| ≤ {DELTA}·I + {Z_TASK:g} SE for some estimator on every task",
        control=Control(
            f"KSG with Y permuted across samples (pairing destroyed), scored against the "
            f"stated MI: {sum(c_ok)}/{len(c_ok)} tasks pass",
            verdict_of(sum(c_ok), len(c_ok)),
            max(abs(r["mi"]) for r in control),
        ),
        seeds=(seed,),
    )


E5_BASES: tuple[Task, ...] = (
    StudentT(2, 2, 3.0, 2, 0.6),
    SparseGaussian(2, 2, 1, 0.7),
    AdditiveUniform(1, 0.3),
)


def e5_rows(b: EstimatorBudget, seed: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """KSG before and after every transform of ``mitheory.transforms.TRANSFORMS`` on the same
    draws, and a control: X + N(0, I) on a 2-pair Gaussian (ρ = 0.6), a non-invertible map that
    lowers the MI from 0.446 to 0.198 nats, which the criterion must flag."""
    rows = []
    for i, base in enumerate(E5_BASES):
        sample_seed = seed * 1000 + 500 + i
        plain = estimate_mi(*base.sample(b.n_samples, seed=sample_seed), method="ksg", seed=seed)
        for name, wrap in TRANSFORMS.items():
            mapped = estimate_mi(*wrap(base).sample(b.n_samples, seed=sample_seed), method="ksg",
                                 seed=seed)  # fmt: skip
            se_d = paired_se(plain, mapped)
            rows.append({"task": base.task_id, "transform": name, "truth": base.mi,
                         "plain": plain.mi, "plain_se": standard_error(plain),
                         "mapped": mapped.mi, "mapped_se": standard_error(mapped),
                         "paired_se": se_d, "detectable": detectable(se_d, base.mi),
                         "ok": e5_pair_ok(plain.mi, mapped.mi, se_d, base.mi)})  # fmt: skip
    base = SparseGaussian(2, 2, 2, 0.6)
    x, y = base.sample(b.n_samples, seed=seed * 1000 + 900)
    noisy_x = x + np.random.default_rng(seed + 9).standard_normal(x.shape)
    plain = estimate_mi(x, y, method="ksg", seed=seed)
    noisy = estimate_mi(noisy_x, y, method="ksg", seed=seed)
    se_d = paired_se(plain, noisy)
    control = {
        "task": base.task_id,
        "truth": base.mi,
        "plain": plain.mi,
        "noisy": noisy.mi,
        "paired_se": se_d,
        "noisy_truth": -math.log(1 - 0.18),
        "flagged": not e5_pair_ok(plain.mi, noisy.mi, se_d, base.mi),
    }
    return rows, control  # fmt: skip


def e5_claim(rows: list[dict[str, Any]], control: dict[str, Any], seed: int) -> Claim:
    """Holds when every (task, transform) pair passes, partial when some do; the control is the
    same criterion on an MI-changing map (X + noise), which must flag it."""
    n_ok = sum(r["ok"] for r in rows)
    verdict = verdict_of(n_ok, len(rows))
    worst = max(abs(r["mapped"] - r["plain"]) / r["truth"] for r in rows)
    detect = max(r["detectable"] for r in rows)
    # maps that KSG's standardization undoes give the same estimate twice (SE_d = 0)
    ratios = [math.hypot(r["plain_se"], r["mapped_se"]) / r["paired_se"] for r in rows
              if r["paired_se"] > 0]  # fmt: skip
    quad = float(np.median(ratios)) if ratios else math.inf
    return Claim(
        "E5",
        verdict,
        worst,
        f"max |Î_f − Î|/I, KSG, over {len(rows)} (task, transform) pairs; {n_ok} within "
        f"δ = {DELTA} + {Z_TASK:g}·SE_d (paired SE of the difference, same blocks of rows); the "
        f"rule flags an MI change of {detect:.0%} of I or more with power 0.8 on every pair "
        f"(the quadrature √(SE² + SE_f²) would be {quad:.1f}× wider, median over pairs)",
        threshold=f"|Î − Î_f| ≤ {DELTA}·I + {Z_TASK:g}·SE_d for every pair",
        control=Control(
            f"X + N(0, I) on {control['task']} (MI {control['truth']:.3f} → "
            f"{control['noisy_truth']:.3f}): KSG {control['plain']:.3f} → {control['noisy']:.3f}",
            "fails" if control["flagged"] else "holds",
            abs(control["noisy"] - control["plain"]) / control["truth"],
        ),
        seeds=(seed,),
    )


def _plot_e4_e5(rows4: list[dict[str, Any]], rows5: list[dict[str, Any]], out: Path) -> str:
    fig = Figure(figsize=(11, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    methods = sorted({r["method"] for r in rows4})
    for k, method in enumerate(methods):
        sel = [r for r in rows4 if r["method"] == method]
        dx = 1 + 0.015 * (k - len(methods) / 2)
        ax1.errorbar([r["truth"] * dx for r in sel], [r["mi"] for r in sel],
                     yerr=[Z95 * r["se"] for r in sel], fmt="o", ms=4, capsize=2,
                     label=method)  # fmt: skip
    top = max(max(r["truth"] for r in rows4), max(r["mi"] for r in rows4)) * 1.1
    grid = np.array([0.0, top])
    ax1.plot(grid, grid, "k-", lw=1, label="Î = I")
    ax1.fill_between(grid, (1 - DELTA) * grid, (1 + DELTA) * grid, color="grey", alpha=0.2,
                     label=f"±{DELTA:.0%}")  # fmt: skip
    ax1.set_xlabel("true MI I [nats]")
    ax1.set_ylabel("estimate Î (95 % CI) [nats]")
    ax1.set_title(f"E4: {len({r['task'] for r in rows4})} known-MI tasks")
    ax1.legend(fontsize=8)
    labels = [f"{r['transform']}\n{r['task'].split('-')[0]}" for r in rows5]
    pos = np.arange(len(rows5))
    ax2.errorbar(pos, [(r["mapped"] - r["plain"]) / r["truth"] for r in rows5],
                 yerr=[Z_TASK * math.hypot(r["plain_se"], r["mapped_se"]) / r["truth"]
                       for r in rows5], fmt="o", capsize=3, label="(Î_f − Î)/I ± 3 SE")  # fmt: skip
    ax2.axhspan(-DELTA, DELTA, color="grey", alpha=0.2, label=f"±δ = {DELTA}")
    ax2.axhline(0.0, color="k", lw=0.8)
    ax2.set_xticks(pos, labels, fontsize=6, rotation=60)
    ax2.set_ylabel("relative change of the KSG estimate")
    ax2.set_title("E5: invariance under MI-preserving maps")
    ax2.legend(fontsize=8)
    return _save(fig, out, "e4_e5_tasks.png")


# --------------------------------------------------------------------------- sections


def _bounds_section(b: EstimatorBudget, seed: int, out: Path) -> Section:
    rows = bound_gaps(score_matrices(b.e1_matrices, seed))
    e1, e2 = e1_claim(rows, seed), e2_claim(rows, seed)
    fig = _plot_e1_e2(rows, out)
    md = f"""For a score matrix $S$ ($S_{{ii}}$ joint, $S_{{ij}}$ marginal samples),
$\\mathrm{{InfoNCE}}(S) = \\log N
+ \\frac1N\\sum_i\\big(S_{{ii}} - \\log\\sum_j e^{{S_{{ij}}}}\\big)$:
each row term is $\\le 0$ because the log-sum-exp is at least its largest term, so
$\\mathrm{{InfoNCE}} \\le \\log N$ (E1). With $J = \\frac1N\\sum_i S_{{ii}}$ and
$m = \\frac{{1}}{{N(N-1)}}\\sum_{{i\\ne j}} e^{{S_{{ij}}}}$,
$\\mathrm{{DV}} - \\mathrm{{NWJ}} = m/e - \\log m \\ge 0$, since $\\log$ lies below its tangent
$u/e$ at $u = e$ (E2).

Checked on {len(rows)} float64 matrices: {4 * b.e1_matrices} Gaussian ones (σ = 0.1–100,
N = 2–256) and adversarial ones (dominant diagonal up to 10⁴ — where InfoNCE equals log N to
working precision —, dominant off-diagonal, constants, a single entry of 700, ±10⁴ entries where
NWJ is −∞). Largest InfoNCE − log N: **{e1.figure:.3g}**; smallest DV − NWJ: **{e2.figure:.3g}**
nats.

![E1 and E2]({fig})

*Figure E1/E2. Left: distance of InfoNCE below log N per matrix (exact ties drawn at 1e-18).
Right: DV − NWJ against log m for the matrices with finite values; every point lies on the
tangent gap m/e − log m.*
"""
    data = {"matrices": len(rows), "e1_max_gap": e1.figure, "e2_min_gap": e2.figure,
            "kinds": sorted({r["kind"] for r in rows})}  # fmt: skip
    return Section("E1, E2 — InfoNCE ≤ log N and DV ≥ NWJ on any score matrix", md,
                   [e1, e2], [fig], data)  # fmt: skip


def _optimal_critic_section(b: EstimatorBudget, seed: int, out: Path) -> Section:
    rows = e3_rows(b, seed)
    control_rows = e3_rows(b, seed + 1, critic_scale=E3_CONTROL_SCALE, rho_high=E3_RHO,
                           elements=b.e3_elements // 4)  # fmt: skip
    claim = e3_claim(rows, control_rows, seed)
    fig = _plot_e3(rows, out)
    table = "\n".join(
        f"| {r['n']} | {r['batches']} | {r['nwj_mean'] - r['truth']:+.4f} ± {r['nwj_se']:.4f} | "
        f"{r['dv_bias']:+.4f} ± {r['dv_bias_se']:.4f} | {r['dv_bias_pred']:.4f} | "
        f"{r['infonce_mean']:.3f} | {r['infonce_high_mean']:.4f} | {r['log_n']:.4f} |"
        for r in rows
    )
    md = f"""Correlated Gaussians, $d = {E3_DIM}$ coordinate pairs with $\\rho = {E3_RHO}$
($I = {rows[0]["truth"]:.4f}$ nats), scored by the exact critic
$T^* = \\log p(x,y)/p(x)p(y)$. NWJ's optimal critic is $1 + T^*$:
$\\mathbb E[\\mathrm{{NWJ}}] = 1 + I - \\mathbb E_q e^{{T^*}} = I$ at every batch size. DV with
$T^*$ has $\\mathbb E J = I$ and bias $-\\mathbb E\\log\\hat m > 0$ (Jensen), by the delta method
$\\approx \\mathrm{{Var}}(\\hat m)/2$ with
$\\mathrm{{Var}}(\\hat m) = (\\chi^2 + c)/(N(N-1))$ (see `dv_bias_prediction`). InfoNCE with
$T^*$ at $\\rho = {E3_RHO_HIGH}$ ($I = {rows[0]["truth_high"]:.1f}$ nats $\\gg \\log N$) reports
$\\log N$, not $I$.

| N | batches | NWJ − I ± SE | DV bias ± SE | DV bias, delta method | InfoNCE, low I | \
InfoNCE, high I | log N |
|---|---|---|---|---|---|---|---|
{table}

Verdict rule: at every N, NWJ within z·SE of I, the DV bias within z·SE + |E(m̂−1)³|/3 of the
prediction (z: Bonferroni, family-wise 1 %), and InfoNCE at the high MI ≤ log N and closing
< {SATURATION_FRACTION:.0%} of the distance from log N to I.

![E3]({fig})

*Figure E3. Left: bias of NWJ (critic T* + 1) and DV (critic T*) against batch size, with the
delta-method prediction for DV. Right: InfoNCE with the optimal critic at low and high MI against
log N.*
"""
    return Section("E3 — the exact optimal critic on correlated Gaussians", md, [claim], [fig],
                   {"rows": rows, "control_rows": control_rows})  # fmt: skip


def _task_section(b: EstimatorBudget, seed: int, out: Path) -> Section:
    rows4, control4 = e4_rows(b, seed)
    rows5, control = e5_rows(b, seed)
    e4, e5 = e4_claim(rows4, control4, seed), e5_claim(rows5, control, seed)
    fig = _plot_e4_e5(rows4, rows5, out)
    methods = sorted({r["method"] for r in rows4})
    lines = []
    for task in dict.fromkeys(r["task"] for r in rows4):
        sel = {r["method"]: r for r in rows4 if r["task"] == task}
        cells = " | ".join(
            f"{sel[m]['mi']:.3f} [{sel[m]['ci'][0]:.3f}, {sel[m]['ci'][1]:.3f}]"
            + ("" if sel[m]["ok"] else " ✗")
            for m in methods
        )
        lines.append(f"| {task} | {next(iter(sel.values()))['truth']:.3f} | {cells} |")
    head = " | ".join(methods)
    t5 = "\n".join(
        f"| {r['task']} | {r['transform']} | {r['plain']:.3f} | {r['mapped']:.3f} | "
        f"{r['paired_se']:.3f} ({math.hypot(r['plain_se'], r['mapped_se']):.3f}) | "
        f"{r['detectable']:.0%} | {'yes' if r['ok'] else 'no'} |"
        for r in rows5
    )
    md = f"""Known-MI tasks from `mitheory.distributions.task_set()` with
max(d_x, d_y) ≤ {b.max_dim} and I ≤ 2 nats, n = {b.n_samples} samples each, estimated with
`estimators.estimate_mi` ({", ".join(methods)}). An estimate passes when
$|\\hat I - I| \\le \\delta I + 3\\,\\mathrm{{SE}}$, δ = {DELTA}, SE = CI half-width / 1.96
(✗ marks a miss). E4 counts a task recovered when an estimator other than the Gaussian plug-in
(exact only for Gaussian data) passes.

| task | I | {head} |
|---|---|{"---|" * len(methods)}
{chr(10).join(lines)}

E5: KSG on the same draws before and after each MI-preserving map (`mitheory.transforms`);
passes when $|\\hat I - \\hat I_f| \\le \\delta I + 3\\,\\mathrm{{SE}}_d$ with SE_d the paired SE
of the difference (the same seed gives both estimates the same blocks of rows, so the sample
noise they share cancels). "detects" is the smallest MI change, as a share of I, that the rule
flags with power 0.8: (δ·I + (3 + 0.84)·SE_d)/I.
Control: X + N(0, I) on {control["task"]} lowers the MI from {control["truth"]:.3f} to
{control["noisy_truth"]:.3f} nats; KSG reads {control["plain"]:.3f} → {control["noisy"]:.3f} and
the criterion {"flags" if control["flagged"] else "does NOT flag"} it.

| base task | transform | Î | Î_f | SE_d (quadrature) | detects | passes |
|---|---|---|---|---|---|---|
{t5}

![E4 and E5]({fig})

*Figure E4/E5. Left: estimates (95 % CI) against the closed-form MI, with the ±{DELTA:.0%} band.
Right: relative change of the KSG estimate under each MI-preserving map, ±3 SE, against ±δ.*
"""
    data = {"e4": rows4, "e4_control": control4, "e5": rows5, "e5_control": control}
    return Section("E4, E5 — estimators on the known-MI task set", md, [e4, e5], [fig], data)


def report_sections(
    quick: bool, seed: int, out: Path, sizes: EstimatorBudget | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Section]:  # fmt: skip
    """Sections E1/E2, E3 and E4/E5 with their figures written into ``out``; ``sizes``
    overrides the quick/full budget (tests use tiny ones)."""
    b = sizes if sizes is not None else budget(quick)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with single_thread():
        note = progress or (lambda _: None)
        note("E1, E2: score matrices")
        sections = [_bounds_section(b, seed, out)]
        note("E3: optimal critic")
        sections.append(_optimal_critic_section(b, seed, out))
        note("E4, E5: known-MI tasks")
        sections.append(_task_section(b, seed, out))
        return sections
