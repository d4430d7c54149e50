"""Block ascent of the DV objective with non-concave critics and encoders (claim T8).

T2 proves that alternating block-gradient steps of size η ≤ 1/L never lower the population DV when
the objective is concave per block with curvature ≤ L (linear encoders, bilinear critic). With a
cosine critic T = cos(f_θ(x_a), g_ξ(x_b))/τ and small MLP encoders f_θ, g_ξ (tanh or ReLU) neither
holds: the objective is not concave in either block and has no global curvature bound. This module
measures what survives, on an objective that is a deterministic function of the parameters:

    F(θ, ξ) = DV(S),  S_ij = cos(f_θ(a_i), g_ξ(b_j)) / τ,  over a fixed set of M pairs (a_i, b_i)

drawn once from jointly Gaussian views (common random numbers: every F evaluation uses the same
pairs), DV = mean_i S_ii − log mean_{i≠j} e^{S_ij} (:func:`estimators.bounds.dv`), in nats. At a
point (θ, ξ) the local block curvature is L_θ = ‖∇²_θθ F‖₂ (the largest |eigenvalue| of the block
Hessian, by autograd, exactly: the blocks have tens of parameters) and likewise L_ξ; a step of
factor f moves θ by (f / L_θ)·g_θ and ξ by (f / L_ξ)·g_ξ, g the block gradient:

- alternating: θ' = θ + (f/L_θ) ∇_θ F(θ, ξ), then ξ' = ξ + (f/L_ξ) ∇_ξ F(θ', ξ) (the M-step at the
  new point, as SDMI's E/M order);
- simultaneous: both blocks from (θ, ξ) with the same two step sizes (the matched comparison).

With ``batch`` = N the two gradients are those of the DV on N fresh pairs instead (minibatch
training), while the step sizes and the measured change are still those of F. Everything runs in
float64 on the CPU; a change counts as a decrease below −``DECREASE_TOL``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.func import functional_call

from estimators import bounds

#: a change of F below −DECREASE_TOL (nats) is a decrease; float64 rounding of F is ~1e-15
DECREASE_TOL = 1e-12
#: step factors f (multiples of 1/L_loc) at which every point is probed
STEP_FACTORS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)
#: canonical correlations of the Gaussian views (4 + 4 dimensions; I = −½ Σ log(1 − ρ²))
CORRELATIONS = (0.9, 0.7, 0.4, 0.0)


@dataclass(frozen=True)
class Problem:
    """Views, encoders and critic of one T8 run."""

    activation: str = "tanh"  # "tanh" | "relu"
    hidden: int = 6
    dim_out: int = 3
    temperature: float = 0.5
    n_pairs: int = 128  # M, the fixed pairs of F
    correlations: tuple[float, ...] = CORRELATIONS

    def __post_init__(self) -> None:
        if self.activation not in ("tanh", "relu"):
            raise ValueError(f"activation must be 'tanh' or 'relu', got {self.activation!r}")
        if not all(0.0 <= r < 1.0 for r in self.correlations):
            raise ValueError(f"correlations must lie in [0, 1), got {self.correlations!r}")
        if self.dim_out > 8 or self.hidden > 8:
            raise ValueError("T8 uses small encoders: hidden and dim_out must be ≤ 8")

    @property
    def dim_in(self) -> int:
        return len(self.correlations)


def sample_pairs(problem: Problem, n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """n pairs of the Gaussian views: a = u, b = ρ ⊙ u + √(1 − ρ²) ⊙ v with u, v standard."""
    rho = torch.tensor(problem.correlations, dtype=torch.float64)
    u = torch.randn(n, problem.dim_in, generator=generator, dtype=torch.float64)
    v = torch.randn(n, problem.dim_in, generator=generator, dtype=torch.float64)
    return u, rho * u + torch.sqrt(1.0 - rho**2) * v


def _encoder(problem: Problem) -> torch.nn.Module:
    act = torch.nn.Tanh() if problem.activation == "tanh" else torch.nn.ReLU()
    return torch.nn.Sequential(
        torch.nn.Linear(problem.dim_in, problem.hidden),
        act,
        torch.nn.Linear(problem.hidden, problem.dim_out),
    ).double()


class Objective:
    """F(θ, ξ) of the module docstring on flat parameter vectors θ, ξ (float64)."""

    def __init__(self, problem: Problem, pairs: tuple[torch.Tensor, torch.Tensor]) -> None:
        self.problem = problem
        self.a, self.b = pairs
        self.net = _encoder(problem)
        self.shapes = {k: p.shape for k, p in self.net.named_parameters()}
        self.size = sum(p.numel() for p in self.net.parameters())

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        out, i = {}, 0
        for name, shape in self.shapes.items():
            n = math.prod(shape)
            out[name] = flat[i : i + n].view(shape)
            i += n
        return out

    def init(self, generator: torch.Generator) -> torch.Tensor:
        """PyTorch's default Linear initialization, drawn from ``generator``."""
        parts = []
        for name, shape in self.shapes.items():
            fan_in = shape[-1] if name.endswith("weight") else self.shapes[
                name.replace("bias", "weight")][-1]  # fmt: skip
            bound = 1.0 / math.sqrt(fan_in)
            parts.append((torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1)
                         * bound)  # fmt: skip
        return torch.cat([p.flatten() for p in parts])

    def dv_on(
        self, theta: torch.Tensor, xi: torch.Tensor, a: torch.Tensor, b: torch.Tensor
    ) -> torch.Tensor:
        za = functional_call(self.net, self.unflatten(theta), (a,))
        zb = functional_call(self.net, self.unflatten(xi), (b,))
        return bounds.dv(bounds.cosine_scores(za, zb, self.problem.temperature))

    def __call__(self, theta: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
        return self.dv_on(theta, xi, self.a, self.b)

    def block_grad(
        self,
        theta: torch.Tensor,
        xi: torch.Tensor,
        block: int,
        pairs: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """∇ of F (or of the DV on ``pairs``) with respect to θ (``block`` 0) or ξ (1)."""
        a, b = pairs if pairs is not None else (self.a, self.b)
        params = [theta.detach().requires_grad_(block == 0), xi.detach().requires_grad_(block == 1)]
        value = self.dv_on(params[0], params[1], a, b)
        return torch.autograd.grad(value, params[block])[0]

    def block_curvature(self, theta: torch.Tensor, xi: torch.Tensor) -> tuple[float, float]:
        """(L_θ, L_ξ): spectral norms of the two block Hessians of F at (θ, ξ)."""
        hess = torch.autograd.functional.hessian
        h_tt = hess(lambda t: self(t, xi), theta)
        h_xx = hess(lambda x: self(theta, x), xi)
        return (float(torch.linalg.eigvalsh(h_tt).abs().max()),
                float(torch.linalg.eigvalsh(h_xx).abs().max()))  # fmt: skip


@dataclass
class PointResult:
    """One point's probes: for each factor f, the change of F of each update scheme."""

    curvature: tuple[float, float]
    dv: float
    e_step: list[float] = field(default_factory=list)  # E block step alone
    m_step: list[float] = field(default_factory=list)  # the alternating M-step (at θ')
    alternating: list[float] = field(default_factory=list)  # E then M
    simultaneous: list[float] = field(default_factory=list)


def probe_point(
    objective: Objective,
    theta: torch.Tensor,
    xi: torch.Tensor,
    factors: tuple[float, ...] = STEP_FACTORS,
    batch: int | None = None,
    generator: torch.Generator | None = None,
) -> PointResult:
    """The changes of F at (θ, ξ) for every factor and scheme (module docstring)."""
    with bounds.unchecked():
        f0 = float(objective(theta, xi))
        l_t, l_x = objective.block_curvature(theta, xi)
        pairs = None
        if batch is not None:
            if generator is None:
                raise ValueError("minibatch probes need a generator for the fresh pairs")
            pairs = sample_pairs(objective.problem, batch, generator)

        def grads_at(t: torch.Tensor, x: torch.Tensor, which: int) -> torch.Tensor:
            return objective.block_grad(t, x, which, pairs)

        g_t, g_x = grads_at(theta, xi, 0), grads_at(theta, xi, 1)
        result = PointResult(curvature=(l_t, l_x), dv=f0)
        for f in factors:
            theta_new = theta + (f / l_t) * g_t
            f_e = float(objective(theta_new, xi))
            xi_alt = xi + (f / l_x) * grads_at(theta_new, xi, 1)
            f_alt = float(objective(theta_new, xi_alt))
            f_sim = float(objective(theta_new, xi + (f / l_x) * g_x))
            result.e_step.append(f_e - f0)
            result.m_step.append(f_alt - f_e)
            result.alternating.append(f_alt - f0)
            result.simultaneous.append(f_sim - f0)
    return result


def run_points(
    problem: Problem,
    seed: int,
    *,
    warmup_steps: int,
    batch: int | None = None,
    factors: tuple[float, ...] = STEP_FACTORS,
) -> PointResult:
    """One run: fixed pairs and encoders from ``seed``, ``warmup_steps`` alternating full-batch
    steps of half the initial 1/L (to sample points off the initialization, along training),
    then the probes at the point reached."""
    g = torch.Generator().manual_seed(seed)
    objective = Objective(problem, sample_pairs(problem, problem.n_pairs, g))
    theta, xi = objective.init(g), objective.init(g)
    with bounds.unchecked():
        if warmup_steps:
            l_t, l_x = objective.block_curvature(theta, xi)
        for _ in range(warmup_steps):
            theta = theta + (0.5 / l_t) * objective.block_grad(theta, xi, 0)
            xi = xi + (0.5 / l_x) * objective.block_grad(theta, xi, 1)
    return probe_point(objective, theta, xi, factors, batch=batch, generator=g)


def first_decrease(changes: list[float], factors: tuple[float, ...] = STEP_FACTORS) -> float:
    """The smallest factor whose change is a decrease; ``inf`` when none is."""
    for f, change in zip(factors, changes, strict=True):
        if change < -DECREASE_TOL:
            return f
    return math.inf


def wilson_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k/n."""
    if n <= 0:
        raise ValueError(f"need n > 0 trials, got {n}")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def median_interval(values: np.ndarray, z: float = 1.959963984540054) -> tuple[float, float]:
    """Distribution-free ~95 % interval of the median: order statistics n/2 ∓ z√n/2 (works with
    censored ``inf`` values)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    lo = max(0, math.floor(n / 2 - z * math.sqrt(n) / 2))
    hi = min(n - 1, math.ceil(n / 2 + z * math.sqrt(n) / 2))
    return float(x[lo]), float(x[hi])


__all__ = [
    "CORRELATIONS",
    "DECREASE_TOL",
    "STEP_FACTORS",
    "Objective",
    "PointResult",
    "Problem",
    "first_decrease",
    "median_interval",
    "probe_point",
    "run_points",
    "sample_pairs",
    "wilson_interval",
]
