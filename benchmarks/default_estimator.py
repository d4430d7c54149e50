"""The default estimator on the design, held-out and hard task sets (not part of the test run).

    python benchmarks/default_estimator.py --set heldout [--seeds 3] [--n 5000]
        [--methods auto] [--json OUT]

For every task of the set (``mitheory.distributions.task_set``, ``heldout_task_set`` or
``hard_task_set``) and every method it prints, over seeds: the mean estimate ± sd, the truth,
|log2(mean / truth)| and the mean over seeds of |log2(est / truth)|, the coverage of the truth by
``ci`` (the estimator's expectation interval) and, for the default, by ``mi_ci`` (the MI
interval), the median ``mi_ci`` width against the bar 0.25·I + 0.05, seed 0's ``ci``, the mean
seconds and (for the default) which method it chose. The last lines compare the set's means with
the bars of issue 10: held-out mean |log2| ≤ 0.05, MI-interval coverage ≥ 0.80, median width
≤ 0.25·I + 0.05; hard set mean |log2| ≤ 0.10.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from estimators import estimate_mi
from estimators.atomic import atomic_write_json
from mitheory.distributions import hard_task_set, heldout_task_set, task_set

SETS = {"design": lambda: task_set(staircase=False), "heldout": heldout_task_set,
        "hard": hard_task_set}  # fmt: skip


def log2_ratio(estimate: float, truth: float) -> float:
    """|log2(estimate / truth)|; infinite for a non-positive estimate."""
    return abs(math.log2(estimate / truth)) if estimate > 0 else math.inf


def run(set_name: str, methods: list[str], seeds: int, n: int) -> list[dict]:
    rows = []
    head = (f"{'task':46s} {'method':8s} {'mean ± sd':>15s} {'truth':>6s} {'|log2|':>6s} "
            f"{'seed|l2|':>8s} {'ci (seed 0)':>17s} {'ci':>4s} {'mi_ci':>5s} {'width':>6s} "
            f"{'bar':>5s} {'sec':>5s}  chosen")  # fmt: skip
    print(head)
    print("-" * len(head))
    for task in SETS[set_name]():
        samples = [task.sample(n, seed=s) for s in range(seeds)]
        for method in methods:
            results = [estimate_mi(x, y, method=method, seed=s) for s, (x, y) in
                       enumerate(samples)]  # fmt: skip
            est = [r.mi for r in results]
            mi_ci = [r.mi_ci for r in results if r.mi_ci is not None]
            row = {
                "task": task.task_id, "method": method, "truth": task.mi,
                "estimates": est, "mean": statistics.fmean(est),
                "sd": statistics.stdev(est) if seeds > 1 else 0.0,
                "seconds": statistics.fmean(r.seconds for r in results),
                "ci_cover": statistics.fmean(r.ci[0] <= task.mi <= r.ci[1] for r in results),
                "mi_ci_cover": (
                    statistics.fmean(lo <= task.mi <= hi for lo, hi in mi_ci) if mi_ci else None
                ),
                "width": statistics.median(hi - lo for lo, hi in mi_ci) if mi_ci else None,
                "width_bar": 0.25 * task.mi + 0.05,
                "chosen": [r.diagnostics.get("chosen", method) for r in results],
                "ci_seed0": list(results[0].ci),
            }
            row["log2"] = log2_ratio(row["mean"], task.mi)
            row["seed_log2"] = statistics.fmean(log2_ratio(e, task.mi) for e in est)
            rows.append(row)
            cover = "  —  " if row["mi_ci_cover"] is None else f"{row['mi_ci_cover']:5.2f}"
            width = "   —  " if row["width"] is None else f"{row['width']:6.3f}"
            chosen = ",".join(f"{k}×{v}" for k, v in Counter(row["chosen"]).items())
            print(f"{task.task_id:46s} {method:8s} {row['mean']:7.3f} ± {row['sd']:5.3f} "
                  f"{task.mi:6.3f} {row['log2']:6.3f} {row['seed_log2']:8.3f} "
                  f"[{row['ci_seed0'][0]:7.3f},{row['ci_seed0'][1]:7.3f}] "
                  f"{row['ci_cover']:4.2f} {cover} {width} {row['width_bar']:5.3f} "
                  f"{row['seconds']:5.1f}  {chosen}", flush=True)  # fmt: skip
    return rows


def summarize(rows: list[dict], set_name: str) -> dict:
    bar = {"heldout": 0.05, "hard": 0.10}.get(set_name)
    summary = {}
    print()
    for method in dict.fromkeys(r["method"] for r in rows):
        sel = [r for r in rows if r["method"] == method]
        s = {
            "mean_log2": statistics.fmean(r["log2"] for r in sel),
            "mean_seed_log2": statistics.fmean(r["seed_log2"] for r in sel),
            "ci_cover": statistics.fmean(r["ci_cover"] for r in sel),
            "max_seconds": max(r["seconds"] for r in sel),
        }
        line = (f"{method:8s} mean |log2(mean est / I)| {s['mean_log2']:.3f}, per seed "
                f"{s['mean_seed_log2']:.3f}; ci covers I {s['ci_cover']:.2f}; slowest task "
                f"{s['max_seconds']:.1f} s")  # fmt: skip
        if all(r["mi_ci_cover"] is not None for r in sel):
            s["mi_ci_cover"] = statistics.fmean(r["mi_ci_cover"] for r in sel)
            s["width_ok"] = statistics.fmean(r["width"] <= r["width_bar"] for r in sel)
            line += (f"; mi_ci covers I {s['mi_ci_cover']:.2f} (bar ≥ 0.80), median width within "
                     f"0.25·I + 0.05 on {s['width_ok']:.2f} of tasks")  # fmt: skip
        if bar is not None:
            line += f"; |log2| bar {bar:.2f}: {'met' if s['mean_log2'] <= bar else 'NOT met'}"
        print(line)
        summary[method] = s
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=sorted(SETS), default="heldout")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--methods", default="auto", help="comma-separated estimators.METHODS")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--json", default="", help="also write all rows to this JSON file")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.n < 100:
        parser.error("need --seeds ≥ 1 and --n ≥ 100")
    torch.set_num_threads(args.threads)
    np.seterr(all="ignore")
    warnings.simplefilter("ignore")  # the flags are in each result's diagnostics
    methods = [m for m in args.methods.split(",") if m]
    print(f"set {args.set}, n = {args.n}, seeds = {args.seeds}, torch threads = {args.threads}\n")
    rows = run(args.set, methods, args.seeds, args.n)
    summary = summarize(rows, args.set)
    if args.json:
        for row in [*rows, *summary.values()]:  # JSON has no infinity (a non-positive estimate)
            for key in ("log2", "seed_log2", "mean_log2", "mean_seed_log2"):
                if key in row and math.isinf(row[key]):
                    row[key] = None
        atomic_write_json(args.json, {"set": args.set, "n": args.n, "seeds": args.seeds,
                                      "rows": rows, "summary": summary})  # fmt: skip


if __name__ == "__main__":
    main()
