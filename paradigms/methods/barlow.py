"""Barlow Twins (Zbontar, Jing, Misra, LeCun & Deny, ICML 2021, Algorithm 1).

    z_a, z_b = h(f(x_a)), h(f(x_b))           # one shared encoder, joint gradients
    C = std(z_a)ᵀ std(z_b) / N
    L = s · [Σ_k (1 − C_kk)² + λ Σ_{k≠l} C_kl²]      # invariance + redundancy reduction

Defaults: 3-layer projector with BN on hidden layers (paper §4), λ = 5.1e-3 (paper), loss scale
s = ``scale_loss`` = 1 (the paper; solo-learn's CIFAR and ImageNet-100 recipes use 0.1, and with
LARS clipping that factor is not absorbed by the learning rate).
Ablation ``regularizer``: λ = 0, the invariance term alone.
"""

from __future__ import annotations

import torch
from torch import nn

from paradigms.methods.jmi_base import JMIMethod
from paradigms.methods.objectives import barlow_twins_loss
from paradigms.networks.mlp import mlp_head


class BarlowTwins(JMIMethod):
    name = "barlow"
    ablatable = frozenset({"regularizer"})
    reference = (
        "Zbontar et al. 2021, Barlow Twins: Self-Supervised Learning via Redundancy Reduction"
    )

    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        *,
        lambd: float = 5.1e-3,
        scale_loss: float = 1.0,
        **kwargs,
    ):
        super().__init__(backbone, feature_dim, **kwargs)
        if isinstance(scale_loss, bool) or not (
            isinstance(scale_loss, (int, float)) and 0 < scale_loss < float("inf")
        ):
            raise ValueError(f"scale_loss must be a positive finite number, got {scale_loss!r}")
        self.lambd = lambd
        self.scale_loss = float(scale_loss)

    def make_projector(self, in_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
        return mlp_head(in_dim, hidden_dim, out_dim, num_layers=3)

    def objective(self, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
        lambd = self.lambd if self.keeps_marginal else 0.0
        return self.scale_loss * barlow_twins_loss(z_a, z_b, lambd)
