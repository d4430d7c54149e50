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


def _block_terms(scores: torch.Tensor, clip: float | None, nce: bool) -> dict[str, torch.Tensor]:
    """Per-pair pieces of the bounds on one square block of held-out scores (float64): InfoNCE's
    (``nce``) or the joint and marginal terms of the others."""
    s = scores.detach().double()
    n = s.shape[0]
    if nce:
        log_p = torch.log_softmax(s, dim=1)
        # InfoNCE term of row i and the column sums of the row-softmax
        return {"nce": torch.diagonal(log_p) + math.log(n), "col_softmax": log_p.exp().sum(dim=0)}
    off = s.clamp(-clip, clip) if clip is not None else s
    off = off.masked_fill(torch.eye(n, dtype=torch.bool, device=s.device), -math.inf)
    return {
        "diag": torch.diagonal(s),
        # log of the row / column means of exp S_ij over j ≠ i (resp. i ≠ j)
        "log_row": torch.logsumexp(off, dim=1) - math.log(n - 1),
        "log_col": torch.logsumexp(off, dim=0) - math.log(n - 1),
    }


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
    if method not in NEURAL_METHODS:
        raise ValueError(f"unknown neural method {method!r}; expected one of {NEURAL_METHODS}")
    if method == "jsd":
        blocks = [b + 1.0 for b in blocks]
    parts = [_block_terms(b, clip if method == "smile" else None, method == "infonce")
             for b in blocks]  # fmt: skip
    t = {key: torch.cat([p[key] for p in parts]).cpu().numpy() for key in parts[0]}
    if method == "infonce":
        value = float(t["nce"].mean())
        psi = (t["nce"] - value) - (t["col_softmax"] - 1.0)
        return Readout(value, psi)
    joint = float(t["diag"].mean())
    log_m = float(np.logaddexp.reduce(t["log_row"]) - math.log(t["log_row"].size))
    spread = np.exp(t["log_row"] - log_m) + np.exp(t["log_col"] - log_m) - 2.0
    if method in ("nwj", "jsd"):
        if log_m - 1.0 > 709.0:  # e^{M−1} overflows: the bound is −inf, no interval
            return Readout(-math.inf, np.full_like(spread, np.nan))
        scale = math.exp(log_m - 1.0)
        return Readout(joint - scale, (t["diag"] - joint) - scale * spread)
    return Readout(joint - log_m, (t["diag"] - joint) - spread)


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



__all__ = ["NEURAL_METHODS", "NULL_SCORE", "Readout", "readout", "score_blocks"]
