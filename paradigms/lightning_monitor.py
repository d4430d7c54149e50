"""Moved to :mod:`paradigms.measurement.lightning_monitor`; kept as an alias, so
``from paradigms.lightning_monitor import MonitorCallback`` keeps working."""

from __future__ import annotations

from paradigms.measurement.lightning_monitor import MonitorCallback

__all__ = ["MonitorCallback"]
