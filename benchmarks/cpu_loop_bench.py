"""CPU images/s and aten ops per step of the project's training loop against a plain PyTorch loop.

    python benchmarks/cpu_loop_bench.py                # SimCLR, small CNN, Fashion-MNIST, B 128
    python benchmarks/cpu_loop_bench.py --method byol    # online/target branches, EMA

Both loops train the same model (``paradigms.training.loop.build_method``: small CNN + the method's
heads), on the same batched augmentation (``SSLData.views``), with AdamW at the same learning rate;
the plain loop is the textbook ``zero_grad → loss → backward → step`` (for BYOL, then the EMA of the
target with one ``torch._foreach_lerp_``), batches drawn as a fresh permutation per epoch.

Aten ops per step (``paradigms.measurement.profiling.count_aten_ops``, every op dispatched, the
launch-bound cost of a step on a GPU) are counted the same differential way for the loop and
directly over the plain loop's steps; the issue's bar is loop/plain ≤ 1.3.

The training loop's per-step time is measured differentially, (T(S₂) − T(S₁)) / (S₂ − S₁) over two
``train()`` runs of S₁ and S₂ steps, which cancels its fixed costs (data loading, the evaluations at
step 0 and at the end). The plain loop is timed directly over S₂ − S₁ steps after a short warm-up.
The two are interleaved ``--repeats`` times and the medians compared: ratio = loop / plain
images/s (1.0 = no overhead; the issue's bar is ≥ 0.9). Two views of one image count as one image.
Falls back to scikit-learn's digits when Fashion-MNIST is not installed. The loop runs as configured
by default for images (parameter groups without weight decay on norms/biases, LR scheduler, online
linear probe on the detached features); ``--no-online-probe`` switches the probe off.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _plain_loop(config, steps: int, warmup: int = 3) -> tuple[float, int]:
    """Seconds and aten ops of ``steps`` plain steps (after ``warmup`` uncounted ones)."""
    import torch.nn.functional as F

    from paradigms.data import load_dataset
    from paradigms.measurement.profiling import count_aten_ops
    from paradigms.methods.objectives import nt_xent_loss
    from paradigms.training.loop import build_method

    data = load_dataset(config.data, **{"seed": config.seed, **config.data_options})
    model = build_method(config, data).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(config.seed)
    n = data.train_x.shape[0]
    perm = torch.randperm(n, generator=gen)

    def step(k: int) -> None:
        nonlocal perm
        j = k % (n // config.batch_size)
        if j == 0:
            perm = torch.randperm(n, generator=gen)
        rows = perm[j * config.batch_size : (j + 1) * config.batch_size]
        x_a, x_b = data.views(data.train_x[rows], gen)
        if config.method == "simclr":
            z_a = model.projector(model.backbone(x_a))
            z_b = model.projector(model.backbone(x_b))
            loss = nt_xent_loss(z_a, z_b, temperature=model.temperature)
        else:  # byol: Σ over view orders of 2 − 2 cos(q(online), sg(target))
            p_a = model.predictor(model.projector(model.backbone(x_a)))
            p_b = model.predictor(model.projector(model.backbone(x_b)))
            with torch.no_grad():
                t_a = model.target_projector(model.target_backbone(x_a))
                t_b = model.target_projector(model.target_backbone(x_b))
            loss = (4 - 2 * F.cosine_similarity(p_a, t_b).mean()
                    - 2 * F.cosine_similarity(p_b, t_a).mean())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if config.method == "byol":
            with torch.no_grad():
                online = [*model.backbone.parameters(), *model.projector.parameters()]
                target = [*model.target_backbone.parameters(), *model.target_projector.parameters()]
                torch._foreach_lerp_(target, online, 0.01)

    for k in range(warmup):
        step(k)
    with count_aten_ops() as ops:
        start = time.perf_counter()
        for k in range(warmup, warmup + steps):
            step(k)
        seconds = time.perf_counter() - start
    return seconds, ops.total


def _train_run(config, steps: int) -> tuple[float, int]:
    """Seconds and aten ops of a whole ``train()`` run of ``steps`` steps."""
    from paradigms.measurement.profiling import count_aten_ops
    from paradigms.training.loop import train

    with count_aten_ops() as ops:
        start = time.perf_counter()
        train(replace(config, steps=steps, eval_every=steps))
        seconds = time.perf_counter() - start
    return seconds, ops.total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, nargs=2, default=(5, 25), metavar=("S1", "S2"))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-online-probe", action="store_true")
    parser.add_argument("--method", choices=("simclr", "byol"), default="simclr")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from paradigms.data.images import FASHION_MNIST_DIR
    from paradigms.training.config import TrainConfig

    have_fmnist = (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file()
    config = TrainConfig(
        method=args.method,
        data="fashion-mnist" if have_fmnist else "digits",
        backbone="smallcnn",
        batch_size=args.batch_size,
        eval_pairs=256,
        probe_train=256,
        progress=False,
        online_probe=not args.no_online_probe,
        data_options={"n_train": 4096, "n_test": 512} if have_fmnist else {},
    )
    s1, s2 = args.steps
    loop_ips, plain_ips = [], []
    for r in range(args.repeats):
        (t2, ops2), (t1, ops1) = _train_run(config, s2), _train_run(config, s1)
        plain_seconds, plain_ops = _plain_loop(config, s2 - s1)
        loop_ips.append(config.batch_size * (s2 - s1) / (t2 - t1))
        plain_ips.append(config.batch_size * (s2 - s1) / plain_seconds)
        loop_ops, plain_per_step = (ops2 - ops1) / (s2 - s1), plain_ops / (s2 - s1)
        print(f"repeat {r}: loop {loop_ips[-1]:.0f} img/s, plain {plain_ips[-1]:.0f} img/s; "
              f"aten ops/step loop {loop_ops:.0f}, plain {plain_per_step:.0f}", flush=True)
    loop, plain = statistics.median(loop_ips), statistics.median(plain_ips)
    print(f"{config.data}, smallcnn + {args.method}, batch {config.batch_size}, "
          f"{args.threads} thread(s): training loop {loop:.0f} img/s, plain loop {plain:.0f} "
          f"img/s, ratio {loop / plain:.3f}; aten ops per step {loop_ops:.0f} vs "
          f"{plain_per_step:.0f}, ratio {loop_ops / plain_per_step:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
