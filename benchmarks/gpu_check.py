"""GPU check of ``train()`` itself: each method's CIFAR-10 recipe on CIFAR-shaped data.

Run on one GPU (an H200 is the target)::

    python benchmarks/gpu_check.py                              # simclr byol barlow mocov3
    python benchmarks/gpu_check.py --methods simclr --steps 20 220 --compile
    python benchmarks/gpu_check.py --device cpu --tiny          # CPU smoke run of the script

Per method, two ``paradigms.training.loop.train`` runs of S₁ and S₂ steps from
``config_from_recipe("<method>-cifar10")``: ResNet-18 with the CIFAR stem, LARS, the recipe's heads
and loss, bf16 autocast and ``channels_last`` (the CUDA defaults), the augmentation of both views on
the device, the online probe at every step and the monitors at the last step — the loop a user
runs. The data are torchvision ``FakeData`` images of 3 × 32 × 32 with labels (``--n-images``),
resident on the device as CIFAR-10 would be. ``--batch-size`` overrides the recipe's (its lr is
scaled × B/256 as the recipe does). Image pairs/s = B·(S₂ − S₁) / (T(S₂) − T(S₁)) over wall-clock
times of whole runs, so data loading, evaluations and compilation cancel; the device is
synchronised before each clock read. Also printed: peak device memory and the final loss and
monitors of the S₂ run. ``--out`` writes everything as JSON (temporary file, then rename).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from estimators.atomic import atomic_write_json
from paradigms.training.config import config_from_recipe
from paradigms.training.loop import train

DEFAULT_METHODS = ("simclr", "byol", "barlow", "mocov3")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed_run(config) -> tuple[float, dict]:
    device = torch.device(config.device)
    _sync(device)
    start = time.perf_counter()
    summary = train(config)
    _sync(device)
    return time.perf_counter() - start, summary


def check_method(method: str, args: argparse.Namespace) -> dict:
    """The two timed runs of one method; image pairs/s, memory, loss and monitors."""
    device = torch.device(args.device)
    overrides = {
        "data": "fake", "device": args.device, "batch_size": args.batch_size, "progress": False,
        "compile": args.compile, "data_options": {"size": args.n_images, "image_size": 32},
        "probe_train": min(args.n_images, 4096), "probe_test": min(args.n_images, 1024),
    }  # fmt: skip
    if args.tiny:
        overrides.update(backbone="smallcnn", backbone_options={})
    s1, s2 = args.steps
    runs = []
    for steps in (s1, s2):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        config = config_from_recipe(
            f"{method}-cifar10", steps=steps, eval_every=steps, warmup_steps=0, **overrides
        )
        seconds, summary = _timed_run(config)
        runs.append((seconds, summary))
    (t1, _), (t2, summary) = runs
    pairs_per_s = args.batch_size * (s2 - s1) / max(t2 - t1, 1e-9)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    result = {
        "method": method,
        "steps": [s1, s2],
        "seconds": [round(t1, 3), round(t2, 3)],
        "image_pairs_per_s": pairs_per_s,
        "peak_mem_gib": peak,
        "status": summary["status"],
        "loss": summary.get("loss"),
        "finite": summary["status"] == "ok" and math.isfinite(summary.get("loss") or math.nan),
        **{k: summary.get(k) for k in ("mi_cosdv", "effective_rank", "collapsed", "knn_acc",
                                       "online_probe_acc")},
    }  # fmt: skip
    mem = f"{peak:.1f} GiB" if peak is not None else "n/a"
    print(f"{method:8s} {pairs_per_s:9.0f} image pairs/s  peak {mem}  loss {result['loss']}  "
          f"status {summary['status']}", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help="comma-separated registry names with a -cifar10 recipe")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--steps", type=int, nargs=2, default=(20, 120), metavar=("S1", "S2"))
    parser.add_argument("--n-images", type=int, default=10_000)
    parser.add_argument("--compile", action="store_true", help="torch.compile the backbones")
    parser.add_argument("--tiny", action="store_true",
                        help="small CNN, batch 32, 256 images, steps 2 and 4 (CPU smoke run)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.tiny:
        args.batch_size, args.n_images, args.steps = 32, 256, (2, 4)
    s1, s2 = args.steps
    if not 1 <= s1 < s2:
        parser.error(f"--steps needs 1 <= S1 < S2, got {s1} {s2}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda requested but CUDA is not available; use --device cpu")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    env = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu",
        "batch_size": args.batch_size, "steps": [s1, s2], "compile": args.compile,
    }  # fmt: skip
    print(json.dumps(env), flush=True)
    results = [check_method(m, args) for m in methods]
    if args.out:
        atomic_write_json(Path(args.out), {"env": env, "results": results})
    return 0 if all(r["finite"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
