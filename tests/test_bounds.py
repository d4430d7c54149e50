"""Bounds on a score matrix (estimators.bounds): formulas, stability, gradients, bad input.

Reference values are computed with plain Python loops and ``math`` straight from the formulas in
DESIGN.md §3, independently of the torch implementation.
"""

from __future__ import annotations

import math

import pytest
import torch

from estimators import bounds

S2 = [[1.0, 0.0], [2.0, 3.0]]
S3 = [[0.5, -1.0, 2.0], [0.3, 1.5, -0.7], [1.1, 0.2, -0.4]]


def _softplus(z: float) -> float:
    return math.log1p(math.exp(z))


def _ref(s: list[list[float]], clip: float | None = None) -> dict[str, float]:
    """All bounds of DESIGN.md §3 by loops over the entries."""
    n = len(s)
    diag = [s[i][i] for i in range(n)]
    off = [s[i][j] for i in range(n) for j in range(n) if i != j]
    joint = sum(diag) / n
    marg_mean = sum(math.exp(v) for v in off) / len(off)
    clipped = [min(max(v, -clip), clip) for v in off] if clip is not None else off
    nce = sum(s[i][i] - math.log(sum(math.exp(v) for v in s[i]) / n) for i in range(n)) / n
    return {
        "dv": joint - math.log(marg_mean),
        "nwj": joint - marg_mean / math.e,
        "infonce": nce,
        "jsd": sum(-_softplus(-d) for d in diag) / n - sum(_softplus(v) for v in off) / len(off),
        "smile": joint - math.log(sum(math.exp(v) for v in clipped) / len(clipped)),
    }


@pytest.mark.parametrize("matrix", [S2, S3], ids=["2x2", "3x3"])
@pytest.mark.parametrize("name", ["dv", "nwj", "infonce", "jsd"])
def test_bound_matches_hand_formula(matrix, name):
    got = getattr(bounds, name)(torch.tensor(matrix, dtype=torch.float64))
    assert got.ndim == 0
    assert got.item() == pytest.approx(_ref(matrix)[name], rel=1e-12, abs=1e-12)


def test_2x2_by_hand():
    """The 2×2 case written out: diag (1, 3), off-diagonal (0, 2)."""
    s = torch.tensor(S2, dtype=torch.float64)
    assert bounds.dv(s).item() == pytest.approx(2 - math.log((1 + math.e**2) / 2), abs=1e-12)
    assert bounds.nwj(s).item() == pytest.approx(2 - (1 + math.e**2) / (2 * math.e), abs=1e-12)
    row0 = 1 - math.log((math.e + 1) / 2)
    row1 = 3 - math.log((math.e**2 + math.e**3) / 2)
    assert bounds.infonce(s).item() == pytest.approx((row0 + row1) / 2, abs=1e-12)
    # SMILE with clip 1 turns the off-diagonal 2 into 1
    expected = 2 - math.log((1 + math.e) / 2)
    assert bounds.smile(s, clip=1.0).item() == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("clip", [0.25, 1.0, 50.0])
def test_smile_matches_hand_formula(clip):
    got = bounds.smile(torch.tensor(S3, dtype=torch.float64), clip=clip).item()
    assert got == pytest.approx(_ref(S3, clip)["smile"], abs=1e-12)


def test_smile_equals_dv_when_clip_inactive():
    s = torch.tensor(S3, dtype=torch.float64)
    assert bounds.smile(s, clip=2.5).item() == pytest.approx(bounds.dv(s).item(), abs=1e-14)


def test_joint_and_marginal_terms():
    s = torch.tensor(S3, dtype=torch.float64)
    off = [v for i, row in enumerate(S3) for j, v in enumerate(row) if i != j]
    assert bounds.joint_term(s).item() == pytest.approx((0.5 + 1.5 - 0.4) / 3, abs=1e-14)
    expected = math.log(sum(math.exp(v) for v in off) / 6)
    assert bounds.log_mean_exp_marginal(s).item() == pytest.approx(expected, abs=1e-14)


def test_mine_value_is_dv_and_gradient_uses_moving_average():
    """d MINE / d S_ij (i ≠ j) = −e^{S_ij} / (N(N−1) ā), ā the moving average after this batch."""
    s1 = torch.tensor(S3, dtype=torch.float64)
    s2 = (s1 * 0.5 + 0.3).requires_grad_(True)
    state = bounds.MineState(rate=0.25)
    bounds.mine(s1, state)  # first batch initialises ā to its own mean
    avg1 = math.exp(state.log_avg.item())
    value = bounds.mine(s2, state)
    assert value.item() == pytest.approx(bounds.dv(s2.detach()).item(), abs=1e-14)
    value.backward()
    off2 = [(i, j) for i in range(3) for j in range(3) if i != j]
    batch2 = sum(math.exp(s2[i, j].item()) for i, j in off2) / 6
    avg2 = 0.75 * avg1 + 0.25 * batch2
    assert math.exp(state.log_avg.item()) == pytest.approx(avg2, rel=1e-12)
    for i, j in off2:
        expected = -math.exp(s2[i, j].item()) / (6 * avg2)
        assert s2.grad[i, j].item() == pytest.approx(expected, rel=1e-10)
    for i in range(3):
        assert s2.grad[i, i].item() == pytest.approx(1 / 3, rel=1e-12)
    # the plain DV gradient divides by the batch mean instead, so the two differ here
    s3 = s2.detach().clone().requires_grad_(True)
    bounds.dv(s3).backward()
    assert not torch.allclose(s3.grad, s2.grad)


def test_mine_without_state_is_dv():
    s = torch.tensor(S3, dtype=torch.float64)
    assert bounds.mine(s).item() == bounds.dv(s).item()


def test_cosine_scores_and_cos_dv():
    za = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]], dtype=torch.float64)
    zb = torch.tensor([[2.0, 0.0], [1.0, 1.0], [0.0, -1.0]], dtype=torch.float64)
    s = bounds.cosine_scores(za, zb, temperature=0.5)
    r = 1 / math.sqrt(2)
    expected = torch.tensor([[1, r, 0], [0, r, -1], [r, 1, -r]], dtype=torch.float64) / 0.5
    assert s.dtype == torch.float64
    assert torch.allclose(s, expected, atol=1e-12)
    assert bounds.cos_dv(za, zb, 0.5).item() == pytest.approx(bounds.dv(expected).item(), abs=1e-12)


def test_cos_dv_of_collapsed_encoder_is_zero_and_bounded():
    z = torch.ones(8, 4)
    assert bounds.cos_dv(z, z, temperature=0.1).item() == pytest.approx(0.0, abs=1e-5)
    g = torch.Generator().manual_seed(0)
    za = torch.randn(64, 4, generator=g)
    assert bounds.cos_dv(za, za, temperature=0.1).item() <= 2 / 0.1


# ------------------------------------------------------------------------- numerical stability

ALL = {
    "dv": bounds.dv,
    "nwj": bounds.nwj,
    "infonce": bounds.infonce,
    "jsd": bounds.jsd,
    "smile": bounds.smile,
    "mine": bounds.mine,
}


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("scale", [1e2, 1e4])
def test_large_scores_give_no_nan(name, scale):
    g = torch.Generator().manual_seed(1)
    s = (torch.rand(16, 16, generator=g) * 2 - 1) * scale
    value = ALL[name](s)
    assert not torch.isnan(value)
    if name == "nwj":
        # marginal scores up to 1e2/1e4 overflow exp in float32: documented −inf
        assert value.item() == -math.inf
    else:
        assert torch.isfinite(value)


def test_large_negative_marginals_are_exact():
    """Off-diagonal −1e4 contributes e^{−1e4} = 0 to every marginal term."""
    s = torch.full((4, 4), -1e4)
    s.fill_diagonal_(2.0)
    assert bounds.nwj(s).item() == pytest.approx(2.0)
    assert bounds.infonce(s).item() == pytest.approx(math.log(4), rel=1e-6)
    assert bounds.dv(s).item() == pytest.approx(2.0 + 1e4, rel=1e-6)
    assert bounds.jsd(s).item() == pytest.approx(-_softplus(-2.0), rel=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", sorted(ALL))
def test_half_precision_inputs_are_upcast(dtype, name):
    g = torch.Generator().manual_seed(2)
    s = (torch.randn(32, 32, generator=g) * 8).to(dtype)
    low = ALL[name](s)
    ref = ALL[name](s.double())  # same (rounded) entries, computed in float64
    assert low.dtype == torch.float32
    assert low.item() == pytest.approx(ref.item(), rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("name", sorted(ALL))
def test_gradients_exist_and_are_finite(name):
    g = torch.Generator().manual_seed(3)
    s = torch.randn(8, 8, generator=g, requires_grad=True)
    if name == "mine":
        ALL[name](s, bounds.MineState()).backward()
    else:
        ALL[name](s).backward()
    assert s.grad is not None and torch.isfinite(s.grad).all()
    # every bound rewards the joint scores: ∂/∂S_ii > 0
    assert (torch.diagonal(s.grad) > 0).all()


# ------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize(
    ("scores", "err", "fragment"),
    [
        (torch.zeros(3, 4), ValueError, "square"),
        (torch.zeros(3), ValueError, "square"),
        (torch.zeros(1, 1), ValueError, "N >= 2"),
        (torch.tensor([[0.0, float("nan")], [0.0, 0.0]]), ValueError, "NaN"),
        (torch.tensor([[0.0, float("inf")], [0.0, 0.0]]), ValueError, "infinite"),
        (torch.zeros(3, 3, dtype=torch.int64), TypeError, "floating"),
        ([[0.0, 1.0], [1.0, 0.0]], TypeError, "torch.Tensor"),
    ],
)
def test_bad_scores_rejected(name, scores, err, fragment):
    with pytest.raises(err, match=fragment):
        ALL[name](scores)


@pytest.mark.parametrize("clip", [0, -1.0, math.inf, math.nan, True, "5"])
def test_smile_rejects_bad_clip(clip):
    with pytest.raises(ValueError, match="clip"):
        bounds.smile(torch.zeros(3, 3), clip=clip)


@pytest.mark.parametrize("rate", [0.0, -0.1, 1.5, math.nan])
def test_mine_state_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match="rate"):
        bounds.MineState(rate=rate)


@pytest.mark.parametrize(
    ("za", "zb", "temperature", "err"),
    [
        (torch.zeros(3, 2), torch.zeros(3, 3), 0.1, ValueError),
        (torch.zeros(3, 2), torch.zeros(3, 2), 0.0, ValueError),
        (torch.zeros(3, 2), torch.zeros(3, 2), math.inf, ValueError),
        (torch.zeros(3, 2, dtype=torch.int64), torch.zeros(3, 2), 0.1, TypeError),
        (torch.full((3, 2), math.nan), torch.zeros(3, 2), 0.1, ValueError),
        ([[0.0]], torch.zeros(1, 1), 0.1, TypeError),
    ],
)
def test_cosine_scores_rejects_bad_input(za, zb, temperature, err):
    with pytest.raises(err):
        bounds.cosine_scores(za, zb, temperature)
