"""MoCo v3 (Chen, Xie & He, ICCV 2021, Algorithm 1).

    q_a = q_θ(h_θ(f_θ(x_a)));  k_b = sg(h_ξ(f_ξ(x_b)))     # momentum encoder ξ
    L = ctr(q_a, k_b) + ctr(q_b, k_a),  ctr = InfoNCE over the batch's keys (no queue)
    θ ← θ − η ∇_θ L;   ξ ← m ξ + (1 − m) θ  (m: cosine schedule from m_base to 1)

Defaults: 3-layer projector and 2-layer predictor, both ending in BN without affine (paper §4);
τ = 0.2 (the paper's ViT value; its ResNet recipe uses 1.0) and m_base = 0.99 (the paper's
default). The paper's 2τ
loss factor is left out (it only rescales the learning rate). Ablations: ``predictor``,
``marginal`` (no negatives: the joint term −q·k/τ alone).
"""

from __future__ import annotations

import torch
from torch import nn

from paradigms.encoders import mlp_head
from paradigms.objectives import info_nce_loss, joint_only_loss
from paradigms.sdmi import SDMIMethod


class MoCoV3(SDMIMethod):
    name = "mocov3"
    target_update = "ema"
    ablatable = frozenset({"predictor", "marginal"})
    reference = (
        "Chen, Xie & He 2021, An Empirical Study of Training Self-Supervised Vision Transformers"
    )

    def __init__(
        self, backbone: nn.Module, feature_dim: int, *, temperature: float = 0.2, **kwargs
    ):
        super().__init__(backbone, feature_dim, **kwargs)
        self.temperature = temperature

    def make_projector(self, in_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
        return mlp_head(
            in_dim, hidden_dim, out_dim, num_layers=3, last_bn=True, last_bn_affine=False
        )

    def make_predictor(self, dim: int) -> nn.Module:
        return mlp_head(dim, 2 * dim, dim, last_bn=True, last_bn_affine=False)

    def objective(self, p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if "marginal" in self.ablate:
            return joint_only_loss(p, z, self.temperature)
        return info_nce_loss(p, z, self.temperature)
