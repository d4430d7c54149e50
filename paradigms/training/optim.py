"""Optimizers and schedules for SSL training: SGD / LARS / AdamW, warm-up + cosine, EMA τ.

Parameter groups: weights of rank ≥ 2 (conv kernels, linear matrices) get weight decay; biases and
normalisation scales/shifts (rank ≤ 1) get none and are excluded from LARS's trust-ratio
adaptation — the usual practice since Goyal et al. 2017 and in SimCLR/BYOL's LARS.

LARS (You et al. 2017, Algorithm 1, as solo-learn's ``solo/utils/lars.py``), per parameter w with
gradient g, weight decay λ, trust coefficient η:
    r = η ‖w‖ / (‖g‖ + λ ‖w‖ + ε)  (ε = 1e-8; r = 1 when ‖w‖ or ‖g‖ is 0 or the group is excluded);
    u = r (g + λ w);   m ← μ m + u;   w ← w − lr · m.
With ``clip=True`` (LARC, as solo-learn's ``clip_lr``) the ratio is min(r / lr, 1) instead, so the
layer's effective step size is min(r, lr): the recipes' learning rates assume this form. The step
is taken with ``torch._foreach_*`` ops over each group (one kernel per op, not one per parameter)
and reads nothing back to the host.

Learning rate: linear warm-up from lr/warmup to lr over ``warmup_steps`` steps, then cosine decay
to ``final_lr_ratio``·lr at ``total_steps``:
    lr(k) = lr (k + 1)/W                                          for k < W
    lr(k) = lr [ρ + (1 − ρ) ½ (1 + cos(π (k − W)/(K − W)))]        for W ≤ k ≤ K.
With a warm-up start ratio s (solo-learn's ``warmup_start_lr`` = s·lr, Lightning-Bolts'
``LinearWarmupCosineAnnealingLR``) the warm-up is lr(k) = lr [s + k (1 − s)/(W − 1)] instead,
from s·lr at k = 0 to lr at k = W − 1.

EMA momentum (BYOL): τ(k) = 1 − (1 − τ_base) (cos(π k/K) + 1)/2, from τ_base at k = 0 to 1 at K.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

OPTIMIZERS = ("sgd", "lars", "adamw")
#: ε of the LARS trust ratio (solo-learn's value)
LARS_EPS = 1e-8


@dataclass(frozen=True)
class OptimizerConfig:
    """Optimizer choice and hyper-parameters (``lr`` is the peak, after warm-up)."""

    name: str = "lars"
    lr: float = 0.3
    weight_decay: float = 1e-6
    momentum: float = 0.9
    lars_eta: float = 0.02
    lars_clip: bool = False
    betas: tuple[float, float] = (0.9, 0.999)

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.name!r}; expected one of {OPTIMIZERS}")
        for field in ("lr", "lars_eta"):
            value = getattr(self, field)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{field} must be a positive finite number, got {value!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be ≥ 0, got {self.weight_decay!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")


def parameter_groups(
    params: nn.Module | Iterable[nn.Parameter] | Iterable[tuple[str, nn.Parameter]],
    weight_decay: float,
) -> list[dict]:
    """Split trainable parameters into a decayed group (rank ≥ 2) and a non-decayed group.

    The non-decayed group (biases, norm layers: rank ≤ 1) carries ``lars_exclude=True``.
    Parameters with ``requires_grad=False`` (e.g. an EMA target) are left out.
    """
    if isinstance(params, nn.Module):
        items = [p for _, p in params.named_parameters()]
    else:
        items = [p[1] if isinstance(p, tuple) else p for p in params]
    decay = [p for p in items if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in items if p.requires_grad and p.ndim <= 1]
    if not decay and not no_decay:
        raise ValueError("no trainable parameters (all have requires_grad=False or none given)")
    groups = []
    if decay:
        groups.append({"params": decay, "weight_decay": weight_decay, "lars_exclude": False})
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0, "lars_exclude": True})
    return groups


class LARS(torch.optim.Optimizer):
    """SGD with momentum and a layer-wise trust ratio (see the module docstring).

    Groups with ``lars_exclude=True`` take plain SGD-with-momentum steps (and should have
    ``weight_decay=0``, as :func:`parameter_groups` sets).
    """

    def __init__(
        self,
        params: Iterable,
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        eta: float = 0.02,
        clip: bool = False,
    ) -> None:
        defaults = {
            "lr": lr, "momentum": momentum, "weight_decay": weight_decay, "eta": eta,
            "clip": clip, "lars_exclude": False,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):  # torch's signature
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            wd = group["weight_decay"]
            updates = torch._foreach_add(grads, params, alpha=wd) if wd else list(grads)
            if not group["lars_exclude"]:
                w_norm = torch.stack(torch._foreach_norm(params))
                g_norm = torch.stack(torch._foreach_norm(grads))
                ratio = torch.where(
                    (w_norm > 0) & (g_norm > 0),
                    group["eta"] * w_norm / (g_norm + wd * w_norm + LARS_EPS),
                    torch.ones_like(w_norm),
                )
                if group["clip"]:
                    ratio = torch.clamp(ratio / group["lr"], max=1.0)
                updates = torch._foreach_mul(updates, list(ratio.to(grads[0].dtype).unbind()))
            buffers = [self.state[p].get("momentum_buffer") for p in params]
            if any(b is None for b in buffers):  # first step: the buffer is the update
                for p, u in zip(params, updates, strict=True):
                    self.state[p]["momentum_buffer"] = u.detach().clone()
                buffers = [self.state[p]["momentum_buffer"] for p in params]
            else:
                torch._foreach_mul_(buffers, group["momentum"])
                torch._foreach_add_(buffers, updates)
            torch._foreach_add_(params, buffers, alpha=-group["lr"])
        return loss


def build_optimizer(
    params: nn.Module | Iterable[nn.Parameter], config: OptimizerConfig
) -> torch.optim.Optimizer:
    """The configured optimizer over :func:`parameter_groups` of ``params``."""
    groups = parameter_groups(params, config.weight_decay)
    if config.name == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, foreach=True)
    if config.name == "lars":
        return LARS(
            groups, lr=config.lr, momentum=config.momentum, eta=config.lars_eta,
            clip=config.lars_clip,
        )
    # fused: one kernel for the whole update, and the step count stays on the device (the
    # default implementation reads it back to the host at every step)
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, fused=True)


def warmup_cosine_factor(
    step: int,
    total_steps: int,
    warmup_steps: int,
    final_lr_ratio: float = 0.0,
    start_ratio: float | None = None,
) -> float:
    """lr(step)/lr of the warm-up + cosine schedule (module docstring); 1 at the end of warm-up."""
    if step < warmup_steps:
        if start_ratio is None:
            return (step + 1) / warmup_steps
        if warmup_steps == 1:
            return 1.0
        return start_ratio + step * (1.0 - start_ratio) / (warmup_steps - 1)
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return final_lr_ratio + (1 - final_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


@dataclass(frozen=True)
class WarmupCosine:
    """Picklable learning-rate multiplier for ``LambdaLR`` (so schedulers checkpoint cleanly)."""

    total_steps: int
    warmup_steps: int
    final_lr_ratio: float = 0.0
    start_ratio: float | None = None

    def __call__(self, step: int) -> float:
        return warmup_cosine_factor(
            step, self.total_steps, self.warmup_steps, self.final_lr_ratio, self.start_ratio
        )


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup_steps: int = 0,
    final_lr_ratio: float = 0.0,
    start_ratio: float | None = None,
) -> torch.optim.lr_scheduler.LambdaLR:
    """Warm-up + cosine, stepped once per optimizer step; ``start_ratio``: see the module
    docstring (None: the warm-up starts at lr/W)."""
    for name, value in (("total_steps", total_steps), ("warmup_steps", warmup_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if total_steps < 1 or warmup_steps > total_steps:
        raise ValueError(
            f"need 1 ≤ total_steps and warmup_steps ≤ total_steps, got {total_steps}, "
            f"{warmup_steps}"
        )
    if not 0 <= final_lr_ratio <= 1:
        raise ValueError(f"final_lr_ratio must be in [0, 1], got {final_lr_ratio!r}")
    if start_ratio is not None and not 0 <= start_ratio <= 1:
        raise ValueError(f"start_ratio must be in [0, 1] or None, got {start_ratio!r}")
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, WarmupCosine(total_steps, warmup_steps, final_lr_ratio, start_ratio)
    )


def ema_momentum(step: int, total_steps: int, base_tau: float = 0.996) -> float:
    """BYOL's cosine EMA coefficient τ(k) = 1 − (1 − τ_base)(cos(π k/K) + 1)/2."""
    if not 0 <= base_tau <= 1:
        raise ValueError(f"base_tau must be in [0, 1], got {base_tau!r}")
    if total_steps < 1:
        raise ValueError(f"total_steps must be ≥ 1, got {total_steps!r}")
    progress = min(1.0, max(0.0, step / total_steps))
    return 1 - (1 - base_tau) * (math.cos(math.pi * progress) + 1) / 2


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """ξ ← τ ξ + (1 − τ) θ for every parameter pair; buffers (BN statistics) are copied."""
    t_params = list(target.parameters())
    o_params = list(online.parameters())
    if len(t_params) != len(o_params):
        raise ValueError("target and online modules have different parameter lists")
    for t, o in zip(t_params, o_params, strict=True):
        t.lerp_(o, 1 - tau)
    for tb, ob in zip(target.buffers(), online.buffers(), strict=True):
        tb.copy_(ob)
