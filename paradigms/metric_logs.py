"""Moved to :mod:`paradigms.measurement.metric_logs`; kept as an alias, so
``from paradigms.metric_logs import CSVMetricsLogger`` keeps working."""

from __future__ import annotations

from paradigms.measurement.metric_logs import CSVMetricsLogger, TensorBoardMetricsLogger

__all__ = ["CSVMetricsLogger", "TensorBoardMetricsLogger"]
