"""MoCo v2 (Chen, Fan, Girshick & He 2020; MoCo: He et al., CVPR 2020, Algorithm 1).

    q = h_θ(f_θ(x_a));  k = sg(h_ξ(f_ξ(x_b)))          # key encoder ξ: EMA of θ
    L = −log exp(q·k/τ) / [exp(q·k/τ) + Σ_{u∈queue} exp(q·u/τ)]
    θ ← θ − η ∇_θ L;   ξ ← m ξ + (1 − m) θ;   enqueue(k), dequeue the oldest

Both view orders are used (symmetrized loss). Defaults: τ = 0.2 and the 2-layer MLP head without
BN (MoCo v2, Table 1); queue 4096 keys and m_base = 0.99 (ours: the paper's 65536 and 0.999 are
sized for ImageNet epochs, far more keys than a toy run produces). Ablation ``marginal``: no
negatives, the loss is the joint term −q·k/τ alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from paradigms.methods.objectives import info_nce_loss, joint_only_loss
from paradigms.methods.sdmi_base import SDMIMethod
from paradigms.networks.mlp import mlp_head


class MoCoV2(SDMIMethod):
    name = "mocov2"
    target_update = "ema"
    has_predictor = False
    ablatable = frozenset({"marginal"})
    reference = "Chen et al. 2020, Improved Baselines with Momentum Contrastive Learning"

    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        *,
        temperature: float = 0.2,
        queue_size: int = 4096,
        queue_seed: int = 0,
        **kwargs,
    ):
        super().__init__(backbone, feature_dim, **kwargs)
        if not isinstance(queue_size, int) or queue_size < 1:
            raise ValueError(f"queue_size must be a positive integer, got {queue_size!r}")
        self.temperature = temperature
        dim = self.projector[-1].out_features
        g = torch.Generator().manual_seed(queue_seed)
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, dim, generator=g), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self._new_keys: list[torch.Tensor] = []

    def make_projector(self, in_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
        return mlp_head(in_dim, hidden_dim, out_dim, hidden_bn=False)

    def objective(self, p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if "marginal" in self.ablate:
            return joint_only_loss(p, z, self.temperature)
        self._new_keys.append(F.normalize(z.detach(), dim=1))
        return info_nce_loss(p, z, self.temperature, queue=self.queue, batch_negatives=False)

    @torch.no_grad()
    def after_step(self, progress: float) -> None:
        super().after_step(progress)
        if not self._new_keys:
            return
        keys = torch.cat(self._new_keys)[: self.queue.shape[0]]
        self._new_keys.clear()
        rows = (
            self.queue_ptr + torch.arange(keys.shape[0], device=keys.device)
        ) % self.queue.shape[0]
        self.queue[rows] = keys.to(self.queue.dtype)
        self.queue_ptr.copy_((self.queue_ptr + keys.shape[0]) % self.queue.shape[0])
