"""Self-supervised objectives as pure, differentiable functions of embedding batches [N, d].

Every function takes the embeddings of the two views (row i of each is one pair), returns a 0-d
loss tensor to *minimize*, and computes in float32 at least (bf16/fp16 inputs are upcast, float64
stays float64 where the formula allows). No function detaches anything: stop-gradient and
asymmetric branches are the method's job (``paradigms.methods``), so each loss can be tested alone.

The DV-family losses reuse the one implementation of each formula: the bounds of
:mod:`estimators.bounds` and the Taylor-DV surrogate of :mod:`mitheory.surrogates` (DESIGN.md §3).
Losses with a temperature or a cosine are in nats (scores are log-density-ratio units); the
Barlow Twins and VICReg losses are dimensionless regularizers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from estimators import bounds
from mitheory.surrogates import standardize, taylor_dv_surrogate


def _as_float(z: torch.Tensor) -> torch.Tensor:
    """Upcast half precisions to float32; keep float32/float64."""
    return z.float() if z.dtype in (torch.float16, torch.bfloat16) else z


def _check_batch(z: object, name: str) -> torch.Tensor:
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(z).__name__}")
    if not z.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {z.dtype}")
    if z.ndim != 2:
        raise ValueError(f"{name} must be a batch of embeddings [N, d], got shape {tuple(z.shape)}")
    if z.shape[1] < 1:
        raise ValueError(f"{name} has no embedding dimensions (shape {tuple(z.shape)})")
    return _as_float(z)


def _check_pair(
    z_a: object, z_b: object, names: tuple[str, str] = ("z_a", "z_b")
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate two paired batches: equal shapes [N, d] with N >= 2, floating point."""
    a = _check_batch(z_a, names[0])
    b = _check_batch(z_b, names[1])
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have equal shapes [N, d], got "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.shape[0] < 2:
        raise ValueError(
            f"need a batch of N >= 2 pairs (other pairs serve as negatives or batch statistics), "
            f"got N = {a.shape[0]}"
        )
    if a.dtype != b.dtype:
        dtype = torch.promote_types(a.dtype, b.dtype)
        a, b = a.to(dtype), b.to(dtype)
    return a, b


def _check_positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _check_nonnegative(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
    return float(value)


def _off_diagonal(m: torch.Tensor) -> torch.Tensor:
    """The d(d-1) off-diagonal entries of a square matrix, flattened."""
    d = m.shape[0]
    return m.flatten()[:-1].view(d - 1, d + 1)[:, 1:].flatten()


def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Negative cosine similarity: L = −(1/N) Σ_i ⟨p_i, z_i⟩ / (‖p_i‖ ‖z_i‖), in [−1, 1].

    The SimSiam (Chen & He 2021, Eq. 1) and BYOL (Grill et al. 2020, Eq. 2 up to the affine map
    2 − 2 cos) prediction loss. ``p`` is the predictor output of one view, ``z`` the target
    embedding of the other. Nothing is detached here: SimSiam's stop-gradient on ``z`` is applied
    by the method.
    """
    p, z = _check_pair(p, z, ("p", "z"))
    return -(F.normalize(p, dim=1) * F.normalize(z, dim=1)).sum(dim=1).mean()


def info_nce_loss(
    q: torch.Tensor,
    k: torch.Tensor,
    temperature: float = 0.2,
    queue: torch.Tensor | None = None,
    *,
    batch_negatives: bool = True,
) -> torch.Tensor:
    """MoCo-style InfoNCE: cross-entropy of the positive key k_i among the keys for query q_i.

    With q, k, queue l2-normalized, logits_i = [q_i·k_1, …, q_i·k_N, q_i·u_1, …, q_i·u_K] / τ
    and L = −(1/N) Σ_i log softmax(logits_i)[i]: the positive is k_i, the negatives the other
    keys of the batch and the K queue entries u (a buffer [K, d] of past keys).
    ``batch_negatives=False`` drops the other batch keys, logits_i = [q_i·k_i, q_i·u_1…u_K] / τ,
    which is MoCo v1/v2's loss (He et al. 2020, Eq. 1) and needs a queue; the default in-batch
    form without a queue is MoCo v3's (Chen, Xie & He 2021, Alg. 1, without its 2τ factor).

    Defaults: τ = 0.2 from MoCo v2 (Chen et al. 2020, "Improved Baselines…", Table 1), also the
    MoCo v3 ViT recipe's value. Loss in nats; log(N + K) − L is the InfoNCE lower bound on MI.
    """
    q, k = _check_pair(q, k, ("q", "k"))
    tau = _check_positive(temperature, "temperature")
    qn, kn = F.normalize(q, dim=1), F.normalize(k, dim=1)
    n = qn.shape[0]
    if batch_negatives:
        logits = [qn @ kn.T]
        labels = torch.arange(n, device=qn.device)
    else:
        logits = [(qn * kn).sum(dim=1, keepdim=True)]
        labels = torch.zeros(n, dtype=torch.long, device=qn.device)
    if queue is not None:
        u = _check_batch(queue, "queue")
        if u.shape[1] != qn.shape[1]:
            raise ValueError(
                f"queue must be [K, d] with the embedding dimension d = {qn.shape[1]} of q and k, "
                f"got shape {tuple(u.shape)}"
            )
        logits.append(qn @ F.normalize(u.to(qn.dtype), dim=1).T)
    elif not batch_negatives:
        raise ValueError("batch_negatives=False needs a queue of negatives; got queue=None")
    return F.cross_entropy(torch.cat(logits, dim=1) / tau, labels)


def nt_xent_loss(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """SimCLR's NT-Xent (Chen et al. 2020, Eq. 1) over the 2N views of N pairs.

    With u_1…u_2N the l2-normalized views (u_i = z_a^i, u_{N+i} = z_b^i) and s_ij = u_i·u_j / τ,
    ℓ(i, j) = −log [exp s_ij / Σ_{m≠i} exp s_im] and L = (1/2N) Σ_i [ℓ(i, N+i) + ℓ(N+i, i)]:
    each view has one positive and 2N − 2 negatives. Invariant to the scale of each embedding.

    Default τ = 0.5: SimCLR's value for its CIFAR-10 experiments (Appendix B.9) and the common
    small-batch default (the paper's large-batch ImageNet runs use 0.1). In nats.
    """
    a, b = _check_pair(z_a, z_b)
    tau = _check_positive(temperature, "temperature")
    n = a.shape[0]
    u = F.normalize(torch.cat([a, b], dim=0), dim=1)
    sim = (u @ u.T / tau).masked_fill(
        torch.eye(2 * n, dtype=torch.bool, device=u.device), -math.inf
    )
    positives = torch.arange(2 * n, device=u.device).roll(n)  # i ↔ N + i, built on the device
    return F.cross_entropy(sim, positives)


def barlow_twins_loss(z_a: torch.Tensor, z_b: torch.Tensor, lambd: float = 5.1e-3) -> torch.Tensor:
    """Barlow Twins (Zbontar et al. 2021, Eq. 1): Σ_k (1 − C_kk)² + λ Σ_{k≠l} C_kl².

    C = aᵀb / N is the cross-correlation of the batch-standardized embeddings a = std(z_a),
    b = std(z_b) (zero mean, unit biased variance per dimension, as the paper's affine-free
    batch norm; :func:`mitheory.surrogates.standardize`). The first sum is the invariance term,
    the second the redundancy-reduction term. Default λ = 5.1e-3 from the paper (§4, for its
    8192-dimensional projector). Dimensionless; 0 for identical decorrelated views.
    """
    a, b = _check_pair(z_a, z_b)
    lam = _check_nonnegative(lambd, "lambd")
    c = standardize(a).T @ standardize(b) / a.shape[0]
    return (1.0 - torch.diagonal(c)).pow(2).sum() + lam * _off_diagonal(c).pow(2).sum()


def vicreg_loss(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    sim_weight: float = 25.0,
    var_weight: float = 25.0,
    cov_weight: float = 1.0,
    eps: float = 1e-4,
) -> torch.Tensor:
    """VICReg (Bardes, Ponce & LeCun 2022, Eqs. 1–6).

    L = λ s(Z_a, Z_b) + μ [v(Z_a) + v(Z_b)] + ν [c(Z_a) + c(Z_b)] with

    - invariance s = (1/N) Σ_i ‖z_a^i − z_b^i‖² / d  (mean squared error over all entries);
    - variance v(Z) = (1/d) Σ_j max(0, 1 − √(Var(z_j) + ε))  (unbiased batch variance, target 1);
    - covariance c(Z) = (1/d) Σ_{j≠k} Cov(Z)_jk²  (unbiased covariance).

    Defaults λ = μ = 25, ν = 1, ε = 1e-4 from the paper (§4.3). This follows the paper's
    equations; the authors' released code halves the variance term, i.e. μ/2 per branch.
    Dimensionless.
    """
    a, b = _check_pair(z_a, z_b)
    lam = _check_nonnegative(sim_weight, "sim_weight")
    mu = _check_nonnegative(var_weight, "var_weight")
    nu = _check_nonnegative(cov_weight, "cov_weight")
    eps = _check_positive(eps, "eps")
    n, d = a.shape
    invariance = F.mse_loss(a, b)
    variance = a.new_zeros(())
    covariance = a.new_zeros(())
    for z in (a, b):
        zc = z - z.mean(dim=0)
        variance = variance + F.relu(1.0 - torch.sqrt(zc.pow(2).sum(dim=0) / (n - 1) + eps)).mean()
        covariance = covariance + _off_diagonal(zc.T @ zc / (n - 1)).pow(2).sum() / d
    return lam * invariance + mu * variance + nu * covariance


def dv_loss(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Negative DV bound with the cosine critic: −[J − M] with S_ij = cos(z_a^i, z_b^j)/τ.

    J = mean_i S_ii (joint term), M = log mean_{i≠j} exp S_ij (explicit marginal term), i.e.
    −:func:`estimators.bounds.dv` of :func:`estimators.bounds.cosine_scores` (DESIGN.md §3). In
    nats. Default τ = 0.1, the cos-DV monitor's temperature, so the training objective and the
    tracked MI are the same number.
    """
    _check_pair(z_a, z_b)
    tau = _check_positive(temperature, "temperature")
    return -bounds.dv(bounds.cosine_scores(z_a, z_b, tau))


def joint_only_loss(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """The DV joint term alone: −(1/N) Σ_i cos(z_a^i, z_b^i)/τ, minimized (= −1/τ) by any
    constant encoder (claim T7: without a marginal term or surrogate this objective collapses).

    Same critic and default τ = 0.1 as :func:`dv_loss`; in nats.
    """
    a, b = _check_pair(z_a, z_b)
    tau = _check_positive(temperature, "temperature")
    return -(F.normalize(a, dim=1) * F.normalize(b, dim=1)).sum(dim=1).mean() / tau


def marginal_only_loss(
    z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = 0.1
) -> torch.Tensor:
    """The DV marginal term alone: log mean_{i≠j} exp S_ij with S_ij = cos(z_a^i, z_b^j)/τ,
    minimized by spreading the embeddings (a uniformity objective); nothing in it asks z_a^i and
    z_b^i to agree. Same critic and default τ = 0.1 as :func:`dv_loss`; in nats.
    """
    _check_pair(z_a, z_b)
    tau = _check_positive(temperature, "temperature")
    return bounds.log_mean_exp_marginal(bounds.cosine_scores(z_a, z_b, tau))


def taylor_dv_loss(z_a: torch.Tensor, z_b: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Negative second-order Taylor-DV objective: −[s·tr(C^ab) − ½ s² Σ_kl C^aa_kl C^bb_kl].

    −:func:`mitheory.surrogates.taylor_dv_surrogate` on batch-standardized embeddings with the
    bilinear critic T = s·Σ_k a_k b_k (DESIGN.md §3, "From Taylor-DV to Barlow Twins"); the same
    formula the surrogate-error report analyses. Default s = 1.0, the surrogate's default. At
    s = 1 the objective is at most d/2 on every batch: writing C^ab = A^{1/2} R B^{1/2} with
    A = C^aa, B = C^bb and ‖R‖₂ ≤ 1 (the joint correlation matrix is PSD), tr(C^ab) ≤ Σ_i σ_i
    and Σ_kl A_kl B_kl = tr(AB) = Σ_i σ_i² over the singular values σ_i of A^{1/2} B^{1/2}, so
    the objective is ≤ Σ_i (σ_i − ½ σ_i²) ≤ d/2, reached by aligned decorrelated views
    (C^aa = C^bb = C^ab = I). In nats.
    """
    _check_pair(z_a, z_b)
    return -taylor_dv_surrogate(
        _as_float(z_a), _as_float(z_b), scale=_check_positive(scale, "scale")
    )


__all__ = [
    "barlow_twins_loss",
    "dv_loss",
    "info_nce_loss",
    "joint_only_loss",
    "negative_cosine",
    "nt_xent_loss",
    "taylor_dv_loss",
    "vicreg_loss",
]
