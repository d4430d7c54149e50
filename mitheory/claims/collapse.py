"""Time to collapse: P3 (CLAIMS.md) decided on horizons and a collapse scale set by the data.

Every arm of M-step × predictor × marginal (and the control arm) trains for up to
:data:`HORIZON` steps on :data:`SEEDS` seeds, evaluated every :data:`EVERY` steps. The scale is
the setting's own: the canonical arm (gradient M-step, predictor and marginal term on) trained to
the full horizon, whose cos-DV MI (the critic every SDMI arm trains) at each evaluation, median
over its seeds, is the reference I_ref(t). A run has **collapsed** at the evaluation t where its
cos-DV MI falls below :data:`SHARE` × I_ref(t) and stays below for the rest of the run, at least
:data:`STREAK` evaluations (t ≥ :data:`EVERY`: at step 0 every network is at its random
initialization). Its time to collapse is that t; a run that does not collapse is censored at the
step it reached.

A run ends at the first of: :data:`HORIZON` steps; its target having travelled its own initial
norm, ‖ξ_t − ξ_0‖ ≥ :data:`TRAVEL` · ‖ξ_0‖ (for the copy M-step ξ is the online network: a
horizon long enough for a slow collapse to show, set by how far the network moved rather than by
a step count); or a collapse confirmed by :data:`STREAK` evaluations below the line. The EMA
target's momentum follows its cosine schedule over the whole horizon.

Per arm the times are summarized by their median and an order-statistic interval: with n seeds
and the k-th smallest and k-th largest times t_(k) ≤ median ≤ t_(n+1−k), the coverage is
1 − 2·P(Binomial(n, ½) ≤ k − 1) (:func:`median_interval`; n = 5, k = 1: 0.9375); censored times
count as larger than every observed one. All MI values in nats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

#: the longest run (steps), the evaluation interval and the seeds per arm
HORIZON, EVERY, SEEDS = 3000, 100, 5
#: a run has collapsed below this share of the canonical arm's cos-DV MI ...
SHARE = 0.1
#: ... for at least this many evaluations in a row, to the end of the run
STREAK = 3
#: a run ends once its target has travelled this multiple of its initial norm
TRAVEL = 1.0
#: a looser line, reported beside the verdict (how much the times depend on SHARE)
LOOSE_SHARE = 0.2


@dataclass(frozen=True)
class EndRule:
    """When a run ends before :data:`HORIZON` (picklable: it travels to worker processes).

    ``reference``: (step, I_ref) of the canonical arm, empty for the canonical arm itself (which
    trains to the horizon: it is the scale)."""

    reference: tuple[tuple[int, float], ...] = ()
    share: float = SHARE
    streak: int = STREAK
    travel: float = TRAVEL

    def ends(self, trace: list[tuple[int, float, float]]) -> bool:
        """True once the run's trace of (step, cos-DV MI, target travel) says it may end."""
        if not self.reference:
            return False
        if trace[-1][2] >= self.travel:
            return True
        below = below_streak(trace, dict(self.reference), self.share)
        return below is not None and len(trace) - below >= self.streak


def reference_curve(traces: list[list[tuple[int, float, float]]]) -> tuple[tuple[int, float], ...]:
    """I_ref(t): the median over the canonical arm's seeds of their cos-DV MI at each step that
    every seed reached."""
    steps = sorted(set.intersection(*(set(s for s, _, _ in t) for t in traces)))
    by_run = [dict((s, v) for s, v, _ in t) for t in traces]
    return tuple((s, float(np.median([r[s] for r in by_run]))) for s in steps)


def below_streak(trace: list[tuple[int, float, float]], reference: dict[int, float],
                 share: float) -> int | None:  # fmt: skip
    """Index into ``trace`` where the final run of evaluations below ``share`` × I_ref starts
    (steps ≥ :data:`EVERY` only), or None when the last evaluation is above the line."""
    start = None
    for i, (step, value, _) in enumerate(trace):
        ref = reference.get(step, reference[max(reference)] if step > max(reference) else None)
        low = step >= EVERY and ref is not None and value < share * ref
        start = (i if start is None else start) if low else None
    return start


def collapse_time(trace: list[tuple[int, float, float]], reference: dict[int, float],
                  share: float = SHARE, streak: int = STREAK) -> int | None:  # fmt: skip
    """The step at which the run collapsed (see the module docstring), None if it did not."""
    start = below_streak(trace, reference, share)
    if start is None or len(trace) - start < streak:
        return None
    return trace[start][0]


def median_interval(times: list[int | None], reached: list[int]) -> dict[str, Any]:
    """Median time to collapse over seeds with its order-statistic interval (censored times:
    None, ranked above every observed one); the interval's exact coverage, k as in the module
    docstring chosen as the largest with coverage ≥ 0.9 (k = 1 when none reaches it)."""
    n = len(times)
    key = [(math.inf if t is None else t) for t in times]
    order = sorted(key)
    k = 1
    while k + 1 <= (n + 1) // 2 and 1 - 2 * stats.binom.cdf(k, n, 0.5) >= 0.9:
        k += 1
    coverage = 1 - 2 * float(stats.binom.cdf(k - 1, n, 0.5))
    median = float(np.median(order)) if n else math.nan

    def show(v: float) -> float | None:
        return None if math.isinf(v) else float(v)

    censored = [r for t, r in zip(times, reached, strict=True) if t is None]
    return {"median": show(median), "interval": [show(order[k - 1]), show(order[n - k])],
            "coverage": coverage, "collapsed": sum(t is not None for t in times), "seeds": n,
            "censored_at": censored}  # fmt: skip
