"""Training monitors on held-out pairs of embeddings: MI estimates, collapse and cluster structure.

For any training loop, :func:`monitor` is the one call: two views' embeddings of the same held-out
inputs (torch tensors, numpy arrays or nested sequences, [N, d]; d is read from them) give

    >>> from paradigms.measurement.monitors import monitor
    >>> metrics = monitor(z_a, z_b, labels=y)      # dict of floats, plus "collapsed" (bool)

``mi_cosdv``, ``mi_infonce``, ``mi_jsd`` (nats, a fixed cosine critic, :func:`mi_estimates`),
``embed_std``, ``effective_rank`` (RankMe), ``embedding_dim``, ``collapsed``
(:func:`is_collapsed`) and, with labels, ``cluster_separation``. With ``z_b=None`` only the
collapse read-outs of ``z_a``. ``paradigms.measurement.metric_logs`` writes these to CSV or
TensorBoard and ``paradigms.measurement.lightning_monitor`` runs them from a PyTorch Lightning
callback.

All functions run without gradients and return Python floats (or a dict of them). MI values are in
nats. The metric names are the training-metrics contract of DESIGN.md §5: ``mi_cosdv``,
``mi_infonce``, ``mi_jsd``, ``embed_std``, ``effective_rank`` (and ``cluster_separation``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from estimators import bounds

# Collapse rule (see is_collapsed): thresholds relative to the healthy values.
COLLAPSE_STD_FRACTION = 0.1
COLLAPSE_RANK_MAX = 2.5
RANKME_EPS = 1e-7


def _check_embeddings(z: object, name: str, min_rows: int = 2) -> torch.Tensor:
    """Validate a batch [N, d] of finite embeddings; return it detached in float32/float64."""
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(z).__name__}")
    if not z.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {z.dtype}")
    if z.ndim != 2 or z.shape[1] < 1:
        raise ValueError(f"{name} must be a batch of embeddings [N, d], got shape {tuple(z.shape)}")
    if z.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got N = {z.shape[0]}")
    z = z.detach()
    if z.dtype in (torch.float16, torch.bfloat16):
        z = z.float()
    if not bool(torch.isfinite(z).all()):
        raise ValueError(f"{name} contains NaN or infinite values; expected finite embeddings")
    return z


def _check_pair(z_a: object, z_b: object) -> tuple[torch.Tensor, torch.Tensor]:
    a = _check_embeddings(z_a, "z_a")
    b = _check_embeddings(z_b, "z_b")
    if a.shape != b.shape:
        raise ValueError(
            f"z_a and z_b must have equal shapes [N, d], got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return a, b


def _offset_jsd(scores: torch.Tensor) -> float:
    """max_b [log 4 + jsd(S − b)] over a scalar offset b.

    g(b) = log 4 + jsd(S − b) is concave in b (jsd is a sum of −softplus of affine functions of b),
    with g'(b) = mean_{i≠j} σ(S_ij − b) − mean_i σ(b − S_ii) strictly decreasing, g'(min S) ≥ 0
    and g'(max S) ≤ 0. The root is found in float32 by Newton's method (g'' = −mean σ'(S_ij − b)
    − mean σ'(b − S_ii)) kept inside that shrinking bracket (bisection when a step leaves it), to
    a relative 1e-6; g is then evaluated in float64. An error δb in the root changes g by
    ½ |g''| δb² ≤ δb²/8, far below float32 resolution of g.
    """
    s = scores.float()
    n = s.shape[0]
    diag = torch.diagonal(s)
    n_off = n * (n - 1)
    lo, hi = float(s.min()), float(s.max())
    b = 0.5 * (lo + hi)
    for _ in range(100):
        p_all = torch.sigmoid(s - b)  # its diagonal is removed from the sums below
        p_diag = torch.sigmoid(b - diag)
        slope = float((p_all.sum() - torch.diagonal(p_all).sum()) / n_off - p_diag.mean())
        if slope == 0.0:  # a root to working precision (or both sigmoids underflow: flat g)
            break
        var_all = p_all * (1.0 - p_all)
        curvature = float(
            (var_all.sum() - torch.diagonal(var_all).sum()) / n_off
            + (p_diag * (1.0 - p_diag)).mean()
        )
        if slope > 0:
            lo = b
        else:
            hi = b
        new = b + slope / curvature if curvature > 0 else math.inf
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
        converged = abs(new - b) <= 1e-6 * (1.0 + abs(b))
        b = new
        if converged:
            break
    return math.log(4.0) + float(bounds.jsd(scores.double() - b))


@torch.no_grad()
def mi_estimates(
    z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = 0.1
) -> dict[str, float]:
    """Three MI estimates (nats) with the same fixed critic S_ij = cos(z_a^i, z_b^j)/τ.

    - ``mi_cosdv``: :func:`estimators.bounds.cos_dv`, the DV bound
      mean_i S_ii − log mean_{i≠j} e^{S_ij}; at most 2/τ.
    - ``mi_infonce``: :func:`estimators.bounds.infonce` of S; at most log N.
    - ``mi_jsd``: max_b [log 4 + jsd(S − b)], with jsd the Hjelm et al. objective
      E_joint[−softplus(−T)] − E_marg[softplus(T)] and T = S − b. For every critic T,
      log 4 + jsd(T) ≤ 2·JS(p_joint ‖ p_a p_b) (the f-divergence variational bound with
      f(u) = u log u − (u+1) log((u+1)/2), whose divergence is 2·JS; Nowozin et al. 2016), and
      2·JS ≤ log 4. So ``mi_jsd`` is a lower bound on 2·JS in nats (so at most log 4; below
      0 for an uninformative non-constant critic, as DV), not on I itself; it is the JSD
      analogue of the other two. Unlike DV and InfoNCE, jsd changes when a constant is added
      to the critic, so the one offset b that maximizes it is fitted on the same batch (a
      single concave parameter fitted on N(N−1) marginal and N joint scores, so its in-sample
      optimism is small next to the estimate's sampling error); this keeps the critic's shape
      fixed and makes a constant encoder read exactly 0.

    A constant encoder gives 0 for all three.
    """
    a, b = _check_pair(z_a, z_b)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"temperature must be a real number, got {type(temperature).__name__}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")
    s = bounds.cosine_scores(a, b, temperature)
    return {
        "mi_cosdv": float(bounds.dv(s)),
        "mi_infonce": float(bounds.infonce(s)),
        "mi_jsd": _offset_jsd(s),
    }


@torch.no_grad()
def embed_std(z: torch.Tensor) -> float:
    """Std over the batch of the l2-normalized embeddings, averaged over dimensions.

    (1/d) Σ_k std_i(u_ik) with u_i = z_i / ‖z_i‖ (unbiased std). Healthy isotropic embeddings give
    ≈ 1/√d (a uniform unit vector has Var(u_k) = 1/d); a collapsed encoder gives → 0 (the
    SimSiam collapse diagnostic, Chen & He 2021 §4.1).
    """
    u = F.normalize(_check_embeddings(z, "z"), dim=1)
    return float(u.std(dim=0).mean())


@torch.no_grad()
def effective_rank(z: torch.Tensor) -> float:
    """RankMe (Garrido et al. 2023, Eq. 1): exp(−Σ_k p_k log p_k), p_k = σ_k / ‖σ‖₁ + ε.

    σ are the singular values of the (uncentred) embedding matrix [N, d], ε = 1e-7 as in the paper.
    Between ≈ 1 (all embeddings on one line) and min(N, d); exactly r for r equal non-zero singular
    values (up to the ε terms, (min(N, d) − r)·ε·log(1/ε) ≈ 1.6e-6 per zero singular value).
    An all-zero matrix returns 1.0 (one direction at most).
    """
    x = _check_embeddings(z, "z", min_rows=1).double()
    sv = torch.linalg.svdvals(x)
    total = sv.sum()
    if float(total) == 0.0:
        return 1.0
    p = sv / total + RANKME_EPS
    return float(torch.exp(-(p * torch.log(p)).sum()))


@torch.no_grad()
def cluster_separation(z: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean silhouette coefficient (Rousseeuw 1987) with the cosine distance 1 − cos(z_i, z_j).

    For sample i in class c: a_i = mean distance to the other members of c, b_i = the smallest
    mean distance to the members of another class, s_i = (b_i − a_i)/max(a_i, b_i) (0 when the
    class has one member or a_i = b_i = 0), and the result is mean_i s_i ∈ [−1, 1]: ≈ 1 for tight,
    well-separated classes, ≈ 0 for no class structure (or a collapsed encoder), < 0 when samples
    sit closer to another class. Same convention as ``sklearn.metrics.silhouette_score(metric=
    "cosine")``. Needs 2 ≤ #classes ≤ N − 1; memory O(N²).
    """
    x = _check_embeddings(z, "z").double()
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    if labels.ndim != 1 or labels.shape[0] != x.shape[0]:
        raise ValueError(
            f"labels must be a vector [N] with N = {x.shape[0]} (one per embedding), "
            f"got shape {tuple(labels.shape)}"
        )
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor, got dtype {labels.dtype}")
    _, codes = torch.unique(labels.to(x.device), return_inverse=True)
    k = int(codes.max()) + 1
    n = x.shape[0]
    if not (2 <= k <= n - 1):
        raise ValueError(
            f"silhouette needs 2 <= number of classes <= N - 1, got {k} classes, N = {n}"
        )
    u = F.normalize(x, dim=1)
    dist = (1.0 - u @ u.T).clamp_min(0.0)
    dist.fill_diagonal_(0.0)
    onehot = F.one_hot(codes, k).double()
    counts = onehot.sum(dim=0)
    sums = dist @ onehot  # [N, k]: summed distance from i to each class
    own = onehot.bool()
    own_count = counts[codes] - 1.0
    a = sums[own] / own_count.clamp_min(1.0)
    means_other = (sums / counts).masked_fill(own, math.inf)
    b = means_other.min(dim=1).values
    denom = torch.maximum(a, b)
    s = torch.where(denom > 0, (b - a) / torch.where(denom > 0, denom, 1.0), 0.0)
    s = torch.where(own_count > 0, s, 0.0)
    return float(s.mean())


def is_collapsed(embed_std: float, effective_rank: float, dim: int) -> bool:
    """Collapse rule: embed_std < 0.1/√dim, or effective_rank < min(2.5, dim − 0.5).

    - Complete collapse (all embeddings at one point) sends ``embed_std`` → 0 while healthy
      isotropic embeddings sit at ≈ 1/√dim. A threshold one tenth of that leaves room for
      legitimate structure: a clean two-cluster encoder with clusters 30° apart has
      embed_std ≈ 0.2/√dim in a generic basis, so a larger fraction would misflag it.
    - Dimensional collapse onto one line (e.g. z_i = c_i·v with mixed signs, where the std is
      not small) or onto two directions gives RankMe ≤ 2 (+≈1e-6 per extra dimension);
      isotropic embeddings of rank r ≥ 3 give RankMe ≈ r (≥ 2.9 for N ≥ 100), so 2.5 separates
      them. When dim ≤ 2 the threshold drops to dim − 0.5, so full-rank embeddings in
      1 or 2 dimensions are not flagged for their dimension alone. (Data with only two classes
      can be encoded on two directions without losing class information; the rank rule flags
      that too, so read ``effective_rank`` and the probe accuracy alongside.)
    """
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be a positive integer (the embedding dimension), got {dim!r}")
    for name, value in (("embed_std", embed_std), ("effective_rank", effective_rank)):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    return bool(
        embed_std < COLLAPSE_STD_FRACTION / math.sqrt(dim)
        or effective_rank < min(COLLAPSE_RANK_MAX, dim - 0.5)
    )


@torch.no_grad()
def collect_metrics(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    labels: torch.Tensor | None = None,
    temperature: float = 0.1,
) -> dict[str, float]:
    """All monitors on one held-out batch of pairs (``z_a``, ``z_b``) from ``method.embed_pair``.

    Keys: ``mi_cosdv``, ``mi_infonce``, ``mi_jsd`` (see :func:`mi_estimates`) of the pair, and
    ``embed_std``, ``effective_rank`` and (when ``labels`` are given) ``cluster_separation`` of
    ``z_b`` alone, the target branch's embedding. For SDMI methods ``z_a`` is the online branch's
    prediction p = q(z) and ``z_b`` the target projector's output z; the collapse diagnostic of
    SimSiam (Chen & He 2021, §4.1, Fig. 2) is the std of z/‖z‖, not of p. A predictor's output is
    a poor collapse read-out: a freshly initialized predictor in eval mode already maps every
    input to nearly one vector (measured: SimSiam at step 0, embed_std(p) ≈ 0.02/√d against
    ≈ 0.5/√d for z), and a target branch that collapses on its own (a gradient M-step on the joint
    term alone) is what decides whether the pair carries information. For JMI methods ``z_a`` and
    ``z_b`` come from the same network, so either view reads the same.
    """
    metrics = mi_estimates(z_a, z_b, temperature)
    metrics["embed_std"] = embed_std(z_b)
    metrics["effective_rank"] = effective_rank(z_b)
    if labels is not None:
        metrics["cluster_separation"] = cluster_separation(z_b, labels)
    return metrics


def _as_embeddings(z: object, name: str) -> torch.Tensor:
    """A torch tensor [N, d] from a tensor, a numpy array or a nested sequence of numbers."""
    if isinstance(z, torch.Tensor):
        return z
    if isinstance(z, np.ndarray) or isinstance(z, Sequence):
        array = np.asarray(z)
        if array.dtype == object or not (
            np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
        ):
            raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64))
    raise TypeError(
        f"{name} must be a torch tensor, a numpy array or a sequence of rows, got "
        f"{type(z).__name__}"
    )


def _as_labels(labels: object, n: int) -> torch.Tensor:
    y = labels if isinstance(labels, torch.Tensor) else torch.as_tensor(np.asarray(labels))
    if y.is_floating_point() or y.dtype == torch.bool:
        raise TypeError(f"labels must be integer class labels, got dtype {y.dtype}")
    if y.shape != (n,):
        raise ValueError(
            f"labels must be a vector of {n} labels (one per row), got shape {tuple(y.shape)}"
        )
    return y


@torch.no_grad()
def monitor(
    z_a: Any,
    z_b: Any = None,
    *,
    labels: Any = None,
    temperature: float = 0.1,
) -> dict[str, float | int | bool]:
    """Every monitor on held-out embeddings, for any training loop (module docstring).

    ``z_a``, ``z_b``: [N, d] embeddings of two views of the same N held-out inputs (row i of each
    is one pair; for SDMI pass the online prediction and the target embedding, as
    :func:`collect_metrics`), as torch tensors (any device, any float dtype), numpy arrays or
    nested sequences; d is read from them. ``labels`` (optional, [N] integers) adds
    ``cluster_separation``. ``z_b=None``: collapse read-outs of ``z_a`` only. Returns floats
    (MI in nats), ``embedding_dim`` (int) and ``collapsed`` (bool, :func:`is_collapsed`).
    """
    a = _check_embeddings(_as_embeddings(z_a, "z_a"), "z_a")
    y = None if labels is None else _as_labels(labels, a.shape[0]).to(a.device)
    if z_b is None:
        metrics: dict[str, float | int | bool] = {
            "embed_std": embed_std(a), "effective_rank": effective_rank(a),
        }  # fmt: skip
        if y is not None:
            metrics["cluster_separation"] = cluster_separation(a, y)
    else:
        b = _check_embeddings(_as_embeddings(z_b, "z_b"), "z_b").to(a.device)
        metrics = dict(collect_metrics(a, b, labels=y, temperature=temperature))
    dim = int(a.shape[1])
    metrics["embedding_dim"] = dim
    metrics["collapsed"] = is_collapsed(
        float(metrics["embed_std"]), float(metrics["effective_rank"]), dim
    )
    return metrics


__all__ = [
    "cluster_separation",
    "collect_metrics",
    "effective_rank",
    "embed_std",
    "is_collapsed",
    "mi_estimates",
    "monitor",
]
