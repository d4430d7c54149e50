"""KSG for one discrete and one continuous variable (Ross 2014), in nats.

Reference: B. C. Ross, "Mutual information between discrete and continuous data sets", PLoS ONE
9(2): e87357 (2014) — the estimator behind scikit-learn's ``mutual_info_classif``.

Let D be the discrete side (a class label; a row of several discrete columns is one label) and
C the continuous one, of dimension d. For sample i with label d_i, let N_i be the number of
samples with that label, k_i = min(k, N_i − 1), ε_i the max-norm distance from c_i to its k_i-th
nearest neighbour *among the samples of its label*, and m_i the number of samples of *any* label
with ‖c_j − c_i‖_∞ < ε_i, the sample itself included. Then

    Î = ψ(n) + ⟨ψ(k_i)⟩ − ⟨ψ(N_i)⟩ − ⟨ψ(m_i)⟩,

averages over the n samples whose label occurs at least twice (a label seen once has no
neighbour of its own; those samples are dropped, as scikit-learn does, and counted in
``diagnostics["dropped_singletons"]``). I(C; D) ≤ H(D) ≤ log(#labels) bounds the answer.

The continuous side is standardised and tie-broken with jitter, and the interval comes from the
same block subsampling as KSG (``estimators.knn``): it covers the estimator's expectation at this
n. Unlike ``mutual_info_classif`` the estimate is not clipped at 0 (clipping biases it upwards at
independence).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from scipy.spatial import cKDTree
from scipy.special import digamma

from estimators.flags import ksg_flags
from estimators.knn import (
    _CHUNK_BYTES,
    KDTREE_MAX_DIM,
    block_partitions,
    check_blocks,
    check_k,
    standardize_with_jitter,
    strict_neighbour_counts,
    subsampling_half_width,
)
from estimators.result import MIResult
from estimators.validation import check_pair, resolve_device

SIDES = ("x", "y")


def label_codes(d: np.ndarray) -> np.ndarray:
    """Integer codes 0..L−1 of the rows of the discrete side [n, d_D] (a row is one label)."""
    return np.unique(d, axis=0, return_inverse=True)[1].reshape(-1)


def _radii_kdtree(c: np.ndarray, codes: np.ndarray, kk: np.ndarray) -> np.ndarray:
    """ε_i: max-norm distance to the kk_i-th neighbour within the sample's own label."""
    eps = np.empty(c.shape[0])
    for code in np.unique(codes):
        idx = np.flatnonzero(codes == code)
        k = int(kk[idx[0]])
        dist, _ = cKDTree(c[idx]).query(c[idx], k=k + 1, p=np.inf, workers=-1)
        eps[idx] = dist[:, k]
    return eps


def _terms_torch(
    c: np.ndarray, codes: np.ndarray, kk: np.ndarray, device: torch.device
) -> np.ndarray:
    """m_i by blocked max-norm distance matrices on ``device`` (float64)."""
    n = c.shape[0]
    ct = torch.as_tensor(c, dtype=torch.float64, device=device)
    lab = torch.as_tensor(codes, device=device)
    kt = torch.as_tensor(kk, device=device)
    k_max = int(kk.max())
    chunk = max(1, min(n, _CHUNK_BYTES["cuda" if device.type == "cuda" else "cpu"] // (3 * 8 * n)))
    m = torch.empty(n, dtype=torch.int64, device=device)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        rows = torch.arange(stop - start, device=device)
        dist = torch.cdist(ct[start:stop], ct, p=math.inf)
        dist[rows, rows + start] = math.inf  # a sample is not its own neighbour
        own = torch.where(lab[start:stop, None] == lab[None, :], dist, math.inf)
        nearest = torch.topk(own, k_max, dim=1, largest=False, sorted=True).values
        eps = nearest.gather(1, (kt[start:stop] - 1).unsqueeze(1))
        m[start:stop] = (dist < eps).sum(dim=1) + 1  # + the sample itself
    return m.cpu().numpy()


def _mixed_ksg(c: np.ndarray, codes: np.ndarray, k: int, device: torch.device) -> float:
    """Ross's estimate on samples whose label occurs at least twice (the caller ensures it)."""
    _, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    big = counts[inverse]
    keep = big > 1
    c, codes, big = c[keep], codes[keep], big[keep]
    kk = np.minimum(k, big - 1)
    if device.type == "cpu" and c.shape[1] <= KDTREE_MAX_DIM:
        # m_i = #{j : ‖c_j − c_i‖_∞ < ε_i}, the sample itself included (only it when ε_i = 0)
        m = strict_neighbour_counts(c, _radii_kdtree(c, codes, kk)) + 1
    else:
        m = _terms_torch(c, codes, kk, device)
    return float(digamma(c.shape[0]) + np.mean(digamma(kk) - digamma(big) - digamma(m)))


def mixed_ksg(
    x: object,
    y: object,
    *,
    discrete: str,
    k: int = 3,
    seed: int = 0,
    device: str | torch.device = "cpu",
    jitter: float = 1e-10,
    blocks: int = 2,
    repeats: int = 5,
) -> MIResult:
    """Ross's mixed KSG estimate of I(X; Y) in nats when one side is discrete (a label).

    Args:
        x: samples of X, shape [n] or [n, d_x].
        y: samples of Y, shape [n] or [n, d_y].
        discrete: "x" or "y", the discrete side (its rows are labels; any numbers).
        k: neighbours within a label (``mutual_info_classif`` uses 3).
        seed, device, jitter, blocks, repeats: as for :func:`estimators.knn.ksg`.

    Returns:
        ``MIResult`` with ``method="ksg"`` and ``diagnostics["discrete"]`` naming the side.

    Raises:
        ValueError: ``discrete`` not "x"/"y"; no label seen twice; too few samples.
    """
    start_time = time.perf_counter()
    if discrete not in SIDES:
        raise ValueError(f"discrete must be 'x' or 'y' (the side holding labels), got {discrete!r}")
    xa, ya = check_pair(x, y)
    cont, disc = (ya, xa) if discrete == "x" else (xa, ya)
    codes = label_codes(disc)
    n = cont.shape[0]
    k = check_k(k, n)
    dev = resolve_device(device)
    block_size = check_blocks(blocks, repeats, jitter, k, n)
    counts = np.bincount(codes)
    singletons = int(np.sum(counts == 1))
    if n - singletons < 2 * blocks * 2:
        raise ValueError(
            f"discrete={discrete!r}: only {n - singletons} of n = {n} samples have a label seen "
            "at least twice; is this side really a label? (each label needs ≥ 2 samples)"
        )
    rng = np.random.default_rng(seed)
    c = standardize_with_jitter(cont, jitter, rng)
    labels = block_partitions(rng, n, blocks, repeats)
    mi = _mixed_ksg(c, codes, k, dev)
    block_mi = np.empty((labels.shape[0], blocks))
    for r, b in np.ndindex(block_mi.shape):
        idx = np.flatnonzero(labels[r] == b)
        block_mi[r, b] = _mixed_ksg(c[idx], codes[idx], k, dev)
    se, half = subsampling_half_width(block_mi, block_size, n)
    return MIResult(
        mi=mi,
        ci=(mi - half, mi + half),
        method="ksg",
        n=n,
        seconds=time.perf_counter() - start_time,
        diagnostics={"k": k, "se": se, "discrete": discrete, "labels": int(counts.size),
                     "dropped_singletons": singletons, "entropy_bound": _entropy(counts),
                     "blocks": blocks, "repeats": repeats, "block_size": block_size,
                     "block_mi": block_mi.tolist(), "flags": ksg_flags(cont.shape[1])},
    )  # fmt: skip


def _entropy(counts: np.ndarray) -> float:
    """Plug-in entropy of the labels, nats: an upper bound on I(C; D)."""
    p = counts[counts > 0] / counts.sum()
    return float(-np.sum(p * np.log(p)))
