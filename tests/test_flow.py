"""The Gaussianizing-flow estimator (estimators.flow) and the default 'auto' (estimators.auto)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from estimators import estimate_mi
from estimators.auto import ALLOWANCE, mi_interval
from estimators.flow import FlowConfig, MonotoneMap, PairFlow, flow_mi
from estimators.latents import canonical_readout
from mitheory.distributions import GaussianStaircase, SparseGaussian, StudentT
from mitheory.transforms import nonlinear_mixing


def test_monotone_map_slope_is_its_derivative_and_at_least_one():
    gen = torch.Generator().manual_seed(0)
    mono = MonotoneMap(3, 4, gen)
    with torch.no_grad():  # move off the near-identity start
        mono.alpha.normal_(0.0, 1.0, generator=gen)
        mono.beta.normal_(0.0, 1.0, generator=gen)
    z = torch.randn(50, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    out, logslope = mono(z)
    grad = torch.autograd.grad(out.sum(), z)[0]  # coordinatewise map: the diagonal Jacobian
    assert torch.all(grad >= 1.0)
    assert torch.allclose(torch.log(grad).sum(1), logslope, atol=1e-10)


def test_pair_flow_log_det_is_the_jacobian_and_sides_do_not_mix():
    flow = PairFlow(2, 3, layers=2, components=3, seed=1)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.3 * torch.randn(p.shape, dtype=p.dtype, generator=gen))
    x = torch.randn(4, 2, dtype=torch.float64, generator=gen)
    y = torch.randn(4, 3, dtype=torch.float64, generator=gen)
    _, logdet = flow(x, y)
    for i in range(4):
        jac = torch.autograd.functional.jacobian(
            lambda z, i=i: flow(z[None, :2], z[None, 2:])[0][0], torch.cat([x[i], y[i]])
        )
        assert torch.allclose(jac[:2, 2:], torch.zeros(2, 3, dtype=torch.float64))  # u ⟂ y
        assert torch.allclose(jac[2:, :2], torch.zeros(3, 2, dtype=torch.float64))  # v ⟂ x
        ld = float(logdet[i].detach())
        assert float(torch.linalg.slogdet(jac)[1]) == pytest.approx(ld, abs=1e-9)


def test_canonical_readout_matches_an_independent_log_det_and_is_unbiased():
    """Against numpy's slogdet of the sample covariance blocks (raw value), and unbiased over
    200 Gaussian samples of n = 100 in 3 + 3 dims: |mean − I| < 4 SE of the mean."""
    pairs = SparseGaussian(3, 3, 3, 0.6)
    values = []
    for seed in range(200):
        x, y = pairs.sample(100, seed=seed)
        readout = canonical_readout(torch.as_tensor(x), torch.as_tensor(y))
        mi, raw = readout.mi, readout.raw
        values.append(mi)
        if seed == 0:
            cov = np.cov(np.hstack([x, y]).T)
            ld = [np.linalg.slogdet(c)[1] for c in (cov[:3, :3], cov[3:, 3:], cov)]
            assert raw == pytest.approx(0.5 * (ld[0] + ld[1] - ld[2]), abs=1e-10)
            assert raw > mi  # the Wishart correction lowers the raw plug-in
    se = np.std(values, ddof=1) / math.sqrt(len(values))
    assert abs(np.mean(values) - pairs.mi) < 4 * se


def test_flow_is_not_capped_by_the_batch_size_at_high_mi():
    """20 + 20 staircase at 8 nats, n = 2000: within |log2| 0.05 (≈ 0.28 nats; the reported SE is
    ≈ 0.08) — and above log(1000) = 6.9, InfoNCE's ceiling on a fold of this size."""
    x, y = GaussianStaircase(8.0).sample(2000, seed=11)
    r = flow_mi(x, y, seed=0)
    assert abs(math.log2(r.mi / 8.0)) <= 0.05
    assert r.mi > math.log(1000)
    assert r.ci[0] < r.mi < r.ci[1]


def test_flows_undo_a_nonlinear_coordinate_mixing():
    """nlmix of a 3-pair, 3 + 3 Gaussian (I = 1.53): normal scores alone (``copula_mi``) cannot
    undo the mixing and read low; the trained flows must recover at least half of that gap and
    land within 10 % of the truth (measured: copula 1.32, flow 1.49)."""
    task = nonlinear_mixing(SparseGaussian(3, 3, 3, 0.8))
    x, y = task.sample(4000, seed=2)
    r = flow_mi(x, y, seed=0)
    copula = r.diagnostics["copula_mi"]
    assert task.mi - copula > 0.1  # the control: the mixing is visible to the copula plug-in
    assert r.mi - copula > 0.5 * (task.mi - copula)
    assert abs(r.mi - task.mi) < 0.1 * task.mi


def test_flow_and_default_ignore_a_huge_offset():
    x, y = SparseGaussian(2, 2, 2, 0.6).sample(800, seed=4)
    for method in ("flow", "auto"):
        plain = estimate_mi(x, y, method=method, seed=1)
        shifted = estimate_mi(x + 1e8, y - 1e8, method=method, seed=1)
        assert shifted.mi == pytest.approx(plain.mi, abs=0.05)
        assert shifted.ci[1] - shifted.ci[0] > 0


def test_one_dimensional_pairs_skip_training():
    x, y = SparseGaussian(1, 1, 1, 0.7).sample(600, seed=0)
    r = flow_mi(x, y)
    assert all(f["stopped"] == "no layers" for f in r.diagnostics["folds"])
    assert r.mi == pytest.approx(r.diagnostics["copula_mi"])


def test_flow_rejects_bad_options_and_too_few_pairs():
    x, y = SparseGaussian(2, 2, 1, 0.5).sample(100, seed=0)
    with pytest.raises(TypeError, match="unknown option"):
        flow_mi(x, y, hidden=3)
    with pytest.raises(ValueError, match="layers"):
        FlowConfig(layers=-1)
    with pytest.raises(ValueError, match="held-out parts"):
        flow_mi(x[:10], y[:10])


def test_default_leaves_the_flow_only_where_the_copula_is_not_gaussian():
    """Student-t with ν = 1 and ρ = 0 (all dependence through the shared radius, I = 0.43): the
    flow's Gaussian latents read ≈ 0, so the default must report the radial term or KSG (both
    see the radius; measured 0.416 and 0.389); on a Gaussian with the same shape (the negative
    control) the flow must be kept, with no radial candidate."""
    t_task = StudentT(2, 2, 1.0, 1, 0.0)
    x, y = t_task.sample(2000, seed=0)
    r = estimate_mi(x, y, seed=0)
    assert r.method == "auto" and r.diagnostics["chosen"] in ("ksg", "flow+radial")
    assert abs(r.diagnostics["candidates"]["flow"]["mi"]) < 0.1
    assert abs(r.mi - t_task.mi) < 0.15 * t_task.mi
    g_task = SparseGaussian(2, 2, 1, math.sqrt(1 - math.exp(-2 * t_task.mi)))
    g = estimate_mi(*g_task.sample(2000, seed=0), seed=0)
    assert g.diagnostics["chosen"] == "flow"
    assert set(g.diagnostics["candidates"]) == {"flow", "ksg"}


def test_default_reports_an_mi_interval_that_contains_the_expectation_interval():
    x, y = SparseGaussian(4, 4, 2, 0.7).sample(1000, seed=3)
    r = estimate_mi(x, y)
    assert r.mi_ci is not None
    assert r.mi_ci[0] < r.ci[0] < r.mi < r.ci[1] < r.mi_ci[1]
    half = (r.mi_ci[1] - r.mi_ci[0]) / 2
    assert half >= ALLOWANCE * r.mi
    assert mi_interval(1.0, 0.0)[1] == pytest.approx(1.0 + ALLOWANCE + 0.01)
    bits = estimate_mi(x, y, base=2)
    assert bits.unit == "bits"
    assert bits.mi_ci[1] == pytest.approx(r.mi_ci[1] / math.log(2))
    assert bits.to_dict()["mi_ci"] == pytest.approx(list(bits.mi_ci))
    high = estimate_mi(*SparseGaussian(8, 8, 1, 0.5).sample(400, seed=0))
    assert "joint dimension 16 > 6" in high.diagnostics["reason"]
