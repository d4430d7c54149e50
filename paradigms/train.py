"""Training loop for every SDMI/JMI method, with MI and collapse monitors (DESIGN.md §5).

    config = TrainConfig(method="sdmi", steps=300, out="runs/sdmi")
    summary = train(config)

One step: draw a batch, make two augmented views, run the method's update blocks in order (each
zero_grad → loss → backward → step with its own optimizer), then ``method.after_step`` (EMA,
queue). Every ``eval_every`` steps (and at step 0, the random-initialization baseline) the monitors
run on a fixed set of held-out pairs: MI by cos-DV, InfoNCE and JSD with the fixed cosine critic
(τ = 0.1), std of the l2-normalized embeddings, effective rank, cluster separation, and linear-probe
and kNN accuracy of the backbone features. Each evaluation is one line of ``metrics.jsonl``;
``summary.json`` holds the final values, ``mi_monotonicity`` (Spearman ρ of cos-DV MI against
step), ``collapsed`` (``paradigms.monitors.is_collapsed`` on the final embeddings), ``status``
("ok" or "stopped") and ``reason``. A non-finite loss or embedding stops the run cleanly.

Randomness: model initialization, batches, augmentations and the held-out pairs all derive from
``seed``; on CPU two runs with the same config give identical metrics.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from scipy import stats
from tqdm import tqdm

from mitheory.atomic import atomic_write_json
from paradigms.ablations import check_applicable, parse_ablations
from paradigms.base import SSLMethod, UpdateBlock
from paradigms.data import SSLData, load_dataset
from paradigms.encoders import build_backbone
from paradigms.methods import get_method
from paradigms.monitors import collect_metrics, is_collapsed
from paradigms.probes import knn_accuracy, linear_probe_accuracy

#: Steps when none are given (command line and TrainConfig): a few seconds on one CPU core.
DEFAULT_STEPS = 200


@dataclass(frozen=True)
class TrainConfig:
    """Everything one run depends on. Optimizer: AdamW at ``lr`` (each update block scales it).

    Monitors run every ``eval_every`` steps on ``eval_pairs`` held-out pairs; the linear probe
    (L-BFGS, ``probe_max_iter`` iterations, ``probe_train`` labelled train samples) runs at the
    first
    and last evaluation and every ``probe_every``-th one in between (lines without it have no
    ``probe_acc``); the kNN probe runs at every evaluation.
    """

    method: str
    data: str = "gaussian-mixture"
    steps: int = DEFAULT_STEPS
    batch_size: int = 128
    lr: float = 5e-3
    weight_decay: float = 1e-5
    ablate: frozenset[str] = frozenset()
    eval_every: int = 20
    eval_pairs: int = 512
    probe_train: int = 512
    probe_every: int = 1
    probe_max_iter: int = 100
    seed: int = 0
    device: str = "cpu"
    out: str | None = None
    progress: bool = True
    backbone: str = "mlp"
    backbone_options: dict[str, Any] = field(default_factory=dict)
    method_options: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (
            "steps",
            "batch_size",
            "eval_every",
            "eval_pairs",
            "probe_train",
            "probe_every",
            "probe_max_iter",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.batch_size < 2:
            raise ValueError(
                f"batch_size must be >= 2 (other pairs are negatives), got {self.batch_size}"
            )
        for name in ("lr", "weight_decay"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
            ):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if self.lr <= 0 or self.weight_decay < 0:
            raise ValueError(
                f"need lr > 0 and weight_decay >= 0, got {self.lr!r}, {self.weight_decay!r}"
            )
        object.__setattr__(self, "ablate", parse_ablations(self.ablate))
        cls = get_method(self.method)  # unknown names and inapplicable ablations fail here
        check_applicable(self.method, self.ablate, cls.ablatable)


class _Stop(Exception):
    """A run cannot go on (non-finite loss or embeddings); the message is the reason."""


def _device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"unknown device {name!r}: {err}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available; use --device cpu")
    return device


def build_method(config: TrainConfig, data: SSLData) -> SSLMethod:
    """The configured method on a fresh backbone, initialized from ``config.seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        backbone, feature_dim = build_backbone(
            config.backbone, input_shape=data.input_shape, **config.backbone_options
        )
        cls = get_method(config.method)
        return cls(backbone, feature_dim, ablate=config.ablate, **config.method_options)


def _optimizer(block: UpdateBlock, config: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(
        block.params, lr=config.lr * block.lr_scale, weight_decay=config.weight_decay
    )


class _Monitor:
    """Fixed held-out pairs and probe sets; ``evaluate`` returns one metrics record."""

    def __init__(self, method: SSLMethod, data: SSLData, config: TrainConfig) -> None:
        n_eval = min(config.eval_pairs, data.test_x.shape[0])
        n_probe = min(config.probe_train, data.train_x.shape[0])
        generator = torch.Generator(device=data.test_x.device).manual_seed(config.seed + 1)
        self.method = method
        self.x_a, self.x_b = data.views(data.test_x[:n_eval], generator)
        self.test_x, self.test_y = data.test_x[:n_eval], data.test_y[:n_eval]
        self.probe_x, self.probe_y = data.train_x[:n_probe], data.train_y[:n_probe]
        self.seed = config.seed
        self.probe_max_iter = config.probe_max_iter

    @torch.no_grad()
    def evaluate(self, step: int, loss: float | None, *, linear_probe: bool) -> dict[str, Any]:
        was_training = self.method.training
        self.method.eval()
        try:
            z_a, z_b = self.method.embed_pair(self.x_a, self.x_b)
            try:
                record: dict[str, Any] = {"step": step, "loss": loss}
                record.update(collect_metrics(z_a, z_b, labels=self.test_y))
            except ValueError as err:
                raise _Stop(f"monitors failed at step {step}: {err}") from err
            train_f, test_f = self.method.features(self.probe_x), self.method.features(self.test_x)
            if not (torch.isfinite(train_f).all() and torch.isfinite(test_f).all()):
                raise _Stop(f"non-finite backbone features at step {step}")
            if linear_probe:
                record["probe_acc"] = linear_probe_accuracy(
                    train_f,
                    self.probe_y,
                    test_f,
                    self.test_y,
                    seed=self.seed,
                    max_iter=self.probe_max_iter,
                    device=train_f.device,
                )
            record["knn_acc"] = knn_accuracy(train_f, self.probe_y, test_f, self.test_y)
            record["embedding_dim"] = int(z_a.shape[1])
        finally:
            self.method.train(was_training)
        return record


def _spearman(steps: list[int], values: list[float]) -> float | None:
    """Spearman ρ; None when undefined (fewer than 3 points or a constant series)."""
    if len(values) < 3 or len(set(values)) < 2:
        return None
    return float(stats.spearmanr(steps, values).statistic)


def train(config: TrainConfig) -> dict[str, Any]:
    """Train ``config.method`` and return the summary (also written to ``out``/summary.json)."""
    start = time.perf_counter()
    device = _device(config.device)
    data = load_dataset(config.data, seed=config.seed, **config.data_options).to(device)
    method = build_method(config, data).to(device)
    method.train()
    blocks = method.update_blocks()
    optimizers = [_optimizer(block, config) for block in blocks]
    monitor = _Monitor(method, data, config)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    out = Path(config.out) if config.out is not None else None
    metrics_file = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        metrics_file = (out / "metrics.jsonl").open("w", encoding="utf-8")

    history: list[dict[str, Any]] = []

    def log(record: dict[str, Any]) -> None:
        history.append(record)
        if metrics_file is not None:
            metrics_file.write(json.dumps(record, allow_nan=False) + "\n")
            metrics_file.flush()

    status, reason, steps_done = "ok", "", 0
    losses: list[float] = []
    bar = tqdm(total=config.steps, disable=not config.progress, file=sys.stderr, desc=config.method)
    try:
        log(monitor.evaluate(0, None, linear_probe=True))
        n_train = data.train_x.shape[0]
        for step in range(1, config.steps + 1):
            index = torch.randint(n_train, (config.batch_size,), generator=generator, device=device)
            x_a, x_b = data.views(data.train_x[index], generator)
            for block, optimizer in zip(blocks, optimizers, strict=True):
                optimizer.zero_grad(set_to_none=True)
                loss = block.loss(x_a, x_b)
                if not bool(torch.isfinite(loss)):
                    raise _Stop(
                        f"non-finite loss ({loss.item()}) at step {step}, block {block.name!r}"
                    )
                loss.backward()
                optimizer.step()
                if block is blocks[0]:
                    losses.append(float(loss.detach()))
            method.after_step(step / config.steps)
            steps_done = step
            bar.update(1)
            if step % config.eval_every == 0 or step == config.steps:
                last = step == config.steps
                probe = last or len(history) % config.probe_every == 0
                log(monitor.evaluate(step, sum(losses) / len(losses), linear_probe=probe))
                losses.clear()
                bar.set_postfix(
                    loss=f"{history[-1]['loss']:.3f}", mi=f"{history[-1]['mi_cosdv']:.2f}"
                )
    except _Stop as stop:
        status, reason = "stopped", str(stop)
    finally:
        bar.close()
        if metrics_file is not None:
            metrics_file.close()

    final = history[-1] if history else {}  # empty only when the step-0 evaluation failed
    summary: dict[str, Any] = {
        "method": config.method,
        "paradigm": method.paradigm,
        "data": config.data,
        "ablate": sorted(config.ablate),
        "seed": config.seed,
        "steps": config.steps,
        "steps_done": steps_done,
        "status": status,
        "reason": reason,
        **{k: v for k, v in final.items() if k not in ("step", "loss")},
        "final_step": final.get("step"),
        "loss": final.get("loss"),
        "initial": {k: v for k, v in history[0].items() if k not in ("step", "loss")}
        if history
        else {},
        "mi_monotonicity": _spearman(
            [r["step"] for r in history], [r["mi_cosdv"] for r in history]
        ),
        "collapsed": is_collapsed(
            final["embed_std"], final["effective_rank"], final["embedding_dim"]
        )
        if history
        else None,
        "seconds": round(time.perf_counter() - start, 3),
        "config": {k: (sorted(v) if k == "ablate" else v) for k, v in asdict(config).items()},
    }
    if out is not None:
        atomic_write_json(out / "summary.json", summary)
    return summary


def run_from_cli(args: argparse.Namespace) -> int:
    """``mitheory train``: exit 0 on a finished run, 1 on a clean stop (reason on stderr)."""
    steps = DEFAULT_STEPS if args.steps is None else args.steps
    optional = ("lr", "batch_size", "eval_every")
    options = {name: getattr(args, name, None) for name in optional}
    options = {name: value for name, value in options.items() if value is not None}
    config = TrainConfig(
        method=args.method,
        data=args.data,
        steps=steps,
        ablate=parse_ablations(args.ablate),
        out=args.out,
        seed=args.seed,
        device=args.device,
        progress=not args.no_progress,
        **options,
    )
    summary = train(config)
    if summary["status"] != "ok":
        print(f"mitheory train: stopped: {summary['reason']}", file=sys.stderr)
        return 1
    print(
        f"{config.method}: MI(cos-DV) {summary['mi_cosdv']:.3f} nats, "
        f"probe {summary['probe_acc']:.3f}, "
        f"rank {summary['effective_rank']:.1f}, collapsed {summary['collapsed']}  -> {config.out}",
    )
    return 0
