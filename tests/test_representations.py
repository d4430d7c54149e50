"""The default estimator on representation-shaped inputs (issue 26): low rank, ReLU zeros, dead
units, repeated rows, tail dependence at any dimension, maps the flows cannot undo, deterministic
relations. Each case failed silently on the code before issue 26 (every test here but the
tasks' truths, the sphere, the strong-relation control and the pieces fails there); truths are
closed forms (``mitheory.representations``)."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch

from estimators import estimate_mi
from estimators.cpu import choose_threads, idle_cores
from estimators.inputs import distinct_pairs, repeated_rows, tied_columns
from estimators.latents import canonical_readout, principal_basis
from estimators.marginals import normal_scores
from mitheory.distributions import GaussianStaircase, SparseGaussian, StudentT
from mitheory.representations import (
    Coupling,
    Duplicated,
    LowRank,
    NoisyLowRank,
    Relu,
    Sphere,
    Spiral,
    _spiral,
)
from mitheory.transforms import linear_mixing


def _auto(x, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimate_mi(x, y, **kw)


def _flags(result) -> set[str]:
    return {f.split(":")[0] for f in result.diagnostics["flags"]}


def _log2(est: float, truth: float) -> float:
    return abs(math.log2(est / truth))


# --------------------------------------------------------------------------- the tasks' truths


def test_noisy_low_rank_truth_is_the_latent_space_closed_form():
    """I(X; Y) of A u + σ e from the log-det of the d × d covariance equals the same MI computed in
    the rank-r latent space: X is sufficient for u through Aᵀ X, so I = I(T_x; T_y) with
    T = Aᵀ A u + σ Aᵀ e, an r + r Gaussian."""
    task = NoisyLowRank(40, 4, 3.0, 0.3)
    a_x, a_y = task._maps()
    rho = task._latent.rho
    gx, gy = a_x.T @ a_x, a_y.T @ a_y
    cov = np.block([[gx @ gx + 0.09 * gx, rho * gx @ gy], [rho * gy @ gx, gy @ gy + 0.09 * gy]])
    ld = [np.linalg.slogdet(c)[1] for c in (cov[:4, :4], cov[4:, 4:], cov)]
    assert task.mi == pytest.approx(0.5 * (ld[0] + ld[1] - ld[2]), rel=1e-9)
    assert task.mi < 3.0  # the noise hides some of the latent MI


def test_embeddings_are_injective_where_the_truth_needs_it():
    relu = Relu(GaussianStaircase(3.0, 8), 64)
    x, _ = relu.sample(500, 0)
    assert 0.4 < np.mean(x == 0) < 0.9  # exact zeros in 50-80 % of rows per unit
    assert relu.injective_fraction(500, 0) >= 0.99
    dead = Relu(GaussianStaircase(3.0, 8), 64, dead=4).sample(200, 0)[0]
    assert np.all(dead[:, -4:] == 0)
    sphere = Sphere(GaussianStaircase(2.0, 4), 16)
    xs, _ = sphere.sample(300, 1)
    assert np.allclose(np.linalg.norm(xs, axis=1), 1.0)
    u, _ = GaussianStaircase(2.0, 4).sample(300, 1)  # the inverse (gnomonic) map gives u back
    g = xs[:, :-1] / xs[:, -1:]
    assert np.linalg.matrix_rank(np.hstack([g, u]), tol=1e-8) == 4
    v = np.random.default_rng(0).standard_normal((100, 6))
    twisted = _spiral(v, 1.0)
    assert np.allclose(np.linalg.norm(twisted, axis=1), np.linalg.norm(v, axis=1))
    assert np.allclose(_spiral(twisted, -1.0), v)  # the radius gives the angle back
    dup_x, dup_y = Duplicated(SparseGaussian(2, 2, 1, 0.5)).sample(300, 0)
    assert distinct_pairs(dup_x, dup_y)[2] == 300 - math.ceil(300 / 1.5)


# --------------------------------------------------------------------------- input shapes


def test_low_rank_embeddings_are_not_read_high():
    """Rank-8 Gaussian embeddings in 96 + 96 dims, 1 % noise, n = 3000 (I = 4.000): the old
    default read 5.44 with an interval excluding the truth and no flag; the per-coordinate maps'
    own error filled the noise directions. The rank-aware latents read the truth."""
    task = NoisyLowRank(96, 8, 4.0, 0.01)
    r = _auto(*task.sample(3000, 0))
    assert r.mi_ci[0] <= task.mi <= r.mi_ci[1]
    assert _log2(r.mi, task.mi) <= 0.05
    assert max(r.diagnostics["chosen_diagnostics"]["rank"]["x"]) < 96


def test_exactly_low_rank_and_heavy_tailed_embeddings():
    """Noise-free rank 16 in 128 dims (I = 4.0), n = 3000: the old default read 5.10 (Gaussian
    latent) and, at n = 5000, 15.4 for a Student-t ν = 2 latent (I = 2.70), both unflagged; the
    exact span reads within 4 % and, with the radial term, 2.37 (flagged 'radial': the MI may
    be higher)."""
    gauss = LowRank(GaussianStaircase(4.0, 16), 128)
    r = _auto(*gauss.sample(3000, 0))
    assert _log2(r.mi, gauss.mi) <= 0.05 and r.mi_ci[0] <= gauss.mi <= r.mi_ci[1]
    heavy = LowRank(StudentT(16, 16, 2.0, 8, 0.6), 128)
    t = _auto(*heavy.sample(3000, 0))
    assert _log2(t.mi, heavy.mi) <= 0.3
    assert t.mi_ci[0] <= heavy.mi or "radial" in _flags(t)


def test_relu_codes_with_dead_units_are_estimated_or_flagged():
    """ReLU codes of an 8-dim latent in 64 dims, 50-80 % zeros and 4 dead units, n = 3000
    (I = 3.0): the old default refused the dead units, and without them read 3.5 with no flag
    (ties stacked on one normal score). Dead units are dropped, ties spread, and the 'ties' flag
    names the direction."""
    task = Relu(GaussianStaircase(3.0, 8), 64, dead=4)
    r = _auto(*task.sample(3000, 0))
    assert r.diagnostics["dropped_columns"]["x"] == [60, 61, 62, 63]
    assert "ties" in _flags(r)
    assert _log2(r.mi, task.mi) <= 0.1
    with pytest.raises(ValueError, match="constant"):
        estimate_mi(*task.sample(500, 0), method="gaussian")  # other methods still refuse them


def test_duplicated_rows_are_dropped_and_flagged():
    """Half the rows of a 32 + 32 Gaussian copied (I = 2.0), n = 3000: the old default read
    2.4 (copies are not independent samples); now the copies are dropped and flagged. One-sided
    repeats (x repeated, y not) are flagged as likely high."""
    task = Duplicated(linear_mixing(GaussianStaircase(2.0, 32), seed=3))
    x, y = task.sample(3000, 0)
    r = _auto(x, y)
    assert "duplicates" in _flags(r) and r.n == distinct_pairs(x, y)[0].shape[0]
    assert r.mi_ci[0] <= task.mi <= r.mi_ci[1]
    y2 = y + 0.1 * np.random.default_rng(0).standard_normal(y.shape)
    assert repeated_rows(x) > 0 and "repeated_rows" in _flags(_auto(x, y2))


def test_sphere_rows_are_read_within_the_interval():
    task = Sphere(GaussianStaircase(4.0, 16), 96)
    r = _auto(*task.sample(3000, 0))
    assert r.mi_ci[0] <= task.mi <= r.mi_ci[1]


# --------------------------------------------------------------------------- hidden dependence


@pytest.mark.parametrize("dim,dof", [(5, 2.0), (10, 4.0)])
def test_tail_dependence_above_six_dimensions_is_seen(dim, dof):
    """Student-t with identity scale (only the radius is shared): 5 + 5, ν = 2 (I = 0.448) and
    10 + 10, ν = 4 (I = 0.405), n = 3000. The old default read 0.006 and 0.012 with intervals
    excluding the truth and no flag; the radial term reads within |log2| 0.3."""
    task = StudentT(dim, dim, dof, 1, 0.0)
    r = _auto(*task.sample(3000, 0))
    assert r.diagnostics["chosen"] == "flow+radial"
    assert _log2(r.mi, task.mi) <= 0.3


@pytest.mark.parametrize("make", [Spiral, Coupling], ids=["spiral", "coupling"])
def test_maps_the_flows_cannot_undo_are_flagged_and_the_control_is_not(make):
    """A 5 + 5 Gaussian (I = 1.12) through a spiral or a coupling stack reads ≈ 0.3: the old
    default said nothing. The residual dependence test of the latents flags it; the same
    Gaussian without the map (the control) is not flagged."""
    base = SparseGaussian(5, 5, 5, 0.6)
    r = _auto(*make(base).sample(3000, 0))
    assert "residual_dependence" in _flags(r)
    assert "residual_dependence" not in _flags(_auto(*base.sample(3000, 0)))


def test_deterministic_relations_are_infinite_or_open_never_a_crash():
    """y = x crashed (Cholesky) and y = xQ, tanh(xQ)³ read ≈ 220 nats ± 12 with no flag. Now:
    an infinite MI where the relation is exact to float precision (1-D), else the 'resolution'
    flag with an MI interval open above; and the JSON has no infinity."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 1))
    r = _auto(x, x.copy())
    assert math.isinf(r.mi) and math.isinf(r.mi_ci[1]) and "resolution" in _flags(r)
    json.dumps(r.to_dict(), allow_nan=False)
    x5 = rng.standard_normal((2000, 5))
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    for y in (x5.copy(), x5 @ q, np.tanh(x5 @ q) ** 3):
        r = _auto(x5, y)
        assert "resolution" in _flags(r) and math.isinf(r.mi_ci[1])
        assert r.mi > 5.0
        json.dumps(r.to_dict(), allow_nan=False)


def test_a_strong_but_finite_relation_is_not_called_unresolved():
    """The control of the resolution flag: 10 + 10 with every pair at ρ = 0.95 (I = 11.6) stays
    a finite estimate with a finite interval."""
    task = SparseGaussian(10, 10, 10, 0.95)
    r = _auto(*task.sample(3000, 0))
    assert "resolution" not in _flags(r) and math.isfinite(r.mi_ci[1])
    assert _log2(r.mi, task.mi) <= 0.1


# --------------------------------------------------------------------------- pieces


def test_ties_are_spread_within_their_run_and_order_is_kept():
    train = torch.tensor([[0.0], [0.0], [0.0], [1.0], [2.0], [3.0]])
    test = torch.tensor([[0.0], [0.5], [3.0], [0.0]])
    stacked = normal_scores(train, test)[1][:, 0]
    assert stacked[0] == stacked[3]  # without a generator every tie maps to one point
    spread = normal_scores(train, test, ties=torch.Generator().manual_seed(0))[1][:, 0]
    low, high = (math.sqrt(2) * torch.erfinv(torch.tensor(2 * u / 7 - 1)) for u in (1.0, 3.0))
    assert spread[0] != spread[3]
    assert all(low <= v <= high for v in (spread[0], spread[3]))  # inside the tie run
    assert spread[1] == stacked[1] and spread[2] == stacked[2]  # untied values unchanged
    assert tied_columns(np.array([[0.0, 1.0], [0.0, 2.0], [1.0, 3.0]]))[0] == [0]


def test_principal_basis_drops_only_directions_below_the_maps_resolution():
    rng = np.random.default_rng(1)
    full = torch.as_tensor(rng.standard_normal((2000, 20)))
    assert principal_basis(full) is None
    low = full[:, :4] @ torch.as_tensor(rng.standard_normal((4, 20))) + 1e-3 * full
    low = (low - low.mean(0)) / low.std(0)
    assert principal_basis(low).shape == (20, 4)


def test_canonical_readout_gives_infinite_precision_pairs_no_nan():
    x = torch.as_tensor(np.random.default_rng(2).standard_normal((500, 3)))
    readout = canonical_readout(x, x.clone())
    assert math.isfinite(readout.mi) and readout.mi > 30 and np.isfinite(readout.var)


def test_to_dict_carries_the_choice_and_the_candidates():
    x, y = SparseGaussian(3, 3, 2, 0.7).sample(800, 0)
    d = _auto(x, y).to_dict()
    assert d["chosen"] in d["candidates"] and d["reason"] and isinstance(d["flags"], list)
    assert set(d["candidates"]) >= {"flow", "ksg"}


def test_threads_are_settable_and_capped_by_idle_cores(monkeypatch):
    assert choose_threads(3) == 3
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads"):
            choose_threads(bad)
    idle = idle_cores()
    import os

    assert idle is None or 0.0 <= idle <= (os.cpu_count() or 1) + 1e-9
    monkeypatch.setattr("estimators.cpu.idle_cores", lambda: 0.4)
    assert choose_threads() == 1  # a busy machine: one thread, not torch's default
    monkeypatch.setattr("estimators.cpu.idle_cores", lambda: 64.0)
    assert choose_threads() == torch.get_num_threads()  # never above torch's setting
    x, y = SparseGaussian(2, 2, 1, 0.6).sample(500, 0)
    before = torch.get_num_threads()
    assert _auto(x, y, threads=1).mi > 0 and torch.get_num_threads() == before


def test_heavy_tails_above_the_radial_dimension_are_flagged_and_gaussians_are_not():
    """Student-t with identity scale at 128 + 128, ν = 2 (I = 1.90), n = 3000: the latents'
    dimension is above the radial term's limit, the Wishart correction (exact for Gaussian
    latents) falls short and the shared scale goes unread, so the read-out can be off either
    way: 'heavy_tails' (its fourth-moment excess, measured ≈ 1.8 nats at n = 5000). The control:
    a Gaussian of the same shape with 32 correlated pairs is not flagged (excess < 0.01)."""
    r = _auto(*StudentT(128, 128, 2.0, 1, 0.0).sample(3000, 0))
    assert r.diagnostics["chosen_diagnostics"]["radial"] is None
    assert "heavy_tails" in _flags(r)
    g = _auto(*SparseGaussian(128, 128, 32, 0.6).sample(3000, 0))
    assert "heavy_tails" not in _flags(g)
    assert abs(g.diagnostics["chosen_diagnostics"]["tail_excess"]["mi"]) < 0.05
