"""MoCo v3 (Chen, Xie & He, ICCV 2021, Algorithm 1).

    q_a = q_θ(h_θ(f_θ(x_a)));  k_b = sg(h_ξ(f_ξ(x_b)))     # momentum encoder ξ
    L = ctr(q_a, k_b) + ctr(q_b, k_a),  ctr = 2τ · InfoNCE over the batch's keys (no queue)
    θ ← θ − η ∇_θ L;   ξ ← m ξ + (1 − m) θ  (m: cosine schedule from m_base to 1)

The loss is Algorithm 1's, 2τ factor included, as the official code and solo-learn compute it,
so their learning rates apply. Heads as the official ResNet code (``_build_mlp``): projector of
``proj_layers`` = 2 layers (3 is the ViT head) and a 2-layer predictor, Linear layers without bias
before BN, the projector ending in BN without affine, the predictor in a plain Linear; predictor
hidden width ``pred_hidden_dim`` (default twice the output; the paper's 4096). τ = 0.2 (the
paper's ViT value, solo-learn's for ResNets; the paper's ResNet recipe uses 1.0) and
m_base = 0.99 (the paper's default). Ablations: ``predictor``, ``marginal`` (no negatives: the
joint term −q·k/τ alone).
"""

from __future__ import annotations

import torch
from torch import nn

from paradigms.methods.objectives import info_nce_loss, joint_only_loss
from paradigms.methods.sdmi_base import SDMIMethod
from paradigms.networks.mlp import mlp_head


class MoCoV3(SDMIMethod):
    name = "mocov3"
    target_update = "ema"
    view_reduction = "sum"
    ablatable = frozenset({"predictor", "marginal"})
    reference = (
        "Chen, Xie & He 2021, An Empirical Study of Training Self-Supervised Vision Transformers"
    )

    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        *,
        temperature: float = 0.2,
        proj_layers: int = 2,
        **kwargs,
    ):
        if isinstance(proj_layers, bool) or proj_layers not in (2, 3):
            raise ValueError(f"proj_layers must be 2 (ResNet head) or 3 (ViT), got {proj_layers!r}")
        self.proj_layers = proj_layers
        super().__init__(backbone, feature_dim, **kwargs)
        self.temperature = temperature

    def make_projector(self, in_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
        return mlp_head(
            in_dim,
            hidden_dim,
            out_dim,
            num_layers=self.proj_layers,
            last_bn=True,
            last_bn_affine=False,
        )

    def make_predictor(self, dim: int, hidden_dim: int | None) -> nn.Module:
        return mlp_head(dim, hidden_dim or 2 * dim, dim, last_bias=False)

    def objective(self, p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if "marginal" in self.ablate:
            return joint_only_loss(p, z, self.temperature)
        return 2.0 * self.temperature * info_nce_loss(p, z, self.temperature)
