"""Metric logs for any training loop: CSV and TensorBoard writers of monitor records.

    from paradigms.measurement.monitors import monitor
    from paradigms.measurement.metric_logs import CSVMetricsLogger

    with CSVMetricsLogger("runs/mine/metrics.csv") as log:
        for step in ...:
            ...
            if step % 100 == 0:
                log.log(step, monitor(model(x_a), model(x_b)))

Each record is a flat mapping of names to numbers (``bool`` is written as 0/1). The CSV file has
the columns of the first record (plus ``step``); a later record may leave some out (empty cells)
but may not add new ones (a ``ValueError`` names them), so the file stays one rectangular table.
Every row is flushed when written. :class:`TensorBoardMetricsLogger` needs the optional
``tensorboard`` package (``pip install 'mitheory[tensorboard]'``) and writes one scalar per name
under ``prefix``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _scalars(metrics: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, (int, float)):
            raise TypeError(f"metric {key!r} must be a number, got {type(value).__name__}")
        out[str(key)] = float(value)
    return out


class CSVMetricsLogger:
    """Appends one row per :meth:`log` call to a CSV file (columns fixed by the first record)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            raise ValueError(f"{self.path} already exists; choose a new file for a new run")
        self._file = None
        self._writer: csv.DictWriter | None = None

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"step must be a non-negative integer, got {step!r}")
        row = _scalars(metrics)
        if self._writer is None:
            self._file = self.path.open("w", newline="", encoding="utf-8")
            self._writer = csv.DictWriter(self._file, fieldnames=["step", *row])
            self._writer.writeheader()
        extra = sorted(set(row) - set(self._writer.fieldnames))
        if extra:
            raise ValueError(
                f"metrics {extra} are not columns of {self.path} (its columns come from the first "
                "record); log them to another file"
            )
        self._writer.writerow({"step": step, **{k: repr(v) if math.isfinite(v) else v
                                               for k, v in row.items()}})
        assert self._file is not None
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> CSVMetricsLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TensorBoardMetricsLogger:
    """Writes each metric as a TensorBoard scalar ``prefix + name`` at ``step``."""

    def __init__(self, log_dir: str | Path, prefix: str = "monitor/") -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:  # the optional extra is missing
            raise ImportError(
                "TensorBoard logging needs the tensorboard package: pip install "
                "'mitheory[tensorboard]'"
            ) from err
        self.prefix = prefix
        self._writer = SummaryWriter(log_dir=str(log_dir))

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        for key, value in _scalars(metrics).items():
            self._writer.add_scalar(self.prefix + key, value, global_step=step)
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> TensorBoardMetricsLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["CSVMetricsLogger", "TensorBoardMetricsLogger"]
