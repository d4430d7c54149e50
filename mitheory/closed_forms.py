"""Closed forms used as ground truth (DESIGN.md §3). All information values in nats.

Notation. Two views (a, b) are jointly Gaussian, zero mean, with joint covariance
Σ = [[Σ_a, C_ab], [C_abᵀ, Σ_b]] (a the first ``dim_a`` coordinates). A bilinear critic is
T(a, b) = aᵀ W b. Its population DV value is DV(W) = E_joint[T] − log E_{p(a)p(b)}[e^T]
= tr(Wᵀ C_ab) − M(W), with the marginal (log-partition) term

    M(W) = log E e^{aᵀWb} = −½ log det(I − K),   K = Σ_b^{1/2} Wᵀ Σ_a W Σ_b^{1/2},

for a ~ N(0, Σ_a) and b ~ N(0, Σ_b) independent. Derivation: conditioning on b,
E_a e^{aᵀ(Wb)} = e^{½ bᵀWᵀΣ_aWb}, and E_b e^{½ bᵀQb} = det(I − Σ_b^{1/2} Q Σ_b^{1/2})^{-1/2} for
Q = WᵀΣ_aW, finite iff ρ(K) < 1 (else the expectation diverges and M = +∞).

The linear two-encoder model z_a = A x_a, z_b = B x_b with the critic T = z_aᵀ z_b is the bilinear
critic W = AᵀB on the inputs; :class:`GaussianViews` holds the data and the functions below give its
exact population DV objective, its gradients and its block smoothness constants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: largest ρ(K) at which the marginal term is evaluated; beyond it det(I − K) has lost most digits
#: ρ(K) at or above which M = log E e^T is treated as +∞ (one predicate for every module)
RHO_LIMIT = 1.0 - 1e-12


def _check_covariance(cov: np.ndarray, name: str = "cov") -> np.ndarray:
    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {cov.shape}")
    if not np.all(np.isfinite(cov)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-12):
        raise ValueError(f"{name} must be symmetric")
    return cov


def _logdet_pd(mat: np.ndarray, name: str) -> float:
    sign, logdet = np.linalg.slogdet(mat)
    if sign <= 0 or not np.isfinite(logdet) or np.linalg.eigvalsh(mat).min() <= 0:
        raise ValueError(f"{name} must be positive definite")
    return float(logdet)


def _check_psd(cov: np.ndarray, name: str) -> np.ndarray:
    """A symmetric positive semi-definite matrix (eigenvalues ≥ −1e-12 · scale)."""
    cov = _check_covariance(cov, name)
    eig = np.linalg.eigvalsh(cov)
    if eig.size and eig.min() < -1e-12 * max(1.0, float(np.abs(eig).max())):
        raise ValueError(
            f"{name} must be positive semi-definite (a covariance), "
            f"but its smallest eigenvalue is {eig.min():.3g}"
        )
    return cov


def _sqrtm_psd(cov: np.ndarray) -> np.ndarray:
    """Symmetric square root of a PSD matrix (tiny negative rounding eigenvalues set to 0)."""
    eig, vec = np.linalg.eigh(cov)
    return (vec * np.sqrt(np.clip(eig, 0.0, None))) @ vec.T


def _check_matrix(m: np.ndarray, name: str, shape: tuple[int, int]) -> np.ndarray:
    if not isinstance(m, np.ndarray | list | tuple):
        raise TypeError(f"{name} must be a numpy array, got {type(m).__name__}")
    m = np.asarray(m, dtype=np.float64)
    if m.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return m


def _check_dim(dim: object, d: int, name: str) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or not 0 < dim < d:
        raise ValueError(f"{name} must be an integer in [1, {d - 1}], got {dim!r}")
    return int(dim)


def gaussian_mi(cov: np.ndarray, dim_x: int) -> float:
    """I(X;Y) = ½ (log det Σ_x + log det Σ_y − log det Σ) for jointly Gaussian (X, Y).

    ``cov`` is the joint covariance with X the first ``dim_x`` coordinates and Y the rest.
    """
    cov = _check_covariance(cov)
    d = cov.shape[0]
    dim_x = _check_dim(dim_x, d, "dim_x")
    ld = _logdet_pd(cov, "cov")
    ldx = _logdet_pd(cov[:dim_x, :dim_x], "cov[:dim_x, :dim_x]")
    ldy = _logdet_pd(cov[dim_x:, dim_x:], "cov[dim_x:, dim_x:]")
    return 0.5 * (ldx + ldy - ld)


# --------------------------------------------------------------------------- bilinear critic


def bilinear_kernel(w: np.ndarray, cov_a: np.ndarray, cov_b: np.ndarray) -> np.ndarray:
    """K = Σ_b^{1/2} Wᵀ Σ_a W Σ_b^{1/2} (symmetric PSD, d_b × d_b) for the critic T = aᵀWb.

    Its eigenvalues λ_k ∈ [0, ∞) are the squared singular values of Σ_a^{1/2} W Σ_b^{1/2}.
    """
    cov_a = _check_psd(cov_a, "cov_a")
    cov_b = _check_psd(cov_b, "cov_b")
    w = _check_matrix(w, "w", (cov_a.shape[0], cov_b.shape[0]))
    x = _sqrtm_psd(cov_a) @ w @ _sqrtm_psd(cov_b)
    k = x.T @ x
    return 0.5 * (k + k.T)


def _kernel_eigenvalues(k: np.ndarray) -> np.ndarray:
    lam = np.clip(np.linalg.eigvalsh(k), 0.0, None)
    rho = float(lam.max()) if lam.size else 0.0
    if rho >= RHO_LIMIT:
        raise ValueError(
            f"the marginal term log E e^(aᵀWb) is infinite: it needs spectral radius ρ(K) < 1, "
            f"got ρ(K) = {rho:.6g}; scale the critic W down"
        )
    return lam


def bilinear_log_partition(w: np.ndarray, cov_a: np.ndarray, cov_b: np.ndarray) -> float:
    """M = log E_{a⊥b}[e^{aᵀWb}] = −½ log det(I − K) = −½ Σ_k log(1 − λ_k), in nats.

    a ~ N(0, Σ_a), b ~ N(0, Σ_b) independent. Raises ``ValueError`` when ρ(K) ≥ 1 (M = +∞).
    """
    lam = _kernel_eigenvalues(bilinear_kernel(w, cov_a, cov_b))
    return float(-0.5 * np.sum(np.log1p(-lam)))


def bilinear_taylor_surrogate(w: np.ndarray, cov_a: np.ndarray, cov_b: np.ndarray) -> float:
    """Second-order Taylor (cumulant) surrogate of M: E T + ½ Var T = ½ tr K under p(a)p(b).

    E T = 0 for independent zero-mean a, b and Var T = E (aᵀWb)² = tr(WᵀΣ_aWΣ_b) = tr K.
    """
    return float(0.5 * np.trace(bilinear_kernel(w, cov_a, cov_b)))


def bilinear_taylor_error(w: np.ndarray, cov_a: np.ndarray, cov_b: np.ndarray) -> float:
    """Exact error of the Taylor surrogate under Gaussian data, in nats:

        M − ½ tr K = ½ Σ_k (−log(1 − λ_k) − λ_k) = ¼ Σ_k λ_k² + O(λ³) ≥ 0,

    so it is O(s⁴) when W is scaled by s (λ_k scale as s²). Evaluated term by term with log1p, so
    it keeps full relative precision when the error is tiny.
    """
    lam = _kernel_eigenvalues(bilinear_kernel(w, cov_a, cov_b))
    return float(0.5 * np.sum(-np.log1p(-lam) - lam))


# --------------------------------------------------------------------------- joint Gaussian views


@dataclass(frozen=True)
class GaussianViews:
    """Two zero-mean jointly Gaussian views: a = first ``dim_a`` coordinates, b = the rest.

    ``cov`` must be symmetric positive semi-definite; the derived blocks and square roots are
    computed once.
    """

    cov: np.ndarray
    dim_a: int
    cov_a: np.ndarray = field(init=False, repr=False)
    cov_b: np.ndarray = field(init=False, repr=False)
    cov_ab: np.ndarray = field(init=False, repr=False)
    sqrt_a: np.ndarray = field(init=False, repr=False)
    sqrt_b: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        cov = _check_psd(self.cov, "cov")
        dim_a = _check_dim(self.dim_a, cov.shape[0], "dim_a")
        object.__setattr__(self, "cov", cov)
        object.__setattr__(self, "dim_a", dim_a)
        object.__setattr__(self, "cov_a", cov[:dim_a, :dim_a])
        object.__setattr__(self, "cov_b", cov[dim_a:, dim_a:])
        object.__setattr__(self, "cov_ab", cov[:dim_a, dim_a:])
        object.__setattr__(self, "sqrt_a", _sqrtm_psd(self.cov_a))
        object.__setattr__(self, "sqrt_b", _sqrtm_psd(self.cov_b))

    @property
    def dim_b(self) -> int:
        return self.cov.shape[0] - self.dim_a

    def mi(self) -> float:
        """I(a; b) in nats (needs ``cov`` positive definite)."""
        return gaussian_mi(self.cov, self.dim_a)


def bilinear_dv(w: np.ndarray, views: GaussianViews) -> float:
    """Population DV value of T = aᵀWb: tr(Wᵀ C_ab) − M(W) ≤ I(a; b), in nats (claim T1)."""
    if not isinstance(views, GaussianViews):
        raise TypeError(f"views must be a GaussianViews, got {type(views).__name__}")
    w = _check_matrix(w, "w", (views.dim_a, views.dim_b))
    return float(np.sum(w * views.cov_ab)) - bilinear_log_partition(w, views.cov_a, views.cov_b)


def canonical_correlations(views: GaussianViews) -> np.ndarray:
    """Singular values of Σ_a^{-1/2} C_ab Σ_b^{-1/2} (descending); needs Σ_a, Σ_b definite."""
    _logdet_pd(views.cov_a, "cov_a")
    _logdet_pd(views.cov_b, "cov_b")
    whitened = np.linalg.solve(views.sqrt_a, views.cov_ab) @ np.linalg.inv(views.sqrt_b)
    return np.linalg.svd(whitened, compute_uv=False)


def best_bilinear_dv(views: GaussianViews) -> float:
    """sup_W DV(W) over bilinear critics, in nats: Σ_i g(c_i) over canonical correlations c_i,

        g(c) = w c + ½ log(1 − w²),   w = (√(1 + 4c²) − 1)/(2c)   (g(0) = 0).

    In canonical coordinates DV(W) = tr(WᵀD) + ½ log det(I − WᵀW) with D = diag(c) is concave
    and invariant under flipping the sign of a canonical pair, so a diagonal maximizer exists and
    the problem splits into scalar ones, whose stationarity condition c = w/(1 − w²) gives w.
    Always < I(a; b) = −½ Σ log(1 − c_i²) when some c_i > 0: the bilinear family lacks the
    quadratic terms of the optimal critic.
    """
    c = canonical_correlations(views)
    c = c[c > 0]
    w = (np.sqrt(1.0 + 4.0 * c**2) - 1.0) / (2.0 * c)
    return float(np.sum(w * c + 0.5 * np.log1p(-(w**2))))


@dataclass(frozen=True)
class QuadraticCritic:
    """T(u) = c + ½ uᵀ H u on the stacked vector u = (a, b)."""

    h: np.ndarray
    c: float


def optimal_critic(views: GaussianViews) -> QuadraticCritic:
    """The DV-optimal critic log p(a, b)/(p(a)p(b)) = c + ½ uᵀHu with
    H = blockdiag(Σ_a⁻¹, Σ_b⁻¹) − Σ⁻¹ and c = ½ (log det Σ_a + log det Σ_b − log det Σ) = I(a; b).
    """
    cov = views.cov
    _logdet_pd(cov, "cov")
    d_a = views.dim_a
    block = np.zeros_like(cov)
    block[:d_a, :d_a] = np.linalg.inv(views.cov_a)
    block[d_a:, d_a:] = np.linalg.inv(views.cov_b)
    h = block - np.linalg.inv(cov)
    return QuadraticCritic(h=0.5 * (h + h.T), c=views.mi())


def quadratic_critic_dv(critic: QuadraticCritic, views: GaussianViews) -> float:
    """Population DV value of a quadratic critic T = c + ½ uᵀHu, in nats:

        E_joint T = c + ½ tr(HΣ),   log E_{p(a)p(b)} e^T = c − ½ log det(I − Σ₀^{1/2} H Σ₀^{1/2}),

    with Σ₀ = blockdiag(Σ_a, Σ_b) the covariance of the product of marginals (finite iff the
    largest eigenvalue of Σ₀^{1/2} H Σ₀^{1/2} is < 1). With :func:`optimal_critic` it is I(a; b).
    """
    d = views.cov.shape[0]
    h = _check_covariance(critic.h, "critic.h")
    if h.shape != (d, d):
        raise ValueError(f"critic.h must have shape {(d, d)}, got {h.shape}")
    if not np.isfinite(critic.c):
        raise ValueError(f"critic.c must be finite, got {critic.c!r}")
    d_a = views.dim_a
    root0 = np.zeros_like(views.cov)
    root0[:d_a, :d_a] = views.sqrt_a
    root0[d_a:, d_a:] = views.sqrt_b
    g = root0 @ h @ root0
    eig = np.linalg.eigvalsh(0.5 * (g + g.T))
    if eig.max() >= RHO_LIMIT:
        raise ValueError(
            "the marginal term of this quadratic critic is infinite: the largest eigenvalue of "
            f"Σ₀^(1/2) H Σ₀^(1/2) must be < 1, got {eig.max():.6g}"
        )
    joint = critic.c + 0.5 * float(np.sum(h * views.cov))
    marginal = critic.c - 0.5 * float(np.sum(np.log1p(-eig)))
    return joint - marginal


# ------------------------------------------------------------------ linear two-encoder model


def _check_encoders(views: GaussianViews, enc_a: np.ndarray, enc_b: np.ndarray):
    if not isinstance(views, GaussianViews):
        raise TypeError(f"views must be a GaussianViews, got {type(views).__name__}")
    enc_a = np.asarray(enc_a, dtype=np.float64)
    if enc_a.ndim != 2 or enc_a.shape[1] != views.dim_a:
        raise ValueError(f"enc_a must have shape [k, {views.dim_a}], got {enc_a.shape}")
    enc_b = _check_matrix(enc_b, "enc_b", (enc_a.shape[0], views.dim_b))
    enc_a = _check_matrix(enc_a, "enc_a", enc_a.shape)
    return enc_a, enc_b


def _whitened(views: GaussianViews, enc_a: np.ndarray, enc_b: np.ndarray) -> np.ndarray:
    """X = Σ_a^{1/2} AᵀB Σ_b^{1/2}; K = XᵀX and ρ(K) = ‖X‖₂²."""
    return views.sqrt_a @ enc_a.T @ enc_b @ views.sqrt_b


def coupling_radius(views: GaussianViews, enc_a: np.ndarray, enc_b: np.ndarray) -> float:
    """ρ(K) for the linear encoders (z_a = A x_a, z_b = B x_b, critic z_aᵀz_b, i.e. W = AᵀB)."""
    enc_a, enc_b = _check_encoders(views, enc_a, enc_b)
    return float(np.linalg.norm(_whitened(views, enc_a, enc_b), 2) ** 2)


def linear_encoders_dv(views: GaussianViews, enc_a: np.ndarray, enc_b: np.ndarray) -> float:
    """Population DV objective of the linear two-encoder model, in nats:

        L(A, B) = E_joint[z_aᵀz_b] − log E_{p(z_a)p(z_b)} e^{z_aᵀz_b}
                = tr(A C_ab Bᵀ) + ½ log det(I − XᵀX),   X = Σ_a^{1/2} AᵀB Σ_b^{1/2}.
    """
    enc_a, enc_b = _check_encoders(views, enc_a, enc_b)
    return bilinear_dv(enc_a.T @ enc_b, views)


def linear_encoders_dv_grad(
    views: GaussianViews, enc_a: np.ndarray, enc_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact gradients (∂L/∂A, ∂L/∂B) of :func:`linear_encoders_dv`.

    With f(X) = −½ log det(I − XᵀX), ∇_X f = X (I − XᵀX)⁻¹ =: Y, and X linear in A and in B:
    ∂L/∂A = B C_abᵀ − B Σ_b^{1/2} Yᵀ Σ_a^{1/2},  ∂L/∂B = A C_ab − A Σ_a^{1/2} Y Σ_b^{1/2}.
    """
    enc_a, enc_b = _check_encoders(views, enc_a, enc_b)
    x = _whitened(views, enc_a, enc_b)
    _kernel_eigenvalues(x.T @ x)
    y = np.linalg.solve(np.eye(x.shape[1]) - x.T @ x, x.T).T
    grad_a = enc_b @ views.cov_ab.T - enc_b @ views.sqrt_b @ y.T @ views.sqrt_a
    grad_b = enc_a @ views.cov_ab - enc_a @ views.sqrt_a @ y @ views.sqrt_b
    return grad_a, grad_b


def block_smoothness(
    views: GaussianViews,
    enc_a: np.ndarray,
    enc_b: np.ndarray,
    block: str,
    rho_max: float,
) -> float:
    """Smoothness constant L of the DV objective in one block, valid on the region ρ(K) ≤ ρ_max.

    For block "a" (B frozen) L(A) = tr(A C_ab Bᵀ) − f(X), f(X) = −½ log det(I − XᵀX),
    X = Σ_a^{1/2} AᵀB Σ_b^{1/2}. The joint term is linear in A, so the Hessian is −∇²f. With
    R = (I − XᵀX)⁻¹, ∇f = XR, and along a direction E in X-space (ρ = ‖X‖₂² = ρ(K))

        ∇²f[E, E] = tr(R EᵀE) + tr((EᵀXR)²) + tr(Eᵀ XRXᵀ E R)
                  ≤ ‖E‖²_F (1/(1−ρ) + ρ/(1−ρ)² + ρ/(1−ρ)²) = ‖E‖²_F (1+ρ)/(1−ρ)²,

    using ‖R‖₂ = 1/(1−ρ), ‖XR‖₂² = ρ/(1−ρ)², ‖XRXᵀ‖₂ = ρ/(1−ρ); the bound is attained for scalar
    X (f = −½ log(1 − x²), f'' = (1+x²)/(1−x²)²). f is convex (the log-partition of a
    linear family), so the block objective is concave with curvature in [−L, 0]. A direction D in
    A maps to E = Σ_a^{1/2} Dᵀ B Σ_b^{1/2}, ‖E‖_F² ≤ λ_max(Σ_a) λ_max(BΣ_bBᵀ) ‖D‖_F², hence

        L_A = λ_max(Σ_a) · λ_max(B Σ_b Bᵀ) · (1 + ρ_max)/(1 − ρ_max)²,
        L_B = λ_max(Σ_b) · λ_max(A Σ_a Aᵀ) · (1 + ρ_max)/(1 − ρ_max)².

    No global constant exists (the curvature diverges as ρ(K) → 1). The region
    S = {A : ‖Σ_a^{1/2}AᵀBΣ_b^{1/2}‖₂² ≤ ρ_max} is a norm ball, hence convex: if A and
    A + η∇_A L both lie in S and η ≤ 1/L_A, the descent lemma gives
    L(A + η∇) ≥ L(A) + η(1 − ηL_A/2)‖∇‖² ≥ L(A): a block step with step 1/L never decreases L.
    """
    enc_a, enc_b = _check_encoders(views, enc_a, enc_b)
    if not (isinstance(rho_max, float | int) and 0.0 <= rho_max < 1.0):
        raise ValueError(f"rho_max must be in [0, 1), got {rho_max!r}")
    curvature = (1.0 + rho_max) / (1.0 - rho_max) ** 2
    if block == "a":
        frozen = np.linalg.eigvalsh(enc_b @ views.cov_b @ enc_b.T).max()
        own = np.linalg.eigvalsh(views.cov_a).max()
    elif block == "b":
        frozen = np.linalg.eigvalsh(enc_a @ views.cov_a @ enc_a.T).max()
        own = np.linalg.eigvalsh(views.cov_b).max()
    else:
        raise ValueError(f"block must be 'a' or 'b', got {block!r}")
    return float(max(own, 0.0) * max(frozen, 0.0) * curvature)


def random_gaussian_views(
    dim_a: int, dim_b: int, correlations: np.ndarray | list[float], seed: int
) -> GaussianViews:
    """Jointly Gaussian views with prescribed canonical correlations and random marginals.

    Σ_a, Σ_b are random SPD matrices (condition number ≤ 10) and C_ab = Σ_a^{1/2} U diag(c) Vᵀ
    Σ_b^{1/2} with random orthonormal U, V, so the whitened cross-covariance has singular values
    c_i and I(a; b) = −½ Σ_i log(1 − c_i²) nats. Needs len(c) ≤ min(dim_a, dim_b), 0 ≤ c_i < 1.
    """
    for name, d in (("dim_a", dim_a), ("dim_b", dim_b)):
        if isinstance(d, bool) or not isinstance(d, int | np.integer) or d < 1:
            raise ValueError(f"{name} must be a positive integer, got {d!r}")
    c = np.asarray(correlations, dtype=np.float64).ravel()
    if c.size > min(dim_a, dim_b) or not np.all((c >= 0) & (c < 1)):
        raise ValueError(
            f"correlations must be at most min(dim_a, dim_b) = {min(dim_a, dim_b)} values in "
            f"[0, 1), got {c.tolist()}"
        )
    rng = np.random.default_rng(seed)

    def spd(d: int) -> np.ndarray:
        q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        return (q * rng.uniform(0.1, 1.0, size=d)) @ q.T * rng.uniform(0.5, 2.0)

    def orthonormal(d: int) -> np.ndarray:
        return np.linalg.qr(rng.normal(size=(d, d)))[0][:, : c.size]

    cov_a, cov_b = spd(dim_a), spd(dim_b)
    cross = _sqrtm_psd(cov_a) @ (orthonormal(dim_a) * c) @ orthonormal(dim_b).T @ _sqrtm_psd(cov_b)
    cov = np.block([[cov_a, cross], [cross.T, cov_b]])
    return GaussianViews(0.5 * (cov + cov.T), int(dim_a))


def optimal_critic_marginal_variance(n: int, rho: float, dim: int) -> float:
    """Var(m̂), m̂ the mean of e^{T*} over the N(N−1) off-diagonal pairs of a batch.

    T* = log p(x,y)/(p(x)p(y)) is the exact optimal critic on ``dim`` independent pairs of standard
    Gaussians with correlation ``rho``. E[m̂] = 1; the U-statistic is degenerate (E_y e^{T*(x,y)} = 1
    for every x), so only pairs sharing both indices covary: Var(m̂) = (χ² + c)/(N(N−1)) with
    χ² = (1−ρ²)^{−d} − 1 and c = E₁^d − 1, E₁ the per-coordinate Gaussian integral
    E[h(x₁,y₂) h(x₂,y₁)].
    By the delta method the finite-batch DV bias of the optimal critic is ≈ +Var(m̂)/2 (nats).
    """
    if not (isinstance(n, (int, np.integer)) and n >= 2):
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not (isinstance(dim, (int, np.integer)) and dim >= 1):
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    if not (isinstance(rho, (int, float)) and abs(rho) < 1):
        raise ValueError(f"rho must be in (-1, 1), got {rho!r}")
    r2 = 1 - rho**2
    prec = np.zeros((4, 4))  # variables (x1, x2, y1, y2); joint densities on 4 pairs
    for a, b in [(0, 2), (1, 3), (0, 3), (1, 2)]:
        prec[[a, b], [a, b]] += 1 / r2
        prec[a, b] -= rho / r2
        prec[b, a] -= rho / r2
    prec -= np.eye(4)  # divided by the four standard-normal marginals
    e1 = r2**-2 / math.sqrt(np.linalg.det(prec))
    return ((r2**-dim - 1) + (e1**dim - 1)) / (n * (n - 1))
