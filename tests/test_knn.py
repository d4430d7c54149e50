"""KSG estimator: agreement with scikit-learn, closed forms, ties, CI coverage, bad input."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from scipy.stats import t as student_t
from sklearn.feature_selection import mutual_info_regression

from estimators.knn import _neighbour_counts_kdtree, _neighbour_counts_torch, ksg
from mitheory.distributions import DenseGaussian, SparseGaussian


@pytest.fixture(autouse=True)
def _single_torch_thread():
    """Tiny batched linear algebra is slower with several threads on a shared 2-core machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("rho", [0.3, 0.8])
def test_matches_sklearn_mutual_info_regression_on_1d(k, rho):
    """Same algorithm (KSG 1, max-norm, strict counts, unit-std columns): the counts are identical
    on continuous data, so the values agree to rounding (both jitters are ~1e-10 of the scale)."""
    x, y = DenseGaussian(1, 1, rho).sample(1500, seed=k)
    ours = ksg(x, y, k=k).mi
    theirs = mutual_info_regression(x, y[:, 0], n_neighbors=k, random_state=0)[0]
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_kdtree_and_blocked_torch_paths_give_identical_counts():
    """The torch path (also the GPU path) and the k-d tree path count the same neighbours, on the
    whole sample and within blocks (torch masks one distance matrix, the tree recomputes per
    block), including on tied data with the jitter off (ε = 0 must give zero strict counts)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 2))
    y = x[:, :1] + rng.standard_normal((400, 1))
    tied_x, tied_y = np.round(x * 2) / 2, np.round(y * 2) / 2
    labels = np.stack([rng.permutation(400) % 3 for _ in range(2)])
    labels[0, :7] = -1  # points left out of partition 0
    for a, b in ((x, y), (tied_x, tied_y)):
        for k in (1, 4):
            brute_x, brute_y = _neighbour_counts_torch(a, b, k, torch.device("cpu"), labels)
            tree_x, tree_y = _neighbour_counts_kdtree(a, b, k)
            np.testing.assert_array_equal(tree_x, brute_x[0])
            np.testing.assert_array_equal(tree_y, brute_y[0])
            for r, block in ((0, 0), (0, 2), (1, 1)):
                idx = np.flatnonzero(labels[r] == block)
                tree_x, tree_y = _neighbour_counts_kdtree(a[idx], b[idx], k)
                np.testing.assert_array_equal(tree_x, brute_x[1 + r, idx])
                np.testing.assert_array_equal(tree_y, brute_y[1 + r, idx])


def test_small_blocks_and_chunks_still_count_exactly(monkeypatch):
    """With 12 blocks most points have fewer than k of their 24 nearest candidates in their own
    block, so the torch path falls back to searching the whole row; with a tiny chunk budget the
    rows come in chunks of a few points. Every block's counts still equal the k-d tree's."""
    import estimators.knn as knn

    monkeypatch.setitem(knn._CHUNK_BYTES, "cpu", 300 * (40 + 24 * 2) * 7)  # 7 rows per chunk
    rng = np.random.default_rng(1)
    x = np.round(rng.standard_normal((300, 2)), 1)
    y = x[:, :1] + rng.standard_normal((300, 1))
    labels = (rng.permutation(300) % 12)[None, :]
    brute_x, brute_y = _neighbour_counts_torch(x, y, 4, torch.device("cpu"), labels)
    for block in range(12):
        idx = np.flatnonzero(labels[0] == block)
        tree_x, tree_y = _neighbour_counts_kdtree(x[idx], y[idx], 4)
        np.testing.assert_array_equal(tree_x, brute_x[1, idx])
        np.testing.assert_array_equal(tree_y, brute_y[1, idx])


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("dims", [(1, 1), (2, 1), (2, 3)])
def test_tree_path_block_counts_equal_a_tree_per_block(dims, threads, monkeypatch):
    """The k-d tree path finds every block's thresholds among the whole sample's nearest
    candidates (12 blocks: most points need the wider second query) and counts one-column sides
    for all blocks from one sort; on data with exact duplicates (self not first in its query) the
    counts still equal those of a separate tree per block, in one chunk of points or in three
    (three threads, chunks of unequal size)."""
    import estimators.knn as knn
    from estimators.knn import _group_counts_kdtree

    monkeypatch.setattr(knn, "THREADS", threads)
    monkeypatch.setattr(knn, "PARALLEL_MIN_POINTS", 0)

    rng = np.random.default_rng(3)
    x = np.round(rng.standard_normal((360, dims[0])), 1)
    y = np.round(x[:, :1] + rng.standard_normal((360, dims[1])), 1)
    x[180:200], y[180:200] = x[160:180], y[160:180]  # exact duplicate pairs
    labels = np.stack([rng.permutation(360) % 12, rng.permutation(360) % 2])
    labels[1, :5] = -1
    nx, ny = _group_counts_kdtree(x, y, 3, labels)
    whole_x, whole_y = _neighbour_counts_kdtree(x, y, 3)
    np.testing.assert_array_equal(nx[0], whole_x)
    np.testing.assert_array_equal(ny[0], whole_y)
    for r, blocks in enumerate((12, 2)):
        for block in range(blocks):
            idx = np.flatnonzero(labels[r] == block)
            tree_x, tree_y = _neighbour_counts_kdtree(x[idx], y[idx], 3)
            np.testing.assert_array_equal(nx[1 + r, idx], tree_x)
            np.testing.assert_array_equal(ny[1 + r, idx], tree_y)


@pytest.mark.parametrize("dims", [(1, 1), (2, 3)])
def test_block_estimates_are_ksg_on_each_block(dims):
    """Every block estimate (and the whole-sample one) must be KSG estimator 1 written out on
    that block alone: ψ(k) + ψ(m) − mean[ψ(n_x + 1) + ψ(n_y + 1)] with a block's own k-d tree
    counts; the blocks differ in size (7 of them, one point left out)."""
    from scipy.special import digamma

    from estimators.knn import _ksg_with_blocks

    rng = np.random.default_rng(5)
    x = rng.standard_normal((400, dims[0]))
    y = 0.5 * x[:, :1] + rng.standard_normal((400, dims[1]))
    labels = np.stack([rng.permutation(400) % 7, rng.permutation(400) % 7])
    labels[1, 0] = -1

    def written_out(idx: np.ndarray) -> float:
        nx, ny = _neighbour_counts_kdtree(x[idx], y[idx], 3)
        return float(digamma(3) + digamma(idx.size) - np.mean(digamma(nx + 1) + digamma(ny + 1)))

    mi, block_mi = _ksg_with_blocks(x, y, 3, torch.device("cpu"), labels)
    assert mi == pytest.approx(written_out(np.arange(400)), abs=1e-12)
    assert block_mi.shape == (2, 7)
    for r, block in np.ndindex(block_mi.shape):
        idx = np.flatnonzero(labels[r] == block)
        assert block_mi[r, block] == pytest.approx(written_out(idx), abs=1e-12)


def test_torch_path_gives_the_same_estimate_and_ci_as_the_tree_path():
    """3 + 3 dims normally take the k-d tree; forcing the torch path (KDTREE_MAX_DIM = 0) must
    give the same estimate and the same block estimates, hence the same CI."""
    import estimators.knn as knn

    x, y = SparseGaussian(3, 3, 2, 0.6).sample(600, seed=0)
    tree = ksg(x, y, seed=2)
    saved = knn.KDTREE_MAX_DIM
    try:
        knn.KDTREE_MAX_DIM = 0
        brute = ksg(x, y, seed=2)
    finally:
        knn.KDTREE_MAX_DIM = saved
    assert brute.mi == pytest.approx(tree.mi, abs=1e-12)
    assert brute.ci == pytest.approx(tree.ci, abs=1e-12)


@pytest.mark.parametrize("jitter", [1e-10, 0.0])
def test_threaded_tree_path_equals_the_torch_path_on_ties_and_odd_n(jitter, monkeypatch):
    """Above PARALLEL_MIN_POINTS the tree path splits the points over threads; on 1 + 1 dims with
    values rounded to 0.05 (many ties; with the jitter off, ε = 0 for some points), n = 2501
    (each partition leaves points out) and 3 blocks, 2 partitions, its estimate and interval must
    equal those of the torch path, which shares none of its neighbour search."""
    import estimators.knn as knn

    monkeypatch.setattr(knn, "THREADS", 2)
    x, y = DenseGaussian(1, 1, 0.6).sample(2501, seed=4)
    x, y = np.round(x * 20) / 20, np.round(y * 20) / 20
    options = {"seed": 1, "jitter": jitter, "blocks": 3, "repeats": 2}
    tree = ksg(x, y, **options)
    monkeypatch.setattr(knn, "KDTREE_MAX_DIM", 0)
    brute = ksg(x, y, **options)
    assert brute.mi == pytest.approx(tree.mi, abs=1e-12)
    assert brute.ci == pytest.approx(tree.ci, abs=1e-12)


@pytest.mark.parametrize(
    "task", [DenseGaussian(1, 1, 0.6), SparseGaussian(2, 2, 2, 0.6)], ids=lambda t: t.task_id
)
def test_recovers_gaussian_closed_form(task):
    """Mean over 8 seeds at n = 2000 is within t_{7, 0.9995} · sd / √8 of the closed form, sd the
    measured spread across those seeds (KSG's bias is < 0.01 nats in ≤ 2 + 2 dims at this n;
    measured: 0.230 ± 0.013 vs 0.223 and 0.456 ± 0.027 vs 0.446)."""
    seeds = 8
    estimates = np.array([ksg(*task.sample(2000, seed=s), seed=s).mi for s in range(seeds)])
    bound = student_t.ppf(0.9995, seeds - 1) * estimates.std(ddof=1) / math.sqrt(seeds)
    assert abs(estimates.mean() - task.mi) <= bound, (estimates, task.mi)


def test_confidence_interval_tracks_the_spread_across_seeds():
    """Over 60 seeds (1-D Gaussian, n = 500): the RMS of the reported SE is within a factor
    [0.7, 1.4] of the measured sd of the estimates (the sd's own relative error is ≈ 9 % at 60
    seeds, so this is a > 3.5σ band), and the CI covers the mean estimate in ≥ 85 % of seeds
    (expected 95 %, binomial sd 2.8 %)."""
    task = DenseGaussian(1, 1, 0.5)
    results = [ksg(*task.sample(500, seed=100 + s), seed=s) for s in range(60)]
    mi = np.array([r.mi for r in results])
    se = np.array([r.diagnostics["se"] for r in results])
    ratio = math.sqrt(np.mean(se**2)) / mi.std(ddof=1)
    assert 0.7 <= ratio <= 1.4, ratio
    covered = np.mean([r.ci[0] <= mi.mean() <= r.ci[1] for r in results])
    assert covered >= 0.85, covered


@pytest.mark.slow
def test_confidence_interval_coverage_simulation():
    """150 seeds each, 1-D at I = 0 and I = 0.22, n = 1000: coverage of E[Î] in [0.90, 0.99]
    (binomial sd 1.8 % around 0.95)."""
    for rho in (0.0, 0.6):
        task = SparseGaussian(1, 1, 1, rho)
        results = [ksg(*task.sample(1000, seed=s), seed=s) for s in range(150)]
        mean = np.mean([r.mi for r in results])
        covered = np.mean([r.ci[0] <= mean <= r.ci[1] for r in results])
        assert 0.90 <= covered <= 0.99, (rho, covered)


def test_ties_are_broken_without_bias():
    """Rounding to 0.01 leaves 450 distinct values in 2000 points. With the jitter the estimate
    stays within one SE of the unrounded data's; without it the tied strict counts inflate the
    estimate by more than 2 SE (so the jitter is what makes this work)."""
    x, y = DenseGaussian(1, 1, 0.6).sample(2000, seed=0)
    xr, yr = np.round(x, 2), np.round(y, 2)
    clean = ksg(x, y)
    tied = ksg(xr, yr)
    se = clean.diagnostics["se"]
    assert abs(tied.mi - clean.mi) <= se
    assert ksg(xr, yr, jitter=0.0).mi - clean.mi > 2 * se


def test_heavy_duplicates_give_finite_results():
    x = np.repeat(np.arange(5.0), 40)[:, None]
    y = np.tile(np.arange(4.0), 50)[:, None]
    for jitter in (1e-10, 0.0):
        result = ksg(x, y, jitter=jitter)
        assert all(math.isfinite(v) for v in (result.mi, *result.ci))
    duplicated = ksg(np.vstack([x, x]), np.vstack([y, y]))
    assert math.isfinite(duplicated.mi)


def test_invariant_to_column_shift_and_scale():
    """Columns are standardised first, so affine maps of single columns change nothing."""
    x, y = SparseGaussian(2, 3, 2, 0.7).sample(600, seed=1)
    base = ksg(x, y)
    moved = ksg(3.0 * x + 5.0, y * np.array([0.01, 100.0, 2.0]) - 1.0)
    assert moved.mi == pytest.approx(base.mi, abs=1e-9)


def test_result_fields_and_torch_input():
    x, y = DenseGaussian(3, 4, 0.3).sample(300, seed=2)
    result = ksg(torch.tensor(x, dtype=torch.float32), torch.tensor(y), k=4, seed=1)
    assert result.method == "ksg" and result.n == 300 and result.unit == "nats"
    assert result.ci[0] < result.mi < result.ci[1]
    assert result.diagnostics["k"] == 4
    again = ksg(torch.tensor(x, dtype=torch.float32), torch.tensor(y), k=4, seed=1)
    assert again.mi == result.mi and again.ci == result.ci


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"k": 0}, "k must be a positive integer"),
        ({"k": 2.5}, "k must be a positive integer"),
        ({"k": True}, "k must be a positive integer"),
        ({"k": 100}, "k must be smaller"),
        ({"k": 20}, "needs at least"),
        ({"blocks": 1}, "blocks"),
        ({"repeats": 0}, "repeats"),
        ({"jitter": -1.0}, "jitter"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, match):
    x, y = DenseGaussian(1, 1, 0.5).sample(100, seed=0)
    with pytest.raises(ValueError, match=match):
        ksg(x, y, **kwargs)


def test_bad_samples_raise_clear_errors():
    x, y = DenseGaussian(1, 1, 0.5).sample(100, seed=0)
    with pytest.raises(ValueError, match="same number of samples"):
        ksg(x, y[:50])
    bad = x.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ksg(bad, y)
    with pytest.raises(TypeError, match="numpy array, a torch tensor or a list"):
        ksg({"x": 1.0}, y)
    assert ksg(x.tolist(), y).mi == ksg(x, y).mi
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            ksg(x, y, device="cuda")


@pytest.mark.slow
def test_speed_high_dimensional():
    """n = 10,000 in 50 + 50 dims, estimate and CI on 2 threads: under 120 s of CPU time (i.e.
    under a minute of wall time on 2 free cores). CPU time, not wall time, so that other jobs on
    a shared machine do not decide the test."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10_000, 50))
    y = 0.5 * x + rng.standard_normal((10_000, 50))
    torch.set_num_threads(2)
    start = time.process_time()
    result = ksg(x, y)
    assert time.process_time() - start < 120.0
    assert math.isfinite(result.mi)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_path_matches_cpu():
    x, y = SparseGaussian(5, 5, 2, 0.8).sample(2000, seed=0)
    assert ksg(x, y, device="cuda").mi == pytest.approx(ksg(x, y).mi, abs=1e-12)


@pytest.mark.parametrize("kind", ["continuous", "rounded", "offset", "tiny"])
def test_sorted_one_dim_counts_equal_the_kd_tree_bit_for_bit(kind):
    """The 1-D marginal counts by sorting (estimators.knn.strict_counts_1d) against scipy's
    cKDTree ball counts with the same strict radius, on the radii the joint k-NN defines (so the
    k-th neighbour sits exactly on a ball's edge) and on ties, offsets and tiny scales."""
    from scipy.spatial import cKDTree

    from estimators.knn import strict_counts_1d

    rng = np.random.default_rng(7)
    x = rng.normal(size=(3000, 1))
    y = 0.6 * x + 0.8 * rng.normal(size=(3000, 1))
    if kind == "rounded":
        x, y = np.round(x, 1), np.round(y, 1)
    elif kind == "offset":
        x = x + 1e8
    elif kind == "tiny":
        x, y = x * 1e-300, y * 1e-300
    z = np.hstack([x, y])
    eps = cKDTree(z).query(z, k=4, p=np.inf)[0][:, 3]
    for part in (x, y):
        tree = cKDTree(part).query_ball_point(part, r=np.nextafter(eps, 0.0), p=np.inf,
                                              return_length=True)  # fmt: skip
        ours = strict_counts_1d(part[:, 0], eps)
        positive = eps > 0
        assert np.array_equal(ours[positive], np.asarray(tree)[positive])
