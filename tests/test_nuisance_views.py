"""The ``nuisance-views`` generator (P9's data, ``paradigms.data.vectors``): its known MI per part
against an unbiased estimator and against quadrature, shared and unshared nuisance with identical
per-view laws, and the data set's plumbing (load_dataset, the batched engine, bad input).

Tolerances: 4 standard errors (two-sided false alarm 6·10⁻⁵ per check) of the estimator or of the
Monte Carlo value being checked; the quadrature error (≤ 10⁻⁶ nats on the grids used) is far
below that.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from estimators.gaussian import gaussian_plugin
from paradigms.data import load_dataset
from paradigms.data.vectors import (
    NUISANCE_VIEWS,
    label_part,
    nuisance_label_part,
    nuisance_part_mi,
    nuisance_views,
)

Z = 4.0


def _views(shared: bool, strength: float = 1.0, n: int = 20_000, seed: int = 0,
           view_seed: int = 1) -> tuple[torch.Tensor, torch.Tensor, object]:  # fmt: skip
    data = nuisance_views(nuisance=strength, shared=shared, n_train=2, n_test=n, seed=seed)
    x_a, x_b = data.views(data.test_x, torch.Generator().manual_seed(view_seed))
    return x_a.double(), x_b.double(), data


@pytest.mark.parametrize("strength", [0.5, 1.0, 2.0])
def test_P9_shared_nuisance_mi_matches_the_log_det_closed_form(strength):
    """I(N_A; N_B) = −(k/2) log(1 − ρ²), ρ = s²/(s² + σ_n²): the Wishart-unbiased Gaussian
    plug-in on 20 000 pairs agrees within 4 bootstrap SE. Fails if the views did not share u, or
    for a formula off by its factor ½ or with ρ for ρ²."""
    x_a, x_b, _ = _views(True, strength)
    d = 4
    r = gaussian_plugin(x_a[:, d:].numpy(), x_b[:, d:].numpy(), seed=0)
    se = (r.ci[1] - r.ci[0]) / (2 * 1.959963984540054)
    exact = nuisance_part_mi(strength, 4, 0.5)
    rho = strength**2 / (strength**2 + 0.25)
    assert exact == pytest.approx(-2.0 * math.log(1 - rho**2), rel=1e-12)
    assert abs(r.mi - exact) <= Z * se, (r.mi, exact, se)


def test_P9_unshared_nuisance_carries_no_mi():
    """Drawn apart, the nuisance parts of the two views are independent (plug-in MI within 4 SE
    of 0), and a view's label part is independent of the other view's nuisance part."""
    x_a, x_b, _ = _views(False, 2.0)
    d = 4
    r = gaussian_plugin(x_a[:, d:].numpy(), x_b[:, d:].numpy(), seed=0)
    se = (r.ci[1] - r.ci[0]) / (2 * 1.959963984540054)
    assert abs(r.mi) <= Z * se, (r.mi, se)
    assert nuisance_part_mi(2.0, 4, 0.5, shared=False) == 0.0
    cross = gaussian_plugin(x_a[:, :d].numpy(), x_b[:, d:].numpy(), seed=0)  # label ⊥ nuisance
    assert abs(cross.mi) <= Z * (cross.ci[1] - cross.ci[0]) / (2 * 1.959963984540054)


def test_P9_shared_and_unshared_views_have_the_same_law_per_view():
    """Each view's law is the same whether the nuisance is shared or not: per coordinate a
    two-sample Kolmogorov–Smirnov test between the modes (Bonferroni over 16 tests at family-wise
    1 %), and the nuisance variance s² + σ_n² within 4 SE in both; only the cross-view nuisance
    covariance differs (s² against 0, each within 4 SE)."""
    s = 1.0
    shared_a, shared_b, _ = _views(True, s, view_seed=1)
    apart_a, apart_b, _ = _views(False, s, seed=0, view_seed=2)
    p_values = [stats.ks_2samp(shared[:, j].numpy(), apart[:, j].numpy()).pvalue
                for shared, apart in ((shared_a, apart_a), (shared_b, apart_b))
                for j in range(8)]  # fmt: skip
    assert min(p_values) > 0.01 / len(p_values), p_values
    n = shared_a.shape[0]
    var = s**2 + 0.25
    se_var = var * math.sqrt(2 / n)  # Gaussian: Var(sample variance) = 2σ⁴/n
    se_cov = math.sqrt((var**2 + s**4) / n)  # Var(x·y) = σ_x²σ_y² + c² for Gaussian pairs
    for a, b, cov in ((shared_a, shared_b, s**2), (apart_a, apart_b, 0.0)):
        nuis_a, nuis_b = a[:, 4:], b[:, 4:]
        assert torch.all((nuis_a.var(0) - var).abs() <= Z * se_var), nuis_a.var(0)
        c = (nuis_a * nuis_b).mean(0) - nuis_a.mean(0) * nuis_b.mean(0)
        assert torch.all((c - cov).abs() <= Z * se_cov), (c, cov)


def _quadrature_label_part(means: np.ndarray, sigma: float) -> tuple[float, float]:
    """I(L_A; L_B) and I(L_A; Y) for one-dimensional class Gaussians with uniform labels, by
    midpoint quadrature on a grid of 4001 points spanning ±10σ beyond the means."""
    grid = np.linspace(means.min() - 10 * sigma, means.max() + 10 * sigma, 4001)
    h = grid[1] - grid[0]
    k = len(means)
    dens = stats.norm.pdf(grid[None, :], means[:, None], sigma)  # [K, G]
    p = dens.mean(0)
    joint = np.einsum("kg,kh->gh", dens, dens) / k
    with np.errstate(divide="ignore", invalid="ignore"):
        view = np.nansum(joint * np.log(joint / np.outer(p, p))) * h * h
        label = np.nansum(dens / k * np.log(dens / p[None, :])) * h
    return float(view), float(label)


@pytest.mark.parametrize(("means", "sigma"), [([-1.0, 1.0], 0.7), ([-1.5, 0.0, 0.8], 0.5)])
def test_P9_label_part_monte_carlo_matches_quadrature(means, sigma):
    """``label_part``'s Monte Carlo values of I(L_A; L_B) and I(L_A; Y) (2¹⁷ exact draws) agree
    with quadrature within 4 of their SE; both lie below log K, I(L_A; L_B) below I(L_A; Y) (the
    Markov chain L_A − Y − L_B). Fails for a log-sum-exp over the wrong axis or a missing log K."""
    mu = torch.tensor(means, dtype=torch.float64)[:, None]
    mc = label_part(mu, sigma, samples=2**17, seed=3)
    view, label = _quadrature_label_part(np.array(means), sigma)
    assert abs(mc["view_mi"] - view) <= Z * mc["view_mi_se"], (mc, view)
    assert abs(mc["label_mi"] - label) <= Z * mc["label_mi_se"], (mc, label)
    assert view < label < math.log(len(means))


def test_P9_true_mi_is_the_sum_of_the_parts_and_bounded():
    for shared in (True, False):
        data = nuisance_views(nuisance=1.0, shared=shared, seed=4)
        label = nuisance_label_part(4, 8, 4, 1.0, 0.5)
        assert data.true_mi == pytest.approx(
            label["view_mi"] + nuisance_part_mi(1.0, 4, 0.5, shared), abs=1e-12)
        assert label["view_mi"] + Z * label["view_mi_se"] <= label["log_k"]
        assert label["view_mi_se"] < 0.005  # the SE the docstring states
        assert 1 / 8 < label["bayes_acc"] < 1


def test_P9_test_rows_are_held_out_and_the_means_fixed_by_the_seed():
    """The class means (the label parts of the samples) depend on the seed only; test rows come
    from their own generator, so a larger n_test gives other rows of the same law, none of them a
    train row."""
    small = nuisance_views(n_train=64, n_test=16, seed=5)
    large = nuisance_views(n_train=64, n_test=512, seed=5)
    assert torch.equal(small.train_x, large.train_x)
    means = {tuple(r) for r in large.train_x[:, :4].tolist()} | {
        tuple(r) for r in large.test_x[:, :4].tolist()}  # fmt: skip
    assert len(means) == 8
    train = {tuple(r) for r in large.train_x.tolist()}
    assert not any(tuple(r) in train for r in large.test_x.tolist())
    other = nuisance_views(n_train=64, n_test=16, seed=6)
    assert not torch.equal(other.train_x[:, :4].unique(dim=0), small.train_x[:, :4].unique(dim=0))


def test_P9_views_of_rows_are_the_rows_of_the_views():
    """``augment(x, g, rows)`` draws the whole batch and slices (the data layer's contract)."""
    for shared in (True, False):
        data = nuisance_views(shared=shared, n_train=32, n_test=8, seed=0)
        full = data.augment(data.train_x, torch.Generator().manual_seed(3))
        part = data.augment(data.train_x, torch.Generator().manual_seed(3), slice(8, 20))
        assert torch.equal(full[8:20], part)


def test_P9_data_set_by_name_trains_batched_and_refuses_bad_input():
    from paradigms.training.batched import check_batchable
    from paradigms.training.config import TrainConfig

    data = load_dataset(NUISANCE_VIEWS, seed=1, nuisance=0.5, n_train=16, n_test=8)
    assert data.name == NUISANCE_VIEWS and data.input_shape == (8,)
    assert data.encoder == ("mlp", {"hidden_dim": 128})
    check_batchable(TrainConfig(method="jmi", data=NUISANCE_VIEWS))
    for bad, match in (({"nuisance": -1.0}, "nuisance must be"),
                       ({"label_noise": 0.0}, "label_noise must be"),
                       ({"shared": "yes"}, "shared must be"),
                       ({"encoder_width": 0}, "encoder_width must be")):  # fmt: skip
        with pytest.raises(ValueError, match=match):
            nuisance_views(**bad)
