"""SDMI base: self-distillation MI maximization with an online and a target branch (DESIGN.md §3).

Online branch: backbone f_θ → projector → (optional) predictor q_θ, giving p = q_θ(f_θ(x)).
Target branch g_ξ: backbone → projector with parameters ξ, giving z = g_ξ(x).
One training step is a block-coordinate update of L(θ, ξ) = ½[ℓ(p_a, z_b) + ℓ(p_b, z_a)]:

- E-step on θ with ξ frozen: z is computed under stop-gradient and θ takes a gradient step.
- M-step on ξ, one of (``target_update``):
  ``"copy"``      ξ ← θ (SimSiam): the target is the online network itself under stop-gradient;
  ``"ema"``       ξ ← τ ξ + (1 − τ) θ with τ = 1 − (1 − τ_base)(cos(π k/K) + 1)/2 (BYOL, MoCo);
  ``"gradient"``  ξ takes its own gradient step on L with θ frozen, with its own optimizer
                  (canonical SDMI prototype).

Predictor capacity: the method's MLP (``pred_hidden_dim`` sets its width) or, with ``pred_rank``
= r, the linear map q(h) = U Vᵀ h of rank ≤ r (``networks.mlp.low_rank_linear``; claim P7 sweeps
it). ``pred_frozen`` keeps the predictor at its random initialization (P7's control: the same
capacity, not trained).

Ablations: ``predictor`` replaces q_θ by the identity; ``stop-grad`` lets the E-step gradient flow
into the target branch as well (for ``copy`` that is the full gradient through both views; for
``gradient`` the E-step then also moves ξ); ``alternating`` takes the E- and M-step gradients at the
same point (for ``gradient``; equal to one joint gradient step on (θ, ξ)). ``marginal`` is handled
by the method's objective ℓ.

Which M-step a predictor protects: stop-gradient and predictor act on the E-step (θ) only. With a
gradient M-step and no marginal term, ξ ascends the joint term, which a constant target maximizes
(T7), so the target collapses whatever the online branch has; copy and EMA tie ξ to θ instead.
"""

from __future__ import annotations

import copy
import math
from typing import ClassVar

import torch
from torch import nn

from paradigms.methods.base import SSLMethod, UpdateBlock
from paradigms.networks.mlp import low_rank_linear

TARGET_UPDATES = ("copy", "ema", "gradient")


def ema_momentum(tau_base: float, progress: float, tau_final: float = 1.0) -> float:
    """Cosine schedule τ(k) = τ_final − (τ_final − τ_base)(cos(π k/K) + 1)/2, from τ_base at k = 0
    to τ_final at k = K (Grill et al. 2020, §3.2, with τ_final = 1; solo-learn's MoCo v2+ recipe
    ends at 0.999)."""
    return tau_final - (tau_final - tau_base) * (math.cos(math.pi * progress) + 1.0) / 2.0


class SDMIMethod(SSLMethod):
    """Online/target branches with alternating E/M updates; subclasses give heads and ℓ."""

    paradigm: ClassVar[str] = "sdmi"
    target_update: ClassVar[str]
    has_predictor: ClassVar[bool] = True
    ablation_keys: ClassVar[tuple[str, ...]] = ("target_update",)
    #: how the two view orders combine: "mean" ½[ℓ(p_a, z_b) + ℓ(p_b, z_a)] (SimSiam, MoCo v2,
    #: SDMI) or "sum" ℓ(p_a, z_b) + ℓ(p_b, z_a) (BYOL's and MoCo v3's papers and solo-learn)
    view_reduction: ClassVar[str] = "mean"

    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        *,
        ablate: frozenset[str] = frozenset(),
        proj_hidden_dim: int = 128,
        proj_dim: int = 64,
        pred_hidden_dim: int | None = None,
        pred_rank: int | None = None,
        pred_frozen: bool = False,
        tau_base: float = 0.99,
        tau_final: float = 1.0,
        target_lr_scale: float = 1.0,
        target_update: str | None = None,
    ) -> None:
        if target_update is not None:
            self.target_update = target_update
        if self.target_update not in TARGET_UPDATES:
            raise ValueError(
                f"target_update must be one of {TARGET_UPDATES}, got {self.target_update!r}"
            )
        super().__init__(
            backbone,
            feature_dim,
            ablate=ablate,
            ablation_options={"target_update": self.target_update},
        )
        if not 0.0 <= tau_base <= tau_final <= 1.0:
            raise ValueError(
                f"need 0 <= tau_base <= tau_final <= 1, got tau_base={tau_base!r}, "
                f"tau_final={tau_final!r}"
            )
        if not target_lr_scale > 0:
            raise ValueError(f"target_lr_scale must be > 0, got {target_lr_scale!r}")
        self.projector = self.make_projector(feature_dim, proj_hidden_dim, proj_dim)
        use_predictor = self.has_predictor and "predictor" not in self.ablate
        for name, value, high in (("pred_hidden_dim", pred_hidden_dim, None),
                                  ("pred_rank", pred_rank, proj_dim)):  # fmt: skip
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
                or (high is not None and value > high)
            ):
                bound = f" <= proj_dim ({high})" if high is not None else ""
                raise ValueError(f"{name} must be a positive integer{bound}, got {value!r}")
        if pred_rank is not None and pred_hidden_dim is not None:
            raise ValueError(
                "give pred_rank (a linear predictor) or pred_hidden_dim (an MLP), not both"
            )
        if not use_predictor:
            self.predictor: nn.Module = nn.Identity()
        elif pred_rank is not None:
            self.predictor = low_rank_linear(proj_dim, pred_rank)
        else:
            self.predictor = self.make_predictor(proj_dim, pred_hidden_dim)
        if not isinstance(pred_frozen, bool):
            raise TypeError(f"pred_frozen must be a bool, got {type(pred_frozen).__name__}")
        if pred_frozen and not use_predictor:
            raise ValueError("pred_frozen needs a predictor (it is ablated or the method has none)")
        #: the predictor stays at its random initialization (P7's control): not trained
        self.pred_frozen = pred_frozen
        self.predictor.requires_grad_(not pred_frozen)
        self.stop_grad = "stop-grad" not in self.ablate
        self.alternating = "alternating" not in self.ablate
        self.tau_base = tau_base
        self.tau_final = tau_final
        self.target_lr_scale = target_lr_scale
        if self.target_update != "copy":
            self.target_backbone = copy.deepcopy(backbone)
            self.target_projector = copy.deepcopy(self.projector)
            if self.target_update == "ema":
                self.target_backbone.requires_grad_(False)
                self.target_projector.requires_grad_(False)

    @classmethod
    def applicable_ablations(cls, **options: object) -> frozenset[str]:
        """``ablatable`` less the switches that the M-step makes no-ops: ``alternating`` needs a
        gradient M-step (with copy or EMA there is no second gradient step to take at the same
        point), and ``stop-grad`` needs a target that gradients can reach (an EMA target has no
        gradient, so removing the stop-gradient would leave every update bit-identical)."""
        update = options.get("target_update") or cls.target_update
        names = set(cls.ablatable)
        if update != "gradient":
            names.discard("alternating")
        if update == "ema":
            names.discard("stop-grad")
        return frozenset(names)

    # --- what a method file provides -------------------------------------------------------------
    def make_projector(self, in_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
        raise NotImplementedError

    def make_predictor(self, dim: int, hidden_dim: int | None) -> nn.Module:
        """The predictor q: R^dim → R^dim; ``hidden_dim`` None: the method's default width."""
        raise NotImplementedError

    def objective(self, p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """ℓ(p, z): loss of online predictions p against target embeddings z (minimized)."""
        raise NotImplementedError

    # --- branches --------------------------------------------------------------------------------
    def online(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.backbone(x))

    def target(self, x: torch.Tensor) -> torch.Tensor:
        if self.target_update == "copy":
            return self.online(x)
        return self.target_projector(self.target_backbone(x))

    def online_params(self) -> tuple[nn.Parameter, ...]:
        """θ: backbone, projector and (unless frozen) predictor."""
        return (
            *self.backbone.parameters(),
            *self.projector.parameters(),
            *(() if self.pred_frozen else self.predictor.parameters()),
        )

    def target_params(self) -> tuple[nn.Parameter, ...]:
        if self.target_update == "copy":
            return ()
        return (*self.target_backbone.parameters(), *self.target_projector.parameters())

    def embed_pair(self, x_a: torch.Tensor, x_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(p_a, z_b): the online branch's output (predictor included) and the target embedding,
        the two arguments of the training critic, so I(P_A; Z_B) is what the E/M steps raise.
        The collapse monitors read z_b, the projector output (SimSiam's z), not the prediction."""
        return self.predictor(self.online(x_a)), self.target(x_b)

    # --- one training step -----------------------------------------------------------------------
    def symmetric_loss(
        self, x_a: torch.Tensor, x_b: torch.Tensor, *, grad_online: bool, grad_target: bool
    ) -> torch.Tensor:
        """½[ℓ(p_a, z_b) + ℓ(p_b, z_a)] (``view_reduction`` "sum": without the ½), with gradients
        only into the branches asked for."""
        with torch.set_grad_enabled(grad_online):
            h_a, h_b = self.online(x_a), self.online(x_b)
            p_a, p_b = self.predictor(h_a), self.predictor(h_b)
        if self.target_update == "copy":
            z_a, z_b = (h_a, h_b) if grad_target else (h_a.detach(), h_b.detach())
        else:
            with torch.set_grad_enabled(grad_target):
                z_a, z_b = self.target(x_a), self.target(x_b)
        both = self.objective(p_a, z_b) + self.objective(p_b, z_a)
        return both if self.view_reduction == "sum" else 0.5 * both

    def update_blocks(self) -> list[UpdateBlock]:
        online, target = self.online_params(), self.target_params()
        if self.target_update == "gradient" and not self.alternating:
            # Simultaneous E/M: both block gradients at the same point = one joint step on (θ, ξ).
            return [UpdateBlock("EM", online + target, self._joint_loss)]
        e_params = (
            online if self.stop_grad else online + tuple(p for p in target if p.requires_grad)
        )
        blocks = [UpdateBlock("E", e_params, self._e_step_loss)]
        if self.target_update == "gradient":
            blocks.append(
                UpdateBlock("M", target, self._m_step_loss, lr_scale=self.target_lr_scale)
            )
        return blocks

    def _e_step_loss(self, x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
        return self.symmetric_loss(x_a, x_b, grad_online=True, grad_target=not self.stop_grad)

    def _m_step_loss(self, x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
        return self.symmetric_loss(x_a, x_b, grad_online=False, grad_target=True)

    def _joint_loss(self, x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
        return self.symmetric_loss(x_a, x_b, grad_online=True, grad_target=True)

    @torch.no_grad()
    def after_step(self, progress: float) -> None:
        if self.target_update != "ema":
            return
        tau = ema_momentum(self.tau_base, progress, self.tau_final)
        online = [*self.backbone.parameters(), *self.projector.parameters()]
        target = [*self.target_backbone.parameters(), *self.target_projector.parameters()]
        torch._foreach_lerp_(target, online, 1.0 - tau)  # ξ ← τ ξ + (1 − τ) θ, one kernel
