"""Closed forms of mitheory.closed_forms checked against independent computations."""

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from mitheory.closed_forms import (
    GaussianViews,
    QuadraticCritic,
    best_bilinear_dv,
    bilinear_dv,
    bilinear_kernel,
    bilinear_log_partition,
    bilinear_taylor_error,
    bilinear_taylor_surrogate,
    block_smoothness,
    canonical_correlations,
    coupling_radius,
    gaussian_mi,
    linear_encoders_dv,
    linear_encoders_dv_grad,
    optimal_critic,
    quadratic_critic_dv,
    random_gaussian_views,
)


def _scaled_critic(views, rho, seed):
    """A random W with ρ(K) = rho."""
    w = np.random.default_rng(seed).normal(size=(views.dim_a, views.dim_b))
    lam = np.linalg.eigvalsh(bilinear_kernel(w, views.cov_a, views.cov_b)).max()
    return w * np.sqrt(rho / lam)


def test_gaussian_mi_matches_canonical_correlation_formula():
    # I = −½ Σ log(1 − c²) for the construction with canonical correlations c (to rounding).
    c = np.array([0.9, 0.5, 0.1])
    views = random_gaussian_views(4, 3, c, seed=3)
    assert gaussian_mi(views.cov, 4) == pytest.approx(-0.5 * np.log1p(-(c**2)).sum(), abs=1e-10)
    np.testing.assert_allclose(canonical_correlations(views), c, atol=1e-10)


def test_log_partition_matches_gauss_hermite_quadrature():
    # E e^{aᵀWb} for 2-d a, b by a 4-d tensor Gauss–Hermite rule (exact for polynomials of
    # degree < 2·30 per axis; the integrand's Taylor tail at ρ(K) = 0.3 is far below 1e-12).
    views = random_gaussian_views(2, 2, [0.6, 0.3], seed=1)
    w = _scaled_critic(views, 0.3, seed=2)
    nodes, weights = np.polynomial.hermite_e.hermegauss(30)
    weights = weights / weights.sum()
    la, lb = np.linalg.cholesky(views.cov_a), np.linalg.cholesky(views.cov_b)
    g = np.stack(np.meshgrid(nodes, nodes, indexing="ij"), -1).reshape(-1, 2)
    wg = np.outer(weights, weights).ravel()
    a, b = g @ la.T, g @ lb.T
    quad = np.log(wg @ np.exp(a @ w @ b.T) @ wg)
    assert bilinear_log_partition(w, views.cov_a, views.cov_b) == pytest.approx(quad, abs=1e-12)


def test_bilinear_critic_is_the_quadratic_critic_with_off_diagonal_h():
    views = random_gaussian_views(3, 2, [0.8, 0.4], seed=4)
    w = _scaled_critic(views, 0.7, seed=5)
    h = np.block([[np.zeros((3, 3)), w], [w.T, np.zeros((2, 2))]])
    assert quadratic_critic_dv(QuadraticCritic(h, 0.0), views) == pytest.approx(
        bilinear_dv(w, views), abs=1e-12
    )


def test_optimal_critic_attains_mi_and_beats_every_bilinear_critic():
    views = random_gaussian_views(3, 4, [0.95, 0.5], seed=6)
    mi = views.mi()
    assert quadratic_critic_dv(optimal_critic(views), views) == pytest.approx(mi, abs=1e-10)
    assert best_bilinear_dv(views) < mi
    for seed in range(20):
        assert bilinear_dv(_scaled_critic(views, 0.9, seed), views) <= best_bilinear_dv(views)


def test_best_bilinear_dv_matches_numerical_maximization():
    views = random_gaussian_views(2, 2, [0.9, 0.3], seed=7)

    def neg(wflat):
        w = wflat.reshape(2, 2)
        if np.linalg.eigvalsh(bilinear_kernel(w, views.cov_a, views.cov_b)).max() >= 0.999:
            return 1e6
        return -bilinear_dv(w, views)

    res = minimize(neg, np.zeros(4), method="Nelder-Mead",
                   options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 20000})
    assert -res.fun == pytest.approx(best_bilinear_dv(views), abs=1e-8)


def test_taylor_error_equals_log_det_minus_half_trace():
    views = random_gaussian_views(3, 3, [0.7], seed=8)
    for rho in (1e-3, 0.1, 0.5, 0.9):
        w = _scaled_critic(views, rho, seed=9)
        k = bilinear_kernel(w, views.cov_a, views.cov_b)
        exact = -0.5 * np.linalg.slogdet(np.eye(3) - k)[1] - 0.5 * np.trace(k)
        err = bilinear_taylor_error(w, views.cov_a, views.cov_b)
        # cancellation in the log-det route costs ~1e-16·M absolute; relative 1e-9 is ample
        assert err == pytest.approx(exact, rel=1e-9, abs=1e-15)
        assert bilinear_log_partition(w, views.cov_a, views.cov_b) == pytest.approx(
            bilinear_taylor_surrogate(w, views.cov_a, views.cov_b) + err, rel=1e-12
        )


def _torch_dv(views):
    sa, sb, c = (torch.tensor(m) for m in (views.sqrt_a, views.sqrt_b, views.cov_ab))

    def f(enc_a, enc_b):
        x = sa @ enc_a.T @ enc_b @ sb
        eye = torch.eye(x.shape[1], dtype=torch.float64)
        return torch.sum(enc_a * (enc_b @ c.T)) + 0.5 * torch.logdet(eye - x.T @ x)

    return f


def test_linear_encoder_gradients_match_autograd():
    views = random_gaussian_views(3, 2, [0.8, 0.2], seed=10)
    rng = np.random.default_rng(11)
    enc_a, enc_b = 0.4 * rng.normal(size=(4, 3)), 0.4 * rng.normal(size=(4, 2))
    ta = torch.tensor(enc_a, requires_grad=True)
    tb = torch.tensor(enc_b, requires_grad=True)
    val = _torch_dv(views)(ta, tb)
    val.backward()
    val = val.detach()
    ga, gb = linear_encoders_dv_grad(views, enc_a, enc_b)
    assert linear_encoders_dv(views, enc_a, enc_b) == pytest.approx(val.item(), abs=1e-12)
    np.testing.assert_allclose(ga, ta.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(gb, tb.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("block", ["a", "b"])
def test_block_smoothness_bounds_the_hessian(block):
    # The block Hessian (autograd) must be negative semi-definite with spectrum ≥ −L(ρ(K)).
    views = random_gaussian_views(3, 2, [0.9, 0.4], seed=12)
    f = _torch_dv(views)
    rng = np.random.default_rng(13)
    for _ in range(10):
        enc_a, enc_b = rng.normal(size=(2, 3)), rng.normal(size=(2, 2))
        scale = (rng.uniform(0.05, 0.95) / coupling_radius(views, enc_a, enc_b)) ** 0.25
        enc_a, enc_b = enc_a * scale, enc_b * scale
        rho = coupling_radius(views, enc_a, enc_b)
        ta, tb = torch.tensor(enc_a), torch.tensor(enc_b)
        if block == "a":
            def g(x, tb=tb):
                return f(x.reshape(2, 3), tb)
            point = ta.ravel()
        else:
            def g(x, ta=ta):
                return f(ta, x.reshape(2, 2))
            point = tb.ravel()
        hess = torch.autograd.functional.hessian(g, point)
        eig = torch.linalg.eigvalsh(hess).numpy()
        assert eig.max() <= 1e-9  # concave in each block
        assert -eig.min() <= block_smoothness(views, enc_a, enc_b, block, rho) * (1 + 1e-9)


def test_block_smoothness_is_tight_in_one_dimension():
    # Scalar case, unit variances: L(a) = a c b + ½ log(1 − a²b²), −L'' = b²(1+x²)/(1−x²)², x = ab.
    views = GaussianViews(np.array([[1.0, 0.5], [0.5, 1.0]]), 1)
    a, b = np.array([[0.7]]), np.array([[1.1]])
    x2 = (0.7 * 1.1) ** 2
    expected = 1.1**2 * (1 + x2) / (1 - x2) ** 2
    assert block_smoothness(views, a, b, "a", x2) == pytest.approx(expected, rel=1e-12)
    eps = 1e-4
    second = (
        linear_encoders_dv(views, a + eps, b) - 2 * linear_encoders_dv(views, a, b)
        + linear_encoders_dv(views, a - eps, b)
    ) / eps**2
    assert -second == pytest.approx(expected, rel=1e-5)


# ---------------------------------------------------------------- bad input


def test_rejects_non_psd_nonsymmetric_nan_and_bad_shapes():
    good = np.eye(2)
    with pytest.raises(ValueError, match="positive semi-definite"):
        bilinear_log_partition(np.eye(2), np.diag([1.0, -1.0]), good)
    with pytest.raises(ValueError, match="symmetric"):
        bilinear_log_partition(np.eye(2), np.array([[1.0, 0.5], [0.0, 1.0]]), good)
    with pytest.raises(ValueError, match="NaN"):
        bilinear_log_partition(np.array([[np.nan, 0], [0, 0.1]]), good, good)
    with pytest.raises(ValueError, match="shape"):
        bilinear_log_partition(np.eye(3), good, good)
    with pytest.raises(ValueError, match="square"):
        bilinear_log_partition(np.eye(2), np.ones((2, 3)), good)
    with pytest.raises(TypeError, match="numpy array"):
        bilinear_log_partition("w", good, good)
    with pytest.raises(ValueError, match="positive semi-definite"):
        GaussianViews(np.array([[1.0, 2.0], [2.0, 1.0]]), 1)
    with pytest.raises(ValueError, match="dim_a"):
        GaussianViews(np.eye(3), 3)
    with pytest.raises(ValueError, match="dim_a"):
        GaussianViews(np.eye(3), True)


def test_rejects_spectral_radius_at_or_above_one():
    with pytest.raises(ValueError, match=r"ρ\(K\) < 1"):
        bilinear_log_partition(np.eye(2), np.eye(2), np.eye(2))
    with pytest.raises(ValueError, match=r"ρ\(K\) < 1"):
        bilinear_taylor_error(2 * np.eye(2), np.eye(2), np.eye(2))
    views = GaussianViews(np.eye(4), 2)
    with pytest.raises(ValueError, match=r"ρ\(K\) < 1"):
        linear_encoders_dv_grad(views, np.eye(2), 1.5 * np.eye(2))
    with pytest.raises(ValueError, match="quadratic critic"):
        quadratic_critic_dv(QuadraticCritic(2 * np.eye(4), 0.0), views)


def test_rejects_bad_encoders_and_parameters():
    views = GaussianViews(np.eye(4), 2)
    with pytest.raises(ValueError, match="enc_a"):
        linear_encoders_dv(views, np.eye(3), np.eye(2))
    with pytest.raises(ValueError, match="enc_b"):
        linear_encoders_dv(views, np.eye(2), np.eye(3))
    with pytest.raises(TypeError, match="GaussianViews"):
        linear_encoders_dv(np.eye(4), np.eye(2), np.eye(2))
    with pytest.raises(ValueError, match="rho_max"):
        block_smoothness(views, 0.1 * np.eye(2), 0.1 * np.eye(2), "a", 1.0)
    with pytest.raises(ValueError, match="block"):
        block_smoothness(views, 0.1 * np.eye(2), 0.1 * np.eye(2), "c", 0.5)
    with pytest.raises(ValueError, match="correlations"):
        random_gaussian_views(2, 2, [1.0], seed=0)
    with pytest.raises(ValueError, match="positive definite"):
        optimal_critic(GaussianViews(np.ones((2, 2)), 1))


def test_optimal_critic_marginal_variance_rejects_bad_input_and_vanishes_without_dependence():
    from mitheory.closed_forms import optimal_critic_marginal_variance as var

    assert var(8, 0.0, 3) == pytest.approx(0.0, abs=1e-15)  # T* ≡ 0: m̂ ≡ 1
    assert var(16, 0.3, 2) < var(8, 0.3, 2) < var(8, 0.5, 2)
    for bad in [dict(n=1, rho=0.3, dim=2), dict(n=8, rho=1.0, dim=2), dict(n=8, rho=0.3, dim=0)]:
        with pytest.raises(ValueError):
            var(**bad)
