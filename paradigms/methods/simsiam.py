"""SimSiam (Chen & He, CVPR 2021, Algorithm 1).

    z_a, z_b = h(f(x_a)), h(f(x_b))          # projector h (3 layers, BN on the output)
    p_a, p_b = q(z_a), q(z_b)                # predictor q (2-layer bottleneck, hidden = d/4;
                                             # solo-learn's CIFAR recipe: 512 for d = 2048)
    L = ½ D(p_a, sg(z_b)) + ½ D(p_b, sg(z_a)),   D = negative cosine
    # M-step: ξ ← θ (the target is the online network under stop-gradient)

Ablations: ``predictor`` (collapses, paper Table 1), ``stop-grad`` (collapses, paper Fig. 2).

The projector's output BN has no affine parameters by default, as in the authors' released code
(``BatchNorm1d(dim, affine=False)``); the paper's text only says BN is applied to the output fc.
This matters for the ``stop-grad`` ablation: an affine-free BN fixes every coordinate of z at batch
mean 0 and variance 1 (in training mode), so z cannot shrink to one point and the collapse it
reaches is dimensional (RankMe ≈ 2, std of z/‖z‖ stays ≈ 0.5–0.75/√d). On a line, z_i = c_i v,
unit variance per coordinate forces |v_k| = 1/std(c) for every k, so z_i/‖z_i‖ = ±v/‖v‖ and the
std of z/‖z‖ is 2√(q(1 − q))/√d (q the share of positive c_i), 1/√d for balanced signs: the
healthy value, so that diagnostic cannot see this collapse; RankMe does. With
``proj_bn_affine=True`` the BN scale and shift are learned, γ → 0 with β constant is reachable and
the collapse is complete (std of z/‖z‖ → 0, the paper's Fig. 2 curve). Measured on the synthetic
mixture, AdamW, seeds 0–2: see ``verification/test_paradigms.py``.
"""

from __future__ import annotations

import torch
from torch import nn

from paradigms.methods.objectives import negative_cosine
from paradigms.methods.sdmi_base import SDMIMethod
from paradigms.networks.mlp import mlp_head


class SimSiam(SDMIMethod):
    name = "simsiam"
    target_update = "copy"
    ablatable = frozenset({"predictor", "stop-grad"})
    reference = "Chen & He 2021, Exploring Simple Siamese Representation Learning"

    def __init__(
        self, backbone: nn.Module, feature_dim: int, *, proj_bn_affine: bool = False, **kwargs
    ):
        if not isinstance(proj_bn_affine, bool):
            raise TypeError(f"proj_bn_affine must be a bool, got {type(proj_bn_affine).__name__}")
        self.proj_bn_affine = proj_bn_affine
        super().__init__(backbone, feature_dim, **kwargs)

    def make_projector(self, in_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
        return mlp_head(
            in_dim,
            hidden_dim,
            out_dim,
            num_layers=3,
            last_bn=True,
            last_bn_affine=self.proj_bn_affine,
        )

    def make_predictor(self, dim: int, hidden_dim: int | None) -> nn.Module:
        return mlp_head(dim, hidden_dim or max(dim // 4, 1), dim)

    def objective(self, p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return negative_cosine(p, z)
