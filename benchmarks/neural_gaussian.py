"""Accuracy of the neural MI estimators on known-MI tasks, per seed (nats).

    OMP_NUM_THREADS=1 python benchmarks/neural_gaussian.py [--methods smile,infonce]
        [--opts '{}'] [--cases gaussian,staircase,other] [--seeds 0,1,2,3,4] [--n 5000]

Cases: "gaussian" — x, y ∈ R^d with y = ρ x + √(1−ρ²) ε componentwise (I = −d/2 · log(1−ρ²)),
plus the dense and sparse 25 + 25 Gaussians of ``mitheory.distributions.task_set``; "staircase" —
the 20-dim staircase I = 2, 4, …, 10 of Poole et al. / Song & Ermon; "other" — Student-t (ν = 3, 5)
and half-cube tasks. Each seed draws a fresh data set (task seed = estimator seed). Prints per case
and method the estimates, mean and worst |log2(est/true)| over seeds, how many 95 % CIs contain the
truth, and the mean process CPU seconds per estimate (one thread; CPU time, so a loaded machine
does not inflate it as much as wall time).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from estimators import estimate_mi
from mitheory.distributions import DenseGaussian, GaussianStaircase, SparseGaussian, StudentT
from mitheory.transforms import half_cube


class Componentwise:
    """n pairs with I(X;Y) = mi nats spread evenly over d independent coordinate pairs."""

    def __init__(self, d: int, mi: float) -> None:
        self.d, self.mi = d, mi
        self.task_id = f"componentwise-{d}x{d}-mi{mi:g}"

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rho = math.sqrt(1.0 - math.exp(-2.0 * self.mi / self.d))
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, self.d))
        return x, rho * x + math.sqrt(1.0 - rho**2) * rng.normal(size=(n, self.d))


CASES = {
    "gaussian": [
        Componentwise(1, 0.5), Componentwise(5, 1.0), Componentwise(10, 2.0),
        Componentwise(25, 1.0), Componentwise(25, 2.0),
        DenseGaussian(25, 25, 0.2), SparseGaussian(25, 25, 4, 0.6),
    ],
    "staircase": [GaussianStaircase(float(level)) for level in (2, 4, 6, 8, 10)],
    "other": [
        StudentT(2, 2, 3.0, 2, 0.6), StudentT(2, 2, 5.0, 2, 0.6),
        half_cube(DenseGaussian(5, 5, 0.5)), half_cube(SparseGaussian(5, 5, 2, 0.8)),
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--methods", default="smile,infonce,jsd,nwj,dv,mine")
    parser.add_argument("--opts", default="{}", help="JSON dict of estimator options")
    parser.add_argument("--cases", default="gaussian,staircase,other")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    opts = json.loads(args.opts)
    seeds = [int(s) for s in args.seeds.split(",")]
    for group in args.cases.split(","):
        for task in CASES[group]:
            samples = [task.sample(args.n, seed=s) for s in seeds]
            for method in args.methods.split(","):
                ests, errs, covered, cpu = [], [], 0, []
                for seed, (x, y) in zip(seeds, samples, strict=True):
                    t0 = time.process_time()
                    r = estimate_mi(x, y, method=method, seed=seed, **opts)
                    cpu.append(time.process_time() - t0)
                    ests.append(r.mi)
                    errs.append(abs(math.log2(max(r.mi, 1e-6) / task.mi)))
                    covered += r.ci[0] <= task.mi <= r.ci[1]
                print(
                    f"{task.task_id:44s} {method:8s} I={task.mi:6.3f} "
                    f"est={' '.join(f'{e:.3f}' for e in ests)} |log2| mean={np.mean(errs):.3f} "
                    f"worst={np.max(errs):.3f} ci_covers={covered}/{len(seeds)} "
                    f"cpu={np.mean(cpu):.1f}s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
