"""Alternating (SDMI-style) versus simultaneous updates of a linear two-encoder model (T2, T7).

Model (DESIGN.md §3): jointly Gaussian views (x_a, x_b), encoders z_a = A x_a (θ, online branch)
and z_b = B x_b (ξ, target branch), critic T = z_aᵀ z_b. Its population DV objective
L(A, B) = tr(A C_ab Bᵀ) + ½ log det(I − K) is exact (``mitheory.closed_forms``), and so are its
gradients. An E-step is a gradient-ascent step on A with B frozen (stop-gradient), an M-step the
same on B with A frozen. In each block L is concave with curvature bounded by
:func:`~mitheory.closed_forms.block_smoothness` on the convex region ρ(K) ≤ ρ_max, so a block
step of size η ≤ 1/L that stays in the region cannot decrease L (claim T2). A simultaneous step
moves both blocks from the same point; the bilinear joint term couples them, and a large
simultaneous step can decrease L.

The collapse half (claim T7) uses the cosine critic cos(z_a, z_b)/τ: its joint term alone is at most
1/τ and a constant encoder attains it, with DV = 0 (marginal term = joint term).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from mitheory.closed_forms import (
    GaussianViews,
    block_smoothness,
    coupling_radius,
    linear_encoders_dv,
    linear_encoders_dv_grad,
)

_MAX_HALVINGS = 60


def init_encoders(
    views: GaussianViews, dim_out: int, rho: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Random encoders A [dim_out, d_a], B [dim_out, d_b] scaled so that ρ(K) = ``rho``."""
    if isinstance(dim_out, bool) or not isinstance(dim_out, int) or dim_out < 1:
        raise ValueError(f"dim_out must be a positive integer, got {dim_out!r}")
    if not (isinstance(rho, float | int) and 0.0 < rho < 1.0):
        raise ValueError(f"rho must be in (0, 1), got {rho!r}")
    rng = np.random.default_rng(seed)
    enc_a = rng.normal(size=(dim_out, views.dim_a))
    enc_b = rng.normal(size=(dim_out, views.dim_b))
    current = coupling_radius(views, enc_a, enc_b)
    if current <= 0.0:
        raise ValueError("the random encoders give K = 0 (degenerate covariance); use another seed")
    scale = (rho / current) ** 0.25  # ρ(K) is quartic in a common scale of A and B
    return enc_a * scale, enc_b * scale


@dataclass(frozen=True)
class BlockStep:
    """One E- or M-step: the new encoders, the step taken and the objective before and after."""

    enc_a: np.ndarray
    enc_b: np.ndarray
    block: str
    step: float
    smoothness: float
    rho_max: float
    halvings: int
    dv_before: float
    dv_after: float
    grad_sq_norm: float

    @property
    def guaranteed_increase(self) -> float:
        """The descent-lemma lower bound η(1 − ηL/2)‖∇‖² on dv_after − dv_before."""
        return self.step * (1.0 - 0.5 * self.step * self.smoothness) * self.grad_sq_norm


def block_step(
    views: GaussianViews,
    enc_a: np.ndarray,
    enc_b: np.ndarray,
    block: str,
    step_fraction: float,
    rho_max: float | None = None,
) -> BlockStep:
    """Gradient ascent on one block with the other frozen, η = step_fraction / L_block(ρ_max).

    The current point must satisfy ρ(K) < ρ_max; ``rho_max=None`` uses the region
    ρ(K) ≤ (1 + ρ_now)/2 around the current point. If the full step would leave the convex region
    ρ(K) ≤ ρ_max (where L is valid), η is halved until it does not; η stays ≤ 1/L, so the
    guarantee L(new) ≥ L(old) + η(1 − ηL/2)‖∇‖² holds.
    """
    if not (isinstance(step_fraction, float | int) and 0.0 < step_fraction <= 1.0):
        raise ValueError(
            f"step_fraction must be in (0, 1] (a fraction of 1/L), got {step_fraction!r}"
        )
    rho = coupling_radius(views, enc_a, enc_b)
    if rho_max is None:
        rho_max = 0.5 * (1.0 + rho)
    if not rho < rho_max:
        raise ValueError(f"the current point has ρ(K) = {rho:.6g}, expected < rho_max = {rho_max}")
    smooth = block_smoothness(views, enc_a, enc_b, block, rho_max)
    grad_a, grad_b = linear_encoders_dv_grad(views, enc_a, enc_b)
    grad = grad_a if block == "a" else grad_b
    before = linear_encoders_dv(views, enc_a, enc_b)
    step = step_fraction / smooth if smooth > 0 else 0.0
    halvings = 0
    for _ in range(_MAX_HALVINGS):
        new_a = enc_a + step * grad if block == "a" else enc_a
        new_b = enc_b + step * grad if block == "b" else enc_b
        if coupling_radius(views, new_a, new_b) <= rho_max:
            break
        step *= 0.5
        halvings += 1
    else:  # pragma: no cover - ρ is continuous in η and ρ(0) < ρ_max
        raise RuntimeError("no step inside the region ρ(K) ≤ rho_max was found")
    return BlockStep(
        enc_a=new_a,
        enc_b=new_b,
        block=block,
        step=step,
        smoothness=smooth,
        rho_max=rho_max,
        halvings=halvings,
        dv_before=before,
        dv_after=linear_encoders_dv(views, new_a, new_b),
        grad_sq_norm=float(np.sum(grad * grad)),
    )


@dataclass(frozen=True)
class Trajectory:
    """Population DV (nats) after each update, starting with the initial value."""

    dv: list[float]
    steps: list[float] = field(default_factory=list)
    diverged: bool = False

    @property
    def worst_change(self) -> float:
        """The most negative one-update change of the DV objective (> 0 if every update rose)."""
        d = np.diff(np.asarray(self.dv))
        return float(d.min()) if d.size else 0.0


def alternating_ascent(
    views: GaussianViews,
    enc_a: np.ndarray,
    enc_b: np.ndarray,
    rounds: int,
    step_fraction: float = 1.0,
    rho_max: float | None = None,
) -> tuple[Trajectory, list[BlockStep]]:
    """``rounds`` × (E-step on A with B frozen, then M-step on B with A frozen), see
    :func:`block_step` for the step size and the region."""
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a positive integer, got {rounds!r}")
    history: list[BlockStep] = []
    dv = [linear_encoders_dv(views, enc_a, enc_b)]
    for _ in range(rounds):
        for block in ("a", "b"):
            s = block_step(views, enc_a, enc_b, block, step_fraction, rho_max)
            enc_a, enc_b = s.enc_a, s.enc_b
            history.append(s)
            dv.append(s.dv_after)
    return Trajectory(dv=dv, steps=[s.step for s in history]), history


SCHEDULES = ("simultaneous", "alternating")


def fixed_step_ascent(
    views: GaussianViews,
    enc_a: np.ndarray,
    enc_b: np.ndarray,
    rounds: int,
    step: float,
    schedule: str = "simultaneous",
) -> Trajectory:
    """``rounds`` gradient-ascent rounds with one fixed step η and no safeguard.

    "simultaneous": (A, B) ← (A, B) + η (∇_A L, ∇_B L), both gradients at the same point (one DV
    value per round). "alternating": A ← A + η∇_A L, then B ← B + η∇_B L at the new A (two values
    per round). Stops early with ``diverged=True`` when an update reaches ρ(K) ≥ 1, where the
    marginal term is infinite (DV = −∞).
    """
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a positive integer, got {rounds!r}")
    if not (isinstance(step, float | int) and step > 0 and np.isfinite(step)):
        raise ValueError(f"step must be a positive finite number, got {step!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    dv = [linear_encoders_dv(views, enc_a, enc_b)]
    blocks = ("ab",) if schedule == "simultaneous" else ("a", "b")
    for _ in range(rounds):
        for block in blocks:
            grad_a, grad_b = linear_encoders_dv_grad(views, enc_a, enc_b)
            if "a" in block:
                enc_a = enc_a + step * grad_a
            if "b" in block:
                enc_b = enc_b + step * grad_b
            if coupling_radius(views, enc_a, enc_b) >= 1.0:
                return Trajectory(dv=dv, steps=[step] * (len(dv) - 1), diverged=True)
            dv.append(linear_encoders_dv(views, enc_a, enc_b))
    return Trajectory(dv=dv, steps=[step] * (len(dv) - 1))


# --------------------------------------------------------------------------- T7: collapse


def _check_tau(tau: float) -> float:
    if not (isinstance(tau, float | int) and tau > 0 and np.isfinite(tau)):
        raise ValueError(f"tau must be a positive finite temperature, got {tau!r}")
    return float(tau)


def _check_embeddings(z_a: torch.Tensor, z_b: torch.Tensor) -> None:
    if not (isinstance(z_a, torch.Tensor) and isinstance(z_b, torch.Tensor)):
        raise TypeError("z_a and z_b must be torch tensors")
    if z_a.ndim != 2 or z_a.shape != z_b.shape or z_a.shape[0] < 2:
        raise ValueError(
            f"z_a and z_b must be [N >= 2, d] with equal shapes, got {tuple(z_a.shape)} "
            f"and {tuple(z_b.shape)}"
        )


def cosine_joint_term(z_a: torch.Tensor, z_b: torch.Tensor, tau: float) -> torch.Tensor:
    """J = mean_i cos(z_a^i, z_b^i)/τ ≤ 1/τ, with equality iff every pair is positively aligned."""
    _check_embeddings(z_a, z_b)
    tau = _check_tau(tau)
    return torch.nn.functional.cosine_similarity(z_a, z_b, dim=1).mean() / tau


def cosine_dv(z_a: torch.Tensor, z_b: torch.Tensor, tau: float) -> torch.Tensor:
    """Batch DV with the cosine critic: J − log mean_{i≠j} exp(cos(z_a^i, z_b^j)/τ), in nats.

    A constant encoder gives every score 1/τ, so J = M = 1/τ and DV = 0.
    """
    _check_embeddings(z_a, z_b)
    tau = _check_tau(tau)
    a = torch.nn.functional.normalize(z_a, dim=1)
    b = torch.nn.functional.normalize(z_b, dim=1)
    s = a @ b.T / tau
    n = s.shape[0]
    off = s[~torch.eye(n, dtype=torch.bool, device=s.device)]
    return torch.diagonal(s).mean() - (torch.logsumexp(off, 0) - np.log(off.numel()))


def normalized_embedding_std(z: torch.Tensor) -> float:
    """Std over the batch of l2-normalized embeddings, mean over dimensions (0 when collapsed)."""
    return float(torch.nn.functional.normalize(z, dim=1).std(0).mean())


@dataclass(frozen=True)
class CollapseConfig:
    """Gradient ascent for a shared affine encoder z = A x + c on the cosine joint term alone, or
    (``with_marginal=True``, the contrast) on the full batch DV with the cosine critic."""

    dim_out: int = 8
    steps: int = 300
    lr: float = 0.05
    tau: float = 0.1
    batch: int = 256
    with_marginal: bool = False


@dataclass(frozen=True)
class CollapseTrace:
    """Per-step joint term J (nats), batch cosine DV (nats) and normalized embedding std."""

    joint: list[float]
    dv: list[float]
    embed_std: list[float]
    tau: float


def joint_term_only_ascent(
    views: GaussianViews, config: CollapseConfig, seed: int
) -> CollapseTrace:
    """Maximize the joint term alone (no marginal term) with Adam on fresh Gaussian batches.

    Both views must have the same dimension (one shared encoder). The optimum 1/τ is reached only
    by aligning all pairs, which an encoder can do only by discarding the input: it collapses
    (embedding std → 0) and the DV of the cosine critic → 0. With ``config.with_marginal`` the
    objective is the full cosine DV instead, whose marginal term penalizes the collapse.
    """
    if views.dim_a != views.dim_b:
        raise ValueError(
            f"a shared encoder needs equal view dimensions, got {views.dim_a} and {views.dim_b}"
        )
    g = torch.Generator().manual_seed(seed)
    chol = torch.linalg.cholesky(
        torch.tensor(views.cov) + 1e-12 * torch.eye(views.cov.shape[0], dtype=torch.float64)
    )
    d = views.dim_a
    weight = (torch.randn(config.dim_out, d, generator=g, dtype=torch.float64) / d**0.5)
    bias = 0.1 * torch.randn(config.dim_out, generator=g, dtype=torch.float64)
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    opt = torch.optim.Adam([weight, bias], lr=config.lr)
    joint, dv, spread = [], [], []
    for _ in range(config.steps):
        x = torch.randn(config.batch, views.cov.shape[0], generator=g, dtype=torch.float64)
        x = x @ chol.T
        z_a, z_b = x[:, :d] @ weight.T + bias, x[:, d:] @ weight.T + bias
        j = cosine_joint_term(z_a, z_b, config.tau)
        objective = cosine_dv(z_a, z_b, config.tau) if config.with_marginal else j
        opt.zero_grad()
        (-objective).backward()
        opt.step()
        with torch.no_grad():
            joint.append(float(j))
            dv.append(float(cosine_dv(z_a, z_b, config.tau)))
            spread.append(normalized_embedding_std(z_a))
    return CollapseTrace(joint=joint, dv=dv, embed_std=spread, tau=config.tau)
