"""Symbolic derivations checked against independent numbers and the numeric code."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch

from mitheory import surrogates, symbolic
from mitheory.closed_forms import bilinear_taylor_surrogate


def _random_cov(dim: int, seed: int) -> np.ndarray:
    f = np.random.default_rng(seed).standard_normal((dim, dim))
    return f @ f.T / dim + 0.5 * np.eye(dim)


def _subs_matrix(sym: sp.Matrix, num: np.ndarray) -> dict:
    return {sym[i, j]: float(num[i, j]) for i in range(sym.shape[0]) for j in range(sym.shape[1])
            if isinstance(sym[i, j], sp.Symbol)}


def test_gaussian_moment_repeated_indices_match_known_moments() -> None:
    # E x⁴ = 3σ², E x⁶ = 15σ³ (σ = variance), E x²y² = σxx σyy + 2σxy²: textbook values
    sigma = symbolic.symmetric_matrix("s", 2)
    s11, s12, s22 = sigma[0, 0], sigma[0, 1], sigma[1, 1]
    assert sp.expand(symbolic.gaussian_moment([0] * 4, sigma) - 3 * s11**2) == 0
    assert sp.expand(symbolic.gaussian_moment([0] * 6, sigma) - 15 * s11**3) == 0
    assert sp.expand(symbolic.gaussian_moment([0, 0, 1, 1], sigma)
                     - (s11 * s22 + 2 * s12**2)) == 0
    assert symbolic.gaussian_moment([0, 1, 1], sigma) == 0


def test_isserlis_fourth_and_sixth_term_counts_and_numeric_agreement() -> None:
    d4, d6 = symbolic.isserlis_fourth(), symbolic.isserlis_sixth()
    assert d4.result["n_pairings"] == 3 and d6.result["n_pairings"] == 15  # (2k−1)!!
    assert d4.residual == 0 and d6.residual == 0
    # the symbolic 4th moment evaluated at a numeric Σ equals the numeric Isserlis tensor
    cov = _random_cov(4, 0)
    sigma = symbolic.symmetric_matrix(r"\sigma", 4)
    numeric = surrogates.isserlis_fourth_moments(torch.from_numpy(cov))[0, 1, 2, 3]
    value = float(d4.result["moment"].subs(_subs_matrix(sigma, cov)))
    assert value == pytest.approx(float(numeric), rel=1e-12)


def test_cumulant_expansion_on_distributions_with_known_cumulants() -> None:
    kappas = symbolic.cumulant_expansion(4).result
    m = sp.symbols("m1:5", real=True)
    # Exponential(1): m_n = n!, κ_n = (n−1)!
    expo = {m[n - 1]: math.factorial(n) for n in range(1, 5)}
    assert [kappas[n].subs(expo) for n in range(1, 5)] == [1, 1, 2, 6]
    # Poisson(λ): every cumulant equals λ
    lam = sp.Rational(7, 3)
    pois = {m[0]: lam, m[1]: lam + lam**2, m[2]: lam**3 + 3 * lam**2 + lam,
            m[3]: lam**4 + 6 * lam**3 + 7 * lam**2 + lam}
    assert all(sp.simplify(kappas[n].subs(pois) - lam) == 0 for n in range(1, 5))


def test_bilinear_variances_match_closed_form_and_monte_carlo() -> None:
    der = symbolic.bilinear_variances(2)
    rng = np.random.default_rng(1)
    joint = _random_cov(4, 2)
    caa, cbb, cab = joint[:2, :2], joint[2:, 2:], joint[:2, 2:]
    subs = (_subs_matrix(der.result["C_aa"], caa) | _subs_matrix(der.result["C_bb"], cbb)
            | _subs_matrix(der.result["C_ab"], cab))
    var_marg = float(der.result["var_marg"].subs(subs))
    # Var_marg = tr K = 2 × the Taylor surrogate of closed_forms (W = I)
    assert var_marg == pytest.approx(2 * bilinear_taylor_surrogate(np.eye(2), caa, cbb), rel=1e-12)
    # Var_joint against the sample variance of T = Σ a_k b_k; SE of a sample variance is
    # sqrt((μ4 − σ⁴)/n), estimated from the same sample; 5 SE.
    x = rng.multivariate_normal(np.zeros(4), joint, size=400_000)
    t = (x[:, :2] * x[:, 2:]).sum(1)
    var_hat = t.var()
    se = math.sqrt((((t - t.mean()) ** 4).mean() - var_hat**2) / len(t))
    assert abs(float(der.result["var_joint"].subs(subs)) - var_hat) < 5 * se


def test_barlow_reduction_matches_numeric_surrogates() -> None:
    der = symbolic.taylor_dv_barlow_reduction(3)
    gen = torch.Generator().manual_seed(0)
    z_a = torch.randn(64, 3, generator=gen, dtype=torch.float64)
    z_b = z_a + 0.5 * torch.randn(64, 3, generator=gen, dtype=torch.float64)
    c_aa, c_bb, c_ab = (c.numpy() for c in surrogates.correlations(z_a, z_b))
    scale = 0.7
    r = der.result
    subs = (_subs_matrix(r["C_aa"], c_aa) | _subs_matrix(r["C_bb"], c_bb)
            | _subs_matrix(r["C_ab"], c_ab) | {r["s"]: scale})
    assert float(r["taylor_dv"].subs(subs)) == pytest.approx(
        float(surrogates.taylor_dv_surrogate(z_a, z_b, scale)), abs=1e-12)
    bt = 1.5 - scale**2 / 2 * surrogates.barlow_twins_loss(z_a, z_b, lam=1.0, target=1 / scale)
    assert float(r["barlow_form"].subs(subs)) == pytest.approx(float(bt), abs=1e-12)
    assert float((r["taylor_dv"] - r["barlow_form"] - r["residual"]).subs(subs)) == pytest.approx(
        0.0, abs=1e-12)


def test_latex_strings_render_the_main_symbols() -> None:
    ders = symbolic.all_derivations()
    assert [d.name for d in ders] == ["isserlis_4", "isserlis_6", "cumulants_4",
                                      "bilinear_variances_2", "taylor_dv_barlow_3"]
    assert r"\sigma_{12} \sigma_{34}" in ders[0].latex
    assert "L_{\\mathrm{BT}}" in ders[4].latex


@pytest.mark.parametrize("call, match", [
    (lambda: symbolic.symmetric_matrix("x", 0), "positive integer"),
    (lambda: symbolic.gaussian_moment([0, 3], symbolic.symmetric_matrix("x", 2)), "indices"),
    (lambda: symbolic.gaussian_moment([0], sp.Matrix([[1, 2], [3, 4]])), "symmetric"),
    (lambda: symbolic.cumulant_expansion(0), "order"),
    (lambda: symbolic.bilinear_variances(5), "dim"),
    (lambda: symbolic.taylor_dv_barlow_reduction(0), "dim"),
])
def test_bad_input_is_rejected(call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call()
