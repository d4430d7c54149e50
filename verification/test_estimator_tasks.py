"""E4 (estimators recover known MI on the task set) and E5 (invariance under MI-preserving maps).

Tolerances (stated once, used by every check below):

* E4 accepts an estimate Î of the closed form I when |Î − I| ≤ δ·I + z·SE. δ = 0.10 is the stated
  bias tolerance (10 % relative error ≈ 0.14 in |log2(Î / I)|, inside the benchmark's bar of
  0.15); SE is the estimator's own standard error, read off its 95 % CI as half-width / 1.96; and
  z = 3 is the sampling allowance, so an estimator whose bias is within δ fails a check with
  probability ≈ 0.3 %. For the Gaussian plug-in on Gaussian tasks δ = 0 (it is exactly unbiased
  there after the Wishart correction), so that check is purely statistical.
* E5 compares the same estimator on paired samples (x, y) and (f(x), g(y)) from one seed:
  |Î − Î_f| ≤ δ·I + z·√(SE² + SE_f²), δ = 0.10, z = 3. Treating the two estimates as
  independent overstates the noise of their difference (paired estimates are positively
  correlated), so the z·√… part is conservative and δ carries the claim. One E5 test shows the
  criterion has teeth: it flags a (non-invertible) map that does change the MI.

Default tests use n ≤ 2000 and low-dimensional tasks (where KSG's bias is below δ); the full task
set at n = 5000 with the neural estimators is in the ``slow`` tests and in
``benchmarks/estimators_bench.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from estimators import estimate_mi
from mitheory.distributions import (
    AdditiveUniform,
    DenseGaussian,
    GaussianStaircase,
    SparseGaussian,
    StudentT,
    task_set,
)
from mitheory.transforms import asinh, half_cube, linear_mixing, nonlinear_mixing, normal_cdf

DELTA = 0.10
Z = 3.0
Z95 = 1.959963984540054


@pytest.fixture(autouse=True)
def _single_torch_thread():
    """Small models and matrices are slower with several threads on a shared 2-core machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def standard_error(result) -> float:
    return (result.ci[1] - result.ci[0]) / (2.0 * Z95)


def e4_ok(result, truth: float, delta: float = DELTA) -> bool:
    return abs(result.mi - truth) <= delta * truth + Z * standard_error(result)


def e5_ok(plain, transformed, truth: float) -> bool:
    noise = math.hypot(standard_error(plain), standard_error(transformed))
    return abs(plain.mi - transformed.mi) <= DELTA * truth + Z * noise


LOW_DIM_TASKS = [
    DenseGaussian(1, 1, 0.75),
    SparseGaussian(2, 2, 2, 0.6),
    StudentT(2, 2, 3.0, 2, 0.6),
    StudentT(2, 2, 5.0, 2, 0.6),
    asinh(StudentT(2, 2, 3.0, 2, 0.6)),
    AdditiveUniform(1, 0.3),
]


@pytest.mark.parametrize("task", LOW_DIM_TASKS, ids=lambda t: t.task_id)
def test_E4_ksg_recovers_known_mi_on_low_dimensional_tasks(task):
    x, y = task.sample(2000, seed=0)
    result = estimate_mi(x, y, method="ksg", seed=0)
    assert e4_ok(result, task.mi), (result.mi, result.ci, task.mi)


@pytest.mark.parametrize(
    "task",
    [DenseGaussian(5, 5, 0.5), DenseGaussian(25, 25, 0.2), SparseGaussian(25, 25, 4, 0.6),
     GaussianStaircase(10.0)],
    ids=lambda t: t.task_id,
)
def test_E4_gaussian_plugin_is_exact_on_gaussian_tasks(task):
    x, y = task.sample(2000, seed=1)
    result = estimate_mi(x, y, method="gaussian", seed=0)
    assert e4_ok(result, task.mi, delta=0.0), (result.mi, result.ci, task.mi)


def test_E4_trained_infonce_recovers_gaussian_mi():
    """A trained critic (InfoNCE, short training) on the 1 + 1 Gaussian at n = 1000."""
    task = DenseGaussian(1, 1, 0.75)
    x, y = task.sample(1000, seed=2)
    result = estimate_mi(x, y, method="infonce", seed=0, max_steps=300)
    assert e4_ok(result, task.mi), (result.mi, result.ci, task.mi)


E5_BASES = [StudentT(2, 2, 3.0, 2, 0.6), SparseGaussian(2, 2, 1, 0.7), AdditiveUniform(1, 0.3)]
E5_TRANSFORMS = [half_cube, asinh, normal_cdf, linear_mixing]


@pytest.mark.parametrize("base", E5_BASES, ids=lambda t: t.task_id)
@pytest.mark.parametrize("wrap", E5_TRANSFORMS, ids=lambda f: f.__name__)
def test_E5_ksg_invariant_under_mi_preserving_transforms(base, wrap):
    transformed = wrap(base)
    assert transformed.mi == base.mi
    plain = estimate_mi(*base.sample(2000, seed=3), method="ksg", seed=0)
    mapped = estimate_mi(*transformed.sample(2000, seed=3), method="ksg", seed=0)
    assert e5_ok(plain, mapped, base.mi), (plain.mi, mapped.mi, base.mi)


def test_E5_criterion_flags_a_map_that_changes_mi():
    """The E5 tolerance is not vacuous: replacing X by X + N(0, I) (not invertible, MI drops from
    2 · ½ log(1/(1 − 0.36)) = 0.446 to 2 · ½ log(1/(1 − 0.18)) = 0.198 nats) is flagged."""
    base = SparseGaussian(2, 2, 2, 0.6)
    x, y = base.sample(2000, seed=3)
    noisy_x = x + np.random.default_rng(9).standard_normal(x.shape)
    plain = estimate_mi(x, y, method="ksg", seed=0)
    noisy = estimate_mi(noisy_x, y, method="ksg", seed=0)
    assert not e5_ok(plain, noisy, base.mi), (plain.mi, noisy.mi)
    assert e4_ok(noisy, -math.log(1 - 0.18)), noisy.mi  # and it lands on the new MI


NEURAL = ("smile", "infonce", "nwj")


def in_bar_scope(task) -> bool:
    """Tasks the accuracy bar is stated for (see benchmarks/estimators_bench.py)."""
    tid = task.task_id
    gaussian = tid.startswith("gaussian-") and max(task.dim_x, task.dim_y) <= 25 and task.mi <= 2
    return gaussian or tid.startswith(("student-t-", "halfcube-"))


# E4 is 'partial' in the register: on these tasks neither KSG nor a trained critic reaches the
# tolerance at n = 5000 (seed 0: KSG 0.438, SMILE 0.249, InfoNCE 0.556, NWJ 0.523 for I = 0.680;
# KSG 0.162, SMILE 0.413, InfoNCE 0.709, NWJ 0.606 for I = 0.893), since InfoNCE lost the
# training-size extrapolation that invented MI at independence. Strict: a fix must show up here.
E4_SHORT = {"gaussian-dense-25x25-rho0.2", "gaussian-sparse-25x25-4pairs-rho0.6"}


def _e4_param(task):
    if task.task_id not in E4_SHORT:
        return pytest.param(task, id=task.task_id)
    short = pytest.mark.xfail(strict=True, reason="E4 partial: no estimator within δ here")
    return pytest.param(task, id=task.task_id, marks=short)


@pytest.mark.slow
@pytest.mark.parametrize("task", [_e4_param(t) for t in task_set() if in_bar_scope(t)])
def test_E4_best_trained_or_knn_estimator_within_bar_at_n5000(task):
    """The best of KSG and the neural estimators (not the Gaussian plug-in) is within δ = 0.10
    (+ 3 SE) of the truth at n = 5000: the claim behind the benchmark's bar, on every task but
    the two where the register's 'partial' comes from (``E4_SHORT``)."""
    x, y = task.sample(5000, seed=0)
    results = [estimate_mi(x, y, method=m, seed=0) for m in ("ksg", *NEURAL)]
    assert any(e4_ok(r, task.mi) for r in results), [(r.method, r.mi) for r in results]


@pytest.mark.parametrize("wrap", [linear_mixing, nonlinear_mixing], ids=lambda f: f.__name__)
def test_E5_flow_invariant_under_coordinate_mixing_maps(wrap):
    """Maps that mix coordinates, which the normal scores cannot undo (so this compares two
    different inputs, not the estimator with itself): the flow must read the same MI."""
    base = SparseGaussian(2, 2, 2, 0.6)
    plain = estimate_mi(*base.sample(2000, seed=5), method="flow", seed=0)
    mapped = estimate_mi(*wrap(base).sample(2000, seed=5), method="flow", seed=0)
    assert e5_ok(plain, mapped, base.mi), (plain.mi, mapped.mi, base.mi)


@pytest.mark.slow
@pytest.mark.parametrize("method", NEURAL)
@pytest.mark.parametrize(
    ("wrap", "marginals"),
    [(linear_mixing, "normal-scores"), (nonlinear_mixing, "normal-scores"),
     (half_cube, "standardize"), (asinh, "standardize")],
    ids=["linear_mixing", "nonlinear_mixing", "half_cube-standardize", "asinh-standardize"],
)  # fmt: skip
def test_E5_neural_invariant_under_mi_preserving_transforms(method, wrap, marginals):
    """Coordinatewise maps (half cube, asinh) are undone exactly by the normal scores, so they
    are tested with standardized inputs, where the critic sees the transformed data; maps that
    mix coordinates are tested with the default normal scores."""
    base = SparseGaussian(2, 2, 2, 0.6)
    opts = {"method": method, "seed": 0, "marginals": marginals}
    plain = estimate_mi(*base.sample(5000, seed=5), **opts)
    mapped = estimate_mi(*wrap(base).sample(5000, seed=5), **opts)
    assert e5_ok(plain, mapped, base.mi), (plain.mi, mapped.mi, base.mi)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
def test_E4_ksg_ci_coverage_on_student_t(seed):
    """Repeated E4 check at n = 5000 over seeds on the heavy-tailed ν = 3 task."""
    task = StudentT(2, 2, 3.0, 2, 0.6)
    result = estimate_mi(*task.sample(5000, seed=10 + seed), method="ksg", seed=seed)
    assert e4_ok(result, task.mi), (result.mi, task.mi)
    assert np.isfinite(result.ci).all()


@pytest.mark.slow
@pytest.mark.parametrize("level", [2.0, 4.0, 6.0])
def test_E4_smile_tracks_the_staircase_within_one_nat(level):
    """SMILE (clip τ = 5) on the 20 + 20 staircase up to 6 nats: |Î − I| ≤ 1 nat + 3 SE. The nat
    is the claim's tolerance; SMILE is not a bound (its clip biases it down at low and up at high
    MI: 1.55, 3.82, 6.83 at seed 0 for 2, 4, 6 nats); 3 SE is the sampling allowance."""
    task = GaussianStaircase(level)
    result = estimate_mi(*task.sample(5000, seed=0), method="smile", seed=0)
    assert abs(result.mi - level) <= 1.0 + Z * standard_error(result), (result.mi, result.ci)


def test_E4_verdict(claim_check) -> None:
    """The verdict of the report's one implementation of E4 (mitheory.claims), asserted."""
    claim_check("E4")


def test_E5_verdict(claim_check) -> None:
    """The verdict of the report's one implementation of E5 (mitheory.claims), asserted."""
    claim_check("E5")
