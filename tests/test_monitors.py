"""Training monitors (paradigms.measurement.monitors) on synthetic embeddings with known answers."""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar
from sklearn.metrics import silhouette_score

from estimators import bounds
from paradigms.measurement import monitors as M


def _gaussian(n, d, seed, rank=None):
    """n isotropic Gaussian embeddings in d dims; with ``rank`` r they span r random directions."""
    g = torch.Generator().manual_seed(seed)
    if rank is None:
        return torch.randn(n, d, generator=g, dtype=torch.float64)
    basis, _ = torch.linalg.qr(torch.randn(d, rank, generator=g, dtype=torch.float64))
    return torch.randn(n, rank, generator=g, dtype=torch.float64) @ basis.T


def test_constant_encoder_reads_zero_mi_and_is_collapsed():
    const = torch.full((64, 16), 0.7)
    mi = M.mi_estimates(const, const)
    # S is constant (= 1/τ = 10): DV = 10 − log e^10 = 0, InfoNCE = 10 − log(N e^10 / N) = 0 up to
    # float32 rounding of logsumexp (≈ 1e-6 at magnitude 10); mi_jsd = 0 exactly at b = 10.
    for key in ("mi_cosdv", "mi_infonce", "mi_jsd"):
        assert mi[key] == pytest.approx(0.0, abs=1e-5)
    assert M.embed_std(const) == 0.0
    assert M.effective_rank(const) == pytest.approx(1.0, abs=1e-4)
    m = M.collect_metrics(const, const)
    assert M.is_collapsed(m["embed_std"], m["effective_rank"], 16)


@pytest.mark.parametrize("tau", [0.01, 0.001])
def test_mi_estimates_hand_case_perfect_separation(tau):
    """Orthonormal z_a = z_b: S_ii = 1/τ, S_ij = 0.

    DV = 1/τ − log mean e^0 = 1/τ; InfoNCE = mean_i [1/τ − log((e^{1/τ} + 7)/8)] ≈ log 8;
    JSD optimum b = 1/(2τ) gives log 4 − 2 softplus(−1/(2τ)) ≈ log 4 (its supremum). At
    τ = 0.001 every sigmoid saturates in float32 (a flat objective for the offset fit)."""
    e = torch.eye(8)
    mi = M.mi_estimates(e, e, temperature=tau)
    assert mi["mi_cosdv"] == pytest.approx(1 / tau, rel=1e-6)
    assert mi["mi_infonce"] == pytest.approx(math.log(8), abs=1e-5)
    assert mi["mi_jsd"] == pytest.approx(math.log(4), abs=1e-12)


def test_mi_estimates_wire_the_bounds_and_fit_the_jsd_offset():
    g = torch.Generator().manual_seed(1)
    z_a = torch.randn(40, 6, generator=g)
    z_b = z_a + 0.8 * torch.randn(40, 6, generator=g)
    s = bounds.cosine_scores(z_a, z_b, 0.2)
    mi = M.mi_estimates(z_a, z_b, temperature=0.2)
    assert mi["mi_cosdv"] == pytest.approx(bounds.dv(s).item(), abs=1e-6)
    assert mi["mi_infonce"] == pytest.approx(bounds.infonce(s).item(), abs=1e-6)

    def negative_jsd(b):
        return -(math.log(4) + bounds.jsd(s.double() - b).item())

    best = minimize_scalar(
        negative_jsd, bounds=(-20, 20), method="bounded", options={"xatol": 1e-9}
    )
    assert mi["mi_jsd"] == pytest.approx(-best.fun, abs=1e-9)
    assert 0.0 < mi["mi_jsd"] <= math.log(4)
    # A fixed offset is never better than the fitted one (here the raw scores, b = 0).
    assert mi["mi_jsd"] >= math.log(4) + bounds.jsd(s).item() - 1e-6


def test_mi_grows_with_view_correlation():
    """Less view noise means more MI: all three estimates must order the three noise levels."""
    g = torch.Generator().manual_seed(2)
    z = torch.randn(512, 8, generator=g)
    values = []
    for noise in (2.0, 0.5, 0.1):
        values.append(M.mi_estimates(z, z + noise * torch.randn(512, 8, generator=g)))
    for key in ("mi_cosdv", "mi_infonce", "mi_jsd"):
        assert values[0][key] < values[1][key] < values[2][key]


def test_embed_std_isotropic_gaussian():
    """Uniform unit vectors (normalized isotropic Gaussians) have Var(u_k) = 1/d exactly.

    Each per-dimension sample std s_k has standard error ≈ σ √((κ − 1)/(4N)) with σ = 1/√d and
    kurtosis κ = 3d/(d + 2) < 3, so SE(s_k) < σ/√(2N); the mean over k has an SE no larger than the
    largest SE(s_k) (whatever the dependence between dimensions). Tolerance: 4 SE."""
    n, d = 4000, 32
    got = M.embed_std(_gaussian(n, d, seed=3))
    sigma = 1 / math.sqrt(d)
    assert abs(got - sigma) < 4 * sigma / math.sqrt(2 * n)
    # Normalization first: rescaling rows changes nothing.
    z = _gaussian(50, 8, seed=4)
    scales = torch.linspace(0.01, 100, 50, dtype=torch.float64)[:, None]
    assert M.embed_std(scales * z) == pytest.approx(M.embed_std(z), rel=1e-9)


def test_effective_rank_hand_case_and_equal_singular_values():
    # Singular values (3, 1): p = (3/4, 1/4), exp(H) = exp(−¾ log ¾ − ¼ log ¼).
    expected = math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert M.effective_rank(torch.diag(torch.tensor([3.0, 1.0]))) == pytest.approx(
        expected, abs=1e-5
    )
    # r equal singular values: exp(log r) = r, perturbed only by the ε = 1e-7 terms: each p_k moves
    # by ε and each zero singular value adds ε log(1/ε); the entropy moves by at most
    # m·ε·(log(1/ε) + 1) with m = min(N, d), so |RankMe − r| ≤ r (e^{m ε (log(1/ε) + 1)} − 1).
    n, d = 100, 64
    bound_eps = lambda r: r * math.expm1(d * 1e-7 * (math.log(1e7) + 1))  # noqa: E731
    for r in (1, 3, 7, 64):
        q_left, _ = torch.linalg.qr(_gaussian(n, r, seed=r))
        q_right, _ = torch.linalg.qr(_gaussian(d, r, seed=100 + r))
        z = 5.0 * q_left @ q_right.T  # rank r, all singular values 5
        assert abs(M.effective_rank(z) - r) <= bound_eps(r)


def test_effective_rank_of_gaussian_rank_r_matrix():
    """Z = A Bᵀ (A [N, r] standard Gaussian, B [d, r] orthonormal) has the singular values of A,
    which lie in [√N − √r − t, √N + √r + t] with probability ≥ 1 − 2 e^{−t²/2} (Davidson–Szarek);
    t = 4 → failure probability < 7e-4. So σ_k ∈ √N (1 ± δ) with δ = (√r + 4)/√N, and
    p_k ∈ [(1 − δ')/r, (1 + δ')/r] with δ' = 2δ/(1 − δ). Since KL(p‖uniform) ≤ χ²(p‖uniform) =
    r Σ (p_k − 1/r)² ≤ δ'², the entropy is ≥ log r − δ'², i.e. RankMe ≥ r e^{−δ'²}; and
    RankMe ≤ r plus the ε terms."""
    n, d = 2000, 48
    for r in (3, 10):
        got = M.effective_rank(_gaussian(n, d, seed=10 + r, rank=r))
        delta = (math.sqrt(r) + 4) / math.sqrt(n)
        delta_p = 2 * delta / (1 - delta)
        assert r * math.exp(-(delta_p**2)) <= got <= r + 1e-3


def test_collapse_rule():
    d = 32
    # Rank-1 encoder with mixed signs: embed_std is not small (normalized rows are ±v), RankMe ≈ 1.
    g = torch.Generator().manual_seed(5)
    v = torch.randn(d, generator=g, dtype=torch.float64)
    rank1 = torch.randn(500, 1, generator=g, dtype=torch.float64) * v
    std1, rank1_er = M.embed_std(rank1), M.effective_rank(rank1)
    assert std1 > 0.5 / math.sqrt(d)
    assert M.is_collapsed(std1, rank1_er, d)
    # Isotropic Gaussian embeddings of rank r ≥ 3 are healthy.
    for r in (3, 5, d):
        z = _gaussian(1000, d, seed=20 + r, rank=r)
        assert not M.is_collapsed(M.embed_std(z), M.effective_rank(z), d)
    # Full-rank isotropic embeddings in 1 and 2 dims are healthy too.
    for dim in (1, 2):
        z = _gaussian(1000, dim, seed=30 + dim)
        assert not M.is_collapsed(M.embed_std(z), M.effective_rank(z), dim)
    # A near-constant encoder (tiny noise around one point) is collapsed by the std rule.
    near = torch.ones(500, d, dtype=torch.float64) + 1e-3 * _gaussian(500, d, seed=6)
    assert M.embed_std(near) < 0.1 / math.sqrt(d)
    assert M.is_collapsed(M.embed_std(near), M.effective_rank(near), d)


def test_cluster_separation_matches_sklearn_silhouette():
    g = np.random.default_rng(7)
    centers = g.normal(size=(4, 10)) * 2
    labels = g.integers(0, 4, size=300)
    z = centers[labels] + g.normal(size=(300, 10))
    got = M.cluster_separation(torch.from_numpy(z), torch.from_numpy(labels))
    assert got == pytest.approx(silhouette_score(z, labels, metric="cosine"), abs=1e-9)
    # A singleton class contributes s = 0 (same convention).
    labels[0] = 9
    got = M.cluster_separation(torch.from_numpy(z), torch.from_numpy(labels))
    assert got == pytest.approx(silhouette_score(z, labels, metric="cosine"), abs=1e-9)


def test_cluster_separation_extremes():
    e = torch.eye(3, dtype=torch.float64)
    labels = torch.arange(30) % 3
    # Every class at one orthogonal point: a = 0, b = 1 → s = 1.
    assert M.cluster_separation(e[labels], labels) == pytest.approx(1.0)
    # Collapsed encoder: all distances 0 → s = 0 by convention.
    assert M.cluster_separation(torch.ones(30, 3), labels) == 0.0


def test_collect_metrics_keys_and_values():
    z_a = _gaussian(100, 8, seed=8)
    z_b = z_a + 0.1 * _gaussian(100, 8, seed=9)
    labels = torch.arange(100) % 5
    m = M.collect_metrics(z_a, z_b, labels)
    assert set(m) == {
        "mi_cosdv",
        "mi_infonce",
        "mi_jsd",
        "embed_std",
        "effective_rank",
        "cluster_separation",
    }
    assert all(isinstance(v, float) for v in m.values())
    # Collapse and cluster monitors read the target embeddings z_b (SimSiam's z), not z_a.
    assert m["embed_std"] == M.embed_std(z_b) != M.embed_std(z_a)
    assert m["effective_rank"] == M.effective_rank(z_b) != M.effective_rank(z_a)
    assert m["cluster_separation"] == M.cluster_separation(z_b, labels)
    assert "cluster_separation" not in M.collect_metrics(z_a, z_b)


def test_bad_input():
    z = _gaussian(10, 4, seed=0)
    with pytest.raises(ValueError, match="equal shapes"):
        M.mi_estimates(z, z[:, :3])
    with pytest.raises(ValueError, match="temperature"):
        M.mi_estimates(z, z, temperature=0.0)
    with pytest.raises(ValueError, match="NaN"):
        M.embed_std(torch.full((4, 2), math.nan))
    with pytest.raises(ValueError, match=r"\[N, d\]"):
        M.effective_rank(torch.ones(5))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        M.embed_std(np.ones((4, 2)))
    with pytest.raises(ValueError, match="number of classes"):
        M.cluster_separation(z, torch.zeros(10, dtype=torch.long))
    with pytest.raises(ValueError, match="one per embedding"):
        M.cluster_separation(z, torch.zeros(9, dtype=torch.long))
    with pytest.raises(TypeError, match="integer"):
        M.cluster_separation(z, torch.zeros(10))
    with pytest.raises(ValueError, match="dim"):
        M.is_collapsed(0.1, 3.0, 0)
    with pytest.raises(ValueError, match="embed_std"):
        M.is_collapsed(math.nan, 3.0, 4)
