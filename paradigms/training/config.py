"""What one training run depends on: :class:`TrainConfig`, and configurations from recipes.

    config = TrainConfig(method="sdmi", steps=300, out="runs/sdmi")
    config = config_from_recipe("byol-cifar10", steps=1000)

The training loop that runs a configuration is :mod:`paradigms.training.loop`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paradigms.methods import get_method
from paradigms.methods.ablations import check_applicable, parse_ablations
from paradigms.training.optim import OptimizerConfig
from paradigms.training.recipes import list_recipes, load_recipe

#: Steps when none are given (command line and TrainConfig): a few seconds on one CPU core.
DEFAULT_STEPS = 200
LR_SCHEDULES = ("constant", "cosine")
#: Training-set sizes for recipes whose budget is given in epochs.
TRAIN_SIZES = {
    "cifar10": 50_000, "cifar100": 50_000, "fashion-mnist": 60_000, "imagenet100": 126_689,
}  # fmt: skip


@dataclass(frozen=True)
class TrainConfig:
    """Everything one run depends on.

    Optimizer ``optimizer`` (sgd | lars | adamw) at peak ``lr`` (each update block scales it),
    ``weight_decay`` on weights of rank ≥ 2 only, ``momentum`` (sgd, lars), ``lars_eta`` /
    ``lars_clip``; ``warmup_steps`` of linear warm-up (from lr/W, or from ``warmup_start_lr`` as
    solo-learn's recipes: 3e-5), then ``lr_schedule`` (constant | cosine).
    Monitors run every ``eval_every`` steps on ``eval_pairs`` held-out pairs. The probes read the
    backbone features of ``probe_train`` labelled train samples and ``probe_test`` test samples
    (None, the default: the whole split, the standard protocol): the linear probe (L-BFGS,
    ``probe_max_iter`` iterations) at the first and last evaluation and every ``probe_every``-th
    one in between (lines without it have no ``probe_acc``; ``linear_probe=False``: never, for
    runs that only need the monitors), the kNN probe (k = 200, τ = 0.1) at
    every evaluation. ``online_probe`` (None: on for images)
    trains a linear probe on the detached features of every batch. ``amp`` (bf16 autocast) and
    ``channels_last`` default to on for CUDA images; ``compile`` wraps the backbones'
    ``forward`` in ``torch.compile``. ``checkpoint_every`` (needs ``out``) and ``resume``: see the
    module docstring; ``sync_batchnorm`` only matters with several processes. ``seed`` draws the
    data set, the initialization, the batches, the views and the held-out pairs;
    ``data_options["seed"]`` draws the data set apart from the rest (runs that share a data set
    but not their initialization and batches).
    """

    method: str
    data: str = "gaussian-mixture"
    steps: int = DEFAULT_STEPS
    batch_size: int = 128
    lr: float = 5e-3
    weight_decay: float = 1e-5
    optimizer: str = "adamw"
    momentum: float = 0.9
    lars_eta: float = 0.02
    lars_clip: bool = False
    warmup_steps: int = 0
    warmup_start_lr: float | None = None
    lr_schedule: str = "constant"
    ablate: frozenset[str] = frozenset()
    eval_every: int = 20
    eval_pairs: int = 512
    probe_train: int | None = None
    probe_test: int | None = None
    probe_every: int = 1
    linear_probe: bool = True
    probe_max_iter: int = 100
    online_probe: bool | None = None
    online_probe_lr: float = 1e-3
    seed: int = 0
    device: str = "cpu"
    amp: bool | None = None
    channels_last: bool | None = None
    compile: bool = False
    sync_batchnorm: bool = False
    checkpoint_every: int | None = None
    resume: bool = False
    out: str | None = None
    progress: bool = True
    backbone: str | None = None
    backbone_options: dict[str, Any] = field(default_factory=dict)
    method_options: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (
            "steps",
            "batch_size",
            "eval_every",
            "eval_pairs",
            "probe_every",
            "probe_max_iter",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.linear_probe, bool):
            raise ValueError(f"linear_probe must be True or False, got {self.linear_probe!r}")
        for name in ("probe_train", "probe_test"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(
                    f"{name} must be a positive integer or None (the whole split), got {value!r}"
                )
        if self.batch_size < 2:
            raise ValueError(
                f"batch_size must be >= 2 (other pairs are negatives), got {self.batch_size}"
            )
        for name in ("lr", "weight_decay", "online_probe_lr"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
            ):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if self.lr <= 0 or self.weight_decay < 0 or self.online_probe_lr <= 0:
            raise ValueError(
                f"need lr > 0, weight_decay >= 0 and online_probe_lr > 0, got {self.lr!r}, "
                f"{self.weight_decay!r}, {self.online_probe_lr!r}"
            )
        start = self.warmup_start_lr
        if start is not None and (
            isinstance(start, bool)
            or not isinstance(start, (int, float))
            or not 0 <= start <= min(self.lr, self.online_probe_lr)
        ):
            raise ValueError(
                f"warmup_start_lr must be None or a number in [0, min(lr, online_probe_lr)], "
                f"got {start!r}"
            )
        w = self.warmup_steps
        if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= self.steps:
            raise ValueError(f"warmup_steps must be an integer in [0, steps], got {w!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        ce = self.checkpoint_every
        if ce is not None and (isinstance(ce, bool) or not isinstance(ce, int) or ce < 1):
            raise ValueError(f"checkpoint_every must be a positive integer or None, got {ce!r}")
        if (ce is not None or self.resume) and self.out is None:
            raise ValueError("checkpoint_every and resume need an output folder (out)")
        self.optimizer_config()  # unknown optimizer names and bad momentum fail here
        object.__setattr__(self, "ablate", parse_ablations(self.ablate))
        cls = get_method(self.method)  # unknown names and inapplicable ablations fail here
        keys = {k: self.method_options[k] for k in cls.ablation_keys if k in self.method_options}
        check_applicable(self.method, self.ablate, cls.applicable_ablations(**keys), keys)

    def optimizer_config(self, lr_scale: float = 1.0) -> OptimizerConfig:
        """The :class:`paradigms.training.optim.OptimizerConfig` of a block running at
        ``lr_scale``·lr."""
        return OptimizerConfig(
            name=self.optimizer,
            lr=self.lr * lr_scale,
            weight_decay=self.weight_decay,
            momentum=self.momentum,
            lars_eta=self.lars_eta,
            lars_clip=self.lars_clip,
        )


def config_from_recipe(name: str, **overrides: Any) -> TrainConfig:
    """A :class:`TrainConfig` from a recipe (``<method>-<data>`` in ``paradigms.training.recipes``
    or a path to a JSON file of the same fields), with ``overrides`` taking precedence.

    Epoch budgets become steps: epochs · ⌊n_train / batch_size⌋ with n_train from
    ``data_options["n_train"]`` or :data:`TRAIN_SIZES`, and the monitors run once per epoch (the
    linear probe at the first and last evaluation only). A ``batch_size`` override without an
    ``lr`` override scales the learning rate linearly, lr · B / B_recipe (solo-learn's
    lr × B/256: every recipe here is written for B = 256).
    """
    if name.endswith(".json"):
        path = Path(name)
        if not path.is_file():
            raise ValueError(f"recipe file {name} does not exist")
        recipe = json.loads(path.read_text(encoding="utf-8"))
    else:
        pairs = [(m, d) for m, d in list_recipes() if f"{m}-{d}" == name]
        if not pairs:
            available = ", ".join(f"{m}-{d}" for m, d in list_recipes())
            raise ValueError(
                f"no recipe named {name!r} (<method>-<data> or a .json path); available: "
                f"{available}"
            )
        recipe = load_recipe(*pairs[0])
    opt = dict(recipe["optimizer"])
    aug = recipe["augmentation"]
    data_options = {"recipe": aug["recipe"], "crop_size": aug["crop_size"]}
    data_options.update(overrides.pop("data_options", {}) or {})
    fields: dict[str, Any] = {
        "method": recipe["method"],
        "data": recipe["data"],
        "backbone": recipe["backbone"],
        "backbone_options": dict(recipe["backbone_options"]),
        "method_options": dict(recipe["method_options"]),
        "batch_size": int(recipe["batch_size"]),
        "optimizer": opt.pop("name"),
        "lr_schedule": "cosine",
        "sync_batchnorm": bool(recipe.get("sync_batchnorm", False)),
        "data_options": data_options,
    }
    for key in ("lr", "weight_decay", "momentum", "lars_eta", "lars_clip"):
        if key in opt:
            fields[key] = opt[key]
    batch = int(overrides.get("batch_size", fields["batch_size"]))
    if "lr" in fields and "lr" not in overrides:
        fields["lr"] = fields["lr"] * batch / fields["batch_size"]
    if "classifier_lr" in recipe and "online_probe_lr" not in overrides:  # scaled the same way
        fields["online_probe_lr"] = recipe["classifier_lr"] * batch / fields["batch_size"]
    if "epochs" in recipe:
        n_train = data_options.get("n_train") or TRAIN_SIZES.get(recipe["data"])
        if n_train is None:
            raise ValueError(
                f"recipe {name!r} gives epochs but the size of {recipe['data']!r} is "
                "unknown; pass data_options n_train"
            )
        per_epoch = max(1, int(n_train) // batch)
        fields["steps"] = int(recipe["epochs"]) * per_epoch
        fields["warmup_steps"] = int(recipe.get("warmup_epochs", 0)) * per_epoch
        fields["eval_every"] = per_epoch
        fields["probe_every"] = int(recipe["epochs"]) + 1  # L-BFGS probe: first and last only
    else:
        fields["steps"] = int(recipe["steps"])
        fields["warmup_steps"] = int(recipe.get("warmup_steps", 0))
    if "warmup_start_lr" in recipe:
        fields["warmup_start_lr"] = float(recipe["warmup_start_lr"])
    method = overrides.get("method")
    if method is not None and method != recipe["method"]:
        raise ValueError(
            f"recipe {name!r} is for method {recipe['method']!r}, not {method!r}; use the "
            f"{method}-<data> recipe or drop --recipe"
        )
    fields.update(overrides)
    fields["warmup_steps"] = min(fields["warmup_steps"], fields["steps"])
    return TrainConfig(**fields)
