"""Gaussianizing-flow MI estimator: invertible maps per side, then the Gaussian MI of the latents.

MI is invariant under invertible maps of each side: I(X; Y) = I(f(X); g(Y)). If f and g make the
pair (U, V) = (f(X), g(Y)) jointly Gaussian, then

    I(X; Y) = ½ (log det Σ_UU + log det Σ_VV − log det Σ),

in closed form, with no log-batch ceiling (Butakov et al. 2024, "MIENF"). And whenever U and V are
each exactly Gaussian, that Gaussian value is a *lower bound* on I(U; V) = I(X; Y): for fixed
marginal entropies h(U), h(V), the joint entropy is largest, so the MI smallest, for the Gaussian
joint with the same covariance. The flow is therefore trained to make the joint Gaussian.

Protocol (cross-fitting, as ``estimators.neural``). Each side that is exactly low-rank (linearly
dependent columns) is first written in coordinates of its span (``estimators.latents.exact_span``:
invertible on the data, so the MI is unchanged; the nonlinear per-coordinate maps below would
otherwise spread d dependent columns over far more than the latent dimensions). Then the pairs
are split into ``folds`` parts; for each part k, maps are fitted on the other parts and the MI is
read out on part k:

1. every column is mapped to normal scores by the training part's empirical CDF (float64,
   ``estimators.marginals.NormalScores``), with ties spread at random within their run (which
   keeps the MI; ReLU zeros); this alone makes each coordinate Gaussian, and for data with a
   Gaussian copula (Gaussians through increasing maps of each coordinate) it is enough;
2. each side is projected on the directions of its training normal scores whose variance is above
   the maps' resolution (``estimators.latents.principal_basis``; near-low-rank embeddings: a
   function of each side, so it can only lower the MI, and for a low-rank signal plus
   independent noise it loses nothing);
3. each side gets a flow of ``layers`` blocks, each an increasing map of every coordinate,
   z ↦ z + Σ_j a_j tanh(b_j z + c_j) (a_j, b_j > 0, so the slope is ≥ 1), followed by an
   invertible linear map; the flows start at the identity and are trained by maximum
   likelihood of the joint Gaussian model, i.e. they minimise
       ½ log det Σ̂(U, V) − mean log|det ∂f/∂x| − mean log|det ∂g/∂y|
   over mini-batches, with Σ̂ the batch covariance (the profile likelihood: Σ is fitted in
   closed form), early-stopped on a validation share of the training part. The likelihood is a
   log-determinant of a batch covariance, so flows are trained only with at least
   ``FIT_PER_DIM`` · d training and ``VAL_PER_DIM`` · d validation pairs (d = d_x + d_y); above
   that dimension (256 + 256 at n = 5000) the normal scores are the latents, which is also where
   training stopped paying (best validation step 0–20 of ~190 at ≥ 64 dims);
4. the MI is the Gaussian plug-in of the held-out latents by their canonical correlations, with
   the exact Wishart bias correction of ``estimators.gaussian`` (unbiased when the latents are
   Gaussian); the latents are also checked (``estimators.latents``): the radii's dependence
   (``diagnostics["radial"]``; flag ``radial``), a randomized dependence test of their directions
   (flag ``residual_dependence``) and the resolution of the tightest canonical pair (flag
   ``resolution``).

Interval (95 %, normal). The held-out plug-in is a smooth function of the latents' covariance; its
delta-method influence values are ψ_i = ½ (u_iᵀΣ_UU⁻¹u_i + v_iᵀΣ_VV⁻¹v_i − w_iᵀΣ⁻¹w_i), w = (u, v)
centred, so Var ≈ Var(ψ)/n_k. At independence ψ ≡ 0 to first order and the estimator is of
second order: 2 n_k Î ~ χ²_{d_x d_y} (Wilks), Var = d_x d_y / (2 n_k²); both terms are added.
Across folds the flows differ, and the DerSimonian–Laird between-fold variance is added as in
``estimators.neural``. The interval covers the estimator's expectation; the gap between the
Gaussian model of the latents and the truth (a non-Gaussian copula the flows cannot undo) is a
bias it does not cover — ``diagnostics["copula_mi"]``, the plug-in on normal scores alone, shows
how much the flows changed.

What it cannot see: dependence that no per-side invertible map makes linear, e.g. the shared
radius of a multivariate Student-t with ρ = 0 (read ≈ 0; the radial term sees it, and the
default adds it), or any non-Gaussian copula in 1 + 1 dimensions (where the flows cannot change
the copula; training is skipped there).

All values are in nats.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from estimators.latents import (
    RADIAL_Z,
    RESOLUTION,
    Readout,
    canonical_readout,
    exact_span,
    principal_basis,
    radial_term,
    residual_dependence,
    tail_excess,
)
from estimators.marginals import normal_scores
from estimators.neural import combine_folds, fold_ids
from estimators.result import Z95, MIResult
from estimators.validation import (
    check_pair,
    config_from_options,
    progress_bar,
    resolve_device,
)

#: flows are trained only with at least FIT_PER_DIM · d training and VAL_PER_DIM · d validation
#: pairs (d = d_x + d_y after rank reduction), on batches of at least BATCH_PER_DIM · d pairs: the
#: likelihood is a log-determinant of a batch covariance, which needs many pairs per dimension
FIT_PER_DIM = 4
VAL_PER_DIM = 2
BATCH_PER_DIM = 2
#: the radial term is read only where the latents' joint dimension is at most this share of the
#: held-out pairs: above it the whitening by the held-out covariance couples the two sides' radii
#: (a 2048 + 2048 Gaussian pair at n = 10,000 read 0.34 nats of radial dependence)
RADIAL_MAX_DIM_SHARE = 0.1
#: level of the residual dependence test of the latents' directions (flag ``residual_dependence``)
DIRECTION_ALPHA = 0.01


@dataclass(frozen=True)
class FlowConfig:
    """Options of the flow estimator (keyword arguments of ``estimate_mi(..., method="flow")``).

    Attributes:
        layers: blocks (increasing coordinate map + invertible linear map) per side; 0 gives the
            Gaussian-copula plug-in (normal scores only).
        components: tanh terms per coordinate in each increasing map.
        folds: cross-fitting folds (≥ 2).
        batch_size: training mini-batch.
        max_steps: most optimizer steps per fold.
        min_steps: steps before early stopping may stop (the likelihood can dip first).
        lr: Adam learning rate.
        val_fraction: share of each training part held back for early stopping.
        eval_every: steps between validation likelihoods.
        patience: validations without improvement before stopping.
        progress: a progress bar over the folds after 2 s: None (default) on a terminal only.
    """

    layers: int = 2
    components: int = 3
    folds: int = 2
    batch_size: int = 512
    max_steps: int = 600
    min_steps: int = 100
    lr: float = 3e-2
    val_fraction: float = 0.2
    eval_every: int = 10
    patience: int = 10
    progress: bool | None = None

    def __post_init__(self) -> None:
        lows = {"layers": 0, "components": 1, "folds": 2, "batch_size": 8, "max_steps": 1,
                "min_steps": 0, "eval_every": 1, "patience": 1}  # fmt: skip
        for name, low in lows.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
        if self.progress is not None and not isinstance(self.progress, bool):
            raise ValueError(f"progress must be True, False or None, got {self.progress!r}")
        for name in ("lr", "val_fraction"):
            v = getattr(self, name)
            high = 1.0 if name == "val_fraction" else math.inf
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < high:
                raise ValueError(f"{name} must be a number in (0, {high}), got {v!r}")


class MonotoneMap(nn.Module):
    """z ↦ z + Σ_j a_j tanh(b_j z + c_j) per coordinate, a_j = softplus(α_j), b_j = softplus(β_j).

    Strictly increasing (slope 1 + Σ_j a_j b_j sech²(b_j z + c_j) ≥ 1), so invertible; starts
    within 1 % of the identity (a_j ≈ 0.007).
    """

    def __init__(self, dim: int, components: int, generator: torch.Generator) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.full((dim, components), -5.0, dtype=torch.float64))
        self.beta = nn.Parameter(torch.full((dim, components), 0.5413, dtype=torch.float64))
        centres = torch.linspace(-2.0, 2.0, components, dtype=torch.float64)
        jitter = 0.1 * torch.randn(dim, components, generator=generator, dtype=torch.float64)
        self.shift = nn.Parameter(centres + jitter)


    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(map of z [n, d], log-slope summed over coordinates [n])."""
        a = nn.functional.softplus(self.alpha)
        b = nn.functional.softplus(self.beta)
        t = torch.tanh(torch.addcmul(self.shift, z.unsqueeze(-1), b))  # [n, d, K]
        out = z + (t * a).sum(-1)
        slope = 1.0 + ((1.0 - t * t) * (a * b)).sum(-1)
        return out, torch.log(slope).sum(-1)


class PairFlow(nn.Module):
    """One flow per side, run as one: ``layers`` blocks of (MonotoneMap on all d_x + d_y
    coordinates, block-diagonal linear map diag(W_x, W_y)), so x's latents depend on x alone and
    y's on y alone; both maps start at the identity."""

    def __init__(self, dim_x: int, dim_y: int, layers: int, components: int, seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        d = dim_x + dim_y
        self.dim_x = dim_x
        self.maps = nn.ModuleList(MonotoneMap(d, components, gen) for _ in range(layers))
        self.weights = nn.ParameterList(
            nn.Parameter(torch.eye(d, dtype=torch.float64)) for _ in range(layers)
        )
        mask = torch.zeros(d, d, dtype=torch.float64)
        mask[:dim_x, :dim_x] = 1.0
        mask[dim_x:, dim_x:] = 1.0
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(latents [n, d_x + d_y], log|det Jacobian| per pair [n])."""
        z = torch.cat([x, y], dim=1)
        logdet = torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
        for mono, weight in zip(self.maps, self.weights, strict=True):
            z, ld = mono(z)
            w = weight * self.mask
            z = z @ w.T
            logdet = logdet + ld + torch.linalg.slogdet(w)[1]
        return z, logdet


def _logdet_cov(w: torch.Tensor) -> torch.Tensor:
    wc = w - w.mean(dim=0, keepdim=True)
    cov = wc.T @ wc / (w.shape[0] - 1)
    return torch.linalg.slogdet(cov)[1]


def _nll(flow: PairFlow, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Profile negative log-likelihood per pair of the joint Gaussian model, up to a constant."""
    w, logdet = flow(x, y)
    return 0.5 * _logdet_cov(w) - logdet.mean()


def _fit_flow(
    x: torch.Tensor, y: torch.Tensor, config: FlowConfig, seed: int
) -> tuple[PairFlow, dict[str, Any]]:
    """Train the pair of side flows on (x, y) with early stopping; return the best."""
    gen = torch.Generator().manual_seed(seed)
    n, d = x.shape[0], x.shape[1] + y.shape[1]
    n_val = round(config.val_fraction * n)
    info: dict[str, Any] = {"n_fit": n - n_val, "n_val": n_val, "steps": 0, "best_step": 0}
    if config.layers == 0:
        info["stopped"] = "no layers"
    elif n_val < VAL_PER_DIM * d or n - n_val < FIT_PER_DIM * d:
        info["stopped"] = (f"not trained: {n - n_val} + {n_val} pairs for {d} dimensions, fewer "
                           f"than {FIT_PER_DIM} d + {VAL_PER_DIM} d")  # fmt: skip
    if "stopped" in info:
        return PairFlow(x.shape[1], y.shape[1], 0, config.components, seed).to(x.device), info
    perm = torch.randperm(n, generator=gen).to(x.device)
    xv, yv = x[perm[:n_val]], y[perm[:n_val]]
    xf, yf = x[perm[n_val:]], y[perm[n_val:]]
    flow = PairFlow(x.shape[1], y.shape[1], config.layers, config.components, seed)
    flow = flow.to(x.device, x.dtype)
    opt = torch.optim.Adam(flow.parameters(), lr=config.lr, foreach=True)
    batch = min(max(config.batch_size, BATCH_PER_DIM * d), n - n_val)

    def validate() -> float:
        with torch.no_grad():
            return float(_nll(flow, xv, yv))

    best, best_step, since = validate(), 0, 0
    best_state = copy.deepcopy(flow.state_dict())
    curve = [[0, best]]
    stop, step = "max_steps", 0
    for step in range(1, config.max_steps + 1):
        idx = torch.randint(0, n - n_val, (batch,), generator=gen).to(x.device)
        loss = _nll(flow, xf[idx], yf[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % config.eval_every == 0:
            val = validate()
            curve.append([step, val])
            if not math.isfinite(val):
                stop = "diverged"
                break
            if val < best - 1e-4:
                best, best_step, since = val, step, 0
                best_state = copy.deepcopy(flow.state_dict())
            elif step >= config.min_steps:
                since += 1
                if since >= config.patience:
                    stop = "patience"
                    break
    flow.load_state_dict(best_state)
    info.update(steps=step, best_step=best_step, stopped=stop, val_nll=best, curve=curve)
    return flow, info


def flow_mi(
    x: object,
    y: object,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    **options: Any,
) -> MIResult:
    """Gaussianizing-flow estimate of I(X; Y) in nats with a 95 % interval (module docstring).

    Args:
        x, y: [n, d_x] and [n, d_y] samples (numpy, torch or nested sequences; 1-D is one column).
        seed: seeds the folds, the flows' initial shifts and the mini-batches.
        device: "cpu" or a CUDA device (float64 throughout).
        **options: fields of :class:`FlowConfig`.

    Returns:
        MIResult with ``method="flow"``; ``diagnostics`` holds per-fold training details, the
        fold estimates and SEs, τ², ``copula_mi`` and ``copula_se`` (the plug-in on normal
        scores alone), the checks of the latents (``estimators.latents``): ``radial`` and
        ``copula_radial`` ({"mi", "se"} in nats, or None where the latents' dimension is above
        ``RADIAL_MAX_DIM_SHARE`` of the held-out pairs), ``direction_p``, ``resolution`` (the
        tightest canonical pair's 1 − ρ² times the training pairs per fold) and ``rank`` (the
        dimensions kept per side and fold).
    """
    start = time.perf_counter()
    config = config_from_options(FlowConfig, options, "the flow estimator")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    dev = resolve_device(device)
    xa, ya = check_pair(x, y)
    n, dx = xa.shape
    dy = ya.shape[1]
    if n // config.folds < dx + dy + 2:
        raise ValueError(
            f"the flow estimator needs held-out parts of at least d_x + d_y + 2 = {dx + dy + 2} "
            f"pairs; n = {n} with folds = {config.folds} gives {n // config.folds}"
        )
    if dx == 1 and dy == 1:
        config = FlowConfig(**{**asdict(config), "layers": 0})  # the copula cannot change
    xt = torch.as_tensor(exact_span(xa), dtype=torch.float64, device=dev)
    yt = torch.as_tensor(exact_span(ya), dtype=torch.float64, device=dev)
    gen = torch.Generator().manual_seed(seed)
    ties = torch.Generator().manual_seed(seed * 7919 + 1)
    folds_out: list[_Fold] = []
    for k, test_idx in enumerate(
        progress_bar(fold_ids(n, config.folds, gen), "flow: folds", config.progress)
    ):
        mask = np.ones(n, dtype=bool)
        mask[test_idx] = False
        tr = torch.as_tensor(np.flatnonzero(mask), device=dev)
        te = torch.as_tensor(test_idx, device=dev)
        folds_out.append(_fold(xt[tr], xt[te], yt[tr], yt[te], config, seed * 1009 + k, ties))
    return _combine(folds_out, config, n, dev, time.perf_counter() - start)


@dataclass
class _Fold:
    """One fold's read-outs (nats), checks and training details."""

    readout: Readout
    copula: Readout
    radial: tuple[float, float] | None
    copula_radial: tuple[float, float] | None
    tails: tuple[float, float]
    direction_p: float
    resolution: float
    info: dict[str, Any]


def _reduce(train: torch.Tensor, test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Both parts projected on the training part's directions above the maps' resolution
    (``estimators.latents.principal_basis``), and how many were kept."""
    basis = principal_basis(train)
    if basis is None:
        return train, test, train.shape[1]
    return train @ basis, test @ basis, basis.shape[1]


def _fold(
    x_tr: torch.Tensor, x_te: torch.Tensor, y_tr: torch.Tensor, y_te: torch.Tensor,
    config: FlowConfig, seed: int, ties: torch.Generator,
) -> _Fold:
    """Fit the maps on the training part, read the held-out part out (module docstring)."""
    x_tr, x_te = normal_scores(x_tr, x_te, ties=ties)
    y_tr, y_te = normal_scores(y_tr, y_te, ties=ties)
    x_tr, x_te, rank_x = _reduce(x_tr, x_te)
    y_tr, y_te, rank_y = _reduce(y_tr, y_te)
    t0 = time.perf_counter()
    flow, info = _fit_flow(x_tr.float(), y_tr.float(), config, seed=seed)
    dx = x_te.shape[1]
    copula = canonical_readout(x_te, y_te)
    if flow.maps:  # trained
        with torch.no_grad():
            latents = flow(x_te.float(), y_te.float())[0].double()
        readout = canonical_readout(latents[:, :dx], latents[:, dx:])
    else:
        readout = copula
    radial = copula_radial = None
    if RADIAL_MAX_DIM_SHARE * x_te.shape[0] >= dx + y_te.shape[1]:
        radial = radial_term(readout, seed)
        copula_radial = radial_term(copula, seed) if flow.maps else radial
    direction_p = residual_dependence(readout, seed)
    tails = tail_excess(readout)
    m = x_tr.shape[0]
    resolution = float(1.0 - readout.rho[0] ** 2) * m if readout.rho.size else math.inf
    info.update(train_seconds=time.perf_counter() - t0, n_test=int(x_te.shape[0]),
                estimate=readout.mi, se=math.sqrt(readout.var), plugin_raw=readout.raw,
                rank_x=rank_x, rank_y=rank_y, radial=radial,
                direction_p=direction_p, resolution=resolution, tail_excess=tails[0])  # fmt: skip
    return _Fold(readout, copula, radial, copula_radial, tails, direction_p, resolution, info)


def _combined(
    terms: list[tuple[float, float] | None], sizes: np.ndarray
) -> dict[str, float] | None:
    """Per-fold (value, SE) terms combined as the read-outs are ({"mi", "se"}, nats), or None
    where the folds did not compute them."""
    if any(t is None for t in terms):
        return None
    pairs = np.array(terms)
    mean, var, _ = combine_folds(pairs[:, 0], pairs[:, 1] ** 2, sizes)
    return {"mi": mean, "se": math.sqrt(var)}


def _combine(
    folds: list[_Fold], config: FlowConfig, n: int, dev: torch.device, seconds: float
) -> MIResult:
    """The folds' read-outs combined (size-weighted, DerSimonian–Laird), with the flags."""
    sizes = np.array([f.info["n_test"] for f in folds], float)
    estimates = np.array([f.readout.mi for f in folds])
    mi, var, tau2 = combine_folds(estimates, np.array([f.readout.var for f in folds]), sizes)
    radial = _combined([f.radial for f in folds], sizes)
    copula_radial = _combined([f.copula_radial for f in folds], sizes)
    tails = _combined([f.tails for f in folds], sizes)
    copula = _combined([(f.copula.mi, math.sqrt(f.copula.var)) for f in folds], sizes)
    direction_p = min(1.0, len(folds) * min(f.direction_p for f in folds))
    resolution = min(f.resolution for f in folds)
    half = Z95 * math.sqrt(var)
    flags = []
    fold_info = [f.info for f in folds]
    if config.layers > 0 and all(f["stopped"] == "max_steps" for f in fold_info):
        flags.append(
            f"flow_unconverged: the flows used all {config.max_steps} steps in every fold with "
            "the likelihood still improving; max_steps=... larger may raise the estimate"
        )
    if resolution < RESOLUTION:
        flags.append(
            f"resolution: a canonical pair of the latents has 1 − ρ² = {resolution:.2g}/m (m "
            "training pairs per fold), at the resolution of the normal-score maps: x and y are "
            "tied tighter than this n resolves, so the MI may be far higher than reported, up to "
            "infinite (y a function of x)"
        )
    if radial is not None and radial["mi"] > RADIAL_Z * radial["se"]:
        flags.append(
            f"radial: the radii of the two sides' latents are dependent (KSG {radial['mi']:.3f} "
            "nats), "
            "dependence the Gaussian read-out misses (a shared scale, as in a Student-t): the MI "
            "is likely higher; method='auto' adds this term"
        )
    if radial is None and tails["mi"] > max(RADIAL_Z * tails["se"], Z95 * math.sqrt(var)):
        flags.append(
            f"heavy_tails: the latents' fourth moments exceed their Gaussian model's, so the "
            f"read-out's bias correction falls short by ≈ {tails['mi']:.2f} nats (it may read "
            "high), while dependence through a shared scale, read by the radial term, is not "
            "read at this dimension (it may read low): the estimate can be off either way"
        )
    if direction_p < DIRECTION_ALPHA:
        flags.append(
            f"residual_dependence: the directions of the flow latents stay dependent beyond their "
            f"Gaussian model (randomized dependence test, p = {direction_p:.2g}): the flows did "
            "not undo the maps of x and y, so the MI is likely higher than reported"
        )
    diagnostics = {
        "folds": fold_info,
        "tau2": tau2,
        "flags": flags,
        "copula_mi": copula["mi"],
        "radial": radial,
        "copula_se": copula["se"],
        "copula_radial": copula_radial,
        "direction_p": direction_p,
        "tail_excess": tails,
        "resolution": resolution,
        "rank": {"x": [f.info["rank_x"] for f in folds], "y": [f.info["rank_y"] for f in folds]},
        "config": asdict(config),
        "device": str(dev),
        "interval": "95% normal: delta-method + chi-square read-out variance + between-fold "
        "variance of the flows; the estimator's expectation, not the Gaussian-model gap",
    }
    return MIResult(mi=mi, ci=(mi - half, mi + half), method="flow", n=n, seconds=seconds,
                    diagnostics=diagnostics)  # fmt: skip


__all__ = ["FlowConfig", "MonotoneMap", "PairFlow", "flow_mi"]
