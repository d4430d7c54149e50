"""At independence no estimator may invent MI: over 10 seeds of independent 2 + 2-dim Gaussians
(n = 2000) an interval may exclude 0 in at most 2 seeds (issue 10's bar; at a correct 95 % level
the chance of 3 or more of 10 is 1.2 %). The same rule on weakly dependent data (the negative
control, I = 0.05 nats) must find the dependence in most seeds, so the rule can fail."""

from __future__ import annotations

import math

import numpy as np
import pytest

from estimators import estimate_mi
from mitheory.distributions import DenseGaussian, SparseGaussian

SEEDS = range(10)
N = 2000


def _excluding_zero(method: str, rho: float) -> tuple[int, list[float]]:
    task = SparseGaussian(2, 2, 1, rho) if rho else None
    count, estimates = 0, []
    for seed in SEEDS:
        if task is None:
            rng = np.random.default_rng(1000 + seed)
            x, y = rng.normal(size=(N, 2)), rng.normal(size=(N, 2))
        else:
            x, y = task.sample(N, seed=1000 + seed)
        r = estimate_mi(x, y, method=method, seed=seed)
        count += r.ci[0] > 0 or r.ci[1] < 0
        estimates.append(r.mi)
    return count, estimates


RHO_CONTROL = math.sqrt(-math.expm1(-0.1))  # one pair carrying 0.05 nats


@pytest.mark.parametrize("method", ["auto", "flow", "ksg", "gaussian"])
def test_no_mi_invented_at_independence_and_the_control_is_detected(method):
    excluded, estimates = _excluding_zero(method, 0.0)
    assert excluded <= 2, (method, estimates)
    if method in ("flow", "gaussian"):  # cheap enough for the control in the default run
        detected, _ = _excluding_zero(method, RHO_CONTROL)
        assert detected >= 8


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dv", "infonce", "smile", "nwj", "jsd", "mine"])
def test_no_mi_invented_at_independence_neural(method):
    excluded, estimates = _excluding_zero(method, 0.0)
    assert excluded <= 2, (method, estimates)


def test_infonce_accuracy_on_a_five_dim_gaussian():
    """A neural accuracy case in the default run: InfoNCE on a dense 5 + 5 Gaussian (I = 0.593),
    n = 2000. InfoNCE is a lower bound in expectation, far below its ceiling log 400 here; the
    estimate must lie within its interval widened by 10 % of I (the trained critic's gap) and
    must not exceed the truth by more than 3 SE."""
    task = DenseGaussian(5, 5, 0.5)
    x, y = task.sample(N, seed=21)
    r = estimate_mi(x, y, method="infonce", seed=0)
    se = (r.ci[1] - r.ci[0]) / (2 * 1.96)
    assert r.ci[0] - 0.1 * task.mi <= task.mi <= r.ci[1] + 0.1 * task.mi
    assert r.mi <= task.mi + 3 * se
