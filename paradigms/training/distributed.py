"""Multi-process training helpers (torchrun / DDP): init, autograd-aware gathers, batch statistics.

Gradient convention. Each rank computes the loss on the *global* batch (or its share of it) from
tensors gathered here, and DDP then *averages* parameter gradients over the W ranks. For that
average to equal the single-process gradient of the loss on the full batch, the backward of every
collective here *sums* the incoming gradients over ranks before taking the local part:

    forward   Z = [z_0; …; z_{W−1}]              (all_gather)
    backward  ∂/∂z_r = ( Σ_ranks ∂L_rank/∂Z )[slice r]

If every rank computes the same loss L, the sum is W·∂L/∂z_r and DDP's 1/W brings it back to
∂L/∂θ; if rank r computes a share L_r with L = (1/W) Σ_r L_r, the sum is Σ_r ∂L_r/∂z and DDP's
average gives ∂L/∂θ again. A plain ``all_gather`` (no gradient to other ranks' slices) silently
gets this wrong — the test suite checks both against a single process.

Batch statistics (Barlow Twins, VICReg) use :func:`all_reduce_sum_with_grad`, whose backward is the
same sum; :func:`global_mean`, :func:`global_covariance` and :func:`global_cross_correlation` build
on it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: rank among ``world_size``, its device and the backend in use."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    backend: str | None = None

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def is_active() -> bool:
    """True when a process group is initialised with more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def init_distributed(device: str | None = None, init_method: str = "env://") -> DistContext:
    """Initialise the process group from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK).

    Backend NCCL when running on CUDA, gloo on CPU. Without ``WORLD_SIZE > 1`` in the environment
    this is a no-op returning a single-process context. ``device``: ``"cuda"``, ``"cpu"`` or None
    (CUDA when available); on CUDA each process takes GPU ``LOCAL_RANK``.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    if use_cuda and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but CUDA is not available")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if world_size <= 1:
        return DistContext(0, 1, 0, dev, None)
    backend = "nccl" if use_cuda else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world_size)
    return DistContext(rank, world_size, local_rank, dev, backend)


def cleanup() -> None:
    """Destroy the process group if one is initialised."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def check_batch_size(global_batch: int, world_size: int) -> int:
    """Per-rank batch size for a global batch split evenly over ``world_size`` ranks.

    Raises ``ValueError`` when the global batch is smaller than the number of ranks (some rank
    would get no samples) or not divisible by it (uneven shards break ``all_gather``).
    """
    for name, value in (("global_batch", global_batch), ("world_size", world_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if global_batch < world_size:
        raise ValueError(
            f"batch size {global_batch} is smaller than the world size {world_size}: every rank "
            f"needs at least one sample; use a batch of at least {world_size}"
        )
    if global_batch % world_size:
        raise ValueError(
            f"batch size {global_batch} is not divisible by the world size {world_size}; use a "
            f"multiple of {world_size}"
        )
    return global_batch // world_size


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        world = dist.get_world_size()
        ctx.rank, ctx.n = dist.get_rank(), x.shape[0]
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


class _AllReduceSumWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` [n, …] from every rank along dim 0 ([W·n, …], rank order), with gradient.

    All ranks must pass the same shape (see :func:`check_batch_size`). Without an active process
    group ``x`` is returned unchanged.
    """
    if not is_active():
        return x
    return _GatherWithGrad.apply(x)


def all_reduce_sum_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Σ over ranks of ``x`` (same shape everywhere), differentiable (backward: summed gradient)."""
    if not is_active():
        return x
    return _AllReduceSumWithGrad.apply(x)


def global_mean(z: torch.Tensor) -> torch.Tensor:
    """Mean over the global batch of ``z`` [n, d]: (Σ_ranks Σ_i z_i) / (Σ_ranks n)."""
    total = all_reduce_sum_with_grad(z.sum(dim=0))
    count = torch.tensor(float(z.shape[0]), device=z.device)
    if is_active():
        dist.all_reduce(count, op=dist.ReduceOp.SUM)
    return total / count


def global_covariance(z: torch.Tensor) -> torch.Tensor:
    """Unbiased covariance [d, d] of ``z`` [n, d] over the global batch, differentiable:
    Σ_i (z_i − μ)(z_i − μ)ᵀ / (N − 1) with μ the global mean and N the global batch size (VICReg's
    variance and covariance terms read its diagonal and off-diagonal)."""
    if z.ndim != 2:
        raise ValueError(f"z must be [n, d], got shape {tuple(z.shape)}")
    centred = z - global_mean(z)
    n = torch.tensor(float(z.shape[0]), device=z.device)
    if is_active():
        dist.all_reduce(n, op=dist.ReduceOp.SUM)
    if float(n) < 2:
        raise ValueError("the covariance needs a global batch of at least 2 samples")
    return all_reduce_sum_with_grad(centred.T @ centred) / (n - 1)


def global_cross_correlation(
    z_a: torch.Tensor, z_b: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """Barlow Twins' cross-correlation over the global batch, differentiable.

    Each dimension is standardised with the global batch mean and (biased) variance,
    ẑ = (z − μ)/√(σ² + eps), then C = (1/N) Σ_i ẑ_a,i ẑ_b,iᵀ over all N samples of all ranks —
    the same matrix a single process computes on the concatenated batch; it moves a d×d matrix
    instead of the N×d embeddings.
    """
    if z_a.shape != z_b.shape or z_a.ndim != 2:
        raise ValueError(
            f"z_a and z_b must both be [n, d] of the same shape, got {tuple(z_a.shape)} and "
            f"{tuple(z_b.shape)}"
        )
    mu_a, mu_b = global_mean(z_a), global_mean(z_b)
    var_a = global_mean((z_a - mu_a) ** 2)
    var_b = global_mean((z_b - mu_b) ** 2)
    za = (z_a - mu_a) / torch.sqrt(var_a + eps)
    zb = (z_b - mu_b) / torch.sqrt(var_b + eps)
    n = torch.tensor(float(z_a.shape[0]), device=z_a.device)
    if is_active():
        dist.all_reduce(n, op=dist.ReduceOp.SUM)
    return all_reduce_sum_with_grad(za.T @ zb) / n


def convert_sync_batchnorm(model: nn.Module, enabled: bool = True) -> nn.Module:
    """Replace BatchNorm layers by SyncBatchNorm (statistics over the global batch) if enabled.

    SyncBatchNorm computes its statistics across ranks only on CUDA with NCCL; on CPU (gloo) use
    :func:`convert_global_batchnorm`.
    """
    return nn.SyncBatchNorm.convert_sync_batchnorm(model) if enabled else model


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics cover the global batch, on any backend (gloo too).

    Per channel c over the N samples (and spatial positions) of all ranks:
        μ_c = Σ x / M,  σ²_c = Σ (x − μ_c)² / M  (biased, M = global count),
        y = γ_c (x − μ_c)/√(σ²_c + eps) + β_c;
    the sums go through :func:`all_reduce_sum_with_grad`, so the gradient is the single-process
    gradient on the concatenated batch (module docstring). Running statistics use the unbiased
    σ²·M/(M − 1), as ``nn.BatchNorm``. Without an active process group, or in eval mode, it is
    ordinary batch norm. Used by the training loop's SyncBN option on CPU; on CUDA the loop uses
    ``nn.SyncBatchNorm``.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:  # torch's name
        if input.ndim < 2:
            raise ValueError(f"GlobalBatchNorm expects [N, C, ...], got shape {tuple(input.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and is_active()):
            return super().forward(x)
        self._check_input_dim(x)
        dims = [0, *range(2, x.ndim)]
        shape = [1, -1] + [1] * (x.ndim - 2)
        count = torch.tensor(float(x.numel() // x.shape[1]), device=x.device)
        dist.all_reduce(count, op=dist.ReduceOp.SUM)
        xf = x.float()
        mean = all_reduce_sum_with_grad(xf.sum(dim=dims)) / count
        centred = xf - mean.view(shape)
        var = all_reduce_sum_with_grad(centred.pow(2).sum(dim=dims)) / count
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = (
                    1.0 / float(self.num_batches_tracked)
                    if self.momentum is None
                    else self.momentum
                )
                unbiased = var * count / (count - 1).clamp_min(1)
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), factor)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), factor)
        return y.to(x.dtype)


def convert_global_batchnorm(module: nn.Module) -> nn.Module:
    """``module`` with every ``nn.BatchNorm1d/2d/3d`` replaced by :class:`GlobalBatchNorm`
    (same parameters, buffers and hyper-parameters); other modules are kept."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(
        module, GlobalBatchNorm | nn.SyncBatchNorm
    ):
        new = GlobalBatchNorm(
            module.num_features, module.eps, module.momentum, module.affine,
            module.track_running_stats,
        )
        new.load_state_dict(module.state_dict())
        new.train(module.training)
        return new.to(
            module.weight.device if module.weight is not None else torch.device("cpu")
        )
    for name, child in module.named_children():
        module.add_module(name, convert_global_batchnorm(child))
    return module


#: bucket size of :class:`GradientReducer`, DDP's default (``bucket_cap_mb=25``)
BUCKET_BYTES = 25 * 2**20


class GradientReducer:
    """Averages gradients over ranks while the backward pass is still running, as DDP's reducer.

    A post-accumulate hook on each parameter puts its gradient into the current bucket as soon as
    it is final; a bucket of ``bucket_bytes`` is flattened and all-reduced asynchronously at once,
    so communication overlaps the rest of the backward pass. :meth:`finish` (before the optimizer
    step) launches the last partial bucket, waits for all of them and writes the means back. Only
    gradients produced inside :meth:`collecting` are reduced — exactly the parameters that the
    block's backward reached. Hooks fire in the autograd graph's order, the same on every rank, so
    buckets match across ranks. The result is the mean over ranks up to float summation order.
    """

    def __init__(self, params: Iterable[nn.Parameter], bucket_bytes: int = BUCKET_BYTES) -> None:
        self.bucket_bytes = int(bucket_bytes)
        self.active = False
        self._bucket: list[torch.Tensor] = []
        self._size = 0
        self._pending: list[tuple[Any, torch.Tensor, list[torch.Tensor]]] = []
        self._handles = [
            p.register_post_accumulate_grad_hook(self._ready) for p in params if p.requires_grad
        ]

    def _ready(self, param: nn.Parameter) -> None:
        if not self.active or param.grad is None:
            return
        self._bucket.append(param.grad)
        self._size += param.grad.numel() * param.grad.element_size()
        if self._size >= self.bucket_bytes:
            self._launch()

    def _launch(self) -> None:
        grads, self._bucket, self._size = self._bucket, [], 0
        flat = torch.cat([g.reshape(-1) for g in grads])
        work = dist.all_reduce(flat, op=dist.ReduceOp.SUM, async_op=True)
        self._pending.append((work, flat, grads))

    @contextlib.contextmanager
    def collecting(self) -> Iterator[None]:
        """Reduce the gradients produced inside this context (wrap ``loss.backward()``)."""
        self.active = True
        try:
            yield
        finally:
            self.active = False

    def finish(self) -> None:
        """Launch the last bucket, wait for every all-reduce and write the means back."""
        if self._bucket:
            self._launch()
        world = dist.get_world_size()
        for work, flat, grads in self._pending:
            work.wait()
            flat /= world
            offset = 0
            for g in grads:
                g.copy_(flat[offset : offset + g.numel()].view_as(g))
                offset += g.numel()
        self._pending.clear()

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def wrap_ddp(model: nn.Module, ctx: DistContext, **kwargs: object) -> nn.Module:
    """``DistributedDataParallel`` around ``model`` on ``ctx.device`` if distributed, else as is."""
    if not ctx.is_distributed:
        return model
    if ctx.device.type == "cuda":
        return nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.device.index], output_device=ctx.device.index, **kwargs
        )
    return nn.parallel.DistributedDataParallel(model, **kwargs)
