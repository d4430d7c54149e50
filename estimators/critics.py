"""Critics T(x, y): torch modules that map a batch of N pairs to the score matrix S[N, N].

``S[i, j] = T(x_i, y_j)``: the diagonal scores the joint samples, the off-diagonal entries score
samples of the product of marginals (DESIGN.md §3). Every critic takes ``seed`` and draws its
initial weights from a private ``torch.Generator``, so construction never touches the global RNG.

- :class:`SeparableCritic`  S = g(x) h(y)ᵀ, two MLP encoders (Poole et al. 2019).
- :class:`CosineCritic`     S_ij = cos(g(x_i), h(y_j)) / τ.
- :class:`BilinearCritic`   S = x W yᵀ.
- :class:`ConcatCritic`     S_ij = T([x_i, y_j]) with one MLP on the concatenated pair; the first
  layer is split, W[x; y] = W_x x + W_y y, so it costs two [N, H] products instead of N² of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

from estimators.bounds import cosine_scores

CRITICS = ("separable", "cosine", "bilinear", "concat")


def _positive_int(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _linear(d_in: int, d_out: int, generator: torch.Generator, bias: bool = True) -> nn.Linear:
    """nn.Linear with PyTorch's default init, U(−1/√fan_in, 1/√fan_in), drawn from ``generator``.

    The layer is built on the meta device first, so the global RNG is never consumed.
    """
    layer = nn.Linear(d_in, d_out, bias=bias, device="meta").to_empty(device="cpu")
    bound = 1.0 / math.sqrt(d_in)
    with torch.no_grad():
        for p in (layer.weight, layer.bias):
            if p is not None:
                p.copy_((torch.rand(p.shape, generator=generator) * 2 - 1) * bound)
    return layer


def mlp(
    d_in: int, hidden: int, layers: int, d_out: int, generator: torch.Generator
) -> nn.Sequential:
    """``layers`` hidden ReLU layers of width ``hidden``, then a linear map to ``d_out``."""
    mods: list[nn.Module] = []
    width = d_in
    for _ in range(layers):
        mods += [_linear(width, hidden, generator), nn.ReLU()]
        width = hidden
    mods.append(_linear(width, d_out, generator))
    return nn.Sequential(*mods)


def _affine(t: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """t Wᵀ + b of one linear layer (t [B, in], W [out, in]) or of K stacked ones (t [K, B, in],
    W [K, out, in], b [K, out])."""
    if weight.ndim == 2:
        return torch.nn.functional.linear(t, weight, bias)
    return torch.baddbmm(bias.unsqueeze(-2), t, weight.mT)


class SeparableCritic(nn.Module):
    """S_ij = g(x_i)·h(y_j) + a(x_i) + b(y_j) with MLP encoders g, h: → R^embed (Poole et al. 2019).

    With ``skip`` each encoder is an MLP plus a linear map of its input, g(x) = W x + MLP(x), so the
    bilinear critic xᵀ W_gᵀ W_h y is reachable directly, and the critic starts at S ≡ 0 (below).
    With ``offsets`` each encoder also emits a scalar a(x) (resp. b(y)), the terms that depend on
    one side only — e.g. the −½ xᵀA x part of a Gaussian log density ratio, which a pure dot
    product of bottlenecked embeddings represents poorly. With ``quadratic`` (and ``offsets``)
    a(x) and b(y) also get quadratic terms in the embedding coordinates, Σ_k α_k g_k(x)² and
    Σ_k β_k h_k(y)², starting at 0. Why these: for jointly Gaussian (X, Y) with canonical
    correlations ρ_k and canonical variates u_k = p_kᵀx, v_k = q_kᵀy, the optimal critic is
    log p(x, y)/(p(x) p(y)) = Σ_k [ρ_k u_k v_k − ρ_k² (u_k² + v_k²)/2] / (1 − ρ_k²) + const,
    a dot product of linear embeddings plus *diagonal* quadratic forms of the same embeddings;
    with ``skip`` the critic family contains it exactly, for 2·embed extra parameters (a full
    quadratic form of the inputs would need d_x² + d_y²).
    ``skip=False, offsets=False`` is the plain S = g(x) h(y)ᵀ. Scores of all N² pairs cost two
    encoder passes and one [N, embed] × [embed, N] product.
    """

    def __init__(
        self, dim_x: int, dim_y: int, *, hidden: int = 256, layers: int = 2, embed: int = 32,
        skip: bool = True, offsets: bool = True, quadratic: bool = False, seed: int = 0,
    ) -> None:
        super().__init__()
        for v, name in ((dim_x, "dim_x"), (dim_y, "dim_y"), (hidden, "hidden"), (embed, "embed")):
            _positive_int(v, name)
        _positive_int(layers, "layers", minimum=0)
        gen = torch.Generator().manual_seed(seed)
        out = embed + int(offsets)
        self.g = mlp(dim_x, hidden, layers, out, gen)
        self.h = mlp(dim_y, hidden, layers, out, gen)
        self.g_skip = _linear(dim_x, out, gen, bias=False) if skip else None
        self.h_skip = _linear(dim_y, out, gen, bias=False) if skip else None
        # one-sided quadratic terms Σ_k α_k g_k(x)², Σ_k β_k h_k(y)², starting at 0
        with_quad = quadratic and offsets
        self.g_quad = nn.Parameter(torch.zeros(embed, 1)) if with_quad else None
        self.h_quad = nn.Parameter(torch.zeros(embed, 1)) if with_quad else None
        if self.g_skip is not None and self.h_skip is not None:
            # Start from S ≡ 0 (the critic of independence; every bound is then finite and
            # small): zero the MLP heads, h's linear path and g's offset. The gradient still
            # flows: ∂S/∂h_skip = g_skip(x) ≠ 0 and ∂S/∂a(x) = 1.
            with torch.no_grad():
                for net in (self.g, self.h):
                    net[-1].weight.zero_()
                    net[-1].bias.zero_()
                self.h_skip.weight.zero_()
                if offsets:
                    self.g_skip.weight[-1].zero_()
        self.offsets = offsets

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.stacked(dict(self.named_parameters()), x, y)

    def stacked(
        self, params: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor
    ) -> torch.Tensor:
        """Scores with the parameters ``params`` (named as in this module) instead of its own.

        The parameters may carry one leading dimension: K critics of this architecture stacked
        by ``torch.func.stack_module_state`` ([K, ...] each), with x [K, B, dx] and y [K, B, dy],
        score as [K, B, B], one batched matrix product per layer (the vectorised training step
        of ``estimators.neural``, without ``vmap``)."""

        def encode(net: nn.Sequential, name: str, t: torch.Tensor) -> torch.Tensor:
            out = t
            for i, layer in enumerate(net):
                if isinstance(layer, nn.Linear):
                    out = _affine(out, params[f"{name}.{i}.weight"], params[f"{name}.{i}.bias"])
                else:
                    out = layer(out)
            skip = params.get(f"{name}_skip.weight")
            return out if skip is None else out + t @ skip.mT

        u, v = encode(self.g, "g", x), encode(self.h, "h", y)
        if not self.offsets:
            return u @ v.mT
        a, b, u, v = u[..., -1:], v[..., -1:], u[..., :-1], v[..., :-1]
        if self.g_quad is not None and self.h_quad is not None:
            a, b = a + (u * u) @ params["g_quad"], b + (v * v) @ params["h_quad"]
        return u @ v.mT + a + b.mT


class CosineCritic(nn.Module):
    """S_ij = cos(g(x_i), h(y_j)) / τ with MLP encoders and a fixed temperature τ.

    Scores lie in [−1/τ, 1/τ], so a DV read-out of this critic is at most 2/τ nats.
    """

    def __init__(
        self, dim_x: int, dim_y: int, *, hidden: int = 256, layers: int = 2, embed: int = 32,
        temperature: float = 0.1, seed: int = 0,
    ) -> None:
        super().__init__()
        for v, name in ((dim_x, "dim_x"), (dim_y, "dim_y"), (hidden, "hidden"), (embed, "embed")):
            _positive_int(v, name)
        _positive_int(layers, "layers", minimum=0)
        if isinstance(temperature, bool) or not (
            isinstance(temperature, (int, float)) and 0 < temperature < math.inf
        ):
            raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")
        gen = torch.Generator().manual_seed(seed)
        self.g = mlp(dim_x, hidden, layers, embed, gen)
        self.h = mlp(dim_y, hidden, layers, embed, gen)
        self.temperature = float(temperature)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return cosine_scores(self.g(x), self.h(y), self.temperature)


class BilinearCritic(nn.Module):
    """S = x W yᵀ with W ∈ R^{dx×dy} (the critic of DESIGN.md §3's bilinear closed form).

    W starts at zero (the critic that scores every pair 0, DV value 0); ``seed`` is accepted for a
    uniform constructor and unused.
    """

    def __init__(self, dim_x: int, dim_y: int, *, seed: int = 0) -> None:
        super().__init__()
        _positive_int(dim_x, "dim_x")
        _positive_int(dim_y, "dim_y")
        del seed
        self.weight = nn.Parameter(torch.zeros(dim_x, dim_y))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x @ self.weight @ y.T


class ConcatCritic(nn.Module):
    """S_ij = T([x_i, y_j]) with one MLP T: R^{dx+dy} → R.

    The first layer is applied to x and y separately and broadcast-added, so the N² pairs are never
    materialised as inputs; the remaining layers run on [rows, N, hidden] blocks of at most
    ``max_block`` elements (memory bound). The cost is still O(N² · hidden²), so this critic is far
    slower than :class:`SeparableCritic` for large N.
    """

    def __init__(
        self, dim_x: int, dim_y: int, *, hidden: int = 256, layers: int = 2, seed: int = 0,
        max_block: int = 1 << 24,
    ) -> None:
        super().__init__()
        for v, name in ((dim_x, "dim_x"), (dim_y, "dim_y"), (hidden, "hidden"), (layers, "layers")):
            _positive_int(v, name)
        gen = torch.Generator().manual_seed(seed)
        net = mlp(dim_x + dim_y, hidden, layers, 1, gen)
        first = net[0]
        self.first_x = _linear(dim_x, hidden, gen)
        self.first_y = _linear(dim_y, hidden, gen, bias=False)
        with torch.no_grad():  # the split of the concatenated first layer W = [W_x, W_y]
            self.first_x.weight.copy_(first.weight[:, :dim_x])
            self.first_x.bias.copy_(first.bias)
            self.first_y.weight.copy_(first.weight[:, dim_x:])
        self.rest = nn.Sequential(*list(net.children())[1:])
        self.max_block = _positive_int(max_block, "max_block")

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        hx = self.first_x(x)  # [N, H]
        hy = self.first_y(y)  # [M, H]
        rows = max(1, self.max_block // max(1, hy.shape[0] * hy.shape[1]))
        out = [
            self.rest(hx[i : i + rows, None, :] + hy[None, :, :]).squeeze(-1)
            for i in range(0, hx.shape[0], rows)
        ]
        return torch.cat(out, dim=0)


def make_critic(
    kind: str, dim_x: int, dim_y: int, *, hidden: int = 256, layers: int = 2, embed: int = 32,
    temperature: float = 0.1, skip: bool = True, offsets: bool = True, quadratic: bool = False,
    seed: int = 0,
) -> nn.Module:
    """Build a critic by name (one of :data:`CRITICS`); ``skip``/``offsets`` apply to separable."""
    if kind == "separable":
        return SeparableCritic(
            dim_x, dim_y, hidden=hidden, layers=layers, embed=embed, skip=skip, offsets=offsets,
            quadratic=quadratic, seed=seed,
        )
    if kind == "cosine":
        return CosineCritic(
            dim_x, dim_y, hidden=hidden, layers=layers, embed=embed, temperature=temperature,
            seed=seed,
        )
    if kind == "bilinear":
        return BilinearCritic(dim_x, dim_y, seed=seed)
    if kind == "concat":
        return ConcatCritic(dim_x, dim_y, hidden=hidden, layers=layers, seed=seed)
    raise ValueError(f"unknown critic {kind!r}; expected one of {', '.join(CRITICS)}")


__all__ = [
    "CRITICS",
    "BilinearCritic",
    "ConcatCritic",
    "CosineCritic",
    "SeparableCritic",
    "make_critic",
    "mlp",
]
