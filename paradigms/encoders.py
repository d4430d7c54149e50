"""Backbones (the encoder f) and the projector / predictor heads the methods put on top.

A backbone maps a batch [N, *input_shape] to features [N, feature_dim]; linear probes read these.
Heads are MLPs whose batch-norm placement follows the papers (see :func:`mlp_head`).
Image backbones (``smallcnn``, ``resnet18``, ``resnet50``) come from ``paradigms.backbones``,
imported only when asked for (``build_backbone(name, in_channels=C, **kwargs) -> (module, dim)``);
token backbones (``seqcnn``, ``bag``, ``pair``) from ``paradigms.token_encoders``.
"""

from __future__ import annotations

import torch
from torch import nn

IMAGE_BACKBONES = ("smallcnn", "resnet18", "resnet50")


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


def build_backbone(
    name: str, *, input_shape: tuple[int, ...], **kwargs: object
) -> tuple[nn.Module, int]:
    """Backbone by name and its feature dimension. ``mlp`` takes ``hidden_dim`` and ``depth``;
    the token backbones take their vocabulary and sizes (the token data sets supply them)."""
    if name == "mlp":
        if len(input_shape) != 1:
            raise ValueError(
                f"backbone 'mlp' needs flat inputs [N, D], got input shape {tuple(input_shape)}; "
                f"use an image backbone ({', '.join(IMAGE_BACKBONES)})"
            )
        encoder = MLPEncoder(int(input_shape[0]), **kwargs)  # type: ignore[arg-type]
        return encoder, encoder.output_dim
    if name in IMAGE_BACKBONES:
        from paradigms import backbones

        if len(input_shape) != 3:
            raise ValueError(
                f"backbone {name!r} needs images [N, C, H, W], got input shape {tuple(input_shape)}"
            )
        return backbones.build_backbone(name, in_channels=int(input_shape[0]), **kwargs)
    from paradigms import token_encoders

    if name in token_encoders.TOKEN_BACKBONES:
        return token_encoders.build_token_backbone(name, **kwargs)
    known = ", ".join(("mlp", *IMAGE_BACKBONES, *token_encoders.TOKEN_BACKBONES))
    raise ValueError(f"unknown backbone {name!r}; expected one of: {known}")
