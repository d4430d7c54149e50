"""Mixed discrete–continuous KSG (estimators.mixed): against scikit-learn's mutual_info_classif,
against Monte Carlo truth, at independence, and through estimate_mi / the default."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import digamma
from sklearn.feature_selection import mutual_info_classif

import estimators.mixed as mixed
from estimators import estimate_mi
from estimators.mixed import mixed_ksg
from mitheory.distributions import ClassGaussians


def reference_mixed_ksg(c: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Ross's estimator written out point by point, O(n²), max-norm (the test's reference)."""
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    keep = counts[inverse] > 1
    c, labels = c[keep], labels[keep]
    n = len(c)
    total = 0.0
    for i in range(n):
        dist = np.abs(c - c[i]).max(axis=1)
        dist[i] = np.inf
        own = np.sort(dist[labels == labels[i]])  # the sample itself (inf) sorts last
        k_i = min(k, own.size - 1)
        m_i = np.sum(dist < own[k_i - 1]) + 1
        total += digamma(k_i) - digamma(own.size) - digamma(m_i)
    return float(digamma(n) + total / n)


@pytest.mark.parametrize(("n", "classes", "separation", "seed"),
                         [(400, 2, 1.5, 0), (2000, 5, 0.7, 1), (1500, 3, 0.0, 2)])  # fmt: skip
def test_equals_mutual_info_classif_in_one_dimension(n, classes, separation, seed):
    """Same estimator as scikit-learn's (Ross 2014) on one continuous column: equal to 1e-9
    (both break ties with 1e-10 jitter; there are none here). sklearn clips at 0, we do not.
    Two labels seen once are dropped by both. Fails for ψ(m + 1), for counts with ≤, or for
    neighbours searched among all labels. (Labels of a few samples are left to the reference
    test below: there sklearn's brute-force distances, √((a − b)²), can differ from |a − b| in
    the last bit and count the k-th neighbour itself.)"""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    labels[:2] = [classes, classes + 1]  # two singleton labels
    x = separation * labels + rng.standard_normal(n)
    ours = mixed_ksg(x, labels, discrete="y", k=3)
    peer = mutual_info_classif(x[:, None], labels, discrete_features=False, n_neighbors=3,
                               random_state=0)[0]  # fmt: skip
    assert ours.diagnostics["dropped_singletons"] == 2
    assert max(ours.mi, 0.0) == pytest.approx(peer, abs=1e-9)
    swapped = mixed_ksg(labels, x, discrete="x", k=3)  # the side argument only says which is which
    assert swapped.mi == ours.mi


@pytest.mark.parametrize("dim", [1, 3])
def test_equals_the_point_by_point_reference(dim):
    """Small labels (3 and 6 samples: k capped at N_label − 1 = 2), singletons and 3-d inputs:
    equal to the written-out estimator (no jitter, so both see the same points)."""
    rng = np.random.default_rng(dim)
    labels = rng.integers(0, 3, size=300)
    labels[:2] = [7, 8]
    labels[2:5] = 9
    labels[5:11] = 10
    c = 0.6 * labels[:, None] + rng.standard_normal((300, dim))
    ours = mixed_ksg(c, labels, discrete="y", jitter=0.0)
    z = (c - c.mean(axis=0)) / c.std(axis=0)
    assert ours.mi == pytest.approx(reference_mixed_ksg(z, labels, 3), abs=1e-12)


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("dim", [1, 3])
def test_block_estimates_equal_the_reference_on_each_block(dim, threads, monkeypatch):
    """The interval's block estimates share one neighbour search per label; each must equal the
    written-out estimator on its block alone: odd n (a point left out of every partition), 3
    blocks, labels of 2 samples (seen once in some blocks: dropped there, kept in others), in one
    chunk of points or in three (threads), on the k-d tree path and on the brute force."""
    import estimators.knn as knn
    from estimators.knn import block_partitions, standardize_with_jitter

    monkeypatch.setattr(knn, "THREADS", threads)
    monkeypatch.setattr(knn, "PARALLEL_MIN_POINTS", 0)
    rng = np.random.default_rng(dim)
    labels = rng.integers(0, 3, size=301)
    labels[:6] = [7, 7, 8, 8, 9, 9]
    c = 0.6 * labels[:, None] + rng.standard_normal((301, dim))
    part_rng = np.random.default_rng(4)  # mixed_ksg's draws: the jitter, then the partitions
    z = standardize_with_jitter(c, 0.0, part_rng)
    parts = block_partitions(part_rng, 301, 3, 2)
    for brute in (False, True):
        if brute:
            monkeypatch.setattr(mixed, "KDTREE_MAX_DIM", 0)
        ours = mixed_ksg(c, labels, discrete="y", jitter=0.0, blocks=3, repeats=2, seed=4)
        block_mi = np.array(ours.diagnostics["block_mi"])
        for r, b in np.ndindex(block_mi.shape):
            idx = np.flatnonzero(parts[r] == b)
            expected = reference_mixed_ksg(z[idx], labels[idx], 3)
            assert block_mi[r, b] == pytest.approx(expected, abs=1e-12)


def test_torch_path_equals_kdtree_path(monkeypatch):
    """The blocked brute force (used above KDTREE_MAX_DIM and on CUDA) gives the k-d tree's
    estimate on the same points, to float rounding."""
    x, y = ClassGaussians(4, 3, 0.8).sample(1200, seed=3)
    tree = mixed_ksg(x, y, discrete="y")
    monkeypatch.setattr(mixed, "KDTREE_MAX_DIM", 0)
    brute = mixed_ksg(x, y, discrete="y")
    assert brute.mi == pytest.approx(tree.mi, abs=1e-12)
    assert brute.ci == pytest.approx(tree.ci, abs=1e-12)


@pytest.mark.parametrize("dim", [1, 2])
def test_tied_values_without_jitter_agree_on_both_paths(monkeypatch, dim):
    """Rounded values with the jitter off: a point whose k-th same-label neighbour is a duplicate
    has ε = 0, and only the point itself is strictly closer (m = 1) — on the k-d tree path (one
    column: by sorting) as on the brute force, and as the written-out estimator."""
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 3, size=600)
    c = np.round(labels[:, None] + rng.standard_normal((600, dim)), 0)
    tree = mixed_ksg(c, labels, discrete="y", jitter=0.0)
    z = (c - c.mean(axis=0)) / c.std(axis=0)
    assert tree.mi == pytest.approx(reference_mixed_ksg(z, labels, 3), abs=1e-12)
    monkeypatch.setattr(mixed, "KDTREE_MAX_DIM", 0)
    assert mixed_ksg(c, labels, discrete="y", jitter=0.0).mi == pytest.approx(tree.mi, abs=1e-12)


@pytest.mark.parametrize("task", [ClassGaussians(3, 4, 1.0), ClassGaussians(5, 8, 1.5)],
                         ids=lambda t: t.task_id)  # fmt: skip
def test_accuracy_against_monte_carlo_truth(task):
    """n = 3000, 3 seeds: every estimate within 3 of its standard errors + 0.05 nats (KSG's
    downward finite-sample bias, measured −0.01 to −0.03 here) of the Monte Carlo truth (its SE
    < 0.001). Fails for a wrong digamma term (each shifts the answer by ≥ 0.1 nats here)."""
    for seed in range(3):
        x, y = task.sample(3000, seed)
        r = mixed_ksg(x, y, discrete="y", seed=seed)
        se = r.diagnostics["se"]
        assert abs(r.mi - task.mi) <= 3 * se + 0.05, (seed, r.mi, task.mi, se)
        assert r.mi <= r.diagnostics["entropy_bound"] + 3 * se


def test_independence_and_its_negative_control():
    """Labels independent of X (10 seeds, n = 2000, 3 classes in 2-d): the 95 % interval
    excludes 0 in at most 2 seeds (binomial(10, 0.05): P(≥ 3) = 0.012). Control: the same rule on
    dependent data (I = 0.12 nats, about 6 SE) excludes 0 in all 10."""
    excluded_null = excluded_dependent = 0
    task = ClassGaussians(3, 2, 1.0)
    for seed in range(10):
        x, y = task.sample(2000, seed)
        null = mixed_ksg(x, np.random.default_rng(seed).permutation(y), discrete="y", seed=seed)
        dep = mixed_ksg(x, y, discrete="y", seed=seed)
        excluded_null += not (null.ci[0] <= 0.0 <= null.ci[1])
        excluded_dependent += dep.ci[0] > 0.0
    assert excluded_null <= 2
    assert excluded_dependent == 10


def test_default_reads_an_integer_column_as_labels():
    """estimate_mi(x, labels) with the default runs the mixed KSG, says so, and does not flag
    the labels as discrete data; a real-valued rounded column is still flagged and estimated as
    continuous."""
    x, y = ClassGaussians(3, 2, 1.0).sample(1000, seed=0)
    auto = estimate_mi(x, y)
    assert auto.diagnostics["chosen"] == "ksg" and "class label" in auto.diagnostics["reason"]
    assert auto.mi == mixed_ksg(x, y, discrete="y").mi
    assert not any(f.startswith("discrete") for f in auto.diagnostics["flags"])
    assert auto.mi_ci[0] < auto.mi < auto.mi_ci[1]
    bits = estimate_mi(x, y + 0.5, method="ksg", discrete="y", base=2)  # labels need not be ints
    assert bits.mi == pytest.approx(auto.mi / np.log(2), rel=1e-12)
    with pytest.warns(UserWarning, match="discrete='y'"):
        estimate_mi(x, np.round(x[:, :1], 1), method="ksg")


def test_bad_input():
    x, y = ClassGaussians(3, 2, 1.0).sample(200, seed=0)
    with pytest.raises(ValueError, match="discrete must be 'x', 'y'"):
        estimate_mi(x, y, method="ksg", discrete="labels")
    with pytest.raises(ValueError, match="method='ksg' or 'auto'"):
        estimate_mi(x, y, method="infonce", discrete="y")
    with pytest.raises(ValueError, match="really a label"):
        mixed_ksg(x, np.arange(200.0), discrete="y")  # every label seen once
    with pytest.raises(ValueError, match="flow's options"):
        estimate_mi(x, y, max_steps=10)
    with pytest.raises(ValueError, match="positive integer"):
        mixed_ksg(x, y, discrete="y", k=0)


def test_runs_on_a_torch_tensor_and_a_list():
    x, y = ClassGaussians(3, 2, 1.0).sample(300, seed=1)
    a = mixed_ksg(torch.as_tensor(x), y[:, 0].tolist(), discrete="y")
    b = mixed_ksg(x, y, discrete="y")
    assert a.mi == b.mi
