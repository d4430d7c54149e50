"""Read-out bounds of a trained critic on held-out pairs, with one influence value per pair.

The read-out of each neural method (``estimators.neural``) on held-out score blocks and its
delta-method standard error; shared by the cross-fitted estimate and by a saved critic read out on
new pairs (``estimators.trained``). All values are in nats.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

NEURAL_METHODS = ("dv", "nwj", "infonce", "jsd", "smile", "mine")


@dataclass(frozen=True)
class Readout:
    """A read-out bound on held-out pairs: value (nats) and one influence value per pair."""

    value: float
    influence: np.ndarray

    @property
    def se(self) -> float:
        """Delta-method standard error, sqrt(Var(ψ)/n)."""
        n = self.influence.size
        return float(np.std(self.influence, ddof=1) / math.sqrt(n)) if n > 1 else math.inf


def _block_terms(
    scores: torch.Tensor, clip: float | None, nce: bool, influence: bool = True
) -> dict[str, torch.Tensor]:
    """Per-pair pieces of the bounds on one square block of held-out scores (float64): InfoNCE's
    (``nce``) or the joint and marginal terms of the others; the column pieces, which only the
    influence values need, with ``influence``."""
    s = scores.detach().double()
    n = s.shape[0]
    if nce:
        log_p = torch.log_softmax(s, dim=1)
        terms = {"nce": torch.diagonal(log_p) + math.log(n)}
        if influence:  # column sums of the row-softmax
            terms["col_softmax"] = log_p.exp().sum(dim=0)
        return terms
    off = s.clamp(-clip, clip) if clip is not None else s
    off = off.masked_fill(torch.eye(n, dtype=torch.bool, device=s.device), -math.inf)
    # log of the row / column means of exp S_ij over j ≠ i (resp. i ≠ j)
    terms = {"diag": torch.diagonal(s), "log_row": torch.logsumexp(off, dim=1) - math.log(n - 1)}
    if influence:
        terms["log_col"] = torch.logsumexp(off, dim=0) - math.log(n - 1)
    return terms


def _terms(
    method: str, blocks: list[torch.Tensor], clip: float, influence: bool
) -> dict[str, np.ndarray]:
    """The per-pair pieces of ``method``'s read-out over all blocks, concatenated, in numpy."""
    if method not in NEURAL_METHODS:
        raise ValueError(f"unknown neural method {method!r}; expected one of {NEURAL_METHODS}")
    if method == "jsd":
        blocks = [b + 1.0 for b in blocks]
    parts = [_block_terms(b, clip if method == "smile" else None, method == "infonce", influence)
             for b in blocks]  # fmt: skip
    return {key: torch.cat([p[key] for p in parts]).cpu().numpy() for key in parts[0]}


def _joint_and_log_m(t: dict[str, np.ndarray]) -> tuple[float, float]:
    """The joint term (mean diagonal score) and log m, m the mean off-diagonal e^S."""
    joint = float(t["diag"].mean())
    return joint, float(np.logaddexp.reduce(t["log_row"]) - math.log(t["log_row"].size))


def _value(method: str, t: dict[str, np.ndarray]) -> float:
    """The read-out of ``method`` from its per-pair pieces; −inf where NWJ's e^{log m − 1}
    overflows."""
    if method == "infonce":
        return float(t["nce"].mean())
    joint, log_m = _joint_and_log_m(t)
    if method in ("nwj", "jsd"):
        return -math.inf if log_m - 1.0 > 709.0 else joint - math.exp(log_m - 1.0)
    return joint - log_m


def readout_value(method: str, blocks: list[torch.Tensor], clip: float = 5.0) -> float:
    """``readout(method, blocks, clip).value`` without the influence values (no column terms:
    half the work), for choosing checkpoints."""
    return _value(method, _terms(method, blocks, clip, influence=False))


def readout(method: str, blocks: list[torch.Tensor], clip: float = 5.0) -> Readout:
    """The read-out bound of ``method`` over held-out score blocks, with influence values.

    For one block this equals the ``bounds`` function (``dv``, ``nwj``, ``infonce``, ``smile``;
    ``nwj`` of S + 1 for ``jsd``; ``dv`` for ``mine``). With several blocks (of sizes differing by
    at most one) the joint term averages all diagonals and the marginal term the within-block
    off-diagonal row means, i.e. all within-block pairs, equally weighted for equal blocks.

    Influence values (first-order Hoeffding/delta expansions), with d_k = S_kk, r_k and c_k the
    off-diagonal row and column means of e^S and m their mean:
      DV / SMILE:  ψ_k = (d_k − J) − (r_k + c_k − 2m)/m
      NWJ:         ψ_k = (d_k − J) − (r_k + c_k − 2m)/e
      InfoNCE:     ψ_k = (ℓ_k − Î) − (Σ_i P_ik − 1), ℓ_k the row term, P the row-softmax of S.
    The U-statistic Σ_{i≠j} h(x_i, y_j) projects onto (r_k − m) + (c_k − m) for pair k; InfoNCE's
    log-normaliser of row i, linearised, contributes through y_k the column mass Σ_i P_ik − 1.
    """
    t = _terms(method, blocks, clip, influence=True)
    value = _value(method, t)
    if method == "infonce":
        return Readout(value, (t["nce"] - value) - (t["col_softmax"] - 1.0))
    joint, log_m = _joint_and_log_m(t)
    spread = np.exp(t["log_row"] - log_m) + np.exp(t["log_col"] - log_m) - 2.0
    if method in ("nwj", "jsd"):
        if not math.isfinite(value):  # e^{M−1} overflows: the bound is −inf, no interval
            return Readout(value, np.full_like(spread, np.nan))
        return Readout(value, (t["diag"] - joint) - math.exp(log_m - 1.0) * spread)
    return Readout(value, (t["diag"] - joint) - spread)


def score_blocks(
    critic: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eval_batch: int
) -> list[torch.Tensor]:
    """Score matrices of consecutive blocks of ≈ equal size ≤ eval_batch (each ≥ 2 pairs)."""
    n = x.shape[0]
    count = max(1, min(math.ceil(n / eval_batch), n // 2))
    edges = np.linspace(0, n, count + 1).round().astype(int)
    with torch.no_grad():
        return [critic(x[a:b], y[a:b]) for a, b in itertools.pairwise(edges)]


#: the constant score of the null critic, whose read-out is exactly 0 (0 for every method but NWJ,
#: whose bound at S ≡ c is c − e^{c−1}, 0 at c = 1)
NULL_SCORE = {"nwj": 1.0}



__all__ = [
    "NEURAL_METHODS", "NULL_SCORE", "Readout", "readout", "readout_value", "score_blocks",
]  # fmt: skip
