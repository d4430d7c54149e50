"""Distributions with known mutual information: the ground-truth task set (claims E4, E5).

A *task* is a sampler with a closed-form MI and a stable id, in the style of the BMI benchmark
(Czyż et al., "Beyond normal: on the evaluation of mutual information estimators", NeurIPS 2023):

    task.task_id           stable string, e.g. "gaussian-sparse-5x5-2pairs-rho0.8"
    task.dim_x, task.dim_y dimensions of X and Y
    task.mi                I(X; Y) in nats, closed form
    task.sample(n, seed)   -> (x [n, dim_x], y [n, dim_y]) numpy float64

Families:
    DenseGaussian      every pair of the d_x + d_y coordinates has correlation ρ
    SparseGaussian     corr(X_i, Y_i) = ρ for the first ``n_pairs`` indices, the rest independent
    GaussianStaircase  20 + 20 dims, 20 equal pairs, MI fixed to a given level
    StudentT           multivariate t with ν degrees of freedom and a sparse-pair scale matrix
    AdditiveUniform    Y = X + N coordinatewise, X ~ U(0, 1), N ~ U(−ε/2, ε/2)
    ClassGaussians     a uniform class label Y and X | Y = l ~ N(μ_l, I): discrete–continuous MI

``task_set()`` is the standard list used by the E4/E5 verification and the estimator benchmark;
``mitheory.transforms`` wraps any task in an MI-preserving transform.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
from scipy.special import digamma, gammaln

from mitheory.closed_forms import gaussian_mi


class Task(Protocol):
    """What every known-MI sampler provides."""

    @property
    def task_id(self) -> str: ...

    @property
    def dim_x(self) -> int: ...

    @property
    def dim_y(self) -> int: ...

    @property
    def mi(self) -> float: ...

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]: ...


def check_dim(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_sample_args(n: object, seed: object) -> tuple[int, int]:
    """Validate ``sample(n, seed)`` arguments: n ≥ 1 and an integer seed ≥ 0."""
    n = check_dim(n, "n (number of samples)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return n, int(seed)


def _check_real(value: object, name: str, low: float, high: float) -> float:
    """A finite real number in the open interval (low, high)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not (math.isfinite(value) and low < value < high):
        raise ValueError(f"{name} must be in the open interval ({low:g}, {high:g}), got {value!r}")
    return value


def _pair_mi(rho: float, n_pairs: int) -> float:
    """n_pairs independent Gaussian pairs with correlation ρ: −(n_pairs / 2) log(1 − ρ²)."""
    return -0.5 * n_pairs * math.log1p(-rho * rho)


def _sample_pairs(
    n: int, seed: int, dim_x: int, dim_y: int, n_pairs: int, rho: float
) -> tuple[np.ndarray, np.ndarray]:
    """Standard Gaussians with corr(X_i, Y_i) = ρ for i < n_pairs and independence otherwise."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim_x))
    y = rng.standard_normal((n, dim_y))
    y[:, :n_pairs] = rho * x[:, :n_pairs] + math.sqrt(1.0 - rho * rho) * y[:, :n_pairs]
    return x, y


@dataclass(frozen=True)
class DenseGaussian:
    """Jointly Gaussian (X, Y), unit variances, correlation ρ between every two coordinates.

    Positive definite iff −1/(d − 1) < ρ < 1 with d = d_x + d_y. MI from the log-det closed form.
    """

    dim_x: int
    dim_y: int
    rho: float

    def __post_init__(self) -> None:
        d = check_dim(self.dim_x, "dim_x") + check_dim(self.dim_y, "dim_y")
        _check_real(self.rho, "rho", -1.0 / (d - 1), 1.0)

    @property
    def task_id(self) -> str:
        return f"gaussian-dense-{self.dim_x}x{self.dim_y}-rho{self.rho:g}"

    def covariance(self) -> np.ndarray:
        d = self.dim_x + self.dim_y
        return np.full((d, d), self.rho) + (1.0 - self.rho) * np.eye(d)

    @property
    def mi(self) -> float:
        return gaussian_mi(self.covariance(), self.dim_x)

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        n, seed = check_sample_args(n, seed)
        chol = np.linalg.cholesky(self.covariance())
        z = np.random.default_rng(seed).standard_normal((n, chol.shape[0])) @ chol.T
        return z[:, : self.dim_x], z[:, self.dim_x :]


@dataclass(frozen=True)
class SparseGaussian:
    """X, Y standard Gaussian; corr(X_i, Y_i) = ρ for i < n_pairs; all other pairs independent.

    I(X; Y) = −(n_pairs / 2) log(1 − ρ²).
    """

    dim_x: int
    dim_y: int
    n_pairs: int
    rho: float

    def __post_init__(self) -> None:
        check_dim(self.dim_x, "dim_x")
        check_dim(self.dim_y, "dim_y")
        check_dim(self.n_pairs, "n_pairs")
        if self.n_pairs > min(self.dim_x, self.dim_y):
            raise ValueError(
                f"n_pairs must be ≤ min(dim_x, dim_y) = {min(self.dim_x, self.dim_y)}, "
                f"got {self.n_pairs}"
            )
        _check_real(self.rho, "rho", -1.0, 1.0)

    @property
    def task_id(self) -> str:
        return f"gaussian-sparse-{self.dim_x}x{self.dim_y}-{self.n_pairs}pairs-rho{self.rho:g}"

    @property
    def mi(self) -> float:
        return _pair_mi(self.rho, self.n_pairs)

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        n, seed = check_sample_args(n, seed)
        return _sample_pairs(n, seed, self.dim_x, self.dim_y, self.n_pairs, self.rho)


class SquareTask:
    """Mixin of tasks with ``dim`` dimensions on each side (``dim_x = dim_y = dim``)."""

    dim: int

    @property
    def dim_x(self) -> int:
        return self.dim

    @property
    def dim_y(self) -> int:
        return self.dim


@dataclass(frozen=True)
class GaussianStaircase(SquareTask):
    """``dim`` + ``dim`` Gaussian with ``dim`` equal pairs whose correlation gives MI = ``level``.

    Each pair carries level / dim nats, so ρ = √(1 − exp(−2 level / dim)). The default, x and y
    in R^20, is the staircase of Poole et al. (2019) and Song & Ermon (2020).
    """

    level: float
    dim: int = 20

    def __post_init__(self) -> None:
        check_dim(self.dim, "dim")
        _check_real(self.level, "level (nats)", 0.0, math.inf)

    @property
    def task_id(self) -> str:
        return f"gaussian-staircase-{self.dim}x{self.dim}-mi{self.level:g}"

    @property
    def rho(self) -> float:
        return math.sqrt(-math.expm1(-2.0 * self.level / self.dim))

    @property
    def mi(self) -> float:
        return _pair_mi(self.rho, self.dim)

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        n, seed = check_sample_args(n, seed)
        return _sample_pairs(n, seed, self.dim, self.dim, self.dim, self.rho)


def student_t_mi_correction(dof: float, dim_x: int, dim_y: int) -> float:
    """MI of a multivariate t minus the Gaussian MI of its scale matrix, in nats (≥ 0).

    The differential entropy of a d-dim t_ν(0, Σ) is
        h_d = ½ log det Σ + (d/2) log(νπ) + log Γ(ν/2) − log Γ((ν + d)/2)
              + ((ν + d)/2) [ψ((ν + d)/2) − ψ(ν/2)],
    and the marginals of a multivariate t are t with the same ν and the sub-blocks of Σ. In
    I = h_x + h_y − h_xy the log det terms give the Gaussian MI of Σ and the (d/2) log(νπ) terms
    cancel; with g(d) = −log Γ((ν + d)/2) + ((ν + d)/2) [ψ((ν + d)/2) − ψ(ν/2)] the rest is
        c(ν, d_x, d_y) = log Γ(ν/2) + g(d_x) + g(d_y) − g(d_x + d_y).
    (Same result as Czyż et al. 2023, App. on the Student-t task; checked numerically in tests.)
    """
    nu = _check_real(dof, "dof", 0.0, math.inf)
    check_dim(dim_x, "dim_x")
    check_dim(dim_y, "dim_y")

    def g(d: int) -> float:
        half = (nu + d) / 2.0
        return float(-gammaln(half) + half * (digamma(half) - digamma(nu / 2.0)))

    return float(gammaln(nu / 2.0)) + g(dim_x) + g(dim_y) - g(dim_x + dim_y)


@dataclass(frozen=True)
class StudentT:
    """Multivariate Student-t (X, Y) ~ t_ν(0, Σ), Σ with unit diagonal and sparse pairs.

    Σ has corr(X_i, Y_i) = ρ for i < n_pairs (as ``SparseGaussian``). Sampled as Z / √(W / ν)
    with Z ~ N(0, Σ) and W ~ χ²_ν shared by all coordinates, which makes X and Y dependent even
    when ρ = 0. I(X; Y) = −(n_pairs / 2) log(1 − ρ²) + ``student_t_mi_correction(ν, d_x, d_y)``.
    """

    dim_x: int
    dim_y: int
    dof: float
    n_pairs: int = 1
    rho: float = 0.0

    def __post_init__(self) -> None:
        check_dim(self.dim_x, "dim_x")
        check_dim(self.dim_y, "dim_y")
        check_dim(self.n_pairs, "n_pairs")
        if self.n_pairs > min(self.dim_x, self.dim_y):
            raise ValueError(
                f"n_pairs must be ≤ min(dim_x, dim_y) = {min(self.dim_x, self.dim_y)}, "
                f"got {self.n_pairs}"
            )
        _check_real(self.dof, "dof", 0.0, math.inf)
        _check_real(self.rho, "rho", -1.0, 1.0)

    @property
    def task_id(self) -> str:
        return (
            f"student-t-{self.dim_x}x{self.dim_y}-dof{self.dof:g}-"
            f"{self.n_pairs}pairs-rho{self.rho:g}"
        )

    @property
    def mi(self) -> float:
        return _pair_mi(self.rho, self.n_pairs) + student_t_mi_correction(
            self.dof, self.dim_x, self.dim_y
        )

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        n, seed = check_sample_args(n, seed)
        x, y = _sample_pairs(n, seed, self.dim_x, self.dim_y, self.n_pairs, self.rho)
        chi2 = np.random.default_rng([seed, 1]).chisquare(self.dof, size=(n, 1))
        scale = 1.0 / np.sqrt(chi2 / self.dof)
        return x * scale, y * scale


def additive_uniform_mi(eps: float) -> float:
    """I(X; X + N) for X ~ U(0, 1), N ~ U of width ε, in nats.

    I = h(Y) − h(N) = h(Y) − log ε; Y has a trapezoidal density, giving
    ε/2 − log ε for ε ≤ 1 and 1/(2ε) for ε ≥ 1 (the two agree at ε = 1).
    """
    eps = _check_real(eps, "eps", 0.0, math.inf)
    return eps / 2.0 - math.log(eps) if eps <= 1.0 else 1.0 / (2.0 * eps)


@dataclass(frozen=True)
class AdditiveUniform(SquareTask):
    """Y_i = X_i + N_i, X_i ~ U(0, 1), N_i ~ U(−ε/2, ε/2), all independent over i = 1..dim.

    I(X; Y) = dim · ``additive_uniform_mi(ε)``.
    """

    dim: int
    eps: float

    def __post_init__(self) -> None:
        check_dim(self.dim, "dim")
        _check_real(self.eps, "eps", 0.0, math.inf)

    @property
    def task_id(self) -> str:
        return f"uniform-noise-{self.dim}x{self.dim}-eps{self.eps:g}"

    @property
    def mi(self) -> float:
        return self.dim * additive_uniform_mi(self.eps)

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        n, seed = check_sample_args(n, seed)
        rng = np.random.default_rng(seed)
        x = rng.uniform(0.0, 1.0, size=(n, self.dim))
        noise = rng.uniform(-self.eps / 2.0, self.eps / 2.0, size=(n, self.dim))
        return x, x + noise


@dataclass(frozen=True)
class ClassGaussians:
    """Y uniform on {0, …, L−1} (one column of integers) and X | Y = l ~ N(μ_l, I_d), with
    seeded means μ_l = ``separation`` · g_l, g_l ~ N(0, I_d) (``means_seed``).

    I(X; Y) = log L + E[log softmax_l(−‖X − μ_l‖² / 2)_Y] ≤ log L has no closed form; ``mi`` is
    its Monte Carlo value on ``MC_SAMPLES`` = 2¹⁹ exact draws (a fixed seed) and ``mi_se`` that
    value's standard error (≤ 0.001 nats for the tasks used): the truth for mixed
    discrete–continuous estimators (``estimators.mixed``).
    """

    n_classes: int
    dim: int
    separation: float
    means_seed: int = 0

    MC_SAMPLES = 2**19

    def __post_init__(self) -> None:
        if check_dim(self.n_classes, "n_classes") < 2:
            raise ValueError(f"n_classes must be at least 2, got {self.n_classes}")
        check_dim(self.dim, "dim")
        _check_real(self.separation, "separation", 0.0, math.inf)

    @property
    def task_id(self) -> str:
        return f"classes-{self.n_classes}-in-{self.dim}d-sep{self.separation:g}"

    @property
    def dim_x(self) -> int:
        return self.dim

    @property
    def dim_y(self) -> int:
        return 1

    def means(self) -> np.ndarray:
        rng = np.random.default_rng(self.means_seed)
        return self.separation * rng.standard_normal((self.n_classes, self.dim))

    @cached_property
    def _monte_carlo(self) -> tuple[float, float]:
        """(mean, standard error) of log L + log p(Y | X) over MC_SAMPLES exact draws."""
        x, y = self.sample(self.MC_SAMPLES, seed=2**31 - 1)
        mu = self.means()
        logits = x @ mu.T - 0.5 * np.sum(mu * mu, axis=1)  # −‖x − μ_l‖²/2 up to a per-row constant
        log_post = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
        terms = math.log(self.n_classes) + log_post[np.arange(len(y)), y[:, 0].astype(int)]
        return float(np.mean(terms)), float(np.std(terms) / math.sqrt(terms.size))

    @property
    def mi(self) -> float:
        return self._monte_carlo[0]

    @property
    def mi_se(self) -> float:
        return self._monte_carlo[1]

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        n, seed = check_sample_args(n, seed)
        rng = np.random.default_rng(seed)
        labels = rng.integers(0, self.n_classes, size=n)
        x = self.means()[labels] + rng.standard_normal((n, self.dim))
        return x, labels[:, None].astype(np.float64)


def task_set(staircase: bool = True) -> list[Task]:
    """The standard known-MI task list (E4/E5 and ``benchmarks/estimators_bench.py``).

    Gaussian 1+1, 5+5, 25+25 (MI ≤ 2 nats), sparse pairs, Student-t (ν = 3, 5), half-cube and
    asinh-wrapped tasks, additive uniform noise and, unless ``staircase=False``, the 20+20
    Gaussian staircase at 2, 4, 6, 8, 10 nats.
    """
    from mitheory.transforms import asinh, half_cube

    tasks: list[Task] = [
        DenseGaussian(1, 1, 0.75),
        DenseGaussian(5, 5, 0.5),
        DenseGaussian(25, 25, 0.2),
        SparseGaussian(5, 5, 2, 0.8),
        SparseGaussian(25, 25, 4, 0.6),
        StudentT(2, 2, 3.0, 2, 0.6),
        StudentT(2, 2, 5.0, 2, 0.6),
        half_cube(DenseGaussian(5, 5, 0.5)),
        half_cube(SparseGaussian(5, 5, 2, 0.8)),
        asinh(StudentT(2, 2, 3.0, 2, 0.6)),
        AdditiveUniform(1, 0.3),
        AdditiveUniform(2, 0.6),
    ]
    if staircase:
        tasks += [GaussianStaircase(float(level)) for level in (2, 4, 6, 8, 10)]
    return tasks


def heldout_task_set() -> list[Task]:
    """Tasks the default estimator is *scored* on, never tuned on (``estimators.auto``).

    Other dimensions, correlations, transforms and copulas than ``task_set`` (the design set):
    dense and sparse Gaussians from 2 + 2 to 10 + 10, half-cube, asinh, linear and nonlinear
    coordinate-mixing maps, Student-t (ν = 4, 6) and additive uniform noise; 0.3–2.1 nats.
    """
    from mitheory.transforms import asinh, half_cube, linear_mixing, nonlinear_mixing

    return [
        DenseGaussian(3, 3, 0.4),
        DenseGaussian(10, 10, 0.3),
        SparseGaussian(10, 10, 3, 0.7),
        asinh(SparseGaussian(3, 3, 1, 0.9)),
        half_cube(DenseGaussian(2, 2, 0.6)),
        linear_mixing(SparseGaussian(8, 8, 2, 0.75), seed=1),
        nonlinear_mixing(DenseGaussian(3, 3, 0.5)),
        nonlinear_mixing(SparseGaussian(10, 10, 4, 0.7), seed=1),
        StudentT(3, 3, 4.0, 3, 0.5),
        StudentT(1, 1, 6.0, 1, 0.8),
        AdditiveUniform(1, 0.5),
    ]


def hard_task_set() -> list[Task]:
    """High MI, high dimension and non-Gaussian copulas (the regime of issue 10).

    The 20 + 20 staircase at 4–10 nats (InfoNCE's log-batch ceiling is below most of it), dense
    25 + 25 and 50 + 50 Gaussians, Student-t with ν = 1 and 2 (infinite variance) and Gaussians
    through seeded invertible nonlinear coordinate-mixing maps (MI by invariance).
    """
    from mitheory.transforms import nonlinear_mixing

    return [
        *(GaussianStaircase(float(level)) for level in (4, 6, 8, 10)),
        DenseGaussian(25, 25, 0.3),
        DenseGaussian(50, 50, 0.15),
        StudentT(2, 2, 1.0, 2, 0.6),
        StudentT(2, 2, 2.0, 1, 0.8),
        nonlinear_mixing(GaussianStaircase(4.0)),
        nonlinear_mixing(GaussianStaircase(8.0)),
        nonlinear_mixing(DenseGaussian(25, 25, 0.2)),
    ]


def task_by_id(task_id: str) -> Task:
    """Look a task of ``task_set()`` up by its id."""
    for task in task_set():
        if task.task_id == task_id:
            return task
    known = ", ".join(t.task_id for t in task_set())
    raise ValueError(f"unknown task id {task_id!r}; known ids: {known}")
