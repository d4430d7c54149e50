"""The network layer: backbones (the encoder f) and the heads the methods put on top.

A backbone maps a batch [N, *input_shape] to features [N, feature_dim]; linear probes read these.
:func:`build_backbone` builds one by name: ``mlp`` (:mod:`paradigms.networks.mlp`, which
also holds the projector / predictor heads), the image backbones ``smallcnn``, ``resnet18``,
``resnet50`` (:mod:`paradigms.networks.images`) and the token backbones ``seqcnn``, ``bag``,
``pair`` (:mod:`paradigms.networks.tokens`).
"""

from __future__ import annotations

from torch import nn

from paradigms.networks import images, tokens
from paradigms.networks.mlp import MLPEncoder

__all__ = ["build_backbone"]


def build_backbone(
    name: str, *, input_shape: tuple[int, ...], **kwargs: object
) -> tuple[nn.Module, int]:
    """Backbone by name and its feature dimension. ``mlp`` takes ``hidden_dim`` and ``depth``;
    the token backbones take their vocabulary and sizes (the token data sets supply them)."""
    if name == "mlp":
        if len(input_shape) != 1:
            raise ValueError(
                f"backbone 'mlp' needs flat inputs [N, D], got input shape {tuple(input_shape)}; "
                f"use an image backbone ({', '.join(images.BACKBONES)})"
            )
        encoder = MLPEncoder(int(input_shape[0]), **kwargs)  # type: ignore[arg-type]
        return encoder, encoder.output_dim
    if name in images.BACKBONES:
        if len(input_shape) != 3:
            raise ValueError(
                f"backbone {name!r} needs images [N, C, H, W], got input shape {tuple(input_shape)}"
            )
        return images.build_backbone(name, in_channels=int(input_shape[0]), **kwargs)
    if name in tokens.TOKEN_BACKBONES:
        return tokens.build_token_backbone(name, **kwargs)
    known = ", ".join(("mlp", *images.BACKBONES, *tokens.TOKEN_BACKBONES))
    raise ValueError(f"unknown backbone {name!r}; expected one of: {known}")
