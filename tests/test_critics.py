"""Critics (estimators.critics): score-matrix structure, determinism, gradients, bad arguments."""

from __future__ import annotations

import pytest
import torch

from estimators.critics import (
    CRITICS,
    BilinearCritic,
    ConcatCritic,
    CosineCritic,
    SeparableCritic,
    make_critic,
)

DX, DY, N = 3, 4, 7


def _data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(N, DX, generator=g), torch.randn(N, DY, generator=g)


def _randomize(critic: torch.nn.Module, seed: int = 2) -> torch.nn.Module:
    """Overwrite every parameter with N(0, 0.5²) draws (structure checks need a generic critic)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in critic.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return critic


@pytest.mark.parametrize("kind", CRITICS)
def test_entry_ij_scores_pair_x_i_y_j(kind):
    """S[i, j] must be T(x_i, y_j): score each pair alone and compare with the batched matrix."""
    critic = _randomize(make_critic(kind, DX, DY, hidden=16, embed=8, seed=1))
    x, y = _data()
    s = critic(x, y)
    assert s.shape == (N, N)
    single = torch.tensor(
        [[critic(x[i : i + 1], y[j : j + 1])[0, 0].item() for j in range(N)] for i in range(N)]
    )
    assert torch.allclose(s, single, atol=1e-5)
    assert s.std() > 0  # not a constant critic


def test_separable_plain_is_dot_product_of_encoders():
    critic = SeparableCritic(DX, DY, hidden=16, embed=8, skip=False, offsets=False, seed=0)
    x, y = _data()
    assert torch.allclose(critic(x, y), critic.g(x) @ critic.h(y).T, atol=1e-6)


def test_separable_with_skip_starts_at_zero_scores():
    """S ≡ 0 at initialisation: every bound starts finite (NWJ's e^S cannot blow up)."""
    critic = SeparableCritic(DX, DY, hidden=16, embed=8, seed=0)
    x, y = _data()
    assert torch.count_nonzero(critic(x, y)) == 0


def test_separable_offsets_and_skip_formula():
    critic = _randomize(SeparableCritic(DX, DY, hidden=16, embed=8, seed=0))
    x, y = _data()
    u = critic.g(x) + critic.g_skip(x)
    v = critic.h(y) + critic.h_skip(y)
    expected = u[:, :8] @ v[:, :8].T + u[:, 8:] + v[:, 8:].T
    assert torch.allclose(critic(x, y), expected, atol=1e-6)


def test_separable_quadratic_offsets():
    """With ``quadratic`` the one-sided terms gain Σ α_k u_k² and Σ β_k v_k² in the embedding
    coordinates u = g(x), v = h(y); check the formula and that S still starts at 0."""
    x, y = _data()
    fresh = SeparableCritic(DX, DY, hidden=16, embed=8, quadratic=True, seed=0)
    assert torch.count_nonzero(fresh(x, y)) == 0
    critic = _randomize(fresh)
    u = critic.g(x) + critic.g_skip(x)
    v = critic.h(y) + critic.h_skip(y)
    a = u[:, 8:] + (u[:, :8] ** 2) @ critic.g_quad
    b = v[:, 8:] + (v[:, :8] ** 2) @ critic.h_quad
    expected = u[:, :8] @ v[:, :8].T + a + b.T
    assert torch.allclose(critic(x, y), expected, atol=1e-5)
    assert critic.g_quad.shape == (8, 1)


def test_quadratic_separable_family_contains_the_gaussian_optimal_critic():
    """For pairs corr(X_k, Y_k) = ρ_k the optimal critic log p(x,y)/(p(x)p(y)) is
    Σ_k [ρ_k x_k y_k − ρ_k²(x_k² + y_k²)/2]/(1 − ρ_k²) − ½ Σ_k log(1 − ρ_k²). With linear
    encoders u_k = c_k x_k, v_k = c_k y_k, c_k² = ρ_k/(1 − ρ_k²), and α_k = β_k = −ρ_k/2 the critic
    equals it exactly."""
    rho = torch.tensor([0.3, -0.6, 0.9])
    d = rho.numel()
    critic = SeparableCritic(d, d, hidden=4, layers=0, embed=d, quadratic=True, seed=0).double()
    c = (rho.abs() / (1 - rho**2)).sqrt().double()
    with torch.no_grad():
        for p in critic.parameters():
            p.zero_()
        critic.g[-1].weight[:d] = torch.diag(c * rho.sign())
        critic.h[-1].weight[:d] = torch.diag(c)
        critic.g[-1].bias[d] = -0.5 * torch.log1p(-(rho**2)).sum()
        critic.g_quad[:, 0] = critic.h_quad[:, 0] = (-rho.abs() / 2).double()
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(N, d, generator=g).double(), torch.randn(N, d, generator=g).double()
    r = rho.double()
    xi, yj = x[:, None, :], y[None, :, :]
    exact = ((r * xi * yj - r**2 * (xi**2 + yj**2) / 2) / (1 - r**2)).sum(-1)
    exact = exact - 0.5 * torch.log1p(-(r**2)).sum()
    assert torch.allclose(critic(x, y), exact, atol=1e-10)


@pytest.mark.parametrize("opts", [{}, {"quadratic": True}, {"skip": False, "offsets": False}])
def test_separable_stacked_scores_k_critics_at_once(opts):
    """``stacked`` with K critics' parameters stacked [K, ...] (the training step's batched path)
    must give, in slice k, critic k's own scores on its own batch."""
    critics = [_randomize(SeparableCritic(DX, DY, hidden=16, embed=8, seed=k, **opts), seed=k)
               for k in range(3)]  # fmt: skip
    params, _ = torch.func.stack_module_state(critics)
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(3, N, DX, generator=g), torch.randn(3, N, DY, generator=g)
    s = critics[0].stacked(params, x, y)
    assert s.shape == (3, N, N)
    for k, critic in enumerate(critics):
        assert torch.allclose(s[k], critic(x[k], y[k]), atol=1e-5)


def test_cosine_scores_bounded_by_inverse_temperature():
    critic = CosineCritic(DX, DY, hidden=16, embed=8, temperature=0.25, seed=0)
    x, y = _data()
    s = critic(x, y)
    a = torch.nn.functional.normalize(critic.g(x), dim=1)
    b = torch.nn.functional.normalize(critic.h(y), dim=1)
    assert torch.allclose(s, a @ b.T / 0.25, atol=1e-6)
    assert s.abs().max() <= 1 / 0.25 + 1e-5


def test_bilinear_is_x_w_y_and_starts_at_zero():
    critic = BilinearCritic(DX, DY)
    x, y = _data()
    assert torch.count_nonzero(critic(x, y)) == 0
    w = torch.arange(DX * DY, dtype=torch.float32).reshape(DX, DY) / 10
    with torch.no_grad():
        critic.weight.copy_(w)
    assert torch.allclose(critic(x, y), x @ w @ y.T, atol=1e-5)


def test_concat_equals_mlp_on_concatenated_pair_and_chunking_is_exact():
    """The split first layer W_x x + W_y y + b must equal W [x; y] + b."""
    big = ConcatCritic(DX, DY, hidden=16, layers=2, seed=3)
    small = ConcatCritic(DX, DY, hidden=16, layers=2, seed=3, max_block=40)  # 2 rows per chunk
    x, y = _data()
    w = torch.cat([big.first_x.weight, big.first_y.weight], dim=1)
    pairs = torch.cat([x[:, None, :].expand(N, N, DX), y[None, :, :].expand(N, N, DY)], dim=2)
    manual = big.rest(pairs @ w.T + big.first_x.bias).squeeze(-1)
    assert torch.allclose(big(x, y), manual, atol=1e-5)
    assert torch.allclose(small(x, y), big(x, y), atol=1e-6)


@pytest.mark.parametrize("kind", ["separable", "cosine", "concat"])
def test_seeded_init_is_deterministic_and_leaves_global_rng_alone(kind):
    before = torch.get_rng_state()
    a = make_critic(kind, DX, DY, hidden=16, embed=8, seed=5)
    b = make_critic(kind, DX, DY, hidden=16, embed=8, seed=5)
    c = make_critic(kind, DX, DY, hidden=16, embed=8, seed=6)
    assert torch.equal(torch.get_rng_state(), before)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb)
    assert not torch.equal(pa, pc)


@pytest.mark.parametrize("kind", CRITICS)
def test_gradient_reaches_every_parameter_after_a_few_steps(kind):
    """Zero-initialised heads (separable) block some gradients at step 0 only; after two SGD steps
    on the joint scores every parameter must receive a non-zero, finite gradient."""
    critic = make_critic(kind, DX, DY, hidden=16, embed=8, seed=0)
    x, y = _data()
    opt = torch.optim.SGD(critic.parameters(), lr=0.1)
    for step in range(3):
        opt.zero_grad()
        (-critic(x, y).diagonal().sum()).backward()
        if step < 2:
            opt.step()
    for name, p in critic.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"kind": "mlp"}, "unknown critic"),
        ({"kind": "separable", "hidden": 0}, "hidden"),
        ({"kind": "separable", "layers": -1}, "layers"),
        ({"kind": "separable", "embed": 2.5}, "embed"),
        ({"kind": "cosine", "temperature": 0.0}, "temperature"),
        ({"kind": "concat", "layers": 0}, "layers"),
        ({"kind": "bilinear", "dim_x": 0}, "dim_x"),
    ],
)
def test_bad_arguments_rejected(kwargs, fragment):
    args = {"dim_x": DX, "dim_y": DY, **kwargs}
    kind = args.pop("kind")
    dim_x, dim_y = args.pop("dim_x"), args.pop("dim_y")
    with pytest.raises(ValueError, match=fragment):
        make_critic(kind, dim_x, dim_y, **args)
