"""Variational MI bounds as pure functions of one critic-score matrix (DESIGN.md §3).

``scores[i, j] = T(z_a^i, z_b^j)``: the diagonal holds samples of the joint p(z_a, z_b), the
off-diagonal entries samples of the product of marginals p(z_a) p(z_b). Every function returns a
0-d tensor in nats, is differentiable, works in log space (logsumexp) and computes in float32 at
least (bf16/fp16 inputs are upcast; float64 stays float64).

Inputs are validated, finiteness included; that check reads a value back to the host (one device
synchronisation per call), so a training loop that checks its losses itself runs the bounds
inside :func:`unchecked`, where only the shape and dtype checks (host-side) remain.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

_VALUE_CHECKS: contextvars.ContextVar[bool] = contextvars.ContextVar("value_checks", default=True)


@contextlib.contextmanager
def unchecked() -> Iterator[None]:
    """Inside this context the bounds skip their finiteness checks (no host reads); a NaN then
    propagates to the result instead of raising, for the caller to detect on the device."""
    token = _VALUE_CHECKS.set(False)
    try:
        yield
    finally:
        _VALUE_CHECKS.reset(token)


def _all_finite(*tensors: torch.Tensor) -> bool:
    """True when every entry is finite, or when checks are off (:func:`unchecked`)."""
    return not _VALUE_CHECKS.get() or all(bool(torch.isfinite(t).all()) for t in tensors)


def _upcast(t: torch.Tensor) -> torch.Tensor:
    """bf16/fp16 -> float32; float32 and float64 unchanged."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def _check_scores(scores: torch.Tensor) -> torch.Tensor:
    """Validate a score matrix and return it in a float dtype of at least 32 bits."""
    if not isinstance(scores, torch.Tensor):
        raise TypeError(f"scores must be a torch.Tensor, got {type(scores).__name__}")
    if not scores.is_floating_point():
        raise TypeError(f"scores must be a floating-point tensor, got dtype {scores.dtype}")
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"scores must be a square [N, N] matrix, got shape {tuple(scores.shape)}")
    if scores.shape[0] < 2:
        raise ValueError(
            f"scores need N >= 2 (joint and marginal samples), got N = {scores.shape[0]}"
        )
    if not _all_finite(scores):
        raise ValueError("scores contain NaN or infinite values; expected finite critic outputs")
    return _upcast(scores)


def _diagonal_mask(scores: torch.Tensor) -> torch.Tensor:
    """Boolean [N, N] mask of the diagonal."""
    return torch.eye(scores.shape[0], dtype=torch.bool, device=scores.device)


def _log_mean_exp_off_diagonal(scores: torch.Tensor) -> torch.Tensor:
    """log mean_{i≠j} exp S_ij; the diagonal is masked with −inf (cheap to differentiate)."""
    n = scores.shape[0]
    masked = scores.masked_fill(_diagonal_mask(scores), -math.inf)
    return torch.logsumexp(masked.flatten(), dim=0) - math.log(n * (n - 1))


def joint_term(scores: torch.Tensor) -> torch.Tensor:
    """J = mean_i S_ii, the batch estimate of E_joint[T]."""
    return torch.diagonal(_check_scores(scores)).mean()


def log_mean_exp_marginal(scores: torch.Tensor) -> torch.Tensor:
    """M = log mean_{i≠j} exp S_ij, the batch estimate of log E_{p(a)p(b)}[e^T]."""
    return _log_mean_exp_off_diagonal(_check_scores(scores))


def dv(scores: torch.Tensor) -> torch.Tensor:
    """Donsker–Varadhan: mean(diag S) − log mean_{i≠j} exp S_ij."""
    s = _check_scores(scores)
    return joint_term(s) - log_mean_exp_marginal(s)


def nwj(scores: torch.Tensor) -> torch.Tensor:
    """Nguyen–Wainwright–Jordan (f-divergence) bound: mean(diag S) − e^{-1} mean_{i≠j} exp S_ij.

    Computed as exp(M − 1) with M from logsumexp; the value is −inf when that overflows the float
    range (marginal scores above ≈ 88 in float32, ≈ 709 in float64), which is the true value there
    to working precision.
    """
    s = _check_scores(scores)
    return joint_term(s) - torch.exp(log_mean_exp_marginal(s) - 1.0)


def infonce(scores: torch.Tensor) -> torch.Tensor:
    """InfoNCE (van den Oord et al. 2018): mean_i [S_ii − log (1/N) Σ_j exp S_ij] ≤ log N."""
    s = _check_scores(scores)
    n = s.shape[0]
    return (torch.diagonal(s) - torch.logsumexp(s, dim=1)).mean() + math.log(n)


def jsd(scores: torch.Tensor) -> torch.Tensor:
    """Jensen–Shannon lower-bound objective (Hjelm et al. 2019):
    E_joint[−softplus(−S)] − E_marg[softplus(S)].

    This is the training objective of the JSD estimator, not an MI value in nats; read MI out with
    :func:`nwj` on held-out data (Poole et al. 2019), whose optimal critic is then JSD's plus one.
    """
    s = _check_scores(scores)
    n = s.shape[0]
    marginal = F.softplus(s).masked_fill(_diagonal_mask(s), 0.0).sum() / (n * (n - 1))
    return (-F.softplus(-torch.diagonal(s))).mean() - marginal


def smile(scores: torch.Tensor, clip: float = 5.0) -> torch.Tensor:
    """SMILE (Song & Ermon 2020): DV with the marginal scores clipped to [−clip, clip].

    mean(diag S) − log mean_{i≠j} exp clamp(S_ij, −clip, clip). Lower variance than DV at the
    price of a bias that vanishes as clip → ∞.
    """
    if isinstance(clip, bool) or not (
        isinstance(clip, (int, float)) and clip > 0 and math.isfinite(clip)
    ):
        raise ValueError(f"clip must be a positive finite number, got {clip!r}")
    s = _check_scores(scores)
    return torch.diagonal(s).mean() - _log_mean_exp_off_diagonal(s.clamp(-clip, clip))


@dataclass
class MineState:
    """Moving average of the marginal partition E_marg[e^T], kept in log space (MINE's bias fix).

    ``log_avg`` is None until the first batch; ``rate`` is the weight of the newest batch.
    """

    rate: float = 0.01
    log_avg: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if not (0.0 < self.rate <= 1.0):
            raise ValueError(f"MineState.rate must be in (0, 1], got {self.rate!r}")


def mine(scores: torch.Tensor, state: MineState | None = None) -> torch.Tensor:
    """MINE (Belghazi et al. 2018): the DV value with a bias-corrected gradient.

    The forward value equals :func:`dv`. The gradient of the marginal term uses the moving average
    ā of E_marg[e^T] in the denominator, ∇M ≈ ∇E_batch[e^T] / ā, instead of the batch mean, which
    removes the bias of the plain DV gradient. ``state`` is updated in place; without a state this
    is plain DV. (:func:`mine_step` is the same without the state object.)
    """
    s = _check_scores(scores)
    if state is None:
        return dv(s)
    first = state.log_avg is None
    log_avg = torch.zeros((), dtype=s.dtype, device=s.device) if first else state.log_avg.to(s)
    value, state.log_avg = mine_step(s, log_avg, state.rate, first=first)
    return value


def mine_step(
    scores: torch.Tensor, log_avg: torch.Tensor, rate: float, *, first: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """One MINE step as a pure function (usable under ``torch.func.vmap``): the value with
    MINE's gradient (:func:`mine`) and the updated log moving average
    log ā' = log((1 − rate) ā + rate · E_batch[e^T]) (the batch's own value when ``first``)."""
    s = _check_scores(scores)
    if not (0.0 < rate <= 1.0):
        raise ValueError(f"rate must be in (0, 1], got {rate!r}")
    lme = log_mean_exp_marginal(s)
    batch = lme.detach()
    if first or rate == 1.0:
        new = batch
    else:
        new = torch.logaddexp(log_avg + math.log1p(-rate), batch + math.log(rate))
    ratio = torch.exp(lme - new)  # E_batch[e^T] / ā, gradient ∇E_batch[e^T] / ā
    return torch.diagonal(s).mean() - batch - (ratio - ratio.detach()), new


def cosine_scores(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """S_ij = cos(z_a^i, z_b^j) / temperature, the fixed critic of cos-DV (a zero row scores 0)."""
    if not (isinstance(z_a, torch.Tensor) and isinstance(z_b, torch.Tensor)):
        raise TypeError("z_a and z_b must be torch tensors")
    if not (z_a.is_floating_point() and z_b.is_floating_point()):
        raise TypeError(f"z_a and z_b must be floating-point, got {z_a.dtype} and {z_b.dtype}")
    if z_a.ndim != 2 or z_b.ndim != 2 or z_a.shape != z_b.shape:
        raise ValueError(
            "z_a and z_b must be [N, d] with equal shapes, "
            f"got {tuple(z_a.shape)} and {tuple(z_b.shape)}"
        )
    if isinstance(temperature, bool) or not (
        isinstance(temperature, (int, float)) and 0 < temperature < math.inf
    ):
        raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")
    if not _all_finite(z_a, z_b):
        raise ValueError("z_a or z_b contain NaN or infinite values; expected finite embeddings")
    dtype = torch.promote_types(_upcast(z_a).dtype, _upcast(z_b).dtype)
    a = F.normalize(z_a.to(dtype), dim=1)
    b = F.normalize(z_b.to(dtype), dim=1)
    return a @ b.T / temperature


def cos_dv(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """cos-DV: the DV bound with the fixed critic T = cos(z_a, z_b)/τ (tracks MI in training).

    Bounded above by 2/τ; a collapsed (constant) encoder gives exactly 0.
    """
    return dv(cosine_scores(z_a, z_b, temperature))


__all__ = [
    "MineState",
    "cos_dv",
    "cosine_scores",
    "dv",
    "infonce",
    "joint_term",
    "jsd",
    "log_mean_exp_marginal",
    "mine",
    "mine_step",
    "nwj",
    "smile",
    "unchecked",
]
