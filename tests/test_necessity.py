"""P1's instrument (``mitheory.claims.necessity``): the paired necessity test, its simulated power
and the verdict over cells; and the ``invariance`` ablation behind P2's control."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from estimators import bounds
from mitheory.claims import necessity as nc
from paradigms.methods import objectives


def test_readings_follow_the_one_sided_bounds():
    base = [2.5, 2.6, 2.4, 2.55]
    # a collapse: the ablated runs lose ~1.5 nats on every seed
    drop = nc.paired_effect(base, [b - 1.5 + 0.05 * k for k, b in enumerate(base)], 0.25)
    assert drop["reading"] == "necessary" and drop["bounds"][1] < -0.25
    # a small, consistent difference inside the margin
    same = nc.paired_effect(base, [b + 0.02 * (-1) ** k for k, b in enumerate(base)], 0.25)
    assert same["reading"] == "not needed" and same["bounds"][0] > -0.25
    # too noisy to tell: the interval straddles −δ
    noise = (0.4, -0.9, 0.5, -0.6)
    noisy = nc.paired_effect(base, [b + d for b, d in zip(base, noise, strict=True)], 0.25)
    assert noisy["reading"] == "undecided"


def test_bounds_are_the_paired_t_interval():
    rng = np.random.default_rng(3)
    a, b = rng.normal(2, 0.2, 6), rng.normal(1.9, 0.2, 6)
    e = nc.paired_effect(list(a), list(b), 0.2)
    ci = stats.ttest_rel(b, a).confidence_interval(confidence_level=0.90)  # two one-sided 5 %
    assert e["bounds"] == pytest.approx([ci.low, ci.high], rel=1e-10)


def test_simulated_power_matches_the_noncentral_t():
    # power of "necessary" at Δ = −2δ: P(d̄ + t s/√n < −δ) = P(T' < −t) with T' noncentral t of
    # n − 1 degrees of freedom and noncentrality (−2δ + δ)·√n/σ; the simulation's SE at 20 000
    # draws is ≤ 0.0036, so 0.015 is > 4 SE
    n, sigma, margin = 4, 0.12, 0.25
    power = nc.design_power(n, sigma, margin)
    t = stats.t.ppf(0.95, n - 1)
    nct = -margin * math.sqrt(n) / sigma
    exact = float(stats.nct.cdf(-t, n - 1, nct))
    assert power["necessary_at_2margin"] == pytest.approx(exact, abs=0.015)
    # "not needed" at Δ = 0: P(d̄ − t s/√n > −δ) = P(T' > t) with noncentrality δ√n/σ
    exact0 = float(stats.nct.sf(t, n - 1, margin * math.sqrt(n) / sigma))
    assert power["not_needed_at_0"] == pytest.approx(exact0, abs=0.015)
    # more seeds, more power
    assert nc.design_power(8, sigma, margin)["not_needed_at_0"] > power["not_needed_at_0"]


@pytest.mark.parametrize(("readings", "verdict"), [
    (["necessary", "necessary"], "holds"),
    (["not needed", "not needed"], "fails"),
    (["necessary", "not needed", "undecided"], "partial"),
    (["necessary", "undecided"], "undecided"),
    ([], "undecided"),
])  # fmt: skip
def test_verdict_over_cells(readings, verdict):
    assert nc.necessity_verdict(readings) == verdict


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="at least 2 seeds"):
        nc.paired_effect([1.0], [1.0], 0.1)
    with pytest.raises(ValueError, match="one ablated run per canonical seed"):
        nc.paired_effect([1.0, 2.0], [1.0], 0.1)
    with pytest.raises(ValueError, match="margin must be > 0"):
        nc.paired_effect([1.0, 2.0], [1.0, 2.0], 0.0)


def test_marginal_only_loss_is_the_dv_marginal_term():
    g = torch.Generator().manual_seed(0)
    z_a, z_b = torch.randn(32, 8, generator=g), torch.randn(32, 8, generator=g)
    scores = bounds.cosine_scores(z_a, z_b, 0.1)
    # DV = J − M, so M = J − DV
    expected = bounds.joint_term(scores) - bounds.dv(scores)
    assert float(objectives.marginal_only_loss(z_a, z_b)) == pytest.approx(float(expected))


def test_invariance_ablation_leaves_the_regularizers_and_drops_the_agreement():
    from paradigms.data import load_dataset
    from paradigms.training.config import TrainConfig
    from paradigms.training.loop import build_method

    data = load_dataset("gaussian-mixture", seed=0)
    g = torch.Generator().manual_seed(1)
    x_a, x_b = data.views(data.train_x[:64], g)
    perm = torch.randperm(64, generator=g)
    with torch.no_grad():
        jmi = build_method(TrainConfig(method="jmi", ablate="invariance"), data)
        z_a, z_b = jmi.embed_pair(x_a, x_b)
        # JMI: the DV marginal term alone
        assert float(jmi.objective(z_a, z_b)) == float(objectives.marginal_only_loss(z_a, z_b))
        # VICReg: variance and covariance of each view alone, so shuffling one view's rows (which
        # pairs agree) leaves the ablated objective unchanged and changes the full one
        full = build_method(TrainConfig(method="vicreg"), data)
        off = build_method(TrainConfig(method="vicreg", ablate="invariance"), data)
        z_a, z_b = full.embed_pair(x_a, x_b)
        assert float(off.objective(z_a, z_b[perm])) == pytest.approx(
            float(off.objective(z_a, z_b)), rel=1e-5)
        assert float(full.objective(z_a, z_b[perm])) > float(full.objective(z_a, z_b)) + 0.1
