"""SSL objectives (paradigms.methods.objectives): published formulas on hand-computed cases,
invariances, gradients, precision and bad input."""

import math

import pytest
import torch

from estimators import bounds
from mitheory.surrogates import taylor_dv_surrogate
from paradigms.methods import objectives as O

PAIR_LOSSES = [
    O.negative_cosine,
    O.info_nce_loss,
    O.nt_xent_loss,
    O.barlow_twins_loss,
    O.vicreg_loss,
    O.dv_loss,
    O.joint_only_loss,
    O.taylor_dv_loss,
]
TEMPERATURE_LOSSES = [O.info_nce_loss, O.nt_xent_loss, O.dv_loss, O.joint_only_loss]

# Standardized, mutually orthogonal columns (N = 4, d = 2): per-column mean 0, biased variance 1.
ORTHO = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], dtype=torch.float64)
# standardize() divides by sqrt(1 + 1e-5), so correlations of unit-variance columns are 1/(1+1e-5).
BN_EPS = 1e-5


def _pair(n=16, d=8, seed=0, noise=0.3, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=g, dtype=dtype)
    return a, a + noise * torch.randn(n, d, generator=g, dtype=dtype)


def test_negative_cosine_hand_case():
    p = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    z = torch.tensor([[3.0, 3.0], [0.0, -1.0]])
    # cos = 1/√2 and −1, mean = (1/√2 − 1)/2, loss = its negative.
    assert O.negative_cosine(p, z).item() == pytest.approx(-(1 / math.sqrt(2) - 1) / 2, abs=1e-6)


def test_negative_cosine_does_not_detach():
    p, z = (t.clone().requires_grad_(True) for t in _pair())
    O.negative_cosine(p, z).backward()
    assert p.grad is not None and z.grad is not None
    assert p.grad.abs().sum() > 0 and z.grad.abs().sum() > 0


def test_info_nce_hand_case_with_queue():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    k = torch.tensor([[2.0, 0.0], [0.0, 5.0]])  # normalized inside: same as q
    u = torch.tensor([[-1.0, 0.0]])
    tau = 0.5
    # No queue: logits = I/τ, each row −log(e^2 / (e^2 + 1)) = log(1 + e^-2).
    assert O.info_nce_loss(q, k, tau).item() == pytest.approx(math.log1p(math.exp(-2)), abs=1e-6)
    # Queue u = −e1: row 0 logits [2, 0, −2], row 1 logits [0, 2, 0].
    expected = 0.5 * (math.log(1 + math.exp(-2) + math.exp(-4)) + math.log(1 + 2 * math.exp(-2)))
    assert O.info_nce_loss(q, k, tau, queue=u).item() == pytest.approx(expected, abs=1e-6)
    # MoCo v2 form (queue negatives only): row 0 logits [2, −2], row 1 logits [2, 0].
    expected_v2 = 0.5 * (math.log1p(math.exp(-4)) + math.log1p(math.exp(-2)))
    got = O.info_nce_loss(q, k, tau, queue=u, batch_negatives=False)
    assert got.item() == pytest.approx(expected_v2, abs=1e-6)


def test_info_nce_equals_log_n_minus_infonce_bound():
    """Without a queue, L = log N − InfoNCE(S) with S = cos/τ (estimators.bounds.infonce)."""
    q, k = _pair(n=32, seed=1)
    s = bounds.cosine_scores(q, k, 0.2)
    expected = math.log(32) - bounds.infonce(s).item()
    assert O.info_nce_loss(q, k, 0.2).item() == pytest.approx(expected, abs=1e-5)


def _nt_xent_reference(z_a, z_b, tau):
    """Eq. 1 of SimCLR written with explicit loops, float64."""
    u = torch.nn.functional.normalize(torch.cat([z_a, z_b]).double(), dim=1)
    n2 = u.shape[0]
    n = n2 // 2
    total = 0.0
    for i in range(n2):
        j = (i + n) % n2
        denom = sum(math.exp(float(u[i] @ u[m]) / tau) for m in range(n2) if m != i)
        total += -math.log(math.exp(float(u[i] @ u[j]) / tau) / denom)
    return total / n2


def test_nt_xent_hand_case_and_reference():
    e = torch.eye(2)
    # Views e1, e2, e1, e2 with τ = 1: each view's positive (its copy) is at cos 1 and its two
    # negatives at cos 0, so every term is −log(e / (e + 2)) = log(1 + 2/e).
    assert O.nt_xent_loss(e, e, 1.0).item() == pytest.approx(math.log1p(2 / math.e), abs=1e-6)
    z_a, z_b = _pair(n=6, d=4, seed=2)
    assert O.nt_xent_loss(z_a, z_b, 0.5).item() == pytest.approx(
        _nt_xent_reference(z_a, z_b, 0.5), rel=1e-10
    )


def test_nt_xent_scale_invariant_and_symmetric():
    z_a, z_b = _pair(n=12, seed=3)
    g = torch.Generator().manual_seed(4)
    scales_a = torch.rand(12, 1, generator=g, dtype=torch.float64) * 10 + 0.1
    scales_b = torch.rand(12, 1, generator=g, dtype=torch.float64) * 10 + 0.1
    base = O.nt_xent_loss(z_a, z_b).item()
    assert O.nt_xent_loss(scales_a * z_a, scales_b * z_b).item() == pytest.approx(base, rel=1e-10)
    assert O.nt_xent_loss(z_b, z_a).item() == pytest.approx(base, rel=1e-10)


def test_barlow_zero_for_aligned_decorrelated_views():
    # C = I/(1 + eps): loss = d·(eps/(1+eps))², zero up to the batch-norm epsilon.
    loss = O.barlow_twins_loss(ORTHO, ORTHO, lambd=1.0).item()
    assert loss == pytest.approx(2 * (BN_EPS / (1 + BN_EPS)) ** 2, abs=1e-14)
    # Batch standardization makes it invariant to per-dimension affine maps x → c x + t (c > 0)
    # up to the epsilon: the column of scale c standardizes to c x / √(c² + eps), so
    # C_kk = c_k / √((c_k² + eps)(1 + eps)) and C_kl = 0.
    scales = (3.0, 0.2)
    shifted = ORTHO * torch.tensor(scales, dtype=torch.float64) + 7.0
    expected = sum((1 - c / math.sqrt((c**2 + BN_EPS) * (1 + BN_EPS))) ** 2 for c in scales)
    assert O.barlow_twins_loss(shifted, ORTHO).item() == pytest.approx(expected, rel=1e-6)


def test_barlow_hand_case_off_diagonal_and_anticorrelation():
    z_b = torch.stack([ORTHO[:, 0], ORTHO[:, 0]], dim=1)
    lam = 0.3
    # C = [[1, 1], [0, 0]] (times 1/(1+eps)): (1 − C00)² + (1 − C11)² + λ (C01² + C10²) = 1 + λ.
    c = 1 / (1 + BN_EPS)
    expected = (1 - c) ** 2 + 1 + lam * c**2
    assert O.barlow_twins_loss(ORTHO, z_b, lambd=lam).item() == pytest.approx(expected, abs=1e-9)
    # C = −I: Σ (1 − (−1))² = 4 per dimension.
    assert O.barlow_twins_loss(ORTHO, -ORTHO).item() == pytest.approx(2 * (1 + c) ** 2, abs=1e-9)


def test_vicreg_hand_case():
    z_a = torch.tensor([[1.0, 2.0], [-1.0, -2.0]], dtype=torch.float64)
    z_b = torch.zeros(2, 2, dtype=torch.float64)
    # invariance: mean of (1, 4, 1, 4) = 2.5
    # variance: z_a stds √(2 + ε), √(8 + ε) > 1 → 0; z_b std √ε = 0.01 → 0.99 per dim → 0.99
    # covariance: Cov(z_a)_01 = (1·2 + 1·2)/(N − 1) = 4 → (4² + 4²)/d = 16; Cov(z_b) = 0
    assert O.vicreg_loss(z_a, z_b, 1.0, 0.0, 0.0).item() == pytest.approx(2.5, abs=1e-12)
    assert O.vicreg_loss(z_a, z_b, 0.0, 1.0, 0.0).item() == pytest.approx(0.99, abs=1e-12)
    assert O.vicreg_loss(z_a, z_b, 0.0, 0.0, 1.0).item() == pytest.approx(16.0, abs=1e-12)
    assert O.vicreg_loss(z_a, z_b).item() == pytest.approx(25 * 2.5 + 25 * 0.99 + 16, abs=1e-9)


def test_dv_and_joint_only_hand_case():
    z_a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z_b = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    tau = 0.5
    # cos = [[1, 1/√2], [0, 1/√2]], S = cos/τ = [[2, √2], [0, √2]].
    joint = (2 + math.sqrt(2)) / 2
    marginal = math.log((math.exp(math.sqrt(2)) + 1) / 2)
    assert O.dv_loss(z_a, z_b, tau).item() == pytest.approx(-(joint - marginal), abs=1e-6)
    assert O.joint_only_loss(z_a, z_b, tau).item() == pytest.approx(-joint, abs=1e-6)


def test_joint_only_minimized_by_constant_encoder():
    """T7 on a batch: a constant encoder reaches the minimum −1/τ; informative encoders do not."""
    tau = 0.1
    const = torch.ones(8, 4)
    assert O.joint_only_loss(const, const, tau).item() == pytest.approx(-1 / tau, abs=1e-5)
    z_a, z_b = _pair(n=8, d=4, seed=5)
    assert O.joint_only_loss(z_a, z_b, tau).item() > -1 / tau + 1e-3
    # With the marginal term the constant encoder scores DV = 0, worse than the informative pair.
    assert O.dv_loss(const, const, tau).item() == pytest.approx(0.0, abs=1e-5)
    assert O.dv_loss(z_a, z_b, tau).item() < 0.0


def test_taylor_dv_loss_is_the_surrogate():
    # Aligned orthogonal standardized views: C = I/(1+eps), surrogate = s·2c − ½ s²·2c².
    c = 1 / (1 + BN_EPS)
    for s in (1.0, 0.25):
        got = O.taylor_dv_loss(ORTHO, ORTHO, scale=s).item()
        assert got == pytest.approx(-(2 * s * c - s**2 * c**2), abs=1e-9)
    z_a, z_b = _pair(seed=6)
    assert O.taylor_dv_loss(z_a, z_b, 0.3).item() == taylor_dv_surrogate(z_a, z_b, 0.3).neg().item()


def test_taylor_dv_objective_at_most_half_the_dimension():
    """At s = 1 the batch objective is ≤ d/2 for any pair of batches (see the docstring's
    singular-value argument); random linear mixings of shared and private parts stay below it."""
    d = 6
    g = torch.Generator().manual_seed(9)
    for _ in range(20):
        shared = torch.randn(64, d, generator=g, dtype=torch.float64)
        mix_a, mix_b = (torch.randn(d, d, generator=g, dtype=torch.float64) for _ in range(2))
        z_a = shared @ mix_a + 0.3 * torch.randn(64, d, generator=g, dtype=torch.float64)
        z_b = shared @ mix_b + 0.3 * torch.randn(64, d, generator=g, dtype=torch.float64)
        assert -O.taylor_dv_loss(z_a, z_b).item() <= d / 2 + 1e-12
        assert -O.taylor_dv_loss(z_a, z_a).item() <= d / 2 + 1e-12


@pytest.mark.parametrize("loss", PAIR_LOSSES, ids=lambda f: f.__name__)
def test_gradients_match_finite_differences(loss):
    z_a, z_b = _pair(n=6, d=3, seed=7)
    z_a.requires_grad_(True)
    z_b.requires_grad_(True)
    if loss is O.dv_loss:
        # estimators.bounds.cosine_scores computes in float32, so gradcheck's float64 finite
        # differences do not apply; compare one coordinate with a central difference of step h,
        # whose float32 rounding error is ~1e-7·|L|/h ≈ 1e-3 here.
        (grad,) = torch.autograd.grad(loss(z_a, z_b), z_a)
        h = 1e-2
        dz = torch.zeros_like(z_a)
        dz[0, 0] = h
        numeric = (loss(z_a + dz, z_b) - loss(z_a - dz, z_b)).item() / (2 * h)
        assert grad[0, 0].item() == pytest.approx(numeric, rel=1e-2, abs=5e-3)
    else:
        assert torch.autograd.gradcheck(loss, (z_a, z_b), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("loss", PAIR_LOSSES, ids=lambda f: f.__name__)
def test_bfloat16_inputs_computed_in_float32(loss):
    z_a, z_b = _pair(n=32, d=8, seed=8, dtype=torch.float32)
    a16, b16 = z_a.bfloat16(), z_b.bfloat16()
    out = loss(a16, b16)
    assert out.dtype == torch.float32
    # Same value as the float32 computation on the bf16-rounded inputs (no bf16 arithmetic inside).
    ref = loss(a16.float(), b16.float())
    assert out.item() == pytest.approx(ref.item(), rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("loss", PAIR_LOSSES, ids=lambda f: f.__name__)
def test_bad_input(loss):
    z_a, z_b = _pair(n=8, d=4)
    with pytest.raises(ValueError, match="equal shapes"):
        loss(z_a, z_b[:, :3])
    with pytest.raises(ValueError, match="N >= 2"):
        loss(z_a[:1], z_b[:1])
    with pytest.raises(ValueError, match=r"\[N, d\]"):
        loss(z_a[0], z_b[0])
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        loss(z_a.numpy(), z_b)
    with pytest.raises(TypeError, match="floating-point"):
        loss(z_a.long(), z_b.long())


@pytest.mark.parametrize("loss", TEMPERATURE_LOSSES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("tau", [0.0, -0.1, math.inf, math.nan])
def test_bad_temperature(loss, tau):
    z_a, z_b = _pair(n=8, d=4)
    with pytest.raises(ValueError, match="temperature"):
        loss(z_a, z_b, tau)


def test_bad_weights_and_queue():
    z_a, z_b = _pair(n=8, d=4)
    with pytest.raises(ValueError, match="lambd"):
        O.barlow_twins_loss(z_a, z_b, lambd=-1.0)
    with pytest.raises(ValueError, match="var_weight"):
        O.vicreg_loss(z_a, z_b, var_weight=-1.0)
    with pytest.raises(ValueError, match="eps"):
        O.vicreg_loss(z_a, z_b, eps=0.0)
    with pytest.raises(ValueError, match="scale"):
        O.taylor_dv_loss(z_a, z_b, scale=0.0)
    with pytest.raises(ValueError, match="queue"):
        O.info_nce_loss(z_a, z_b, queue=torch.randn(5, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="needs a queue"):
        O.info_nce_loss(z_a, z_b, batch_negatives=False)
