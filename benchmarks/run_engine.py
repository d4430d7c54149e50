"""Runs × steps per second: the batched run engine against one-at-a-time training (issue 24).

    python benchmarks/run_engine.py             # R = 1, 12, 36, 72; 200 steps; canonical SDMI
    python benchmarks/run_engine.py --quick     # R = 1, 12; 60 steps
    python benchmarks/run_engine.py --method byol --sizes 1 36
    python benchmarks/run_engine.py --data markov-sequences   # token sequences, 1-D CNN

Both sides train the same configurations (``TrainConfig`` defaults as the claims use them: vector
Gaussian mixture with the MLP backbone, or ``--data``'s own encoder; AdamW, batch 128; seeds
0..R−1; evaluations at step 0 and at the end, no linear probe) and are timed end to end (set-up,
steps, evaluations):

- one at a time: ``paradigms.training.loop.train`` on each configuration in turn. Its throughput
  R·S / T does not depend on R, so it is measured on the first min(R, ``--solo-runs``) runs;
- batched: ``paradigms.training.batched.train_batched`` on all R at once.

Compute-bound estimate: R × S × t_a, with t_a one run's pure arithmetic per step — the median
time of its update blocks' loss + backward on a fixed batch (``torch.autograd.grad``), without
data drawing, optimizer, schedules, logging or evaluations; measured again before each row, as
the machine's load (printed) moves all three timings. Both sides are warmed up once first (a
2-step run each), so first-call costs count for neither. Threads: ``--threads`` (default 1,
``torch.set_num_threads``); the table says how many.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _configs(method: str, runs: int, steps: int, data: str = "gaussian-mixture") -> list:
    from paradigms.training.config import TrainConfig

    return [
        TrainConfig(
            method=method, data=data, seed=seed, steps=steps, eval_every=steps, progress=False,
            linear_probe=False, probe_train=512, probe_test=512,
        )
        for seed in range(runs)
    ]  # fmt: skip


def arithmetic_seconds(method: str, data: str, repeats: int = 30) -> float:
    """t_a: median seconds of one step's update-block losses and backward passes of one run."""
    from paradigms.data import load_dataset
    from paradigms.training.loop import build_method

    config = _configs(method, 1, 1, data)[0]
    dataset = load_dataset(config.data, seed=0)
    model = build_method(config, dataset).train()
    batch = dataset.train_x[: config.batch_size]
    x_a, x_b = dataset.views(batch, torch.Generator().manual_seed(0))
    blocks = model.update_blocks()
    times = []
    for _ in range(repeats + 3):
        start = time.perf_counter()
        for block in blocks:
            torch.autograd.grad(block.loss(x_a, x_b), block.params, allow_unused=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times[3:])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--method", default="sdmi")
    parser.add_argument("--data", default="gaussian-mixture", help="or markov-sequences (1-D CNN)")
    parser.add_argument("--steps", type=int, default=None, help="default 200 (--quick: 60)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--solo-runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="R = 1, 12 and 60 steps")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    steps = args.steps or (60 if args.quick else 200)
    sizes = args.sizes or ([1, 12] if args.quick else [1, 12, 36, 72])

    from paradigms.training.batched import train_batched
    from paradigms.training.loop import train

    print(f"# {args.method} on {args.data}, {steps} steps, {torch.get_num_threads()} thread(s), "
          f"load average {os.getloadavg()[0]:.2f}; t_a: one run's arithmetic per step, "
          "measured before each row")  # fmt: skip
    print(f"{'R':>4} {'solo runs·steps/s':>18} {'batched':>10} {'ratio':>7} {'t_a ms':>7} "
          f"{'compute-bound s':>16} {'batched s':>10} {'batched/bound':>14}")  # fmt: skip
    warm = _configs(args.method, 2, 2, args.data)  # first-call costs (imports, allocators) first
    train(warm[0])
    train_batched(warm)
    for runs in sizes:
        t_a = arithmetic_seconds(args.method, args.data)
        configs = _configs(args.method, runs, steps, args.data)
        solo = configs[: min(runs, args.solo_runs)]
        start = time.perf_counter()
        for config in solo:
            train(config)
        solo_rate = len(solo) * steps / (time.perf_counter() - start)
        start = time.perf_counter()
        train_batched(configs)
        batched_s = time.perf_counter() - start
        rate = runs * steps / batched_s
        bound = runs * steps * t_a
        print(f"{runs:>4} {solo_rate:>18.1f} {rate:>10.1f} {rate / solo_rate:>7.2f} "
              f"{1e3 * t_a:>7.2f} {bound:>16.2f} {batched_s:>10.2f} "
              f"{batched_s / bound:>14.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
