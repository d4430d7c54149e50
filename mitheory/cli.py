"""The ``mitheory`` command line (DESIGN.md §5).

    mitheory estimate X.npy Y.npy [--method M] [--k K] [--folds F] [--base B] [--drop-constant]
        [--discrete x|y] [--save-critic PATH] [--option NAME=VALUE ...] [--json]
    mitheory report [--quick] --out DIR
    mitheory train --method M --data D [--steps N] [--ablate ...] --out DIR

Heavy packages are imported inside each subcommand so that ``mitheory --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from mitheory import __version__


def _load_samples(path: str):
    """Read a sample matrix from ``.npy`` or ``.csv`` (comma-separated, no header)."""
    import numpy as np

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"no such file: {path}")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        return np.load(p, allow_pickle=False)
    if suffix in (".csv", ".txt"):
        try:
            return np.loadtxt(p, delimiter=",", ndmin=2)
        except ValueError as err:
            raise ValueError(f"{path} is not a numeric comma-separated file: {err}") from err
    raise ValueError(f"{path}: expected a .npy or .csv file, got '{suffix or 'no suffix'}'")


def _option_value(text: str) -> object:
    """A command-line option value: true/false/none, an int, a float, or the text itself."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _estimate_options(args: argparse.Namespace) -> dict[str, object]:
    """Method options from --k, --folds and every --option NAME=VALUE."""
    options: dict[str, object] = {}
    for item in args.option:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(
                f"--option expects NAME=VALUE (e.g. --option max_steps=300), got {item!r}"
            )
        options[name.strip().replace("-", "_")] = _option_value(value.strip())
    for flag in ("k", "folds"):
        if getattr(args, flag) is not None:
            options[flag] = getattr(args, flag)
    return options


def _flag_words(message: str) -> str:
    """A library message in command-line words: ``discrete='x'`` becomes ``--discrete x``."""
    message = re.sub(r"discrete=(['\"])(x|y)\1", r"--discrete \2", message)
    message = message.replace("return_critic=True", "--save-critic")
    message = re.sub(r"^threads must be", "--threads must be", message)
    return re.sub(r"method=(['\"])(\w+)\1", r"--method \2", message)


def _cmd_estimate(args: argparse.Namespace) -> int:
    import math
    import warnings

    from estimators import estimate_mi
    from estimators.flags import MIWarning

    x = _load_samples(args.x)
    y = _load_samples(args.y)
    base = {"e": math.e, "2": 2.0, "10": 10.0}.get(args.base)
    if base is None:
        try:
            base = float(args.base)
        except ValueError:
            raise ValueError(
                f"--base must be e, 2, 10 or a number > 1, got {args.base!r}"
            ) from None
    options = _estimate_options(args)
    with warnings.catch_warnings():  # the flags are printed below, once, in the user's words
        warnings.simplefilter("ignore", MIWarning)
        try:
            result = estimate_mi(
                x, y, method=args.method, seed=args.seed, device=args.device, base=base,
                drop_constant=True if args.drop_constant else None, discrete=args.discrete,
                return_critic=args.save_critic is not None, threads=args.threads, **options,
            )
        except ValueError as err:
            raise ValueError(_flag_words(str(err))) from None
        except TypeError as err:
            if "unknown option" in str(err):
                raise ValueError(f"{err} (pass them as --option NAME=VALUE)") from None
            raise
    flags = [_flag_words(flag) for flag in result.diagnostics.get("flags", [])]
    if args.save_critic is not None:
        result.critic.save(args.save_critic)
    if args.json:
        extra = {"flags": flags}
        if args.save_critic is not None:
            extra["critic"] = str(args.save_critic)
        print(json.dumps({**result.to_dict(), **extra}))
    else:
        lo, hi = result.ci
        line = (f"{result.method}: I = {result.mi:.4f} {result.unit}  "
                f"95% CI [{lo:.4f}, {hi:.4f}]")  # fmt: skip
        if result.mi_ci is not None:
            line += f"  MI interval [{result.mi_ci[0]:.4f}, {result.mi_ci[1]:.4f}]"
        print(f"{line}  n = {result.n}  ({result.seconds:.2f} s)")
        if "chosen" in result.diagnostics:
            print(f"  method: {result.diagnostics['chosen']} — {result.diagnostics['reason']}")
        if args.save_critic is not None:
            print(f"  critics saved to {args.save_critic} (estimators.load_critic)")
    for flag in flags:
        print(f"mitheory estimate: warning: {flag}", file=sys.stderr)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from mitheory.report import run_report

    run_report(Path(args.out), quick=args.quick, seed=args.seed, progress=not args.no_progress)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from paradigms.training.cli import run_from_cli

    return run_from_cli(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mitheory",
        description="Self-supervised learning as MI maximization: estimate, report, train.",
    )
    parser.add_argument("--version", action="version", version=f"mitheory {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    est = sub.add_parser("estimate", help="estimate I(X;Y) in nats from two sample files")
    est.add_argument("x", help="samples of X: .npy or .csv, shape [n] or [n, dx]")
    est.add_argument("y", help="samples of Y: .npy or .csv, shape [n] or [n, dy]")
    est.add_argument("--method", default="auto",
                     help="estimator name (see estimators.METHODS); default auto: picks by the "
                          "data and says which and why")  # fmt: skip
    est.add_argument("--k", type=int, default=None, help="neighbours, for --method ksg")
    est.add_argument("--folds", type=int, default=None,
                     help="cross-fitting folds, for the neural and flow methods")  # fmt: skip
    est.add_argument("--base", default="e", help="logarithm base: e (nats), 2 (bits), 10, ...")
    est.add_argument("--drop-constant", action="store_true",
                     help="drop constant columns (dead units) instead of refusing them")
    est.add_argument("--discrete", choices=("x", "y"), default=None,
                     help="that side holds class labels (one integer per row): the mixed "
                          "discrete-continuous KSG (as sklearn's mutual_info_classif)")  # fmt: skip
    est.add_argument("--save-critic", default=None, metavar="PATH",
                     help="neural methods: save the trained critics (estimators.load_critic "
                          "reads them; .estimate(x, y) on new pairs)")  # fmt: skip
    est.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                     help="any other method option, e.g. --option max_steps=300 (repeatable)")
    est.add_argument("--seed", type=int, default=0)
    est.add_argument("--device", default="cpu")
    est.add_argument("--threads", type=int, default=None,
                     help="CPU threads (default: the cores other processes leave idle)")
    est.add_argument("--json", action="store_true", help="print one JSON object")
    est.set_defaults(func=_cmd_estimate)

    rep = sub.add_parser("report", help="write the approximation-error report")
    rep.add_argument("--out", required=True, help="output folder")
    rep.add_argument("--quick", action="store_true", help="smaller Monte Carlo budgets")
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    rep.set_defaults(func=_cmd_report)

    tr = sub.add_parser("train", help="train an SDMI/JMI method and track MI and collapse")
    tr.add_argument(
        "--method", required=True,
        help="sdmi, jmi, jmi-taylor, simsiam, byol, mocov2, mocov3, simclr, barlow or vicreg "
        "(the registry paradigms.methods.METHODS)",
    )  # fmt: skip
    tr.add_argument(
        "--data",
        default=None,
        help="gaussian-mixture (default), markov-sequences, paired-bags, fashion-mnist, cifar10, "
        "cifar100, digits, fake, tinyimagenet, imagenet100 or imagefolder:PATH",
    )
    tr.add_argument("--data-root", default=None, help="folder holding the data set's files")
    tr.add_argument(
        "--backbone",
        default=None,
        help="mlp, smallcnn, resnet18, resnet50 (default: mlp for vectors, smallcnn for images)",
    )
    tr.add_argument(
        "--recipe",
        default=None,
        help="training recipe <method>-<data> (paradigms/training/recipes) or a .json file; "
        "flags override",
    )
    tr.add_argument("--steps", type=int, default=None, help="optimizer steps")
    tr.add_argument("--ablate", default="", help="comma-separated components to switch off")
    tr.add_argument("--out", required=True, help="output folder")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--device", default="cpu")
    tr.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    tr.add_argument("--lr", type=float, default=None, help="learning rate (default 5e-3)")
    tr.add_argument("--batch-size", type=int, default=None, help="pairs per step (default 128)")
    tr.add_argument("--eval-every", type=int, default=None, help="steps between evaluations")
    tr.add_argument("--optimizer", default=None, help="sgd, lars or adamw (default adamw)")
    tr.add_argument("--weight-decay", type=float, default=None, help="on weights, not norms/biases")
    tr.add_argument("--warmup-steps", type=int, default=None, help="linear warm-up steps")
    tr.add_argument("--lr-schedule", default=None, help="after warm-up: constant or cosine")
    tr.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints")
    tr.add_argument("--resume", action="store_true", help="continue from the last good checkpoint")
    tr.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    tr.add_argument("--amp", action="store_true", help="bf16 autocast (default: on for CUDA)")
    tr.add_argument("--channels-last", action="store_true", help="(default: on for CUDA images)")
    tr.add_argument("--compile", action="store_true", help="torch.compile the backbones")
    tr.add_argument("--sync-batchnorm", action="store_true", help="global BN under torchrun")
    tr.set_defaults(func=_cmd_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, TypeError) as err:
        print(f"mitheory {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
