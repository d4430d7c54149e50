"""Surrogates of the DV marginal term log E_{p(a)p(b)}[e^T] computed from samples (DESIGN.md §3).

The Taylor-DV objective defined here is the one JMI methods train with (``paradigms``) and the one
the approximation-error report analyses: one formula, one place.
"""

from __future__ import annotations

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
        raise ValueError(f"z_a and z_b must have equal shapes, got {tuple(z_a.shape)} and {tuple(z_b.shape)}")
    if not (isinstance(scale, (int, float)) and scale > 0):
        raise ValueError(f"scale must be > 0, got {scale!r}")
    a, b = standardize(z_a), standardize(z_b)
    n = a.shape[0]
    c_ab = a.T @ b / n
    c_aa = a.T @ a / n
    c_bb = b.T @ b / n
    return scale * torch.diagonal(c_ab).sum() - 0.5 * scale**2 * (c_aa * c_bb).sum()
