"""JMI base: joint MI maximization with one shared encoder (DESIGN.md §3).

Both views go through the same backbone f_θ and projector: z_a = h(f_θ(x_a)), z_b = h(f_θ(x_b)),
and one gradient step on θ follows the joint objective through both views (no stop-gradient, no
target network). What keeps the embeddings from collapsing is the method's marginal term: an
explicit estimate (DV, InfoNCE) — ablation ``marginal`` — or a statistical surrogate of it
(Taylor-DV, Barlow Twins, VICReg) — ablation ``regularizer``. Either ablation leaves only the joint
(invariance) term.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from paradigms.methods.base import SSLMethod, UpdateBlock


class JMIMethod(SSLMethod):
    """Shared encoder + projector, one joint gradient step per training step."""

    paradigm: ClassVar[str] = "jmi"

    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        *,
        ablate: frozenset[str] = frozenset(),
        proj_hidden_dim: int = 128,
        proj_dim: int = 64,
    ) -> None:
        super().__init__(backbone, feature_dim, ablate=ablate)
        self.projector = self.make_projector(feature_dim, proj_hidden_dim, proj_dim)

    # --- what a method file provides -------------------------------------------------------------
    def make_projector(self, in_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
        raise NotImplementedError

    def objective(self, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
        """Loss of the two views' embeddings (minimized), with the ablated term left out."""
        raise NotImplementedError

    @property
    def keeps_marginal(self) -> bool:
        """False when the explicit marginal term or its surrogate regularizer is switched off."""
        return not (self.ablate & {"marginal", "regularizer"})

    # --- one training step -----------------------------------------------------------------------
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.backbone(x))

    def embed_pair(self, x_a: torch.Tensor, x_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.embed(x_a), self.embed(x_b)

    def update_blocks(self) -> list[UpdateBlock]:
        return [UpdateBlock("joint", tuple(self.parameters()), self._joint_loss)]

    def _joint_loss(self, x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
        return self.objective(self.embed(x_a), self.embed(x_b))
