"""Block and simultaneous updates of the linear two-encoder model; the cosine joint term."""

import numpy as np
import pytest
import torch

from estimators.bounds import cos_dv
from mitheory.alternating import (
    CollapseConfig,
    alternating_ascent,
    block_step,
    cosine_dv,
    cosine_joint_term,
    fixed_step_ascent,
    init_encoders,
    joint_term_only_ascent,
    normalized_embedding_std,
)
from mitheory.closed_forms import (
    GaussianViews,
    block_smoothness,
    coupling_radius,
    linear_encoders_dv,
    linear_encoders_dv_grad,
    random_gaussian_views,
)


@pytest.fixture
def problem():
    views = random_gaussian_views(3, 2, [0.9, 0.5], seed=0)
    enc_a, enc_b = init_encoders(views, 3, 0.4, seed=1)
    return views, enc_a, enc_b


def test_init_encoders_hit_the_requested_radius(problem):
    views, enc_a, enc_b = problem
    assert coupling_radius(views, enc_a, enc_b) == pytest.approx(0.4, rel=1e-10)
    assert enc_a.shape == (3, 3) and enc_b.shape == (3, 2)


@pytest.mark.parametrize("block", ["a", "b"])
def test_block_step_moves_only_its_block_and_meets_the_descent_lemma(problem, block):
    views, enc_a, enc_b = problem
    s = block_step(views, enc_a, enc_b, block, 1.0, 0.9)
    frozen_before, frozen_after = (enc_b, s.enc_b) if block == "a" else (enc_a, s.enc_a)
    np.testing.assert_array_equal(frozen_before, frozen_after)  # stop-gradient on the other block
    assert s.step == pytest.approx(1.0 / block_smoothness(views, enc_a, enc_b, block, 0.9))
    assert s.dv_before == pytest.approx(linear_encoders_dv(views, enc_a, enc_b), abs=0)
    assert s.guaranteed_increase > 0
    assert s.dv_after - s.dv_before >= s.guaranteed_increase - 1e-12


def test_block_step_halves_the_step_to_stay_in_the_region(problem):
    views, enc_a, enc_b = problem
    # Push the point to the optimum direction so that a full 1/L step crosses ρ_max.
    traj, hist = alternating_ascent(views, enc_a, enc_b, 40, 1.0, None)
    a, b = hist[-1].enc_a, hist[-1].enc_b
    rho = coupling_radius(views, a, b)
    s = block_step(views, a, b, "a", 1.0, rho + 1e-9)
    assert s.halvings > 0
    assert coupling_radius(views, s.enc_a, s.enc_b) <= rho + 1e-9
    assert s.dv_after >= s.dv_before - 1e-12
    assert traj.worst_change > 0


def test_alternating_trajectory_records_every_block_step(problem):
    views, enc_a, enc_b = problem
    traj, hist = alternating_ascent(views, enc_a, enc_b, 5)
    assert len(traj.dv) == 11 and len(hist) == 10
    assert [h.block for h in hist[:2]] == ["a", "b"]
    assert traj.dv[1:] == [h.dv_after for h in hist]


def test_simultaneous_huge_step_is_reported_as_diverged(problem):
    views, enc_a, enc_b = problem
    traj = fixed_step_ascent(views, enc_a, enc_b, 10, 1e3)
    assert traj.diverged and len(traj.dv) == 1


def test_fixed_step_schedules_differ_only_in_where_the_gradient_is_taken(problem):
    views, enc_a, enc_b = problem
    step = 0.01
    sim = fixed_step_ascent(views, enc_a, enc_b, 1, step, "simultaneous")
    alt = fixed_step_ascent(views, enc_a, enc_b, 1, step, "alternating")
    assert len(sim.dv) == 2 and len(alt.dv) == 3
    ga, gb = linear_encoders_dv_grad(views, enc_a, enc_b)
    assert sim.dv[1] == pytest.approx(
        linear_encoders_dv(views, enc_a + step * ga, enc_b + step * gb), abs=1e-14
    )
    new_a = enc_a + step * ga
    gb_new = linear_encoders_dv_grad(views, new_a, enc_b)[1]
    assert alt.dv[2] == pytest.approx(
        linear_encoders_dv(views, new_a, enc_b + step * gb_new), abs=1e-14
    )
    with pytest.raises(ValueError, match="schedule"):
        fixed_step_ascent(views, enc_a, enc_b, 1, step, "jacobi")


def test_updates_reject_bad_arguments(problem):
    views, enc_a, enc_b = problem
    with pytest.raises(ValueError, match="step_fraction"):
        block_step(views, enc_a, enc_b, "a", 1.5, 0.9)
    with pytest.raises(ValueError, match="rho_max"):
        block_step(views, enc_a, enc_b, "a", 1.0, 0.3)  # current ρ = 0.4 outside the region
    with pytest.raises(ValueError, match="rounds"):
        alternating_ascent(views, enc_a, enc_b, 0)
    with pytest.raises(ValueError, match="step"):
        fixed_step_ascent(views, enc_a, enc_b, 3, float("nan"))
    with pytest.raises(ValueError, match="rho"):
        init_encoders(views, 2, 1.0, seed=0)
    with pytest.raises(ValueError, match="dim_out"):
        init_encoders(views, 0, 0.5, seed=0)


def test_cosine_dv_agrees_with_the_estimators_package():
    g = torch.Generator().manual_seed(0)
    z_a = torch.randn(64, 5, generator=g)
    z_b = z_a + 0.5 * torch.randn(64, 5, generator=g)
    assert float(cosine_dv(z_a, z_b, 0.2)) == pytest.approx(float(cos_dv(z_a, z_b, 0.2)), rel=1e-5)


def test_constant_encoder_attains_the_joint_maximum_with_zero_dv():
    z = torch.ones(32, 4, dtype=torch.float64) * torch.tensor([1.0, -2.0, 0.5, 3.0])
    assert float(cosine_joint_term(z, z.clone(), 0.1)) == pytest.approx(10.0, rel=1e-12)
    assert float(cosine_dv(z, z.clone(), 0.1)) == pytest.approx(0.0, abs=1e-12)
    assert normalized_embedding_std(z) == pytest.approx(0.0, abs=1e-12)


def test_cosine_functions_reject_bad_input():
    z = torch.randn(8, 3)
    with pytest.raises(ValueError, match="tau"):
        cosine_joint_term(z, z, 0.0)
    with pytest.raises(ValueError, match="equal shapes"):
        cosine_dv(z, torch.randn(8, 4), 0.1)
    with pytest.raises(TypeError, match="torch"):
        cosine_dv(z.numpy(), z, 0.1)
    with pytest.raises(ValueError, match="equal view dimensions"):
        joint_term_only_ascent(GaussianViews(np.eye(5), 2), CollapseConfig(steps=2), seed=0)
