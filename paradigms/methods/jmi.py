"""Canonical JMI prototype: one shared encoder trained on a DV bound with joint gradients.

    z_a, z_b = h(f_θ(x_a)), h(f_θ(x_b))        # same θ for both views, no stop-gradient
    jmi:         maximize DV = mean_i S_ii − log mean_{i≠j} exp S_ij,  S_ij = cos(z_a^i, z_b^j)/τ
    jmi-taylor:  maximize the 2nd-order Taylor-DV surrogate s·tr(C^ab) − ½ s² Σ_kl C^aa_kl C^bb_kl
                 (batch-standardized z, bilinear critic; mitheory.surrogates)

Ablations: ``marginal`` (jmi) keeps only the joint term mean_i S_ii, ``invariance`` (jmi) only the
marginal term log mean_{i≠j} exp S_ij; ``regularizer`` (jmi-taylor)
keeps only the first-order joint term s·tr(C^ab). Defaults (ours, no external recipe): τ = 0.1
(the cos-DV monitor's), s = 1 (see objectives.taylor_dv_loss), projector as SimCLR's.
"""

from __future__ import annotations

import torch
from torch import nn

from mitheory.surrogates import standardize
from paradigms.methods.jmi_base import JMIMethod
from paradigms.methods.objectives import (
    dv_loss,
    joint_only_loss,
    marginal_only_loss,
    taylor_dv_loss,
)
from paradigms.networks.mlp import mlp_head


class JMI(JMIMethod):
    name = "jmi"
    ablatable = frozenset({"marginal", "invariance"})
    reference = "canonical JMI prototype, explicit DV marginal (DESIGN.md §3; arXiv 2510.01345)"

    def __init__(
        self, backbone: nn.Module, feature_dim: int, *, temperature: float = 0.1, **kwargs
    ):
        super().__init__(backbone, feature_dim, **kwargs)
        self.temperature = temperature

    def make_projector(self, in_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
        return mlp_head(in_dim, hidden_dim, out_dim)

    def objective(self, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
        if "invariance" in self.ablate:
            return marginal_only_loss(z_a, z_b, self.temperature)
        if self.keeps_marginal:
            return dv_loss(z_a, z_b, self.temperature)
        return joint_only_loss(z_a, z_b, self.temperature)


class JMITaylor(JMIMethod):
    name = "jmi-taylor"
    ablatable = frozenset({"regularizer"})
    reference = "canonical JMI prototype, Taylor-DV surrogate (DESIGN.md §3; arXiv 2510.01345)"

    def __init__(self, backbone: nn.Module, feature_dim: int, *, scale: float = 1.0, **kwargs):
        super().__init__(backbone, feature_dim, **kwargs)
        self.scale = scale

    def make_projector(self, in_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
        return mlp_head(in_dim, hidden_dim, out_dim)

    def objective(self, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
        if self.keeps_marginal:
            return taylor_dv_loss(z_a, z_b, self.scale)
        return -self.scale * (standardize(z_a) * standardize(z_b)).mean(0).sum()
