"""Kraskov–Stögbauer–Grassberger (KSG) k-nearest-neighbour MI estimator, in nats.

Reference: A. Kraskov, H. Stögbauer, P. Grassberger, "Estimating mutual information",
Phys. Rev. E 69, 066138 (2004), estimator (8) ("estimator 1").

For sample i let ε_i be the max-norm distance from z_i = (x_i, y_i) to its k-th nearest neighbour
in the joint space, where ‖z − z'‖ = max(‖x − x'‖_∞, ‖y − y'‖_∞). Let n_x(i) be the number of
j ≠ i with ‖x_j − x_i‖_∞ < ε_i (strictly) and n_y(i) likewise. Then

    Î = ψ(k) + ψ(n) − (1/n) Σ_i [ψ(n_x(i) + 1) + ψ(n_y(i) + 1)].

Ties. The derivation assumes a continuous joint density, so no two distances coincide. Real data
can hold duplicates (rounded or discrete values); then ε_i can be 0 and the strict counts collapse
to 0, which sends Î towards ψ(n) ≈ log n. We therefore (1) standardise every column to unit
standard deviation — the max-norm then weighs the columns alike; MI is invariant to this — and
(2) add seeded Gaussian jitter of standard deviation ``jitter`` (default 1e-10, i.e. 1e-10 of each
column's scale). Jitter far below the data's resolution breaks exact ties at random, which is the
continuous limit of the tied data, and moves untied distances by ~1e-10 (no effect on the
estimate). The counts use the *same* floating-point distance values that defined ε_i, so "strictly
less" is exact: the k-th neighbour itself and any point tied with it are never counted.

Confidence interval. The per-sample terms share neighbourhoods, so their naive standard error is
not the standard error of Î. We use subsampling: a seeded permutation splits the sample into B
disjoint blocks of m = n // B points and the estimator is recomputed on every block; this is
repeated for R independent partitions. For a √n-consistent estimator Var(Î_n) ≈ (m / n) Var(Î_m),
so SE² = (m / n) · mean over partitions of the sample variance of the B block estimates, and the
95 % interval is Î ± t_{R(B−1), 0.975} · SE. Defaults B = 2 (halves), R = 5: at I = 0 the KSG
variance shrinks more slowly than 1/n, so small blocks (B = 10) understate the SE by ≈ 13 %, while
halves are within ≈ 5 % (150 seeds of 1-D Gaussians at n = 1000, I = 0 and 0.22 nats: coverage of
E[Î] 0.95–0.97). In 3 + 3 dimensions (I = 0.43) halves still understate the SE by ≈ 7 % (coverage
0.91; B = 10 gives 0.87); see ``tests/test_knn.py``. With k-d trees the whole sample and the
10 halves cost 3–4× a point estimate alone (n = 5000, 1 + 1 to 3 + 3 dims); the brute-force path
computes the distances once and finds every block's neighbours among each point's nearest
candidates (:func:`_neighbour_counts_torch`), so the interval costs little more than the point
estimate. The interval covers the *expectation* of Î at this n; the finite-sample bias of KSG
(large in high dimensions or at high MI) is not sampling variability and is not in the interval.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import torch
from scipy.spatial import cKDTree
from scipy.special import digamma
from scipy.stats import t as student_t

from estimators.flags import ksg_flags
from estimators.result import MIResult
from estimators.validation import check_pair, resolve_device

# Joint dimension up to which the CPU path uses a k-d tree; above it, blocked brute force wins.
KDTREE_MAX_DIM = 6
# Bytes one chunk of rows may take in the brute-force path (small chunks stay in cache on CPU).
_CHUNK_BYTES = {"cpu": 128 * 2**20, "cuda": 2 * 2**30}
# Nearest joint neighbours kept per point, among which each block's k-th neighbour is sought.
CANDIDATES = 24
CANDIDATES_KDTREE = 12  # the same on the k-d tree path, where each one costs a query step
T = TypeVar("T")
# Threads of the k-d tree path (one chunk of points each), and the fewest points worth splitting.
THREADS = min(8, os.cpu_count() or 1)
PARALLEL_MIN_POINTS = 2000


def check_k(k: object, n: int) -> int:
    """``k`` as an int after checking 1 ≤ k < n."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if k >= n:
        raise ValueError(f"k must be smaller than the number of samples, got k = {k}, n = {n}")
    return int(k)


def check_blocks(blocks: object, repeats: object, jitter: object, k: int, n: int) -> int:
    """Check the interval's settings; return the block size n // blocks (≥ 4k)."""
    if isinstance(blocks, bool) or not isinstance(blocks, (int, np.integer)) or blocks < 2:
        raise ValueError(f"blocks must be an integer ≥ 2, got {blocks!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    if not (isinstance(jitter, (int, float)) and 0 <= jitter < 1e-3):
        raise ValueError(f"jitter must be a number in [0, 1e-3) (relative scale), got {jitter!r}")
    block_size = n // int(blocks)
    if block_size < 4 * k:
        raise ValueError(
            f"KSG with k = {k} and {blocks} blocks for the confidence interval needs at least "
            f"{4 * k * int(blocks)} samples (blocks of ≥ 4k points), got n = {n}"
        )
    return block_size


def standardize_with_jitter(z: np.ndarray, jitter: float, rng: np.random.Generator) -> np.ndarray:
    """Columns to mean 0 and standard deviation 1, plus N(0, jitter²) tie-breaking noise."""
    z = (z - z.mean(axis=0)) / z.std(axis=0)
    return z + jitter * rng.standard_normal(z.shape)


def block_partitions(rng: np.random.Generator, n: int, blocks: int, repeats: int) -> np.ndarray:
    """[repeats, n] block ids: each row a seeded partition into ``blocks`` blocks of n // blocks
    points (−1: left out)."""
    size = n // blocks
    labels = np.full((repeats, n), -1, dtype=np.int64)
    for r in range(repeats):
        order = rng.permutation(n)[: size * blocks]
        labels[r, order] = np.arange(size * blocks) // size
    return labels


def subsampling_half_width(block_mi: np.ndarray, block_size: int, n: int) -> tuple[float, float]:
    """(SE, 95 % half-width) from block estimates [R, B]: SE² = (m / n) · mean_r Var_b(Î_m),
    half-width t_{R(B−1), 0.975} · SE (module docstring)."""
    repeats, blocks = block_mi.shape
    se = float(math.sqrt(np.mean(np.var(block_mi, axis=1, ddof=1)) * block_size / n))
    return se, float(student_t.ppf(0.975, repeats * (blocks - 1))) * se


def strict_runs_1d(
    s: np.ndarray, v: np.ndarray, eps: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Ends [lo, hi) of the runs of sorted values ``s`` with |s_j − v| < ε (strictly), for arrays
    ``v`` and ``eps`` that broadcast to one shape.

    The rounded difference |s_j − v| is monotone in s_j on each side of v, so the set is one run
    of indices; its ends are found by binary search on v ± ε and then moved, by exact comparisons
    of the same float differences a k-d tree computes, until they are the run's ends — the counts
    hi − lo equal the k-d tree's bit for bit. Only ends that moved are checked again.
    """
    v, eps = np.broadcast_arrays(v, eps)
    shape = v.shape
    v, eps = (np.ascontiguousarray(a, dtype=np.float64).ravel() for a in (v, eps))
    padded = np.concatenate([[-np.inf], s, [np.inf]])  # padded[j + 1] = s_j: no bounds checks
    ends = {"lo": np.searchsorted(s, v - eps, "left"), "hi": np.searchsorted(s, v + eps, "right")}
    for name, end in ends.items():
        # padded[out] is the element just outside the run (lo − 1, hi), padded[out ± 1] the one at
        # its edge (lo, hi − 1); the ends move by a few places at most, where v ± ε was rounded
        out, edge_step, active = end + (name == "hi"), 1 if name == "lo" else -1, None
        va, ea = v, eps
        while True:
            s_out, s_edge = padded[out], padded[out + edge_step]
            grow = np.abs(s_out - va) < ea
            # the edge element is out of the run, and on the side of v away from it
            far = (s_edge < va) if name == "lo" else (s_edge > va)
            shrink = ~(np.abs(s_edge - va) < ea) & far
            moved = grow | shrink
            if not moved.any():
                break
            delta = shrink.astype(np.int64) - grow  # lo moves right to shrink, hi left
            step = delta if name == "lo" else -delta
            active = np.flatnonzero(moved) if active is None else active[moved]
            out = out[moved] + step[moved]
            end[active] += step[moved]
            va, ea = v[active], eps[active]
    return ends["lo"].reshape(shape), ends["hi"].reshape(shape)


def strict_counts_1d(v: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """#{j : |v_j − v_i| < ε_i} (self included) for one column, by sorting: O(n log n)
    (:func:`strict_runs_1d`)."""
    lo, hi = strict_runs_1d(np.sort(v), v, eps)
    return hi - lo


def _strict_balls(
    tree: cKDTree, queries: np.ndarray, eps: np.ndarray, workers: int = 1
) -> np.ndarray:
    """For each query (a point of ``tree``) the others strictly within max-norm ε_i: a ball of
    radius nextafter(ε_i, 0) (‖·‖ ≤ nextafter(ε, 0) ⇔ ‖·‖ < ε on floats) minus the query; 0
    where ε_i = 0 (nothing is strictly closer than 0, while r = 0 would count duplicates)."""
    within = tree.query_ball_point(queries, r=np.nextafter(eps, 0.0), p=np.inf,
                                   return_length=True, workers=workers)  # fmt: skip
    count = np.asarray(within, dtype=np.int64) - 1
    count[eps == 0] = 0
    return count


def strict_neighbour_counts(part: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """For every point the others strictly within ε_i in ``part`` (max-norm): a k-d tree
    (:func:`_strict_balls`), or for one column a sort (:func:`strict_counts_1d`)."""
    if part.shape[1] > 1:
        return _strict_balls(cKDTree(part), part, eps, workers=-1)
    count = strict_counts_1d(part[:, 0], eps) - 1  # minus the point itself
    count[eps == 0] = 0
    return count


def _neighbour_counts_kdtree(x: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Return (n_x, n_y) with a k-d tree: ε_i the k-th neighbour's joint distance."""
    z = np.hstack([x, y])
    dist, _ = cKDTree(z).query(z, k=k + 1, p=np.inf, workers=-1)
    eps = dist[:, k]  # column 0 is the point itself
    return strict_neighbour_counts(x, eps), strict_neighbour_counts(y, eps)


class SortedColumn:
    """One column sorted once, with each partition's block membership counted along the sorted
    order: the strict counts of any subset of points, in the whole sample and in their blocks.

    A block's members within ε of v_i are its members inside the whole sample's run [lo, hi)
    (:func:`strict_runs_1d`): prefix[r, b, j] − prefix[r, b, i] counts them, for every block of
    every partition, from one sort."""

    def __init__(self, v: np.ndarray, labels: np.ndarray) -> None:
        self.v, self.labels = v, labels
        order = np.argsort(v, kind="stable")
        self.s = v[order]
        blocks = int(labels.max()) + 1
        member = labels[:, None, order] == np.arange(blocks)[None, :, None]  # [R, B, n]
        self.prefix = np.zeros((len(labels), blocks, v.size + 1), dtype=np.int32)
        np.cumsum(member, axis=2, out=self.prefix[..., 1:])

    def counts(self, points: np.ndarray, eps: np.ndarray) -> np.ndarray:
        """[1 + R, P] others strictly within ``eps`` [1 + R, P] (NaN: left out, count 0)."""
        o = np.argsort(self.v[points], kind="stable")  # sorted keys: faster binary searches
        pts, e = points[o], np.nan_to_num(eps[:, o], nan=0.0)
        lo, hi = strict_runs_1d(self.s, self.v[pts][None, :], e)
        lab = self.labels[:, pts]
        r, b = np.arange(len(lab))[:, None], np.maximum(lab, 0)
        c = np.empty(e.shape, dtype=np.int64)
        c[0] = hi[0] - lo[0]
        c[1:] = np.where(lab >= 0, self.prefix[r, b, hi[1:]] - self.prefix[r, b, lo[1:]], 0)
        c = np.maximum(c - 1, 0)  # minus the point itself
        c[e == 0] = 0  # nothing is strictly closer than 0
        out = np.empty_like(c)
        out[:, o] = c
        return out


class BlockTrees:
    """Several columns: a k-d tree of the whole sample and one of every block of every
    partition, for the strict counts (:func:`_strict_balls`) of any subset of points."""

    def __init__(self, part: np.ndarray, labels: np.ndarray) -> None:
        self.part, self.labels = part, labels
        self.whole = cKDTree(part)
        self.blocks = [[cKDTree(part[lab == b]) for b in range(int(lab.max()) + 1)]
                       for lab in labels]  # fmt: skip

    def counts(self, points: np.ndarray, eps: np.ndarray) -> np.ndarray:
        """[1 + R, P] others strictly within ``eps`` [1 + R, P] (left out: count 0)."""
        q = self.part[points]
        c = np.zeros(eps.shape, dtype=np.int64)
        c[0] = _strict_balls(self.whole, q, eps[0])
        for r, trees in enumerate(self.blocks):
            lab = self.labels[r, points]
            for b, tree in enumerate(trees):
                sel = lab == b
                c[1 + r, sel] = _strict_balls(tree, q[sel], eps[1 + r, sel])
        return c


def small_ids(labels: np.ndarray) -> np.ndarray:
    """Block ids as int8 where they fit: :func:`_kth_in_block` gathers them [R, m, P] at a time."""
    return labels.astype(np.int8) if labels.max() < np.iinfo(np.int8).max else labels


def in_chunks(fn: Callable[[np.ndarray], T], order: np.ndarray) -> list[tuple[np.ndarray, T]]:
    """(chunk, fn(chunk)) for ``THREADS`` consecutive chunks of the index array ``order``, each in
    its own thread (scipy's tree queries and numpy's loops release the GIL); one chunk below
    ``PARALLEL_MIN_POINTS`` points, where threads cost more than they save."""
    chunks = np.array_split(order, 1 if order.size < PARALLEL_MIN_POINTS else THREADS)
    if len(chunks) == 1:
        return [(chunks[0], fn(chunks[0]))]
    with ThreadPoolExecutor(len(chunks)) as pool:
        return list(zip(chunks, pool.map(fn, chunks), strict=True))


def _group_counts_kdtree(
    x: np.ndarray, y: np.ndarray, k: int, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """n_x and n_y [1 + R, n] as :func:`_neighbour_counts_torch` returns them, with k-d trees:
    one joint tree gives every threshold (:func:`group_eps`), then each side counts with one
    sort (one column, :class:`SortedColumn`) or a tree per block (:class:`BlockTrees`).

    The points are cut into chunks (:func:`in_chunks`: one per CPU core) consecutive in the joint
    tree's leaf order, so that each chunk's queries stay close; each chunk finds its thresholds
    and counts them in its own thread, with no step in between."""
    z = np.hstack([x, y])
    n = z.shape[0]
    tree = cKDTree(z, balanced_tree=False)  # median splits cost 2× to build, save nothing here
    small = small_ids(labels)
    sides = [SortedColumn(p[:, 0], labels) if p.shape[1] == 1 else BlockTrees(p, labels)
             for p in (x, y)]  # fmt: skip

    def chunk(points: np.ndarray) -> list[np.ndarray]:
        eps = group_eps(tree, points, k, small)
        return [side.counts(points, eps) for side in sides]

    nx, ny = (np.empty((1 + len(labels), n), dtype=np.int64) for _ in range(2))
    for points, (cx, cy) in in_chunks(chunk, tree.indices):
        nx[:, points], ny[:, points] = cx, cy
    return nx, ny


def _kth_in_block(dist: np.ndarray, idx: np.ndarray, labels: np.ndarray,
                  points: np.ndarray, k: int | np.ndarray) -> np.ndarray:  # fmt: skip
    """[R, len(points)]: the k-th of each point's sorted neighbours (``dist``, ``idx``) that lies
    in its own block of each partition (``k`` one number, or one per partition and point); NaN
    where fewer than k do, or the point is left out."""
    own = labels[:, points]  # [R, P]
    same = labels[:, idx.T] == own[:, None, :]  # [R, m, P]: neighbour j in the point's block
    seen = np.zeros(own.shape, dtype=np.int32)  # block members among the first j neighbours
    pos = np.zeros(own.shape, dtype=np.int32)  # neighbours before the k-th member
    for j in range(same.shape[1]):  # a loop over the few candidates, vectorised over points
        seen += same[:, j]
        pos += seen < k
    found = (pos < same.shape[1]) & (own >= 0)
    value = dist[np.arange(len(points))[None, :], np.minimum(pos, same.shape[1] - 1)]
    return np.where(found, value, np.nan)


def group_eps(
    tree: cKDTree, points: np.ndarray, k: int | np.ndarray, labels: np.ndarray,
    members: np.ndarray | None = None,
) -> np.ndarray:
    """[1 + R, len(points)] k-th neighbour distances of ``points`` (indices into the sample z):
    row 0 among all points of ``tree``, row 1 + r among those in the point's block of partition r
    (``labels`` [R, len(z)]; NaN for points left out). ``tree`` holds ``z[members]`` (sorted
    indices; all of z when None), ``points`` among them; ``k`` is one number or one per row and
    point [1 + R, len(points)].

    A block's k-th neighbour of a point is the k-th of the point's nearest neighbours in the whole
    sample that lie in the block. The ``CANDIDATES_KDTREE`` nearest give it for almost every point
    (fewer than k of 12 in a half: probability 2 %); the others are queried again for 2× as many,
    until found. The distances are the same floats as a query of each block's own tree."""
    size = tree.n
    local = points if members is None else np.searchsorted(members, points)
    k_all = np.broadcast_to(np.asarray(k), (1 + len(labels), points.size))

    def nearest(rows: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        """The m nearest others of the tree's points ``rows``, sorted (the point itself removed),
        as indices into ``z``."""
        dist, idx = tree.query(tree.data[rows], k=m + 1, p=np.inf)
        if np.array_equal(idx[:, 0], rows):  # no exact duplicates: self comes first
            dist, idx = dist[:, 1:], idx[:, 1:]
        else:
            self_at = idx == rows[:, None]
            self_at[~self_at.any(1), -1] = True  # self beyond the ties at distance 0: drop last
            dist = dist[~self_at].reshape(rows.size, m)
            idx = idx[~self_at].reshape(rows.size, m)
        return dist, (idx if members is None else members[idx])

    m = min(size - 1, max(CANDIDATES_KDTREE, int(k_all.max())))
    dist, idx = nearest(local, m)
    eps = np.empty((1 + len(labels), points.size))
    eps[0] = dist[np.arange(points.size), k_all[0] - 1]
    eps[1:] = _kth_in_block(dist, idx, labels, points, k_all[1:])
    inside = labels[:, points] >= 0  # not left out of the partition
    missing = np.isnan(eps[1:]) & inside
    while missing.any():  # a block holds more than k points (check_blocks), so this ends
        m = min(size - 1, 2 * m)
        rows = np.flatnonzero(missing.any(0))
        more = _kth_in_block(*nearest(local[rows], m), labels, points[rows], k_all[1:, rows])
        eps[1:, rows] = np.where(missing[:, rows], more, eps[1:, rows])
        missing = np.isnan(eps[1:]) & inside
    return eps


def _neighbour_counts_torch(
    x: np.ndarray, y: np.ndarray, k: int, device: torch.device, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour counts by blocked max-norm distance matrices on ``device`` (float64).

    ``labels`` [R, n] assigns every point a block id per partition (−1: left out). Returns n_x and
    n_y as arrays of shape [1 + R, n]: row 0 over the whole sample, row 1 + r within each point's
    own block of partition r. Per chunk of rows the distances to all n points are computed once.
    The ``CANDIDATES`` nearest joint neighbours of each row (one partial sort) give its k-th
    neighbour distance ε in the whole sample and, as the k-th of them inside its block, the
    block's ε_r (exactly: a block's k-th neighbour is among them unless fewer than k of them are
    in the block, probability < 2e-5 per point for halves, and then it is found over the whole
    row). A block is a subset of the sample, so every ε_r ≥ ε; the marginal distances below the
    largest of a row's thresholds are gathered once and counted against every threshold — the same
    floating-point comparisons, d < ε, as a full pass per partition, at a fraction of the cost.
    """
    n = x.shape[0]
    xt = torch.as_tensor(x, dtype=torch.float64, device=device)
    yt = torch.as_tensor(y, dtype=torch.float64, device=device)
    lab = torch.as_tensor(labels, device=device)  # [R, n]
    parts = lab.shape[0]
    # group ids [n, 1 + R]: column 0 puts every point in one group (the whole sample)
    groups = torch.cat([torch.zeros(n, 1, dtype=lab.dtype, device=device), lab.T], dim=1)
    cand = min(n - 1, max(CANDIDATES, 4 * k + 8))
    # bytes per distance: dx, dy, joint and temporaries, and the gathered candidates' tables
    budget = _CHUNK_BYTES["cuda" if device.type == "cuda" else "cpu"]
    chunk = max(1, min(n, budget // (n * (40 + 24 * (parts + 1)))))
    nx = torch.zeros((1 + parts, n), dtype=torch.int32, device=device)
    ny = torch.zeros_like(nx)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        c = stop - start
        rows = torch.arange(c, device=device)
        dx = torch.cdist(xt[start:stop], xt, p=math.inf)
        dy = torch.cdist(yt[start:stop], yt, p=math.inf)
        dx[rows, rows + start] = math.inf  # a point is not its own neighbour
        dy[rows, rows + start] = math.inf
        joint = torch.maximum(dx, dy)  # topk is several times faster than kthvalue on CPU
        vals, idx = torch.topk(joint, cand, dim=1, largest=False, sorted=True)
        own = groups[start:stop]  # [c, 1 + R]
        same = groups.index_select(0, idx.view(-1)).view(c, cand, -1) == own[:, None, :]
        hit = (same.cumsum(1) == k) & same  # the k-th candidate in the row's own group
        eps = vals.gather(1, hit.to(torch.uint8).argmax(1))  # [c, 1 + R]
        short = ~hit.any(1) & (own >= 0)
        if bool(short.any()):  # fewer than k candidates in the block: search the whole row
            for i, r in torch.nonzero(short).tolist():
                row = joint[i].masked_fill(groups[:, r] != own[i, r], math.inf)
                eps[i, r] = torch.topk(row, k, largest=False).values[-1]
        eps = torch.where(own >= 0, eps, -math.inf)  # left out of a partition: counts stay 0
        reach = eps.max(1, keepdim=True).values
        for d, out in ((dx, nx), (dy, ny)):
            hits = torch.nonzero((d < reach).view(-1)).squeeze(1)
            r_i = hits // n
            c_j = hits - r_i * n
            below = d.view(-1).index_select(0, hits)[:, None] < eps.index_select(0, r_i)
            ok = below & (groups.index_select(0, c_j) == own.index_select(0, r_i))
            counts = torch.zeros(c, 1 + parts, dtype=torch.int32, device=device)
            out[:, start:stop] = counts.index_add_(0, r_i, ok.to(torch.int32)).T
    return nx.cpu().numpy(), ny.cpu().numpy()


def _ksg_with_blocks(
    x: np.ndarray, y: np.ndarray, k: int, device: torch.device, labels: np.ndarray
) -> tuple[float, np.ndarray]:
    """KSG on the whole sample and on every block of every partition in ``labels`` [R, n]:
    ψ(k) + ψ(m) − mean[ψ(n_x + 1) + ψ(n_y + 1)] over the m points of each, with ψ(count + 1)
    looked up in one table of ψ(1), …, ψ(n)."""
    n = x.shape[0]
    n_blocks = int(labels.max()) + 1
    if device.type == "cpu" and x.shape[1] + y.shape[1] <= KDTREE_MAX_DIM:
        nx, ny = _group_counts_kdtree(x, y, k, labels)
    else:
        nx, ny = _neighbour_counts_torch(x, y, k, device, labels)
    psi = digamma(np.arange(1, n + 1, dtype=np.float64))  # psi[c] = ψ(c + 1), 0 ≤ c < n
    terms = psi[nx] + psi[ny]  # [1 + R, n]
    mi = float(digamma(k) + psi[n - 1] - terms[0].mean())
    block_mi = np.empty((len(labels), n_blocks))
    for r, lab in enumerate(labels):
        inside = lab >= 0
        size = np.bincount(lab[inside], minlength=n_blocks)
        total = np.bincount(lab[inside], weights=terms[1 + r, inside], minlength=n_blocks)
        block_mi[r] = digamma(k) + psi[size - 1] - total / size
    return mi, block_mi


def ksg(
    x: object,
    y: object,
    *,
    k: int = 3,
    seed: int = 0,
    device: str | torch.device = "cpu",
    jitter: float = 1e-10,
    blocks: int = 2,
    repeats: int = 5,
) -> MIResult:
    """KSG estimator 1 of I(X; Y) in nats, with a subsampling 95 % confidence interval.

    Args:
        x: samples of X, shape [n] or [n, d_x] (numpy or torch).
        y: samples of Y, shape [n] or [n, d_y].
        k: number of neighbours (Kraskov et al. recommend 2–4; larger k lowers variance, raises
            bias).
        seed: seeds the tie-breaking jitter and the block partition.
        device: "cpu" (k-d tree for joint dimension ≤ 6, blocked torch otherwise) or a CUDA
            device (blocked torch on the GPU).
        jitter: standard deviation of the tie-breaking noise, relative to each column's scale.
        blocks: number B ≥ 2 of disjoint blocks per partition for the subsampling SE.
        repeats: number R ≥ 1 of random partitions into blocks.

    Returns:
        ``MIResult`` with ``method="ksg"``; the point estimate is not clipped at 0 (clipping would
        bias it), so at I = 0 it is negative about half the time.
    """
    start_time = time.perf_counter()
    xa, ya = check_pair(x, y)
    n = xa.shape[0]
    k = check_k(k, n)
    dev = resolve_device(device)
    block_size = check_blocks(blocks, repeats, jitter, k, n)
    rng = np.random.default_rng(seed)
    z = standardize_with_jitter(np.hstack([xa, ya]), jitter, rng)
    xs, ys = z[:, : xa.shape[1]], z[:, xa.shape[1] :]
    labels = block_partitions(rng, n, blocks, repeats)
    mi, block_mi = _ksg_with_blocks(xs, ys, k, dev, labels)
    se, half = subsampling_half_width(block_mi, block_size, n)
    return MIResult(
        mi=mi,
        ci=(mi - half, mi + half),
        method="ksg",
        n=n,
        seconds=time.perf_counter() - start_time,
        diagnostics={"k": k, "se": se, "blocks": blocks, "repeats": repeats,
                     "flags": ksg_flags(xa.shape[1] + ya.shape[1]),
                     "block_size": block_size, "block_mi": block_mi.tolist()},
    )
