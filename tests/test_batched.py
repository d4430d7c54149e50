"""The batched run engine (``paradigms.training.batched``): each run of a batch equals the same run
trained alone by ``paradigms.training.loop.train``.

In float64 (the default dtype set for these tests) the engine's arithmetic differs from the loop's
only in rounding: a vmap'd matmul or BatchNorm reduces in another order, the stacked AdamW is not
torch's fused kernel. The deviation is measured as max |a − b| over a tensor divided by the largest
entry of the run's parameters and buffers (for the held-out embeddings z_a, z_b: by the largest
|z|). Measured at every evaluation of 30-step runs of every supported method: 3e-11–4e-10 for
SDMI, SimSiam, BYOL, JMI, MoCo v3, SimCLR, VICReg; 2.6e-9 (Barlow) and 8.4e-9 (Taylor-DV),
embeddings alike. The largest deviations sit in biases that the loss cannot see (a Linear bias
before BatchNorm or before a batch standardization): their gradient is rounding noise, which
AdamW's m/(√v + ε) turns into steps of up to η·|g|/ε, different noise in each computation, and
which reaches the eval-mode embeddings through the BN running means. Relative per-tensor
deviations of such noise-driven tensors are meaningless (a running mean of ~1e-17 differs by
100 %), hence the scale of the whole state. The bar is :data:`STATE_RTOL` = 1e-7 (12× the worst
seen); each planted fault below moves the states by 3e-2 to 6e-2 within 10 steps. It holds for
these short runs: training amplifies rounding differences, so long runs drift apart further, as
two solo runs on different BLAS builds would. The loop logs its losses in float32
(``block.loss(...).float()``) and computes the monitors from float32 embeddings, so a last-bit
float64 difference can move them by a float32 rounding, which conditioning amplifies (worst seen
7e-9 relative, Taylor-DV's JSD): :data:`LOG_RTOL` = 1e-6 for them. Accuracies are counts: equal,
or one test sample apart when a float32 rounding flips a tie.

The fault tests plant an error into the engine (run 1 given run 0's batches; the optimizer's
moments shared across runs; one learning rate for all) and check that the comparison fails.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import torch

from paradigms.training import batched
from paradigms.training.batched import batch_groups, train_batched
from paradigms.training.config import TrainConfig
from paradigms.training.loop import train

STATE_RTOL = 1e-7
LOG_RTOL = 1e-6
BASE = TrainConfig(
    method="sdmi", steps=30, eval_every=10, eval_pairs=256, probe_train=256, probe_test=256,
    linear_probe=False, progress=False,
)  # fmt: skip


@pytest.fixture(autouse=True)
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


class _Recorder:
    """An ``on_eval`` hook keeping each evaluation's parameters, buffers and embeddings."""

    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []

    def __call__(self, step: int, method: Any, x_a: torch.Tensor, x_b: torch.Tensor) -> None:
        z_a, z_b = method.embed_pair(x_a, x_b)
        state = {k: v.clone() for k, v in method.state_dict().items()}
        self.states.append({**state, "z_a": z_a.clone(), "z_b": z_b.clone()})


def _relative(a: Any, b: Any) -> float:
    return abs(a - b) / max(abs(a), 1e-300)


def _state_deviation(solo: dict[str, torch.Tensor], other: dict[str, torch.Tensor]) -> float:
    """Worst max |a − b| of the floating tensors over the largest entry of the run's state
    (embeddings: over the largest |z|); integer buffers (BN batch counts) must be equal."""
    assert solo.keys() == other.keys()
    scale = {False: 0.0, True: 0.0}
    for name, tensor in solo.items():
        if tensor.is_floating_point():
            is_z = name.startswith("z_")
            scale[is_z] = max(scale[is_z], float(tensor.abs().max()))
    worst = 0.0
    for name, tensor in solo.items():
        if not tensor.is_floating_point():
            assert torch.equal(tensor, other[name]), name
            continue
        gap = float((tensor - other[name]).abs().max()) / scale[name.startswith("z_")]
        assert gap <= STATE_RTOL, (name, gap)
        worst = max(worst, gap)
    return worst


def _compare_logs(solo: Any, other: Any, where: str, n_test: int) -> float:
    """Worst relative deviation of the logged numbers; accuracies at most one sample apart."""
    if isinstance(solo, dict):
        assert solo.keys() == other.keys(), where
        keys = [k for k in solo if k != "seconds"]
        return max([_compare_logs(solo[k], other[k], f"{where}.{k}", n_test) for k in keys] + [0])
    if isinstance(solo, list) and solo and isinstance(solo[0], dict):
        assert len(solo) == len(other), where
        return max(_compare_logs(a, b, f"{where}[{i}]", n_test)
                   for i, (a, b) in enumerate(zip(solo, other, strict=True)))  # fmt: skip
    if isinstance(solo, float) and isinstance(other, float):
        if where.endswith("_acc"):
            assert abs(solo - other) <= 1 / n_test + 1e-12, (where, solo, other)
            return 0.0
        deviation = _relative(solo, other)
        assert deviation <= LOG_RTOL, (where, solo, other)
        return deviation
    assert solo == other, (where, solo, other)
    return 0.0


def check_equivalent(configs: list[TrainConfig]) -> tuple[float, float]:
    """Train every config alone and all of them batched; assert each batched run equals its solo
    run (states and embeddings at every evaluation, history, summary); return the worst state and
    log deviations."""
    solo_hooks = [_Recorder() for _ in configs]
    batch_hooks = [_Recorder() for _ in configs]
    solo = [train(c, on_eval=h) for c, h in zip(configs, solo_hooks, strict=True)]
    together = train_batched(configs, on_eval=batch_hooks)
    worst_state = worst_log = 0.0
    for i, config in enumerate(configs):
        alone, joint = solo_hooks[i].states, batch_hooks[i].states
        assert len(alone) == len(joint) == config.steps // config.eval_every + 1
        for a, b in zip(alone, joint, strict=True):
            worst_state = max(worst_state, _state_deviation(a, b))
        n_test = config.probe_test or 1
        worst_log = max(worst_log, _compare_logs(solo[i], together[i], f"run{i}", n_test))
    return worst_state, worst_log


@pytest.mark.parametrize(
    "method, ablate",
    [("sdmi", ""), ("sdmi", "marginal"), ("sdmi", "stop-grad"), ("sdmi", "alternating"),
     ("sdmi", "predictor,marginal"), ("simsiam", ""), ("simsiam", "stop-grad"), ("byol", ""),
     ("byol", "predictor"), ("jmi", ""), ("jmi", "marginal"), ("mocov3", ""), ("jmi-taylor", ""),
     ("jmi-taylor", "regularizer"), ("simclr", ""), ("simclr", "marginal"), ("barlow", ""),
     ("vicreg", ""), ("vicreg", "regularizer")],
)  # fmt: skip
def test_each_batched_run_equals_its_solo_run(method, ablate):
    configs = [replace(BASE, method=method, ablate=ablate, seed=s) for s in (0, 1)]
    worst_state, worst_log = check_equivalent(configs)
    assert worst_state <= STATE_RTOL and worst_log <= LOG_RTOL


@pytest.mark.parametrize("method", ["sdmi", "byol"])
def test_token_sequences_with_the_1d_cnn_each_equal_their_solo_run(method):
    configs = [replace(BASE, method=method, data="markov-sequences", seed=s, lr=5e-3 * (1 + s))
               for s in (0, 1)]  # fmt: skip
    check_equivalent(configs)


def test_mixed_configurations_each_match_their_solo_run(tmp_path):
    """Seeds, learning rates, weight decay, schedules, an ablation, an M-step, an optimizer and
    the linear probe mixed in one call (groups of one are trained by the loop itself); files
    written as the loop writes them."""
    configs = [
        replace(BASE, seed=0, out=str(tmp_path / "batched0")),
        replace(BASE, seed=1, lr=1e-2, weight_decay=1e-3, linear_probe=True),
        replace(BASE, seed=2, ablate="marginal"),
        replace(BASE, seed=3, lr_schedule="cosine", warmup_steps=5, warmup_start_lr=1e-4),
        replace(BASE, seed=4, optimizer="sgd", lr=0.05, momentum=0.8),
        replace(BASE, seed=5, method_options={"target_update": "ema"}, eval_every=15),
        replace(BASE, seed=6, optimizer="sgd", lr=0.02, momentum=0.5, weight_decay=1e-3),
    ]
    assert batch_groups(configs) == [[0, 1, 3], [2], [4, 6], [5]]
    check_equivalent(configs)
    train(replace(configs[0], out=str(tmp_path / "solo0")))
    for name in ("metrics.jsonl", "summary.json"):
        solo = (tmp_path / "solo0" / name).read_text(encoding="utf-8").splitlines()
        joint = (tmp_path / "batched0" / name).read_text(encoding="utf-8").splitlines()
        if name == "summary.json":
            solo, joint = [json.loads("".join(solo))], [json.loads("".join(joint))]
            for s in solo + joint:
                s.pop("seconds")
                s["config"].pop("out")
        else:
            solo, joint = [json.loads(x) for x in solo], [json.loads(x) for x in joint]
        _compare_logs(solo, joint, name, BASE.probe_test or 1)


def test_a_diverging_run_stops_as_alone_and_leaves_the_other_runs_alone():
    """SGD at lr 1e9 drives Taylor-DV's embeddings to NaN: the run stops at the evaluation where
    the loop stops it, with the same reason, and its batch-mate trains on unchanged."""
    healthy = replace(BASE, method="jmi-taylor", optimizer="sgd", lr=0.05, steps=20, eval_every=5)
    configs = [replace(healthy, lr=1e9), replace(healthy, seed=1)]
    alone = [train(c) for c in configs]
    together = train_batched(configs)
    assert alone[0]["status"] == together[0]["status"] == "stopped"
    for key in ("reason", "steps_done", "final_step"):
        assert alone[0][key] == together[0][key]
    _compare_logs(alone[1], together[1], "healthy", healthy.probe_test or 1)


class _EndAt(_Recorder):
    """A recorder that ends its run once the evaluation step reaches ``at``."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def __call__(self, step: int, method: Any, x_a: torch.Tensor, x_b: torch.Tensor) -> bool:
        super().__call__(step, method, x_a, x_b)
        return step >= self.at


def test_a_hook_ends_its_run_as_alone_and_the_group_when_all_have_ended():
    """A hook that returns True ends its run after that evaluation (status ok, the reason names
    the step) alone and in a batch, with equal states; the other runs train on; once every run has
    ended the group stops stepping (a hook that never ended a run would see 4 evaluations)."""
    configs = [replace(BASE, seed=s) for s in (0, 1)]
    solo = [_EndAt(10), _EndAt(20)]
    together = [_EndAt(10), _EndAt(20)]
    alone = [train(c, on_eval=h) for c, h in zip(configs, solo, strict=True)]
    joint = train_batched(configs, on_eval=together)
    for a, b, ha, hb, at in zip(alone, joint, solo, together, (10, 20), strict=True):
        assert a["status"] == b["status"] == "ok" and a["steps_done"] == b["steps_done"] == at
        assert a["reason"] == b["reason"] == f"ended by the evaluation hook after step {at}"
        assert len(ha.states) == len(hb.states) == at // BASE.eval_every + 1
        for x, y in zip(ha.states, hb.states, strict=True):
            _state_deviation(x, y)
        _compare_logs(a, b, "ended", BASE.probe_test or 1)


def _swap_batches(self, step):
    x_a, x_b = original_views(self, step)
    return torch.cat([x_a[:1], x_a[:1], x_a[2:]]), torch.cat([x_b[:1], x_b[:1], x_b[2:]])


def _shared_moments(self, param, grad, state, eta, decay):
    original_update(self, param, grad, state, eta, decay)
    for moment in state:
        moment.copy_(moment.mean(0, keepdim=True).expand_as(moment))


def _one_lr(self, grads, lr):
    original_step(self, grads, lr[:1].expand_as(lr))


original_views = batched._BatchedGroup._views
original_update = batched._StackedOptimizer._update
original_step = batched._StackedOptimizer.step


@pytest.mark.parametrize(
    "target, name, fault",
    [(batched._BatchedGroup, "_views", _swap_batches),
     (batched._StackedOptimizer, "_update", _shared_moments),
     (batched._StackedOptimizer, "step", _one_lr)],
    ids=["run 1 gets run 0's batches", "shared optimizer moments", "one learning rate"],
)  # fmt: skip
def test_the_equivalence_check_catches_a_planted_fault(monkeypatch, target, name, fault):
    monkeypatch.setattr(target, name, fault)
    configs = [replace(BASE, seed=0, steps=10), replace(BASE, seed=1, steps=10, lr=1e-2)]
    with pytest.raises(AssertionError, match=r"^\('(backbone|projector|predictor)\."):
        check_equivalent(configs)  # the states part at the first evaluation, by O(1e-2)


@pytest.mark.parametrize(
    "change, words",
    [({"optimizer": "lars"}, "LARS"), ({"method": "mocov2"}, "mocov2"),
     ({"data": "fashion-mnist"}, "supported: gaussian-mixture"),
     ({"online_probe": True}, "online probe"), ({"backbone": "smallcnn"}, "mlp, seqcnn")],
)  # fmt: skip
def test_unsupported_configurations_are_refused_before_training(change, words):
    configs = [BASE, replace(BASE, **change)]
    with pytest.raises(ValueError, match=words):
        train_batched(configs)


def test_hooks_must_match_the_configurations():
    with pytest.raises(ValueError, match="hooks"):
        train_batched([BASE], on_eval=[None, None])


def test_a_frozen_predictor_stays_at_its_initialization_alone_and_batched():
    """``pred_frozen`` (the predictor's capacity without its training): the predictor's
    parameters are not trained and keep their initial values in both engines, and each batched
    run still equals its solo run."""
    options = {"target_update": "copy", "pred_frozen": True}
    configs = [replace(BASE, ablate="marginal", method_options=options, seed=s) for s in (0, 1)]
    solo = [_Recorder() for _ in configs]
    together = [_Recorder() for _ in configs]
    for c, h in zip(configs, solo, strict=True):
        train(c, on_eval=h)
    train_batched(configs, on_eval=together)
    for hooks in (solo, together):
        for h in hooks:
            first, last = h.states[0], h.states[-1]
            # its parameters (BatchNorm's running statistics are buffers: they follow the data)
            moved = [k for k in first if k.startswith("predictor.") and "running_" not in k
                     and "num_batches" not in k and not torch.equal(first[k], last[k])]  # fmt: skip
            assert not moved, moved
            assert not torch.equal(first["backbone.net.0.weight"], last["backbone.net.0.weight"])
    for a, b in zip(solo, together, strict=True):
        for x, y in zip(a.states, b.states, strict=True):
            _state_deviation(x, y)


@pytest.mark.parametrize("method, optimizer", [("sdmi", "adamw"), ("byol", "sgd")])
def test_batched_checkpoints_resume_as_the_loop_resumes(tmp_path, method, optimizer):
    """Two runs, 30 steps, checkpoints every 10 (the loop's format, one folder per run). With the
    step-30 checkpoints deleted (a run cut after step 29), the engine resumes its group from step
    20, and the loop resumes a batched run's folder alone; both end where uninterrupted solo runs
    end (states within STATE_RTOL, with a warm-up and cosine schedule; leaving out the optimizer
    moments or the schedule's position when resuming fails this test). Runs that resume from
    different steps are refused."""
    base = replace(BASE, method=method, optimizer=optimizer, lr_schedule="cosine", warmup_steps=5)
    solo = [_Recorder() for _ in (0, 1)]
    for s, h in zip((0, 1), solo, strict=True):
        train(replace(base, seed=s), on_eval=h)
    configs = [replace(base, seed=s, out=str(tmp_path / f"run{s}"), checkpoint_every=10)
               for s in (0, 1)]  # fmt: skip
    train_batched(configs)

    def cut() -> None:
        for c in configs:
            (tmp_path / c.out / "checkpoints" / "ckpt-000000030.pt").unlink()

    cut()
    again = [_Recorder() for _ in configs]
    summaries = train_batched([replace(c, resume=True) for c in configs], on_eval=again)
    assert [s["steps_done"] for s in summaries] == [30, 30]
    for alone, resumed in zip(solo, again, strict=True):
        assert len(resumed.states) == 1  # step 30 only: the run continued from step 20
        _state_deviation(alone.states[-1], resumed.states[-1])
    cut()
    loop = _Recorder()
    train(replace(configs[1], resume=True), on_eval=loop)
    assert len(loop.states) == 1
    _state_deviation(solo[1].states[-1], loop.states[-1])
    # now run 0 resumes from step 20 and run 1 (the loop wrote its step 30 again) from 30
    with pytest.raises(ValueError, match="different steps"):
        train_batched([replace(c, resume=True) for c in configs])
