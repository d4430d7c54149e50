"""Known-MI tasks: closed forms against independent computations, ids, seeding, bad parameters.

Tolerances: a Monte Carlo or plug-in estimate m of a closed form with standard error se is accepted
when |m − closed form| ≤ 4 se (two-sided false-alarm rate 6e-5 per check); formulas that are
checked against another exact formula use floating-point tolerances.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_t
from scipy.stats import t as student_t

from estimators.gaussian import gaussian_plugin
from mitheory.closed_forms import gaussian_mi
from mitheory.distributions import (
    AdditiveUniform,
    DenseGaussian,
    GaussianStaircase,
    SparseGaussian,
    StudentT,
    additive_uniform_mi,
    student_t_mi_correction,
    task_by_id,
    task_set,
)
from mitheory.transforms import (
    MAX_MIXING_CONDITION,
    TransformedTask,
    asinh,
    half_cube,
    linear_mixing,
    mixing_matrix,
    normal_cdf,
)

Z_TOL = 4.0


@pytest.fixture(autouse=True)
def _single_torch_thread():
    """Tiny batched linear algebra is slower with several threads on a shared 2-core machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize(
    "task",
    [
        DenseGaussian(1, 1, 0.75),
        DenseGaussian(5, 5, 0.5),
        DenseGaussian(4, 6, -0.05),
        SparseGaussian(5, 5, 2, 0.8),
        SparseGaussian(3, 7, 3, -0.5),
        GaussianStaircase(6.0),
    ],
    ids=lambda t: t.task_id,
)
def test_gaussian_closed_form_matches_plugin_on_large_sample(task):
    """The bias-corrected plug-in is unbiased for Gaussian data; its bootstrap SE sets the band."""
    x, y = task.sample(20_000, seed=3)
    result = gaussian_plugin(x, y, seed=0, n_boot=100)
    assert abs(result.mi - task.mi) <= Z_TOL * result.diagnostics["se"], (result.mi, task.mi)


def test_sparse_and_staircase_closed_forms_agree_with_log_det_formula():
    for task in (SparseGaussian(4, 3, 2, 0.7), GaussianStaircase(4.0, dim=5)):
        d = task.dim_x + task.dim_y
        cov = np.eye(d)
        for i in range(task.n_pairs if hasattr(task, "n_pairs") else task.dim):
            cov[i, task.dim_x + i] = cov[task.dim_x + i, i] = task.rho
        assert task.mi == pytest.approx(gaussian_mi(cov, task.dim_x), rel=1e-12)
    assert GaussianStaircase(4.0, dim=5).mi == pytest.approx(4.0, rel=1e-12)


@pytest.mark.parametrize("dof,dim_x,dim_y", [(3.0, 1, 1), (5.0, 2, 3), (1.5, 4, 2)])
def test_student_t_correction_matches_scipy_entropies(dof, dim_x, dim_y):
    """c = h_x + h_y − h_xy for Σ = I (no Gaussian part), with scipy's entropy of the t."""

    def h(d: int) -> float:
        return float(multivariate_t(np.zeros(d), np.eye(d), df=dof).entropy())

    expected = h(dim_x) + h(dim_y) - h(dim_x + dim_y)
    assert student_t_mi_correction(dof, dim_x, dim_y) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("task", [StudentT(1, 1, 3.0, 1, 0.5), StudentT(2, 2, 5.0, 2, 0.6)],
                         ids=lambda t: t.task_id)
def test_student_t_mi_matches_monte_carlo_of_exact_log_densities(task):
    """I = E[log p(x, y) − log p(x) − log p(y)], averaged over 200k samples with exact densities."""
    n = 200_000
    x, y = task.sample(n, seed=11)
    d = task.dim_x + task.dim_y
    scale = np.eye(d)
    for i in range(task.n_pairs):
        scale[i, task.dim_x + i] = scale[task.dim_x + i, i] = task.rho
    joint = multivariate_t(np.zeros(d), scale, df=task.dof).logpdf(np.hstack([x, y]))
    marg_x = multivariate_t(np.zeros(task.dim_x), scale[: task.dim_x, : task.dim_x],
                            df=task.dof).logpdf(x)
    marg_y = multivariate_t(np.zeros(task.dim_y), scale[task.dim_x :, task.dim_x :],
                            df=task.dof).logpdf(y)
    terms = joint - np.atleast_1d(marg_x) - np.atleast_1d(marg_y)
    se = terms.std(ddof=1) / math.sqrt(n)
    assert abs(terms.mean() - task.mi) <= Z_TOL * se, (terms.mean(), task.mi, se)


def test_student_t_marginals_are_t_distributed():
    """Each coordinate of the sampler is univariate t_ν (Kolmogorov–Smirnov, α = 1e-3)."""
    from scipy.stats import kstest

    x, y = StudentT(2, 2, 3.0, 2, 0.6).sample(20_000, seed=2)
    for column in (x[:, 0], y[:, 1]):
        assert kstest(column, student_t(3.0).cdf).pvalue > 1e-3


def test_student_t_correction_vanishes_in_the_gaussian_limit():
    """c(ν) → 0 as ν → ∞ (t → Gaussian); c is positive and decreasing in ν."""
    values = [student_t_mi_correction(nu, 2, 2) for nu in (1.0, 3.0, 10.0, 100.0, 1e5)]
    assert all(a > b > 0 for a, b in itertools.pairwise(values))
    assert values[-1] < 1e-7


@pytest.mark.parametrize("eps", [0.3, 1.0, 2.5])
def test_additive_uniform_mi_matches_monte_carlo(eps):
    """I = E[log p(y | x) − log p(y)], p(y | x) = 1/ε, p(y) the trapezoid (X ~ U(0,1) ⊛ U(ε))."""
    n = 200_000
    task = AdditiveUniform(1, eps)
    _, y = task.sample(n, seed=5)
    u = y[:, 0] + eps / 2.0  # Y + ε/2 = X + U(0, ε): density min(u, 1, ε, 1 + ε − u) / ε
    density = np.minimum.reduce([u, np.ones(n), np.full(n, eps), 1.0 + eps - u]) / eps
    terms = -math.log(eps) - np.log(density)
    se = terms.std(ddof=1) / math.sqrt(n)
    assert abs(terms.mean() - task.mi) <= Z_TOL * se, (terms.mean(), task.mi)
    assert AdditiveUniform(3, eps).mi == pytest.approx(3 * additive_uniform_mi(eps))


def test_task_ids_are_stable_and_distinct():
    ids = [task.task_id for task in task_set()]
    assert len(ids) == len(set(ids))
    # The ids are a public contract (benchmarks and reports key on them).
    assert ids[:4] == [
        "gaussian-dense-1x1-rho0.75",
        "gaussian-dense-5x5-rho0.5",
        "gaussian-dense-25x25-rho0.2",
        "gaussian-sparse-5x5-2pairs-rho0.8",
    ]
    assert "halfcube-gaussian-dense-5x5-rho0.5" in ids
    assert "asinh-student-t-2x2-dof3-2pairs-rho0.6" in ids
    assert [t.task_id for t in task_set()] == ids  # rebuilt, same ids in the same order
    assert task_by_id("uniform-noise-1x1-eps0.3").mi == pytest.approx(0.15 - math.log(0.3))
    with pytest.raises(ValueError, match="unknown task id"):
        task_by_id("no-such-task")


def test_task_set_contents_and_sampling_contract():
    tasks = task_set()
    staircase = [t for t in tasks if t.task_id.startswith("gaussian-staircase")]
    assert [t.mi for t in staircase] == pytest.approx([2.0, 4.0, 6.0, 8.0, 10.0])
    assert len(task_set(staircase=False)) == len(tasks) - 5
    for task in tasks:
        x, y = task.sample(7, seed=1)
        assert x.shape == (7, task.dim_x) and y.shape == (7, task.dim_y)
        assert x.dtype == np.float64 and y.dtype == np.float64
        again = task.sample(7, seed=1)
        other = task.sample(7, seed=2)
        assert np.array_equal(x, again[0]) and np.array_equal(y, again[1])
        assert not np.array_equal(x, other[0])
        assert task.mi > 0 and math.isfinite(task.mi)


def test_transforms_keep_mi_prefix_id_and_apply_the_map():
    base = SparseGaussian(3, 2, 2, 0.5)
    x, y = base.sample(50, seed=4)
    for wrap, fn in ((half_cube, lambda v: v * np.sqrt(np.abs(v))), (asinh, np.arcsinh)):
        task = wrap(base)
        assert task.mi == base.mi
        assert task.task_id == f"{task.transform}-{base.task_id}"
        tx, ty = task.sample(50, seed=4)
        np.testing.assert_allclose(tx, fn(x), rtol=1e-15)
        np.testing.assert_allclose(ty, fn(y), rtol=1e-15)
    tx, _ = normal_cdf(base).sample(50, seed=4)
    assert np.all((tx > 0) & (tx < 1)) and np.all(np.diff(tx[np.argsort(x[:, 0]), 0]) >= 0)
    assert half_cube(asinh(base)).task_id == f"halfcube-asinh-{base.task_id}"


def test_linear_mixing_is_well_conditioned_and_leaves_gaussian_mi_invariant():
    """The plug-in MI (log-det formula) is exactly invariant under invertible linear maps."""
    for dim in (1, 5, 20):
        a = mixing_matrix(dim, seed=3)
        assert np.linalg.cond(a) <= MAX_MIXING_CONDITION + 1e-9
    base = DenseGaussian(5, 5, 0.5)
    mixed = linear_mixing(base, seed=2)
    assert mixed.task_id == f"mix2-{base.task_id}" and mixed.mi == base.mi
    x, y = base.sample(500, seed=0)
    mx, my = mixed.sample(500, seed=0)
    a_x, a_y = mixed.matrices()
    np.testing.assert_allclose(mx, x @ a_x.T, rtol=1e-12)
    np.testing.assert_allclose(my, y @ a_y.T, rtol=1e-12)
    plain = gaussian_plugin(x, y, n_boot=20).diagnostics["plugin_raw"]
    assert gaussian_plugin(mx, my, n_boot=20).diagnostics["plugin_raw"] == pytest.approx(
        plain, rel=1e-9
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: DenseGaussian(0, 1, 0.5),
        lambda: DenseGaussian(2, 2, 1.0),
        lambda: DenseGaussian(2, 2, -0.34),  # below −1/(d − 1) = −1/3: not positive definite
        lambda: DenseGaussian(2, 2, float("nan")),
        lambda: SparseGaussian(2, 3, 3, 0.5),
        lambda: SparseGaussian(2, 2, 0, 0.5),
        lambda: SparseGaussian(2, 2, 1, -1.0),
        lambda: StudentT(2, 2, 0.0),
        lambda: StudentT(2, 2, -3.0, 1, 0.2),
        lambda: AdditiveUniform(1, 0.0),
        lambda: AdditiveUniform(1, float("inf")),
        lambda: GaussianStaircase(0.0),
        lambda: GaussianStaircase(2.0, dim=0),
        lambda: TransformedTask(DenseGaussian(1, 1, 0.5), "square"),
        lambda: DenseGaussian(1, 1, 0.5).sample(0, seed=0),
        lambda: DenseGaussian(1, 1, 0.5).sample(10, seed=-1),
        lambda: DenseGaussian(1, 1, 0.5).sample(2.5, seed=0),
    ],
)
def test_bad_parameters_are_rejected_with_value_error(make):
    with pytest.raises(ValueError, match=r"must|unknown"):
        make()


def test_wrong_types_are_rejected_with_type_error():
    with pytest.raises(TypeError, match="real number"):
        DenseGaussian(1, 1, "0.5")
    with pytest.raises(TypeError, match="known-MI task"):
        half_cube(object())
