"""T6: Taylor-DV reduces to the Barlow Twins loss under C^aa = C^bb = C^ab (symbolically, and to
float64 precision on batches); the residual is measured, with intervals, when this is relaxed."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sympy as sp
import torch

from mitheory import surrogates, symbolic
from mitheory.claims.surrogate_error import (
    barlow_alignment_check,
    barlow_relaxation_rows,
    random_correlation,
    study_config,
)


@pytest.mark.parametrize("dim", [2, 3])
def test_T6_symbolic_reduction(dim: int) -> None:
    der = symbolic.taylor_dv_barlow_reduction(dim)
    assert der.residual == 0
    r = der.result
    # at s = 1 with a numeric symmetric C: L_TDV = d/2 − ½[Σ(1 − C_kk)² + Σ_{k≠l} C_kl²]
    c = random_correlation(dim, 5) * 0.9
    subs = {r["C"][i, j]: c[i, j] for i in range(dim) for j in range(i, dim)} | {r["s"]: 1}
    bt = sum((1 - c[k, k]) ** 2 for k in range(dim)) + sum(
        c[k, l] ** 2 for k in range(dim) for l in range(dim) if k != l)
    assert float(r["taylor_dv_assumed"].subs(subs)) == pytest.approx(dim / 2 - bt / 2, abs=1e-12)
    assert sp.simplify(r["taylor_dv_assumed"] - r["barlow_form_assumed"]) == 0


def test_T6_numeric_reduction_on_aligned_batches() -> None:
    assert barlow_alignment_check(study_config(quick=True, seed=0)) < 1e-9


def test_T6_residual_under_view_noise_matches_the_population_value() -> None:
    # z_b = z_a + σε: population residual −½ d σ²/(1+σ²) (diagonal only). Batch estimates have
    # O(1/N) bias; at N = 16384 it is far below the 4-SE tolerance over R = 20 batches.
    d, n, reps = 6, 16384, 20
    chol = torch.from_numpy(np.linalg.cholesky(random_correlation(d, 9)))
    gen = torch.Generator().manual_seed(0)
    for sigma in (0.3, 1.0):
        res = []
        for _ in range(reps):
            z_a = torch.randn(n, d, generator=gen, dtype=torch.float64) @ chol.T
            z_b = z_a + sigma * torch.randn(n, d, generator=gen, dtype=torch.float64)
            bt = d / 2 - 0.5 * surrogates.barlow_twins_loss(z_a, z_b, 1.0, 1.0)
            res.append(float(surrogates.taylor_dv_surrogate(z_a, z_b, 1.0) - bt))
        res = np.array(res)
        theory = -0.5 * d * sigma**2 / (1 + sigma**2)
        assert abs(res.mean() - theory) < 4 * res.std(ddof=1) / math.sqrt(reps), (sigma, res.mean())


def test_T6_relaxed_residuals_are_measured_with_intervals() -> None:
    cfg = study_config(quick=True, seed=0)
    rows = barlow_relaxation_rows(cfg)
    noise = [r for r in rows if r["kind"] == "noise"]
    asym = [r for r in rows if r["kind"] == "asymmetry"]
    # aligned start: residual 0; noise drives the diagonal part negative, CI excluding 0
    assert abs(noise[0]["residual"]) < 1e-12
    assert noise[-1]["diagonal_ci"][1] < 0
    # asymmetry (C^aa ≠ C^bb) creates an off-diagonal part, CI excluding 0, growing with η
    assert asym[-1]["offdiagonal_ci"][0] > 0
    assert all(b["offdiagonal"] > a["offdiagonal"] for a, b in itertools.pairwise(asym))
    # residual == diagonal + off-diagonal parts, row by row
    for r in rows:
        assert r["residual"] == pytest.approx(r["diagonal"] + r["offdiagonal"], abs=1e-12)


def test_T6_verdict(claim_check) -> None:
    """The verdict of the report's one implementation of T6 (mitheory.claims), asserted."""
    claim_check("T6")
