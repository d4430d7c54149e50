"""Training recipes: one small JSON file per method and dataset (``<method>-<data>.json``).

Fields: ``method``, ``data``, ``backbone`` + ``backbone_options`` (:func:`paradigms.networks.
build_backbone`), ``batch_size``, a budget (``epochs`` + ``warmup_epochs``, or ``steps`` +
``warmup_steps``), ``optimizer`` (the fields of :class:`paradigms.training.optim.OptimizerConfig`),
``augmentation`` (``recipe`` and ``crop_size`` of :func:`paradigms.data.image_augment.
augmentation_recipe`), ``method_options`` (keyword arguments of the method class),
``sync_batchnorm``, ``source`` (where the numbers come from), optional ``classifier_lr`` (the
online linear probe's learning rate), optional ``warmup_start_lr`` and optional ``notes`` (known
differences from the source). Differences common to the solo-learn recipes: the online classifier
reads the first view's features (solo-learn averages its loss over both crops), and Linear layers
followed by BN have no bias.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from paradigms.training.optim import OptimizerConfig

_REQUIRED = (
    "method", "data", "backbone", "backbone_options", "batch_size", "optimizer", "augmentation",
    "method_options", "source",
)


def list_recipes() -> list[tuple[str, str]]:
    """(method, data) pairs that have a recipe, sorted."""
    out = []
    for entry in resources.files(__package__).iterdir():
        if entry.name.endswith(".json"):
            recipe = json.loads(entry.read_text(encoding="utf-8"))
            out.append((recipe["method"], recipe["data"]))
    return sorted(out)


def load_recipe(method: str, data: str) -> dict[str, Any]:
    """The recipe for ``method`` on ``data``; ``ValueError`` naming the available ones if none."""
    entry = resources.files(__package__) / f"{method}-{data}.json"
    if not entry.is_file():
        available = ", ".join(f"{m}-{d}" for m, d in list_recipes())
        raise ValueError(f"no recipe for method {method!r} on {data!r}; available: {available}")
    recipe = json.loads(entry.read_text(encoding="utf-8"))
    missing = [k for k in _REQUIRED if k not in recipe]
    if missing or recipe["method"] != method or recipe["data"] != data:
        raise ValueError(f"recipe file {entry.name} is malformed (missing {missing})")
    return recipe


def optimizer_config(recipe: dict[str, Any]) -> OptimizerConfig:
    """The recipe's optimizer as an :class:`OptimizerConfig` (validated)."""
    return OptimizerConfig(**recipe["optimizer"])
