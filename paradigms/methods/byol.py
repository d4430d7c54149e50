"""BYOL (Grill et al., NeurIPS 2020).

    p_a = q_θ(h_θ(f_θ(x_a)));  z_b = h_ξ(f_ξ(x_b))       # target ξ: no gradient
    L = ½ D(p_a, sg(z_b)) + ½ D(p_b, sg(z_a)),  D = −cos (the paper's 2 − 2cos = 2 + 2D)
    θ ← θ − η ∇_θ L;   ξ ← τ ξ + (1 − τ) θ,  τ: cosine schedule from τ_base to 1

Defaults: projector/predictor Linear-BN-ReLU-Linear (paper §3.3, predictor hidden width twice the
output as the paper's 4096/256); τ_base = 0.99 (ours: the paper's 0.996 is for ~10⁵-step
ImageNet runs, too slow a target for a few hundred steps).
Ablation ``predictor`` (collapses, paper Table 5).
"""

from __future__ import annotations

import torch
from torch import nn

from paradigms.encoders import mlp_head
from paradigms.objectives import negative_cosine
from paradigms.sdmi import SDMIMethod


class BYOL(SDMIMethod):
    name = "byol"
    target_update = "ema"
    ablatable = frozenset({"predictor"})
    reference = "Grill et al. 2020, Bootstrap Your Own Latent"

    def make_projector(self, in_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
        return mlp_head(in_dim, hidden_dim, out_dim)

    def make_predictor(self, dim: int) -> nn.Module:
        return mlp_head(dim, 2 * dim, dim)

    def objective(self, p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return negative_cosine(p, z)
