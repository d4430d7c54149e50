"""Claim T7 (CLAIMS.md): the joint term alone is maximized by a constant encoder (collapse).

With the cosine critic T = cos(z_a, z_b)/τ the joint term J = E cos/τ ≤ 1/τ, equality iff all
pairs are positively aligned; a constant encoder attains it, and then the marginal term is also
1/τ, so DV = 0.
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mitheory.alternating import (
    CollapseConfig,
    cosine_dv,
    cosine_joint_term,
    joint_term_only_ascent,
    normalized_embedding_std,
)
from mitheory.closed_forms import random_gaussian_views


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    n=st.integers(2, 64),
    d=st.integers(1, 16),
    tau=st.floats(0.01, 10.0),
    seed=st.integers(0, 2**31 - 1),
    noise=st.floats(0.0, 3.0),
)
def test_T7_joint_term_is_at_most_one_over_tau(n, d, tau, seed, noise):
    g = torch.Generator().manual_seed(seed)
    z_a = torch.randn(n, d, generator=g, dtype=torch.float64)
    z_b = z_a + noise * torch.randn(n, d, generator=g, dtype=torch.float64)
    assert float(cosine_joint_term(z_a, z_b, tau)) <= 1.0 / tau * (1 + 1e-12)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(
    n=st.integers(2, 64),
    d=st.integers(1, 16),
    tau=st.floats(0.01, 10.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_T7_constant_encoder_attains_the_maximum_with_dv_zero(n, d, tau, seed):
    g = torch.Generator().manual_seed(seed)
    c = torch.randn(d, generator=g, dtype=torch.float64)
    z = c.expand(n, d).clone()
    assert float(cosine_joint_term(z, z, tau)) == pytest.approx(1.0 / tau, rel=1e-12)
    # marginal term log mean_{i≠j} e^{1/τ} = 1/τ: DV = 0 up to float64 rounding of logsumexp
    assert float(cosine_dv(z, z, tau)) == pytest.approx(0.0, abs=1e-12 * max(1.0, 1.0 / tau))


def test_T7_ascent_on_the_joint_term_alone_collapses():
    """Adam on J alone (shared affine encoder, 4+4-dim Gaussian views, τ = 0.1).

    Thresholds: collapse = normalized embedding spread below 1 % of its start; J within 1e-3 of
    1/τ = 10; the batch DV within 1e-2 of 0 (its value at a constant encoder). The contrast run on
    the full DV must keep more than 10 % of the spread — the marginal term is what prevents it.
    """
    torch.set_num_threads(1)
    views = random_gaussian_views(4, 4, [0.9, 0.8, 0.5, 0.3], seed=0)
    config = CollapseConfig(steps=200, batch=128)
    trace = joint_term_only_ascent(views, config, seed=0)
    assert trace.embed_std[-1] < 0.01 * trace.embed_std[0]
    assert 1.0 / config.tau - trace.joint[-1] < 1e-3
    assert abs(trace.dv[-1]) < 1e-2
    contrast = joint_term_only_ascent(
        views, CollapseConfig(steps=200, batch=128, with_marginal=True), seed=0
    )
    assert contrast.embed_std[-1] > 0.1 * contrast.embed_std[0]
    assert contrast.dv[-1] > 0.1


def test_T7_normalized_spread_is_zero_only_for_collapsed_embeddings():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(32, 4, generator=g, dtype=torch.float64)
    assert normalized_embedding_std(z) > 0.1
    assert normalized_embedding_std(3.0 * torch.ones(32, 4, dtype=torch.float64)) == 0.0


def test_T7_verdict(claim_check) -> None:
    """The verdict of the report's one implementation of T7 (mitheory.claims), asserted."""
    claim_check("T7")
