"""What the training loop needs from every method (shared by the SDMI and JMI bases).

A method is an ``nn.Module`` that owns its branches and heads and describes one training step as a
list of :class:`UpdateBlock`: the loop takes the blocks in order, each with its own optimizer
(zero_grad → loss → backward → step), then calls ``after_step`` (EMA targets, queues). Keeping the
backward/step in the loop leaves autocast, gradient scaling and DDP wrapping in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from paradigms.methods.ablations import check_applicable


@dataclass(frozen=True)
class UpdateBlock:
    """One gradient step: ``loss(x_a, x_b)`` is minimized over ``params`` (nothing else moves);
    the block's optimizer runs at ``lr_scale`` times the configured learning rate."""

    name: str
    params: tuple[nn.Parameter, ...]
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    lr_scale: float = 1.0


class SSLMethod(nn.Module):
    """Base of all methods: a backbone f (features for probes) plus what the paradigm adds.

    Subclasses set ``name`` (registry / command-line name), ``paradigm`` ("sdmi" or "jmi"),
    ``ablatable`` (the ``--ablate`` names that apply) and ``reference`` (paper).
    """

    name: ClassVar[str]
    paradigm: ClassVar[str]
    ablatable: ClassVar[frozenset[str]] = frozenset()
    #: keyword arguments that decide which of ``ablatable`` apply (:meth:`applicable_ablations`)
    ablation_keys: ClassVar[tuple[str, ...]] = ()
    reference: ClassVar[str] = ""

    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        *,
        ablate: frozenset[str] = frozenset(),
        ablation_options: dict[str, object] | None = None,
    ):
        super().__init__()
        options = ablation_options or {}
        check_applicable(
            self.name, frozenset(ablate), self.applicable_ablations(**options), options
        )
        self.ablate = frozenset(ablate)
        self.backbone = backbone
        self.feature_dim = feature_dim

    @classmethod
    def applicable_ablations(cls, **options: object) -> frozenset[str]:
        """The ``--ablate`` names that change this method's update under ``options`` (its keyword
        arguments): ``ablatable`` unless a subclass drops a switch that an option makes a no-op."""
        return cls.ablatable

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone features f(x), the representation that probes read."""
        return self.backbone(x)

    def embed_pair(self, x_a: torch.Tensor, x_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_a, z_b) whose MI the monitors track: view A through the online branch, view B
        through the target branch (the same network for JMI). The collapse monitors read z_b
        (``paradigms.measurement.monitors.collect_metrics``)."""
        raise NotImplementedError

    def update_blocks(self) -> list[UpdateBlock]:
        """The gradient steps of one training step, in order."""
        raise NotImplementedError

    def after_step(self, progress: float) -> None:
        """Non-gradient updates after a step; ``progress`` = (step − 1) / total steps in [0, 1),
        the fraction of training done before this step (so the first EMA update uses τ_base, as
        solo-learn's ``on_train_batch_end``)."""
