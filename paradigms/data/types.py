"""The data layer's shared types: what every data set is and what the image code accepts.

- :class:`SSLData`: train and held-out tensors with class labels and the augmentation that draws
  the two views (what the training loop reads; every data set module builds one).
- :func:`check_image_batch`: the image batch contract [N, C, H, W] that the image readers
  (:mod:`paradigms.data.images`) and the augmentation (:mod:`paradigms.data.image_augment`) share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch


@dataclass(frozen=True)
class SSLData:
    """Samples [n, *input_shape] with integer labels [n], split into train and held-out parts."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    augment: Callable[..., torch.Tensor]  # augment(x, generator, rows=None)
    augment_b: Callable[..., torch.Tensor] | None = None
    #: the modality's default backbone, (name, options) for ``networks.build_backbone``; None:
    #: by input shape (``smallcnn`` for images, ``mlp`` for vectors)
    encoder: tuple[str, dict[str, Any]] | None = None
    #: I(X_A; X_B) of the two views in nats, where the generator knows it exactly
    true_mi: float | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train_x.shape[1:])

    def views(
        self, x: torch.Tensor, generator: torch.Generator, rows: slice | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Two independently augmented views of the batch ``x``: ``augment`` makes view A and
        ``augment_b`` view B (``augment`` again when None; BYOL's recipe has asymmetric views).
        With ``rows``, only those rows of both views (``views(x, g)`` sliced, computed for less)."""
        second = self.augment_b if self.augment_b is not None else self.augment
        return self.augment(x, generator, rows), second(x, generator, rows)

    def to(self, device: torch.device | str) -> SSLData:
        """The same data with every tensor on ``device`` (kept there: no per-step host copies)."""
        return replace(
            self,
            train_x=self.train_x.to(device),
            train_y=self.train_y.to(device),
            test_x=self.test_x.to(device),
            test_y=self.test_y.to(device),
        )


def check_image_batch(images: object, what: str = "images") -> torch.Tensor:
    """Check that ``images`` is a tensor [N, C, H, W] with C in {1, 3} and H, W ≥ 2; return it."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{what} must be a torch tensor [N, C, H, W], got {type(images).__name__}")
    if images.ndim != 4:
        raise ValueError(
            f"{what} must have shape [N, C, H, W] (4 dimensions), got shape {tuple(images.shape)}"
        )
    if images.shape[1] not in (1, 3):
        raise ValueError(
            f"{what} must have 1 (grey) or 3 (RGB) channels in dimension 1 ([N, C, H, W]), "
            f"got shape {tuple(images.shape)}; channels-last arrays [N, H, W, C] must be permuted"
        )
    if images.shape[2] < 2 or images.shape[3] < 2:
        raise ValueError(f"{what} must be at least 2×2 pixels, got shape {tuple(images.shape)}")
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise TypeError(f"{what} must be uint8 (0–255) or floating (0–1), got dtype {images.dtype}")
    return images
