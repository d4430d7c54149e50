"""P5: final MI (three estimators) against downstream accuracy, over every registered method.

    .venv/bin/python benchmarks/p5_table.py [--steps 200] [--seeds 0,1,2] [--out DIR]

Trains each method of ``paradigms.methods.METHODS`` at its defaults on the synthetic Gaussian
mixture, averages the final monitors over the seeds, and prints a Markdown table with the Spearman
rank correlation (and its two-sided p-value) between each MI estimate and the linear-probe
accuracy across methods. The claim under test (CLAIMS.md, P5) is open: high MI is thought
necessary but not sufficient for good downstream accuracy, so a weak or negative correlation is a
result, not a failure. With ``--out`` the table and the per-run numbers are written to
``DIR/p5_table.md`` and ``DIR/p5_results.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch
from scipy import stats

from mitheory.atomic import atomic_write_json, atomic_write_text
from paradigms.methods import METHODS
from paradigms.train import TrainConfig, train

ESTIMATORS = ("mi_cosdv", "mi_infonce", "mi_jsd")
COLUMNS = (*ESTIMATORS, "probe_acc", "knn_acc", "effective_rank")


def run_all(steps: int, seeds: list[int]) -> dict[str, dict[str, float]]:
    """Mean of each final monitor over seeds, per method."""
    table: dict[str, dict[str, float]] = {}
    for name in METHODS:
        finals = []
        for seed in seeds:
            config = TrainConfig(
                method=name, steps=steps, seed=seed, progress=False, probe_every=steps
            )  # the linear probe runs at the first and last evaluation (only the final is used)
            summary = train(config)
            if summary["status"] != "ok":
                raise RuntimeError(f"{name} seed {seed} stopped: {summary['reason']}")
            finals.append(summary)
            print(f"{name} seed {seed}: done in {summary['seconds']:.1f} s", file=sys.stderr)
        table[name] = {c: statistics.fmean(float(s[c]) for s in finals) for c in COLUMNS}
        table[name]["collapsed_runs"] = sum(bool(s["collapsed"]) for s in finals)
    return table


def correlations(table: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Spearman ρ and p-value of each MI estimator against probe accuracy across methods."""
    acc = [row["probe_acc"] for row in table.values()]
    out = {}
    for estimator in ESTIMATORS:
        result = stats.spearmanr([row[estimator] for row in table.values()], acc)
        out[estimator] = {"rho": float(result.statistic), "p": float(result.pvalue)}
    return out


def markdown(table: dict[str, dict[str, float]], rho: dict[str, dict[str, float]], steps: int,
             seeds: list[int]) -> str:  # fmt: skip
    lines = [
        f"P5 — final MI (nats) vs downstream accuracy; gaussian-mixture, {steps} steps, "
        f"mean over seeds {','.join(map(str, seeds))}",
        "",
        "| method | MI cos-DV | MI InfoNCE | MI JSD | linear probe | kNN | eff. rank | collapsed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in sorted(table.items(), key=lambda item: -item[1]["mi_cosdv"]):
        lines.append(
            f"| {name} | {row['mi_cosdv']:.3f} | {row['mi_infonce']:.3f} | {row['mi_jsd']:.3f} | "
            f"{row['probe_acc']:.3f} | {row['knn_acc']:.3f} | {row['effective_rank']:.1f} | "
            f"{int(row['collapsed_runs'])}/{len(seeds)} |"
        )
    lines += ["", "Spearman rank correlation with linear-probe accuracy across methods:", ""]
    for estimator, value in rho.items():
        lines.append(f"- {estimator}: ρ = {value['rho']:+.3f} (p = {value['p']:.3f})")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--out", default=None, help="folder for p5_table.md and p5_results.json")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if args.steps < 1 or not seeds:
        parser.error("need --steps >= 1 and at least one seed")
    torch.set_num_threads(1)
    table = run_all(args.steps, seeds)
    rho = correlations(table)
    text = markdown(table, rho, args.steps, seeds)
    print(text)
    if args.out is not None:
        out = Path(args.out)
        atomic_write_text(out / "p5_table.md", text)
        atomic_write_json(out / "p5_results.json", {"steps": args.steps, "seeds": seeds,
                                                    "methods": table, "spearman": rho})  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
