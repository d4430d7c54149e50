"""Moved to :mod:`paradigms.measurement.monitors`; kept as an alias, so
``from paradigms.monitors import monitor`` keeps working."""

from __future__ import annotations

from paradigms.measurement.monitors import (
    COLLAPSE_RANK_MAX,
    COLLAPSE_STD_FRACTION,
    RANKME_EPS,
    cluster_separation,
    collect_metrics,
    effective_rank,
    embed_std,
    is_collapsed,
    mi_estimates,
    monitor,
)

__all__ = [
    "COLLAPSE_RANK_MAX",
    "COLLAPSE_STD_FRACTION",
    "RANKME_EPS",
    "cluster_separation",
    "collect_metrics",
    "effective_rank",
    "embed_std",
    "is_collapsed",
    "mi_estimates",
    "monitor",
]
