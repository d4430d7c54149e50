"""Per-coordinate input maps fitted on a training part and applied to any other part.

MI is invariant under a strictly increasing map of each coordinate, so the neural and flow
estimators feed their critics and flows mapped inputs (the ``marginals`` option of
``estimators.neural.NeuralConfig``):

- :class:`NormalScores` (``"normal-scores"``): Φ⁻¹ of the training part's interpolated empirical
  CDF, per column. Heavy tails no longer reach the critic.
- :class:`Standardize` (``"standardize"``): mean 0, standard deviation 1 by the training part.

A fitted map is a small state of tensors (:meth:`state`, :func:`map_from_state`), so a trained
critic can be saved with the maps it was trained behind (``estimators.trained``).
"""

from __future__ import annotations

import math

import torch


class NormalScores:
    """Φ⁻¹ of the (interpolated) empirical CDF of each training column.

    With the m training values of a column sorted, s_0 ≤ … ≤ s_{m−1}, a value v at fractional
    position p (p = k at v = s_k, linear in between, clamped to [0, m − 1] outside) maps to
    Φ⁻¹((p + 1)/(m + 1)): the training values get the usual normal scores, and the map is
    increasing and continuous, strictly increasing on [s_0, s_{m−1}]. I(X; Y) is unchanged up to
    the values beyond the training range (≈ 2/(m + 1) of held-out values), which are clamped to
    ±Φ⁻¹(m/(m + 1)) (±3.5 at m = 4000) — no outlier can give a critic an input unlike any it saw.

    Ties. By default every value equal to a run of tied training values s_i = … = s_j maps to
    the run's last position. Called with a generator (``ties=``), it maps to a uniform random
    position in [i, j] instead: exact repeats (ReLU zeros, dead-ish units) are spread over their
    run rather than stacked on one point, which the Gaussian model of the latents cannot hold.
    The MI is unchanged: the spread value is a function of the value and independent noise, and
    the value is a function of the spread value (the runs do not overlap).
    """

    kind = "normal-scores"

    def __init__(self, train: torch.Tensor) -> None:
        if train.shape[0] < 2:
            raise ValueError(f"normal scores need at least 2 training values, got {train.shape[0]}")
        self.sorted = train.T.contiguous().sort(dim=1).values  # [d, m]

    def __call__(self, t: torch.Tensor, ties: torch.Generator | None = None) -> torch.Tensor:
        s, m = self.sorted.to(t.device, t.dtype), self.sorted.shape[1]
        v = t.T.contiguous()  # [d, n]
        j = torch.searchsorted(s, v, right=True).clamp_(1, m - 1)
        lo, hi = s.gather(1, j - 1), s.gather(1, j)
        gap = hi - lo
        frac = torch.where(gap > 0, (v - lo) / torch.where(gap > 0, gap, 1.0), 0.0)
        pos = j - 1 + frac.clamp(0.0, 1.0)
        tied = None if ties is None else torch.nonzero((s[:, 1:] == s[:, :-1]).any(1))[:, 0]
        if tied is not None and tied.numel():
            st, vt = s[tied], v[tied]
            first = torch.searchsorted(st, vt, right=False)
            run = (torch.searchsorted(st, vt, right=True) - 1 - first).clamp(min=0)
            noise = torch.rand(vt.shape, generator=ties, dtype=v.dtype).to(v.device)
            pos[tied] = torch.where(run > 0, first + noise * run, pos[tied])
        u = (pos + 1.0) / (m + 1)
        return (math.sqrt(2.0) * torch.erfinv(2.0 * u - 1.0)).T.contiguous()

    def state(self) -> dict[str, object]:
        return {"kind": self.kind, "sorted": self.sorted.cpu()}


class Standardize:
    """(v − mean) / std with the training part's column means and standard deviations (0 → 1)."""

    kind = "standardize"

    def __init__(self, train: torch.Tensor) -> None:
        self.mean = train.mean(dim=0, keepdim=True)
        std = train.std(dim=0, keepdim=True)
        self.std = torch.where(std > 0, std, torch.ones_like(std))

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        return (t - self.mean.to(t.device, t.dtype)) / self.std.to(t.device, t.dtype)

    def state(self) -> dict[str, object]:
        return {"kind": self.kind, "mean": self.mean.cpu(), "std": self.std.cpu()}


MARGINAL_MAPS = {"normal-scores": NormalScores, "standardize": Standardize}


def map_from_state(state: dict[str, object]) -> NormalScores | Standardize:
    """The fitted map a :meth:`state` describes."""
    kind = state.get("kind")
    if kind == "normal-scores":
        fitted = NormalScores.__new__(NormalScores)
        fitted.sorted = state["sorted"]
        return fitted
    if kind == "standardize":
        fitted = Standardize.__new__(Standardize)
        fitted.mean, fitted.std = state["mean"], state["std"]
        return fitted
    raise ValueError(f"unknown marginal map {kind!r}; expected one of {', '.join(MARGINAL_MAPS)}")


def normal_scores(
    train: torch.Tensor, *others: torch.Tensor, ties: torch.Generator | None = None
) -> list[torch.Tensor]:
    """``train`` and ``others`` through the :class:`NormalScores` map fitted on ``train`` (ties
    spread at random with the generator ``ties``, if given)."""
    fitted = NormalScores(train)
    return [fitted(t, ties) for t in (train, *others)]


__all__ = ["MARGINAL_MAPS", "NormalScores", "Standardize", "map_from_state", "normal_scores"]
