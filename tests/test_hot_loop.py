"""The training hot loop reads nothing back from the device (paradigms.measurement.profiling counts
it).

Between the step-0 evaluation and the last one, a step must not call ``item``/``float``/``bool``
of a tensor, ``tolist``, ``cpu``, ``numpy``, ``nonzero`` or a boolean-mask index: on a GPU each
waits for the queue to drain. Evaluations and the loss check at evaluation time are the allowed
host reads and are left out of the count.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

from paradigms.measurement.profiling import HostSyncs, count_host_syncs
from paradigms.methods import METHODS
from paradigms.training import loop
from paradigms.training.config import TrainConfig
from paradigms.training.loop import train

torch.set_num_threads(1)


@contextmanager
def counting_hot_steps(monkeypatch: pytest.MonkeyPatch) -> Iterator[HostSyncs]:
    """Count from the end of the step-0 evaluation on, pausing inside evaluations and checks."""
    counter = count_host_syncs()
    counter.pause()  # data loading and model building are not the hot loop
    evaluate, check = loop._Monitor.evaluate, loop._LossLog.check

    def paused_evaluate(self, step, *args, **kwargs):
        counter.pause()
        try:
            return evaluate(self, step, *args, **kwargs)
        finally:
            if step == 0:
                counter.resume()

    def paused_check(self, step):
        counter.pause()
        return check(self, step)

    monkeypatch.setattr(loop._Monitor, "evaluate", paused_evaluate)
    monkeypatch.setattr(loop._LossLog, "check", paused_check)
    with counter:
        yield counter


def run(method: str, **kwargs) -> TrainConfig:
    options = {
        "method": method, "steps": 3, "batch_size": 32, "eval_every": 3, "eval_pairs": 64,
        "probe_train": 64, "progress": False, "data_options": {"n_train": 128, "n_test": 64},
    }  # fmt: skip
    options.update(kwargs)
    return TrainConfig(**options)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_no_host_sync_in_training_steps(method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with counting_hot_steps(monkeypatch) as syncs:
        summary = train(run(method))
    assert summary["status"] == "ok"
    assert syncs.total == 0, f"{method}: host reads in the hot loop:\n{syncs.report()}"


@pytest.mark.parametrize(
    ("method", "optimizer"), [("byol", "lars"), ("simclr", "sgd"), ("mocov2", "adamw")]
)
def test_no_host_sync_with_images_augmentation_and_online_probe(
    method: str, optimizer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Images: on-device augmentation of both views, the online probe and each optimizer."""
    config = run(method, data="fake", backbone="smallcnn", optimizer=optimizer, lr=0.05)
    with counting_hot_steps(monkeypatch) as syncs:
        summary = train(config)
    assert summary["status"] == "ok" and "online_probe_acc" in summary
    assert syncs.total == 0, f"{method}: host reads in the hot loop:\n{syncs.report()}"


@pytest.mark.parametrize("data", ["markov-sequences", "paired-bags"])
@pytest.mark.parametrize("method", ["sdmi", "byol", "simclr"])
def test_no_host_sync_with_token_data(
    method: str, data: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Token views (crop-and-mask on the device; a modality picked from the stored sample)."""
    with counting_hot_steps(monkeypatch) as syncs:
        summary = train(run(method, data=data))
    assert summary["status"] == "ok"
    assert syncs.total == 0, f"{method} on {data}: host reads in the hot loop:\n{syncs.report()}"


def test_the_counter_sees_a_planted_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: a loss read back with float() inside the step is counted at its line."""
    from paradigms.methods.simclr import SimCLR

    objective = SimCLR.objective

    def reading(self, z_a, z_b):
        loss = objective(self, z_a, z_b)
        float(loss.detach())
        return loss

    monkeypatch.setattr(SimCLR, "objective", reading)
    with counting_hot_steps(monkeypatch) as syncs:
        train(run("simclr"))
    assert syncs.calls["aten._local_scalar_dense"] == 3  # one per step
    assert "tests/test_hot_loop.py" in syncs.report()
