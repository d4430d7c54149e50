"""Canonical SDMI prototype: alternating gradient E/M steps on the cos-DV bound.

    for x in loader:
        x_a, x_b = aug(x), aug(x)
        # E-step: θ ascends DV(p_θ(x_a), sg(g_ξ(x_b))) with ξ frozen
        # M-step: ξ ascends the same DV with θ frozen (its own optimizer)
    DV = mean_i S_ii − log mean_{i≠j} exp S_ij,  S_ij = cos(p^i, z^j)/τ

Ablations: ``marginal`` drops the log-mean-exp term (joint term alone), ``predictor`` removes
the online predictor, ``stop-grad`` lets the E-step move ξ too, ``alternating`` takes both steps
from the same point. ``target_update="ema"`` or ``"copy"`` swaps the gradient M-step for BYOL's or
SimSiam's. Defaults (ours, the prototype has no external recipe): τ = 0.1 (the cos-DV
monitor's, so training objective and tracked MI coincide); projector and predictor as BYOL's.

Default M-step: ``"gradient"``. It is the only one of the three that is a step on the objective in
ξ, so one training step is alternating block-gradient ascent of the DV bound (T2) and the
prototype is the E/M scheme itself; copy and EMA are heuristic target updates. The price, measured
and tested (``verification/test_paradigms.py``, P3): with ``--ablate marginal`` the gradient
M-step ascends the joint term alone, which a constant target maximizes (T7). Stop-gradient and
predictor shield θ, not ξ, so the target collapses to one point (RankMe ≈ 1.7, std of z/‖z‖ ≈
0.01/√d, MI ≈ 0 on seeds 0–2) while with ``target_update="copy"`` or ``"ema"`` the predictor
alone prevents collapse (ξ follows θ instead of optimizing the joint term).
"""

from __future__ import annotations

import torch
from torch import nn

from paradigms.methods.objectives import dv_loss, joint_only_loss
from paradigms.methods.sdmi_base import SDMIMethod
from paradigms.networks.mlp import mlp_head


class SDMI(SDMIMethod):
    name = "sdmi"
    target_update = "gradient"
    ablatable = frozenset({"predictor", "marginal", "stop-grad", "alternating"})
    reference = "canonical SDMI prototype (DESIGN.md §3; arXiv 2510.01345)"

    def __init__(
        self, backbone: nn.Module, feature_dim: int, *, temperature: float = 0.1, **kwargs
    ):
        super().__init__(backbone, feature_dim, **kwargs)
        self.temperature = temperature

    def make_projector(self, in_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
        return mlp_head(in_dim, hidden_dim, out_dim)

    def make_predictor(self, dim: int, hidden_dim: int | None) -> nn.Module:
        return mlp_head(dim, hidden_dim or dim, dim)

    def objective(self, p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if "marginal" in self.ablate:
            return joint_only_loss(p, z, self.temperature)
        return dv_loss(p, z, self.temperature)
