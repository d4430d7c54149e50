"""GPU check: every method on CIFAR-shaped data with ResNet-18 in bf16, GPU-resident augmentation.

Run on one GPU (an H200 is the target; about 6 minutes with the defaults)::

    python benchmarks/gpu_check.py                       # all methods, batch 512
    python benchmarks/gpu_check.py --methods simclr-plain --seconds 60
    python benchmarks/gpu_check.py --device cpu --tiny   # CPU smoke check of the script itself

What it does, per method: random uint8 images [N, 3, 32, 32] created on the device (the "dataset"
lives there), two views per step made there by :mod:`paradigms.image_augment` (SimCLR recipe for
JMI methods, BYOL's asymmetric recipe for SDMI methods), ResNet-18 with the CIFAR stem in
``channels_last``, forward/backward under ``torch.autocast(bfloat16)``, LARS with warm-up + cosine
(:mod:`paradigms.optim`). It prints images/s (a pair of views counts as one image; timed after
``--warmup`` steps, with the device synchronised), peak device memory and the loss curve, and writes
everything to ``--out`` as JSON.

``simclr-plain`` depends only on this project's image modules and ``paradigms.objectives``: a
backbone + 2-layer projector + NT-Xent, with the loss computed in fp32. The other names come from
the method registry ``paradigms.methods.METHODS`` when it is importable; their update blocks run
exactly as the training loop runs them (zero_grad → loss → backward → step per block, then
``after_step``), the whole block under autocast.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from paradigms.backbones import build_backbone
from paradigms.image_augment import augment, augmentation_recipe
from paradigms.objectives import nt_xent_loss
from paradigms.optim import OptimizerConfig, build_optimizer, build_scheduler

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


@dataclass(frozen=True)
class Setup:
    device: torch.device
    batch_size: int
    image_size: int
    n_images: int
    warmup: int
    max_steps: int
    seconds: float
    compile: bool
    backbone: str


class PlainSimCLR(nn.Module):
    """Backbone → Linear-BN-ReLU-Linear projector; NT-Xent (τ = 0.2) on fp32 embeddings."""

    def __init__(self, backbone: nn.Module, feature_dim: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.projector = nn.Sequential(
            nn.Linear(feature_dim, 2048, bias=False),
            nn.BatchNorm1d(2048),
            nn.ReLU(inplace=True),
            nn.Linear(2048, 256),
        )

    def loss(self, x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
        z = self.projector(self.backbone(torch.cat([x_a, x_b])))
        z_a, z_b = z.float().chunk(2)
        return nt_xent_loss(z_a, z_b, temperature=0.2)


def _methods_registry() -> dict:
    try:
        from paradigms.methods import METHODS
    except ImportError as err:
        print(f"(method registry not importable: {err}; only simclr-plain runs)", file=sys.stderr)
        return {}
    return dict(METHODS)


def _build(name: str, setup: Setup, registry: dict) -> tuple[nn.Module, list, Callable, str]:
    """(model, [(params, loss_fn, lr_scale)], after_step, recipe) for a method name."""
    backbone, dim = build_backbone(setup.backbone, cifar_stem=True, in_channels=3)
    if setup.compile:
        backbone = torch.compile(backbone)
    if name == "simclr-plain":
        model = PlainSimCLR(backbone, dim)
        blocks = [(tuple(model.parameters()), model.loss, 1.0)]
        return model, blocks, lambda progress: None, "simclr"
    cls = registry[name]
    try:
        model = cls(backbone, dim, proj_hidden_dim=2048, proj_dim=256)
    except TypeError:
        model = cls(backbone, dim)
    blocks = [(b.params, b.loss, b.lr_scale) for b in model.update_blocks()]
    recipe = "byol" if getattr(model, "paradigm", "jmi") == "sdmi" else "simclr"
    return model, blocks, model.after_step, recipe


def run_method(name: str, setup: Setup, registry: dict, images: torch.Tensor) -> dict:
    torch.manual_seed(0)
    model, blocks, after_step, recipe = _build(name, setup, registry)
    model = model.to(setup.device, memory_format=torch.channels_last).train()
    total = setup.max_steps
    config = OptimizerConfig(name="lars", lr=0.3 * setup.batch_size / 256, weight_decay=1e-6)
    optimizers, schedulers = [], []
    for params, _, lr_scale in blocks:
        opt = build_optimizer(list(params), replace(config, lr=config.lr * lr_scale))
        optimizers.append(opt)
        schedulers.append(build_scheduler(opt, total, min(10, total // 10)))
    view_a, view_b = augmentation_recipe(
        recipe, setup.image_size, mean=CIFAR_MEAN, std=CIFAR_STD
    )
    gen = torch.Generator(device=setup.device).manual_seed(0)
    use_autocast = setup.device.type == "cuda"
    losses: list[torch.Tensor] = []
    if setup.device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = timed_from = time.perf_counter()
    timed_steps = 0
    for step in range(total):
        if step == setup.warmup:
            if setup.device.type == "cuda":
                torch.cuda.synchronize()
            timed_from = time.perf_counter()
        idx = torch.randint(images.shape[0], (setup.batch_size,), device=setup.device,
                            generator=gen)
        batch = images[idx]
        x_a = augment(batch, view_a, gen).contiguous(memory_format=torch.channels_last)
        x_b = augment(batch, view_b, gen).contiguous(memory_format=torch.channels_last)
        for i, ((_, loss_fn, _), opt, sched) in enumerate(
            zip(blocks, optimizers, schedulers, strict=True)
        ):
            opt.zero_grad(set_to_none=True)
            with torch.autocast(setup.device.type, dtype=torch.bfloat16, enabled=use_autocast):
                loss = loss_fn(x_a, x_b)
            loss.backward()
            opt.step()
            sched.step()
            if i == 0:
                losses.append(loss.detach().float())
        after_step((step + 1) / total)
        if step >= setup.warmup:
            timed_steps += 1
        if time.perf_counter() - start > setup.seconds and timed_steps >= 2:
            break
    if setup.device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - timed_from
    curve = torch.stack(losses).cpu().tolist()
    result = {
        "method": name,
        "steps": len(curve),
        "timed_steps": timed_steps,
        "images_per_s": timed_steps * setup.batch_size / elapsed if timed_steps else None,
        "peak_mem_gib": (torch.cuda.max_memory_allocated() / 2**30)
        if setup.device.type == "cuda" else None,
        "loss_first": curve[0],
        "loss_last": curve[-1],
        "loss_curve": curve,
        "finite": all(math.isfinite(v) for v in curve),
    }
    del model, optimizers
    if setup.device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def _curve_summary(curve: list[float], points: int = 8) -> str:
    if len(curve) <= points:
        picks = range(len(curve))
    else:
        picks = [round(i * (len(curve) - 1) / (points - 1)) for i in range(points)]
    return " ".join(f"{curve[i]:.3f}" for i in picks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--methods", default="all",
                        help="comma-separated names (registry names and simclr-plain) or 'all'")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--seconds", type=float, default=28.0, help="time cap per method")
    parser.add_argument("--max-steps", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument("--n-images", type=int, default=50_000)
    parser.add_argument("--compile", action="store_true", help="torch.compile the backbone")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke check: batch 8, 16×16 images, 3 steps per method")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            print("CUDA is not available; use --device cpu --tiny for a smoke check",
                  file=sys.stderr)
            return 2
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    else:
        torch.set_num_threads(1)
    if args.tiny:
        setup = Setup(device, 8, 16, 64, 1, 3, 60.0, args.compile, "resnet18")
    else:
        setup = Setup(device, args.batch_size, 32, args.n_images, args.warmup, args.max_steps,
                      args.seconds, args.compile, "resnet18")
    registry = _methods_registry()
    names = ["simclr-plain", *registry] if args.methods == "all" else args.methods.split(",")
    unknown = [n for n in names if n != "simclr-plain" and n not in registry]
    if unknown:
        print(f"unknown method(s) {unknown}; available: simclr-plain, {', '.join(registry)}",
              file=sys.stderr)
        return 2
    gen = torch.Generator(device=device).manual_seed(0)
    images = torch.randint(0, 256, (setup.n_images, 3, setup.image_size, setup.image_size),
                           dtype=torch.uint8, device=device, generator=gen)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    side = setup.image_size
    print(f"device {device} ({where}), batch {setup.batch_size}, {side}×{side}, "
          f"bf16 autocast {device.type == 'cuda'}, compile {setup.compile}")
    results = []
    t0 = time.perf_counter()
    for name in names:
        r = run_method(name, setup, registry, images)
        results.append(r)
        ips = f"{r['images_per_s']:.0f}" if r["images_per_s"] else "n/a"
        mem = f"{r['peak_mem_gib']:.2f} GiB" if r["peak_mem_gib"] is not None else "n/a"
        print(f"{name:>13}: {ips:>7} img/s  peak {mem:>10}  steps {r['steps']:>4}  "
              f"loss {_curve_summary(r['loss_curve'])}", flush=True)
    total = time.perf_counter() - t0
    print(f"total {total:.1f} s")
    if args.out:
        from mitheory.atomic import atomic_write_json

        atomic_write_json(args.out, {"device": str(device), "batch_size": setup.batch_size,
                                     "compile": setup.compile, "seconds": total,
                                     "results": results})
    return 0 if all(r["finite"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
