"""Helpers of the Gaussian report sections."""

import numpy as np
import pytest

from mitheory.claims.gaussian import fit_loglog_slope, random_problem, unit_critic
from mitheory.closed_forms import bilinear_kernel, random_gaussian_views


def test_loglog_slope_recovers_a_power_law():
    x = np.geomspace(0.01, 1.0, 9)
    assert fit_loglog_slope(x, 3.0 * x**4) == pytest.approx(4.0, abs=1e-12)
    assert fit_loglog_slope(x, x**2) == pytest.approx(2.0, abs=1e-12)


def test_loglog_slope_rejects_bad_input():
    with pytest.raises(ValueError, match="positive"):
        fit_loglog_slope(np.array([1.0, 2.0]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="equal length"):
        fit_loglog_slope(np.array([1.0, 2.0]), np.array([1.0]))


def test_unit_critic_has_unit_spectral_radius_and_problems_are_reproducible():
    views = random_gaussian_views(3, 2, [0.5], seed=0)
    w = unit_critic(views, seed=1)
    k = bilinear_kernel(w, views.cov_a, views.cov_b)
    assert np.linalg.eigvalsh(k).max() == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_array_equal(random_problem(5).cov, random_problem(5).cov)
    assert random_problem(5).cov.shape != random_problem(6).cov.shape or not np.array_equal(
        random_problem(5).cov, random_problem(6).cov
    )
