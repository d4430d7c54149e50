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



# ------------------------------------------------------------------------------------ whole runs
#
# Real SDMI training: block ascent with AdamW on minibatches. Every run of a plan is one (scheme,
# seed, step factor); the runs are stacked along a leading axis R and trained together (batched
# matrix products, one autograd call per block step), so a ladder of learning rates over several
# seeds costs about as much as a few runs. Training runs in float32 (the DV's rounding there is
# ~1e-6 nats, far below the evaluation's standard error).

#: the two update schemes of a whole run (index 0 and 1 of the scheme axis)
SCHEMES = ("alternating", "simultaneous")
#: dtype of the whole runs
DTYPE = torch.float32


@dataclass(frozen=True)
class RunPlan:
    """A whole-run experiment: for every seed and every step factor f, one alternating and one
    simultaneous run of ``steps`` AdamW steps per block on minibatches of ``batch`` fresh pairs,
    at learning rate f·η_L (η_L: :func:`curvature_step` at the initial point, median over the
    seeds), the DV on ``eval_pairs`` fixed held-out pairs recorded every ``eval_every`` steps and
    at step 0.

    A seed fixes the initial encoders, the evaluation pairs and the minibatch stream, shared by
    all its runs (common random numbers: the runs of one seed differ only in scheme and rate)."""

    problem: Problem
    seeds: tuple[int, ...]
    factors: tuple[float, ...]
    steps: int = 300
    batch: int = 64
    eval_pairs: int = 256
    eval_every: int = 10
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 1e-6  # on the weight matrices only (paradigms.training.optim)

    def __post_init__(self) -> None:
        if not self.seeds or not self.factors:
            raise ValueError("a run plan needs at least one seed and one step factor")
        if not all(f > 0 and math.isfinite(f) for f in self.factors):
            raise ValueError(f"step factors must be positive and finite, got {self.factors!r}")
        if list(self.factors) != sorted(set(self.factors)):
            raise ValueError(f"step factors must increase strictly, got {self.factors!r}")
        if self.steps < 1 or self.eval_every < 1 or self.steps % self.eval_every:
            raise ValueError("steps must be a positive multiple of eval_every")
        if self.batch < 2 or self.eval_pairs < 3:
            raise ValueError("the DV needs at least 2 pairs per batch and 3 to evaluate")


def batched_scores(za: torch.Tensor, zb: torch.Tensor, temperature: float) -> torch.Tensor:
    """S_ij = cos(za_i, zb_j)/τ for stacks [R, N, d] (:func:`estimators.bounds.cosine_scores`
    per slice)."""
    a = torch.nn.functional.normalize(za, dim=-1)
    b = torch.nn.functional.normalize(zb, dim=-1)
    return a @ b.transpose(-1, -2) / temperature


def batched_dv(scores: torch.Tensor) -> torch.Tensor:
    """DV of every score matrix of a stack [R, N, N]: mean_i S_ii − log mean_{i≠j} e^{S_ij}
    (:func:`estimators.bounds.dv` per slice), in nats."""
    n = scores.shape[-1]
    eye = torch.eye(n, dtype=torch.bool, device=scores.device)
    joint = scores.diagonal(dim1=-2, dim2=-1).mean(-1)
    off = scores.masked_fill(eye, -math.inf).flatten(-2)
    return joint - (torch.logsumexp(off, dim=-1) - math.log(n * (n - 1)))


def batched_dv_se(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(DV, its standard error) of every score matrix of a stack [R, N, N] of N pairs drawn
    independently, by the delta method: DV = J − log Z with J = mean_i S_ii and Z = mean_{i≠j}
    e^{S_ij} a U-statistic whose Hájek projection has the per-pair term h1_i + h2_i − 2Z
    (h1_i = mean_{j≠i} e^{S_ij}, h2_i = mean_{j≠i} e^{S_ji}); so pair i contributes
    φ_i = S_ii − J − (h1_i + h2_i − 2Z)/Z and SE = sd(φ)/√N (nats)."""
    n = scores.shape[-1]
    eye = torch.eye(n, dtype=torch.bool, device=scores.device)
    diag = scores.diagonal(dim1=-2, dim2=-1)
    shift = scores.masked_fill(eye, -math.inf).amax(dim=(-2, -1), keepdim=True)
    e = torch.exp(scores - shift).masked_fill(eye, 0.0)  # e^{S − c}: the c cancels in h/Z
    h1, h2 = e.sum(-1) / (n - 1), e.sum(-2) / (n - 1)
    z = e.sum((-2, -1)) / (n * (n - 1))
    joint = diag.mean(-1)
    dv = joint - (torch.log(z) + shift.view(z.shape))
    phi = diag - joint.unsqueeze(-1) - (h1 + h2) / z.unsqueeze(-1)
    return dv, phi.std(dim=-1) / math.sqrt(n)


class StackedEncoder:
    """The MLP of :func:`_encoder` for R parameter vectors at once: flat [R, P] in the layout of
    :class:`Objective` (weight, bias, weight, bias), applied to inputs [R, N, d]."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        h, d, o = problem.hidden, problem.dim_in, problem.dim_out
        self.cuts = (h * d, h * d + h, h * d + h + o * h, h * d + h + o * h + o)
        self.size = self.cuts[-1]
        mask = torch.zeros(self.size, dtype=torch.float64)
        mask[: self.cuts[0]] = 1.0
        mask[self.cuts[1] : self.cuts[2]] = 1.0
        self.weight_mask = mask  # 1 on the weight matrices (decayed), 0 on the biases

    def __call__(self, flat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        p, (c0, c1, c2, c3) = self.problem, self.cuts
        r = flat.shape[0]
        w1 = flat[:, :c0].view(r, p.hidden, p.dim_in)
        w2 = flat[:, c1:c2].view(r, p.dim_out, p.hidden)
        hidden = torch.baddbmm(flat[:, c0:c1].unsqueeze(1), x, w1.transpose(1, 2))
        hidden = torch.tanh(hidden) if p.activation == "tanh" else torch.relu(hidden)
        return torch.baddbmm(flat[:, c2:c3].unsqueeze(1), hidden, w2.transpose(1, 2))

    def scores(
        self, theta: torch.Tensor, xi: torch.Tensor, a: torch.Tensor, b: torch.Tensor
    ) -> torch.Tensor:
        """The critic's scores [R, N, N] of every run on its pairs (a, b) [R, N, d]."""
        return batched_scores(self(theta, a), self(xi, b), self.problem.temperature)


class StackedAdamW:
    """AdamW ascent on a stack [R, P] with one learning rate per run (torch.optim.AdamW's update
    with the sign of the step flipped, decoupled decay on the weight matrices only):
    m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², θ ← θ(1 − ηλ) + η m̂/(√v̂ + ε), m̂ and v̂ the
    bias-corrected moments."""

    def __init__(
        self, lrs: torch.Tensor, plan: RunPlan, decay_mask: torch.Tensor
    ) -> None:
        self.lr = lrs.view(-1, 1)
        self.b1, self.b2 = plan.betas
        self.eps = plan.eps
        self.decay = 1.0 - self.lr * plan.weight_decay * decay_mask.to(lrs.dtype)
        self.m = torch.zeros(())
        self.v = torch.zeros(())
        self.t = 0

    def step(self, param: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * grad
        self.v = self.b2 * self.v + (1 - self.b2) * grad * grad
        m_hat = self.m / (1 - self.b1**self.t)
        v_hat = self.v / (1 - self.b2**self.t)
        return param * self.decay + self.lr * m_hat / (v_hat.sqrt() + self.eps)


def seed_setup(plan: RunPlan, seed: int) -> dict[str, torch.Tensor]:
    """What a seed fixes (float64): initial θ and ξ, the evaluation pairs and the minibatch
    stream (pairs [steps·batch, d] each), drawn in that order from one generator."""
    g = torch.Generator().manual_seed(seed)
    objective = Objective(plan.problem, (torch.empty(0), torch.empty(0)))
    theta, xi = objective.init(g), objective.init(g)
    eval_a, eval_b = sample_pairs(plan.problem, plan.eval_pairs, g)
    stream_a, stream_b = sample_pairs(plan.problem, plan.steps * plan.batch, g)
    return {"theta": theta, "xi": xi, "eval_a": eval_a, "eval_b": eval_b,
            "stream_a": stream_a, "stream_b": stream_b}  # fmt: skip


def curvature_step(
    problem: Problem, theta: torch.Tensor, xi: torch.Tensor, pairs: tuple[torch.Tensor, ...]
) -> float:
    """η_L: the learning rate at which AdamW's first step, a sign step η·sign(g) per block,
    gains most under the descent lemma F(θ + u) ≥ F(θ) + gᵀu − (L/2)‖u‖², L the block
    Hessian's spectral norm on ``pairs`` (float64): the gain η‖g‖₁ − (L/2)η²P peaks at
    η = ‖g‖₁/(L P) and is guaranteed positive up to twice that. The smaller of the two blocks'."""
    objective = Objective(problem, pairs)
    with bounds.unchecked():
        curvature = objective.block_curvature(theta, xi)
        steps = []
        for block, l_block in enumerate(curvature):
            g = objective.block_grad(theta, xi, block)
            steps.append(float(g.abs().sum()) / (l_block * g.numel()))
    return min(steps)


@dataclass
class RunTraces:
    """Every run of a plan: ``dv[scheme, seed, factor, checkpoint]`` and its standard error
    ``se`` (nats, :func:`batched_dv_se` on the evaluation pairs; checkpoints at steps 0,
    eval_every, …, steps; NaN from a run's first non-finite value on), the per-seed
    :func:`curvature_step` ``step_bounds`` and the unit ``lr_unit`` (their median) of the
    learning rates f·lr_unit."""

    plan: RunPlan
    dv: np.ndarray
    se: np.ndarray
    step_bounds: np.ndarray
    lr_unit: float

    @property
    def checkpoints(self) -> np.ndarray:
        return np.arange(0, self.plan.steps + 1, self.plan.eval_every)

    @property
    def lrs(self) -> np.ndarray:
        return np.asarray(self.plan.factors) * self.lr_unit


def train_runs(plan: RunPlan) -> RunTraces:
    """Every run of ``plan`` (module section "whole runs"). One training step, as SDMI's: the
    E-step (θ ascends the minibatch DV with ξ frozen, one AdamW), then the M-step (ξ ascends it
    with θ frozen, its own AdamW) on the same minibatch, with its gradient taken at the new θ
    (alternating) or at the old θ (simultaneous: both block gradients at one point, the same
    step sizes; the only difference between the two schemes)."""
    problem, n_s, n_f = plan.problem, len(plan.seeds), len(plan.factors)
    setups = [seed_setup(plan, seed) for seed in plan.seeds]
    bounds_ = np.array([
        curvature_step(problem, s["theta"], s["xi"], (s["eval_a"], s["eval_b"])) for s in setups])
    lr_unit = float(np.median(bounds_))
    enc = StackedEncoder(problem)

    def stack(key: str) -> torch.Tensor:
        return torch.stack([s[key] for s in setups]).to(DTYPE)

    # run r = (scheme, seed, factor), scheme-major
    seed_of = torch.arange(n_s).repeat_interleave(n_f).repeat(2)
    alternates = (torch.arange(2 * n_s * n_f) < n_s * n_f).view(-1, 1)
    lrs = (torch.tensor(plan.factors, dtype=torch.float64) * lr_unit).repeat(2 * n_s).to(DTYPE)
    theta, xi = stack("theta")[seed_of], stack("xi")[seed_of]
    eval_a, eval_b = stack("eval_a")[seed_of], stack("eval_b")[seed_of]
    stream_a = stack("stream_a").view(n_s, plan.steps, plan.batch, -1)
    stream_b = stack("stream_b").view(n_s, plan.steps, plan.batch, -1)
    opt_theta = StackedAdamW(lrs, plan, enc.weight_mask)
    opt_xi = StackedAdamW(lrs, plan, enc.weight_mask)

    def minibatch_dv(t: torch.Tensor, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor):
        return batched_dv(enc.scores(t, x, a, b)).sum()  # runs are independent: Σ_r splits

    dvs, ses = [], []

    def evaluate() -> None:
        with torch.no_grad():
            dv, se = batched_dv_se(enc.scores(theta, xi, eval_a, eval_b))
        dvs.append(dv)
        ses.append(se)

    evaluate()
    for step in range(plan.steps):
        a, b = stream_a[seed_of, step], stream_b[seed_of, step]
        th, x = theta.requires_grad_(True), xi.requires_grad_(True)
        g_theta, g_xi_old = torch.autograd.grad(minibatch_dv(th, x, a, b), (th, x))
        theta = opt_theta.step(theta.detach(), g_theta)
        x = xi.detach().requires_grad_(True)
        (g_xi_new,) = torch.autograd.grad(minibatch_dv(theta, x, a, b), (x,))
        xi = opt_xi.step(xi.detach(), torch.where(alternates, g_xi_new, g_xi_old))
        if (step + 1) % plan.eval_every == 0:
            evaluate()
    shape = (2, n_s, n_f, -1)
    dv = torch.stack(dvs, -1).view(shape).double().numpy().copy()
    se = torch.stack(ses, -1).view(shape).double().numpy().copy()
    broken = np.cumsum(~np.isfinite(dv) | ~np.isfinite(se), axis=-1) > 0
    dv[broken], se[broken] = np.nan, np.nan
    return RunTraces(plan, dv, se, bounds_, lr_unit)


def first_break(dv: np.ndarray, se: np.ndarray, z: float) -> np.ndarray:
    """Per run (last axis: checkpoints), the first checkpoint whose DV lies more than z·SE below
    the run's running maximum, SE that of the maximum (the value's own error bar on the fixed
    evaluation set); a non-finite DV breaks too. −1 where the run never breaks."""
    dv = np.asarray(dv, dtype=np.float64)
    se = np.asarray(se, dtype=np.float64)
    flat_dv = dv.reshape(-1, dv.shape[-1])
    flat_se = se.reshape(-1, se.shape[-1])
    out = np.full(flat_dv.shape[0], -1, dtype=np.int64)
    for r in range(flat_dv.shape[0]):
        best, best_se = -math.inf, 0.0
        for t, (value, err) in enumerate(zip(flat_dv[r], flat_se[r], strict=True)):
            if not (math.isfinite(value) and math.isfinite(err)):
                out[r] = t
                break
            if best - value > z * best_se:
                out[r] = t
                break
            if value > best:
                best, best_se = value, err
    return out.reshape(dv.shape[:-1])


__all__ = [
    "CORRELATIONS",
    "DECREASE_TOL",
    "DTYPE",
    "SCHEMES",
    "STEP_FACTORS",
    "Objective",
    "PointResult",
    "Problem",
    "RunPlan",
    "RunTraces",
    "StackedAdamW",
    "StackedEncoder",
    "batched_dv",
    "batched_dv_se",
    "batched_scores",
    "curvature_step",
    "first_break",
    "first_decrease",
    "median_interval",
    "probe_point",
    "run_points",
    "sample_pairs",
    "seed_setup",
    "train_runs",
    "wilson_interval",
]
