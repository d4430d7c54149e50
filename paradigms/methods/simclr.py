"""SimCLR (Chen, Kornblith, Norouzi & Hinton, ICML 2020, Algorithm 1).

    z_a, z_b = h(f(x_a)), h(f(x_b))           # one shared encoder, joint gradients
    L = NT-Xent(z_a, z_b; τ): each view's positive is its partner, the other 2N − 2 views negatives

Defaults: projector Linear-BN-ReLU-Linear (the paper's 2-layer head, with SimCLR v2's BN;
``projector_bn=False`` gives solo-learn's Linear-ReLU-Linear, which its recipes use),
τ = 0.5 (objectives.nt_xent_loss; solo-learn's recipes use 0.2). Ablation ``marginal``: no
negatives, only the alignment term −mean_i cos(z_a^i, z_b^i)/τ.
"""

from __future__ import annotations

import torch
from torch import nn

from paradigms.methods.jmi_base import JMIMethod
from paradigms.methods.objectives import joint_only_loss, nt_xent_loss
from paradigms.networks.mlp import mlp_head


class SimCLR(JMIMethod):
    name = "simclr"
    ablatable = frozenset({"marginal"})
    reference = (
        "Chen et al. 2020, A Simple Framework for Contrastive Learning of Visual Representations"
    )

    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        *,
        temperature: float = 0.5,
        projector_bn: bool = True,
        **kwargs,
    ):
        if not isinstance(projector_bn, bool):
            raise TypeError(f"projector_bn must be a bool, got {type(projector_bn).__name__}")
        self.projector_bn = projector_bn
        super().__init__(backbone, feature_dim, **kwargs)
        self.temperature = temperature

    def make_projector(self, in_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
        return mlp_head(in_dim, hidden_dim, out_dim, hidden_bn=self.projector_bn)

    def objective(self, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
        if self.keeps_marginal:
            return nt_xent_loss(z_a, z_b, self.temperature)
        return joint_only_loss(z_a, z_b, self.temperature)
