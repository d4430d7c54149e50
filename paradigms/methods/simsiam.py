"""SimSiam (Chen & He, CVPR 2021, Algorithm 1).

    z_a, z_b = h(f(x_a)), h(f(x_b))          # projector h (3 layers, BN on the output)
    p_a, p_b = q(z_a), q(z_b)                # predictor q (2-layer bottleneck, hidden = d/4)
    L = ½ D(p_a, sg(z_b)) + ½ D(p_b, sg(z_a)),   D = negative cosine
    # M-step: ξ ← θ (the target is the online network under stop-gradient)

Ablations: ``predictor`` (collapses, paper Table 1), ``stop-grad`` (collapses, paper Fig. 2).
"""

from __future__ import annotations

import torch
from torch import nn

from paradigms.encoders import mlp_head
from paradigms.objectives import negative_cosine
from paradigms.sdmi import SDMIMethod


class SimSiam(SDMIMethod):
    name = "simsiam"
    target_update = "copy"
    ablatable = frozenset({"predictor", "stop-grad"})
    reference = "Chen & He 2021, Exploring Simple Siamese Representation Learning"

    def make_projector(self, in_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
        return mlp_head(
            in_dim, hidden_dim, out_dim, num_layers=3, last_bn=True, last_bn_affine=False
        )

    def make_predictor(self, dim: int) -> nn.Module:
        return mlp_head(dim, max(dim // 4, 1), dim)

    def objective(self, p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return negative_cosine(p, z)
