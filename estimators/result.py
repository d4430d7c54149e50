"""The result object every MI estimator returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

#: the 97.5 % quantile of the standard normal: every "95 % normal" interval is estimate ± Z95·SE
Z95 = 1.959963984540054

#: diagnostics keys whose values (numbers, or nested lists of numbers) are in nats
NAT_VALUED = frozenset({
    "mi", "ci", "mi_ci", "se", "estimate", "block_mi", "plugin_raw", "bias_correction",
    "copula_mi", "copula_se", "radial", "val_null", "val_best", "val_nll",
})  # fmt: skip
#: diagnostics keys in nats² (variances)
NAT2_VALUED = frozenset({"tau2"})


def convert_diagnostics(value: Any, scale: float, unit: str, key: str = "") -> Any:
    """A copy of ``diagnostics`` with every quantity in nats multiplied by ``scale``.

    Numbers under a key of :data:`NAT_VALUED` are multiplied by ``scale`` and those under
    :data:`NAT2_VALUED` by ``scale²``; a training ``curve`` ([step, value, ...] rows) keeps its
    step column; a nested result dict (one with a ``unit`` key) gets ``unit``. Booleans,
    counts, settings and the sentences of ``flags`` and ``reason`` (which quote nats) are kept.
    """
    if isinstance(value, dict):
        return {k: unit if k == "unit" else convert_diagnostics(v, scale, unit, k)
                for k, v in value.items()}  # fmt: skip
    if key == "curve" and isinstance(value, list):
        return [[row[0], *convert_diagnostics(list(row[1:]), scale, unit, "mi")] for row in value]
    if isinstance(value, (list, tuple)):
        return [convert_diagnostics(v, scale, unit, key) for v in value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if key in NAT_VALUED:
        return value * scale
    if key in NAT2_VALUED:
        return value * scale**2
    return value


def unit_name(base: float) -> str:
    """"nats" for e, "bits" for 2, "log<base>" otherwise."""
    return "nats" if base == math.e else ("bits" if base == 2 else f"log{base:g}")


@dataclass(frozen=True)
class MIResult:
    """A mutual-information estimate with a 95 % confidence interval.

    Attributes:
        mi: point estimate, in ``unit`` (nats unless a ``base`` was asked for).
        ci: (low, high) 95 % confidence interval, same unit.
        method: estimator name as registered in ``estimators.METHODS``.
        n: number of sample pairs the estimator was given.
        unit: "nats", "bits" or "log<base>".
        seconds: wall-clock time of the estimate.
        diagnostics: method-specific details (training curve, k, splits, ...), in ``unit``
            (``diagnostics["unit"]`` is set when converted; the flag sentences quote nats).
        mi_ci: where the method can bound its bias, a 95 % interval for the MI itself (the
            default ``method="auto"``); ``ci`` is the interval of the estimator's expectation.
        critic: with ``return_critic=True`` (neural methods), the trained critics, an
            ``estimators.trained.TrainedCritic``; else None. Not part of ``to_dict``.
    """

    mi: float
    ci: tuple[float, float]
    method: str
    n: int
    unit: str = "nats"
    seconds: float = 0.0
    diagnostics: dict[str, Any] = field(default_factory=dict, compare=False)
    mi_ci: tuple[float, float] | None = None
    critic: Any = field(default=None, compare=False, repr=False)

    def in_base(self, base: float) -> MIResult:
        """Convert a result in nats to logarithms of ``base`` (2 gives bits): the estimate, its
        intervals and the quantities of ``diagnostics`` in nats (:func:`convert_diagnostics`)."""
        if self.unit != "nats":
            raise ValueError(f"can only convert a result in nats, this one is in {self.unit}")
        if not (isinstance(base, (int, float)) and base > 1 and math.isfinite(base)):
            raise ValueError(f"base must be a finite number > 1, got {base!r}")
        scale = 1.0 / math.log(base)
        unit = unit_name(base)
        mi_ci = None if self.mi_ci is None else (self.mi_ci[0] * scale, self.mi_ci[1] * scale)
        diagnostics = convert_diagnostics(self.diagnostics, scale, unit)
        return replace(
            self, mi=self.mi * scale, ci=(self.ci[0] * scale, self.ci[1] * scale), unit=unit,
            mi_ci=mi_ci, diagnostics={**diagnostics, "unit": unit},
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields of DESIGN.md §5 (``method, mi, ci, unit, n, seconds``), ``mi_ci``
        where the method gives one, and the default's ``chosen``, ``reason`` and ``candidates``
        (each a ``to_dict``) and every estimate's ``flags``. An infinite end of an interval
        (the data do not resolve the MI) is None, as JSON has no infinity."""

        def number(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        extra = {} if self.mi_ci is None else {"mi_ci": [number(v) for v in self.mi_ci]}
        for key in ("chosen", "reason", "candidates", "flags"):
            if key in self.diagnostics:
                extra[key] = self.diagnostics[key]
        return {
            "method": self.method,
            "mi": number(self.mi),
            "ci": [number(self.ci[0]), number(self.ci[1])],
            "unit": self.unit,
            "n": int(self.n),
            "seconds": float(self.seconds),
            **extra,
        }
