"""Sample surrogates of the marginal term: cumulants, Isserlis, Barlow Twins and VICReg forms."""

from __future__ import annotations

import math

import pytest
import torch

from mitheory import surrogates, symbolic


def _batch(n: int, d: int, seed: int, noise: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    z_a = torch.randn(n, d, generator=gen, dtype=torch.float64) @ torch.randn(
        d, d, generator=gen, dtype=torch.float64)
    return z_a, z_a + noise * torch.randn(n, d, generator=gen, dtype=torch.float64)


def test_taylor_dv_keeps_float64_and_its_documented_formula() -> None:
    z_a, z_b = _batch(50, 4, 0)
    out = surrogates.taylor_dv_surrogate(z_a, z_b, 0.8)
    assert out.dtype == torch.float64
    c_aa, c_bb, c_ab = surrogates.correlations(z_a, z_b)
    assert float(out) == pytest.approx(
        float(0.8 * torch.trace(c_ab) - 0.32 * (c_aa * c_bb).sum()), abs=1e-13)


def test_product_of_marginals_pairs_never_use_the_diagonal() -> None:
    n = 7
    scores = torch.arange(n * n, dtype=torch.float64).reshape(n, n)
    diag = set(torch.diagonal(scores).tolist())
    off = surrogates.product_of_marginals(scores, "offdiag")
    assert off.numel() == n * (n - 1) and not diag & set(off.tolist())
    gen = torch.Generator().manual_seed(3)
    for _ in range(20):
        shuf = surrogates.product_of_marginals(scores, "shuffle", gen)
        assert shuf.numel() == n and not diag & set(shuf.tolist())
        rows = (shuf // n).long()
        assert sorted(rows.tolist()) == list(range(n))  # each row used once


def test_marginal_surrogates_on_gaussian_values() -> None:
    # T ~ N(μ, σ²): log E e^T = μ + σ²/2 exactly, κ3 = κ4 = 0. Tolerances: SE of the sample
    # mean σ/√n, of the variance σ²√(2/n), of k3 √(6σ⁶/n), of k4 √(24σ⁸/n); 5 SE each.
    mu, sd, n = 0.3, 0.5, 400_000
    t = mu + sd * torch.randn(n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    r = surrogates.marginal_surrogates(t)
    k1, k2, k3, k4 = r.cumulants
    assert abs(k1 - mu) < 5 * sd / math.sqrt(n)
    assert abs(k2 - sd**2) < 5 * sd**2 * math.sqrt(2 / n)
    assert abs(k3) < 5 * math.sqrt(6 * sd**6 / n)
    assert abs(k4) < 5 * math.sqrt(24 * sd**8 / n)
    assert r.taylor2 == pytest.approx(k1 + k2 / 2)
    # plug-in log-mean-exp: SE by the delta method, sd(e^T)/mean(e^T)/√n
    se = float(torch.exp(t).std() / torch.exp(t).mean()) / math.sqrt(n)
    assert abs(r.plug_in - (mu + sd**2 / 2)) < 5 * se


def test_taylor4_is_exact_to_fourth_order_on_a_two_point_critic() -> None:
    # T = ±g with prob ½: log E e^T = log cosh g = g²/2 − g⁴/12 + O(g⁶); the 4th-order
    # surrogate has error O(g⁶) (the 2nd-order one O(g⁴)), so shrinking g by 2 shrinks it ≥ 32×.
    errs = []
    for g in (0.4, 0.2):
        t = torch.tensor([g, -g] * 50, dtype=torch.float64)
        r = surrogates.marginal_surrogates(t)
        assert r.plug_in == pytest.approx(math.log(math.cosh(g)), abs=1e-14)
        errs.append(abs(r.plug_in - r.taylor4))
    assert errs[0] / errs[1] > 32


def test_isserlis_tensor_matches_symbolic_moments() -> None:
    cov = torch.tensor([[2.0, 0.3, -0.4], [0.3, 1.0, 0.2], [-0.4, 0.2, 1.5]], dtype=torch.float64)
    tensor = surrogates.isserlis_fourth_moments(cov)
    sigma = symbolic.symmetric_matrix("c", 3)
    subs = {sigma[i, j]: float(cov[i, j]) for i in range(3) for j in range(i, 3)}
    for idx in [(0, 0, 0, 0), (0, 1, 1, 2), (2, 2, 1, 1), (0, 1, 2, 2)]:
        sym = float(symbolic.gaussian_moment(idx, sigma).subs(subs))
        assert float(tensor[idx]) == pytest.approx(sym, rel=1e-12)


def test_fourth_cumulant_excess_is_exact_for_rademacher_columns() -> None:
    # A balanced ±1 design: each column has mean 0 and variance 1, x⁴ = 1 and the columns are
    # orthogonal, so exactly κ_0000 = 1 − 3·1² = −2 and κ_0011 = 1 − (1·1 + 2·0²) = 0.
    x = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]],
                     dtype=torch.float64).repeat(25, 1)
    k = surrogates.fourth_cumulant_excess(x)
    assert float(k[0, 0, 0, 0]) == pytest.approx(-2.0, abs=1e-12)
    assert float(k[0, 0, 1, 1]) == pytest.approx(0.0, abs=1e-12)


def test_fourth_cumulant_with_se_agrees_with_tensor_and_gaussian_variance() -> None:
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(400_000, 2, generator=gen, dtype=torch.float64)
    quads = torch.tensor([[0, 0, 0, 0], [0, 0, 1, 1], [0, 1, 1, 1]])
    kappa, se = surrogates.fourth_cumulant_with_se(x, quads)
    tensor = surrogates.fourth_cumulant_excess(x)
    for q, k in zip(quads.tolist(), kappa.tolist(), strict=True):
        assert k == pytest.approx(float(tensor[tuple(q)]), abs=1e-10)
    # For N(0,1) the sample κ4 has asymptotic variance 24/n (influence function He4(x)). The
    # SE estimate's relative sd is ≈ ½·√((E He4⁴ − 24²)/n)/24 = 0.02 at this n; allow 4 of them.
    assert float(se[0]) * math.sqrt(len(x) / 24) == pytest.approx(1.0, abs=0.08)


def test_barlow_identity_on_any_batch_and_reduction_on_aligned_batches() -> None:
    for seed, scale in ((0, 1.0), (1, 0.4), (2, 2.5)):
        z_a, z_b = _batch(40, 5, seed)
        bt_form = 2.5 - scale**2 / 2 * surrogates.barlow_twins_loss(z_a, z_b, 1.0, 1 / scale)
        dv_bt = surrogates.joint_term(z_a, z_b, scale) - surrogates.marginal_barlow(z_a, z_b, scale)
        assert float(dv_bt) == pytest.approx(float(bt_form), abs=1e-12)
        # aligned views: C^aa = C^bb = C^ab, so Taylor-DV is exactly the Barlow form
        aligned = surrogates.taylor_dv_surrogate(z_a, z_a, scale)
        bt_aligned = 2.5 - scale**2 / 2 * surrogates.barlow_twins_loss(z_a, z_a, 1.0, 1 / scale)
        assert float(aligned) == pytest.approx(float(bt_aligned), abs=1e-12)


def test_vicreg_marginal_bounds_taylor_marginal_with_equality_when_aligned() -> None:
    for seed in range(5):
        z_a, z_b = _batch(30, 4, seed, noise=1.0)
        z_b = z_b @ torch.diag(torch.tensor([1.0, 2.0, 0.5, 1.0], dtype=torch.float64)) + z_a**2
        vic, tay = (surrogates.marginal_vicreg(z_a, z_b), surrogates.marginal_taylor2(z_a, z_b))
        assert float(vic) >= float(tay) - 1e-12  # 2xy ≤ x² + y²
        assert float(vic - tay) > 1e-6  # C^aa ≠ C^bb here: strict
        assert float(surrogates.marginal_vicreg(z_a, z_a)) == pytest.approx(
            float(surrogates.marginal_taylor2(z_a, z_a)), abs=1e-12)


def test_bilinear_scores_with_weight() -> None:
    z_a, z_b = _batch(6, 3, 0)
    w = torch.randn(3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    s = surrogates.bilinear_scores(z_a, z_b, w, 0.5)
    assert float(s[2, 4]) == pytest.approx(float(0.5 * z_a[2] @ w @ z_b[4]), abs=1e-12)
    assert torch.equal(surrogates.bilinear_scores(z_a, z_b), z_a @ z_b.T)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: surrogates.joint_term([[1.0]], torch.zeros(2, 1)), TypeError, "torch.Tensor"),
    (lambda: surrogates.joint_term(torch.zeros(2, 2, dtype=torch.int64), torch.zeros(2, 2)),
     TypeError, "floating"),
    (lambda: surrogates.joint_term(torch.zeros(1, 2), torch.zeros(1, 2)), ValueError, "N >= 2"),
    (lambda: surrogates.joint_term(torch.full((3, 2), math.nan), torch.zeros(3, 2)), ValueError,
     "NaN"),
    (lambda: surrogates.joint_term(torch.zeros(3, 2), torch.zeros(4, 2)), ValueError, "rows"),
    (lambda: surrogates.joint_term(torch.zeros(3, 2), torch.zeros(3, 3)), ValueError,
     "dimension"),
    (lambda: surrogates.marginal_barlow(torch.randn(3, 2), torch.randn(3, 2), 0.0), ValueError,
     "scale"),
    (lambda: surrogates.barlow_twins_loss(torch.randn(3, 2), torch.randn(3, 2), -1.0),
     ValueError, "lam"),
    (lambda: surrogates.product_of_marginals(torch.zeros(3, 3), "random"), ValueError,
     "pairing"),
    (lambda: surrogates.product_of_marginals(torch.zeros(3, 3), "shuffle"), ValueError,
     "generator"),
    (lambda: surrogates.product_of_marginals(torch.zeros(3, 2)), ValueError, "square"),
    (lambda: surrogates.marginal_surrogates(torch.tensor([1.0, math.inf])), ValueError,
     "infinite"),
    (lambda: surrogates.bilinear_scores(torch.randn(3, 2), torch.randn(3, 2), torch.eye(3)),
     ValueError, "shape"),
    (lambda: surrogates.isserlis_fourth_moments(torch.zeros(2, 3)), ValueError, "square"),
    (lambda: surrogates.fourth_cumulant_with_se(torch.randn(5, 2), torch.tensor([[0, 1, 2, 0]])),
     ValueError, "indices"),
    (lambda: surrogates.fourth_cumulant_with_se(torch.randn(5, 2), torch.tensor([[0.0] * 4])),
     ValueError, "integer"),
])
def test_bad_input_is_rejected(call, exc, match) -> None:
    with pytest.raises(exc, match=match):
        call()
