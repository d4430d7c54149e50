"""The online linear probe: a classifier on the detached backbone features, trained at every step.

Offline probes of frozen features (linear probe, kNN) are in :mod:`paradigms.measurement.probes`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from paradigms.training.optim import OptimizerConfig, build_optimizer


class OnlineLinearProbe(nn.Module):
    """A linear classifier trained on detached features alongside SSL training (solo-learn's
    online classifier: ``nn.Linear`` on ``feats.detach()``, cross-entropy, no weight decay).

    The probe owns its optimizer, so it never touches the encoder's gradients or optimizer state:
    ``optimizer`` (an :class:`paradigms.training.optim.OptimizerConfig`; None: AdamW at ``lr``,
    no weight decay). The training loop gives it the run's optimizer at the recipe's classifier lr
    and the run's warm-up + cosine schedule, as solo-learn does. Call :meth:`update` once per
    training step with the batch's features and labels, and :meth:`accuracy` on held-out features.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        lr: float = 1e-3,
        *,
        optimizer: OptimizerConfig | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("num_classes", num_classes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2 for a classifier, got {num_classes}")
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a positive finite number, got {lr!r}")
        self.in_features = in_features
        self.num_classes = num_classes
        self.linear = nn.Linear(in_features, num_classes)
        config = optimizer or OptimizerConfig(name="adamw", lr=lr, weight_decay=0.0)
        self.optimizer = build_optimizer(self.linear, config)  # fused/foreach: no host reads

    def _check(self, features: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if not isinstance(features, torch.Tensor) or not features.is_floating_point():
            raise TypeError("features must be a floating-point torch tensor [N, in_features]")
        if features.ndim != 2 or features.shape[1] != self.in_features:
            raise ValueError(
                f"features must be [N, {self.in_features}], got shape {tuple(features.shape)}"
            )
        if labels is not None:
            if (
                not isinstance(labels, torch.Tensor)
                or labels.is_floating_point()
                or labels.dtype == torch.bool
            ):
                raise TypeError("labels must be an integer torch tensor [N]")
            if labels.shape != (features.shape[0],):
                raise ValueError(
                    f"labels must be [N] = [{features.shape[0]}], got shape {tuple(labels.shape)}"
                )
        return features.detach().float()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Logits [N, num_classes] of the detached features."""
        return self.linear(self._check(features))

    def update(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """One optimizer step on the cross-entropy of a training batch; returns the loss (nats, a
        0-d tensor on the features' device: reading it is left to the caller, so the step does
        not wait for the device)."""
        x = self._check(features, labels)
        with torch.enable_grad():
            loss = F.cross_entropy(self.linear(x), labels.to(x.device))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        return loss.detach()

    @torch.no_grad()
    def accuracy(self, features: torch.Tensor, labels: torch.Tensor) -> float:
        """Fraction of correct predictions on held-out features."""
        x = self._check(features, labels)
        pred = self.linear(x).argmax(dim=1)
        return float((pred == labels.to(x.device)).float().mean())
