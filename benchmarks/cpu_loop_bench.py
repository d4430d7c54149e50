"""CPU images/s of the project's training loop against a plain hand-written PyTorch loop.

    python benchmarks/cpu_loop_bench.py            # SimCLR, small CNN, Fashion-MNIST, batch 128

Both loops train the same model (``paradigms.train.build_method``: small CNN + SimCLR projector),
on the same batches and the same batched augmentation (``SSLData.views``), with AdamW at the same
learning rate; the plain loop is the textbook ``zero_grad → loss → backward → step``.

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


def _plain_loop_seconds(config, steps: int, warmup: int = 3) -> float:
    from paradigms.data import load_dataset
    from paradigms.objectives import nt_xent_loss
    from paradigms.train import build_method

    data = load_dataset(config.data, seed=config.seed, **config.data_options)
    model = build_method(config, data).train()
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(config.seed)
    n = data.train_x.shape[0]
    start = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            start = time.perf_counter()
        idx = torch.randint(n, (config.batch_size,), generator=gen)
        x_a, x_b = data.views(data.train_x[idx], gen)
        z_a = model.projector(model.backbone(x_a))
        z_b = model.projector(model.backbone(x_b))
        loss = nt_xent_loss(z_a, z_b, temperature=model.temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def _train_seconds(config, steps: int) -> float:
    from paradigms.train import train

    start = time.perf_counter()
    train(replace(config, steps=steps, eval_every=steps))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, nargs=2, default=(5, 25), metavar=("S1", "S2"))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-online-probe", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from paradigms.image_data import FASHION_MNIST_DIR
    from paradigms.train import TrainConfig

    have_fmnist = (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file()
    config = TrainConfig(
        method="simclr",
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
        per_step = (_train_seconds(config, s2) - _train_seconds(config, s1)) / (s2 - s1)
        plain = _plain_loop_seconds(config, s2 - s1) / (s2 - s1)
        loop_ips.append(config.batch_size / per_step)
        plain_ips.append(config.batch_size / plain)
        print(f"repeat {r}: loop {loop_ips[-1]:.0f} img/s, plain {plain_ips[-1]:.0f} img/s",
              flush=True)
    loop, plain = statistics.median(loop_ips), statistics.median(plain_ips)
    print(f"{config.data}, smallcnn + SimCLR, batch {config.batch_size}, {args.threads} thread(s):"
          f" training loop {loop:.0f} img/s, plain loop {plain:.0f} img/s, "
          f"ratio {loop / plain:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
