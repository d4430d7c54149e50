"""VICReg (Bardes, Ponce & LeCun, ICLR 2022, Algorithm 1).

    z_a, z_b = h(f(x_a)), h(f(x_b))           # one shared encoder, joint gradients
    L = λ·MSE(z_a, z_b) + μ·[v(z_a) + v(z_b)] + ν·[c(z_a) + c(z_b)]
    v: hinge on each dimension's std (target 1);  c: squared off-diagonal covariances / d

Defaults: 3-layer expander with BN on hidden layers, λ = μ = 25, ν = 1 (paper §4.3).
Ablations: ``regularizer``: μ = ν = 0, the invariance (MSE) term alone; ``invariance``: λ = 0, the
variance and covariance terms alone.
"""

from __future__ import annotations

import torch
from torch import nn

from paradigms.methods.jmi_base import JMIMethod
from paradigms.methods.objectives import vicreg_loss
from paradigms.networks.mlp import mlp_head


class VICReg(JMIMethod):
    name = "vicreg"
    ablatable = frozenset({"regularizer", "invariance"})
    reference = "Bardes, Ponce & LeCun 2022, VICReg: Variance-Invariance-Covariance Regularization"

    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        *,
        sim_weight: float = 25.0,
        var_weight: float = 25.0,
        cov_weight: float = 1.0,
        **kwargs,
    ):
        super().__init__(backbone, feature_dim, **kwargs)
        self.weights = (sim_weight, var_weight, cov_weight)

    def make_projector(self, in_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
        return mlp_head(in_dim, hidden_dim, out_dim, num_layers=3)

    def objective(self, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
        sim, var, cov = self.weights
        if not self.keeps_marginal:
            var, cov = 0.0, 0.0
        if "invariance" in self.ablate:
            sim = 0.0
        return vicreg_loss(z_a, z_b, sim, var, cov)
