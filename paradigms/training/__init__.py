"""The training layer: the top of ``paradigms``, which runs methods on data and measures them.

- :mod:`paradigms.training.config`: :class:`~paradigms.training.config.TrainConfig` (everything a
  run depends on) and configurations from recipes (:mod:`paradigms.training.recipes`).
- :mod:`paradigms.training.loop`: :func:`~paradigms.training.loop.train`, the loop in named steps.
- :mod:`paradigms.training.batched`: :func:`~paradigms.training.batched.train_batched`, many runs
  of one architecture trained as one computation, each equal to its run alone.
- :mod:`paradigms.training.cli`: ``mitheory train``.
- :mod:`paradigms.training.optim`: optimizers (SGD, LARS, AdamW) and learning-rate schedules.
- :mod:`paradigms.training.online_probe`: the linear probe trained alongside the run.
- :mod:`paradigms.training.checkpoint` and :mod:`paradigms.training.distributed`: checkpoints and
  resume; several processes (``torchrun``).

Submodules are imported explicitly (``from paradigms.training.loop import train``).
"""
