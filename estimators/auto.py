"""The default estimator (``method="auto"``): picks a method by the data and says which and why.

The rule, fixed on the design task set (``mitheory.distributions.task_set``) and scored on the
held-out ones (``heldout_task_set``, ``hard_task_set`` and, for embeddings,
``mitheory.representations``; ``benchmarks/default_estimator.py``):

0. Inputs shaped like representations (``estimators.inputs``): constant columns (dead units)
   are dropped (``estimate_mi``'s ``drop_constant``; a constant carries no information); rows
   that repeat an earlier (x, y) pair exactly are dropped and flagged (``duplicates``: copies are
   not independent samples); rows repeated on one side only and columns with many tied values
   (ReLU zeros) are flagged (``repeated_rows``, ``ties``) with the direction they push.
1. Always run the Gaussianizing-flow estimator (``estimators.flow``): it has no log-batch ceiling,
   is exact in expectation for any Gaussian pushed through per-side invertible maps it can undo
   (every Gaussian-copula task, the coordinate-mixing maps of ``mitheory.transforms``, linear
   embeddings of any rank), and reads its latents with the checks of ``estimators.latents``.
   Only where each side's latents are Gaussian is its Gaussian MI a lower bound (the Gaussian
   joint has the least MI for given Gaussian marginals and cross-covariance); on curved or tied
   latents it is not, which the flags say.
2. Where the flow's latents are tied tighter than the data resolve (flag ``resolution``: y = x Q,
   tanh(x Q)³), the flow's read-out is reported as a floor with an MI interval open above, and an
   infinite MI where the relation is exact to float precision; nothing else is tried.
3. Where the radii of the two sides' latents are dependent (their KSG exceeds ``RADIAL_Z`` = 3
   standard errors), that term is added ("flow+radial"): the whole non-Gaussian part of an
   elliptical pair (a Student-t of any scale, at any dimension), a lower bound of it otherwise.
4. When the joint dimension is at most ``KSG_MAX_DIM`` = 6 and n ≥ 200, also run KSG on the
   normal scores of the columns (MI-invariant; the k-NN balls then see Gaussian marginals instead
   of heavy tails). KSG needs no model of the copula, and in low dimension its bias is small and
   mostly downward. It sees dependence that no per-side invertible map makes linear and that is
   not radial (additive uniform noise, any non-Gaussian copula in 1 + 1 dimensions). It is
   reported when it exceeds the flow by more than ``Z_CHOOSE`` = 2 standard errors of the
   difference and the radial total too; otherwise the flow (or flow+radial), the one with the
   smaller interval and no ceiling. Above 6 dimensions KSG's bias is large and downward (see the
   warning in ``estimators.knn``); there the residual dependence test of the flow's latents
   (flag ``residual_dependence``) says where the flows stopped short.

A side that is a class label (``discrete="x"/"y"``, or one integer column with few distinct values,
``estimators.flags.looks_like_labels``) has no density, so neither the flow nor KSG applies: the
default then runs the mixed discrete–continuous KSG (``estimators.mixed``) alone and says so.

The result's ``method`` is "auto"; ``diagnostics["chosen"]`` names the method reported,
``diagnostics["reason"]`` says why, and ``diagnostics["candidates"]`` holds every estimate made.

MI interval (``MIResult.mi_ci``). Besides the 95 % interval of the estimator's expectation
(``ci``), the default reports an interval for the MI itself: the chosen estimate ± the quadrature
sum of 1.96 SE and a model-error allowance ``ALLOWANCE`` · Î + ``ALLOWANCE_FLOOR``. The allowance is
calibrated on the design task set (how far the default's expectation lies from the truth there)
and its coverage of the truth is measured on the held-out set (README, "Estimating MI").
All values are in nats.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from estimators.flags import label_side
from estimators.flow import flow_mi
from estimators.inputs import distinct_pairs, repeated_rows, tied_columns
from estimators.knn import ksg
from estimators.latents import EXACT, RADIAL_Z, RESOLUTION
from estimators.marginals import normal_scores
from estimators.mixed import mixed_ksg
from estimators.result import Z95, MIResult
from estimators.validation import check_pair, resolve_device

KSG_MAX_DIM = 6
KSG_MIN_N = 200
Z_CHOOSE = 2.0
ALLOWANCE = 0.05
ALLOWANCE_FLOOR = 0.01


def _se(result: MIResult) -> float:
    return (result.ci[1] - result.ci[0]) / (2.0 * Z95)


def mi_interval(estimate: float, se: float) -> tuple[float, float]:
    """The MI interval around ``estimate``: ± √((1.96 SE)² + (ALLOWANCE·|Î| + FLOOR)²) (nats)."""
    half = math.hypot(Z95 * se, ALLOWANCE * abs(estimate) + ALLOWANCE_FLOOR)
    return estimate - half, estimate + half


def _with_labels(
    xa: Any, ya: Any, side: str, detected: bool, seed: int, dev: torch.device,
    options: dict[str, Any], start: float,
) -> MIResult:
    """The default when ``side`` holds class labels: the mixed KSG alone."""
    if options:
        raise ValueError(
            f"with {side} as class labels the default runs the mixed KSG, which takes none of "
            f"the flow's options {sorted(options)}; use method='ksg' (and its k) instead"
        )
    result = mixed_ksg(xa, ya, discrete=side, seed=seed, device=dev)
    how = "is one integer column with few distinct values" if detected else "was given as discrete"
    diagnostics = {
        "chosen": "ksg",
        "reason": f"{side} {how}: a class label, so the mixed discrete–continuous KSG (Ross "
        f"2014, as mutual_info_classif) is reported",
        "discrete": side,
        "flags": result.diagnostics["flags"],
        "candidates": {"ksg": result.to_dict()},
        "chosen_diagnostics": result.diagnostics,
        "interval": f"ci: the mixed KSG's 95% interval of its expectation; mi_ci adds the "
        f"model-error allowance {ALLOWANCE:g}·I + {ALLOWANCE_FLOOR:g}",
    }
    return MIResult(
        mi=result.mi, ci=result.ci, method="auto", n=result.n,
        seconds=time.perf_counter() - start, diagnostics=diagnostics,
        mi_ci=mi_interval(result.mi, _se(result)),
    )


def auto_mi(
    x: object,
    y: object,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    discrete: str | None = None,
    **options: Any,
) -> MIResult:
    """The default estimate of I(X; Y) in nats: the flow, or KSG on normal scores where it sees
    significantly more; the mixed KSG when one side is a label (module docstring). ``options``
    go to the flow (``FlowConfig`` fields)."""
    start = time.perf_counter()
    dev = resolve_device(device)
    xa, ya = check_pair(x, y)
    n, d = xa.shape[0], xa.shape[1] + ya.shape[1]
    side = discrete if discrete is not None else label_side(xa, ya)
    if side is not None:
        return _with_labels(xa, ya, side, discrete is None, seed, dev, options, start)
    distinct_x, distinct_y, copies = distinct_pairs(xa, ya)
    flags, notes = _input_flags(xa, ya, copies), []
    xa, ya = distinct_x, distinct_y
    if copies:
        notes.append(f"{copies} rows that repeat an earlier (x, y) pair were dropped")
        flags.append(
            f"duplicates: {copies} of {n} rows repeat an earlier (x, y) pair exactly (augmented "
            f"copies?); the estimate uses the {n - copies} distinct pairs, since copies are not "
            "independent samples and bias every estimator upward"
        )
        n = xa.shape[0]
    flow = flow_mi(xa, ya, seed=seed, device=dev, **options)
    candidates: dict[str, MIResult] = {"flow": flow}
    chosen, reason = "flow", "the Gaussianizing flow"
    if flow.diagnostics["resolution"] < RESOLUTION:
        return _unresolved(flow, flags, notes, n, start)
    radial = _with_radial(flow)
    if radial is not None:
        candidates["flow+radial"] = radial
        chosen = "flow+radial"
        reason = (f"the flow plus the radial term ({radial.diagnostics['radial']:.3f} nats): the "
                  "radii of the two sides' latents are dependent, which the Gaussian read-out "
                  "misses (a shared scale, as in a Student-t)")
    if d > KSG_MAX_DIM:
        reason += f"; joint dimension {d} > {KSG_MAX_DIM}: no KSG check (KSG is biased there)"
    elif n < KSG_MIN_N:
        reason += f"; n = {n} < {KSG_MIN_N}: too few samples for KSG's interval"
    else:
        xs = normal_scores(torch.as_tensor(xa))[0].numpy()
        ys = normal_scores(torch.as_tensor(ya))[0].numpy()
        knn = ksg(xs, ys, seed=seed, device=dev)
        candidates["ksg"] = knn
        z = (knn.mi - flow.mi) / math.hypot(_se(knn), _se(flow))
        if abs(z) > Z_CHOOSE:
            flags.append(
                f"disagree: KSG on normal scores ({knn.mi:.3f}) and the flow ({flow.mi:.3f}) "
                f"differ by {abs(z):.1f} standard errors; the larger estimate is reported"
            )
        if z > Z_CHOOSE and knn.mi > candidates[chosen].mi:
            chosen = "ksg"
            reason = (
                f"KSG on normal scores exceeds the flow by {z:.1f} standard errors: dependence "
                "the flow's Gaussian latents miss (a non-Gaussian copula); KSG reported"
            )
        else:
            reason += (f"; KSG on normal scores is not significantly above the flow (z = "
                       f"{z:.1f}) or below {chosen}")  # fmt: skip
    best = candidates[chosen]
    chosen_flags = [f for f in best.diagnostics.get("flags", []) if not f.startswith("radial:")]
    if chosen == "flow+radial":
        chosen_flags.append(
            f"radial: the estimate adds the dependence of the latents' radii "
            f"({best.diagnostics['radial']:.3f} nats) to their Gaussian MI; that is the whole "
            "MI for an elliptical pair (a Student-t of any scale) and less otherwise, so the MI "
            "may be higher (heavy tails through a rank-16 embedding in 128 dims: 12 % low)"
        )
    unbounded = any(f.startswith("resolution:") for f in chosen_flags)
    low, high = mi_interval(best.mi, _se(best))
    diagnostics = {
        "chosen": chosen,
        "reason": "; ".join([*notes, reason]),
        "flags": flags + chosen_flags,
        "candidates": {name: r.to_dict() for name, r in candidates.items()},
        "chosen_diagnostics": best.diagnostics,
        "interval": f"ci: the {chosen} estimator's 95% interval of its expectation; mi_ci adds "
        f"the calibrated model-error allowance {ALLOWANCE:g}·I + {ALLOWANCE_FLOOR:g}"
        + ("; its upper end is infinite: the data do not resolve the MI (flag 'resolution')"
           if unbounded else ""),
    }
    if copies:
        diagnostics["distinct_pairs"] = n
    return MIResult(
        mi=best.mi, ci=best.ci, method="auto", n=n, seconds=time.perf_counter() - start,
        diagnostics=diagnostics, mi_ci=(low, math.inf if unbounded else high),
    )


def _unresolved(
    flow: MIResult, flags: list[str], notes: list[str], n: int, start: float
) -> MIResult:
    """The default where x and y are tied tighter than the data resolve (flag ``resolution``):
    the flow's read-out as a floor, the MI interval open above, and an infinite MI where the
    relation is exact to float precision (y = x). The radial term and the KSG check are skipped:
    both read the latents' fine structure, which is the maps' error here."""
    diag = flow.diagnostics
    exact = diag["resolution"] < EXACT
    mi = math.inf if exact else flow.mi
    what = ("exact to float precision (y a function of x): the MI is infinite" if exact else
            "tighter than this n resolves: the estimate is a floor")  # fmt: skip
    diagnostics = {
        "chosen": "flow",
        "reason": "; ".join([*notes, f"x and y are related {what}"]),
        "flags": flags + [f for f in diag["flags"]
                          if not f.startswith(("radial:", "residual_dependence:"))],
        "candidates": {"flow": flow.to_dict()},
        "chosen_diagnostics": diag,
        "interval": "mi_ci runs from the flow's floor to infinity: the data do not resolve the MI",
    }
    return MIResult(mi=mi, ci=(flow.ci[0], math.inf), method="auto", n=n,
                    seconds=time.perf_counter() - start, diagnostics=diagnostics,
                    mi_ci=(mi_interval(flow.mi, _se(flow))[0], math.inf))  # fmt: skip


def _input_flags(x: np.ndarray, y: np.ndarray, pair_copies: int) -> list[str]:
    """Flags about tied values and rows repeated on one side only (``estimators.inputs``);
    ``pair_copies`` rows repeat a whole (x, y) pair."""
    flags: list[str] = []
    for name, arr in (("x", x), ("y", y)):
        tied, share = tied_columns(arr)
        if tied:
            flags.append(
                f"ties: {name} has exact ties in {len(tied)} of {arr.shape[1]} columns (up to "
                f"{share:.0%} of rows share one value: ReLU zeros?); they are spread at random, "
                "which keeps the MI, but the Gaussian model of such latents is no bound and has "
                "read high (ReLU codes in 256 dims: +12 %)"
            )
    for name, arr in (("x", x), ("y", y)):
        repeats = repeated_rows(arr) - pair_copies
        if repeats > 0:
            flags.append(
                f"repeated_rows: {repeats} rows of {name} repeat an earlier row exactly while "
                f"their partners differ (one input seen with several partners?); the estimators "
                f"take them for independent samples of a continuous {name}, so the estimate is "
                "likely high"
            )
    return flags


def _with_radial(flow: MIResult) -> MIResult | None:
    """The flow's read-out plus its radial term (``estimators.latents``), from the flow latents or
    the normal scores alone, whichever total is larger, when that term exceeds ``RADIAL_Z``
    standard errors; None otherwise."""
    diag = flow.diagnostics
    options = [(flow.mi, _se(flow), diag["radial"]),
               (diag["copula_mi"], diag["copula_se"], diag["copula_radial"])]  # fmt: skip
    found = [(base + term["mi"], math.hypot(se, term["se"]), term["mi"]) for base, se, term
             in options if term is not None and term["mi"] > RADIAL_Z * term["se"]]  # fmt: skip
    if not found:
        return None
    mi, se, term = max(found)
    return MIResult(mi=mi, ci=(mi - Z95 * se, mi + Z95 * se), method="flow+radial", n=flow.n,
                    seconds=flow.seconds, diagnostics={**diag, "radial": term})  # fmt: skip


__all__ = ["ALLOWANCE", "KSG_MAX_DIM", "auto_mi", "mi_interval"]
