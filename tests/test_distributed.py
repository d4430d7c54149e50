"""Distributed helpers: a real 2-process gloo DDP run on CPU must give the loss and gradients of a
single process on the full batch (to 1e-5), for an NT-Xent loss on gathered embeddings, a
rank-local InfoNCE share, Barlow Twins from gathered embeddings or from the all-reduced
cross-correlation, and a VICReg-style loss from all-reduced covariances. A plain all_gather (no
gradient to the other ranks' slices) must NOT match: the check can fail."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

from mitheory.surrogates import standardize
from paradigms.methods.objectives import barlow_twins_loss, nt_xent_loss
from paradigms.training import distributed as D

WORLD = 2
N, DIM_IN, DIM_OUT = 8, 5, 4  # global batch 8 → 4 per rank


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(DIM_IN, 6), nn.Tanh(), nn.Linear(6, DIM_OUT))


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N, DIM_IN, generator=g, dtype=torch.float64)
    return x, x + 0.3 * torch.randn(N, DIM_IN, generator=g, dtype=torch.float64)


def _local_infonce(za: torch.Tensor, zb_all: torch.Tensor, offset: int) -> torch.Tensor:
    """Rank share: local anchors za against all keys; positives at offset + i; L = mean over
    shares."""
    logits = F.normalize(za, dim=1) @ F.normalize(zb_all, dim=1).T / 0.5
    target = torch.arange(za.shape[0]) + offset
    return F.cross_entropy(logits, target)


def _naive_gather(z: torch.Tensor) -> torch.Tensor:
    """The common bug: all_gather without gradient, own slice put back (local gradient only)."""
    parts = [torch.empty_like(z) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, z.detach().contiguous())
    parts[dist.get_rank()] = z
    return torch.cat(parts)


LOSSES = {
    "ntxent": lambda za, zb, gather, ctx: nt_xent_loss(gather(za), gather(zb)),
    "infonce_share": lambda za, zb, gather, ctx: _local_infonce(
        za, gather(zb), ctx * za.shape[0]
    ),
    "barlow_gather": lambda za, zb, gather, ctx: barlow_twins_loss(gather(za), gather(zb), 0.05),
    "barlow_allreduce": lambda za, zb, gather, ctx: _barlow_from_c(
        D.global_cross_correlation(za, zb)
    ),
    "vicreg_stats": lambda za, zb, gather, ctx: _vicreg_from_stats(
        D.global_covariance(za), D.global_covariance(zb), D.global_mean((za - zb).pow(2)).mean()
    ),
    "ntxent_naive": lambda za, zb, gather, ctx: nt_xent_loss(_naive_gather(za), _naive_gather(zb)),
}


def _barlow_from_c(c: torch.Tensor) -> torch.Tensor:
    off = c - torch.diag(torch.diagonal(c))
    return (1 - torch.diagonal(c)).pow(2).sum() + 0.05 * off.pow(2).sum()


def _vicreg_from_stats(cov_a: torch.Tensor, cov_b: torch.Tensor, mse: torch.Tensor) -> torch.Tensor:
    """VICReg-style loss from batch statistics: invariance + variance hinge + covariance."""
    loss = 25 * mse
    for cov in (cov_a, cov_b):
        std = torch.sqrt(torch.diagonal(cov) + 1e-4)
        off = cov - torch.diag(torch.diagonal(cov))
        loss = loss + 25 * F.relu(1 - std).mean() + off.pow(2).sum() / cov.shape[0]
    return loss


def _single_process(name: str) -> tuple[float, list[torch.Tensor]]:
    model = _model().double()
    xa, xb = _data()
    za, zb = model(xa), model(xb)
    if name == "infonce_share":  # L = mean of the two ranks' shares = InfoNCE over all anchors
        loss = _local_infonce(za, zb, 0)
    elif name == "barlow_allreduce":
        loss = _barlow_from_c(standardize(za).T @ standardize(zb) / N)
    elif name == "vicreg_stats":
        loss = _vicreg_from_stats(torch.cov(za.T), torch.cov(zb.T), (za - zb).pow(2).mean())
    else:
        loss = LOSSES[name.replace("_naive", "")](za, zb, lambda z: z, 0)
    loss.backward()
    return float(loss.detach()), [p.grad.clone() for p in model.parameters()]


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank))
    ctx = D.init_distributed("cpu", init_method=f"file://{init_file}")
    try:
        local = D.check_batch_size(N, ctx.world_size)
        xa, xb = _data()
        shard = slice(ctx.rank * local, (ctx.rank + 1) * local)
        results = {}
        for name, fn in LOSSES.items():
            model = D.wrap_ddp(_model().double(), ctx)
            za, zb = model(xa[shard]), model(xb[shard])
            loss = fn(za, zb, D.gather_with_grad, ctx.rank)
            loss.backward()
            shared = loss.detach().clone()
            dist.all_reduce(shared)  # the loss the ranks report together: mean of their values
            results[name] = (float(shared) / WORLD, [p.grad.clone() for p in model.parameters()])
        # the training loop's reducer: no DDP wrapper, tiny buckets so several go out mid-backward
        model = _model().double()
        reducer = D.GradientReducer(model.parameters(), bucket_bytes=64)
        za, zb = model(xa[shard]), model(xb[shard])
        loss = nt_xent_loss(D.gather_with_grad(za), D.gather_with_grad(zb))
        with reducer.collecting():
            loss.backward()
        in_flight = len(reducer._pending)  # launched before backward returned
        reducer.finish()
        grads = [p.grad.clone() for p in model.parameters()]
        results["ntxent_reducer"] = (float(loss.detach()), grads, in_flight)
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        D.cleanup()


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    # The spawned children unpickle _worker by this module's name: ``test_distributed`` (pytest's
    # prepend import mode, tests/ on sys.path) or ``tests.test_distributed`` (importlib mode, which
    # needs the repository root on sys.path). Children inherit the parent's sys.path.
    root = str(Path(__file__).resolve().parents[1])
    sys.path.insert(0, root)
    try:
        mp.spawn(_worker, args=(str(tmp / "pg"), str(tmp)), nprocs=WORLD, join=True)
    finally:
        sys.path.remove(root)
    return [torch.load(tmp / f"rank{r}.pt") for r in range(WORLD)]


@pytest.mark.parametrize(
    "name", ["ntxent", "infonce_share", "barlow_gather", "barlow_allreduce", "vicreg_stats"]
)
def test_two_process_loss_and_gradients_equal_single_process(ddp_results, name):
    ref_loss, ref_grads = _single_process(name)
    for rank in range(WORLD):
        loss, grads = ddp_results[rank][name]
        assert loss == pytest.approx(ref_loss, abs=1e-5, rel=0)
        for g, r in zip(grads, ref_grads, strict=True):
            torch.testing.assert_close(g, r, atol=1e-5, rtol=0)


def test_overlapped_bucket_reducer_equals_single_process(ddp_results):
    """``GradientReducer`` (the loop's all-reduce, overlapped with backward) averages to the
    single-process gradient on the full batch. With 64-byte buckets the gradients arrive last
    layer first, (b₂ 32 B + W₂ 192 B) and (b₁ 48 B + W₁ 240 B): both buckets were in flight
    before backward returned, none left for ``finish``."""
    ref_loss, ref_grads = _single_process("ntxent")
    for rank in range(WORLD):
        loss, grads, in_flight = ddp_results[rank]["ntxent_reducer"]
        assert in_flight == 2
        assert loss == pytest.approx(ref_loss, abs=1e-5, rel=0)  # gathered: the full-batch loss
        for g, r in zip(grads, ref_grads, strict=True):
            torch.testing.assert_close(g, r, atol=1e-5, rtol=0)


def test_plain_all_gather_gets_gradients_wrong(ddp_results):
    ref_loss, ref_grads = _single_process("ntxent_naive")
    loss, grads = ddp_results[0]["ntxent_naive"]
    assert loss == pytest.approx(ref_loss, abs=1e-5)  # the forward pass is right...
    worst = max(float((g - r).abs().max()) for g, r in zip(grads, ref_grads, strict=True))
    assert worst > 1e-3  # ...the gradient is not


def test_single_process_helpers_are_identities():
    z = torch.randn(4, 3)
    assert D.gather_with_grad(z) is z and D.all_reduce_sum_with_grad(z) is z
    torch.testing.assert_close(D.global_mean(z), z.mean(0))
    torch.testing.assert_close(
        D.global_cross_correlation(z, 2 * z), standardize(z).T @ standardize(2 * z) / 4
    )
    torch.testing.assert_close(D.global_covariance(z), torch.cov(z.T))
    ctx = D.init_distributed("cpu")
    assert not ctx.is_distributed and ctx.is_main and D.wrap_ddp(nn.Linear(2, 2), ctx)


def test_batch_size_checks_and_syncbn():
    assert D.check_batch_size(256, 8) == 32
    with pytest.raises(ValueError, match="smaller than the world size"):
        D.check_batch_size(2, 4)
    with pytest.raises(ValueError, match="not divisible"):
        D.check_batch_size(10, 4)
    with pytest.raises(ValueError, match="same shape"):
        D.global_cross_correlation(torch.zeros(4, 3), torch.zeros(4, 2))
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    converted = D.convert_sync_batchnorm(model)
    assert isinstance(converted[1], nn.SyncBatchNorm)
    assert isinstance(D.convert_sync_batchnorm(nn.BatchNorm1d(3), enabled=False), nn.BatchNorm1d)
