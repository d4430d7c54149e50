"""Methods, bases, heads and ablation switches (paradigms.methods, sdmi, jmi, ablations)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from paradigms.methods import METHODS, get_method
from paradigms.methods.ablations import ABLATIONS, parse_ablations
from paradigms.methods.objectives import barlow_twins_loss, joint_only_loss, vicreg_loss
from paradigms.methods.sdmi_base import ema_momentum
from paradigms.networks import build_backbone
from paradigms.networks.mlp import MLPEncoder, mlp_head

torch.set_num_threads(1)
DIM = 12


def make(name: str, ablate: str = "", **options) -> nn.Module:
    torch.manual_seed(0)
    backbone = MLPEncoder(DIM, hidden_dim=16, depth=1)
    cls = get_method(name)
    return cls(
        backbone, 16, ablate=parse_ablations(ablate), proj_hidden_dim=16, proj_dim=8, **options
    )


def views(n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, DIM, generator=g)
    return x + 0.1 * torch.randn(n, DIM, generator=g), x + 0.1 * torch.randn(n, DIM, generator=g)


def grads_of(params) -> list[torch.Tensor | None]:
    return [p.grad for p in params]


def test_registry_has_the_contract_names() -> None:
    expected = {"sdmi", "jmi", "simsiam", "byol", "mocov2", "mocov3", "simclr", "barlow", "vicreg"}
    assert expected <= set(METHODS)
    assert "jmi-taylor" in METHODS
    for name, cls in METHODS.items():
        assert cls.name == name and cls.paradigm in ("sdmi", "jmi") and cls.reference
        assert cls.ablatable <= set(ABLATIONS)
    with pytest.raises(ValueError, match="unknown method 'simclr2'"):
        get_method("simclr2")


def test_parse_ablations() -> None:
    assert parse_ablations("") == frozenset()
    assert parse_ablations(" predictor , marginal,") == {"predictor", "marginal"}
    assert parse_ablations(["stop-grad"]) == {"stop-grad"}
    with pytest.raises(ValueError, match=r"unknown ablation.*'projector'.*expected"):
        parse_ablations("predictor,projector")


@pytest.mark.parametrize(
    ("method", "ablation"),
    [
        ("simclr", "predictor"),
        ("jmi", "regularizer"),
        ("byol", "stop-grad"),
        ("mocov2", "predictor"),
    ],
)
def test_inapplicable_ablation_is_rejected(method: str, ablation: str) -> None:
    with pytest.raises(ValueError, match=f"'{ablation}'.*do not apply to method '{method}'"):
        make(method, ablation)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_steps_with_finite_loss_and_gradients(name: str) -> None:
    """One update of each block: finite loss, finite gradients on the block's parameters, and the
    parameters move (the loss is not constant in them)."""
    method = make(name)
    x_a, x_b = views()
    for block in method.update_blocks():
        before = [p.detach().clone() for p in block.params]
        for p in block.params:
            p.grad = None
        loss = block.loss(x_a, x_b)
        assert loss.ndim == 0 and torch.isfinite(loss)
        loss.backward()
        with_grad = [p for p in block.params if p.grad is not None]
        assert with_grad and all(torch.isfinite(p.grad).all() for p in with_grad)
        torch.optim.SGD(block.params, lr=0.1).step()
        assert any(not torch.equal(b, p) for b, p in zip(before, block.params, strict=True))
    method.after_step(0.5)
    z_a, z_b = method.embed_pair(x_a, x_b)
    assert z_a.shape == z_b.shape == (16, 8)


def test_sdmi_blocks_alternate_with_stop_gradient() -> None:
    """E-step: gradients reach θ only; M-step: ξ only (θ frozen)."""
    method = make("sdmi")
    e_step, m_step = method.update_blocks()
    assert (e_step.name, m_step.name) == ("E", "M")
    online, target = set(map(id, method.online_params())), set(map(id, method.target_params()))
    assert {id(p) for p in e_step.params} == online and {id(p) for p in m_step.params} == target
    x_a, x_b = views()
    method.zero_grad()
    e_step.loss(x_a, x_b).backward()
    assert all(p.grad is None for p in method.target_params())
    assert any(p.grad is not None for p in method.online_params())
    method.zero_grad(set_to_none=True)
    m_step.loss(x_a, x_b).backward()
    assert all(p.grad is None for p in method.online_params())
    assert all(p.grad is not None for p in method.target_params())


def test_sdmi_ablations_change_the_update() -> None:
    x_a, x_b = views()
    no_stop = make("sdmi", "stop-grad")
    e_step = no_stop.update_blocks()[0]
    e_step.loss(x_a, x_b).backward()
    assert all(p.grad is not None for p in no_stop.target_params())
    assert len(e_step.params) == len(no_stop.online_params()) + len(no_stop.target_params())

    simultaneous = make("sdmi", "alternating")
    (block,) = simultaneous.update_blocks()
    assert block.name == "EM"
    assert isinstance(make("sdmi", "predictor").predictor, nn.Identity)
    # Marginal off: the objective is the DV joint term alone.
    p, z = torch.randn(8, 8), torch.randn(8, 8)
    ablated = make("sdmi", "marginal")
    assert torch.allclose(ablated.objective(p, z), joint_only_loss(p, z, 0.1))
    assert not torch.allclose(make("sdmi").objective(p, z), joint_only_loss(p, z, 0.1))


def test_simsiam_stop_gradient_changes_the_gradient() -> None:
    """With stop-grad, z enters the loss as a constant; without it the gradient also flows through
    z, so the backbone gradients differ."""
    x_a, x_b = views()
    grads = []
    for ablate in ("", "stop-grad"):
        method = make("simsiam", ablate)
        (block,) = method.update_blocks()
        block.loss(x_a, x_b).backward()
        grads.append(torch.cat([p.grad.flatten() for p in method.backbone.parameters()]))
    assert not torch.allclose(grads[0], grads[1])


def test_simsiam_output_bn_affine_switch() -> None:
    """Default: the released code's affine-free output BN (no learnable scale/shift, so z keeps
    batch variance 1 per coordinate in training mode); ``proj_bn_affine=True`` learns γ, β and
    they receive gradients. A non-bool is rejected."""
    bn = make("simsiam").projector[-1]
    assert isinstance(bn, nn.BatchNorm1d) and not bn.affine
    method = make("simsiam", proj_bn_affine=True)
    bn = method.projector[-1]
    assert bn.affine
    x_a, x_b = views()
    (block,) = method.update_blocks()
    assert {id(bn.weight), id(bn.bias)} <= {id(p) for p in block.params}
    block.loss(x_a, x_b).backward()
    assert bn.weight.grad.abs().sum() > 0
    method.train()
    z = method.online(x_a)
    assert torch.allclose(z.var(dim=0, unbiased=False), torch.ones(8), atol=1e-3)  # γ = 1 at init
    with pytest.raises(TypeError, match="proj_bn_affine must be a bool"):
        make("simsiam", proj_bn_affine=1)


def test_ema_schedule_and_update() -> None:
    assert ema_momentum(0.99, 0.0) == pytest.approx(0.99)
    assert ema_momentum(0.99, 1.0) == pytest.approx(1.0)
    assert ema_momentum(0.99, 0.5) == pytest.approx(0.995)
    method = make("byol")
    for p in method.backbone.parameters():
        p.data.add_(1.0)  # online moves away from the (copied) target
    online = [p.detach().clone() for p in method.backbone.parameters()]
    target = [p.detach().clone() for p in method.target_backbone.parameters()]
    method.after_step(0.0)
    for t_old, o, t_new in zip(target, online, method.target_backbone.parameters(), strict=True):
        assert torch.allclose(t_new, 0.99 * t_old + 0.01 * o)
    assert not any(p.requires_grad for p in method.target_backbone.parameters())


def test_moco_v2_queue_receives_the_keys() -> None:
    method = make("mocov2", queue_size=40)
    x_a, x_b = views(16)
    (block,) = method.update_blocks()
    block.loss(x_a, x_b).backward()
    method.after_step(0.1)
    with torch.no_grad():
        keys = torch.cat([method.target(x_b), method.target(x_a)])
    assert torch.allclose(method.queue[:32], nn.functional.normalize(keys, dim=1), atol=1e-6)
    assert int(method.queue_ptr) == 32
    block.loss(x_a, x_b)
    method.after_step(0.2)
    assert int(method.queue_ptr) == (32 + 32) % 40  # wraps around


def test_jmi_shares_one_encoder_and_ablations_leave_the_joint_term() -> None:
    method = make("jmi")
    (block,) = method.update_blocks()
    assert len(block.params) == len(list(method.parameters()))
    x_a, x_b = views()
    block.loss(x_a, x_b).backward()
    assert all(p.grad is not None for p in method.parameters())
    z_a, z_b = torch.randn(16, 8), torch.randn(16, 8)
    assert torch.allclose(make("jmi", "marginal").objective(z_a, z_b), joint_only_loss(z_a, z_b))
    assert torch.allclose(
        make("simclr", "marginal").objective(z_a, z_b), joint_only_loss(z_a, z_b, 0.5)
    )
    barlow = make("barlow", "regularizer").objective(z_a, z_b)
    assert torch.allclose(barlow, barlow_twins_loss(z_a, z_b, 0.0))
    vic = make("vicreg", "regularizer").objective(z_a, z_b)
    assert torch.allclose(vic, vicreg_loss(z_a, z_b, 25.0, 0.0, 0.0))
    # Taylor-DV without its second-order term: −s·tr(C^ab) ≥ −d (each correlation is ≤ 1), and
    # = −d exactly for identical views.
    taylor = make("jmi-taylor", "regularizer")
    assert taylor.objective(z_a, z_a).item() == pytest.approx(-8.0, rel=1e-4)
    assert taylor.objective(z_a, z_b).item() > -8.0


def test_heads_follow_the_papers_bn_placement() -> None:
    simsiam = make("simsiam")
    bns = [m for m in simsiam.projector if isinstance(m, nn.BatchNorm1d)]
    assert len(bns) == 3 and not bns[-1].affine  # BN on every layer, output BN without affine
    assert simsiam.predictor[0].out_features == 2  # bottleneck d/4
    moco = make("mocov2")
    assert not any(isinstance(m, nn.BatchNorm1d) for m in moco.projector)
    head = mlp_head(4, 6, 3, num_layers=2)
    assert [type(m) for m in head] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]


def test_backbone_builder_and_encoder_errors() -> None:
    module, dim = build_backbone("mlp", input_shape=(DIM,), hidden_dim=10)
    assert dim == 10 and module(torch.randn(4, DIM)).shape == (4, 10)
    with pytest.raises(ValueError, match="MLPEncoder expects"):
        module(torch.randn(4, DIM + 1))
    with pytest.raises(ValueError, match="needs flat inputs"):
        build_backbone("mlp", input_shape=(1, 28, 28))
    with pytest.raises(ValueError, match="unknown backbone 'vit'"):
        build_backbone("vit", input_shape=(DIM,))
    with pytest.raises(ValueError, match="hidden_dim"):
        MLPEncoder(DIM, hidden_dim=0)


def _variants() -> list[tuple[str, dict, str]]:
    """(method, options, ablation) for every accepted ablation of every method and M-step."""
    cases = []
    for name, cls in METHODS.items():
        updates = ("gradient", "copy", "ema") if cls.ablation_keys else (None,)
        for update in updates:
            options = {"target_update": update} if update else {}
            cases += [(name, options, a) for a in sorted(cls.applicable_ablations(**options))]
    return cases


def _one_step(method: nn.Module, x_a: torch.Tensor, x_b: torch.Tensor) -> dict[str, torch.Tensor]:
    """The parameters and buffers after one full training step (every block, then after_step)."""
    for block in method.update_blocks():
        opt = torch.optim.SGD(block.params, lr=0.1)
        opt.zero_grad(set_to_none=True)
        block.loss(x_a, x_b).backward()
        opt.step()
    method.after_step(0.5)
    return {k: v.detach().clone() for k, v in method.state_dict().items()}


@pytest.mark.parametrize(("name", "options", "ablation"), _variants())
def test_every_accepted_ablation_changes_the_update(
    name: str, options: dict, ablation: str
) -> None:
    """The same initialization and batch, one step with and without the ablation: some parameter
    of the online or target branch must end elsewhere (a no-op switch would leave all equal)."""
    x_a, x_b = views()
    control = _one_step(make(name, **options), x_a, x_b)
    ablated = _one_step(make(name, ablation, **options), x_a, x_b)
    common = [k for k in control if k in ablated and control[k].is_floating_point()]
    assert common, "no shared parameters to compare"
    moved = [k for k in common if not torch.equal(control[k], ablated[k])]
    assert moved, f"{name} {options} --ablate {ablation} leaves every shared parameter unchanged"


def test_a_no_op_ablation_is_refused() -> None:
    """An EMA target gets no gradient, so removing its stop-gradient would change nothing."""
    with pytest.raises(ValueError, match=r"'stop-grad'.*target_update='ema'.*would not change"):
        make("sdmi", "stop-grad", target_update="ema")
    with pytest.raises(ValueError, match=r"'alternating'.*target_update='copy'"):
        make("sdmi", "alternating", target_update="copy")
    from paradigms.training.config import TrainConfig

    with pytest.raises(ValueError, match=r"'stop-grad'.*target_update='ema'"):
        TrainConfig(method="sdmi", ablate="stop-grad", method_options={"target_update": "ema"})


def test_a_frozen_predictor_needs_a_predictor_and_a_bool():
    from paradigms.data import load_dataset
    from paradigms.training.config import TrainConfig
    from paradigms.training.loop import build_method

    data = load_dataset("gaussian-mixture", seed=0)
    method = build_method(TrainConfig(method="sdmi", method_options={"pred_frozen": True}), data)
    trained = {id(p) for p in method.online_params()}
    assert not any(id(p) in trained or p.requires_grad for p in method.predictor.parameters())
    with pytest.raises(ValueError, match="pred_frozen needs a predictor"):
        build_method(TrainConfig(method="sdmi", ablate="predictor",
                                 method_options={"pred_frozen": True}), data)  # fmt: skip
    with pytest.raises(TypeError, match="pred_frozen must be a bool"):
        build_method(TrainConfig(method="sdmi", method_options={"pred_frozen": 1}), data)
