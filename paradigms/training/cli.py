"""``mitheory train``: a :class:`~paradigms.training.config.TrainConfig` from the command line's
flags (or a recipe), one run of :func:`paradigms.training.loop.train`, and its exit status."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from paradigms.methods.ablations import parse_ablations
from paradigms.training.config import DEFAULT_STEPS, TrainConfig, config_from_recipe
from paradigms.training.loop import train

#: Command-line flags copied into TrainConfig when given (argparse dest → config field).
_CLI_FIELDS = (
    "lr", "batch_size", "eval_every", "backbone", "optimizer", "weight_decay", "warmup_steps",
    "lr_schedule", "checkpoint_every", "seed", "device",
)  # fmt: skip


#: files of a finished or running training run; a folder holding one is not overwritten silently
RUN_FILES = ("metrics.jsonl", "summary.json")


def run_from_cli(args: argparse.Namespace) -> int:
    """``mitheory train``: exit 0 on a finished run, 1 on a clean stop (reason on stderr)."""
    out = Path(args.out)
    taken = [f for f in RUN_FILES if (out / f).exists()]
    if taken and not (getattr(args, "resume", False) or getattr(args, "overwrite", False)):
        raise ValueError(
            f"--out {out} already holds a run ({', '.join(taken)}); pass --resume to continue "
            "it, --overwrite to replace it, or choose another --out"
        )
    options: dict[str, Any] = {
        name: getattr(args, name) for name in _CLI_FIELDS if getattr(args, name, None) is not None
    }
    if args.steps is not None:
        options["steps"] = args.steps
    data_options: dict[str, Any] = {}
    if getattr(args, "data_root", None) is not None:
        data_options["root"] = args.data_root
    for flag in ("amp", "channels_last", "compile", "sync_batchnorm", "resume"):
        if getattr(args, flag, False):
            options[flag] = True
    options.update(
        ablate=parse_ablations(args.ablate),
        out=args.out,
        progress=not args.no_progress,
    )
    if getattr(args, "recipe", None):
        if args.data is not None:
            options["data"] = args.data
        config = config_from_recipe(
            args.recipe, method=args.method, data_options=data_options, **options
        )
    else:
        options.setdefault("steps", DEFAULT_STEPS)
        config = TrainConfig(
            method=args.method,
            data=args.data if args.data is not None else "gaussian-mixture",
            data_options=data_options,
            **options,
        )
    summary = train(config)
    if summary["status"] != "ok":
        print(f"mitheory train: stopped: {summary['reason']}", file=sys.stderr)
        return 1
    if summary["collapsed_at_init"]:
        init = summary["initial"]
        print(
            f"mitheory train: note: the embeddings read as collapsed already at random "
            f"initialization (effective rank {init['effective_rank']:.1f} of "
            f"{init['embedding_dim']}, std {init['embed_std']:.3g}); 'collapsed' at the end is "
            "only informative if training moved away from that",
            file=sys.stderr,
        )
    print(
        f"{config.method}: MI(cos-DV) {summary['mi_cosdv']:.3f} nats, "
        f"probe {summary.get('probe_acc', math.nan):.3f}, "
        f"rank {summary['effective_rank']:.1f}, collapsed {summary['collapsed']}  -> {config.out}",
    )
    return 0
