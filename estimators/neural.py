"""Neural MI estimators: train a critic on one part of the data, read MI out on another.

Methods (DESIGN.md §3), with the objective the critic is trained on and the bound read out:

- ``dv``: trained with DV, read out with DV.
- ``nwj``: trained with NWJ, read out with NWJ.
- ``infonce``: trained with InfoNCE, read out with InfoNCE over the whole held-out fold.
- ``jsd``: trained with JSD (Hjelm et al. 2019), read out with NWJ on T + 1 (Poole et al. 2019:
  the JSD-optimal critic is log p/(p_x p_y), the NWJ-optimal one that plus 1).
- ``smile``: trained with JSD (Song & Ermon 2020 train with the JS gradient; the clipped DV
  objective itself is unbounded above in T on the joint pairs), read out with SMILE at ``clip``.
- ``mine``: trained with DV and MINE's moving-average gradient, read out with DV.

Protocol (cross-fitting). The n pairs are split at random into ``folds`` parts (default 5, so
each critic trains on 80 % of the pairs). For each part k a fresh critic is trained on the other
parts — inputs mapped per coordinate to normal scores by the empirical CDF of those training
pairs (``marginals``; :func:`normal_scores`), a
``val_fraction`` of them held back for early stopping and checkpoint choice — and the read-out
bound is evaluated on part k, which the critic never saw. With ``folds = 1`` a single split is
used: ``1 − test_fraction`` to train, the rest to read out. The estimate is the size-weighted mean
of the fold read-outs. Nothing is ever chosen on the pairs that are reported. The K critics train
side by side — one vectorised step updates all of them (:func:`_train_critics`) — but each has
its own weights, split, batches, early stopping and checkpoint, as if trained alone.

Null critic and checkpoint choice. Every read-out is 0 for a constant critic (S ≡ 0; S ≡ 1 for
NWJ), which knows nothing. A checkpoint is kept only if it beats that null critic on the
validation pairs; if none does (independence, or a critic that cannot learn), the fold reports
the null critic's read-out, 0, with the trained critic's influence values for its standard error
(so the interval keeps the width a fitted critic would have). On independent data an over-fitted
critic otherwise reads *below* 0 on held-out pairs: 2 + 2 dims, n = 2000, 10 seeds, intervals
excluded 0 (from below) in 4–8 of 10 seeds for every neural method. Checkpoints are chosen by
the validation read-out, except SMILE's: its clipped read-out is biased upwards at high MI, so
choosing by it rewards the bias; SMILE's checkpoint is chosen by the JSD objective it trains on.

No extrapolation in the training size. An earlier default reported, for InfoNCE, the Richardson
extrapolation 2 R(θ̂_m) − R(θ̂_{m/2}) of a critic trained on all and one on half the training
pairs, assuming a c/m shortfall. The assumption failed: half-data critics fell short by 3.4×, not
2× (in 25 + 25 dimensions all 15 stopped at their first evaluation, so the "extrapolation" was in
training length), and on independent 2 + 2 data (10 seeds, n = 2000) it read +0.0077 on average
with intervals excluding 0 in 4 of 10 seeds, where the plain read-out reads −0.0056. It was
removed; for high MI or high dimension use ``method="flow"`` (``estimators.flow``), which has no
ceiling and no such bias on Gaussian-copula data.

Critic (``quadratic``; default on for every method but SMILE). The separable critic gets
one-sided quadratic terms in its embedding coordinates, Σ_k α_k g_k(x)² + Σ_k β_k h_k(y)², so its
family contains the exact log density ratio of any jointly Gaussian pair (see
``estimators.critics.SeparableCritic``) for 2·embed extra parameters. Measured at n = 5000 (InfoNCE,
mean |log2(est/I)| over seeds 0–1, plain → quadratic): dense 25 + 25 (ρ = 0.2) 0.22 → 0.036,
sparse 25 + 25 (4 pairs) 0.25 → 0.098, sparse 5 + 5 0.16 → 0.069; DV on the dense 25 + 25 task
0.76 → 0.43 (seed 0). SMILE keeps the plain critic: a sharper critic moves its clipped read-out
further above the truth at high MI (20 + 20 staircase at 6 nats, seeds 0–1: 6.82 plain, 7.11
quadratic).

Input map (``marginals``; default ``"normal-scores"``). MI is invariant under increasing maps
of each coordinate, so each fold maps every input column through Φ⁻¹ of its training part's
empirical CDF. For Gaussian data this is the standardization up to O(1/√m) noise (dense and
sparse 25 + 25 InfoNCE, seeds 0–1: 0.673/0.653 and 0.834/0.831 with normal scores, 0.673/0.653
and 0.833/0.835 standardized); for heavy tails it is the difference between an estimate and
none: on Student-t (ν = 3, I = 0.557, n = 5000) standardized inputs gave (seeds 0–4, critic
without quadratic terms) NWJ −10⁶ … −10¹⁸, DV −4.5 … 0.14 and JSD −10⁹ … −10⁴³ nats (one
held-out outlier's e^S dominates the marginal term); normal scores (seeds 0–2) NWJ 0.50–0.56,
DV 0.52–0.56, JSD 0.47–0.53, InfoNCE 0.53–0.58.

Default folds. 5 for every method but SMILE, which keeps 2: its read-out rewards a sharper critic
beyond the truth at high MI (20-dim staircase at 6 nats, seed 100: 6.92 with 2 folds, 7.52 with 5,
over the 1-nat bar), while at low MI 2 folds suffice for it (Student-t ν = 3: 0.549 vs truth 0.557).

Confidence interval (95 %, normal). Within a fold the read-out is a smooth function of sample
means over held-out pairs and of a U-statistic over their off-diagonal pairs (the marginal
term). Its variance is estimated by the delta method with the Hoeffding projection: each held-out
pair k gets an influence value ψ_k (see :func:`readout`), and Var ≈ Var(ψ)/n_k. Across folds, the
critics differ (different training pairs, different initial weights and batches), so the fold
read-outs scatter by more than their sampling error; that extra between-critic variance τ² is
estimated by the DerSimonian–Laird moment estimator and added: Var(mean) = Σ_k w_k² (v_k + τ²).
So the interval covers the sampling variability of the read-out *and* (K − 1 degrees of freedom)
the variability of the critic training. It does *not* cover the gap between the population value
of the bound for a trained critic and the true MI — every read-out is a lower bound in
expectation (DV, NWJ, JSD→NWJ, MINE), or capped at log n_k (InfoNCE), or biased by the clip
(SMILE) — so when the critic is poor the interval sits below the truth.
Coverage of the truth at independence is measured in ``tests/test_independence.py`` (every
method, 10 seeds, n = 2000).

Known biases (measured with the exact optimal critic T* on 20-dim Gaussians, one held-out block
of 2500 pairs, so they are properties of the read-outs, not of training): DV and NWJ within
±0.05 nats of I from 2 to 10 nats; InfoNCE 1.99, 3.88, 5.49, 6.65, 7.33 for I = 2, 4, 6, 8, 10
(capped by log 2500 = 7.82); SMILE with clip 5 *over*-estimates: 2.03, 4.27, 6.71, 9.29, 11.97
(clipping the marginal scores lowers the log-partition term; SMILE is not a lower bound).

All values are in nats.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch

from estimators import bounds
from estimators.critics import CRITICS, SeparableCritic, make_critic
from estimators.flags import neural_flags
from estimators.marginals import MARGINAL_MAPS
from estimators.readout import (
    NEURAL_METHODS,
    NULL_SCORE,
    Readout,
    readout,
    readout_value,
    score_blocks,
)
from estimators.result import Z95, MIResult
from estimators.trained import FoldCritic, TrainedCritic
from estimators.validation import (
    check_pair,
    config_from_options,
    progress_bar,
    resolve_device,
)

PLAIN_CRITIC = ("smile",)  # methods whose separable critic has no quadratic terms by default
FOLDS = {"smile": 2}  # default folds where not 5 (see the module docstring)


@dataclass(frozen=True)
class NeuralConfig:
    """Options of the neural estimators (pass them as keyword arguments to ``estimate_mi``).

    Attributes:
        critic: one of ``estimators.critics.CRITICS``.
        hidden, layers, embed: MLP width, number of hidden layers, embedding size (separable,
            cosine); ``concat`` uses hidden and layers.
        temperature: τ of the cosine critic.
        skip, offsets, quadratic: linear path, one-sided scalar terms and (``quadratic``) their
            quadratic terms in the embedding coordinates, of the separable critic
            (``estimators.critics.SeparableCritic``); ``quadratic=None`` (default) means on for
            every method but ``smile`` (see the module docstring).
        batch_size: training mini-batch (score matrices are batch_size²).
        max_steps: most optimizer steps per fold.
        lr, weight_decay: AdamW settings.
        folds: cross-fitting folds (≥ 2), or 1 for a single train/test split; ``None`` (default)
            means 5, except 2 for ``smile`` (see the module docstring).
        test_fraction: held-out share when ``folds == 1``.
        val_fraction: share of each training part held back for early stopping.
        eval_every: steps between validation read-outs.
        patience: validation read-outs without improvement before stopping.
        clip: SMILE's clip τ.
        mine_rate: weight of the newest batch in MINE's moving average.
        eval_batch: largest held-out block scored at once; larger folds are read out in blocks of
            about this size (the marginal term then uses within-block pairs, InfoNCE is capped at
            log block-size).
        progress: a progress bar over the folds, shown once an estimate has run 2 s: ``None``
            (default) on a terminal only, ``True`` always, ``False`` never.
        marginals: how each fold's inputs are mapped, per coordinate, with maps fitted on its
            training part: ``"normal-scores"`` (default, :func:`normal_scores`) or
            ``"standardize"`` (mean 0, standard deviation 1).

    The defaults (separable critic, one hidden layer of 64, embedding 32, AdamW at 2e-3, batches
    of 256, early stopping on 20 % of each training part) train 2 critics per estimate for
    ``smile`` and 5 for the other methods.
    """

    critic: str = "separable"
    hidden: int = 64
    layers: int = 1
    embed: int = 32
    temperature: float = 0.1
    skip: bool = True
    offsets: bool = True
    quadratic: bool | None = None
    batch_size: int = 256
    max_steps: int = 1000
    lr: float = 2e-3
    weight_decay: float = 0.0
    folds: int | None = None
    test_fraction: float = 0.5
    val_fraction: float = 0.2
    eval_every: int = 25
    patience: int = 6
    clip: float = 5.0
    mine_rate: float = 0.01
    eval_batch: int = 4096
    marginals: str = "normal-scores"
    progress: bool | None = None

    def __post_init__(self) -> None:
        if self.marginals not in MARGINAL_MAPS:
            raise ValueError(
                f"marginals must be one of {', '.join(MARGINAL_MAPS)}, got {self.marginals!r}"
            )
        if self.critic not in CRITICS:
            raise ValueError(f"critic must be one of {', '.join(CRITICS)}, got {self.critic!r}")
        ints = {
            "hidden": 1, "layers": 0, "embed": 1, "batch_size": 2, "max_steps": 1, "folds": 1,
            "eval_every": 1, "patience": 1, "eval_batch": 2,
        }
        for name, low in ints.items():
            v = getattr(self, name)
            if v is None and name == "folds":
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
        reals = {
            "temperature": (0.0, math.inf), "lr": (0.0, math.inf), "clip": (0.0, math.inf),
            "test_fraction": (0.0, 1.0), "val_fraction": (0.0, 1.0), "mine_rate": (0.0, 1.0),
        }
        for name, (low, high) in reals.items():
            v = getattr(self, name)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and low < v < high
            if not ok and not (name == "mine_rate" and v == 1.0):
                raise ValueError(f"{name} must be a number in ({low}, {high}), got {v!r}")
        for name in ("skip", "offsets"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        for name in ("quadratic", "progress"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"{name} must be True, False or None, got {getattr(self, name)!r}"
                )
        if not (isinstance(self.weight_decay, (int, float)) and 0 <= self.weight_decay < math.inf):
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")


def make_config(options: dict[str, Any]) -> NeuralConfig:
    """NeuralConfig from keyword options; an unknown name is a TypeError listing the valid ones."""
    return config_from_options(NeuralConfig, options, "a neural estimator")


# ------------------------------------------------------------------- training the fold critics


def _objective(method: str) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """The training objective (to maximise) of one score matrix, as a pure function
    ``(scores, log_avg, rate, first) -> (value, log_avg)``: only MINE uses its moving average."""
    if method == "mine":
        return lambda s, log_avg, rate, first: bounds.mine_step(s, log_avg, rate, first=first)
    plain = {"dv": bounds.dv, "nwj": bounds.nwj, "infonce": bounds.infonce,
             "jsd": bounds.jsd, "smile": bounds.jsd}[method]  # fmt: skip
    return lambda s, log_avg, rate, first: (plain(s), log_avg)


def critic_spec(config: NeuralConfig, dim_x: int, dim_y: int) -> dict[str, Any]:
    """The ``estimators.critics.make_critic`` keyword arguments of ``config`` (all but the seed)."""
    return {
        "kind": config.critic, "dim_x": dim_x, "dim_y": dim_y, "hidden": config.hidden,
        "layers": config.layers, "embed": config.embed, "temperature": config.temperature,
        "skip": config.skip, "offsets": config.offsets, "quadratic": bool(config.quadratic),
    }  # fmt: skip


@dataclass
class _FoldRun:
    """One fold's training state: its fit/validation split, batch order and checkpoint."""

    critic: torch.nn.Module
    gen: torch.Generator
    xf: torch.Tensor
    yf: torch.Tensor
    xv: torch.Tensor
    yv: torch.Tensor
    order: torch.Tensor
    null_value: float
    cursor: int = 0
    best_value: float = -math.inf
    best_step: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    since_best: int = 0
    stop: str = ""
    steps: int = 0

    def next_batch(self, batch: int) -> torch.Tensor:
        """The next ``batch`` fit indices of this fold's epoch order (a new order when used up)."""
        n_fit = self.xf.shape[0]
        if self.cursor + batch > n_fit:
            self.order, self.cursor = torch.randperm(n_fit, generator=self.gen), 0
        idx = self.order[self.cursor : self.cursor + batch]
        self.cursor += batch
        return idx


def _fold_run(method: str, x: torch.Tensor, y: torch.Tensor, config: NeuralConfig,
              seed: int) -> _FoldRun:  # fmt: skip
    """Split one fold's training pairs into fit and validation parts and build its critic."""
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    perm = torch.randperm(n, generator=gen).to(x.device)
    n_val = max(2, round(config.val_fraction * n))
    if n - n_val < 2:
        raise ValueError(f"too few training pairs ({n}) for a neural estimator")
    critic = make_critic(**critic_spec(config, x.shape[1], y.shape[1]), seed=seed).to(x.device)
    xv, yv = x[perm[:n_val]], y[perm[:n_val]]
    # The untrained critic is never selected: SMILE's clip can make an unnormalised critic (large
    # scores everywhere) read out well above the true MI. The constant null critic (module
    # docstring) is the baseline every checkpoint must beat on the validation pairs.
    null_blocks = [torch.full_like(b, NULL_SCORE.get(method, 0.0))
                   for b in score_blocks(critic, xv, yv, config.eval_batch)]  # fmt: skip
    return _FoldRun(
        critic=critic, gen=gen, xf=x[perm[n_val:]], yf=y[perm[n_val:]], xv=xv, yv=yv,
        order=torch.randperm(n - n_val, generator=gen),
        null_value=_selection_value(method, null_blocks, config),
    )


def _train_critics(
    method: str, parts: list[tuple[torch.Tensor, torch.Tensor]], config: NeuralConfig,
    seeds: list[int],
) -> list[tuple[torch.nn.Module, dict[str, Any]]]:
    """Train one critic per fold on its (x, y), all folds at once; return each fold's best.

    Every fold has its own critic, initial weights, fit/validation split, batch order, early
    stopping and checkpoint, exactly as if trained alone; the K critics' parameters are stacked
    and one step updates all of them (``torch.func.vmap`` of the objective over the folds; AdamW
    acts elementwise, so one optimizer over stacked tensors is K independent ones). A fold that
    stops keeps its checkpoint and drops out of the step (the step indexes the folds still
    training), while the others go on. Training values are accumulated on the device and checked
    at each evaluation: a fold whose values became non-finite stops there as "diverged" with the
    checkpoint it had."""
    from torch.func import functional_call, stack_module_state, vmap

    runs = [_fold_run(method, x, y, config, seed)
            for (x, y), seed in zip(parts, seeds, strict=True)]  # fmt: skip
    k_folds, dev = len(runs), parts[0][0].device
    batch = min(config.batch_size, *(r.xf.shape[0] for r in runs))
    n_max = max(r.xf.shape[0] for r in runs)
    pad = torch.nn.functional.pad  # folds differ in size by one pair at most
    xf = torch.stack([pad(r.xf, (0, 0, 0, n_max - r.xf.shape[0])) for r in runs])
    yf = torch.stack([pad(r.yf, (0, 0, 0, n_max - r.yf.shape[0])) for r in runs])
    params, buffers = stack_module_state([r.critic for r in runs])
    base = copy.deepcopy(runs[0].critic).to("meta")
    opt = torch.optim.AdamW(list(params.values()), lr=config.lr,
                            weight_decay=config.weight_decay, foreach=True)  # fmt: skip
    if isinstance(base, SeparableCritic):  # batched matrix products, no vmap (≈ 20 % faster)
        def stacked_scores(p, b, xb, yb):
            return base.stacked(p, xb, yb)
    else:
        stacked_scores = vmap(lambda p, b, xb, yb: functional_call(base, (p, b), (xb, yb)))
    objective = _objective(method)
    steps_fn = {first: vmap(functools.partial(objective, rate=config.mine_rate, first=first))
                for first in (True, False)}  # fmt: skip

    def fold_critic(k: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        p_k = {name: t[k] for name, t in params.items()}
        b_k = {name: t[k] for name, t in buffers.items()}
        return lambda a, b: functional_call(base, (p_k, b_k), (a, b))

    def validate(k: int) -> float:
        with torch.no_grad():
            blocks = score_blocks(fold_critic(k), runs[k].xv, runs[k].yv, config.eval_batch)
        value = _selection_value(method, blocks, config)
        return value if math.isfinite(value) else -math.inf

    curves = [[[0, math.nan, validate(k)]] for k in range(k_folds)]
    log_avg = torch.zeros(k_folds, device=dev)
    running = torch.zeros(k_folds, dtype=torch.float64, device=dev)
    live_ids = list(range(k_folds))  # the folds still training, and as a device index
    live = torch.arange(k_folds, device=dev)
    since_eval = 0
    bar = progress_bar(range(1, config.max_steps + 1), f"{method}: steps", config.progress)
    with bounds.unchecked():  # the values are checked on the device, at each evaluation
        for step in bar:
            idx = torch.stack([runs[k].next_batch(batch) for k in live_ids]).to(dev)
            if len(live_ids) == k_folds:
                p_live, b_live, avg_live = params, buffers, log_avg
            else:  # a stopped fold's parameters get zero gradients; its checkpoint is kept
                p_live = {name: t[live] for name, t in params.items()}
                b_live = {name: t[live] for name, t in buffers.items()}
                avg_live = log_avg[live]
            scores = stacked_scores(p_live, b_live, xf[live[:, None], idx], yf[live[:, None], idx])
            values, avg_live = steps_fn[step == 1](scores, avg_live)
            log_avg = log_avg.index_copy(0, live, avg_live)
            opt.zero_grad(set_to_none=True)
            (-values.sum()).backward()
            opt.step()
            running.index_add_(0, live, values.detach().double())
            since_eval += 1
            if step % config.eval_every:
                continue
            means = (running / since_eval).tolist()
            running.zero_()
            since_eval = 0
            for k, run in enumerate(runs):
                if run.stop:
                    continue
                if not math.isfinite(means[k]):
                    run.stop, run.steps = "diverged", step
                    continue
                val = validate(k)
                curves[k].append([step, means[k], val])
                if val > run.best_value:
                    run.best_value, run.best_step, run.since_best = val, step, 0
                    run.best_state = {name: t[k].detach().clone() for name, t in params.items()}
                else:
                    run.since_best += 1
                    if run.since_best >= config.patience:
                        run.stop, run.steps = "patience", step
            if all(run.stop for run in runs):
                break
            live_ids = [k for k, run in enumerate(runs) if not run.stop]
            live = torch.tensor(live_ids, device=dev)
    bar.close()
    out = []
    for run, curve in zip(runs, curves, strict=True):
        if run.best_state is not None:
            run.critic.load_state_dict(run.best_state)
        run.critic.eval()
        info = {
            "n_fit": run.xf.shape[0], "n_val": run.xv.shape[0],
            "steps": run.steps or config.max_steps, "best_step": run.best_step,
            "first_eval": config.eval_every, "val_null": run.null_value,
            "null": not run.best_value > run.null_value, "val_best": run.best_value,
            "stopped": run.stop or "max_steps", "curve": curve,
        }  # fmt: skip
        out.append((run.critic, info))
    return out


def _selection_value(method: str, blocks: list[torch.Tensor], config: NeuralConfig) -> float:
    """The validation value checkpoints are chosen by: the read-out, except for SMILE, whose
    clipped read-out rewards its own upward bias; it is chosen by the JSD it trains on."""
    if method == "smile":
        sizes = np.array([b.shape[0] for b in blocks], float)
        values = np.array([float(bounds.jsd(b.double())) for b in blocks])
        return float(np.sum(sizes * values) / sizes.sum())
    return readout_value(method, blocks, config.clip)


def fold_ids(
    n: int, folds: int, gen: torch.Generator, test_fraction: float = 0.5
) -> list[np.ndarray]:
    """Held-out index sets: a random partition into ``folds`` parts, or (``folds = 1``) one test
    part of ``test_fraction`` of the pairs."""
    perm = torch.randperm(n, generator=gen).numpy()
    if folds == 1:
        n_test = max(2, min(n - 4, round(test_fraction * n)))
        return [np.sort(perm[:n_test])]
    if n // folds < 2:
        raise ValueError(f"folds = {folds} leaves fewer than 2 held-out pairs per fold (n = {n})")
    return [np.sort(part) for part in np.array_split(perm, folds)]


def combine_folds(
    estimates: np.ndarray, variances: np.ndarray, sizes: np.ndarray
) -> tuple[float, float, float]:
    """Size-weighted mean of fold read-outs, its variance with a DerSimonian–Laird τ², and τ²."""
    w = sizes / sizes.sum()
    mean = float(np.sum(w * estimates))
    k = estimates.size
    tau2 = 0.0
    if k > 1 and np.all(variances > 0) and np.all(np.isfinite(variances)):
        iw = 1.0 / variances
        pooled = np.sum(iw * estimates) / iw.sum()
        q = float(np.sum(iw * (estimates - pooled) ** 2))
        denom = float(iw.sum() - np.sum(iw**2) / iw.sum())  # 0 when one fold's weight dominates
        if denom > 0 and math.isfinite(denom):
            tau2 = max(0.0, (q - (k - 1)) / denom)
    return mean, float(np.sum(w**2 * (variances + tau2))), tau2


@dataclass
class _Prepared:
    """One pair's cross-fitting set-up: held-out index sets, per-fold input maps, the mapped
    training parts (float32, for the critics) and test parts, and the folds' seeds."""

    n: int
    dims: tuple[int, int]
    maps: list[tuple[Any, Any]]
    parts: list[tuple[torch.Tensor, torch.Tensor]]
    tests: list[tuple[torch.Tensor, torch.Tensor]]
    seeds: list[int]


def _prepare(x: object, y: object, seed: int, config: NeuralConfig,
             dev: torch.device) -> _Prepared:  # fmt: skip
    """Validate one pair and split it into folds as :func:`fit_estimate` does (``config`` has
    its folds resolved)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    xa, ya = check_pair(x, y)
    n = xa.shape[0]
    # the input maps see float64 data (a float32 cast first would erase every column with a large
    # offset: x + 1e8 has float32 spacing 8); the critics train on their float32 output
    xt = torch.as_tensor(xa, dtype=torch.float64, device=dev)
    yt = torch.as_tensor(ya, dtype=torch.float64, device=dev)
    gen = torch.Generator().manual_seed(seed)
    held_out = fold_ids(n, config.folds, gen, config.test_fraction)  # type: ignore[arg-type]
    maps, parts, tests = [], [], []
    for test_idx in held_out:
        mask = np.ones(n, dtype=bool)
        mask[test_idx] = False
        tr = torch.as_tensor(np.flatnonzero(mask), device=dev)
        te = torch.as_tensor(test_idx, device=dev)
        x_map = MARGINAL_MAPS[config.marginals](xt[tr])
        y_map = MARGINAL_MAPS[config.marginals](yt[tr])
        maps.append((x_map, y_map))
        parts.append((x_map(xt[tr]).float(), y_map(yt[tr]).float()))
        tests.append((x_map(xt[te]).float(), y_map(yt[te]).float()))
    seeds = [seed * 1009 + k for k in range(len(held_out))]
    return _Prepared(n, (xa.shape[1], ya.shape[1]), maps, parts, tests, seeds)


def _finish(method: str, p: _Prepared, trained_folds: list[tuple[torch.nn.Module, dict[str, Any]]],
            config: NeuralConfig, return_critic: bool, dev: torch.device, train_seconds: float,
            start: float) -> MIResult:  # fmt: skip
    """Read every fold's critic out on its test part and combine the folds into one result."""
    estimates, variances, sizes, fold_info, kept = [], [], [], [], []
    for (critic, info), (x_te, y_te), (x_map, y_map) in zip(trained_folds, p.tests, p.maps,
                                                            strict=True):  # fmt: skip
        result = readout(method, score_blocks(critic, x_te, y_te, config.eval_batch), config.clip)
        if info["null"]:  # no checkpoint beat the null critic: its read-out, 0, is reported, with
            result = Readout(0.0, result.influence)  # the trained critic's influence values
        info.update(n_test=int(x_te.shape[0]), estimate=result.value, se=result.se)
        estimates.append(result.value)
        variances.append(result.se**2)
        sizes.append(x_te.shape[0])
        fold_info.append(info)
        if return_critic:
            kept.append(FoldCritic(critic, x_map, y_map, info["null"], info["best_step"],
                                   info["first_eval"]))  # fmt: skip
    mi, var, tau2 = combine_folds(np.array(estimates), np.array(variances), np.array(sizes, float))
    block = min(min(sizes), config.eval_batch)
    half = Z95 * math.sqrt(var) if math.isfinite(var) else math.inf
    ci = (mi - half, mi + half) if math.isfinite(mi) else (mi, mi)
    diagnostics = {
        "folds": fold_info,
        "tau2": tau2,
        "flags": neural_flags(method, mi, ci, fold_info, config.clip, block),
        "config": asdict(config),
        "device": str(dev),
        "train_seconds": train_seconds,
        "interval": "95% normal: delta-method read-out variance + between-fold critic variance",
    }
    trained = None
    if return_critic:
        spec = critic_spec(config, *p.dims)
        trained = TrainedCritic(method, spec, kept, config.clip, config.eval_batch)
    return MIResult(
        mi=mi, ci=ci, method=method, n=p.n, seconds=time.perf_counter() - start,
        diagnostics=diagnostics, critic=trained,
    )


def fit_estimate(
    x: object,
    y: object,
    method: str = "smile",
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    return_critic: bool = False,
    **options: Any,
) -> MIResult:
    """Estimate I(X; Y) in nats with a trained critic (see the module docstring for the protocol).

    Args:
        x, y: [n, dx] and [n, dy] samples (numpy or torch; 1-D is one column), n ≥ 4 pairs.
        method: one of ``dv, nwj, infonce, jsd, smile, mine``.
        seed: seeds the fold split, critic weights and batch order (results are deterministic on
            a given device and thread count).
        device: "cpu", "cuda", "cuda:1", ...
        return_critic: keep the fold critics and their input maps as ``result.critic``, an
            ``estimators.trained.TrainedCritic`` (read out on new pairs, score, save).
        **options: fields of :class:`NeuralConfig`.

    Returns:
        MIResult with a 95 % CI covering the read-out's sampling variability and, across folds,
        the critic-training variability — not the bound's gap to the true MI. ``diagnostics``
        holds per-fold split sizes, steps, stop reason, training curve [step, mean training
        objective, validation read-out], read-out and its standard error, τ², and timings.
    """
    return fit_estimates([(x, y)], method, seeds=[seed], device=device,
                         return_critic=return_critic, **options)[0]  # fmt: skip


def fit_estimates(
    pairs: Sequence[tuple[object, object]],
    method: str = "smile",
    *,
    seeds: Sequence[int],
    device: str | torch.device = "cpu",
    return_critic: bool = False,
    **options: Any,
) -> list[MIResult]:
    """:func:`fit_estimate` on many pairs at once: ``[fit_estimate(x, y, method, seed=s, ...)
    for (x, y), s in zip(pairs, seeds)]``, with the fold critics of all pairs of one shape
    (n, dx, dy) trained side by side in one stacked computation (:func:`_train_critics`: each
    keeps its own weights, split, batches, early stopping and checkpoint), so many small
    estimates (a training run's evaluations, several runs' embeddings) share one loop. The
    results equal the one-at-a-time ones up to float32 rounding of the stacked products; each
    result's ``train_seconds`` and ``seconds`` are those of its shape's whole batch."""
    start = time.perf_counter()
    if method not in NEURAL_METHODS:
        raise ValueError(f"unknown neural method {method!r}; expected one of {NEURAL_METHODS}")
    if len(pairs) != len(seeds):
        raise ValueError(f"got {len(pairs)} pairs and {len(seeds)} seeds; give one seed per pair")
    config = make_config(options)
    if not isinstance(return_critic, bool):
        raise TypeError(f"return_critic must be True or False, got {return_critic!r}")
    dev = resolve_device(device)
    config = replace(
        config,
        folds=config.folds if config.folds is not None else FOLDS.get(method, 5),
        quadratic=config.quadratic if config.quadratic is not None else method not in PLAIN_CRITIC,
    )
    prepared = [_prepare(x, y, seed, config, dev)
                for (x, y), seed in zip(pairs, seeds, strict=True)]
    shapes: dict[tuple[int, int, int], list[int]] = {}
    for i, p in enumerate(prepared):
        shapes.setdefault((p.n, *p.dims), []).append(i)
    results: list[MIResult | None] = [None] * len(pairs)
    for members in shapes.values():
        t0 = time.perf_counter()
        trained = _train_critics(method, [part for i in members for part in prepared[i].parts],
                                 config, [s for i in members for s in prepared[i].seeds])
        train_seconds = time.perf_counter() - t0
        k = 0
        for i in members:
            folds = len(prepared[i].parts)
            results[i] = _finish(method, prepared[i], trained[k : k + folds], config,
                                 return_critic, dev, train_seconds, start)  # fmt: skip
            k += folds
    return results  # type: ignore[return-value]


__all__ = [
    "NeuralConfig",
    "combine_folds",
    "fit_estimate",
    "fit_estimates",
    "fold_ids",
    "make_config",
]
