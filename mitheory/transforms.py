"""MI-preserving transforms of known-MI tasks (claim E5), BMI style.

Mutual information is invariant under injective (here: smooth, invertible) maps applied to X and
to Y separately: I(f(X); g(Y)) = I(X; Y). Wrapping a task in such a map therefore keeps its
closed-form ``mi`` and changes only the distribution an estimator sees. The wrapped task's id is
the transform's name prefixed to the base id, e.g. "halfcube-gaussian-dense-5x5-rho0.5".

Transforms (applied to every coordinate of X and of Y unless stated):
    half_cube     v ↦ v · |v|^{1/2}                (strictly increasing, heavier tails)
    asinh         v ↦ asinh(v)                      (strictly increasing, lighter tails)
    normal_cdf    v ↦ Φ(v)                          (strictly increasing, onto (0, 1))
    linear_mixing x ↦ A_x x, y ↦ A_y y              (seeded invertible matrices, cond ≤ 2)
    nonlinear_mixing x ↦ B_x s(A_x x), y likewise   (s = half_cube between two seeded mixings:
                                                     invertible, and no coordinatewise map
                                                     undoes it)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from mitheory.distributions import Task, check_sample_args

MAX_MIXING_CONDITION = 2.0


def _half_cube(v: np.ndarray) -> np.ndarray:
    return v * np.sqrt(np.abs(v))


_ELEMENTWISE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "halfcube": _half_cube,
    "asinh": np.arcsinh,
    "normcdf": ndtr,
}


class _WrapsTask:
    """Shape and MI of a wrapped task: an MI-preserving transform changes neither."""

    base: Task

    @property
    def dim_x(self) -> int:
        return self.base.dim_x

    @property
    def dim_y(self) -> int:
        return self.base.dim_y

    @property
    def mi(self) -> float:
        return self.base.mi


@dataclass(frozen=True)
class TransformedTask(_WrapsTask):
    """A task whose samples pass through a coordinatewise invertible map; same MI as ``base``."""

    base: Task
    transform: str

    def __post_init__(self) -> None:
        _check_task(self.base)
        if self.transform not in _ELEMENTWISE:
            raise ValueError(
                f"unknown transform {self.transform!r}; expected one of {sorted(_ELEMENTWISE)}"
            )

    @property
    def task_id(self) -> str:
        return f"{self.transform}-{self.base.task_id}"

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        n, seed = check_sample_args(n, seed)
        x, y = self.base.sample(n, seed)
        fn = _ELEMENTWISE[self.transform]
        return fn(x), fn(y)


def _check_task(task: object) -> Task:
    needed = ("task_id", "dim_x", "dim_y", "mi", "sample")
    missing = [name for name in needed if not hasattr(task, name)]
    if missing:
        raise TypeError(
            f"expected a known-MI task (with {', '.join(needed)}), got {type(task).__name__} "
            f"missing {', '.join(missing)}"
        )
    return task  # type: ignore[return-value]


def half_cube(task: Task) -> TransformedTask:
    """Wrap ``task`` in v ↦ v·|v|^{1/2} on every coordinate (id prefix "halfcube-")."""
    return TransformedTask(task, "halfcube")


def asinh(task: Task) -> TransformedTask:
    """Wrap ``task`` in v ↦ asinh(v) on every coordinate (id prefix "asinh-")."""
    return TransformedTask(task, "asinh")


def normal_cdf(task: Task) -> TransformedTask:
    """Wrap ``task`` in the standard normal CDF Φ on every coordinate (id prefix "normcdf-")."""
    return TransformedTask(task, "normcdf")


def mixing_matrix(dim: int, seed: int) -> np.ndarray:
    """A seeded invertible dim × dim matrix Q·diag(s) with Q orthogonal and s ∈ [1, 2].

    Its singular values are the s, so its condition number is ≤ ``MAX_MIXING_CONDITION`` = 2.
    """
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    q = q * np.sign(np.diag(r))  # Haar-distributed orthogonal matrix
    return q * rng.uniform(1.0, MAX_MIXING_CONDITION, size=dim)


@dataclass(frozen=True)
class _SeededMaps(_WrapsTask):
    """A task wrapped in invertible maps drawn from ``mixing_seed`` (id "{prefix}{seed}-...")."""

    base: Task
    mixing_seed: int = 0
    prefix = ""

    def __post_init__(self) -> None:
        _check_task(self.base)
        check_sample_args(1, self.mixing_seed)

    @property
    def task_id(self) -> str:
        return f"{self.prefix}{self.mixing_seed}-{self.base.task_id}"


@dataclass(frozen=True)
class LinearMixing(_SeededMaps):
    """``base`` with x ↦ A_x x and y ↦ A_y y, A seeded by ``mixing_seed`` (id "mix{seed}-...")."""

    prefix = "mix"

    def matrices(self) -> tuple[np.ndarray, np.ndarray]:
        """(A_x, A_y): independent seeded well-conditioned mixing matrices."""
        return (
            mixing_matrix(self.dim_x, self.mixing_seed * 2),
            mixing_matrix(self.dim_y, self.mixing_seed * 2 + 1),
        )

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        n, seed = check_sample_args(n, seed)
        x, y = self.base.sample(n, seed)
        a_x, a_y = self.matrices()
        return x @ a_x.T, y @ a_y.T


@dataclass(frozen=True)
class NonlinearMixing(_SeededMaps):
    """``base`` with x ↦ B_x s(A_x x) and y ↦ B_y s(A_y y), s the half cube v·|v|^{1/2} on every
    coordinate, A and B seeded by ``mixing_seed`` (id "nlmix{seed}-...").

    Each map is a composition of invertible maps, so I(X; Y) is the base task's; it mixes the
    coordinates before and after the nonlinearity, so the result has no Gaussian copula and no
    coordinatewise map (normal scores included) makes it Gaussian again.
    """

    prefix = "nlmix"

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        n, seed = check_sample_args(n, seed)
        x, y = self.base.sample(n, seed)
        out = []
        for k, v in enumerate((x, y)):
            inner = mixing_matrix(v.shape[1], 4 * self.mixing_seed + 2 * k + 1000)
            outer = mixing_matrix(v.shape[1], 4 * self.mixing_seed + 2 * k + 1001)
            out.append(_half_cube(v @ inner.T) @ outer.T)
        return out[0], out[1]


def nonlinear_mixing(task: Task, seed: int = 0) -> NonlinearMixing:
    """Wrap ``task`` in seeded invertible nonlinear coordinate-mixing maps (id "nlmix{seed}-")."""
    return NonlinearMixing(task, seed)


def linear_mixing(task: Task, seed: int = 0) -> LinearMixing:
    """Wrap ``task`` in seeded invertible linear maps of X and of Y (id prefix "mix{seed}-")."""
    return LinearMixing(task, seed)


TRANSFORMS: dict[str, Callable[[Task], Task]] = {
    "halfcube": half_cube,
    "asinh": asinh,
    "normcdf": normal_cdf,
    "mix0": linear_mixing,
}
