"""BYOL (Grill et al., NeurIPS 2020).

    p_a = q_θ(h_θ(f_θ(x_a)));  z_b = h_ξ(f_ξ(x_b))       # target ξ: no gradient
    L = ℓ(p_a, sg(z_b)) + ℓ(p_b, sg(z_a)),  ℓ(p, z) = 2 − 2 mean_i cos(p_i, z_i)
    θ ← θ − η ∇_θ L;   ξ ← τ ξ + (1 − τ) θ,  τ: cosine schedule from τ_base to 1

The loss is the paper's (Eq. 2, symmetrized by summing the two view orders, range [0, 8]) and
solo-learn's ``byol_loss_func`` summed over the views, so the learning rates of their recipes
apply unchanged (with LARS clipping the loss scale is not absorbed).
Defaults: projector/predictor Linear-BN-ReLU-Linear (paper §3.3); predictor hidden width twice
the output unless ``pred_hidden_dim`` is given (the paper's 4096 for 256; the recipes set it);
τ_base = 0.99 (ours: the paper's 0.996 is for ~10⁵-step ImageNet runs, too slow a target for a
few hundred steps; solo-learn's CIFAR recipe uses 0.99 too).
Ablation ``predictor`` (collapses, paper Table 5).
"""

from __future__ import annotations

import torch
from torch import nn

from paradigms.methods.objectives import negative_cosine
from paradigms.methods.sdmi_base import SDMIMethod
from paradigms.networks.mlp import mlp_head


class BYOL(SDMIMethod):
    name = "byol"
    target_update = "ema"
    view_reduction = "sum"
    ablatable = frozenset({"predictor"})
    reference = "Grill et al. 2020, Bootstrap Your Own Latent"

    def make_projector(self, in_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
        return mlp_head(in_dim, hidden_dim, out_dim)

    def make_predictor(self, dim: int, hidden_dim: int | None) -> nn.Module:
        return mlp_head(dim, hidden_dim or 2 * dim, dim)

    def objective(self, p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return 2.0 + 2.0 * negative_cosine(p, z)  # 2 − 2 cos
