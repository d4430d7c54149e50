"""Warnings a user sees: conditions under which an estimate is known to be unreliable.

Every estimator's result carries ``diagnostics["flags"]``, a list of plain-language sentences;
``estimate_mi`` also emits each as an :class:`MIWarning` (Python ``warnings``) and the command line
prints them. The conditions, with the evidence behind each threshold:

- ``discrete``: a column with fewer distinct values than ``DISCRETE_FRACTION`` = 10 % of n. The
  estimators assume a continuous joint density; with ties the differential MI is undefined (it is
  +∞ for a discrete variable shared by X and Y) and the estimators break the ties at random.
  One side that is a single integer column of that kind is read as a class label by the default
  (``estimators.auto`` runs the mixed discrete–continuous KSG, ``estimators.mixed``) and by
  ``discrete="x"/"y"``; it is not flagged then.
- ``infonce_ceiling``: an InfoNCE read-out within ``INFONCE_MARGIN`` = 2.5 nats of log N (N the
  read-out block). With the exact optimal critic InfoNCE reads 3.88 at I = 4, 5.49 at I = 6 and
  6.65 at I = 8 for N = 2500 (log N = 7.82; ``estimators.neural``): within 2.5 nats of the ceiling
  it is short by ≥ 0.5 nats, whatever the critic.
- ``smile_clip``: a SMILE read-out above clip − 1.5 nats: with the exact critic and clip 5 SMILE
  over-reads by 0.27 at I = 4 and 0.71 at I = 6.
- ``unstable``: a neural interval whose half-width exceeds both ``UNSTABLE_HALF_WIDTH`` = 1 nat
  and the estimate itself. On the hard task set it marks exactly the two JSD read-outs whose
  e^S blew up (0.22 [−3.50, 3.94] and −15.3 [−55.9, 25.2] for truths 4 and 8 nats) and none of
  the other 64 neural estimates; at independence (n = 2000) the half-widths are ≈ 0.05 nats.
- ``critic_stopped``: an interval that reaches 0 from critics whose best validation read-out came
  at their first evaluation in most folds: the critic learned nothing it could keep, so the
  "no dependence" reading may be a failed fit (a user's digits embeddings: SMILE 0.010
  [−0.03, 0.05] with best step 25, where KSG read 0.49). A critic that peaks early on an easy
  task with a clearly positive read-out is not flagged.
- ``ksg_dimension``: KSG on a joint dimension above ``KSG_DIM`` = 10, where its bias is large and
  downward (64 dims, I = 9.2, n = 5000: 0.57).
- ``flow_unconverged``: flows stopped by the step budget in every fold (the likelihood was still
  improving); more steps (``max_steps``) may raise the estimate.
- ``disagree``: the default's two candidates differ by more than 2 standard errors (it reports
  the larger, see ``estimators.auto``).

Raised by the default and the flow on representation-shaped inputs (``estimators.inputs``,
``estimators.latents``; measured on ``mitheory.representations``), each naming its direction:

- ``duplicates``: rows repeating an earlier (x, y) pair were dropped (copies bias upward).
- ``repeated_rows``: rows of one side repeat with different partners: likely high.
- ``ties``: a column whose most frequent value holds ≥ 5 % of the rows (ReLU zeros): the
  Gaussian MI of such latents is no bound and has read high (ReLU codes, 256 dims: +12 %).
- ``resolution``: a canonical pair of the latents tied at the normal-score maps' resolution
  (y = x Q): the MI may be far higher, up to infinite; the MI interval is open above.
- ``radial``: the radii of the two sides' latents are dependent; the default adds the term,
  which is the whole non-Gaussian part only for an elliptical pair: may read low (heavy tails
  through a rank-16 embedding: 12 % low).
- ``heavy_tails``: where the radial term is not computed (latents above 10 % of the held-out
  pairs in dimension), latents whose fourth moments exceed the Gaussian model's by more than
  3 SE and 1.96 SE of the estimate: the Wishart correction falls short (reads high) and a shared
  scale goes unread (reads low): either way (Student-t ν = 2, 128 + 128: 2.7 for 1.9).
- ``residual_dependence``: the latents' directions stay dependent (randomized dependence test,
  p < 0.01): the flows did not undo the maps (spirals, coupling stacks read 15–35 % of the MI):
  likely high.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

DISCRETE_FRACTION = 0.10
INFONCE_MARGIN = 2.5
SMILE_MARGIN = 1.5
KSG_DIM = 10
UNSTABLE_HALF_WIDTH = 1.0


class MIWarning(UserWarning):
    """An MI estimate was made under a condition where it is known to be unreliable."""


def looks_like_labels(arr: np.ndarray) -> bool:
    """One column of integer values with ≥ 2 and fewer than ``DISCRETE_FRACTION`` · n distinct
    values: a class label (``estimators.auto`` then runs the mixed KSG, ``estimators.mixed``)."""
    if arr.shape[1] != 1 or not np.all(arr == np.round(arr)):
        return False
    return 2 <= np.unique(arr).size < DISCRETE_FRACTION * arr.shape[0]


def label_side(x: np.ndarray, y: np.ndarray) -> str | None:
    """"x" or "y" when exactly that side looks like a class label (:func:`looks_like_labels`)."""
    sides = [name for name, arr in (("x", x), ("y", y)) if looks_like_labels(arr)]
    return sides[0] if len(sides) == 1 else None


def input_flags(x: np.ndarray, y: np.ndarray, discrete: str | None = None) -> list[str]:
    """Flags about the data themselves: discrete-looking columns, except on the side
    ``discrete`` that the estimate treated as labels."""
    flags = []
    n = x.shape[0]
    for name, arr in (("x", x), ("y", y)):
        if name == discrete:
            continue
        distinct = [np.unique(arr[:, j]).size for j in range(arr.shape[1])]
        few = [j for j, c in enumerate(distinct) if c < DISCRETE_FRACTION * n]
        if few:
            flags.append(
                f"discrete: {name} column(s) {few[:10]} hold fewer than "
                f"{DISCRETE_FRACTION:.0%} distinct values (min {min(distinct[j] for j in few)} "
                f"of n = {n}); the estimators assume continuous data and break ties at random "
                f"(for a label, discrete={name!r} runs the mixed discrete–continuous KSG)"
            )
    return flags


def neural_flags(method: str, mi: float, ci: tuple[float, float],
                 folds: list[Mapping[str, Any]], clip: float, block: int) -> list[str]:  # fmt: skip
    """Flags of a neural estimate ``mi`` with 95 % interval ``ci``: ceilings, unstable read-outs
    and critics that stopped at once."""
    low, high = ci
    flags = []
    half = (high - low) / 2.0
    if not math.isfinite(half) or half > max(UNSTABLE_HALF_WIDTH, abs(mi)):
        flags.append(
            f"unstable: the 95 % interval [{low:.2f}, {high:.2f}] is wider than the estimate "
            f"{mi:.2f} itself and than ±{UNSTABLE_HALF_WIDTH:g} nat: the folds' read-outs "
            "disagree (a critic's e^S blew up on the marginal pairs); use method='flow' or 'auto'"
        )
    if method == "infonce" and mi > math.log(block) - INFONCE_MARGIN:
        flags.append(
            f"infonce_ceiling: the estimate {mi:.2f} is within {INFONCE_MARGIN} nats of InfoNCE's "
            f"ceiling log N = {math.log(block):.2f} (N = {block} held-out pairs per block); "
            "InfoNCE is short by ≥ 0.5 nats there even with the optimal critic; use "
            "method='flow' or 'auto'"
        )
    if method == "smile" and mi > clip - SMILE_MARGIN:
        flags.append(
            f"smile_clip: the estimate {mi:.2f} is within {SMILE_MARGIN} nats of SMILE's clip "
            f"{clip:g}, where its read-out is biased upwards (+0.7 nats at I = 6 with clip 5)"
        )
    first = [f for f in folds if f.get("best_step", 0) <= f.get("first_eval", 0)]
    if low <= 0.0 and len(first) * 2 > len(folds):
        flags.append(
            f"critic_stopped: in {len(first)} of {len(folds)} folds the critic's best "
            "validation read-out came at its first evaluation and the interval reaches 0; it "
            "learned nothing it kept, so this may be a failed fit rather than independence "
            "(compare method='ksg' or 'auto')"
        )
    return flags


def ksg_flags(dim: int) -> list[str]:
    """Flags of a KSG estimate (joint dimension ``dim``)."""
    if dim <= KSG_DIM:
        return []
    return [
        f"ksg_dimension: KSG in {dim} joint dimensions (> {KSG_DIM}) is biased downward, often "
        "by most of the MI; use method='flow' or 'auto'"
    ]


def emit(flags: list[str], stacklevel: int = 3) -> None:
    """Emit every flag as an :class:`MIWarning`."""
    for flag in flags:
        warnings.warn(flag, MIWarning, stacklevel=stacklevel)


__all__ = ["MIWarning", "emit", "input_flags", "ksg_flags", "label_side", "looks_like_labels",
           "neural_flags"]
