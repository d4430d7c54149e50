"""What a claim's experiment returns (``Claim``, ``Control``) and what a family hands the report
writer (``Section``).

A claim's text, kind and pytest node id live in the register (``mitheory.claims.register``);
a ``Claim`` carries what the run measured: the verdict, the number behind it, the rule and its
threshold, the evidence and, for every empirical claim, the negative control: the same rule, in
the same run, on a case built to violate the claim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mitheory.claims.register import REGISTER

VERDICTS = ("holds", "fails", "partial", "undecided")


def verdict_of(n_pass: int, n_total: int) -> str:
    """Every check passed: holds; none: fails; some: partial; no check at all: undecided."""
    if n_total == 0:
        return "undecided"
    if n_pass == n_total:
        return "holds"
    return "fails" if n_pass == 0 else "partial"


def opposite(verdict: str) -> str:
    """The verdict a control must reach against a claim's verdict: a claim that holds (fully or
    in part) must see its rule fail on the violating case (a negative control); a claim that
    fails or is undecided is controlled by a case built to satisfy it (a positive control: the
    rule can reach "holds" at this design), which must hold."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
    return "holds" if verdict in ("fails", "undecided") else "fails"


@dataclass(frozen=True)
class Control:
    """The claim's rule applied, in the same run, to a case built to violate it (or, against a
    claim that fails, to satisfy it)."""

    what: str
    verdict: str
    figure: float | None = None

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"control verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "verdict": self.verdict, "figure": self.figure}


@dataclass(frozen=True)
class Claim:
    """One claim's result: ``verdict`` (one of ``VERDICTS``), ``figure`` (the number behind it),
    ``threshold`` (the rule it is compared with), ``detail`` (the evidence in words), ``control``
    (empirical claims) and the seeds that entered. ``extra`` holds claim-specific fields of
    results.json (P3's ``arms``)."""

    id: str
    verdict: str
    figure: float
    detail: str = ""
    threshold: str = ""
    control: Control | None = None
    seeds: tuple[int, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    @property
    def control_discriminates(self) -> bool:
        """The control reached the opposite verdict (see :func:`opposite`)."""
        return self.control is not None and self.control.verdict == opposite(self.verdict)

    def to_dict(self) -> dict[str, Any]:
        """The results.json object (DESIGN.md §5), with the register's text, kind and test."""
        spec = REGISTER[self.id]
        out: dict[str, Any] = {
            "id": self.id,
            "text": spec.text,
            "kind": spec.kind,
            "verdict": self.verdict,
            "figure": float(self.figure),
            "threshold": self.threshold,
            "detail": self.detail,
            "test": spec.test,
            "seeds": list(self.seeds),
        }
        if self.control is not None:
            out["control"] = self.control.to_dict()
        out.update(self.extra)
        return out


@dataclass
class Section:
    """A titled block of report.md with its claims, figures (file names in the output folder) and
    the raw numbers that go to results.json under ``data``."""

    title: str
    markdown: str
    claims: list[Claim] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
