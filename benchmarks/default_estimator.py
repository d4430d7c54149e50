"""The default estimator on the design, held-out, hard, representation and dependence task sets
(not part of the test run).

    python benchmarks/default_estimator.py --set heldout [--seeds 3] [--n 5000]
        [--methods auto] [--json OUT]
    python benchmarks/default_estimator.py --set representations   # and --set dependence
    python benchmarks/default_estimator.py --speed [--threads 2]

For every task of the set (``mitheory.distributions.task_set``, ``heldout_task_set`` or
``hard_task_set``) and every method it prints, over seeds: the mean estimate ± sd, the truth,
|log2(mean / truth)| and the mean over seeds of |log2(est / truth)|, the coverage of the truth by
``ci`` (the estimator's expectation interval) and, for the default, by ``mi_ci`` (the MI
interval), the median ``mi_ci`` width against the bar 0.25·I + 0.05, seed 0's ``ci``, the mean
seconds and (for the default) which method it chose. The last lines compare the set's means with
the bars of issue 10: held-out mean |log2| ≤ 0.05, MI-interval coverage ≥ 0.80, median width
≤ 0.25·I + 0.05; hard set mean |log2| ≤ 0.10.

On ``representations`` (``mitheory.representations.representation_task_set``: SSL-shaped
embeddings, 128–1024 dims) and ``dependence`` (``dependence_task_set``: Student-t with identity
scale, spirals, coupling stacks) it also prints each estimate's flags and peak memory, and the
bars of issue 26: no silent wrong answer (``mi_ci`` misses the truth with no flag) and mean
|log2| ≤ 0.10 over the unflagged cases. ``--speed`` times the default at 512 + 512 and
2048 + 2048 (n = 10,000, a Gaussian pair mixed by random rotations) next to the plain
normal-score plug-in (``method="flow", layers=0``) in the same run.
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
from mitheory.distributions import SparseGaussian, hard_task_set, heldout_task_set, task_set
from mitheory.representations import dependence_task_set, representation_task_set

SETS = {"design": lambda: task_set(staircase=False), "heldout": heldout_task_set,
        "hard": hard_task_set, "representations": representation_task_set,
        "dependence": dependence_task_set}  # fmt: skip
#: the sets scored by issue 26's bars (flags and silent wrong answers)
FLAGGED_SETS = ("representations", "dependence")


def reset_peak_memory() -> None:
    """Reset this process's peak resident memory (Linux: /proc/self/clear_refs); a no-op
    elsewhere."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        pass


def peak_memory_gib() -> float:
    """Peak resident memory since the last reset, GiB (NaN off Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return math.nan


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
            results, peaks = [], []
            for s, (x, y) in enumerate(samples):
                reset_peak_memory()
                results.append(estimate_mi(x, y, method=method, seed=s))
                peaks.append(peak_memory_gib())
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
                "flags": sorted({f.split(":")[0] for r in results for f in r.diagnostics["flags"]}),
                "mi_ci_seed0": None if results[0].mi_ci is None else list(results[0].mi_ci),
                "peak_gib": max(peaks),
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
            if set_name in FLAGGED_SETS:
                lo, hi = row["mi_ci_seed0"] or row["ci_seed0"]
                print(f"{'':46s} mi_ci (seed 0) [{lo:.3f}, {hi:.3f}]  peak {row['peak_gib']:.2f} "
                      f"GiB  flags {', '.join(row['flags']) or '-'}", flush=True)  # fmt: skip
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
        if set_name in FLAGGED_SETS and s.get("mi_ci_cover") is not None:
            silent = [r["task"] for r in sel if r["mi_ci_cover"] < 1.0 and not r["flags"]]
            clean = [r for r in sel if not r["flags"]]
            s["silent_wrong"] = silent
            s["unflagged_mean_log2"] = (statistics.fmean(r["log2"] for r in clean)
                                        if clean else None)  # fmt: skip
            line += (f"; flagged {len(sel) - len(clean)} of {len(sel)}; silent wrong answers "
                     f"{len(silent)} {silent}; mean |log2| over unflagged "
                     f"{s['unflagged_mean_log2'] if clean else float('nan'):.3f} (bar 0.10)")
        print(line)
        summary[method] = s
    return summary


def speed(threads: int) -> dict:
    """Seconds of the default at 512 + 512 and 2048 + 2048, n = 10,000, beside the plain
    normal-score plug-in (``method="flow", layers=0``), measured in this run."""
    out = {}
    rng = np.random.default_rng(0)
    for dim, bar in ((512, 30.0), (2048, 120.0)):
        task = SparseGaussian(dim, dim, dim // 4, 0.6)
        u, v = task.sample(10_000, 0)
        rot = [np.linalg.qr(rng.standard_normal((dim, dim)))[0] for _ in range(2)]
        x, y = u @ rot[0], v @ rot[1]
        timings = {}
        for name, opts in (("auto", {}), ("plug-in", {"method": "flow", "layers": 0})):
            reset_peak_memory()
            r = estimate_mi(x, y, threads=threads, **opts)
            timings[name] = {"seconds": r.seconds, "mi": r.mi, "peak_gib": peak_memory_gib()}
        out[f"{dim}+{dim}"] = {"truth": task.mi, "bar_seconds": bar, **timings}
        a, p = timings["auto"], timings["plug-in"]
        print(f"{dim}+{dim}, n = 10000, {threads} threads: auto {a['seconds']:.1f} s "
              f"(bar {bar:.0f} s: {'met' if a['seconds'] <= bar else 'NOT met'}; "
              f"{a['mi']:.3f} for I = {task.mi:.3f}, peak {a['peak_gib']:.2f} GiB), plain "
              f"normal-score plug-in {p['seconds']:.1f} s ({p['mi']:.3f})", flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=sorted(SETS), default="heldout")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--methods", default="auto", help="comma-separated estimators.METHODS")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--json", default="", help="also write all rows to this JSON file")
    parser.add_argument("--speed", action="store_true",
                        help="time the default at 512 + 512 and 2048 + 2048 (n = 10,000) only")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.n < 100:
        parser.error("need --seeds ≥ 1 and --n ≥ 100")
    torch.set_num_threads(args.threads)
    np.seterr(all="ignore")
    warnings.simplefilter("ignore")  # the flags are in each result's diagnostics
    if args.speed:
        timings = speed(args.threads)
        if args.json:
            atomic_write_json(args.json, {"speed": timings, "threads": args.threads})
        return
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
