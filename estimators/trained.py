"""Trained critics kept from a neural estimate: read MI out on new pairs, score pairs, save, load.

``estimate_mi(x, y, method="infonce", return_critic=True).critic`` is a :class:`TrainedCritic`:
the K cross-fitted critics of the estimate (one per fold, ``estimators.neural``), each with the
per-coordinate input maps fitted on its training part (``estimators.marginals``). A fold whose
critic never beat the constant null critic on its validation pairs keeps the null critic
(S ≡ 0; S ≡ 1 for NWJ) in its read-out and scores, as the estimate did; its trained critic is
kept for the read-out's standard error, as in the estimate.

- :meth:`TrainedCritic.estimate` reads the method's bound out on new pairs with every fold critic
  and averages the K read-outs, Î = (1/K) Σ_k R_k. With the critics fixed, Î is a smooth function
  of means over the new pairs, so its influence values are the means of the folds' influence
  values, ψ_i = (1/K) Σ_k ψ_ik, and the 95 % interval is Î ± 1.96·sd(ψ)/√n. It covers the
  sampling variability of the new pairs only: not the critics' training, nor the bound's gap to
  the MI (the read-outs are lower bounds in expectation, InfoNCE is capped at log of the block
  size, SMILE is biased by its clip). On the pairs a fold held out, that fold's critic alone
  reproduces the fold's read-out of the estimate exactly.
- :meth:`TrainedCritic.scores` returns the mean of the fold critics' score matrices,
  S_ij = (1/K) Σ_k T_k(x_i, y_j). Each objective's optimal critic is the pointwise MI
  log p(x, y)/(p(x) p(y)) up to what the objective cannot see: an additive constant for DV and
  MINE, nothing for NWJ (1 + log ratio), JSD and SMILE (log ratio), and a function of x for
  InfoNCE (each row is normalised over the y's). On a 2 + 2 Gaussian (n = 2000, ρ = 0.7) the
  diagonal's correlation with the true log ratio on new pairs was 0.99 (DV, NWJ), 0.97 (SMILE),
  0.83 (InfoNCE).
- :meth:`TrainedCritic.save` writes one file atomically (``torch.save`` of tensors, numbers and
  strings only; the normal-scores maps hold each training column's sorted values), and
  :func:`load_critic` reads it back with ``torch.load(weights_only=True)``.

All values are in nats.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from estimators.atomic import atomic_write
from estimators.critics import make_critic
from estimators.flags import emit, neural_flags
from estimators.marginals import NormalScores, Standardize, map_from_state
from estimators.readout import NULL_SCORE, Readout, readout, score_blocks
from estimators.result import Z95, MIResult
from estimators.validation import check_pair, resolve_device

FORMAT = "mitheory-critic"
VERSION = 1


@dataclass
class FoldCritic:
    """One fold's critic and the input maps it was trained behind.

    ``null``: no checkpoint beat the null critic, whose read-out (0) and constant scores stand
    in for it. ``best_step`` and ``first_eval``: the training step of the kept checkpoint and of
    the first validation read-out (a critic whose best came first learned little)."""

    critic: nn.Module
    x_map: NormalScores | Standardize
    y_map: NormalScores | Standardize
    null: bool
    best_step: int
    first_eval: int


@dataclass
class TrainedCritic:
    """The critics of one neural estimate (module docstring).

    Attributes:
        method: the neural method that trained them (``estimators.readout.NEURAL_METHODS``).
        spec: the ``estimators.critics.make_critic`` keyword arguments (kind, dim_x, dim_y,
            widths, ...) but the seed.
        folds: one :class:`FoldCritic` per cross-fitting fold.
        clip: SMILE's clip τ of the read-out.
        eval_batch: largest block of new pairs scored at once.
    """

    method: str
    spec: dict[str, Any]
    folds: list[FoldCritic]
    clip: float
    eval_batch: int

    @property
    def dims(self) -> tuple[int, int]:
        """(dx, dy) of the pairs the critics take."""
        return int(self.spec["dim_x"]), int(self.spec["dim_y"])

    @property
    def device(self) -> torch.device:
        """Where the critics' weights are."""
        return next(self.folds[0].critic.parameters()).device

    def to(self, device: str | torch.device) -> TrainedCritic:
        """Move every fold critic to ``device`` (in place); returns ``self``."""
        dev = resolve_device(device)
        for fold in self.folds:
            fold.critic.to(dev)
        return self

    def _inputs(self, x: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
        xa, ya = check_pair(x, y)
        if (xa.shape[1], ya.shape[1]) != self.dims:
            raise ValueError(
                f"this critic takes x with {self.dims[0]} and y with {self.dims[1]} columns, got "
                f"{xa.shape[1]} and {ya.shape[1]}"
            )
        dev = self.device
        return (torch.as_tensor(xa, dtype=torch.float64, device=dev),
                torch.as_tensor(ya, dtype=torch.float64, device=dev))  # fmt: skip

    def scores(self, x: Any, y: Any) -> torch.Tensor:
        """The mean fold score matrix S_ij = (1/K) Σ_k T_k(x_i, y_j), float64 on the critics'
        device, shape [n, n] for n pairs (module docstring: what the diagonal estimates)."""
        xt, yt = self._inputs(x, y)
        total = torch.zeros(xt.shape[0], yt.shape[0], dtype=torch.float64, device=xt.device)
        with torch.no_grad():
            for fold in self.folds:
                if fold.null:
                    total += NULL_SCORE.get(self.method, 0.0)
                else:
                    total += fold.critic(fold.x_map(xt).float(), fold.y_map(yt).float()).double()
        return total / len(self.folds)

    def estimate(self, x: Any, y: Any, *, base: float = math.e) -> MIResult:
        """Read I(X; Y) out on new pairs with every fold critic; the mean of the read-outs, with
        the interval of the module docstring (sampling of these pairs, critics fixed)."""
        start = time.perf_counter()
        xt, yt = self._inputs(x, y)
        n = xt.shape[0]
        values, influence = [], np.zeros(n)
        per_fold = []
        for fold in self.folds:
            blocks = score_blocks(fold.critic, fold.x_map(xt).float(), fold.y_map(yt).float(),
                                  self.eval_batch)  # fmt: skip
            result = readout(self.method, blocks, self.clip)
            if fold.null:  # the null critic's read-out, with the trained critic's influence
                result = Readout(0.0, result.influence)
            values.append(result.value)
            influence += result.influence / len(self.folds)
            per_fold.append({"estimate": result.value, "se": result.se, "null": fold.null})
        mi = float(np.mean(values))
        half = Z95 * Readout(mi, influence).se  # inf for a single pair
        ci = (mi - half, mi + half) if math.isfinite(mi) else (mi, mi)
        block = min(n, self.eval_batch)
        meta = [{"best_step": f.best_step, "first_eval": f.first_eval} for f in self.folds]
        flags = neural_flags(self.method, mi, ci, meta, self.clip, block)
        emit(flags)
        out = MIResult(
            mi=mi, ci=ci, method=self.method, n=n, seconds=time.perf_counter() - start,
            diagnostics={
                "folds": per_fold, "flags": flags,
                "interval": "95% normal: delta-method read-out variance on these pairs, "
                            "critics fixed",
            },
        )  # fmt: skip
        return out if base == math.e else out.in_base(base)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the critics, their input maps and settings to ``path`` (atomically)."""
        doc = {
            "format": FORMAT, "version": VERSION, "method": self.method, "spec": dict(self.spec),
            "clip": float(self.clip), "eval_batch": int(self.eval_batch),
            "folds": [
                {
                    "state": {k: v.detach().cpu() for k, v in f.critic.state_dict().items()},
                    "x_map": f.x_map.state(), "y_map": f.y_map.state(), "null": bool(f.null),
                    "best_step": int(f.best_step), "first_eval": int(f.first_eval),
                }
                for f in self.folds
            ],
        }  # fmt: skip
        return atomic_write(path, lambda tmp: torch.save(doc, tmp))


def load_critic(path: str | os.PathLike, device: str | torch.device = "cpu") -> TrainedCritic:
    """Read a critic written by :meth:`TrainedCritic.save` onto ``device``."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"no such critic file: {path}")
    try:
        doc = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling errors come in many types
        raise ValueError(f"{path} is not a saved critic (TrainedCritic.save): {err}") from err
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path} is not a saved critic (TrainedCritic.save)")
    if doc.get("version") != VERSION:
        raise ValueError(f"{path}: critic file version {doc.get('version')!r}, expected {VERSION}")
    spec = doc["spec"]
    folds = []
    for f in doc["folds"]:
        critic = make_critic(**spec)
        critic.load_state_dict(f["state"])
        critic.eval()
        folds.append(FoldCritic(critic, map_from_state(f["x_map"]), map_from_state(f["y_map"]),
                                f["null"], f["best_step"], f["first_eval"]))  # fmt: skip
    return TrainedCritic(doc["method"], spec, folds, doc["clip"], doc["eval_batch"]).to(device)


__all__ = ["FoldCritic", "TrainedCritic", "load_critic"]
