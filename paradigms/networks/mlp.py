"""MLPs: the vector backbone (``mlp``) and the projector / predictor heads the methods put on top.

Heads are MLPs whose batch-norm placement follows the papers (see :func:`mlp_head`).
"""

from __future__ import annotations

import torch
from torch import nn


class MLPEncoder(nn.Module):
    """Flat-vector encoder: ``depth`` blocks of Linear → BatchNorm → ReLU, width ``hidden_dim``.

    The output is the last block's ReLU activation, so features are non-negative like a ResNet's
    pooled features.
    """

    def __init__(self, input_dim: int, hidden_dim: int = 128, depth: int = 2) -> None:
        super().__init__()
        for label, value in (
            ("input_dim", input_dim),
            ("hidden_dim", hidden_dim),
            ("depth", depth),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{label} must be a positive integer, got {value!r}")
        layers: list[nn.Module] = []
        width = input_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.ReLU()]
            width = hidden_dim
        self.net = nn.Sequential(*layers)
        self.input_dim = input_dim
        self.output_dim = hidden_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ValueError(f"MLPEncoder expects [N, {self.input_dim}], got {tuple(x.shape)}")
        return self.net(x)


def mlp_head(
    in_dim: int,
    hidden_dim: int,
    out_dim: int,
    *,
    num_layers: int = 2,
    hidden_bn: bool = True,
    last_bn: bool = False,
    last_bn_affine: bool = True,
    last_bias: bool | None = None,
) -> nn.Sequential:
    """MLP head: (num_layers − 1) × [Linear → BN → ReLU], then Linear (→ BN).

    Placements used by the methods (their papers):
    - SimSiam projector: 3 layers, BN on every layer including the output (Chen & He 2021, §3);
      SimSiam / BYOL predictor and BYOL / SimCLR projector: 2 layers, BN on the hidden layer only.
    - MoCo v2 projector: 2 layers without BN (``hidden_bn=False``).
    - MoCo v3 (official ResNet code): 2-layer projector ending in BN without affine, 2-layer
      predictor ending in a Linear without bias (``last_bias=False``).
    - Barlow Twins / VICReg projector: 3 layers, BN on hidden layers only.
    Linear layers followed by BN have no bias (BN removes it); ``last_bias`` None: the same rule.
    """
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers!r}")
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(num_layers - 1):
        layers.append(nn.Linear(width, hidden_dim, bias=not hidden_bn))
        if hidden_bn:
            layers.append(nn.BatchNorm1d(hidden_dim))
        layers.append(nn.ReLU())
        width = hidden_dim
    bias = not last_bn if last_bias is None else last_bias
    layers.append(nn.Linear(width, out_dim, bias=bias))
    if last_bn:
        layers.append(nn.BatchNorm1d(out_dim, affine=last_bn_affine))
    return nn.Sequential(*layers)


def low_rank_linear(dim: int, rank: int) -> nn.Sequential:
    """The linear map q(h) = U Vᵀ h of rank ≤ ``rank`` (V: dim → rank, U: rank → dim, no bias):
    an SDMI predictor of controlled capacity (``rank = dim`` is a full linear predictor, as in
    Tian et al. 2021's DirectPred analysis). Both factors keep PyTorch's Linear initialisation."""
    return nn.Sequential(nn.Linear(dim, rank, bias=False), nn.Linear(rank, dim, bias=False))
