"""Monitors for any training loop: ``monitors.monitor``, CSV/TensorBoard logs, Lightning callback.

The Lightning case trains a lightly model (lightly's SimCLR projection head and NT-Xent loss) for
a few CPU steps and reads the callback's CSV log back.
"""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from paradigms.measurement.metric_logs import CSVMetricsLogger, TensorBoardMetricsLogger
from paradigms.measurement.monitors import collect_metrics, monitor

torch.set_num_threads(1)


def _pairs(n: int = 256, d: int = 16, noise: float = 0.3, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    return x, x + noise * rng.normal(size=(n, d)), (x[:, 0] > 0).astype(np.int64)


def test_monitor_takes_numpy_lists_and_tensors_alike() -> None:
    a, b, y = _pairs()
    from_numpy = monitor(a, b, labels=y)
    from_torch = monitor(torch.from_numpy(a).float(), torch.from_numpy(b).float(), labels=y)
    from_lists = monitor(a.tolist(), b.tolist(), labels=y.tolist())
    assert from_numpy["embedding_dim"] == 16 and from_numpy["collapsed"] is False
    for key in ("mi_cosdv", "mi_infonce", "effective_rank", "cluster_separation"):
        assert from_lists[key] == pytest.approx(from_numpy[key], rel=1e-12)
        assert from_torch[key] == pytest.approx(from_numpy[key], rel=1e-5)  # float32 input
    # the same numbers the trainer logs
    ref = collect_metrics(torch.from_numpy(a), torch.from_numpy(b), labels=torch.from_numpy(y))
    assert from_numpy["mi_cosdv"] == pytest.approx(ref["mi_cosdv"], rel=1e-12)


def test_monitor_flags_collapse_and_not_healthy_embeddings() -> None:
    a, b, _ = _pairs()
    rng = np.random.default_rng(1)
    point = np.ones((256, 16)) + 1e-6 * rng.normal(size=(256, 16))
    line = rng.normal(size=(256, 1)) * rng.normal(size=(1, 16))
    assert monitor(a)["collapsed"] is False
    assert monitor(point)["collapsed"] is True
    assert monitor(line)["collapsed"] is True  # dimensional collapse: RankMe ≈ 1
    independent = monitor(a, rng.normal(size=a.shape))
    # a fixed critic's bound reads ≤ 0 at independence (it can be far below: not a tight bound)
    assert independent["mi_infonce"] < 0.1 < monitor(a, b)["mi_infonce"]


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((5,), TypeError, "z_a must be a torch tensor, a numpy array or a sequence"),
        (("text",), TypeError, "z_a must hold real numbers"),
        ((np.ones((4, 3)), np.ones((4, 2))), ValueError, "equal shapes"),
        ((np.array([["a", "b"], ["c", "d"]]),), TypeError, "real numbers"),
        ((np.full((4, 3), np.nan),), ValueError, "NaN or infinite"),
    ],
)
def test_monitor_bad_input(args: tuple, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        monitor(*args)


def test_csv_log_is_one_table(tmp_path: Path) -> None:
    a, b, y = _pairs()
    path = tmp_path / "log" / "metrics.csv"
    with CSVMetricsLogger(path) as log:
        log.log(0, monitor(a, b, labels=y))
        log.log(10, monitor(a, b))  # no labels: cluster_separation left empty
        with pytest.raises(ValueError, match=r"\['extra'\] are not columns"):
            log.log(20, {"extra": 1.0})
    rows = list(csv.DictReader(path.open()))
    assert [r["step"] for r in rows] == ["0", "10"]
    assert rows[1]["cluster_separation"] == "" and rows[0]["collapsed"] in ("0", "0.0")
    assert float(rows[0]["mi_cosdv"]) == pytest.approx(monitor(a, b)["mi_cosdv"], rel=1e-12)
    with pytest.raises(ValueError, match="already exists"):
        CSVMetricsLogger(path)


def test_tensorboard_log_writes_scalars(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")  # in the test extra; a missing install fails CI's import
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    a, b, _ = _pairs()
    with TensorBoardMetricsLogger(tmp_path) as log:
        log.log(5, monitor(a, b))
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    (scalar,) = events.Scalars("monitor/mi_cosdv")
    assert scalar.step == 5 and scalar.value == pytest.approx(monitor(a, b)["mi_cosdv"], rel=1e-6)


# --- PyTorch Lightning + lightly ------------------------------------------------------------------
def _lightly_simclr(collapse: bool = False):
    import lightning.pytorch as pl
    from lightly.loss import NTXentLoss
    from lightly.models.modules import SimCLRProjectionHead

    class LightlySimCLR(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32))
            self.head = SimCLRProjectionHead(32, 32, 16)
            self.loss = NTXentLoss(temperature=0.5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = self.head(self.backbone(x))
            return z * 0 + 1 if collapse else z  # a constant encoder: the negative control

        def training_step(self, batch, batch_idx):
            (x,) = batch
            g = torch.Generator().manual_seed(batch_idx)
            x_a = x + 0.3 * torch.randn(x.shape, generator=g)
            x_b = x + 0.3 * torch.randn(x.shape, generator=g)
            return self.loss(self.head(self.backbone(x_a)), self.head(self.backbone(x_b)))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    return LightlySimCLR()


def _fit(tmp_path: Path, module, steps: int = 6):
    import lightning.pytorch as pl
    from lightning.pytorch.loggers import CSVLogger

    from paradigms.measurement.lightning_monitor import MonitorCallback

    a, b, y = _pairs(n=128)
    x = torch.from_numpy(np.random.default_rng(2).normal(size=(256, 16))).float()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=32)
    callback = MonitorCallback(
        torch.from_numpy(a).float(), torch.from_numpy(b).float(), labels=torch.from_numpy(y),
        every_n_steps=3,
    )  # fmt: skip
    trainer = pl.Trainer(
        max_steps=steps, accelerator="cpu", logger=CSVLogger(tmp_path, name="run"),
        callbacks=[callback],
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, loader)
    return callback, Path(trainer.logger.log_dir) / "metrics.csv"


def test_lightning_callback_logs_mi_and_collapse_of_a_lightly_model(tmp_path: Path) -> None:
    pytest.importorskip("lightning")
    pytest.importorskip("lightly")
    module = _lightly_simclr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice on workers and log cadence
        callback, path = _fit(tmp_path, module)
    assert [h["step"] for h in callback.history] == [0, 3, 6]
    rows = [r for r in csv.DictReader(path.open()) if r.get("monitor/mi_cosdv")]
    assert [int(r["step"]) for r in rows] == [0, 3, 6]
    for row in rows:
        assert math.isfinite(float(row["monitor/mi_infonce"]))
        assert row["monitor/collapsed"] in ("0", "0.0")
    # the logged values are monitor() of the module's embeddings at that point
    a, b, _ = _pairs(n=128)
    module.eval()
    with torch.no_grad():
        direct = monitor(module(torch.from_numpy(a).float()), module(torch.from_numpy(b).float()))
    assert float(rows[-1]["monitor/mi_cosdv"]) == pytest.approx(direct["mi_cosdv"], rel=1e-5)


def test_lightning_callback_warns_on_a_collapsed_model(tmp_path: Path) -> None:
    pytest.importorskip("lightning")
    pytest.importorskip("lightly")
    with pytest.warns(UserWarning, match="embeddings collapsed at step 0"):
        callback, _ = _fit(tmp_path, _lightly_simclr(collapse=True), steps=3)
    assert all(h["collapsed"] for h in callback.history)
