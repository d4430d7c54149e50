"""Recipes equal to solo-learn's: heads, loss formulas (hence gradient scale), lr × B/256, cadence.

The references below are solo-learn's, read at commit 9187ea39 (2026-04): the head layouts of
``solo/methods/<method>.py`` with the sizes of ``scripts/pretrain/{cifar,imagenet-100}/*.yaml``,
and the losses of ``solo/losses/<method>.py`` as the methods combine the two views. They are
written out here independently of this project's objectives (no shared code): a method whose
loss is a multiple of the reference (BYOL's ½Σ(−cos) against Σ(2 − 2cos), Barlow Twins without
``scale_loss``, MoCo v3 without 2τ) fails the value and gradient comparison.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from paradigms.methods import get_method
from paradigms.training.config import config_from_recipe
from paradigms.training.recipes import list_recipes, load_recipe

torch.set_num_threads(1)
FEATURES = 512  # ResNet-18's feature width


def L(i: int, o: int, bias: bool = True) -> tuple:
    return ("Linear", i, o, bias)


def BN(n: int, affine: bool = True) -> tuple:
    return ("BN", n, affine)


R = ("ReLU",)


def layers(module: nn.Module) -> list[tuple]:
    """A head as a list of layer specs; a Linear's bias is compared only where no BN follows it
    (BN removes a bias: solo-learn keeps some, this project drops them)."""
    mods = list(module) if isinstance(module, nn.Sequential) else [module]
    out = []
    for i, m in enumerate(mods):
        if isinstance(m, nn.Linear):
            before_bn = i + 1 < len(mods) and isinstance(mods[i + 1], nn.BatchNorm1d)
            bias = None if before_bn else m.bias is not None
            out.append(("Linear", m.in_features, m.out_features, bias))
        elif isinstance(m, nn.BatchNorm1d):
            out.append(("BN", m.num_features, m.affine))
        elif isinstance(m, nn.ReLU):
            out.append(R)
        else:
            raise AssertionError(f"unexpected layer {m}")
    return out


def spec(*items: tuple) -> list[tuple]:
    """Reference layers with the bias of Linear layers followed by BN left open (None)."""
    out = list(items)
    for i, item in enumerate(out):
        if item[0] == "Linear" and i + 1 < len(out) and out[i + 1][0] == "BN":
            out[i] = (*item[:3], None)
    return out


def _cifar_heads() -> dict[str, dict[str, list[tuple]]]:
    f = FEATURES
    return {
        "simclr": {"projector": spec(L(f, 2048), R, L(2048, 256))},
        "byol": {
            "projector": spec(L(f, 4096), BN(4096), R, L(4096, 256)),
            "predictor": spec(L(256, 4096), BN(4096), R, L(4096, 256)),
        },
        "barlow": {
            "projector": spec(L(f, 2048), BN(2048), R, L(2048, 2048), BN(2048), R, L(2048, 2048))
        },
        "vicreg": {
            "projector": spec(L(f, 2048), BN(2048), R, L(2048, 2048), BN(2048), R, L(2048, 2048))
        },
        "simsiam": {
            "projector": spec(
                *(L(f, 2048), BN(2048), R, L(2048, 2048), BN(2048), R),
                *(L(2048, 2048), BN(2048, affine=False)),
            ),
            "predictor": spec(L(2048, 512), BN(512), R, L(512, 2048)),
        },
        "mocov2": {"projector": spec(L(f, 2048), R, L(2048, 256))},
        "mocov3": {
            "projector": spec(L(f, 4096), BN(4096), R, L(4096, 256), BN(256, affine=False)),
            "predictor": spec(L(256, 4096), BN(4096), R, L(4096, 256, bias=False)),
        },
    }


def reference_heads(method: str, data: str) -> dict[str, list[tuple]]:
    heads = _cifar_heads()[method]
    if data == "imagenet100" and method == "simclr":
        return {"projector": spec(L(FEATURES, 4096), R, L(4096, 512))}
    if data == "imagenet100" and method == "byol":
        return {**heads, "predictor": spec(L(256, 8192), BN(8192), R, L(8192, 256))}
    return heads


SOLO_RECIPES = [(m, d) for m, d in list_recipes() if d in ("cifar10", "cifar100", "imagenet100")]


def build(method: str, data: str) -> nn.Module:
    recipe = load_recipe(method, data)
    torch.manual_seed(0)
    return get_method(method)(nn.Identity(), FEATURES, **recipe["method_options"])


def test_every_solo_learn_method_has_its_three_recipes() -> None:
    methods = {"simclr", "byol", "barlow", "vicreg", "simsiam", "mocov2", "mocov3"}
    datasets = ("cifar10", "cifar100", "imagenet100")
    assert set(SOLO_RECIPES) == {(m, d) for m in methods for d in datasets}


@pytest.mark.parametrize(("method", "data"), SOLO_RECIPES)
def test_heads_match_solo_learn(method: str, data: str) -> None:
    model = build(method, data)
    for name, expected in reference_heads(method, data).items():
        assert layers(getattr(model, name)) == expected, f"{method}-{data} {name}"
    if method in ("byol", "mocov2", "mocov3"):  # the momentum copy has the same layout
        assert layers(model.target_projector) == layers(model.projector)


# --- the losses, as solo-learn computes them ---------------------------------------------------
def _cos(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return F.cosine_similarity(p, z, dim=-1).mean()


def _ce_logits(q, k, tau):
    q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
    return F.cross_entropy(q @ k.T / tau, torch.arange(q.shape[0]))


def solo_simclr(z1, z2, tau):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    idx = torch.arange(n).repeat(2)
    sim = torch.exp(z @ z.T / tau)
    pos_mask = (idx[:, None] == idx[None, :]) & ~torch.eye(2 * n, dtype=torch.bool)
    neg_mask = idx[:, None] != idx[None, :]
    pos = (sim * pos_mask).sum(1)
    neg = (sim * neg_mask).sum(1)
    return -torch.log(pos / (pos + neg)).mean()


def solo_barlow(z1, z2, lambd, scale):
    bn = nn.BatchNorm1d(z1.shape[1], affine=False)
    c = bn(z1).T @ bn(z2) / z1.shape[0]
    on = (torch.diagonal(c) - 1).pow(2).sum()
    off = (c - torch.diag(torch.diagonal(c))).pow(2).sum()
    return scale * (on + lambd * off)


def solo_vicreg(z1, z2, sim_w, var_w, cov_w):
    def var(z):
        return F.relu(1 - torch.sqrt(z.var(0) + 1e-4)).mean()

    def cov(z):
        n, d = z.shape
        zc = z - z.mean(0)
        c = zc.T @ zc / (n - 1)
        return (c - torch.diag(torch.diagonal(c))).pow(2).sum() / d

    return (
        sim_w * F.mse_loss(z1, z2)
        + var_w * (var(z1) + var(z2))
        + cov_w * (cov(z1) + cov(z2))
    )


def reference_loss(model: nn.Module, method: str, x1: torch.Tensor, x2: torch.Tensor):
    if method in ("simclr", "barlow", "vicreg"):
        z1, z2 = model.projector(x1), model.projector(x2)
        if method == "simclr":
            return solo_simclr(z1, z2, model.temperature)
        if method == "barlow":
            return solo_barlow(z1, z2, model.lambd, model.scale_loss)
        return solo_vicreg(z1, z2, *model.weights)
    p1, p2 = model.predictor(model.projector(x1)), model.predictor(model.projector(x2))
    with torch.no_grad():
        z1, z2 = model.target(x1), model.target(x2)
    if method == "byol":  # Σ over views of 2 − 2 cos
        return (2 - 2 * _cos(p2, z1)) + (2 - 2 * _cos(p1, z2))
    if method == "simsiam":
        return -_cos(p1, z2) / 2 - _cos(p2, z1) / 2
    if method == "mocov3":  # Σ over views of 2τ · CE
        tau = model.temperature
        return 2 * tau * (_ce_logits(p1, z2, tau) + _ce_logits(p2, z1, tau))
    if method == "mocov2":  # ½ Σ over views of CE([q·k, q·queue]/τ, 0)
        tau, queue = model.temperature, model.queue

        def ce(q, k):
            q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
            logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.T], dim=1) / tau
            return F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long))

        return (ce(p1, z2) + ce(p2, z1)) / 2
    raise AssertionError(method)


@pytest.mark.parametrize("method", [m for m, d in SOLO_RECIPES if d == "cifar10"])
def test_loss_and_gradient_equal_solo_learn(method: str) -> None:
    """Same parameters, same batch: this project's training loss and solo-learn's formula agree in
    value and in the gradient on every online parameter (so the recipes' lr means the same)."""
    model = build(method, "cifar10")
    if method == "mocov2":
        model.queue = model.queue[:512]  # a short queue keeps the test fast; same formula
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, FEATURES, generator=g)
    x1 = x + 0.3 * torch.randn(64, FEATURES, generator=g)
    x2 = x + 0.3 * torch.randn(64, FEATURES, generator=g)
    (block, *_) = model.update_blocks()
    ours = block.loss(x1, x2)
    params = [p for p in block.params if p.requires_grad]
    grad_ours = torch.autograd.grad(ours, params, allow_unused=True)
    ref = reference_loss(model, method, x1, x2)
    grad_ref = torch.autograd.grad(ref, params, allow_unused=True)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-5)
    # float32 rounding: entries agree to 1e-3 relative, or to 1e-5 of the largest gradient entry
    # (the bias of a Linear before BN has gradient 0 up to rounding in both)
    scale = max(float(b.abs().max()) for b in grad_ref if b is not None)
    for a, b in zip(grad_ours, grad_ref, strict=True):
        if a is None or b is None:
            assert a is None and b is None
            continue
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5 * scale)


def test_learning_rate_scales_with_the_batch_as_solo_learn() -> None:
    assert config_from_recipe("simclr-cifar10").lr == pytest.approx(0.4)
    assert config_from_recipe("simclr-cifar10", batch_size=1024).lr == pytest.approx(1.6)
    assert config_from_recipe("byol-cifar10", batch_size=128).lr == pytest.approx(0.5)
    assert config_from_recipe("byol-cifar10", batch_size=128, lr=0.7).lr == pytest.approx(0.7)
    # the online classifier's lr (solo-learn's classifier_lr) scales the same way
    assert config_from_recipe("mocov3-cifar10").online_probe_lr == pytest.approx(0.3)
    big_batch = config_from_recipe("simclr-cifar10", batch_size=512)
    assert big_batch.online_probe_lr == pytest.approx(0.2)


def test_recipes_evaluate_once_per_epoch_with_the_linear_probe_at_the_end() -> None:
    config = config_from_recipe("simclr-cifar10")
    assert config.steps == 1000 * (50_000 // 256) and config.eval_every == 50_000 // 256
    assert config.warmup_steps == 10 * (50_000 // 256)
    assert config.probe_every > config.steps // config.eval_every  # L-BFGS: first and last only
    assert config.probe_train is None and config.probe_test is None  # the whole splits
    assert config.warmup_start_lr == pytest.approx(3e-5)  # solo-learn's warmup_start_lr


def test_warmup_starts_at_solo_learns_3e_5_and_reaches_the_lr() -> None:
    """Lightning-Bolts' LinearWarmupCosineAnnealingLR, which solo-learn uses: start + k·(lr −
    start)/(W − 1) during warm-up, then cosine to 0 over the remaining steps."""
    from paradigms.training.optim import warmup_cosine_factor

    lr, start, warmup, total = 0.4, 3e-5, 10, 100
    for k in range(total + 1):
        if k < warmup:
            expected = start + k * (lr - start) / (warmup - 1)
        else:
            expected = 0.5 * lr * (1 + math.cos(math.pi * (k - warmup) / (total - warmup)))
        got = lr * warmup_cosine_factor(k, total, warmup, 0.0, start / lr)
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_mocov2_recipe_ends_its_momentum_at_0999() -> None:
    model = build("mocov2", "cifar10")
    from paradigms.methods.sdmi_base import ema_momentum

    assert ema_momentum(model.tau_base, 1.0, model.tau_final) == pytest.approx(0.999)
    assert ema_momentum(model.tau_base, 0.0, model.tau_final) == pytest.approx(0.99)


def test_recipe_names_with_a_hyphenated_method_resolve() -> None:
    assert config_from_recipe("jmi-taylor-fashion-mnist").method == "jmi-taylor"
    with pytest.raises(ValueError, match=r"no recipe named 'swav-cifar10'.*available"):
        config_from_recipe("swav-cifar10")
