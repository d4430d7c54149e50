"""Surrogates of the DV marginal term log E_{p(a)p(b)}[e^T] computed from samples (DESIGN.md §3).

The Taylor-DV objective defined here is the one JMI methods train with (``paradigms``) and the one
the approximation-error report analyses: one formula, one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def standardize(z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Per-dimension batch standardization (zero mean, unit variance; biased variance)."""
    if z.ndim != 2 or z.shape[0] < 2:
        raise ValueError(f"expected a batch [N >= 2, d], got shape {tuple(z.shape)}")
    z = z.float() if z.dtype in (torch.float16, torch.bfloat16) else z
    return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + eps)


def taylor_dv_surrogate(z_a: torch.Tensor, z_b: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Second-order Taylor-DV objective on batch-standardized features, in nats.

    With a = std(z_a), b = std(z_b) and the bilinear critic T = s·Σ_k a_k b_k,
    DV ≈ E_joint[T] − (E_marg[T] + ½ Var_marg[T]) = s·tr(C^ab) − ½ s²·Σ_kl C^aa_kl C^bb_kl,
    since E_marg[T] = 0 for centred features and Var_marg[T] = s² Σ_kl C^aa_kl C^bb_kl when a and b
    are independent. C are batch cross-/auto-correlation matrices (divided by N).
    """
    if z_a.shape != z_b.shape:
        raise ValueError(
            f"z_a and z_b must have equal shapes, got {tuple(z_a.shape)} and {tuple(z_b.shape)}"
        )
    if not (isinstance(scale, (int, float)) and scale > 0):
        raise ValueError(f"scale must be > 0, got {scale!r}")
    a, b = standardize(z_a), standardize(z_b)
    n = a.shape[0]
    c_ab = a.T @ b / n
    c_aa = a.T @ a / n
    c_bb = b.T @ b / n
    return scale * torch.diagonal(c_ab).sum() - 0.5 * scale**2 * (c_aa * c_bb).sum()


def _check_batch(z: object, name: str) -> torch.Tensor:
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(z).__name__}")
    if not z.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {z.dtype}")
    if z.ndim != 2 or z.shape[0] < 2 or z.shape[1] < 1:
        raise ValueError(f"{name} must be a batch [N >= 2, d >= 1], got shape {tuple(z.shape)}")
    if not torch.isfinite(z).all():
        raise ValueError(f"{name} contains NaN or infinite values; expected finite numbers")
    return z.float() if z.dtype in (torch.float16, torch.bfloat16) else z


def _check_pair(z_a: object, z_b: object) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = _check_batch(z_a, "z_a"), _check_batch(z_b, "z_b")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"z_a and z_b must hold the same number of rows (pairs), got "
                         f"{a.shape[0]} and {b.shape[0]}")
    dtype = torch.promote_types(a.dtype, b.dtype)
    return a.to(dtype), b.to(dtype)


def _check_scale(scale: object) -> float:
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise ValueError(f"scale must be a positive real number, got {scale!r}")
    return float(scale)


# --- cumulant surrogates of the marginal term from a product-of-marginals sample -------------


@dataclass(frozen=True)
class MarginalSurrogates:
    """Estimates of the marginal term M = log E_{p(a)p(b)}[e^T] (nats) from one batch.

    ``plug_in`` is the DV batch estimate log mean exp(T) over the product-of-marginals sample;
    ``taylor2`` = κ1 + κ2/2 and ``taylor4`` = κ1 + κ2/2 + κ3/6 + κ4/24 are the cumulant
    (Taylor) surrogates (see :func:`mitheory.symbolic.cumulant_expansion`); ``cumulants`` holds
    the plug-in cumulants κ1..κ4 of T under the product of marginals; ``n`` the sample size.
    """

    plug_in: float
    taylor2: float
    taylor4: float
    cumulants: tuple[float, float, float, float]
    n: int


def bilinear_scores(z_a: torch.Tensor, z_b: torch.Tensor, weight: torch.Tensor | None = None,
                    scale: float = 1.0) -> torch.Tensor:
    """Score matrix S[i, j] = s · z_a[i]ᵀ W z_b[j] of the bilinear critic (W = I when None)."""
    a, b = _check_pair(z_a, z_b)
    s = _check_scale(scale)
    if weight is None:
        if a.shape[1] != b.shape[1]:
            raise ValueError(f"weight=None (identity) needs equal dimensions, got {a.shape[1]} "
                             f"and {b.shape[1]}")
        return s * a @ b.T
    if not isinstance(weight, torch.Tensor) or weight.shape != (a.shape[1], b.shape[1]):
        raise ValueError(f"weight must be a tensor of shape ({a.shape[1]}, {b.shape[1]}), got "
                         f"{getattr(weight, 'shape', type(weight).__name__)}")
    return s * a @ weight.to(a.dtype) @ b.T


def product_of_marginals(scores: torch.Tensor, pairing: str = "offdiag",
                         generator: torch.Generator | None = None) -> torch.Tensor:
    """Critic values on product-of-marginals pairs of a score matrix [N, N].

    ``"offdiag"``: all N(N−1) entries S[i, j], i ≠ j (dependent but unbiased for every moment);
    ``"shuffle"``: S[i, π(i)] for a random derangement π (N independent-row pairs; needs a
    ``generator``).
    """
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1] or scores.shape[0] < 2:
        raise ValueError(f"scores must be a square matrix [N >= 2, N], got {tuple(scores.shape)}")
    n = scores.shape[0]
    if pairing == "offdiag":
        return scores[~torch.eye(n, dtype=torch.bool, device=scores.device)]
    if pairing == "shuffle":
        if generator is None:
            raise ValueError("pairing='shuffle' draws a random derangement: pass a generator")
        shift = torch.randint(1, n, (1,), generator=generator).item()
        perm = torch.randperm(n, generator=generator).to(scores.device)
        return scores[perm, torch.roll(perm, shifts=int(shift))]
    raise ValueError(f"pairing must be 'offdiag' or 'shuffle', got {pairing!r}")


def marginal_surrogates(values: torch.Tensor) -> MarginalSurrogates:
    """Plug-in DV marginal term and its 2nd/4th-order cumulant surrogates from samples of T
    under the product of marginals (e.g. :func:`product_of_marginals`). Units: nats."""
    if not isinstance(values, torch.Tensor) or values.ndim != 1 or values.numel() < 2:
        raise ValueError("values must be a 1-D tensor of at least 2 critic values")
    t = values.to(torch.float64)
    if not torch.isfinite(t).all():
        raise ValueError("values contain NaN or infinite critic values")
    n = t.numel()
    k1 = t.mean()
    c = t - k1
    m2, m3, m4 = (c**2).mean(), (c**3).mean(), (c**4).mean()
    k2, k3, k4 = m2, m3, m4 - 3 * m2**2
    plug_in = torch.logsumexp(t, 0) - math.log(n)
    taylor2 = k1 + k2 / 2
    taylor4 = taylor2 + k3 / 6 + k4 / 24
    return MarginalSurrogates(float(plug_in), float(taylor2), float(taylor4),
                              (float(k1), float(k2), float(k3), float(k4)), n)


# --- Isserlis prediction and the fourth joint cumulant ----------------------------------------


def isserlis_fourth_moments(cov: torch.Tensor) -> torch.Tensor:
    """Isserlis prediction of 4th moments from 2nd moments (Gaussian case):
    E[x_i x_j x_k x_l] = c_ij c_kl + c_ik c_jl + c_il c_jk."""
    if not isinstance(cov, torch.Tensor) or cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"cov must be a square matrix tensor, got {getattr(cov, 'shape', cov)}")
    return (torch.einsum("ij,kl->ijkl", cov, cov) + torch.einsum("ik,jl->ijkl", cov, cov)
            + torch.einsum("il,jk->ijkl", cov, cov))


def fourth_moments(x: torch.Tensor, center: bool = True) -> torch.Tensor:
    """Empirical E[x_i x_j x_k x_l] of a batch [N, p] (centred at the batch mean by default)."""
    x = _check_batch(x, "x")
    if center:
        x = x - x.mean(0)
    return torch.einsum("ni,nj,nk,nl->ijkl", x, x, x, x) / x.shape[0]


def fourth_cumulant_excess(x: torch.Tensor) -> torch.Tensor:
    """Empirical 4th moment minus its Isserlis prediction from the empirical covariance.

    This is the sample 4th joint cumulant κ_ijkl; it is 0 in expectation (up to O(1/N)) for
    Gaussian data and equals Σ_m A_im A_jm A_km A_lm κ4(s_m) for x = A s with independent sources.
    """
    x = _check_batch(x, "x")
    xc = x - x.mean(0)
    cov = xc.T @ xc / x.shape[0]
    return fourth_moments(xc, center=False) - isserlis_fourth_moments(cov)


def fourth_cumulant_with_se(x: torch.Tensor, quadruples: torch.Tensor
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample 4th joint cumulants κ_ijkl for index quadruples [Q, 4], with standard errors.

    The SE is the delta-method one: sd of the empirical influence function over √N, where for
    κ = μ_ijkl − Σ_{3 pairings} μ_pq μ_rs (central moments)
        IF = (x̃_i x̃_j x̃_k x̃_l − μ_ijkl) − Σ_{m ∈ ijkl} μ_{ijkl∖m} x̃_m
             − Σ_{pairings} [μ_pq (x̃_r x̃_s − μ_rs) + μ_rs (x̃_p x̃_q − μ_pq)];
    the middle sum is the effect of centring at the sample mean (third central moments).
    """
    x = _check_batch(x, "x")
    if (not isinstance(quadruples, torch.Tensor) or quadruples.ndim != 2
            or quadruples.shape[1] != 4 or quadruples.dtype not in (torch.int32, torch.int64)):
        raise ValueError("quadruples must be an integer tensor of shape [Q, 4]")
    if quadruples.min() < 0 or quadruples.max() >= x.shape[1]:
        raise ValueError(f"quadruple indices must lie in [0, {x.shape[1] - 1}]")
    xc = (x - x.mean(0)).T  # [p, N]
    parts = [_cumulant_and_influence_sd(xc, q) for q in quadruples.long().split(16)]
    kappa = torch.cat([k for k, _ in parts])
    return kappa, torch.cat([sd for _, sd in parts]) / math.sqrt(x.shape[0])


def _cumulant_and_influence_sd(xc: torch.Tensor, q: torch.Tensor
                               ) -> tuple[torch.Tensor, torch.Tensor]:
    """κ and sd of its influence function for a chunk of quadruples (bounded memory)."""
    cols = [xc[q[:, r]] for r in range(4)]  # each [Q, N]
    prod4 = cols[0] * cols[1] * cols[2] * cols[3]
    mu4 = prod4.mean(1)
    infl = prod4 - mu4[:, None]
    for m in range(4):
        rest = [cols[r] for r in range(4) if r != m]
        mu3 = (rest[0] * rest[1] * rest[2]).mean(1)
        infl = infl - mu3[:, None] * cols[m]
    kappa = mu4.clone()
    for (p, r), (u, v) in (((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2))):
        pq, rs = cols[p] * cols[r], cols[u] * cols[v]
        mu_pq, mu_rs = pq.mean(1), rs.mean(1)
        kappa = kappa - mu_pq * mu_rs
        infl = (infl - mu_pq[:, None] * (rs - mu_rs[:, None])
                - mu_rs[:, None] * (pq - mu_pq[:, None]))
    return kappa, infl.std(1)


# --- Barlow Twins and VICReg as surrogates of the same marginal term ---------------------------


def correlations(z_a: torch.Tensor, z_b: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(C^aa, C^bb, C^ab) of the batch-standardized views (divided by N)."""
    a, b = _check_pair(z_a, z_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"z_a and z_b must have the same dimension, got {a.shape[1]} and "
                         f"{b.shape[1]}")
    a, b = standardize(a), standardize(b)
    n = a.shape[0]
    return a.T @ a / n, b.T @ b / n, a.T @ b / n


def _off_diagonal_sq(c: torch.Tensor) -> torch.Tensor:
    return (c**2).sum() - (torch.diagonal(c) ** 2).sum()


def barlow_twins_loss(z_a: torch.Tensor, z_b: torch.Tensor, lam: float = 1.0,
                      target: float = 1.0) -> torch.Tensor:
    """L_BT = Σ_k (target − C_kk)² + λ Σ_{k≠l} C_kl², C the cross-correlation of the standardized
    views (dimensionless). λ = 1 and target = 1/s is the form Taylor-DV reduces to
    (:func:`mitheory.symbolic.taylor_dv_barlow_reduction`)."""
    if not lam >= 0:
        raise ValueError(f"lam must be >= 0, got {lam!r}")
    _, _, c = correlations(z_a, z_b)
    return ((target - torch.diagonal(c)) ** 2).sum() + lam * _off_diagonal_sq(c)


def marginal_taylor2(z_a: torch.Tensor, z_b: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Second-order Taylor marginal term ½ s² Σ_kl C^aa_kl C^bb_kl (nats; E_marg T = 0)."""
    s = _check_scale(scale)
    c_aa, c_bb, _ = correlations(z_a, z_b)
    return 0.5 * s**2 * (c_aa * c_bb).sum()


def marginal_barlow(z_a: torch.Tensor, z_b: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Barlow Twins' stand-in for the marginal term: ½ s² Σ_kl (C^ab_kl)² (nats).

    It is the Taylor marginal term with C^aa_kl C^bb_kl replaced by (C^ab_kl)², which is exact
    under C^aa = C^bb = C^ab. Then s·tr C^ab − this = d/2 − (s²/2)·L_BT(target = 1/s, λ = 1).
    """
    s = _check_scale(scale)
    _, _, c_ab = correlations(z_a, z_b)
    return 0.5 * s**2 * (c_ab**2).sum()


def marginal_vicreg(z_a: torch.Tensor, z_b: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """VICReg's stand-in for the marginal term: ¼ s² Σ_kl [(C^aa_kl)² + (C^bb_kl)²] (nats).

    VICReg penalizes the off-diagonal covariance of each branch separately; the diagonal is held at
    unit variance by its variance hinge (here: by standardization). Since 2xy ≤ x² + y², this is an
    upper bound on :func:`marginal_taylor2`, with equality iff C^aa = C^bb. VICReg's invariance term
    Σ_k mean (a_k − b_k)² = Σ_k (C^aa_kk + C^bb_kk) − 2 tr C^ab carries the joint term s·tr C^ab.
    """
    s = _check_scale(scale)
    c_aa, c_bb, _ = correlations(z_a, z_b)
    return 0.25 * s**2 * ((c_aa**2).sum() + (c_bb**2).sum())


def joint_term(z_a: torch.Tensor, z_b: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """E_joint[T] = s·tr C^ab for the critic T = s·Σ_k a_k b_k on standardized features (nats)."""
    s = _check_scale(scale)
    _, _, c_ab = correlations(z_a, z_b)
    return s * torch.diagonal(c_ab).sum()
