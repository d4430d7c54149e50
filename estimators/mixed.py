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
n. The whole sample's estimate and the blocks' share one neighbour search per label and one sort
of the continuous side (:func:`_m_kdtree`), as KSG's do. Unlike ``mutual_info_classif`` the
estimate is not clipped at 0 (clipping biases it upwards at independence).
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
    BlockTrees,
    SortedColumn,
    block_partitions,
    check_blocks,
    check_k,
    group_eps,
    in_chunks,
    small_ids,
    standardize_with_jitter,
    subsampling_half_width,
)
from estimators.result import MIResult
from estimators.validation import check_pair, resolve_device

SIDES = ("x", "y")


def label_codes(d: np.ndarray) -> np.ndarray:
    """Integer codes 0..L−1 of the rows of the discrete side [n, d_D] (a row is one label)."""
    return np.unique(d, axis=0, return_inverse=True)[1].reshape(-1)


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


def _groups(codes: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Who enters which estimate, and with which k: ``groups`` [1 + R, n] (row 0 the whole
    sample, all 0; row 1 + r each sample's block of partition r; −1 where the sample's label is
    seen fewer than twice in its group, or it is left out), N_i [1 + R, n] the samples of its
    label in its group (0 for −1) and k_i = min(k, N_i − 1) (1 for −1)."""
    n = codes.size
    groups = np.vstack([np.zeros((1, n), dtype=labels.dtype), labels])
    key = np.where(groups >= 0, 1 + groups * (int(codes.max()) + 1) + codes, 0)  # 0: left out
    sizes = np.where(groups >= 0, np.stack([np.bincount(row)[row] for row in key]), 0)
    groups = np.where(sizes > 1, groups, -1)
    return groups, sizes, np.maximum(np.minimum(k, sizes - 1), 1)


def _m_kdtree(c: np.ndarray, codes: np.ndarray, kk: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """m_i [1 + R, n] with k-d trees: per label one tree, whose nearest candidates give the
    k_i-th same-label neighbour in every group (:func:`estimators.knn.group_eps`); then the
    samples of any label in the group strictly within it, from one sort of a single column or a
    tree per block; in threads over chunks of the samples (:func:`estimators.knn.in_chunks`)."""
    blocks = groups[1:]
    side = SortedColumn(c[:, 0], blocks) if c.shape[1] == 1 else BlockTrees(c, blocks)
    small = small_ids(blocks)
    trees = {}
    for code in np.unique(codes):
        members = np.flatnonzero(codes == code)
        trees[code] = (members, cKDTree(c[members], balanced_tree=False))

    def chunk(points: np.ndarray) -> np.ndarray:
        eps = np.empty((len(groups), points.size))
        for code, (members, tree) in trees.items():
            sel = np.flatnonzero(codes[points] == code)
            if sel.size:
                eps[:, sel] = group_eps(tree, points[sel], kk[:, points[sel]], small, members)
        return side.counts(points, eps) + 1  # + the sample itself

    m = np.empty(groups.shape, dtype=np.int64)
    for points, counts in in_chunks(chunk, np.argsort(c[:, 0], kind="stable")):
        m[:, points] = counts
    return m


def _m_torch(c: np.ndarray, codes: np.ndarray, kk: np.ndarray, groups: np.ndarray,
             device: torch.device) -> np.ndarray:  # fmt: skip
    """m_i [1 + R, n] by blocked max-norm distance matrices on ``device``, one group at a time."""
    m = np.ones(groups.shape, dtype=np.int64)
    for row, group in enumerate(groups):
        for g in np.unique(group[group >= 0]):
            idx = np.flatnonzero(group == g)
            m[row, idx] = _terms_torch(c[idx], codes[idx], kk[row, idx], device)
    return m


def _estimates(
    c: np.ndarray, codes: np.ndarray, k: int, device: torch.device, labels: np.ndarray
) -> tuple[float, np.ndarray]:
    """Ross's estimate on the whole sample and on every block of every partition in ``labels``
    [R, n], each over its samples whose label it holds at least twice (the caller has dropped the
    labels seen once in the whole sample)."""
    groups, sizes, kk = _groups(codes, labels, k)
    if device.type == "cpu" and c.shape[1] <= KDTREE_MAX_DIM:
        m = _m_kdtree(c, codes, kk, groups)
    else:
        m = _m_torch(c, codes, kk, groups, device)
    terms = np.where(groups >= 0, digamma(kk) - digamma(np.maximum(sizes, 1)) - digamma(m), 0.0)
    block_mi = np.empty((len(labels), int(labels.max()) + 1))
    for r, b in np.ndindex(block_mi.shape):
        inside = groups[1 + r] == b
        block_mi[r, b] = digamma(inside.sum()) + terms[1 + r, inside].mean()
    return float(digamma(codes.size) + terms[0].mean()), block_mi


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
    seen_twice = counts[codes] > 1  # a label seen once has no neighbour of its own: dropped
    mi, block_mi = _estimates(c[seen_twice], codes[seen_twice], k, dev, labels[:, seen_twice])
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
