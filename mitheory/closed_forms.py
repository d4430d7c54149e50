"""Closed forms used as ground truth (DESIGN.md §3). All values in nats."""

from __future__ import annotations

import numpy as np


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


def gaussian_mi(cov: np.ndarray, dim_x: int) -> float:
    """I(X;Y) = ½ (log det Σ_x + log det Σ_y − log det Σ) for jointly Gaussian (X, Y).

    ``cov`` is the joint covariance with X the first ``dim_x`` coordinates and Y the rest.
    """
    cov = _check_covariance(cov)
    d = cov.shape[0]
    if not (isinstance(dim_x, (int, np.integer)) and 0 < dim_x < d):
        raise ValueError(f"dim_x must be an integer in [1, {d - 1}], got {dim_x!r}")
    ld = _logdet_pd(cov, "cov")
    ldx = _logdet_pd(cov[:dim_x, :dim_x], "cov[:dim_x, :dim_x]")
    ldy = _logdet_pd(cov[dim_x:, dim_x:], "cov[dim_x:, dim_x:]")
    return 0.5 * (ldx + ldy - ld)
