"""Claim T8 (CLAIMS.md): block ascent of the DV with a cosine critic and MLP encoders.

The verdict and its control come from ``mitheory.claims.nonconcave`` at the quick-report budget
(seed 0), the call the report renders; the other tests check the machinery it rests on: the block
curvature is the Hessian's spectral norm (against finite differences), the objective is a
deterministic function of the parameters (common random numbers), and the probes measure what
the schemes do (a tiny step raises F by η‖g‖² to first order).
"""

from __future__ import annotations

import math

import pytest
import torch

from mitheory.nonconcave import (
    STEP_FACTORS,
    Objective,
    Problem,
    median_interval,
    probe_point,
    sample_pairs,
    wilson_interval,
)


def test_T8_verdict(claim_check, claim_result, section_data):
    claim = claim_result("T8")
    t8 = section_data("nonconcave")["t8"]
    assert t8["rule"]["broken"] == 0 and t8["rule"]["interval"][1] < 0.1  # the finding
    # the control breaks it: minibatch steps lower the DV at f ≤ 1 in a clear share of pairs
    assert t8["control"]["interval"][0] > 0.1
    # where monotonicity fails: some full-batch update decreases at a factor > 1 (it is not
    # monotone at every step size, so the rule's region is a finding, not a tautology)
    assert t8["falsifying_case"]["factor"] is not None and t8["falsifying_case"]["factor"] > 1
    assert claim.figure == pytest.approx(t8["rule"]["interval"][1])
    claim_check(claim)


def _objective(activation: str = "tanh", seed: int = 0) -> tuple[Objective, torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    problem = Problem(activation=activation, n_pairs=64)
    objective = Objective(problem, sample_pairs(problem, problem.n_pairs, g))
    return objective, objective.init(g), objective.init(g)


def test_block_curvature_is_the_hessian_spectral_norm():
    """Against a central finite-difference Hessian of F in θ (float64, step 1e-4: error O(h²))."""
    objective, theta, xi = _objective()
    l_theta, _ = objective.block_curvature(theta, xi)
    n, h = theta.numel(), 1e-4
    fd = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        e = torch.zeros(n, dtype=torch.float64)
        e[i] = h
        up, down = objective.block_grad(theta + e, xi, 0), objective.block_grad(theta - e, xi, 0)
        fd[:, i] = (up - down) / (2 * h)
    fd = 0.5 * (fd + fd.T)
    assert l_theta == pytest.approx(float(torch.linalg.eigvalsh(fd).abs().max()), rel=1e-5)


def test_objective_is_deterministic_and_tiny_steps_rise_as_predicted():
    objective, theta, xi = _objective("relu", seed=3)
    assert float(objective(theta, xi)) == float(objective(theta.clone(), xi.clone()))
    g = objective.block_grad(theta, xi, 0)
    eta = 1e-6
    change = float(objective(theta + eta * g, xi) - objective(theta, xi))
    assert change == pytest.approx(eta * float(g @ g), rel=1e-3)  # first order, O(η²) left


def test_probe_point_schemes_are_what_they_say():
    objective, theta, xi = _objective()
    r = probe_point(objective, theta, xi, factors=(0.5, 4.0))
    l_t, l_x = r.curvature
    f = 4.0
    theta_new = theta + (f / l_t) * objective.block_grad(theta, xi, 0)
    xi_sim = xi + (f / l_x) * objective.block_grad(theta, xi, 1)
    xi_alt = xi + (f / l_x) * objective.block_grad(theta_new, xi, 1)
    f0 = float(objective(theta, xi))
    assert r.simultaneous[1] == pytest.approx(float(objective(theta_new, xi_sim)) - f0, abs=1e-12)
    assert r.alternating[1] == pytest.approx(float(objective(theta_new, xi_alt)) - f0, abs=1e-12)
    assert r.alternating[1] == pytest.approx(r.e_step[1] + r.m_step[1], abs=1e-12)
    with pytest.raises(ValueError, match="generator"):
        probe_point(objective, theta, xi, batch=8)


def test_intervals():
    lo, hi = wilson_interval(0, 48)
    assert lo == pytest.approx(0.0, abs=1e-15)
    assert hi == pytest.approx(3.8415 / (48 + 3.8415), rel=1e-3)
    lo, hi = median_interval([1.0] * 5 + [math.inf] * 6)
    assert lo == 1.0 and math.isinf(hi)
    assert STEP_FACTORS[0] < 1 < STEP_FACTORS[-1]
    with pytest.raises(ValueError, match="activation"):
        Problem(activation="gelu")
