"""Optimizers and schedules: parameter groups, LARS update rule, warm-up + cosine, EMA τ."""

from __future__ import annotations

import math
import pickle

import pytest
import torch
from torch import nn

from paradigms.training import optim as O


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 3))


def test_parameter_groups_exclude_norms_and_biases():
    model = _model()
    groups = O.parameter_groups(model, 0.1)
    decay, no_decay = groups
    assert {p.ndim for p in decay["params"]} == {2, 4} and decay["weight_decay"] == 0.1
    assert {p.ndim for p in no_decay["params"]} == {1} and no_decay["weight_decay"] == 0.0
    assert no_decay["lars_exclude"] and not decay["lars_exclude"]
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
    model[3].weight.requires_grad_(False)
    assert len(O.parameter_groups(model, 0.1)[0]["params"]) == 1
    with pytest.raises(ValueError, match="trainable"):
        O.parameter_groups([], 0.1)


@pytest.mark.parametrize("name", O.OPTIMIZERS)
def test_zero_gradient_step_decays_weights_but_not_biases(name):
    model = _model()
    opt = O.build_optimizer(model, O.OptimizerConfig(name=name, lr=0.1, weight_decay=0.5))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for n, p in model.named_parameters():
        if p.ndim <= 1:
            assert torch.equal(p, before[n]), n
        else:
            assert p.norm() < before[n].norm(), n


def test_lars_update_rule_by_hand():
    """Two LARS steps against solo-learn's formula (``solo/utils/lars.py``), in float64:
    r = η‖w‖/(‖g‖ + λ‖w‖ + 1e-8), u = r (g + λw), m = μm + u."""
    w = torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([0.3, -0.1], dtype=torch.float64, requires_grad=True)
    lr, mom, wd, eta = 0.5, 0.9, 0.01, 0.02
    opt = O.LARS(O.parameter_groups([w, b], wd), lr=lr, momentum=mom, eta=eta)
    w_ref, b_ref = w.detach().clone(), b.detach().clone()
    m_w = m_b = None
    for g_w, g_b in [
        (torch.tensor([[0.1, 0.2], [-0.3, 0.4]]), torch.tensor([1.0, -2.0])),
        (torch.tensor([[-0.2, 0.1], [0.0, 0.5]]), torch.tensor([0.5, 0.5])),
    ]:
        w.grad, b.grad = g_w.double(), g_b.double()
        opt.step()
        g = g_w.double()
        u = (g + wd * w_ref) * eta * w_ref.norm() / (g.norm() + wd * w_ref.norm() + 1e-8)
        m_w = u if m_w is None else mom * m_w + u
        w_ref = w_ref - lr * m_w
        m_b = g_b.double() if m_b is None else mom * m_b + g_b.double()
        b_ref = b_ref - lr * m_b
        torch.testing.assert_close(w.detach(), w_ref, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(b.detach(), b_ref, rtol=1e-12, atol=1e-12)


def test_warmup_cosine_values_and_scheduler():
    k, w, rho = 100, 10, 0.1
    f = [O.warmup_cosine_factor(s, k, w, rho) for s in range(k + 1)]
    assert f[0] == pytest.approx(1 / w) and f[w - 1] == pytest.approx(1.0)
    assert f[w] == pytest.approx(1.0) and f[k] == pytest.approx(rho)
    mid = w + (k - w) // 2
    assert f[mid] == pytest.approx(rho + (1 - rho) / 2)
    assert all(a >= b for a, b in zip(f[w:], f[w + 1 :], strict=False))
    model = _model()
    opt = O.build_optimizer(model, O.OptimizerConfig(name="sgd", lr=0.4))
    sched = O.build_scheduler(opt, k, w, rho)
    seen = []
    for _ in range(k):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([0.4 * x for x in f[:k]])
    pickle.dumps(sched.state_dict())
    with pytest.raises(ValueError, match="warmup_steps"):
        O.build_scheduler(opt, 10, 20)


def test_ema_momentum_schedule_and_update():
    assert O.ema_momentum(0, 50, 0.99) == pytest.approx(0.99)
    assert O.ema_momentum(50, 50, 0.99) == pytest.approx(1.0)
    assert O.ema_momentum(25, 50, 0.99) == pytest.approx(1 - 0.01 / 2)
    assert O.ema_momentum(10, 50, 0.99) < O.ema_momentum(11, 50, 0.99)
    online, target = _model(), _model()
    for p in target.parameters():
        p.data.fill_(1.0)
    expected = [0.9 * torch.ones_like(p) + 0.1 * p.detach() for p in online.parameters()]
    O.ema_update(target, online, 0.9)
    for t, e in zip(target.parameters(), expected, strict=True):
        torch.testing.assert_close(t.detach(), e)
    assert math.isclose(O.ema_momentum(0, 1, 0.0), 0.0)


def test_bad_config():
    with pytest.raises(ValueError, match="unknown optimizer"):
        O.OptimizerConfig(name="adam")
    with pytest.raises(ValueError, match="lr"):
        O.OptimizerConfig(lr=-1.0)
    with pytest.raises(ValueError, match="momentum"):
        O.OptimizerConfig(momentum=1.0)


def test_lars_clip_caps_the_layer_step_at_lr():
    """LARC: one step from zero momentum moves w by min(η‖w‖/‖g‖, lr)·g."""
    for grad_scale, expect_clipped in ((1e-6, True), (1e3, False)):
        w = torch.tensor([[3.0, 4.0]], dtype=torch.float64, requires_grad=True)
        opt = O.LARS([w], lr=0.1, momentum=0.9, eta=0.02, clip=True)
        g = torch.tensor([[1.0, 0.0]], dtype=torch.float64) * grad_scale
        w.grad = g.clone()
        opt.step()
        trust = 0.02 * 5.0 / (grad_scale + 1e-8)
        step = min(trust, 0.1)
        assert (trust > 0.1) == expect_clipped
        torch.testing.assert_close(w.detach(), torch.tensor([[3.0, 4.0]]).double() - step * g)


def test_every_recipe_loads_and_builds():
    """Each JSON recipe names a known backbone, optimizer and augmentation and valid sizes."""
    from paradigms.data.image_augment import augmentation_recipe
    from paradigms.networks.images import BACKBONES
    from paradigms.training.recipes import list_recipes, load_recipe, optimizer_config

    pairs = list_recipes()
    assert ("simclr", "cifar10") in pairs and ("byol", "fashion-mnist") in pairs
    for method, data in pairs:
        recipe = load_recipe(method, data)
        assert recipe["backbone"] in BACKBONES
        optimizer_config(recipe)
        aug = recipe["augmentation"]
        augmentation_recipe(aug["recipe"], aug["crop_size"])
        assert recipe["batch_size"] >= 2
    with pytest.raises(ValueError, match="available"):
        load_recipe("simclr", "mnist")


def test_recipe_method_options_are_accepted_by_the_methods():
    methods = pytest.importorskip("paradigms.methods")
    from paradigms.networks.images import build_backbone
    from paradigms.training.recipes import list_recipes, load_recipe

    for method, data in list_recipes():
        recipe = load_recipe(method, data)
        backbone, dim = build_backbone("smallcnn", in_channels=1, width=2)
        methods.get_method(method)(backbone, dim, **recipe["method_options"])
