"""The approximation-error study behind claims T4, T5 and T6, and its report sections.

* T4 — Isserlis: symbolic at 4th and 6th order (:mod:`mitheory.symbolic`); on samples, the
  empirical 4th moment minus its Isserlis prediction (the sample 4th joint cumulant) against the
  closed form Σ_m A_im A_jm A_km A_lm κ4(s_m), with delta-method standard errors.
* T5 — Taylor-DV error M − ½ Var T of the bilinear critic across non-Gaussian families with the
  same covariances as a Gaussian reference, M computed exactly or by conditional Monte Carlo
  (:func:`mitheory.nongaussian.bilinear_marginal_term`); relation to excess kurtosis measured by
  a regression slope with a t-interval.
* T6 — Taylor-DV = d/2 − ½ L_BT(λ = 1) under C^aa = C^bb = C^ab (to float64 precision on
  aligned batches), and the residual −½ s² Σ_kl (C^aa_kl C^bb_kl − (C^ab_kl)²) measured with
  intervals as the views are made noisy or asymmetric.

Everything is in nats. :func:`report_sections` is what ``mitheory report`` calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats

from mitheory import surrogates, symbolic
from mitheory.atomic import atomic_savefig
from mitheory.closed_forms import bilinear_log_partition
from mitheory.nongaussian import LinearMixture, Source, bilinear_marginal_term
from mitheory.report_types import Claim, Section


@dataclass(frozen=True)
class StudyConfig:
    """Sizes of the study. ``rho_k``: spectral radius of K = s²·C^aa C^bb for Gaussian data,
    which fixes the critic scale s of T = s·Σ_k a_k b_k."""

    dims: tuple[int, ...]
    families: tuple[Source, ...]
    rho_k: float
    n_mc: int
    n_isserlis: int
    barlow_dim: int
    barlow_batch: int
    barlow_replicates: int
    seed: int


SYMMETRIC = ("gaussian", "uniform", "rademacher", "gsm", "laplace", "student_t")


def study_config(quick: bool, seed: int) -> StudyConfig:
    """Quick: a few seconds on one core; full: a few minutes."""
    families = (
        Source("rademacher"), Source("uniform"), Source("gaussian"), Source("gsm", (0.5, 1.5)),
        Source("gsm", (0.2, 2.5)), Source("gsm", (0.1, 4.0)), Source("gsm", (0.05, 8.0)),
        Source("bernoulli", (0.3,)), Source("skew_normal", (5.0,)), Source("bernoulli", (0.1,)),
        Source("laplace"), Source("student_t", (10.0,)), Source("student_t", (6.0,)),
        Source("exponential"),
    )
    if quick:
        return StudyConfig((2, 4), families, 0.05, 100_000, 20_000, 8, 512, 20, seed)
    return StudyConfig((2, 4, 6), families, 0.05, 1_000_000, 200_000, 8, 512, 100, seed)


def random_correlation(dim: int, seed: int) -> np.ndarray:
    """A random correlation matrix (unit diagonal) with moderate correlations."""
    rng = np.random.default_rng(seed)
    f = rng.standard_normal((dim, dim)) / math.sqrt(dim)
    cov = f @ f.T + np.eye(dim)
    sd = np.sqrt(np.diag(cov))
    return cov / np.outer(sd, sd)


# --- T5: Taylor error across families -----------------------------------------------------------


def taylor_error_rows(cfg: StudyConfig) -> list[dict[str, Any]]:
    """One row per (dimension, family): exact M, Taylor-2/4 surrogates and their errors (nats).

    Both views are mixtures of i.i.d. sources of the family with the same correlation matrix C;
    the critic is T = s·Σ_k a_k b_k with s set so that ρ(K) = ``rho_k`` for Gaussian data.
    """
    rows = []
    for dim in cfg.dims:
        corr = random_correlation(dim, cfg.seed + dim)
        scale = math.sqrt(cfg.rho_k) / float(np.linalg.eigvalsh(corr).max())
        w = scale * np.eye(dim)
        for k, src in enumerate(cfg.families):
            view = LinearMixture.with_covariance(src, corr)
            r = bilinear_marginal_term(view, view, w, n_mc=cfg.n_mc, seed=cfg.seed + 31 * k + dim)
            finite = math.isfinite(r.value)
            rows.append({
                "dim": dim, "family": src.name, "symmetric": src.family in SYMMETRIC,
                "excess_kurtosis": src.excess_kurtosis, "skewness": src.skewness,
                "scale": scale, "method": r.method, "M": r.value if finite else None,
                "se": r.se, "taylor2": r.taylor2, "taylor4": r.taylor4,
                "taylor_error": r.taylor_error if finite else None,
                "taylor4_error": r.value - r.taylor4 if finite else None,
                "gaussian_error": r.gaussian_taylor_error,
                "error_ratio": r.taylor_error / r.gaussian_taylor_error if finite else None,
                "kappa3_T": r.kappa3, "kappa4_T": r.kappa4, "reason": r.reason,
            })
    return rows


def kurtosis_slope(rows: list[dict[str, Any]], dim: int) -> dict[str, float]:
    """OLS slope of error_ratio = (M − ½Var T)/(Gaussian error) on source excess kurtosis over the
    symmetric families with finite M at one dimension, with a 95 % t-interval (df = n − 2) and
    Spearman's rank correlation."""
    pts = [(r["excess_kurtosis"], r["error_ratio"]) for r in rows
           if r["dim"] == dim and r["symmetric"] and r["error_ratio"] is not None]
    x, y = np.array(pts).T
    fit = stats.linregress(x, y)
    half = stats.t.ppf(0.975, len(x) - 2) * fit.stderr
    rho = stats.spearmanr(x, y).statistic
    return {"dim": dim, "n": len(x), "slope": float(fit.slope), "ci_low": float(fit.slope - half),
            "ci_high": float(fit.slope + half), "intercept": float(fit.intercept),
            "spearman": float(rho)}


def batch_surrogate_rows(cfg: StudyConfig, t_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sample surrogates a training batch sees, against the exact M of ``t_rows``.

    At the largest dimension, per family: ``cfg.barlow_replicates`` batches of N =
    ``cfg.barlow_batch`` rows, the critic values on all N(N−1) off-diagonal pairs, and from them
    the plug-in DV marginal term and the 2nd/4th-order cumulant surrogates (nats); mean and 95 %
    t-interval over batches.
    """
    dim = cfg.dims[-1]
    corr = random_correlation(dim, cfg.seed + dim)
    rows = []
    for k, src in enumerate(cfg.families):
        exact = next(r for r in t_rows if r["dim"] == dim and r["family"] == src.name)
        view = LinearMixture.with_covariance(src, corr)
        rng = np.random.default_rng(cfg.seed + 500 + k)
        vals: dict[str, list[float]] = {"plug_in": [], "taylor2": [], "taylor4": []}
        for _ in range(cfg.barlow_replicates):
            a = torch.from_numpy(view.sample(cfg.barlow_batch, rng))
            b = torch.from_numpy(view.sample(cfg.barlow_batch, rng))
            scores = surrogates.bilinear_scores(a, b, scale=exact["scale"])
            r = surrogates.marginal_surrogates(surrogates.product_of_marginals(scores))
            for name in vals:
                vals[name].append(getattr(r, name))
        row = {"dim": dim, "family": src.name, "excess_kurtosis": src.excess_kurtosis,
               "M": exact["M"], "batch": cfg.barlow_batch}
        for name, v in vals.items():
            m, lo, hi = _mean_ci(np.array(v))
            row[name], row[name + "_ci"] = m, [lo, hi]
        rows.append(row)
    return rows


# --- T4: Isserlis on samples ----------------------------------------------------------------------


def _quadruples(dim: int) -> torch.Tensor:
    idx = [(i, j, k, l) for i in range(dim) for j in range(i, dim) for k in range(j, dim)
           for l in range(k, dim)]
    return torch.tensor(idx, dtype=torch.int64)


def isserlis_rows(cfg: StudyConfig) -> list[dict[str, Any]]:
    """Per (dimension, family) with finite 8th moments: sample 4th cumulant vs closed form.

    z = (κ̂ − κ)/SE over all unique index quadruples; ``max_abs_z`` is compared with the
    Bonferroni bound. Families whose 8th moment is infinite (Student-t with ν ≤ 8) are skipped:
    the SE of a 4th moment does not exist for them.
    """
    rows = []
    for dim in cfg.dims:
        corr = random_correlation(dim, cfg.seed + dim)
        quads = _quadruples(dim)
        for k, src in enumerate(cfg.families):
            if src.family == "student_t" and src.params[0] <= 8:
                continue
            view = LinearMixture.with_covariance(src, corr)
            x = torch.from_numpy(view.sample(cfg.n_isserlis, cfg.seed + 1000 + 31 * k + dim))
            kappa_hat, se = surrogates.fourth_cumulant_with_se(x, quads)
            q = quads.numpy()
            kappa = view.fourth_cumulant()[q[:, 0], q[:, 1], q[:, 2], q[:, 3]]
            z = (kappa_hat.numpy() - kappa) / se.numpy()
            rows.append({
                "dim": dim, "family": src.name, "excess_kurtosis": src.excess_kurtosis,
                "n": cfg.n_isserlis, "kappa_1111": float(kappa[0]),
                "kappa_1111_hat": float(kappa_hat[0]), "kappa_1111_se": float(se[0]),
                "max_abs_z": float(np.abs(z).max()), "n_quadruples": len(q),
                "max_abs_deviation": float(np.abs(kappa_hat.numpy()).max()),
            })
    return rows


# --- T6: Barlow residual ----------------------------------------------------------------------


def _barlow_form(a: torch.Tensor, b: torch.Tensor, scale: float) -> torch.Tensor:
    d = a.shape[1]
    return d / 2 - scale**2 / 2 * surrogates.barlow_twins_loss(a, b, lam=1.0, target=1 / scale)


def barlow_alignment_check(cfg: StudyConfig) -> float:
    """max |L_TDV − (d/2 − (s²/2) L_BT(target 1/s, λ = 1))| over aligned batches (z_b = z_a,
    so C^aa = C^bb = C^ab exactly), several scales and dimensions, float64."""
    worst = 0.0
    gen = torch.Generator().manual_seed(cfg.seed)
    for dim in (1, 3, cfg.barlow_dim):
        for scale in (0.3, 1.0, 2.0):
            z = torch.randn(cfg.barlow_batch, dim, generator=gen, dtype=torch.float64)
            z = z @ torch.randn(dim, dim, generator=gen, dtype=torch.float64)
            diff = surrogates.taylor_dv_surrogate(z, z, scale) - _barlow_form(z, z, scale)
            worst = max(worst, abs(float(diff)))
    return worst


def _mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    m = float(values.mean())
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    return m, m - half, m + half


def barlow_relaxation_rows(cfg: StudyConfig) -> list[dict[str, Any]]:
    """Residual L_TDV − Barlow form (s = 1) on batches as the assumptions are relaxed.

    ``noise``: z_b = z_a + σ ε (misaligned views; population residual −½ d σ²/(1+σ²), purely
    diagonal). ``asymmetry``: z_b = z_a (I + η E) + 0.1 ε with a fixed random symmetric E
    (C^bb ≠ C^aa: an off-diagonal part appears). Mean and 95 % t-interval over replicate batches;
    also the exact Gaussian marginal term and its three matched surrogates at the safe scale
    s₀ = ½/λ_max(C) (at s = 1 the exact M is infinite: ρ(K) ≥ 1).
    """
    d, n = cfg.barlow_dim, cfg.barlow_batch
    corr = random_correlation(d, cfg.seed + 100)
    chol = torch.from_numpy(np.linalg.cholesky(corr))
    e = torch.from_numpy(random_correlation(d, cfg.seed + 101) - np.eye(d))
    safe = 0.5 / float(np.linalg.eigvalsh(corr).max())
    gen = torch.Generator().manual_seed(cfg.seed + 7)
    rows = []
    for kind, levels in (("noise", (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)),
                         ("asymmetry", (0.0, 0.25, 0.5, 0.75, 1.0))):
        for level in levels:
            res, diag, off = [], [], []
            m_t2, m_bt, m_vic, m_exact = [], [], [], []
            for _ in range(cfg.barlow_replicates):
                z_a = torch.randn(n, d, generator=gen, dtype=torch.float64) @ chol.T
                eps = torch.randn(n, d, generator=gen, dtype=torch.float64)
                if kind == "noise":
                    z_b = z_a + level * eps
                else:
                    z_b = z_a @ (torch.eye(d, dtype=torch.float64) + level * e) + 0.1 * eps
                c_aa, c_bb, c_ab = surrogates.correlations(z_a, z_b)
                res.append(float(surrogates.taylor_dv_surrogate(z_a, z_b, 1.0)
                                 - _barlow_form(z_a, z_b, 1.0)))
                diag.append(float(-0.5 * (torch.diagonal(c_aa) * torch.diagonal(c_bb)
                                          - torch.diagonal(c_ab) ** 2).sum()))
                off.append(res[-1] - diag[-1])
                m_t2.append(float(surrogates.marginal_taylor2(z_a, z_b, safe)))
                m_bt.append(float(surrogates.marginal_barlow(z_a, z_b, safe)))
                m_vic.append(float(surrogates.marginal_vicreg(z_a, z_b, safe)))
                m_exact.append(bilinear_log_partition(safe * np.eye(d), c_aa.numpy(),
                                                      c_bb.numpy()))
            row = {"kind": kind, "level": level, "dim": d, "batch": n}
            for name, vals in (("residual", res), ("diagonal", diag), ("offdiagonal", off),
                               ("M_taylor2", m_t2), ("M_barlow", m_bt), ("M_vicreg", m_vic),
                               ("M_exact", m_exact)):
                m, lo, hi = _mean_ci(np.array(vals))
                row[name], row[name + "_ci"] = m, [lo, hi]
            if kind == "noise":
                row["residual_theory"] = -0.5 * d * level**2 / (1 + level**2)
            rows.append(row)
    return rows


# --- figures and sections -------------------------------------------------------------------


def _plot_taylor_isserlis(t_rows: list[dict], i_rows: list[dict], dims: tuple[int, ...],
                          path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    colors = plt.cm.viridis(np.linspace(0, 0.85, len(dims)))
    ax = axes[0]
    for dim, col in zip(dims, colors, strict=True):
        for sym, marker in ((True, "o"), (False, "^")):
            pts = [r for r in t_rows if r["dim"] == dim and r["symmetric"] == sym
                   and r["error_ratio"] is not None]
            if pts:
                x = [r["excess_kurtosis"] for r in pts]
                y = [r["error_ratio"] for r in pts]
                yerr = [1.96 * r["se"] / r["gaussian_error"] for r in pts]
                ax.errorbar(x, y, yerr=yerr, fmt=marker, color=col, capsize=3,
                            label=f"d={dim}, {'symmetric' if sym else 'skewed'}")
        inf = [r for r in t_rows if r["dim"] == dim and r["error_ratio"] is None]
        if inf:
            ax.scatter([r["excess_kurtosis"] for r in inf], [0.96] * len(inf), marker="x",
                       color=col, s=60, transform=ax.get_xaxis_transform())
    ax.axhline(1.0, color="grey", lw=0.8, ls="--", label="Gaussian (ratio 1)")
    ax.axhline(0.0, color="black", lw=0.5)
    ax.scatter([], [], marker="x", color="grey", label="M = +∞")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(-1.5, 300.0)
    kurt = [r["excess_kurtosis"] for r in t_rows]
    ax.set_xlim(min(kurt) - 0.5, max(kurt) + 0.5)
    ax.set_xlabel("source excess kurtosis κ₄")
    ax.set_ylabel("Taylor-DV error / Gaussian error (symlog)")
    ax.set_title("Taylor error M − ½Var T vs excess kurtosis\n"
                 "(× along the top: M = +∞, error unbounded)")
    ax.legend(fontsize=7, loc="center right")
    ax = axes[1]
    for dim, col in zip(dims, colors, strict=True):
        pts = [r for r in i_rows if r["dim"] == dim]
        x = np.array([r["excess_kurtosis"] for r in pts])
        ax.errorbar(x, [r["kappa_1111_hat"] for r in pts],
                    yerr=[1.96 * r["kappa_1111_se"] for r in pts], fmt="o", color=col, capsize=3,
                    label=f"d={dim}: E[x₁⁴] − 3σ₁₁² (95% CI)")
        order = np.argsort(x)
        ax.plot(x[order], np.array([r["kappa_1111"] for r in pts])[order], "-", color=col,
                lw=1, label=f"d={dim}: closed form Σ A₁ₘ⁴ κ₄")
    ax.set_xlabel("source excess kurtosis κ₄")
    ax.set_ylabel("Isserlis deviation κ₁₁₁₁")
    ax.set_title("Isserlis deviation = 4th joint cumulant")
    ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=110)
    plt.close(fig)


def _plot_barlow(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    for ax, kind, xlabel in ((axes[0], "noise", "view noise σ"),
                             (axes[1], "asymmetry", "view asymmetry η")):
        pts = [r for r in rows if r["kind"] == kind]
        x = np.array([r["level"] for r in pts])
        for name, fmt in (("residual", "o-"), ("diagonal", "s--"), ("offdiagonal", "^:")):
            y = np.array([r[name] for r in pts])
            ci = np.array([r[name + "_ci"] for r in pts])
            ax.errorbar(x, y, yerr=[y - ci[:, 0], ci[:, 1] - y], fmt=fmt, capsize=3,
                        label=name)
        if kind == "noise":
            xs = np.linspace(0, x.max(), 100)
            ax.plot(xs, -0.5 * pts[0]["dim"] * xs**2 / (1 + xs**2), "k-", lw=0.8,
                    label="theory −½dσ²/(1+σ²)")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("L_TDV − (d/2 − ½ L_BT)  [nats]")
        ax.set_title(f"Barlow residual (s = 1), {kind}")
        ax.legend(fontsize=7)
    ax = axes[2]
    pts = [r for r in rows if r["kind"] == "noise"]
    x = np.array([r["level"] for r in pts])
    for name, fmt in (("M_exact", "k-"), ("M_taylor2", "o--"), ("M_barlow", "s--"),
                      ("M_vicreg", "^:")):
        ax.plot(x, [r[name] for r in pts], fmt, label=name)
    ax.set_xlabel("view noise σ")
    ax.set_ylabel("marginal term [nats]")
    ax.set_title("matched surrogates of M at s₀ = ½/λmax(C)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=110)
    plt.close(fig)


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "+∞"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def _table(rows: list[dict], cols: list[str]) -> str:
    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"
    return head + "".join("| " + " | ".join(_fmt(r[c]) for c in cols) + " |\n" for r in rows)


def report_sections(quick: bool, seed: int, out: Path) -> list[Section]:
    """Sections for T4, T5, T6: figures written into ``out``, claims, tables, LaTeX, raw data."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = study_config(quick, seed)
    derivations = symbolic.all_derivations()
    t_rows = taylor_error_rows(cfg)
    i_rows = isserlis_rows(cfg)
    slopes = [kurtosis_slope(t_rows, d) for d in cfg.dims]
    s_rows = batch_surrogate_rows(cfg, t_rows)
    b_rows = barlow_relaxation_rows(cfg)
    aligned = barlow_alignment_check(cfg)
    fig1, fig2 = "taylor_isserlis_vs_kurtosis.png", "barlow_residual.png"
    _plot_taylor_isserlis(t_rows, i_rows, cfg.dims, out / fig1)
    _plot_barlow(b_rows, out / fig2)

    n_tests = sum(r["n_quadruples"] for r in i_rows)
    z_bound = float(stats.norm.ppf(1 - 0.01 / (2 * n_tests)))
    worst_z = max(r["max_abs_z"] for r in i_rows)
    t4 = Claim("T4", "holds" if worst_z < z_bound else "fails", worst_z,
               f"Isserlis derived symbolically at 4th (3 pairings) and 6th order (15 pairings); "
               f"max abs z of (sample 4th cumulant − closed form Σ A⁴κ₄) over {n_tests} "
               f"quadruples × families × d = {worst_z:.2f}, Bonferroni bound (family-wise 1 %) "
               f"{z_bound:.2f}, n = {cfg.n_isserlis} per family")
    slope_ok = all(s["ci_low"] > 0 for s in slopes)
    n_inf = sum(r["M"] is None for r in t_rows)
    off_fit = []
    for r in t_rows:
        if not r["symmetric"] and r["error_ratio"] is not None and r["dim"] == cfg.dims[-1]:
            fit = next(s for s in slopes if s["dim"] == r["dim"])
            pred = fit["intercept"] + fit["slope"] * r["excess_kurtosis"]
            off_fit.append(f"{r['family']} d={r['dim']}: ratio {r['error_ratio']:.3g} vs "
                           f"{pred:.3g} from the symmetric fit")
    t5 = Claim("T5", "partial" if slope_ok else "fails", min(s["slope"] for s in slopes),
               "slope of (Taylor error / Gaussian error) per unit excess kurtosis, symmetric "
               "families with finite M, " + "; ".join(
                   f"d={s['dim']}: {s['slope']:.3g} [{s['ci_low']:.3g}, {s['ci_high']:.3g}], "
                   f"Spearman {s['spearman']:.2f}" for s in slopes)
               + f". Partial: M = +∞ (error unbounded) in {n_inf} family×d cases (heavy tails, "
               "or a high-variance scale component); skewed families leave the kurtosis line "
               "(κ₃(T) enters at third order): " + "; ".join(off_fit))
    noise_rows = [r for r in b_rows if r["kind"] == "noise"]
    t6 = Claim("T6", "holds" if aligned < 1e-9 else "fails", aligned,
               f"max abs(L_TDV − (d/2 − (s²/2) L_BT(target 1/s, λ=1))) on aligned float64 batches "
               f"= {aligned:.2e} nats; relaxed: view noise σ = 1 gives residual "
               f"{noise_rows[-1]['residual']:.3f} nats [{noise_rows[-1]['residual_ci'][0]:.3f}, "
               f"{noise_rows[-1]['residual_ci'][1]:.3f}] (population "
               f"{noise_rows[-1]['residual_theory']:.3f}), d = {cfg.barlow_dim}, N = "
               f"{cfg.barlow_batch}")

    sym = [r for r in t_rows if r["symmetric"] and r["error_ratio"] is not None]
    half = {r["family"]: (r["plug_in_ci"][1] - r["plug_in_ci"][0]) / 2 for r in s_rows
            if r["M"] is not None}
    last = {r["family"]: abs(r["taylor_error"]) for r in t_rows
            if r["dim"] == cfg.dims[-1] and r["taylor_error"] is not None}
    resolved = sorted(f for f in last if last[f] > half[f])
    monotone = all(sl["spearman"] == 1.0 for sl in slopes)
    findings = (
        f"Among symmetric families with finite M the error ratio to the Gaussian error spans "
        f"{min(r['error_ratio'] for r in sym):.3g} to {max(r['error_ratio'] for r in sym):.3g}"
        + (" and rises monotonically with κ₄ at every d. " if monotone else
           f"; Spearman ρ per d: {[round(sl['spearman'], 2) for sl in slopes]}. ")
        + f"M is +∞ in {n_inf} of {len(t_rows)} family×d cases: every family with exponential "
        "or heavier tails (Laplace, Student-t, exponential) and the scale mixture whose largest "
        "variance pushes ρ(K) past 1 — there the Taylor surrogate is finite and its error "
        "unbounded, while batch plug-in estimates stay finite. On batches of "
        f"N = {cfg.barlow_batch} (d = {cfg.dims[-1]}) the population Taylor error exceeds the "
        f"95 % half-width of the batch plug-in marginal term only for {', '.join(resolved)} "
        f"(median half-width {float(np.median(list(half.values()))):.2g} nats); for the other "
        "finite families batch noise is larger than the expansion error.")
    md_t4 = ["Isserlis' theorem derived from the Gaussian MGF (sympy), and checked on samples.\n"]
    for dv in derivations[:3]:
        md_t4.append(f"$$ {dv.latex} $$\n")
    md_t4.append(
        f"![Taylor error and Isserlis deviation vs excess kurtosis]({fig1})\n\n"
        "*Taylor error and Isserlis deviation vs excess kurtosis across families and dimensions.* "
        "Left (T5): (M − ½Var T)/(Gaussian error) at a fixed critic, exact or Monte Carlo with "
        "95 % error bars (mostly smaller than the markers); × marks M = +∞. Right (T4): the "
        f"sample Isserlis deviation E[x₁⁴] − 3σ₁₁² (n = {cfg.n_isserlis}, 95 % CI) against the "
        "closed-form 4th cumulant Σ_m A₁ₘ⁴ κ₄(s_m).\n")
    md_t4.append(_table(i_rows, ["dim", "family", "excess_kurtosis", "kappa_1111",
                                 "kappa_1111_hat", "kappa_1111_se", "max_abs_z", "n_quadruples"]))
    md_t5 = [
        f"Critic T = s·Σ_k a_k b_k, both views i.i.d. sources of one family mixed to the same "
        f"correlation C; s set so ρ(K) = {cfg.rho_k} for Gaussian data. M exact (enumeration) or "
        f"conditional Monte Carlo (n = {cfg.n_mc}, control variates). Errors in nats. The left "
        "panel of the figure in the T4 section plots the error ratio.\n",
        f"$$ {derivations[3].latex} $$\n",
        "With T = sᵀGu (G = AᵀWB, unit-variance independent sources), the error expands as "
        "M − ½Var T = κ₃(T)/6 + κ₄(T)/24 + O(s⁶) with κ₃(T) = Σ G_mn³ E[s_m³] E[u_n³] and\n\n"
        r"$$ \kappa_4(T) = 6\,\mathrm{tr}H^2 + 3\sum_m \kappa_4(s_m) H_{mm}^2 + 3\sum_n "
        r"\kappa_4(u_n)\lVert g_n\rVert^4 + \sum_{mn}\kappa_4(s_m)\kappa_4(u_n)G_{mn}^4,"
        r"\quad H = GG^\top, $$"
        "\n\nso at a fixed critic the error grows with the sources' excess kurtosis (linear plus a "
        "product term), and skewness enters one order earlier. `taylor4_error` is M minus the "
        "4th-order surrogate built from these population cumulants.\n",
        f"**Findings.** {findings}\n",
        _table(t_rows, ["dim", "family", "excess_kurtosis", "skewness", "method", "M", "se",
                        "taylor_error", "taylor4_error", "gaussian_error", "error_ratio"]),
        "\nSlope of error ratio on excess kurtosis (symmetric families with finite M):\n\n",
        _table(slopes, ["dim", "n", "slope", "ci_low", "ci_high", "spearman"]),
        f"\nSample surrogates on batches (d = {cfg.dims[-1]}, N = {cfg.barlow_batch}, "
        f"{cfg.barlow_replicates} batches, all off-diagonal pairs): mean over batches.\n\n",
        _table(s_rows, ["family", "excess_kurtosis", "M", "plug_in", "taylor2", "taylor4"]),
        "\nM = +∞ rows: " + "; ".join(sorted({f"{r['family']}: {r['reason']}" for r in t_rows
                                              if r["M"] is None})) + "\n",
    ]
    md_t6 = [
        f"$$ {derivations[4].latex} $$\n",
        "Under C^aa = C^bb = C^ab the Taylor-DV objective equals d/2 − (s²/2)·L_BT with "
        "invariance target 1/s and λ = 1 (s = 1: d/2 − ½ L_BT). Barlow Twins' usual "
        "λ ≈ 5·10⁻³ is not what the reduction gives. At s = 1 the exact Gaussian marginal term is "
        "+∞ (ρ(K) = λ_max(C^aa C^bb) ≥ 1), so the reduction holds where the expansion it comes "
        f"from diverges. Aligned-batch check: max deviation {aligned:.2e} nats.\n",
        "Without the diagonal part of the assumption, standardized features give exactly "
        "$L_{\\mathrm{TDV}} = -s\\sum_k(1-C^{ab}_{kk}) + sd - \\tfrac{s^2}{2}d - "
        "\\tfrac{s^2}{2}\\sum_{k\\ne l}C^{aa}_{kl}C^{bb}_{kl}$: the invariance term is "
        "*linear* in 1 − C_kk (equal to (s/2)·Σ_k E(a_k − b_k)², VICReg's MSE), and the diagonal "
        "residual −½s²Σ_k(1 − C_kk²) ≈ −s²Σ_k(1 − C_kk) is of the same order as that term. So the "
        "redundancy penalty follows from the expansion, but the squared invariance of Barlow "
        "Twins comes from the assumption, not from the expansion. The relaxation table shows "
        "view noise moves only the diagonal part (population off-diagonal part 0; the small "
        "measured one is finite-batch error that shrinks with N), "
        "while asymmetric views (C^aa ≠ C^bb) create an off-diagonal residual.\n",
        f"![Barlow residual as assumptions are relaxed]({fig2})\n\n"
        "*Barlow residual as assumptions are relaxed.* Left: L_TDV − (d/2 − ½L_BT) (s = 1) under "
        "view noise σ, split into diagonal and off-diagonal parts, with the population curve "
        "−½dσ²/(1+σ²); middle: the same under view asymmetry η (C^aa ≠ C^bb); right: exact "
        "Gaussian marginal term vs the Taylor, Barlow Twins and VICReg surrogates of it at the "
        f"safe scale s₀ = ½/λ_max(C). Mean over {cfg.barlow_replicates} batches of "
        f"N = {cfg.barlow_batch}, d = {cfg.barlow_dim}, 95 % t-intervals.\n",
        _table(b_rows, ["kind", "level", "residual", "diagonal", "offdiagonal", "M_exact",
                        "M_taylor2", "M_barlow", "M_vicreg"]),
    ]
    return [
        Section("T4 — Isserlis and the fourth joint cumulant", "\n".join(md_t4), [t4], [fig1],
                {"isserlis": i_rows}),
        Section("T5 — Taylor-DV error across non-Gaussian families", "\n".join(md_t5), [t5],
                [fig1], {"taylor_error": t_rows, "kurtosis_slopes": slopes,
                                 "batch_surrogates": s_rows}),
        Section("T6 — Taylor-DV and Barlow Twins", "\n".join(md_t6), [t6], [fig2],
                {"barlow_relaxation": b_rows, "aligned_max_deviation": aligned}),
    ]
