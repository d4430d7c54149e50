"""What the flow estimator reads off held-out latents: the Gaussian MI, the radial term, the checks.

All functions take the held-out latents u [n, d_u], v [n, d_v] of one fold (float64) and return
values in nats.

**Canonical read-out** (:func:`canonical_readout`). With each side whitened by its sample
covariance and the whitened cross-covariance decomposed as P diag(ρ) Qᵀ (the canonical
correlations ρ_k), the Gaussian MI is −½ Σ_k log(1 − ρ_k²) = ½ (log det Σ_u + log det Σ_v − log det
Σ), less the exact Wishart bias of the three log-determinants (``estimators.gaussian``). With
a_k, b_k the canonical variates of a pair, the delta-method influence value is
ψ = ½ Σ_k (2 ρ_k a_k b_k − ρ_k² (a_k² + b_k²)) / (1 − ρ_k²), and Var ≈ Var(ψ)/n + d_u d_v / (2 n²)
(the χ² term that dominates at independence; ``estimators.flow``).

**Residual variates.** e_k = (b_k − ρ_k a_k) / √(1 − ρ_k²) for the paired coordinates and the
remaining canonical coordinates of v: under the Gaussian model (a, e) are independent standard
normals, and (a, b) ↦ (a, e) is invertible, so I(U; V) = I(a; b). Writing h for differential
entropy and J for negentropy (the KL divergence to the Gaussian of equal covariance),

    I(U; V) = I_G + I(a; e) + J(e) − J(b),

so with Gaussian latents per side (J(b) = 0) whatever dependence is left between a and e adds to
the Gaussian MI, and any function of each side only lowers it (data processing).

**Radial term** (:func:`radial_term`): KSG (``estimators.knn``) between the radii ‖a‖ and ‖e‖
(normal scores of each): a 1 + 1-dimensional estimate of a lower bound of I(a; e) at any
dimension. For an elliptical pair (a multivariate Student-t of any scale matrix) (a, e) share
only their radius, so the term is the whole non-Gaussian part: I_G + I(‖a‖; ‖e‖) is the MI. On
Student-t pairs with identity scale (dependence only through the radius) at 5 + 5 … 25 + 25,
ν = 1, 2, 4 the radial KSG on normal scores reads 0.40–1.51 for truths 0.41–1.56.

**Residual dependence test** (:func:`residual_dependence`): a randomized dependence test
(Lopez-Paz et al. 2013, RDC) between the *directions* a/‖a‖ and e/‖e‖ (independent, and
independent of the radii, under the Gaussian model; the radii have their own term above):
``RESIDUAL_FEATURES`` random Fourier features of each side, their canonical correlations r_j, and
Bartlett's statistic −(n − 1 − (2F + 1)/2) Σ_j log(1 − r_j²) ~ χ²_{F²} under independence. A small
p-value says the latents are dependent beyond their Gaussian model and their radii: a map the
flows did not undo (a spiral, a deep coupling stack), so the MI is likely higher than the
read-out. An elliptical pair (dependent only through the radius) does not trip it.

**Resolution** (:data:`RESOLUTION`). The normal-score map fitted on m training values is exact only
to about its empirical CDF's error, of variance ≈ (π/2)/m per coordinate in the bulk: two views
tied tighter than that (y = x Q, tanh(xQ)³) read 1 − ρ² ≈ 0.6–3 × 10⁻³ at m = 2500 instead of 0.
A canonical pair with 1 − ρ² < ``RESOLUTION`` / m is at the limit of what the data resolve: the
MI there may be far higher, up to infinite (a deterministic relation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import chi2

from estimators.gaussian import wishart_logdet_bias

#: a canonical pair with 1 − ρ² below RESOLUTION / m (m training values per fold) is at the
#: resolution of the normal-score maps (module docstring)
RESOLUTION = 10.0
#: a canonical pair with 1 − ρ² below EXACT / m is a deterministic relation to float precision
#: (y = x): the MI is infinite
EXACT = 1e-6
#: the radial term counts (flag ``radial``; added by the default) when it exceeds RADIAL_Z
#: standard errors (at independence a 2-SE rule fired on 1 of 10 seeds)
RADIAL_Z = 3.0
#: random Fourier features per side in the residual dependence test
RESIDUAL_FEATURES = 12
#: eigenvalues of a side's (unit-diagonal) normal-score covariance below RANK_FLOOR / m are at
#: the resolution of the maps: those directions are dropped (:func:`principal_basis`)
RANK_FLOOR = 10.0


@dataclass(frozen=True)
class Readout:
    """The Gaussian read-out of one fold's held-out latents (nats)."""

    mi: float  #: Wishart-corrected Gaussian MI
    var: float  #: its variance (delta method + χ² term)
    raw: float  #: uncorrected plug-in
    rho: np.ndarray  #: canonical correlations, descending
    a: torch.Tensor  #: canonical variates of u [n, d_u] (whitened; the first len(rho) paired)
    b: torch.Tensor  #: canonical variates of v [n, d_v]
    e: torch.Tensor  #: residual variates of v [n, d_v] (module docstring)


def _whiten(w: torch.Tensor) -> torch.Tensor:
    """Centred ``w`` times the inverse Cholesky factor of its sample covariance."""
    wc = w - w.mean(dim=0, keepdim=True)
    cov = wc.T @ wc / (w.shape[0] - 1)
    chol, info = torch.linalg.cholesky_ex(cov)
    if int(info) != 0:
        raise ValueError(
            "the latents of one side are collinear (a singular covariance): there are more "
            "dimensions than the data resolve"
        )
    return torch.linalg.solve_triangular(chol, wc.T, upper=False).T


def canonical_readout(u: torch.Tensor, v: torch.Tensor) -> Readout:
    """Wishart-corrected Gaussian MI of held-out latents with its variance (module docstring)."""
    n, du = u.shape
    dv = v.shape[1]
    uw, vw = _whiten(u), _whiten(v)
    cross = uw.T @ vw / (n - 1)
    p, rho, qt = torch.linalg.svd(cross, full_matrices=True)
    rho = rho.clamp(max=1.0 - 1e-15)
    a, b = uw @ p, vw @ qt.T
    r = rho.numel()
    one = 1.0 - rho * rho
    ap, bp = a[:, :r], b[:, :r]
    psi = 0.5 * ((2.0 * rho * ap * bp - rho * rho * (ap * ap + bp * bp)) / one).sum(1)
    raw = float(-0.5 * torch.log1p(-rho * rho).sum())
    bias = 0.5 * (wishart_logdet_bias(du, n) + wishart_logdet_bias(dv, n)
                  - wishart_logdet_bias(du + dv, n))  # fmt: skip
    e = b.clone()
    e[:, :r] = (bp - rho * ap) / torch.sqrt(one)
    var = float(psi.var() / n + du * dv / (2.0 * n * n))
    return Readout(mi=raw - bias, var=var, raw=raw, rho=rho.cpu().numpy(), a=a, b=b, e=e)


def principal_basis(train: torch.Tensor) -> torch.Tensor | None:
    """Columns spanning the directions of ``train`` (normal scores, [m, d]) whose variance is
    above ``RANK_FLOOR`` / m, or None when every direction is (no reduction needed).

    Below that floor a direction's variance is of the order of the normal-score map's own error,
    so its Gaussian MI reflects the map, not the data (rank-16 embeddings in 256 dims read 9.2
    nats for 6.0). Projecting each side on a subspace is a function of that side, so it can only
    lower the MI (data processing); for a low-rank signal plus independent noise it loses nothing.
    """
    m = train.shape[0]
    wc = train - train.mean(dim=0, keepdim=True)
    cov = wc.T @ wc / (m - 1)
    evals, evecs = torch.linalg.eigh(cov)
    keep = evals > RANK_FLOOR / m
    if bool(keep.all()):
        return None
    if not bool(keep.any()):
        keep[-1] = True
    return evecs[:, keep].flip(1)


def exact_span(w: np.ndarray) -> np.ndarray:
    """A side's raw samples w [n, d] as coordinates on their linear span: the centred,
    standardised columns projected on the directions with variance above 1e-9 of the largest;
    ``w`` itself when it has full rank.

    An exactly low-rank side (a linear embedding of fewer latent dimensions) must be reduced
    before the per-coordinate normal-score maps: they are nonlinear, so the maps of d linearly
    dependent columns span far more than the latent dimensions, and the Gaussian MI of those
    curved latents can read many times the MI (a heavy-tailed rank-16 pair in 128 dims: 15.4
    nats for 2.7). The projection is invertible on the data's span, so the MI is unchanged.
    """
    wc = torch.as_tensor(w - w.mean(axis=0))
    wc /= wc.std(dim=0)
    evals, evecs = torch.linalg.eigh(wc.T @ wc)
    keep = evals > 1e-9 * evals[-1]
    return w if bool(keep.all()) else (wc @ evecs[:, keep].flip(1)).numpy()


def tail_excess(readout: Readout) -> tuple[float, float]:
    """The latents' fourth-moment excess over the Gaussian model, in nats of read-out bias, and
    its standard error: ½ (mean ‖a‖²‖e‖² − d_u d_v) / n.

    Under the Gaussian model a and e are independent standard normals, so E ‖a‖²‖e‖² = d_u d_v,
    and the plug-in's upward bias at independence, ½ E Σ_ij r̂_ij² ≈ ½ E ‖a‖²‖e‖² / n, is what
    the Wishart correction removes. Heavy-tailed latents (a shared scale) make the sample cross-
    correlations noisier, so the correction falls short by about this much (Student-t, ν = 2,
    128 + 128 at n = 5000: 1.8 nats; Gaussians: |excess| < 0.01)."""
    n = readout.a.shape[0]
    prod = readout.a.pow(2).sum(1) * readout.e.pow(2).sum(1)
    du, dv = readout.a.shape[1], readout.e.shape[1]
    return (0.5 * (float(prod.mean()) - du * dv) / n,
            0.5 * float(prod.std()) / n / math.sqrt(n))  # fmt: skip


def radial_term(readout: Readout, seed: int) -> tuple[float, float]:
    """KSG estimate of I(‖a‖; ‖e‖) on normal scores of the radii and its standard error (nats)."""
    from estimators.knn import ksg
    from estimators.marginals import normal_scores

    radii = torch.stack([readout.a.norm(dim=1), readout.e.norm(dim=1)], dim=1).cpu()
    scores = normal_scores(radii)[0].numpy()
    result = ksg(scores[:, :1], scores[:, 1:], seed=seed)
    return result.mi, (result.ci[1] - result.ci[0]) / (2.0 * 1.959963984540054)


def _fourier(w: torch.Tensor, features: int, gen: torch.Generator) -> torch.Tensor:
    """``features`` random Fourier features cos(W w + c) of standardised ``w`` (bandwidth: the
    median-distance rule for standard normal data, √(2 d))."""
    d = w.shape[1]
    weights = torch.randn(d, features, generator=gen, dtype=w.dtype) / math.sqrt(2.0 * d)
    shift = 2.0 * math.pi * torch.rand(features, generator=gen, dtype=w.dtype)
    return torch.cos(w @ weights.to(w.device) + shift.to(w.device))


def _direction_test(p: torch.Tensor, q: torch.Tensor, gen: torch.Generator) -> float:
    """p-value of the randomized dependence test between the directions p/‖p‖ and q/‖q‖
    (``RESIDUAL_FEATURES`` random Fourier features each, Bartlett's χ² of their canonical
    correlations; module docstring)."""
    n = p.shape[0]
    f = RESIDUAL_FEATURES
    fp, fq = (_fourier(w * math.sqrt(w.shape[1]) / w.norm(dim=1, keepdim=True).clamp(min=1e-300),
                       f, gen) for w in (p, q))  # fmt: skip
    try:
        rho = torch.linalg.svdvals(_whiten(fp).T @ _whiten(fq) / (n - 1)).clamp(max=1 - 1e-12)
    except ValueError:  # features collinear (1-dim sides: a direction is a sign)
        return 1.0
    stat = -(n - 1 - (2 * f + 1) / 2.0) * float(torch.log1p(-rho * rho).sum())
    return float(chi2.sf(stat, f * f))


def residual_dependence(readout: Readout, seed: int) -> float:
    """p-value of the randomized dependence test between the directions of the canonical variates
    a and of the residual variates e (module docstring); small when the latents are dependent
    beyond their Gaussian model and their radii."""
    return _direction_test(readout.a, readout.e, torch.Generator().manual_seed(seed))


__all__ = ["EXACT", "RADIAL_Z", "RANK_FLOOR", "RESIDUAL_FEATURES", "RESOLUTION", "Readout",
           "canonical_readout", "exact_span", "principal_basis", "radial_term",
           "residual_dependence", "tail_excess"]
