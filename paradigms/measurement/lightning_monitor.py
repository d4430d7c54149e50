"""A PyTorch Lightning callback running this toolkit's MI and collapse monitors.

    import lightning as L
    from paradigms.measurement.lightning_monitor import MonitorCallback

    callback = MonitorCallback(x_a, x_b, labels=y, every_n_steps=100)
    L.Trainer(callbacks=[callback], logger=L.pytorch.loggers.CSVLogger("runs")).fit(model, data)

Every ``every_n_steps`` optimizer steps and at the end of training, the module embeds the fixed
held-out views ``x_a`` and ``x_b`` in eval mode without gradients (``embed(module, x)``, default
``module(x)``), :func:`paradigms.measurement.monitors.monitor` reads them, and the values go to
every logger of the trainer as ``prefix + name`` (CSV, TensorBoard, ...) and to
:attr:`MonitorCallback.history`.
The first collapsed read-out raises a ``UserWarning``. Needs the optional ``lightning`` package
(``pip install 'mitheory[lightning]'``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch

from paradigms.measurement.monitors import monitor

try:
    import lightning.pytorch as pl
except ImportError as err:  # the optional extra is missing
    raise ImportError(
        "the Lightning callback needs the lightning package: pip install 'mitheory[lightning]'"
    ) from err

Embed = Callable[[pl.LightningModule, torch.Tensor], torch.Tensor]


def _call_module(module: pl.LightningModule, x: torch.Tensor) -> torch.Tensor:
    return module(x)


class MonitorCallback(pl.Callback):
    """MI and collapse monitors on fixed held-out pairs during ``Trainer.fit`` (module docstring).

    ``x_a``, ``x_b``: two views of the same held-out inputs (tensors, first dimension N);
    ``labels``: optional [N] class labels (adds ``cluster_separation``); ``embed``: maps a batch
    to embeddings [N, d] (default: the module's forward); ``every_n_steps``: cadence in optimizer
    steps; ``chunk``: rows embedded at once.
    """

    def __init__(
        self,
        x_a: torch.Tensor,
        x_b: torch.Tensor,
        *,
        labels: torch.Tensor | None = None,
        embed: Embed | None = None,
        every_n_steps: int = 100,
        temperature: float = 0.1,
        prefix: str = "monitor/",
        chunk: int = 1024,
    ) -> None:
        super().__init__()
        if not (isinstance(x_a, torch.Tensor) and isinstance(x_b, torch.Tensor)):
            raise TypeError("x_a and x_b must be torch tensors (two views of held-out inputs)")
        if x_a.shape != x_b.shape or x_a.ndim < 2 or x_a.shape[0] < 2:
            raise ValueError(
                "x_a and x_b must be two views of the same N >= 2 inputs (equal shapes), got "
                f"{tuple(x_a.shape)} and {tuple(x_b.shape)}"
            )
        for name, value in (("every_n_steps", every_n_steps), ("chunk", chunk)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.x_a, self.x_b, self.labels = x_a, x_b, labels
        self.embed = embed or _call_module
        self.every_n_steps = every_n_steps
        self.temperature = temperature
        self.prefix = prefix
        self.chunk = chunk
        self.history: list[dict[str, Any]] = []
        self._warned = False
        self._last_step = -1

    @torch.no_grad()
    def _embed(self, module: pl.LightningModule, x: torch.Tensor) -> torch.Tensor:
        parts = [
            self.embed(module, x[i : i + self.chunk].to(module.device))
            for i in range(0, x.shape[0], self.chunk)
        ]
        return torch.cat(parts)

    def measure(self, trainer: pl.Trainer, module: pl.LightningModule) -> dict[str, Any]:
        """Run the monitors now, log them at the trainer's global step and return them."""
        was_training = module.training
        module.eval()
        try:
            z_a, z_b = self._embed(module, self.x_a), self._embed(module, self.x_b)
        finally:
            module.train(was_training)
        metrics = monitor(z_a, z_b, labels=self.labels, temperature=self.temperature)
        step = int(trainer.global_step)
        self._last_step = step
        self.history.append({"step": step, **metrics})
        scalars = {self.prefix + k: float(v) for k, v in metrics.items()}
        for logger in trainer.loggers:
            logger.log_metrics(scalars, step=step)
        if metrics["collapsed"] and not self._warned:
            self._warned = True
            warnings.warn(
                f"embeddings collapsed at step {step}: embed_std {metrics['embed_std']:.3g}, "
                f"effective rank {metrics['effective_rank']:.2f} of {metrics['embedding_dim']}",
                UserWarning,
                stacklevel=2,
            )
        return metrics

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.measure(trainer, pl_module)  # the initialization baseline, step 0

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any
    ) -> None:
        step = int(trainer.global_step)
        if step % self.every_n_steps == 0 and step != self._last_step:
            self.measure(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if int(trainer.global_step) != self._last_step:
            self.measure(trainer, pl_module)
        for logger in trainer.loggers:
            logger.save()


__all__ = ["MonitorCallback"]
