"""Moved to :mod:`paradigms.training` (the loop in :mod:`paradigms.training.loop`, the
configuration in :mod:`paradigms.training.config`, the command line in
:mod:`paradigms.training.cli`); kept as an alias, so ``paradigms.train.train`` and
``paradigms.train.TrainConfig`` keep working.

The names here are the moved objects themselves; to replace one for a test, patch the module that
defines it (e.g. ``paradigms.training.loop``), not this alias.
"""

from __future__ import annotations

from paradigms.training.cli import RUN_FILES, run_from_cli
from paradigms.training.config import (
    DEFAULT_STEPS,
    LR_SCHEDULES,
    TRAIN_SIZES,
    TrainConfig,
    config_from_recipe,
)
from paradigms.training.loop import (
    EvalHook,
    backbone_names,
    build_method,
    resolve_backbone,
    train,
)

__all__ = [
    "DEFAULT_STEPS",
    "LR_SCHEDULES",
    "RUN_FILES",
    "TRAIN_SIZES",
    "EvalHook",
    "TrainConfig",
    "backbone_names",
    "build_method",
    "config_from_recipe",
    "resolve_backbone",
    "run_from_cli",
    "train",
]
