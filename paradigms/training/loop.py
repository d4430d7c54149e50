"""Training loop for every SDMI/JMI method, with MI and collapse monitors (DESIGN.md §5).

    config = TrainConfig(method="sdmi", steps=300, out="runs/sdmi")
    summary = train(config)

A run, in the order of :func:`train`'s steps: set up (data, model, optimizers and schedules, the
online probe, the monitors' held-out pairs, checkpoints: :func:`_setup`), resume from the newest
checkpoint (:func:`_resume`), then per step one update (:func:`_train_step`), the evaluation when
one is due (:func:`_evaluate`) and the checkpoint when one is due (:func:`_save_checkpoint`), and
at the end the summary (:func:`_finish`).

One step: take the step's batch (each epoch a permutation of the training set,
:mod:`paradigms.data.sampling`), make two augmented views, run the method's update blocks in order
(each zero_grad → loss → backward → step with its own optimizer and learning-rate schedule), then
``method.after_step`` (EMA targets with their cosine τ schedule, queues). Every ``eval_every``
steps (and at step 0, the random-initialization baseline) the monitors run on a fixed set of
held-out pairs: MI by cos-DV, InfoNCE and JSD with the fixed cosine critic (τ = 0.1), std of the
l2-normalized embeddings, effective rank, cluster separation, and linear-probe and kNN accuracy of
the backbone features. Each evaluation is one line of ``metrics.jsonl``; ``summary.json`` holds the
final values, ``mi_monotonicity`` (Spearman ρ of cos-DV MI against step), ``collapsed``
(``paradigms.measurement.monitors.is_collapsed`` on the final embeddings), ``collapsed_at_init``
(the same rule on the step-0 embeddings: a random-init small CNN can already read as collapsed,
and the command line says so), ``status`` ("ok" or "stopped") and ``reason``. A non-finite loss
or embedding stops the run cleanly.

Optimizers (:mod:`paradigms.training.optim`): SGD / LARS / AdamW over parameter groups without
weight decay on norms and biases, linear warm-up then constant (``lr_schedule="constant"``, the
default) or cosine decay to 0. Images (:mod:`paradigms.data.images`): the whole data set sits on the
device and both views are augmented there in one batched call; on CUDA the loss runs under bf16
autocast (the objectives upcast embeddings, so loss statistics are fp32), with channels_last
activations and optionally ``torch.compile``-d backbones. An online linear probe
(``online_probe.OnlineLinearProbe``) is trained on the detached backbone features of the first view
at every step (``online_probe_acc``), as solo-learn's online classifier: the run's optimizer and
schedule at ``online_probe_lr`` (the recipes' classifier lr), no weight decay.

Checkpoints (:mod:`paradigms.training.checkpoint`): every ``checkpoint_every`` steps into
``out/checkpoints`` and after the last step; with ``resume`` the run continues from the newest
checkpoint that verifies (corrupted or partial files are skipped) and ends with the same
parameters and metrics as an uninterrupted run, bit for bit on CPU.

Multi-process (``torchrun``, :mod:`paradigms.training.distributed`): with ``WORLD_SIZE > 1`` each
rank draws the same global batch and the random parameters of its views (same generator) but
augments only its shard of ``batch_size / world_size`` pairs. Forward hooks on the backbone(s)
all-gather the features with an autograd-aware gather, so every head and loss — SimCLR/MoCo
negatives, Barlow/VICReg batch statistics, BYOL targets, MoCo's queue keys — sees the global batch
without changes to the methods; the loop averages parameter gradients over ranks in buckets that are
all-reduced while each block's backward still runs (``distributed.GradientReducer``, what DDP's
reducer does; the blocks call sub-modules directly, so DDP's forward hooks would not fire). The
gradient is the single-process gradient on the full batch (checked to 1e-5 by the tests); with
``sync_batchnorm`` the backbones' batch norms use global statistics too (``nn.SyncBatchNorm`` on
CUDA, ``distributed.GlobalBatchNorm`` on gloo). Rank 0 writes the files.

Randomness: model initialization, batches, augmentations and the held-out pairs all derive from
``seed``; on CPU two runs with the same config give identical metrics.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import torch
from scipy import stats
from torch import nn
from tqdm import tqdm

from estimators import bounds
from estimators.atomic import atomic_write_json, atomic_write_text
from paradigms.data import SSLData, load_dataset
from paradigms.data.sampling import EpochSampler
from paradigms.measurement.monitors import collect_metrics, is_collapsed
from paradigms.measurement.probes import knn_accuracy, linear_probe_accuracy
from paradigms.methods import get_method
from paradigms.methods.base import SSLMethod, UpdateBlock
from paradigms.networks import build_backbone
from paradigms.training import distributed as dist_utils
from paradigms.training.checkpoint import (
    CheckpointManager,
    latest_checkpoint,
    restore_checkpoint,
)
from paradigms.training.config import TrainConfig
from paradigms.training.online_probe import OnlineLinearProbe
from paradigms.training.optim import build_optimizer, build_scheduler


class _Stop(Exception):
    """A run cannot go on (non-finite loss or embeddings); the message is the reason and
    ``steps_done`` (when given) the last step whose update was sound."""

    def __init__(self, reason: str, steps_done: int | None = None) -> None:
        super().__init__(reason)
        self.steps_done = steps_done


def _device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"unknown device {name!r}: {err}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available; use --device cpu")
    return device


def resolve_backbone(name: str | None, data: SSLData) -> tuple[str, dict[str, Any]]:
    """The backbone to build and the options its data set gives it: ``name``, or by default the
    data set's own encoder (``SSLData.encoder``, e.g. ``seqcnn`` for token sequences), else
    ``smallcnn`` for images [C, H, W] and ``mlp`` for vectors. The data set's options (vocabulary,
    modality sizes) apply when its encoder is the one built."""
    if data.encoder is not None and name in (None, data.encoder[0]):
        return data.encoder[0], dict(data.encoder[1])
    if name is not None:
        return name, {}
    return ("smallcnn" if len(data.input_shape) == 3 else "mlp"), {}


def build_method(config: TrainConfig, data: SSLData) -> SSLMethod:
    """The configured method on a fresh backbone, initialized from ``config.seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        name, options = resolve_backbone(config.backbone, data)
        backbone, feature_dim = build_backbone(
            name, input_shape=data.input_shape, **{**options, **config.backbone_options}
        )
        cls = get_method(config.method)
        return cls(backbone, feature_dim, ablate=config.ablate, **config.method_options)


def backbone_names(method: SSLMethod) -> list[str]:
    """Names of the method's children that are backbones: ``backbone`` and its copies of the same
    class (the SDMI target ``f_ξ``). The loop's hooks and SyncBN act on these only."""
    kind = type(method.backbone)
    return [name for name, child in method.named_children() if type(child) is kind]


class _BackboneTap:
    """Forward hooks on the backbones, active only inside a training step.

    With several ranks the output is replaced by the all-gathered features (autograd-aware), so
    the heads and losses see the global batch; the first online-backbone output of the step is kept
    (detached) for the online probe.
    """

    def __init__(self, method: SSLMethod, names: Sequence[str], gather: bool) -> None:
        self.active = False
        self.features: torch.Tensor | None = None
        self.gather = gather
        for name in names:
            getattr(method, name).register_forward_hook(self._hook(online=name == "backbone"))

    def _hook(self, online: bool) -> Callable[..., torch.Tensor | None]:
        def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor | None:
            if not self.active:
                return None
            full = dist_utils.gather_with_grad(output) if self.gather else output
            if online and self.features is None:
                self.features = full.detach()
            return full if self.gather else None

        return hook

    @contextlib.contextmanager
    def step(self):
        self.active, self.features = True, None
        try:
            yield self
        finally:
            self.active = False


class _LossLog:
    """The first block's running loss and the first non-finite loss, kept on the device.

    ``add`` is called for every block's loss and reads nothing back; ``check`` (at evaluations and
    checkpoints, the only host read) raises :class:`_Stop` naming the step and block of the first
    non-finite loss; ``pop_mean`` returns and resets the mean loss
    of the first block since the last evaluation.
    """

    def __init__(self, device: torch.device, blocks: Sequence[str]) -> None:
        self.blocks = list(blocks)
        self.total = torch.zeros((), device=device)
        self.count = 0
        #: 0, or step · n_blocks + block + 1 of the first non-finite loss
        self.first_bad = torch.zeros((), dtype=torch.long, device=device)

    def add(self, step: int, block: int, loss: torch.Tensor) -> None:
        code = step * len(self.blocks) + block + 1
        new_bad = (self.first_bad == 0) & ~torch.isfinite(loss)
        self.first_bad = torch.where(new_bad, code, self.first_bad)
        if block == 0:
            self.total = self.total + loss
            self.count += 1

    def check(self, step: int) -> None:
        """Raise :class:`_Stop` if a loss up to ``step`` was not finite."""
        code = int(self.first_bad)
        if code:
            bad_step, block = divmod(code - 1, len(self.blocks))
            raise _Stop(
                f"non-finite loss at step {bad_step}, block {self.blocks[block]!r}",
                steps_done=bad_step - 1,
            )

    def pop_mean(self) -> float:
        mean = float(self.total) / max(1, self.count)
        self.total = torch.zeros_like(self.total)
        self.count = 0
        return mean

    def state(self) -> dict[str, float | int]:
        return {"total": float(self.total), "count": self.count}

    def load_state(self, state: dict[str, float | int]) -> None:
        self.total = torch.full_like(self.total, float(state["total"]))
        self.count = int(state["count"])


class _StateBundle:
    """Several stateful objects saved in one checkpoint slot (``state_dict`` by name)."""

    def __init__(self, parts: dict[str, Any]) -> None:
        self.parts = parts

    def state_dict(self) -> dict[str, Any]:
        return {name: part.state_dict() for name, part in self.parts.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, part in self.parts.items():
            part.load_state_dict(state[name])


def _batched_features(method: SSLMethod, x: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    return torch.cat([method.features(x[i : i + chunk]) for i in range(0, x.shape[0], chunk)])


class _Monitor:
    """Fixed held-out pairs and probe sets; ``evaluate`` returns one metrics record."""

    def __init__(
        self, method: SSLMethod, data: SSLData, config: TrainConfig, on_eval: EvalHook | None
    ) -> None:
        n_eval = min(config.eval_pairs, data.test_x.shape[0])
        n_probe = min(config.probe_train or data.train_x.shape[0], data.train_x.shape[0])
        n_test = min(config.probe_test or data.test_x.shape[0], data.test_x.shape[0])
        generator = torch.Generator(device=data.test_x.device).manual_seed(config.seed + 1)
        self.method = method
        self.x_a, self.x_b = data.views(data.test_x[:n_eval], generator)
        self.pair_y = data.test_y[:n_eval]
        self.test_x, self.test_y = data.test_x[:n_test], data.test_y[:n_test]
        self.probe_x, self.probe_y = data.train_x[:n_probe], data.train_y[:n_probe]
        self.seed = config.seed
        self.probe_max_iter = config.probe_max_iter
        self.on_eval = on_eval
        #: the hook asked to end the run after its last evaluation (:data:`EvalHook`)
        self.ended = False

    @torch.no_grad()
    def evaluate(
        self,
        step: int,
        loss: float | None,
        *,
        linear_probe: bool,
        online_probe: OnlineLinearProbe | None = None,
    ) -> dict[str, Any]:
        was_training = self.method.training
        self.method.eval()
        try:
            pairs = [self.method.embed_pair(a, b) for a, b in self._chunks()]
            z_a = torch.cat([a for a, _ in pairs])
            z_b = torch.cat([b for _, b in pairs])
            if self.on_eval is not None:
                self.ended = bool(self.on_eval(step, self.method, self.x_a, self.x_b))
            try:
                record: dict[str, Any] = {"step": step, "loss": loss}
                record.update(collect_metrics(z_a.float(), z_b.float(), labels=self.pair_y))
            except ValueError as err:
                raise _Stop(f"monitors failed at step {step}: {err}") from err
            train_f = _batched_features(self.method, self.probe_x).float()
            test_f = _batched_features(self.method, self.test_x).float()
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
            if online_probe is not None:
                record["online_probe_acc"] = online_probe.accuracy(test_f, self.test_y)
            record["embedding_dim"] = int(z_a.shape[1])
        finally:
            self.method.train(was_training)
        return record

    def _chunks(self, chunk: int = 1024):
        for i in range(0, self.x_a.shape[0], chunk):
            yield self.x_a[i : i + chunk], self.x_b[i : i + chunk]


def _spearman(steps: list[int], values: list[float]) -> float | None:
    """Spearman ρ; None when undefined (fewer than 3 points or a constant series)."""
    if len(values) < 3 or len(set(values)) < 2:
        return None
    return float(stats.spearmanr(steps, values).statistic)


def _resume_key(config: TrainConfig) -> dict[str, Any]:
    """The configuration a checkpoint must match to be resumed (run-time switches left out)."""
    skip = {"resume", "progress", "out", "checkpoint_every", "compile", "device"}
    return {
        k: (sorted(v) if k == "ablate" else v) for k, v in asdict(config).items() if k not in skip
    }


def _prepare_model(
    method: SSLMethod, config: TrainConfig, ctx: dist_utils.DistContext, images: bool
) -> list[str]:
    """Move ``method`` to the device (SyncBN, channels_last, compile as configured); return the
    backbone names."""
    names = backbone_names(method)
    if config.sync_batchnorm and ctx.is_distributed:
        for name in names:
            module = getattr(method, name)
            if ctx.device.type == "cuda":
                module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
            else:
                module = dist_utils.convert_global_batchnorm(module)
            setattr(method, name, module)
    method.to(ctx.device)
    if images and _auto(config.channels_last, ctx.device):
        method.to(memory_format=torch.channels_last)
    if config.compile:
        for name in names:
            module = getattr(method, name)
            module.forward = torch.compile(module.forward)  # keeps the state_dict keys
    return names


def _auto(flag: bool | None, device: torch.device) -> bool:
    return device.type == "cuda" if flag is None else bool(flag)


#: called at every evaluation with (step, method, x_a, x_b): the fixed held-out views the monitors
#: read, with the method in eval mode and gradients off; for experiments that read more than the
#: monitors (e.g. an MI estimator on ``method.embed_pair(x_a, x_b)`` or on backbone features)
#: ``hook(step, method, x_a, x_b)`` at every evaluation, on the held-out pairs; a true return value
#: ends the run after this evaluation (status "ok", the reason says where: a horizon that the
#: data set, e.g. "until the target has travelled its own norm"); the linear probe's last read-out
#: is the one at the last scheduled evaluation
EvalHook = Callable[[int, SSLMethod, torch.Tensor, torch.Tensor], "bool | None"]


def train(config: TrainConfig, on_eval: EvalHook | None = None) -> dict[str, Any]:
    """Train ``config.method`` and return the summary (also written to ``out``/summary.json).

    ``on_eval`` (optional) sees the held-out embeddings at every evaluation (:data:`EvalHook`)."""
    start = time.perf_counter()
    multi = int(os.environ.get("WORLD_SIZE", "1")) > 1
    owns_group = multi and not torch.distributed.is_initialized()
    if multi:
        ctx = dist_utils.init_distributed(config.device)
    else:
        ctx = dist_utils.DistContext(device=_device(config.device))
    try:
        return _train(config, ctx, start, on_eval)
    finally:
        if owns_group:
            dist_utils.cleanup()


@dataclass
class _Run:
    """What the steps of one run share: built by :func:`_setup`, then advanced step by step."""

    config: TrainConfig
    ctx: dist_utils.DistContext
    data: SSLData
    method: SSLMethod
    blocks: list[UpdateBlock]
    optimizers: list[torch.optim.Optimizer]
    schedulers: list[torch.optim.lr_scheduler.LRScheduler]
    #: the online linear probe and its schedule (None: no online probe)
    probe: OnlineLinearProbe | None
    probe_scheduler: torch.optim.lr_scheduler.LRScheduler | None
    tap: _BackboneTap
    reducer: dist_utils.GradientReducer | None
    monitor: _Monitor
    generator: torch.Generator
    sampler: EpochSampler
    #: the rows of the views this rank computes (None: one process, all rows)
    shard: slice | None
    channels_last: bool
    autocast: contextlib.AbstractContextManager[Any]
    losses: _LossLog
    #: the run's folder, where this process writes (None: it writes nothing)
    writes_to: Path | None
    manager: CheckpointManager | None
    history: list[dict[str, Any]] = field(default_factory=list)
    metrics_file: IO[str] | None = None

    def state(self) -> dict[str, Any]:
        """What a checkpoint saves, by slot (the keyword arguments of ``CheckpointManager.save``
        and ``restore_checkpoint``)."""
        optimizers: dict[str, Any] = {f"block{i}": opt for i, opt in enumerate(self.optimizers)}
        schedulers: dict[str, Any] = {f"block{i}": s for i, s in enumerate(self.schedulers)}
        if self.probe is not None:
            optimizers.update(probe=self.probe, probe_optimizer=self.probe.optimizer)
            schedulers.update(probe=self.probe_scheduler)
        return {
            "model": self.method,
            "optimizer": _StateBundle(optimizers),
            "scheduler": _StateBundle(schedulers),
            "generators": {"data": self.generator},
        }

    def log(self, record: dict[str, Any]) -> None:
        """Keep one evaluation's record and append it to ``metrics.jsonl``."""
        self.history.append(record)
        if self.metrics_file is not None:
            self.metrics_file.write(json.dumps(record, allow_nan=False) + "\n")
            self.metrics_file.flush()


def _train(
    config: TrainConfig, ctx: dist_utils.DistContext, start: float, on_eval: EvalHook | None
) -> dict[str, Any]:
    """One run in this process: set up, resume, the step-0 evaluation, then per step one update,
    the evaluation and the checkpoint when due; a :class:`_Stop` ends it early and cleanly."""
    run = _setup(config, ctx, on_eval)
    start_step = _resume(run)
    _open_metrics(run)
    status, reason, steps_done = "ok", "", start_step
    bar = tqdm(
        total=config.steps,
        initial=start_step,
        disable=not (config.progress and ctx.is_main),
        file=sys.stderr,
        desc=config.method,
    )
    try:
        if start_step == 0:
            run.log(
                run.monitor.evaluate(
                    0, None, linear_probe=config.linear_probe, online_probe=run.probe
                )
            )
        for step in range(start_step + 1, config.steps + 1):
            if run.monitor.ended:
                reason = f"ended by the evaluation hook after step {steps_done}"
                break
            _train_step(run, step)
            steps_done = step
            bar.update(1)
            if step % config.eval_every == 0 or step == config.steps:
                _evaluate(run, step)
                last = run.history[-1]
                bar.set_postfix(loss=f"{last['loss']:.3f}", mi=f"{last['mi_cosdv']:.2f}")
            every = config.checkpoint_every
            if every is not None and (step == config.steps or step % every == 0):
                _save_checkpoint(run, step)
    except _Stop as stop:
        status, reason = "stopped", str(stop)
        if stop.steps_done is not None:
            steps_done = stop.steps_done
    finally:
        bar.close()
        if run.metrics_file is not None:
            run.metrics_file.close()
    return _finish(run, start_step, steps_done, status, reason, start)


def _setup(config: TrainConfig, ctx: dist_utils.DistContext, on_eval: EvalHook | None) -> _Run:
    """Data, model, optimizers and schedules, online probe, held-out pairs and checkpoints of a
    run, at step 0 (before any resume)."""
    device = ctx.device
    local_batch = dist_utils.check_batch_size(config.batch_size, ctx.world_size)
    shard = slice(ctx.rank * local_batch, (ctx.rank + 1) * local_batch)
    data = load_dataset(config.data, **{"seed": config.seed, **config.data_options}).to(device)
    images = len(data.input_shape) == 3
    method = build_method(config, data)
    names = _prepare_model(method, config, ctx, images)
    method.train()
    tap = _BackboneTap(method, names, gather=ctx.is_distributed)
    reducer = dist_utils.GradientReducer(method.parameters()) if ctx.is_distributed else None
    blocks = method.update_blocks()
    optimizers = [build_optimizer(b.params, config.optimizer_config(b.lr_scale)) for b in blocks]
    schedulers = [
        _schedule(config, opt, config.lr * block.lr_scale)
        for opt, block in zip(optimizers, blocks, strict=True)
    ]
    probe = _online_probe(config, method, data, images)
    probe_scheduler = None
    if probe is not None:
        probe.to(device)
        probe_scheduler = _schedule(config, probe.optimizer, config.online_probe_lr)
    monitor = _Monitor(method, data, config, on_eval)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    sampler = EpochSampler(data.train_x.shape[0], config.batch_size, config.seed, device)
    out = Path(config.out) if config.out is not None else None
    manager = None
    if out is not None and (config.checkpoint_every is not None or config.resume):
        manager = CheckpointManager(out / "checkpoints", config.checkpoint_every or config.steps)
    autocast: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if _auto(config.amp, device):
        autocast = torch.autocast(device.type, dtype=torch.bfloat16)
    return _Run(
        config=config,
        ctx=ctx,
        data=data,
        method=method,
        blocks=blocks,
        optimizers=optimizers,
        schedulers=schedulers,
        probe=probe,
        probe_scheduler=probe_scheduler,
        tap=tap,
        reducer=reducer,
        monitor=monitor,
        generator=generator,
        sampler=sampler,
        shard=shard if ctx.is_distributed else None,
        channels_last=images and _auto(config.channels_last, device),
        autocast=autocast,
        losses=_LossLog(device, [b.name for b in blocks]),
        writes_to=out if ctx.is_main else None,
        manager=manager,
    )


def _schedule(
    config: TrainConfig, optimizer: torch.optim.Optimizer, lr: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """The run's warm-up and learning-rate schedule on ``optimizer``, whose peak rate is ``lr``."""
    final_ratio = 1.0 if config.lr_schedule == "constant" else 0.0
    start_ratio = None if config.warmup_start_lr is None else config.warmup_start_lr / lr
    return build_scheduler(optimizer, config.steps, config.warmup_steps, final_ratio, start_ratio)


def _online_probe(
    config: TrainConfig, method: SSLMethod, data: SSLData, images: bool
) -> OnlineLinearProbe | None:
    """The online linear probe, when the run has one (``config.online_probe``; None: on images)."""
    if not (config.online_probe if config.online_probe is not None else images):
        return None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed + 2)  # the probe's initialization, like the model's
        probe_optimizer = replace(
            config.optimizer_config(), lr=config.online_probe_lr, weight_decay=0.0
        )  # solo-learn: the run's optimizer and schedule at the classifier lr, no decay
        return OnlineLinearProbe(method.feature_dim, data.num_classes, optimizer=probe_optimizer)


def _resume(run: _Run) -> int:
    """With ``resume``, restore the newest checkpoint that verifies into the run (model,
    optimizers, schedules, data generator, history, losses); return its step (0: none)."""
    if not (run.config.resume and run.manager is not None):
        return 0
    path = latest_checkpoint(run.manager.directory)
    if path is None:
        return 0
    restored = restore_checkpoint(path, map_location=run.ctx.device, **run.state())
    extra = restored["extra"]
    if extra.get("config") != _resume_key(run.config):
        raise ValueError(
            f"checkpoint {path} was written by a different configuration; "
            "use another --out or drop --resume"
        )
    run.history = list(extra["history"])
    run.losses.load_state(extra["losses"])
    return restored["step"]


def _open_metrics(run: _Run) -> None:
    """Write ``metrics.jsonl`` afresh with the history so far and keep it open for appending."""
    if run.writes_to is None:
        return
    run.writes_to.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, allow_nan=False) + "\n" for r in run.history)
    atomic_write_text(run.writes_to / "metrics.jsonl", text)
    run.metrics_file = (run.writes_to / "metrics.jsonl").open("a", encoding="utf-8")


def _train_step(run: _Run, step: int) -> None:
    """One training step: the step's batch, its two views, every update block in order (each
    zero_grad → loss → backward → step), the online probe, then ``method.after_step``. Reads
    nothing back from the device."""
    config, data = run.config, run.data
    index = run.sampler.indices(step)
    x_a, x_b = data.views(data.train_x[index], run.generator, run.shard)
    if run.channels_last:
        x_a = x_a.contiguous(memory_format=torch.channels_last)
        x_b = x_b.contiguous(memory_format=torch.channels_last)
    with run.tap.step(), bounds.unchecked():
        for i, (block, optimizer, scheduler) in enumerate(
            zip(run.blocks, run.optimizers, run.schedulers, strict=True)
        ):
            optimizer.zero_grad(set_to_none=True)
            with run.autocast:
                loss = block.loss(x_a, x_b).float()
            run.losses.add(step, i, loss.detach())
            if run.reducer is None:
                loss.backward()
            else:  # all-reduce buckets overlap the backward pass
                with run.reducer.collecting():
                    loss.backward()
                run.reducer.finish()
            optimizer.step()
            scheduler.step()
    if run.probe is not None and run.tap.features is not None:
        run.probe.update(run.tap.features[: config.batch_size], data.train_y[index])
        run.probe_scheduler.step()  # type: ignore[union-attr]
    run.method.after_step((step - 1) / config.steps)  # τ_base at the first update


def _evaluate(run: _Run, step: int) -> None:
    """The monitors on the held-out pairs after ``step``, logged; the linear probe at the last
    evaluation and every ``probe_every``-th one."""
    config = run.config
    run.losses.check(step)  # the only host read of the losses
    last = step == config.steps
    probe_now = config.linear_probe and (last or len(run.history) % config.probe_every == 0)
    run.log(
        run.monitor.evaluate(
            step, run.losses.pop_mean(), linear_probe=probe_now, online_probe=run.probe
        )
    )


def _save_checkpoint(run: _Run, step: int) -> None:
    """Save the run after ``step`` (rank 0; not when a loss so far was non-finite)."""
    if run.manager is None or not run.ctx.is_main:
        return
    run.losses.check(step)  # no checkpoint of a diverged run
    extra = {
        "history": run.history,
        "losses": run.losses.state(),
        "config": _resume_key(run.config),
    }
    run.manager.save(step, extra=extra, **run.state())


def _finish(
    run: _Run, start_step: int, steps_done: int, status: str, reason: str, start: float
) -> dict[str, Any]:
    """The run's summary (written to ``summary.json``): final and initial values, MI trend,
    collapse, status."""
    config, history = run.config, run.history
    final = history[-1] if history else {}  # empty only when the step-0 evaluation failed
    summary: dict[str, Any] = {
        "method": config.method,
        "paradigm": run.method.paradigm,
        "data": config.data,
        "ablate": sorted(config.ablate),
        "seed": config.seed,
        "steps": config.steps,
        "steps_done": steps_done,
        "resumed_from": start_step,
        "world_size": run.ctx.world_size,
        "backbone": resolve_backbone(config.backbone, run.data)[0],
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
        "collapsed_at_init": is_collapsed(
            history[0]["embed_std"], history[0]["effective_rank"], history[0]["embedding_dim"]
        )
        if history
        else None,
        "seconds": round(time.perf_counter() - start, 3),
        "config": {k: (sorted(v) if k == "ablate" else v) for k, v in asdict(config).items()},
    }
    if run.writes_to is not None:
        atomic_write_json(run.writes_to / "summary.json", summary)
    return summary
