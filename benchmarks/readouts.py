"""Held-out MI read-outs of many runs: one shared critic loop against one estimate at a time.

    python benchmarks/readouts.py                 # 4 runs × 5 evaluations, the claims' critic
    python benchmarks/readouts.py --pairs 8 40 --dim 64 --n 512

The claims read the held-out MI of every evaluation of every run (``mitheory.claims.training``:
InfoNCE, separable critic, 2 folds, the quick schedule: checkpoint every 10 steps, patience 3).
Both sides estimate the same pairs with the same seeds: ``estimate_mi`` on each pair in turn, and
``estimate_mi_many`` on all of them (every fold critic trained side by side). The pairs are
Gaussian embeddings of the claims' size (n held-out pairs, ``--dim`` dims, correlation 0.1–0.9
per pair, so the critics stop at different steps as real read-outs do). Printed per size: both
times, their ratio and the largest difference of the estimates (nats; float32 rounding only).
One torch thread (``--threads``); the machine's load average is printed, since it moves both.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from estimators import estimate_mi, estimate_mi_many

#: the claims' held-out estimator (``mitheory.claims.training.QUICK_HELD_OUT``)
OPTIONS = {"folds": 2, "eval_every": 10, "patience": 3}


def pairs(count: int, n: int, dim: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` embedding pairs, each y = ρx + √(1 − ρ²)ε with ρ from 0.1 to 0.9."""
    rng = np.random.default_rng(seed)
    out = []
    for rho in np.linspace(0.1, 0.9, count):
        x = rng.standard_normal((n, dim))
        out.append((x, rho * x + np.sqrt(1 - rho**2) * rng.standard_normal((n, dim))))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, nargs="+", default=[20])
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"threads {args.threads}, load average {os.getloadavg()[0]:.2f}; n = {args.n}, "
          f"{args.dim} + {args.dim} dims, InfoNCE, {OPTIONS}")  # fmt: skip
    print("| pairs | one at a time s | shared loop s | ratio | max |Δ MI| nats |")
    print("|---|---|---|---|---|")
    for count in args.pairs:
        data = pairs(count, args.n, args.dim)
        seeds = list(range(count))
        estimate_mi_many(data[:1], "infonce", seeds=[0], **OPTIONS)  # warm-up
        t0 = time.perf_counter()
        alone = [estimate_mi(x, y, "infonce", seed=s, **OPTIONS).mi
                 for (x, y), s in zip(data, seeds, strict=True)]  # fmt: skip
        t1 = time.perf_counter()
        together = [r.mi for r in estimate_mi_many(data, "infonce", seeds=seeds, **OPTIONS)]
        t2 = time.perf_counter()
        diff = max(abs(a - b) for a, b in zip(alone, together, strict=True))
        print(f"| {count} | {t1 - t0:.2f} | {t2 - t1:.2f} | {(t1 - t0) / (t2 - t1):.2f} | "
              f"{diff:.1e} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
