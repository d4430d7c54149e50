"""Batched run engine: R runs of one architecture trained as one computation (issue 24).

    summaries = train_batched([TrainConfig(method="sdmi", seed=s) for s in range(36)])

Each returned summary is the one ``paradigms.training.loop.train`` returns for the same
configuration (the same losses, monitors, ``metrics.jsonl`` and ``summary.json``; only
``seconds`` differs: it is the wall time of the whole batch). Runs that differ in more than the
per-run quantities below are split into groups (:func:`batch_groups`), one batched computation per
group.

How. Every run is set up exactly as the loop sets it up (``loop._setup``: its own data set, model
initialization, epoch sampler, view generator, held-out pairs, output folder). The parameters and
buffers of the R models are then stacked along a new leading axis, θ = (θ_1, …, θ_R), and one
update block of one step is

    L(θ) = Σ_r ℓ_r(θ_r; x_a^r, x_b^r),    g_r = ∂L/∂θ_r = ∇ℓ_r(θ_r)

computed with ``torch.func.vmap`` of ``torch.func.functional_call`` over the stacked tensors (each
run sees only its own parameters, batch and BatchNorm statistics, which the training-mode forward
updates in place per run), followed by an elementwise optimizer step on the stacked tensors:
AdamW (the decoupled decay θ ← θ(1 − η_r λ_r), then m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g²,
θ ← θ − η_r/(1 − β₁ᵏ) · m/(√v/√(1 − β₂ᵏ) + ε)) or SGD with momentum (b ← μb + g + λθ,
θ ← θ − η_r b), with each run's learning rate η_r from its own warm-up/cosine schedule. An
elementwise optimizer on stacked tensors is R independent optimizers; LARS is not (its trust
ratio is a per-layer norm) and is refused. The EMA M-step (BYOL, MoCo v3, ``target_update="ema"``)
is ξ_r ← ξ_r + (1 − τ_r)(θ_r − ξ_r) on the stacked tensors; copy and gradient M-steps are update
blocks like any other. At a run's evaluation its slice θ_r is written back into its own model and
the loop's monitors run on it unchanged (``loop._evaluate``), so hooks (``on_eval``) see an
ordinary method.

"Equal" means equal up to rounding: a vmap'd matmul or BatchNorm reduces in another order and the
stacked AdamW is not torch's fused kernel, so the last bits differ and training amplifies them. In
float64 the states stay within 1e-8 of the solo run's over 30 steps (``tests/test_batched.py``);
in float32 (the default), measured over 300 steps of SDMI with an EMA M-step, seeds 0–2, the final
cos-DV MI differs by up to 0.5 % (3.405 vs 3.421 nats; the seeds spread over 0.15 nats) and the
collapse verdicts agree, as they do for the collapsing ``--ablate marginal`` arm (equal to 5
digits).

Per run (may differ inside one group): ``seed`` (model, data set, batches, views, held-out pairs),
``lr``, ``weight_decay``, ``momentum``, ``warmup_steps``, ``warmup_start_lr``, ``lr_schedule``,
the evaluation and probe settings, ``out``. The same in a group: everything that shapes the
computation (method, ablations, method/backbone/data options, batch size, steps, optimizer).

Supported (:data:`SUPPORTED_DATA`): the vector data (``gaussian-mixture``, ``nuisance-views``)
with the ``mlp`` backbone and the token sequences (``markov-sequences``) with the ``seqcnn`` 1-D
CNN, methods :data:`SUPPORTED_METHODS` with any of their ablations, AdamW and SGD, one process.
Refused with a ``ValueError`` before anything trains (train those one at a time): images,
``paired-bags``, other backbones, MoCo v2 (its queue), LARS, the online probe, bf16 autocast,
``compile``, several processes.

Checkpoints and resume: each run writes its own checkpoints in the loop's format
(``loop._save_checkpoint``: its slice of the parameters and buffers, its optimizers' state as
torch's AdamW/SGD hold it, its schedules' position, its data generator, history and loss log),
so the loop can resume a batched run alone; with ``resume`` every run of a group restores its
own newest checkpoint and the group continues from that step (runs that would resume from
different steps are refused). Tested: a cut batched run resumed by the engine or by the loop
ends where the uninterrupted solo run ends (``tests/test_batched.py``).

The engine shows no progress bar (``progress`` is ignored). On CUDA (with ``amp=False``) it runs,
but no GPU has yet checked it against solo runs.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, vmap

from estimators import bounds
from paradigms.methods.sdmi_base import SDMIMethod, ema_momentum
from paradigms.training import distributed as dist_utils
from paradigms.training.config import TrainConfig
from paradigms.training.loop import (
    EvalHook,
    _auto,
    _device,
    _evaluate,
    _finish,
    _open_metrics,
    _resume,
    _Run,
    _save_checkpoint,
    _setup,
    _Stop,
    train,
)

#: methods whose step is update blocks plus at most an EMA M-step (no queue, no other state)
SUPPORTED_METHODS = (
    "sdmi", "simsiam", "byol", "mocov3", "jmi", "jmi-taylor", "simclr", "barlow", "vicreg",
)  # fmt: skip
#: data sets and the backbone each is supported with (its default one)
SUPPORTED_DATA = {
    "gaussian-mixture": "mlp", "nuisance-views": "mlp", "markov-sequences": "seqcnn",
}  # fmt: skip
#: elementwise optimizers: on stacked tensors they are R independent ones
SUPPORTED_OPTIMIZERS = ("adamw", "sgd")
#: configuration fields that may differ between the runs of one batched group
PER_RUN_FIELDS = frozenset({
    "seed", "lr", "weight_decay", "momentum", "warmup_steps", "warmup_start_lr", "lr_schedule",
    "eval_every", "eval_pairs", "probe_train", "probe_test", "probe_every", "linear_probe",
    "probe_max_iter", "out", "progress",
})  # fmt: skip
#: AdamW's defaults in ``paradigms.training.optim`` (OptimizerConfig.betas, torch's ε)
_BETAS, _EPS = (0.9, 0.999), 1e-8


def check_batchable(config: TrainConfig) -> None:
    """Raise ``ValueError`` naming the first reason ``config`` cannot join a batched group."""
    reasons = [
        (config.method not in SUPPORTED_METHODS,
         f"method {config.method!r} (supported: {', '.join(SUPPORTED_METHODS)})"),
        (config.data not in SUPPORTED_DATA, f"data {config.data!r} (supported: "
         f"{', '.join(SUPPORTED_DATA)})"),
        (config.backbone not in (None, SUPPORTED_DATA.get(config.data)),
         f"backbone {config.backbone!r} (only the data set's own: mlp, seqcnn)"),
        (config.optimizer not in SUPPORTED_OPTIMIZERS,
         f"optimizer {config.optimizer!r} (elementwise ones only: "
         f"{', '.join(SUPPORTED_OPTIMIZERS)}; LARS's trust ratio is a per-layer norm)"),
        (bool(config.online_probe), "an online probe"),
        (_auto(config.amp, _device(config.device)), "bf16 autocast (on CUDA: pass amp=False)"),
        (config.compile, "compile"),
        (int(os.environ.get("WORLD_SIZE", "1")) > 1, "several processes (WORLD_SIZE > 1)"),
    ]  # fmt: skip
    for bad, what in reasons:
        if bad:
            raise ValueError(f"the batched engine does not support {what}; train it alone")


def group_key(config: TrainConfig) -> str:
    """What the runs of one batched group share: every field but :data:`PER_RUN_FIELDS`."""
    shared = {k: v for k, v in asdict(config).items() if k not in PER_RUN_FIELDS}
    shared["ablate"] = sorted(config.ablate)
    return json.dumps(shared, sort_keys=True, default=repr)


def batch_groups(configs: Sequence[TrainConfig]) -> list[list[int]]:
    """Indices of ``configs`` in groups that train as one computation, in order of first
    appearance (each config checked by :func:`check_batchable`)."""
    groups: dict[str, list[int]] = {}
    for i, config in enumerate(configs):
        check_batchable(config)
        groups.setdefault(group_key(config), []).append(i)
    return list(groups.values())


def train_batched(
    configs: Sequence[TrainConfig], on_eval: Sequence[EvalHook | None] | None = None
) -> list[dict[str, Any]]:
    """Train every configuration and return their summaries in order, each equal to
    ``loop.train(configs[i], on_eval[i])``'s but ``seconds`` (its group's wall time); runs are
    batched by :func:`batch_groups`, and a group of one run is trained by ``loop.train``.
    ``ValueError`` (before any training) for a configuration the engine does not support."""
    hooks = list(on_eval) if on_eval is not None else [None] * len(configs)
    if len(hooks) != len(configs):
        raise ValueError(f"got {len(hooks)} hooks for {len(configs)} configurations")
    groups = batch_groups(configs)
    summaries: list[dict[str, Any]] = [{} for _ in configs]
    for group in groups:
        if len(group) == 1:  # nothing to batch: the loop itself, which is faster for one run
            summaries[group[0]] = train(configs[group[0]], hooks[group[0]])
            continue
        done = _BatchedGroup([configs[i] for i in group], [hooks[i] for i in group]).train()
        for i, summary in zip(group, done, strict=True):
            summaries[i] = summary
    return summaries


class _LossCall(nn.Module):
    """``loss(x_a, x_b)`` of one update block as a module over the method's parameters, so
    ``functional_call`` can swap a run's slice in."""

    def __init__(self, method: nn.Module, loss: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.method = method
        self.loss = loss

    def forward(self, x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
        return self.loss(x_a, x_b)


def _batched_loss(
    method: nn.Module, loss: Callable[..., torch.Tensor]
) -> Callable[[dict[str, torch.Tensor], torch.Tensor, torch.Tensor], torch.Tensor]:
    """(stacked state [R, ...], x_a [R, B, ...], x_b) ↦ the R runs' losses [R]: ``loss`` of
    each run on its own slice of the state and its own views."""
    call = _LossCall(method, loss)

    def one(state: dict[str, torch.Tensor], x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
        return functional_call(call, state, (x_a, x_b))

    return vmap(one, randomness="error")


class _StackedOptimizer:
    """AdamW or SGD with momentum over stacked parameters [R, ...], each run at its own learning
    rate (module docstring); weight decay on parameters of rank ≥ 2 per run (the loop's
    ``optim.parameter_groups``: the stacked rank is one more)."""

    def __init__(self, name: str, params: list[torch.Tensor], configs: Sequence[TrainConfig]):
        self.name = name
        self.params = params
        self.steps = 0
        dtype, device = params[0].dtype, params[0].device

        def per_run(values: Sequence[float]) -> torch.Tensor:
            return torch.tensor(values, dtype=dtype, device=device)

        self.weight_decay = per_run([c.weight_decay for c in configs])
        self.momentum = per_run([c.momentum for c in configs])
        self.state: list[list[torch.Tensor]] = [[] for _ in params]

    @staticmethod
    def _shaped(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return values.reshape(-1, *([1] * (like.ndim - 1)))

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor | None], lr: torch.Tensor) -> None:
        """One step with learning rates ``lr`` [R]; parameters whose gradient is None keep
        still (as the loop's optimizers skip a parameter without a gradient)."""
        self.steps += 1
        for param, grad, state in zip(self.params, grads, self.state, strict=True):
            if grad is None:
                continue
            eta = self._shaped(lr, param)
            decay = self._shaped(self.weight_decay, param) if param.ndim >= 3 else None
            self._update(param, grad, state, eta, decay)

    def _update(
        self,
        param: torch.Tensor,
        grad: torch.Tensor,
        state: list[torch.Tensor],
        eta: torch.Tensor,
        decay: torch.Tensor | None,
    ) -> None:
        """One stacked parameter's step (the module docstring's AdamW or SGD) at rates ``eta``
        and weight decays ``decay`` (None: not decayed), both shaped [R, 1, ...]."""
        if self.name == "sgd":
            update = grad + decay * param if decay is not None else grad
            if not state:
                state.append(update.clone())
            else:
                state[0].mul_(self._shaped(self.momentum, param)).add_(update)
            param.sub_(eta * state[0])
            return
        (beta1, beta2), k = _BETAS, self.steps
        if not state:
            state += [torch.zeros_like(param), torch.zeros_like(param)]
        m, v = state
        if decay is not None:
            param.mul_(1 - eta * decay)
        m.lerp_(grad, 1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (v.sqrt() / (1 - beta2**k) ** 0.5).add_(_EPS)
        param.sub_(eta / (1 - beta1**k) * m / denom)


class _BatchedGroup:
    """One group of runs (same :func:`group_key`) trained as one computation."""

    def __init__(self, configs: Sequence[TrainConfig], hooks: Sequence[EvalHook | None]) -> None:
        self.start = time.perf_counter()
        device = _device(configs[0].device)
        ctx = dist_utils.DistContext(device=device)
        self.configs = list(configs)
        self.runs: list[_Run] = [_setup(c, ctx, h) for c, h in zip(configs, hooks, strict=True)]
        # with ``resume`` each run restores its own newest checkpoint (the loop's format) before
        # the models are stacked; a group continues from one step
        starts = [_resume(run) for run in self.runs]
        if len(set(starts)) > 1:
            raise ValueError(
                f"the runs of one batched group resumed from different steps ({sorted(set(starts))}"
                "); resume them alone, or from folders checkpointed together"
            )
        self.start_step = starts[0]
        template = self.runs[0].method
        self.template = template
        named = dict(template.named_parameters())
        self.param_names = list(named)
        #: each run's own parameters and buffers by name (its slice is written back at evaluations)
        self.models = [
            dict(r.method.named_parameters()) | dict(r.method.named_buffers()) for r in self.runs
        ]
        with torch.no_grad():
            stacked = {n: torch.stack([m[n] for m in self.models]) for n in self.models[0]}
        self.params = {n: stacked[n].requires_grad_(p.requires_grad) for n, p in named.items()}
        self.buffers = {n: t for n, t in stacked.items() if n not in named}
        #: the stacked tensors under the names ``_LossCall`` gives them (updated in place)
        self.stacked = {f"method.{n}": t for n, t in (self.params | self.buffers).items()}
        name_of = {id(p): n for n, p in named.items()}
        self.blocks = []
        for i, block in enumerate(template.update_blocks()):
            names = [name_of[id(p)] for p in block.params]
            scale = block.lr_scale
            optimizer = _StackedOptimizer(
                configs[0].optimizer, [self.params[n] for n in names], configs
            )
            lrs = torch.tensor(
                [[r.config.lr * scale * r.schedulers[i].lr_lambdas[0](step) for r in self.runs]
                 for step in range(configs[0].steps)],
                dtype=self.params[names[0]].dtype, device=device,
            )  # fmt: skip
            self.blocks.append((_batched_loss(template, block.loss), names, optimizer, lrs))
        self.ema = self._ema_pairs()
        n_runs = len(self.runs)
        self.total = torch.stack([r.losses.total.reshape(()) for r in self.runs]).to(device)
        #: the step of each run's last evaluation (its loss log counts the steps since)
        self.last_eval = [self.start_step - r.losses.count for r in self.runs]
        self.first_bad = torch.zeros(n_runs, dtype=torch.long, device=device)
        self.status = ["ok"] * n_runs
        self.reason = [""] * n_runs
        self.steps_done = [self.start_step] * n_runs
        if self.start_step:
            self._load_optimizer_states()

    def _ema_pairs(self) -> list[tuple[str, str]]:
        """(target, online) parameter names of the EMA M-step (empty without one)."""
        t = self.template
        if not (isinstance(t, SDMIMethod) and t.target_update == "ema"):
            return []
        return [(n, n.removeprefix("target_")) for n in self.param_names
                if n.startswith(("target_backbone.", "target_projector."))]  # fmt: skip

    def train(self) -> list[dict[str, Any]]:
        """Step 0's evaluation, then every step for all runs and each run's evaluations when
        due; the summaries in order."""
        steps, every = self.configs[0].steps, self.configs[0].checkpoint_every
        for r, run in enumerate(self.runs):
            _open_metrics(run)
            if self.start_step == 0:
                self._guard(r, lambda run=run: run.log(run.monitor.evaluate(
                    0, None, linear_probe=run.config.linear_probe, online_probe=None)))  # fmt: skip
        for step in range(self.start_step + 1, steps + 1):
            live = [r for r, run in enumerate(self.runs)
                    if self.status[r] == "ok" and not run.monitor.ended]  # fmt: skip
            for r in set(range(len(self.runs))) - set(live):
                if self.status[r] == "ok" and not self.reason[r]:
                    self.reason[r] = f"ended by the evaluation hook after step {self.steps_done[r]}"
            if not live:  # every run stopped or ended: nothing left to train
                break
            self._step(step)
            for r in live:
                run = self.runs[r]
                self.steps_done[r] = step
                if step % run.config.eval_every == 0 or step == steps:
                    self._evaluate(r, step)
                if every is not None and (step == steps or step % every == 0):
                    self._checkpoint(r, step)
        summaries = []
        for r, run in enumerate(self.runs):
            if run.metrics_file is not None:
                run.metrics_file.close()
            summaries.append(_finish(run, self.start_step, self.steps_done[r], self.status[r],
                                     self.reason[r], self.start))  # fmt: skip
        return summaries

    def _guard(self, r: int, work: Callable[[], None]) -> None:
        """Run ``work`` for run ``r``; a :class:`loop._Stop` ends that run as the loop ends it."""
        try:
            work()
        except _Stop as stop:
            self.status[r], self.reason[r] = "stopped", str(stop)
            if stop.steps_done is not None:
                self.steps_done[r] = stop.steps_done

    def _views(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Every run's batch of ``step`` and its two views, each drawn as the run alone draws
        them, stacked [R, B, ...]."""
        pairs = []
        for run in self.runs:
            index = run.sampler.indices(step)
            pairs.append(run.data.views(run.data.train_x[index], run.generator))
        return torch.stack([a for a, _ in pairs]), torch.stack([b for _, b in pairs])

    def _step(self, step: int) -> None:
        """One training step of all runs: every update block (batched losses, per-run
        gradients, stacked optimizer step), then the EMA M-step."""
        x_a, x_b = self._views(step)
        for i, (losses_of, names, optimizer, lrs) in enumerate(self.blocks):
            with bounds.unchecked():  # float32 losses, as the loop's ``block.loss(...).float()``
                losses = losses_of(self.stacked, x_a, x_b).float()
            self._add_losses(step, i, losses.detach())
            grads = torch.autograd.grad(
                losses.sum(), [self.params[n] for n in names], allow_unused=True
            )
            optimizer.step(grads, lrs[step - 1])
        if self.ema:
            weight = [1 - ema_momentum(r.method.tau_base, (step - 1) / r.config.steps,
                                       r.method.tau_final) for r in self.runs]  # fmt: skip
            with torch.no_grad():
                for t_name, o_name in self.ema:
                    target = self.params[t_name]
                    w = torch.tensor(weight, dtype=target.dtype, device=target.device)
                    target.lerp_(self.params[o_name], _StackedOptimizer._shaped(w, target))

    def _add_losses(self, step: int, block: int, losses: torch.Tensor) -> None:
        """The loop's ``_LossLog.add`` for all runs: the first non-finite loss's code and the
        running first-block loss."""
        code = step * len(self.blocks) + block + 1
        new_bad = (self.first_bad == 0) & ~torch.isfinite(losses)
        self.first_bad = torch.where(new_bad, code, self.first_bad)
        if block == 0:
            self.total = self.total + losses

    def _sync(self, r: int, step: int) -> None:
        """Run ``r`` as the loop holds it after ``step``: its slice of the stacked parameters and
        buffers written into its own model, its losses since its last evaluation into its loss
        log (before an evaluation or a checkpoint)."""
        run = self.runs[r]
        with torch.no_grad():
            for n, t in self.models[r].items():
                stacked = self.params[n] if n in self.params else self.buffers[n]
                t.copy_(stacked[r])
        run.losses.total = self.total[r].clone()
        run.losses.count = step - self.last_eval[r]
        run.losses.first_bad = self.first_bad[r].clone()

    def _checkpoint(self, r: int, step: int) -> None:
        """Run ``r``'s checkpoint after ``step`` in the loop's format (``loop._save_checkpoint``):
        its model, its optimizers' state as the loop's would hold it (AdamW's moments and step,
        SGD's momentum buffer), its schedules at ``step``, its data generator, history and loss
        log; so the loop or the engine can resume it."""
        run, own = self.runs[r], self.models[r]
        self._sync(r, step)
        # torch's AdamW keeps its step count as a float64 scalar under float64 defaults
        scalar = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
        for (_, names, optimizer, _), torch_opt, schedule in zip(
            self.blocks, run.optimizers, run.schedulers, strict=True
        ):
            for name, state in zip(names, optimizer.state, strict=True):
                if not state:  # never stepped: the loop's optimizer holds no state for it
                    continue
                if optimizer.name == "sgd":
                    torch_opt.state[own[name]] = {"momentum_buffer": state[0][r].clone()}
                else:
                    torch_opt.state[own[name]] = {
                        "step": torch.tensor(float(optimizer.steps), dtype=scalar),
                        "exp_avg": state[0][r].clone(), "exp_avg_sq": state[1][r].clone()}
            schedule.last_epoch, schedule._step_count = step, step + 1
            for group, base, factor in zip(torch_opt.param_groups, schedule.base_lrs,
                                           schedule.lr_lambdas, strict=True):  # fmt: skip
                group["lr"] = base * factor(step)
            schedule._last_lr = [group["lr"] for group in torch_opt.param_groups]
        self._guard(r, lambda: _save_checkpoint(run, step))

    def _load_optimizer_states(self) -> None:
        """After a resume: every run's restored optimizer state into the stacked optimizers."""
        for i, (_, names, optimizer, _) in enumerate(self.blocks):
            for j, name in enumerate(names):
                per_run = [run.optimizers[i].state.get(own[name], {})
                           for run, own in zip(self.runs, self.models, strict=True)]
                if optimizer.name == "sgd":
                    buffers = [s.get("momentum_buffer") for s in per_run]
                    if all(b is not None for b in buffers):
                        optimizer.state[j] = [torch.stack(buffers).to(optimizer.params[j])]
                elif all("exp_avg" in s for s in per_run):
                    optimizer.state[j] = [
                        torch.stack([s[k] for s in per_run]).to(optimizer.params[j])
                        for k in ("exp_avg", "exp_avg_sq")
                    ]
                    optimizer.steps = int(per_run[0]["step"])

    def _evaluate(self, r: int, step: int) -> None:
        """Run ``r``'s evaluation after ``step``: its slice written back into its model, its
        losses into its loss log, then the loop's evaluation."""
        run = self.runs[r]
        self._sync(r, step)
        self._guard(r, lambda: _evaluate(run, step))
        self.total[r] = 0.0
        self.last_eval[r] = step
