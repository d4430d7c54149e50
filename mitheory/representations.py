"""Known-MI pairs shaped like the representations SSL models produce, and maps flows cannot undo.

Every task here is a latent known-MI task (``mitheory.distributions``: Gaussian pairs, a Student-t)
pushed through a seeded *injective* map per side, so I(f(U); g(V)) = I(U; V) exactly and the truth
is the latent task's closed form (except :class:`NoisyLowRank`, whose noise is part of the model
and whose MI is the Gaussian log-det closed form of its covariance). The maps give the data the
shapes an estimator meets on embeddings (issue 26):

    NoisyLowRank   rank-r Gaussian signal in d dims plus isotropic noise σ (dimensional collapse)
    LowRank        u ↦ A u, A a d × q matrix of rank q with a decaying spectrum: singular
                   covariance, exactly rank q (noise-free collapse)
    Relu           u ↦ ReLU(A u + b): exact zeros in 50–80 % of rows per unit, optional dead units
                   (constant 0); injective when the active rows of A span R^q (checked:
                   :meth:`Relu.injective_fraction`)
    Sphere         u ↦ (A u, 1) / ‖(A u, 1)‖: L2-normalised rows (the inverse of the gnomonic
                   projection, injective onto the upper hemisphere)
    Duplicated     a share of the rows repeated exactly (augmented copies of one input)
    Spiral         v ↦ R(θ(‖v‖)) v after a seeded mixing: each coordinate pair rotated by an angle
                   that grows with the radius (which the rotation keeps, so it inverts)
    Coupling       a stack of seeded affine coupling layers z₂ ↦ z₂ e^{s(z₁)} + t(z₁) with tanh
                   nets s, t (RealNVP-style, invertible), between seeded permutations

``representation_task_set()`` (128–1024 dims) and ``dependence_task_set()`` (Student-t with
identity scale: dependence only through the shared radius; spirals and coupling stacks at 5 + 5 and
10 + 10) are held out from the default estimator's design, like ``heldout_task_set``. All MI in
nats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.special import ndtri

from mitheory.closed_forms import gaussian_mi
from mitheory.distributions import (
    GaussianStaircase,
    SparseGaussian,
    SquareTask,
    StudentT,
    Task,
    check_dim,
    check_sample_args,
)
from mitheory.transforms import _WrapsTask, asinh, linear_mixing, mixing_matrix


def _spectrum_matrix(dim: int, rank: int, seed: int, decay: float = 0.5) -> np.ndarray:
    """A seeded dim × rank matrix with orthonormal columns scaled by a decaying spectrum
    (singular values 1, …, ``decay``, log-spaced) and rows of unit mean square."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((dim, rank)))
    scale = np.geomspace(1.0, decay, rank) if rank > 1 else np.ones(1)
    return q * scale * math.sqrt(dim / np.sum(scale**2))


class _Embedded(SquareTask):
    """Shape and MI of a latent task embedded in ``dim`` dimensions by an injective map."""

    base: Task

    @property
    def mi(self) -> float:
        return self.base.mi

    def _check(self) -> None:
        check_dim(self.dim, "dim")
        low = max(self.base.dim_x, self.base.dim_y)
        if self.dim < low:
            raise ValueError(f"dim must be ≥ the latent dimension {low}, got {self.dim}")


@dataclass(frozen=True)
class NoisyLowRank(SquareTask):
    """X = A_x u + σ e_x, Y = A_y v + σ e_y: a ``rank``-pair Gaussian staircase (u, v) at ``level``
    nats embedded in ``dim`` dims by seeded matrices with a decaying spectrum
    (:func:`_spectrum_matrix`), plus independent N(0, σ²) noise per coordinate.

    The pair is jointly Gaussian with Σ_x = A_x A_xᵀ + σ² I and Σ_xy = ρ A_x A_yᵀ, so I(X; Y) is
    the log-det closed form (``mitheory.closed_forms.gaussian_mi``), below ``level`` by what the
    noise hides."""

    dim: int
    rank: int
    level: float
    noise: float
    seed: int = 0

    @property
    def task_id(self) -> str:
        return f"lowrank{self.rank}-noise{self.noise:g}-{self.dim}x{self.dim}-latent{self.level:g}"

    @cached_property
    def _latent(self) -> GaussianStaircase:
        return GaussianStaircase(self.level, self.rank)

    def _maps(self) -> tuple[np.ndarray, np.ndarray]:
        return (_spectrum_matrix(self.dim, self.rank, 2 * self.seed + 11),
                _spectrum_matrix(self.dim, self.rank, 2 * self.seed + 12))  # fmt: skip

    @cached_property
    def mi(self) -> float:
        a_x, a_y = self._maps()
        rho = self._latent.rho
        eye = (self.noise**2) * np.eye(self.dim)
        cov = np.block([[a_x @ a_x.T + eye, rho * a_x @ a_y.T],
                        [rho * a_y @ a_x.T, a_y @ a_y.T + eye]])  # fmt: skip
        return gaussian_mi(cov, self.dim)

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        n, seed = check_sample_args(n, seed)
        u, v = self._latent.sample(n, seed)
        a_x, a_y = self._maps()
        rng = np.random.default_rng([seed, 7])
        noise = self.noise * rng.standard_normal((2, n, self.dim))
        return u @ a_x.T + noise[0], v @ a_y.T + noise[1]


@dataclass(frozen=True)
class LowRank(_Embedded):
    """u ↦ A u with A a seeded ``dim`` × q matrix of rank q (decaying spectrum): rows of X lie in
    a q-dim subspace, so the covariance is singular; A is injective, so I is the latent MI."""

    base: Task
    dim: int
    seed: int = 0

    def __post_init__(self) -> None:
        self._check()

    @property
    def task_id(self) -> str:
        return f"lowrank-{self.dim}x{self.dim}-{self.base.task_id}"

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        u, v = self.base.sample(n, seed)
        return (u @ _spectrum_matrix(self.dim, u.shape[1], 2 * self.seed + 21).T,
                v @ _spectrum_matrix(self.dim, v.shape[1], 2 * self.seed + 22).T)  # fmt: skip


@dataclass(frozen=True)
class Relu(_Embedded):
    """u ↦ ReLU(A u + b), A seeded ``dim`` × q with unit-norm rows (so A u is standard normal per
    unit for a standard latent) and b set so unit j is 0 with probability p_j, p_j evenly spread
    over [``zeros_low``, ``zeros_high``]; the last ``dead`` units are always 0 (dead units).

    Injective wherever the active rows of A span R^q (then u = A_S⁺ (x_S − b_S)), which holds for
    all but a negligible share of rows when dim ≫ q (:meth:`injective_fraction`)."""

    base: Task
    dim: int
    zeros_low: float = 0.5
    zeros_high: float = 0.8
    dead: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        self._check()
        if not 0.0 < self.zeros_low <= self.zeros_high < 1.0:
            raise ValueError("need 0 < zeros_low ≤ zeros_high < 1")
        if not 0 <= self.dead < self.dim:
            raise ValueError(f"dead must be in [0, dim), got {self.dead}")

    @property
    def task_id(self) -> str:
        dead = f"-dead{self.dead}" if self.dead else ""
        return (f"relu{self.zeros_low:g}-{self.zeros_high:g}{dead}-{self.dim}x{self.dim}-"
                f"{self.base.task_id}")  # fmt: skip

    def _map(self, q: int, side: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(3 * self.seed + side + 31)
        a = rng.standard_normal((self.dim, q))
        a /= np.linalg.norm(a, axis=1, keepdims=True)
        b = -ndtri(np.linspace(self.zeros_low, self.zeros_high, self.dim))
        b[self.dim - self.dead :] = -1e9
        return a, b

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        u, v = self.base.sample(n, seed)
        out = []
        for side, w in enumerate((u, v)):
            a, b = self._map(w.shape[1], side)
            out.append(np.maximum(w @ a.T + b, 0.0))
        return out[0], out[1]

    def injective_fraction(self, n: int, seed: int) -> float:
        """Share of sampled rows (both sides) whose active rows of A have full column rank."""
        u, v = self.base.sample(n, seed)
        ok = 0
        for side, w in enumerate((u, v)):
            a, b = self._map(w.shape[1], side)
            active = (w @ a.T + b) > 0
            ok += sum(np.linalg.matrix_rank(a[row]) == w.shape[1] for row in active)
        return ok / (2 * n)


@dataclass(frozen=True)
class Sphere(_Embedded):
    """u ↦ (A u, 1) / ‖(A u, 1)‖ with A a seeded (``dim`` − 1) × q matrix of rank q: rows of unit
    norm (L2-normalised embeddings). Inverse: A u = x_{1:dim−1} / x_dim, then A⁺."""

    base: Task
    dim: int
    seed: int = 0

    def __post_init__(self) -> None:
        self._check()
        if self.dim < max(self.base.dim_x, self.base.dim_y) + 1:
            raise ValueError("dim must exceed the latent dimension by at least 1")

    @property
    def task_id(self) -> str:
        return f"sphere-{self.dim}x{self.dim}-{self.base.task_id}"

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        u, v = self.base.sample(n, seed)
        out = []
        for side, w in enumerate((u, v)):
            a = _spectrum_matrix(self.dim - 1, w.shape[1], 2 * self.seed + 41 + side)
            g = np.hstack([w @ a.T / math.sqrt(w.shape[1]), np.ones((n, 1))])
            out.append(g / np.linalg.norm(g, axis=1, keepdims=True))
        return out[0], out[1]


@dataclass(frozen=True)
class Duplicated(_WrapsTask):
    """``base`` with a share ``fraction`` of its distinct rows appearing twice (exact copies of
    (x, y), in shuffled order): what a table of embeddings of augmented copies of one input holds.
    The distribution, so the MI, is the base task's; the sample is not i.i.d."""

    base: Task
    fraction: float = 0.5

    @property
    def task_id(self) -> str:
        return f"dup{self.fraction:g}-{self.base.task_id}"

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        n, seed = check_sample_args(n, seed)
        distinct = math.ceil(n / (1.0 + self.fraction))
        x, y = self.base.sample(distinct, seed)
        rng = np.random.default_rng([seed, 5])
        rows = np.concatenate([np.arange(distinct),
                               rng.choice(distinct, n - distinct, replace=False)])  # fmt: skip
        rows = rng.permutation(rows)
        return x[rows], y[rows]


def _spiral(v: np.ndarray, strength: float) -> np.ndarray:
    """Rotate coordinate pairs (v_{2i}, v_{2i+1}) by θ = strength · ‖v‖ (‖v‖ is kept)."""
    theta = strength * np.linalg.norm(v, axis=1, keepdims=True)
    c, s = np.cos(theta), np.sin(theta)
    out = v.copy()
    even, odd = v[:, 0 : v.shape[1] - 1 : 2], v[:, 1::2]
    out[:, 0 : v.shape[1] - 1 : 2] = c * even - s * odd
    out[:, 1::2] = s * even + c * odd
    return out


@dataclass(frozen=True)
class Spiral(_WrapsTask):
    """x ↦ spiral(M_x x) and y likewise: a seeded invertible mixing M (``mixing_matrix``), then
    every coordinate pair rotated by an angle ``strength`` · ‖·‖ that grows with the radius.
    Invertible (the rotation keeps the radius, which gives the angle), so I is the base task's;
    no per-coordinate map and no fixed linear map undoes it."""

    base: Task
    strength: float = 1.0
    seed: int = 0

    @property
    def task_id(self) -> str:
        return f"spiral{self.strength:g}-{self.base.task_id}"

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.base.sample(n, seed)
        return tuple(_spiral(w @ mixing_matrix(w.shape[1], 4 * self.seed + k + 50).T,
                             self.strength) for k, w in enumerate((x, y)))  # fmt: skip


@dataclass(frozen=True)
class Coupling(_WrapsTask):
    """A stack of ``layers`` seeded affine coupling layers per side: permute the coordinates,
    split z = (z₁, z₂) in halves, z₂ ↦ z₂ · exp(s(z₁)) + t(z₁) with s = ``scale`` · tanh(W₂ tanh(
    W₁ z₁)) and t = tanh(W₃ tanh(W₁ z₁)) (hidden width 32). Each layer inverts given z₁, so I is
    the base task's."""

    base: Task
    layers: int = 6
    scale: float = 0.8
    seed: int = 0

    @property
    def task_id(self) -> str:
        return f"coupling{self.layers}x{self.scale:g}-{self.base.task_id}"

    def _apply(self, z: np.ndarray, side: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, side, 61])
        d = z.shape[1]
        half = d // 2
        for _ in range(self.layers):
            z = z[:, rng.permutation(d)]
            w1 = rng.standard_normal((half, 32)) * (1.5 / math.sqrt(half))
            w2 = rng.standard_normal((32, d - half)) / math.sqrt(32)
            w3 = rng.standard_normal((32, d - half)) * (2.0 / math.sqrt(32))
            h = np.tanh(z[:, :half] @ w1)
            z2 = z[:, half:] * np.exp(self.scale * np.tanh(h @ w2)) + np.tanh(h @ w3)
            z = np.hstack([z[:, :half], z2])
        return z

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.base.sample(n, seed)
        return self._apply(x, 0), self._apply(y, 1)


def representation_task_set() -> list[Task]:
    """Known-MI pairs with the structure of SSL embeddings, 128–1024 dims (held out from tuning):
    full-rank mixed Gaussians, noisy and exact low rank, ReLU zeros with and without dead units,
    L2-normalised rows, duplicated rows, heavy tails (a Student-t latent)."""
    stair16 = GaussianStaircase(4.0, 16)
    return [
        linear_mixing(GaussianStaircase(6.0, 128), seed=2),
        NoisyLowRank(256, 16, 6.0, 0.01),
        NoisyLowRank(1024, 32, 8.0, 0.05),
        LowRank(stair16, 128),
        Relu(GaussianStaircase(3.0, 8), 64),
        Relu(stair16, 256, dead=16),
        Sphere(stair16, 128),
        Duplicated(linear_mixing(GaussianStaircase(2.0, 64), seed=3)),
        LowRank(StudentT(16, 16, 2.0, 8, 0.6), 128),
        LowRank(SparseGaussian(32, 32, 32, 0.5), 512),
    ]


def dependence_task_set() -> list[Task]:
    """Dependence that per-side Gaussianizing flows cannot see or cannot undo: Student-t with
    identity scale (ρ = 0: X and Y share only the radius) at 5 + 5, 10 + 10 and 25 + 25 for
    ν = 1, 2, 4, also through asinh per coordinate; Gaussians through spirals and coupling stacks
    at 5 + 5 and 10 + 10."""
    tails = [StudentT(d, d, nu, 1, 0.0) for d in (5, 10, 25) for nu in (1.0, 2.0, 4.0)]
    return [
        *tails,
        asinh(StudentT(5, 5, 2.0, 1, 0.0)),
        asinh(StudentT(10, 10, 4.0, 1, 0.0)),
        Spiral(SparseGaussian(5, 5, 5, 0.6)),
        Spiral(GaussianStaircase(3.0, 10)),
        Coupling(SparseGaussian(5, 5, 5, 0.6)),
        Coupling(GaussianStaircase(3.0, 10)),
    ]


__all__ = ["Coupling", "Duplicated", "LowRank", "NoisyLowRank", "Relu", "Sphere", "Spiral",
           "dependence_task_set", "representation_task_set"]
