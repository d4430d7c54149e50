"""Epochs as permutations: which training samples a step's batch holds.

Training step k (1-based) of an epoch of ⌊n / B⌋ batches takes rows
``perm_e[(j·B):(j+1)·B]`` with e = (k − 1) // ⌊n / B⌋ and j = (k − 1) mod ⌊n / B⌋, where perm_e is a
uniform random permutation of the n training rows drawn for epoch e alone (``drop_last``: the
n mod B rows left at the end of a permutation wait for a later epoch). Every row is seen once per
epoch and a batch never holds the same row twice — the behaviour of ``DataLoader(shuffle=True,
drop_last=True)`` and of ``DistributedSampler`` that solo-learn and lightly rely on; a duplicate
image inside a contrastive batch would be a false negative.

Each epoch's permutation comes from its own generator, seeded from (seed, e), so the batch of any
step is a function of the step alone: a resumed run draws the batches of an uninterrupted one
without saving sampler state. Under ``torchrun`` every rank draws the same global batch (same seed)
and augments its own shard of it, so the ranks together cover each row once per epoch. The
permutation is drawn on the data's device: one ``randperm`` per epoch, slicing per step, no host
synchronisation.
"""

from __future__ import annotations

import torch

#: mixes the epoch into the seed of its generator (a large odd constant: seeds of nearby
#: (seed, epoch) pairs do not collide for any realistic number of epochs)
_EPOCH_STRIDE = 1_000_003


class EpochSampler:
    """Batch indices of step k as a permutation of ``n`` rows per epoch (module docstring)."""

    def __init__(self, n: int, batch_size: int, seed: int, device: torch.device | str) -> None:
        for name, value in (("n", n), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if batch_size > n:
            raise ValueError(
                f"batch size {batch_size} is larger than the {n} training samples; an epoch "
                "needs at least one full batch (use a smaller --batch-size)"
            )
        self.n = n
        self.batch_size = batch_size
        self.seed = int(seed)
        self.device = torch.device(device)
        self.batches_per_epoch = n // batch_size
        self._epoch = -1
        self._perm: torch.Tensor | None = None

    def permutation(self, epoch: int) -> torch.Tensor:
        """The permutation of epoch ``epoch`` (0-based) of the ``n`` rows, on the device."""
        generator = torch.Generator(device=self.device)
        generator.manual_seed(self.seed * _EPOCH_STRIDE + epoch)
        return torch.randperm(self.n, generator=generator, device=self.device)

    def indices(self, step: int) -> torch.Tensor:
        """Row indices [batch_size] of training step ``step`` (1-based)."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise ValueError(f"step must be a positive integer (1-based), got {step!r}")
        epoch, j = divmod(step - 1, self.batches_per_epoch)
        if epoch != self._epoch:
            self._epoch, self._perm = epoch, self.permutation(epoch)
        assert self._perm is not None
        return self._perm[j * self.batch_size : (j + 1) * self.batch_size]


__all__ = ["EpochSampler"]
