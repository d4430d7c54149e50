"""Epochs are permutations: every training row once per epoch, no duplicate inside a batch."""

from __future__ import annotations

import pytest
import torch

from paradigms.data.sampling import EpochSampler
from paradigms.training import loop
from paradigms.training.config import TrainConfig
from paradigms.training.loop import train


def test_an_epoch_is_a_permutation_without_the_remainder() -> None:
    sampler = EpochSampler(n=103, batch_size=10, seed=3, device="cpu")
    assert sampler.batches_per_epoch == 10
    for epoch in range(3):
        steps = range(epoch * 10 + 1, epoch * 10 + 11)
        rows = torch.cat([sampler.indices(k) for k in steps])
        assert rows.numel() == rows.unique().numel() == 100  # no row twice in the epoch
        assert int(rows.min()) >= 0 and int(rows.max()) < 103


def test_epochs_differ_and_a_step_does_not_depend_on_the_steps_before() -> None:
    sampler = EpochSampler(n=64, batch_size=8, seed=0, device="cpu")
    first = [sampler.indices(k).clone() for k in range(1, 17)]
    assert not torch.equal(torch.cat(first[:8]), torch.cat(first[8:]))  # epoch 1 reshuffled
    resumed = EpochSampler(n=64, batch_size=8, seed=0, device="cpu")
    assert torch.equal(resumed.indices(13), first[12])  # what a resumed run draws
    other_seed = EpochSampler(n=64, batch_size=8, seed=1, device="cpu")
    assert not torch.equal(other_seed.indices(1), first[0])


def test_with_replacement_a_batch_would_hold_duplicates() -> None:
    """Why this matters: 256 draws with replacement from 50,000 rows repeat a row with probability
    1 − Π(1 − i/50000) ≈ 0.48; the sampler's batches never do."""
    sampler = EpochSampler(n=50_000, batch_size=256, seed=0, device="cpu")
    batches = [sampler.indices(k) for k in range(1, 41)]
    assert all(b.unique().numel() == 256 for b in batches)
    g = torch.Generator().manual_seed(0)
    with_replacement = [torch.randint(50_000, (256,), generator=g) for _ in range(40)]
    assert sum(b.unique().numel() < 256 for b in with_replacement) >= 10  # ~19 of 40 expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 10, "batch_size": 11}, "larger than the 10 training samples"),
        ({"n": 0, "batch_size": 1}, "n must be a positive integer"),
        ({"n": 10, "batch_size": 2.0}, "batch_size must be a positive integer"),
    ],
)
def test_bad_sizes_are_clear_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        EpochSampler(seed=0, device="cpu", **kwargs)


def test_training_visits_every_row_once_per_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[torch.Tensor] = []
    original = EpochSampler.indices

    def spy(self: EpochSampler, step: int) -> torch.Tensor:
        rows = original(self, step)
        seen.append(rows.clone())
        return rows

    monkeypatch.setattr(loop.EpochSampler, "indices", spy)
    config = TrainConfig(
        method="simclr", steps=16, batch_size=32, eval_every=16, eval_pairs=64, probe_train=64,
        progress=False, data_options={"n_train": 256, "n_test": 64},
    )  # fmt: skip
    assert train(config)["status"] == "ok"
    assert len(seen) == 16
    for epoch in (seen[:8], seen[8:]):
        assert torch.cat(epoch).sort().values.tolist() == list(range(256))
